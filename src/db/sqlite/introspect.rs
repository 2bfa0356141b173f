//! SQLite introspection through PRAGMAs, and the demo schema for the embedded default.

use sqlx::sqlite::SqliteConnection;
use sqlx::{AssertSqlSafe, Row};

use super::errors::translate;
use crate::db::checks::parse_check;
use crate::db::schema::{
    AutoKey, Column, ForeignKey, KeyElement, KeyRule, Schema, Table, TableName, TriggerWrite, TypeKind, Unique,
    quote_ident,
};
use crate::db::step::Step;
use crate::db::triggers::{resolve, split_create_trigger, writes_in};
use crate::error::Error;

/// The demo schema applied to an empty embedded database.
pub const DEMO_SCHEMA: &str = include_str!("../../../fixtures/schema.sql");

fn q(e: sqlx::Error, what: &str) -> Error {
    translate(e, &Step::new(what), None)
}

pub async fn table_names(conn: &mut SqliteConnection) -> Result<Vec<String>, Error> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, "listing tables"))?;
    Ok(names)
}

/// Applies the demo schema when the database has no tables; true if it did.
pub async fn apply_demo_schema_if_empty(conn: &mut SqliteConnection) -> Result<bool, Error> {
    if !table_names(conn).await?.is_empty() {
        return Ok(false);
    }
    sqlx::raw_sql(DEMO_SCHEMA).execute(&mut *conn).await.map_err(|e| q(e, "applying the demo schema"))?;
    Ok(true)
}

pub async fn introspect(conn: &mut SqliteConnection) -> Result<Schema, Error> {
    let what = "reading the schema";
    let rows = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    let mut tables = Vec::new();
    for r in rows {
        let name: String = r.get("name");
        let create_sql: String = r.get::<Option<String>, _>("sql").unwrap_or_default();
        let quoted = quote_ident(&name);
        let cols = sqlx::query(AssertSqlSafe(format!("PRAGMA table_xinfo({quoted})")))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| q(e, what))?;
        let mut pk: Vec<(i64, String)> = Vec::new();
        let mut columns = Vec::new();
        for c in &cols {
            let col_name: String = c.get("name");
            let decl: String = c.get::<Option<String>, _>("type").unwrap_or_default();
            let hidden: i64 = c.get("hidden");
            let pk_pos: i64 = c.get("pk");
            if pk_pos > 0 {
                pk.push((pk_pos, col_name.clone()));
            }
            columns.push(Column {
                checks: vec![],
                kind: kind_of(&decl),
                type_name: decl,
                nullable: c.get::<i64, _>("notnull") == 0 && pk_pos == 0,
                default: c.get("dflt_value"),
                auto: None,
                generated: hidden == 2 || hidden == 3,
                name: col_name,
            });
        }
        pk.sort();
        let primary_key: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
        // INTEGER PRIMARY KEY is the rowid: SQLite assigns it.
        if let [only] = primary_key.as_slice()
            && let Some(col) = columns.iter_mut().find(|c| &c.name == only)
            && col.type_name.eq_ignore_ascii_case("INTEGER")
        {
            col.auto = Some(AutoKey { sequence: None, always: false });
        }
        // Checks: any CHECK (...) in the CREATE TABLE text, matched to each column.
        let check_exprs = check_clauses(&create_sql);
        for col in &mut columns {
            for expr in &check_exprs {
                col.checks.extend(parse_check(expr, &col.name));
            }
        }
        let fk_rows = sqlx::query(AssertSqlSafe(format!("PRAGMA foreign_key_list({quoted})")))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| q(e, what))?;
        let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
        for f in &fk_rows {
            let id: i64 = f.get("id");
            let from: String = f.get("from");
            let to: Option<String> = f.get("to");
            let parent: String = f.get("table");
            match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
                Some((_, fk)) => {
                    fk.columns.push(from);
                    fk.ref_columns.extend(to);
                }
                None => foreign_keys.push((
                    id,
                    ForeignKey {
                        name: format!("{name}_fk{id}"),
                        columns: vec![from],
                        ref_table: TableName::new("", parent),
                        ref_columns: to.into_iter().collect(),
                        deferrable: true,
                        period: false,
                    },
                )),
            }
        }
        let mut uniques = Vec::new();
        let mut key_rules = Vec::new();
        let idx_rows = sqlx::query(AssertSqlSafe(format!("PRAGMA index_list({quoted})")))
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| q(e, what))?;
        for i in &idx_rows {
            let unique: i64 = i.get("unique");
            let origin: String = i.get("origin");
            let partial: i64 = i.get("partial");
            if unique == 0 || origin == "pk" {
                continue;
            }
            let idx_name: String = i.get("name");
            // Key columns; an expression shows as cid -2 with no name.
            let info = sqlx::query(AssertSqlSafe(format!("PRAGMA index_xinfo({})", quote_ident(&idx_name))))
                .fetch_all(&mut *conn)
                .await
                .map_err(|e| q(e, what))?;
            let keys: Vec<Option<String>> = info
                .iter()
                .filter(|r| r.get::<i64, _>("key") == 1)
                .map(|r| r.get::<Option<String>, _>("name"))
                .collect();
            if partial != 0 || keys.iter().any(Option::is_none) {
                let sql: Option<String> =
                    sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?")
                        .bind(&idx_name)
                        .fetch_optional(&mut *conn)
                        .await
                        .map_err(|e| q(e, what))?
                        .flatten();
                if let Some(rule) = sql.as_deref().and_then(|sql| index_rule(&idx_name, sql)) {
                    key_rules.push(rule);
                }
                continue;
            }
            let cols: Vec<String> = keys.into_iter().flatten().collect();
            if !cols.is_empty() {
                uniques.push(Unique { name: idx_name, columns: cols });
            }
        }
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {quoted}")))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| q(e, what))?;
        tables.push(Table {
            name: TableName::new("", name),
            columns,
            primary_key,
            uniques,
            foreign_keys: foreign_keys.into_iter().map(|(_, f)| f).collect(),
            partitioned: false,
            partition_key: None,
            partitions: vec![],
            checks: check_names(&create_sql, &check_exprs),
            row_estimate: u64::try_from(count).unwrap_or(0),
            estimated_bytes: 0,
            trigger_writes: vec![],
            key_rules,
        });
    }
    // Tables the triggers write.
    let triggers = sqlx::query("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q(e, what))?;
    let known: Vec<TableName> = tables.iter().map(|t| t.name.clone()).collect();
    for r in &triggers {
        let (table, name): (String, String) = (r.get(0), r.get(1));
        let sql: String = r.get::<Option<String>, _>(2).unwrap_or_default();
        let Some(t) = tables.iter_mut().find(|t| t.name.name == table) else { continue };
        let Some((on, before, body)) = split_create_trigger(&sql) else { continue };
        for (writes, target) in writes_in(body) {
            let Some(target) = resolve(&target, "", &known).filter(|n| n != &t.name) else { continue };
            let w = TriggerWrite { trigger: name.clone(), on, before, writes, table: target };
            if !t.trigger_writes.contains(&w) {
                t.trigger_writes.push(w);
            }
        }
    }
    // Foreign keys that name no parent columns point at the parent's primary key.
    let pks: Vec<(TableName, Vec<String>)> = tables.iter().map(|t| (t.name.clone(), t.primary_key.clone())).collect();
    for t in &mut tables {
        for fk in &mut t.foreign_keys {
            if fk.ref_columns.is_empty()
                && let Some((_, pk)) = pks.iter().find(|(n, _)| n == &fk.ref_table)
            {
                fk.ref_columns.clone_from(pk);
            }
        }
    }
    Ok(Schema { tables, migration_tables: vec![], search_path: vec![String::new()], names_ignore_case: true })
}

/// SQLite's declared types -> kinds, by its affinity rules plus common names.
fn kind_of(decl: &str) -> TypeKind {
    let upper = decl.to_ascii_uppercase();
    let len = || {
        upper
            .split_once('(')
            .and_then(|(_, r)| r.trim_end_matches(')').split(',').next().and_then(|n| n.trim().parse().ok()))
    };
    let base = upper.split('(').next().unwrap_or_default().trim();
    match base {
        "UUID" => TypeKind::Uuid,
        "JSON" | "JSONB" => TypeKind::Json,
        "BOOLEAN" | "BOOL" => TypeKind::Bool,
        "DATE" => TypeKind::Date,
        "DATETIME" | "TIMESTAMP" | "TIMESTAMPTZ" => TypeKind::Timestamp,
        "TIME" => TypeKind::Time,
        "SMALLINT" | "TINYINT" => TypeKind::SmallInt,
        "NUMERIC" | "DECIMAL" => {
            let (p, s) = upper
                .split_once('(')
                .map(|(_, r)| {
                    let mut parts = r.trim_end_matches(')').split(',').map(|n| n.trim().parse::<u32>().ok());
                    (parts.next().flatten(), parts.next().flatten())
                })
                .unwrap_or((None, None));
            TypeKind::Numeric { precision: p, scale: s.or(p.map(|_| 0)) }
        }
        _ if base.contains("INT") => TypeKind::BigInt,
        _ if base.contains("CHAR") || base.contains("CLOB") || base.contains("TEXT") => {
            TypeKind::Text { max_len: len() }
        }
        _ if base.contains("BLOB") || base.is_empty() && upper.is_empty() => {
            if upper.is_empty() {
                TypeKind::Text { max_len: None }
            } else {
                TypeKind::Bytea
            }
        }
        _ if base.contains("REAL") || base.contains("FLOA") || base.contains("DOUB") => TypeKind::Double,
        _ => TypeKind::Text { max_len: None },
    }
}

/// The expressions of every `CHECK (...)` clause in a CREATE TABLE statement.
fn check_clauses(sql: &str) -> Vec<String> {
    let upper = sql.to_ascii_uppercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = upper[from..].find("CHECK") {
        let start = from + pos + 5;
        let Some(open_rel) = sql[start..].find('(') else { break };
        let open = start + open_rel;
        if !sql[start..open].trim().is_empty() {
            from = start;
            continue;
        }
        let end = crate::db::checks::closing_of(sql, open);
        let Some(end) = end else { break };
        out.push(sql[open..=end].to_owned());
        from = end;
    }
    out
}

/// `CREATE UNIQUE INDEX name ON t (lower(email), tenant_id COLLATE NOCASE) WHERE x IS NULL`
/// -> its elements and predicate.
fn index_rule(name: &str, sql: &str) -> Option<KeyRule> {
    let upper = sql.to_ascii_uppercase();
    let on = upper.find(" ON ")?;
    let open = on + sql[on..].find('(')?;
    let close = crate::db::checks::closing_of(sql, open)?;
    let elements = crate::db::checks::split_top_level(&sql[open + 1..close], ',')
        .into_iter()
        .map(|e| KeyElement { expr: strip_order(e.trim()).to_owned(), op: None })
        .collect();
    let rest = &sql[close + 1..];
    let predicate = rest.to_ascii_uppercase().find("WHERE").map(|w| rest[w + 5..].trim().to_owned());
    Some(KeyRule { name: name.to_owned(), elements, predicate, exclusion: false })
}

/// `email COLLATE NOCASE DESC` -> `email COLLATE NOCASE`; an order does not change what is distinct.
fn strip_order(e: &str) -> &str {
    let upper = e.to_ascii_uppercase();
    for suffix in [" ASC", " DESC"] {
        if upper.ends_with(suffix) {
            return e[..e.len() - suffix.len()].trim_end();
        }
    }
    e
}

/// Each check with its name: `CONSTRAINT name CHECK (...)` names it; otherwise the
/// column it is declared on (`col INT CHECK (...)`), else its position.
fn check_names(sql: &str, exprs: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    for (n, expr) in exprs.iter().enumerate() {
        let at = sql[from..].find(expr.as_str()).map_or(from, |p| from + p);
        let before = sql[..at].trim_end();
        let before = before.strip_suffix("CHECK").or_else(|| before.strip_suffix("check")).unwrap_or(before).trim_end();
        let words: Vec<&str> = before.rsplit(|c: char| c.is_whitespace() || c == '(' || c == ',').take(2).collect();
        let name = match words.as_slice() {
            [ident, kw, ..] if kw.eq_ignore_ascii_case("CONSTRAINT") => {
                ident.trim_matches(['"', '`', '[', ']']).to_owned()
            }
            _ => format!("check {}", n + 1),
        };
        out.push((name, expr.clone()));
        from = at + expr.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types() {
        assert_eq!(kind_of("VARCHAR(20)"), TypeKind::Text { max_len: Some(20) });
        assert_eq!(kind_of("INTEGER"), TypeKind::BigInt);
        assert_eq!(kind_of("UUID"), TypeKind::Uuid);
        assert_eq!(kind_of("NUMERIC(5,2)"), TypeKind::Numeric { precision: Some(5), scale: Some(2) });
        assert_eq!(kind_of("BLOB"), TypeKind::Bytea);
        assert_eq!(kind_of(""), TypeKind::Text { max_len: None });
    }

    #[test]
    fn index_rules_and_check_names() {
        let r =
            index_rule("u", "CREATE UNIQUE INDEX u ON users (lower(email), tenant_id DESC) WHERE deleted_at IS NULL")
                .unwrap();
        let exprs: Vec<&str> = r.elements.iter().map(|e| e.expr.as_str()).collect();
        assert_eq!(exprs, ["lower(email)", "tenant_id"]);
        assert_eq!(r.predicate.as_deref(), Some("deleted_at IS NULL"));
        let sql = "CREATE TABLE t (a INT CHECK (a > 0), b TEXT, CONSTRAINT b_shape CHECK (b GLOB '[A-Z]*'))";
        let names = check_names(sql, &check_clauses(sql));
        assert_eq!(names[0].0, "check 1");
        assert_eq!(names[1], ("b_shape".to_owned(), "(b GLOB '[A-Z]*')".to_owned()));
    }

    #[test]
    fn finds_check_clauses() {
        let sql = "CREATE TABLE t (a INT CHECK (a BETWEEN 1 AND 5), b TEXT, CONSTRAINT c CHECK (b IN ('x', 'y)')))";
        assert_eq!(check_clauses(sql), vec!["(a BETWEEN 1 AND 5)", "(b IN ('x', 'y)'))"]);
    }
}
