//! Folding bases into a dependent (`delete` / `prune --rebase-dependents`): the
//! dependent is rewritten so it no longer reads anything from the versions about to go.
//!
//! Its new base is the nearest snapshot below it in its chain that stays (or none: it
//! becomes a full snapshot). Each of its tables is stored as: a reference to the new
//! base when every snapshot in between stores it as unchanged; the stored bytes of the
//! first snapshot that stores it (copied as they are: a full table, or a delta made
//! against the new base itself); else in full, rebuilt from the chain and compressed.
//! The rows, checksums, name, version and everything else in the header stay, so its
//! content checksum stays and snapshots built on it are not disturbed.
//!
//! Atomic, in a directory and in a bucket alike: the new content is staged under the
//! dependent's key (a temp file, a multipart upload) and replaces the old one only
//! when complete (a rename, the upload's completion); a failure at any point leaves the
//! old one in place. Checked before it replaces anything: the chain it is copied from
//! is verified in full first, and the new header must hold the old content checksum.
//! Where the location can read staged bytes back (a directory), the staged file is
//! also resolved against its new base and verified in full (every table rebuilt and
//! checked); an upload cannot be read before it completes, so in a bucket that last
//! check is what `seed snapshot verify` does afterwards.

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use crate::error::Error;
use crate::snapshot::catalog::{Version, resolve_chain};
use crate::snapshot::chain::{Chain, Link};
use crate::snapshot::format::{self, DeltaPart, LineChunker, Storage, TableStats};
use crate::snapshot::location::Location;
use crate::snapshot::reader::CHUNK_SIZE;
use crate::snapshot::source::Source;
use crate::snapshot::writer::SnapshotWriter;

/// What a rebase did.
#[derive(Debug)]
pub struct Rebased {
    /// `NAME@N` of the new base, or `None`: now a full snapshot.
    pub new_base: Option<String>,
    /// Tables now rebuilt and stored in full.
    pub expanded: usize,
}

/// Rewrites `dependent` so that it reads nothing from the versions in `going`
/// (`NAME@N` labels). The caller holds the locks: exclusive on the dependent's name, at
/// least shared on every other name in its chain.
pub async fn rebase(store: &Location, dependent: &Version, going: &BTreeSet<String>) -> Result<Rebased, Error> {
    let chain = resolve_chain(store, dependent.link(store).await?).await?;
    // Everything copied below is checked first: the file's own bytes and every table
    // rebuilt through the chain.
    tokio::task::block_in_place(|| chain.verify())?;
    let stage = store.stage(&dependent.key).await?;
    tokio::task::block_in_place(|| rewrite(&chain, stage, dependent, going))
}

/// Writes the rebased dependent into `stage` and publishes it over the old one (blocking).
fn rewrite(
    chain: &Chain,
    stage: crate::snapshot::location::Stage,
    dependent: &Version,
    going: &BTreeSet<String>,
) -> Result<Rebased, Error> {
    let links = chain.links();
    // The new base: the first link below the top that stays.
    let keep = (1..links.len()).find(|&k| !going.contains(&links[k].label));
    let top = &links[0];
    let level = top.header.compression.level;
    let mut header = top.header.clone();
    header.base = keep.map(|k| links[k - 1].header.base.clone().expect("a link below the top is someone's base"));
    // Each table's storage is decided below, as it begins.
    for t in &mut header.tables {
        t.storage = Storage::Full;
        t.delta = None;
    }
    let mut writer = SnapshotWriter::create(stage, header)?;
    let mut expanded = 0;
    for (index, entry) in top.header.tables.iter().enumerate() {
        // Walk down while the table is stored as unchanged.
        let (mut level_at, mut i) = (0, index);
        while links[level_at].header.tables[i].storage == Storage::Base && Some(level_at) != keep {
            i = chain.base_index(level_at, i)?;
            level_at += 1;
        }
        let link = &links[level_at];
        let stored = &link.header.tables[i];
        if Some(level_at) == keep {
            writer.begin_table_as(index, Storage::Base)?;
            writer.end_reconstructed_table(entry.rows, &entry.checksum)?;
        } else if stored.storage == Storage::Full {
            writer.begin_table_as(index, Storage::Full)?;
            copy_range(&*link.source, stored.offset, stored.length, &mut writer)?;
            writer.end_table(stored.stats())?;
        } else if stored.storage == Storage::Delta && keep == Some(level_at + 1) {
            let d = stored.delta.as_ref().ok_or_else(|| Error::Internal("a delta table without parts".into()))?;
            writer.begin_table_as(index, Storage::Delta)?;
            writer.begin_part(DeltaPart::Upserts)?;
            copy_range(&*link.source, stored.offset, d.upserts.length, &mut writer)?;
            writer.end_part(d.upserts.stats())?;
            writer.begin_part(DeltaPart::Deletes)?;
            copy_range(&*link.source, stored.offset + d.upserts.length, d.deletes.length, &mut writer)?;
            writer.end_part(d.deletes.stats())?;
            writer.end_reconstructed_table(entry.rows, &entry.checksum)?;
        } else {
            writer.begin_table_as(index, Storage::Full)?;
            let stats = compress_rebuilt(chain, level_at, i, level, &mut writer)?;
            writer.end_table(stats)?;
            expanded += 1;
        }
    }
    // It is the same snapshot: it keeps its time where the location lets us set it
    // (prune orders snapshots taken within one second by it).
    writer.set_modified(dependent.modified)?;
    let old = &top.header;
    writer.finish_checked(true, |header, staged| {
        if format::content_checksum(header) != format::content_checksum(old) {
            return Err(Error::Internal(format!("rebasing {} changed its content", dependent.label())));
        }
        match staged {
            // The new base's chain is the part of the old chain that stays.
            Some(source) => {
                check_staged(dependent, header, source, keep.map(|k| links[k..].to_vec()).unwrap_or_default())
            }
            None => Ok(()),
        }
    })?;
    Ok(Rebased { new_base: keep.map(|k| links[k].label.clone()), expanded })
}

/// The staged bytes resolve against the new base and verify in full.
fn check_staged(
    dependent: &Version,
    header: &format::Header,
    staged: Arc<dyn Source>,
    below: Vec<Link>,
) -> Result<(), Error> {
    let link = Link::new(dependent.label(), staged, header.clone());
    let mut below = below.into_iter();
    Chain::resolve(link, |_| Ok(below.next()))?.verify()
}

/// Appends `length` stored bytes at `offset` of `src` to the open table or part.
fn copy_range(src: &dyn Source, offset: u64, length: u64, writer: &mut SnapshotWriter) -> Result<(), Error> {
    let mut reader = src.read_range(offset, length)?;
    let mut buf = vec![0u8; CHUNK_SIZE];
    let mut copied = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| Error::io("reading snapshot", src.location(), e))?;
        if n == 0 {
            break;
        }
        writer.write_member(&buf[..n])?;
        copied += n as u64;
    }
    if copied != length {
        return Err(Error::SnapshotCorrupt {
            path: src.location().to_path_buf(),
            reason: format!("truncated: {copied} of {length} bytes at offset {offset}"),
        });
    }
    Ok(())
}

/// Table `index` of link `level`, rebuilt and written in full (compressed at `level`).
fn compress_rebuilt(
    chain: &Chain,
    at: usize,
    index: usize,
    level: u32,
    writer: &mut SnapshotWriter,
) -> Result<TableStats, Error> {
    let mut rows = chain.open_table_at(at, index)?;
    let mut hasher = format::RowHasher::new();
    let mut chunker = LineChunker::new(1 << 20);
    while let Some(chunk) = rows.next_chunk()? {
        hasher.update(&chunk);
        for piece in chunker.push(&chunk) {
            writer.write_member(&format::gzip_member(&piece, level))?;
        }
    }
    if let Some(rest) = chunker.finish() {
        writer.write_member(&format::gzip_member(&rest, level))?;
    }
    hasher.finish().map_err(Error::Internal)
}
