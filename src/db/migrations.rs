//! Migration tools' bookkeeping tables: which tables they are (by name AND shape), and
//! the schema version they record. One list for every kind of database.
//!
//! A table is a migration table only when it has the columns its tool writes: an
//! application's own `schema_migrations(id int)` or `migrations(...)` table is ordinary
//! data, seeded and snapshotted like any other. Versions are read as text rows and
//! computed here, so the queries cannot fail on an unexpected type (a failed query
//! would abort a PostgreSQL transaction, e.g. the snapshot's).

use std::cmp::Ordering;

use crate::db::backend::Backend;
use crate::db::schema::{Schema, SchemaVersion, Table, quote_ident};
use crate::db::step::Step;
use crate::error::Error;

/// How a tool's table yields the schema version.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Not a version source (locks, metadata); still never seeded.
    None,
    /// The greatest `value` (numbers compared as numbers), among rows where `success`
    /// (if given) is true.
    Max { value: &'static str, success: Option<&'static str> },
    /// Every value, sorted, joined by commas (alembic keeps one row per head).
    Joined { value: &'static str },
    /// `value` of the row with the greatest `rank` (numeric), among successful rows
    /// whose value is set.
    Latest { value: &'static str, rank: &'static str, success: Option<&'static str> },
    /// Prisma: the last finished migration by finish time, then name.
    Prisma,
    /// Django: how many, and the greatest `app.name`.
    Django,
}

#[derive(Debug)]
pub struct Tool {
    pub table: &'static str,
    /// Columns the tool always creates (case-insensitive): the shape that tells its
    /// table from an application's table of the same name.
    pub columns: &'static [&'static str],
    rule: Rule,
}

/// Known migration tables, in the order their versions are preferred.
pub static TOOLS: &[Tool] = &[
    Tool {
        table: "_sqlx_migrations",
        columns: &["version", "success"],
        rule: Rule::Max { value: "version", success: Some("success") },
    },
    Tool { table: "alembic_version", columns: &["version_num"], rule: Rule::Joined { value: "version_num" } },
    // Rails (and golang-migrate, which adds `dirty`).
    Tool { table: "schema_migrations", columns: &["version"], rule: Rule::Max { value: "version", success: None } },
    Tool {
        table: "flyway_schema_history",
        columns: &["installed_rank", "version", "success"],
        rule: Rule::Latest { value: "version", rank: "installed_rank", success: Some("success") },
    },
    Tool { table: "_prisma_migrations", columns: &["migration_name", "finished_at"], rule: Rule::Prisma },
    Tool { table: "django_migrations", columns: &["app", "name", "applied"], rule: Rule::Django },
    Tool { table: "knex_migrations", columns: &["name", "batch"], rule: Rule::Max { value: "name", success: None } },
    Tool { table: "knex_migrations_lock", columns: &["is_locked"], rule: Rule::None },
    Tool {
        table: "__diesel_schema_migrations",
        columns: &["version", "run_on"],
        rule: Rule::Max { value: "version", success: None },
    },
    Tool {
        table: "seaql_migrations",
        columns: &["version", "applied_at"],
        rule: Rule::Max { value: "version", success: None },
    },
    Tool {
        table: "goose_db_version",
        columns: &["version_id", "is_applied"],
        rule: Rule::Max { value: "version_id", success: Some("is_applied") },
    },
    // Laravel.
    Tool {
        table: "migrations",
        columns: &["migration", "batch"],
        rule: Rule::Max { value: "migration", success: None },
    },
    // TypeORM.
    Tool { table: "migrations", columns: &["timestamp", "name"], rule: Rule::Max { value: "name", success: None } },
    Tool {
        table: "doctrine_migration_versions",
        columns: &["version", "executed_at"],
        rule: Rule::Max { value: "version", success: None },
    },
    Tool { table: "SequelizeMeta", columns: &["name"], rule: Rule::Max { value: "name", success: None } },
    Tool {
        table: "databasechangelog",
        columns: &["id", "author", "filename", "orderexecuted"],
        rule: Rule::Latest { value: "id", rank: "orderexecuted", success: None },
    },
    Tool { table: "databasechangeloglock", columns: &["id", "locked"], rule: Rule::None },
    Tool { table: "ar_internal_metadata", columns: &["key", "value"], rule: Rule::None },
];

/// The tool whose bookkeeping table `table` is, judged by name and columns.
pub fn tool_of(table: &Table) -> Option<&'static Tool> {
    TOOLS.iter().find(|tool| {
        tool.table == table.name.name
            && tool.columns.iter().all(|want| table.columns.iter().any(|c| c.name.eq_ignore_ascii_case(want)))
    })
}

/// Moves the migration tables of `schema.tables` to `schema.migration_tables`.
pub fn set_aside(schema: &mut Schema) {
    let (migration, data): (Vec<Table>, Vec<Table>) =
        std::mem::take(&mut schema.tables).into_iter().partition(|t| tool_of(t).is_some());
    schema.tables = data;
    schema.migration_tables = migration;
}

/// Most rows of a migration table read to compute the version.
const MAX_ROWS: usize = 100_000;

/// The schema version recorded by the first migration tool (in [`TOOLS`] order) whose
/// table `schema` holds; `None` when there is none.
pub async fn schema_version<B: Backend>(db: &mut B, schema: &Schema) -> Result<Option<SchemaVersion>, Error> {
    let mut found: Vec<(usize, &Table)> = schema
        .migration_tables
        .iter()
        .filter_map(|t| {
            let tool = tool_of(t)?;
            let rank = TOOLS.iter().position(|x| std::ptr::eq(x, tool))?;
            (!matches!(tool.rule, Rule::None)).then_some((rank, t))
        })
        .collect();
    found.sort_by_key(|(rank, _)| *rank);
    let Some(&(rank, table)) = found.first() else { return Ok(None) };
    let tool = &TOOLS[rank];
    let wanted: Vec<&str> = match tool.rule {
        Rule::None => return Ok(None),
        Rule::Max { value, success } => std::iter::once(value).chain(success).collect(),
        Rule::Joined { value } => vec![value],
        Rule::Latest { value, rank, success } => [value, rank].into_iter().chain(success).collect(),
        Rule::Prisma => vec!["migration_name", "finished_at"],
        Rule::Django => vec!["app", "name"],
    };
    // The column names as the table spells them.
    let cols: Vec<String> = wanted
        .iter()
        .map(|w| {
            let c = table.columns.iter().find(|c| c.name.eq_ignore_ascii_case(w)).map_or(*w, |c| c.name.as_str());
            db.cast_text(&quote_ident(c))
        })
        .collect();
    let sql = format!("SELECT {} FROM {} LIMIT {MAX_ROWS}", cols.join(", "), table.name.quoted());
    let rows = db.text_rows(sql, &Step::new(format!("reading the schema version from {}", table.name))).await?;
    let version = compute(tool.rule, &rows);
    Ok(Some(SchemaVersion { source: table.name.to_string(), version: version.unwrap_or_else(|| "unknown".into()) }))
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "t" | "true" | "1" | "yes" | "y" | "on"))
}

/// Numbers compare as numbers (any length), everything else as text.
fn cmp_version(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

fn compute(rule: Rule, rows: &[Vec<Option<String>>]) -> Option<String> {
    let get = |r: &Vec<Option<String>>, i: usize| r.get(i).cloned().flatten();
    match rule {
        Rule::None => None,
        Rule::Max { success, .. } => rows
            .iter()
            .filter(|r| success.is_none() || truthy(r.get(1).and_then(Option::as_ref)))
            .filter_map(|r| get(r, 0))
            .max_by(|a, b| cmp_version(a, b)),
        Rule::Joined { .. } => {
            let mut all: Vec<String> = rows.iter().filter_map(|r| get(r, 0)).collect();
            all.sort_by(|a, b| cmp_version(a, b));
            (!all.is_empty()).then(|| all.join(","))
        }
        Rule::Latest { success, .. } => rows
            .iter()
            .filter(|r| success.is_none() || truthy(r.get(2).and_then(Option::as_ref)))
            .filter_map(|r| Some((get(r, 0)?, get(r, 1).unwrap_or_default())))
            .max_by(|(_, a), (_, b)| cmp_version(a, b))
            .map(|(v, _)| v),
        Rule::Prisma => rows.iter().filter_map(|r| Some((get(r, 1)?, get(r, 0)?))).max().map(|(_, name)| name),
        Rule::Django => {
            let last = rows.iter().filter_map(|r| Some(format!("{}.{}", get(r, 0)?, get(r, 1)?))).max()?;
            let n = rows.len();
            Some(format!("{n} migration{}, last {last}", if n == 1 { "" } else { "s" }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::TypeKind;
    use crate::db::schema::test_support::{self, column};

    fn table(name: &str, cols: &[&str]) -> Table {
        let columns = cols.iter().map(|c| column(c, "text", TypeKind::Text { max_len: None }, true)).collect();
        test_support::table("public", name, columns, &[])
    }

    #[test]
    fn shape_decides_not_the_name_alone() {
        assert!(tool_of(&table("schema_migrations", &["version"])).is_some());
        assert!(tool_of(&table("schema_migrations", &["version", "dirty"])).is_some());
        assert!(tool_of(&table("schema_migrations", &["id"])).is_none());
        assert!(tool_of(&table("migrations", &["id", "migration", "batch"])).is_some());
        assert!(tool_of(&table("migrations", &["id", "title", "applied_by"])).is_none());
        assert!(tool_of(&table("_sqlx_migrations", &["version"])).is_none());
        let mut schema = Schema {
            tables: vec![table("schema_migrations", &["id"]), table("alembic_version", &["version_num"])],
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
        };
        set_aside(&mut schema);
        assert_eq!(schema.tables.len(), 1);
        assert_eq!(schema.migration_tables[0].name.name, "alembic_version");
    }

    fn rows(data: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
        data.iter().map(|r| r.iter().map(|v| v.map(str::to_owned)).collect()).collect()
    }

    #[test]
    fn versions() {
        let max = Rule::Max { value: "version", success: Some("success") };
        let r = rows(&[&[Some("9"), Some("t")], &[Some("10"), Some("true")], &[Some("11"), Some("f")]]);
        assert_eq!(compute(max, &r).as_deref(), Some("10"));
        assert_eq!(compute(max, &[]), None);
        let joined = Rule::Joined { value: "v" };
        assert_eq!(compute(joined, &rows(&[&[Some("b")], &[Some("a")]])).as_deref(), Some("a,b"));
        let latest = Rule::Latest { value: "version", rank: "installed_rank", success: Some("success") };
        let r = rows(&[
            &[Some("1.1"), Some("2"), Some("1")],
            &[None, Some("3"), Some("1")],
            &[Some("1.2"), Some("10"), Some("true")],
            &[Some("1.3"), Some("11"), Some("false")],
        ]);
        assert_eq!(compute(latest, &r).as_deref(), Some("1.2"));
        let r = rows(&[&[Some("auth"), Some("0001")], &[Some("shop"), Some("0002")]]);
        assert_eq!(compute(Rule::Django, &r).as_deref(), Some("2 migrations, last shop.0002"));
        let r = rows(&[&[Some("a"), Some("2026-01-02")], &[Some("b"), None], &[Some("c"), Some("2026-01-01")]]);
        assert_eq!(compute(Rule::Prisma, &r).as_deref(), Some("a"));
    }
}
