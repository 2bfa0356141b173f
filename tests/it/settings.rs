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
        (format!("postgres:user:S3cr3t-nine@127.0.0.1:{port}/db"), vec!["S3cr3t"], Some("postgres:user:***@")),
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
    assert!(text.contains("after 1 attempt(s)"), "{text}");
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
    ] {
        let out = w.seed().args(&args).output().unwrap();
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {text}");
        assert!(text.contains("u:***@h/db"), "{args:?}: {text}");
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
