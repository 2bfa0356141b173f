//! `.env` files, as sqlx-cli, Prisma and Rails read them: `./.env` when present,
//! `--env-file PATH` to name another, `--no-env-file` to skip. Variables already set
//! win. Values are never printed: an error names the file and line, not the text.

use std::path::{Path, PathBuf};

use crate::error::Error;

pub const DEFAULT_FILE: &str = ".env";

/// A `.env` file is a few lines; anything larger is refused before it is read.
const MAX_BYTES: u64 = 1 << 20;
/// Most variables one file may set: each one set costs a scan of the environment
/// (libc's `setenv`), so many thousands would take seconds before any command starts.
/// Refused while parsing, before anything is set.
pub const MAX_VARS: usize = 4096;

/// Which file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `./.env` if it exists.
    Default,
    /// `--env-file PATH`: must exist.
    File(PathBuf),
    /// `--no-env-file`.
    Skip,
}

/// A file that was read, and the variables it set (those not already set).
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub path: PathBuf,
    pub keys: Vec<String>,
}

impl Loaded {
    pub fn set(&self, var: &str) -> bool {
        self.keys.iter().any(|k| k == var)
    }
}

/// Reads the chosen file into the process environment, leaving variables that are
/// already set alone.
///
/// # Safety
/// Sets environment variables: call it before any other thread is started.
pub unsafe fn load(choice: &Choice) -> Result<Option<Loaded>, Error> {
    let path = match choice {
        Choice::Skip => return Ok(None),
        Choice::Default => {
            let p = PathBuf::from(DEFAULT_FILE);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
        Choice::File(p) => {
            if !p.is_file() {
                return Err(Error::usage_hint(
                    format!("--env-file {}: no such file", p.display()),
                    "name an existing file, or drop --env-file to read ./.env when present",
                ));
            }
            p.clone()
        }
    };
    let pairs = parse(&path)?;
    let mut keys = Vec::new();
    for (key, value) in pairs {
        // Known as secrets before anything could print them: URL passwords, and the
        // values of variables named like secrets (AWS_SECRET_ACCESS_KEY, PGPASSWORD...).
        crate::redact::register_url_secrets(&value);
        if crate::redact::is_secret_name(&key) && !matches!(key.as_str(), "PWD" | "OLDPWD") {
            crate::redact::register(&value);
        }
        if std::env::var_os(&key).is_none() {
            // SAFETY: the caller guarantees no other thread runs yet.
            unsafe { std::env::set_var(&key, &value) };
            keys.push(key);
        }
    }
    Ok(Some(Loaded { path, keys }))
}

/// The file's `KEY=value` pairs, in order (first occurrence of a key wins when loading).
pub fn parse(path: &Path) -> Result<Vec<(String, String)>, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("read env file", path, e))?;
    if meta.len() > MAX_BYTES {
        return Err(Error::usage(format!(
            "env file {} is larger than {MAX_BYTES} bytes; that is not a .env file",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io("read env file", path, e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    // No environment variable can hold a NUL byte (setting one would abort): refused,
    // naming the line and never showing it.
    if let Some(at) = memchr::memchr(0, bytes) {
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err(Error::usage_hint(
            format!(
                "{}:{line}: holds a NUL byte, which no environment variable can hold (its text is not shown: it \
                 may hold a secret)",
                path.display()
            ),
            "remove it (an editor shows it as ^@); --no-env-file skips the file",
        ));
    }
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut next = 0;
    let mut pairs = Vec::new();
    for item in dotenvy::from_read_iter(bytes) {
        match item {
            Ok(_) if pairs.len() == MAX_VARS => {
                return Err(Error::usage_hint(
                    format!(
                        "{} sets more than {MAX_VARS} variables; that is not a .env file seed reads",
                        path.display()
                    ),
                    "a .env file holds a project's few settings; --no-env-file skips the file",
                ));
            }
            Ok((key, value)) if key.is_empty() || key.contains(['=', '\0']) || value.contains('\0') => {
                return Err(Error::usage_hint(
                    format!(
                        "{}: a variable that cannot be set (its text is not shown: it may hold a secret)",
                        path.display()
                    ),
                    "lines are KEY=value; --no-env-file skips the file",
                ));
            }
            Ok(pair) => {
                // Follow dotenvy through the file: past this pair's line(s).
                next = after_entry(&lines, next);
                pairs.push(pair);
            }
            Err(dotenvy::Error::LineParse(_, _)) => {
                // dotenvy quotes only part of the line (e.g. the value): the line it
                // failed on is the next entry after the last one it read. It is named,
                // never shown (it may hold a password).
                let line = entry_line(&lines, next).map_or(lines.len().max(1), |i| i + 1);
                return Err(Error::usage_hint(
                    format!(
                        "{}:{line}: cannot parse this line (its text is not shown: it may hold a secret)",
                        path.display(),
                    ),
                    "lines are KEY=value, # comments, and quoted values ('…' or \"…\"); --no-env-file skips the file",
                ));
            }
            Err(_) => {
                return Err(Error::usage_hint(
                    format!("{}: cannot read it as a .env file", path.display()),
                    "lines are KEY=value; --no-env-file skips the file",
                ));
            }
        }
    }
    Ok(pairs)
}

/// The index of the first line at or after `from` that holds an entry (not blank,
/// not a comment).
fn entry_line(lines: &[&str], from: usize) -> Option<usize> {
    (from..lines.len()).find(|&i| {
        let l = lines[i].trim();
        !l.is_empty() && !l.starts_with('#')
    })
}

/// The index after the entry that starts at or after `from`: past its first line and,
/// for a quoted value that goes on, up to the line closing the quote. Every line is
/// looked at once over the whole file.
fn after_entry(lines: &[&str], from: usize) -> usize {
    let Some(at) = entry_line(lines, from) else { return lines.len() };
    let value = lines[at].split_once('=').map_or("", |(_, v)| v.trim_start());
    let Some(quote) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else { return at + 1 };
    let closes = |s: &str| {
        let mut escaped = false;
        s.chars().any(|c| {
            let close = c == quote && !escaped;
            escaped = quote == '"' && c == '\\' && !escaped;
            close
        })
    };
    if closes(&value[1..]) {
        return at + 1;
    }
    (at + 1..lines.len()).find(|&i| closes(lines[i])).map_or(lines.len(), |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_order_and_errors_without_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        std::fs::write(&p, "\u{feff}# comment\nA=1\nexport B='two words'\nC=\"x\"\n").unwrap();
        let pairs = parse(&p).unwrap();
        assert_eq!(pairs, vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into())]);
        std::fs::write(&p, "A=1\nPASSWORD Hunter-Secret-2\n").unwrap();
        let err = parse(&p).unwrap_err().to_string();
        assert!(err.contains(".env:2: cannot parse"), "{err}");
        assert!(!err.contains("Hunter"), "{err}");
    }

    /// r21.2: a NUL byte anywhere is refused with its line, never set (setting it would
    /// abort with the value in the message) and never shown.
    #[test]
    fn nul_bytes_are_refused_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        for (text, line) in [
            ("A=1\nDATABASE_URL=postgres://u:Secret-55@h/d\0\n", 2),
            ("\0=x\n", 1),
            ("A=1\n\nB=\"x\0y Secret-55\"\n", 3),
            ("# c\0mment\n", 1),
        ] {
            std::fs::write(&p, text).unwrap();
            let err = parse(&p).unwrap_err();
            let shown = format!("{err} {}", err.hint().unwrap_or_default());
            assert!(shown.contains(&format!(".env:{line}: holds a NUL byte")), "{text:?}: {shown}");
            assert!(!shown.contains("Secret-55"), "{shown}");
        }
    }

    /// r21.7: the number of variables is bounded, refused while parsing.
    #[test]
    fn too_many_variables_are_refused_before_any_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        let text: String = (0..=MAX_VARS).map(|i| format!("V{i}=v\n")).collect();
        std::fs::write(&p, &text).unwrap();
        let err = parse(&p).unwrap_err();
        assert!(err.to_string().contains("more than 4096 variables"), "{err}");
        let text: String = (0..MAX_VARS).map(|i| format!("V{i}=v\n")).collect();
        std::fs::write(&p, &text).unwrap();
        assert_eq!(parse(&p).unwrap().len(), MAX_VARS);
    }

    /// r19.12: every parse error names its line, whatever part of it dotenvy quotes
    /// (a value with a blank, a bad escape, an unclosed quote), after comments, blank
    /// lines and values quoted over several lines.
    #[test]
    fn every_parse_error_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        for (text, line) in [
            ("A=1\nB=hello world\n", 2),
            ("# c\n\nA=1\n\n  # more\nB=hello world\nC=2\n", 6),
            ("A=\"multi\nline\nvalue\"\nB='ok'\nC=bad value\n", 5),
            ("A='one'\nB=\"x\\qy\"\n", 2),
            ("A=1\nB=\"never closed\nC=2\n", 2),
            ("export A=1\nexport B=two words\n", 2),
        ] {
            std::fs::write(&p, text).unwrap();
            let err = parse(&p).unwrap_err().to_string();
            assert!(err.contains(&format!(".env:{line}: cannot parse")), "{text:?}: {err}");
            assert!(!err.contains("hello") && !err.contains("words"), "{err}");
        }
    }
}
