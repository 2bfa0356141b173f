//! `seed snapshot list`: reads only each snapshot's header (the first gzip member), so
//! a 1 GB snapshot lists as fast as a 1 KB one; in a bucket, headers are read with
//! ranged GETs, several at once. Corrupt or foreign files are listed as corrupt with
//! the reason; they never stop the listing. Strings from the files are escaped and
//! cut in the text table.

use std::sync::Arc;

use futures_util::StreamExt;
use serde_json::{Value, json};

use super::location;
use crate::Context;
use crate::cli::ListArgs;
use crate::error::{Error, code};
use crate::output::{human_bytes, plural};
use crate::snapshot::location::{Location, ObjectInfo};
use crate::snapshot::names::name_of_key;
use crate::snapshot::reader::read_header_from;
use crate::snapshot::source::Source;
use crate::text::shown;

/// Objects opened ahead (in a bucket: a ranged GET of the first MiB each).
const PARALLEL: usize = 8;

/// Widest reason or version shown in the text table.
const CELL: usize = 160;

pub async fn run(_args: &ListArgs, ctx: &Context) -> Result<u8, Error> {
    let store = location(ctx)?;
    let shown_dir = store.display().display().to_string();
    if !store.exists().await? {
        // The default directory appears with the first snapshot; one named by the
        // user that is not there is a mistake worth an error.
        if !store.is_default() {
            return Err(Error::usage_hint(
                format!("the snapshot location {shown_dir} does not exist"),
                "check --snapshot-dir (SEED_SNAPSHOT_DIR); `seed snapshot create` makes a missing directory \
                 (a bucket must be created first)",
            ));
        }
        ctx.printer
            .data(&format!("no snapshots yet ({shown_dir} does not exist; `seed snapshot create NAME` makes it)"));
        ctx.printer.document("snapshot list", json!({ "snapshots": [] }));
        return Ok(code::OK);
    }
    // Up to PARALLEL objects are opened ahead (in a bucket, each open fetches the first
    // MiB: the network wait overlaps); headers are parsed one at a time, so memory
    // holds one header however many there are.
    let entries = store.list().await?;
    let mut opened = futures_util::stream::iter(entries.into_iter().map(|info| {
        let store = store.clone();
        tokio::spawn(async move {
            let src = match name_of_key(&info.key) {
                Some(_) => Some(store.open_key(&info.key).await),
                None => None,
            };
            (info, src)
        })
    }))
    .buffered(PARALLEL);
    let mut items: Vec<Value> = Vec::new();
    while let Some(joined) = opened.next().await {
        let (info, src) = joined.map_err(|e| Error::Internal(format!("listing task failed: {e}")))?;
        items.push(tokio::task::block_in_place(|| describe(&store, info, src)));
    }
    if ctx.printer.json_doc() {
        ctx.printer.document("snapshot list", json!({ "snapshots": items }));
        return Ok(code::OK);
    }
    if items.is_empty() {
        ctx.printer.data(&format!("no snapshots in {shown_dir}"));
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
    let temps = store.stale_temp_count();
    if temps > 0 {
        let temps = plural(temps as u64, "stale temp file", "stale temp files");
        text.push_str(&format!("\n({temps} not listed; `seed doctor` shows them)"));
    }
    ctx.printer.data(&text);
    Ok(code::OK)
}

/// One listing entry: a snapshot's header fields, or why it is corrupt (blocking).
fn describe(store: &Location, info: ObjectInfo, src: Option<Result<Option<Arc<dyn Source>>, Error>>) -> Value {
    let file = store.display_key(&info.key).display().to_string();
    let size = info.size;
    let (Some(name), Some(src)) = (name_of_key(&info.key), src) else {
        return json!({
            "name": info.key, "status": "corrupt", "file": file, "size": size,
            "reason": "not a snapshot file (snapshots are named NAME.seed.gz)",
        });
    };
    let header = match src {
        Ok(Some(src)) => read_header_from(src.as_ref()),
        Ok(None) => {
            return json!({ "name": name, "status": "corrupt", "file": file, "size": size,
                           "reason": "deleted while the list was read" });
        }
        Err(e) => Err(e),
    };
    match header {
        Ok(h) => json!({
            "name": name, "status": "ok", "file": file, "size": size,
            "created_at": h.created_at, "description": h.description,
            "tables": h.tables.len(), "rows": h.tables.iter().map(|t| t.rows).sum::<u64>(),
            "schema_version": h.schema_version.as_ref().map(|v| v.version.clone()),
            "database": h.database.kind, "format_version": h.format_version, "version": h.version,
        }),
        Err(e) => {
            json!({ "name": name, "status": "corrupt", "file": file, "size": size, "reason": corrupt_reason(&e) })
        }
    }
}

/// The reason part of a corrupt-snapshot error (the path is already in the listing).
pub fn corrupt_reason(e: &Error) -> String {
    match e {
        Error::SnapshotCorrupt { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}
