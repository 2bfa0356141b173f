//! A snapshot's temp file and its atomic publication.
//!
//! A snapshot being written must never be seen under its final name, must never
//! replace an existing snapshot before it is complete, and must not outlive the
//! command that writes it. So the file is created unnamed (`O_TMPFILE`: the kernel
//! frees it when the last descriptor closes, even after SIGKILL) and only linked into
//! the directory once fsynced. File systems without `O_TMPFILE` get a named hidden
//! temp file (`.tmp-NAME.XXXXXX.seed.gz`) instead, removed on drop; only SIGKILL or a
//! power loss can leave one of those behind (`Store::temp_files` finds them).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::TEMP_PREFIX;
use crate::error::Error;
use crate::snapshot::names::EXTENSION;

/// A file under construction in a snapshot directory.
#[derive(Debug)]
pub struct TempFile {
    kind: Kind,
    dir: PathBuf,
    name: String,
}

#[derive(Debug)]
enum Kind {
    /// `O_TMPFILE`: no name until `persist`.
    Unnamed(File),
    /// Fallback: a hidden name, removed on drop.
    Named(tempfile::NamedTempFile),
}

impl TempFile {
    /// A new empty file in `dir` for snapshot `name`: unnamed if the file system
    /// supports it, otherwise a hidden temp file.
    pub fn new_in(dir: &Path, name: &str) -> io::Result<Self> {
        match open_tmpfile(dir) {
            Ok(file) => Ok(Self { kind: Kind::Unnamed(file), dir: dir.to_path_buf(), name: name.to_owned() }),
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)) =>
            {
                Self::new_named_in(dir, name)
            }
            Err(e) => Err(e),
        }
    }

    /// The named fallback, also used by tests to cover that path on any file system.
    pub(crate) fn new_named_in(dir: &Path, name: &str) -> io::Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{name}."))
            .suffix(EXTENSION)
            .rand_bytes(6)
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(dir)?;
        Ok(Self { kind: Kind::Named(tmp), dir: dir.to_path_buf(), name: name.to_owned() })
    }

    /// Whether the file has a name in the directory while being written.
    pub fn is_named(&self) -> bool {
        matches!(self.kind, Kind::Named(_))
    }

    /// The directory the file lives in (what error messages name, as the file itself
    /// has no name yet).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn file(&mut self) -> &mut File {
        match &mut self.kind {
            Kind::Unnamed(f) => f,
            Kind::Named(t) => t.as_file_mut(),
        }
    }

    /// Makes the file durable and gives it the name `target` (in the same directory).
    /// Without `replace`, an existing `target` is left alone and the result is
    /// `SnapshotExists`; with it, `target` is swapped atomically, so readers see either
    /// the old complete file or the new one. Nothing of the temp file remains after an
    /// error.
    pub fn persist(self, target: &Path, replace: bool) -> Result<(), Error> {
        let target_dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let exists = || Error::SnapshotExists { name: self.name.clone(), dir: target_dir.clone() };
        match &self.kind {
            Kind::Unnamed(f) => f.sync_all(),
            Kind::Named(t) => t.as_file().sync_all(),
        }
        .map_err(|e| Error::io("syncing snapshot in", &self.dir, e))?;
        match self.kind {
            Kind::Unnamed(ref file) => {
                if replace {
                    let tmp = link_fresh(file, &target_dir, &self.name)?;
                    if let Err(e) = std::fs::rename(&tmp, target) {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(Error::io("renaming snapshot to", target, e));
                    }
                } else {
                    match link_fd(file, target) {
                        Ok(()) => {}
                        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Err(exists()),
                        Err(e) => return Err(Error::io("linking snapshot to", target, e)),
                    }
                }
            }
            Kind::Named(tmp) => {
                let result = if replace { tmp.persist(target) } else { tmp.persist_noclobber(target) };
                // On error, dropping the returned temp file removes it.
                match result {
                    Ok(_file) => {}
                    Err(e) if e.error.raw_os_error() == Some(libc::EEXIST) => return Err(exists()),
                    Err(e) => return Err(Error::io("renaming snapshot to", target, e.error)),
                }
            }
        }
        sync_dir(&target_dir)
    }
}

/// fsync a directory so a new or renamed entry in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("syncing directory", dir, e))
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn open_tmpfile(dir: &Path) -> io::Result<File> {
    let c_dir = cstring(dir)?;
    // SAFETY: c_dir is a valid NUL-terminated string that outlives the call; the mode
    // argument is required with O_TMPFILE.
    let fd =
        unsafe { libc::open(c_dir.as_ptr(), libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC, 0o644 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by open and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Gives the unnamed `file` the name `target`; fails with EEXIST if it exists.
fn link_fd(file: &File, target: &Path) -> io::Result<()> {
    let c_target = cstring(target)?;
    let proc_path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    // SAFETY: both strings are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::linkat(libc::AT_FDCWD, proc_path.as_ptr(), libc::AT_FDCWD, c_target.as_ptr(), libc::AT_SYMLINK_FOLLOW)
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EEXIST) || Path::new("/proc/self/fd").exists() {
        return Err(err);
    }
    // No /proc: AT_EMPTY_PATH links the descriptor itself (needs CAP_DAC_READ_SEARCH).
    // SAFETY: the empty path is a valid NUL-terminated string; fd is open.
    let rc =
        unsafe { libc::linkat(file.as_raw_fd(), c"".as_ptr(), libc::AT_FDCWD, c_target.as_ptr(), libc::AT_EMPTY_PATH) };
    if rc == 0 { Ok(()) } else { Err(err) }
}

/// Links `file` under a new hidden name in `dir` and returns that name.
fn link_fresh(file: &File, dir: &Path, name: &str) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TEMP_PREFIX}{name}.{:x}{nanos:08x}{n:x}{EXTENSION}", std::process::id()));
        match link_fd(file, &tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && attempt < 16 => attempt += 1,
            Err(e) => return Err(Error::io("linking snapshot in", dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Runs `test` with the unnamed temp file and with the named fallback.
    fn both(test: impl Fn(&dyn Fn(&Path) -> TempFile)) {
        test(&|dir| {
            let t = TempFile::new_in(dir, "snap").unwrap();
            assert!(!t.is_named(), "this file system should support O_TMPFILE");
            t
        });
        test(&|dir| {
            let t = TempFile::new_named_in(dir, "snap").unwrap();
            assert!(t.is_named());
            t
        });
    }

    fn write(t: &mut TempFile, data: &[u8]) {
        t.file().write_all(data).unwrap();
    }

    #[test]
    fn drop_without_persist_leaves_nothing() {
        both(|make| {
            let dir = tempfile::tempdir().unwrap();
            let mut t = make(dir.path());
            write(&mut t, b"data");
            if t.is_named() {
                assert_eq!(listing(dir.path()).len(), 1);
                assert!(listing(dir.path())[0].starts_with(".tmp-snap."));
            } else {
                assert!(listing(dir.path()).is_empty());
            }
            drop(t);
            assert!(listing(dir.path()).is_empty());
        });
    }

    #[test]
    fn persist_creates_the_target() {
        both(|make| {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("snap.seed.gz");
            let mut t = make(dir.path());
            write(&mut t, b"new content");
            t.persist(&target, false).unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"new content");
            assert_eq!(listing(dir.path()), ["snap.seed.gz"]);
        });
    }

    #[test]
    fn no_replace_onto_existing_target_fails_and_leaves_it_alone() {
        both(|make| {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("snap.seed.gz");
            std::fs::write(&target, b"old").unwrap();
            let mut t = make(dir.path());
            write(&mut t, b"new content");
            let err = t.persist(&target, false).unwrap_err();
            assert!(
                matches!(&err, Error::SnapshotExists { name, dir: d } if name == "snap" && d == dir.path()),
                "{err:?}"
            );
            assert_eq!(std::fs::read(&target).unwrap(), b"old");
            assert_eq!(listing(dir.path()), ["snap.seed.gz"]);
        });
    }

    #[test]
    fn replace_swaps_the_content() {
        both(|make| {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("snap.seed.gz");
            std::fs::write(&target, b"old").unwrap();
            // A reader holding the old file keeps seeing it whole.
            let mut old = File::open(&target).unwrap();
            let mut t = make(dir.path());
            write(&mut t, b"new content");
            t.persist(&target, true).unwrap();
            assert_eq!(std::fs::read(&target).unwrap(), b"new content");
            assert_eq!(listing(dir.path()), ["snap.seed.gz"]);
            let mut seen = String::new();
            old.rewind().unwrap();
            old.read_to_string(&mut seen).unwrap();
            assert_eq!(seen, "old");
        });
    }

    #[test]
    fn persist_into_missing_directory_fails_cleanly() {
        both(|make| {
            let dir = tempfile::tempdir().unwrap();
            let mut t = make(dir.path());
            write(&mut t, b"x");
            let target = dir.path().join("gone").join("snap.seed.gz");
            let err = t.persist(&target, false).unwrap_err();
            assert!(matches!(err, Error::Io { .. }), "{err:?}");
            assert!(listing(dir.path()).is_empty());
        });
    }
}
