//! Argument and URL validation: clear messages, the usage exit code, nothing connects.

use crate::common::{Workdir, all_output};

#[test]
fn unknown_flag_is_a_usage_error() {
    let w = Workdir::new();
    let out = w.seed().args(["doctor", "--frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("--frobnicate"));
}

#[test]
fn unknown_command_is_a_usage_error() {
    let w = Workdir::new();
    let out = w.seed().arg("explode").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_urls_are_usage_errors_naming_the_problem() {
    let w = Workdir::new();
    for (url, expect) in [
        ("http://example.com/db", "http://example.com/db is not a database URL (unknown scheme)"),
        ("mysql://u:topsecret@[::bad/db", "invalid MySQL/MariaDB URL"),
        ("not a url", "not a database URL (it has no scheme"),
        ("postgres://u:topsecret@[::bad/db", "invalid PostgreSQL URL"),
    ] {
        let out = w.seed().args(["doctor", "--database-url", url]).output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{url}: {text}");
        assert!(text.contains(expect), "{url}: {text}");
        assert!(!text.contains("topsecret"), "{url} leaked its password: {text}");
        assert!(text.contains("hint:"), "{url}: {text}");
    }
}

#[test]
fn url_from_env_is_used_and_flag_beats_env() {
    let w = Workdir::new();
    // The env URL is bad; the flag overrides it with a good one.
    let out = w
        .seed()
        .env("DATABASE_URL", "http://nope")
        .args(["doctor", "--database-url", "sqlite://flag.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    // The flag's database was the one checked, and doctor never creates it.
    assert!(all_output(&out).contains("flag.db"), "{}", all_output(&out));
    assert!(!w.path().join("flag.db").exists(), "doctor created the database file");
    let out = w.seed().env("DATABASE_URL", "http://nope").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nonsense_retry_settings_are_rejected() {
    let w = Workdir::new();
    let out = w.seed().env("SEED_RETRY_MAX_ATTEMPTS", "0").arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(all_output(&out).contains("SEED_RETRY_MAX_ATTEMPTS"));
    let out = w.seed().args(["doctor", "--retry-base-delay", "soon"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_shows_examples() {
    let w = Workdir::new();
    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["doctor", "--help"],
        vec!["bulk", "--help"],
        vec!["snapshot", "--help"],
        vec!["snapshot", "create", "--help"],
        vec!["snapshot", "restore", "--help"],
        vec!["snapshot", "list", "--help"],
        vec!["snapshot", "show", "--help"],
        vec!["snapshot", "verify", "--help"],
        vec!["snapshot", "diff", "--help"],
        vec!["snapshot", "delete", "--help"],
        vec!["snapshot", "prune", "--help"],
    ];
    for args in commands {
        let out = w.seed().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Example"), "{args:?}");
    }
}

#[test]
fn the_write_transaction_goes_through_direct_url() {
    use crate::common::{TestDb, assert_no_password, server};
    let db = TestDb::with_demo_schema("direct_url");
    let w = Workdir::new();
    // DATABASE_URL reaches the server another way (TCP here, the Unix socket for
    // DIRECT_URL), as a pooler in front of the same server would: that passes.
    let socket = format!(
        "postgres:///{}?host={}&port={}&user=postgres&password={}",
        db.name,
        server().socket_dir.display(),
        server().port,
        crate::common::PG_PASSWORD,
    );
    let out = w
        .seed()
        .env("DATABASE_URL", db.url())
        .env("DIRECT_URL", &socket)
        .args(["bulk", "--count", "20", "--no-progress"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_no_password(&out);
    assert_eq!(db.count("staffs"), 20);
    // A DIRECT_URL of another kind of database is a usage error.
    let out = w.seed().env("DIRECT_URL", "sqlite://x.db").env("DATABASE_URL", db.url()).arg("doctor").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
}

/// Every command path, for help, completion and man-page checks.
const SUBCOMMANDS: &[&str] = &[
    "bulk",
    "snapshot",
    "create",
    "restore",
    "list",
    "show",
    "verify",
    "diff",
    "delete",
    "prune",
    "doctor",
    "completions",
    "man",
];

#[test]
fn r11_4_completions_for_every_shell_mention_every_subcommand() {
    let w = Workdir::new();
    // Settings are not read: a broken URL or .env does not get in the way.
    std::fs::write(w.path().join(".env"), "THIS IS NOT A DOTENV LINE\n").unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = w.seed().env("DATABASE_URL", "nonsense").args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", all_output(&out));
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(script.contains("database-url") && script.contains("snapshot-dir"), "{shell}");
    }
    let out = w.seed().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// r19.14: bash completion offers the snapshot names where a command takes one (in
/// the directory --snapshot-dir names on the line, if it does), and options and
/// subcommands as before; `snapshot list --names` lists names only, and nothing where
/// there is nothing. zsh and fish get the same function (checked for its wiring here:
/// neither shell is installed on the test machines).
#[test]
fn r19_14_completions_offer_snapshot_names() {
    let w = Workdir::new();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_seed")).parent().unwrap().to_owned();
    let out = w.seed().args(["snapshot", "list", "--names"]).output().unwrap();
    assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0), "{}", all_output(&out));
    assert_eq!(w.seed().args(["bulk", "--count", "2", "-q"]).output().unwrap().status.code(), Some(0));
    for args in [&["snapshot", "create", "alpha", "-q"][..], &["snapshot", "create", "beta", "-q"]] {
        assert_eq!(w.seed().args(args).output().unwrap().status.code(), Some(0));
    }
    let out = w.seed().args(["--snapshot-dir", "other", "snapshot", "create", "gamma", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let names = w.seed().args(["snapshot", "list", "--names"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&names.stdout), "alpha\nbeta\n");

    let script = String::from_utf8(w.seed().args(["completions", "bash"]).output().unwrap().stdout).unwrap();
    std::fs::write(w.path().join("seed.bash"), &script).unwrap();
    let complete = |line: &[&str]| -> String {
        let words: Vec<String> = line.iter().map(|x| format!("'{x}'")).collect();
        let cword = line.len() - 1;
        let (cur, prev) = (line[cword], line[cword - 1]);
        let program = format!(
            "source ./seed.bash; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
             _seed_with_snapshot_names seed '{cur}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.join(" "),
            line.join(" ")
        );
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &program])
            .current_dir(w.path())
            .env("PATH", path)
            .env_remove("SEED_SNAPSHOT_DIR")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", all_output(&out));
        String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
    };
    assert_eq!(complete(&["seed", "snapshot", "restore", ""]), "alpha beta");
    assert_eq!(complete(&["seed", "snapshot", "show", "a"]), "alpha");
    assert_eq!(complete(&["seed", "snapshot", "diff", "alpha", ""]), "alpha beta");
    assert_eq!(complete(&["seed", "--snapshot-dir", "other", "snapshot", "verify", ""]), "gamma");
    assert_eq!(complete(&["seed", "snapshot", "pr"]), "profile prune");
    assert!(complete(&["seed", "snapshot", "restore", "--cl"]).contains("--clean"));
    assert_eq!(complete(&["seed", "snapshot", "prune", "x"]), "", "prune takes no name");

    for shell in ["zsh", "fish"] {
        let script = String::from_utf8(w.seed().args(["completions", shell]).output().unwrap().stdout).unwrap();
        assert!(script.contains("snapshot list --names"), "{shell}:\n{script}");
    }
    let zsh = String::from_utf8(w.seed().args(["completions", "zsh"]).output().unwrap().stdout).unwrap();
    assert!(zsh.matches(":_seed_snapshot_names'").count() >= 10, "{zsh}");
    assert!(zsh.find("_seed_snapshot_names() {").unwrap() < zsh.rfind("compdef _seed seed").unwrap());
}

#[test]
fn r11_4_man_pages() {
    let w = Workdir::new();
    let out = w.seed().env("DATABASE_URL", "nonsense").arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH seed"), "not roff:\n{page}");
    for sub in ["bulk", "snapshot", "doctor", "completions", "man"] {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
    let out = w.seed().args(["man", "--dir", "man/man1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let mut pages: Vec<String> = std::fs::read_dir(w.path().join("man/man1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let mut expected: Vec<String> = [
        "seed",
        "seed-bulk",
        "seed-clone",
        "seed-completions",
        "seed-doctor",
        "seed-man",
        "seed-prepare",
        "seed-snapshot",
        "seed-snapshot-create",
        "seed-snapshot-delete",
        "seed-snapshot-diff",
        "seed-snapshot-list",
        "seed-snapshot-mask",
        "seed-snapshot-profile",
        "seed-snapshot-prune",
        "seed-snapshot-pull",
        "seed-snapshot-push",
        "seed-snapshot-restore",
        "seed-snapshot-show",
        "seed-snapshot-verify",
    ]
    .iter()
    .map(|p| format!("{p}.1"))
    .collect();
    expected.sort();
    assert_eq!(pages, expected);
    let create = std::fs::read_to_string(w.path().join("man/man1/seed-snapshot-create.1")).unwrap();
    assert!(create.contains("compression") && create.contains("Snapshot name"), "{create}");
    assert!(all_output(&out).contains("wrote 20 man pages"), "{}", all_output(&out));
}

#[test]
fn r11_5_help_reads_well() {
    let w = Workdir::new();
    let root = w.seed().arg("--help").output().unwrap();
    let root_text = String::from_utf8_lossy(&root.stdout).into_owned();
    assert!(root_text.contains("Exit codes:") && root_text.contains("130  interrupted"), "{root_text}");
    let paths: Vec<Vec<&str>> = vec![
        vec!["bulk"],
        vec!["doctor"],
        vec!["snapshot", "create"],
        vec!["snapshot", "restore"],
        vec!["snapshot", "list"],
        vec!["snapshot", "show"],
        vec!["snapshot", "verify"],
        vec!["snapshot", "diff"],
        vec!["snapshot", "delete"],
        vec!["snapshot", "prune"],
        vec!["completions"],
        vec!["man"],
    ];
    for path in paths {
        let out = w.seed().args(&path).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{path:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("Example"), "{path:?}: no examples");
        // The command's own options first, global options after, under their own heading.
        let own = text.find("\nOptions:").unwrap_or_else(|| panic!("{path:?}: {text}"));
        let global = text.find("\nGlobal options:").unwrap_or_else(|| panic!("{path:?}: {text}"));
        assert!(own < global, "{path:?}: global options come first:\n{text}");
        assert!(text[global..].contains("--database-url"), "{path:?}");
        assert!(!text[..global].contains("--database-url"), "{path:?}: a global option among the command's own");
        // Unset variables are named, not shown as `[env: X=]`.
        assert!(!text.contains("=]"), "{path:?}:\n{text}");
    }
    // Set variables do not show their values either (DATABASE_URL may hold a password).
    let out = w.seed().env("DATABASE_URL", "postgres://u:Env-Secret-9@h/db").args(["bulk", "--help"]).output().unwrap();
    assert!(!all_output(&out).contains("Env-Secret-9"), "{}", all_output(&out));
}

/// r8.7: a DIRECT_URL naming another database than DATABASE_URL is refused before
/// anything is written (bulk used to write one database while snapshot create read
/// the other); the message shows both, masked.
#[test]
fn r8_7_direct_url_to_another_database_is_refused() {
    use crate::common::{TestDb, assert_no_password};
    let one = TestDb::with_demo_schema("direct_one");
    let other = TestDb::with_demo_schema("direct_other");
    let w = Workdir::new();
    for args in [&["bulk", "--count", "5", "--no-progress"][..], &["snapshot", "create", "x"][..]] {
        let out = w.seed().env("DATABASE_URL", one.url()).env("DIRECT_URL", other.url()).args(args).output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains("reach different databases"), "{text}");
        assert!(text.contains(&one.name) && text.contains(&other.name), "{text}");
        assert_no_password(&out);
    }
    assert_eq!(one.count("staffs") + other.count("staffs"), 0);
    assert!(!w.path().join("snapshots/x.seed.gz").exists());
}
