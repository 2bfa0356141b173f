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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{masking, subset};
use crate::cli::CreateArgs;
use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::db;
use crate::db::retry::with_retry;
use crate::db::select::Selection;
use crate::error::{Error, code};
use crate::factory::factories_file::Factories;
use crate::mask;
use crate::output::{Level, human_bytes, human_count, plural};
use crate::snapshot::catalog::{
    Version, chain_names, dependents, lock_names, resolve, resolve_chain, versions_of, want,
};
use crate::snapshot::chain::{Chain, MAX_CHAIN_DEPTH};
use crate::snapshot::create::{self, Base, MaskChoice, Stored};
use crate::snapshot::format::Header;
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::reference::SnapshotRef;
use crate::snapshot::versions;

/// The application name the database sees.
const APP: &str = "seed snapshot create";

pub async fn run(args: CreateArgs, ctx: &Context) -> Result<u8, Error> {
    let r = &args.name;
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
    // The slice's rules and the masking are checked before anything is locked,
    // connected or written.
    let factories = args.factories.as_deref().map(Factories::load).transpose()?;
    let rules = subset::rules(&args.subset, args.seed, factories.as_ref(), &ctx.settings.references)?;
    let mask = mask_choice(&args, ctx)?;
    if args.dry_run {
        let rules = match rules {
            None if args.new_version || args.base.is_some() => base_rules(&args, ctx).await?,
            rules => rules,
        };
        return dry_run(&args, ctx, rules, mask).await;
    }
    let store = ctx.location()?;
    store.prepare_write().await?;
    let mut audit = AuditGuard::new(
        ctx,
        &store,
        "snapshot create",
        Some(args.name.name.clone()),
        Some(ctx.settings.database_url.location().to_owned()),
    );
    let result = create(&args, ctx, &store, rules, &mask).await;
    if let Ok(v) = &result
        && *v > 1
    {
        audit.set_name(Some(versions::label(&args.name.name, *v)));
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
    base: Option<Base>,
    /// The slice to take, if any.
    subset: Option<crate::subset::Rules>,
}

/// The base a create builds on: `--base REF`, else the latest version with
/// `--new-version` (unless `--full`), else none.
fn base_ref(args: &CreateArgs, latest: Option<u64>) -> Option<SnapshotRef> {
    match &args.base {
        Some(r) => Some(r.clone()),
        None if args.new_version && !args.full => latest.map(|v| SnapshotRef::exact(&args.name.name, v)),
        None => None,
    }
}

/// The slice a dry run given none would take: its base's, as `create` takes it.
async fn base_rules(args: &CreateArgs, ctx: &Context) -> Result<Option<crate::subset::Rules>, Error> {
    let store = ctx.location()?;
    let latest = versions_of(&store, &args.name.name).await?.last().map(|v| v.version);
    let Some(r) = base_ref(args, latest) else { return Ok(None) };
    let base = resolve(&store, &r).await?;
    let header = base.header(&store).await?;
    subset::of_base(&args.subset, &ctx.printer, &base.label(), header.subset.as_ref())
}

/// Locks, picks the version number, resolves the base; returns the version created.
/// A create given no slice of its own takes the slice its base was taken with.
async fn create(
    args: &CreateArgs,
    ctx: &Context,
    store: &Location,
    rules: Option<crate::subset::Rules>,
    mask: &MaskChoice,
) -> Result<u64, Error> {
    let command = format!("seed snapshot create {}", args.name.name);
    // The number lock first, alone: it decides between concurrent creators of the
    // name. Then the name itself (exclusive only to replace a version) and the names
    // the base's chain goes through, shared, all in name order.
    let number = BTreeMap::from([(versions::number_lock(&args.name.name), Mode::Exclusive)]);
    let _number = lock_names(&ctx.printer, store, &number, args.lock.wait, &command).await?;
    let mut names = BTreeMap::from([(args.name.name.clone(), if args.force { Mode::Exclusive } else { Mode::Shared })]);
    let (target, _locks) = loop {
        let locks = lock_names(&ctx.printer, store, &names, args.lock.wait, &command).await?;
        let existing = versions_of(store, &args.name.name).await?;
        let latest = existing.last().map(|v| v.version);
        let target = target_version(&args.name.name, args.new_version, args.force, store, &existing).await?;
        let base = match base_ref(args, latest) {
            None => None,
            Some(r) => {
                let v = resolve(store, &r).await?;
                if v.name == args.name.name && v.version == target.0 {
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
            Some(b) => {
                base_chain(ctx, store, &b).await?.map(|chain| Base { name: b.name.clone(), version: b.version, chain })
            }
        };
        let subset = match (&rules, &base) {
            (None, Some(b)) => subset::of_base(
                &args.subset,
                &ctx.printer,
                &versions::label(&b.name, b.version),
                b.chain.header().subset.as_ref(),
            )?,
            _ => rules.clone(),
        };
        break (Target { version: target.0, replace: target.1, base, subset }, locks);
    };
    ctx.settings.check_direct_url(&ctx.printer).await?;
    let started = Instant::now();
    let req = request(args, ctx, &target, mask);
    let (header, stored) = with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| {
        attempt(&req, args.lock.wait, ctx, store)
    })
    .await?;
    report(args, ctx, store, &header, &stored, started).await;
    Ok(target.version)
}

/// Writes `req` (retried as a whole on transient failures; `wait`: for a held database
/// lock); prints no summary. The caller holds the name's exclusive lock and has
/// checked the direct URL (`seed prepare` reuses this).
pub async fn take(req: &create::Request, wait: bool, ctx: &Context, store: &Location) -> Result<Header, Error> {
    let (header, _) =
        with_retry(&ctx.settings.retry, &ctx.printer, "taking the snapshot", |_| attempt(req, wait, ctx, store))
            .await?;
    Ok(header)
}

/// (version, replaces it) for a new version of `name` (`new_version`: the next number;
/// `force`: the latest one again), or why not.
pub async fn target_version(
    name: &str,
    new_version: bool,
    force: bool,
    store: &Location,
    existing: &[Version],
) -> Result<(u64, bool), Error> {
    let Some(latest) = existing.last() else { return Ok((1, false)) };
    if new_version {
        if latest.version >= versions::MAX_VERSION {
            return Err(Error::usage(format!("'{name}' has reached the last version number")));
        }
        return Ok((latest.version + 1, false));
    }
    if !force {
        return Err(Error::SnapshotExists { name: name.to_owned(), dir: store.display() });
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
    let key = versions::key(&args.name.name, header.version);
    let path = store.display_key(&key);
    let label =
        if header.version == 1 { args.name.name.clone() } else { versions::label(&args.name.name, header.version) };
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
    let masked_columns = header.tables.iter().flat_map(|t| &t.columns).filter(|c| c.mask.is_some()).count();
    let masked = header.masking.as_ref().map(|m| json!({ "mode": m.mode, "columns": masked_columns }));
    let summary = json!({ "name": args.name.name, "version": header.version, "path": path.display().to_string(), "tables": header.tables.len(),
                "rows": rows, "raw_bytes": raw, "file_bytes": size, "compression_ratio": (ratio * 100.0).round() / 100.0,
                "seconds": (secs * 1000.0).round() / 1000.0, "base": base,
                "storage": { "full": full, "base": same, "delta": delta }, "masked": masked });
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
        let masked = header.masking.as_ref().map_or_else(String::new, |m| {
            format!("\n  masked ({}): {}", m.mode, plural(masked_columns as u64, "column", "columns"))
        });
        format!(
            "snapshot '{label}' created: {}, {}, {data}, {secs:.2}s ({} rows/s){incremental}{masked}\n  {}",
            plural(header.tables.len() as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_count(rate),
            path.display()
        )
    });
}

/// Whether rows are masked: as `--mask` asks (the key loaded now, before connecting),
/// else guarded when the source is not on this machine (unless `--no-mask`).
fn mask_choice(args: &CreateArgs, ctx: &Context) -> Result<MaskChoice, Error> {
    if let Some(masking::Asked { request, key }) =
        masking::request(&args.mask, args.factories.as_deref(), &ctx.settings, args.dry_run)?
    {
        return Ok(MaskChoice::On { request, key });
    }
    let url = &ctx.settings.database_url;
    if !args.no_mask && !url.is_local() {
        return Ok(MaskChoice::Guarded { source: url.to_string() });
    }
    Ok(MaskChoice::Off)
}

/// What `args` asks to write as `target`.
fn request(args: &CreateArgs, ctx: &Context, target: &Target, mask: &MaskChoice) -> create::Request {
    create::Request {
        name: args.name.name.clone(),
        version: target.version,
        replace: target.replace,
        description: args.description.clone(),
        selection: Selection {
            include: args.tables.clone(),
            exclude: args.exclude.clone(),
            schemas: args.schemas.clone(),
            strict_names: args.strict_names,
        },
        database: ctx.settings.database_named(),
        level: args.compression_level,
        jobs: args.jobs,
        base: target.base.clone(),
        subset: target.subset.clone(),
        mask: mask.clone(),
    }
}

async fn attempt(
    req: &create::Request,
    wait: bool,
    ctx: &Context,
    store: &Location,
) -> Result<(Header, Vec<Stored>), Error> {
    let mut session = connect(wait, ctx).await?;
    let connector = db::Connector {
        options: ctx.settings.connect_options(),
        url: &ctx.settings.database_url,
        printer: &ctx.printer,
        app: APP,
    };
    let result = create::write(req, store, &mut session, &connector, &ctx.printer).await;
    session.close().await;
    result
}

async fn connect(wait: bool, ctx: &Context) -> Result<db::Session, Error> {
    db::connect_with(
        &ctx.settings.connect_options(),
        &ctx.settings.database_url,
        &ctx.printer,
        APP,
        db::Access::ReadWrite,
        wait,
    )
    .await
}

/// `--dry-run`: the tables a create would read, with a slice per table the estimated
/// rows and why, and when masking every column's rule and why. Reads the schema and the
/// planner's estimates only; writes nothing.
async fn dry_run(
    args: &CreateArgs,
    ctx: &Context,
    rules: Option<crate::subset::Rules>,
    mask: MaskChoice,
) -> Result<u8, Error> {
    let mut session = db::connect_with(
        &ctx.settings.connect_options(),
        &ctx.settings.database_url,
        &ctx.printer,
        APP,
        db::Access::ReadOnly,
        false,
    )
    .await?;
    let req = request(args, ctx, &Target { version: 1, replace: false, base: None, subset: rules }, &mask);
    let result = create::dry_run(&req, &mut session, &ctx.printer).await;
    session.close().await;
    let run = result?;
    let no_key = matches!(&mask, MaskChoice::On { key: None, .. });
    let masking = run.plan.as_ref().map(masking::plan_json);
    match (&req.subset, &run.subset) {
        (Some(rules), Some(plan)) => {
            ctx.printer.data(subset::plan_text(&args.name.name, rules, plan).trim_end());
            ctx.printer.document(
                "snapshot create",
                json!({ "dry_run": true, "name": args.name.name,
                        "subset": create::subset_info(rules),
                        "tables": plan.tables, "problems": plan.problems,
                        "estimated_rows": plan.tables.iter().map(|t| t.estimated_rows).sum::<u64>(),
                        "masking": masking, "key_missing": no_key }),
            );
        }
        _ => {
            let mut text = format!(
                "snapshot '{}' would take every row of {}:\n",
                args.name.name,
                plural(run.tables.len() as u64, "table", "tables")
            );
            for (t, rows) in &run.tables {
                text.push_str(&format!("  {t} (about {rows} rows)\n"));
            }
            ctx.printer.data(text.trim_end());
            let list: Vec<_> = run
                .tables
                .iter()
                .map(|(t, rows)| {
                    json!({ "table": t.to_string(), "table_rows": rows, "estimated_rows": rows, "action": "whole" })
                })
                .collect();
            ctx.printer.document(
                "snapshot create",
                json!({ "dry_run": true, "name": args.name.name, "subset": null, "tables": list,
                        "masking": masking, "key_missing": no_key }),
            );
        }
    }
    if !ctx.printer.json_doc() {
        if let Some(plan) = &run.plan {
            masking::print_plan(&ctx.printer, plan);
        }
        if no_key {
            ctx.printer.warn(mask::key::missing().to_string());
        }
        if req.subset.is_none() {
            ctx.printer.info("nothing was read or written");
        }
    }
    Ok(code::OK)
}
