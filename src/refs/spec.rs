//! Virtual references as a file declares them: the `[references]` section of the
//! factories file and of `seed.toml` (one parser for both).
//!
//! ```toml
//! [references]
//! "comments.post_id" = "posts.id"
//! "audit.events.(tenant_id, user_id)" = "app.users.(tenant_id, id)"
//! "taggings.taggable_id" = { parent = "posts.id", where = "taggable_type = 'Post'" }
//! ```
//! A side is a table (`name` or `schema.name`) and its columns (one, or a list in
//! parentheses); a name holding `.`, `,`, `(`, `)`, spaces or `"` is written in double
//! quotes (`"\"odd.name\".id"`). `where` is a condition on the referencing (child)
//! table, evaluated by the database: only rows where it holds reference the parent
//! (a Rails polymorphic or Django generic relation). Tables and columns are checked
//! against the live schema later (`Graph::new`), before any data is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;

/// Most virtual references one file may declare.
pub const MAX_REFERENCES: usize = 10_000;
/// Longest side or condition, in bytes.
const MAX_TEXT: usize = 4096;

/// `table.column` or `table.(a, b)`, as written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Side {
    /// `name` or `schema.name`, unquoted parts joined by `.` (looked up like `--table`).
    pub table: Vec<String>,
    pub columns: Vec<String>,
}

/// One `[references]` entry: the child's columns point at the parent's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualRef {
    pub child: Side,
    pub parent: Side,
    /// A condition on the child's rows (SQL, unqualified column names).
    pub condition: Option<String>,
    pub file: PathBuf,
    pub line: usize,
}

impl VirtualRef {
    /// `file:line` (just the source when it has no lines, e.g. a snapshot header).
    pub fn origin(&self) -> String {
        if self.line == 0 { self.file.display().to_string() } else { format!("{}:{}", self.file.display(), self.line) }
    }
}

/// A `[references]` entry that does not parse: where, and why (the caller makes it an
/// `Error::Config`, exit 2; this parser depends on nothing of seed's, so the config
/// files, low in the layers, can use it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// The raw section as serde reads it (keys and values with their spans).
pub type RawSection = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// Parses a `[references]` section of `path`; `line_of` turns a byte offset of the
/// file into its line number. Errors name the file and line (exit 2).
pub fn parse_section(
    path: &Path,
    line_of: &dyn Fn(usize) -> usize,
    raw: RawSection,
) -> Result<Vec<VirtualRef>, SpecError> {
    if raw.len() > MAX_REFERENCES {
        return Err(SpecError {
            file: path.to_owned(),
            line: 1,
            message: format!("[references] declares {} references, more than {MAX_REFERENCES}", raw.len()),
        });
    }
    let mut out = Vec::with_capacity(raw.len());
    for (key, value) in raw {
        let line = line_of(key.span().start);
        let at = |message: String| SpecError { file: path.to_owned(), line, message };
        let child_text = key.get_ref();
        let child = Side::parse(child_text).map_err(|m| at(format!("[references] \"{}\": {m}", shown(child_text))))?;
        let (parent_text, condition) = match value.get_ref() {
            toml::Value::String(s) => (s.clone(), None),
            toml::Value::Table(t) => {
                if let Some(unknown) = t.keys().find(|k| *k != "parent" && *k != "where") {
                    return Err(at(format!(
                        "[references] \"{}\": unknown key `{}` (a reference takes `parent` and an optional `where`)",
                        shown(child_text),
                        shown(unknown)
                    )));
                }
                let Some(parent) = t.get("parent").and_then(toml::Value::as_str) else {
                    return Err(at(format!(
                        "[references] \"{}\": `parent` must be a string such as \"posts.id\"",
                        shown(child_text)
                    )));
                };
                let condition = match t.get("where") {
                    None => None,
                    Some(toml::Value::String(c)) if !c.trim().is_empty() && c.len() <= MAX_TEXT => Some(c.clone()),
                    Some(_) => {
                        return Err(at(format!(
                            "[references] \"{}\": `where` must be a non-empty SQL condition of at most {MAX_TEXT} bytes",
                            shown(child_text)
                        )));
                    }
                };
                (parent.to_owned(), condition)
            }
            other => {
                return Err(at(format!(
                    "[references] \"{}\": expected \"table.column\" or {{ parent = \"table.column\", where = \"...\" }}, got a {}",
                    shown(child_text),
                    other.type_str()
                )));
            }
        };
        let parent = Side::parse(&parent_text)
            .map_err(|m| at(format!("[references] \"{}\" = \"{}\": {m}", shown(child_text), shown(&parent_text))))?;
        if child.columns.len() != parent.columns.len() {
            return Err(at(format!(
                "[references] \"{}\" = \"{}\": {} referencing columns but {} referenced ones",
                shown(child_text),
                shown(&parent_text),
                child.columns.len(),
                parent.columns.len()
            )));
        }
        out.push(VirtualRef { child, parent, condition, file: path.to_owned(), line });
    }
    out.sort_by_key(|r| r.line);
    Ok(out)
}

/// User text in messages: escaped, at most 80 characters.
fn shown(s: &str) -> String {
    crate::untrusted::shown(s, 80)
}

impl Side {
    /// `a.b`, `s.a.b`, `a.(x, y)`, with `"..."` for names holding special characters.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_TEXT {
            return Err(format!("longer than {MAX_TEXT} bytes"));
        }
        // Each dotted part, and whether it was a parenthesised list.
        let mut parts: Vec<(bool, Vec<String>)> = Vec::new();
        let mut chars = text.trim().chars().peekable();
        loop {
            skip_spaces(&mut chars);
            if chars.peek() == Some(&'(') {
                chars.next();
                let mut list = Vec::new();
                loop {
                    skip_spaces(&mut chars);
                    list.push(ident(&mut chars)?);
                    skip_spaces(&mut chars);
                    match chars.next() {
                        Some(',') => {}
                        Some(')') => break,
                        _ => return Err("a column list is written (a, b)".into()),
                    }
                }
                parts.push((true, list));
            } else {
                parts.push((false, vec![ident(&mut chars)?]));
            }
            skip_spaces(&mut chars);
            match chars.next() {
                None => break,
                Some('.') => {}
                Some(c) => return Err(format!("unexpected '{c}'; write table.column or table.(a, b)")),
            }
        }
        let Some((_, columns)) = parts.pop() else { return Err("empty".into()) };
        if parts.is_empty() {
            return Err("name the table and its column, e.g. posts.id".into());
        }
        if parts.len() > 2 || parts.iter().any(|(list, _)| *list) {
            return Err("the table is `name` or `schema.name`; only the columns may be a list".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = columns.iter().find(|c| !seen.insert(*c)) {
            return Err(format!("column {dup} is listed twice"));
        }
        Ok(Self { table: parts.into_iter().flat_map(|(_, p)| p).collect(), columns })
    }

    /// The table as `--table` would name it (`schema.name` or `name`).
    pub fn table_text(&self) -> String {
        self.table.join(".")
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = |s: &str| {
            if !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                s.to_owned()
            } else {
                format!("\"{}\"", s.replace('"', "\"\""))
            }
        };
        let table: Vec<String> = self.table.iter().map(|t| name(t)).collect();
        let cols: Vec<String> = self.columns.iter().map(|c| name(c)).collect();
        if cols.len() == 1 {
            write!(f, "{}.{}", table.join("."), cols[0])
        } else {
            write!(f, "{}.({})", table.join("."), cols.join(", "))
        }
    }
}

fn skip_spaces(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.peek().is_some_and(|c| c.is_whitespace()) {
        chars.next();
    }
}

/// A bare name (up to `.`, `,`, `(`, `)`, a space or `"`) or a `"quoted ""name"""`.
fn ident(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    let mut out = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        loop {
            match chars.next() {
                None => return Err("unclosed '\"'".into()),
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    out.push('"');
                }
                Some('"') => break,
                Some(c) => out.push(c),
            }
        }
    } else {
        while let Some(&c) = chars.peek() {
            if matches!(c, '.' | ',' | '(' | ')' | '"') || c.is_whitespace() {
                break;
            }
            out.push(c);
            chars.next();
        }
    }
    if out.is_empty() { Err("a name is missing".into()) } else { Ok(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(text: &str) -> Result<Side, String> {
        Side::parse(text)
    }

    #[test]
    fn sides() {
        let s = side("comments.post_id").unwrap();
        assert_eq!((s.table.clone(), s.columns.clone()), (vec!["comments".into()], vec!["post_id".into()]));
        let s = side(" audit.events.( tenant_id , user_id ) ").unwrap();
        assert_eq!(s.table, vec!["audit", "events"]);
        assert_eq!(s.columns, vec!["tenant_id", "user_id"]);
        assert_eq!(s.to_string(), "audit.events.(tenant_id, user_id)");
        let s = side("\"odd.table\".\"we\"\"ird col\"").unwrap();
        assert_eq!(s.table, vec!["odd.table"]);
        assert_eq!(s.columns, vec!["we\"ird col"]);
        assert_eq!(Side::parse(&s.to_string()).unwrap(), s);
        assert_eq!(side("café.prix").unwrap().columns, vec!["prix"]);
        for bad in ["", "posts", "a.b.c.d", "a.(x,", "a.(x y)", "(a).b", "a..b", "a.\"x", "a.(x, x)", "a.b c"] {
            assert!(side(bad).is_err(), "{bad:?} should not parse");
        }
    }

    fn parse(text: &str) -> Result<Vec<VirtualRef>, crate::error::Error> {
        #[derive(serde::Deserialize)]
        struct File {
            references: RawSection,
        }
        let f: File = toml::from_str(text).unwrap();
        let line_of = |o: usize| text[..o].matches('\n').count() + 1;
        parse_section(Path::new("f.toml"), &line_of, f.references).map_err(|e| crate::error::Error::Config {
            file: e.file,
            line: e.line,
            message: e.message,
        })
    }

    #[test]
    fn sections_and_lines() {
        let refs = parse(
            "[references]\n\"comments.post_id\" = \"posts.id\"\n\"taggings.taggable_id\" = { parent = \"posts.id\", where = \"taggable_type = 'Post'\" }\n",
        )
        .unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].line, 2);
        assert_eq!(refs[0].parent.to_string(), "posts.id");
        assert_eq!(refs[1].condition.as_deref(), Some("taggable_type = 'Post'"));
        assert_eq!(refs[1].origin(), "f.toml:3");
    }

    #[test]
    fn errors_name_the_line() {
        for (text, expect) in [
            (
                "[references]\n\n\"a.(x, y)\" = \"b.id\"\n",
                "f.toml:3: [references] \"a.(x, y)\" = \"b.id\": 2 referencing columns but 1",
            ),
            ("[references]\n\"a\" = \"b.id\"\n", "f.toml:2: [references] \"a\": name the table"),
            ("[references]\n\"a.x\" = 3\n", "expected \"table.column\""),
            ("[references]\n\"a.x\" = { parent = \"b.id\", when = \"x\" }\n", "unknown key `when`"),
            ("[references]\n\"a.x\" = { where = \"x\" }\n", "`parent` must be a string"),
            ("[references]\n\"a.x\" = { parent = \"b.id\", where = \" \" }\n", "`where` must be a non-empty"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{text}");
            assert!(e.to_string().contains(expect), "{text:?}: {e}");
        }
    }
}
