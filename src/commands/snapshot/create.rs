//! `seed snapshot create NAME`: every chosen table, read in one repeatable-read
//! transaction, streamed as COPY text through parallel gzip into a new key of the
//! snapshot location (an unnamed temp file, or a multipart upload), published
//! atomically only when complete.
//!
//! Versions: `--new-version` adds `NAME@N+1` (incremental to `NAME@N` unless `--full`),
//! `--force` replaces the latest version, `--base REF` makes any create incremental
//! (see `incremental`). The number is handed out under the name's number lock
//! (`versions::number_lock`: a `flock` in a directory, a lease object in a bucket), so
//! two creators never get one number: the second fails at once with the lock error (or
//! waits with `--wait`, then takes the next number). The number's key is published
//! without replacing (a link or a conditional write), so even a creator that lost its
//! lease cannot overwrite a version another one wrote.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::task::JoinHandle;

use super::catalog::{Version, chain_names, dependents, lock_names, resolve, resolve_chain, versions_of, want};
use super::incremental::{Incremental, Outcome, Stored};
use super::{AuditGuard, location, select_tables};
use crate::Context;
use crate::cli::CreateArgs;
use crate::db::retry::with_retry;
use crate::db::schema::Table;
use crate::db::select::Selection;
use crate::db::{self, ChunkSink, Session};
use crate::error::{Error, code};
use crate::output::{Level, Progress, human_bytes, human_count, plural};
use crate::snapshot::chain::{Chain, MAX_CHAIN_DEPTH};
use crate::snapshot::format::{
    self, BaseRef, ColumnEntry, CompressionInfo, DatabaseInfo, Header, LineChunker, RowHasher, TableEntry, TableStats,
};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::versions::{self, Ref};
use crate::snapshot::writer::SnapshotWriter;

/// Uncompressed bytes per gzip member: big enough for a good ratio, small enough to
/// keep both cores busy and memory flat.
const CHUNK: usize = 1 << 20;
/// Members being compressed at once (bounded memory: about 2 × DEPTH × CHUNK).
const DEPTH: usize = 4;
/// Heap pages compress about this well (and usually better) at level 1.
const ESTIMATE_DIVISOR: u64 = 4;

pub async fn run(args: CreateArgs, ctx: &Context) -> Result<u8, Error> {
    let r = Ref::parse(&args.name)?;
    if let Some(v) = r.version {
        return Err(Error::usage_hint(
            format!("create takes a snapshot name, not a version ('{}@{v}')", r.name),
            format!(
                "versions are numbered for you: `seed snapshot create {0} --new-version` adds the next one, \
                 `--force` replaces the latest",
                r.name
            ),
        ));
    }
    let store = location(ctx)?;
    store.prepare_write().await?;
    let mut audit = AuditGuard::new(
        ctx,
        &store,
        "snapshot create",
        Some(args.name.clone()),
        Some(ctx.settings.database_url.location().to_owned()),
    );
    let result = create(&args, ctx, &store).await;
    if let Ok(v) = &result
        && *v > 1
    {
        audit.set_name(Some(versions::label(&args.name, *v)));
    }
    audit.finish(&result).await;
    result.map(|_| code::OK)
}

/// What this create writes: which version, over what, on top of what.
struct Target {
    version: u64,
    /// Replaces that version (`--force`).
    replace: bool,
    /// The snapshot it is incremental to (name and version as stored), with its chain.
    base: Option<(String, u64, Arc<Chain>)>,
}

/// The base a create builds on: `--base REF`, else the latest version with
/// `--new-version` (unless `--full`), else none.
fn base_ref(args: &CreateArgs, latest: Option<u64>) -> Result<Option<Ref>, Error> {
    match &args.base {
        Some(text) => Ok(Some(Ref::parse(text)?)),
        None if args.new_version && !args.full => Ok(latest.map(|v| Ref::exact(&args.name, v))),
        None => Ok(None),
    }
}

/// Locks, picks the version number, resolves the base; returns the version created.
async fn create(args: &CreateArgs, ctx: &Context, store: &Location) -> Result<u64, Error> {
    let command = format!("seed snapshot create {}", args.name);
    // The number lock first, alone: it decides between concurrent creators of the
    // name. Then the name itself (exclusive only to replace a version) and the names
    // the base's chain goes through, shared, all in name order.
    let number = BTreeMap::from([(versions::number_lock(&args.name), Mode::Exclusive)]);
    let _number = lock_names(ctx, store, &number, args.lock.wait, &command).await?;
    let mut names = BTreeMap::from([(args.name.clone(), if args.force { Mode::Exclusive } else { Mode::Shared })]);
    let (target, _locks) = loop {
        let locks = lock_names(ctx, store, &names, args.lock.wait, &command).await?;
        let existing = versions_of(store, &args.name).await?;
        let latest = existing.last().map(|v| v.version);
        let target = target_version(args, store, &existing).await?;
        let base = match base_ref(args, latest)? {
            None => None,
            Some(r) => {
                let v = resolve(store, &r).await?;
                if v.name == args.name && v.version == target.0 {
                    return Err(Error::usage(format!("{} cannot be built on itself", v.label())));
                }
                Some(v)
            }
        };
        let mut need = names.clone();
        if let Some(b) = &base {
            want(&mut need, &b.name, Mode::Shared);
            for n in chain_names(store, b).await {
                want(&mut need, &n, Mode::Shared);
            }
        }
        if need.iter().any(|(n, m)| !locks.covers(n, *m)) {
            drop(locks);
            names = need;
            continue;
        }
        let base = match base {
            None => None,
            Some(b) => base_chain(ctx, store, &b).await?.map(|chain| (b.name.clone(), b.version, chain)),
        };
        break (Target { version: target.0, replace: target.1, base }, locks);
    };
    db::check_direct_url(&ctx.settings, &ctx.printer).await?;
    let started = Instant::now();
    let (header, stored) =
        with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| attempt(args, ctx, store, &target))
            .await?;
    report(args, ctx, store, &header, &stored, started).await;
    Ok(target.version)
}

/// Writes snapshot `args.name` as version 1, in full (retried as a whole on transient
/// failures); prints no summary. The caller holds the name's exclusive lock and has
/// checked the direct URL (`seed prepare` reuses this).
pub async fn take(args: &CreateArgs, ctx: &Context, store: &Location) -> Result<Header, Error> {
    let target = Target { version: 1, replace: args.force, base: None };
    let (header, _) =
        with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| attempt(args, ctx, store, &target))
            .await?;
    Ok(header)
}

/// (version, replaces it) for this create, or why not.
async fn target_version(args: &CreateArgs, store: &Location, existing: &[Version]) -> Result<(u64, bool), Error> {
    let Some(latest) = existing.last() else { return Ok((1, false)) };
    if args.new_version {
        if latest.version >= versions::MAX_VERSION {
            return Err(Error::usage(format!("'{}' has reached the last version number", args.name)));
        }
        return Ok((latest.version + 1, false));
    }
    if !args.force {
        return Err(Error::SnapshotExists { name: args.name.clone(), dir: store.display() });
    }
    // --force replaces the latest version, unless something is built on it.
    let built_on: Vec<String> =
        dependents(store, &latest.name, latest.version).await?.iter().map(Version::label).collect();
    if !built_on.is_empty() {
        return Err(Error::HasDependents {
            action: "cannot replace".into(),
            target: latest.label(),
            dependents: built_on,
            hint: "take a new version instead (--new-version), or delete the snapshots built on it first".into(),
        });
    }
    Ok((latest.version, true))
}

/// The base's chain, checked; `None` (a full snapshot, said so) when the chain is
/// already as long as seed builds on.
async fn base_chain(ctx: &Context, store: &Location, base: &Version) -> Result<Option<Arc<Chain>>, Error> {
    let chain = resolve_chain(store, base.link(store).await?).await?;
    if chain.links().len() >= MAX_CHAIN_DEPTH {
        ctx.printer.info(format!(
            "{} already sits on a chain of {} snapshots (the most seed builds on is {MAX_CHAIN_DEPTH}): taking a full snapshot",
            base.label(),
            chain.links().len()
        ));
        return Ok(None);
    }
    Ok(Some(Arc::new(chain)))
}

async fn report(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    header: &Header,
    stored: &[Stored],
    started: Instant,
) {
    let key = versions::key(&args.name, header.version);
    let path = store.display_key(&key);
    let label = if header.version == 1 { args.name.clone() } else { versions::label(&args.name, header.version) };
    let size = store.head(&key).await.ok().flatten().map_or(0, |i| i.size);
    let rows: u64 = header.tables.iter().map(|t| t.rows).sum();
    let raw: u64 = header.tables.iter().map(|t| t.raw_bytes).sum();
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let ratio = if size > 0 { raw as f64 / size as f64 } else { 0.0 };
    let count = |f: fn(&Stored) -> bool| stored.iter().filter(|s| f(s)).count();
    let (full, same, delta) =
        (count(|s| *s == Stored::Full), count(|s| *s == Stored::Base), count(|s| matches!(s, Stored::Delta { .. })));
    let base = header.base.as_ref().map(|b| versions::label(&b.name, b.version));
    let summary = json!({ "name": args.name, "version": header.version, "path": path.display().to_string(), "tables": header.tables.len(),
                "rows": rows, "raw_bytes": raw, "file_bytes": size, "compression_ratio": (ratio * 100.0).round() / 100.0,
                "seconds": (secs * 1000.0).round() / 1000.0, "base": base,
                "storage": { "full": full, "base": same, "delta": delta } });
    ctx.printer.document("snapshot create", summary.clone());
    ctx.printer.event(Level::Info, "snapshot_created", summary, || {
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        let incremental = base.as_ref().map_or_else(String::new, |b| {
            let (ups, dels) = stored.iter().fold((0, 0), |(u, d), s| match s {
                Stored::Delta { upserts, deletes } => (u + upserts, d + deletes),
                _ => (u, d),
            });
            format!(
                "\n  incremental to {b}: {same} unchanged, {delta} stored as changes ({}, {}), {full} in full",
                plural(ups, "row added or changed", "rows added or changed"),
                plural(dels, "row removed", "rows removed")
            )
        });
        // No rows: the file is its header; a ratio of nothing says nothing.
        let data = if raw == 0 {
            format!("no data ({} file: the header)", human_bytes(size))
        } else {
            format!("{} of data in {} ({ratio:.1}x)", human_bytes(raw), human_bytes(size))
        };
        format!(
            "snapshot '{label}' created: {}, {}, {data}, {secs:.2}s ({} rows/s){incremental}\n  {}",
            plural(header.tables.len() as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_count(rate),
            path.display()
        )
    });
}

async fn attempt(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    target: &Target,
) -> Result<(Header, Vec<Stored>), Error> {
    let mut session = db::connect_with(
        &ctx.settings,
        &ctx.settings.database_url,
        &ctx.printer,
        "seed snapshot create",
        db::Access::ReadWrite,
        args.lock.wait,
    )
    .await?;
    let result = write_snapshot(args, ctx, store, target, &mut session).await;
    session.close().await;
    result
}

async fn write_snapshot(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    target: &Target,
    session: &mut Session,
) -> Result<(Header, Vec<Stored>), Error> {
    // One read-only transaction: every table as of the same moment.
    session.begin_read().await?;
    let schema = session.introspect().await?;
    let version = session.schema_version(&schema).await?;
    let selection = Selection {
        include: args.tables.clone(),
        exclude: args.exclude.clone(),
        schemas: args.schemas.clone(),
        strict_names: args.strict_names,
    };
    let tables = select_tables(&schema, &selection, ctx)?;
    let settings = session.session_settings().await?;
    let kind = session.kind().label();
    // An incremental snapshot reads unchanged rows from its base as they were written
    // there: only under the same database kind and session settings.
    let base = target.base.as_ref().filter(|(_, _, chain)| {
        let b = chain.header();
        let fits = b.database.kind == kind && b.settings == settings;
        if !fits {
            ctx.printer.info(format!(
                "{} was taken from another kind of database or under other session settings: taking a full snapshot",
                chain.top().label
            ));
        }
        fits
    });
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
        version: target.version,
        description: args.description.clone(),
        created_at: format::now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        database: DatabaseInfo {
            kind: kind.into(),
            server_version: session.info.version.clone(),
            location: session.url.location().to_owned(),
        },
        schema_version: version,
        schema_fingerprint: schema.fingerprint(),
        tables_fingerprint: None, // the writer computes it
        settings,
        compression: CompressionInfo { algorithm: format::COMPRESSION_GZIP.into(), level: args.compression_level },
        base: base.map(|(name, version, chain)| BaseRef {
            name: name.clone(),
            version: *version,
            content_checksum: format::content_checksum(chain.header()),
        }),
        tables: tables.iter().map(|t| table_entry(t)).collect(),
        header_checksum: None, // the writer computes it
    };
    let mut header = header;
    for (entry, table) in header.tables.iter_mut().zip(&tables) {
        entry.sequences = session.sequence_states(table).await?;
    }
    let stage = store.stage(&versions::key(&args.name, target.version)).await?;
    let mut writer = tokio::task::block_in_place(|| SnapshotWriter::create(stage, header.clone()))?;
    let mut stored = vec![Stored::Full; tables.len()];
    match (shared, base.map(|(_, _, chain)| chain)) {
        (shared, Some(chain)) => {
            let inc = Incremental {
                ctx,
                base: chain,
                level: args.compression_level,
                dir: &store.spool_dir(),
                tables: &tables,
                entries: &header.tables,
            };
            let outcomes = inc.read_all(session, shared.as_deref(), jobs).await?;
            for (i, outcome) in outcomes.into_iter().enumerate() {
                stored[i] =
                    write_outcome(ctx, session, &mut writer, i, tables[i], args.compression_level, outcome).await?;
            }
        }
        (Some(snapshot), None) => {
            let spooled = read_in_parallel(args, ctx, store, session, &tables, &header, &snapshot, jobs).await?;
            for (i, (spool, stats)) in spooled.into_iter().enumerate() {
                writer.begin_table(i)?;
                tokio::task::block_in_place(|| spool.copy_into(&mut writer))?;
                writer.end_table(stats)?;
            }
        }
        (None, None) => {
            for (i, table) in tables.iter().enumerate() {
                let columns: Vec<String> = header.tables[i].columns.iter().map(|c| c.name.clone()).collect();
                write_full(ctx, session, &mut writer, i, table, &columns, args.compression_level).await?;
            }
        }
    }
    session.commit("ending the read transaction").await?;
    let header = tokio::task::block_in_place(|| writer.finish(target.replace))?;
    Ok((header, stored))
}

/// Writes table `i` as an incremental read found it; a table to be read again is read
/// (in full, on the leader: its transaction still sees the same rows) and written in full.
async fn write_outcome(
    ctx: &Context,
    session: &mut Session,
    writer: &mut SnapshotWriter,
    i: usize,
    table: &Table,
    level: u32,
    outcome: Outcome,
) -> Result<Stored, Error> {
    match outcome {
        Outcome::Full(spool, stats) => {
            writer.begin_table_as(i, format::Storage::Full)?;
            tokio::task::block_in_place(|| spool.copy_into(writer))?;
            writer.end_table(stats)?;
            Ok(Stored::Full)
        }
        Outcome::Base(live) => {
            writer.begin_table_as(i, format::Storage::Base)?;
            writer.end_reconstructed_table(live.rows, &live.checksum)?;
            Ok(Stored::Base)
        }
        Outcome::Delta { upserts, deletes, live } => {
            let stored = Stored::Delta { upserts: upserts.1.rows, deletes: deletes.1.rows };
            writer.begin_table_as(i, format::Storage::Delta)?;
            for (part, (spool, stats)) in [(format::DeltaPart::Upserts, upserts), (format::DeltaPart::Deletes, deletes)]
            {
                writer.begin_part(part)?;
                tokio::task::block_in_place(|| spool.copy_into(writer))?;
                writer.end_part(stats)?;
            }
            writer.end_reconstructed_table(live.rows, &live.checksum)?;
            Ok(stored)
        }
        Outcome::Again { live, why } => {
            ctx.printer.debug(format!("{}: stored in full ({why})", table.name));
            let columns: Vec<String> = writer.header().tables[i].columns.iter().map(|c| c.name.clone()).collect();
            let stats = write_full(ctx, session, writer, i, table, &columns, level).await?;
            if stats != live {
                return Err(Error::Internal(format!("{} read differently twice in one transaction", table.name)));
            }
            Ok(Stored::Full)
        }
    }
}

/// Streams table `i` into the snapshot, stored in full.
async fn write_full(
    ctx: &Context,
    session: &mut Session,
    writer: &mut SnapshotWriter,
    i: usize,
    table: &Table,
    columns: &[String],
    level: u32,
) -> Result<TableStats, Error> {
    writer.begin_table_as(i, format::Storage::Full)?;
    let progress = table_progress(ctx, table);
    let mut sink = TableSink::new(writer, level, progress.clone());
    session.stream_table(table, columns, &mut sink).await?;
    let stats = sink.finish().await?;
    writer.end_table(stats.clone())?;
    progress.finish();
    Ok(stats)
}

pub(super) fn table_progress(ctx: &Context, table: &Table) -> Progress {
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
    on_connections(ctx, leader, tables, Some(snapshot), jobs, async |session: &mut Session, i: usize| {
        let table = tables[i];
        let mut spool = Spool::new(&store.spool_dir())?;
        let progress = table_progress(ctx, table);
        let columns: Vec<String> = header.tables[i].columns.iter().map(|c| c.name.clone()).collect();
        let mut sink = TableSink::new(&mut spool, args.compression_level, progress.clone());
        session.stream_table(table, &columns, &mut sink).await?;
        let stats = sink.finish().await?;
        progress.finish();
        Ok((spool, stats))
    })
    .await
}

/// Runs `each(session, index)` for every table: on the leader alone, or with `snapshot`
/// (exported by the leader) also on `jobs - 1` helper connections that join it, so
/// every table is still read as of one moment. Tables go biggest first to whichever
/// connection is free. Returns the results in table order.
pub(super) async fn on_connections<T>(
    ctx: &Context,
    leader: &mut Session,
    tables: &[&Table],
    snapshot: Option<&str>,
    jobs: usize,
    each: impl AsyncFn(&mut Session, usize) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut helpers = join_snapshot(ctx, snapshot, jobs).await?;
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tables[i].estimated_bytes.max(tables[i].row_estimate)));
    let queue = RefCell::new(VecDeque::from(order));
    let done: RefCell<Vec<Option<T>>> = RefCell::new((0..tables.len()).map(|_| None).collect());
    let drain = async |session: &mut Session| -> Result<(), Error> {
        loop {
            let Some(i) = queue.borrow_mut().pop_front() else { return Ok(()) };
            let result = each(session, i).await?;
            done.borrow_mut()[i] = Some(result);
        }
    };
    let mut all: Vec<&mut Session> = vec![leader];
    all.extend(helpers.iter_mut());
    let result = futures_util::future::try_join_all(all.into_iter().map(drain)).await;
    close_helpers(helpers, result.is_ok()).await?;
    result?;
    done.into_inner().into_iter().map(|d| d.ok_or_else(|| Error::Internal("a table was not read".into()))).collect()
}

/// `jobs - 1` more connections reading as of the leader's exported `snapshot` (none
/// without one).
pub(super) async fn join_snapshot(ctx: &Context, snapshot: Option<&str>, jobs: usize) -> Result<Vec<Session>, Error> {
    let mut helpers = Vec::new();
    if let Some(snapshot) = snapshot {
        for _ in 1..jobs {
            let mut s =
                db::connect(&ctx.settings, &ctx.settings.database_url, &ctx.printer, "seed snapshot create").await?;
            s.begin_read_at(snapshot).await?;
            helpers.push(s);
        }
    }
    Ok(helpers)
}

/// Ends the helpers' read transactions (committed when all went well) and closes them.
pub(super) async fn close_helpers(helpers: Vec<Session>, ok: bool) -> Result<(), Error> {
    for mut s in helpers {
        if ok {
            s.commit("ending a read transaction").await?;
        }
        s.close().await;
    }
    Ok(())
}

/// Where compressed members go: the snapshot itself, or a table's spool.
pub(super) trait MemberOut {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error>;
}

impl MemberOut for SnapshotWriter {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error> {
        self.write_member(gz)
    }
}

/// One table's compressed members in an unnamed temp file of the snapshot directory
/// (gone with the process whatever happens), copied into the snapshot in order.
pub(super) struct Spool {
    file: std::fs::File,
    dir: std::path::PathBuf,
}

impl Spool {
    pub(super) fn new(dir: &std::path::Path) -> Result<Self, Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io("creating a spool file in", dir, e))?;
        Ok(Self { file, dir: dir.to_path_buf() })
    }

    pub(super) fn copy_into(mut self, writer: &mut SnapshotWriter) -> Result<(), Error> {
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
pub(super) struct TableSink<'w> {
    out: Out<'w>,
    chunker: LineChunker,
    hasher: RowHasher,
    pending: VecDeque<JoinHandle<Vec<u8>>>,
    level: u32,
    /// The table, for messages.
    label: String,
    progress: Option<Progress>,
    rows_reported: u64,
}

/// A sink's destination: borrowed (the snapshot, a parallel read's spool) or a spool
/// of its own, handed back by `finish_spool`.
enum Out<'w> {
    Borrowed(&'w mut dyn MemberOut),
    Owned(Spool),
}

impl<'w> TableSink<'w> {
    pub(super) fn new(writer: &'w mut dyn MemberOut, level: u32, progress: Progress) -> Self {
        let label = progress.label().to_owned();
        Self::with(Out::Borrowed(writer), level, label, Some(progress))
    }

    fn with(out: Out<'w>, level: u32, label: String, progress: Option<Progress>) -> Self {
        Self {
            out,
            chunker: LineChunker::new(CHUNK),
            hasher: RowHasher::new(),
            pending: VecDeque::new(),
            level,
            label,
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
            let out: &mut dyn MemberOut = match &mut self.out {
                Out::Borrowed(w) => &mut **w,
                Out::Owned(spool) => spool,
            };
            tokio::task::block_in_place(|| out.put(&gz))?;
        }
        Ok(())
    }

    /// Flushes the last chunk and every pending member; the table's figures.
    pub(super) async fn finish(mut self) -> Result<TableStats, Error> {
        self.flush_all().await?;
        let table = self.label;
        self.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {table}"), reason })
    }

    async fn flush_all(&mut self) -> Result<(), Error> {
        if let Some(rest) = std::mem::replace(&mut self.chunker, LineChunker::new(CHUNK)).finish() {
            self.compress(rest).await?;
        }
        while !self.pending.is_empty() {
            self.write_oldest().await?;
        }
        Ok(())
    }
}

impl TableSink<'static> {
    /// A sink into a spool of its own (no progress shown).
    pub(super) fn spooled(spool: Spool, level: u32, label: String) -> Self {
        Self::with(Out::Owned(spool), level, label, None)
    }

    /// Shows the rows pushed on `progress`.
    pub(super) fn show(&mut self, progress: Progress) {
        self.progress = Some(progress);
    }

    /// [`TableSink::finish`], handing the spool back.
    pub(super) async fn finish_spool(mut self) -> Result<(Spool, TableStats), Error> {
        self.flush_all().await?;
        let Out::Owned(spool) = self.out else { return Err(Error::Internal("not a spooled sink".into())) };
        let table = self.label;
        let stats = self.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {table}"), reason })?;
        Ok((spool, stats))
    }
}

impl ChunkSink for TableSink<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        let rows = self.hasher.rows();
        if let Some(p) = &self.progress {
            p.inc(rows - self.rows_reported);
        }
        self.rows_reported = rows;
        for chunk in self.chunker.push(bytes) {
            self.compress(chunk).await?;
        }
        Ok(())
    }
}
