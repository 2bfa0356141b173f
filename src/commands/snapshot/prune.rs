//! `seed snapshot prune`: removes snapshots older than a cutoff, always keeping the
//! newest N. Only files that read as snapshots are considered (never corrupt or
//! foreign files); a snapshot whose lock is held is skipped, not waited for.

use std::time::SystemTime;

use serde_json::json;

use super::{AuditGuard, location};
use crate::Context;
use crate::cli::PruneArgs;
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::names::name_of_key;
use crate::snapshot::reader::read_header_from;

pub async fn run(args: PruneArgs, ctx: &Context) -> Result<u8, Error> {
    if args.older_than.is_none() && args.keep_last.is_none() {
        return Err(Error::usage_hint(
            "prune needs --older-than and/or --keep-last",
            "e.g. seed snapshot prune --older-than 30d --keep-last 5 --dry-run",
        ));
    }
    let store = location(ctx)?;
    let mut audit = AuditGuard::new(ctx, &store, "snapshot prune", None, None);
    let result = prune(&args, ctx, &store).await;
    match &result {
        Ok(removed) if !args.dry_run => audit.set_name(Some(removed.join(","))),
        _ => {}
    }
    if args.dry_run {
        // A dry run changes nothing: no audit line either.
        audit.cancel();
    } else {
        audit.finish(&result).await;
    }
    result.map(|_| code::OK)
}

async fn prune(args: &PruneArgs, ctx: &Context, store: &Location) -> Result<Vec<String>, Error> {
    // (created, name, size, file modified) of readable snapshots, newest first.
    let mut snaps: Vec<(String, String, u64, SystemTime)> = Vec::new();
    for info in store.list().await? {
        let Some(name) = name_of_key(&info.key) else { continue };
        let Ok(Some(src)) = store.open_key(&info.key).await else { continue };
        if let Ok(h) = tokio::task::block_in_place(|| read_header_from(src.as_ref())) {
            snaps.push((h.created_at, name.to_owned(), info.size, info.modified));
        }
    }
    // `created_at` has whole seconds: snapshots taken within one second are ordered by
    // when their files were written, not by name.
    snaps.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.3.cmp(&a.3)).then_with(|| b.1.cmp(&a.1)));
    let cutoff = args.older_than.map(|d| chrono::DateTime::<chrono::Utc>::from(SystemTime::now() - d));
    let keep = args.keep_last.unwrap_or(0);
    let mut removed = Vec::new();
    for (i, (created, name, size, _)) in snaps.iter().enumerate() {
        if i < keep {
            continue;
        }
        if let Some(cutoff) = cutoff {
            let Ok(t) = chrono::DateTime::parse_from_rfc3339(created) else { continue };
            if t >= cutoff {
                continue;
            }
        }
        if args.dry_run {
            ctx.printer.data(&format!("would remove {name} (created {created}, {})", human_bytes(*size)));
            removed.push(name.clone());
            continue;
        }
        let guard =
            match store.lock(name, Mode::Exclusive, args.lock.wait, &format!("seed snapshot prune ({name})")).await {
                Ok(g) => g,
                Err(Error::LockHeld { holder, .. }) => {
                    ctx.printer.warn(format!(
                        "skipped {name}: it is locked{}",
                        holder.map(|h| format!(" by {h}")).unwrap_or_default()
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
        store.delete(&crate::snapshot::names::key_for(name)).await?;
        drop(guard);
        ctx.printer.data(&format!("removed {name} (created {created}, {})", human_bytes(*size)));
        removed.push(name.clone());
    }
    let summary = json!({ "removed": removed, "dry_run": args.dry_run, "kept": snaps.len() - removed.len() });
    ctx.printer.document("snapshot prune", summary.clone());
    ctx.printer.event(Level::Info, "prune_summary", summary, || {
        let verb = if args.dry_run { "would remove" } else { "removed" };
        format!("{verb} {} of {}", removed.len(), plural(snaps.len() as u64, "snapshot", "snapshots"))
    });
    Ok(removed)
}
