//! The tables of an incremental `snapshot create` (`--base`, or `--new-version` on the
//! previous version). Every table is still read from the database in full (in the one
//! read transaction of the create), but a table is compressed and written only when it
//! changed:
//!
//! 1. A table the base has with the same columns and primary key is first read and
//!    hashed only. Same row count and checksum as the base's: stored as `base`
//!    (nothing written).
//! 2. Changed, with a primary key: the base's table is read (rebuilt from its chain)
//!    into a map from key hash to row hash, the table is read again and every row that
//!    is new or differs goes to the upserts; the base's keys no row matched are read
//!    again from the base and go to the deletes. The result is checked before use:
//!    the base's rows minus the ones replaced or deleted plus the upserts must give the
//!    live table's row count and checksum (a duplicate key, as SQLite allows NULL ones,
//!    or a key-hash collision makes it a full table instead). It is kept as a `delta`
//!    when its raw bytes are fewer than the table's and the table's chain stays within
//!    `chain::MAX_DELTA_KEYS`; else
//! 3. the table is read once more and stored in full, as is every table without a
//!    primary key or without a counterpart in the base.
//!
//! Memory: the map holds 16 bytes (about 40 with the hash table's slack) per row of the
//! base's table plus each added row, at most [`MAX_DELTA_ROWS`] (a table beyond that is
//! stored in full when it changes): at most about 320 MiB, plus what rebuilding the
//! base's table holds (see `chain`). Upserts and deletes are spooled compressed to
//! unnamed temp files in the snapshot directory, then copied into the snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::create::{Spool, TableSink, table_progress};
use crate::Context;
use crate::db::schema::Table;
use crate::db::{ChunkSink, Session};
use crate::error::Error;
use crate::output::Progress;
use crate::snapshot::chain::{Chain, MAX_DELTA_KEYS};
use crate::snapshot::format::{Header, RowHasher, Storage, TableEntry, TableStats, row_hash};
use crate::snapshot::rowkey::{KeyColumns, LineSplitter, PrehashedState};

/// Most rows (the base's, plus rows added since) the map of a changed table may hold.
pub const MAX_DELTA_ROWS: u64 = 8 << 20;
/// Rows read while the base's map is still being built wait in memory up to this.
const WAITING: usize = 64 << 20;
/// A map value: the base row's hash, or this once a live row took the key.
const SEEN: u64 = 0;

type Map = HashMap<u64, u64, PrehashedState>;

/// How a table ended up stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Full,
    Base,
    Delta { upserts: u64, deletes: u64 },
}

/// What reading one table found.
pub enum Outcome {
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
pub fn counterpart(base: &Header, entry: &TableEntry) -> Option<usize> {
    base.tables.iter().position(|b| {
        b.schema == entry.schema
            && b.name == entry.name
            && b.columns == entry.columns
            && b.primary_key == entry.primary_key
    })
}

/// What every table of one incremental create shares.
pub struct Incremental<'a> {
    pub ctx: &'a Context,
    pub base: &'a Arc<Chain>,
    pub level: u32,
    pub dir: &'a std::path::Path,
    pub tables: &'a [&'a Table],
    pub entries: &'a [TableEntry],
}

impl Incremental<'_> {
    /// Reads table `i` on `session` and says how to store it.
    pub async fn read(&self, session: &mut Session, i: usize) -> Result<Outcome, Error> {
        let table = self.tables[i];
        let entry = &self.entries[i];
        let columns: Vec<String> = entry.columns.iter().map(|c| c.name.clone()).collect();
        let progress = table_progress(self.ctx, table);
        let Some(j) = counterpart(self.base.header(), entry) else {
            let mut sink = TableSink::spooled(Spool::new(self.dir)?, self.level, table.name.to_string());
            sink.show(progress.clone());
            session.stream_table(table, &columns, &mut sink).await?;
            let (spool, stats) = sink.finish_spool().await?;
            progress.finish();
            return Ok(Outcome::Full(spool, stats));
        };
        let base_entry = &self.base.header().tables[j];
        let Some(key) = KeyColumns::of(entry) else {
            let mut hash = HashSink { hasher: RowHasher::new(), progress: progress.clone(), reported: 0 };
            session.stream_table(table, &columns, &mut hash).await?;
            progress.finish();
            let live = finish(hash.hasher, table)?;
            if same(&live, base_entry.rows, &base_entry.checksum) {
                return Ok(Outcome::Base(live));
            }
            return Ok(Outcome::Again { live, why: "it has no primary key".into() });
        };
        // The base's map is built on another thread while the rows stream in.
        let map = if base_entry.rows > MAX_DELTA_ROWS {
            MapState::Failed(format!("its base holds more than {MAX_DELTA_ROWS} rows"))
        } else {
            let (base, key) = (Arc::clone(self.base), key.clone());
            MapState::Building(tokio::task::spawn_blocking(move || base_map(&base, j, &key)))
        };
        let mut sink = DeltaSink {
            map,
            waiting: Vec::new(),
            key: &key,
            lines: LineSplitter::default(),
            scratch: Vec::new(),
            batch: Vec::new(),
            live: RowHasher::new(),
            changed: 0,
            old_sum: 0,
            abandoned: None,
            out: TableSink::spooled(Spool::new(self.dir)?, self.level, format!("{} (changes)", table.name)),
            progress: progress.clone(),
            reported: 0,
        };
        session.stream_table(table, &columns, &mut sink).await?;
        sink.settle().await?;
        sink.flush().await?;
        progress.finish();
        let live = finish(std::mem::take(&mut sink.live), table)?;
        if same(&live, base_entry.rows, &base_entry.checksum) {
            return Ok(Outcome::Base(live));
        }
        if let Some(why) = sink.abandoned.take() {
            return Ok(Outcome::Again { live, why });
        }
        if sink.lines.has_partial() {
            return Ok(Outcome::Again { live, why: "the rows did not end with a newline".into() });
        }
        let MapState::Ready(mut map) = std::mem::replace(&mut sink.map, MapState::Failed(String::new())) else {
            return Err(Error::Internal("the base's map went missing".into()));
        };
        let (changed, old_sum) = (sink.changed, sink.old_sum);
        let (upserts, upsert_stats) = sink.out.finish_spool().await?;
        match self.finish_delta(j, &key, &mut map, &live, changed, old_sum, &upsert_stats).await? {
            Ok((deletes, delete_stats)) => {
                Ok(Outcome::Delta { upserts: (upserts, upsert_stats), deletes: (deletes, delete_stats), live })
            }
            Err(why) => Ok(Outcome::Again { live, why }),
        }
    }

    /// Checks a delta and writes its deletes; or why it is not worth it.
    #[allow(clippy::too_many_arguments)]
    async fn finish_delta(
        &self,
        j: usize,
        key: &KeyColumns,
        map: &mut Map,
        live: &TableStats,
        changed: u64,
        old_sum: u64,
        upsert_stats: &TableStats,
    ) -> Result<Result<(Spool, TableStats), String>, Error> {
        let base_entry = &self.base.header().tables[j];
        if upsert_stats.raw_bytes >= live.raw_bytes {
            return Ok(Err("nearly every row changed".into()));
        }
        let (mut deleted, mut deleted_sum) = (0u64, 0u64);
        for &v in map.values() {
            if v != SEEN {
                deleted += 1;
                deleted_sum = deleted_sum.wrapping_add(v);
            }
        }
        let budget = MAX_DELTA_KEYS.saturating_sub(chain_keys(self.base, j));
        if upsert_stats.rows.saturating_add(deleted) > budget {
            return Ok(Err(format!("its chain would hold more than {MAX_DELTA_KEYS} changed keys")));
        }
        // The rebuild this delta stands for must give exactly the live table.
        let rows = base_entry.rows.checked_sub(changed + deleted).map(|r| r + upsert_stats.rows);
        let sum = parse_sum(&base_entry.checksum)
            .wrapping_sub(old_sum)
            .wrapping_sub(deleted_sum)
            .wrapping_add(parse_sum(&upsert_stats.checksum));
        if rows != Some(live.rows) || format!("{sum:016x}") != live.checksum {
            return Ok(Err("its keys are not unique (or two keys hash alike)".into()));
        }
        let mut out =
            TableSink::spooled(Spool::new(self.dir)?, self.level, format!("{} (deleted keys)", base_entry.name));
        if deleted > 0 {
            self.deleted_keys(j, key, map, &mut out).await?;
        }
        let (deletes, delete_stats) = out.finish_spool().await?;
        if delete_stats.rows != deleted {
            return Ok(Err("its base's keys read differently twice".into()));
        }
        if upsert_stats.raw_bytes + delete_stats.raw_bytes >= live.raw_bytes {
            return Ok(Err("the changes are no smaller than the table".into()));
        }
        Ok(Ok((deletes, delete_stats)))
    }

    /// Writes the key of every base row no live row took (a deleted row) to `out`.
    async fn deleted_keys(
        &self,
        j: usize,
        key: &KeyColumns,
        map: &mut Map,
        out: &mut TableSink<'_>,
    ) -> Result<(), Error> {
        let mut reader = self.base.open_table(j)?;
        let mut lines = LineSplitter::default();
        let mut scratch = Vec::new();
        let mut batch = Vec::new();
        while let Some(chunk) = tokio::task::block_in_place(|| reader.next_chunk())? {
            lines
                .feed(&chunk, |line| {
                    let k = key.key(line, &mut scratch).ok_or(())?;
                    if let Some(v) = map.get_mut(&xxhash_rust::xxh3::xxh3_64(k))
                        && *v != SEEN
                    {
                        *v = SEEN;
                        batch.extend_from_slice(k);
                        batch.push(b'\n');
                    }
                    Ok(())
                })
                .map_err(|()| Error::Internal("a base row changed between two reads".into()))?;
            if batch.len() >= 1 << 20 {
                out.push(&batch).await?;
                batch.clear();
            }
        }
        out.push(&batch).await
    }
}

fn same(live: &TableStats, rows: u64, checksum: &str) -> bool {
    live.rows == rows && live.checksum == checksum
}

fn finish(hasher: RowHasher, table: &Table) -> Result<TableStats, Error> {
    hasher.finish().map_err(|reason| Error::Data { step: format!("reading {}", table.name), reason })
}

/// Key hash → row hash of every row of table `j` of the base (blocking: it decompresses
/// the base); `Ok(Err(why))` when a delta cannot be made against it.
fn base_map(base: &Chain, j: usize, key: &KeyColumns) -> Result<Result<Map, String>, Error> {
    let rows = base.header().tables[j].rows;
    let capacity = usize::try_from(rows.min(MAX_DELTA_ROWS)).unwrap_or(0);
    let mut map: Map = HashMap::with_capacity_and_hasher(capacity, PrehashedState::default());
    let mut reader = base.open_table(j)?;
    let mut lines = LineSplitter::default();
    let mut scratch = Vec::new();
    while let Some(chunk) = reader.next_chunk()? {
        let fed = lines.feed(&chunk, |line| {
            let Some(k) = key.key(line, &mut scratch) else { return Err("a base row lacks key fields") };
            let rh = row_hash(line);
            if rh == SEEN {
                return Err("a base row hashes to zero");
            }
            if map.insert(xxhash_rust::xxh3::xxh3_64(k), rh).is_some() {
                return Err("its base holds a key twice (or two keys hash alike)");
            }
            Ok(())
        });
        if let Err(why) = fed {
            return Ok(Err(why.to_owned()));
        }
    }
    Ok(Ok(map))
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

/// Hashes a table's rows and nothing else.
struct HashSink {
    hasher: RowHasher,
    progress: Progress,
    reported: u64,
}

impl ChunkSink for HashSink {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        let rows = self.hasher.rows();
        self.progress.inc(rows - self.reported);
        self.reported = rows;
        Ok(())
    }
}

/// The base's map of a table: being built, ready, or not to be had.
enum MapState {
    Building(JoinHandle<Result<Result<Map, String>, Error>>),
    Ready(Map),
    Failed(String),
}

/// Compares live rows with the base's map as they stream; rows new or changed go to
/// the upserts. Rows that arrive before the map is built wait (up to [`WAITING`]
/// bytes, then the stream waits for the map).
struct DeltaSink<'a> {
    map: MapState,
    waiting: Vec<u8>,
    key: &'a KeyColumns,
    lines: LineSplitter,
    scratch: Vec<u8>,
    /// Upsert lines waiting to be handed to `out`.
    batch: Vec<u8>,
    live: RowHasher,
    changed: u64,
    /// Sum of the row hashes of the base rows the upserts replace.
    old_sum: u64,
    /// Set once the delta is not worth finishing; the rest of the stream is only hashed.
    abandoned: Option<String>,
    out: TableSink<'static>,
    progress: Progress,
    reported: u64,
}

impl DeltaSink<'_> {
    async fn flush(&mut self) -> Result<(), Error> {
        if !self.batch.is_empty() {
            self.out.push(&self.batch).await?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Waits for the map, then compares the rows that waited for it.
    async fn settle(&mut self) -> Result<(), Error> {
        if let MapState::Building(handle) = &mut self.map {
            let built = handle.await.map_err(|e| Error::Internal(format!("building the base's map failed: {e}")))??;
            self.map = match built {
                Ok(map) => MapState::Ready(map),
                Err(why) => MapState::Failed(why),
            };
        }
        if let MapState::Failed(why) = &self.map
            && self.abandoned.is_none()
        {
            self.abandoned = Some(why.clone());
        }
        let waiting = std::mem::take(&mut self.waiting);
        self.compare(&waiting);
        Ok(())
    }

    /// Compares complete rows of `bytes` with the (ready) map.
    fn compare(&mut self, bytes: &[u8]) {
        if self.abandoned.is_some() || bytes.is_empty() {
            return;
        }
        let MapState::Ready(map) = &mut self.map else { return };
        let Self { key, lines, scratch, batch, changed, old_sum, .. } = self;
        let fed = lines.feed(bytes, |line| {
            let k = key.key(line, scratch).ok_or("a row lacks key fields")?;
            let kh = xxhash_rust::xxh3::xxh3_64(k);
            let rh = row_hash(line);
            match map.get_mut(&kh) {
                Some(v) if *v == SEEN => return Err("a key appears twice (or two keys hash alike)"),
                Some(v) if *v == rh => *v = SEEN,
                Some(v) => {
                    *old_sum = old_sum.wrapping_add(*v);
                    *changed += 1;
                    *v = SEEN;
                    batch.extend_from_slice(line);
                    batch.push(b'\n');
                }
                None => {
                    if map.len() as u64 >= MAX_DELTA_ROWS {
                        return Err("too many rows were added");
                    }
                    map.insert(kh, SEEN);
                    batch.extend_from_slice(line);
                    batch.push(b'\n');
                }
            }
            Ok(())
        });
        if let Err(why) = fed {
            self.abandoned = Some(why.to_owned());
            self.batch.clear();
        }
    }
}

impl ChunkSink for DeltaSink<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.live.update(bytes);
        let rows = self.live.rows();
        self.progress.inc(rows - self.reported);
        self.reported = rows;
        if self.abandoned.is_some() {
            return Ok(());
        }
        if let MapState::Building(handle) = &self.map
            && !handle.is_finished()
            && self.waiting.len() + bytes.len() <= WAITING
        {
            self.waiting.extend_from_slice(bytes);
            return Ok(());
        }
        self.settle().await?;
        self.compare(bytes);
        if self.batch.len() >= 1 << 20 {
            self.flush().await?;
        }
        Ok(())
    }
}
