//! `seed snapshot restore NAME`: pre-flight (every problem at once), then one
//! transaction: optional clean, rows in foreign-key order (checksums verified while
//! streaming), sequences put back, commit. Any failure rolls everything back. How rows
//! go in is the database kind's business (`db::Backend`'s load steps).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::sync::mpsc;

use super::preflight::Preflight;
use crate::cli::RestoreArgs;
use crate::commands::cascade::{also_emptied_json, also_emptied_text};
use crate::context::Context;
use crate::db::retry::with_retry;
use crate::db::schema::{Schema, Table, TableName, load_order};
use crate::db::select::Selection;
use crate::db::{self, LoadPlan, LoadPurpose, LoadRequest, LoadTable, RowInput, Session, WriteIntent};
use crate::error::{Error, code};
use crate::output::{Level, human_count, plural, thousands};
use crate::snapshot::catalog::{self, described};
use crate::snapshot::chain::Chain;
use crate::snapshot::format::Header;
use crate::snapshot::reference::SnapshotRef;

/// What a restore does, as plain values: `seed snapshot restore`'s arguments, or what
/// `seed prepare` asks for.
#[derive(Debug, Clone)]
pub struct Request {
    /// The snapshot as the user named it (`NAME` or `NAME@N`), for messages.
    pub name: SnapshotRef,
    /// Empty the snapshot's tables first, in the same transaction.
    pub clean: bool,
    /// With `clean`: also empty the tables outside the restore that reference them.
    pub cascade: bool,
    pub allow_schema_mismatch: bool,
    /// The snapshot's tables to restore (`--table`, `--exclude`, `--schema`).
    pub selection: Selection,
    pub dry_run: bool,
    /// Wait for a held lock instead of failing at once.
    pub wait: bool,
}

impl Request {
    pub fn from_args(args: &RestoreArgs) -> Self {
        Self {
            name: args.name.clone(),
            clean: args.clean,
            cascade: args.cascade,
            allow_schema_mismatch: args.allow_schema_mismatch,
            selection: Selection {
                include: args.tables.clone(),
                exclude: args.exclude.clone(),
                schemas: args.schemas.clone(),
                strict_names: args.strict_names,
            },
            dry_run: args.dry_run,
            wait: args.lock.wait,
        }
    }
}

pub async fn run(args: RestoreArgs, ctx: &Context) -> Result<u8, Error> {
    let req = Request::from_args(&args);
    let url = ctx.settings.write_url();
    if args.clean && !url.is_local() && !args.allow_remote {
        return Err(Error::usage_hint(
            format!("refusing to --clean tables on {url}, which is not on this machine"),
            "pass --allow-remote (or SEED_ALLOW_REMOTE=1) if you really mean to empty tables there",
        ));
    }
    if args.clean || ctx.settings.target_not_obvious() {
        ctx.settings.announce_target(&ctx.printer);
    }
    // The chain (every base there and unaltered) is checked before connecting.
    let opened = catalog::open_chain(ctx.location()?, &ctx.printer, &req.name, req.wait, "restore").await?;
    let chain = Arc::clone(&opened.chain);
    let header = Arc::new(chain.header().clone());
    let shown_name = described(&req.name, &chain);
    ctx.settings.check_direct_url(&ctx.printer).await?;
    let started = Instant::now();
    let restored = load(ctx, &req, &chain, &header).await?;
    if let Some((tables, rows)) = restored {
        let secs = started.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        let summary = json!({ "name": req.name.to_string(), "version": opened.version.version,
                              "chain": chain.links().iter().map(|l| l.label.clone()).collect::<Vec<_>>(),
                              "tables": tables, "rows": rows,
                              "seconds": (secs * 1000.0).round() / 1000.0, "clean": args.clean });
        ctx.printer.document("snapshot restore", json!({ "dry_run": false, "summary": summary.clone() }));
        ctx.printer.event(Level::Info, "snapshot_restored", summary, || {
            format!(
                "restored snapshot {shown_name}: {}, {} in {secs:.2}s ({} rows/s)",
                plural(tables as u64, "table", "tables"),
                plural(rows, "row", "rows"),
                human_count(rate)
            )
        });
    }
    Ok(code::OK)
}

/// Restores snapshot `req.name` as `chain` rebuilds it (retried as a whole on transient
/// failures): the tables and rows restored, `None` for a dry run. Prints no summary. The caller holds the name's lock
/// (shared or exclusive) and has checked the direct URL (`seed prepare` reuses this).
pub async fn load(
    ctx: &Context,
    req: &Request,
    chain: &Arc<Chain>,
    header: &Arc<Header>,
) -> Result<Option<(usize, u64)>, Error> {
    with_retry(&ctx.settings.retry, &ctx.printer, "the restore", |attempt| async move {
        if attempt > 1 {
            ctx.printer
                .info(format!("starting the restore again (attempt {attempt}); the failed attempt was rolled back"));
        }
        let (url, wait) = (ctx.settings.write_url(), req.wait);
        let app = "seed snapshot restore";
        let mut session =
            db::connect_with(&ctx.settings.connect_options(), url, &ctx.printer, app, db::Access::ReadWrite, wait)
                .await?;
        let result = restore(ctx, &mut session, req, chain, header, attempt > 1).await;
        if result.is_err() {
            session.rollback().await;
        }
        session.close().await;
        result
    })
    .await
}

/// A table's keys as the restore will leave them: its rows in the snapshot.
struct SnapshotKeys<'a> {
    chain: &'a Arc<Chain>,
    /// The tables restored (the selection), whose keys these are.
    header: &'a Header,
}

/// Tables with more rows than this are not read for their keys ahead of the restore
/// (8 bytes a key): their referencing rows all count, as for a bulk load.
const MAX_KEPT_KEYS: u64 = 8 << 20;

impl crate::db::dependents::KeptKeys for SnapshotKeys<'_> {
    fn keys(&self, table: &TableName, columns: &[String]) -> Result<Option<HashSet<u64>>, Error> {
        let Some(entry) = self.header.tables.iter().find(|t| &t.table_name() == table) else { return Ok(None) };
        let at: Option<Vec<usize>> =
            columns.iter().map(|c| entry.columns.iter().position(|col| &col.name == c)).collect();
        let (Some(at), true) = (at, entry.rows <= MAX_KEPT_KEYS) else { return Ok(None) };
        let Some(index) = self.chain.header().tables.iter().position(|t| &t.table_name() == table) else {
            return Ok(None);
        };
        let mut keys = HashSet::with_capacity(usize::try_from(entry.rows).unwrap_or(0));
        tokio::task::block_in_place(|| {
            let mut rows = self.chain.open_table(index)?;
            let mut lines = crate::db::copy_text::LineSplitter::default();
            while let Some(chunk) = rows.next_chunk()? {
                lines.push::<Error>(&chunk, |line| {
                    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
                    let key: Vec<&[u8]> = at.iter().map(|&i| fields.get(i).copied().unwrap_or_default()).collect();
                    keys.insert(crate::db::dependents::key_hash(&key));
                    Ok(())
                })?;
            }
            rows.finish()
        })?;
        Ok(Some(keys))
    }
}

/// (snapshot table index, target table) pairs, parents first.
type Ordered<'s> = Vec<(usize, &'s Table)>;

/// The snapshot's tables in the target, parents first, and the foreign keys
/// (table, foreign key index) that close a cycle.
fn ordered<'s>(header: &Header, schema: &'s Schema) -> (Ordered<'s>, Vec<(TableName, usize)>) {
    let present: Vec<(usize, &Table)> =
        header.tables.iter().enumerate().filter_map(|(i, e)| schema.get(&e.table_name()).map(|t| (i, t))).collect();
    let tables: Vec<&Table> = present.iter().map(|(_, t)| *t).collect();
    let order = load_order(&tables);
    let broken = order.broken.iter().map(|&(c, f)| (tables[c].name.clone(), f)).collect();
    (order.order.iter().map(|&k| present[k]).collect(), broken)
}

/// `snapshot` is the whole snapshot (not only the tables picked): what `--table` can add.
fn preflight_error(
    shown: &str,
    snapshot: &Header,
    pre: &Preflight,
    plan: &LoadPlan,
    lines: &[String],
    req: &Request,
    target_kind: &str,
) -> Error {
    let header = snapshot;
    let problems = lines.iter().filter(|l| !l.starts_with("  ")).count();
    // Suggest only what can help with the problems found.
    let mut hints = Vec::new();
    if plan.dependents.iter().any(|d| d.depth == 1) {
        let mut in_snapshot: Vec<String> = Vec::new();
        for d in &plan.dependents {
            let name = d.table.to_string();
            if snapshot.tables.iter().any(|t| t.table_name() == d.table) && !in_snapshot.contains(&name) {
                in_snapshot.push(name);
            }
        }
        let restore_too = if in_snapshot.is_empty() {
            String::new()
        } else {
            format!(
                "restore them too ({}: the snapshot holds them), or ",
                in_snapshot.iter().map(|t| format!("--table {t}")).collect::<Vec<_>>().join(" ")
            )
        };
        hints.push(match &plan.cascade_obstacle {
            None => format!(
                "{restore_too}add --cascade to empty them as well ({}; --dry-run lists them), or empty them first",
                crate::db::dependents::cascade_list(&plan.dependents)
            ),
            Some(why) => format!("{restore_too}empty them first (--cascade cannot help: {why}, which it would empty)"),
        });
    }
    if header.database.kind != target_kind {
        hints.push(format!("restore it into a {} database", header.database.kind.escape_debug()));
    }
    if !pre.non_empty.is_empty() && !req.clean {
        hints.push("--clean empties the snapshot's tables first (in the same transaction)".to_owned());
    }
    if !pre.differences.is_empty() && !req.allow_schema_mismatch && pre.unfit.is_empty() {
        hints.push("--allow-schema-mismatch goes on when the columns still fit".to_owned());
    }
    if !pre.unfit.is_empty() {
        hints.push("migrate the database to the snapshot's schema (or take a new snapshot)".to_owned());
    }
    if !req.dry_run {
        hints.push("--dry-run shows the plan".to_owned());
    }
    Error::Schema {
        message: format!(
            "cannot restore snapshot {shown}: pre-flight found {problems} problem{}\n{}",
            if problems == 1 { "" } else { "s" },
            lines.join("\n")
        ),
        hint: Some(hints.join("; ")),
    }
}

fn plan_text(
    shown: &str,
    header: &Header,
    order: &[(usize, &Table)],
    mode: &str,
    clean: bool,
    pre: &Preflight,
) -> String {
    let mut text = format!(
        "restore plan for snapshot {shown} ({mode}{})\n",
        if clean { ", --clean empties the tables first" } else { "" }
    );
    for (n, (i, t)) in order.iter().enumerate() {
        let before = pre.non_empty.iter().find(|(name, _)| name == &t.name).map_or(0, |(_, c)| *c);
        let rows = header.tables[*i].rows;
        text.push_str(&format!(
            "  {}. {} — {}{}\n",
            n + 1,
            t.name,
            plural(rows, "row", "rows"),
            if before > 0 { format!(" (replacing {})", thousands(before)) } else { String::new() }
        ));
    }
    for d in &pre.differences {
        text.push_str(&format!("  note: {d}\n"));
    }
    text.push_str("pre-flight passed; nothing was written (--dry-run)");
    text
}

/// Decompresses (and checks) one table of the snapshot on a blocking thread, rebuilt
/// from its chain when it is not stored in full.
fn spawn_chunks(chain: Arc<Chain>, index: usize) -> mpsc::Receiver<Result<Vec<u8>, Error>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut rows = match chain.open_table(index) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            match rows.next_chunk() {
                Ok(Some(chunk)) => {
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if let Err(e) = rows.finish() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

/// A load that failed on its rows may have met a damaged snapshot: a member that
/// inflates into rows the database refuses before the table's checksum is reached.
/// The table is then read to its end and checked (from the chain, as the load read
/// it); a damaged one is reported as corrupt (exit 7), the database's complaint
/// kept, never as bad data (exit 4): `verify` calls the same file corrupt.
async fn blame_the_snapshot(chain: &Arc<Chain>, index: usize, e: Error) -> Error {
    if e.is_transient() || !matches!(e.exit_code(), code::DATA | code::SCHEMA | code::INTERNAL) {
        return e;
    }
    let chain = Arc::clone(chain);
    match tokio::task::spawn_blocking(move || chain.open_table(index)?.finish()).await {
        Ok(Err(Error::SnapshotCorrupt { path, reason })) => {
            let refused = e.to_string();
            let refused = refused.lines().next().unwrap_or_default();
            Error::SnapshotCorrupt { path, reason: format!("{reason} (the database had refused its rows: {refused})") }
        }
        Ok(Err(altered @ Error::BaseAltered { .. })) => altered,
        _ => e,
    }
}

/// The snapshot with only the tables `--table`, `--exclude` and `--schema` pick (pg_dump's
/// pattern rules, with the target's search path); entries keep their offsets.
fn select_from(header: &Header, req: &Request, target: &Schema, ctx: &Context) -> Result<Header, Error> {
    let selection = req.selection.clone();
    let names: Vec<TableName> = header.tables.iter().map(|t| t.table_name()).collect();
    let keep = selection.apply(&names, &target.search_path, target.names_ignore_case)?;
    selection.tell_unmatched(&names, &target.search_path, target.names_ignore_case, &ctx.printer);
    let mut out = header.clone();
    out.tables.retain(|t| keep.contains(&t.table_name()));
    if out.tables.is_empty() {
        return Err(Error::usage(format!(
            "no tables of the snapshot left to restore into {} (check --table / --exclude / --schema)",
            ctx.settings.database_named()
        )));
    }
    Ok(out)
}

/// One attempt: lock, pre-flight, load every table, put sequences back, commit.
async fn restore(
    ctx: &Context,
    session: &mut Session,
    req: &Request,
    chain: &Arc<Chain>,
    header: &Arc<Header>,
    retry: bool,
) -> Result<Option<(usize, u64)>, Error> {
    let shown = described(&req.name, chain);
    let intent =
        WriteIntent { command: format!("snapshot restore {}", req.name), retry, wait: req.wait, empties: req.clean };
    session.begin_write(&intent).await?;
    if ctx.settings.embedded_default && session.apply_demo_schema_if_empty().await? {
        ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql)");
    }
    let schema = session.introspect().await?;
    let version = session.schema_version(&schema).await?;
    let selected;
    let header =
        if req.selection.include.is_empty() && req.selection.exclude.is_empty() && req.selection.schemas.is_empty() {
            header
        } else {
            selected = Arc::new(select_from(header, req, &schema, ctx)?);
            &selected
        };
    let (order, cycle_edges) = ordered(header, &schema);
    let mut counts = HashMap::new();
    for (_, t) in &order {
        counts.insert(t.name.clone(), session.count_rows(&t.name).await?);
    }
    let pre = Preflight::check(header, &schema, session.kind().label(), version.as_ref(), &counts);
    let mut blocking = pre.blocking(req.allow_schema_mismatch, req.clean);
    let mut load_req = LoadRequest {
        purpose: LoadPurpose::Restore,
        schema: &schema,
        targets: order.iter().map(|(_, t)| t.name.clone()).collect(),
        existing_rows: counts.iter().map(|(k, v)| (k.clone(), *v)).collect::<BTreeMap<_, _>>(),
        empty_first: req.clean,
        cascade: req.cascade,
        also_empty: Vec::new(),
        cycle_edges,
    };
    let kept = SnapshotKeys { chain, header };
    let plan = session.plan_load(&mut load_req, Some(&kept)).await?;
    blocking.extend(plan.blocking.iter().cloned());
    if !blocking.is_empty() {
        let into = format!("{shown} into {}", ctx.settings.database_named());
        let kind = session.kind().label();
        return Err(preflight_error(&into, chain.header(), &pre, &plan, &blocking, req, kind));
    }
    if req.dry_run {
        let mut text = plan_text(&shown, header, &order, plan.mode, req.clean, &pre);
        if let Some(at) = text.rfind("\npre-flight passed") {
            text.insert_str(at, &also_emptied_text(&load_req.also_empty));
        }
        ctx.printer.data(&text);
        let tables: Vec<serde_json::Value> = order
            .iter()
            .map(|(i, t)| {
                let before = pre.non_empty.iter().find(|(name, _)| name == &t.name).map_or(0, |(_, c)| *c);
                json!({ "table": t.name.to_string(), "rows": header.tables[*i].rows, "replacing": before })
            })
            .collect();
        ctx.printer.document(
            "snapshot restore",
            json!({ "dry_run": true, "name": req.name.to_string(), "version": chain.top().header.version, "mode": plan.mode,
                    "clean": req.clean, "tables": tables,
                    "also_emptied": also_emptied_json(&load_req.also_empty),
                    "schema_differences": pre.differences }),
        );
        session.rollback().await;
        return Ok(None);
    }
    for d in &pre.differences {
        ctx.printer.warn(format!("schema mismatch allowed: {d}"));
    }
    session.start_load(&load_req, &plan).await?;
    let mut total = 0;
    for (i, table) in &order {
        let entry = &header.tables[*i];
        let target = LoadTable {
            table,
            columns: entry.columns.iter().map(|c| c.name.clone()).collect(),
            batch_size: None,
            progress: ctx.printer.progress(&table.name.to_string(), Some(entry.rows), "rows"),
        };
        // `header` may hold only the tables picked: find this one in the snapshot itself.
        let name = entry.table_name();
        let index = chain
            .header()
            .tables
            .iter()
            .position(|t| t.table_name() == name)
            .ok_or_else(|| Error::Internal(format!("{name} is not in the snapshot")))?;
        let rows = RowInput::CopyText(spawn_chunks(Arc::clone(chain), index));
        let written = match session.load_table(&target, rows).await {
            Ok(n) => n,
            Err(e) => return Err(blame_the_snapshot(chain, index, e).await),
        };
        if written != entry.rows {
            return Err(Error::Data {
                step: format!("restoring {}", table.name),
                reason: format!("wrote {written} rows, the snapshot holds {}", entry.rows),
            });
        }
        total += written;
    }
    session.finish_load().await?;
    let sequences: Vec<(&Table, &BTreeMap<String, _>)> =
        order.iter().map(|(i, t)| (*t, &header.tables[*i].sequences)).collect();
    session.restore_sequences(&sequences).await?;
    // SQLite checks deferred foreign keys here; every kind syncs to disk.
    let phase = ctx.printer.phase("committing");
    session.commit("committing").await?;
    phase.finish();
    Ok(Some((order.len(), total)))
}
