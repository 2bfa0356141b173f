//! `seed snapshot restore NAME`: pre-flight (every problem at once), then one
//! transaction: optional clean, rows in foreign-key order through COPY (checksums
//! verified while streaming), sequences past the restored maximum, commit. Any failure
//! rolls everything back.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::mpsc;

use super::open_locked;
use super::preflight::Preflight;
use crate::Context;
use crate::cli::RestoreArgs;
use crate::db::errors::{Step, translate};
use crate::db::retry::with_retry;
use crate::db::schema::{Schema, Table, TableName, TypeKind, load_order, quote_ident};
use crate::db::{self, Conn, postgres as pg, rebuild, sqlite as lite};
use crate::error::{Error, code};
use crate::output::{Level, human_count};
use crate::snapshot::format::Header;
use crate::snapshot::lock::Mode;
use crate::snapshot::reader::{open_table, read_header};
use crate::snapshot::store::validate_name;

pub async fn run(args: RestoreArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let url = ctx.settings.write_url();
    if args.clean && !url.is_local() && !args.allow_remote {
        return Err(Error::usage_hint(
            format!("refusing to --clean tables on {url}, which is not on this machine"),
            "pass --allow-remote (or SEED_ALLOW_REMOTE=1) if you really mean to empty tables there",
        ));
    }
    if args.clean {
        ctx.settings.announce_target(&ctx.printer);
    }
    let (_store, path, _lock) = open_locked(ctx, &args.name, Mode::Shared, args.lock.wait, "restore").await?;
    let (header, _) = read_header(&path)?;
    let header = Arc::new(header);
    let started = Instant::now();
    let restored = with_retry(&ctx.settings.retry, &ctx.printer, "the restore", |attempt| {
        let (args, path, header) = (&args, &path, &header);
        async move {
            if attempt > 1 {
                ctx.printer.info(format!(
                    "starting the restore again (attempt {attempt}); the failed attempt was rolled back"
                ));
            }
            let mut session =
                db::connect(&ctx.settings, ctx.settings.write_url(), &ctx.printer, "seed snapshot restore").await?;
            let result = match &mut session.conn {
                Conn::Postgres(conn) => {
                    restore_pg(ctx, conn, args, path, header, session.statement_timeout, attempt > 1).await
                }
                Conn::Sqlite(conn) => restore_sqlite(ctx, conn, args, path, header).await,
            };
            if result.is_err() {
                let rollback = match &mut session.conn {
                    Conn::Postgres(c) => sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.map(|_| ()),
                    Conn::Sqlite(c) => sqlx::raw_sql("ROLLBACK").execute(&mut *c).await.map(|_| ()),
                };
                drop(rollback);
            }
            session.close().await;
            result
        }
    })
    .await?;
    if let Some(rows) = restored {
        let secs = started.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let rate = rows as f64 / secs.max(1e-6);
        ctx.printer.event(
            Level::Info,
            "snapshot_restored",
            json!({ "name": args.name, "tables": header.tables.len(), "rows": rows, "seconds": (secs * 1000.0).round() / 1000.0 }),
            || format!("restored snapshot '{}': {} tables, {rows} rows in {secs:.2}s ({} rows/s)", args.name, header.tables.len(), human_count(rate)),
        );
    }
    Ok(code::OK)
}

/// (snapshot table index, target table) pairs, parents first.
type Ordered<'s> = Vec<(usize, &'s Table)>;

/// The snapshot's tables in the target, parents first, and the foreign keys
/// (snapshot table index, foreign key index) that close a cycle.
fn ordered<'s>(header: &Header, schema: &'s Schema) -> (Ordered<'s>, Vec<(usize, usize)>) {
    let present: Vec<(usize, &Table)> =
        header.tables.iter().enumerate().filter_map(|(i, e)| schema.get(&e.table_name()).map(|t| (i, t))).collect();
    let tables: Vec<&Table> = present.iter().map(|(_, t)| *t).collect();
    let order = load_order(&tables);
    let broken = order.broken.clone();
    (order.order.iter().map(|&k| present[k]).collect(), broken.into_iter().map(|(c, f)| (present[c].0, f)).collect())
}

fn preflight_error(header: &Header, lines: &[String]) -> Error {
    Error::Schema {
        message: format!("cannot restore snapshot '{}': pre-flight found {} problem(s)\n{}", header.name, lines.iter().filter(|l| !l.starts_with("  ")).count(), lines.join("\n")),
        hint: Some("--clean empties the snapshot's tables first (in the same transaction); --allow-schema-mismatch goes on when the columns still fit; --dry-run shows the plan".into()),
    }
}

fn plan_text(header: &Header, order: &[(usize, &Table)], mode: &str, clean: bool, pre: &Preflight) -> String {
    let mut text = format!(
        "restore plan for snapshot '{}' ({mode}{})\n",
        header.name,
        if clean { ", --clean empties the tables first" } else { "" }
    );
    for (n, (i, t)) in order.iter().enumerate() {
        let before = pre.non_empty.iter().find(|(name, _)| name == &t.name).map_or(0, |(_, c)| *c);
        text.push_str(&format!(
            "  {}. {} — {} rows{}\n",
            n + 1,
            t.name,
            header.tables[*i].rows,
            if before > 0 { format!(" (replacing {before})") } else { String::new() }
        ));
    }
    for d in &pre.differences {
        text.push_str(&format!("  note: {d}\n"));
    }
    text.push_str("pre-flight passed; nothing was written (--dry-run)");
    text
}

async fn count_rows(conn: &mut PgConnection, tables: &[&Table]) -> Result<HashMap<TableName, u64>, Error> {
    let mut counts = HashMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", t.name.quoted())))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| translate(e, &Step::new(format!("counting rows of {}", t.name))))?;
        counts.insert(t.name.clone(), u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

async fn exec_pg(conn: &mut PgConnection, sql: String, step: &Step) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await.map(|_| ()).map_err(|e| translate(e, step))
}

/// Decompresses (and checks) one table of the snapshot on a blocking thread.
fn spawn_chunks(path: PathBuf, header: Arc<Header>, index: usize) -> mpsc::Receiver<Result<Vec<u8>, Error>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut rows = match open_table(&path, &header, index) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        loop {
            match rows.next_chunk() {
                Ok(Some(chunk)) => {
                    if tx.blocking_send(Ok(chunk)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        if let Err(e) = rows.finish() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    rx
}

async fn restore_pg(
    ctx: &Context,
    conn: &mut PgConnection,
    args: &RestoreArgs,
    path: &Path,
    header: &Arc<Header>,
    timeout: Option<std::time::Duration>,
    retry: bool,
) -> Result<Option<u64>, Error> {
    let step = |what: &str| Step::new(what).timeout(timeout);
    exec_pg(conn, "BEGIN".into(), &step("starting the transaction")).await?;
    pg::try_advisory_xact_lock(conn, &format!("snapshot restore {}", args.name), retry).await?;
    let schema = pg::introspect(conn).await?;
    let version = pg::schema_version(conn).await?;
    let (order, broken) = ordered(header, &schema);
    let tables: Vec<&Table> = order.iter().map(|(_, t)| *t).collect();
    let counts = count_rows(conn, &tables).await?;
    let pre = Preflight::check(header, &schema, "postgres", version.as_ref(), &counts);
    let mut blocking = pre.blocking(args.allow_schema_mismatch, args.clean);
    let names: Vec<TableName> = tables.iter().map(|t| t.name.clone()).collect();
    let owned = if names.is_empty() { false } else { rebuild::owns_all(conn, &names).await? };
    let triggered = tables_with_triggers(conn, &names).await?;
    if !triggered.is_empty() && !owned {
        blocking.push(format!(
            "tables with triggers ({}) need their owner to restore exact values (triggers are disabled during the load)",
            triggered.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ));
    }
    let all_empty = counts.values().all(|&n| n == 0);
    let fast = owned && (args.clean || all_empty);
    if !fast {
        for &(child, fk) in &broken {
            let entry = &header.tables[child];
            let Some(t) = schema.get(&entry.table_name()) else { continue };
            let f = &t.foreign_keys[fk];
            if f.ref_table != t.name && !f.deferrable {
                blocking.push(format!(
                    "foreign keys form a cycle through {}.{} -> {} (not deferrable): restore it into empty tables you own, where keys are built after the data",
                    t.name,
                    f.columns.join(","),
                    f.ref_table
                ));
            }
        }
    }
    if !blocking.is_empty() {
        return Err(preflight_error(header, &blocking));
    }
    let mode = if fast { "keys and indexes built after the data" } else { "constraints checked row by row" };
    if args.dry_run {
        ctx.printer.data(&plan_text(header, &order, mode, args.clean, &pre));
        exec_pg(conn, "ROLLBACK".into(), &step("rolling back")).await?;
        return Ok(None);
    }
    for d in &pre.differences {
        ctx.printer.warn(format!("schema mismatch allowed: {d}"));
    }
    let quoted: Vec<String> = names.iter().map(TableName::quoted).collect();
    let mut dropped = None;
    if fast {
        let mut sorted = quoted.clone();
        sorted.sort();
        exec_pg(
            conn,
            format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", sorted.join(", ")),
            &step("locking the tables"),
        )
        .await?;
        dropped = Some(rebuild::drop_keys(conn, &names).await?);
        exec_pg(conn, format!("TRUNCATE {}", quoted.join(", ")), &step("emptying the tables")).await?;
    } else {
        if args.clean {
            exec_pg(conn, format!("TRUNCATE {}", quoted.join(", ")), &step("emptying the tables (--clean)")).await?;
        }
        exec_pg(conn, "SET CONSTRAINTS ALL DEFERRED".into(), &step("deferring deferrable constraints")).await?;
    }
    for t in &triggered {
        exec_pg(
            conn,
            format!("ALTER TABLE {} DISABLE TRIGGER USER", t.quoted()),
            &step("disabling user triggers for the load"),
        )
        .await?;
    }
    let mut total = 0;
    for (i, table) in &order {
        let entry = &header.tables[*i];
        let cols: Vec<String> = entry.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let freeze = fast && !table.partitioned;
        let sql = format!(
            "COPY {} ({}) FROM STDIN{}",
            table.name.quoted(),
            cols.join(", "),
            if freeze { " WITH (FREEZE)" } else { "" }
        );
        let copy_step = Step::new(format!("restoring {}", table.name)).table(table.name.to_string()).timeout(timeout);
        let progress = ctx.printer.progress(&table.name.to_string(), Some(entry.rows), "rows");
        let mut chunks = spawn_chunks(path.to_path_buf(), Arc::clone(header), *i);
        let mut copy = conn.copy_in_raw(&sql).await.map_err(|e| translate(e, &copy_step))?;
        let mut rows_sent = 0u64;
        while let Some(chunk) = chunks.recv().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = copy.abort("the snapshot is corrupt").await;
                    return Err(e);
                }
            };
            let n = count_lines(&chunk);
            copy.send(chunk).await.map_err(|e| translate(e, &copy_step))?;
            rows_sent += n;
            progress.inc(n);
        }
        let written = copy.finish().await.map_err(|e| translate(e, &copy_step))?;
        progress.finish();
        if written != entry.rows || rows_sent != entry.rows {
            return Err(Error::Internal(format!(
                "restoring {}: wrote {written} rows, the snapshot holds {}",
                table.name, entry.rows
            )));
        }
        total += written;
    }
    if let Some(keys) = dropped
        && !keys.is_empty()
    {
        let progress = ctx.printer.progress("keys and indexes", Some(keys.defs.len() as u64), "built");
        keys.rebuild(conn, timeout, |_| progress.inc(1)).await?;
        progress.finish();
    }
    for t in &triggered {
        exec_pg(conn, format!("ALTER TABLE {} ENABLE TRIGGER USER", t.quoted()), &step("enabling user triggers again"))
            .await?;
    }
    // Sequences are not transactional: move them last, just before COMMIT. Back to
    // where the snapshot saw them, or past the restored maximum if that is higher.
    for (i, table) in &order {
        for c in &table.columns {
            let Some(seq) = c.auto.as_ref().and_then(|a| a.sequence.as_ref()) else { continue };
            let (last, called) =
                header.tables[*i].sequences.get(&c.name).map_or(("NULL".to_owned(), "true".to_owned()), |s| {
                    (s.last_value.to_string(), s.is_called.to_string())
                });
            let sql = format!(
                "SELECT setval({seq}::regclass, CASE WHEN m IS NOT NULL AND (m > {last}) IS NOT FALSE THEN m ELSE {last} END,
                               CASE WHEN m IS NOT NULL AND (m > {last}) IS NOT FALSE THEN true ELSE {called} END)
                 FROM (SELECT max({})::int8 AS m FROM {}) s WHERE m IS NOT NULL OR {last} IS NOT NULL",
                quote_ident(&c.name),
                table.name.quoted(),
                seq = crate::db::schema::quote_literal(seq),
            );
            exec_pg(conn, sql, &step(&format!("moving {seq} past the restored rows"))).await?;
        }
    }
    exec_pg(conn, "COMMIT".into(), &step("committing")).await?;
    Ok(Some(total))
}

fn count_lines(chunk: &[u8]) -> u64 {
    chunk.iter().filter(|&&b| b == b'\n').count() as u64
}

async fn tables_with_triggers(conn: &mut PgConnection, tables: &[TableName]) -> Result<Vec<TableName>, Error> {
    let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
    let rows = sqlx::query(
        "SELECT DISTINCT n.nspname, c.relname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND tg.tgrelid IN (SELECT n::regclass FROM unnest($1::text[]) n)",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| translate(e, &Step::new("reading triggers")))?;
    Ok(rows.iter().map(|r| TableName::new(r.get::<String, _>(0), r.get::<String, _>(1))).collect())
}

async fn exec_lite(conn: &mut SqliteConnection, sql: &str, what: &str) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| translate(e, &Step::new(what)))
}

async fn restore_sqlite(
    ctx: &Context,
    conn: &mut SqliteConnection,
    args: &RestoreArgs,
    path: &Path,
    header: &Arc<Header>,
) -> Result<Option<u64>, Error> {
    exec_lite(conn, "BEGIN IMMEDIATE", "starting the transaction").await?;
    if ctx.settings.embedded_default && lite::apply_demo_schema_if_empty(conn).await? {
        ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql)");
    }
    let schema = lite::introspect(conn).await?;
    let version = lite::schema_version(conn).await?;
    let (order, _) = ordered(header, &schema);
    let counts: HashMap<TableName, u64> = order.iter().map(|(_, t)| (t.name.clone(), t.estimated_rows)).collect();
    let pre = Preflight::check(header, &schema, "sqlite", version.as_ref(), &counts);
    let blocking = pre.blocking(args.allow_schema_mismatch, args.clean);
    if !blocking.is_empty() {
        return Err(preflight_error(header, &blocking));
    }
    if args.dry_run {
        ctx.printer.data(&plan_text(header, &order, "foreign keys checked at commit", args.clean, &pre));
        exec_lite(conn, "ROLLBACK", "rolling back").await?;
        return Ok(None);
    }
    for d in &pre.differences {
        ctx.printer.warn(format!("schema mismatch allowed: {d}"));
    }
    exec_lite(conn, "PRAGMA defer_foreign_keys = ON", "deferring foreign keys").await?;
    let targets: Vec<TableName> = order.iter().map(|(_, t)| t.name.clone()).collect();
    let temp_indexes = lite::add_foreign_key_indexes(conn, &schema, &targets).await?;
    if args.clean {
        for (_, t) in &order {
            exec_lite(conn, &format!("DELETE FROM {}", t.name.quoted()), "emptying the tables (--clean)").await?;
        }
    }
    // SQLite cannot disable a trigger: drop the tables' triggers for the load and
    // create them again before COMMIT (DDL is transactional here too).
    let names: Vec<String> = order.iter().map(|(_, t)| t.name.name.clone()).collect();
    let triggers: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({})",
        names.iter().map(|n| crate::db::schema::quote_literal(n)).collect::<Vec<_>>().join(", ")
    )))
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| translate(e, &Step::new("reading triggers")))?;
    for (name, _) in &triggers {
        exec_lite(conn, &format!("DROP TRIGGER {}", quote_ident(name)), "setting triggers aside for the load").await?;
    }
    let mut total = 0;
    for (i, table) in &order {
        total += insert_sqlite(ctx, conn, path, header, *i, table).await?;
    }
    lite::drop_indexes(conn, &temp_indexes).await?;
    for (_, sql) in &triggers {
        exec_lite(conn, sql, "re-creating triggers").await?;
    }
    exec_lite(conn, "COMMIT", "committing (foreign keys are checked now)").await?;
    Ok(Some(total))
}

async fn insert_sqlite(
    ctx: &Context,
    conn: &mut SqliteConnection,
    path: &Path,
    header: &Arc<Header>,
    i: usize,
    table: &Table,
) -> Result<u64, Error> {
    let entry = &header.tables[i];
    let blob: Vec<bool> =
        entry.columns.iter().map(|c| table.column(&c.name).is_some_and(|col| col.kind == TypeKind::Bytea)).collect();
    let ncols = entry.columns.len().max(1);
    let per_statement = (32_766 / ncols).clamp(1, 1000);
    let cols: Vec<String> = entry.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let one = format!("({})", vec!["?"; entry.columns.len()].join(","));
    let head = format!("INSERT INTO {} ({}) VALUES ", table.name.quoted(), cols.join(", "));
    let progress = ctx.printer.progress(&table.name.to_string(), Some(entry.rows), "rows");
    let mut chunks = spawn_chunks(path.to_path_buf(), Arc::clone(header), i);
    let mut pending: Vec<Vec<Option<Field>>> = Vec::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut written = 0u64;
    let mut batch = 0u64;
    let step = Step::new(format!("restoring {}", table.name)).table(table.name.to_string());
    let corrupt = |reason: String| Error::SnapshotCorrupt { path: path.to_path_buf(), reason };
    loop {
        let chunk = chunks.recv().await;
        let done = chunk.is_none();
        if let Some(chunk) = chunk {
            partial.extend_from_slice(&chunk?);
            let mut start = 0;
            while let Some(nl) = partial[start..].iter().position(|&b| b == b'\n') {
                let line = &partial[start..start + nl];
                let row = parse_copy_line(line, &blob).map_err(|r| {
                    corrupt(format!("table {}: row {}: {r}", table.name, written + pending.len() as u64 + 1))
                })?;
                if row.len() != entry.columns.len() {
                    return Err(corrupt(format!(
                        "table {}: row {} has {} fields, expected {}",
                        table.name,
                        written + pending.len() as u64 + 1,
                        row.len(),
                        entry.columns.len()
                    )));
                }
                pending.push(row);
                start += nl + 1;
            }
            partial.drain(..start);
        }
        while pending.len() >= per_statement || (done && !pending.is_empty()) {
            let take = pending.len().min(per_statement);
            let rows: Vec<Vec<Option<Field>>> = pending.drain(..take).collect();
            batch += 1;
            let sql = format!("{head}{}", vec![one.as_str(); rows.len()].join(","));
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for row in rows {
                for v in row {
                    q = match v {
                        None => q.bind(None::<String>),
                        Some(Field::Text(s)) => q.bind(s),
                        Some(Field::Blob(b)) => q.bind(b),
                    };
                }
            }
            q.execute(&mut *conn).await.map_err(|e| {
                let mut err = translate(e, &step);
                if let Error::Constraint(v) = &mut err {
                    v.batch = Some(batch);
                }
                err
            })?;
            written += take as u64;
            progress.inc(take as u64);
        }
        if done {
            break;
        }
    }
    progress.finish();
    Ok(written)
}

enum Field {
    Text(String),
    Blob(Vec<u8>),
}

/// One COPY text line -> fields (`None` for `\N`), unescaping backslash sequences;
/// `\x..` hex in blob columns becomes bytes.
fn parse_copy_line(line: &[u8], blob: &[bool]) -> Result<Vec<Option<Field>>, String> {
    let mut fields = Vec::new();
    for (i, raw) in line.split(|&b| b == b'\t').enumerate() {
        if raw == b"\\N" {
            fields.push(None);
            continue;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut k = 0;
        while k < raw.len() {
            if raw[k] == b'\\' && k + 1 < raw.len() {
                k += 1;
                out.push(match raw[k] {
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b'b' => 8,
                    b'f' => 12,
                    b'v' => 11,
                    other => other,
                });
            } else {
                out.push(raw[k]);
            }
            k += 1;
        }
        if blob.get(i).copied().unwrap_or(false) && out.starts_with(b"\\x") {
            let hex = &out[2..];
            if hex.len() % 2 != 0 {
                return Err("odd-length hex in a blob".into());
            }
            let bytes: Result<Vec<u8>, String> = hex
                .chunks(2)
                .map(|p| {
                    std::str::from_utf8(p)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                        .ok_or_else(|| "bad hex in a blob".to_owned())
                })
                .collect();
            fields.push(Some(Field::Blob(bytes?)));
        } else {
            fields.push(Some(Field::Text(String::from_utf8(out).map_err(|_| "invalid UTF-8".to_owned())?)));
        }
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_parse() {
        let fields = parse_copy_line(b"a\\tb\t\\N\t\\\\x00ff", &[false, false, true]).unwrap();
        assert!(matches!(&fields[0], Some(Field::Text(s)) if s == "a\tb"));
        assert!(fields[1].is_none());
        assert!(matches!(&fields[2], Some(Field::Blob(b)) if b == &vec![0u8, 255]));
        assert!(parse_copy_line(b"\\\\x0", &[true]).is_err());
    }
}
