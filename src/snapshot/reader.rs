//! Reads snapshot files (layout in `format`). A snapshot is untrusted input: it may be
//! truncated, bit-flipped, hand-edited or not a snapshot at all. Every problem is a
//! `SnapshotCorrupt` error with a precise reason, never a panic; the header is bounded
//! (`format`'s limits, enforced while parsing) and everything else is read in
//! fixed-size buffers. All reads go through a [`Source`].

use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::Error;
use crate::snapshot::format::{
    self, DeltaPart, FORMAT_NAME, FORMAT_VERSION, Header, MAX_STRING_LEN, OLDEST_FORMAT_VERSION, ROW_FORMAT_COPY_TEXT,
    RowHasher, Storage, TableStats,
};
use crate::snapshot::header_member::{self, corrupt};
use crate::snapshot::source::{FileSource, Source};
use crate::snapshot::validate;
use crate::snapshot::versions;
use crate::untrusted::{for_terminal, shown};

/// Largest chunk `TableRows::next_chunk` returns.
pub const CHUNK_SIZE: usize = 1 << 20;
const READ_BUF: usize = 64 * 1024;

/// Reads and checks the header of the snapshot at `path`; returns it with the file's
/// size. See [`read_header_from`].
pub fn read_header(path: &Path) -> Result<(Header, u64), Error> {
    let src = FileSource::open(path)?;
    let header = read_header_from(&src)?;
    Ok((header, src.size()))
}

/// Reads and checks a snapshot's header: its member is in the stored form seed writes
/// and within the limits, its checksum (format 2) matches before anything else in it
/// is used, it is consistent, and the tables it lists tile the rest of the source
/// exactly. Decompresses no table (see [`verify`]).
pub fn read_header_from(src: &dyn Source) -> Result<Header, Error> {
    let result = read_header_inner(src);
    // Reasons quote the file (and serde quotes it too): never raw on a terminal.
    result.map_err(|e| match e {
        Error::SnapshotCorrupt { path, reason } => {
            Error::SnapshotCorrupt { path, reason: for_terminal(&reason).into_owned() }
        }
        other => other,
    })
}

/// [`read_header_from`] for the snapshot stored under the key of `name@version`: its
/// header must name that snapshot and version too. A file renamed, or copied over
/// another's key, is corrupt: never read (restored, verified, listed, used as a base)
/// as the snapshot its key says.
pub fn read_header_stored_as(src: &dyn Source, name: &str, version: u64) -> Result<Header, Error> {
    let header = read_header_from(src)?;
    check_stored_as(&header, name, version).map_err(|reason| corrupt(src, reason))?;
    Ok(header)
}

/// That `header` is the one stored under the key of `name@version`.
pub fn check_stored_as(header: &Header, name: &str, version: u64) -> Result<(), String> {
    if header.name == name && header.version == version {
        return Ok(());
    }
    Err(format!(
        "it holds snapshot '{}' (its header says so), not '{}' as its name says: a renamed or copied file is \
         never read as another snapshot",
        shown(&versions::label(&header.name, header.version), 120),
        versions::label(name, version)
    ))
}

fn read_header_inner(src: &dyn Source) -> Result<Header, Error> {
    if src.size() == 0 {
        return Err(corrupt(src, "file is empty"));
    }
    let Some(member) = header_member::read_stored(src)? else {
        return Err(refuse_compressed(src)?);
    };
    let (line, rest) = match member.data.iter().position(|&b| b == b'\n') {
        Some(i) => (&member.data[..i], &member.data[i + 1..]),
        None if member.data.is_empty() => return Err(corrupt(src, "the header is empty")),
        None => return Err(corrupt(src, "the header line has no end (no newline)")),
    };
    let mut header = parse_header(line).map_err(|reason| corrupt(src, reason))?;
    if !rest.is_empty() {
        return Err(corrupt(src, "the header member holds data after the header line"));
    }
    check_header_checksum(&mut header).map_err(|reason| corrupt(src, reason))?;
    check_canonical_text(&header, line).map_err(|reason| corrupt(src, reason))?;
    drop(member.data); // up to 16 MiB, parsed: not needed while checking
    validate::structure(&header).map_err(|reason| corrupt(src, reason))?;
    validate::layout(&header, member.end, src.size()).map_err(|reason| corrupt(src, reason))?;
    Ok(header)
}

/// The error for a header member that is not stored: what its first line says, if a
/// bounded peek finds one that is not a seed header, else that it is compressed.
fn refuse_compressed(src: &dyn Source) -> Result<Error, Error> {
    let peek = header_member::peek_compressed(src)?;
    if peek.line.is_empty() && peek.ended {
        return Ok(corrupt(src, "the header is empty"));
    }
    if peek.complete {
        if let Err(reason) = parse_header(&peek.line) {
            return Ok(corrupt(src, reason));
        }
    } else if peek.ended {
        return Ok(corrupt(src, "the header line has no end (no newline)"));
    }
    Ok(corrupt(
        src,
        "the header member is compressed (or has gzip options), unlike any header seed writes: refused \
         without inflating it",
    ))
}

/// A format-2 header's checksum, checked before anything else in it is trusted.
fn check_header_checksum(h: &mut Header) -> Result<(), String> {
    if h.format_version < 2 {
        return Ok(()); // format 1 has none (validate refuses one that claims one)
    }
    let Some(recorded) = h.header_checksum.clone() else {
        return Err("the header has no header_checksum (format 2 headers carry one)".into());
    };
    if !format::is_lower_hex(&recorded, 32) {
        return Err(format!("header_checksum '{}' is not 32 lowercase hex digits", shown(&recorded, 40)));
    }
    let actual = format::header_checksum(h).map_err(|e| format!("cannot serialize the header: {e}"))?;
    if actual != recorded {
        return Err("the header was altered (header checksum mismatch)".into());
    }
    Ok(())
}

/// A format-2 header's text is exactly what seed writes for the fields it holds (the
/// compact serialization, then padding spaces). The checksum covers the fields as
/// parsed, so without this an unknown field, a duplicate spelled differently, a
/// reordered key or an escape written another way would pass with the checksum stale:
/// every edit of the text is refused instead. Compared while serializing: no copy.
fn check_canonical_text(h: &Header, line: &[u8]) -> Result<(), String> {
    if h.format_version < 2 {
        return Ok(()); // format 1 is not bound to its data (verify says so)
    }
    let end = line.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let mut cmp = Compare { expected: &line[..end], pos: 0, differs: false };
    let written = serde_json::to_writer(&mut cmp, h);
    if written.is_ok() && !cmp.differs && cmp.pos == cmp.expected.len() {
        return Ok(());
    }
    Err(format!(
        "the header was altered: its text differs at byte {} from what seed writes for the fields it holds (a \
         field added, dropped, reordered or re-spelled: seed reads no unknown field, and the checksum binds the \
         text as written)",
        cmp.pos
    ))
}

/// A `Write` that compares what is written with `expected`, stopping at the first
/// difference (`pos` is then its offset).
struct Compare<'a> {
    expected: &'a [u8],
    pos: usize,
    differs: bool,
}

impl io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let rest = &self.expected[self.pos..];
        let same = buf.iter().zip(rest).take_while(|(a, b)| a == b).count();
        self.pos += same;
        if same < buf.len() {
            self.differs = true;
            return Err(io::Error::other("the header text differs"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A header field as found, whatever its JSON type (strings bounded, nothing else kept).
#[derive(Default, PartialEq)]
enum Loose {
    #[default]
    Missing,
    Str(String),
    Num(u64),
    Other,
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Loose, E> {
                Ok(if s.len() <= MAX_STRING_LEN { Loose::Str(s.to_owned()) } else { Loose::Other })
            }
            fn visit_u64<E>(self, n: u64) -> Result<Loose, E> {
                Ok(Loose::Num(n))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_unit<E>(self) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields that say whether and how this seed can read the rest. Nothing else is
/// kept, so a probe costs no memory whatever the header holds.
#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    format: Loose,
    #[serde(default)]
    format_version: Loose,
    #[serde(default)]
    row_format: Loose,
}

fn parse_header(line: &[u8]) -> Result<Header, String> {
    let probe: Probe = serde_json::from_slice(line).map_err(|e| format!("header is not valid JSON: {e}"))?;
    if probe.format != Loose::Str(FORMAT_NAME.into()) {
        return Err("not a seed snapshot (the header does not say format \"seed-snapshot\")".into());
    }
    match probe.format_version {
        Loose::Num(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(format!(
                "format version {v} was written by a newer seed; this seed reads formats \
                 {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION} — upgrade seed"
            ));
        }
        Loose::Num(v) if v >= u64::from(OLDEST_FORMAT_VERSION) => {}
        _ => return Err("the header has no valid format_version".into()),
    }
    match probe.row_format {
        Loose::Missing => {}
        Loose::Str(r) if r == ROW_FORMAT_COPY_TEXT => {}
        Loose::Str(r) => {
            return Err(format!(
                "row format '{}' was written by a newer seed; this seed reads {ROW_FORMAT_COPY_TEXT} — upgrade seed",
                shown(&r, 40)
            ));
        }
        _ => return Err("the header's row_format is not a string".into()),
    }
    serde_json::from_slice(line).map_err(|e| format!("header is not valid: {e}"))
}

type Decoder = MultiGzDecoder<BufReader<Box<dyn Read + Send>>>;

/// The decompressed rows of one table (or delta part), in `COPY` text format. Hashes
/// what it hands out and checks it against the header: reading past the recorded size
/// fails at once, and reaching the end with other counts or another checksum fails
/// there (also through `Read`, whose errors wrap the `Error`; see [`into_error`]).
pub struct TableRows {
    path: PathBuf,
    /// Display name, for messages (escaped).
    table: String,
    expected: TableStats,
    decoder: Option<Decoder>,
    hasher: RowHasher,
    /// Set at the end of the data: the checked figures, or the mismatch.
    outcome: Option<Result<TableStats, String>>,
}

impl std::fmt::Debug for TableRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableRows")
            .field("path", &self.path)
            .field("table", &self.table)
            .field("expected", &self.expected)
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

/// Opens table `index` of `header` (as returned by `read_header` for this `path`).
pub fn open_table(path: &Path, header: &Header, index: usize) -> Result<TableRows, Error> {
    open_table_in(&FileSource::open(path)?, header, index)
}

/// [`open_table`] on any source. Only a table stored in full can be read on its own;
/// `chain::Chain` rebuilds the others.
pub fn open_table_in(src: &dyn Source, header: &Header, index: usize) -> Result<TableRows, Error> {
    let entry =
        header.tables.get(index).ok_or_else(|| Error::Internal(format!("snapshot has no table number {index}")))?;
    let name = shown(&entry.table_name().to_string(), 80);
    if entry.storage != Storage::Full {
        return Err(Error::Internal(format!(
            "table {name} is stored as {} in {}: it is rebuilt through its chain",
            entry.storage.label(),
            src.location().display()
        )));
    }
    open_range(src, entry.offset, entry.length, entry.stats(), name)
}

/// One part of a `delta` table of `header`: its upsert lines (full rows) or its delete
/// lines (primary-key columns), checked against the part's figures.
pub fn open_part(path: &Path, header: &Header, index: usize, part: DeltaPart) -> Result<TableRows, Error> {
    open_part_in(&FileSource::open(path)?, header, index, part)
}

/// [`open_part`] on any source.
pub fn open_part_in(src: &dyn Source, header: &Header, index: usize, part: DeltaPart) -> Result<TableRows, Error> {
    let entry =
        header.tables.get(index).ok_or_else(|| Error::Internal(format!("snapshot has no table number {index}")))?;
    let Some(delta) = entry.delta.as_ref().filter(|_| entry.storage == Storage::Delta) else {
        return Err(Error::Internal(format!("table number {index} of the snapshot is not a delta table")));
    };
    let offset = match part {
        DeltaPart::Upserts => entry.offset,
        DeltaPart::Deletes => entry.offset.saturating_add(delta.upserts.length),
    };
    let p = delta.part(part);
    let name = format!("{} ({})", shown(&entry.table_name().to_string(), 80), part.label());
    open_range(src, offset, p.length, p.stats(), name)
}

fn open_range(
    src: &dyn Source,
    offset: u64,
    length: u64,
    expected: TableStats,
    table: String,
) -> Result<TableRows, Error> {
    let decoder = if length == 0 {
        None
    } else {
        Some(MultiGzDecoder::new(BufReader::with_capacity(READ_BUF, src.read_range(offset, length)?)))
    };
    Ok(TableRows {
        path: src.location().to_path_buf(),
        table,
        expected,
        decoder,
        hasher: RowHasher::new(),
        outcome: None,
    })
}

impl TableRows {
    /// The table's name as messages show it.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Complete rows read so far.
    pub fn rows_read(&self) -> u64 {
        self.hasher.rows()
    }

    fn corrupt(&self, what: impl std::fmt::Display) -> Error {
        corrupt_at(&self.path, format!("table {}: {what}", self.table))
    }

    fn read_checked(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(outcome) = &self.outcome {
            return match outcome {
                Ok(_) => Ok(0),
                Err(reason) => Err(corrupt_at(&self.path, reason.clone())),
            };
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.decoder {
            None => 0,
            Some(dec) => loop {
                match dec.read(buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // An OS error, or a source's own (a store that could not be reached).
                    Err(e) if e.raw_os_error().is_some() || e.get_ref().is_some_and(|i| i.is::<Error>()) => {
                        return Err(Error::io("reading snapshot", &self.path, e));
                    }
                    Err(e) => return Err(self.decode_error(&e)),
                }
            },
        };
        if n == 0 {
            self.decoder = None;
            let outcome = self.check_end();
            self.outcome = Some(outcome.clone());
            return outcome.map(|_| 0).map_err(|reason| corrupt_at(&self.path, reason));
        }
        self.hasher.update(&buf[..n]);
        if self.hasher.rows() > self.expected.rows || self.hasher.raw_bytes() > self.expected.raw_bytes {
            let reason = format!(
                "table {}: more data than the header records ({} rows, {} bytes)",
                self.table, self.expected.rows, self.expected.raw_bytes
            );
            self.decoder = None;
            self.outcome = Some(Err(reason.clone()));
            return Err(corrupt_at(&self.path, reason));
        }
        Ok(n)
    }

    fn decode_error(&self, e: &io::Error) -> Error {
        let msg = e.to_string();
        let what = if e.kind() == io::ErrorKind::UnexpectedEof {
            "compressed data ends early".to_owned()
        } else if msg.contains("checksum") {
            "gzip CRC mismatch".to_owned()
        } else if msg.contains("invalid gzip header") {
            "damaged gzip member header".to_owned()
        } else {
            msg
        };
        self.corrupt(format_args!("{what} after row {} of {}", self.hasher.rows(), self.expected.rows))
    }

    fn check_end(&self) -> Result<TableStats, String> {
        let t = &self.table;
        let exp = &self.expected;
        let got = self.hasher.clone().finish().map_err(|r| format!("table {t}: {r}"))?;
        if got.rows < exp.rows {
            return Err(format!("table {t}: data ends after row {} of {}", got.rows, exp.rows));
        }
        if got.rows > exp.rows {
            return Err(format!("table {t}: {} rows, but the header records {}", got.rows, exp.rows));
        }
        if got.checksum != exp.checksum {
            return Err(format!(
                "table {t}: checksum mismatch (header {}, data {}): the rows were altered",
                exp.checksum, got.checksum
            ));
        }
        if got.raw_bytes != exp.raw_bytes {
            return Err(format!(
                "table {t}: {} bytes of rows, but the header records {}",
                got.raw_bytes, exp.raw_bytes
            ));
        }
        Ok(got)
    }

    /// The next up to 1 MiB of rows (not necessarily ending on a row boundary), or
    /// `None` once the table is fully read and checked.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        let mut buf = vec![0u8; CHUNK_SIZE];
        let mut filled = 0;
        while filled < buf.len() {
            match self.read_checked(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            return Ok(None);
        }
        buf.truncate(filled);
        Ok(Some(buf))
    }

    /// Reads whatever is left and checks rows, checksum and size against the header.
    pub fn finish(mut self) -> Result<TableStats, Error> {
        let mut buf = vec![0u8; READ_BUF];
        while self.read_checked(&mut buf)? > 0 {}
        match self.outcome {
            Some(Ok(stats)) => Ok(stats),
            Some(Err(reason)) => Err(corrupt_at(&self.path, reason)),
            None => Err(Error::Internal("table read ended without a result".into())),
        }
    }

    /// Reads the whole table and checks it against the header (`finish` by its use).
    pub fn verify_to_end(self) -> Result<TableStats, Error> {
        self.finish()
    }
}

impl Read for TableRows {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_checked(buf).map_err(io::Error::other)
    }
}

/// The `Error` behind an I/O error from `TableRows::read`, or a plain I/O error on `path`.
pub fn into_error(path: &Path, e: io::Error) -> Error {
    if !e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
        return Error::io("reading snapshot", path, e);
    }
    match e.into_inner().map(|inner| inner.downcast::<Error>()) {
        Some(Ok(err)) => *err,
        _ => Error::Internal("lost a snapshot read error".into()),
    }
}

fn corrupt_at(path: &Path, reason: String) -> Error {
    Error::SnapshotCorrupt { path: path.to_path_buf(), reason: for_terminal(&reason).into_owned() }
}

/// Checks the whole snapshot: the header, then every byte stored for each table
/// decompressed and checked against it (a delta table's two parts each against their
/// own figures; a `base` table stores nothing here). Reports the first problem found.
pub fn verify(path: &Path) -> Result<Header, Error> {
    verify_source(&FileSource::open(path)?)
}

/// [`verify`] on any source.
pub fn verify_source(src: &dyn Source) -> Result<Header, Error> {
    let header = read_header_from(src)?;
    verify_stored(src, &header)?;
    Ok(header)
}

/// [`verify`] of the bytes `src` stores for `header` (read from it).
pub fn verify_stored(src: &dyn Source, header: &Header) -> Result<(), Error> {
    for (index, t) in header.tables.iter().enumerate() {
        match t.storage {
            Storage::Full => {
                open_table_in(src, header, index)?.finish()?;
            }
            Storage::Base => {}
            Storage::Delta => {
                for part in [DeltaPart::Upserts, DeltaPart::Deletes] {
                    open_part_in(src, header, index, part)?.finish()?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::error::code;
    use crate::snapshot::format::{gzip_member, stored_member};
    use crate::snapshot::writer::SnapshotWriter;
    use crate::snapshot::writer::tests::{sample_rows, write_snapshot};

    type Edit = Box<dyn Fn(&mut Header)>;

    fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, Error>, expect: &str) -> String {
        match result {
            Err(e @ Error::SnapshotCorrupt { .. }) => {
                assert_eq!(e.exit_code(), code::SNAPSHOT_CORRUPT);
                let Error::SnapshotCorrupt { reason, .. } = &e else { unreachable!() };
                assert!(reason.contains(expect), "reason {reason:?} should contain {expect:?}");
                reason.clone()
            }
            other => panic!("expected a corrupt snapshot error containing {expect:?}, got {other:?}"),
        }
    }

    fn good(dir: &Path) -> (PathBuf, Vec<u8>, Header) {
        let header = write_snapshot(dir, "good", &sample_rows(), false).unwrap();
        let path = dir.join("good.seed.gz");
        let bytes = std::fs::read(&path).unwrap();
        (path, bytes, header)
    }

    fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Rewrites the header of the snapshot `bytes` in place (same reserved length) and
    /// recomputes its checksum, as a naive forger would: only the other checks can
    /// notice.
    fn tamper_header(bytes: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
        rewrite_header(bytes, true, edit)
    }

    /// Rewrites the header of the snapshot `bytes` in place, re-signed or not.
    fn rewrite_header(bytes: &[u8], resign: bool, edit: impl FnOnce(&mut Header)) -> Vec<u8> {
        let mut dec = flate2::bufread::GzDecoder::new(bytes);
        let mut line = Vec::new();
        dec.read_to_end(&mut line).unwrap();
        let member_len = bytes.len() - dec.into_inner().len();
        let mut header: Header = serde_json::from_slice(&line).unwrap();
        edit(&mut header);
        if resign && header.header_checksum.is_some() {
            header.header_checksum = Some(format::header_checksum(&mut header).unwrap());
        }
        let new_line = format::header_line(&header, line.len()).unwrap().unwrap();
        let mut out = stored_member(&new_line);
        assert_eq!(out.len(), member_len);
        out.extend_from_slice(&bytes[member_len..]);
        out
    }

    /// A snapshot in memory: the reader needs nothing but the `Source` trait.
    struct MemSource(Vec<u8>, PathBuf);

    impl Source for MemSource {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_range(&self, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, Error> {
            let start = usize::try_from(offset).unwrap().min(self.0.len());
            let end = usize::try_from(offset.saturating_add(len)).unwrap_or(usize::MAX).min(self.0.len());
            Ok(Box::new(std::io::Cursor::new(self.0[start..end].to_vec())))
        }
        fn location(&self) -> &Path {
            &self.1
        }
    }

    #[test]
    fn empty_random_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_corrupt(read_header(&write_file(dir.path(), "empty", b"")), "file is empty");
        assert_corrupt(read_header(&write_file(dir.path(), "one", &[0x1f])), "bad magic");
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let random: Vec<u8> = (0..10_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect();
        let mut random_gz_magic = random.clone();
        random_gz_magic[..2].copy_from_slice(&[0x1f, 0x8b]);
        assert_corrupt(read_header(&write_file(dir.path(), "random", &random)), "bad magic");
        assert_corrupt(verify(&write_file(dir.path(), "random2", &random_gz_magic)), "gzip");
        let garbage = gzip_member(b"this is not\na snapshot\n", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "garbage", &garbage)), "not valid JSON");
        let garbage = gzip_member(&random, 6);
        assert_corrupt(read_header(&write_file(dir.path(), "garbage2", &garbage)), "");
        let no_newline = gzip_member(b"{\"format\":\"seed-snapshot\"}", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "nonl", &no_newline)), "no newline");
        let other_json = gzip_member(b"{\"hello\":\"world\"}\n", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "json", &other_json)), "not a seed snapshot");
        let two_lines = gzip_member(b"{\"format\":\"seed-snapshot\",\"format_version\":1}\n{}\n", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "two", &two_lines)), "header is not valid");
        let (_, bytes, _) = good(dir.path());
        let mut line = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut line).unwrap();
        // A valid header, compressed: refused without inflating more than a peek.
        let compressed = gzip_member(&line, 6);
        assert_corrupt(read_header(&write_file(dir.path(), "gz", &compressed)), "compressed");
        line.extend_from_slice(b"1\textra row\n");
        let two_lines = stored_member(&line);
        assert_corrupt(read_header(&write_file(dir.path(), "two2", &two_lines)), "data after the header line");
        let empty_member = gzip_member(b"", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "em", &empty_member)), "header is empty");
        assert_corrupt(read_header(&write_file(dir.path(), "em2", &stored_member(b""))), "header is empty");
        assert_corrupt(read_header(&write_file(dir.path(), "nonl2", &stored_member(b"{}"))), "no newline");
    }

    #[test]
    fn only_plain_stored_header_members_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let end = usize::try_from(header.tables[0].offset).unwrap();
        let read = |b: &[u8]| read_header(&write_file(dir.path(), "m", b));
        // MTIME, XFL and OS carry no meaning: ignored.
        let mut b = bytes.clone();
        b[4..10].copy_from_slice(&[1, 2, 3, 4, 2, 3]);
        assert_eq!(read(&b).unwrap().0, header);
        // An FNAME flag: gzip options are not what seed writes.
        let mut b = bytes.clone();
        b[3] = 0x08;
        assert_corrupt(read(&b), "");
        // Stray bits in the block header; LEN and NLEN disagreeing.
        let mut b = bytes.clone();
        b[10] |= 0x08;
        assert_corrupt(read(&b), "stray bits");
        let mut b = bytes.clone();
        b[13] ^= 0x01;
        assert_corrupt(read(&b), "length check fails");
        // The recorded length of the line.
        let mut b = bytes.clone();
        b[end - 1] ^= 0x01;
        assert_corrupt(read(&b), "recorded length");
        // Several stored blocks are fine (a header over 64 KiB has them); a
        // compressed block after a stored one is not.
        let line = {
            let mut l = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut l).unwrap();
            l
        };
        let mut two = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let (a, rest) = line.split_at(100);
        for (last, part) in [(0u8, a), (1u8, rest)] {
            let len = u16::try_from(part.len()).unwrap();
            two.push(last);
            two.extend_from_slice(&len.to_le_bytes());
            two.extend_from_slice(&(!len).to_le_bytes());
            two.extend_from_slice(part);
        }
        let mut crc = flate2::Crc::new();
        crc.update(&line);
        two.extend_from_slice(&crc.sum().to_le_bytes());
        two.extend_from_slice(&u32::try_from(line.len()).unwrap().to_le_bytes());
        assert_eq!(two.len(), end + 5);
        // One block header more: every offset is 5 bytes off, and the reader says so.
        let mut shifted = two.clone();
        shifted.extend_from_slice(&bytes[end..]);
        assert_corrupt(read(&shifted), "should start at byte");
        let mut mixed = two[..10 + 5 + 100].to_vec();
        mixed.push(0x03); // BFINAL, BTYPE 01 (fixed Huffman)
        mixed.extend_from_slice(&[0; 20]);
        assert_corrupt(read(&mixed), "mixes stored and compressed");
    }

    #[test]
    fn header_length_is_bounded_before_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        // 16 MiB of spaces, then a newline: one byte over.
        let mut line = vec![b' '; format::MAX_HEADER_LEN];
        line.push(b'\n');
        let path = write_file(dir.path(), "long", &stored_member(&line));
        assert_corrupt(read_header(&path), "longer than 16 MiB");
        // Exactly at the limit it is read (and found to be no JSON).
        line.truncate(format::MAX_HEADER_LEN - 1);
        line.push(b'\n');
        let path = write_file(dir.path(), "limit", &stored_member(&line));
        assert_corrupt(read_header(&path), "not valid JSON");
    }

    #[test]
    fn the_reader_needs_only_a_source() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes, header) = good(dir.path());
        let src = MemSource(bytes.clone(), PathBuf::from("mem://good"));
        assert_eq!(read_header_from(&src).unwrap(), header);
        let mut back = Vec::new();
        open_table_in(&src, &header, 1).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, sample_rows()[1]);
        let cut = MemSource(bytes[..bytes.len() - 1].to_vec(), PathBuf::from("mem://cut"));
        let err = read_header_from(&cut).unwrap_err();
        assert!(matches!(&err, Error::SnapshotCorrupt { path, .. } if path == Path::new("mem://cut")), "{err:?}");
        assert_eq!(read_header(&path).unwrap().0, header);
    }

    #[test]
    fn newer_format_version_asks_for_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        // Only the probe fields: a newer header may look nothing like ours.
        let future = stored_member(b"{\"format\":\"seed-snapshot\",\"format_version\":99,\"shiny\":[]}\n");
        let reason = assert_corrupt(read_header(&write_file(dir.path(), "future", &future)), "format version 99");
        assert!(reason.contains("upgrade seed") && reason.contains("reads formats 1 to 2"), "{reason}");
        let (_, bytes, _) = good(dir.path());
        let bumped = tamper_header(&bytes, |h| h.format_version = 99);
        assert_corrupt(read_header(&write_file(dir.path(), "bumped", &bumped)), "newer seed");
        let zero = tamper_header(&bytes, |h| h.format_version = 0);
        assert_corrupt(read_header(&write_file(dir.path(), "zero", &zero)), "format_version");
    }

    #[test]
    fn inconsistent_headers_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, _) = good(dir.path());
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|h| h.format = "other".into()), "not a seed snapshot"),
            (Box::new(|h| h.name = "../etc".into()), "invalid snapshot"),
            (Box::new(|h| h.compression.algorithm = "zstd".into()), "unsupported compression"),
            (Box::new(|h| h.tables[1].name = String::new()), "empty name"),
            (Box::new(|h| h.tables[1].columns[0].name = String::new()), "column 1 has an empty name"),
            (Box::new(|h| h.tables[1].name = "t0".into()), "appears twice"),
            (Box::new(|h| h.tables[0].checksum = "ABCDEF0123456789".into()), "16 lowercase hex"),
            (Box::new(|h| h.tables[0].checksum = "abc".into()), "16 lowercase hex"),
            (Box::new(|h| h.tables[1].offset += 1), "should start at byte"),
            (Box::new(|h| h.tables[2].length = u64::MAX), "out of range"),
            (Box::new(|h| h.tables[2].length += 10), "truncated: expected"),
            (Box::new(|h| h.tables[2].rows = 5), "cannot fit"),
            (
                Box::new(|h| {
                    h.tables[2].rows = 5;
                    h.tables[2].raw_bytes = 10;
                }),
                "records 5 rows (10 bytes) but no data",
            ),
            (
                Box::new(|h| {
                    h.tables[0].columns.clear();
                    h.tables[0].primary_key.clear();
                }),
                "table t0 has no columns",
            ),
            (Box::new(|h| h.tables[0].columns.clear()), "more key or sequence columns than columns"),
            (
                Box::new(|h| {
                    let c = h.tables[0].columns[1].clone();
                    h.tables[0].columns.push(c);
                }),
                "column note appears twice",
            ),
            (Box::new(|h| h.tables[0].primary_key = vec!["nope".into()]), "primary key column 'nope' is not"),
            (Box::new(|h| h.tables[0].primary_key = vec!["id".into(), "id".into()]), "'id' appears twice"),
            (
                Box::new(|h| {
                    h.tables[0]
                        .sequences
                        .insert("gone".into(), crate::db::SequenceState { last_value: 1, is_called: true });
                }),
                "sequence is recorded for 'gone'",
            ),
            (Box::new(|h| h.tables[0].columns[0].type_name = String::new()), "column id has no type"),
            (Box::new(|h| h.database.kind = "oracle".into()), "unknown database kind 'oracle'"),
            (Box::new(|h| h.schema_fingerprint = format!("x{}", "\u{20ac}".repeat(10))), "schema_fingerprint 'x€"),
            (Box::new(|h| h.tables[0].name = "t\u{1b}[2J".into()), "control character in its name: t\\u{1b}[2J"),
            (Box::new(|h| h.tables[0].columns[1].name = "a\nb".into()), "control character"),
            (Box::new(|h| h.tables[0].columns.swap(0, 1)), "tables_fingerprint does not match"),
            (Box::new(|h| h.tables[0].columns[1].name = "other".into()), "tables_fingerprint does not match"),
            (Box::new(|h| h.tables[0].columns[1].nullable = false), "tables_fingerprint does not match"),
            (Box::new(|h| h.tables[0].schema = "../x".into()), "tables_fingerprint does not match"),
            (Box::new(|h| h.tables_fingerprint = None), "no tables_fingerprint"),
            (Box::new(|h| h.version = 0), "version is 0"),
            (Box::new(|h| h.row_format = "copy-binary".into()), "row format 'copy-binary' was written by a newer seed"),
            (Box::new(|h| h.tables[2].storage = format::Storage::Delta), "names no base snapshot"),
            (
                Box::new(|h| {
                    h.base =
                        Some(format::BaseRef { name: "good".into(), version: 1, content_checksum: "0".repeat(32) });
                }),
                "cannot build on version 1 of itself",
            ),
            (
                Box::new(|h| {
                    h.base = Some(format::BaseRef { name: "b".into(), version: 1, content_checksum: "0".repeat(32) });
                    h.tables[0].storage = format::Storage::Base;
                }),
                "storage is base, yet the header records data",
            ),
            (
                Box::new(|h| {
                    h.base = Some(format::BaseRef { name: "b".into(), version: 1, content_checksum: "0".repeat(32) });
                    h.tables[0].storage = format::Storage::Delta;
                }),
                "records no delta parts",
            ),
            (
                Box::new(|h| {
                    h.base = Some(format::BaseRef { name: "b".into(), version: 1, content_checksum: "0".repeat(32) });
                    h.tables[0].storage = format::Storage::Delta;
                    let part = format::PartStats { rows: 0, checksum: "0".repeat(16), raw_bytes: 0, length: 0 };
                    h.tables[0].delta = Some(format::DeltaParts { upserts: part.clone(), deletes: part });
                }),
                "do not add up",
            ),
            (Box::new(|h| h.tables[0].delta = Some(format::DeltaParts::default())), "storage is full, yet"),
        ];
        for (i, (edit, expect)) in cases.into_iter().enumerate() {
            let path = write_file(dir.path(), &format!("case{i}"), &tamper_header(&bytes, edit));
            let reason = assert_corrupt(read_header(&path), expect);
            assert!(!reason.chars().any(char::is_control), "{reason:?}");
        }
    }

    #[test]
    fn any_change_to_a_signed_header_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, _) = good(dir.path());
        let edits: Vec<Edit> = vec![
            Box::new(|h| h.tables[0].columns.swap(0, 1)),
            Box::new(|h| h.description = Some("edited".into())),
            Box::new(|h| h.tables[0].primary_key.clear()),
            Box::new(|h| h.created_at = "2030-01-01T00:00:00Z".into()),
            Box::new(|h| h.settings.insert("DateStyle".into(), "German".into()).map_or((), |_| ())),
            Box::new(|h| h.compression.level = 9),
            Box::new(|h| h.tables[1].checksum = "0123456789abcdef".into()),
        ];
        for edit in edits {
            let path = write_file(dir.path(), "stale", &rewrite_header(&bytes, false, edit));
            assert_corrupt(read_header(&path), "the header was altered (header checksum mismatch)");
        }
        let path =
            write_file(dir.path(), "xyz", &rewrite_header(&bytes, false, |h| h.header_checksum = Some("xyz".into())));
        assert_corrupt(read_header(&path), "header_checksum 'xyz' is not 32");
        let path = write_file(dir.path(), "none", &rewrite_header(&bytes, false, |h| h.header_checksum = None));
        assert_corrupt(read_header(&path), "no header_checksum");
        // A format 1 header is not bound; one that keeps a format 2 field was edited.
        let path = write_file(dir.path(), "v1", &rewrite_header(&bytes, false, |h| h.format_version = 1));
        assert_corrupt(read_header(&path), "a format 1 header cannot have header_checksum");
    }

    /// The header's text edited without touching its checksum (padded back to its
    /// reserved length).
    fn rewrite_text(bytes: &[u8], edit: impl FnOnce(&str) -> String) -> Vec<u8> {
        let mut dec = flate2::bufread::GzDecoder::new(bytes);
        let mut line = Vec::new();
        dec.read_to_end(&mut line).unwrap();
        let member_len = bytes.len() - dec.into_inner().len();
        let text = String::from_utf8(line.clone()).unwrap();
        let edited = edit(text.trim_end());
        assert_ne!(edited, text.trim_end(), "the edit changed nothing");
        let mut new_line = edited.into_bytes();
        assert!(new_line.len() < line.len());
        new_line.resize(line.len() - 1, b' ');
        new_line.push(b'\n');
        let mut out = stored_member(&new_line);
        assert_eq!(out.len(), member_len);
        out.extend_from_slice(&bytes[member_len..]);
        out
    }

    /// r21.10: the checksum covers the fields as parsed; an edit of the text that the
    /// parsed fields do not show (an unknown field at any level, another spelling,
    /// order or spacing) is refused too, its checksum left as it was.
    #[test]
    fn text_edits_the_parsed_fields_do_not_show_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, bytes, _) = good(dir.path());
        read_header(&path).unwrap();
        type TextEdit = Box<dyn Fn(&str) -> String>;
        let edits: Vec<(&str, TextEdit)> = vec![
            ("a field at the top", Box::new(|t| t.replacen("{\"format\"", "{\"x\":1,\"format\"", 1))),
            ("a field at the end", Box::new(|t| format!("{},\"x\":[1,2]}}", &t[..t.len() - 1]))),
            ("a field in a table", Box::new(|t| t.replacen("{\"schema\"", "{\"owner\":\"x\",\"schema\"", 1))),
            ("a field in a column", Box::new(|t| t.replacen("\"nullable\":", "\"comment\":null,\"nullable\":", 1))),
            ("a field in the database", Box::new(|t| t.replacen("\"kind\":", "\"host\":\"h\",\"kind\":", 1))),
            ("another escape", Box::new(|t| t.replacen("\"name\":\"good\"", "\"name\":\"go\\u006fd\"", 1))),
            ("spacing", Box::new(|t| t.replacen("\"format\":", "\"format\" : ", 1))),
            (
                "another order",
                Box::new(|t| t.replacen("\"name\":\"good\",\"version\":1,", "\"version\":1,\"name\":\"good\",", 1)),
            ),
        ];
        for (what, edit) in edits {
            let p = write_file(dir.path(), "edited", &rewrite_text(&bytes, edit));
            let reason = assert_corrupt(read_header(&p), "the header was altered: its text differs at byte");
            assert!(reason.contains("unknown field"), "{what}: {reason}");
        }
    }

    /// A format 1 file (as seed 0.1 wrote them) still reads and verifies.
    #[test]
    fn format_1_files_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let v1 = rewrite_header(&bytes, false, |h| {
            h.format_version = 1;
            h.tables_fingerprint = None;
            h.header_checksum = None;
        });
        // What a format 1 writer put in the line: no format 2 field at all.
        let mut line = Vec::new();
        flate2::read::GzDecoder::new(&v1[..]).read_to_end(&mut line).unwrap();
        let text = String::from_utf8(line).unwrap();
        let line_len = text.len();
        let text = text
            .replace("\"row_format\":\"copy-text\",", "")
            .replace("\"version\":1,", "")
            .replace("\"base\":null,", "")
            .replace("\"storage\":\"full\",", "")
            .replace(",\"delta\":null", "");
        for gone in
            ["row_format", "\"version\":1,", "\"base\"", "storage", "delta", "tables_fingerprint", "header_checksum"]
        {
            assert!(!text.contains(gone), "{gone} in {text}");
        }
        let mut padded = text.trim_end().as_bytes().to_vec();
        padded.resize(line_len - 1, b' ');
        padded.push(b'\n');
        let mut file = stored_member(&padded);
        let member_len = usize::try_from(header.tables[0].offset).unwrap();
        assert_eq!(file.len(), member_len);
        file.extend_from_slice(&bytes[member_len..]);
        let path = write_file(dir.path(), "v1.seed.gz", &file);
        let read = verify(&path).unwrap();
        assert_eq!(read.format_version, 1);
        assert_eq!((read.header_checksum.as_ref(), read.tables_fingerprint.as_ref()), (None, None));
        assert_eq!(read.tables.len(), header.tables.len());
        // Unbound: an edit goes unnoticed, which `verify` says.
        let edited = rewrite_header(&file, false, |h| h.description = Some("edited".into()));
        assert_eq!(
            read_header(&write_file(dir.path(), "v1e", &edited)).unwrap().0.description.as_deref(),
            Some("edited")
        );
    }

    #[test]
    fn truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let header_end = usize::try_from(header.tables[0].offset).unwrap();
        let t1 = &header.tables[1];
        let inside_t1 = usize::try_from(t1.offset + t1.length / 2).unwrap();
        for (cut, expect) in [
            (1, "bad magic"),
            (5, "truncated inside the header"),
            (header_end / 2, "truncated inside the header"),
            (header_end - 3, "truncated inside the header"),
            (header_end, "truncated: expected"),
            (header_end + 10, "truncated: expected"),
            (inside_t1, "truncated: expected"),
            (bytes.len() - 1, "truncated: expected"),
        ] {
            let path = write_file(dir.path(), "cut", &bytes[..cut]);
            assert_corrupt(read_header(&path), expect);
            assert_corrupt(verify(&path), expect);
        }
    }

    #[test]
    fn header_only_file_claiming_data() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let header_end = usize::try_from(header.tables[0].offset).unwrap();
        let path = write_file(dir.path(), "hdr", &bytes[..header_end]);
        let reason = assert_corrupt(verify(&path), "truncated: expected");
        assert!(reason.contains(&format!("file has {header_end}")), "{reason}");
    }

    #[test]
    fn trailing_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut bytes, _) = good(dir.path());
        bytes.extend_from_slice(&gzip_member(b"1\textra\n", 6));
        assert_corrupt(read_header(&write_file(dir.path(), "extra", &bytes)), "unexpected data after the last table");
    }

    #[test]
    fn flipped_bytes_in_table_data_name_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let t1 = &header.tables[1]; // the last table with data (t2 is empty)
        let start = usize::try_from(t1.offset).unwrap();
        let len = usize::try_from(t1.length).unwrap();
        // The middle of the deflate data, and the CRC in the last member's trailer.
        for pos in [start + len / 2, start + len - 8] {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x20;
            let path = write_file(dir.path(), "flip", &bad);
            assert!(read_header(&path).is_ok(), "the header is intact");
            let reason = assert_corrupt(verify(&path), "table t1: ");
            assert!(!reason.contains("table t0"), "{reason}");
            // t0 still reads fine on its own.
            let (h, _) = read_header(&path).unwrap();
            open_table(&path, &h, 0).unwrap().verify_to_end().unwrap();
        }
        // A flipped byte in the stored header fails the header's CRC.
        let mut bad = bytes.clone();
        bad[40] ^= 0x01;
        assert_corrupt(read_header(&write_file(dir.path(), "hflip", &bad)), "CRC");
    }

    #[test]
    fn header_that_disagrees_with_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let (_, bytes, header) = good(dir.path());
        let rows = header.tables[0].rows;
        let cases: Vec<(Edit, String)> = vec![
            (Box::new(|h| h.tables[0].checksum = "0123456789abcdef".into()), "table t0: checksum mismatch".into()),
            (
                Box::new(move |h| h.tables[0].rows = rows + 1),
                format!("table t0: data ends after row {rows} of {}", rows + 1),
            ),
            (Box::new(move |h| h.tables[0].rows = rows - 1), "table t0: more data than the header records".into()),
            (Box::new(|h| h.tables[0].raw_bytes += 1), "table t0: ".into()),
            (Box::new(|h| h.tables[0].raw_bytes -= 1), "table t0: more data".into()),
        ];
        for (edit, expect) in cases {
            let path = write_file(dir.path(), "disagree", &tamper_header(&bytes, edit));
            read_header(&path).unwrap();
            assert_corrupt(verify(&path), &expect);
        }
    }

    #[test]
    fn partial_last_row_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let stage = crate::snapshot::writer::tests::stage_in(dir.path(), "partial");
        let mut w = SnapshotWriter::create(stage, format::tests::sample_header("partial", &["t"])).unwrap();
        w.begin_table(0).unwrap();
        w.write_member(&gzip_member(b"1\ta\n2\tb", 6)).unwrap();
        let mut full = RowHasher::new();
        full.update(b"1\ta\n2\tb\n");
        let mut stats = full.finish().unwrap();
        stats.raw_bytes = 7;
        w.end_table(stats).unwrap();
        let path = dir.path().join("partial.seed.gz");
        w.finish(false).unwrap();
        assert_corrupt(verify(&path), "table t: the data does not end with a newline (a partial row after row 1)");
    }

    #[test]
    fn streaming_chunks_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..120_000).flat_map(|i| format!("{i}\tsome text for row {i}\n").into_bytes()).collect();
        assert!(big.len() > 2 * CHUNK_SIZE);
        let header = write_snapshot(dir.path(), "big", &[big.clone(), b"1\tx\n".to_vec()], false).unwrap();
        let path = dir.path().join("big.seed.gz");

        let mut rows = open_table(&path, &header, 0).unwrap();
        let mut back = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = rows.next_chunk().unwrap() {
            assert!(chunk.len() <= CHUNK_SIZE && !chunk.is_empty());
            back.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert!(chunks >= 3);
        assert_eq!(back, big);
        assert_eq!(rows.rows_read(), 120_000);
        assert_eq!(rows.finish().unwrap(), header.tables[0].stats());

        // finish() on a table not read at all still reads and checks it.
        assert_eq!(open_table(&path, &header, 1).unwrap().finish().unwrap(), header.tables[1].stats());
        assert!(matches!(open_table(&path, &header, 2), Err(Error::Internal(_))));

        // Through `Read`, a mismatch is an I/O error wrapping the corrupt error.
        let bytes = std::fs::read(&path).unwrap();
        let bad = write_file(dir.path(), "bad", &tamper_header(&bytes, |h| h.tables[0].checksum = "0".repeat(16)));
        let (h, _) = read_header(&bad).unwrap();
        let err = open_table(&bad, &h, 0).unwrap().read_to_end(&mut Vec::new()).unwrap_err();
        assert_corrupt(Err::<(), _>(into_error(&bad, err)), "table t0: checksum mismatch");
    }

    /// Every single-byte change and every truncation of a small snapshot: never a
    /// panic, never a silent change of content. A flip may pass only where decoders
    /// ignore bits (gzip MTIME/XFL/OS/FTEXT, padding bits of deflate blocks), and then
    /// the file must still decode to exactly the same header and rows.
    #[test]
    fn every_flip_and_cut_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [b"1\talpha\n2\t\\N\n".to_vec(), Vec::new(), "3\tg\u{e4}mma\\tx\n".repeat(3).into_bytes()];
        let header = write_snapshot(dir.path(), "small", &rows, false).unwrap();
        let bytes = std::fs::read(dir.path().join("small.seed.gz")).unwrap();
        let decode_all = |b: &[u8]| {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(b).read_to_end(&mut out).map(|_| out)
        };
        let original = decode_all(&bytes).unwrap();
        let path = dir.path().join("mutant");
        let (mut caught, mut passed) = (0, 0);
        for pos in 0..bytes.len() {
            for mask in [0x01, 0x10, 0x80] {
                let mut bad = bytes.clone();
                bad[pos] ^= mask;
                std::fs::write(&path, &bad).unwrap();
                match verify(&path) {
                    Ok(h) => {
                        passed += 1;
                        assert_eq!(h, header, "flip {mask:#x} at byte {pos} changed the header");
                        assert_eq!(decode_all(&bad).unwrap(), original, "flip {mask:#x} at byte {pos} changed data");
                    }
                    Err(Error::SnapshotCorrupt { .. }) => caught += 1,
                    Err(other) => panic!("flip at {pos}: {other:?}"),
                }
            }
        }
        assert!(passed * 10 < caught, "{passed} flips passed, {caught} caught");
        for cut in 0..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert!(matches!(verify(&path), Err(Error::SnapshotCorrupt { .. })), "cut at {cut}");
        }
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&bytes[bytes.len() - 1..]).unwrap();
        assert_eq!(verify(&path).unwrap(), header);
    }
}
