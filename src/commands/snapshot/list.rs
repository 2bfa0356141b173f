//! `seed snapshot list [NAME]`: reads only headers (the first gzip member of each
//! file), so a 1 GB snapshot lists as fast as a 1 KB one, one header in memory at a
//! time (in a bucket, read with ranged GETs, several at once). Without a name, one
//! line per name: its latest version (the only header read for it) and how many
//! versions it has. With a name, one line per version: date, size, schema version and
//! what it is based on. Corrupt or foreign files are listed
//! as corrupt with the reason; they never stop the listing. Strings from the files are
//! escaped and cut in the text table.

use serde_json::{Value, json};

use crate::cli::ListArgs;
use crate::context::Context;
use crate::error::{Error, code};
use crate::output::{human_bytes, plural, thousands};
use crate::snapshot::catalog::{Version, base_version, catalog, headers};
use crate::snapshot::format::{Header, Storage, content_checksum};
use crate::snapshot::location::Location;
use crate::snapshot::versions;
use crate::untrusted::shown;

/// Widest reason or version shown in the text table.
const CELL: usize = 160;

pub async fn run(args: &ListArgs, ctx: &Context) -> Result<u8, Error> {
    let store = ctx.location()?;
    let shown_dir = store.display().display().to_string();
    let only = args.name.as_ref();
    if let Some(r) = &only
        && r.version.is_some()
    {
        return Err(Error::usage_hint(
            format!("list takes a name, not one version ('{r}')"),
            format!("`seed snapshot list {}` lists its versions; `seed snapshot show {r}` shows that one", r.name),
        ));
    }
    if args.names {
        // For shell completion: quiet, fast, and never an error worth a message.
        if store.exists().await.unwrap_or(false)
            && let Ok((names, _)) = catalog(&store).await
            && !names.is_empty()
        {
            let text: String = names.keys().map(|n| format!("{n}\n")).collect();
            ctx.printer.data(text.trim_end());
        }
        return Ok(code::OK);
    }
    if !store.exists().await? {
        // The default directory appears with the first snapshot; one named by the
        // user that is not there is a mistake worth an error.
        if !store.is_default() {
            return Err(Error::usage_hint(
                format!(
                    "the snapshot location {shown_dir} does not exist (from {})",
                    ctx.settings.snapshot_dir_origin()
                ),
                "check --snapshot-dir (SEED_SNAPSHOT_DIR); `seed snapshot create` makes a missing directory \
                 (a bucket must be created first)",
            ));
        }
        if let Some(r) = &only {
            return Err(Error::SnapshotMissing { name: r.name.clone(), dir: store.display() });
        }
        ctx.printer.data(&format!(
            "no snapshots yet ({shown_dir}, from {}, does not exist; `seed snapshot create NAME` makes it)",
            ctx.settings.snapshot_dir_origin()
        ));
        ctx.printer.document("snapshot list", json!({ "snapshots": [] }));
        return Ok(code::OK);
    }
    match only {
        Some(r) => list_versions(&store, &r.name, ctx).await,
        None => list_names(&store, ctx).await,
    }
}

/// The fields every listed version has, from its header (or why it cannot be read).
fn describe(v: &Version, header: &Result<Header, Error>) -> Value {
    match header {
        Ok(h) => json!({
            "name": v.name, "version": v.version, "key": v.key, "status": "ok", "file": v.file.display().to_string(), "size": v.size,
            "created_at": h.created_at, "description": h.description,
            "tables": h.tables.len(), "rows": h.tables.iter().map(|t| t.rows).sum::<u64>(),
            "schema_version": h.schema_version.as_ref().map(|s| s.version.clone()),
            "database": h.database.kind, "format_version": h.format_version,
            "base": h.base.as_ref().filter(|_| needs_base(h)).map(|b| versions::label(&b.name, b.version)),
            "storage": storage_counts(h),
            "subset": h.subset.as_ref().map(|s| s.start.clone()),
            "masked": h.masking.as_ref().map(|m| m.mode.clone()),
        }),
        Err(e) => {
            json!({ "name": v.name, "version": v.version, "key": v.key, "status": "corrupt", "file": v.file.display().to_string(),
                          "size": v.size, "reason": corrupt_reason(e) })
        }
    }
}

fn needs_base(h: &Header) -> bool {
    h.tables.iter().any(|t| t.storage != Storage::Full)
}

fn storage_counts(h: &Header) -> Value {
    let count = |s: Storage| h.tables.iter().filter(|t| t.storage == s).count();
    json!({ "full": count(Storage::Full), "base": count(Storage::Base), "delta": count(Storage::Delta) })
}

async fn list_names(store: &Location, ctx: &Context) -> Result<u8, Error> {
    let (names, foreign) = catalog(store).await?;
    let counts: Vec<usize> = names.values().map(Vec::len).collect();
    let latest: Vec<Version> = names.into_values().filter_map(|mut v| v.pop()).collect();
    let mut items: Vec<Value> = headers(store, latest, |v, h| describe(&v, &h)).await?;
    for (item, count) in items.iter_mut().zip(counts) {
        item["latest"] = item["version"].clone();
        item["versions"] = json!(count);
    }
    for info in foreign {
        items.push(json!({
            "name": info.key, "status": "corrupt", "file": store.display_key(&info.key).display().to_string(),
            "size": info.size,
            "reason": "not a snapshot file (snapshots are named NAME.seed.gz, or NAME@N.seed.gz for version N)",
        }));
    }
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    if ctx.printer.json_doc() {
        ctx.printer.document("snapshot list", json!({ "snapshots": items }));
        return Ok(code::OK);
    }
    if items.is_empty() {
        ctx.printer.data(&format!(
            "no snapshots in {} (from {})",
            store.display().display(),
            ctx.settings.snapshot_dir_origin()
        ));
        return Ok(code::OK);
    }
    let head = [
        "NAME",
        "LATEST",
        "VERSIONS",
        "CREATED (UTC)",
        "DATABASE",
        "SIZE",
        "TABLES",
        "ROWS",
        "MASKED",
        "SCHEMA VERSION",
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let mut cells = vec![
                shown(i["name"].as_str().unwrap_or(""), CELL),
                i["latest"].as_u64().map_or_else(|| "-".to_owned(), |v| v.to_string()),
                i["versions"].as_u64().map_or_else(|| "-".to_owned(), |v| v.to_string()),
            ];
            cells.extend(figures(i));
            cells
        })
        .collect();
    let mut text = table(&head, &rows);
    let temps = store.stale_temp_count();
    if temps > 0 {
        let temps = plural(temps as u64, "stale temp file", "stale temp files");
        text.push_str(&format!("\n({temps} not listed; `seed doctor` shows them)"));
    }
    ctx.printer.data(&text);
    Ok(code::OK)
}

async fn list_versions(store: &Location, name: &str, ctx: &Context) -> Result<u8, Error> {
    let (mut names, _) = catalog(store).await?;
    let Some(versions) = names.remove(name) else {
        return Err(Error::SnapshotMissing { name: name.to_owned(), dir: store.display() });
    };
    // One header at a time: what is listed of it, and the base it needs.
    let described = headers(store, versions, |v, h| {
        let base = h.as_ref().ok().and_then(|h| h.base.clone().filter(|_| needs_base(h)));
        (describe(&v, &h), base)
    })
    .await?;
    let mut items = Vec::with_capacity(described.len());
    for (mut item, base) in described {
        // Whether the base is there and still holds what this version was built on.
        if let Some(b) = base {
            let state = match base_version(store, &b).await? {
                None => "missing",
                Some(bv) => match bv.header(store).await {
                    Ok(bh) if content_checksum(&bh) == b.content_checksum => "ok",
                    Ok(_) => "altered",
                    Err(_) => "corrupt",
                },
            };
            item["base_status"] = json!(state);
        }
        items.push(item);
    }
    if ctx.printer.json_doc() {
        ctx.printer.document("snapshot list", json!({ "name": name, "versions": items }));
        return Ok(code::OK);
    }
    let head = ["VERSION", "CREATED (UTC)", "DATABASE", "SIZE", "TABLES", "ROWS", "MASKED", "SCHEMA VERSION", "BASE"];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let mut cells = vec![format!("{name}@{}", i["version"])];
            let mut f = figures(i);
            let corrupt = i["status"] != "ok";
            let schema = f.pop().unwrap_or_default();
            cells.extend(f);
            if corrupt {
                cells.push(String::new());
                cells.push(schema); // the reason, last
            } else {
                cells.push(schema);
                cells.push(base_cell(i));
            }
            cells
        })
        .collect();
    ctx.printer.data(&table(&head, &rows));
    Ok(code::OK)
}

/// What a version is built on, for the text table.
fn base_cell(i: &Value) -> String {
    let Some(base) = i["base"].as_str() else { return "- (full)".to_owned() };
    let s = &i["storage"];
    let state = match i["base_status"].as_str() {
        Some("ok") | None => String::new(),
        Some(other) => format!(" {}", other.to_uppercase()),
    };
    format!(
        "{}{state} ({} unchanged, {} changed, {} full)",
        shown(base, CELL),
        s["base"].as_u64().unwrap_or(0),
        s["delta"].as_u64().unwrap_or(0),
        s["full"].as_u64().unwrap_or(0)
    )
}

/// CREATED, DATABASE (its kind), SIZE, TABLES, ROWS, MASKED and SCHEMA VERSION of a listed
/// item (for a corrupt one: CORRUPT, dashes, its size, dashes and the reason, last).
fn figures(i: &Value) -> Vec<String> {
    let s = |k: &str, max: usize| shown(i[k].as_str().unwrap_or(""), max);
    let size = human_bytes(i["size"].as_u64().unwrap_or(0));
    let count = |k: &str| i[k].as_u64().map_or_else(|| "-".to_owned(), thousands);
    if i["status"] == "ok" {
        vec![
            s("created_at", 40).replace('T', " ").trim_end_matches('Z').to_owned(),
            s("database", 20),
            size,
            count("tables"),
            count("rows"),
            i["masked"].as_str().map_or_else(|| "-".to_owned(), |m| shown(m, CELL)),
            i["schema_version"].as_str().map_or_else(|| "-".to_owned(), |v| shown(v, CELL)),
        ]
    } else {
        vec!["CORRUPT".into(), "-".into(), size, "-".into(), "-".into(), "-".into(), s("reason", CELL)]
    }
}

/// A text table: columns padded to their widest cell, the last one left ragged.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let n = head.len();
    let widths: Vec<usize> = (0..n)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|v| width(v)).chain([head[c].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(c, v)| if c + 1 == n { v.clone() } else { format!("{v:<w$}", w = widths[c]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut text = line(&head.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()).trim_end().to_owned();
    for r in rows {
        text.push('\n');
        text.push_str(line(r).trim_end());
    }
    text
}

/// The reason part of a corrupt-snapshot error (the path is already in the listing).
pub fn corrupt_reason(e: &Error) -> String {
    match e {
        Error::SnapshotCorrupt { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
