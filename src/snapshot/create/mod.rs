//! Taking a snapshot of a database: every chosen table read in one read-only
//! transaction (on `-j` connections sharing its snapshot where the database can),
//! streamed as COPY text through parallel gzip into a [`SnapshotWriter`], each table
//! stored in full or, on top of a base, as unchanged or as a delta (`incremental`).
//! The command (`seed snapshot create`, `seed prepare`) decides the name, version and
//! base and holds the locks; this module reads and writes.
//!
//! Where rows pass, for the features that shape them:
//! - **What is read** of each table is a [`read::TableRead`], built in [`write`] before
//!   anything is read, and every row enters through `TableRead::stream`, which hands a
//!   sink to the database session. A subset (a per-table row filter or key set) is
//!   decided there, before reading: it is a field of `TableRead` that `stream` passes
//!   to the backend.
//! - **How rows are stored**: the sink `TableRead::stream` is given receives the rows
//!   as COPY text and is the only consumer of them: a [`sink::TableSink`] (hash, cut
//!   into line-aligned chunks, compress, write in order), an incremental
//!   `compare::Compare`, or a raw spool of a page range. A row transform (masking)
//!   wraps that sink in `TableRead::stream`: it cuts the chunks into rows and rewrites
//!   each before passing it on, so checksums, comparisons and spools all see the rows
//!   as they will be stored.
//!
//! Files: `read` (what is read, spreading tables over connections), `sink` (hash and
//! compress), `spool` (local temp files), `space` (the free-space check),
//! `incremental` and `compare` (what an incremental snapshot stores), `copy` (a
//! snapshot written from another's rows: `seed snapshot mask`), `mask_checks` (a
//! masking plan put to the database before reading).

mod compare;
pub mod copy;
mod incremental;
mod mask_checks;
mod read;
mod sink;
mod space;
mod spool;

use std::sync::Arc;

pub use incremental::Stored;

use self::incremental::{Incremental, Outcome};
use self::read::{TableRead, on_connections};
use self::sink::TableSink;
use self::spool::Spool;
use crate::db::schema::{Schema, Table, TableName};
use crate::db::select::Selection;
use crate::db::{Connector, Session};
use crate::error::Error;
use crate::mask::{self, MasterKey};
use crate::output::Printer;
use crate::snapshot::chain::Chain;
use crate::snapshot::format::{
    self, BaseRef, ColumnEntry, CompressionInfo, DatabaseInfo, ForeignKeyEntry, Header, TableEntry, TableStats,
};
use crate::snapshot::location::Location;
use crate::snapshot::versions;
use crate::snapshot::writer::SnapshotWriter;
use crate::subset::{self, TableRows};

/// What to write, decided before connecting.
pub struct Request {
    pub name: String,
    pub version: u64,
    /// Replaces that version (`--force`).
    pub replace: bool,
    pub description: Option<String>,
    /// Which tables (`--table`, `--exclude`, `--schema`).
    pub selection: Selection,
    /// How messages name the database: `URL (from ORIGIN)`.
    pub database: String,
    /// gzip level 0–9.
    pub level: u32,
    /// Connections to read on (`-j`); `None`: one per core.
    pub jobs: Option<u32>,
    /// The snapshot this one is incremental to.
    pub base: Option<Base>,
    /// Only a slice of the rows (`--subset`): the rules it is computed by.
    pub subset: Option<subset::Rules>,
    /// Whether rows are masked.
    pub mask: MaskChoice,
}

/// Whether and how rows are masked on their way in.
#[derive(Debug, Clone)]
pub enum MaskChoice {
    /// Rows as read.
    Off,
    /// Rows as read, unless a column looks personal: then refused (a source that is not
    /// on this machine, named here, with neither `--mask` nor `--no-mask`).
    Guarded { source: String },
    /// Masked by this request's plan, under `key` (`None`: plan only, for a dry run).
    On { request: mask::Request, key: Option<Arc<MasterKey>> },
}

/// What `--dry-run` reports: the tables a create would read and how each column would
/// be stored.
#[derive(Debug)]
pub struct DryRun {
    /// Table and row estimate.
    pub tables: Vec<(TableName, u64)>,
    /// With a slice: per table the estimated rows and why.
    pub subset: Option<subset::Explained>,
    /// The masking plan (every column of every table, masked or kept, and why).
    pub plan: Option<mask::Plan>,
}

/// Reads the schema and plans the masking of the snapshot `req` describes, reading no
/// rows and writing nothing.
pub async fn dry_run(req: &Request, session: &mut Session, printer: &Printer) -> Result<DryRun, Error> {
    let result = async {
        session.begin_read().await?;
        let schema = session.introspect().await?;
        let tables = select_tables(&schema, &req.selection, &req.database, printer)?;
        let plan = mask_plan(&req.mask, &schema, &tables)?;
        if let Some(plan) = &plan {
            mask_checks::against_database(session, plan, &tables).await?;
        }
        let subset = match &req.subset {
            Some(rules) => Some(subset::explain(session, &schema, &tables, rules).await?),
            None => None,
        };
        session.commit("ending the read transaction").await?;
        Ok(DryRun { tables: tables.iter().map(|t| (t.name.clone(), t.row_estimate)).collect(), subset, plan })
    }
    .await;
    if result.is_err() {
        session.rollback().await;
    }
    result
}

/// The masking plan of `tables` for `choice` (bound to its key), or why it is refused.
fn mask_plan(choice: &MaskChoice, schema: &Schema, tables: &[&Table]) -> Result<Option<mask::Plan>, Error> {
    match choice {
        MaskChoice::Off => Ok(None),
        MaskChoice::Guarded { source } => {
            let flagged = mask::plan::flagged_columns(tables, &[]);
            if flagged.is_empty() {
                return Ok(None);
            }
            Err(Error::usage_hint(
                format!(
                    "{source} is not on this machine, and {} personal data:\n  {}",
                    crate::output::plural(flagged.len() as u64, "column looks like", "columns look like"),
                    flagged.join("\n  ")
                ),
                "mask them as they are read with --mask auto (or --mask strict, or --mask RULES.toml; the key comes from \
                 SEED_MASK_KEY), or pass --no-mask to take the data as it is",
            ))
        }
        MaskChoice::On { request, key } => {
            let mut plan = mask::plan::plan(schema, tables, request)?;
            if let Some(key) = key {
                plan.bind(key);
            }
            Ok(Some(plan))
        }
    }
}

/// The header's record of how `plan` masks (never the key; its check value only when
/// a rule used it).
pub fn masking_record(plan: &mask::Plan, key: Option<&MasterKey>) -> format::Masking {
    format::Masking {
        mode: plan.mode.label().into(),
        rules_fingerprint: plan.fingerprint.clone(),
        key_check: key.filter(|_| plan.keyed()).map(MasterKey::check_value),
    }
}

/// Each masked column's rule, in the header.
pub fn label_masked_columns(header: &mut Header, plan: &mask::Plan) {
    for (entry, table) in header.tables.iter_mut().zip(&plan.tables) {
        for (col, mask) in entry.columns.iter_mut().zip(&table.columns) {
            col.mask = mask.as_ref().and_then(|_| {
                plan.explained.iter().find(|e| e.table == table.table && e.column == col.name).map(|e| e.rule.clone())
            });
        }
    }
}

/// A base: its name and version as stored, and its chain (checked by the caller).
#[derive(Clone)]
pub struct Base {
    pub name: String,
    pub version: u64,
    pub chain: Arc<Chain>,
}

/// Writes the snapshot `req` describes from `session` (more connections for `-j` come
/// from `connector`) into `store` and publishes it; returns its header and how each
/// table was stored. Prints no summary.
pub async fn write(
    req: &Request,
    store: &Location,
    session: &mut Session,
    connector: &Connector<'_>,
    printer: &Printer,
) -> Result<(Header, Vec<Stored>), Error> {
    // One read-only transaction: every table as of the same moment.
    session.begin_read().await?;
    let schema = session.introspect().await?;
    let version = session.schema_version(&schema).await?;
    let tables = select_tables(&schema, &req.selection, &req.database, printer)?;
    // A slice is decided before anything is staged: a bad starting point writes nothing.
    let slice: Option<Vec<TableRows>> = match &req.subset {
        Some(rules) => Some(subset::take(session, &schema, &tables, rules, printer).await?),
        None => None,
    };
    let plan = mask_plan(&req.mask, &schema, &tables)?;
    if let Some(plan) = &plan {
        mask_checks::against_database(session, plan, &tables).await?;
    }
    let key = match &req.mask {
        MaskChoice::On { key, .. } => key.clone(),
        _ => None,
    };
    if plan.as_ref().is_some_and(mask::Plan::keyed) && key.is_none() {
        return Err(mask::key::missing());
    }
    let masking = plan.as_ref().map(|p| masking_record(p, key.as_deref()));
    let settings = session.session_settings().await?;
    let kind = session.kind().label();
    // An incremental snapshot reads unchanged rows from its base as they were written
    // there: only under the same database kind and session settings, masked alike.
    let base = req.base.as_ref().filter(|b| {
        let h = b.chain.header();
        let fits = h.database.kind == kind && h.settings == settings;
        if !fits {
            printer.info(format!(
                "{} was taken from another kind of database or under other session settings: taking a full snapshot",
                b.chain.top().label
            ));
        }
        let alike = h.masking == masking;
        if fits && !alike {
            printer.info(format!(
                "{} was {}: taking a full snapshot",
                b.chain.top().label,
                match (&h.masking, &masking) {
                    (None, _) => "not masked",
                    (Some(_), None) => "masked, and this one is not",
                    (Some(_), Some(_)) => "masked by other rules or another key",
                }
            ));
        }
        fits && alike
    });
    let jobs = req
        .jobs
        .map_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get), |j| j as usize)
        .min(tables.len())
        .max(1);
    // Other connections join this transaction's snapshot, so every table is still read
    // as of one moment (PostgreSQL; elsewhere `None` and one connection reads all).
    let shared = if jobs > 1 { session.export_snapshot().await? } else { None };
    // In parallel, each table is first spooled to its own unnamed temp file.
    space::check_free_space(store, &tables, share(&tables, slice.as_deref()), session, shared.is_some())?;
    let mut header = Header {
        format: format::FORMAT_NAME.into(),
        format_version: format::FORMAT_VERSION,
        row_format: format::ROW_FORMAT_COPY_TEXT.into(),
        name: req.name.clone(),
        version: req.version,
        description: req.description.clone(),
        created_at: format::now_rfc3339(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        database: DatabaseInfo {
            kind: kind.into(),
            server_version: session.info.version.clone(),
            location: session.url.location().to_owned(),
        },
        schema_version: version,
        schema_fingerprint: schema.fingerprint(),
        tables_fingerprint: None, // the writer computes it
        settings,
        compression: CompressionInfo { algorithm: format::COMPRESSION_GZIP.into(), level: req.level },
        base: base.map(|b| BaseRef {
            name: b.name.clone(),
            version: b.version,
            content_checksum: format::content_checksum(b.chain.header()),
        }),
        subset: req.subset.as_ref().map(subset_info),
        masking,
        tables: tables.iter().map(|t| table_entry(t)).collect(),
        header_checksum: None, // the writer computes it
    };
    for (entry, table) in header.tables.iter_mut().zip(&tables) {
        entry.sequences = session.sequence_states(table).await?;
    }
    if let Some(plan) = &plan {
        label_masked_columns(&mut header, plan);
    }
    let reads: Vec<TableRead<'_>> = tables
        .iter()
        .zip(&header.tables)
        .enumerate()
        .map(|(i, (table, entry))| TableRead {
            table,
            columns: entry.columns.iter().map(|c| c.name.clone()).collect(),
            rows: slice.as_ref().map(|s| &s[i]),
            mask: plan.as_ref().map(|p| &p.tables[i]).filter(|m| !m.is_empty()),
        })
        .collect();
    let stage = store.stage(&versions::key(&req.name, req.version)).await?;
    let mut writer = tokio::task::block_in_place(|| SnapshotWriter::create(stage, header.clone()))?;
    let mut stored = vec![Stored::Full; tables.len()];
    let spool_dir = store.spool_dir();
    match (shared, base) {
        (shared, Some(base)) => {
            let inc = Incremental {
                printer,
                connector,
                base: &base.chain,
                level: req.level,
                dir: &spool_dir,
                reads: &reads,
                entries: &header.tables,
            };
            let outcomes = inc.read_all(session, shared.as_deref(), jobs).await?;
            for (i, outcome) in outcomes.into_iter().enumerate() {
                stored[i] = write_outcome(printer, session, &mut writer, i, &reads[i], req.level, outcome).await?;
            }
        }
        (Some(snapshot), None) => {
            let spooled = on_connections(connector, session, &reads, Some(&snapshot), jobs, async |s, i| {
                let read = &reads[i];
                let mut spool = Spool::new(&spool_dir)?;
                let progress = read.progress(printer);
                let mut sink = TableSink::new(&mut spool, req.level, progress.clone());
                read.stream(s, None, &mut sink).await?;
                let stats = sink.finish().await?;
                progress.finish();
                Ok((spool, stats))
            })
            .await?;
            for (i, (spool, stats)) in spooled.into_iter().enumerate() {
                writer.begin_table(i)?;
                tokio::task::block_in_place(|| spool.copy_into(&mut writer))?;
                writer.end_table(stats)?;
            }
        }
        (None, None) => {
            for (i, read) in reads.iter().enumerate() {
                write_full(printer, session, &mut writer, i, read, req.level).await?;
            }
        }
    }
    session.commit("ending the read transaction").await?;
    let header = tokio::task::block_in_place(|| writer.finish(req.replace))?;
    Ok((header, stored))
}

/// The part of the tables' estimated rows a slice takes (1.0 without one).
fn share(tables: &[&Table], slice: Option<&[TableRows]>) -> f64 {
    let Some(slice) = slice else { return 1.0 };
    let all: u64 = tables.iter().map(|t| t.row_estimate).sum();
    let taken: u64 = slice.iter().zip(tables).map(|(r, t)| r.count().unwrap_or(t.row_estimate)).sum();
    #[allow(clippy::cast_precision_loss)]
    if all == 0 { 1.0 } else { taken as f64 / all as f64 }
}

/// The header's record of the rules a slice was taken with.
pub fn subset_info(rules: &subset::Rules) -> format::SubsetInfo {
    format::SubsetInfo {
        start: rules.starts.iter().map(ToString::to_string).collect(),
        seed: rules.seed,
        children: rules.children,
        unrelated: rules.unrelated,
        references: rules
            .references
            .iter()
            .map(|r| format::ReferenceInfo {
                child: r.child.to_string(),
                parent: r.parent.to_string(),
                condition: r.condition.clone(),
            })
            .collect(),
    }
}

/// The tables a snapshot covers: all (but migration tables), or those `--table` and
/// `--schema` pick, minus `--exclude` (pg_dump's pattern rules: `db::select`).
pub fn select_tables<'s>(
    schema: &'s Schema,
    selection: &Selection,
    database: &str,
    printer: &Printer,
) -> Result<Vec<&'s Table>, Error> {
    if schema.tables.is_empty() {
        return Err(Error::schema(
            format!("the database {database} has no tables to snapshot"),
            "create the schema first (run your migrations), or point --database-url (DATABASE_URL) at the database that has it",
        ));
    }
    let chosen = schema.select(selection, printer)?;
    if chosen.is_empty() {
        return Err(Error::usage(format!(
            "no tables of {database} left to snapshot (check --table / --exclude / --schema)"
        )));
    }
    Ok(chosen)
}

/// Writes table `i` as an incremental read found it; a table to be read again is read
/// (in full, on the leader: its transaction still sees the same rows) and written in full.
async fn write_outcome(
    printer: &Printer,
    session: &mut Session,
    writer: &mut SnapshotWriter,
    i: usize,
    read: &TableRead<'_>,
    level: u32,
    outcome: Outcome,
) -> Result<Stored, Error> {
    match outcome {
        Outcome::Full(spool, stats) => {
            writer.begin_table_as(i, format::Storage::Full)?;
            tokio::task::block_in_place(|| spool.copy_into(writer))?;
            writer.end_table(stats)?;
            Ok(Stored::Full)
        }
        Outcome::Base(live) => {
            writer.begin_table_as(i, format::Storage::Base)?;
            writer.end_reconstructed_table(live.rows, &live.checksum)?;
            Ok(Stored::Base)
        }
        Outcome::Delta { upserts, deletes, live } => {
            let stored = Stored::Delta { upserts: upserts.1.rows, deletes: deletes.1.rows };
            writer.begin_table_as(i, format::Storage::Delta)?;
            for (part, (spool, stats)) in [(format::DeltaPart::Upserts, upserts), (format::DeltaPart::Deletes, deletes)]
            {
                writer.begin_part(part)?;
                tokio::task::block_in_place(|| spool.copy_into(writer))?;
                writer.end_part(stats)?;
            }
            writer.end_reconstructed_table(live.rows, &live.checksum)?;
            Ok(stored)
        }
        Outcome::Again { live, why } => {
            printer.debug(format!("{}: stored in full ({why})", read.table.name));
            let stats = write_full(printer, session, writer, i, read, level).await?;
            if stats != live {
                return Err(Error::Internal(format!("{} read differently twice in one transaction", read.table.name)));
            }
            Ok(Stored::Full)
        }
    }
}

/// Streams table `i` into the snapshot, stored in full.
async fn write_full(
    printer: &Printer,
    session: &mut Session,
    writer: &mut SnapshotWriter,
    i: usize,
    read: &TableRead<'_>,
    level: u32,
) -> Result<TableStats, Error> {
    writer.begin_table_as(i, format::Storage::Full)?;
    let progress = read.progress(printer);
    let mut sink = TableSink::new(writer, level, progress.clone());
    read.stream(session, None, &mut sink).await?;
    let stats = sink.finish().await?;
    writer.end_table(stats.clone())?;
    progress.finish();
    Ok(stats)
}

/// The header entry of a table about to be read (its figures are filled in as it is written).
fn table_entry(t: &Table) -> TableEntry {
    TableEntry {
        schema: t.name.schema.clone(),
        name: t.name.name.clone(),
        storage: format::Storage::Full,
        columns: t.writable_columns().map(ColumnEntry::of).collect(),
        primary_key: t.primary_key.clone(),
        unique_keys: t.uniques.iter().take(format::MAX_KEYS_PER_TABLE).map(|u| u.columns.clone()).collect(),
        foreign_keys: t
            .foreign_keys
            .iter()
            .take(format::MAX_KEYS_PER_TABLE)
            .map(|fk| ForeignKeyEntry {
                columns: fk.columns.clone(),
                ref_schema: fk.ref_table.schema.clone(),
                ref_table: fk.ref_table.name.clone(),
                ref_columns: fk.ref_columns.clone(),
            })
            .collect(),
        rows: 0,
        checksum: "0".repeat(16),
        offset: 0,
        length: 0,
        raw_bytes: 0,
        delta: None,
        sequences: std::collections::BTreeMap::new(),
    }
}
