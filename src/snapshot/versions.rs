//! Versions of a snapshot name: the user's `NAME@N` syntax and the keys (file or
//! object names) versions are stored under. Everything that turns one into the other
//! lives here, so the snapshot store only ever deals in keys.
//!
//! - Version 1 of `NAME` is the key `NAME.seed.gz`: what seed wrote before versions
//!   existed, so a snapshot taken then is `NAME@1` without being touched.
//! - Version N ≥ 2 is `NAME@N.seed.gz` (`N` in decimal, no leading zeros). A name
//!   never holds `@` (see `names::validate_name`), so a key names one version of one
//!   name and nothing else.
//! - `NAME` alone means the latest (highest-numbered) version that exists.
//! - Locks are per name (`NAME`), plus one per name for handing out version numbers
//!   (`NAME@next`), so creating the next version excludes other creators of that name
//!   but not readers of its existing versions.

use std::fmt;

use crate::error::Error;
use crate::snapshot::names::{EXTENSION, validate_name};

/// Highest version number: nine digits keep keys short and numbers exact anywhere.
pub const MAX_VERSION: u64 = 999_999_999;

/// `NAME` or `NAME@N` as the user typed it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    pub name: String,
    /// `None`: the latest version.
    pub version: Option<u64>,
}

impl Ref {
    /// Parses `NAME` or `NAME@N` (N from 1 to [`MAX_VERSION`], plain decimal).
    pub fn parse(text: &str) -> Result<Self, Error> {
        let Some((name, number)) = text.split_once('@') else {
            validate_name(text)?;
            return Ok(Self { name: text.to_owned(), version: None });
        };
        validate_name(name)?;
        let version = parse_version(number).ok_or_else(|| {
            Error::usage_hint(
                format!("invalid snapshot version '{}' in '{}'", number.escape_debug(), text.escape_debug()),
                format!("NAME@N names version N (from 1 to {MAX_VERSION}) of NAME, e.g. {name}@2; NAME alone means its latest version"),
            )
        })?;
        Ok(Self { name: name.to_owned(), version: Some(version) })
    }

    /// The reference to one version.
    pub fn exact(name: &str, version: u64) -> Self {
        Self { name: name.to_owned(), version: Some(version) }
    }
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// `N` of `NAME@N`: decimal digits only, no sign or leading zero, 1 to [`MAX_VERSION`].
fn parse_version(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse().ok().filter(|v| (1..=MAX_VERSION).contains(v))
}

/// `NAME@N`, the way messages name one version.
pub fn label(name: &str, version: u64) -> String {
    format!("{name}@{version}")
}

/// The key (file or object name) version `version` of `name` is stored under.
pub fn key(name: &str, version: u64) -> String {
    if version == 1 { format!("{name}{EXTENSION}") } else { format!("{name}@{version}{EXTENSION}") }
}

/// The name and version a key stores, or `None` for a key that is not a snapshot's
/// (including the non-canonical `NAME@1.seed.gz` and `NAME@01.seed.gz`, which no
/// version is stored under).
pub fn parse_key(key: &str) -> Option<(String, u64)> {
    let stem = key.strip_suffix(EXTENSION)?;
    let (name, version) = match stem.split_once('@') {
        None => (stem, 1),
        Some((name, number)) => (name, parse_version(number).filter(|&v| v >= 2)?),
    };
    validate_name(name).ok()?;
    Some((name.to_owned(), version))
}

/// The lock a creator of a new version of `name` holds while it picks the number and
/// writes the file (see the module documentation).
pub fn number_lock(name: &str) -> String {
    format!("{name}@next")
}

/// What a lock error calls the lock of `name` (a snapshot's, or its number lock).
pub fn lock_resource(name: &str) -> String {
    match name.strip_suffix("@next") {
        Some(n) => format!("the next version of snapshot '{n}'"),
        None => format!("snapshot '{name}'"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_names_and_versions() {
        assert_eq!(Ref::parse("baseline").unwrap(), Ref { name: "baseline".into(), version: None });
        assert_eq!(Ref::parse("ci-1.2@7").unwrap(), Ref::exact("ci-1.2", 7));
        assert_eq!(Ref::parse("x@999999999").unwrap().version, Some(MAX_VERSION));
        assert_eq!(Ref::exact("a", 3).to_string(), "a@3");
        assert_eq!(Ref::parse("a").unwrap().to_string(), "a");
        for bad in ["a@", "a@0", "a@01", "a@-1", "a@+2", "a@1.5", "a@1000000000", "a@2@3", "@2", "a b@2", "a@٣", "a@ 2"]
        {
            let err = Ref::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Usage { .. }), "{bad}: {err:?}");
        }
    }

    #[test]
    fn keys_round_trip_and_version_1_is_the_old_file_name() {
        assert_eq!(key("baseline", 1), "baseline.seed.gz");
        assert_eq!(key("baseline", 12), "baseline@12.seed.gz");
        for (name, v) in [("baseline", 1), ("baseline", 2), ("a.b-c_d", 999_999_999), ("x", 10)] {
            assert_eq!(parse_key(&key(name, v)), Some((name.to_owned(), v)));
        }
        for foreign in [
            "baseline@1.seed.gz",
            "baseline@02.seed.gz",
            "baseline@.seed.gz",
            "baseline@x.seed.gz",
            "@2.seed.gz",
            ".hidden.seed.gz",
            "baseline.seed",
            "notes.txt",
            "a@2@3.seed.gz",
            "a@1000000000.seed.gz",
        ] {
            assert_eq!(parse_key(foreign), None, "{foreign}");
        }
        assert_eq!(number_lock("a"), "a@next");
        assert!(validate_name(&number_lock("a")).is_err(), "a lock key is never a snapshot name");
    }
}
