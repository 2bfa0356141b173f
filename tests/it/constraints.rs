//! Constraints of any form (issue 12, part 1): schemas written the way Django, Rails
//! and Laravel write them — checks with LIKE, GLOB, regular expressions, `lower(x) = x`,
//! several columns, partial and expression unique indexes, exclusion constraints — are
//! filled at `--count 1000` with no factories file, and the database itself confirms
//! every rule holds; a check nothing can satisfy is refused before a row is written.

use std::path::Path;

use crate::bulk::{bulk, sqlite_with_schema};
use crate::common::{TestDb, Workdir, repo_path};
use crate::common::{expect_code, sqlite3};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(repo_path(&format!("tests/fixtures/constraints/{name}"))).unwrap()
}

/// Every check constraint of the database, re-evaluated over every row: (constraint,
/// rows that break it), for those broken.
fn pg_check_breaches(db: &TestDb) -> Vec<String> {
    let checks = db.psql(
        "SELECT c.conrelid::regclass::text || '|' || c.conname || '|' || pg_get_constraintdef(c.oid)
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE c.contype = 'c' AND c.conrelid <> 0 AND n.nspname = 'public' ORDER BY 1",
    );
    let mut out = Vec::new();
    for line in checks.lines() {
        let mut parts = line.splitn(3, '|');
        let (table, name, def) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        let body = def.trim_start_matches("CHECK ");
        let bad = db.psql(&format!("SELECT count(*) FROM {table} WHERE NOT {body}"));
        if bad != "0" {
            out.push(format!("{table}.{name}: {bad} rows"));
        }
    }
    assert!(checks.lines().count() >= 5, "expected the fixture's checks, found:\n{checks}");
    out
}

fn pg_counts(db: &TestDb, tables: &[&str]) -> Vec<i64> {
    tables.iter().map(|t| db.count(t)).collect()
}

#[test]
fn django_checks_partial_and_lower_unique_indexes_and_exclusions_fill_on_postgres() {
    let db = TestDb::new("c12_django");
    db.load_sql(&fixture("django.postgres.sql"));
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "1000", "--dry-run"]);
    let plan = expect_code(&out, 0);
    for needle in [
        "title                    db-checked  one of",
        "sku                      key         unique value matching '^[A-Z]{3}-[0-9]{4}$'",
        "start_at                 key         start of a slot no other row's overlaps",
        "during                   key         a range no other row's overlaps",
        "status                   constraint  one of [\"draft\", \"published\", \"archived\"]",
        "\"price_gte_cost\"",
    ] {
        assert!(plan.contains(needle), "plan lacks {needle:?}:\n{plan}");
    }
    let out = bulk(&w, &db.url(), &["--count", "1000"]);
    expect_code(&out, 0);
    let tables = ["accounts_user", "shop_product", "booking_room", "booking_reservation", "booking_maintenance"];
    assert_eq!(pg_counts(&db, &tables), vec![1000; 5]);
    assert_eq!(pg_check_breaches(&db), Vec::<String>::new());
    // The rules the database holds beyond checks, asked of it directly.
    for (what, sql) in [
        ("lower(email) repeats", "SELECT count(*) - count(DISTINCT lower(email)) FROM accounts_user"),
        (
            "a live username repeats",
            "SELECT count(*) - count(DISTINCT username) FROM accounts_user WHERE deleted_at IS NULL",
        ),
        (
            "reservations overlap in a room",
            "SELECT count(*) FROM booking_reservation a JOIN booking_reservation b ON a.id < b.id
              AND a.room_id = b.room_id AND tstzrange(a.start_at, a.end_at) && tstzrange(b.start_at, b.end_at)",
        ),
        (
            "maintenance windows overlap",
            "SELECT count(*) FROM booking_maintenance a JOIN booking_maintenance b ON a.id < b.id
              AND a.room_id = b.room_id AND a.during && b.during",
        ),
        ("a title without Trailer", "SELECT count(*) FROM shop_product WHERE title NOT LIKE '%Trailer%'"),
    ] {
        assert_eq!(db.psql(sql), "0", "{what}");
    }
    // Candidates are varied, not one value repeated.
    let distinct: i64 = db.psql("SELECT count(DISTINCT title) FROM shop_product").parse().unwrap();
    assert!(distinct > 50, "only {distinct} distinct titles");
    let versions = db.psql("SELECT count(*) FROM shop_product WHERE metadata ? 'version'");
    assert_eq!(versions, "1000");

    // The same seed gives the same rows (the pools depend only on the seed).
    let again = TestDb::new("c12_django_again");
    again.load_sql(&fixture("django.postgres.sql"));
    expect_code(&bulk(&w, &again.url(), &["--count", "1000"]), 0);
    assert_eq!(db.dump_data(), again.dump_data());
}

#[test]
fn rails_structure_with_regex_slugs_and_partial_owner_index_fills_on_postgres() {
    let db = TestDb::new("c12_rails");
    db.load_sql(&fixture("rails.postgres.sql"));
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--count", "1000"]);
    expect_code(&out, 0);
    assert_eq!(pg_counts(&db, &["organizations", "users", "memberships"]), vec![1000; 3]);
    assert_eq!(db.count("schema_migrations"), 1, "migration tables are never seeded");
    assert_eq!(pg_check_breaches(&db), Vec::<String>::new());
    for (what, sql) in [
        ("lower(slug) repeats", "SELECT count(*) - count(DISTINCT lower(slug)) FROM organizations"),
        (
            "two owners of an organization",
            "SELECT count(*) - count(DISTINCT organization_id) FROM memberships WHERE owner",
        ),
        ("kept email repeats", "SELECT count(*) - count(DISTINCT email) FROM users WHERE discarded_at IS NULL"),
        ("zip not 5 digits", "SELECT count(*) FROM users WHERE zip IS NOT NULL AND zip !~ '^[0-9]{5}$'"),
        ("billing_zip outside its domain", "SELECT count(*) FROM users WHERE billing_zip !~ '^[0-9]{5}(-[0-9]{4})?$'"),
    ] {
        assert_eq!(db.psql(sql), "0", "{what}");
    }
}

fn sqlite_breaches(path: &Path, checks: &[(&str, &str)]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|(table, expr)| {
            let bad = sqlite3(path, &format!("SELECT count(*) FROM {table} WHERE NOT ({expr})"));
            (bad != "0").then(|| format!("{table}: {expr}: {bad} rows"))
        })
        .collect()
}

#[test]
fn laravel_like_glob_lower_and_partial_unique_fill_on_sqlite() {
    let w = Workdir::new();
    let path = w.path().join("laravel.db");
    sqlite_with_schema(&path, &fixture("laravel.sqlite.sql"));
    let url = "sqlite://laravel.db";
    let out = bulk(&w, url, &["--count", "1000", "--dry-run"]);
    let plan = expect_code(&out, 0);
    assert!(plan.contains("code                     key         unique value matching '[A-Z][A-Z][A-Z]-"), "{plan}");
    assert!(plan.contains("notes                    db-checked"), "{plan}");
    assert!(plan.contains("phone                    db-checked"), "{plan}");
    expect_code(&bulk(&w, url, &["--count", "1000"]), 0);
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM users"), "1000");
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM orders"), "1000");
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM migrations"), "0", "migration tables are never seeded");
    let breaches = sqlite_breaches(
        &path,
        &[
            ("users", "status IN ('pending', 'active', 'banned')"),
            ("users", "lower(username) = username"),
            ("users", "email LIKE '%_@_%._%' OR email IS NULL"),
            ("users", "email IS NOT NULL OR phone IS NOT NULL"),
            ("users", "phone IS NULL OR phone REGEXP '^[0-9]{3}-[0-9]{3}-[0-9]{4}$'"),
            ("orders", "code GLOB '[A-Z][A-Z][A-Z]-[0-9][0-9][0-9][0-9]'"),
            ("orders", "total >= shipping"),
            ("orders", "shipped_at IS NULL OR shipped_at > placed_at"),
            ("orders", "notes IS NULL OR notes LIKE '%[internal]%'"),
        ],
    );
    assert_eq!(breaches, Vec::<String>::new());
    assert_eq!(sqlite3(&path, "SELECT count(*) - count(DISTINCT lower(username)) FROM users"), "0");
    assert_eq!(sqlite3(&path, "SELECT count(*) - count(DISTINCT email) FROM users WHERE deleted_at IS NULL"), "0");
    assert_eq!(sqlite3(&path, "PRAGMA foreign_key_check"), "");
    // Emails stay readable: the ordinary generator passes the LIKE check.
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM users WHERE email NOT LIKE '%@example.com'"), "0");
}

const IMPOSSIBLE_PG: &str = "CREATE TABLE parents (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE coupons (
    id serial PRIMARY KEY,
    parent_id int NOT NULL REFERENCES parents(id),
    code text NOT NULL,
    CONSTRAINT code_a_and_b CHECK (code LIKE 'A%' AND code LIKE 'B%')
);";

#[test]
fn a_check_nothing_satisfies_is_refused_before_writing_on_postgres() {
    let db = TestDb::new("c12_impossible");
    db.load_sql(IMPOSSIBLE_PG);
    let w = Workdir::new();
    for args in [vec!["--count", "1000", "--dry-run"], vec!["--count", "1000"]] {
        let out = bulk(&w, &db.url(), &args);
        let text = expect_code(&out, 4);
        assert!(text.contains("check constraint \"code_a_and_b\""), "{text}");
        assert!(text.contains("(code ~~ 'A%'::text)") && text.contains("(code ~~ 'B%'::text)"), "{text}");
        assert!(text.contains("nothing was written"), "{text}");
        assert!(text.contains("hint: check that the constraint can hold"), "{text}");
    }
    assert_eq!(pg_counts(&db, &["parents", "coupons"]), vec![0, 0]);
}

#[test]
fn a_check_nothing_satisfies_is_refused_before_writing_on_sqlite() {
    let w = Workdir::new();
    let path = w.path().join("bad.db");
    sqlite_with_schema(
        &path,
        "CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE coupons (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents(id),
           starts_at DATETIME NOT NULL, ends_at DATETIME NOT NULL,
           CONSTRAINT backwards CHECK (ends_at < starts_at AND ends_at > starts_at));",
    );
    let out = bulk(&w, "sqlite://bad.db", &["--count", "1000"]);
    let text = expect_code(&out, 4);
    assert!(text.contains("check constraint \"backwards\": (ends_at < starts_at AND ends_at > starts_at)"), "{text}");
    assert_eq!(sqlite3(&path, "SELECT (SELECT count(*) FROM parents) + (SELECT count(*) FROM coupons)"), "0");
}
