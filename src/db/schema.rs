//! The live schema as `seed` sees it, for both backends: tables, columns and their types,
//! keys, foreign keys, simple checks; plus the fingerprint and foreign-key load order.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TableName {
    /// Empty for SQLite.
    pub schema: String,
    pub name: String,
}

impl TableName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> Self {
        Self { schema: schema.into(), name: name.into() }
    }

    /// `"schema"."name"` (or `"name"`), always quoted: names come from catalogs and
    /// from untrusted snapshot files alike.
    pub fn quoted(&self) -> String {
        if self.schema.is_empty() {
            quote_ident(&self.name)
        } else {
            format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
        }
    }
}

/// `staffs` for public/SQLite tables, `audit.events` otherwise.
impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema.is_empty() || self.schema == "public" {
            f.write_str(&self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// What a column holds, as far as generating and checking values is concerned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeKind {
    Bool,
    SmallInt,
    Int,
    BigInt,
    Real,
    Double,
    Numeric { precision: Option<u32>, scale: Option<u32> },
    Text { max_len: Option<u32> },
    Char { len: u32 },
    Uuid,
    Json,
    Jsonb,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Interval,
    Bytea,
    Inet,
    Cidr,
    MacAddr,
    TsVector,
    Money,
    Xml,
    Bit { len: Option<u32>, varying: bool },
    Point,
    Range { element: Box<TypeKind> },
    Enum { labels: Vec<String> },
    Array { element: Box<TypeKind> },
    Other { name: String },
}

/// A simple check the generator can honour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckRule {
    /// lower/upper bounds, inclusive; exclusive bounds are normalised for integers.
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    In(Vec<String>),
    MaxLen(u32),
    MinLen(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoKey {
    /// The sequence behind a serial/identity column (PostgreSQL), qualified and quoted.
    pub sequence: Option<String>,
    /// GENERATED ALWAYS AS IDENTITY
    pub always: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// As the database spells it: `character varying(254)`, `public.mpaa_rating`, `text[]`.
    pub type_name: String,
    pub kind: TypeKind,
    pub nullable: bool,
    pub default: Option<String>,
    /// serial / identity / SQLite rowid alias: the database assigns it.
    pub auto: Option<AutoKey>,
    /// GENERATED ALWAYS AS (expr): never written.
    pub generated: bool,
    pub checks: Vec<CheckRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unique {
    pub name: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: String,
    pub columns: Vec<String>,
    pub ref_table: TableName,
    pub ref_columns: Vec<String>,
    pub deferrable: bool,
    /// A temporal foreign key (`PERIOD`, PostgreSQL 18): its last column's range must lie
    /// within the referenced rows' ranges.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub period: bool,
}

/// A statement kind, as triggers fire on it and write with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dml {
    Insert,
    Update,
    Delete,
}

impl Dml {
    pub fn keyword(self) -> &'static str {
        match self {
            Dml::Insert => "INSERT",
            Dml::Update => "UPDATE",
            Dml::Delete => "DELETE",
        }
    }
}

/// One write a trigger of a table makes to another table, read from the trigger's
/// body (`db::triggers`: a heuristic over the SQL text, see there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerWrite {
    pub trigger: String,
    /// What fires it (an INSERT, UPDATE or DELETE on the trigger's table).
    pub on: Dml,
    /// BEFORE (true) or AFTER/INSTEAD OF.
    pub before: bool,
    /// What it does to `table`.
    pub writes: Dml,
    pub table: TableName,
}

/// A uniqueness or exclusion rule that is not a plain set of columns: a unique index on
/// expressions (`lower(email)`) or with a `WHERE` clause (partial), or an exclusion
/// constraint (`EXCLUDE USING gist (room WITH =, during WITH &&)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRule {
    pub name: String,
    /// The indexed expressions, each a column name or an expression over columns.
    pub elements: Vec<KeyElement>,
    /// The `WHERE` of a partial index: only rows where it holds must be distinct.
    pub predicate: Option<String>,
    /// An exclusion constraint: rows conflict when every element's operator holds.
    pub exclusion: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyElement {
    pub expr: String,
    /// The operator of an exclusion constraint's element (`=`, `&&`).
    pub op: Option<String>,
}

/// A partition's accepted values for the partition key (single-column keys only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PartitionBound {
    Range { from: String, to: String },
    List(Vec<String>),
    Default,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub name: TableName,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub uniques: Vec<Unique>,
    pub foreign_keys: Vec<ForeignKey>,
    pub partitioned: bool,
    pub partition_key: Option<String>,
    pub partitions: Vec<PartitionBound>,
    /// Check constraints as the database prints them (for plans and hints).
    pub checks: Vec<(String, String)>,
    /// Rows, for sizing and progress only: an estimate on some kinds (the planner's on
    /// PostgreSQL). Decisions count rows (`Backend::count_rows`).
    pub row_estimate: u64,
    /// Bytes on disk (heap + toast), for free-space estimates.
    pub estimated_bytes: u64,
    /// Other tables this table's triggers write.
    #[serde(default)]
    pub trigger_writes: Vec<TriggerWrite>,
    /// Expression and partial unique indexes, exclusion constraints.
    #[serde(default)]
    pub key_rules: Vec<KeyRule>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Columns a load writes: everything but generated columns.
    pub fn writable_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.generated)
    }

    /// The triggers of this table that insert rows into `other` when a row is inserted here.
    pub fn fills(&self, other: &TableName) -> impl Iterator<Item = &TriggerWrite> {
        self.trigger_writes.iter().filter(move |w| w.on == Dml::Insert && w.writes == Dml::Insert && &w.table == other)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Schema {
    /// The application's tables: what is seeded and snapshotted.
    pub tables: Vec<Table>,
    /// Migration tools' bookkeeping tables (`migrations::set_aside`): the schema
    /// version comes from them; never seeded, never snapshotted.
    #[serde(default)]
    pub migration_tables: Vec<Table>,
    /// Schemas an unqualified name is looked up in (PostgreSQL's search path).
    #[serde(default)]
    pub search_path: Vec<String>,
    /// Table names compare without regard to case (SQLite).
    #[serde(default)]
    pub names_ignore_case: bool,
}

impl Schema {
    /// Finds a table by `name` or `schema.name`, case-sensitively first, then ignoring case.
    pub fn find(&self, wanted: &str) -> Option<&Table> {
        let matches = |t: &Table, exact: bool| {
            let full = format!("{}.{}", t.name.schema, t.name.name);
            let eq = |a: &str, b: &str| if exact { a == b } else { a.eq_ignore_ascii_case(b) };
            eq(&t.name.name, wanted) && (t.name.schema.is_empty() || t.name.schema == "public")
                || eq(&full, wanted)
                || eq(&t.name.to_string(), wanted)
        };
        self.tables.iter().find(|t| matches(t, true)).or_else(|| {
            let mut found = self.tables.iter().filter(|t| matches(t, false));
            let first = found.next();
            if found.next().is_some() { None } else { first }
        })
    }

    pub fn get(&self, name: &TableName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }

    /// Names for "did you mean" messages.
    pub fn table_list(&self) -> String {
        let names: Vec<String> = self.tables.iter().map(|t| t.name.to_string()).collect();
        if names.is_empty() { "(no tables)".into() } else { names.join(", ") }
    }

    /// A stable hash of tables, columns and types (order of tables does not matter,
    /// order of columns does: COPY depends on it).
    pub fn fingerprint(&self) -> String {
        fingerprint_of(self.signatures())
    }

    /// The fingerprint as format-1 snapshots recorded it (see `fingerprint_of_v1`).
    pub fn fingerprint_v1(&self) -> String {
        fingerprint_of_v1(self.signatures())
    }

    fn signatures(&self) -> impl Iterator<Item = (TableName, Vec<ColumnSig>)> + '_ {
        self.tables.iter().map(|t| {
            (t.name.clone(), t.columns.iter().map(|c| (c.name.clone(), c.type_name.clone(), c.nullable)).collect())
        })
    }
}

pub type ColumnSig = (String, String, bool);

/// One line of the fingerprint's text. Every name is length-prefixed, so no choice of
/// names can make two schemas print the same text (column `a b` of type `text` and
/// column `a` of type `b text` differ).
pub fn fingerprint_table_line(schema: &str, name: &str) -> String {
    format!("table {}:{schema}.{}:{name}\n", schema.len(), name.len())
}

pub fn fingerprint_column_line(name: &str, type_name: &str, nullable: bool) -> String {
    format!("  {}:{name} {}:{type_name}{}\n", name.len(), type_name.len(), if nullable { "" } else { " not null" })
}

/// Fingerprint of `(table, [(column, type, nullable)])`: XXH3-128 of the lines above,
/// tables sorted by schema and name. Also used on snapshot headers.
pub fn fingerprint_of(tables: impl Iterator<Item = (TableName, Vec<ColumnSig>)>) -> String {
    let sorted: BTreeMap<TableName, Vec<ColumnSig>> = tables.collect();
    let mut text = String::new();
    for (name, cols) in &sorted {
        text.push_str(&fingerprint_table_line(&name.schema, &name.name));
        for (col, ty, nullable) in cols {
            text.push_str(&fingerprint_column_line(col, ty, *nullable));
        }
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// The fingerprint of format-1 snapshots, which printed names without their lengths
/// (ambiguous for names with spaces or dots); kept to compare with those files.
pub fn fingerprint_of_v1(tables: impl Iterator<Item = (TableName, Vec<ColumnSig>)>) -> String {
    let sorted: BTreeMap<TableName, Vec<ColumnSig>> = tables.collect();
    let mut text = String::new();
    for (name, cols) in &sorted {
        text.push_str(&format!("table {}.{}\n", name.schema, name.name));
        for (col, ty, nullable) in cols {
            text.push_str(&format!("  {col} {ty}{}\n", if *nullable { "" } else { " not null" }));
        }
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes()))
}

/// The schema version recorded by a migration tool, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaVersion {
    /// The migration table it came from.
    pub source: String,
    pub version: String,
}

/// Tables in foreign-key order (parents first) and the edges that had to be broken
/// to get there (cycles and self references).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOrder {
    pub order: Vec<usize>,
    /// (child table index, foreign key index) edges whose parent may come later.
    pub broken: Vec<(usize, usize)>,
}

/// Marks an ordering edge that is not a foreign key: a table written by another's
/// triggers comes after it (so a restore can replace what the triggers wrote).
const TRIGGER_EDGE: usize = usize::MAX;

/// Orders `tables` parents-first, considering only foreign keys between them, and puts
/// tables that triggers of other tables write after those tables where foreign keys
/// allow. In a cycle a trigger edge gives way first, then a nullable foreign key, then
/// a deferrable one.
pub fn load_order(tables: &[&Table]) -> LoadOrder {
    let index: HashMap<&TableName, usize> = tables.iter().enumerate().map(|(i, t)| (&t.name, i)).collect();
    // edges[child] = (fk index, parent)
    let mut pending: Vec<Vec<(usize, usize)>> = tables
        .iter()
        .map(|t| {
            t.foreign_keys
                .iter()
                .enumerate()
                .filter_map(|(fi, fk)| index.get(&fk.ref_table).map(|&p| (fi, p)))
                .collect()
        })
        .collect();
    for (writer, t) in tables.iter().enumerate() {
        for w in &t.trigger_writes {
            if let Some(&written) = index.get(&w.table)
                && written != writer
                && !pending[written].contains(&(TRIGGER_EDGE, writer))
            {
                pending[written].push((TRIGGER_EDGE, writer));
            }
        }
    }
    let mut broken = Vec::new();
    for (child, edges) in pending.iter_mut().enumerate() {
        edges.retain(|&(fi, parent)| {
            let self_ref = parent == child;
            if self_ref {
                broken.push((child, fi));
            }
            !self_ref
        });
    }
    let mut placed = vec![false; tables.len()];
    let mut order = Vec::with_capacity(tables.len());
    while order.len() < tables.len() {
        // Stable: among ready tables keep the input order.
        let ready: Vec<usize> =
            (0..tables.len()).filter(|&i| !placed[i] && pending[i].iter().all(|&(_, p)| placed[p])).collect();
        if !ready.is_empty() {
            for i in ready {
                placed[i] = true;
                order.push(i);
            }
            continue;
        }
        // A cycle: break the best remaining edge among unplaced tables.
        let nullable = |child: usize, fi: usize| {
            let t = tables[child];
            t.foreign_keys[fi].columns.iter().all(|c| t.column(c).is_some_and(|col| col.nullable))
        };
        let candidates: Vec<(usize, usize, usize)> = (0..tables.len())
            .filter(|&i| !placed[i])
            .flat_map(|i| pending[i].iter().filter(|&&(_, p)| !placed[p]).map(move |&(fi, p)| (i, fi, p)))
            .collect();
        let pick = candidates
            .iter()
            .find(|&&(_, fi, _)| fi == TRIGGER_EDGE)
            .or_else(|| candidates.iter().find(|&&(c, fi, _)| fi != TRIGGER_EDGE && nullable(c, fi)))
            .or_else(|| {
                candidates.iter().find(|&&(c, fi, _)| fi != TRIGGER_EDGE && tables[c].foreign_keys[fi].deferrable)
            })
            .or(candidates.first())
            .copied();
        let Some((child, fi, parent)) = pick else { break };
        pending[child].retain(|&(f, p)| !(f == fi && p == parent));
        if fi != TRIGGER_EDGE {
            broken.push((child, fi));
        }
    }
    LoadOrder { order, broken }
}

/// Tables for unit tests elsewhere.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Column, Table, TableName, TypeKind};

    /// A column with no default, not generated, no checks.
    pub fn column(name: &str, type_name: &str, kind: TypeKind, nullable: bool) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
            kind,
            nullable,
            default: None,
            auto: None,
            generated: false,
            checks: vec![],
        }
    }

    /// A table of `columns` and primary key `pk`, nothing else.
    pub fn table(schema: &str, name: &str, columns: Vec<Column>, pk: &[&str]) -> Table {
        Table {
            name: TableName::new(schema, name),
            columns,
            primary_key: pk.iter().map(|c| (*c).to_owned()).collect(),
            uniques: vec![],
            foreign_keys: vec![],
            partitioned: false,
            partition_key: None,
            partitions: vec![],
            checks: vec![],
            row_estimate: 0,
            estimated_bytes: 0,
            trigger_writes: vec![],
            key_rules: vec![],
        }
    }

    /// A table of integer columns `(name, nullable)`, primary key `id`, nothing else.
    pub fn int_table(schema: &str, name: &str, cols: &[(&str, bool)]) -> Table {
        let columns = cols.iter().map(|(c, nullable)| column(c, "integer", TypeKind::Int, *nullable)).collect();
        table(schema, name, columns, &["id"])
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::column;
    use super::*;

    fn table(name: &str, cols: &[(&str, bool)], fks: &[(&str, &str)]) -> Table {
        let columns = cols.iter().map(|(c, nullable)| column(c, "uuid", TypeKind::Uuid, *nullable)).collect();
        let mut t = test_support::table("public", name, columns, &["id"]);
        t.foreign_keys = fks
            .iter()
            .map(|(col, parent)| ForeignKey {
                name: format!("{name}_{col}_fkey"),
                columns: vec![(*col).into()],
                ref_table: TableName::new("public", *parent),
                ref_columns: vec!["id".into()],
                deferrable: false,
                period: false,
            })
            .collect();
        t
    }

    #[test]
    fn tables_written_by_triggers_come_after_the_writers() {
        let mut film = table("film", &[("id", false)], &[]);
        let film_text = table("film_text", &[("id", false)], &[]);
        film.trigger_writes.push(TriggerWrite {
            trigger: "ins_film".into(),
            on: Dml::Insert,
            before: false,
            writes: Dml::Insert,
            table: film_text.name.clone(),
        });
        let lo = load_order(&[&film_text, &film]);
        assert_eq!(lo.order, vec![1, 0]);
        assert!(lo.broken.is_empty());
        assert_eq!(film.fills(&film_text.name).count(), 1);
        // A foreign key wins over a trigger edge: the cycle gives way at the trigger.
        let child = table("child", &[("id", false), ("film_id", false)], &[("film_id", "film")]);
        let mut film2 = film.clone();
        film2.trigger_writes[0].table = child.name.clone();
        let mut child2 = child.clone();
        child2.trigger_writes.push(TriggerWrite { table: film2.name.clone(), ..film2.trigger_writes[0].clone() });
        let lo = load_order(&[&child2, &film2]);
        assert_eq!(lo.order, vec![1, 0]);
        assert!(lo.broken.is_empty());
    }

    #[test]
    fn parents_first_and_cycle_broken_at_nullable_edge() {
        // demo schema: offices.created_by -> staffs (not null), staffs.home_office_id -> offices (nullable)
        let offices = table("offices", &[("id", false), ("created_by", false)], &[("created_by", "staffs")]);
        let staffs = table("staffs", &[("id", false), ("home_office_id", true)], &[("home_office_id", "offices")]);
        let links = table(
            "office_staffs",
            &[("office_id", false), ("staff_id", false)],
            &[("office_id", "offices"), ("staff_id", "staffs")],
        );
        let tables = vec![&links, &offices, &staffs];
        let lo = load_order(&tables);
        let names: Vec<&str> = lo.order.iter().map(|&i| tables[i].name.name.as_str()).collect();
        assert_eq!(names, ["staffs", "offices", "office_staffs"]);
        assert_eq!(lo.broken, vec![(2, 0)]);
    }

    #[test]
    fn self_reference_is_broken() {
        let emp = table("employees", &[("id", false), ("reports_to", true)], &[("reports_to", "employees")]);
        let lo = load_order(&[&emp]);
        assert_eq!(lo.order, vec![0]);
        assert_eq!(lo.broken, vec![(0, 0)]);
    }

    #[test]
    fn fingerprint_ignores_table_order() {
        let a = table("a", &[("id", false)], &[]);
        let b = table("b", &[("id", false)], &[]);
        let s1 = Schema { tables: vec![a.clone(), b.clone()], ..Schema::default() };
        let s2 = Schema { tables: vec![b, a.clone()], ..Schema::default() };
        assert_eq!(s1.fingerprint(), s2.fingerprint());
        let mut a2 = a;
        a2.columns[0].type_name = "text".into();
        let s3 = Schema { tables: vec![a2], ..Schema::default() };
        assert_ne!(s1.fingerprint(), s3.fingerprint());
    }

    #[test]
    fn fingerprint_text_is_unambiguous() {
        // Column "a b" of type text vs column "a" of type "b text": the same in format 1.
        let sig = |col: &str, ty: &str| vec![(TableName::new("s", "t"), vec![(col.to_owned(), ty.to_owned(), true)])];
        assert_eq!(
            fingerprint_of_v1(sig("a b", "text").into_iter()),
            fingerprint_of_v1(sig("a", "b text").into_iter())
        );
        assert_ne!(fingerprint_of(sig("a b", "text").into_iter()), fingerprint_of(sig("a", "b text").into_iter()));
        let tbl = |s: &str, n: &str| vec![(TableName::new(s, n), vec![])];
        assert_ne!(fingerprint_of(tbl("a.b", "c").into_iter()), fingerprint_of(tbl("a", "b.c").into_iter()));
    }

    #[test]
    fn quoting() {
        assert_eq!(TableName::new("public", "we\"ird").quoted(), "\"public\".\"we\"\"ird\"");
        assert_eq!(quote_literal("o'k"), "'o''k'");
    }
}
