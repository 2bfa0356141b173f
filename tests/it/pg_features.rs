//! What each PostgreSQL major version adds to a schema, through the binary on the
//! harness's server (`scripts/test.sh --pg-version N` picks it): the schema below uses
//! every feature the running server has — stored generated columns and an exclusion
//! constraint everywhere, `UNIQUE NULLS NOT DISTINCT` from 15, and from 18 virtual
//! generated columns, `NOT ENFORCED` checks and foreign keys (which the database does not
//! hold for seed), `NOT NULL ... NOT VALID`, `PRIMARY KEY (..., during WITHOUT
//! OVERLAPS)`, and a temporal foreign key (`PERIOD`), which bulk refuses with a way out.
//! Bulk fills it twice (empty tables, then keys in place), and a full and an incremental
//! snapshot restore into a fresh copy with the same rows and the same schema.

use crate::bulk::{bulk, schema_dump};
use crate::common::{TestDb, Workdir, all_output, server};
use crate::common::{expect_code, run};

/// The schema for a PostgreSQL `major` server.
fn schema(major: u32) -> String {
    let mut ddl = String::from(
        "CREATE EXTENSION btree_gist;
         CREATE TABLE authors (
             id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             name text NOT NULL,
             email text NOT NULL UNIQUE,
             name_upper text GENERATED ALWAYS AS (upper(name)) STORED
         );
         CREATE TABLE rooms (id int PRIMARY KEY, label text NOT NULL);
         CREATE TABLE books (
             id bigserial PRIMARY KEY,
             author_id int NOT NULL REFERENCES authors,
             title varchar(80) NOT NULL,
             price numeric(8,2) NOT NULL CHECK (price > 0),
             qty int NOT NULL DEFAULT 1 CHECK (qty BETWEEN 1 AND 50),
             total numeric GENERATED ALWAYS AS (price * qty) STORED,
             isbn text
         );",
    );
    if major >= 15 {
        ddl.push_str("ALTER TABLE books ADD CONSTRAINT books_isbn_once UNIQUE NULLS NOT DISTINCT (isbn);");
    }
    if major >= 18 {
        ddl.push_str(
            "ALTER TABLE books ADD COLUMN total_v numeric GENERATED ALWAYS AS (price * qty) VIRTUAL;
             ALTER TABLE books ADD COLUMN pages int CONSTRAINT books_pages_range CHECK (pages BETWEEN 1 AND 2000) NOT ENFORCED;
             ALTER TABLE books ADD COLUMN editor_id int CONSTRAINT books_editor REFERENCES authors NOT ENFORCED;
             ALTER TABLE books ADD COLUMN note text;
             ALTER TABLE books ADD CONSTRAINT books_note_given NOT NULL note NOT VALID;
             CREATE TABLE bookings (
                 room int NOT NULL REFERENCES rooms,
                 during tstzrange NOT NULL,
                 PRIMARY KEY (room, during WITHOUT OVERLAPS)
             );
             CREATE TABLE rate_periods (
                 room int NOT NULL REFERENCES rooms,
                 valid tstzrange NOT NULL,
                 rate numeric(6,2) NOT NULL,
                 PRIMARY KEY (room, valid WITHOUT OVERLAPS)
             );
             CREATE TABLE rate_bookings (
                 room int NOT NULL,
                 during tstzrange NOT NULL,
                 CONSTRAINT rate_bookings_period FOREIGN KEY (room, PERIOD during) REFERENCES rate_periods (room, PERIOD valid)
             );",
        );
    } else {
        ddl.push_str(
            "CREATE TABLE bookings (
                 room int NOT NULL REFERENCES rooms,
                 during tstzrange NOT NULL,
                 EXCLUDE USING gist (room WITH =, during WITH &&)
             );",
        );
    }
    ddl
}

/// Rows breaking what the database itself does not hold (NOT ENFORCED, PostgreSQL 18):
/// seed holds those as well.
fn not_enforced_violations(db: &TestDb) -> String {
    db.psql(
        "SELECT 'pages ' || id FROM books WHERE NOT (pages BETWEEN 1 AND 2000)
         UNION ALL
         SELECT 'editor ' || b.id FROM books b
          WHERE b.editor_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM authors a WHERE a.id = b.editor_id)",
    )
}

fn assert_rows_hold(db: &TestDb, major: u32, context: &str) {
    if major >= 18 {
        assert_eq!(not_enforced_violations(db), "", "{context}: rows break a NOT ENFORCED constraint");
        let filled = db.psql("SELECT count(*) FILTER (WHERE pages IS NOT NULL), count(editor_id) FROM books");
        assert_ne!(filled, "0|0", "{context}: the NOT ENFORCED columns were left empty");
    }
    // The generated columns are the database's: seed wrote none of them.
    let wrong = db.psql("SELECT count(*) FROM books WHERE total IS DISTINCT FROM price * qty");
    assert_eq!(wrong, "0", "{context}");
}

#[test]
fn every_schema_feature_of_the_server_version_bulk_loads_and_round_trips() {
    let major = server().major;
    let ddl = schema(major);
    let db = TestDb::new("pgf_src");
    db.load_sql(&ddl);
    let before = schema_dump(&db);
    let w = Workdir::new();

    let mut args = vec!["--count", "1", "--table", "authors=150", "--table", "rooms=8", "--table", "books=400"];
    args.extend(["--table", "bookings=300"]);
    if major >= 18 {
        args.extend(["--table", "rate_periods=40"]);
        let empty = db.pg_dump_data();
        let text = expect_code(&bulk(&w, &db.url(), &args), 4);
        assert!(text.contains("foreign key rate_bookings_period is temporal (PERIOD)"), "{text}");
        assert!(text.contains("leave rate_bookings out (--exclude)"), "{text}");
        assert!(db.pg_dump_data() == empty, "a refused bulk changed the database");
        args.extend(["--exclude", "rate_bookings"]);
    }
    // Empty tables (keys built after the data), then rows on top with the keys in place.
    expect_code(&bulk(&w, &db.url(), &args), 0);
    assert_rows_hold(&db, major, "the first load");
    assert_eq!(schema_dump(&db), before, "the first load changed the schema");
    run(w.seed().args(["--database-url", &db.url(), "snapshot", "create", "features"]), 0);
    let first = db.pg_dump_data();

    expect_code(&bulk(&w, &db.url(), &args), 0);
    assert_rows_hold(&db, major, "the second load");
    assert_eq!(db.count("bookings"), 600);
    let nulls: i64 = db.psql("SELECT count(*) FROM books WHERE isbn IS NULL").parse().unwrap();
    assert!(major < 15 || nulls <= 1, "{nulls} NULL isbns under UNIQUE NULLS NOT DISTINCT");
    db.load_sql("UPDATE books SET qty = qty % 50 + 1 WHERE id % 7 = 0; DELETE FROM bookings WHERE room = 1");
    // The second version stores what changed since the first (incremental).
    let out = run(w.seed().args(["--database-url", &db.url(), "snapshot", "create", "features", "--new-version"]), 0);
    assert!(all_output(&out).contains("incremental to features@1"), "{}", all_output(&out));
    let second = db.pg_dump_data();
    assert_ne!(first, second);

    for (version, data) in [("features@1", &first), ("features@2", &second)] {
        let target = TestDb::new("pgf_dst");
        target.load_sql(&ddl);
        run(w.seed().args(["--database-url", &target.url(), "snapshot", "restore", version]), 0);
        assert!(&target.pg_dump_data() == data, "{version}: the restored rows differ from the saved ones");
        assert_eq!(schema_dump(&target), before, "{version}: the restore changed the schema");
        run(w.seed().args(["--database-url", &target.url(), "snapshot", "verify", version, "--against-db"]), 0);
    }
}
