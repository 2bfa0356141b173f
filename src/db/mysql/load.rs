//! Loads into MySQL/MariaDB: one InnoDB transaction, keys and indexes in place (DDL
//! would commit it), multi-row INSERTs sized to the 65,535-placeholder limit and to
//! `max_allowed_packet`.
//!
//! Foreign keys: when the targets start empty (or are emptied) or foreign keys form a
//! cycle among them, the session's `foreign_key_checks` is off during the load, so rows
//! go in in any order and NOT NULL cycles (sakila's store <-> staff) load at all —
//! MySQL has no deferrable constraints. Before COMMIT every foreign key of the loaded
//! tables is checked with one set-based query each (a locking read, as InnoDB's own
//! check is); one orphan fails the load and everything rolls back. Rows added to tables
//! that already hold rows, without a cycle, are checked row by row by InnoDB instead
//! (a set-based check would read every old row too). Unique checks stay on: InnoDB may
//! skip them otherwise and leave duplicates behind (and, measured, MariaDB's bulk
//! insert path they enable is slower here).
//!
//! Emptying (`--truncate`, `--clean`) is DELETE in reverse foreign-key order inside the
//! transaction: TRUNCATE would commit it. DELETE fires ON DELETE triggers.
//!
//! Triggers cannot be switched off and dropping them would commit, so a restore lets
//! them fire: a table that triggers of other restored tables fill (sakila's
//! `film_text`, filled by `ins_film` on `film`) loads after them, its rows written by
//! the triggers are deleted, then the snapshot's exact rows go in — all in the same
//! transaction. A restore is refused before writing when triggers would write tables
//! the snapshot does not hold, or when a BEFORE INSERT trigger rewrites the rows.

use std::collections::HashSet;

use sqlx::mysql::MySqlArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, MySql};

use super::MySqlBackend;
use super::codec::{Codec, bits_value, geometry_bytes};
use super::errors::translate;
use crate::db::backend::{LoadPlan, LoadPurpose, LoadRequest, LoadTable, RowInput};
use crate::db::copy_text::{self, Field, LineSplitter};
use crate::db::insert;
use crate::db::schema::{Dml, ForeignKey, TableName, quote_ident, quote_literal};
use crate::db::value::Value;
use crate::error::{ConstraintViolation, Error, Violation};

/// Placeholders per statement (the protocol's limit).
const MAX_BINDS: usize = 65_535;
/// Rows per INSERT when the caller does not say (restores).
const DEFAULT_ROWS: u64 = 10_000;

const MODE_DEFERRED: &str = "one transaction, keys in place, foreign keys checked once after the load";
const MODE_ROWS: &str = "one transaction, keys in place, foreign keys checked row by row";

/// Whether foreign keys are checked after the load (set-based) rather than per row.
fn deferred_checks(req: &LoadRequest<'_>) -> bool {
    req.starts_empty() || !req.cycle_edges.is_empty()
}

/// What `start_load` set up, for the tables and for `finish_load`.
#[derive(Debug, Default)]
pub struct LoadState {
    purpose: Option<LoadPurpose>,
    /// Targets that triggers of other targets write: their rows are replaced by the
    /// snapshot's (restore).
    replace: HashSet<TableName>,
    /// Foreign keys to check before COMMIT: (child, key).
    checks: Vec<(TableName, ForeignKey)>,
}

/// One bound value.
#[derive(Debug)]
enum Param {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Param {
    fn size(&self) -> usize {
        match self {
            Param::Text(s) => s.len() + 9,
            Param::Bytes(b) => b.len() + 9,
            _ => 9,
        }
    }

    /// A generated value for a column of `codec`.
    fn generated(v: Value, codec: Codec) -> Param {
        match (v, codec) {
            (Value::Null, _) => Param::Null,
            (Value::Bool(b), Codec::Bits(_)) => Param::UInt(u64::from(b)),
            (Value::Bool(b), _) => Param::Bool(b),
            (Value::Int(i), _) => Param::Int(i),
            (Value::Float(f), _) => Param::Float(f),
            (Value::Bytes(mut b), Codec::Binary { max: Some(max) }) => {
                b.truncate(usize::try_from(max).unwrap_or(usize::MAX));
                Param::Bytes(b)
            }
            (Value::Bytes(b), _) => Param::Bytes(b),
            (Value::Text(s), codec) => Param::text(s, codec),
        }
    }

    /// A value read from COPY text.
    fn restored(f: Field, codec: Codec) -> Param {
        match f {
            Field::Null => Param::Null,
            Field::Bytes(b) => Param::Bytes(b),
            Field::Text(s) => Param::text(s, codec),
        }
    }

    fn text(s: String, codec: Codec) -> Param {
        match codec {
            Codec::Bits(_) => bits_value(&s).map_or(Param::Text(s), Param::UInt),
            Codec::Spatial { shape, srid } => geometry_bytes(&s, shape, srid).map_or(Param::Text(s), Param::Bytes),
            _ => Param::Text(s),
        }
    }

    fn bind<'q>(self, q: Query<'q, MySql, MySqlArguments>) -> Query<'q, MySql, MySqlArguments> {
        match self {
            Param::Null => q.bind(None::<String>),
            Param::Bool(b) => q.bind(b),
            Param::Int(i) => q.bind(i),
            Param::UInt(u) => q.bind(u),
            Param::Float(f) => q.bind(f),
            Param::Text(s) => q.bind(s),
            Param::Bytes(b) => q.bind(b),
        }
    }
}

impl MySqlBackend {
    pub(super) async fn plan(&mut self, req: &LoadRequest<'_>) -> Result<LoadPlan, Error> {
        let mut blocking = Vec::new();
        let step = self.step("checking the tables before the load");

        // Engines that cannot roll back: the targets, and what their triggers write.
        let transactional: HashSet<String> = self
            .texts("SELECT UPPER(ENGINE) FROM information_schema.ENGINES WHERE TRANSACTIONS = 'YES'".into(), &step)
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect();
        // Tables `--cascade` empties are written too (DELETE).
        let mut touched: Vec<&TableName> = req.targets.iter().chain(req.also_empty.iter().map(|(t, _)| t)).collect();
        for t in req.targets.iter().filter_map(|n| req.schema.get(n)) {
            for w in &t.trigger_writes {
                if !touched.contains(&&w.table) {
                    touched.push(&w.table);
                }
            }
        }
        let bad: Vec<String> = touched
            .iter()
            .filter_map(|n| {
                let engine = self.engines.get(&n.name)?;
                (!transactional.contains(&engine.to_ascii_uppercase())).then(|| format!("{n} ({engine})"))
            })
            .collect();
        if !bad.is_empty() {
            blocking.push(format!(
                "tables on storage engines that cannot roll back: {}. seed writes in one transaction and could not undo a failure there; leave them out (--exclude NAME) or convert them (ALTER TABLE ... ENGINE=InnoDB)",
                bad.join(", "),
            ));
        }

        if req.purpose == LoadPurpose::Restore {
            self.plan_restore_triggers(req, &mut blocking).await?;
        }
        let mode = if deferred_checks(req) { MODE_DEFERRED } else { MODE_ROWS };
        Ok(LoadPlan { mode, label: "keys in place", blocking, ..LoadPlan::default() })
    }

    /// A restore lets triggers fire (MySQL cannot switch them off inside a
    /// transaction): refuse what would leave rows the snapshot does not hold.
    async fn plan_restore_triggers(&mut self, req: &LoadRequest<'_>, blocking: &mut Vec<String>) -> Result<(), Error> {
        let position = |n: &TableName| req.targets.iter().position(|t| t == n);
        let mut outside = Vec::new();
        let mut misordered = Vec::new();
        for (i, t) in req.targets.iter().filter_map(|n| req.schema.get(n)).enumerate() {
            for w in &t.trigger_writes {
                // UPDATE triggers never fire in a restore; DELETE ones do (--clean and
                // the replacement of trigger-filled tables).
                if w.on == Dml::Update {
                    continue;
                }
                match position(&w.table) {
                    None => outside.push(format!("{} on {} writes {}", w.trigger, t.name, w.table)),
                    Some(j) if w.on == Dml::Insert && j < i => {
                        misordered.push(format!("{} on {} writes {}, which loads first", w.trigger, t.name, w.table));
                    }
                    Some(_) => {}
                }
            }
        }
        if !outside.is_empty() {
            blocking.push(format!(
                "triggers would write tables that are not in the snapshot: {}. MySQL cannot switch triggers off inside a transaction, so those tables would end up with rows the snapshot does not hold; take the snapshot with those tables too, or drop the triggers first",
                outside.join("; ")
            ));
        }
        if !misordered.is_empty() {
            blocking.push(format!(
                "triggers write tables that must load before them (foreign keys): {}; seed cannot replace those rows with the snapshot's",
                misordered.join("; ")
            ));
        }
        if req.targets.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = req.targets.iter().map(|t| quote_literal(&t.name)).collect();
        let sql = format!(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS
             WHERE TRIGGER_SCHEMA = DATABASE() AND ACTION_TIMING = 'BEFORE' AND EVENT_MANIPULATION = 'INSERT'
               AND EVENT_OBJECT_TABLE IN ({})",
            names.join(", ")
        );
        let step = self.step("reading triggers");
        for r in self.texts(sql, &step).await? {
            let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            if sets_new_values(&get(2)) {
                blocking.push(format!(
                    "trigger {} on {} changes the rows it inserts (SET NEW...): a restore could not write the snapshot's values; drop the trigger for the restore (DDL commits, so seed cannot do it inside its transaction)",
                    get(0),
                    get(1)
                ));
            }
        }
        Ok(())
    }

    pub(super) async fn start(&mut self, req: &LoadRequest<'_>) -> Result<(), Error> {
        let targets: HashSet<&TableName> = req.targets.iter().collect();
        self.load = LoadState { purpose: Some(req.purpose), ..LoadState::default() };
        let deferred = deferred_checks(req);
        if deferred {
            let step = self.step("switching foreign-key checks to the end of the load");
            self.exec("SET SESSION foreign_key_checks = 0".into(), &step).await?;
        }
        if req.empty_first {
            // Children first: tables `--cascade` adds, then the targets, last loaded first.
            for t in req.also_empty.iter().map(|(t, _)| t).chain(req.targets.iter().rev()) {
                let step = self.step(format!("emptying {t}")).table(t.to_string());
                let phase = self.printer.phase(format!("emptying {t}"));
                self.exec(format!("DELETE FROM {}", t.quoted()), &step).await?;
                phase.finish();
            }
        }
        for t in req.targets.iter().filter_map(|n| req.schema.get(n)) {
            if deferred {
                self.load.checks.extend(t.foreign_keys.iter().map(|fk| (t.name.clone(), fk.clone())));
            }
            if req.purpose == LoadPurpose::Restore {
                for w in t.trigger_writes.iter().filter(|w| w.on == Dml::Insert && targets.contains(&w.table)) {
                    self.load.replace.insert(w.table.clone());
                }
            }
        }
        // Children outside the load that point at emptied tables (checked empty above;
        // checked again at the end).
        if req.empty_first {
            for child in req.schema.tables.iter().filter(|t| !targets.contains(&t.name)) {
                for fk in child.foreign_keys.iter().filter(|fk| targets.contains(&fk.ref_table)) {
                    self.load.checks.push((child.name.clone(), fk.clone()));
                }
            }
        }
        Ok(())
    }

    pub(super) async fn finish(&mut self) -> Result<(), Error> {
        let checks = std::mem::take(&mut self.load.checks);
        for (child, fk) in &checks {
            let phase = self.printer.phase(format!("checking foreign key {} of {child}", fk.name));
            self.check_foreign_key(child, fk).await?;
            phase.finish();
        }
        let step = self.step("switching foreign-key checks back on");
        self.exec("SET SESSION foreign_key_checks = 1".into(), &step).await
    }

    /// One set-based query: a child row whose key is set but matches no parent row.
    /// A locking read, as InnoDB's own check is: it sees committed parents (not the
    /// transaction's snapshot) and keeps them until COMMIT.
    async fn check_foreign_key(&mut self, child: &TableName, fk: &ForeignKey) -> Result<(), Error> {
        let cols: Vec<String> = fk.columns.iter().map(|c| format!("c.{}", quote_ident(c))).collect();
        let on: Vec<String> = fk
            .columns
            .iter()
            .zip(&fk.ref_columns)
            .map(|(c, p)| format!("p.{} = c.{}", quote_ident(p), quote_ident(c)))
            .collect();
        let set: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let Some(first_parent) = fk.ref_columns.first() else { return Ok(()) };
        let sql = format!(
            "SELECT {} FROM {} c LEFT JOIN {} p ON {} WHERE {} AND p.{} IS NULL LIMIT 1 LOCK IN SHARE MODE",
            cols.iter().map(|c| format!("CAST({c} AS CHAR)")).collect::<Vec<_>>().join(", "),
            child.quoted(),
            fk.ref_table.quoted(),
            on.join(" AND "),
            set.join(" AND "),
            quote_ident(first_parent),
        );
        let step = self.step(format!("checking foreign key {} of {child}", fk.name)).table(child.to_string());
        let rows = self.texts(sql, &step).await?;
        let Some(orphan) = rows.into_iter().next() else { return Ok(()) };
        let values: Vec<String> = orphan.into_iter().map(|v| v.unwrap_or_else(|| "NULL".into())).collect();
        Err(Error::Constraint(Box::new(ConstraintViolation {
            kind: Violation::ForeignKey,
            table: Some(child.to_string()),
            constraint: Some(fk.name.clone()),
            column: fk.columns.first().cloned(),
            batch: None,
            row: None,
            step: step.what.clone(),
            detail: format!(
                "a row of {child} with ({}) = ({}) has no parent row in {}",
                fk.columns.join(", "),
                values.join(", "),
                fk.ref_table
            ),
        })))
    }

    pub(super) async fn insert(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        let table = target.table;
        let name = table.name.to_string();
        if self.load.purpose == Some(LoadPurpose::Restore) && self.load.replace.contains(&table.name) {
            let step = self.step(format!("replacing the rows triggers wrote into {name}")).table(name.clone());
            self.exec(format!("DELETE FROM {}", table.name.quoted()), &step).await?;
        }
        let codecs: Vec<Codec> =
            target.columns.iter().map(|c| table.column(c).map_or(Codec::Text, Codec::of)).collect();
        let batch_size = target.batch_size.unwrap_or(DEFAULT_ROWS);
        let per_statement = insert::rows_per_statement(MAX_BINDS, target.columns.len(), batch_size);
        // Leave room for the statement text and the protocol's framing.
        let byte_budget = usize::try_from(self.max_packet / 2).unwrap_or(usize::MAX).max(64 << 10);
        let quoted: Vec<String> = target.columns.iter().map(|c| quote_ident(c)).collect();
        let mut ins = Inserter {
            full: insert::statement(&table.name.quoted(), &quoted, per_statement),
            quoted_table: table.name.quoted(),
            quoted,
            per_statement,
            byte_budget,
            batch_size,
            pending: Vec::new(),
            pending_bytes: 0,
            written: 0,
            statements: 0,
        };
        match rows {
            RowInput::Values(mut batches) => {
                while let Some(batch) = batches.recv().await {
                    for row in batch {
                        let row: Vec<Param> =
                            row.into_iter().zip(&codecs).map(|(v, c)| Param::generated(v, *c)).collect();
                        ins.push(self, target, row).await?;
                    }
                }
            }
            RowInput::CopyText(mut chunks) => {
                let binary: Vec<bool> = codecs.iter().map(|c| c.is_binary()).collect();
                let mut lines = LineSplitter::default();
                let mut parsed: Vec<Vec<Param>> = Vec::new();
                while let Some(chunk) = chunks.recv().await {
                    let chunk = chunk?;
                    let mut row_no = ins.written + ins.pending.len() as u64;
                    lines.push(&chunk, |line| {
                        row_no += 1;
                        let fields = copy_text::parse_line(line, &binary).map_err(|reason| Error::Data {
                            step: format!("restoring {name}"),
                            reason: format!("row {row_no}: {reason}"),
                        })?;
                        if fields.len() != codecs.len() {
                            return Err(Error::Data {
                                step: format!("restoring {name}"),
                                reason: format!("row {row_no} has {} fields, expected {}", fields.len(), codecs.len()),
                            });
                        }
                        parsed.push(fields.into_iter().zip(&codecs).map(|(f, c)| Param::restored(f, *c)).collect());
                        Ok(())
                    })?;
                    for row in parsed.drain(..) {
                        ins.push(self, target, row).await?;
                    }
                }
                if !lines.is_clean() {
                    return Err(Error::Data {
                        step: format!("restoring {name}"),
                        reason: "the last row has no end".into(),
                    });
                }
            }
        }
        ins.flush(self, target).await?;
        target.progress.finish();
        Ok(ins.written)
    }
}

/// Rows gathered into multi-row INSERTs.
struct Inserter {
    /// The statement for a full batch (prepared once, reused).
    full: String,
    quoted_table: String,
    quoted: Vec<String>,
    per_statement: usize,
    byte_budget: usize,
    batch_size: u64,
    pending: Vec<Vec<Param>>,
    pending_bytes: usize,
    written: u64,
    statements: u64,
}

impl Inserter {
    async fn push(&mut self, db: &mut MySqlBackend, target: &LoadTable<'_>, row: Vec<Param>) -> Result<(), Error> {
        self.pending_bytes += row.iter().map(Param::size).sum::<usize>();
        self.pending.push(row);
        if self.pending.len() >= self.per_statement || self.pending_bytes >= self.byte_budget {
            self.flush(db, target).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, db: &mut MySqlBackend, target: &LoadTable<'_>) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let n = rows.len();
        let full = n == self.per_statement;
        let sql = if full { self.full.clone() } else { insert::statement(&self.quoted_table, &self.quoted, n) };
        self.statements += 1;
        let name = target.table.name.to_string();
        let step = db
            .step(format!("loading {name} (INSERT statement {})", self.statements))
            .table(name)
            .batches(self.batch_size, self.written);
        // Only the full-size statement is worth keeping prepared.
        let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(full);
        for row in rows {
            for p in row {
                q = p.bind(q);
            }
        }
        q.execute(&mut db.conn).await.map_err(|e| {
            let mut err = translate(e, &step);
            if let Error::Constraint(v) = &mut err
                && v.batch.is_none()
                && self.batch_size > 0
            {
                v.batch = Some(self.written / self.batch_size + 1);
            }
            err
        })?;
        self.written += n as u64;
        target.progress.inc(n as u64);
        Ok(())
    }
}

/// A trigger body that assigns `NEW.col` (`SET NEW.x = ...`, `SET x = 1, NEW.y = 2`).
fn sets_new_values(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    let compact: String = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    compact.contains("set new.") || compact.contains(", new.") && compact.contains("set ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_triggers_that_rewrite_rows() {
        assert!(sets_new_values("SET NEW.create_date = NOW()"));
        assert!(sets_new_values("BEGIN\n  SET\n    new.x = 1;\nEND"));
        assert!(!sets_new_values("BEGIN INSERT INTO log VALUES (NEW.id); END"));
    }

    #[test]
    fn generated_values_fit_their_columns() {
        assert!(matches!(Param::generated(Value::Text("0101".into()), Codec::Bits(4)), Param::UInt(5)));
        assert!(
            matches!(Param::generated(Value::Bytes(vec![1; 40]), Codec::Binary { max: Some(16) }), Param::Bytes(b) if b.len() == 16)
        );
        assert!(
            matches!(Param::restored(Field::Bytes(vec![1; 40]), Codec::Binary { max: Some(16) }), Param::Bytes(b) if b.len() == 40)
        );
        assert!(matches!(Param::restored(Field::Text("-0".into()), Codec::Text), Param::Text(s) if s == "-0"));
    }
}
