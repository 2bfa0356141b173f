//! Subsets (issue 22): `snapshot create --subset` on pagila and northwind (PostgreSQL),
//! sakila (MariaDB), a schema of self, cyclic, composite, keyless and virtual
//! references (SQLite and PostgreSQL), and the demo schema. Every slice restores into
//! an empty schema with its foreign keys checked, and its row counts equal a closure
//! computed here, independently, in each database's own SQL ([`Expected`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::common::mariadb::MariaDb;
use crate::common::run;
use crate::common::{TestDb, Workdir, all_output, assert_no_password, repo_path, server};
use crate::snapshot::{
    Running, assert_dir_unchanged, big_demo, clone_db, dir_state, entry_name, header_of, pagila_schema_template,
    pagila_template, seed_cmd, stdout, table_finished,
};

// ---------------------------------------------------------------------------------
// The independent closure
// ---------------------------------------------------------------------------------

/// One reference, written by hand from the schema: child columns -> parent columns,
/// with a condition on the child (virtual references).
struct Edge {
    child: &'static str,
    fk: &'static str,
    parent: &'static str,
    pk: &'static str,
    cond: Option<&'static str>,
}

const fn e(child: &'static str, fk: &'static str, parent: &'static str, pk: &'static str) -> Edge {
    Edge { child, fk, parent, pk, cond: None }
}

/// The slice's rules computed in SQL, in scratch tables `d_T` (rows reached downward:
/// start rows and children of such rows) and `k_T` (every row of the slice: `d_T` plus
/// every row a row of `k_T` references), round after round until nothing changes. It
/// shares no code with seed: only the rules of docs/subsets.md, over a hand-written list of
/// references and keys.
struct Expected<'a> {
    /// (table, its key columns)
    keys: &'a [(&'a str, &'a str)],
    edges: &'a [Edge],
    /// Where the scratch tables go: `x.` (a schema or attached database).
    scratch: &'a str,
}

impl Expected<'_> {
    fn key(&self, t: &str) -> &str {
        self.keys.iter().find(|(n, _)| *n == t).unwrap_or_else(|| panic!("no key for {t}")).1
    }

    /// Per table, the rows of the slice starting at `starts` (table, condition).
    fn compute(&self, run: &dyn Fn(&str) -> String, starts: &[(&str, &str)], children: bool) -> BTreeMap<String, u64> {
        let x = self.scratch;
        let mut setup = String::new();
        for (t, k) in self.keys {
            setup.push_str(&format!(
                "CREATE TABLE {x}d_{t} AS SELECT {k} FROM {t} WHERE 1 = 0; CREATE TABLE {x}k_{t} AS SELECT {k} FROM {t} WHERE 1 = 0;\n"
            ));
        }
        for (t, cond) in starts {
            setup.push_str(&format!("INSERT INTO {x}d_{t} SELECT DISTINCT {} FROM {t} WHERE ({cond});\n", self.key(t)));
        }
        run(&setup);
        let mut round = String::new();
        for edge in self.edges.iter().filter(|_| children) {
            let (c, p) = (edge.child, edge.parent);
            let (ck, pk) = (self.key(c), self.key(p));
            let cond = edge.cond.map(|w| format!(" AND ({w})")).unwrap_or_default();
            round.push_str(&format!(
                "INSERT INTO {x}d_{c} SELECT DISTINCT {ck} FROM {c} WHERE ({}) IN (SELECT {} FROM {p} WHERE ({pk}) IN (SELECT * FROM {x}d_{p})){cond} AND ({ck}) NOT IN (SELECT * FROM {x}d_{c});\n",
                edge.fk, edge.pk
            ));
        }
        for (t, k) in self.keys {
            round.push_str(&format!(
                "INSERT INTO {x}k_{t} SELECT * FROM {x}d_{t} WHERE ({k}) NOT IN (SELECT * FROM {x}k_{t});\n"
            ));
        }
        for edge in self.edges {
            let (c, p) = (edge.child, edge.parent);
            let (ck, pk) = (self.key(c), self.key(p));
            let cond = edge.cond.map(|w| format!(" AND ({w})")).unwrap_or_default();
            round.push_str(&format!(
                "INSERT INTO {x}k_{p} SELECT DISTINCT {pk} FROM {p} WHERE ({}) IN (SELECT {} FROM {c} WHERE ({ck}) IN (SELECT * FROM {x}k_{c}){cond}) AND ({pk}) NOT IN (SELECT * FROM {x}k_{p});\n",
                edge.pk, edge.fk
            ));
        }
        let counts: Vec<String> = self
            .keys
            .iter()
            .map(|(t, _)| format!("SELECT '{t}', (SELECT count(*) FROM {x}k_{t}), (SELECT count(*) FROM {x}d_{t})"))
            .collect();
        let count_sql = counts.join(" UNION ALL ");
        let mut last = String::new();
        for _ in 0..100 {
            run(&round);
            let now = run(&count_sql);
            if now == last {
                return now
                    .lines()
                    .map(|l| {
                        let f: Vec<&str> = l.split(['|', '\t']).collect();
                        (f[0].to_owned(), f[1].trim().parse().unwrap())
                    })
                    .collect();
            }
            last = now;
        }
        panic!("the closure did not settle in 100 rounds");
    }
}

/// Rows per table as the snapshot's header records them (`schema.name` without `public.`).
fn header_rows(path: &Path) -> BTreeMap<String, u64> {
    header_of(path)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (entry_name(t).trim_start_matches("public.").to_owned(), t["rows"].as_u64().unwrap()))
        .collect()
}

/// Asserts the snapshot's rows per table are the expected ones (tables the closure
/// does not list hold none).
fn assert_rows(path: &Path, expected: &BTreeMap<String, u64>) {
    let got = header_rows(path);
    for (t, n) in &got {
        assert_eq!(*n, expected.get(t).copied().unwrap_or(0), "rows of {t}: snapshot {got:?}\nexpected {expected:?}");
    }
    for t in expected.keys() {
        assert!(got.contains_key(t), "{t} is not in the snapshot: {got:?}");
    }
}

/// Every foreign key of a PostgreSQL database (partitions' too) whose set columns match
/// no parent row: (constraint, rows). Built from the catalog, independent of seed.
fn pg_dangling(db: &TestDb) -> Vec<(String, i64)> {
    let checks = db.psql(
        "SELECT con.conname || '|' || format('SELECT count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)',
                con.conrelid::regclass,
                (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ')
                   FROM unnest(con.conkey) k JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k),
                con.confrelid::regclass,
                (SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ')
                   FROM unnest(con.confkey, con.conkey) AS k(pk, ck)
                   JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.pk
                   JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.ck))
         FROM pg_constraint con WHERE con.contype = 'f' ORDER BY 1",
    );
    checks
        .lines()
        .map(|l| {
            let (name, sql) = l.split_once('|').unwrap();
            (name.to_owned(), db.psql(sql).parse().unwrap())
        })
        .collect()
}

fn assert_no_dangling_pg(db: &TestDb, min_fks: usize) {
    let all = pg_dangling(db);
    assert!(all.len() >= min_fks, "expected at least {min_fks} foreign keys, found {all:?}");
    let bad: Vec<_> = all.iter().filter(|(_, n)| *n != 0).collect();
    assert!(bad.is_empty(), "dangling references: {bad:?}");
    assert_eq!(db.psql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated"), "0");
}

/// `seed --no-progress --database-url URL ARGS`, expecting `code`; no password shown.
fn seed(w: &Workdir, url: &str, args: &[&str], code: i32) -> Output {
    let out = run(w.seed().args(["--no-progress", "--database-url", url]).args(args), code);
    assert_no_password(&out);
    out
}

fn json_doc(out: &Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", all_output(out)))
}

/// `--dry-run --json`'s entry for `table`.
fn planned(plan: &Value, table: &str) -> Value {
    let tables = plan["tables"].as_array().unwrap_or_else(|| panic!("no tables in {plan}"));
    tables.iter().find(|t| t["table"] == table).unwrap_or_else(|| panic!("no {table} in {plan}")).clone()
}

/// The compressed bytes of each table of a snapshot, by table (the file minus its
/// header: what must be identical when the data is).
fn members(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    header_of(path)["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let offset = usize::try_from(t["offset"].as_u64().unwrap()).unwrap();
            let length = usize::try_from(t["length"].as_u64().unwrap()).unwrap();
            (entry_name(t), bytes[offset..offset + length].to_vec())
        })
        .collect()
}

// ---------------------------------------------------------------------------------
// pagila (PostgreSQL)
// ---------------------------------------------------------------------------------

const PAGILA_KEYS: &[(&str, &str)] = &[
    ("actor", "actor_id"),
    ("address", "address_id"),
    ("category", "category_id"),
    ("city", "city_id"),
    ("country", "country_id"),
    ("customer", "customer_id"),
    ("film", "film_id"),
    ("film_actor", "actor_id, film_id"),
    ("film_category", "film_id, category_id"),
    ("inventory", "inventory_id"),
    ("language", "language_id"),
    ("payment", "payment_date, payment_id"),
    ("rental", "rental_id"),
    ("staff", "staff_id"),
    ("store", "store_id"),
];

/// pagila's foreign keys as schema.sql declares them (payment's on its partitions;
/// payment_p2022_07 declares none, the partitioned table is followed as a whole).
const PAGILA_EDGES: &[Edge] = &[
    e("address", "city_id", "city", "city_id"),
    e("city", "country_id", "country", "country_id"),
    e("customer", "address_id", "address", "address_id"),
    e("customer", "store_id", "store", "store_id"),
    e("film_actor", "actor_id", "actor", "actor_id"),
    e("film_actor", "film_id", "film", "film_id"),
    e("film_category", "category_id", "category", "category_id"),
    e("film_category", "film_id", "film", "film_id"),
    e("film", "language_id", "language", "language_id"),
    e("film", "original_language_id", "language", "language_id"),
    e("inventory", "film_id", "film", "film_id"),
    e("inventory", "store_id", "store", "store_id"),
    e("payment", "customer_id", "customer", "customer_id"),
    e("payment", "rental_id", "rental", "rental_id"),
    e("payment", "staff_id", "staff", "staff_id"),
    e("rental", "customer_id", "customer", "customer_id"),
    e("rental", "inventory_id", "inventory", "inventory_id"),
    e("rental", "staff_id", "staff", "staff_id"),
    e("staff", "address_id", "address", "address_id"),
    e("staff", "store_id", "store", "store_id"),
    e("store", "address_id", "address", "address_id"),
];

fn pg_expected(db: &TestDb, keys: &[(&str, &str)], edges: &[Edge], starts: &[(&str, &str)]) -> BTreeMap<String, u64> {
    db.psql("CREATE SCHEMA expect");
    let closure = Expected { keys, edges, scratch: "expect." };
    let out = closure.compute(&|sql| db.psql(sql), starts, true);
    db.psql("DROP SCHEMA expect CASCADE");
    out
}

#[test]
fn subset_of_pagila_restores_into_an_empty_schema_with_every_foreign_key_and_matches_the_closure() {
    let db = clone_db(pagila_template(), "sub_pagila");
    let w = Workdir::new();
    let url = db.url();
    let dir = w.path().join("snapshots");

    // --dry-run: estimates per table and why, nothing written.
    let out = seed(
        &w,
        &url,
        &["--json", "snapshot", "create", "store1", "--subset", "customer:store_id = 1", "--dry-run"],
        0,
    );
    let plan = json_doc(&out);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["subset"]["start"][0], "customer:store_id = 1");
    let table = |name: &str| plan["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap().clone();
    assert_eq!(table("customer")["action"], "slice");
    assert!(table("customer")["why"][0].as_str().unwrap().starts_with("start: customer:store_id = 1"), "{plan}");
    assert!(table("rental")["why"].to_string().contains("child of customer"), "{plan}");
    assert!(table("country")["why"].to_string().contains("parent of city"), "{plan}");
    assert_eq!(table("actor")["action"], "empty");
    assert!(table("payment")["estimated_rows"].as_u64().unwrap() > 0);
    assert!(!dir.exists(), "a dry run wrote into the snapshot directory");
    let text = all_output(&seed(
        &w,
        &url,
        &["snapshot", "create", "store1", "--subset", "customer:store_id = 1", "--dry-run"],
        0,
    ));
    assert!(text.contains("subset plan for snapshot 'store1'") && text.contains("parent of inventory"), "{text}");

    let out = seed(&w, &url, &["snapshot", "create", "store1", "--subset", "customer:store_id = 1"], 0);
    assert!(all_output(&out).contains("subset: "), "{}", all_output(&out));
    let path = dir.join("store1.seed.gz");
    let expected = pg_expected(&db, PAGILA_KEYS, PAGILA_EDGES, &[("customer", "store_id = 1")]);
    assert_rows(&path, &expected);
    assert!(
        expected["payment"] > 0 && expected["customer"] < u64::try_from(db.count("customer")).unwrap(),
        "{expected:?}"
    );
    // The partition that declares no foreign key comes with its partitioned table: its
    // payments of the customers, and of the customers' rentals.
    let july = db.psql(
        "SELECT count(*) FROM payment_p2022_07 WHERE customer_id IN (SELECT customer_id FROM customer WHERE store_id = 1)
            OR rental_id IN (SELECT rental_id FROM rental WHERE customer_id IN (SELECT customer_id FROM customer WHERE store_id = 1))",
    );
    assert_ne!(july, "0");

    // show prints the rules; the header records them.
    let text = stdout(&seed(&w, &url, &["snapshot", "show", "store1"], 0));
    assert!(text.contains("subset        start customer:store_id = 1"), "{text}");
    assert!(text.contains("all children; unrelated tables empty; sample seed 42"), "{text}");
    let shown = json_doc(&seed(&w, &url, &["--json", "snapshot", "show", "store1"], 0));
    assert_eq!(shown["header"]["subset"]["start"], serde_json::json!(["customer:store_id = 1"]));
    assert_eq!(shown["header"]["subset"]["children"], "all");
    assert_eq!(shown["header"]["subset"]["unrelated"], "empty");
    let listed = stdout(&seed(&w, &url, &["--json", "snapshot", "list", "store1"], 0));
    assert!(listed.contains("\"subset\": [\n") && listed.contains("\"customer:store_id = 1\""), "{listed}");

    // Into an empty copy of the schema: every foreign key checked, the same rows.
    let target = clone_db(pagila_schema_template(), "sub_pagila_t");
    seed(&w, &target.url(), &["snapshot", "restore", "store1"], 0);
    seed(&w, &target.url(), &["snapshot", "verify", "store1", "--against-db"], 0);
    assert_no_dangling_pg(&target, 30);
    assert_eq!(target.psql("SELECT count(*) FROM payment_p2022_07"), july);
    for (t, n) in &expected {
        assert_eq!(u64::try_from(target.count(t)).unwrap(), *n, "{t} after the restore");
    }
}

#[test]
fn subset_of_pagila_is_the_same_with_parallel_reads_and_by_s3() {
    let db = clone_db(pagila_template(), "sub_pagila_j");
    let w = Workdir::new();
    let url = db.url();
    let start = "customer:store_id = 2";
    seed(&w, &url, &["snapshot", "create", "one", "--subset", start, "-j", "1"], 0);
    seed(&w, &url, &["snapshot", "create", "four", "--subset", start, "-j", "4"], 0);
    let dir = w.path().join("snapshots");
    let (one, four) = (members(&dir.join("one.seed.gz")), members(&dir.join("four.seed.gz")));
    assert_eq!(one, four, "-j 4 read another slice than -j 1");

    // The same slice in a bucket, restored from there.
    let store = crate::common::s3::Store::new("subset");
    let out = store
        .apply(&mut w.seed())
        .args(["--no-progress", "--database-url", &url])
        .args(["snapshot", "create", "s3slice", "--subset", start])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(store.keys().iter().any(|k| k.starts_with("s3slice")), "{:?}", store.keys());
    let target = clone_db(pagila_schema_template(), "sub_pagila_s3");
    let out = store
        .apply(&mut w.seed())
        .args(["--no-progress", "--database-url", &target.url()])
        .args(["snapshot", "restore", "s3slice"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_dangling_pg(&target, 30);
    for (t, n) in header_rows(&dir.join("one.seed.gz")) {
        assert_eq!(u64::try_from(target.count(&t)).unwrap(), n, "{t}");
    }
}

#[test]
fn subset_next_version_repeats_the_slice_and_is_incremental() {
    let db = clone_db(pagila_template(), "sub_versions");
    let w = Workdir::new();
    let url = db.url();
    seed(&w, &url, &["snapshot", "create", "s", "--subset", "customer:store_id = 1"], 0);
    // A change inside the slice and one outside it.
    let inside = db.psql("SELECT min(customer_id) FROM customer WHERE store_id = 1");
    db.psql(&format!("UPDATE customer SET first_name = 'CHANGED' WHERE customer_id = {inside}"));
    db.psql("UPDATE customer SET first_name = 'OUTSIDE' WHERE customer_id = (SELECT min(customer_id) FROM customer WHERE store_id <> 1)");
    // A dry run of the next version explains the slice it would take: the base's.
    let out = seed(&w, &url, &["snapshot", "create", "s", "--new-version", "--dry-run"], 0);
    let text = all_output(&out);
    assert!(text.contains("taking the same slice as s@1 (customer:store_id = 1)"), "{text}");
    assert!(text.contains("start: customer:store_id = 1"), "{text}");
    let plan = json_doc(&seed(&w, &url, &["--json", "snapshot", "create", "s", "--new-version", "--dry-run"], 0));
    assert_eq!(plan["subset"]["start"][0], "customer:store_id = 1", "{plan}");
    let out = seed(&w, &url, &["snapshot", "create", "s", "--new-version"], 0);
    assert!(all_output(&out).contains("taking the same slice as s@1 (customer:store_id = 1)"), "{}", all_output(&out));
    let dir = w.path().join("snapshots");
    let v2 = header_of(&dir.join("s@2.seed.gz"));
    assert_eq!(v2["base"]["name"], "s");
    assert_eq!(v2["subset"]["start"][0], "customer:store_id = 1");
    let storage =
        |t: &str| v2["tables"].as_array().unwrap().iter().find(|x| x["name"] == t).unwrap()["storage"].clone();
    assert_eq!(storage("country"), "base", "{v2}");
    assert_eq!(storage("customer"), "delta", "{v2}");
    assert_eq!(header_rows(&dir.join("s@2.seed.gz")), header_rows(&dir.join("s.seed.gz")));

    let target = clone_db(pagila_schema_template(), "sub_versions_t");
    seed(&w, &target.url(), &["snapshot", "restore", "s@2"], 0);
    assert_eq!(target.psql(&format!("SELECT first_name FROM customer WHERE customer_id = {inside}")), "CHANGED");
    assert_eq!(target.psql("SELECT count(*) FROM customer WHERE first_name = 'OUTSIDE'"), "0");
    assert_no_dangling_pg(&target, 30);

    // --no-subset: the next version takes every row (still incremental to the slice).
    let plan = json_doc(&seed(
        &w,
        &url,
        &["--json", "snapshot", "create", "s", "--new-version", "--no-subset", "--dry-run"],
        0,
    ));
    assert!(plan["subset"].is_null(), "{plan}");
    seed(&w, &url, &["snapshot", "create", "s", "--new-version", "--no-subset"], 0);
    let v3 = header_of(&dir.join("s@3.seed.gz"));
    assert!(v3.get("subset").is_none(), "{v3}");
    assert_eq!(v3["base"]["name"], "s");
    assert_eq!(header_rows(&dir.join("s@3.seed.gz"))["customer"], u64::try_from(db.count("customer")).unwrap());
}

// ---------------------------------------------------------------------------------
// northwind (PostgreSQL): a self-reference followed down and up
// ---------------------------------------------------------------------------------

#[test]
fn subset_of_northwind_follows_the_reporting_line_and_restores() {
    let db = TestDb::new("sub_nw");
    db.load_file(&repo_path("tests/fixtures/northwind/northwind.sql"));
    let w = Workdir::new();
    let url = db.url();
    seed(&w, &url, &["snapshot", "create", "nw", "--subset", "employees:employee_id = 5"], 0);
    let keys: &[(&str, &str)] = &[
        ("categories", "category_id"),
        ("customer_customer_demo", "customer_id, customer_type_id"),
        ("customer_demographics", "customer_type_id"),
        ("customers", "customer_id"),
        ("employee_territories", "employee_id, territory_id"),
        ("employees", "employee_id"),
        ("order_details", "order_id, product_id"),
        ("orders", "order_id"),
        ("products", "product_id"),
        ("region", "region_id"),
        ("shippers", "shipper_id"),
        ("suppliers", "supplier_id"),
        ("territories", "territory_id"),
        ("us_states", "state_id"),
    ];
    let edges = [
        e("orders", "customer_id", "customers", "customer_id"),
        e("orders", "employee_id", "employees", "employee_id"),
        e("orders", "ship_via", "shippers", "shipper_id"),
        e("order_details", "product_id", "products", "product_id"),
        e("order_details", "order_id", "orders", "order_id"),
        e("products", "category_id", "categories", "category_id"),
        e("products", "supplier_id", "suppliers", "supplier_id"),
        e("territories", "region_id", "region", "region_id"),
        e("employee_territories", "territory_id", "territories", "territory_id"),
        e("employee_territories", "employee_id", "employees", "employee_id"),
        e("customer_customer_demo", "customer_type_id", "customer_demographics", "customer_type_id"),
        e("customer_customer_demo", "customer_id", "customers", "customer_id"),
        e("employees", "reports_to", "employees", "employee_id"),
    ];
    let expected = pg_expected(&db, keys, &edges, &[("employees", "employee_id = 5")]);
    let path = w.path().join("snapshots/nw.seed.gz");
    assert_rows(&path, &expected);
    // Employee 5's reports (down the self-reference) and their managers up to the top.
    assert!(expected["employees"] >= 4, "{expected:?}");
    assert_eq!(header_rows(&path)["us_states"], 0, "unrelated tables are empty by default");

    // --unrelated keep: us_states (no reference at all) whole.
    seed(
        &w,
        &url,
        &["snapshot", "create", "nw_keep", "--subset", "employees:employee_id = 5", "--unrelated", "keep"],
        0,
    );
    let keep = header_rows(&w.path().join("snapshots/nw_keep.seed.gz"));
    assert_eq!(keep["us_states"], u64::try_from(db.count("us_states")).unwrap());
    assert_eq!(keep["orders"], expected["orders"]);

    let target = TestDb::new("sub_nw_t");
    let schema = server().tool("pg_dump").args(["--schema-only", "-d", &db.name]).output().unwrap();
    assert!(schema.status.success());
    let file = w.path().join("nw_schema.sql");
    std::fs::write(&file, &schema.stdout).unwrap();
    target.load_file(&file);
    seed(&w, &target.url(), &["snapshot", "restore", "nw"], 0);
    assert_no_dangling_pg(&target, 13);
    seed(&w, &target.url(), &["snapshot", "verify", "nw", "--against-db"], 0);
}

// ---------------------------------------------------------------------------------
// sakila (MariaDB)
// ---------------------------------------------------------------------------------

#[test]
fn subset_of_sakila_on_mariadb_restores_with_foreign_keys_checked() {
    let src = MariaDb::sakila("sub_sak");
    let w = Workdir::new();
    let my = crate::common::mariadb::server();
    let out = w
        .seed()
        .args(["--no-progress", "--database-url", &src.url(), "bulk", "--count", "300", "--seed", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let start = "customer:customer_id <= 25";
    // --dry-run on MariaDB: EXPLAIN's estimate for the start, the rest along the references.
    let out = w
        .seed()
        .args(["--no-progress", "--json", "--database-url", &src.url(), "snapshot", "create", "sak", "--subset", start])
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let plan = json_doc(&out);
    assert_eq!(planned(&plan, "customer")["action"], "slice", "{plan}");
    assert!(planned(&plan, "customer")["estimated_rows"].as_u64().unwrap() > 0, "{plan}");
    assert!(planned(&plan, "rental")["why"].to_string().contains("child of customer"), "{plan}");
    assert!(planned(&plan, "film")["why"].to_string().contains("parent of inventory"), "{plan}");
    assert_eq!(planned(&plan, "film_text")["action"], "empty", "{plan}");
    let out = w
        .seed()
        .args(["--no-progress", "--database-url", &src.url(), "snapshot", "create", "sak", "--subset", start])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    let scratch = MariaDb::new("sub_sak_x");
    let keys: &[(&str, &str)] = &[
        ("actor", "actor_id"),
        ("address", "address_id"),
        ("category", "category_id"),
        ("city", "city_id"),
        ("country", "country_id"),
        ("customer", "customer_id"),
        ("film", "film_id"),
        ("film_actor", "actor_id, film_id"),
        ("film_category", "film_id, category_id"),
        ("inventory", "inventory_id"),
        ("language", "language_id"),
        ("payment", "payment_id"),
        ("rental", "rental_id"),
        ("staff", "staff_id"),
        ("store", "store_id"),
    ];
    let edges = [
        e("address", "city_id", "city", "city_id"),
        e("city", "country_id", "country", "country_id"),
        e("customer", "address_id", "address", "address_id"),
        e("customer", "store_id", "store", "store_id"),
        e("film", "language_id", "language", "language_id"),
        e("film", "original_language_id", "language", "language_id"),
        e("film_actor", "actor_id", "actor", "actor_id"),
        e("film_actor", "film_id", "film", "film_id"),
        e("film_category", "film_id", "film", "film_id"),
        e("film_category", "category_id", "category", "category_id"),
        e("inventory", "store_id", "store", "store_id"),
        e("inventory", "film_id", "film", "film_id"),
        e("payment", "rental_id", "rental", "rental_id"),
        e("payment", "customer_id", "customer", "customer_id"),
        e("payment", "staff_id", "staff", "staff_id"),
        e("rental", "staff_id", "staff", "staff_id"),
        e("rental", "inventory_id", "inventory", "inventory_id"),
        e("rental", "customer_id", "customer", "customer_id"),
        e("staff", "store_id", "store", "store_id"),
        e("staff", "address_id", "address", "address_id"),
        e("store", "manager_staff_id", "staff", "staff_id"),
        e("store", "address_id", "address", "address_id"),
    ];
    let prefix = format!("{}.", scratch.name);
    let closure = Expected { keys, edges: &edges, scratch: &prefix };
    let expected = closure.compute(&|sql| my.sql(&src.name, sql), &[("customer", "customer_id <= 25")], true);
    let path = w.path().join("snapshots/sak.seed.gz");
    assert_rows(&path, &{
        let mut all = expected.clone();
        all.insert("film_text".into(), 0); // filled by a trigger, referenced by nothing: unrelated
        all
    });
    assert!(expected["store"] > 0 && expected["staff"] > 0, "{expected:?}");

    let target = MariaDb::sakila("sub_sak_t");
    let out = w
        .seed()
        .args(["--no-progress", "--database-url", &target.url(), "snapshot", "restore", "sak"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    crate::mysql::assert_no_orphans(&target, 20);
    for (t, n) in &expected {
        assert_eq!(u64::try_from(target.count(t)).unwrap(), *n, "{t} after the restore");
    }
}

// ---------------------------------------------------------------------------------
// A schema of every kind of reference (SQLite and PostgreSQL)
// ---------------------------------------------------------------------------------

/// tenants <- users (composite key; a composite self-reference; a nullable reference to
/// teams, which reference users back: a cycle), posts (a composite reference), comments
/// and taggings (references only a file declares, one with a condition), user_events
/// (no key at all) and audit_log (related to nothing).
fn refs_schema(postgres: bool) -> String {
    let late = |sql: &str| if postgres { format!("ALTER TABLE teams ADD {sql};\n") } else { String::new() };
    let inline = |sql: &str| if postgres { String::new() } else { format!(",\n  {sql}") };
    let lead = "FOREIGN KEY (tenant_id, lead_id) REFERENCES users (tenant_id, id)";
    format!(
        "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE teams (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, lead_id INTEGER, name VARCHAR(40) NOT NULL,
  FOREIGN KEY (tenant_id) REFERENCES tenants (id){});
CREATE TABLE users (tenant_id INTEGER NOT NULL, id INTEGER NOT NULL, manager_id INTEGER, team_id INTEGER,
  email VARCHAR(80) NOT NULL, PRIMARY KEY (tenant_id, id),
  FOREIGN KEY (tenant_id) REFERENCES tenants (id),
  FOREIGN KEY (tenant_id, manager_id) REFERENCES users (tenant_id, id),
  FOREIGN KEY (team_id) REFERENCES teams (id));
{}CREATE TABLE posts (id INTEGER PRIMARY KEY, tenant_id INTEGER NOT NULL, author_id INTEGER NOT NULL, title VARCHAR(80) NOT NULL,
  FOREIGN KEY (tenant_id, author_id) REFERENCES users (tenant_id, id));
CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER, body VARCHAR(200) NOT NULL);
CREATE TABLE taggings (id INTEGER PRIMARY KEY, taggable_type VARCHAR(20) NOT NULL, taggable_id INTEGER NOT NULL, tag VARCHAR(20) NOT NULL);
CREATE TABLE user_events (tenant_id INTEGER NOT NULL, user_id INTEGER NOT NULL, what VARCHAR(40) NOT NULL,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id));
CREATE TABLE audit_log (id INTEGER PRIMARY KEY, message VARCHAR(80) NOT NULL);
",
        inline(lead),
        late(lead)
    )
}

/// Deterministic rows: 6 tenants, 4 teams and 30 users each (managers in a tree,
/// some users in another tenant's team), posts, comments (some on no post), taggings
/// of posts and of comments, events, and an unrelated log.
fn refs_data() -> String {
    let mut sql = String::new();
    for t in 1..=6 {
        sql.push_str(&format!("INSERT INTO tenants VALUES ({t}, 'tenant {t}');\n"));
    }
    for t in 1..=6 {
        for u in 1..=30 {
            let manager = if u == 1 { "NULL".to_owned() } else { (u / 3).max(1).to_string() };
            sql.push_str(&format!("INSERT INTO users VALUES ({t}, {u}, {manager}, NULL, 'u{u}@t{t}.example');\n"));
        }
        for k in 1..=4 {
            let id = (t - 1) * 4 + k;
            sql.push_str(&format!("INSERT INTO teams VALUES ({id}, {t}, {}, 'team {id}');\n", k * 7));
        }
    }
    // Users join a team of their tenant, every 11th one a team of the next tenant.
    for t in 1..=6 {
        for u in 1..=30 {
            let tenant = if u % 11 == 0 { t % 6 + 1 } else { t };
            let team = (tenant - 1) * 4 + (u % 4) + 1;
            sql.push_str(&format!("UPDATE users SET team_id = {team} WHERE tenant_id = {t} AND id = {u};\n"));
        }
    }
    let mut post = 0;
    for t in 1..=6 {
        for u in (1..=30).step_by(2) {
            for _ in 0..3 {
                post += 1;
                sql.push_str(&format!("INSERT INTO posts VALUES ({post}, {t}, {u}, 'post {post}');\n"));
            }
        }
    }
    for c in 1..=600 {
        let target = if c % 10 == 0 { "NULL".to_owned() } else { ((c * 7) % post + 1).to_string() };
        sql.push_str(&format!("INSERT INTO comments VALUES ({c}, {target}, 'comment {c}');\n"));
    }
    for g in 1..=400 {
        let (kind, id) = if g % 3 == 0 { ("Comment", (g * 13) % 600 + 1) } else { ("Post", (g * 5) % post + 1) };
        sql.push_str(&format!("INSERT INTO taggings VALUES ({g}, '{kind}', {id}, 'tag{}');\n", g % 9));
    }
    for t in 1..=6 {
        for u in 1..=30 {
            sql.push_str(&format!("INSERT INTO user_events VALUES ({t}, {u}, 'login');\n"));
        }
    }
    for a in 1..=50 {
        sql.push_str(&format!("INSERT INTO audit_log VALUES ({a}, 'entry {a}');\n"));
    }
    sql
}

const REFS_FACTORIES: &str = r#"
[references]
"comments.post_id" = "posts.id"
"taggings.taggable_id" = { parent = "posts.id", where = "taggable_type = 'Post'" }
"taggings.(taggable_id)" = { parent = "comments.(id)", where = "taggable_type = 'Comment'" }

[subset]
start = ["tenants:id = 2"]
"#;

/// The closure's references, virtual ones with their conditions; keys (user_events has
/// none: its scratch table keeps whole rows).
const REFS_KEYS: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("teams", "id"),
    ("users", "tenant_id, id"),
    ("posts", "id"),
    ("comments", "id"),
    ("taggings", "id"),
    ("user_events", "tenant_id, user_id, what"),
    ("audit_log", "id"),
];
const REFS_EDGES: &[Edge] = &[
    e("teams", "tenant_id", "tenants", "id"),
    e("teams", "tenant_id, lead_id", "users", "tenant_id, id"),
    e("users", "tenant_id", "tenants", "id"),
    e("users", "tenant_id, manager_id", "users", "tenant_id, id"),
    e("users", "team_id", "teams", "id"),
    e("posts", "tenant_id, author_id", "users", "tenant_id, id"),
    Edge { child: "comments", fk: "post_id", parent: "posts", pk: "id", cond: None },
    Edge { child: "taggings", fk: "taggable_id", parent: "posts", pk: "id", cond: Some("taggable_type = 'Post'") },
    Edge {
        child: "taggings",
        fk: "taggable_id",
        parent: "comments",
        pk: "id",
        cond: Some("taggable_type = 'Comment'"),
    },
    e("user_events", "tenant_id, user_id", "users", "tenant_id, id"),
];

/// `sqlite3 FILE SQL`, output trimmed; panics on errors.
fn sqlite(file: &Path, sql: &str) -> String {
    let out =
        Command::new("sqlite3").arg(file).arg(sql).output().expect("run the sqlite3 CLI (apt-get install -y sqlite3)");
    assert!(out.status.success(), "sqlite3 failed: {sql}\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// Rows whose virtual references point at nothing in the slice.
const VIRTUAL_DANGLING: &str = "SELECT (SELECT count(*) FROM comments c WHERE c.post_id IS NOT NULL AND c.post_id NOT IN (SELECT id FROM posts))
      + (SELECT count(*) FROM taggings g WHERE g.taggable_type = 'Post' AND g.taggable_id NOT IN (SELECT id FROM posts))
      + (SELECT count(*) FROM taggings g WHERE g.taggable_type = 'Comment' AND g.taggable_id NOT IN (SELECT id FROM comments))";

#[test]
fn subset_closes_self_cyclic_composite_keyless_and_virtual_references_on_sqlite() {
    let w = Workdir::new();
    let src = w.path().join("src.db");
    sqlite(&src, &format!("PRAGMA foreign_keys = ON; BEGIN; {} {} COMMIT;", refs_schema(false), refs_data()));
    let factories = w.path().join("slice.toml");
    std::fs::write(&factories, REFS_FACTORIES).unwrap();
    let url = format!("sqlite://{}", src.display());
    let f = factories.to_str().unwrap();
    // --dry-run on SQLite: the start condition is counted, the rest carried along the
    // references (virtual ones too); nothing written.
    let plan = json_doc(&seed(&w, &url, &["--json", "snapshot", "create", "t2", "--factories", f, "--dry-run"], 0));
    assert_eq!(planned(&plan, "tenants")["estimated_rows"], 1, "{plan}");
    assert!(planned(&plan, "tenants")["why"][0].as_str().unwrap().starts_with("start: tenants:id = 2"), "{plan}");
    assert!(planned(&plan, "comments")["why"].to_string().contains("child of posts"), "{plan}");
    assert!(planned(&plan, "comments")["why"].to_string().contains("virtual"), "{plan}");
    assert_eq!(planned(&plan, "audit_log")["action"], "empty", "{plan}");
    assert!(!w.path().join("snapshots").exists(), "a dry run wrote into the snapshot directory");
    seed(&w, &url, &["snapshot", "create", "t2", "--factories", f], 0);

    let scratch = w.path().join("expect.db");
    let attach = format!("ATTACH '{}' AS x;", scratch.display());
    let closure = Expected { keys: REFS_KEYS, edges: REFS_EDGES, scratch: "x." };
    let expected = closure.compute(&|sql| sqlite(&src, &format!("{attach} {sql}")), &[("tenants", "id = 2")], true);
    let path = w.path().join("snapshots/t2.seed.gz");
    assert_rows(&path, &expected);
    assert_eq!(expected["audit_log"], 0);
    // The slice reaches other tenants through the teams some users joined.
    assert!(expected["tenants"] > 1 && expected["taggings"] > 0 && expected["user_events"] > 0, "{expected:?}");
    let header = header_of(&path);
    assert_eq!(header["subset"]["references"].as_array().unwrap().len(), 3, "{header}");

    // Into an empty copy of the schema: SQLite checks every foreign key at commit.
    let target = w.path().join("target.db");
    sqlite(&target, &refs_schema(false));
    seed(&w, &format!("sqlite://{}", target.display()), &["snapshot", "restore", "t2"], 0);
    assert_eq!(sqlite(&target, "PRAGMA foreign_key_check"), "");
    assert_eq!(sqlite(&target, VIRTUAL_DANGLING), "0");
    for (t, n) in &expected {
        assert_eq!(sqlite(&target, &format!("SELECT count(*) FROM {t}")), n.to_string(), "{t}");
    }

    // --children-per-parent 2: at most two posts per author, still closed.
    seed(
        &w,
        &url,
        &["snapshot", "create", "few", "--factories", f, "--children-per-parent", "2", "--unrelated", "keep"],
        0,
    );
    let few = w.path().join("few.db");
    sqlite(&few, &refs_schema(false));
    seed(&w, &format!("sqlite://{}", few.display()), &["snapshot", "restore", "few"], 0);
    assert_eq!(sqlite(&few, "SELECT max(n) FROM (SELECT count(*) AS n FROM posts GROUP BY tenant_id, author_id)"), "2");
    assert_eq!(sqlite(&few, "PRAGMA foreign_key_check"), "");
    assert_eq!(sqlite(&few, VIRTUAL_DANGLING), "0");
    assert_eq!(sqlite(&few, "SELECT count(*) FROM audit_log"), "50", "--unrelated keep takes it whole");
    assert!(header_rows(&w.path().join("snapshots/few.seed.gz"))["posts"] < expected["posts"]);

    // --no-children from one user: that user and what it references, nothing below.
    seed(
        &w,
        &url,
        &["snapshot", "create", "up", "--factories", f, "--subset", "users:tenant_id = 3 AND id = 9", "--no-children"],
        0,
    );
    let x2 = w.path().join("expect2.db");
    let attach2 = format!("ATTACH '{}' AS x;", x2.display());
    let up = closure.compute(
        &|sql| sqlite(&src, &format!("{attach2} {sql}")),
        &[("users", "tenant_id = 3 AND id = 9")],
        false,
    );
    assert_rows(&w.path().join("snapshots/up.seed.gz"), &up);
    assert_eq!(up["posts"], 0);
    assert!(up["users"] >= 3, "the user, its manager chain, its team's lead: {up:?}");
}

#[test]
fn subset_closes_the_same_references_on_postgres_with_row_ids_for_keyless_tables() {
    let db = TestDb::new("sub_refs");
    db.load_sql(&format!("BEGIN; {} {} COMMIT;", refs_schema(true), refs_data()));
    let w = Workdir::new();
    let factories = w.path().join("slice.toml");
    std::fs::write(&factories, REFS_FACTORIES).unwrap();
    seed(&w, &db.url(), &["snapshot", "create", "t2", "--factories", factories.to_str().unwrap()], 0);
    let expected = pg_expected(&db, REFS_KEYS, REFS_EDGES, &[("tenants", "id = 2")]);
    assert_rows(&w.path().join("snapshots/t2.seed.gz"), &expected);
    let target = TestDb::new("sub_refs_t");
    target.load_sql(&refs_schema(true));
    seed(&w, &target.url(), &["snapshot", "restore", "t2"], 0);
    assert_no_dangling_pg(&target, 7);
    assert_eq!(target.psql(VIRTUAL_DANGLING), "0");
}

#[test]
fn subset_keyless_table_on_mariadb_is_refused_with_a_hint() {
    let db = MariaDb::new("sub_keyless");
    db.sql("CREATE TABLE parents (id INT PRIMARY KEY); CREATE TABLE notes (parent_id INT NOT NULL, body TEXT, FOREIGN KEY (parent_id) REFERENCES parents (id));
            INSERT INTO parents VALUES (1), (2); INSERT INTO notes VALUES (1, 'a'), (2, 'b')");
    let w = Workdir::new();
    let out = w
        .seed()
        .args(["--no-progress", "--database-url", &db.url(), "snapshot", "create", "k", "--subset", "parents:id = 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", all_output(&out));
    let text = all_output(&out);
    assert!(text.contains("the subset reaches table notes, which has no primary key"), "{text}");
    assert!(text.contains("--exclude"), "{text}");
    assert!(!w.path().join("snapshots").exists() || dir_state(&w.path().join("snapshots")).is_empty());
    // Left out, the rest is sliced.
    let out = w
        .seed()
        .args([
            "--no-progress",
            "--database-url",
            &db.url(),
            "snapshot",
            "create",
            "k",
            "--subset",
            "parents:id = 1",
            "--exclude",
            "notes",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(header_rows(&w.path().join("snapshots/k.seed.gz"))["parents"], 1);

    // Keys that need quoting (quotes, backslashes, binary bytes) travel as the literals
    // seed writes and come back to the same rows.
    db.sql(
        "CREATE TABLE tags (k VARCHAR(20) PRIMARY KEY, b VARBINARY(4) NOT NULL UNIQUE);
         CREATE TABLE uses (id INT PRIMARY KEY, tag VARCHAR(20) NOT NULL, bin VARBINARY(4) NOT NULL,
           FOREIGN KEY (tag) REFERENCES tags (k), FOREIGN KEY (bin) REFERENCES tags (b));
         INSERT INTO tags VALUES ('it''s', X'00FF27'), ('back\\\\slash', X'5C'), ('plain', X'01'), ('unused', X'02');
         INSERT INTO uses VALUES (1, 'it''s', X'5C'), (2, 'back\\\\slash', X'00FF27'), (3, 'plain', X'01')",
    );
    let my = |db: &MariaDb, args: &[&str]| {
        let out = w.seed().args(["--no-progress", "--database-url", &db.url()]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    };
    my(&db, &["snapshot", "create", "q", "--subset", "uses:id <= 2", "--exclude", "notes"]);
    let rows = header_rows(&w.path().join("snapshots/q.seed.gz"));
    assert_eq!((rows["uses"], rows["tags"], rows["parents"]), (2, 2, 0), "{rows:?}");
    let target = MariaDb::new("sub_keyless_t");
    target.sql(
        "CREATE TABLE parents (id INT PRIMARY KEY);
         CREATE TABLE notes (parent_id INT NOT NULL, body TEXT, FOREIGN KEY (parent_id) REFERENCES parents (id));
         CREATE TABLE tags (k VARCHAR(20) PRIMARY KEY, b VARBINARY(4) NOT NULL UNIQUE);
         CREATE TABLE uses (id INT PRIMARY KEY, tag VARCHAR(20) NOT NULL, bin VARBINARY(4) NOT NULL,
           FOREIGN KEY (tag) REFERENCES tags (k), FOREIGN KEY (bin) REFERENCES tags (b))",
    );
    my(&target, &["snapshot", "restore", "q"]);
    // (The client's batch mode prints a backslash doubled.)
    assert_eq!(target.sql("SELECT k, HEX(b) FROM tags ORDER BY HEX(b)"), "it's\t00FF27\nback\\\\slash\t5C");
}

// ---------------------------------------------------------------------------------
// Samples: deterministic, the same on every backend
// ---------------------------------------------------------------------------------

#[test]
fn subset_samples_are_the_same_for_one_seed_on_every_backend_and_differ_for_another() {
    let w = Workdir::new();
    let lite = w.path().join("src.db");
    sqlite(&lite, &format!("BEGIN; {} {} COMMIT;", refs_schema(false), refs_data()));
    let pg = TestDb::new("sub_sample");
    pg.load_sql(&format!("BEGIN; {} {} COMMIT;", refs_schema(true), refs_data()));
    let lite_url = format!("sqlite://{}", lite.display());
    let dir = w.path().join("snapshots");
    for (name, seed_value) in [("a", "7"), ("b", "7"), ("c", "8")] {
        seed(
            &w,
            &lite_url,
            &["snapshot", "create", name, "--subset", "posts:10%", "--seed", seed_value, "--no-children"],
            0,
        );
    }
    let (a, b, c) = (members(&dir.join("a.seed.gz")), members(&dir.join("b.seed.gz")), members(&dir.join("c.seed.gz")));
    assert_eq!(a, b, "the same seed gave other data");
    assert_ne!(a["posts"], c["posts"], "another seed gave the same sample");
    let rows = |file: &str, table: &str| -> Vec<String> {
        let mut r =
            crate::snapshot::snapshot_rows(&dir.join(file)).into_iter().find(|(t, _)| t.ends_with(table)).unwrap().1;
        r.sort();
        r
    };
    let sampled = rows("a.seed.gz", "posts").len();
    assert!((5..=45).contains(&sampled), "10% of 270 posts: {sampled}");
    // PostgreSQL picks the same posts for the same seed.
    seed(&w, &pg.url(), &["snapshot", "create", "pa", "--subset", "posts:10%", "--seed", "7", "--no-children"], 0);
    assert_eq!(rows("pa.seed.gz", "posts"), rows("a.seed.gz", "posts"));
    // A count: exactly that many start rows, the same on both.
    seed(&w, &lite_url, &["snapshot", "create", "n", "--subset", "posts:17", "--no-children"], 0);
    seed(&w, &pg.url(), &["snapshot", "create", "pn", "--subset", "posts:17", "--no-children"], 0);
    assert_eq!(rows("n.seed.gz", "posts").len(), 17);
    assert_eq!(rows("pn.seed.gz", "posts"), rows("n.seed.gz", "posts"));
}

// ---------------------------------------------------------------------------------
// Bad input, Ctrl-C, kill -9: nothing written
// ---------------------------------------------------------------------------------

/// A copy of pagila, a work folder whose snapshot directory holds one foreign file, and
/// that directory's state (what every failure must leave).
fn pagila_and_a_snapshot_dir(tag: &str) -> (TestDb, Workdir, std::path::PathBuf, crate::snapshot::DirState) {
    let db = clone_db(pagila_template(), tag);
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "keep").unwrap();
    let before = dir_state(&dir);
    (db, w, dir, before)
}

#[test]
fn subset_bad_arguments_are_clear_errors_naming_them_and_write_nothing() {
    let (db, w, dir, before) = pagila_and_a_snapshot_dir("sub_bad");
    let url = db.url();
    let bad_refs = w.path().join("bad.toml");
    std::fs::write(&bad_refs, "[references]\n\n\"customer.store\" = \"store.store_id\"\n").unwrap();
    let bad_subset = w.path().join("bad_subset.toml");
    std::fs::write(&bad_subset, "[subset]\nstart = [\"film:101%\"]\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--subset", "custmer:store_id = 1"], "--subset 'custmer:store_id = 1': no table custmer"),
        (
            vec!["--subset", "customer:stor_id = 1"],
            "--subset 'customer:stor_id = 1': the database rejects the condition",
        ),
        (vec!["--subset", "customer:store_id = = 1"], "the database rejects the condition"),
        (vec!["--subset", "film:150%"], "--subset 'film:150%': the percentage 150% is outside 0-100"),
        (vec!["--subset", "film:-5%"], "outside 0-100"),
        (vec!["--subset", "film"], "--subset 'film': expected TABLE:CONDITION"),
        (vec!["--subset", "film:-3"], "a row count is a whole number"),
        (vec!["--subset", "customer:store_id = 1", "--exclude", "customer"], "table customer is not in the snapshot"),
        (vec!["--children-per-parent", "3"], "shape a slice: there is no --subset"),
        (vec!["--subset", "film:10", "--children-per-parent", "0"], "--children-per-parent"),
        (vec!["--subset", "film:10", "--children-per-parent", "2", "--no-children"], "cannot be used with"),
        (vec!["--subset", "film:10", "--unrelated", "all"], "--unrelated"),
        (
            vec!["--subset", "film:10", "--factories", bad_refs.to_str().unwrap()],
            "bad.toml:3: [references]: table customer has no column store",
        ),
        (vec!["--factories", bad_subset.to_str().unwrap()], "bad_subset.toml:2: [subset] start \"film:101%\""),
    ];
    for (extra, expect) in cases {
        for dry in [false, true] {
            let mut args = vec!["snapshot", "create", "bad"];
            args.extend_from_slice(&extra);
            if dry {
                args.push("--dry-run");
            }
            let out = seed(&w, &url, &args, 2);
            let text = all_output(&out);
            assert!(text.contains(expect), "{args:?}:\n{text}");
            assert_dir_unchanged(&dir, &before, &format!("{args:?}"));
        }
    }
}

#[test]
fn subset_create_interrupted_or_killed_while_following_references_or_writing_leaves_nothing() {
    let db = clone_db(&big_demo().template, "sub_kill");
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep.txt"), "keep").unwrap();
    let before = dir_state(&dir);
    let url = db.url();
    for signal in [libc::SIGINT, libc::SIGKILL] {
        // While finding the start rows: a condition that takes its time (10 ms a row).
        let mut running = Running::spawn(seed_cmd(
            &w,
            &[
                "--log-format",
                "json",
                "--database-url",
                &url,
                "snapshot",
                "create",
                "cut",
                "--subset",
                "offices:pg_sleep(0.01) IS NOT NULL",
            ],
        ));
        crate::snapshot::wait_until(Duration::from_secs(60), "the start rows' query", || {
            let busy = db.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'seed snapshot create' AND query LIKE '%pg_sleep%' AND state = 'active'",
            );
            (busy == "1").then_some(())
        });
        running.signal(signal);
        let (status, _, stderr) = running.finish(Duration::from_secs(30));
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "{stderr}");
            assert!(stderr.contains("interrupted"), "{stderr}");
        } else {
            assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(libc::SIGKILL), "{stderr}");
        }
        assert_dir_unchanged(&dir, &before, "signal while following references");

        // While writing: after the first table is written.
        let mut running = Running::spawn(seed_cmd(
            &w,
            &[
                "--log-format",
                "json",
                "--database-url",
                &url,
                "snapshot",
                "create",
                "cut",
                "--subset",
                "offices:100%",
                "-j",
                "1",
            ],
        ));
        running.wait_line(Duration::from_secs(120), "the first table's progress event", table_finished);
        running.signal(signal);
        let (status, _, stderr) = running.finish(Duration::from_secs(30));
        assert!(!stderr.contains("snapshot_created"), "finished before the signal:\n{stderr}");
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "{stderr}");
        }
        assert_dir_unchanged(&dir, &before, "signal while writing");
    }
    // The name is free: a slice of it is taken at once.
    seed(&w, &url, &["snapshot", "create", "cut", "--subset", "offices:1%"], 0);
}

/// Disk full, a held name, a connection killed while references are followed, and a
/// bucket's create killed mid-slice: each fails with its own exit code and leaves the
/// snapshot directory (or the bucket) exactly as it was; the source is only read.
#[test]
fn subset_create_failures_disk_full_lock_killed_connection_and_s3_leave_nothing() {
    let (db, w, dir, before) = pagila_and_a_snapshot_dir("sub_fail");
    let url = db.url();
    let source = db.pg_dump_data();
    let start = "customer:store_id = 1";

    // Disk full while the slice is written (it compresses to about 480 KiB).
    let mut cmd =
        seed_cmd(&w, &["--no-progress", "--database-url", &url, "snapshot", "create", "s", "--subset", start]);
    crate::snapshot::limit_file_size(&mut cmd, 100_000);
    let out = cmd.output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(9), "{text}");
    assert!(text.contains("not enough disk space"), "{text}");
    assert_dir_unchanged(&dir, &before, "subset create under RLIMIT_FSIZE");

    // Someone holds the name: refused before any row is read.
    let held = crate::common::hold_lock(&dir, "s");
    let out = seed(&w, &url, &["snapshot", "create", "s", "--subset", start], 8);
    assert!(all_output(&out).contains("pid 1 (the test)"), "{}", all_output(&out));
    drop(held);
    assert_dir_unchanged(&dir, &before, "subset create of a held name");

    // The connection is killed while the start rows are found (10 ms a row).
    let slow = "customer:pg_sleep(0.01) IS NOT NULL";
    let mut running = Running::spawn(seed_cmd(
        &w,
        &["--retry-max-attempts", "1", "--database-url", &url, "snapshot", "create", "s", "--subset", slow],
    ));
    let busy = "SELECT pid FROM pg_stat_activity WHERE application_name = 'seed snapshot create' AND query LIKE '%pg_sleep%' AND state = 'active'";
    let pid = crate::snapshot::wait_until(Duration::from_secs(60), "the start rows' query", || {
        let pid = db.psql(busy);
        (!pid.is_empty()).then_some(pid)
    });
    // Every connection of the create, not only the one seen running the query: under
    // load the match may be a helper connection the slice does not depend on.
    let _ = pid;
    let all = "SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'seed snapshot create'";
    assert_eq!(db.psql(all), "t");
    let (status, _, stderr) = running.finish(Duration::from_secs(60));
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("lost the connection"), "{stderr}");
    assert_dir_unchanged(&dir, &before, "connection killed while following references");
    assert_eq!(db.pg_dump_data(), source, "a subset create changed its source");

    // Into a bucket: killed while references are followed, no object.
    let store = crate::common::s3::Store::new("subset-kill");
    let mut cmd = seed_cmd(&w, &["--no-progress", "--database-url", &url, "--snapshot-dir", &store.url()]);
    cmd.args(["snapshot", "create", "s", "--subset", slow]);
    store.env_std(&mut cmd);
    let mut running = Running::spawn(cmd);
    crate::snapshot::wait_until(Duration::from_secs(60), "the start rows' query", || {
        (!db.psql(busy).is_empty()).then_some(())
    });
    running.signal(libc::SIGKILL);
    running.finish(Duration::from_secs(30));
    assert!(!store.keys().iter().any(|k| k.ends_with(".seed.gz")), "an object appeared: {:?}", store.keys());
    assert!(store.uploads().is_empty(), "{:?}", store.uploads());
}

// ---------------------------------------------------------------------------------
// prepare and --like
// ---------------------------------------------------------------------------------

#[test]
fn subset_in_prepare_is_part_of_the_key_and_leaves_the_slice_in_the_database() {
    let db = TestDb::with_demo_schema("sub_prepare");
    let w = Workdir::new();
    let url = db.url();
    let args = ["--json", "prepare", "ci", "--count", "200", "--subset", "offices:20%", "--children-per-parent", "3"];
    let first = json_doc(&seed(&w, &url, &args, 0));
    assert_eq!(first["action"], "seeded", "{first}");
    let snapshot = first["snapshot"].as_str().unwrap().to_owned();
    let rows = header_rows(&w.path().join(format!("snapshots/{snapshot}.seed.gz")));
    let live = |t: &str| u64::try_from(db.count(t)).unwrap();
    for (t, n) in &rows {
        assert_eq!(live(t), *n, "{t}: the database holds the slice after a miss");
    }
    assert!(rows["offices"] < 200, "{rows:?}");
    let second = json_doc(&seed(&w, &url, &args, 0));
    assert_eq!(second["action"], "restored", "{second}");
    assert_eq!(second["snapshot"], first["snapshot"]);
    for (t, n) in &rows {
        assert_eq!(live(t), *n, "{t}: a hit leaves the same slice");
    }
    // Another slice is another key; no slice is another key again.
    let other = json_doc(&seed(&w, &url, &["--json", "prepare", "ci", "--count", "200", "--subset", "offices:30%"], 0));
    assert_ne!(other["snapshot"], first["snapshot"]);
    let whole = json_doc(&seed(&w, &url, &["--json", "prepare", "ci", "--count", "200"], 0));
    assert_ne!(whole["snapshot"], first["snapshot"]);
    assert_eq!(live("offices"), 200);
}

#[test]
fn subset_snapshot_feeds_bulk_like() {
    let db = clone_db(pagila_template(), "sub_like");
    let w = Workdir::new();
    seed(&w, &db.url(), &["snapshot", "create", "store1", "--subset", "customer:store_id = 1"], 0);
    let target = clone_db(pagila_schema_template(), "sub_like_t");
    let out = seed(&w, &target.url(), &["bulk", "--count", "30", "--like", "store1", "--seed", "5"], 0);
    assert!(all_output(&out).contains("seeded"), "{}", all_output(&out));
    assert_eq!(target.count("customer"), 30);
}

#[test]
fn subset_from_seed_toml_with_its_references_and_no_subset_for_every_row() {
    let w = Workdir::new();
    let src = w.path().join("src.db");
    sqlite(&src, &format!("PRAGMA foreign_keys = ON; BEGIN; {} {} COMMIT;", refs_schema(false), refs_data()));
    std::fs::write(
        w.path().join("seed.toml"),
        "database-url = \"sqlite://src.db\"\n\n[snapshot]\nsubset = [\"posts:id <= 3\"]\nno-children = true\n\n[references]\n\"comments.post_id\" = \"posts.id\"\n",
    )
    .unwrap();
    let out = run(w.seed().args(["--no-progress", "snapshot", "create", "cfg"]), 0);
    assert!(all_output(&out).contains("subset: "), "{}", all_output(&out));
    let header = header_of(&w.path().join("snapshots/cfg.seed.gz"));
    assert_eq!(header["subset"]["start"], serde_json::json!(["posts:id <= 3"]));
    assert_eq!(header["subset"]["children"], "none");
    assert_eq!(header["subset"]["references"][0]["child"], "comments.post_id");
    let rows = header_rows(&w.path().join("snapshots/cfg.seed.gz"));
    assert_eq!((rows["posts"], rows["comments"]), (3, 0), "{rows:?}");
    // A flag wins over the file; --children-per-parent lifts no-children; the
    // reference from seed.toml is followed down.
    run(w.seed().args(["--no-progress", "snapshot", "create", "kids", "--children-per-parent", "100"]), 0);
    let kids = header_rows(&w.path().join("snapshots/kids.seed.gz"));
    let expected = sqlite(&src, "SELECT count(*) FROM comments WHERE post_id <= 3");
    assert_eq!(kids["comments"].to_string(), expected);
    // --no-subset: every row, whatever the file says.
    run(w.seed().args(["--no-progress", "snapshot", "create", "all", "--no-subset"]), 0);
    let all = header_of(&w.path().join("snapshots/all.seed.gz"));
    assert!(all.get("subset").is_none(), "{all}");
    assert_eq!(header_rows(&w.path().join("snapshots/all.seed.gz"))["posts"], 270);
    let out = run(w.seed().args(["snapshot", "create", "x", "--no-subset", "--subset", "posts:1"]), 2);
    assert!(all_output(&out).contains("cannot be used with"), "{}", all_output(&out));
}
