//! Every exit code `seed --help`, the man page and the README document (one table,
//! `error::code::MEANINGS`) is what seed really exits with: each is reached here by a
//! run of the binary; `--help`, `seed man` and the README's table say what the code's
//! table says.

use std::os::unix::process::CommandExt;
use std::process::Output;
use std::time::{Duration, Instant};

use seed::error::code;

use crate::bulk::{bulk, bulk_embedded, finish, sigint, spawn_bulk};
use crate::common::{TestDb, Workdir, all_output, expect_code, hold_lock, repo_path, server};

/// A run of seed that ends with `exit`.
fn reach(exit: u8) -> Output {
    let w = Workdir::new();
    let seed = |args: &[&str]| w.seed().args(args).arg("--no-progress").output().unwrap();
    match exit {
        code::OK => bulk_embedded(&w, &["--count", "3"]),
        // Man pages into a directory under a plain file: an I/O error (ENOTDIR).
        code::INTERNAL => {
            std::fs::write(w.path().join("plain"), "").unwrap();
            seed(&["man", "--dir", "plain/man1"])
        }
        // A table the database does not have is a usage error, not a schema one.
        code::USAGE => bulk_embedded(&w, &["--count", "1", "--table", "no_such_table=1"]),
        code::CONNECTION => seed(&[
            "--database-url",
            "postgres://seed@127.0.0.1:1/x",
            "--retry-max-attempts",
            "1",
            "bulk",
            "--count",
            "1",
        ]),
        code::DATA => {
            let db = TestDb::with_demo_schema("exit_data");
            db.load_sql("ALTER TABLE staffs ADD CONSTRAINT never CHECK (name LIKE 'ZZZ%' AND name LIKE 'YYY%')");
            bulk(&w, &db.url(), &["--count", "5"])
        }
        // A database with no tables (not the embedded default, which gets the demo schema).
        code::SCHEMA => {
            // An empty file is an SQLite database with no tables.
            std::fs::write(w.path().join("empty.db"), "").unwrap();
            seed(&["--database-url", "sqlite://empty.db", "bulk", "--count", "1"])
        }
        code::SNAPSHOT_MISSING => seed(&["snapshot", "show", "nowhere"]),
        code::SNAPSHOT_CORRUPT => {
            std::fs::create_dir_all(w.path().join("snapshots")).unwrap();
            std::fs::write(w.path().join("snapshots/bad.seed.gz"), "not a snapshot").unwrap();
            seed(&["snapshot", "verify", "bad"])
        }
        code::LOCK_HELD => {
            expect_code(&bulk_embedded(&w, &["--count", "3"]), 0);
            expect_code(&seed(&["snapshot", "create", "held"]), 0);
            let _lock = hold_lock(&w.path().join("snapshots"), "held");
            seed(&["snapshot", "delete", "held"])
        }
        // Past the file-size limit while the snapshot is written.
        code::DISK_SPACE => {
            expect_code(&bulk_embedded(&w, &["--count", "50"]), 0);
            let mut cmd = w.seed_std();
            cmd.args(["snapshot", "create", "big", "--no-progress"]);
            // SAFETY: setrlimit is async-signal-safe; runs in the child between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    let limit = libc::rlimit { rlim_cur: 4096, rlim_max: 4096 };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.output().unwrap()
        }
        // Every row costs 20 ms: 100 rows take 2 s, past the 1 s limit.
        code::TIMEOUT => {
            let db = TestDb::with_demo_schema("exit_timeout");
            db.load_sql(
                "CREATE FUNCTION slow_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$;
                 CREATE TRIGGER slow BEFORE INSERT ON welfare_recipients FOR EACH ROW EXECUTE FUNCTION slow_row();",
            );
            bulk(&w, &db.url(), &["--count", "100", "--statement-timeout", "1s", "--retry-max-attempts", "1"])
        }
        // A role that may connect but not read the tables.
        code::PERMISSION => {
            let db = TestDb::with_demo_schema("exit_permission");
            db.load_sql("DROP ROLE IF EXISTS exit_nopriv; CREATE ROLE exit_nopriv LOGIN PASSWORD 'Nopriv-Pw-1'");
            let url = format!("postgres://exit_nopriv:Nopriv-Pw-1@127.0.0.1:{}/{}", server().port, db.name);
            let out = bulk(&w, &url, &["--count", "1"]);
            db.load_sql("DROP OWNED BY exit_nopriv; DROP ROLE exit_nopriv");
            out
        }
        code::DIFFERENCES => {
            expect_code(&bulk_embedded(&w, &["--count", "3"]), 0);
            expect_code(&seed(&["snapshot", "create", "before"]), 0);
            expect_code(&bulk_embedded(&w, &["--count", "1"]), 0);
            expect_code(&seed(&["snapshot", "create", "after"]), 0);
            seed(&["snapshot", "diff", "before", "after"])
        }
        code::DEPENDENTS => {
            expect_code(&bulk_embedded(&w, &["--count", "3"]), 0);
            expect_code(&seed(&["snapshot", "create", "base"]), 0);
            expect_code(&bulk_embedded(&w, &["--count", "1"]), 0);
            expect_code(&seed(&["snapshot", "create", "base", "--new-version"]), 0);
            seed(&["snapshot", "delete", "base@1"])
        }
        // Ctrl-C once the load is writing.
        code::INTERRUPTED => {
            expect_code(&bulk_embedded(&w, &["--count", "3"]), 0);
            let mut child = spawn_bulk(&w, None, &["--count", "1000000"]);
            let journal = w.path().join("seed.db-journal");
            let started = Instant::now();
            while std::fs::metadata(&journal).map_or(0, |m| m.len()) == 0 {
                assert!(child.try_wait().unwrap().is_none(), "seed bulk ended before it wrote anything");
                assert!(started.elapsed() < Duration::from_secs(30), "the load never started writing");
                std::thread::sleep(Duration::from_millis(10));
            }
            sigint(&child);
            finish(child, Duration::from_secs(30))
        }
        other => panic!("exit code {other} is documented but this test cannot reach it: add a run that does"),
    }
}

#[test]
fn every_documented_exit_code_is_what_seed_exits_with() {
    for m in code::MEANINGS {
        let out = reach(m.code);
        assert_eq!(out.status.code(), Some(i32::from(m.code)), "exit {} ({}):\n{}", m.code, m.short, all_output(&out));
    }
}

/// The exit-code table of the README (or of the page of docs/ that holds it now): the
/// code's table, word for word.
#[test]
fn the_documented_table_is_the_code_table() {
    let mut pages = vec![repo_path("README.md")];
    if let Ok(dir) = std::fs::read_dir(repo_path("docs")) {
        pages.extend(dir.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "md")));
    }
    let tables: Vec<Vec<(u8, String)>> = pages
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let start = text.find("| code | meaning |")?;
            let rows = text[start..]
                .lines()
                .skip(2)
                .take_while(|l| l.starts_with('|'))
                .map(|l| {
                    let cells: Vec<&str> = l.trim_matches('|').splitn(2, '|').map(str::trim).collect();
                    (cells[0].parse().expect("a code"), cells[1].to_owned())
                })
                .collect();
            Some(rows)
        })
        .collect();
    assert_eq!(tables.len(), 1, "one page documents the exit codes (a `| code | meaning |` table)");
    let expected: Vec<(u8, String)> = code::MEANINGS.iter().map(|m| (m.code, m.long.to_owned())).collect();
    assert_eq!(tables[0], expected, "the documented table differs from error::code::MEANINGS");
}

/// `seed --help` and `seed man` list every code with the table's words.
#[test]
fn help_and_the_man_page_list_the_code_table() {
    let w = Workdir::new();
    let help = expect_code(&w.seed().arg("--help").output().unwrap(), 0);
    let man = expect_code(&w.seed().arg("man").output().unwrap(), 0);
    // roff escapes dashes and quotes; a line of the table is one line of the page.
    let man = man.replace("\\-", "-").replace("\\*(Aq", "'");
    for m in code::MEANINGS {
        let line = format!("{:>5}  {}", m.code, m.short);
        assert!(help.lines().any(|l| l == line), "seed --help lacks `{line}`:\n{help}");
        assert!(man.lines().any(|l| l.trim() == line.trim()), "seed man lacks `{line}`:\n{man}");
    }
}
