//! PostgreSQL: catalogs for introspection, `COPY` both ways, an advisory lock per
//! database, and load-then-index when the targets start empty and we own them.

mod binary;
pub mod errors;
mod introspect;
pub mod libpq;
mod load;
mod lock;
mod pool;
pub mod rebuild;
mod template;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::db::backend::SequenceState;
use crate::db::backend::{
    Backend, ChunkSink, CycleEdge, CycleFix, GeneratedKey, LoadPlan, LoadRequest, LoadTable, PoolTargets, Privileges,
    Probe, RowForm, RowInput, TemplateLock, TemplateTargets, WriteIntent,
};
use crate::db::keys::{KeyPart, RowKey};
use crate::db::schema::{Column, Schema, Table, TableName, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::template::Record;
use crate::db::url::{DbKind, DbUrl};
use crate::db::value::Value;
use crate::error::Error;
use crate::output::Printer;

pub use introspect::introspect;

/// A connection to PostgreSQL and what a load set aside on it.
pub struct PgBackend {
    conn: PgConnection,
    printer: Printer,
    timeout: Option<Duration>,
    load: load::LoadState,
}

/// Opens a connection with fixed output settings: snapshots and checksums must not
/// depend on the server's or the user's defaults. Server-side TCP keepalives keep idle
/// connections through NATs and let the server notice a vanished client.
pub async fn connect(
    url: &DbUrl,
    app: &str,
    statement_timeout: Option<Duration>,
    printer: &Printer,
) -> Result<(PgBackend, String), sqlx::Error> {
    let mut options = PgConnectOptions::from_str(url.expose())?.application_name(app);
    let mut params: Vec<(&str, String)> = vec![
        ("DateStyle", "ISO, MDY".into()),
        ("IntervalStyle", "postgres".into()),
        ("TimeZone", "UTC".into()),
        ("bytea_output", "hex".into()),
        ("client_min_messages", "warning".into()),
        ("tcp_keepalives_idle", "60".into()),
        ("tcp_keepalives_interval", "10".into()),
        ("tcp_keepalives_count", "6".into()),
    ];
    if let Some(t) = statement_timeout {
        params.push(("statement_timeout", t.as_millis().to_string()));
    }
    options = options.options(params);
    let mut conn = options.connect().await?;
    // The server says its version when the session starts: no query (a round trip every
    // command pays, `seed clone` included) unless it did not.
    let version = match conn.server_version_num() {
        Some(n) => version_text(n),
        None => {
            let v: String = sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(&mut conn).await?;
            v.split_whitespace().next().unwrap_or_default().to_owned()
        }
    };
    let backend =
        PgBackend { conn, printer: printer.clone(), timeout: statement_timeout, load: load::LoadState::default() };
    Ok((backend, version))
}

/// `server_version_num` as the server writes its version: 150018 is 15.18, 90624 9.6.24.
fn version_text(n: u32) -> String {
    if n >= 100_000 {
        format!("{}.{}", n / 10_000, n % 10_000)
    } else {
        format!("{}.{}.{}", n / 10_000, n / 100 % 100, n % 100)
    }
}

impl PgBackend {
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

    /// Streams what a `COPY ... TO STDOUT` statement writes into `sink`.
    async fn copy_out<S: ChunkSink>(&mut self, sql: &str, step: &Step, sink: &mut S) -> Result<(), Error> {
        let mut stream = self.conn.copy_out_raw(sql).await.map_err(|e| errors::translate(e, step))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| errors::translate(e, step))?;
            sink.push(&chunk).await?;
        }
        Ok(())
    }

    /// A sequence's position (`seq` as catalogs spell it, e.g. `public.actor_actor_id_seq`).
    async fn sequence_state(&mut self, seq: &str) -> Result<SequenceState, Error> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT last_value, is_called FROM {seq}")))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| errors::translate(e, &Step::new(format!("reading sequence {seq}"))))?;
        Ok(SequenceState { last_value: row.get(0), is_called: row.get(1) })
    }
}

impl Backend for PgBackend {
    fn kind(&self) -> DbKind {
        DbKind::Postgres
    }

    fn translate(&self, err: sqlx::Error, step: &Step) -> Error {
        errors::translate(err, step)
    }

    fn cast_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS TEXT)")
    }

    fn cast_int(&self, expr: &str) -> String {
        format!("CAST({expr} AS BIGINT)")
    }

    fn sql_literal(&self, v: &Value, col: &Column) -> String {
        let text = match v {
            Value::Null => return format!("CAST(NULL AS {})", col.type_name),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(s) => s.clone(),
            Value::Bytes(b) => format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
        };
        format!("CAST({} AS {})", quote_literal(&text), col.type_name)
    }

    async fn execute(&mut self, sql: String, step: &Step) -> Result<(), Error> {
        self.exec(sql, step).await
    }

    /// Each value cast from text to the column's type: the input function COPY uses
    /// (a domain's checks included), in a savepoint.
    async fn refused_values(
        &mut self,
        col: &Column,
        values: &[String],
        step: &Step,
    ) -> Result<Vec<(String, String)>, Error> {
        let mut refused = Vec::new();
        for v in values {
            self.exec("SAVEPOINT seed_value_check".into(), step).await?;
            let sql = format!("SELECT CAST(CAST({} AS {}) AS TEXT)", quote_literal(v), col.type_name);
            let result = self.text_rows(sql, step).await;
            if result.is_err() {
                self.exec("ROLLBACK TO SAVEPOINT seed_value_check".into(), step).await?;
            }
            self.exec("RELEASE SAVEPOINT seed_value_check".into(), step).await?;
            if let Err(e) = result {
                match Probe::of(e) {
                    Probe::Refused(reason) => refused.push((v.clone(), reason)),
                    Probe::Unknown => return Ok(refused),
                    Probe::Stop(e) => return Err(e),
                }
            }
        }
        Ok(refused)
    }

    async fn text_rows(&mut self, sql: String, step: &Step) -> Result<Vec<Vec<Option<String>>>, Error> {
        let rows =
            sqlx::query(AssertSqlSafe(sql)).fetch_all(&mut self.conn).await.map_err(|e| errors::translate(e, step))?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<_, _>>()
            .map_err(|e| errors::translate(e, step))
    }

    async fn one_i64(&mut self, sql: String, step: &Step) -> Result<Option<i64>, Error> {
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut self.conn).await.map_err(|e| errors::translate(e, step))
    }

    async fn begin_read(&mut self, step: &Step) -> Result<(), Error> {
        self.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".into(), step).await
    }

    async fn export_snapshot(&mut self) -> Result<Option<String>, Error> {
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| errors::translate(e, &Step::new("exporting the read snapshot")))?;
        Ok(Some(id))
    }

    async fn begin_read_at(&mut self, snapshot: &str, step: &Step) -> Result<(), Error> {
        self.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY".into(), step).await?;
        let sql = format!("SET TRANSACTION SNAPSHOT {}", crate::db::schema::quote_literal(snapshot));
        self.exec(sql, &Step::new("joining the exported read snapshot")).await
    }

    async fn begin_write(&mut self, intent: &WriteIntent, step: &Step) -> Result<(), Error> {
        self.exec("BEGIN".into(), step).await?;
        lock::advisory_xact_lock(&mut self.conn, intent).await
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        let mut schema = introspect::introspect(&mut self.conn).await?;
        crate::db::migrations::set_aside(&mut schema);
        Ok(schema)
    }

    async fn session_settings(&mut self) -> Result<BTreeMap<String, String>, Error> {
        let step = self.step("reading session settings");
        let rows = sqlx::query(
            "SELECT name, setting FROM pg_settings WHERE name IN ('DateStyle', 'IntervalStyle', 'TimeZone',
             'bytea_output', 'extra_float_digits', 'client_encoding', 'server_encoding', 'standard_conforming_strings')",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| errors::translate(e, &step))?;
        Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect())
    }

    async fn stream_table<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        sink: &mut S,
    ) -> Result<(), Error> {
        let step = self.step(format!("reading {}", table.name)).table(table.name.to_string());
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        // COPY of a partitioned table needs the SELECT form; a plain table is faster as is.
        let sql = if table.partitioned {
            format!("COPY (SELECT {} FROM {}) TO STDOUT", cols.join(", "), table.name.quoted())
        } else {
            format!("COPY {} ({}) TO STDOUT", table.name.quoted(), cols.join(", "))
        };
        self.copy_out(&sql, &step, sink).await
    }

    async fn stream_filtered<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        filter: &str,
        order: &str,
        sink: &mut S,
    ) -> Result<(), Error> {
        let step = self.step(format!("reading {}", table.name)).table(table.name.to_string());
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!(
            "COPY (SELECT {} FROM {} WHERE {filter} ORDER BY {order}) TO STDOUT",
            cols.join(", "),
            table.name.quoted()
        );
        self.copy_out(&sql, &step, sink).await
    }

    /// `ctid` names a row within one snapshot; in a partitioned table only together
    /// with the partition (`tableoid`).
    fn row_id(&self, table: &Table) -> Option<Vec<KeyPart>> {
        let ctid = KeyPart { expr: "ctid".into(), type_name: "tid".into() };
        Some(if table.partitioned {
            vec![KeyPart { expr: "tableoid".into(), type_name: "oid".into() }, ctid]
        } else {
            vec![ctid]
        })
    }

    fn key_literal(&self, key: &RowKey, alias: Option<&str>) -> String {
        let parts: Vec<String> = key.exprs(alias).iter().map(|e| format!("quote_literal({e})")).collect();
        parts.join(" || ',' || ")
    }

    /// Several columns: a `VALUES` list whose first row carries the casts (the others
    /// take its types), which the planner joins by hash or index, where a list of row
    /// constructors would become one OR branch per key.
    fn key_in(&self, key: &RowKey, alias: Option<&str>, keys: &[&str]) -> String {
        let lhs = key.exprs(alias);
        let Some((first, rest)) = keys.split_first() else { return "false".into() };
        let literals = split_literals(first);
        if lhs.len() == 1 || literals.len() != key.parts.len() {
            return crate::db::keys::in_list(&lhs, keys);
        }
        let typed: Vec<String> =
            literals.iter().zip(&key.parts).map(|(l, p)| format!("CAST({l} AS {})", p.type_name)).collect();
        let mut rows = vec![format!("({})", typed.join(", "))];
        rows.extend(rest.iter().map(|k| format!("({k})")));
        format!("({}) IN (SELECT * FROM (VALUES {}) AS seed_keys)", lhs.join(", "), rows.join(", "))
    }

    async fn each_row(
        &mut self,
        sql: String,
        step: &Step,
        each: &mut dyn FnMut(Vec<Option<String>>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        // The simple protocol: every batch is another statement, none worth preparing.
        let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut self.conn);
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| errors::translate(e, step))?;
            let values = (0..row.len())
                .map(|i| row.try_get::<Option<String>, _>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| errors::translate(e, step))?;
            each(values)?;
        }
        Ok(())
    }

    async fn estimate_rows(&mut self, sql: String, step: &Step) -> Result<Option<u64>, Error> {
        // The plan is of type json: read as the text the simple protocol sends.
        let row = sqlx::raw_sql(AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}")))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| errors::translate(e, step))?;
        let text: String = row.try_get_unchecked(0).map_err(|e| errors::translate(e, step))?;
        let plan: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(plan[0]["Plan"]["Plan Rows"].as_f64().map(|r| r.max(0.0).round() as u64))
    }

    /// Heap pages of a plain table, read by page ranges with TID range scans
    /// (PostgreSQL 14 on; a partitioned table has no pages of its own).
    async fn page_count(&mut self, table: &Table) -> Result<Option<u64>, Error> {
        if table.partitioned {
            return Ok(None);
        }
        let step = self.step(format!("sizing {}", table.name));
        let major =
            self.one_i64("SELECT (current_setting('server_version_num')::int / 10000)::int8".into(), &step).await?;
        if major.unwrap_or(0) < 14 {
            return Ok(None);
        }
        let sql = format!(
            "SELECT (pg_relation_size({}::regclass) / current_setting('block_size')::int)::int8",
            crate::db::schema::quote_literal(&table.name.quoted())
        );
        Ok(self.one_i64(sql, &step).await?.and_then(|n| u64::try_from(n).ok()))
    }

    async fn stream_pages<S: ChunkSink>(
        &mut self,
        table: &Table,
        columns: &[String],
        pages: (u64, Option<u64>),
        sink: &mut S,
    ) -> Result<(), Error> {
        let step = self.step(format!("reading {}", table.name)).table(table.name.to_string());
        let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let upper = pages.1.map_or_else(String::new, |to| format!(" AND ctid < '({to},0)'::tid"));
        let sql = format!(
            "COPY (SELECT {} FROM {} WHERE ctid >= '({},0)'::tid{upper}) TO STDOUT",
            cols.join(", "),
            table.name.quoted(),
            pages.0
        );
        self.copy_out(&sql, &step, sink).await
    }

    async fn sequence_states(&mut self, table: &Table) -> Result<BTreeMap<String, SequenceState>, Error> {
        let mut out = BTreeMap::new();
        for c in &table.columns {
            if let Some(seq) = c.auto.as_ref().and_then(|a| a.sequence.as_ref()) {
                out.insert(c.name.clone(), self.sequence_state(seq).await?);
            }
        }
        Ok(out)
    }

    fn export_size_estimate(&self, tables: &[&Table]) -> u64 {
        tables.iter().map(|t| t.estimated_bytes).sum()
    }

    async fn plan_load(&mut self, req: &LoadRequest<'_>) -> Result<LoadPlan, Error> {
        self.plan(req).await
    }

    async fn start_load(&mut self, req: &LoadRequest<'_>, plan: &LoadPlan) -> Result<(), Error> {
        self.start(req, plan).await
    }

    fn row_form(&self) -> RowForm {
        RowForm::CopyText
    }

    async fn load_table(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        self.copy_in(target, rows).await
    }

    async fn finish_load(&mut self) -> Result<(), Error> {
        self.finish().await
    }

    async fn prepare_cycles(&mut self, edges: &[CycleEdge<'_>]) -> Result<Vec<bool>, Error> {
        self.defer_cycle_edges(edges)
    }

    async fn reserve_keys(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        self.reserve(keys).await
    }

    async fn close_cycle(
        &mut self,
        fix: &CycleFix<'_>,
        rows: &mut (dyn Iterator<Item = Vec<Value>> + Send),
    ) -> Result<(), Error> {
        self.fix_cycle(fix, rows).await
    }

    async fn settle_keys(&mut self, keys: &[GeneratedKey]) -> Result<(), Error> {
        self.settle(keys).await
    }

    async fn restore_sequences(&mut self, tables: &[(&Table, &BTreeMap<String, SequenceState>)]) -> Result<(), Error> {
        self.put_sequences_back(tables).await
    }

    async fn privileges(&mut self) -> Result<Privileges, Error> {
        let r = sqlx::query(
            "SELECT current_user::text AS usr, coalesce(current_schema(), 'public') AS sch,
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
                    has_schema_privilege(coalesce(current_schema(), 'public'), 'CREATE') AS can_create,
                    count(c.oid) AS tables,
                    count(c.oid) FILTER (WHERE has_table_privilege(c.oid, 'TRUNCATE')) AS truncatable,
                    count(c.oid) FILTER (WHERE pg_has_role(c.relowner, 'USAGE')) AS owned
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'",
        )
        .fetch_one(&mut self.conn)
        .await
        .map_err(|e| errors::translate(e, &Step::new("reading privileges")))?;
        let user: String = r.get("usr");
        let schema_name: String = r.get("sch");
        let superuser: bool = r.get::<Option<bool>, _>("superuser").unwrap_or(false);
        let can_create: bool = r.get("can_create");
        let (tables, truncatable, owned): (i64, i64, i64) = (r.get("tables"), r.get("truncatable"), r.get("owned"));
        let mut detail = format!(
            "{user}{}: {} create tables in {schema_name}; may truncate {truncatable}/{tables} tables; owns {owned}/{tables}",
            if superuser { " (superuser)" } else { "" },
            if can_create { "may" } else { "may not" },
        );
        let ok = truncatable >= tables && owned >= tables;
        if !ok {
            detail.push_str(" (restore --clean / bulk --truncate need TRUNCATE; the fast load path needs ownership)");
        }
        let data = serde_json::json!({ "user": user, "superuser": superuser, "can_create": can_create,
                                       "tables": tables, "truncatable": truncatable, "owned": owned });
        Ok(Privileges { ok, fatal: false, detail, data })
    }

    async fn identity(&mut self) -> Result<String, Error> {
        // The simple-query protocol, so a transaction pooler in front passes too; the
        // server's start time and version tell one server from another, and an
        // ordinary user may read them.
        use futures_util::TryStreamExt;
        let sql = "SELECT current_database() || ' on a server started ' || pg_postmaster_start_time()::text || ' (' || version() || ')'";
        let step = Step::new("identifying the database");
        let mut rows = sqlx::raw_sql(sql).fetch(&mut self.conn);
        let row = rows.try_next().await.map_err(|e| errors::translate(e, &step))?;
        row.and_then(|r| r.try_get::<String, _>(0).ok())
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
    async fn clone_template(&mut self, tpl: &DbUrl, clone: &DbUrl, record: &Record) -> Result<(), Error> {
        template::clone(self, tpl, clone, record).await
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
    async fn pool_members(&mut self, prefix: &str) -> Result<Vec<(String, String)>, Error> {
        pool::members(self, prefix).await
    }
    async fn claim_ready(&mut self, prefix: &str, tag: &str, clone: &DbUrl) -> Result<bool, Error> {
        pool::claim(self, prefix, tag, clone).await
    }
    async fn make_ready(&mut self, t: &PoolTargets<'_>, tag: &str, record: &Record) -> Result<bool, Error> {
        pool::make_ready(self, t.template, t.building, t.ready, tag, record).await
    }
    async fn lock_pool(&mut self, tpl: &DbUrl, wait: bool) -> Result<bool, Error> {
        pool::lock(self, tpl, wait).await
    }
    async fn unlock_pool(&mut self, tpl: &DbUrl) -> Result<(), Error> {
        pool::unlock(self, tpl).await
    }
    async fn refill_under_way(&mut self, tpl: &DbUrl) -> Result<bool, Error> {
        pool::refill_under_way(self, tpl).await
    }

    async fn close(self) {
        let _ = self.conn.close().await;
    }
}

/// The literals of a key as `quote_literal` wrote them (`'a','b'`, `E'x\\y'`), split at
/// the commas between them (a quote inside a literal is doubled, so a `'` followed by
/// another `'` never ends one).
fn split_literals(key: &str) -> Vec<&str> {
    let bytes = key.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i, mut quoted) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' if quoted && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b'\'' => quoted = !quoted,
            b',' if !quoted => {
                out.push(&key[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&key[start..]);
    out
}

#[cfg(test)]
mod key_tests {
    use super::split_literals;

    #[test]
    fn literals_split_at_top_level_commas() {
        assert_eq!(split_literals("'1'"), ["'1'"]);
        assert_eq!(split_literals("'a,b','it''s',E'x\\\\',''"), ["'a,b'", "'it''s'", "E'x\\\\'", "''"]);
    }
}

#[cfg(test)]
mod version_tests {
    #[test]
    fn version_numbers_read_as_the_server_writes_them() {
        assert_eq!(super::version_text(150_018), "15.18");
        assert_eq!(super::version_text(170_000), "17.0");
        assert_eq!(super::version_text(90_624), "9.6.24");
    }
}
