//! Turns a plan into rows. Every row is a function of (seed, table, row index): the
//! row's own RNG is seeded from its index, keys and picks come from `hash`.

use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use fake::rand::{RngExt, SeedableRng};

use crate::db::copy_text;
use crate::db::value::Value;
use crate::factory::codes::base36;
use crate::factory::factories_file::{Template, TemplatePart};
use crate::factory::hash::{derive, mix64, uuid_for};
use crate::factory::persona::Persona;
use crate::factory::plan::{
    Case, ColumnPlan, Gen, ParentRef, PartitionRange, Pick, Plan, SlotPart, SlotUnit, TablePlan,
};
use crate::factory::values::{Faker, Rng, clamp_len, fake_text, faker_by_name, format_ts, text_to_value, typed_value};

/// Generates rows of table `t` of `plan`.
pub struct RowGen<'a> {
    plan: &'a Plan,
    t: usize,
}

impl<'a> RowGen<'a> {
    pub fn new(plan: &'a Plan, t: usize) -> Self {
        Self { plan, t }
    }

    fn table(&self) -> &'a TablePlan {
        &self.plan.tables[self.t]
    }

    /// The values of row `i` (0-based within this load), in column order.
    pub fn row(&self, i: u64, out: &mut Vec<Value>) {
        out.clear();
        let table = self.table();
        let mut rng = Rng::seed_from_u64(derive(table.key, i));
        let persona = Persona::new(table.key, table.offset + i);
        let picks: Vec<Option<u64>> = (0..table.groups.len()).map(|g| pick(self.plan, self.t, g, i)).collect();
        for col in &table.columns {
            out.push(self.value(col, i, &picks, &mut rng, &persona));
        }
    }

    fn value(&self, col: &ColumnPlan, i: u64, picks: &[Option<u64>], rng: &mut Rng, persona: &Persona) -> Value {
        let table = self.table();
        if let Gen::Foreign { group, component } = col.source {
            let g = &table.groups[group];
            if g.deferred {
                return Value::Null;
            }
            return match picks[group] {
                Some(p) => parent_key(self.plan, &g.parent, p, component),
                None => Value::Null,
            };
        }
        if let Gen::Pool { pool, component } = col.source {
            let p = &table.pools[pool];
            let n = p.tuples.len() as u64;
            if n == 0 {
                return Value::Null;
            }
            let k = usize::try_from(mix64(derive(p.key, i)) % n).unwrap_or(0);
            return p.tuples[k].get(component).cloned().unwrap_or(Value::Null);
        }
        free_value(col, table.offset + i, rng, persona).unwrap_or_else(|| key_value(self.plan, self.t, col, i, 0))
    }

    /// Rows `range` as COPY text (tab-separated, `\N` for NULL, one row per line).
    pub fn write_copy(&self, range: std::ops::Range<u64>, buf: &mut Vec<u8>, scratch: &mut Vec<Value>) {
        for i in range {
            self.row(i, scratch);
            for (k, v) in scratch.iter().enumerate() {
                if k > 0 {
                    buf.push(b'\t');
                }
                copy_text::push_value(buf, v);
            }
            buf.push(b'\n');
        }
    }

    /// The rows that set foreign key `group` once every row is in (a cycle): each
    /// row's primary-key values, then the key's, as [`RowGen::deferred_fix`] gives them.
    pub fn cycle_fix_rows(self, group: usize) -> impl Iterator<Item = Vec<Value>> + Send + 'a {
        let table = self.table();
        let pk: Vec<usize> =
            table.table.primary_key.iter().filter_map(|c| table.columns.iter().position(|cp| &cp.name == c)).collect();
        (0..table.count).map(move |i| self.deferred_fix(i, group, &pk))
    }

    /// The primary-key values and the deferred foreign-key values of row `i`, for the
    /// UPDATE that closes a cycle after every table is loaded.
    pub fn deferred_fix(&self, i: u64, group: usize, key_cols: &[usize]) -> Vec<Value> {
        let table = self.table();
        let mut out: Vec<Value> =
            key_cols.iter().map(|&c| key_value(self.plan, self.t, &table.columns[c], i, 0)).collect();
        let g = &table.groups[group];
        let p = pick(self.plan, self.t, group, i);
        for component in 0..g.fk.columns.len() {
            out.push(p.map_or(Value::Null, |p| parent_key(self.plan, &g.parent, p, component)));
        }
        out
    }
}

/// The value of a column whose generator does not depend on other rows (not a key, a
/// unique value or a foreign key): `None` for those. `index` counts rows already there;
/// `persona` is the person and places the row describes.
pub fn free_value(col: &ColumnPlan, index: u64, rng: &mut Rng, persona: &Persona) -> Option<Value> {
    if !matches!(
        col.source,
        Gen::Null
            | Gen::Const(_)
            | Gen::Pick(_)
            | Gen::Weighted { .. }
            | Gen::Span(_)
            | Gen::JsonShape(_)
            | Gen::Template(_)
            | Gen::Faker(_)
            | Gen::Typed
            | Gen::Partition(_)
    ) {
        return None;
    }
    if col.null_ratio > 0.0 && rng.random_bool(col.null_ratio) {
        return Some(Value::Null);
    }
    Some(match &col.source {
        Gen::Const(v) => v.clone(),
        Gen::Pick(vs) if !vs.is_empty() => vs[rng.random_range(0..vs.len())].clone(),
        Gen::Template(t) => text_to_value(clamp_len(render(t, index, rng, persona), &col.bounds), &col.kind),
        Gen::Faker(f) => faker_value(*f, col, rng, persona),
        Gen::Typed => typed_value(&col.kind, &col.name, &col.bounds, rng),
        Gen::Partition(ranges) => partition_value(ranges, rng),
        Gen::Weighted { values, cumulative } => {
            let total = cumulative.last().copied().unwrap_or(0.0);
            let r = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
            let k = cumulative.partition_point(|c| *c <= r).min(values.len().saturating_sub(1));
            values.get(k).cloned().unwrap_or(Value::Null)
        }
        Gen::Span(range) => partition_value(std::slice::from_ref(range), rng),
        Gen::JsonShape(shape) => Value::Text(crate::factory::profile::json_value(shape, rng)),
        _ => Value::Null,
    })
}

/// The bounds of row `g`'s slot, in the unit's steps (seconds, days or numbers): each
/// row owns `[g * step, (g + 1) * step)` and its interval lies strictly inside it, so
/// no two rows' intervals overlap, whatever the range's bounds (`[)` or `[]`).
fn slot_bounds(key: u64, g: u64, unit: SlotUnit) -> (i64, i64) {
    let h = mix64(derive(key, g));
    let g = i64::try_from(g).unwrap_or(i64::MAX / 2);
    let pick = |range: u64, shift: u32| i64::try_from((h >> shift) % range.max(1)).unwrap_or(0);
    match unit {
        // a day per row; starts on a quarter hour in the first 6 hours, lasts 15 min to 12 h
        SlotUnit::Time { .. } => {
            let start = EPOCH_2020.saturating_add(g.saturating_mul(86_400)) + pick(24, 0) * 900;
            (start, start + (1 + pick(48, 16)) * 900)
        }
        // three days per row, one or two days long
        SlotUnit::Date => {
            let start = g.saturating_mul(3);
            (start, start + 1 + pick(2, 0))
        }
        // ten per row, one to five long
        SlotUnit::Int | SlotUnit::Numeric { .. } => {
            let start = 1 + g.saturating_mul(10) + pick(3, 0);
            (start, start + 1 + pick(5, 16))
        }
    }
}

const EPOCH_2020: i64 = 1_577_836_800;

fn slot_value(key: u64, g: u64, part: SlotPart, unit: SlotUnit) -> Value {
    let (a, b) = slot_bounds(key, g, unit);
    let day0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
    let one = |v: i64| -> String {
        match unit {
            SlotUnit::Time { tz } => format_ts(&Utc.timestamp_opt(v, 0).single().unwrap_or_default(), tz),
            SlotUnit::Date => (day0 + Duration::days(v)).to_string(),
            SlotUnit::Int => v.to_string(),
            SlotUnit::Numeric { scale } if scale > 0 => format!("{v}.{}", "0".repeat(scale as usize)),
            SlotUnit::Numeric { .. } => v.to_string(),
        }
    };
    match (part, unit) {
        (SlotPart::Start, SlotUnit::Int) => Value::Int(a),
        (SlotPart::End, SlotUnit::Int) => Value::Int(b),
        (SlotPart::Start, _) => Value::Text(one(a)),
        (SlotPart::End, _) => Value::Text(one(b)),
        (SlotPart::Range, SlotUnit::Time { .. }) => Value::Text(format!("[\"{}\",\"{}\")", one(a), one(b))),
        (SlotPart::Range, _) => Value::Text(format!("[{},{})", one(a), one(b))),
    }
}

/// Which parent row (index) row `i` of table `t` references through group `g`./// Which parent row (index) row `i` of table `t` references through group `g`.
pub fn pick(plan: &Plan, t: usize, g: usize, i: u64) -> Option<u64> {
    let table = &plan.tables[t];
    let group = &table.groups[g];
    let n = group.parent.len();
    if n == 0 {
        return None;
    }
    let h = mix64(derive(group.key, i));
    if group.null_ratio > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let threshold = (group.null_ratio * 10_000.0) as u64;
        if h % 10_000 < threshold {
            return None;
        }
    }
    Some(match &group.pick {
        Pick::Uniform => (h >> 16) % n,
        Pick::PerParent(k) => (i / k.max(&1)).min(n - 1),
        // Counting on from the rows already there keeps a later load's picks clear of an
        // earlier one's (same parents, same seed); within one load they are distinct anyway.
        Pick::Distinct(perm) => perm.apply(table.offset + i),
        Pick::ComboDigit(pos) => {
            let combo = table.combo.as_ref()?;
            let mut x = combo.perm.apply(table.offset + i);
            for r in &combo.radices[..*pos] {
                x /= r.max(&1);
            }
            x % combo.radices[*pos].max(1)
        }
    })
}

fn parent_key(plan: &Plan, parent: &ParentRef, p: u64, component: usize) -> Value {
    match parent {
        ParentRef::Planned { table, columns, .. } => {
            let col = &plan.tables[*table].columns[columns[component]];
            key_value(plan, *table, col, p, 1)
        }
        ParentRef::Existing { keys } => usize::try_from(p)
            .ok()
            .and_then(|p| keys.get(p))
            .and_then(|k| k.get(component))
            .cloned()
            .unwrap_or(Value::Null),
    }
}

/// The value of a "pure" column (key, unique, foreign) at row `i`: recomputable by children.
fn key_value(plan: &Plan, t: usize, col: &ColumnPlan, i: u64, depth: u8) -> Value {
    match (col.case, key_value_as_generated(plan, t, col, i, depth)) {
        (Case::Lower, Value::Text(s)) => Value::Text(s.to_lowercase()),
        (Case::Upper, Value::Text(s)) => Value::Text(s.to_uppercase()),
        (_, v) => v,
    }
}

fn key_value_as_generated(plan: &Plan, t: usize, col: &ColumnPlan, i: u64, depth: u8) -> Value {
    let table = &plan.tables[t];
    let g = table.offset + i;
    match &col.source {
        Gen::Sequence { start, step, .. } => {
            Value::Int(start.saturating_add(i64::try_from(i).unwrap_or(i64::MAX).saturating_mul(*step)))
        }
        Gen::UniqueInt { lo, perm, .. } => {
            // Counting up starts above what is there already (`lo`); a permutation
            // continues the sequence of slots earlier loads used.
            let k = perm.map_or(i, |p| p.apply(g));
            let v = i128::from(*lo) + i128::from(k);
            Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
        }
        Gen::UniqueUuid => Value::Text(uuid::Uuid::from_bytes(uuid_for(col.key, g)).to_string()),
        Gen::UniqueEmail => {
            // The row's own person: the address goes with the name in the same row.
            let local = Persona::new(table.key, g).handle();
            let suffix = (g + 1).to_string();
            let domain = "@example.com";
            let max = col.bounds.max_len.map_or(usize::MAX, |m| m as usize);
            let room = max.saturating_sub(suffix.len() + domain.len());
            let local: String = local.chars().take(room).collect();
            Value::Text(format!("{local}{suffix}{domain}"))
        }
        Gen::UniqueText { base } => {
            let mut rng = Rng::seed_from_u64(derive(col.key, g));
            let text = fake_text(base.unwrap_or(Faker::Word), &mut rng);
            let suffix = format!("-{}", base36(g));
            let max = col.bounds.max_len.map_or(usize::MAX, |m| m as usize);
            let room = max.saturating_sub(suffix.len());
            let head: String = text.chars().take(room).collect();
            let head = head.trim_end();
            // Padding goes before the suffix: the last `-` still marks the row number.
            let short = (col.bounds.min_len.unwrap_or(0) as usize).saturating_sub(head.chars().count() + suffix.len());
            Value::Text(format!("{head}{}{suffix}", "x".repeat(short.min(room))))
        }
        Gen::UniqueCode(space) => Value::Text(space.value(g)),
        Gen::UniquePattern(space) => text_to_value(space.value(g), &col.kind),
        Gen::UniqueTemplate(tpl) => {
            let mut rng = Rng::seed_from_u64(derive(col.key, g));
            text_to_value(render(tpl, g, &mut rng, &Persona::new(table.key, g)), &col.kind)
        }
        Gen::UniqueDate => {
            let base = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
            Value::Text((base + Duration::days(i64::try_from(g).unwrap_or(0))).to_string())
        }
        Gen::UniqueTimestamp { tz } => {
            let secs = 1_577_836_800i64
                .saturating_add(i64::try_from(g).unwrap_or(0).saturating_mul(60))
                .saturating_add(i64::try_from(mix64(col.key ^ g) % 60).unwrap_or(0));
            let t = Utc.timestamp_opt(secs, 0).single().unwrap_or_default();
            Value::Text(format_ts(&t, *tz))
        }
        Gen::UniqueNumeric { scale } => {
            let mut s = (g + 1).to_string();
            if *scale > 0 {
                let _ = write!(s, ".{}", "0".repeat(*scale as usize));
            }
            Value::Text(s)
        }
        Gen::UniqueBytes => {
            let mut b = g.to_be_bytes().to_vec();
            b.extend_from_slice(&mix64(col.key ^ g).to_be_bytes());
            Value::Bytes(b)
        }
        Gen::Foreign { group, component } if depth < 16 => {
            let grp = &table.groups[*group];
            match pick(plan, t, *group, i) {
                Some(p) => match &grp.parent {
                    ParentRef::Planned { table: pt, columns, .. } => {
                        key_value(plan, *pt, &plan.tables[*pt].columns[columns[*component]], p, depth + 1)
                    }
                    existing => parent_key(plan, existing, p, *component),
                },
                None => Value::Null,
            }
        }
        Gen::Const(v) => v.clone(),
        Gen::Slot { key, part, unit } => slot_value(*key, g, *part, *unit),
        _ => Value::Null,
    }
}

/// A template's text; its generators describe the row's person and place where they can
/// (`{first_name}.{last_name}@…` is the name of the row's `first_name` column).
fn render(t: &Template, global_index: u64, rng: &mut Rng, persona: &Persona) -> String {
    let mut out = String::new();
    for part in &t.parts {
        match part {
            TemplatePart::Literal(s) => out.push_str(s),
            TemplatePart::Index => {
                let _ = write!(out, "{}", global_index + 1);
            }
            TemplatePart::Generator(name) => {
                let f = faker_by_name(name).unwrap_or(Faker::Word);
                out.push_str(&persona.text(f, "").unwrap_or_else(|| fake_text(f, rng)));
            }
        }
    }
    out
}

fn faker_value(f: Faker, col: &ColumnPlan, rng: &mut Rng, persona: &Persona) -> Value {
    crate::factory::persona::faker_value(f, &col.kind, &col.name, &col.bounds, rng, persona)
}

fn partition_value(ranges: &[PartitionRange], rng: &mut Rng) -> Value {
    match &ranges[rng.random_range(0..ranges.len())] {
        PartitionRange::Time { from, to, tz } => {
            let secs = rng.random_range(*from..(*to).max(from + 1));
            Value::Text(format_ts(&Utc.timestamp_opt(secs, 0).single().unwrap_or_default(), *tz))
        }
        PartitionRange::Date { from, to } => {
            let day = rng.random_range(*from..(*to).max(from + 1));
            Value::Text((NaiveDate::default() + Duration::days(day)).to_string())
        }
        PartitionRange::Int { from, to } => Value::Int(rng.random_range(*from..(*to).max(from + 1))),
        PartitionRange::List(values) => Value::Text(values[rng.random_range(0..values.len())].clone()),
    }
}
