//! The load plan: which tables, how many rows, and for every column the generator that
//! fills it. Keys, foreign-key picks and unique values are pure functions of the row
//! index (see `hash`), so uniqueness holds by construction and children recompute their
//! parents' keys instead of storing them.

mod model;
mod unique;

use std::collections::HashMap;
use std::fmt::Write as _;

pub use self::model::{
    Case, ColumnPlan, Combo, FkGroup, Gen, Origin, ParentKey, ParentRef, PartitionRange, Pick, Plan, PlanInputs, Pool,
    SlotPart, SlotUnit, TablePlan, TriggerFilled,
};
use self::unique::{Slot, unique_gen};

use crate::db::backend::{CycleEdge, GeneratedKey};
use crate::db::checks::{referenced_columns, split_top_level};
use crate::db::schema::{CheckRule, Column, KeyRule, PartitionBound, Schema, Table, TableName, TypeKind, load_order};
use crate::db::value::Value;
use crate::error::Error;
use crate::factory::codes::describe_space;
use crate::factory::factories_file::{ColumnConfig, ColumnRule, Factories, MAX_COUNT};
use crate::factory::hash::{Perm, derive, hash_str};
use crate::factory::values::{
    Faker, GENERATOR_NAMES, check_bounds, faker_by_name, faker_name, faker_suits, guess_from_name, max_opt, min_opt_f,
    text_to_value,
};

/// What the user asked for, validated before connecting.
#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub default_count: Option<u64>,
    pub table_counts: Vec<(String, u64)>,
    pub factories: Option<Factories>,
    /// A profile learned from real data (`--like`): rules for columns the factories
    /// file leaves alone.
    pub like: Option<Factories>,
    pub seed: u64,
    pub batch_size: u64,
}

/// Targets that INSERT triggers of other (non-empty) targets fill: generating rows for
/// them as well would collide with the triggers' rows.
fn trigger_filled(schema: &Schema, chosen: &[Target]) -> Vec<TriggerFilled> {
    let mut out = Vec::new();
    for (name, _, _) in chosen {
        let source = chosen.iter().filter(|(n, _, _)| n != name).filter_map(|(n, _, _)| schema.get(n)).find_map(|t| {
            t.fills(name).next().map(|w| TriggerFilled {
                table: name.clone(),
                trigger: w.trigger.clone(),
                source: t.name.clone(),
            })
        });
        out.extend(source);
    }
    out
}

/// A table to load: its name, row count, and the parent it is counted per (if any).
pub type Target = (TableName, u64, Option<(TableName, u64)>);

/// A table's count as asked for: rows, or rows per row of a parent (with the file line
/// that said so).
type Asked = (u64, Option<(TableName, u64, usize)>);

/// Tables to load and their counts; resolves names and the factories file's counts, and
/// checks the file's column rules against the schema (before anything is read or written).
pub fn targets(schema: &Schema, req: &BulkRequest) -> Result<Vec<Target>, Error> {
    let mut counts: HashMap<TableName, Asked> = HashMap::new();
    if let Some(n) = req.default_count {
        for t in &schema.tables {
            counts.insert(t.name.clone(), (n, None));
        }
    }
    if let Some(f) = &req.factories {
        // Every table and column the file names that the schema lacks, all at once.
        let mut problems = Vec::new();
        for tc in &f.tables {
            // A learned profile may come from a database with more tables: skip those.
            if f.learned.is_some() && schema.find(&tc.name).is_none() {
                continue;
            }
            let Some(table) = schema.find(&tc.name) else {
                problems
                    .push(f.error(tc.line, format!("unknown table '{}' (tables: {})", tc.name, schema.table_list())));
                continue;
            };
            if let Some(c) = tc.count {
                counts.insert(table.name.clone(), (c, None));
            }
            if let Some((parent, k)) = &tc.per_parent {
                match schema.find(parent) {
                    None => problems.push(f.error(
                        tc.per_parent_line,
                        format!("per_parent: unknown table '{parent}' (tables: {})", schema.table_list()),
                    )),
                    Some(p) if !table.foreign_keys.iter().any(|fk| fk.ref_table == p.name) => problems.push(f.error(
                        tc.per_parent_line,
                        format!("per_parent: {} has no foreign key to {}", table.name, p.name),
                    )),
                    Some(p) => {
                        counts.insert(table.name.clone(), (0, Some((p.name.clone(), *k, tc.per_parent_line))));
                    }
                }
            }
            // Column overrides alone do not select a table; a count does.
            for cc in &tc.columns {
                if f.learned.is_some() {
                    // Learned rules that do not fit this schema are skipped when planning.
                    continue;
                }
                let Some(col) = table.column(&cc.name) else {
                    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
                    problems.push(f.error(
                        cc.line,
                        format!("unknown column '{}' in {} (columns: {})", cc.name, table.name, names.join(", ")),
                    ));
                    continue;
                };
                if let Err(m) = check_rule(&cc.rule, table, col) {
                    problems.push(f.error(cc.line, m));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::configs(problems));
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
    let mut out = Vec::new();
    for t in &schema.tables {
        let Some((_, per)) = counts.get(&t.name) else { continue };
        let n = resolved_count(&t.name, &counts, req)?;
        if n > 0 {
            out.push((t.name.clone(), n, per.as_ref().map(|(p, k, _)| (p.clone(), *k))));
        }
    }
    Ok(out)
}

/// Rows of `name`: its count, or per_parent multiplied along the chain of parents (a
/// per_parent of a per_parent table); 0 when the chain ends at a table not loaded.
fn resolved_count(name: &TableName, counts: &HashMap<TableName, Asked>, req: &BulkRequest) -> Result<u64, Error> {
    let fail = |message: String| {
        let line = counts.get(name).and_then(|(_, per)| per.as_ref()).map_or(0, |(_, _, line)| *line);
        match &req.factories {
            Some(f) => f.error(line, message),
            None => Error::usage(message),
        }
    };
    let mut rows: u128 = 1;
    let mut at = name;
    // A chain longer than the number of tables goes round in a circle.
    for _ in 0..=counts.len() {
        match counts.get(at) {
            None => return Ok(0),
            Some((_, Some((parent, k, _)))) => {
                rows = rows.saturating_mul(u128::from(*k));
                at = parent;
            }
            Some((n, None)) => {
                rows = rows.saturating_mul(u128::from(*n));
                return u64::try_from(rows).ok().filter(|&r| r <= MAX_COUNT).ok_or_else(|| {
                    fail(format!(
                        "per_parent makes {rows} rows of {name}, more than {MAX_COUNT} (the limit per table); lower its per_parent count or its parents' counts"
                    ))
                });
            }
        }
    }
    Err(fail(format!("per_parent of {name} goes round in a circle; give one table of the circle a count")))
}

/// Whether a factories rule can hold in `col`: `null = true` on a NOT NULL column, a
/// generator of the wrong kind, or a constant that does not fit is refused here (with
/// the file's line) instead of failing half-way through the load.
fn check_rule(rule: &ColumnRule, table: &Table, col: &Column) -> Result<(), String> {
    let name = format!("{}.{}", table.name, col.name);
    if col.generated {
        return Err(format!("{name} is a generated column; the database computes it"));
    }
    match rule {
        ColumnRule::Value(None) if !col.nullable => Err(format!(
            "{name} is NOT NULL, so `null = true` cannot hold; give it a value, one_of, template or generator, or drop the rule"
        )),
        ColumnRule::Value(None) | ColumnRule::Template(_) => Ok(()),
        ColumnRule::Generator(g) => match faker_by_name(g) {
            Some(f) if !faker_suits(f, &col.kind) => {
                let fitting: Vec<&str> =
                    GENERATOR_NAMES.iter().filter(|(_, f)| faker_suits(*f, &col.kind)).map(|(n, _)| *n).collect();
                Err(format!(
                    "generator '{g}' does not fit {name} ({}); {}",
                    col.type_name,
                    if fitting.is_empty() {
                        "give it a value, one_of or template instead".to_owned()
                    } else {
                        format!("generators for it: {}", fitting.join(", "))
                    }
                ))
            }
            _ => Ok(()),
        },
        ColumnRule::Value(Some(v)) => check_constant(v, &name, col),
        ColumnRule::OneOf(items) => items.iter().flatten().try_for_each(|v| check_constant(v, &name, col)),
        ColumnRule::Default => Ok(()),
        ColumnRule::Json(_) => match col.kind {
            TypeKind::Json | TypeKind::Jsonb | TypeKind::Text { max_len: None } => Ok(()),
            _ => Err(format!("json fits json, jsonb and text columns, not {name} ({})", col.type_name)),
        },
        ColumnRule::Range(lo, hi) => match range_gen(lo, hi, &col.kind) {
            Some(_) => Ok(()),
            None => Err(format!(
                "range [{lo:?}, {hi:?}] does not fit {name} ({}): give two numbers, dates or times, lowest first",
                col.type_name
            )),
        },
    }
}

/// A constant from the factories file against the column's length and number type.
fn check_constant(v: &str, name: &str, col: &Column) -> Result<(), String> {
    let shown: String = v.chars().take(40).collect();
    let shown = if shown.len() < v.len() { format!("{shown:?}...") } else { format!("{shown:?}") };
    let chars = v.chars().count();
    if let Some(max) = max_len_of(col)
        && chars > max as usize
    {
        return Err(format!("{shown} has {chars} characters, but {name} ({}) holds at most {max}", col.type_name));
    }
    let range = match col.kind {
        TypeKind::SmallInt => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
        TypeKind::Int => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
        TypeKind::BigInt => Some((i64::MIN, i64::MAX)),
        _ => None,
    };
    if let Some((lo, hi)) = range
        && !v.trim().parse::<i64>().is_ok_and(|n| (lo..=hi).contains(&n))
    {
        return Err(format!("{shown} is not an integer in [{lo}, {hi}], which {name} ({}) needs", col.type_name));
    }
    if col.kind == TypeKind::Bool && !matches!(text_to_value(v.to_owned(), &col.kind), Value::Bool(_)) {
        return Err(format!("{shown} is not a boolean (true/false), which {name} needs"));
    }
    Ok(())
}

/// The most characters a column holds: its declared length and `length()` checks.
fn max_len_of(col: &Column) -> Option<u32> {
    let declared = match col.kind {
        TypeKind::Text { max_len } => max_len,
        TypeKind::Char { len } => Some(len),
        _ => None,
    };
    col.checks.iter().fold(declared, |acc, rule| match rule {
        CheckRule::MaxLen(n) => Some(acc.map_or(*n, |m| m.min(*n))),
        _ => acc,
    })
}

struct Builder<'a> {
    schema: &'a Schema,
    req: &'a BulkRequest,
}

/// Builds the plan from the schema, the request and what the database holds already.
pub fn build(schema: &Schema, req: &BulkRequest, inputs: &PlanInputs) -> Result<Plan, Error> {
    let (existing_rows, existing_keys) = (&inputs.existing_rows, &inputs.existing_keys);
    let mut chosen = targets(schema, req)?;
    let filled = trigger_filled(schema, &chosen);
    chosen.retain(|(n, _, _)| !filled.iter().any(|f| &f.table == n));
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
    Ok(Plan { seed: req.seed, batch_size: req.batch_size, tables: plans, cycle_edges, trigger_filled: filled })
}

impl Builder<'_> {
    /// The factories rules for `table`'s columns, the user's first; learned rules
    /// (a profile) only for columns seed does not fill by construction, and only those
    /// that fit the column.
    fn rules_for(&self, table: &Table) -> Vec<(ColumnConfig, bool)> {
        let mut out: Vec<(ColumnConfig, bool)> = Vec::new();
        for f in self.req.factories.iter().chain(self.req.like.iter()) {
            let learned = f.learned.is_some();
            for tc in f.tables.iter().filter(|tc| self.schema.find(&tc.name).is_some_and(|t| t.name == table.name)) {
                for c in &tc.columns {
                    if out.iter().any(|(o, _)| o.name == c.name) {
                        continue;
                    }
                    if learned && !learnable(table, &c.name, &c.rule) {
                        continue;
                    }
                    let mut c = c.clone();
                    if learned {
                        // A profile leaves out a null rate of 0.
                        c.null_rate.get_or_insert(0.0);
                    }
                    out.push((c, learned));
                }
            }
        }
        out
    }

    fn table_plan(&self, table: &Table, count: u64, offset: u64) -> Result<TablePlan, Error> {
        let key = derive(self.req.seed, hash_str(&format!("{}.{}", table.name.schema, table.name.name)));
        let rules = self.rules_for(table);
        let fk_cols: Vec<&str> = table.foreign_keys.iter().flat_map(|f| f.columns.iter().map(String::as_str)).collect();
        let mut columns = Vec::new();
        for col in table.writable_columns() {
            let (mut bounds, one_of) = check_bounds(&col.kind, &col.checks);
            let rule = rules.iter().find(|(c, _)| c.name == col.name);
            if let Some((cfg, _)) = rule
                && let Some((lo, hi)) = cfg.length
                && matches!(col.kind, TypeKind::Text { .. })
            {
                bounds.min_len = Some(bounds.min_len.unwrap_or(0).max(lo));
                bounds.max_len = Some(bounds.max_len.map_or(hi, |m| m.min(hi)).max(bounds.min_len.unwrap_or(0)));
            }
            if let Some((cfg, _)) = rule
                && let ColumnRule::Range(lo, hi) = &cfg.rule
                && let Some(None) = range_gen(lo, hi, &col.kind)
            {
                // Numbers: the learned range within the checks' (the generator keeps to both).
                let (lo, hi) = (lo.trim().parse::<f64>().ok(), hi.trim().parse::<f64>().ok());
                bounds.min = max_opt(bounds.min, lo);
                bounds.max = min_opt_f(bounds.max, hi);
            }
            let source = if let Some((cfg, _)) = rule.filter(|(c, _)| c.rule != ColumnRule::Default) {
                match &cfg.rule {
                    ColumnRule::Generator(g) => Gen::Faker(faker_by_name(g).unwrap_or(Faker::Words)),
                    ColumnRule::Value(None) => Gen::Null,
                    ColumnRule::Value(Some(v)) => Gen::Const(text_to_value(v.clone(), &col.kind)),
                    ColumnRule::OneOf(items) => {
                        let values: Vec<Value> = items
                            .iter()
                            .map(|v| v.clone().map_or(Value::Null, |s| text_to_value(s, &col.kind)))
                            .collect();
                        match &cfg.weights {
                            Some(w) if w.iter().sum::<f64>() > 0.0 => Gen::Weighted {
                                values,
                                cumulative: w
                                    .iter()
                                    .scan(0.0, |acc, x| {
                                        *acc += x;
                                        Some(*acc)
                                    })
                                    .collect(),
                            },
                            _ => Gen::Pick(values),
                        }
                    }
                    ColumnRule::Template(t) => Gen::Template(t.clone()),
                    ColumnRule::Range(lo, hi) => range_gen(lo, hi, &col.kind).flatten().unwrap_or(Gen::Typed),
                    ColumnRule::Json(shape) => Gen::JsonShape(shape.clone()),
                    ColumnRule::Default => Gen::Typed,
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
            let null_ratio = match rule.and_then(|(c, _)| c.null_rate) {
                Some(r) if col.nullable => r,
                Some(_) => 0.0,
                None if col.nullable
                    && rule.is_none_or(|(c, _)| c.rule == ColumnRule::Default)
                    && matches!(source, Gen::Faker(_) | Gen::Typed) =>
                {
                    0.05
                }
                None => 0.0,
            };
            let origin = if let Some((_, learned)) = rule {
                if *learned { Origin::Learned } else { Origin::Factories }
            } else if col.auto.is_some() {
                Origin::Key
            } else if !col.checks.is_empty() || matches!(source, Gen::Partition(_)) {
                Origin::Constraint
            } else {
                Origin::Generated
            };
            columns.push(ColumnPlan {
                name: col.name.clone(),
                kind: col.kind.clone(),
                source,
                bounds,
                null_ratio,
                key: derive(key, hash_str(&col.name)),
                origin,
                case: Case::Keep,
            });
        }
        // A column of unsupported type with a default: leave it out, the default fills it.
        columns.retain(|c| {
            !(matches!(c.kind, TypeKind::Other { .. })
                && matches!(c.source, Gen::Null)
                && table.column(&c.name).is_some_and(|col| col.default.is_some() && !col.nullable))
        });
        Ok(TablePlan {
            table: table.clone(),
            count,
            offset,
            key,
            columns,
            groups: vec![],
            combo: None,
            pools: vec![],
            extra_checks: vec![],
            notes: vec![],
        })
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
            if fk.period {
                return Err(Error::Generation {
                    table: table.name.to_string(),
                    reason: format!(
                        "foreign key {} is temporal (PERIOD): seed cannot make ranges that lie within the referenced rows' ranges",
                        fk.name
                    ),
                    hint: Some(format!("leave {} out (--exclude) and fill it with rows of your own", table.name)),
                });
            }
            // A column the user set explicitly is not driven by the foreign key.
            if fk.columns.iter().any(|c| rules.iter().any(|(r, _)| &r.name == c)) {
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
        // (what, columns, predicate of a partial index: kept out of when distinct values
        // cannot be had)
        let mut sets: Vec<(String, Vec<String>, Option<String>)> = Vec::new();
        let table = plans[p].table.clone();
        let owned: Vec<String> = plans[p].columns.iter().map(|c| c.name.clone()).collect();
        let names: Vec<&str> = owned.iter().map(String::as_str).collect();
        // A key held WITHOUT OVERLAPS (PostgreSQL 18) is also an exclusion rule on the same
        // columns: rows that do not overlap are distinct, and distinct rows may still overlap.
        let held_by_exclusion = |cols: &[String]| {
            table.key_rules.iter().any(|r| {
                r.exclusion
                    && r.elements.len() == cols.len()
                    && r.elements.iter().zip(cols).all(|(e, c)| referenced_columns(&e.expr, &names) == [c.as_str()])
            })
        };
        if !table.primary_key.is_empty() && !held_by_exclusion(&table.primary_key) {
            sets.push((format!("primary key of {}", table.name), table.primary_key.clone(), None));
        }
        for u in table.uniques.iter().filter(|u| !held_by_exclusion(&u.columns)) {
            sets.push((format!("unique constraint {}", u.name), u.columns.clone(), None));
        }
        for rule in &table.key_rules {
            if rule.exclusion {
                let (sets_more, note) = exclusion_plan(rule, &mut plans[p]);
                sets.extend(sets_more);
                plans[p].notes.extend(note);
                continue;
            }
            let mut cols: Vec<String> = Vec::new();
            for e in &rule.elements {
                for c in referenced_columns(&e.expr, &names) {
                    if !cols.iter().any(|x| x == c) {
                        cols.push(c.to_owned());
                    }
                }
            }
            if cols.is_empty() {
                plans[p]
                    .notes
                    .push(format!("unique index {} is left to the database (no column seed writes)", rule.name));
                continue;
            }
            sets.push((format!("unique index {}", rule.name), cols, rule.predicate.clone()));
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
        for (what, cols, predicate) in sets {
            if let Some(pred) = predicate {
                // A partial index: distinct values for every row hold it; when the
                // columns cannot be distinct, rows stay outside it instead.
                let saved = plans[p].clone();
                if self.unique_set(plans, p, &table, &what, &cols, count, offset, existing_max).is_err() {
                    plans[p] = saved;
                    let name = what.trim_start_matches("unique index ").to_owned();
                    plans[p].extra_checks.push((name, format!("NOT ({pred})")));
                }
                continue;
            }
            self.unique_set(plans, p, &table, &what, &cols, count, offset, existing_max)?;
        }
        Ok(())
    }

    /// Makes the rows distinct on `cols`: distinct parents when foreign keys cover them,
    /// else one plain column unique by construction.
    #[allow(clippy::too_many_arguments)]
    fn unique_set(
        &self,
        plans: &mut [TablePlan],
        p: usize,
        table: &Table,
        what: &str,
        cols: &[String],
        count: u64,
        offset: u64,
        existing_max: &HashMap<(TableName, String), i64>,
    ) -> Result<(), Error> {
        let plan = &plans[p];
        if cols.iter().any(|c| plan.columns.iter().find(|cp| &cp.name == c).is_some_and(|cp| is_unique_gen(&cp.source)))
        {
            return Ok(());
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
            return self.distinct_parents(plans, p, &groups_in, what);
        }
        // Otherwise make one plain column unique by construction.
        let Some(col_name) = plain.iter().find(|c| plan.columns.iter().any(|cp| &cp.name == *c)).cloned() else {
            return Ok(());
        };
        let ci = plan.columns.iter().position(|cp| cp.name == col_name).unwrap_or(0);
        let above = existing_max.get(&(table.name.clone(), col_name.clone())).copied();
        let slot = Slot { col: &plans[p].columns[ci], table, count, offset, above, what };
        let new_gen = unique_gen(&slot)?;
        let cp = &mut plans[p].columns[ci];
        cp.source = new_gen;
        cp.null_ratio = 0.0;
        if cp.origin != Origin::Factories {
            cp.origin = Origin::Key;
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

/// Whether a learned rule may shape `column` of `table`: never keys, unique columns,
/// foreign keys, generated or partition-key columns (seed fills those by construction),
/// and only when the rule fits the column.
fn learnable(table: &Table, column: &str, rule: &ColumnRule) -> bool {
    let Some(col) = table.column(column) else { return false };
    let keyed = table.primary_key.iter().any(|c| c == column)
        || table.uniques.iter().any(|u| u.columns.iter().any(|c| c == column))
        || table.foreign_keys.iter().any(|f| f.columns.iter().any(|c| c == column))
        || table.partition_key.as_deref() == Some(column);
    !keyed && col.auto.is_none() && !col.generated && check_rule(rule, table, col).is_ok()
}

/// The generator of a learned range: `Some(Some(span))` for dates and times,
/// `Some(None)` for numbers (kept as bounds), `None` when the range does not fit.
fn range_gen(lo: &str, hi: &str, kind: &TypeKind) -> Option<Option<Gen>> {
    match kind {
        TypeKind::SmallInt
        | TypeKind::Int
        | TypeKind::BigInt
        | TypeKind::Real
        | TypeKind::Double
        | TypeKind::Numeric { .. } => {
            let (a, b) = (lo.trim().parse::<f64>().ok()?, hi.trim().parse::<f64>().ok()?);
            (a <= b).then_some(None)
        }
        TypeKind::Date => {
            let day = |s: &str| {
                chrono::NaiveDate::parse_from_str(s.trim().get(..10)?, "%Y-%m-%d")
                    .ok()
                    .map(|d| d.signed_duration_since(chrono::NaiveDate::default()).num_days())
            };
            let (a, b) = (day(lo)?, day(hi)?);
            (a <= b).then(|| Some(Gen::Span(PartitionRange::Date { from: a, to: b + 1 })))
        }
        TypeKind::Timestamp | TypeKind::TimestampTz => {
            let (a, b) = (parse_pg_timestamp(lo)?, parse_pg_timestamp(hi)?);
            (a <= b).then(|| {
                Some(Gen::Span(PartitionRange::Time { from: a, to: b + 1, tz: matches!(kind, TypeKind::TimestampTz) }))
            })
        }
        _ => None,
    }
}

type KeySet = (String, Vec<String>, Option<String>);

/// How an exclusion constraint holds by construction: rows get disjoint intervals in
/// the element compared with `&&` (a range column, or a range built from two columns);
/// with only `=` elements it is a unique set. Otherwise it is left to the database (the
/// note says so).
fn exclusion_plan(rule: &KeyRule, plan: &mut TablePlan) -> (Vec<KeySet>, Option<String>) {
    let names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let key = derive(plan.key, hash_str(&rule.name));
    let free = |plan: &TablePlan, c: &str| {
        plan.columns.iter().position(|cp| cp.name == c).filter(|&i| {
            !is_unique_gen(&plan.columns[i].source)
                && !matches!(plan.columns[i].source, Gen::Foreign { .. })
                && plan.columns[i].origin != Origin::Factories
        })
    };
    for e in &rule.elements {
        if e.op.as_deref() != Some("&&") {
            continue;
        }
        let cols = referenced_columns(&e.expr, &refs);
        let lower = e.expr.trim().to_ascii_lowercase();
        if let [one] = cols.as_slice()
            && !lower.contains('(')
            && let Some(i) = free(plan, one)
            && let TypeKind::Range { element } = &plan.columns[i].kind
            && let Some(unit) = slot_unit(element)
        {
            let cp = &mut plan.columns[i];
            cp.source = Gen::Slot { key, part: SlotPart::Range, unit };
            cp.null_ratio = 0.0;
            cp.origin = Origin::Key;
            return (vec![], None);
        }
        // tstzrange(start_at, end_at) and the like: the two columns bound each row's slot.
        let is_range_fn = ["tsrange(", "tstzrange(", "daterange(", "int4range(", "int8range(", "numrange("]
            .iter()
            .any(|f| lower.starts_with(f));
        if is_range_fn
            && let Some(open) = e.expr.find('(')
            && let Some(close) = crate::db::checks::closing_of(&e.expr, open)
        {
            let args = split_top_level(&e.expr[open + 1..close], ',');
            let ends: Vec<Option<usize>> = args
                .iter()
                .take(2)
                .map(|a| match referenced_columns(a, &refs).as_slice() {
                    [c] => free(plan, c),
                    _ => None,
                })
                .collect();
            if let [Some(a), Some(b)] = ends.as_slice()
                && a != b
                && let (Some(ua), Some(ub)) = (slot_unit(&plan.columns[*a].kind), slot_unit(&plan.columns[*b].kind))
                && ua == ub
            {
                for (i, part) in [(*a, SlotPart::Start), (*b, SlotPart::End)] {
                    let cp = &mut plan.columns[i];
                    cp.source = Gen::Slot { key, part, unit: ua };
                    cp.null_ratio = 0.0;
                    cp.origin = Origin::Key;
                }
                return (vec![], None);
            }
        }
    }
    if rule.elements.iter().all(|e| e.op.as_deref() == Some("=")) {
        let cols: Vec<String> =
            rule.elements.iter().flat_map(|e| referenced_columns(&e.expr, &refs)).map(str::to_owned).collect();
        if !cols.is_empty() {
            return (vec![(format!("exclusion constraint {}", rule.name), cols, rule.predicate.clone())], None);
        }
    }
    (vec![], Some(format!("exclusion constraint {} is left to the database", rule.name)))
}

fn slot_unit(kind: &TypeKind) -> Option<SlotUnit> {
    Some(match kind {
        TypeKind::Timestamp => SlotUnit::Time { tz: false },
        TypeKind::TimestampTz => SlotUnit::Time { tz: true },
        TypeKind::Date => SlotUnit::Date,
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => SlotUnit::Int,
        TypeKind::Numeric { scale, .. } => SlotUnit::Numeric { scale: scale.unwrap_or(0) },
        _ => return None,
    })
}

fn is_unique_gen(g: &Gen) -> bool {
    matches!(
        g,
        Gen::Sequence { .. }
            | Gen::UniqueInt { .. }
            | Gen::UniqueUuid
            | Gen::UniqueEmail
            | Gen::UniqueText { .. }
            | Gen::UniqueCode(_)
            | Gen::UniquePattern(_)
            | Gen::UniqueTemplate(_)
            | Gen::UniqueDate
            | Gen::UniqueTimestamp { .. }
            | Gen::UniqueNumeric { .. }
            | Gen::UniqueBytes
            | Gen::Slot { .. }
    )
}

/// A generator is "pure" when its value depends only on the row index (parents'
/// keys must be recomputable by their children).
fn is_pure_gen(g: &Gen) -> bool {
    is_unique_gen(g) || matches!(g, Gen::Foreign { .. } | Gen::Const(_))
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

impl Plan {
    /// The keys its rows take where the database would generate them (serial,
    /// identity, rowid, AUTO_INCREMENT), for the backend to fix (`reserve_keys`).
    pub fn generated_keys(&self) -> Vec<GeneratedKey> {
        let mut keys = Vec::new();
        for t in &self.tables {
            for c in &t.columns {
                if let Gen::Sequence { sequence, start, step } = &c.source {
                    keys.push(GeneratedKey {
                        table: t.table.name.clone(),
                        column: c.name.clone(),
                        sequence: sequence.clone(),
                        start: *start,
                        step: *step,
                    });
                }
            }
        }
        keys
    }

    /// Takes the starts and steps the backend fixed, in the order of `generated_keys`.
    pub fn set_generated_keys(&mut self, keys: &[GeneratedKey]) {
        let mut keys = keys.iter();
        for t in &mut self.tables {
            for c in &mut t.columns {
                if let Gen::Sequence { start, step, .. } = &mut c.source
                    && let Some(key) = keys.next()
                {
                    (*start, *step) = (key.start, key.step);
                }
            }
        }
    }

    /// Its foreign keys whose parent loads after the child, as the backend sees them
    /// (`prepare_cycles`).
    pub fn cycle_edges_to_load(&self) -> Vec<CycleEdge<'_>> {
        self.cycle_edges
            .iter()
            .map(|&(t, g)| CycleEdge { table: &self.tables[t].table, fk: &self.tables[t].groups[g].fk })
            .collect()
    }

    /// Marks the cycle edges the backend writes NULL and sets after the load (one
    /// answer per edge of `cycle_edges_to_load`).
    pub fn defer_cycle_edges(&mut self, deferred: &[bool]) {
        for (&(t, g), &defer) in self.cycle_edges.iter().zip(deferred) {
            if defer {
                self.tables[t].groups[g].deferred = true;
            }
        }
    }

    /// The foreign keys written NULL, to set once every row is in: (table, group).
    pub fn deferred_groups(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (t, table) in self.tables.iter().enumerate() {
            out.extend(table.groups.iter().enumerate().filter(|(_, g)| g.deferred).map(|(g, _)| (t, g)));
        }
        out
    }

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
            counted(self.total_rows(), "row"),
            counted(self.tables.len() as u64, "table")
        );

        for (i, t) in self.tables.iter().enumerate() {
            let _ = writeln!(
                out,
                "\n{}. {} — {}{}",
                i + 1,
                t.table.name,
                counted(t.count, "row"),
                if t.offset > 0 {
                    format!(" (after {} existing)", crate::output::thousands(t.offset))
                } else {
                    String::new()
                }
            );
            for c in &t.columns {
                let origin = match c.source {
                    Gen::Pool { .. } => "db-checked",
                    Gen::Foreign { .. } => "reference",
                    _ if c.origin == Origin::Factories => "factories",
                    _ if is_unique_gen(&c.source) => "key",
                    _ => c.origin.label(),
                };
                let _ = writeln!(out, "     {:<24} {origin:<11} {}", c.name, self.describe_gen(t, c));
            }
            for (name, expr) in &t.extra_checks {
                let _ = writeln!(out, "     rows kept out of partial unique index {name}: {expr}");
            }
            for note in &t.notes {
                let _ = writeln!(out, "     {note}");
            }
        }
        for f in &self.trigger_filled {
            let _ = writeln!(out, "\n{}: filled by trigger {} on {} (no rows generated)", f.table, f.trigger, f.source);
        }
        let _ = writeln!(
            out,
            "\nvalues from: key (distinct by construction), reference (a parent's key), constraint (a check seed reads),\n  db-checked (candidates the database accepted), factories, learned (a profile), generated (type and name)"
        );
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

    /// The plan as `--json` prints it: what `describe` says, as data.
    pub fn to_json(&self) -> serde_json::Value {
        let tables: Vec<serde_json::Value> = self
            .tables
            .iter()
            .map(|t| {
                let columns: Vec<serde_json::Value> = t
                    .columns
                    .iter()
                    .map(|c| serde_json::json!({ "column": c.name, "generator": self.describe_gen(t, c) }))
                    .collect();
                serde_json::json!({ "table": t.table.name.to_string(), "rows": t.count, "existing": t.offset, "columns": columns })
            })
            .collect();
        let cycles: Vec<serde_json::Value> = self
            .cycle_edges
            .iter()
            .map(|&(t, g)| {
                let group = &self.tables[t].groups[g];
                serde_json::json!({ "table": self.tables[t].table.name.to_string(), "columns": group.fk.columns,
                                    "references": group.fk.ref_table.to_string() })
            })
            .collect();
        serde_json::json!({ "seed": self.seed, "batch_size": self.batch_size, "rows": self.total_rows(),
                            "tables": tables, "cycles_broken_at": cycles })
    }

    fn describe_gen(&self, t: &TablePlan, c: &ColumnPlan) -> String {
        let nulls = if c.null_ratio > 0.0 { format!(" ({:.0}% NULL)", c.null_ratio * 100.0) } else { String::new() };
        let text = match &c.source {
            Gen::Sequence { sequence: Some(s), .. } => format!("from sequence {s}"),
            Gen::Sequence { sequence: None, .. } => "next rowid".into(),
            Gen::UniqueInt { lo, perm: None, .. } => format!("unique integer from {lo}"),
            Gen::UniqueInt { lo, hi, perm: Some(_) } => format!("unique integer, permuted within [{lo}, {hi}]"),
            Gen::UniqueUuid => "unique uuid".into(),
            Gen::UniqueEmail => "unique email".into(),
            Gen::UniqueText { base } => format!("unique {}", base.map_or("text", faker_name)),
            Gen::UniqueCode(space) => {
                format!("unique code of {} ({} values)", describe_space(space), space.capacity)
            }
            Gen::UniquePattern(space) => {
                format!("unique value matching '{}' ({} values)", space.source, space.capacity)
            }
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
            Gen::Pool { pool, .. } => {
                let p = &t.pools[*pool];
                let names: Vec<&str> = p.columns.iter().map(|&i| t.columns[i].name.as_str()).collect();
                let what = if names.len() > 1 { format!(" (with {})", names.join(", ")) } else { String::new() };
                format!(
                    "one of {} values the database accepted{what} for {}; {} of {} candidates passed",
                    p.tuples.len(),
                    p.checks.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", "),
                    p.tuples.len(),
                    p.tried
                )
            }
            Gen::Slot { part, .. } => match part {
                SlotPart::Start => "start of a slot no other row's overlaps".into(),
                SlotPart::End => "end of a slot no other row's overlaps".into(),
                SlotPart::Range => "a range no other row's overlaps".into(),
            },
            Gen::Weighted { values, .. } => {
                format!("one of [{}], weighted", values.iter().map(value_text).collect::<Vec<_>>().join(", "))
            }
            Gen::Span(r) => match r {
                PartitionRange::Date { from, to } => {
                    let d = |n: i64| (chrono::NaiveDate::default() + chrono::Duration::days(n)).to_string();
                    format!("a date from {} to {}", d(*from), d(to - 1))
                }
                PartitionRange::Time { from, to, .. } => {
                    let t = |n: i64| chrono::DateTime::from_timestamp(n, 0).map_or(String::new(), |t| t.to_string());
                    format!("a time from {} to {}", t(*from), t(to - 1))
                }
                _ => "within a range".into(),
            },
            Gen::JsonShape(shape) => format!("JSON shaped {}", shape.to_toml()),
            Gen::Partition(r) if r.len() == 1 => "within the partition's range".into(),
            Gen::Partition(r) => format!("within the {} partitions' ranges", r.len()),
        };
        let bounds = match (c.bounds.min, c.bounds.max) {
            (Some(a), Some(b)) if !matches!(c.source, Gen::Foreign { .. } | Gen::UniqueInt { perm: Some(_), .. }) => {
                format!(" [{a}, {b}]")
            }
            _ => String::new(),
        };
        format!("{text}{bounds}{nulls}")
    }
}

/// "1 row", "2 rows".
fn counted(n: u64, noun: &str) -> String {
    crate::output::plural(n, noun, &format!("{noun}s"))
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        // Values may come from a snapshot's profile: untrusted text on a terminal.
        Value::Text(s) => format!("\"{}\"", crate::untrusted::shown(s, 64)),
        Value::Bytes(b) => format!("{} bytes", b.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::ForeignKey;
    use crate::factory::rows::RowGen;
    use std::collections::HashSet;
    use std::path::Path;

    fn col(name: &str, type_name: &str, kind: TypeKind, nullable: bool) -> Column {
        crate::db::schema::test_support::column(name, type_name, kind, nullable)
    }

    fn table(name: &str, columns: Vec<Column>, primary_key: &[&str]) -> Table {
        crate::db::schema::test_support::table("public", name, columns, primary_key)
    }

    fn request(tables: &[(&str, u64)], factories: Option<&str>) -> BulkRequest {
        BulkRequest {
            default_count: None,
            table_counts: tables.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            factories: factories.map(|text| Factories::parse(Path::new("f.toml"), text.to_owned()).unwrap()),
            like: None,
            seed: 42,
            batch_size: 100,
        }
    }

    fn values(plan: &Plan, t: usize, c: usize) -> Vec<Value> {
        let rows = RowGen::new(plan, t);
        let mut row = Vec::new();
        (0..plan.tables[t].count)
            .map(|i| {
                rows.row(i, &mut row);
                row[c].clone()
            })
            .collect()
    }

    fn texts(plan: &Plan, t: usize, c: usize) -> Vec<String> {
        values(plan, t, c)
            .into_iter()
            .map(|v| match v {
                Value::Text(s) => s,
                other => panic!("not text: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn short_text_keys_fill_their_capacity_and_no_more() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![
                table("k2", vec![col("k", "character varying(2)", TypeKind::Text { max_len: Some(2) }, false)], &["k"]),
                table("c2", vec![col("code", "character(2)", TypeKind::Char { len: 2 }, false)], &["code"]),
            ],
        };
        let plan = build(&schema, &request(&[("k2", 1332), ("c2", 1332)], None), &PlanInputs::default()).unwrap();
        for t in 0..2 {
            let all = texts(&plan, t, 0);
            assert_eq!(all.iter().collect::<HashSet<_>>().len(), 1332);
            assert!(all.iter().all(|v| (1..=2).contains(&v.chars().count()) && !v.ends_with(' ')), "{all:?}");
        }
        assert!(plan.describe().contains("unique code of 1–2 characters of [0-9a-z] (1332 values)"));

        let err = build(&schema, &request(&[("k2", 1333)], None), &PlanInputs::default()).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(err.to_string().contains("k2.k") && err.to_string().contains("1332"), "{err}");
        assert!(!err.hint().unwrap().contains("{i}"), "{:?}", err.hint());
        // Rows already there count against the capacity.
        let inputs = PlanInputs {
            existing_rows: HashMap::from([(TableName::new("public", "c2"), 1000)]),
            ..PlanInputs::default()
        };
        let err = build(&schema, &request(&[("c2", 333)], None), &inputs).unwrap_err();
        let hint = err.hint().unwrap();
        assert!(hint.contains("at most 332 rows") && hint.contains("--truncate"), "{hint}");
    }

    #[test]
    fn unique_text_that_fits_a_suffix_stays_readable_and_distinct() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table(
                "users",
                vec![
                    col("email", "character varying(17)", TypeKind::Text { max_len: Some(17) }, false),
                    col("login", "character varying(8)", TypeKind::Text { max_len: Some(8) }, false),
                ],
                &["email"],
            )],
        };
        let mut schema = schema;
        schema.tables[0].uniques.push(crate::db::schema::Unique { name: "u".into(), columns: vec!["login".into()] });
        let plan = build(&schema, &request(&[("users", 3000)], None), &PlanInputs::default()).unwrap();
        for c in 0..2 {
            let all = texts(&plan, 0, c);
            let max = [17, 8][c];
            assert_eq!(all.iter().collect::<HashSet<_>>().len(), 3000);
            assert!(all.iter().all(|v| v.chars().count() <= max), "{all:?}");
        }
        assert!(texts(&plan, 0, 0).iter().all(|v| v.ends_with("@example.com")));
    }

    #[test]
    fn a_unique_template_too_long_for_its_column_is_refused() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table(
                "t",
                vec![col("code", "character varying(6)", TypeKind::Text { max_len: Some(6) }, false)],
                &["code"],
            )],
        };
        let rule = "[tables.t]\ncolumns.code = { template = \"AB-{i}\" }\n";
        assert!(build(&schema, &request(&[("t", 999)], Some(rule)), &PlanInputs::default()).is_ok());
        let err = build(&schema, &request(&[("t", 1000)], Some(rule)), &PlanInputs::default()).unwrap_err();
        assert!(err.to_string().contains("at least 7 characters for row 1000"), "{err}");
    }

    #[test]
    fn integer_keys_start_where_the_plan_says() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table(
                "u",
                vec![
                    col("id", "integer", TypeKind::Int, false),
                    col("name", "text", TypeKind::Text { max_len: None }, false),
                ],
                &["id"],
            )],
        };
        let u = TableName::new("public", "u");
        let inputs = PlanInputs {
            existing_rows: HashMap::from([(u.clone(), 2)]),
            existing_max: HashMap::from([((u, "id".to_owned()), 5)]),
            ..PlanInputs::default()
        };
        let plan = build(&schema, &request(&[("u", 5)], None), &inputs).unwrap();
        assert!(plan.describe().contains("unique integer from 6\n"), "{}", plan.describe());
        assert_eq!(values(&plan, 0, 0), (6..=10).map(Value::Int).collect::<Vec<_>>());
    }

    #[test]
    fn a_smallint_out_of_values_suggests_what_works() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table("t", vec![col("id", "smallint", TypeKind::SmallInt, false)], &["id"])],
        };
        let err = build(&schema, &request(&[("t", 40_000)], None), &PlanInputs::default()).unwrap_err();
        let hint = err.hint().unwrap();
        assert!(err.to_string().contains("t.id (smallint) holds 32767 distinct values"), "{err}");
        assert!(hint.contains("at most 32767 rows") && hint.contains("to integer") && !hint.contains("{i}"), "{hint}");

        // A check range: permuted inside it, and the hint says to widen the check.
        let mut schema = schema;
        schema.tables[0].columns[0].checks.push(CheckRule::Range { min: Some(1.0), max: Some(100.0) });
        let plan = build(&schema, &request(&[("t", 100)], None), &PlanInputs::default()).unwrap();
        assert!(plan.describe().contains("unique integer, permuted within [1, 100]\n"), "{}", plan.describe());
        let mut all: Vec<i64> =
            values(&plan, 0, 0).into_iter().map(|v| if let Value::Int(i) = v { i } else { panic!("{v:?}") }).collect();
        all.sort_unstable();
        assert_eq!(all, (1..=100).collect::<Vec<_>>());
        let err = build(&schema, &request(&[("t", 101)], None), &PlanInputs::default()).unwrap_err();
        assert!(err.hint().unwrap().contains("widen the CHECK range of t.id"), "{:?}", err.hint());
    }

    #[test]
    fn factories_rules_that_cannot_hold_are_refused_with_their_line() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table(
                "staffs",
                vec![
                    col("id", "integer", TypeKind::Int, false),
                    col("name", "text", TypeKind::Text { max_len: None }, false),
                    col("code", "character(2)", TypeKind::Char { len: 2 }, true),
                    col("active", "boolean", TypeKind::Bool, true),
                ],
                &["id"],
            )],
        };
        for (rule, needle) in [
            ("name = { null = true }", "staffs.name is NOT NULL"),
            (
                "id = { generator = \"email\" }",
                "generator 'email' does not fit staffs.id (integer); generators for it: int",
            ),
            ("code = { value = \"abc\" }", "\"abc\" has 3 characters, but staffs.code (character(2)) holds at most 2"),
            ("code = { one_of = [\"ab\", \"çàé\"] }", "has 3 characters"),
            ("id = { value = \"x1\" }", "is not an integer"),
            ("active = { value = \"maybe\" }", "is not a boolean"),
        ] {
            let text = format!("[tables.staffs]\ncount = 3\ncolumns.{rule}\n");
            let err = targets(&schema, &request(&[], Some(&text))).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{rule}");
            assert!(err.to_string().starts_with("f.toml:3: "), "{rule}: {err}");
            assert!(err.to_string().contains(needle), "{rule}: {err}");
        }
        for rule in ["code = { null = true }", "code = { value = \"é\" }", "id = { generator = \"int\" }"] {
            let text = format!("[tables.staffs]\ncount = 3\ncolumns.{rule}\n");
            targets(&schema, &request(&[], Some(&text))).unwrap_or_else(|e| panic!("{rule}: {e}"));
        }
    }

    #[test]
    fn per_parent_counts_multiply_along_the_chain_within_the_limit() {
        let fk = |name: &str, parent: &str| ForeignKey {
            name: format!("{name}_fkey"),
            columns: vec!["parent_id".into()],
            ref_table: TableName::new("public", parent),
            ref_columns: vec!["id".into()],
            deferrable: false,
            period: false,
        };
        let mut tables: Vec<Table> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                table(
                    n,
                    vec![col("id", "uuid", TypeKind::Uuid, false), col("parent_id", "uuid", TypeKind::Uuid, true)],
                    &["id"],
                )
            })
            .collect();
        tables[1].foreign_keys.push(fk("b", "a"));
        tables[2].foreign_keys.push(fk("c", "b"));
        let schema = Schema { tables, ..Schema::default() };
        let chain = "[tables.a]\ncount = 3\n[tables.b]\nper_parent = { table = \"a\", count = 2 }\n[tables.c]\nper_parent = { table = \"b\", count = 5 }\n";
        let got: Vec<(String, u64)> =
            targets(&schema, &request(&[], Some(chain))).unwrap().into_iter().map(|(t, n, _)| (t.name, n)).collect();
        assert_eq!(got, vec![("a".into(), 3), ("b".into(), 6), ("c".into(), 30)]);

        let big = "[tables.a]\ncount = 100000\n[tables.b]\nper_parent = { table = \"a\", count = 100000 }\n";
        let err = targets(&schema, &request(&[], Some(big))).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().starts_with("f.toml:4: per_parent makes 10000000000 rows of b, more than 1000000000"),
            "{err}"
        );
        // --table overrides the parent's count, and the product is checked again.
        assert!(targets(&schema, &request(&[("a", 10_000)], Some(big))).is_ok());
        assert!(targets(&schema, &request(&[("a", 10_001)], Some(big))).is_err());
    }

    #[test]
    fn the_plan_counts_in_words() {
        let schema = Schema {
            migration_tables: vec![],
            search_path: vec![],
            names_ignore_case: false,
            tables: vec![table("t", vec![col("id", "uuid", TypeKind::Uuid, false)], &["id"])],
        };
        let one = build(&schema, &request(&[("t", 1)], None), &PlanInputs::default()).unwrap().describe();
        assert!(
            one.starts_with("plan (seed 42, batch size 100): 1 row in 1 table, parents first\n\n1. t — 1 row\n"),
            "{one}"
        );
        let two = build(&schema, &request(&[("t", 2)], None), &PlanInputs::default()).unwrap().describe();
        assert!(two.contains(": 2 rows in 1 table,") && two.contains("1. t — 2 rows\n"), "{two}");
    }

    #[test]
    fn pg_timestamps_with_offsets() {
        assert_eq!(parse_pg_timestamp("2022-01-01 00:00:00+00"), Some(1_640_995_200));
        assert_eq!(parse_pg_timestamp("2022-04-01 01:00:00+01"), Some(1_648_771_200));
    }
}
