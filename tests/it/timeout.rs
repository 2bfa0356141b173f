//! `--statement-timeout`: a statement that runs too long is cancelled by the server,
//! reported as a timeout naming the step and the table, and rolled back.

use crate::common::{TestDb, Workdir, all_output, assert_no_password};

/// Every row of welfare_recipients costs 20 ms: 200 rows take 4 s, past the 1 s limit.
const SLOW_ROWS: &str = "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$;
     CREATE TRIGGER slow BEFORE INSERT ON welfare_recipients FOR EACH ROW EXECUTE FUNCTION slow_row();";

#[test]
fn a_slow_copy_is_reported_as_a_timeout_naming_the_table() {
    let db = TestDb::with_demo_schema("stmt_timeout");
    db.load_sql(SLOW_ROWS);
    let before = db.dump_data();
    let w = Workdir::new();
    let out = w
        .seed()
        .args(["--database-url", &db.url(), "--statement-timeout", "1s", "--retry-max-attempts", "1"])
        .args(["bulk", "--count", "200", "--no-progress"])
        .output()
        .unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(10), "{text}");
    assert!(text.contains("statement timed out after 1s while loading welfare_recipients"), "{text}");
    assert!(text.contains("--statement-timeout"), "the hint names the flag: {text}");
    assert_no_password(&out);
    assert_eq!(db.dump_data(), before, "a timed-out load must leave nothing behind");
}

/// r8.14: a timeout is retried once, not up to --retry-max-attempts times, and says so.
#[test]
fn a_timeout_is_retried_once_and_only_once() {
    let db = TestDb::with_demo_schema("stmt_timeout_retry");
    db.load_sql(SLOW_ROWS);
    let w = Workdir::new();
    let out = w
        .seed()
        .args([
            "--database-url",
            &db.url(),
            "--statement-timeout",
            "1s",
            "--retry-max-attempts",
            "5",
            "--retry-base-delay",
            "10ms",
        ])
        .args(["bulk", "--count", "200", "--no-progress"])
        .output()
        .unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(10), "{text}");
    assert!(text.contains("attempt 1/2") && text.contains("retried once"), "the retry is logged: {text}");
    assert!(!text.contains("attempt 2/"), "a timeout was retried more than once: {text}");
    assert!(text.contains("statement timed out after 1s"), "{text}");
    assert_eq!(db.count("welfare_recipients"), 0);
}
