//! Local spool files: unnamed temp files in the snapshot directory (the system temp
//! directory for a bucket), gone with the process whatever happens. A [`Spool`] holds a
//! table's compressed members until they can be copied into the snapshot in order; a
//! [`RawSpool`] holds the raw COPY text of a page range read by another connection.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::db::ChunkSink;
use crate::error::Error;
use crate::output::Progress;
use crate::snapshot::writer::SnapshotWriter;

/// Bytes buffered when a spool is written or read.
pub(super) const BUFFER: usize = 1 << 20;

/// Where compressed members go: the snapshot itself, or a table's spool.
pub trait MemberOut {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error>;
}

impl MemberOut for SnapshotWriter {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error> {
        self.write_member(gz)
    }
}

/// One table's compressed members in an unnamed temp file of the snapshot directory
/// (gone with the process whatever happens), copied into the snapshot in order.
pub struct Spool {
    file: std::fs::File,
    dir: PathBuf,
}

impl Spool {
    pub fn new(dir: &Path) -> Result<Self, Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io("creating a spool file in", dir, e))?;
        Ok(Self { file, dir: dir.to_path_buf() })
    }

    pub fn copy_into(mut self, writer: &mut SnapshotWriter) -> Result<(), Error> {
        let err = |e| Error::io("reading a spool file in", &self.dir, e);
        self.file.rewind().map_err(err)?;
        let mut buf = vec![0u8; BUFFER];
        loop {
            let n = self.file.read(&mut buf).map_err(|e| Error::io("reading a spool file in", &self.dir, e))?;
            if n == 0 {
                return Ok(());
            }
            writer.write_member(&buf[..n])?;
        }
    }
}

impl MemberOut for Spool {
    fn put(&mut self, gz: &[u8]) -> Result<(), Error> {
        self.file.write_all(gz).map_err(|e| Error::io("writing a spool file in", &self.dir, e))
    }
}

/// Raw COPY text of a page range to a spool file, rows shown on the table's progress.
pub(super) struct RawSpool<'a> {
    out: std::io::BufWriter<std::fs::File>,
    dir: &'a Path,
    progress: Progress,
}

impl<'a> RawSpool<'a> {
    pub(super) fn new(dir: &'a Path, progress: Progress) -> Result<Self, Error> {
        let file = tempfile::tempfile_in(dir).map_err(|e| Error::io("creating a spool file in", dir, e))?;
        Ok(Self { out: std::io::BufWriter::with_capacity(BUFFER, file), dir, progress })
    }

    /// The spool file, everything written.
    pub(super) fn finish(self) -> Result<std::fs::File, Error> {
        self.out.into_inner().map_err(|e| Error::io("writing a spool file in", self.dir, e.into_error()))
    }
}

impl ChunkSink for RawSpool<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out.write_all(bytes).map_err(|e| Error::io("writing a spool file in", self.dir, e))?;
        self.progress.inc(memchr::memchr_iter(b'\n', bytes).count() as u64);
        Ok(())
    }
}
