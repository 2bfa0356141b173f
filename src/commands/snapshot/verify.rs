//! `seed snapshot verify NAME [--against-db]`: the file's integrity (every member
//! decompressed, every row counted and hashed against the header), or the live
//! database against the snapshot, table by table.

use serde_json::json;

use crate::cli::VerifyArgs;
use crate::context::Context;
use crate::db::{self, ChunkSink};
use crate::error::{Error, code};
use crate::output::{Level, plural};
use crate::snapshot::catalog::{self, described};
use crate::snapshot::format::{Header, RowHasher};

pub async fn run(args: VerifyArgs, ctx: &Context) -> Result<u8, Error> {
    // A missing or altered base fails here, before anything is read.
    let opened = catalog::open_chain(ctx.location()?, &ctx.printer, &args.name, args.lock.wait, "verify").await?;
    let chain = &opened.chain;
    let shown_name = described(&args.name, chain);
    if args.against_db {
        return against_db(chain.header(), opened.version.version, &shown_name, ctx).await;
    }
    tokio::task::block_in_place(|| chain.verify())?;
    let header = chain.header();
    if header.format_version < 2 {
        ctx.printer.info(format!(
            "note: snapshot {shown_name} is format {}: its header is not bound to its data (no header checksum), so an \
             edited header goes unnoticed; a snapshot taken now is format {}",
            header.format_version,
            crate::snapshot::format::FORMAT_VERSION
        ));
    }
    let rows: u64 = header.tables.iter().map(|t| t.rows).sum();
    let tables: Vec<serde_json::Value> = header
        .tables
        .iter()
        .map(|t| json!({ "table": t.table_name().to_string(), "rows": t.rows, "checksum": t.checksum, "status": "ok" }))
        .collect();
    ctx.printer.document(
        "snapshot verify",
        json!({ "name": header.name, "version": opened.version.version, "against_db": false, "intact": true,
                "format_version": header.format_version, "rows": rows, "tables": tables,
                "chain": chain.links().iter().map(|l| l.label.clone()).collect::<Vec<_>>() }),
    );
    ctx.printer.event(
        Level::Info,
        "snapshot_verified",
        json!({ "name": header.name, "version": opened.version.version, "tables": header.tables.len(), "rows": rows,
                "chain": chain.links().iter().map(|l| l.label.clone()).collect::<Vec<_>>() }),
        || {
            format!(
                "snapshot {shown_name} is intact: {}, {}, every checksum matches",
                plural(header.tables.len() as u64, "table", "tables"),
                plural(rows, "row", "rows")
            )
        },
    );
    Ok(code::OK)
}

struct HashSink(RowHasher);

impl ChunkSink for HashSink {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.update(bytes);
        Ok(())
    }
}

/// Row counts and checksums of the live tables (read in one repeatable-read
/// transaction) against the snapshot's header.
async fn against_db(header: &Header, version: u64, shown: &str, ctx: &Context) -> Result<u8, Error> {
    let mut session =
        db::connect(&ctx.settings.connect_options(), &ctx.settings.database_url, &ctx.printer, "seed snapshot verify")
            .await?;
    session.begin_read().await?;
    let schema = session.introspect().await?;
    let mut differences = Vec::new();
    let mut report = Vec::new();
    for entry in &header.tables {
        let name = entry.table_name();
        let Some(table) = schema.get(&name) else {
            differences.push(format!("{name}: missing from the database"));
            report.push(json!({ "table": name.to_string(), "status": "missing", "snapshot_rows": entry.rows }));
            continue;
        };
        let missing: Vec<&str> =
            entry.columns.iter().filter(|c| table.column(&c.name).is_none()).map(|c| c.name.as_str()).collect();
        if !missing.is_empty() {
            differences.push(format!("{name}: columns missing from the database: {}", missing.join(", ")));
            report.push(json!({ "table": name.to_string(), "status": "columns missing", "columns": missing,
                                "snapshot_rows": entry.rows }));
            continue;
        }
        let columns: Vec<String> = entry.columns.iter().map(|c| c.name.clone()).collect();
        let mut sink = HashSink(RowHasher::new());
        session.stream_table(table, &columns, &mut sink).await?;
        let live = sink.0.finish().map_err(|reason| Error::Data { step: format!("reading {name}"), reason })?;
        let same = live.rows == entry.rows && live.checksum == entry.checksum;
        report.push(json!({ "table": name.to_string(), "status": if same { "same" } else { "differs" },
                            "db_rows": live.rows, "snapshot_rows": entry.rows }));
        if live.rows != entry.rows {
            differences.push(format!(
                "{name}: {} in the database, {} in the snapshot",
                plural(live.rows, "row", "rows"),
                entry.rows
            ));
        } else if live.checksum != entry.checksum {
            differences.push(format!(
                "{name}: same row count ({}), different contents (checksum {} vs {})",
                live.rows, live.checksum, entry.checksum
            ));
        }
    }
    session.close().await;
    if header.masking.is_some()
        && let Some(first) = differences.first_mut()
    {
        first.insert_str(
            0,
            "(the snapshot is masked: it matches only a database it was restored into, not the one it was taken from)\n",
        );
    }
    // The report is the result, also when the rows differ (exit 12).
    ctx.printer.document(
        "snapshot verify",
        json!({ "name": header.name, "version": version, "against_db": true, "matches": differences.is_empty(),
                "tables": report }),
    );
    if differences.is_empty() {
        ctx.printer.event(
            Level::Info,
            "snapshot_matches_database",
            json!({ "name": header.name, "version": version, "tables": header.tables.len() }),
            || {
                format!(
                    "the database matches snapshot {shown}: {}, same rows",
                    plural(header.tables.len() as u64, "table", "tables")
                )
            },
        );
        return Ok(code::OK);
    }
    for d in &differences {
        ctx.printer.data(d);
    }
    Err(Error::Differences {
        summary: format!(
            "the database differs from snapshot {shown} in {} of {}",
            differences.len(),
            plural(header.tables.len() as u64, "table", "tables")
        ),
    })
}
