//! The snapshot directory: names, keys (file names, see `versions`), what is a
//! snapshot and what is not.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::Error;
use crate::snapshot::versions;

/// `NAME.seed.gz`: a gzip stream, so `zcat NAME.seed.gz | head -1` shows the header.
pub const EXTENSION: &str = ".seed.gz";
/// Temp files of a create in progress (normally unnamed; named only on file systems
/// without O_TMPFILE, or for an instant before the final rename).
pub const TEMP_PREFIX: &str = ".tmp-";
pub const LOCK_DIR: &str = ".locks";
pub const AUDIT_LOG: &str = "audit.log";
const MAX_NAME: usize = 100;

/// `[A-Za-z0-9][A-Za-z0-9._-]{0,99}`: no separators, no traversal, no hidden files,
/// no `@` (which separates a name from a version number, `NAME@N`).
pub fn validate_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && name.len() <= MAX_NAME
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::usage_hint(
            format!("invalid snapshot name '{}'", name.escape_debug()),
            "names start with a letter or digit, then up to 99 letters, digits, '.', '_' or '-' (e.g. baseline, ci-2026.11.23)",
        ))
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

/// One entry of the directory listing.
#[derive(Debug, Clone)]
pub enum Entry {
    /// Version `version` of snapshot `name`, stored under the key `key`.
    Snapshot { name: String, version: u64, key: String, path: PathBuf, size: u64, modified: SystemTime },
    /// A file that does not belong here (shown as corrupt by `list`).
    Foreign { file_name: String, path: PathBuf, size: u64 },
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the snapshot stored under `key` lives.
    pub fn key_path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// Where version `version` of `name` lives.
    pub fn version_path(&self, name: &str, version: u64) -> PathBuf {
        self.key_path(&versions::key(name, version))
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

    /// Whether the directory exists (after [`Store::check_dir`]: as a directory).
    pub fn dir_exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Snapshots and foreign files, sorted by name (versions of a name by number);
    /// hidden files, the audit log and temp files are not listed.
    pub fn entries(&self) -> Result<Vec<Entry>, Error> {
        self.check_dir()?;
        let read = match std::fs::read_dir(&self.dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io("reading snapshot directory", &self.dir, e)),
        };
        let mut entries = Vec::new();
        for item in read {
            let item = item.map_err(|e| Error::io("reading snapshot directory", &self.dir, e))?;
            let file_name = item.file_name().to_string_lossy().into_owned();
            if file_name.starts_with('.') || file_name == AUDIT_LOG {
                continue;
            }
            let path = item.path();
            let Ok(meta) = item.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            entries.push(match versions::parse_key(&file_name) {
                Some((name, version)) => Entry::Snapshot {
                    name,
                    version,
                    key: file_name,
                    path,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                },
                None => Entry::Foreign { file_name, path, size: meta.len() },
            });
        }
        entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        Ok(entries)
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
    pub fn temp_files_of(&self, name: &str) -> Vec<PathBuf> {
        let prefix = format!("{TEMP_PREFIX}{name}.");
        self.temp_files().into_iter().map(|(p, _)| p).filter(|p| file_name(p).starts_with(&prefix)).collect()
    }

    /// Free bytes for an unprivileged writer on the directory's file system.
    pub fn free_space(&self) -> Result<u64, Error> {
        let probe = if self.dir.exists() { self.dir.clone() } else { nearest_existing(&self.dir) };
        fs4::available_space(&probe).map_err(|e| Error::io("checking free space of", probe, e))
    }
}

impl Entry {
    fn sort_key(&self) -> (&str, u64) {
        match self {
            Entry::Snapshot { name, version, .. } => (name, *version),
            Entry::Foreign { file_name, .. } => (file_name, 0),
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn nearest_existing(p: &Path) -> PathBuf {
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
    fn names() {
        for good in ["baseline", "ci-2026.11.23", "A_1", "x"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(101);
        for bad in ["", "../x", ".hidden", "a/b", "-x", "a b", "é", long.as_str(), "x\0"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn entries_are_versions_by_key() {
        let dir = tempfile::tempdir().unwrap();
        for f in
            ["b.seed.gz", "a@10.seed.gz", "a.seed.gz", "a@2.seed.gz", "a@1.seed.gz", "a@02.seed.gz", ".hidden.seed.gz"]
        {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let store = Store::new(dir.path());
        let listed: Vec<String> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Entry::Snapshot { name, version, key, .. } => format!("{name}@{version}={key}"),
                Entry::Foreign { file_name, .. } => format!("foreign {file_name}"),
            })
            .collect();
        assert_eq!(
            listed,
            [
                "a@1=a.seed.gz",
                "a@2=a@2.seed.gz",
                "a@10=a@10.seed.gz",
                "foreign a@02.seed.gz",
                "foreign a@1.seed.gz",
                "b@1=b.seed.gz"
            ]
        );
        assert_eq!(store.version_path("a", 10), dir.path().join("a@10.seed.gz"));
        assert_eq!(store.version_path("a", 1), dir.path().join("a.seed.gz"));
    }

    #[test]
    fn a_file_as_the_directory_is_a_usage_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let store = Store::new(&file);
        for err in [store.check_dir().unwrap_err(), store.entries().unwrap_err(), store.ensure_dir().unwrap_err()] {
            assert!(
                matches!(&err, Error::Usage { message, .. } if message.contains("is a file, not a directory")),
                "{err:?}"
            );
        }
        let missing = Store::new(dir.path().join("missing"));
        assert!(missing.check_dir().is_ok() && !missing.dir_exists());
        assert!(missing.entries().unwrap().is_empty());
        assert!(Store::new(dir.path()).dir_exists());
    }
}
