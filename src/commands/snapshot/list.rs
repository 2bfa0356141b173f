//! `seed snapshot list`: reads only each file's header (the first gzip member), so a
//! 1 GB snapshot lists as fast as a 1 KB one, one header in memory at a time. Corrupt
//! or foreign files are listed as corrupt with the reason; they never stop the
//! listing. Strings from the files are escaped and cut in the text table.

use std::path::Path;

use serde_json::{Value, json};

use super::store;
use crate::Context;
use crate::cli::ListArgs;
use crate::error::{Error, code};
use crate::output::{human_bytes, plural};
use crate::settings::DEFAULT_SNAPSHOT_DIR;
use crate::snapshot::reader::read_header;
use crate::snapshot::store::Entry;
use crate::text::shown;

/// Widest reason or version shown in the text table.
const CELL: usize = 160;

pub fn run(_args: &ListArgs, ctx: &Context) -> Result<u8, Error> {
    let store = store(ctx);
    if !store.dir_exists() {
        // The default directory appears with the first snapshot; one named by the
        // user that is not there is a mistake worth an error.
        if store.dir != Path::new(DEFAULT_SNAPSHOT_DIR) {
            return Err(Error::usage_hint(
                format!("the snapshot directory {} does not exist", store.dir.display()),
                "check --snapshot-dir (SEED_SNAPSHOT_DIR); `seed snapshot create` makes the directory",
            ));
        }
        ctx.printer.data(&format!(
            "no snapshots yet ({} does not exist; `seed snapshot create NAME` makes it)",
            store.dir.display()
        ));
        ctx.printer.document("snapshot list", json!({ "snapshots": [] }));
        return Ok(code::OK);
    }
    let mut items: Vec<Value> = Vec::new();
    for entry in store.entries()? {
        items.push(match entry {
            Entry::Snapshot { name, path, size, .. } => match read_header(&path) {
                Ok((h, _)) => json!({
                    "name": name, "status": "ok", "file": path.display().to_string(), "size": size,
                    "created_at": h.created_at, "description": h.description,
                    "tables": h.tables.len(), "rows": h.tables.iter().map(|t| t.rows).sum::<u64>(),
                    "schema_version": h.schema_version.as_ref().map(|v| v.version.clone()),
                    "database": h.database.kind, "format_version": h.format_version, "version": h.version,
                }),
                Err(e) => json!({ "name": name, "status": "corrupt", "file": path.display().to_string(), "size": size,
                                  "reason": corrupt_reason(&e) }),
            },
            Entry::Foreign { file_name, path, size } => json!({
                "name": file_name, "status": "corrupt", "file": path.display().to_string(), "size": size,
                "reason": "not a snapshot file (snapshots are named NAME.seed.gz)",
            }),
        });
    }
    if ctx.printer.json_doc() {
        ctx.printer.document("snapshot list", json!({ "snapshots": items }));
        return Ok(code::OK);
    }
    if items.is_empty() {
        ctx.printer.data(&format!("no snapshots in {}", store.dir.display()));
        return Ok(code::OK);
    }
    let rows: Vec<[String; 6]> = items
        .iter()
        .map(|i| {
            let s = |k: &str, max: usize| shown(i[k].as_str().unwrap_or(""), max);
            if i["status"] == "ok" {
                [
                    s("name", CELL),
                    s("created_at", 40).replace('T', " ").trim_end_matches('Z').to_owned(),
                    human_bytes(i["size"].as_u64().unwrap_or(0)),
                    i["tables"].to_string(),
                    i["rows"].to_string(),
                    i["schema_version"].as_str().map_or_else(|| "-".to_owned(), |v| shown(v, CELL)),
                ]
            } else {
                [
                    s("name", CELL),
                    "CORRUPT".into(),
                    human_bytes(i["size"].as_u64().unwrap_or(0)),
                    "-".into(),
                    "-".into(),
                    s("reason", CELL),
                ]
            }
        })
        .collect();
    let head = ["NAME", "CREATED (UTC)", "SIZE", "TABLES", "ROWS", "SCHEMA VERSION"];
    let width = |s: &str| s.chars().count();
    let widths: Vec<usize> =
        (0..6).map(|c| rows.iter().map(|r| width(&r[c])).chain([head[c].len()]).max().unwrap_or(0)).collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(c, v)| if c == 5 { v.clone() } else { format!("{v:<w$}", w = widths[c]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let mut text = line(&head.map(str::to_owned));
    for r in &rows {
        text.push('\n');
        text.push_str(line(r).trim_end());
    }
    let temps = store.temp_files().len();
    if temps > 0 {
        let temps = plural(temps as u64, "stale temp file", "stale temp files");
        text.push_str(&format!("\n({temps} not listed; `seed doctor` shows them)"));
    }
    ctx.printer.data(&text);
    Ok(code::OK)
}

/// The reason part of a corrupt-snapshot error (the path is already in the listing).
pub fn corrupt_reason(e: &Error) -> String {
    match e {
        Error::SnapshotCorrupt { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
