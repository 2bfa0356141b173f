//! `seed snapshot ...`: one file per verb. Shared here: opening the location and a
//! snapshot in it, the audit record every changing command leaves, choosing tables.

pub mod catalog;
pub mod create;
mod delete;
mod diff;
mod list;
mod mask;
pub mod masking;
mod preflight;
pub mod profile;
mod prune;
mod rebase;
pub mod restore;
mod show;
pub mod subset;
mod transfer;
mod verify;

use std::time::Instant;

use serde_json::json;

use crate::Context;
use crate::cli::SnapshotCommand;
use crate::error::Error;
use crate::output::{Level, Printer};
use crate::snapshot::audit::{AuditRecord, Outcome};
use crate::snapshot::location::{Location, LockGuard, pending};

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
        SnapshotCommand::Push(args) => transfer::push(args, ctx).await,
        SnapshotCommand::Pull(args) => transfer::pull(args, ctx).await,
        SnapshotCommand::Profile(args) => profile::run(args, ctx).await,
        SnapshotCommand::Mask(args) => mask::run(args, ctx).await,
    }
}

/// The snapshot location of `--snapshot-dir` (a directory or a bucket).
pub fn location(ctx: &Context) -> Result<Location, Error> {
    Location::open(&ctx.settings.snapshot_dir)
}

/// A reader in a location where its lock cannot be written goes on without the lock;
/// `-v` says so.
pub fn report_unlocked(ctx: &Context, guard: &LockGuard) {
    if let Some(reason) = guard.unlocked_reason() {
        let path = guard.display();
        ctx.printer.event(Level::Debug, "lock_skipped", json!({ "path": path, "reason": reason }), || {
            format!("reading without a shared lock: {path} cannot be opened ({reason})")
        });
    }
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
