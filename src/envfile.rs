//! `.env` files, as sqlx-cli, Prisma and Rails read them: `./.env` when present,
//! `--env-file PATH` to name another, `--no-env-file` to skip. Variables already set
//! win. Values are never printed: an error names the file and line, not the text.

use std::path::{Path, PathBuf};

use crate::error::Error;

pub const DEFAULT_FILE: &str = ".env";

/// A `.env` file is a few lines; anything larger is refused before it is read.
const MAX_BYTES: u64 = 1 << 20;

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
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut next = 0;
    let mut pairs = Vec::new();
    for item in dotenvy::from_read_iter(bytes) {
        match item {
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
