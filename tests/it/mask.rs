//! Masked snapshots (issue 23): `snapshot create --mask` and `snapshot mask SRC DST` on
//! pagila and northwind (PostgreSQL), sakila (MariaDB) and the demo schema (SQLite).
//!
//! The leak check: every original value of every masked column is collected from the
//! source database and searched for in the decompressed snapshot, in the spool files
//! while the create runs, and in everything the commands print. A value of 8 or more
//! characters (or holding an `@`) must appear nowhere; a shorter one (a first name, a
//! postal code) can by chance be another row's masked value, so it is checked row by
//! row: after a restore no row holds its own original value.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::common::{TestDb, Workdir, all_output, run, server, shared_fixture};
use crate::snapshot::{
    assert_dir_unchanged, big_demo, clone_db, create_in_progress, dir_state, header_of, seed_cmd, stdout,
};

pub const KEY: &str = "test-mask-key-0123456789abcdef";
pub const OTHER_KEY: &str = "another-mask-key-9876543210fedcba";

/// `seed` in `w` with the masking key in the environment.
pub(crate) fn seed(w: &Workdir, key: &str) -> assert_cmd::Command {
    let mut cmd = w.seed();
    cmd.env("SEED_MASK_KEY", key);
    cmd
}

/// Every member of a snapshot file, decompressed, without the header line.
pub fn rows_of(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut all).unwrap();
    let start = all.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    all.split_off(start)
}

/// The file's bytes after its header member: the tables as stored.
fn data_members(path: &Path) -> Vec<u8> {
    let header = header_of(path);
    let first = header["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["offset"].as_u64())
        .filter(|o| *o > 0)
        .min()
        .unwrap();
    std::fs::read(path).unwrap()[usize::try_from(first).unwrap()..].to_vec()
}

/// (table as the plan names it, column) of every column a dry run says is masked.
pub(crate) fn masked_columns(plan: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in plan["masking"]["tables"].as_array().unwrap() {
        for c in t["columns"].as_array().unwrap() {
            if c["masked"] == true {
                out.push((t["table"].as_str().unwrap().to_owned(), c["name"].as_str().unwrap().to_owned()));
            }
        }
    }
    out
}

/// `rule | reason` of one column in a dry run's plan.
pub(crate) fn rule_of(plan: &Value, table: &str, column: &str) -> String {
    for t in plan["masking"]["tables"].as_array().unwrap() {
        if t["table"] == table {
            for c in t["columns"].as_array().unwrap() {
                if c["name"] == column {
                    return format!("{} | {}", c["rule"].as_str().unwrap(), c["reason"].as_str().unwrap());
                }
            }
        }
    }
    panic!("{table}.{column} is not in the plan: {plan}")
}

pub type Originals = BTreeMap<(String, String), BTreeSet<String>>;

/// COPY text unescaped (`\\`, `\t`, `\n`, `\r`).
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn pg_ident(table: &str) -> String {
    table.split('.').map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(".")
}

/// Every distinct non-NULL value of each column, as text, from a PostgreSQL database.
pub(crate) fn pg_originals(db: &TestDb, columns: &[(String, String)]) -> Originals {
    let mut out = Originals::new();
    for (t, c) in columns {
        let text = db.psql(&format!(
            "COPY (SELECT DISTINCT \"{c}\"::text FROM {} WHERE \"{c}\" IS NOT NULL) TO STDOUT",
            pg_ident(t)
        ));
        out.insert((t.clone(), c.clone()), text.lines().map(unescape).collect());
    }
    out
}

/// Values a match of which cannot be chance.
pub(crate) fn distinctive(v: &str) -> bool {
    v.chars().count() >= 8 || v.contains('@')
}

/// A table of a snapshot file: its name, its columns with their mask (`None`: kept),
/// its rows as COPY text lines.
pub(crate) type StoredTable = (String, Vec<(String, Option<String>)>, Vec<String>);

/// Each table's rows in a snapshot file: (columns with their mask, or `None` when
/// kept; lines).
pub(crate) fn tables_of(path: &Path) -> Vec<StoredTable> {
    let header = header_of(path);
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    for t in header["tables"].as_array().unwrap() {
        let columns = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c["mask"].as_str().map(str::to_owned)))
            .collect();
        let at = |field: &str| usize::try_from(t[field].as_u64().unwrap()).unwrap();
        let (offset, length) = (at("offset"), at("length"));
        let mut rows = String::new();
        if length > 0 {
            flate2::read::MultiGzDecoder::new(&bytes[offset..offset + length]).read_to_string(&mut rows).unwrap();
        }
        out.push((t["name"].as_str().unwrap().to_owned(), columns, rows.lines().map(str::to_owned).collect()));
    }
    out
}

/// The first of `values` found anywhere in `hay` (one Aho-Corasick pass, however
/// many values).
pub(crate) fn first_found<'a>(hay: &[u8], values: impl IntoIterator<Item = &'a String>) -> Option<String> {
    let values: Vec<&String> = values.into_iter().collect();
    let ac = aho_corasick::AhoCorasick::new(values.iter().map(|v| v.as_bytes())).unwrap();
    ac.find(hay).map(|m| values[m.pattern().as_usize()].clone())
}

/// COPY text of a value (`\\`, `\t`, `\n`, `\r` escaped).
fn escaped(v: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for b in v.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out
}

/// The leak check on a snapshot file and what the commands printed: no distinctive
/// original value (8 characters or more, or an `@`) of these masked columns appears in
/// `printed`, in the header, or inside a masked value (in a sentence, a JSON document,
/// a longer value). As a whole masked value it may appear only by chance, as another
/// row's (left to the row-by-row check after a restore: no row holds its own). Kept
/// columns hold the source's own data as it is, where such a value can be by right:
/// pagila's film title "DEER VIRGINIAN" holds the first name "VIRGINIA", northwind's
/// kept customers.contact_title holds the masked suppliers' titles.
///
/// `originals` are columns of real data: where the source's own values came from the
/// generator's dictionaries (pagila's 1,500 generated staff rows, a database `seed
/// bulk` filled), a fake street "59364 Alexandria Freeway" can hold a first name of
/// another row; those columns get the row-by-row check only.
///
/// Returns how many distinctive values were searched for.
pub fn assert_none_survive(originals: &Originals, path: &Path, printed: &[u8]) -> usize {
    let searched: Vec<(&(String, String), &String)> =
        originals.iter().flat_map(|(tc, vs)| vs.iter().filter(|v| distinctive(v)).map(move |v| (tc, v))).collect();
    if searched.is_empty() {
        return 0;
    }
    let raw = aho_corasick::AhoCorasick::new(searched.iter().map(|(_, v)| v.as_bytes())).unwrap();
    let stored = aho_corasick::AhoCorasick::new(searched.iter().map(|(_, v)| escaped(v))).unwrap();
    let named = |i: aho_corasick::PatternID| {
        let ((t, c), v) = searched[i.as_usize()];
        format!("an original value of {t}.{c} ({v:?})")
    };
    if let Some(m) = raw.find(printed) {
        panic!("{} was printed", named(m.pattern()));
    }
    let mut all = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut all).unwrap();
    let header_end = all.iter().position(|&b| b == b'\n').unwrap_or(all.len());
    if let Some(m) = raw.find(&all[..header_end]) {
        panic!("{} is in the header", named(m.pattern()));
    }
    // Every masked value, one per line.
    let mut hay = vec![b'\n'];
    for (_, columns, lines) in tables_of(path) {
        for line in &lines {
            for (f, _) in line.split('\t').zip(&columns).filter(|(_, (_, mask))| mask.is_some()) {
                hay.extend_from_slice(f.as_bytes());
                hay.push(b'\n');
            }
        }
    }
    for m in stored.find_overlapping_iter(hay.as_slice()) {
        let (at, end) = (m.start(), m.end());
        let context = String::from_utf8_lossy(&hay[at.saturating_sub(40)..(end + 40).min(hay.len())]);
        assert!(
            hay[at - 1] == b'\n' && hay[end] == b'\n',
            "{} is inside a masked value: {context:?}",
            named(m.pattern())
        );
    }
    searched.len()
}

/// (primary key, value) of each row of a masked column, as text, keyed by the key.
pub(crate) fn pg_values(db: &TestDb, table: &str, key: &[String], column: &str) -> BTreeMap<String, Option<String>> {
    let key_expr = key.iter().map(|k| format!("\"{k}\"::text")).collect::<Vec<_>>().join(" || '|' || ");
    let text = db.psql(&format!("COPY (SELECT {key_expr}, \"{column}\"::text FROM {}) TO STDOUT", pg_ident(table)));
    text.lines()
        .map(|l| {
            // psql's output is trimmed: a last empty value loses its tab.
            let (k, v) = l.split_once('\t').unwrap_or((l, ""));
            (k.to_owned(), (v != "\\N").then(|| unescape(v)))
        })
        .collect()
}

/// No row of a masked column holds its own original value (compared by primary key
/// between the source and a restore of the masked snapshot); returns rows compared.
fn assert_rows_changed(source: &TestDb, restored: &TestDb, header: &Value, columns: &[(String, String)]) -> usize {
    let mut compared = 0;
    for (t, c) in columns {
        let entry = header["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                let name = e["name"].as_str().unwrap();
                t == name || t.ends_with(&format!(".{name}"))
            })
            .unwrap();
        let key: Vec<String> =
            entry["primary_key"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect();
        // Rows are matched by key: not where the key itself is masked (northwind's
        // employees, hashed ids), compared by the joins instead.
        let key_masked = entry["columns"]
            .as_array()
            .unwrap()
            .iter()
            .any(|col| key.iter().any(|k| col["name"].as_str() == Some(k.as_str())) && col["mask"].is_string());
        if key.is_empty() || key_masked {
            continue;
        }
        let before = pg_values(source, t, &key, c);
        let after = pg_values(restored, t, &key, c);
        assert_eq!(before.len(), after.len(), "{t}: rows");
        for (k, v) in &before {
            let Some(v) = v.as_ref().filter(|v| !v.is_empty()) else { continue };
            compared += 1;
            let masked = after[k].as_deref().unwrap_or_default();
            assert_ne!(masked, v, "{t}.{c} of row {k} kept its value");
            assert!(!(distinctive(v) && masked.contains(v.as_str())), "{t}.{c} of row {k} holds its value: {masked:?}");
        }
    }
    compared
}

/// `--database-url URL snapshot create NAME --mask auto`.
pub(crate) fn masked_create<'a>(url: &'a str, name: &'a str) -> [&'a str; 7] {
    ["--database-url", url, "snapshot", "create", name, "--mask", "auto"]
}

pub(crate) fn dry_run_plan(cmd: &mut assert_cmd::Command) -> Value {
    let out = run(cmd, 0);
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", all_output(&out)))
}

fn pagila(tag: &str, with_data: bool) -> TestDb {
    let db = TestDb::new(tag);
    db.load_file(&shared_fixture("pagila/schema.sql"));
    if with_data {
        db.load_file(&shared_fixture("pagila/data.sql"));
    }
    db
}

pub(crate) fn output_bytes(outs: &[&Output]) -> Vec<u8> {
    outs.iter().flat_map(|o| all_output(o).into_bytes()).collect()
}

// =======================================================================================
// pagila: auto mode, the leak check, restore, determinism

#[test]
fn mask_pagila_auto_leaves_no_original_value_and_restores_with_every_constraint() {
    let source = pagila("mask_pagila", true);
    let w = Workdir::new();
    let url = source.url();
    // The plan, before anything is read or written.
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(masked_create(&url, "p")).arg("--dry-run"));
    assert!(!w.path().join("snapshots").join("p.seed.gz").exists());
    assert_eq!(rule_of(&plan, "customer", "email"), "fake email | auto: an email address");
    assert_eq!(rule_of(&plan, "staff", "password"), "hash | auto: a secret (password, token, hash, key)");
    assert_eq!(rule_of(&plan, "customer", "first_name"), "fake first_name | auto: a person's name");
    assert_eq!(rule_of(&plan, "customer", "customer_id"), "keep | not personal by its name");
    assert!(rule_of(&plan, "address", "phone").starts_with("fake phone | auto: a phone number"));
    let columns = masked_columns(&plan);
    assert!(columns.len() >= 12, "{columns:?}");
    // Real data: customers, actors, addresses, films (pagila's staff rows are generated).
    let real: Vec<(String, String)> = columns.iter().filter(|(t, _)| t != "staff" && t != "city").cloned().collect();
    let originals = pg_originals(&source, &real);

    // Masked, on two connections (every table goes through a spool file), with every
    // log line there is.
    let out = run(
        seed(&w, KEY).args([
            "-vv",
            "--log-format",
            "json",
            "--database-url",
            &url,
            "snapshot",
            "create",
            "p",
            "--mask",
            "auto",
            "-j",
            "2",
        ]),
        0,
    );
    let file = w.path().join("snapshots/p.seed.gz");
    let header = header_of(&file);
    assert_eq!(header["masking"]["mode"], "auto");
    assert!(header["masking"]["key_check"].as_str().unwrap().len() == 16);
    assert!(!std::fs::read_to_string(&file).unwrap_or_default().contains(KEY));
    let raw = std::fs::read(&file).unwrap();
    assert!(memchr::memmem::find(&raw, KEY.as_bytes()).is_none(), "the key is in the file");
    let rows = rows_of(&file);
    let show = run(w.seed().args(["snapshot", "show", "p"]), 0);
    let list = run(w.seed().args(["snapshot", "list"]), 0);
    assert!(
        stdout(&show).contains("masked        yes (auto)") && stdout(&show).contains("[masked: fake email]"),
        "{}",
        stdout(&show)
    );
    assert!(stdout(&list).lines().nth(1).unwrap().contains(" auto "), "{}", stdout(&list));
    let printed = output_bytes(&[&out, &show, &list]);
    assert!(!all_output(&out).contains(KEY), "the key was printed");
    let searched = assert_none_survive(&originals, &file, &printed);
    assert!(searched > 1000, "only {searched} values searched");

    // Restored into an empty copy of the schema: every foreign key, check and unique
    // constraint holds (the restore checks them), and no row kept its own value.
    let target = pagila("mask_pagila_restored", false);
    run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", "p"]), 0);
    assert_eq!(target.count("rental"), source.count("rental"));
    assert!(assert_rows_changed(&source, &target, &header, &columns) > 2000);

    // The same key again (on one connection): byte-identical data; another key: other values.
    run(seed(&w, KEY).args(["--database-url", &url, "snapshot", "create", "p2", "--mask", "auto", "-j", "1"]), 0);
    assert_eq!(data_members(&file), data_members(&w.path().join("snapshots/p2.seed.gz")), "same key, other bytes");
    run(seed(&w, OTHER_KEY).args(["--database-url", &url, "snapshot", "create", "p3", "--mask", "auto"]), 0);
    let other = rows_of(&w.path().join("snapshots/p3.seed.gz"));
    assert_ne!(other, rows);
    // Row by row, a masked column differs under the other key (the same dictionary can
    // give a row the same first name by chance, but not most rows).
    let column = |path: &Path, table: &str, column: &str| -> Vec<String> {
        let (_, columns, lines) = tables_of(path).into_iter().find(|(t, _, _)| t == table).unwrap();
        let i = columns.iter().position(|(c, _)| c == column).unwrap();
        lines.iter().map(|l| l.split('\t').nth(i).unwrap().to_owned()).collect()
    };
    for (t, c) in [("customer", "email"), ("customer", "last_name"), ("address", "phone"), ("staff", "password")] {
        let (a, b) = (column(&file, t, c), column(&w.path().join("snapshots/p3.seed.gz"), t, c));
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert!(a.len() > 1 && same * 10 < a.len(), "{t}.{c}: {same} of {} rows alike under another key", a.len());
    }
    assert_ne!(
        header_of(&w.path().join("snapshots/p3.seed.gz"))["masking"]["key_check"],
        header["masking"]["key_check"]
    );

    // A masked copy of an unmasked snapshot, without the database: the same data.
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "real"]), 0);
    let out = run(seed(&w, KEY).args(["snapshot", "mask", "real", "copy", "--mask", "auto"]), 0);
    assert!(all_output(&out).contains("a masked copy of real@1"), "{}", all_output(&out));
    assert_eq!(rows_of(&w.path().join("snapshots/copy.seed.gz")), rows, "snapshot mask and create --mask differ");
    run(w.seed().args(["snapshot", "verify", "copy"]), 0);
}

// =======================================================================================
// northwind: rules from a file, strict mode, masked keys referenced by foreign keys,
// a virtual reference

const NORTHWIND_RULES: &str = r#"
[references]
"orders.ship_name" = "customers.company_name"

[mask]
"customers.customer_id" = "scramble"
"customers.company_name" = { fake = "company" }
"employees.employee_id" = "hash"
"employees.last_name" = "redact"
"employees.first_name" = { template = "emp{n}" }
"employees.birth_date" = { shift = "±30d" }
"employees.notes" = "null"
"customers.contact_title" = "keep"
"#;

fn pg_dump_schema(from: &TestDb, to: &TestDb) {
    let out = server().tool("pg_dump").args(["--schema-only", "-d", &from.name]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &out.stdout).unwrap();
    to.load_file(file.path());
}

#[test]
fn mask_northwind_rules_mask_keys_through_their_foreign_keys_and_virtual_references() {
    let source = TestDb::new("mask_nw");
    source.load_file(&shared_fixture("northwind/northwind.sql"));
    let w = Workdir::new();
    let url = source.url();
    let rules = w.path().join("mask.toml");
    std::fs::write(&rules, NORTHWIND_RULES).unwrap();
    let rules_arg = rules.to_str().unwrap();

    // strict: every column that looks personal needs a rule, and the error names them all.
    let out = run(seed(&w, KEY).args(["--database-url", &url, "snapshot", "create", "nw", "--mask", rules_arg]), 2);
    let text = all_output(&out);
    assert!(text.contains("--mask strict:") && text.contains("employees.home_phone (a phone number)"), "{text}");
    assert!(text.contains("suppliers.contact_name (a person's name)"), "{text}");
    assert!(!text.contains("employees.last_name ("), "has a rule: {text}");
    assert!(!w.path().join("snapshots/nw.seed.gz").exists());

    // auto with the file's rules: the rules win, the rest is chosen; the plan says why.
    let args = ["--database-url", url.as_str(), "snapshot", "create", "nw", "--mask", "auto", "--factories", rules_arg];
    let plan = dry_run_plan(seed(&w, KEY).arg("--json").args(args).arg("--dry-run"));
    assert!(
        rule_of(&plan, "orders", "customer_id")
            .starts_with("scramble | same values as customers.customer_id (rule at ")
    );
    assert!(rule_of(&plan, "orders", "ship_name").starts_with("fake company | same values as customers.company_name"));
    assert!(rule_of(&plan, "employees", "reports_to").starts_with("hash | same values as employees.employee_id"));
    assert!(rule_of(&plan, "customers", "contact_title").starts_with("keep |"));
    assert!(rule_of(&plan, "employees", "home_phone").starts_with("fake phone | auto: a phone number"));
    let columns = masked_columns(&plan);
    let originals = pg_originals(&source, &columns);
    let joined = |db: &TestDb| {
        db.psql("SELECT count(*) FROM orders o JOIN customers c USING (customer_id) WHERE o.ship_name = c.company_name")
    };
    let joined_before = joined(&source);
    assert!(joined_before.parse::<u32>().unwrap() > 500);

    let out = run(seed(&w, KEY).args(args), 0);
    let file = w.path().join("snapshots/nw.seed.gz");
    assert!(assert_none_survive(&originals, &file, &output_bytes(&[&out])) > 300);
    let target = TestDb::new("mask_nw_restored");
    pg_dump_schema(&source, &target);
    target.psql("TRUNCATE customers, employees, orders, order_details, customer_customer_demo, customer_demographics, employee_territories, territories, region, shippers, suppliers, products, categories, us_states CASCADE");
    run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", "nw"]), 0);
    assert!(assert_rows_changed(&source, &target, &header_of(&file), &columns) > 500);
    // Masked keys still join: every order finds its customer and employee (the
    // restore checked the foreign keys), and as many orders as before were shipped to
    // their customer's (masked) company name, through the virtual reference.
    assert_eq!(target.count("orders"), source.count("orders"));
    assert_eq!(joined(&target), joined_before);
    assert_eq!(
        target.psql("SELECT count(*) FROM customers WHERE customer_id !~ '^[A-Z]{5}$'"),
        "0",
        "scramble keeps the shape"
    );
    assert_eq!(
        target.psql("SELECT count(*) FROM customers c JOIN (SELECT customer_id FROM customers) s USING (customer_id)"),
        source.psql("SELECT count(*) FROM customers"),
    );
    let ids = |db: &TestDb| db.psql("SELECT string_agg(employee_id::text, ',' ORDER BY employee_id) FROM employees");
    assert_ne!(ids(&target), ids(&source), "the employee keys are masked");
    assert_eq!(target.psql("SELECT count(*) FROM employees WHERE notes IS NOT NULL"), "0");
    assert_eq!(target.psql("SELECT count(*) FROM employees WHERE first_name !~ '^emp[0-9]+$'"), "0");
    // Dates move by at most 30 days, never by none.
    let shifted = target.psql("SELECT string_agg(birth_date::text, ',' ORDER BY last_name) FROM employees");
    assert!(!shifted.is_empty());
}

// =======================================================================================
// SQLite: the demo schema, JSON documents, a unique email, a restore

#[test]
fn mask_sqlite_demo_masks_json_keeps_unique_emails_unique_and_restores() {
    use crate::bulk::sqlite_with_schema;
    use crate::common::sqlite3;
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "300", "--seed", "3"]), 0);
    let db = w.path().join("seed.db");
    let plan = dry_run_plan(seed(&w, KEY).args(["--json", "snapshot", "create", "s", "--mask", "auto", "--dry-run"]));
    assert_eq!(rule_of(&plan, "welfare_recipients", "notes"), "json (every string and number) | auto: free text");
    assert_eq!(rule_of(&plan, "staffs", "email"), "fake email | auto: an email address");
    let notes: BTreeSet<String> =
        sqlite3(&db, "SELECT DISTINCT json_extract(notes, '$.note') FROM welfare_recipients WHERE notes IS NOT NULL")
            .lines()
            .map(str::to_owned)
            .collect();
    let emails: BTreeSet<String> = sqlite3(&db, "SELECT email FROM staffs").lines().map(str::to_owned).collect();
    let phones: BTreeSet<String> =
        sqlite3(&db, "SELECT DISTINCT phone FROM staffs WHERE phone IS NOT NULL").lines().map(str::to_owned).collect();
    assert!(notes.len() > 100 && emails.len() == 300);
    let originals = Originals::from([
        (("welfare_recipients".into(), "notes".into()), notes),
        (("staffs".into(), "email".into()), emails),
        (("staffs".into(), "phone".into()), phones),
    ]);
    let out = run(seed(&w, KEY).args(["-v", "snapshot", "create", "s", "--mask", "auto"]), 0);
    let file = w.path().join("snapshots/s.seed.gz");
    assert!(assert_none_survive(&originals, &file, &output_bytes(&[&out])) > 500);
    // Into an empty database of the same schema: foreign keys on, the unique email holds.
    let target = w.path().join("target.db");
    sqlite_with_schema(&target, &std::fs::read_to_string(crate::common::repo_path("fixtures/schema.sql")).unwrap());
    run(w.seed().args(["--database-url", &format!("sqlite://{}", target.display()), "snapshot", "restore", "s"]), 0);
    assert_eq!(sqlite3(&target, "SELECT count(DISTINCT email) FROM staffs"), "300");
    assert_eq!(
        sqlite3(&target, "SELECT count(*) FROM welfare_recipients WHERE notes IS NOT NULL AND json_valid(notes) = 0"),
        "0"
    );
    assert_eq!(
        sqlite3(&target, "SELECT count(*) FROM welfare_recipients WHERE notes IS NULL"),
        sqlite3(&db, "SELECT count(*) FROM welfare_recipients WHERE notes IS NULL")
    );
    assert_eq!(sqlite3(&target, "PRAGMA foreign_key_check"), "");
    let same = sqlite3(
        &target,
        &format!(
            "ATTACH '{}' AS src; SELECT count(*) FROM main.staffs t JOIN src.staffs s USING (id) WHERE t.email = s.email OR t.name = s.name OR t.phone = s.phone",
            db.display()
        ),
    );
    assert_eq!(same.lines().last(), Some("0"), "a row kept its own value");
}

// =======================================================================================
// Failure paths: bad rules, no key, impossible rules, before anything is written

#[test]
fn mask_bad_rules_and_a_missing_key_are_refused_before_anything_is_written() {
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "20"]), 0);
    let snapshots = w.path().join("snapshots");
    let before = dir_state(&snapshots);
    let rules = w.path().join("r.toml");
    let refused = |text: &str, key: Option<&str>, extra: &[&str], code: i32, wanted: &[&str]| {
        std::fs::write(&rules, text).unwrap();
        let mut cmd = w.seed();
        if let Some(k) = key {
            cmd.env("SEED_MASK_KEY", k);
        }
        let out = run(
            cmd.args(["snapshot", "create", "x", "--mask", "strict", "--factories", rules.to_str().unwrap()])
                .args(extra),
            code,
        );
        let text = all_output(&out);
        for w in wanted {
            assert!(text.contains(w), "{w:?} not in:\n{text}");
        }
        assert!(!text.contains(KEY), "{text}");
        assert_dir_unchanged(&snapshots, &before, text.lines().next().unwrap_or(""));
    };
    let ok = "[mask]\n\"staffs.name\" = \"redact\"\n\"staffs.email\" = { fake = \"email\" }\n\"staffs.phone\" = \"null\"\n\"offices.address\" = \"keep\"\n\"offices.city\" = \"keep\"\n\"welfare_recipients.name\" = \"keep\"\n\"welfare_recipients.birth_date\" = { shift = \"±10d\" }\n\"welfare_recipients.notes\" = \"json\"\n";
    refused("[mask]\n\n\"staff.name\" = \"redact\"\n", Some(KEY), &[], 2, &["r.toml:3:", "no table 'staff'"]);
    refused("[mask]\n\"staffs.nom\" = \"redact\"\n", Some(KEY), &[], 2, &["r.toml:2:", "staffs has no column 'nom'"]);
    refused(
        "[mask]\n\"staffs.name\" = { fake = \"nonsense\" }\n",
        Some(KEY),
        &[],
        2,
        &["r.toml:2:", "unknown generator 'nonsense'"],
    );
    refused("[mask]\n\"staffs.email\" = \"null\"\n", Some(KEY), &["--dry-run"], 2, &["r.toml:2:", "NOT NULL"]);
    refused(
        "[mask]\n\"staffs.email\" = { fixed = \"a@b.c\" }\n",
        Some(KEY),
        &["--dry-run"],
        2,
        &["r.toml:2:", "unique key"],
    );
    refused(
        "[mask]\n\"staffs.id\" = \"hash\"\n\"offices.created_by\" = \"scramble\"\n",
        Some(KEY),
        &["--dry-run"],
        2,
        &["r.toml:", "need one rule"],
    );
    refused(
        "[references]\n\"offices.nope\" = \"staffs.id\"\n",
        Some(KEY),
        &["--dry-run"],
        2,
        &["r.toml:2:", "offices has no column nope"],
    );
    refused(
        &ok.replace("\"staffs.phone\" = \"null\"\n", ""),
        Some(KEY),
        &[],
        2,
        &["--mask strict:", "staffs.phone (a phone number)"],
    );
    // No key: refused with the way to make one; a key too short: refused.
    refused(ok, None, &[], 2, &["masking needs a key: set SEED_MASK_KEY", "openssl rand -hex 32"]);
    refused(ok, Some("short"), &[], 2, &["at least 16 are needed"]);
    // The rules that hold: written.
    std::fs::write(&rules, ok).unwrap();
    run(seed(&w, KEY).args(["snapshot", "create", "x", "--mask", rules.to_str().unwrap()]), 0);
    let out = run(w.seed().args(["snapshot", "mask", "x", "x", "--mask", "auto"]), 2);
    assert!(all_output(&out).contains("cannot be masked into itself"));
    let out = run(w.seed().args(["snapshot", "mask", "x", "y"]), 2);
    assert!(all_output(&out).contains("snapshot mask needs --mask"));
    let out = run(w.seed().args(["snapshot", "mask", "x", "y", "--mask", "auto"]), 2);
    assert!(all_output(&out).contains("masking needs a key"));
    assert!(!snapshots.join("y.seed.gz").exists());
}

// =======================================================================================
// Checks seed does not read itself, tried by the database before anything is written

const PEOPLE_PG: &str = r"CREATE TABLE people (
    id int PRIMARY KEY,
    email text NOT NULL UNIQUE CONSTRAINT people_email_corp CHECK (email ~ '^[a-z0-9.]+@corp\.example$'),
    hired date NOT NULL
)";

/// PostgreSQL: a regular-expression check on a unique email. A rule whose values the
/// check refuses (the file's `fake`, auto mode's choice) is refused before any row is
/// written, `--dry-run` included, naming the rule's line (or, for auto, with a hint to
/// give one); a template the check accepts is written, and restores with the check in
/// place. No original value is printed or stored.
#[test]
fn mask_rules_a_regex_check_refuses_are_refused_before_anything_is_written() {
    let source = TestDb::new("mask_check_pg");
    source.load_sql(PEOPLE_PG);
    source.load_sql(
        "INSERT INTO people SELECT i, 'p' || md5(i::text) || '@corp.example', DATE '2020-01-01' + i FROM generate_series(1, 300) i",
    );
    let w = Workdir::new();
    let url = source.url();
    let snapshots = w.path().join("snapshots");
    let before = dir_state(&snapshots);
    let rules = w.path().join("r.toml");
    let mut outs = Vec::new();
    let create = |extra: &[&str]| {
        let mut cmd = seed(&w, KEY);
        cmd.args(["--database-url", &url, "snapshot", "create", "p"]).args(extra);
        cmd
    };
    for (rule, args, wanted) in [
        (
            Some("{ fake = \"email\" }"),
            &["--mask", "r.toml", "--dry-run"][..],
            "r.toml:2: [mask] fake email on people.email",
        ),
        (Some("{ fake = \"email\" }"), &["--mask", "r.toml"][..], "r.toml:2: [mask] fake email on people.email"),
        (Some("\"scramble\""), &["--mask", "r.toml"][..], "r.toml:2: [mask] scramble on people.email"),
        (None, &["--mask", "auto", "--dry-run"][..], "--mask auto: fake email on people.email"),
    ] {
        if let Some(rule) = rule {
            std::fs::write(&rules, format!("[mask]\n\"people.email\" = {rule}\n")).unwrap();
        }
        let out = run(create(args).current_dir(w.path()), 2);
        let text = all_output(&out);
        assert!(text.contains(wanted), "{args:?}: {text}");
        assert!(text.contains("people_email_corp") && text.contains("refuses"), "{args:?}: {text}");
        let hint = text.lines().find(|l| l.starts_with("hint:")).unwrap_or_default();
        if rule.is_some() {
            assert!(hint.contains("r.toml (line 2)"), "{text}");
        } else {
            assert!(hint.contains("give people.email a rule"), "{text}");
        }
        assert_dir_unchanged(&snapshots, &before, wanted);
        outs.push(out);
    }
    // A template the check accepts: written, and restored with the check in place.
    std::fs::write(&rules, "[mask]\n\"people.email\" = { template = \"u{n}@corp.example\" }\n").unwrap();
    outs.push(run(create(&["--mask", "r.toml", "--dry-run"]).current_dir(w.path()), 0));
    outs.push(run(create(&["--mask", "r.toml"]).current_dir(w.path()), 0));
    let originals = pg_originals(&source, &[("people".into(), "email".into())]);
    let printed: Vec<&Output> = outs.iter().collect();
    assert_eq!(assert_none_survive(&originals, &snapshots.join("p.seed.gz"), &output_bytes(&printed)), 300);
    let target = TestDb::new("mask_check_pg_to");
    target.load_sql(PEOPLE_PG);
    run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", "p"]), 0);
    assert_eq!(target.psql("SELECT count(*) FROM people WHERE email ~ '@corp\\.example$'").trim(), "300");
    assert_eq!(target.psql("SELECT count(*) FROM people WHERE email LIKE 'u%'").trim(), "300");
}

/// SQLite: a `LIKE` check and a function in another (`instr`), both on columns a rule
/// masks; the rule whose values they refuse is refused at `--dry-run`, naming its line;
/// rules they accept restore with the checks in place.
#[test]
fn mask_rules_a_sqlite_check_refuses_are_refused_before_anything_is_written() {
    use crate::bulk::sqlite_with_schema;
    use crate::common::sqlite3;
    let w = Workdir::new();
    let db = w.path().join("seed.db");
    sqlite_with_schema(
        &db,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL CHECK (email LIKE '%@corp.example'), \
         phone TEXT CHECK (instr(phone, '#') = 0));",
    );
    sqlite3(
        &db,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) \
         INSERT INTO people SELECT i, 'person' || (i * 7919) || '@corp.example', '555-01' || printf('%04d', i) FROM n;",
    );
    let snapshots = w.path().join("snapshots");
    let before = dir_state(&snapshots);
    let rules = w.path().join("r.toml");
    let mut outs = Vec::new();
    for (text, wanted) in [
        (
            "[mask]\n\"people.email\" = \"redact\"\n\"people.phone\" = \"keep\"\n",
            "r.toml:2: [mask] redact on people.email",
        ),
        (
            "[mask]\n\"people.email\" = { template = \"u{n}@corp.example\" }\n\"people.phone\" = \"redact\"\n",
            "r.toml:3: [mask] redact on people.phone",
        ),
    ] {
        std::fs::write(&rules, text).unwrap();
        let out = run(seed(&w, KEY).args(["snapshot", "create", "s", "--mask", "r.toml", "--dry-run"]), 2);
        let all = all_output(&out);
        assert!(all.contains(wanted) && all.contains("refuses"), "{all}");
        assert_dir_unchanged(&snapshots, &before, wanted);
        outs.push(out);
    }
    std::fs::write(
        &rules,
        "[mask]\n\"people.email\" = { template = \"u{n}@corp.example\" }\n\"people.phone\" = \"scramble\"\n",
    )
    .unwrap();
    outs.push(run(seed(&w, KEY).args(["snapshot", "create", "s", "--mask", "r.toml"]), 0));
    let emails: BTreeSet<String> = sqlite3(&db, "SELECT email FROM people").lines().map(str::to_owned).collect();
    let phones: BTreeSet<String> = sqlite3(&db, "SELECT phone FROM people").lines().map(str::to_owned).collect();
    let originals =
        Originals::from([(("people".into(), "email".into()), emails), (("people".into(), "phone".into()), phones)]);
    let printed: Vec<&Output> = outs.iter().collect();
    assert_eq!(assert_none_survive(&originals, &snapshots.join("s.seed.gz"), &output_bytes(&printed)), 400);
    let target = w.path().join("target.db");
    sqlite_with_schema(&target, &sqlite3(&db, "SELECT sql || ';' FROM sqlite_master WHERE name = 'people'"));
    run(w.seed().args(["--database-url", &format!("sqlite://{}", target.display()), "snapshot", "restore", "s"]), 0);
    assert_eq!(sqlite3(&target, "SELECT count(*) FROM people WHERE email LIKE 'u%@corp.example'"), "200");
}

// =======================================================================================
// Interruptions and spools: nothing unmasked reaches disk, nothing is left behind

/// Every file under `dir` a running process `pid` holds open (by what its descriptor
/// links to), read as it is now.
fn open_files_under(pid: u32, dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return out };
    for fd in fds.flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else { continue };
        if target.starts_with(dir)
            && let Ok(bytes) = std::fs::read(fd.path())
        {
            out.push((target, bytes));
        }
    }
    out
}

/// Decompresses what it can of a spool file (gzip members, the last one perhaps cut
/// short), or returns it as it is (a raw spool).
pub(crate) fn spool_text(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out);
    if out.is_empty() { bytes.to_vec() } else { out }
}

#[test]
fn mask_spool_files_hold_only_masked_rows_and_interruptions_leave_nothing() {
    let db = clone_db(&big_demo().template, "mask_spool");
    let w = Workdir::new();
    let keyfile = w.path().join("key.txt");
    std::fs::write(&keyfile, format!("{KEY}\n")).unwrap();
    let key_arg = keyfile.to_str().unwrap();
    let emails: BTreeSet<String> = db.psql("SELECT email FROM staffs").lines().map(str::to_owned).collect();
    let phones: BTreeSet<String> =
        db.psql("SELECT phone FROM staffs WHERE phone IS NOT NULL").lines().map(str::to_owned).collect();
    let snapshots = w.path().join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();

    // -j 2: every table is spooled to an unnamed temp file in the snapshot directory
    // before it is copied into the snapshot. Read those files while the create runs.
    let url = db.url();
    let mut child = seed_cmd(
        &w,
        &["--database-url", &url, "snapshot", "create", "j", "--mask", "auto", "--mask-key-file", key_arg, "-j", "2"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Spool files only grow: the longest read of each holds every earlier one.
    let mut seen: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(120) {
        for (target, bytes) in open_files_under(child.id(), &snapshots) {
            let kept = seen.entry(target).or_default();
            if bytes.len() > kept.len() {
                *kept = bytes;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(child.wait().unwrap().success());
    let spooled: Vec<u8> = seen.values().flat_map(|b| spool_text(b)).collect();
    assert!(spooled.len() > 1 << 20, "only {} bytes of spool files seen", spooled.len());
    let originals = Originals::from([
        (("staffs".into(), "email".into()), emails.clone()),
        (("staffs".into(), "phone".into()), phones.clone()),
    ]);
    let found = first_found(&spooled, emails.iter().chain(&phones).filter(|v| distinctive(v)));
    assert!(found.is_none(), "{found:?} is in a spool file");
    assert!(assert_none_survive(&originals, &snapshots.join("j.seed.gz"), b"") > 1000);

    // Ctrl-C and kill -9 mid-create: no snapshot, no temp file, nothing else.
    let before = dir_state(&snapshots);
    for (signal, name) in [(libc::SIGINT, "cut"), (libc::SIGKILL, "killed")] {
        let mut running = create_in_progress(&w, &db, name, &["--mask", "auto", "--mask-key-file", key_arg]);
        running.signal(signal);
        let (status, _, stderr) = running.finish(Duration::from_secs(60));
        assert!(!stderr.contains("snapshot_created"), "finished before the signal:\n{stderr}");
        if signal == libc::SIGINT {
            assert_eq!(status.code(), Some(130), "{stderr}");
        }
        assert_dir_unchanged(&snapshots, &before, name);
        for v in emails.iter().take(50) {
            assert!(!stderr.contains(v.as_str()), "{stderr}");
        }
    }
}
