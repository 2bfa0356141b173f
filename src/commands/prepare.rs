//! `seed prepare NAME [bulk options]`: the CI setup step in one line.
//!
//! A cache key is computed from everything that decides the seeded data: the live
//! schema (as seed reads it: tables, columns, types, keys, checks, enum labels), the
//! migration version, the bulk options that shape rows (counts, `--table`, seed), the
//! factories file's content, the snapshot format and seed's own version. The snapshot
//! saved for that key is `NAME.<short key>`. When it is there and was saved by
//! `prepare` for this key, it is restored (`restore --clean`: one transaction); when
//! not, bulk runs (`--truncate`: its tables are emptied in the same transaction) and
//! the result is saved under that name for the next run.
//!
//! Concurrency rests on the snapshot name's lock: a builder holds it exclusively from
//! before it seeds until the snapshot is saved. A second runner finding it held either
//! waits for the builder (`--wait`) and restores what it saved, or seeds on its own
//! without saving. An unreadable snapshot (corrupt, or a format this seed cannot read)
//! is a miss: seeded and replaced, never an error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::PrepareArgs;
use crate::commands::audit::AuditGuard;
use crate::commands::bulk::{self, Options};
use crate::commands::snapshot::{create, restore, subset};
use crate::commands::template;
use crate::context::Context;
use crate::db::retry::with_retry;
use crate::db::schema::{Schema, SchemaVersion, Table};
use crate::db::select::Selection;
use crate::db::{self, Access, WriteIntent};
use crate::error::{Error, code};
use crate::factory::plan::BulkRequest;
use crate::output::{Level, human_count, plural};
use crate::snapshot::catalog::report_unlocked;
use crate::snapshot::chain::{Chain, Link};
use crate::snapshot::create::{MaskChoice, Request as CreateRequest};
use crate::snapshot::format::{FORMAT_VERSION, Header};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::names::validate_name;
use crate::snapshot::reader::read_header_stored_as;
use crate::snapshot::reference::SnapshotRef;
use crate::snapshot::source::Source;
use crate::snapshot::versions;

/// Hex digits of the key in the snapshot's name: 48 bits. A collision would also need
/// the same NAME, and is caught anyway: the full key is checked in the header.
const SHORT_KEY: usize = 12;
/// Longest NAME: `NAME.<short key>` must stay a valid snapshot name (100 characters).
const MAX_PREPARE_NAME: usize = 100 - 1 - SHORT_KEY;
/// Compression of saved snapshots: `snapshot create`'s default.
const COMPRESSION_LEVEL: u32 = 2;
/// Times the snapshot is looked at again after it changed under us (another runner
/// saved or replaced it) before seeding without saving.
const MAX_ROUNDS: usize = 4;
/// Bumped when the key's composition changes, so old and new keys never meet.
const KEY_VERSION: u32 = 1;

pub async fn run(args: PrepareArgs, ctx: &Context) -> Result<u8, Error> {
    execute(&args, ctx, true).await?;
    Ok(code::OK)
}

/// Prepares the database (and keeps the template with `--template`); returns the key.
/// Without `report` nothing is printed but warnings (a template's rebuild by `seed clone`).
pub async fn execute(args: &PrepareArgs, ctx: &Context, report: bool) -> Result<String, Error> {
    check_name(&args.name)?;
    // prepare always empties the tables it fills (bulk's `--truncate`), never dry-runs.
    let (req, opts) = bulk::request_from(&args.seeding, true, false)?;
    // A slice of what bulk writes is saved (and left in the database) instead of all of it.
    let rules = subset::rules(&args.subset, Some(req.seed), req.factories.as_ref(), &ctx.settings.references)?;
    let url = ctx.settings.write_url();
    if !url.is_local() && !args.seeding.allow_remote {
        return Err(Error::usage_hint(
            format!("refusing to prepare {url}, which is not on this machine: prepare empties the tables it fills"),
            "pass --allow-remote (or SEED_ALLOW_REMOTE=1) if you really mean to empty tables there",
        ));
    }
    if args.template {
        // Before any write: a name that cannot make a template is refused up front.
        crate::db::template::Names::new(&url.database_stem(), &args.name)?;
    }
    let store = ctx.location()?;
    store.check()?;
    if report {
        ctx.settings.announce_target(&ctx.printer);
    }
    ctx.settings.check_direct_url(&ctx.printer).await?;
    let started = Instant::now();
    let live = read_live(ctx, args.seeding.wait).await?;
    let key = Key::new(&live, &req, &opts.selection, rules.as_ref());
    let name = format!("{}.{}", args.name, key.short());
    let job = Job { ctx, args, store: &store, name, key, req: &req, opts: &opts, subset: rules };
    let done = job.prepare().await?;
    let kept = if args.template {
        Some(template::keep(ctx, &args.name, record_args(args), &job.key.full, args.seeding.wait).await?)
    } else {
        None
    };
    if report {
        job.report(&done, started.elapsed(), kept.as_ref());
    }
    Ok(job.key.full)
}

/// The options that decide the prepared state, as arguments: kept in a template's
/// record so `seed clone` can prepare it again (paths made absolute).
fn record_args(args: &PrepareArgs) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |flag: &str, value: String| {
        out.push(flag.to_owned());
        out.push(value);
    };
    if let Some(n) = args.seeding.count {
        push("--count", n.to_string());
    }
    for t in &args.seeding.tables {
        push("--table", t.clone());
    }
    for p in &args.seeding.exclude {
        push("--exclude", p.clone());
    }
    for p in &args.seeding.schemas {
        push("--schema", p.clone());
    }
    if let Some(f) = &args.seeding.factories {
        push("--factories", std::path::absolute(f).unwrap_or_else(|_| f.clone()).display().to_string());
    }
    if let Some(n) = args.seeding.batch_size {
        push("--batch-size", n.to_string());
    }
    if let Some(n) = args.seeding.seed {
        push("--seed", n.to_string());
    }
    for s in &args.subset.subset {
        push("--subset", s.clone());
    }
    if let Some(n) = args.subset.children_per_parent {
        push("--children-per-parent", n.to_string());
    }
    if let Some(u) = args.subset.unrelated {
        push("--unrelated", if u == crate::cli::UnrelatedArg::Keep { "keep" } else { "empty" }.into());
    }
    for (on, flag) in [
        (args.seeding.strict_names, "--strict-names"),
        (args.seeding.cascade, "--cascade"),
        (args.seeding.allow_remote, "--allow-remote"),
        (args.subset.no_children, "--no-children"),
    ] {
        if on {
            out.push(flag.to_owned());
        }
    }
    out
}

/// `seed prepare NAME ARGS` as a template's record keeps it (see `record_args`).
pub fn args_from_record(name: &str, args: &[String], wait: bool) -> Result<PrepareArgs, Error> {
    let argv = ["seed", "prepare", name].into_iter().map(str::to_owned).chain(args.iter().cloned());
    match <crate::cli::Cli as clap::Parser>::try_parse_from(argv) {
        Ok(crate::cli::Cli { command: crate::cli::Command::Prepare(mut parsed), .. }) => {
            parsed.seeding.wait = wait;
            Ok(parsed)
        }
        Ok(_) => Err(Error::Internal("a template's record did not parse as prepare options".into())),
        Err(e) => Err(Error::usage_hint(
            format!("the template's record holds options this seed does not take: {}", e.kind()),
            "keep the template again: `seed prepare NAME --template [options]`",
        )),
    }
}

/// `NAME` must leave room for `.<short key>` within the snapshot-name rules.
fn check_name(name: &str) -> Result<(), Error> {
    validate_name(name)?;
    if name.chars().count() > MAX_PREPARE_NAME {
        return Err(Error::usage_hint(
            format!("the prepare name '{name}' is longer than {MAX_PREPARE_NAME} characters"),
            format!("its snapshots are named NAME.<{SHORT_KEY}-digit key>, and a snapshot name has at most 100"),
        ));
    }
    Ok(())
}

/// What the key is computed from in the live database.
struct Live {
    kind: &'static str,
    schema: Schema,
    version: Option<SchemaVersion>,
}

/// Reads the schema and migration version in one read transaction. On the embedded
/// default an empty seed.db gets the demo schema first (as bulk and restore would), so
/// the key is that of the schema they will see.
async fn read_live(ctx: &Context, wait: bool) -> Result<Live, Error> {
    with_retry(&ctx.settings.retry, &ctx.printer, "reading the schema", |_| async move {
        let url = if ctx.settings.embedded_default { ctx.settings.write_url() } else { &ctx.settings.database_url };
        let mut session = db::connect_with(
            &ctx.settings.connect_options(),
            url,
            &ctx.printer,
            "seed prepare",
            Access::ReadWrite,
            wait,
        )
        .await?;
        let result = async {
            if ctx.settings.embedded_default {
                let intent = WriteIntent { command: "prepare".into(), retry: false, wait, empties: false };
                session.begin_write(&intent).await?;
                if session.apply_demo_schema_if_empty().await? {
                    ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql)");
                }
                session.commit("applying the demo schema").await?;
            }
            session.begin_read().await?;
            let schema = session.introspect().await?;
            let version = session.schema_version(&schema).await?;
            session.commit("ending the read transaction").await?;
            Ok(Live { kind: session.kind().label(), schema, version })
        }
        .await;
        if result.is_err() {
            session.rollback().await;
        }
        session.close().await;
        result
    })
    .await
}

/// The cache key: 128 bits of xxh3 over a canonical JSON document of everything that
/// decides the data. `--batch-size` is left out: every row is a function of (seed,
/// table, row index), whatever the batches.
struct Key {
    full: String,
}

impl Key {
    fn new(live: &Live, req: &BulkRequest, selection: &Selection, subset: Option<&crate::subset::Rules>) -> Self {
        let mut doc = json!({
            "key_version": KEY_VERSION,
            "seed_version": env!("CARGO_PKG_VERSION"),
            "format_version": FORMAT_VERSION,
            "database": live.kind,
            "schema": canonical_schema(&live.schema),
            "schema_version": live.version,
            "count": req.default_count,
            "tables": req.table_counts,
            "exclude": selection.exclude,
            "schemas": selection.schemas,
            "seed": req.seed,
            "factories": req.factories.as_ref().map(crate::factory::factories_file::Factories::text),
            "like": req.like.as_ref().map(crate::factory::factories_file::Factories::text),
        });
        // Only when there is one, so the keys of whole snapshots stay as they were.
        if let (Some(rules), Value::Object(map)) = (subset, &mut doc) {
            map.insert("subset".into(), json!(crate::snapshot::create::subset_info(rules)));
        }
        // Keys sorted at every level (maps keep insertion order otherwise), so the text
        // is canonical and the same as when serde_json's maps were always sorted.
        doc.sort_all_objects();
        Self { full: format!("{:032x}", xxhash_rust::xxh3::xxh3_128(doc.to_string().as_bytes())) }
    }

    fn short(&self) -> &str {
        &self.full[..SHORT_KEY]
    }

    /// The marker in the description of a snapshot `prepare` saved for this key.
    fn marker(&self) -> String {
        format!("(key {})", self.full)
    }
}

/// The schema with what varies between two databases of the same schema taken out
/// (size estimates) and lists whose order the catalogs do not promise sorted. Column
/// order stays: it decides the rows.
fn canonical_schema(schema: &Schema) -> Value {
    let sorted = |v: Value| -> Value {
        match v {
            Value::Array(mut items) => {
                items.sort_by_cached_key(Value::to_string);
                Value::Array(items)
            }
            other => other,
        }
    };
    let mut tables: Vec<Table> = schema.tables.clone();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let tables: Vec<Value> = tables
        .into_iter()
        .map(|mut t| {
            t.row_estimate = 0;
            t.estimated_bytes = 0;
            let mut v = serde_json::to_value(&t).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut v {
                for field in ["uniques", "foreign_keys", "checks", "partitions", "key_rules"] {
                    if let Some(list) = map.remove(field) {
                        map.insert(field.into(), sorted(list));
                    }
                }
                if let Some(Value::Array(columns)) = map.get_mut("columns") {
                    for c in columns.iter_mut().filter_map(Value::as_object_mut) {
                        if let Some(checks) = c.remove("checks") {
                            c.insert("checks".into(), sorted(checks));
                        }
                    }
                }
            }
            v
        })
        .collect();
    Value::Array(tables)
}

/// What is under the snapshot's name.
enum Found {
    /// Saved by prepare for this key, and readable (its bytes pinned as read).
    Hit(Box<(Header, Arc<dyn Source>)>),
    Absent,
    /// Corrupt, or a format this seed cannot read: replaced by the next save.
    Unreadable(String),
    /// A readable snapshot prepare did not save for this key: left alone.
    Foreign(String),
}

/// Why the snapshot was not restored.
#[derive(Clone)]
enum Miss {
    Absent,
    Unreadable(String),
    Foreign,
}

impl Miss {
    fn label(&self) -> &'static str {
        match self {
            Miss::Absent => "absent",
            Miss::Unreadable(_) => "unreadable",
            Miss::Foreign => "not_saved_by_prepare",
        }
    }
}

enum Done {
    Restored {
        tables: usize,
        rows: u64,
    },
    Seeded {
        tables: usize,
        rows: u64,
        miss: Miss,
        /// Where it was saved, or why not.
        saved: Result<PathBuf, String>,
    },
}

/// What one look at the snapshot led to.
enum Step {
    Done(Done),
    /// Its data failed verification while restoring (rolled back).
    Corrupt(String),
    /// It changed between the first look and the lock.
    Changed,
    /// Another process holds its lock (named when it says so).
    Busy(Option<String>),
}

/// One prepare run, once the key is known.
struct Job<'a> {
    ctx: &'a Context,
    args: &'a PrepareArgs,
    store: &'a Location,
    /// `NAME.<short key>`
    name: String,
    key: Key,
    req: &'a BulkRequest,
    /// Bulk's options: `--truncate` always, `--wait`, the table selection.
    opts: &'a Options,
    /// The slice saved instead of everything bulk wrote.
    subset: Option<crate::subset::Rules>,
}

impl Job<'_> {
    fn command(&self) -> String {
        format!("seed prepare {}", self.args.name)
    }

    async fn look(&self) -> Found {
        let src = match self.store.open_key(&versions::key(&self.name, 1)).await {
            Ok(Some(src)) => src,
            Ok(None) => return Found::Absent,
            Err(e) => return Found::Unreadable(e.to_string()),
        };
        match tokio::task::block_in_place(|| read_header_stored_as(src.as_ref(), &self.name, 1)) {
            Err(e) => Found::Unreadable(e.to_string()),
            Ok(header) => {
                let ours = header.name == self.name
                    && header.base.is_none()
                    && header.description.as_deref().is_some_and(|d| d.contains(&self.key.marker()));
                if ours {
                    Found::Hit(Box::new((header, src)))
                } else {
                    Found::Foreign(format!(
                        "snapshot {} was not saved by `seed prepare` for this key; it is left as it is",
                        self.name
                    ))
                }
            }
        }
    }

    /// Restore when a snapshot for the key is there, else seed (and save when we may).
    async fn prepare(&self) -> Result<Done, Error> {
        // Set when a snapshot's data failed verification during a restore: it is
        // replaced like an unreadable one.
        let mut distrusted: Option<String> = None;
        for _ in 0..MAX_ROUNDS {
            let found = match (self.look().await, &distrusted) {
                (Found::Hit(_), Some(reason)) => Found::Unreadable(reason.clone()),
                (found, _) => found,
            };
            let step = match found {
                Found::Foreign(why) => return self.seed_without_saving(Miss::Foreign, why).await,
                Found::Hit(_) => self.restore_shared().await?,
                Found::Absent => self.build_exclusive(Miss::Absent, distrusted.is_some()).await?,
                Found::Unreadable(reason) => {
                    self.build_exclusive(Miss::Unreadable(reason), distrusted.is_some()).await?
                }
            };
            let holder = match step {
                Step::Done(done) => return Ok(done),
                Step::Corrupt(reason) => {
                    distrusted = Some(reason);
                    continue;
                }
                Step::Changed => continue,
                Step::Busy(holder) => holder.unwrap_or_else(|| "another seed process".into()),
            };
            if !self.args.seeding.wait {
                let why = format!("{holder} is saving snapshot {} (pass --wait to restore it instead)", self.name);
                return self.seed_without_saving(Miss::Absent, why).await;
            }
            self.ctx.printer.info(format!("waiting for {holder} to finish saving snapshot {}", self.name));
            // Granted once the writer is done; then look again.
            drop(self.store.lock(&self.name, Mode::Shared, true, &self.command()).await?);
        }
        self.seed_without_saving(Miss::Absent, format!("snapshot {} kept changing while we looked", self.name)).await
    }

    /// A hit: restore it under the shared lock.
    async fn restore_shared(&self) -> Result<Step, Error> {
        let guard = match self.store.lock(&self.name, Mode::Shared, false, &self.command()).await {
            Ok(guard) => guard,
            Err(Error::LockHeld { holder, .. }) => return Ok(Step::Busy(holder)),
            Err(e) => return Err(e),
        };
        report_unlocked(&self.ctx.printer, &guard);
        // It may have been replaced or removed before we had the lock.
        let Found::Hit(hit) = self.look().await else { return Ok(Step::Changed) };
        self.restore_or_distrust(*hit).await
    }

    /// A miss: take the exclusive lock, then restore what another runner saved
    /// meanwhile, or seed and save. A lock that cannot be taken (a directory we may
    /// not write) still seeds.
    async fn build_exclusive(&self, miss: Miss, distrusted: bool) -> Result<Step, Error> {
        let guard = match self.store.lock(&self.name, Mode::Exclusive, false, &self.command()).await {
            Ok(guard) => guard,
            Err(Error::LockHeld { holder, .. }) => return Ok(Step::Busy(holder)),
            Err(e) => {
                let why = format!("cannot take the snapshot's lock: {e}");
                return self.seed_without_saving(miss, why).await.map(Step::Done);
            }
        };
        if !distrusted && let Found::Hit(hit) = self.look().await {
            match self.restore_or_distrust(*hit).await? {
                Step::Corrupt(_) => {}
                step => return Ok(step),
            }
        }
        let (tables, rows) = self.seed().await?;
        let key = versions::key(&self.name, 1);
        let replace = self.store.head(&key).await?.is_some();
        let saved = match self.save(replace).await {
            Ok(()) => Ok(self.store.display_key(&key)),
            Err(Error::Interrupted) => return Err(Error::Interrupted),
            Err(e) => {
                self.ctx.printer.warn(format!(
                    "the database is seeded, but snapshot {} could not be saved: {}; the next prepare seeds again",
                    self.name,
                    e.to_string().lines().next().unwrap_or_default()
                ));
                Err(e.to_string())
            }
        };
        // A slice was saved: the database is left holding the slice, as a hit leaves it.
        let (tables, rows) = match (&self.subset, &saved) {
            (Some(_), Ok(_)) => match self.look().await {
                Found::Hit(hit) => match self.restore(*hit).await? {
                    Done::Restored { tables, rows } => (tables, rows),
                    Done::Seeded { tables, rows, .. } => (tables, rows),
                },
                _ => (tables, rows),
            },
            _ => (tables, rows),
        };
        drop(guard);
        Ok(Step::Done(Done::Seeded { tables, rows, miss, saved }))
    }

    /// Restores; data that fails verification (rolled back) is reported, not an error.
    async fn restore_or_distrust(&self, hit: (Header, Arc<dyn Source>)) -> Result<Step, Error> {
        match self.restore(hit).await {
            Ok(done) => Ok(Step::Done(done)),
            Err(Error::SnapshotCorrupt { reason, .. }) => {
                self.ctx.printer.warn(format!(
                    "snapshot {} is corrupt ({reason}); the restore was rolled back, seeding instead",
                    self.name
                ));
                Ok(Step::Corrupt(reason))
            }
            Err(e) => Err(e),
        }
    }

    async fn seed_without_saving(&self, miss: Miss, why: String) -> Result<Done, Error> {
        let (tables, rows) = self.seed().await?;
        if self.subset.is_some() {
            self.ctx.printer.warn(format!(
                "the database holds everything bulk wrote, not the slice: snapshot {} was not saved",
                self.name
            ));
        }
        Ok(Done::Seeded { tables, rows, miss, saved: Err(why) })
    }

    /// `seed bulk` with the given options, emptying the tables it fills first.
    async fn seed(&self) -> Result<(usize, u64), Error> {
        let outcome = bulk::execute(self.ctx, self.req, self.opts).await?;
        Ok((outcome.tables.len(), outcome.tables.iter().map(|(_, n)| n).sum()))
    }

    /// `seed restore --clean` of the snapshot (its lock is held by the caller).
    async fn restore(&self, (header, src): (Header, Arc<dyn Source>)) -> Result<Done, Error> {
        let req = restore::Request {
            name: SnapshotRef { name: self.name.clone(), version: None },
            clean: true,
            cascade: self.args.seeding.cascade,
            allow_schema_mismatch: false,
            selection: Selection::default(),
            dry_run: false,
            wait: self.args.seeding.wait,
        };
        // A snapshot prepare saved is full (`look` checks): its chain is itself.
        let top = Link::new(self.name.clone(), src, header);
        let chain = Arc::new(Chain::resolve(top, |_| Ok(None))?);
        let header = Arc::new(chain.header().clone());
        let (tables, rows) = restore::load(self.ctx, &req, &chain, &header).await?.unwrap_or_default();
        Ok(Done::Restored { tables, rows })
    }

    /// `seed snapshot create` of the whole database (the exclusive lock is held by the
    /// caller), recorded in the audit log as `prepare`.
    async fn save(&self, replace: bool) -> Result<(), Error> {
        self.store.prepare_write().await?;
        let location = self.ctx.settings.database_url.location().to_owned();
        let audit = AuditGuard::new(self.ctx, self.store, "prepare", Some(self.name.clone()), Some(location));
        let req = CreateRequest {
            name: self.name.clone(),
            version: 1,
            replace,
            description: Some(self.description()),
            selection: Selection { include: vec![], ..self.opts.selection.clone() },
            database: self.ctx.settings.database_named(),
            level: COMPRESSION_LEVEL,
            jobs: None,
            base: None,
            subset: self.subset.clone(),
            // Data seed generated itself: nothing personal to mask.
            mask: MaskChoice::Off,
        };
        let result = create::take(&req, self.args.seeding.wait, self.ctx, self.store).await.map(|_| ());
        audit.finish(&result).await;
        result
    }

    /// Shown by `list` and `show`; the key marker tells prepare the snapshot is its own.
    fn description(&self) -> String {
        let mut text = format!("seed prepare {} {}:", self.args.name, self.key.marker());
        if let Some(n) = self.req.default_count {
            text.push_str(&format!(" --count {n}"));
        }
        for (t, n) in &self.req.table_counts {
            text.push_str(&format!(" --table {t}={n}"));
        }
        for p in &self.opts.selection.exclude {
            text.push_str(&format!(" --exclude {p}"));
        }
        for p in &self.opts.selection.schemas {
            text.push_str(&format!(" --schema {p}"));
        }
        text.push_str(&format!(" --seed {}", self.req.seed));
        if let Some(f) = &self.req.factories {
            text.push_str(&format!(" --factories {}", f.path.display()));
        }
        if let Some(rules) = &self.subset {
            for s in &rules.starts {
                text.push_str(&format!(" --subset '{s}'"));
            }
        }
        text
    }

    fn report(&self, done: &Done, elapsed: Duration, kept: Option<&template::Kept>) {
        let secs = elapsed.as_secs_f64();
        let (action, tables, rows) = match done {
            Done::Restored { tables, rows } => ("restored", *tables, *rows),
            Done::Seeded { tables, rows, .. } => ("seeded", *tables, *rows),
        };
        let mut doc = json!({
            "action": action,
            "name": self.args.name,
            "snapshot": self.name,
            "key": self.key.full,
            "tables": tables,
            "rows": rows,
            "seconds": (secs * 1000.0).round() / 1000.0,
        });
        if let (Some(kept), Value::Object(map)) = (kept, &mut doc) {
            map.insert("template".into(), kept.json());
        }
        if let (Done::Seeded { miss, saved, .. }, Value::Object(map)) = (done, &mut doc) {
            map.insert("miss".into(), json!(miss.label()));
            map.insert("saved".into(), json!(saved.is_ok()));
            match saved {
                Ok(path) => map.insert("path".into(), json!(path.display().to_string())),
                Err(why) => map.insert("not_saved_reason".into(), json!(why)),
            };
        }
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        let figures = format!(
            "{}, {} in {secs:.2}s ({} rows/s)",
            plural(tables as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_count(rate)
        );
        let human = match done {
            Done::Restored { .. } => format!("restored {} from snapshot {}: {figures}", self.args.name, self.name),
            Done::Seeded { miss, saved, .. } => {
                let why = match miss {
                    Miss::Absent => String::new(),
                    Miss::Unreadable(reason) => format!(" (snapshot {} was unusable: {reason})", self.name),
                    Miss::Foreign => String::new(),
                };
                let after = match saved {
                    Ok(_) => format!("saved as snapshot {} for the next run", self.name),
                    Err(why) => format!("not saved: {why}"),
                };
                format!("seeded {}{why}: {figures}; {after}", self.args.name)
            }
        };
        let human = match kept {
            Some(kept) => format!("{human}; kept as template {}", kept.describe()),
            None => human,
        };
        self.ctx.printer.event(Level::Info, "prepared", doc.clone(), || human);
        self.ctx.printer.document("prepare", doc);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::factory::factories_file::Factories;

    fn table(name: &str, estimate: u64, fks: &[&str]) -> Table {
        let fks: Vec<Value> = fks
            .iter()
            .map(|f| json!({ "name": f, "columns": [f], "ref_table": { "schema": "public", "name": "p" }, "ref_columns": ["id"], "deferrable": false }))
            .collect();
        serde_json::from_value(json!({
            "name": { "schema": "public", "name": name },
            "columns": [
                { "name": "id", "type_name": "integer", "kind": { "kind": "int" }, "nullable": false, "default": null, "auto": null, "generated": false, "checks": [] },
                { "name": "email", "type_name": "text", "kind": { "kind": "text", "max_len": null }, "nullable": true, "default": null, "auto": null, "generated": false, "checks": [] }
            ],
            "primary_key": ["id"], "uniques": [], "foreign_keys": fks, "partitioned": false, "partition_key": null,
            "partitions": [], "checks": [], "row_estimate": estimate, "estimated_bytes": estimate * 100
        }))
        .unwrap()
    }

    fn live(tables: Vec<Table>, version: Option<&str>) -> Live {
        Live {
            kind: "postgres",
            schema: Schema { tables, ..Schema::default() },
            version: version.map(|v| SchemaVersion { source: "schema_migrations".into(), version: v.into() }),
        }
    }

    fn key(live: &Live, req: &BulkRequest) -> String {
        Key::new(live, req, &Selection::default(), None).full
    }

    fn req(count: u64, seed: u64, batch: u64, factories: Option<&str>) -> BulkRequest {
        BulkRequest {
            default_count: Some(count),
            table_counts: vec![],
            factories: factories.map(|t| Factories::parse(Path::new("f.toml"), t.to_owned()).unwrap()),
            like: None,
            seed,
            batch_size: batch,
        }
    }

    #[test]
    fn the_key_covers_what_decides_the_data_and_nothing_else() {
        let schema = || live(vec![table("a", 10, &["x", "y"]), table("b", 0, &[])], Some("1"));
        let base = key(&schema(), &req(10, 42, 5000, None));
        assert_eq!(base.len(), 32);
        // Not in the key: batch size, size estimates, the order of tables and of keys.
        assert_eq!(key(&schema(), &req(10, 42, 7, None)), base);
        let shuffled = live(vec![table("b", 999, &[]), table("a", 3, &["y", "x"])], Some("1"));
        assert_eq!(key(&shuffled, &req(10, 42, 5000, None)), base);
        // In the key: counts, seed, factories content, migration version, the schema.
        let mut others = vec![
            key(&schema(), &req(11, 42, 5000, None)),
            key(&schema(), &req(10, 7, 5000, None)),
            key(&schema(), &req(10, 42, 5000, Some("[tables.a]\ncount = 3\n"))),
            key(&schema(), &req(10, 42, 5000, Some("[tables.a]\ncount = 4\n"))),
            key(&live(vec![table("a", 10, &["x", "y"]), table("b", 0, &[])], Some("2")), &req(10, 42, 5000, None)),
            key(&live(vec![table("a", 10, &["x", "y"]), table("b", 0, &[])], None), &req(10, 42, 5000, None)),
            key(&live(vec![table("a", 10, &["x"]), table("b", 0, &[])], Some("1")), &req(10, 42, 5000, None)),
        ];
        let mut with_table = req(10, 42, 5000, None);
        with_table.table_counts.push(("a".into(), 3));
        others.push(key(&schema(), &with_table));
        let mut reordered = schema();
        reordered.schema.tables[0].columns.reverse();
        others.push(key(&reordered, &req(10, 42, 5000, None)));
        let excluded = Selection { exclude: vec!["b".into()], ..Selection::default() };
        others.push(Key::new(&schema(), &req(10, 42, 5000, None), &excluded, None).full);
        let schemas = Selection { schemas: vec!["public".into()], ..Selection::default() };
        others.push(Key::new(&schema(), &req(10, 42, 5000, None), &schemas, None).full);
        let slice = crate::subset::Rules {
            starts: vec![crate::subset::Start::parse("a:id < 5").unwrap()],
            seed: 42,
            children: crate::subset::Children::All,
            unrelated: crate::subset::Unrelated::Empty,
            references: vec![],
        };
        others.push(Key::new(&schema(), &req(10, 42, 5000, None), &Selection::default(), Some(&slice)).full);
        let mut fewer = slice.clone();
        fewer.children = crate::subset::Children::None;
        others.push(Key::new(&schema(), &req(10, 42, 5000, None), &Selection::default(), Some(&fewer)).full);
        others.push(base.clone());
        let n = others.len();
        others.sort();
        others.dedup();
        assert_eq!(others.len(), n, "every change gives another key");
    }

    #[test]
    fn names_leave_room_for_the_key() {
        assert!(check_name(&"a".repeat(MAX_PREPARE_NAME)).is_ok());
        assert!(validate_name(&format!("{}.{}", "a".repeat(MAX_PREPARE_NAME), "0".repeat(SHORT_KEY))).is_ok());
        let e = check_name(&"a".repeat(MAX_PREPARE_NAME + 1)).unwrap_err();
        assert_eq!(e.exit_code(), code::USAGE);
        assert!(check_name("../x").is_err() && check_name("").is_err());
    }

    #[test]
    fn arguments_are_bulks_without_truncate_and_dry_run() {
        let cli = Cli::try_parse_from(["seed", "prepare", "ci", "--count", "-5", "--table", "t=2", "--wait", "--json"]);
        let cli = cli.unwrap();
        assert!(cli.output.json);
        let Command::Prepare(args) = cli.command else { panic!("not prepare") };
        assert_eq!((args.name.as_str(), args.seeding.count, args.seeding.wait), ("ci", Some(-5), true));
        // Validation is bulk's, before connecting.
        let err = bulk::request_from(&args.seeding, true, false).unwrap_err();
        assert!(err.to_string().contains("--count must be between 1 and"), "{err}");
        for flag in ["--truncate", "--dry-run"] {
            assert!(Cli::try_parse_from(["seed", "prepare", "ci", "--count", "5", flag]).is_err(), "{flag}");
        }
        assert!(Cli::try_parse_from(["seed", "prepare", "--count", "5"]).is_err(), "NAME is required");
    }
}
