//! `seed snapshot restore NAME`: pre-flight (every problem at once), then one
//! transaction: optional clean, rows in foreign-key order (checksums verified while
//! streaming), sequences put back, commit. Any failure rolls everything back. How rows
//! go in is the database kind's business (`db::Backend`'s load steps).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio::sync::mpsc;

use super::preflight::Preflight;
use crate::cli::RestoreArgs;
use crate::context::Context;
use crate::db::retry::with_retry;
use crate::db::schema::{Schema, Table, TableName, load_order};
use crate::db::select::Selection;
use crate::db::{self, LoadPurpose, LoadRequest, LoadTable, RowInput, Session, WriteIntent};
use crate::error::{Error, code};
use crate::output::{Level, human_count, plural};
use crate::snapshot::catalog;
use crate::snapshot::chain::Chain;
use crate::snapshot::format::Header;
use crate::snapshot::versions::Ref;

pub async fn run(args: RestoreArgs, ctx: &Context) -> Result<u8, Error> {
    Ref::parse(&args.name)?;
    let url = ctx.settings.write_url();
    if args.clean && !url.is_local() && !args.allow_remote {
        return Err(Error::usage_hint(
            format!("refusing to --clean tables on {url}, which is not on this machine"),
            "pass --allow-remote (or SEED_ALLOW_REMOTE=1) if you really mean to empty tables there",
        ));
    }
    if args.clean {
        ctx.settings.announce_target(&ctx.printer);
    }
    // The chain (every base there and unaltered) is checked before connecting.
    let opened = catalog::open_chain(ctx.location()?, &ctx.printer, &args.name, args.lock.wait, "restore").await?;
    let chain = Arc::clone(&opened.chain);
    let header = Arc::new(chain.header().clone());
    let shown_name = described(&args.name, &opened.version.label(), &chain);
    ctx.settings.check_direct_url(&ctx.printer).await?;
    let started = Instant::now();
    let restored = load(ctx, &args, &chain, &header).await?;
    if let Some(rows) = restored {
        let secs = started.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        let summary = json!({ "name": args.name, "version": opened.version.version,
                              "chain": chain.links().iter().map(|l| l.label.clone()).collect::<Vec<_>>(),
                              "tables": header.tables.len(), "rows": rows,
                              "seconds": (secs * 1000.0).round() / 1000.0, "clean": args.clean });
        ctx.printer.document("snapshot restore", json!({ "dry_run": false, "summary": summary.clone() }));
        ctx.printer.event(Level::Info, "snapshot_restored", summary, || {
            format!(
                "restored snapshot {shown_name}: {}, {} in {secs:.2}s ({} rows/s)",
                plural(header.tables.len() as u64, "table", "tables"),
                plural(rows, "row", "rows"),
                human_count(rate)
            )
        });
    }
    Ok(code::OK)
}

/// Restores snapshot `args.name` as `chain` rebuilds it (retried as a whole on transient
/// failures); `None` for a dry run. Prints no summary. The caller holds the name's lock
/// (shared or exclusive) and has checked the direct URL (`seed prepare` reuses this).
pub async fn load(
    ctx: &Context,
    args: &RestoreArgs,
    chain: &Arc<Chain>,
    header: &Arc<Header>,
) -> Result<Option<u64>, Error> {
    with_retry(&ctx.settings.retry, &ctx.printer, "the restore", |attempt| async move {
        if attempt > 1 {
            ctx.printer
                .info(format!("starting the restore again (attempt {attempt}); the failed attempt was rolled back"));
        }
        let (url, wait) = (ctx.settings.write_url(), args.lock.wait);
        let app = "seed snapshot restore";
        let mut session =
            db::connect_with(&ctx.settings.connect_options(), url, &ctx.printer, app, db::Access::ReadWrite, wait)
                .await?;
        let result = restore(ctx, &mut session, args, chain, header, attempt > 1).await;
        if result.is_err() {
            session.rollback().await;
        }
        session.close().await;
        result
    })
    .await
}

/// `'NAME'` as typed, with the version it resolved to when that is not obvious and
/// the chain it was rebuilt from when it is incremental.
pub fn described(typed: &str, label: &str, chain: &Chain) -> String {
    let mut notes = Vec::new();
    if typed != label && !label.ends_with("@1") {
        notes.push(label.to_owned());
    }
    if let [_, below @ ..] = chain.links()
        && !below.is_empty()
    {
        notes
            .push(format!("incremental on {}", below.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(" → ")));
    }
    if notes.is_empty() { format!("'{typed}'") } else { format!("'{typed}' ({})", notes.join(", ")) }
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

fn preflight_error(header: &Header, pre: &Preflight, lines: &[String], args: &RestoreArgs, target_kind: &str) -> Error {
    let problems = lines.iter().filter(|l| !l.starts_with("  ")).count();
    // Suggest only what can help with the problems found.
    let mut hints = Vec::new();
    if header.database.kind != target_kind {
        hints.push(format!("restore it into a {} database", header.database.kind.escape_debug()));
    }
    if !pre.non_empty.is_empty() && !args.clean {
        hints.push("--clean empties the snapshot's tables first (in the same transaction)".to_owned());
    }
    if !pre.differences.is_empty() && !args.allow_schema_mismatch && pre.unfit.is_empty() {
        hints.push("--allow-schema-mismatch goes on when the columns still fit".to_owned());
    }
    if !pre.unfit.is_empty() {
        hints.push("migrate the database to the snapshot's schema (or take a new snapshot)".to_owned());
    }
    if !args.dry_run {
        hints.push("--dry-run shows the plan".to_owned());
    }
    Error::Schema {
        message: format!(
            "cannot restore snapshot '{}': pre-flight found {problems} problem{}\n{}",
            header.name,
            if problems == 1 { "" } else { "s" },
            lines.join("\n")
        ),
        hint: Some(hints.join("; ")),
    }
}

fn plan_text(header: &Header, order: &[(usize, &Table)], mode: &str, clean: bool, pre: &Preflight) -> String {
    let mut text = format!(
        "restore plan for snapshot '{}' ({mode}{})\n",
        header.name,
        if clean { ", --clean empties the tables first" } else { "" }
    );
    for (n, (i, t)) in order.iter().enumerate() {
        let before = pre.non_empty.iter().find(|(name, _)| name == &t.name).map_or(0, |(_, c)| *c);
        let rows = header.tables[*i].rows;
        text.push_str(&format!(
            "  {}. {} — {rows} row{}{}\n",
            n + 1,
            t.name,
            if rows == 1 { "" } else { "s" },
            if before > 0 { format!(" (replacing {before})") } else { String::new() }
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

/// The snapshot with only the tables `--table`, `--exclude` and `--schema` pick (pg_dump's
/// pattern rules, with the target's search path); entries keep their offsets.
fn select_from(header: &Header, args: &RestoreArgs, target: &Schema) -> Result<Header, Error> {
    let selection =
        Selection { include: args.tables.clone(), exclude: args.exclude.clone(), schemas: args.schemas.clone() };
    let names: Vec<TableName> = header.tables.iter().map(|t| t.table_name()).collect();
    let keep = selection.apply(&names, &target.search_path, target.names_ignore_case)?;
    let mut out = header.clone();
    out.tables.retain(|t| keep.contains(&t.table_name()));
    if out.tables.is_empty() {
        return Err(Error::usage("no tables of the snapshot left to restore (check --table / --exclude / --schema)"));
    }
    Ok(out)
}

/// One attempt: lock, pre-flight, load every table, put sequences back, commit.
async fn restore(
    ctx: &Context,
    session: &mut Session,
    args: &RestoreArgs,
    chain: &Arc<Chain>,
    header: &Arc<Header>,
    retry: bool,
) -> Result<Option<u64>, Error> {
    let intent = WriteIntent { command: format!("snapshot restore {}", args.name), retry, wait: args.lock.wait };
    session.begin_write(&intent).await?;
    if ctx.settings.embedded_default && session.apply_demo_schema_if_empty().await? {
        ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql)");
    }
    let schema = session.introspect().await?;
    let version = session.schema_version(&schema).await?;
    let selected;
    let header = if args.tables.is_empty() && args.exclude.is_empty() && args.schemas.is_empty() {
        header
    } else {
        selected = Arc::new(select_from(header, args, &schema)?);
        &selected
    };
    let (order, cycle_edges) = ordered(header, &schema);
    let mut counts = HashMap::new();
    for (_, t) in &order {
        counts.insert(t.name.clone(), session.count_rows(&t.name).await?);
    }
    let pre = Preflight::check(header, &schema, session.kind().label(), version.as_ref(), &counts);
    let mut blocking = pre.blocking(args.allow_schema_mismatch, args.clean);
    let load_req = LoadRequest {
        purpose: LoadPurpose::Restore,
        schema: &schema,
        targets: order.iter().map(|(_, t)| t.name.clone()).collect(),
        existing_rows: counts.iter().map(|(k, v)| (k.clone(), *v)).collect::<BTreeMap<_, _>>(),
        empty_first: args.clean,
        cycle_edges,
    };
    let plan = session.plan_load(&load_req).await?;
    blocking.extend(plan.blocking.iter().cloned());
    if !blocking.is_empty() {
        return Err(preflight_error(header, &pre, &blocking, args, session.kind().label()));
    }
    if args.dry_run {
        ctx.printer.data(&plan_text(header, &order, plan.mode, args.clean, &pre));
        let tables: Vec<serde_json::Value> = order
            .iter()
            .map(|(i, t)| {
                let before = pre.non_empty.iter().find(|(name, _)| name == &t.name).map_or(0, |(_, c)| *c);
                json!({ "table": t.name.to_string(), "rows": header.tables[*i].rows, "replacing": before })
            })
            .collect();
        ctx.printer.document(
            "snapshot restore",
            json!({ "dry_run": true, "name": args.name, "mode": plan.mode, "clean": args.clean,
                    "tables": tables, "schema_differences": pre.differences }),
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
        let written = session.load_table(&target, rows).await?;
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
    session.commit("committing").await?;
    Ok(Some(total))
}
