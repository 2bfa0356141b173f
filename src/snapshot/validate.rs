//! Everything about a header that can be checked without decompressing a table: its
//! internal consistency (`structure`, also run by the writer, so seed never writes a
//! file it would refuse) and where its tables lie in the file (`layout`). Reasons name
//! the table and field; strings from the file are shown escaped and cut.

use std::collections::HashSet;

use crate::db::schema::{CheckRule, TypeKind};
use crate::snapshot::format::{
    self, ColumnEntry, DATABASE_KINDS, DeltaParts, Header, MAX_COLUMNS_PER_TABLE, MAX_COLUMNS_TOTAL, MAX_LABELS,
    MAX_SETTINGS, MAX_STRING_LEN, MAX_TABLES, Masking, ROW_FORMAT_COPY_TEXT, Storage, TableEntry, is_lower_hex,
};
use crate::snapshot::{names, versions};
use crate::untrusted::{has_control, shown};

/// Longest piece of a file's string a message quotes.
const QUOTE: usize = 80;

fn q(s: &str) -> String {
    shown(s, QUOTE)
}

/// `schema.name` of a table, for messages.
fn label(t: &TableEntry) -> String {
    q(&t.table_name().to_string())
}

/// The header's internal consistency, for every format version.
pub fn structure(h: &Header) -> Result<(), String> {
    counts(h)?;
    strings(h)?;
    version_fields(h)?;
    if names::validate_name(&h.name).is_err() {
        return Err(format!("the header names an invalid snapshot '{}'", q(&h.name)));
    }
    if h.version == 0 || h.version > versions::MAX_VERSION {
        return Err(format!(
            "the header's version is {} (versions count from 1 to {})",
            h.version,
            versions::MAX_VERSION
        ));
    }
    if h.compression.algorithm != format::COMPRESSION_GZIP {
        return Err(format!("unsupported compression '{}'", q(&h.compression.algorithm)));
    }
    if !DATABASE_KINDS.contains(&h.database.kind.as_str()) {
        return Err(format!(
            "the header names an unknown database kind '{}' (seed knows {})",
            q(&h.database.kind),
            DATABASE_KINDS.join(", ")
        ));
    }
    if !is_lower_hex(&h.schema_fingerprint, 32) {
        return Err(format!("schema_fingerprint '{}' is not 32 lowercase hex digits", q(&h.schema_fingerprint)));
    }
    if let Some(base) = &h.base {
        if names::validate_name(&base.name).is_err()
            || !(1..=versions::MAX_VERSION).contains(&base.version)
            || !is_lower_hex(&base.content_checksum, 32)
        {
            return Err(format!(
                "the base snapshot '{}' version {} is not a valid reference (a name, a version from 1, a 32-digit content checksum)",
                q(&base.name),
                base.version
            ));
        }
        if base.name == h.name && base.version >= h.version {
            return Err(format!("version {} cannot build on version {} of itself", h.version, base.version));
        }
    }
    let mut seen = HashSet::new();
    for (i, t) in h.tables.iter().enumerate() {
        table(h, i, t)?;
        if !seen.insert((t.schema.as_str(), t.name.as_str())) {
            return Err(format!("table {} appears twice in the header", label(t)));
        }
    }
    if let Some(m) = &h.masking {
        masking(m)?;
    }
    if let Some(fp) = &h.tables_fingerprint {
        if !is_lower_hex(fp, 32) {
            return Err(format!("tables_fingerprint '{}' is not 32 lowercase hex digits", q(fp)));
        }
        if *fp != format::tables_fingerprint(&h.tables) {
            return Err("the tables_fingerprint does not match the tables and columns the header lists \
                        (names, types, nullability or column order were edited)"
                .into());
        }
    }
    Ok(())
}

/// Fields a format version must (or must not) have.
fn version_fields(h: &Header) -> Result<(), String> {
    if h.row_format != ROW_FORMAT_COPY_TEXT {
        return Err(format!(
            "row format '{}' was written by a newer seed; this seed reads {ROW_FORMAT_COPY_TEXT} — upgrade seed",
            q(&h.row_format)
        ));
    }
    if h.format_version >= 2 {
        if h.tables_fingerprint.is_none() {
            return Err("the header has no tables_fingerprint (format 2 headers carry one)".into());
        }
        if h.header_checksum.is_none() {
            return Err("the header has no header_checksum (format 2 headers carry one)".into());
        }
        return Ok(());
    }
    // Format 1 had none of these; a format-1 header holding one was edited (perhaps
    // to dodge the format-2 checks).
    let v2_field = if h.header_checksum.is_some() {
        Some("header_checksum")
    } else if h.tables_fingerprint.is_some() {
        Some("tables_fingerprint")
    } else if h.version != 1 {
        Some("version")
    } else if h.base.is_some() {
        Some("base")
    } else if h.subset.is_some() {
        Some("subset")
    } else if h.masking.is_some() {
        Some("masking")
    } else if h.tables.iter().any(|t| t.storage != Storage::Full || t.delta.is_some()) {
        Some("storage or delta")
    } else {
        None
    };
    match v2_field {
        Some(f) => Err(format!("a format 1 header cannot have {f} (a format 2 field): the header was edited")),
        None => Ok(()),
    }
}

/// The limits parsing enforces (`bounded`), for headers built in memory (the writer's).
fn counts(h: &Header) -> Result<(), String> {
    if h.tables.len() > MAX_TABLES {
        return Err(format!("{} tables, more than the {MAX_TABLES} a snapshot can hold", h.tables.len()));
    }
    if h.settings.len() > MAX_SETTINGS {
        return Err(format!("{} settings, more than {MAX_SETTINGS}", h.settings.len()));
    }
    if let Some(s) = &h.subset
        && (s.start.len() > format::MAX_SUBSET_ITEMS || s.references.len() > format::MAX_SUBSET_ITEMS)
    {
        return Err(format!("the subset lists more than {} entries", format::MAX_SUBSET_ITEMS));
    }
    let mut total = 0usize;
    for t in &h.tables {
        if t.columns.len() > MAX_COLUMNS_PER_TABLE {
            return Err(format!(
                "table {} has {} columns, more than {MAX_COLUMNS_PER_TABLE}",
                label(t),
                t.columns.len()
            ));
        }
        total += t.columns.len();
    }
    if total > MAX_COLUMNS_TOTAL {
        return Err(format!("{total} columns in all, more than the {MAX_COLUMNS_TOTAL} a snapshot can hold"));
    }
    Ok(())
}

/// Every string of the header is at most [`MAX_STRING_LEN`] bytes.
fn strings(h: &Header) -> Result<(), String> {
    let too_long = |what: &str, s: &str| -> Result<(), String> {
        if s.len() > MAX_STRING_LEN {
            return Err(format!("{what} is {} bytes long (at most {MAX_STRING_LEN})", s.len()));
        }
        Ok(())
    };
    for (what, s) in [
        ("format", h.format.as_str()),
        ("row_format", &h.row_format),
        ("name", &h.name),
        ("description", h.description.as_deref().unwrap_or("")),
        ("created_at", &h.created_at),
        ("tool_version", &h.tool_version),
        ("database.kind", &h.database.kind),
        ("database.server_version", &h.database.server_version),
        ("database.location", &h.database.location),
        ("schema_version.source", h.schema_version.as_ref().map_or("", |v| v.source.as_str())),
        ("schema_version.version", h.schema_version.as_ref().map_or("", |v| v.version.as_str())),
        ("schema_fingerprint", &h.schema_fingerprint),
        ("tables_fingerprint", h.tables_fingerprint.as_deref().unwrap_or("")),
        ("compression.algorithm", &h.compression.algorithm),
        ("base.name", h.base.as_ref().map_or("", |b| b.name.as_str())),
        ("base.content_checksum", h.base.as_ref().map_or("", |b| b.content_checksum.as_str())),
        ("header_checksum", h.header_checksum.as_deref().unwrap_or("")),
    ] {
        too_long(what, s)?;
    }
    for (k, v) in &h.settings {
        too_long("a setting's name", k)?;
        too_long("a setting's value", v)?;
    }
    if let Some(s) = &h.subset {
        for start in &s.start {
            too_long("a subset's starting point", start)?;
        }
        for r in &s.references {
            too_long("a subset's reference", &r.child)?;
            too_long("a subset's reference", &r.parent)?;
            too_long("a subset's reference condition", r.condition.as_deref().unwrap_or(""))?;
        }
    }
    for t in &h.tables {
        too_long("a table's schema", &t.schema)?;
        too_long("a table's name", &t.name)?;
        too_long("a table's checksum", &t.checksum)?;
        for c in &t.columns {
            too_long("a column's name", &c.name)?;
            too_long("a column's type", &c.type_name)?;
        }
        for k in t.primary_key.iter().chain(t.sequences.keys()).chain(t.unique_keys.iter().flatten()) {
            too_long("a key column's name", k)?;
        }
        for fk in &t.foreign_keys {
            too_long("a foreign key's table", &fk.ref_table)?;
            too_long("a foreign key's schema", &fk.ref_schema)?;
            for c in fk.columns.iter().chain(&fk.ref_columns) {
                too_long("a foreign key's column", c)?;
            }
        }
        for c in &t.columns {
            too_long("a column's mask", c.mask.as_deref().unwrap_or(""))?;
            for v in kind_strings(c.kind.as_deref()).into_iter().chain(check_strings(&c.checks)) {
                too_long("a column's type label or check value", v)?;
            }
        }
        if let Some(d) = &t.delta {
            too_long("a delta part's checksum", &d.upserts.checksum)?;
            too_long("a delta part's checksum", &d.deletes.checksum)?;
        }
    }
    Ok(())
}

fn table(h: &Header, i: usize, t: &TableEntry) -> Result<(), String> {
    if t.name.is_empty() {
        return Err(format!("table {} in the header has an empty name", i + 1));
    }
    if has_control(&t.name) || has_control(&t.schema) {
        return Err(format!("table {} in the header has a control character in its name: {}", i + 1, label(t)));
    }
    let name = label(t);
    if t.columns.is_empty() {
        return Err(format!("table {name} has no columns"));
    }
    let mut columns = HashSet::new();
    for (c, col) in t.columns.iter().enumerate() {
        if col.name.is_empty() {
            return Err(format!("table {name}: column {} has an empty name", c + 1));
        }
        if has_control(&col.name) || has_control(&col.type_name) {
            return Err(format!(
                "table {name}: column {} has a control character in its name or type: {}",
                c + 1,
                q(&col.name)
            ));
        }
        if col.type_name.is_empty() {
            return Err(format!("table {name}: column {} has no type", q(&col.name)));
        }
        if !columns.insert(col.name.as_str()) {
            return Err(format!("table {name}: column {} appears twice", q(&col.name)));
        }
    }
    let mut key = HashSet::new();
    for k in &t.primary_key {
        if !columns.contains(k.as_str()) {
            return Err(format!("table {name}: primary key column '{}' is not one of its columns", q(k)));
        }
        if !key.insert(k.as_str()) {
            return Err(format!("table {name}: primary key column '{}' appears twice", q(k)));
        }
    }
    keys(&name, t, &columns)?;
    for col in &t.columns {
        column_details(&name, col)?;
    }
    if let Some(c) = t.sequences.keys().find(|c| !columns.contains(c.as_str())) {
        return Err(format!("table {name}: a sequence is recorded for '{}', which is not one of its columns", q(c)));
    }
    if !is_lower_hex(&t.checksum, 16) {
        return Err(format!("table {name}: checksum '{}' is not 16 lowercase hex digits", q(&t.checksum)));
    }
    match t.storage {
        Storage::Full => {
            if t.delta.is_some() {
                return Err(format!("table {name}: storage is full, yet the header records delta parts"));
            }
            stored_figures(&name, t.rows, t.raw_bytes, t.length)?;
        }
        Storage::Base | Storage::Delta if h.base.is_none() => {
            return Err(format!(
                "table {name}: storage is {}, but the header names no base snapshot",
                t.storage.label()
            ));
        }
        Storage::Base => {
            if t.delta.is_some() || t.length != 0 || t.raw_bytes != 0 {
                return Err(format!("table {name}: storage is base, yet the header records data for it in this file"));
            }
        }
        Storage::Delta => {
            let Some(d) = &t.delta else {
                return Err(format!("table {name}: storage is delta, but the header records no delta parts"));
            };
            if t.primary_key.is_empty() {
                return Err(format!("table {name}: storage is delta, but the table has no primary key"));
            }
            delta(&name, t, d)?;
        }
    }
    Ok(())
}

/// A masked snapshot's masking record.
fn masking(m: &Masking) -> Result<(), String> {
    if !matches!(m.mode.as_str(), "auto" | "strict") {
        return Err(format!("the masking mode '{}' is not auto or strict", q(&m.mode)));
    }
    if !is_lower_hex(&m.rules_fingerprint, 32) {
        return Err(format!(
            "the masking rules fingerprint '{}' is not 32 lowercase hex digits",
            q(&m.rules_fingerprint)
        ));
    }
    if let Some(k) = &m.key_check
        && !is_lower_hex(k, 16)
    {
        return Err(format!("the masking key check '{}' is not 16 lowercase hex digits", q(k)));
    }
    Ok(())
}

/// Unique and foreign keys name the table's own columns, each once, and a foreign key
/// as many referenced columns as its own.
fn keys(name: &str, t: &TableEntry, columns: &HashSet<&str>) -> Result<(), String> {
    let own = |what: &str, cols: &[String]| -> Result<(), String> {
        if cols.is_empty() {
            return Err(format!("table {name}: a {what} has no columns"));
        }
        let mut seen = HashSet::new();
        for c in cols {
            if !columns.contains(c.as_str()) {
                return Err(format!("table {name}: {what} column '{}' is not one of its columns", q(c)));
            }
            if !seen.insert(c.as_str()) {
                return Err(format!("table {name}: {what} column '{}' appears twice", q(c)));
            }
        }
        Ok(())
    };
    for u in &t.unique_keys {
        own("unique key", u)?;
    }
    for fk in &t.foreign_keys {
        own("foreign key", &fk.columns)?;
        if fk.ref_columns.len() != fk.columns.len() || fk.ref_table.is_empty() {
            return Err(format!(
                "table {name}: a foreign key does not name as many referenced columns as its own, or no table"
            ));
        }
        if has_control(&fk.ref_table) || has_control(&fk.ref_schema) || fk.ref_columns.iter().any(|c| has_control(c)) {
            return Err(format!("table {name}: a foreign key names a table or column with a control character"));
        }
    }
    Ok(())
}

/// A column's kind and checks stay within the format's limits.
fn column_details(name: &str, col: &ColumnEntry) -> Result<(), String> {
    let labels = kind_strings(col.kind.as_deref()).len();
    let values: usize = col.checks.iter().map(|c| if let CheckRule::In(v) = c { v.len() } else { 0 }).sum();
    if labels > MAX_LABELS || values > MAX_LABELS {
        return Err(format!(
            "table {name}: column {} lists more than {MAX_LABELS} type labels or check values",
            q(&col.name)
        ));
    }
    if col.mask.as_deref().is_some_and(|m| m.is_empty() || has_control(m)) {
        return Err(format!("table {name}: column {} has an empty or unprintable mask", q(&col.name)));
    }
    Ok(())
}

/// The strings inside a column kind (enum labels, other types' names), nested kinds too.
fn kind_strings(kind: Option<&TypeKind>) -> Vec<&str> {
    let mut out = Vec::new();
    let mut next = kind;
    while let Some(k) = next {
        next = None;
        match k {
            TypeKind::Enum { labels } => out.extend(labels.iter().map(String::as_str)),
            TypeKind::Other { name } => out.push(name.as_str()),
            TypeKind::Array { element } | TypeKind::Range { element } => next = Some(element),
            _ => {}
        }
    }
    out
}

fn check_strings(checks: &[CheckRule]) -> impl Iterator<Item = &str> {
    checks.iter().flat_map(|c| match c {
        CheckRule::In(v) => v.iter().map(String::as_str).collect::<Vec<_>>(),
        _ => vec![],
    })
}

/// Rows, bytes and length of stored COPY text that can belong together.
fn stored_figures(name: &str, rows: u64, raw_bytes: u64, length: u64) -> Result<(), String> {
    if raw_bytes < rows {
        return Err(format!("table {name}: {rows} rows cannot fit in {raw_bytes} bytes"));
    }
    if length == 0 && raw_bytes > 0 {
        return Err(format!("table {name}: the header records {rows} rows ({raw_bytes} bytes) but no data"));
    }
    Ok(())
}

fn delta(name: &str, t: &TableEntry, d: &DeltaParts) -> Result<(), String> {
    for (part, p) in [("upserts", &d.upserts), ("deletes", &d.deletes)] {
        if !is_lower_hex(&p.checksum, 16) {
            return Err(format!("table {name} ({part}): checksum '{}' is not 16 lowercase hex digits", q(&p.checksum)));
        }
        stored_figures(&format!("{name} ({part})"), p.rows, p.raw_bytes, p.length)?;
    }
    let sum = |a: u64, b: u64| a.checked_add(b);
    if sum(d.upserts.length, d.deletes.length) != Some(t.length)
        || sum(d.upserts.raw_bytes, d.deletes.raw_bytes) != Some(t.raw_bytes)
    {
        return Err(format!("table {name}: its delta parts do not add up to the table's length and bytes"));
    }
    Ok(())
}

/// The tables tile the file from the end of the header member to the end of the file.
pub fn layout(h: &Header, header_end: u64, size: u64) -> Result<(), String> {
    let mut expected = header_end;
    for t in &h.tables {
        let name = label(t);
        if t.offset != expected {
            return Err(format!("table {name}: data should start at byte {expected}, the header says {}", t.offset));
        }
        expected = t
            .offset
            .checked_add(t.length)
            .ok_or_else(|| format!("table {name}: length {} is out of range", t.length))?;
    }
    if expected > size {
        return Err(format!("truncated: expected {expected} bytes, file has {size}"));
    }
    if expected < size {
        return Err(format!(
            "{} bytes of unexpected data after the last table (expected {expected} bytes, file has {size})",
            size - expected
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::format::tests::sample_header;

    #[test]
    fn strings_and_counts_are_bounded() {
        let mut h = sample_header("s", &["a"]);
        h.tables_fingerprint = Some(format::tables_fingerprint(&h.tables));
        h.header_checksum = Some("0".repeat(32));
        h.tables[0].checksum = "0".repeat(16);
        structure(&h).unwrap();
        let mut long = h.clone();
        long.description = Some("d".repeat(MAX_STRING_LEN + 1));
        assert!(structure(&long).unwrap_err().contains("description is 65537 bytes long"));
        let mut long = h.clone();
        long.settings.insert("k".repeat(MAX_STRING_LEN + 1), "v".into());
        assert!(structure(&long).unwrap_err().contains("a setting's name"));
        let mut wide = h.clone();
        let col = wide.tables[0].columns[1].clone();
        wide.tables[0]
            .columns
            .extend((0..MAX_COLUMNS_PER_TABLE).map(|i| format::ColumnEntry { name: format!("c{i}"), ..col.clone() }));
        assert!(structure(&wide).unwrap_err().contains("more than 4096"));
    }

    #[test]
    fn keys_kinds_and_masking_are_checked() {
        let mut h = sample_header("s", &["a"]);
        h.tables_fingerprint = Some(format::tables_fingerprint(&h.tables));
        h.header_checksum = Some("0".repeat(32));
        h.tables[0].checksum = "0".repeat(16);
        let fk = |cols: &[&str], refs: &[&str]| format::ForeignKeyEntry {
            columns: cols.iter().map(|c| (*c).to_owned()).collect(),
            ref_schema: "public".into(),
            ref_table: "b".into(),
            ref_columns: refs.iter().map(|c| (*c).to_owned()).collect(),
        };
        let mut ok = h.clone();
        ok.tables[0].unique_keys = vec![vec!["note".into()]];
        ok.tables[0].foreign_keys = vec![fk(&["id"], &["x"])];
        ok.masking = Some(Masking { mode: "auto".into(), rules_fingerprint: "a".repeat(32), key_check: None });
        structure(&ok).unwrap();
        let refuse = |edit: &dyn Fn(&mut Header), wanted: &str| {
            let mut bad = ok.clone();
            edit(&mut bad);
            let e = structure(&bad).unwrap_err();
            assert!(e.contains(wanted), "{e}");
        };
        refuse(&|h| h.tables[0].unique_keys = vec![vec!["nope".into()]], "unique key column 'nope'");
        refuse(&|h| h.tables[0].unique_keys = vec![vec![]], "has no columns");
        refuse(&|h| h.tables[0].foreign_keys = vec![fk(&["id"], &["x", "y"])], "as many referenced columns");
        refuse(&|h| h.tables[0].foreign_keys = vec![fk(&["id", "id"], &["x", "y"])], "appears twice");
        refuse(&|h| h.masking.as_mut().unwrap().mode = "lax".into(), "not auto or strict");
        refuse(&|h| h.masking.as_mut().unwrap().key_check = Some("KEY".into()), "16 lowercase hex");
        refuse(&|h| h.tables[0].columns[0].mask = Some(String::new()), "empty or unprintable mask");
        refuse(
            &|h| {
                h.tables[0].columns[0].kind = Some(Box::new(TypeKind::Array {
                    element: Box::new(TypeKind::Enum { labels: vec!["l".into(); MAX_LABELS + 1] }),
                }));
            },
            "more than 4096 type labels",
        );
        refuse(
            &|h| h.tables[0].columns[0].checks = vec![CheckRule::In(vec!["v".repeat(MAX_STRING_LEN + 1)])],
            "check value",
        );
    }
}
