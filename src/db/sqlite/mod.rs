//! SQLite: PRAGMAs for introspection, `BEGIN IMMEDIATE` as the write lock, rows encoded
//! to and from the snapshot's COPY text here, multi-row INSERTs for loads.

mod bind;
pub mod errors;
mod export;
mod introspect;
mod load;
mod lock;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::db::backend::SequenceState;
use crate::db::backend::{
    Backend, ChunkSink, GeneratedKey, LoadPlan, LoadRequest, LoadTable, Privileges, RowForm, RowInput, TemplateLock,
    TemplateTargets, WriteIntent,
};
use crate::db::keys::{KeyPart, RowKey};
use crate::db::schema::{Column, Schema, Table, TableName, TypeKind};
use crate::db::step::Step;
use crate::db::template::Record;
use crate::db::url::{DbKind, DbUrl};
use crate::db::value::Value;
use crate::error::Error;

pub use introspect::DEMO_SCHEMA;
pub use lock::lock_holder;

/// How long a statement waits for another connection's lock before SQLite says BUSY.
/// Short by default, so a second writer is told at once who holds the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(2);
/// Once a write transaction is ours, COMMIT may wait this long for readers to finish.
const COMMIT_BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct SqliteBackend {
    conn: SqliteConnection,
    path: Option<PathBuf>,
    load: load::LoadState,
    /// The write transaction runs with foreign keys off (a load that empties its
    /// targets); `finish_load` checks them.
    foreign_keys_off: bool,
    printer: crate::output::Printer,
}

/// How a database file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Open {
    /// Made when missing: only the embedded default (`./seed.db`, which gets the demo
    /// schema); any other file a write command names must exist, so a typo in a URL
    /// fails without leaving an empty file behind.
    Create,
    /// Read and written; it must exist.
    Existing,
    /// Never created or changed (doctor): a missing file reads as an empty database.
    ReadOnly,
}

/// Opens the database file as `open` says.
pub async fn connect(
    url: &DbUrl,
    open: Open,
    printer: &crate::output::Printer,
) -> Result<(SqliteBackend, String), sqlx::Error> {
    let path = url.sqlite_path().cloned();
    if let Some(parent) = path.as_ref().and_then(|p| p.parent()).filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        return Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("directory {} does not exist", parent.display()),
        )));
    }
    if open == Open::Existing
        && let Some(p) = path.as_ref().filter(|p| !p.exists())
    {
        return Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no SQLite database file {}", p.display()),
        )));
    }
    // REGEXP (Rust's regex syntax): checks written with it can be evaluated and met.
    let mut options =
        SqliteConnectOptions::from_str(url.expose())?.foreign_keys(true).busy_timeout(BUSY_TIMEOUT).with_regexp();
    options = match open {
        Open::Create => options.create_if_missing(true),
        Open::Existing => options,
        // Nothing to open and nothing may be created: an empty in-memory database
        // stands for the file the first write will create.
        Open::ReadOnly if path.as_ref().is_some_and(|p| !p.exists()) => {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        }
        Open::ReadOnly => options.read_only(true),
    };
    let mut conn = options.connect().await?;
    let version: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut conn).await?;
    let backend = SqliteBackend {
        conn,
        path,
        load: load::LoadState::default(),
        foreign_keys_off: false,
        printer: printer.clone(),
    };
    Ok((backend, version))
}

/// After Ctrl-C dropped a connection mid-transaction: make sure nothing is left for a
/// later reader to roll back. The dropped connection's worker thread rolls back as it
/// closes, but the process may exit first and leave a hot journal. Taking the write
/// lock here waits until that connection has let go of its own (a mere read would not:
/// reading is allowed while another connection holds RESERVED), and rolls back a hot
/// journal if there is one; so the file alone is consistent when we exit.
pub async fn recover(url: &DbUrl) {
    let Some(path) = url.sqlite_path() else { return };
    if !path.exists() {
        return;
    }
    let Ok(options) = SqliteConnectOptions::from_str(url.expose()) else { return };
    if let Ok(mut conn) = options.busy_timeout(Duration::from_secs(10)).connect().await {
        if sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.is_ok() {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await;
        }
        let _ = conn.close().await;
    }
}

impl SqliteBackend {
    fn translate_err(&self, err: sqlx::Error, step: &Step) -> Error {
        errors::translate(err, step, self.path.as_deref())
    }

    async fn exec(&mut self, sql: &str, what: &str) -> Result<(), Error> {
        let step = Step::new(what);
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| self.translate_err(e, &step))
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    async fn foreign_keys_back_on(&mut self) {
        if std::mem::take(&mut self.foreign_keys_off) {
            let _ = sqlx::raw_sql("PRAGMA foreign_keys = ON").execute(&mut self.conn).await;
        }
    }
}

impl Backend for SqliteBackend {
    fn kind(&self) -> DbKind {
        DbKind::Sqlite
    }

    fn translate(&self, err: sqlx::Error, step: &Step) -> Error {
        self.translate_err(err, step)
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }

    fn cast_int(&self, expr: &str) -> String {
        format!("CAST({expr} AS INTEGER)")
    }

    fn sql_literal(&self, v: &Value, col: &Column) -> String {
        sqlite_literal(v, &col.type_name)
    }

    /// SQLite takes any value into any column, but one that is not a number keeps
    /// its text in a column of numeric affinity: for a column seed reads as a number
    /// (integer, real, numeric/decimal) that is a value of the wrong type, refused
    /// like the other kinds refuse it. The same reading as the literals the load
    /// writes (an integer, else a finite real, else text).
    async fn refused_values(
        &mut self,
        col: &Column,
        values: &[String],
        _step: &Step,
    ) -> Result<Vec<(String, String)>, Error> {
        let numeric = matches!(
            col.kind,
            TypeKind::SmallInt
                | TypeKind::Int
                | TypeKind::BigInt
                | TypeKind::Real
                | TypeKind::Double
                | TypeKind::Numeric { .. }
        );
        if !numeric {
            return Ok(Vec::new());
        }
        let is_number = |v: &str| v.trim().parse::<i64>().is_ok() || v.trim().parse::<f64>().is_ok_and(f64::is_finite);
        Ok(values
            .iter()
            .filter(|v| !is_number(v))
            .map(|v| {
                (v.clone(), format!("not a number: SQLite would keep it as text in this {} column", col.type_name))
            })
            .collect())
    }

    async fn execute(&mut self, sql: String, step: &Step) -> Result<(), Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| self.translate_err(e, step))
    }

    async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error> {
        let rows =
            sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut self.conn).await.map_err(|e| self.translate_err(e, step))?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<_, _>>()
            .map_err(|e| self.translate_err(e, step))
    }

    async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error> {
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut self.conn).await.map_err(|e| self.translate_err(e, step))
    }

    async fn begin_read(&mut self, step: &Step) -> Result<(), Error> {
        // A deferred transaction takes its shared lock at the first read and keeps it,
        // so every table is read as of one moment.
        self.execute("BEGIN".into(), step).await
    }

    async fn begin_write(&mut self, intent: &WriteIntent, step: &Step) -> Result<(), Error> {
        // A load that empties its targets runs with foreign keys off: SQLite then
        // empties a table without triggers by dropping its pages (the "truncate
        // optimization") instead of deleting and checking row by row (a minute for a
        // million rows). The pragma is a no-op inside a transaction, so it is set here;
        // `finish_load` checks every loaded table's keys before COMMIT.
        self.foreign_keys_off = intent.empties;
        if intent.empties {
            self.exec("PRAGMA foreign_keys = OFF", "setting foreign keys aside for the load").await?;
        }
        lock::begin_immediate(self, intent, step).await?;
        self.exec(&format!("PRAGMA busy_timeout = {}", COMMIT_BUSY_TIMEOUT.as_millis()), "setting the commit wait")
            .await
    }

    async fn transaction_ended(&mut self) {
        self.foreign_keys_back_on().await;
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        let mut schema = introspect::introspect(&mut self.conn).await?;
        crate::db::migrations::set_aside(&mut schema);
        Ok(schema)
    }

    async fn apply_demo_schema_if_empty(&mut self) -> Result<bool, Error> {
        introspect::apply_demo_schema_if_empty(&mut self.conn).await
    }

    async fn session_settings(&mut self) -> Result<BTreeMap<String, String>, Error> {
        Ok(BTreeMap::from([("encoding".to_owned(), "UTF-8".to_owned()), ("blob_output".to_owned(), "hex".to_owned())]))
    }

    async fn stream_table<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        sink: &mut S,
    ) -> Result<(), Error> {
        export::stream_table(self, table, columns, "", sink).await
    }

    async fn stream_filtered<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        filter: &str,
        order: &str,
        sink: &mut S,
    ) -> Result<(), Error> {
        export::stream_table(self, table, columns, &format!(" WHERE {filter} ORDER BY {order}"), sink).await
    }

    fn row_id(&self, _table: &Table) -> Option<Vec<KeyPart>> {
        Some(vec![KeyPart { expr: "rowid".into(), type_name: "integer".into() }])
    }

    fn key_literal(&self, key: &RowKey, alias: Option<&str>) -> String {
        let parts: Vec<String> = key.exprs(alias).iter().map(|e| format!("quote({e})")).collect();
        parts.join(" || ',' || ")
    }

    /// A row value's `IN` takes a subquery only: `VALUES` is one.
    fn key_in(&self, key: &RowKey, alias: Option<&str>, keys: &[&str]) -> String {
        let lhs = key.exprs(alias);
        if lhs.len() == 1 || keys.is_empty() {
            return crate::db::keys::in_list(&lhs, keys);
        }
        let rows: Vec<String> = keys.iter().map(|k| format!("({k})")).collect();
        format!("({}) IN (VALUES {})", lhs.join(", "), rows.join(", "))
    }

    async fn each_row(
        &mut self,
        sql: String,
        step: &Step,
        each: &mut dyn FnMut(Vec<Option<String>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        use futures_util::TryStreamExt;
        let path = self.path.clone();
        let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| errors::translate(e, step, path.as_deref()))? {
            let values = (0..row.len())
                .map(|i| row.try_get::<Option<String>, _>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| errors::translate(e, step, path.as_deref()))?;
            each(values)?;
        }
        Ok(())
    }

    async fn sequence_states(&mut self, _table: &Table) -> Result<BTreeMap<String, SequenceState>, Error> {
        Ok(BTreeMap::new())
    }

    fn export_size_estimate(&self, _tables: &[&Table]) -> u64 {
        self.path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len())
    }

    async fn plan_load(&mut self, _req: &LoadRequest<'_>) -> Result<LoadPlan, Error> {
        Ok(LoadPlan { mode: "foreign keys checked at commit", label: "sqlite", ..LoadPlan::default() })
    }

    async fn start_load(&mut self, req: &LoadRequest<'_>, _plan: &LoadPlan) -> Result<(), Error> {
        self.start(req).await
    }

    fn row_form(&self) -> RowForm {
        RowForm::Values
    }

    async fn load_table(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        self.insert(target, rows).await
    }

    async fn finish_load(&mut self) -> Result<(), Error> {
        self.finish().await
    }

    // Cycles: the default (foreign keys are checked at COMMIT, so order does not
    // matter). Settling keys: the default (rowids, and AUTOINCREMENT's
    // sqlite_sequence, follow explicit inserts).

    async fn reserve_keys(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        self.reserve(keys).await
    }

    async fn restore_sequences(&mut self, _tables: &[(&Table, &BTreeMap<String, SequenceState>)]) -> Result<(), Error> {
        Ok(())
    }

    async fn privileges(&mut self) -> Result<Privileges, Error> {
        let user = crate::system::os_user();
        // SQLite also writes its journal beside the file: the directory must be writable too.
        let dir_of = |p: &Path| {
            p.parent().filter(|d| !d.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        };
        let file_ok = self.path.as_deref().is_none_or(crate::system::writable_by_me);
        let dir_ok = self.path.as_deref().is_none_or(|p| crate::system::writable_by_me(&dir_of(p)));
        let writable = file_ok && dir_ok;
        let detail = match (file_ok, dir_ok) {
            (true, true) => format!("{user}: database file and its directory writable"),
            (false, _) => format!("{user}: database file not writable (bulk and restore will fail)"),
            (true, false) => format!(
                "{user}: database file writable but its directory is not (SQLite writes its journal there: bulk and restore will fail)"
            ),
        };
        Ok(Privileges {
            ok: writable,
            fatal: !writable,
            detail,
            data: serde_json::json!({ "user": user, "writable": writable }),
        })
    }

    async fn identity(&mut self) -> Result<String, Error> {
        Ok(match &self.path {
            Some(p) => std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string(),
            None => ":memory:".to_owned(),
        })
    }

    async fn fingerprint(&mut self, migration_tables: &[TableName]) -> Result<String, Error> {
        template::fingerprint(self, migration_tables).await
    }
    async fn template_record(&mut self, tpl: &DbUrl) -> Result<Option<String>, Error> {
        template::record(tpl).await
    }
    async fn keep_template(&mut self, _source: &DbUrl, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
        template::keep(self, t, record).await
    }
    async fn clone_template(&mut self, tpl: &DbUrl, clone: &DbUrl, _record: &Record) -> Result<(), Error> {
        let mode = template::source_mode(self);
        let (tpl, clone) = (tpl.clone(), clone.clone());
        tokio::task::spawn_blocking(move || template::clone(&tpl, &clone, mode))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    }
    async fn sibling_databases(&mut self) -> Result<Vec<String>, Error> {
        template::databases(self)
    }
    async fn drop_database(&mut self, db: &DbUrl) -> Result<bool, Error> {
        template::drop_database(db)
    }
    async fn lock_template(&mut self, tpl: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
        template::lock(tpl, wait).await
    }

    async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// A value as SQLite stores it in a column of `declared` type: the column's affinity
/// turns numeric text into numbers (INTEGER, REAL, NUMERIC) or numbers into text (TEXT),
/// so a check sees the same value it would see on insert.
fn sqlite_literal(v: &Value, declared: &str) -> String {
    use crate::db::evaluate::plain_literal;
    use crate::db::schema::quote_literal;
    let upper = declared.to_ascii_uppercase();
    let text_affinity = !upper.contains("INT") && ["CHAR", "CLOB", "TEXT"].iter().any(|t| upper.contains(t));
    let none_affinity = upper.contains("BLOB") || upper.trim().is_empty();
    match v {
        Value::Int(_) | Value::Float(_) if text_affinity => match v {
            Value::Int(i) => quote_literal(&i.to_string()),
            Value::Float(f) => quote_literal(&f.to_string()),
            _ => plain_literal(v),
        },
        Value::Text(s) if !text_affinity && !none_affinity => {
            if let Ok(i) = s.trim().parse::<i64>() {
                i.to_string()
            } else if let Ok(f) =
                s.trim().parse::<f64>().map_err(|_| ()).and_then(|f| if f.is_finite() { Ok(f) } else { Err(()) })
            {
                format!("{f:?}")
            } else {
                quote_literal(s)
            }
        }
        _ => plain_literal(v),
    }
}

#[cfg(test)]
mod literal_tests {
    use super::*;

    #[test]
    fn literals_follow_the_column_affinity() {
        assert_eq!(sqlite_literal(&Value::Text("12".into()), "INTEGER"), "12");
        assert_eq!(sqlite_literal(&Value::Text("1.5".into()), "NUMERIC(5,2)"), "1.5");
        assert_eq!(sqlite_literal(&Value::Text("2024-01-01".into()), "DATETIME"), "'2024-01-01'");
        assert_eq!(sqlite_literal(&Value::Int(7), "VARCHAR(10)"), "'7'");
        assert_eq!(sqlite_literal(&Value::Text("7".into()), "TEXT"), "'7'");
        assert_eq!(sqlite_literal(&Value::Text("7".into()), ""), "'7'");
    }
}
