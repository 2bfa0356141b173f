//! A snapshot written from another one's rows (`seed snapshot mask SRC DST`): every
//! table rebuilt through the source's chain (checked as it is read), masked, and
//! written in full through the same sink a create uses (hash, parallel gzip, the
//! snapshot writer), so the copy is a self-contained snapshot published atomically.
//! The source header's keys, types and checks stand in for the database's schema.

use crate::db::ChunkSink;
use crate::db::schema::{Column, ForeignKey, Schema, Table, TableName, Unique};
use crate::error::Error;
use crate::mask::{self, MaskSink};
use crate::output::Printer;
use crate::snapshot::chain::Chain;
use crate::snapshot::format::{self, Header};
use crate::snapshot::location::Stage;
use crate::snapshot::writer::SnapshotWriter;

use super::sink::TableSink;

/// The schema a header records: its tables with their columns' kinds and checks, keys
/// and foreign keys. `Err` names what an older header lacks.
pub fn schema_of(h: &Header) -> Result<Schema, String> {
    let mut tables = Vec::new();
    for t in &h.tables {
        let mut columns = Vec::new();
        for c in &t.columns {
            let kind = c.kind.as_deref().cloned().ok_or_else(|| {
                format!(
                    "it was written by a seed that did not record column types and keys ({}.{} has none)",
                    t.table_name(),
                    c.name
                )
            })?;
            columns.push(Column {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
                kind,
                nullable: c.nullable,
                default: None,
                auto: None,
                generated: false,
                checks: c.checks.clone(),
            });
        }
        tables.push(Table {
            name: t.table_name(),
            columns,
            primary_key: t.primary_key.clone(),
            uniques: t
                .unique_keys
                .iter()
                .enumerate()
                .map(|(i, u)| Unique { name: format!("unique {}", i + 1), columns: u.clone() })
                .collect(),
            foreign_keys: t
                .foreign_keys
                .iter()
                .enumerate()
                .map(|(i, f)| ForeignKey {
                    name: format!("foreign key {}", i + 1),
                    columns: f.columns.clone(),
                    ref_table: TableName::new(f.ref_schema.clone(), f.ref_table.clone()),
                    ref_columns: f.ref_columns.clone(),
                    deferrable: false,
                    period: false,
                })
                .collect(),
            partitioned: false,
            partition_key: None,
            partitions: vec![],
            checks: vec![],
            row_estimate: t.rows,
            estimated_bytes: t.raw_bytes,
            trigger_writes: vec![],
            key_rules: vec![],
        });
    }
    Ok(Schema { tables, names_ignore_case: h.database.kind == "sqlite", ..Schema::default() })
}

/// Writes every table of `chain` through `plan` into `stage` as `header` describes
/// (stored in full, compressed at `level`) and publishes it (over an existing version
/// when `replace`). The header's figures are filled in as the tables are written.
pub async fn write_masked(
    chain: &Chain,
    plan: &mask::Plan,
    header: Header,
    stage: Stage,
    replace: bool,
    printer: &Printer,
) -> Result<Header, Error> {
    let level = header.compression.level;
    let rows: Vec<u64> = header.tables.iter().map(|t| t.rows).collect();
    let mut writer = tokio::task::block_in_place(|| SnapshotWriter::create(stage, header))?;
    for (i, table) in plan.tables.iter().enumerate() {
        writer.begin_table_as(i, format::Storage::Full)?;
        let progress = printer.progress(&table.table.to_string(), Some(rows[i]), "rows");
        let mut sink = TableSink::new(&mut writer, level, progress.clone());
        let mut source = tokio::task::block_in_place(|| chain.open_table(i))?;
        if table.is_empty() {
            while let Some(chunk) = tokio::task::block_in_place(|| source.next_chunk())? {
                sink.push(&chunk).await?;
            }
        } else {
            let mut masked = MaskSink::new(table, &mut sink);
            while let Some(chunk) = tokio::task::block_in_place(|| source.next_chunk())? {
                masked.push(&chunk).await?;
            }
            masked.finish().await?;
        }
        tokio::task::block_in_place(|| source.finish())?;
        let stats = sink.finish().await?;
        writer.end_table(stats)?;
        progress.finish();
    }
    tokio::task::block_in_place(|| writer.finish(replace))
}
