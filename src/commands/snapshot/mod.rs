//! `seed snapshot ...`: one file per verb. Shared here: opening the location and a
//! snapshot in it, the audit record every changing command leaves, choosing tables.

pub mod create;
mod delete;
mod diff;
mod list;
mod preflight;
pub mod profile;
mod prune;
mod pull;
mod push;
pub mod restore;
mod show;
mod verify;

use std::time::Instant;

use serde_json::json;

use crate::Context;
use crate::cli::SnapshotCommand;
use crate::error::{Error, code};
use crate::output::{Level, Printer, human_bytes, plural};
use crate::snapshot::audit::{AuditRecord, Outcome};
use crate::snapshot::catalog::{self, Opened};
use crate::snapshot::copy::{Copied, copy_chain};
use crate::snapshot::location::{Location, pending};

pub async fn run(command: SnapshotCommand, ctx: &Context) -> Result<u8, Error> {
    location(ctx)?.check()?;
    match command {
        SnapshotCommand::Create(args) => create::run(args, ctx).await,
        SnapshotCommand::List(args) => list::run(&args, ctx).await,
        SnapshotCommand::Show(args) => show::run(args, ctx).await,
        SnapshotCommand::Verify(args) => verify::run(args, ctx).await,
        SnapshotCommand::Delete(args) => delete::run(args, ctx).await,
        SnapshotCommand::Prune(args) => prune::run(args, ctx).await,
        SnapshotCommand::Restore(args) => restore::run(args, ctx).await,
        SnapshotCommand::Diff(args) => diff::run(&args, ctx).await,
        SnapshotCommand::Push(args) => push::run(args, ctx).await,
        SnapshotCommand::Pull(args) => pull::run(args, ctx).await,
        SnapshotCommand::Profile(args) => profile::run(args, ctx).await,
    }
}

/// The snapshot location of `--snapshot-dir` (a directory or a bucket).
pub fn location(ctx: &Context) -> Result<Location, Error> {
    Location::open(&ctx.settings.snapshot_dir)
}

/// `push` and `pull`: `name` copied from `from` to `to` with its chain (see
/// `snapshot::copy`), audited in `to` and reported.
async fn copy(
    command: &'static str,
    name: &str,
    from: &Location,
    to: &Location,
    force: bool,
    wait: bool,
    ctx: &Context,
) -> Result<u8, Error> {
    if from.same_as(to) {
        return Err(Error::usage(format!(
            "{command}: {} is the snapshot location itself; name another place",
            from.display().display()
        )));
    }
    to.check()?;
    let audit = AuditGuard::new(ctx, to, command, Some(name.to_owned()), None);
    let result = copy_chain(&ctx.printer, command, name, from, to, force, wait).await;
    if let Ok(copied) = &result {
        report_copy(ctx, command, from, to, copied);
    }
    audit.finish(&result).await;
    result.map(|_| code::OK)
}

fn report_copy(ctx: &Context, command: &str, from: &Location, to: &Location, copied: &Copied) {
    let Copied { top, bases, bytes, elapsed } = copied;
    let bytes = *bytes;
    let shown_dest = to.display_key(&top.key).display().to_string();
    let secs = elapsed.as_secs_f64();
    let verb = if command.ends_with("push") { "pushed" } else { "pulled" };
    // Version 1 is named as the user knows it from before versions: by its name.
    let shown = if top.version == 1 { top.name.clone() } else { top.label() };
    ctx.printer.event(
        Level::Info,
        "snapshot_copied",
        json!({ "name": top.name, "version": top.version, "from": from.display_key(&top.key).display().to_string(),
                "to": shown_dest, "bytes": bytes, "bases": bases, "verified": true,
                "seconds": (secs * 1000.0).round() / 1000.0 }),
        || {
            let with = if bases.is_empty() {
                String::new()
            } else {
                format!(
                    " with {} it is built on ({})",
                    plural(bases.len() as u64, "snapshot", "snapshots"),
                    bases.join(", ")
                )
            };
            format!(
                "{verb} snapshot '{shown}'{with} ({}, every table verified) to {shown_dest} in {secs:.2}s",
                human_bytes(bytes)
            )
        },
    );
}

/// Opens `text` (`NAME` or `NAME@N`) in the snapshot location with its chain, every
/// name in it locked shared (see `catalog::open_chain`).
pub async fn open_chain(ctx: &Context, text: &str, wait: bool, command: &str) -> Result<Opened, Error> {
    catalog::open_chain(location(ctx)?, &ctx.printer, text, wait, command).await
}

/// Writes one audit record when the command ends — also when it is interrupted (the
/// guard is dropped with the command's future; the outcome is then `interrupted`). A
/// failed write is an `audit_failed` warning naming where and why; the command's own
/// outcome and exit code stay what they were.
pub struct AuditGuard {
    location: Location,
    command: &'static str,
    name: Option<String>,
    database: Option<String>,
    started: Instant,
    printer: Printer,
    done: bool,
}

impl AuditGuard {
    pub fn new(
        ctx: &Context,
        location: &Location,
        command: &'static str,
        name: Option<String>,
        database: Option<String>,
    ) -> Self {
        Self {
            location: location.clone(),
            command,
            name,
            database,
            started: Instant::now(),
            printer: ctx.printer.clone(),
            done: false,
        }
    }

    /// Names the snapshots a prune removed.
    pub fn set_name(&mut self, name: Option<String>) {
        self.name = name;
    }

    /// Nothing happened worth recording (a dry run).
    pub fn cancel(mut self) {
        self.done = true;
    }

    pub async fn finish<T>(mut self, result: &Result<T, Error>) {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(Error::Interrupted) => Outcome::Interrupted,
            Err(e) => Outcome::Error(e.to_string().lines().next().unwrap_or_default().to_owned()),
        };
        self.done = true;
        write_audit(self.record(outcome)).await;
    }

    fn record(&self, outcome: Outcome) -> AuditWrite {
        AuditWrite {
            location: self.location.clone(),
            command: self.command,
            name: self.name.clone(),
            printer: self.printer.clone(),
            record: AuditRecord::new(
                self.command,
                self.name.clone(),
                self.database.clone(),
                outcome,
                self.started.elapsed(),
            ),
        }
    }
}

struct AuditWrite {
    location: Location,
    command: &'static str,
    name: Option<String>,
    printer: Printer,
    record: AuditRecord,
}

async fn write_audit(w: AuditWrite) {
    let Err((path, reason)) = w.location.audit(&w.record).await else { return };
    let label = w.record.outcome.clone();
    w.printer.event(
        Level::Warn,
        "audit_failed",
        json!({ "path": path, "reason": reason, "command": w.command, "name": w.name, "outcome": label }),
        || {
            format!(
                "could not write the audit log {path}: {reason}; seed {} ended {label} but is not recorded there (its exit code does not change)",
                w.command
            )
        },
    );
}

impl Drop for AuditGuard {
    /// Dropped without `finish`: the command's future was dropped by SIGINT/SIGTERM.
    fn drop(&mut self) {
        if !self.done {
            pending::spawn(write_audit(self.record(Outcome::Interrupted)));
        }
    }
}
