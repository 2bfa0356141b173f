//! `seed snapshot ...`: one file per verb. Shared here: the audit record every
//! changing command leaves, and choosing tables.

mod catalog;
mod create;
mod delete;
mod diff;
mod incremental;
mod list;
mod preflight;
mod prune;
mod rebase;
mod restore;
mod show;
mod verify;

use std::time::Instant;

use serde_json::json;

use crate::Context;
use crate::cli::SnapshotCommand;
use crate::db::schema::{Schema, Table};
use crate::db::select::Selection;
use crate::error::Error;
use crate::output::{Level, Printer};
use crate::snapshot::audit::{self, AuditRecord, Outcome};
use crate::snapshot::lock::LockGuard;
use crate::snapshot::store::{AUDIT_LOG, Store};

pub async fn run(command: SnapshotCommand, ctx: &Context) -> Result<u8, Error> {
    store(ctx).check_dir()?;
    match command {
        SnapshotCommand::Create(args) => create::run(args, ctx).await,
        SnapshotCommand::List(args) => list::run(&args, ctx),
        SnapshotCommand::Show(args) => show::run(args, ctx).await,
        SnapshotCommand::Verify(args) => verify::run(args, ctx).await,
        SnapshotCommand::Delete(args) => delete::run(args, ctx).await,
        SnapshotCommand::Prune(args) => prune::run(args, ctx).await,
        SnapshotCommand::Restore(args) => restore::run(args, ctx).await,
        SnapshotCommand::Diff(args) => diff::run(&args, ctx).await,
    }
}

pub fn store(ctx: &Context) -> Store {
    Store::new(&ctx.settings.snapshot_dir)
}

/// A reader in a directory where its lock file cannot be created goes on without the
/// lock; `-v` says so.
pub fn report_unlocked(ctx: &Context, guard: &LockGuard) {
    if let Some(reason) = guard.unlocked_reason() {
        ctx.printer.event(
            Level::Debug,
            "lock_skipped",
            json!({ "path": guard.path.display().to_string(), "reason": reason }),
            || format!("reading without a shared lock: {} cannot be opened ({reason})", guard.path.display()),
        );
    }
}

/// Writes one audit line when the command ends — also when it is interrupted (the
/// guard is dropped with the command's future; the outcome is then `interrupted`). A
/// failed write is an `audit_failed` warning naming the log and the reason; the
/// command's own outcome and exit code stay what they were.
pub struct AuditGuard {
    store: Store,
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
        store: &Store,
        command: &'static str,
        name: Option<String>,
        database: Option<String>,
    ) -> Self {
        Self {
            store: store.clone(),
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

    pub fn finish<T>(mut self, result: &Result<T, Error>) {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(Error::Interrupted) => Outcome::Interrupted,
            Err(e) => Outcome::Error(e.to_string().lines().next().unwrap_or_default().to_owned()),
        };
        self.write(outcome);
        self.done = true;
    }

    fn write(&self, outcome: Outcome) {
        if !self.store.dir.is_dir() {
            return;
        }
        let label = match &outcome {
            Outcome::Ok => "ok",
            Outcome::Error(_) => "error",
            Outcome::Interrupted => "interrupted",
        };
        let record =
            AuditRecord::new(self.command, self.name.clone(), self.database.clone(), outcome, self.started.elapsed());
        if let Err(e) = audit::append(&self.store.dir, &record) {
            let path = self.store.dir.join(AUDIT_LOG);
            self.printer.event(
                Level::Warn,
                "audit_failed",
                json!({ "path": path.display().to_string(), "reason": e.to_string(), "command": self.command,
                        "name": self.name, "outcome": label }),
                || {
                    format!(
                        "could not write the audit log {}: {e}; seed {} ended {label} but is not recorded there (its exit code does not change)",
                        path.display(),
                        self.command
                    )
                },
            );
        }
    }
}

impl Drop for AuditGuard {
    /// Dropped without `finish`: the command's future was dropped by SIGINT/SIGTERM.
    fn drop(&mut self) {
        if !self.done {
            self.write(Outcome::Interrupted);
        }
    }
}

/// The tables a snapshot covers: all (but migration tables), or those `--table` and
/// `--schema` pick, minus `--exclude` (pg_dump's pattern rules: `db::select`).
pub fn select_tables<'s>(schema: &'s Schema, selection: &Selection) -> Result<Vec<&'s Table>, Error> {
    if schema.tables.is_empty() {
        return Err(Error::schema(
            "the database has no tables to snapshot",
            "create the schema first (run your migrations), or point --database-url at another database",
        ));
    }
    let chosen = schema.select(selection)?;
    if chosen.is_empty() {
        return Err(Error::usage("no tables left to snapshot (check --table / --exclude / --schema)"));
    }
    Ok(chosen)
}
