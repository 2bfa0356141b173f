//! A table's rows on their way into a snapshot: hashed as they arrive, cut into
//! line-aligned chunks, compressed on the blocking pool (several chunks at once) and
//! written as gzip members in order, to the snapshot itself or to a spool.

use std::collections::VecDeque;

use tokio::task::JoinHandle;

use super::spool::{MemberOut, Spool};
use crate::db::ChunkSink;
use crate::error::Error;
use crate::output::Progress;
use crate::snapshot::format::{self, LineChunker, RowHasher, TableStats};

/// Uncompressed bytes per gzip member: big enough for a good ratio, small enough to
/// keep both cores busy and memory flat.
const CHUNK: usize = 1 << 20;
/// Members being compressed at once (bounded memory: about 2 × DEPTH × CHUNK).
const DEPTH: usize = 4;

/// Hashes rows as they arrive, cuts them into line-aligned chunks, compresses chunks
/// on the blocking pool (several at once) and writes the members in order.
pub struct TableSink<'w> {
    out: Out<'w>,
    chunker: LineChunker,
    hasher: RowHasher,
    pending: VecDeque<JoinHandle<Vec<u8>>>,
    level: u32,
    /// The table, for messages.
    label: String,
    progress: Option<Progress>,
    rows_reported: u64,
}

/// A sink's destination: borrowed (the snapshot, a parallel read's spool) or a spool
/// of its own, handed back by `finish_spool`.
enum Out<'w> {
    Borrowed(&'w mut dyn MemberOut),
    Owned(Spool),
}

impl<'w> TableSink<'w> {
    pub fn new(writer: &'w mut dyn MemberOut, level: u32, progress: Progress) -> Self {
        let label = progress.label().to_owned();
        Self::with(Out::Borrowed(writer), level, label, Some(progress))
    }

    fn with(out: Out<'w>, level: u32, label: String, progress: Option<Progress>) -> Self {
        Self {
            out,
            chunker: LineChunker::new(CHUNK),
            hasher: RowHasher::new(),
            pending: VecDeque::new(),
            level,
            label,
            progress,
            rows_reported: 0,
        }
    }

    async fn compress(&mut self, chunk: Vec<u8>) -> Result<(), Error> {
        let level = self.level;
        self.pending.push_back(tokio::task::spawn_blocking(move || format::gzip_member(&chunk, level)));
        while self.pending.len() > DEPTH {
            self.write_oldest().await?;
        }
        Ok(())
    }

    async fn write_oldest(&mut self) -> Result<(), Error> {
        if let Some(handle) = self.pending.pop_front() {
            let gz = handle.await.map_err(|e| Error::Internal(format!("compression task failed: {e}")))?;
            let out: &mut dyn MemberOut = match &mut self.out {
                Out::Borrowed(w) => &mut **w,
                Out::Owned(spool) => spool,
            };
            tokio::task::block_in_place(|| out.put(&gz))?;
        }
        Ok(())
    }

    /// Flushes the last chunk and every pending member; the table's figures.
    pub async fn finish(mut self) -> Result<TableStats, Error> {
        self.flush_all().await?;
        let table = self.label;
        self.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {table}"), reason })
    }

    async fn flush_all(&mut self) -> Result<(), Error> {
        if let Some(rest) = std::mem::replace(&mut self.chunker, LineChunker::new(CHUNK)).finish() {
            self.compress(rest).await?;
        }
        while !self.pending.is_empty() {
            self.write_oldest().await?;
        }
        Ok(())
    }
}

impl TableSink<'static> {
    /// A sink into a spool of its own (no progress shown).
    pub fn spooled(spool: Spool, level: u32, label: String) -> Self {
        Self::with(Out::Owned(spool), level, label, None)
    }

    /// Shows the rows pushed on `progress`.
    pub fn show(&mut self, progress: Progress) {
        self.progress = Some(progress);
    }

    /// [`TableSink::finish`], handing the spool back.
    pub async fn finish_spool(mut self) -> Result<(Spool, TableStats), Error> {
        self.flush_all().await?;
        let Out::Owned(spool) = self.out else { return Err(Error::Internal("not a spooled sink".into())) };
        let table = self.label;
        let stats = self.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {table}"), reason })?;
        Ok((spool, stats))
    }
}

impl ChunkSink for TableSink<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        let rows = self.hasher.rows();
        if let Some(p) = &self.progress {
            p.inc(rows - self.rows_reported);
        }
        self.rows_reported = rows;
        for chunk in self.chunker.push(bytes) {
            self.compress(chunk).await?;
        }
        Ok(())
    }
}
