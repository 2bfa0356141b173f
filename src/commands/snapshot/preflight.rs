//! Restore pre-flight: everything that can be checked before writing, all problems
//! reported at once. Names, types and versions from the snapshot are shown escaped
//! (`text::shown`): they come from a file.

use std::collections::HashMap;

use crate::db::schema::{Schema, SchemaVersion, TableName};
use crate::output::plural;
use crate::snapshot::format::Header;
use crate::untrusted::{for_terminal, shown, truncate_chars};

/// Longest name quoted from the snapshot in a message.
const NAME: usize = 120;

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
                shown(&header.database.kind, NAME)
            ));
            return p;
        }
        for entry in &header.tables {
            let key = entry.table_name();
            let name = shown(&key.to_string(), NAME);
            let Some(table) = target.get(&key) else {
                p.differences.push(format!("table {name}: in the snapshot, missing from the database"));
                p.unfit.push(format!("table {name} is missing"));
                continue;
            };
            for c in &entry.columns {
                let (col, ty) = (shown(&c.name, NAME), shown(&c.type_name, NAME));
                match table.column(&c.name) {
                    None => {
                        p.differences
                            .push(format!("column {name}.{col}: in the snapshot ({ty}), missing from the database"));
                        p.unfit.push(format!("column {name}.{col} is missing"));
                    }
                    Some(live) if live.generated => {
                        p.differences.push(format!("column {name}.{col}: now a generated column"));
                        p.unfit.push(format!("column {name}.{col} is generated in the database"));
                    }
                    Some(live) if live.type_name != c.type_name => {
                        p.differences.push(format!(
                            "column {name}.{col}: {ty} in the snapshot, {} in the database",
                            live.type_name
                        ));
                    }
                    Some(live) if live.nullable != c.nullable => {
                        p.differences.push(format!(
                            "column {name}.{col}: {} in the snapshot, {} in the database",
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
            if let Some(&n) = row_counts.get(&key)
                && n > 0
            {
                p.non_empty.push((key.clone(), n));
            }
        }
        // Format-1 files recorded the older (ambiguous) fingerprint.
        let live = if header.format_version >= 2 { target.fingerprint() } else { target.fingerprint_v1() };
        if p.differences.is_empty() && live != header.schema_fingerprint {
            let snap_tables: Vec<TableName> = header.tables.iter().map(|t| t.table_name()).collect();
            let others: Vec<String> =
                target.tables.iter().filter(|t| !snap_tables.contains(&t.name)).map(|t| t.name.to_string()).collect();
            p.differences.push(format!(
                "schema fingerprint {} differs from the snapshot's {} (in tables the snapshot does not hold{})",
                short(&live),
                short(&header.schema_fingerprint),
                if others.is_empty() { String::new() } else { format!(": {}", others.join(", ")) }
            ));
        }
        let snap_version = header.schema_version.as_ref().map(|v| v.version.as_str());
        let live_version = target_version.map(|v| v.version.as_str());
        if snap_version != live_version {
            p.differences.push(format!(
                "schema version {} in the snapshot, {} in the database",
                snap_version.map_or_else(|| "(none)".to_owned(), |v| shown(v, NAME)),
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

/// The first 12 characters of a fingerprint (one from a file may hold anything).
fn short(fp: &str) -> String {
    for_terminal(truncate_chars(fp, 12)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_cuts_by_characters() {
        assert_eq!(short("dd6587a3c32fbd29ecf759fe2744b200"), "dd6587a3c32f");
        assert_eq!(short(&format!("x{}", "\u{20ac}".repeat(20))), format!("x{}", "\u{20ac}".repeat(11)));
        assert_eq!(short("\u{1b}[2J"), "\\u{1b}[2J");
    }
}
