//! Turns a plan into rows. Every row is a function of (seed, table, row index): the
//! row's own RNG is seeded from its index, keys and picks come from `hash`.

use std::fmt::Write as _;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use fake::rand::{RngExt, SeedableRng};

use crate::factory::config::{Template, TemplatePart};
use crate::factory::hash::{derive, mix64, uuid_for};
use crate::factory::plan::{ColumnPlan, Gen, ParentRef, PartitionRange, Pick, Plan, TablePlan};
use crate::factory::unique::base36;
use crate::factory::values::{
    Faker, Rng, Value, clamp_len, fake_text, faker_by_name, fitted_number, fitted_text, format_ts, push_copy_value,
    text_to_value, typed_value,
};

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
        let picks: Vec<Option<u64>> = (0..table.groups.len()).map(|g| pick(self.plan, self.t, g, i)).collect();
        for col in &table.columns {
            out.push(self.value(col, i, &picks, &mut rng));
        }
    }

    fn value(&self, col: &ColumnPlan, i: u64, picks: &[Option<u64>], rng: &mut Rng) -> Value {
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
        if col.null_ratio > 0.0 && rng.random_bool(col.null_ratio) {
            return Value::Null;
        }
        match &col.source {
            Gen::Null => Value::Null,
            Gen::Const(v) => v.clone(),
            Gen::Pick(vs) => vs[rng.random_range(0..vs.len())].clone(),
            Gen::Template(t) => text_to_value(clamp_len(render(t, table.offset + i, rng), &col.bounds), &col.kind),
            Gen::Faker(f) => faker_value(*f, col, rng),
            Gen::Typed => typed_value(&col.kind, &col.name, &col.bounds, rng),
            Gen::Partition(ranges) => partition_value(ranges, rng),
            _ => key_value(self.plan, self.t, col, i, 0),
        }
    }

    /// Rows `range` as COPY text (tab-separated, `\N` for NULL, one row per line).
    pub fn write_copy(&self, range: std::ops::Range<u64>, buf: &mut Vec<u8>, scratch: &mut Vec<Value>) {
        for i in range {
            self.row(i, scratch);
            for (k, v) in scratch.iter().enumerate() {
                if k > 0 {
                    buf.push(b'\t');
                }
                push_copy_value(buf, v);
            }
            buf.push(b'\n');
        }
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

/// Which parent row (index) row `i` of table `t` references through group `g`.
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
            let mut rng = Rng::seed_from_u64(derive(col.key, g));
            let first: String = fake_text(Faker::FirstName, &mut rng);
            let last: String = fake_text(Faker::LastName, &mut rng);
            let local: String = format!("{first}.{last}")
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
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
        Gen::UniqueTemplate(tpl) => {
            let mut rng = Rng::seed_from_u64(derive(col.key, g));
            text_to_value(render(tpl, g, &mut rng), &col.kind)
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
        _ => Value::Null,
    }
}

fn render(t: &Template, global_index: u64, rng: &mut Rng) -> String {
    let mut out = String::new();
    for part in &t.parts {
        match part {
            TemplatePart::Literal(s) => out.push_str(s),
            TemplatePart::Index => {
                let _ = write!(out, "{}", global_index + 1);
            }
            TemplatePart::Generator(name) => out.push_str(&fake_text(faker_by_name(name).unwrap_or(Faker::Word), rng)),
        }
    }
    out
}

fn faker_value(f: Faker, col: &ColumnPlan, rng: &mut Rng) -> Value {
    use crate::db::schema::TypeKind;
    match (&col.kind, f) {
        (TypeKind::Json | TypeKind::Jsonb, Faker::Json) => Value::Text(fake_text(f, rng)),
        (TypeKind::Json | TypeKind::Jsonb, _) => Value::Text(serde_json::Value::String(fake_text(f, rng)).to_string()),
        (
            TypeKind::SmallInt
            | TypeKind::Int
            | TypeKind::BigInt
            | TypeKind::Real
            | TypeKind::Double
            | TypeKind::Numeric { .. }
            | TypeKind::Money,
            _,
        ) => fitted_number(&fake_text(f, rng), &col.kind, &col.name, &col.bounds, rng),
        _ => text_to_value(fitted_text(f, &col.bounds, rng), &col.kind),
    }
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
