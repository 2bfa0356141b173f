//! `seed snapshot mask SRC DST --mask ...`: a masked copy of a snapshot, without a
//! database. The source's header supplies the schema (column types and checks, keys,
//! foreign keys: recorded by every snapshot this seed writes); its rows are rebuilt
//! through its chain and checked while read; the copy is a full snapshot, written
//! through the same sink as a create and published atomically (a temp file renamed,
//! an upload completed), so a failure at any point leaves no copy. The source is only
//! read (shared locks on every name of its chain); the copy's name is locked like a
//! create's (its number lock, then the name).

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;

use super::create::target_version;
use super::masking;
use crate::cli::MaskSnapshotArgs;
use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::error::{Error, code};
use crate::mask;
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::catalog::{Version, chain_names, lock_names, resolve, resolve_chain, versions_of, want};
use crate::snapshot::chain::Chain;
use crate::snapshot::create::copy::{schema_of, write_masked};
use crate::snapshot::create::{label_masked_columns, masking_record};
use crate::snapshot::format::{self, Header, Storage};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::reference::SnapshotRef;
use crate::snapshot::versions;

pub async fn run(args: MaskSnapshotArgs, ctx: &Context) -> Result<u8, Error> {
    let (src, dst) = (&args.source, &args.target);
    if dst.version.is_some() {
        return Err(Error::usage(format!("the masked copy is named without a version: '{}'", dst.name)));
    }
    if dst.name == src.name {
        return Err(Error::usage_hint(
            format!("'{}' cannot be masked into itself", src.name),
            "give the masked copy its own name: the snapshot of the real data stays as it is",
        ));
    }
    let asked =
        masking::request(&args.mask, args.factories.as_deref(), &ctx.settings, args.dry_run)?.ok_or_else(|| {
            Error::usage_hint(
                "snapshot mask needs --mask auto, --mask strict or --mask RULES.toml",
                "e.g. SEED_MASK_KEY=$KEY seed snapshot mask prod prod-dev --mask auto",
            )
        })?;
    let store = ctx.location()?;
    if args.dry_run {
        return dry_run(&args, ctx, &store, src, &asked.request).await;
    }
    store.prepare_write().await?;
    let mut audit = AuditGuard::new(ctx, &store, "snapshot mask", Some(dst.name.clone()), None);
    let result = copy(&args, ctx, &store, src, &dst.name, &asked).await;
    if let Ok(v) = &result
        && *v > 1
    {
        audit.set_name(Some(versions::label(&dst.name, *v)));
    }
    audit.finish(&result).await;
    result.map(|_| code::OK)
}

/// Locks, plans, writes and reports; returns the version written.
async fn copy(
    args: &MaskSnapshotArgs,
    ctx: &Context,
    store: &Location,
    src: &SnapshotRef,
    dst: &str,
    asked: &masking::Asked,
) -> Result<u64, Error> {
    let command = format!("seed snapshot mask {} {dst}", args.source);
    let started = Instant::now();
    // As a create: the copy's number lock first, alone; then its name and every name
    // of the source's chain, in name order.
    let number = BTreeMap::from([(versions::number_lock(dst), Mode::Exclusive)]);
    let _number = lock_names(&ctx.printer, store, &number, args.lock.wait, &command).await?;
    let mut names = BTreeMap::from([
        (dst.to_owned(), if args.force { Mode::Exclusive } else { Mode::Shared }),
        (src.name.clone(), Mode::Shared),
    ]);
    let (version, chain, _locks) = loop {
        let locks = lock_names(&ctx.printer, store, &names, args.lock.wait, &command).await?;
        let version = resolve(store, src).await?;
        let mut need = names.clone();
        for n in chain_names(store, &version).await {
            want(&mut need, &n, Mode::Shared);
        }
        if need.iter().any(|(n, m)| !locks.covers(n, *m)) {
            drop(locks);
            names = need;
            continue;
        }
        let chain = resolve_chain(store, version.link(store).await?).await?;
        break (version, chain, locks);
    };
    let existing = versions_of(store, dst).await?;
    let (number, replace) = target_version(dst, false, args.force, store, &existing).await?;
    let mut plan = plan(&chain, &version, &asked.request)?;
    let key = asked.key.as_deref().ok_or_else(mask::key::missing)?;
    plan.bind(key);
    let mut header = chain.header().clone();
    header.name = dst.to_owned();
    header.version = number;
    header.base = None;
    header.created_at = format::now_rfc3339();
    header.tool_version = env!("CARGO_PKG_VERSION").into();
    header.format_version = format::FORMAT_VERSION;
    header.tables_fingerprint = None;
    header.header_checksum = None;
    header.masking = Some(masking_record(&plan, Some(key)));
    for t in &mut header.tables {
        t.storage = Storage::Full;
        t.delta = None;
    }
    label_masked_columns(&mut header, &plan);
    let stage = store.stage(&versions::key(dst, number)).await?;
    let written = write_masked(&chain, &plan, header, stage, replace, &ctx.printer).await?;
    report(ctx, store, &version, &written, started).await;
    Ok(number)
}

/// The plan for every table of `chain`'s snapshot, from its header alone.
fn plan(chain: &Chain, version: &Version, request: &mask::Request) -> Result<mask::Plan, Error> {
    let schema = schema_of(chain.header()).map_err(|why| {
        Error::usage_hint(
            format!("{} cannot be masked without a database: {why}", version.label()),
            "take the snapshot again with this seed (or mask while taking it: seed snapshot create NAME --mask ...)",
        )
    })?;
    let tables: Vec<_> = schema.tables.iter().collect();
    mask::plan::plan(&schema, &tables, request)
}

async fn dry_run(
    args: &MaskSnapshotArgs,
    ctx: &Context,
    store: &Location,
    src: &SnapshotRef,
    request: &mask::Request,
) -> Result<u8, Error> {
    let names = BTreeMap::from([(src.name.clone(), Mode::Shared)]);
    let _lock = lock_names(&ctx.printer, store, &names, args.lock.wait, &format!("seed snapshot mask {src}")).await?;
    let version = resolve(store, src).await?;
    let chain = resolve_chain(store, version.link(store).await?).await?;
    let plan = plan(&chain, &version, request)?;
    ctx.printer.document(
        "snapshot mask",
        json!({ "dry_run": true, "source": version.label(), "target": args.target.to_string(), "masking": masking::plan_json(&plan) }),
    );
    if !ctx.printer.json_doc() {
        ctx.printer.info(format!("dry run: a masked copy of {} as '{}'", version.label(), args.target));
        masking::print_plan(&ctx.printer, &plan);
        if masking::request(&args.mask, args.factories.as_deref(), &ctx.settings, false).is_err() {
            ctx.printer.warn(mask::key::missing().to_string());
        }
        ctx.printer.info("nothing was written");
    }
    Ok(code::OK)
}

async fn report(ctx: &Context, store: &Location, source: &Version, header: &Header, started: Instant) {
    let key = versions::key(&header.name, header.version);
    let path = store.display_key(&key);
    let size = store.head(&key).await.ok().flatten().map_or(0, |i| i.size);
    let rows: u64 = header.tables.iter().map(|t| t.rows).sum();
    let masked = header.tables.iter().flat_map(|t| &t.columns).filter(|c| c.mask.is_some()).count() as u64;
    let mode = header.masking.as_ref().map_or("", |m| m.mode.as_str());
    let secs = started.elapsed().as_secs_f64();
    let label = versions::label(&header.name, header.version);
    let summary = json!({ "name": header.name, "version": header.version, "source": source.label(),
                          "path": path.display().to_string(), "tables": header.tables.len(), "rows": rows,
                          "file_bytes": size, "seconds": (secs * 1000.0).round() / 1000.0,
                          "masked": { "mode": mode, "columns": masked } });
    ctx.printer.document("snapshot mask", summary.clone());
    ctx.printer.event(Level::Info, "snapshot_masked", summary, || {
        format!(
            "snapshot '{label}' written: a masked copy of {} ({mode}: {}), {}, {}, {} in {secs:.2}s\n  {}",
            source.label(),
            plural(masked, "column", "columns"),
            plural(header.tables.len() as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_bytes(size),
            path.display()
        )
    });
}
