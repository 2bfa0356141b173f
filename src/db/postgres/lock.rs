//! The per-database advisory lock that keeps two `bulk`/`restore` runs apart.

use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::errors::translate;
use crate::db::backend::WriteIntent;
use crate::db::step::Step;
use crate::error::Error;

/// The key of the advisory lock that serialises `bulk` and `restore` on one database.
/// (Advisory locks are per database already; this tells ours apart from the app's.)
pub const ADVISORY_LOCK_KEY: i64 = 0x5EED_0001_5EED_0001;

/// How long a retried attempt waits for the lock of the attempt it replaces: that
/// backend may still be on its way out.
const RETRY_PATIENCE: Duration = Duration::from_secs(5);

/// Longest `application_name` the server keeps (NAMEDATALEN - 1 bytes).
const MAX_APPLICATION_NAME: usize = 63;

/// Takes the lock for the current transaction, or says who has it. With `--wait` it
/// waits as long as it takes (bounded by the statement timeout, if any). The holder
/// then names itself in `application_name` for the transaction (`pid 4242 on laptop
/// (seed bulk)`): the only thing another session can read of it, and the server's
/// backend pid alone would pass for the seed process's.
pub async fn advisory_xact_lock(conn: &mut PgConnection, intent: &WriteIntent) -> Result<(), Error> {
    let step = Step::new("taking the advisory lock");
    if intent.wait {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .execute(&mut *conn)
            .await
            .map_err(|e| translate(e, &step))?;
        return name_holder(conn, intent).await;
    }
    let deadline = Instant::now() + if intent.retry { RETRY_PATIENCE } else { Duration::ZERO };
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| translate(e, &step))?;
        if got {
            return name_holder(conn, intent).await;
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

async fn name_holder(conn: &mut PgConnection, intent: &WriteIntent) -> Result<(), Error> {
    name_session(conn, &format!("seed {}", intent.command), true).await
}

/// Names this session (for the transaction, or for the session when not `local`) the
/// way `holder` reads it back: `pid 4242 on laptop (seed bulk)`.
pub(super) async fn name_session(conn: &mut PgConnection, command: &str, local: bool) -> Result<(), Error> {
    let mut name = crate::system::holder(command);
    if name.len() > MAX_APPLICATION_NAME {
        let cut = (0..=MAX_APPLICATION_NAME).rev().find(|&i| name.is_char_boundary(i)).unwrap_or(0);
        name.truncate(cut);
    }
    sqlx::query("SELECT set_config('application_name', $1, $2)")
        .bind(&name)
        .bind(local)
        .execute(&mut *conn)
        .await
        .map_err(|e| translate(e, &Step::new("naming the lock's holder")))?;
    Ok(())
}

/// Who holds the seed advisory lock: the seed process as it named itself (`pid 4242 on
/// laptop (seed bulk)`), then its server connection; a holder that did not name itself
/// is described by its server connection only, called that.
async fn holder(conn: &mut PgConnection) -> Option<String> {
    holder_of(conn, ADVISORY_LOCK_KEY).await
}

/// Who holds advisory lock `key` of the current database (see `holder`).
pub(super) async fn holder_of(conn: &mut PgConnection, key: i64) -> Option<String> {
    let row = sqlx::query(
        "SELECT a.pid, a.application_name, extract(epoch FROM now() - a.xact_start)::int8 AS secs,
                a.client_addr::text AS addr
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = (($1::int8 >> 32) & 4294967295)::oid AND l.objid = ($1::int8 & 4294967295)::oid
           AND a.pid <> pg_backend_pid()
         LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .ok()??;
    let pid: i32 = row.get("pid");
    let app: String = row.get("application_name");
    let secs: Option<i64> = row.get("secs");
    let addr: Option<String> = row.get("addr");
    Some(describe_holder(&app, pid, addr.as_deref(), secs))
}

pub(super) fn describe_holder(app: &str, server_pid: i32, addr: Option<&str>, secs: Option<i64>) -> String {
    // Another session's words: printable characters only.
    let app: String = app.chars().filter(|c| !c.is_control()).collect();
    let connection = format!(
        "server process {server_pid}{}{}",
        addr.map(|a| format!(" from {a}")).unwrap_or_default(),
        secs.map(|s| format!(", transaction open for {s}s")).unwrap_or_default()
    );
    if app.starts_with("pid ") && app.contains(" on ") {
        format!("{app}; its connection: {connection}")
    } else {
        format!("{connection} ({})", if app.is_empty() { "unknown client" } else { &app })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_named_by_its_own_process_not_the_server_pid() {
        let text = describe_holder("pid 4242 on laptop (seed bulk)", 17874, Some("127.0.0.1/32"), Some(3));
        assert_eq!(
            text,
            "pid 4242 on laptop (seed bulk); its connection: server process 17874 from 127.0.0.1/32, transaction open for 3s"
        );
        let text = describe_holder("psql", 17874, None, None);
        assert_eq!(text, "server process 17874 (psql)");
        assert!(!describe_holder("pid 1 on x\u{1b}[2J", 2, None, None).contains('\u{1b}'));
    }
}
