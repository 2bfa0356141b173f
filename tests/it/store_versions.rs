//! Versions and incremental snapshots in an S3 bucket (moto on 127.0.0.1, see
//! common/s3.rs), through the binary: a chain built in the bucket and every version
//! restored exactly, push and pull carrying a version's chain (or refusing without
//! it), concurrent creators of new versions, and bases with dependents protected.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::common::s3::Store;
use crate::common::{Workdir, all_output};
use crate::snapshot::{Running, seed_cmd};
use crate::versions::{empty_copy, sqlite_exec, sqlite_state, sqlite_workdir};

/// Runs `cmd` and checks its exit code; the S3 secret never shows.
fn store_run(store: &Store, cmd: &mut assert_cmd::Command, expected: i32) -> Output {
    let out = crate::common::run(cmd, expected);
    let text = all_output(&out);
    assert!(!text.contains(&store.server.secret), "the secret key leaked into the output:\n{text}");
    out
}

/// `seed --no-progress --snapshot-dir s3://… ARGS` in `w`.
fn in_bucket<'a>(store: &Store, cmd: &'a mut assert_cmd::Command, args: &[&str]) -> &'a mut assert_cmd::Command {
    store.apply(cmd.arg("--no-progress")).args(args)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", all_output(out)))
}

/// The header of `reference` in the bucket, as `show --json` prints it.
fn header(store: &Store, w: &Workdir, reference: &str) -> Value {
    let out = store_run(store, in_bucket(store, &mut w.seed(), &["--json", "snapshot", "show", reference]), 0);
    json(&out)["header"].clone()
}

fn storage(header: &Value, table: &str) -> String {
    let t = header["tables"].as_array().unwrap().iter().find(|t| t["name"] == table);
    t.unwrap_or_else(|| panic!("no {table}"))["storage"].as_str().unwrap().to_owned()
}

/// Restores `reference` from the bucket into an empty copy of `db_then` (the database
/// as it was when the version was taken); the restored state.
fn restored(store: &Store, w: &Workdir, db_then: &Path, reference: &str, tag: &str) -> String {
    let target = w.path().join(format!("target-{tag}.db"));
    empty_copy(db_then, &target);
    let url = format!("sqlite://{}", target.display());
    store_run(store, in_bucket(store, &mut w.seed(), &["--database-url", &url, "snapshot", "restore", reference]), 0);
    sqlite_state(&target)
}

/// Version numbers of `name` stored in the bucket (from its keys).
fn versions_in(store: &Store, name: &str) -> Vec<u64> {
    let mut v: Vec<u64> = store
        .keys()
        .iter()
        .filter_map(|k| {
            let stem = k.strip_suffix(".seed.gz")?;
            if stem == name {
                return Some(1);
            }
            stem.strip_prefix(&format!("{name}@"))?.parse().ok()
        })
        .collect();
    v.sort_unstable();
    v
}

/// Changes between versions of the SQLite demo database (rows changed, added and
/// removed, a key-less table changed).
const CHANGES: [&str; 2] = [
    "UPDATE staffs SET name = 'changed ' || name WHERE rowid % 10 = 0;
     DELETE FROM welfare_recipients WHERE rowid % 7 = 0;
     INSERT INTO notes VALUES ('c', 4);",
    "UPDATE offices SET city = 'Elsewhere' WHERE rowid % 10 = 0;
     DELETE FROM notes WHERE n = 1;",
];

/// A chain built in the bucket (full, then incremental versions): each stored as only
/// its changes, each restored exactly, verified, listed with its base.
#[test]
fn a_version_chain_in_a_bucket_restores_every_version_exactly() {
    let store = Store::new("chain");
    let (w, db) = sqlite_workdir();
    let mut states = Vec::new();
    let mut copies = Vec::new();
    let mut keep = |tag: &str| {
        let copy = w.path().join(format!("db-{tag}.db"));
        std::fs::copy(&db, &copy).unwrap();
        states.push(sqlite_state(&db));
        copies.push(copy);
    };
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app"]), 0);
    keep("v1");
    for (n, sql) in CHANGES.iter().enumerate() {
        sqlite_exec(&db, sql);
        let out =
            store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app", "--new-version"]), 0);
        let text = all_output(&out);
        assert!(text.contains(&format!("incremental to app@{}", n + 1)), "{text}");
        keep(&format!("v{}", n + 2));
    }
    assert_eq!(versions_in(&store, "app"), [1, 2, 3]);
    let h2 = header(&store, &w, "app@2");
    assert_eq!((h2["base"]["name"].as_str(), h2["base"]["version"].as_u64()), (Some("app"), Some(1)));
    assert_eq!(storage(&h2, "offices"), "base", "unchanged: a reference");
    assert_eq!(storage(&h2, "staffs"), "delta", "changed rows only");
    assert_eq!(storage(&h2, "notes"), "full", "no primary key");
    let h3 = header(&store, &w, "app@3");
    assert_eq!(storage(&h3, "staffs"), "base", "read through app@2's delta onto app@1");
    assert_eq!(storage(&h3, "offices"), "delta");
    for (n, (state, copy)) in states.iter().zip(&copies).enumerate() {
        let r = format!("app@{}", n + 1);
        assert!(&restored(&store, &w, copy, &r, &format!("r{n}")) == state, "{r} restored differently");
        store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "verify", &r]), 0);
    }
    // NAME alone is the latest version in a bucket too.
    assert_eq!(restored(&store, &w, &copies[2], "app", "latest"), states[2]);
    let out = store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "verify", "app"]), 0);
    assert!(all_output(&out).contains("(app@3, incremental on app@2 → app@1)"), "{}", all_output(&out));
    let out = store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "diff", "app@1", "app@2"]), 12);
    assert!(all_output(&out).contains("staffs"), "{}", all_output(&out));
    // list: one line per name; list NAME: every version with its base.
    let list = json(&store_run(&store, in_bucket(&store, &mut w.seed(), &["--json", "snapshot", "list"]), 0));
    let items = list["snapshots"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!((items[0]["latest"].as_u64(), items[0]["versions"].as_u64()), (Some(3), Some(3)));
    let list = json(&store_run(&store, in_bucket(&store, &mut w.seed(), &["--json", "snapshot", "list", "app"]), 0));
    let bases: Vec<Value> = list["versions"].as_array().unwrap().iter().map(|v| v["base"].clone()).collect();
    assert_eq!(bases, [Value::Null, "app@1".into(), "app@2".into()], "{list}");
    assert!(list["versions"].as_array().unwrap().iter().skip(1).all(|v| v["base_status"] == "ok"), "{list}");
}

/// push carries an incremental version with the bases the bucket lacks (numbers
/// kept); pull brings a version and its chain back and it restores exactly; a chain
/// whose base is missing everywhere, or differs in the destination, is refused.
#[test]
fn push_and_pull_carry_an_incremental_version_with_its_chain() {
    let store = Store::new("chainpush");
    let (w, db) = sqlite_workdir();
    let dir = w.path().join("snapshots");
    store_run(&store, w.seed().args(["--no-progress", "snapshot", "create", "app"]), 0);
    sqlite_exec(&db, CHANGES[0]);
    let v2_db = w.path().join("db-v2.db");
    std::fs::copy(&db, &v2_db).unwrap();
    let v2_state = sqlite_state(&db);
    store_run(&store, w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    sqlite_exec(&db, CHANGES[1]);
    store_run(&store, w.seed().args(["--no-progress", "snapshot", "create", "app", "--new-version"]), 0);
    // Only app@2 and what it is built on go up.
    let out = store_run(
        &store,
        store.env(&mut w.seed()).args(["--no-progress", "snapshot", "push", "app@2", "--to", &store.url()]),
        0,
    );
    let text = all_output(&out);
    assert!(text.contains("pushed snapshot 'app@2' with 1 snapshot it is built on (app@1)"), "{text}");
    assert_eq!(versions_in(&store, "app"), [1, 2], "numbers kept: {:?}", store.keys());
    for (key, label) in [("app.seed.gz", "app@1"), ("app@2.seed.gz", "app@2")] {
        let local = std::fs::read(dir.join(key)).unwrap();
        let mut cmd = w.seed();
        let out = in_bucket(&store, &mut cmd, &["--json", "snapshot", "show", label]);
        assert_eq!(json(&store_run(&store, out, 0))["size"].as_u64(), Some(local.len() as u64), "{key}");
    }
    // The latest goes up with nothing more to carry; pushing it again is refused.
    let out = store_run(
        &store,
        store.env(&mut w.seed()).args(["--no-progress", "snapshot", "push", "app", "--to", &store.url()]),
        0,
    );
    assert!(all_output(&out).contains("pushed snapshot 'app@3' ("), "{}", all_output(&out));
    store_run(&store, store.env(&mut w.seed()).args(["snapshot", "push", "app", "--to", &store.url()]), 6);

    // Another machine pulls app@2: its chain comes along and it restores exactly.
    let other = Workdir::new();
    let out = store_run(
        &store,
        store.env(&mut other.seed()).args(["--no-progress", "snapshot", "pull", "app@2", "--from", &store.url()]),
        0,
    );
    assert!(all_output(&out).contains("pulled snapshot 'app@2' with 1 snapshot"), "{}", all_output(&out));
    let mut pulled: Vec<String> = std::fs::read_dir(other.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".seed.gz"))
        .collect();
    pulled.sort();
    assert_eq!(pulled, ["app.seed.gz", "app@2.seed.gz"]);
    let target = other.path().join("target.db");
    empty_copy(&v2_db, &target);
    let url = format!("sqlite://{}", target.display());
    store_run(&store, other.seed().args(["--no-progress", "--database-url", &url, "snapshot", "restore", "app@2"]), 0);
    assert_eq!(sqlite_state(&target), v2_state);

    // A base missing on both sides: refused naming it, nothing sent.
    let lonely = Workdir::new();
    let lonely_dir = lonely.path().join("snapshots");
    std::fs::create_dir_all(&lonely_dir).unwrap();
    std::fs::copy(dir.join("app@2.seed.gz"), lonely_dir.join("app@2.seed.gz")).unwrap();
    let fresh = Store::new("chainpush-missing");
    let out =
        store_run(&fresh, fresh.env(&mut lonely.seed()).args(["snapshot", "push", "app@2", "--to", &fresh.url()]), 6);
    assert!(all_output(&out).contains("'app@1'"), "{}", all_output(&out));
    assert!(!fresh.keys().iter().any(|k| k.ends_with(".seed.gz")), "{:?}", fresh.keys());
    // A destination holding another app@1 than the chain's: refused naming it.
    let elsewhere = Workdir::new();
    store_run(&fresh, elsewhere.seed().args(["--no-progress", "bulk", "--count", "20"]), 0);
    store_run(&fresh, in_bucket(&fresh, &mut elsewhere.seed(), &["snapshot", "create", "app"]), 0);
    let out = store_run(&fresh, fresh.env(&mut w.seed()).args(["snapshot", "push", "app@2", "--to", &fresh.url()]), 7);
    assert!(all_output(&out).contains("app@1"), "{}", all_output(&out));
    assert_eq!(versions_in(&fresh, "app"), [1], "nothing added: {:?}", fresh.keys());
}

/// Several creators of new versions of one name in one bucket: with --wait each gets
/// its own number; without, each gets one or exits 8 at once; never one number twice.
#[test]
fn concurrent_new_versions_in_a_bucket_never_share_a_number() {
    let store = Store::new("vrace");
    let (w, _db) = sqlite_workdir();
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app"]), 0);
    let url = store.url();
    let spawn = |extra: &[&str]| {
        let mut args = vec!["--no-progress", "--snapshot-dir", &url, "snapshot", "create", "app", "--new-version"];
        args.extend_from_slice(extra);
        let mut cmd = seed_cmd(&w, &args);
        store.env_std(&mut cmd);
        Running::spawn(cmd)
    };
    let mut all: Vec<Running> = (0..3).map(|_| spawn(&["--wait"])).collect();
    for r in &mut all {
        let (status, _, stderr) = r.finish(Duration::from_secs(180));
        assert!(status.success(), "{stderr}");
    }
    assert_eq!(versions_in(&store, "app"), [1, 2, 3, 4]);
    let mut all: Vec<Running> = (0..3).map(|_| spawn(&[])).collect();
    let mut won = 0;
    for r in &mut all {
        let (status, _, stderr) = r.finish(Duration::from_secs(180));
        match status.code() {
            Some(0) => won += 1,
            Some(8) => assert!(stderr.contains("the next version of snapshot 'app' is locked"), "{stderr}"),
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    assert!(won >= 1);
    assert_eq!(versions_in(&store, "app"), (1..=4 + won).collect::<Vec<u64>>(), "one object per number, no gaps");
    for v in 2..=4 + won {
        assert_eq!(header(&store, &w, &format!("app@{v}"))["version"].as_u64(), Some(v));
    }
}

/// In a bucket, a version others are built on is not deleted or pruned away: refused
/// naming them (exit 13), or folded into them first (--rebase-dependents).
#[test]
fn a_base_with_dependents_is_protected_in_a_bucket() {
    let store = Store::new("deps");
    let (w, db) = sqlite_workdir();
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app"]), 0);
    sqlite_exec(&db, CHANGES[0]);
    let v2_db = w.path().join("db-v2.db");
    std::fs::copy(&db, &v2_db).unwrap();
    let v2_state = sqlite_state(&db);
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app", "--new-version"]), 0);
    let before = store.keys();
    let out = store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "delete", "app@1"]), 13);
    assert!(all_output(&out).contains("app@2"), "{}", all_output(&out));
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "prune", "--keep-versions", "1"]), 13);
    let after: Vec<String> = store.keys().into_iter().filter(|k| k.ends_with(".seed.gz")).collect();
    assert_eq!(after, before.iter().filter(|k| k.ends_with(".seed.gz")).cloned().collect::<Vec<_>>());
    // Folded in: app@2 becomes a full snapshot holding the same rows, app@1 goes.
    let out =
        store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "delete", "app@1", "--rebase-dependents"]), 0);
    assert!(all_output(&out).contains("rebased app@2 off app@1: now a full snapshot"), "{}", all_output(&out));
    assert_eq!(versions_in(&store, "app"), [2]);
    assert!(header(&store, &w, "app@2")["base"].is_null());
    assert_eq!(restored(&store, &w, &v2_db, "app", "rebased"), v2_state);
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "verify", "app"]), 0);
    // delete NAME: every version, counted.
    sqlite_exec(&db, CHANGES[1]);
    store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "create", "app", "--new-version"]), 0);
    let out = store_run(&store, in_bucket(&store, &mut w.seed(), &["snapshot", "delete", "app"]), 0);
    assert!(all_output(&out).contains("deleted 2 versions of snapshot 'app'"), "{}", all_output(&out));
    assert!(versions_in(&store, "app").is_empty(), "{:?}", store.keys());
}
