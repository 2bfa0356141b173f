//! Hostile snapshot headers (issue 8 items 1, 2, 3 and 13): strings that panic a byte
//! slice, edits that swap data, headers that expand to gigabytes, and snapshot
//! directories that are not directories. Also the helpers `fuzz.rs` edits files with:
//! they re-implement the documented layout (stored header member, header checksum)
//! instead of calling seed's own code, so a bug there cannot hide itself.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::run;
use crate::common::{Workdir, all_output};
use crate::snapshot::stdout;

// ---------------------------------------------------------------------------------
// Editing snapshot files by hand
// ---------------------------------------------------------------------------------

/// The header line of a snapshot (JSON and padding, without the newline) and the
/// length of the stored gzip member holding it.
pub fn header_line(bytes: &[u8]) -> (Vec<u8>, usize) {
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0], "a stored header member");
    let mut pos = 10;
    let mut line = Vec::new();
    loop {
        let last = bytes[pos] & 1 == 1;
        let len = usize::from(u16::from_le_bytes([bytes[pos + 1], bytes[pos + 2]]));
        line.extend_from_slice(&bytes[pos + 5..pos + 5 + len]);
        pos += 5 + len;
        if last {
            break;
        }
    }
    assert_eq!(line.pop(), Some(b'\n'));
    (line, pos + 8)
}

/// The header JSON of the snapshot at `path` (padding removed).
pub fn header_json(path: &Path) -> String {
    header_json_of(&std::fs::read(path).unwrap())
}

/// The header JSON of a snapshot file's bytes (padding removed).
pub fn header_json_of(bytes: &[u8]) -> String {
    let (line, _) = header_line(bytes);
    String::from_utf8(line).unwrap().trim_end_matches(' ').to_owned()
}

/// A gzip member holding `data` in deflate stored blocks, as seed writes headers.
pub fn stored_member(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[][..]] } else { data.chunks(65535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        let len = u16::try_from(block.len()).unwrap();
        out.push(u8::from(i + 1 == blocks.len()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out
}

/// What a "naive forger" does after editing a format-2 header: recomputes
/// `header_checksum` as docs/format.md describes it (xxh3-128 of the header's JSON with
/// the checksum's value emptied). A header without one (format 1) is returned as is.
pub fn resign(json: &str) -> String {
    const KEY: &str = "\"header_checksum\":\"";
    // The last one (the key could appear in a string value before it).
    let Some(at) = json.rfind(KEY) else { return json.to_owned() };
    let start = at + KEY.len();
    let Some(len) = json[start..].find('"') else { return json.to_owned() };
    let end = start + len;
    let blank = format!("{}{}", &json[..start], &json[end..]);
    let sum = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(blank.as_bytes()));
    format!("{}{sum}{}", &json[..start], &json[end..])
}

/// `bytes` with its header replaced by `json`, padded to the same reserved length (so
/// every offset stays right); `None` if `json` does not fit.
pub fn with_header(bytes: &[u8], json: &str) -> Option<Vec<u8>> {
    let (line, member_len) = header_line(bytes);
    if json.len() > line.len() {
        return None;
    }
    let mut new_line = json.as_bytes().to_vec();
    new_line.resize(line.len(), b' ');
    new_line.push(b'\n');
    let mut out = stored_member(&new_line);
    assert_eq!(out.len(), member_len);
    out.extend_from_slice(&bytes[member_len..]);
    Some(out)
}

/// Rewrites the header of the snapshot at `path` with `edit` (gzip CRC fixed), and
/// with its header checksum recomputed when `forge`.
pub fn edit_header(path: &Path, forge: bool, edit: impl FnOnce(&str) -> String) {
    let json = header_json(path);
    let mut edited = edit(&json);
    assert_ne!(edited, json, "the edit changed nothing");
    if forge {
        edited = resign(&edited);
    }
    let bytes = with_header(&std::fs::read(path).unwrap(), &edited).expect("the edited header fits");
    std::fs::write(path, bytes).unwrap();
}

/// `json` with the first occurrence of `from` replaced by `to`; panics if absent.
pub fn replace_once(json: &str, from: &str, to: &str) -> String {
    assert!(json.contains(from), "{from} not in the header: {json}");
    json.replacen(from, to, 1)
}

/// Swaps two strings (each occurring once) in `json`.
pub fn swap(json: &str, a: &str, b: &str) -> String {
    assert_eq!(json.matches(a).count(), 1, "{a}");
    assert_eq!(json.matches(b).count(), 1, "{b}");
    json.replace(a, "\u{0}SWAP\u{0}").replace(b, a).replace("\u{0}SWAP\u{0}", b)
}

// ---------------------------------------------------------------------------------
// SQLite access (the bundled SQLite the binary uses)
// ---------------------------------------------------------------------------------

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// Rows by table: each row its values as `quote(v)` joined by `|`, sorted.
pub type Contents = Vec<(String, Vec<String>)>;

/// Every row of every table of a SQLite file, tables sorted; empty if the file does
/// not exist.
pub fn sqlite_contents(db: &Path) -> Contents {
    use sqlx::ConnectOptions;
    if !db.exists() {
        return Vec::new();
    }
    block_on(async {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(db).read_only(true).connect().await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let mut out = Vec::new();
        for t in tables {
            let quoted = format!("\"{}\"", t.replace('"', "\"\""));
            let cols: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT name FROM pragma_table_info({})",
                quote_lit(&t)
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            let expr: Vec<String> = cols.iter().map(|c| format!("quote(\"{}\")", c.replace('"', "\"\""))).collect();
            let mut rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {} FROM {quoted}", expr.join(" || '|' || "))))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            rows.sort();
            out.push((t, rows));
        }
        out
    })
}

fn quote_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A workdir with 20 rows per demo table in seed.db and a snapshot `good` of them.
pub fn sqlite_with_snapshot() -> (Workdir, PathBuf) {
    let w = Workdir::new();
    run(w.seed().args(["--no-progress", "bulk", "--count", "20"]), 0);
    run(w.seed().args(["--no-progress", "snapshot", "create", "good"]), 0);
    let path = w.path().join("snapshots/good.seed.gz");
    (w, path)
}

/// Restores snapshot `name` from `dir` into a fresh embedded default (seed.db in a new
/// workdir, which gets the demo schema in the restore's transaction); the exit code,
/// output and the restored rows.
pub fn restore_into_fresh_sqlite(dir: &Path, name: &str) -> (Option<i32>, String, Contents) {
    let target = Workdir::new();
    let out = target
        .seed()
        .args(["--no-progress", "--snapshot-dir", dir.to_str().unwrap(), "snapshot", "restore", name])
        .output()
        .unwrap();
    (out.status.code(), all_output(&out), sqlite_contents(&target.path().join("seed.db")))
}

// ---------------------------------------------------------------------------------
// Peak memory of a child
// ---------------------------------------------------------------------------------

const RSS_CHILD: &str = "SEED_TEST_RSS_ARGS";

/// Runs `seed ARGS` in `w` (stdout to `out_file`) and returns its exit code, its peak
/// RSS in MB and its stderr. Measured from a fresh, small helper process (this test
/// binary, run for `rss_child` alone): a child's peak RSS includes the process it was
/// forked from, and this test process holds large files and other tests' memory.
pub fn run_measuring_rss(w: &Workdir, args: &[&str], out_file: &Path) -> (Option<i32>, f64, String) {
    let err_file = out_file.with_extension("stderr");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "header::rss_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env(RSS_CHILD, serde_json::to_string(&args).unwrap())
        .env("SEED_TEST_RSS_CWD", w.path())
        .env("SEED_TEST_RSS_OUT", out_file)
        .env("SEED_TEST_RSS_ERR", &err_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.split("RSS-CHILD ").nth(1).unwrap_or_else(|| panic!("helper failed: {}", all_output(&out)));
    let mut fields = line.split_whitespace();
    let code: i32 = fields.next().unwrap().parse().unwrap();
    let kb: f64 = fields.next().unwrap().parse().unwrap();
    let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
    ((code >= 0).then_some(code), kb / 1024.0, stderr)
}

/// The helper of `run_measuring_rss`: runs seed and prints its exit code and the
/// peak RSS of its children (only that one) in KiB.
#[test]
#[ignore = "run by run_measuring_rss"]
fn rss_child() {
    let Ok(args) = std::env::var(RSS_CHILD) else { return };
    let args: Vec<String> = serde_json::from_str(&args).unwrap();
    let var = |k: &str| PathBuf::from(std::env::var_os(k).unwrap());
    let w_dir = var("SEED_TEST_RSS_CWD");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
    cmd.current_dir(&w_dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SEED_") || k == "DATABASE_URL" || k == "DIRECT_URL" {
            cmd.env_remove(k);
        }
    }
    let status = cmd
        .args(&args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(var("SEED_TEST_RSS_OUT")).unwrap())
        .stderr(std::fs::File::create(var("SEED_TEST_RSS_ERR")).unwrap())
        .status()
        .unwrap();
    // SAFETY: an all-zero rusage is a valid value for getrusage to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; RUSAGE_CHILDREN covers the one child waited for above.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    println!("RSS-CHILD {} {}", status.code().unwrap_or(-1), usage.ru_maxrss);
}

// ---------------------------------------------------------------------------------
// Item 1: strings from a file are never sliced by bytes
// ---------------------------------------------------------------------------------

#[test]
fn r8_1_multibyte_schema_fingerprint_is_refused_without_a_panic() {
    let (w, path) = sqlite_with_snapshot();
    let dir = w.path().join("snapshots");
    let good = std::fs::read(&path).unwrap();
    // Byte 12 falls inside a 3-byte character: `&s[..12]` panics.
    let odd = format!("x{}", "\u{20ac}".repeat(10));
    for forge in [false, true] {
        std::fs::write(&path, &good).unwrap();
        edit_header(&path, forge, |json| {
            let at = json.find("\"schema_fingerprint\":\"").unwrap() + "\"schema_fingerprint\":\"".len();
            format!("{}{odd}{}", &json[..at], &json[at + 32..])
        });
        // Unsigned, the checksum catches the edit first; re-signed, the field's format.
        let reason = if forge { "schema_fingerprint 'x€€€" } else { "header checksum mismatch" };
        for verb in ["show", "verify", "restore"] {
            let out = run(w.seed().args(["--no-progress", "snapshot", verb, "good"]), 7);
            let text = all_output(&out);
            assert!(text.contains(reason), "{verb} (forged: {forge}):\n{text}");
        }
        let out = run(w.seed().args(["snapshot", "list"]), 0);
        assert!(stdout(&out).contains("CORRUPT"), "{}", stdout(&out));
        let (code, text, rows) = restore_into_fresh_sqlite(&dir, "good");
        assert_eq!(code, Some(7), "{text}");
        assert!(rows.iter().all(|(_, r)| r.is_empty()), "a refused restore wrote rows");
    }
}

#[test]
fn r8_1_control_and_bidi_characters_in_header_strings_are_escaped_on_the_terminal() {
    let (w, path) = sqlite_with_snapshot();
    // A description is free text: it is shown, escaped. ESC, a C1 CSI, DEL and a
    // right-to-left override would each change what the terminal displays.
    // (JSON-escaped as serde_json writes it: ESC escaped, C1, DEL and U+202E raw.)
    let evil = "red\\u001b[31m text\u{9b}2J\u{7f} \u{202e}desrever";
    edit_header(&path, true, |json| replace_once(json, "\"description\":null", &format!("\"description\":\"{evil}\"")));
    let out = run(w.seed().args(["snapshot", "show", "good"]), 0);
    let text = stdout(&out);
    let line = text.lines().find(|l| l.starts_with("description")).unwrap_or_else(|| panic!("{text}"));
    for raw in ['\u{1b}', '\u{9b}', '\u{7f}', '\u{202e}'] {
        assert!(!text.contains(raw), "show printed {raw:?} raw:\n{text}");
    }
    assert!(line.contains(r"red\u{1b}[31m text\u{9b}2J\u{7f} \u{202e}desrever"), "{line}");
    // JSON output is data: the exact string, JSON-escaped.
    let out = run(w.seed().args(["snapshot", "show", "good", "--json"]), 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["header"]["description"], "red\u{1b}[31m text\u{9b}2J\u{7f} \u{202e}desrever");
    // The same characters in a name are refused outright (a name reaches SQL and paths).
    edit_header(&path, true, |json| replace_once(json, "\"name\":\"offices\"", "\"name\":\"off\\u001b[2Jices\""));
    let out = run(w.seed().args(["snapshot", "verify", "good"]), 7);
    let text = all_output(&out);
    assert!(text.contains("control character") && !text.contains('\u{1b}'), "{text}");
}

// ---------------------------------------------------------------------------------
// Item 2: the header is bound to the data
// ---------------------------------------------------------------------------------

#[test]
fn r8_2_swapped_column_names_are_refused_and_never_restored() {
    let (w, path) = sqlite_with_snapshot();
    let dir = w.path().join("snapshots");
    let good = std::fs::read(&path).unwrap();
    let (_, _, before) = restore_into_fresh_sqlite(&dir, "good");
    assert_eq!(before.iter().find(|(t, _)| t == "offices").unwrap().1.len(), 20);
    // offices.address and offices.city are both TEXT NOT NULL: swapping their names in
    // the header would load one into the other.
    for (forge, reason) in [(false, "the header was altered (header checksum mismatch)"), (true, "tables_fingerprint")]
    {
        std::fs::write(&path, &good).unwrap();
        edit_header(&path, forge, |json| swap(json, "\"name\":\"address\"", "\"name\":\"city\""));
        let out = run(w.seed().args(["snapshot", "verify", "good"]), 7);
        assert!(all_output(&out).contains(reason), "forged {forge}: {}", all_output(&out));
        run(w.seed().args(["snapshot", "show", "good"]), 7);
        let (code, text, rows) = restore_into_fresh_sqlite(&dir, "good");
        assert_eq!(code, Some(7), "forged {forge}: {text}");
        assert!(text.contains(reason), "{text}");
        assert!(rows.iter().all(|(_, r)| r.is_empty()), "a refused restore wrote rows");
    }
}

/// The offset in `text` (JSON following an opening bracket or brace) of the bracket or
/// brace that closes it, skipping strings.
fn closing(text: &str) -> usize {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '[' | '{' if !in_string => depth += 1,
            ']' | '}' if !in_string => {
                if depth == 0 {
                    return i;
                }
                depth -= 1;
            }
            _ => {}
        }
    }
    panic!("unbalanced JSON: {text}")
}

#[test]
fn r8_2_inconsistent_headers_are_refused_with_the_reason() {
    let (w, path) = sqlite_with_snapshot();
    let good = std::fs::read(&path).unwrap();
    let json = header_json(&path);
    let staffs_cols = {
        let at = json.find("\"name\":\"staffs\"").unwrap();
        let start = at + json[at..].find("\"columns\":[").unwrap() + "\"columns\":[".len();
        json[start..start + closing(&json[start..])].to_owned()
    };
    // Columns hold arrays and objects of their own (checks, labels): the first column
    // ends where its braces balance.
    let first_col = staffs_cols[..closing(&staffs_cols[1..]) + 2].to_owned();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty column list",
            replace_once(
                &json,
                &format!("\"columns\":[{staffs_cols}],\"primary_key\":[\"id\"]"),
                "\"columns\":[],\"primary_key\":[]",
            ),
            "no columns",
        ),
        (
            "duplicated column",
            replace_once(&json, &staffs_cols, &format!("{staffs_cols},{first_col}")),
            "appears twice",
        ),
        ("table name ../x", replace_once(&json, "\"name\":\"offices\"", "\"name\":\"../x\""), "tables_fingerprint"),
        ("database kind", replace_once(&json, "\"kind\":\"sqlite\"", "\"kind\":\"oracle\""), "database kind"),
        (
            "primary key not a column",
            replace_once(&json, "\"primary_key\":[\"id\"]", "\"primary_key\":[\"nope\"]"),
            "primary key",
        ),
        ("empty table name", replace_once(&json, "\"name\":\"offices\"", "\"name\":\"\""), "empty name"),
        (
            "row format",
            replace_once(&json, "\"row_format\":\"copy-text\"", "\"row_format\":\"copy-binary\""),
            "newer seed",
        ),
        ("storage", replace_once(&json, "\"storage\":\"full\"", "\"storage\":\"delta\""), "delta"),
    ];
    for (what, edited, reason) in cases {
        for forge in [false, true] {
            let edited = if forge { resign(&edited) } else { edited.clone() };
            std::fs::write(&path, with_header(&good, &edited).unwrap()).unwrap();
            let out = run(w.seed().args(["snapshot", "verify", "good"]), 7);
            let text = all_output(&out);
            let expect = if forge { reason } else { "header checksum mismatch" };
            // An unknown row format is refused before the checksum is even looked at.
            let expect = if what == "row format" { reason } else { expect };
            assert!(text.contains(expect), "{what} (forged: {forge}): expected {expect:?}:\n{text}");
        }
    }
}

/// What the binding cannot do, stated in docs/format.md: whoever recomputes both the
/// tables fingerprint and the header checksum (both are public algorithms; there is no
/// secret key) can relabel columns of the same type. This test pins that statement.
#[test]
fn r8_2_a_forger_who_recomputes_every_fingerprint_is_not_stopped_as_documented() {
    let (w, path) = sqlite_with_snapshot();
    edit_header(&path, true, |json| {
        let swapped = swap(json, "\"name\":\"address\"", "\"name\":\"city\"");
        let header: serde_json::Value = serde_json::from_str(&swapped).unwrap();
        let tables = header["tables"].as_array().unwrap().iter().map(|t| {
            let name = seed::db::schema::TableName::new(t["schema"].as_str().unwrap(), t["name"].as_str().unwrap());
            let cols = t["columns"].as_array().unwrap().iter().map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["type_name"].as_str().unwrap().to_owned(),
                    c["nullable"] == true,
                )
            });
            (name, cols.collect())
        });
        let fp = seed::db::schema::fingerprint_of(tables);
        let old = header["tables_fingerprint"].as_str().unwrap();
        replace_once(
            &swapped,
            &format!("\"tables_fingerprint\":\"{old}\""),
            &format!("\"tables_fingerprint\":\"{fp}\""),
        )
    });
    run(w.seed().args(["snapshot", "verify", "good"]), 0);
    // ... and the restore loads each column into the other.
    let source = sqlite_contents(&w.path().join("seed.db"));
    let (code, text, restored) = restore_into_fresh_sqlite(&w.path().join("snapshots"), "good");
    assert_eq!(code, Some(0), "{text}");
    let offices = |c: &Contents| c.iter().find(|(t, _)| t == "offices").unwrap().1.clone();
    // Columns: id, name, address, city, created_by, created_at.
    let mut unswapped: Vec<String> = offices(&restored)
        .iter()
        .map(|row| {
            let mut f: Vec<&str> = row.split('|').collect();
            f.swap(2, 3);
            f.join("|")
        })
        .collect();
    unswapped.sort();
    assert_ne!(offices(&restored), offices(&source));
    assert_eq!(unswapped, offices(&source));
}

// ---------------------------------------------------------------------------------
// Item 3: bounded headers
// ---------------------------------------------------------------------------------

/// The largest header the limits allow is 16 MB of JSON holding 240,000 columns; since
/// headers record each column's kind and checks and each table's keys (for masking and
/// `snapshot mask`), parsing it peaks near 100 MB. The bound is what matters: the same
/// whatever the file claims.
const MB_LIMIT: f64 = 128.0;

/// A format-1 header (JSON, no newline) listing `tables` empty tables.
fn many_tables_json(tables: usize) -> String {
    let mut json = String::from(
        r#"{"format":"seed-snapshot","format_version":1,"name":"bomb","description":null,"created_at":"2026-11-23T16:40:00Z","tool_version":"0.1.0","database":{"kind":"sqlite","server_version":"3","location":"x"},"schema_version":null,"schema_fingerprint":"00000000000000000000000000000000","settings":{},"compression":{"algorithm":"gzip","level":2},"tables":["#,
    );
    for i in 0..tables {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"schema":"","name":"t{i}","columns":[],"primary_key":[],"rows":0,"checksum":"0000000000000000","offset":0,"length":0,"raw_bytes":0}}"#
        ));
    }
    json.push_str("]}");
    json
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// The largest header the limits allow, as a valid format-2 snapshot of empty tables:
/// 20,000 tables of 12 columns (240,000 columns), about 16 MB of JSON. Written by
/// hand in the documented field order, so the reader's canonical form is checked too.
fn worst_case_snapshot(path: &Path) {
    const TABLES: usize = 20_000;
    const COLS: usize = 12;
    let col_names: Vec<String> = (0..COLS).map(|c| format!("c{c}")).collect();
    let fp = seed::db::schema::fingerprint_of((0..TABLES).map(|i| {
        (
            seed::db::schema::TableName::new("", format!("t{i:05}")),
            col_names.iter().map(|c| (c.clone(), "int".to_owned(), true)).collect(),
        )
    }));
    let columns: Vec<String> =
        col_names.iter().map(|c| format!(r#"{{"name":"{c}","type_name":"int","nullable":true}}"#)).collect();
    let columns = columns.join(",");
    let build = |offset: usize| {
        let mut json = format!(
            r#"{{"format":"seed-snapshot","format_version":2,"row_format":"copy-text","name":"worst","version":1,"description":null,"created_at":"2026-11-23T16:40:00Z","tool_version":"0.1.0","database":{{"kind":"sqlite","server_version":"3","location":"x"}},"schema_version":null,"schema_fingerprint":"00000000000000000000000000000000","tables_fingerprint":"{fp}","settings":{{}},"compression":{{"algorithm":"gzip","level":2}},"base":null,"tables":["#
        );
        for i in 0..TABLES {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&format!(
                r#"{{"schema":"","name":"t{i:05}","storage":"full","columns":[{columns}],"primary_key":["c0"],"rows":0,"checksum":"0000000000000000","offset":{offset},"length":0,"raw_bytes":0,"delta":null}}"#
            ));
        }
        json.push_str(r#"],"header_checksum":""}"#);
        resign(&json)
    };
    // Every table is empty, so all start where the header member ends; that depends
    // on the line's length, which depends on the digits of the offset: fix the digits.
    let line_len = build(10_000_000).len() + 1;
    let member_len = stored_member(&vec![b' '; line_len]).len();
    let json = build(member_len);
    assert_eq!(json.len() + 1, line_len);
    assert!(line_len <= 16 << 20, "the worst case must fit the 16 MiB limit ({line_len})");
    let mut line = json.into_bytes();
    line.push(b'\n');
    std::fs::write(path, stored_member(&line)).unwrap();
}

/// How many of the 100 files `list` reads in the memory test are the worst case
/// (the rest are compressed bombs): each costs seconds in a debug build, so the suite
/// takes 3; `scripts/fuzz-long.sh` sets `SEED_TEST_WORST_FILES=100`.
fn worst_files() -> usize {
    std::env::var("SEED_TEST_WORST_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(3).clamp(1, 100)
}

#[test]
fn r8_3_header_bombs_are_refused_in_bounded_memory_and_list_stays_small() {
    let w = Workdir::new();
    let dir = w.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    // 330,000 tables, gzip-compressed: a ~1 MB file whose header inflates to ~36 MB.
    let bomb = gzip(format!("{}\n", many_tables_json(330_000)).as_bytes());
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    std::fs::write(dir.join("bomb.seed.gz"), &bomb).unwrap();
    // 100,000 tables stored as seed stores headers (about 11 MB, under the length limit).
    let mut line = many_tables_json(100_000).into_bytes();
    line.push(b'\n');
    std::fs::write(dir.join("wide.seed.gz"), stored_member(&line)).unwrap();
    worst_case_snapshot(&dir.join("worst.seed.gz"));

    let out_file = w.path().join("out");
    for (name, code, reason, json) in [
        ("bomb", Some(7), "compressed", false),
        ("bomb", Some(7), "compressed", true),
        ("wide", Some(7), "more than 20000 tables", true),
        ("worst", Some(0), "", false),
        ("worst", Some(0), "", true),
    ] {
        let mut args = vec!["snapshot", "show", name];
        if json {
            args.push("--json");
        }
        let (got, mb, stderr) = run_measuring_rss(&w, &args, &out_file);
        eprintln!("show {name} (json: {json}): exit {got:?}, peak RSS {mb:.1} MB");
        assert!(mb < MB_LIMIT, "show {name} (json: {json}) peaked at {mb:.1} MB");
        assert_eq!(got, code, "show {name}: {stderr}");
        assert!(stderr.contains(reason), "show {name}: {stderr}");
        if name == "worst" && json {
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
            assert_eq!(doc["header"]["tables"].as_array().unwrap().len(), 20_000);
        }
    }

    // 100 files: the worst case (hard links: the disk holds one copy) and bombs.
    std::fs::remove_file(dir.join("wide.seed.gz")).unwrap();
    std::fs::remove_file(dir.join("bomb.seed.gz")).unwrap();
    let worst = worst_files();
    for i in 1..worst {
        std::fs::hard_link(dir.join("worst.seed.gz"), dir.join(format!("w{i:03}.seed.gz"))).unwrap();
    }
    for i in 0..100 - worst {
        let path = dir.join(format!("b{i:03}.seed.gz"));
        if i == 0 {
            std::fs::write(&path, &bomb).unwrap();
        } else {
            std::fs::hard_link(dir.join("b000.seed.gz"), path).unwrap();
        }
    }
    let (got, mb, stderr) = run_measuring_rss(&w, &["snapshot", "list"], &out_file);
    eprintln!("list of 100 files ({worst} worst case, {} bombs): peak RSS {mb:.1} MB", 100 - worst);
    assert!(mb < MB_LIMIT, "list of 100 files peaked at {mb:.1} MB");
    assert_eq!(got, Some(0), "{stderr}");
    let listing = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(listing.lines().filter(|l| l.contains("CORRUPT") && l.contains("compressed")).count(), 100 - worst);
    assert_eq!(listing.lines().filter(|l| l.contains("20,000")).count(), 1, "{listing}");
    // The links hold snapshot 'worst' under other names: each header is read whole
    // (what this measures), then refused for naming another snapshot than its file.
    let renamed = listing.lines().filter(|l| l.contains("CORRUPT") && l.contains("it holds snapshot 'worst@1'"));
    assert_eq!(renamed.count(), worst - 1, "{listing}");
}

// ---------------------------------------------------------------------------------
// Item 13: --snapshot-dir that is a file, or does not exist
// ---------------------------------------------------------------------------------

#[test]
fn r8_13_a_snapshot_dir_that_is_a_file_is_a_usage_error_saying_so() {
    let w = Workdir::new();
    std::fs::write(w.path().join("notes.txt"), "not a directory").unwrap();
    for args in [
        vec!["snapshot", "list"],
        vec!["snapshot", "show", "x"],
        vec!["snapshot", "verify", "x"],
        vec!["snapshot", "delete", "x"],
        vec!["snapshot", "create", "x"],
    ] {
        let out = run(w.seed().args(["--no-progress", "--snapshot-dir", "notes.txt"]).args(&args), 2);
        let text = all_output(&out);
        assert!(text.contains("notes.txt is a file, not a directory"), "{args:?}:\n{text}");
    }
    assert_eq!(std::fs::read_to_string(w.path().join("notes.txt")).unwrap(), "not a directory");
}

#[test]
fn r8_13_listing_a_snapshot_dir_that_does_not_exist_says_so() {
    let w = Workdir::new();
    let out = run(w.seed().args(["--snapshot-dir", "/nonexistent/snaps", "snapshot", "list"]), 2);
    let text = all_output(&out);
    assert!(text.contains("/nonexistent/snaps does not exist"), "{text}");
    let out = run(w.seed().args(["--snapshot-dir", "/nonexistent/snaps", "snapshot", "list", "--json"]), 2);
    assert!(all_output(&out).contains("does not exist"), "{}", all_output(&out));
    // The default directory not existing yet is normal: no snapshot was taken.
    let out = run(w.seed().args(["snapshot", "list"]), 0);
    assert!(stdout(&out).contains("no snapshots yet"), "{}", all_output(&out));
    assert!(!w.path().join("snapshots").exists(), "list created the directory");
}
