//! `seed snapshot ...`: one file per verb. Shared here: the audit record every
//! changing command leaves, and choosing tables.

mod create;
mod delete;
mod diff;
mod list;
mod preflight;
mod prune;
mod restore;
mod show;
mod verify;

use std::path::PathBuf;
use std::time::Instant;

use crate::Context;
use crate::cli::SnapshotCommand;
use crate::db::schema::{Schema, Table};
use crate::error::Error;
use crate::output::Printer;
use crate::snapshot::audit::{self, AuditRecord};
use crate::snapshot::lock::{self, LockGuard, Mode};
use crate::snapshot::store::{Store, validate_name};

pub async fn run(command: SnapshotCommand, ctx: &Context) -> Result<u8, Error> {
    match command {
        SnapshotCommand::Create(args) => create::run(args, ctx).await,
        SnapshotCommand::List(args) => list::run(&args, ctx),
        SnapshotCommand::Show(args) => show::run(args, ctx).await,
        SnapshotCommand::Verify(args) => verify::run(args, ctx).await,
        SnapshotCommand::Delete(args) => delete::run(args, ctx).await,
        SnapshotCommand::Prune(args) => prune::run(args, ctx).await,
        SnapshotCommand::Restore(args) => restore::run(args, ctx).await,
        SnapshotCommand::Diff(args) => diff::run(&args, ctx),
    }
}

pub fn store(ctx: &Context) -> Store {
    Store::new(&ctx.settings.snapshot_dir)
}

/// An existing snapshot `name`, with its lock held in `mode` for the command's life.
pub async fn open_locked(
    ctx: &Context,
    name: &str,
    mode: Mode,
    wait: bool,
    command: &str,
) -> Result<(Store, PathBuf, LockGuard), Error> {
    validate_name(name)?;
    let store = store(ctx);
    let path = store.path(name);
    if !path.is_file() {
        return Err(Error::SnapshotMissing { name: name.to_owned(), dir: store.dir.clone() });
    }
    let guard = lock::acquire(&store, name, mode, wait, &format!("seed snapshot {command} {name}")).await?;
    Ok((store, path, guard))
}

/// Writes one audit line when the command ends — also when it is interrupted (the
/// guard is dropped with the command's future). A failed write is a loud warning,
/// never a failed command.
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
        let error = result.as_ref().err().map(|e| e.to_string().lines().next().unwrap_or_default().to_owned());
        self.write(error);
        self.done = true;
    }

    fn write(&self, error: Option<String>) {
        if !self.store.dir.is_dir() {
            return;
        }
        let record =
            AuditRecord::new(self.command, self.name.clone(), self.database.clone(), error, self.started.elapsed());
        if let Err(e) = audit::append(&self.store.dir, &record) {
            self.printer.warn(format!(
                "could not append to the audit log {}: {e} (the command itself is not affected)",
                self.store.dir.join(crate::snapshot::store::AUDIT_LOG).display()
            ));
        }
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        if !self.done {
            self.write(Some("interrupted".into()));
        }
    }
}

/// The tables a snapshot covers: all (but migration tables), or `--table`s, minus
/// `--exclude`s. Unknown names are errors listing the known ones.
pub fn select_tables<'s>(schema: &'s Schema, include: &[String], exclude: &[String]) -> Result<Vec<&'s Table>, Error> {
    let find = |name: &String, flag: &str| {
        schema.find(name).ok_or_else(|| {
            Error::usage_hint(format!("{flag} {name}: no such table"), format!("tables are: {}", schema.table_list()))
        })
    };
    let mut chosen: Vec<&Table> = if include.is_empty() {
        schema.tables.iter().collect()
    } else {
        include.iter().map(|n| find(n, "--table")).collect::<Result<_, _>>()?
    };
    let excluded: Vec<&Table> = exclude.iter().map(|n| find(n, "--exclude")).collect::<Result<_, _>>()?;
    chosen.retain(|t| !excluded.iter().any(|x| x.name == t.name));
    chosen.dedup_by(|a, b| a.name == b.name);
    if chosen.is_empty() && schema.tables.is_empty() {
        return Err(Error::schema(
            "the database has no tables to snapshot",
            "create the schema first (run your migrations), or point --database-url at another database",
        ));
    }
    if chosen.is_empty() {
        return Err(Error::usage("no tables left to snapshot (check --table / --exclude)"));
    }
    Ok(chosen)
}
