//! Loads into SQLite: foreign keys deferred to COMMIT (load order and cycles stop
//! mattering), temporary indexes on foreign-key columns where a cycle needs them, a
//! bounded bigger page cache, one prepared single-row `INSERT OR ROLLBACK` bound row by
//! row through SQLite's own interface (`bind.rs`). A restore sets the targets' triggers aside (SQLite cannot disable one)
//! and creates them again before COMMIT — DDL is transactional here.

use std::path::Path;

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteBackend;
use super::bind;
use super::errors::{translate, translate_code};
use crate::db::backend::{Backend, GeneratedKey, LoadPurpose, LoadRequest, LoadTable, RowInput};
use crate::db::copy_text::{self, Field, LineSplitter};
use crate::db::insert;
use crate::db::schema::{Schema, TableName, TypeKind, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::value::Value;
use crate::error::{ConstraintViolation, Error, Violation};
use crate::output::plural;

/// Rows per batch (how a refused row is named) when the caller does not say (restores).
const DEFAULT_ROWS: u64 = 5_000;
/// The page cache while loading (`PRAGMA cache_size`, negative: KiB), a bound, not an
/// allocation: SQLite takes pages as it touches them. With SQLite's 2 MB default, rows
/// going into indexes keyed by random values (uuid keys, emails) evict and re-read the
/// same pages: half of a 1M-row load's time was `pread`/`pwrite` in the kernel.
const LOAD_CACHE_KIB: i64 = 65_536;
/// `OR ROLLBACK` (a failing row ends the transaction, which seed rolls back anyway)
/// spares SQLite the statement journal it may otherwise write, page by page, so that
/// one failing statement could be undone alone. Where a statement may still abort (a
/// trigger's `RAISE(ABORT)`), SQLite keeps it.
const INSERT: &str = "INSERT OR ROLLBACK";

fn q(e: sqlx::Error, what: &str, db: Option<&Path>) -> Error {
    translate(e, &Step::new(what), db)
}

/// What `start_load` set aside.
#[derive(Debug, Default)]
pub struct LoadState {
    temp_indexes: Vec<String>,
    /// (name, CREATE TRIGGER statement) of triggers dropped for a restore.
    triggers: Vec<(String, String)>,
    /// Tables whose foreign keys `finish` checks (loaded with foreign keys off).
    check: Vec<TableName>,
    /// `PRAGMA cache_size` before the load, put back by `finish`.
    cache_size: Option<i64>,
}

impl SqliteBackend {
    pub(super) async fn start(&mut self, req: &LoadRequest<'_>) -> Result<(), Error> {
        self.load = LoadState::default();
        let previous = self.one_i64("PRAGMA cache_size".into(), &Step::new("reading the page cache size")).await?;
        if previous.is_some_and(|kib| kib < 0 && kib > -LOAD_CACHE_KIB) {
            self.exec(&format!("PRAGMA cache_size = {}", -LOAD_CACHE_KIB), "sizing the page cache for the load")
                .await?;
            self.load.cache_size = previous;
        }
        if self.foreign_keys_off {
            // Checked by `finish`, table by table: nothing to defer, no child indexes.
            self.load.check = req.targets.clone();
        } else if req.cycle_edges.is_empty() {
            // Parents load first and every row references a parent already there, so
            // the deferred-key counter stays at zero and no parent row inserted makes
            // SQLite look for its children: indexes for that would only cost upkeep
            // (they nearly doubled an ordinary 1M-row load).
            self.exec("PRAGMA defer_foreign_keys = ON", "deferring foreign keys").await?;
        } else {
            self.exec("PRAGMA defer_foreign_keys = ON", "deferring foreign keys").await?;
            let phase = self.printer.phase("indexing foreign keys for the load");
            self.load.temp_indexes =
                add_foreign_key_indexes(&mut self.conn, self.path.as_deref(), req.schema, &req.targets).await?;
            phase.finish();
        }
        // Triggers go first: SQLite empties a table with triggers row by row.
        self.set_triggers_aside(req).await?;
        if req.empty_first {
            // Children first: tables `--cascade` adds, then the targets, last loaded first.
            for t in req.also_empty.iter().map(|(t, _)| t).chain(req.targets.iter().rev()) {
                let phase = self.printer.phase(format!("emptying {t}"));
                self.exec(&format!("DELETE FROM {}", t.quoted()), &format!("emptying {t}")).await?;
                phase.finish();
            }
        }
        Ok(())
    }

    /// A restore drops the targets' triggers (SQLite cannot disable one) and `finish`
    /// creates them again; DDL is transactional here.
    async fn set_triggers_aside(&mut self, req: &LoadRequest<'_>) -> Result<(), Error> {
        if req.purpose == LoadPurpose::Restore && !req.targets.is_empty() {
            let names: Vec<String> = req.targets.iter().map(|t| quote_literal(&t.name)).collect();
            let sql = format!(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({})",
                names.join(", ")
            );
            let rows = self.text_rows(sql, &Step::new("reading triggers")).await?;
            for row in rows {
                let (Some(Some(name)), Some(Some(sql))) = (row.first().cloned(), row.get(1).cloned()) else { continue };
                self.exec(&format!("DROP TRIGGER {}", quote_ident(&name)), "setting triggers aside for the load")
                    .await?;
                self.load.triggers.push((name, sql));
            }
        }
        Ok(())
    }

    pub(super) async fn finish(&mut self) -> Result<(), Error> {
        let state = std::mem::take(&mut self.load);
        drop_indexes(&mut self.conn, self.path.as_deref(), &state.temp_indexes).await?;
        if let Some(kib) = state.cache_size {
            self.exec(&format!("PRAGMA cache_size = {kib}"), "restoring the page cache size").await?;
        }
        for (_, sql) in &state.triggers {
            self.exec(sql, "re-creating triggers").await?;
        }
        for t in &state.check {
            let phase = self.printer.phase(format!("checking the foreign keys of {t}"));
            self.check_foreign_keys(t).await?;
            phase.finish();
        }
        Ok(())
    }

    /// `PRAGMA foreign_key_check` of one table: its first row whose key has no parent
    /// row fails the load, named with the parent and how many rows break the key.
    async fn check_foreign_keys(&mut self, table: &TableName) -> Result<(), Error> {
        let what = format!("checking the foreign keys of {table}");
        let db = self.path.clone();
        let db = db.as_deref();
        let fk_check = |tail: &str| {
            format!(
                "SELECT {tail} FROM pragma_foreign_key_check({}, {})",
                quote_literal(&table.name),
                schema_arg(table)
            )
        };
        let first = sqlx::query(AssertSqlSafe(fk_check("rowid, \"parent\", fkid") + " LIMIT 1"))
            .fetch_optional(&mut self.conn)
            .await
            .map_err(|e| q(e, &what, db))?;
        let Some(row) = first else { return Ok(()) };
        let rowid: Option<i64> = row.try_get(0).ok().flatten();
        let parent: String = row.try_get(1).unwrap_or_default();
        let fkid: i64 = row.try_get(2).unwrap_or_default();
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(fk_check("count(*)")))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| q(e, &what, db))?;
        let columns = sqlx::query(AssertSqlSafe(format!(
            "SELECT \"from\" FROM pragma_foreign_key_list({}, {}) WHERE id = {fkid} ORDER BY seq",
            quote_literal(&table.name),
            schema_arg(table)
        )))
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| q(e, &what, db))?
        .iter()
        .map(|r| r.try_get::<String, _>(0).unwrap_or_default())
        .collect::<Vec<_>>();
        Err(Error::Constraint(Box::new(ConstraintViolation {
            kind: Violation::ForeignKey,
            table: Some(table.to_string()),
            constraint: Some(format!("{table}({}) -> {parent}", columns.join(", "))),
            column: columns.first().cloned(),
            batch: None,
            row: None,
            step: what,
            detail: format!(
                "{} of {table} reference{} no row of {parent}{}",
                plural(u64::try_from(count).unwrap_or(0), "row", "rows"),
                if count == 1 { "s" } else { "" },
                rowid.map(|r| format!(" (the first: rowid {r})")).unwrap_or_default()
            ),
        })))
    }

    /// Integer primary keys (rowids): above the table's highest, under the lock.
    pub(super) async fn reserve(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        for key in keys {
            let name = &key.table;
            let sql = format!("SELECT max({}) FROM {}", quote_ident(&key.column), name.quoted());
            let max = self.one_i64(sql, &Step::new(format!("reading the next id of {name}"))).await?;
            key.start = max.unwrap_or(0) + 1;
            key.step = 1;
        }
        Ok(())
    }

    pub(super) async fn insert(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        let table = target.table;
        let name = table.name.to_string();
        let quoted: Vec<String> = target.columns.iter().map(|c| quote_ident(c)).collect();
        let sql = insert::statement_as(INSERT, &table.name.quoted(), &quoted, 1);
        let mut written = 0u64;
        match rows {
            RowInput::Values(mut batches) => {
                while let Some(rows) = batches.recv().await {
                    self.insert_rows(target, &sql, &mut written, |_, put| rows.iter().try_for_each(|row| put(row)))
                        .await?;
                }
            }
            RowInput::CopyText(mut chunks) => {
                let binary: Vec<bool> = target
                    .columns
                    .iter()
                    .map(|c| table.column(c).is_some_and(|col| col.kind == TypeKind::Bytea))
                    .collect();
                let mut lines = LineSplitter::default();
                let mut row: Vec<Value> = Vec::with_capacity(target.columns.len());
                while let Some(chunk) = chunks.recv().await {
                    let chunk = chunk?;
                    self.insert_rows(target, &sql, &mut written, |before, put| {
                        let mut row_no = before;
                        lines.push(&chunk, |line| {
                            row_no += 1;
                            let fields = copy_text::parse_line(line, &binary).map_err(|reason| Error::Data {
                                step: format!("restoring {name}"),
                                reason: format!("row {row_no}: {reason}"),
                            })?;
                            if fields.len() != target.columns.len() {
                                return Err(Error::Data {
                                    step: format!("restoring {name}"),
                                    reason: format!(
                                        "row {row_no} has {} fields, expected {}",
                                        fields.len(),
                                        target.columns.len()
                                    ),
                                });
                            }
                            row.clear();
                            row.extend(fields.into_iter().map(field_value));
                            put(&row)
                        })
                    })
                    .await?;
                }
                if !lines.is_clean() {
                    return Err(Error::Data {
                        step: format!("restoring {name}"),
                        reason: "the last row has no end".into(),
                    });
                }
            }
        }
        target.progress.finish();
        Ok(written)
    }

    /// Runs `feed` on the locked connection with the prepared single-row INSERT `sql`:
    /// `feed(rows written so far, put)` calls `put(row)` for each row. A row the
    /// database refuses is named by its batch (`--batch-size` rows each) and number.
    async fn insert_rows<F>(
        &mut self,
        target: &LoadTable<'_>,
        sql: &str,
        written: &mut u64,
        feed: F,
    ) -> Result<(), Error>
    where
        F: FnOnce(u64, &mut dyn FnMut(&[Value]) -> Result<(), Error>) -> Result<(), Error>,
    {
        let name = target.table.name.to_string();
        let batch = target.batch_size.unwrap_or(DEFAULT_ROWS).max(1);
        let db = self.path.clone();
        let before = *written;
        let refused = |f: bind::Failure, row: u64| {
            let batch_no = (row - 1) / batch + 1;
            let step = Step::new(format!("inserting batch {batch_no} into {name}")).table(name.clone());
            let mut err = translate_code(f.code, &f.message, &step, db.as_deref());
            if let Error::Constraint(v) = &mut err {
                v.batch = Some(batch_no);
                v.row = Some(row);
            }
            err
        };
        let mut handle =
            self.conn.lock_handle().await.map_err(|e| q(e, &format!("inserting into {name}"), db.as_deref()))?;
        let result = bind::blocking(|| {
            let mut stmt = bind::Insert::prepare(&mut handle, sql).map_err(|f| refused(f, *written + 1))?;
            let mut put = |row: &[Value]| {
                stmt.run(row).map_err(|f| refused(f, *written + 1))?;
                *written += 1;
                Ok(())
            };
            feed(before, &mut put)
        });
        drop(handle);
        target.progress.inc(*written - before);
        result
    }
}

/// The schema argument of a table-valued pragma: the attached database, or `main`.
fn schema_arg(table: &TableName) -> String {
    quote_literal(if table.schema.is_empty() { "main" } else { &table.schema })
}

fn field_value(f: Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Text(s) => Value::Text(s),
        Field::Bytes(b) => Value::Bytes(b),
    }
}

/// With foreign keys deferred, every parent row inserted (or deleted, for `--truncate`
/// and `--clean`) makes SQLite look for child rows pointing at it; without an index on
/// the child's columns that is a full scan per row, and loads grow with the square of
/// the row count. Creates the missing indexes, for every foreign key into a target
/// table, inside the load's transaction; the caller drops them (`drop_indexes`) before
/// COMMIT, and a failed load rolls them back.
async fn add_foreign_key_indexes(
    conn: &mut SqliteConnection,
    db: Option<&Path>,
    schema: &Schema,
    targets: &[TableName],
) -> Result<Vec<String>, Error> {
    let mut created = Vec::new();
    for child in &schema.tables {
        let mut indexes: Option<Vec<Vec<String>>> = None;
        for fk in child.foreign_keys.iter().filter(|fk| targets.contains(&fk.ref_table)) {
            // The rowid (INTEGER PRIMARY KEY) is its own index.
            if let [only] = fk.columns.as_slice()
                && child.column(only).is_some_and(|c| c.auto.is_some())
            {
                continue;
            }
            if indexes.is_none() {
                indexes = Some(index_columns(conn, db, &child.name).await?);
            }
            let covered = indexes.iter().flatten().any(|cols| {
                cols.len() >= fk.columns.len()
                    && fk.columns.iter().all(|c| cols[..fk.columns.len()].iter().any(|ic| ic.eq_ignore_ascii_case(c)))
            });
            if covered {
                continue;
            }
            let idx = format!("seed_load_fk_{}", created.len() + 1);
            let cols: Vec<String> = fk.columns.iter().map(|c| quote_ident(c)).collect();
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE INDEX {} ON {} ({})",
                quote_ident(&idx),
                child.name.quoted(),
                cols.join(", ")
            )))
            .execute(&mut *conn)
            .await
            .map_err(|e| q(e, &format!("indexing {}.{} for the load", child.name, fk.columns.join(",")), db))?;
            indexes.get_or_insert_default().push(fk.columns.clone());
            created.push(idx);
        }
    }
    Ok(created)
}

/// The columns of each full (not partial) index of `table`, in index order.
async fn index_columns(
    conn: &mut SqliteConnection,
    db: Option<&Path>,
    table: &TableName,
) -> Result<Vec<Vec<String>>, Error> {
    let what = format!("reading the indexes of {table}");
    let list = sqlx::query(AssertSqlSafe(format!("PRAGMA index_list({})", quote_ident(&table.name))))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q(e, &what, db))?;
    let mut out = Vec::new();
    for row in list.iter().filter(|r| r.get::<i64, _>("partial") == 0) {
        let name: String = row.get("name");
        let cols = sqlx::query(AssertSqlSafe(format!("PRAGMA index_info({})", quote_ident(&name))))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| q(e, &what, db))?
            .iter()
            .map(|r| r.get::<Option<String>, _>("name").unwrap_or_default())
            .collect();
        out.push(cols);
    }
    Ok(out)
}

async fn drop_indexes(conn: &mut SqliteConnection, db: Option<&Path>, names: &[String]) -> Result<(), Error> {
    for name in names {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX {}", quote_ident(name))))
            .execute(&mut *conn)
            .await
            .map_err(|e| q(e, "dropping the load's temporary indexes", db))?;
    }
    Ok(())
}
