//! Reads snapshot files (layout in `format`). A snapshot is untrusted input: it may be
//! truncated, bit-flipped, hand-edited or not a snapshot at all. Every problem is a
//! `SnapshotCorrupt` error with a precise reason, never a panic, and no allocation is
//! sized by the file's contents beyond the 64 MiB header cap and fixed-size buffers.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Take};
use std::path::{Path, PathBuf};

use flate2::bufread::{GzDecoder, MultiGzDecoder};
use serde::Deserialize;

use crate::error::Error;
use crate::snapshot::format::{self, FORMAT_NAME, FORMAT_VERSION, Header, MAX_HEADER_LEN, RowHasher, TableStats};
use crate::snapshot::store;

/// Largest chunk `TableRows::next_chunk` returns.
pub const CHUNK_SIZE: usize = 1 << 20;
const READ_BUF: usize = 64 * 1024;

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::SnapshotCorrupt { path: path.to_path_buf(), reason: reason.into() }
}

fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|e| Error::io("opening snapshot", path, e))
}

/// Reads and checks the header of the snapshot at `path`; returns it with the file's
/// size. Checks that the header is well-formed and that the tables it lists tile the
/// rest of the file exactly; it does not decompress the tables (see `verify`).
pub fn read_header(path: &Path) -> Result<(Header, u64), Error> {
    let mut file = open(path)?;
    let size = file.metadata().map_err(|e| Error::io("reading snapshot", path, e))?.len();
    if size == 0 {
        return Err(corrupt(path, "file is empty"));
    }
    let mut magic = [0u8; 2];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| Error::io("reading snapshot", path, e))?;
    if got < 2 || magic != [0x1f, 0x8b] {
        return Err(corrupt(path, "not gzip data (bad magic)"));
    }
    file.rewind().map_err(|e| Error::io("reading snapshot", path, e))?;

    let member = read_header_member(path, file)?;
    let header = parse_header(&member.line).map_err(|reason| corrupt(path, reason))?;
    let Some(header_end) = member.end else {
        return Err(corrupt(path, "the header member holds data after the header line"));
    };
    validate(&header, header_end, size).map_err(|reason| corrupt(path, reason))?;
    Ok((header, size))
}

/// Reads into `buf` until it is full or the file ends.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Gzip member 0 as decoded: the header line without its newline, and where the
/// member ends in the file (`None` if it holds more than the line: an error once the
/// line has been checked for being a header at all, which explains foreign files better).
struct HeaderMember {
    line: Vec<u8>,
    end: Option<u64>,
}

fn read_header_member(path: &Path, file: File) -> Result<HeaderMember, Error> {
    let gz_err = |e: io::Error| -> Error {
        if e.raw_os_error().is_some() {
            return Error::io("reading snapshot", path, e);
        }
        corrupt(
            path,
            match e.kind() {
                io::ErrorKind::UnexpectedEof => "truncated inside the header".to_owned(),
                _ if e.to_string().contains("invalid gzip header") => "not gzip data (invalid gzip header)".to_owned(),
                _ if e.to_string().contains("checksum") => "the header fails its gzip CRC check".to_owned(),
                _ => format!("the header is not valid gzip data: {e}"),
            },
        )
    };
    let mut dec = GzDecoder::new(BufReader::with_capacity(READ_BUF, file));
    let mut buf = vec![0u8; READ_BUF];
    let mut line = Vec::new();
    let mut found = false;
    loop {
        let n = match dec.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(gz_err(e)),
        };
        if n == 0 {
            break;
        }
        if found {
            return Ok(HeaderMember { line, end: None });
        }
        match buf[..n].iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&buf[..i]);
                if i + 1 < n {
                    return Ok(HeaderMember { line, end: None });
                }
                // Read on to the member's end, which checks its CRC.
                found = true;
            }
            None => line.extend_from_slice(&buf[..n]),
        }
        if line.len() > MAX_HEADER_LEN {
            return Err(corrupt(path, format!("header is longer than {} MiB", MAX_HEADER_LEN >> 20)));
        }
    }
    if !found {
        return Err(corrupt(
            path,
            if line.is_empty() { "the header is empty" } else { "the header line has no end (no newline)" },
        ));
    }
    let end = dec.into_inner().stream_position().map_err(|e| Error::io("reading snapshot", path, e))?;
    Ok(HeaderMember { line, end: Some(end) })
}

/// The two fields that say whether and how this seed can read the rest.
#[derive(Deserialize)]
struct Probe {
    format: Option<serde_json::Value>,
    format_version: Option<serde_json::Value>,
}

fn parse_header(line: &[u8]) -> Result<Header, String> {
    let probe: Probe = serde_json::from_slice(line).map_err(|e| format!("header is not valid JSON: {e}"))?;
    if probe.format.as_ref().and_then(|v| v.as_str()) != Some(FORMAT_NAME) {
        return Err("not a seed snapshot (the header does not say format \"seed-snapshot\")".into());
    }
    let version = probe.format_version.as_ref().and_then(serde_json::Value::as_u64);
    match version {
        Some(v) if v > u64::from(FORMAT_VERSION) => {
            return Err(format!(
                "format version {v} was written by a newer seed; this seed reads format {FORMAT_VERSION} — upgrade seed"
            ));
        }
        Some(v) if v >= 1 => {}
        _ => return Err("the header has no valid format_version".into()),
    }
    serde_json::from_slice(line).map_err(|e| format!("header is not valid: {e}"))
}

/// Everything about the header that can be checked without decompressing tables.
fn validate(h: &Header, header_end: u64, size: u64) -> Result<(), String> {
    if store::validate_name(&h.name).is_err() {
        return Err(format!("the header names an invalid snapshot '{}'", h.name.escape_debug()));
    }
    if h.compression.algorithm != format::COMPRESSION_GZIP {
        return Err(format!("unsupported compression '{}'", h.compression.algorithm.escape_debug()));
    }
    let mut seen = std::collections::HashSet::new();
    let mut expected = header_end;
    for (i, t) in h.tables.iter().enumerate() {
        if t.name.is_empty() {
            return Err(format!("table {} in the header has an empty name", i + 1));
        }
        let name = t.table_name();
        if !seen.insert(name.clone()) {
            return Err(format!("table {name} appears twice in the header"));
        }
        if let Some(c) = t.columns.iter().position(|c| c.name.is_empty()) {
            return Err(format!("table {name}: column {} has an empty name", c + 1));
        }
        if t.checksum.len() != 16 || !t.checksum.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(format!(
                "table {name}: checksum '{}' is not 16 lowercase hex digits",
                t.checksum.escape_debug()
            ));
        }
        if t.raw_bytes < t.rows {
            return Err(format!("table {name}: {} rows cannot fit in {} bytes", t.rows, t.raw_bytes));
        }
        if t.length == 0 && t.raw_bytes > 0 {
            return Err(format!(
                "table {name}: the header records {} rows ({} bytes) but no data",
                t.rows, t.raw_bytes
            ));
        }
        if t.offset != expected {
            return Err(format!("table {name}: data should start at byte {expected}, the header says {}", t.offset));
        }
        expected = t
            .offset
            .checked_add(t.length)
            .ok_or_else(|| format!("table {name}: length {} is out of range", t.length))?;
    }
    if expected > size {
        return Err(format!("truncated: expected {expected} bytes, file has {size}"));
    }
    if expected < size {
        return Err(format!(
            "{} bytes of unexpected data after the last table (expected {expected} bytes, file has {size})",
            size - expected
        ));
    }
    Ok(())
}

type Decoder = MultiGzDecoder<BufReader<Take<File>>>;

/// The decompressed rows of one table, in `COPY` text format. Hashes what it hands out
/// and checks it against the header: reading past the recorded size fails at once,
/// and reaching the end with other counts or another checksum fails there (also
/// through `Read`, whose errors wrap the `Error`; see [`into_error`]).
pub struct TableRows {
    path: PathBuf,
    /// Display name, for messages.
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
    let entry =
        header.tables.get(index).ok_or_else(|| Error::Internal(format!("snapshot has no table number {index}")))?;
    let decoder = if entry.length == 0 {
        None
    } else {
        let mut file = open(path)?;
        file.seek(SeekFrom::Start(entry.offset)).map_err(|e| Error::io("reading snapshot", path, e))?;
        Some(MultiGzDecoder::new(BufReader::with_capacity(READ_BUF, file.take(entry.length))))
    };
    Ok(TableRows {
        path: path.to_path_buf(),
        table: entry.table_name().to_string(),
        expected: entry.stats(),
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
        corrupt(&self.path, format!("table {}: {what}", self.table))
    }

    fn read_checked(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if let Some(outcome) = &self.outcome {
            return match outcome {
                Ok(_) => Ok(0),
                Err(reason) => Err(corrupt(&self.path, reason.clone())),
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
                    Err(e) if e.raw_os_error().is_some() => return Err(Error::io("reading snapshot", &self.path, e)),
                    Err(e) => return Err(self.decode_error(&e)),
                }
            },
        };
        if n == 0 {
            self.decoder = None;
            let outcome = self.check_end();
            self.outcome = Some(outcome.clone());
            return outcome.map(|_| 0).map_err(|reason| corrupt(&self.path, reason));
        }
        self.hasher.update(&buf[..n]);
        if self.hasher.rows() > self.expected.rows || self.hasher.raw_bytes() > self.expected.raw_bytes {
            let reason = format!(
                "table {}: more data than the header records ({} rows, {} bytes)",
                self.table, self.expected.rows, self.expected.raw_bytes
            );
            self.decoder = None;
            self.outcome = Some(Err(reason.clone()));
            return Err(corrupt(&self.path, reason));
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
            Some(Err(reason)) => Err(corrupt(&self.path, reason)),
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

/// Checks the whole snapshot: the header, then every table decompressed and checked
/// against it. Reports the first problem found.
pub fn verify(path: &Path) -> Result<Header, Error> {
    let (header, _) = read_header(path)?;
    for index in 0..header.tables.len() {
        open_table(path, &header, index)?.finish()?;
    }
    Ok(header)
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

    /// Rewrites the header of the snapshot `bytes` in place (same reserved length).
    fn tamper_header(bytes: &[u8], edit: impl FnOnce(&mut Header)) -> Vec<u8> {
        let mut dec = GzDecoder::new(bytes);
        let mut line = Vec::new();
        dec.read_to_end(&mut line).unwrap();
        let member_len = bytes.len() - dec.into_inner().len();
        let mut header: Header = serde_json::from_slice(&line).unwrap();
        edit(&mut header);
        let new_line = format::header_line(&header, line.len()).unwrap().unwrap();
        let mut out = stored_member(&new_line);
        assert_eq!(out.len(), member_len);
        out.extend_from_slice(&bytes[member_len..]);
        out
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
        GzDecoder::new(&bytes[..]).read_to_end(&mut line).unwrap();
        line.extend_from_slice(b"1\textra row\n");
        let two_lines = gzip_member(&line, 6);
        assert_corrupt(read_header(&write_file(dir.path(), "two2", &two_lines)), "data after the header line");
        let empty_member = gzip_member(b"", 6);
        assert_corrupt(read_header(&write_file(dir.path(), "em", &empty_member)), "header is empty");
    }

    #[test]
    fn newer_format_version_asks_for_an_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        // Only the probe fields: a newer header may look nothing like ours.
        let future = stored_member(b"{\"format\":\"seed-snapshot\",\"format_version\":99,\"shiny\":[]}\n");
        let reason = assert_corrupt(read_header(&write_file(dir.path(), "future", &future)), "format version 99");
        assert!(reason.contains("upgrade seed") && reason.contains("reads format 1"), "{reason}");
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
        ];
        for (i, (edit, expect)) in cases.into_iter().enumerate() {
            let path = write_file(dir.path(), &format!("case{i}"), &tamper_header(&bytes, edit));
            assert_corrupt(read_header(&path), expect);
        }
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
        let mut w = SnapshotWriter::create(dir.path(), format::tests::sample_header("partial", &["t"])).unwrap();
        w.begin_table(0).unwrap();
        w.write_member(&gzip_member(b"1\ta\n2\tb", 6)).unwrap();
        let mut full = RowHasher::new();
        full.update(b"1\ta\n2\tb\n");
        let mut stats = full.finish().unwrap();
        stats.raw_bytes = 7;
        w.end_table(stats).unwrap();
        let path = dir.path().join("partial.seed.gz");
        w.finish(&path, false).unwrap();
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
