//! Per-name file locks in `<dir>/.locks/NAME.lock`: exclusive for create, delete and
//! prune; shared for show, verify, restore and diff. The lock file records its holder
//! so a refused command can say who holds it.
//!
//! Readers must work in a directory they cannot write (a read-only mount, another
//! user's snapshots): a shared lock opens an existing lock file read-only if it must
//! (`flock` needs no write access), and when the file cannot be created at all the
//! reader goes on without a lock and says so at `-v`. Only a user who may write the
//! directory could then change the snapshot under it, and that user's own commands
//! create the lock file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use super::LocalStore;
use crate::error::Error;
use crate::snapshot::location::Mode;

/// Held until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct FileLock {
    /// None: a reader that could not create the lock file and goes on without it.
    file: Option<File>,
    mode: Mode,
    pub path: PathBuf,
    unlocked: Option<String>,
}

impl FileLock {
    /// Why no lock is held, for a reader in a directory it cannot write.
    pub fn unlocked_reason(&self) -> Option<&str> {
        self.unlocked.as_deref()
    }
}

impl Drop for FileLock {
    /// An exclusive holder clears its note before the lock goes, so nobody is later
    /// named as holding a lock they released. (Shared holders may share the file with
    /// others still holding it: they leave it.)
    fn drop(&mut self) {
        if self.mode == Mode::Exclusive
            && let Some(file) = &self.file
        {
            let _ = file.set_len(0);
        }
    }
}

/// The file system says no to creating or writing: read-only, or not ours.
fn refused(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS))
}

/// How the lock file could be opened.
enum Opened {
    /// For writing: the holder's note goes in.
    Writable(File),
    /// Read-only (a reader in a directory it cannot write): locks all the same.
    ReadOnly(File),
    /// Not at all, and cannot be created: a reader goes on without a lock.
    Unavailable(String),
}

/// The lock file, opened for writing when we may; a reader falls back to read-only,
/// or to none at all when it cannot be created.
fn open_lock_file(path: &std::path::Path, mode: Mode) -> Result<Opened, Error> {
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    let rw = std::fs::create_dir_all(&dir)
        .and_then(|()| OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path));
    match rw {
        Ok(file) => Ok(Opened::Writable(file)),
        Err(e) if mode == Mode::Shared && (refused(&e) || e.kind() == std::io::ErrorKind::NotFound) => {
            Ok(File::open(path).map_or_else(|_| Opened::Unavailable(e.to_string()), Opened::ReadOnly))
        }
        Err(e) => Err(Error::io("opening lock file", path, e)),
    }
}

pub async fn acquire(store: &LocalStore, name: &str, mode: Mode, wait: bool, command: &str) -> Result<FileLock, Error> {
    let path = store.lock_path(name);
    let (file, writable) = match open_lock_file(&path, mode)? {
        Opened::Writable(file) => (file, true),
        Opened::ReadOnly(file) => (file, false),
        Opened::Unavailable(reason) => return Ok(FileLock { file: None, mode, path, unlocked: Some(reason) }),
    };
    let attempt = match mode {
        Mode::Exclusive => file.try_lock(),
        Mode::Shared => file.try_lock_shared(),
    };
    let file = match attempt {
        Ok(()) => file,
        Err(TryLockError::WouldBlock) if wait => {
            let (file, res) = tokio::task::spawn_blocking(move || {
                let res = match mode {
                    Mode::Exclusive => file.lock(),
                    Mode::Shared => file.lock_shared(),
                };
                (file, res)
            })
            .await
            .map_err(|e| Error::Internal(format!("lock waiter failed: {e}")))?;
            res.map_err(|e| Error::io("locking", &path, e))?;
            file
        }
        Err(TryLockError::WouldBlock) => {
            return Err(Error::LockHeld {
                resource: crate::snapshot::versions::lock_resource(name),
                holder: wait_for_holder(&path).await,
                hint: "wait for that command to finish, or pass --wait to queue behind it".into(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
    };
    // Best effort: only used to name the holder in someone else's error.
    if writable {
        let note = format!("pid {} ({command})", std::process::id());
        let mut f = &file;
        if f.set_len(0).is_ok() && f.rewind().is_ok() {
            let _ = f.write_all(note.as_bytes());
        }
    }
    Ok(FileLock { file: Some(file), mode, path, unlocked: None })
}

/// The holder writes its note just after taking the lock, so a command refused in that
/// instant (two commands started together) finds the file still empty: give the
/// holder a moment rather than naming nobody.
async fn wait_for_holder(path: &std::path::Path) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(250);
    loop {
        let holder = holder_of(path);
        if holder.is_some() || std::time::Instant::now() >= deadline {
            return holder;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The holder recorded in a lock file, if any.
pub fn holder_of(path: &std::path::Path) -> Option<String> {
    let mut text = String::new();
    File::open(path).ok()?.take(512).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Lock files someone holds right now, with their recorded holder. Read from
/// `/proc/locks` where there is one, so looking takes no lock: a probe lock, however
/// brief, would make a concurrent `create` or `delete` fail as "locked".
pub fn held_locks(store: &LocalStore) -> Vec<(String, Option<String>)> {
    let Ok(read) = std::fs::read_dir(store.dir.join(super::LOCK_DIR)) else { return vec![] };
    let kernel = std::fs::read_to_string("/proc/locks").ok().map(|t| flock_inodes(&t));
    let mut held = Vec::new();
    for entry in read.filter_map(Result::ok) {
        let path = entry.path();
        let is_held = match &kernel {
            Some(inodes) => std::fs::metadata(&path).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                inodes.contains(&(libc::major(m.dev()), libc::minor(m.dev()), m.ino()))
            }),
            None => probe(&path),
        };
        if is_held {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            held.push((name, holder_of(&path)));
        }
    }
    held.sort();
    held
}

/// (device major, minor, inode) of every file with a granted `flock` in `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 4242 fe:00:5587039 0 EOF`; waiters are marked `->`).
fn flock_inodes(text: &str) -> Vec<(u32, u32, u64)> {
    text.lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            if fields.get(1) != Some(&"FLOCK") {
                return None;
            }
            let mut id = fields.get(5)?.split(':');
            let major = u32::from_str_radix(id.next()?, 16).ok()?;
            let minor = u32::from_str_radix(id.next()?, 16).ok()?;
            let inode = id.next()?.parse().ok()?;
            Some((major, minor, inode))
        })
        .collect()
}

/// Without `/proc/locks`: an exclusive probe fails if anyone holds the lock.
fn probe(path: &std::path::Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => true,
        _ => {
            let _ = file.unlock();
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines_are_parsed() {
        let text = "1: FLOCK  ADVISORY  WRITE 21843 fe:00:5587039 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 21844 fe:00:5587039 0 EOF\n\
                    2: POSIX  ADVISORY  READ 21843 08:11:77 0 EOF\n\
                    3: FLOCK  ADVISORY  READ 9 103:0a:12 0 EOF\n\
                    garbage\n";
        assert_eq!(flock_inodes(text), vec![(0xfe, 0, 5_587_039), (0x103, 0x0a, 12)]);
    }

    #[tokio::test]
    async fn held_locks_sees_shared_and_exclusive_holders_without_locking() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let a = acquire(&store, "a", Mode::Shared, false, "seed snapshot show a").await.unwrap();
        let b = acquire(&store, "b", Mode::Exclusive, false, "seed snapshot create b").await.unwrap();
        drop(acquire(&store, "c", Mode::Exclusive, false, "gone").await.unwrap());
        let held = held_locks(&store);
        let names: Vec<&str> = held.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b"], "{held:?}");
        assert!(held[1].1.as_deref().unwrap().contains("seed snapshot create b"), "{held:?}");
        // Looking took no lock: an exclusive lock on `c` is still free at once.
        acquire(&store, "c", Mode::Exclusive, false, "again").await.unwrap();
        drop((a, b));
        assert!(held_locks(&store).is_empty());
    }
}
