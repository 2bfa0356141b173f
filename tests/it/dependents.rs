//! r19.3: emptying tables that rows outside the load still reference — `restore --table
//! X --clean`, `bulk --truncate --exclude Y` — is refused by pre-flight (also at
//! `--dry-run`), naming each such table, its rows and its foreign key, with nothing
//! written; the hint says to take those tables in too or to add `--cascade`, which
//! empties them (and, in turn, what references them), listed at `--dry-run`. A restore
//! counts only the rows whose reference its snapshot does not hold (rows pointing at
//! rows that come back are fine). The same on PostgreSQL, SQLite and MariaDB.

use std::process::Output;

use crate::bulk::{sqlite_count, sqlite_rows, sqlite_with_schema};
use crate::common::expect_code;
use crate::common::mariadb::{MariaDb, assert_no_my_password};
use crate::common::{TestDb, Workdir, assert_no_password, repo_path};

/// One database of any kind, as the checks below see it.
struct Target<'a> {
    w: &'a Workdir,
    url: String,
    count: Box<dyn Fn(&str) -> i64 + 'a>,
    dump: Box<dyn Fn() -> String + 'a>,
}

impl Target<'_> {
    fn seed(&self, args: &[&str]) -> Output {
        let out = self.w.seed().args(args).args(["--database-url", &self.url, "--no-progress"]).output().unwrap();
        assert_no_password(&out);
        assert_no_my_password(&out);
        out
    }

    fn run(&self, args: &[&str], code: i32) -> String {
        expect_code(&self.seed(args), code)
    }
}

/// Tables outside the demo schema's cycle: votes -> note_tags -> tags.
const TAGS: &str = "
    CREATE TABLE tags (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL);
    CREATE TABLE note_tags (id INTEGER PRIMARY KEY, tag_id INTEGER NOT NULL REFERENCES tags (id), note VARCHAR(80));
    CREATE TABLE votes (id INTEGER PRIMARY KEY, note_tag_id INTEGER NOT NULL REFERENCES note_tags (id), up BOOLEAN NOT NULL);";

/// The demo schema (staffs is referenced by offices.created_by and
/// office_staffs.staff_id, welfare_recipients references offices, and staffs and
/// offices reference each other) plus `TAGS`.
fn demo_story(t: &Target) {
    t.run(&["bulk", "--count", "100"], 0);
    t.run(&["snapshot", "create", "baseline"], 0);
    t.run(&["bulk", "--count", "10"], 0);
    let before = (t.dump)();
    // The example of docs/restore.md: refused before writing, at --dry-run too, naming every child.
    for extra in [&["--dry-run"][..], &[]] {
        let mut args = vec!["snapshot", "restore", "baseline", "--table", "staffs", "--clean"];
        args.extend_from_slice(extra);
        let text = t.run(&args, 5);
        assert!(text.contains("pre-flight found 1 problem"), "{text}");
        assert!(text.contains("the restore empties tables that rows outside it reference"), "{text}");
        // The second bulk's 10 rows point at its 10 staffs, which the snapshot lacks.
        for child in ["office_staffs", "offices"] {
            let line = format!("{child} has 10 rows referencing staffs");
            assert!(text.contains(&line) && text.contains("that the snapshot does not hold"), "{line}: {text}");
        }
        // Restore them too (every table the snapshot holds that the clean would strand);
        // --cascade cannot help: staffs itself references offices (a cycle).
        let too = "restore them too (--table office_staffs --table offices --table welfare_recipients";
        assert!(text.contains(too), "{text}");
        assert!(text.contains("--cascade cannot help: staffs references offices"), "{text}");
        assert!(!text.contains("load the parent table first"), "{text}");
        assert_eq!((t.dump)(), before, "a refused restore changed the database");
    }
    let args = ["snapshot", "restore", "baseline", "--table", "staffs", "--clean", "--cascade"];
    let text = t.run(&args, 5);
    assert!(text.contains("--cascade would empty offices, which staffs references"), "{text}");
    assert_eq!((t.dump)(), before, "a refused restore changed the database");
    // As the hint says: the tables that reference staffs come back with it.
    let mut args = vec!["snapshot", "restore", "baseline", "--clean"];
    for table in ["staffs", "office_staffs", "offices", "welfare_recipients"] {
        args.extend(["--table", table]);
    }
    t.run(&args, 0);
    for table in ["staffs", "office_staffs", "offices", "welfare_recipients"] {
        assert_eq!((t.count)(table), 100, "{table}");
    }
    // --cascade where it helps: tags' children (and theirs) are emptied, listed first.
    let before = (t.dump)();
    let text = t.run(&["snapshot", "restore", "baseline", "--table", "tags", "--clean"], 5);
    assert!(text.contains("note_tags has 10 rows referencing tags"), "{text}");
    assert!(text.contains("add --cascade to empty them as well (note_tags, votes (through note_tags)"), "{text}");
    assert_eq!((t.dump)(), before);
    let text = t.run(&["snapshot", "restore", "baseline", "--table", "tags", "--clean", "--cascade", "--dry-run"], 0);
    assert!(text.contains("also emptied (--cascade), not loaded: votes (110 rows), note_tags (110 rows)"), "{text}");
    assert_eq!((t.dump)(), before, "--dry-run changed the database");
    let text = t.run(&["snapshot", "restore", "baseline", "--table", "tags", "--clean", "--cascade"], 0);
    assert!(text.contains("restored snapshot 'baseline': 1 table, 100 rows"), "{text}");
    assert_eq!(((t.count)("tags"), (t.count)("note_tags"), (t.count)("votes")), (100, 0, 0));
    // The whole snapshot: everything back.
    t.run(&["snapshot", "restore", "baseline", "--clean"], 0);
    t.run(&["snapshot", "verify", "baseline", "--against-db"], 0);
    // Rows outside that point only at rows the snapshot holds stay, as they are.
    let text = t.run(&["snapshot", "restore", "baseline", "--table", "staffs", "--clean"], 0);
    assert!(text.contains("restored snapshot 'baseline': 1 table, 100 rows"), "{text}");
    t.run(&["snapshot", "verify", "baseline", "--against-db"], 0);
    // bulk --truncate with a referencing table left out: the same rule, and --cascade.
    let before = (t.dump)();
    let text = t.run(&["bulk", "--count", "5", "--truncate", "--exclude", "office_staffs"], 5);
    assert!(text.contains("the load empties tables that rows outside it reference"), "{text}");
    assert!(text.contains("office_staffs has 100 rows referencing"), "{text}");
    assert!(text.contains("--cascade to empty them as well (office_staffs)"), "{text}");
    assert_eq!((t.dump)(), before);
    t.run(&["bulk", "--count", "5", "--truncate", "--exclude", "office_staffs", "--cascade"], 0);
    assert_eq!(((t.count)("staffs"), (t.count)("office_staffs")), (5, 0));
}

#[test]
fn r19_3_postgres_clean_refuses_to_strand_rows_outside_or_cascades() {
    let db = TestDb::with_demo_schema("dependents_pg");
    db.load_sql(TAGS);
    let w = Workdir::new();
    let t = Target { w: &w, url: db.url(), count: Box::new(|t| db.count(t)), dump: Box::new(|| db.dump_data()) };
    demo_story(&t);
}

#[test]
fn r19_3_sqlite_clean_refuses_to_strand_rows_outside_or_cascades() {
    let w = Workdir::new();
    let file = w.path().join("app.db");
    let demo = std::fs::read_to_string(repo_path("fixtures/schema.sql")).unwrap();
    sqlite_with_schema(&file, &format!("{demo}\n{TAGS}"));
    let t = Target {
        w: &w,
        url: "sqlite://app.db".into(),
        count: Box::new(|t| sqlite_count(&file, t)),
        dump: Box::new(|| sqlite_rows(&file)),
    };
    demo_story(&t);
}

#[test]
fn r19_3_mariadb_clean_refuses_to_strand_rows_outside_or_cascades() {
    let db = MariaDb::new("dependents");
    db.load_file(&repo_path("tests/fixtures/sakila-mysql/schema.sql"));
    let w = Workdir::new();
    let t = Target { w: &w, url: db.url(), count: Box::new(|t| db.count(t)), dump: Box::new(|| db.dump_data()) };
    t.run(&["bulk", "--count", "20"], 0);
    t.run(&["snapshot", "create", "base"], 0);
    t.run(&["bulk", "--count", "3"], 0);
    let before = (t.dump)();
    // country is referenced by city, city by address, and so on down to payment.
    let text = t.run(&["snapshot", "restore", "base", "--table", "country", "--clean"], 5);
    assert!(text.contains("city has 3 rows referencing country (fk_city_country)"), "{text}");
    assert!(text.contains("--table city") && text.contains("--cascade"), "{text}");
    assert!(text.contains("address (through city)"), "{text}");
    assert_eq!((t.dump)(), before);
    let text = t.run(&["snapshot", "restore", "base", "--table", "country", "--clean", "--cascade", "--dry-run"], 0);
    assert!(text.contains("also emptied (--cascade), not loaded:") && text.contains("city (23 rows)"), "{text}");
    t.run(&["snapshot", "restore", "base", "--table", "country", "--clean", "--cascade"], 0);
    assert_eq!(((t.count)("country"), (t.count)("city"), (t.count)("address")), (20, 0, 0));
    t.run(&["snapshot", "restore", "base", "--clean"], 0);
    t.run(&["snapshot", "verify", "base", "--against-db"], 0);
}
