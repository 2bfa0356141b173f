//! Copying one snapshot version, with the bases it is built on, from one location to
//! another (`seed snapshot push` and `pull`). Versions keep their numbers (the same key
//! on both sides).
//!
//! An incremental version travels with its chain: every base below it that the
//! destination does not hold is copied too, bases first, so the destination never
//! holds a snapshot without its base. A base the destination already holds must be
//! the one the chain was built on (same content checksum), else the copy is refused
//! naming it; a base the source lacks is refused naming it (unless the destination
//! has it already).
//!
//! Both sides stay atomic: each copy is a new key on the destination, published only
//! whole and only if the key is free there (unless `force`, which replaces the named
//! version only, never a base). Both sides are verified: the bytes are checked against
//! the snapshot's header (every table's rows and checksum) where that costs no second
//! download — a local source before it is sent, a local copy before it is published;
//! between two buckets the source is verified first.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::output::Printer;
use crate::snapshot::catalog::{Version, base_version, lock_names, resolve, want};
use crate::snapshot::chain::{MAX_CHAIN_DEPTH, base_label};
use crate::snapshot::format::{BaseRef, Header, Storage, content_checksum};
use crate::snapshot::location::{Location, Mode};
use crate::snapshot::reader::{read_header_stored_as, verify_source};
use crate::snapshot::reference::SnapshotRef;
use crate::snapshot::source::Source;

const COPY_BUF: usize = 1 << 20;

/// What a copy did.
pub struct Copied {
    /// The version named.
    pub top: Version,
    /// The bases copied with it (`NAME@N`), bases first.
    pub bases: Vec<String>,
    /// Bytes copied, bases included.
    pub bytes: u64,
    /// How long the copying took (after locking and planning).
    pub elapsed: Duration,
}

async fn execute(
    top: &Version,
    plan: &[Planned],
    from: &Location,
    to: &Location,
    force: bool,
) -> Result<Copied, Error> {
    let started = Instant::now();
    let mut bytes = 0;
    let mut bases = Vec::new();
    for p in plan {
        let is_top = p.version.key == top.key;
        bytes += copy_key(&p.version, &p.header, from, to, is_top && force).await?;
        if !is_top {
            bases.push(p.version.label());
        }
    }
    Ok(Copied { top: top.clone(), bases, bytes, elapsed: started.elapsed() })
}

/// One key to copy: the version, and its header as read when the copy was planned.
struct Planned {
    version: Version,
    header: Header,
}

/// Copies `r` (`NAME` or `NAME@N`) and the bases below it that `to` lacks, taking
/// the locks (`command` names their holder).
pub async fn copy_chain(
    printer: &Printer,
    command: &str,
    r: &SnapshotRef,
    from: &Location,
    to: &Location,
    force: bool,
    wait: bool,
) -> Result<Copied, Error> {
    // Looked for first, so nothing is locked where there is nothing to copy.
    resolve(from, r).await?;
    let label = format!("seed {command} {r}");
    to.prepare_write().await?;
    let mut names = BTreeMap::from([(r.name.clone(), Mode::Shared)]);
    loop {
        // Shared on the source side, exclusive on the destination, every name of the
        // chain, in name order.
        let exclusive: BTreeMap<String, Mode> = names.keys().map(|n| (n.clone(), Mode::Exclusive)).collect();
        // The two locations in one fixed order whatever the direction (the local side
        // first), so a push and a pull of one name waiting with --wait cannot each
        // hold what the other waits for.
        let (_first, _second) = if lock_order(from) <= lock_order(to) {
            let read = lock_names(printer, from, &names, wait, &label).await?;
            (read, lock_names(printer, to, &exclusive, wait, &label).await?)
        } else {
            let write = lock_names(printer, to, &exclusive, wait, &label).await?;
            (write, lock_names(printer, from, &names, wait, &label).await?)
        };
        let top = resolve(from, r).await?;
        let plan = plan(from, to, &top, force).await?;
        let mut need = names.clone();
        for p in &plan {
            want(&mut need, &p.version.name, Mode::Shared);
        }
        if need.len() != names.len() {
            names = need;
            continue;
        }
        return execute(&top, &plan, from, to, force).await;
    }
}

/// Where `location` comes in the order locks are taken: directories before buckets,
/// then by place.
fn lock_order(location: &Location) -> (bool, std::path::PathBuf) {
    let place = location.display();
    match location {
        // The same directory may be named relatively by one command, absolutely by another.
        Location::Local(_) => (false, place.canonicalize().unwrap_or(place)),
        Location::S3(_) => (true, place),
    }
}

/// The versions to copy, bases first, ending with `top` (or why not).
async fn plan(from: &Location, to: &Location, top: &Version, force: bool) -> Result<Vec<Planned>, Error> {
    let header = top.header(from).await?;
    if !force && to.head(&top.key).await?.is_some() {
        return Err(Error::SnapshotExists { name: top.label(), dir: to.display() });
    }
    let mut plan = vec![Planned { version: top.clone(), header }];
    let mut below = top.label();
    for _ in 0..MAX_CHAIN_DEPTH {
        let last = &plan[plan.len() - 1].header;
        let Some(base) = last.base.clone().filter(|_| last.tables.iter().any(|t| t.storage != Storage::Full)) else {
            break;
        };
        // A base the destination holds ends the walk: it must be the right one.
        if let Some(there) = base_version(to, &base).await? {
            check_base(to, &there, &base, &below).await?;
            break;
        }
        let Some(v) = base_version(from, &base).await? else {
            return Err(Error::BaseMissing {
                base: base_label(&base),
                dependent: below.clone(),
                chain: format!(
                    "{below} → {}, held neither in {} nor in {}",
                    base_label(&base),
                    from.display().display(),
                    to.display().display()
                ),
            });
        };
        let header = v.header(from).await?;
        if content_checksum(&header) != base.content_checksum {
            return Err(Error::BaseAltered { base: v.label(), dependent: below, path: v.file.clone() });
        }
        below = v.label();
        plan.push(Planned { version: v, header });
    }
    plan.reverse();
    Ok(plan)
}

/// A base the destination already holds must be the one `dependent` was built on.
async fn check_base(to: &Location, there: &Version, base: &BaseRef, dependent: &str) -> Result<(), Error> {
    let header = there.header(to).await?;
    if content_checksum(&header) == base.content_checksum {
        return Ok(());
    }
    Err(Error::BaseAltered { base: there.label(), dependent: dependent.to_owned(), path: there.file.clone() })
}

/// Copies one key, verified, published whole (replacing only with `replace`).
async fn copy_key(v: &Version, header: &Header, from: &Location, to: &Location, replace: bool) -> Result<u64, Error> {
    let key = &v.key;
    let missing = || Error::SnapshotMissing { name: v.label(), dir: from.display() };
    let src = from.open_key(key).await?.ok_or_else(missing)?;
    // Pinned to what was planned: a version replaced since is not copied in its place.
    let now = tokio::task::block_in_place(|| read_header_stored_as(src.as_ref(), &v.name, v.version))?;
    same_header(header, &now, src.as_ref())?;
    let mut stage = to.stage(key).await?;
    let verify_after = stage.staged_source()?.is_some();
    if !verify_after {
        // The copy cannot be read back before it is published: check what is sent.
        let checked = tokio::task::block_in_place(|| verify_source(src.as_ref()))?;
        same_header(header, &checked, src.as_ref())?;
    }
    let size = src.size();
    tokio::task::block_in_place(|| -> Result<(), Error> {
        let mut reader = src.read_range(0, size)?;
        let mut buf = vec![0u8; COPY_BUF];
        let mut copied = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading snapshot", src.location(), e)),
            };
            stage.write(&buf[..n])?;
            copied += n as u64;
        }
        if copied != size {
            return Err(Error::SnapshotCorrupt {
                path: src.location().to_path_buf(),
                reason: format!("read {copied} bytes of {size}: the snapshot changed or was cut while it was copied"),
            });
        }
        if let Some(copy) = stage.staged_source()? {
            let checked = verify_source(copy.as_ref())?;
            same_header(header, &checked, copy.as_ref())?;
        }
        Ok(())
    })?;
    tokio::task::block_in_place(|| stage.publish(&[], replace)).map_err(|e| match e {
        Error::SnapshotExists { .. } => Error::SnapshotExists { name: v.label(), dir: to.display() },
        other => other,
    })?;
    Ok(size)
}

/// The copy's header is the one read first (a snapshot replaced in between is not
/// mixed into the copy: its reads are pinned, but say so plainly if it happens).
fn same_header(first: &Header, checked: &Header, src: &dyn Source) -> Result<(), Error> {
    if first == checked {
        return Ok(());
    }
    Err(Error::SnapshotCorrupt {
        path: src.location().to_path_buf(),
        reason: "the snapshot changed while it was copied".into(),
    })
}
