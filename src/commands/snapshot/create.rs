//! `seed snapshot create NAME`: every chosen table, read in one repeatable-read
//! transaction, streamed as COPY text through parallel gzip into an unnamed temp file
//! in the snapshot directory, published by an atomic rename only when complete.

use std::collections::VecDeque;
use std::time::Instant;

use serde_json::json;
use tokio::task::JoinHandle;

use super::{AuditGuard, select_tables, store};
use crate::Context;
use crate::cli::CreateArgs;
use crate::db::export::{ChunkSink, session_settings, stream_table};
use crate::db::retry::with_retry;
use crate::db::schema::Table;
use crate::db::url::DbKind;
use crate::db::{self, Conn, Session, postgres, sqlite};
use crate::error::{Error, code};
use crate::output::{Level, Progress, human_bytes, human_count};
use crate::snapshot::format::{
    self, ColumnEntry, CompressionInfo, DatabaseInfo, Header, LineChunker, RowHasher, SequenceState, TableEntry,
    TableStats,
};
use crate::snapshot::lock::{self, Mode};
use crate::snapshot::store::{Store, validate_name};
use crate::snapshot::writer::SnapshotWriter;

/// Uncompressed bytes per gzip member: big enough for a good ratio, small enough to
/// keep both cores busy and memory flat.
const CHUNK: usize = 1 << 20;
/// Members being compressed at once (bounded memory: about 2 × DEPTH × CHUNK).
const DEPTH: usize = 4;
/// Heap pages compress about this well (and usually better) at level 1.
const ESTIMATE_DIVISOR: u64 = 4;

pub async fn run(args: CreateArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let store = store(ctx);
    store.ensure_dir()?;
    let audit = AuditGuard::new(
        ctx,
        &store,
        "snapshot create",
        Some(args.name.clone()),
        Some(ctx.settings.database_url.location().to_owned()),
    );
    let result = create(&args, ctx, &store).await;
    audit.finish(&result);
    result
}

async fn create(args: &CreateArgs, ctx: &Context, store: &Store) -> Result<u8, Error> {
    let _lock = lock::acquire(
        store,
        &args.name,
        Mode::Exclusive,
        args.lock.wait,
        &format!("seed snapshot create {}", args.name),
    )
    .await?;
    if store.exists(&args.name) && !args.force {
        return Err(Error::SnapshotExists { name: args.name.clone(), dir: store.dir.clone() });
    }
    // Named temp files of this name can only be leftovers of a killed create: we hold the lock.
    for stale in store.temp_files_of(&args.name) {
        let _ = std::fs::remove_file(&stale);
    }
    let started = Instant::now();
    let header =
        with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| attempt(args, ctx, store)).await?;
    let size = std::fs::metadata(store.path(&args.name)).map(|m| m.len()).unwrap_or(0);
    let rows: u64 = header.tables.iter().map(|t| t.rows).sum();
    let raw: u64 = header.tables.iter().map(|t| t.raw_bytes).sum();
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let ratio = if size > 0 { raw as f64 / size as f64 } else { 0.0 };
    ctx.printer.event(
        Level::Info,
        "snapshot_created",
        json!({ "name": args.name, "path": store.path(&args.name).display().to_string(), "tables": header.tables.len(),
                "rows": rows, "raw_bytes": raw, "file_bytes": size, "compression_ratio": (ratio * 100.0).round() / 100.0,
                "seconds": (secs * 1000.0).round() / 1000.0 }),
        || {
            #[allow(clippy::cast_precision_loss)]
            let rate = rows as f64 / secs.max(1e-6);
            format!(
                "snapshot '{}' created: {} tables, {rows} rows, {} of data in {} ({ratio:.1}x), {secs:.2}s ({} rows/s)\n  {}",
                args.name,
                header.tables.len(),
                human_bytes(raw),
                human_bytes(size),
                human_count(rate),
                store.path(&args.name).display()
            )
        },
    );
    Ok(code::OK)
}

async fn attempt(args: &CreateArgs, ctx: &Context, store: &Store) -> Result<Header, Error> {
    let mut session =
        db::connect(&ctx.settings, &ctx.settings.database_url, &ctx.printer, "seed snapshot create").await?;
    let result = write_snapshot(args, ctx, store, &mut session).await;
    session.close().await;
    result
}

async fn write_snapshot(
    args: &CreateArgs,
    ctx: &Context,
    store: &Store,
    session: &mut Session,
) -> Result<Header, Error> {
    // One repeatable-read, read-only transaction: every table as of the same moment.
    let begin = match session.info.kind {
        DbKind::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        DbKind::Sqlite => "BEGIN",
    };
    let step = session.step("starting a read transaction");
    let (schema, version) = match &mut session.conn {
        Conn::Postgres(conn) => {
            sqlx::raw_sql(begin).execute(&mut *conn).await.map_err(|e| db::errors::translate(e, &step))?;
            (postgres::introspect(conn).await?, postgres::schema_version(conn).await?)
        }
        Conn::Sqlite(conn) => {
            sqlx::raw_sql(begin).execute(&mut *conn).await.map_err(|e| db::errors::translate(e, &step))?;
            (sqlite::introspect(conn).await?, sqlite::schema_version(conn).await?)
        }
    };
    let tables = select_tables(&schema, &args.tables, &args.exclude)?;
    check_free_space(store, &tables, session)?;
    let header = Header {
        format: format::FORMAT_NAME.into(),
        format_version: format::FORMAT_VERSION,
        row_format: format::ROW_FORMAT_COPY_TEXT.into(),
        name: args.name.clone(),
        version: 1,
        description: args.description.clone(),
        created_at: format::now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        database: DatabaseInfo {
            kind: session.info.kind.label().into(),
            server_version: session.info.version.clone(),
            location: session.url.location().to_owned(),
        },
        schema_version: version,
        schema_fingerprint: schema.fingerprint(),
        tables_fingerprint: None, // the writer computes it
        settings: session_settings(session).await?,
        compression: CompressionInfo { algorithm: format::COMPRESSION_GZIP.into(), level: args.compression_level },
        base: None,
        tables: tables.iter().map(|t| table_entry(t)).collect(),
        header_checksum: None, // the writer computes it
    };
    let mut header = header;
    if let Conn::Postgres(conn) = &mut session.conn {
        for (entry, table) in header.tables.iter_mut().zip(&tables) {
            for c in &table.columns {
                if let Some(seq) = c.auto.as_ref().and_then(|a| a.sequence.as_ref()) {
                    let (last_value, is_called) = postgres::sequence_state(conn, seq).await?;
                    entry.sequences.insert(c.name.clone(), SequenceState { last_value, is_called });
                }
            }
        }
    }
    let mut writer = tokio::task::block_in_place(|| SnapshotWriter::create(&store.dir, header.clone()))?;
    for (i, table) in tables.iter().enumerate() {
        writer.begin_table(i)?;
        let progress = ctx.printer.progress(
            &table.name.to_string(),
            (table.estimated_rows > 0).then_some(table.estimated_rows),
            "rows",
        );
        let columns: Vec<String> = header.tables[i].columns.iter().map(|c| c.name.clone()).collect();
        let mut sink = TableSink::new(&mut writer, args.compression_level, progress.clone());
        stream_table(session, &table.name, &columns, table.partitioned, &mut sink).await?;
        let stats = sink.finish().await?;
        writer.end_table(stats)?;
        progress.finish();
    }
    let step = session.step("ending the read transaction");
    match &mut session.conn {
        Conn::Postgres(conn) => sqlx::raw_sql("COMMIT").execute(&mut *conn).await.map(|_| ()),
        Conn::Sqlite(conn) => sqlx::raw_sql("COMMIT").execute(&mut *conn).await.map(|_| ()),
    }
    .map_err(|e| db::errors::translate(e, &step))?;
    tokio::task::block_in_place(|| writer.finish(&store.path(&args.name), args.force))
}

fn table_entry(t: &Table) -> TableEntry {
    TableEntry {
        schema: t.name.schema.clone(),
        name: t.name.name.clone(),
        storage: format::Storage::Full,
        columns: t
            .writable_columns()
            .map(|c| ColumnEntry { name: c.name.clone(), type_name: c.type_name.clone(), nullable: c.nullable })
            .collect(),
        primary_key: t.primary_key.clone(),
        rows: 0,
        checksum: "0".repeat(16),
        offset: 0,
        length: 0,
        raw_bytes: 0,
        delta: None,
        sequences: std::collections::BTreeMap::new(),
    }
}

/// Fails before writing a byte when the directory clearly cannot hold the snapshot.
fn check_free_space(store: &Store, tables: &[&Table], session: &Session) -> Result<(), Error> {
    let data: u64 = match session.info.kind {
        DbKind::Postgres => tables.iter().map(|t| t.estimated_bytes).sum(),
        DbKind::Sqlite => session.url.sqlite_path().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len()),
    };
    let needed = data / ESTIMATE_DIVISOR;
    let free = store.free_space()?;
    if needed > free {
        return Err(Error::DiskSpace {
            path: store.dir.clone(),
            reason: format!(
                "the snapshot needs about {} ({} of table data, compressed) but only {} is free; nothing was written",
                human_bytes(needed),
                human_bytes(data),
                human_bytes(free)
            ),
        });
    }
    Ok(())
}

/// Hashes rows as they arrive, cuts them into line-aligned chunks, compresses chunks
/// on the blocking pool (several at once) and writes the members in order.
struct TableSink<'w> {
    writer: &'w mut SnapshotWriter,
    chunker: LineChunker,
    hasher: RowHasher,
    pending: VecDeque<JoinHandle<Vec<u8>>>,
    level: u32,
    progress: Progress,
    rows_reported: u64,
}

impl<'w> TableSink<'w> {
    fn new(writer: &'w mut SnapshotWriter, level: u32, progress: Progress) -> Self {
        Self {
            writer,
            chunker: LineChunker::new(CHUNK),
            hasher: RowHasher::new(),
            pending: VecDeque::new(),
            level,
            progress,
            rows_reported: 0,
        }
    }

    async fn compress(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        let level = self.level;
        self.pending.push_back(tokio::task::spawn_blocking(move || format::gzip_member(&chunk, level)));
        while self.pending.len() > DEPTH {
            self.write_oldest().await?;
        }
        Ok(())
    }

    async fn write_oldest(&mut self) -> Result<(), Error> {
        if let Some(handle) = self.pending.pop_front() {
            let gz = handle.await.map_err(|e| Error::Internal(format!("compression task failed: {e}")))?;
            let writer = &mut *self.writer;
            tokio::task::block_in_place(|| writer.write_member(&gz))?;
        }
        Ok(())
    }

    /// Flushes the last chunk and every pending member; the table's figures.
    async fn finish(mut self) -> Result<TableStats, Error> {
        if let Some(rest) = std::mem::replace(&mut self.chunker, LineChunker::new(CHUNK)).finish() {
            self.compress(rest).await?;
        }
        while !self.pending.is_empty() {
            self.write_oldest().await?;
        }
        let table = self.progress.label().to_owned();
        self.hasher.finish().map_err(|reason| Error::Internal(format!("the rows of {table} were malformed: {reason}")))
    }
}

impl ChunkSink for TableSink<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        let rows = self.hasher.rows();
        self.progress.inc(rows - self.rows_reported);
        self.rows_reported = rows;
        for chunk in self.chunker.push(bytes) {
            self.compress(chunk).await?;
        }
        Ok(())
    }
}
