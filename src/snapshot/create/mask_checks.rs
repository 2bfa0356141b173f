//! A masking plan put to the database before any row is read for the snapshot, so a
//! rule whose values the database would refuse is exit 2 now (`--dry-run` included),
//! naming the rule's file and line, not a snapshot that fails its restore:
//! - each `fixed` value is written into a scratch place of every column it masks;
//! - each check constraint seed does not read itself (a regular expression, `LIKE`, a
//!   function, several columns) over a masked column is evaluated by the database on
//!   the table's first rows, masked in memory. The query carries masked values only
//!   (and the check's unmasked columns as read); messages quote no value. A dry run
//!   without a key cannot mask, so it tries only the rules that need none.

use crate::db::Session;
use crate::db::checks::{fully_understood, referenced_columns};
use crate::db::evaluate::check_passes;
use crate::db::schema::{Column, Table, quote_ident};
use crate::db::step::Step;
use crate::db::value::Value;
use crate::error::Error;
use crate::mask::plan::{ColumnMask, TableMask};
use crate::mask::value::Fault;
use crate::mask::{self, rules::Rule};

/// Rows of a table its checks are tried on.
const SAMPLE_ROWS: usize = 64;

/// Every check of the plan against the database (see the module's note).
pub(super) async fn against_database(session: &mut Session, plan: &mask::Plan, tables: &[&Table]) -> Result<(), Error> {
    fixed_values(session, plan, tables).await?;
    for tm in plan.tables.iter().filter(|t| !t.is_empty()) {
        let Some(table) = tables.iter().find(|t| t.name == tm.table) else { continue };
        let names: Vec<&str> = tm.names.iter().map(String::as_str).collect();
        for (name, def) in &table.checks {
            let cols = referenced_columns(def, &names);
            let masked = cols.iter().any(|c| mask_of(tm, c).is_some());
            // The plan itself holds checks seed reads (ranges, lists, lengths).
            if masked && !fully_understood(def, &cols) {
                check_on_sample(session, plan, table, tm, name, def, &cols).await?;
            }
        }
    }
    Ok(())
}

/// r21.9's class in masking: each `fixed` value is written by the database into a
/// scratch place of every column it masks (see `refused_values`). (`snapshot mask` has
/// no database: there the plan's own check of the value against the column's kind is
/// all there is.)
async fn fixed_values(session: &mut Session, plan: &mask::Plan, tables: &[&Table]) -> Result<(), Error> {
    for tm in &plan.tables {
        let Some(table) = tables.iter().find(|t| t.name == tm.table) else { continue };
        for (name, cm) in tm.names.iter().zip(&tm.columns) {
            let Some(Rule::Fixed(value)) = cm.as_ref().and_then(|c| c.whole.as_ref()).map(|m| &m.rule) else {
                continue;
            };
            let Some(col) = table.column(name) else { continue };
            if let Some((_, reason)) =
                session.refused_values(col, std::slice::from_ref(value)).await?.into_iter().next()
            {
                let why = plan.explained.iter().find(|e| e.table == tm.table && e.column == *name);
                return Err(Error::usage_hint(
                    format!(
                        "[mask] fixed {:?} on {}.{} ({}): the database refuses it: {reason}{}",
                        crate::untrusted::shown(value, 60),
                        tm.table,
                        col.name,
                        col.type_name,
                        why.map(|e| format!(" ({})", e.reason)).unwrap_or_default()
                    ),
                    "give a value of the column's type (the database's own words above), or another rule",
                ));
            }
        }
    }
    Ok(())
}

fn mask_of<'a>(tm: &'a TableMask, column: &str) -> Option<&'a ColumnMask> {
    tm.names.iter().position(|n| n == column).and_then(|i| tm.columns[i].as_ref())
}

/// The check `def` (named `name`) of `table`, over `cols`, evaluated by the database on
/// the first rows where a masked column of it is not NULL, masked.
async fn check_on_sample(
    session: &mut Session,
    plan: &mask::Plan,
    table: &Table,
    tm: &TableMask,
    name: &str,
    def: &str,
    cols: &[&str],
) -> Result<(), Error> {
    let columns: Vec<&Column> = cols.iter().filter_map(|c| table.column(c)).collect();
    let masked: Vec<&str> = cols.iter().copied().filter(|c| mask_of(tm, c).is_some()).collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} LIMIT {SAMPLE_ROWS}",
        columns.iter().map(|c| session.cast_text(&quote_ident(&c.name))).collect::<Vec<_>>().join(", "),
        table.name.quoted(),
        masked.iter().map(|c| format!("{} IS NOT NULL", quote_ident(c))).collect::<Vec<_>>().join(" OR "),
    );
    let step = Step::new(format!("trying the masking rules on the check {name} of {}", table.name));
    let read = session.text_rows(sql, &step).await?;
    let mut rows: Vec<Vec<Value>> = Vec::with_capacity(read.len());
    'rows: for row in read {
        let mut values = Vec::with_capacity(columns.len());
        for (c, v) in columns.iter().zip(row) {
            let v = match (v, mask_of(tm, &c.name)) {
                (Some(v), Some(m)) => match m.apply(&v) {
                    Ok(out) => out,
                    // A dry run without a key: the keyed rules cannot be tried.
                    Err(Fault("no masking key")) => return Ok(()),
                    // A value that cannot be masked at all: the create says so, by row.
                    Err(_) => continue 'rows,
                },
                (v, _) => v,
            };
            values.push(v.map_or(Value::Null, Value::Text));
        }
        rows.push(values);
    }
    if rows.is_empty() {
        return Ok(());
    }
    let refused = match session.evaluate(&columns, &rows, &[check_passes(def)], &step).await {
        Ok(verdicts) => verdicts.iter().filter(|v| v.first().is_some_and(|x| x.as_deref() == Some("0"))).count(),
        // Not even of the column's type; the database's words would quote the value.
        Err(Error::Database { .. }) => rows.len(),
        Err(e) => return Err(e),
    };
    if refused == 0 {
        return Ok(());
    }
    let column = masked[0];
    let rule = plan
        .explained
        .iter()
        .find(|e| e.table == tm.table && e.column == column)
        .map_or_else(|| "its rule".to_owned(), |e| e.rule.clone());
    let message = format!(
        "{rule} on {}.{column}: the check {name} ({}) refuses {refused} of the {} masked values tried (the table's \
         first rows), so the snapshot would not restore",
        table.name,
        crate::untrusted::shown(def, 200),
        rows.len()
    );
    Err(match mask_of(tm, column).and_then(|m| m.at.as_ref()) {
        Some(at) => at.error(format!("[mask] {message}; give the column a rule whose values the check accepts")),
        None => Error::usage_hint(
            format!("--mask auto: {message}"),
            format!(
                "give {}.{column} a rule in the [mask] section whose values the check accepts (a template, a fixed \
                 value, or keep)",
                table.name
            ),
        ),
    })
}
