//! Where snapshots live: a local directory or an S3-compatible bucket. `--snapshot-dir`
//! is parsed once (settings) into a [`Spec`]; commands open it as a [`Location`] and
//! work in keys (`baseline.seed.gz`): list, open for ranged reads, stage and publish,
//! delete, lock a name, append an audit record, diagnose. Which kind of location it is
//! stays in here: commands never branch on it, and never touch `std::fs` for snapshots.
//!
//! What every location guarantees:
//! - a key appears only complete (a staged key is published whole or not at all);
//! - publishing without `replace` never overwrites (an existing key is `SnapshotExists`,
//!   decided by the file system or the store, not by a check before the write);
//! - with `replace`, the old content stays readable until the new one is complete;
//! - a source opened for a key reads that content only, even if the key is replaced
//!   or deleted meanwhile (an open file; an object pinned by its ETag).

pub mod local;
pub mod pending;
pub mod s3;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Error;
use crate::snapshot::audit::AuditRecord;
use crate::snapshot::source::Source;

pub use local::LocalStore;
pub use s3::S3Store;

/// The snapshot directory when `--snapshot-dir` is not given.
pub const DEFAULT_DIR: &str = "snapshots";

/// Lock modes: exclusive for create, delete and prune; shared for show, verify,
/// restore and diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// `--snapshot-dir` as given: a local path, or `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Local(PathBuf),
    S3(s3::Bucket),
}

impl Spec {
    /// A path, or an `s3://` URL (any other `scheme://` is refused rather than taken
    /// for a folder of that name).
    pub fn parse(raw: &Path) -> Result<Self, Error> {
        use std::os::unix::ffi::OsStrExt;
        if raw.as_os_str().as_bytes().contains(&0) {
            // No file system takes one (a seed.toml string can hold it as \u0000).
            return Err(Error::usage_hint(
                format!("--snapshot-dir {}: holds a NUL byte", crate::untrusted::for_terminal(&raw.to_string_lossy())),
                "check SEED_SNAPSHOT_DIR and snapshot-dir in seed.toml",
            ));
        }
        let Some(text) = raw.to_str() else { return Ok(Spec::Local(raw.to_path_buf())) };
        if let Some(rest) = strip_scheme(text, "s3") {
            return s3::Bucket::parse(rest).map(Spec::S3);
        }
        if let Some((scheme, _)) = text.split_once("://")
            && !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(Error::usage_hint(
                format!(
                    "--snapshot-dir {}: unsupported location scheme '{scheme}://'",
                    crate::redact::mask_value(text)
                ),
                "give a local directory or s3://BUCKET[/PREFIX] (S3, MinIO, R2, Garage...)",
            ));
        }
        Ok(Spec::Local(raw.to_path_buf()))
    }

    /// Whether this is the default `./snapshots` (which appears with the first snapshot).
    pub fn is_default(&self) -> bool {
        matches!(self, Spec::Local(p) if p == Path::new(DEFAULT_DIR))
    }
}

fn strip_scheme<'a>(text: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = text.split_once("://")?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spec::Local(p) => write!(f, "{}", p.display()),
            Spec::S3(b) => b.fmt(f),
        }
    }
}

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// A check for `seed doctor`.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// Exit code when the check fails.
    pub exit_code: u8,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Diagnostic {
    pub fn ok(name: &'static str, detail: impl Into<String>, data: serde_json::Value) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), exit_code: 0, data }
    }
    pub fn warn(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Warn, detail: detail.into(), exit_code: 0, data: serde_json::Value::Null }
    }
    pub fn fail(name: &'static str, detail: impl Into<String>, exit_code: u8) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), exit_code, data: serde_json::Value::Null }
    }
}

/// An open snapshot location.
#[derive(Debug, Clone)]
pub enum Location {
    Local(LocalStore),
    S3(S3Store),
}

impl Location {
    /// Opens `spec`: nothing is touched for a directory; for a bucket the credentials
    /// and endpoint are resolved (no request is made yet).
    pub fn open(spec: &Spec) -> Result<Self, Error> {
        Ok(match spec {
            Spec::Local(dir) => Location::Local(LocalStore::new(dir)),
            Spec::S3(bucket) => Location::S3(S3Store::open(bucket)?),
        })
    }

    /// What messages call this location: a path or `s3://bucket/prefix`.
    pub fn display(&self) -> PathBuf {
        match self {
            Location::Local(l) => l.dir.clone(),
            Location::S3(s) => PathBuf::from(s.bucket().to_string()),
        }
    }

    /// What messages call `key` here.
    pub fn display_key(&self, key: &str) -> PathBuf {
        match self {
            Location::Local(l) => l.path(key),
            Location::S3(s) => PathBuf::from(s.url_of(key)),
        }
    }

    /// Whether this is the default `./snapshots`.
    pub fn is_default(&self) -> bool {
        matches!(self, Location::Local(l) if l.dir == Path::new(DEFAULT_DIR))
    }

    /// Whether this is the same place as `other` (a copy onto itself is refused).
    pub fn same_as(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Local(a), Location::Local(b)) => {
                a.dir == b.dir || matches!((a.dir.canonicalize(), b.dir.canonicalize()), (Ok(x), Ok(y)) if x == y)
            }
            (Location::S3(a), Location::S3(b)) => a.bucket() == b.bucket() && a.same_endpoint(b),
            _ => false,
        }
    }

    /// A usage error when the location cannot be one (a file given as the directory).
    pub fn check(&self) -> Result<(), Error> {
        match self {
            Location::Local(l) => l.check_dir(),
            Location::S3(_) => Ok(()),
        }
    }

    /// Whether the directory or bucket exists.
    pub async fn exists(&self) -> Result<bool, Error> {
        match self {
            Location::Local(l) => Ok(l.dir_exists()),
            Location::S3(s) => s.bucket_exists().await,
        }
    }

    /// Makes the location ready for a new key: creates a missing directory; a missing
    /// bucket is an error (seed creates no buckets).
    pub async fn prepare_write(&self) -> Result<(), Error> {
        match self {
            Location::Local(l) => l.ensure_dir(),
            Location::S3(s) => s.require_bucket().await,
        }
    }

    /// Every visible key (hidden keys, locks, audit records and temp files are not
    /// listed), sorted. A missing directory or bucket lists as empty.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, Error> {
        match self {
            Location::Local(l) => l.list(),
            Location::S3(s) => s.list().await,
        }
    }

    /// The key's size and time, or `None` when it is not there.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, Error> {
        match self {
            Location::Local(l) => Ok(l.head(key)),
            Location::S3(s) => s.head(key).await,
        }
    }

    /// The key's bytes for ranged reads, pinned to its current content; `None` when it
    /// is not there.
    pub async fn open_key(&self, key: &str) -> Result<Option<Arc<dyn Source>>, Error> {
        match self {
            Location::Local(l) => l.open_key(key),
            Location::S3(s) => s.open_key(key).await,
        }
    }

    /// A new key under construction, invisible until [`Stage::publish`].
    pub async fn stage(&self, key: &str) -> Result<Stage, Error> {
        Ok(match self {
            Location::Local(l) => Stage::Local(l.stage(key)?),
            Location::S3(s) => Stage::S3(s.stage(key).await?),
        })
    }

    /// Removes `key`; `false` when it was not there.
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        match self {
            Location::Local(l) => l.delete(key),
            Location::S3(s) => s.delete(key).await,
        }
    }

    /// The lock of snapshot `name`, held until the guard is dropped.
    pub async fn lock(&self, name: &str, mode: Mode, wait: bool, command: &str) -> Result<LockGuard, Error> {
        Ok(match self {
            Location::Local(l) => LockGuard::Local(local::flock::acquire(l, name, mode, wait, command).await?),
            Location::S3(s) => LockGuard::S3(s.lock(name, mode, wait, command).await?),
        })
    }

    /// Appends one audit record; the error names where it could not be written.
    pub async fn audit(&self, record: &AuditRecord) -> Result<(), (String, String)> {
        match self {
            Location::Local(l) => l.audit(record),
            Location::S3(s) => s.audit(record).await,
        }
    }

    /// Checks for `seed doctor` (never changes a snapshot).
    pub async fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Location::Local(l) => l.diagnostics(),
            Location::S3(s) => s.diagnostics().await,
        }
    }

    /// Free bytes for a new key; `None` when the location sets no such limit (a bucket).
    pub fn free_space(&self) -> Result<Option<u64>, Error> {
        match self {
            Location::Local(l) => l.free_space().map(Some),
            Location::S3(_) => Ok(None),
        }
    }

    /// Where a command may spool temporary data for this location (a file system):
    /// the directory itself, or the system temp directory for a bucket.
    pub fn spool_dir(&self) -> PathBuf {
        match self {
            Location::Local(l) => l.dir.clone(),
            Location::S3(_) => std::env::temp_dir(),
        }
    }

    /// Temp files a killed create left behind (local directories; a bucket reports
    /// unfinished uploads in its diagnostics instead).
    pub fn stale_temp_count(&self) -> usize {
        match self {
            Location::Local(l) => l.temp_files().len(),
            Location::S3(_) => 0,
        }
    }
}

/// A key being written. Bytes go in order; [`Stage::publish`] puts the final first
/// bytes (the header, the same length as the placeholder written first) in place and
/// makes the key appear whole. Dropped without publishing, nothing appears (an object
/// store's unfinished upload is aborted when the command ends).
#[derive(Debug)]
pub enum Stage {
    Local(local::LocalStage),
    S3(s3::Upload),
}

impl Stage {
    /// Appends `bytes` (blocking: call from a blocking context).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Stage::Local(s) => s.write(bytes),
            Stage::S3(s) => s.write(bytes),
        }
    }

    /// Replaces the first `head.len()` bytes with `head` and publishes the key:
    /// refused with `SnapshotExists` when it exists and `replace` is false (blocking).
    pub fn publish(self, head: &[u8], replace: bool) -> Result<(), Error> {
        match self {
            Stage::Local(s) => s.publish(head, replace),
            Stage::S3(s) => s.publish(head, replace),
        }
    }

    /// The bytes staged so far, readable before publishing — where the location can
    /// offer that (a local temp file); `None` for an upload.
    pub fn staged_source(&mut self) -> Result<Option<Arc<dyn Source>>, Error> {
        match self {
            Stage::Local(s) => Ok(Some(Arc::new(s.staged_source()?))),
            Stage::S3(_) => Ok(None),
        }
    }

    /// Gives the key this modification time where the location keeps one that its
    /// writer sets (a file's mtime; an object's time is the store's).
    pub fn set_modified(&mut self, time: SystemTime) -> Result<(), Error> {
        match self {
            Stage::Local(s) => s.set_modified(time),
            Stage::S3(_) => Ok(()),
        }
    }

    /// What messages call the place being written.
    pub fn display(&self) -> PathBuf {
        match self {
            Stage::Local(s) => s.dir().to_path_buf(),
            Stage::S3(s) => PathBuf::from(s.url()),
        }
    }
}

/// A held lock.
#[derive(Debug)]
pub enum LockGuard {
    Local(local::flock::FileLock),
    S3(s3::lease::Lease),
}

impl LockGuard {
    /// Why no lock is held, for a reader who may not write the location.
    pub fn unlocked_reason(&self) -> Option<&str> {
        match self {
            LockGuard::Local(l) => l.unlocked_reason(),
            LockGuard::S3(l) => l.unlocked_reason(),
        }
    }

    /// Where the lock lives, for messages.
    pub fn display(&self) -> String {
        match self {
            LockGuard::Local(l) => l.path.display().to_string(),
            LockGuard::S3(l) => l.url(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(Spec::parse(Path::new("snaps")).unwrap(), Spec::Local("snaps".into()));
        assert_eq!(Spec::parse(Path::new("./a:b/c")).unwrap(), Spec::Local("./a:b/c".into()));
        let s3 = Spec::parse(Path::new("s3://my-bucket/team/ci")).unwrap();
        assert_eq!(s3.to_string(), "s3://my-bucket/team/ci");
        assert_eq!(Spec::parse(Path::new("S3://bkt")).unwrap().to_string(), "s3://bkt");
        for bad in ["gs://b/x", "s3://", "s3:///x", "s3://UPPER", "s3://b/../x", "s3://b//x", "s3://b/x\ty"] {
            let err = Spec::parse(Path::new(bad)).unwrap_err();
            assert_eq!(err.exit_code(), crate::error::code::USAGE, "{bad}: {err}");
        }
        assert!(Spec::parse(Path::new(DEFAULT_DIR)).unwrap().is_default());
    }
}
