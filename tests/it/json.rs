//! r11.3: `--json` on every command that reports: one JSON object on stdout with
//! `"json_version": 1`, human messages on stderr, `-q` silences stderr but not the JSON,
//! and on an error stdout stays empty. r19.5: every document starts with `json_version`
//! then `command` (the documented order), checked over every command clap knows.

use std::cell::RefCell;
use std::collections::BTreeSet;

use clap::CommandFactory;
use serde_json::Value;

use crate::common::{TestDb, Workdir, all_output, assert_no_password};

/// Runs seed, checks the exit code, and parses stdout as exactly one JSON object whose
/// first keys are `json_version` (1) and `command`.
fn doc(w: &Workdir, args: &[&str], code: i32) -> (Value, String) {
    let out = w.seed().args(args).output().unwrap();
    assert_no_password(&out);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(code), "seed {args:?}:\n{text}");
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let mut stream = serde_json::Deserializer::from_str(&stdout).into_iter::<Value>();
    let first = stream.next().unwrap_or_else(|| panic!("seed {args:?} printed no JSON:\n{text}")).unwrap();
    assert!(stream.next().is_none(), "seed {args:?} printed more than one JSON value:\n{stdout}");
    assert!(first.is_object(), "{first}");
    assert_eq!(first["json_version"], 1, "{first}");
    // serde_json keeps the document's order here (preserve_order): the text's own order.
    let keys: Vec<&String> = first.as_object().unwrap().keys().take(2).collect();
    assert_eq!(keys, ["json_version", "command"], "seed {args:?}: the documented order:\n{stdout}");
    assert!(stdout.trim_start().starts_with("{\n  \"json_version\": 1,\n  \"command\": "), "{stdout}");
    (first, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Every command path clap knows (`snapshot create`, `doctor`, ...), leaves only.
fn leaf_commands(cmd: &clap::Command, prefix: &str, out: &mut BTreeSet<String>) {
    for sub in cmd.get_subcommands() {
        let path = if prefix.is_empty() { sub.get_name().to_owned() } else { format!("{prefix} {}", sub.get_name()) };
        if sub.has_subcommands() {
            leaf_commands(sub, &path, out);
        } else {
            out.insert(path);
        }
    }
}

#[test]
fn r11_3_every_reporting_command_prints_one_json_object() {
    let db = TestDb::with_demo_schema("json_all");
    let w = Workdir::new();
    let url = db.url();
    let u = ["--database-url", url.as_str()];
    let with = |rest: &[&str]| -> Vec<String> { u.iter().chain(rest).map(|s| (*s).to_owned()).collect() };
    let seen = RefCell::new(BTreeSet::new());
    let run = |rest: &[&str], code: i32| {
        let args = with(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (d, stderr) = doc(&w, &args, code);
        seen.borrow_mut().insert(d["command"].as_str().unwrap().to_owned());
        (d, stderr)
    };
    // The flag before and after the subcommand.
    let (d, _) = run(&["--json", "bulk", "--count", "20", "--dry-run"], 0);
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["plan"]["tables"].as_array().unwrap().len(), 4, "{d}");
    let (d, stderr) = run(&["bulk", "--count", "20", "--json", "--no-progress"], 0);
    assert_eq!(d["summary"]["rows"], 80, "{d}");
    assert!(stderr.contains("seeded 80 rows"), "the human summary stays on stderr: {stderr}");
    let (d, _) = run(&["snapshot", "create", "a", "--json"], 0);
    assert_eq!(d["rows"], 80);
    let (d, _) = run(&["snapshot", "mask", "a", "masked", "--mask", "auto", "--dry-run", "--json"], 0);
    assert_eq!((d["dry_run"].as_bool(), d["source"].as_str()), (Some(true), Some("a@1")), "{d}");
    let out = w.seed().args(with(&["bulk", "--count", "3", "--no-progress"])).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(out.stdout.starts_with(b"seeded") || !out.stdout.starts_with(b"{"), "no JSON without --json");
    run(&["snapshot", "create", "b", "--json"], 0);
    let (d, _) = run(&["snapshot", "list", "--json"], 0);
    assert_eq!(d["snapshots"].as_array().unwrap().len(), 2, "{d}");
    let (d, _) = run(&["snapshot", "show", "a", "--json"], 0);
    assert_eq!(d["header"]["name"], "a");
    let (d, _) = run(&["snapshot", "verify", "a", "--json"], 0);
    assert_eq!(d["intact"], true);
    assert_eq!(d["tables"].as_array().unwrap().len(), 4);
    // Differences are the result: the report is printed, exit 12.
    let (d, _) = run(&["snapshot", "verify", "a", "--against-db", "--json"], 12);
    assert_eq!(d["matches"], false);
    assert!(d["tables"].as_array().unwrap().iter().all(|t| t["status"] == "differs"), "{d}");
    let (d, _) = run(&["snapshot", "diff", "a", "b", "--json", "--rows"], 12);
    assert_eq!(d["differs"], true);
    assert!(d["tables"].as_array().unwrap().iter().all(|t| t["added"] == 3), "{d}");
    let (d, _) = run(&["snapshot", "restore", "a", "--clean", "--dry-run", "--json"], 0);
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["tables"].as_array().unwrap().len(), 4);
    let (d, _) = run(&["snapshot", "restore", "a", "--clean", "--json", "--no-progress"], 0);
    assert_eq!(d["summary"]["rows"], 80);
    let (d, _) = run(&["snapshot", "prune", "--keep-last", "1", "--dry-run", "--json"], 0);
    assert_eq!(d["dry_run"], true);
    assert_eq!(d["removed"].as_array().unwrap().len(), 1, "{d}");
    let (d, _) = run(&["snapshot", "delete", "b", "--json"], 0);
    assert_eq!(d["deleted"][0]["name"], "b");
    let (d, _) = run(&["doctor", "--json"], 0);
    assert_eq!(d["healthy"], true);
    let (d, _) = run(&["snapshot", "profile", "a", "--json"], 0);
    assert!(d["factories"].as_str().unwrap().contains("[tables."), "{d}");
    let elsewhere = w.path().join("elsewhere");
    let (d, _) = run(&["snapshot", "push", "a", "--to", elsewhere.to_str().unwrap(), "--json"], 0);
    assert_eq!((d["name"].as_str(), d["bases"].as_array().map(Vec::len)), (Some("a"), Some(0)), "{d}");
    run(&["snapshot", "delete", "a", "--json"], 0);
    let (d, _) = run(&["snapshot", "pull", "a", "--from", elsewhere.to_str().unwrap(), "--json"], 0);
    assert_eq!(d["verified"], true, "{d}");
    let (d, _) = run(&["prepare", "p", "--count", "5", "--template", "--json", "--no-progress"], 0);
    assert_eq!(d["action"], "seeded", "{d}");
    assert_eq!(d["template"]["database"], format!("{}_seed_p_tpl", db.name), "{d}");
    // `clone NAME --json` prints URLs with the password by design (tests/it/clone.rs checks
    // that document); --gc's document holds none.
    let (d, _) = run(&["clone", "--gc", "--json"], 0);
    assert_eq!(d["dropped"].as_array().map(Vec::len), Some(0), "{d}");
    crate::common::server()
        .psql("postgres", &format!("ALTER DATABASE \"{}_seed_p_tpl\" WITH IS_TEMPLATE false", db.name));
    crate::common::server().psql("postgres", &format!("DROP DATABASE \"{}_seed_p_tpl\"", db.name));
    // Every command clap knows was run above, except the two that print a script or a
    // manual page generated from the definitions (their output is that text).
    let mut all = BTreeSet::new();
    leaf_commands(&seed::cli::Cli::command(), "", &mut all);
    let generated: BTreeSet<String> = ["completions", "man"].map(str::to_owned).into();
    let missing: Vec<&String> = all.difference(&generated).filter(|c| !seen.borrow().contains(*c)).collect();
    assert!(missing.is_empty(), "commands whose --json document was not checked: {missing:?}");
}

#[test]
fn r11_3_quiet_silences_stderr_not_the_json_and_errors_leave_stdout_empty() {
    let w = Workdir::new();
    let (d, stderr) = doc(&w, &["-q", "--json", "bulk", "--count", "5"], 0);
    assert_eq!(d["summary"]["rows"], 20);
    assert!(stderr.is_empty(), "-q: {stderr}");
    // An error: nothing on stdout, the error on stderr (as a JSON event with --log-format json).
    for extra in [&[][..], &["--log-format", "json"][..]] {
        let out = w.seed().args(extra).args(["--json", "snapshot", "show", "nope"]).output().unwrap();
        assert_eq!(out.status.code(), Some(6), "{}", all_output(&out));
        assert!(out.stdout.is_empty(), "stdout: {}", String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if extra.is_empty() {
            assert!(stderr.contains("no snapshot named 'nope'"), "{stderr}");
        } else {
            let event: Value = serde_json::from_str(stderr.lines().last().unwrap()).unwrap();
            assert_eq!(event["event"], "command_failed");
            assert_eq!(event["exit_code"], 6);
        }
    }
}
