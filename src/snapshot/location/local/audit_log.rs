//! `audit.log` in a snapshot directory: one JSON line per record, appended with a
//! single `write` on an `O_APPEND` file, so concurrent commands never interleave
//! within a line.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::AUDIT_LOG;
use crate::snapshot::audit::AuditRecord;

/// Appends `record` as one line to `dir/audit.log`, creating it if needed. An error
/// (read-only or full file system, no permission) is the caller's to report.
pub fn append(dir: &Path, record: &AuditRecord) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(record)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().append(true).create(true).mode(0o644).open(dir.join(AUDIT_LOG))?;
    file.write_all(&line)?;
    // Data sits in the page cache until written back; a full disk may only show here.
    match file.sync_data() {
        // A file system (or device) without fsync: the write itself went through.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::snapshot::audit::Outcome;

    #[test]
    fn appends_one_json_line_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let ok = AuditRecord::new(
            "snapshot create",
            Some("baseline".into()),
            Some("localhost:5432/app".into()),
            Outcome::Ok,
            Duration::from_millis(1234),
        );
        let failed = AuditRecord::new(
            "snapshot restore",
            Some("baseline".into()),
            None,
            Outcome::Error("boom\nline".into()),
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

    #[test]
    fn an_interrupted_command_is_recorded_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let rec = AuditRecord::new("snapshot create", None, None, Outcome::Interrupted, Duration::ZERO);
        append(dir.path(), &rec).unwrap();
        let text = std::fs::read_to_string(dir.path().join(AUDIT_LOG)).unwrap();
        let back: AuditRecord = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(back.outcome, "interrupted");
        assert_eq!(back.error, None);
    }

    #[test]
    fn a_full_disk_is_an_error_not_silence() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/dev/full", dir.path().join(AUDIT_LOG)).unwrap();
        let rec = AuditRecord::new("snapshot delete", None, None, Outcome::Ok, Duration::ZERO);
        let err = append(dir.path(), &rec).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    }
}
