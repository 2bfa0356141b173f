//! Snapshot names. Only a valid name ever becomes a key (see `versions` for the keys
//! versions are stored under): nothing else reaches a file system or a bucket.

use crate::error::Error;

/// `NAME.seed.gz`: a gzip stream, so `zcat NAME.seed.gz | head -1` shows the header.
pub const EXTENSION: &str = ".seed.gz";
const MAX_NAME: usize = 100;

/// `[A-Za-z0-9][A-Za-z0-9._-]{0,99}`: no separators, no traversal, no hidden files,
/// no `@` (which separates a name from a version number, `NAME@N`).
pub fn validate_name(name: &str) -> Result<(), Error> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(first) => {
            first.is_ascii_alphanumeric()
                && name.len() <= MAX_NAME
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::usage_hint(
            format!("invalid snapshot name '{}'", name.escape_debug()),
            "names start with a letter or digit, then up to 99 letters, digits, '.', '_' or '-' (e.g. baseline, ci-2026.11.23)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["baseline", "ci-2026.11.23", "A_1", "x"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        let long = "a".repeat(101);
        for bad in ["", "../x", ".hidden", "a/b", "-x", "a b", "é", long.as_str(), "x\0"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}
