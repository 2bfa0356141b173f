//! A snapshot reference as the user types it: `NAME` (its latest version) or `NAME@N`
//! (version N). Parsed once, where the command line is parsed (`SnapshotRef::parse_arg`
//! is the clap value parser of every argument that takes one), so commands and the
//! snapshot layer only ever see checked values. A name never holds `@` (see
//! `names::validate_name`), so the split is unambiguous; how a version is stored is
//! `versions`' business.

use std::fmt;

use crate::error::Error;
use crate::snapshot::names::validate_name;

/// Highest version number: nine digits keep keys short and numbers exact anywhere.
pub const MAX_VERSION: u64 = 999_999_999;

/// `NAME` or `NAME@N`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    pub name: String,
    /// `None`: the latest version.
    pub version: Option<u64>,
}

impl SnapshotRef {
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

    /// [`parse`](Self::parse) as clap's value parser: the message and its hint become
    /// clap's usage error (exit 2), printed escaped and masked like every parse error.
    pub fn parse_arg(text: &str) -> Result<Self, String> {
        Self::parse(text).map_err(|e| match e.hint() {
            Some(hint) => format!("{e}\n\nhint: {hint}"),
            None => e.to_string(),
        })
    }

    /// The reference to one version.
    pub fn exact(name: &str, version: u64) -> Self {
        Self { name: name.to_owned(), version: Some(version) }
    }
}

/// Exactly the text it was parsed from (the syntax has one spelling per reference).
impl fmt::Display for SnapshotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// `N` of `NAME@N`: decimal digits only, no sign or leading zero, 1 to [`MAX_VERSION`].
pub(crate) fn parse_version(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return None;
    }
    s.parse().ok().filter(|v| (1..=MAX_VERSION).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_parse_names_and_versions() {
        assert_eq!(SnapshotRef::parse("baseline").unwrap(), SnapshotRef { name: "baseline".into(), version: None });
        assert_eq!(SnapshotRef::parse("ci-1.2@7").unwrap(), SnapshotRef::exact("ci-1.2", 7));
        assert_eq!(SnapshotRef::parse("x@999999999").unwrap().version, Some(MAX_VERSION));
        assert_eq!(SnapshotRef::exact("a", 3).to_string(), "a@3");
        assert_eq!(SnapshotRef::parse("a").unwrap().to_string(), "a");
        for bad in ["a@", "a@0", "a@01", "a@-1", "a@+2", "a@1.5", "a@1000000000", "a@2@3", "@2", "a b@2", "a@٣", "a@ 2"]
        {
            let err = SnapshotRef::parse(bad).unwrap_err();
            assert!(matches!(err, Error::Usage { .. }), "{bad}: {err:?}");
        }
    }

    /// Every argument taking a reference gets it through clap: a bad one is a usage
    /// error (exit 2) carrying the message and its hint, a good one arrives parsed.
    #[test]
    fn clap_parses_references_once() {
        use clap::Parser;

        use crate::cli::{Cli, Command, SnapshotCommand};
        let cli = Cli::try_parse_from(["seed", "snapshot", "restore", "app@3"]).unwrap();
        let Command::Snapshot(SnapshotCommand::Restore(args)) = cli.command else { panic!("not restore") };
        assert_eq!(args.name, SnapshotRef::exact("app", 3));
        for argv in [
            &["seed", "snapshot", "show", "../x"][..],
            &["seed", "snapshot", "diff", "a", "b@0"],
            &["seed", "snapshot", "create", "n", "--base", "a@"],
            &["seed", "bulk", "--count", "1", "--like", "a b"],
            &["seed", "snapshot", "list", "x/y"],
        ] {
            let err = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{argv:?}");
            let text = err.to_string();
            assert!(text.contains("invalid snapshot") && text.contains("hint: "), "{argv:?}: {text}");
        }
        let err = Cli::try_parse_from(["seed", "snapshot", "verify", "../x"]).unwrap_err().to_string();
        assert!(err.contains("invalid snapshot name '../x'") && err.contains("names start with a letter"), "{err}");
    }
}
