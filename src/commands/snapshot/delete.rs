//! `seed snapshot delete NAME[@N]`: every version of a name, or one version, under the
//! name's exclusive lock. A version other snapshots are built on is refused (naming
//! them, exit 13) unless `--rebase-dependents` folds it into them first. Versions go
//! newest first, so no snapshot left behind ever lacks its base, even after a crash.
//! The same in a directory and in a bucket: each step (a rebased dependent replacing
//! its old key, one key removed) is atomic on its own, and the steps are ordered so
//! that every state in between is whole.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::cli::DeleteArgs;
use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::catalog::{Version, chain_names, dependents, lock_names, versions_of, want};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::rebase::rebase;
use crate::snapshot::reference::SnapshotRef;

pub async fn run(args: DeleteArgs, ctx: &Context) -> Result<u8, Error> {
    let r = &args.name;
    let store = ctx.location()?;
    let audit = AuditGuard::new(ctx, &store, "snapshot delete", Some(args.name.to_string()), None);
    let result = delete(&args, r, ctx, &store).await;
    if args.dry_run {
        audit.cancel(); // nothing changed: nothing to record
    } else {
        audit.finish(&result).await;
    }
    result
}

/// Snapshots outside `going` built on a version in it.
async fn outside_dependents(store: &Location, going: &[Version]) -> Result<Vec<(Version, String)>, Error> {
    let labels: BTreeSet<String> = going.iter().map(Version::label).collect();
    let mut out: Vec<(Version, String)> = Vec::new();
    for v in going {
        for d in dependents(store, &v.name, v.version).await? {
            if !labels.contains(&d.label()) && !out.iter().any(|(o, _)| o.label() == d.label()) {
                out.push((d, v.label()));
            }
        }
    }
    Ok(out)
}

/// The refusal for deleting `going` while `outside` is built on it.
pub fn has_dependents(action: &str, outside: &[(Version, String)], flag_hint: &str) -> Error {
    let bases: BTreeSet<&str> = outside.iter().map(|(_, b)| b.as_str()).collect();
    Error::HasDependents {
        action: action.to_owned(),
        target: bases.into_iter().collect::<Vec<_>>().join("', '"),
        dependents: outside.iter().map(|(d, _)| d.label()).collect(),
        hint: format!(
            "{flag_hint} folds it into them first (they are rewritten to hold what they read from it, then it goes); \
             or delete them first"
        ),
    }
}

async fn delete(args: &DeleteArgs, r: &SnapshotRef, ctx: &Context, store: &Location) -> Result<u8, Error> {
    let command = format!("seed snapshot delete {r}");
    let missing = || Error::SnapshotMissing { name: r.to_string(), dir: store.display() };
    // Looked for first, so nothing (not even a lock) is written where nothing is.
    if !versions_of(store, &r.name).await?.iter().any(|v| r.version.is_none_or(|n| n == v.version)) {
        return Err(missing());
    }
    let mut names = BTreeMap::from([(r.name.clone(), Mode::Exclusive)]);
    loop {
        let locks = lock_names(&ctx.printer, store, &names, args.lock.wait, &command).await?;
        let all = versions_of(store, &r.name).await?;
        let going: Vec<Version> = all.into_iter().filter(|v| r.version.is_none_or(|n| n == v.version)).collect();
        if going.is_empty() {
            return Err(missing());
        }
        let outside = outside_dependents(store, &going).await?;
        if !outside.is_empty() && !args.rebase_dependents {
            return Err(has_dependents("cannot delete", &outside, "--rebase-dependents"));
        }
        // Rewriting a dependent needs its name exclusively and the names below it.
        let mut need = names.clone();
        for (d, _) in &outside {
            want(&mut need, &d.name, Mode::Exclusive);
            for n in chain_names(store, d).await {
                want(&mut need, &n, Mode::Shared);
            }
        }
        if need.iter().any(|(n, m)| !locks.covers(n, *m)) {
            drop(locks);
            names = need;
            continue;
        }
        return execute(args, r, ctx, store, &going, &outside).await;
    }
}

async fn execute(
    args: &DeleteArgs,
    r: &SnapshotRef,
    ctx: &Context,
    store: &Location,
    going: &[Version],
    outside: &[(Version, String)],
) -> Result<u8, Error> {
    let labels: BTreeSet<String> = going.iter().map(Version::label).collect();
    let what = if r.version.is_none() && going.len() > 1 {
        format!("{} of snapshot '{}'", plural(going.len() as u64, "version", "versions"), r.name)
    } else {
        format!("snapshot '{r}'")
    };
    if args.dry_run {
        let mut text = String::new();
        for (d, base) in outside {
            text.push_str(&format!("would rebase {} (built on {base}) so it no longer needs it\n", d.label()));
        }
        for v in going.iter().rev() {
            text.push_str(&format!("would delete {} ({}, {})\n", v.label(), v.file.display(), human_bytes(v.size)));
        }
        text.push_str(&format!("would delete {what}; nothing was changed (--dry-run)"));
        ctx.printer.data(&text);
        ctx.printer.document(
            "snapshot delete",
            json!({ "dry_run": true, "deleted": going.iter().map(doc_entry).collect::<Vec<_>>(),
                    "rebased": outside.iter().map(|(d, _)| d.label()).collect::<Vec<_>>() }),
        );
        return Ok(code::OK);
    }
    let mut rebased = Vec::new();
    for (d, base) in outside {
        let done = rebase(store, d, &labels).await?;
        let mut now =
            done.new_base.as_deref().map_or_else(|| "now a full snapshot".to_owned(), |b| format!("now built on {b}"));
        if done.expanded > 0 {
            now.push_str(&format!(" ({} now stored in full)", plural(done.expanded as u64, "table", "tables")));
        }
        ctx.printer.info(format!("rebased {} off {base}: {now}", d.label()));
        rebased.push(d.label());
    }
    for v in going.iter().rev() {
        store.delete(&v.key).await?;
    }
    let deleted: Vec<String> = going.iter().map(Version::label).collect();
    ctx.printer.document(
        "snapshot delete",
        json!({ "dry_run": false, "deleted": going.iter().map(doc_entry).collect::<Vec<_>>(), "rebased": rebased }),
    );
    ctx.printer.event(
        Level::Info,
        "snapshot_deleted",
        json!({ "name": r.name, "versions": deleted, "count": deleted.len(), "rebased": rebased }),
        || match going {
            [one] => format!("deleted {what} ({})", one.file.display()),
            _ => format!("deleted {what}: {}", deleted.join(", ")),
        },
    );
    Ok(code::OK)
}

/// One deleted version in the JSON document.
fn doc_entry(v: &Version) -> serde_json::Value {
    json!({ "name": v.name, "version": v.version, "label": v.label(), "file": v.file.display().to_string() })
}
