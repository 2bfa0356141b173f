//! Audit records: one per snapshot command that changed or read snapshots, so a shared
//! location records who did what and when. Where they go is the location's business
//! (a local `audit.log`, or one object per record in a bucket).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::snapshot::format::now_rfc3339;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// RFC 3339 UTC.
    pub ts: String,
    pub user: String,
    pub pid: u32,
    /// e.g. `snapshot create`.
    pub command: String,
    /// The snapshot, when the command is about one.
    pub name: Option<String>,
    /// Database location without credentials.
    pub database: Option<String>,
    /// `ok`, `error` (with `error` saying why) or `interrupted` (SIGINT/SIGTERM).
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// How a command ended, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error(String),
    Interrupted,
}

impl AuditRecord {
    /// A record stamped now, for this process and OS user.
    pub fn new(
        command: impl Into<String>,
        name: Option<String>,
        database: Option<String>,
        outcome: Outcome,
        duration: Duration,
    ) -> Self {
        let (outcome, error) = match outcome {
            Outcome::Ok => ("ok", None),
            Outcome::Error(e) => ("error", Some(e)),
            Outcome::Interrupted => ("interrupted", None),
        };
        Self {
            ts: now_rfc3339(),
            user: crate::system::os_user(),
            pid: std::process::id(),
            command: command.into(),
            name,
            database,
            outcome: outcome.into(),
            error,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
