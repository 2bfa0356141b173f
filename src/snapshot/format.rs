//! The snapshot file format: header types, the row checksum, line-aligned chunking and
//! gzip members. Pure code over bytes; `writer` and `reader` do the file I/O.
//!
//! # File layout (format version 2)
//!
//! A snapshot is one file, `NAME.seed.gz` (version N ≥ 2: `NAME@N.seed.gz`, see
//! `versions`), made of gzip members laid end to end. A
//! concatenation of gzip members is itself a valid gzip file, so `zcat NAME.seed.gz`
//! prints everything and `zcat NAME.seed.gz | head -1` prints just the header.
//!
//! 1. **Header** (member 0): one line of JSON describing the snapshot (see [`Header`]),
//!    padded with ASCII spaces before its terminating newline to a length reserved up
//!    front, in a member stored uncompressed, so its size in the file depends only on
//!    the reserved length. That is what lets the writer put a placeholder header first,
//!    stream the tables after it, and overwrite the header in place once row counts,
//!    checksums and offsets are known. The reserved length of the line is the length
//!    of the header's compact JSON with every `rows`, `offset`, `length` and
//!    `raw_bytes` (also those of delta parts) at 2^64-1, every table checksum as 16
//!    `f`s, in a header naming a base every table with a primary key stored as
//!    `delta` with both parts so, and `tables_fingerprint` and `header_checksum` as 32
//!    `f`s, plus
//!    [`HEADER_SLACK`] bytes, plus 1 for the newline. Byte for byte, the member is the
//!    10-byte gzip header `1f 8b 08 00 00 00 00 00 00 ff` (no FLG bits: no optional
//!    fields), then deflate stored blocks of at most 65535 bytes each (one byte
//!    `00`, or `01` for the last block: BFINAL in bit 0, BTYPE 00, padding bits 0;
//!    then LEN and its complement NLEN as little-endian u16; then LEN bytes of the
//!    line), then the CRC-32 and the length of the line as little-endian u32. Readers
//!    parse this member by hand and refuse any other shape (a compressed block, FLG
//!    bits) before inflating anything, so a compressed "header bomb" costs nothing.
//! 2. **Tables**, in header order: each table's stored bytes are one or more ordinary
//!    gzip members (compressed at the header's level). Their decompressed bytes,
//!    concatenated, are rows in PostgreSQL `COPY` text format (`row_format`
//!    `copy-text`), one row per line, every line ending in `\n`; members always end on
//!    a line boundary. The header's `offset` and `length` give the byte range of a
//!    table's members in the file, so one table can be read without decompressing the
//!    others. An empty table may have no members at all (`length` 0).
//!    - `storage: "full"`: the members hold every row.
//!    - `storage: "base"`: nothing is stored here (`length` and `raw_bytes` 0): the
//!      table is unchanged since the `base` snapshot.
//!    - `storage: "delta"`: the members hold the upsert lines (full rows), then the
//!      delete lines (the primary-key columns only, in `primary_key` order, COPY
//!      text), each part as its own gzip members, upserts first; `delta.upserts` and
//!      `delta.deletes` give each part's `rows`, `checksum`, `raw_bytes` and `length`,
//!      and the parts' lengths (and raw bytes) sum to the table's. The table is the
//!      base's table without the rows whose key is among the upserts or deletes,
//!      followed by the upserts (`chain` rebuilds it).
//!
//!    `base` names the snapshot by `name`, `version` and [`content_checksum`]; a
//!    header names one only when a table is read from it.
//!
//!    `rows` and `checksum` always describe the table as reconstructed (its full
//!    content); `offset`, `length` and `raw_bytes` describe the bytes in this file.
//! 3. Nothing follows the last table: the first table starts right after the header
//!    member, each next table where the previous one ends, and the last one ends at
//!    the end of the file. Anything else is reported as a corrupt (e.g. truncated) file.
//!
//! Each `checksum` is the wrapping sum of the 64-bit XXH3 hashes of the lines (without
//! their newline), as 16 lowercase hex digits. A sum does not depend on row order, so a
//! snapshot can be compared with a live `COPY ... TO STDOUT` that returns the same rows
//! in another order. Gzip's own CRC32 guards every member as well.
//!
//! # Binding the header to the data
//!
//! `tables_fingerprint` is `db::schema::fingerprint_of` over this header's own tables
//! and their columns (name, type, nullability, in order), so a reader recomputes it
//! from the header alone (unlike `schema_fingerprint`, which covers the whole live
//! schema the snapshot was taken from). `header_checksum` is XXH3-128, as 32 lowercase
//! hex digits, of the header's canonical JSON with `header_checksum` set to `""`: the
//! compact serialization of [`Header`] (serde_json, no whitespace, fields in declared
//! order, `sequences` left out when empty, `settings` and `sequences` keys sorted,
//! strings with serde_json's escaping: `\"`, `\\`, `\b \f \n \r \t`, other control
//! characters as `\u00XX`, everything else as UTF-8). A file seed writes holds exactly
//! that serialization, so the checksum can also be recomputed from the line as stored:
//! strip the padding and empty the last `"header_checksum"` value. The reader checks it
//! before trusting anything else in the header. It has no secret key: it stops
//! accidents and naive edits, not someone who recomputes both fingerprints.
//!
//! Format 1 headers (no `row_format`, `version`, `tables_fingerprint`, `base`,
//! `storage`, `delta` or `header_checksum`) are still read; they are not bound to their
//! data, and `verify` says so.
//!
//! # Limits
//!
//! Readers refuse, before building anything large: a header line over
//! [`MAX_HEADER_LEN`]; more than [`MAX_TABLES`] tables, [`MAX_COLUMNS_PER_TABLE`]
//! columns in a table or [`MAX_COLUMNS_TOTAL`] columns in all (counted while parsing);
//! more than [`MAX_SETTINGS`] settings; a string longer than [`MAX_STRING_LEN`]. The
//! writer refuses to write what a reader would refuse.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3Default;

use crate::db::SequenceState;
use crate::db::schema::{CheckRule, Column, SchemaVersion, TableName, TypeKind};
use crate::snapshot::bounded;
use crate::subset::spec::{Children, Unrelated};

pub const FORMAT_NAME: &str = "seed-snapshot";
/// Bumped when an older seed could no longer read what a newer one writes.
pub const FORMAT_VERSION: u32 = 2;
/// Every version from this one to [`FORMAT_VERSION`] is read.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
pub const COMPRESSION_GZIP: &str = "gzip";
/// The only `row_format` so far: PostgreSQL `COPY` text, one row per line.
pub const ROW_FORMAT_COPY_TEXT: &str = "copy-text";
/// Database kinds a header may name.
pub const DATABASE_KINDS: [&str; 3] = ["postgres", "sqlite", "mysql"];
/// Longest header line (JSON, padding and newline): it is read into memory whole.
pub const MAX_HEADER_LEN: usize = 16 << 20;
/// Most tables in one snapshot.
pub const MAX_TABLES: usize = 20_000;
/// Most columns in one table (PostgreSQL allows 1,600).
pub const MAX_COLUMNS_PER_TABLE: usize = 4_096;
/// Most columns over all tables of one snapshot.
pub const MAX_COLUMNS_TOTAL: usize = 250_000;
/// Most session settings in a header.
pub const MAX_SETTINGS: usize = 256;
/// Most starting points, and most virtual references, a subset header lists.
pub const MAX_SUBSET_ITEMS: usize = crate::subset::spec::MAX_ITEMS;
/// Longest string anywhere in a header, in bytes.
pub const MAX_STRING_LEN: usize = 64 << 10;
/// Most unique keys, and most foreign keys, recorded for one table.
pub const MAX_KEYS_PER_TABLE: usize = 1_024;
/// Most checks recorded for one column.
pub const MAX_CHECKS_PER_COLUMN: usize = 64;
/// Most labels of an enum type, or values of an `IN` check, recorded for one column.
pub const MAX_LABELS: usize = 4_096;
/// Room left in the reserved header line beyond its worst case, as a safety margin.
pub const HEADER_SLACK: usize = 256;

/// Everything a snapshot says about itself; the JSON on the first line of the file.
/// Field order is part of the format: `header_checksum` is computed over this struct's
/// serialization (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// Always [`FORMAT_NAME`]: tells a snapshot from any other gzip file.
    pub format: String,
    pub format_version: u32,
    /// How rows are encoded: [`ROW_FORMAT_COPY_TEXT`] (format 1 has no field: the same).
    #[serde(default = "copy_text")]
    pub row_format: String,
    pub name: String,
    /// The snapshot's version number (`NAME@N`), from 1 (format 1 files are version 1).
    #[serde(default = "one")]
    pub version: u64,
    pub description: Option<String>,
    /// RFC 3339 UTC, e.g. `2026-11-23T16:40:00Z`.
    pub created_at: String,
    pub tool_version: String,
    pub database: DatabaseInfo,
    pub schema_version: Option<SchemaVersion>,
    /// Of the whole live schema the snapshot was taken from.
    pub schema_fingerprint: String,
    /// Of this header's tables and columns ([`tables_fingerprint`]); format 2 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables_fingerprint: Option<String>,
    /// Session settings the rows were written under (e.g. DateStyle), so a restore can
    /// read them back the same way.
    #[serde(deserialize_with = "bounded_settings")]
    pub settings: BTreeMap<String, String>,
    pub compression: CompressionInfo,
    /// The snapshot this one is incremental to; `None` for a self-contained snapshot.
    #[serde(default)]
    pub base: Option<BaseRef>,
    /// How a subset snapshot picked its rows (`--subset`); `None`: every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<SubsetInfo>,
    /// How the rows were masked; absent in a snapshot holding the data as it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<Masking>,
    #[serde(deserialize_with = "bounded_tables")]
    pub tables: Vec<TableEntry>,
    /// [`header_checksum`] of this header; format 2 on. Last, so it is easy to find.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_checksum: Option<String>,
}

fn copy_text() -> String {
    ROW_FORMAT_COPY_TEXT.to_owned()
}

fn one() -> u64 {
    1
}

/// The rules a subset snapshot was taken with, as `show` prints them and a next
/// version repeats them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SubsetInfo {
    /// Starting points as written (`customer:store_id = 1`, `film:10%`).
    #[serde(deserialize_with = "bounded_subset_items")]
    pub start: Vec<String>,
    /// The seed the `%` and count samples hash keys with.
    pub seed: u64,
    pub children: Children,
    pub unrelated: Unrelated,
    /// Virtual references followed besides the foreign keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "bounded_subset_items")]
    pub references: Vec<ReferenceInfo>,
}

/// A virtual reference as written (`comments.post_id` -> `posts.id`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReferenceInfo {
    pub child: String,
    pub parent: String,
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatabaseInfo {
    /// One of [`DATABASE_KINDS`].
    pub kind: String,
    pub server_version: String,
    /// `host:port/db` (or the SQLite path); never credentials.
    pub location: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompressionInfo {
    /// Only [`COMPRESSION_GZIP`] so far.
    pub algorithm: String,
    pub level: u32,
}

/// How a masked snapshot was masked. Never the key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Masking {
    /// `auto` or `strict` (see `seed snapshot create --mask`).
    pub mode: String,
    /// 32 lowercase hex digits over every masked column's rule and shape: two snapshots
    /// with the same fingerprint and key check mask a value alike.
    pub rules_fingerprint: String,
    /// 16 lowercase hex digits that tell masking keys apart (an HMAC of a fixed label
    /// under the key; not the key); absent when no rule used the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_check: Option<String>,
}

/// A foreign key of a table, as `seed snapshot mask` needs it without a database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ForeignKeyEntry {
    #[serde(deserialize_with = "bounded_key")]
    pub columns: Vec<String>,
    /// Empty for SQLite.
    pub ref_schema: String,
    pub ref_table: String,
    #[serde(deserialize_with = "bounded_key")]
    pub ref_columns: Vec<String>,
}

/// The snapshot an incremental snapshot builds on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaseRef {
    pub name: String,
    pub version: u64,
    /// The base's [`content_checksum`]: what its tables hold, whatever way they are
    /// stored, so folding the base's own base into it (`--rebase-dependents`) keeps it.
    pub content_checksum: String,
}

/// Where a table's rows are.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Every row is stored in this file.
    #[default]
    Full,
    /// Nothing is stored here: the table is as in the base snapshot.
    Base,
    /// Upserts and deletes against the base are stored here.
    Delta,
}

impl Storage {
    pub fn label(self) -> &'static str {
        match self {
            Storage::Full => "full",
            Storage::Base => "base",
            Storage::Delta => "delta",
        }
    }
}

/// The two parts of a delta table, upserts first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeltaParts {
    pub upserts: PartStats,
    pub deletes: PartStats,
}

/// One part of a delta table: its lines' figures and its bytes in the file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartStats {
    pub rows: u64,
    /// 16 lowercase hex digits; see [`RowHasher`].
    pub checksum: String,
    pub raw_bytes: u64,
    /// Compressed bytes of this part's members.
    pub length: u64,
}

/// A part of a delta table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaPart {
    /// Full rows, inserted or replacing the row with the same primary key.
    Upserts,
    /// Primary-key columns of rows removed.
    Deletes,
}

impl DeltaPart {
    pub fn label(self) -> &'static str {
        match self {
            DeltaPart::Upserts => "upserts",
            DeltaPart::Deletes => "deletes",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableEntry {
    /// Empty for SQLite.
    pub schema: String,
    pub name: String,
    #[serde(default)]
    pub storage: Storage,
    /// In `COPY` order.
    #[serde(deserialize_with = "bounded_columns")]
    pub columns: Vec<ColumnEntry>,
    #[serde(deserialize_with = "bounded_key")]
    pub primary_key: Vec<String>,
    /// Unique constraints (column lists) besides the primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "bounded_unique_keys")]
    pub unique_keys: Vec<Vec<String>>,
    /// Foreign keys, also to tables the snapshot leaves out.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "bounded_foreign_keys")]
    pub foreign_keys: Vec<ForeignKeyEntry>,
    /// Rows of the table as reconstructed (for `full`, the rows stored here).
    pub rows: u64,
    /// Of the table as reconstructed; 16 lowercase hex digits; see [`RowHasher`].
    pub checksum: String,
    /// Byte offset in the file of this table's first gzip member.
    pub offset: u64,
    /// Compressed bytes of this table in this file (all its members).
    pub length: u64,
    /// Uncompressed bytes of this table in this file.
    pub raw_bytes: u64,
    /// The parts of a `delta` table; `None` otherwise.
    #[serde(default)]
    pub delta: Option<DeltaParts>,
    /// State of the sequences behind serial/identity columns, by column, so a restore
    /// puts them back exactly (PostgreSQL only; absent in older files).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "bounded_sequences")]
    pub sequences: BTreeMap<String, SequenceState>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ColumnEntry {
    pub name: String,
    pub type_name: String,
    pub nullable: bool,
    /// What the column holds, as seed read it from the catalog (absent in older files).
    /// Boxed: a header may list 240,000 columns, and most readers never look at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Box<TypeKind>>,
    /// The simple checks on it seed understood (ranges, `IN` lists, lengths).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "bounded_checks")]
    pub checks: Vec<CheckRule>,
    /// The rule that masked it, in a masked snapshot (`fake email`, `hash`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

impl ColumnEntry {
    /// A column's entry as seed writes it (not yet masked).
    pub fn of(c: &Column) -> Self {
        let checks = c
            .checks
            .iter()
            .filter_map(|r| match r {
                // JSON has no infinities: a bound that is not finite is no bound.
                CheckRule::Range { min, max } => {
                    let (min, max) = (min.filter(|v| v.is_finite()), max.filter(|v| v.is_finite()));
                    (min.is_some() || max.is_some()).then_some(CheckRule::Range { min, max })
                }
                other => Some(other.clone()),
            })
            .take(MAX_CHECKS_PER_COLUMN)
            .collect();
        Self {
            name: c.name.clone(),
            type_name: c.type_name.clone(),
            nullable: c.nullable,
            kind: Some(Box::new(c.kind.clone())),
            checks,
            mask: None,
        }
    }
}

impl bounded::TableShape for TableEntry {
    fn columns(&self) -> usize {
        self.columns.len()
    }

    fn keyed_columns(&self) -> usize {
        self.primary_key.len().max(self.sequences.len())
    }
}

// The limits above, applied while a header is parsed.
fn bounded_tables<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<TableEntry>, D::Error> {
    bounded::tables(d, MAX_TABLES, MAX_COLUMNS_TOTAL)
}

fn bounded_columns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ColumnEntry>, D::Error> {
    bounded::list(d, MAX_COLUMNS_PER_TABLE, "columns in a table")
}

fn bounded_key<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    bounded::list(d, MAX_COLUMNS_PER_TABLE, "primary-key columns in a table")
}

/// A subset's starting points or references.
fn bounded_subset_items<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    bounded::list(d, MAX_SUBSET_ITEMS, "subset entries")
}

/// A table's unique keys, each a list of column names bounded like a primary key.
fn bounded_unique_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Vec<String>>, D::Error> {
    struct KeyColumns(Vec<String>);
    impl<'de> Deserialize<'de> for KeyColumns {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            bounded_key(d).map(KeyColumns)
        }
    }
    let keys: Vec<KeyColumns> = bounded::list(d, MAX_KEYS_PER_TABLE, "unique keys in a table")?;
    Ok(keys.into_iter().map(|k| k.0).collect())
}

fn bounded_foreign_keys<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ForeignKeyEntry>, D::Error> {
    bounded::list(d, MAX_KEYS_PER_TABLE, "foreign keys in a table")
}

fn bounded_checks<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<CheckRule>, D::Error> {
    bounded::list(d, MAX_CHECKS_PER_COLUMN, "checks on a column")
}

fn bounded_settings<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    bounded::map(d, MAX_SETTINGS, "settings")
}

fn bounded_sequences<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, SequenceState>, D::Error> {
    bounded::map(d, MAX_COLUMNS_PER_TABLE, "sequences in a table")
}

impl TableEntry {
    pub fn table_name(&self) -> TableName {
        TableName::new(self.schema.clone(), self.name.clone())
    }

    /// The figures a [`RowHasher`] produces, as recorded in the header.
    pub fn stats(&self) -> TableStats {
        TableStats { rows: self.rows, checksum: self.checksum.clone(), raw_bytes: self.raw_bytes }
    }
}

impl PartStats {
    pub fn stats(&self) -> TableStats {
        TableStats { rows: self.rows, checksum: self.checksum.clone(), raw_bytes: self.raw_bytes }
    }
}

impl DeltaParts {
    pub fn part(&self, part: DeltaPart) -> &PartStats {
        match part {
            DeltaPart::Upserts => &self.upserts,
            DeltaPart::Deletes => &self.deletes,
        }
    }

    pub fn part_mut(&mut self, part: DeltaPart) -> &mut PartStats {
        match part {
            DeltaPart::Upserts => &mut self.upserts,
            DeltaPart::Deletes => &mut self.deletes,
        }
    }
}

/// `db::schema::fingerprint_of` over `tables` and their columns (name, type,
/// nullability), for tables with distinct names (the only ones a reader accepts).
/// Computed the same way (XXH3-128 of the same text, tables sorted by schema and
/// name) but streamed from the header, without copying every name: a header may
/// list 250,000 columns. A test holds the two equal.
pub fn tables_fingerprint(tables: &[TableEntry]) -> String {
    let mut order: Vec<&TableEntry> = tables.iter().collect();
    order.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let mut hasher = Xxh3Default::new();
    for t in order {
        hasher.update(crate::db::schema::fingerprint_table_line(&t.schema, &t.name).as_bytes());
        for c in &t.columns {
            hasher.update(crate::db::schema::fingerprint_column_line(&c.name, &c.type_name, c.nullable).as_bytes());
        }
    }
    format!("{:032x}", hasher.digest128())
}

/// The content of a snapshot as its header describes it, in the form
/// [`content_checksum`] hashes (see there).
#[derive(Serialize)]
struct Content<'a> {
    database_kind: &'a str,
    row_format: &'a str,
    settings: &'a BTreeMap<String, String>,
    #[serde(serialize_with = "content_tables")]
    tables: &'a [TableEntry],
}

#[derive(Serialize)]
struct ContentTable<'a> {
    schema: &'a str,
    name: &'a str,
    columns: &'a [ColumnEntry],
    primary_key: &'a [String],
    rows: u64,
    checksum: &'a str,
}

fn content_tables<S: serde::Serializer>(tables: &&[TableEntry], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(tables.iter().map(|t| ContentTable {
        schema: &t.schema,
        name: &t.name,
        columns: &t.columns,
        primary_key: &t.primary_key,
        rows: t.rows,
        checksum: &t.checksum,
    }))
}

/// XXH3-128, as 32 lowercase hex digits, of the compact JSON
/// `{"database_kind":…,"row_format":…,"settings":{…},"tables":[{"schema":…,"name":…,
/// "columns":[{"name":…,"type_name":…,"nullable":…},…],"primary_key":[…],"rows":…,
/// "checksum":…},…]}` built from `header` (tables in header order, settings keys
/// sorted): everything that decides the rows a restore of it produces, nothing about
/// how or where they are stored. An incremental snapshot records its base's content
/// checksum; a base whose content checksum differs is not the one it was taken against.
pub fn content_checksum(header: &Header) -> String {
    let content = Content {
        database_kind: &header.database.kind,
        row_format: &header.row_format,
        settings: &header.settings,
        tables: &header.tables,
    };
    let mut hasher = HashWriter(Xxh3Default::new());
    // Serializing plain strings and numbers into a hasher cannot fail.
    serde_json::to_writer(&mut hasher, &content).expect("content serializes");
    format!("{:032x}", hasher.0.digest128())
}

struct HashWriter(Xxh3Default);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// XXH3-128 of the header's canonical JSON (its serialization with `header_checksum`
/// set to `""`), as 32 lowercase hex digits. Hashes while serializing: no copy of a
/// header that may be megabytes long.
pub fn header_checksum(header: &mut Header) -> Result<String, serde_json::Error> {
    let saved = header.header_checksum.replace(String::new());
    let mut hasher = HashWriter(Xxh3Default::new());
    let result = serde_json::to_writer(&mut hasher, &*header);
    header.header_checksum = saved;
    result?;
    Ok(format!("{:032x}", hasher.0.digest128()))
}

/// True if `s` is `len` lowercase hex digits.
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The current time as RFC 3339 UTC with whole seconds (`2026-11-23T16:40:00Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What [`RowHasher`] measured over one table's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStats {
    pub rows: u64,
    /// `format!("{:016x}", sum)`.
    pub checksum: String,
    pub raw_bytes: u64,
}

/// The hash of one row: XXH3-64 of the line without its newline. Everything that
/// compares rows with a snapshot must hash them with this.
pub fn row_hash(line: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(line)
}

/// Counts rows and bytes of `COPY` text and sums their [`row_hash`]es, whatever the
/// chunk boundaries. Whole lines inside a chunk are hashed in place; only a line split
/// across calls goes through a streaming hasher, so memory stays constant however
/// long a line is.
#[derive(Clone)]
pub struct RowHasher {
    rows: u64,
    raw_bytes: u64,
    sum: u64,
    /// Holds the start of a line split across `update` calls.
    partial: Xxh3Default,
    in_line: bool,
}

impl Default for RowHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RowHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowHasher")
            .field("rows", &self.rows)
            .field("raw_bytes", &self.raw_bytes)
            .field("sum", &format_args!("{:016x}", self.sum))
            .field("in_line", &self.in_line)
            .finish()
    }
}

impl RowHasher {
    pub fn new() -> Self {
        Self { rows: 0, raw_bytes: 0, sum: 0, partial: Xxh3Default::new(), in_line: false }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.raw_bytes += bytes.len() as u64;
        let mut rest = bytes;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            let line = &rest[..i];
            let hash = if self.in_line {
                self.partial.update(line);
                let h = self.partial.digest();
                self.partial.reset();
                self.in_line = false;
                h
            } else {
                row_hash(line)
            };
            self.sum = self.sum.wrapping_add(hash);
            self.rows += 1;
            rest = &rest[i + 1..];
        }
        if !rest.is_empty() {
            self.partial.update(rest);
            self.in_line = true;
        }
    }

    /// Complete rows seen so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Fails if the data does not end with a newline: a partial last row.
    pub fn finish(self) -> Result<TableStats, String> {
        if self.in_line {
            return Err(format!("the data does not end with a newline (a partial row after row {})", self.rows));
        }
        Ok(TableStats { rows: self.rows, checksum: format!("{:016x}", self.sum), raw_bytes: self.raw_bytes })
    }
}

/// Cuts a stream of `COPY` text into chunks of at least `chunk_size` bytes that end at a
/// newline, so each can become an independent gzip member (and be compressed on another
/// thread). Holds at most about one chunk plus one line.
#[derive(Debug)]
pub struct LineChunker {
    chunk_size: usize,
    buf: Vec<u8>,
}

impl LineChunker {
    pub fn new(chunk_size: usize) -> Self {
        let chunk_size = chunk_size.max(1);
        Self { chunk_size, buf: Vec::new() }
    }

    /// Adds `bytes`; returns the chunks completed by them, in order.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            if self.buf.len() < self.chunk_size {
                if self.buf.capacity() == 0 {
                    self.buf.reserve(self.chunk_size + self.chunk_size / 8);
                }
                let take = (self.chunk_size - self.buf.len()).min(bytes.len());
                self.buf.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                if self.buf.len() < self.chunk_size {
                    break;
                }
                if self.buf.last() == Some(&b'\n') {
                    out.push(std::mem::take(&mut self.buf));
                    continue;
                }
            }
            // Long enough: cut at the next newline.
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&bytes[..=i]);
                    bytes = &bytes[i + 1..];
                    out.push(std::mem::take(&mut self.buf));
                }
                None => {
                    self.buf.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
        out
    }

    /// What is left (shorter than a chunk, or not ending in a newline), if anything.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.buf.is_empty()).then_some(self.buf)
    }
}

/// One complete gzip member holding `raw`, compressed at `level` (0–9; higher is
/// clamped). Pure, so callers can run it on worker threads.
pub fn gzip_member(raw: &[u8], level: u32) -> Vec<u8> {
    let out = Vec::with_capacity(raw.len() / 3 + 64);
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::new(level.min(9)));
    // Writing into a Vec cannot fail.
    enc.write_all(raw).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// gzip header: magic, CM=deflate, no flags, MTIME 0, XFL 0, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff];
const STORED_BLOCK_MAX: usize = 65535;

/// Size of [`stored_member`] for `len` bytes of data: it depends on nothing else.
pub fn stored_member_len(len: usize) -> usize {
    let blocks = len.div_ceil(STORED_BLOCK_MAX).max(1);
    GZIP_HEADER.len() + blocks * 5 + len + 8
}

/// A gzip member holding `data` uncompressed (deflate stored blocks), built by hand so
/// its size is a function of `data.len()` alone.
pub fn stored_member(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(stored_member_len(data.len()));
    out.extend_from_slice(&GZIP_HEADER);
    let mut blocks = data.chunks(STORED_BLOCK_MAX).peekable();
    if blocks.peek().is_none() {
        // Empty data: one empty final block.
        out.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = u16::try_from(block.len()).expect("block of at most 65535 bytes");
        out.push(u8::from(last)); // BFINAL in bit 0, BTYPE 00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the length modulo 2^32 by definition.
    #[allow(clippy::cast_possible_truncation)]
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Length of the header line (JSON, padding and newline) reserved for `header`: enough
/// for any row counts, checksums and offsets its tables may end up with.
pub fn reserved_header_len(header: &Header) -> Result<usize, serde_json::Error> {
    let mut worst = header.clone();
    let sum16 = "f".repeat(16);
    let part = PartStats { rows: u64::MAX, checksum: sum16.clone(), raw_bytes: u64::MAX, length: u64::MAX };
    let has_base = worst.base.is_some();
    for t in &mut worst.tables {
        t.rows = u64::MAX;
        t.offset = u64::MAX;
        t.length = u64::MAX;
        t.raw_bytes = u64::MAX;
        t.checksum.clone_from(&sum16);
        // With a base, any table with a primary key may end up stored as a delta.
        if t.delta.is_some() || (has_base && !t.primary_key.is_empty()) {
            t.storage = Storage::Delta;
            t.delta = Some(DeltaParts { upserts: part.clone(), deletes: part.clone() });
        }
    }
    if worst.format_version >= 2 {
        worst.tables_fingerprint = Some("f".repeat(32));
        worst.header_checksum = Some("f".repeat(32));
    }
    Ok(serde_json::to_vec(&worst)?.len() + HEADER_SLACK + 1)
}

/// `header` as one JSON line padded with spaces to exactly `reserved` bytes (newline
/// included); `None` if it does not fit.
pub fn header_line(header: &Header, reserved: usize) -> Result<Option<Vec<u8>>, serde_json::Error> {
    let mut line = serde_json::to_vec(header)?;
    if line.len() + 1 > reserved {
        return Ok(None);
    }
    line.resize(reserved - 1, b' ');
    line.push(b'\n');
    Ok(Some(line))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Read;

    use super::*;

    /// A header as a snapshot command would build it, for tests here and elsewhere.
    pub(crate) fn sample_header(name: &str, tables: &[&str]) -> Header {
        Header {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            row_format: ROW_FORMAT_COPY_TEXT.into(),
            name: name.into(),
            version: 1,
            description: Some("tests: \"quoted\" and ünïcode".into()),
            created_at: "2026-11-23T16:40:00Z".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            database: DatabaseInfo {
                kind: "postgres".into(),
                server_version: "17.2".into(),
                location: "localhost:5432/app".into(),
            },
            schema_version: Some(SchemaVersion { source: "_sqlx_migrations".into(), version: "20261101".into() }),
            schema_fingerprint: "0".repeat(32),
            tables_fingerprint: None,
            settings: [("DateStyle".to_owned(), "ISO, MDY".to_owned())].into_iter().collect(),
            compression: CompressionInfo { algorithm: COMPRESSION_GZIP.into(), level: 6 },
            base: None,
            subset: None,
            masking: None,
            tables: tables
                .iter()
                .map(|t| TableEntry {
                    sequences: BTreeMap::new(),
                    schema: "public".into(),
                    name: (*t).into(),
                    storage: Storage::Full,
                    delta: None,
                    columns: vec![
                        ColumnEntry {
                            name: "id".into(),
                            type_name: "integer".into(),
                            nullable: false,
                            ..Default::default()
                        },
                        ColumnEntry {
                            name: "note".into(),
                            type_name: "text".into(),
                            nullable: true,
                            ..Default::default()
                        },
                    ],
                    primary_key: vec!["id".into()],
                    unique_keys: vec![],
                    foreign_keys: vec![],
                    rows: 0,
                    checksum: String::new(),
                    offset: 0,
                    length: 0,
                    raw_bytes: 0,
                })
                .collect(),
            header_checksum: None,
        }
    }

    fn stats_of_chunks(chunks: &[&[u8]]) -> Result<TableStats, String> {
        let mut h = RowHasher::new();
        for c in chunks {
            h.update(c);
        }
        h.finish()
    }

    #[test]
    fn row_hasher_ignores_chunk_boundaries() {
        let long = "x".repeat(700); // longer than the streaming hasher's internal buffer
        let data = format!("1\tA\n2\t\\N\n\n3\tcaf\u{e9}\\tbar\n4\t{long}\n5\t\u{1F600}\n");
        let data = data.as_bytes();
        let whole = stats_of_chunks(&[data]).unwrap();
        assert_eq!(whole.rows, 6);
        assert_eq!(whole.raw_bytes, data.len() as u64);
        let expected: u64 = data[..data.len() - 1].split(|&b| b == b'\n').map(row_hash).fold(0, u64::wrapping_add);
        assert_eq!(whole.checksum, format!("{expected:016x}"));
        for i in 0..=data.len() {
            for j in i..=data.len() {
                let split = stats_of_chunks(&[&data[..i], &data[i..j], &data[j..]]).unwrap();
                assert_eq!(split, whole, "split at {i} and {j}");
            }
        }
        let bytewise: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(stats_of_chunks(&bytewise).unwrap(), whole);
    }

    #[test]
    fn row_hasher_is_order_independent_but_content_sensitive() {
        let a = stats_of_chunks(&[b"1\tone\n2\ttwo\n3\tthree\n"]).unwrap();
        let b = stats_of_chunks(&[b"3\tthree\n1\tone\n2\ttwo\n"]).unwrap();
        assert_eq!(a, b);
        let c = stats_of_chunks(&[b"3\tthree\n1\tone\n2\ttwO\n"]).unwrap();
        assert_eq!(c.rows, a.rows);
        assert_ne!(c.checksum, a.checksum);
    }

    #[test]
    fn row_hasher_rejects_partial_last_line() {
        let err = stats_of_chunks(&[b"1\tone\n2\ttw", b"o"]).unwrap_err();
        assert!(err.contains("after row 1"), "{err}");
        let empty = stats_of_chunks(&[]).unwrap();
        assert_eq!(empty, TableStats { rows: 0, checksum: "0".repeat(16), raw_bytes: 0 });
    }

    #[test]
    fn line_chunker_cuts_at_newlines_and_loses_nothing() {
        let mut data = Vec::new();
        for i in 0..500 {
            data.extend_from_slice(format!("{i}\t{}\n", "y".repeat(i % 37)).as_bytes());
        }
        for chunk_size in [1, 7, 64, 1000, 100_000] {
            for step in [1, 3, 50, 4096, data.len()] {
                let mut chunker = LineChunker::new(chunk_size);
                let mut chunks = Vec::new();
                for piece in data.chunks(step) {
                    chunks.extend(chunker.push(piece));
                }
                let rest = chunker.finish();
                for c in &chunks {
                    assert!(c.len() >= chunk_size, "short chunk ({chunk_size}/{step})");
                    assert_eq!(c.last(), Some(&b'\n'));
                    // A chunk is cut at the first newline at or after chunk_size.
                    let first_nl_after = c[chunk_size - 1..].iter().position(|&b| b == b'\n').unwrap();
                    assert_eq!(chunk_size - 1 + first_nl_after, c.len() - 1);
                }
                if let Some(r) = &rest {
                    assert!(r.len() < chunk_size || r.last() != Some(&b'\n'));
                }
                let joined: Vec<u8> = chunks.into_iter().chain(rest).flatten().collect();
                assert_eq!(joined, data, "chunk_size {chunk_size}, step {step}");
            }
        }
        assert_eq!(LineChunker::new(10).finish(), None);
        let mut c = LineChunker::new(4);
        assert_eq!(c.push(b"abcdefg"), Vec::<Vec<u8>>::new());
        assert_eq!(c.push(b"h\nij"), vec![b"abcdefgh\n".to_vec()]);
        assert_eq!(c.finish(), Some(b"ij".to_vec()));
    }

    #[test]
    fn stored_member_is_valid_gzip_of_predictable_size() {
        for len in [0, 1, 100, 65535, 65536, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
            let member = stored_member(&data);
            assert_eq!(member.len(), stored_member_len(len), "len {len}");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&member[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, data, "len {len}");
        }
    }

    #[test]
    fn gzip_member_round_trips() {
        let raw = b"1\thello\n2\t\\N\n".repeat(1000);
        for level in [0, 1, 6, 9, 42] {
            let gz = gzip_member(&raw, level);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
            assert_eq!(back, raw);
        }
    }

    #[test]
    fn header_line_fits_the_reserved_length_whatever_the_numbers() {
        let mut h = sample_header("baseline", &["a", "b", "c"]);
        let reserved = reserved_header_len(&h).unwrap();
        let placeholder = header_line(&h, reserved).unwrap().unwrap();
        for (i, t) in h.tables.iter_mut().enumerate() {
            t.rows = u64::MAX - i as u64;
            t.offset = u64::MAX;
            t.length = u64::MAX;
            t.raw_bytes = u64::MAX;
            t.checksum = "0123456789abcdef".into();
        }
        let full = header_line(&h, reserved).unwrap().unwrap();
        assert_eq!(placeholder.len(), reserved);
        assert_eq!(full.len(), reserved);
        assert_eq!(full.iter().filter(|&&b| b == b'\n').count(), 1);
        let parsed: Header = serde_json::from_slice(&full).unwrap();
        assert_eq!(parsed, h);
        h.description = Some("z".repeat(reserved));
        assert!(header_line(&h, reserved).unwrap().is_none());
    }

    #[test]
    fn tables_fingerprint_is_fingerprint_of() {
        let mut h = sample_header("f", &["zeta", "alpha", "mid"]);
        h.tables[1].schema = "audit".into();
        h.tables[2].schema = String::new();
        h.tables[0].columns[1].nullable = false;
        h.tables[2].columns.push(ColumnEntry {
            name: "a b".into(),
            type_name: "text[]".into(),
            nullable: true,
            ..Default::default()
        });
        let reference = crate::db::schema::fingerprint_of(h.tables.iter().map(|t| {
            (t.table_name(), t.columns.iter().map(|c| (c.name.clone(), c.type_name.clone(), c.nullable)).collect())
        }));
        assert_eq!(tables_fingerprint(&h.tables), reference);
        let mut reordered = h.tables.clone();
        reordered.reverse();
        assert_eq!(tables_fingerprint(&reordered), reference, "table order does not matter");
        h.tables[0].columns.swap(0, 1);
        assert_ne!(tables_fingerprint(&h.tables), reference, "column order does");
        assert_eq!(tables_fingerprint(&[]), crate::db::schema::fingerprint_of(std::iter::empty()));
    }

    #[test]
    fn keys_kinds_checks_and_masking_round_trip_in_one_spelling() {
        let mut h = sample_header("m", &["a", "b"]);
        h.tables[0].columns[1].kind = Some(Box::new(TypeKind::Text { max_len: Some(45) }));
        h.tables[0].columns[1].checks =
            vec![CheckRule::In(vec!["x".into()]), CheckRule::Range { min: Some(1.0), max: None }, CheckRule::MaxLen(3)];
        h.tables[0].columns[1].mask = Some("fake email".into());
        h.tables[0].columns[0].kind =
            Some(Box::new(TypeKind::Array { element: Box::new(TypeKind::Enum { labels: vec!["a".into()] }) }));
        h.tables[1].unique_keys = vec![vec!["note".into()]];
        h.tables[1].foreign_keys = vec![ForeignKeyEntry {
            columns: vec!["id".into()],
            ref_schema: "public".into(),
            ref_table: "a".into(),
            ref_columns: vec!["id".into()],
        }];
        h.masking =
            Some(Masking { mode: "auto".into(), rules_fingerprint: "0".repeat(32), key_check: Some("1".repeat(16)) });
        let json = serde_json::to_string(&h).unwrap();
        let back: Header = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        // These spellings are part of the format (docs/format.md).
        assert!(json.contains(r#""kind":{"kind":"array","element":{"kind":"enum","labels":["a"]}}"#), "{json}");
        assert!(
            json.contains(
                r#""checks":[{"In":["x"]},{"Range":{"min":1.0,"max":null}},{"MaxLen":3}],"mask":"fake email""#
            )
        );
        assert!(json.contains(r#""unique_keys":[["note"]],"foreign_keys":[{"columns":["id"],"ref_schema":"public","ref_table":"a","ref_columns":["id"]}]"#));
        assert!(json.contains(r#""masking":{"mode":"auto","rules_fingerprint":"00000000000000000000000000000000","key_check":"1111111111111111"},"tables""#));
        // A header without them (every older file) reads and writes as before.
        let plain = serde_json::to_string(&sample_header("m", &["a"])).unwrap();
        assert!(
            !plain.contains(r#""kind":{"#) && !plain.contains("masking") && !plain.contains("unique_keys"),
            "{plain}"
        );
        // Bounded while parsing.
        let many = |n: usize| {
            json.replace(
                r#""unique_keys":[["note"]]"#,
                &format!(r#""unique_keys":[{}]"#, vec![r#"["note"]"#; n].join(",")),
            )
        };
        assert!(serde_json::from_str::<Header>(&many(MAX_KEYS_PER_TABLE)).is_ok());
        assert!(
            serde_json::from_str::<Header>(&many(MAX_KEYS_PER_TABLE + 1))
                .unwrap_err()
                .to_string()
                .contains("more than 1024 unique keys")
        );
        let checks = json.replace(
            r#""checks":[{"In":["x"]},"#,
            &format!(r#""checks":[{}"#, r#"{"MaxLen":3},"#.repeat(MAX_CHECKS_PER_COLUMN)),
        );
        assert!(serde_json::from_str::<Header>(&checks).unwrap_err().to_string().contains("more than 64 checks"));
    }

    #[test]
    fn now_is_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-11-23T16:40:00Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok());
    }

    fn parse_header(json: &str) -> Result<Header, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_are_refused_while_parsing() {
        let h = sample_header("b", &["a"]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(parse_header(&json).unwrap(), h);
        let table = serde_json::to_string(&h.tables[0]).unwrap();

        let many = |n: usize| {
            let tables: Vec<String> =
                (0..n).map(|i| table.replace("\"name\":\"a\"", &format!("\"name\":\"t{i}\""))).collect();
            json.replace(&format!("[{table}]"), &format!("[{}]", tables.join(",")))
        };
        assert_eq!(parse_header(&many(20_000)).unwrap().tables.len(), 20_000);
        let err = parse_header(&many(20_001)).unwrap_err();
        assert!(err.contains("more than 20000 tables"), "{err}");

        let col = serde_json::to_string(&h.tables[0].columns[0]).unwrap();
        let cols = |n: usize| vec![col.as_str(); n].join(",");
        let wide =
            |n: usize| json.replace(&serde_json::to_string(&h.tables[0].columns).unwrap(), &format!("[{}]", cols(n)));
        assert_eq!(parse_header(&wide(4096)).unwrap().tables[0].columns.len(), 4096);
        assert!(parse_header(&wide(4097)).unwrap_err().contains("more than 4096 columns in a table"));

        // 62 tables of 4,096 columns: over the total after the 62nd.
        let wide_table =
            table.replace(&serde_json::to_string(&h.tables[0].columns).unwrap(), &format!("[{}]", cols(4096)));
        let tables: Vec<String> =
            (0..62).map(|i| wide_table.replace("\"name\":\"a\"", &format!("\"name\":\"t{i}\""))).collect();
        let err = parse_header(&json.replace(&format!("[{table}]"), &format!("[{}]", tables.join(",")))).unwrap_err();
        assert!(err.contains("more than 250000 columns in all"), "{err}");

        let keys = json.replace("\"primary_key\":[\"id\"]", "\"primary_key\":[\"id\",\"id\",\"id\"]");
        assert!(parse_header(&keys).unwrap_err().contains("more key or sequence columns than columns"));

        let settings: Vec<String> = (0..257).map(|i| format!("\"s{i}\":\"v\"")).collect();
        let s = json
            .replace("\"settings\":{\"DateStyle\":\"ISO, MDY\"}", &format!("\"settings\":{{{}}}", settings.join(",")));
        assert!(parse_header(&s).unwrap_err().contains("more than 256 settings"));
        let dup = json.replace("\"settings\":{\"DateStyle\":\"ISO, MDY\"}", "\"settings\":{\"a\":\"1\",\"a\":\"2\"}");
        assert!(parse_header(&dup).unwrap_err().contains("one key twice"));
    }
}
