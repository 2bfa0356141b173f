//! MySQL/MariaDB introspection from `information_schema`: tables of the URL's database
//! (named without a schema, like SQLite's, so a snapshot restores into a database of
//! another name), columns and their types, keys, foreign keys, checks, triggers.

use std::collections::HashMap;

use super::{Flavor, MySqlBackend};
use crate::db::checks::parse_check;
use crate::db::schema::{
    AutoKey, CheckRule, Column, Dml, ForeignKey, Schema, Table, TableName, TriggerWrite, TypeKind, Unique,
};
use crate::db::triggers;
use crate::error::Error;

type Rows = Vec<Vec<Option<String>>>;

/// The schema, and the storage engine of each table.
pub async fn introspect(db: &mut MySqlBackend) -> Result<(Schema, HashMap<String, String>), Error> {
    let step = db.step("reading the schema");
    let table_rows = db
        .texts(
            "SELECT TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"
                .into(),
            &step,
        )
        .await?;
    let col_rows = db
        .texts(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_DEFAULT, IS_NULLABLE, DATA_TYPE, COLUMN_TYPE,
                    CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, EXTRA
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
             ORDER BY TABLE_NAME, ORDINAL_POSITION"
                .into(),
            &step,
        )
        .await?;
    let key_rows = db
        .texts(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
                .into(),
            &step,
        )
        .await?;
    let fk_rows = db
        .texts(
            "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME,
                    IF(REFERENCED_TABLE_SCHEMA = DATABASE(), '', REFERENCED_TABLE_SCHEMA), REFERENCED_TABLE_NAME,
                    REFERENCED_COLUMN_NAME
             FROM information_schema.KEY_COLUMN_USAGE
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
                .into(),
            &step,
        )
        .await?;
    // MariaDB names column-level checks after the column, so names repeat across
    // tables: its CHECK_CONSTRAINTS carries the table. MySQL's does not; its names
    // are unique per database.
    let check_sql = match db.flavor {
        Flavor::MariaDb => {
            "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
             WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME"
        }
        Flavor::MySql => {
            "SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE FROM information_schema.TABLE_CONSTRAINTS tc
             JOIN information_schema.CHECK_CONSTRAINTS cc
               ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
             WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' ORDER BY 1, 2"
        }
    };
    let check_rows = db.texts(check_sql.into(), &step).await?;
    let trigger_rows = db
        .texts(
            "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, EVENT_MANIPULATION, ACTION_TIMING, ACTION_STATEMENT
             FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY 1, ACTION_ORDER, 2"
                .into(),
            &step,
        )
        .await?;
    let srid_sql = match db.flavor {
        Flavor::MariaDb => {
            "SELECT G_TABLE_NAME, G_GEOMETRY_COLUMN, SRID FROM information_schema.GEOMETRY_COLUMNS
             WHERE G_TABLE_SCHEMA = DATABASE()"
        }
        Flavor::MySql => {
            "SELECT TABLE_NAME, COLUMN_NAME, SRS_ID FROM information_schema.COLUMNS
             WHERE TABLE_SCHEMA = DATABASE() AND SRS_ID IS NOT NULL"
        }
    };
    let srid_rows = db.texts(srid_sql.into(), &step).await?;
    // lower_case_table_names 1 or 2: table names compare without regard to case.
    let lower = db.texts("SELECT @@lower_case_table_names".into(), &step).await?;
    let names_ignore_case = lower.first().and_then(|r| r.first()).cloned().flatten().is_some_and(|v| v != "0");
    let rows = [&table_rows, &col_rows, &key_rows, &fk_rows, &check_rows, &trigger_rows, &srid_rows];
    Ok(assemble(rows, names_ignore_case))
}

fn get(r: &[Option<String>], i: usize) -> &str {
    r.get(i).and_then(|v| v.as_deref()).unwrap_or_default()
}

fn num(r: &[Option<String>], i: usize) -> Option<u64> {
    r.get(i).and_then(|v| v.as_deref()).and_then(|v| v.parse().ok())
}

/// The schema from the catalog rows (tables, columns, keys, foreign keys, checks,
/// triggers, SRIDs, in that order).
fn assemble(rows: [&Rows; 7], names_ignore_case: bool) -> (Schema, HashMap<String, String>) {
    let [table_rows, col_rows, key_rows, fk_rows, check_rows, trigger_rows, srid_rows] = rows;
    let mut engines = HashMap::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in table_rows {
        let name = get(r, 0).to_owned();
        engines.insert(name.clone(), get(r, 1).to_owned());
        index.insert(name.clone(), tables.len());
        tables.push(Table {
            name: TableName::new("", name),
            columns: vec![],
            primary_key: vec![],
            uniques: vec![],
            foreign_keys: vec![],
            partitioned: false,
            partition_key: None,
            partitions: vec![],
            checks: vec![],
            row_estimate: num(r, 2).unwrap_or(0),
            estimated_bytes: num(r, 3).unwrap_or(0),
            trigger_writes: vec![],
            key_rules: vec![],
        });
    }
    let srids: HashMap<(&str, &str), u64> =
        srid_rows.iter().filter_map(|r| Some(((get(r, 0), get(r, 1)), num(r, 2)?))).collect();
    for r in col_rows {
        let Some(&ti) = index.get(get(r, 0)) else { continue };
        let name = get(r, 1).to_owned();
        let extra = get(r, 10).to_ascii_lowercase();
        let mut type_name = get(r, 5).to_owned();
        if let Some(&srid) = srids.get(&(get(r, 0), name.as_str()))
            && srid != 0
        {
            type_name.push_str(&format!(" srid {srid}"));
        }
        let (kind, checks) = kind_of(get(r, 4), &type_name, num(r, 6), num(r, 7), num(r, 8), num(r, 9));
        // MariaDB spells a NULL default "NULL" (a string default 'NULL' comes quoted).
        let default = r.get(2).cloned().flatten().filter(|d| d != "NULL");
        tables[ti].columns.push(Column {
            name,
            type_name,
            kind,
            nullable: get(r, 3) == "YES",
            default,
            auto: extra.contains("auto_increment").then_some(AutoKey { sequence: None, always: false }),
            // "VIRTUAL GENERATED", "STORED GENERATED" (MariaDB also "PERSISTENT"); not
            // MySQL's "DEFAULT_GENERATED", which is an expression default.
            generated: extra.contains("virtual") || extra.contains("stored generated") || extra.contains("persistent"),
            checks,
        });
    }
    // Keys: PRIMARY, then unique indexes (columns in index order).
    let mut keys: Vec<(usize, String, bool, Vec<String>, bool)> = Vec::new();
    for r in key_rows {
        let Some(&ti) = index.get(get(r, 0)) else { continue };
        let (idx, unique) = (get(r, 1).to_owned(), get(r, 2) == "0");
        let col = r.get(3).cloned().flatten();
        match keys.last_mut() {
            Some((t, n, _, cols, expr)) if *t == ti && *n == idx => match col {
                Some(c) => cols.push(c),
                None => *expr = true,
            },
            _ => keys.push((ti, idx, unique, col.iter().cloned().collect(), col.is_none())),
        }
    }
    for (ti, name, unique, cols, expr) in keys {
        // An index over an expression (MySQL 8 functional index) names no column.
        if !unique || expr || cols.is_empty() {
            continue;
        }
        let t = &mut tables[ti];
        if name == "PRIMARY" {
            t.primary_key = cols;
        } else if !t.uniques.iter().any(|u| u.columns == cols) {
            t.uniques.push(Unique { name, columns: cols });
        }
    }
    for r in fk_rows {
        let Some(&ti) = index.get(get(r, 0)) else { continue };
        let (name, col, ref_col) = (get(r, 1).to_owned(), get(r, 2).to_owned(), get(r, 5).to_owned());
        // A parent in another database keeps that database's name.
        let ref_table = TableName::new(get(r, 3), get(r, 4));
        let t = &mut tables[ti];
        match t.foreign_keys.iter_mut().find(|f| f.name == name) {
            Some(fk) => {
                fk.columns.push(col);
                fk.ref_columns.push(ref_col);
            }
            None => t.foreign_keys.push(ForeignKey {
                name,
                columns: vec![col],
                ref_table,
                ref_columns: vec![ref_col],
                deferrable: false,
                period: false,
            }),
        }
    }
    for r in check_rows {
        let Some(&ti) = index.get(get(r, 0)) else { continue };
        let (name, clause) = (get(r, 1).to_owned(), get(r, 2).to_owned());
        let t = &mut tables[ti];
        // MariaDB keeps a JSON column as LONGTEXT with CHECK (json_valid(`col`)).
        if let Some(col) = json_valid_column(&clause)
            && let Some(c) = t.columns.iter_mut().find(|c| c.name == col)
        {
            c.kind = TypeKind::Json;
            continue;
        }
        for c in &mut t.columns {
            c.checks.extend(parse_check(&clause, &c.name));
        }
        t.checks.push((name, clause));
    }
    let known: Vec<TableName> = tables.iter().map(|t| t.name.clone()).collect();
    for r in trigger_rows {
        let Some(&ti) = index.get(get(r, 0)) else { continue };
        let Some(on) = dml(get(r, 2)) else { continue };
        let before = get(r, 3).eq_ignore_ascii_case("BEFORE");
        for (writes, name) in triggers::writes_in(get(r, 4)) {
            let Some(table) = triggers::resolve(&name, "", &known) else { continue };
            if table == tables[ti].name {
                continue;
            }
            let w = TriggerWrite { trigger: get(r, 1).to_owned(), on, before, writes, table };
            if !tables[ti].trigger_writes.contains(&w) {
                tables[ti].trigger_writes.push(w);
            }
        }
    }
    let schema = Schema {
        tables,
        migration_tables: vec![],
        // Tables are named without their database: the URL's database is the one.
        search_path: vec![String::new()],
        names_ignore_case,
    };
    (schema, engines)
}

pub fn dml(s: &str) -> Option<Dml> {
    match s.to_ascii_uppercase().as_str() {
        "INSERT" => Some(Dml::Insert),
        "UPDATE" => Some(Dml::Update),
        "DELETE" => Some(Dml::Delete),
        _ => None,
    }
}

/// "json_valid(`notes`)" -> notes (quoted "notes" under the session's ANSI_QUOTES)
fn json_valid_column(clause: &str) -> Option<&str> {
    let inner = clause.trim().strip_prefix("json_valid(")?.strip_suffix(')')?;
    Some(inner.trim().trim_matches(['`', '"']))
}

/// The kind of a column from `DATA_TYPE` / `COLUMN_TYPE`, plus the range checks its
/// type implies (integer widths, unsigned, YEAR).
fn kind_of(
    data_type: &str,
    column_type: &str,
    char_len: Option<u64>,
    octet_len: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
) -> (TypeKind, Vec<CheckRule>) {
    let ct = column_type.to_ascii_lowercase();
    let unsigned = ct.contains("unsigned");
    let range = |lo: f64, hi: f64| vec![CheckRule::Range { min: Some(lo), max: Some(hi) }];
    let nonneg = || if unsigned { vec![CheckRule::Range { min: Some(0.0), max: None }] } else { vec![] };
    let u32_of = |n: Option<u64>| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    match data_type.to_ascii_lowercase().as_str() {
        "tinyint" if ct.starts_with("tinyint(1)") && !unsigned => (TypeKind::Bool, vec![]),
        "tinyint" => (TypeKind::SmallInt, if unsigned { range(0.0, 255.0) } else { range(-128.0, 127.0) }),
        "smallint" => (TypeKind::SmallInt, if unsigned { range(0.0, 65_535.0) } else { vec![] }),
        "mediumint" => {
            (TypeKind::Int, if unsigned { range(0.0, 16_777_215.0) } else { range(-8_388_608.0, 8_388_607.0) })
        }
        "int" | "integer" if unsigned => (TypeKind::BigInt, range(0.0, 4_294_967_295.0)),
        "int" | "integer" => (TypeKind::Int, vec![]),
        "bigint" => (TypeKind::BigInt, nonneg()),
        "decimal" | "numeric" | "fixed" => {
            (TypeKind::Numeric { precision: u32_of(precision), scale: u32_of(scale) }, nonneg())
        }
        "float" => (TypeKind::Real, nonneg()),
        "double" | "real" | "double precision" => (TypeKind::Double, nonneg()),
        "bit" => (TypeKind::Bit { len: u32_of(precision), varying: false }, vec![]),
        "char" => (TypeKind::Char { len: u32_of(char_len).unwrap_or(1) }, vec![]),
        "varchar" => (TypeKind::Text { max_len: u32_of(char_len) }, vec![]),
        // TEXT limits are bytes: leave room for four-byte characters.
        "tinytext" | "text" | "mediumtext" | "longtext" => {
            (TypeKind::Text { max_len: u32_of(octet_len.or(char_len).map(|n| (n / 4).max(1))) }, vec![])
        }
        "json" => (TypeKind::Json, vec![]),
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => (TypeKind::Bytea, vec![]),
        "date" => (TypeKind::Date, vec![]),
        "datetime" | "timestamp" => (TypeKind::Timestamp, vec![]),
        "time" => (TypeKind::Time, vec![]),
        "year" => (TypeKind::Int, range(1901.0, 2155.0)),
        "enum" => (TypeKind::Enum { labels: members(&ct, column_type) }, vec![]),
        "set" => (TypeKind::Enum { labels: set_combinations(&members(&ct, column_type)) }, vec![]),
        "point" | "geometry" | "linestring" | "polygon" | "multipoint" | "geometrycollection" | "geomcollection" => {
            (TypeKind::Point, vec![])
        }
        "uuid" => (TypeKind::Uuid, vec![]),
        "inet4" => (TypeKind::Inet, vec![]),
        _ => (TypeKind::Other { name: column_type.to_owned() }, vec![]),
    }
}

/// The members of `enum('a','b')` / `set(...)`, as written (quotes undone).
fn members(lower: &str, original: &str) -> Vec<String> {
    let Some(open) = lower.find('(') else { return vec![] };
    let Some(close) = original.rfind(')') else { return vec![] };
    let inner = &original[open + 1..close];
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    s.push('\'');
                }
                '\'' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                other => s.push(other),
            }
        }
        out.push(s);
    }
    out
}

/// SET values to pick from: every combination (members joined by commas, in
/// declaration order) for small sets; each member, each pair and all of them for
/// larger ones.
fn set_combinations(members: &[String]) -> Vec<String> {
    if members.len() <= 6 {
        return (0u32..(1 << members.len()))
            .map(|mask| {
                members
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, m)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
    }
    let mut out: Vec<String> = members.to_vec();
    for (i, a) in members.iter().enumerate() {
        for b in &members[i + 1..] {
            out.push(format!("{a},{b}"));
        }
    }
    out.push(members.join(","));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(kind_of("tinyint", "tinyint(1)", None, None, Some(3), Some(0)).0, TypeKind::Bool);
        assert_eq!(
            kind_of("int", "int(10) unsigned", None, None, Some(10), Some(0)),
            (TypeKind::BigInt, vec![CheckRule::Range { min: Some(0.0), max: Some(4_294_967_295.0) }])
        );
        assert_eq!(
            kind_of("year", "year(4)", None, None, None, None).1,
            vec![CheckRule::Range { min: Some(1901.0), max: Some(2155.0) }]
        );
        assert_eq!(
            kind_of("decimal", "decimal(5,2)", None, None, Some(5), Some(2)).0,
            TypeKind::Numeric { precision: Some(5), scale: Some(2) }
        );
        assert_eq!(
            kind_of("varchar", "varchar(45)", Some(45), Some(180), None, None).0,
            TypeKind::Text { max_len: Some(45) }
        );
        assert_eq!(
            kind_of("enum", "enum('G','PG','it''s')", None, None, None, None).0,
            TypeKind::Enum { labels: vec!["G".into(), "PG".into(), "it's".into()] }
        );
        let TypeKind::Enum { labels } = kind_of("set", "set('a','b')", None, None, None, None).0 else { panic!() };
        assert_eq!(labels, vec!["", "a", "b", "a,b"]);
        assert_eq!(kind_of("geometry", "point srid 4326", None, None, None, None).0, TypeKind::Point);
    }

    #[test]
    fn json_columns_by_their_check() {
        assert_eq!(json_valid_column("json_valid(`notes`)"), Some("notes"));
        assert_eq!(json_valid_column("json_valid(\"notes\")"), Some("notes"));
        assert_eq!(json_valid_column("`a` > 1"), None);
    }
}
