//! Where settings come from and how secrets stay secret: URL shapes, boolean
//! environment values, libpq variables, `.env`, `seed.toml`.

use crate::common::{Workdir, all_output};

/// A local TCP port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Output and the audit log of `w` hold none of `secrets`.
fn assert_hidden(w: &Workdir, out: &std::process::Output, secrets: &[&str], what: &str) {
    let mut text = all_output(out);
    if let Ok(audit) = std::fs::read_to_string(w.path().join("snapshots/audit.log")) {
        text.push_str(&audit);
    }
    for s in secrets {
        assert!(!text.contains(s), "{what}: '{s}' leaked:\n{text}");
    }
    // Nothing is masked inside a word (`attem***t(s)`, `sna***shot`).
    for (i, _) in text.match_indices("***") {
        let before = text[..i].chars().next_back();
        assert!(before.is_none_or(|c| !c.is_alphanumeric()), "{what}: masked inside a word:\n{text}");
    }
}

#[test]
fn r8_5_passwords_in_odd_urls_are_never_printed() {
    let port = closed_port();
    let cases = [
        // missing `//`: rejected, masked
        (format!("postgres:user:S3cr3t-nine@127.0.0.1:{port}/db"), vec!["S3cr3t"], Some("postgres:***@")),
        // unencoded `#`: rejected, masked whole
        (
            format!("postgres://app:p@ss#w0rd-x@127.0.0.1:{port}/db"),
            vec!["w0rd", "p@ss", "ss#"],
            Some("postgres://app:***@"),
        ),
        // unencoded `/`: rejected, masked whole
        (format!("postgres://app:12/Sl4sh-pw@127.0.0.1:{port}/db"), vec!["Sl4sh", "12/"], Some("postgres://app:***@")),
        // well-formed: accepted, fails to connect
        (format!("postgres://app:Pw-Valid-123@127.0.0.1:{port}/db"), vec!["Pw-Valid-123"], None),
        // a one-letter password: masked in the URL, never searched for in words
        (format!("postgres://app:p@127.0.0.1:{port}/db"), vec![":p@"], None),
    ];
    for (url, secrets, shown) in &cases {
        for format in ["text", "json"] {
            for command in [&["doctor"][..], &["snapshot", "create", "base"][..], &["bulk", "--count", "1"][..]] {
                let w = Workdir::new();
                std::fs::create_dir(w.path().join("snapshots")).unwrap();
                let out = w
                    .seed()
                    .args(["--log-format", format, "--retry-max-attempts", "1", "--database-url", url])
                    .args(command)
                    .output()
                    .unwrap();
                let what = format!("{url} {format} {command:?}");
                let code = out.status.code();
                match shown {
                    Some(masked) => {
                        assert_eq!(code, Some(2), "{what}: {}", all_output(&out));
                        assert!(all_output(&out).contains(masked), "{what}: {}", all_output(&out));
                    }
                    None => assert_eq!(code, Some(3), "{what}: {}", all_output(&out)),
                }
                if format == "json" {
                    for line in String::from_utf8_lossy(&out.stderr).lines() {
                        serde_json::from_str::<serde_json::Value>(line)
                            .unwrap_or_else(|e| panic!("{what}: {e}: {line}"));
                    }
                }
                assert_hidden(&w, &out, secrets, &what);
            }
        }
    }
}

#[test]
fn r8_5_short_password_leaves_words_alone() {
    let w = Workdir::new();
    let url = format!("postgres://app:p@127.0.0.1:{}/db", closed_port());
    let out = w.seed().args(["--retry-max-attempts", "1", "--database-url", &url, "doctor"]).output().unwrap();
    let text = all_output(&out);
    assert!(text.contains("after 1 attempt"), "{text}");
    assert!(text.contains("snapshot directory"), "{text}");
    assert!(text.contains("postgres://app:***@127.0.0.1"), "{text}");
}

#[test]
fn r8_5_url_typed_as_an_argument_is_masked_in_the_parse_error() {
    let w = Workdir::new();
    for args in [
        vec!["bulk", "postgres://u:Pos1tional-pw@h/db"],
        vec!["bulk", "postgres://u:pw@h/db"],
        vec!["snapshot", "create", "x", "postgres://u:Sp ace-pw@h/db"],
        vec!["--log-format", "json", "bulk", "postgres:u:No-Sl4shes@h/db"],
        vec!["--log-format", "json", "snapshot", "create", "x", "postgres://u:Sp ace-pw@h/db"],
    ] {
        let out = w.seed().args(&args).output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains(":***@h/db"), "{args:?}: {text}");
        for secret in ["Pos1tional", ":pw@", "Sp ace", "No-Sl4shes"] {
            assert!(!text.contains(secret), "{args:?} leaked {secret}: {text}");
        }
    }
}

#[test]
fn r8_9_boolean_env_values() {
    let w = Workdir::new();
    for v in ["1", "0", "", "true", "FALSE", "yes", "No", "on", "OFF"] {
        let out = w.seed().env("SEED_NO_PROGRESS", v).args(["snapshot", "list"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "SEED_NO_PROGRESS={v:?}: {}", all_output(&out));
    }
    let out = w.seed().env("SEED_NO_PROGRESS", "maybe").args(["snapshot", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("1/0, true/false, yes/no or on/off"), "{}", all_output(&out));

    // The remote guard: refused unless SEED_ALLOW_REMOTE says yes (then the
    // unresolvable host fails to connect: exit 3).
    let remote = "postgres://app@remote.invalid/db";
    for (v, code) in [("1", 3), ("yes", 3), ("ON", 3), ("0", 2), ("", 2), ("off", 2)] {
        let out = w
            .seed()
            .env("SEED_ALLOW_REMOTE", v)
            .args(["--database-url", remote, "--retry-max-attempts", "1", "--connect-timeout", "2s"])
            .args(["bulk", "--count", "1", "--truncate"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "SEED_ALLOW_REMOTE={v:?}: {}", all_output(&out));
        if code == 2 {
            assert!(all_output(&out).contains("refusing to --truncate"), "{}", all_output(&out));
        }
    }
}

/// The harness server as libpq variables (TCP, password in PGPASSWORD).
fn pg_vars(db: &crate::common::TestDb) -> Vec<(&'static str, String)> {
    use crate::common::{PG_PASSWORD, PG_USER, server};
    vec![
        ("PGHOST", "127.0.0.1".to_owned()),
        ("PGPORT", server().port.to_string()),
        ("PGUSER", PG_USER.to_owned()),
        ("PGPASSWORD", PG_PASSWORD.to_owned()),
        ("PGDATABASE", db.name.clone()),
    ]
}

#[test]
fn r11_1_connects_through_libpq_variables_only() {
    use crate::common::{TestDb, assert_no_password};
    let db = TestDb::with_demo_schema("libpq_env");
    let w = Workdir::new();
    let out = w
        .seed()
        .envs(pg_vars(&db))
        .env("HOME", w.path())
        .args(["bulk", "--count", "7", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert_eq!(db.count("staffs"), 7);
    assert!(!w.path().join("seed.db").exists(), "fell back to SQLite");
    // doctor says where the URL came from.
    let out = w.seed().envs(pg_vars(&db)).env("HOME", w.path()).args(["doctor", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let source = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "database source").unwrap();
    assert_eq!(source["detail"], "the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER)");
    // Over the Unix socket (trust auth): PGHOST is a directory.
    let socket = crate::common::server().socket_dir.display().to_string();
    let out = w
        .seed()
        .envs(pg_vars(&db))
        .env("PGHOST", &socket)
        .env_remove("PGPASSWORD")
        .env("HOME", w.path())
        .args(["bulk", "--count", "3", "--truncate", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(db.count("staffs"), 3);
}

#[test]
fn r11_1_pgservice_is_read_from_the_service_file() {
    use crate::common::{PG_PASSWORD, PG_USER, TestDb, assert_no_password, server};
    let db = TestDb::with_demo_schema("libpq_service");
    let w = Workdir::new();
    let file = w.path().join("services.conf");
    std::fs::write(
        &file,
        format!(
            "# team services\n[other]\nhost=remote.invalid\n\n[harness]\nhost=127.0.0.1\nport={}\ndbname={}\nuser={PG_USER}\npassword={PG_PASSWORD}\n",
            server().port,
            db.name
        ),
    )
    .unwrap();
    let run = |service: &str, args: &[&str]| {
        w.seed()
            .env("PGSERVICE", service)
            .env("PGSERVICEFILE", &file)
            .env("PGSYSCONFDIR", w.path().join("none"))
            .env("HOME", w.path())
            .args(args)
            .output()
            .unwrap()
    };
    let out = run("harness", &["bulk", "--count", "4", "--no-progress"]);
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert_eq!(db.count("staffs"), 4);
    let out = run("harness", &["doctor"]);
    assert_no_password(&out);
    assert!(all_output(&out).contains("service 'harness' in"), "{}", all_output(&out));
    // An unknown service is refused, naming it and the file.
    let out = run("nope", &["doctor"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("service 'nope' is not defined in"), "{}", all_output(&out));
    // A service pointing at a remote host is judged by that host.
    let out = run("other", &["bulk", "--count", "1", "--truncate"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("refusing to --truncate"), "{}", all_output(&out));
}

#[test]
fn r8_6_remote_guard_judges_the_host_actually_used() {
    use crate::common::TestDb;
    let w = Workdir::new();
    std::fs::create_dir(w.path().join("snapshots")).unwrap();
    let refused = |envs: &[(&str, &str)], url: &str, command: &[&str]| {
        let out = w
            .seed()
            .envs(envs.iter().copied())
            .env("HOME", w.path())
            .args(["--database-url", url, "--retry-max-attempts", "1", "--connect-timeout", "2s"])
            .args(command)
            .output()
            .unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{envs:?} {url} {command:?}: {text}");
        assert!(text.contains("refusing to"), "{envs:?} {url}: {text}");
        assert!(text.contains("not on this machine"), "{text}");
    };
    let truncate: &[&str] = &["bulk", "--count", "1", "--truncate"];
    let clean: &[&str] = &["snapshot", "restore", "base", "--clean"];
    for command in [truncate, clean] {
        refused(&[("PGHOST", "remote.invalid")], "postgres:///db", command);
        refused(&[("PGHOST", "192.0.2.10")], "postgres:///db", command);
        // libpq connects to PGHOSTADDR whatever the URL's host says.
        refused(&[("PGHOSTADDR", "192.0.2.10")], "postgres://localhost/db", command);
        refused(&[("PGHOST", "192.0.2.10")], "postgres://?dbname=db", command);
    }
    // The same through the libpq variables alone.
    let out = w
        .seed()
        .env("PGHOST", "192.0.2.10")
        .env("PGDATABASE", "db")
        .args(["bulk", "--count", "1", "--truncate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("refusing to --truncate tables on postgres://192.0.2.10/db"),
        "{}",
        all_output(&out)
    );

    // A local host given only by PGHOST passes the guard and truncates.
    let db = TestDb::with_demo_schema("guard_local");
    let out = w
        .seed()
        .envs(pg_vars(&db))
        .env("PGHOST", "localhost")
        .env("HOME", w.path())
        .args(["bulk", "--count", "2", "--truncate", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(db.count("staffs"), 2);
}

#[test]
fn r11_2_dotenv_is_read_first_come_and_never_printed() {
    use crate::common::{PG_PASSWORD, TestDb, assert_no_password, server};
    let db = TestDb::with_demo_schema("dotenv");
    let w = Workdir::new();
    std::fs::write(
        w.path().join(".env"),
        format!("# my dev database\nDATABASE_URL={}\nSEED_NO_PROGRESS=yes\n", db.url()),
    )
    .unwrap();
    let out = w.seed().args(["bulk", "--count", "5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert_eq!(db.count("staffs"), 5);
    assert!(!w.path().join("seed.db").exists());

    // Before emptying tables: the masked URL and where it came from.
    let target =
        format!("target: postgres://postgres:***@127.0.0.1:{}/{} (from DATABASE_URL in .env)", server().port, db.name);
    let out = w.seed().args(["bulk", "--count", "2", "--truncate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains(&target), "{}", all_output(&out));
    assert_eq!(db.count("staffs"), 2);
    let out = w.seed().args(["snapshot", "create", "base"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = w.seed().args(["--log-format", "json", "snapshot", "restore", "base", "--clean"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stderr).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let event = events.iter().find(|e| e["event"] == "target").expect("a target event");
    assert_eq!(event["message"], target.as_str());

    // doctor names the source.
    let out = w.seed().arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("database source    DATABASE_URL in .env"), "{}", all_output(&out));

    // A variable already set wins over the file.
    let out = w.seed().env("DATABASE_URL", "sqlite://env.db").arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("database source    DATABASE_URL\n"), "{}", all_output(&out));

    // --no-env-file: the SQLite default.
    let out = w.seed().args(["--no-env-file", "doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(all_output(&out).contains("database source    default"), "{}", all_output(&out));

    // --env-file names another file; libpq variables work from it too.
    std::fs::write(
        w.path().join("ci.env"),
        format!(
            "PGHOST=127.0.0.1\nPGPORT={}\nPGUSER=postgres\nPGPASSWORD='{PG_PASSWORD}'\nPGDATABASE={}\n",
            server().port,
            db.name
        ),
    )
    .unwrap();
    let out = w.seed().args(["bulk", "--count", "3", "--truncate", "--env-file", "ci.env"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert!(
        all_output(&out).contains("(from the libpq environment (PGHOST in ci.env, PGPORT in ci.env"),
        "{}",
        all_output(&out)
    );
    assert_eq!(db.count("staffs"), 3);

    // A missing --env-file, a line that does not parse: usage errors, no value shown.
    let out = w.seed().args(["--env-file", "nope.env", "doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    std::fs::write(w.path().join("bad.env"), "A=1\nDATABASE_URL postgres://u:Bad-Line-Secret@h/db\n").unwrap();
    let out = w.seed().args(["--env-file", "bad.env", "doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("bad.env:2: cannot parse"), "{}", all_output(&out));
    assert!(!all_output(&out).contains("Bad-Line-Secret"), "{}", all_output(&out));
}

/// `seed snapshot show NAME --json`'s header: tables (name → rows) and gzip level.
fn snapshot_summary(w: &Workdir, args: &[&str], name: &str) -> (Vec<(String, u64)>, u64) {
    let out = w.seed().args(args).args(["snapshot", "show", name, "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tables = doc["header"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_owned(), t["rows"].as_u64().unwrap()))
        .collect();
    (tables, doc["header"]["compression"]["level"].as_u64().unwrap())
}

/// doctor's effective settings, name → source.
fn effective_sources(w: &Workdir, envs: &[(&str, &str)], args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let out = w.seed().envs(envs.iter().copied()).args(args).args(["doctor", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "settings").unwrap().clone();
    check["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["source"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn r11_7_seed_toml_fills_what_flags_and_env_leave_unset() {
    let w = Workdir::new();
    std::fs::write(
        w.path().join("seed.toml"),
        "# team settings\nsnapshot-dir = \"snaps\"\nretry_max_attempts = 3\n\n[bulk]\ncount = 50\ntables = { staffs = 10, offices = 9 }\nseed = 9\n\n[snapshot]\nexclude = [\"offices\"]\ncompression-level = 1\n",
    )
    .unwrap();
    let out = w.seed().args(["bulk", "--table", "offices=6", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let out = w.seed().args(["snapshot", "create", "base"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(w.path().join("snaps/base.seed.gz").exists(), "snapshot-dir from seed.toml");
    let (tables, level) = snapshot_summary(&w, &[], "base");
    assert_eq!(level, 1);
    let rows: std::collections::BTreeMap<_, _> = tables.into_iter().collect();
    assert!(!rows.contains_key("offices"), "[snapshot] exclude: {rows:?}");
    assert_eq!(rows["staffs"], 10, "[bulk] tables");
    assert_eq!(rows["welfare_recipients"], 50, "[bulk] count");
    assert_eq!(rows["office_staffs"], 50);

    // Flags beat the file, for command options too.
    let out = w
        .seed()
        .args(["snapshot", "create", "all", "--exclude", "staffs", "--compression-level", "6"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let (tables, level) = snapshot_summary(&w, &[], "all");
    assert_eq!(level, 6);
    let rows: std::collections::BTreeMap<_, _> = tables.into_iter().collect();
    assert!(!rows.contains_key("staffs"), "{rows:?}");
    assert_eq!(rows["offices"], 6, "--table offices=6 beats the file's 9");

    // flag > env (.env included) > seed.toml > default, and doctor says which.
    let sources = effective_sources(&w, &[], &[]);
    assert_eq!(sources["snapshot-dir"], "seed.toml:2");
    assert_eq!(sources["retry-max-attempts"], "seed.toml:3");
    assert_eq!(sources["retry-base-delay"], "default");
    assert_eq!(sources["bulk.count"], "seed.toml:6");
    let sources = effective_sources(&w, &[("SEED_SNAPSHOT_DIR", "envsnaps")], &[]);
    assert_eq!(sources["snapshot-dir"], "SEED_SNAPSHOT_DIR");
    let sources = effective_sources(&w, &[("SEED_SNAPSHOT_DIR", "envsnaps")], &["--snapshot-dir", "flagsnaps"]);
    assert_eq!(sources["snapshot-dir"], "--snapshot-dir");
    std::fs::write(w.path().join(".env"), "SEED_SNAPSHOT_DIR=dotsnaps\n").unwrap();
    let sources = effective_sources(&w, &[], &[]);
    assert_eq!(sources["snapshot-dir"], "SEED_SNAPSHOT_DIR in .env");
    let out = w.seed().arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("snapshot-dir=dotsnaps (SEED_SNAPSHOT_DIR in .env)"), "{}", all_output(&out));
}

#[test]
fn r11_7_config_flag_paths_from_its_folder_and_errors_with_lines() {
    let w = Workdir::new();
    std::fs::create_dir(w.path().join("conf")).unwrap();
    std::fs::write(w.path().join("conf/team.toml"), "snapshot_dir = \"snaps\"\n").unwrap();
    let sources = effective_sources(&w, &[], &["--config", "conf/team.toml"]);
    assert_eq!(sources["snapshot-dir"], "conf/team.toml:1");
    let out = w.seed().args(["--config", "conf/team.toml", "doctor"]).output().unwrap();
    assert!(all_output(&out).contains("snapshot-dir=conf/snaps"), "relative to the file: {}", all_output(&out));
    let out = w.seed().env("SEED_CONFIG", "conf/team.toml").arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("snapshot-dir=conf/snaps"), "{}", all_output(&out));

    for (text, expect) in [
        ("snapshot-dir = \"s\"\n\n[bulk]\ncuont = 5\n", "seed.toml:4: unknown field `cuont`"),
        ("\ndatabase-url = \"postgres://app:Committed-Pw-1@db/app\"\n", "seed.toml:2: database-url holds a password"),
        ("allow-remote = true\n", "seed.toml:1: allow-remote is not allowed"),
        ("[bulk]\ntruncate = true\n", "seed.toml:2: bulk.truncate is not allowed"),
        ("retry-max-delay = \"soon\"\n", "seed.toml:1: retry-max-delay must be a duration"),
    ] {
        std::fs::write(w.path().join("seed.toml"), text).unwrap();
        let out = w.seed().args(["snapshot", "list"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{text:?}: {}", all_output(&out));
        assert!(all_output(&out).contains(expect), "{text:?}: {}", all_output(&out));
        assert!(!all_output(&out).contains("Committed-Pw-1"), "{}", all_output(&out));
    }
    let out = w.seed().args(["--config", "missing.toml", "doctor"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
}

#[test]
fn r11_7_database_url_from_seed_toml_without_its_password() {
    use crate::common::{PG_PASSWORD, PG_USER, TestDb, assert_no_password, server};
    let db = TestDb::with_demo_schema("seed_toml_url");
    let w = Workdir::new();
    std::fs::write(
        w.path().join("seed.toml"),
        format!("database-url = \"postgres://{PG_USER}@127.0.0.1:{}/{}\"\n", server().port, db.name),
    )
    .unwrap();
    let out = w
        .seed()
        .env("PGPASSWORD", PG_PASSWORD)
        .env("HOME", w.path())
        .args(["bulk", "--count", "6", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert_eq!(db.count("staffs"), 6);
    let out = w.seed().env("PGPASSWORD", PG_PASSWORD).env("HOME", w.path()).arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("database source    seed.toml:1"), "{}", all_output(&out));
    // The environment beats the file: DATABASE_URL, and the libpq variables too.
    let out = w.seed().env("DATABASE_URL", "sqlite://env.db").arg("doctor").output().unwrap();
    assert!(all_output(&out).contains("database source    DATABASE_URL"), "{}", all_output(&out));
    let out = w.seed().env("PGHOST", "127.0.0.1").env("HOME", w.path()).args(["doctor", "--json"]).output().unwrap();
    assert!(all_output(&out).contains("the libpq environment (PGHOST)"), "{}", all_output(&out));
}
