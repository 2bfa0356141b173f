//! Subsets: which rows of which tables a snapshot takes so that the slice restores on
//! its own (`seed snapshot create NAME --subset ...`).
//!
//! 1. **Start rows**: each starting point (`spec`) picks rows of one table: by a
//!    condition the database evaluates, or by key hash (`sample`).
//! 2. **Downward**: the children of start rows (rows whose references point at them),
//!    and the children of rows added downward, recursively; at most
//!    `--children-per-parent N` per parent row (the first N by key), none with
//!    `--no-children`.
//! 3. **Upward**: every row an included row references, through every reference
//!    (declared or virtual, nullable or not, composite, self, cycles), recursively to
//!    the fixpoint. Rows added only upward do not pull their own children.
//! 4. Tables reached by neither: empty, unless no reference connects them to a
//!    starting table at all (`unrelated`): then `--unrelated empty` (default) or `keep`.
//!
//! The slice never has a dangling reference. How (`closure`): keys of the slice are
//! held client-side, the database evaluates the conditions and looks keys up in
//! batches, all inside the snapshot's one read transaction (see docs/subsets.md
//! for why not temporary tables). `explain` estimates the same
//! before reading data (`--dry-run`).

mod closure;
mod explain;
pub mod file;
pub mod sample;
pub mod spec;

use std::collections::{BTreeSet, HashMap};

pub use closure::{MAX_SLICE_KEYS, batches, take};
pub use explain::{Explained, TableExplained, explain};
pub use spec::{Children, Pick, Start, Unrelated};

use crate::db::keys::RowKey;
use crate::db::schema::{Schema, Table, TableName};
use crate::error::Error;
use crate::refs::{Graph, VirtualRef};

/// The sampling seed when `--seed` is not given (bulk's default too).
pub const DEFAULT_SEED: u64 = 42;

/// Everything that decides a slice.
#[derive(Debug, Clone)]
pub struct Rules {
    pub starts: Vec<Start>,
    /// Keys the `%` and count samples by.
    pub seed: u64,
    pub children: Children,
    pub unrelated: Unrelated,
    /// References the schema does not declare, followed like foreign keys.
    pub references: Vec<VirtualRef>,
}

/// What a snapshot reads of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableRows {
    /// The rows with these keys (sorted, as the database wrote them).
    Keys { key: RowKey, keys: Vec<Box<str>> },
    /// Every row.
    Whole,
    /// No row.
    Empty,
}

impl TableRows {
    pub fn count(&self) -> Option<u64> {
        match self {
            TableRows::Keys { keys, .. } => Some(keys.len() as u64),
            TableRows::Empty => Some(0),
            TableRows::Whole => None,
        }
    }
}

/// The tables a slice is taken from, resolved: starting tables by index, the
/// reference graph among them, and which tables are unrelated.
struct Scope<'a> {
    tables: &'a [&'a Table],
    index: HashMap<&'a TableName, usize>,
    graph: Graph,
    /// (table index, pick, the starting point as written) per starting point.
    starts: Vec<(usize, Pick, String)>,
    /// No reference path (either way) to a starting table.
    unrelated: Vec<bool>,
}

impl<'a> Scope<'a> {
    /// Resolves `rules` against the snapshot's `tables` (of `schema`): unknown tables
    /// and columns are usage errors naming the argument; references to tables the
    /// snapshot leaves out are not followed.
    fn new(schema: &Schema, tables: &'a [&'a Table], rules: &Rules) -> Result<Self, Error> {
        let index: HashMap<&TableName, usize> = tables.iter().enumerate().map(|(i, t)| (&t.name, i)).collect();
        let whole = Graph::new(schema, &rules.references)?;
        let names: Vec<&TableName> = tables.iter().map(|t| &t.name).collect();
        let graph = whole.within(&names);
        let mut starts = Vec::new();
        for s in &rules.starts {
            let text = s.to_string();
            let Some(t) = crate::refs::find_table(schema, &s.table) else {
                return Err(Error::usage_hint(
                    format!("--subset '{}': no table {} in the database", shown(&text), shown(&s.table_text())),
                    format!("tables: {}", crate::untrusted::shown(&schema.table_list(), 400)),
                ));
            };
            let Some(&i) = index.get(&t.name) else {
                return Err(Error::usage_hint(
                    format!("--subset '{}': table {} is not in the snapshot", shown(&text), t.name),
                    "--table, --exclude or --schema leave it out; a starting table must be one the snapshot takes",
                ));
            };
            starts.push((i, s.pick.clone(), text));
        }
        let unrelated = unrelated(tables.len(), &index, &graph, starts.iter().map(|s| s.0));
        Ok(Self { tables, index, graph, starts, unrelated })
    }
}

/// Tables with no path of references (in either direction) to a starting table.
fn unrelated(
    n: usize,
    index: &HashMap<&TableName, usize>,
    graph: &Graph,
    starts: impl Iterator<Item = usize>,
) -> Vec<bool> {
    let mut neighbours: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for r in graph.references() {
        if let (Some(&c), Some(&p)) = (index.get(&r.child), index.get(&r.parent)) {
            neighbours[c].insert(p);
            neighbours[p].insert(c);
        }
    }
    let mut seen = vec![false; n];
    let mut todo: Vec<usize> = starts.collect();
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut seen[i], true) {
            todo.extend(neighbours[i].iter().copied());
        }
    }
    seen.into_iter().map(|s| !s).collect()
}

fn shown(s: &str) -> String {
    crate::untrusted::shown(s, 120)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_decide_what_is_unrelated() {
        // 0 <- 1 -> 2, 3 alone, 4 -> 3
        let names: Vec<TableName> = (0..5).map(|i| TableName::new("", format!("t{i}"))).collect();
        let index: HashMap<&TableName, usize> = names.iter().enumerate().map(|(i, t)| (t, i)).collect();
        let schema = Schema {
            tables: names.iter().map(|n| crate::db::schema::test_support::int_table("", &n.name, &[])).collect(),
            ..Schema::default()
        };
        let mut schema = schema;
        let fk = |to: &str| crate::db::schema::ForeignKey {
            name: "fk".into(),
            columns: vec!["x".into()],
            ref_table: TableName::new("", to),
            ref_columns: vec!["id".into()],
            deferrable: false,
            period: false,
        };
        schema.tables[1].foreign_keys = vec![fk("t0"), fk("t2")];
        schema.tables[4].foreign_keys = vec![fk("t3")];
        let graph = Graph::new(&schema, &[]).unwrap();
        assert_eq!(unrelated(5, &index, &graph, [2].into_iter()), [false, false, false, true, true]);
        assert_eq!(unrelated(5, &index, &graph, [4].into_iter()), [true, true, true, false, false]);
    }
}
