//! A snapshot directory on a local file system: keys are file names in it. New files
//! are unnamed until complete (`atomic`), locks are `flock`s on files in `.locks/`
//! (`flock`), the audit log is one `O_APPEND` file (`audit_log`).

pub mod atomic;
mod audit_log;
pub mod flock;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use serde_json::json;

use super::{Diagnostic, ObjectInfo};
use crate::error::{Error, code};
use crate::output::{human_bytes, plural};
use crate::snapshot::audit::AuditRecord;
use crate::snapshot::names::EXTENSION;
use crate::snapshot::source::{FileSource, Source};

/// Temp files of a create in progress (normally unnamed; named only on file systems
/// without O_TMPFILE, or for an instant before the final rename).
pub const TEMP_PREFIX: &str = ".tmp-";
pub const LOCK_DIR: &str = ".locks";
pub const AUDIT_LOG: &str = "audit.log";

#[derive(Debug, Clone)]
pub struct LocalStore {
    pub dir: PathBuf,
}

impl LocalStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The file of `key` (keys are plain file names, checked by the caller).
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.dir.join(LOCK_DIR).join(format!("{name}.lock"))
    }

    pub fn ensure_dir(&self) -> Result<(), Error> {
        self.check_dir()?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io("creating snapshot directory", &self.dir, e))
    }

    /// Fails (usage) when the directory's path exists but is not a directory: a
    /// `--snapshot-dir` pointing at a file. A missing directory is fine here.
    pub fn check_dir(&self) -> Result<(), Error> {
        match std::fs::metadata(&self.dir) {
            Ok(meta) if !meta.is_dir() => Err(Error::usage_hint(
                format!("the snapshot directory {} is a file, not a directory", self.dir.display()),
                "point --snapshot-dir (SEED_SNAPSHOT_DIR) at a directory; it is created when missing",
            )),
            _ => Ok(()),
        }
    }

    /// Whether the directory exists (after [`LocalStore::check_dir`]: as a directory).
    pub fn dir_exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Files in the directory, sorted by name; hidden files, the audit log, temp files
    /// and directories are not listed.
    pub fn list(&self) -> Result<Vec<ObjectInfo>, Error> {
        self.check_dir()?;
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io("reading snapshot directory", &self.dir, e)),
        };
        let mut entries = Vec::new();
        for item in read {
            let item = item.map_err(|e| Error::io("reading snapshot directory", &self.dir, e))?;
            let key = item.file_name().to_string_lossy().into_owned();
            if key.starts_with('.') || key == AUDIT_LOG {
                continue;
            }
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            entries.push(ObjectInfo {
                key,
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            });
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    pub fn head(&self, key: &str) -> Option<ObjectInfo> {
        let meta = std::fs::metadata(self.path(key)).ok().filter(std::fs::Metadata::is_file)?;
        Some(ObjectInfo {
            key: key.to_owned(),
            size: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        })
    }

    pub fn open_key(&self, key: &str) -> Result<Option<Arc<dyn Source>>, Error> {
        let path = self.path(key);
        match FileSource::open(&path) {
            Ok(src) => Ok(Some(Arc::new(src))),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn stage(&self, key: &str) -> Result<LocalStage, Error> {
        self.ensure_dir()?;
        let stem = key.strip_suffix(EXTENSION).unwrap_or(key);
        let temp = atomic::TempFile::new_in(&self.dir, stem)
            .map_err(|e| Error::io("creating a temp file in", &self.dir, e))?;
        // Named temp files of this key can only be leftovers of a killed create: the
        // caller holds the name's exclusive lock.
        for stale in self.temp_files_of(stem) {
            let _ = std::fs::remove_file(&stale);
        }
        Ok(LocalStage { temp, target: self.path(key), failed: false })
    }

    pub fn delete(&self, key: &str) -> Result<bool, Error> {
        let path = self.path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io("deleting", &path, e)),
        }
        atomic::sync_dir(&self.dir)?;
        Ok(true)
    }

    pub fn audit(&self, record: &AuditRecord) -> Result<(), (String, String)> {
        if !self.dir.is_dir() {
            return Ok(()); // nothing was ever written here: nothing to record
        }
        audit_log::append(&self.dir, record)
            .map_err(|e| (self.dir.join(AUDIT_LOG).display().to_string(), e.to_string()))
    }

    /// Temp files left by a create that was killed (SIGKILL, power loss) in the instant
    /// they had a name. Safe to delete when no create holds the name's lock.
    pub fn temp_files(&self) -> Vec<(PathBuf, u64)> {
        let Ok(read) = std::fs::read_dir(&self.dir) else { return vec![] };
        read.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .filter_map(|e| Some((e.path(), e.metadata().ok()?.len())))
            .collect()
    }

    /// Temp files belonging to `name`.
    fn temp_files_of(&self, name: &str) -> Vec<PathBuf> {
        let prefix = format!("{TEMP_PREFIX}{name}.");
        self.temp_files().into_iter().map(|(p, _)| p).filter(|p| file_name(p).starts_with(&prefix)).collect()
    }

    /// Free bytes for an unprivileged writer on the directory's file system.
    pub fn free_space(&self) -> Result<u64, Error> {
        let probe = if self.dir.exists() { self.dir.clone() } else { nearest_existing(&self.dir) };
        fs4::available_space(&probe).map_err(|e| Error::io("checking free space of", probe, e))
    }

    /// The directory (writable, free space), stale temp files and held locks. Looks
    /// only: permissions by `faccessat`, locks through `/proc/locks`.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut checks = Vec::new();
        let dir = self.dir.display().to_string();
        let free = self.free_space();
        let free_text = free.as_ref().map(|b| human_bytes(*b)).unwrap_or_else(|_| "unknown".into());
        let data = json!({ "path": dir, "free_bytes": free.as_ref().ok() });
        if self.dir.is_dir() {
            match may(&self.dir, libc::W_OK | libc::X_OK) {
                Ok(()) => {
                    checks.push(Diagnostic::ok(
                        "snapshot directory",
                        format!("{dir} writable, {free_text} free"),
                        data,
                    ));
                }
                Err(e) => checks.push(Diagnostic::fail(
                    "snapshot directory",
                    format!("{dir} is not writable ({e}): snapshots can be read but not created"),
                    code::PERMISSION,
                )),
            }
        } else if self.dir.exists() {
            checks.push(Diagnostic::fail("snapshot directory", format!("{dir} is not a directory"), code::PERMISSION));
        } else {
            // `create` makes the missing directories inside the nearest existing one.
            let base = nearest_existing(&self.dir);
            let base = std::fs::canonicalize(&base).unwrap_or(base);
            match may(&base, libc::W_OK | libc::X_OK) {
                Ok(()) if base.is_dir() => checks.push(Diagnostic::ok(
                    "snapshot directory",
                    format!("{dir} does not exist yet (created on first snapshot), {free_text} free"),
                    data,
                )),
                Ok(()) => checks.push(Diagnostic::fail(
                    "snapshot directory",
                    format!("{dir} cannot be created: {} is not a directory", base.display()),
                    code::PERMISSION,
                )),
                Err(e) => checks.push(Diagnostic::fail(
                    "snapshot directory",
                    format!("{dir} does not exist and cannot be created: {} is not writable ({e})", base.display()),
                    code::PERMISSION,
                )),
            }
        }
        let temps = self.temp_files();
        if temps.is_empty() {
            checks.push(Diagnostic::ok("temp files", "none left behind", json!({ "count": 0 })));
        } else {
            let bytes: u64 = temps.iter().map(|(_, s)| s).sum();
            let names: Vec<String> = temps.iter().map(|(p, _)| p.display().to_string()).collect();
            checks.push(Diagnostic::warn(
                "temp files",
                format!(
                    "{}, {} (removed by the next create of that name): {}",
                    plural(temps.len() as u64, "stale temp file", "stale temp files"),
                    human_bytes(bytes),
                    names.join(", ")
                ),
            ));
        }
        let held = flock::held_locks(self);
        if held.is_empty() {
            checks.push(Diagnostic::ok("locks", "none held", json!({ "held": 0 })));
        } else {
            let list: Vec<String> = held
                .iter()
                .map(|(name, holder)| format!("{name} by {}", holder.as_deref().unwrap_or("unknown")))
                .collect();
            checks.push(Diagnostic::warn("locks", format!("held: {}", list.join(", "))));
        }
        checks
    }
}

/// A new file in the directory, unnamed (or hidden) until published.
#[derive(Debug)]
pub struct LocalStage {
    temp: atomic::TempFile,
    target: PathBuf,
    failed: bool,
}

impl LocalStage {
    pub fn dir(&self) -> &Path {
        self.temp.dir()
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Internal("snapshot stage used after a failed write".into()));
        }
        if let Err(e) = self.temp.file().write_all(bytes) {
            self.failed = true;
            return Err(Error::io("writing snapshot in", self.temp.dir(), e));
        }
        Ok(())
    }

    /// The bytes written so far, for reading back before publishing.
    pub fn staged_source(&mut self) -> Result<FileSource, Error> {
        let dir = self.temp.dir().to_path_buf();
        let file = self.temp.file().try_clone().map_err(|e| Error::io("reading back the snapshot in", &dir, e))?;
        FileSource::from_file(&self.target, file)
    }

    pub fn set_modified(&mut self, time: SystemTime) -> Result<(), Error> {
        let dir = self.temp.dir().to_path_buf();
        self.temp.file().set_modified(time).map_err(|e| Error::io("setting the time of a temp file in", &dir, e))
    }

    pub fn publish(mut self, head: &[u8], replace: bool) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Internal("snapshot stage used after a failed write".into()));
        }
        let dir = self.temp.dir().to_path_buf();
        self.temp.file().write_all_at(head, 0).map_err(|e| Error::io("writing snapshot header in", &dir, e))?;
        self.temp.persist(&self.target, replace)
    }
}

/// `faccessat(path, mode, AT_EACCESS)`: may the effective user do `mode` (`W_OK`,
/// `X_OK`, ...) to `path`? Read-only file systems answer `EROFS`.
pub fn may(path: &Path, mode: libc::c_int) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path holds a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path that faccessat only reads.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The nearest existing ancestor of `p` (`.` for a relative path with none).
pub fn nearest_existing(p: &Path) -> PathBuf {
    let mut cur = p.to_path_buf();
    while !cur.exists() {
        match cur.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => cur = parent.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_as_the_directory_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let store = LocalStore::new(&file);
        for err in [store.check_dir().unwrap_err(), store.list().unwrap_err(), store.ensure_dir().unwrap_err()] {
            assert!(
                matches!(&err, Error::Usage { message, .. } if message.contains("is a file, not a directory")),
                "{err:?}"
            );
        }
        let missing = LocalStore::new(dir.path().join("missing"));
        assert!(missing.check_dir().is_ok() && !missing.dir_exists());
        assert!(missing.list().unwrap().is_empty());
        assert!(LocalStore::new(dir.path()).dir_exists());
    }

    #[test]
    fn stage_publishes_with_the_head_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let mut stage = store.stage("a.seed.gz").unwrap();
        stage.write(b"....body").unwrap();
        assert!(store.list().unwrap().is_empty(), "nothing visible before publish");
        stage.publish(b"HEAD", false).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.seed.gz")).unwrap(), b"HEADbody");
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].key.as_str(), listed[0].size), ("a.seed.gz", 8));
        let mut again = store.stage("a.seed.gz").unwrap();
        again.write(b"xx").unwrap();
        assert!(matches!(again.publish(b"y", false), Err(Error::SnapshotExists { .. })));
        assert!(store.delete("a.seed.gz").unwrap());
        assert!(!store.delete("a.seed.gz").unwrap());
        assert!(store.open_key("a.seed.gz").unwrap().is_none());
    }
}
