//! `seed doctor` on the embedded default, on PostgreSQL, against a closed port, and
//! as a user who may not write: doctor itself never writes.

use std::time::{Duration, Instant};

use crate::common::{PG_PASSWORD, TestDb, Workdir, all_output, assert_no_password, server};
use crate::ux::{as_nobody, chmod, open_to_all, tree};

#[test]
fn healthy_on_sqlite_default() {
    let w = Workdir::new();
    let out = w.seed().arg("doctor").output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("SQLite"), "{text}");
    assert!(text.contains("healthy"), "{text}");
    let out = w.seed().args(["doctor", "--json"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor --json is JSON");
    assert_eq!(doc["healthy"], true);
    assert!(doc["checks"].as_array().unwrap().iter().any(|c| c["name"] == "snapshot directory"));
}

#[test]
fn healthy_on_postgres_with_fingerprint_and_privileges() {
    let db = TestDb::with_demo_schema("doctor_pg");
    let w = Workdir::new();
    let out = w.seed().args(["doctor", "--database-url", &db.url()]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("PostgreSQL 1"), "{text}");
    assert!(text.contains("4 tables"), "{text}");
    assert!(text.contains("(superuser)"), "{text}");
    assert_no_password(&out);

    let out = w.seed().env("DATABASE_URL", db.url()).args(["doctor", "--json"]).output().unwrap();
    assert_no_password(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["healthy"], true, "{doc}");
    let fp = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "schema fingerprint").unwrap();
    assert_eq!(fp["data"]["tables"], 4);
    assert_eq!(fp["data"]["fingerprint"].as_str().unwrap().len(), 32);
}

#[test]
fn reports_schema_version_from_migration_table() {
    let db = TestDb::with_demo_schema("doctor_version");
    db.load_sql(
        "CREATE TABLE _sqlx_migrations (version bigint PRIMARY KEY, description text, success boolean NOT NULL);
         INSERT INTO _sqlx_migrations VALUES (20240101000000, 'init', true), (20240301000000, 'more', true)",
    );
    let w = Workdir::new();
    let out = w.seed().args(["doctor", "--database-url", &db.url()]).output().unwrap();
    let text = all_output(&out);
    assert!(text.contains("20240301000000 (_sqlx_migrations)"), "{text}");
    // migration tables are not counted as data tables
    assert!(text.contains("4 tables"), "{text}");
}

#[test]
fn closed_port_fails_with_connection_code_after_bounded_retries() {
    let w = Workdir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://app:{PG_PASSWORD}@127.0.0.1:{port}/app");
    let started = Instant::now();
    let out = w
        .seed()
        .args(["doctor", "--database-url", &url, "--log-format", "json"])
        .env("SEED_RETRY_MAX_ATTEMPTS", "4")
        .env("SEED_RETRY_BASE_DELAY", "100ms")
        .env("SEED_RETRY_MAX_DELAY", "200ms")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    assert_no_password(&out);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let retries = events.iter().filter(|e| e["event"] == "connection_retry").count();
    assert_eq!(retries, 3, "{events:?}");
    let failed = events.iter().find(|e| e["event"] == "connection_failed").expect("connection_failed event");
    assert_eq!(failed["attempts"], 4);
    assert_eq!(failed["error_class"], "connection refused");
    // three backoffs of at most 100+200+200 ms, plus process start-up
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn wrong_password_fails_at_once_without_retrying() {
    let db = TestDb::new("doctor_badpw");
    let w = Workdir::new();
    let url = db.url().replace(PG_PASSWORD, "wrong-password-123");
    let out = w.seed().args(["doctor", "--database-url", &url, "--log-format", "json"]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("connection_retry"), "{text}");
    assert!(!text.contains("wrong-password-123"), "{text}");
}

#[test]
fn unknown_database_fails_at_once() {
    let w = Workdir::new();
    let url = server().url("no_such_database_here");
    let out = w.seed().args(["doctor", "--database-url", &url]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("database does not exist"), "{text}");
    assert!(!text.contains("retrying"), "{text}");
    assert_no_password(&out);
}

#[test]
fn unwritable_snapshot_dir_is_named() {
    let w = Workdir::new();
    let file = w.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = w.seed().args(["doctor", "--snapshot-dir", file.to_str().unwrap()]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(11), "{text}");
    assert!(text.contains("snapshot directory"), "{text}");
}

// ---------------------------------------------------------------------------------
// Doctor never writes; it checks what the commands would do (issue 8, item 12)
// ---------------------------------------------------------------------------------

#[test]
fn i8_12_doctor_creates_nothing() {
    let w = Workdir::new();
    let before = tree(w.path());
    let out = w.seed().arg("doctor").output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no file yet"), "{text}");
    assert!(text.contains("does not exist yet"), "{text}");
    assert_eq!(tree(w.path()), before, "doctor wrote into an empty directory:\n{text}");

    // An existing database is opened read-only: no journal, no change.
    w.seed().args(["bulk", "--count", "3"]).assert().success();
    w.seed().args(["snapshot", "create", "s"]).assert().success();
    let before = tree(w.path());
    let db_before = std::fs::read(w.path().join("seed.db")).unwrap();
    let out = w.seed().args(["doctor", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(tree(w.path()), before, "doctor changed the directory");
    assert_eq!(std::fs::read(w.path().join("seed.db")).unwrap(), db_before, "doctor changed seed.db");
}

#[test]
fn i8_12_doctor_checks_as_the_effective_user() {
    let w = Workdir::new();
    w.seed().args(["bulk", "--count", "3"]).assert().success();
    // root owns seed.db (0644) and the directory (0755): `nobody` can read, not write.
    chmod(&w.path().join("seed.db"), 0o644);
    open_to_all(w.path());
    let before = tree(w.path());
    let out = as_nobody(&w, &["doctor", "--json"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(11), "{text}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |name: &str| {
        doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("{doc}")).clone()
    };
    let privileges = check("privileges");
    assert_eq!(privileges["status"], "fail", "{privileges}");
    assert!(privileges["detail"].as_str().unwrap().contains("nobody: database file not writable"), "{privileges}");
    let dir = check("snapshot directory");
    assert_eq!(dir["status"], "fail", "{dir}");
    assert!(dir["detail"].as_str().unwrap().contains("cannot be created"), "{dir}");
    // The schema is still read (read-only).
    assert_eq!(check("schema fingerprint")["data"]["tables"], 4);
    assert_eq!(tree(w.path()), before, "doctor as nobody wrote something");

    // A snapshot directory that exists but is not nobody's to write.
    std::fs::create_dir(w.path().join("snapshots")).unwrap();
    chmod(&w.path().join("snapshots"), 0o755);
    let out = as_nobody(&w, &["doctor"]);
    let text = all_output(&out);
    assert!(text.contains("FAIL  snapshot directory snapshots is not writable"), "{text}");
    // A missing database file in a directory nobody cannot write: bulk could not create it.
    let out = as_nobody(&w, &["--database-url", "sqlite://other.db", "doctor"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(11), "{text}");
    assert!(text.contains("FAIL  privileges         nobody: database file not writable"), "{text}");
    assert!(text.contains("no file yet"), "{text}");
    assert!(!w.path().join("other.db").exists());
}
