//! Issue 19, end to end: hints that name the setting to fix and the right tool for the
//! database kind (19.10), "nothing there" messages that name the database and where its
//! address came from (19.11), and summaries that read well (19.14). Real servers.

use crate::bulk::bulk;
use crate::common::expect_code;
use crate::common::mariadb;
use crate::common::{PG_PASSWORD, PG_USER, TestDb, Workdir, all_output, assert_no_password, server};

/// The harness PostgreSQL as libpq variables, with `password` in PGPASSWORD.
fn pg_vars(db: &str, password: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PGHOST", "127.0.0.1".to_owned()),
        ("PGPORT", server().port.to_string()),
        ("PGUSER", PG_USER.to_owned()),
        ("PGPASSWORD", password.to_owned()),
        ("PGDATABASE", db.to_owned()),
    ]
}

fn hint_of(text: &str) -> &str {
    text.split("hint:").nth(1).unwrap_or_else(|| panic!("no hint in:\n{text}"))
}

#[test]
fn r19_10_connection_hints_name_the_setting_and_the_tool_of_the_kind() {
    let w = Workdir::new();
    let db = TestDb::with_demo_schema("hints_pg");
    // A wrong PGPASSWORD and no URL: the hint names PGPASSWORD, not DATABASE_URL.
    let out = w
        .seed()
        .envs(pg_vars(&db.name, "Wrong-Pw-19"))
        .env("HOME", w.path())
        .args(["bulk", "--count", "1", "--no-progress"])
        .output()
        .unwrap();
    let text = expect_code(&out, 3);
    let hint = hint_of(&text);
    assert!(hint.contains("PGPASSWORD") && hint.contains("libpq environment"), "{text}");
    assert!(!text.contains("DATABASE_URL") && !text.contains("Wrong-Pw-19"), "{text}");
    // A PostgreSQL database that is not there: createdb.
    let url = format!("postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/no_such_db_19", server().port);
    let text = expect_code(&bulk(&w, &url, &["--count", "1"]), 3);
    assert!(hint_of(&text).contains("createdb no_such_db_19") && hint_of(&text).contains("--database-url"), "{text}");

    // MariaDB: a database that is not there, as a user who may see it: CREATE DATABASE,
    // never PostgreSQL's createdb.
    let my = mariadb::server();
    let url = format!("mysql://{}:{}@127.0.0.1:{}/no_such_db_19", mariadb::MY_USER, mariadb::MY_PASSWORD, my.port);
    let text = expect_code(&bulk(&w, &url, &["--count", "1"]), 3);
    let hint = hint_of(&text);
    assert!(hint.contains("CREATE DATABASE") && !hint.contains("createdb"), "{text}");
    // ... and as a user without privileges (the server says "access denied" for both a
    // missing and a forbidden database): the hint says both, no server-down advice.
    let user = format!("plain_{}", std::process::id());
    my.sql("", &format!("DROP USER IF EXISTS '{user}'@'%'; CREATE USER '{user}'@'%' IDENTIFIED BY 'Plain-Pw-19';"));
    let url = format!("mysql://{user}:Plain-Pw-19@127.0.0.1:{}/no_such_db_19", my.port);
    let text = expect_code(&bulk(&w, &url, &["--count", "1"]), 3);
    let hint = hint_of(&text);
    assert!(hint.contains("GRANT") && hint.contains("CREATE DATABASE") && hint.contains(&user), "{text}");
    for wrong in ["server running", "SEED_RETRY_MAX_ATTEMPTS", "createdb", "Plain-Pw-19"] {
        assert!(!text.contains(wrong), "{wrong}: {text}");
    }

    // SQLite in a directory that is not there: mkdir, no server advice, nothing created.
    let dir = w.path().join("missing/dir");
    let url = format!("sqlite://{}/x.db", dir.display());
    let text = expect_code(&bulk(&w, &url, &["--count", "1"]), 3);
    let hint = hint_of(&text);
    assert!(hint.contains(&format!("mkdir -p {}", dir.display())) && hint.contains("--database-url"), "{text}");
    assert!(!hint.contains("server") && !w.path().join("missing").exists(), "{text}");
    // The same from .env: the hint names the file's variable.
    std::fs::write(w.path().join(".env"), format!("DATABASE_URL={url}\n")).unwrap();
    let out = w.seed().args(["bulk", "--count", "1", "--no-progress"]).output().unwrap();
    let text = expect_code(&out, 3);
    assert!(hint_of(&text).contains("DATABASE_URL in") && hint_of(&text).contains(".env"), "{text}");
}

#[test]
fn r19_11_nothing_there_names_the_database_and_where_it_came_from() {
    let w = Workdir::new();
    let empty = TestDb::new("empty_19");
    let before = empty.dump_data();
    // PG* variables replace the SQLite default: said at once, and the empty-schema
    // error names the database (masked) and the variables.
    let run = |args: &[&str]| {
        let out = w.seed().envs(pg_vars(&empty.name, PG_PASSWORD)).env("HOME", w.path()).args(args).output().unwrap();
        assert_no_password(&out);
        out
    };
    let named = format!(
        "postgres://{PG_USER}@127.0.0.1:{}/{} (from the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER))",
        server().port,
        empty.name
    );
    let text = expect_code(&run(&["bulk", "--count", "5", "--no-progress"]), 5);
    assert!(text.contains(&format!("the database {named} has no tables to seed")), "{text}");
    assert!(text.starts_with(&format!("target: {named}")), "{text}");
    assert!(!w.path().join("seed.db").exists(), "the SQLite default was made too");
    let text = expect_code(&run(&["snapshot", "create", "s", "--no-progress"]), 5);
    assert!(text.contains(&format!("the database {named} has no tables to snapshot")), "{text}");
    // Nothing to restore into it: a snapshot from elsewhere whose tables it lacks.
    let full = TestDb::with_demo_schema("full_19");
    expect_code(&bulk(&w, &full.url(), &["--count", "3"]), 0);
    let out = w.seed().args(["--database-url", &full.url(), "snapshot", "create", "demo", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let text = expect_code(&run(&["snapshot", "restore", "demo", "--exclude", "*", "--no-progress"]), 2);
    assert!(text.contains(&format!("left to restore into {named}")), "{text}");
    assert_eq!(empty.dump_data(), before);
    // No snapshots: where the directory setting came from.
    let text =
        expect_code(&w.seed().env("SEED_SNAPSHOT_DIR", "nowhere").args(["snapshot", "list"]).output().unwrap(), 2);
    assert!(text.contains("nowhere") && text.contains("SEED_SNAPSHOT_DIR"), "{text}");
}

#[test]
fn r19_14_summaries_read_well() {
    let w = Workdir::new();
    let db = TestDb::with_demo_schema("summaries_19");
    // Empty tables: no "0 B of data (0.0x)".
    let out = w.seed().args(["--database-url", &db.url(), "snapshot", "create", "none"]).output().unwrap();
    let text = expect_code(&out, 0);
    assert!(text.contains("no data (") && !text.contains("0.0x") && !text.contains("0 B of data"), "{text}");
    // Counts with thousands separators in summaries, as in progress.
    let out = bulk(&w, &db.url(), &["--count", "1200"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("4,800 rows") && !text.contains("4800 rows"), "{text}");
    let out = w.seed().args(["--database-url", &db.url(), "snapshot", "create", "some"]).output().unwrap();
    let text = expect_code(&out, 0);
    assert!(text.contains("4,800 rows") && text.contains("x)"), "{text}");
    // The list shows each snapshot's database kind.
    let out = w.seed().args(["snapshot", "list"]).output().unwrap();
    let text = expect_code(&out, 0);
    assert!(text.lines().next().unwrap().contains("DATABASE"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.contains("postgres")), "{text}");
    // --database-url's help names every kind.
    let help = expect_code(&w.seed().args(["bulk", "--help"]).output().unwrap(), 0);
    assert!(help.contains("postgres://") && help.contains("mysql://") && help.contains("sqlite://"), "{help}");
}
