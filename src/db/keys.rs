//! Naming rows inside one read transaction, for key sets (subsets): which columns
//! identify a row of a table ([`RowKey`]), and batching keys into SQL.
//!
//! A key travels as text the database produced itself: a comma-separated list of SQL
//! literals, one per key column (`'42'`, `'2022-07-01 00:00:00+00','17'`, SQLite's
//! `X'0a'`), made by [`Backend::key_literal`] and pasted back into `IN (...)` lists by
//! [`Backend::key_in`]. So seed never re-encodes a value of any type: what comes back is
//! what the database wrote. Literals are compared the way the database compares an
//! untyped literal with a column, which uses the column's index.
//!
//! [`Backend::key_literal`]: crate::db::Backend::key_literal
//! [`Backend::key_in`]: crate::db::Backend::key_in

use crate::db::schema::{Table, quote_ident};

/// One column (or system column) of a row's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPart {
    /// SQL naming it, quoted (`"id"`, or a system column such as `ctid`).
    pub expr: String,
    /// Its type as the database spells it (`integer`, `tid`, `varbinary(16)`).
    pub type_name: String,
}

/// The columns that tell one row of a table from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKey {
    pub parts: Vec<KeyPart>,
    /// What the key is, for plans: `primary key`, `unique (email)`, `ctid`.
    pub kind: String,
}

impl RowKey {
    /// The primary key, else the first unique key whose columns are all NOT NULL, else
    /// `row_id` (the kind's system columns, e.g. PostgreSQL's `ctid`, SQLite's `rowid`);
    /// `None` when there is none of these.
    pub fn of(table: &Table, row_id: Option<Vec<KeyPart>>) -> Option<Self> {
        let columns = |names: &[String]| -> Option<Vec<KeyPart>> {
            names
                .iter()
                .map(|n| {
                    let c = table.column(n)?;
                    Some(KeyPart { expr: quote_ident(&c.name), type_name: c.type_name.clone() })
                })
                .collect()
        };
        if !table.primary_key.is_empty()
            && let Some(parts) = columns(&table.primary_key)
        {
            return Some(Self { parts, kind: "primary key".into() });
        }
        for u in &table.uniques {
            let not_null = u.columns.iter().all(|c| table.column(c).is_some_and(|col| !col.nullable));
            if !u.columns.is_empty()
                && not_null
                && let Some(parts) = columns(&u.columns)
            {
                return Some(Self { parts, kind: format!("unique ({})", u.columns.join(", ")) });
            }
        }
        let parts = row_id?;
        let kind = parts.iter().map(|p| p.expr.as_str()).collect::<Vec<_>>().join(", ");
        Some(Self { parts, kind })
    }

    /// The key's SQL, qualified by `alias` when given (`c."id"`).
    pub fn exprs(&self, alias: Option<&str>) -> Vec<String> {
        self.parts.iter().map(|p| qualify(alias, &p.expr)).collect()
    }

    /// `ORDER BY` list for the key.
    pub fn order_by(&self, alias: Option<&str>) -> String {
        self.exprs(alias).join(", ")
    }
}

/// `alias.expr`, or `expr` alone.
pub fn qualify(alias: Option<&str>, expr: &str) -> String {
    match alias {
        Some(a) => format!("{a}.{expr}"),
        None => expr.to_owned(),
    }
}

/// `lhs IN (k1, k2)` for one column, `(a, b) IN ((k1), (k2))` for several: the shape
/// PostgreSQL and MySQL read with their indexes (SQLite wants `VALUES` for rows).
pub fn in_list(lhs: &[String], keys: &[&str]) -> String {
    if lhs.len() == 1 {
        format!("{} IN ({})", lhs[0], keys.join(", "))
    } else {
        let rows: Vec<String> = keys.iter().map(|k| format!("({k})")).collect();
        format!("({}) IN ({})", lhs.join(", "), rows.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::Unique;
    use crate::db::schema::test_support::int_table;

    fn table(pk: &[&str], uniques: &[&[&str]]) -> Table {
        let mut t = int_table("", "t", &[("a", false), ("b", false), ("c", true)]);
        t.primary_key = pk.iter().map(|s| (*s).to_owned()).collect();
        t.uniques = uniques
            .iter()
            .map(|cols| Unique { name: "u".into(), columns: cols.iter().map(|s| (*s).to_owned()).collect() })
            .collect();
        t
    }

    #[test]
    fn primary_then_not_null_unique_then_row_id() {
        let rowid = Some(vec![KeyPart { expr: "rowid".into(), type_name: "integer".into() }]);
        let k = RowKey::of(&table(&["a", "b"], &[]), rowid.clone()).unwrap();
        assert_eq!(
            (k.exprs(Some("t")), k.kind.as_str()),
            (vec!["t.\"a\"".to_owned(), "t.\"b\"".into()], "primary key")
        );
        // A unique key with a nullable column does not name rows.
        let k = RowKey::of(&table(&[], &[&["c"], &["b"]]), rowid.clone()).unwrap();
        assert_eq!(k.kind, "unique (b)");
        let k = RowKey::of(&table(&[], &[&["c"]]), rowid).unwrap();
        assert_eq!((k.exprs(None), k.kind.as_str()), (vec!["rowid".to_owned()], "rowid"));
        assert!(RowKey::of(&table(&[], &[]), None).is_none());
    }

    #[test]
    fn lists() {
        assert_eq!(in_list(&["x".into()], &["'1'", "'2'"]), "x IN ('1', '2')");
        assert_eq!(in_list(&["x".into(), "y".into()], &["'1','a'", "'2','b'"]), "(x, y) IN (('1','a'), ('2','b'))");
    }
}
