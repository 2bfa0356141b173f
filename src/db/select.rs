//! Table selection with pg_dump's rules: `--table`/`--exclude` take patterns, `--schema`
//! whole schemas.
//!
//! A pattern is `[schema.]table`; `*` matches any run of characters and `?` one
//! character. Unquoted parts are folded to lower case, double-quoted parts keep their
//! case and take `*`, `?` and `.` literally (`""` is a quote). An unqualified pattern
//! matches tables in the schemas of the search path. Where a database treats names
//! without regard to case (SQLite), matching does too. Like pg_dump, an `--exclude` that
//! matches nothing is fine; `--table` and `--schema` patterns that match nothing are an
//! error only when none of them matches anything, or with `--strict-names` (each must
//! match); otherwise the command warns and goes on with the others.

use crate::db::schema::{Schema, Table, TableName};
use crate::error::Error;
use crate::output::Printer;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(char),
    Any,
    One,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// What the user typed, for messages.
    pub text: String,
    schema: Option<Vec<Piece>>,
    table: Vec<Piece>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::usage_hint(
                format!("table pattern '{}' {why}", text.escape_debug()),
                "patterns look like staffs, audit_*, app.*, \"Mixed Case\" or app.\"Orders\"",
            )
        };
        let mut parts: Vec<Vec<Piece>> = vec![Vec::new()];
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '.' && !quoted {
                parts.push(Vec::new());
                continue;
            }
            if c == '"' && !(quoted && chars.peek() == Some(&'"')) {
                quoted = !quoted;
                continue;
            }
            if c == '"' {
                chars.next(); // `""` inside quotes: one quote
            }
            let Some(cur) = parts.last_mut() else { continue };
            match c {
                '*' if !quoted => cur.push(Piece::Any),
                '?' if !quoted => cur.push(Piece::One),
                c if !quoted => cur.extend(c.to_lowercase().map(Piece::Literal)),
                c => cur.push(Piece::Literal(c)),
            }
        }
        if quoted {
            return Err(bad("has an unclosed quote"));
        }
        if parts.iter().any(Vec::is_empty) {
            return Err(bad("has an empty part"));
        }
        match parts.len() {
            1 => Ok(Self { text: text.to_owned(), schema: None, table: parts.remove(0) }),
            2 => {
                let table = parts.pop().unwrap_or_default();
                Ok(Self { text: text.to_owned(), schema: parts.pop(), table })
            }
            _ => Err(bad("has more than one dot outside quotes (a database name is not supported)")),
        }
    }

    /// Whether `name` matches; unqualified patterns only in `search_path` schemas.
    pub fn matches(&self, name: &TableName, search_path: &[String], ignore_case: bool) -> bool {
        let schema_ok = match &self.schema {
            Some(p) => glob(p, &name.schema, ignore_case),
            None => name.schema.is_empty() || search_path.iter().any(|s| s == &name.schema),
        };
        schema_ok && glob(&self.table, &name.name, ignore_case)
    }
}

fn glob(pattern: &[Piece], text: &str, ignore_case: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| if ignore_case { a.to_lowercase().eq(b.to_lowercase()) } else { a == b };
    // Iterative wildcard matching with one backtrack point (linear in practice).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Piece::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Literal(c)) if eq(*c, text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|x| *x == Piece::Any)
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub schemas: Vec<String>,
    /// pg_dump's `--strict-names`: every `--table` and `--schema` must match something.
    pub strict_names: bool,
}

impl Selection {
    pub fn is_everything(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty() && self.schemas.is_empty()
    }

    /// The names of `available` the selection keeps, in their order. `--table` and
    /// `--schema` add up (nothing given: every table); `--exclude` removes. Errors as
    /// pg_dump: includes given and none of them matches (or, with `--strict-names`, one
    /// of them matches nothing).
    pub fn apply(
        &self,
        available: &[TableName],
        search_path: &[String],
        ignore_case: bool,
    ) -> Result<Vec<TableName>, Error> {
        let (include, exclude) = (parse(&self.include)?, parse(&self.exclude)?);
        let list = || {
            let names: Vec<String> = available.iter().map(ToString::to_string).collect();
            if names.is_empty() { "(no tables)".to_owned() } else { names.join(", ") }
        };
        let unmatched: Vec<String> = self
            .unmatched(available, search_path, ignore_case)?
            .into_iter()
            .filter(|(flag, _)| *flag != "--exclude")
            .map(|(flag, p)| format!("{flag} {p}"))
            .collect();
        let includes = include.len() + self.schemas.len();
        if self.strict_names && !unmatched.is_empty() {
            return Err(Error::usage_hint(
                format!("{}: no table matches (--strict-names)", unmatched.join(", ")),
                format!("tables are: {}", list()),
            ));
        }
        if includes > 0 && unmatched.len() == includes {
            return Err(Error::usage_hint(
                format!("no matching tables were found for {}", unmatched.join(", ")),
                format!("tables are: {}", list()),
            ));
        }
        let everything = include.is_empty() && self.schemas.is_empty();
        Ok(available
            .iter()
            .filter(|n| {
                everything
                    || include.iter().any(|p| p.matches(n, search_path, ignore_case))
                    || self.schemas.iter().any(|s| in_schema(n, s, ignore_case))
            })
            .filter(|n| !exclude.iter().any(|p| p.matches(n, search_path, ignore_case)))
            .cloned()
            .collect())
    }

    /// Each pattern or schema that matches none of `available`, with its flag
    /// (`--table`, `--exclude`, `--schema`), as typed.
    pub fn unmatched(
        &self,
        available: &[TableName],
        search_path: &[String],
        ignore_case: bool,
    ) -> Result<Vec<(&'static str, String)>, Error> {
        let mut out = Vec::new();
        for (flag, patterns) in [("--table", parse(&self.include)?), ("--exclude", parse(&self.exclude)?)] {
            for p in patterns {
                if !available.iter().any(|n| p.matches(n, search_path, ignore_case)) {
                    out.push((flag, p.text));
                }
            }
        }
        for s in &self.schemas {
            if !available.iter().any(|n| in_schema(n, s, ignore_case)) {
                out.push(("--schema", s.clone()));
            }
        }
        Ok(out)
    }

    /// Says which patterns matched nothing (once `apply` accepted the selection): a
    /// warning for `--table` and `--schema` (a typo there leaves tables out), a `-v`
    /// line for `--exclude` (nothing to leave out is normal, e.g. on another branch).
    pub fn tell_unmatched(&self, available: &[TableName], search_path: &[String], ignore_case: bool, out: &Printer) {
        for (flag, p) in self.unmatched(available, search_path, ignore_case).unwrap_or_default() {
            if flag == "--exclude" {
                out.debug(format!("--exclude {p} matches no table: nothing left out for it"));
            } else {
                out.warn(format!(
                    "{flag} {p} matches no table; going on with the others (--strict-names makes this an error)"
                ));
            }
        }
    }
}

fn parse(texts: &[String]) -> Result<Vec<Pattern>, Error> {
    texts.iter().map(|t| Pattern::parse(t)).collect()
}

fn in_schema(n: &TableName, s: &str, ignore_case: bool) -> bool {
    if ignore_case { n.schema.eq_ignore_ascii_case(s) } else { n.schema == s }
}

impl Schema {
    /// The application tables `sel` picks (the rules above); patterns that match
    /// nothing are told to `out`.
    pub fn select(&self, sel: &Selection, out: &Printer) -> Result<Vec<&Table>, Error> {
        let names: Vec<TableName> = self.tables.iter().map(|t| t.name.clone()).collect();
        let chosen = sel.apply(&names, &self.search_path, self.names_ignore_case)?;
        sel.tell_unmatched(&names, &self.search_path, self.names_ignore_case, out);
        Ok(self.tables.iter().filter(|t| chosen.contains(&t.name)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<TableName> {
        vec![
            TableName::new("public", "staffs"),
            TableName::new("public", "audit_log"),
            TableName::new("public", "audit_events"),
            TableName::new("public", "Mixed Case"),
            TableName::new("app", "orders"),
            TableName::new("app", "Orders"),
            TableName::new("app", "a.b"),
        ]
    }

    fn pick(include: &[&str], exclude: &[&str], schemas: &[&str]) -> Result<Vec<String>, Error> {
        let sel = Selection {
            include: include.iter().map(|s| (*s).to_owned()).collect(),
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            strict_names: false,
        };
        Ok(sel
            .apply(&names(), &["public".to_owned()], false)?
            .iter()
            .map(|n| format!("{}.{}", n.schema, n.name))
            .collect())
    }

    #[test]
    fn pg_dump_rules() {
        assert_eq!(pick(&["audit_*"], &[], &[]).unwrap(), ["public.audit_log", "public.audit_events"]);
        assert_eq!(pick(&["app.*"], &[], &[]).unwrap(), ["app.orders", "app.Orders", "app.a.b"]);
        // Unquoted folds to lower case; quotes keep case and take dots literally.
        assert_eq!(pick(&["APP.ORDERS"], &[], &[]).unwrap(), ["app.orders"]);
        assert_eq!(pick(&["app.\"Orders\""], &[], &[]).unwrap(), ["app.Orders"]);
        assert_eq!(pick(&["\"Mixed Case\""], &[], &[]).unwrap(), ["public.Mixed Case"]);
        assert_eq!(pick(&["app.\"a.b\""], &[], &[]).unwrap(), ["app.a.b"]);
        // Unqualified: the search path only.
        assert!(pick(&["orders"], &[], &[]).is_err());
        assert_eq!(pick(&[], &["audit_*", "app.*"], &[]).unwrap(), ["public.staffs", "public.Mixed Case"]);
        assert_eq!(pick(&["staffs"], &[], &["app"]).unwrap().len(), 4);
        assert_eq!(pick(&["st?ffs"], &[], &[]).unwrap(), ["public.staffs"]);
        // pg_dump: includes that match nothing at all are an error naming them ...
        let err = pick(&["nope*"], &[], &[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("nope*"), "{err}");
        assert!(pick(&[], &[], &["nope"]).is_err());
        assert!(pick(&["nope"], &[], &["nada"]).is_err());
        // ... one that matches nothing beside one that does is not (a warning) ...
        assert_eq!(pick(&["nope", "staffs"], &[], &[]).unwrap(), ["public.staffs"]);
        assert_eq!(pick(&["staffs"], &[], &["nada"]).unwrap(), ["public.staffs"]);
        // ... and an --exclude that matches nothing never is.
        assert_eq!(pick(&[], &["nope"], &[]).unwrap().len(), names().len());
        assert_eq!(pick(&["staffs"], &["audit_*", "nope"], &[]).unwrap(), ["public.staffs"]);
        assert!(Pattern::parse("\"open").is_err());
        assert!(Pattern::parse("a..b").is_err());
        assert!(Pattern::parse("db.app.t").is_err());
    }

    #[test]
    fn strict_names_needs_every_include_to_match() {
        let strict = |include: &[&str], exclude: &[&str], schemas: &[&str]| Selection {
            include: include.iter().map(|s| (*s).to_owned()).collect(),
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
            schemas: schemas.iter().map(|s| (*s).to_owned()).collect(),
            strict_names: true,
        };
        let sp = ["public".to_owned()];
        let err = strict(&["nope", "staffs"], &[], &[]).apply(&names(), &sp, false).unwrap_err();
        assert!(err.to_string().contains("--table nope") && err.to_string().contains("--strict-names"), "{err}");
        assert!(strict(&["staffs"], &[], &["nada"]).apply(&names(), &sp, false).is_err());
        // pg_dump's --strict-names does not reach --exclude.
        assert_eq!(strict(&["staffs"], &["nope"], &[]).apply(&names(), &sp, false).unwrap().len(), 1);
        let sel = strict(&["nope", "staffs"], &["gone"], &["nada"]);
        let unmatched = sel.unmatched(&names(), &sp, false).unwrap();
        assert_eq!(
            unmatched,
            [("--table", "nope".to_owned()), ("--exclude", "gone".to_owned()), ("--schema", "nada".to_owned())]
        );
    }

    #[test]
    fn wildcards_do_not_backtrack_forever() {
        let p = Pattern::parse(&"*a".repeat(30)).unwrap();
        let name = TableName::new("", "a".repeat(200) + "b");
        assert!(!p.matches(&name, &[], false));
        let sqlite = TableName::new("", "Staffs");
        assert!(Pattern::parse("staffs").unwrap().matches(&sqlite, &[], true));
        assert!(!Pattern::parse("staffs").unwrap().matches(&sqlite, &[], false));
    }
}
