//! Restore pre-flight: everything that can be checked before writing, all problems
//! reported at once.

use std::collections::HashMap;

use crate::db::schema::{Schema, SchemaVersion, TableName};
use crate::output::plural;
use crate::snapshot::format::Header;

/// The target's state against a snapshot.
#[derive(Debug, Default)]
pub struct Preflight {
    /// Blocking problems (restore refuses; exit 5).
    pub problems: Vec<String>,
    /// Schema differences: blocking unless --allow-schema-mismatch and the columns fit.
    pub differences: Vec<String>,
    /// Differences that make the data unloadable even with --allow-schema-mismatch.
    pub unfit: Vec<String>,
    pub non_empty: Vec<(TableName, u64)>,
}

impl Preflight {
    pub fn check(
        header: &Header,
        target: &Schema,
        target_kind: &str,
        target_version: Option<&SchemaVersion>,
        row_counts: &HashMap<TableName, u64>,
    ) -> Self {
        let mut p = Self::default();
        if header.database.kind != target_kind {
            p.problems.push(format!(
                "the snapshot was taken from {} and the target is {target_kind}: restore works within one kind of database",
                header.database.kind
            ));
            return p;
        }
        for entry in &header.tables {
            let name = entry.table_name();
            let Some(table) = target.get(&name) else {
                p.differences.push(format!("table {name}: in the snapshot, missing from the database"));
                p.unfit.push(format!("table {name} is missing"));
                continue;
            };
            for c in &entry.columns {
                match table.column(&c.name) {
                    None => {
                        p.differences.push(format!(
                            "column {name}.{}: in the snapshot ({}), missing from the database",
                            c.name, c.type_name
                        ));
                        p.unfit.push(format!("column {name}.{} is missing", c.name));
                    }
                    Some(live) if live.generated => {
                        p.differences.push(format!("column {name}.{}: now a generated column", c.name));
                        p.unfit.push(format!("column {name}.{} is generated in the database", c.name));
                    }
                    Some(live) if live.type_name != c.type_name => {
                        p.differences.push(format!(
                            "column {name}.{}: {} in the snapshot, {} in the database",
                            c.name, c.type_name, live.type_name
                        ));
                    }
                    Some(live) if live.nullable != c.nullable => {
                        p.differences.push(format!(
                            "column {name}.{}: {} in the snapshot, {} in the database",
                            c.name,
                            if c.nullable { "nullable" } else { "not null" },
                            if live.nullable { "nullable" } else { "not null" }
                        ));
                    }
                    Some(_) => {}
                }
            }
            for live in table.writable_columns() {
                if !entry.columns.iter().any(|c| c.name == live.name) {
                    p.differences.push(format!(
                        "column {name}.{}: in the database ({}), not in the snapshot",
                        live.name, live.type_name
                    ));
                    if !live.nullable && live.default.is_none() && live.auto.is_none() {
                        p.unfit.push(format!(
                            "column {name}.{} is NOT NULL without a default and the snapshot has no values for it",
                            live.name
                        ));
                    }
                }
            }
            if let Some(&n) = row_counts.get(&name)
                && n > 0
            {
                p.non_empty.push((name.clone(), n));
            }
        }
        if p.differences.is_empty() && target.fingerprint() != header.schema_fingerprint {
            let snap_tables: Vec<TableName> = header.tables.iter().map(|t| t.table_name()).collect();
            let others: Vec<String> =
                target.tables.iter().filter(|t| !snap_tables.contains(&t.name)).map(|t| t.name.to_string()).collect();
            p.differences.push(format!(
                "schema fingerprint {} differs from the snapshot's {} (in tables the snapshot does not hold{})",
                short(&target.fingerprint()),
                short(&header.schema_fingerprint),
                if others.is_empty() { String::new() } else { format!(": {}", others.join(", ")) }
            ));
        }
        let snap_version = header.schema_version.as_ref().map(|v| v.version.as_str());
        let live_version = target_version.map(|v| v.version.as_str());
        if snap_version != live_version {
            p.differences.push(format!(
                "schema version {} in the snapshot, {} in the database",
                snap_version.unwrap_or("(none)"),
                live_version.unwrap_or("(none)")
            ));
        }
        p
    }

    /// Problems that stop the restore given the flags, each on its own line.
    pub fn blocking(&self, allow_mismatch: bool, clean: bool) -> Vec<String> {
        let mut out = self.problems.clone();
        if !self.differences.is_empty() {
            if !allow_mismatch {
                out.push("the schema differs from the snapshot's:".into());
                out.extend(self.differences.iter().map(|d| format!("  {d}")));
            } else if !self.unfit.is_empty() {
                out.push("the schema differs in ways --allow-schema-mismatch cannot bridge:".into());
                out.extend(self.unfit.iter().map(|d| format!("  {d}")));
            }
        }
        if !clean && !self.non_empty.is_empty() {
            out.push("target tables are not empty:".into());
            out.extend(self.non_empty.iter().map(|(t, n)| format!("  {t} has {}", plural(*n, "row", "rows"))));
        }
        out
    }
}

fn short(fp: &str) -> &str {
    &fp[..fp.len().min(12)]
}
