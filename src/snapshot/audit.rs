//! `audit.log` in the snapshot directory: one JSON line per snapshot command that
//! changed or read snapshots, so a shared directory records who did what and when.
//! Each record is appended with a single `write` on an `O_APPEND` file, so concurrent
//! commands never interleave within a line.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::snapshot::format::now_rfc3339;
use crate::snapshot::store::AUDIT_LOG;

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
    /// `ok` or `error`.
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl AuditRecord {
    /// A record stamped now, for this process and OS user; `error` decides the outcome.
    pub fn new(
        command: impl Into<String>,
        name: Option<String>,
        database: Option<String>,
        error: Option<String>,
        duration: Duration,
    ) -> Self {
        Self {
            ts: now_rfc3339(),
            user: crate::system::os_user(),
            pid: std::process::id(),
            command: command.into(),
            name,
            database,
            outcome: if error.is_some() { "error" } else { "ok" }.into(),
            error,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// Appends `record` as one line to `dir/audit.log`, creating it if needed.
pub fn append(dir: &Path, record: &AuditRecord) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o644).open(dir.join(AUDIT_LOG))?;
    file.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_json_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let ok = AuditRecord::new(
            "snapshot create",
            Some("baseline".into()),
            Some("localhost:5432/app".into()),
            None,
            Duration::from_millis(1234),
        );
        let failed = AuditRecord::new(
            "snapshot restore",
            Some("baseline".into()),
            None,
            Some("boom\nline".into()),
            Duration::ZERO,
        );
        append(dir.path(), &ok).unwrap();
        append(dir.path(), &failed).unwrap();
        let text = std::fs::read_to_string(dir.path().join(AUDIT_LOG)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(text.ends_with('\n'));
        let first: AuditRecord = serde_json::from_str(lines[0]).unwrap();
        let second: AuditRecord = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(first, ok);
        assert_eq!(first.outcome, "ok");
        assert_eq!(first.duration_ms, 1234);
        assert_eq!(first.pid, std::process::id());
        assert!(!first.user.is_empty());
        assert_eq!(second, failed);
        assert_eq!(second.outcome, "error");
        assert_eq!(second.error.as_deref(), Some("boom\nline"));
    }
}
