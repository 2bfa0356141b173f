//! Check constraints seed does not read itself, settled with the database before any
//! row is written: candidate values (`factory::candidates`) go to the database, which
//! evaluates the checks on them; the values it accepts become the columns' pools. A
//! check no candidate passes is reported here, naming it. Checks over columns whose
//! values are fixed per row (keys, foreign keys, the factories file) are evaluated on a
//! sample of the real rows instead, also before anything is written.

use std::future::Future;
use std::pin::Pin;

use crate::db::Session;
use crate::db::checks::referenced_columns;
use crate::db::evaluate::check_passes;
use crate::db::schema::{Column, Schema};
use crate::db::value::Value;
use crate::error::Error;
use crate::factory::candidates::{self, CANDIDATES, CheckGroup, ENOUGH, ROUNDS, column_pattern};
use crate::factory::factories_file::ColumnRule;
use crate::factory::pattern::PatternSpace;
use crate::factory::plan::{BulkRequest, Case, Gen, Plan, TablePlan};
use crate::factory::rows::RowGen;

/// Per row, whether each expression passed; `None` when the row could not be evaluated.
type Verdicts = Vec<Option<Vec<bool>>>;

/// Rows of each table whose checks are evaluated on real generated rows.
const SAMPLE: u64 = 256;

/// Gives every group of columns tied by checks seed does not read a pool of values the
/// database accepts; refuses a check no candidate satisfies.
pub async fn satisfy(session: &mut Session, plan: &mut Plan) -> Result<(), Error> {
    for t in 0..plan.tables.len() {
        let found = candidates::table_checks(&plan.tables[t]);
        for (name, _) in &found.unchecked {
            plan.tables[t].notes.push(format!(
                "check constraint \"{name}\" is left to the database (it reads columns seed does not write)"
            ));
        }
        for (name, _) in &found.sampled {
            plan.tables[t].notes.push(format!(
                "check constraint \"{name}\" reads keys or factories-file columns: the database checks a sample of the rows before loading"
            ));
        }
        for (_, def) in &found.sampled {
            fit_unique(session, plan, t, def).await?;
        }
        for group in &found.groups {
            let (tuples, tried) = pool_for(session, &plan.tables[t], group).await?;
            candidates::install(&mut plan.tables[t], group, tuples, tried);
        }
    }
    Ok(())
}

/// The constants of the factories file (`value`, `one_of`) of every table the plan
/// loads, each checked by the database against its column's type before anything is
/// written (a dry run included): one it refuses is a usage error naming the file's
/// line, the value and the database's reason (every one of them), not a failed load
/// (exit 4) later.
pub async fn check_constants(
    session: &mut Session,
    schema: &Schema,
    plan: &Plan,
    req: &BulkRequest,
) -> Result<(), Error> {
    let Some(f) = &req.factories else { return Ok(()) };
    let mut problems = Vec::new();
    for tc in &f.tables {
        let Some(table) = schema.find(&tc.name) else { continue };
        if !plan.tables.iter().any(|tp| tp.table.name == table.name && tp.count > 0) {
            continue;
        }
        for cc in &tc.columns {
            let values: Vec<String> = match &cc.rule {
                ColumnRule::Value(Some(v)) => vec![v.clone()],
                ColumnRule::OneOf(items) => {
                    let mut distinct: Vec<String> = items.iter().flatten().cloned().collect();
                    distinct.sort_unstable();
                    distinct.dedup();
                    distinct
                }
                _ => continue,
            };
            let Some(col) = table.column(&cc.name) else { continue };
            if let Some((value, reason)) = session.refused_values(col, &values).await?.into_iter().next() {
                let shown: String = value.chars().take(60).collect();
                let cut = if shown.len() < value.len() { "…" } else { "" };
                problems.push(f.error(
                    cc.line,
                    format!(
                        "{}.{}: {shown:?}{cut} does not fit its type {}: {reason}",
                        table.name, col.name, col.type_name
                    ),
                ));
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(Error::configs(problems)) }
}

/// A check on one unique text column (`lower(username) = username`, `code GLOB
/// '[A-Z][A-Z]-[0-9]*'`): the column's unique values as generated, lower or upper case,
/// or else the distinct values of the check's pattern — the first a sample of which
/// the database accepts.
async fn fit_unique(session: &mut Session, plan: &mut Plan, t: usize, def: &str) -> Result<(), Error> {
    let tp = &plan.tables[t];
    let names: Vec<&str> = tp.table.columns.iter().map(|c| c.name.as_str()).collect();
    let [only] = referenced_columns(def, &names)[..] else { return Ok(()) };
    let Some(ci) = tp.columns.iter().position(|c| c.name == only) else { return Ok(()) };
    if !matches!(tp.columns[ci].source, Gen::UniqueText { .. } | Gen::UniqueEmail | Gen::UniqueCode(_)) {
        return Ok(());
    }
    let Some(column) = tp.table.column(only).cloned() else { return Ok(()) };
    let pattern = column_pattern(&tp.table.checks, &names, only);
    let original = tp.columns[ci].source.clone();
    let exprs = vec![check_passes(def)];
    let name = tp.table.name.to_string();
    let mut tries: Vec<(Gen, Case)> =
        vec![(original.clone(), Case::Keep), (original.clone(), Case::Lower), (original.clone(), Case::Upper)];
    if let Some((text, syntax)) = pattern {
        let col = &tp.columns[ci];
        if let Some(space) =
            PatternSpace::new(&text, syntax, tp.count.saturating_add(tp.offset), col.bounds.max_len, col.key)
        {
            tries.push((Gen::UniquePattern(space), Case::Keep));
        }
    }
    for (source, case) in tries {
        plan.tables[t].columns[ci].source = source;
        plan.tables[t].columns[ci].case = case;
        let n = plan.tables[t].count.min(64);
        let gen_rows = RowGen::new(plan, t);
        let mut row = Vec::new();
        let values: Vec<Vec<Value>> = (0..n)
            .map(|i| {
                gen_rows.row(i, &mut row);
                vec![row[ci].clone()]
            })
            .collect();
        let verdicts = evaluate_rows(session, &[&column], &values, &exprs, &name).await?;
        if verdicts.iter().all(|v| v.as_ref().is_some_and(|v| v.iter().all(|ok| *ok))) {
            return Ok(());
        }
    }
    plan.tables[t].columns[ci].source = original;
    plan.tables[t].columns[ci].case = Case::Keep;
    Ok(())
}

async fn pool_for(
    session: &mut Session,
    tp: &TablePlan,
    group: &CheckGroup,
) -> Result<(Vec<Vec<Value>>, usize), Error> {
    let columns: Vec<&Column> = group.columns.iter().filter_map(|&c| tp.table.column(&tp.columns[c].name)).collect();
    let all_checks: Vec<(String, String)> = group.checks.iter().chain(&group.guards).cloned().collect();
    let exprs: Vec<String> = all_checks.iter().map(|(_, def)| check_passes(def)).collect();
    let mut pool: Vec<Vec<Value>> = Vec::new();
    let mut ever_passed = vec![false; exprs.len()];
    let mut tried = 0;
    for round in 0..ROUNDS {
        let rows = candidates::candidates(tp, group, round);
        tried += rows.len();
        let verdicts = evaluate_rows(session, &columns, &rows, &exprs, &tp.table.name.to_string()).await?;
        for (row, verdict) in rows.into_iter().zip(verdicts) {
            let Some(verdict) = verdict else { continue };
            for (seen, ok) in ever_passed.iter_mut().zip(&verdict) {
                *seen |= ok;
            }
            if verdict.iter().all(|ok| *ok) {
                pool.push(row);
            }
        }
        if pool.len() >= ENOUGH {
            break;
        }
    }
    if pool.is_empty() {
        let cols: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        let never: Vec<&(String, String)> =
            all_checks.iter().zip(&ever_passed).filter(|(_, ok)| !**ok).map(|(c, _)| c).collect();
        let named = if never.is_empty() { all_checks.iter().collect() } else { never };
        let which = named.iter().map(|(n, d)| format!("check constraint \"{n}\": {d}")).collect::<Vec<_>>().join("; ");
        let together = if named.len() > 1 { " (together)" } else { "" };
        return Err(Error::Generation {
            table: tp.table.name.to_string(),
            reason: format!(
                "no value seed tried satisfies {which}{together}; the database evaluated {tried} candidate rows for {} and refused every one, so nothing was written",
                cols.join(", ")
            ),
            hint: Some(format!(
                "check that the constraint can hold for new rows; if it can, give {} values that satisfy it in a factories file (--factories: value, one_of or template)",
                cols.iter().map(|c| format!("{}.{c}", tp.table.name)).collect::<Vec<_>>().join(", ")
            )),
        });
    }
    debug_assert!(tried <= CANDIDATES * ROUNDS as usize);
    Ok((pool, tried))
}

/// Per row: whether each expression passed (`None`: the database could not evaluate the
/// row at all, e.g. a failed cast). A failing statement is split in halves until the
/// rows that fail are found; connection problems and timeouts stop everything.
fn evaluate_rows<'a>(
    session: &'a mut Session,
    columns: &'a [&'a Column],
    rows: &'a [Vec<Value>],
    exprs: &'a [String],
    table: &'a str,
) -> Pin<Box<dyn Future<Output = Result<Verdicts, Error>> + 'a>> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let step = session.step(format!("evaluating checks of {table} on candidate values"));
        match session.evaluate(columns, rows, exprs, &step).await {
            Ok(got) => {
                Ok(got.into_iter().map(|r| Some(r.iter().map(|v| v.as_deref() != Some("0")).collect())).collect())
            }
            Err(e @ (Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::Interrupted)) => Err(e),
            Err(_) if rows.len() == 1 => Ok(vec![None]),
            Err(_) => {
                let mid = rows.len() / 2;
                let mut left = evaluate_rows(session, columns, &rows[..mid], exprs, table).await?;
                let right = evaluate_rows(session, columns, &rows[mid..], exprs, table).await?;
                left.extend(right);
                Ok(left)
            }
        }
    })
}

/// Evaluates every check seed does not read on a sample of each table's real rows
/// (keys reserved, foreign keys picked): a check they break is reported before
/// anything is loaded, with the row.
pub async fn verify_sample(session: &mut Session, plan: &Plan) -> Result<(), Error> {
    for t in 0..plan.tables.len() {
        let tp = &plan.tables[t];
        let found = candidates::table_checks(tp);
        let checks: Vec<&(String, String)> = found
            .sampled
            .iter()
            .chain(tp.pools.iter().flat_map(|p| {
                let names = p.checks.clone();
                tp.table.checks.iter().chain(tp.extra_checks.iter()).filter(move |(n, _)| names.contains(n))
            }))
            .collect();
        if checks.is_empty() || tp.count == 0 {
            continue;
        }
        let columns: Vec<&Column> = tp.columns.iter().filter_map(|c| tp.table.column(&c.name)).collect();
        let exprs: Vec<String> = checks.iter().map(|(_, def)| check_passes(def)).collect();
        let n = tp.count.min(SAMPLE);
        let indexes: Vec<u64> = (0..n).map(|k| k * tp.count / n).collect();
        let gen_rows = RowGen::new(plan, t);
        let rows: Vec<Vec<Value>> = indexes
            .iter()
            .map(|&i| {
                let mut row = Vec::new();
                gen_rows.row(i, &mut row);
                row
            })
            .collect();
        let verdicts = evaluate_rows(session, &columns, &rows, &exprs, &tp.table.name.to_string()).await?;
        for ((i, row), verdict) in indexes.iter().zip(&rows).zip(verdicts) {
            let failed: Vec<usize> = match &verdict {
                Some(v) => v.iter().enumerate().filter(|(_, ok)| !**ok).map(|(k, _)| k).collect(),
                None => (0..checks.len()).collect(),
            };
            let Some(&k) = failed.first() else { continue };
            let (name, def) = checks[k];
            let shown: Vec<String> = columns
                .iter()
                .zip(row)
                .filter(|(c, _)| def.contains(c.name.as_str()))
                .map(|(c, v)| format!("{} = {}", c.name, show(v)))
                .collect();
            return Err(Error::Generation {
                table: tp.table.name.to_string(),
                reason: format!(
                    "generated row {} breaks check constraint \"{name}\": {def} ({}); nothing was written",
                    i + 1,
                    shown.join(", ")
                ),
                hint: Some(format!(
                    "the check reads columns seed fills by construction (keys, foreign keys) or from the factories file; give {} values that satisfy it in a factories file (--factories)",
                    tp.table.name
                )),
            });
        }
    }
    Ok(())
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() { format!("'{short}…'") } else { format!("'{short}'") }
        }
        Value::Bytes(b) => format!("{} bytes", b.len()),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
    }
}
