//! Snapshot versions (`NAME@N`) and incremental snapshots, through the binary: chains
//! of versions restored exactly (SQLite and pagila on PostgreSQL), what each table is
//! stored as, a schema change between versions, a corrupt, replaced or deleted base,
//! deleting and pruning bases (refused, or folded into their dependents), `--force`,
//! concurrent creators of one name, and SIGKILL during an incremental create.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::common::run;
use crate::common::{TestDb, Workdir, all_output, hold_lock};
use crate::snapshot::{
    Running, big_demo, clone_db, dir_state, header_of, pagila_schema_template, pagila_template, seed_cmd, stdout,
    table_finished,
};

// ---------------------------------------------------------------------------------
// SQLite helpers (the same bundled SQLite the binary uses)
// ---------------------------------------------------------------------------------

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn connect(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).connect().await.unwrap()
}

/// Runs `sql` (several statements) on the SQLite file `path`.
pub fn sqlite_exec(path: &Path, sql: &str) {
    block_on(async {
        let mut conn = connect(path).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"));
    });
}

fn lines(path: &Path, sql: &str) -> Vec<String> {
    block_on(async {
        let mut conn = connect(path).await;
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"))
    })
}

fn tables_of(db: &Path) -> Vec<String> {
    lines(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
}

/// Every row of every table, each value as `quote(v):typeof(v)`, sorted per table.
pub(crate) fn sqlite_state(db: &Path) -> String {
    let mut out = String::new();
    for t in tables_of(db) {
        let cols = lines(db, &format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid"));
        let exprs: Vec<String> = cols.iter().map(|c| format!("quote(\"{c}\") || ':' || typeof(\"{c}\")")).collect();
        let mut rows = lines(db, &format!("SELECT {} FROM \"{t}\"", exprs.join(" || ' | ' || ")));
        rows.sort();
        out.push_str(&format!("== {t} ({} rows)\n{}\n", rows.len(), rows.join("\n")));
    }
    out
}

/// A copy of `db` with every row deleted: the schema as it is, no data.
pub(crate) fn empty_copy(db: &Path, to: &Path) {
    std::fs::copy(db, to).unwrap();
    let deletes: Vec<String> = tables_of(to).iter().map(|t| format!("DELETE FROM \"{t}\";")).collect();
    sqlite_exec(to, &format!("PRAGMA foreign_keys = OFF; {}", deletes.join(" ")));
}

fn storage_of(snapshot: &Path) -> Vec<(String, String)> {
    header_of(snapshot)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["storage"].as_str().unwrap().to_owned()))
        .collect()
}

fn storage(snapshot: &Path, table: &str) -> String {
    storage_of(snapshot).into_iter().find(|(n, _)| n == table).unwrap_or_else(|| panic!("no {table}")).1
}

/// The demo schema with 300 rows per table on the SQLite default, plus `notes`, a
/// table without a primary key.
pub(crate) fn sqlite_workdir() -> (Workdir, PathBuf) {
    let w = Workdir::new();
    run(w.seed().args(["--no-progress", "bulk", "--count", "300"]), 0);
    let db = w.path().join("seed.db");
    sqlite_exec(
        &db,
        "CREATE TABLE notes (body TEXT, n INTEGER); INSERT INTO notes VALUES ('a', 1), ('b', 2), (NULL, 3)",
    );
    (w, db)
}

fn snap(w: &Workdir, key: &str) -> PathBuf {
    w.path().join("snapshots").join(key)
}

/// Restores `reference` into an empty copy of `db_then` (the database as it was
/// when the version was taken) and returns the restored state.
fn restored_state(w: &Workdir, db_then: &Path, reference: &str, tag: &str) -> String {
    let target = w.path().join(format!("target-{tag}.db"));
    empty_copy(db_then, &target);
    let url = format!("sqlite://{}", target.display());
    let out = run(w.seed().args(["--no-progress", "--database-url", &url, "snapshot", "restore", reference]), 0);
    assert!(all_output(&out).contains("restored snapshot"), "{}", all_output(&out));
    sqlite_state(&target)
}

fn list_doc(w: &Workdir, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "snapshot", "list"];
    args.extend_from_slice(extra);
    let out = run(w.seed().args(&args), 0);
    serde_json::from_slice(&out.stdout).expect("list --json is JSON")
}

// ---------------------------------------------------------------------------------
// 1. A chain of versions on SQLite: storage per table, each version exact
// ---------------------------------------------------------------------------------

#[test]
fn sqlite_version_chain_stores_only_changes_and_restores_every_version_exactly() {
    let (w, db) = sqlite_workdir();
    let mut states = Vec::new();
    let mut copies = Vec::new();
    let mut keep = |tag: &str| {
        let copy = w.path().join(format!("db-{tag}.db"));
        std::fs::copy(&db, &copy).unwrap();
        states.push(sqlite_state(&db));
        copies.push(copy);
    };
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--description", "first"]), 0);
    keep("v1");

    // v2: rows changed, added and removed in tables with a key; the key-less table changed.
    sqlite_exec(
        &db,
        "UPDATE staffs SET name = 'changed ' || name WHERE rowid % 10 = 0;
         DELETE FROM welfare_recipients WHERE rowid % 7 = 0;
         INSERT INTO welfare_recipients (id, office_id, name, birth_date, care_level, notes, created_at)
           SELECT lower(hex(randomblob(16))), office_id, name || ' again', birth_date, care_level, notes, created_at
           FROM welfare_recipients LIMIT 5;
         INSERT INTO notes VALUES ('c', 4);",
    );
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    let text = all_output(&out);
    assert!(text.contains("snapshot 'app@2' created") && text.contains("incremental to app@1"), "{text}");
    keep("v2");
    let v2 = snap(&w, "app@2.seed.gz");
    assert_eq!(storage(&v2, "offices"), "base", "unchanged: a reference");
    assert_eq!(storage(&v2, "office_staffs"), "base");
    assert_eq!(storage(&v2, "staffs"), "delta", "10% changed: a row delta");
    assert_eq!(storage(&v2, "welfare_recipients"), "delta", "rows added and removed");
    assert_eq!(storage(&v2, "notes"), "full", "no primary key: in full");
    let h2 = header_of(&v2);
    assert_eq!(h2["version"], 2);
    assert_eq!(h2["base"]["name"], "app");
    assert_eq!(h2["base"]["version"], 1);
    let welfare = h2["tables"].as_array().unwrap().iter().find(|t| t["name"] == "welfare_recipients").unwrap();
    assert_eq!(welfare["delta"]["upserts"]["rows"], 5, "{welfare}");
    assert_eq!(welfare["delta"]["deletes"]["rows"], 300 / 7, "{welfare}");
    assert!(
        std::fs::metadata(&v2).unwrap().len() * 4 < std::fs::metadata(snap(&w, "app.seed.gz")).unwrap().len(),
        "the incremental version is much smaller than the full one"
    );

    // v3: a schema change in one table (a column added): that table in full, the rest
    // read from the chain (staffs through app@2's delta onto app@1).
    sqlite_exec(
        &db,
        "ALTER TABLE offices ADD COLUMN region TEXT; UPDATE offices SET region = 'north' WHERE rowid % 2 = 0;",
    );
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    keep("v3");
    let v3 = snap(&w, "app@3.seed.gz");
    assert_eq!(storage(&v3, "offices"), "full", "its columns changed since the base");
    for t in ["staffs", "welfare_recipients", "notes", "office_staffs"] {
        assert_eq!(storage(&v3, t), "base", "{t} is unchanged since app@2");
    }

    // v4: a full copy on request, and v5 incremental to it.
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version", "--full"]), 0);
    keep("v4");
    assert!(header_of(&snap(&w, "app@4.seed.gz"))["base"].is_null());
    // v5: a third of office_staffs moved to the end of the table (same rows): unchanged.
    sqlite_exec(
        &db,
        "DELETE FROM notes WHERE n = 1; UPDATE offices SET city = 'Elsewhere' WHERE rowid = 3;
         CREATE TEMP TABLE moved AS SELECT * FROM office_staffs WHERE rowid % 3 = 0;
         DELETE FROM office_staffs WHERE rowid % 3 = 0;
         INSERT INTO office_staffs SELECT * FROM moved;",
    );
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    keep("v5");
    let v5 = snap(&w, "app@5.seed.gz");
    assert_eq!(header_of(&v5)["base"]["version"], 4);
    assert_eq!(storage(&v5, "office_staffs"), "base", "rows moved, none changed");
    assert_eq!(storage(&v5, "offices"), "delta");

    for (n, (state, copy)) in states.iter().zip(&copies).enumerate() {
        let n = n + 1;
        let got = restored_state(&w, copy, &format!("app@{n}"), &format!("r{n}"));
        assert!(&got == state, "app@{n} restored differently:\n{got}\n---- expected ----\n{state}");
        run(w.seed().args(["snapshot", "verify", &format!("app@{n}")]), 0);
    }
    // NAME alone is the latest version, everywhere.
    assert_eq!(restored_state(&w, &copies[4], "app", "latest"), states[4]);
    let out = run(w.seed().args(["snapshot", "verify", "app"]), 0);
    assert!(all_output(&out).contains("'app' (app@5, incremental on app@4)"), "{}", all_output(&out));
    run(w.seed().args(["snapshot", "verify", "app", "--against-db"]), 0);
    let out = run(w.seed().args(["snapshot", "verify", "app@1", "--against-db"]), 12);
    assert!(stdout(&out).contains("staffs: same row count"), "{}", stdout(&out));
    let out = run(w.seed().args(["snapshot", "diff", "app@1", "app@2"]), 12);
    let text = stdout(&out);
    let row = |t: &str| text.lines().find(|l| l.starts_with(t)).unwrap_or_else(|| panic!("{t}:\n{text}")).to_owned();
    assert_eq!(row("welfare_recipients ").split_whitespace().collect::<Vec<_>>()[1..3], ["5", "42"], "{text}");
    assert_eq!(row("staffs ").split_whitespace().nth(3), Some("30"), "{text}");
    run(w.seed().args(["snapshot", "diff", "app@2", "app@2"]), 0);

    // show: the version, its base and the chain.
    let out = run(w.seed().args(["snapshot", "show", "app@3"]), 0);
    let text = stdout(&out);
    assert!(text.contains("version       3"), "{text}");
    assert!(text.contains("base          app@2 (incremental: 4 tables unchanged"), "{text}");
    assert!(text.contains("chain         app@3 → app@2 → app@1 (every base there and unaltered)"), "{text}");

    // list: one line per name; list NAME: every version with its base.
    let doc = list_doc(&w, &[]);
    let items = doc["snapshots"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{doc}");
    assert_eq!(
        (items[0]["name"].as_str(), items[0]["latest"].as_u64(), items[0]["versions"].as_u64()),
        (Some("app"), Some(5), Some(5))
    );
    let out = run(w.seed().args(["snapshot", "list"]), 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    let cells: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(cells[..3], ["app", "5", "5"], "name, latest version, versions:\n{text}");
    let doc = list_doc(&w, &["app"]);
    let versions = doc["versions"].as_array().unwrap();
    let bases: Vec<Value> = versions.iter().map(|v| v["base"].clone()).collect();
    assert_eq!(bases, [Value::Null, "app@1".into(), "app@2".into(), Value::Null, "app@4".into()], "{doc}");
    assert_eq!(versions[0]["description"], "first");
    let out = run(w.seed().args(["snapshot", "list", "app"]), 0);
    let text = stdout(&out);
    assert!(text.starts_with("VERSION  CREATED (UTC)"), "{text}");
    let v2_line = text.lines().find(|l| l.starts_with("app@2 ")).unwrap();
    assert!(v2_line.ends_with("app@1 (2 unchanged, 2 changed, 1 full)"), "{text}");
    run(w.seed().args(["snapshot", "list", "nope"]), 6);
    run(w.seed().args(["snapshot", "restore", "app@9"]), 6);
    run(w.seed().args(["snapshot", "show", "app@0"]), 2);
}

// ---------------------------------------------------------------------------------
// 2. A base that is corrupt, replaced or gone: refused before anything is written
// ---------------------------------------------------------------------------------

/// r19.9: every message about a snapshot opened as `v@1` names `v@1`, never the bare
/// `v` (which is the latest version, `v@2` here); a bare `v` is named with the version
/// it resolved to; a restore of some tables counts those tables.
#[test]
fn messages_name_the_exact_version() {
    let (w, _) = sqlite_workdir();
    run(w.seed().args(["snapshot", "create", "v"]), 0);
    run(w.seed().args(["--no-progress", "bulk", "--count", "5"]), 0);
    run(w.seed().args(["snapshot", "create", "v", "--new-version"]), 0);
    let cases: [(&[&str], i32); 8] = [
        (&["snapshot", "verify", "v@1"], 0),
        (&["snapshot", "verify", "v@1", "--against-db"], 12),
        (&["snapshot", "restore", "v@1"], 5),
        (&["snapshot", "restore", "v@1", "--clean", "--dry-run"], 0),
        (&["snapshot", "restore", "v@1", "--clean", "--table", "notes"], 0),
        (&["snapshot", "show", "v@1"], 0),
        (&["snapshot", "profile", "v@1"], 0),
        (&["snapshot", "delete", "v@1", "--dry-run"], 13),
    ];
    for (args, code) in cases {
        let text = all_output(&run(w.seed().arg("--no-progress").args(args), code));
        let names_it = text.contains("v@1") || (args[1] == "show" && text.contains("version       1"));
        assert!(names_it, "seed {args:?} does not name v@1:\n{text}");
        assert!(!text.contains("'v'") && !text.contains("snapshot v "), "seed {args:?} names the bare v:\n{text}");
    }
    let text = all_output(&run(
        w.seed().args(["--no-progress", "snapshot", "restore", "v@1", "--clean", "--table", "notes"]),
        0,
    ));
    assert!(text.contains("restored snapshot 'v@1': 1 table, 3 rows"), "{text}");
    let text = all_output(&run(w.seed().args(["snapshot", "verify", "v"]), 0));
    assert!(text.contains("snapshot 'v' (v@2, incremental on v@1) is intact"), "{text}");
    let text = all_output(&run(w.seed().args(["snapshot", "verify", "v", "--against-db"]), 12));
    assert!(text.contains("differs from snapshot 'v' (v@2, incremental on v@1)"), "{text}");
}

#[test]
fn a_corrupt_replaced_or_deleted_base_fails_restore_and_verify_before_any_write() {
    let (w, db) = sqlite_workdir();
    run(w.seed().args(["--no-progress", "snapshot", "create", "app"]), 0);
    sqlite_exec(&db, "UPDATE staffs SET phone = '555' WHERE rowid % 5 = 0;");
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    let v1 = snap(&w, "app.seed.gz");
    let good = std::fs::read(&v1).unwrap();
    // The target: the database with different data, so a write would show.
    let target = w.path().join("target.db");
    std::fs::copy(&db, &target).unwrap();
    sqlite_exec(&target, "UPDATE offices SET city = 'Untouched' WHERE rowid = 1;");
    let before = sqlite_state(&target);
    let url = format!("sqlite://{}", target.display());
    let restore = |code: i32| {
        let out = run(
            w.seed().args(["--no-progress", "--database-url", &url, "snapshot", "restore", "app", "--clean"]),
            code,
        );
        if code != 0 {
            assert_eq!(sqlite_state(&target), before, "a refused restore changed the target");
        }
        all_output(&out)
    };

    // 1. A flipped byte inside the base's staffs table (read through app@2's delta).
    let h1 = header_of(&v1);
    let staffs = h1["tables"].as_array().unwrap().iter().find(|t| t["name"] == "staffs").unwrap();
    let at = usize::try_from(staffs["offset"].as_u64().unwrap() + staffs["length"].as_u64().unwrap() / 2).unwrap();
    let mut bad = good.clone();
    bad[at] ^= 0x55;
    std::fs::write(&v1, &bad).unwrap();
    let text = restore(7);
    assert!(text.contains("app.seed.gz is corrupt") && text.contains("staffs"), "{text}");
    let out = run(w.seed().args(["snapshot", "verify", "app"]), 7);
    assert!(all_output(&out).contains("app.seed.gz is corrupt"), "{}", all_output(&out));

    // 2. The base replaced by another app@1 (other rows, taken elsewhere): named as
    // altered. (A file of another name or version put there is corrupt: see trust.rs.)
    sqlite_exec(&db, "UPDATE offices SET name = 'other' WHERE rowid = 2;");
    run(w.seed().args(["--no-progress", "snapshot", "create", "other"]), 0);
    run(w.seed().args(["--no-progress", "--snapshot-dir", "elsewhere", "snapshot", "create", "app"]), 0);
    std::fs::copy(w.path().join("elsewhere/app.seed.gz"), &v1).unwrap();
    let text = restore(7);
    assert!(text.contains("snapshot 'app@1'") && text.contains("is not the base 'app@2' was taken against"), "{text}");
    for args in [
        &["snapshot", "verify", "app"][..],
        &["snapshot", "verify", "app", "--against-db"],
        &["snapshot", "diff", "other", "app"],
    ] {
        let out = run(w.seed().args(args), 7);
        assert!(all_output(&out).contains("is not the base"), "{args:?}: {}", all_output(&out));
    }

    // 3. The base gone.
    std::fs::remove_file(&v1).unwrap();
    let text = restore(6);
    assert!(text.contains("snapshot 'app@1', the base of 'app@2', is missing"), "{text}");
    assert!(text.contains("hint:"), "{text}");
    for args in [&["snapshot", "verify", "app"][..], &["snapshot", "verify", "app@2", "--against-db"]] {
        let out = run(w.seed().args(args), 6);
        assert!(all_output(&out).contains("is missing"), "{args:?}: {}", all_output(&out));
    }
    // show still shows it, and says the chain is broken; list NAME marks the base.
    let out = run(w.seed().args(["snapshot", "show", "app"]), 0);
    assert!(
        stdout(&out).contains("chain         BROKEN: snapshot 'app@1', the base of 'app@2', is missing"),
        "{}",
        stdout(&out)
    );
    let out = run(w.seed().args(["snapshot", "list", "app"]), 0);
    assert!(stdout(&out).contains("app@1 MISSING"), "{}", stdout(&out));

    // Put back, all is well again.
    std::fs::write(&v1, &good).unwrap();
    restore(0);
    run(w.seed().args(["--database-url", &url, "snapshot", "verify", "app", "--against-db"]), 0);
}

// ---------------------------------------------------------------------------------
// 3. Bases with dependents: delete, prune and --force refuse or fold them in
// ---------------------------------------------------------------------------------

#[test]
fn bases_with_dependents_are_refused_or_folded_into_them() {
    let (w, db) = sqlite_workdir();
    let mut copies = Vec::new();
    let mut states = Vec::new();
    for v in 1..=4 {
        if v > 1 {
            sqlite_exec(&db, &format!("UPDATE staffs SET name = 'v{v} ' || name WHERE rowid % 9 = {v};"));
        }
        let mut args = vec!["--no-progress", "snapshot", "create", "app"];
        if v > 1 {
            args.push("--new-version");
        }
        run(w.seed().args(&args), 0);
        let copy = w.path().join(format!("db-{v}.db"));
        std::fs::copy(&db, &copy).unwrap();
        copies.push(copy);
        states.push(sqlite_state(&db));
    }
    let dir = w.path().join("snapshots");

    // delete of a base: refused with exit 13, naming its dependent; nothing changes.
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "delete", "app@2"]), 13);
    let text = all_output(&out);
    assert!(text.contains("cannot delete 'app@2': 1 snapshot is based on it: app@3"), "{text}");
    assert!(text.contains("--rebase-dependents"), "{text}");
    assert_eq!(dir_state(&dir), before);
    // --force replaces the latest version only, and not while it is a base.
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--force", "--base", "app@3"]), 0);
    let text = all_output(&out);
    assert!(text.contains("snapshot 'app@4' created") && text.contains("incremental to app@3"), "{text}");
    let out = run(w.seed().args(["snapshot", "create", "app", "--force", "--base", "app@4"]), 2);
    assert!(all_output(&out).contains("app@4 cannot be built on itself"), "{}", all_output(&out));
    run(w.seed().args(["--no-progress", "snapshot", "create", "other", "--base", "app"]), 0);
    let before = dir_state(&dir);
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--force"]), 13);
    assert!(
        all_output(&out).contains("cannot replace 'app@4': 1 snapshot is based on it: other@1"),
        "{}",
        all_output(&out)
    );
    assert_eq!(dir_state(&dir), before);
    run(w.seed().args(["snapshot", "delete", "other"]), 0);
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "create", "app@7"]), 2);
    assert!(all_output(&out).contains("create takes a snapshot name, not a version"), "{}", all_output(&out));
    run(w.seed().args(["snapshot", "create", "app"]), 6);

    // --dry-run says what a fold would do and changes nothing.
    let out = run(w.seed().args(["snapshot", "delete", "app@2", "--rebase-dependents", "--dry-run"]), 0);
    let text = stdout(&out);
    assert!(text.contains("would rebase app@3 (built on app@2)") && text.contains("would delete app@2"), "{text}");
    assert_eq!(dir_state(&dir), before);
    // Folded: app@3 is rewritten onto app@1 and app@2 goes; app@4 (on app@3) is untouched.
    let app4 = std::fs::read(snap(&w, "app@4.seed.gz")).unwrap();
    let out = run(w.seed().args(["--no-progress", "snapshot", "delete", "app@2", "--rebase-dependents"]), 0);
    assert!(all_output(&out).contains("rebased app@3 off app@2: now built on app@1"), "{}", all_output(&out));
    assert!(!snap(&w, "app@2.seed.gz").exists());
    assert_eq!(header_of(&snap(&w, "app@3.seed.gz"))["base"]["version"], 1);
    assert_eq!(
        std::fs::read(snap(&w, "app@4.seed.gz")).unwrap(),
        app4,
        "a dependent of the rebased one stays as it was"
    );
    for v in [1, 3, 4] {
        let got = restored_state(&w, &copies[v - 1], &format!("app@{v}"), &format!("d{v}"));
        assert!(got == states[v - 1], "app@{v} after the fold");
    }
    assert!(!std::fs::read_dir(&dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with(".tmp-")));

    // prune --keep-versions 1: app@1 and app@3 are bases of what stays: refused...
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "prune", "--keep-versions", "1"]), 13);
    assert!(
        all_output(&out).contains("cannot prune 'app@3': 1 snapshot is based on it: app@4"),
        "{}",
        all_output(&out)
    );
    assert_eq!(dir_state(&dir), before);
    let out = run(w.seed().args(["snapshot", "prune", "--keep-versions", "1", "--rebase-dependents", "--dry-run"]), 0);
    let text = stdout(&out);
    assert!(text.contains("would rebase app@4 (built on app@3)") && text.contains("would remove app@1"), "{text}");
    assert_eq!(dir_state(&dir), before);
    // ...or folded: app@4 becomes a full snapshot, restored exactly.
    let out = run(w.seed().args(["snapshot", "prune", "--keep-versions", "1", "--rebase-dependents"]), 0);
    let text = stdout(&out);
    assert!(text.contains("rebased app@4 off app@3: now a full snapshot"), "{text}");
    assert!(text.contains("removed app@3") && text.contains("removed app@1"), "{text}");
    assert!(text.find("removed app@3").unwrap() < text.find("removed app@1").unwrap(), "dependents go first:\n{text}");
    assert!(header_of(&snap(&w, "app@4.seed.gz"))["base"].is_null());
    assert!(restored_state(&w, &copies[3], "app", "pruned") == states[3]);

    // delete NAME: every version, counted; --dry-run first.
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "delete", "app", "--dry-run"]), 0);
    assert!(stdout(&out).contains("would delete 3 versions of snapshot 'app'"), "{}", stdout(&out));
    assert_eq!(dir_state(&dir), before);
    let out = run(w.seed().args(["snapshot", "delete", "app"]), 0);
    assert!(
        all_output(&out).contains("deleted 3 versions of snapshot 'app': app@4, app@5, app@6"),
        "{}",
        all_output(&out)
    );
    run(w.seed().args(["snapshot", "delete", "app"]), 6);
    // The numbers start again from 1 once a name has no version left.
    run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    assert!(snap(&w, "app.seed.gz").exists());
}

#[test]
fn a_base_under_another_name_is_protected_too() {
    let (w, db) = sqlite_workdir();
    run(w.seed().args(["--no-progress", "snapshot", "create", "base"]), 0);
    sqlite_exec(&db, "UPDATE offices SET city = 'Nowhere' WHERE rowid = 1;");
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "nightly", "--base", "base"]), 0);
    assert!(all_output(&out).contains("incremental to base@1"), "{}", all_output(&out));
    let out = run(w.seed().args(["snapshot", "delete", "base"]), 13);
    assert!(all_output(&out).contains("nightly@1"), "{}", all_output(&out));
    run(w.seed().args(["snapshot", "prune", "--keep-last", "1"]), 13);
    let expected = sqlite_state(&db);
    run(w.seed().args(["--no-progress", "snapshot", "delete", "base", "--rebase-dependents"]), 0);
    assert!(header_of(&snap(&w, "nightly.seed.gz"))["base"].is_null());
    assert_eq!(restored_state(&w, &db, "nightly", "n"), expected);
    let out = run(w.seed().args(["snapshot", "create", "x", "--base", "nope"]), 6);
    assert!(all_output(&out).contains("no snapshot named 'nope'"), "{}", all_output(&out));
    run(w.seed().args(["snapshot", "create", "x", "--base", "nightly", "--new-version", "--full"]), 2);
}

// ---------------------------------------------------------------------------------
// 4. Concurrent creators of one name
// ---------------------------------------------------------------------------------

fn versions_on_disk(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name == "app.seed.gz" {
                return Some(1);
            }
            name.strip_prefix("app@")?.strip_suffix(".seed.gz")?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn concurrent_new_versions_of_one_name_never_share_a_number() {
    let (w, _db) = sqlite_workdir();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["--no-progress", "snapshot", "create", "app"]), 0);
    // Another creator holds the name's number: refused at once with exit 8...
    let held = hold_lock(&dir, "app@next");
    let started = std::time::Instant::now();
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 8);
    assert!(started.elapsed() < Duration::from_secs(5), "did not fail at once");
    assert!(all_output(&out).contains("is locked by pid 1 (the test)"), "{}", all_output(&out));
    // ...or, with --wait, waits and then takes the next number.
    let mut waiting =
        Running::spawn(seed_cmd(&w, &["-v", "--no-progress", "snapshot", "create", "app", "--new-version", "--wait"]));
    waiting.wait_for_lock();
    assert!(waiting.is_running(), "did not wait: {}", waiting.stderr());
    // Readers of existing versions are not held up by a creator.
    run(w.seed().args(["snapshot", "verify", "app"]), 0);
    drop(held);
    let (status, _, stderr) = waiting.finish(Duration::from_secs(60));
    assert!(status.success(), "{stderr}");
    assert_eq!(versions_on_disk(&dir), [1, 2]);

    // Four at once, all waiting: four distinct numbers.
    let mut all: Vec<Running> = (0..4)
        .map(|_| {
            Running::spawn(seed_cmd(&w, &["--no-progress", "snapshot", "create", "app", "--new-version", "--wait"]))
        })
        .collect();
    for r in &mut all {
        let (status, _, stderr) = r.finish(Duration::from_secs(120));
        assert!(status.success(), "{stderr}");
    }
    assert_eq!(versions_on_disk(&dir), [1, 2, 3, 4, 5, 6]);
    // Three at once without --wait: each either gets a number or exits 8 at once.
    let mut all: Vec<Running> = (0..3)
        .map(|_| Running::spawn(seed_cmd(&w, &["--no-progress", "snapshot", "create", "app", "--new-version"])))
        .collect();
    let mut won = 0;
    for r in &mut all {
        let (status, _, stderr) = r.finish(Duration::from_secs(120));
        match status.code() {
            Some(0) => won += 1,
            Some(8) => assert!(stderr.contains("is locked"), "{stderr}"),
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    assert!(won >= 1);
    let on_disk = versions_on_disk(&dir);
    assert_eq!(on_disk, (1..=6 + won).collect::<Vec<u64>>(), "one file per number, no gaps");
    for v in 2..=6 + won {
        assert_eq!(header_of(&snap(&w, &format!("app@{v}.seed.gz")))["version"], v);
    }
}

// ---------------------------------------------------------------------------------
// 5. SIGKILL during an incremental create (PostgreSQL)
// ---------------------------------------------------------------------------------

#[test]
fn an_incremental_create_killed_with_sigkill_leaves_no_partial_version() {
    let db = clone_db(&big_demo().template, "ver_sigkill");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    let url = db.url();
    run(w.seed().args(["--no-progress", "--database-url", &url, "snapshot", "create", "app"]), 0);
    db.load_sql("UPDATE welfare_recipients SET care_level = 6 - care_level WHERE random() < 0.01");
    let before = dir_state(&dir);
    let args = ["--log-format", "json", "--database-url", &url, "snapshot", "create", "app", "--new-version"];
    let mut running = Running::spawn(seed_cmd(&w, &args));
    running.wait_line(Duration::from_secs(120), "the first table's progress event", table_finished);
    running.signal(libc::SIGKILL);
    let (status, _, stderr) = running.finish(Duration::from_secs(30));
    assert!(!stderr.contains("snapshot_created"), "finished before the signal arrived:\n{stderr}");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL), "{stderr}");
    assert_eq!(dir_state(&dir), before, "no partial version, no temp file");
    let doc = list_doc(&w, &["app"]);
    assert_eq!(doc["versions"].as_array().unwrap().len(), 1, "{doc}");
    // The number is free at once; the next create takes it and is exact.
    let out =
        run(w.seed().args(["--no-progress", "--database-url", &url, "snapshot", "create", "app", "--new-version"]), 0);
    assert!(all_output(&out).contains("snapshot 'app@2' created"), "{}", all_output(&out));
    assert_eq!(storage(&snap(&w, "app@2.seed.gz"), "welfare_recipients"), "delta");
    run(w.seed().args(["--database-url", &url, "snapshot", "verify", "app", "--against-db"]), 0);
    run(w.seed().args(["snapshot", "verify", "app"]), 0);
}

// ---------------------------------------------------------------------------------
// 5b. A big table read in page ranges on several connections (PostgreSQL)
// ---------------------------------------------------------------------------------

#[test]
fn a_big_table_read_in_page_ranges_on_several_connections_gives_an_exact_delta() {
    let src = clone_db(&big_demo().template, "ver_ranges");
    let w = Workdir::new();
    let url = src.url();
    run(w.seed().args(["--no-progress", "--database-url", &url, "snapshot", "create", "app"]), 0);
    // Changed rows spread over every page range, rows removed, rows added (at the end).
    src.load_sql(
        "UPDATE welfare_recipients SET care_level = 6 - care_level WHERE abs(hashtext(id::text)) % 50 = 0;
         DELETE FROM welfare_recipients WHERE abs(hashtext(id::text)) % 97 = 1;
         INSERT INTO welfare_recipients (office_id, name, birth_date, care_level, notes)
           SELECT office_id, name || ' twin', birth_date, care_level, notes FROM welfare_recipients LIMIT 300",
    );
    for jobs in ["3", "1"] {
        let name = format!("j{jobs}");
        let base = ["--base", "app"];
        let mut args =
            vec!["--no-progress", "--database-url", url.as_str(), "snapshot", "create", name.as_str(), "-j", jobs];
        args.extend_from_slice(&base);
        let out = run(w.seed().args(&args), 0);
        assert!(all_output(&out).contains("1 stored as changes"), "{}", all_output(&out));
        let h = header_of(&snap(&w, &format!("{name}.seed.gz")));
        let t = h["tables"].as_array().unwrap().iter().find(|t| t["name"] == "welfare_recipients").unwrap();
        assert_eq!(t["storage"], "delta", "{t}");
        assert!(t["delta"]["upserts"]["rows"].as_u64().unwrap() > 300, "{t}");
        run(w.seed().args(["--database-url", &url, "snapshot", "verify", &name, "--against-db"]), 0);
        let target = TestDb::with_demo_schema(&format!("ver_ranges_{jobs}"));
        run(w.seed().args(["--no-progress", "--database-url", &target.url(), "snapshot", "restore", &name]), 0);
        assert!(target.dump_data() == src.dump_data(), "-j {jobs}: the restore differs from the source");
    }
    // Both reads found the same delta: the same bytes but for the header.
    let part = |n: &str| {
        let h = header_of(&snap(&w, &format!("{n}.seed.gz")));
        let t = h["tables"].as_array().unwrap().iter().find(|t| t["name"] == "welfare_recipients").unwrap().clone();
        (
            t["rows"].clone(),
            t["checksum"].clone(),
            t["delta"]["upserts"]["checksum"].clone(),
            t["delta"]["deletes"]["checksum"].clone(),
        )
    };
    assert_eq!(part("j3"), part("j1"));
}

// ---------------------------------------------------------------------------------
// 6. Pagila: a chain of versions with changes between them, each restored exactly
// ---------------------------------------------------------------------------------

const NO_KEY_TABLE: &str = "CREATE TABLE public.visit_log (film_id int, note text)";

#[test]
fn pagila_version_chain_restores_every_version_exactly() {
    let src = clone_db(pagila_template(), "ver_pagila");
    src.load_sql(&format!("{NO_KEY_TABLE}; INSERT INTO visit_log SELECT film_id, title FROM film WHERE film_id < 50"));
    let w = Workdir::new();
    let url = src.url();
    let create = |extra: &[&str]| {
        let mut args = vec!["--no-progress", "--database-url", url.as_str(), "snapshot", "create", "pagila"];
        args.extend_from_slice(extra);
        run(w.seed().args(&args), 0)
    };
    let mut dumps = vec![];
    create(&[]);
    dumps.push(src.pg_dump_data());
    let changes = [
        // rows changed, added and removed; the key-less table grows
        "UPDATE actor SET last_name = 'CHANGED' WHERE actor_id % 20 = 0;
         INSERT INTO category (name) VALUES ('Versions'), ('Incremental');
         DELETE FROM payment WHERE payment_id % 50 = 0;
         INSERT INTO visit_log VALUES (1, 'again')",
        // a composite key, a partitioned table's rows moved between partitions
        "DELETE FROM film_actor WHERE film_id = 1;
         INSERT INTO film_actor (actor_id, film_id) VALUES (1, 1), (2, 1);
         UPDATE payment SET amount = amount + 1 WHERE payment_id % 97 = 0;
         UPDATE rental SET return_date = NULL WHERE rental_id % 31 = 0",
        // no row changed, but two tables rewritten in another order
        "CLUSTER film USING film_pkey; CLUSTER actor USING actor_pkey",
    ];
    for change in changes {
        src.load_sql(change);
        let out = create(&["--new-version"]);
        assert!(all_output(&out).contains("incremental to pagila@"), "{}", all_output(&out));
        dumps.push(src.pg_dump_data());
    }
    let dir = w.path().join("snapshots");
    let v2 = header_of(&dir.join("pagila@2.seed.gz"));
    let stored = |h: &Value, t: &str| {
        h["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == t)
            .map(|e| e["storage"].as_str().unwrap().to_owned())
    };
    assert_eq!(stored(&v2, "actor").as_deref(), Some("delta"));
    assert_eq!(stored(&v2, "payment").as_deref(), Some("delta"));
    assert_eq!(stored(&v2, "visit_log").as_deref(), Some("full"));
    assert_eq!(stored(&v2, "film").as_deref(), Some("base"));
    let v4 = header_of(&dir.join("pagila@4.seed.gz"));
    assert!(v4["tables"].as_array().unwrap().iter().all(|t| t["storage"] == "base"), "no row changed: all references");
    assert!(std::fs::metadata(dir.join("pagila@4.seed.gz")).unwrap().len() < 100_000);

    for (n, expected) in dumps.iter().enumerate() {
        let n = n + 1;
        let target = clone_db(pagila_schema_template(), &format!("ver_pagila_r{n}"));
        target.load_sql(NO_KEY_TABLE);
        let reference = format!("pagila@{n}");
        run(w.seed().args(["--no-progress", "--database-url", &target.url(), "snapshot", "restore", &reference]), 0);
        let got = target.pg_dump_data();
        if &got != expected {
            let i = (0..got.len().min(expected.len())).find(|&i| got[i] != expected[i]).unwrap_or(0);
            panic!(
                "{reference}: restored data differs from the source at that version (line {i}): {:?} vs {:?}",
                got.get(i),
                expected.get(i)
            );
        }
        run(w.seed().args(["--database-url", &target.url(), "snapshot", "verify", &reference, "--against-db"]), 0);
    }
}
