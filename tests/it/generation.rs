//! Value generation against real schemas (issue 8, items 13, 15–18): name-picked
//! generators fitted to tiny `char(n)`/`varchar(n)` columns, the real capacity of short
//! text keys, limits of the factories file, key-space hints that work when followed, and
//! the plan's wording. Each runs the `seed` binary against PostgreSQL and/or SQLite.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{TestDb, Workdir, assert_no_password};
use crate::common::{expect_code, sqlite3};

fn bulk(w: &Workdir, url: &str, args: &[&str]) -> Output {
    let out = w.seed().arg("bulk").args(args).args(["--database-url", url, "--no-progress"]).output().unwrap();
    assert_no_password(&out);
    out
}

fn sqlite_with_schema(path: &Path, schema: &str) {
    let mut child = Command::new("sqlite3")
        .args(["-batch", "-bail"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), schema.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "loading the schema failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

fn sqlite_url(w: &Workdir, name: &str, schema: &str) -> (PathBuf, String) {
    let path = w.path().join(name);
    sqlite_with_schema(&path, schema);
    (path, format!("sqlite://{name}"))
}

fn write_file(w: &Workdir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = w.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

// =======================================================================================
// Item 17: every name-picked generator fits the column's length

/// (column, declared type, length, extra): columns whose names pick a generator, at
/// lengths far below what the generator usually makes.
const TINY: &[(&str, &str, u32, &str)] = &[
    ("country", "char", 2, "NOT NULL"),
    ("nationality", "varchar", 3, ""),
    ("country_code", "char", 1, ""),
    ("first_name", "char", 1, "NOT NULL"),
    ("last_name", "varchar", 2, ""),
    ("name", "varchar", 3, ""),
    ("email", "varchar", 4, "UNIQUE"),
    ("phone", "char", 2, ""),
    ("address", "varchar", 3, ""),
    ("city", "char", 3, ""),
    ("state", "char", 2, ""),
    ("zip", "varchar", 3, ""),
    ("website_url", "varchar", 4, ""),
    ("description", "varchar", 5, ""),
    ("password", "char", 3, ""),
    ("color", "char", 1, ""),
    ("ip", "varchar", 3, ""),
    ("job_title", "varchar", 2, ""),
    ("currency", "char", 2, ""),
    ("code", "char", 2, "UNIQUE"),
    ("slug", "varchar", 3, ""),
    ("title", "varchar", 1, ""),
    ("username", "varchar", 2, ""),
    ("company", "varchar", 2, ""),
    ("category", "char", 1, ""),
];

fn tiny_columns(upper_types: bool) -> String {
    TINY.iter()
        .map(|(c, t, n, extra)| {
            let t = if upper_types { t.to_uppercase() } else { (*t).to_owned() };
            format!(",\n  {c} {t}({n}) {extra}")
        })
        .collect()
}

#[test]
fn r8_17_name_picked_generators_fit_tiny_char_columns_on_postgres() {
    let db = TestDb::new("gen_tiny_pg");
    db.load_sql(&format!("CREATE TABLE customers (id serial PRIMARY KEY{})", tiny_columns(false)));
    let w = Workdir::new();
    expect_code(&bulk(&w, &db.url(), &["--count", "1000"]), 0);
    assert_eq!(db.count("customers"), 1000);
    // A two-letter country column holds a country code, not a cut-off name.
    assert_eq!(db.psql("SELECT count(*) FROM customers WHERE country !~ '^[A-Z]{2}$'"), "0");
    assert_eq!(db.psql("SELECT count(*) FROM customers WHERE state !~ '^[A-Z]{2}$'"), "0");
    assert_eq!(db.psql("SELECT count(DISTINCT code) FROM customers"), "1000");
    assert_eq!(db.psql("SELECT count(DISTINCT email) FROM customers"), "1000");
}

#[test]
fn r8_17_name_picked_generators_fit_tiny_char_columns_on_sqlite() {
    let w = Workdir::new();
    let schema = format!("CREATE TABLE customers (id INTEGER PRIMARY KEY{});", tiny_columns(true));
    let (path, url) = sqlite_url(&w, "tiny.db", &schema);
    expect_code(&bulk(&w, &url, &["--count", "1000"]), 0);
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM customers"), "1000");
    // SQLite does not enforce lengths: check every declared one by hand, in characters.
    for (c, _, n, _) in TINY {
        let longer = sqlite3(&path, &format!("SELECT count(*) FROM customers WHERE length({c}) > {n}"));
        assert_eq!(longer, "0", "{c} has values longer than {n}");
    }
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM customers WHERE country NOT GLOB '[A-Z][A-Z]'"), "0");
    assert_eq!(sqlite3(&path, "SELECT count(DISTINCT code) FROM customers"), "1000");
}

// =======================================================================================
// Item 18: short text keys hold what their length allows

#[test]
fn r8_18_short_text_keys_fill_their_real_capacity_on_postgres() {
    let db = TestDb::new("gen_short_keys_pg");
    db.load_sql(
        "CREATE TABLE k2 (k varchar(2) PRIMARY KEY);
         CREATE TABLE c2 (k char(2) PRIMARY KEY);
         CREATE TABLE k3 (id int PRIMARY KEY, k varchar(3) NOT NULL UNIQUE);
         CREATE TABLE c1 (k char(1) PRIMARY KEY);",
    );
    let w = Workdir::new();
    // 36 one-character + 1,296 two-character values over [0-9a-z].
    expect_code(&bulk(&w, &db.url(), &["--table", "k2=1332", "--table", "c2=1332", "--table", "k3=5000"]), 0);
    assert_eq!(db.psql("SELECT count(DISTINCT k) FROM k2"), "1332");
    // char(n) pads with blanks, and trailing blanks compare equal: distinct when padded.
    assert_eq!(db.psql("SELECT count(DISTINCT k::text) FROM c2"), "1332");
    assert_eq!(db.psql("SELECT count(DISTINCT k) FROM k3"), "5000");

    // One more than the column holds: refused before writing, naming column and capacity.
    let before = db.dump_data();
    let text = expect_code(&bulk(&w, &db.url(), &["--table", "k2=1"]), 4);
    assert!(text.contains("k2.k") && text.contains("1332"), "{text}");
    let text = expect_code(&bulk(&w, &db.url(), &["--table", "c1=37"]), 4);
    assert!(text.contains("c1.k") && text.contains("36"), "{text}");
    assert!(!text.contains("{i}"), "a template cannot make a 1-character key hold more: {text}");
    assert_eq!(db.dump_data(), before);
    expect_code(&bulk(&w, &db.url(), &["--table", "c1=36"]), 0);
}

#[test]
fn r8_18_short_text_keys_fill_their_real_capacity_on_sqlite() {
    let w = Workdir::new();
    let (path, url) = sqlite_url(
        &w,
        "keys.db",
        "CREATE TABLE k2 (k VARCHAR(2) PRIMARY KEY);
         CREATE TABLE c2 (k CHAR(2) PRIMARY KEY);
         CREATE TABLE k3 (id INTEGER PRIMARY KEY, k VARCHAR(3) NOT NULL UNIQUE);",
    );
    expect_code(&bulk(&w, &url, &["--table", "k2=1332", "--table", "c2=1332", "--table", "k3=5000"]), 0);
    for (t, n, len) in [("k2", "1332", 2), ("c2", "1332", 2), ("k3", "5000", 3)] {
        assert_eq!(sqlite3(&path, &format!("SELECT count(DISTINCT k) FROM {t}")), n, "{t}");
        assert_eq!(sqlite3(&path, &format!("SELECT count(*) FROM {t} WHERE length(k) > {len}")), "0", "{t}");
    }
    let text = expect_code(&bulk(&w, &url, &["--table", "c2=1"]), 4);
    assert!(text.contains("c2.k") && text.contains("1332"), "{text}");
    assert_eq!(sqlite3(&path, "SELECT count(*) FROM c2"), "1332");
}

// =======================================================================================
// Item 13: the factories file's limits and paths

#[test]
fn r8_13_factories_counts_paths_and_null_rules_are_usage_errors() {
    let db = TestDb::with_demo_schema("gen_factories_limits");
    let w = Workdir::new();
    let url = db.url();
    let run = |file: &Path| bulk(&w, &url, &["--factories", file.to_str().unwrap(), "--dry-run"]);

    let file = write_file(&w, "big.toml", b"[tables.staffs]\ncount = 1000000001\n");
    let text = expect_code(&run(&file), 2);
    assert!(text.contains("big.toml:2:") && text.contains("1000000000"), "{text}");

    let file = write_file(
        &w,
        "per.toml",
        b"[tables.staffs]\ncount = 5\n\n[tables.offices]\nper_parent = { table = \"staffs\", count = 1000000001 }\n",
    );
    let text = expect_code(&run(&file), 2);
    assert!(text.contains("per.toml:5:") && text.contains("1000000000"), "{text}");

    // Each factor within the limit, their product not.
    let file = write_file(
        &w,
        "product.toml",
        b"[tables.offices]\ncount = 100000\n\n[tables.office_staffs]\nper_parent = { table = \"offices\", count = 100000 }\n",
    );
    let text = expect_code(&run(&file), 2);
    assert!(text.contains("product.toml:5:") && text.contains("1000000000"), "{text}");

    // per_parent of a per_parent table counts through both.
    let file = write_file(
        &w,
        "chain.toml",
        b"[tables.staffs]\ncount = 3\n\n[tables.offices]\nper_parent = { table = \"staffs\", count = 2 }\n\n[tables.welfare_recipients]\nper_parent = { table = \"offices\", count = 5 }\n",
    );
    let text = expect_code(&run(&file), 0);
    assert!(text.contains("welfare_recipients — 30 rows"), "{text}");

    let dir = w.path().join("factories.d");
    std::fs::create_dir(&dir).unwrap();
    let text = expect_code(&run(&dir), 2);
    assert!(text.contains("factories.d") && text.contains("directory"), "{text}");

    let file = write_file(&w, "latin1.toml", b"[tables.staffs]\n# caf\xe9\ncount = 3\n");
    let text = expect_code(&run(&file), 2);
    assert!(text.contains("latin1.toml") && text.contains("UTF-8"), "{text}");

    // `null = true` on a NOT NULL column: found by --dry-run, before anything is written.
    let file = write_file(&w, "null.toml", b"[tables.staffs]\ncount = 3\ncolumns.name = { null = true }\n");
    let text = expect_code(&run(&file), 2);
    assert!(text.contains("null.toml:3:") && text.contains("staffs.name") && text.contains("NOT NULL"), "{text}");

    // Nothing was written by any of them.
    assert_eq!(db.count("staffs"), 0);
}

#[test]
fn r8_13_unknown_table_is_a_usage_error_in_code_and_docs() {
    let db = TestDb::with_demo_schema("gen_unknown_table");
    let w = Workdir::new();
    let text = expect_code(&bulk(&w, &db.url(), &["--table", "nope=3"]), 2);
    assert!(text.contains("unknown table 'nope'"), "{text}");
    let page = std::fs::read_to_string(crate::common::repo_path("docs/exit-codes.md")).unwrap();
    let row = |code: &str| {
        page.lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .unwrap_or_else(|| panic!("docs/exit-codes.md has no row {code}"))
    };
    assert!(
        row("2").contains("unknown table"),
        "docs/exit-codes.md: exit code 2 should cover unknown tables: {}",
        row("2")
    );
    assert!(
        !row("5").contains("unknown table"),
        "docs/exit-codes.md: exit code 5 still claims unknown tables: {}",
        row("5")
    );
}

// =======================================================================================
// Item 15: integer keys out of values, and the plan's first value

#[test]
fn r8_15_smallint_key_out_of_values_suggests_what_works() {
    let db = TestDb::new("gen_smallint");
    db.load_sql("CREATE TABLE t (id smallint PRIMARY KEY, name text NOT NULL)");
    let w = Workdir::new();
    let text = expect_code(&bulk(&w, &db.url(), &["--table", "t=40000"]), 4);
    assert!(!text.contains("{i}"), "a template cannot widen a smallint: {text}");
    assert!(text.contains("t.id") && text.contains("32767") && text.contains("integer"), "{text}");
    // Following the hint works.
    expect_code(&bulk(&w, &db.url(), &["--table", "t=32767"]), 0);
    assert_eq!(db.count("t"), 32767);

    // Full at the top: the hint is --truncate, and that works.
    db.load_sql("DELETE FROM t WHERE id < 32000");
    let text = expect_code(&bulk(&w, &db.url(), &["--table", "t=1000"]), 4);
    assert!(text.contains("--truncate") && !text.contains("{i}"), "{text}");
    expect_code(&bulk(&w, &db.url(), &["--table", "t=1000", "--truncate"]), 0);
    assert_eq!(db.count("t"), 1000);
}

#[test]
fn r8_15_dry_run_first_integer_is_the_first_written() {
    let db = TestDb::new("gen_first_int");
    db.load_sql("CREATE TABLE u (id int PRIMARY KEY, name text NOT NULL); INSERT INTO u VALUES (1, 'a'), (5, 'b');");
    let w = Workdir::new();
    let out = bulk(&w, &db.url(), &["--table", "u=5", "--dry-run"]);
    let text = expect_code(&out, 0);
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    let line = plan.lines().find(|l| l.trim_start().starts_with("id ")).unwrap_or_else(|| panic!("{text}"));
    let first: i64 = line.rsplit("from ").next().unwrap().trim().parse().unwrap_or_else(|_| panic!("{line}"));
    expect_code(&bulk(&w, &db.url(), &["--table", "u=5"]), 0);
    let written = db.psql("SELECT min(id) || ' ' || max(id) FROM u WHERE id > 5");
    assert_eq!(written, format!("{first} {}", first + 4), "the plan said: {line}");
}

// =======================================================================================
// Item 16: plural forms in the plan

#[test]
fn r8_16_plan_says_one_row_and_one_table() {
    let w = Workdir::new();
    let (_, url) = sqlite_url(&w, "one.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL);");
    let out = bulk(&w, &url, &["--table", "t=1", "--dry-run"]);
    let text = expect_code(&out, 0);
    assert!(text.contains(": 1 row in 1 table,"), "{text}");
    assert!(text.contains("1. t — 1 row\n"), "{text}");
    let out = bulk(&w, &url, &["--table", "t=2", "--dry-run"]);
    let text = expect_code(&out, 0);
    assert!(text.contains(": 2 rows in 1 table,") && text.contains("1. t — 2 rows\n"), "{text}");
}
