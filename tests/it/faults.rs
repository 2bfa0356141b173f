//! Faults around the load itself: a retried load writes the same rows, Ctrl-C leaves a
//! SQLite file that is whole on its own, a second writer is told who holds the
//! database (or waits), and a reader during a SQLite load is told why it must wait.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::bulk::{bulk, bulk_embedded, finish, sigint, spawn_bulk, sqlite_rows, wait_for_copy};
use crate::common::{TestDb, Workdir, all_output, assert_no_password};
use crate::common::{expect_code, sqlite3, sqlite3_cmd};

const KEYED_SCHEMA: &str = "
    CREATE TABLE authors (id serial PRIMARY KEY, name text NOT NULL);
    CREATE TABLE books (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        author_id int NOT NULL REFERENCES authors (id),
        title text NOT NULL
    );";

fn keyed_db(tag: &str) -> TestDb {
    let db = TestDb::new(tag);
    db.load_sql(KEYED_SCHEMA);
    db
}

/// r8.4: the first attempt's `nextval` used to advance the sequences, so a retried load
/// wrote other ids (3001–6000 instead of 1–3000). Now a load killed mid-COPY and
/// retried writes exactly what an uninterrupted load writes — on empty tables (keys
/// built after the data) and on top of existing rows (keys in place).
#[test]
fn r8_4_a_retried_bulk_writes_the_same_rows_as_an_uninterrupted_one() {
    let w = Workdir::new();
    let reference = keyed_db("retry_ref");
    let victim = keyed_db("retry_victim");
    for (round, count) in [(1, "60000"), (2, "60000")] {
        expect_code(&bulk(&w, &reference.url(), &["--count", count]), 0);
        let mut child = spawn_bulk(
            &w,
            Some(&victim.url()),
            &["--count", count, "--retry-max-attempts", "3", "--retry-base-delay", "50ms"],
        );
        let pid = wait_for_copy(&mut child, &victim);
        assert_eq!(victim.psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
        let out = finish(child, Duration::from_secs(120));
        assert_no_password(&out);
        let text = expect_code(&out, 0);
        assert!(text.contains("(attempt 2)"), "round {round}: the load was not retried:\n{text}");
        assert_eq!(victim.dump_data(), reference.dump_data(), "round {round}: the retried load wrote other rows");
        // The sequences moved past what was written: the application's next insert
        // gets the next id on both (and leaves both in the same state).
        for db in [&victim, &reference] {
            let max: i64 = db.psql("SELECT max(id) FROM authors").parse().unwrap();
            let next: i64 = db.psql("INSERT INTO authors (name) VALUES ('app') RETURNING id").parse().unwrap();
            assert_eq!(next, max + 1, "round {round}: the sequence is behind the loaded rows");
            db.psql("DELETE FROM authors WHERE name = 'app'");
        }
    }
    assert_eq!(victim.psql("SELECT min(id) FROM books"), "1");
}

/// r8.8: after Ctrl-C the SQLite file alone (copied without its journal) is consistent
/// and holds the rows of before: the transaction was rolled back, not left in a hot
/// journal for the next reader to undo.
#[test]
fn r8_8_sqlite_after_ctrl_c_the_file_alone_is_whole() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    expect_code(&bulk_embedded(&w, &["--count", "50"]), 0);
    let before = sqlite_rows(&db);
    let mut child = spawn_bulk(&w, None, &["--count", "1000000"]);
    wait_for_journal(&w, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    sigint(&child);
    let out = finish(child, Duration::from_secs(30));
    expect_code(&out, 130);
    let journal = w.path().join("seed.db-journal");
    assert!(
        std::fs::metadata(&journal).map(|m| m.len() == 0).unwrap_or(true),
        "a hot rollback journal was left behind ({} bytes)",
        std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0)
    );
    let copy = tempfile::tempdir().unwrap();
    let alone = copy.path().join("seed.db");
    std::fs::copy(&db, &alone).unwrap();
    assert_eq!(sqlite3(&alone, "PRAGMA integrity_check"), "ok");
    assert_eq!(sqlite_rows(&alone), before);
}

fn wait_for_journal(w: &Workdir, child: &mut std::process::Child) {
    let journal = w.path().join("seed.db-journal");
    let started = Instant::now();
    while std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0) == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("seed bulk ended ({status}) before it wrote anything");
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the load never started writing");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// r8.8: a second SQLite writer gets exit 8 naming the first (not exit 3 "is the server
/// running?"), and with --wait it waits for the first to finish, then loads.
#[test]
fn r8_8_second_sqlite_writer_names_the_holder_or_waits() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    expect_code(&bulk_embedded(&w, &["--count", "10"]), 0);
    let mut first = spawn_bulk(&w, None, &["--count", "30000"]);
    wait_for_journal(&w, &mut first);
    let out = bulk_embedded(&w, &["--count", "5"]);
    let text = expect_code(&out, 8);
    assert!(text.contains(&format!("pid {} (seed bulk", first.id())), "the holder is not named:\n{text}");
    assert!(text.contains("--wait"), "{text}");
    let waiter = spawn_bulk(&w, None, &["--count", "5", "--wait"]);
    let out = finish(first, Duration::from_secs(120));
    expect_code(&out, 0);
    let out = finish(waiter, Duration::from_secs(120));
    expect_code(&out, 0);
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM staffs"), "30015");
}

/// r8.8: `snapshot create` (a read) during a SQLite load either reads a consistent
/// state or says who is writing and what to do — never "is the server running?".
#[test]
fn r8_8_snapshot_during_a_sqlite_load_says_who_is_writing() {
    let w = Workdir::new();
    expect_code(&bulk_embedded(&w, &["--count", "10"]), 0);
    let mut first = spawn_bulk(&w, None, &["--count", "1000000"]);
    wait_for_journal(&w, &mut first);
    // Once the writer has spilled its cache it holds the file exclusively: a reader (the
    // sqlite3 CLI, which does not wait) is refused. That is the state this test is about.
    let db = w.path().join("seed.db");
    let started = Instant::now();
    loop {
        let probe = sqlite3_cmd(&db).arg("SELECT count(*) FROM staffs").output().unwrap();
        if String::from_utf8_lossy(&probe.stderr).contains("database is locked") {
            break;
        }
        assert!(first.try_wait().unwrap().is_none(), "the load ended before it held the file exclusively");
        assert!(started.elapsed() < Duration::from_secs(60), "the load never held the file exclusively");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = w.seed().args(["snapshot", "create", "during", "--no-progress"]).output().unwrap();
    let text = expect_code(&out, 8);
    assert!(text.contains(&format!("pid {} (seed bulk", first.id())), "the writer is not named:\n{text}");
    assert!(!w.path().join("snapshots/during.seed.gz").exists());
    sigint(&first);
    let _ = finish(first, Duration::from_secs(30));
}

/// r8.13: a SQLite database whose file or directory cannot be written is a permission
/// problem (exit 11) with a file-system hint, not "is the server running?" (exit 3).
/// r19.10/19.14: a file that is not there is not created (a typo leaves nothing behind)
/// and the hint names where the path came from, never a server.
#[test]
fn r8_13_unwritable_sqlite_directory_is_a_permission_error() {
    let w = Workdir::new();
    let dir = w.path().join("ro");
    std::fs::create_dir(&dir).unwrap();
    let db = dir.join("app.db");
    crate::bulk::sqlite_with_schema(
        &db,
        &std::fs::read_to_string(crate::common::repo_path("fixtures/schema.sql")).unwrap(),
    );
    let before = crate::bulk::sqlite_rows(&db);
    let url = format!("sqlite://{}", db.display());
    let ro = ReadOnlyMount::new(&dir);
    let out = w.seed().args(["bulk", "--count", "5", "--database-url", &url]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(11), "{text}");
    assert!(text.contains("app.db"), "{text}");
    assert!(!text.contains("server running"), "{text}");
    let typo = format!("sqlite://{}", dir.join("appp.db").display());
    let out = w.seed().args(["bulk", "--count", "5", "--database-url", &typo]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("no SQLite database file") && text.contains("fix the path in --database-url"), "{text}");
    assert!(!text.contains("server running") && !text.contains("error communicating"), "{text}");
    drop(ro);
    assert!(!dir.join("appp.db").exists());
    assert_eq!(crate::bulk::sqlite_rows(&db), before);
}

/// A directory made read-only for everyone, root included: a read-only bind mount when
/// we are root, plain modes otherwise.
struct ReadOnlyMount(std::path::PathBuf, bool);

impl ReadOnlyMount {
    fn new(dir: &Path) -> Self {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // Root ignores modes: a read-only bind mount of the directory onto itself.
            let ok = |args: &[&str]| {
                std::process::Command::new("mount").args(args).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
            };
            let d = dir.to_str().unwrap();
            assert!(ok(&["--bind", d, d]) && ok(&["-o", "remount,bind,ro", d]), "cannot make a read-only bind mount");
            Self(dir.to_path_buf(), true)
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
            Self(dir.to_path_buf(), false)
        }
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

/// r15.2: a full disk under a SQLite database is exit 9 naming the database file (it
/// used to name a table where the path belongs), and the file keeps its rows.
#[test]
fn r15_2_sqlite_on_a_full_disk_names_the_file_and_keeps_the_rows() {
    let w = Workdir::new();
    let fs = crate::snapshot::Tmpfs::mount(&w.path().join("small"), "600k");
    let path = fs.0.join("app.db");
    let url = format!("sqlite://{}", path.display());
    let schema = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);";
    assert!(std::process::Command::new("sqlite3").arg(&path).arg(schema).status().unwrap().success());
    expect_code(&w.seed().args(["bulk", "--count", "10", "--database-url", &url]).output().unwrap(), 0);
    let before = sqlite3(&path, "SELECT count(*), sum(length(body)) FROM notes");
    let out = w.seed().args(["bulk", "--count", "200000", "--database-url", &url, "--no-progress"]).output().unwrap();
    let text = expect_code(&out, 9);
    assert!(text.contains(&path.display().to_string()), "the message does not name the database file:\n{text}");
    assert!(!text.contains("space in notes"), "{text}");
    assert_eq!(sqlite3(&path, "SELECT count(*), sum(length(body)) FROM notes"), before);
    assert_eq!(sqlite3(&path, "PRAGMA integrity_check"), "ok");
}

/// r15.2: data that cannot be read as it is (text that is not UTF-8 in SQLite) is a data
/// problem, exit 4 naming the table and row — not exit 1 "internal error" — and no
/// snapshot is left.
#[test]
fn r15_2_unreadable_data_while_exporting_is_a_data_error() {
    let w = Workdir::new();
    let path = w.path().join("bad.db");
    let url = format!("sqlite://{}", path.display());
    let sql = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
               INSERT INTO t VALUES (1, 'fine'), (2, CAST(x'66ff6f' AS TEXT));";
    assert!(std::process::Command::new("sqlite3").arg(&path).arg(sql).status().unwrap().success());
    let out = w.seed().args(["snapshot", "create", "bad", "--database-url", &url]).output().unwrap();
    let text = expect_code(&out, 4);
    assert!(text.contains("reading t") && text.contains("row 2"), "{text}");
    assert!(!w.path().join("snapshots/bad.seed.gz").exists());
}
