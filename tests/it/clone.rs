//! `seed prepare NAME --template` and `seed clone`, on the harness's PostgreSQL: pagila
//! kept as a template, 50 concurrent callers each get their own identical database,
//! `--drop` and `--gc` remove exactly seed's clones, a migration makes exactly one of 20
//! concurrent callers rebuild, and the failure paths (someone connected to the
//! template, wrong credentials, no template, a killed clone) leave nothing half-built.

use std::collections::BTreeSet;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::common::{PG_PASSWORD, TestDb, Workdir, all_output, server, shared_fixture};
use crate::snapshot::{seed_cmd, wait_until};

/// `seed --database-url URL ARGS` with the workdir's snapshot directory.
fn seed(w: &Workdir, url: &str, args: &[&str]) -> std::process::Command {
    let mut full = vec!["--no-progress", "--database-url", url];
    full.extend_from_slice(args);
    seed_cmd(w, &full)
}

/// Runs and checks the exit code; the password may appear on stdout only (the URLs
/// asked for), never on stderr.
fn expect(mut cmd: std::process::Command, code: i32) -> Output {
    let out = cmd.output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(code), "expected exit {code} from {cmd:?}:\n{text}");
    assert!(!text.contains("panicked"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(PG_PASSWORD), "password on stderr:\n{stderr}");
    out
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The database a clone URL names.
fn db_of(url: &str) -> String {
    assert!(url.starts_with("postgres://") && url.contains(PG_PASSWORD), "a URL with the caller's credentials: {url}");
    url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned()
}

/// Databases on the server whose names start with `prefix`.
fn databases(prefix: &str) -> BTreeSet<String> {
    server()
        .psql("postgres", "SELECT datname FROM pg_database ORDER BY 1")
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

/// A handle that drops the database when the test ends (passed or not: clones are ours).
fn handle(name: &str) -> TestDb {
    TestDb { name: name.to_owned() }
}

/// `n` concurrent `seed clone NAME --wait --json`: each must succeed; how many rebuilt,
/// and the URLs they got.
fn concurrent_waiting_clones(w: &Workdir, url: &str, name: &str, n: usize) -> (usize, Vec<String>) {
    let children: Vec<Child> = (0..n)
        .map(|_| {
            seed(w, url, &["clone", name, "--wait", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut rebuilt = 0;
    let mut urls = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        rebuilt += usize::from(doc["rebuilt"] == true);
        urls.push(doc["urls"][0].as_str().unwrap().to_owned());
    }
    (rebuilt, urls)
}

fn prepare_pagila(w: &Workdir, tag: &str) -> TestDb {
    let db = TestDb::new(tag);
    db.load_file(&shared_fixture("pagila/schema.sql"));
    db.load_file(&shared_fixture("pagila/data.sql"));
    let out = expect(seed(w, &db.url(), &["prepare", "pg", "--template", "--count", "20", "--seed", "3", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["template"]["database"], format!("{}_seed_pg_tpl", db.name), "{doc}");
    db
}

#[test]
fn pagila_template_fifty_concurrent_clones_are_distinct_and_identical_then_drop_and_gc_remove_them() {
    let w = Workdir::new();
    let db = prepare_pagila(&w, "clpg");
    let template = format!("{}_seed_pg_tpl", db.name);
    let flags = server().psql("postgres", &format!(
        "SELECT datistemplate, datallowconn, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{template}'"
    ));
    assert!(flags.starts_with("t|f|{"), "template flags and record: {flags}");
    let expected = db.pg_dump_data();
    assert!(expected.len() > 100, "pagila was seeded");

    let children: Vec<Child> = (0..50)
        .map(|_| seed(&w, &db.url(), &["clone", "pg"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let mut names = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(PG_PASSWORD));
        let lines = stdout_lines(&out);
        assert_eq!(lines.len(), 1, "one URL: {lines:?}");
        names.push(db_of(&lines[0]));
    }
    let handles: Vec<TestDb> = names.iter().map(|n| handle(n)).collect();
    let distinct: BTreeSet<&String> = names.iter().collect();
    assert_eq!(distinct.len(), 50, "50 callers, 50 databases");
    for h in &handles {
        assert!(h.name.starts_with(&format!("{}_seed_pg_", db.name)), "{}", h.name);
        same(&h.pg_dump_data(), &expected, &h.name);
    }
    // A clone is its own database: writing to one leaves the others alone.
    handles[0].psql("DELETE FROM payment");
    assert_eq!(handles[1].pg_dump_data(), expected);

    // --count N and --json.
    let out = expect(seed(&w, &db.url(), &["clone", "pg", "--count", "3", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let urls: Vec<String> = doc["urls"].as_array().unwrap().iter().map(|u| u.as_str().unwrap().to_owned()).collect();
    assert_eq!(
        (urls.len(), doc["rebuilt"].as_bool(), doc["template"].as_str()),
        (3, Some(false), Some(template.as_str()))
    );
    let more: Vec<TestDb> = urls.iter().map(|u| handle(&db_of(u))).collect();
    assert_eq!(databases(&format!("{}_seed_pg_", db.name)).len(), 50 + 3 + 1);

    // --drop refuses anything not of a clone's shape, and drops nothing then.
    let before = databases(&db.name);
    let out = expect(seed(&w, &db.url(), &["clone", "--drop", &urls[0], &db.url()]), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a clone seed made"), "{}", all_output(&out));
    let tpl_url = server().url(&template);
    expect(seed(&w, &db.url(), &["clone", "--drop", &tpl_url]), 2);
    assert_eq!(databases(&db.name), before, "nothing dropped");

    // --drop takes several URLs, even with a worker still connected.
    let mut worker = server()
        .psql_cmd(&more[0].name)
        .args(["-c", "SELECT pg_sleep(60)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(10), "the worker's session", || {
        (server()
            .psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'", more[0].name))
            == "1")
            .then_some(())
    });
    let out = expect(seed(&w, &db.url(), &["clone", "--drop", &urls[0], &urls[1]]), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped 2 clones"), "{}", all_output(&out));
    let _ = worker.wait();
    let left = databases(&format!("{}_seed_pg_", db.name));
    assert!(!left.contains(&more[0].name) && !left.contains(&more[1].name) && left.contains(&more[2].name));

    // --gc --older-than spares young clones; --gc removes every clone, never the template or the source.
    let out = expect(seed(&w, &db.url(), &["clone", "--gc", "--older-than", "1h"]), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to drop"), "{}", all_output(&out));
    assert_eq!(databases(&format!("{}_seed_pg_", db.name)).len(), 50 + 1 + 1);
    expect(seed(&w, &db.url(), &["clone", "--gc"]), 0);
    assert_eq!(databases(&db.name), BTreeSet::from([db.name.clone(), template.clone()]));
    // The template still clones.
    let out = expect(seed(&w, &db.url(), &["clone", "pg"]), 0);
    let again = handle(&db_of(&stdout_lines(&out)[0]));
    assert_eq!(again.pg_dump_data(), expected);
    drop(again);
    drop_template(&template);
}

fn drop_template(template: &str) {
    server().psql("postgres", &format!("ALTER DATABASE \"{template}\" WITH IS_TEMPLATE false"));
    server().psql("postgres", &format!("DROP DATABASE \"{template}\""));
}

/// The demo schema with a Rails-style migration table at version 1.
fn migrated(tag: &str) -> TestDb {
    let db = TestDb::with_demo_schema(tag);
    db.load_sql(
        "CREATE TABLE schema_migrations (version varchar PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1')",
    );
    db
}

fn clone_json(w: &Workdir, url: &str, extra: &[&str]) -> std::process::Command {
    let mut args = vec!["clone", "mig", "--json"];
    args.extend_from_slice(extra);
    let mut cmd = seed(w, url, &args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

#[test]
fn a_migration_makes_exactly_one_of_twenty_concurrent_callers_rebuild_the_template() {
    let w = Workdir::new();
    let db = migrated("clmig");
    expect(seed(&w, &db.url(), &["prepare", "mig", "--template", "--count", "5"]), 0);
    let template = format!("{}_seed_mig_tpl", db.name);
    // Fresh: no rebuild.
    let out = expect(clone_json(&w, &db.url(), &[]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rebuilt"], false);
    let first = handle(doc["databases"][0].as_str().unwrap());

    // A migration: a new column and version 2.
    db.load_sql("ALTER TABLE offices ADD COLUMN floor int; INSERT INTO schema_migrations VALUES ('2')");
    let (rebuilt, urls) = concurrent_waiting_clones(&w, &db.url(), "mig", 20);
    let mut clones: Vec<TestDb> = urls.iter().map(|u| handle(&db_of(u))).collect();
    assert_eq!(rebuilt, 1, "exactly one caller rebuilt the template");
    let expected = db.pg_dump_data();
    for c in &clones {
        assert_eq!(
            c.psql(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'offices' AND column_name = 'floor'"
            ),
            "1"
        );
        assert_eq!(c.pg_dump_data(), expected, "{}", c.name);
    }
    // The clone made before the migration is untouched, and only one template remains.
    assert_eq!(first.psql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'floor'"), "0");
    let tpls: Vec<String> = databases(&db.name).into_iter().filter(|n| !n.contains("_seed_mig_2")).collect();
    assert_eq!(tpls, vec![db.name.clone(), template.clone()], "no retired or half-built template left");

    // A data-only migration (the version alone) rebuilds too; without --wait the others exit 8 naming the rebuilder.
    db.load_sql("INSERT INTO schema_migrations VALUES ('3')");
    let children: Vec<Child> = (0..20).map(|_| clone_json(&w, &db.url(), &[]).spawn().unwrap()).collect();
    let (mut rebuilt, mut refused) = (0, 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = all_output(&out);
        match out.status.code() {
            Some(0) => {
                let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
                rebuilt += usize::from(doc["rebuilt"] == true);
                clones.push(handle(doc["databases"][0].as_str().unwrap()));
            }
            Some(8) => {
                refused += 1;
                assert!(
                    text.contains("is locked by pid ") && text.contains("seed clone") && text.contains("--wait"),
                    "{text}"
                );
            }
            other => panic!("exit {other:?}:\n{text}"),
        }
    }
    assert_eq!(rebuilt, 1, "exactly one rebuild ({refused} callers refused)");
    drop(clones);
    drop(first);
    expect(seed(&w, &db.url(), &["clone", "--gc"]), 0);
    drop_template(&template);
}

#[test]
fn clone_failures_say_why_and_leave_no_half_built_clone() {
    let w = Workdir::new();
    let db = migrated("clfail");
    let prefix = format!("{}_seed_f_", db.name);
    // No template yet: exit 6, how to make one.
    let out = expect(seed(&w, &db.url(), &["clone", "f"]), 6);
    assert!(all_output(&out).contains("seed prepare f --template"), "{}", all_output(&out));
    // Names that cannot make a template are refused before anything is written.
    let out = expect(seed(&w, &db.url(), &["prepare", "a/b", "--template", "--count", "2"]), 2);
    assert_eq!(db.count("offices"), 0, "{}", all_output(&out));

    expect(seed(&w, &db.url(), &["prepare", "f", "--template", "--count", "5"]), 0);
    let template = format!("{prefix}tpl");

    // Wrong credentials: exit 3, no password shown, nothing made.
    let bad = db.url().replace(PG_PASSWORD, "wrong-pw-1");
    let out = expect(seed(&w, &bad, &["--retry-max-attempts", "1", "clone", "f"]), 3);
    assert!(!all_output(&out).contains("wrong-pw-1"), "{}", all_output(&out));

    // Someone connected to the template (a session from before it was locked down): who, and how to fix.
    server().psql("postgres", &format!("ALTER DATABASE \"{template}\" ALLOW_CONNECTIONS true"));
    let mut squatter =
        server().psql_cmd(&template).args(["-c", "SELECT pg_sleep(60)"]).env("PGAPPNAME", "squatter").spawn().unwrap();
    // Locked down again only once it is in (a psql not yet connected would be refused).
    wait_until(Duration::from_secs(30), "the squatter's session", || {
        (server().psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{template}'"))
            == "1")
            .then_some(())
    });
    server().psql("postgres", &format!("ALTER DATABASE \"{template}\" ALLOW_CONNECTIONS false"));
    let out = expect(seed(&w, &db.url(), &["clone", "f"]), 8);
    let text = all_output(&out);
    assert!(text.contains("squatter") && text.contains("pg_terminate_backend"), "{text}");
    assert_eq!(databases(&prefix), BTreeSet::from([template.clone()]), "no clone made");
    squatter.kill().unwrap();
    let _ = squatter.wait();
    server().psql(
        "postgres",
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{template}'"),
    );
    wait_until(Duration::from_secs(10), "the squatter to leave", || {
        (server().psql("postgres", &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{template}'"))
            == "0")
            .then_some(())
    });

    // A killed clone: every database under a clone name is whole (CREATE DATABASE is
    // atomic on the server), and --gc removes them.
    let expected = db.pg_dump_data();
    let mut child = seed(&w, &db.url(), &["clone", "f", "--count", "40"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(30), "the first clones", || (databases(&prefix).len() > 2).then_some(()));
    child.kill().unwrap();
    let _ = child.wait();
    // The server finishes the statement it was running.
    std::thread::sleep(Duration::from_millis(500));
    let left: Vec<String> = databases(&prefix).into_iter().filter(|n| *n != template).collect();
    assert!(!left.is_empty() && left.len() < 40, "killed part way: {left:?}");
    let handles: Vec<TestDb> = left.iter().map(|n| handle(n)).collect();
    for h in &handles {
        assert_eq!(h.pg_dump_data(), expected, "{} is whole", h.name);
    }
    expect(seed(&w, &db.url(), &["clone", "--gc"]), 0);
    assert_eq!(databases(&prefix), BTreeSet::from([template.clone()]));
    drop_template(&template);
}

// SQLite: the template is a file beside the database, a clone a copy renamed into place.

use crate::bulk::sqlite_with_schema;
use crate::common::repo_path;
use crate::common::sqlite3;

/// A SQLite file with Laravel's schema (its `migrations` table included).
fn laravel(w: &Workdir) -> std::path::PathBuf {
    let path = w.path().join("app.db");
    let sql = std::fs::read_to_string(repo_path("tests/fixtures/constraints/laravel.sqlite.sql")).unwrap();
    sqlite_with_schema(&path, &sql);
    sqlite3(&path, "INSERT INTO migrations (migration, batch) VALUES ('2024_01_01_create_users', 1)");
    path
}

fn sqlite_url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// Every row of every table and the schema, lines sorted.
fn sqlite_dump(path: &std::path::Path) -> Vec<String> {
    let mut lines: Vec<String> = sqlite3(path, ".dump").lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Equal dumps, or the first line that differs.
fn same(a: &[String], b: &[String], what: &str) {
    if a != b {
        let i = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).unwrap_or(0);
        panic!("{what}: differs at line {i}:\n  {:?}\n  {:?}", a.get(i), b.get(i));
    }
}

fn sqlite_files(dir: &std::path::Path, prefix: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn sqlite_path_of(url: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(url.strip_prefix("sqlite://").unwrap_or_else(|| panic!("a SQLite URL: {url}")))
}

#[test]
fn sqlite_template_fifty_concurrent_clones_then_drop_gc_rebuild_and_a_full_disk() {
    let w = Workdir::new();
    let path = laravel(&w);
    let url = sqlite_url(&path);
    expect(seed(&w, &url, &["prepare", "lv", "--template", "--count", "30", "--seed", "5"]), 0);
    let template = w.path().join("app_seed_lv_tpl.db");
    assert!(template.metadata().unwrap().permissions().readonly(), "the template is read-only");
    assert_eq!(sqlite3(&template, "PRAGMA journal_mode"), "delete");
    let expected = sqlite_dump(&path);
    assert!(expected.iter().filter(|l| l.starts_with("INSERT INTO users")).count() == 30, "seeded");
    assert_eq!(sqlite_dump(&template), expected);

    let children: Vec<Child> = (0..50)
        .map(|_| seed(&w, &url, &["clone", "lv"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let mut files = BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        let lines = stdout_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let p = sqlite_path_of(&lines[0]);
        assert!(p.is_absolute() && p.parent() == Some(w.path()), "{}", p.display());
        assert!(!p.metadata().unwrap().permissions().readonly(), "a clone is writable");
        same(&sqlite_dump(&p), &expected, &p.display().to_string());
        files.insert(p);
    }
    assert_eq!(files.len(), 50, "50 callers, 50 files");
    assert_eq!(sqlite_files(w.path(), "app_seed_lv_").len(), 50 + 3, "clones, the template, its record and lock");

    // --drop refuses the source and the template; then drops what it is given.
    let some: Vec<String> = files.iter().take(2).map(|p| sqlite_url(p)).collect();
    expect(seed(&w, &url, &["clone", "--drop", &url]), 2);
    expect(seed(&w, &url, &["clone", "--drop", &sqlite_url(&template)]), 2);
    expect(seed(&w, &url, &["clone", "--drop", &some[0], &some[1]]), 0);
    assert!(!sqlite_path_of(&some[0]).exists() && !sqlite_path_of(&some[1]).exists());
    // A leftover of a killed copy (its temporary name) and old clones go with --gc.
    std::fs::write(w.path().join("app_seed_lv_20200101000000_abcdefgh_new.db"), b"half a copy").unwrap();
    expect(seed(&w, &url, &["clone", "--gc", "--older-than", "1h"]), 0);
    assert_eq!(sqlite_files(w.path(), "app_seed_lv_").len(), 48 + 3, "only the old leftover went");
    expect(seed(&w, &url, &["clone", "--gc"]), 0);
    assert_eq!(
        sqlite_files(w.path(), "app_seed_lv_"),
        BTreeSet::from([
            "app_seed_lv_tpl.db".to_owned(),
            "app_seed_lv_tpl.db.json".into(),
            "app_seed_lv_tpl.db.lock".into()
        ])
    );
    assert!(path.exists(), "the source is never touched");

    // A migration: exactly one of 20 concurrent callers rebuilds.
    sqlite3(
        &path,
        "ALTER TABLE users ADD COLUMN nickname varchar; INSERT INTO migrations (migration, batch) VALUES ('2024_02_01_nickname', 2)",
    );
    let (rebuilt, urls) = concurrent_waiting_clones(&w, &url, "lv", 20);
    let made: Vec<std::path::PathBuf> = urls.iter().map(|u| sqlite_path_of(u)).collect();
    // The rebuild prepared the source again (rows with the new column) before copying it.
    let expected = sqlite_dump(&path);
    for p in &made {
        same(&sqlite_dump(p), &expected, &p.display().to_string());
    }
    assert_eq!(rebuilt, 1, "exactly one rebuild");
    assert!(expected.iter().any(|l| l.contains("nickname")));
    expect(seed(&w, &url, &["clone", "--gc"]), 0);

    // A full disk (the file-size limit below the template's size): exit 9, no file left.
    let before = sqlite_files(w.path(), "");
    let mut cmd = seed(&w, &url, &["clone", "lv"]);
    // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = expect(cmd, 9);
    assert!(all_output(&out).contains("not enough disk space"), "{}", all_output(&out));
    assert_eq!(sqlite_files(w.path(), ""), before, "nothing left behind");

    // No template of that name: exit 6.
    expect(seed(&w, &url, &["clone", "nope"]), 6);
}

// MariaDB: sakila copied inside the server (DDL, INSERT … SELECT, views, routines, triggers last).

use crate::common::mariadb::{MY_PASSWORD, MariaDb};

fn maria_clone_db(url: &str) -> MariaDb {
    assert!(url.starts_with("mysql://") && url.contains(MY_PASSWORD), "{url}");
    MariaDb { name: url.rsplit('/').next().unwrap().to_owned() }
}

/// Tables, views, routines and triggers of a database, and its AUTO_INCREMENT counters.
fn maria_objects(db: &MariaDb) -> String {
    let n = &db.name;
    crate::common::mariadb::server().sql(
        "",
        &format!(
            "SELECT CONCAT(TABLE_NAME, ' ', TABLE_TYPE, ' ', COALESCE(AUTO_INCREMENT, '')) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{n}'
             UNION ALL SELECT CONCAT('routine ', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = '{n}'
             UNION ALL SELECT CONCAT('trigger ', TRIGGER_NAME, ' ', EVENT_OBJECT_TABLE) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '{n}'
             UNION ALL SELECT CONCAT('fk ', CONSTRAINT_NAME) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '{n}'
             UNION ALL SELECT CONCAT('event ', EVENT_NAME, ' ', STATUS, ' ', INTERVAL_VALUE, ' ', INTERVAL_FIELD, ' ', MD5(EVENT_DEFINITION))
               FROM information_schema.EVENTS WHERE EVENT_SCHEMA = '{n}'
             ORDER BY 1"
        ),
    )
}

fn maria_databases(prefix: &str) -> BTreeSet<String> {
    crate::common::mariadb::server()
        .sql("", "SHOW DATABASES")
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn mariadb_sakila_template_fifty_concurrent_clones_then_drop_gc_and_one_rebuild_after_a_migration() {
    let w = Workdir::new();
    let db = MariaDb::sakila("clmy");
    db.sql(
        "CREATE TABLE schema_migrations (version varchar(20) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1')",
    );
    // An event (disabled: it must not run in the clones here) is copied too.
    db.sql("CREATE EVENT purge_rentals ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM rental WHERE rental_date < '2000-01-01'");
    let url = db.url();
    let out = expect(seed(&w, &url, &["prepare", "sk", "--template", "--count", "15", "--seed", "2"]), 0);
    assert!(!all_output(&out).contains(MY_PASSWORD));
    let prefix = format!("{}_seed_sk_", db.name);
    let template = MariaDb { name: format!("{prefix}tpl") };
    // A counter past the rows (in the template): kept by the copy from the DDL text, not
    // recomputed as max(id) + 1.
    template.sql("ALTER TABLE actor AUTO_INCREMENT = 5000");
    let expected = db.dump_data();
    assert_eq!(template.dump_data(), expected);
    let objects = maria_objects(&template).replace(&template.name, "DB");
    assert!(objects.contains("actor BASE TABLE 5000") && objects.contains("trigger ins_film film"), "{objects}");
    assert!(objects.contains("routine film_in_stock") && objects.contains("film_list VIEW"), "{objects}");
    assert!(objects.contains("event purge_rentals DISABLED 1 DAY"), "{objects}");
    let out = expect(seed(&w, &url, &["clone", "sk", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rebuilt"], false, "{doc}");
    let first = maria_clone_db(doc["urls"][0].as_str().unwrap());
    assert_eq!(maria_objects(&first).replace(&first.name, "DB"), objects);

    let children: Vec<Child> = (0..50)
        .map(|_| seed(&w, &url, &["clone", "sk"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let mut clones = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(MY_PASSWORD));
        let lines = stdout_lines(&out);
        assert_eq!(lines.len(), 1, "{lines:?}");
        clones.push(maria_clone_db(&lines[0]));
    }
    let names: BTreeSet<&String> = clones.iter().map(|c| &c.name).collect();
    assert_eq!(names.len(), 50);
    for c in &clones {
        assert_eq!(c.dump_data(), expected, "{}", c.name);
        assert_eq!(maria_objects(c).replace(&c.name, "DB"), objects, "{}", c.name);
        let comment = crate::common::mariadb::server().sql(
            "",
            &format!("SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}'", c.name),
        );
        assert_eq!(comment, "", "complete, not marked building");
    }
    // The triggers work in the copy (on the copy's tables).
    clones[0].sql("INSERT INTO film (title, language_id) VALUES ('NEW FILM', 1)");
    assert_eq!(clones[0].sql("SELECT COUNT(*) FROM film_text WHERE title = 'NEW FILM'"), "1");
    assert_eq!(clones[1].sql("SELECT COUNT(*) FROM film_text WHERE title = 'NEW FILM'"), "0");

    // --drop refuses the source and the template.
    expect(seed(&w, &url, &["clone", "--drop", &url]), 2);
    expect(seed(&w, &url, &["clone", "--drop", &template.url()]), 2);
    let (a, b) = (clones[0].url(), clones[1].url());
    expect(seed(&w, &url, &["clone", "--drop", &a, &b]), 0);
    assert_eq!(maria_databases(&prefix).len(), 1 + 48 + 1);
    // What a killed copy leaves (marked building) goes with --gc, young or old.
    let killed = format!("{prefix}20200101000000_abcdefgh");
    db.sql(&format!("CREATE DATABASE `{killed}` COMMENT 'seed: building'"));
    expect(seed(&w, &url, &["clone", "--gc", "--older-than", "1h"]), 0);
    assert!(!maria_databases(&prefix).contains(&killed));
    assert_eq!(maria_databases(&prefix).len(), 1 + 48 + 1);
    expect(seed(&w, &url, &["clone", "--gc"]), 0);
    assert_eq!(maria_databases(&prefix), BTreeSet::from([template.name.clone()]));

    // A migration: exactly one of 20 concurrent callers rebuilds; the others wait.
    db.sql("ALTER TABLE actor ADD COLUMN nickname varchar(20); INSERT INTO schema_migrations VALUES ('2')");
    let (rebuilt, urls) = concurrent_waiting_clones(&w, &url, "sk", 20);
    let made: Vec<MariaDb> = urls.iter().map(|u| maria_clone_db(u)).collect();
    assert_eq!(rebuilt, 1, "exactly one rebuild");
    let expected = db.dump_data();
    for c in &made {
        assert_eq!(c.dump_data(), expected, "{}", c.name);
        assert_eq!(c.sql("SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'nickname'"), "1");
    }

    // kill -9 part way, at several points: a database under a clone's name is whole, or
    // marked `seed: building` (MariaDB cannot rename a database: see db/mysql/template.rs);
    // --gc removes those.
    let objects = maria_objects(&template).replace(&template.name, "DB");
    let before = maria_databases(&prefix);
    let mut whole = 0;
    for delay in [30, 120, 250, 400, 700, 1000] {
        let mut child = seed(&w, &url, &["clone", "sk", "--count", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
    }
    std::thread::sleep(Duration::from_millis(500));
    for name in maria_databases(&prefix).difference(&before) {
        if name.ends_with("_new") {
            continue;
        }
        let c = MariaDb { name: name.clone() };
        let comment = crate::common::mariadb::server()
            .sql("", &format!("SELECT SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{name}'"));
        if comment == "seed: building" {
            continue;
        }
        assert_eq!(comment, "", "{name}");
        assert_eq!(c.dump_data(), expected, "{name} is whole");
        assert_eq!(maria_objects(&c).replace(name, "DB"), objects, "{name} is whole");
        std::mem::forget(c); // --gc drops it below
        whole += 1;
    }
    eprintln!("killed copies: {whole} whole clones left");
    drop(made);
    drop(clones);
    drop(first);
    expect(seed(&w, &url, &["clone", "--gc"]), 0);
    assert_eq!(maria_databases(&prefix), BTreeSet::from([template.name.clone()]), "--gc removed what the kills left");
    drop(template);
}

// The pool (`--pool N`, PostgreSQL): ready clones taken by a rename, refilled in the background.

/// The pool's ready clones under `prefix`.
fn ready_clones(prefix: &str) -> BTreeSet<String> {
    databases(prefix).into_iter().filter(|n| n.ends_with("_rdy")).collect()
}

/// `seed clone NAME --pool N --fill`, which waits for a refill under way: the pool is then full.
fn fill(w: &Workdir, url: &str, name: &str, size: &str) {
    let out = expect(seed(w, url, &["clone", name, "--pool", size, "--fill"]), 0);
    assert!(out.stdout.is_empty(), "--fill hands out nothing: {}", all_output(&out));
}

/// `seed clone --gc` until nothing but `keep` is left under `prefix` (a killed refill's
/// server session may still hold its lock for a moment).
fn gc_until_only(w: &Workdir, url: &str, prefix: &str, keep: &str) {
    wait_until(Duration::from_secs(30), "gc to leave only the template", || {
        expect(seed(w, url, &["clone", "--gc"]), 0);
        (databases(prefix) == BTreeSet::from([keep.to_owned()])).then_some(())
    });
}

#[test]
fn pool_fifty_callers_take_distinct_ready_clones_a_stale_template_empties_it_and_a_killed_refill_leaves_no_clone() {
    let w = Workdir::new();
    let db = migrated("clpool");
    expect(seed(&w, &db.url(), &["prepare", "p", "--template", "--count", "5"]), 0);
    let prefix = format!("{}_seed_p_", db.name);
    let template = format!("{prefix}tpl");
    let expected = db.pg_dump_data();

    fill(&w, &db.url(), "p", "8");
    let ready = ready_clones(&prefix);
    assert_eq!(ready.len(), 8, "{ready:?}");
    let tpl_record = server().psql(
        "postgres",
        &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{template}'"),
    );
    for r in &ready {
        let mark = server().psql(
            "postgres",
            &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{r}'"),
        );
        assert!(mark.starts_with("seed pool: ") && !tpl_record.is_empty(), "{r}: {mark}");
    }

    // 50 callers at once: each gets its own database, identical to the template; the 8
    // ready ones went to 8 of them, no ready clone to two.
    let children: Vec<Child> = (0..50)
        .map(|_| {
            seed(&w, &db.url(), &["clone", "p", "--pool", "8", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut names, mut from_pool) = (Vec::new(), 0);
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        from_pool += doc["from_pool"].as_u64().unwrap();
        names.push(db_of(doc["urls"][0].as_str().unwrap()));
    }
    let mut handles: Vec<TestDb> = names.iter().map(|n| handle(n)).collect();
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), 50, "50 callers, 50 databases");
    assert!(from_pool >= 8, "the 8 ready clones were taken ({from_pool} from the pool)");
    for h in &handles {
        assert!(!h.name.ends_with("_rdy") && h.name.starts_with(&prefix), "{}", h.name);
        assert!(!ready_clones(&prefix).contains(&h.name));
        same(&h.pg_dump_data(), &expected, &h.name);
    }
    // The background refills (one at a time) bring the pool back to 8.
    fill(&w, &db.url(), "p", "8");
    assert_eq!(ready_clones(&prefix).len(), 8);

    // A migration: the next caller rebuilds the template and takes no copy of the old one.
    db.load_sql("ALTER TABLE offices ADD COLUMN floor int; INSERT INTO schema_migrations VALUES ('2')");
    let old_ready = ready_clones(&prefix);
    let out = expect(seed(&w, &db.url(), &["clone", "p", "--pool", "8", "--wait", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["rebuilt"].as_bool(), doc["from_pool"].as_u64()), (Some(true), Some(0)), "{doc}");
    let fresh = handle(&db_of(doc["urls"][0].as_str().unwrap()));
    let floor =
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'offices' AND column_name = 'floor'";
    assert_eq!(fresh.psql(floor), "1");
    // The refill drops the old template's copies and makes new ones.
    fill(&w, &db.url(), "p", "8");
    let new_ready = ready_clones(&prefix);
    assert_eq!(new_ready.len(), 8);
    assert!(new_ready.is_disjoint(&old_ready), "no copy of the old template kept");
    let out = expect(seed(&w, &db.url(), &["clone", "p", "--pool", "8", "--json"]), 0);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["from_pool"].as_u64(), Some(1), "{doc}");
    let taken = handle(&db_of(doc["urls"][0].as_str().unwrap()));
    assert_eq!(taken.psql(floor), "1");
    same(&taken.pg_dump_data(), &db.pg_dump_data(), &taken.name);
    fill(&w, &db.url(), "p", "8");

    // --drop takes a clone that came from the pool like any other.
    let out = expect(seed(&w, &db.url(), &["clone", "--drop", doc["urls"][0].as_str().unwrap()]), 0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped 1 clone"), "{}", all_output(&out));
    assert!(!databases(&prefix).contains(&taken.name));

    // kill -9 during a refill: nothing under a clone name but whole ready clones (the
    // copy in progress has a temporary `…_new` name, which --gc removes).
    let expected = db.pg_dump_data();
    let before: BTreeSet<String> = databases(&prefix).into_iter().filter(|n| !n.ends_with("_rdy")).collect();
    let mut refill = seed(&w, &db.url(), &["clone", "p", "--pool", "40", "--fill"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(60), "the refill's copies", || (ready_clones(&prefix).len() > 10).then_some(()));
    refill.kill().unwrap(); // SIGKILL
    let _ = refill.wait();
    std::thread::sleep(Duration::from_millis(500));
    let after: BTreeSet<String> =
        databases(&prefix).into_iter().filter(|n| !n.ends_with("_rdy") && !n.ends_with("_new")).collect();
    assert_eq!(after, before, "a refill makes nothing under a clone's name");
    let ready = ready_clones(&prefix);
    assert!(ready.len() > 10 && ready.len() < 40, "killed part way: {}", ready.len());
    for r in &ready {
        same(&handle(r).pg_dump_data(), &expected, r);
    }
    // --gc drops the ready clones, the clones and what the kill left; never the template or the source.
    handles.push(fresh);
    drop(handles);
    drop(taken);
    gc_until_only(&w, &db.url(), &prefix, &template);
    assert!(databases(&db.name).contains(&db.name));
    drop_template(&template);
}
