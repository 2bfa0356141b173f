//! `seed bulk`: one transaction that fills the chosen tables with generated rows.
//!
//! Arguments are validated before anything connects. Each attempt connects, takes the
//! lock, reads the schema, plans, loads and commits; a transient failure (lost
//! connection, serialization failure, deadlock, statement timeout) rolls back and runs
//! the whole attempt again. Rows are generated on a blocking thread while the async side
//! streams them to the database, so generation overlaps the load.

mod checks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use crate::cli::{BulkArgs, SeedingArgs};
use crate::commands::cascade::{also_emptied_json, also_emptied_text};
use crate::context::Context;
use crate::db::retry::with_retry;
use crate::db::schema::{Schema, TableName, TypeKind, load_order};
use crate::db::select::Selection;
use crate::db::value::Value;
use crate::db::{self, CycleFix, LoadPurpose, LoadRequest, LoadTable, RowForm, RowInput, Session, WriteIntent};
use crate::error::{Error, code};
use crate::factory::factories_file::Factories;
use crate::factory::factories_file::MAX_COUNT;
pub use crate::factory::plan::PlanInputs;
use crate::factory::plan::{BulkRequest, ParentKey, Plan};
use crate::factory::rows::RowGen;
use crate::output::{Level, human_count, plural, thousands};

pub const DEFAULT_SEED: u64 = 42;
pub const DEFAULT_BATCH: u64 = 5_000;
pub const MAX_BATCH: u64 = 100_000;
const WARN_BATCH: u64 = 10_000;

/// What a successful attempt did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub tables: Vec<(TableName, u64)>,
    pub dry_run: bool,
    pub mode: &'static str,
}

/// Flags that shape an attempt.
#[derive(Debug, Clone)]
pub struct Options {
    pub truncate: bool,
    /// `--cascade`: empty the left-out tables whose rows reference emptied ones.
    pub cascade: bool,
    pub dry_run: bool,
    pub wait: bool,
    /// `--exclude` patterns and `--schema`s: tables left out are given a count of 0.
    pub selection: Selection,
}

/// `seed bulk`'s arguments, checked (see `request_from`).
pub fn request_from_args(args: &BulkArgs) -> Result<(BulkRequest, Options), Error> {
    request_from(&args.seeding, args.truncate, args.dry_run)
}

/// The seeding options checked, before anything connects, into the plain request and
/// options an attempt takes; `truncate` and `dry_run` are the caller's (`prepare`
/// always empties what it fills and never dry-runs).
pub fn request_from(args: &SeedingArgs, truncate: bool, dry_run: bool) -> Result<(BulkRequest, Options), Error> {
    let count = match args.count {
        None => None,
        Some(n) if n >= 1 && n.unsigned_abs() <= MAX_COUNT => Some(n.unsigned_abs()),
        Some(n) => {
            return Err(Error::usage_hint(
                format!("--count must be between 1 and {MAX_COUNT}, got {n}"),
                "--count is rows per table; leave a table out with --table NAME=0",
            ));
        }
    };
    let mut table_counts = Vec::new();
    // Each name once, found in constant time (a seed.toml may list thousands).
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for spec in &args.tables {
        let Some((name, n)) = spec.split_once('=') else {
            return Err(Error::usage_hint(format!("--table '{spec}' is not NAME=N"), "e.g. --table staffs=200"));
        };
        let n: i64 = n.trim().parse().map_err(|_| {
            Error::usage_hint(format!("--table {spec}: '{n}' is not a number"), "e.g. --table staffs=200")
        })?;
        if !(0..=i64::try_from(MAX_COUNT).unwrap_or(i64::MAX)).contains(&n) {
            return Err(Error::usage(format!("--table {spec}: the count must be between 0 and {MAX_COUNT}")));
        }
        if name.trim().is_empty() {
            return Err(Error::usage(format!("--table '{spec}' has no table name")));
        }
        if let Some(before) = seen.insert(name.trim().to_owned(), n.unsigned_abs()) {
            return Err(Error::usage_hint(
                format!("--table {} is given twice ({before} and {n} rows)", name.trim()),
                "give each table one count",
            ));
        }
        table_counts.push((name.trim().to_owned(), n.unsigned_abs()));
    }
    let batch_size = match args.batch_size {
        None => DEFAULT_BATCH,
        Some(n) if n >= 1 && n.unsigned_abs() <= MAX_BATCH => n.unsigned_abs(),
        Some(n) => {
            return Err(Error::usage_hint(
                format!("--batch-size must be between 1 and {MAX_BATCH}, got {n}"),
                "it is rows per COPY chunk or INSERT statement (and the unit of progress), never a commit point",
            ));
        }
    };
    let seed = match args.seed {
        None => DEFAULT_SEED,
        Some(s) if s >= 0 => s.unsigned_abs(),
        Some(s) => return Err(Error::usage(format!("--seed must be 0 or more, got {s}"))),
    };
    let factories = args.factories.as_deref().map(Factories::load).transpose()?;
    if count.is_none()
        && table_counts.is_empty()
        && factories.as_ref().is_none_or(|f| f.tables.iter().all(|t| t.count.is_none() && t.per_parent.is_none()))
    {
        return Err(Error::usage_hint(
            "nothing to load: give --count N (rows per table)",
            "or --table NAME=N, or counts in a factories file (--factories)",
        ));
    }
    Ok((
        BulkRequest { default_count: count, table_counts, factories, like: None, seed, batch_size },
        Options {
            truncate,
            cascade: args.cascade,
            dry_run,
            wait: args.wait,
            selection: Selection {
                include: vec![],
                exclude: args.exclude.clone(),
                schemas: args.schemas.clone(),
                strict_names: args.strict_names,
            },
        },
    ))
}

pub async fn run(args: BulkArgs, ctx: &Context) -> Result<u8, Error> {
    let (mut req, opts) = request_from_args(&args)?;
    // A snapshot's shared lock is held for the whole load, like a restore's.
    let mut _like_guard = None;
    let settings = req.factories.as_ref().map(|f| f.profile.clone()).unwrap_or_default();
    let learned = if let Some(r) = &args.like {
        let opened =
            crate::snapshot::catalog::open_chain(ctx.location()?, &ctx.printer, r, opts.wait, "profile").await?;
        let name = r.to_string();
        let text = tokio::task::block_in_place(|| {
            crate::commands::snapshot::profile::profile_snapshot(&opened.chain, &name, &settings)
        })?;
        _like_guard = Some(opened.locks);
        Some((format!("<profile of snapshot {name}>"), text))
    } else if let Some(url) = &args.like_db {
        let text = crate::commands::snapshot::profile::profile_database(ctx, url, &settings).await?;
        Some(("<profile of the --like-db database>".to_owned(), text))
    } else {
        None
    };
    if let Some((label, text)) = learned {
        req.like = Some(Factories::parse(std::path::Path::new(&label), text)?);
    }
    let url = ctx.settings.write_url().clone();
    if opts.truncate && !url.is_local() && !args.seeding.allow_remote {
        return Err(Error::usage_hint(
            format!("refusing to --truncate tables on {url}, which is not on this machine"),
            "pass --allow-remote (or SEED_ALLOW_REMOTE=1) if you really mean to empty tables there",
        ));
    }
    if opts.truncate || ctx.settings.target_not_obvious() {
        ctx.settings.announce_target(&ctx.printer);
    }
    if req.batch_size > WARN_BATCH {
        ctx.printer.warn(format!(
            "--batch-size {} is large: each batch is held in memory ({} rows); {WARN_BATCH} or less is usually as fast",
            req.batch_size, req.batch_size
        ));
    }
    ctx.settings.check_direct_url(&ctx.printer).await?;
    let started = Instant::now();
    let outcome = execute(ctx, &req, &opts).await?;
    if !outcome.dry_run {
        print_summary(ctx, &outcome, req.seed, started.elapsed());
    }
    Ok(code::OK)
}

/// The load itself, retried as a whole on transient failures; prints no summary. The
/// caller has validated `req` and checked the direct URL (`seed prepare` reuses this).
pub async fn execute(ctx: &Context, req: &BulkRequest, opts: &Options) -> Result<Outcome, Error> {
    let policy = ctx.settings.retry;
    with_retry(&policy, &ctx.printer, "the bulk load", |attempt| async move {
        if attempt > 1 {
            ctx.printer
                .info(format!("starting the load again (attempt {attempt}); the failed attempt was rolled back"));
        }
        let url = ctx.settings.write_url();
        let mut session = db::connect_with(
            &ctx.settings.connect_options(),
            url,
            &ctx.printer,
            "seed bulk",
            db::Access::ReadWrite,
            opts.wait,
        )
        .await?;
        let result = load(ctx, &mut session, req, opts, attempt > 1).await;
        if result.is_err() {
            session.rollback().await;
        }
        session.close().await;
        result
    })
    .await
}

fn print_summary(ctx: &Context, outcome: &Outcome, seed: u64, elapsed: Duration) {
    let total: u64 = outcome.tables.iter().map(|(_, n)| n).sum();
    let secs = elapsed.as_secs_f64().max(1e-6);
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / secs;
    let tables: Vec<serde_json::Value> =
        outcome.tables.iter().map(|(t, n)| json!({ "table": t.to_string(), "rows": n })).collect();
    let summary = json!({ "tables": tables, "rows": total, "seconds": (secs * 1000.0).round() / 1000.0,
                          "rows_per_sec": rate.round(), "seed": seed, "mode": outcome.mode });
    ctx.printer.document("bulk", json!({ "dry_run": false, "summary": summary.clone() }));
    ctx.printer.event(Level::Info, "bulk_summary", summary, || {
        let mut text = format!(
            "seeded {} into {} in {secs:.2}s ({} rows/s), seed {seed}",
            plural(total, "row", "rows"),
            plural(outcome.tables.len() as u64, "table", "tables"),
            human_count(rate)
        );
        let width = outcome.tables.iter().map(|(t, _)| t.to_string().len()).max().unwrap_or(0);
        for (t, n) in &outcome.tables {
            text.push_str(&format!("\n  {:<width$}  {:>13}", t.to_string(), thousands(*n)));
        }
        text
    });
}

/// `req` with a count of 0 for every table `--exclude` or `--schema` leaves out (a table
/// given an explicit `--table T=N` keeps it). Left-out parents still lend their rows.
fn leave_out(req: &BulkRequest, schema: &Schema, selection: &Selection, ctx: &Context) -> Result<BulkRequest, Error> {
    let kept = schema.select(selection, &ctx.printer)?;
    let mut out = req.clone();
    for t in &schema.tables {
        let name = format!("{}.{}", t.name.schema, t.name.name);
        let name = if t.name.schema.is_empty() { t.name.name.clone() } else { name };
        let explicit = out.table_counts.iter().any(|(n, _)| schema.find(n).is_some_and(|x| x.name == t.name));
        if !explicit && !kept.iter().any(|k| k.name == t.name) {
            out.table_counts.push((name, 0));
        }
    }
    Ok(out)
}

/// One attempt: lock, read the schema, plan, load every table, commit.
async fn load(
    ctx: &Context,
    session: &mut Session,
    req: &BulkRequest,
    opts: &Options,
    retry: bool,
) -> Result<Outcome, Error> {
    let intent = WriteIntent { command: "bulk".into(), retry, wait: opts.wait, empties: opts.truncate };
    session.begin_write(&intent).await?;
    if ctx.settings.embedded_default && session.apply_demo_schema_if_empty().await? {
        ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql: staffs, offices, office_staffs, welfare_recipients)");
    }
    let schema = session.introspect().await?;
    let narrowed;
    let req = if opts.selection.is_everything() {
        req
    } else {
        narrowed = leave_out(req, &schema, &opts.selection, ctx)?;
        &narrowed
    };
    let named = ctx.settings.database_named();
    let (mut plan, targets, inputs) = plan_rows(session, &schema, req, opts.truncate, &named).await?;
    checks::check_constants(session, &schema, &plan, req).await?;
    checks::satisfy(session, &mut plan).await?;
    let target_tables: Vec<&crate::db::schema::Table> = targets.iter().filter_map(|t| schema.get(t)).collect();
    let order = load_order(&target_tables);
    let mut load_req = LoadRequest {
        purpose: LoadPurpose::Bulk,
        schema: &schema,
        targets: targets.clone(),
        existing_rows: inputs.existing_rows.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        empty_first: opts.truncate,
        cascade: opts.cascade,
        also_empty: Vec::new(),
        cycle_edges: order.broken.iter().map(|&(c, f)| (target_tables[c].name.clone(), f)).collect(),
    };
    // The keys the targets will hold are drawn while loading: every referencing row counts.
    let load_plan = session.plan_load(&mut load_req, None).await?;
    if opts.dry_run {
        checks::verify_sample(session, &plan).await?;
        ctx.printer.data(&format!(
            "{}\nload mode: {}{}\nnothing was written (--dry-run)",
            plan.describe(),
            load_plan.mode,
            also_emptied_text(&load_req.also_empty)
        ));
        session.rollback().await;
        if !load_plan.blocking.is_empty() {
            return Err(blocked(&load_plan, "see the plan above"));
        }
        ctx.printer.document(
            "bulk",
            json!({ "dry_run": true, "mode": load_plan.label, "plan": plan.to_json(),
                    "also_emptied": also_emptied_json(&load_req.also_empty) }),
        );
        return Ok(Outcome { dry_run: true, ..Outcome::default() });
    }
    if !load_plan.blocking.is_empty() {
        return Err(blocked(&load_plan, ""));
    }
    session.start_load(&load_req, &load_plan).await?;
    let deferred = session.prepare_cycles(&plan.cycle_edges_to_load()).await?;
    plan.defer_cycle_edges(&deferred);
    let mut keys = plan.generated_keys();
    session.reserve_keys(&mut keys).await?;
    plan.set_generated_keys(&keys);
    checks::verify_sample(session, &plan).await?;
    let plan = Arc::new(plan);
    let form = session.row_form();
    let mut loaded = Vec::new();
    for t in 0..plan.tables.len() {
        let tp = &plan.tables[t];
        let name = tp.table.name.to_string();
        let target = LoadTable {
            table: &tp.table,
            columns: tp.columns.iter().map(|c| c.name.clone()).collect(),
            batch_size: Some(plan.batch_size),
            progress: ctx.printer.progress(&name, Some(tp.count), "rows"),
        };
        let rows = match form {
            RowForm::CopyText => RowInput::CopyText(spawn_copy_batches(Arc::clone(&plan), t, plan.batch_size)),
            RowForm::Values => RowInput::Values(spawn_row_batches(Arc::clone(&plan), t, plan.batch_size)),
        };
        let written = session.load_table(&target, rows).await?;
        if written != tp.count {
            return Err(Error::Internal(format!("loading {name} wrote {written} rows, expected {}", tp.count)));
        }
        loaded.push((tp.table.name.clone(), written));
    }
    for (t, g) in plan.deferred_groups() {
        let tp = &plan.tables[t];
        let fix = CycleFix { table: &tp.table, fk: &tp.groups[g].fk, id: format!("{t}_{g}") };
        session.close_cycle(&fix, &mut RowGen::new(&plan, t).cycle_fix_rows(g)).await?;
    }
    session.finish_load().await?;
    session.settle_keys(&keys).await?;
    // SQLite checks deferred foreign keys here; every kind syncs to disk.
    let phase = ctx.printer.phase("committing");
    session.commit("committing").await?;
    phase.finish();
    Ok(Outcome { tables: loaded, dry_run: false, mode: load_plan.label })
}

/// The load cannot go ahead: the problems, and what to do about rows left out that
/// reference the tables `--truncate` empties.
fn blocked(plan: &db::LoadPlan, otherwise: &str) -> Error {
    let mut hints = Vec::new();
    if plan.dependents.iter().any(|d| d.depth == 1) {
        let seed_them = "seed those tables in the same run (they are left out by --exclude, --schema or a count of 0)";
        hints.push(match &plan.cascade_obstacle {
            None => format!(
                "{seed_them}, or add --cascade to empty them as well ({}), or empty them first",
                db::dependents::cascade_list(&plan.dependents)
            ),
            Some(why) => {
                format!("{seed_them}, or empty them first (--cascade cannot help: {why}, which it would empty)")
            }
        });
    }
    if !otherwise.is_empty() {
        hints.push(otherwise.to_owned());
    }
    Error::Schema { message: plan.blocking.join("\n"), hint: (!hints.is_empty()).then(|| hints.join("; ")) }
}

/// The plan for this database (`named`: how messages name it, `URL (from ORIGIN)`): the
/// target tables, what is there already, and the plan.
pub async fn plan_rows(
    conn: &mut Session,
    schema: &Schema,
    req: &BulkRequest,
    truncate: bool,
    named: &str,
) -> Result<(Plan, Vec<TableName>, PlanInputs), Error> {
    if schema.tables.is_empty() {
        return Err(Error::schema(
            format!("the database {named} has no tables to seed"),
            "create the schema first (run your migrations), or point --database-url (DATABASE_URL) at the database that has it",
        ));
    }
    let targets: Vec<TableName> = crate::factory::plan::targets(schema, req)?.into_iter().map(|(n, _, _)| n).collect();
    if targets.is_empty() {
        return Err(Error::usage_hint(
            format!(
                "nothing to load into {named}: no table of its {} has a row count",
                plural(schema.tables.len() as u64, "table", "tables")
            ),
            "pass --count N (rows per table), --table NAME=N, or counts in the factories file; --exclude and --schema leave tables out",
        ));
    }
    let inputs = plan_inputs(conn, schema, &targets, truncate).await?;
    let plan = crate::factory::plan::build(schema, req, &inputs)?;
    Ok((plan, targets, inputs))
}

/// Reads what the planner needs from the database: row counts of the targets (0 when
/// they are about to be emptied), keys of parents not seeded this time, and the highest
/// integer key of non-empty targets.
async fn plan_inputs(
    conn: &mut Session,
    schema: &Schema,
    targets: &[TableName],
    truncate: bool,
) -> Result<PlanInputs, Error> {
    let mut existing_rows = HashMap::new();
    for t in targets {
        let n = if truncate { 0 } else { conn.count_rows(t).await? };
        existing_rows.insert(t.clone(), n);
    }
    let mut existing_keys = HashMap::new();
    for (table, columns) in parents_not_seeded(schema, targets) {
        let rows = conn.distinct_keys(&table, &columns, MAX_EXISTING_KEYS).await?;
        let keys = rows.into_iter().map(|r| r.into_iter().map(|v| v.map_or(Value::Null, Value::Text)).collect());
        existing_keys.insert((table, columns), keys.collect());
    }
    let mut existing_max = HashMap::new();
    for (table, column) in integer_keys(schema, &existing_rows) {
        if let Some(max) = conn.max_int(&table, &column).await? {
            existing_max.insert((table, column), max);
        }
    }
    Ok(PlanInputs { existing_rows, existing_keys, existing_max })
}

/// Most keys of an existing parent table read for foreign-key picks.
pub const MAX_EXISTING_KEYS: i64 = 100_000;

/// The parents of the targets (table, referenced columns) that are not seeded this
/// time: foreign keys pick from their existing keys.
fn parents_not_seeded(schema: &Schema, targets: &[TableName]) -> Vec<ParentKey> {
    let mut out: Vec<ParentKey> = Vec::new();
    for t in targets.iter().filter_map(|n| schema.get(n)) {
        for fk in &t.foreign_keys {
            let key = (fk.ref_table.clone(), fk.ref_columns.clone());
            if !targets.contains(&fk.ref_table) && !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// The integer columns in a primary key or unique constraint of each non-empty target
/// that the database does not generate: new values start above their highest.
fn integer_keys(schema: &Schema, existing_rows: &HashMap<TableName, u64>) -> Vec<(TableName, String)> {
    let mut out = Vec::new();
    for (name, _) in existing_rows.iter().filter(|(_, n)| **n > 0) {
        let Some(t) = schema.get(name) else { continue };
        let keyed = |c: &str| {
            t.primary_key.iter().any(|k| k == c) || t.uniques.iter().any(|u| u.columns.iter().any(|k| k == c))
        };
        for c in t.columns.iter().filter(|c| c.auto.is_none() && keyed(&c.name)) {
            if matches!(c.kind, TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt) {
                out.push((name.clone(), c.name.clone()));
            }
        }
    }
    out
}

/// Spawns the generator for table `t`: batches of COPY text, in order.
pub fn spawn_copy_batches(plan: Arc<Plan>, t: usize, batch: u64) -> mpsc::Receiver<Result<Vec<u8>, Error>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let gen_rows = RowGen::new(&plan, t);
        let count = plan.tables[t].count;
        let mut scratch = Vec::new();
        let mut start = 0;
        while start < count {
            let end = (start + batch).min(count);
            let mut buf = Vec::with_capacity(usize::try_from((end - start) * 128).unwrap_or(1 << 20));
            gen_rows.write_copy(start..end, &mut buf, &mut scratch);
            if tx.blocking_send(Ok(buf)).is_err() {
                return; // the load stopped (error or Ctrl-C)
            }
            start = end;
        }
    });
    rx
}

/// Spawns the generator for table `t`: batches of typed rows (for INSERT binds).
pub fn spawn_row_batches(plan: Arc<Plan>, t: usize, batch: u64) -> mpsc::Receiver<Vec<Vec<Value>>> {
    let (tx, rx) = mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let gen_rows = RowGen::new(&plan, t);
        let count = plan.tables[t].count;
        let mut start = 0;
        while start < count {
            let end = (start + batch).min(count);
            let rows: Vec<Vec<Value>> = (start..end)
                .map(|i| {
                    let mut row = Vec::new();
                    gen_rows.row(i, &mut row);
                    row
                })
                .collect();
            if tx.blocking_send(rows).is_err() {
                return;
            }
            start = end;
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(list: &[&str]) -> BulkArgs {
        let mut full = vec!["seed", "bulk"];
        full.extend_from_slice(list);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Bulk(a) => a,
            _ => unreachable!(),
        }
    }

    /// r21.7: 50,000 table counts (a seed.toml can hold that many) are checked for
    /// duplicates by hash, not by comparing each with every other; a duplicate at the
    /// end is still found.
    #[test]
    fn many_table_counts_are_checked_in_one_pass() {
        let mut specs: Vec<String> = (0..50_000).map(|t| format!("t{t}=1")).collect();
        let list: Vec<&str> = specs.iter().flat_map(|s| ["--table", s.as_str()]).collect();
        let (req, _) = request_from_args(&args(&list)).unwrap();
        assert_eq!(req.table_counts.len(), 50_000);
        specs.push("t7=2".into());
        let list: Vec<&str> = specs.iter().flat_map(|s| ["--table", s.as_str()]).collect();
        let err = request_from_args(&args(&list)).unwrap_err();
        assert!(err.to_string().contains("--table t7 is given twice (1 and 2 rows)"), "{err}");
    }

    #[test]
    fn validation_before_connecting() {
        for (list, needle) in [
            (vec!["--count", "0"], "between 1 and"),
            (vec!["--count", "-3"], "between 1 and"),
            (vec!["--count", "5", "--batch-size", "0"], "--batch-size must be between 1 and 100000"),
            (vec!["--count", "5", "--batch-size", "100001"], "--batch-size"),
            (vec!["--table", "staffs"], "is not NAME=N"),
            (vec!["--table", "staffs=x"], "not a number"),
            (vec!["--count", "5", "--factories", "/"], "factories file / is a directory"),
            (vec![], "nothing to load"),
        ] {
            let err = request_from_args(&args(&list)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{list:?}");
            assert!(err.to_string().contains(needle), "{list:?}: {err}");
        }
        let (req, _) = request_from_args(&args(&["--count", "10", "--table", "staffs=3"])).unwrap();
        assert_eq!(req.default_count, Some(10));
        assert_eq!(req.table_counts, vec![("staffs".to_owned(), 3)]);
        assert_eq!(req.seed, DEFAULT_SEED);
    }
}
