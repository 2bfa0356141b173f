//! `seed clone NAME [--count N]`: fresh databases identical to the template `seed prepare
//! NAME --template` kept; `--drop URL…` and `--gc [--older-than D]` remove them.
//!
//! The fast path is one connection to the source: read the template's record, compare
//! the source's fingerprint (schema and migration rows) with it, copy. When they differ
//! the template is stale: one caller takes the template's lock and prepares it again
//! (restoring or seeding by the options the record keeps) while the others wait
//! (`--wait`) or exit 8 naming it.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::CloneArgs;
use crate::commands::{pool, prepare, template};
use crate::context::Context;
use crate::db::template::{BUILDING, Names, Record, is_clone_of, parse_clone_name, pool_tag};
use crate::db::url::DbUrl;
use crate::db::{self, Session};
use crate::error::{Error, code};
use crate::output::{Level, plural};

pub async fn run(args: CloneArgs, ctx: &Context) -> Result<u8, Error> {
    if !args.drop.is_empty() {
        return drop_clones(&args.drop, ctx).await;
    }
    if args.gc {
        return gc(args.older_than, ctx).await;
    }
    let name = args.name.as_deref().unwrap_or_default();
    if let Some(size) = args.pool.filter(|_| args.fill || args.refill) {
        pool::fill(ctx, name, size, args.fill).await?;
        return Ok(code::OK);
    }
    let started = Instant::now();
    let (source, names, template) = template::names(ctx, name)?;
    let mut session = db::connect(&ctx.settings.connect_options(), &source, &ctx.printer, "seed clone").await?;
    let (record, fresh) = match look(&mut session, ctx, name, &source, &template).await {
        Ok(found) => found,
        Err(e) => {
            session.close().await;
            return Err(e);
        }
    };
    let mut rebuilt = false;
    let record = match record {
        Some(record) if fresh => record,
        _ => {
            session.close().await;
            let (record, did) = rebuild(ctx, name, &source, &names, &template, args.wait).await?;
            rebuilt = did;
            session = db::connect(&ctx.settings.connect_options(), &source, &ctx.printer, "seed clone").await?;
            record
        }
    };
    let mut made: Vec<DbUrl> = Vec::new();
    let tag = pool_tag(&record);
    let mut from_pool = 0;
    let result = async {
        for _ in 0..args.count {
            let clone = source.sibling(&names.clone_name(chrono::Utc::now()))?;
            // A ready clone when the pool has one of this template, else a copy now.
            if args.pool.is_some()
                && from_pool == made.len()
                && session.claim_ready(&names.prefix(), &tag, &clone).await?
            {
                from_pool += 1;
            } else {
                session.clone_template(&template, &clone, &record).await?;
            }
            made.push(clone);
        }
        Ok::<(), Error>(())
    }
    .await;
    session.close().await;
    if let Err(e) = result {
        // What --count made before the failure is dropped: the caller gets all or nothing.
        if !made.is_empty() {
            drop_quietly(ctx, &source, &made).await;
        }
        return Err(e);
    }
    report(ctx, &template, &record, &made, rebuilt, from_pool, started.elapsed());
    if args.pool.is_some() {
        pool::spawn_refill(ctx);
    }
    Ok(code::OK)
}

/// The template's record and whether it is fresh (the source's fingerprint unchanged).
async fn look(
    session: &mut Session,
    ctx: &Context,
    name: &str,
    source: &DbUrl,
    template: &DbUrl,
) -> Result<(Option<Record>, bool), Error> {
    let missing = || Error::TemplateMissing {
        name: name.to_owned(),
        database: source.to_string(),
        template: template.database_name(),
    };
    let text = session.template_record(template).await?.ok_or_else(missing)?;
    if text == BUILDING {
        // Being rebuilt in place (MariaDB): wait for the rebuild's lock.
        return Ok((None, false));
    }
    let Some(record) = Record::parse(&text) else {
        return Err(Error::usage_hint(
            format!(
                "{} exists but carries no record of this seed (made by hand, or by another version)",
                template.database_name()
            ),
            format!("keep it again: `seed prepare {name} --template [options]`"),
        ));
    };
    let now = session.fingerprint(&record.migration_tables).await?;
    let fresh = now == record.fingerprint;
    if !fresh {
        ctx.printer.info(format!(
            "the schema or migration version of {source} changed since template {} was kept: rebuilding it",
            template.database_name()
        ));
    }
    Ok((Some(record), fresh))
}

/// Prepares the source again and keeps it as the template, under the template's lock;
/// returns the record to clone by and whether this caller rebuilt.
async fn rebuild(
    ctx: &Context,
    name: &str,
    source: &DbUrl,
    names: &Names,
    template: &DbUrl,
    wait: bool,
) -> Result<(Record, bool), Error> {
    let mut work = template::connect_work(ctx, source).await?;
    let result = async {
        let lock = match work.lock_template(template, false).await {
            Ok(lock) => lock,
            Err(Error::LockHeld { holder, .. }) if wait => {
                let who = holder.unwrap_or_else(|| "another caller".into());
                ctx.printer.info(format!("waiting for {who} to rebuild template {}", template.database_name()));
                work.lock_template(template, true).await?
            }
            Err(e) => return Err(e),
        };
        // Another caller may have rebuilt it while we waited.
        let text = work.template_record(template).await?;
        if text.as_deref() == Some(BUILDING) {
            return Err(Error::usage_hint(
                format!("template {} was left half-built by a rebuild that did not finish", template.database_name()),
                format!("keep it again: `seed prepare {name} --template [options]`"),
            ));
        }
        let record = text.as_deref().and_then(Record::parse).ok_or_else(|| Error::TemplateMissing {
            name: name.to_owned(),
            database: source.to_string(),
            template: template.database_name(),
        })?;
        if template::fingerprint(ctx, source, &record.migration_tables).await? == record.fingerprint {
            return Ok((record, false));
        }
        let args = prepare::args_from_record(name, &record.args, wait)?;
        let started = Instant::now();
        let key = prepare::execute(&args, ctx, false).await?;
        let kept = template::keep_locked(ctx, &mut work, source, names, name, record.args.clone(), &key).await?;
        drop(lock);
        ctx.printer.event(
            Level::Info,
            "template_rebuilt",
            json!({ "template": template.database_name(), "key": key, "seconds": started.elapsed().as_secs_f64() }),
            || format!("rebuilt template {} in {:.2}s", kept.describe(), started.elapsed().as_secs_f64()),
        );
        Ok((kept.record, true))
    }
    .await;
    work.close().await;
    result
}

fn report(
    ctx: &Context,
    template: &DbUrl,
    record: &Record,
    made: &[DbUrl],
    rebuilt: bool,
    from_pool: usize,
    elapsed: Duration,
) {
    ctx.printer.event(
        Level::Debug,
        "cloned",
        json!({ "template": template.database_name(), "databases": made.iter().map(DbUrl::database_name).collect::<Vec<_>>(),
                "strategy": record.strategy, "from_pool": from_pool, "ms": elapsed.as_millis() }),
        || {
            format!(
                "cloned template {} into {} ({from_pool} from the pool) in {} ms",
                template.database_name(),
                plural(made.len() as u64, "database", "databases"),
                elapsed.as_millis()
            )
        },
    );
    // The URLs carry the caller's own credentials: they are the data asked for.
    let urls: Vec<&str> = made.iter().map(DbUrl::expose).collect();
    if ctx.printer.json_doc() {
        ctx.printer.secret_document(
            "clone",
            json!({
                "urls": urls,
                "databases": made.iter().map(DbUrl::database_name).collect::<Vec<_>>(),
                "template": template.database_name(),
                "rebuilt": rebuilt,
                "from_pool": from_pool,
                "key": record.key,
                "seconds": (elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            }),
        );
    } else {
        ctx.printer.secret_data(&urls.join("\n"));
    }
}

/// `--drop URL…`: every URL is checked before anything is dropped.
async fn drop_clones(raw: &[String], ctx: &Context) -> Result<u8, Error> {
    let mut urls = Vec::new();
    for r in raw {
        let url = DbUrl::parse(r)?;
        let stem = url.database_stem();
        if parse_clone_name(&stem).is_none() {
            return Err(Error::usage_hint(
                format!(
                    "{url} is not a clone seed made (its name {stem} is not of seed's clone shape); nothing was dropped"
                ),
                "`seed clone --drop` drops only databases `seed clone` printed",
            ));
        }
        urls.push(url);
    }
    let mut dropped = Vec::new();
    for url in &urls {
        let mut work = template::connect_work(ctx, url).await?;
        let result = work.drop_database(url).await;
        work.close().await;
        if result? {
            dropped.push(url.database_name());
        } else {
            ctx.printer.warn(format!("{url} was not there (dropped already?)"));
        }
    }
    finish_drop(ctx, "clone_dropped", &dropped);
    Ok(code::OK)
}

fn finish_drop(ctx: &Context, event: &str, dropped: &[String]) {
    ctx.printer.event(Level::Info, event, json!({ "databases": dropped }), || {
        if dropped.is_empty() {
            "nothing to drop".to_owned()
        } else {
            format!("dropped {}: {}", plural(dropped.len() as u64, "clone", "clones"), dropped.join(", "))
        }
    });
    ctx.printer.document("clone", json!({ "dropped": dropped }));
}

/// Best effort, after a failure: the error that caused it is what the caller hears.
async fn drop_quietly(ctx: &Context, source: &DbUrl, made: &[DbUrl]) {
    if let Ok(mut work) = template::connect_work(ctx, source).await {
        for url in made {
            let _ = work.drop_database(url).await;
        }
        work.close().await;
    }
}

/// `--gc`: seed's clones of the source database (older than `older_than`), and what a
/// killed clone or rebuild left — unless a rebuild is under way (its lock is held).
async fn gc(older_than: Option<Duration>, ctx: &Context) -> Result<u8, Error> {
    let source = ctx.settings.write_url().clone();
    let stem = source.database_stem();
    let mut work = template::connect_work(ctx, &source).await?;
    let result = async {
        let cutoff = older_than.and_then(|d| chrono::Duration::from_std(d).ok()).map(|d| chrono::Utc::now() - d);
        let mut dropped = Vec::new();
        for name in work.sibling_databases().await? {
            let Some(clone) = parse_clone_name(&name).filter(|_| is_clone_of(&stem, &name)) else { continue };
            if cutoff.is_some_and(|c| clone.created > c) {
                continue;
            }
            if clone.leftover && rebuild_under_way(&mut work, &source, &name).await? {
                ctx.printer.info(format!("{name} is a template or ready clone being built right now: left alone"));
                continue;
            }
            let url = source.sibling(&name)?;
            if work.drop_database(&url).await? {
                dropped.push(name);
            }
        }
        Ok::<_, Error>(dropped)
    }
    .await;
    work.close().await;
    finish_drop(ctx, "clones_collected", &result?);
    Ok(code::OK)
}

/// Whether the template a leftover `…_new` / `…_old` belongs to is locked by a rebuild
/// or its pool by a refill.
async fn rebuild_under_way(work: &mut Session, source: &DbUrl, leftover: &str) -> Result<bool, Error> {
    // `<base>_<time>_<random>_new` belongs to `<base>_tpl`.
    let base = leftover.rsplitn(4, '_').nth(3).unwrap_or_default();
    let template = source.sibling(&format!("{base}_tpl"))?;
    match work.lock_template(&template, false).await {
        Ok(_) => work.refill_under_way(&template).await,
        Err(Error::LockHeld { .. }) => Ok(true),
        Err(e) => Err(e),
    }
}
