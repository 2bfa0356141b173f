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

use super::create::{Spool, TableSink, table_progress};
use crate::Context;
use crate::db::schema::Table;
use crate::db::{ChunkSink, Session};
use crate::error::Error;
use crate::output::Progress;
use crate::snapshot::chain::{Chain, MAX_DELTA_KEYS};
use crate::snapshot::format::{DeltaPart, Header, RowHasher, Storage, TableEntry, TableStats, row_hash};
use crate::snapshot::rowkey::{KeyColumns, LineSplitter, PrehashedState};
use crate::snapshot::writer::SnapshotWriter;

/// Most rows (the base's, plus rows added since) the map of a changed table may hold.
pub const MAX_DELTA_ROWS: u64 = 8 << 20;
/// A map value: the base row's hash, or this once a live row took the key.
const SEEN: u64 = 0;

/// How a table ended up stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Full,
    Base,
    Delta { upserts: u64, deletes: u64 },
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
}

impl Incremental<'_> {
    /// Writes table `i` (`table`, read as `columns`), whose counterpart in the base is
    /// table `j` of the base.
    pub async fn write_table(
        &self,
        session: &mut Session,
        writer: &mut SnapshotWriter,
        i: usize,
        table: &Table,
        columns: &[String],
        j: usize,
    ) -> Result<Stored, Error> {
        let progress = table_progress(self.ctx, table);
        let mut hash = HashSink { hasher: RowHasher::new(), progress: progress.clone(), reported: 0 };
        session.stream_table(table, columns, &mut hash).await?;
        progress.finish();
        let live =
            hash.hasher.finish().map_err(|reason| Error::Data { step: format!("reading {}", table.name), reason })?;
        let base_entry = &self.base.header().tables[j];
        if live.rows == base_entry.rows && live.checksum == base_entry.checksum {
            writer.begin_table_as(i, Storage::Base)?;
            writer.end_reconstructed_table(live.rows, &live.checksum)?;
            return Ok(Stored::Base);
        }
        let entry = &writer.header().tables[i];
        if let Some(key) = KeyColumns::of(entry) {
            match self.delta(session, table, columns, &key, j, &live).await? {
                Ok(delta) => {
                    let stored = Stored::Delta { upserts: delta.upserts.1.rows, deletes: delta.deletes.1.rows };
                    writer.begin_table_as(i, Storage::Delta)?;
                    for (part, (spool, stats)) in
                        [(DeltaPart::Upserts, delta.upserts), (DeltaPart::Deletes, delta.deletes)]
                    {
                        writer.begin_part(part)?;
                        tokio::task::block_in_place(|| spool.copy_into(writer))?;
                        writer.end_part(stats)?;
                    }
                    writer.end_reconstructed_table(live.rows, &live.checksum)?;
                    return Ok(stored);
                }
                Err(why) => {
                    self.ctx.printer.debug(format!("{}: stored in full ({why})", table.name));
                }
            }
        }
        writer.begin_table_as(i, Storage::Full)?;
        let progress = table_progress(self.ctx, table);
        let mut sink = TableSink::new(writer, self.level, progress.clone());
        session.stream_table(table, columns, &mut sink).await?;
        let stats = sink.finish().await?;
        progress.finish();
        if stats != live {
            return Err(Error::Internal(format!("{} read differently twice in one transaction", table.name)));
        }
        writer.end_table(stats)?;
        Ok(Stored::Full)
    }

    /// The delta of `table` against table `j` of the base, or why it is not worth it.
    async fn delta(
        &self,
        session: &mut Session,
        table: &Table,
        columns: &[String],
        key: &KeyColumns,
        j: usize,
        live: &TableStats,
    ) -> Result<Result<Delta, String>, Error> {
        let base_entry = &self.base.header().tables[j];
        if base_entry.rows > MAX_DELTA_ROWS {
            return Ok(Err(format!("its base holds more than {MAX_DELTA_ROWS} rows")));
        }
        let budget = MAX_DELTA_KEYS.saturating_sub(chain_keys(self.base, j));
        let map = tokio::task::block_in_place(|| self.base_map(j, key))?;
        let mut map = match map {
            Ok(m) => m,
            Err(why) => return Ok(Err(why)),
        };
        let upserts = Spool::new(self.dir)?;
        let mut sink = DeltaSink {
            map: &mut map,
            key,
            lines: LineSplitter::default(),
            scratch: Vec::new(),
            batch: Vec::new(),
            live: RowHasher::new(),
            changed: 0,
            old_sum: 0,
            abandoned: None,
            out: TableSink::spooled(upserts, self.level, format!("{} (changes)", table.name)),
            progress: table_progress(self.ctx, table),
            reported: 0,
        };
        session.stream_table(table, columns, &mut sink).await?;
        sink.flush().await?;
        sink.progress.finish();
        if let Some(why) = sink.abandoned.take() {
            return Ok(Err(why));
        }
        if sink.lines.has_partial() {
            return Ok(Err("the rows did not end with a newline".into()));
        }
        let (changed, old_sum) = (sink.changed, sink.old_sum);
        let seen = std::mem::take(&mut sink.live).finish().map_err(Error::Internal)?;
        let (spool, upsert_stats) = sink.out.finish_spool().await?;
        if seen != *live {
            return Err(Error::Internal(format!("{} read differently twice in one transaction", table.name)));
        }
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
        let deletes = Spool::new(self.dir)?;
        let mut out = TableSink::spooled(deletes, self.level, format!("{} (deleted keys)", table.name));
        if deleted > 0 {
            self.deleted_keys(j, key, &mut map, &mut out).await?;
        }
        let (deletes, delete_stats) = out.finish_spool().await?;
        if delete_stats.rows != deleted {
            return Ok(Err("its base's keys read differently twice".into()));
        }
        if upsert_stats.raw_bytes + delete_stats.raw_bytes >= live.raw_bytes {
            return Ok(Err("the changes are no smaller than the table".into()));
        }
        Ok(Ok(Delta { upserts: (spool, upsert_stats), deletes: (deletes, delete_stats) }))
    }

    /// Key hash → row hash of every row of table `j` of the base.
    fn base_map(&self, j: usize, key: &KeyColumns) -> Result<Result<HashMap<u64, u64, PrehashedState>, String>, Error> {
        let rows = self.base.header().tables[j].rows;
        let capacity = usize::try_from(rows.min(MAX_DELTA_ROWS)).unwrap_or(0);
        let mut map: HashMap<u64, u64, PrehashedState> =
            HashMap::with_capacity_and_hasher(capacity, PrehashedState::default());
        let mut reader = self.base.open_table(j)?;
        let mut lines = LineSplitter::default();
        let mut scratch = Vec::new();
        let mut problem = None;
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
                problem = Some(why);
                break;
            }
        }
        if let Some(why) = problem {
            reader.finish().ok();
            return Ok(Err(why.to_owned()));
        }
        Ok(Ok(map))
    }

    /// Writes the key of every base row no live row took (a deleted row) to `out`.
    async fn deleted_keys(
        &self,
        j: usize,
        key: &KeyColumns,
        map: &mut HashMap<u64, u64, PrehashedState>,
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

/// Upserts and deletes of a delta, each spooled compressed, with their figures.
struct Delta {
    upserts: (Spool, TableStats),
    deletes: (Spool, TableStats),
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

/// Compares live rows with the base's map as they stream; rows new or changed go to
/// the upserts.
struct DeltaSink<'a> {
    map: &'a mut HashMap<u64, u64, PrehashedState>,
    key: &'a KeyColumns,
    lines: LineSplitter,
    scratch: Vec<u8>,
    /// Upsert lines waiting to be handed to `out`.
    batch: Vec<u8>,
    live: RowHasher,
    changed: u64,
    /// Sum of the row hashes of the base rows the upserts replace.
    old_sum: u64,
    /// Set once the delta is not worth finishing; the rest of the stream is drained.
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
        let Self { map, key, lines, scratch, batch, changed, old_sum, .. } = self;
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
            return Ok(());
        }
        if self.batch.len() >= 1 << 20 {
            self.flush().await?;
        }
        Ok(())
    }
}
