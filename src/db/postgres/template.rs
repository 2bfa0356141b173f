//! PostgreSQL templates: a template is a database marked `IS_TEMPLATE true
//! ALLOW_CONNECTIONS false` (nobody can connect, so `CREATE DATABASE … TEMPLATE` never
//! meets "being accessed by other users"), its record in the database's comment. A
//! clone is one `CREATE DATABASE … TEMPLATE`: atomic on the server (a killed client
//! leaves either no database or a whole one). Nothing here drops in the clone path:
//! `DROP DATABASE` forces a checkpoint the next clone would pay (research.md §5).

use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Row};

use super::PgBackend;
use super::errors::translate;
use super::lock::{describe_holder, holder_of, name_session};
use crate::db::backend::{TemplateLock, TemplateTargets};
use crate::db::schema::{TableName, quote_ident, quote_literal};
use crate::db::template::Record;
use crate::db::url::DbUrl;
use crate::error::Error;

/// Above this, copying files beats writing every page to WAL (research.md §5: 334 vs
/// 670 ms at 157 MB; wal_log 51–71 vs file_copy 105 ms at 16 MB with fsync on).
const FILE_COPY_ABOVE: i64 = 50 * 1024 * 1024;

/// How long a rebuild waits for brief sessions (other callers checking the source) to
/// leave the source before naming who stays.
const SOURCE_PATIENCE: Duration = Duration::from_secs(5);

/// Tables, views, sequences and indexes with their columns; constraints; enum labels;
/// triggers; functions (by their source). One row, one md5: cheap enough for every clone.
const CATALOG_SQL: &str = r"
WITH ns AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'
)
SELECT md5(concat_ws(E'\n',
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('%s.%s %s ', ns.nspname, c.relname, c.relkind) || coalesce((
       SELECT string_agg(format('%s %s %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                                pg_get_expr(d.adbin, d.adrelid)), ',' ORDER BY a.attnum)
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS x
     FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S', 'i')) t),
  (SELECT string_agg(format('%s %s %s', conrelid::regclass, conname, pg_get_constraintdef(co.oid)), E'\n'
                     ORDER BY conrelid::regclass::text, conname)
     FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace),
  (SELECT string_agg(format('%s %s', enumtypid::regtype, enumlabel), E'\n' ORDER BY enumtypid::regtype::text, enumsortorder)
     FROM pg_enum),
  (SELECT string_agg(format('%s %s %s', tgrelid::regclass, tgname, tgenabled), E'\n' ORDER BY tgrelid::regclass::text, tgname)
     FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(x, E'\n' ORDER BY x) FROM (
     SELECT format('%s.%s(%s) %s', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid), md5(coalesce(p.prosrc, ''))) AS x
     FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace) f)
))";

pub async fn fingerprint(b: &mut PgBackend, migration_tables: &[TableName]) -> Result<String, Error> {
    let step = b.step("reading the schema's fingerprint");
    let catalog: String =
        sqlx::query_scalar(CATALOG_SQL).fetch_one(&mut b.conn).await.map_err(|e| translate(e, &step))?;
    let mut parts = vec![catalog];
    for t in migration_tables {
        // A migration table that is gone changes the catalog part too; its rows are then "absent".
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(t.quoted())
            .fetch_one(&mut b.conn)
            .await
            .map_err(|e| translate(e, &step))?;
        let rows = if exists {
            let sql =
                format!("SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM {} r", t.quoted());
            sqlx::query_scalar::<_, String>(AssertSqlSafe(sql))
                .fetch_one(&mut b.conn)
                .await
                .map_err(|e| translate(e, &step))?
        } else {
            "absent".into()
        };
        parts.push(format!("{t}={rows}"));
    }
    Ok(parts.join(";"))
}

pub async fn record(b: &mut PgBackend, template: &DbUrl) -> Result<Option<String>, Error> {
    let step = b.step("reading the template's record");
    let row =
        sqlx::query("SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1")
            .bind(template.database_name())
            .fetch_optional(&mut b.conn)
            .await
            .map_err(|e| translate(e, &step))?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

/// `STRATEGY` by measurement (research.md §5): `file_copy` when the server does not
/// fsync (its checkpoints are then cheap) or the template is large, else `wal_log`.
/// Servers before 15 have no choice (file copy).
async fn strategy(b: &mut PgBackend, source: &str) -> Result<Option<String>, Error> {
    let step = b.step("choosing how clones are copied");
    let row = sqlx::query(
        "SELECT current_setting('server_version_num')::int, current_setting('fsync'),
                (SELECT pg_database_size(oid) FROM pg_database WHERE datname = $1)",
    )
    .bind(source)
    .fetch_one(&mut b.conn)
    .await
    .map_err(|e| translate(e, &step))?;
    let version: i32 = row.get(0);
    let fsync: String = row.get(1);
    let size: Option<i64> = row.get(2);
    if version < 150_000 {
        return Ok(None);
    }
    let file_copy = fsync == "off" || size.unwrap_or(0) > FILE_COPY_ABOVE;
    Ok(Some(if file_copy { "file_copy" } else { "wal_log" }.to_owned()))
}

/// The sessions connected to `db` other than ours, described for a message.
async fn sessions_on(b: &mut PgBackend, db: &str) -> Result<Vec<String>, Error> {
    let step = b.step("looking for sessions connected to the database");
    let rows = sqlx::query(
        "SELECT pid, coalesce(application_name, ''), client_addr::text, usename::text
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid",
    )
    .bind(db)
    .fetch_all(&mut b.conn)
    .await
    .map_err(|e| translate(e, &step))?;
    Ok(rows
        .iter()
        .map(|r| {
            let user: Option<String> = r.get(3);
            let who = describe_holder(&r.get::<String, _>(1), r.get(0), r.get::<Option<String>, _>(2).as_deref(), None);
            match user {
                Some(u) => format!("{who}, user {u}"),
                None => who,
            }
        })
        .collect())
}

fn in_use(db: &str, sessions: Vec<String>, what: &str) -> Error {
    let n = sessions.len();
    Error::LockHeld {
        resource: format!("{what} {db} (PostgreSQL copies a database only while nobody is connected to it)"),
        holder: Some(format!(
            "{} connected to it: {}",
            crate::output::plural(n as u64, "session", "sessions"),
            sessions.join("; ")
        )),
        hint: format!(
            "close those sessions (or end them: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}), \
             then run the command again",
            quote_literal(db)
        ),
    }
}

pub async fn keep(b: &mut PgBackend, source: &DbUrl, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
    let src = source.database_name();
    let (building, template, retired) =
        (t.building.database_name(), t.template.database_name(), t.retired.database_name());
    record.strategy = strategy(b, &src).await?;
    // Brief sessions (other callers reading the source's fingerprint) leave on their own.
    let deadline = Instant::now() + SOURCE_PATIENCE;
    loop {
        let sessions = sessions_on(b, &src).await?;
        if sessions.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(in_use(&src, sessions, "the source database"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let create = format!(
        "CREATE DATABASE {} TEMPLATE {}{}",
        quote_ident(&building),
        quote_ident(&src),
        record.strategy.as_ref().map(|s| format!(" STRATEGY {s}")).unwrap_or_default()
    );
    b.exec(create, &b.step(format!("copying {src} into a new template"))).await.map_err(|e| {
        if e.sqlstate() == Some("55006") {
            Error::LockHeld {
                resource: format!("the source database {src}"),
                holder: Some("a session that connected while it was being copied".into()),
                hint: "run the command again once nobody is connected to it".into(),
            }
        } else {
            e
        }
    })?;
    let finish = async {
        let step = b.step("marking the new template");
        b.exec(
            format!("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", quote_ident(&building)),
            &step,
        )
        .await?;
        b.exec(
            format!("COMMENT ON DATABASE {} IS {}", quote_ident(&building), quote_literal(&record.to_text())),
            &step,
        )
        .await?;
        // Both renames in one transaction: callers see the old template or the new one, never none.
        let exists = record_of_name(b, &template).await?;
        let mut swap = String::from("BEGIN;");
        if exists {
            swap.push_str(&format!("ALTER DATABASE {} RENAME TO {};", quote_ident(&template), quote_ident(&retired)));
        }
        swap.push_str(&format!(
            "ALTER DATABASE {} RENAME TO {}; COMMIT;",
            quote_ident(&building),
            quote_ident(&template)
        ));
        let swapped = b.exec(swap, &b.step("putting the new template in place")).await;
        if swapped.is_err() {
            b.exec("ROLLBACK".into(), &step).await.ok();
        }
        swapped?;
        Ok::<bool, Error>(exists)
    }
    .await;
    match finish {
        Ok(true) => {
            // The old template: a rebuild is rare, so its drop (and checkpoint) is paid here, once.
            if let Err(e) = drop_db(b, &retired).await {
                b.printer.warn(format!(
                    "the replaced template {retired} could not be dropped ({}); `seed clone --gc` removes it",
                    e.to_string().lines().next().unwrap_or_default()
                ));
            }
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(e) => {
            drop_db(b, &building).await.ok();
            Err(e)
        }
    }
}

async fn record_of_name(b: &mut PgBackend, name: &str) -> Result<bool, Error> {
    let step = b.step("looking for the template");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut b.conn)
        .await
        .map_err(|e| translate(e, &step))?;
    Ok(n > 0)
}

pub async fn clone(b: &mut PgBackend, template: &DbUrl, clone: &DbUrl, record: &Record) -> Result<(), Error> {
    let tpl = template.database_name();
    let sql = format!(
        "CREATE DATABASE {} TEMPLATE {}{}",
        quote_ident(&clone.database_name()),
        quote_ident(&tpl),
        record.strategy.as_ref().map(|s| format!(" STRATEGY {s}")).unwrap_or_default()
    );
    // Sessions on the template make the server wait 5 s, then refuse: say who, at once.
    let sessions = sessions_on(b, &tpl).await?;
    if !sessions.is_empty() {
        return Err(in_use(&tpl, sessions, "the template"));
    }
    match b.exec(sql, &b.step(format!("copying template {tpl}"))).await {
        Err(e) if e.sqlstate() == Some("55006") => {
            let sessions = sessions_on(b, &tpl).await?;
            Err(in_use(&tpl, sessions, "the template"))
        }
        other => other,
    }
}

pub async fn databases(b: &mut PgBackend) -> Result<Vec<String>, Error> {
    let step = b.step("listing databases");
    sqlx::query_scalar("SELECT datname::text FROM pg_database ORDER BY 1")
        .fetch_all(&mut b.conn)
        .await
        .map_err(|e| translate(e, &step))
}

pub async fn drop_database(b: &mut PgBackend, db: &DbUrl) -> Result<bool, Error> {
    let name = db.database_name();
    if !record_of_name(b, &name).await? {
        return Ok(false);
    }
    drop_db(b, &name).await?;
    Ok(true)
}

/// Drops `name`, ending sessions still connected to it (a clone is throwaway; a test
/// worker that did not disconnect must not keep it forever).
pub(super) async fn drop_db(b: &mut PgBackend, name: &str) -> Result<(), Error> {
    let step = b.step(format!("dropping database {name}"));
    b.exec(format!("ALTER DATABASE {} WITH IS_TEMPLATE false", quote_ident(name)), &step).await?;
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut b.conn)
        .await
        .map_err(|e| translate(e, &step))?;
    let force = if version >= 130_000 { " WITH (FORCE)" } else { "" };
    b.exec(format!("DROP DATABASE IF EXISTS {}{force}", quote_ident(name)), &step).await
}

/// A session-level advisory lock of the maintenance database, keyed by the template's
/// name: released when this session ends, however the process ends.
pub async fn lock(b: &mut PgBackend, template: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
    let name = template.database_name();
    let key = i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(format!("seed clone {name}").as_bytes()).to_ne_bytes());
    let step = b.step("taking the template's lock");
    if wait {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut b.conn)
            .await
            .map_err(|e| translate(e, &step))?;
    } else {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut b.conn)
            .await
            .map_err(|e| translate(e, &step))?;
        if !got {
            let holder = holder_of(&mut b.conn, key).await;
            return Err(Error::LockHeld {
                resource: format!("template {name} (another caller is rebuilding it)"),
                holder,
                hint: "pass --wait to wait for the rebuild and clone the new template".into(),
            });
        }
    }
    name_session(&mut b.conn, "seed clone (rebuilding the template)", false).await?;
    Ok(TemplateLock(None))
}
