//! Which tables a trigger writes, read from its SQL text — one reader for every kind
//! (MySQL's `information_schema.TRIGGERS.ACTION_STATEMENT`, SQLite's `CREATE TRIGGER`
//! text, PostgreSQL's trigger function from `pg_get_functiondef`).
//!
//! A heuristic, not a parser: it finds `INSERT [INTO] t`, `REPLACE [INTO] t`,
//! `UPDATE t` and `DELETE FROM t` outside comments and string literals, and keeps the
//! names that are tables of the schema. Writes through dynamic SQL (`EXECUTE`,
//! `PREPARE`), through called procedures or functions, or through views are not seen.

use crate::db::schema::{Dml, TableName};

/// The (statement, table name) pairs of the writes in `body`, as written: `name` or
/// `schema.name`, unquoted.
pub fn writes_in(body: &str) -> Vec<(Dml, Vec<String>)> {
    let tokens = tokenize(body);
    let mut out: Vec<(Dml, Vec<String>)> = Vec::new();
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.to_ascii_uppercase()),
        _ => None,
    };
    let mut i = 0;
    while i < tokens.len() {
        let Some(kw) = word(i) else {
            i += 1;
            continue;
        };
        let (dml, skip): (Dml, &[&str]) = match kw.as_str() {
            "INSERT" | "REPLACE" => (
                Dml::Insert,
                &[
                    "LOW_PRIORITY",
                    "DELAYED",
                    "HIGH_PRIORITY",
                    "IGNORE",
                    "INTO",
                    "OR",
                    "REPLACE",
                    "ABORT",
                    "FAIL",
                    "ROLLBACK",
                ],
            ),
            "UPDATE" => (Dml::Update, &["LOW_PRIORITY", "IGNORE", "ONLY"]),
            "DELETE" => (Dml::Delete, &["LOW_PRIORITY", "QUICK", "IGNORE", "FROM", "ONLY"]),
            _ => {
                i += 1;
                continue;
            }
        };
        // `INSERT OR REPLACE INTO` (SQLite), `ON CONFLICT DO UPDATE SET` (no table).
        let mut j = i + 1;
        while let Some(w) = word(j) {
            if skip.contains(&w.as_str()) {
                j += 1;
            } else {
                break;
            }
        }
        // `AFTER INSERT ON t`, `UPDATE OF col`, `DO UPDATE SET`: keywords, not tables.
        let keyword = word(j).is_some_and(|w| NOT_NAMES.contains(&w.as_str()));
        if let Some(name) = qualified_name(&tokens, j).filter(|_| !keyword) {
            out.push((dml, name));
        }
        i = j.max(i + 1);
    }
    out
}

/// A `CREATE TRIGGER` statement (SQLite keeps them as written) split into the event
/// that fires it, whether it fires BEFORE, and its body (after `BEGIN`).
pub fn split_create_trigger(sql: &str) -> Option<(Dml, bool, &str)> {
    let upper = sql.to_ascii_uppercase();
    let begin = upper.match_indices("BEGIN").map(|(i, _)| i).find(|&i| {
        let before = upper[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let after = upper[i + 5..].chars().next().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        before && after
    })?;
    let head: Vec<&str> = upper[..begin].split(|c: char| !c.is_alphanumeric() && c != '_').collect();
    let on = head.iter().find_map(|w| match *w {
        "INSERT" => Some(Dml::Insert),
        "UPDATE" => Some(Dml::Update),
        "DELETE" => Some(Dml::Delete),
        _ => None,
    })?;
    Some((on, head.contains(&"BEFORE"), &sql[begin + 5..]))
}

/// Resolves the written names against `known` tables: `schema.name` exactly, a bare
/// name in `default_schema` first, then any schema holding it alone.
pub fn resolve(name: &[String], default_schema: &str, known: &[TableName]) -> Option<TableName> {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    match name {
        [schema, table] => known.iter().find(|t| eq(&t.schema, schema) && eq(&t.name, table)).cloned(),
        [table] => known
            .iter()
            .find(|t| t.schema == default_schema && eq(&t.name, table))
            .or_else(|| {
                let mut all = known.iter().filter(|t| eq(&t.name, table));
                let first = all.next();
                if all.next().is_some() { None } else { first }
            })
            .cloned(),
        _ => None,
    }
}

const NOT_NAMES: &[&str] = &["ON", "OF", "OR", "SET", "INTO", "FROM", "VALUES", "SELECT", "WHERE"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Dot,
    Other,
}

/// `name`, `"name"`, `` `name` ``, `[name]`, optionally `x.y`.
fn qualified_name(tokens: &[Token], at: usize) -> Option<Vec<String>> {
    let part = |i: usize| match tokens.get(i) {
        Some(Token::Word(w) | Token::Quoted(w)) => Some(w.clone()),
        _ => None,
    };
    let first = part(at)?;
    if tokens.get(at + 1) == Some(&Token::Dot)
        && let Some(second) = part(at + 2)
    {
        return Some(vec![first, second]);
    }
    Some(vec![first])
}

/// Words, quoted identifiers and dots; comments and string literals dropped.
fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') || c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '$' && next == Some('$') {
            // A string literal ('...' with '' or \' inside), or PostgreSQL's $$ body
            // delimiters, which only wrap the body and are skipped as such.
            if c == '$' {
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' || chars[i] == '\'' && chars.get(i + 1) == Some(&'\'') {
                    i += 2;
                } else if chars[i] == '\'' {
                    break;
                } else {
                    i += 1;
                }
            }
            i += 1;
            out.push(Token::Other);
        } else if c == '"' || c == '`' || c == '[' {
            let close = if c == '[' { ']' } else { c };
            let mut name = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == close && chars.get(i + 1) == Some(&close) && close != ']' {
                    name.push(close);
                    i += 2;
                } else if chars[i] == close {
                    break;
                } else {
                    name.push(chars[i]);
                    i += 1;
                }
            }
            i += 1;
            out.push(Token::Quoted(name));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            out.push(if c == '.' { Token::Dot } else { Token::Other });
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(body: &str) -> Vec<(Dml, String)> {
        writes_in(body).into_iter().map(|(d, n)| (d, n.join("."))).collect()
    }

    #[test]
    fn finds_writes_in_each_dialect() {
        // MySQL (sakila's ins_film, upd_film, del_film).
        assert_eq!(
            names(
                "BEGIN\n    INSERT INTO film_text (film_id, title, description)\n        VALUES (new.film_id, new.title, new.description);\n  END"
            ),
            vec![(Dml::Insert, "film_text".into())]
        );
        assert_eq!(
            names(
                "BEGIN IF (old.title != new.title) THEN UPDATE film_text SET title=new.title WHERE film_id=old.film_id; END IF; END"
            ),
            vec![(Dml::Update, "film_text".into())]
        );
        assert_eq!(
            names("DELETE FROM `film_text` WHERE film_id = old.film_id"),
            vec![(Dml::Delete, "film_text".into())]
        );
        assert_eq!(names("INSERT IGNORE audit.log VALUES (1)"), vec![(Dml::Insert, "audit.log".into())]);
        // SQLite.
        assert_eq!(
            names("CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT OR REPLACE INTO \"b c\" VALUES (new.id); END"),
            vec![(Dml::Insert, "b c".into())]
        );
        // PostgreSQL function bodies.
        assert_eq!(
            names(
                "CREATE FUNCTION f() RETURNS trigger AS $$ BEGIN INSERT INTO public.audit(id) VALUES (NEW.id) ON CONFLICT (id) DO UPDATE SET n = 1; RETURN NEW; END $$"
            ),
            vec![(Dml::Insert, "public.audit".into())]
        );
    }

    #[test]
    fn sqlite_statements_split() {
        let (on, before, body) =
            split_create_trigger("CREATE TRIGGER t BEFORE DELETE ON a FOR EACH ROW BEGIN DELETE FROM b; END").unwrap();
        assert_eq!((on, before), (Dml::Delete, true));
        assert_eq!(names(body), vec![(Dml::Delete, "b".into())]);
        assert!(split_create_trigger("CREATE TABLE beginning (x)").is_none());
    }

    #[test]
    fn comments_and_strings_are_not_writes() {
        assert!(
            names("-- INSERT INTO a\n/* UPDATE b */ SELECT 'DELETE FROM c', 'it''s INSERT INTO d' # INSERT e")
                .is_empty()
        );
    }

    #[test]
    fn names_resolve_against_known_tables() {
        let known = vec![TableName::new("public", "audit"), TableName::new("", "film_text")];
        assert_eq!(resolve(&["AUDIT".into()], "public", &known), Some(known[0].clone()));
        assert_eq!(resolve(&["public".into(), "audit".into()], "x", &known), Some(known[0].clone()));
        assert_eq!(resolve(&["film_text".into()], "", &known), Some(known[1].clone()));
        assert_eq!(resolve(&["SET".into()], "public", &known), None);
    }
}
