//! PostgreSQL introspection from the catalogs: tables, columns and types (domains,
//! enums, arrays, ranges), keys, foreign keys, checks, partitions.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::postgres::PgConnection;

use crate::db::checks::parse_check;
use crate::db::schema::{
    AutoKey, CheckRule, Column, Dml, ForeignKey, KeyElement, KeyRule, PartitionBound, Schema, Table, TableName,
    TriggerWrite, TypeKind, Unique,
};
use crate::db::step::Step;
use crate::db::triggers;
use crate::error::Error;

use super::errors::translate;

fn q(e: sqlx::Error, what: &str) -> Error {
    translate(e, &Step::new(what))
}

struct TypeInfo {
    name: String,
    typtype: String,
    elem: i64,
    base: i64,
    base_typmod: i32,
    range_sub: Option<i64>,
    formatted: String,
}

pub async fn introspect(conn: &mut PgConnection) -> Result<Schema, Error> {
    let what = "reading the schema";
    let rows = sqlx::query(
        "SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind = 'p' AS partitioned,
                CASE WHEN c.relkind = 'p' THEN
                    (SELECT coalesce(sum(greatest(pc.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) t
                       JOIN pg_class pc ON pc.oid = t.relid WHERE t.isleaf)
                  ELSE greatest(c.reltuples, 0) END::float8 AS est_rows,
                CASE WHEN c.relkind = 'p' THEN
                    (SELECT coalesce(sum(pg_table_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t WHERE t.isleaf)
                  ELSE pg_table_size(c.oid) END::int8 AS est_bytes,
                pg_get_partkeydef(c.oid) AS partkey
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                           AND d.objid = c.oid AND d.deptype = 'e')
         ORDER BY n.nspname, c.relname",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;

    let mut tables: Vec<(i64, Table)> = Vec::new();
    for r in &rows {
        let name = TableName::new(r.get::<String, _>("nspname"), r.get::<String, _>("relname"));
        let partkey: Option<String> = r.get("partkey");
        let est_rows: f64 = r.get("est_rows");
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let estimated_rows = est_rows.max(0.0) as u64;
        tables.push((
            r.get("oid"),
            Table {
                name,
                columns: vec![],
                primary_key: vec![],
                uniques: vec![],
                foreign_keys: vec![],
                partitioned: r.get("partitioned"),
                partition_key: partkey.as_deref().and_then(single_partition_column),
                partitions: vec![],
                checks: vec![],
                row_estimate: estimated_rows,
                estimated_bytes: u64::try_from(r.get::<i64, _>("est_bytes")).unwrap_or(0),
                trigger_writes: vec![],
                key_rules: vec![],
            },
        ));
    }
    let oids: Vec<i64> = tables.iter().map(|(o, _)| *o).collect();
    let types = load_types(conn).await?;
    let enums = load_enums(conn).await?;
    let domain_checks = load_domain_checks(conn).await?;

    let col_rows = sqlx::query(
        "SELECT a.attrelid::int8 AS rel, a.attname, format_type(a.atttypid, a.atttypmod) AS type_name,
                a.atttypid::int8 AS typid, a.atttypmod, a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid) AS def, a.attidentity::text AS identity,
                a.attgenerated::text AS generated,
                coalesce(pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname),
                         -- a default nextval() on a sequence the column does not own (pagila)
                         (SELECT dep.refobjid::regclass::text FROM pg_depend dep
                           WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                             AND dep.refclassid = 'pg_class'::regclass
                             AND (SELECT relkind FROM pg_class WHERE oid = dep.refobjid) = 'S' LIMIT 1)) AS seq
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = ANY($1::int8[]::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attrelid, a.attnum",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    let by_oid: HashMap<i64, usize> = tables.iter().enumerate().map(|(i, (o, _))| (*o, i)).collect();
    for r in &col_rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>("rel")) else { continue };
        let typid: i64 = r.get("typid");
        let typmod: i32 = r.get("atttypmod");
        let identity: String = r.get("identity");
        let generated: String = r.get("generated");
        let default: Option<String> = r.get("def");
        let seq: Option<String> = r.get("seq");
        let serial = default.as_deref().is_some_and(|d| d.starts_with("nextval("));
        let auto = (!identity.is_empty() || serial).then(|| AutoKey { sequence: seq, always: identity == "a" });
        let column_name: String = r.get("attname");
        let (checks, unread) = domain_rules(typid, &column_name, &types, &domain_checks);
        tables[ti].1.checks.extend(unread);
        tables[ti].1.columns.push(Column {
            name: r.get("attname"),
            type_name: r.get("type_name"),
            kind: kind_of(typid, typmod, &types, &enums, 0),
            nullable: !r.get::<bool, _>("attnotnull") && !domain_not_null(typid, &types),
            default,
            auto,
            generated: !generated.is_empty(),
            checks,
        });
    }

    // Constraints of the tables and of their partitions (pagila declares the payment
    // foreign keys on each partition); partition constraints count for the parent.
    let con_rows = sqlx::query(
        "WITH targets AS (
             SELECT r.oid AS root, r.oid AS relid FROM unnest($1::int8[]::oid[]) AS r(oid)
             UNION
             SELECT r.oid, t.relid FROM unnest($1::int8[]::oid[]) AS r(oid)
             CROSS JOIN LATERAL pg_partition_tree(r.oid) t)
         SELECT tg.root::int8 AS root, con.conname, con.contype::text AS contype, con.condeferrable,
                con.confrelid::int8 AS confrelid, pg_get_constraintdef(con.oid) AS def,
                -- conperiod is PostgreSQL 18's: read so that older servers answer false
                coalesce((to_jsonb(con) ->> 'conperiod')::bool, false) AS conperiod,
                (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num) AS cols,
                (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num) AS refcols,
                fn.nspname AS ref_schema, fc.relname AS ref_name
         FROM targets tg JOIN pg_constraint con ON con.conrelid = tg.relid
         LEFT JOIN pg_class fc ON fc.oid = con.confrelid
         LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
         WHERE con.contype IN ('p', 'u', 'f', 'c') AND con.conparentid = 0
         ORDER BY tg.root, (tg.root = tg.relid) DESC, con.conname",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    for r in &con_rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>("root")) else { continue };
        let table = &mut tables[ti].1;
        let name: String = r.get("conname");
        let cols: Vec<String> = r.get::<Option<Vec<String>>, _>("cols").unwrap_or_default();
        let def: String = r.get("def");
        match r.get::<String, _>("contype").as_str() {
            "p" if table.primary_key.is_empty() => table.primary_key = cols,
            "u" if !table.uniques.iter().any(|u| u.columns == cols) => {
                table.uniques.push(Unique { name, columns: cols })
            }
            "f" => {
                let (Some(s), Some(n)) =
                    (r.get::<Option<String>, _>("ref_schema"), r.get::<Option<String>, _>("ref_name"))
                else {
                    continue;
                };
                // Foreign keys to a partition are treated as foreign keys to its root.
                let ref_table = partition_root(conn, r.get("confrelid")).await?.unwrap_or(TableName::new(s, n));
                let fk = ForeignKey {
                    name,
                    columns: cols,
                    ref_table,
                    ref_columns: r.get::<Option<Vec<String>>, _>("refcols").unwrap_or_default(),
                    deferrable: r.get("condeferrable"),
                    period: r.get("conperiod"),
                };
                if !table.foreign_keys.iter().any(|f| f.columns == fk.columns && f.ref_table == fk.ref_table) {
                    table.foreign_keys.push(fk);
                }
            }
            "c" => {
                if cols.len() == 1
                    && let Some(col) = table.columns.iter_mut().find(|c| c.name == cols[0])
                {
                    let rules = parse_check(&def, &col.name);
                    col.checks.extend(rules);
                }
                if !table.checks.iter().any(|(n, _)| n == &name) {
                    table.checks.push((name, def));
                }
            }
            _ => {}
        }
    }

    // Unique indexes that are not constraints (pagila: idx_unq_manager_staff_id).
    let idx_rows = sqlx::query(
        "SELECT i.indrelid::int8 AS rel, ic.relname AS name,
                (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(num, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num) AS cols
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = ANY($1::int8[]::oid[]) AND i.indisunique AND NOT i.indisprimary
           AND i.indexprs IS NULL AND i.indpred IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    for r in &idx_rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>("rel")) else { continue };
        let cols: Vec<String> = r.get::<Option<Vec<String>>, _>("cols").unwrap_or_default();
        let table = &mut tables[ti].1;
        if !cols.is_empty() && !table.uniques.iter().any(|u| u.columns == cols) {
            table.uniques.push(Unique { name: r.get("name"), columns: cols });
        }
    }

    // Unique indexes on expressions or with a WHERE clause, and exclusion constraints:
    // kept as their elements' text, which the planner makes hold by construction.
    // PostgreSQL 18's `PRIMARY KEY (room, during WITHOUT OVERLAPS)` is one too (it has
    // exclusion operators): its rows must not overlap, which distinct values do not give.
    let rule_rows = sqlx::query(
        "SELECT i.indrelid::int8 AS rel, coalesce(con.conname, ic.relname) AS name,
                (SELECT array_agg(pg_get_indexdef(i.indexrelid, k, true) ORDER BY k)
                   FROM generate_series(1, i.indnkeyatts::int) k) AS elems,
                pg_get_expr(i.indpred, i.indrelid, true) AS pred,
                (SELECT array_agg(o.oprname::text ORDER BY k.ord)
                   FROM unnest(con.conexclop) WITH ORDINALITY k(op, ord) JOIN pg_operator o ON o.oid = k.op) AS ops
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conexclop IS NOT NULL
         WHERE i.indrelid = ANY($1::int8[]::oid[])
           AND (con.oid IS NOT NULL
                OR (i.indisunique AND NOT i.indisprimary AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)))
         ORDER BY 1, 2",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    for r in &rule_rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>("rel")) else { continue };
        let elems: Vec<String> = r.get::<Option<Vec<String>>, _>("elems").unwrap_or_default();
        let ops: Option<Vec<String>> = r.get("ops");
        let exclusion = ops.is_some();
        let ops = ops.unwrap_or_default();
        let elements =
            elems.into_iter().enumerate().map(|(k, expr)| KeyElement { expr, op: ops.get(k).cloned() }).collect();
        tables[ti].1.key_rules.push(KeyRule { name: r.get("name"), elements, predicate: r.get("pred"), exclusion });
    }

    // Partition bounds (leaves of each partitioned table).
    let part_rows = sqlx::query(
        "SELECT r.oid::int8 AS root, pg_get_expr(c.relpartbound, c.oid) AS bound
         FROM unnest($1::int8[]::oid[]) AS r(oid) CROSS JOIN LATERAL pg_partition_tree(r.oid) t
         JOIN pg_class c ON c.oid = t.relid
         WHERE t.isleaf AND t.relid <> r.oid ORDER BY c.relname",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, what))?;
    for r in &part_rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>("root")) else { continue };
        if let Some(bound) = r.get::<Option<String>, _>("bound").as_deref().and_then(parse_partition_bound) {
            tables[ti].1.partitions.push(bound);
        }
    }
    trigger_writes(conn, &oids, &by_oid, &mut tables).await?;
    let search_path: Vec<String> = sqlx::query_scalar("SELECT s::text FROM unnest(current_schemas(false)) s")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q(e, "reading the search path"))?;
    Ok(Schema {
        tables: tables.into_iter().map(|(_, t)| t).collect(),
        migration_tables: vec![],
        search_path,
        names_ignore_case: false,
    })
}

/// The tables each table's triggers write, read from the trigger functions' text
/// (`db::triggers`: a heuristic).
async fn trigger_writes(
    conn: &mut PgConnection,
    oids: &[i64],
    by_oid: &HashMap<i64, usize>,
    tables: &mut [(i64, Table)],
) -> Result<(), Error> {
    let rows = sqlx::query(
        "SELECT t.tgrelid::int8, t.tgname, t.tgtype::int4, pg_get_functiondef(t.tgfoid)
         FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgrelid = ANY($1::int8[]::oid[])
         ORDER BY t.tgrelid, t.tgname",
    )
    .bind(oids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, "reading triggers"))?;
    let known: Vec<TableName> = tables.iter().map(|(_, t)| t.name.clone()).collect();
    for r in &rows {
        let Some(&ti) = by_oid.get(&r.get::<i64, _>(0)) else { continue };
        let (name, tgtype, body): (String, i32, String) = (r.get(1), r.get(2), r.get(3));
        // pg_trigger.tgtype: 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE.
        let events = [(4, Dml::Insert), (8, Dml::Delete), (16, Dml::Update)];
        let table = &mut tables[ti].1;
        for (writes, target) in triggers::writes_in(&body) {
            let Some(target) = triggers::resolve(&target, &table.name.schema, &known).filter(|n| n != &table.name)
            else {
                continue;
            };
            for &(_, on) in events.iter().filter(|(bit, _)| tgtype & bit != 0) {
                let w =
                    TriggerWrite { trigger: name.clone(), on, before: tgtype & 2 != 0, writes, table: target.clone() };
                if !table.trigger_writes.contains(&w) {
                    table.trigger_writes.push(w);
                }
            }
        }
    }
    Ok(())
}

async fn partition_root(conn: &mut PgConnection, oid: i64) -> Result<Option<TableName>, Error> {
    let row = sqlx::query(
        "SELECT n.nspname, c.relname FROM pg_partition_ancestors($1::int8::oid) a(relid)
         JOIN pg_class c ON c.oid = a.relid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT c.relispartition",
    )
    .bind(oid)
    .fetch_optional(&mut *conn)
    .await
    .map_err(|e| q(e, "reading partitions"))?;
    Ok(row.map(|r| TableName::new(r.get::<String, _>(0), r.get::<String, _>(1))))
}

async fn load_types(conn: &mut PgConnection) -> Result<HashMap<i64, TypeInfo>, Error> {
    let rows = sqlx::query(
        "SELECT t.oid::int8 AS oid, t.typname, t.typtype::text AS typtype, t.typelem::int8 AS elem,
                t.typbasetype::int8 AS base, t.typtypmod, r.rngsubtype::int8 AS rngsub,
                format_type(t.oid, NULL) AS formatted, t.typnotnull
         FROM pg_type t LEFT JOIN pg_range r ON r.rngtypid = t.oid",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, "reading types"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let mut typtype: String = r.get("typtype");
            if r.get::<bool, _>("typnotnull") {
                typtype.push('!');
            }
            (
                r.get::<i64, _>("oid"),
                TypeInfo {
                    name: r.get("typname"),
                    typtype,
                    elem: r.get("elem"),
                    base: r.get("base"),
                    base_typmod: r.get("typtypmod"),
                    range_sub: r.get("rngsub"),
                    formatted: r.get("formatted"),
                },
            )
        })
        .collect())
}

async fn load_enums(conn: &mut PgConnection) -> Result<HashMap<i64, Vec<String>>, Error> {
    let rows = sqlx::query("SELECT enumtypid::int8, enumlabel::text FROM pg_enum ORDER BY enumtypid, enumsortorder")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| q(e, "reading enum labels"))?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for r in rows {
        map.entry(r.get(0)).or_default().push(r.get(1));
    }
    Ok(map)
}

/// Domain checks by domain: (constraint name, definition).
async fn load_domain_checks(conn: &mut PgConnection) -> Result<HashMap<i64, Vec<(String, String)>>, Error> {
    let rows = sqlx::query(
        "SELECT contypid::int8, conname::text, pg_get_constraintdef(oid) FROM pg_constraint
         WHERE contypid <> 0 AND contype = 'c' ORDER BY conname",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| q(e, "reading domain checks"))?;
    let mut map: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for r in rows {
        map.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
    }
    Ok(map)
}

/// The checks of the domains behind a column's type: the rules seed reads, and the
/// checks it does not read rewritten over the column (`VALUE` -> the column's name), so
/// they are settled with the database like the table's own.
fn domain_rules(
    typid: i64,
    column: &str,
    types: &HashMap<i64, TypeInfo>,
    checks: &HashMap<i64, Vec<(String, String)>>,
) -> (Vec<CheckRule>, Vec<(String, String)>) {
    let mut rules = Vec::new();
    let mut unread = Vec::new();
    let mut oid = typid;
    for _ in 0..8 {
        let Some(t) = types.get(&oid) else { break };
        if !t.typtype.starts_with('d') {
            break;
        }
        for (name, def) in checks.get(&oid).into_iter().flatten() {
            rules.extend(parse_check(def, "VALUE"));
            if !crate::db::checks::fully_understood(def, &["VALUE"]) {
                unread.push((
                    format!("{name} (domain {})", t.formatted),
                    crate::db::checks::value_as_column(def, column),
                ));
            }
        }
        oid = t.base;
    }
    (rules, unread)
}

fn domain_not_null(typid: i64, types: &HashMap<i64, TypeInfo>) -> bool {
    types.get(&typid).is_some_and(|t| t.typtype == "d!")
}

/// Maps a type (following domains, arrays and ranges) to what the generator needs.
fn kind_of(
    oid: i64,
    typmod: i32,
    types: &HashMap<i64, TypeInfo>,
    enums: &HashMap<i64, Vec<String>>,
    depth: u8,
) -> TypeKind {
    let Some(t) = types.get(&oid) else { return TypeKind::Other { name: format!("oid {oid}") } };
    if depth > 8 {
        return TypeKind::Other { name: t.formatted.clone() };
    }
    let mod_len = (typmod >= 4).then(|| u32::try_from(typmod - 4).unwrap_or(0));
    match t.typtype.trim_end_matches('!') {
        "d" => {
            let m = if t.base_typmod >= 0 { t.base_typmod } else { typmod };
            return kind_of(t.base, m, types, enums, depth + 1);
        }
        "e" => return TypeKind::Enum { labels: enums.get(&oid).cloned().unwrap_or_default() },
        "r" => {
            let sub = t.range_sub.unwrap_or(0);
            return TypeKind::Range { element: Box::new(kind_of(sub, -1, types, enums, depth + 1)) };
        }
        _ => {}
    }
    if t.elem != 0 && t.name.starts_with('_') {
        return TypeKind::Array { element: Box::new(kind_of(t.elem, typmod, types, enums, depth + 1)) };
    }
    match t.name.as_str() {
        "bool" => TypeKind::Bool,
        "int2" => TypeKind::SmallInt,
        "int4" => TypeKind::Int,
        "int8" => TypeKind::BigInt,
        "float4" => TypeKind::Real,
        "float8" => TypeKind::Double,
        "numeric" => {
            let (precision, scale) = match mod_len {
                Some(m) => (Some((m >> 16) & 0xffff), Some(m & 0xffff)),
                None => (None, None),
            };
            TypeKind::Numeric { precision, scale }
        }
        "text" | "name" | "citext" => TypeKind::Text { max_len: None },
        "varchar" => TypeKind::Text { max_len: mod_len },
        "bpchar" => TypeKind::Char { len: mod_len.unwrap_or(1) },
        "uuid" => TypeKind::Uuid,
        "json" => TypeKind::Json,
        "jsonb" => TypeKind::Jsonb,
        "date" => TypeKind::Date,
        "time" => TypeKind::Time,
        "timetz" => TypeKind::TimeTz,
        "timestamp" => TypeKind::Timestamp,
        "timestamptz" => TypeKind::TimestampTz,
        "interval" => TypeKind::Interval,
        "bytea" => TypeKind::Bytea,
        "inet" => TypeKind::Inet,
        "cidr" => TypeKind::Cidr,
        "macaddr" | "macaddr8" => TypeKind::MacAddr,
        "tsvector" => TypeKind::TsVector,
        "money" => TypeKind::Money,
        "xml" => TypeKind::Xml,
        "bit" => TypeKind::Bit { len: u32::try_from(typmod).ok(), varying: false },
        "varbit" => TypeKind::Bit { len: u32::try_from(typmod).ok(), varying: true },
        "point" => TypeKind::Point,
        _ => TypeKind::Other { name: t.formatted.clone() },
    }
}

/// "RANGE (payment_date)" -> payment_date; keys over several columns or expressions -> None
fn single_partition_column(def: &str) -> Option<String> {
    let inner = def.split_once('(')?.1.strip_suffix(')')?;
    if inner.contains(',') || inner.contains('(') {
        return None;
    }
    Some(inner.trim().trim_matches('"').to_owned())
}

/// "FOR VALUES FROM ('2022-01-01 00:00:00+00') TO ('2022-02-01 00:00:00+00')"
fn parse_partition_bound(bound: &str) -> Option<PartitionBound> {
    if bound.trim() == "DEFAULT" {
        return Some(PartitionBound::Default);
    }
    let unquote = |s: &str| {
        let s = s.trim().trim_start_matches('(').trim_end_matches(')').trim();
        s.trim_matches('\'').replace("''", "'")
    };
    if let Some(rest) = bound.strip_prefix("FOR VALUES FROM ") {
        let (from, to) = rest.split_once(" TO ")?;
        if from.contains(',') || to.contains(',') || from.contains("MINVALUE") || to.contains("MAXVALUE") {
            return None;
        }
        return Some(PartitionBound::Range { from: unquote(from), to: unquote(to) });
    }
    if let Some(rest) = bound.strip_prefix("FOR VALUES IN ") {
        let inner = rest.trim().trim_start_matches('(').trim_end_matches(')');
        return Some(PartitionBound::List(inner.split(',').map(unquote).collect()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_bounds() {
        assert_eq!(
            parse_partition_bound("FOR VALUES FROM ('2022-01-01 00:00:00+00') TO ('2022-02-01 00:00:00+00')"),
            Some(PartitionBound::Range { from: "2022-01-01 00:00:00+00".into(), to: "2022-02-01 00:00:00+00".into() })
        );
        assert_eq!(
            parse_partition_bound("FOR VALUES IN ('a', 'b')"),
            Some(PartitionBound::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(parse_partition_bound("DEFAULT"), Some(PartitionBound::Default));
        assert_eq!(single_partition_column("RANGE (payment_date)").as_deref(), Some("payment_date"));
        assert_eq!(single_partition_column("RANGE (a, b)"), None);
    }
}
