//! Multi-row INSERT for kinds without a bulk-load protocol (SQLite, MySQL): one rule
//! for how many rows go in one statement, and the statement's text.

/// Rows per INSERT: as many as `batch_size` asks for, within the kind's limit on
/// bound parameters per statement (`max_binds`), and at least one.
pub fn rows_per_statement(max_binds: usize, columns: usize, batch_size: u64) -> usize {
    let by_binds = max_binds / columns.max(1);
    usize::try_from(batch_size).unwrap_or(usize::MAX).min(by_binds).max(1)
}

/// `INSERT INTO table (cols) VALUES (?,..),(?,..)` for `rows` rows; table and columns
/// come quoted in the kind's own way.
pub fn statement(quoted_table: &str, quoted_columns: &[String], rows: usize) -> String {
    statement_as("INSERT", quoted_table, quoted_columns, rows)
}

/// [`statement`] with another verb, e.g. SQLite's `INSERT OR ROLLBACK`.
pub fn statement_as(verb: &str, quoted_table: &str, quoted_columns: &[String], rows: usize) -> String {
    let columns = quoted_columns;
    let one = format!("({})", vec!["?"; columns.len()].join(","));
    let mut sql = String::with_capacity(64 + rows * (one.len() + 1));
    sql.push_str(&format!("{verb} INTO {quoted_table} ({}) VALUES ", columns.join(", ")));
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing() {
        assert_eq!(rows_per_statement(32_766, 4, 5_000), 5_000);
        assert_eq!(rows_per_statement(32_766, 40, 5_000), 819);
        assert_eq!(rows_per_statement(32_766, 100_000, 5_000), 1);
        assert_eq!(rows_per_statement(65_535, 0, 3), 3);
    }

    #[test]
    fn text() {
        assert_eq!(
            statement("\"t\"", &["\"a\"".into(), "\"b\"".into()], 2),
            "INSERT INTO \"t\" (\"a\", \"b\") VALUES (?,?),(?,?)"
        );
    }
}
