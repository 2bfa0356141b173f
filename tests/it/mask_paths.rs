//! Masked snapshots (issue 23), the paths around the core: sakila on MariaDB, a slice
//! (`--subset` with `--mask`), the S3 store and incremental versions, a composite and
//! a virtual reference to masked keys, the dry run's full column list, the remote
//! guard, and the failures (file size limit, a killed connection, Ctrl-C, bad rules)
//! that must leave the snapshot directory as it was.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::bulk::sqlite_with_schema;
use crate::common::mariadb::MariaDb;
use crate::common::s3::Store;
use crate::common::{TestDb, Workdir, all_output, assert_no_password, run, sqlite3};
use crate::mask::{
    KEY, OTHER_KEY, Originals, assert_none_survive, distinctive, dry_run_plan, first_found, masked_columns,
    masked_create, output_bytes, pg_originals, pg_values, rule_of, seed, spool_text, unescape,
};
use crate::snapshot::{
    Running, assert_dir_unchanged, big_demo, clone_db, dir_state, header_of, pagila_schema_template, pagila_template,
    seed_cmd, stdout, table_finished, terminate_create_mid_copy,
};

/// Every distinct original value of each column as text, from a MariaDB database.
fn my_originals(db: &MariaDb, columns: &[(String, String)]) -> Originals {
    let mut out = Originals::new();
    for (t, c) in columns {
        let text = db.sql(&format!("SELECT DISTINCT `{c}` FROM `{t}` WHERE `{c}` IS NOT NULL"));
        out.insert((t.clone(), c.clone()), text.lines().map(unescape).collect());
    }
    out
}

/// Rows of every single-column foreign key of a MariaDB database whose parent row is
/// missing, as `child.column: n` (empty when every reference holds).
fn my_orphans(db: &MariaDb) -> Vec<String> {
    let fks = db.sql(&format!(
        "SELECT table_name, column_name, referenced_table_name, referenced_column_name
           FROM information_schema.key_column_usage
          WHERE table_schema = '{}' AND referenced_table_name IS NOT NULL",
        db.name
    ));
    let mut out = Vec::new();
    for line in fks.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let n = db.sql(&format!(
            "SELECT count(*) FROM `{0}` c LEFT JOIN `{2}` p ON c.`{1}` = p.`{3}` WHERE c.`{1}` IS NOT NULL AND p.`{3}` IS NULL",
            f[0], f[1], f[2], f[3]
        ));
        if n != "0" {
            out.push(format!("{}.{}: {n}", f[0], f[1]));
        }
    }
    out
}

// =======================================================================================
// sakila on MariaDB

#[test]
fn mask_sakila_mariadb_auto_leaves_no_original_value_and_every_reference_holds() {
    let (a, b) = (MariaDb::sakila("mask_sak_a"), MariaDb::sakila("mask_sak_b"));
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &a.url(), "bulk", "--count", "200", "--seed", "5"]), 0);
    // Originals no generator could produce by chance: a match anywhere is a leak.
    a.sql(
        "UPDATE customer SET email = CONCAT('cust', customer_id, '.leak@origin.example'),
                             first_name = CONCAT('Origfirst', customer_id), last_name = CONCAT('Origlast', customer_id);
         UPDATE staff SET email = CONCAT('staff', staff_id, '.leak@origin.example'), username = CONCAT('origuser', staff_id);
         UPDATE actor SET first_name = CONCAT('Actorfirst', actor_id), last_name = CONCAT('Actorlast', actor_id);
         UPDATE address SET address = CONCAT(address_id, ' Originalstreet Road'), phone = CONCAT('+1-555-', LPAD(address_id, 6, '0'))",
    );
    let url = a.url();
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(masked_create(&url, "s")).arg("--dry-run"));
    assert_eq!(rule_of(&plan, "customer", "email"), "fake email | auto: an email address");
    assert!(rule_of(&plan, "address", "phone").starts_with("fake phone | auto: a phone number"), "{plan}");
    assert!(rule_of(&plan, "rental", "customer_id").starts_with("keep |"), "{plan}");
    let columns = masked_columns(&plan);
    // The columns given values above (the rest hold the generator's own words: a fake
    // first name can hold another by chance, "Valentin" in "Valentina").
    let real: Vec<(String, String)> = [
        "customer.email",
        "customer.first_name",
        "customer.last_name",
        "staff.email",
        "staff.username",
        "actor.first_name",
        "actor.last_name",
        "address.address",
        "address.phone",
    ]
    .iter()
    .map(|c| {
        assert!(columns.iter().any(|(t, col)| format!("{t}.{col}") == *c), "{c} is not masked: {columns:?}");
        let (t, col) = c.split_once('.').unwrap();
        (t.to_owned(), col.to_owned())
    })
    .collect();
    let originals = my_originals(&a, &real);

    let out = run(seed(&w, KEY).args(["-v", "--log-format", "json"]).args(masked_create(&url, "s")), 0);
    let file = w.path().join("snapshots/s.seed.gz");
    assert_eq!(header_of(&file)["masking"]["mode"], "auto");
    let show = run(w.seed().args(["snapshot", "show", "s"]), 0);
    let audit = std::fs::read(w.path().join("snapshots/audit.log")).unwrap_or_default();
    let mut printed = output_bytes(&[&out, &show]);
    printed.extend_from_slice(&audit);
    assert!(assert_none_survive(&originals, &file, &printed) > 800);

    // Restored into an empty sakila: every foreign key still finds its row, and no
    // customer kept a name or an email (compared by key).
    run(w.seed().args(["--database-url", &b.url(), "snapshot", "restore", "s"]), 0);
    assert_eq!(b.count("rental"), a.count("rental"));
    assert_eq!(b.count("payment"), a.count("payment"));
    assert_eq!(my_orphans(&b), Vec::<String>::new());
    let rows =
        |db: &MariaDb| db.sql("SELECT customer_id, email, first_name, last_name FROM customer ORDER BY customer_id");
    let (before, after) = (rows(&a), rows(&b));
    assert_eq!(before.lines().count(), 200);
    for (x, y) in before.lines().zip(after.lines()) {
        let (x, y): (Vec<&str>, Vec<&str>) = (x.split('\t').collect(), y.split('\t').collect());
        assert_eq!(x[0], y[0], "keys are kept");
        for i in 1..4 {
            assert_ne!(x[i], y[i], "customer {} kept {}", x[0], x[i]);
            assert!(!y[i].contains("Orig") && !y[i].contains("origin.example"), "{}", y[i]);
        }
    }
    // The same key, read again: the same data.
    run(seed(&w, KEY).args(["--database-url", &url, "snapshot", "create", "s2", "--mask", "auto"]), 0);
    assert_eq!(
        crate::mask::rows_of(&file),
        crate::mask::rows_of(&w.path().join("snapshots/s2.seed.gz")),
        "same key, other data"
    );
}

// =======================================================================================
// A masked slice of pagila

#[test]
fn mask_with_subset_round_trip_on_pagila() {
    let source = clone_db(pagila_template(), "mask_sub");
    let target = clone_db(pagila_schema_template(), "mask_sub_to");
    let w = Workdir::new();
    let url = source.url();
    let args =
        ["--database-url", url.as_str(), "snapshot", "create", "slice", "--subset", "customer:10%", "--mask", "auto"];
    // The dry run explains both: the slice per table and every column's rule.
    let out = run(seed(&w, KEY).args(args).arg("--dry-run"), 0);
    let text = all_output(&out);
    assert!(text.contains("customer") && text.contains("start"), "{text}");
    assert!(text.contains("fake email") && text.contains("auto: an email address"), "{text}");
    assert!(text.contains("masking auto:"), "{text}");
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(args).arg("--dry-run"));
    assert!(plan["subset"].is_object() && plan["masking"]["tables"].is_array(), "{plan}");
    let columns: Vec<(String, String)> =
        masked_columns(&plan).into_iter().filter(|(t, _)| t != "staff" && t != "city").collect();
    let originals = pg_originals(&source, &columns);

    let out = run(seed(&w, KEY).args(args).args(["-j", "2"]), 0);
    let file = w.path().join("snapshots/slice.seed.gz");
    let header = header_of(&file);
    assert!(header["subset"].is_object(), "{header}");
    assert_eq!(header["masking"]["mode"], "auto");
    assert!(assert_none_survive(&originals, &file, &output_bytes(&[&out])) > 1000);

    // Into an empty pagila: the restore checks every foreign key; the slice is smaller
    // than the whole; each customer taken differs from its source row.
    run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", "slice"]), 0);
    let (all, taken) = (source.count("customer"), target.count("customer"));
    assert!(taken > 20 && taken < all / 4, "{taken} of {all} customers");
    assert!(target.count("rental") < source.count("rental"));
    let key = vec!["customer_id".to_owned()];
    for column in ["email", "first_name", "last_name"] {
        let (before, after) =
            (pg_values(&source, "customer", &key, column), pg_values(&target, "customer", &key, column));
        assert_eq!(after.len() as i64, taken);
        for (k, v) in &after {
            assert_ne!(v, &before[k], "customer {k} kept its {column}");
        }
    }
    // A masked slice taken again under the same key: the same rows, the same values.
    run(
        seed(&w, KEY).args([
            "--database-url",
            &url,
            "snapshot",
            "create",
            "slice2",
            "--subset",
            "customer:10%",
            "--mask",
            "auto",
        ]),
        0,
    );
    assert_eq!(crate::mask::rows_of(&file), crate::mask::rows_of(&w.path().join("snapshots/slice2.seed.gz")));
}

// =======================================================================================
// The store and incremental versions (SQLite source)

/// What every object under the store's prefix holds: its bytes and, where they are
/// gzip members, their text.
fn store_contents(store: &Store) -> Vec<u8> {
    let keys = store.keys();
    assert!(!keys.is_empty());
    let mut all = Vec::new();
    for k in keys {
        let bytes = store.object(&k);
        all.extend_from_slice(&spool_text(&bytes));
        all.extend_from_slice(&bytes);
    }
    all
}

#[test]
fn mask_into_the_store_and_incremental_versions_hold_no_original_value() {
    let store = Store::new("mask");
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "300", "--seed", "4"]), 0);
    let db = w.path().join("seed.db");
    sqlite3(&db, "UPDATE staffs SET email = 'orig' || id || '.leak@origin.example', name = 'Origname' || id");
    let originals = |db: &Path| {
        Originals::from([
            (
                ("staffs".into(), "email".into()),
                sqlite3(db, "SELECT email FROM staffs").lines().map(str::to_owned).collect(),
            ),
            (
                ("staffs".into(), "name".into()),
                sqlite3(db, "SELECT name FROM staffs").lines().map(str::to_owned).collect(),
            ),
        ])
    };
    let first = originals(&db);
    let create = |extra: &[&str]| {
        let mut cmd = seed(&w, KEY);
        store.apply(&mut cmd).args(["--json", "snapshot", "create", "m", "--mask", "auto"]).args(extra);
        run(&mut cmd, 0)
    };
    let out1 = create(&[]);

    // A second version, incremental to the masked first: a changed row's new value
    // and its old one are both absent everywhere in the bucket.
    sqlite3(&db, "UPDATE staffs SET email = 'second' || id || '.leak@origin.example' WHERE id <= 60");
    let second = originals(&db);
    let out2 = create(&["--new-version"]);
    let doc: Value = serde_json::from_str(&stdout(&out2)).unwrap();
    assert!(doc["storage"]["base"].as_u64().unwrap() > 0, "not incremental: {doc}");
    let bucket = store_contents(&store);
    let values: Vec<&String> = first.values().chain(second.values()).flatten().filter(|v| distinctive(v)).collect();
    assert!(values.len() > 600);
    let found = first_found(&bucket, values.iter().copied());
    assert!(found.is_none(), "{found:?} is in the bucket");
    let found = first_found(&output_bytes(&[&out1, &out2]), values.iter().copied());
    assert!(found.is_none(), "{found:?} was printed");

    // The latest version restored from the store: every reference and the unique email hold.
    let target = w.path().join("target.db");
    sqlite_with_schema(&target, &std::fs::read_to_string(crate::common::repo_path("fixtures/schema.sql")).unwrap());
    let target_url = format!("sqlite://{}", target.display());
    run(store.apply(&mut w.seed()).args(["--database-url", &target_url, "snapshot", "restore", "m"]), 0);
    assert_eq!(sqlite3(&target, "PRAGMA foreign_key_check"), "");
    assert_eq!(sqlite3(&target, "SELECT count(DISTINCT email) FROM staffs"), "300");
    assert_eq!(
        sqlite3(&target, "SELECT count(*) FROM staffs WHERE email LIKE '%origin.example' OR name LIKE 'Orig%'"),
        "0"
    );

    // An unmasked version on top of the masked one is not built on it: a full copy.
    let mut cmd = w.seed();
    let out = run(store.apply(&mut cmd).args(["snapshot", "create", "m", "--new-version"]), 0);
    assert!(all_output(&out).contains("masked, and this one is not: taking a full snapshot"), "{}", all_output(&out));
}

// =======================================================================================
// A composite foreign key and a virtual reference to masked keys (SQLite)

const LEDGER: &str = "
CREATE TABLE accounts (
    region TEXT NOT NULL, code TEXT NOT NULL, owner_email TEXT NOT NULL UNIQUE,
    PRIMARY KEY (region, code)
);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY, region TEXT NOT NULL, code TEXT NOT NULL, billed_to TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    FOREIGN KEY (region, code) REFERENCES accounts (region, code)
);";

const LEDGER_RULES: &str = r#"[references]
"invoices.billed_to" = "accounts.owner_email"

[mask]
"accounts.code" = "scramble"
"#;

#[test]
fn mask_keys_referenced_by_a_composite_foreign_key_and_a_virtual_reference_still_join() {
    let w = Workdir::new();
    let db = w.path().join("ledger.db");
    sqlite_with_schema(&db, LEDGER);
    sqlite3(
        &db,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
         INSERT INTO accounts SELECT CASE i % 3 WHEN 0 THEN 'north' WHEN 1 THEN 'south' ELSE 'west' END,
                                     printf('ACCT%05d', i), printf('owner%d.leak@origin.example', i) FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200)
         INSERT INTO invoices SELECT i, a.region, a.code, a.owner_email, i FROM n JOIN accounts a ON a.rowid = i % 400 + 1;",
    );
    let rules = w.path().join("rules.toml");
    std::fs::write(&rules, LEDGER_RULES).unwrap();
    let url = format!("sqlite://{}", db.display());
    let args = [
        "--database-url",
        url.as_str(),
        "snapshot",
        "create",
        "l",
        "--mask",
        "auto",
        "--factories",
        rules.to_str().unwrap(),
    ];
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(args).arg("--dry-run"));
    assert!(rule_of(&plan, "accounts", "code").starts_with("scramble | "), "{plan}");
    assert!(rule_of(&plan, "invoices", "code").starts_with("scramble | same values as accounts.code"), "{plan}");
    assert!(
        rule_of(&plan, "invoices", "billed_to").starts_with("fake email | same values as accounts.owner_email"),
        "{plan}"
    );
    assert!(rule_of(&plan, "invoices", "region").starts_with("keep |"), "{plan}");
    let column = |sql: &str| -> BTreeSet<String> { sqlite3(&db, sql).lines().map(str::to_owned).collect() };
    let originals = Originals::from([
        (("accounts".into(), "code".into()), column("SELECT code FROM accounts")),
        (("accounts".into(), "owner_email".into()), column("SELECT owner_email FROM accounts")),
    ]);
    let out = run(seed(&w, KEY).args(args), 0);
    let file = w.path().join("snapshots/l.seed.gz");
    assert!(assert_none_survive(&originals, &file, &output_bytes(&[&out])) == 800);

    let target = w.path().join("target.db");
    sqlite_with_schema(&target, LEDGER);
    run(w.seed().args(["--database-url", &format!("sqlite://{}", target.display()), "snapshot", "restore", "l"]), 0);
    let q = |sql: &str| sqlite3(&target, sql);
    assert_eq!(q("PRAGMA foreign_key_check"), "");
    assert_eq!(q("SELECT count(*) FROM invoices i JOIN accounts a USING (region, code)"), "1200");
    assert_eq!(
        q("SELECT count(*) FROM invoices i JOIN accounts a USING (region, code) WHERE i.billed_to = a.owner_email"),
        "1200"
    );
    assert_eq!(q("SELECT count(DISTINCT owner_email) FROM accounts"), "400");
    assert_eq!(q("SELECT count(*) FROM accounts WHERE code LIKE 'ACCT%' OR owner_email LIKE '%origin.example'"), "0");
    // Scramble keeps the shape: four capitals and five digits.
    assert_eq!(
        q("SELECT count(*) FROM accounts WHERE code GLOB '[A-Z][A-Z][A-Z][A-Z][0-9][0-9][0-9][0-9][0-9]'"),
        "400"
    );
    // Another key: other codes.
    run(
        seed(&w, OTHER_KEY).args([
            "--database-url",
            &url,
            "snapshot",
            "create",
            "l2",
            "--mask",
            "auto",
            "--factories",
            rules.to_str().unwrap(),
        ]),
        0,
    );
    assert_ne!(crate::mask::rows_of(&file), crate::mask::rows_of(&w.path().join("snapshots/l2.seed.gz")));
}

// =======================================================================================
// The dry run lists every column

#[test]
fn mask_dry_run_lists_every_column_of_every_table_with_a_rule_and_a_reason() {
    let source = clone_db(pagila_template(), "mask_dry");
    let w = Workdir::new();
    let url = source.url();
    let args = ["--database-url", url.as_str(), "snapshot", "create", "p", "--mask", "auto", "--dry-run"];
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(args));
    let tables: Vec<String> =
        plan["tables"].as_array().unwrap().iter().map(|t| t["table"].as_str().unwrap().to_owned()).collect();
    let planned = plan["masking"]["tables"].as_array().unwrap();
    assert_eq!(planned.iter().map(|t| t["table"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), tables);
    let mut listed = 0;
    for t in planned {
        let name = t["table"].as_str().unwrap();
        let (schema, table) = name.split_once('.').unwrap_or(("public", name));
        let expected: Vec<String> = source
            .psql(&format!(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = '{schema}' AND table_name = '{table}'
                   AND is_generated = 'NEVER' ORDER BY ordinal_position"
            ))
            .lines()
            .map(str::to_owned)
            .collect();
        let got: Vec<String> =
            t["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect();
        assert_eq!(got, expected, "{name}");
        for c in t["columns"].as_array().unwrap() {
            assert!(!c["rule"].as_str().unwrap().is_empty() && !c["reason"].as_str().unwrap().is_empty(), "{c}");
        }
        listed += got.len();
    }
    assert!(listed > 80, "{listed}");
    // The text form: a line per column, then the count.
    let out = run(seed(&w, KEY).args(args), 0);
    let text = all_output(&out);
    let summary = format!("of {listed} masked");
    assert!(text.contains(&summary), "{text}");
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("email")
            && l.contains("fake email")
            && l.contains("auto: an email address")),
        "{text}"
    );
    assert!(text.contains("nothing was read or written"), "{text}");
    assert!(!w.path().join("snapshots/p.seed.gz").exists());
    // Without a key the dry run still plans, and says what the create will need.
    let out = run(w.seed().args(args), 0);
    assert!(all_output(&out).contains("SEED_MASK_KEY"), "{}", all_output(&out));
}

// =======================================================================================
// The remote guard

/// This machine's address on its network (not loopback), as a remote server's would be.
fn lan_address() -> IpAddr {
    for probe in ["192.0.2.1:9", "10.255.255.1:9", "198.51.100.1:9"] {
        let Ok(s) = UdpSocket::bind("0.0.0.0:0") else { continue };
        if s.connect(probe).is_ok()
            && let Ok(a) = s.local_addr()
            && !a.ip().is_loopback()
            && !a.ip().is_unspecified()
        {
            return a.ip();
        }
    }
    panic!(
        "this machine has no non-loopback IPv4 address: the remote guard test needs one (a network interface with a route)"
    )
}

/// Listens on this machine's network address and forwards each connection to the
/// test server on 127.0.0.1: a database that looks remote to `seed`.
fn remote_alias(port: u16) -> (IpAddr, u16) {
    let ip = lan_address();
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let local = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut client) = conn else { break };
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)) else { continue };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client, &mut server);
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (ip, local)
}

#[test]
fn mask_a_remote_source_with_personal_columns_needs_mask_or_no_mask() {
    let source = clone_db(pagila_template(), "mask_remote");
    let plain = TestDb::new("mask_remote_plain");
    plain.load_sql("CREATE TABLE readings (id int PRIMARY KEY, sensor int NOT NULL, value numeric NOT NULL); INSERT INTO readings VALUES (1, 7, 0.5)");
    let pg = crate::common::server().port;
    let (ip, port) = remote_alias(pg);
    let remote = |db: &TestDb| db.url().replace(&format!("127.0.0.1:{pg}"), &format!("{ip}:{port}"));
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let before = dir_state(&dir);
    let url = remote(&source);

    let out = run(w.seed().args(["--database-url", &url, "snapshot", "create", "r"]), 2);
    let text = all_output(&out);
    assert!(text.contains("is not on this machine"), "{text}");
    assert!(text.contains("customer.email") && text.contains("--mask auto") && text.contains("--no-mask"), "{text}");
    assert_no_password(&out);
    assert_dir_unchanged(&dir, &before, "remote guard");
    // The dry run says the same before reading anything.
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "r", "--dry-run"]), 2);

    // Either choice, made explicitly, goes ahead.
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "raw", "--no-mask"]), 0);
    assert!(header_of(&dir.join("raw.seed.gz"))["masking"].is_null());
    run(seed(&w, KEY).args(["--database-url", &url, "snapshot", "create", "masked", "--mask", "auto"]), 0);
    assert_eq!(header_of(&dir.join("masked.seed.gz"))["masking"]["mode"], "auto");
    // A remote database with nothing personal-looking needs neither.
    run(w.seed().args(["--database-url", &remote(&plain), "snapshot", "create", "plain"]), 0);
}

// =======================================================================================
// Failures leave the snapshot directory as it was

#[test]
fn mask_create_and_mask_failures_leave_the_snapshot_directory_as_it_was() {
    let db = clone_db(&big_demo().template, "mask_fail");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let keyfile = w.path().join("key");
    std::fs::write(&keyfile, KEY).unwrap();
    let k = keyfile.to_str().unwrap();
    let emails: Vec<String> = db.psql("SELECT email FROM staffs").lines().map(str::to_owned).collect();
    let url = db.url();
    let no_value_in = |text: &str| {
        for v in emails.iter().take(200) {
            assert!(!text.contains(v.as_str()), "{v} printed:\n{text}");
        }
    };
    let limited = |args: &[&str]| {
        let mut cmd = seed_cmd(&w, args);
        // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit { rlim_cur: 200_000, rlim_max: 200_000 };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output().unwrap()
    };

    // An unmasked source snapshot for `snapshot mask`, then the state to keep.
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "real"]), 0);
    let before = dir_state(&dir);

    // The file size limit, mid-write: create --mask and snapshot mask.
    for args in [
        vec!["--database-url", url.as_str(), "snapshot", "create", "big", "--mask", "auto", "--mask-key-file", k],
        vec!["snapshot", "mask", "real", "big", "--mask", "auto", "--mask-key-file", k],
    ] {
        let out = limited(&args);
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(9), "{args:?}: {text}");
        assert!(text.contains("not enough disk space"), "{text}");
        no_value_in(&text);
        assert_dir_unchanged(&dir, &before, &format!("RLIMIT_FSIZE: {args:?}"));
    }

    // The connection killed mid-read: without retries exit 3, nothing written; with
    // them the retried create is whole and masked.
    let (status, stderr) =
        terminate_create_mid_copy(&w, &db, &["--mask", "auto", "--mask-key-file", k, "--retry-max-attempts", "1"]);
    assert_eq!(status.code(), Some(3), "{stderr}");
    no_value_in(&stderr);
    assert_dir_unchanged(&dir, &before, "connection killed");
    let (status, stderr) = terminate_create_mid_copy(&w, &db, &["--mask", "auto", "--mask-key-file", k]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let originals = Originals::from([(("staffs".into(), "email".into()), emails.iter().cloned().collect())]);
    assert!(assert_none_survive(&originals, &dir.join("net.seed.gz"), stderr.as_bytes()) > 1000);
    std::fs::remove_file(dir.join("net.seed.gz")).unwrap();

    // Ctrl-C and kill -9 while `snapshot mask` writes: no copy, nothing else.
    let before = dir_state(&dir);
    for signal in [libc::SIGINT, libc::SIGKILL] {
        let mut running = Running::spawn(seed_cmd(
            &w,
            &["--log-format", "json", "snapshot", "mask", "real", "cut", "--mask", "auto", "--mask-key-file", k],
        ));
        running.wait_line(Duration::from_secs(60), "the first table's progress event", table_finished);
        running.signal(signal);
        let (status, _, stderr) = running.finish(Duration::from_secs(60));
        assert!(!stderr.contains("a masked copy of"), "finished before the signal:\n{stderr}");
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "{stderr}");
        }
        no_value_in(&stderr);
        assert_dir_unchanged(&dir, &before, &format!("signal {signal}"));
    }

    // A rules file naming what is not there: exit 2 with file and line, for both commands.
    let rules = w.path().join("bad.toml");
    std::fs::write(&rules, "[mask]\n\"staffs.email\" = \"hash\"\n\"staffs.shoe_size\" = \"null\"\n").unwrap();
    let r = rules.to_str().unwrap();
    for args in [
        vec!["--database-url", url.as_str(), "snapshot", "create", "x", "--mask", "auto", "--factories", r],
        vec!["snapshot", "mask", "real", "x", "--mask", "auto", "--factories", r],
    ] {
        let out = run(seed(&w, KEY).args(&args), 2);
        let text = all_output(&out);
        assert!(text.contains("bad.toml:3:") && text.contains("shoe_size"), "{args:?}: {text}");
        assert_dir_unchanged(&dir, &before, "bad rules");
    }
    let mut buf = String::new();
    std::fs::File::open(dir.join("audit.log")).unwrap().read_to_string(&mut buf).unwrap();
    no_value_in(&buf);
}

// =======================================================================================
// seed.toml's [mask] and [references]

#[test]
fn mask_rules_and_references_come_from_seed_toml_too() {
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "40", "--seed", "2"]), 0);
    std::fs::write(
        w.path().join("seed.toml"),
        "[mask]\n\"staffs.email\" = { template = \"staff{n}@example.com\" }\n\"offices.city\" = { fixed = \"Springfield\" }\n\
         \"welfare_recipients.notes.$.note\" = { fake = \"sentence\" }\n\n[references]\n\"offices.name\" = \"staffs.name\"\n",
    )
    .unwrap();
    let plan = dry_run_plan(seed(&w, KEY).args(["--json", "snapshot", "create", "t", "--mask", "auto", "--dry-run"]));
    let email = rule_of(&plan, "staffs", "email");
    assert!(email.starts_with("template staff{n}@example.com | ") && email.contains("seed.toml:2"), "{email}");
    assert!(rule_of(&plan, "offices", "name").contains("same values as staffs.name"), "{plan}");
    run(seed(&w, KEY).args(["snapshot", "create", "t", "--mask", "auto"]), 0);
    let (_, columns, lines) = crate::mask::tables_of(&w.path().join("snapshots/t.seed.gz"))
        .into_iter()
        .find(|(t, _, _)| t == "staffs")
        .unwrap();
    let i = columns.iter().position(|(c, _)| c == "email").unwrap();
    assert_eq!(lines.len(), 40);
    for l in &lines {
        let e = l.split('\t').nth(i).unwrap();
        assert!(e.starts_with("staff") && e.ends_with("@example.com"), "{e}");
    }
    // `fixed`, and a path inside JSON: only the note is replaced, the rest of each
    // document is as it was.
    let file = w.path().join("snapshots/t.seed.gz");
    let stored = crate::mask::tables_of(&file);
    let (_, columns, lines) = stored.iter().find(|(t, _, _)| t == "offices").unwrap();
    let i = columns.iter().position(|(c, _)| c == "city").unwrap();
    assert!(lines.iter().all(|l| l.split('\t').nth(i) == Some("Springfield")));
    let db = w.path().join("seed.db");
    let source: std::collections::BTreeMap<String, String> =
        sqlite3(&db, "SELECT id, notes FROM welfare_recipients WHERE notes IS NOT NULL")
            .lines()
            .map(|l| l.split_once('|').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap())
            .collect();
    let (_, columns, lines) = stored.iter().find(|(t, _, _)| t == "welfare_recipients").unwrap();
    let (id, notes) =
        (columns.iter().position(|(c, _)| c == "id").unwrap(), columns.iter().position(|(c, _)| c == "notes").unwrap());
    let mut compared = 0;
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        let Some(before) = source.get(f[id]) else { continue };
        let (before, after): (Value, Value) =
            (serde_json::from_str(before).unwrap(), serde_json::from_str(&unescape(f[notes])).unwrap());
        assert_ne!(before["note"], after["note"]);
        assert!(after["note"].as_str().is_some_and(|n| !n.is_empty()), "{after}");
        for k in ["priority", "tags", "flagged"] {
            assert_eq!(before[k], after[k], "{k} of {}", f[id]);
        }
        compared += 1;
    }
    assert!(compared > 20, "{compared}");
    // A rule there that cannot be is refused with seed.toml's name and line.
    std::fs::write(w.path().join("seed.toml"), "[mask]\n\"staffs.nope\" = \"null\"\n").unwrap();
    let out = run(seed(&w, KEY).args(["snapshot", "create", "t2", "--mask", "auto", "--dry-run"]), 2);
    assert!(all_output(&out).contains("seed.toml:2:"), "{}", all_output(&out));
    // Its hint sends the user to seed.toml's line too, not to "the factories file":
    // a rule the parser refuses, one the schema refuses, one the column cannot hold.
    let hint_of = |text: &str| text.lines().find(|l| l.starts_with("hint:")).unwrap_or_default().to_owned();
    for (rule, says) in [
        ("\"staffs.nope\" = \"null\"", "no column 'nope'"),
        ("\"staffs.name\" = \"nonsense\"", "unknown rule"),
        ("\"staffs.name\" = \"null\"", "NOT NULL"),
    ] {
        std::fs::write(w.path().join("seed.toml"), format!("[mask]\n{rule}\n")).unwrap();
        let text = all_output(&run(seed(&w, KEY).args(["snapshot", "create", "t2", "--mask", "auto", "--dry-run"]), 2));
        assert!(text.contains("seed.toml:2:") && text.contains(says), "{rule}: {text}");
        let hint = hint_of(&text);
        assert!(
            hint.contains("fix line 2 of") && hint.contains("seed.toml") && !hint.contains("factories"),
            "{rule}: {text}"
        );
    }
    // The same rule in a rules file: the hint names that file and line.
    std::fs::remove_file(w.path().join("seed.toml")).unwrap();
    std::fs::write(w.path().join("rules.toml"), "[mask]\n\"staffs.nope\" = \"null\"\n").unwrap();
    let text =
        all_output(&run(seed(&w, KEY).args(["snapshot", "create", "t2", "--mask", "rules.toml", "--dry-run"]), 2));
    let hint = hint_of(&text);
    assert!(
        text.contains("rules.toml:2:") && hint.contains("rules.toml (line 2)") && !hint.contains("seed.toml"),
        "{text}"
    );
    assert!(!w.path().join("snapshots/t2.seed.gz").exists());
}
