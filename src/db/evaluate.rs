//! Asking the database itself what it thinks of rows before they are loaded: a check
//! constraint's expression (or any expression over a table's columns) evaluated over a
//! list of candidate rows, with no table touched. The query is plain SQL every kind
//! runs — a `WITH v(i, col, ...) AS (VALUES (...), ...)` list and a `SELECT` over it —
//! so each kind only says how to write a value as a literal of a column's type.

use crate::db::schema::{Column, quote_ident};
use crate::db::value::Value;

/// Rows per statement: keeps statements small (SQLite's and MySQL's limits) while a
/// pool of a few hundred candidates still takes only a few round trips.
pub const ROWS_PER_STATEMENT: usize = 200;

/// The expression that is `1` when `check` lets a row in and `0` when it refuses it.
/// NULL passes, as for CHECK constraints; written without `IS NOT FALSE` so every kind
/// reads it the same.
pub fn check_passes(check: &str) -> String {
    let body = check_body(check);
    format!("CASE WHEN ({body}) THEN 1 WHEN NOT ({body}) THEN 0 ELSE 1 END")
}

/// `CHECK ((a > b)) NOT VALID` -> `(a > b)`: the boolean expression of a check's text.
/// `pg_get_constraintdef` may end it with any of `NO INHERIT`, `NOT ENFORCED`
/// (PostgreSQL 18) and `NOT VALID`.
pub fn check_body(check: &str) -> &str {
    let mut t = check.trim();
    while let Some(rest) =
        ["NOT VALID", "NO INHERIT", "NOT ENFORCED"].iter().find_map(|m| t.strip_suffix(m).map(str::trim_end))
    {
        t = rest;
    }
    match (t.get(..5), t.get(5..)) {
        (Some(kw), Some(rest)) if kw.eq_ignore_ascii_case("CHECK") => rest.trim(),
        _ => t,
    }
}

/// The query evaluating `exprs` on `rows` (already written as literals, one per column):
/// returns the row index, then each expression as text.
pub fn select_sql(
    columns: &[&Column],
    rows: &[Vec<String>],
    exprs: &[String],
    row_keyword: &str,
    cast_text: &dyn Fn(&str) -> String,
) -> String {
    let mut names = vec![quote_ident("seed_row")];
    names.extend(columns.iter().map(|c| quote_ident(&c.name)));
    let values: Vec<String> =
        rows.iter().enumerate().map(|(i, r)| format!("{row_keyword}({i}, {})", r.join(", "))).collect();
    let outputs: Vec<String> = exprs.iter().map(|e| cast_text(&format!("({e})"))).collect();
    format!(
        "WITH {}({}) AS (VALUES {}) SELECT {}, {} FROM {} ORDER BY 1",
        quote_ident("seed_candidates"),
        names.join(", "),
        values.join(", "),
        cast_text(&quote_ident("seed_row")),
        outputs.join(", "),
        quote_ident("seed_candidates"),
    )
}

/// A value as a literal without a cast: numbers bare, text quoted, bytes as `X'..'`.
pub fn plain_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => format!("{f:?}"),
        Value::Float(f) => crate::db::schema::quote_literal(&f.to_string()),
        Value::Text(s) => crate::db::schema::quote_literal(s),
        Value::Bytes(b) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("X'{hex}'")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_text_becomes_an_expression() {
        assert_eq!(check_body("CHECK ((end_at > start_at)) NOT VALID"), "((end_at > start_at))");
        assert_eq!(check_body("CHECK ((a > 0)) NO INHERIT NOT ENFORCED"), "((a > 0))");
        assert_eq!(check_body("CHECK ((b > 0)) NO INHERIT NOT VALID"), "((b > 0))");
        assert_eq!(check_body("(a LIKE '%x%')"), "(a LIKE '%x%')");
        assert_eq!(check_passes("CHECK (a > 0)"), "CASE WHEN ((a > 0)) THEN 1 WHEN NOT ((a > 0)) THEN 0 ELSE 1 END");
    }

    #[test]
    fn literals() {
        assert_eq!(plain_literal(&Value::Text("o'k".into())), "'o''k'");
        assert_eq!(plain_literal(&Value::Bytes(vec![0, 255])), "X'00ff'");
        assert_eq!(plain_literal(&Value::Float(1.0)), "1.0");
        assert_eq!(plain_literal(&Value::Null), "NULL");
    }
}
