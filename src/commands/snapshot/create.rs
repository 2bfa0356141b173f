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

use crate::cli::CreateArgs;
use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::db;
use crate::db::retry::with_retry;
use crate::db::select::Selection;
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, human_count, plural};
use crate::snapshot::catalog::{
    Version, chain_names, dependents, lock_names, resolve, resolve_chain, versions_of, want,
};
use crate::snapshot::chain::{Chain, MAX_CHAIN_DEPTH};
use crate::snapshot::create::{self, Base, Stored};
use crate::snapshot::format::Header;
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::versions::{self, Ref};

/// The application name the database sees.
const APP: &str = "seed snapshot create";

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
    let store = ctx.location()?;
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
    base: Option<Base>,
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
    let _number = lock_names(&ctx.printer, store, &number, args.lock.wait, &command).await?;
    let mut names = BTreeMap::from([(args.name.clone(), if args.force { Mode::Exclusive } else { Mode::Shared })]);
    let (target, _locks) = loop {
        let locks = lock_names(&ctx.printer, store, &names, args.lock.wait, &command).await?;
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
            Some(b) => {
                base_chain(ctx, store, &b).await?.map(|chain| Base { name: b.name.clone(), version: b.version, chain })
            }
        };
        break (Target { version: target.0, replace: target.1, base }, locks);
    };
    ctx.settings.check_direct_url(&ctx.printer).await?;
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
        format!(
            "snapshot '{label}' created: {}, {}, {} of data in {} ({ratio:.1}x), {secs:.2}s ({} rows/s){incremental}\n  {}",
            plural(header.tables.len() as u64, "table", "tables"),
            plural(rows, "row", "rows"),
            human_bytes(raw),
            human_bytes(size),
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
        &ctx.settings.connect_options(),
        &ctx.settings.database_url,
        &ctx.printer,
        APP,
        db::Access::ReadWrite,
        args.lock.wait,
    )
    .await?;
    let req = create::Request {
        name: args.name.clone(),
        version: target.version,
        replace: target.replace,
        description: args.description.clone(),
        selection: Selection {
            include: args.tables.clone(),
            exclude: args.exclude.clone(),
            schemas: args.schemas.clone(),
        },
        level: args.compression_level,
        jobs: args.jobs,
        base: target.base.clone(),
    };
    let connector = db::Connector {
        options: ctx.settings.connect_options(),
        url: &ctx.settings.database_url,
        printer: &ctx.printer,
        app: APP,
    };
    let result = create::write(&req, store, &mut session, &connector, &ctx.printer).await;
    session.close().await;
    result
}
