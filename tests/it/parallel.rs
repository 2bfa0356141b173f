//! r13.2: `snapshot create -j N` reads tables on N connections that share one exported
//! snapshot: the file holds the same rows as a one-connection create, and every table is
//! seen as of the same moment even while other sessions keep writing.

use std::time::Duration;

use crate::common::{TestDb, Workdir, all_output, server};
use crate::snapshot::{Running, header_of, seed_cmd, wait_until};

fn checksums(w: &Workdir, name: &str) -> Vec<(String, u64, String)> {
    let h = header_of(&w.path().join(format!("snapshots/{name}.seed.gz")));
    let mut out: Vec<(String, u64, String)> = h["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["rows"].as_u64().unwrap(),
                t["checksum"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn r13_2_parallel_create_holds_the_same_rows_as_one_connection() {
    let db = TestDb::with_demo_schema("par_same");
    let w = Workdir::new();
    let url = db.url();
    let out = w.seed().args(["--database-url", &url, "bulk", "--count", "3000", "--no-progress"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    for (name, jobs) in [("one", "1"), ("four", "4")] {
        let out =
            w.seed().args(["--database-url", &url, "-v", "snapshot", "create", name, "-j", jobs]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    }
    assert_eq!(checksums(&w, "one"), checksums(&w, "four"));
    let out = w.seed().args(["snapshot", "verify", "four"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    // Nothing but the snapshots is left in the directory (spools are unnamed).
    let mut names: Vec<String> = std::fs::read_dir(w.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != "audit.log")
        .collect();
    names.sort();
    assert_eq!(names, ["four.seed.gz", "one.seed.gz"]);
}

#[test]
fn r13_2_parallel_readers_see_one_moment_while_writers_keep_going() {
    let db = TestDb::new("par_moment");
    db.load_sql(
        "CREATE TABLE left_side (id bigint PRIMARY KEY, pad text);
         CREATE TABLE right_side (id bigint PRIMARY KEY, pad text);
         INSERT INTO left_side SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g;
         INSERT INTO right_side SELECT g, repeat('y', 100) FROM generate_series(1, 100000) g;",
    );
    let w = Workdir::new();
    // Another session adds one row to each table per transaction, all the time.
    let mut writer = server()
        .psql_cmd(&db.name)
        .args([
            "-c",
            "DO $$ BEGIN FOR i IN 100001..200000 LOOP
                 INSERT INTO left_side VALUES (i, 'l'); INSERT INTO right_side VALUES (i, 'r'); COMMIT;
                 PERFORM pg_sleep(0.001);
             END LOOP; END $$",
        ])
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), "the writer to start", || {
        (db.psql("SELECT count(*) FROM left_side") != "100000").then_some(())
    });
    let mut create =
        Running::spawn(seed_cmd(&w, &["--database-url", &db.url(), "snapshot", "create", "moment", "-j", "2"]));
    let (status, _, stderr) = create.finish(Duration::from_secs(120));
    let _ = writer.kill();
    let _ = writer.wait();
    assert!(status.success(), "{stderr}");
    let sums = checksums(&w, "moment");
    assert_eq!(sums.len(), 2);
    assert_eq!(sums[0].1, sums[1].1, "the two tables were read at different moments: {sums:?}");
    assert!(sums[0].1 > 100000, "the writer never got in: {sums:?}");
}
