//! `seed snapshot prune`: removes snapshot versions by age and count. A version goes
//! when every rule given lets it go: older than `--older-than`, not among the newest
//! `--keep-last` versions of all, not among the newest `--keep-versions` of its name.
//! Only files that read as snapshots are considered (never corrupt or foreign files).
//!
//! A version a kept snapshot is built on is not pruned silently: prune refuses (exit
//! 13, naming both) unless `--rebase-dependents`, which folds it into the kept ones
//! first. A name whose lock is held is skipped with a warning (not waited for, unless
//! `--wait`), and so is every version a skipped snapshot is built on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::json;

use super::delete::has_dependents;
use crate::cli::PruneArgs;
use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::catalog::{Version, catalog, chain_names, headers, lock_names, want};
use crate::snapshot::format::Storage;
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::rebase::rebase;
use crate::snapshot::versions;

pub async fn run(args: PruneArgs, ctx: &Context) -> Result<u8, Error> {
    if args.older_than.is_none() && args.keep_last.is_none() && args.keep_versions.is_none() {
        return Err(Error::usage_hint(
            "prune needs --older-than, --keep-last and/or --keep-versions",
            "e.g. seed snapshot prune --older-than 30d --keep-last 5 --dry-run, or --keep-versions 3",
        ));
    }
    let store = ctx.location()?;
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

/// A readable version and what it is built on.
struct Node {
    v: Version,
    created: String,
    /// `NAME@N` of its base, when a table of it is read from there.
    base: Option<String>,
}

/// Every readable version, newest first.
async fn nodes(store: &Location) -> Result<Vec<Node>, Error> {
    let mut out = Vec::new();
    let all: Vec<Version> = catalog(store).await?.0.into_values().flatten().collect();
    // Only what a node needs is kept of each header.
    let read = headers(store, all, |v, h| {
        let h = h.ok()?;
        let base = h
            .base
            .as_ref()
            .filter(|_| h.tables.iter().any(|t| t.storage != Storage::Full))
            .map(|b| versions::label(&b.name, b.version));
        Some(Node { created: h.created_at, base, v })
    })
    .await?;
    out.extend(read.into_iter().flatten());
    // `created_at` has whole seconds: snapshots taken within one second are ordered by
    // when their files were written (a bucket's objects: when they were last written,
    // so a rebased one counts as new there), then by version.
    out.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| b.v.modified.cmp(&a.v.modified))
            .then_with(|| b.v.version.cmp(&a.v.version))
            .then_with(|| b.v.name.cmp(&a.v.name))
    });
    Ok(out)
}

/// What a prune would do.
struct Plan {
    /// Labels of the versions to remove.
    going: BTreeSet<String>,
    /// Kept snapshots built on a version that goes: (dependent's index in the nodes,
    /// the base it uses).
    outside: Vec<(usize, String)>,
}

/// The versions the rules let go, minus those of `skipped` names and everything a
/// snapshot of a skipped name is built on.
fn plan(args: &PruneArgs, nodes: &[Node], skipped: &BTreeSet<String>) -> Plan {
    let cutoff = args.older_than.map(|d| chrono::DateTime::<chrono::Utc>::from(SystemTime::now() - d));
    // Within a name, the newest versions are the highest numbers.
    let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for n in nodes {
        by_name.entry(n.v.name.as_str()).or_default().push(n.v.version);
    }
    for v in by_name.values_mut() {
        v.sort_unstable_by(|a, b| b.cmp(a));
    }
    let mut going = BTreeSet::new();
    for (i, n) in nodes.iter().enumerate() {
        let in_name = by_name[n.v.name.as_str()].iter().position(|&v| v == n.v.version).unwrap_or(0);
        let kept = args.keep_last.is_some_and(|k| i < k)
            || args.keep_versions.is_some_and(|k| in_name < k)
            || cutoff.is_some_and(|c| chrono::DateTime::parse_from_rfc3339(&n.created).map_or(true, |t| t >= c))
            || skipped.contains(&n.v.name);
        if !kept {
            going.insert(n.v.label());
        }
    }
    let by_label: BTreeMap<String, usize> = nodes.iter().enumerate().map(|(i, n)| (n.v.label(), i)).collect();
    loop {
        let outside: Vec<(usize, String)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| !going.contains(&n.v.label()))
            .filter_map(|(i, n)| n.base.clone().filter(|b| going.contains(b)).map(|b| (i, b)))
            .collect();
        // A dependent that cannot be rewritten (its name is skipped) keeps its chain.
        let blocked: Vec<usize> =
            outside.iter().filter(|(i, _)| skipped.contains(&nodes[*i].v.name)).map(|(i, _)| *i).collect();
        if blocked.is_empty() {
            return Plan { going, outside };
        }
        for i in blocked {
            let mut base = nodes[i].base.clone();
            while let Some(b) = base {
                going.remove(&b);
                base = by_label.get(&b).and_then(|&j| nodes[j].base.clone());
            }
        }
    }
}

async fn prune(args: &PruneArgs, ctx: &Context, store: &Location) -> Result<Vec<String>, Error> {
    let mut skipped = BTreeSet::new();
    let mut held_by: BTreeMap<String, Option<String>> = BTreeMap::new();
    loop {
        let all = nodes(store).await?;
        let p = plan(args, &all, &skipped);
        if !p.outside.is_empty() && !args.rebase_dependents {
            let outside: Vec<(Version, String)> =
                p.outside.iter().map(|(i, b)| (all[*i].v.clone(), b.clone())).collect();
            return Err(has_dependents("cannot prune", &outside, "--rebase-dependents"));
        }
        let mut names = BTreeMap::new();
        for n in all.iter().filter(|n| p.going.contains(&n.v.label())) {
            want(&mut names, &n.v.name, Mode::Exclusive);
        }
        for (i, _) in &p.outside {
            want(&mut names, &all[*i].v.name, Mode::Exclusive);
            for name in chain_names(store, &all[*i].v).await {
                want(&mut names, &name, Mode::Shared);
            }
        }
        if args.dry_run {
            return Ok(report_dry_run(ctx, &all, &p));
        }
        // One name at a time, so a held one can be skipped; then the plan is made
        // again under the locks, and carried out only if it needs nothing more.
        let mut locks = Vec::new();
        let mut newly_skipped = false;
        for (name, mode) in &names {
            let one = BTreeMap::from([(name.clone(), *mode)]);
            match lock_names(&ctx.printer, store, &one, args.lock.wait, &format!("seed snapshot prune ({name})")).await
            {
                Ok(l) => locks.push(l),
                Err(Error::LockHeld { holder, .. }) => {
                    held_by.insert(name.clone(), holder);
                    newly_skipped |= skipped.insert(name.clone());
                }
                Err(e) => return Err(e),
            }
        }
        if newly_skipped {
            continue;
        }
        let fresh = nodes(store).await?;
        let again = plan(args, &fresh, &skipped);
        if again.going != p.going || again.outside != p.outside {
            continue; // something changed before the locks were ours
        }
        for (name, holder) in &held_by {
            ctx.printer.warn(format!(
                "skipped {name}: it is locked{}",
                holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default()
            ));
        }
        return execute(ctx, store, &fresh, &again).await;
    }
}

fn report_dry_run(ctx: &Context, all: &[Node], p: &Plan) -> Vec<String> {
    let mut removed = Vec::new();
    for (i, base) in &p.outside {
        ctx.printer.data(&format!("would rebase {} (built on {base}) so it no longer needs it", all[*i].v.label()));
    }
    for n in all.iter().filter(|n| p.going.contains(&n.v.label())) {
        ctx.printer.data(&format!("would remove {} (created {}, {})", n.v.label(), n.created, human_bytes(n.v.size)));
        removed.push(n.v.label());
    }
    let rebased: Vec<String> = p.outside.iter().map(|(i, _)| all[*i].v.label()).collect();
    summary(ctx, &removed, &rebased, all.len(), true);
    removed
}

fn summary(ctx: &Context, removed: &[String], rebased: &[String], total: usize, dry_run: bool) {
    let summary = json!({ "removed": removed, "rebased": rebased, "dry_run": dry_run, "kept": total - removed.len() });
    ctx.printer.document("snapshot prune", summary.clone());
    ctx.printer.event(Level::Info, "prune_summary", summary, || {
        let verb = if dry_run { "would remove" } else { "removed" };
        format!("{verb} {} of {}", removed.len(), plural(total as u64, "snapshot", "snapshots"))
    });
}

async fn execute(ctx: &Context, store: &Location, all: &[Node], p: &Plan) -> Result<Vec<String>, Error> {
    for (i, base) in &p.outside {
        let d = &all[*i].v;
        let done = rebase(store, d, &p.going).await?;
        let mut now =
            done.new_base.as_deref().map_or_else(|| "now a full snapshot".to_owned(), |b| format!("now built on {b}"));
        if done.expanded > 0 {
            now.push_str(&format!(" ({} now stored in full)", plural(done.expanded as u64, "table", "tables")));
        }
        ctx.printer.data(&format!("rebased {} off {base}: {now}", d.label()));
    }
    // Dependents before their bases, so no snapshot left behind lacks its base.
    let going: Vec<&Node> = all.iter().filter(|n| p.going.contains(&n.v.label())).collect();
    let mut waiting: BTreeMap<String, usize> = going.iter().map(|n| (n.v.label(), 0)).collect();
    for n in &going {
        if let Some(b) = n.base.as_ref().and_then(|b| waiting.get_mut(b)) {
            *b += 1;
        }
    }
    let mut removed = Vec::new();
    while removed.len() < going.len() {
        let Some(n) = going.iter().find(|n| waiting.get(&n.v.label()) == Some(&0)) else {
            return Err(Error::Internal("snapshots built on each other in a cycle".into()));
        };
        let label = n.v.label();
        store.delete(&n.v.key).await?;
        ctx.printer.data(&format!("removed {label} (created {}, {})", n.created, human_bytes(n.v.size)));
        waiting.remove(&label);
        if let Some(b) = n.base.as_ref().and_then(|b| waiting.get_mut(b)) {
            *b -= 1;
        }
        removed.push(label);
    }
    let rebased: Vec<String> = p.outside.iter().map(|(i, _)| all[*i].v.label()).collect();
    summary(ctx, &removed, &rebased, all.len(), false);
    Ok(removed)
}
