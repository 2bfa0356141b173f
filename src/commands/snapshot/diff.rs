//! `seed snapshot diff A B`: per table, rows added, removed and changed, matched by
//! primary key. Tables whose row count and checksum agree are not read at all. Memory:
//! 16 bytes per row of the largest differing table in A (key hash -> row hash).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};

use serde_json::json;

use crate::cli::DiffArgs;
use crate::context::Context;
use crate::error::{Error, code};
use crate::snapshot::catalog;
use crate::snapshot::chain::Chain;
use crate::snapshot::format::{Header, TableEntry, row_hash};
use crate::snapshot::reader::into_error;

#[derive(Debug, Default)]
struct TableDiff {
    name: String,
    added: u64,
    removed: u64,
    changed: u64,
    unchanged: u64,
    note: Option<String>,
    rows: Vec<String>,
}

pub async fn run(args: &DiffArgs, ctx: &Context) -> Result<u8, Error> {
    // Shared locks on both names (and their bases), like every reader, so a delete or
    // `create --force` cannot change a file under us; taken in name order, so two
    // diffs (or a diff and any other two-name command) never wait on each other in a
    // cycle. Each side is rebuilt from its chain where it is incremental.
    let mut order = [(0, &args.name_a), (1, &args.name_b)];
    order.sort_by_key(|(_, r)| r.to_string());
    let mut opened = Vec::with_capacity(2);
    for (side, name) in order {
        opened.push((side, catalog::open_chain(ctx.location()?, &ctx.printer, name, args.lock.wait, "diff").await?));
    }
    opened.sort_by_key(|(side, _)| *side);
    let (a_chain, b_chain) = (&opened[0].1.chain, &opened[1].1.chain);
    let (a, b) = (a_chain.header(), b_chain.header());
    let mut diffs = Vec::new();
    for (ia, ta) in a.tables.iter().enumerate() {
        match b.tables.iter().position(|tb| tb.table_name() == ta.table_name()) {
            None => diffs.push(TableDiff {
                name: ta.table_name().to_string(),
                removed: ta.rows,
                note: Some("table only in A".into()),
                ..TableDiff::default()
            }),
            Some(ib) => diffs.push(tokio::task::block_in_place(|| diff_table(a_chain, ia, b_chain, ib, args.rows))?),
        }
    }
    for tb in &b.tables {
        if !a.tables.iter().any(|ta| ta.table_name() == tb.table_name()) {
            diffs.push(TableDiff {
                name: tb.table_name().to_string(),
                added: tb.rows,
                note: Some("table only in B".into()),
                ..TableDiff::default()
            });
        }
    }
    let differs = diffs.iter().any(|d| d.added + d.removed + d.changed > 0 || d.note.is_some());
    if ctx.printer.json_doc() {
        // The report is the result, also when the snapshots differ (exit 12).
        let tables: Vec<_> = diffs
            .iter()
            .map(|d| json!({ "table": d.name, "added": d.added, "removed": d.removed, "changed": d.changed, "unchanged": d.unchanged, "note": d.note, "rows": d.rows }))
            .collect();
        ctx.printer
            .document("snapshot diff", json!({ "a": a.name, "b": b.name, "differs": differs, "tables": tables }));
    } else {
        let width = diffs.iter().map(|d| d.name.len()).max().unwrap_or(5).max(5);
        let mut text =
            format!("{:<width$}  {:>9}  {:>9}  {:>9}  {:>9}", "TABLE", "ADDED", "REMOVED", "CHANGED", "UNCHANGED");
        for d in &diffs {
            text.push_str(&format!(
                "\n{:<width$}  {:>9}  {:>9}  {:>9}  {:>9}",
                d.name, d.added, d.removed, d.changed, d.unchanged
            ));
            if let Some(n) = &d.note {
                text.push_str(&format!("  ({n})"));
            }
            for r in &d.rows {
                text.push_str(&format!("\n  {r}"));
            }
        }
        text.push_str(if differs { "\nthe snapshots differ" } else { "\nthe snapshots hold the same rows" });
        ctx.printer.data(&text);
    }
    Ok(if differs { code::DIFFERENCES } else { code::OK })
}

fn lines(chain: &Chain, index: usize, mut each: impl FnMut(&[u8])) -> Result<(), Error> {
    let reader = BufReader::with_capacity(1 << 20, chain.open_table(index)?);
    let path = chain.top().source.location();
    for line in reader.split(b'\n') {
        each(&line.map_err(|e| into_error(path, e))?);
    }
    Ok(())
}

/// The primary-key fields of a line, as one hashable value.
fn key_of(line: &[u8], key_cols: &[usize]) -> u64 {
    if key_cols.is_empty() {
        return row_hash(line);
    }
    let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    let mut key = Vec::new();
    for &k in key_cols {
        key.extend_from_slice(fields.get(k).copied().unwrap_or_default());
        key.push(0);
    }
    row_hash(&key)
}

fn key_columns(entry: &TableEntry) -> Vec<usize> {
    entry.primary_key.iter().filter_map(|k| entry.columns.iter().position(|c| &c.name == k)).collect()
}

fn diff_table(ca: &Chain, ia: usize, cb: &Chain, ib: usize, show_rows: bool) -> Result<TableDiff, Error> {
    let (a, b): (&Header, &Header) = (ca.header(), cb.header());
    let (ta, tb) = (&a.tables[ia], &b.tables[ib]);
    let mut d = TableDiff { name: ta.table_name().to_string(), ..TableDiff::default() };
    let same_columns = ta.columns.iter().map(|c| &c.name).eq(tb.columns.iter().map(|c| &c.name));
    if same_columns && ta.rows == tb.rows && ta.checksum == tb.checksum {
        d.unchanged = ta.rows;
        return Ok(d);
    }
    if !same_columns {
        d.note = Some("columns differ".into());
    }
    let (ka, kb) = (key_columns(ta), key_columns(tb));
    let keyed = !ka.is_empty()
        && ka.len() == ta.primary_key.len()
        && kb.len() == tb.primary_key.len()
        && ta.primary_key == tb.primary_key;
    if !keyed {
        // No usable primary key: compare as multisets of rows.
        let mut counts: HashMap<u64, i64> = HashMap::new();
        lines(ca, ia, |l| *counts.entry(row_hash(l)).or_default() += 1)?;
        lines(cb, ib, |l| *counts.entry(row_hash(l)).or_default() -= 1)?;
        for v in counts.values() {
            if *v > 0 {
                d.removed += v.unsigned_abs();
            } else {
                d.added += v.unsigned_abs();
            }
        }
        d.unchanged = ta.rows.saturating_sub(d.removed);
        d.note.get_or_insert_with(|| "no primary key: rows compared whole".into());
        return Ok(d);
    }
    let mut in_a: HashMap<u64, u64> = HashMap::with_capacity(usize::try_from(ta.rows).unwrap_or(0));
    lines(ca, ia, |l| {
        in_a.insert(key_of(l, &ka), row_hash(l));
    })?;
    // A changed row's position in `d.rows`, so its old version goes right under it.
    let mut changed_at: HashMap<u64, usize> = HashMap::new();
    lines(cb, ib, |l| {
        let key = key_of(l, &kb);
        match in_a.remove(&key) {
            Some(h) if h == row_hash(l) => d.unchanged += 1,
            Some(_) => {
                d.changed += 1;
                if show_rows {
                    changed_at.insert(key, d.rows.len());
                    d.rows.push(format!("~ {}", String::from_utf8_lossy(l)));
                }
            }
            None => {
                d.added += 1;
                if show_rows {
                    d.rows.push(format!("+ {}", String::from_utf8_lossy(l)));
                }
            }
        }
    })?;
    d.removed = in_a.len() as u64;
    if show_rows && (!in_a.is_empty() || !changed_at.is_empty()) {
        let mut was: HashMap<usize, String> = HashMap::new();
        let mut removed = Vec::new();
        lines(ca, ia, |l| {
            let key = key_of(l, &ka);
            if in_a.contains_key(&key) {
                removed.push(format!("- {}", String::from_utf8_lossy(l)));
            } else if let Some(&at) = changed_at.get(&key) {
                was.insert(at, format!("~ was {}", String::from_utf8_lossy(l)));
            }
        })?;
        // Each changed row followed by what it was; removed rows last.
        let mut paired = Vec::with_capacity(d.rows.len() + was.len() + removed.len());
        for (i, row) in std::mem::take(&mut d.rows).into_iter().enumerate() {
            paired.push(row);
            paired.extend(was.remove(&i));
        }
        paired.extend(removed);
        d.rows = paired;
    }
    Ok(d)
}
