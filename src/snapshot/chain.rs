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
use crate::untrusted::shown;

/// Most snapshots in a chain, the top one included: `create` takes a full snapshot
/// rather than build on a base whose chain is already this long.
pub const MAX_CHAIN_DEPTH: usize = 8;
/// Most upsert and delete keys the deltas of one table's chain may hold in all (what a
/// rebuild keeps in memory; see the module documentation).
pub const MAX_DELTA_KEYS: u64 = 8 << 20;
/// Bytes a filtering level hands on at a time.
const OUT_CHUNK: usize = 256 * 1024;

/// One snapshot of a chain: its header and where its bytes are.
#[derive(Clone)]
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
            // A base that is already in the chain (only a forged header can say so, as
            // every header names its own version): corrupt, not "missing".
            if chain.links.iter().any(|l| l.header.name == base.name && l.header.version == base.version) {
                return Err(chain.links[0].corrupt(format!(
                    "its chain of bases loops back to {} ({} → {})",
                    base_label(&base),
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

    /// The snapshot itself, the chain let go.
    pub fn into_top(self) -> Link {
        self.links.into_iter().next().expect("a chain has a top")
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
        return Err(bad(format!(
            "was taken from {}, not {}",
            shown(&b.database.kind, 20),
            shown(&d.database.kind, 20)
        )));
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
        let mut upserts =
            BufReader::with_capacity(64 * 1024, reader::open_part_in(src, &link.header, index, DeltaPart::Upserts)?);
        let mut row = 0u64;
        while read_line(&mut upserts, &mut line, &path)? {
            row += 1;
            let key = columns.key(&line, &mut scratch).ok_or_else(|| {
                link.corrupt(format!("{what} (upserts): row {row} has fewer fields than its key needs"))
            })?;
            keys.insert(key_hash(key));
        }
        let mut deletes =
            BufReader::with_capacity(64 * 1024, reader::open_part_in(src, &link.header, index, DeltaPart::Deletes)?);
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
                            return Err(
                                self.corrupt(format!("{}: its base's rows do not end with a newline", self.what))
                            );
                        };
                        let Some(key) = self.columns.key(body, &mut self.scratch) else {
                            return Err(self.corrupt(format!(
                                "{}: a row of its base has fewer fields than the key needs",
                                self.what
                            )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::format::tests::sample_header;
    use crate::snapshot::format::{gzip_member, row_hash};
    use crate::snapshot::source::FileSource;
    use crate::snapshot::writer::SnapshotWriter;

    /// How a test stores one table.
    enum T<'a> {
        Full(&'a str),
        Base,
        Delta { upserts: &'a str, deletes: &'a str },
    }

    fn stats(data: &[u8]) -> TableStats {
        let mut h = RowHasher::new();
        h.update(data);
        h.finish().unwrap()
    }

    /// The rows `data` hash to, as (rows, checksum) of a whole table.
    fn sum_of(rows: &[&str]) -> (u64, String) {
        let sum = rows.iter().map(|r| row_hash(r.as_bytes())).fold(0u64, u64::wrapping_add);
        (rows.len() as u64, format!("{sum:016x}"))
    }

    /// Writes `name@version` with tables t0, t1… stored as `tables`; `result` gives
    /// each table's rows as rebuilt (what the header records).
    fn write(
        dir: &Path,
        name: &str,
        version: u64,
        base: Option<&Header>,
        tables: &[(T, &[&str])],
    ) -> (Header, std::path::PathBuf) {
        let names: Vec<String> = (0..tables.len()).map(|i| format!("t{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut h = sample_header(name, &names);
        h.version = version;
        h.base = base.map(|b| BaseRef {
            name: b.name.clone(),
            version: b.version,
            content_checksum: format::content_checksum(b),
        });
        let stage = crate::snapshot::writer::tests::stage_key(dir, &versions::key(name, version));
        let mut w = SnapshotWriter::create(stage, h).unwrap();
        for (i, (t, result)) in tables.iter().enumerate() {
            let (rows, checksum) = sum_of(result);
            match t {
                T::Full(data) => {
                    w.begin_table_as(i, Storage::Full).unwrap();
                    if !data.is_empty() {
                        w.write_member(&gzip_member(data.as_bytes(), 6)).unwrap();
                    }
                    w.end_table(stats(data.as_bytes())).unwrap();
                }
                T::Base => {
                    w.begin_table_as(i, Storage::Base).unwrap();
                    w.end_reconstructed_table(rows, &checksum).unwrap();
                }
                T::Delta { upserts, deletes } => {
                    w.begin_table_as(i, Storage::Delta).unwrap();
                    for (part, data) in [(DeltaPart::Upserts, upserts), (DeltaPart::Deletes, deletes)] {
                        w.begin_part(part).unwrap();
                        if !data.is_empty() {
                            w.write_member(&gzip_member(data.as_bytes(), 6)).unwrap();
                        }
                        w.end_part(stats(data.as_bytes())).unwrap();
                    }
                    w.end_reconstructed_table(rows, &checksum).unwrap();
                }
            }
        }
        let path = dir.join(versions::key(name, version));
        let header = w.finish(true).unwrap();
        (header, path)
    }

    fn link(path: &Path, label: &str) -> Link {
        let src = FileSource::open(path).unwrap();
        let header = reader::read_header_from(&src).unwrap();
        Link::new(label.into(), Arc::new(src), header)
    }

    /// Resolves `top` against the snapshots in `dir`.
    fn resolve(dir: &Path, top: &Path, label: &str) -> Result<Chain, Error> {
        Chain::resolve(link(top, label), |b| {
            let p = dir.join(versions::key(&b.name, b.version));
            Ok(p.exists().then(|| link(&p, &base_label(b))))
        })
    }

    fn rows_of(chain: &Chain, index: usize) -> Result<Vec<String>, Error> {
        let mut out = String::new();
        chain.open_table(index)?.read_to_string(&mut out).map_err(|e| into_error(Path::new("x"), e))?;
        let mut rows: Vec<String> = out.lines().map(str::to_owned).collect();
        rows.sort();
        Ok(rows)
    }

    fn sorted(rows: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = rows.iter().map(|r| (*r).to_owned()).collect();
        v.sort();
        v
    }

    const V1: [&str; 4] = ["1\tone", "2\ttwo", "3\tthree", "4\t\\N"];
    const V2: [&str; 4] = ["1\tone", "2\tTWO", "4\t\\N", "5\tfive"];
    const V3: [&str; 3] = ["2\tTWO", "5\tfive!", "6\tsix"];

    fn lines(rows: &[&str]) -> String {
        rows.iter().map(|r| format!("{r}\n")).collect()
    }

    /// a@1 full; a@2 a delta on it (one changed, one added, one removed) plus an
    /// unchanged table; a@3 a delta on a@2.
    fn three_versions(dir: &Path) -> [(Header, std::path::PathBuf); 3] {
        let (h1, p1) = write(dir, "a", 1, None, &[(T::Full(&lines(&V1)), &V1), (T::Full(&lines(&V1)), &V1)]);
        let d2 = T::Delta { upserts: "2\tTWO\n5\tfive\n", deletes: "3\n" };
        let (h2, p2) = write(dir, "a", 2, Some(&h1), &[(d2, &V2), (T::Base, &V1)]);
        let d3 = T::Delta { upserts: "5\tfive!\n6\tsix\n", deletes: "1\n4\n" };
        let (h3, p3) = write(dir, "a", 3, Some(&h2), &[(d3, &V3), (T::Base, &V1)]);
        [(h1, p1), (h2, p2), (h3, p3)]
    }

    #[test]
    fn tables_are_rebuilt_through_the_chain_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let [_, (_, p2), (_, p3)] = three_versions(dir.path());
        let c2 = resolve(dir.path(), &p2, "a@2").unwrap();
        assert_eq!(c2.labels(), "a@2 → a@1");
        assert_eq!(rows_of(&c2, 0).unwrap(), sorted(&V2));
        assert_eq!(rows_of(&c2, 1).unwrap(), sorted(&V1));
        let c3 = resolve(dir.path(), &p3, "a@3").unwrap();
        assert_eq!(c3.labels(), "a@3 → a@2 → a@1");
        assert_eq!(rows_of(&c3, 0).unwrap(), sorted(&V3));
        assert_eq!(rows_of(&c3, 1).unwrap(), sorted(&V1), "base of a base");
        c3.verify().unwrap();
        // Chunks of the reader add up to the rows.
        let mut r = c3.open_table(0).unwrap();
        let mut all = Vec::new();
        while let Some(chunk) = r.next_chunk().unwrap() {
            all.extend(chunk);
        }
        assert_eq!(String::from_utf8(all).unwrap().lines().count(), 3);
    }

    #[test]
    fn a_missing_or_altered_base_is_named_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let [(h1, p1), _, (_, p3)] = three_versions(dir.path());
        // a@1 replaced by a snapshot with other rows: a@2's record of it no longer fits.
        let other = ["1\tone", "2\ttwo"];
        let (_, p1b) =
            write(dir.path(), "b", 1, None, &[(T::Full(&lines(&other)), &other), (T::Full(&lines(&V1)), &V1)]);
        let saved = std::fs::read(&p1).unwrap();
        std::fs::copy(&p1b, &p1).unwrap();
        let err = resolve(dir.path(), &p3, "a@3").err().unwrap();
        assert!(
            matches!(&err, Error::BaseAltered { base, dependent, .. } if base == "a@1" && dependent == "a@2"),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), crate::error::code::SNAPSHOT_CORRUPT);
        std::fs::remove_file(&p1).unwrap();
        let err = resolve(dir.path(), &p3, "a@3").err().unwrap();
        assert!(
            matches!(&err, Error::BaseMissing { base, dependent, chain } if base == "a@1" && dependent == "a@2" && chain == "a@3 → a@2 → a@1"),
            "{err:?}"
        );
        assert_eq!(err.exit_code(), crate::error::code::SNAPSHOT_MISSING);
        std::fs::write(&p1, saved).unwrap();
        resolve(dir.path(), &p3, "a@3").unwrap();
        assert_eq!(format::content_checksum(&h1), format::content_checksum(&link(&p1, "a@1").header));
    }

    /// r21.8: a chain that comes back to a snapshot already in it (only forged headers
    /// can say so: content checksums leave the base out) is corrupt, never "missing".
    #[test]
    fn a_chain_that_loops_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let full = [(T::Full(&lines(&V1)), &V1[..])];
        let (y0, _) = write(dir.path(), "y", 1, None, &full);
        let (x, px) = write(dir.path(), "x", 1, Some(&y0), &[(T::Base, &V1)]);
        // y@1 rewritten with the same content, built on x@1: x@1 → y@1 → x@1.
        write(dir.path(), "y", 1, Some(&x), &[(T::Base, &V1)]);
        let err = resolve(dir.path(), &px, "x@1").err().unwrap();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("loops back to x@1 (x@1 → y@1 → x@1)")),
            "{err:?}"
        );
    }

    #[test]
    fn a_delta_that_does_not_fit_its_base_fails_at_the_end_of_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let (h1, _) = write(dir.path(), "a", 1, None, &[(T::Full(&lines(&V1)), &V1)]);
        // The header claims what a rebuild gives (V2) but the delta forgets a delete.
        let d = T::Delta { upserts: "2\tTWO\n5\tfive\n", deletes: "" };
        let (_, p2) = write(dir.path(), "a", 2, Some(&h1), &[(d, &V2)]);
        let chain = resolve(dir.path(), &p2, "a@2").unwrap();
        let err = rows_of(&chain, 0).unwrap_err();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("table t0 of a@2 rebuilt from its base: 5 rows")
                && reason.contains("the base does not fit this delta")),
            "{err:?}"
        );
        assert!(matches!(chain.verify(), Err(Error::SnapshotCorrupt { .. })));
    }

    #[test]
    fn delete_lines_must_be_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (h1, _) = write(dir.path(), "a", 1, None, &[(T::Full(&lines(&V1)), &V1)]);
        let d = T::Delta { upserts: "", deletes: "3\tthree\n" };
        let (_, p2) = write(dir.path(), "a", 2, Some(&h1), &[(d, &["1\tone", "2\ttwo", "4\t\\N"])]);
        let chain = resolve(dir.path(), &p2, "a@2").unwrap();
        let err = chain.open_table(0).err().unwrap();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("(deletes): row 1 has 2 fields, the key has 1")),
            "{err:?}"
        );
    }

    #[test]
    fn a_base_with_other_columns_or_rows_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let (h1, p1) = write(dir.path(), "a", 1, None, &[(T::Full(&lines(&V1)), &V1)]);
        // A (re-signed) header saying the table is unchanged with other figures.
        let (_, p2) = write(dir.path(), "a", 2, Some(&h1), &[(T::Base, &V2)]);
        let err = resolve(dir.path(), &p2, "a@2").err().unwrap();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("its base a@1 holds 4 rows")),
            "{err:?}"
        );
        // Same content checksum is impossible with other columns; a base of another
        // database kind is refused by name too.
        let mut other = link(&p1, "a@1");
        other.header.database.kind = "sqlite".into();
        other.header.tables[0].columns[1].name = "renamed".into();
        let top = link(&p2, "a@2");
        let err = fits(&top, &other).unwrap_err();
        assert!(matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("was taken from")), "{err:?}");
        other.header.database.kind = top.header.database.kind.clone();
        let err = fits(&top, &other).unwrap_err();
        assert!(matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("other columns")), "{err:?}");
    }

    #[test]
    fn chains_are_at_most_max_depth_long() {
        let dir = tempfile::tempdir().unwrap();
        let (mut prev, _) = write(dir.path(), "a", 1, None, &[(T::Full(&lines(&V1)), &V1)]);
        let mut last = None;
        for v in 2..=(MAX_CHAIN_DEPTH as u64 + 1) {
            let (h, p) = write(dir.path(), "a", v, Some(&prev), &[(T::Base, &V1)]);
            if v == MAX_CHAIN_DEPTH as u64 {
                resolve(dir.path(), &p, &format!("a@{v}")).unwrap();
            }
            prev = h;
            last = Some(p);
        }
        let label = format!("a@{}", MAX_CHAIN_DEPTH + 1);
        let err = resolve(dir.path(), &last.unwrap(), &label).err().unwrap();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("longer than the 8 snapshots")),
            "{err:?}"
        );
    }

    #[test]
    fn the_key_budget_is_checked_from_the_headers() {
        let dir = tempfile::tempdir().unwrap();
        let (h1, _) = write(dir.path(), "a", 1, None, &[(T::Full(&lines(&V1)), &V1)]);
        let d = T::Delta { upserts: "2\tTWO\n5\tfive\n", deletes: "3\n" };
        let (_, p2) = write(dir.path(), "a", 2, Some(&h1), &[(d, &V2)]);
        let mut chain = resolve(dir.path(), &p2, "a@2").unwrap();
        chain.check_key_budget().unwrap();
        chain.links[0].header.tables[0].delta.as_mut().unwrap().deletes.rows = MAX_DELTA_KEYS;
        let err = chain.check_key_budget().unwrap_err();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("more than the 8388608")),
            "{err:?}"
        );
    }
}
