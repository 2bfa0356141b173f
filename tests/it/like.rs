//! Data shaped like the real thing (issue 12, part 2): `bulk --like SNAPSHOT`,
//! `--like-db URL` and `snapshot profile NAME`, on pagila and northwind (PostgreSQL) and
//! a small SQLite database. Per column: values of learned sets only from the observed
//! set, learned ranges hold, personal columns never copy a real value, every constraint
//! holds (the load commits), and the printed profile round-trips through `--factories`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::bulk::sqlite_with_schema;
use crate::common::{TestDb, Workdir, all_output, shared_fixture};
use crate::common::{expect_code, run, sqlite3};

/// What a profile says, read back from its text.
struct Profile {
    /// (table, column) -> values of the set
    sets: BTreeMap<(String, String), BTreeSet<String>>,
    /// (table, column) -> (lowest, highest) as written
    ranges: BTreeMap<(String, String), (toml::Value, toml::Value)>,
    /// (table, column) of columns whose values stay generated
    personal: BTreeSet<(String, String)>,
}

fn read_profile(text: &str) -> Profile {
    let doc: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("profile is not TOML: {e}\n{text}"));
    assert!(doc["profile"]["from"].is_str(), "{text}");
    let mut p = Profile { sets: BTreeMap::new(), ranges: BTreeMap::new(), personal: BTreeSet::new() };
    for (table, t) in doc["tables"].as_table().unwrap() {
        let Some(cols) = t.get("columns").and_then(toml::Value::as_table) else { continue };
        for (col, rule) in cols {
            let key = (table.clone(), col.clone());
            if let Some(items) = rule.get("one_of").and_then(toml::Value::as_array) {
                p.sets.insert(key.clone(), items.iter().map(|v| v.as_str().unwrap().to_owned()).collect());
            }
            if let Some(r) = rule.get("range").and_then(toml::Value::as_array) {
                p.ranges.insert(key, (r[0].clone(), r[1].clone()));
            }
        }
    }
    let mut table = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("[tables.") {
            table = rest.split(']').next().unwrap().trim_matches('"').to_owned();
        }
        if line.contains("values always generated") {
            let col = line.trim_start_matches("# ").trim_start_matches("columns.");
            let col = col.split([' ', ':', '=']).next().unwrap().trim_matches('"');
            p.personal.insert((table.clone(), col.to_owned()));
        }
    }
    p
}

/// (table, column) pairs the plan fills from the profile ("learned").
fn learned_columns(plan: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut table = String::new();
    for line in plan.lines() {
        if let Some((n, rest)) = line.split_once(". ")
            && n.trim().parse::<u32>().is_ok()
        {
            table = rest.split(" — ").next().unwrap().to_owned();
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() > 2 && words[1] == "learned" {
            out.insert((table.clone(), words[0].to_owned()));
        }
    }
    out
}

/// Distinct values as COPY writes them (the snapshot's text, so `t` for true).
fn pg_values(db: &TestDb, table: &str, col: &str) -> BTreeSet<String> {
    db.psql(&format!("COPY (SELECT DISTINCT \"{col}\" FROM {table} WHERE \"{col}\" IS NOT NULL) TO STDOUT"))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Checks every learned set and range against the target, and every personal column
/// against the source; returns how many of each were checked.
fn assert_shaped_like(
    profile: &Profile,
    learned: &BTreeSet<(String, String)>,
    source: &TestDb,
    target: &TestDb,
) -> (usize, usize, usize) {
    let (mut sets, mut ranges, mut personal) = (0, 0, 0);
    for (key, allowed) in &profile.sets {
        if !learned.contains(key) {
            continue;
        }
        let got = pg_values(target, &key.0, &key.1);
        assert!(!got.is_empty(), "{key:?}: no values");
        let outside: Vec<&String> = got.iter().filter(|v| !allowed.contains(*v)).collect();
        assert!(outside.is_empty(), "{key:?}: values outside the learned set {allowed:?}: {outside:?}");
        sets += 1;
    }
    for (key, (lo, hi)) in &profile.ranges {
        if !learned.contains(key) {
            continue;
        }
        let (t, c) = key;
        let bad = match (lo, hi) {
            (toml::Value::String(a), toml::Value::String(b)) => {
                target.psql(&format!("SELECT count(*) FROM {t} WHERE \"{c}\" < '{a}' OR \"{c}\" > '{b}'"))
            }
            (a, b) => {
                target.psql(&format!("SELECT count(*) FROM {t} WHERE \"{c}\"::numeric < {a} OR \"{c}\"::numeric > {b}"))
            }
        };
        assert_eq!(bad, "0", "{key:?}: values outside the learned range [{lo}, {hi}]");
        ranges += 1;
    }
    for (t, c) in &profile.personal {
        let real = pg_values(source, t, c);
        let made = pg_values(target, t, c);
        let copied: Vec<&String> = made.intersection(&real).filter(|v| !v.is_empty()).collect();
        // Short codes can meet by chance; names, emails, phones and addresses never do.
        if made.iter().all(|v| v.chars().count() > 6) {
            assert!(copied.is_empty(), "{t}.{c}: real values copied: {copied:?}");
            personal += 1;
        }
    }
    (sets, ranges, personal)
}

fn bulk(w: &Workdir, url: &str, args: &[&str]) -> std::process::Output {
    let out = w.seed().arg("bulk").args(args).args(["--database-url", url, "--no-progress"]).output().unwrap();
    crate::common::assert_no_password(&out);
    out
}

#[test]
fn like_pagila_snapshot_and_live_database_shape_values_and_never_copy_personal_ones() {
    let source = TestDb::new("like_pagila_src");
    source.load_file(&shared_fixture("pagila/schema.sql"));
    source.load_file(&shared_fixture("pagila/data.sql"));
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &source.url(), "snapshot", "create", "pagila", "-q"]), 0);

    let out = run(w.seed().args(["snapshot", "profile", "pagila"]), 0);
    let text = String::from_utf8(out.stdout).unwrap();
    let profile = read_profile(&text);
    for (t, c) in [("customer", "first_name"), ("customer", "email"), ("address", "phone"), ("film", "description")] {
        assert!(profile.personal.contains(&(t.to_owned(), c.to_owned())), "{t}.{c} not personal:\n{text}");
    }
    for real in ["MARY", "SMITH", "sakilacustomer.org", "PENELOPE", "Feminist"] {
        assert!(!text.contains(real), "the profile holds a real personal value {real:?}:\n{text}");
    }
    assert_eq!(profile.sets[&("film".to_owned(), "rating".to_owned())].len(), 5, "{text}");
    let file = w.path().join("pagila.toml");
    std::fs::write(&file, &text).unwrap();

    // --like, the printed profile with --factories, and --like-db: the same rows.
    let a = TestDb::new("like_pagila_a");
    let b = TestDb::new("like_pagila_b");
    let c = TestDb::new("like_pagila_c");
    for db in [&a, &b, &c] {
        db.load_file(&shared_fixture("pagila/schema.sql"));
    }
    let plan = expect_code(&bulk(&w, &a.url(), &["--count", "300", "--seed", "7", "--like", "pagila", "--dry-run"]), 0);
    let learned = learned_columns(&plan);
    expect_code(&bulk(&w, &a.url(), &["--count", "300", "--seed", "7", "--like", "pagila"]), 0);
    expect_code(&bulk(&w, &b.url(), &["--count", "300", "--seed", "7", "--factories", file.to_str().unwrap()]), 0);
    expect_code(&bulk(&w, &c.url(), &["--count", "300", "--seed", "7", "--like-db", &source.url()]), 0);
    assert_eq!(a.dump_data(), b.dump_data(), "--like and --factories PROFILE differ");
    assert_eq!(a.dump_data(), c.dump_data(), "--like and --like-db differ");

    let (sets, ranges, personal) = assert_shaped_like(&profile, &learned, &source, &a);
    assert!(
        // Since r19.16 columns with a few rare values are sets, no longer ranges; since
        // r19.15 cities and postcodes are real places' (short: not compared here).
        sets >= 20 && ranges >= 3 && personal >= 5,
        "checked {sets} sets, {ranges} ranges, {personal} personal columns"
    );
    assert_eq!(a.count("film"), 300);
    // A learned set is a distribution, not one value repeated.
    assert!(pg_values(&a, "film", "rating").len() == 5);
}

#[test]
fn like_northwind_shapes_values_and_keeps_keys_by_construction() {
    let source = TestDb::new("like_nw_src");
    source.load_file(&shared_fixture("northwind/northwind.sql"));
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &source.url(), "snapshot", "create", "nw", "-q"]), 0);
    let text = String::from_utf8(run(w.seed().args(["snapshot", "profile", "nw"]), 0).stdout).unwrap();
    let profile = read_profile(&text);
    let target = TestDb::new("like_nw_target");
    target.load_file(&shared_fixture("northwind/northwind.sql"));
    let tables =
        target.psql("SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = 'public'");
    target.load_sql(&format!("TRUNCATE {tables} CASCADE"));
    let plan = expect_code(&bulk(&w, &target.url(), &["--count", "200", "--like", "nw", "--dry-run"]), 0);
    let learned = learned_columns(&plan);
    let out = bulk(&w, &target.url(), &["--count", "200", "--like", "nw"]);
    expect_code(&out, 0);
    let (sets, ranges, personal) = assert_shaped_like(&profile, &learned, &source, &target);
    // r19.16: discount's six well-supported values (seen hundreds of times) make its set;
    // the five seen 1-3 times are dropped, not allowed to turn it into a uniform range.
    let discount = ("order_details".to_owned(), "discount".to_owned());
    let set = profile.sets.get(&discount).unwrap_or_else(|| panic!("discount has no set:\n{text}"));
    let real = source.psql(
        "SELECT string_agg(discount::text, ',' ORDER BY discount) FROM \
         (SELECT discount FROM order_details GROUP BY discount HAVING count(*) >= 5) s",
    );
    let mut expected: Vec<&str> = real.split(',').collect();
    expected.sort_unstable();
    let mut got: Vec<&str> = set.iter().map(String::as_str).collect();
    got.sort_unstable();
    assert_eq!(got, expected, "{text}");
    assert_eq!(got.len(), 6, "{text}");
    assert!(learned.contains(&discount), "{plan}");
    assert_eq!(pg_values(&target, "order_details", "discount").len(), 6, "drawn from the set, not a range");
    assert!(
        sets >= 2 && ranges >= 5 && personal >= 5,
        "checked {sets} sets, {ranges} ranges, {personal} personal columns:\n{text}"
    );
    // Keys stay keys: no learned rule on a key or a foreign key.
    for (t, c) in
        [("orders", "order_id"), ("orders", "customer_id"), ("order_details", "product_id"), ("orders", "ship_via")]
    {
        assert!(!learned.contains(&(t.to_owned(), c.to_owned())), "{t}.{c} learned:\n{plan}");
    }
    assert!(!all_output(&out).contains("warning"), "{}", all_output(&out));
}

const SQLITE_SHOP: &str = "CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (length(status) <= 12),
    amount NUMERIC(8,2) NOT NULL,
    placed_at DATETIME NOT NULL,
    email TEXT,
    note TEXT,
    meta JSON
);";

#[test]
fn like_on_sqlite_learns_sets_ranges_json_keys_and_null_rates() {
    let w = Workdir::new();
    let src = w.path().join("src.db");
    sqlite_with_schema(
        &src,
        &format!(
            "{SQLITE_SHOP}
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
             INSERT INTO orders (status, amount, placed_at, email, note, meta)
             SELECT CASE i % 4 WHEN 0 THEN 'pending' WHEN 1 THEN 'paid' WHEN 2 THEN 'shipped' ELSE 'paid' END,
                    10 + (i % 90) + 0.5, datetime('2023-01-01', '+' || i || ' hours'),
                    'buyer' || i || '@shop.test', CASE WHEN i % 5 = 0 THEN NULL ELSE 'note ' || i END,
                    json_object('v', i, 'gift', i % 2 = 0, 'tags', json_array('a', 'b'))
             FROM n;"
        ),
    );
    let dst = w.path().join("dst.db");
    sqlite_with_schema(&dst, SQLITE_SHOP);
    run(w.seed().args(["--database-url", "sqlite://src.db", "snapshot", "create", "shop", "-q"]), 0);
    let out = bulk(&w, "sqlite://dst.db", &["--count", "1000", "--like", "shop"]);
    expect_code(&out, 0);
    let q = |sql: &str| sqlite3(&dst, sql);
    assert_eq!(
        q("SELECT group_concat(DISTINCT status) FROM (SELECT status FROM orders ORDER BY status)"),
        "paid,pending,shipped"
    );
    assert_eq!(q("SELECT count(*) FROM orders WHERE amount < 10.5 OR amount > 99.5"), "0");
    assert_eq!(
        q("SELECT count(*) FROM orders WHERE placed_at < '2023-01-01 01:00:00' OR placed_at > '2023-01-17 16:00:00'"),
        "0"
    );
    // 20% NULL notes in the source; about that many here.
    let nulls: i64 = q("SELECT count(*) FROM orders WHERE note IS NULL").parse().unwrap();
    assert!((120..=280).contains(&nulls), "{nulls} NULL notes of 1000");
    assert_eq!(q("SELECT count(*) FROM orders WHERE email IS NULL"), "0");
    let copied = q(&format!(
        "ATTACH '{}' AS s; SELECT count(*) FROM orders o JOIN s.orders r ON r.email = o.email",
        src.display()
    ));
    assert_eq!(copied, "0", "emails copied from the source");
    // JSON: the source's keys with values of their types, none of its values needed.
    assert_eq!(
        q(
            "SELECT count(*) FROM orders WHERE meta IS NOT NULL AND (json_type(meta, '$.v') <> 'integer' OR json_type(meta, '$.gift') <> 'integer' OR json_type(meta, '$.tags') <> 'array')"
        ),
        "0"
    );
    assert_eq!(q("SELECT count(*) FROM orders WHERE meta IS NULL"), "0");
    assert!(Path::new(&dst).exists());
}
