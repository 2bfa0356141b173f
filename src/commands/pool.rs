//! The pool of ready clones (`seed clone NAME --pool N`): a caller takes a ready clone
//! by a rename (db/postgres/pool.rs) and leaves the refill to a detached `seed` process,
//! so it waits for no copy. One refill works at a time (the pool's lock); a caller whose
//! refill finds the lock taken gives way, and the refill that holds it counts again
//! after letting go, so a claim made meanwhile is made good.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::commands::template;
use crate::context::Context;
use crate::db::template::{BUILDING, Names, Record, pool_tag};
use crate::db::url::DbUrl;
use crate::db::{PoolTargets, Session};
use crate::error::Error;
use crate::output::{Level, plural};

/// How many copies one refill makes at most before it stops (a template rebuilt over
/// and over would otherwise keep it copying).
const MAX_COPIES: u32 = 200;

/// Brings the pool of template `name` to `size` ready clones of the current template
/// (dropping those of an older one). With `wait` it waits for a refill under way, else
/// it leaves the work to it.
pub async fn fill(ctx: &Context, name: &str, size: u32, wait: bool) -> Result<u32, Error> {
    let (source, names, template) = template::names(ctx, name)?;
    let mut work = template::connect_work(ctx, &source).await?;
    let result = async {
        let mut made = 0;
        loop {
            if !work.lock_pool(&template, wait).await? {
                return Ok(made);
            }
            let filled = fill_locked(&mut work, &source, &names, &template, size).await;
            work.unlock_pool(&template).await?;
            made += filled?;
            // A caller that took one while the lock was held found it held and left.
            if ready_count(&mut work, &names, &template).await? >= size || made >= MAX_COPIES {
                return Ok(made);
            }
        }
    }
    .await;
    work.close().await;
    let made = result?;
    ctx.printer.event(
        Level::Info,
        "pool_filled",
        json!({ "template": template.database_name(), "made": made, "size": size }),
        || {
            format!(
                "pool of template {}: {} made",
                template.database_name(),
                plural(u64::from(made), "ready clone", "ready clones")
            )
        },
    );
    Ok(made)
}

/// The current template's record, or none (not there, or being rebuilt: nothing to copy).
async fn current(work: &mut Session, template: &DbUrl) -> Result<Option<Record>, Error> {
    let text = work.template_record(template).await?;
    Ok(text.filter(|t| t != BUILDING).as_deref().and_then(Record::parse))
}

async fn ready_count(work: &mut Session, names: &Names, template: &DbUrl) -> Result<u32, Error> {
    let Some(record) = current(work, template).await? else { return Ok(u32::MAX) };
    let tag = pool_tag(&record);
    let n = work.pool_members(&names.prefix()).await?.iter().filter(|(_, mark)| *mark == tag).count();
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

async fn fill_locked(
    work: &mut Session,
    source: &DbUrl,
    names: &Names,
    template: &DbUrl,
    size: u32,
) -> Result<u32, Error> {
    let mut made = 0;
    while made < MAX_COPIES {
        let Some(record) = current(work, template).await? else { return Ok(made) };
        let tag = pool_tag(&record);
        let mut ready = 0;
        for (member, mark) in work.pool_members(&names.prefix()).await? {
            if mark == tag {
                ready += 1;
            } else {
                // A copy of an older template: no caller takes it any more.
                work.drop_database(&source.sibling(&member)?).await?;
            }
        }
        if ready >= size {
            return Ok(made);
        }
        let now = chrono::Utc::now();
        let (building, ready_url) = (source.sibling(&names.building(now))?, source.sibling(&names.ready(now))?);
        let targets = PoolTargets { template, building: &building, ready: &ready_url };
        if work.make_ready(&targets, &tag, &record).await? {
            made += 1;
        }
    }
    Ok(made)
}

/// Starts the refill in a `seed` process of its own, detached from this one (its own
/// process group, no terminal, no pipes: `$(seed clone …)` and a test runner reading
/// this process's output return when it exits). It runs this call's command line again
/// with `--refill`, so it reaches the same database with the same settings.
pub fn spawn_refill(ctx: &Context) {
    use std::os::unix::process::CommandExt;
    let started = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(std::env::args_os().skip(1))
            .arg("--refill")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
    });
    if let Err(e) = started {
        ctx.printer.warn(format!("the pool's refill could not start ({e}); the next call copies the template itself"));
    }
}
