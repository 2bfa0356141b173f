//! `seed snapshot create NAME`: every chosen table, read in one repeatable-read
//! transaction, streamed as COPY text through parallel gzip into a new key of the
//! snapshot location (an unnamed temp file, or a multipart upload), published
//! atomically only when complete.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::Instant;

use serde_json::json;
use tokio::task::JoinHandle;

use super::{AuditGuard, location, select_tables};
use crate::Context;
use crate::cli::CreateArgs;
use crate::db::retry::with_retry;
use crate::db::schema::Table;
use crate::db::select::Selection;
use crate::db::{self, ChunkSink, Session};
use crate::error::{Error, code};
use crate::output::{Level, Progress, human_bytes, human_count, plural};
use crate::snapshot::format::{
    self, ColumnEntry, CompressionInfo, DatabaseInfo, Header, LineChunker, RowHasher, TableEntry, TableStats,
};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::names::{key_for, validate_name};
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
    let store = location(ctx)?;
    store.prepare_write().await?;
    let audit = AuditGuard::new(
        ctx,
        &store,
        "snapshot create",
        Some(args.name.clone()),
        Some(ctx.settings.database_url.location().to_owned()),
    );
    let result = create(&args, ctx, &store).await;
    audit.finish(&result).await;
    result
}

async fn create(args: &CreateArgs, ctx: &Context, store: &Location) -> Result<u8, Error> {
    let key = key_for(&args.name);
    let _lock =
        store.lock(&args.name, Mode::Exclusive, args.lock.wait, &format!("seed snapshot create {}", args.name)).await?;
    // Saves the work of reading the database; the publish itself refuses an existing
    // key (a conditional write), so a create that starts after this check still fails.
    if !args.force && store.head(&key).await?.is_some() {
        return Err(Error::SnapshotExists { name: args.name.clone(), dir: store.display() });
    }
    db::check_direct_url(&ctx.settings, &ctx.printer).await?;
    let started = Instant::now();
    let header = take(args, ctx, store).await?;
    let size = store.head(&key).await.ok().flatten().map_or(0, |i| i.size);
    let shown_path = store.display_key(&key).display().to_string();
    let rows: u64 = header.tables.iter().map(|t| t.rows).sum();
    let raw: u64 = header.tables.iter().map(|t| t.raw_bytes).sum();
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let ratio = if size > 0 { raw as f64 / size as f64 } else { 0.0 };
    let summary = json!({ "name": args.name, "path": shown_path, "tables": header.tables.len(),
                "rows": rows, "raw_bytes": raw, "file_bytes": size, "compression_ratio": (ratio * 100.0).round() / 100.0,
                "seconds": (secs * 1000.0).round() / 1000.0 });
    ctx.printer.document("snapshot create", summary.clone());
    ctx.printer.event(Level::Info, "snapshot_created", summary, || {
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        format!(
            "snapshot '{}' created: {}, {}, {} of data in {} ({ratio:.1}x), {secs:.2}s ({} rows/s)\n  {}",
            args.name,
            plural(header.tables.len() as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_bytes(raw),
            human_bytes(size),
            human_count(rate),
            shown_path
        )
    });
    Ok(code::OK)
}

/// Writes snapshot `args.name` (retried as a whole on transient failures); prints no
/// summary. The caller holds the name's exclusive lock and has checked the direct URL
/// (`seed prepare` reuses this).
pub async fn take(args: &CreateArgs, ctx: &Context, store: &Location) -> Result<Header, Error> {
    with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| attempt(args, ctx, store)).await
}

async fn attempt(args: &CreateArgs, ctx: &Context, store: &Location) -> Result<Header, Error> {
    let mut session = db::connect_with(
        &ctx.settings,
        &ctx.settings.database_url,
        &ctx.printer,
        "seed snapshot create",
        db::Access::ReadWrite,
        args.lock.wait,
    )
    .await?;
    let result = write_snapshot(args, ctx, store, &mut session).await;
    session.close().await;
    result
}

async fn write_snapshot(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    session: &mut Session,
) -> Result<Header, Error> {
    // One read-only transaction: every table as of the same moment.
    session.begin_read().await?;
    let schema = session.introspect().await?;
    let version = session.schema_version(&schema).await?;
    let selection =
        Selection { include: args.tables.clone(), exclude: args.exclude.clone(), schemas: args.schemas.clone() };
    let tables = select_tables(&schema, &selection)?;
    let jobs = args
        .jobs
        .map_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get), |j| j as usize)
        .min(tables.len())
        .max(1);
    // Other connections join this transaction's snapshot, so every table is still read
    // as of one moment (PostgreSQL; elsewhere `None` and one connection reads all).
    let shared = if jobs > 1 { session.export_snapshot().await? } else { None };
    // In parallel, each table is first spooled to its own unnamed temp file.
    check_free_space(store, &tables, session, shared.is_some())?;
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
            kind: session.kind().label().into(),
            server_version: session.info.version.clone(),
            location: session.url.location().to_owned(),
        },
        schema_version: version,
        schema_fingerprint: schema.fingerprint(),
        tables_fingerprint: None, // the writer computes it
        settings: session.session_settings().await?,
        compression: CompressionInfo { algorithm: format::COMPRESSION_GZIP.into(), level: args.compression_level },
        base: None,
        tables: tables.iter().map(|t| table_entry(t)).collect(),
        header_checksum: None, // the writer computes it
    };
    let mut header = header;
    for (entry, table) in header.tables.iter_mut().zip(&tables) {
        entry.sequences = session.sequence_states(table).await?;
    }
    let stage = store.stage(&key_for(&args.name)).await?;
    let mut writer = tokio::task::block_in_place(|| SnapshotWriter::create(stage, header.clone()))?;
    match shared {
        Some(snapshot) => {
            let spooled = read_in_parallel(args, ctx, store, session, &tables, &header, &snapshot, jobs).await?;
            for (i, (spool, stats)) in spooled.into_iter().enumerate() {
                writer.begin_table(i)?;
                tokio::task::block_in_place(|| spool.copy_into(&mut writer))?;
                writer.end_table(stats)?;
            }
        }
        None => {
            for (i, table) in tables.iter().enumerate() {
                writer.begin_table(i)?;
                let progress = table_progress(ctx, table);
                let columns: Vec<String> = header.tables[i].columns.iter().map(|c| c.name.clone()).collect();
                let mut sink = TableSink::new(&mut writer, args.compression_level, progress.clone());
                session.stream_table(table, &columns, &mut sink).await?;
                let stats = sink.finish().await?;
                writer.end_table(stats)?;
                progress.finish();
            }
        }
    }
    session.commit("ending the read transaction").await?;
    tokio::task::block_in_place(|| writer.finish(args.force))
}

fn table_progress(ctx: &Context, table: &Table) -> Progress {
    ctx.printer.progress(&table.name.to_string(), (table.row_estimate > 0).then_some(table.row_estimate), "rows")
}

/// Reads the tables on `jobs` connections sharing the exported `snapshot`, biggest
/// first; each table goes to its own spool. Returns the spools in header order.
#[allow(clippy::too_many_arguments)]
async fn read_in_parallel(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    leader: &mut Session,
    tables: &[&Table],
    header: &Header,
    snapshot: &str,
    jobs: usize,
) -> Result<Vec<(Spool, TableStats)>, Error> {
    let mut helpers = Vec::with_capacity(jobs - 1);
    for _ in 1..jobs {
        let mut s =
            db::connect(&ctx.settings, &ctx.settings.database_url, &ctx.printer, "seed snapshot create").await?;
        s.begin_read_at(snapshot).await?;
        helpers.push(s);
    }
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tables[i].estimated_bytes.max(tables[i].row_estimate)));
    let queue = RefCell::new(VecDeque::from(order));
    let done: RefCell<Vec<Option<(Spool, TableStats)>>> = RefCell::new((0..tables.len()).map(|_| None).collect());
    let work = Work { args, ctx, store, tables, header, queue: &queue, done: &done };
    let mut all: Vec<&mut Session> = vec![leader];
    all.extend(helpers.iter_mut());
    let result = futures_util::future::try_join_all(all.into_iter().map(|s| work.drain(s))).await;
    for mut s in helpers {
        if result.is_ok() {
            s.commit("ending a read transaction").await?;
        }
        s.close().await;
    }
    result?;
    done.into_inner().into_iter().map(|d| d.ok_or_else(|| Error::Internal("a table was not read".into()))).collect()
}

/// What every connection of a parallel read shares: tables still to read, spools done.
#[derive(Clone, Copy)]
struct Work<'a> {
    args: &'a CreateArgs,
    ctx: &'a Context,
    store: &'a Location,
    tables: &'a [&'a Table],
    header: &'a Header,
    queue: &'a RefCell<VecDeque<usize>>,
    done: &'a RefCell<Vec<Option<(Spool, TableStats)>>>,
}

impl Work<'_> {
    /// Reads tables on `session` until none is left.
    async fn drain(self, session: &mut Session) -> Result<(), Error> {
        loop {
            let Some(i) = self.queue.borrow_mut().pop_front() else { return Ok(()) };
            let table = self.tables[i];
            let mut spool = Spool::new(&self.store.spool_dir())?;
            let progress = table_progress(self.ctx, table);
            let columns: Vec<String> = self.header.tables[i].columns.iter().map(|c| c.name.clone()).collect();
            let mut sink = TableSink::new(&mut spool, self.args.compression_level, progress.clone());
            session.stream_table(table, &columns, &mut sink).await?;
            let stats = sink.finish().await?;
            progress.finish();
            self.done.borrow_mut()[i] = Some((spool, stats));
        }
    }
}

/// Where compressed members go: the snapshot itself, or a table's spool.
trait MemberOut {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error>;
}

impl MemberOut for SnapshotWriter {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error> {
        self.write_member(gz)
    }
}

/// One table's compressed members in an unnamed temp file of the snapshot directory
/// (gone with the process whatever happens), copied into the snapshot in order.
struct Spool {
    file: std::fs::File,
    dir: std::path::PathBuf,
}

impl Spool {
    fn new(dir: &std::path::Path) -> Result<Self, Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io("creating a spool file in", dir, e))?;
        Ok(Self { file, dir: dir.to_path_buf() })
    }

    fn copy_into(mut self, writer: &mut SnapshotWriter) -> Result<(), Error> {
        use std::io::{Read, Seek};
        let err = |e| Error::io("reading a spool file in", &self.dir, e);
        self.file.rewind().map_err(err)?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = self.file.read(&mut buf).map_err(|e| Error::io("reading a spool file in", &self.dir, e))?;
            if n == 0 {
                return Ok(());
            }
            writer.write_member(&buf[..n])?;
        }
    }
}

impl MemberOut for Spool {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error> {
        use std::io::Write;
        self.file.write_all(gz).map_err(|e| Error::io("writing a spool file in", &self.dir, e))
    }
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

/// Fails before writing a byte when the location (or, for parallel reads, the spool
/// directory) clearly cannot hold the snapshot. A bucket sets no such limit.
fn check_free_space(store: &Location, tables: &[&Table], session: &Session, parallel: bool) -> Result<(), Error> {
    let data = session.export_size_estimate(tables);
    let needed = data / ESTIMATE_DIVISOR;
    let spool = store.spool_dir();
    let mut checks = Vec::new();
    match store.free_space()? {
        // The spool sits in the same directory: both copies at once.
        Some(free) => checks.push((store.display(), if parallel { needed * 2 } else { needed }, free)),
        None if parallel => {
            let free = fs4::available_space(&spool).map_err(|e| Error::io("checking free space of", &spool, e))?;
            checks.push((spool, needed, free));
        }
        None => {}
    }
    for (path, needed, free) in checks {
        if needed > free {
            return Err(Error::DiskSpace {
                path,
                reason: format!(
                    "the snapshot needs about {} ({} of table data, compressed) but only {} is free; nothing was written",
                    human_bytes(needed),
                    human_bytes(data),
                    human_bytes(free)
                ),
            });
        }
    }
    Ok(())
}

/// Hashes rows as they arrive, cuts them into line-aligned chunks, compresses chunks
/// on the blocking pool (several at once) and writes the members in order.
struct TableSink<'w> {
    writer: &'w mut dyn MemberOut,
    chunker: LineChunker,
    hasher: RowHasher,
    pending: VecDeque<JoinHandle<Vec<u8>>>,
    level: u32,
    progress: Progress,
    rows_reported: u64,
}

impl<'w> TableSink<'w> {
    fn new(writer: &'w mut dyn MemberOut, level: u32, progress: Progress) -> Self {
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
            tokio::task::block_in_place(|| writer.put(&gz))?;
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
        self.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {table}"), reason })
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
