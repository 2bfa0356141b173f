//! `seed prepare NAME [bulk options]`, the CI setup step, run as the GitHub
//! Actions job of docs/prepare.md runs it: a migrated database, one shared snapshot directory, `prepare`,
//! then the tests. First run seeds and saves, later runs restore (identical data by
//! `pg_dump --data-only`); anything in the key changing is a miss; an unusable snapshot
//! is a miss; concurrent runners neither fail nor corrupt; failures change nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{TestDb, Workdir, all_output, server};
use crate::common::{run, sqlite3};
use crate::header::{edit_header, replace_once, sqlite_contents};
use crate::snapshot::{DirState, Running, assert_dir_unchanged, dir_state, seed_cmd, stdout, wait_until};

/// seed's advisory lock key (src/db/postgres/lock.rs): holding it stalls a builder.
const ADVISORY_LOCK_KEY: i64 = 0x5EED_0001_5EED_0001;

fn assert_same_data(a: &[String], b: &[String], context: &str) {
    if a != b {
        let i = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).unwrap_or(0);
        panic!("{context}: the data differs at line {i}:\n  left:  {:?}\n  right: {:?}", a.get(i), b.get(i));
    }
}

/// The snapshot directory shared by the runners of a test (a bucket or the Actions
/// cache in CI).
struct Shared {
    w: Workdir,
}

impl Shared {
    fn new() -> Self {
        Self { w: Workdir::new() }
    }

    fn dir(&self) -> PathBuf {
        self.w.path().join("shared-snapshots")
    }

    /// `seed prepare baseline ARGS` against `url`, JSON on stdout.
    fn prepare_cmd(&self, url: &str, args: &[&str]) -> Vec<String> {
        let dir = self.dir();
        let mut full: Vec<String> = ["--no-progress", "--database-url", url, "--snapshot-dir", dir.to_str().unwrap()]
            .map(str::to_owned)
            .to_vec();
        full.extend(["prepare", "baseline", "--json"].map(str::to_owned));
        full.extend(args.iter().map(|a| (*a).to_owned()));
        full
    }

    /// Runs `seed prepare baseline ARGS` and returns its JSON document and stderr.
    fn prepare(&self, url: &str, args: &[&str]) -> (Value, String) {
        let out = run(self.w.seed().args(self.prepare_cmd(url, args)), 0);
        let doc: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}):\n{}", all_output(&out)));
        (doc, String::from_utf8_lossy(&out.stderr).into_owned())
    }

    /// Snapshot files in the shared directory.
    fn snapshots(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir())
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".seed.gz"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn path_of(&self, doc: &Value) -> PathBuf {
        self.dir().join(format!("{}.seed.gz", doc["snapshot"].as_str().unwrap()))
    }
}

/// The summary line of a run's stderr: the one starting `restored` or `seeded`.
fn summary(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("restored") || l.starts_with("seeded"))
        .unwrap_or_else(|| panic!("no summary line:\n{stderr}"))
}

fn assert_action(doc: &Value, stderr: &str, action: &str) {
    assert_eq!((doc["json_version"].as_u64(), doc["command"].as_str()), (Some(1), Some("prepare")), "{doc}");
    assert_eq!(doc["action"], action, "{doc}\n{stderr}");
    assert!(summary(stderr).starts_with(action), "{stderr}");
}

// ---------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------

#[test]
fn prepare_seeds_first_then_restores_the_same_data_on_every_runner() {
    let shared = Shared::new();
    let a = TestDb::with_demo_schema("prep_first");
    let (doc, err) = shared.prepare(&a.url(), &["--count", "150"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!(doc["saved"], true, "{doc}");
    assert_eq!(doc["miss"], "absent", "{doc}");
    assert_eq!(doc["rows"], 600, "{doc}");
    let name = doc["snapshot"].as_str().unwrap().to_owned();
    let key = doc["key"].as_str().unwrap();
    assert_eq!(name, format!("baseline.{}", &key[..12]), "{doc}");
    assert!(summary(&err).contains(&format!("saved as snapshot {name}")), "{err}");
    assert_eq!(shared.snapshots(), [format!("{name}.seed.gz")]);
    let seeded = a.pg_dump_data();
    assert!(seeded.len() > 600, "{} lines", seeded.len());

    // The tests then change the data; the next prepare puts it back.
    a.load_sql("DELETE FROM office_staffs; DELETE FROM welfare_recipients WHERE care_level > 2");
    let (doc, err) = shared.prepare(&a.url(), &["--count", "150"]);
    assert_action(&doc, &err, "restored");
    assert_eq!((doc["snapshot"].as_str(), doc["rows"].as_u64()), (Some(name.as_str()), Some(600)), "{doc}");
    assert!(summary(&err).starts_with(&format!("restored baseline from snapshot {name}")), "{err}");
    assert_same_data(&seeded, &a.pg_dump_data(), "restored on the same database");

    // Another runner: a fresh database migrated the same way.
    let b = TestDb::with_demo_schema("prep_other");
    let (doc, err) = shared.prepare(&b.url(), &["--count", "150"]);
    assert_action(&doc, &err, "restored");
    assert_same_data(&seeded, &b.pg_dump_data(), "restored on another database");
    // The snapshot is an ordinary one: listed, verified, described.
    let list = stdout(&run(
        shared.w.seed().args(["--snapshot-dir", shared.dir().to_str().unwrap(), "snapshot", "list", "--json"]),
        0,
    ));
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["snapshots"][0]["name"], name.as_str(), "{list}");
    run(
        shared.w.seed().args([
            "--database-url",
            &b.url(),
            "--snapshot-dir",
            shared.dir().to_str().unwrap(),
            "snapshot",
            "verify",
            &name,
            "--against-db",
        ]),
        0,
    );
    // --batch-size is not part of the key: it never changes the data (checked below).
    let (doc, err) = shared.prepare(&b.url(), &["--count", "150", "--batch-size", "7"]);
    assert_action(&doc, &err, "restored");
    assert_eq!(shared.snapshots().len(), 1);
}

/// The `seed prepare` line of the GitHub Actions job in docs/prepare.md, split into arguments.
fn readme_ci_prepare_line() -> Vec<String> {
    let page = std::fs::read_to_string(crate::common::repo_path("docs/prepare.md")).unwrap();
    let section = page.split("## In GitHub Actions").nth(1).expect("docs/prepare.md has the CI recipe");
    let yaml = section.split("```yaml").nth(1).and_then(|b| b.split("```").next()).expect("a yaml block");
    assert!(yaml.contains("SEED_SNAPSHOT_DIR") && yaml.contains("DATABASE_URL"), "{yaml}");
    let line =
        yaml.lines().find_map(|l| l.trim().strip_prefix("run: seed prepare")).expect("a `run: seed prepare` step");
    let mut args = vec!["prepare".to_owned()];
    args.extend(line.split('#').next().unwrap().split_whitespace().map(str::to_owned));
    args
}

#[test]
fn prepare_readme_ci_job_runs_as_written() {
    let args = readme_ci_prepare_line();
    assert!(args.len() >= 3, "{args:?}");
    let shared = Shared::new();
    // The job's working tree: the factories file where the job names it.
    std::fs::create_dir_all(shared.w.path().join("fixtures")).unwrap();
    std::fs::copy(crate::common::repo_path("fixtures/factories.toml"), shared.w.path().join("fixtures/factories.toml"))
        .unwrap();
    let job = |db: &TestDb| {
        // The service container, migrated: a fresh database per run, as in CI.
        let out = run(
            shared
                .w
                .seed()
                .env("DATABASE_URL", db.url())
                .env("SEED_SNAPSHOT_DIR", shared.dir())
                .env("SEED_NO_PROGRESS", "1")
                .args(&args),
            0,
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = TestDb::with_demo_schema("prep_ci_1");
    let err = job(&first);
    assert!(summary(&err).starts_with("seeded baseline") && summary(&err).contains("saved as snapshot"), "{err}");
    let second = TestDb::with_demo_schema("prep_ci_2");
    let err = job(&second);
    assert!(summary(&err).starts_with("restored baseline from snapshot baseline."), "{err}");
    assert_same_data(&first.pg_dump_data(), &second.pg_dump_data(), "the second CI run");
    assert_eq!(second.count("staffs"), 200, "the factories file's count");
}

#[test]
fn prepare_batch_size_does_not_change_the_seeded_data() {
    // Why --batch-size is left out of the key: two seeding runs, batches of 7 and the
    // default, give the same data.
    let (one, two) = (Shared::new(), Shared::new());
    let a = TestDb::with_demo_schema("prep_batch_a");
    let b = TestDb::with_demo_schema("prep_batch_b");
    let (doc_a, err) = one.prepare(&a.url(), &["--count", "60", "--batch-size", "7"]);
    assert_action(&doc_a, &err, "seeded");
    let (doc_b, err) = two.prepare(&b.url(), &["--count", "60"]);
    assert_action(&doc_b, &err, "seeded");
    assert_eq!(doc_a["key"], doc_b["key"]);
    assert_same_data(&a.pg_dump_data(), &b.pg_dump_data(), "batches of 7 vs the default");
}

#[test]
fn prepare_misses_when_counts_factories_or_migrations_change_and_keeps_every_key() {
    let shared = Shared::new();
    let db = TestDb::with_demo_schema("prep_keys");
    db.load_sql("CREATE TABLE schema_migrations (version varchar PRIMARY KEY); INSERT INTO schema_migrations VALUES ('20260101000000')");
    let factories = shared.w.path().join("factories.toml");
    std::fs::write(&factories, "[tables.offices]\ncolumns.city = { one_of = [\"Leeds\", \"York\"] }\n").unwrap();
    let f = factories.to_str().unwrap();
    let base = ["--count", "40", "--factories", f];

    let (first, err) = shared.prepare(&db.url(), &base);
    assert_action(&first, &err, "seeded");
    let first_data = db.pg_dump_data();
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "restored");

    // A count: another key, another snapshot; the first one stays.
    let (doc, err) = shared.prepare(&db.url(), &["--count", "41", "--factories", f]);
    assert_action(&doc, &err, "seeded");
    assert_ne!(doc["snapshot"], first["snapshot"]);
    assert_eq!(db.count("staffs"), 41, "prepare empties the tables it fills");
    // --table and --seed too.
    let (doc, err) = shared.prepare(&db.url(), &["--count", "40", "--factories", f, "--table", "staffs=45"]);
    assert_action(&doc, &err, "seeded");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "40", "--factories", f, "--seed", "7"]);
    assert_action(&doc, &err, "seeded");
    // The factories file's content, at the same path.
    std::fs::write(&factories, "[tables.offices]\ncolumns.city = { one_of = [\"Leeds\", \"Hull\"] }\n").unwrap();
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "seeded");
    assert_eq!(shared.snapshots().len(), 5, "{:?}", shared.snapshots());
    // Back to the first options: the first snapshot is still there.
    std::fs::write(&factories, "[tables.offices]\ncolumns.city = { one_of = [\"Leeds\", \"York\"] }\n").unwrap();
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "restored");
    assert_eq!(doc["snapshot"], first["snapshot"]);
    assert_same_data(&first_data, &db.pg_dump_data(), "back to the first key");

    // A migration that only records a version: another key.
    db.load_sql("INSERT INTO schema_migrations VALUES ('20260102000000')");
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "seeded");
    let versioned = doc["snapshot"].clone();
    // A migration that changes a table: another key again.
    db.load_sql("ALTER TABLE staffs ADD COLUMN nickname text");
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "seeded");
    assert_ne!(doc["snapshot"], versioned);
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "restored");
    // A check constraint (same tables, columns and types): another key.
    db.load_sql("ALTER TABLE welfare_recipients ADD CONSTRAINT care_low CHECK (care_level <= 4) NOT VALID");
    let (doc, err) = shared.prepare(&db.url(), &base);
    assert_action(&doc, &err, "seeded");
    assert_eq!(shared.snapshots().len(), 8, "{:?}", shared.snapshots());
}

#[test]
fn prepare_treats_an_unreadable_or_corrupt_snapshot_as_a_miss_and_replaces_it() {
    let shared = Shared::new();
    let db = TestDb::with_demo_schema("prep_unreadable");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "seeded");
    let seeded = db.pg_dump_data();
    let path = shared.path_of(&doc);

    // Written by a newer seed (a format this one cannot read).
    edit_header(&path, false, |h| replace_once(h, "\"format_version\":2", "\"format_version\":9"));
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!((doc["miss"].as_str(), doc["saved"].as_bool()), (Some("unreadable"), Some(true)), "{doc}");
    assert!(summary(&err).contains("was unusable") && summary(&err).contains("newer seed"), "{err}");
    assert_same_data(&seeded, &db.pg_dump_data(), "seeded again");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "restored");

    // Not a snapshot at all.
    std::fs::write(&path, b"not a snapshot").unwrap();
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!(doc["miss"], "unreadable", "{doc}");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "restored");

    // A sound header over damaged data: found while restoring (rolled back), then
    // seeded and replaced.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    db.load_sql("DELETE FROM office_staffs");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "seeded");
    assert!(err.contains("is corrupt") && err.contains("rolled back"), "{err}");
    assert_eq!(doc["saved"], true, "{doc}");
    assert_same_data(&seeded, &db.pg_dump_data(), "seeded after a corrupt restore");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30"]);
    assert_action(&doc, &err, "restored");
    assert_eq!(shared.snapshots().len(), 1);
}

#[test]
fn prepare_leaves_a_snapshot_it_did_not_save_alone() {
    let shared = Shared::new();
    let db = TestDb::with_demo_schema("prep_foreign");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "10"]);
    assert_action(&doc, &err, "seeded");
    let name = doc["snapshot"].as_str().unwrap().to_owned();
    // Someone takes a snapshot of other data under that very name.
    db.load_sql("DELETE FROM office_staffs");
    let dir = shared.dir();
    run(
        shared.w.seed().args([
            "--database-url",
            &db.url(),
            "--snapshot-dir",
            dir.to_str().unwrap(),
            "snapshot",
            "create",
            &name,
            "--force",
        ]),
        0,
    );
    let before = dir_state(&dir);
    let (doc, err) = shared.prepare(&db.url(), &["--count", "10"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!((doc["miss"].as_str(), doc["saved"].as_bool()), (Some("not_saved_by_prepare"), Some(false)), "{doc}");
    assert!(summary(&err).contains("was not saved by `seed prepare`"), "{err}");
    assert_eq!(db.count("office_staffs"), 10);
    assert_dir_unchanged(&dir, &before, "a foreign snapshot under the name");
}

/// A session holding seed's advisory lock on `db` until dropped: a prepare building
/// there (with --wait) stalls in its bulk load, its snapshot lock held.
struct AdvisoryHold {
    child: Child,
}

impl AdvisoryHold {
    fn new(db: &TestDb) -> Self {
        let mut child = server().psql_cmd(&db.name).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        writeln!(child.stdin.as_mut().unwrap(), "SELECT pg_advisory_lock({ADVISORY_LOCK_KEY});").unwrap();
        let sql = format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = '{}')",
            db.name
        );
        wait_until(Duration::from_secs(10), "the advisory lock", || {
            (server().psql("postgres", &sql) == "1").then_some(())
        });
        Self { child }
    }

    fn release(mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

/// Waits until a lock file in `dir/.locks` names a `seed prepare` holder.
fn wait_for_builder(dir: &Path) -> String {
    wait_until(Duration::from_secs(30), "a prepare holding the snapshot's lock", || {
        std::fs::read_dir(dir.join(".locks")).ok()?.filter_map(Result::ok).find_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            text.contains("seed prepare").then_some(text)
        })
    })
}

#[test]
fn prepare_concurrent_runners_one_builds_the_other_seeds_or_waits() {
    let shared = Shared::new();
    let dir = shared.dir();
    let (a, b) = (TestDb::with_demo_schema("prep_conc_a"), TestDb::with_demo_schema("prep_conc_b"));

    // Runner A builds, stalled (by the advisory lock) while it holds the snapshot lock.
    let hold = AdvisoryHold::new(&a);
    let mut builder =
        Running::spawn(seed_cmd(&shared.w, &to_refs(&shared.prepare_cmd(&a.url(), &["--count", "50", "--wait"]))));
    let holder = wait_for_builder(&dir);
    assert!(holder.contains(&format!("pid {}", builder.pid())), "{holder}");

    // Runner B without --wait: seeds on its own, does not save, does not fail.
    let (doc, err) = shared.prepare(&b.url(), &["--count", "50"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!(doc["saved"], false, "{doc}");
    assert!(summary(&err).contains("is saving snapshot") && summary(&err).contains("--wait"), "{err}");
    assert!(builder.is_running());
    assert!(shared.snapshots().is_empty(), "{:?}", shared.snapshots());
    let b_seeded = b.pg_dump_data();

    // Runner B again with --wait: waits for A, then restores what A saved.
    b.load_sql("DELETE FROM office_staffs");
    let mut waiter =
        Running::spawn(seed_cmd(&shared.w, &to_refs(&shared.prepare_cmd(&b.url(), &["--count", "50", "--wait"]))));
    waiter.wait_line(Duration::from_secs(30), "the waiting message", |l| l.starts_with("waiting for pid"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(waiter.is_running() && builder.is_running());
    hold.release();

    let (status, out, err) = builder.finish(Duration::from_secs(60));
    assert!(status.success(), "builder: {err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_action(&doc, &err, "seeded");
    assert_eq!(doc["saved"], true, "{doc}");
    let (status, out, err) = waiter.finish(Duration::from_secs(60));
    assert!(status.success(), "waiter: {err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_action(&doc, &err, "restored");

    // Same data everywhere; one snapshot, sound.
    let a_data = a.pg_dump_data();
    assert_same_data(&a_data, &b.pg_dump_data(), "builder vs waiter");
    assert_same_data(&a_data, &b_seeded, "builder vs the runner that did not wait");
    assert_eq!(shared.snapshots().len(), 1);
    let name = doc["snapshot"].as_str().unwrap();
    run(shared.w.seed().args(["--snapshot-dir", dir.to_str().unwrap(), "snapshot", "verify", name]), 0);
}

#[test]
fn prepare_interrupted_while_building_saves_nothing_and_releases_the_lock() {
    let shared = Shared::new();
    let dir = shared.dir();
    let db = TestDb::with_demo_schema("prep_sigint");
    shared.prepare(&db.url(), &["--count", "5"]);
    let (before, files) = (db.pg_dump_data(), dir_state(&dir));
    let hold = AdvisoryHold::new(&db);
    let args = shared.prepare_cmd(&db.url(), &["--count", "30", "--wait"]);
    let mut builder = Running::spawn(seed_cmd(&shared.w, &to_refs(&args)));
    wait_for_builder(&dir);
    builder.signal(libc::SIGINT);
    let (status, out, err) = builder.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(out.is_empty(), "{out}");
    hold.release();
    assert_dir_unchanged(&dir, &files, "an interrupted prepare");
    assert_same_data(&before, &db.pg_dump_data(), "an interrupted prepare");
    // The lock went with the process: the next run builds and saves.
    let (doc, err) = shared.prepare(&db.url(), &["--count", "30", "--wait"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!(doc["saved"], true, "{doc}");
}

fn to_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn prepare_failures_leave_the_database_and_the_snapshot_directory_as_they_were() {
    let shared = Shared::new();
    let dir = shared.dir();
    let db = TestDb::with_demo_schema("prep_fail");
    let (doc, err) = shared.prepare(&db.url(), &["--count", "20"]);
    assert_action(&doc, &err, "seeded");
    db.load_sql("DELETE FROM office_staffs WHERE role = 'nurse'");
    let (data, files) = (db.pg_dump_data(), dir_state(&dir));
    let check = |out: &std::process::Output, code: i32, needle: &str, context: &str| {
        let text = all_output(out);
        assert_eq!(out.status.code(), Some(code), "{context}: {text}");
        assert!(text.contains(needle), "{context}: {text}");
        assert!(out.stdout.is_empty(), "{context}: nothing on stdout on failure: {text}");
        assert_same_data(&data, &db.pg_dump_data(), context);
        assert_dir_unchanged(&dir, &files, context);
    };
    let url = db.url();
    let seed = |args: &[&str]| shared.w.seed().args(shared.prepare_cmd(&url, args)).output().unwrap();
    // Bad arguments: exit 2 before connecting.
    check(&seed(&["--count", "0"]), 2, "--count must be between 1 and", "--count 0");
    check(&seed(&["--count", "5", "--batch-size", "0"]), 2, "--batch-size", "--batch-size 0");
    check(&seed(&["--count", "5", "--factories", "missing.toml"]), 2, "not found", "a missing factories file");
    check(&seed(&[]), 2, "nothing to load", "no counts");
    let long = "a".repeat(88);
    let out = shared
        .w
        .seed()
        .args(["--database-url", &url, "--snapshot-dir", dir.to_str().unwrap(), "prepare", &long, "--count", "5"])
        .output()
        .unwrap();
    check(&out, 2, "longer than 87 characters", "a name too long for its key");
    let out = shared
        .w
        .seed()
        .args(["--database-url", &url, "--snapshot-dir", dir.to_str().unwrap(), "prepare", "../x", "--count", "5"])
        .output()
        .unwrap();
    check(&out, 2, "invalid snapshot name", "a bad name");
    // The database cannot be reached: exit 3.
    let dead = "postgres://postgres:Harness-Pw-7f3a9@127.0.0.1:1/nowhere";
    let out = shared
        .w
        .seed()
        .args(["--retry-max-attempts", "1"])
        .args(shared.prepare_cmd(dead, &["--count", "20"]))
        .output()
        .unwrap();
    check(&out, 3, "could not connect", "an unreachable database");
    // The seeding run fails half-way (the database refuses a row during the load): exit
    // 4, and the tables prepare emptied in that transaction are back.
    db.load_sql("ALTER TABLE staffs ADD CONSTRAINT staffs_name_not_n30 CHECK (name <> 'N30') NOT VALID");
    let factories = shared.w.path().join("n.toml");
    std::fs::write(&factories, "[tables.staffs]\ncolumns.name = { template = \"N{i}\" }\n").unwrap();
    let data = db.pg_dump_data();
    let out = seed(&["--count", "1000", "--factories", factories.to_str().unwrap()]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("staffs_name_not_n30") && text.contains("(batch 1, row 30)"), "{text}");
    assert_same_data(&data, &db.pg_dump_data(), "a failed seeding run");
    assert_dir_unchanged(&dir, &files, "a failed seeding run");
}

// ---------------------------------------------------------------------------------
// SQLite
// ---------------------------------------------------------------------------------

#[test]
fn prepare_on_sqlite_seeds_restores_and_misses_like_postgres() {
    let shared = Shared::new();
    let dir = shared.dir();
    // The embedded default: no URL, seed.db gets the demo schema.
    let runner = Workdir::new();
    let prepare = |w: &Workdir, args: &[&str]| {
        let mut full = vec!["--no-progress", "--snapshot-dir", dir.to_str().unwrap(), "prepare", "baseline", "--json"];
        full.extend_from_slice(args);
        let out = run(w.seed().args(&full), 0);
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        (doc, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (doc, err) = prepare(&runner, &["--count", "25"]);
    assert_action(&doc, &err, "seeded");
    assert!(err.contains("applied the demo schema"), "{err}");
    let db = runner.path().join("seed.db");
    let seeded = sqlite_contents(&db);
    assert_eq!(seeded.iter().map(|(_, rows)| rows.len()).sum::<usize>(), 100);

    sqlite3(&db, "DELETE FROM office_staffs; UPDATE staffs SET name = 'changed'");
    let (doc, err) = prepare(&runner, &["--count", "25"]);
    assert_action(&doc, &err, "restored");
    assert_eq!(sqlite_contents(&db), seeded);
    // A fresh clone elsewhere: restored, same rows.
    let other = Workdir::new();
    let (doc, err) = prepare(&other, &["--count", "25"]);
    assert_action(&doc, &err, "restored");
    assert_eq!(sqlite_contents(&other.path().join("seed.db")), seeded);

    // A count is another key; a migration too.
    let (doc, err) = prepare(&runner, &["--count", "26"]);
    assert_action(&doc, &err, "seeded");
    sqlite3(&db, "ALTER TABLE staffs ADD COLUMN nickname TEXT");
    let (doc, err) = prepare(&runner, &["--count", "25"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!(shared.snapshots().len(), 3, "{:?}", shared.snapshots());

    // A snapshot in a format this seed cannot read: a miss, seeded and replaced.
    let (doc, err) = prepare(&other, &["--count", "25"]);
    assert_action(&doc, &err, "restored");
    let path = shared.path_of(&doc);
    edit_header(&path, false, |h| replace_once(h, "\"format_version\":2", "\"format_version\":3"));
    let (doc, err) = prepare(&other, &["--count", "25"]);
    assert_action(&doc, &err, "seeded");
    assert_eq!((doc["miss"].as_str(), doc["saved"].as_bool()), (Some("unreadable"), Some(true)), "{doc}");
    assert_eq!(sqlite_contents(&other.path().join("seed.db")), seeded);
    let (doc, err) = prepare(&other, &["--count", "25"]);
    assert_action(&doc, &err, "restored");

    // Failures change nothing.
    let before: DirState = dir_state(&dir);
    let contents = sqlite_contents(&db);
    for (args, code) in [(&["--count", "-1"][..], 2), (&["--table", "nope"][..], 2)] {
        let mut full = vec!["--snapshot-dir", dir.to_str().unwrap(), "prepare", "baseline"];
        full.extend_from_slice(args);
        let out = runner.seed().args(&full).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", all_output(&out));
    }
    assert_eq!(sqlite_contents(&db), contents);
    assert_dir_unchanged(&dir, &before, "failed prepares on SQLite");
}

#[test]
fn prepare_exclude_leaves_a_table_out_of_seeding_saving_and_restoring() {
    let shared = Shared::new();
    let db = TestDb::with_demo_schema("prep_exclude");
    let args = ["--count", "12", "--exclude", "office_staffs"];
    let (doc, err) = shared.prepare(&db.url(), &args);
    assert_action(&doc, &err, "seeded");
    assert_eq!((doc["tables"].as_u64(), db.count("office_staffs")), (Some(3), 0), "{doc}");
    let header = crate::snapshot::header_of(&shared.path_of(&doc));
    let names: Vec<String> = header["tables"].as_array().unwrap().iter().map(crate::snapshot::entry_name).collect();
    assert!(!names.iter().any(|n| n.ends_with("office_staffs")), "{names:?}");
    let (other, err) = shared.prepare(&db.url(), &["--count", "12"]);
    assert_action(&other, &err, "seeded");
    assert_ne!(other["key"], doc["key"], "the selection is part of the key");
    assert_eq!(db.count("office_staffs"), 12);
    db.load_sql("DELETE FROM welfare_recipients");
    let (doc, err) = shared.prepare(&db.url(), &args);
    assert_action(&doc, &err, "restored");
    assert_eq!((db.count("welfare_recipients"), db.count("office_staffs")), (12, 12), "office_staffs is left alone");
}

#[test]
fn prepare_concurrent_runners_on_sqlite_share_one_snapshot() {
    // Two SQLite runners racing: one saves, the other seeds without saving or waits.
    let shared = Shared::new();
    let dir = shared.dir();
    let runners: Vec<Workdir> = (0..4).map(|_| Workdir::new()).collect();
    let mut children: Vec<Running> = runners
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
            cmd.current_dir(w.path()).env("NO_COLOR", "1").env_remove("DATABASE_URL").env_remove("SEED_SNAPSHOT_DIR");
            cmd.args(["--no-progress", "--snapshot-dir", dir.to_str().unwrap(), "prepare", "baseline", "--json"]);
            cmd.args(["--count", "300"]);
            if i % 2 == 1 {
                cmd.arg("--wait");
            }
            Running::spawn(cmd)
        })
        .collect();
    let mut saved = 0;
    for c in &mut children {
        let (status, out, err) = c.finish(Duration::from_secs(120));
        assert!(status.success(), "{err}");
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        if doc["saved"] == true {
            saved += 1;
        }
    }
    assert_eq!(saved, 1, "exactly one runner saves");
    assert_eq!(shared.snapshots().len(), 1);
    let contents: Vec<_> = runners.iter().map(|w| sqlite_contents(&w.path().join("seed.db"))).collect();
    assert!(contents.iter().all(|c| c == &contents[0]), "every runner has the same rows");
}
