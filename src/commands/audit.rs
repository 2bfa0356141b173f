//! The audit record every command that changes snapshots leaves in the location.

use std::time::Instant;

use serde_json::json;

use crate::context::Context;
use crate::error::Error;
use crate::output::{Level, Printer};
use crate::snapshot::audit::{AuditRecord, Outcome};
use crate::snapshot::location::{Location, pending};

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
