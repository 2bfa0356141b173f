//! Issue 21 ("Trust II"), through the binary: snapshot files whose header names
//! another snapshot or version than their key, in a directory and in a bucket.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::common::run;
use crate::common::s3::Store;
use crate::common::{Workdir, all_output};
use crate::versions::{empty_copy, sqlite_exec, sqlite_state, sqlite_workdir};

fn snaps(w: &Workdir) -> std::path::PathBuf {
    w.path().join("snapshots")
}

/// `seed --no-progress ARGS` in `w` (its SQLite default and `./snapshots`).
fn seed(w: &Workdir, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = w.seed();
    cmd.arg("--no-progress").args(args);
    cmd
}

/// Runs `args` expecting exit 7 with the reason that the file holds another snapshot.
fn refused_as_renamed(w: &Workdir, args: &[&str], holds: &str) -> Output {
    let out = run(&mut seed(w, args), 7);
    let text = all_output(&out);
    assert!(
        text.contains(&format!("it holds snapshot '{holds}'")) && text.contains("is corrupt"),
        "seed {args:?} does not say the file holds {holds}:\n{text}"
    );
    out
}

/// The demo database changed a little (so each version differs from the last).
fn change(db: &Path, n: u32) {
    sqlite_exec(db, &format!("UPDATE staffs SET name = 'v{n} ' || name WHERE rowid % 10 = {n};"));
}

/// `list --json` of `w`, every item by its name.
fn listed(w: &Workdir, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "snapshot", "list"];
    args.extend_from_slice(extra);
    let out = run(&mut seed(w, &args), 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// r21.1: versions swapped by renaming, another snapshot copied over a version's
/// key, and a base renamed inside a chain are corrupt (exit 7) for every command that
/// reads them; `list` shows them as CORRUPT with the reason; nothing is restored.
#[test]
fn r21_1_a_file_whose_header_names_another_snapshot_is_corrupt_for_every_command() {
    let (w, db) = sqlite_workdir();
    let dir = snaps(&w);
    run(&mut seed(&w, &["snapshot", "create", "v"]), 0);
    for n in 2..=3 {
        change(&db, n);
        run(&mut seed(&w, &["snapshot", "create", "v", "--new-version"]), 0);
    }
    change(&db, 4);
    run(&mut seed(&w, &["snapshot", "create", "w"]), 0);
    let target = w.path().join("target.db");
    empty_copy(&db, &target);
    let empty = sqlite_state(&target);
    let url = format!("sqlite://{}", target.display());

    // v@2 and v@3 swapped.
    let (v2, v3) = (dir.join("v@2.seed.gz"), dir.join("v@3.seed.gz"));
    std::fs::rename(&v2, dir.join("t")).unwrap();
    std::fs::rename(&v3, &v2).unwrap();
    std::fs::rename(dir.join("t"), &v3).unwrap();
    let other = w.path().join("other");
    let key = w.path().join("mask.key");
    std::fs::write(&key, "a-masking-key-of-32-characters!!").unwrap();
    for args in [
        &["--database-url", &url, "snapshot", "restore", "v@3"][..],
        &["--database-url", &url, "snapshot", "restore", "v"],
        &["--database-url", &url, "snapshot", "restore", "v@2", "--dry-run"],
        &["snapshot", "verify", "v@3"],
        &["snapshot", "verify", "v"],
        &["snapshot", "show", "v@3"],
        &["--json", "snapshot", "show", "v"],
        &["snapshot", "diff", "v@1", "v@3"],
        &["snapshot", "profile", "v"],
        &["snapshot", "push", "v@3", "--to", other.to_str().unwrap()],
        &["snapshot", "create", "v", "--new-version"],
        &["snapshot", "create", "x", "--base", "v@2"],
        &["snapshot", "mask", "v@3", "vm", "--mask", "auto", "--dry-run"],
        &["snapshot", "mask", "v", "vm", "--mask", "auto", "--mask-key-file", key.to_str().unwrap()],
    ] {
        let holds = if args.contains(&"v@2") { "v@3" } else { "v@2" };
        refused_as_renamed(&w, args, holds);
    }
    assert_eq!(sqlite_state(&target), empty, "nothing restored");
    assert!(
        !other.join("v@3.seed.gz").exists()
            && !dir.join("x.seed.gz").exists()
            && !dir.join("v@4.seed.gz").exists()
            && !dir.join("vm.seed.gz").exists()
    );
    // verify --against-db reads the header first: refused before any comparison.
    refused_as_renamed(&w, &["snapshot", "verify", "v@2", "--against-db"], "v@3");

    // list: the latest version of v is corrupt, with the reason; list v: both.
    let doc = listed(&w, &[]);
    let v = doc["snapshots"].as_array().unwrap().iter().find(|i| i["name"] == "v").unwrap().clone();
    assert_eq!(v["status"], "corrupt", "{doc}");
    assert!(v["reason"].as_str().unwrap().contains("it holds snapshot 'v@2'"), "{doc}");
    let doc = listed(&w, &["v"]);
    let statuses: Vec<&str> =
        doc["versions"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "corrupt", "corrupt"], "{doc}");
    let out = run(&mut seed(&w, &["snapshot", "list", "v"]), 0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with("v@3 ")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("CORRUPT") && line.contains("it holds snapshot 'v@2'"), "{text}");
    // The way out: delete what is corrupt (delete reads no header of what it removes).
    run(&mut seed(&w, &["snapshot", "delete", "v@3"]), 0);
    run(&mut seed(&w, &["snapshot", "delete", "v@2"]), 0);
    run(&mut seed(&w, &["snapshot", "verify", "v"]), 0);

    // Another snapshot copied over a version's key: `v` resolves to v@5, which holds w.
    std::fs::copy(dir.join("w.seed.gz"), dir.join("v@5.seed.gz")).unwrap();
    refused_as_renamed(&w, &["--database-url", &url, "snapshot", "restore", "v"], "w@1");
    refused_as_renamed(&w, &["snapshot", "verify", "v@5"], "w@1");
    assert_eq!(sqlite_state(&target), empty, "nothing restored");
    std::fs::remove_file(dir.join("v@5.seed.gz")).unwrap();

    // Inside a chain: versions of identical content (each stored as references to the
    // one below) hold the same content checksum, so only the names tell them apart.
    run(&mut seed(&w, &["snapshot", "create", "same"]), 0);
    run(&mut seed(&w, &["snapshot", "create", "same", "--new-version"]), 0);
    run(&mut seed(&w, &["snapshot", "create", "same", "--new-version"]), 0);
    let (s1, s2, s3) = (dir.join("same.seed.gz"), dir.join("same@2.seed.gz"), dir.join("same@3.seed.gz"));
    // same@1 and same@2 swapped: same@3's base (key same@2) holds same@1.
    std::fs::rename(&s1, dir.join("t")).unwrap();
    std::fs::rename(&s2, &s1).unwrap();
    std::fs::rename(dir.join("t"), &s2).unwrap();
    refused_as_renamed(&w, &["--database-url", &url, "snapshot", "restore", "same@3"], "same@1");
    refused_as_renamed(&w, &["snapshot", "verify", "same"], "same@1");
    let doc = listed(&w, &["same"]);
    let base_status = &doc["versions"][2]["base_status"];
    assert_eq!(base_status, "corrupt", "{doc}");
    // A loop made by renaming (same@3, built on same@2, put under same@1's key, which
    // same@2 is built on): corrupt (exit 7), not "missing" (exit 6).
    std::fs::rename(&s1, &s2).unwrap(); // same@2 back (it held same@2's bytes)
    std::fs::rename(&s3, &s1).unwrap();
    refused_as_renamed(&w, &["--database-url", &url, "snapshot", "restore", "same@2"], "same@3");
    // show never fails for a broken chain: it says so.
    let out = run(&mut seed(&w, &["snapshot", "show", "same"]), 0);
    let text = all_output(&out);
    assert!(text.contains("BROKEN") && text.contains("it holds snapshot 'same@3'"), "{text}");
    assert_eq!(sqlite_state(&target), empty, "nothing restored");
}

/// r21.1 in a bucket: the same checks through the store (keys, ranged reads).
#[test]
fn r21_1_a_renamed_or_copied_object_is_corrupt_in_a_bucket() {
    let store = Store::new("renamed");
    let (w, db) = sqlite_workdir();
    let dir = snaps(&w);
    run(&mut seed(&w, &["snapshot", "create", "v"]), 0);
    change(&db, 2);
    run(&mut seed(&w, &["snapshot", "create", "v", "--new-version"]), 0);
    change(&db, 3);
    run(&mut seed(&w, &["snapshot", "create", "w"]), 0);
    let in_bucket = |args: &[&str]| {
        let mut cmd = seed(&w, &[]);
        store.apply(&mut cmd).args(args);
        cmd
    };
    store.put("v.seed.gz", std::fs::read(dir.join("v.seed.gz")).unwrap());
    // v@2's key holds w; v@3's key holds v@2.
    store.put("v@2.seed.gz", std::fs::read(dir.join("w.seed.gz")).unwrap());
    store.put("v@3.seed.gz", std::fs::read(dir.join("v@2.seed.gz")).unwrap());
    let target = w.path().join("target.db");
    empty_copy(&db, &target);
    let empty = sqlite_state(&target);
    let url = format!("sqlite://{}", target.display());
    for (args, holds) in [
        (&["--database-url", &url, "snapshot", "restore", "v"][..], "v@2"),
        (&["--database-url", &url, "snapshot", "restore", "v@2"], "w@1"),
        (&["snapshot", "verify", "v@3"], "v@2"),
        (&["snapshot", "show", "v@2"], "w@1"),
    ] {
        let out = run(&mut in_bucket(args), 7);
        let text = all_output(&out);
        assert!(text.contains(&format!("it holds snapshot '{holds}'")), "{args:?}:\n{text}");
        assert!(!text.contains(&store.server.secret), "{text}");
    }
    assert_eq!(sqlite_state(&target), empty, "nothing restored");
    let out = run(&mut in_bucket(&["--json", "snapshot", "list", "v"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<&str> =
        doc["versions"].as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ok", "corrupt", "corrupt"], "{doc}");
    // pull refuses it too, and nothing appears locally.
    let pulled = Workdir::new();
    let mut cmd = seed(&pulled, &["snapshot", "pull", "v@3", "--from", &store.url()]);
    store.env(&mut cmd);
    let out = run(&mut cmd, 7);
    assert!(all_output(&out).contains("it holds snapshot 'v@2'"), "{}", all_output(&out));
    assert!(!snaps(&pulled).join("v@3.seed.gz").exists());
}

/// r21.8: a damaged member that inflates cleanly (its CRC made right) into a row the
/// database refuses, in the first MiB of a large table: the database complains long
/// before the table's checksum is reached. The restore exits 7 (corrupt), as `verify`
/// says, not 4 (bad data); nothing is written.
#[test]
fn r21_8_a_restore_meeting_a_damaged_member_exits_corrupt_not_bad_data() {
    use std::io::{Read, Write};
    let db = crate::common::TestDb::new("r21_8");
    db.load_sql(
        "CREATE TABLE big (id int PRIMARY KEY, n int NOT NULL, s text);
         INSERT INTO big SELECT g, g, repeat('x', 20) FROM generate_series(1, 400000) g;",
    );
    let w = Workdir::new();
    let url = db.url();
    run(&mut seed(&w, &["--database-url", &url, "snapshot", "create", "big", "--compression-level", "0"]), 0);
    let path = snaps(&w).join("big.seed.gz");
    let header = crate::snapshot::header_of(&path);
    let offset = usize::try_from(header["tables"][0]["offset"].as_u64().unwrap()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // The table's first member, inflated, one value made non-numeric, deflated again
    // the same way (stored blocks: the same size), so its gzip CRC is right.
    let mut dec = flate2::bufread::GzDecoder::new(&bytes[offset..]);
    let mut raw = Vec::new();
    dec.read_to_end(&mut raw).unwrap();
    let member_len = bytes.len() - offset - dec.into_inner().len();
    let row = raw.windows(6).position(|win| win == b"\n1000\t").unwrap() + 6;
    assert_eq!(&raw[row..row + 5], b"1000\t");
    raw[row] = b'x';
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(0));
    enc.write_all(&raw).unwrap();
    let member = enc.finish().unwrap();
    assert_eq!(member.len(), member_len, "a stored member's size depends on its length only");
    let mut damaged = bytes[..offset].to_vec();
    damaged.extend_from_slice(&member);
    damaged.extend_from_slice(&bytes[offset + member_len..]);
    std::fs::write(&path, damaged).unwrap();

    run(&mut seed(&w, &["snapshot", "verify", "big"]), 7);
    db.load_sql("TRUNCATE big");
    let out = run(&mut seed(&w, &["--database-url", &url, "snapshot", "restore", "big"]), 7);
    let text = all_output(&out);
    assert!(text.contains("is corrupt") && text.contains("the database had refused its rows"), "{text}");
    assert_eq!(db.count("big"), 0, "nothing restored");
}

/// r21.8: credentials the store refuses exit 11 whatever part of them is wrong: a
/// bogus session token is not "is the store reachable?" (exit 3).
#[test]
fn r21_8_a_bogus_session_token_is_refused_credentials() {
    let moto = crate::common::s3::Moto::start(true);
    let store = Store::on(&moto, "token");
    let (w, _) = sqlite_workdir();
    let mut cmd = seed(&w, &[]);
    run(store.apply(&mut cmd).args(["snapshot", "create", "t"]), 0);
    moto.enable_auth();
    for args in [
        &["snapshot", "show", "t@1"][..],
        &["snapshot", "restore", "t@1", "--clean"],
        &["snapshot", "create", "u"],
        &["doctor"],
    ] {
        let mut cmd = seed(&w, &[]);
        store.apply(&mut cmd).env("AWS_SESSION_TOKEN", "Bogus-Session-Token-9f2e").args(args);
        let out = cmd.output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(11), "{args:?}: {text}");
        assert!(text.contains("credentials"), "{args:?}: {text}");
        assert!(!text.contains("Bogus-Session-Token-9f2e") && !text.contains(&moto.secret), "{text}");
    }
}

/// r21.8: a statement timeout longer than the servers take (≥ 2^31 ms) is refused
/// before anything connects (exit 2) from every source; the longest allowed works.
#[test]
fn r21_8_a_statement_timeout_the_server_cannot_take_is_a_usage_error() {
    let db = crate::common::TestDb::with_demo_schema("r21_8_st");
    let w = Workdir::new();
    let url = db.url();
    let out = run(&mut seed(&w, &["--database-url", &url, "--statement-timeout", "30d", "doctor"]), 2);
    assert!(all_output(&out).contains("statement timeout 30days (from --statement-timeout)"), "{}", all_output(&out));
    let mut cmd = seed(&w, &["--database-url", &url, "bulk", "--count", "5"]);
    let out = run(cmd.env("SEED_STATEMENT_TIMEOUT", "25d"), 2);
    assert!(all_output(&out).contains("SEED_STATEMENT_TIMEOUT"), "{}", all_output(&out));
    std::fs::write(w.path().join("seed.toml"), "statement-timeout = \"30d\"\n").unwrap();
    let out = run(&mut seed(&w, &["--database-url", &url, "snapshot", "create", "s"]), 2);
    assert!(all_output(&out).contains("seed.toml"), "{}", all_output(&out));
    assert_eq!(db.count("staffs"), 0);
    run(&mut seed(&w, &["--database-url", &url, "--statement-timeout", "24d", "bulk", "--count", "5"]), 0);
    assert_eq!(db.count("staffs"), 5);
}

/// r21.8: an AWS profile file path that is a directory is a usage error naming it
/// (exit 2), not an internal error (exit 1).
#[test]
fn r21_8_an_aws_profile_path_that_is_a_directory_is_a_usage_error() {
    let store = Store::new("profdir");
    let w = Workdir::new();
    for var in ["AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"] {
        let mut cmd = seed(&w, &["snapshot", "list"]);
        store.apply(&mut cmd).env(var, w.path());
        let out = run(&mut cmd, 2);
        let text = all_output(&out);
        assert!(text.contains("a directory, not an AWS profile file"), "{var}: {text}");
    }
}

// ---------------------------------------------------------------------------------
// r21.2-4: secrets through every door
// ---------------------------------------------------------------------------------

/// Passwords made of two distinctive halves around a character that breaks naive
/// parsing (as in `redact`'s unit corpus); the halves must never show.
fn passwords() -> Vec<String> {
    let seps = [
        "", "@", "#", "/", "?", ":", " ", "\0", "\u{1b}", "\u{7f}", "%", "%40", "&", "=", "\\", "'", "\"", "é",
        "\u{202e}", "\u{1}",
    ];
    seps.iter().map(|s| format!("Zq7{s}Pw9x")).collect()
}

const HALVES: [&str; 2] = ["Zq7", "Pw9x"];

/// URL-like values holding `pw` wherever a password could stand.
fn url_shapes(pw: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in ["postgres", "postgresql", "mysql", "mariadb", "sqlite", "pg", "http"] {
        out.extend([
            format!("{s}://app:{pw}@127.0.0.1:1/d"),
            format!("{s}:app:{pw}@127.0.0.1:1/d"),
            format!("{s}:{pw}@127.0.0.1:1/d"),
            format!("{s}:/app:{pw}@127.0.0.1:1/d"),
            format!("{s}://127.0.0.1:1/d?sslmode=disable&password={pw}"),
            format!("{s}://app:{pw}@127.0.0.1:1/d#frag"),
            format!("{s}://app:{pw}@[::1/d"),
            format!("{s}://app:{pw}@127.0.0.1:99999/d"),
        ]);
    }
    out.extend([format!("{pw}@127.0.0.1:5432/db"), format!("app:{pw}@127.0.0.1:1/d"), pw.to_owned()]);
    out
}

/// Where a value comes from.
#[derive(Debug, Clone, Copy)]
enum Door {
    Flag,
    FlagEq,
    Env,
    DotEnv,
    SeedToml,
    DirectEnv,
}

/// A TOML basic string holding `s` (controls as `\uXXXX`).
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs `args` with `value` as the database URL through `door`; `None` when the door
/// cannot carry it (a NUL in an argument or a variable).
fn through(door: Door, value: &str, args: &[&str], json: u8) -> Option<Output> {
    let w = Workdir::new();
    let mut cmd = w.seed();
    cmd.env("SEED_RETRY_MAX_ATTEMPTS", "1").env("SEED_CONNECT_TIMEOUT", "2s").arg("--no-progress");
    match json {
        1 => {
            cmd.args(["--log-format", "json"]);
        }
        2 => {
            cmd.arg("--json");
        }
        _ => {}
    }
    let os_ok = !value.contains('\0');
    match door {
        Door::Flag if os_ok => {
            cmd.args(["--database-url", value]);
        }
        Door::FlagEq if os_ok => {
            cmd.arg(format!("--database-url={value}"));
        }
        Door::Env if os_ok => {
            cmd.env("DATABASE_URL", value);
        }
        Door::DirectEnv if os_ok => {
            cmd.env("DIRECT_URL", value);
        }
        Door::DotEnv => {
            let line = if value.contains(['\n', '\'']) {
                format!("DATABASE_URL={value}")
            } else {
                format!("DATABASE_URL='{value}'")
            };
            std::fs::write(w.path().join(".env"), format!("# local\n{line}\n")).unwrap();
        }
        Door::SeedToml => {
            std::fs::write(
                w.path().join("seed.toml"),
                format!("retry-max-attempts = 1\ndatabase-url = {}\n", toml_string(value)),
            )
            .unwrap();
        }
        _ => return None,
    }
    Some(cmd.args(args).output().unwrap())
}

/// r21.2/3/4: a generated corpus of malformed URL-like values (no `//`, no user, odd
/// schemes, NUL/ESC/DEL and bidi controls, unencoded `#`, `@`, `?`, `/`, `&` in the
/// password…) through flags, the environment, `.env` and `seed.toml`, into `doctor`,
/// `bulk`, `snapshot create` and `restore`, in text and JSON: no panic, no half of the
/// password in any output, no raw control character, a documented exit code.
#[test]
fn r21_3_malformed_urls_never_show_their_password_through_any_door() {
    let doors = [Door::Flag, Door::FlagEq, Door::Env, Door::DotEnv, Door::SeedToml, Door::DirectEnv];
    let commands: [&[&str]; 4] =
        [&["doctor"], &["bulk", "--count", "1"], &["snapshot", "create", "x"], &["snapshot", "restore", "x"]];
    let mut runs = 0;
    let mut failures = Vec::new();
    for (i, pw) in passwords().iter().enumerate() {
        for (j, value) in url_shapes(pw).iter().enumerate() {
            // A deterministic sample of the corpus (redact's unit test covers all of it):
            // every password and every shape, each through a door, a command and a format.
            if (i + j) % 5 != 0 {
                continue;
            }
            let n = i * 31 + j;
            let (door, args, json) = (doors[n % doors.len()], commands[(n / 6) % 4], u8::try_from(n % 3).unwrap());
            let Some(out) = through(door, value, args, json) else { continue };
            runs += 1;
            let text = all_output(&out);
            let code = out.status.code();
            let mut problems = Vec::new();
            if !matches!(code, Some(0 | 2 | 3 | 6 | 11)) || text.contains("panicked") || text.contains("a bug in seed")
            {
                problems.push(format!("exit {code:?}"));
            }
            for half in HALVES {
                if text.contains(half) {
                    problems.push(format!("shows {half}"));
                }
            }
            if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                problems.push("a raw control character".into());
            }
            if !problems.is_empty() {
                failures.push(format!("{door:?} {value:?} {args:?} json={json}: {}:\n{text}", problems.join(", ")));
            }
        }
    }
    assert!(runs > 150, "{runs} runs");
    assert!(failures.is_empty(), "{} of {runs} runs failed:\n{}", failures.len(), failures.join("\n"));
}

/// The issue's own instances of r21.2-4, each asserted exactly.
#[test]
fn r21_2_4_the_reported_instances() {
    // 2. A NUL byte in a .env value: refused by line (exit 2), the secret never shown.
    let w = Workdir::new();
    std::fs::write(w.path().join(".env"), b"DATABASE_URL=postgres://u:Secret-55@h/d\x00\n").unwrap();
    for json in [false, true] {
        let mut cmd = seed(&w, &["doctor"]);
        if json {
            cmd.args(["--log-format", "json"]);
        }
        let out = run(&mut cmd, 2);
        let text = all_output(&out);
        assert!(text.contains(".env:1: holds a NUL byte") && !text.contains("Secret-55"), "{text}");
    }
    // 3. No `//` and no user: the password is masked in text and JSON, every command.
    let w = Workdir::new();
    for args in
        [&["doctor"][..], &["bulk", "--count", "1"], &["snapshot", "create", "s"], &["snapshot", "restore", "s"]]
    {
        for json in [&[][..], &["--log-format", "json"], &["--json"]] {
            let mut cmd = seed(&w, json);
            cmd.env("DATABASE_URL", "postgres:S3cr3t-Pw@127.0.0.1:5432/db").args(args);
            let out = cmd.output().unwrap();
            let text = all_output(&out);
            assert!(matches!(out.status.code(), Some(2 | 6)), "{args:?}: {text}");
            assert!(!text.contains("S3cr3t") && !text.contains("panicked"), "{args:?} {json:?}: {text}");
            if out.status.code() == Some(2) {
                assert!(text.contains("postgres:***@127.0.0.1:5432/db"), "{text}");
            }
        }
    }
    // 4. seed.toml values are not echoed; NUL and ESC in a configured snapshot
    // directory never reach the terminal raw.
    let w = Workdir::new();
    std::fs::write(w.path().join("seed.toml"), "database-url = \"Secret-Pw-77\"\n").unwrap();
    let out = run(&mut seed(&w, &["doctor"]), 2);
    let text = all_output(&out);
    assert!(
        text.contains("seed.toml:1: database-url is not a database URL") && !text.contains("Secret-Pw-77"),
        "{text}"
    );
    std::fs::write(w.path().join("seed.toml"), "snapshot-dir = \"snaps\\u0000x\"\n").unwrap();
    let out = run(&mut seed(&w, &["snapshot", "list"]), 2);
    assert!(all_output(&out).contains("seed.toml:1: snapshot-dir must be a path"), "{}", all_output(&out));
    std::fs::remove_file(w.path().join("seed.toml")).unwrap();
    for (var, value) in
        [("SEED_SNAPSHOT_DIR", "snaps\u{1b}[2J\u{1b}]0;owned\u{7}"), ("SEED_FACTORIES", "f\u{1b}[31m.toml")]
    {
        let mut cmd = seed(&w, &["snapshot", "list"]);
        if var == "SEED_FACTORIES" {
            cmd = seed(&w, &["bulk", "--count", "1"]);
        }
        let out = cmd.env(var, value).output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && text.contains("\\u{1b}"), "{var}: {text:?}");
    }
}

// ---------------------------------------------------------------------------------
// r21.9: the factories file's constants against the column types
// ---------------------------------------------------------------------------------

/// Bad constants for pagila's and sakila's `film` (rental_rate numeric/decimal(4,2),
/// rating an enum, last_update a timestamp) and what each must say; the good file
/// loads.
const FILM_CASES: [(&str, &str); 5] = [
    ("columns.rental_rate = { value = \"abc\" }", "\"abc\" does not fit its type"),
    ("columns.rental_rate = { value = \"123.45\" }", "\"123.45\" does not fit its type"),
    ("columns.rental_rate = { one_of = [\"1.99\", \"x9\"] }", "\"x9\" does not fit its type"),
    ("columns.rating = { one_of = [\"PG\", \"XYZ\"] }", "\"XYZ\" does not fit its type"),
    ("columns.last_update = { value = \"not a time\" }", "\"not a time\" does not fit its type"),
];
const FILM_GOOD: &str =
    "columns.rental_rate = { one_of = [\"0.99\", \"4.99\"] }\ncolumns.rating = { value = \"PG-13\" }\n";

/// Runs every case of `cases` on `url` (with `film_table` as the factories file names
/// it): --dry-run and the real run exit 2 naming line 3 and the value, `count()` stays
/// 0; then `good` loads.
fn constants_are_checked(
    w: &Workdir,
    url: &str,
    film_table: &str,
    cases: &[(&str, &str)],
    good: &str,
    count: &dyn Fn() -> i64,
) {
    let f = w.path().join("f.toml");
    for (rule, says) in cases {
        std::fs::write(&f, format!("[tables.{film_table}]\ncount = 3\n{rule}\n")).unwrap();
        for dry in [true, false] {
            let mut cmd = seed(w, &["--database-url", url, "bulk", "--count", "2", "--factories", f.to_str().unwrap()]);
            if dry {
                cmd.arg("--dry-run");
            }
            let out = run(&mut cmd, 2);
            let text = all_output(&out);
            assert!(text.contains("f.toml:3:") && text.contains(says), "{rule} (dry run: {dry}):\n{text}");
            assert_eq!(count(), 0, "{rule}: nothing written");
        }
    }
    std::fs::write(&f, format!("[tables.{film_table}]\ncount = 3\n{good}")).unwrap();
    run(
        &mut seed(w, &["--database-url", url, "bulk", "--count", "2", "--factories", f.to_str().unwrap(), "--dry-run"]),
        0,
    );
    run(&mut seed(w, &["--database-url", url, "bulk", "--count", "2", "--factories", f.to_str().unwrap()]), 0);
    assert_eq!(count(), 3);
}

/// r21.9 on PostgreSQL (pagila): a constant the column's type refuses is exit 2 at
/// --dry-run, and the real run refuses it before writing.
#[test]
fn r21_9_constants_are_checked_against_the_column_type_on_postgres() {
    let db = crate::snapshot::clone_db(crate::snapshot::pagila_schema_template(), "r21_9");
    let w = Workdir::new();
    let mut cases = FILM_CASES.to_vec();
    // A domain's own check (pagila's `year` domain: 1901 to 2155) is the type's too.
    cases.push(("columns.release_year = { value = \"1800\" }", "\"1800\" does not fit its type"));
    constants_are_checked(&w, &db.url(), "film", &cases, FILM_GOOD, &|| db.count("film"));
}

/// r21.9 on MariaDB (sakila): the same, checked under the session's strict sql_mode.
#[test]
fn r21_9_constants_are_checked_against_the_column_type_on_mariadb() {
    let db = crate::common::mariadb::MariaDb::sakila("r21_9");
    let w = Workdir::new();
    let mut cases = FILM_CASES.to_vec();
    cases.push(("columns.special_features = { value = \"Commentaries,Nope\" }", "does not fit its type"));
    constants_are_checked(&w, &db.url(), "film", &cases, FILM_GOOD, &|| db.count("film"));
}

/// r21.9 on SQLite: any value goes into any column there, but text that is not a
/// number in a column seed reads as a number is refused the same way.
#[test]
fn r21_9_constants_are_checked_against_the_column_type_on_sqlite() {
    let w = Workdir::new();
    let db = w.path().join("shop.db");
    crate::versions::sqlite_exec(
        &db,
        "CREATE TABLE products (product_id INTEGER PRIMARY KEY, product_name TEXT NOT NULL, \
         unit_price REAL NOT NULL, list_price NUMERIC(6,2), discontinued INTEGER NOT NULL)",
    );
    let url = format!("sqlite://{}", db.display());
    let count = || {
        crate::versions::sqlite_state(&db)
            .lines()
            .next()
            .unwrap()
            .split('(')
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse::<i64>()
            .unwrap()
    };
    let cases = [
        ("columns.unit_price = { value = \"abc\" }", "\"abc\" does not fit its type REAL"),
        ("columns.list_price = { one_of = [\"9.99\", \"cheap\"] }", "\"cheap\" does not fit its type NUMERIC(6,2)"),
    ];
    let good = "columns.unit_price = { value = \"2.5\" }\ncolumns.list_price = { one_of = [\"9.99\", \"1e2\"] }\n";
    constants_are_checked(&w, &url, "products", &cases, good, &count);
}

/// r21.9's class in masking: a `[mask]` rule's `fixed` value the column cannot hold is
/// exit 2 from `snapshot create --mask`, `--dry-run` included, naming the rule's file
/// and line; no snapshot is written. The plan checks the column's kind, precision and
/// checks itself (it is all `snapshot mask` has, and all there is on MariaDB, which
/// refuses even a temporary table inside a READ ONLY transaction); PostgreSQL is asked
/// too (a cast in the read transaction), so what only it knows is refused with its
/// words. A fitting value plans.
fn masking_fixed_values_are_checked(url: &str, cases: &[(&str, &str)]) {
    let w = Workdir::new();
    let f = w.path().join("f.toml");
    let create = |dry: bool| {
        let mut cmd = seed(&w, &["--database-url", url, "snapshot", "create", "m", "--mask", "auto", "--factories"]);
        cmd.arg(&f).env("SEED_MASK_KEY", "a-masking-key-of-32-characters!!");
        if dry {
            cmd.arg("--dry-run");
        }
        cmd
    };
    for (rule, says) in cases {
        std::fs::write(&f, format!("[mask]\n{rule}\n")).unwrap();
        for dry in [true, false] {
            let out = run(&mut create(dry), 2);
            let text = all_output(&out);
            assert!(text.contains(says) && text.contains("f.toml:2"), "{rule} (dry run: {dry}):\n{text}");
            assert!(!snaps(&w).join("m.seed.gz").exists(), "{rule}: nothing written");
        }
    }
    std::fs::write(&f, "[mask]\n\"film.rental_rate\" = { fixed = \"1.99\" }\n").unwrap();
    run(&mut create(true), 0);
}

/// Fixed values pagila's and sakila's `film` cannot hold, found by the plan.
const MASK_FILM_CASES: [(&str, &str); 2] = [
    ("\"film.rental_rate\" = { fixed = \"123.45\" }", "\"123.45\" is not a value of this type"),
    ("\"film.last_update\" = { fixed = \"not a time\" }", "\"not a time\" is not a value of this type"),
];

#[test]
fn r21_9_masking_fixed_values_are_checked_on_postgres() {
    let db = crate::snapshot::clone_db(crate::snapshot::pagila_schema_template(), "r21_9m");
    let mut cases = MASK_FILM_CASES.to_vec();
    // A domain's check (`year`: 1901 to 2155) is read with the schema; a time with
    // digits that is no time only the database knows.
    cases.push(("\"film.release_year\" = { fixed = \"1800\" }", "outside the range its checks allow (1901 to 2155)"));
    cases.push(("\"film.last_update\" = { fixed = \"2024-13-45 10:00\" }", "the database refuses it"));
    masking_fixed_values_are_checked(&db.url(), &cases);
}

#[test]
fn r21_9_masking_fixed_values_are_checked_on_mariadb() {
    let db = crate::common::mariadb::MariaDb::sakila("r21_9m");
    masking_fixed_values_are_checked(&db.url(), &MASK_FILM_CASES);
}

// ---------------------------------------------------------------------------------
// r21.6: odd object keys under the prefix
// ---------------------------------------------------------------------------------

/// Writes `body` under `key` (any bytes, percent-encoded on the wire), bypassing seed.
fn put_odd(store: &Store, key: &str, body: &[u8]) {
    let encoded: String = key
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~' | b'/') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let path = format!("/{}/{}/{encoded}", crate::common::s3::BUCKET, store.prefix);
    let (status, text) = store.server.request("PUT", &path, &[], body).unwrap();
    assert_eq!(status, 200, "PUT {key:?}: {text}");
}

/// r21.6: objects whose keys hold ESC, \x01, DEL, a NUL, or `./` and `../`
/// segments under the prefix never stop a listing, a bare name's resolution or a
/// pull: `list` shows them as CORRUPT (escaped on the terminal, exact in JSON), and
/// the snapshot beside them works as ever.
#[test]
fn r21_6_odd_object_keys_are_listed_as_corrupt_and_stop_nothing() {
    let store = Store::new("oddkeys");
    let (w, db) = sqlite_workdir();
    let mut cmd = seed(&w, &["snapshot", "create", "v"]);
    run(store.apply(&mut cmd), 0);
    let odd = [
        "\u{1b}[2J\u{1b}]0;owned\u{7}.seed.gz",
        "a\u{1}b.seed.gz",
        "del\u{7f}.seed.gz",
        "nul\u{0}x.seed.gz",
        "sp ace+plus%25.seed.gz",
        "./v.seed.gz",
        "../v.seed.gz",
        ".\u{1b}hidden",
        "v@2.seed.gz\u{1b}",
    ];
    for key in odd {
        put_odd(&store, key, b"not a snapshot");
    }
    let in_bucket = |args: &[&str]| {
        let mut cmd = seed(&w, &[]);
        store.apply(&mut cmd).args(args);
        cmd
    };
    let out = run(&mut in_bucket(&["snapshot", "list"]), 0);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!all_output(&out).chars().any(|c| c.is_control() && c != '\n'), "raw control characters:\n{text:?}");
    let corrupt = text.lines().filter(|l| l.contains("CORRUPT")).count();
    assert_eq!(corrupt, odd.len(), "every odd key listed as CORRUPT:\n{text}");
    assert!(text.lines().any(|l| l.starts_with("v ") && !l.contains("CORRUPT")), "{text}");
    assert!(text.contains("\\u{1b}[2J") && text.contains("a\\u{1}b.seed.gz") && text.contains("./"), "{text}");
    let out = run(&mut in_bucket(&["--json", "snapshot", "list"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["snapshots"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    for key in ["a\u{1}b.seed.gz", "sp ace+plus%25.seed.gz", "nul\u{0}x.seed.gz"] {
        assert!(names.contains(&key), "{key:?} exactly in {names:?}");
    }
    // A bare name resolves, reads and restores; pull finds it.
    run(&mut in_bucket(&["snapshot", "show", "v"]), 0);
    run(&mut in_bucket(&["snapshot", "verify", "v"]), 0);
    run(&mut in_bucket(&["snapshot", "list", "v"]), 0);
    let target = w.path().join("target.db");
    empty_copy(&db, &target);
    let url = format!("sqlite://{}", target.display());
    run(&mut in_bucket(&["--database-url", &url, "snapshot", "restore", "v"]), 0);
    assert_eq!(sqlite_state(&target), sqlite_state(&db));
    let pulled = Workdir::new();
    let mut cmd = seed(&pulled, &["snapshot", "pull", "v", "--from", &store.url()]);
    run(store.env(&mut cmd), 0);
    assert!(snaps(&pulled).join("v.seed.gz").exists());
    // doctor lists leases under .locks/ whatever else is there.
    put_odd(&store, ".locks/\u{1b}odd", b"x");
    let out = in_bucket(&["doctor"]).output().unwrap();
    assert!(!all_output(&out).contains("invalid path"), "{}", all_output(&out));
}

// ---------------------------------------------------------------------------------
// r21.5: a store that stops answering
// ---------------------------------------------------------------------------------

/// Longest a command may take to give up on a stopped store in these tests: the bound
/// docs/reliability.md gives (about a minute) with room for a loaded machine. Not a timing
/// claim: a command that still runs then is one that hangs.
const GIVE_UP: std::time::Duration = std::time::Duration::from_secs(180);

/// Waits for `child` to exit (killing it after [`GIVE_UP`]); its output and how long
/// it ran.
fn ends(mut child: std::process::Child, what: &str) -> (Output, std::time::Duration) {
    use std::io::Read;
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > GIVE_UP {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} still ran {GIVE_UP:?} after the store stopped answering");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    (Output { status, stdout, stderr }, started.elapsed())
}

/// r21.5: the store process stopped (SIGSTOP: its TCP connections stay open, nothing
/// answers) while a restore streams, while a create uploads, and before a list: each
/// ends with exit 3 naming the store, in bounded time, with the default retries (the
/// restore is retried as a whole); the restore leaves 0 rows, the create no object.
#[test]
fn r21_5_a_store_that_stops_answering_ends_every_command_with_exit_3() {
    use std::process::Stdio;
    let moto = crate::common::s3::Moto::start(false);
    let store = Store::on(&moto, "frozen");
    let a = crate::store::noise_db("r21_5_a", &[("noise_a", 300_000), ("noise_b", 300_000)]);
    let b = crate::store::noise_db("r21_5_b", &[("noise_a", 0), ("noise_b", 0)]);
    let w = Workdir::new();
    let mut cmd = seed(&w, &["--database-url", &a.url(), "snapshot", "create", "n", "--compression-level", "0"]);
    run(store.apply(&mut cmd), 0);
    let spawn = |args: &[&str]| {
        let mut cmd = w.seed_std();
        cmd.args(["--no-progress", "--snapshot-dir", &store.url()]).args(args);
        store.env_std(&mut cmd);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let check = |out: &Output, what: &str| {
        let text = all_output(out);
        assert_eq!(out.status.code(), Some(3), "{what}: {text}");
        assert!(text.contains(&store.url()) && text.contains("stopped answering"), "{what}: {text}");
        assert!(!text.contains(&moto.secret) && !text.contains("panicked"), "{what}: {text}");
    };

    // Restore: stopped while its first table streams in.
    let child = spawn(&["--database-url", &b.url(), "snapshot", "restore", "n"]);
    crate::snapshot::wait_until(std::time::Duration::from_secs(60), "the restore's first COPY", || {
        crate::snapshot::copying_backend(&b, "seed snapshot restore")
    });
    moto.pause();
    let (out, took) = ends(child, "restore");
    moto.resume();
    check(&out, "restore");
    eprintln!("restore gave up {took:?} after the store stopped");
    assert_eq!((b.count("noise_a"), b.count("noise_b")), (0, 0), "rolled back");

    // Create: stopped while it reads the database and uploads parts.
    let child = spawn(&["--database-url", &a.url(), "snapshot", "create", "m", "--compression-level", "0"]);
    crate::snapshot::wait_until(std::time::Duration::from_secs(60), "the create's first COPY", || {
        crate::snapshot::copying_backend(&a, "seed snapshot create")
    });
    moto.pause();
    let (out, took) = ends(child, "create");
    moto.resume();
    check(&out, "create");
    eprintln!("create gave up {took:?} after the store stopped");
    assert!(!store.keys().iter().any(|k| k.starts_with("m.")), "{:?}", store.keys());

    // List (and a bare name): stopped before they start.
    for args in [&["snapshot", "list"][..], &["snapshot", "show", "n"]] {
        moto.pause();
        let (out, took) = ends(spawn(args), "list");
        moto.resume();
        check(&out, &format!("{args:?}"));
        eprintln!("{args:?} gave up {took:?} after the store stopped");
    }
}

// ---------------------------------------------------------------------------------
// Issue 20: S3 credentials the way CI has them
// ---------------------------------------------------------------------------------

/// Where CI runners get credentials, each against moto checking signatures: a web
/// identity token through STS over TLS (GitHub Actions OIDC; the CA trusted through
/// AWS_CA_BUNDLE), container credentials (EKS Pod Identity / ECS), the instance
/// metadata service (IMDSv2), a profile's keys; the credentials are the S3 client's
/// own providers' (fetched, then used for every request, seed's signed ones too). A
/// provider that fails is exit 11 naming it; nothing at all is said before any
/// request. No key, secret or token is ever printed.
#[test]
fn s3_credentials_come_from_web_identity_containers_instances_and_profiles() {
    use crate::common::creds::{CredServer, TempCreds, TestCa, file};
    let moto = crate::common::s3::Moto::start(true);
    let store = Store::on(&moto, "creds");
    let (w, _) = sqlite_workdir();
    let mut cmd = seed(&w, &["snapshot", "create", "t"]);
    run(store.apply(&mut cmd), 0);
    let creds = TempCreds::from_sts(&moto.assume_role_with_web_identity("oidc-token-123"));
    moto.enable_auth();
    let home = tempfile::tempdir().unwrap();
    // `seed ARGS` on the bucket with no keys in the environment and an empty HOME.
    let bare = |vars: &[(&str, String)], args: &[&str]| {
        let mut cmd = seed(&w, &["--snapshot-dir", &store.url()]);
        for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
            cmd.env_remove(k);
        }
        cmd.env("HOME", home.path()).env("AWS_REGION", "us-east-1").env("AWS_ENDPOINT_URL", moto.endpoint());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        let text = all_output(&out);
        for secret in [&creds.secret, &creds.token, &moto.secret] {
            assert!(!text.contains(secret.as_str()), "a secret in the output of {args:?}:\n{text}");
        }
        (out.status.code(), text)
    };
    let ok = |vars: &[(&str, String)], what: &str| {
        for args in [&["snapshot", "show", "t@1"][..], &["snapshot", "verify", "t@1"]] {
            let (code, text) = bare(vars, args);
            assert_eq!(code, Some(0), "{what} {args:?}:\n{text}");
        }
    };

    // A web identity: the token file and role go to STS (https only), whose
    // credentials sign every request.
    let ca = TestCa::new();
    let sts_xml = creds.sts_xml.clone();
    let sts = CredServer::https(&ca, move |r| {
        let wanted = r.method == "POST"
            && r.target.contains("Action=AssumeRoleWithWebIdentity")
            && r.target.contains("WebIdentityToken=oidc-token-123")
            && r.target.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fci");
        if wanted {
            (200, sts_xml.clone())
        } else {
            (403, "<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>".into())
        }
    });
    let mut web = vec![
        ("AWS_WEB_IDENTITY_TOKEN_FILE", file(home.path(), "oidc", "oidc-token-123").display().to_string()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci".to_owned()),
        ("AWS_ENDPOINT_URL_STS", sts.url("/")),
        ("AWS_CA_BUNDLE", ca.bundle().display().to_string()),
    ];
    ok(&web, "web identity");
    assert!(!sts.requests().is_empty(), "STS was asked");
    web[0].1 = file(home.path(), "wrong", "not-the-token").display().to_string();
    let (code, text) = bare(&web, &["snapshot", "show", "t@1"]);
    assert_eq!(code, Some(11), "{text}");
    assert!(text.contains("could not get AWS credentials from web identity"), "{text}");
    // Without the CA, STS's certificate is not trusted: refused credentials, said so.
    web.pop();
    let (code, text) = bare(&web, &["snapshot", "show", "t@1"]);
    assert_eq!(code, Some(11), "{text}");

    // Container credentials: the full URI with the token file's content as Authorization.
    let json = creds.json();
    let pod = CredServer::http(move |r| {
        if r.target == "/creds" && r.header("authorization") == Some("pod-token-7") {
            (200, json.clone())
        } else {
            (401, String::new())
        }
    });
    let container = vec![
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", pod.url("/creds")),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file(home.path(), "pod", "pod-token-7").display().to_string()),
    ];
    ok(&container, "container credentials");
    assert!(!pod.requests().is_empty(), "the container endpoint was asked");
    let wrong = [container[0].clone(), (container[1].0, file(home.path(), "pod2", "other").display().to_string())];
    let (code, text) = bare(&wrong, &["snapshot", "show", "t@1"]);
    assert_eq!(code, Some(11), "{text}");
    assert!(text.contains("could not get AWS credentials from container credentials"), "{text}");

    // The instance metadata service, IMDSv2: a session token first, then the role.
    let json = creds.json();
    let imds = CredServer::http(move |r| match (r.method.as_str(), r.target.as_str()) {
        ("PUT", "/latest/api/token") => (200, "imds-session".into()),
        (_, _) if r.header("x-aws-ec2-metadata-token") != Some("imds-session") => (401, String::new()),
        ("GET", "/latest/meta-data/iam/security-credentials/") => (200, "ci".into()),
        ("GET", "/latest/meta-data/iam/security-credentials/ci") => (200, json.clone()),
        _ => (404, String::new()),
    });
    ok(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url(""))], "instance metadata");
    assert!(imds.requests().iter().any(|r| r.method == "PUT"), "IMDSv2: a session token first");

    // A profile's keys (and its region and endpoint).
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    let keys = format!("[ci]\naws_access_key_id = {}\naws_secret_access_key = {}\n", moto.key_id, moto.secret);
    file(&home.path().join(".aws"), "credentials", &keys);
    file(
        &home.path().join(".aws"),
        "config",
        &format!("[profile ci]\nregion = us-east-1\nendpoint_url = {}\n", moto.endpoint()),
    );
    ok(&[("AWS_PROFILE", "ci".to_owned())], "profile");
    std::fs::remove_dir_all(home.path().join(".aws")).unwrap();

    // Nothing at all, instance metadata switched off: said before any request.
    let (code, text) = bare(&[("AWS_EC2_METADATA_DISABLED", "true".to_owned())], &["snapshot", "show", "t@1"]);
    assert_eq!(code, Some(11), "{text}");
    assert!(text.contains("no AWS credentials"), "{text}");
}
