//! The per-database lock that keeps two `bulk`/`restore` runs apart: `GET_LOCK()`,
//! named after the database. It belongs to the session, not the transaction, so it is
//! released explicitly after COMMIT or ROLLBACK and by the server whenever the
//! connection ends (a killed process, a killed connection).

use std::time::{Duration, Instant};

use super::MySqlBackend;
use crate::db::backend::Backend;
use crate::db::backend::WriteIntent;
use crate::db::schema::quote_literal;
use crate::error::Error;

/// How long a retried attempt waits for the lock of the attempt it replaces: the
/// server may not have noticed yet that the old connection is gone.
const RETRY_PATIENCE: Duration = Duration::from_secs(5);

/// `seed:DATABASE`; lock names are at most 64 characters, so a long database name is
/// replaced by its hash.
pub fn lock_name(database: &str) -> String {
    let name = format!("seed:{database}");
    if name.chars().count() <= 64 {
        name
    } else {
        format!("seed:{:032x}", xxhash_rust::xxh3::xxh3_128(database.as_bytes()))
    }
}

pub async fn get_lock(db: &mut MySqlBackend, intent: &WriteIntent) -> Result<(), Error> {
    let name = lock_name(&db.database);
    let step = db.step("taking the database lock");
    let lit = quote_literal(&name);
    let deadline = Instant::now() + if intent.retry { RETRY_PATIENCE } else { Duration::ZERO };
    loop {
        // With --wait: as long as it takes (a year), bounded by the statement timeout.
        let wait = if intent.wait { 31_536_000 } else { 0 };
        let got = db.one_i64(format!("SELECT GET_LOCK({lit}, {wait})"), &step).await?;
        if got == Some(1) {
            db.lock = Some(name);
            // Tells a refused second run which seed process this is, where and doing
            // what (readable through performance_schema where it is on).
            let command = quote_literal(&crate::system::holder(&format!("seed {}", intent.command)));
            db.exec(format!("SET @seed_command = {command}"), &step).await?;
            return Ok(());
        }
        if Instant::now() >= deadline && !intent.wait {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let holder = holder(db, &lit).await;
    Err(Error::LockHeld {
        resource: format!("the database {} (another seed bulk or restore is running)", db.database),
        holder,
        hint: format!("wait for it to finish, then run `seed {}` again, or pass --wait", intent.command),
    })
}

/// "pid 4242 on laptop (seed bulk); its connection: connection 42 (app@localhost, for
/// 3s)": the seed process as it named itself, from performance_schema when that is on,
/// then the holder's server connection from `IS_USED_LOCK` and who it is from the
/// process list (a user without the PROCESS privilege sees only their own connections).
pub(super) async fn holder(db: &mut MySqlBackend, lit: &str) -> Option<String> {
    let step = db.step("finding the lock's holder");
    let id = db.one_i64(format!("SELECT IS_USED_LOCK({lit})"), &step).await.ok()??;
    let mut process = None;
    let mut parts = Vec::new();
    let command = format!(
        "SELECT v.VARIABLE_VALUE FROM performance_schema.user_variables_by_thread v
         JOIN performance_schema.threads t ON t.THREAD_ID = v.THREAD_ID
         WHERE t.PROCESSLIST_ID = {id} AND v.VARIABLE_NAME = 'seed_command'"
    );
    if let Ok(rows) = db.texts(command, &step).await
        && let Some(Some(c)) = rows.into_iter().next().and_then(|r| r.into_iter().next())
    {
        process = Some(plain(&c));
    }
    let who = format!("SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = {id}");
    if let Ok(rows) = db.texts(who, &step).await
        && let Some(r) = rows.into_iter().next()
    {
        let get = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        // The client's port changes per connection and tells nothing: host only.
        let host = get(1);
        let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h).to_owned();
        parts.push(format!("{}@{host}", plain(&get(0))));
        parts.push(format!("for {}s", get(2)));
    }
    let connection =
        if parts.is_empty() { format!("connection {id}") } else { format!("connection {id} ({})", parts.join(", ")) };
    Some(match process {
        Some(p) => format!("{p}; its connection: {connection}"),
        None => connection,
    })
}

/// Printable characters only: another session's words are untrusted.
fn plain(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit() {
        assert_eq!(lock_name("shop"), "seed:shop");
        assert!(lock_name(&"x".repeat(100)).chars().count() <= 64);
    }
}
