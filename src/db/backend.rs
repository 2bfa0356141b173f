//! The contract every kind of database implements. Commands talk to a [`Session`]
//! (db/mod.rs), which forwards to the kind's implementation of [`Backend`]; nothing
//! outside `db/` knows which kind it is talking to.
//!
//! A load (bulk or restore) goes through the same four steps on every kind:
//! `plan_load` (decide how, report what cannot work — no writes), `start_load` (empty
//! the targets, set keys, triggers and checks aside as the kind allows), `load_table`
//! once per table in foreign-key order, `finish_load` (build back what was set aside).
//! Everything happens inside the transaction `begin_write` opened; any error leaves the
//! caller to roll back.
//!
//! [`Session`]: crate::db::Session

use std::collections::BTreeMap;
use std::future::Future;

use tokio::sync::mpsc;

use crate::db::evaluate;
use crate::db::keys::{self, KeyPart, RowKey};
use crate::db::schema::{Column, ForeignKey, Schema, Table, TableName, quote_ident};
use crate::db::step::Step;
use crate::db::template::Record;
use crate::db::url::{DbKind, DbUrl};
use crate::db::value::Value;
use crate::error::Error;
use crate::output::Progress;

/// Where a sequence behind a serial or identity column stands (PostgreSQL's
/// `last_value` and `is_called`), as a snapshot records it for a restore to put back.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SequenceState {
    pub last_value: i64,
    pub is_called: bool,
}

/// Receives a table's rows as COPY text, in chunks of whole or partial lines.
pub trait ChunkSink {
    fn push(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), Error>>;
}

/// Why a write transaction is opened: names the database-wide lock's holder for others.
#[derive(Debug, Clone)]
pub struct WriteIntent {
    /// e.g. `bulk` or `snapshot restore baseline`: what a refused second run is told.
    pub command: String,
    /// A retried attempt waits a few seconds for its predecessor's lock to go away.
    pub retry: bool,
    /// Wait for another holder instead of failing at once (`--wait`).
    pub wait: bool,
    /// The load empties its targets first (`--truncate`, `--clean`): a kind may prepare
    /// the transaction for that before it starts (SQLite sets foreign keys aside).
    pub empties: bool,
}

/// What a load is for: the two differ in what they may do to rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadPurpose {
    /// Generated rows: triggers fire as for any insert; a cycle may be closed by writing
    /// NULL then updating.
    Bulk,
    /// Exact rows from a snapshot: user triggers must not rewrite them or fire side effects.
    Restore,
}

/// Everything a backend needs to decide how to load.
#[derive(Debug)]
pub struct LoadRequest<'a> {
    pub purpose: LoadPurpose,
    pub schema: &'a Schema,
    /// Target tables, parents first.
    pub targets: Vec<TableName>,
    /// Exact row counts of the targets now.
    pub existing_rows: BTreeMap<TableName, u64>,
    /// Empty the targets first (`--truncate`, `--clean`).
    pub empty_first: bool,
    /// `--cascade`: also empty the tables outside the load whose rows reference an
    /// emptied table (and, in turn, theirs), instead of refusing.
    pub cascade: bool,
    /// Those tables with their row counts, children first: filled in by
    /// `Session::plan_load` with `--cascade`, emptied by `start_load` before the targets.
    pub also_empty: Vec<(TableName, u64)>,
    /// Foreign keys (table, index into its `foreign_keys`) whose parent loads after the
    /// child: cycles and self references.
    pub cycle_edges: Vec<(TableName, usize)>,
}

impl LoadRequest<'_> {
    /// True when every target is empty, or will be.
    pub fn starts_empty(&self) -> bool {
        self.empty_first || self.existing_rows.values().all(|&n| n == 0)
    }
}

/// How a backend will load, decided before anything is written.
#[derive(Debug, Clone, Default)]
pub struct LoadPlan {
    /// Shown in plans, e.g. "keys and indexes built after the data".
    pub mode: &'static str,
    /// The same as a short stable label for summaries and JSON, e.g. "keys after data".
    pub label: &'static str,
    /// Problems that stop the load, one per line (reported all at once).
    pub blocking: Vec<String>,
    /// Tables outside the load whose rows reference a table it empties (a problem
    /// without `--cascade`, the tables it empties with it).
    pub dependents: Vec<Dependent>,
    /// Why `--cascade` cannot help with them (a target references one of them), if so.
    pub cascade_obstacle: Option<String>,
}

/// A table outside the load holding rows that reference a table to be emptied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependent {
    pub table: TableName,
    /// Its rows whose foreign key is set (they reference the parent).
    pub rows: u64,
    pub constraint: String,
    pub parent: TableName,
    /// 1: it references a table of the load; 2: a table of depth 1; and so on. Only
    /// depth 1 stops a load without `--cascade`; deeper ones are what `--cascade` would
    /// have to empty as well.
    pub depth: usize,
}

/// The rows of one table as the load receives them.
pub enum RowInput {
    /// COPY text (the snapshot format) in chunks that need not end on a line boundary.
    CopyText(mpsc::Receiver<Result<Vec<u8>, Error>>),
    /// Typed values, a batch of rows at a time.
    Values(mpsc::Receiver<Vec<Vec<Value>>>),
}

/// Which [`RowInput`] a backend loads generated rows from fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowForm {
    CopyText,
    Values,
}

/// One table to load: where, which columns in which order.
pub struct LoadTable<'a> {
    pub table: &'a Table,
    pub columns: Vec<String>,
    /// Rows per COPY chunk or INSERT statement (bulk's `--batch-size`); also how a
    /// failing row is reported as "batch B, row R".
    pub batch_size: Option<u64>,
    pub progress: Progress,
}

/// A column whose values the database would generate (serial, identity, rowid,
/// AUTO_INCREMENT): a bulk load writes them itself, `start`, `start + step`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedKey {
    pub table: TableName,
    pub column: String,
    /// The sequence behind it (PostgreSQL).
    pub sequence: Option<String>,
    pub start: i64,
    pub step: i64,
}

/// A foreign key of a cycle, or a self reference: its parent may load after its child.
#[derive(Debug, Clone, Copy)]
pub struct CycleEdge<'a> {
    pub table: &'a Table,
    pub fk: &'a ForeignKey,
}

/// A foreign key `prepare_cycles` has written NULL, to be set once every row is in.
#[derive(Debug, Clone)]
pub struct CycleFix<'a> {
    pub table: &'a Table,
    pub fk: &'a ForeignKey,
    /// Unique within the load (it names a temp table).
    pub id: String,
}

/// What a failed probe of a value says (see [`Backend::refused_values`]).
pub enum Probe {
    /// The database refused the value: its reason.
    Refused(String),
    /// The probe itself could not run here; nothing is known of the value.
    Unknown,
    /// Stop: the connection, a timeout, Ctrl-C.
    Stop(Error),
}

impl Probe {
    pub fn of(e: Error) -> Self {
        if e.is_transient() || matches!(e, Error::Interrupted | Error::Connect { .. }) {
            return Probe::Stop(e);
        }
        if e.exit_code() != crate::error::code::DATA {
            return Probe::Unknown;
        }
        // The server's own words (kept as the detail under a translated violation).
        let reason = e.detail().map_or_else(|| e.to_string(), str::to_owned);
        let reason = reason.strip_prefix("server: ").unwrap_or(&reason);
        Probe::Refused(reason.lines().next().unwrap_or_default().to_owned())
    }
}

/// Result of a privilege check for `doctor`.
#[derive(Debug, Clone)]
pub struct Privileges {
    pub ok: bool,
    /// Not ok, and no load can work (a read-only SQLite file); otherwise a warning.
    pub fatal: bool,
    pub detail: String,
    pub data: serde_json::Value,
}

#[allow(async_fn_in_trait)]
pub trait Backend {
    fn kind(&self) -> DbKind;
    /// The driver's error as ours: the condition, table, constraint and row.
    fn translate(&self, err: sqlx::Error, step: &Step) -> Error;
    /// `expr` cast to the database's text type (for queries read with `text_rows`).
    fn cast_text(&self, expr: &str) -> String;
    /// `expr` cast to a 64-bit integer (for queries read with `one_i64`).
    fn cast_int(&self, expr: &str) -> String;

    // Plain statements.
    async fn execute(&mut self, sql: String, step: &Step) -> Result<(), Error>;
    /// Every row of `sql`, each column already text (the query casts).
    async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error>;
    /// The single (possibly NULL) integer `sql` returns.
    async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error>;

    // Evaluation: candidate rows checked by the database before anything is loaded.
    /// `v` written as a SQL literal of `col`'s type, read the way an insert into `col`
    /// would read it (PostgreSQL casts; SQLite applies the column's affinity).
    fn sql_literal(&self, v: &Value, col: &Column) -> String {
        let _ = col;
        evaluate::plain_literal(v)
    }
    /// What starts each row of a `VALUES` list (MySQL 8 wants `ROW`).
    fn values_row_keyword(&self) -> &'static str {
        ""
    }
    /// Evaluates each of `exprs` (SQL over `columns`, e.g. a check's expression) on each
    /// of `rows`, touching no table: per row, one text per expression (`None` for NULL).
    /// A row the database cannot evaluate (a failed cast, a division by zero) fails the
    /// call, and a savepoint keeps the surrounding transaction usable.
    async fn evaluate(
        &mut self,
        columns: &[&Column],
        rows: &[Vec<Value>],
        exprs: &[String],
        step: &Step,
    ) -> Result<Vec<Vec<Option<String>>>, Error> {
        let mut out: Vec<Vec<Option<String>>> = vec![Vec::new(); rows.len()];
        for (chunk_no, chunk) in rows.chunks(evaluate::ROWS_PER_STATEMENT).enumerate() {
            let literals: Vec<Vec<String>> =
                chunk.iter().map(|r| columns.iter().zip(r).map(|(c, v)| self.sql_literal(v, c)).collect()).collect();
            let sql =
                evaluate::select_sql(columns, &literals, exprs, self.values_row_keyword(), &|e| self.cast_text(e));
            self.execute("SAVEPOINT seed_evaluate".into(), step).await?;
            match self.text_rows(sql, step).await {
                Ok(got) => {
                    self.execute("RELEASE SAVEPOINT seed_evaluate".into(), step).await?;
                    for mut r in got {
                        let Some(i) = r.first().cloned().flatten().and_then(|i| i.parse::<usize>().ok()) else {
                            continue;
                        };
                        if let Some(slot) = out.get_mut(chunk_no * evaluate::ROWS_PER_STATEMENT + i) {
                            r.remove(0);
                            *slot = r;
                        }
                    }
                }
                Err(e) => {
                    self.execute("ROLLBACK TO SAVEPOINT seed_evaluate".into(), step).await?;
                    self.execute("RELEASE SAVEPOINT seed_evaluate".into(), step).await?;
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// The constants (a factories file's `value` and `one_of`) the database would refuse
    /// to write into `col`, each with its reason, found by writing each the way a load
    /// does into a scratch place of `col`'s type (a cast, a temporary table), inside the
    /// open transaction and touching no table of the user's. A probe the kind cannot
    /// run for this column (a type it cannot name there, a missing privilege) checks
    /// nothing: the load itself still would.
    async fn refused_values(
        &mut self,
        col: &Column,
        values: &[String],
        step: &Step,
    ) -> Result<Vec<(String, String)>, Error>;

    // Transactions.
    /// A read-only transaction that sees every table as of one moment.
    async fn begin_read(&mut self, step: &Step) -> Result<(), Error>;
    /// Names the snapshot of the read transaction so other connections can share it
    /// (`begin_read_at`); `None` where the kind cannot (then reads use one connection).
    async fn export_snapshot(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }
    /// A read-only transaction seeing exactly what the exporting one sees.
    async fn begin_read_at(&mut self, snapshot: &str, step: &Step) -> Result<(), Error> {
        let _ = (snapshot, step);
        Err(Error::Internal("this kind of database cannot share a read snapshot".into()))
    }
    /// A write transaction holding the database-wide seed lock: a second bulk or restore
    /// is refused (exit 8, naming the holder) or waits.
    async fn begin_write(&mut self, intent: &WriteIntent, step: &Step) -> Result<(), Error>;
    async fn commit(&mut self, step: &Step) -> Result<(), Error> {
        let result = self.execute("COMMIT".into(), step).await;
        self.transaction_ended().await;
        result
    }
    /// Best effort: also called after errors, when the connection may be gone (the server
    /// rolls back on disconnect anyway).
    async fn rollback(&mut self) {
        let _ = self.execute("ROLLBACK".into(), &Step::new("rolling back")).await;
        self.transaction_ended().await;
    }
    /// After COMMIT or ROLLBACK, succeeded or not: what the write set up for itself is
    /// undone (a lock, a session setting).
    async fn transaction_ended(&mut self) {}

    // Schema.
    async fn introspect(&mut self) -> Result<Schema, Error>;
    /// Applies the demo schema to an empty embedded database; true if it did.
    async fn apply_demo_schema_if_empty(&mut self) -> Result<bool, Error> {
        Ok(false)
    }
    /// Exact row count.
    async fn count_rows(&mut self, table: &TableName, step: &Step) -> Result<u64, Error> {
        let n = self.one_i64(format!("SELECT count(*) FROM {}", table.quoted()), step).await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
    /// Up to `limit` distinct values of `columns` of `table` with no NULL among them, as
    /// text and sorted, so what is picked from them is the same every time.
    async fn distinct_keys(
        &mut self,
        table: &TableName,
        columns: &[String],
        limit: i64,
        step: &Step,
    ) -> Result<Vec<Vec<Option<String>>>, Error> {
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!(
            "SELECT DISTINCT {} FROM {} WHERE {} ORDER BY {} LIMIT {limit}",
            cols.iter().map(|c| self.cast_text(c)).collect::<Vec<_>>().join(", "),
            table.quoted(),
            cols.iter().map(|c| format!("{c} IS NOT NULL")).collect::<Vec<_>>().join(" AND "),
            (1..=cols.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
        );
        self.text_rows(sql, step).await
    }
    /// The highest value of integer column `column` of `table` (`None` when it is empty).
    async fn max_int(&mut self, table: &TableName, column: &str, step: &Step) -> Result<Option<i64>, Error> {
        let max = format!("max({})", quote_ident(column));
        self.one_i64(format!("SELECT {} FROM {}", self.cast_int(&max), table.quoted()), step).await
    }

    // Export.
    /// The session settings COPY text depends on, as recorded in snapshot headers.
    async fn session_settings(&mut self) -> Result<BTreeMap<String, String>, Error>;
    /// Streams `columns` of `table` to `sink` as COPY text lines.
    async fn stream_table<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        sink: &mut S,
    ) -> Result<(), Error>;
    /// Pages of `table`'s storage, when it can be read in page ranges on several
    /// connections sharing one snapshot (`stream_pages`); `None` where it cannot.
    async fn page_count(&mut self, table: &Table) -> Result<Option<u64>, Error> {
        let _ = table;
        Ok(None)
    }
    /// `stream_table` of the rows on pages `from..to` (to the end with `None`).
    async fn stream_pages<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        pages: (u64, Option<u64>),
        sink: &mut S,
    ) -> Result<(), Error> {
        let _ = (table, columns, pages, sink);
        Err(Error::Internal("this kind of database cannot read a table by pages".into()))
    }
    /// `stream_table` of the rows `filter` (SQL over the table's unqualified columns)
    /// picks, in `order` (an `ORDER BY` list).
    async fn stream_filtered<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        filter: &str,
        order: &str,
        sink: &mut S,
    ) -> Result<(), Error>;

    // Key sets (subsets; see `db::keys`).
    /// System columns naming a row of `table` within one read transaction, for tables
    /// without a key (`None` where the kind has none).
    fn row_id(&self, table: &Table) -> Option<Vec<KeyPart>> {
        let _ = table;
        None
    }
    /// SQL giving a row's key (parts qualified by `alias`) as a list of SQL literals.
    fn key_literal(&self, key: &RowKey, alias: Option<&str>) -> String;
    /// SQL true for rows whose key (qualified by `alias`) is one of `keys`, each as
    /// `key_literal` gave it.
    fn key_in(&self, key: &RowKey, alias: Option<&str>, keys: &[&str]) -> String {
        keys::in_list(&key.exprs(alias), keys)
    }
    /// Calls `each` with every row of `sql` (each column as text: the query casts), as
    /// the rows arrive.
    async fn each_row(
        &mut self,
        sql: String,
        step: &Step,
        each: &mut dyn FnMut(Vec<Option<String>>) -> Result<(), Error>,
    ) -> Result<(), Error>;
    /// The planner's estimate of the rows `sql` returns (`None` where there is none).
    async fn estimate_rows(&mut self, sql: String, step: &Step) -> Result<Option<u64>, Error> {
        let _ = (sql, step);
        Ok(None)
    }

    /// Positions of the sequences behind `table`'s generated keys, by column.
    async fn sequence_states(&mut self, table: &Table) -> Result<BTreeMap<String, SequenceState>, Error>;
    /// Bytes of table data a snapshot of `tables` reads (for the free-space check).
    fn export_size_estimate(&self, tables: &[&Table]) -> u64;

    // Loads (bulk and restore).
    async fn plan_load(&mut self, req: &LoadRequest<'_>) -> Result<LoadPlan, Error>;
    async fn start_load(&mut self, req: &LoadRequest<'_>, plan: &LoadPlan) -> Result<(), Error>;
    fn row_form(&self) -> RowForm;
    /// Loads every row `rows` yields into `target`; returns the rows written.
    async fn load_table(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error>;
    async fn finish_load(&mut self) -> Result<(), Error>;

    // Bulk.
    /// How the foreign keys of cycles go in, one answer per edge: `true` when the
    /// edge is written NULL and set after the load (`close_cycle`); or why it cannot.
    /// Default: as they are (the kind checks foreign keys only at the end).
    async fn prepare_cycles(&mut self, edges: &[CycleEdge<'_>]) -> Result<Vec<bool>, Error> {
        Ok(vec![false; edges.len()])
    }
    /// Fixes `start` and `step` of each generated key from the tables' state under the
    /// lock, so every attempt writes the same rows.
    async fn reserve_keys(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error>;
    /// Sets the foreign key `prepare_cycles` wrote NULL, once every row is in: `rows`
    /// gives each row's primary-key values, then the foreign key's.
    async fn close_cycle(
        &mut self,
        fix: &CycleFix<'_>,
        rows: &mut (dyn Iterator<Item = Vec<Value>> + Send),
    ) -> Result<(), Error> {
        let _ = rows;
        Err(Error::Internal(format!("{}: this kind of database sets no foreign key after a load", fix.table.name)))
    }
    /// Moves sequences past the keys `reserve_keys` handed out. Default: nothing to
    /// move (explicit values move the kind's counters themselves).
    async fn settle_keys(&mut self, keys: &[GeneratedKey]) -> Result<(), Error> {
        let _ = keys;
        Ok(())
    }

    // Restore.
    /// Puts each sequence back where the snapshot saw it, or past the restored maximum.
    async fn restore_sequences(&mut self, tables: &[(&Table, &BTreeMap<String, SequenceState>)]) -> Result<(), Error>;

    // Doctor.
    async fn privileges(&mut self) -> Result<Privileges, Error>;
    /// What tells this database from any other reachable through another URL: two
    /// URLs reach the same database when their identities are equal.
    async fn identity(&mut self) -> Result<String, Error>;

    // Templates and clones (`seed clone`; names and the record in db/template.rs). The
    // databases are named by URLs of this session's server (`DbUrl::sibling`).
    /// A digest of this database's schema (catalog) and of the rows of `migration_tables`.
    async fn fingerprint(&mut self, migration_tables: &[TableName]) -> Result<String, Error> {
        let _ = migration_tables;
        Err(no_templates(self.kind()))
    }
    /// The record text kept with `template`; `None` when there is no such template.
    async fn template_record(&mut self, template: &DbUrl) -> Result<Option<String>, Error> {
        let _ = template;
        Err(no_templates(self.kind()))
    }
    /// Copies `source` into a read-only `template` carrying `record` (its strategy filled
    /// in here): built under `building`, then put in place of any older template at once,
    /// which leaves as `retired` and is dropped.
    async fn keep_template(&mut self, source: &DbUrl, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
        let _ = (source, t, record);
        Err(no_templates(self.kind()))
    }
    /// A new database `clone` identical to `template`; nothing under `clone`'s name if it fails.
    async fn clone_template(&mut self, template: &DbUrl, clone: &DbUrl, record: &Record) -> Result<(), Error> {
        let _ = (template, clone, record);
        Err(no_templates(self.kind()))
    }
    /// Names of the databases on this server (SQLite: files beside this one) that could
    /// be clones (the caller picks seed's by name).
    async fn sibling_databases(&mut self) -> Result<Vec<String>, Error> {
        Err(no_templates(self.kind()))
    }
    /// Drops `db`; false when there was none.
    async fn drop_database(&mut self, db: &DbUrl) -> Result<bool, Error> {
        let _ = db;
        Err(no_templates(self.kind()))
    }
    /// Takes the lock that lets one caller rebuild `template` (held until the session
    /// closes or the returned guard drops), or says who has it; waits with `wait`.
    async fn lock_template(&mut self, template: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
        let _ = (template, wait);
        Err(no_templates(self.kind()))
    }

    // The pool of ready clones (`seed clone --pool N`; PostgreSQL only: the claim is a
    // database rename, which the other kinds lack). Names in db/template.rs.
    /// The ready clones whose names begin with `prefix`, each with the mark it carries.
    async fn pool_members(&mut self, prefix: &str) -> Result<Vec<(String, String)>, Error> {
        let _ = prefix;
        Err(no_pool(self.kind()))
    }
    /// Renames one ready clone marked `tag` to `clone`; false when none is left.
    async fn claim_ready(&mut self, prefix: &str, tag: &str, clone: &DbUrl) -> Result<bool, Error> {
        let _ = (prefix, tag, clone);
        Err(no_pool(self.kind()))
    }
    /// Adds one ready clone of the template `record` describes; false (nothing left)
    /// when the template changed while it was copied.
    async fn make_ready(&mut self, t: &PoolTargets<'_>, tag: &str, record: &Record) -> Result<bool, Error> {
        let _ = (t, tag, record);
        Err(no_pool(self.kind()))
    }
    /// The lock one refill holds; false when another refill has it (and not `wait`).
    async fn lock_pool(&mut self, template: &DbUrl, wait: bool) -> Result<bool, Error> {
        let _ = (template, wait);
        Err(no_pool(self.kind()))
    }
    async fn unlock_pool(&mut self, template: &DbUrl) -> Result<(), Error> {
        let _ = template;
        Err(no_pool(self.kind()))
    }
    /// Whether a refill holds the pool's lock now.
    async fn refill_under_way(&mut self, template: &DbUrl) -> Result<bool, Error> {
        let _ = template;
        Ok(false)
    }

    async fn close(self);
}

/// Where one ready clone of a pool is built and named.
pub struct PoolTargets<'a> {
    pub template: &'a DbUrl,
    pub building: &'a DbUrl,
    pub ready: &'a DbUrl,
}

/// The names a template is kept under while it is (re)built.
pub struct TemplateTargets {
    pub template: DbUrl,
    pub building: DbUrl,
    pub retired: DbUrl,
}

/// Held while a template is rebuilt: a lock file (SQLite), or nothing when the lock
/// belongs to the session itself (PostgreSQL's advisory lock).
pub struct TemplateLock(pub Option<std::fs::File>);

fn no_pool(kind: DbKind) -> Error {
    Error::usage_hint(
        format!(
            "--pool is not available for {}: a pool hands out a ready copy by renaming a database, which only PostgreSQL can do at once",
            kind.product()
        ),
        "leave out --pool: `seed clone NAME` copies the template for each call",
    )
}

fn no_templates(kind: DbKind) -> Error {
    Error::usage_hint(
        format!("templates and clones are not available for {} yet", kind.product()),
        "`seed prepare NAME --template` and `seed clone` work with PostgreSQL and SQLite",
    )
}
