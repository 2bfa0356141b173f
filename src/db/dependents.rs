//! Rows outside a load that point at tables it empties (`restore --clean`, `bulk
//! --truncate`, `prepare`). Emptying a parent whose children keep their rows fails at
//! COMMIT with a foreign-key violation, after all the work; pre-flight finds such
//! children first. With `--cascade` they are emptied too, and so, in turn, are the
//! tables whose rows point at them.
//!
//! When the keys the parent will hold are known before loading (a restore: the
//! snapshot's rows), only child rows whose reference matches none of them count, so
//! rows that point at rows coming back unchanged (`prepare --exclude`) stay welcome.
//! Otherwise (a bulk load: its keys are drawn while loading) every child row with its
//! key set counts.

use std::collections::HashSet;

use crate::db::backend::{Backend, ChunkSink, Dependent};
use crate::db::copy_text::LineSplitter;
use crate::db::schema::{Schema, Table, TableName, load_order, quote_ident};
use crate::db::step::Step;
use crate::error::Error;
use crate::output::plural;

/// The keys a loaded table will hold once loaded, when known before (a restore knows
/// its snapshot's rows).
pub trait KeptKeys {
    /// [`key_hash`]es of `columns` of `table` after the load, or `None` when not known
    /// (then every referencing row counts).
    fn keys(&self, table: &TableName, columns: &[String]) -> Result<Option<HashSet<u64>>, Error>;
}

/// The hash of a key's fields as COPY text (`\N` never reaches it: a key with a NULL
/// references nothing), the same for a snapshot's rows and a live table's.
pub fn key_hash(fields: &[&[u8]]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for f in fields {
        h.update(&(f.len() as u64).to_le_bytes());
        h.update(f);
    }
    h.digest()
}

/// A parent table and the columns a foreign key references in it.
type KeyId = (TableName, Vec<String>);

/// Counts the lines of a streamed key whose fields are all set and whose hash is not
/// in `kept`.
struct Unmatched<'a> {
    kept: &'a HashSet<u64>,
    lines: LineSplitter,
    count: u64,
}

impl ChunkSink for Unmatched<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (kept, count) = (self.kept, &mut self.count);
        self.lines.push::<Error>(bytes, |line| {
            let fields: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
            if !fields.iter().any(|f| *f == b"\\N") && !kept.contains(&key_hash(&fields)) {
                *count += 1;
            }
            Ok(())
        })
    }
}

/// Every table outside `targets` whose rows would be left pointing at emptied rows:
/// those referencing a target (depth 1), then, as if those were emptied too, those
/// referencing them, and so on. Rows with a NULL in the key reference nothing (MATCH
/// SIMPLE) and do not count.
pub async fn find<B: Backend>(
    b: &mut B,
    schema: &Schema,
    targets: &[TableName],
    kept: Option<&dyn KeptKeys>,
) -> Result<Vec<Dependent>, Error> {
    let mut emptied: Vec<TableName> = targets.to_vec();
    let mut found = Vec::new();
    // A parent's kept keys, read once however many children reference it.
    let mut cache: Vec<(KeyId, Option<HashSet<u64>>)> = Vec::new();
    for depth in 1.. {
        let mut next: Vec<TableName> = Vec::new();
        for child in schema.tables.iter().filter(|t| !emptied.contains(&t.name)) {
            for fk in child.foreign_keys.iter().filter(|fk| emptied.contains(&fk.ref_table)) {
                let mut rows = referencing(b, child, &fk.columns, &fk.ref_table).await?;
                // Only a target's keys are known ahead; a table `--cascade` would empty
                // keeps none.
                if let Some(k) = kept.filter(|_| rows > 0 && targets.contains(&fk.ref_table)) {
                    let id = (fk.ref_table.clone(), fk.ref_columns.clone());
                    if !cache.iter().any(|(c, _)| c == &id) {
                        let keys = k.keys(&fk.ref_table, &fk.ref_columns)?;
                        cache.push((id.clone(), keys));
                    }
                    if let Some((_, Some(keys))) = cache.iter().find(|(c, _)| c == &id) {
                        rows = unmatched(b, child, &fk.columns, keys).await?;
                    }
                }
                if rows == 0 {
                    continue;
                }
                found.push(Dependent {
                    table: child.name.clone(),
                    rows,
                    constraint: fk.name.clone(),
                    parent: fk.ref_table.clone(),
                    depth,
                });
                if !next.contains(&child.name) {
                    next.push(child.name.clone());
                }
            }
        }
        if next.is_empty() {
            break;
        }
        emptied.extend(next);
    }
    Ok(found)
}

/// Rows of `child` with every column of the key set.
async fn referencing<B: Backend>(
    b: &mut B,
    child: &Table,
    columns: &[String],
    parent: &TableName,
) -> Result<u64, Error> {
    let set: Vec<String> = columns.iter().map(|c| format!("{} IS NOT NULL", quote_ident(c))).collect();
    let sql = format!("SELECT count(*) FROM {} WHERE {}", child.name.quoted(), set.join(" AND "));
    let step =
        Step::new(format!("counting the rows of {} that reference {parent}", child.name)).table(child.name.to_string());
    Ok(u64::try_from(b.one_i64(sql, &step).await?.unwrap_or(0)).unwrap_or(0))
}

/// Rows of `child` whose key is set and is none of `kept`, read as the snapshot would
/// hold them (COPY text), one line at a time.
async fn unmatched<B: Backend>(
    b: &mut B,
    child: &Table,
    columns: &[String],
    kept: &HashSet<u64>,
) -> Result<u64, Error> {
    let mut sink = Unmatched { kept, lines: LineSplitter::default(), count: 0 };
    b.stream_table(child, columns, &mut sink).await?;
    Ok(sink.count)
}

/// The tables of `dependents`, each once, in the order to empty them: children before
/// the parents they reference.
pub fn emptying_order(schema: &Schema, dependents: &[Dependent]) -> Vec<TableName> {
    let mut names: Vec<&TableName> = Vec::new();
    for d in dependents {
        if !names.contains(&&d.table) {
            names.push(&d.table);
        }
    }
    let tables: Vec<&Table> = names.iter().filter_map(|n| schema.get(n)).collect();
    let order = load_order(&tables);
    order.order.iter().rev().map(|&i| tables[i].name.clone()).collect()
}

/// The pre-flight problem: `what` ("the restore", "the load") empties tables that rows
/// outside it reference; one line per foreign key, indented.
pub fn problem(what: &str, dependents: &[Dependent]) -> Vec<String> {
    let mut lines = vec![format!(
        "{what} empties tables that rows outside it reference (emptying them would break these foreign keys):"
    )];
    for d in dependents.iter().filter(|d| d.depth == 1) {
        lines.push(format!(
            "  {} has {} referencing {} ({}){}",
            d.table,
            plural(d.rows, "row", "rows"),
            d.parent,
            d.constraint,
            if what == "the restore" { " that the snapshot does not hold" } else { "" }
        ));
    }
    lines
}

/// With `--cascade`: targets whose own foreign keys point at a table it would empty
/// (a cycle such as staffs ↔ offices): their loaded rows would reference emptied rows,
/// so the load is refused, one line each, saying to load that table too instead.
pub fn cascade_conflicts(schema: &Schema, targets: &[TableName], emptied: &[TableName]) -> Vec<String> {
    conflicts(schema, targets, emptied)
        .map(|(t, fk, parent)| {
            format!(
                "--cascade would empty {parent}, which {t} references ({fk}): its rows would point at emptied rows; load {parent} too instead (--table)"
            )
        })
        .collect()
}

/// Why `--cascade` cannot help, if it cannot: `staffs references offices`.
pub fn cascade_obstacle(schema: &Schema, targets: &[TableName], dependents: &[Dependent]) -> Option<String> {
    let emptied: Vec<TableName> = dependents.iter().map(|d| d.table.clone()).collect();
    conflicts(schema, targets, &emptied).next().map(|(t, _, parent)| format!("{t} references {parent}"))
}

/// (target, foreign key, emptied table) for each key of a target into `emptied`.
fn conflicts<'s>(
    schema: &'s Schema,
    targets: &'s [TableName],
    emptied: &'s [TableName],
) -> impl Iterator<Item = (&'s TableName, &'s str, &'s TableName)> {
    targets.iter().filter_map(|n| schema.get(n)).flat_map(move |t| {
        t.foreign_keys
            .iter()
            .filter(move |fk| emptied.contains(&fk.ref_table))
            .map(move |fk| (&t.name, fk.name.as_str(), &fk.ref_table))
    })
}

/// The tables `--cascade` would empty, for a hint: `a, b (through a)`.
pub fn cascade_list(dependents: &[Dependent]) -> String {
    let mut out: Vec<String> = Vec::new();
    for d in dependents {
        let item = if d.depth == 1 { d.table.to_string() } else { format!("{} (through {})", d.table, d.parent) };
        if !out.iter().any(|o| o == &d.table.to_string() || o.starts_with(&format!("{} (", d.table))) {
            out.push(item);
        }
    }
    out.join(", ")
}
