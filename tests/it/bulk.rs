//! `seed bulk` end to end, driving the binary against real servers: the demo schema on
//! PostgreSQL and SQLite, pagila and northwind, the factories file, `--dry-run`, and the
//! failure paths (a check the generator cannot satisfy, a killed connection, Ctrl-C, a
//! second loader, bad arguments), each of which must leave the data exactly as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{TestDb, Workdir, all_output, assert_no_password, repo_path, server, shared_fixture};
use crate::common::{expect_code, sqlite3, sqlite3_cmd, sqlite3_output};

const DEMO_TABLES: [&str; 4] = ["offices", "office_staffs", "staffs", "welfare_recipients"];

// ---------------------------------------------------------------------------------------
// Running seed

/// `seed bulk ARGS --database-url URL --no-progress`; checks the password never shows.
pub(crate) fn bulk(w: &Workdir, url: &str, args: &[&str]) -> Output {
    let out = w.seed().arg("bulk").args(args).args(["--database-url", url, "--no-progress"]).output().unwrap();
    assert_no_password(&out);
    out
}

/// `seed bulk ARGS --no-progress` on the embedded default (./seed.db).
pub(crate) fn bulk_embedded(w: &Workdir, args: &[&str]) -> Output {
    w.seed().arg("bulk").args(args).arg("--no-progress").output().unwrap()
}

/// `seed bulk` as a child process (for signals and for killing its connection).
pub(crate) fn spawn_bulk(w: &Workdir, url: Option<&str>, args: &[&str]) -> Child {
    let mut cmd = w.seed_std();
    cmd.arg("bulk").args(args).arg("--no-progress");
    if let Some(url) = url {
        cmd.args(["--database-url", url]);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn seed bulk")
}

/// Waits for a child with a deadline; kills it and panics with its output on timeout.
pub(crate) fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("seed bulk did not finish within {limit:?}; output:\n{}", all_output(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn sigint(child: &Child) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0, "kill(SIGINT)");
}

/// The stderr lines of a `--log-format json` run, each parsed (panics on a non-JSON line).
pub(crate) fn json_events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stderr line is not JSON ({e}): {l}")))
        .collect()
}

/// The `bulk_summary` event: (mode, rows per table).
fn summary(out: &Output) -> (String, BTreeMap<String, u64>) {
    let events = json_events(out);
    let s = events
        .iter()
        .find(|e| e["event"] == "bulk_summary")
        .unwrap_or_else(|| panic!("no bulk_summary event in {events:#?}"));
    let tables = s["tables"]
        .as_array()
        .expect("bulk_summary.tables is an array")
        .iter()
        .map(|t| (t["table"].as_str().unwrap().to_owned(), t["rows"].as_u64().unwrap()))
        .collect();
    (s["mode"].as_str().unwrap_or_default().to_owned(), tables)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL inspection

/// Every foreign key (top-level constraints; partitions' clones are covered by their
/// parent's), with its orphan count: child rows whose key columns are all set but match
/// no parent row.
fn pg_orphans(db: &TestDb) -> Vec<(String, i64)> {
    let fks = db.psql(
        "SELECT con.conname, con.conrelid::regclass::text, con.confrelid::regclass::text,
                (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.ord)
                   FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
                (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.ord)
                   FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum)
         FROM pg_constraint con WHERE con.contype = 'f' AND con.conparentid = 0 ORDER BY 1, 2",
    );
    fks.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('|').collect();
            let (name, child, parent) = (f[0], f[1], f[2]);
            let (cols, pcols): (Vec<&str>, Vec<&str>) = (f[3].split(',').collect(), f[4].split(',').collect());
            let on: Vec<String> = cols.iter().zip(&pcols).map(|(c, p)| format!("p.{p} = c.{c}")).collect();
            let set: Vec<String> = cols.iter().map(|c| format!("c.{c} IS NOT NULL")).collect();
            let sql = format!(
                "SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON {} WHERE {} AND p.{} IS NULL",
                on.join(" AND "),
                set.join(" AND "),
                pcols[0]
            );
            (format!("{name} ({child} -> {parent})"), db.psql(&sql).parse().unwrap())
        })
        .collect()
}

/// Asserts no orphan anywhere and that at least `min_fks` foreign keys were checked.
fn assert_no_pg_orphans(db: &TestDb, min_fks: usize) {
    let all = pg_orphans(db);
    assert!(all.len() >= min_fks, "expected at least {min_fks} foreign keys, found {all:?}");
    let bad: Vec<_> = all.iter().filter(|(_, n)| *n != 0).collect();
    assert!(bad.is_empty(), "orphan rows: {bad:?}");
}

/// `pg_dump --schema-only`, minus the per-run `\restrict` keys of recent pg_dump versions.
pub(crate) fn schema_dump(db: &TestDb) -> String {
    let out = server().tool("pg_dump").args(["--schema-only", "-d", &db.name]).output().expect("run pg_dump");
    assert!(out.status.success(), "pg_dump failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn pg_counts(db: &TestDb, tables: &[&str]) -> BTreeMap<String, i64> {
    tables.iter().map(|t| ((*t).to_owned(), db.count(t))).collect()
}

/// The pid of a backend of `seed bulk` running a COPY in `db`; polls until one shows up.
pub(crate) fn wait_for_copy(child: &mut Child, db: &TestDb) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pid = db.psql(&format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND (application_name = 'seed bulk' OR application_name LIKE '%(seed bulk)')
               AND state = 'active' AND query LIKE 'COPY %FROM STDIN%' LIMIT 1",
            db.name
        ));
        if !pid.is_empty() {
            return pid.parse().unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
            }
            panic!("seed bulk exited ({status}) before its COPY showed up in pg_stat_activity:\n{stderr}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no COPY of seed bulk in pg_stat_activity of {} within 60s", db.name);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls until backend `pid` has left pg_stat_activity; false after `limit`.
pub(crate) fn backend_gone(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if server().psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}")) == "0" {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

// ---------------------------------------------------------------------------------------
// SQLite inspection (through the sqlite3 CLI)

fn sqlite_tables(db: &Path) -> Vec<String> {
    if !db.exists() {
        return vec![];
    }
    sqlite3(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Every row of every table as SQL literals, sorted per table: "exactly as before".
pub(crate) fn sqlite_rows(db: &Path) -> String {
    let mut out = String::new();
    for t in sqlite_tables(db) {
        let mut cmd = sqlite3_cmd(db);
        cmd.args(["-cmd", ".mode quote"]).arg(format!("SELECT * FROM \"{t}\""));
        let text = sqlite3_output(cmd, &t);
        let mut rows: Vec<&str> = text.lines().collect();
        rows.sort_unstable();
        out.push_str(&format!("== {t} ({} rows)\n{}\n", rows.len(), rows.join("\n")));
    }
    out
}

pub(crate) fn sqlite_count(db: &Path, table: &str) -> i64 {
    sqlite3(db, &format!("SELECT count(*) FROM {table}")).parse().unwrap()
}

/// Creates the SQLite file `path` with `schema`, run by the sqlite3 CLI.
pub(crate) fn sqlite_with_schema(path: &Path, schema: &str) {
    let mut child =
        sqlite3_cmd(path).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), schema.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "loading the schema failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

// ---------------------------------------------------------------------------------------
// The demo schema's invariants, for either engine

/// Orphans, duplicates and check breaches in the demo schema; each query must return 0.
const DEMO_INVARIANTS: &[(&str, &str)] = &[
    (
        "offices.created_by without a staff",
        "SELECT count(*) FROM offices o LEFT JOIN staffs s ON s.id = o.created_by WHERE s.id IS NULL",
    ),
    (
        "staffs.home_office_id without an office",
        "SELECT count(*) FROM staffs s LEFT JOIN offices o ON o.id = s.home_office_id
          WHERE s.home_office_id IS NOT NULL AND o.id IS NULL",
    ),
    (
        "office_staffs.office_id without an office",
        "SELECT count(*) FROM office_staffs x LEFT JOIN offices o ON o.id = x.office_id WHERE o.id IS NULL",
    ),
    (
        "office_staffs.staff_id without a staff",
        "SELECT count(*) FROM office_staffs x LEFT JOIN staffs s ON s.id = x.staff_id WHERE s.id IS NULL",
    ),
    (
        "welfare_recipients.office_id without an office",
        "SELECT count(*) FROM welfare_recipients r LEFT JOIN offices o ON o.id = r.office_id WHERE o.id IS NULL",
    ),
    ("duplicate staffs.email", "SELECT count(*) - count(DISTINCT email) FROM staffs"),
    ("duplicate staffs.id", "SELECT count(*) - count(DISTINCT id) FROM staffs"),
    ("duplicate offices.id", "SELECT count(*) - count(DISTINCT id) FROM offices"),
    ("duplicate welfare_recipients.id", "SELECT count(*) - count(DISTINCT id) FROM welfare_recipients"),
    (
        "duplicate office_staffs (office_id, staff_id)",
        "SELECT count(*) FROM (SELECT office_id, staff_id FROM office_staffs GROUP BY office_id, staff_id
          HAVING count(*) > 1) d",
    ),
    ("staffs.email longer than 254", "SELECT count(*) FROM staffs WHERE length(email) > 254"),
    (
        "office_staffs.role outside its check",
        "SELECT count(*) FROM office_staffs WHERE role NOT IN ('manager', 'carer', 'nurse', 'admin')",
    ),
    (
        "welfare_recipients.care_level outside 1..5",
        "SELECT count(*) FROM welfare_recipients WHERE care_level NOT BETWEEN 1 AND 5",
    ),
];

fn demo_violations(query: impl Fn(&str) -> String) -> Vec<String> {
    DEMO_INVARIANTS
        .iter()
        .filter_map(|(what, sql)| {
            let n: i64 = query(sql).parse().unwrap_or_else(|e| panic!("{what}: {e}"));
            (n != 0).then(|| format!("{what}: {n}"))
        })
        .collect()
}

fn write_file(w: &Workdir, name: &str, text: &str) -> PathBuf {
    let path = w.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// =======================================================================================
// 1. The demo schema on both engines

#[test]
fn bulk_demo_schema_on_postgres_counts_keys_and_checks() {
    let db = TestDb::with_demo_schema("bulk_demo_pg");
    let schema_before = schema_dump(&db);
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "300", "--table", "welfare_recipients=1000"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("seeded 1,900 rows into 4 tables"), "{text}");
    assert_eq!(
        pg_counts(&db, &DEMO_TABLES),
        BTreeMap::from([
            ("offices".into(), 300),
            ("office_staffs".into(), 300),
            ("staffs".into(), 300),
            ("welfare_recipients".into(), 1000)
        ])
    );
    let bad = demo_violations(|sql| db.psql(sql));
    assert!(bad.is_empty(), "{bad:?}");
    assert_no_pg_orphans(&db, 5);
    // The keys were dropped for the load and built again: the schema is as it was.
    assert_eq!(schema_dump(&db), schema_before, "the schema changed");
    // The nullable side of the cycle is filled, mostly.
    let set: i64 = db.psql("SELECT count(home_office_id) FROM staffs").parse().unwrap();
    assert!((200..300).contains(&set), "staffs with a home office: {set}");
}

#[test]
fn bulk_same_seed_same_data_on_postgres() {
    let dbs: Vec<TestDb> = (0..3).map(|i| TestDb::with_demo_schema(&format!("bulk_det_pg{i}"))).collect();
    let w = Workdir::new();
    for (db, seed) in dbs.iter().zip(["7", "7", "8"]) {
        expect_code(&bulk(&w, &db.url(), &["--count", "40", "--seed", seed]), 0);
    }
    let dumps: Vec<String> = dbs.iter().map(TestDb::dump_data).collect();
    assert!(dumps[0].contains("(40 rows)"), "{}", dumps[0]);
    assert_eq!(dumps[0], dumps[1], "the same seed gave different data");
    assert_ne!(dumps[0], dumps[2], "a different seed gave the same data");
}

#[test]
fn bulk_demo_schema_on_embedded_sqlite_default() {
    let w = Workdir::new();
    let out = bulk_embedded(&w, &["--count", "300", "--table", "welfare_recipients=1000"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("applied the demo schema"), "{text}");
    assert!(text.contains("seeded 1,900 rows into 4 tables"), "{text}");
    let db = w.path().join("seed.db");
    for (t, n) in [("offices", 300), ("office_staffs", 300), ("staffs", 300), ("welfare_recipients", 1000)] {
        assert_eq!(sqlite_count(&db, t), n, "{t}");
    }
    assert_eq!(sqlite3(&db, "PRAGMA foreign_key_check"), "", "foreign_key_check found violations");
    let bad = demo_violations(|sql| sqlite3(&db, sql));
    assert!(bad.is_empty(), "{bad:?}");
    let set: i64 = sqlite3(&db, "SELECT count(home_office_id) FROM staffs").parse().unwrap();
    assert!((200..300).contains(&set), "staffs with a home office: {set}");
}

#[test]
fn bulk_explicit_sqlite_url_with_schema_from_the_cli() {
    let w = Workdir::new();
    let db = w.path().join("x.db");
    sqlite_with_schema(&db, &std::fs::read_to_string(repo_path("fixtures/schema.sql")).unwrap());
    let out = bulk(&w, "sqlite://x.db", &["--count", "300", "--table", "welfare_recipients=1000"]);
    let text = expect_code(&out, 0);
    assert!(!text.contains("applied the demo schema"), "an explicit URL must not get the demo schema: {text}");
    for (t, n) in [("offices", 300), ("office_staffs", 300), ("staffs", 300), ("welfare_recipients", 1000)] {
        assert_eq!(sqlite_count(&db, t), n, "{t}");
    }
    assert_eq!(sqlite3(&db, "PRAGMA foreign_key_check"), "");
    let bad = demo_violations(|sql| sqlite3(&db, sql));
    assert!(bad.is_empty(), "{bad:?}");
    assert!(!w.path().join("seed.db").exists(), "the default database was created too");

    // An explicit URL to a file that is not there: not created (r19.14: a typo leaves
    // no empty file), and the hint names where the path came from (r19.10).
    let out = bulk(&w, "sqlite://empty.db", &["--count", "5"]);
    let text = expect_code(&out, 3);
    assert!(text.contains("no SQLite database file empty.db") && text.contains("--database-url"), "{text}");
    assert!(!w.path().join("empty.db").exists());
    // An explicit URL to a database without tables: a schema error naming it, no demo schema.
    sqlite_with_schema(&w.path().join("empty.db"), "PRAGMA user_version = 1;");
    let out = bulk(&w, "sqlite://empty.db", &["--count", "5"]);
    let text = expect_code(&out, 5);
    assert!(text.contains("the database sqlite://empty.db (from --database-url) has no tables"), "{text}");
    assert!(sqlite_tables(&w.path().join("empty.db")).is_empty());
}

#[test]
fn bulk_same_seed_same_rows_on_sqlite() {
    let dirs: Vec<Workdir> = (0..3).map(|_| Workdir::new()).collect();
    for (w, seed) in dirs.iter().zip(["7", "7", "8"]) {
        expect_code(&bulk_embedded(w, &["--count", "40", "--seed", seed]), 0);
    }
    let rows: Vec<String> = dirs.iter().map(|w| sqlite_rows(&w.path().join("seed.db"))).collect();
    assert!(rows[0].contains("== staffs (40 rows)"), "{}", rows[0]);
    assert_eq!(rows[0], rows[1], "the same seed gave different rows");
    assert_ne!(rows[0], rows[2], "a different seed gave the same rows");
}

// =======================================================================================
// 2. Loading on top of data, --truncate, and the remote guard

#[test]
fn bulk_second_load_keeps_keys_in_place_and_closes_the_cycle() {
    let db = TestDb::with_demo_schema("bulk_twice");
    let schema_before = schema_dump(&db);
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "100", "--log-format", "json"]);
    expect_code(&out, 0);
    assert_eq!(summary(&out).0, "keys after data");
    let first_staffs: BTreeSet<String> = db.psql("SELECT id FROM staffs").lines().map(str::to_owned).collect();

    let out = bulk(&w, &db.url(), &["--count", "60", "--log-format", "json"]);
    expect_code(&out, 0);
    let (mode, tables) = summary(&out);
    assert_eq!(mode, "keys in place");
    assert_eq!(tables.values().sum::<u64>(), 240, "{tables:?}");
    for t in DEMO_TABLES {
        assert_eq!(db.count(t), 160, "{t}: the second load adds to the first");
    }
    let bad = demo_violations(|sql| db.psql(sql));
    assert!(bad.is_empty(), "{bad:?}");
    assert_no_pg_orphans(&db, 5);
    // The new staffs' home offices were written NULL and set by the UPDATE after the
    // offices were loaded: most are set, and they point at this load's offices.
    let rows = db.psql("SELECT s.id, s.home_office_id IS NOT NULL, o.created_by FROM staffs s LEFT JOIN offices o ON o.id = s.home_office_id");
    let mut new_rows = 0;
    let mut new_set = 0;
    for line in rows.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if first_staffs.contains(f[0]) {
            continue;
        }
        new_rows += 1;
        if f[1] == "t" {
            new_set += 1;
            assert!(!first_staffs.contains(f[2]), "a new staff's home office was made by an old staff: {line}");
        }
    }
    assert_eq!(new_rows, 60);
    assert!((40..60).contains(&new_set), "new staffs with a home office: {new_set} of 60 (10% are NULL)");
    assert_eq!(schema_dump(&db), schema_before);

    // --truncate replaces instead of adding.
    let out = bulk(&w, &db.url(), &["--count", "30", "--truncate", "--log-format", "json"]);
    expect_code(&out, 0);
    assert_eq!(summary(&out).0, "keys after data");
    for t in DEMO_TABLES {
        assert_eq!(db.count(t), 30, "{t} after --truncate");
    }
    assert!(demo_violations(|sql| db.psql(sql)).is_empty());
    assert_eq!(schema_dump(&db), schema_before);
}

#[test]
fn bulk_truncate_on_a_remote_url_is_refused_before_connecting() {
    let w = Workdir::new();
    let url = "postgres://u:remote-secret-991@db.example.invalid/app";
    // JSON events include every connection attempt's outcome: none may show.
    let out = w
        .seed()
        .args(["--log-format", "json", "bulk", "--count", "5", "--truncate", "--database-url", url])
        .args(["--retry-max-attempts", "1"])
        .output()
        .unwrap();
    let text = expect_code(&out, 2);
    assert!(!text.contains(r#""event":"connection_"#), "it tried to connect:\n{text}");
    assert!(text.contains("refusing to --truncate"), "{text}");
    assert!(text.contains("--allow-remote"), "{text}");
    assert!(text.contains("db.example.invalid"), "{text}");
    assert!(!text.contains("remote-secret-991"), "password leaked: {text}");
    assert!(!text.contains("could not connect"), "{text}");

    // With --allow-remote the guard lets it through: it then fails to connect (exit 3).
    let out = w
        .seed()
        .args(["bulk", "--count", "5", "--truncate", "--allow-remote", "--database-url", url])
        .args(["--retry-max-attempts", "1", "--connect-timeout", "3s"])
        .output()
        .unwrap();
    let text = expect_code(&out, 3);
    assert!(!text.contains("refusing"), "{text}");
    assert!(!text.contains("remote-secret-991"), "password leaked: {text}");
}

// =======================================================================================
// 3. Real third-party schemas

const PAGILA_TABLES: [&str; 15] = [
    "actor",
    "address",
    "category",
    "city",
    "country",
    "customer",
    "film",
    "film_actor",
    "film_category",
    "inventory",
    "language",
    "payment",
    "rental",
    "staff",
    "store",
];

#[test]
fn bulk_pagila_every_table_gets_its_rows_and_the_schema_is_unchanged() {
    let db = TestDb::new("bulk_pagila");
    db.load_file(&shared_fixture("pagila/schema.sql"));
    let before = schema_dump(&db);
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "200", "--log-format", "json"]);
    expect_code(&out, 0);
    let (mode, tables) = summary(&out);
    assert_eq!(mode, "keys after data", "pagila starts empty: keys should be built after the data");
    assert_eq!(tables.len(), 15, "{tables:?}");
    for t in PAGILA_TABLES {
        assert_eq!(db.count(t), 200, "{t}");
    }
    // payment is partitioned by payment_date: the rows land in every partition.
    let partitions: i64 =
        db.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.payment'::regclass").parse().unwrap();
    let spread = db.psql("SELECT tableoid::regclass, count(*) FROM payment GROUP BY 1 ORDER BY 1");
    assert_eq!(i64::try_from(spread.lines().count()).unwrap(), partitions, "payment rows per partition:\n{spread}");
    assert!(partitions >= 6, "{partitions}");
    assert_no_pg_orphans(&db, 20);
    // Keys and indexes were dropped and rebuilt inside the transaction: same schema.
    let after = schema_dump(&db);
    assert_eq!(after, before, "pg_dump --schema-only differs after the load");
}

#[test]
fn bulk_northwind_rows_go_on_top_of_existing_data() {
    let db = TestDb::new("bulk_northwind");
    db.load_file(&shared_fixture("northwind/northwind.sql"));
    let tables: Vec<String> = db
        .psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tables.len(), 14, "{tables:?}");
    let names: Vec<&str> = tables.iter().map(String::as_str).collect();
    let before = pg_counts(&db, &names);
    assert!(before["orders"] > 0 && before["customer_demographics"] == 0, "{before:?}");
    let schema_before = schema_dump(&db);
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "50", "--log-format", "json"]);
    expect_code(&out, 0);
    assert_eq!(summary(&out).0, "keys in place");
    let after = pg_counts(&db, &names);
    for t in &names {
        assert_eq!(after[*t], before[*t] + 50, "{t}: {} before, {} after", before[*t], after[*t]);
    }
    assert_no_pg_orphans(&db, 13);
    assert_eq!(schema_dump(&db), schema_before);
}

/// The orphan check itself finds an orphan (so "no orphans" above means something).
#[test]
fn bulk_orphan_checks_find_a_planted_orphan() {
    let db = TestDb::with_demo_schema("bulk_orphan_probe");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "5"]), 0);
    assert_no_pg_orphans(&db, 5);
    db.load_sql(
        "ALTER TABLE welfare_recipients DROP CONSTRAINT welfare_recipients_office_id_fkey;
         UPDATE welfare_recipients SET office_id = gen_random_uuid() WHERE id = (SELECT id FROM welfare_recipients LIMIT 1)",
    );
    let bad: Vec<(String, i64)> = pg_orphans(&db).into_iter().filter(|(_, n)| *n != 0).collect();
    assert!(bad.is_empty(), "the dropped key is not checked any more: {bad:?}");
    db.load_sql("ALTER TABLE welfare_recipients ADD CONSTRAINT wr_office_fk FOREIGN KEY (office_id) REFERENCES offices (id) NOT VALID");
    let bad: Vec<(String, i64)> = pg_orphans(&db).into_iter().filter(|(_, n)| *n != 0).collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].1, 1);
    assert_eq!(demo_violations(|sql| db.psql(sql)), vec!["welfare_recipients.office_id without an office: 1"]);
}

// =======================================================================================
// 4. The factories file

const FACTORIES: &str = r#"# Factories for the demo schema.
[tables.offices]
count = 10
columns.city = { one_of = ["Leeds", "York", "Hull"] }

[tables.staffs]
count = 40
columns.email = { template = "staff{i}@care.example" }
columns.phone = { value = "+44 113 496 0000" }
columns.name = { generator = "name" }

[tables.office_staffs]
per_parent = { table = "offices", count = 3 }
columns.role = { one_of = ["nurse", "carer"] }

[tables.welfare_recipients]
count = 25
columns.care_level = { value = 3 }
columns.notes = { null = true }
"#;

#[test]
fn bulk_factories_file_shapes_the_data() {
    let db = TestDb::with_demo_schema("bulk_factories");
    let w = Workdir::new();
    let file = write_file(&w, "factories.toml", FACTORIES);
    let out = bulk(&w, &db.url(), &["--factories", file.to_str().unwrap()]);
    expect_code(&out, 0);
    assert_eq!(
        pg_counts(&db, &DEMO_TABLES),
        BTreeMap::from([
            ("offices".into(), 10),
            ("office_staffs".into(), 30),
            ("staffs".into(), 40),
            ("welfare_recipients".into(), 25)
        ])
    );
    // per_parent: exactly 3 staff links for every office.
    assert_eq!(
        db.psql(
            "SELECT count(*) FROM offices o WHERE (SELECT count(*) FROM office_staffs x WHERE x.office_id = o.id) <> 3"
        ),
        "0"
    );
    // one_of
    assert_eq!(db.psql("SELECT string_agg(DISTINCT city, ',' ORDER BY city) FROM offices"), "Hull,Leeds,York");
    assert_eq!(db.psql("SELECT string_agg(DISTINCT role, ',' ORDER BY role) FROM office_staffs"), "carer,nurse");
    // template with {i}: staff1..staff40, each once
    let emails: BTreeSet<String> = db.psql("SELECT email FROM staffs").lines().map(str::to_owned).collect();
    let expected: BTreeSet<String> = (1..=40).map(|i| format!("staff{i}@care.example")).collect();
    assert_eq!(emails, expected);
    // value
    assert_eq!(db.psql("SELECT string_agg(DISTINCT phone, ',') FROM staffs"), "+44 113 496 0000");
    assert_eq!(db.psql("SELECT string_agg(DISTINCT care_level::text, ',') FROM welfare_recipients"), "3");
    assert_eq!(db.psql("SELECT count(notes) FROM welfare_recipients"), "0");
    // generator "name": full names
    assert_eq!(db.psql("SELECT count(*) FROM staffs WHERE name NOT LIKE '_% _%'"), "0");
    assert!(demo_violations(|sql| db.psql(sql)).is_empty());
}

/// per_parent holds whichever foreign key of a composite key it names.
#[test]
fn bulk_per_parent_holds_for_either_key_column() {
    for (parent, per, parents) in [("offices", 3, 10), ("staffs", 2, 40)] {
        let db = TestDb::with_demo_schema(&format!("bulk_per_{parent}"));
        let w = Workdir::new();
        let text = FACTORIES.replace(
            "per_parent = { table = \"offices\", count = 3 }",
            &format!("per_parent = {{ table = \"{parent}\", count = {per} }}"),
        );
        let file = write_file(&w, "factories.toml", &text);
        for seed in ["1", "2"] {
            let out = bulk(&w, &db.url(), &["--factories", file.to_str().unwrap(), "--seed", seed, "--truncate"]);
            expect_code(&out, 0);
            let key = if parent == "offices" { "office_id" } else { "staff_id" };
            assert_eq!(db.count("office_staffs"), per * parents, "{parent}");
            let counts = db.psql(&format!(
                "SELECT string_agg(n::text, ',') FROM (SELECT (SELECT count(*) FROM office_staffs x WHERE x.{key} = p.id) n FROM {parent} p) c"
            ));
            assert!(
                counts.split(',').all(|n| n == per.to_string()),
                "{parent}, seed {seed}: links per parent: {counts}"
            );
            assert!(demo_violations(|sql| db.psql(sql)).is_empty());
        }
    }
}

#[test]
fn bulk_factories_file_errors_point_at_the_line() {
    let db = TestDb::with_demo_schema("bulk_factories_bad");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "5"]), 0);
    let before = db.dump_data();
    let valid = "# first a valid table\n[tables.staffs]\ncount = 5\n\n";
    for (name, extra, line, needle) in [
        ("table.toml", "[tables.nosuch]\ncount = 3\n", 5, "unknown table 'nosuch'"),
        ("column.toml", "[tables.offices]\ncount = 2\ncolumns.nope = { value = \"x\" }\n", 7, "unknown column 'nope'"),
        (
            "generator.toml",
            "[tables.offices]\ncount = 2\ncolumns.name = { generator = \"nonsense\" }\n",
            7,
            "unknown generator 'nonsense'",
        ),
    ] {
        let file = write_file(&w, name, &format!("{valid}{extra}"));
        let out = bulk(&w, &db.url(), &["--factories", file.to_str().unwrap()]);
        let text = expect_code(&out, 2);
        let location = format!("{}:{line}:", file.display());
        assert!(text.contains(&location), "{name}: expected {location} in:\n{text}");
        assert!(text.contains(needle), "{name}: {text}");
        assert_eq!(db.dump_data(), before, "{name} wrote something");
    }
    // The unknown table's message lists the known ones.
    let file = w.path().join("table.toml");
    let text = all_output(&bulk(&w, &db.url(), &["--factories", file.to_str().unwrap()]));
    assert!(text.contains("welfare_recipients") && text.contains("office_staffs"), "{text}");

    // r19.12: every mistake of a file in one run, each with its line: those the file
    // shows alone (a bad generator, a bad rate), then those the schema shows (an unknown
    // table, an unknown column, a constant the column's type refuses).
    let all =
        "[tables.staffs]\ncount = 5\ncolumns.name = { generator = \"nonsense\" }\ncolumns.x = { null_rate = 3 }\n";
    let file = write_file(&w, "all.toml", all);
    let text = expect_code(&bulk(&w, &db.url(), &["--factories", file.to_str().unwrap()]), 2);
    for line in [3, 4] {
        assert!(text.contains(&format!("{}:{line}:", file.display())), "line {line} missing:\n{text}");
    }
    let all = "[tables.nosuch]\ncount = 1\n[tables.offices]\ncount = 2\ncolumns.nope = { value = \"x\" }\n[tables.staffs]\ncount = 2\ncolumns.other = { value = 1 }\n";
    let file = write_file(&w, "all2.toml", all);
    let text = expect_code(&bulk(&w, &db.url(), &["--factories", file.to_str().unwrap()]), 2);
    for (line, needle) in [(1, "unknown table 'nosuch'"), (5, "unknown column 'nope'"), (8, "unknown column 'other'")] {
        assert!(text.contains(&format!("{}:{line}: {needle}", file.display())), "{needle}:\n{text}");
    }
    assert_eq!(db.dump_data(), before, "a bad factories file wrote something");
}

// =======================================================================================
// 5. --dry-run

#[test]
fn bulk_dry_run_prints_the_plan_and_writes_nothing_on_postgres() {
    let db = TestDb::with_demo_schema("bulk_dry_pg");
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "20", "--dry-run"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("keys and indexes built after the data"), "{text}");
    assert!(pg_counts(&db, &DEMO_TABLES).values().all(|&n| n == 0), "dry run wrote rows");

    expect_code(&bulk(&w, &db.url(), &["--count", "20"]), 0);
    let before = db.dump_data();
    let schema_before = schema_dump(&db);
    let out = bulk(&w, &db.url(), &["--count", "100", "--table", "welfare_recipients=7", "--dry-run"]);
    let text = expect_code(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "staffs — 100 rows (after 20 existing)",
        "offices — 100 rows",
        "office_staffs — 100 rows",
        "welfare_recipients — 7 rows",
        "unique email",
        "unique uuid",
        "-> offices.id",
        "-> staffs.id",
        "one of [\"manager\", \"carer\", \"nurse\", \"admin\"]",
        "staffs.home_office_id -> offices",
        "load mode: constraints checked row by row",
        "nothing was written (--dry-run)",
    ] {
        assert!(stdout.contains(needle), "plan lacks {needle:?}:\n{text}");
    }
    assert!(!text.contains("seeded"), "{text}");
    assert_eq!(db.dump_data(), before, "dry run changed the data");
    assert_eq!(schema_dump(&db), schema_before);
}

#[test]
fn bulk_dry_run_writes_nothing_on_sqlite() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    let out = bulk_embedded(&w, &["--count", "10", "--dry-run"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("staffs — 10 rows") && text.contains("nothing was written"), "{text}");
    assert!(sqlite_tables(&db).is_empty(), "dry run created tables: {:?}", sqlite_tables(&db));

    expect_code(&bulk_embedded(&w, &["--count", "10"]), 0);
    let before = sqlite_rows(&db);
    let bytes = std::fs::read(&db).unwrap();
    let out = bulk_embedded(&w, &["--count", "1000", "--dry-run"]);
    let text = expect_code(&out, 0);
    assert!(text.contains("staffs — 1,000 rows (after 10 existing)"), "{text}");
    assert_eq!(sqlite_rows(&db), before);
    assert!(std::fs::read(&db).unwrap() == bytes, "dry run changed the database file");
}

/// Loads whose foreign keys SQLite checks by looking up child rows (a cycle, a
/// self-reference, --truncate) take linear time: these took minutes when every lookup
/// was a full scan of the child table.
#[test]
fn bulk_sqlite_cycles_self_references_and_truncate_stay_fast() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    let limit = Duration::from_secs(30);
    let out = finish(spawn_bulk(&w, None, &["--count", "20000"]), limit);
    expect_code(&out, 0);
    let schema = sqlite3(&db, "SELECT type, name, sql FROM sqlite_master ORDER BY name");
    let out = finish(spawn_bulk(&w, None, &["--count", "20000", "--truncate"]), limit);
    expect_code(&out, 0);
    for t in DEMO_TABLES {
        assert_eq!(sqlite_count(&db, t), 20000, "{t}");
    }
    assert_eq!(sqlite3(&db, "PRAGMA foreign_key_check"), "");
    assert!(demo_violations(|sql| sqlite3(&db, sql)).is_empty());
    assert_eq!(
        sqlite3(&db, "SELECT type, name, sql FROM sqlite_master ORDER BY name"),
        schema,
        "the load left schema changes"
    );

    let tree = w.path().join("tree.db");
    sqlite_with_schema(
        &tree,
        "CREATE TABLE node (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES node (id), label TEXT NOT NULL);",
    );
    for args in [&["--count", "40000"][..], &["--count", "40000", "--truncate"]] {
        let mut cmd = w.seed_std();
        cmd.args(["bulk", "--no-progress", "--database-url", "sqlite://tree.db"]).args(args);
        let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        expect_code(&finish(child, limit), 0);
    }
    assert_eq!(sqlite_count(&tree, "node"), 40000);
    let linked: i64 = sqlite3(&tree, "SELECT count(parent_id) FROM node").parse().unwrap();
    assert!(linked > 30000, "{linked}");
    assert_eq!(sqlite3(&tree, "PRAGMA foreign_key_check"), "");
}

// =======================================================================================
// 6a. A check constraint the generator cannot satisfy

#[test]
fn bulk_unsatisfiable_check_on_empty_tables_rolls_back_everything() {
    let db = TestDb::with_demo_schema("bulk_check_empty");
    // Satisfiable checks are met (issue 12); this one cannot be, and says so before writing.
    db.load_sql("ALTER TABLE staffs ADD CONSTRAINT staffs_name_zzz CHECK (name LIKE 'ZZZ%' AND name LIKE 'YYY%')");
    let before = db.dump_data();
    let schema_before = schema_dump(&db);
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "50"]);
    let text = expect_code(&out, 4);
    assert!(text.contains("satisfies check constraint \"staffs_name_zzz\""), "{text}");
    assert!(text.contains("for staffs"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(db.dump_data(), before);
    // Refused before the keys were set aside for the load: the schema is as it was.
    assert_eq!(schema_dump(&db), schema_before);
}

#[test]
fn bulk_unsatisfiable_check_with_keys_in_place_reports_row_and_batch() {
    let db = TestDb::with_demo_schema("bulk_check_rows");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "20"]), 0);
    // Existing rows break it, so NOT VALID; new rows are checked. The template makes
    // the 10th new staff (the 30th in all) the first to break it.
    db.load_sql("ALTER TABLE staffs ADD CONSTRAINT staffs_name_not_n30 CHECK (name <> 'N30') NOT VALID");
    let file = write_file(&w, "f.toml", "[tables.staffs]\ncolumns.name = { template = \"N{i}\" }\n");
    let before = db.dump_data();
    // 1000 rows: row 10 is not among the rows checked before loading (the check reads a
    // factories-file column), so the database refuses it during the load.
    let out = bulk(&w, &db.url(), &["--count", "1000", "--batch-size", "4", "--factories", file.to_str().unwrap()]);
    let text = expect_code(&out, 4);
    assert!(text.contains("\"staffs_name_not_n30\""), "{text}");
    assert!(text.contains("in table staffs"), "{text}");
    assert!(text.contains("(batch 3, row 10)"), "row 10 is in the third batch of 4: {text}");
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(db.dump_data(), before);

    let out = bulk(&w, &db.url(), &["--count", "10", "--log-format", "json"]);
    expect_code(&out, 0);
    assert_eq!(summary(&out).0, "keys in place");
    db.load_sql(
        "ALTER TABLE staffs ADD CONSTRAINT staffs_name_zzz CHECK (name LIKE 'ZZZ%' AND name LIKE 'YYY%') NOT VALID",
    );
    let before = db.dump_data();
    let text = expect_code(&bulk(&w, &db.url(), &["--count", "10"]), 4);
    assert!(text.contains("\"staffs_name_zzz\"") && text.contains("nothing was written"), "{text}");
    assert_eq!(db.dump_data(), before);
}

#[test]
fn bulk_unsatisfiable_check_on_sqlite_leaves_rows_unchanged() {
    let w = Workdir::new();
    let db = w.path().join("c.db");
    let schema = std::fs::read_to_string(repo_path("fixtures/schema.sql")).unwrap().replacen(
        "name           TEXT NOT NULL,",
        "name           TEXT NOT NULL CONSTRAINT staffs_name_zzz CHECK (name <> 'N10'),",
        1,
    );
    assert!(schema.contains("staffs_name_zzz"));
    sqlite_with_schema(&db, &schema);
    sqlite3(
        &db,
        "INSERT INTO staffs (id, name, email, hired_on, created_at)
         VALUES ('00000000-0000-4000-8000-000000000001', 'ZZZ Existing', 'zzz@example.com', '2020-01-01', '2020-01-01 00:00:00')",
    );
    let before = sqlite_rows(&db);
    // Row 9 of 1000 (N10, after the existing row) is not among those checked before
    // loading (the check reads a factories-file column): SQLite refuses it mid-load.
    let file = write_file(&w, "f.toml", "[tables.staffs]\ncolumns.name = { template = \"N{i}\" }\n");
    let out = bulk(&w, "sqlite://c.db", &["--count", "1000", "--factories", file.to_str().unwrap()]);
    let text = expect_code(&out, 4);
    assert!(text.contains("check constraint violation"), "{text}");
    assert!(text.contains("staffs_name_zzz"), "{text}");
    assert!(text.contains("staffs"), "{text}");
    assert!(text.contains("batch 1"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    assert_eq!(sqlite_rows(&db), before);
}

/// The benchmark's ordinary schema (text uuid keys, a unique email, plain foreign keys,
/// no cycle): loaded without temporary indexes and with `INSERT OR ROLLBACK`. A row the
/// database refuses mid-load (a trigger's `RAISE(ABORT)` in the last table, a unique
/// email against a row already there) leaves every row and the schema as they were; the
/// next load then fills every table with its keys intact.
#[test]
fn bulk_sqlite_ordinary_schema_refused_rows_leave_the_database_as_it_was() {
    let w = Workdir::new();
    let db = w.path().join("o.db");
    sqlite_with_schema(&db, &std::fs::read_to_string(repo_path("bench/fixtures/ordinary.sqlite.sql")).unwrap());
    sqlite3(
        &db,
        "INSERT INTO staffs VALUES ('s-1', 'Existing', 'n12@example.com', '2020-01-01');
         INSERT INTO offices VALUES ('o-1', 'Office', 'Street', 's-1');",
    );
    let schema = || sqlite3(&db, "SELECT type, name, sql FROM sqlite_master ORDER BY name");
    let schema_before = schema();
    sqlite3(
        &db,
        "CREATE TRIGGER full BEFORE INSERT ON welfare_recipients
         WHEN (SELECT count(*) FROM welfare_recipients) >= 1500 BEGIN SELECT RAISE(ABORT, 'ward is full'); END;",
    );
    let with_trigger = schema();
    let before = sqlite_rows(&db);
    let out = bulk(&w, "sqlite://o.db", &["--count", "2000"]);
    // (A trigger's RAISE(ABORT) is reported as a database error, exit 1, not yet as a
    // constraint violation.)
    let text = expect_code(&out, 1);
    assert!(text.contains("ward is full"), "{text}");
    assert!(text.contains("welfare_recipients"), "{text}");
    assert_eq!(sqlite_rows(&db), before);
    assert_eq!(schema(), with_trigger, "the failed load left schema changes");
    sqlite3(&db, "DROP TRIGGER full");

    // The 12th new staff's email is the existing row's: SQLite refuses it in batch 3 of 5.
    let file = write_file(&w, "f.toml", "[tables.staffs]\ncolumns.email = { template = \"n{i}@example.com\" }\n");
    let out =
        bulk(&w, "sqlite://o.db", &["--count", "100", "--batch-size", "5", "--factories", file.to_str().unwrap()]);
    let text = expect_code(&out, 4);
    assert!(text.contains("staffs.email"), "{text}");
    assert!(text.contains("batch 3"), "{text}");
    assert_eq!(sqlite_rows(&db), before);

    let out = bulk(&w, "sqlite://o.db", &["--count", "3000"]);
    expect_code(&out, 0);
    for t in DEMO_TABLES {
        assert!(sqlite_count(&db, t) >= 3000, "{t}");
    }
    assert_eq!(sqlite3(&db, "PRAGMA foreign_key_check"), "");
    assert_eq!(schema(), schema_before, "the load left schema changes");
}

// =======================================================================================
// 6b. The server connection killed mid-load

#[test]
fn bulk_killed_connection_without_retries_exits_3_and_writes_nothing() {
    let db = TestDb::with_demo_schema("bulk_kill");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "20"]), 0);
    let before = db.dump_data();
    let mut child = spawn_bulk(&w, Some(&db.url()), &["--count", "300000", "--retry-max-attempts", "1"]);
    let pid = wait_for_copy(&mut child, &db);
    assert_eq!(db.psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let out = finish(child, Duration::from_secs(60));
    assert_no_password(&out);
    let text = expect_code(&out, 3);
    assert!(text.contains("lost the connection"), "{text}");
    assert!(!text.contains("retrying"), "{text}");
    assert_eq!(db.dump_data(), before);
}

#[test]
fn bulk_killed_connection_with_retries_loads_exactly_once() {
    let db = TestDb::with_demo_schema("bulk_kill_retry");
    let w = Workdir::new();
    let mut child = spawn_bulk(
        &w,
        Some(&db.url()),
        &["--count", "30000", "--retry-max-attempts", "3", "--retry-base-delay", "50ms"],
    );
    let pid = wait_for_copy(&mut child, &db);
    assert_eq!(db.psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let out = finish(child, Duration::from_secs(120));
    assert_no_password(&out);
    let text = expect_code(&out, 0);
    assert!(text.contains("retrying"), "{text}");
    assert!(text.contains("(attempt 2)"), "{text}");
    assert!(text.contains("seeded 120,000 rows into 4 tables"), "{text}");
    for t in DEMO_TABLES {
        assert_eq!(db.count(t), 30000, "{t}: loaded once, not twice");
    }
    assert!(demo_violations(|sql| db.psql(sql)).is_empty());
}

// =======================================================================================
// 6c. Ctrl-C mid-load

#[test]
fn bulk_ctrl_c_on_postgres_rolls_back_and_leaves_no_backend() {
    let db = TestDb::with_demo_schema("bulk_sigint");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "20"]), 0);
    let before = db.dump_data();
    let schema_before = schema_dump(&db);
    // --truncate: the tables are emptied and their keys dropped inside the transaction.
    let mut child = spawn_bulk(&w, Some(&db.url()), &["--count", "300000", "--truncate"]);
    let pid = wait_for_copy(&mut child, &db);
    sigint(&child);
    let out = finish(child, Duration::from_secs(30));
    assert_no_password(&out);
    let text = expect_code(&out, 130);
    assert!(text.contains("interrupted"), "{text}");
    assert!(backend_gone(pid, Duration::from_secs(10)), "backend {pid} of the interrupted load is still there");
    assert_eq!(
        db.psql(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND (application_name = 'seed bulk' OR application_name LIKE '%(seed bulk)')",
            db.name
        )),
        "0"
    );
    assert_eq!(db.dump_data(), before);
    assert_eq!(schema_dump(&db), schema_before);
}

#[test]
fn bulk_ctrl_c_on_sqlite_rolls_back() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    expect_code(&bulk_embedded(&w, &["--count", "50"]), 0);
    let before = sqlite_rows(&db);
    let started = Instant::now();
    let mut child = spawn_bulk(&w, None, &["--count", "1000000"]);
    // Wait until the load is writing (its journal grows).
    let journal = w.path().join("seed.db-journal");
    let wal = w.path().join("seed.db-wal");
    loop {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        if size(&journal) > 0 || size(&wal) > 0 {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("seed bulk ended ({status}) before it wrote anything");
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the load never started writing");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    sigint(&child);
    let out = finish(child, Duration::from_secs(30));
    let text = expect_code(&out, 130);
    assert!(text.contains("interrupted"), "{text}");
    assert_eq!(sqlite_rows(&db), before);
    assert_eq!(sqlite3(&db, "PRAGMA integrity_check"), "ok");
}

// =======================================================================================
// 6d. A second loader while the first is running

#[test]
fn bulk_second_concurrent_bulk_on_postgres_is_refused_with_the_holder() {
    let db = TestDb::with_demo_schema("bulk_lock");
    let w = Workdir::new();
    let mut first = spawn_bulk(&w, Some(&db.url()), &["--count", "50000"]);
    let pid = wait_for_copy(&mut first, &db);
    let out = bulk(&w, &db.url(), &["--count", "10"]);
    let text = expect_code(&out, 8);
    assert!(text.contains("locked"), "{text}");
    // r19.8: the holder is the seed process (its pid and host), not its server backend.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder =
        format!("locked by pid {} on {} (seed bulk); its connection: server process {pid}", first.id(), host.trim());
    assert!(text.contains(&holder), "the holder is not named as {holder:?}: {text}");
    assert!(text.contains("hint:"), "{text}");
    let out = finish(first, Duration::from_secs(120));
    assert_no_password(&out);
    let text = expect_code(&out, 0);
    assert!(text.contains("seeded 200,000 rows"), "{text}");
    for t in DEMO_TABLES {
        assert_eq!(db.count(t), 50000, "{t}");
    }
}

#[test]
fn bulk_concurrent_writer_on_sqlite_is_lock_held() {
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    expect_code(&bulk_embedded(&w, &["--count", "20"]), 0);
    let before = sqlite_rows(&db);
    // Another writer: the sqlite3 CLI inside BEGIN IMMEDIATE, signalling through a file.
    let marker = w.path().join("locked.txt");
    let mut holder =
        sqlite3_cmd(&db).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stdin = holder.stdin.as_mut().unwrap();
    std::io::Write::write_all(
        stdin,
        format!("BEGIN IMMEDIATE;\n.once {}\nSELECT 'locked';\n", marker.display()).as_bytes(),
    )
    .unwrap();
    std::io::Write::flush(stdin).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&marker).map(|s| s.trim() != "locked").unwrap_or(true) {
        assert!(Instant::now() < deadline, "the sqlite3 CLI never took the write lock");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = bulk_embedded(&w, &["--count", "10"]);
    let text = expect_code(&out, 8);
    assert!(text.contains("locked"), "{text}");
    std::io::Write::write_all(holder.stdin.as_mut().unwrap(), b"ROLLBACK;\n").unwrap();
    drop(holder.stdin.take());
    let status = holder.wait().unwrap();
    assert!(status.success());
    assert_eq!(sqlite_rows(&db), before);
}

// =======================================================================================
// 6e. Bad arguments

#[test]
fn bulk_bad_arguments_are_usage_errors_and_write_nothing() {
    let db = TestDb::with_demo_schema("bulk_usage");
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "5"]), 0);
    let before = db.dump_data();
    let cases: [(&[&str], &str); 4] = [
        (&["--count", "0"], "--count must be between 1 and"),
        (&["--count", "5", "--batch-size", "0"], "--batch-size must be between 1 and"),
        (&["--table", "nosuch=5"], "unknown table 'nosuch'"),
        (&["--count", "-1"], "--count must be between 1 and"),
    ];
    for (args, needle) in cases {
        let out = bulk(&w, &db.url(), args);
        let text = expect_code(&out, 2);
        assert!(text.contains(needle), "{args:?}: {text}");
        assert_eq!(db.dump_data(), before, "{args:?} wrote something");
    }
    let text = all_output(&bulk(&w, &db.url(), &["--table", "nosuch=5"]));
    for t in DEMO_TABLES {
        assert!(text.contains(t), "the unknown-table message should list {t}: {text}");
    }

    // The same on the embedded default: nothing created, not even the demo schema.
    let w = Workdir::new();
    let seed_db = w.path().join("seed.db");
    for (args, needle) in cases {
        let text = expect_code(&bulk_embedded(&w, args), 2);
        assert!(text.contains(needle), "{args:?}: {text}");
        assert!(sqlite_tables(&seed_db).is_empty(), "{args:?} created tables");
    }
}

// =======================================================================================
// 7. JSON logs

#[test]
fn bulk_json_logs_every_line_parses_with_a_summary() {
    let db = TestDb::with_demo_schema("bulk_json");
    let w = Workdir::new();
    // Progress left on: it must be JSON too.
    let out = w
        .seed()
        .args(["bulk", "--count", "30", "--table", "welfare_recipients=70", "--log-format", "json"])
        .args(["--database-url", &db.url()])
        .output()
        .unwrap();
    assert_no_password(&out);
    expect_code(&out, 0);
    let events = json_events(&out);
    assert!(events.iter().all(|e| e["event"].is_string() && e["level"].is_string()), "{events:#?}");
    let (_, tables) = summary(&out);
    assert_eq!(
        tables,
        BTreeMap::from([
            ("offices".into(), 30),
            ("office_staffs".into(), 30),
            ("staffs".into(), 30),
            ("welfare_recipients".into(), 70)
        ])
    );
    let s = events.iter().find(|e| e["event"] == "bulk_summary").unwrap();
    assert_eq!(s["rows"], 160);
    assert_eq!(s["seed"], 42);

    // A failure is one JSON line too.
    let out = bulk(&w, &db.url(), &["--table", "nosuch=5", "--log-format", "json"]);
    expect_code(&out, 2);
    let events = json_events(&out);
    let failed = events.iter().find(|e| e["event"] == "command_failed").expect("command_failed event");
    assert_eq!(failed["exit_code"], 2);

    // And on SQLite.
    let w = Workdir::new();
    let out = w.seed().args(["bulk", "--count", "15", "--log-format", "json"]).output().unwrap();
    expect_code(&out, 0);
    let (mode, tables) = summary(&out);
    assert_eq!(mode, "sqlite");
    assert_eq!(tables.values().copied().collect::<Vec<_>>(), vec![15; 4], "{tables:?}");
}

#[test]
fn bulk_integer_keys_start_above_existing_ids_with_gaps() {
    let db = TestDb::new("bulk_int_gaps");
    db.load_sql("CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL); INSERT INTO t VALUES (1, 'a'), (5, 'b');");
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--table", "t=5"]);
    expect_code(&out, 0);
    assert_eq!(db.count("t"), 7);
    assert_eq!(db.psql("SELECT count(*) FROM t WHERE id > 5"), "5", "new ids start above the highest existing one");
}
