//! Versions in a snapshot location: `NAME` / `NAME@N`
//! resolved to a stored version, a snapshot opened with its chain of bases (every name
//! in it locked), and the snapshots built on a version. Everything goes through keys
//! (`snapshot::versions`) and the location seam, so a directory and a bucket behave
//! alike: bases are read through the location (ranged reads, streamed from a bucket),
//! and listings read headers only, several at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use futures_util::StreamExt;
use serde_json::json;

use crate::error::Error;
use crate::output::{Level, Printer};
use crate::snapshot::chain::{Chain, Link, MAX_CHAIN_DEPTH};
use crate::snapshot::format::{BaseRef, Header, Storage};
use crate::snapshot::location::{Location, LockGuard, Mode, ObjectInfo};
use crate::snapshot::reader::read_header_stored_as;
use crate::snapshot::reference::SnapshotRef;
use crate::snapshot::source::Source;
use crate::snapshot::versions;

/// Objects opened ahead when many headers are read (in a bucket: a ranged GET of the
/// first MiB each, so the network waits overlap); headers are parsed one at a time.
const PARALLEL: usize = 8;

/// One stored version of a snapshot.
#[derive(Debug, Clone)]
pub struct Version {
    pub name: String,
    pub version: u64,
    pub key: String,
    /// What messages call it: a path or an object URL.
    pub file: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

impl Version {
    fn from_info(location: &Location, info: ObjectInfo) -> Option<Self> {
        let (name, version) = versions::parse_key(&info.key)?;
        Some(Self {
            name,
            version,
            file: location.display_key(&info.key),
            key: info.key,
            size: info.size,
            modified: info.modified,
        })
    }

    /// `NAME@N`.
    pub fn label(&self) -> String {
        versions::label(&self.name, self.version)
    }

    /// Its bytes, pinned to what is stored now.
    pub async fn open(&self, location: &Location) -> Result<Arc<dyn Source>, Error> {
        location
            .open_key(&self.key)
            .await?
            .ok_or_else(|| Error::SnapshotMissing { name: self.label(), dir: location.display() })
    }

    /// Reads and checks its header (which must name this very version: see
    /// [`read_header_stored_as`]).
    pub async fn header(&self, location: &Location) -> Result<Header, Error> {
        let source = self.open(location).await?;
        self.read_header(source.as_ref())
    }

    fn read_header(&self, source: &dyn Source) -> Result<Header, Error> {
        tokio::task::block_in_place(|| read_header_stored_as(source, &self.name, self.version))
    }

    /// The link a chain holds for it.
    pub async fn link(&self, location: &Location) -> Result<Link, Error> {
        let source = self.open(location).await?;
        let header = self.read_header(source.as_ref())?;
        Ok(Link::new(self.label(), source, header))
    }
}

/// Stored versions by name, oldest first.
pub type ByName = BTreeMap<String, Vec<Version>>;

/// Every stored version, by name (versions in ascending order), and the keys that
/// are not snapshots.
pub async fn catalog(location: &Location) -> Result<(ByName, Vec<ObjectInfo>), Error> {
    let mut names: ByName = BTreeMap::new();
    let mut foreign = Vec::new();
    for info in location.list().await? {
        if versions::parse_key(&info.key).is_none() {
            foreign.push(info);
            continue;
        }
        if let Some(v) = Version::from_info(location, info) {
            names.entry(v.name.clone()).or_default().push(v);
        }
    }
    for v in names.values_mut() {
        v.sort_by_key(|v| v.version);
    }
    Ok((names, foreign))
}

/// The versions of `name`, oldest first.
pub async fn versions_of(location: &Location, name: &str) -> Result<Vec<Version>, Error> {
    Ok(catalog(location).await?.0.remove(name).unwrap_or_default())
}

/// The stored version `r` names (the latest one for a bare name).
pub async fn resolve(location: &Location, r: &SnapshotRef) -> Result<Version, Error> {
    let missing = || Error::SnapshotMissing { name: r.to_string(), dir: location.display() };
    match r.version {
        // One version: its key alone answers.
        Some(n) => stored(location, &r.name, n).await?.ok_or_else(missing),
        None => versions_of(location, &r.name).await?.pop().ok_or_else(missing),
    }
}

/// Version `version` of `name`, if it is stored.
pub async fn stored(location: &Location, name: &str, version: u64) -> Result<Option<Version>, Error> {
    let key = versions::key(name, version);
    Ok(location.head(&key).await?.and_then(|info| Version::from_info(location, info)))
}

/// The stored version a base reference names, if it is there.
pub async fn base_version(location: &Location, base: &BaseRef) -> Result<Option<Version>, Error> {
    stored(location, &base.name, base.version).await
}

/// `each(version, its header)` for `versions`, in their order: opened up to
/// [`PARALLEL`] ahead, parsed one at a time and handed to `each` at once (memory holds
/// one header however many there are: keep only what is needed of it).
pub async fn headers<T>(
    location: &Location,
    versions: Vec<Version>,
    mut each: impl FnMut(Version, Result<Header, Error>) -> T,
) -> Result<Vec<T>, Error> {
    let mut opened = futures_util::stream::iter(versions.into_iter().map(|v| {
        let location = location.clone();
        tokio::spawn(async move {
            let source = v.open(&location).await;
            (v, source)
        })
    }))
    .buffered(PARALLEL);
    let mut out = Vec::new();
    while let Some(joined) = opened.next().await {
        let (v, source) = joined.map_err(|e| Error::Internal(format!("reading headers failed: {e}")))?;
        let header = source.and_then(|s| v.read_header(s.as_ref()));
        out.push(each(v, header));
    }
    Ok(out)
}

/// The chain of `top`: its bases opened through the location (each read only as far as
/// its header until a table is rebuilt), then resolved and checked by [`Chain::resolve`]
/// (missing, altered or misfitting bases, depth).
pub async fn resolve_chain(location: &Location, top: Link) -> Result<Chain, Error> {
    let mut opened: BTreeMap<(String, u64), Result<Option<Link>, Error>> = BTreeMap::new();
    let mut next = needed_base(&top.header);
    // One more than a chain may hold, so the depth check sees a chain that is too long.
    while let Some(base) = next.take() {
        if opened.len() >= MAX_CHAIN_DEPTH || opened.contains_key(&(base.name.clone(), base.version)) {
            break;
        }
        let link = match base_version(location, &base).await {
            Ok(Some(v)) => v.link(location).await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        if let Ok(Some(l)) = &link {
            next = needed_base(&l.header);
        }
        opened.insert((base.name, base.version), link);
    }
    Chain::resolve(top, |b| opened.remove(&(b.name.clone(), b.version)).unwrap_or(Ok(None)))
}

/// The base `header` reads tables from, if any.
fn needed_base(header: &Header) -> Option<BaseRef> {
    header.base.clone().filter(|_| header.tables.iter().any(|t| t.storage != Storage::Full))
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
    printer: &Printer,
    location: &Location,
    names: &BTreeMap<String, Mode>,
    wait: bool,
    command: &str,
) -> Result<Locks, Error> {
    let mut locks = Locks::default();
    for (name, mode) in names {
        let guard = match location.lock(name, *mode, false, command).await {
            // Said before waiting, so whoever watches knows what it waits for.
            Err(Error::LockHeld { resource, holder, .. }) if wait => {
                let held_by = holder.clone().unwrap_or_else(|| "another process".to_owned());
                printer.event(Level::Debug, "lock_waiting", json!({ "resource": resource, "holder": holder }), || {
                    format!("waiting for {resource}, held by {held_by}")
                });
                location.lock(name, *mode, true, command).await?
            }
            other => other?,
        };
        report_unlocked(printer, &guard);
        locks.held.insert(name.clone(), (*mode, guard));
    }
    Ok(locks)
}

/// A reader in a location where its lock cannot be written goes on without the lock;
/// `-v` says so.
pub fn report_unlocked(printer: &Printer, guard: &LockGuard) {
    if let Some(reason) = guard.unlocked_reason() {
        let path = guard.display();
        printer.event(Level::Debug, "lock_skipped", json!({ "path": path, "reason": reason }), || {
            format!("reading without a shared lock: {path} cannot be opened ({reason})")
        });
    }
}

/// Adds `name` in `mode` to `names`, keeping the stronger mode.
pub fn want(names: &mut BTreeMap<String, Mode>, name: &str, mode: Mode) {
    let slot = names.entry(name.to_owned()).or_insert(mode);
    if mode == Mode::Exclusive {
        *slot = Mode::Exclusive;
    }
}

/// A snapshot opened for reading: its location, version, chain (bases resolved and
/// checked) and the shared locks on every name in the chain.
pub struct Opened {
    pub location: Location,
    pub version: Version,
    pub chain: Arc<Chain>,
    pub locks: Locks,
}

/// How every message names a snapshot it opened: `'NAME'` or `'NAME@N'` as typed, with
/// the version it resolved to when that is not what was typed (`'v' (v@3)`; version 1
/// of a bare name is the name itself) and the chain it is rebuilt from when it is
/// incremental.
pub fn described(typed: &SnapshotRef, chain: &Chain) -> String {
    let typed = typed.to_string();
    let label = &chain.top().label;
    let mut notes = Vec::new();
    if &typed != label && !label.ends_with("@1") {
        notes.push(label.to_owned());
    }
    if let [_, below @ ..] = chain.links()
        && !below.is_empty()
    {
        notes
            .push(format!("incremental on {}", below.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(" → ")));
    }
    if notes.is_empty() { format!("'{typed}'") } else { format!("'{typed}' ({})", notes.join(", ")) }
}

/// Opens `r` (`NAME` or `NAME@N`) with its chain, holding shared locks on every name
/// the chain goes through. The names are only known from the headers, so when a base
/// lives under a name not yet locked, every lock is let go and the whole set taken
/// again in name order, then the chain resolved again.
pub async fn open_chain(
    location: Location,
    printer: &Printer,
    r: &SnapshotRef,
    wait: bool,
    command: &str,
) -> Result<Opened, Error> {
    // Looked for first, so a reader never creates a lock where there is no snapshot.
    resolve(&location, r).await?;
    let mut names = BTreeMap::from([(r.name.clone(), Mode::Shared)]);
    let label = format!("seed snapshot {command} {r}");
    loop {
        let locks = lock_names(printer, &location, &names, wait, &label).await?;
        let version = resolve(&location, r).await?;
        let top = version.link(&location).await?;
        let top_header = top.header.clone();
        let chain = resolve_chain(&location, top).await;
        let seen = match &chain {
            Ok(c) => c.links().iter().skip(1).map(|l| l.header.name.clone()).collect(),
            // A broken chain is reported once every name it goes through is locked.
            Err(_) => chain_names_from(&location, &top_header).await,
        };
        let missing: Vec<String> = seen.into_iter().filter(|n| !locks.covers(n, Mode::Shared)).collect();
        if missing.is_empty() {
            return Ok(Opened { location, version, chain: Arc::new(chain?), locks });
        }
        drop(locks);
        for n in missing {
            want(&mut names, &n, Mode::Shared);
        }
    }
}

/// The snapshots stored as built on `name@version` (a table of theirs read from it).
pub async fn dependents(location: &Location, name: &str, version: u64) -> Result<Vec<Version>, Error> {
    let all: Vec<Version> = catalog(location).await?.0.into_values().flatten().collect();
    let found = headers(location, all, |v, h| h.is_ok_and(|h| depends_on(&h, name, version)).then_some(v)).await?;
    Ok(found.into_iter().flatten().collect())
}

/// Whether `header` reads a table from `name@version`.
pub fn depends_on(header: &Header, name: &str, version: u64) -> bool {
    header.base.as_ref().is_some_and(|b| b.name == name && b.version == version)
        && header.tables.iter().any(|t| t.storage != Storage::Full)
}

/// The names of the snapshots below `version` in its chain (following base references
/// through headers, at most `MAX_CHAIN_DEPTH` deep; unreadable links end the walk).
pub async fn chain_names(location: &Location, version: &Version) -> BTreeSet<String> {
    match version.header(location).await {
        Ok(h) => chain_names_from(location, &h).await,
        Err(_) => BTreeSet::new(),
    }
}

async fn chain_names_from(location: &Location, top: &Header) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut base = needed_base(top);
    for _ in 0..MAX_CHAIN_DEPTH {
        let Some(b) = base.take() else { break };
        names.insert(b.name.clone());
        let Ok(Some(v)) = base_version(location, &b).await else { break };
        let Ok(h) = v.header(location).await else { break };
        base = needed_base(&h);
    }
    names
}
