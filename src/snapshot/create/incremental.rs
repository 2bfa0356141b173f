//! The tables of an incremental snapshot (`--base`, or `--new-version` on the previous
//! version). Every table is still read from the database in full (in the one read
//! transaction of the create, on the `-j` connections), but only changed tables are
//! compressed and written:
//!
//! - A table the base has with the same columns and primary key is compared with the
//!   base's table while it streams (`compare`): another thread decompresses the base's
//!   table (rebuilt from its own chain) and the two streams are walked side by side,
//!   row by row. Equal rows pass; a row of either side that does not match the other
//!   side's current row waits in a pending set until its twin turns up (rows only
//!   moved) or the end comes (rows changed, added or removed). So memory follows the
//!   number of rows changed or moved, not the size of the table.
//! - At the end: same row count and checksum as the base's: stored as `base`. Else,
//!   with a primary key, the live rows left pending are the upserts and the keys of
//!   the base rows left pending that no upsert replaces are the deletes. The delta is
//!   checked before use (the base minus the rows it replaces or deletes, plus the
//!   upserts, must give the live table's row count and checksum; keys with a NULL in
//!   them, which SQLite allows twice, make it a full table instead) and kept when its
//!   raw bytes are fewer than the table's and its chain stays within
//!   `chain::MAX_DELTA_KEYS` keys.
//! - Otherwise the table is read once more (the transaction sees the same rows) and
//!   stored in full; so is a table without a primary key that changed, and a table the
//!   base does not have is stored in full on its first read.
//!
//! Memory, per table being read (one per connection): the pending rows, at most
//! [`MAX_PENDING_BYTES`] of row text and [`MAX_PENDING_ROWS`] rows (beyond either, the
//! comparison stops and the table is stored in full), plus what rebuilding the base's
//! table holds (see `chain`) and a few MiB of rows in flight. Upserts and deletes are
//! spooled compressed to unnamed temp files in the snapshot directory.
//!
//! [`MAX_PENDING_BYTES`]: super::compare::MAX_PENDING_BYTES
//! [`MAX_PENDING_ROWS`]: super::compare::MAX_PENDING_ROWS

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek};
use std::sync::Arc;

use tokio::sync::Notify;

use super::compare::{BaseRows, Compare, Pending};
use super::read::{Pages, TableRead, biggest_first, close_helpers, join_snapshot};
use super::sink::TableSink;
use super::spool::{BUFFER, RawSpool, Spool};
use crate::db::{ChunkSink, Connector, Session};
use crate::error::Error;
use crate::output::{Printer, Progress};
use crate::snapshot::chain::{Chain, MAX_DELTA_KEYS};
use crate::snapshot::format::{Header, Storage, TableEntry, TableStats};
use crate::snapshot::rowkey::KeyColumns;

/// Tables of this estimated size and up are read in page ranges on every connection
/// (PostgreSQL, a table with a key and a counterpart in the base)...
const SPLIT_MIN: u64 = 1 << 20;
/// ...up to this size: all ranges but the first are spooled raw to disk meanwhile.
const SPLIT_MAX: u64 = 8 << 30;

const WHOLE: Pages = (0, None);

/// What the connections of one incremental create share.
struct Shared {
    /// (table, page range) still to read.
    queue: RefCell<VecDeque<(usize, usize)>>,
    /// Page ranges other than the first, once taken by a connection.
    parts: RefCell<HashMap<(usize, usize), Part>>,
    /// Signalled whenever a part is done (or failed).
    done: Notify,
    /// Each table's page ranges (one `WHOLE` range for a table read at once).
    ranges: Vec<Vec<Pages>>,
    /// Each table's progress, shared by its ranges.
    progress: RefCell<HashMap<usize, Progress>>,
}

impl Shared {
    fn progress(&self, inc: &Incremental<'_>, i: usize) -> Progress {
        self.progress.borrow_mut().entry(i).or_insert_with(|| inc.reads[i].progress(inc.printer)).clone()
    }
}

/// A page range read by another connection than its table's first.
enum Part {
    Running,
    Done(std::fs::File),
    Failed,
}

/// How a table ended up stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Full,
    Base,
    Delta { upserts: u64, deletes: u64 },
}

/// What reading one table found.
pub(super) enum Outcome {
    /// Stored in full: its members, spooled.
    Full(Spool, TableStats),
    /// Unchanged since the base.
    Base(TableStats),
    /// Changed: its upserts and deletes, spooled; `live` are the table's figures.
    Delta { upserts: (Spool, TableStats), deletes: (Spool, TableStats), live: TableStats },
    /// Changed, and a delta will not do (`why`): to be read again and stored in full.
    Again { live: TableStats, why: String },
}

/// The index of `entry`'s table in `base` when the two can be compared: same name,
/// columns (names, types, nullability, order) and primary key.
fn counterpart(base: &Header, entry: &TableEntry) -> Option<usize> {
    base.tables.iter().position(|b| {
        b.schema == entry.schema
            && b.name == entry.name
            && b.columns == entry.columns
            && b.primary_key == entry.primary_key
    })
}

/// What every table of one incremental create shares.
pub(super) struct Incremental<'a> {
    pub printer: &'a Printer,
    pub connector: &'a Connector<'a>,
    pub base: &'a Arc<Chain>,
    pub level: u32,
    pub dir: &'a std::path::Path,
    pub reads: &'a [TableRead<'a>],
    pub entries: &'a [TableEntry],
}

impl Incremental<'_> {
    /// Reads every table (on the leader and, with an exported `snapshot`, on `jobs - 1`
    /// more connections) and says how to store each. A big keyed table with a
    /// counterpart in the base is read in page ranges on all connections at once:
    /// the first range streams into the comparison, the others into raw spools that
    /// follow it (or straight into it when no other connection has started them).
    pub async fn read_all(
        &self,
        leader: &mut Session,
        snapshot: Option<&str>,
        jobs: usize,
    ) -> Result<Vec<Outcome>, Error> {
        let n = self.reads.len();
        let mut ranges: Vec<Vec<Pages>> = vec![vec![WHOLE]; n];
        if snapshot.is_some() && jobs > 1 {
            for (i, read) in self.reads.iter().enumerate() {
                let size = read.table.estimated_bytes;
                let keyed = counterpart(self.base.header(), &self.entries[i]).is_some()
                    && KeyColumns::of(&self.entries[i]).is_some()
                    && read.whole();
                if keyed
                    && (SPLIT_MIN..=SPLIT_MAX).contains(&size)
                    && let Some(pages) = leader.page_count(read.table).await?
                    && pages >= jobs as u64
                {
                    let cut = |p: u64| pages * p / jobs as u64;
                    ranges[i] = (0..jobs as u64).map(|p| (cut(p), (p + 1 < jobs as u64).then(|| cut(p + 1)))).collect();
                }
            }
        }
        let mut helpers = join_snapshot(self.connector, snapshot, jobs).await?;
        let order = biggest_first(self.reads);
        let queue: RefCell<VecDeque<(usize, usize)>> =
            RefCell::new(order.iter().flat_map(|&i| (0..ranges[i].len()).map(move |p| (i, p))).collect());
        let shared = Shared {
            queue,
            parts: RefCell::new(HashMap::new()),
            done: Notify::new(),
            ranges,
            progress: RefCell::default(),
        };
        let outcomes: RefCell<Vec<Option<Outcome>>> = RefCell::new((0..n).map(|_| None).collect());
        let drain = async |session: &mut Session| -> Result<(), Error> {
            loop {
                let Some((i, p)) = shared.queue.borrow_mut().pop_front() else { return Ok(()) };
                if p == 0 {
                    let outcome = self.read(session, i, &shared).await?;
                    outcomes.borrow_mut()[i] = Some(outcome);
                } else {
                    shared.parts.borrow_mut().insert((i, p), Part::Running);
                    let raw = self.spool_part(session, i, shared.ranges[i][p], shared.progress(self, i)).await;
                    let state = match raw {
                        Ok(raw) => Part::Done(raw),
                        Err(e) => {
                            shared.parts.borrow_mut().insert((i, p), Part::Failed);
                            shared.done.notify_waiters();
                            return Err(e);
                        }
                    };
                    shared.parts.borrow_mut().insert((i, p), state);
                    shared.done.notify_waiters();
                }
            }
        };
        let mut all: Vec<&mut Session> = vec![leader];
        all.extend(helpers.iter_mut());
        let result = futures_util::future::try_join_all(all.into_iter().map(drain)).await;
        close_helpers(helpers, result.is_ok()).await?;
        result?;
        outcomes
            .into_inner()
            .into_iter()
            .map(|o| o.ok_or_else(|| Error::Internal("a table was not read".into())))
            .collect()
    }

    /// Range `pages` of table `i`, as raw COPY text in an unnamed temp file.
    async fn spool_part(
        &self,
        session: &mut Session,
        i: usize,
        pages: Pages,
        progress: Progress,
    ) -> Result<std::fs::File, Error> {
        let mut sink = RawSpool::new(self.dir, progress)?;
        self.reads[i].stream(session, Some(pages), &mut sink).await?;
        sink.finish()
    }

    /// Reads table `i` (its first page range, then the others) and says how to store it.
    async fn read(&self, session: &mut Session, i: usize, shared: &Shared) -> Result<Outcome, Error> {
        let read = &self.reads[i];
        let entry = &self.entries[i];
        let progress = shared.progress(self, i);
        let Some(j) = counterpart(self.base.header(), entry) else {
            let mut sink = TableSink::spooled(Spool::new(self.dir)?, self.level, read.table.name.to_string());
            sink.show(progress.clone());
            read.stream(session, None, &mut sink).await?;
            let (spool, stats) = sink.finish_spool().await?;
            progress.finish();
            return Ok(Outcome::Full(spool, stats));
        };
        let base_entry = &self.base.header().tables[j];
        let key = KeyColumns::of(entry);
        let mut sink = Compare::new(
            key.as_ref().map(|_| BaseRows::spawn(Arc::clone(self.base), j)),
            key.is_none().then(|| "it has no primary key".to_owned()),
            progress.clone(),
        );
        let ranges = &shared.ranges[i];
        if ranges.len() == 1 {
            read.stream(session, None, &mut sink).await?;
        } else {
            read.stream(session, Some(ranges[0]), &mut sink).await?;
            for p in 1..ranges.len() {
                self.follow(session, i, p, shared, &mut sink).await?;
            }
        }
        progress.finish();
        let live =
            sink.stats().map_err(|reason| Error::Data { step: format!("reading {}", read.table.name), reason })?;
        if live.rows == base_entry.rows && live.checksum == base_entry.checksum {
            return Ok(Outcome::Base(live));
        }
        sink.drain_base().await?;
        if let Some(why) = sink.abandoned.take() {
            return Ok(Outcome::Again { live, why });
        }
        let key = key.ok_or_else(|| Error::Internal("a keyed comparison without a key".into()))?;
        match self.delta(&sink, &key, j, &live, &read.table.name.to_string()).await? {
            Ok(delta) => Ok(Outcome::Delta { upserts: delta.0, deletes: delta.1, live }),
            Err(why) => Ok(Outcome::Again { live, why }),
        }
    }

    /// Page range `p` of table `i` into the comparison: read here when no connection
    /// has started it, else from its spool once done.
    async fn follow(
        &self,
        session: &mut Session,
        i: usize,
        p: usize,
        shared: &Shared,
        sink: &mut Compare,
    ) -> Result<(), Error> {
        let read = &self.reads[i];
        loop {
            // Registered before looking, so a part finishing in between still wakes us.
            let finished = shared.done.notified();
            let queued = {
                let mut queue = shared.queue.borrow_mut();
                let at = queue.iter().position(|&item| item == (i, p));
                at.and_then(|at| queue.remove(at)).is_some()
            };
            if queued {
                return read.stream(session, Some(shared.ranges[i][p]), sink).await;
            }
            let state = shared.parts.borrow_mut().remove(&(i, p));
            match state {
                Some(Part::Done(file)) => return feed(file, self.dir, sink).await,
                Some(Part::Failed) => {
                    return Err(Error::Internal(format!("reading a part of {} failed", read.table.name)));
                }
                Some(running @ Part::Running) => {
                    shared.parts.borrow_mut().insert((i, p), running);
                    finished.await;
                }
                None => return Err(Error::Internal(format!("a part of {} went missing", read.table.name))),
            }
        }
    }

    /// The delta the comparison found, checked and spooled; or why it will not do.
    async fn delta(
        &self,
        cmp: &Compare,
        key: &KeyColumns,
        j: usize,
        live: &TableStats,
        name: &str,
    ) -> Result<Result<((Spool, TableStats), (Spool, TableStats)), String>, Error> {
        let base_entry = &self.base.header().tables[j];
        // Keys of the rows upserted; a NULL in a key (SQLite allows it, twice) makes
        // "the row with this key" ambiguous.
        let mut scratch = Vec::new();
        let mut upsert_keys = std::collections::HashSet::with_capacity(cmp.live_pending.len());
        let null = |k: &[u8]| k.split(|&b| b == b'\t').any(|f| f == b"\\N");
        for (_, line) in cmp.live_pending.values() {
            let Some(k) = key.key(line, &mut scratch) else { return Ok(Err("a row lacks key fields".into())) };
            if null(k) {
                return Ok(Err("a key holds a NULL".into()));
            }
            if !upsert_keys.insert(k.to_vec()) {
                return Ok(Err("a key appears twice".into()));
            }
        }
        let mut deletes: Vec<(u64, Vec<u8>)> = Vec::new();
        for (seq, line) in cmp.base_pending.values() {
            let Some(k) = key.key(line, &mut scratch) else { return Ok(Err("a base row lacks key fields".into())) };
            if null(k) {
                return Ok(Err("a key holds a NULL".into()));
            }
            if !upsert_keys.contains(k) {
                deletes.push((*seq, k.to_vec()));
            }
        }
        let replaced = cmp.base_pending.len() as u64;
        let budget = MAX_DELTA_KEYS.saturating_sub(chain_keys(self.base, j));
        if (cmp.live_pending.len() + deletes.len()) as u64 > budget {
            return Ok(Err(format!("its chain would hold more than {MAX_DELTA_KEYS} changed keys")));
        }
        // What the delta stands for (the base minus every row whose key it upserts or
        // deletes, plus the upserts) must be the live table.
        let rows = base_entry.rows.checked_sub(replaced).map(|r| r + cmp.live_pending.len() as u64);
        let sum = |m: &Pending| m.keys().fold(0u64, |s, h| s.wrapping_add(*h));
        let expected =
            parse_sum(&base_entry.checksum).wrapping_sub(sum(&cmp.base_pending)).wrapping_add(sum(&cmp.live_pending));
        if rows != Some(live.rows) || format!("{expected:016x}") != live.checksum {
            return Ok(Err("the rows it would rebuild differ from the table's".into()));
        }
        // In the order they were read, so the same changes give the same file.
        let mut upserts: Vec<&(u64, Vec<u8>)> = cmp.live_pending.values().collect();
        upserts.sort_unstable_by_key(|(seq, _)| *seq);
        deletes.sort_unstable_by_key(|(seq, _)| *seq);
        let raw: usize = upserts.iter().map(|(_, l)| l.len() + 1).sum::<usize>()
            + deletes.iter().map(|(_, k)| k.len() + 1).sum::<usize>();
        if raw as u64 >= live.raw_bytes {
            return Ok(Err("the changes are no smaller than the table".into()));
        }
        let ups = self.spool(upserts.iter().map(|(_, l)| l.as_slice()), format!("{name} (changes)")).await?;
        let dels = self.spool(deletes.iter().map(|(_, k)| k.as_slice()), format!("{name} (deleted keys)")).await?;
        Ok(Ok((ups, dels)))
    }

    /// `lines` compressed into a spool of their own.
    async fn spool<'l>(
        &self,
        lines: impl Iterator<Item = &'l [u8]>,
        label: String,
    ) -> Result<(Spool, TableStats), Error> {
        let mut sink = TableSink::spooled(Spool::new(self.dir)?, self.level, label);
        let mut batch = Vec::new();
        for line in lines {
            batch.extend_from_slice(line);
            batch.push(b'\n');
            if batch.len() >= BUFFER {
                sink.push(&batch).await?;
                batch.clear();
            }
        }
        sink.push(&batch).await?;
        sink.finish_spool().await
    }
}

/// Upsert and delete keys the deltas of table `j`'s chain hold (what a rebuild of it
/// keeps in memory).
fn chain_keys(base: &Chain, j: usize) -> u64 {
    let (mut level, mut i, mut keys) = (0, j, 0u64);
    loop {
        let entry = &base.links()[level].header.tables[i];
        if let Some(d) = entry.delta.as_ref().filter(|_| entry.storage == Storage::Delta) {
            keys = keys.saturating_add(d.upserts.rows).saturating_add(d.deletes.rows);
        }
        match (entry.storage, base.base_index(level, i)) {
            (Storage::Full, _) | (_, Err(_)) => return keys,
            (_, Ok(next)) => {
                i = next;
                level += 1;
            }
        }
    }
}

fn parse_sum(checksum: &str) -> u64 {
    u64::from_str_radix(checksum, 16).unwrap_or(0)
}

/// A raw spool's rows into the comparison (not shown again).
async fn feed(mut file: std::fs::File, dir: &std::path::Path, sink: &mut Compare) -> Result<(), Error> {
    let err = |e| Error::io("reading a spool file in", dir, e);
    file.rewind().map_err(err)?;
    let shown = sink.hide_progress();
    let mut buf = vec![0u8; BUFFER];
    let result = async {
        loop {
            let n = tokio::task::block_in_place(|| file.read(&mut buf)).map_err(err)?;
            if n == 0 {
                return Ok(());
            }
            sink.push(&buf[..n]).await?;
        }
    }
    .await;
    sink.show_progress(shown);
    result
}
