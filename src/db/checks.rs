//! Reads simple check constraints (ranges, IN lists, length limits) from their SQL text,
//! as PostgreSQL's `pg_get_constraintdef` or SQLite's `CREATE TABLE` prints them.
//! Anything else is left alone: the generator then does its best and the database
//! has the last word.

use crate::db::evaluate::check_body;
use crate::db::schema::CheckRule;

/// Rules the check `expr` puts on `column` (`VALUE` for domains).
pub fn parse_check(expr: &str, column: &str) -> Vec<CheckRule> {
    let body = check_body(expr);
    let mut rules = Vec::new();
    for conjunct in split_and(strip_parens(body)) {
        if let Some(rule) = parse_conjunct(strip_parens(conjunct), column) {
            rules.push(rule);
        }
    }
    merge_ranges(rules)
}

fn merge_ranges(rules: Vec<CheckRule>) -> Vec<CheckRule> {
    let mut min: Option<f64> = None;
    let mut max: Option<f64> = None;
    let mut out = Vec::new();
    for rule in rules {
        match rule {
            CheckRule::Range { min: lo, max: hi } => {
                if let Some(lo) = lo {
                    min = Some(min.map_or(lo, |m| m.max(lo)));
                }
                if let Some(hi) = hi {
                    max = Some(max.map_or(hi, |m| m.min(hi)));
                }
            }
            other => out.push(other),
        }
    }
    if min.is_some() || max.is_some() {
        out.insert(0, CheckRule::Range { min, max });
    }
    out
}

/// Removes parentheses that wrap the whole expression.
fn strip_parens(mut s: &str) -> &str {
    loop {
        let t = s.trim();
        if t.starts_with('(') && t.ends_with(')') && closing_of(t, 0) == Some(t.len() - 1) {
            s = &t[1..t.len() - 1];
        } else {
            return t;
        }
    }
}

/// Byte index of the `)` closing the `(` at `open` (quotes respected).
pub fn closing_of(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut in_str = false;
    for (i, ch) in s.char_indices().skip_while(|(i, _)| *i < open) {
        match ch {
            '\'' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Splits on top-level ` AND ` (not inside parentheses, strings or BETWEEN ... AND).
fn split_and(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut in_str, mut start) = (0i32, false, 0usize);
    let upper = s.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    let mut between_pending = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => in_str = !in_str,
            b'(' if !in_str => depth += 1,
            b')' if !in_str => depth -= 1,
            _ if !in_str && depth == 0 && upper[i..].starts_with(" BETWEEN ") => between_pending = true,
            _ if !in_str && depth == 0 && upper[i..].starts_with(" AND ") => {
                if between_pending {
                    between_pending = false;
                } else {
                    parts.push(&s[start..i]);
                    start = i + 5;
                    i += 5;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// Splits on `sep` outside parentheses and quotes.
pub fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None::<char>, 0usize);
    for (i, ch) in s.char_indices() {
        match ch {
            '\'' | '"' if quote.is_none() => quote = Some(ch),
            c if quote == Some(c) => quote = None,
            '(' if quote.is_none() => depth += 1,
            ')' if quote.is_none() => depth -= 1,
            c if c == sep && quote.is_none() && depth == 0 => {
                parts.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// True when seed understands all of check `expr`: each conjunct is one of the simple
/// rules `parse_check` reads (a range, a list, a length limit, `<> ''`) on one of
/// `columns`. Anything else (OR, LIKE, regular expressions, functions, several columns)
/// is left to candidates the database checks.
pub fn fully_understood(expr: &str, columns: &[&str]) -> bool {
    let body = check_body(expr);
    split_and(strip_parens(body)).into_iter().all(|conjunct| {
        let c = strip_parens(conjunct);
        let outside = outside_quotes(c).to_ascii_uppercase();
        let simple = ![" OR ", "NOT ", " LIKE ", " GLOB ", "~", " SIMILAR ", " REGEXP ", " IS ", "||"]
            .iter()
            .any(|k| outside.contains(k));
        simple
            && referenced_columns(c, columns).len() == 1
            && columns
                .iter()
                .any(|col| parse_conjunct(c, col).is_some_and(|r| !matches!(&r, CheckRule::In(v) if v.is_empty())))
    })
}

/// A domain check over `VALUE` rewritten over `column` (quoted), outside string literals.
pub fn value_as_column(expr: &str, column: &str) -> String {
    let quoted = crate::db::schema::quote_ident(column);
    let chars: Vec<char> = expr.chars().collect();
    let mut out = String::with_capacity(expr.len() + column.len());
    let mut i = 0;
    let mut in_str = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            in_str = !in_str;
        }
        let word_start =
            !in_str && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '"'));
        if word_start && chars.len() >= i + 5 {
            let word: String = chars[i..i + 5].iter().collect();
            let after = chars.get(i + 5).is_none_or(|n| !(n.is_alphanumeric() || *n == '_'));
            if word == "VALUE" && after {
                out.push_str(&quoted);
                i += 5;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `s` with the insides of string literals blanked out (same length).
fn outside_quotes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    for ch in s.chars() {
        if ch == '\'' {
            in_str = !in_str;
            out.push(ch);
        } else if in_str {
            out.push(' ');
        } else {
            out.push(ch);
        }
    }
    out
}

/// The names among `columns` that `expr` mentions as identifiers (not inside string
/// literals, not as function or type names). Unquoted names match without regard to
/// case; quoted ones (`"Name"`, `` `name` ``, `[name]`) exactly.
pub fn referenced_columns<'a>(expr: &str, columns: &[&'a str]) -> Vec<&'a str> {
    let mut found: Vec<&'a str> = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let add = |name: &str, exact: bool, found: &mut Vec<&'a str>| {
        let hit = columns.iter().find(|c| if exact { **c == name } else { c.eq_ignore_ascii_case(name) });
        if let Some(c) = hit
            && !found.contains(c)
        {
            found.push(c);
        }
    };
    while i < chars.len() {
        let ch = chars[i];
        if ch == '\'' {
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        let close = match ch {
            '"' => Some('"'),
            '`' => Some('`'),
            '[' if chars.get(i + 1).is_some_and(|c| c.is_alphabetic() || *c == '_') => Some(']'),
            _ => None,
        };
        if let Some(close) = close {
            let start = i + 1;
            let mut j = start;
            while j < chars.len() && chars[j] != close {
                j += 1;
            }
            let name: String = chars[start..j.min(chars.len())].iter().collect();
            add(&name, true, &mut found);
            i = j + 1;
            continue;
        }
        if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            let is_call = next == Some(&'(');
            let after_cast = start >= 2 && chars[start - 2] == ':' && chars[start - 1] == ':';
            if !is_call && !after_cast {
                add(&name, false, &mut found);
            }
            continue;
        }
        i += 1;
    }
    found
}

fn parse_conjunct(c: &str, column: &str) -> Option<CheckRule> {
    let upper = c.to_ascii_uppercase();
    // col BETWEEN a AND b
    if let Some(pos) = upper.find(" BETWEEN ") {
        if !is_col(&c[..pos], column) {
            return None;
        }
        let rest = &c[pos + 9..];
        let and = rest.to_ascii_uppercase().find(" AND ")?;
        return Some(CheckRule::Range { min: Some(number(&rest[..and])?), max: Some(number(&rest[and + 5..])?) });
    }
    // col = ANY (ARRAY['a'::text, 'b'::text])  |  col IN ('a', 'b')
    if let Some(pos) = upper.find(" = ANY ") {
        if !is_col(&c[..pos], column) {
            return None;
        }
        let rest = &c[pos + 7..];
        let open = rest.find('[')?;
        let close = rest.rfind(']')?;
        let items = list(&rest[open + 1..close]);
        return (!items.is_empty()).then_some(CheckRule::In(items));
    }
    if let Some(pos) = upper.find(" IN ") {
        if !is_col(&c[..pos], column) || upper.contains(" NOT IN ") {
            return None;
        }
        let rest = strip_parens(&c[pos + 4..]);
        let items = list(rest);
        return (!items.is_empty()).then_some(CheckRule::In(items));
    }
    for op in [">=", "<=", "<>", "!=", ">", "<", "="] {
        if let Some(pos) = c.find(op) {
            let (lhs, rhs) = (c[..pos].trim(), c[pos + op.len()..].trim());
            return comparison(lhs, op, rhs, column);
        }
    }
    None
}

fn comparison(lhs: &str, op: &str, rhs: &str, column: &str) -> Option<CheckRule> {
    let lhs = strip_parens(lhs);
    let length_of = ["length(", "char_length(", "character_length(", "LENGTH("]
        .iter()
        .find_map(|f| lhs.strip_prefix(f).and_then(|r| r.strip_suffix(')')));
    if let Some(inner) = length_of {
        if !is_col(inner, column) {
            return None;
        }
        let n = number(rhs)?;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n.max(0.0) as u32;
        return match op {
            "<=" => Some(CheckRule::MaxLen(n)),
            "<" => Some(CheckRule::MaxLen(n.saturating_sub(1))),
            ">=" => Some(CheckRule::MinLen(n)),
            ">" => Some(CheckRule::MinLen(n + 1)),
            _ => None,
        };
    }
    if !is_col(lhs, column) {
        return None;
    }
    if matches!(op, "<>" | "!=") {
        // col <> '' : a non-empty string
        return (literal(rhs)?.is_empty()).then_some(CheckRule::MinLen(1));
    }
    let n = number(rhs)?;
    // Exclusive bounds step inside by 0.01, the finest scale we generate; integer
    // generators round inward (x > 0 becomes x >= 1).
    match op {
        ">=" => Some(CheckRule::Range { min: Some(n), max: None }),
        ">" => Some(CheckRule::Range { min: Some(n + 0.01), max: None }),
        "<=" => Some(CheckRule::Range { min: None, max: Some(n) }),
        "<" => Some(CheckRule::Range { min: None, max: Some(n - 0.01) }),
        "=" => Some(CheckRule::In(vec![literal(rhs).unwrap_or_else(|| rhs.to_owned())])),
        _ => None,
    }
}

fn is_col(s: &str, column: &str) -> bool {
    let s = strip_parens(s.trim());
    let s = strip_parens(s.split("::").next().unwrap_or(s).trim());
    let s = s.trim_matches('"').trim_matches('`').trim_matches(['[', ']']);
    s == column || s.eq_ignore_ascii_case(column) && column != "VALUE" || (column == "VALUE" && s == "VALUE")
}

/// `5`, `(0)::numeric`, `'5'::numeric`, `-1.5` -> number
fn number(s: &str) -> Option<f64> {
    let s = strip_parens(s.trim());
    let s = s.split("::").next().unwrap_or(s);
    let s = strip_parens(s).trim_matches('\'');
    s.trim().parse().ok()
}

/// `'manager'::text` -> manager
fn literal(s: &str) -> Option<String> {
    let s = strip_parens(s.trim());
    let s = s.split("::").next().unwrap_or(s).trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        Some(s[1..s.len() - 1].replace("''", "'"))
    } else if s.parse::<f64>().is_ok() {
        Some(s.to_owned())
    } else {
        None
    }
}

fn list(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let (mut in_str, mut start, mut depth) = (false, 0, 0);
    for (i, ch) in s.char_indices() {
        match ch {
            '\'' => in_str = !in_str,
            '(' if !in_str => depth += 1,
            ')' if !in_str => depth -= 1,
            ',' if !in_str && depth == 0 => {
                items.extend(literal(&s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    items.extend(literal(&s[start..]));
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_range() {
        let rules = parse_check("CHECK (((care_level >= 1) AND (care_level <= 5)))", "care_level");
        assert_eq!(rules, vec![CheckRule::Range { min: Some(1.0), max: Some(5.0) }]);
    }

    #[test]
    fn trailing_modifiers_as_postgres_18_prints_them() {
        let range = vec![CheckRule::Range { min: Some(1.0), max: Some(5.0) }];
        for def in [
            "CHECK (((level >= 1) AND (level <= 5))) NOT VALID",
            "CHECK (((level >= 1) AND (level <= 5))) NO INHERIT NOT ENFORCED",
            "CHECK (((level >= 1) AND (level <= 5))) NOT ENFORCED",
        ] {
            assert_eq!(parse_check(def, "level"), range, "{def}");
            assert!(fully_understood(def, &["level"]), "{def}");
        }
    }

    #[test]
    fn domain_value() {
        let rules = parse_check("CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))", "VALUE");
        assert_eq!(rules, vec![CheckRule::Range { min: Some(1901.0), max: Some(2155.0) }]);
    }

    #[test]
    fn any_array_and_in() {
        let rules = parse_check("CHECK ((role = ANY (ARRAY['manager'::text, 'carer'::text, 'o''k'::text])))", "role");
        assert_eq!(rules, vec![CheckRule::In(vec!["manager".into(), "carer".into(), "o'k".into()])]);
        let rules = parse_check("CHECK (role IN ('manager', 'nurse'))", "role");
        assert_eq!(rules, vec![CheckRule::In(vec!["manager".into(), "nurse".into()])]);
    }

    #[test]
    fn sqlite_between_and_lengths() {
        assert_eq!(
            parse_check("CHECK (care_level BETWEEN 1 AND 5)", "care_level"),
            vec![CheckRule::Range { min: Some(1.0), max: Some(5.0) }]
        );
        assert_eq!(parse_check("CHECK ((length(code) <= 8))", "code"), vec![CheckRule::MaxLen(8)]);
        assert_eq!(parse_check("CHECK ((name <> ''::text))", "name"), vec![CheckRule::MinLen(1)]);
        assert_eq!(
            parse_check("CHECK ((price > (0)::numeric))", "price"),
            vec![CheckRule::Range { min: Some(0.01), max: None }]
        );
    }

    #[test]
    fn varchar_lists_as_postgres_prints_them() {
        let def = "CHECK (((status)::text = ANY ((ARRAY['draft'::character varying, 'archived'::character varying])::text[])))";
        assert_eq!(parse_check(def, "status"), vec![CheckRule::In(vec!["draft".into(), "archived".into()])]);
        assert!(fully_understood(def, &["status"]));
    }

    #[test]
    fn understood_or_not() {
        let cols = ["a", "b", "email", "status"];
        assert!(fully_understood("CHECK (((a >= 1) AND (a <= 5)))", &cols));
        assert!(fully_understood("CHECK ((status = ANY (ARRAY['x'::text, 'y'::text])))", &cols));
        assert!(!fully_understood("CHECK ((a < b))", &cols));
        assert!(!fully_understood("CHECK (((email)::text ~~ '%@%'::text))", &cols));
        assert!(!fully_understood("CHECK ((lower(email) = email))", &cols));
        assert!(!fully_understood("CHECK (((a > 0) OR (a IS NULL)))", &cols));
        assert!(!fully_understood("CHECK (status IN ('a', 'b') OR status IS NULL)", &cols));
        assert!(!fully_understood("CHECK ((a > 0) AND (a < b))", &cols));
        assert!(parse_check("CHECK (status IN ('a', 'b') OR status IS NULL)", "status").is_empty());
    }

    #[test]
    fn domain_checks_over_a_column() {
        assert_eq!(
            value_as_column("CHECK ((VALUE ~ '^VALUE [a-z]+$'::text))", "Email"),
            "CHECK ((\"Email\" ~ '^VALUE [a-z]+$'::text))"
        );
        assert_eq!(value_as_column("CHECK (VALUES_X > 0 AND VALUE > 0)", "n"), "CHECK (VALUES_X > 0 AND \"n\" > 0)");
    }

    #[test]
    fn columns_referenced() {
        let cols = ["start_at", "end_at", "Name", "length", "text"];
        assert_eq!(referenced_columns("((end_at > start_at))", &cols), ["end_at", "start_at"]);
        assert_eq!(referenced_columns("(\"Name\" <> 'end_at')", &cols), ["Name"]);
        assert_eq!(referenced_columns("(length(x) > 0 AND y::text = '')", &cols), Vec::<&str>::new());
        assert_eq!(referenced_columns("num_nonnulls(START_AT, [end_at]) = 1", &cols), ["start_at", "end_at"]);
    }

    #[test]
    fn other_columns_and_unknown_shapes_are_ignored() {
        assert!(parse_check("CHECK ((a < b))", "a").is_empty());
        assert!(parse_check("CHECK ((x >= 1))", "y").is_empty());
        assert!(parse_check("CHECK (lower(email) = email)", "email").is_empty());
    }
}
