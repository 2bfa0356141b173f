//! MySQL and MariaDB: `information_schema` for introspection, the text protocol for
//! exact values out, multi-row INSERTs in one InnoDB transaction in, `GET_LOCK()` as
//! the per-database lock. Developed against MariaDB 10.11; MySQL 8 speaks the same
//! protocol and catalogs, and where the two differ the code says so (`flavor`).
//!
//! Every session runs with fixed settings (`SESSION_SQL_MODE`, `time_zone` '+00:00',
//! utf8mb4), so snapshots and checksums do not depend on the server's defaults.

mod codec;
pub mod errors;
mod export;
mod introspect;
mod load;
mod lock;
mod privileges;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use futures_util::TryStreamExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::db::backend::SequenceState;
use crate::db::backend::{
    Backend, ChunkSink, GeneratedKey, LoadPlan, LoadRequest, LoadTable, Privileges, Probe, RowForm, RowInput,
    TemplateLock, TemplateTargets, WriteIntent,
};
use crate::db::keys::RowKey;
use crate::db::schema::{Column, Schema, Table, TableName, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::template::Record;
use crate::db::url::{DbKind, DbUrl};
use crate::db::value::Value;
use crate::error::Error;

/// The session's sql_mode: strict (a value that does not fit is an error, never
/// silently cut), `ANSI_QUOTES` (identifiers are quoted "like this" everywhere in
/// seed), `NO_AUTO_VALUE_ON_ZERO` (an id 0 in a snapshot stays 0), and no
/// `NO_ZERO_DATE`/`NO_ZERO_IN_DATE`, so zero dates a permissive server stored come
/// back as they were; `NO_BACKSLASH_ESCAPES`, so a string literal is quoted the
/// standard way (`'it''s'`, `quote_literal`) and a backslash is just a backslash.
const SESSION_SQL_MODE: &str = "STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,\
NO_AUTO_VALUE_ON_ZERO,ANSI_QUOTES,NO_BACKSLASH_ESCAPES";

/// Which server answers: the catalogs differ in a few places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

pub struct MySqlBackend {
    conn: MySqlConnection,
    flavor: Flavor,
    timeout: Option<Duration>,
    /// The database the URL names (`DATABASE()`).
    database: String,
    max_packet: u64,
    /// Storage engine per table, from the last introspection.
    engines: HashMap<String, String>,
    /// The `GET_LOCK()` name held by this session, if any.
    lock: Option<String>,
    load: load::LoadState,
    printer: crate::output::Printer,
}

/// Connects and fixes the session settings; the version as "10.11.14-MariaDB".
pub async fn connect(
    url: &DbUrl,
    statement_timeout: Option<Duration>,
    printer: &crate::output::Printer,
) -> Result<(MySqlBackend, String), sqlx::Error> {
    // sqlx reads `mariadb://` URLs like `mysql://` ones (it ignores the scheme).
    let options = MySqlConnectOptions::from_str(url.expose())?
        .pipes_as_concat(false)
        .no_engine_substitution(true)
        .timezone(Some("+00:00".to_owned()))
        .charset("utf8mb4");
    let mut conn = options.connect().await?;
    let row = sqlx::raw_sql("SELECT VERSION(), DATABASE(), @@max_allowed_packet").fetch_one(&mut conn).await?;
    let text = |i: usize| row.try_get_unchecked::<Option<String>, _>(i).map(Option::unwrap_or_default);
    let full_version = text(0)?;
    let database = text(1)?;
    let max_packet = text(2)?.parse().unwrap_or(4 << 20);
    let flavor = if full_version.contains("MariaDB") { Flavor::MariaDb } else { Flavor::MySql };
    if database.is_empty() {
        return Err(sqlx::Error::Configuration("the URL names no database (mysql://user@host/DATABASE)".into()));
    }
    let mut set = vec![format!("sql_mode = '{SESSION_SQL_MODE}'")];
    match (flavor, statement_timeout) {
        (Flavor::MariaDb, Some(t)) => set.push(format!("max_statement_time = {}", t.as_secs_f64())),
        // MySQL bounds only SELECTs this way.
        (Flavor::MySql, Some(t)) => set.push(format!("max_execution_time = {}", t.as_millis())),
        _ => {}
    }
    if flavor == Flavor::MySql {
        // Fresh AUTO_INCREMENT and row figures from information_schema.
        set.push("information_schema_stats_expiry = 0".into());
    }
    sqlx::raw_sql(AssertSqlSafe(format!("SET SESSION {}", set.join(", ")))).execute(&mut conn).await?;
    // "10.11.14-MariaDB-0+deb12u2" -> "10.11.14-MariaDB"; "8.0.36" stays.
    let version = match full_version.find("-MariaDB") {
        Some(i) => full_version[..i + "-MariaDB".len()].to_owned(),
        None => full_version.split('-').next().unwrap_or_default().to_owned(),
    };
    let backend = MySqlBackend {
        conn,
        flavor,
        timeout: statement_timeout,
        database,
        max_packet,
        engines: HashMap::new(),
        lock: None,
        load: load::LoadState::default(),
        printer: printer.clone(),
    };
    Ok((backend, version))
}

/// Every value of a text-protocol row as text (`None` for NULL); an error for bytes
/// that are not UTF-8.
fn row_texts(row: &MySqlRow) -> Result<Vec<Option<String>>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            let bytes: Option<&[u8]> = row.try_get_unchecked(i)?;
            bytes
                .map(|b| {
                    String::from_utf8(b.to_vec()).map_err(|_| sqlx::Error::ColumnDecode {
                        index: format!("{}", i + 1),
                        source: "the value is not UTF-8 text".into(),
                    })
                })
                .transpose()
        })
        .collect()
}

impl MySqlBackend {
    fn step(&self, what: impl Into<String>) -> Step {
        Step::new(what).timeout(self.timeout)
    }

    async fn exec(&mut self, sql: String, step: &Step) -> Result<(), Error> {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map(|_| ())
            .map_err(|e| errors::translate(e, step))
    }

    /// Rows of `sql` (text protocol), every value as text.
    async fn texts(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error> {
        let mut out = Vec::new();
        let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| errors::translate(e, step))? {
            out.push(row_texts(&row).map_err(|e| errors::translate(e, step))?);
        }
        Ok(out)
    }

    async fn release_lock(&mut self) {
        if let Some(name) = self.lock.take() {
            let _ = sqlx::raw_sql(AssertSqlSafe(format!("DO RELEASE_LOCK({})", quote_literal(&name))))
                .execute(&mut self.conn)
                .await;
        }
    }
}

impl Backend for MySqlBackend {
    fn kind(&self) -> DbKind {
        DbKind::Mysql
    }

    fn translate(&self, err: sqlx::Error, step: &Step) -> Error {
        errors::translate(err, step)
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS CHAR)")
    }

    fn cast_int(&self, expr: &str) -> String {
        format!("CAST({expr} AS SIGNED)")
    }

    fn sql_literal(&self, v: &Value, col: &Column) -> String {
        codec::literal(v, col)
    }

    fn values_row_keyword(&self) -> &'static str {
        match self.flavor {
            Flavor::MySql => "ROW", // MySQL 8's table value constructor: VALUES ROW(...)
            Flavor::MariaDb => "",
        }
    }

    async fn execute(&mut self, sql: String, step: &Step) -> Result<(), Error> {
        self.exec(sql, step).await
    }

    /// Each value inserted, as the load binds it (a string; BIT as a number), into a
    /// temporary table with one column of the column's type, under the session's
    /// strict sql_mode: a value the server would cut, round out of range or refuse is
    /// an error there as in the load. Temporary tables are the session's own and do
    /// not end the transaction.
    async fn refused_values(
        &mut self,
        col: &Column,
        values: &[String],
        step: &Step,
    ) -> Result<Vec<(String, String)>, Error> {
        if matches!(codec::Codec::of(col), codec::Codec::Spatial { .. } | codec::Codec::Binary { .. }) {
            return Ok(Vec::new()); // written as bytes: nothing a text probe would say
        }
        let table = quote_ident("seed_value_check");
        // The type as the catalog spells it, without the SRID seed appends for spatial types.
        let ty = col.type_name.split(" srid ").next().unwrap_or_default();
        // Inside a READ ONLY transaction (snapshot create) MariaDB refuses even a
        // temporary table: then the probe checks nothing, like any probe that cannot run.
        let created = match self.exec(format!("DROP TEMPORARY TABLE IF EXISTS {table}"), step).await {
            Ok(_) => self.exec(format!("CREATE TEMPORARY TABLE {table} ({} {ty})", quote_ident(&col.name)), step).await,
            Err(e) => Err(e),
        };
        if let Err(e) = created {
            return match Probe::of(e) {
                Probe::Stop(e) => Err(e),
                _ => Ok(Vec::new()),
            };
        }
        let mut refused = Vec::new();
        for v in values {
            let literal = match codec::Codec::of(col) {
                codec::Codec::Bits(_) => codec::bits_value(v).map_or_else(|| quote_literal(v), |n| n.to_string()),
                _ => quote_literal(v),
            };
            if let Err(e) = self.exec(format!("INSERT INTO {table} VALUES ({literal})"), step).await {
                match Probe::of(e) {
                    Probe::Refused(reason) => refused.push((v.clone(), reason)),
                    Probe::Unknown => break,
                    Probe::Stop(e) => return Err(e),
                }
            }
        }
        self.exec(format!("DROP TEMPORARY TABLE IF EXISTS {table}"), step).await?;
        Ok(refused)
    }

    async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error> {
        self.texts(sql, step).await
    }

    async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error> {
        let rows = self.texts(sql, step).await?;
        let Some(text) = rows.into_iter().next().and_then(|r| r.into_iter().next()).flatten() else { return Ok(None) };
        text.parse::<i64>().map(Some).map_err(|_| Error::Data {
            step: step.what.clone(),
            reason: format!("expected an integer, the server answered '{}'", text.chars().take(40).collect::<String>()),
        })
    }

    async fn begin_read(&mut self, step: &Step) -> Result<(), Error> {
        self.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ".into(), step).await?;
        self.exec("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY".into(), step).await
    }

    async fn begin_write(&mut self, intent: &WriteIntent, step: &Step) -> Result<(), Error> {
        lock::get_lock(self, intent).await?;
        self.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ".into(), step).await?;
        self.exec("START TRANSACTION".into(), step).await
    }

    async fn transaction_ended(&mut self) {
        let _ = sqlx::raw_sql("SET SESSION foreign_key_checks = 1").execute(&mut self.conn).await;
        self.release_lock().await;
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        let (mut schema, engines) = introspect::introspect(self).await?;
        self.engines = engines;
        crate::db::migrations::set_aside(&mut schema);
        Ok(schema)
    }

    async fn session_settings(&mut self) -> Result<BTreeMap<String, String>, Error> {
        let step = self.step("reading session settings");
        let rows = self
            .texts(
                "SELECT @@session.time_zone, @@session.sql_mode, @@session.character_set_results, @@session.collation_connection"
                    .into(),
                &step,
            )
            .await?;
        let row = rows.into_iter().next().unwrap_or_default();
        let get = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok(BTreeMap::from([
            ("time_zone".to_owned(), get(0)),
            ("sql_mode".to_owned(), get(1)),
            ("character_set_results".to_owned(), get(2)),
            ("collation_connection".to_owned(), get(3)),
            ("binary_output".to_owned(), "hex".to_owned()),
            ("bit_output".to_owned(), "binary digits".to_owned()),
        ]))
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

    /// Quotes by hand: `QUOTE()` escapes with backslashes, which the session's
    /// `NO_BACKSLASH_ESCAPES` reads literally; binary strings travel as hex.
    fn key_literal(&self, key: &RowKey, alias: Option<&str>) -> String {
        let parts: Vec<String> = key
            .parts
            .iter()
            .zip(key.exprs(alias))
            .map(|(p, e)| {
                if codec::is_binary_type(&p.type_name) {
                    format!("CONCAT('X''', HEX({e}), '''')")
                } else {
                    format!("CONCAT('''', REPLACE({e}, '''', ''''''), '''')")
                }
            })
            .collect();
        if parts.len() == 1 { parts.join("") } else { format!("CONCAT({})", parts.join(", ',', ")) }
    }

    async fn each_row(
        &mut self,
        sql: String,
        step: &Step,
        each: &mut dyn FnMut(Vec<Option<String>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut self.conn);
        while let Some(row) = rows.try_next().await.map_err(|e| errors::translate(e, step))? {
            each(row_texts(&row).map_err(|e| errors::translate(e, step))?)?;
        }
        Ok(())
    }

    async fn estimate_rows(&mut self, sql: String, step: &Step) -> Result<Option<u64>, Error> {
        let mut rows = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN {sql}"))).fetch(&mut self.conn);
        let first = rows.try_next().await.map_err(|e| errors::translate(e, step))?;
        Ok(first.and_then(|r| {
            let bytes: Option<&[u8]> = r.try_get_unchecked("rows").ok()?;
            std::str::from_utf8(bytes?).ok()?.parse().ok()
        }))
    }

    async fn sequence_states(&mut self, table: &Table) -> Result<BTreeMap<String, SequenceState>, Error> {
        // The AUTO_INCREMENT counter, for the record: a restore never moves it down.
        let Some(col) = table.columns.iter().find(|c| c.auto.is_some()) else { return Ok(BTreeMap::new()) };
        let step = self.step(format!("reading the AUTO_INCREMENT of {}", table.name));
        let sql = format!(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
            quote_literal(&table.name.name)
        );
        Ok(match self.one_i64(sql, &step).await? {
            Some(next) => {
                BTreeMap::from([(col.name.clone(), SequenceState { last_value: next - 1, is_called: next > 1 })])
            }
            None => BTreeMap::new(),
        })
    }

    fn export_size_estimate(&self, tables: &[&Table]) -> u64 {
        tables.iter().map(|t| t.estimated_bytes).sum()
    }

    async fn plan_load(&mut self, req: &LoadRequest<'_>) -> Result<LoadPlan, Error> {
        self.plan(req).await
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

    // Cycles: the default (foreign keys are checked once, after the load:
    // `finish_load`). Settling keys: the default (explicit values move InnoDB's
    // AUTO_INCREMENT counter past them).

    async fn reserve_keys(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        // AUTO_INCREMENT values are written explicitly, from the table's highest key
        // under the lock (not the counter, which a failed attempt may have moved), so
        // children can reference them and a retried attempt writes the same rows.
        for key in keys {
            let name = &key.table;
            let sql = format!(
                "SELECT CAST(max({}) AS SIGNED) FROM {}",
                crate::db::schema::quote_ident(&key.column),
                name.quoted()
            );
            let s = self.step(format!("reading the highest {name}.{}", key.column));
            key.start = self.one_i64(sql, &s).await?.unwrap_or(0) + 1;
            key.step = 1;
        }
        Ok(())
    }

    async fn restore_sequences(&mut self, _tables: &[(&Table, &BTreeMap<String, SequenceState>)]) -> Result<(), Error> {
        // The restored rows' explicit ids already moved each AUTO_INCREMENT counter past
        // them. A counter that stood higher stays there: moving it down takes ALTER
        // TABLE, which would commit the transaction half-way.
        Ok(())
    }

    async fn privileges(&mut self) -> Result<Privileges, Error> {
        privileges::check(self).await
    }

    async fn identity(&mut self) -> Result<String, Error> {
        let step = self.step("identifying the database");
        let rows = self
            .texts(
                "SELECT CONCAT(DATABASE(), ' on ', @@hostname, ':', @@port, ' (', @@datadir, ', ', VERSION(), ')')"
                    .into(),
                &step,
            )
            .await?;
        rows.into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
            .ok_or_else(|| Error::Internal("the server did not say which database it is".into()))
    }

    async fn fingerprint(&mut self, migration_tables: &[TableName]) -> Result<String, Error> {
        template::fingerprint(self, migration_tables).await
    }
    async fn template_record(&mut self, tpl: &DbUrl) -> Result<Option<String>, Error> {
        template::record(self, tpl).await
    }
    async fn keep_template(&mut self, source: &DbUrl, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
        template::keep(self, source, t, record).await
    }
    async fn clone_template(&mut self, tpl: &DbUrl, clone: &DbUrl, _record: &Record) -> Result<(), Error> {
        template::clone(self, tpl, clone).await
    }
    async fn sibling_databases(&mut self) -> Result<Vec<String>, Error> {
        template::databases(self).await
    }
    async fn drop_database(&mut self, db: &DbUrl) -> Result<bool, Error> {
        template::drop_database(self, db).await
    }
    async fn lock_template(&mut self, tpl: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
        template::lock(self, tpl, wait).await
    }

    async fn close(self) {
        let _ = self.conn.close().await;
    }
}
