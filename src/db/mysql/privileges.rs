//! `doctor` on MySQL/MariaDB: the user's privileges on the database (what bulk and
//! restore need: SELECT, INSERT, DELETE), `LOAD DATA LOCAL` availability, the engine
//! of each table (non-transactional ones are named), sql_mode and max_allowed_packet.

use std::collections::BTreeMap;

use serde_json::json;

use super::MySqlBackend;
use crate::db::backend::Privileges;
use crate::error::Error;

/// What a load needs on every table.
const NEEDED: [&str; 3] = ["SELECT", "INSERT", "DELETE"];

pub async fn check(db: &mut MySqlBackend) -> Result<Privileges, Error> {
    let step = db.step("reading privileges");
    let first = |rows: Vec<Vec<Option<String>>>| rows.into_iter().next().unwrap_or_default();
    let row = first(
        db.texts(
            "SELECT CURRENT_USER(), @@global.sql_mode, @@max_allowed_packet, @@local_infile, VERSION()".into(),
            &step,
        )
        .await?,
    );
    let get = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let (user, sql_mode, max_packet, local_infile) = (get(0), get(1), get(2), get(3) == "1");
    // SHOW GRANTS lists what CURRENT_USER() holds, at every level.
    let grants: Vec<String> = db
        .texts("SHOW GRANTS".into(), &step)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let database = db.database.clone();
    let missing: Vec<&str> =
        NEEDED.iter().copied().filter(|p| !grants.iter().any(|g| grants_on(g, p, &database))).collect();
    let engines = db
        .texts(
            "SELECT t.TABLE_NAME, t.ENGINE, e.TRANSACTIONS FROM information_schema.TABLES t
             LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
             WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
                .into(),
            &step,
        )
        .await?;
    let mut by_engine: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut non_transactional = Vec::new();
    for r in &engines {
        let g = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        if g(2) != "YES" {
            non_transactional.push(format!("{} ({})", g(0), g(1)));
        }
        by_engine.entry(g(1)).or_default().push(g(0));
    }
    let engine_summary: Vec<String> = by_engine.iter().map(|(e, t)| format!("{e}: {}", t.len())).collect();
    let mut detail = format!(
        "{user}: {}; tables by engine: {}; server sql_mode {}; max_allowed_packet {}; LOAD DATA LOCAL {}",
        if missing.is_empty() {
            format!("may {} on {database}", NEEDED.join(", "))
        } else {
            format!("lacks {} on {database}", missing.join(", "))
        },
        if engine_summary.is_empty() { "none".to_owned() } else { engine_summary.join(", ") },
        if sql_mode.is_empty() { "(empty)".to_owned() } else { sql_mode.clone() },
        max_packet,
        if local_infile { "enabled on the server (seed does not use it)" } else { "disabled on the server" },
    );
    if !non_transactional.is_empty() {
        detail
            .push_str(&format!("; cannot roll back (bulk and restore refuse them): {}", non_transactional.join(", ")));
    }
    let ok = missing.is_empty() && non_transactional.is_empty();
    let data = json!({
        "user": user, "database": database, "missing": missing, "grants": grants.len(),
        "engines": by_engine, "non_transactional": non_transactional, "sql_mode": sql_mode,
        "max_allowed_packet": max_packet.parse::<u64>().ok(), "local_infile": local_infile,
    });
    Ok(Privileges { ok, fatal: false, detail, data })
}

/// Whether one `GRANT ... ON x TO ...` line gives `privilege` on `database`.
fn grants_on(grant: &str, privilege: &str, database: &str) -> bool {
    let upper = grant.to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix("GRANT ") else { return false };
    let Some((privs, on)) = rest.split_once(" ON ") else { return false };
    let target = on.split(" TO ").next().unwrap_or_default().trim().to_owned();
    let db_upper = database.to_ascii_uppercase();
    let applies = target == "*.*"
        || [format!("`{db_upper}`.*"), format!("{db_upper}.*"), format!("`{}`.*", db_upper.replace('_', "\\_"))]
            .contains(&target);
    applies && privs.split(',').map(str::trim).any(|p| p == privilege || p == "ALL PRIVILEGES" || p == "ALL")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_lines() {
        assert!(grants_on("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION", "DELETE", "x"));
        assert!(grants_on("GRANT SELECT, INSERT, DELETE ON `shop`.* TO `app`@`%`", "INSERT", "shop"));
        assert!(!grants_on("GRANT SELECT ON `shop`.* TO `app`@`%`", "INSERT", "shop"));
        assert!(!grants_on("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*X'", "SELECT", "shop"));
        assert!(grants_on("GRANT SELECT ON `my\\_db`.* TO `a`@`%`", "SELECT", "my_db"));
    }
}
