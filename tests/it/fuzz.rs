//! Mutation fuzzing of the snapshot reader through the real binary (issue 8, "Fuzzing
//! stays"). Each case damages a good snapshot one way — bit and byte flips, cuts,
//! inserted and deleted bytes, swapped or duplicated members, edited header fields
//! (gzip CRC fixed; with and without the header checksum recomputed, the latter a
//! "naive forger") — and runs `snapshot show`, `verify` and `restore` on it (into a
//! fresh SQLite file; every tenth case also into PostgreSQL). It asserts: no panic, no
//! hang, only the documented exit codes, a refused restore leaves no rows, a restore
//! that succeeds equals the source, an edit with a stale header checksum is always
//! refused, and a forged edit of a column or table name is refused too. One case in
//! five damages an incremental snapshot (`good@2`, built on `good`) instead: then a
//! forged edit of its base reference may also end in exit 6 (a base not there). Each
//! case sits in a directory of its own under its snapshot's key; one kind of case
//! stores the intact file under another key instead (another name, another version,
//! or an incremental snapshot and its base swapped): refused by all three (issue 21).
//! One case in five damages a masked subset (`slice`) instead, and some header edits
//! aim at the fields subsets and masking added (column kinds, checks and rules, unique
//! and foreign keys, the masking and subset records), at fields no format has, at any
//! level, and at the fields' order: the last two refused by all three even when forged.
//!
//! Deterministic: case `i` of seed `S` is always the same mutation. Scale with
//! `SEED_FUZZ_CASES` (default 250) and `SEED_FUZZ_SECS` (default 50: stops early when
//! the time is up), pick the seed with `SEED_FUZZ_SEED`; a failure prints the seed and
//! the case. `scripts/fuzz-long.sh` runs it longer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::common::run;
use crate::common::{TestDb, Workdir};
use crate::header::{Contents, header_line, resign, sqlite_contents, with_header};
use crate::snapshot::clone_db;
use crate::trust::toml_string;

const DEFAULT_SEED: u64 = 0x5eed_f022_2026_0008;
/// Exit codes each command may end with on a damaged file (docs/exit-codes.md):
/// 0 ok, 7 corrupt; restore also 5 (pre-flight: e.g. an edited database kind).
const SHOW_VERIFY_CODES: [i32; 2] = [0, 7];
const RESTORE_CODES: [i32; 3] = [0, 5, 7];
/// An incremental snapshot may also name a base that is not there (exit 6).
const INC_VERIFY_CODES: [i32; 3] = [0, 6, 7];
const INC_RESTORE_CODES: [i32; 4] = [0, 5, 6, 7];
/// Every this many cases (not a PostgreSQL one) damage the incremental snapshot.
const INC_EVERY: usize = 5;
/// Every this many cases (not a PostgreSQL or incremental one) damage the masked slice.
const SLICE_EVERY: usize = 5;
/// Longer than any healthy run of these tiny snapshots takes on a loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
const PG_EVERY: usize = 10;

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n.max(1) as u64).unwrap()
    }

    fn byte(&mut self) -> u8 {
        self.next().to_le_bytes()[0]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn fuzz_seed() -> u64 {
    match std::env::var("SEED_FUZZ_SEED") {
        Ok(v) => {
            let v = v.trim();
            v.strip_prefix("0x")
                .map_or_else(|| v.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
                .unwrap_or(DEFAULT_SEED)
        }
        Err(_) => DEFAULT_SEED,
    }
}

/// A good snapshot to damage: its bytes, the header as parsed, where the header
/// member ends and each table's byte range.
struct Base {
    name: &'static str,
    bytes: Vec<u8>,
    header: Value,
    header_end: usize,
    tables: Vec<(usize, usize)>,
}

impl Base {
    fn load(dir: &Path, name: &'static str) -> Self {
        let bytes = std::fs::read(dir.join(format!("{name}.seed.gz"))).unwrap();
        let (line, header_end) = header_line(&bytes);
        let header: Value = serde_json::from_slice(&line).unwrap();
        let tables = header["tables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let o = usize::try_from(t["offset"].as_u64().unwrap()).unwrap();
                (o, o + usize::try_from(t["length"].as_u64().unwrap()).unwrap())
            })
            .collect();
        let base = Self { name, bytes, header, header_end, tables };
        // Edits made on the parsed header change only what they edit.
        assert_eq!(serde_json::to_string(&base.header).unwrap(), base.json(), "{name}: header round trip");
        base
    }

    fn json(&self) -> String {
        crate::header::header_json_of(&self.bytes)
    }

    /// Its name and version (`good@2`: `("good", 2)`).
    fn key(&self) -> (&'static str, u64) {
        match self.name.split_once('@') {
            Some((n, v)) => (n, v.parse().unwrap()),
            None => (self.name, 1),
        }
    }
}

/// What a mutation promises about the outcome, beyond the general rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Anything allowed by the general rules.
    Any,
    /// show, verify and restore must all refuse (exit 7).
    Refused,
    /// verify must refuse (a forged edit the fingerprint or data checksums cover).
    VerifyRefuses,
}

struct Mutant {
    what: String,
    bytes: Vec<u8>,
    expect: Expect,
    placement: Placement,
}

/// Under which key a case's bytes are stored (the commands name that snapshot).
#[derive(Clone, PartialEq, Eq, Debug)]
enum Placement {
    /// The damaged snapshot's own key.
    Own,
    /// Another key (`NAME` or `NAME@N`): a file renamed or copied over another's.
    Under(String),
    /// An incremental snapshot and its base trade keys (renamed inside a chain).
    SwappedWithBase,
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The canonical JSON of a column entry, as the header holds it (its kind, checks and
/// masking rule included: the header's key order is kept, `preserve_order`).
fn column_json(c: &Value) -> String {
    serde_json::to_string(c).unwrap()
}

/// Byte range of table `t`'s object in the header JSON.
fn table_span(json: &str, t: &Value) -> (usize, usize) {
    let start_key = format!(
        "{{\"schema\":{},\"name\":{},",
        quote(t["schema"].as_str().unwrap()),
        quote(t["name"].as_str().unwrap())
    );
    let start = json.find(&start_key).expect("table in the header");
    let end = json[start + 1..]
        .find("{\"schema\":")
        .map_or_else(|| json.rfind("],\"header_checksum\"").unwrap(), |i| start + 1 + i);
    (start, end)
}

/// Applies `edit` to the span of one table; `None` if the edit does not apply.
fn in_table(json: &str, t: &Value, edit: impl FnOnce(&str) -> Option<String>) -> Option<String> {
    let (a, b) = table_span(json, t);
    let edited = edit(&json[a..b])?;
    Some(format!("{}{edited}{}", &json[..a], &json[b..]))
}

fn replace_first(s: &str, from: &str, to: &str) -> Option<String> {
    s.contains(from).then(|| s.replacen(from, to, 1))
}

/// One edit of the header's fields, as text (so the result stays canonical JSON and a
/// forger's recomputed checksum is the one seed would compute). Returns a label, the
/// edited JSON and whether the edit is one a forger cannot get past `verify`.
fn header_edit(rng: &mut Rng, base: &Base) -> Option<(String, String, bool)> {
    let json = base.json();
    let tables = base.header["tables"].as_array().unwrap();
    let t = &tables[rng.below(tables.len())];
    let tname = t["name"].as_str().unwrap().to_owned();
    let cols = t["columns"].as_array().unwrap();
    let c = &cols[rng.below(cols.len())];
    let cname = c["name"].as_str().unwrap().to_owned();
    let num = |field: &str, delta: i64| -> Option<String> {
        let v = t[field].as_u64()?;
        let new = v.checked_add_signed(delta)?;
        in_table(&json, t, |s| replace_first(s, &format!("\"{field}\":{v},"), &format!("\"{field}\":{new},")))
    };
    let (label, edited, covered) = match rng.below(27) {
        0 | 1 => {
            let d = &cols[rng.below(cols.len())];
            let (a, b) = (column_json(c), column_json(d));
            if a == b {
                return None;
            }
            // Swap the names only: types and nullability stay in place.
            let (an, bn) = (c["name"].as_str().unwrap(), d["name"].as_str().unwrap());
            let a2 = a.replacen(&quote(an), &quote(bn), 1);
            let b2 = b.replacen(&quote(bn), &quote(an), 1);
            let e = in_table(&json, t, |s| {
                Some(s.replacen(&a, "\u{0}A", 1).replacen(&b, &b2, 1).replacen("\u{0}A", &a2, 1))
            })?;
            (format!("swap column names {an}/{bn} in {tname}"), e, true)
        }
        2 => (
            format!("rename table {tname}"),
            in_table(&json, t, |s| {
                replace_first(
                    s,
                    &format!("\"name\":{}", quote(&tname)),
                    &format!("\"name\":{}", quote(&format!("{tname}x"))),
                )
            })?,
            true,
        ),
        3 => {
            let e = in_table(&json, t, |s| {
                replace_first(
                    s,
                    &column_json(c),
                    &column_json(c).replacen(&quote(&cname), &quote(&format!("{cname}2")), 1),
                )
            })?;
            (format!("rename column {tname}.{cname}"), e, true)
        }
        4 => {
            let ty = c["type_name"].as_str().unwrap();
            let other = if ty == "TEXT" || ty == "text" { "INTEGER" } else { "TEXT" };
            let e = in_table(&json, t, |s| {
                replace_first(s, &column_json(c), &column_json(c).replacen(&quote(ty), &quote(other), 1))
            })?;
            (format!("retype column {tname}.{cname}"), e, true)
        }
        5 => {
            let n = c["nullable"].as_bool().unwrap();
            let e = in_table(&json, t, |s| {
                replace_first(
                    s,
                    &column_json(c),
                    &column_json(c).replacen(&format!("\"nullable\":{n}"), &format!("\"nullable\":{}", !n), 1),
                )
            })?;
            (format!("flip nullable of {tname}.{cname}"), e, true)
        }
        6 => (format!("rows +1 in {tname}"), num("rows", 1)?, true),
        7 => (format!("rows -1 in {tname}"), num("rows", -1)?, true),
        8 => {
            let sum = t["checksum"].as_str().unwrap();
            let other: String = sum.chars().rev().collect();
            if other == sum {
                return None;
            }
            (
                format!("checksum of {tname}"),
                in_table(&json, t, |s| {
                    replace_first(s, &format!("\"checksum\":\"{sum}\""), &format!("\"checksum\":\"{other}\""))
                })?,
                true,
            )
        }
        9 => (format!("offset +1 in {tname}"), num("offset", 1)?, true),
        10 => (format!("length -1 in {tname}"), num("length", -1)?, true),
        11 => (format!("raw_bytes +1 in {tname}"), num("raw_bytes", 1)?, true),
        12 => {
            let all: Vec<String> = cols.iter().map(column_json).collect();
            let pk = serde_json::to_string(&t["primary_key"]).unwrap();
            let e = in_table(&json, t, |s| {
                replace_first(
                    s,
                    &format!("\"columns\":[{}],\"primary_key\":{pk}", all.join(",")),
                    "\"columns\":[],\"primary_key\":[]",
                )
            })?;
            (format!("empty the columns of {tname}"), e, true)
        }
        13 => (
            format!("duplicate column {tname}.{cname}"),
            in_table(&json, t, |s| {
                replace_first(s, &column_json(c), &format!("{},{}", column_json(c), column_json(c)))
            })?,
            true,
        ),
        14 => {
            if cols.len() < 2 {
                return None;
            }
            let last = column_json(cols.last().unwrap());
            (
                format!("drop the last column of {tname}"),
                in_table(&json, t, |s| replace_first(s, &format!(",{last}"), ""))?,
                true,
            )
        }
        15 => {
            let bad = ["../x", "a\u{1b}[31mb", "t\u{202e}txt", "", "ε\u{0}"][rng.below(5)];
            (
                format!("table name {bad:?}"),
                in_table(&json, t, |s| {
                    replace_first(s, &format!("\"name\":{}", quote(&tname)), &format!("\"name\":{}", quote(bad)))
                })?,
                true,
            )
        }
        16 => {
            let kind = base.header["database"]["kind"].as_str().unwrap();
            let other = ["postgres", "sqlite", "mysql", "oracle", ""][rng.below(5)];
            if other == kind {
                return None;
            }
            (
                format!("database kind {other}"),
                replace_first(&json, &format!("\"kind\":\"{kind}\""), &format!("\"kind\":{}", quote(other)))?,
                false,
            )
        }
        17 => {
            let fp = base.header["schema_fingerprint"].as_str().unwrap();
            let other =
                [format!("x{}", "\u{20ac}".repeat(10)), "0".repeat(32), fp.chars().rev().collect(), "F".repeat(32)]
                    [rng.below(4)]
                .clone();
            if other == fp {
                return None;
            }
            (
                format!("schema_fingerprint {other}"),
                replace_first(
                    &json,
                    &format!("\"schema_fingerprint\":\"{fp}\""),
                    &format!("\"schema_fingerprint\":{}", quote(&other)),
                )?,
                false,
            )
        }
        18 => {
            let d = ["\u{1b}[2J\u{1b}[31mred", "\u{202e}fdp.exe", "a\u{9b}b\u{7f}", "plain"][rng.below(4)];
            (
                format!("description {d:?}"),
                replace_first(&json, "\"description\":null", &format!("\"description\":{}", quote(d)))?,
                false,
            )
        }
        19 => {
            let s = ["base", "delta", "bogus", "FULL"][rng.below(4)];
            (
                format!("storage {s} for {tname}"),
                in_table(&json, t, |x| replace_first(x, "\"storage\":\"full\"", &format!("\"storage\":\"{s}\"")))?,
                true,
            )
        }
        20 => (
            "row_format copy-binary".into(),
            replace_first(&json, "\"row_format\":\"copy-text\"", "\"row_format\":\"copy-binary\"")?,
            true,
        ),
        21 => {
            let v = ["1", "3", "0", "\"2\"", "null", "2.0"][rng.below(6)];
            (
                format!("format_version {v}"),
                replace_first(&json, "\"format_version\":2", &format!("\"format_version\":{v}"))?,
                true,
            )
        }
        22 => {
            let v = ["0", "2", "-1", "18446744073709551615"][rng.below(4)];
            (format!("version {v}"), replace_first(&json, "\"version\":1,", &format!("\"version\":{v},"))?, false)
        }
        23 => {
            let b = format!("{{\"name\":\"older\",\"version\":1,\"content_checksum\":\"{}\"}}", "ab".repeat(16));
            ("a base snapshot".into(), replace_first(&json, "\"base\":null", &format!("\"base\":{b}"))?, false)
        }
        24 => {
            let pk = serde_json::to_string(&t["primary_key"]).unwrap();
            let other = [
                format!("[{}]", quote(&cname)),
                "[\"nope\"]".into(),
                format!("[{},{}]", quote(&cname), quote(&cname)),
                "[]".into(),
            ][rng.below(4)]
            .clone();
            if other == pk {
                return None;
            }
            (
                format!("primary key {other} in {tname}"),
                in_table(&json, t, |s| {
                    replace_first(s, &format!("\"primary_key\":{pk}"), &format!("\"primary_key\":{other}"))
                })?,
                false,
            )
        }
        25 => {
            let fp = base.header["tables_fingerprint"].as_str().unwrap();
            let other: String = fp.chars().rev().collect();
            (
                "tables_fingerprint".into(),
                replace_first(
                    &json,
                    &format!("\"tables_fingerprint\":\"{fp}\""),
                    &format!("\"tables_fingerprint\":\"{other}\""),
                )?,
                true,
            )
        }
        _ => {
            let e = replace_first(&json, "\"settings\":{", "\"settings\":{\"DateStyle\":\"SQL, DMY\",")
                .or_else(|| replace_first(&json, "\"created_at\":\"", "\"created_at\":\"1999"))?;
            ("settings or created_at".into(), e, false)
        }
    };
    Some((label, edited, covered))
}

/// Key orders of the header's objects (the format's field order).
const TOP_ORDER: [&str; 19] = [
    "format",
    "format_version",
    "row_format",
    "name",
    "version",
    "description",
    "created_at",
    "tool_version",
    "database",
    "schema_version",
    "schema_fingerprint",
    "tables_fingerprint",
    "settings",
    "compression",
    "base",
    "subset",
    "masking",
    "tables",
    "header_checksum",
];
const TABLE_ORDER: [&str; 14] = [
    "schema",
    "name",
    "storage",
    "columns",
    "primary_key",
    "unique_keys",
    "foreign_keys",
    "rows",
    "checksum",
    "offset",
    "length",
    "raw_bytes",
    "delta",
    "sequences",
];
const COLUMN_ORDER: [&str; 6] = ["name", "type_name", "nullable", "kind", "checks", "mask"];

/// Sets `key` in `map` where the format's `order` puts it (in place if present).
fn put(map: &mut Map<String, Value>, order: &[&str], key: &str, value: Value) {
    if let Some(v) = map.get_mut(key) {
        *v = value;
        return;
    }
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap_or(order.len());
    let at = map.keys().filter(|k| rank(k) < rank(key)).count();
    map.shift_insert(at, key.to_owned(), value);
}

/// Sets `key` (`Value::Null`: removes it).
fn put_or_remove(map: &mut Map<String, Value>, order: &[&str], key: &str, value: Value) {
    if value.is_null() {
        map.shift_remove(key);
    } else {
        put(map, order, key, value);
    }
}

/// One edit of the fields the header gained with subsets and masking (a column's kind,
/// checks and masking rule, a table's unique and foreign keys, the `masking` and
/// `subset` records), or a field no format version has at any level, or two fields out
/// of order: made on the parsed header, serialized back. Returns a label, the edited
/// JSON and what a forger (checksum recomputed) must meet: an unknown field or another
/// order is refused by every command (the text is not the canonical serialization,
/// r21.10); the others are judged by the general rules (no panic, a documented exit,
/// a restore equal to the source or none).
fn recent_field_edit(rng: &mut Rng, base: &Base) -> Option<(String, String, Expect)> {
    let mut h = base.header.clone();
    let ti = rng.below(h["tables"].as_array()?.len());
    let tname = h["tables"][ti]["name"].as_str()?.to_owned();
    let ci = rng.below(h["tables"][ti]["columns"].as_array()?.len());
    let cname = h["tables"][ti]["columns"][ci]["name"].as_str()?.to_owned();
    let pick = |rng: &mut Rng, options: Vec<Value>| options[rng.below(options.len())].clone();
    let (label, forged) = match rng.below(10) {
        0 => {
            let k = pick(
                rng,
                vec![
                    json!({"kind": "uuid"}),
                    json!({"kind": "date"}),
                    json!({"kind": "text", "max_len": 1}),
                    json!({"kind": "enum", "labels": ["a", "\u{1b}[2J"]}),
                    json!({"kind": "numeric", "precision": 1, "scale": 9}),
                    json!({"kind": "bogus"}),
                    json!("uuid"),
                    Value::Null,
                ],
            );
            put_or_remove(h["tables"][ti]["columns"][ci].as_object_mut()?, &COLUMN_ORDER, "kind", k.clone());
            (format!("kind {k} of {tname}.{cname}"), Expect::Any)
        }
        1 => {
            let c = pick(
                rng,
                vec![
                    json!([{"In": ["x"]}]),
                    json!([{"In": []}]),
                    json!([{"Range": {"min": 1.0, "max": 0.0}}]),
                    json!([{"MaxLen": 0}, {"MinLen": 4_000_000_000u64}]),
                    json!([{"Bogus": 1}]),
                    json!({"In": ["x"]}),
                    Value::Null,
                ],
            );
            put_or_remove(h["tables"][ti]["columns"][ci].as_object_mut()?, &COLUMN_ORDER, "checks", c.clone());
            (format!("checks {c} of {tname}.{cname}"), Expect::Any)
        }
        2 => {
            let m =
                pick(rng, vec![json!("fake email"), json!("hash"), json!("\u{1b}[2J\u{202e}"), json!(7), Value::Null]);
            put_or_remove(h["tables"][ti]["columns"][ci].as_object_mut()?, &COLUMN_ORDER, "mask", m.clone());
            (format!("mask {m} of {tname}.{cname}"), Expect::Any)
        }
        3 => {
            let u = pick(
                rng,
                vec![
                    json!([[cname.clone()]]),
                    json!([["nope"]]),
                    json!([[]]),
                    json!([[cname.clone(), cname.clone()]]),
                    Value::Null,
                ],
            );
            put_or_remove(h["tables"][ti].as_object_mut()?, &TABLE_ORDER, "unique_keys", u.clone());
            (format!("unique keys {u} of {tname}"), Expect::Any)
        }
        4 => {
            let f = pick(
                rng,
                vec![
                    json!([{"columns": [cname.clone()], "ref_schema": "", "ref_table": "nope", "ref_columns": ["id"]}]),
                    json!([{"columns": ["nope"], "ref_schema": "", "ref_table": tname.clone(), "ref_columns": ["a", "b"]}]),
                    json!([{"columns": [], "ref_schema": "\u{1b}", "ref_table": "../x", "ref_columns": []}]),
                    Value::Null,
                ],
            );
            put_or_remove(h["tables"][ti].as_object_mut()?, &TABLE_ORDER, "foreign_keys", f.clone());
            (format!("foreign keys {f} of {tname}"), Expect::Any)
        }
        5 => {
            let top = h.as_object_mut()?;
            let order = ["mode", "rules_fingerprint", "key_check"];
            let choice = rng.below(4);
            let what = if !top.contains_key("masking") {
                // A masking record on a snapshot that was never masked.
                put(top, &TOP_ORDER, "masking", json!({"mode": "auto", "rules_fingerprint": "0".repeat(32)}));
                "added"
            } else if choice == 0 {
                top.shift_remove("masking");
                "removed"
            } else {
                let o = top.get_mut("masking")?.as_object_mut()?;
                match choice {
                    1 => put(o, &order, "mode", pick(rng, vec![json!("strict"), json!("bogus"), json!(""), json!(1)])),
                    2 => put(
                        o,
                        &order,
                        "rules_fingerprint",
                        pick(rng, vec![json!("zz"), json!("0".repeat(32)), json!("F".repeat(32))]),
                    ),
                    _ => put_or_remove(
                        o,
                        &order,
                        "key_check",
                        pick(rng, vec![json!("0".repeat(16)), json!("x"), Value::Null]),
                    ),
                }
                "edited"
            };
            (format!("masking record {what}"), Expect::Any)
        }
        6 => {
            let top = h.as_object_mut()?;
            let fresh = json!({"start": ["offices:1"], "seed": 42, "children": "all", "unrelated": "empty"});
            let mut sub = top.get("subset").cloned().unwrap_or(fresh);
            let o = sub.as_object_mut()?;
            let order = ["start", "seed", "children", "unrelated", "references"];
            let (field, v) = match rng.below(7) {
                0 => ("start", pick(rng, vec![json!([]), json!(["\u{1b}[2J:1"]), json!(["nope:1"]), json!("x")])),
                1 => ("seed", pick(rng, vec![json!(u64::MAX), json!(-1), json!("7")])),
                2 => ("children", pick(rng, vec![json!("none"), json!({"per_parent": 0}), json!("bogus")])),
                3 => ("unrelated", pick(rng, vec![json!("keep"), json!("bogus")])),
                4 => ("references", json!([{"child": "a.b", "parent": "\u{1b}", "where": "1=1; DROP TABLE x"}])),
                5 => ("start", Value::Null),
                _ => ("", Value::Null),
            };
            if field.is_empty() {
                top.shift_remove("subset");
            } else {
                put_or_remove(o, &order, field, v);
                put(top, &TOP_ORDER, "subset", sub);
            }
            (format!("subset record {field}"), Expect::Any)
        }
        7 | 8 => {
            // A field no format version has, at any level.
            let key = ["x", "zz_extra", "\u{1b}[2J", "name ", ""][rng.below(5)].to_owned();
            let v = pick(rng, vec![json!(1), json!(null), json!("postgres://u:p@h/d"), json!({})]);
            let at = match rng.below(8) {
                0 => h.as_object_mut(),
                1 => h["database"].as_object_mut(),
                2 => h["compression"].as_object_mut(),
                3 => h["tables"][ti].as_object_mut(),
                4 => h["tables"][ti]["columns"][ci].as_object_mut(),
                5 => h["tables"][ti]["columns"][ci]["kind"].as_object_mut(),
                6 if h.get("masking").is_some() => h["masking"].as_object_mut(),
                6 => h["subset"].as_object_mut(),
                _ => h["tables"][ti]["foreign_keys"][0].as_object_mut(),
            }?;
            // Anywhere in the object: first, last or between.
            let i = rng.below(at.len() + 1);
            if at.contains_key(&key) {
                return None;
            }
            at.shift_insert(i, key.clone(), v);
            (format!("unknown field {key:?}"), Expect::Refused)
        }
        _ => {
            // Two fields of one object trade places.
            let at = match rng.below(3) {
                0 => h.as_object_mut(),
                1 => h["tables"][ti].as_object_mut(),
                _ => h["tables"][ti]["columns"][ci].as_object_mut(),
            }?;
            let (from, to) = (rng.below(at.len()), rng.below(at.len()));
            let key = at.keys().nth(from)?.clone();
            let v = at.shift_remove(&key)?;
            at.shift_insert(to, key.clone(), v);
            (format!("field {key:?} moved from {from} to {to}"), Expect::Refused)
        }
    };
    let edited = serde_json::to_string(&h).unwrap();
    (edited != base.json()).then_some((label, edited, forged))
}

fn mutate(rng: &mut Rng, base: &Base) -> Option<Mutant> {
    let b = &base.bytes;
    let mut out = b.clone();
    // Half the byte-level damage lands in the header member.
    let pos = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            rng.below(base.header_end)
        } else {
            base.header_end + rng.below(b.len() - base.header_end)
        }
    };
    let kind = rng.below(15);
    let (what, expect) = match kind {
        0 | 1 => {
            let p = pos(rng);
            let bit = 1u8 << rng.below(8);
            out[p] ^= bit;
            (format!("flip bit {bit:#x} at {p}"), Expect::Any)
        }
        2 => {
            let p = pos(rng);
            let v = rng.byte();
            out[p] = v;
            (format!("set byte {p} to {v:#x}"), Expect::Any)
        }
        3 => {
            let p = rng.below(b.len());
            out.truncate(p);
            (format!("cut at {p}"), Expect::Refused)
        }
        4 => {
            let p = pos(rng);
            let n = 1 + rng.below(16);
            let ins: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
            out.splice(p..p, ins);
            (format!("insert {n} bytes at {p}"), Expect::Refused)
        }
        5 => {
            let p = pos(rng);
            let n = (1 + rng.below(64)).min(b.len() - p);
            out.drain(p..p + n);
            (format!("delete {n} bytes at {p}"), Expect::Refused)
        }
        6 => {
            // Two tables' members trade places; the header is left as it was.
            let (i, j) = (rng.below(base.tables.len()), rng.below(base.tables.len()));
            let ((a0, a1), (b0, b1)) = (base.tables[i.min(j)], base.tables[i.max(j)]);
            if i == j || a1 - a0 == b1 - b0 {
                return None;
            }
            out = [&b[..a0], &b[b0..b1], &b[a1..b0], &b[a0..a1], &b[b1..]].concat();
            // The header still reads (the size is the same); the data does not.
            (format!("swap the members of tables {i} and {j}"), Expect::VerifyRefuses)
        }
        7 => {
            // One table's member appended to another's range (lengths now disagree).
            let (i, j) = (rng.below(base.tables.len()), rng.below(base.tables.len()));
            let (s0, s1) = base.tables[i];
            let (_, d1) = base.tables[j];
            out.splice(d1..d1, b[s0..s1].to_vec());
            (format!("duplicate the member of table {i} after table {j}"), Expect::Refused)
        }
        12 => {
            // The file, intact, under a key its header does not name.
            let (name, version) = base.key();
            let placement = match rng.below(4) {
                0 => Placement::Under(format!("{name}@{}", version + 1 + rng.below(5) as u64)),
                1 if version > 1 => Placement::Under(name.to_owned()),
                1 | 2 => Placement::Under(format!("other{}", ["", "@2", "@9"][rng.below(3)])),
                _ if version > 1 => Placement::SwappedWithBase,
                _ => Placement::Under(format!("{name}@2")),
            };
            let what = format!("stored as {placement:?}");
            return Some(Mutant { what, bytes: out, expect: Expect::Refused, placement });
        }
        8 => {
            // Two bytes damaged at once, anywhere.
            let (p, q) = (rng.below(b.len()), rng.below(b.len()));
            out[p] ^= 1 + rng.byte() % 255;
            out[q] ^= 1 + rng.byte() % 255;
            (format!("damage bytes {p} and {q}"), Expect::Any)
        }
        _ => {
            // 9: an edit left unsigned; 10, 11: forged; 13, 14: the same with the
            // fields subsets and masking added, unknown fields and other orders.
            let forge = matches!(kind, 10 | 11 | 14);
            let (label, edited, forged) = if kind >= 13 {
                recent_field_edit(rng, base)?
            } else {
                let (label, edited, covered) = header_edit(rng, base)?;
                (label, edited, if covered { Expect::VerifyRefuses } else { Expect::Any })
            };
            let signed = if forge { resign(&edited) } else { edited };
            out = with_header(b, &signed)?;
            let expect = if forge { forged } else { Expect::Refused };
            (format!("{} header edit: {label}", if forge { "forged" } else { "unsigned" }), expect)
        }
    };
    (out != *b).then_some(Mutant { what, bytes: out, expect, placement: Placement::Own })
}

/// Runs `cmd` (stdout and stderr to files in `scratch`) with a timeout; the exit code
/// (`None`: killed by a signal) and the output, or `Err` on a hang.
fn run_bounded(mut cmd: Command, scratch: &Path) -> Result<(Option<i32>, String), String> {
    let (out_path, err_path) = (scratch.join("stdout"), scratch.join("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no exit within {RUN_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&std::fs::read(&out_path).unwrap_or_default()),
        String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default())
    );
    Ok((status.code(), text))
}

#[derive(Default)]
struct Tally {
    cases: usize,
    runs: usize,
    sqlite_restores: usize,
    pg_restores: usize,
    panics: usize,
    hangs: usize,
    undocumented: usize,
    wrong_restores: usize,
    partial_restores: usize,
    broken_promises: usize,
    /// (command, exit code) -> count
    exits: BTreeMap<String, usize>,
    failures: Vec<String>,
}

struct Fixture {
    dir: PathBuf,
    sqlite: Base,
    sqlite_source: Contents,
    /// `good@2`, incremental to `good`, and the data it holds.
    inc: Base,
    inc_source: Contents,
    /// `slice`: a subset of `good`'s source, masked (its header has the subset and
    /// masking records, column rules, kinds, checks and keys), and what it restores to.
    slice: Base,
    slice_source: Contents,
    pg: Base,
    pg_source: String,
    pg_empty: TestDb,
}

fn seed_args(dir: &Path) -> Vec<String> {
    vec!["--no-progress".into(), "--snapshot-dir".into(), dir.to_str().unwrap().into()]
}

/// Which snapshot a case damages (and where it is restored).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Sqlite,
    Incremental,
    Sliced,
    Postgres,
}

/// One case: the outcome's problems (empty if all is well).
fn check_case(fx: &Fixture, case: usize, mutant: &Mutant, target: Target, tally: &Mutex<Tally>) -> Vec<String> {
    let pg = target == Target::Postgres;
    let (verify_codes, restore_codes): (&[i32], &[i32]) = if target == Target::Incremental {
        (&INC_VERIFY_CODES, &INC_RESTORE_CODES)
    } else {
        (&SHOW_VERIFY_CODES, &RESTORE_CODES)
    };
    let source = match target {
        Target::Incremental => &fx.inc_source,
        Target::Sliced => &fx.slice_source,
        Target::Sqlite | Target::Postgres => &fx.sqlite_source,
    };
    // Each case in a directory of its own, under the key its placement says (an
    // incremental snapshot with its base beside it).
    let dir = fx.dir.join(format!("m{case:06}"));
    std::fs::create_dir(&dir).unwrap();
    let own = match target {
        Target::Sqlite => "good",
        Target::Incremental => "good@2",
        Target::Sliced => "slice",
        Target::Postgres => "pgood",
    };
    let key = |r: &str| match r.split_once('@') {
        Some((n, v)) => format!("{n}@{v}.seed.gz"),
        None => format!("{r}.seed.gz"),
    };
    let name = match &mutant.placement {
        Placement::Own => own.to_owned(),
        Placement::Under(r) => r.clone(),
        Placement::SwappedWithBase => own.to_owned(),
    };
    if target == Target::Incremental {
        let base_key = if mutant.placement == Placement::SwappedWithBase { key(own) } else { key("good") };
        std::fs::hard_link(fx.dir.join("good.seed.gz"), dir.join(base_key)).unwrap();
    }
    let stored_as = if mutant.placement == Placement::SwappedWithBase { key("good") } else { key(&name) };
    // Never written through the base's hard link (it is shared by every case).
    let _ = std::fs::remove_file(dir.join(&stored_as));
    std::fs::write(dir.join(stored_as), &mutant.bytes).unwrap();
    let scratch = Workdir::new();
    let mut problems = Vec::new();
    let mut codes = BTreeMap::new();
    for verb in ["show", "verify"] {
        let mut cmd = scratch.seed_std();
        cmd.args(seed_args(&dir)).args(["snapshot", verb, &name]);
        let allowed = if verb == "show" { &SHOW_VERIFY_CODES[..] } else { verify_codes };
        record(&mut problems, &mut codes, verb, run_bounded(cmd, scratch.path()), allowed, tally);
    }
    // Restore into a fresh target: the embedded SQLite default (demo schema applied in
    // the restore's own transaction), or a clone of an empty demo schema.
    let target_dir = Workdir::new();
    let pg_target = pg.then(|| clone_db(&fx.pg_empty.name, "fz"));
    let mut cmd = target_dir.seed_std();
    cmd.args(seed_args(&dir));
    if let Some(db) = &pg_target {
        cmd.args(["--database-url", &db.url()]);
    }
    cmd.args(["snapshot", "restore", &name]);
    record(&mut problems, &mut codes, "restore", run_bounded(cmd, scratch.path()), restore_codes, tally);
    let restored = codes.get("restore").copied().flatten();
    match &pg_target {
        None => {
            let after = sqlite_contents(&target_dir.path().join("seed.db"));
            judge_restore(&mut problems, restored, after == *source, after.iter().all(|(_, r)| r.is_empty()), tally);
        }
        Some(db) => {
            let after = db.dump_data();
            let empty = after.lines().filter(|l| l.starts_with("== ")).all(|l| l.ends_with("(0 rows)"));
            judge_restore(&mut problems, restored, after == fx.pg_source, empty, tally);
        }
    }
    let (show, verify) = (codes.get("show").copied().flatten(), codes.get("verify").copied().flatten());
    if verify == Some(0) && show != Some(0) {
        problems.push(format!("verify passed but show exited {show:?}"));
    }
    if restored == Some(0) && verify != Some(0) {
        problems.push(format!("restore succeeded but verify exited {verify:?}"));
    }
    let broken = match mutant.expect {
        Expect::Any => false,
        Expect::Refused => [show, verify, restored].iter().any(|c| *c != Some(7)),
        Expect::VerifyRefuses => verify != Some(7),
    };
    if broken {
        tally.lock().unwrap().broken_promises += 1;
        problems.push(format!("expected {:?}; show {show:?}, verify {verify:?}, restore {restored:?}", mutant.expect));
    }
    let _ = std::fs::remove_dir_all(&dir);
    problems
}

fn record(
    problems: &mut Vec<String>,
    codes: &mut BTreeMap<&'static str, Option<i32>>,
    verb: &'static str,
    result: Result<(Option<i32>, String), String>,
    allowed: &[i32],
    tally: &Mutex<Tally>,
) {
    let mut t = tally.lock().unwrap();
    t.runs += 1;
    match result {
        Err(hang) => {
            t.hangs += 1;
            problems.push(format!("{verb}: {hang}"));
            codes.insert(verb, None);
        }
        Ok((code, text)) => {
            *t.exits
                .entry(format!("{verb} {}", code.map_or_else(|| "signal".into(), |c| c.to_string())))
                .or_default() += 1;
            if code == Some(101) || text.contains("panicked") {
                t.panics += 1;
                problems.push(format!("{verb} panicked: {}", text.lines().take(3).collect::<Vec<_>>().join(" | ")));
            } else if !code.is_some_and(|c| allowed.contains(&c)) {
                t.undocumented += 1;
                problems
                    .push(format!("{verb} exited {code:?}: {}", text.lines().take(3).collect::<Vec<_>>().join(" | ")));
            }
            codes.insert(verb, code);
        }
    }
}

fn judge_restore(problems: &mut Vec<String>, code: Option<i32>, equal: bool, empty: bool, tally: &Mutex<Tally>) {
    let mut t = tally.lock().unwrap();
    if code == Some(0) && !equal {
        t.wrong_restores += 1;
        problems.push("restore succeeded with data that differs from the source".into());
    }
    if code != Some(0) && !empty {
        t.partial_restores += 1;
        problems.push(format!("restore failed ({code:?}) but left rows behind"));
    }
}

#[test]
fn fuzz_snapshot_reader_through_show_verify_and_restore() {
    let seed = fuzz_seed();
    let cases: usize = env_or("SEED_FUZZ_CASES", 250);
    let secs: u64 = env_or("SEED_FUZZ_SECS", 50);
    let workers: usize = env_or("SEED_FUZZ_THREADS", 2);

    // The sources: 20 rows per demo table in SQLite, 10 in PostgreSQL.
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    run(w.seed().args(["--no-progress", "bulk", "--count", "20"]), 0);
    run(w.seed().args(["--no-progress", "snapshot", "create", "good"]), 0);
    let sqlite_source = sqlite_contents(&w.path().join("seed.db"));
    let slice = ["snapshot", "create", "slice", "--subset", "offices:50%", "--mask", "auto"];
    run(w.seed().env("SEED_MASK_KEY", "fuzz-masking-key-0123456789abcdef").arg("--no-progress").args(slice), 0);
    let slice_target = Workdir::new();
    run(slice_target.seed().args(seed_args(&dir)).args(["snapshot", "restore", "slice"]), 0);
    let slice_source = sqlite_contents(&slice_target.path().join("seed.db"));
    assert!(slice_source != sqlite_source && slice_source.iter().any(|(_, r)| !r.is_empty()), "a masked slice");
    // good@2: rows changed, added and removed in two tables, the others unchanged.
    run(w.seed().args(["--no-progress", "bulk", "--count", "3", "--table", "staffs=3"]), 0);
    crate::versions::sqlite_exec(
        &w.path().join("seed.db"),
        "UPDATE offices SET city = 'Fuzzton' WHERE rowid % 4 = 0; DELETE FROM welfare_recipients WHERE rowid % 5 = 0",
    );
    run(w.seed().args(["--no-progress", "snapshot", "create", "good", "--new-version"]), 0);
    let inc_source = sqlite_contents(&w.path().join("seed.db"));
    let pg_src = TestDb::with_demo_schema("fz_src");
    run(w.seed().args(["--no-progress", "--database-url", &pg_src.url(), "bulk", "--count", "10"]), 0);
    run(w.seed().args(["--no-progress", "--database-url", &pg_src.url(), "snapshot", "create", "pgood"]), 0);
    let pg_empty = TestDb::with_demo_schema("fz_empty");
    let fx = Fixture {
        sqlite: Base::load(&dir, "good"),
        sqlite_source,
        inc: Base::load(&dir, "good@2"),
        inc_source,
        slice: Base::load(&dir, "slice"),
        slice_source,
        pg: Base::load(&dir, "pgood"),
        pg_source: pg_src.dump_data(),
        pg_empty,
        dir,
    };
    // The unmutated files pass everything (else every case below is meaningless).
    for (n, (base, target)) in [
        (&fx.sqlite, Target::Sqlite),
        (&fx.pg, Target::Postgres),
        (&fx.inc, Target::Incremental),
        (&fx.slice, Target::Sliced),
    ]
    .into_iter()
    .enumerate()
    {
        let m =
            Mutant { what: "none".into(), bytes: base.bytes.clone(), expect: Expect::Any, placement: Placement::Own };
        let tally = Mutex::new(Tally::default());
        let problems = check_case(&fx, 999_999 - n, &m, target, &tally);
        let t = tally.into_inner().unwrap();
        assert!(
            problems.is_empty() && t.exits.keys().all(|k| k.ends_with(" 0")),
            "{} intact: {problems:?} {:?}",
            base.name,
            t.exits
        );
    }

    let deadline = Instant::now() + Duration::from_secs(secs);
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..workers.max(1) {
            s.spawn(|| {
                loop {
                    let case = next.fetch_add(1, Ordering::SeqCst);
                    if case >= cases || Instant::now() > deadline {
                        return;
                    }
                    let mut rng = Rng(seed ^ (case as u64).wrapping_mul(0xd134_2543_de82_ef95));
                    let pg = case % PG_EVERY == PG_EVERY - 1;
                    let (base, target) = if pg {
                        (&fx.pg, Target::Postgres)
                    } else if case % INC_EVERY == INC_EVERY - 2 {
                        (&fx.inc, Target::Incremental)
                    } else if case % SLICE_EVERY == 1 {
                        (&fx.slice, Target::Sliced)
                    } else {
                        (&fx.sqlite, Target::Sqlite)
                    };
                    // Some mutations do not apply to a given file: draw again.
                    let Some(mutant) = (0..20).find_map(|_| mutate(&mut rng, base)) else { continue };
                    let problems = check_case(&fx, case, &mutant, target, &tally);
                    let mut t = tally.lock().unwrap();
                    t.cases += 1;
                    if pg {
                        t.pg_restores += 1;
                    } else {
                        t.sqlite_restores += 1;
                    }
                    if !problems.is_empty() && t.failures.len() < 30 {
                        t.failures.push(format!(
                            "SEED_FUZZ_SEED={seed:#x} case {case} ({}, {}): {}",
                            base.name,
                            mutant.what,
                            problems.join("; ")
                        ));
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    eprintln!(
        "fuzz summary: seed={seed:#x} cases={} runs={} restores: sqlite={} postgres={} panics={} hangs={} undocumented_exits={} wrong_restores={} partial_restores={} broken_promises={}",
        t.cases,
        t.runs,
        t.sqlite_restores,
        t.pg_restores,
        t.panics,
        t.hangs,
        t.undocumented,
        t.wrong_restores,
        t.partial_restores,
        t.broken_promises
    );
    eprintln!("fuzz exits: {:?}", t.exits);
    assert!(t.failures.is_empty(), "fuzz failures:\n{}", t.failures.join("\n"));
    assert!(t.cases >= cases.min(20), "only {} cases ran in {secs}s", t.cases);
}

// ---------------------------------------------------------------------------------
// Issue 21: configuration values (.env, seed.toml, the environment) and odd object
// keys in a bucket
// ---------------------------------------------------------------------------------

/// The two halves of every password the configuration cases hide; neither may show.
const HALVES: [&str; 2] = ["Zq7", "Pw9x"];

/// A password with something between its halves that breaks naive parsing.
fn password(rng: &mut Rng) -> String {
    let seps = [
        "", "@", "#", "/", "?", ":", " ", "%", "%40", "&", "=", "\\", "'", "\"", "é", "$", "\u{1b}", "\u{7f}",
        "\u{202e}", "+", "\t",
    ];
    format!("Zq7{}Pw9x", seps[rng.below(seps.len())])
}

/// A URL-like value holding `pw` where a password may stand, in a random shape.
fn url_value(rng: &mut Rng, pw: &str) -> String {
    let schemes = ["postgres", "postgresql", "mysql", "mariadb", "sqlite", "POSTGRES", "pg", "http", "s3", ""];
    let s = schemes[rng.below(schemes.len())];
    let host = ["127.0.0.1:1", "[::1]:1", "h", "", "127.0.0.1:99999", "[::1"][rng.below(6)];
    match rng.below(10) {
        0 => format!("{s}://app:{pw}@{host}/d"),
        1 => format!("{s}:app:{pw}@{host}/d"),
        2 => format!("{s}:{pw}@{host}/d"),
        3 => format!("{s}:/app:{pw}@{host}/d"),
        4 => format!("{s}://{host}/d?sslmode=disable&password={pw}&x=1"),
        5 => format!("{s}://app:{pw}@{host}/d#frag?password={pw}"),
        6 => format!("{pw}@{host}/d"),
        7 => format!("{s}://app:{pw}@{host}@{host}/d"),
        8 => pw.to_owned(),
        _ => format!("  {s}://app:{pw}@{host}/d  "),
    }
}

/// A `.env` line: a secret where secrets go, or noise of every other kind.
fn env_line(rng: &mut Rng) -> String {
    let pw = password(rng);
    let quote = |v: &str, rng: &mut Rng| match rng.below(4) {
        0 => format!("'{v}'"),
        1 => format!("\"{}\"", v.replace('"', "\\\"")),
        2 => format!("\"{v}"), // unbalanced
        _ => v.to_owned(),
    };
    match rng.below(14) {
        0..=2 => format!("DATABASE_URL={}", quote(&url_value(rng, &pw), rng)),
        3 => format!("DIRECT_URL={}", quote(&url_value(rng, &pw), rng)),
        4 => format!("PGPASSWORD={}", quote(&pw, rng)),
        5 => format!("AWS_SECRET_ACCESS_KEY={}", quote(&pw, rng)),
        6 => format!("export APP_TOKEN={}", quote(&pw, rng)),
        7 => format!("SEED_SNAPSHOT_DIR={}", quote(&format!("s3://u:{pw}@bucket-x/p"), rng)),
        8 => {
            ["# a comment", "", "   ", "=", "KEY", "A B=1", "\u{feff}X=1", "X=$Y${Z}", "Y=\\"][rng.below(9)].to_owned()
        }
        9 => format!("SEED_RETRY_MAX_ATTEMPTS={}", ["1", "0", "x", "-1", "99999999999"][rng.below(5)]),
        10 => format!("SEED_LOG_FORMAT={}", ["json", "text", "xml", ""][rng.below(4)]),
        11 => format!("K{}=v", rng.below(1000)),
        12 => format!("DATABASE_URL={}\0", url_value(rng, &pw)),
        _ => format!("SEED_STATEMENT_TIMEOUT={}", ["1s", "30d", "0", "500us", "soon"][rng.below(5)]),
    }
}

/// A `seed.toml` line: a URL with a secret where URLs go, or noise.
fn toml_line(rng: &mut Rng) -> String {
    let pw = password(rng);
    match rng.below(12) {
        0..=2 => format!("database-url = {}", toml_string(&url_value(rng, &pw))),
        3 => format!("direct_url = {}", toml_string(&url_value(rng, &pw))),
        4 => format!("snapshot-dir = {}", toml_string(&format!("s3://u:{pw}@bucket-x/p"))),
        5 => format!("database-url = \"{}", url_value(rng, &pw).replace(['"', '\\', '\n'], "")), // unterminated
        6 => ["[bulk]", "[snapshot]", "[bulk.tables]", "[nope]", "x = [", "= 1", "count = 1", "\"k\" = 1"]
            [rng.below(8)]
        .to_owned(),
        7 => format!("retry-max-attempts = {}", ["1", "\"x\"", "-1", "1e9", "[1]"][rng.below(5)]),
        8 => format!("statement-timeout = {}", ["\"30d\"", "1", "\"1ms\"", "true"][rng.below(4)]),
        9 => format!("{} = 1", toml_string(&format!("postgres://u:{pw}@h/d"))),
        10 => format!("connect-timeout = {}", toml_string(&pw)),
        _ => format!("log-format = {}", toml_string(["json", "text", "\u{1b}[2J"][rng.below(3)])),
    }
}

/// r21.2-4 fuzzed: `.env` files, `seed.toml` files and environment values made of
/// random lines (secrets in URL passwords, password variables and query values;
/// NUL, ESC, quotes, odd schemes, broken syntax...) under `doctor`, `bulk --dry-run`,
/// `snapshot list` and `snapshot create`, text and JSON: no panic, no hang, a
/// documented exit code, no half of a password and no raw control character in any
/// output. Deterministic (SEED_FUZZ_SEED); SEED_FUZZ_CONFIG_CASES (default 150).
#[test]
fn fuzz_configuration_values_never_panic_or_show_a_secret() {
    let seed = fuzz_seed();
    let cases: usize = env_or("SEED_FUZZ_CONFIG_CASES", 150);
    let secs: u64 = env_or("SEED_FUZZ_SECS", 50);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let commands: [&[&str]; 4] =
        [&["doctor"], &["bulk", "--count", "1", "--dry-run"], &["snapshot", "list"], &["snapshot", "create", "x"]];
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in 0..cases {
        if Instant::now() > deadline {
            break;
        }
        let mut rng = Rng(seed ^ 0xc0f1_6000 ^ (case as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let w = Workdir::new();
        let mut cmd = w.seed_std();
        cmd.env("SEED_RETRY_MAX_ATTEMPTS", "1")
            .env("SEED_CONNECT_TIMEOUT", "2s")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        let mut what = Vec::new();
        if rng.below(3) > 0 {
            let lines: Vec<String> = (0..1 + rng.below(6)).map(|_| env_line(&mut rng)).collect();
            std::fs::write(w.path().join(".env"), lines.join(if rng.below(5) == 0 { "\r\n" } else { "\n" })).unwrap();
            what.push(format!(".env {lines:?}"));
        }
        if rng.below(2) == 0 {
            let lines: Vec<String> = (0..1 + rng.below(5)).map(|_| toml_line(&mut rng)).collect();
            std::fs::write(w.path().join("seed.toml"), lines.join("\n")).unwrap();
            what.push(format!("seed.toml {lines:?}"));
        }
        if rng.below(3) == 0 {
            let pw = password(&mut rng).replace('\0', "");
            let value = url_value(&mut rng, &pw);
            let var = ["DATABASE_URL", "DIRECT_URL", "SEED_SNAPSHOT_DIR"][rng.below(3)];
            let value = if var == "SEED_SNAPSHOT_DIR" { format!("s3://u:{pw}@bucket-x/p") } else { value };
            cmd.env(var, &value);
            what.push(format!("{var}={value:?}"));
        }
        match rng.below(3) {
            0 => {
                cmd.args(["--log-format", "json"]);
            }
            1 => {
                cmd.arg("--json");
            }
            _ => {}
        }
        let args = commands[rng.below(commands.len())];
        cmd.arg("--no-progress").args(args);
        ran += 1;
        let mut problems = Vec::new();
        match run_bounded(cmd, w.path()) {
            Err(hang) => problems.push(hang),
            Ok((code, text)) => {
                if code == Some(101) || text.contains("panicked") || text.contains("a bug in seed") {
                    problems.push(format!("panic: {}", text.lines().take(3).collect::<Vec<_>>().join(" | ")));
                } else if !code.is_some_and(|c| [0, 2, 3, 5, 6, 7, 9, 11].contains(&c)) {
                    problems.push(format!("exit {code:?}"));
                }
                for half in HALVES {
                    if text.contains(half) {
                        problems.push(format!("shows {half:?}"));
                    }
                }
                if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    problems.push("a raw control character".into());
                }
                if !problems.is_empty() {
                    problems.push(format!("output: {text:?}"));
                }
            }
        }
        if !problems.is_empty() && failures.len() < 20 {
            failures.push(format!(
                "SEED_FUZZ_SEED={seed:#x} case {case} {args:?} {}: {}",
                what.join("; "),
                problems.join("; ")
            ));
        }
    }
    eprintln!("configuration fuzz: seed={seed:#x} cases={ran} failures={}", failures.len());
    assert!(failures.is_empty(), "configuration fuzz failures:\n{}", failures.join("\n"));
    assert!(ran >= cases.min(20), "only {ran} cases ran in {secs}s");
}

/// r21.6 fuzzed: objects with random keys (control characters, `.` and `..`
/// segments, slashes, spaces, `+`, `%`, non-ASCII, look-alikes of snapshot keys)
/// and random bodies (nothing, junk, a real snapshot under a key its header does not
/// name) beside a good snapshot in a bucket: `list` (text and JSON) always exits 0
/// and lists every key directly under the prefix; the good snapshot still shows,
/// verifies and pulls by its bare name. SEED_FUZZ_KEY_CASES (default 12) buckets of
/// a few keys each.
#[test]
fn fuzz_odd_object_keys_never_stop_a_bucket() {
    use crate::common::s3::{BUCKET, Store};
    let seed = fuzz_seed();
    let cases: usize = env_or("SEED_FUZZ_KEY_CASES", 12);
    let w = Workdir::new();
    run(w.seed().args(["--no-progress", "bulk", "--count", "5"]), 0);
    run(w.seed().args(["--no-progress", "snapshot", "create", "good"]), 0);
    let good = std::fs::read(w.path().join("snapshots/good.seed.gz")).unwrap();
    let mut failures = Vec::new();
    for case in 0..cases {
        let mut rng = Rng(seed ^ 0x0dd_4e75 ^ (case as u64).wrapping_mul(0xd134_2543_de82_ef95));
        let store = Store::new(&format!("fuzzkeys{case}"));
        store.put("good.seed.gz", good.clone());
        let pieces = [
            "\u{1b}[2J",
            "\u{1}",
            "\u{7f}",
            "\0",
            ".",
            "..",
            "./",
            "../",
            "/",
            "//",
            " ",
            "+",
            "%",
            "%2F",
            "é",
            "日本",
            "\u{202e}",
            "@2",
            "@0",
            ".seed.gz",
            "good",
            "\t",
            "\r\n",
        ];
        let mut keys = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let key: String = (0..1 + rng.below(4)).map(|_| pieces[rng.below(pieces.len())]).collect();
            let key = if key.starts_with('/') || key.is_empty() { format!("k{key}") } else { key };
            let body = match rng.below(3) {
                0 => Vec::new(),
                1 => (0..rng.below(200)).map(|_| rng.byte()).collect(),
                _ => good.clone(),
            };
            let encoded: String = key
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b == b'/' { char::from(b).to_string() } else { format!("%{b:02X}") }
                })
                .collect();
            let (status, _) =
                store.server.request("PUT", &format!("/{BUCKET}/{}/{encoded}", store.prefix), &[], &body).unwrap();
            if status == 200 {
                keys.push(key);
            }
        }
        let mut problems = Vec::new();
        for json in [false, true] {
            let mut cmd = w.seed();
            store.apply(cmd.arg("--no-progress"));
            if json {
                cmd.arg("--json");
            }
            let out = cmd.args(["snapshot", "list"]).output().unwrap();
            let text = crate::common::all_output(&out);
            if out.status.code() != Some(0) || text.contains("panicked") {
                problems.push(format!("list (json: {json}) exited {:?}: {text}", out.status.code()));
            } else if text.chars().any(|c| c.is_control() && c != '\n') {
                problems.push(format!("list (json: {json}): a raw control character: {text:?}"));
            } else if json {
                let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                let names: Vec<String> = doc["snapshots"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|i| i["name"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
                // Every key directly under the prefix, not hidden, is listed (a key
                // with a '/' sits in a "folder": listed only when the folder is odd).
                for k in
                    keys.iter().filter(|k| !k.contains('/') && (!k.starts_with('.') || k.chars().any(char::is_control)))
                {
                    if !names.contains(k) {
                        problems.push(format!("{k:?} is not listed in {names:?}"));
                    }
                }
            }
        }
        for args in [&["snapshot", "show", "good"][..], &["snapshot", "verify", "good"]] {
            let mut cmd = w.seed();
            store.apply(cmd.arg("--no-progress")).args(args);
            let out = cmd.output().unwrap();
            if out.status.code() != Some(0) {
                problems.push(format!("{args:?} exited {:?}: {}", out.status.code(), crate::common::all_output(&out)));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("SEED_FUZZ_SEED={seed:#x} case {case} keys {keys:?}: {}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "odd key fuzz failures:\n{}", failures.join("\n"));
}
