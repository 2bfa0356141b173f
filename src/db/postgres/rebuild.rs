//! Load-then-index, inside the load's transaction (PostgreSQL DDL is transactional).
//!
//! When the target tables start empty and we own them, their foreign keys, primary and
//! unique constraints and plain indexes are dropped before the data goes in and built
//! again afterwards from their own definitions (`pg_get_constraintdef`,
//! `pg_get_indexdef`) — what pg_restore does for a full restore. Bulk index builds and
//! one validating join per foreign key beat per-row index maintenance and per-row
//! foreign-key triggers by a wide margin. Any failure rolls the whole thing back, DDL
//! included, so the schema is never left without its constraints.
//!
//! Left in place (they cannot be recreated byte-for-byte or are rarely worth it):
//! constraints and indexes with comments, clustered or replica-identity indexes,
//! indexes of partitioned tables and those attached to them, exclusion constraints.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::errors::translate;
use crate::db::schema::{TableName, quote_ident};
use crate::db::step::Step;
use crate::error::Error;

#[derive(Debug, Clone)]
pub struct KeyDef {
    /// `"schema"."table"` the object belongs to.
    pub table: String,
    pub name: String,
    pub kind: KeyKind,
    /// The definition to recreate it with.
    pub definition: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    ForeignKey,
    PrimaryOrUnique,
    Index,
}

/// What was dropped, in the order to build it back.
#[derive(Debug, Default)]
pub struct DroppedKeys {
    pub defs: Vec<KeyDef>,
}

/// True when every table in `tables` (and every table holding a foreign key to them) is
/// owned by the current user, so its constraints may be dropped and rebuilt.
pub async fn owns_all(conn: &mut PgConnection, tables: &[TableName]) -> Result<bool, Error> {
    let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
    let owned: Option<bool> = sqlx::query_scalar(
        "WITH t AS (SELECT n::regclass AS oid FROM unnest($1::text[]) n),
              rel AS (SELECT oid FROM t
                      UNION SELECT con.conrelid FROM pg_constraint con WHERE con.contype = 'f'
                             AND con.confrelid IN (SELECT oid FROM t))
         SELECT bool_and(pg_has_role(c.relowner, 'USAGE')) FROM pg_class c WHERE c.oid IN (SELECT oid FROM rel)",
    )
    .bind(&names)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| translate(e, &Step::new("checking table ownership")))?;
    Ok(owned.unwrap_or(false))
}

/// Captures and drops the keys and indexes of `tables` (and foreign keys pointing at
/// them). Call inside the transaction, after locking the tables.
pub async fn drop_keys(conn: &mut PgConnection, tables: &[TableName]) -> Result<DroppedKeys, Error> {
    let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
    let step = Step::new("reading constraints to rebuild after the load");
    let rows = sqlx::query(
        "WITH t AS (SELECT n::regclass AS oid FROM unnest($1::text[]) n),
              tree AS (SELECT oid FROM t UNION SELECT p.relid FROM t CROSS JOIN LATERAL pg_partition_tree(t.oid) p),
              commented AS (SELECT objoid FROM pg_description WHERE objsubid = 0)
         SELECT 1 AS ord, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS tbl, con.conname AS name,
                'f' AS kind, pg_get_constraintdef(con.oid) AS def
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE con.contype = 'f' AND con.conparentid = 0
            AND (con.conrelid IN (SELECT oid FROM tree) OR con.confrelid IN (SELECT oid FROM tree))
            AND con.oid NOT IN (SELECT objoid FROM commented)
         UNION ALL
         SELECT 2, quote_ident(n.nspname) || '.' || quote_ident(c.relname), con.conname, 'p', pg_get_constraintdef(con.oid)
           FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_index i ON i.indexrelid = con.conindid
          WHERE con.contype IN ('p', 'u') AND con.conparentid = 0 AND c.relkind = 'r' AND NOT c.relispartition
            AND con.conrelid IN (SELECT oid FROM t)
            AND NOT i.indisclustered AND NOT i.indisreplident
            AND con.oid NOT IN (SELECT objoid FROM commented) AND con.conindid NOT IN (SELECT objoid FROM commented)
         UNION ALL
         SELECT 3, quote_ident(n.nspname) || '.' || quote_ident(ic.relname), ic.relname, 'i', pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = ic.relnamespace
          WHERE i.indrelid IN (SELECT oid FROM tree) AND c.relkind = 'r' AND ic.relkind = 'i'
            AND NOT i.indisprimary AND NOT i.indisclustered AND NOT i.indisreplident
            AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
            AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)
            AND i.indexrelid NOT IN (SELECT objoid FROM commented)
         ORDER BY 1, 2, 3",
    )
    .bind(&names)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| translate(e, &step))?;
    let mut defs = Vec::new();
    for r in rows {
        let kind = match r.get::<String, _>("kind").as_str() {
            "f" => KeyKind::ForeignKey,
            "p" => KeyKind::PrimaryOrUnique,
            _ => KeyKind::Index,
        };
        defs.push(KeyDef { table: r.get("tbl"), name: r.get("name"), kind, definition: r.get("def") });
    }
    // Foreign keys first (they depend on the unique indexes), then constraints, then indexes.
    for d in &defs {
        let sql = match d.kind {
            KeyKind::ForeignKey | KeyKind::PrimaryOrUnique => {
                format!("ALTER TABLE {} DROP CONSTRAINT {}", d.table, quote_ident(&d.name))
            }
            KeyKind::Index => format!("DROP INDEX {}", d.table),
        };
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .map_err(|e| translate(e, &Step::new(format!("dropping {} before the load", d.name))))?;
    }
    Ok(DroppedKeys { defs })
}

/// Memory for index builds (sorts) and foreign-key validation (hash joins), for this
/// transaction only (`SET LOCAL`); never lower than the server's own setting. With the
/// defaults (64 MB, 4 MB) a million-row rebuild spills to disk.
const REBUILD_MEMORY_KB: i64 = 256 * 1024;

async fn raise_memory_for_rebuild(conn: &mut PgConnection) -> Result<(), Error> {
    for setting in ["maintenance_work_mem", "work_mem"] {
        let current: i64 = sqlx::query_scalar("SELECT setting::int8 FROM pg_settings WHERE name = $1")
            .bind(setting)
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| translate(e, &Step::new("reading memory settings")))?;
        if current < REBUILD_MEMORY_KB {
            sqlx::raw_sql(AssertSqlSafe(format!("SET LOCAL {setting} = '{REBUILD_MEMORY_KB}kB'")))
                .execute(&mut *conn)
                .await
                .map_err(|e| translate(e, &Step::new(format!("raising {setting} for the rebuild"))))?;
        }
    }
    Ok(())
}

impl DroppedKeys {
    /// Builds everything back: primary and unique constraints, indexes, then foreign keys
    /// (which validate every row in one pass). `on_each` reports progress.
    pub async fn rebuild(
        &self,
        conn: &mut PgConnection,
        statement_timeout: Option<std::time::Duration>,
        mut on_each: impl FnMut(&KeyDef),
    ) -> Result<(), Error> {
        raise_memory_for_rebuild(conn).await?;
        let mut ordered: Vec<&KeyDef> = self.defs.iter().filter(|d| d.kind == KeyKind::PrimaryOrUnique).collect();
        ordered.extend(self.defs.iter().filter(|d| d.kind == KeyKind::Index));
        ordered.extend(self.defs.iter().filter(|d| d.kind == KeyKind::ForeignKey));
        for d in ordered {
            let sql = match d.kind {
                KeyKind::Index => d.definition.clone(),
                _ => format!("ALTER TABLE {} ADD CONSTRAINT {} {}", d.table, quote_ident(&d.name), d.definition),
            };
            let what = match d.kind {
                KeyKind::ForeignKey => format!("checking foreign key {} on {}", d.name, d.table),
                KeyKind::PrimaryOrUnique => format!("building constraint {} on {}", d.name, d.table),
                KeyKind::Index => format!("building index {}", d.name),
            };
            let step = Step::new(what).table(d.table.clone()).timeout(statement_timeout);
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await.map_err(|e| translate(e, &step))?;
            on_each(d);
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }
}
