//! Unique values by construction. For a primary-key or unique column this picks a
//! generator whose values are a bijection of the row number, computes how many distinct
//! values the column really holds (its type, length and checks), and refuses before
//! anything is written when the rows need more, with a hint that works when followed.

use super::model::{ColumnPlan, Gen};
use crate::db::schema::{Table, TypeKind};
use crate::error::Error;
use crate::factory::codes::{CodeSpace, base36, code_capacity, describe_space};
use crate::factory::factories_file::TemplatePart;
use crate::factory::hash::Perm;
use crate::factory::values::Faker;

/// Readable unique text is a fake head plus `-` and the row number in base 36; below
/// this many head characters the column gets compact codes instead.
const MIN_HEAD: usize = 4;
const EMAIL_DOMAIN: &str = "@example.com";

/// Where a unique generator goes: the column, its table, the rows of this load and those
/// already there (`offset`), and the highest existing value of an integer key.
pub struct Slot<'a> {
    pub col: &'a ColumnPlan,
    pub table: &'a Table,
    pub count: u64,
    pub offset: u64,
    pub above: Option<i64>,
    /// "primary key of t" / "unique constraint t_code_key"
    pub what: &'a str,
}

impl Slot<'_> {
    fn column(&self) -> String {
        format!("{}.{}", self.table.name, self.col.name)
    }

    fn type_name(&self) -> &str {
        self.table.column(&self.col.name).map_or("?", |c| c.type_name.as_str())
    }

    fn error(&self, reason: String, hint: String) -> Error {
        Error::Generation {
            table: self.table.name.to_string(),
            reason: format!("{}: {reason}", self.what),
            hint: Some(hint),
        }
    }

    /// The ways out when `capacity` values are too few: fewer rows, an emptied table,
    /// a wider column. Never a template: it cannot add values the column cannot hold.
    fn hint(&self, capacity: u64, room: u64, widen: Option<String>) -> String {
        let mut ways = Vec::new();
        if room > 0 {
            ways.push(format!(
                "seed at most {} into {} (--table {}={room})",
                rows(room),
                self.table.name,
                self.table.name
            ));
        }
        if self.offset > 0 && self.count <= capacity {
            ways.push(format!(
                "add --truncate to empty {} first (then all {capacity} values are free)",
                self.table.name
            ));
        }
        ways.extend(widen);
        if ways.is_empty() {
            ways.push(format!("seed fewer rows into {}", self.table.name));
        }
        ways.join("; or ")
    }
}

fn rows(n: u64) -> String {
    if n == 1 { "1 row".to_owned() } else { format!("{n} rows") }
}

/// The generator that makes `slot`'s column unique by construction, or why it cannot.
pub fn unique_gen(slot: &Slot) -> Result<Gen, Error> {
    let col = slot.col;
    let total = slot.count.saturating_add(slot.offset);
    match &col.source {
        Gen::Template(t) if t.is_unique() => {
            // Cutting a unique template could merge two values: refuse one that cannot fit.
            let least: usize = t
                .parts
                .iter()
                .map(|part| match part {
                    TemplatePart::Literal(s) => s.chars().count(),
                    TemplatePart::Index => total.to_string().len(),
                    TemplatePart::Generator(_) => 0,
                })
                .sum();
            if let Some(max) = col.bounds.max_len.filter(|&m| least > m as usize) {
                return Err(slot.error(
                    format!(
                        "template \"{}\" makes values of at least {least} characters for row {total}, but {} ({}) holds at most {max}",
                        t.source,
                        slot.column(),
                        slot.type_name()
                    ),
                    format!("shorten the template's fixed text for {} in the factories file", slot.column()),
                ));
            }
            return Ok(Gen::UniqueTemplate(t.clone()));
        }
        Gen::Template(_) | Gen::Pick(_) | Gen::Const(_) | Gen::Null => {
            return Err(slot.error(
                format!("{} needs distinct values, but its factories rule repeats values", slot.column()),
                format!("give {} a template containing {{i}} in the factories file", slot.column()),
            ));
        }
        _ => {}
    }
    let base = match &col.source {
        Gen::Faker(f) => Some(*f),
        _ => None,
    };
    Ok(match &col.kind {
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => unique_int(slot)?,
        TypeKind::Uuid => Gen::UniqueUuid,
        TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. } => unique_text(slot, base)?,
        TypeKind::Date => Gen::UniqueDate,
        TypeKind::Timestamp => Gen::UniqueTimestamp { tz: false },
        TypeKind::TimestampTz => Gen::UniqueTimestamp { tz: true },
        TypeKind::Numeric { precision, scale } => {
            let scale = scale.unwrap_or(0);
            if let Some(p) = precision {
                // Whole numbers 1, 2, ... below 10^(p - s).
                let digits = p.saturating_sub(scale).min(18);
                let capacity = 10u64.pow(digits) - 1;
                if total > capacity {
                    return Err(slot.error(
                        format!(
                            "{} ({}) holds {capacity} distinct whole numbers, but {} need one each",
                            slot.column(),
                            slot.type_name(),
                            needing(slot)
                        ),
                        slot.hint(
                            capacity,
                            capacity.saturating_sub(slot.offset),
                            Some(format!("raise the precision of {}", slot.column())),
                        ),
                    ));
                }
            }
            Gen::UniqueNumeric { scale }
        }
        TypeKind::Bytea => Gen::UniqueBytes,
        other => {
            return Err(slot.error(
                format!("seed cannot make distinct values of type {other:?} for {}", slot.column()),
                format!("give {} a template containing {{i}} in a factories file", slot.column()),
            ));
        }
    })
}

/// "40000 rows", or "1000 new rows and 768 already there".
fn needing(slot: &Slot) -> String {
    match (slot.offset, slot.count) {
        (0, n) => rows(n),
        (old, 1) => format!("1 new row and {old} already there"),
        (old, n) => format!("{n} new rows and {old} already there"),
    }
}

fn unique_int(slot: &Slot) -> Result<Gen, Error> {
    let col = slot.col;
    let (type_min, type_max, wider) = match col.kind {
        TypeKind::SmallInt => (i128::from(i16::MIN), i128::from(i16::MAX), Some("integer")),
        TypeKind::Int => (i128::from(i32::MIN), i128::from(i32::MAX), Some("bigint")),
        _ => (i128::from(i64::MIN), i128::from(i64::MAX), None),
    };
    #[allow(clippy::cast_possible_truncation)]
    let lo = col.bounds.min.map_or(1, |m| m.ceil() as i128).clamp(type_min, type_max);
    #[allow(clippy::cast_possible_truncation)]
    let hi = col.bounds.max.map_or(type_max, |m| m.floor() as i128).clamp(type_min, type_max);
    let size = u64::try_from((hi - lo + 1).max(0)).unwrap_or(u64::MAX);
    let by_check = hi < type_max;
    let widen = if by_check {
        Some(format!("widen the CHECK range of {}", slot.column()))
    } else {
        wider.map(|w| format!("change the type of {} to {w}", slot.column()))
    };
    let i64_of = |v: i128| i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX });
    if col.bounds.max.is_some() {
        // Permuted within the check's range: rows already there took the first slots.
        let room = size.saturating_sub(slot.offset);
        if slot.count > room {
            return Err(slot.error(
                format!(
                    "{} ({}) holds {size} distinct values in [{lo}, {hi}], but {} need one each",
                    slot.column(),
                    slot.type_name(),
                    needing(slot)
                ),
                slot.hint(size, room, widen),
            ));
        }
        return Ok(Gen::UniqueInt { lo: i64_of(lo), hi: i64_of(hi), perm: Some(Perm::new(size, col.key)) });
    }
    // Counting up: from above the highest existing value, so gaps below cannot collide.
    let start = match slot.above {
        Some(max) => lo.max(i128::from(max) + 1),
        None => lo + i128::from(slot.offset),
    };
    let room = u64::try_from((hi - start + 1).max(0)).unwrap_or(u64::MAX);
    if slot.count > room {
        let left = match slot.above {
            Some(max) => format!(", and rows already there reach {max}: {room} left above it"),
            None => String::new(),
        };
        return Err(slot.error(
            format!(
                "{} ({}) holds {size} distinct values in [{lo}, {hi}]{left}, but {} need one each",
                slot.column(),
                slot.type_name(),
                rows(slot.count)
            ),
            slot.hint(size, room, widen),
        ));
    }
    let last = start + i128::from(slot.count) - 1;
    Ok(Gen::UniqueInt { lo: i64_of(start), hi: i64_of(last), perm: None })
}

fn unique_text(slot: &Slot, base: Option<Faker>) -> Result<Gen, Error> {
    let col = slot.col;
    let total = slot.count.saturating_add(slot.offset);
    let fits = |needed: usize| col.bounds.max_len.is_none_or(|m| m as usize >= needed);
    let email = base == Some(Faker::Email) || col.name.to_ascii_lowercase().contains("email");
    if email && fits(1 + total.to_string().len() + EMAIL_DOMAIN.len()) {
        return Ok(Gen::UniqueEmail);
    }
    if fits(MIN_HEAD + 1 + base36(total.saturating_sub(1)).len()) {
        // A cut-off address ("carlee@-1") reads worse than a user name.
        return Ok(Gen::UniqueText { base: if email { Some(Faker::Username) } else { base } });
    }
    let max_len = col.bounds.max_len.unwrap_or(u32::MAX);
    let space = CodeSpace::new(col.bounds.min_len.unwrap_or(0), max_len, col.key);
    if total > space.capacity {
        let next = code_capacity(space.min_len, max_len.saturating_add(1));
        return Err(slot.error(
            format!(
                "{} ({}) holds at most {max_len} characters: {} distinct values ({}), but {} need one each",
                slot.column(),
                slot.type_name(),
                space.capacity,
                describe_space(&space),
                needing(slot)
            ),
            slot.hint(
                space.capacity,
                space.capacity.saturating_sub(slot.offset),
                Some(format!("widen {} ({} characters hold {next})", slot.column(), max_len.saturating_add(1))),
            ),
        ));
    }
    Ok(Gen::UniqueCode(space))
}
