//! Writes a snapshot: a placeholder header, then each table's gzip members, then the
//! real header (the same length) in the placeholder's place as the key is published
//! (see `format` for the layout and `location::Stage` for the publish).
//!
//! The writer takes members already compressed, so the caller can compress chunks on
//! worker threads (`format::gzip_member`) while this stays a plain sequential append.
//! It writes format 2: it fills in `tables_fingerprint` and, at `finish`,
//! `header_checksum`, and refuses a header a reader would refuse.

use crate::error::Error;
use crate::snapshot::format::{self, DeltaPart, DeltaParts, Header, PartStats, Storage, TableStats};
use crate::snapshot::location::Stage;
use crate::snapshot::{names, validate};

#[derive(Debug)]
pub struct SnapshotWriter {
    stage: Stage,
    header: Header,
    /// Length of the header line (JSON + padding + newline).
    reserved: usize,
    /// Size in the file of the stored member holding the header line.
    header_member_len: u64,
    /// Bytes written so far = where the next member goes.
    pos: u64,
    /// Index of the table that comes next (tables go in header order).
    next_table: usize,
    /// The table being written and where it started.
    open: Option<(usize, u64)>,
    /// In a delta table: the part being written and where it started.
    part: Option<(DeltaPart, u64)>,
    /// In a delta table: the parts ended so far (upserts, then deletes).
    parts_done: usize,
    /// Set when a write failed: the file's contents are unknown from then on.
    failed: bool,
}

fn check_stats(checksum: &str) -> Result<String, Error> {
    let valid = checksum.len() == 16 && checksum.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(Error::Internal(format!("bad table checksum '{checksum}'")));
    }
    Ok(checksum.to_ascii_lowercase())
}

impl SnapshotWriter {
    /// Starts `stage` with a placeholder header sized for the final one. The table
    /// entries' stats are ignored (set at `end_table`); their `storage` says how each
    /// table will be written, unless [`SnapshotWriter::begin_table_as`] says otherwise
    /// when it begins (room is reserved for every table with a primary key to become a
    /// delta when the header names a base).
    pub fn create(mut stage: Stage, mut header: Header) -> Result<Self, Error> {
        names::validate_name(&header.name)?;
        if header.format != format::FORMAT_NAME || header.format_version != format::FORMAT_VERSION {
            return Err(Error::Internal(format!(
                "snapshot header must be {} version {}, not {} version {}",
                format::FORMAT_NAME,
                format::FORMAT_VERSION,
                header.format,
                header.format_version
            )));
        }
        let zeros = "0".repeat(16);
        for t in &mut header.tables {
            t.rows = 0;
            t.checksum.clone_from(&zeros);
            t.offset = 0;
            t.length = 0;
            t.raw_bytes = 0;
            t.delta = (t.storage == Storage::Delta).then(|| {
                let part = PartStats { checksum: zeros.clone(), ..PartStats::default() };
                DeltaParts { upserts: part.clone(), deletes: part }
            });
        }
        header.tables_fingerprint = Some(format::tables_fingerprint(&header.tables));
        header.header_checksum = Some("0".repeat(32));
        validate::structure(&header).map_err(|reason| {
            Error::usage_hint(
                format!("cannot take snapshot '{}': {reason}", header.name),
                "leave such tables out with --exclude (or pick tables with --table)",
            )
        })?;
        let json_err = |e: serde_json::Error| Error::Internal(format!("cannot serialize the snapshot header: {e}"));
        let reserved = format::reserved_header_len(&header).map_err(json_err)?;
        if reserved > format::MAX_HEADER_LEN {
            return Err(Error::usage_hint(
                format!(
                    "cannot take snapshot '{}': its header would take {} bytes, over the format's {} MiB",
                    header.name,
                    reserved,
                    format::MAX_HEADER_LEN >> 20
                ),
                "snapshot fewer tables at a time with --table / --exclude",
            ));
        }
        let line = format::header_line(&header, reserved)
            .map_err(json_err)?
            .ok_or_else(|| Error::Internal("placeholder header does not fit its reserved length".into()))?;
        let member = format::stored_member(&line);
        stage.write(&member)?;
        let len = member.len() as u64;
        Ok(Self {
            stage,
            header,
            reserved,
            header_member_len: len,
            pos: len,
            next_table: 0,
            open: None,
            part: None,
            parts_done: 0,
            failed: false,
        })
    }

    /// The header as it stands (final figures for tables already ended).
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    fn check_usable(&self) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Internal("snapshot writer used after a failed write".into()));
        }
        Ok(())
    }

    /// Starts table `index` stored as `storage`: `base` and `delta` need a base in the
    /// header, `delta` a primary key.
    pub fn begin_table_as(&mut self, index: usize, storage: Storage) -> Result<(), Error> {
        self.check_usable()?;
        let has_base = self.header.base.is_some();
        let Some(entry) = self.header.tables.get_mut(index) else {
            return Err(Error::Internal(format!("snapshot has no table number {index}")));
        };
        let allowed = match storage {
            Storage::Full => true,
            Storage::Base => has_base,
            Storage::Delta => has_base && !entry.primary_key.is_empty(),
        };
        if !allowed || self.open.is_some() || index != self.next_table {
            return Err(Error::Internal(format!("table {index} cannot begin as {}", storage.label())));
        }
        entry.storage = storage;
        entry.delta = (storage == Storage::Delta).then(|| {
            let part = PartStats { checksum: "0".repeat(16), ..PartStats::default() };
            DeltaParts { upserts: part.clone(), deletes: part }
        });
        self.begin_table(index)
    }

    /// Starts table `index`; tables must come in header order, each once.
    pub fn begin_table(&mut self, index: usize) -> Result<(), Error> {
        self.check_usable()?;
        if let Some((open, _)) = self.open {
            return Err(Error::Internal(format!("snapshot table {index} begun while table {open} is still open")));
        }
        if index != self.next_table || index >= self.header.tables.len() {
            return Err(Error::Internal(format!(
                "snapshot tables out of order: got table {index}, expected {} of {}",
                self.next_table,
                self.header.tables.len()
            )));
        }
        self.open = Some((index, self.pos));
        self.part = None;
        self.parts_done = 0;
        Ok(())
    }

    fn open_storage(&self) -> Result<(usize, u64, Storage), Error> {
        let Some((index, start)) = self.open else {
            return Err(Error::Internal("snapshot table ended but none was begun".into()));
        };
        Ok((index, start, self.header.tables[index].storage))
    }

    /// Appends one complete gzip member (from `format::gzip_member`) to the open table
    /// (to the open part of a delta table).
    pub fn write_member(&mut self, gz: &[u8]) -> Result<(), Error> {
        self.check_usable()?;
        let Some((index, _)) = self.open else {
            return Err(Error::Internal("snapshot data written outside a table".into()));
        };
        match self.header.tables[index].storage {
            Storage::Full => {}
            Storage::Delta if self.part.is_some() => {}
            Storage::Delta => return Err(Error::Internal("delta table data written outside a part".into())),
            Storage::Base => return Err(Error::Internal("data written for a table stored in the base".into())),
        }
        if let Err(e) = self.stage.write(gz) {
            self.failed = true;
            return Err(e);
        }
        self.pos += gz.len() as u64;
        Ok(())
    }

    /// Closes the open table (stored in full), recording the figures its rows hashed to.
    pub fn end_table(&mut self, stats: TableStats) -> Result<(), Error> {
        self.check_usable()?;
        let (index, start, storage) = self.open_storage()?;
        if storage != Storage::Full {
            return Err(Error::Internal(format!(
                "end_table on a {} table: use end_reconstructed_table",
                storage.label()
            )));
        }
        let checksum = check_stats(&stats.checksum)?;
        let entry = &mut self.header.tables[index];
        entry.rows = stats.rows;
        entry.checksum = checksum;
        entry.raw_bytes = stats.raw_bytes;
        entry.offset = start;
        entry.length = self.pos - start;
        self.open = None;
        self.next_table = index + 1;
        Ok(())
    }

    /// Starts `part` of the open delta table: upserts first, then deletes, each once.
    pub fn begin_part(&mut self, part: DeltaPart) -> Result<(), Error> {
        self.check_usable()?;
        let (_, _, storage) = self.open_storage()?;
        let expected = [DeltaPart::Upserts, DeltaPart::Deletes].get(self.parts_done).copied();
        if storage != Storage::Delta || self.part.is_some() || expected != Some(part) {
            return Err(Error::Internal(format!(
                "delta part {} begun out of order (table storage {}, {} parts done)",
                part.label(),
                storage.label(),
                self.parts_done
            )));
        }
        self.part = Some((part, self.pos));
        Ok(())
    }

    /// Closes the open part, recording the figures its lines hashed to.
    pub fn end_part(&mut self, stats: TableStats) -> Result<(), Error> {
        self.check_usable()?;
        let (index, _, _) = self.open_storage()?;
        let Some((part, start)) = self.part.take() else {
            return Err(Error::Internal("delta part ended but none was begun".into()));
        };
        let checksum = check_stats(&stats.checksum)?;
        let length = self.pos - start;
        let delta = self.header.tables[index].delta.get_or_insert_with(DeltaParts::default);
        *delta.part_mut(part) = PartStats { rows: stats.rows, checksum, raw_bytes: stats.raw_bytes, length };
        self.parts_done += 1;
        Ok(())
    }

    /// Closes the open `base` or `delta` table, recording the figures of the table as
    /// reconstructed (`rows`, `checksum`); what is stored here comes from its parts.
    pub fn end_reconstructed_table(&mut self, rows: u64, checksum: &str) -> Result<(), Error> {
        self.check_usable()?;
        let (index, start, storage) = self.open_storage()?;
        let checksum = check_stats(checksum)?;
        let raw_bytes = match storage {
            Storage::Full => return Err(Error::Internal("end_reconstructed_table on a full table".into())),
            Storage::Base => 0,
            Storage::Delta if self.parts_done == 2 && self.part.is_none() => {
                let d = self.header.tables[index].delta.as_ref();
                d.map_or(0, |d| d.upserts.raw_bytes + d.deletes.raw_bytes)
            }
            Storage::Delta => return Err(Error::Internal("delta table ended before both parts".into())),
        };
        let entry = &mut self.header.tables[index];
        entry.rows = rows;
        entry.checksum = checksum;
        entry.raw_bytes = raw_bytes;
        entry.offset = start;
        entry.length = self.pos - start;
        self.open = None;
        self.next_table = index + 1;
        Ok(())
    }

    /// The time the published key carries, where the location lets its writer set it.
    pub fn set_modified(&mut self, time: std::time::SystemTime) -> Result<(), Error> {
        self.stage.set_modified(time)
    }

    /// Puts the final header (with its checksum) in the placeholder's place and
    /// publishes the key (see `Stage::publish` for `replace`). Returns the final header.
    pub fn finish(self, replace: bool) -> Result<Header, Error> {
        self.finish_checked(replace, |_, _| Ok(()))
    }

    /// [`SnapshotWriter::finish`], calling `check` with the final header and the staged
    /// bytes (where the location can read them back before publishing; the placeholder
    /// header is still in place there, the same length) before anything is published.
    pub fn finish_checked(
        mut self,
        replace: bool,
        check: impl FnOnce(&Header, Option<std::sync::Arc<dyn crate::snapshot::source::Source>>) -> Result<(), Error>,
    ) -> Result<Header, Error> {
        self.check_usable()?;
        if self.open.is_some() || self.next_table != self.header.tables.len() {
            return Err(Error::Internal(format!(
                "snapshot finished after {} of {} tables",
                self.next_table,
                self.header.tables.len()
            )));
        }
        // A header names a base only when a table is read from it.
        if self.header.tables.iter().all(|t| t.storage == Storage::Full) {
            self.header.base = None;
        }
        validate::structure(&self.header)
            .map_err(|reason| Error::Internal(format!("the snapshot header came out inconsistent: {reason}")))?;
        let json_err = |e: serde_json::Error| Error::Internal(format!("cannot serialize the snapshot header: {e}"));
        let checksum = format::header_checksum(&mut self.header).map_err(json_err)?;
        self.header.header_checksum = Some(checksum);
        let line = format::header_line(&self.header, self.reserved)
            .map_err(json_err)?
            .ok_or_else(|| Error::Internal("final snapshot header outgrew its reserved length".into()))?;
        let member = format::stored_member(&line);
        if member.len() as u64 != self.header_member_len {
            return Err(Error::Internal("final snapshot header member changed size".into()));
        }
        let staged = self.stage.staged_source()?;
        check(&self.header, staged)?;
        self.stage.publish(&member, replace)?;
        Ok(self.header)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Read;

    use std::path::Path;

    use super::*;
    use crate::snapshot::format::tests::sample_header;
    use crate::snapshot::format::{DeltaPart, Storage};
    use crate::snapshot::format::{LineChunker, RowHasher, gzip_member};
    use crate::snapshot::location::LocalStore;
    use crate::snapshot::reader;

    /// Rows of three tables: ordinary, awkward (NULLs, escapes, UTF-8, long lines) and empty.
    pub(crate) fn sample_rows() -> Vec<Vec<u8>> {
        let mut plain = Vec::new();
        for i in 0..5000 {
            plain.extend_from_slice(format!("{i}\tname {i}\n").as_bytes());
        }
        let mut awkward = Vec::new();
        awkward.extend_from_slice(b"1\t\\N\n");
        awkward.extend_from_slice("2\tcaf\u{e9} \u{1F600} \u{65e5}\u{672c}\n".as_bytes());
        awkward.extend_from_slice(b"3\ttab\\there\\nnewline \\\\ backslash\n");
        awkward.extend_from_slice(b"4\t\n");
        awkward.extend_from_slice(format!("5\t{}\n", "long ".repeat(50_000)).as_bytes());
        vec![plain, awkward, Vec::new()]
    }

    /// A stage for snapshot `name` (version 1) in directory `dir`.
    pub(crate) fn stage_in(dir: &Path, name: &str) -> Stage {
        stage_key(dir, &crate::snapshot::versions::key(name, 1))
    }

    /// A stage for `key` in directory `dir`.
    pub(crate) fn stage_key(dir: &Path, key: &str) -> Stage {
        Stage::Local(LocalStore::new(dir).stage(key).unwrap())
    }

    /// Writes a snapshot of `rows` the way the snapshot command does: line-aligned
    /// chunks, one gzip member each.
    pub(crate) fn write_snapshot(dir: &Path, name: &str, rows: &[Vec<u8>], replace: bool) -> Result<Header, Error> {
        let names: Vec<String> = (0..rows.len()).map(|i| format!("t{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut w = SnapshotWriter::create(stage_in(dir, name), sample_header(name, &names))?;
        for (i, data) in rows.iter().enumerate() {
            w.begin_table(i)?;
            let mut hasher = RowHasher::new();
            let mut chunker = LineChunker::new(16 * 1024);
            for piece in data.chunks(10_000) {
                hasher.update(piece);
                for chunk in chunker.push(piece) {
                    w.write_member(&gzip_member(&chunk, 6))?;
                }
            }
            if let Some(rest) = chunker.finish() {
                w.write_member(&gzip_member(&rest, 6))?;
            }
            w.end_table(hasher.finish().map_err(Error::Internal)?)?;
        }
        w.finish(replace)
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let rows = sample_rows();
        let header = write_snapshot(dir.path(), "baseline", &rows, false).unwrap();
        let path = dir.path().join("baseline.seed.gz");
        let size = std::fs::metadata(&path).unwrap().len();

        let (read, file_size) = reader::read_header(&path).unwrap();
        assert_eq!(read, header);
        assert_eq!(file_size, size);
        assert_eq!(reader::verify(&path).unwrap(), header);

        assert_eq!(header.tables[0].rows, 5000);
        assert_eq!(header.tables[1].rows, 5);
        assert_eq!(header.tables[2].rows, 0);
        assert_eq!(header.tables[2].length, 0);
        assert_eq!(header.tables.last().unwrap().offset + header.tables.last().unwrap().length, size);
        for (i, data) in rows.iter().enumerate() {
            let mut back = Vec::new();
            reader::open_table(&path, &header, i).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(&back, data, "table {i}");
            assert_eq!(header.tables[i].raw_bytes, data.len() as u64);
        }

        // zcat: the whole file is one gzip stream of the header line and all rows.
        let mut all = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&path).unwrap()).read_to_end(&mut all).unwrap();
        let nl = all.iter().position(|&b| b == b'\n').unwrap();
        let first: Header = serde_json::from_slice(&all[..nl]).unwrap();
        assert_eq!(first, header);
        assert_eq!(&all[nl + 1..], rows.concat().as_slice());

        let listing: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(listing, ["baseline.seed.gz"]);
    }

    #[test]
    fn header_member_size_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let header = sample_header("fixed", &["t0", "t1"]); // as write_snapshot names them
        let w = SnapshotWriter::create(stage_in(dir.path(), "fixed"), header.clone()).unwrap();
        let placeholder_len = w.bytes_written();
        drop(w);
        let final_header = write_snapshot(dir.path(), "fixed", &[b"1\tx\n".repeat(100_000), vec![]], false).unwrap();
        assert_eq!(final_header.tables[0].offset, placeholder_len);
        // The whole stored member (header, blocks, trailer) is what the offset skips.
        let line_len = format::reserved_header_len(&header).unwrap();
        assert_eq!(placeholder_len, format::stored_member_len(line_len) as u64);
    }

    #[test]
    fn existing_snapshot_is_kept_unless_replacing() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_snapshot(dir.path(), "snap", &[b"1\told\n".to_vec()], false).unwrap();
        let path = dir.path().join("snap.seed.gz");
        let before = std::fs::read(&path).unwrap();
        let err = write_snapshot(dir.path(), "snap", &[b"1\tnew\n2\tnew\n".to_vec()], false).unwrap_err();
        assert!(matches!(err, Error::SnapshotExists { .. }), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let second = write_snapshot(dir.path(), "snap", &[b"1\tnew\n2\tnew\n".to_vec()], true).unwrap();
        assert_eq!(first.tables[0].rows, 1);
        assert_eq!(reader::verify(&path).unwrap(), second);
        assert_eq!(second.tables[0].rows, 2);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn misuse_is_an_internal_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = SnapshotWriter::create(stage_in(dir.path(), "m"), sample_header("m", &["a", "b"])).unwrap();
        assert!(matches!(w.write_member(b"x"), Err(Error::Internal(_))));
        assert!(matches!(w.begin_table(1), Err(Error::Internal(_))));
        w.begin_table(0).unwrap();
        assert!(matches!(w.begin_table(1), Err(Error::Internal(_))));
        w.end_table(RowHasher::new().finish().unwrap()).unwrap();
        let err = w.finish(false).unwrap_err();
        assert!(matches!(err, Error::Internal(_)), "{err:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let mut bad = sample_header("bad/name", &[]);
        assert!(matches!(SnapshotWriter::create(stage_in(dir.path(), "m"), bad.clone()), Err(Error::Usage { .. })));
        bad.name = "ok".into();
        bad.format_version = format::FORMAT_VERSION + 1;
        assert!(matches!(SnapshotWriter::create(stage_in(dir.path(), "m"), bad), Err(Error::Internal(_))));
    }

    /// What a reader would refuse, the writer refuses up front (a usage error naming
    /// the table, with --exclude as the way out).
    #[test]
    fn headers_a_reader_would_refuse_are_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctl = sample_header("c", &["ok", "bad\nname"]);
        let err = SnapshotWriter::create(stage_in(dir.path(), "c"), ctl.clone()).unwrap_err();
        assert!(matches!(&err, Error::Usage { message, .. } if message.contains("control character")), "{err:?}");
        ctl.tables[1].name = "fine".into();
        ctl.tables[1].columns.clear();
        let err = SnapshotWriter::create(stage_in(dir.path(), "c"), ctl).unwrap_err();
        assert!(matches!(&err, Error::Usage { message, .. } if message.contains("has no columns")), "{err:?}");
        let names: Vec<String> = (0..=format::MAX_TABLES).map(|i| format!("t{i}")).collect();
        let many = sample_header("many", &names.iter().map(String::as_str).collect::<Vec<_>>());
        let err = SnapshotWriter::create(stage_in(dir.path(), "many"), many).map(|_| ()).unwrap_err();
        assert!(matches!(&err, Error::Usage { message, .. } if message.contains("20001 tables")), "{err:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_header_is_signed_and_fingerprinted() {
        let dir = tempfile::tempdir().unwrap();
        let header = write_snapshot(dir.path(), "signed", &sample_rows(), false).unwrap();
        assert_eq!(header.format_version, 2);
        assert_eq!(header.tables_fingerprint.as_deref(), Some(format::tables_fingerprint(&header.tables).as_str()));
        let mut copy = header.clone();
        assert_eq!(header.header_checksum, Some(format::header_checksum(&mut copy).unwrap()));
        // The file holds the canonical JSON itself: emptying the checksum's value in
        // the line and hashing it gives the checksum (the recipe of docs/format.md).
        let bytes = std::fs::read(dir.path().join("signed.seed.gz")).unwrap();
        let mut line = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut line).unwrap();
        let json = line.trim_end();
        let sum = header.header_checksum.as_deref().unwrap();
        let blank = json.replace(&format!("\"header_checksum\":\"{sum}\""), "\"header_checksum\":\"\"");
        assert_eq!(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(blank.as_bytes())), sum);
        assert!(json.ends_with(&format!(",\"header_checksum\":\"{sum}\"}}")), "{json}");
    }

    /// Incremental tables: `base` stores nothing, `delta` stores upserts then deletes,
    /// each part checked on its own; whole-table reads of them are refused for now.
    #[test]
    fn base_and_delta_tables_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = sample_header("inc", &["same", "changed", "full"]);
        h.version = 2;
        h.base = Some(format::BaseRef { name: "inc".into(), version: 1, content_checksum: "ab".repeat(16) });
        h.tables[0].storage = Storage::Base;
        h.tables[1].storage = Storage::Delta;
        let mut w = SnapshotWriter::create(stage_in(dir.path(), "inc"), h).unwrap();
        let stats = |data: &[u8]| {
            let mut hasher = RowHasher::new();
            hasher.update(data);
            hasher.finish().unwrap()
        };
        w.begin_table(0).unwrap();
        assert!(matches!(w.write_member(&gzip_member(b"1\tx\n", 6)), Err(Error::Internal(_))));
        w.end_reconstructed_table(7, "00000000000000aa").unwrap();
        let (upserts, deletes) = (b"1\tnew\n2\tnewer\n".to_vec(), b"3\n".to_vec());
        w.begin_table(1).unwrap();
        assert!(matches!(w.write_member(b"x"), Err(Error::Internal(_))), "data outside a part");
        assert!(matches!(w.begin_part(DeltaPart::Deletes), Err(Error::Internal(_))), "upserts first");
        w.begin_part(DeltaPart::Upserts).unwrap();
        w.write_member(&gzip_member(&upserts[..7], 6)).unwrap();
        w.write_member(&gzip_member(&upserts[7..], 6)).unwrap();
        w.end_part(stats(&upserts)).unwrap();
        assert!(matches!(w.end_reconstructed_table(3, "00000000000000bb"), Err(Error::Internal(_))));
        w.begin_part(DeltaPart::Deletes).unwrap();
        w.write_member(&gzip_member(&deletes, 6)).unwrap();
        w.end_part(stats(&deletes)).unwrap();
        assert!(matches!(w.end_table(stats(b"")), Err(Error::Internal(_))), "a delta table is not ended as full");
        w.end_reconstructed_table(3, "00000000000000bb").unwrap();
        w.begin_table(2).unwrap();
        w.write_member(&gzip_member(b"9\tz\n", 6)).unwrap();
        w.end_table(stats(b"9\tz\n")).unwrap();
        let path = dir.path().join("inc.seed.gz");
        let header = w.finish(false).unwrap();

        assert_eq!(reader::verify(&path).unwrap(), header);
        let (same, changed) = (&header.tables[0], &header.tables[1]);
        assert_eq!((same.rows, same.length, same.raw_bytes), (7, 0, 0));
        let d = changed.delta.as_ref().unwrap();
        assert_eq!((changed.rows, changed.checksum.as_str()), (3, "00000000000000bb"));
        assert_eq!(d.upserts.length + d.deletes.length, changed.length);
        assert_eq!(changed.raw_bytes, (upserts.len() + deletes.len()) as u64);
        assert_eq!((d.upserts.rows, d.deletes.rows), (2, 1));
        let part = |p| {
            let mut out = Vec::new();
            reader::open_part(&path, &header, 1, p).unwrap().read_to_end(&mut out).unwrap();
            out
        };
        assert_eq!(part(DeltaPart::Upserts), upserts);
        assert_eq!(part(DeltaPart::Deletes), deletes);
        for i in [0, 1] {
            let err = reader::open_table(&path, &header, i).unwrap_err();
            assert!(matches!(&err, Error::Internal(reason) if reason.contains("rebuilt through its chain")), "{err:?}");
        }
        assert!(matches!(reader::open_part(&path, &header, 2, DeltaPart::Upserts), Err(Error::Internal(_))));
        let mut back = Vec::new();
        reader::open_table(&path, &header, 2).unwrap().read_to_end(&mut back).unwrap();
        assert_eq!(back, b"9\tz\n");

        // Damage in the deletes part is found and named by verify.
        let mut bytes = std::fs::read(&path).unwrap();
        let at = usize::try_from(changed.offset + d.upserts.length + d.deletes.length - 6).unwrap();
        bytes[at] ^= 0x40;
        let bad = dir.path().join("bad.seed.gz");
        std::fs::write(&bad, &bytes).unwrap();
        let err = reader::verify(&bad).unwrap_err();
        assert!(
            matches!(&err, Error::SnapshotCorrupt { reason, .. } if reason.contains("table changed (deletes)")),
            "{err:?}"
        );
    }

    /// A header naming a base leaves room for every keyed table to become a delta; a
    /// table's storage is chosen as it begins; a base nothing reads from is dropped.
    #[test]
    fn storage_is_chosen_per_table_and_an_unused_base_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = sample_header("inc", &["a", "b", "c"]);
        h.version = 2;
        h.base = Some(format::BaseRef { name: "inc".into(), version: 1, content_checksum: "cd".repeat(16) });
        h.tables[2].primary_key.clear();
        let empty = RowHasher::new().finish().unwrap();
        let write = |storages: [Storage; 3]| {
            let mut w = SnapshotWriter::create(stage_key(dir.path(), "inc@2.seed.gz"), h.clone()).unwrap();
            for (i, st) in storages.into_iter().enumerate() {
                w.begin_table_as(i, st).unwrap();
                match st {
                    Storage::Full => w.end_table(empty.clone()).unwrap(),
                    Storage::Base => w.end_reconstructed_table(0, &"0".repeat(16)).unwrap(),
                    Storage::Delta => {
                        for part in [DeltaPart::Upserts, DeltaPart::Deletes] {
                            w.begin_part(part).unwrap();
                            w.write_member(&gzip_member(&b"7\tseven\n".repeat(1000), 6)).unwrap();
                            let mut s = RowHasher::new();
                            s.update(&b"7\tseven\n".repeat(1000));
                            w.end_part(s.finish().unwrap()).unwrap();
                        }
                        w.end_reconstructed_table(u64::MAX, &"f".repeat(16)).unwrap();
                    }
                }
            }
            let path = dir.path().join("inc@2.seed.gz");
            let header = w.finish(true).unwrap();
            assert_eq!(reader::read_header(&path).unwrap().0, header);
            header
        };
        let delta = write([Storage::Delta, Storage::Delta, Storage::Full]);
        assert!(delta.base.is_some());
        assert_eq!(
            delta.tables.iter().map(|t| t.storage).collect::<Vec<_>>(),
            [Storage::Delta, Storage::Delta, Storage::Full]
        );
        let mixed = write([Storage::Base, Storage::Full, Storage::Base]);
        assert!(mixed.base.is_some());
        let full = write([Storage::Full, Storage::Full, Storage::Full]);
        assert_eq!(full.base, None, "nothing is read from the base: it is not named");
        // A table without a key cannot be a delta; nothing can be read from no base.
        let mut w = SnapshotWriter::create(stage_key(dir.path(), "inc@2.seed.gz"), h.clone()).unwrap();
        w.begin_table_as(0, Storage::Full).unwrap();
        w.end_table(empty.clone()).unwrap();
        w.begin_table_as(1, Storage::Full).unwrap();
        w.end_table(empty.clone()).unwrap();
        assert!(matches!(w.begin_table_as(2, Storage::Delta), Err(Error::Internal(_))));
        let mut no_base = h.clone();
        no_base.base = None;
        let mut w = SnapshotWriter::create(stage_key(dir.path(), "inc@2.seed.gz"), no_base).unwrap();
        assert!(matches!(w.begin_table_as(0, Storage::Base), Err(Error::Internal(_))));
    }

    const EFBIG_CHILD: &str = "SEED_TEST_EFBIG_DIR";

    /// Runs in a child process of `writing_past_the_file_size_limit_is_a_disk_space_error`
    /// (RLIMIT_FSIZE and SIGXFSZ are process-wide, so not in the shared test process).
    #[test]
    #[ignore = "run by writing_past_the_file_size_limit_is_a_disk_space_error"]
    fn efbig_child() {
        let Some(dir) = std::env::var_os(EFBIG_CHILD) else { return };
        let dir = std::path::PathBuf::from(dir);
        // SAFETY: plain syscalls on this process, which runs this one test only.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit { rlim_cur: 256 * 1024, rlim_max: libc::RLIM_INFINITY };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
        // Incompressible rows, so the compressed data passes the limit.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut rows = Vec::new();
        for _ in 0..40_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            rows.extend_from_slice(format!("{state:016x}{:016x}\n", state.rotate_left(29)).as_bytes());
        }
        let err = write_snapshot(&dir, "big", &[rows], false).unwrap_err();
        assert!(matches!(err, Error::DiskSpace { .. }), "{err:?}");
        assert_eq!(err.exit_code(), crate::error::code::DISK_SPACE);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "temp file left behind");
        println!("EFBIG-CHILD-OK");
    }

    #[test]
    fn writing_past_the_file_size_limit_is_a_disk_space_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "snapshot::writer::tests::efbig_child", "--ignored", "--nocapture", "--test-threads=1"])
            .env(EFBIG_CHILD, dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("EFBIG-CHILD-OK"),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
