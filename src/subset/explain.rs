//! `--dry-run`: what a slice would take, estimated before reading any row. Start rows
//! from the planner (PostgreSQL `EXPLAIN`, MySQL `EXPLAIN`; SQLite has no estimates,
//! so its starting conditions are counted), then carried along the references with
//! the tables' row estimates: downward `rows(child) / rows(parent)` children per parent
//! (at most `--children-per-parent`), upward the distinct parents that many references
//! hit when spread evenly (`rows(parent) * (1 - e^(-refs / rows(parent)))`). Each
//! table says why it is in.

use super::{Children, Pick, Rules, Scope, Unrelated};
use crate::db::Session;
use crate::db::schema::{Schema, Table};
use crate::error::Error;

/// Rounds of propagation at most (cycles converge towards the tables' sizes).
const MAX_ROUNDS: usize = 64;

/// One table of the plan.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableExplained {
    pub table: String,
    /// The table's own estimated rows.
    pub table_rows: u64,
    /// Estimated rows the slice takes.
    pub estimated_rows: u64,
    /// `slice`, `whole` or `empty`.
    pub action: &'static str,
    /// How rows of the table are named (`primary key`, `ctid`...), when it is sliced.
    pub key: Option<String>,
    pub why: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Explained {
    pub tables: Vec<TableExplained>,
    /// Problems the slice would run into (a reached table without a key).
    pub problems: Vec<String>,
}

/// Estimates the slice `rules` describe over `tables` (read transaction open on
/// `session`); reads no table's rows (but SQLite's starting conditions, counted).
pub async fn explain(
    session: &mut Session,
    schema: &Schema,
    tables: &[&Table],
    rules: &Rules,
) -> Result<Explained, Error> {
    let scope = Scope::new(schema, tables, rules)?;
    let n = tables.len();
    // A table never analyzed has no estimate in the catalog: the planner's guess from
    // its size on disk then.
    let mut rows_of = Vec::with_capacity(tables.len());
    for t in tables {
        let rows = if t.row_estimate > 0 {
            t.row_estimate
        } else {
            let step = session.step(format!("estimating the rows of {}", t.name));
            session.estimate_rows(format!("SELECT 1 FROM {}", t.name.quoted()), &step).await?.unwrap_or(0)
        };
        rows_of.push(rows);
    }
    #[allow(clippy::cast_precision_loss)]
    let size: Vec<f64> = rows_of.iter().map(|&r| r as f64).collect();
    let mut start = vec![0.0f64; n];
    let mut why: Vec<Vec<String>> = vec![Vec::new(); n];
    for (i, pick, text) in &scope.starts {
        let t = tables[*i];
        #[allow(clippy::cast_precision_loss)]
        let rows = match pick {
            Pick::Where(condition) => estimate_where(session, t, condition, text).await? as f64,
            Pick::Percent(p) => size[*i] * p / 100.0,
            Pick::Count(c) => (*c as f64).min(size[*i]),
        };
        start[*i] += rows;
        why[*i].push(format!("start: {text}"));
    }
    // Downward from the start rows: through each reference `rows(child) / rows(parent)`
    // children per parent row (at most the limit); a table reached several ways gets
    // the most any one way brings (the ways mostly lead to the same rows: the
    // payments of a customer's rentals are the customer's payments).
    let refs = scope.graph.references();
    let mut via = vec![0.0f64; refs.len()];
    let mut down: Vec<f64> = start.iter().zip(&size).map(|(s, z)| s.min(*z)).collect();
    if rules.children != Children::None {
        for _ in 0..MAX_ROUNDS {
            for (e, r) in refs.iter().enumerate() {
                let (c, p) = (scope.index[&r.child], scope.index[&r.parent]);
                let mut per_parent = if size[p] > 0.0 { size[c] / size[p] } else { 0.0 };
                if let Children::PerParent(limit) = rules.children {
                    #[allow(clippy::cast_precision_loss)]
                    let limit = limit as f64;
                    per_parent = per_parent.min(limit);
                }
                via[e] = (down[p] * per_parent).min(size[c]);
            }
            let mut next = start.clone();
            for (e, r) in refs.iter().enumerate() {
                let c = scope.index[&r.child];
                next[c] = next[c].max(via[e]);
            }
            let next: Vec<f64> = next.iter().zip(&size).map(|(x, z)| x.min(*z)).collect();
            let settled = next.iter().zip(&down).all(|(a, b)| (a - b).abs() < 0.5);
            down = next;
            if settled {
                break;
            }
        }
    }
    // Upward from everything reached: the distinct parents that many references hit
    // when spread evenly, not counting the references of rows that came down through
    // the same reference (they point back at rows already counted).
    let mut all = down.clone();
    for _ in 0..MAX_ROUNDS {
        let hits = refs.iter().enumerate().map(|(e, r)| {
            let (c, p) = (scope.index[&r.child], scope.index[&r.parent]);
            let referencing = (all[c] - via[e]).max(0.0);
            let hit = if size[p] > 0.0 { size[p] * (1.0 - (-referencing / size[p]).exp()) } else { 0.0 };
            (p, hit)
        });
        let next = union(&down, &size, hits);
        let settled = next.iter().zip(&all).all(|(a, b)| (a - b).abs() < 0.5);
        all = next;
        if settled {
            break;
        }
    }
    for (e, r) in refs.iter().enumerate() {
        let (c, p) = (scope.index[&r.child], scope.index[&r.parent]);
        let through = format!("{}({})", r.child, r.child_columns.join(", "));
        let virtual_ = if r.declared { String::new() } else { format!(", virtual: {}", r.origin) };
        if via[e] >= 0.5 {
            why[c].push(format!("child of {} through {through}{virtual_}", r.parent));
        }
        if all[c] - via[e] >= 0.5 && all[p] >= 0.5 {
            why[p].push(format!("parent of {} through {through}{virtual_}", r.child));
        }
    }
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(n);
    for (i, t) in tables.iter().enumerate() {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rows = |x: f64| x.max(0.0).round() as u64;
        let key = session.row_key(t).map(|k| k.kind);
        let (action, estimated, reasons) = if scope.unrelated[i] {
            match rules.unrelated {
                Unrelated::Keep => {
                    ("whole", rows(size[i]), vec!["unrelated to the starting tables: kept whole".into()])
                }
                Unrelated::Empty => ("empty", 0, vec!["unrelated to the starting tables: empty".into()]),
            }
        } else if why[i].is_empty() {
            ("empty", 0, vec!["not reached from the start rows: empty".into()])
        } else {
            if key.is_none() {
                problems.push(format!(
                    "{} has no primary key or NOT NULL unique key: the slice cannot name its rows",
                    t.name
                ));
            }
            ("slice", rows(all[i]), std::mem::take(&mut why[i]))
        };
        out.push(TableExplained {
            table: t.name.to_string(),
            table_rows: rows_of[i],
            estimated_rows: estimated,
            action,
            key: if action == "slice" { key } else { None },
            why: reasons,
        });
    }
    Ok(Explained { tables: out, problems })
}

/// The planner's estimate of the rows `condition` picks (SQLite: counted); a condition
/// the database refuses is the argument's error.
async fn estimate_where(session: &mut Session, t: &Table, condition: &str, text: &str) -> Result<u64, Error> {
    let step = session.step(format!("estimating the start rows of --subset '{}'", super::shown(text)));
    let from = format!("FROM {} WHERE ({condition})", t.name.quoted());
    let estimate = session.estimate_rows(format!("SELECT 1 {from}"), &step).await;
    let estimate = match estimate {
        Ok(Some(n)) => Ok(n),
        Ok(None) => session
            .one_i64(format!("SELECT count(*) {from}"), &step)
            .await
            .map(|n| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)),
        Err(e) => Err(e),
    };
    estimate.map_err(|e| super::closure::rejected(text, e))
}

/// Per table: `base` rows plus the union of the `(table, rows)` subsets, each taken as
/// a random subset of the table's other rows; never more than the table.
fn union(base: &[f64], size: &[f64], subsets: impl Iterator<Item = (usize, f64)>) -> Vec<f64> {
    let mut missed = vec![1.0f64; base.len()];
    for (t, rows) in subsets {
        if size[t] > 0.0 {
            missed[t] *= 1.0 - (rows / size[t]).clamp(0.0, 1.0);
        }
    }
    base.iter()
        .zip(size)
        .zip(&missed)
        .map(|((b, z), m)| {
            let b = b.min(*z);
            b + (z - b) * (1.0 - m)
        })
        .collect()
}
