//! The SQLite load: `BEGIN IMMEDIATE` (the write lock, so a second writer fails at once),
//! foreign keys deferred to commit, prepared multi-row INSERTs sized to the bind limit.

use std::sync::Arc;

use sqlx::AssertSqlSafe;
use sqlx::sqlite::SqliteConnection;

use super::{Options, Outcome, plan_load, spawn_row_batches};
use crate::Context;
use crate::db::errors::{Step, translate};
use crate::db::schema::quote_ident;
use crate::db::{self, Conn, sqlite as lite};
use crate::error::Error;
use crate::factory::plan::{BulkRequest, Gen, Plan};
use crate::factory::values::Value;

/// SQLite's default limit on bound parameters per statement.
const MAX_BINDS: u64 = 32_766;

async fn exec(conn: &mut SqliteConnection, sql: &str, what: &str) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| translate(e, &Step::new(what)))
}

pub async fn attempt(ctx: &Context, req: &BulkRequest, opts: Options) -> Result<Outcome, Error> {
    let mut session = db::connect(&ctx.settings, ctx.settings.write_url(), &ctx.printer, "seed bulk").await?;
    let Conn::Sqlite(conn) = &mut session.conn else {
        return Err(Error::Internal("expected a SQLite connection".into()));
    };
    let result = load(ctx, conn, req, opts).await;
    if result.is_err() {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    }
    session.close().await;
    result
}

async fn load(ctx: &Context, conn: &mut SqliteConnection, req: &BulkRequest, opts: Options) -> Result<Outcome, Error> {
    // BEGIN IMMEDIATE takes the write lock now: a concurrent writer fails here, not half-way.
    exec(conn, "BEGIN IMMEDIATE", "starting the transaction").await?;
    if ctx.settings.embedded_default && lite::apply_demo_schema_if_empty(conn).await? {
        ctx.printer.info("seed.db had no tables: applied the demo schema (fixtures/schema.sql: staffs, offices, office_staffs, welfare_recipients)");
    }
    let schema = lite::introspect(conn).await?;
    let (mut plan, targets, _) = plan_load(conn, &schema, req, opts.truncate).await?;
    if opts.dry_run {
        ctx.printer.data(&format!(
            "{}\nload mode: foreign keys checked at commit\nnothing was written (--dry-run)",
            plan.describe()
        ));
        exec(conn, "ROLLBACK", "rolling back").await?;
        return Ok(Outcome { dry_run: true, ..Outcome::default() });
    }
    // Checked once, at COMMIT: load order and cycles stop mattering.
    exec(conn, "PRAGMA defer_foreign_keys = ON", "deferring foreign keys").await?;
    let temp_indexes = lite::add_foreign_key_indexes(conn, &schema, &targets).await?;
    if opts.truncate {
        for t in &targets {
            exec(conn, &format!("DELETE FROM {}", t.quoted()), "emptying the tables (--truncate)").await?;
        }
    }
    for t in &mut plan.tables {
        let name = t.table.name.clone();
        for c in &mut t.columns {
            if let Gen::Sequence { start, step, .. } = &mut c.source {
                let max: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT max({}) FROM {}",
                    quote_ident(&c.name),
                    name.quoted()
                )))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| translate(e, &Step::new(format!("reading the next id of {name}"))))?;
                *start = max.unwrap_or(0) + 1;
                *step = 1;
            }
        }
    }
    let plan = Arc::new(plan);
    let mut loaded = Vec::new();
    for t in 0..plan.tables.len() {
        loaded.push((plan.tables[t].table.name.clone(), insert_table(ctx, conn, &plan, t).await?));
    }
    lite::drop_indexes(conn, &temp_indexes).await?;
    exec(conn, "COMMIT", "committing (foreign keys are checked now)").await?;
    Ok(Outcome { tables: loaded, dry_run: false, mode: "sqlite" })
}

async fn insert_table(ctx: &Context, conn: &mut SqliteConnection, plan: &Arc<Plan>, t: usize) -> Result<u64, Error> {
    let tp = &plan.tables[t];
    let name = tp.table.name.to_string();
    let ncols = tp.columns.len().max(1) as u64;
    let per_statement = plan.batch_size.min(MAX_BINDS / ncols).max(1);
    let cols: Vec<String> = tp.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let one_row = format!("({})", vec!["?"; tp.columns.len()].join(","));
    let head = format!("INSERT INTO {} ({}) VALUES ", tp.table.name.quoted(), cols.join(", "));
    let statement_for = |rows: usize| format!("{head}{}", vec![one_row.as_str(); rows].join(","));
    let full = statement_for(usize::try_from(per_statement).unwrap_or(1));
    let progress = ctx.printer.progress(&name, Some(tp.count), "rows");
    let mut batches = spawn_row_batches(Arc::clone(plan), t, per_statement);
    let mut batch_no = 0u64;
    let mut written = 0u64;
    while let Some(rows) = batches.recv().await {
        batch_no += 1;
        let sql = if rows.len() as u64 == per_statement { full.clone() } else { statement_for(rows.len()) };
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in &rows {
            for v in row {
                q = match v {
                    Value::Null => q.bind(None::<String>),
                    Value::Bool(b) => q.bind(*b),
                    Value::Int(i) => q.bind(*i),
                    Value::Float(f) => q.bind(*f),
                    Value::Text(s) => q.bind(s.clone()),
                    Value::Bytes(b) => q.bind(b.clone()),
                };
            }
        }
        let step = Step::new(format!("inserting batch {batch_no} into {name}")).table(name.clone());
        q.execute(&mut *conn).await.map_err(|e| {
            let mut err = translate(e, &step);
            if let Error::Constraint(v) = &mut err {
                v.batch = Some(batch_no);
            }
            err
        })?;
        written += rows.len() as u64;
        progress.inc(rows.len() as u64);
    }
    progress.finish();
    Ok(written)
}
