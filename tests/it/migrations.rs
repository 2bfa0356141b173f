//! r15.1: migration tables are judged by their shape, not their name alone. A table
//! named like a migration table but shaped like application data is seeded and
//! snapshotted like any other, and reading the schema version never breaks a command.

use crate::common::{TestDb, Workdir, all_output};

/// The header `snapshot show --json` prints.
fn show_json(w: &Workdir, name: &str) -> serde_json::Value {
    let out = w.seed().args(["snapshot", "show", name, "--json"]).output().unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("show --json: {e}\n{}", all_output(&out)));
    doc["header"].clone()
}

fn table_names(show: &serde_json::Value) -> Vec<String> {
    let tables = show["tables"].as_array().expect("tables");
    tables.iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn r15_1_an_application_table_named_schema_migrations_is_ordinary_data_on_postgres() {
    let db = TestDb::with_demo_schema("mig_shape");
    db.load_sql(
        "CREATE TABLE schema_migrations (id int PRIMARY KEY, note text);
         INSERT INTO schema_migrations VALUES (1, 'one'), (2, 'two');",
    );
    let w = Workdir::new();
    let url = db.url();
    // Used to exit 1 with "current transaction is aborted (25P02)".
    w.run(&["--database-url", &url, "snapshot", "create", "app"], 0);
    let show = show_json(&w, "app");
    assert!(table_names(&show).contains(&"schema_migrations".to_owned()), "{show}");
    assert!(show["schema_version"].is_null(), "no migration table: no version ({show})");
    let text = w.run(&["snapshot", "show", "app"], 0);
    assert!(text.contains("version none"), "{text}");
    // Seeded like any table.
    w.run(&["--database-url", &url, "bulk", "--count", "5"], 0);
    assert_eq!(db.count("schema_migrations"), 7);
    // And restored like any table.
    w.run(&["--database-url", &url, "snapshot", "restore", "app", "--clean"], 0);
    assert_eq!(db.psql("SELECT string_agg(note, ',' ORDER BY id) FROM schema_migrations"), "one,two");
}

#[test]
fn r15_1_a_real_migration_table_gives_the_version_and_is_left_alone() {
    let db = TestDb::with_demo_schema("mig_real");
    db.load_sql(
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY);
         INSERT INTO schema_migrations VALUES ('20260101000000'), ('20261101093000'), ('9');
         CREATE TABLE ar_internal_metadata (key varchar PRIMARY KEY, value varchar,
             created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
         INSERT INTO ar_internal_metadata VALUES ('environment', 'test', now(), now());",
    );
    let w = Workdir::new();
    let url = db.url();
    w.run(&["--database-url", &url, "snapshot", "create", "rails"], 0);
    let show = show_json(&w, "rails");
    let names = table_names(&show);
    assert!(!names.iter().any(|n| n == "schema_migrations" || n == "ar_internal_metadata"), "{names:?}");
    assert_eq!(show["schema_version"]["version"], "20261101093000", "numbers compare as numbers: {show}");
    w.run(&["--database-url", &url, "bulk", "--count", "5"], 0);
    assert_eq!(db.count("schema_migrations"), 3, "migration rows are never seeded");
    let text = w.run(&["--database-url", &url, "doctor"], 0);
    assert!(text.contains("20261101093000 (schema_migrations)"), "{text}");
}

#[test]
fn r15_1_laravel_migrations_versus_an_app_table_called_migrations_on_sqlite() {
    let w = Workdir::new();
    let path = w.path().join("app.db");
    let url = format!("sqlite://{}", path.display());
    let sql = "CREATE TABLE migrations (id INTEGER PRIMARY KEY, title TEXT NOT NULL, moved_at TEXT);
               INSERT INTO migrations (title) VALUES ('birds south');";
    let status = std::process::Command::new("sqlite3").arg(&path).arg(sql).status().unwrap();
    assert!(status.success());
    w.run(&["--database-url", &url, "snapshot", "create", "birds"], 0);
    assert_eq!(table_names(&show_json(&w, "birds")), vec!["migrations".to_owned()]);
    w.run(&["--database-url", &url, "bulk", "--count", "4"], 0);

    let path2 = w.path().join("laravel.db");
    let url2 = format!("sqlite://{}", path2.display());
    let sql = "CREATE TABLE migrations (id INTEGER PRIMARY KEY, migration TEXT NOT NULL, batch INTEGER NOT NULL);
               INSERT INTO migrations (migration, batch) VALUES
                 ('2014_10_12_000000_create_users_table', 1), ('2019_08_19_000000_create_failed_jobs_table', 1);
               CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);";
    let status = std::process::Command::new("sqlite3").arg(&path2).arg(sql).status().unwrap();
    assert!(status.success());
    w.run(&["--database-url", &url2, "snapshot", "create", "laravel"], 0);
    let show = show_json(&w, "laravel");
    assert_eq!(table_names(&show), vec!["users".to_owned()]);
    assert_eq!(show["schema_version"]["version"], "2019_08_19_000000_create_failed_jobs_table");
    let _ = w.run(&["--database-url", &url2, "bulk", "--count", "3"], 0);
    let count =
        std::process::Command::new("sqlite3").arg(&path2).arg("SELECT count(*) FROM migrations").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "2");
}
