//! One value through one rule: [`Masker`] holds a rule made concrete for a group of
//! columns (its key, and the type, bounds and checks every column of the group accepts)
//! and turns a field's text into the masked text.
//!
//! NULL stays NULL under every rule (it holds nothing to hide, and a NULL foreign key
//! must stay one). A keyed rule seeds the generator with the value's keyed hash, so the
//! output is a function of the input value, the rule and the key alone. A masked value
//! never equals its input when the rule can avoid it (`fake`, `scramble`, `shift` draw
//! again). A column in a unique key gets an injective function: integers a keyed
//! permutation of their range, text a 64-bit keyed tag in the value (`fake`), the
//! hash's hex digits (`hash`) or `{n}` (`template`).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use fake::rand::RngExt;

use super::key::RuleKey;
use super::memo::Memo;
use super::redact;
use super::rules::{Rule, Shift, TemplatePart};
use crate::db::schema::TypeKind;
use crate::db::value::Value;
use crate::factory::values::{Bounds, Faker, Rng, clamp_len, fake_text, faker_value, fitted_text};

/// Characters of the tag that keeps a generated value distinct (64 bits in base 32).
pub const TAG_CHARS: u32 = 13;
/// Hex digits `hash` needs in a unique text column (64 bits).
pub const HASH_DISTINCT_CHARS: u32 = 16;
/// Draws before a rule gives up avoiding its input.
const REDRAWS: u32 = 8;

/// What a value of a group's columns may be.
#[derive(Debug, Clone)]
pub struct Shape {
    pub kind: TypeKind,
    pub bounds: Bounds,
    /// The values an `IN (...)` check allows.
    pub one_of: Option<Vec<String>>,
    /// Part of a unique key: distinct inputs must give distinct outputs.
    pub distinct: bool,
    /// A column name, for the generator's hints (e.g. money, ages).
    pub column: String,
}

/// Why a value could not be masked. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault(pub &'static str);

/// A rule made concrete for one group of columns.
#[derive(Debug, Clone)]
pub struct Masker {
    pub rule: Rule,
    pub shape: Shape,
    pub key: Option<RuleKey>,
}

impl Masker {
    /// The key the rule needs; `None` until bound (a dry run never binds one).
    fn key(&self) -> Result<&RuleKey, Fault> {
        self.key.as_ref().ok_or(Fault("no masking key"))
    }

    /// Whether distinct inputs always give distinct outputs, by construction (no need
    /// to watch for collisions).
    pub fn injective(&self) -> bool {
        matches!((&self.rule, &self.shape.kind), (Rule::Hash | Rule::Scramble, k) if is_integer(k))
            || matches!(self.rule, Rule::Keep)
    }

    /// The masked text of a non-NULL `input`; `None` for NULL.
    pub fn apply(&self, input: &str) -> Result<Option<String>, Fault> {
        let kind = &self.shape.kind;
        Ok(Some(match &self.rule {
            Rule::Keep => input.to_owned(),
            Rule::Null => return Ok(None),
            Rule::Fixed(v) => v.clone(),
            Rule::Redact => redact::redact(input),
            Rule::Scramble => self.scramble(input)?,
            Rule::Hash => self.hash(input)?,
            Rule::Fake(f) => self.fake(*f, input)?,
            Rule::Shift(s) => self.shift(*s, input)?,
            Rule::Template(_) => self.template(input)?,
            Rule::JsonLeaves if matches!(kind, TypeKind::Json | TypeKind::Jsonb) || is_text(kind) => {
                self.json_leaves(input)?
            }
            Rule::JsonLeaves => return Err(Fault("not a JSON column")),
        }))
    }

    /// Every string of the document replaced by words of about its length (an email by an
    /// email), every number's digits scrambled.
    pub fn json_leaves(&self, doc: &str) -> Result<String, Fault> {
        self.json_leaves_with(doc, &mut Memo::off())
    }

    /// `json_leaves`, with the strings' masked forms remembered in `memo` (a document's
    /// tags and labels repeat across rows; its sentences do not).
    pub fn json_leaves_with(&self, doc: &str, memo: &mut Memo) -> Result<String, Fault> {
        let mut v: serde_json::Value = serde_json::from_str(doc).map_err(|_| Fault("not a JSON document"))?;
        json_leaf(self, &mut v, memo)?;
        Ok(v.to_string())
    }

    /// The value text the PRF sees: integers in canonical form (`007` and `7` alike, and
    /// an int4 key and the int8 column referencing it alike), anything else as stored.
    fn canonical<'a>(&self, input: &'a str) -> std::borrow::Cow<'a, str> {
        if is_integer(&self.shape.kind)
            && let Ok(v) = input.trim().parse::<i64>()
        {
            return v.to_string().into();
        }
        input.into()
    }

    fn rng(&self, input: &str, round: u32) -> Result<Rng, Fault> {
        Ok(self.key()?.rng(self.canonical(input).as_bytes(), round))
    }

    fn pick_allowed(&self, input: &str) -> Result<Option<String>, Fault> {
        let Some(list) = self.shape.one_of.as_ref().filter(|l| !l.is_empty()) else { return Ok(None) };
        let bits = self.key()?.prf(self.canonical(input).as_bytes());
        #[allow(clippy::cast_possible_truncation)]
        Ok(Some(list[(bits % list.len() as u128) as usize].clone()))
    }

    fn fake(&self, f: Faker, input: &str) -> Result<String, Fault> {
        if let Some(v) = self.pick_allowed(input)? {
            return Ok(v);
        }
        let s = &self.shape;
        if s.distinct {
            let tag = tag(self.key()?.prf(self.canonical(input).as_bytes()));
            let mut rng = self.rng(input, 0)?;
            return Ok(tagged(&fake_text(f, &mut rng), &tag, s.bounds.max_len));
        }
        let mut out = String::new();
        for round in 0..REDRAWS {
            let mut rng = self.rng(input, round)?;
            out = value_text(faker_value(f, &s.kind, &s.column, &s.bounds, &mut rng));
            if !same(&out, input) {
                break;
            }
        }
        Ok(out)
    }

    fn hash(&self, input: &str) -> Result<String, Fault> {
        let key = *self.key()?;
        let canonical = self.canonical(input);
        let bits = key.prf(canonical.as_bytes());
        let kind = &self.shape.kind;
        match kind {
            k if is_integer(k) => {
                let v: i64 = canonical.parse().map_err(|_| Fault("not an integer"))?;
                let (lo, hi) = self.int_range();
                if v < lo || v > hi {
                    return Err(Fault("an integer outside the range its type and checks allow"));
                }
                Ok(permute(&key, v, lo, hi).to_string())
            }
            TypeKind::Uuid => {
                let mut b = bits.to_le_bytes();
                b[6] = (b[6] & 0x0f) | 0x40;
                b[8] = (b[8] & 0x3f) | 0x80;
                Ok(uuid::Uuid::from_bytes(b).to_string())
            }
            TypeKind::Bytea => {
                let more = key.prf(&[canonical.as_bytes(), b"\x00more"].concat());
                Ok(format!("\\x{bits:032x}{more:032x}"))
            }
            TypeKind::Inet => {
                Ok(format!("10.{}.{}.{}", (bits >> 8) & 0xff, (bits >> 16) & 0xff, 1 + (bits >> 24) % 254))
            }
            TypeKind::MacAddr => {
                let b = bits.to_le_bytes();
                Ok(format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0] & 0xfe, b[1], b[2], b[3], b[4], b[5]))
            }
            TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double | TypeKind::Money => {
                let mut rng = self.rng(input, 0)?;
                Ok(value_text(crate::factory::values::typed_value(
                    kind,
                    &self.shape.column,
                    &self.shape.bounds,
                    &mut rng,
                )))
            }
            _ => {
                if let Some(v) = self.pick_allowed(input)? {
                    return Ok(v);
                }
                let hex = format!("{bits:032x}");
                let max = self.shape.bounds.max_len.map_or(32, |m| m.clamp(1, 32)) as usize;
                let out = clamp_len(hex[..max].to_owned(), &self.shape.bounds);
                Ok(out)
            }
        }
    }

    /// Lowest and highest value of an integer group: its type's range within its checks.
    pub fn int_range(&self) -> (i64, i64) {
        let (tlo, thi) = match self.shape.kind {
            TypeKind::SmallInt => (i64::from(i16::MIN), i64::from(i16::MAX)),
            TypeKind::Int => (i64::from(i32::MIN), i64::from(i32::MAX)),
            _ => (i64::MIN, i64::MAX),
        };
        #[allow(clippy::cast_possible_truncation)]
        let lo = self.shape.bounds.min.map_or(tlo, |m| (m.ceil() as i64).max(tlo));
        #[allow(clippy::cast_possible_truncation)]
        let hi = self.shape.bounds.max.map_or(thi, |m| (m.floor() as i64).min(thi));
        (lo, hi.max(lo))
    }

    /// A keyed bijection on values of one shape (integers: of one digit count within
    /// the column's range; text: of one pattern of letter cases and digits, other
    /// characters kept), so distinct values stay distinct; values with more than 2^62
    /// shapes-worth of letters and digits get random ones of their class instead.
    fn scramble(&self, input: &str) -> Result<String, Fault> {
        if let Some(v) = self.pick_allowed(input)? {
            return Ok(v);
        }
        let key = *self.key()?;
        if is_integer(&self.shape.kind) {
            let v: i64 = input.trim().parse().map_err(|_| Fault("not an integer"))?;
            let (lo, hi) = self.int_range();
            let digits = v.unsigned_abs().checked_ilog10().unwrap_or(0);
            let (dlo, dhi) =
                if digits == 0 { (0, 9) } else { (10i64.pow(digits), 10i64.saturating_pow(digits + 1) - 1) };
            let (dlo, dhi) = if v < 0 { (-dhi, -dlo) } else { (dlo, dhi) };
            let (a, b) = (dlo.max(lo), dhi.min(hi));
            if a > b || v < a || v > b {
                return Err(Fault("an integer outside the range its type and checks allow"));
            }
            return Ok(permute(&key, v, a, b).to_string());
        }
        let out = match redact::scramble_bijective(input, &|x, n| permute(&key, x, 0, n - 1)) {
            Some(out) => out,
            None => {
                let mut out = String::new();
                for round in 0..REDRAWS {
                    out = redact::scramble(input, &mut self.rng(input, round)?);
                    if out != input {
                        break;
                    }
                }
                out
            }
        };
        if !self.number_fits(&out) {
            return Err(Fault("a scrambled number does not fit the column's range"));
        }
        Ok(out)
    }

    fn number_fits(&self, text: &str) -> bool {
        let k = &self.shape.kind;
        if !(is_integer(k) || matches!(k, TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double)) {
            return true;
        }
        let Ok(v) = text.trim().parse::<f64>() else { return false };
        if is_integer(k) {
            let (lo, hi) = self.int_range();
            return text.trim().parse::<i64>().is_ok_and(|i| (lo..=hi).contains(&i));
        }
        self.shape.bounds.min.is_none_or(|m| v >= m) && self.shape.bounds.max.is_none_or(|m| v <= m)
    }

    fn shift(&self, shift: Shift, input: &str) -> Result<String, Fault> {
        let trimmed = input.trim();
        if matches!(trimmed, "infinity" | "-infinity" | "NaN") {
            return Ok(input.to_owned());
        }
        let mut rng = self.rng(input, 0)?;
        match (shift, &self.shape.kind) {
            (Shift::Seconds(s), TypeKind::Date) => {
                let days = i64::try_from((s / 86_400).max(1)).unwrap_or(i64::MAX);
                let d =
                    NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").map_err(|_| Fault("not a date seed can shift"))?;
                let by = nonzero(&mut rng, days);
                let out = d.checked_add_signed(Duration::days(by)).ok_or(Fault("a date shifted out of range"))?;
                Ok(out.format("%Y-%m-%d").to_string())
            }
            (Shift::Seconds(s), _) => {
                let (t, rest) = parse_timestamp(trimmed).ok_or(Fault("not a timestamp seed can shift"))?;
                let by = nonzero(&mut rng, i64::try_from(s).unwrap_or(i64::MAX));
                let out = t.checked_add_signed(Duration::seconds(by)).ok_or(Fault("a time shifted out of range"))?;
                let sep =
                    if trimmed.as_bytes().get(10) == Some(&b'T') { "%Y-%m-%dT%H:%M:%S" } else { "%Y-%m-%d %H:%M:%S" };
                Ok(format!("{}{rest}", out.format(sep)))
            }
            (Shift::Percent(_) | Shift::Amount(_), _) => self.shift_number(shift, trimmed, &mut rng),
        }
    }

    fn shift_number(&self, shift: Shift, text: &str, rng: &mut Rng) -> Result<String, Fault> {
        let v: f64 = text.parse().map_err(|_| Fault("not a number seed can shift"))?;
        let width = match shift {
            Shift::Percent(p) => v.abs() * p / 100.0,
            Shift::Amount(a) => a,
            Shift::Seconds(_) => 0.0,
        };
        let mut u: f64 = rng.random_range(-1.0..=1.0);
        if u == 0.0 {
            u = 1.0;
        }
        let (lo, hi) = (self.shape.bounds.min.unwrap_or(f64::MIN), self.shape.bounds.max.unwrap_or(f64::MAX));
        if is_integer(&self.shape.kind) {
            let (ilo, ihi) = self.int_range();
            let i: i64 = text.parse().map_err(|_| Fault("not an integer"))?;
            #[allow(clippy::cast_possible_truncation)]
            let step = ((width * u.abs()).round() as i64).max(1);
            let up = i.checked_add(step).filter(|x| (ilo..=ihi).contains(x));
            let down = i.checked_sub(step).filter(|x| (ilo..=ihi).contains(x));
            let out = if u > 0.0 { up.or(down) } else { down.or(up) };
            return Ok(out.unwrap_or(i).to_string());
        }
        let scale = match self.shape.kind {
            TypeKind::Numeric { scale: Some(s), .. } => Some(s as usize),
            TypeKind::Money => Some(2),
            _ => text
                .split_once('.')
                .map(|(_, f)| f.len())
                .filter(|_| !matches!(self.shape.kind, TypeKind::Real | TypeKind::Double)),
        };
        let out = (v + width * u).clamp(lo, hi);
        Ok(match scale {
            Some(s) => format!("{out:.s$}"),
            None => out.to_string(),
        })
    }

    fn template(&self, input: &str) -> Result<String, Fault> {
        let Rule::Template(t) = &self.rule else { return Err(Fault("not a template")) };
        let key = self.key()?;
        let canonical = self.canonical(input);
        let mut rng = key.rng(canonical.as_bytes(), 0);
        // The generated parts first (`None`: the number), to know the number's room.
        let parts: Vec<Option<String>> = t
            .parts
            .iter()
            .map(|part| match part {
                TemplatePart::Literal(s) => Some(s.clone()),
                TemplatePart::Generator(f) => Some(fake_text(*f, &mut rng)),
                TemplatePart::Number => None,
            })
            .collect();
        #[allow(clippy::cast_possible_truncation)]
        let mut number = (key.prf(canonical.as_bytes()) as u64).to_string();
        let numbers = parts.iter().filter(|p| p.is_none()).count();
        // In a column that is not unique the number is shortened to fit (its last
        // digits); in a unique one the plan made room for all 20.
        if let Some(max) = self.shape.bounds.max_len
            && numbers > 0
            && !self.shape.distinct
        {
            let fixed: usize = parts.iter().flatten().map(|p| p.chars().count()).sum();
            let room = (max as usize).saturating_sub(fixed) / numbers;
            let len = number.chars().count();
            if room >= 1 && len > room {
                number = number.chars().skip(len - room).collect();
            }
        }
        let mut out: String = parts.iter().map(|p| p.as_deref().unwrap_or(&number)).collect();
        if let Some(max) = self.shape.bounds.max_len
            && out.chars().count() > max as usize
        {
            if self.shape.distinct {
                return Err(Fault("the template's output is longer than the column allows"));
            }
            out = clamp_len(out, &self.shape.bounds);
        }
        Ok(out)
    }

    /// A fresh text value of `chars` characters or so, from `seed` (JSON leaves).
    pub fn words_like(&self, seed: &str, chars: usize) -> Result<String, Fault> {
        let mut rng = self.rng(seed, 0)?;
        let bounds = Bounds { max_len: Some(u32::try_from(chars.max(1)).unwrap_or(u32::MAX)), ..Bounds::default() };
        let f = if seed.contains('@') { Faker::Email } else { Faker::Words };
        Ok(fitted_text(f, &bounds, &mut rng))
    }

    /// Digits of a number replaced, keeping its shape (JSON leaves).
    pub fn scramble_text(&self, seed: &str) -> Result<String, Fault> {
        let mut rng = self.rng(seed, 0)?;
        Ok(redact::scramble(seed, &mut rng))
    }
}

/// A keyed permutation of `[lo, hi]` (4 rounds of a Feistel network over the smallest
/// even number of bits covering the range, walking the cycle until it lands in range):
/// every value has exactly one image, so keys stay unique and references still match.
pub fn permute(key: &RuleKey, v: i64, lo: i64, hi: i64) -> i64 {
    let span = u128::try_from(i128::from(hi) - i128::from(lo)).unwrap_or(0) + 1;
    if span <= 1 {
        return v;
    }
    let bits = (128 - (span - 1).leading_zeros()).max(2);
    let half = bits.div_ceil(2);
    let mask = (1u128 << half) - 1;
    let mut x = u128::try_from(i128::from(v) - i128::from(lo)).unwrap_or(0);
    loop {
        let (mut l, mut r) = (x >> half, x & mask);
        for round in 0u8..8 {
            #[allow(clippy::cast_possible_truncation)]
            let f = key.prf(&[&[round][..], &(r as u64).to_le_bytes()].concat()) & mask;
            (l, r) = (r, l ^ f);
        }
        x = (l << half) | r;
        if x < span {
            break;
        }
    }
    i64::try_from(i128::from(lo) + i128::try_from(x).unwrap_or(0)).unwrap_or(v)
}

/// A timestamp's date and time, and whatever follows its seconds (fraction, zone).
fn parse_timestamp(s: &str) -> Option<(NaiveDateTime, &str)> {
    let head = s.get(..19)?;
    let t = NaiveDateTime::parse_from_str(head, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(head, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some((t, &s[19..]))
}

/// A non-zero whole number in `[-max, max]`.
fn nonzero(rng: &mut Rng, max: i64) -> i64 {
    let max = max.max(1);
    let v = rng.random_range(1..=max);
    if rng.random_bool(0.5) { v } else { -v }
}

/// 64 bits of `bits` in lowercase base 32 (13 characters).
pub fn tag(bits: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    #[allow(clippy::cast_possible_truncation)]
    let mut v = bits as u64;
    let mut out = [0u8; TAG_CHARS as usize];
    for c in out.iter_mut().rev() {
        *c = ALPHABET[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `text` made distinct by `tag`: before the `@` of an email, else after a `-`; the
/// generated part is shortened (never the tag) to fit `max_len`, then the email's
/// domain is dropped, then everything but the tag.
fn tagged(text: &str, tag: &str, max_len: Option<u32>) -> String {
    let (head, tail) = match text.find('@') {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    let sep = if tail.is_empty() { '-' } else { '.' };
    let Some(max) = max_len.map(|m| m as usize) else { return format!("{head}{sep}{tag}{tail}") };
    let tag_len = tag.chars().count();
    let with_tail = tag_len + 1 + tail.chars().count();
    let short = |room: usize| head.chars().take(room).collect::<String>();
    if max > with_tail {
        format!("{}{sep}{tag}{tail}", short(max - with_tail))
    } else if max > tag_len + 1 {
        format!("{}-{tag}", short(max - tag_len - 1))
    } else {
        tag.chars().take(max).collect()
    }
}

/// A generated value as the text of a COPY field.
pub fn value_text(v: Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if b { "t" } else { "f" }.to_owned(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(s) => s,
        Value::Bytes(b) => {
            let mut s = String::from("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
    }
}

fn same(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

pub fn is_integer(k: &TypeKind) -> bool {
    matches!(k, TypeKind::SmallInt | TypeKind::Int | TypeKind::BigInt)
}

pub fn is_text(k: &TypeKind) -> bool {
    matches!(k, TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Other { .. })
}

/// One node of a document: strings and numbers masked, containers leaf by leaf.
fn json_leaf(m: &Masker, v: &mut serde_json::Value, memo: &mut Memo) -> Result<(), Fault> {
    match v {
        serde_json::Value::String(s) => {
            let mut masked = String::new();
            memo.get_or(s, |s| m.words_like(s, s.chars().count()).map(Some), &mut |o| {
                masked.push_str(o.unwrap_or_default());
            })?;
            *s = masked;
        }
        serde_json::Value::Number(n) => {
            let text = n.to_string();
            let out = m.scramble_text(&text)?;
            *v = serde_json::from_str::<serde_json::Number>(&out)
                .map_or(serde_json::Value::String(out), serde_json::Value::Number);
        }
        serde_json::Value::Array(items) => items.iter_mut().try_for_each(|i| json_leaf(m, i, memo))?,
        serde_json::Value::Object(map) => map.values_mut().try_for_each(|i| json_leaf(m, i, memo))?,
        serde_json::Value::Bool(_) | serde_json::Value::Null => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::mask::key::MasterKey;

    fn masker(rule: Rule, kind: TypeKind, distinct: bool) -> Masker {
        let key = MasterKey::for_tests(b"0123456789abcdef0123").rule_key(&rule.fingerprint());
        let (bounds, one_of) = crate::factory::values::check_bounds(&kind, &[]);
        Masker { rule, shape: Shape { kind, bounds, one_of, distinct, column: "c".into() }, key: Some(key) }
    }

    #[test]
    fn keyed_rules_are_functions_of_the_value() {
        let m = masker(Rule::Fake(Faker::Email), TypeKind::Text { max_len: None }, false);
        let a = m.apply("mary.smith@example.org").unwrap().unwrap();
        assert_eq!(m.apply("mary.smith@example.org").unwrap().unwrap(), a);
        assert_ne!(m.apply("john.smith@example.org").unwrap().unwrap(), a);
        assert!(a.contains('@'), "{a}");
        let other =
            Masker { key: Some(MasterKey::for_tests(b"another key, 16+ bytes").rule_key("fake:email")), ..m.clone() };
        assert_ne!(other.apply("mary.smith@example.org").unwrap().unwrap(), a);
    }

    #[test]
    fn integer_hash_is_a_permutation_of_the_range() {
        let mut m = masker(Rule::Hash, TypeKind::SmallInt, true);
        m.shape.bounds.min = Some(1.0);
        m.shape.bounds.max = Some(1000.0);
        assert!(m.injective());
        let outs: HashSet<String> = (1..=1000).map(|i| m.apply(&i.to_string()).unwrap().unwrap()).collect();
        assert_eq!(outs.len(), 1000);
        assert!(outs.iter().all(|o| (1..=1000).contains(&o.parse::<i64>().unwrap())));
        assert_eq!(m.apply("0042").unwrap(), m.apply("42").unwrap(), "canonical integers");
        assert!(m.apply("1001").is_err());
        let big = masker(Rule::Hash, TypeKind::BigInt, true);
        assert_ne!(big.apply("-9223372036854775808").unwrap().unwrap(), "-9223372036854775808");
        assert!(big.apply("9223372036854775807").unwrap().unwrap().parse::<i64>().is_ok());
    }

    #[test]
    fn distinct_text_keeps_its_tag_within_the_length() {
        let mut m = masker(Rule::Fake(Faker::Email), TypeKind::Text { max_len: Some(30) }, true);
        m.shape.bounds.max_len = Some(30);
        let mut seen = HashSet::new();
        for i in 0..5000 {
            let v = m.apply(&format!("user{i}@corp.example")).unwrap().unwrap();
            assert!(v.chars().count() <= 30, "{v}");
            assert!(seen.insert(v));
        }
        assert_eq!(tagged("a@b.c", "0123456789abc", Some(13)), "0123456789abc");
        assert_eq!(tagged("Mary Smith", "0123456789abc", Some(16)), "Ma-0123456789abc");
    }

    #[test]
    fn shifts_move_and_keep_the_format() {
        let m = masker(Rule::Shift(Shift::Seconds(30 * 86_400)), TypeKind::Date, false);
        for d in ["2006-02-14", "1999-12-31"] {
            let out = m.apply(d).unwrap().unwrap();
            let days = (NaiveDate::parse_from_str(&out, "%Y-%m-%d").unwrap()
                - NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
            .num_days();
            assert!(days != 0 && days.abs() <= 30, "{d} -> {out}");
        }
        let m = masker(Rule::Shift(Shift::Seconds(3600)), TypeKind::TimestampTz, false);
        let out = m.apply("2022-02-14 15:16:03.5+00").unwrap().unwrap();
        assert!(out.ends_with(".5+00") && out != "2022-02-14 15:16:03.5+00", "{out}");
        assert_eq!(m.apply("not a time"), Err(Fault("not a timestamp seed can shift")));
        let m =
            masker(Rule::Shift(Shift::Percent(10.0)), TypeKind::Numeric { precision: Some(5), scale: Some(2) }, false);
        let out: f64 = m.apply("100.00").unwrap().unwrap().parse().unwrap();
        assert!((90.0..=110.0).contains(&out) && (out - 100.0).abs() > 0.0, "{out}");
        let m = masker(Rule::Shift(Shift::Percent(10.0)), TypeKind::Int, false);
        assert_ne!(m.apply("3").unwrap().unwrap(), "3");
    }

    #[test]
    fn scramble_is_a_bijection_on_each_shape() {
        let m = masker(Rule::Scramble, TypeKind::Text { max_len: Some(5) }, true);
        let outs: HashSet<String> = (0..2000).map(|i| m.apply(&format!("A{i:04}")).unwrap().unwrap()).collect();
        assert_eq!(outs.len(), 2000);
        assert!(outs.iter().all(|o| o.len() == 5
            && o.as_bytes()[0].is_ascii_uppercase()
            && o[1..].bytes().all(|b| b.is_ascii_digit())));
        let a = m.apply("ALFKI").unwrap().unwrap();
        assert!(a.len() == 5 && a.bytes().all(|b| b.is_ascii_uppercase()) && a != "ALFKI", "{a}");
        assert_eq!(m.apply("ALFKI").unwrap().unwrap(), a);
        let n = masker(Rule::Scramble, TypeKind::Int, true);
        let outs: HashSet<String> = (100..1000).map(|i| n.apply(&i.to_string()).unwrap().unwrap()).collect();
        assert_eq!(outs.len(), 900);
        assert!(outs.iter().all(|o| (100..1000).contains(&o.parse::<i64>().unwrap())), "three digits stay three");
        assert!(n.apply("-42").unwrap().unwrap().starts_with('-'));
        assert!(n.injective() && !m.injective());
    }

    #[test]
    fn hash_fits_the_type() {
        let m = masker(Rule::Hash, TypeKind::Text { max_len: Some(10) }, false);
        assert_eq!(m.apply("secret").unwrap().unwrap().len(), 10);
        let m = masker(Rule::Hash, TypeKind::Uuid, true);
        let u = m.apply("3f2504e0-4f89-11d3-9a0c-0305e82c3301").unwrap().unwrap();
        assert_eq!(uuid::Uuid::parse_str(&u).unwrap().get_version_num(), 4);
        let m = masker(Rule::Hash, TypeKind::Bytea, false);
        assert!(m.apply("\\x00ff").unwrap().unwrap().starts_with("\\x"));
    }

    #[test]
    fn templates_number_values() {
        let t = super::super::rules::MaskTemplate::parse("user{n}@example.com").unwrap();
        let m = masker(Rule::Template(t), TypeKind::Text { max_len: None }, true);
        let a = m.apply("x@y.z").unwrap().unwrap();
        assert!(a.starts_with("user") && a.ends_with("@example.com"), "{a}");
        assert_ne!(m.apply("x@y.w").unwrap().unwrap(), a);
    }

    #[test]
    fn a_template_number_fits_a_short_column() {
        let t = super::super::rules::MaskTemplate::parse("emp{n}").unwrap();
        let m = masker(Rule::Template(t), TypeKind::Text { max_len: Some(10) }, false);
        for input in ["Nancy", "Andrew", "Janet", "Margaret"] {
            let out = m.apply(input).unwrap().unwrap();
            assert!(out.starts_with("emp") && out.chars().count() == 10, "{out}");
            assert!(out.chars().skip(3).all(|c| c.is_ascii_digit()), "{out}");
        }
    }

    #[test]
    fn no_key_is_a_fault_not_a_default() {
        let mut m = masker(Rule::Hash, TypeKind::Text { max_len: None }, false);
        m.key = None;
        assert_eq!(m.apply("x"), Err(Fault("no masking key")));
        let mut m = masker(Rule::Redact, TypeKind::Text { max_len: None }, false);
        m.key = None;
        assert!(m.apply("John Smith").is_ok());
    }
}
