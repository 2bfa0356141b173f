//! PostgreSQL's pool of ready clones (`seed clone NAME --pool N`): copies of the template
//! made ahead of demand, each named `…_rdy` and marked (its comment) with the template
//! record it was copied from. A caller takes one by `ALTER DATABASE … RENAME TO` its own
//! clone name: the server renames a database once, so of two callers racing for the
//! same one the second is told it does not exist and takes the next. A refill builds
//! each copy under a temporary `…_new` name and renames it to `…_rdy` only once it is
//! complete and still of the current template: a killed refill leaves only `…_new`,
//! which `--gc` removes.

use sqlx::Row;

use super::PgBackend;
use super::errors::translate;
use super::lock::name_session;
use super::template::{drop_db, record};
use crate::db::schema::{quote_ident, quote_literal};
use crate::db::template::{READY, Record};
use crate::db::url::DbUrl;
use crate::error::Error;

/// The pool's ready clones of the template whose clones begin with `prefix`, with the
/// mark each carries.
pub async fn members(b: &mut PgBackend, prefix: &str) -> Result<Vec<(String, String)>, Error> {
    let step = b.step("listing the pool's ready clones");
    let rows = sqlx::query(
        "SELECT datname::text, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database
         WHERE starts_with(datname::text, $1) AND right(datname::text, length($2)) = $2 ORDER BY 1",
    )
    .bind(prefix)
    .bind(READY)
    .fetch_all(&mut b.conn)
    .await
    .map_err(|e| translate(e, &step))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Renames one ready clone carrying `tag` to `clone`; false when there is none left.
pub async fn claim(b: &mut PgBackend, prefix: &str, tag: &str, clone: &DbUrl) -> Result<bool, Error> {
    let step = b.step("taking a ready clone from the pool");
    // In random order: fifty callers at once mostly reach for different ones.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE starts_with(datname::text, $1)
         AND right(datname::text, length($2)) = $2 AND shobj_description(oid, 'pg_database') = $3 ORDER BY random()",
    )
    .bind(prefix)
    .bind(READY)
    .bind(tag)
    .fetch_all(&mut b.conn)
    .await
    .map_err(|e| translate(e, &step))?;
    let to = quote_ident(&clone.database_name());
    for name in names {
        // One implicit transaction: renamed and unmarked together, or neither.
        let sql = format!("ALTER DATABASE {} RENAME TO {to}; COMMENT ON DATABASE {to} IS NULL", quote_ident(&name));
        match b.exec(sql, &step).await {
            Ok(()) => return Ok(true),
            // Taken by another caller (gone), or someone is connected to it: the next one.
            Err(e) if matches!(e.sqlstate(), Some("3D000" | "55006")) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Copies `template` into `building`, marks it with `tag`, and names it `ready` if the
/// template is still the one `record` describes; false (and nothing left) when the
/// template was rebuilt meanwhile.
pub async fn make_ready(
    b: &mut PgBackend,
    template: &DbUrl,
    building: &DbUrl,
    ready: &DbUrl,
    tag: &str,
    was: &Record,
) -> Result<bool, Error> {
    let (tpl, new) = (template.database_name(), building.database_name());
    let create = format!(
        "CREATE DATABASE {} TEMPLATE {}{}",
        quote_ident(&new),
        quote_ident(&tpl),
        was.strategy.as_ref().map(|s| format!(" STRATEGY {s}")).unwrap_or_default()
    );
    b.exec(create, &b.step(format!("copying template {tpl} into the pool"))).await?;
    let finish = async {
        let step = b.step("marking a ready clone");
        b.exec(format!("COMMENT ON DATABASE {} IS {}", quote_ident(&new), quote_literal(tag)), &step).await?;
        // The copy held the template while it ran: the same record now means the same template then.
        let now = record(b, template).await?;
        if now.as_deref().and_then(Record::parse).as_ref() != Some(was) {
            return Ok(false);
        }
        b.exec(
            format!("ALTER DATABASE {} RENAME TO {}", quote_ident(&new), quote_ident(&ready.database_name())),
            &step,
        )
        .await?;
        Ok::<bool, Error>(true)
    }
    .await;
    if !matches!(finish, Ok(true)) {
        drop_db(b, &new).await.ok();
    }
    finish
}

fn pool_key(template: &DbUrl) -> i64 {
    let name = template.database_name();
    i64::from_ne_bytes(xxhash_rust::xxh3::xxh3_64(format!("seed pool {name}").as_bytes()).to_ne_bytes())
}

/// The lock one refill holds (a session advisory lock, released however the process
/// ends); false when another refill has it and `wait` is not set.
pub async fn lock(b: &mut PgBackend, template: &DbUrl, wait: bool) -> Result<bool, Error> {
    let step = b.step("taking the pool's lock");
    let key = pool_key(template);
    let got = if wait {
        sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut b.conn).await.map(|_| true)
    } else {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut b.conn).await
    }
    .map_err(|e| translate(e, &step))?;
    if got {
        name_session(&mut b.conn, "seed clone (refilling the pool)", false).await?;
    }
    Ok(got)
}

pub async fn unlock(b: &mut PgBackend, template: &DbUrl) -> Result<(), Error> {
    let step = b.step("releasing the pool's lock");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(pool_key(template))
        .execute(&mut b.conn)
        .await
        .map(|_| ())
        .map_err(|e| translate(e, &step))
}

/// Whether a refill holds the pool's lock now (for `--gc`: its `…_new` is being built).
pub async fn refill_under_way(b: &mut PgBackend, template: &DbUrl) -> Result<bool, Error> {
    if lock(b, template, false).await? {
        unlock(b, template).await?;
        return Ok(false);
    }
    Ok(true)
}
