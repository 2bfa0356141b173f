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

use serde_json::Value;

use crate::common::run;
use crate::common::{TestDb, Workdir};
use crate::header::{Contents, header_line, resign, sqlite_contents, with_header};
use crate::snapshot::clone_db;

const DEFAULT_SEED: u64 = 0x5eed_f022_2026_0008;
/// Exit codes each command may end with on a damaged file (README "Exit codes"):
/// 0 ok, 7 corrupt; restore also 5 (pre-flight: e.g. an edited database kind).
const SHOW_VERIFY_CODES: [i32; 2] = [0, 7];
const RESTORE_CODES: [i32; 3] = [0, 5, 7];
/// An incremental snapshot may also name a base that is not there (exit 6).
const INC_VERIFY_CODES: [i32; 3] = [0, 6, 7];
const INC_RESTORE_CODES: [i32; 4] = [0, 5, 6, 7];
/// Every this many cases (not a PostgreSQL one) damage the incremental snapshot.
const INC_EVERY: usize = 5;
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
        Self { name, bytes, header, header_end, tables }
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

/// The canonical JSON of a column entry, as the header holds it.
fn column_json(c: &Value) -> String {
    format!(
        "{{\"name\":{},\"type_name\":{},\"nullable\":{}}}",
        quote(c["name"].as_str().unwrap()),
        quote(c["type_name"].as_str().unwrap()),
        c["nullable"]
    )
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
    let kind = rng.below(13);
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
            let forge = kind >= 10;
            let (label, edited, covered) = header_edit(rng, base)?;
            let signed = if forge { resign(&edited) } else { edited };
            out = with_header(b, &signed)?;
            let expect = match (forge, covered) {
                (false, _) => Expect::Refused,
                (true, true) => Expect::VerifyRefuses,
                (true, false) => Expect::Any,
            };
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
    let source = if target == Target::Incremental { &fx.inc_source } else { &fx.sqlite_source };
    // Each case in a directory of its own, under the key its placement says (an
    // incremental snapshot with its base beside it).
    let dir = fx.dir.join(format!("m{case:06}"));
    std::fs::create_dir(&dir).unwrap();
    let own = match target {
        Target::Sqlite => "good",
        Target::Incremental => "good@2",
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
        pg: Base::load(&dir, "pgood"),
        pg_source: pg_src.dump_data(),
        pg_empty,
        dir,
    };
    // The unmutated files pass everything (else every case below is meaningless).
    for (n, (base, target)) in
        [(&fx.sqlite, Target::Sqlite), (&fx.pg, Target::Postgres), (&fx.inc, Target::Incremental)]
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
