//! Database access. Each kind of database lives in its own module behind the
//! [`Backend`] trait; [`Session`] is the one place that dispatches to them, so commands
//! never ask which kind they are talking to.

pub mod backend;
pub mod checks;
pub mod copy_text;
pub mod dependents;
pub mod errors;
pub mod evaluate;
pub mod insert;
pub mod keys;
pub mod migrations;
pub mod mysql;
pub mod postgres;
pub mod retry;
pub mod schema;
pub mod select;
pub mod sqlite;
pub mod step;
pub mod template;
pub mod triggers;
pub mod url;
pub mod value;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

pub use backend::{
    Backend, ChunkSink, CycleEdge, CycleFix, GeneratedKey, LoadPlan, LoadPurpose, LoadRequest, LoadTable, PoolTargets,
    Privileges, RowForm, RowInput, SequenceState, TemplateLock, TemplateTargets, WriteIntent,
};
use schema::{Schema, SchemaVersion, Table, TableName};
use step::Step;
use url::{DbKind, DbUrl};

use crate::error::Error;
use crate::output::{Level, Printer};

/// A connection to one kind of database.
pub enum Conn {
    Postgres(postgres::PgBackend),
    Sqlite(sqlite::SqliteBackend),
    Mysql(mysql::MySqlBackend),
}

/// Runs `$body` with `$b` bound to the kind's backend: the one dispatch point.
macro_rules! dispatch {
    ($conn:expr, $b:ident => $body:expr) => {
        match $conn {
            Conn::Postgres($b) => $body,
            Conn::Sqlite($b) => $body,
            Conn::Mysql($b) => $body,
        }
    };
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    pub kind: DbKind,
    /// e.g. "15.18" or "3.51.0"
    pub version: String,
    #[serde(skip)]
    pub latency: Duration,
}

/// An open connection, what it connected to, and the statement timeout it runs under.
pub struct Session {
    conn: Conn,
    pub info: ServerInfo,
    pub url: DbUrl,
    pub statement_timeout: Option<Duration>,
}

/// Whether a command may create or change the database file (SQLite): `doctor` never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

impl Session {
    pub fn step(&self, what: impl Into<String>) -> Step {
        Step::new(what).timeout(self.statement_timeout)
    }

    pub fn kind(&self) -> DbKind {
        self.info.kind
    }

    pub async fn close(self) {
        dispatch!(self.conn, b => b.close().await)
    }

    pub async fn execute(&mut self, sql: String, step: &Step) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.execute(sql, step).await)
    }
    pub async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error> {
        dispatch!(&mut self.conn, b => b.text_rows(sql, step).await)
    }
    pub async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error> {
        dispatch!(&mut self.conn, b => b.one_i64(sql, step).await)
    }
    pub fn cast_text(&self, expr: &str) -> String {
        dispatch!(&self.conn, b => b.cast_text(expr))
    }
    pub fn cast_int(&self, expr: &str) -> String {
        dispatch!(&self.conn, b => b.cast_int(expr))
    }
    pub async fn evaluate(
        &mut self,
        columns: &[&schema::Column],
        rows: &[Vec<value::Value>],
        exprs: &[String],
        step: &Step,
    ) -> Result<Vec<Vec<Option<String>>>, Error> {
        dispatch!(&mut self.conn, b => b.evaluate(columns, rows, exprs, step).await)
    }

    /// See [`Backend::refused_values`].
    pub async fn refused_values(
        &mut self,
        col: &schema::Column,
        values: &[String],
    ) -> Result<Vec<(String, String)>, Error> {
        let step = self.step(format!("checking the factories file's values for column {}", col.name));
        dispatch!(&mut self.conn, b => b.refused_values(col, values, &step).await)
    }

    pub async fn begin_read(&mut self) -> Result<(), Error> {
        let step = self.step("starting a read transaction");
        dispatch!(&mut self.conn, b => b.begin_read(&step).await)
    }
    pub async fn export_snapshot(&mut self) -> Result<Option<String>, Error> {
        dispatch!(&mut self.conn, b => b.export_snapshot().await)
    }
    pub async fn begin_read_at(&mut self, snapshot: &str) -> Result<(), Error> {
        let step = self.step("starting a read transaction on the shared snapshot");
        dispatch!(&mut self.conn, b => b.begin_read_at(snapshot, &step).await)
    }
    pub async fn begin_write(&mut self, intent: &WriteIntent) -> Result<(), Error> {
        let step = self.step("starting the transaction");
        dispatch!(&mut self.conn, b => b.begin_write(intent, &step).await)
    }
    pub async fn commit(&mut self, what: &str) -> Result<(), Error> {
        let step = self.step(what);
        dispatch!(&mut self.conn, b => b.commit(&step).await)
    }
    pub async fn rollback(&mut self) {
        dispatch!(&mut self.conn, b => b.rollback().await)
    }

    pub async fn introspect(&mut self) -> Result<Schema, Error> {
        dispatch!(&mut self.conn, b => b.introspect().await)
    }
    pub async fn schema_version(&mut self, schema: &Schema) -> Result<Option<SchemaVersion>, Error> {
        dispatch!(&mut self.conn, b => migrations::schema_version(b, schema).await)
    }
    pub async fn apply_demo_schema_if_empty(&mut self) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.apply_demo_schema_if_empty().await)
    }
    pub async fn count_rows(&mut self, table: &TableName) -> Result<u64, Error> {
        let step = self.step(format!("counting rows of {table}")).table(table.to_string());
        dispatch!(&mut self.conn, b => b.count_rows(table, &step).await)
    }
    /// Up to `limit` distinct non-NULL values of `columns` of `table`, as sorted text.
    pub async fn distinct_keys(
        &mut self,
        table: &TableName,
        columns: &[String],
        limit: i64,
    ) -> Result<Vec<Vec<Option<String>>>, Error> {
        let step = self.step(format!("reading keys of {table}"));
        dispatch!(&mut self.conn, b => b.distinct_keys(table, columns, limit, &step).await)
    }
    /// The highest value of integer column `column` of `table`.
    pub async fn max_int(&mut self, table: &TableName, column: &str) -> Result<Option<i64>, Error> {
        let step = self.step(format!("reading the highest {table}.{column}"));
        dispatch!(&mut self.conn, b => b.max_int(table, column, &step).await)
    }

    pub async fn session_settings(&mut self) -> Result<BTreeMap<String, String>, Error> {
        dispatch!(&mut self.conn, b => b.session_settings().await)
    }
    pub async fn stream_table<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        sink: &mut S,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.stream_table(table, columns, sink).await)
    }
    pub async fn page_count(&mut self, table: &Table) -> Result<Option<u64>, Error> {
        dispatch!(&mut self.conn, b => b.page_count(table).await)
    }
    pub async fn stream_pages<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        pages: (u64, Option<u64>),
        sink: &mut S,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.stream_pages(table, columns, pages, sink).await)
    }
    pub async fn stream_filtered<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        filter: &str,
        order: &str,
        sink: &mut S,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.stream_filtered(table, columns, filter, order, sink).await)
    }
    /// The key that names `table`'s rows in key sets (`keys::RowKey::of`).
    pub fn row_key(&self, table: &Table) -> Option<keys::RowKey> {
        let row_id = dispatch!(&self.conn, b => b.row_id(table));
        keys::RowKey::of(table, row_id)
    }
    pub fn key_literal(&self, key: &keys::RowKey, alias: Option<&str>) -> String {
        dispatch!(&self.conn, b => b.key_literal(key, alias))
    }
    pub fn key_in(&self, key: &keys::RowKey, alias: Option<&str>, keys: &[&str]) -> String {
        dispatch!(&self.conn, b => b.key_in(key, alias, keys))
    }
    pub async fn each_row(
        &mut self,
        sql: String,
        step: &Step,
        each: &mut dyn FnMut(Vec<Option<String>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.each_row(sql, step, each).await)
    }
    pub async fn estimate_rows(&mut self, sql: String, step: &Step) -> Result<Option<u64>, Error> {
        dispatch!(&mut self.conn, b => b.estimate_rows(sql, step).await)
    }
    pub async fn sequence_states(&mut self, table: &Table) -> Result<BTreeMap<String, SequenceState>, Error> {
        dispatch!(&mut self.conn, b => b.sequence_states(table).await)
    }
    pub fn export_size_estimate(&self, tables: &[&Table]) -> u64 {
        dispatch!(&self.conn, b => b.export_size_estimate(tables))
    }

    /// How the load will go, and what stops it. Emptying targets (`req.empty_first`)
    /// that rows outside the load reference (beyond the keys `kept` says the targets
    /// will hold) is refused here, before any write, for every kind; with
    /// `req.cascade` those tables are added to `req.also_empty`.
    pub async fn plan_load(
        &mut self,
        req: &mut LoadRequest<'_>,
        kept: Option<&dyn dependents::KeptKeys>,
    ) -> Result<LoadPlan, Error> {
        let found = if req.empty_first && !req.targets.is_empty() {
            dispatch!(&mut self.conn, b => dependents::find(b, req.schema, &req.targets, kept).await)?
        } else {
            Vec::new()
        };
        req.also_empty.clear();
        if req.cascade {
            for t in dependents::emptying_order(req.schema, &found) {
                let rows = self.count_rows(&t).await?;
                req.also_empty.push((t, rows));
            }
        }
        let mut plan = dispatch!(&mut self.conn, b => b.plan_load(req).await)?;
        let emptied: Vec<TableName> = req.also_empty.iter().map(|(t, _)| t.clone()).collect();
        plan.blocking.extend(dependents::cascade_conflicts(req.schema, &req.targets, &emptied));
        plan.cascade_obstacle = dependents::cascade_obstacle(req.schema, &req.targets, &found);
        if !req.cascade && !found.is_empty() {
            let what = if req.purpose == LoadPurpose::Restore { "the restore" } else { "the load" };
            plan.blocking.extend(dependents::problem(what, &found));
        }
        plan.dependents = found;
        Ok(plan)
    }
    pub async fn start_load(&mut self, req: &LoadRequest<'_>, plan: &LoadPlan) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.start_load(req, plan).await)
    }
    pub fn row_form(&self) -> RowForm {
        dispatch!(&self.conn, b => b.row_form())
    }
    pub async fn load_table(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        dispatch!(&mut self.conn, b => b.load_table(target, rows).await)
    }
    pub async fn finish_load(&mut self) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.finish_load().await)
    }
    pub async fn prepare_cycles(&mut self, edges: &[CycleEdge<'_>]) -> Result<Vec<bool>, Error> {
        dispatch!(&mut self.conn, b => b.prepare_cycles(edges).await)
    }
    pub async fn reserve_keys(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.reserve_keys(keys).await)
    }
    pub async fn close_cycle(
        &mut self,
        fix: &CycleFix<'_>,
        rows: &mut (dyn Iterator<Item = Vec<value::Value>> + Send),
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.close_cycle(fix, rows).await)
    }
    pub async fn settle_keys(&mut self, keys: &[GeneratedKey]) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.settle_keys(keys).await)
    }
    pub async fn restore_sequences(
        &mut self,
        tables: &[(&Table, &BTreeMap<String, SequenceState>)],
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.restore_sequences(tables).await)
    }
    pub async fn privileges(&mut self) -> Result<Privileges, Error> {
        dispatch!(&mut self.conn, b => b.privileges().await)
    }
    pub async fn identity(&mut self) -> Result<String, Error> {
        dispatch!(&mut self.conn, b => b.identity().await)
    }

    pub async fn fingerprint(&mut self, migration_tables: &[TableName]) -> Result<String, Error> {
        dispatch!(&mut self.conn, b => b.fingerprint(migration_tables).await)
    }
    pub async fn template_record(&mut self, template: &DbUrl) -> Result<Option<String>, Error> {
        dispatch!(&mut self.conn, b => b.template_record(template).await)
    }
    pub async fn keep_template(
        &mut self,
        source: &DbUrl,
        targets: &TemplateTargets,
        record: &mut template::Record,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.keep_template(source, targets, record).await)
    }
    pub async fn clone_template(
        &mut self,
        template: &DbUrl,
        clone: &DbUrl,
        record: &template::Record,
    ) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.clone_template(template, clone, record).await)
    }
    pub async fn sibling_databases(&mut self) -> Result<Vec<String>, Error> {
        dispatch!(&mut self.conn, b => b.sibling_databases().await)
    }
    pub async fn drop_database(&mut self, db: &DbUrl) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.drop_database(db).await)
    }
    pub async fn lock_template(&mut self, template: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
        dispatch!(&mut self.conn, b => b.lock_template(template, wait).await)
    }
    pub async fn pool_members(&mut self, prefix: &str) -> Result<Vec<(String, String)>, Error> {
        dispatch!(&mut self.conn, b => b.pool_members(prefix).await)
    }
    pub async fn claim_ready(&mut self, prefix: &str, tag: &str, clone: &DbUrl) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.claim_ready(prefix, tag, clone).await)
    }
    pub async fn make_ready(
        &mut self,
        t: &PoolTargets<'_>,
        tag: &str,
        record: &template::Record,
    ) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.make_ready(t, tag, record).await)
    }
    pub async fn lock_pool(&mut self, template: &DbUrl, wait: bool) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.lock_pool(template, wait).await)
    }
    pub async fn unlock_pool(&mut self, template: &DbUrl) -> Result<(), Error> {
        dispatch!(&mut self.conn, b => b.unlock_pool(template).await)
    }
    pub async fn refill_under_way(&mut self, template: &DbUrl) -> Result<bool, Error> {
        dispatch!(&mut self.conn, b => b.refill_under_way(template).await)
    }
}

/// Why a connection attempt failed, and whether trying again can help.
fn classify_connect_error(err: &sqlx::Error) -> (&'static str, bool) {
    if let Some(c) = postgres::errors::classify_connect(err).filter(|_| is_pg(err)) {
        return c;
    }
    if let Some(c) = mysql::errors::classify_connect(err) {
        return c;
    }
    if let Some(c) = sqlite::errors::classify_connect(err) {
        return c;
    }
    match err {
        sqlx::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ("connection refused", true),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => ("connection reset", true),
            std::io::ErrorKind::TimedOut => ("timed out", true),
            std::io::ErrorKind::NotFound => ("not found", false),
            std::io::ErrorKind::PermissionDenied => ("permission denied", false),
            _ => ("network error", true),
        },
        sqlx::Error::Tls(_) => ("TLS error", false),
        sqlx::Error::Configuration(_) => ("invalid connection settings", false),
        sqlx::Error::Protocol(_) => ("protocol error", true),
        _ => ("error", false),
    }
}

fn is_pg(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some())
}

/// Connects to `url` (retrying transient failures per the retry settings) and reports
/// `connection_established` or `connection_failed`.
pub async fn connect(options: &ConnectOptions, url: &DbUrl, printer: &Printer, app: &str) -> Result<Session, Error> {
    connect_with(options, url, printer, app, Access::ReadWrite, false).await
}

/// How sessions connect and retry: what `--connect-timeout`, `--statement-timeout` and
/// the `--retry-*` options resolved to.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub retry: retry::RetryPolicy,
    pub connect_timeout: Duration,
    pub statement_timeout: Option<Duration>,
    /// Where the URLs came from, for a failed connection's hint.
    pub origins: Arc<UrlOrigins>,
}

/// What the settings know about the URLs they hold and db does not: where each came
/// from, where its password comes from, and which SQLite file may be created.
#[derive(Debug, Clone, Default)]
pub struct UrlOrigins {
    pub known: Vec<UrlOrigin>,
    /// The embedded default database: a write creates its file when missing.
    pub embedded_default: Option<DbUrl>,
}

#[derive(Debug, Clone)]
pub struct UrlOrigin {
    pub url: DbUrl,
    /// In words: `DATABASE_URL in .env`, `the libpq environment (PGHOST)`, `seed.toml:2`.
    pub origin: String,
    /// Where its password comes from (servers), in words.
    pub password: String,
}

impl UrlOrigins {
    fn of(&self, url: &DbUrl) -> Option<&UrlOrigin> {
        self.known.iter().find(|k| k.url.expose() == url.expose())
    }
}

/// Opens more sessions like one already open (the same URL, options and application
/// name): for work spread over several connections.
#[derive(Clone)]
pub struct Connector<'a> {
    pub options: ConnectOptions,
    pub url: &'a DbUrl,
    pub printer: &'a Printer,
    pub app: &'a str,
}

impl Connector<'_> {
    pub async fn connect(&self) -> Result<Session, Error> {
        connect(&self.options, self.url, self.printer, self.app).await
    }
}

/// As [`connect`], read-only or not, and with `wait` a database another process holds
/// (SQLite's file lock) is waited for instead of refused.
pub async fn connect_with(
    options: &ConnectOptions,
    url: &DbUrl,
    printer: &Printer,
    app: &str,
    access: Access,
    wait: bool,
) -> Result<Session, Error> {
    let policy = options.retry;
    let mut attempt = 1u32;
    loop {
        let started = Instant::now();
        let result =
            tokio::time::timeout(options.connect_timeout, connect_once(options, url, printer, app, access)).await;
        let err = match result {
            Ok(Ok((conn, version))) => {
                let latency = started.elapsed();
                let info = ServerInfo { kind: url.kind(), version, latency };
                printer.event(
                    Level::Debug,
                    "connection_established",
                    json!({ "database": url.kind().label(), "url": url.to_string(), "server_version": info.version,
                            "latency_ms": latency.as_millis(), "attempts": attempt }),
                    || {
                        format!(
                            "connected to {url} ({} {}) in {} ms",
                            url.kind().label(),
                            info.version,
                            latency.as_millis()
                        )
                    },
                );
                return Ok(Session { conn, info, url: url.clone(), statement_timeout: options.statement_timeout });
            }
            Ok(Err(e)) => {
                if let Some(held) = sqlite::errors::held_at_connect(url, &e) {
                    if wait {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    return Err(held);
                }
                let (class, transient) = match (&e, url.kind()) {
                    (sqlx::Error::Io(io), DbKind::Sqlite) => sqlite::errors::classify_io(io),
                    _ => classify_connect_error(&e),
                };
                (class, transient, errors::driver_message(&e))
            }
            Err(_) => (
                "timed out",
                true,
                format!("no answer within {} (--connect-timeout)", humantime::format_duration(options.connect_timeout)),
            ),
        };
        let (class, transient, reason) = err;
        if transient && attempt < policy.max_attempts {
            let delay = retry::backoff(&policy, attempt);
            printer.event(
                Level::Warn,
                "connection_retry",
                json!({ "url": url.to_string(), "error_class": class, "attempt": attempt,
                        "max_attempts": policy.max_attempts, "delay_ms": delay.as_millis() }),
                || {
                    format!(
                        "connecting to {url}: {class} (attempt {attempt}/{}); retrying in {} ms",
                        policy.max_attempts,
                        delay.as_millis()
                    )
                },
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        printer.event(
            Level::Debug,
            "connection_failed",
            json!({ "url": url.to_string(), "error_class": class, "attempts": attempt }),
            || {
                format!(
                    "could not connect to {url}: {class} after {}",
                    crate::output::plural(u64::from(attempt), "attempt", "attempts")
                )
            },
        );
        if url.kind() == DbKind::Sqlite && matches!(class, "permission denied" | "cannot open database file") {
            return Err(Error::Permission {
                what: format!("opening the SQLite database {}", url.location()),
                reason,
                hint: Some("check the owner and mode of the database file and of its directory".into()),
            });
        }
        return Err(Error::Connect {
            url: url.to_string(),
            class,
            attempts: attempt,
            reason,
            help: Box::new(connect_help(&options.origins, url)),
        });
    }
}

/// What a connection hint needs to name the setting to fix.
fn connect_help(origins: &UrlOrigins, url: &DbUrl) -> crate::error::ConnectHelp {
    let known = origins.of(url);
    let origin = known.map_or_else(|| "the command line".to_owned(), |k| k.origin.clone());
    let password = match url.kind() {
        DbKind::Sqlite => None,
        DbKind::Postgres => Some(known.map_or_else(|| format!("the URL, from {origin}"), |k| k.password.clone())),
        DbKind::Mysql if url.has_password() => Some(format!("the URL, from {origin}")),
        DbKind::Mysql => Some("none was given: put it in the URL (user:password@host)".to_owned()),
    };
    crate::error::ConnectHelp {
        kind: url.kind().label(),
        origin,
        password,
        user: url.user().unwrap_or("(the default user)").to_owned(),
        database: url.database_name(),
    }
}

async fn connect_once(
    options: &ConnectOptions,
    url: &DbUrl,
    printer: &Printer,
    app: &str,
    access: Access,
) -> Result<(Conn, String), sqlx::Error> {
    match url.kind() {
        DbKind::Postgres => {
            let (b, v) = postgres::connect(url, app, options.statement_timeout, printer).await?;
            Ok((Conn::Postgres(b), v))
        }
        DbKind::Sqlite => {
            let open = match access {
                Access::ReadOnly => sqlite::Open::ReadOnly,
                // Only the embedded default is made when missing.
                Access::ReadWrite
                    if options.origins.embedded_default.as_ref().is_some_and(|d| d.expose() == url.expose()) =>
                {
                    sqlite::Open::Create
                }
                Access::ReadWrite => sqlite::Open::Existing,
            };
            let (b, v) = sqlite::connect(url, open, printer).await?;
            Ok((Conn::Sqlite(b), v))
        }
        DbKind::Mysql => {
            let (b, v) = mysql::connect(url, options.statement_timeout, printer).await?;
            Ok((Conn::Mysql(b), v))
        }
    }
}

/// With `DIRECT_URL` set, writes and locks go through it while reads use
/// `DATABASE_URL`: both must reach the same database (a pooler in front of the same
/// server passes), or a load and a snapshot would silently touch two databases.
pub async fn check_direct_url(
    options: &ConnectOptions,
    database_url: &DbUrl,
    direct_url: Option<&DbUrl>,
    printer: &Printer,
) -> Result<(), Error> {
    let Some(direct) = direct_url else { return Ok(()) };
    let mut a = connect_with(options, database_url, printer, "seed", Access::ReadOnly, false).await?;
    let ida = a.identity().await;
    a.close().await;
    let mut b = connect_with(options, direct, printer, "seed", Access::ReadOnly, false).await?;
    let idb = b.identity().await;
    b.close().await;
    let (ida, idb) = (ida?, idb?);
    if ida != idb {
        return Err(Error::usage_hint(
            format!(
                "DIRECT_URL ({direct}) and DATABASE_URL ({}) reach different databases:\n  DATABASE_URL: {ida}\n  DIRECT_URL:   {idb}",
                database_url
            ),
            "DIRECT_URL must reach the same database as DATABASE_URL, without the pooler; fix one of them or unset DIRECT_URL",
        ));
    }
    Ok(())
}

/// After Ctrl-C dropped a command mid-transaction: whatever the kind needs so the
/// database is exactly as before, even for a reader of the files alone.
pub async fn recover_after_interrupt(urls: impl IntoIterator<Item = &DbUrl>) {
    for url in urls {
        if url.kind() == DbKind::Sqlite {
            sqlite::recover(url).await;
        }
    }
}
