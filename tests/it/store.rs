//! Snapshot locations that are S3 buckets, against a real S3-compatible server (moto,
//! authentication on; see common/s3.rs): every verb, atomic and no-overwrite
//! publishing, concurrent creates, a killed create, a store that goes away during a
//! restore, wrong credentials, a missing bucket, corrupt objects, push and pull.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::s3::{Moto, Store};
use crate::common::{TestDb, Workdir, all_output, hold_lock};
use crate::snapshot::{Running, clone_db, copying_backend, pagila_schema_template, pagila_template, wait_until};

/// Runs `cmd` and checks its exit code; neither the S3 secret nor the database
/// password may show up anywhere in its output.
fn store_run(store: &Store, cmd: &mut assert_cmd::Command, expected: i32) -> Output {
    let out = crate::common::run(cmd, expected);
    let text = all_output(&out);
    assert!(!text.contains(&store.server.secret), "the secret key leaked into the output:\n{text}");
    out
}

/// `cmd` on `store`, without progress output.
fn seed<'a>(store: &Store, cmd: &'a mut assert_cmd::Command) -> &'a mut assert_cmd::Command {
    store.apply(cmd.arg("--no-progress"))
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", all_output(out)))
}

/// A workdir whose default SQLite database holds the demo schema with `count` rows per table.
fn sqlite_work(count: u32) -> Workdir {
    let w = Workdir::new();
    let out = w.seed().args(["--no-progress", "bulk", "--count", &count.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", all_output(&out));
    w
}

fn sqlite_dump(w: &Workdir) -> String {
    let mut out = String::new();
    for t in ["staffs", "offices", "office_staffs", "welfare_recipients"] {
        let o = Command::new("sqlite3")
            .arg(w.path().join("seed.db"))
            .arg(format!("SELECT * FROM {t} ORDER BY 1"))
            .output()
            .unwrap();
        assert!(o.status.success(), "sqlite3: {}", String::from_utf8_lossy(&o.stderr));
        out.push_str(&format!("== {t}\n{}", String::from_utf8_lossy(&o.stdout)));
    }
    out
}

#[test]
fn every_verb_works_on_a_bucket_and_keys_appear_only_whole() {
    let store = Store::new("verbs");
    let w = sqlite_work(300);
    let before = sqlite_dump(&w);
    let out = store_run(
        &store,
        seed(&store, &mut w.seed()).args(["snapshot", "create", "base", "--description", "first"]),
        0,
    );
    assert!(all_output(&out).contains(&format!("{}/base.seed.gz", store.url())), "{}", all_output(&out));
    // Without --force an existing name is refused, and the object is untouched.
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "create", "base"]), 6);
    let list = json(&store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "list", "--json"]), 0));
    let list = list["snapshots"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["status"].as_str(), list[0]["rows"].as_u64()),
        (Some("base"), Some("ok"), Some(1200))
    );
    let show = json(&store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "show", "base", "--json"]), 0));
    assert_eq!(show["header"]["description"], "first");
    assert_eq!(show["file"], format!("{}/base.seed.gz", store.url()));
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "verify", "base"]), 0);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "verify", "base", "--against-db"]), 0);
    // Restore streams from the bucket into the emptied database: the same rows.
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "restore", "base", "--clean"]), 0);
    assert_eq!(sqlite_dump(&w), before);
    // diff, --force, prune, delete.
    store_run(&store, w.seed().args(["--no-progress", "bulk", "--count", "5"]), 0);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "create", "more"]), 0);
    let diff = store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "diff", "base", "more"]), 12);
    assert!(all_output(&diff).contains("the snapshots differ"), "{}", all_output(&diff));
    // Prune ranks by `created_at` (whole seconds), then by the object's time, which S3
    // (moto) also gives in whole seconds: the replacement must be newer by a second for
    // `--keep-last 1` to keep it rather than `more`.
    std::thread::sleep(Duration::from_millis(1100));
    store_run(
        &store,
        seed(&store, &mut w.seed()).args(["snapshot", "create", "base", "--force", "--description", "second"]),
        0,
    );
    let show = json(&store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "show", "base", "--json"]), 0));
    assert_eq!(show["header"]["description"], "second");
    let pruned = store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "prune", "--keep-last", "1"]), 0);
    assert!(all_output(&pruned).contains("removed 1 of 2 snapshots"), "{}", all_output(&pruned));
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "delete", "base"]), 0);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "show", "base"]), 6);
    let text = all_output(&store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "list"]), 0));
    assert!(text.contains(&format!("no snapshots in {}", store.url())), "{text}");
    // What is left: audit records (one object each), no leases, no snapshots, no uploads.
    let keys = store.keys();
    let audit: Vec<&String> = keys.iter().filter(|k| k.starts_with(".audit/")).collect();
    assert_eq!(audit.len(), 6, "one record per create (3 ok, 1 refused), prune, delete: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(".audit/")), "only audit records remain: {keys:?}");
    assert!(store.uploads().is_empty());
    // Nothing was written locally.
    assert!(!w.path().join("snapshots").exists());
}

#[test]
fn pagila_round_trip_through_a_bucket_is_exact() {
    let store = Store::new("pagila");
    let a = clone_db(pagila_template(), "st_pagila_a");
    let b = clone_db(pagila_schema_template(), "st_pagila_b");
    let w = Workdir::new();
    store_run(
        &store,
        store
            .apply(w.seed().args(["--no-progress", "--database-url", &a.url()]))
            .args(["snapshot", "create", "pagila"]),
        0,
    );
    store_run(
        &store,
        store
            .apply(w.seed().args(["--no-progress", "--database-url", &b.url()]))
            .args(["snapshot", "restore", "pagila"]),
        0,
    );
    let (da, db) = (a.pg_dump_data(), b.pg_dump_data());
    assert!(da.len() > 45_000, "pagila's data dump has only {} lines", da.len());
    assert!(da == db, "data differs after the round trip through the bucket");
}

/// One table of `rows` rows of md5 hex: barely compressible, so a snapshot at gzip
/// level 0 is about 70 bytes a row (multipart at a few hundred thousand rows).
pub(crate) fn noise_db(tag: &str, tables: &[(&str, u32)]) -> TestDb {
    let db = TestDb::new(tag);
    for (t, rows) in tables {
        db.load_sql(&format!(
            "CREATE TABLE {t} (id int PRIMARY KEY, h text NOT NULL);
             INSERT INTO {t} SELECT g, md5(g::text) || md5((-g)::text) FROM generate_series(1, {rows}) g"
        ));
    }
    db
}

/// A multipart upload: parts streamed, the first part (the header) sent last, the
/// object whole and verified; and with --force the old object is replaced only whole.
#[test]
fn a_large_snapshot_goes_up_in_parts_and_restores_exactly() {
    let store = Store::new("large");
    let a = noise_db("st_large_a", &[("noise", 300_000)]);
    let b = noise_db("st_large_b", &[("noise", 0)]);
    let w = Workdir::new();
    let create = |db: &TestDb, extra: &[&str]| {
        let mut cmd = w.seed();
        store.apply(cmd.args(["--no-progress", "--database-url", &db.url()]));
        cmd.args(["snapshot", "create", "big", "--compression-level", "0"]).args(extra);
        cmd
    };
    store_run(&store, &mut create(&a, &[]), 0);
    let list =
        json(&store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "list", "--json"]), 0));
    let size = list["snapshots"][0]["size"].as_u64().unwrap();
    assert!(size > 20 << 20, "the snapshot should need several parts: {size} bytes");
    store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "verify", "big"]), 0);
    store_run(
        &store,
        store.apply(w.seed().args(["--no-progress", "--database-url", &b.url()])).args(["snapshot", "restore", "big"]),
        0,
    );
    assert_eq!(b.count("noise"), 300_000);
    assert_eq!(
        b.psql("SELECT md5(string_agg(h, ',' ORDER BY id)) FROM noise"),
        a.psql("SELECT md5(string_agg(h, ',' ORDER BY id)) FROM noise")
    );
    a.load_sql("DELETE FROM noise WHERE id > 100000");
    store_run(&store, &mut create(&a, &["--force"]), 0);
    let show = json(&store_run(
        &store,
        store.apply(w.seed().arg("--no-progress")).args(["snapshot", "show", "big", "--json"]),
        0,
    ));
    assert_eq!(show["header"]["tables"][0]["rows"], 100_000);
    assert!(store.uploads().is_empty(), "no upload left behind: {:?}", store.uploads());
}

/// Two creates of one name at once: exactly one wins; the other fails with 8 (lock
/// held) or 6 (exists); the object is one whole snapshot.
#[test]
fn concurrent_creates_of_one_name_never_mix() {
    let store = Store::new("race");
    let w = sqlite_work(2000);
    for round in 0..3 {
        let name = format!("race{round}");
        let spawn = || {
            let mut cmd = w.seed_std();
            cmd.args(["--no-progress", "--snapshot-dir", &store.url(), "snapshot", "create", &name]);
            store.env_std(&mut cmd);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let mut codes: Vec<i32> = outs.iter().map(|o| o.status.code().unwrap()).collect();
        codes.sort_unstable();
        assert!(
            codes == [0, 6] || codes == [0, 8],
            "round {round}: exit codes {codes:?}\n{}\n{}",
            all_output(&outs[0]),
            all_output(&outs[1])
        );
        store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "verify", &name]), 0);
    }
    assert!(store.uploads().is_empty());
}

/// SIGKILL in the middle of the upload: no object under the name, `list` clean; the
/// unfinished upload is invisible (a lifecycle rule or `seed doctor` finds it), and
/// the killed command's lease runs out instead of blocking the name for ever.
#[test]
fn a_create_killed_mid_upload_leaves_no_object() {
    let store = Store::new("killed");
    let db = noise_db("st_killed", &[("noise", 600_000)]);
    let w = Workdir::new();
    let mut cmd = w.seed_std();
    cmd.args(["--no-progress", "--database-url", &db.url(), "--snapshot-dir", &store.url()]).args([
        "snapshot",
        "create",
        "doomed",
        "--compression-level",
        "0",
    ]);
    store.env_std(&mut cmd);
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_until(Duration::from_secs(60), "an upload in progress", || (!store.uploads().is_empty()).then_some(()));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!store.keys().iter().any(|k| k.ends_with(".seed.gz")), "an object appeared: {:?}", store.keys());
    let list =
        json(&store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "list", "--json"]), 0));
    assert_eq!(list["snapshots"], serde_json::json!([]));
    store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "show", "doomed"]), 6);
    // The killed command's lease still names it; a new create says so (exit 8).
    let again = store_run(
        &store,
        store
            .apply(w.seed().args(["--no-progress", "--database-url", &db.url()]))
            .args(["snapshot", "create", "doomed"]),
        8,
    );
    assert!(all_output(&again).contains("snapshot create doomed"), "{}", all_output(&again));
    let doctor =
        store_run(&store, store.apply(w.seed().args(["--database-url", &db.url()])).args(["doctor", "--json"]), 0);
    let checks = json(&doctor)["checks"].as_array().unwrap().clone();
    let check =
        |name: &str| checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} check")).clone();
    assert!(check("unfinished uploads")["detail"].as_str().unwrap().contains("doomed.seed.gz"), "{checks:?}");
    // A create holds the lock that hands out the name's version numbers (`NAME@next`).
    assert!(check("locks")["detail"].as_str().unwrap().contains("doomed@next.lock"), "{checks:?}");
}

/// The store goes away while a restore streams from it: the transaction rolls back
/// (0 rows), the exit code is the connection class's.
#[test]
fn a_store_stopped_mid_restore_rolls_back() {
    let moto = Moto::start(false);
    let store = Store::on(&moto, "stopped");
    let a = noise_db("st_stop_a", &[("noise_a", 300_000), ("noise_b", 300_000)]);
    let b = noise_db("st_stop_b", &[("noise_a", 0), ("noise_b", 0)]);
    let w = Workdir::new();
    store_run(
        &store,
        store.apply(w.seed().args(["--no-progress", "--database-url", &a.url()])).args([
            "snapshot",
            "create",
            "n",
            "--compression-level",
            "0",
        ]),
        0,
    );
    let mut cmd = w.seed_std();
    cmd.args([
        "--no-progress",
        "--database-url",
        &b.url(),
        "--snapshot-dir",
        &store.url(),
        "--retry-max-attempts",
        "1",
    ])
    .args(["snapshot", "restore", "n"]);
    store.env_std(&mut cmd);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // The first table is loading; the second has not been requested yet.
    wait_until(Duration::from_secs(60), "the restore's first COPY", || copying_backend(&b, "seed snapshot restore"));
    moto.stop();
    let out = child.wait_with_output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains(&store.url()) && text.contains("rolled back"), "{text}");
    assert_eq!((b.count("noise_a"), b.count("noise_b")), (0, 0));
}

/// On a server that checks signatures: the right key works (seed signs every request
/// correctly), a wrong one is refused with exit 11, and no secret is ever printed.
#[test]
fn wrong_credentials_exit_11_and_never_show_the_secret() {
    let moto = Moto::start(true);
    let store = Store::on(&moto, "creds");
    let w = sqlite_work(10);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "create", "signed"]), 0);
    moto.enable_auth();
    // What needs no listing works with the right key (moto miscomputes the signature of
    // a listing under a prefix, see common/s3.rs): HEAD, ranged GETs, lease PUT/DELETE.
    // A bare name means its latest version, which takes a listing: name the version.
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "show", "signed@1"]), 0);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "verify", "signed@1"]), 0);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "restore", "signed@1", "--clean"]), 0);
    for args in [&["snapshot", "list"][..], &["snapshot", "create", "x"], &["snapshot", "show", "x"]] {
        let mut cmd = w.seed();
        store.apply(cmd.arg("--no-progress")).env("AWS_SECRET_ACCESS_KEY", "Wrong-Secret-4242").args(args);
        let out = cmd.output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(11), "{args:?}: {text}");
        assert!(text.contains("credentials"), "{args:?}: {text}");
        assert!(!text.contains("Wrong-Secret-4242") && !text.contains(&store.server.secret), "{text}");
    }
    let mut cmd = w.seed();
    store.apply(&mut cmd).env("AWS_SECRET_ACCESS_KEY", "Wrong-Secret-4242").args(["doctor"]);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", all_output(&out));
    // No credentials at all (instance metadata switched off): said before any request.
    let mut cmd = w.seed();
    for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"] {
        cmd.env_remove(k);
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true");
    let out = cmd.args(["--snapshot-dir", &store.url(), "snapshot", "list"]).env("HOME", w.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(11), "{}", all_output(&out));
    assert!(all_output(&out).contains("no AWS credentials"), "{}", all_output(&out));
}

/// A bucket that does not exist is treated like a missing directory: `list` says it
/// does not exist (usage), `show` finds no snapshot (6), `create` asks for the bucket.
#[test]
fn a_missing_bucket_is_like_a_missing_directory() {
    let store = Store::new("nobucket");
    let w = sqlite_work(10);
    let missing = "s3://no-such-bucket-here/p";
    let cmd = |args: &[&str]| {
        let mut c = w.seed();
        store.env(&mut c).args(["--no-progress", "--snapshot-dir", missing]).args(args);
        c
    };
    let out = store_run(&store, &mut cmd(&["snapshot", "list"]), 2);
    assert!(all_output(&out).contains("does not exist"), "{}", all_output(&out));
    store_run(&store, &mut cmd(&["snapshot", "show", "x"]), 6);
    let out = store_run(&store, &mut cmd(&["snapshot", "create", "x"]), 2);
    assert!(all_output(&out).contains("bucket") && all_output(&out).contains("does not exist"), "{}", all_output(&out));
    let out = store_run(&store, &mut cmd(&["doctor"]), 2);
    assert!(all_output(&out).contains("the bucket does not exist"), "{}", all_output(&out));
}

/// Objects that are not snapshots, or broken ones, are listed as CORRUPT with the
/// reason; the good one is listed as usual.
#[test]
fn corrupt_objects_are_listed_as_corrupt() {
    let store = Store::new("corrupt");
    let w = sqlite_work(50);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "create", "good"]), 0);
    store.put("garbage.seed.gz", b"this is not gzip".to_vec());
    store.put("notes.txt", b"hello".to_vec());
    store.put("empty.seed.gz", Vec::new());
    let text = all_output(&store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "list"]), 0));
    for (name, reason) in [("garbage", "bad magic"), ("notes.txt", "not a snapshot file"), ("empty", "file is empty")] {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} not listed:\n{text}"));
        assert!(line.contains("CORRUPT") && line.contains(reason), "{line}");
    }
    assert!(text.lines().any(|l| l.starts_with("good ") && !l.contains("CORRUPT")), "{text}");
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "verify", "garbage"]), 7);
    store_run(&store, seed(&store, &mut w.seed()).args(["snapshot", "restore", "garbage"]), 7);
}

/// push and pull: verified, atomic on both sides, no overwrite without --force.
#[test]
fn push_and_pull_copy_verified_snapshots() {
    let store = Store::new("transfer");
    let w = sqlite_work(200);
    let before = sqlite_dump(&w);
    store_run(&store, w.seed().args(["--no-progress", "snapshot", "create", "base"]), 0);
    let out = store_run(
        &store,
        store.env(&mut w.seed()).args(["--no-progress", "snapshot", "push", "base", "--to", &store.url()]),
        0,
    );
    assert!(all_output(&out).contains("pushed snapshot 'base'"), "{}", all_output(&out));
    store_run(&store, store.env(&mut w.seed()).args(["snapshot", "push", "base", "--to", &store.url()]), 6);
    store_run(&store, store.env(&mut w.seed()).args(["snapshot", "push", "base", "--to", &store.url(), "--force"]), 0);
    store_run(&store, store.env(&mut w.seed()).args(["snapshot", "push", "nope", "--to", &store.url()]), 6);
    // Another machine pulls it and restores it.
    let other = Workdir::new();
    std::fs::copy(w.path().join("seed.db"), other.path().join("seed.db")).unwrap();
    let out = store_run(
        &store,
        store.env(&mut other.seed()).args(["--no-progress", "snapshot", "pull", "base", "--from", &store.url()]),
        0,
    );
    assert!(all_output(&out).contains("pulled snapshot 'base'"), "{}", all_output(&out));
    assert_eq!(
        std::fs::read(other.path().join("snapshots/base.seed.gz")).unwrap(),
        std::fs::read(w.path().join("snapshots/base.seed.gz")).unwrap()
    );
    store_run(&store, other.seed().args(["--no-progress", "snapshot", "restore", "base", "--clean"]), 0);
    assert_eq!(sqlite_dump(&other), before);
    store_run(&store, store.env(&mut other.seed()).args(["snapshot", "pull", "base", "--from", &store.url()]), 6);
    // A corrupt object is not pulled: nothing appears locally.
    store.put("bad.seed.gz", b"\x1f\x8b\x08\x00junk".to_vec());
    store_run(&store, store.env(&mut other.seed()).args(["snapshot", "pull", "bad", "--from", &store.url()]), 7);
    assert!(!other.path().join("snapshots/bad.seed.gz").exists());
    let names: Vec<String> = std::fs::read_dir(other.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".tmp-")), "{names:?}");
}

/// A push and a pull of one name, both waiting (`--wait`) behind a lock someone else
/// holds: both finish once it is released. Each takes the local side's lock first, so
/// neither can hold the bucket's lease while waiting for the directory the other holds.
#[test]
fn a_push_and_a_pull_of_one_name_waiting_for_locks_both_finish() {
    let store = Store::new("crossing");
    let w = sqlite_work(50);
    store_run(&store, w.seed().args(["--no-progress", "snapshot", "create", "base"]), 0);
    store_run(
        &store,
        store.env(&mut w.seed()).args(["--no-progress", "snapshot", "push", "base", "--to", &store.url()]),
        0,
    );
    // Someone (a restore, a create) holds the local directory's lock on the name.
    let held = hold_lock(&w.path().join("snapshots"), "base");
    let spawn = |verb: &str, side: &str| {
        let mut cmd = w.seed_std();
        cmd.args(["-v", "--no-progress", "snapshot", verb, "base", side, &store.url(), "--force", "--wait"]);
        store.env_std(&mut cmd);
        Running::spawn(cmd)
    };
    let (mut push, mut pull) = (spawn("push", "--to"), spawn("pull", "--from"));
    // Both say they wait for the lock; then it goes.
    push.wait_for_lock();
    pull.wait_for_lock();
    held.unlock().unwrap();
    drop(held);
    // A push and a pull waiting for each other (a deadlock) never finish.
    for (what, mut running) in [("push", push), ("pull", pull)] {
        let (status, stdout, stderr) = running.finish(Duration::from_secs(60));
        assert_eq!(status.code(), Some(0), "{what}: {stdout}{stderr}");
    }
    store_run(&store, w.seed().args(["snapshot", "verify", "base"]), 0);
}

/// Doctor checks the bucket, the credentials and whether conditional writes hold.
#[test]
fn doctor_checks_the_store() {
    let store = Store::new("doctor");
    let w = sqlite_work(10);
    let out = store_run(&store, store.apply(&mut w.seed()).args(["doctor", "--json"]), 0);
    let doc = json(&out);
    let checks = doc["checks"].as_array().unwrap();
    let find = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap_or_else(|| panic!("no {n}: {checks:?}"));
    assert_eq!(find("snapshot store")["status"], "ok");
    assert_eq!(find("conditional writes")["status"], "ok", "{checks:?}");
    assert_eq!(find("unfinished uploads")["status"], "ok", "{checks:?}");
    assert_eq!(find("locks")["status"], "ok", "{checks:?}");
    // The probe object is gone again.
    assert!(store.keys().is_empty(), "{:?}", store.keys());
}

/// Ctrl-C in the middle of the upload: exit 130, no object, and the unfinished upload
/// is aborted before seed exits (an orderly failure leaves nothing billed behind), the
/// lease released.
#[test]
fn a_create_interrupted_mid_upload_aborts_its_upload() {
    let store = Store::new("sigint");
    let db = noise_db("st_sigint", &[("noise", 600_000)]);
    let w = Workdir::new();
    let mut cmd = w.seed_std();
    cmd.args(["--no-progress", "--database-url", &db.url(), "--snapshot-dir", &store.url()]).args([
        "snapshot",
        "create",
        "stopped",
        "--compression-level",
        "0",
    ]);
    store.env_std(&mut cmd);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_until(Duration::from_secs(60), "an upload in progress", || (!store.uploads().is_empty()).then_some(()));
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(i32::try_from(child.id()).unwrap(), libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", all_output(&out));
    assert!(store.uploads().is_empty(), "the upload was not aborted: {:?}", store.uploads());
    let keys = store.keys();
    assert!(!keys.iter().any(|k| k.ends_with(".seed.gz") || k.starts_with(".locks/")), "{keys:?}");
    let audit: Vec<&String> = keys.iter().filter(|k| k.starts_with(".audit/")).collect();
    assert_eq!(audit.len(), 1, "the interruption is recorded: {keys:?}");
}

/// With a session token and -vv (every request traced), neither the secret key nor
/// the token shows up anywhere.
#[test]
fn secrets_never_show_even_when_tracing_requests() {
    let store = Store::new("secrets");
    let w = sqlite_work(20);
    let token = "Sess10n-T0ken-Zq8w7e6r5t4y";
    for args in
        [&["snapshot", "create", "s"][..], &["snapshot", "list"], &["snapshot", "restore", "s", "--clean"], &["doctor"]]
    {
        let mut cmd = w.seed();
        store.apply(cmd.args(["-vv", "--log-format", "json"])).env("AWS_SESSION_TOKEN", token).args(args);
        let out = store_run(&store, &mut cmd, 0);
        assert!(!all_output(&out).contains(token), "the session token leaked:\n{}", all_output(&out));
    }
}

/// Leases exclude each other: while a restore reads a snapshot (shared lease), a delete
/// of it is refused with exit 8 naming the reader, and it works once the reader is done.
#[test]
fn a_reader_holds_off_a_delete() {
    let store = Store::new("leases");
    let a = noise_db("st_lease_a", &[("noise", 400_000)]);
    let b = noise_db("st_lease_b", &[("noise", 0)]);
    let w = Workdir::new();
    store_run(
        &store,
        store.apply(w.seed().args(["--no-progress", "--database-url", &a.url()])).args([
            "snapshot",
            "create",
            "n",
            "--compression-level",
            "0",
        ]),
        0,
    );
    let mut cmd = w.seed_std();
    cmd.args(["--no-progress", "--database-url", &b.url(), "--snapshot-dir", &store.url()])
        .args(["snapshot", "restore", "n"]);
    store.env_std(&mut cmd);
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_until(Duration::from_secs(60), "the restore's COPY", || copying_backend(&b, "seed snapshot restore"));
    let out = store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "delete", "n"]), 8);
    assert!(all_output(&out).contains("seed snapshot restore n"), "{}", all_output(&out));
    let restored = child.wait_with_output().unwrap();
    assert!(restored.status.success(), "{}", all_output(&restored));
    assert_eq!(b.count("noise"), 400_000);
    store_run(&store, store.apply(w.seed().arg("--no-progress")).args(["snapshot", "delete", "n"]), 0);
    assert!(store.keys().iter().all(|k| k.starts_with(".audit/")), "{:?}", store.keys());
}

/// `seed prepare` with its snapshots in a bucket: the first runner seeds and saves,
/// the next one (another machine, same bucket) restores the same rows.
#[test]
fn prepare_shares_its_snapshot_through_a_bucket() {
    let store = Store::new("prepare");
    let first = Workdir::new();
    let out =
        store_run(&store, seed(&store, &mut first.seed()).args(["prepare", "baseline", "--count", "40", "--json"]), 0);
    assert_eq!(json(&out)["action"], "seeded", "{}", all_output(&out));
    let second = Workdir::new();
    let out =
        store_run(&store, seed(&store, &mut second.seed()).args(["prepare", "baseline", "--count", "40", "--json"]), 0);
    assert_eq!(json(&out)["action"], "restored", "{}", all_output(&out));
    assert_eq!(sqlite_dump(&second), sqlite_dump(&first));
    let keys = store.keys();
    assert_eq!(keys.iter().filter(|k| k.starts_with("baseline.") && k.ends_with(".seed.gz")).count(), 1, "{keys:?}");
    assert!(!second.path().join("snapshots").exists(), "nothing written locally");
}
