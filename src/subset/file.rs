//! The `[subset]` section of the factories file, so a team commits its slice:
//!
//! ```toml
//! [subset]
//! start = ["customer:store_id = 1", "film:10%"]
//! children_per_parent = 20     # or no_children = true
//! unrelated = "keep"           # or "empty" (the default)
//! seed = 7                     # for the % and count samples
//! ```
//! Checked where it is read, with the file and line in every error (exit 2).

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::spec::{Children, MAX_COUNT, MAX_ITEMS, Start, Unrelated};
use crate::error::Error;

/// The section as serde reads it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSection {
    #[serde(default)]
    start: Vec<Spanned<String>>,
    children_per_parent: Option<Spanned<i64>>,
    no_children: Option<Spanned<bool>>,
    unrelated: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
}

/// What the section says; `None` where it says nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRules {
    pub start: Vec<Start>,
    pub children: Option<Children>,
    pub unrelated: Option<Unrelated>,
    pub seed: Option<u64>,
    /// `file:line` of the section, for messages.
    pub origin: String,
}

/// Parses `[subset]` of `path` (`line_of` turns a byte offset into a line number).
pub fn parse_section(
    path: &Path,
    line_of: &dyn Fn(usize) -> usize,
    raw: Spanned<RawSection>,
) -> Result<FileRules, Error> {
    let origin = format!("{}:{}", path.display(), line_of(raw.span().start));
    let raw = raw.into_inner();
    let at = |offset: usize, message: String| Error::Config { file: path.to_owned(), line: line_of(offset), message };
    if raw.start.len() > MAX_ITEMS {
        return Err(at(0, format!("[subset] start lists more than {MAX_ITEMS} entries")));
    }
    let mut start = Vec::new();
    for s in &raw.start {
        let parsed = Start::parse(s.get_ref()).map_err(|m| {
            at(s.span().start, format!("[subset] start \"{}\": {m}", crate::untrusted::shown(s.get_ref(), 80)))
        })?;
        start.push(parsed);
    }
    let children = match (&raw.children_per_parent, &raw.no_children) {
        (Some(n), Some(no)) if *no.get_ref() => {
            return Err(at(
                n.span().start,
                "[subset]: give children_per_parent or no_children = true, not both".into(),
            ));
        }
        (Some(n), _) => match u64::try_from(*n.get_ref()) {
            Ok(k) if (1..=MAX_COUNT).contains(&k) => Some(Children::PerParent(k)),
            _ => {
                return Err(at(
                    n.span().start,
                    format!(
                        "[subset] children_per_parent must be between 1 and {MAX_COUNT} (no_children = true for none)"
                    ),
                ));
            }
        },
        (None, Some(no)) => Some(if *no.get_ref() { Children::None } else { Children::All }),
        (None, None) => None,
    };
    let unrelated = match &raw.unrelated {
        None => None,
        Some(u) => Some(
            Unrelated::parse(u.get_ref())
                .ok_or_else(|| at(u.span().start, "[subset] unrelated must be \"empty\" or \"keep\"".into()))?,
        ),
    };
    let seed = match &raw.seed {
        None => None,
        Some(v) => Some(
            u64::try_from(*v.get_ref())
                .map_err(|_| at(v.span().start, "[subset] seed must be a whole number of 0 or more".into()))?,
        ),
    };
    Ok(FileRules { start, children, unrelated, seed, origin })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subset::spec::Pick;

    fn parse(text: &str) -> Result<FileRules, Error> {
        #[derive(Deserialize)]
        struct File {
            subset: Spanned<RawSection>,
        }
        let f: File = toml::from_str(text).map_err(|e| Error::usage(e.to_string()))?;
        let line_of = |o: usize| text[..o].matches('\n').count() + 1;
        parse_section(Path::new("f.toml"), &line_of, f.subset)
    }

    #[test]
    fn section() {
        let r = parse("[subset]\nstart = [\"customer:store_id = 1\", \"film:10%\"]\nchildren_per_parent = 3\nunrelated = \"keep\"\nseed = 7\n")
            .unwrap();
        assert_eq!(r.start.len(), 2);
        assert_eq!(r.start[1].pick, Pick::Percent(10.0));
        assert_eq!((r.children, r.unrelated, r.seed), (Some(Children::PerParent(3)), Some(Unrelated::Keep), Some(7)));
        assert_eq!(r.origin, "f.toml:1");
        let r = parse("[subset]\nno_children = true\n").unwrap();
        assert_eq!(r.children, Some(Children::None));
    }

    #[test]
    fn errors_name_the_line() {
        for (text, expect) in [
            (
                "[subset]\n\nstart = [\"film:150%\"]\n",
                "f.toml:3: [subset] start \"film:150%\": the percentage 150% is outside 0-100",
            ),
            ("[subset]\nchildren_per_parent = 0\n", "f.toml:2: [subset] children_per_parent must be between 1"),
            ("[subset]\nchildren_per_parent = 2\nno_children = true\n", "not both"),
            ("[subset]\nunrelated = \"all\"\n", "f.toml:2: [subset] unrelated must be"),
            ("[subset]\nseed = -1\n", "seed must be"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(expect), "{text:?}: {e}");
        }
        assert!(parse("[subset]\nstrat = []\n").is_err());
    }
}
