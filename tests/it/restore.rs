//! Snapshots II: `seed snapshot restore` and `seed snapshot diff` against real
//! databases: exact round trips (pagila, every supported type, SQLite), schema drift,
//! and faults that must leave the target exactly as it was.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::run;
use crate::common::{TestDb, Workdir, all_output, server};
use crate::snapshot::{
    BIG_ROWS_PER_TABLE, Running, big_demo, clone_db, copying_backend, header_of, pagila_schema_template,
    pagila_template, quote_ident, seed_cmd, stdout, table_finished, terminate_first_copy, wait_until,
};

/// `pg_dump` of `db` with `flag`, without its comment lines and the random
/// `\restrict` keys; `sorted` for data, whose row order is physical.
fn pg_dump(db: &TestDb, flag: &str, sorted: bool) -> Vec<String> {
    let out = server().tool("pg_dump").args([flag, "-d", &db.name]).output().unwrap();
    assert!(out.status.success(), "pg_dump {flag} {}: {}", db.name, String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict") && !l.starts_with("--"))
        .map(str::to_owned)
        .collect();
    if sorted {
        lines.sort();
    }
    lines
}

fn first_difference(a: &[String], b: &[String]) -> String {
    match (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        Some(i) => format!("line {i}:\n  left:  {:?}\n  right: {:?}", a.get(i), b.get(i)),
        None => "identical".into(),
    }
}

fn demo_with_rows(tag: &str, count: u32) -> TestDb {
    let db = TestDb::with_demo_schema(tag);
    let w = Workdir::new();
    run(w.seed().args(["--no-progress", "--database-url", &db.url(), "bulk", "--count", &count.to_string()]), 0);
    db
}

// ---------------------------------------------------------------------------------
// SQLite access for assertions (the same bundled SQLite the binary uses)
// ---------------------------------------------------------------------------------

fn sqlite_block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn sqlite_connect(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).connect().await.unwrap()
}

fn sqlite_exec(path: &Path, sql: &str) {
    sqlite_block_on(async {
        let mut conn = sqlite_connect(path).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"));
    });
}

fn sqlite_lines(path: &Path, sql: &str) -> Vec<String> {
    sqlite_block_on(async {
        let mut conn = sqlite_connect(path).await;
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {sql}: {e}"))
    })
}

/// Every row of every table a snapshot holds, read from a SQLite file with each value
/// as `quote(v)` and `typeof(v)`, sorted: storage classes count, not just text.
fn sqlite_dump(db: &Path, snapshot: &Path) -> String {
    let header = header_of(snapshot);
    let mut out = String::new();
    for t in header["tables"].as_array().unwrap() {
        let cols: Vec<String> = t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let c = quote_ident(c["name"].as_str().unwrap());
                format!("quote({c}) || ':' || typeof({c})")
            })
            .collect();
        let table = t["name"].as_str().unwrap();
        let sql = format!("SELECT {} FROM {} ORDER BY 1", cols.join(" || ' | ' || "), quote_ident(table));
        let mut rows = sqlite_lines(db, &sql);
        rows.sort();
        out.push_str(&format!("== {table} ({} rows)\n{}\n", rows.len(), rows.join("\n")));
    }
    out
}

// ---------------------------------------------------------------------------------
// 1. Pagila round trip
// ---------------------------------------------------------------------------------

#[test]
fn restore_of_pagila_into_an_empty_schema_is_exact() {
    let a = clone_db(pagila_template(), "rs_pagila_a");
    let b = clone_db(pagila_schema_template(), "rs_pagila_b");
    let fresh = clone_db(pagila_schema_template(), "rs_pagila_fresh");
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "pagila"]), 0);
    let out = run(w.seed().args(["--database-url", &b.url(), "snapshot", "restore", "pagila"]), 0);
    assert!(all_output(&out).contains("restored snapshot 'pagila'"), "{}", all_output(&out));

    let (data_a, data_b) = (pg_dump(&a, "--data-only", true), pg_dump(&b, "--data-only", true));
    assert!(data_a.len() > 45_000, "pagila's data dump has only {} lines", data_a.len());
    assert!(data_a == data_b, "data differs after the restore: {}", first_difference(&data_a, &data_b));
    // Keys, indexes, triggers and sequences rebuilt exactly as they were.
    let (schema_b, schema_fresh) = (pg_dump(&b, "--schema-only", false), pg_dump(&fresh, "--schema-only", false));
    assert!(
        schema_b == schema_fresh,
        "schema differs from a fresh one after the restore: {}",
        first_difference(&schema_b, &schema_fresh)
    );
    // The sequence is past the restored ids.
    let max = a.psql("SELECT max(actor_id) FROM actor");
    b.load_sql("INSERT INTO actor (first_name, last_name) VALUES ('a', 'b')");
    let id = b.psql("SELECT actor_id FROM actor WHERE first_name = 'a' AND last_name = 'b'");
    assert_eq!(id.parse::<i64>().unwrap(), max.parse::<i64>().unwrap() + 1);
}

// ---------------------------------------------------------------------------------
// 2. Every supported type, byte for byte
// ---------------------------------------------------------------------------------

const EVERY_TYPE_DDL: &str = "
CREATE TYPE mood AS ENUM ('sad', 'ok', 'très bien');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE everything (
    id    integer PRIMARY KEY,
    i2    smallint,
    i4    integer,
    i8    bigint,
    num   numeric(38,10),
    r4    real,
    r8    double precision,
    t     text,
    vc    varchar(12),
    ch    char(5),
    bin   bytea,
    b     boolean,
    d     date,
    ts    timestamp,
    tstz  timestamptz,
    tm    time,
    tmtz  timetz,
    iv    interval,
    u     uuid,
    j     json,
    jb    jsonb,
    ip    inet,
    net   cidr,
    mac   macaddr,
    ia    integer[],
    ta    text[],
    tsv   tsvector,
    m     mood,
    dom   posint,
    cash  money,
    bits  bit(8),
    vbits varbit,
    pt    point
);";

const EVERY_TYPE_ROWS: &str = r#"
INSERT INTO everything VALUES
(1, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999, 3.4028235e38,
 1.7976931348623157e308, E'tab\there\nnewline\r\\backslash é 中文 😀', 'twelve chars', 'ab', '\x00ff00000a09'::bytea,
 true, 'infinity', 'infinity', 'infinity', '24:00:00', '23:59:59.999999+15:59', '178000000 years',
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1,  "a": [1, 2.50, "x"], "a": null}',
 '{"ünï": "cödé 😀", "n": 1.50, "nested": {"k": [true, null]}}', '2001:db8::1/64', '10.0.0.0/8',
 '08:00:2b:01:02:03', '{1,NULL,3}', '{"a b",NULL,"NULL","back\\slash","quo\"te",""}',
 'a fat:2 cat:3A', 'très bien', 2147483647, '92233720368547758.07', '10101010', '1', '(1.5,-2.25)'),
(2, -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999, '-Infinity',
 '-Infinity', '', '', '', '\x'::bytea, false, '-infinity', '-infinity', '-infinity', '00:00:00',
 '00:00:00-15:59', '-178000000 years', '00000000-0000-0000-0000-000000000000', '[]', '{}', '0.0.0.0/0',
 '::/0', 'ff:ff:ff:ff:ff:ff', '{}', '{}', '', 'sad', 1, '-92233720368547758.08', '00000000', '', '(0,0)'),
(3, 0, 0, 0, 'NaN', 'NaN', 'NaN', E'\\N', E'\\.', ' x ', '\x5c4e'::bytea, NULL, '4713-01-01 BC',
 '4713-01-01 00:00:00 BC', '294276-12-31 23:59:59.999999+00', '12:34:56.789012', '01:02:03.5-03:30',
 '1 mon -2 days 03:04:05.678901', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '"just a string"', 'null',
 '192.168.0.1', '192.168.0.0/24', '00:00:00:00:00:00', '{NULL}', '{NULL,""}', 'x:1,2,3 y', 'ok', 42, 0,
 '11110000', '101010101010101010101', '(-0,1e-300)'),
(4, 1, -1, 1, 0.0000000001, '-0', '-0', E'line1\nline2\n', 'NULL', 'NULL', '\x00'::bytea, true,
 '2000-02-29', '2000-02-29 12:00:00.000001', '1970-01-01 00:00:00+00', '00:00:00.000001', '00:00:00+00',
 '-1 days +00:00:00.000001', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '{"text": "tab\tnewline\n"}',
 '{"esc": "tab\tnl\nbs\\ q\""}', '::1', '::1/128', '01:23:45:67:89:ab', '{{1,2},{3,NULL}}',
 '{{"a","b"},{NULL,"d"}}', '''quoted lexeme'':1', 'sad', 7, '0.01', '00000001', '0', '(1e300,-1e-300)'),
(5, 2, 3, 4, 1.5, 1.4e-45, 5e-324, 'ends with backslash \', 'unicode ✓', 'ünï', '\xdeadbeef'::bytea, false,
 '0001-01-01', '0001-01-01 00:00:00', '2038-01-19 03:14:08+00', '23:59:59.999999', '12:00:00+05:45',
 '100 years 11 mons 30 days 23:59:59.999999', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a13', '1.0e3', '1.0e3',
 '10.1.2.3/32', '10.1.2.3/32', '12:34:56:78:9a:bc', '{-2147483648,2147483647}', '{"\\N","\\."}', 'a:1 b:2',
 'ok', 1, '-0.01', '11111111', '0000000000', '(0.1,0.2)'),
(6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"#;

#[test]
fn restore_round_trips_every_postgres_type_exactly() {
    let a = TestDb::new("rs_types_a");
    a.load_sql(EVERY_TYPE_DDL);
    a.load_sql(EVERY_TYPE_ROWS);
    let b = TestDb::new("rs_types_b");
    b.load_sql(EVERY_TYPE_DDL);
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "types"]), 0);
    run(w.seed().args(["--database-url", &b.url(), "snapshot", "restore", "types"]), 0);
    let copy = |db: &TestDb| {
        let mut rows: Vec<String> = db.psql("COPY everything TO STDOUT").lines().map(str::to_owned).collect();
        rows.sort();
        rows
    };
    let (before, after) = (copy(&a), copy(&b));
    assert_eq!(before.len(), 6);
    assert!(before == after, "rows differ after the round trip: {}", first_difference(&before, &after));
    // A few values spelled out, in case COPY hides a difference on both sides.
    let probe = "SELECT id, t IS NULL, t = '', octet_length(bin), r8::text, num::text, jb->>'ünï', ta[2] IS NULL
                 FROM everything ORDER BY id";
    assert_eq!(a.psql(probe), b.psql(probe));
    run(w.seed().args(["--database-url", &b.url(), "snapshot", "verify", "types", "--against-db"]), 0);
}

#[test]
fn restore_round_trips_sqlite_storage_classes_exactly() {
    let w = Workdir::new();
    let ddl = "CREATE TABLE kinds (id INTEGER PRIMARY KEY, i INTEGER, r REAL, s TEXT, b BLOB)";
    let src = w.path().join("kinds.db");
    sqlite_exec(&src, ddl);
    sqlite_exec(
        &src,
        "INSERT INTO kinds VALUES
           (1, 9223372036854775807, 1.5, 'plain', x'00ff00'),
           (2, -9223372036854775808, -0.0, '', x''),
           (3, 0, 1e308, 'tab' || char(9) || 'and' || char(10) || 'newline' || char(13) || ' \\ backslash \\N', x'000000'),
           (4, NULL, 5e-324, 'ünïcödé 中文 😀', NULL),
           (5, 42, 0.1, NULL, x'5c78'),
           (6, NULL, NULL, NULL, NULL),
           (7, -1, 123456789.123456789, '\\x41', x'0a09'),
           (8, 7, 9e999, 'inf', x'ff'),
           (9, 8, -9e999, '-', x'00'),
           (10, 9, 'Infinity', 'Infinity', x'')",
    );
    let dst = w.path().join("copy.db");
    sqlite_exec(&dst, ddl);
    run(w.seed().args(["--database-url", "sqlite://kinds.db", "snapshot", "create", "kinds"]), 0);
    run(w.seed().args(["--database-url", "sqlite://copy.db", "snapshot", "restore", "kinds"]), 0);
    let snapshot = w.path().join("snapshots/kinds.seed.gz");
    let (before, after) = (sqlite_dump(&src, &snapshot), sqlite_dump(&dst, &snapshot));
    assert!(before.contains("(10 rows)") && before.contains("'Infinity':text"), "{before}");
    assert_eq!(before, after, "SQLite values changed in the round trip");
    run(w.seed().args(["--database-url", "sqlite://copy.db", "snapshot", "verify", "kinds", "--against-db"]), 0);
}

// ---------------------------------------------------------------------------------
// 3. Schema drift
// ---------------------------------------------------------------------------------

#[test]
fn restore_refuses_schema_drift_unless_allowed_and_the_columns_fit() {
    let a = demo_with_rows("rs_drift_a", 20);
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "drift"]), 0);

    // A nullable column added after the snapshot.
    let added = TestDb::with_demo_schema("rs_drift_added");
    added.load_sql("ALTER TABLE staffs ADD COLUMN nickname text");
    let before = added.dump_data();
    let out = run(w.seed().args(["--database-url", &added.url(), "snapshot", "restore", "drift"]), 5);
    let text = all_output(&out);
    assert!(text.contains("column staffs.nickname: in the database (text), not in the snapshot"), "{text}");
    assert_eq!(added.dump_data(), before, "a refused restore changed the target");
    let out = run(
        w.seed().args(["--database-url", &added.url(), "snapshot", "restore", "drift", "--allow-schema-mismatch"]),
        0,
    );
    assert!(all_output(&out).contains("schema mismatch allowed"), "{}", all_output(&out));
    assert_eq!(added.count("staffs"), 20);
    assert_eq!(added.psql("SELECT count(*) FROM staffs WHERE nickname IS NOT NULL"), "0");
    run(w.seed().args(["--database-url", &added.url(), "snapshot", "verify", "drift", "--against-db"]), 0);

    // A column dropped after the snapshot: its values have nowhere to go.
    let dropped = TestDb::with_demo_schema("rs_drift_dropped");
    dropped.load_sql("ALTER TABLE staffs DROP COLUMN phone");
    let before = dropped.dump_data();
    let out = run(w.seed().args(["--database-url", &dropped.url(), "snapshot", "restore", "drift"]), 5);
    let text = all_output(&out);
    assert!(text.contains("column staffs.phone: in the snapshot (text), missing from the database"), "{text}");
    let out = run(
        w.seed().args(["--database-url", &dropped.url(), "snapshot", "restore", "drift", "--allow-schema-mismatch"]),
        5,
    );
    let text = all_output(&out);
    assert!(text.contains("cannot bridge") && text.contains("column staffs.phone is missing"), "{text}");
    assert_eq!(dropped.dump_data(), before, "a refused restore changed the target");
}

// ---------------------------------------------------------------------------------
// 4. Faults: the target is exactly as before
// ---------------------------------------------------------------------------------

/// A demo database with 50 rows per table and its snapshot `small` in `w`.
fn small_snapshot(w: &Workdir, tag: &str) -> TestDb {
    let a = demo_with_rows(tag, 50);
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "small"]), 0);
    a
}

/// Rewrites the header of the snapshot at `path` (a stored gzip member: the JSON is in
/// the file as is) replacing `from` by `to` (same length), with a valid CRC and the
/// header checksum recomputed, so only the content check can notice.
fn rewrite_header(path: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let header = header_of(path);
    let header_end = usize::try_from(header["tables"][0]["offset"].as_u64().unwrap()).unwrap();
    let at = bytes[..header_end].windows(from.len()).position(|w| w == from.as_bytes()).expect("value in the header");
    bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
    let json = crate::header::resign(&crate::header::header_json_of(&bytes));
    bytes = crate::header::with_header(&bytes, &json).unwrap();
    // The header member: 10-byte gzip header, stored blocks (5-byte block headers), CRC32, ISIZE.
    let mut line = Vec::new();
    let mut pos = 10;
    while pos < header_end - 8 {
        let len = usize::from(u16::from_le_bytes([bytes[pos + 1], bytes[pos + 2]]));
        line.extend_from_slice(&bytes[pos + 5..pos + 5 + len]);
        pos += 5 + len;
    }
    assert_eq!(pos, header_end - 8, "header member layout");
    let mut crc = flate2::Crc::new();
    crc.update(&line);
    bytes[header_end - 8..header_end - 4].copy_from_slice(&crc.sum().to_le_bytes());
    std::fs::write(path, bytes).unwrap();
    assert_eq!(header_of(path)["tables"][0]["offset"].as_u64(), Some(header_end as u64));
}

#[test]
fn restore_of_a_snapshot_corrupt_in_its_last_table_changes_nothing() {
    let w = Workdir::new();
    small_snapshot(&w, "rs_corrupt_a");
    let dir = w.path().join("snapshots");
    let good = std::fs::read(dir.join("small.seed.gz")).unwrap();
    let header = header_of(&dir.join("small.seed.gz"));
    let last = header["tables"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["name"], "welfare_recipients");

    // One byte flipped in the middle of the last table's gzip data.
    let mut flipped = good.clone();
    let at = usize::try_from(last["offset"].as_u64().unwrap() + last["length"].as_u64().unwrap() / 2).unwrap();
    flipped[at] ^= 0x10;
    std::fs::write(dir.join("flips.seed.gz"), &flipped).unwrap();
    rewrite_header(&dir.join("flips.seed.gz"), "\"name\":\"small\"", "\"name\":\"flips\"");
    // Intact data, but the header's checksum for it is wrong: only noticed once every
    // row of the table has been sent to the server.
    // (Under a name of its own, which its header names too: a file's header must name it.)
    std::fs::write(dir.join("bsums.seed.gz"), &good).unwrap();
    rewrite_header(&dir.join("bsums.seed.gz"), "\"name\":\"small\"", "\"name\":\"bsums\"");
    let sum = last["checksum"].as_str().unwrap();
    let other: String = sum.chars().map(|c| if c == '0' { '1' } else { '0' }).collect();
    rewrite_header(
        &dir.join("bsums.seed.gz"),
        &format!("\"checksum\":\"{sum}\""),
        &format!("\"checksum\":\"{other}\""),
    );
    run(w.seed().args(["snapshot", "show", "bsums"]), 0);

    // Into tables holding rows (--clean: emptied in the same transaction), and into
    // empty ones (keys and indexes dropped for the load and rebuilt after it).
    let full = demo_with_rows("rs_corrupt_full", 5);
    let empty = TestDb::with_demo_schema("rs_corrupt_empty");
    let (full_before, empty_before) = (full.dump_data(), empty.dump_data());
    let empty_schema = pg_dump(&empty, "--schema-only", false);
    for (name, reason) in
        [("flips", "table welfare_recipients"), ("bsums", "table welfare_recipients: checksum mismatch")]
    {
        let out = run(w.seed().args(["--database-url", &full.url(), "snapshot", "restore", name, "--clean"]), 7);
        let text = all_output(&out);
        assert!(text.contains("is corrupt") && text.contains(reason), "{name}: {text}");
        assert_eq!(full.dump_data(), full_before, "{name} --clean: the target changed");

        let out = run(w.seed().args(["--database-url", &empty.url(), "snapshot", "restore", name]), 7);
        let text = all_output(&out);
        assert!(text.contains("is corrupt") && text.contains(reason), "{name}: {text}");
        assert_eq!(empty.dump_data(), empty_before, "{name}: the target changed");
        let schema = pg_dump(&empty, "--schema-only", false);
        assert!(schema == empty_schema, "{name}: keys not restored: {}", first_difference(&schema, &empty_schema));
    }
    // The intact snapshot goes in fine.
    run(w.seed().args(["--database-url", &empty.url(), "snapshot", "restore", "small"]), 0);
}

#[test]
fn restore_breaking_a_constraint_only_the_target_has_changes_nothing() {
    let w = Workdir::new();
    let a = demo_with_rows("rs_check_a", 50);
    a.load_sql(
        "UPDATE welfare_recipients SET name = 'Forbidden Name'
         WHERE id = (SELECT id FROM welfare_recipients ORDER BY id LIMIT 1)",
    );
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "small"]), 0);
    let target = demo_with_rows("rs_check_b", 5);
    target
        .load_sql("ALTER TABLE welfare_recipients ADD CONSTRAINT no_forbidden_names CHECK (name <> 'Forbidden Name')");
    let before = target.dump_data();
    let out = run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", "small", "--clean"]), 4);
    let text = all_output(&out);
    assert!(text.contains("check constraint violation on constraint \"no_forbidden_names\""), "{text}");
    assert!(text.contains("welfare_recipients"), "{text}");
    assert_eq!(target.dump_data(), before, "the target changed");
}

/// A target with a few rows of its own, and the shared 80,000-row snapshot `big`.
fn big_restore_target(tag: &str) -> (TestDb, String) {
    let target = demo_with_rows(tag, 5);
    (target, big_demo().snapshot_dir.to_str().unwrap().to_owned())
}

fn no_session_left(db: &TestDb, app: &str) {
    wait_until(Duration::from_secs(30), "the server to end the killed session", || {
        let n = server().psql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND (application_name = '{app}' OR application_name LIKE '%({app}%')",
                db.name
            ),
        );
        (n == "0").then_some(())
    });
}

#[test]
fn restore_losing_its_connection_mid_copy_exits_3_and_changes_nothing() {
    let (target, dir) = big_restore_target("rs_netfail");
    let before = target.dump_data();
    let w = Workdir::new();
    let url = target.url();
    let mut running = Running::spawn(seed_cmd(
        &w,
        &[
            "--no-progress",
            "--retry-max-attempts",
            "1",
            "--database-url",
            &url,
            "--snapshot-dir",
            &dir,
            "snapshot",
            "restore",
            "big",
            "--clean",
        ],
    ));
    let killed = terminate_first_copy(&target, "seed snapshot restore", 60);
    let (status, _, stderr) = running.finish(Duration::from_secs(60));
    assert!(killed.is_some(), "no COPY of the restore was seen within 60 s:\n{stderr}");
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("lost the connection"), "{stderr}");
    no_session_left(&target, "seed snapshot restore");
    assert_eq!(target.dump_data(), before, "the target changed");
}

#[test]
fn restore_interrupted_with_sigint_exits_130_and_changes_nothing() {
    let (target, dir) = big_restore_target("rs_sigint");
    let before = target.dump_data();
    let w = Workdir::new();
    let url = target.url();
    let mut running = Running::spawn(seed_cmd(
        &w,
        &[
            "--log-format",
            "json",
            "--database-url",
            &url,
            "--snapshot-dir",
            &dir,
            "snapshot",
            "restore",
            "big",
            "--clean",
        ],
    ));
    running.wait_line(Duration::from_secs(60), "the first restored table's progress event", table_finished);
    running.signal(libc::SIGINT);
    let (status, _, stderr) = running.finish(Duration::from_secs(30));
    assert!(!stderr.contains("snapshot_restored"), "finished before the signal arrived:\n{stderr}");
    assert_eq!(status.code(), Some(130), "{stderr}");
    no_session_left(&target, "seed snapshot restore");
    assert_eq!(target.dump_data(), before, "the target changed");
}

#[test]
fn restore_while_another_restore_runs_on_the_database_is_refused_with_8() {
    let (target, dir) = big_restore_target("rs_concurrent");
    let w = Workdir::new();
    let url = target.url();
    let args = [
        "--no-progress",
        "--database-url",
        url.as_str(),
        "--snapshot-dir",
        dir.as_str(),
        "snapshot",
        "restore",
        "big",
        "--clean",
    ];
    let mut first = Running::spawn(seed_cmd(&w, &args));
    wait_until(Duration::from_secs(60), "the first restore's COPY", || {
        assert!(first.is_running(), "the first restore ended early:\n{}", first.stderr());
        copying_backend(&target, "seed snapshot restore")
    });
    let started = Instant::now();
    let out = run(w.seed().args(args), 8);
    let text = all_output(&out);
    assert!(started.elapsed() < Duration::from_secs(10), "refused at once, not after {:?}", started.elapsed());
    let holder = format!("is locked by pid {} on ", first.child.id());
    assert!(text.contains(&holder) && text.contains("(seed snapshot restore big); its connection"), "{text}");
    assert!(first.is_running(), "the refused restore disturbed the first one:\n{}", first.stderr());
    let (status, _, stderr) = first.finish(Duration::from_secs(120));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(target.count("staffs"), i64::try_from(BIG_ROWS_PER_TABLE).unwrap());
    run(
        w.seed().args(["--database-url", &url, "--snapshot-dir", &dir, "snapshot", "verify", "big", "--against-db"]),
        0,
    );
}

#[test]
fn restore_into_non_empty_tables_needs_clean_and_dry_run_changes_nothing() {
    let w = Workdir::new();
    small_snapshot(&w, "rs_nonempty_a");
    let target = demo_with_rows("rs_nonempty_b", 5);
    let before = target.dump_data();
    let url = target.url();

    let out = run(w.seed().args(["--database-url", &url, "snapshot", "restore", "small"]), 5);
    let text = all_output(&out);
    assert!(text.contains("target tables are not empty"), "{text}");
    for t in ["office_staffs", "offices", "staffs", "welfare_recipients"] {
        assert!(text.contains(&format!("{t} has 5 rows")), "lists {t}: {text}");
    }
    assert_eq!(target.dump_data(), before);

    let out = run(w.seed().args(["--database-url", &url, "snapshot", "restore", "small", "--clean", "--dry-run"]), 0);
    let plan = stdout(&out);
    assert!(plan.contains("restore plan for snapshot 'small'"), "{plan}");
    assert!(plan.contains("staffs — 50 rows (replacing 5)"), "{plan}");
    assert!(plan.contains("nothing was written"), "{plan}");
    // parents before children
    let pos = |t: &str| plan.find(&format!(". {t} —")).unwrap_or_else(|| panic!("{t} not in the plan:\n{plan}"));
    assert!(pos("offices") < pos("office_staffs") && pos("offices") < pos("welfare_recipients"), "{plan}");
    assert_eq!(target.dump_data(), before, "--dry-run changed the target");

    run(w.seed().args(["--database-url", &url, "snapshot", "restore", "small", "--clean"]), 0);
    run(w.seed().args(["--database-url", &url, "snapshot", "verify", "small", "--against-db"]), 0);
    assert_eq!(target.count("staffs"), 50);

    // --clean on a remote URL is refused before connecting (this address would hang).
    let remote = "postgres://app:Remote-Secret-1@10.255.255.1:5432/app";
    // JSON events include every connection attempt's outcome: none may show.
    let args = ["--log-format", "json", "--database-url", remote, "snapshot", "restore", "small", "--clean"];
    let out = run(w.seed().args(args), 2);
    let text = all_output(&out);
    assert!(!text.contains(r#""event":"connection_"#), "it tried to connect:\n{text}");
    assert!(text.contains("not on this machine") && text.contains("--allow-remote"), "{text}");
    assert!(!text.contains("Remote-Secret-1"), "{text}");
}

// ---------------------------------------------------------------------------------
// 5. diff
// ---------------------------------------------------------------------------------

#[test]
fn snapshot_diff_counts_and_prints_added_removed_and_changed_rows() {
    let db = demo_with_rows("rs_diff", 30);
    let w = Workdir::new();
    let url = db.url();
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "before"]), 0);
    let counts: Vec<u64> = ["office_staffs", "offices", "staffs", "welfare_recipients"]
        .iter()
        .map(|t| u64::try_from(db.count(t)).unwrap())
        .collect();
    let deleted = db.psql("SELECT id FROM welfare_recipients ORDER BY id LIMIT 2");
    db.load_sql(
        "INSERT INTO staffs (name, email, hired_on) VALUES ('New One', 'new1@example.com', '2020-01-01'),
           ('New Two', 'new2@example.com', '2020-01-02'), ('New Three', 'new3@example.com', '2020-01-03');
         DELETE FROM welfare_recipients WHERE id IN (SELECT id FROM welfare_recipients ORDER BY id LIMIT 2);
         UPDATE offices SET name = 'Renamed ' || id WHERE id IN (SELECT id FROM offices ORDER BY id LIMIT 4);",
    );
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "after"]), 0);
    run(w.seed().args(["--database-url", &url, "snapshot", "create", "after2"]), 0);

    let out = run(w.seed().args(["--json", "snapshot", "diff", "before", "after"]), 12);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("diff JSON");
    assert_eq!(doc["differs"], true);
    let got: Vec<(String, u64, u64, u64, u64)> = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_u64().unwrap();
            (t["table"].as_str().unwrap().to_owned(), n("added"), n("removed"), n("changed"), n("unchanged"))
        })
        .collect();
    let expected = vec![
        ("office_staffs".to_owned(), 0, 0, 0, counts[0]),
        ("offices".to_owned(), 0, 0, 4, counts[1] - 4),
        ("staffs".to_owned(), 3, 0, 0, counts[2]),
        ("welfare_recipients".to_owned(), 0, 2, 0, counts[3] - 2),
    ];
    assert_eq!(got, expected);

    let out = run(w.seed().args(["snapshot", "diff", "before", "after", "--rows"]), 12);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().map(str::trim_start).collect();
    let added: Vec<&&str> = rows.iter().filter(|l| l.starts_with("+ ")).collect();
    let removed: Vec<&&str> = rows.iter().filter(|l| l.starts_with("- ")).collect();
    let changed: Vec<&&str> = rows.iter().filter(|l| l.starts_with("~ ") && !l.starts_with("~ was ")).collect();
    let was: Vec<&&str> = rows.iter().filter(|l| l.starts_with("~ was ")).collect();
    assert_eq!((added.len(), removed.len(), changed.len(), was.len()), (3, 2, 4, 4), "{text}");
    for i in 1..=3 {
        assert!(added.iter().any(|l| l.contains(&format!("new{i}@example.com"))), "{text}");
    }
    for id in deleted.lines() {
        assert!(removed.iter().any(|l| l.starts_with(&format!("- {id}\t"))), "{id} removed:\n{text}");
    }
    assert!(changed.iter().all(|l| l.contains("Renamed ")), "{text}");
    assert!(was.iter().all(|l| !l.contains("Renamed ")), "{text}");
    assert!(text.contains("the snapshots differ"), "{text}");

    let out = run(w.seed().args(["snapshot", "diff", "after", "after2"]), 0);
    assert!(stdout(&out).contains("the snapshots hold the same rows"), "{}", stdout(&out));
}

// ---------------------------------------------------------------------------------
// 6. SQLite round trip on the embedded default
// ---------------------------------------------------------------------------------

#[test]
fn restore_on_the_sqlite_default_puts_deleted_rows_back() {
    let w = Workdir::new();
    run(w.seed().args(["bulk", "--count", "100"]), 0);
    run(w.seed().args(["snapshot", "create", "base"]), 0);
    let db = w.path().join("seed.db");
    let snapshot = w.path().join("snapshots/base.seed.gz");
    let before = sqlite_dump(&db, &snapshot);
    sqlite_exec(
        &db,
        "DELETE FROM welfare_recipients WHERE rowid % 3 = 0;
         DELETE FROM office_staffs WHERE rowid % 2 = 0;
         UPDATE staffs SET phone = NULL;",
    );
    assert_ne!(sqlite_dump(&db, &snapshot), before);
    run(w.seed().args(["snapshot", "verify", "base", "--against-db"]), 12);
    let changed = sqlite_dump(&db, &snapshot);
    run(w.seed().args(["snapshot", "restore", "base"]), 5);
    assert_eq!(sqlite_dump(&db, &snapshot), changed, "a refused restore changed the database");
    run(w.seed().args(["snapshot", "restore", "base", "--clean"]), 0);
    run(w.seed().args(["snapshot", "verify", "base", "--against-db"]), 0);
    assert_eq!(sqlite_dump(&db, &snapshot), before);
}

const TRIGGERS_PG: &str = "
    CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
    CREATE TABLE notes_audit (note_id int, at timestamptz DEFAULT now());
    CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.body := NEW.body || '!'; RETURN NEW; END $$;
    CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO notes_audit (note_id) VALUES (NEW.id); RETURN NULL; END $$;
    CREATE TRIGGER shout BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION shout();
    CREATE TRIGGER audit AFTER INSERT ON notes FOR EACH ROW EXECUTE FUNCTION audit();";

#[test]
fn restore_keeps_user_triggers_from_rewriting_restored_rows() {
    let src = TestDb::new("trig_src");
    src.load_sql(TRIGGERS_PG);
    src.load_sql("INSERT INTO notes VALUES (1, 'a'), (2, 'b')"); // stored as 'a!', 'b!'
    let w = Workdir::new();
    run(
        w.seed().args([
            "--database-url",
            &src.url(),
            "--no-progress",
            "snapshot",
            "create",
            "notes",
            "--table",
            "notes",
        ]),
        0,
    );

    for clean in [false, true] {
        let dst = TestDb::new("trig_dst");
        dst.load_sql(TRIGGERS_PG);
        if clean {
            dst.load_sql("INSERT INTO notes VALUES (9, 'z'); DELETE FROM notes_audit;");
        }
        let mut cmd = w.seed();
        cmd.args(["--database-url", &dst.url(), "--no-progress", "snapshot", "restore", "notes"]);
        if clean {
            cmd.arg("--clean");
        }
        run(&mut cmd, 0);
        assert_eq!(
            dst.psql("SELECT string_agg(body, ',' ORDER BY id) FROM notes"),
            "a!,b!",
            "clean={clean}: stored values, not re-shouted"
        );
        assert_eq!(dst.psql("SELECT count(*) FROM notes_audit"), "0", "clean={clean}: the AFTER trigger did not fire");
        // The triggers are enabled again afterwards.
        dst.load_sql("INSERT INTO notes VALUES (3, 'c')");
        assert_eq!(dst.psql("SELECT body FROM notes WHERE id = 3"), "c!");
        assert_eq!(dst.psql("SELECT count(*) FROM notes_audit"), "1");
        assert_eq!(dst.psql("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'O'"), "2");
    }
}

#[test]
fn restore_on_sqlite_keeps_triggers_from_rewriting_restored_rows() {
    let w = Workdir::new();
    let db = w.path().join("t.db");
    let url = format!("sqlite://{}", db.display());
    sqlite_exec(
        &db,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
         CREATE TRIGGER shout AFTER INSERT ON notes BEGIN UPDATE notes SET body = body || '!' WHERE id = NEW.id; END;
         INSERT INTO notes VALUES (1, 'a'), (2, 'b');",
    );
    run(w.seed().args(["--database-url", &url, "--no-progress", "snapshot", "create", "notes"]), 0);
    sqlite_exec(&db, "DELETE FROM notes");
    run(w.seed().args(["--database-url", &url, "--no-progress", "snapshot", "restore", "notes"]), 0);
    assert_eq!(sqlite_lines(&db, "SELECT body FROM notes ORDER BY id"), vec!["a!", "b!"]);
    sqlite_exec(&db, "INSERT INTO notes VALUES (3, 'c')");
    assert_eq!(sqlite_lines(&db, "SELECT body FROM notes WHERE id = 3"), vec!["c!"], "the trigger is back");
}

/// r13.1: a table whose every column converts is restored through binary COPY (converted
/// on the client from the snapshot's text rows); every edge of every converted type
/// comes back exactly, and the text path (SEED_RESTORE_TEXT_COPY) gives the same rows.
#[test]
fn restore_through_binary_copy_is_exact_at_the_edges_of_every_converted_type() {
    let ddl = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TABLE edges (
            id int PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8,
            t text, vc varchar(12), c char(4), m mood, u uuid, d date, ts timestamp, tz timestamptz,
            tm time, by bytea, j json, jb jsonb)";
    let rows = "INSERT INTO edges VALUES
        (1, true, -32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity',
         E'tab\\there\\nnew\\\\line \\\\N', 'ünïcödé', 'ab', 'sad', '00000000-0000-0000-0000-000000000000',
         '4713-01-01 BC', '-infinity', '1970-01-01 00:00:00.000001+00', '00:00:00', '\\x', '[]', '{}'),
        (2, false, 32767, 2147483647, 9223372036854775807, 'Infinity', '-0',
         '', '', '', 'happy', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
         '5874897-12-31', 'infinity', '294276-12-31 23:59:59.999999+00', '24:00:00', '\\x00ff5c0a',
         '{\"a\": [1, 2.5e10, \"\\u00e9\"]}', '{\"ü\": {\"deep\": [null, true]}}'),
        (3, NULL, NULL, NULL, NULL, 3.4028235e38, 2.2250738585072014e-308,
         '😀 中文', NULL, NULL, NULL, NULL, '2000-02-29', '0044-03-15 12:00:00 BC', 'infinity', '23:59:59.999999',
         NULL, NULL, 'null'),
        (4, true, 0, 0, 0, 1.5, 0.1, 'x', 'y', 'z', 'ok', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         '2026-11-29', '2026-11-29 10:11:12.5', '2026-11-29 10:11:12.5-07:30', '12:34:56.789', '\\xdeadbeef',
         ' {\"spaces\" :  1} ', '[1, \"two\", 3.0]')";
    let a = TestDb::new("rs_binary_a");
    a.load_sql(ddl);
    a.load_sql(rows);
    let w = Workdir::new();
    run(w.seed().args(["--database-url", &a.url(), "snapshot", "create", "edges"]), 0);
    let copy = |db: &TestDb| {
        let mut rows: Vec<String> = db.psql("COPY edges TO STDOUT").lines().map(str::to_owned).collect();
        rows.sort();
        rows
    };
    for (tag, text_only) in [("rs_binary_b", false), ("rs_binary_c", true)] {
        let b = TestDb::new(tag);
        b.load_sql(ddl);
        let mut cmd = w.seed();
        if text_only {
            cmd.env("SEED_RESTORE_TEXT_COPY", "1");
        }
        let out = run(cmd.args(["--database-url", &b.url(), "-v", "snapshot", "restore", "edges"]), 0);
        let (before, after) = (copy(&a), copy(&b));
        assert_eq!(before.len(), 4);
        assert!(before == after, "{tag}: rows differ: {}", first_difference(&before, &after));
        let probe =
            "SELECT id, f8::text, f4::text, octet_length(by), jb::text, j::text, ts::text FROM edges ORDER BY id";
        assert_eq!(a.psql(probe), b.psql(probe), "{tag}");
        let said = String::from_utf8_lossy(&out.stderr).contains("loading edges through binary COPY");
        assert_eq!(said, !text_only, "{tag}: {}", String::from_utf8_lossy(&out.stderr));
        run(w.seed().args(["--database-url", &b.url(), "snapshot", "verify", "edges", "--against-db"]), 0);
    }
}
