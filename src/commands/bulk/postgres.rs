//! The PostgreSQL load: one transaction under the advisory lock, `COPY ... FROM STDIN`
//! per table; when the tables start empty and we own them, keys and indexes are built
//! after the data (see `db::rebuild`).

use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Row};

use super::{Options, Outcome, plan_load, spawn_copy_batches};
use crate::Context;
use crate::db::errors::{Step, translate};
use crate::db::schema::{TableName, quote_ident};
use crate::db::{self, Conn, postgres as pg, rebuild};
use crate::error::Error;
use crate::factory::plan::{BulkRequest, Gen, Plan};
use crate::factory::rows::RowGen;
use crate::factory::values::push_copy_value;

async fn exec(conn: &mut PgConnection, sql: String, step: &Step) -> Result<(), Error> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *conn).await.map(|_| ()).map_err(|e| translate(e, step))
}

pub async fn attempt(ctx: &Context, req: &BulkRequest, opts: Options, retry: bool) -> Result<Outcome, Error> {
    let mut session = db::connect(&ctx.settings, ctx.settings.write_url(), &ctx.printer, "seed bulk").await?;
    let timeout = session.statement_timeout;
    let Conn::Postgres(conn) = &mut session.conn else {
        return Err(Error::Internal("expected a PostgreSQL connection".into()));
    };
    let result = load(ctx, conn, req, opts, timeout, retry).await;
    if result.is_err() {
        // Best effort; the server rolls back on disconnect anyway.
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
    }
    session.close().await;
    result
}

async fn load(
    ctx: &Context,
    conn: &mut PgConnection,
    req: &BulkRequest,
    opts: Options,
    timeout: Option<std::time::Duration>,
    retry: bool,
) -> Result<Outcome, Error> {
    let step = |what: &str| Step::new(what).timeout(timeout);
    exec(conn, "BEGIN".into(), &step("starting the transaction")).await?;
    pg::try_advisory_xact_lock(conn, "bulk", retry).await?;
    let schema = pg::introspect(conn).await?;
    let (mut plan, targets, inputs) = plan_load(conn, &schema, req, opts.truncate).await?;
    let all_empty = inputs.existing_rows.values().all(|&n| n == 0);
    let fast = (opts.truncate || all_empty) && rebuild::owns_all(conn, &targets).await?;
    if opts.dry_run {
        let mode = if fast { "keys and indexes built after the data" } else { "constraints checked row by row" };
        ctx.printer.data(&format!("{}\nload mode: {mode}\nnothing was written (--dry-run)", plan.describe()));
        exec(conn, "ROLLBACK".into(), &step("rolling back")).await?;
        return Ok(Outcome { dry_run: true, ..Outcome::default() });
    }

    let quoted: Vec<String> = targets.iter().map(TableName::quoted).collect();
    let mut dropped = None;
    if fast {
        let mut sorted = quoted.clone();
        sorted.sort();
        exec(conn, format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", sorted.join(", ")), &step("locking the tables"))
            .await?;
        dropped = Some(rebuild::drop_keys(conn, &targets).await?);
        // Empty (or to be emptied) and locked: TRUNCATE lets COPY use FREEZE.
        exec(conn, format!("TRUNCATE {}", quoted.join(", ")), &step("emptying the tables (--truncate)")).await?;
    } else {
        if opts.truncate {
            exec(conn, format!("TRUNCATE {}", quoted.join(", ")), &step("emptying the tables (--truncate)")).await?;
        }
        prepare_cycles(conn, &mut plan, timeout).await?;
    }
    reserve_sequences(conn, &mut plan, timeout).await?;

    let plan = Arc::new(plan);
    let mut loaded = Vec::new();
    for t in 0..plan.tables.len() {
        let freeze = fast && !plan.tables[t].table.partitioned;
        let rows = copy_table(ctx, conn, &plan, t, freeze, timeout).await?;
        loaded.push((plan.tables[t].table.name.clone(), rows));
    }
    if let Some(keys) = dropped {
        if !keys.is_empty() {
            let progress = ctx.printer.progress("keys and indexes", Some(keys.defs.len() as u64), "built");
            keys.rebuild(conn, timeout, |_| progress.inc(1)).await?;
            progress.finish();
        }
    } else {
        fix_cycles(ctx, conn, &plan, timeout).await?;
    }
    exec(conn, "COMMIT".into(), &step("committing")).await?;
    Ok(Outcome { tables: loaded, dry_run: false, mode: if fast { "keys after data" } else { "keys in place" } })
}

/// Reserves a block of values from each serial/identity sequence: the values the
/// database would have assigned, known before the rows are written so children can
/// reference them.
async fn reserve_sequences(
    conn: &mut PgConnection,
    plan: &mut Plan,
    timeout: Option<std::time::Duration>,
) -> Result<(), Error> {
    for t in &mut plan.tables {
        let count = t.count;
        let table_name = t.table.name.clone();
        for c in &mut t.columns {
            let Gen::Sequence { sequence, start, step } = &mut c.source else { continue };
            let s = Step::new(format!("reserving {count} values for {table_name}.{}", c.name)).timeout(timeout);
            match sequence {
                Some(seq) => {
                    let row = sqlx::query(
                        "SELECT nextval($1::regclass) AS first,
                                (SELECT seqincrement FROM pg_sequence WHERE seqrelid = $1::regclass) AS inc",
                    )
                    .bind(&*seq)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| translate(e, &s))?;
                    let (first, inc): (i64, i64) = (row.get("first"), row.get("inc"));
                    let last = first.saturating_add(inc.saturating_mul(i64::try_from(count).unwrap_or(i64::MAX) - 1));
                    if count > 1 {
                        sqlx::query("SELECT setval($1::regclass, $2)")
                            .bind(&*seq)
                            .bind(last)
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| translate(e, &s))?;
                    }
                    *start = first;
                    *step = inc;
                }
                None => {
                    let max: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
                        "SELECT max({})::int8 FROM {}",
                        quote_ident(&c.name),
                        table_name.quoted()
                    )))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| translate(e, &s))?;
                    *start = max.unwrap_or(0) + 1;
                    *step = 1;
                }
            }
        }
    }
    Ok(())
}

/// With constraints in place, a foreign-key cycle is loaded by writing the nullable
/// edge as NULL and setting it afterwards, or by deferring a deferrable constraint.
async fn prepare_cycles(
    conn: &mut PgConnection,
    plan: &mut Plan,
    timeout: Option<std::time::Duration>,
) -> Result<(), Error> {
    for &(t, g) in &plan.cycle_edges.clone() {
        let table = &plan.tables[t];
        let group = &table.groups[g];
        let nullable = group.fk.columns.iter().all(|c| table.table.column(c).is_some_and(|col| col.nullable));
        if nullable && !table.table.primary_key.is_empty() {
            plan.tables[t].groups[g].deferred = true;
        } else if group.fk.deferrable {
            let sql = format!(
                "SET CONSTRAINTS {}.{} DEFERRED",
                quote_ident(&table.table.name.schema),
                quote_ident(&group.fk.name)
            );
            exec(conn, sql, &Step::new("deferring a constraint of a foreign-key cycle").timeout(timeout)).await?;
        } else {
            return Err(Error::schema(
                format!(
                    "foreign keys form a cycle through {}.{} -> {}, which is NOT NULL and not deferrable",
                    table.table.name,
                    group.fk.columns.join(", "),
                    group.fk.ref_table
                ),
                "seed loads such cycles when the tables start empty (or with --truncate) and you own them: it then builds the keys after the data; or make that constraint DEFERRABLE",
            ));
        }
    }
    Ok(())
}

async fn fix_cycles(
    ctx: &Context,
    conn: &mut PgConnection,
    plan: &Arc<Plan>,
    timeout: Option<std::time::Duration>,
) -> Result<(), Error> {
    for (t, table) in plan.tables.iter().enumerate() {
        for (g, group) in table.groups.iter().enumerate().filter(|(_, g)| g.deferred) {
            let name = &table.table.name;
            let pk: Vec<usize> = table
                .table
                .primary_key
                .iter()
                .filter_map(|c| table.columns.iter().position(|cp| &cp.name == c))
                .collect();
            let tmp = quote_ident(&format!("seed_cycle_fix_{t}_{g}"));
            let cols: Vec<String> =
                table.table.primary_key.iter().chain(group.fk.columns.iter()).map(|c| quote_ident(c)).collect();
            let step = Step::new(format!(
                "setting {}.{} after the load (foreign-key cycle)",
                name,
                group.fk.columns.join(",")
            ))
            .table(name.to_string())
            .timeout(timeout);
            exec(
                conn,
                format!(
                    "CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                    cols.join(", "),
                    name.quoted()
                ),
                &step,
            )
            .await?;
            let mut copy =
                conn.copy_in_raw(&format!("COPY {tmp} FROM STDIN")).await.map_err(|e| translate(e, &step))?;
            let rows = RowGen::new(plan, t);
            let mut buf = Vec::new();
            for i in 0..table.count {
                for (k, v) in rows.deferred_fix(i, g, &pk).iter().enumerate() {
                    if k > 0 {
                        buf.push(b'\t');
                    }
                    push_copy_value(&mut buf, v);
                }
                buf.push(b'\n');
                if buf.len() > 1 << 20 {
                    copy.send(std::mem::take(&mut buf)).await.map_err(|e| translate(e, &step))?;
                }
            }
            copy.send(buf).await.map_err(|e| translate(e, &step))?;
            copy.finish().await.map_err(|e| translate(e, &step))?;
            let set: Vec<String> = group.fk.columns.iter().map(|c| format!("{0} = f.{0}", quote_ident(c))).collect();
            let on: Vec<String> =
                table.table.primary_key.iter().map(|c| format!("t.{0} = f.{0}", quote_ident(c))).collect();
            exec(
                conn,
                format!("UPDATE {} t SET {} FROM {tmp} f WHERE {}", name.quoted(), set.join(", "), on.join(" AND ")),
                &step,
            )
            .await?;
            ctx.printer.debug(format!("closed the foreign-key cycle at {name}.{}", group.fk.columns.join(",")));
        }
    }
    Ok(())
}

async fn copy_table(
    ctx: &Context,
    conn: &mut PgConnection,
    plan: &Arc<Plan>,
    t: usize,
    freeze: bool,
    timeout: Option<std::time::Duration>,
) -> Result<u64, Error> {
    let tp = &plan.tables[t];
    let name = tp.table.name.to_string();
    let cols: Vec<String> = tp.columns.iter().map(|c| quote_ident(&c.name)).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN{}",
        tp.table.name.quoted(),
        cols.join(", "),
        if freeze { " WITH (FREEZE)" } else { "" }
    );
    let step = Step::new(format!("loading {name}")).table(name.clone()).batches(plan.batch_size, 0).timeout(timeout);
    let progress = ctx.printer.progress(&name, Some(tp.count), "rows");
    let mut batches = spawn_copy_batches(Arc::clone(plan), t, plan.batch_size);
    let mut copy = conn.copy_in_raw(&sql).await.map_err(|e| translate(e, &step))?;
    while let Some((rows, buf)) = batches.recv().await {
        copy.send(buf).await.map_err(|e| translate(e, &step))?;
        progress.inc(rows);
    }
    let written = copy.finish().await.map_err(|e| translate(e, &step))?;
    progress.finish();
    if written != tp.count {
        return Err(Error::Internal(format!("COPY into {name} wrote {written} rows, expected {}", tp.count)));
    }
    Ok(written)
}
