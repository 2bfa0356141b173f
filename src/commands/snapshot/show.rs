//! `seed snapshot show NAME`: the header, nothing else read.

use std::fmt::Write as _;

use super::open_locked;
use crate::Context;
use crate::cli::ShowArgs;
use crate::error::{Error, code};
use crate::output::{human_bytes, plural};
use crate::snapshot::lock::Mode;
use crate::snapshot::reader::read_header;

pub async fn run(args: ShowArgs, ctx: &Context) -> Result<u8, Error> {
    let (_store, path, _lock) = open_locked(ctx, &args.name, Mode::Shared, args.lock.wait, "show").await?;
    let (h, size) = read_header(&path)?;
    if args.json {
        let doc = serde_json::json!({ "file": path.display().to_string(), "size": size, "header": h });
        ctx.printer.data(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(code::OK);
    }
    let mut t = String::new();
    let rows: u64 = h.tables.iter().map(|t| t.rows).sum();
    let raw: u64 = h.tables.iter().map(|t| t.raw_bytes).sum();
    let _ = writeln!(t, "snapshot      {}", h.name);
    if let Some(d) = &h.description {
        let _ = writeln!(t, "description   {d}");
    }
    let _ = writeln!(t, "file          {} ({}, {} of rows)", path.display(), human_bytes(size), human_bytes(raw));
    let _ = writeln!(t, "created       {} by seed {}", h.created_at, h.tool_version);
    let _ = writeln!(t, "database      {} {} at {}", h.database.kind, h.database.server_version, h.database.location);
    let _ = writeln!(
        t,
        "schema        version {}; fingerprint {}",
        h.schema_version.as_ref().map_or_else(|| "none".to_owned(), |v| format!("{} ({})", v.version, v.source)),
        &h.schema_fingerprint[..h.schema_fingerprint.len().min(12)]
    );
    let _ = writeln!(
        t,
        "format        {} v{}, {} level {}",
        h.format, h.format_version, h.compression.algorithm, h.compression.level
    );
    let _ = writeln!(
        t,
        "tables        {}, {}",
        plural(h.tables.len() as u64, "table", "tables"),
        plural(rows, "row", "rows")
    );
    for table in &h.tables {
        let _ = writeln!(
            t,
            "\n  {} — {}, checksum {}",
            table.table_name(),
            plural(table.rows, "row", "rows"),
            table.checksum
        );
        for c in &table.columns {
            let pk = if table.primary_key.contains(&c.name) { " (pk)" } else { "" };
            let _ = writeln!(t, "    {:<28} {}{}{pk}", c.name, c.type_name, if c.nullable { "" } else { " not null" });
        }
    }
    ctx.printer.data(t.trim_end());
    Ok(code::OK)
}
