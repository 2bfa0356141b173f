//! Versions of a snapshot name: the keys (file or object names) versions are stored
//! under (the user's `NAME@N` syntax is `reference`). Everything that turns one into the other
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

use crate::snapshot::names::{EXTENSION, validate_name};
pub use crate::snapshot::reference::MAX_VERSION;
use crate::snapshot::reference::parse_version;

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
