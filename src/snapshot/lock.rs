//! Per-name file locks in `<dir>/.locks/NAME.lock`: exclusive for create, delete and
//! prune; shared for show, verify and restore. The lock file records its holder so a
//! refused command can say who holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use crate::error::Error;
use crate::snapshot::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

/// Held until dropped (closing the file releases the lock).
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    mode: Mode,
    pub path: PathBuf,
}

impl Drop for LockGuard {
    /// An exclusive holder clears its note before the lock goes, so nobody is later
    /// named as holding a lock they released. (Shared holders may share the file with
    /// others still holding it: they leave it.)
    fn drop(&mut self) {
        if self.mode == Mode::Exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

pub async fn acquire(store: &Store, name: &str, mode: Mode, wait: bool, command: &str) -> Result<LockGuard, Error> {
    let path = store.lock_path(name);
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating lock directory", &dir, e))?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("opening lock file", &path, e))?;
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
                resource: format!("snapshot '{name}'"),
                holder: wait_for_holder(&path).await,
                hint: "wait for that command to finish, or pass --wait to queue behind it".into(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
    };
    // Best effort: only used to name the holder in someone else's error.
    let note = format!("pid {} ({command})", std::process::id());
    let mut f = &file;
    if f.set_len(0).is_ok() && f.rewind().is_ok() {
        let _ = f.write_all(note.as_bytes());
    }
    Ok(LockGuard { file, mode, path })
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

/// Lock files someone holds right now, with their recorded holder.
pub fn held_locks(store: &Store) -> Vec<(String, Option<String>)> {
    let Ok(read) = std::fs::read_dir(store.dir.join(crate::snapshot::store::LOCK_DIR)) else { return vec![] };
    let mut held = Vec::new();
    for entry in read.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(file) = File::open(&path) else { continue };
        // An exclusive probe fails if anyone holds the lock, shared or exclusive.
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => {
                let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                held.push((name, holder_of(&path)));
            }
            _ => {
                let _ = file.unlock();
            }
        }
    }
    held
}
