//! The load plan: which tables, how many rows, and for every column the generator that
//! fills it. Keys, foreign-key picks and unique values are pure functions of the row
//! index (see `hash`), so uniqueness holds by construction and children recompute their
//! parents' keys instead of storing them.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::db::schema::{CheckRule, ForeignKey, PartitionBound, Schema, Table, TableName, TypeKind, load_order};
use crate::error::Error;
use crate::factory::config::{ColumnRule, Factories, Template};
use crate::factory::hash::{Perm, derive, hash_str};
use crate::factory::values::{Bounds, Faker, Value, faker_by_name, faker_name, guess_from_name, text_to_value};

/// What the user asked for, validated before connecting.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub default_count: Option<u64>,
    pub table_counts: Vec<(String, u64)>,
    pub factories: Option<Factories>,
    pub seed: u64,
    pub batch_size: u64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub batch_size: u64,
    /// In foreign-key load order (parents first).
    pub tables: Vec<TablePlan>,
    /// (table, group) foreign keys that close a cycle: their parent may load later.
    pub cycle_edges: Vec<(usize, usize)>,
}

#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: Table,
    pub count: u64,
    /// Rows already there: unique values start after them.
    pub offset: u64,
    pub key: u64,
    pub columns: Vec<ColumnPlan>,
    pub groups: Vec<FkGroup>,
    pub combo: Option<Combo>,
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: String,
    pub kind: TypeKind,
    pub source: Gen,
    pub bounds: Bounds,
    /// Share of NULLs for a nullable column without an explicit rule.
    pub null_ratio: f64,
    pub key: u64,
}

#[derive(Debug, Clone)]
pub enum Gen {
    /// serial / identity / rowid: a block reserved from the sequence at load time.
    Sequence {
        sequence: Option<String>,
        start: i64,
        step: i64,
    },
    UniqueInt {
        lo: i64,
        perm: Option<Perm>,
    },
    UniqueUuid,
    UniqueEmail,
    UniqueText {
        base: Option<Faker>,
    },
    UniqueTemplate(Template),
    UniqueDate,
    UniqueTimestamp {
        tz: bool,
    },
    UniqueNumeric {
        scale: u32,
    },
    UniqueBytes,
    Foreign {
        group: usize,
        component: usize,
    },
    Null,
    Const(Value),
    Pick(Vec<Value>),
    Template(Template),
    Faker(Faker),
    Typed,
    Partition(Vec<PartitionRange>),
}

#[derive(Debug, Clone)]
pub enum PartitionRange {
    Time { from: i64, to: i64, tz: bool },
    Date { from: i64, to: i64 },
    Int { from: i64, to: i64 },
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct FkGroup {
    pub fk: ForeignKey,
    pub parent: ParentRef,
    pub pick: Pick,
    pub null_ratio: f64,
    pub key: u64,
    /// Written NULL by COPY, then set by an UPDATE once the parent is loaded (cycles
    /// when constraints stay in place).
    pub deferred: bool,
}

#[derive(Debug, Clone)]
pub enum ParentRef {
    /// A table of this load: keys recomputed from the parent's generators.
    Planned { table: usize, columns: Vec<usize>, count: u64 },
    /// Rows already in the database (parent not seeded this time).
    Existing { keys: Vec<Vec<Value>> },
}

impl ParentRef {
    pub fn len(&self) -> u64 {
        match self {
            ParentRef::Planned { count, .. } => *count,
            ParentRef::Existing { keys } => keys.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub enum Pick {
    Uniform,
    PerParent(u64),
    Distinct(Perm),
    ComboDigit(usize),
}

/// Distinct combinations of several parents (composite keys made of foreign keys).
#[derive(Debug, Clone)]
pub struct Combo {
    pub radices: Vec<u64>,
    pub perm: Perm,
}

/// Key of a parent's referenced columns, for existing-row lookups.
pub type ParentKey = (TableName, Vec<String>);

/// What the database holds already, read by the backend before planning.
#[derive(Debug, Default)]
pub struct PlanInputs {
    /// Rows in each target table now (0 when it is about to be emptied).
    pub existing_rows: HashMap<TableName, u64>,
    /// Keys of parents that are not seeded this time.
    pub existing_keys: HashMap<ParentKey, Vec<Vec<Value>>>,
    /// Highest value of integer key columns of non-empty targets: new unique integers
    /// start above it, so gaps in existing ids cannot cause collisions.
    pub existing_max: HashMap<(TableName, String), i64>,
}

/// A table to load: its name, row count, and the parent it is counted per (if any).
pub type Target = (TableName, u64, Option<(TableName, u64)>);

/// Tables to load and their counts; resolves names and the factories file's counts.
pub fn targets(schema: &Schema, req: &BulkRequest) -> Result<Vec<Target>, Error> {
    let mut counts: HashMap<TableName, (u64, Option<(TableName, u64)>)> = HashMap::new();
    if let Some(n) = req.default_count {
        for t in &schema.tables {
            counts.insert(t.name.clone(), (n, None));
        }
    }
    if let Some(f) = &req.factories {
        for tc in &f.tables {
            let table = schema.find(&tc.name).ok_or_else(|| {
                f.error(tc.line, format!("unknown table '{}' (tables: {})", tc.name, schema.table_list()))
            })?;
            if let Some(c) = tc.count {
                counts.insert(table.name.clone(), (c, None));
            }
            if let Some((parent, k)) = &tc.per_parent {
                let p = schema.find(parent).ok_or_else(|| {
                    f.error(tc.line, format!("per_parent: unknown table '{parent}' (tables: {})", schema.table_list()))
                })?;
                if !table.foreign_keys.iter().any(|fk| fk.ref_table == p.name) {
                    return Err(
                        f.error(tc.line, format!("per_parent: {} has no foreign key to {}", table.name, p.name))
                    );
                }
                counts.insert(table.name.clone(), (0, Some((p.name.clone(), *k))));
            }
            // Column overrides alone do not select a table; a count does.
            for cc in &tc.columns {
                let Some(col) = table.column(&cc.name) else {
                    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                    return Err(f.error(
                        cc.line,
                        format!("unknown column '{}' in {} (columns: {})", cc.name, table.name, names.join(", ")),
                    ));
                };
                if col.generated {
                    return Err(f.error(
                        cc.line,
                        format!("{}.{} is a generated column; the database computes it", table.name, cc.name),
                    ));
                }
            }
        }
    }
    for (name, n) in &req.table_counts {
        let table = schema.find(name).ok_or_else(|| {
            Error::usage_hint(
                format!("--table {name}={n}: unknown table '{name}'"),
                format!("tables are: {}", schema.table_list()),
            )
        })?;
        counts.insert(table.name.clone(), (*n, None));
    }
    // per_parent counts depend on the parent's count.
    let mut out = Vec::new();
    for t in &schema.tables {
        let Some((n, per)) = counts.get(&t.name) else { continue };
        let n = match per {
            Some((parent, k)) => counts.get(parent).map_or(0, |(pn, _)| pn * k),
            None => *n,
        };
        if n > 0 {
            out.push((t.name.clone(), n, per.clone()));
        }
    }
    Ok(out)
}

struct Builder<'a> {
    schema: &'a Schema,
    req: &'a BulkRequest,
}

/// Builds the plan from the schema, the request and what the database holds already.
pub fn build(schema: &Schema, req: &BulkRequest, inputs: &PlanInputs) -> Result<Plan, Error> {
    let (existing_rows, existing_keys) = (&inputs.existing_rows, &inputs.existing_keys);
    let chosen = targets(schema, req)?;
    if chosen.is_empty() {
        return Err(Error::usage_hint(
            "nothing to load: no table has a row count",
            "pass --count N (rows per table), --table NAME=N, or counts in the factories file",
        ));
    }
    let tables: Vec<&Table> = chosen.iter().filter_map(|(n, _, _)| schema.get(n)).collect();
    let order = load_order(&tables);
    let b = Builder { schema, req };
    // Index of each table in the final (load-ordered) plan.
    let pos: HashMap<&TableName, usize> = order.order.iter().enumerate().map(|(p, &i)| (&tables[i].name, p)).collect();
    let mut plans = Vec::new();
    for &i in &order.order {
        let (name, count, _) = &chosen[i];
        let table = tables[i];
        plans.push(b.table_plan(table, *count, existing_rows.get(name).copied().unwrap_or(0))?);
    }
    // Foreign keys need their parents' plans: resolve after all tables exist.
    for p in 0..plans.len() {
        let groups = b.groups(&plans, p, &pos, existing_keys)?;
        plans[p].groups = groups;
    }
    for p in 0..plans.len() {
        b.unique_sets(&mut plans, p, &inputs.existing_max)?;
    }
    validate_parent_keys(&plans)?;
    let cycle_edges = order
        .broken
        .iter()
        .filter_map(|&(child, fk)| {
            let p = pos[&tables[child].name];
            let fk_def = &tables[child].foreign_keys[fk];
            plans[p]
                .groups
                .iter()
                .position(|g| g.fk.name == fk_def.name && g.fk.columns == fk_def.columns)
                .map(|g| (p, g))
        })
        .filter(|&(p, g)| !matches!(&plans[p].groups[g].parent, ParentRef::Planned { table, .. } if *table == p))
        .collect();
    Ok(Plan { seed: req.seed, batch_size: req.batch_size, tables: plans, cycle_edges })
}

impl Builder<'_> {
    fn rules_for(&self, table: &Table) -> Vec<(String, ColumnRule, usize)> {
        let Some(f) = &self.req.factories else { return vec![] };
        f.tables
            .iter()
            .filter(|tc| self.schema.find(&tc.name).is_some_and(|t| t.name == table.name))
            .flat_map(|tc| tc.columns.iter().map(|c| (c.name.clone(), c.rule.clone(), c.line)))
            .collect()
    }

    fn table_plan(&self, table: &Table, count: u64, offset: u64) -> Result<TablePlan, Error> {
        let key = derive(self.req.seed, hash_str(&format!("{}.{}", table.name.schema, table.name.name)));
        let rules = self.rules_for(table);
        let fk_cols: Vec<&str> = table.foreign_keys.iter().flat_map(|f| f.columns.iter().map(String::as_str)).collect();
        let mut columns = Vec::new();
        for col in table.writable_columns() {
            let mut bounds = Bounds::default();
            let mut one_of: Option<Vec<String>> = None;
            for rule in &col.checks {
                match rule {
                    CheckRule::Range { min, max } => {
                        bounds.min = max_opt(bounds.min, *min);
                        bounds.max = min_opt_f(bounds.max, *max);
                    }
                    CheckRule::In(values) => one_of = Some(values.clone()),
                    CheckRule::MaxLen(n) => bounds.max_len = Some(bounds.max_len.map_or(*n, |m| m.min(*n))),
                    CheckRule::MinLen(n) => bounds.min_len = Some(*n),
                }
            }
            if let TypeKind::Text { max_len: Some(n) } = &col.kind {
                bounds.max_len = Some(bounds.max_len.map_or(*n, |m| m.min(*n)));
            }
            let rule = rules.iter().find(|(n, _, _)| n == &col.name);
            let source = if let Some((_, rule, _)) = rule {
                match rule {
                    ColumnRule::Generator(g) => Gen::Faker(faker_by_name(g).unwrap_or(Faker::Words)),
                    ColumnRule::Value(None) => Gen::Null,
                    ColumnRule::Value(Some(v)) => Gen::Const(text_to_value(v.clone(), &col.kind)),
                    ColumnRule::OneOf(items) => Gen::Pick(
                        items.iter().map(|v| v.clone().map_or(Value::Null, |s| text_to_value(s, &col.kind))).collect(),
                    ),
                    ColumnRule::Template(t) => Gen::Template(t.clone()),
                }
            } else if fk_cols.contains(&col.name.as_str()) {
                // Filled in by `groups`.
                Gen::Null
            } else if let Some(auto) = &col.auto {
                Gen::Sequence { sequence: auto.sequence.clone(), start: 1, step: 1 }
            } else if table.partition_key.as_deref() == Some(col.name.as_str()) && !table.partitions.is_empty() {
                partition_gen(&table.partitions, &col.kind).unwrap_or(Gen::Typed)
            } else if let Some(values) = one_of {
                Gen::Pick(values.into_iter().map(|s| text_to_value(s, &col.kind)).collect())
            } else if let TypeKind::Enum { labels } = &col.kind {
                if labels.is_empty() {
                    Gen::Null
                } else {
                    Gen::Pick(labels.iter().map(|l| Value::Text(l.clone())).collect())
                }
            } else if let Some(f) = guess_from_name(&table.name.name, &col.name, &col.kind) {
                Gen::Faker(f)
            } else if let TypeKind::Other { name } = &col.kind {
                if col.nullable || col.default.is_some() {
                    Gen::Null
                } else {
                    return Err(Error::Generation {
                        table: table.name.to_string(),
                        reason: format!("column {} has type {name}, which seed cannot generate", col.name),
                        hint: Some(format!(
                            "give {}.{} a value, list or template in a factories file",
                            table.name, col.name
                        )),
                    });
                }
            } else {
                Gen::Typed
            };
            let null_ratio =
                if col.nullable && rule.is_none() && matches!(source, Gen::Faker(_) | Gen::Typed) { 0.05 } else { 0.0 };
            columns.push(ColumnPlan {
                name: col.name.clone(),
                kind: col.kind.clone(),
                source,
                bounds,
                null_ratio,
                key: derive(key, hash_str(&col.name)),
            });
        }
        // A column of unsupported type with a default: leave it out, the default fills it.
        columns.retain(|c| {
            !(matches!(c.kind, TypeKind::Other { .. })
                && matches!(c.source, Gen::Null)
                && table.column(&c.name).is_some_and(|col| col.default.is_some() && !col.nullable))
        });
        Ok(TablePlan { table: table.clone(), count, offset, key, columns, groups: vec![], combo: None })
    }

    fn groups(
        &self,
        plans: &[TablePlan],
        p: usize,
        pos: &HashMap<&TableName, usize>,
        existing_keys: &HashMap<ParentKey, Vec<Vec<Value>>>,
    ) -> Result<Vec<FkGroup>, Error> {
        let plan = &plans[p];
        let table = &plan.table;
        let rules = self.rules_for(table);
        let per_parent = self.req.factories.as_ref().and_then(|f| {
            f.tables
                .iter()
                .find(|tc| self.schema.find(&tc.name).is_some_and(|t| t.name == table.name))
                .and_then(|tc| tc.per_parent.clone())
        });
        let mut groups = Vec::new();
        for fk in &table.foreign_keys {
            // A column the user set explicitly is not driven by the foreign key.
            if fk.columns.iter().any(|c| rules.iter().any(|(n, _, _)| n == c)) {
                continue;
            }
            if !fk.columns.iter().all(|c| plan.columns.iter().any(|cp| &cp.name == c)) {
                continue;
            }
            let nullable = fk.columns.iter().all(|c| table.column(c).is_some_and(|col| col.nullable));
            let parent = match pos.get(&fk.ref_table) {
                Some(&pp) => {
                    let parent_plan = &plans[pp];
                    let columns = fk
                        .ref_columns
                        .iter()
                        .map(|rc| {
                            parent_plan.columns.iter().position(|c| &c.name == rc).ok_or_else(|| Error::Generation {
                                table: table.name.to_string(),
                                reason: format!(
                                    "foreign key {} references {}.{}, which seed does not write",
                                    fk.name, fk.ref_table, rc
                                ),
                                hint: None,
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    ParentRef::Planned { table: pp, columns, count: parent_plan.count }
                }
                None => {
                    let keys =
                        existing_keys.get(&(fk.ref_table.clone(), fk.ref_columns.clone())).cloned().unwrap_or_default();
                    ParentRef::Existing { keys }
                }
            };
            if parent.is_empty() && !nullable {
                return Err(Error::Generation {
                    table: table.name.to_string(),
                    reason: format!(
                        "{} {} must reference {}, which is empty and not seeded this time",
                        if fk.columns.len() == 1 { "column" } else { "columns" },
                        fk.columns.join(", "),
                        fk.ref_table
                    ),
                    hint: Some(format!("seed {} too (--count, or --table {}=N)", fk.ref_table, fk.ref_table)),
                });
            }
            let pick = match &per_parent {
                Some((parent_name, k)) if self.schema.find(parent_name).is_some_and(|t| t.name == fk.ref_table) => {
                    Pick::PerParent(*k)
                }
                _ => Pick::Uniform,
            };
            let null_ratio = if parent.is_empty() {
                1.0
            } else if nullable {
                0.1
            } else {
                0.0
            };
            let key = derive(plan.key, hash_str(&fk.name) ^ hash_str(&fk.columns.join(",")));
            groups.push(FkGroup { fk: fk.clone(), parent, pick, null_ratio, key, deferred: false });
        }
        Ok(groups)
    }

    /// Makes every primary key and unique constraint hold by construction.
    fn unique_sets(
        &self,
        plans: &mut [TablePlan],
        p: usize,
        existing_max: &HashMap<(TableName, String), i64>,
    ) -> Result<(), Error> {
        let mut sets: Vec<(String, Vec<String>)> = Vec::new();
        let table = plans[p].table.clone();
        if !table.primary_key.is_empty() {
            sets.push((format!("primary key of {}", table.name), table.primary_key.clone()));
        }
        for u in &table.uniques {
            sets.push((format!("unique constraint {}", u.name), u.columns.clone()));
        }
        // Wire foreign-key columns to their groups first.
        for (gi, g) in plans[p].groups.clone().iter().enumerate() {
            for (ci, c) in g.fk.columns.iter().enumerate() {
                if let Some(col) = plans[p].columns.iter_mut().find(|cp| &cp.name == c) {
                    col.source = Gen::Foreign { group: gi, component: ci };
                }
            }
        }
        let count = plans[p].count;
        let offset = plans[p].offset;
        for (what, cols) in sets {
            let plan = &plans[p];
            if cols
                .iter()
                .any(|c| plan.columns.iter().find(|cp| &cp.name == c).is_some_and(|cp| is_unique_gen(&cp.source)))
            {
                continue;
            }
            // Columns driven by foreign keys: distinct parents (or parent combinations).
            let groups_in: Vec<usize> = plan
                .groups
                .iter()
                .enumerate()
                .filter(|(_, g)| g.fk.columns.iter().all(|c| cols.contains(c)))
                .map(|(i, _)| i)
                .collect();
            let fk_covered: Vec<&String> =
                cols.iter().filter(|c| plan.groups.iter().any(|g| g.fk.columns.contains(c))).collect();
            let plain: Vec<String> = cols.iter().filter(|c| !fk_covered.contains(c)).cloned().collect();
            if plain.is_empty() && !groups_in.is_empty() {
                self.distinct_parents(plans, p, &groups_in, &what)?;
                continue;
            }
            // Otherwise make one plain column unique by construction.
            let Some(col_name) = plain.iter().find(|c| plan.columns.iter().any(|cp| &cp.name == *c)).cloned() else {
                continue;
            };
            let ci = plan.columns.iter().position(|cp| cp.name == col_name).unwrap_or(0);
            let above = existing_max.get(&(table.name.clone(), col_name.clone())).copied();
            let new_gen = unique_gen(&plans[p].columns[ci], &table, count + offset, above, &what)?;
            let cp = &mut plans[p].columns[ci];
            cp.source = new_gen;
            cp.null_ratio = 0.0;
        }
        Ok(())
    }

    fn distinct_parents(&self, plans: &mut [TablePlan], p: usize, groups: &[usize], what: &str) -> Result<(), Error> {
        let count = plans[p].count;
        let table = plans[p].table.name.to_string();
        for &g in groups {
            plans[p].groups[g].null_ratio = 0.0;
        }
        if let [g] = groups {
            let n = plans[p].groups[*g].parent.len();
            if let Pick::PerParent(1) = plans[p].groups[*g].pick {
                return Ok(());
            }
            if count > n {
                return Err(Error::Generation {
                    table,
                    reason: format!(
                        "{what} needs {count} distinct parents but {} has {n} rows",
                        plans[p].groups[*g].fk.ref_table
                    ),
                    hint: Some(format!(
                        "lower the count of {}, or raise that of {}",
                        plans[p].table.name, plans[p].groups[*g].fk.ref_table
                    )),
                });
            }
            let salt = plans[p].groups[*g].key;
            plans[p].groups[*g].pick = Pick::Distinct(Perm::new(n, salt));
            return Ok(());
        }
        // per_parent on one of them: that group keeps its pick (row i -> parent i / k),
        // and the others take distinct combinations within each parent's block of k
        // consecutive rows (the permutation is injective on any run of `space` rows).
        let per_parent = groups.iter().find_map(|&g| match plans[p].groups[g].pick {
            Pick::PerParent(k) => Some((g, k)),
            _ => None,
        });
        let others: Vec<usize> = groups.iter().copied().filter(|&g| per_parent.is_none_or(|(pg, _)| pg != g)).collect();
        let radices: Vec<u64> = others.iter().map(|&g| plans[p].groups[g].parent.len()).collect();
        let space = radices.iter().try_fold(1u64, |acc, &r| acc.checked_mul(r)).unwrap_or(u64::MAX);
        let needed = per_parent.map_or(count, |(_, k)| k);
        if needed > space {
            let parents: Vec<String> = others
                .iter()
                .map(|&g| format!("{} ({})", plans[p].groups[g].fk.ref_table, plans[p].groups[g].parent.len()))
                .collect();
            let per =
                per_parent.map(|(g, _)| format!(" per row of {}", plans[p].groups[g].fk.ref_table)).unwrap_or_default();
            return Err(Error::Generation {
                table,
                reason: format!(
                    "{what} needs {needed} distinct combinations{per} but {} allow only {space}",
                    parents.join(" × ")
                ),
                hint: Some("lower this table's count (or per_parent count) or raise its parents' counts".into()),
            });
        }
        plans[p].combo = Some(Combo { radices, perm: Perm::new(space, plans[p].key ^ 0xc0) });
        for (pos, &g) in others.iter().enumerate() {
            plans[p].groups[g].pick = Pick::ComboDigit(pos);
        }
        Ok(())
    }
}

fn is_unique_gen(g: &Gen) -> bool {
    matches!(
        g,
        Gen::Sequence { .. }
            | Gen::UniqueInt { .. }
            | Gen::UniqueUuid
            | Gen::UniqueEmail
            | Gen::UniqueText { .. }
            | Gen::UniqueTemplate(_)
            | Gen::UniqueDate
            | Gen::UniqueTimestamp { .. }
            | Gen::UniqueNumeric { .. }
            | Gen::UniqueBytes
    )
}

/// A generator is "pure" when its value depends only on the row index (parents'
/// keys must be recomputable by their children).
fn is_pure_gen(g: &Gen) -> bool {
    is_unique_gen(g) || matches!(g, Gen::Foreign { .. } | Gen::Const(_))
}

fn unique_gen(col: &ColumnPlan, table: &Table, total: u64, above: Option<i64>, what: &str) -> Result<Gen, Error> {
    let fail = |reason: String| Error::Generation {
        table: table.name.to_string(),
        reason,
        hint: Some(format!("give {}.{} a template containing {{i}} in a factories file", table.name, col.name)),
    };
    match &col.source {
        Gen::Template(t) if t.is_unique() => return Ok(Gen::UniqueTemplate(t.clone())),
        Gen::Template(_) | Gen::Pick(_) | Gen::Const(_) | Gen::Null => {
            return Err(fail(format!(
                "{what} needs distinct values in {}, but its factories rule repeats values",
                col.name
            )));
        }
        _ => {}
    }
    let base = match &col.source {
        Gen::Faker(f) => Some(*f),
        _ => None,
    };
    Ok(match &col.kind {
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => {
            let type_max: i64 = match col.kind {
                TypeKind::SmallInt => i64::from(i16::MAX),
                TypeKind::Int => i64::from(i32::MAX),
                _ => i64::MAX,
            };
            #[allow(clippy::cast_possible_truncation)]
            let lo = col.bounds.min.map_or(1, |m| m.ceil() as i64);
            #[allow(clippy::cast_possible_truncation)]
            let hi = col.bounds.max.map_or(type_max, |m| m.floor() as i64).min(type_max);
            let size = u64::try_from(hi.saturating_sub(lo).saturating_add(1)).unwrap_or(0);
            if total > size {
                return Err(fail(format!(
                    "{what}: {} allows {size} distinct values in [{lo}, {hi}] but {total} rows need one each",
                    col.name
                )));
            }
            let perm = (col.bounds.max.is_some()).then(|| Perm::new(size, col.key));
            // Without a range to permute in, count up from above the highest existing id.
            let lo = match above {
                Some(max) if perm.is_none() => lo.max(max.saturating_add(1)),
                _ => lo,
            };
            Gen::UniqueInt { lo, perm }
        }
        TypeKind::Uuid => Gen::UniqueUuid,
        TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. } => {
            let max_len = col.bounds.max_len.unwrap_or(u32::MAX);
            let suffix_len = u32::try_from(base36(total).len()).unwrap_or(u32::MAX) + 1;
            if max_len < suffix_len {
                return Err(fail(format!(
                    "{what}: {} holds at most {max_len} characters, too few for {total} distinct values",
                    col.name
                )));
            }
            if base == Some(Faker::Email) || col.name.to_ascii_lowercase().contains("email") {
                Gen::UniqueEmail
            } else {
                Gen::UniqueText { base }
            }
        }
        TypeKind::Date => Gen::UniqueDate,
        TypeKind::Timestamp => Gen::UniqueTimestamp { tz: false },
        TypeKind::TimestampTz => Gen::UniqueTimestamp { tz: true },
        TypeKind::Numeric { precision, scale } => {
            let scale = scale.unwrap_or(0);
            if let Some(p) = precision {
                let digits = p.saturating_sub(scale).min(18);
                if total >= 10u64.pow(digits) {
                    return Err(fail(format!(
                        "{what}: {} (numeric({p},{scale})) cannot hold {total} distinct whole numbers",
                        col.name
                    )));
                }
            }
            Gen::UniqueNumeric { scale }
        }
        TypeKind::Bytea => Gen::UniqueBytes,
        other => {
            return Err(fail(format!("{what}: seed cannot make distinct values of type {other:?} for {}", col.name)));
        }
    })
}

fn validate_parent_keys(plans: &[TablePlan]) -> Result<(), Error> {
    for plan in plans {
        for g in &plan.groups {
            if let ParentRef::Planned { table, columns, .. } = &g.parent {
                for &c in columns {
                    let col = &plans[*table].columns[c];
                    if !is_pure_gen(&col.source) {
                        return Err(Error::Generation {
                            table: plan.table.name.to_string(),
                            reason: format!(
                                "foreign key {} references {}.{}, whose values are not unique by construction",
                                g.fk.name, plans[*table].table.name, col.name
                            ),
                            hint: Some(format!(
                                "remove the factories rule of {}.{} or make it a template with {{i}}",
                                plans[*table].table.name, col.name
                            )),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn partition_gen(bounds: &[PartitionBound], kind: &TypeKind) -> Option<Gen> {
    let mut ranges = Vec::new();
    for b in bounds {
        match b {
            PartitionBound::Range { from, to } => ranges.push(match kind {
                TypeKind::Timestamp | TypeKind::TimestampTz => PartitionRange::Time {
                    from: parse_pg_timestamp(from)?,
                    to: parse_pg_timestamp(to)?,
                    tz: matches!(kind, TypeKind::TimestampTz),
                },
                TypeKind::Date => {
                    let day = |s: &str| {
                        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                            .ok()
                            .map(|d| d.signed_duration_since(chrono::NaiveDate::default()).num_days())
                    };
                    PartitionRange::Date { from: day(from)?, to: day(to)? }
                }
                TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => {
                    PartitionRange::Int { from: from.parse().ok()?, to: to.parse().ok()? }
                }
                _ => return None,
            }),
            PartitionBound::List(values) => ranges.push(PartitionRange::List(values.clone())),
            PartitionBound::Default => {}
        }
    }
    (!ranges.is_empty()).then_some(Gen::Partition(ranges))
}

/// "2022-04-01 01:00:00+01" -> unix seconds
fn parse_pg_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(s, fmt) {
            return Some(t.timestamp());
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[usize::try_from(n % 36).unwrap_or(0)]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn min_opt_f(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

impl Plan {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.count).sum()
    }

    /// The human-readable plan printed by `--dry-run`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "plan (seed {}, batch size {}): {} in {}, parents first",
            self.seed,
            self.batch_size,
            crate::output::plural(self.total_rows(), "row", "rows"),
            crate::output::plural(self.tables.len() as u64, "table", "tables")
        );
        for (i, t) in self.tables.iter().enumerate() {
            let _ = writeln!(
                out,
                "\n{}. {} — {}{}",
                i + 1,
                t.table.name,
                crate::output::plural(t.count, "row", "rows"),
                if t.offset > 0 { format!(" (after {} existing)", t.offset) } else { String::new() }
            );
            for c in &t.columns {
                let _ = writeln!(out, "     {:<24} {}", c.name, self.describe_gen(t, c));
            }
        }
        if !self.cycle_edges.is_empty() {
            let _ = writeln!(out, "\nforeign-key cycles broken at:");
            for &(t, g) in &self.cycle_edges {
                let group = &self.tables[t].groups[g];
                let _ = writeln!(
                    out,
                    "  {}.{} -> {}",
                    self.tables[t].table.name,
                    group.fk.columns.join(","),
                    group.fk.ref_table
                );
            }
        }
        out
    }

    fn describe_gen(&self, t: &TablePlan, c: &ColumnPlan) -> String {
        let nulls = if c.null_ratio > 0.0 { format!(" ({:.0}% NULL)", c.null_ratio * 100.0) } else { String::new() };
        let text = match &c.source {
            Gen::Sequence { sequence: Some(s), .. } => format!("from sequence {s}"),
            Gen::Sequence { sequence: None, .. } => "next rowid".into(),
            Gen::UniqueInt { lo, perm: None } => format!("unique integer from {lo}"),
            Gen::UniqueInt { lo, perm: Some(_) } => format!("unique integer in range, from {lo}"),
            Gen::UniqueUuid => "unique uuid".into(),
            Gen::UniqueEmail => "unique email".into(),
            Gen::UniqueText { base } => format!("unique {}", base.map_or("text", faker_name)),
            Gen::UniqueTemplate(tpl) => format!("template \"{}\" (unique)", tpl.source),
            Gen::UniqueDate => "unique date".into(),
            Gen::UniqueTimestamp { .. } => "unique timestamp".into(),
            Gen::UniqueNumeric { .. } => "unique number".into(),
            Gen::UniqueBytes => "unique bytes".into(),
            Gen::Foreign { group, component } => {
                let g = &t.groups[*group];
                let how = match &g.pick {
                    Pick::Uniform => "random parent".to_owned(),
                    Pick::PerParent(k) => format!("{k} per parent"),
                    Pick::Distinct(_) => "distinct parents".to_owned(),
                    Pick::ComboDigit(_) => "distinct parent combinations".to_owned(),
                };
                let existing = if matches!(g.parent, ParentRef::Existing { .. }) { ", existing rows" } else { "" };
                let null = if g.null_ratio > 0.0 && g.null_ratio < 1.0 {
                    format!(", {:.0}% NULL", g.null_ratio * 100.0)
                } else {
                    String::new()
                };
                format!(
                    "-> {}.{} ({how}{existing}{null})",
                    g.fk.ref_table,
                    g.fk.ref_columns.get(*component).map_or("?", String::as_str)
                )
            }
            Gen::Null => "NULL".into(),
            Gen::Const(v) => format!("constant {}", value_text(v)),
            Gen::Pick(vs) => format!("one of [{}]", vs.iter().map(value_text).collect::<Vec<_>>().join(", ")),
            Gen::Template(tpl) => format!("template \"{}\"", tpl.source),
            Gen::Faker(f) => format!("{} (fake)", faker_name(*f)),
            Gen::Typed => format!("random {}", t.table.column(&c.name).map_or("value", |col| col.type_name.as_str())),
            Gen::Partition(r) => format!("within the {} partitions' ranges", r.len()),
        };
        let bounds = match (c.bounds.min, c.bounds.max) {
            (Some(a), Some(b)) if !matches!(c.source, Gen::Foreign { .. }) => format!(" [{a}, {b}]"),
            _ => String::new(),
        };
        format!("{text}{bounds}{nulls}")
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(s) => format!("\"{s}\""),
        Value::Bytes(b) => format!("{} bytes", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn pg_timestamps_with_offsets() {
        assert_eq!(parse_pg_timestamp("2022-01-01 00:00:00+00"), Some(1_640_995_200));
        assert_eq!(parse_pg_timestamp("2022-04-01 01:00:00+01"), Some(1_648_771_200));
    }
}
