//! r8.15: hints suggest only what can help with the problem found.

use crate::common::{TestDb, Workdir, all_output, assert_no_password};

fn hint_of(text: &str) -> String {
    text.lines().find_map(|l| l.strip_prefix("hint: ")).unwrap_or_default().to_owned()
}

#[test]
fn r8_15_a_cross_engine_restore_is_not_told_to_clean_or_allow_mismatch() {
    let w = Workdir::new();
    let out = w.seed().args(["bulk", "--count", "5", "--no-progress"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = w.seed().args(["snapshot", "create", "lite"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let db = TestDb::with_demo_schema("hint_cross");
    let out = w.seed().args(["--database-url", &db.url(), "snapshot", "restore", "lite"]).output().unwrap();
    assert_no_password(&out);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let hint = hint_of(&text);
    assert!(hint.contains("sqlite database"), "{text}");
    assert!(!hint.contains("--clean") && !hint.contains("--allow-schema-mismatch"), "{text}");
}

#[test]
fn r8_15_flags_already_given_are_not_suggested_again() {
    let db = TestDb::with_demo_schema("hint_flags");
    let w = Workdir::new();
    let url = db.url();
    let out = w.seed().args(["--database-url", &url, "bulk", "--count", "3", "--no-progress"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = w.seed().args(["--database-url", &url, "snapshot", "create", "base"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    db.psql("ALTER TABLE staffs ADD COLUMN nickname text");
    // Not empty and drifted: both flags help.
    let out = w.seed().args(["--database-url", &url, "snapshot", "restore", "base"]).output().unwrap();
    let hint = hint_of(&all_output(&out));
    assert!(hint.contains("--clean") && hint.contains("--allow-schema-mismatch"), "{hint}");
    // --clean given: only the other one is left to suggest.
    let out = w.seed().args(["--database-url", &url, "snapshot", "restore", "base", "--clean"]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    let hint = hint_of(&text);
    assert!(!hint.contains("--clean") && hint.contains("--allow-schema-mismatch"), "{hint}");
}

#[test]
fn r8_15_an_empty_database_is_not_told_about_table_flags() {
    let db = TestDb::new("hint_empty");
    let w = Workdir::new();
    let out = w.seed().args(["--database-url", &db.url(), "snapshot", "create", "nothing"]).output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("no tables"), "{text}");
    assert!(!text.contains("--table") && !text.contains("--exclude"), "{text}");
}

/// r8.15: the PostgreSQL driver appends "at line N" (a line of the server's C source)
/// to its messages; users would read it as a line of theirs.
#[test]
fn r8_15_no_server_source_lines_in_messages() {
    let db = TestDb::with_demo_schema("hint_line");
    let w = Workdir::new();
    let wrong = db.url().replace(crate::common::PG_PASSWORD, "Wrong-Password-123");
    let out = w
        .seed()
        .args(["--database-url", &wrong, "--retry-max-attempts", "1", "bulk", "--count", "1"])
        .output()
        .unwrap();
    let text = all_output(&out);
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains(" at line "), "{text}");
    assert!(!text.contains("Wrong-Password-123"), "{text}");
}
