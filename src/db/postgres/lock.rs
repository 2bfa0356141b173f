//! The per-database advisory lock that keeps two `bulk`/`restore` runs apart.

use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::errors::translate;
use crate::db::backend::WriteIntent;
use crate::db::errors::Step;
use crate::error::Error;

/// The key of the advisory lock that serialises `bulk` and `restore` on one database.
/// (Advisory locks are per database already; this tells ours apart from the app's.)
pub const ADVISORY_LOCK_KEY: i64 = 0x5EED_0001_5EED_0001;

/// How long a retried attempt waits for the lock of the attempt it replaces: that
/// backend may still be on its way out.
const RETRY_PATIENCE: Duration = Duration::from_secs(5);

/// Takes the lock for the current transaction, or says who has it. With `--wait` it
/// waits as long as it takes (bounded by the statement timeout, if any).
pub async fn advisory_xact_lock(conn: &mut PgConnection, intent: &WriteIntent) -> Result<(), Error> {
    let step = Step::new("taking the advisory lock");
    if intent.wait {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map_err(|e| translate(e, &step))?;
        return Ok(());
    }
    let deadline = Instant::now() + if intent.retry { RETRY_PATIENCE } else { Duration::ZERO };
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| translate(e, &step))?;
        if got {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let holder = holder(conn).await;
    Err(Error::LockHeld {
        resource: "the database (another seed bulk or restore is running)".into(),
        holder,
        hint: format!("wait for it to finish, then run `seed {}` again, or pass --wait", intent.command),
    })
}

/// Who holds the seed advisory lock, e.g. "pid 4242 (seed bulk, transaction open for 3s)".
async fn holder(conn: &mut PgConnection) -> Option<String> {
    let row = sqlx::query(
        "SELECT a.pid, a.application_name, extract(epoch FROM now() - a.xact_start)::int8 AS secs,
                a.client_addr::text AS addr
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = (($1::int8 >> 32) & 4294967295)::oid AND l.objid = ($1::int8 & 4294967295)::oid
           AND a.pid <> pg_backend_pid()
         LIMIT 1",
    )
    .bind(ADVISORY_LOCK_KEY)
    .fetch_optional(&mut *conn)
    .await
    .ok()??;
    let pid: i32 = row.get("pid");
    let app: String = row.get("application_name");
    let secs: Option<i64> = row.get("secs");
    let addr: Option<String> = row.get("addr");
    Some(format!(
        "pid {pid} ({}{}{})",
        if app.is_empty() { "unknown client" } else { &app },
        addr.map(|a| format!(" from {a}")).unwrap_or_default(),
        secs.map(|s| format!(", transaction open for {s}s")).unwrap_or_default()
    ))
}
