//! Snapshots I: `seed snapshot create / list / show / verify / delete / prune` on real
//! databases, and what a snapshot directory looks like after every kind of failure
//! (full disk, Ctrl-C, SIGKILL, a dropped connection, a concurrent create, corrupt
//! files, held locks). Shared helpers for `restore.rs` live here too.
//!
//! "Directory state" = (name, size, content hash) of every entry of the snapshot
//! directory except `audit.log` and `.locks`; after a failure it must be exactly what it
//! was before (plus at most the one complete snapshot).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::run;
use crate::common::{TestDb, Workdir, all_output, assert_no_password, repo_path, server};

// ---------------------------------------------------------------------------------
// Helpers (also used by restore.rs)
// ---------------------------------------------------------------------------------

/// (size, xxh3 of the content) by entry name; directories get a trailing `/`.
pub type DirState = BTreeMap<String, (u64, u64)>;

/// The directory state of a snapshot dir (a missing dir is empty).
pub fn dir_state(dir: &Path) -> DirState {
    let mut state = DirState::new();
    let Ok(read) = std::fs::read_dir(dir) else { return state };
    for entry in read {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "audit.log" || name == ".locks" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            state.insert(format!("{name}/"), (0, 0));
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        state.insert(name, (bytes.len() as u64, xxhash_rust::xxh3::xxh3_64(&bytes)));
    }
    state
}

pub fn assert_dir_unchanged(dir: &Path, before: &DirState, context: &str) {
    let after = dir_state(dir);
    assert_eq!(&after, before, "{context}: the snapshot directory changed (before vs after):\n{before:#?}\n{after:#?}");
}

/// The header (line 1) of a snapshot file, parsed.
pub fn header_of(path: &Path) -> Value {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut line = String::new();
    BufReader::new(flate2::read::GzDecoder::new(file)).read_line(&mut line).unwrap();
    serde_json::from_str(line.trim_end()).unwrap_or_else(|e| panic!("header of {} is not JSON: {e}", path.display()))
}

/// `schema.name` (or `name` for SQLite) of a header table entry.
pub fn entry_name(t: &Value) -> String {
    let schema = t["schema"].as_str().unwrap();
    let name = t["name"].as_str().unwrap();
    if schema.is_empty() { name.to_owned() } else { format!("{schema}.{name}") }
}

/// Every table's rows decoded straight from the file (the header's offset/length,
/// decompressed on their own), sorted.
pub fn snapshot_rows(path: &Path) -> Vec<(String, Vec<String>)> {
    let bytes = std::fs::read(path).unwrap();
    let header = header_of(path);
    let mut out = Vec::new();
    for t in header["tables"].as_array().unwrap() {
        let offset = usize::try_from(t["offset"].as_u64().unwrap()).unwrap();
        let length = usize::try_from(t["length"].as_u64().unwrap()).unwrap();
        let mut raw = Vec::new();
        // An empty table may have no member at all.
        if length > 0 {
            flate2::read::MultiGzDecoder::new(&bytes[offset..offset + length]).read_to_end(&mut raw).unwrap();
        }
        let text = String::from_utf8(raw).expect("COPY text is UTF-8");
        let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
        assert!(text.is_empty() || text.ends_with('\n'), "table {} does not end with a newline", entry_name(t));
        rows.sort();
        out.push((entry_name(t), rows));
    }
    out
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `COPY (SELECT cols FROM table) TO STDOUT` through psql, sorted.
pub fn pg_copy_sorted(db: &TestDb, schema: &str, table: &str, cols: &[String]) -> Vec<String> {
    let cols: Vec<String> = cols.iter().map(|c| quote_ident(c)).collect();
    let sql =
        format!("COPY (SELECT {} FROM {}.{}) TO STDOUT", cols.join(", "), quote_ident(schema), quote_ident(table));
    let out = server().psql_cmd(&db.name).args(["-c", &sql]).output().unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows: Vec<String> = text.lines().map(str::to_owned).collect();
    rows.sort();
    rows
}

/// Polls `f` every 20 ms until it returns `Some`, or panics naming `what`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `seed` process running in the background, its stderr watched line by line.
pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Self {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().expect("spawn seed");
        let (tx, lines) = channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let stdout = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let err_buf = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { break };
                err_buf.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let mut out_pipe = child.stdout.take().unwrap();
        let out_buf = Arc::clone(&stdout);
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out_pipe.read_to_string(&mut s);
            out_buf.lock().unwrap().push_str(&s);
        });
        Self { child, lines, stderr, stdout }
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Waits for a stderr line matching `pred`; panics if the process ends first or
    /// nothing matches within `timeout`.
    /// Waits until the command says it is waiting for a lock (run with `-v`, or with
    /// `--log-format json`: its `lock_waiting` event).
    pub fn wait_for_lock(&mut self) -> String {
        self.wait_line(Duration::from_secs(60), "the wait for a lock", |l| {
            l.contains("lock_waiting") || (l.contains("waiting for") && l.contains("held by"))
        })
    }

    pub fn wait_line(&mut self, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within {timeout:?}; stderr so far:\n{}", self.stderr())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().unwrap();
                    panic!(
                        "the process ended ({status}) before {what}; the data may be too small for this test.\nstderr:\n{}",
                        self.stderr()
                    )
                }
            }
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to end (killing it after `timeout`, then panicking).
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let started = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the process did not end within {timeout:?}; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Let the reader threads drain the pipes.
        let drained = Instant::now();
        while drained.elapsed() < Duration::from_secs(5) {
            if Arc::strong_count(&self.stdout) == 1 && Arc::strong_count(&self.stderr) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let err = self.stderr();
        assert!(!err.contains("panicked"), "panic:\n{err}");
        (status, self.stdout.lock().unwrap().clone(), err)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `seed` (std Command, clean env, in the workdir) with these arguments.
pub fn seed_cmd(w: &Workdir, args: &[&str]) -> Command {
    let mut cmd = w.seed_std();
    cmd.env("NO_COLOR", "1").args(args);
    cmd
}

/// JSON progress event of a finished table (one per table, in `--log-format json`).
pub fn table_finished(line: &str) -> bool {
    line.contains("\"event\":\"progress\"") && line.contains("\"finished\":true")
}

/// The pid of the backend of `db` run by application `app` while it is in a COPY.
pub fn copying_backend(db: &TestDb, app: &str) -> Option<String> {
    let pid = server().psql(
        "postgres",
        &format!(
            "SELECT pid FROM pg_stat_activity WHERE datname = '{}' AND (application_name = '{app}' OR application_name LIKE '%({app}%')
               AND state = 'active' AND query LIKE 'COPY%' LIMIT 1",
            db.name
        ),
    );
    (!pid.is_empty()).then_some(pid)
}

/// Waits on the server (polling every 5 ms, no client round trips, so a short COPY on
/// a loaded machine is not missed) for a COPY of `app` in `db`, and terminates it at
/// once. The backend's pid, or `None` when none showed within `seconds`.
pub fn terminate_first_copy(db: &TestDb, app: &str, seconds: u32) -> Option<String> {
    let pid = server().psql(
        "postgres",
        &format!(
            "CREATE FUNCTION pg_temp.kill_first_copy() RETURNS text LANGUAGE plpgsql AS $$
             DECLARE p int; t0 timestamptz := clock_timestamp();
             BEGIN
               LOOP
                 PERFORM pg_stat_clear_snapshot();
                 SELECT pid INTO p FROM pg_stat_activity WHERE datname = '{db}' AND (application_name = '{app}' OR application_name LIKE '%({app}%')
                   AND state = 'active' AND query LIKE 'COPY%' LIMIT 1;
                 EXIT WHEN p IS NOT NULL OR clock_timestamp() - t0 > interval '{seconds} s';
                 PERFORM pg_sleep(0.005);
               END LOOP;
               IF p IS NOT NULL THEN PERFORM pg_terminate_backend(p); END IF;
               RETURN coalesce(p::text, '');
             END $$;
             SELECT pg_temp.kill_first_copy()",
            db = db.name
        ),
    );
    (!pid.is_empty()).then_some(pid)
}

static CLONES: AtomicUsize = AtomicUsize::new(0);

/// A new database copied from `template` (CREATE DATABASE ... TEMPLATE).
pub fn clone_db(template: &str, tag: &str) -> TestDb {
    let n = CLONES.fetch_add(1, Ordering::SeqCst);
    let name = format!("t_{tag}_{}_c{n}", std::process::id());
    server().psql("postgres", &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""));
    TestDb { name }
}

/// A template database built once per test run: never dropped (the server goes away
/// at exit) and never connected to after `build`, so it can be cloned concurrently.
fn template(cell: &'static OnceLock<String>, tag: &str, build: impl FnOnce(&TestDb)) -> &'static str {
    cell.get_or_init(|| {
        let db = TestDb::new(tag);
        build(&db);
        let name = db.name.clone();
        std::mem::forget(db);
        name
    })
}

/// The demo schema with `seed bulk --count 20000` (80,000 rows; a snapshot of about
/// 8 MB that takes a debug build a couple of seconds to write or restore), and a
/// snapshot `big` of exactly that data in `snapshot_dir` (shared: copy before changing it).
pub struct BigDemo {
    pub template: String,
    pub snapshot_dir: PathBuf,
}

pub const BIG_ROWS_PER_TABLE: u64 = 20_000;

pub fn big_demo() -> &'static BigDemo {
    static BIG: OnceLock<BigDemo> = OnceLock::new();
    BIG.get_or_init(|| {
        let db = TestDb::with_demo_schema("tmpl_big");
        let w = Workdir::new();
        let count = BIG_ROWS_PER_TABLE.to_string();
        run(w.seed().args(["--no-progress", "--database-url", &db.url(), "bulk", "--count", &count]), 0);
        // Inside the server's folder, which the harness removes at exit.
        let snapshot_dir = server().dir.join(format!("shared-snapshots-{}", std::process::id()));
        let dir = snapshot_dir.to_str().unwrap();
        run(
            w.seed().args([
                "--no-progress",
                "--database-url",
                &db.url(),
                "--snapshot-dir",
                dir,
                "snapshot",
                "create",
                "big",
            ]),
            0,
        );
        let template = db.name.clone();
        std::mem::forget(db);
        BigDemo { template, snapshot_dir }
    })
}

/// A database holding one table of 8,000 rows of md5 hex: about 1 MB on the server,
/// barely compressible, so its snapshot (about 470 KB) passes a 200 KB file size
/// limit and fills a 300 KB tmpfs even though the up-front estimate (table size / 4)
/// says it fits.
pub fn noise_template() -> &'static str {
    static NOISE: OnceLock<String> = OnceLock::new();
    template(&NOISE, "tmpl_noise", |db| {
        db.load_sql(
            "CREATE TABLE noise (id int PRIMARY KEY, h text NOT NULL);
             INSERT INTO noise SELECT g, md5(g::text) || md5((-g)::text) FROM generate_series(1, 8000) g",
        );
    })
}

/// Pagila with its data.
pub fn pagila_template() -> &'static str {
    static PAGILA: OnceLock<String> = OnceLock::new();
    template(&PAGILA, "tmpl_pagila", |db| {
        db.load_file(&repo_path("tests/fixtures/pagila/schema.sql"));
        db.load_file(&repo_path("tests/fixtures/pagila/data.sql"));
    })
}

/// Pagila's schema without data.
pub fn pagila_schema_template() -> &'static str {
    static PAGILA: OnceLock<String> = OnceLock::new();
    template(&PAGILA, "tmpl_pagila_schema", |db| db.load_file(&repo_path("tests/fixtures/pagila/schema.sql")))
}

/// audit.log as parsed records.
pub fn audit_records(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("audit.log")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line is not JSON: {l}: {e}")))
        .collect()
}

fn list_json(w: &Workdir, extra: &[&str]) -> Vec<Value> {
    let mut args = extra.to_vec();
    args.extend(["snapshot", "list", "--json"]);
    let out = run(w.seed().args(&args), 0);
    let doc = serde_json::from_slice::<Value>(&out.stdout).expect("list --json is JSON");
    assert_eq!(doc["json_version"], 1, "{doc}");
    doc["snapshots"].as_array().unwrap().clone()
}

fn names_of(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["name"].as_str().unwrap().to_owned()).collect()
}

// ---------------------------------------------------------------------------------
// 1. Pagila: every table in the file equals the source, verify, verify --against-db
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_of_pagila_holds_every_row_of_every_table() {
    let db = clone_db(pagila_template(), "snap_pagila");
    let w = Workdir::new();
    let url = db.url();
    let out = run(w.seed().args(["--database-url", &url, "snapshot", "create", "pagila"]), 0);
    assert!(all_output(&out).contains("snapshot 'pagila' created"), "{}", all_output(&out));
    let path = w.path().join("snapshots/pagila.seed.gz");
    run(w.seed().args(["snapshot", "verify", "pagila"]), 0);

    // The header lists exactly the user tables (partitions are part of their parent).
    let header = header_of(&path);
    let tables = header["tables"].as_array().unwrap();
    let mut listed: Vec<String> = tables.iter().map(entry_name).collect();
    listed.sort();
    let expected = db.psql(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = 'public' ORDER BY 1",
    );
    assert_eq!(listed, expected.lines().collect::<Vec<_>>());

    let decoded = snapshot_rows(&path);
    let mut total = 0;
    for (t, (name, rows)) in tables.iter().zip(&decoded) {
        let cols: Vec<String> =
            t["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
        let live = pg_copy_sorted(&db, t["schema"].as_str().unwrap(), t["name"].as_str().unwrap(), &cols);
        assert_eq!(rows.len(), live.len(), "{name}: row count");
        assert_eq!(t["rows"].as_u64().unwrap(), live.len() as u64, "{name}: header row count");
        if let Some(i) = (0..rows.len()).find(|&i| rows[i] != live[i]) {
            panic!("{name}: first difference (sorted row {i}):\n snapshot: {:?}\n database: {:?}", rows[i], live[i]);
        }
        total += rows.len();
    }
    // pagila ships ~50k rows, ~16k of them in the partitioned payment table
    assert!(total > 45_000, "only {total} rows");
    let payment = decoded.iter().find(|(n, _)| n == "public.payment").expect("payment in the snapshot");
    assert!(payment.1.len() > 16_000, "payment has {} rows", payment.1.len());

    run(w.seed().args(["--database-url", &url, "snapshot", "verify", "pagila", "--against-db"]), 0);
    db.load_sql("UPDATE actor SET last_name = 'CHANGED' WHERE actor_id = 7");
    let out = run(w.seed().args(["--database-url", &url, "snapshot", "verify", "pagila", "--against-db"]), 12);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "only actor differs:\n{text}");
    assert!(text.starts_with("actor: same row count (200), different contents"), "{text}");
    assert!(all_output(&out).contains(&format!("in 1 of {} tables", tables.len())), "{}", all_output(&out));
}

// ---------------------------------------------------------------------------------
// 2. The whole lifecycle on the embedded SQLite default, and the audit log
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_lifecycle_on_sqlite_default_with_audit_log() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "50"]), 0);
    // zeta is taken first, alpha second: name order is the reverse of age order
    run(w.seed().args(["snapshot", "create", "zeta", "--description", "the first one"]), 0);
    run(w.seed().args(["snapshot", "create", "alpha"]), 0);
    run(w.seed().args(["snapshot", "create", "scratch"]), 0);
    let out = run(w.seed().args(["snapshot", "create", "zeta"]), 6);
    assert!(all_output(&out).contains("already exists"), "{}", all_output(&out));

    // list, text
    let out = run(w.seed().args(["snapshot", "list"]), 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{text}");
    assert_eq!(lines.len(), 4, "{text}");
    for (line, name) in lines[1..].iter().zip(["alpha", "scratch", "zeta"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], name, "{text}");
        assert_eq!(cells[cells.len() - 4..], ["4", "200", "-", "-"], "tables, rows, masked, schema version: {text}");
    }

    // list --json
    let items = list_json(&w, &[]);
    assert_eq!(names_of(&items), ["alpha", "scratch", "zeta"]);
    for i in &items {
        assert_eq!(i["status"], "ok", "{i}");
        assert_eq!(i["tables"], 4, "{i}");
        assert_eq!(i["rows"], 200, "{i}");
        assert_eq!(i["database"], "sqlite", "{i}");
        let file = dir.join(format!("{}.seed.gz", i["name"].as_str().unwrap()));
        assert_eq!(i["size"].as_u64().unwrap(), std::fs::metadata(&file).unwrap().len(), "{i}");
    }
    assert_eq!(items[2]["description"], "the first one");
    assert_eq!(items[0]["description"], Value::Null);

    // show, text and JSON
    let out = run(w.seed().args(["snapshot", "show", "zeta"]), 0);
    let text = stdout(&out);
    for needle in [
        "snapshot      zeta",
        "description   the first one",
        "database      sqlite",
        "tables        4 tables, 200 rows",
        "staffs — 50 rows",
        "offices — 50 rows",
        "office_staffs — 50 rows",
        "welfare_recipients — 50 rows",
    ] {
        assert!(text.contains(needle), "show lacks {needle:?}:\n{text}");
    }
    assert!(
        text.lines().any(|l| l.split_whitespace().eq(["email", "VARCHAR(254)", "not", "null"])),
        "show lists columns with their types:\n{text}"
    );
    let out = run(w.seed().args(["snapshot", "show", "zeta", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).expect("show --json is JSON");
    let size = std::fs::metadata(dir.join("zeta.seed.gz")).unwrap().len();
    assert_eq!(doc["size"].as_u64(), Some(size));
    let h = &doc["header"];
    assert_eq!(h, &header_of(&dir.join("zeta.seed.gz")), "show --json prints the file's header");
    assert_eq!(h["format"], "seed-snapshot");
    assert_eq!(h["format_version"], 2);
    assert_eq!(h["name"], "zeta");
    assert_eq!(h["description"], "the first one");
    assert_eq!(h["database"]["kind"], "sqlite");
    assert_eq!(h["compression"]["algorithm"], "gzip");
    assert_eq!(h["schema_fingerprint"].as_str().unwrap().len(), 32);
    let tables = h["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 4);
    let mut next = tables[0]["offset"].as_u64().unwrap();
    for t in tables {
        assert_eq!(t["rows"], 50, "{t}");
        assert_eq!(t["checksum"].as_str().unwrap().len(), 16, "{t}");
        assert_eq!(t["offset"].as_u64().unwrap(), next, "tables tile the file: {t}");
        next += t["length"].as_u64().unwrap();
    }
    assert_eq!(next, size, "the last table ends at the end of the file");

    // verify
    let out = run(w.seed().args(["snapshot", "verify", "zeta"]), 0);
    assert!(all_output(&out).contains("intact"), "{}", all_output(&out));
    run(w.seed().args(["snapshot", "verify", "zeta", "--against-db"]), 0);

    // delete
    run(w.seed().args(["snapshot", "delete", "scratch"]), 0);
    assert!(!dir.join("scratch.seed.gz").exists());
    assert_eq!(names_of(&list_json(&w, &[])), ["alpha", "zeta"]);
    run(w.seed().args(["snapshot", "delete", "scratch"]), 6);

    // prune: the dry run names the older one and touches nothing
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "prune", "--keep-last", "1", "--dry-run"]), 0);
    let text = stdout(&out);
    assert!(text.contains("would remove zeta"), "{text}");
    assert!(!text.contains("alpha"), "the newest snapshot is kept:\n{text}");
    assert_dir_unchanged(&dir, &before, "prune --dry-run");
    let out = run(w.seed().args(["snapshot", "prune", "--keep-last", "1"]), 0);
    assert!(stdout(&out).contains("removed zeta"), "{}", all_output(&out));
    assert_eq!(names_of(&list_json(&w, &[])), ["alpha"]);
    let before = dir_state(&dir);
    let out = run(w.seed().args(["snapshot", "prune", "--older-than", "30d"]), 0);
    assert!(all_output(&out).contains("removed 0 of 1"), "{}", all_output(&out));
    assert_dir_unchanged(&dir, &before, "prune --older-than 30d");

    // one audit line per create / delete / prune, failures included, dry run excluded
    let records = audit_records(&dir);
    let summary: Vec<(String, String, String)> = records
        .iter()
        .map(|r| {
            (
                r["command"].as_str().unwrap().to_owned(),
                r["name"].as_str().unwrap_or("").to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("snapshot create", "zeta", "ok"),
        ("snapshot create", "alpha", "ok"),
        ("snapshot create", "scratch", "ok"),
        ("snapshot create", "zeta", "error"),
        ("snapshot delete", "scratch", "ok"),
        ("snapshot delete", "scratch", "error"),
        ("snapshot prune", "zeta@1", "ok"),
        ("snapshot prune", "", "ok"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(summary, expected, "{records:#?}");
    assert!(records[3]["error"].as_str().unwrap().contains("already exists"), "{}", records[3]);
    for r in &records {
        assert!(r["pid"].as_u64().is_some() && r["ts"].as_str().is_some() && r["user"].as_str().is_some(), "{r}");
    }
}

// ---------------------------------------------------------------------------------
// 3a. Disk full
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_create_past_the_file_size_limit_fails_with_disk_space_and_leaves_nothing() {
    let db = clone_db(noise_template(), "snap_fsize");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "not a snapshot").unwrap();
    let before = dir_state(&dir);
    let mut cmd = seed_cmd(&w, &["--database-url", &db.url(), "snapshot", "create", "big"]);
    limit_file_size(&mut cmd, 200_000);
    let out = cmd.output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(text.contains("not enough disk space"), "{text}");
    assert!(text.contains("File too large"), "the limit was hit while writing: {text}");
    assert_no_password(&out);
    assert_dir_unchanged(&dir, &before, "create under RLIMIT_FSIZE");
    // the failure is in the audit log
    let records = audit_records(&dir);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "error");
}

/// Makes `cmd` fail to write a file past `bytes` (RLIMIT_FSIZE: a full disk, for one process).
pub fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Unmounts on drop (also when the test fails).
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(at: &Path, size: &str) -> Self {
        std::fs::create_dir_all(at).unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).output();
        match out {
            Ok(o) if o.status.success() => Self(at.to_path_buf()),
            Ok(o) => panic!(
                "cannot mount a {size} tmpfs at {} (running as root: {root}): {}\n\
                 this test needs a real small disk: run the tests as root in a container allowed to mount tmpfs \
                 (e.g. docker --cap-add SYS_ADMIN), or as root on a VM",
                at.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            ),
            Err(e) => panic!("cannot run mount(8) to create a small tmpfs: {e}"),
        }
    }

    /// Bytes free on the file system.
    fn available(&self) -> u64 {
        let c = std::ffi::CString::new(self.0.to_str().unwrap()).unwrap();
        // SAFETY: statvfs writes into a zeroed struct we own; the path is NUL-terminated.
        unsafe {
            let mut s: libc::statvfs = std::mem::zeroed();
            assert_eq!(libc::statvfs(c.as_ptr(), &mut s), 0);
            s.f_bavail * s.f_frsize
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn snapshot_create_on_a_full_small_disk_fails_with_disk_space_and_leaves_nothing() {
    let w = Workdir::new();
    let fs = Tmpfs::mount(&w.path().join("small"), "300k");
    let dir = fs.0.clone();
    let dir_arg = dir.to_str().unwrap().to_owned();
    let free_at_start = fs.available();

    // The noise table passes the up-front estimate but does not fit: ENOSPC mid-write.
    let noise = clone_db(noise_template(), "snap_enospc");
    let before = dir_state(&dir);
    let out = run(
        w.seed().args(["--database-url", &noise.url(), "--snapshot-dir", &dir_arg, "snapshot", "create", "noise"]),
        9,
    );
    let text = all_output(&out);
    assert!(text.contains("not enough disk space"), "{text}");
    assert!(text.contains("No space left on device"), "ENOSPC while writing: {text}");
    assert_dir_unchanged(&dir, &before, "ENOSPC");

    // 80,000 rows cannot fit: refused by the up-front check before writing anything.
    let big = clone_db(&big_demo().template, "snap_nospace");
    let out =
        run(w.seed().args(["--database-url", &big.url(), "--snapshot-dir", &dir_arg, "snapshot", "create", "big"]), 9);
    let text = all_output(&out);
    assert!(text.contains("not enough disk space"), "{text}");
    assert!(text.contains("nothing was written"), "the up-front check refused: {text}");
    assert_dir_unchanged(&dir, &before, "free-space check");

    // The unnamed temp file's blocks went back too (only the audit log and the lock
    // files take space).
    let free_now = fs.available();
    assert!(
        free_now + 32 * 1024 >= free_at_start,
        "space not given back: {free_at_start} free before, {free_now} after"
    );
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().all(|n| n == "audit.log" || n == ".locks"), "{names:?}");
}

// ---------------------------------------------------------------------------------
// 3b. Ctrl-C and SIGKILL while writing
// ---------------------------------------------------------------------------------

/// Starts `create NAME` (JSON logs) on a copy of the big demo database and returns
/// once the first table is written and the rest are still to come.
pub fn create_in_progress(w: &Workdir, db: &TestDb, name: &str, extra: &[&str]) -> Running {
    let url = db.url();
    let mut args = vec!["--log-format", "json", "--database-url", url.as_str(), "snapshot", "create", name];
    args.extend_from_slice(extra);
    let mut running = Running::spawn(seed_cmd(w, &args));
    running.wait_line(Duration::from_secs(60), "the first table's progress event", table_finished);
    running
}

#[test]
fn snapshot_create_interrupted_with_sigint_exits_130_and_leaves_nothing() {
    let db = clone_db(&big_demo().template, "snap_sigint");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    let before = dir_state(&dir);
    let mut running = create_in_progress(&w, &db, "cut", &[]);
    running.signal(libc::SIGINT);
    let (status, _, stderr) = running.finish(Duration::from_secs(30));
    assert!(!stderr.contains("snapshot_created"), "finished before the signal arrived:\n{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_dir_unchanged(&dir, &before, "SIGINT");
    let records = audit_records(&dir);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "interrupted");
    assert!(records[0]["error"].is_null(), "{records:?}");
}

#[test]
fn snapshot_create_killed_with_sigkill_leaves_nothing_and_no_stale_lock() {
    let db = clone_db(&big_demo().template, "snap_sigkill");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    let before = dir_state(&dir);
    let mut running = create_in_progress(&w, &db, "cut", &[]);
    running.signal(libc::SIGKILL);
    let (status, _, stderr) = running.finish(Duration::from_secs(30));
    assert!(!stderr.contains("snapshot_created"), "finished before the signal arrived:\n{stderr}");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL), "{stderr}");
    assert_dir_unchanged(&dir, &before, "SIGKILL");
    // The kernel released the lock with the process: the name is free at once.
    run(w.seed().args(["--database-url", &db.url(), "snapshot", "create", "cut", "--table", "offices"]), 0);
    run(w.seed().args(["snapshot", "verify", "cut"]), 0);
}

// ---------------------------------------------------------------------------------
// 3c. The connection dies mid-read
// ---------------------------------------------------------------------------------

pub fn terminate_create_mid_copy(w: &Workdir, db: &TestDb, extra: &[&str]) -> (ExitStatus, String) {
    let url = db.url();
    let mut args = vec![
        "--log-format",
        "json",
        "--retry-base-delay",
        "50ms",
        "--database-url",
        url.as_str(),
        "snapshot",
        "create",
        "net",
    ];
    args.extend_from_slice(extra);
    let mut running = Running::spawn(seed_cmd(w, &args));
    let killed = terminate_first_copy(db, "seed snapshot create", 60);
    let (status, _, stderr) = running.finish(Duration::from_secs(60));
    assert!(killed.is_some(), "no COPY of the create was seen within 60 s:\n{stderr}");
    (status, stderr)
}

#[test]
fn snapshot_create_losing_its_connection_exits_3_without_retries_and_succeeds_with_them() {
    let db = clone_db(&big_demo().template, "snap_netfail");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    let before = dir_state(&dir);
    let (status, stderr) = terminate_create_mid_copy(&w, &db, &["--retry-max-attempts", "1"]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("lost the connection"), "{stderr}");
    assert_dir_unchanged(&dir, &before, "connection killed");

    let (status, stderr) = terminate_create_mid_copy(&w, &db, &[]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("\"event\":\"retry\""), "the create was retried:\n{stderr}");
    let after = dir_state(&dir);
    assert_eq!(after.keys().collect::<Vec<_>>(), ["net.seed.gz"], "{after:?}");
    run(w.seed().args(["snapshot", "verify", "net"]), 0);
    run(w.seed().args(["--database-url", &db.url(), "snapshot", "verify", "net", "--against-db"]), 0);
}

// ---------------------------------------------------------------------------------
// 3d. Two creates of one name at once
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_concurrent_creates_of_one_name_one_wins_the_other_is_refused() {
    let db = clone_db(&big_demo().template, "snap_race");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    let url = db.url();
    let args = ["--no-progress", "--database-url", url.as_str(), "snapshot", "create", "same"];
    let mut a = Running::spawn(seed_cmd(&w, &args));
    let mut b = Running::spawn(seed_cmd(&w, &args));
    let (pid_a, pid_b) = (a.pid(), b.pid());
    let (sa, _, ea) = a.finish(Duration::from_secs(120));
    let (sb, _, eb) = b.finish(Duration::from_secs(120));
    let (winner, loser_code, loser_err) = match (sa.code(), sb.code()) {
        (Some(0), Some(c)) if c != 0 => (pid_a, c, eb),
        (Some(c), Some(0)) if c != 0 => (pid_b, c, ea),
        other => panic!("expected exactly one success, got {other:?}\nA:\n{ea}\nB:\n{eb}"),
    };
    match loser_code {
        8 => assert!(loser_err.contains(&format!("locked by pid {winner} (seed snapshot create same)")), "{loser_err}"),
        6 => assert!(loser_err.contains("already exists"), "{loser_err}"),
        c => panic!("the loser exited {c}, expected 8 (lock held) or 6 (exists):\n{loser_err}"),
    }
    assert_eq!(dir_state(&dir).keys().collect::<Vec<_>>(), ["same.seed.gz"]);
    run(w.seed().args(["snapshot", "verify", "same"]), 0);
    run(w.seed().args(["--database-url", &url, "snapshot", "verify", "same", "--against-db"]), 0);
}

// ---------------------------------------------------------------------------------
// 3e. --force killed half-way leaves the old snapshot alone
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_create_force_killed_midway_keeps_the_old_snapshot_intact() {
    let db = clone_db(&big_demo().template, "snap_force");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["--database-url", &db.url(), "snapshot", "create", "keep", "--table", "offices"]), 0);
    let old = std::fs::read(dir.join("keep.seed.gz")).unwrap();
    let before = dir_state(&dir);
    let mut running = create_in_progress(&w, &db, "keep", &["--force"]);
    running.signal(libc::SIGKILL);
    let (_, _, stderr) = running.finish(Duration::from_secs(30));
    assert!(!stderr.contains("snapshot_created"), "finished before the signal arrived:\n{stderr}");
    assert_dir_unchanged(&dir, &before, "--force killed");
    assert!(std::fs::read(dir.join("keep.seed.gz")).unwrap() == old, "the old snapshot's bytes changed");
    run(w.seed().args(["snapshot", "verify", "keep"]), 0);
    assert_eq!(header_of(&dir.join("keep.seed.gz"))["tables"].as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------
// 4. Bad input
// ---------------------------------------------------------------------------------

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn snapshot_bad_files_and_names_are_clear_errors_and_list_flags_them() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "20"]), 0);
    run(w.seed().args(["snapshot", "create", "good"]), 0);
    let good = std::fs::read(dir.join("good.seed.gz")).unwrap();
    let header = header_of(&dir.join("good.seed.gz"));

    std::fs::write(dir.join("truncated.seed.gz"), &good[..good.len() - 100]).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect();
    std::fs::write(dir.join("random.seed.gz"), &random).unwrap();
    std::fs::write(dir.join("garbage.seed.gz"), gzip(b"this is not a snapshot\nat all\n")).unwrap();
    let mut future = header.clone();
    future["format_version"] = 99.into();
    future["name"] = "future".into();
    std::fs::write(dir.join("future.seed.gz"), gzip(format!("{future}\n").as_bytes())).unwrap();
    std::fs::write(dir.join("empty.seed.gz"), b"").unwrap();
    // one flipped byte inside the last table of a snapshot of its own name (a copy of
    // good under another name is refused for its name): the header still reads fine
    run(w.seed().args(["snapshot", "create", "flipped"]), 0);
    let mut flipped = std::fs::read(dir.join("flipped.seed.gz")).unwrap();
    let header = header_of(&dir.join("flipped.seed.gz"));
    let last = header["tables"].as_array().unwrap().last().unwrap().clone();
    let at = usize::try_from(last["offset"].as_u64().unwrap() + last["length"].as_u64().unwrap() / 2).unwrap();
    flipped[at] ^= 0x55;
    std::fs::write(dir.join("flipped.seed.gz"), &flipped).unwrap();
    std::fs::write(dir.join("notes.txt"), "meeting notes").unwrap();
    std::fs::write(dir.join(".tmp-x.123.seed.gz"), b"half written").unwrap();

    let cases = [
        ("truncated", "truncated"),
        ("random", "not gzip data"),
        ("garbage", "not valid JSON"),
        ("future", "format version 99"),
        ("empty", "file is empty"),
    ];
    for (name, reason) in cases {
        for verb in ["verify", "show", "restore"] {
            let out = run(w.seed().args(["snapshot", verb, name]), 7);
            let text = all_output(&out);
            assert!(
                text.contains("is corrupt") && text.contains(reason),
                "{verb} {name}: expected {reason:?}:\n{text}"
            );
        }
    }
    let out = run(w.seed().args(["snapshot", "verify", "flipped"]), 7);
    let text = all_output(&out);
    assert!(text.contains("table welfare_recipients"), "names the damaged table:\n{text}");
    run(w.seed().args(["snapshot", "show", "flipped"]), 0);

    for args in [
        vec!["snapshot", "verify", "../x"],
        vec!["snapshot", "show", "../x"],
        vec!["snapshot", "restore", "../x"],
        vec!["snapshot", "delete", "../x"],
        vec!["snapshot", "create", "../x"],
    ] {
        let out = run(w.seed().args(&args), 2);
        assert!(all_output(&out).contains("invalid snapshot name '../x'"), "{args:?}: {}", all_output(&out));
    }
    assert!(!w.path().join("x.seed.gz").exists());

    // list: the good ones with their figures, every bad one as CORRUPT with a reason
    let out = run(w.seed().args(["snapshot", "list"]), 0);
    let text = stdout(&out);
    let line_of = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{text}"))
    };
    assert!(line_of("good").contains("  4  ") && line_of("good").contains("80"), "{text}");
    assert!(!line_of("flipped").contains("CORRUPT"), "list reads headers only:\n{text}");
    for (name, reason) in cases {
        let line = line_of(name);
        assert!(line.contains("CORRUPT") && line.contains(reason), "{name}:\n{text}");
    }
    assert!(line_of("notes.txt").contains("CORRUPT") && line_of("notes.txt").contains("not a snapshot file"), "{text}");
    assert!(!text.contains(".tmp-x"), "temp files are not listed:\n{text}");
    let items = list_json(&w, &[]);
    let status: BTreeMap<String, String> = items
        .iter()
        .map(|i| (i["name"].as_str().unwrap().to_owned(), i["status"].as_str().unwrap().to_owned()))
        .collect();
    let expected: BTreeMap<String, String> = [
        ("empty", "corrupt"),
        ("flipped", "ok"),
        ("future", "corrupt"),
        ("garbage", "corrupt"),
        ("good", "ok"),
        ("notes.txt", "corrupt"),
        ("random", "corrupt"),
        ("truncated", "corrupt"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    assert_eq!(status, expected);
    assert!(items.iter().filter(|i| i["status"] == "corrupt").all(|i| !i["reason"].as_str().unwrap().is_empty()));
    run(w.seed().args(["snapshot", "verify", "good"]), 0);
}

// ---------------------------------------------------------------------------------
// 5. Held locks
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_delete_refuses_a_held_lock_at_once_and_waits_for_it_with_wait() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "5"]), 0);
    run(w.seed().args(["snapshot", "create", "busy"]), 0);
    let lock_path = dir.join(".locks/busy.lock");
    let lock = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&lock_path).unwrap();
    lock.lock().unwrap();
    (&lock).write_all(format!("pid {} (the test)", std::process::id()).as_bytes()).unwrap();

    let started = Instant::now();
    let out = run(w.seed().args(["snapshot", "delete", "busy"]), 8);
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once, not after {:?}", started.elapsed());
    let text = all_output(&out);
    assert!(text.contains(&format!("snapshot 'busy' is locked by pid {} (the test)", std::process::id())), "{text}");
    assert!(text.contains("--wait"), "the hint mentions --wait:\n{text}");
    assert!(dir.join("busy.seed.gz").exists());
    run(w.seed().args(["snapshot", "create", "busy", "--force"]), 8);

    let mut waiting = Running::spawn(seed_cmd(&w, &["snapshot", "delete", "busy", "--wait"]));
    // It blocks as long as the lock is held.
    let blocked_since = Instant::now();
    while blocked_since.elapsed() < Duration::from_millis(1500) {
        assert!(waiting.is_running(), "delete --wait did not wait: {}", waiting.stderr());
        assert!(dir.join("busy.seed.gz").exists(), "deleted while the lock was held");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(lock);
    let (status, _, stderr) = waiting.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!dir.join("busy.seed.gz").exists());
}
