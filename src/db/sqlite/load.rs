//! Loads into SQLite: foreign keys deferred to COMMIT (load order and cycles stop
//! mattering), temporary indexes on foreign-key columns, prepared multi-row INSERTs
//! sized to the bind limit. A restore sets the targets' triggers aside (SQLite cannot
//! disable one) and creates them again before COMMIT — DDL is transactional here.

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteBackend;
use super::errors::translate;
use crate::db::backend::{Backend, GeneratedKey, LoadPurpose, LoadRequest, LoadTable, RowInput};
use crate::db::copy_text::{self, Field, LineSplitter};
use crate::db::errors::Step;
use crate::db::insert;
use crate::db::schema::{Schema, TableName, TypeKind, quote_ident, quote_literal};
use crate::db::value::Value;
use crate::error::Error;

/// SQLite's default limit on bound parameters per statement.
const MAX_BINDS: usize = 32_766;
/// Rows per INSERT when the caller does not say (restores).
const DEFAULT_ROWS: u64 = 5_000;

fn q(e: sqlx::Error, what: &str) -> Error {
    translate(e, &Step::new(what), None)
}

/// What `start_load` set aside.
#[derive(Debug, Default)]
pub struct LoadState {
    temp_indexes: Vec<String>,
    /// (name, CREATE TRIGGER statement) of triggers dropped for a restore.
    triggers: Vec<(String, String)>,
}

impl SqliteBackend {
    pub(super) async fn start(&mut self, req: &LoadRequest<'_>) -> Result<(), Error> {
        self.load = LoadState::default();
        self.exec("PRAGMA defer_foreign_keys = ON", "deferring foreign keys").await?;
        self.load.temp_indexes = add_foreign_key_indexes(&mut self.conn, req.schema, &req.targets).await?;
        if req.empty_first {
            for t in &req.targets {
                self.exec(&format!("DELETE FROM {}", t.quoted()), "emptying the tables").await?;
            }
        }
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
        drop_indexes(&mut self.conn, &state.temp_indexes).await?;
        for (_, sql) in &state.triggers {
            self.exec(sql, "re-creating triggers").await?;
        }
        Ok(())
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
        let per_statement =
            insert::rows_per_statement(MAX_BINDS, target.columns.len(), target.batch_size.unwrap_or(DEFAULT_ROWS));
        let quoted: Vec<String> = target.columns.iter().map(|c| quote_ident(c)).collect();
        let full = insert::statement(&table.name.quoted(), &quoted, per_statement);
        let mut written = 0u64;
        let mut batch_no = 0u64;
        let mut pending: Vec<Vec<Value>> = Vec::new();
        match rows {
            RowInput::Values(mut batches) => {
                while let Some(rows) = batches.recv().await {
                    pending.extend(rows);
                    while pending.len() >= per_statement {
                        let rows: Vec<Vec<Value>> = pending.drain(..per_statement).collect();
                        batch_no += 1;
                        written += self.insert_rows(target, &full, rows, batch_no).await?;
                    }
                }
            }
            RowInput::CopyText(mut chunks) => {
                let binary: Vec<bool> = target
                    .columns
                    .iter()
                    .map(|c| table.column(c).is_some_and(|col| col.kind == TypeKind::Bytea))
                    .collect();
                let mut lines = LineSplitter::default();
                while let Some(chunk) = chunks.recv().await {
                    let chunk = chunk?;
                    let mut row_no = written + pending.len() as u64;
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
                        pending.push(fields.into_iter().map(field_value).collect());
                        Ok(())
                    })?;
                    while pending.len() >= per_statement {
                        let rows: Vec<Vec<Value>> = pending.drain(..per_statement).collect();
                        batch_no += 1;
                        written += self.insert_rows(target, &full, rows, batch_no).await?;
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
        if !pending.is_empty() {
            let sql = insert::statement(&table.name.quoted(), &quoted, pending.len());
            batch_no += 1;
            written += self.insert_rows(target, &sql, std::mem::take(&mut pending), batch_no).await?;
        }
        target.progress.finish();
        Ok(written)
    }

    async fn insert_rows(
        &mut self,
        target: &LoadTable<'_>,
        sql: &str,
        rows: Vec<Vec<Value>>,
        batch_no: u64,
    ) -> Result<u64, Error> {
        let n = rows.len() as u64;
        let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
        for row in rows {
            for v in row {
                q = match v {
                    Value::Null => q.bind(None::<String>),
                    Value::Bool(b) => q.bind(b),
                    Value::Int(i) => q.bind(i),
                    Value::Float(f) => q.bind(f),
                    Value::Text(s) => q.bind(s),
                    Value::Bytes(b) => q.bind(b),
                };
            }
        }
        let name = target.table.name.to_string();
        let step = Step::new(format!("inserting batch {batch_no} into {name}")).table(name);
        q.execute(&mut self.conn).await.map_err(|e| {
            let mut err = self.translate(e, &step);
            if let Error::Constraint(v) = &mut err {
                v.batch = Some(batch_no);
            }
            err
        })?;
        target.progress.inc(n);
        Ok(n)
    }
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
                indexes = Some(index_columns(conn, &child.name).await?);
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
            .map_err(|e| q(e, &format!("indexing {}.{} for the load", child.name, fk.columns.join(","))))?;
            indexes.get_or_insert_default().push(fk.columns.clone());
            created.push(idx);
        }
    }
    Ok(created)
}

/// The columns of each full (not partial) index of `table`, in index order.
async fn index_columns(conn: &mut SqliteConnection, table: &TableName) -> Result<Vec<Vec<String>>, Error> {
    let what = format!("reading the indexes of {table}");
    let list = sqlx::query(AssertSqlSafe(format!("PRAGMA index_list({})", quote_ident(&table.name))))
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q(e, &what))?;
    let mut out = Vec::new();
    for row in list.iter().filter(|r| r.get::<i64, _>("partial") == 0) {
        let name: String = row.get("name");
        let cols = sqlx::query(AssertSqlSafe(format!("PRAGMA index_info({})", quote_ident(&name))))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| q(e, &what))?
            .iter()
            .map(|r| r.get::<Option<String>, _>("name").unwrap_or_default())
            .collect();
        out.push(cols);
    }
    Ok(out)
}

async fn drop_indexes(conn: &mut SqliteConnection, names: &[String]) -> Result<(), Error> {
    for name in names {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP INDEX {}", quote_ident(name))))
            .execute(&mut *conn)
            .await
            .map_err(|e| q(e, "dropping the load's temporary indexes"))?;
    }
    Ok(())
}
