//! Versions in the snapshot store as the commands see them: `NAME` / `NAME@N` resolved
//! to a stored version, a snapshot opened with its chain of bases (every name in it
//! locked), and the snapshots built on a version. Everything goes through keys
//! (`snapshot::versions`), never through file names built here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::Context;
use crate::error::Error;
use crate::snapshot::chain::{Chain, Link};
use crate::snapshot::format::{BaseRef, Header, Storage};
use crate::snapshot::lock::{self, LockGuard, Mode};
use crate::snapshot::reader::read_header_from;
use crate::snapshot::source::FileSource;
use crate::snapshot::store::{Entry, Store};
use crate::snapshot::versions::{self, Ref};

use super::{report_unlocked, store};

/// One stored version of a snapshot.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub version: u64,
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

impl Version {
    /// `NAME@N`.
    pub fn label(&self) -> String {
        versions::label(&self.name, self.version)
    }

    /// Reads and checks its header.
    pub fn header(&self) -> Result<Header, Error> {
        read_header_from(&FileSource::open(&self.path)?)
    }

    /// The link a chain holds for it.
    pub fn link(&self) -> Result<Link, Error> {
        let source = FileSource::open(&self.path)?;
        let header = read_header_from(&source)?;
        Ok(Link::new(self.label(), Arc::new(source), header))
    }
}

/// Stored versions by name, oldest first.
pub type ByName = BTreeMap<String, Vec<Version>>;

/// Every stored version, by name (versions in ascending order), and the files that
/// are not snapshots.
pub fn catalog(store: &Store) -> Result<(ByName, Vec<Entry>), Error> {
    let mut names: BTreeMap<String, Vec<Version>> = BTreeMap::new();
    let mut foreign = Vec::new();
    for entry in store.entries()? {
        match entry {
            Entry::Snapshot { name, version, key, path, size, modified } => {
                names.entry(name.clone()).or_default().push(Version { name, version, key, path, size, modified });
            }
            other @ Entry::Foreign { .. } => foreign.push(other),
        }
    }
    for v in names.values_mut() {
        v.sort_by_key(|v| v.version);
    }
    Ok((names, foreign))
}

/// The versions of `name`, oldest first.
pub fn versions_of(store: &Store, name: &str) -> Result<Vec<Version>, Error> {
    Ok(catalog(store)?.0.remove(name).unwrap_or_default())
}

/// The stored version `r` names (the latest one for a bare name).
pub fn resolve(store: &Store, r: &Ref) -> Result<Version, Error> {
    let versions = versions_of(store, &r.name)?;
    let found = match r.version {
        None => versions.last(),
        Some(n) => versions.iter().find(|v| v.version == n),
    };
    found.cloned().ok_or_else(|| Error::SnapshotMissing { name: r.to_string(), dir: store.dir.clone() })
}

/// The stored version a base reference names, if it is there.
pub fn base_version(store: &Store, base: &BaseRef) -> Option<Version> {
    let path = store.version_path(&base.name, base.version);
    let meta = std::fs::metadata(&path).ok().filter(std::fs::Metadata::is_file)?;
    Some(Version {
        name: base.name.clone(),
        version: base.version,
        key: versions::key(&base.name, base.version),
        path,
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}

/// Locks on several names, released together when dropped.
#[derive(Debug, Default)]
pub struct Locks {
    held: BTreeMap<String, (Mode, LockGuard)>,
}

impl Locks {
    /// Whether `name` is locked at least in `mode`.
    pub fn covers(&self, name: &str, mode: Mode) -> bool {
        self.held.get(name).is_some_and(|(m, _)| *m == Mode::Exclusive || *m == mode)
    }
}

/// Locks `names` in name order (so two commands locking overlapping sets never wait on
/// each other in a cycle); the same name asked twice gets the stronger mode.
pub async fn lock_names(
    ctx: &Context,
    store: &Store,
    names: &BTreeMap<String, Mode>,
    wait: bool,
    command: &str,
) -> Result<Locks, Error> {
    let mut locks = Locks::default();
    for (name, mode) in names {
        let guard = lock::acquire(store, name, *mode, wait, command).await?;
        report_unlocked(ctx, &guard);
        locks.held.insert(name.clone(), (*mode, guard));
    }
    Ok(locks)
}

/// Adds `name` in `mode` to `names`, keeping the stronger mode.
pub fn want(names: &mut BTreeMap<String, Mode>, name: &str, mode: Mode) {
    let slot = names.entry(name.to_owned()).or_insert(mode);
    if mode == Mode::Exclusive {
        *slot = Mode::Exclusive;
    }
}

/// A snapshot opened for reading: its version, its chain (bases resolved and checked)
/// and the shared locks on every name in the chain.
pub struct Opened {
    pub version: Version,
    pub chain: Arc<Chain>,
    pub _locks: Locks,
}

/// Opens `text` (`NAME` or `NAME@N`) with its chain, holding shared locks on every name
/// the chain goes through. The names are only known from the headers, so when a base
/// lives under a name not yet locked, every lock is let go and the whole set taken
/// again in name order, then the chain resolved again.
pub async fn open_chain(ctx: &Context, text: &str, wait: bool, command: &str) -> Result<Opened, Error> {
    let r = Ref::parse(text)?;
    let store = store(ctx);
    let mut names = BTreeMap::from([(r.name.clone(), Mode::Shared)]);
    let label = format!("seed snapshot {command} {r}");
    loop {
        let locks = lock_names(ctx, &store, &names, wait, &label).await?;
        let version = resolve(&store, &r)?;
        let mut seen = BTreeSet::new();
        let chain = Chain::resolve(version.link()?, |base| {
            seen.insert(base.name.clone());
            base_version(&store, base).map(|v| v.link()).transpose()
        });
        let missing: Vec<String> = seen.into_iter().filter(|n| !locks.covers(n, Mode::Shared)).collect();
        if missing.is_empty() {
            return Ok(Opened { version, chain: Arc::new(chain?), _locks: locks });
        }
        drop(locks);
        for n in missing {
            want(&mut names, &n, Mode::Shared);
        }
    }
}

/// The snapshots stored as built on `name@version` (a table of theirs read from it),
/// with their headers.
pub fn dependents(store: &Store, name: &str, version: u64) -> Result<Vec<Version>, Error> {
    let (all, _) = catalog(store)?;
    let mut out = Vec::new();
    for v in all.into_values().flatten() {
        let Ok(h) = v.header() else { continue };
        if depends_on(&h, name, version) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Whether `header` reads a table from `name@version`.
pub fn depends_on(header: &Header, name: &str, version: u64) -> bool {
    header.base.as_ref().is_some_and(|b| b.name == name && b.version == version)
        && header.tables.iter().any(|t| t.storage != Storage::Full)
}

/// The names of the snapshots below `version` in its chain (following base references
/// through headers, at most `MAX_CHAIN_DEPTH` deep; unreadable links end the walk).
pub fn chain_names(store: &Store, version: &Version) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut header = version.header().ok();
    for _ in 0..crate::snapshot::chain::MAX_CHAIN_DEPTH {
        let Some(base) = header.as_ref().and_then(|h| h.base.clone()) else { break };
        names.insert(base.name.clone());
        header = base_version(store, &base).and_then(|v| v.header().ok());
    }
    names
}
