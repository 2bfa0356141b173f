//! The comparison behind an incremental snapshot: a table's live rows walked side by
//! side with its base's rows (see `incremental` for what is made of the result).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::db::ChunkSink;
use crate::error::Error;
use crate::output::Progress;
use crate::snapshot::chain::Chain;
use crate::snapshot::format::{TableStats, row_hash};
use crate::snapshot::rowkey::{LineSplitter, PrehashedState};

/// Most row text the comparison of one table keeps pending.
pub const MAX_PENDING_BYTES: usize = 256 << 20;
/// Most rows the comparison of one table keeps pending.
pub const MAX_PENDING_ROWS: usize = 4 << 20;

/// Base rows handed over from the decompressing thread at a time (bytes of text).
const BATCH: usize = 1 << 20;

/// Rows waiting for their twin: row hash → (position in its stream, line).
pub(super) type Pending = HashMap<u64, (u64, Vec<u8>), PrehashedState>;

/// A batch of base rows: their text, and each row's hash and range in it.
struct Batch {
    text: Vec<u8>,
    rows: Vec<(u64, usize, usize)>,
}

/// The base's table, decompressed and split into hashed rows on a blocking thread.
pub(super) struct BaseRows {
    rx: mpsc::Receiver<Result<Batch, Error>>,
    batch: Batch,
    next: usize,
    seq: u64,
    done: bool,
}

impl BaseRows {
    /// Table `j` of `chain`'s top, rebuilt through the chain.
    pub(super) fn spawn(chain: Arc<Chain>, j: usize) -> Self {
        let (tx, rx) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            let mut reader = match chain.open_table(j) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            };
            let mut lines = LineSplitter::default();
            let mut batch = Batch { text: Vec::with_capacity(BATCH + 4096), rows: Vec::new() };
            loop {
                let chunk = match reader.next_chunk() {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                let _ = lines.feed(&chunk, |line| {
                    let start = batch.text.len();
                    batch.text.extend_from_slice(line);
                    batch.rows.push((row_hash(line), start, batch.text.len()));
                    Ok::<(), ()>(())
                });
                if batch.text.len() >= BATCH {
                    let full = std::mem::replace(
                        &mut batch,
                        Batch { text: Vec::with_capacity(BATCH + 4096), rows: Vec::new() },
                    );
                    if tx.blocking_send(Ok(full)).is_err() {
                        return; // the comparison stopped
                    }
                }
            }
            let _ = tx.blocking_send(Ok(batch));
        });
        Self { rx, batch: Batch { text: Vec::new(), rows: Vec::new() }, next: 0, seq: 0, done: false }
    }

    /// The next base row: (its position, hash, text); `None` at the end.
    async fn next(&mut self) -> Result<Option<(u64, u64, &[u8])>, Error> {
        while self.next >= self.batch.rows.len() {
            if self.done {
                return Ok(None);
            }
            match self.rx.recv().await {
                Some(batch) => {
                    self.batch = batch?;
                    self.next = 0;
                }
                None => self.done = true,
            }
        }
        let (hash, s, e) = self.batch.rows[self.next];
        self.next += 1;
        self.seq += 1;
        Ok(Some((self.seq, hash, &self.batch.text[s..e])))
    }
}

/// Hashes the live rows and walks them side by side with the base's (see the
/// documentation of `incremental`); without a base stream (no primary key) it only
/// hashes.
pub(super) struct Compare {
    base: Option<BaseRows>,
    /// The start of a live row split across chunks.
    carry: Vec<u8>,
    live_seq: u64,
    pub(super) base_pending: Pending,
    pub(super) live_pending: Pending,
    pending_bytes: usize,
    /// Set once a delta is out of the question; from then on rows are only hashed.
    pub(super) abandoned: Option<String>,
    /// The live table's figures, as `RowHasher` counts them (each row hashed once,
    /// for the checksum and the comparison).
    rows: u64,
    sum: u64,
    raw_bytes: u64,
    /// Rows read from the database are shown; rows fed from a spool were shown there.
    progress: Option<Progress>,
}

impl Compare {
    /// A comparison against `base` (none: the rows are only hashed, for `abandoned`).
    pub(super) fn new(base: Option<BaseRows>, abandoned: Option<String>, progress: Progress) -> Self {
        Self {
            base,
            carry: Vec::new(),
            live_seq: 0,
            base_pending: HashMap::default(),
            live_pending: HashMap::default(),
            pending_bytes: 0,
            abandoned,
            rows: 0,
            sum: 0,
            raw_bytes: 0,
            progress: Some(progress),
        }
    }

    /// Stops showing rows (they were shown as they were spooled); what to give back.
    pub(super) fn hide_progress(&mut self) -> Option<Progress> {
        self.progress.take()
    }

    pub(super) fn show_progress(&mut self, progress: Option<Progress>) {
        self.progress = progress;
    }

    fn give_up(&mut self, why: &str) {
        self.abandoned = Some(why.to_owned());
        self.base = None; // stops the decompressing thread
        self.base_pending = Pending::default();
        self.live_pending = Pending::default();
    }

    fn over_budget(&self) -> bool {
        self.pending_bytes > MAX_PENDING_BYTES || self.base_pending.len() + self.live_pending.len() > MAX_PENDING_ROWS
    }

    /// The live table's figures; fails on a partial last row, as `RowHasher` does.
    pub(super) fn stats(&self) -> Result<TableStats, String> {
        if !self.carry.is_empty() {
            return Err(format!("the data does not end with a newline (a partial row after row {})", self.rows));
        }
        Ok(TableStats { rows: self.rows, checksum: format!("{:016x}", self.sum), raw_bytes: self.raw_bytes })
    }

    /// Counts and hashes one live row, then walks it against the base stream.
    async fn row(&mut self, line: &[u8]) -> Result<(), Error> {
        let hash = row_hash(line);
        self.rows += 1;
        self.sum = self.sum.wrapping_add(hash);
        if self.abandoned.is_none() {
            self.step(line, hash).await?;
        }
        Ok(())
    }

    /// One live row against the base stream.
    async fn step(&mut self, line: &[u8], hash: u64) -> Result<(), Error> {
        self.live_seq += 1;
        if let Some((_, text)) = self.base_pending.remove(&hash) {
            self.pending_bytes -= text.len();
            return Ok(());
        }
        let Some(base) = self.base.as_mut() else { return Ok(()) };
        match base.next().await? {
            Some((_, h, _)) if h == hash => return Ok(()),
            Some((seq, h, text)) => {
                if let Some((_, t)) = self.live_pending.remove(&h) {
                    self.pending_bytes -= t.len();
                } else {
                    self.pending_bytes += text.len();
                    self.base_pending.insert(h, (seq, text.to_vec()));
                }
            }
            None => {}
        }
        self.pending_bytes += line.len();
        self.live_pending.insert(hash, (self.live_seq, line.to_vec()));
        if self.over_budget() {
            self.give_up("too many rows changed or moved");
        }
        Ok(())
    }

    /// After the live rows: the base rows not read yet.
    pub(super) async fn drain_base(&mut self) -> Result<(), Error> {
        if !self.carry.is_empty() && self.abandoned.is_none() {
            self.give_up("the rows did not end with a newline");
        }
        while self.abandoned.is_none() {
            let Some(base) = self.base.as_mut() else { break };
            let Some((seq, h, text)) = base.next().await? else { break };
            if let Some((_, t)) = self.live_pending.remove(&h) {
                self.pending_bytes -= t.len();
            } else {
                self.pending_bytes += text.len();
                self.base_pending.insert(h, (seq, text.to_vec()));
                if self.over_budget() {
                    self.give_up("too many rows changed or moved");
                }
            }
        }
        Ok(())
    }
}

impl ChunkSink for Compare {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let before = self.rows;
        self.raw_bytes += bytes.len() as u64;
        let mut rest = bytes;
        if !self.carry.is_empty() {
            let Some(i) = memchr::memchr(b'\n', rest) else {
                self.carry.extend_from_slice(rest);
                return Ok(());
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&rest[..i]);
            self.row(&line).await?;
            line.clear();
            self.carry = line;
            rest = &rest[i + 1..];
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.row(&rest[..i]).await?;
            rest = &rest[i + 1..];
        }
        self.carry.extend_from_slice(rest);
        if let Some(p) = &self.progress {
            p.inc(self.rows - before);
        }
        Ok(())
    }
}
