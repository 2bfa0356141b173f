//! MariaDB templates: a template is a database whose comment (MariaDB 10.5+ keeps
//! schema comments; MySQL has none, so templates are MariaDB's only) holds the record.
//! A copy is made inside the server (research.md §5, the fastest honest way measured):
//! each table's DDL as the server shows it (keys, foreign keys, AUTO_INCREMENT counter
//! included), `INSERT … SELECT` of its rows with foreign-key and unique checks off,
//! then views, routines, events, and triggers last (a trigger created before the rows
//! would fire for them). Transportable tablespaces are faster for large templates but
//! need the server's files and lose FULLTEXT indexes.
//!
//! A copy is built under its final name with the comment `seed: building` until it is
//! complete; `--gc` removes such leftovers of a killed copy, and a caller never sees
//! the URL of one. MariaDB has no `RENAME DATABASE`; building the tables under a
//! temporary name and moving them by one `RENAME TABLE` was tried (2026-12-08) and
//! lost the server's connection under 50 concurrent clones in 2 of 4 test runs, so it
//! is not used. A template is rebuilt in place the same way (callers finding it
//! `building` wait for the rebuild's lock).

use super::MySqlBackend;
use crate::db::backend::{Backend, TemplateLock, TemplateTargets};
use crate::db::schema::{TableName, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::template::{BUILDING, Record};
use crate::db::url::DbUrl;
use crate::error::Error;

/// MariaDB's limit for a schema comment.
const MAX_COMMENT: usize = 1024;

fn only_mariadb(b: &MySqlBackend) -> Result<(), Error> {
    if b.flavor == super::Flavor::MySql {
        return Err(Error::usage_hint(
            "templates and clones need MariaDB 10.5 or later: MySQL keeps no database comments for the template's record",
            "use MariaDB, PostgreSQL or SQLite for `seed clone`",
        ));
    }
    Ok(())
}

fn first(rows: Vec<Vec<Option<String>>>) -> Option<String> {
    rows.into_iter().next().and_then(|r| r.into_iter().next()).flatten()
}

fn column(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect()
}

pub async fn fingerprint(b: &mut MySqlBackend, migration_tables: &[TableName]) -> Result<String, Error> {
    only_mariadb(b)?;
    let step = b.step("reading the schema's fingerprint");
    let db = quote_literal(&b.database);
    let queries = [
        format!(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {db} ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
        format!(
            "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = {db} ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ),
        format!(
            "SELECT CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {db} ORDER BY 1, 2"
        ),
        format!("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {db} ORDER BY 1"),
        format!(
            "SELECT TRIGGER_NAME, MD5(ACTION_STATEMENT) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {db} ORDER BY 1"
        ),
        format!(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE, MD5(ROUTINE_DEFINITION) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {db} ORDER BY 1, 2"
        ),
        format!(
            "SELECT EVENT_NAME, MD5(EVENT_DEFINITION), STATUS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {db} ORDER BY 1"
        ),
    ];
    let mut text = String::new();
    for q in queries {
        for r in b.texts(q, &step).await? {
            text.push_str(&r.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>().join("\t"));
            text.push('\n');
        }
    }
    for t in migration_tables {
        let rows = b.texts(format!("SELECT * FROM {}.{}", quote_ident(&b.database), quote_ident(&t.name)), &step).await;
        let mut lines: Vec<String> = match rows {
            Ok(rows) => rows
                .into_iter()
                .map(|r| r.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>().join("\t"))
                .collect(),
            Err(_) => vec!["absent".into()],
        };
        lines.sort();
        text.push_str(&format!("{t}={}\n", lines.join(";")));
    }
    Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes())))
}

pub async fn record(b: &mut MySqlBackend, template: &DbUrl) -> Result<Option<String>, Error> {
    only_mariadb(b)?;
    let step = b.step("reading the template's record");
    let rows = b
        .texts(
            format!(
                "SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                quote_literal(&template.database_name())
            ),
            &step,
        )
        .await?;
    Ok(rows.into_iter().next().map(|r| r.into_iter().next().flatten().unwrap_or_default()))
}

/// Rebuilt in place (no `RENAME DATABASE`): dropped, copied while marked `building`,
/// then given its record.
pub async fn keep(b: &mut MySqlBackend, source: &DbUrl, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
    only_mariadb(b)?;
    record.strategy = Some("ddl + insert-select".into());
    let text = record.to_text();
    if text.len() > MAX_COMMENT {
        return Err(Error::usage_hint(
            format!("the template's record is {} bytes; a MariaDB database comment holds {MAX_COMMENT}", text.len()),
            "shorten the prepare options (a shorter --factories path, fewer --table options)",
        ));
    }
    let (from, to) = (source.database_name(), t.template.database_name());
    let step = b.step(format!("dropping the old template {to}"));
    b.exec(format!("DROP DATABASE IF EXISTS {}", quote_ident(&to)), &step).await?;
    copy(b, &from, &to).await?;
    let step = b.step("recording the template");
    b.exec(format!("ALTER DATABASE {} COMMENT {}", quote_ident(&to), quote_literal(&text)), &step).await
}

pub async fn clone(b: &mut MySqlBackend, template: &DbUrl, clone: &DbUrl) -> Result<(), Error> {
    let (from, to) = (template.database_name(), clone.database_name());
    copy(b, &from, &to).await?;
    b.exec(format!("ALTER DATABASE {} COMMENT ''", quote_ident(&to)), &b.step("marking the clone complete")).await
}

/// Copies database `from` into the new database `to`, marked `building` until the caller
/// marks it complete; dropped if it fails (a kill leaves it marked `building`).
async fn copy(b: &mut MySqlBackend, from: &str, to: &str) -> Result<(), Error> {
    let step = b.step(format!("copying {from} into {to}"));
    let lf = quote_literal(from);
    let charset = b
        .texts(
            format!("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {lf}"),
            &step,
        )
        .await?;
    let (cs, coll) = match charset.into_iter().next() {
        Some(r) => (r.first().cloned().flatten().unwrap_or_default(), r.get(1).cloned().flatten().unwrap_or_default()),
        None => return Err(Error::Internal(format!("database {from} is gone"))),
    };
    let home = quote_ident(&b.database);
    b.exec(
        format!(
            "CREATE DATABASE {} CHARACTER SET {cs} COLLATE {coll} COMMENT {}",
            quote_ident(to),
            quote_literal(BUILDING)
        ),
        &step,
    )
    .await?;
    let result = async {
        b.exec(format!("USE {}", quote_ident(to)), &step).await?;
        copy_tables(b, from, to, &step).await?;
        copy_rest(b, from, to, &step).await
    }
    .await;
    // Back to the session's own database whatever happened.
    let back = b.exec(format!("USE {home}; SET SESSION foreign_key_checks = 1, unique_checks = 1"), &step).await;
    if result.is_err() || back.is_err() {
        let _ =
            b.exec(format!("DROP DATABASE IF EXISTS {}", quote_ident(to)), &b.step("dropping the failed copy")).await;
    }
    result.and(back)
}

/// Each table's DDL and rows, into the current database; the tables' names.
async fn copy_tables(b: &mut MySqlBackend, from: &str, to: &str, step: &Step) -> Result<Vec<String>, Error> {
    let (qf, qt, lf) = (quote_ident(from), quote_ident(to), quote_literal(from));
    b.exec("SET SESSION foreign_key_checks = 0, unique_checks = 0".into(), step).await?;
    let tables = column(
        b.texts(
            format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {lf} AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1"),
            step,
        )
        .await?,
    );
    for t in &tables {
        let rows = b.texts(format!("SHOW CREATE TABLE {qf}.{}", quote_ident(t)), step).await?;
        let ddl = rows.into_iter().next().and_then(|r| r.get(1).cloned().flatten()).unwrap_or_default();
        b.exec(ddl, step).await?;
    }
    // Generated columns are computed again, never written.
    let columns = b
        .texts(
            format!(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {lf} \
                 AND EXTRA NOT LIKE '%GENERATED%' AND EXTRA NOT IN ('VIRTUAL', 'PERSISTENT', 'STORED') \
                 ORDER BY TABLE_NAME, ORDINAL_POSITION"
            ),
            step,
        )
        .await?;
    for t in &tables {
        let cols: Vec<String> = columns
            .iter()
            .filter(|r| r.first().cloned().flatten().as_deref() == Some(t.as_str()))
            .filter_map(|r| r.get(1).cloned().flatten())
            .map(|c| quote_ident(&c))
            .collect();
        if cols.is_empty() {
            continue;
        }
        let cols = cols.join(", ");
        let qtab = quote_ident(t);
        b.exec(format!("INSERT INTO {qt}.{qtab} ({cols}) SELECT {cols} FROM {qf}.{qtab}"), step).await?;
    }
    Ok(tables)
}

/// Views, routines, events and triggers (last), into the current database `to`.
async fn copy_rest(b: &mut MySqlBackend, from: &str, to: &str, step: &Step) -> Result<(), Error> {
    let (qf, lf) = (quote_ident(from), quote_literal(from));
    copy_views(b, from, to, step).await?;
    let mode = first(b.texts("SELECT @@SESSION.sql_mode".into(), step).await?).unwrap_or_default();
    let routines = b
        .texts(
            format!("SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {lf} ORDER BY 1, 2"),
            step,
        )
        .await?;
    for r in routines {
        let (kind, name) =
            (r.first().cloned().flatten().unwrap_or_default(), r.get(1).cloned().flatten().unwrap_or_default());
        let kind = if kind == "FUNCTION" { "FUNCTION" } else { "PROCEDURE" };
        let shown = b.texts(format!("SHOW CREATE {kind} {qf}.{}", quote_ident(&name)), step).await?;
        let row = shown.into_iter().next().unwrap_or_default();
        // (name, sql_mode, body, …): the body runs under the sql_mode it was written for.
        create_under(b, row.get(1).cloned().flatten(), row.get(2).cloned().flatten(), &mode, step).await?;
    }
    let events = b
        .texts(
            format!("SELECT EVENT_NAME, SQL_MODE, TIME_ZONE FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {lf} ORDER BY 1"),
            step,
        )
        .await?;
    for e in events {
        let [Some(name), sql_mode, zone] = [0, 1, 2].map(|i| e.get(i).cloned().flatten()) else { continue };
        // The server writes an event's DDL in the session's quoting: shown and made again
        // under the event's own sql_mode, its schedule in the time zone it was written in.
        let (sql_mode, zone) = (sql_mode.unwrap_or_default(), zone.unwrap_or_else(|| "SYSTEM".into()));
        b.exec(
            format!(
                "SET @seed_zone = @@SESSION.time_zone, SESSION time_zone = {}, SESSION sql_mode = {}",
                quote_literal(&zone),
                quote_literal(&sql_mode)
            ),
            step,
        )
        .await?;
        let created = async {
            // Backticks: the event's sql_mode may not have ANSI_QUOTES.
            let shown = b.texts(format!("SHOW CREATE EVENT {}.{}", backtick(from), backtick(&name)), step).await?;
            let ddl = shown.into_iter().next().and_then(|r| r.get(3).cloned().flatten()).ok_or_else(|| {
                Error::Permission {
                    what: "copying an event".into(),
                    reason: "the server did not show its definition".into(),
                    hint: Some("the user needs the EVENT privilege on the template's database".into()),
                }
            })?;
            b.exec(ddl, step).await
        }
        .await;
        b.exec(format!("SET SESSION time_zone = @seed_zone, SESSION sql_mode = {}", quote_literal(&mode)), step)
            .await?;
        created?;
    }
    let triggers = column(
        b.texts(
            format!("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {lf} ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER"),
            step,
        )
        .await?,
    );
    for t in triggers {
        let shown = b.texts(format!("SHOW CREATE TRIGGER {qf}.{}", quote_ident(&t)), step).await?;
        let row = shown.into_iter().next().unwrap_or_default();
        create_under(b, row.get(1).cloned().flatten(), row.get(2).cloned().flatten(), &mode, step).await?;
    }
    Ok(())
}

/// An identifier quoted for any sql_mode.
fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

async fn create_under(
    b: &mut MySqlBackend,
    sql_mode: Option<String>,
    ddl: Option<String>,
    ours: &str,
    step: &Step,
) -> Result<(), Error> {
    let Some(ddl) = ddl else {
        return Err(Error::Permission {
            what: "copying a routine or trigger".into(),
            reason: "the server did not show its definition".into(),
            hint: Some("the user needs to own it or hold the SHOW CREATE ROUTINE / TRIGGER privilege".into()),
        });
    };
    b.exec(format!("SET SESSION sql_mode = {}", quote_literal(&sql_mode.unwrap_or_default())), step).await?;
    let created = b.exec(ddl, step).await;
    b.exec(format!("SET SESSION sql_mode = {}", quote_literal(ours)), step).await?;
    created
}

/// Views name their tables with the database: those names are moved to the copy.
/// A view on another view waits for it (rounds until nothing more can be made).
async fn copy_views(b: &mut MySqlBackend, from: &str, to: &str, step: &Step) -> Result<(), Error> {
    let (qf, lf) = (quote_ident(from), quote_literal(from));
    let views = column(
        b.texts(format!("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {lf} ORDER BY 1"), step)
            .await?,
    );
    let mut pending = Vec::new();
    for v in views {
        let shown = b.texts(format!("SHOW CREATE VIEW {qf}.{}", quote_ident(&v)), step).await?;
        let ddl = shown.into_iter().next().and_then(|r| r.get(1).cloned().flatten()).unwrap_or_default();
        let ddl = ddl
            .replace(&format!("{qf}."), &format!("{}.", quote_ident(to)))
            .replace(&format!("{}.", backtick(from)), &format!("{}.", backtick(to)));
        pending.push(ddl);
    }
    while !pending.is_empty() {
        let mut failed = Vec::new();
        let mut last = None;
        let n = pending.len();
        for ddl in pending {
            if let Err(e) = b.exec(ddl.clone(), step).await {
                failed.push(ddl);
                last = Some(e);
            }
        }
        if failed.len() == n {
            return Err(last.unwrap_or_else(|| Error::Internal("views could not be copied".into())));
        }
        pending = failed;
    }
    Ok(())
}

pub async fn databases(b: &mut MySqlBackend) -> Result<Vec<String>, Error> {
    let step = b.step("listing databases");
    Ok(column(b.texts("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1".into(), &step).await?))
}

pub async fn drop_database(b: &mut MySqlBackend, db: &DbUrl) -> Result<bool, Error> {
    let name = db.database_name();
    let step = b.step(format!("dropping database {name}"));
    let n = b
        .one_i64(
            format!("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}", quote_literal(&name)),
            &step,
        )
        .await?;
    if n == Some(0) {
        return Ok(false);
    }
    // MariaDB can fail a DROP DATABASE with the directory not empty (error 1010, errno
    // 39) when several run at once; dropping its views and tables one by one, then the
    // database again, finishes it.
    let sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(&name));
    for wait_ms in [100, 500, 2_000] {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut b.conn).await {
            Err(sqlx::Error::Database(e))
                if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>().is_some_and(|m| m.number() == 1010) =>
            {
                let objects = b
                    .texts(
                        format!(
                            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = {}",
                            quote_literal(&name)
                        ),
                        &step,
                    )
                    .await?;
                for row in objects {
                    let (Some(Some(table)), Some(Some(kind))) = (row.first(), row.get(1)) else { continue };
                    let what = if kind == "VIEW" { "VIEW" } else { "TABLE" };
                    let drop = format!(
                        "SET FOREIGN_KEY_CHECKS = 0; DROP {what} IF EXISTS {}.{}; SET FOREIGN_KEY_CHECKS = 1",
                        quote_ident(&name),
                        quote_ident(table)
                    );
                    b.exec(drop, &step).await?;
                }
                tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
            }
            result => {
                result.map_err(|e| super::errors::translate(e, &step))?;
                return Ok(true);
            }
        }
    }
    b.exec(sql, &step).await?;
    Ok(true)
}

/// `GET_LOCK('seed-clone:<template>')`, held by the session.
pub async fn lock(b: &mut MySqlBackend, template: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
    only_mariadb(b)?;
    let name = super::lock::lock_name(&format!("clone:{}", template.database_name()));
    let lit = quote_literal(&name);
    let step = b.step("taking the template's lock");
    let timeout = if wait { 31_536_000 } else { 0 };
    if b.one_i64(format!("SELECT GET_LOCK({lit}, {timeout})"), &step).await? == Some(1) {
        let command = quote_literal(&crate::system::holder("seed clone (rebuilding the template)"));
        b.exec(format!("SET @seed_command = {command}"), &step).await?;
        return Ok(TemplateLock(None));
    }
    Err(Error::LockHeld {
        resource: format!("template {} (another caller is rebuilding it)", template.database_name()),
        holder: super::lock::holder(b, &lit).await,
        hint: "pass --wait to wait for the rebuild and clone the new template".into(),
    })
}
