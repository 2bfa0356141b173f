//! What users see and the snapshot directory's edges: progress on a real terminal
//! (run under `script`, replayed on a small terminal model), colour, plurals, JSON
//! errors, the audit log's outcomes and failures, and readers in a directory they
//! cannot write (run as `nobody`).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::run;
use crate::common::{Workdir, all_output, hold_lock};
use crate::snapshot::{Running, audit_records, seed_cmd};

// ---------------------------------------------------------------------------------
// A terminal, for tests: `script` gives the binary a pseudo-terminal, `Screen` replays
// what it wrote the way a VT100-style terminal shows it.
// ---------------------------------------------------------------------------------

/// Runs `seed ARGS` on a pseudo-terminal of `cols` columns; returns its raw output.
fn on_terminal(w: &Workdir, cols: u16, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let inner = format!(
        "stty cols {cols} rows 40; exec {} {}",
        env!("CARGO_BIN_EXE_seed"),
        args.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" ")
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &inner, "/dev/null"]).current_dir(w.path()).stdin(std::process::Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("SEED_") || k == "DATABASE_URL" || k == "DIRECT_URL" || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run `script` (util-linux): {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The screen a terminal of `cols` columns would show after `raw`: printable text,
/// CR, LF, cursor up/down/column, erase line and below; colour codes are ignored.
/// Counts every line the terminal had to wrap.
struct Screen {
    cols: usize,
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// The cursor sits past the last column; the next character wraps (xterm's rule).
    pending_wrap: bool,
    /// Every line the terminal had to wrap, as it stood then.
    wrapped: Vec<String>,
}

impl Screen {
    fn replay(cols: usize, raw: &str) -> Self {
        let mut s = Screen { cols, lines: vec![vec![]], row: 0, col: 0, pending_wrap: false, wrapped: vec![] };
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => {
                    s.col = 0;
                    s.pending_wrap = false;
                }
                '\n' => s.down(1),
                '\x1b' => {
                    if chars.peek() != Some(&'[') {
                        chars.next();
                        continue;
                    }
                    chars.next();
                    let mut params = String::new();
                    let mut cmd = ' ';
                    for p in chars.by_ref() {
                        if p.is_ascii_alphabetic() || p == '@' || p == '~' {
                            cmd = p;
                            break;
                        }
                        params.push(p);
                    }
                    let n = params.trim_start_matches('?').parse::<usize>().unwrap_or(0);
                    s.pending_wrap = false;
                    match cmd {
                        'A' => s.row = s.row.saturating_sub(n.max(1)),
                        'B' => s.down(n.max(1)),
                        'G' => s.col = n.max(1) - 1,
                        'K' => {
                            let line = &mut s.lines[s.row];
                            match n {
                                0 => line.truncate(s.col),
                                1 => line.iter_mut().take(s.col + 1).for_each(|ch| *ch = ' '),
                                _ => line.clear(),
                            }
                        }
                        'J' => {
                            s.lines[s.row].truncate(s.col);
                            s.lines.truncate(s.row + 1);
                        }
                        _ => {} // colours (m), cursor visibility (l/h)
                    }
                }
                c if c.is_control() => {}
                c => {
                    if s.pending_wrap {
                        s.wrapped.push(s.lines[s.row].iter().collect());
                        s.down(1);
                        s.col = 0;
                        s.pending_wrap = false;
                    }
                    let line = &mut s.lines[s.row];
                    while line.len() < s.col {
                        line.push(' ');
                    }
                    if s.col < line.len() {
                        line[s.col] = c;
                    } else {
                        line.push(c);
                    }
                    if s.col + 1 == s.cols {
                        s.pending_wrap = true;
                    } else {
                        s.col += 1;
                    }
                }
            }
        }
        s
    }

    fn down(&mut self, n: usize) {
        self.row += n;
        while self.lines.len() <= self.row {
            self.lines.push(vec![]);
        }
    }

    fn text(&self) -> Vec<String> {
        self.lines.iter().map(|l| l.iter().collect::<String>().trim_end().to_owned()).collect()
    }
}

#[test]
fn screen_model_wraps_like_a_terminal() {
    let s = Screen::replay(5, "abcde\r\nxy\x1b[1Az\r\n\n123456");
    assert_eq!(s.text(), vec!["abzde", "xy", "12345", "6"]);
    assert_eq!(s.wrapped, vec!["12345"]);
}

// ---------------------------------------------------------------------------------
// Progress (issue 8, item 10) and colour (item 16)
// ---------------------------------------------------------------------------------

const TABLES: [&str; 4] = ["staffs", "offices", "office_staffs", "welfare_recipients"];

#[test]
fn i8_10_progress_bars_fit_the_terminal_and_end_on_the_final_count() {
    for cols in [80u16, 52] {
        let w = Workdir::new();
        let (code, raw) = on_terminal(&w, cols, &["bulk", "--count", "40000"], &[]);
        assert_eq!(code, 0, "{raw}");
        // Bars were drawn (or the test proves nothing).
        assert!(raw.contains("/40,000 rows ("), "no progress bar was drawn:\n{raw}");
        let screen = Screen::replay(usize::from(cols), &raw);
        let text = screen.text();
        let wrapped: Vec<&String> =
            screen.wrapped.iter().filter(|l| l.contains(" rows (") || l.contains(" rows in ")).collect();
        assert!(wrapped.is_empty(), "{cols} columns: progress lines wrapped: {wrapped:?}\n{}", text.join("\n"));
        // One final line per table: its name (cut to fit), count, time and rate.
        let done: Vec<&String> = text.iter().filter(|l| l.contains(" 40,000 rows in ")).collect();
        assert_eq!(done.len(), TABLES.len(), "{cols} columns: final lines:\n{}", text.join("\n"));
        assert!(done.iter().all(|l| l.ends_with("k/s)")), "{done:?}");
        if cols >= 80 {
            for table in TABLES {
                assert!(
                    done.iter().any(|l| l.trim_start().starts_with(&format!("{table} 40,000 rows in "))),
                    "no final line for {table}: {done:?}"
                );
            }
        }
        // No bar is left behind at a stale count, and rates are rounded everywhere.
        assert!(!text.iter().any(|l| l.contains("/40,000")), "{cols} columns: stale bar:\n{}", text.join("\n"));
        let long_rate = regex_like_long_rate(&raw);
        assert!(long_rate.is_none(), "unrounded rate {long_rate:?} in:\n{raw}");
    }
}

/// A rate printed with more than one decimal (`20,445.5032/s`).
fn regex_like_long_rate(raw: &str) -> Option<String> {
    raw.split(|c: char| c.is_whitespace() || c == '(' || c == ',').find_map(|word| {
        let rate = word.strip_suffix("/s")?;
        let decimals = rate.split_once('.').map_or(0, |(_, d)| d.trim_end_matches(['k', 'M']).len());
        (decimals > 1).then(|| word.to_owned())
    })
}

#[test]
fn i8_16_colour_only_on_a_terminal_and_never_with_no_color() {
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "5"]), 0);
    // A terminal: -vv logs are coloured.
    let (code, raw) = on_terminal(&w, 100, &["-vv", "snapshot", "create", "c1"], &[]);
    assert_eq!(code, 0, "{raw}");
    assert!(raw.contains("\x1b[3m") || raw.contains("\x1b[34m") || raw.contains("\x1b[1m"), "no colour:\n{raw}");
    // NO_COLOR on a terminal: no SGR sequence at all.
    let (code, raw) = on_terminal(&w, 100, &["-vv", "snapshot", "create", "c2"], &[("NO_COLOR", "1")]);
    assert_eq!(code, 0, "{raw}");
    assert!(!has_sgr(&raw), "colour despite NO_COLOR:\n{raw:?}");
    // A pipe (no NO_COLOR): plain text.
    let out = w.seed_std().args(["-vv", "snapshot", "create", "c3"]).env_remove("NO_COLOR").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let text = all_output(&out);
    assert!(text.contains("DEBUG") || text.contains("TRACE"), "-vv logs nothing:\n{text}");
    assert!(!text.contains('\x1b'), "escape codes in a pipe:\n{text:?}");
}

/// Select Graphic Rendition (`ESC [ ... m`): colour and bold.
fn has_sgr(raw: &str) -> bool {
    raw.match_indices("\x1b[").any(|(i, _)| {
        let rest = &raw[i + 2..];
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == ';'));
        end.is_some_and(|e| rest[e..].starts_with('m'))
    })
}

#[test]
fn i8_16_plural_forms() {
    let w = Workdir::new();
    let mut seen = Vec::new();
    let mut check = |args: &[&str], code: i32, expected: &[&str]| {
        let text = all_output(&run(w.seed().args(args), code));
        for e in expected {
            assert!(text.contains(e), "{args:?}: no {e:?} in:\n{text}");
        }
        seen.push(text);
    };
    check(&["bulk", "--table", "staffs=1"], 0, &["seeded 1 row into 1 table in "]);
    check(&["snapshot", "create", "one", "--table", "staffs"], 0, &["created: 1 table, 1 row,"]);
    check(&["snapshot", "show", "one"], 0, &["1 table, 1 row\n", "staffs — 1 row,"]);
    check(&["snapshot", "verify", "one"], 0, &["intact: 1 table, 1 row,"]);
    check(&["snapshot", "restore", "one"], 5, &["pre-flight found 1 problem\n", "staffs has 1 row"]);
    check(&["snapshot", "prune", "--keep-last", "0"], 0, &["removed 1 of 1 snapshot"]);
    for text in &seen {
        assert!(!text.contains("(s)") && !text.contains(" 1 rows") && !text.contains(" 1 tables"), "{text}");
    }
}

// ---------------------------------------------------------------------------------
// --log-format json covers argument errors (item 16)
// ---------------------------------------------------------------------------------

#[test]
fn i8_16_json_log_format_covers_argument_errors() {
    let w = Workdir::new();
    for (args, env) in [
        (vec!["--log-format", "json", "bulk", "--bogus"], None),
        (vec!["--log-format", "json", "bulk", "--bogus"], Some("text")),
        (vec!["bulk", "--log-format=json", "--count", "many"], None),
        (vec!["snapshot", "create"], Some("json")),
        (vec!["--log-format", "json", "snapshot"], None),
    ] {
        let mut cmd = w.seed();
        cmd.args(&args);
        if let Some(v) = env {
            cmd.env("SEED_LOG_FORMAT", v);
        }
        let out = run(&mut cmd, 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one JSON event, got:\n{stderr}");
        let event: Value =
            serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stderr}"));
        assert_eq!(event["event"], "command_failed", "{event}");
        assert_eq!(event["level"], "error", "{event}");
        assert_eq!(event["exit_code"], 2, "{event}");
        assert!(!event["message"].as_str().unwrap().is_empty(), "{event}");
        assert!(event["hint"].as_str().unwrap().contains("--help"), "{event}");
    }
    // --help is not an error: it stays text on stdout.
    let out = run(w.seed().args(["--log-format", "json", "bulk", "--help"]), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: seed bulk"));
    // Without JSON, clap's own text.
    let out = run(w.seed().args(["bulk", "--bogus"]), 2);
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: unexpected argument '--bogus'"));
}

// ---------------------------------------------------------------------------------
// The audit log: `interrupted` (item 16) and failures that are not silent (issue 14)
// ---------------------------------------------------------------------------------

#[test]
fn i8_16_sigint_is_audited_as_interrupted_by_every_auditing_command() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "5"]), 0);
    run(w.seed().args(["snapshot", "create", "base"]), 0);
    let lock = hold_lock(&dir, "base");
    let cases: [&[&str]; 3] = [
        &["snapshot", "create", "base", "--force", "--wait"],
        &["snapshot", "delete", "base", "--wait"],
        &["snapshot", "prune", "--keep-last", "0", "--wait"],
    ];
    for args in cases {
        let before = audit_records(&dir).len();
        let mut running = Running::spawn(seed_cmd(&w, &[&["-v"], args].concat()));
        // Waiting for the lock we hold: nothing can finish before the signal.
        // Signalled right after it says so: the handlers are in place before any command
        // starts (a gap here once killed `snapshot delete` without exit 130 or a record).
        running.wait_for_lock();
        assert!(running.is_running(), "{args:?} did not wait: {}", running.stderr());
        running.signal(libc::SIGINT);
        let (status, _, stderr) = running.finish(Duration::from_secs(20));
        assert_eq!(status.code(), Some(130), "{args:?}: {stderr}");
        let records = audit_records(&dir);
        assert_eq!(records.len(), before + 1, "{args:?}: {records:?}");
        let last = records.last().unwrap();
        assert_eq!(last["command"], format!("snapshot {}", args[1]), "{last}");
        assert_eq!(last["outcome"], "interrupted", "{args:?}: {last}");
        assert!(last["error"].is_null(), "{last}");
    }
    drop(lock);
    assert!(dir.join("base.seed.gz").exists());
}

#[test]
fn i14_an_unwritable_audit_log_is_reported_and_the_outcome_stands() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "5"]), 0);
    for name in ["a", "b", "c"] {
        run(w.seed().args(["snapshot", "create", name]), 0);
    }
    // A full file system: every write to the log fails with ENOSPC.
    std::fs::remove_file(dir.join("audit.log")).unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.join("audit.log")).unwrap();
    let out = run(w.seed().args(["snapshot", "delete", "a"]), 0);
    let text = all_output(&out);
    assert!(!dir.join("a.seed.gz").exists(), "the delete itself must happen");
    // The directory as given (here the default, relative to the working directory).
    let shown = "snapshots/audit.log";
    assert!(text.contains("could not write the audit log") && text.contains(shown), "{text}");
    assert!(text.contains("No space left on device"), "{text}");
    // A failing command keeps its own exit code (6: no such snapshot).
    let out = run(w.seed().args(["snapshot", "delete", "nope"]), 6);
    assert!(all_output(&out).contains("could not write the audit log"), "{}", all_output(&out));
    // JSON: an audit_failed event with the path and the reason.
    let out = run(w.seed().args(["--log-format", "json", "snapshot", "delete", "b"]), 0);
    let events: Vec<Value> =
        String::from_utf8_lossy(&out.stderr).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let failed = events.iter().find(|e| e["event"] == "audit_failed").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(failed["path"], shown);
    assert!(failed["reason"].as_str().unwrap().contains("No space left"), "{failed}");
    assert_eq!(failed["outcome"], "ok");
    assert_eq!(failed["level"], "warn");

    // A permission error: the log belongs to root, the command runs as nobody.
    std::fs::remove_file(dir.join("audit.log")).unwrap();
    std::fs::write(dir.join("audit.log"), "").unwrap();
    std::fs::set_permissions(dir.join("audit.log"), std::fs::Permissions::from_mode(0o644)).unwrap();
    open_to_all(w.path());
    chmod(&dir, 0o777);
    chmod(&dir.join(".locks"), 0o777);
    chmod(&dir.join(".locks/c.lock"), 0o666);
    let out = as_nobody(&w, &["snapshot", "delete", "c"]);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!dir.join("c.seed.gz").exists());
    assert!(text.contains("could not write the audit log") && text.contains("Permission denied"), "{text}");
    assert_eq!(std::fs::read_to_string(dir.join("audit.log")).unwrap(), "");
}

// ---------------------------------------------------------------------------------
// Readers in a directory they cannot write (item 11)
// ---------------------------------------------------------------------------------

/// The binary as `nobody` can run it: itself when every directory above it lets
/// others through, else a copy in a temp directory, removed when the tests end.
fn nobody_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    static COPY_DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn remove_copy() {
        if let Some(dir) = COPY_DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    BIN.get_or_init(|| {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_seed"));
        let others_may = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0);
        if others_may(&bin) && bin.ancestors().skip(1).all(others_may) {
            return bin;
        }
        let dir = tempfile::Builder::new().prefix("seed-bin-").tempdir().unwrap().keep();
        chmod(&dir, 0o755);
        let copy = dir.join("seed");
        std::fs::copy(&bin, &copy).unwrap();
        chmod(&copy, 0o755);
        COPY_DIR.set(dir).unwrap();
        // SAFETY: registering a plain extern "C" fn with atexit.
        unsafe { libc::atexit(remove_copy) };
        copy
    })
}

pub const NOBODY: u32 = 65534;

/// `seed ARGS` in `w` as the unprivileged `nobody` (uid/gid 65534).
pub fn as_nobody(w: &Workdir, args: &[&str]) -> Output {
    let mut cmd = Command::new(nobody_binary());
    cmd.current_dir(w.path()).uid(NOBODY).gid(NOBODY).env("HOME", "/tmp").env("NO_COLOR", "1").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("SEED_") || k == "DATABASE_URL" || k == "DIRECT_URL" {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    assert!(!all_output(&out).contains("panicked"), "{}", all_output(&out));
    out
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The workdir (a 0700 temp dir) readable by everyone, and its files readable.
pub fn open_to_all(dir: &Path) {
    chmod(dir, 0o755);
}

/// Every file and directory under `dir`, sorted, with its mode.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            out.push(format!("{} {:o} {}", e.path().display(), meta.permissions().mode(), meta.len()));
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn i8_11_readers_work_in_a_read_only_snapshot_directory() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "20"]), 0);
    run(w.seed().args(["snapshot", "create", "locked"]), 0);
    run(w.seed().args(["snapshot", "create", "nolock"]), 0);
    // `locked` keeps its lock file (read-only to nobody); `nolock` has none, and
    // nobody cannot create one.
    std::fs::remove_file(dir.join(".locks/nolock.lock")).unwrap();
    open_to_all(w.path());
    for p in [dir.join("locked.seed.gz"), dir.join("nolock.seed.gz"), dir.join(".locks/locked.lock")] {
        chmod(&p, 0o444);
    }
    chmod(&dir.join(".locks"), 0o555);
    chmod(&dir, 0o555);
    // The target database for restore: a copy nobody may write, in a directory nobody may write.
    let target = tempfile::Builder::new().prefix("seed-ro-target-").tempdir().unwrap();
    chmod(target.path(), 0o777);
    let target_db = target.path().join("target.db");
    std::fs::copy(w.path().join("seed.db"), &target_db).unwrap();
    std::os::unix::fs::chown(&target_db, Some(NOBODY), Some(NOBODY)).unwrap();
    let before = tree(&dir);

    for name in ["locked", "nolock"] {
        let out = as_nobody(&w, &["snapshot", "show", name]);
        assert_eq!(out.status.code(), Some(0), "show {name}: {}", all_output(&out));
        let out = as_nobody(&w, &["snapshot", "verify", name]);
        assert_eq!(out.status.code(), Some(0), "verify {name}: {}", all_output(&out));
        let url = format!("sqlite://{}", target_db.display());
        let out = as_nobody(&w, &["--database-url", &url, "snapshot", "restore", name, "--clean"]);
        assert_eq!(out.status.code(), Some(0), "restore {name}: {}", all_output(&out));
    }
    let out = as_nobody(&w, &["snapshot", "diff", "locked", "nolock"]);
    assert_eq!(out.status.code(), Some(0), "diff: {}", all_output(&out));
    let out = as_nobody(&w, &["snapshot", "list"]);
    assert_eq!(out.status.code(), Some(0), "list: {}", all_output(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nolock"));
    // -v says when a reader goes without its lock.
    let out = as_nobody(&w, &["-v", "snapshot", "show", "nolock"]);
    let text = all_output(&out);
    assert!(text.contains("reading without a shared lock") && text.contains("nolock.lock"), "{text}");
    let out = as_nobody(&w, &["-v", "snapshot", "show", "locked"]);
    assert!(!all_output(&out).contains("without a shared lock"), "{}", all_output(&out));
    // Writers are still refused, with the permission code.
    let out = as_nobody(&w, &["snapshot", "delete", "locked"]);
    assert_eq!(out.status.code(), Some(11), "{}", all_output(&out));
    assert_eq!(tree(&dir), before, "readers changed the read-only directory");
    chmod(&dir, 0o755);
}

// ---------------------------------------------------------------------------------
// diff takes shared locks (issue 15, item 4)
// ---------------------------------------------------------------------------------

#[test]
fn i15_4_diff_takes_the_shared_locks_of_both_names() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["bulk", "--count", "5"]), 0);
    run(w.seed().args(["snapshot", "create", "a"]), 0);
    run(w.seed().args(["bulk", "--count", "1"]), 0);
    run(w.seed().args(["snapshot", "create", "b"]), 0);
    for held in ["a", "b"] {
        let lock = hold_lock(&dir, held);
        let started = Instant::now();
        let out = run(w.seed().args(["snapshot", "diff", "a", "b"]), 8);
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = all_output(&out);
        assert!(text.contains(&format!("snapshot '{held}' is locked by pid 1 (the test)")), "{text}");
        // --wait queues behind the holder, then diffs.
        let mut waiting = Running::spawn(seed_cmd(&w, &["-v", "snapshot", "diff", "b", "a", "--wait"]));
        waiting.wait_for_lock();
        assert!(waiting.is_running(), "diff --wait did not wait: {}", waiting.stderr());
        drop(lock);
        let (status, stdout, stderr) = waiting.finish(Duration::from_secs(20));
        assert_eq!(status.code(), Some(12), "{stdout}{stderr}");
    }
    // Shared, not exclusive: another reader's shared lock does not stop a diff.
    let reader = std::fs::File::open(dir.join(".locks/a.lock")).unwrap();
    reader.lock_shared().unwrap();
    run(w.seed().args(["snapshot", "diff", "a", "b"]), 12);
    let out = run(w.seed().args(["snapshot", "diff", "a", "a"]), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("the same rows"));
}
