//! The slice computed inside the snapshot's read transaction: start keys, then rounds
//! of downward and upward lookups until nothing new turns up (semi-naive: each round
//! sends only the keys the previous one added).
//!
//! Keys stay client-side, as the literals the database wrote (`db::keys`); every
//! lookup is one statement per reference and batch of keys, e.g. upward
//! `SELECT key(p) FROM parent p WHERE p.id IN (SELECT c.parent_id FROM child c WHERE
//! c.key IN (...batch...))`: the database joins through its indexes, seed only
//! subtracts what it already has. Memory: the slice's keys (a few dozen bytes each),
//! never rows; refused beyond [`MAX_SLICE_KEYS`]. The result does not depend on the
//! order of lookups or on batch sizes (each set is the least fixpoint of its rules),
//! and the keys are sorted, so the same data gives the same slice.

use std::collections::HashMap;
use std::time::Instant;

use super::sample::{Smallest, key_hash, percent_bound};
use super::{Children, Pick, Rules, Scope, TableRows};
use crate::db::Session;
use crate::db::keys::{RowKey, qualify};
use crate::db::schema::{Schema, Table, quote_ident};
use crate::error::Error;
use crate::output::{Printer, plural};
use crate::refs::Reference;

/// Most keys a slice may hold (all tables together): about 60 bytes each in memory.
pub const MAX_SLICE_KEYS: usize = 5_000_000;
/// Keys sent in one statement, and at most this many bytes of them.
const BATCH_KEYS: usize = 5_000;
const BATCH_BYTES: usize = 512 << 10;

/// Computes the slice `rules` describe over `tables` (of `schema`), in the read
/// transaction open on `session`. One entry per table, in order.
pub async fn take(
    session: &mut Session,
    schema: &Schema,
    tables: &[&Table],
    rules: &Rules,
    printer: &Printer,
) -> Result<Vec<TableRows>, Error> {
    let started = Instant::now();
    let scope = Scope::new(schema, tables, rules)?;
    let keys: Vec<Option<RowKey>> = tables.iter().map(|t| session.row_key(t)).collect();
    let mut walk = Walk {
        session,
        scope: &scope,
        keys: &keys,
        sets: vec![HashMap::new(); tables.len()],
        up: vec![Vec::new(); tables.len()],
        down: vec![Vec::new(); tables.len()],
        follow: rules.children != Children::None,
        total: 0,
        queries: 0,
    };
    for (i, pick, text) in &scope.starts {
        let found = walk.start(*i, pick, text, rules.seed).await?;
        walk.add(*i, found, true)?;
    }
    let mut rounds = 0;
    while walk.down.iter().chain(&walk.up).any(|f| !f.is_empty()) {
        rounds += 1;
        for p in 0..tables.len() {
            let frontier = std::mem::take(&mut walk.down[p]);
            if !frontier.is_empty() {
                walk.children(p, &frontier, rules.children).await?;
            }
        }
        for c in 0..tables.len() {
            let frontier = std::mem::take(&mut walk.up[c]);
            if !frontier.is_empty() {
                walk.parents(c, &frontier).await?;
            }
        }
    }
    let (total, queries) = (walk.total, walk.queries);
    let out: Vec<TableRows> = walk
        .sets
        .into_iter()
        .enumerate()
        .map(|(i, set)| {
            if scope.unrelated[i] {
                return match rules.unrelated {
                    super::Unrelated::Keep => TableRows::Whole,
                    super::Unrelated::Empty => TableRows::Empty,
                };
            }
            let mut keys_of: Vec<Box<str>> = set.into_keys().collect();
            if keys_of.is_empty() {
                return TableRows::Empty;
            }
            keys_of.sort_unstable();
            match &keys[i] {
                Some(key) => TableRows::Keys { key: key.clone(), keys: keys_of },
                None => TableRows::Empty,
            }
        })
        .collect();
    printer.info(format!(
        "subset: {} in {} picked in {:.2}s ({} rounds, {} lookups)",
        plural(total as u64, "row", "rows"),
        plural(out.iter().filter(|r| matches!(r, TableRows::Keys { .. })).count() as u64, "table", "tables"),
        started.elapsed().as_secs_f64(),
        rounds,
        queries
    ));
    Ok(out)
}

/// The state of one closure: per table the keys found (true: reached downward, so its
/// children are followed) and the keys whose references are still to follow.
struct Walk<'s, 'a> {
    session: &'s mut Session,
    scope: &'s Scope<'a>,
    keys: &'s [Option<RowKey>],
    sets: Vec<HashMap<Box<str>, bool>>,
    /// Keys whose parents are still to look up.
    up: Vec<Vec<Box<str>>>,
    /// Keys whose children are still to look up.
    down: Vec<Vec<Box<str>>>,
    follow: bool,
    total: usize,
    queries: u64,
}

impl Walk<'_, '_> {
    fn table(&self, i: usize) -> &Table {
        self.scope.tables[i]
    }

    /// The key of table `i`, or why its rows cannot be named.
    fn key(&self, i: usize) -> Result<&RowKey, Error> {
        self.keys[i].as_ref().ok_or_else(|| {
            let t = &self.table(i).name;
            Error::schema(
                format!("the subset reaches table {t}, which has no primary key or NOT NULL unique key"),
                format!(
                    "seed names the rows of a slice by key (on this kind of database there is no row id to fall back on): add a key to {t}, or leave it out with --exclude"
                ),
            )
        })
    }

    /// Adds keys found in table `t`; `downward`: reached from a start row or a child
    /// lookup (its own children are then followed).
    fn add(&mut self, t: usize, found: Vec<Box<str>>, downward: bool) -> Result<(), Error> {
        for k in found {
            match self.sets[t].get_mut(&k) {
                Some(down) => {
                    if downward && !*down {
                        *down = true;
                        if self.follow {
                            self.down[t].push(k);
                        }
                    }
                }
                None => {
                    self.total += 1;
                    if self.total > MAX_SLICE_KEYS {
                        return Err(Error::usage_hint(
                            format!(
                                "the slice holds more than {MAX_SLICE_KEYS} rows (reached in {}); seed keeps every key of a slice in memory",
                                self.table(t).name
                            ),
                            "take a smaller slice: a narrower condition or percentage, --children-per-parent N, --no-children; or a full snapshot (no --subset); --dry-run estimates the slice first",
                        ));
                    }
                    if downward && self.follow {
                        self.down[t].push(k.clone());
                    }
                    self.up[t].push(k.clone());
                    self.sets[t].insert(k, downward);
                }
            }
        }
        Ok(())
    }

    /// The keys of table `i` a starting point picks.
    async fn start(&mut self, i: usize, pick: &Pick, text: &str, seed: u64) -> Result<Vec<Box<str>>, Error> {
        let key = self.key(i)?.clone();
        let table = self.scope.tables[i];
        let literal = self.session.key_literal(&key, None);
        let step = self.session.step(format!("finding the start rows of --subset '{}'", super::shown(text)));
        self.queries += 1;
        let mut found: Vec<Box<str>> = Vec::new();
        match pick {
            Pick::Where(condition) => {
                let sql = format!("SELECT {literal} FROM {} WHERE ({condition})", table.name.quoted());
                let result = self
                    .session
                    .each_row(sql, &step, &mut |row| {
                        if let Some(Some(k)) = row.into_iter().next() {
                            found.push(k.into());
                        }
                        Ok(())
                    })
                    .await;
                result.map_err(|e| rejected(text, e))?;
            }
            Pick::Percent(_) | Pick::Count(_) => {
                let texts: Vec<String> = key.exprs(None).iter().map(|e| self.session.cast_text(e)).collect();
                let sql = format!("SELECT {literal}, {} FROM {}", texts.join(", "), table.name.quoted());
                let bound = match pick {
                    Pick::Percent(p) => percent_bound(*p),
                    _ => 0,
                };
                let mut smallest = match pick {
                    Pick::Count(n) => Some(Smallest::new(usize::try_from(*n).unwrap_or(usize::MAX))),
                    _ => None,
                };
                self.session
                    .each_row(sql, &step, &mut |mut row| {
                        if row.is_empty() {
                            return Ok(());
                        }
                        let Some(k) = row.remove(0) else { return Ok(()) };
                        let hash = key_hash(seed, &row);
                        match &mut smallest {
                            Some(s) => s.offer(hash, &k),
                            None if u128::from(hash) < bound => found.push(k.into()),
                            None => {}
                        }
                        Ok(())
                    })
                    .await?;
                if let Some(s) = smallest {
                    found = s.into_keys();
                }
            }
        }
        Ok(found)
    }

    /// Looks up the children of `frontier` (keys of table `p`) through every reference
    /// to `p`, and adds them as reached downward.
    async fn children(&mut self, p: usize, frontier: &[Box<str>], children: Children) -> Result<(), Error> {
        let limit = match children {
            Children::None => return Ok(()),
            Children::All => None,
            Children::PerParent(n) => Some(n),
        };
        let refs: Vec<Reference> = self.scope.graph.children_of(&self.table(p).name).cloned().collect();
        for r in &refs {
            let c = self.scope.index[&r.child];
            let (pkey, ckey) = (self.key(p)?.clone(), self.key(c)?.clone());
            for batch in batches(frontier) {
                let sql = self.lookup_sql(r, c, &ckey, p, &pkey).down(&batch, limit);
                let found =
                    self.lookup(sql, format!("finding rows of {} that reference {}", r.child, r.parent)).await?;
                self.add(c, found, true)?;
            }
        }
        Ok(())
    }

    /// Looks up the rows `frontier` (keys of table `c`) references, and adds them.
    async fn parents(&mut self, c: usize, frontier: &[Box<str>]) -> Result<(), Error> {
        let refs: Vec<Reference> = self.scope.graph.parents_of(&self.table(c).name).cloned().collect();
        for r in &refs {
            let p = self.scope.index[&r.parent];
            let (pkey, ckey) = (self.key(p)?.clone(), self.key(c)?.clone());
            for batch in batches(frontier) {
                let sql = self.lookup_sql(r, c, &ckey, p, &pkey).up(&batch);
                let found =
                    self.lookup(sql, format!("finding rows of {} that {} references", r.parent, r.child)).await?;
                self.add(p, found, false)?;
            }
        }
        Ok(())
    }

    fn lookup_sql<'q>(
        &'q self,
        r: &'q Reference,
        c: usize,
        ckey: &'q RowKey,
        p: usize,
        pkey: &'q RowKey,
    ) -> Lookup<'q> {
        Lookup { s: self.session, r, child: self.table(c), ckey, parent: self.table(p), pkey }
    }

    /// The keys one lookup returns.
    async fn lookup(&mut self, sql: String, what: String) -> Result<Vec<Box<str>>, Error> {
        let step = self.session.step(what);
        self.queries += 1;
        let mut found = Vec::new();
        self.session
            .each_row(sql, &step, &mut |row| {
                if let Some(Some(k)) = row.into_iter().next() {
                    found.push(k.into_boxed_str());
                }
                Ok(())
            })
            .await?;
        Ok(found)
    }
}

/// A condition the database refused is the argument's fault: say which one.
pub(super) fn rejected(text: &str, e: Error) -> Error {
    match e {
        Error::Database { message, transient: false, .. } => Error::usage_hint(
            format!("--subset '{}': the database rejects the condition: {message}", super::shown(text)),
            "the condition is SQL over the table's columns, as in WHERE (e.g. customer:store_id = 1); TABLE:10% and TABLE:1000 sample by key",
        ),
        other => other,
    }
}

/// `frontier` cut into batches of at most [`BATCH_KEYS`] keys and [`BATCH_BYTES`] bytes.
pub fn batches(frontier: &[Box<str>]) -> Vec<Vec<&str>> {
    let mut out = Vec::new();
    let mut cur: Vec<&str> = Vec::new();
    let mut bytes = 0;
    for k in frontier {
        if !cur.is_empty() && (cur.len() == BATCH_KEYS || bytes + k.len() > BATCH_BYTES) {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += k.len() + 2;
        cur.push(k);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `a` or `(a, b)`.
fn tuple(exprs: &[String]) -> String {
    if exprs.len() == 1 { exprs[0].clone() } else { format!("({})", exprs.join(", ")) }
}

fn columns(alias: &str, cols: &[String]) -> Vec<String> {
    cols.iter().map(|c| qualify(Some(alias), &quote_ident(c))).collect()
}

/// One reference between two tables of the slice, for the SQL of its lookups.
struct Lookup<'q> {
    s: &'q Session,
    r: &'q Reference,
    child: &'q Table,
    ckey: &'q RowKey,
    parent: &'q Table,
    pkey: &'q RowKey,
}

impl Lookup<'_> {
    fn condition(&self) -> String {
        self.r.condition.as_ref().map(|c| format!(" AND ({c})")).unwrap_or_default()
    }

    /// Keys of child rows pointing at a parent row of `batch`; with a `limit`, the first
    /// that many by key per referenced value.
    fn down(&self, batch: &[&str], limit: Option<u64>) -> String {
        let fk = columns("seed_c", &self.r.child_columns);
        let inner = format!(
            "SELECT {} FROM {} seed_p WHERE {}",
            columns("seed_p", &self.r.parent_columns).join(", "),
            self.parent.name.quoted(),
            self.s.key_in(self.pkey, Some("seed_p"), batch)
        );
        let literal = self.s.key_literal(self.ckey, Some("seed_c"));
        let from =
            format!("FROM {} seed_c WHERE {} IN ({inner}){}", self.child.name.quoted(), tuple(&fk), self.condition());
        match limit {
            None => format!("SELECT {literal} {from}"),
            Some(n) => format!(
                "SELECT seed_k FROM (SELECT {literal} AS seed_k, ROW_NUMBER() OVER (PARTITION BY {} ORDER BY {}) AS seed_n {from}) seed_x WHERE seed_n <= {n}",
                fk.join(", "),
                self.ckey.order_by(Some("seed_c"))
            ),
        }
    }

    /// Keys of parent rows that child rows of `batch` point at.
    fn up(&self, batch: &[&str]) -> String {
        format!(
            "SELECT {} FROM {} seed_p WHERE {} IN (SELECT {} FROM {} seed_c WHERE {}{})",
            self.s.key_literal(self.pkey, Some("seed_p")),
            self.parent.name.quoted(),
            tuple(&columns("seed_p", &self.r.parent_columns)),
            columns("seed_c", &self.r.child_columns).join(", "),
            self.child.name.quoted(),
            self.s.key_in(self.ckey, Some("seed_c"), batch),
            self.condition()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_keep_to_both_bounds() {
        let keys: Vec<Box<str>> = (0..12_001).map(|i| i.to_string().into_boxed_str()).collect();
        let b = batches(&keys);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [5000, 5000, 2001]);
        let big: Vec<Box<str>> = (0..10).map(|_| "x".repeat(200 << 10).into_boxed_str()).collect();
        assert_eq!(batches(&big).iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 2, 2]);
        assert!(batches(&[]).is_empty());
    }
}
