//! An incremental snapshot and the snapshots below it (its base, the base's base…),
//! resolved and checked before anything is read, and the tables of the top one rebuilt
//! from them while streaming.
//!
//! Resolving (`Chain::resolve`) reads headers only: every base must be there (else
//! `BaseMissing`, naming it), hold the content the snapshot above it recorded (its
//! `content_checksum`, else `BaseAltered`), be of the same database kind and session
//! settings, and hold every table the snapshot above reads from it with the same
//! columns and primary key (and, for a table stored as `base`, the same row count and
//! checksum); a chain is at most [`MAX_CHAIN_DEPTH`] snapshots long. So a restore or
//! verify fails on any of these before it reads a row or writes anything.
//!
//! Rebuilding a table (`Chain::open_table`): a `full` table is read as stored; a `base`
//! table is the base's table, rebuilt the same way; a `delta` table is the base's table
//! without the rows whose key is among the delta's upserts or deletes, followed by the
//! upserts. Every level's output is checked against its header's row count and
//! checksum at its end, so a base that does not fit its delta is caught however it
//! was altered.
//!
//! Memory: a delta level holds the 128-bit hashes of its upsert and delete keys while
//! its table streams. A table's chain may hold at most [`MAX_DELTA_KEYS`] keys in all
//! (checked from the headers before reading; `create` writes the table in full
//! rather than exceed it): at most about 40 bytes each in the hash set, so at most
//! about 320 MiB for the largest table being rebuilt, plus one row.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::snapshot::format::{self, BaseRef, DeltaPart, Header, RowHasher, Storage, TableEntry, TableStats};
use crate::snapshot::reader::{self, CHUNK_SIZE, TableRows, into_error};
use crate::snapshot::rowkey::{KeyColumns, PrehashedState, field_count};
use crate::snapshot::source::Source;
use crate::snapshot::versions;
use crate::text::shown;

/// Most snapshots in a chain, the top one included: `create` takes a full snapshot
/// rather than build on a base whose chain is already this long.
pub const MAX_CHAIN_DEPTH: usize = 8;
/// Most upsert and delete keys the deltas of one table's chain may hold in all (what a
/// rebuild keeps in memory; see the module documentation).
pub const MAX_DELTA_KEYS: u64 = 8 << 20;
/// Bytes a filtering level hands on at a time.
const OUT_CHUNK: usize = 256 * 1024;

/// One snapshot of a chain: its header and where its bytes are.
pub struct Link {
    /// `NAME@N`, for messages.
    pub label: String,
    pub source: Arc<dyn Source>,
    pub header: Header,
}

impl Link {
    pub fn new(label: String, source: Arc<dyn Source>, header: Header) -> Self {
        Self { label, source, header }
    }

    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::SnapshotCorrupt { path: self.source.location().to_path_buf(), reason: reason.into() }
    }
}

/// `NAME@N` of a base reference.
pub fn base_label(base: &BaseRef) -> String {
    versions::label(&base.name, base.version)
}

/// A snapshot and every base it needs, checked (see the module documentation).
pub struct Chain {
    links: Vec<Link>,
    /// Per link but the last: for each of its tables, the table's index in the next
    /// link (the base), when it has one there.
    in_base: Vec<Vec<Option<usize>>>,
}

impl Chain {
    /// Resolves `top`'s bases through `open`, which returns the link stored for a base
    /// reference, or `None` when there is none.
    pub fn resolve(top: Link, mut open: impl FnMut(&BaseRef) -> Result<Option<Link>, Error>) -> Result<Self, Error> {
        let mut chain = Self { links: vec![top], in_base: Vec::new() };
        loop {
            let last = chain.links.last().expect("a chain has a top");
            let needs_base = last.header.tables.iter().any(|t| t.storage != Storage::Full);
            let Some(base) = last.header.base.clone().filter(|_| needs_base) else { break };
            if chain.links.len() >= MAX_CHAIN_DEPTH {
                return Err(chain.links[0].corrupt(format!(
                    "its chain of bases is longer than the {MAX_CHAIN_DEPTH} snapshots seed builds on ({} → {} → …)",
                    chain.labels(),
                    base_label(&base)
                )));
            }
            let Some(link) = open(&base)? else {
                return Err(Error::BaseMissing {
                    base: base_label(&base),
                    dependent: last.label.clone(),
                    chain: format!("{} → {}", chain.labels(), base_label(&base)),
                });
            };
            if format::content_checksum(&link.header) != base.content_checksum {
                return Err(Error::BaseAltered {
                    base: base_label(&base),
                    dependent: last.label.clone(),
                    path: link.source.location().to_path_buf(),
                });
            }
            let map = fits(last, &link)?;
            chain.in_base.push(map);
            chain.links.push(link);
        }
        chain.check_key_budget()?;
        Ok(chain)
    }

    pub fn top(&self) -> &Link {
        &self.links[0]
    }

    pub fn header(&self) -> &Header {
        &self.links[0].header
    }

    /// The links, top first.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// `a@3 → a@2 → a@1`.
    pub fn labels(&self) -> String {
        self.links.iter().map(|l| l.label.as_str()).collect::<Vec<_>>().join(" → ")
    }

    /// Table `index` of the top snapshot, rebuilt and checked.
    pub fn open_table(&self, index: usize) -> Result<TableReader, Error> {
        self.open_table_at(0, index)
    }

    /// Table `index` of link `level`, rebuilt and checked.
    pub fn open_table_at(&self, level: usize, index: usize) -> Result<TableReader, Error> {
        let path = self.links[level].source.location().to_path_buf();
        Ok(TableReader { inner: self.open_at(level, index)?, path })
    }

    /// The index in link `level + 1` of table `index` of link `level`.
    pub fn base_index(&self, level: usize, index: usize) -> Result<usize, Error> {
        self.in_base.get(level).and_then(|m| m.get(index).copied().flatten()).ok_or_else(|| {
            Error::Internal(format!("table {index} of {} has no table in its base", self.links[level].label))
        })
    }

    fn open_at(&self, level: usize, index: usize) -> Result<Box<dyn Read + Send>, Error> {
        let link = &self.links[level];
        let entry = link
            .header
            .tables
            .get(index)
            .ok_or_else(|| Error::Internal(format!("{} has no table number {index}", link.label)))?;
        match entry.storage {
            Storage::Full => Ok(Box::new(reader::open_table_in(&*link.source, &link.header, index)?)),
            Storage::Base => self.open_at(level + 1, self.base_index(level, index)?),
            Storage::Delta => {
                let base = self.open_at(level + 1, self.base_index(level, index)?)?;
                Ok(Box::new(Filter::new(base, link, index)?))
            }
        }
    }

    /// Keys a rebuild of each top table would hold, against [`MAX_DELTA_KEYS`].
    fn check_key_budget(&self) -> Result<(), Error> {
        for index in 0..self.links[0].header.tables.len() {
            let (mut level, mut i, mut keys) = (0, index, 0u64);
            loop {
                let entry = &self.links[level].header.tables[i];
                if let Some(d) = entry.delta.as_ref().filter(|_| entry.storage == Storage::Delta) {
                    keys = keys.saturating_add(d.upserts.rows).saturating_add(d.deletes.rows);
                }
                if entry.storage == Storage::Full {
                    break;
                }
                i = self.base_index(level, i)?;
                level += 1;
            }
            if keys > MAX_DELTA_KEYS {
                let t = &self.links[0].header.tables[index];
                return Err(self.links[0].corrupt(format!(
                    "table {}: its deltas along the chain {} hold {keys} keys, more than the {MAX_DELTA_KEYS} seed \
                     rebuilds a table from (seed writes such a table in full)",
                    shown(&t.table_name().to_string(), 80),
                    self.labels()
                )));
            }
        }
        Ok(())
    }

    /// Checks the top snapshot's stored bytes (every full table, every delta part)
    /// and every table it does not store in full, rebuilt from the chain.
    pub fn verify(&self) -> Result<(), Error> {
        let top = &self.links[0];
        reader::verify_stored(&*top.source, &top.header)?;
        for (index, t) in top.header.tables.iter().enumerate() {
            if t.storage != Storage::Full {
                self.open_table(index)?.finish()?;
            }
        }
        Ok(())
    }
}

/// That `base` can serve every table `dependent` reads from it; for each table of
/// `dependent`, its index in `base`.
fn fits(dependent: &Link, base: &Link) -> Result<Vec<Option<usize>>, Error> {
    let (d, b) = (&dependent.header, &base.header);
    let bad = |what: String| dependent.corrupt(format!("its base {} {what}", base.label));
    if d.database.kind != b.database.kind {
        return Err(bad(format!("was taken from {}, not {}", shown(&b.database.kind, 20), shown(&d.database.kind, 20))));
    }
    if d.settings != b.settings {
        return Err(bad("was written under other session settings".into()));
    }
    let index: HashMap<(&str, &str), usize> =
        b.tables.iter().enumerate().map(|(i, t)| ((t.schema.as_str(), t.name.as_str()), i)).collect();
    let mut map = Vec::with_capacity(d.tables.len());
    for t in &d.tables {
        let found = index.get(&(t.schema.as_str(), t.name.as_str())).copied();
        map.push(found);
        if t.storage == Storage::Full {
            continue;
        }
        let name = shown(&t.table_name().to_string(), 80);
        let Some(j) = found else {
            return Err(bad(format!("has no table {name}, which this snapshot reads from it")));
        };
        let bt = &b.tables[j];
        if bt.columns != t.columns || bt.primary_key != t.primary_key {
            return Err(bad(format!("has table {name} with other columns or another primary key")));
        }
        if t.storage == Storage::Base && (bt.rows != t.rows || bt.checksum != t.checksum) {
            return Err(bad(format!(
                "holds {} rows (checksum {}) in table {name}, which this snapshot says is unchanged at {} rows (checksum {})",
                bt.rows, bt.checksum, t.rows, t.checksum
            )));
        }
    }
    Ok(map)
}

/// Rows of one table, rebuilt from its chain and checked; see [`Chain::open_table`].
pub struct TableReader {
    inner: Box<dyn Read + Send>,
    /// The top snapshot's location, for errors that are not already an `Error`.
    path: PathBuf,
}

impl TableReader {
    /// The next up to 1 MiB of rows (not necessarily ending on a row boundary), or
    /// `None` once the table is fully read and checked.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(into_error(&self.path, e)),
            }
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some(buf))
    }

    /// Reads whatever is left, checking it.
    pub fn finish(mut self) -> Result<(), Error> {
        io::copy(&mut self.inner, &mut io::sink()).map(drop).map_err(|e| into_error(&self.path, e))
    }
}

impl Read for TableReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// 128-bit hash of a key (see `rowkey`).
fn key_hash(key: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key)
}

enum Phase {
    Base,
    Upserts,
    Done,
}

/// A delta level: the base's rows without those whose key the delta upserts or
/// deletes, then the upserts; checked against the level's row count and checksum.
struct Filter {
    base: BufReader<Box<dyn Read + Send>>,
    upserts: TableRows,
    keys: HashSet<u128, PrehashedState>,
    columns: KeyColumns,
    phase: Phase,
    line: Vec<u8>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    hasher: RowHasher,
    expected: TableStats,
    /// `table X of a@3`, for messages.
    what: String,
    path: PathBuf,
}

fn io_err(e: Error) -> io::Error {
    io::Error::other(e)
}

impl Filter {
    fn new(base: Box<dyn Read + Send>, link: &Link, index: usize) -> Result<Self, Error> {
        let entry: &TableEntry = &link.header.tables[index];
        let what = format!("table {} of {}", shown(&entry.table_name().to_string(), 80), link.label);
        let columns = KeyColumns::of(entry)
            .ok_or_else(|| link.corrupt(format!("{what} is stored as a delta but has no primary key")))?;
        let d = entry.delta.as_ref().ok_or_else(|| Error::Internal(format!("{what} has no delta parts")))?;
        let src = &*link.source;
        let path = src.location().to_path_buf();
        // Bounded by the chain's key budget, checked from the headers.
        let capacity = usize::try_from(d.upserts.rows.saturating_add(d.deletes.rows).min(MAX_DELTA_KEYS)).unwrap_or(0);
        let mut keys = HashSet::with_capacity_and_hasher(capacity, PrehashedState::default());
        let mut scratch = Vec::new();
        let mut line = Vec::new();
        let mut upserts = BufReader::with_capacity(64 * 1024, reader::open_part_in(src, &link.header, index, DeltaPart::Upserts)?);
        let mut row = 0u64;
        while read_line(&mut upserts, &mut line, &path)? {
            row += 1;
            let key = columns.key(&line, &mut scratch).ok_or_else(|| {
                link.corrupt(format!("{what} (upserts): row {row} has fewer fields than its key needs"))
            })?;
            keys.insert(key_hash(key));
        }
        let mut deletes = BufReader::with_capacity(64 * 1024, reader::open_part_in(src, &link.header, index, DeltaPart::Deletes)?);
        row = 0;
        while read_line(&mut deletes, &mut line, &path)? {
            row += 1;
            if field_count(&line) != columns.len() {
                return Err(link.corrupt(format!(
                    "{what} (deletes): row {row} has {} fields, the key has {}",
                    field_count(&line),
                    columns.len()
                )));
            }
            keys.insert(key_hash(&line));
        }
        Ok(Self {
            base: BufReader::with_capacity(256 * 1024, base),
            upserts: reader::open_part_in(src, &link.header, index, DeltaPart::Upserts)?,
            keys,
            columns,
            phase: Phase::Base,
            line,
            scratch,
            out: Vec::with_capacity(OUT_CHUNK + 4096),
            out_pos: 0,
            hasher: RowHasher::new(),
            expected: TableStats { rows: entry.rows, checksum: entry.checksum.clone(), raw_bytes: 0 },
            what,
            path,
        })
    }

    fn corrupt(&self, reason: String) -> io::Error {
        io_err(Error::SnapshotCorrupt { path: self.path.clone(), reason })
    }

    /// Refills `out`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        loop {
            match self.phase {
                Phase::Base => {
                    while self.out.len() < OUT_CHUNK {
                        self.line.clear();
                        if self.base.read_until(b'\n', &mut self.line)? == 0 {
                            self.phase = Phase::Upserts;
                            break;
                        }
                        let Some(body) = self.line.strip_suffix(b"\n") else {
                            return Err(self.corrupt(format!("{}: its base's rows do not end with a newline", self.what)));
                        };
                        let Some(key) = self.columns.key(body, &mut self.scratch) else {
                            return Err(self.corrupt(format!("{}: a row of its base has fewer fields than the key needs", self.what)));
                        };
                        if !self.keys.contains(&key_hash(key)) {
                            self.out.extend_from_slice(&self.line);
                        }
                    }
                }
                Phase::Upserts => {
                    self.out.resize(OUT_CHUNK, 0);
                    let n = self.upserts.read(&mut self.out)?;
                    self.out.truncate(n);
                    if n == 0 {
                        self.phase = Phase::Done;
                        self.check_end()?;
                        return Ok(false);
                    }
                }
                Phase::Done => return Ok(false),
            }
            if !self.out.is_empty() {
                self.hasher.update(&self.out);
                return Ok(true);
            }
        }
    }

    fn check_end(&self) -> io::Result<()> {
        let got = self.hasher.clone().finish().map_err(|r| self.corrupt(format!("{}: {r}", self.what)))?;
        if got.rows != self.expected.rows || got.checksum != self.expected.checksum {
            return Err(self.corrupt(format!(
                "{} rebuilt from its base: {} rows (checksum {}), but the header records {} (checksum {}): \
                 the base does not fit this delta",
                self.what, got.rows, got.checksum, self.expected.rows, self.expected.checksum
            )));
        }
        Ok(())
    }
}

/// The next line of `r` into `line` (newline stripped); false at the end.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>, path: &Path) -> Result<bool, Error> {
    line.clear();
    match r.read_until(b'\n', line) {
        Ok(0) => Ok(false),
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            Ok(true)
        }
        Err(e) => Err(into_error(path, e)),
    }
}

impl Read for Filter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos >= self.out.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}
