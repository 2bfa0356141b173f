//! r11.6: table selection like pg_dump — patterns, schema-qualified names, quoting keeps
//! case, `--schema` picks whole schemas — on create, restore and bulk. r19.4: what
//! matches nothing follows pg_dump too: an `--exclude` never fails, `--table`/`--schema`
//! fail when none matches anything or, with `--strict-names`, when one matches nothing.

use crate::common::{TestDb, Workdir};

const SCHEMA: &str = "
    CREATE SCHEMA app;
    CREATE TABLE app.orders (id int PRIMARY KEY, note text);
    CREATE TABLE app.\"Orders\" (id int PRIMARY KEY, note text);
    CREATE TABLE audit_log (id int PRIMARY KEY, note text);
    CREATE TABLE audit_events (id int PRIMARY KEY, note text);
    CREATE TABLE \"Mixed Case\" (id int PRIMARY KEY, note text);
    CREATE TABLE staffs (id int PRIMARY KEY, note text);";

fn tables_of(w: &Workdir, name: &str) -> Vec<String> {
    let out = w.seed().args(["--json", "snapshot", "show", name]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut names: Vec<String> = doc["header"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}.{}", t["schema"].as_str().unwrap(), t["name"].as_str().unwrap()))
        .collect();
    names.sort();
    names
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn r11_6_create_restore_and_bulk_select_tables_like_pg_dump() {
    let db = TestDb::new("select_pg");
    db.load_sql(SCHEMA);
    let w = Workdir::new();
    let url = db.url();
    let u = |rest: &[&str]| -> Vec<String> {
        ["--database-url", url.as_str()].iter().chain(rest).map(|s| (*s).to_owned()).collect()
    };
    // bulk: --exclude leaves the audit tables empty; a table given twice is an error.
    w.run(&strs(&u(&["bulk", "--count", "5", "--exclude", "audit_*"])), 0);
    assert_eq!(db.count("audit_log") + db.count("audit_events"), 0);
    assert_eq!(db.count("staffs"), 5);
    assert_eq!(db.psql("SELECT count(*) FROM app.\"Orders\""), "5");
    let text = w.run(&strs(&u(&["bulk", "--table", "staffs=1", "--table", "staffs=2"])), 2);
    assert!(text.contains("given twice"), "{text}");
    w.run(&strs(&u(&["bulk", "--count", "2", "--schema", "app"])), 0);
    assert_eq!(db.count("staffs"), 5, "--schema app leaves public alone");
    assert_eq!(db.psql("SELECT count(*) FROM app.orders"), "7");

    // create: patterns, quoting, schemas.
    w.run(&strs(&u(&["snapshot", "create", "apps", "--table", "app.*"])), 0);
    assert_eq!(tables_of(&w, "apps"), ["app.Orders", "app.orders"]);
    w.run(&strs(&u(&["snapshot", "create", "upper", "--table", "app.\"Orders\""])), 0);
    assert_eq!(tables_of(&w, "upper"), ["app.Orders"]);
    w.run(&strs(&u(&["snapshot", "create", "folded", "--table", "APP.ORDERS"])), 0);
    assert_eq!(tables_of(&w, "folded"), ["app.orders"]);
    w.run(&strs(&u(&["snapshot", "create", "mixed", "--table", "\"Mixed Case\"", "--table", "st?ffs"])), 0);
    assert_eq!(tables_of(&w, "mixed"), ["public.Mixed Case", "public.staffs"]);
    w.run(&strs(&u(&["snapshot", "create", "noaudit", "--exclude", "audit_*", "--exclude", "app.*"])), 0);
    assert_eq!(tables_of(&w, "noaudit"), ["public.Mixed Case", "public.staffs"]);
    w.run(&strs(&u(&["snapshot", "create", "byschema", "--schema", "app"])), 0);
    assert_eq!(tables_of(&w, "byschema"), ["app.Orders", "app.orders"]);
    // Unqualified names look in the search path only; no include matching is an error.
    let text = w.run(&strs(&u(&["snapshot", "create", "x", "--table", "orders"])), 2);
    assert!(text.contains("no matching tables were found for --table orders"), "{text}");
    assert!(!w.path().join("snapshots/x.seed.gz").exists());
    // One include of two matching nothing: a warning, the other is taken (pg_dump) ...
    let text = w.run(&strs(&u(&["snapshot", "create", "x", "--table", "orders", "--table", "staffs"])), 0);
    assert!(text.contains("warning: --table orders matches no table"), "{text}");
    assert_eq!(tables_of(&w, "x"), ["public.staffs"]);
    // ... unless --strict-names, which leaves nothing behind.
    let args = ["snapshot", "create", "y", "--table", "orders", "--table", "staffs", "--strict-names"];
    let text = w.run(&strs(&u(&args)), 2);
    assert!(text.contains("--table orders: no table matches (--strict-names)"), "{text}");
    assert!(!w.path().join("snapshots/y.seed.gz").exists());
    // An --exclude that matches nothing excludes nothing, on every command.
    let text = w.run(&strs(&u(&["snapshot", "create", "y", "--exclude", "nope_*", "--strict-names"])), 0);
    assert!(!text.contains("nope_*"), "{text}");
    assert_eq!(tables_of(&w, "y").len(), 6);
    w.run(&strs(&u(&["bulk", "--count", "1", "--exclude", "nope_*", "--exclude", "audit_*"])), 0);
    assert_eq!((db.count("staffs"), db.count("audit_log")), (6, 0));

    // restore: only the tables picked, the others untouched.
    w.run(&strs(&u(&["snapshot", "create", "all"])), 0);
    db.psql("DELETE FROM staffs; DELETE FROM app.orders;");
    w.run(&strs(&u(&["snapshot", "restore", "all", "--table", "staffs"])), 0);
    assert_eq!(db.count("staffs"), 6);
    assert_eq!(db.psql("SELECT count(*) FROM app.orders"), "0", "a table not picked was restored");
    let text = w.run(&strs(&u(&["snapshot", "restore", "all", "--table", "nothing*"])), 2);
    assert!(text.contains("nothing*"), "{text}");
    db.psql("DELETE FROM staffs");
    w.run(&strs(&u(&["snapshot", "restore", "all", "--table", "staffs", "--exclude", "nope_*"])), 0);
    assert_eq!(db.count("staffs"), 6);
}

#[test]
fn r11_6_sqlite_names_match_without_regard_to_case() {
    let w = Workdir::new();
    w.run(&["bulk", "--count", "3"], 0);
    w.run(&["snapshot", "create", "two", "--table", "STAFFS", "--table", "off*"], 0);
    assert_eq!(tables_of(&w, "two"), [".office_staffs", ".offices", ".staffs"]);
    // The `--exclude 'audit_*'` of docs/configuration.md on a schema without audit tables (r19.4).
    w.run(&["bulk", "--count", "3", "--exclude", "audit_*"], 0);
    w.run(&["snapshot", "create", "three", "--exclude", "audit_*"], 0);
    assert_eq!(tables_of(&w, "three").len(), 4);
}
