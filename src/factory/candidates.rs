//! Values for check constraints seed does not read itself (`LIKE`, regular
//! expressions, `lower(x) = x`, several columns, function calls...). For each group of
//! columns such checks tie together, this proposes candidate rows built from the
//! columns' own generators, the literals in the checks (strings, numbers, `LIKE`/`GLOB`
//! patterns and regular expressions made concrete) and the comparisons between the
//! columns; the database then evaluates the checks on them (`commands::bulk::checks`)
//! and only the rows it accepts become the group's pool. Everything here is a pure
//! function of the plan, so the pool, like every row, depends only on the seed.

use chrono::NaiveDate;
use fake::rand::{RngExt, SeedableRng};

use crate::db::checks::{fully_understood, referenced_columns};
use crate::db::evaluate::check_body;
use crate::db::schema::TypeKind;
use crate::db::value::Value;
use crate::factory::hash::{derive, hash_str};
use crate::factory::pattern::Syntax;
use crate::factory::plan::{ColumnPlan, Gen, Origin, Pool, TablePlan};
use crate::factory::rows::free_value;
use crate::factory::values::{Faker, Rng, clamp_len, fake_text, text_to_value};

/// Candidates proposed per round; a group gets up to [`ROUNDS`] rounds.
pub const CANDIDATES: usize = 256;
pub const ROUNDS: u32 = 3;
/// A pool this large is enough: rows draw from it uniformly.
pub const ENOUGH: usize = 128;

/// Checks that tie some columns together, and what seed can do about them.
#[derive(Debug, Clone)]
pub struct CheckGroup {
    /// Columns (indexes into the table plan's columns) whose values come from the pool.
    pub columns: Vec<usize>,
    /// (name, text) of each check.
    pub checks: Vec<(String, String)>,
    /// Checks seed reads over the same columns: evaluated too, since candidates (a
    /// swapped pair, a mined number) may step outside what the generator kept to.
    pub guards: Vec<(String, String)>,
}

/// What to do with a table's checks seed does not read.
#[derive(Debug, Clone, Default)]
pub struct TableChecks {
    /// Groups of free columns: candidates, evaluated by the database.
    pub groups: Vec<CheckGroup>,
    /// Checks over columns whose values are fixed per row (keys, foreign keys, the
    /// factories file): the database checks a sample of the real rows before loading.
    pub sampled: Vec<(String, String)>,
    /// Checks over columns seed does not write (generated columns, left to defaults).
    pub unchecked: Vec<(String, String)>,
}

/// True when the column's values can be replaced by database-checked candidates.
fn is_free(c: &ColumnPlan) -> bool {
    c.origin != Origin::Factories
        && matches!(
            c.source,
            Gen::Faker(_)
                | Gen::Typed
                | Gen::Pick(_)
                | Gen::Template(_)
                | Gen::Const(_)
                | Gen::Weighted { .. }
                | Gen::Span(_)
                | Gen::JsonShape(_)
        )
}

/// Sorts the table's checks seed does not read by what can be done about them.
pub fn table_checks(tp: &TablePlan) -> TableChecks {
    let all: Vec<&str> = tp.table.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = TableChecks::default();
    let mut pending: Vec<(String, String, Vec<usize>)> = Vec::new();
    let unread = tp.table.checks.iter().filter(|(_, def)| !fully_understood(def, &all)).chain(tp.extra_checks.iter());
    for (name, def) in unread {
        let name = if name.is_empty() { "check".to_owned() } else { name.clone() };
        let refs = referenced_columns(def, &all);
        let planned: Vec<Option<usize>> = refs.iter().map(|r| tp.columns.iter().position(|c| c.name == *r)).collect();
        if refs.is_empty() || planned.iter().any(Option::is_none) {
            out.unchecked.push((name, def.clone()));
            continue;
        }
        let idx: Vec<usize> = planned.into_iter().flatten().collect();
        if idx.iter().all(|&i| is_free(&tp.columns[i])) {
            pending.push((name, def.clone(), idx));
        } else {
            out.sampled.push((name, def.clone()));
        }
    }
    // Checks sharing a column form one group: their pool must pass all of them.
    let mut groups: Vec<CheckGroup> = Vec::new();
    for (name, def, idx) in pending {
        let mut merged = CheckGroup { columns: idx, checks: vec![(name, def)], guards: vec![] };
        let mut k = 0;
        while k < groups.len() {
            if groups[k].columns.iter().any(|c| merged.columns.contains(c)) {
                let g = groups.remove(k);
                for c in g.columns {
                    if !merged.columns.contains(&c) {
                        merged.columns.push(c);
                    }
                }
                merged.checks.splice(0..0, g.checks);
            } else {
                k += 1;
            }
        }
        groups.push(merged);
    }
    for g in &mut groups {
        g.columns.sort_unstable();
        let names: Vec<&str> = g.columns.iter().map(|&c| tp.columns[c].name.as_str()).collect();
        for (name, def) in tp.table.checks.iter().filter(|(_, def)| fully_understood(def, &all)) {
            let refs = referenced_columns(def, &all);
            if !refs.is_empty() && refs.iter().all(|r| names.contains(r)) {
                g.guards.push((if name.is_empty() { "check".to_owned() } else { name.clone() }, def.clone()));
            }
        }
    }
    out.groups = groups;
    out
}

/// Literals and patterns mined from checks, by the operator they stand after.
#[derive(Debug, Clone, PartialEq)]
enum Mined {
    Text(String),
    Number(f64),
    Like { pattern: String },
    Glob(String),
    Regex { pattern: String, case_insensitive: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(String),
    Open,
    Close,
    Comma,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        text.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            // E'...' escapes are rare in checks; a stray E before a string is an identifier.
            if matches!(out.last(), Some(Tok::Ident(e)) if e.eq_ignore_ascii_case("e")) {
                out.pop();
            }
            out.push(Tok::Str(text));
        } else if c == '"' || c == '`' || (c == '[' && chars.get(i + 1).is_some_and(|n| n.is_alphabetic() || *n == '_'))
        {
            let close = if c == '[' { ']' } else { c };
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != close {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i.min(chars.len())].iter().collect()));
            i += 1;
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == 'e') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else {
            let start = i;
            while i < chars.len() && "<>=!~*&|:+-/%^#@?".contains(chars[i]) {
                i += 1;
            }
            if i == start {
                i += 1;
            }
            out.push(Tok::Op(chars[start..i].iter().collect()));
        }
    }
    out
}

/// What the checks' literals suggest, with the operator that gives them meaning.
fn mine(checks: &[(String, String)]) -> Vec<Mined> {
    let mut out = Vec::new();
    for (_, def) in checks {
        let toks = tokenize(check_body(def));
        for (i, t) in toks.iter().enumerate() {
            let prev = |back: usize| i.checked_sub(back).and_then(|j| toks.get(j));
            let op_before = match (prev(1), prev(2)) {
                (Some(Tok::Open), Some(Tok::Ident(f))) => Some(f.to_ascii_lowercase()),
                (Some(Tok::Op(o)), _) => Some(o.clone()),
                (Some(Tok::Ident(k)), Some(Tok::Ident(n))) if n.eq_ignore_ascii_case("not") => {
                    Some(k.to_ascii_uppercase())
                }
                (Some(Tok::Ident(k)), _) => Some(k.to_ascii_uppercase()),
                _ => None,
            };
            let item = match t {
                Tok::Str(s) => match op_before.as_deref() {
                    Some("~~" | "~~*" | "!~~" | "!~~*" | "LIKE" | "ILIKE") => Mined::Like { pattern: s.clone() },
                    Some("GLOB") => Mined::Glob(s.clone()),
                    Some("~" | "!~" | "REGEXP" | "RLIKE") => {
                        Mined::Regex { pattern: s.clone(), case_insensitive: false }
                    }
                    Some("~*" | "!~*") => Mined::Regex { pattern: s.clone(), case_insensitive: true },
                    Some("similar_to_escape") => Mined::Regex { pattern: similar_to_regex(s), case_insensitive: false },
                    Some("SIMILAR" | "TO") => Mined::Regex { pattern: similar_to_regex(s), case_insensitive: false },
                    Some("regexp_like") => Mined::Regex { pattern: s.clone(), case_insensitive: false },
                    _ => Mined::Text(s.clone()),
                },
                Tok::Num(n) => match n.parse::<f64>() {
                    Ok(v) => Mined::Number(if matches!(prev(1), Some(Tok::Op(o)) if o == "-") { -v } else { v }),
                    Err(_) => continue,
                },
                _ => continue,
            };
            if !out.contains(&item) {
                out.push(item);
            }
        }
    }
    out
}

/// The first pattern (`LIKE`, `GLOB`, regular expression) that checks seed does not
/// read put on `column` alone: a unique column matching it gets values of its pattern
/// space (`factory::pattern`).
pub fn column_pattern(table_checks: &[(String, String)], columns: &[&str], column: &str) -> Option<(String, Syntax)> {
    for (name, def) in table_checks {
        if fully_understood(def, columns) || referenced_columns(def, columns) != [column] {
            continue;
        }
        for m in mine(&[(name.clone(), def.clone())]) {
            match m {
                Mined::Like { pattern } => return Some((pattern, Syntax::Like)),
                Mined::Glob(pattern) => return Some((pattern, Syntax::Glob)),
                Mined::Regex { pattern, case_insensitive } => {
                    return Some((pattern, Syntax::Regex { case_insensitive }));
                }
                _ => {}
            }
        }
    }
    None
}

/// SQL's SIMILAR TO pattern as a regular expression (anchored: it matches whole values).
fn similar_to_regex(p: &str) -> String {
    let mut out = String::from("^(?:");
    for c in p.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '.' | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.push_str(")$");
    out
}

/// Comparisons between two of the group's columns (`end_at > start_at`): candidates
/// are ordered to satisfy them before the database sees them.
fn orderings(checks: &[(String, String)], names: &[&str]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (_, def) in checks {
        let toks = tokenize(check_body(def));
        for (i, t) in toks.iter().enumerate() {
            let Tok::Op(op) = t else { continue };
            if !matches!(op.as_str(), "<" | "<=" | ">" | ">=") {
                continue;
            }
            // Left: skip `)` and `::type` casts back to an identifier.
            let mut j = i;
            let left = loop {
                if j == 0 {
                    break None;
                }
                j -= 1;
                match &toks[j] {
                    Tok::Close => {}
                    Tok::Ident(id) if j >= 1 && toks[j - 1] == Tok::Op("::".into()) => j -= 1,
                    Tok::Ident(id) => break Some(id.clone()),
                    _ => break None,
                }
                let _ = j;
            };
            let mut k = i + 1;
            while toks.get(k) == Some(&Tok::Open) {
                k += 1;
            }
            let right = match toks.get(k) {
                Some(Tok::Ident(id)) if toks.get(k + 1) != Some(&Tok::Open) => Some(id.clone()),
                _ => None,
            };
            let find = |id: &str| names.iter().find(|n| n.eq_ignore_ascii_case(id)).map(|n| (*n).to_owned());
            if let (Some(l), Some(r)) = (left.as_deref().and_then(find), right.as_deref().and_then(find))
                && l != r
            {
                out.push((l, op.clone(), r));
            }
        }
    }
    out
}

/// Round `round`'s candidates for `group`: one row of values per candidate, in the
/// order of `group.columns`.
pub fn candidates(tp: &TablePlan, group: &CheckGroup, round: u32) -> Vec<Vec<Value>> {
    let mined = mine(&group.checks);
    let names: Vec<&str> = group.columns.iter().map(|&c| tp.columns[c].name.as_str()).collect();
    let orders = orderings(&group.checks, &names);
    let signature = group.checks.iter().map(|(n, d)| format!("{n}:{d}")).collect::<Vec<_>>().join("|");
    let key = derive(tp.key, hash_str(&signature) ^ u64::from(round));
    let (null_pct, literal_pct) = match round {
        0 => (8, 30),
        1 => (30, 55),
        _ => (50, 75),
    };
    let mut out = Vec::with_capacity(CANDIDATES);
    for k in 0..CANDIDATES as u64 {
        let mut rng = Rng::seed_from_u64(derive(key, k));
        let mut row: Vec<Value> = group
            .columns
            .iter()
            .map(|&c| {
                candidate(
                    &tp.columns[c],
                    tp.table.column(&tp.columns[c].name).is_some_and(|col| col.nullable),
                    &mined,
                    tp.offset + k,
                    null_pct,
                    literal_pct,
                    &mut rng,
                )
            })
            .collect();
        for (a, op, b) in &orders {
            let (Some(ia), Some(ib)) = (names.iter().position(|n| n == a), names.iter().position(|n| n == b)) else {
                continue;
            };
            if tp.columns[group.columns[ia]].kind != tp.columns[group.columns[ib]].kind {
                continue;
            }
            if let Some(ord) = compare(&row[ia], &row[ib]) {
                let holds = match op.as_str() {
                    "<" => ord.is_lt(),
                    "<=" => ord.is_le(),
                    ">" => ord.is_gt(),
                    _ => ord.is_ge(),
                };
                if !holds {
                    row.swap(ia, ib);
                }
            }
        }
        out.push(row);
    }
    out
}

/// Orders two values of one kind: numbers as numbers, ISO dates and times as text.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let num = |v: &Value| match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Text(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return x.partial_cmp(&y);
    }
    match (a, b) {
        (Value::Text(x), Value::Text(y)) if x.len() == y.len() && looks_iso(x) && looks_iso(y) => Some(x.cmp(y)),
        _ => None,
    }
}

fn looks_iso(s: &str) -> bool {
    s.len() >= 10 && NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").is_ok()
}

fn candidate(
    col: &ColumnPlan,
    nullable: bool,
    mined: &[Mined],
    index: u64,
    null_pct: u32,
    literal_pct: u32,
    rng: &mut Rng,
) -> Value {
    let roll = rng.random_range(0..100u32);
    if nullable && roll < null_pct {
        return Value::Null;
    }
    let own = |rng: &mut Rng| {
        let mut plain = col.clone();
        plain.null_ratio = 0.0;
        free_value(&plain, index, rng, &crate::factory::persona::Persona::new(plain.key, index)).unwrap_or(Value::Null)
    };
    let texty = matches!(col.kind, TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. });
    let usable: Vec<&Mined> = mined.iter().filter(|m| suits(m, &col.kind)).collect();
    let numbers: Vec<f64> =
        mined.iter().filter_map(|m| if let Mined::Number(n) = m { Some(*n) } else { None }).collect();
    let roll = rng.random_range(0..100u32);
    if roll < literal_pct / 3 && numbers.len() >= 2 && is_number(&col.kind) {
        // Between two of the checks' numbers (`x >= 0 AND x <= 100` inside an OR).
        let a = numbers[rng.random_range(0..numbers.len())];
        let b = numbers[rng.random_range(0..numbers.len())];
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let v = if hi > lo { rng.random_range(lo..=hi) } else { lo };
        return number_value(v, &col.kind);
    }
    if roll < literal_pct && !usable.is_empty() {
        let m = usable[rng.random_range(0..usable.len())];
        if let Some(v) = from_mined(m, col, &own(rng), rng) {
            return v;
        }
    } else if roll < literal_pct + 15
        && texty
        && let Value::Text(s) = own(rng)
    {
        let t = match rng.random_range(0..3u8) {
            0 => s.to_lowercase(),
            1 => s.to_uppercase(),
            _ => s.trim().to_owned(),
        };
        return Value::Text(clamp_len(t, &col.bounds));
    }
    own(rng)
}

/// Whether a mined item can make a value of `kind`.
fn suits(m: &Mined, kind: &TypeKind) -> bool {
    match kind {
        TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. } | TypeKind::Json | TypeKind::Jsonb => {
            true
        }
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt | TypeKind::Real | TypeKind::Double => {
            matches!(m, Mined::Number(_)) || matches!(m, Mined::Text(s) if s.trim().parse::<f64>().is_ok())
        }
        TypeKind::Numeric { .. } | TypeKind::Money => {
            matches!(m, Mined::Number(_)) || matches!(m, Mined::Text(s) if s.trim().parse::<f64>().is_ok())
        }
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => matches!(m, Mined::Text(s) if looks_iso(s)),
        TypeKind::Enum { labels } => matches!(m, Mined::Text(s) if labels.contains(s)),
        TypeKind::Bool => matches!(m, Mined::Text(s) if matches!(s.as_str(), "t" | "f" | "true" | "false")),
        _ => false,
    }
}

/// A value of `col` built from a mined literal or pattern.
fn from_mined(m: &Mined, col: &ColumnPlan, own: &Value, rng: &mut Rng) -> Option<Value> {
    let own_text = match own {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => fake_text(Faker::Word, rng).to_lowercase(),
    };
    let text = match m {
        Mined::Number(n) => {
            let v = match rng.random_range(0..5u8) {
                0 | 1 => *n,
                2 => n + 1.0,
                3 => n - 1.0,
                _ => n * 2.0 + 1.0,
            };
            return Some(number_value(v, &col.kind));
        }
        Mined::Text(s) => match (&col.kind, rng.random_range(0..4u8)) {
            (TypeKind::Json | TypeKind::Jsonb, _) => json_with_key(own, s),
            (TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. }, 1) => format!("{s}{own_text}"),
            (TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. }, 2) => format!("{own_text}{s}"),
            _ => s.clone(),
        },
        Mined::Like { pattern } => like_value(pattern, rng),
        Mined::Glob(pattern) => glob_value(pattern, rng),
        Mined::Regex { pattern, case_insensitive } => regex_value(pattern, *case_insensitive, rng)?,
    };
    let text = clamp_len(text, &col.bounds);
    Some(match &col.kind {
        #[allow(clippy::cast_possible_truncation)]
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => {
            Value::Int(text.trim().parse::<f64>().ok()?.round() as i64)
        }
        TypeKind::Real | TypeKind::Double => Value::Float(text.trim().parse().ok()?),
        TypeKind::Numeric { .. } | TypeKind::Money => Value::Text(text.trim().parse::<f64>().ok()?.to_string()),
        kind => text_to_value(text, kind),
    })
}

fn is_number(kind: &TypeKind) -> bool {
    matches!(
        kind,
        TypeKind::SmallInt
            | TypeKind::Int
            | TypeKind::BigInt
            | TypeKind::Real
            | TypeKind::Double
            | TypeKind::Numeric { .. }
            | TypeKind::Money
    )
}

#[allow(clippy::cast_possible_truncation)]
fn number_value(v: f64, kind: &TypeKind) -> Value {
    match kind {
        TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt => Value::Int(v.round() as i64),
        TypeKind::Real | TypeKind::Double => Value::Float(v),
        TypeKind::Numeric { scale, .. } => {
            Value::Text(format!("{v:.prec$}", prec = scale.unwrap_or(2).min(6) as usize))
        }
        _ => Value::Text(if v.fract() == 0.0 { format!("{v:.0}") } else { v.to_string() }),
    }
}

/// The generator's JSON object with `key` added (for checks like `data ? 'key'`).
fn json_with_key(own: &Value, key: &str) -> String {
    let mut obj = match own {
        Value::Text(s) => serde_json::from_str::<serde_json::Value>(s).ok().filter(serde_json::Value::is_object),
        _ => None,
    }
    .unwrap_or_else(|| serde_json::json!({}));
    if let Some(map) = obj.as_object_mut() {
        map.insert(key.to_owned(), serde_json::Value::String(key.to_owned()));
        map.sort_keys();
    }
    obj.to_string()
}

fn word(rng: &mut Rng) -> String {
    fake_text(Faker::Word, rng).to_lowercase()
}

/// A value a LIKE pattern matches: `%` becomes a word or nothing (a blank between the
/// word and a letter next to it, so text stays readable), `_` one character.
fn like_value(pattern: &str, rng: &mut Rng) -> String {
    let mut out = String::new();
    let all: Vec<char> = pattern.chars().collect();
    let mut chars = pattern.chars().enumerate();
    while let Some((i, c)) = chars.next() {
        match c {
            '%' => {
                if rng.random_bool(0.6) {
                    let before = out.chars().last().is_some_and(char::is_alphanumeric);
                    let after = all.get(i + 1).is_some_and(|c| c.is_alphanumeric());
                    if before {
                        out.push(' ');
                    }
                    out.push_str(&word(rng));
                    if after {
                        out.push(' ');
                    }
                }
            }
            '_' => out.push(char::from(b'a' + rng.random_range(0..26u8))),
            '\\' => out.extend(chars.next().map(|(_, c)| c)),
            c => out.push(c),
        }
    }
    out
}

/// A value a GLOB pattern matches: `*`, `?` and `[...]` made concrete.
fn glob_value(pattern: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if rng.random_bool(0.6) {
                    out.push_str(&word(rng));
                }
            }
            '?' => out.push(char::from(b'a' + rng.random_range(0..26u8))),
            '[' => {
                let mut j = i + 1;
                let negated = chars.get(j) == Some(&'^');
                if negated {
                    j += 1;
                }
                let start = j;
                // A `]` right after `[` (or `[^`) is part of the set.
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                let set = expand_set(&chars[start..j.min(chars.len())]);
                let pick = if negated {
                    let pool: Vec<char> = ('a'..='z').chain('0'..='9').filter(|c| !set.contains(c)).collect();
                    pool.get(rng.random_range(0..pool.len().max(1))).copied()
                } else {
                    set.get(rng.random_range(0..set.len().max(1))).copied()
                };
                out.extend(pick);
                i = j;
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// `a-z0-9_` -> every character of the set (ranges bounded to keep it small).
fn expand_set(spec: &[char]) -> Vec<char> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < spec.len() {
        if i + 2 < spec.len() && spec[i + 1] == '-' {
            let (a, b) = (u32::from(spec[i]), u32::from(spec[i + 2]));
            out.extend((a..=b.min(a + 512)).filter_map(char::from_u32));
            i += 3;
        } else {
            out.push(spec[i]);
            i += 1;
        }
    }
    out
}

/// A value the regular expression matches, or `None` when it cannot be read.
fn regex_value(pattern: &str, case_insensitive: bool, rng: &mut Rng) -> Option<String> {
    // POSIX classes spelled the way PostgreSQL also accepts.
    let pattern = pattern.replace("[[:<:]]", "\\b").replace("[[:>:]]", "\\b");
    let hir = regex_syntax::ParserBuilder::new()
        .case_insensitive(case_insensitive)
        .unicode(true)
        .nest_limit(64)
        .build()
        .parse(&pattern)
        .ok()?;
    let mut out = String::new();
    emit(&hir, rng, &mut out, 0);
    Some(out)
}

fn emit(h: &regex_syntax::hir::Hir, rng: &mut Rng, out: &mut String, depth: u32) {
    use regex_syntax::hir::{Class, HirKind};
    if depth > 64 || out.len() > 4096 {
        return;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
        HirKind::Class(Class::Unicode(class)) => {
            let ranges: Vec<(u32, u32)> =
                class.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect();
            out.extend(pick_char(&ranges, rng));
        }
        HirKind::Class(Class::Bytes(class)) => {
            let ranges: Vec<(u32, u32)> =
                class.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect();
            out.extend(pick_char(&ranges, rng));
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min.saturating_add(4)).min(rep.min.saturating_add(6)).min(64);
            let n = if max > rep.min { rng.random_range(rep.min..=max) } else { rep.min.min(64) };
            for _ in 0..n {
                emit(&rep.sub, rng, out, depth + 1);
            }
        }
        HirKind::Capture(cap) => emit(&cap.sub, rng, out, depth + 1),
        HirKind::Concat(parts) => {
            for p in parts {
                emit(p, rng, out, depth + 1);
            }
        }
        HirKind::Alternation(alts) => {
            if !alts.is_empty() {
                emit(&alts[rng.random_range(0..alts.len())], rng, out, depth + 1);
            }
        }
    }
}

/// A character from `ranges`, preferring printable ASCII letters and digits.
fn pick_char(ranges: &[(u32, u32)], rng: &mut Rng) -> Option<char> {
    let preferred: Vec<(u32, u32)> = [(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a), (0x20, 0x7e)]
        .iter()
        .flat_map(|&(lo, hi)| {
            ranges.iter().filter_map(move |&(a, b)| (a.max(lo) <= b.min(hi)).then_some((a.max(lo), b.min(hi))))
        })
        .collect();
    let pool = if preferred.is_empty() { ranges.to_vec() } else { preferred };
    let (a, b) = *pool.get(rng.random_range(0..pool.len().max(1)))?;
    char::from_u32(rng.random_range(a..=b.min(a + 0x10000)))
}

/// Makes the columns of `group` draw whole tuples from the database-checked `tuples`.
pub fn install(tp: &mut TablePlan, group: &CheckGroup, tuples: Vec<Vec<Value>>, tried: usize) {
    let pool = tp.pools.len();
    let key = derive(tp.key, 0x9001 ^ pool as u64);
    for (component, &c) in group.columns.iter().enumerate() {
        let col = &mut tp.columns[c];
        col.source = Gen::Pool { pool, component };
        col.null_ratio = 0.0;
        col.origin = Origin::DbChecked;
    }
    tp.pools.push(Pool {
        columns: group.columns.clone(),
        tuples,
        checks: group.checks.iter().map(|(n, _)| n.clone()).collect(),
        tried,
        key,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> Rng {
        Rng::seed_from_u64(7)
    }

    #[test]
    fn literals_and_patterns_are_mined_with_their_operator() {
        let checks = vec![(
            "c".to_owned(),
            "CHECK ((((title)::text ~~ '%Trailers%'::text) AND (code ~ '^[A-Z]{3}-\\d{2}$'::text) AND (n > -5)))"
                .to_owned(),
        )];
        let m = mine(&checks);
        assert!(m.contains(&Mined::Like { pattern: "%Trailers%".into() }), "{m:?}");
        assert!(m.contains(&Mined::Regex { pattern: "^[A-Z]{3}-\\d{2}$".into(), case_insensitive: false }), "{m:?}");
        assert!(m.contains(&Mined::Number(-5.0)), "{m:?}");
        let sqlite = vec![("c".to_owned(), "(sku GLOB '[A-Z][A-Z]-[0-9]*' AND name NOT LIKE 'x_%')".to_owned())];
        let m = mine(&sqlite);
        assert!(m.contains(&Mined::Glob("[A-Z][A-Z]-[0-9]*".into())), "{m:?}");
        assert!(m.contains(&Mined::Like { pattern: "x_%".into() }), "{m:?}");
    }

    #[test]
    fn patterns_made_concrete_match() {
        let mut r = rng();
        for _ in 0..50 {
            let v = like_value("%Trailers%", &mut r);
            assert!(v.contains("Trailers"), "{v}");
            let g = glob_value("[A-Z][A-Z]-[0-9]*", &mut r);
            let b: Vec<char> = g.chars().collect();
            assert!(
                b[0].is_ascii_uppercase() && b[1].is_ascii_uppercase() && b[2] == '-' && b[3].is_ascii_digit(),
                "{g}"
            );
            let x = regex_value("^[A-Z]{3}-\\d{2}$", false, &mut r).unwrap();
            assert_eq!(x.len(), 6, "{x}");
            assert!(
                x[..3].bytes().all(|c| c.is_ascii_uppercase()) && x[4..].bytes().all(|c| c.is_ascii_digit()),
                "{x}"
            );
            let e = regex_value("^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", false, &mut r).unwrap();
            assert!(e.contains('@'), "{e}");
        }
        assert_eq!(similar_to_regex("ab%"), "^(?:ab.*)$");
    }

    #[test]
    fn comparisons_between_columns_are_found() {
        let checks = vec![
            ("a".to_owned(), "CHECK ((end_at > start_at))".to_owned()),
            ("b".to_owned(), "CHECK (((price)::numeric >= cost))".to_owned()),
        ];
        let o = orderings(&checks, &["start_at", "end_at", "price", "cost"]);
        assert_eq!(
            o,
            vec![
                ("end_at".to_owned(), ">".to_owned(), "start_at".to_owned()),
                ("price".to_owned(), ">=".to_owned(), "cost".to_owned())
            ]
        );
    }
}
