//! The SQLite write lock is SQLite's own (`BEGIN IMMEDIATE` takes RESERVED): a second
//! writer is refused at once, or waits with `--wait`. Who holds it is read from
//! /proc/locks (SQLite's POSIX byte-range locks on the database file) — no lock file of
//! ours beside the database, and no second descriptor of the file (closing one would
//! drop SQLite's own POSIX locks).

use std::path::Path;
use std::time::Duration;

use super::SqliteBackend;
use crate::db::backend::{Backend, WriteIntent};
use crate::db::step::Step;
use crate::error::Error;

/// SQLite's lock bytes (os_unix.c): PENDING at 2^30, RESERVED right after, then the
/// shared range.
const PENDING_BYTE: u64 = 0x4000_0000;
const SHARED_FIRST: u64 = PENDING_BYTE + 2;

pub async fn begin_immediate(db: &mut SqliteBackend, intent: &WriteIntent, step: &Step) -> Result<(), Error> {
    loop {
        match db.execute("BEGIN IMMEDIATE".into(), step).await {
            Err(Error::LockHeld { .. }) if intent.wait => tokio::time::sleep(Duration::from_millis(200)).await,
            Err(Error::LockHeld { resource, holder, .. }) => {
                return Err(Error::LockHeld {
                    resource,
                    holder,
                    hint: format!(
                        "another process is writing to it; wait for it to finish, then run `seed {}` again, or pass --wait",
                        intent.command
                    ),
                });
            }
            other => return other,
        }
    }
}

/// "pid 4242 (seed bulk)" for another process holding a write (or pending) lock on the
/// database file, else one holding a read lock; `None` when /proc/locks says nothing.
pub fn lock_holder(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(path).ok()?.ino();
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let me = std::process::id();
    let mut reader = None;
    for line in locks.lines() {
        // "1: POSIX  ADVISORY  WRITE 4242 08:01:1234567 1073741825 1073741825"
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = f.iter().position(|w| *w == "POSIX" || *w == "OFDLCK") else { continue };
        let (Some(access), Some(pid), Some(dev_ino), Some(start)) =
            (f.get(at + 2), f.get(at + 3), f.get(at + 4), f.get(at + 5))
        else {
            continue;
        };
        if dev_ino.rsplit(':').next().and_then(|i| i.parse::<u64>().ok()) != Some(inode) {
            continue;
        }
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid == me {
            continue;
        }
        let start: u64 = start.parse().unwrap_or(0);
        if *access == "WRITE" && start < SHARED_FIRST {
            return Some(describe(pid));
        }
        reader.get_or_insert(pid);
    }
    reader.map(|pid| format!("{} (reading)", describe(pid)))
}

/// `pid N (program words)`: the program's name and its first plain words, never its
/// options or anything that may hold a secret.
fn describe(pid: u32) -> String {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let mut words = cmdline.split(|&b| b == 0).filter(|w| !w.is_empty()).map(String::from_utf8_lossy);
    let program = words.next().map(|p| p.rsplit('/').next().unwrap_or_default().to_owned());
    let words: Vec<String> = words
        .take_while(|w| !w.starts_with('-') && !w.contains(['=', ':', '@', '/']))
        .take(3)
        .map(|w| plain(&w))
        .collect();
    match program {
        Some(p) => format!("pid {pid} ({})", std::iter::once(plain(&p)).chain(words).collect::<Vec<_>>().join(" ")),
        None => format!("pid {pid}"),
    }
}

/// Letters, digits, `-`, `_` and `.` only: another process's words are untrusted.
fn plain(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_only_plain_words() {
        let d = describe(std::process::id());
        assert!(d.starts_with(&format!("pid {} (", std::process::id())), "{d}");
        assert!(!d.contains("--"), "{d}");
    }
}
