//! What real data looks like, column by column, without keeping it: value sets of
//! columns with few distinct values (the values seen often enough, when they cover most
//! rows), null rates,
//! numeric and date ranges, text lengths, and the key structure of JSON documents (keys
//! and value types, never values). Columns that look personal or secret — by their name,
//! their values, or the user's own patterns — only ever get a null rate: their values
//! stay generated. The profile is written in the factories file's format
//! (`seed snapshot profile`), so it can be reviewed, committed and used with
//! `--factories`; `bulk --like` uses the same text directly.
//!
//! Memory per table is bounded whatever its size: one row at a time (a row longer than
//! [`MAX_ROW_BYTES`] is counted but not read), and per column at most `max_values`
//! values of at most [`MAX_VALUE_CHARS`] characters and a JSON shape of at most
//! [`MAX_JSON_KEYS`] keys.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::db::copy_text::{Field, parse_line};
use crate::db::schema::{TableName, TypeKind};
use crate::factory::values::{Faker, guess_from_name};

/// A row longer than this is counted, not profiled (so one huge row cannot fill memory).
pub const MAX_ROW_BYTES: usize = 8 << 20;
/// Longer values never make a value set (they are text, not choices).
pub const MAX_VALUE_CHARS: usize = 64;
/// Keys kept per JSON profile (all levels together).
pub const MAX_JSON_KEYS: usize = 256;
const MAX_JSON_DEPTH: usize = 4;

pub const DEFAULT_MAX_VALUES: usize = 20;
pub const DEFAULT_MIN_COUNT: u64 = 5;

/// How a profile is learned: the `[profile]` section of a factories file, or flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSettings {
    /// A column with more distinct values than this gets a range or lengths, not a set.
    pub max_values: usize,
    /// A value must be seen at least this often to join a set (see `supported_values`).
    pub min_count: u64,
    /// More columns to treat as personal: `table.column`, `column`, with `*` wildcards.
    pub personal: Vec<String>,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self { max_values: DEFAULT_MAX_VALUES, min_count: DEFAULT_MIN_COUNT, personal: vec![] }
    }
}

/// The type of a JSON value, as a profile keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonShape {
    String,
    Number,
    Bool,
    Null,
    /// Elements' shape when they all share one.
    Array(Option<Box<JsonShape>>),
    Object(BTreeMap<String, JsonShape>),
    /// Several types seen under one key.
    Mixed,
}

impl JsonShape {
    fn of(v: &serde_json::Value, depth: usize, budget: &mut usize) -> Self {
        match v {
            serde_json::Value::String(_) => JsonShape::String,
            serde_json::Value::Number(_) => JsonShape::Number,
            serde_json::Value::Bool(_) => JsonShape::Bool,
            serde_json::Value::Null => JsonShape::Null,
            serde_json::Value::Array(items) => {
                let mut elem: Option<JsonShape> = None;
                for item in items.iter().take(16) {
                    let s =
                        if depth >= MAX_JSON_DEPTH { JsonShape::Mixed } else { JsonShape::of(item, depth + 1, budget) };
                    elem = Some(match elem {
                        None => s,
                        Some(e) => e.merge(s, budget),
                    });
                }
                JsonShape::Array(elem.map(Box::new))
            }
            serde_json::Value::Object(map) => {
                let mut out = BTreeMap::new();
                if depth < MAX_JSON_DEPTH {
                    for (k, v) in map {
                        if *budget == 0 || k.chars().count() > MAX_VALUE_CHARS {
                            continue;
                        }
                        *budget -= 1;
                        out.insert(k.clone(), JsonShape::of(v, depth + 1, budget));
                    }
                }
                JsonShape::Object(out)
            }
        }
    }

    /// The shape of both: keys of objects united, differing types `Mixed`.
    fn merge(self, other: JsonShape, budget: &mut usize) -> JsonShape {
        match (self, other) {
            (a, b) if a == b => a,
            (JsonShape::Null, b) | (b, JsonShape::Null) => b,
            (JsonShape::Object(mut a), JsonShape::Object(b)) => {
                for (k, v) in b {
                    match a.remove(&k) {
                        Some(old) => {
                            a.insert(k, old.merge(v, budget));
                        }
                        None if *budget > 0 => {
                            *budget -= 1;
                            a.insert(k, v);
                        }
                        None => {}
                    }
                }
                JsonShape::Object(a)
            }
            (JsonShape::Array(a), JsonShape::Array(b)) => JsonShape::Array(match (a, b) {
                (Some(x), Some(y)) => Some(Box::new(x.merge(*y, budget))),
                (x, y) => x.or(y),
            }),
            _ => JsonShape::Mixed,
        }
    }

    /// The shape as a factories-file value: a type name, or a table of keys.
    pub fn to_toml(&self) -> String {
        match self {
            JsonShape::String => "\"string\"".into(),
            JsonShape::Number => "\"number\"".into(),
            JsonShape::Bool => "\"bool\"".into(),
            JsonShape::Null | JsonShape::Mixed => "\"any\"".into(),
            JsonShape::Array(None) => "\"array\"".into(),
            JsonShape::Array(Some(e)) => match e.as_ref() {
                JsonShape::String => "\"array:string\"".into(),
                JsonShape::Number => "\"array:number\"".into(),
                JsonShape::Bool => "\"array:bool\"".into(),
                JsonShape::Object(_) => format!("[{}]", e.to_toml()),
                _ => "\"array\"".into(),
            },
            JsonShape::Object(map) => {
                let parts: Vec<String> =
                    map.iter().map(|(k, v)| format!("{} = {}", toml_key(k), v.to_toml())).collect();
                format!("{{ {} }}", parts.join(", "))
            }
        }
    }

    /// Reads a shape back from the factories file.
    pub fn from_toml(v: &toml::Value) -> Result<JsonShape, String> {
        Ok(match v {
            toml::Value::String(s) => match s.as_str() {
                "string" => JsonShape::String,
                "number" => JsonShape::Number,
                "bool" => JsonShape::Bool,
                "any" => JsonShape::Mixed,
                "array" => JsonShape::Array(None),
                "array:string" => JsonShape::Array(Some(Box::new(JsonShape::String))),
                "array:number" => JsonShape::Array(Some(Box::new(JsonShape::Number))),
                "array:bool" => JsonShape::Array(Some(Box::new(JsonShape::Bool))),
                other => {
                    return Err(format!(
                        "unknown JSON type '{other}' (string, number, bool, any, array, array:string, array:number, array:bool, or a table of keys)"
                    ));
                }
            },
            toml::Value::Table(t) => JsonShape::Object(
                t.iter().map(|(k, v)| Ok((k.clone(), JsonShape::from_toml(v)?))).collect::<Result<_, String>>()?,
            ),
            toml::Value::Array(items) if items.len() == 1 => {
                JsonShape::Array(Some(Box::new(JsonShape::from_toml(&items[0])?)))
            }
            other => return Err(format!("a JSON shape is a type name or a table of keys, got {}", other.type_str())),
        })
    }
}

/// A JSON document of `shape`: its keys, with generated values of their types.
pub fn json_value(shape: &JsonShape, rng: &mut crate::factory::values::Rng) -> String {
    json_of(shape, rng, 0).to_string()
}

fn json_of(shape: &JsonShape, rng: &mut crate::factory::values::Rng, depth: usize) -> serde_json::Value {
    use fake::rand::RngExt;
    let word = |rng: &mut crate::factory::values::Rng| {
        serde_json::Value::String(crate::factory::values::fake_text(Faker::Word, rng).to_lowercase())
    };
    match shape {
        JsonShape::String | JsonShape::Mixed => word(rng),
        JsonShape::Number => serde_json::Value::from(rng.random_range(1..1000i64)),
        JsonShape::Bool => serde_json::Value::Bool(rng.random_bool(0.5)),
        JsonShape::Null => serde_json::Value::Null,
        JsonShape::Array(elem) => {
            let n = rng.random_range(0..4usize);
            let items = (0..n)
                .map(|_| match elem {
                    Some(e) if depth < MAX_JSON_DEPTH => json_of(e, rng, depth + 1),
                    _ => word(rng),
                })
                .collect();
            serde_json::Value::Array(items)
        }
        JsonShape::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), if depth < MAX_JSON_DEPTH { json_of(v, rng, depth + 1) } else { word(rng) }))
                .collect(),
        ),
    }
}

/// A column as the profiler needs it.
#[derive(Debug, Clone)]
pub struct ColumnInput {
    pub name: String,
    pub type_name: String,
    pub nullable: bool,
    /// In the primary key: its values are keys, never profiled.
    pub key: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Number,
    Date,
    Time,
    Bool,
    Json,
    Text,
    Binary,
    Other,
}

fn class_of(type_name: &str) -> Class {
    let t = type_name.to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or_default().trim();
    if t.ends_with("[]") {
        return Class::Text;
    }
    match base {
        "json" | "jsonb" => Class::Json,
        "bytea" | "blob" => Class::Binary,
        "boolean" | "bool" => Class::Bool,
        "date" => Class::Date,
        b if b.starts_with("timestamp") || b == "datetime" => Class::Time,
        b if b.starts_with("time") => Class::Text,
        "money" => Class::Other,
        b if b.contains("int")
            || b.starts_with("numeric")
            || b.starts_with("decimal")
            || b == "real"
            || b.starts_with("double")
            || b.starts_with("float") =>
        {
            Class::Number
        }
        b if b.contains("char") || b.contains("text") || b.contains("clob") || b.is_empty() => Class::Text,
        "uuid" | "inet" | "cidr" | "macaddr" | "tsvector" | "interval" | "xml" | "point" => Class::Other,
        _ => Class::Text,
    }
}

/// Running figures of one column.
#[derive(Debug)]
struct ColumnStats {
    input: ColumnInput,
    class: Class,
    personal: Option<String>,
    nulls: u64,
    seen: u64,
    /// `None` once the column has too many values, or one too long, for a set.
    values: Option<BTreeMap<String, u64>>,
    num: Option<(f64, f64)>,
    text: Option<(String, String)>,
    len: Option<(usize, usize)>,
    json: Option<JsonShape>,
    json_objects: u64,
    json_budget: usize,
    /// Values that look like an email, a phone number, a token or free text.
    looks_personal: u64,
}

impl ColumnStats {
    fn observe(&mut self, f: Field, max_values: usize) {
        let text = match f {
            Field::Null => {
                self.nulls += 1;
                return;
            }
            Field::Text(s) => s,
            Field::Bytes(_) => {
                self.seen += 1;
                return;
            }
        };
        self.seen += 1;
        if self.input.key || self.class == Class::Binary {
            return;
        }
        let chars = text.chars().count();
        self.len = Some(self.len.map_or((chars, chars), |(a, b)| (a.min(chars), b.max(chars))));
        if looks_personal(&text) {
            self.looks_personal += 1;
        }
        match self.class {
            Class::Number => {
                if let Ok(v) = text.trim().parse::<f64>()
                    && v.is_finite()
                {
                    self.num = Some(self.num.map_or((v, v), |(a, b)| (a.min(v), b.max(v))));
                }
            }
            Class::Date | Class::Time => {
                self.text = Some(match self.text.take() {
                    None => (text.clone(), text.clone()),
                    Some((a, b)) => (if text < a { text.clone() } else { a }, if text > b { text.clone() } else { b }),
                });
            }
            Class::Json => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    if v.is_object() {
                        self.json_objects += 1;
                    }
                    let shape = JsonShape::of(&v, 0, &mut self.json_budget);
                    self.json = Some(match self.json.take() {
                        None => shape,
                        Some(old) => old.merge(shape, &mut self.json_budget),
                    });
                }
                self.values = None;
                return;
            }
            _ => {}
        }
        if let Some(values) = &mut self.values {
            if chars > MAX_VALUE_CHARS {
                self.values = None;
            } else if let Some(n) = values.get_mut(&text) {
                *n += 1;
            } else if values.len() >= max_values {
                self.values = None;
            } else {
                values.insert(text, 1);
            }
        }
    }
}

/// An email, a phone number, a token or hash, or a sentence: values a person wrote or
/// that open something.
fn looks_personal(s: &str) -> bool {
    let t = s.trim();
    let at = t.find('@').is_some_and(|i| i > 0 && t[i..].contains('.'));
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let phone = digits >= 7 && t.chars().all(|c| c.is_ascii_digit() || " +-().x".contains(c));
    let token = t.len() >= 16
        && !t.contains(' ')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || "+/=_-$.".contains(c))
        && t.chars().any(|c| c.is_ascii_digit())
        && t.chars().any(|c| c.is_ascii_alphabetic());
    let sentence = t.split_whitespace().count() >= 6;
    at || phone || token || sentence
}

/// Why a column counts as personal or secret by its name, if it does.
pub fn personal_by_name(table: &str, column: &str) -> Option<&'static str> {
    let c = column.to_ascii_lowercase();
    let words: Vec<&str> = c.split(|ch: char| !ch.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let has = |w: &str| words.contains(&w);
    let any = |list: &[&str]| list.iter().any(|w| c.contains(w));
    if any(&[
        "password",
        "passwd",
        "secret",
        "token",
        "salt",
        "hash",
        "digest",
        "signature",
        "api_key",
        "apikey",
        "private",
    ]) || has("key")
        || has("pin")
        || has("otp")
    {
        return Some("a secret (password, token, hash, key)");
    }
    if any(&["ssn", "passport", "iban", "card_number", "cvv", "tax_id", "national_id", "birth", "license"])
        || has("dob")
        || has("ip")
    {
        return Some("an identifier of a person");
    }
    // `address_id`, `city_id`: references to other rows, not the data itself.
    if words.last() == Some(&"id") {
        return None;
    }
    if any(&["email", "e_mail", "mail"]) {
        return Some("an email address");
    }
    if any(&["phone", "mobile", "fax", "tel"]) && !c.contains("hotel") {
        return Some("a phone number");
    }
    if any(&["address", "street", "zip", "postal", "postcode"]) || has("city") || has("line1") || has("line2") {
        return Some("an address");
    }
    let texty = TypeKind::Text { max_len: None };
    match guess_from_name(table, column, &texty) {
        Some(Faker::FirstName | Faker::LastName | Faker::FullName | Faker::Username) => Some("a person's name"),
        Some(Faker::Sentence) => Some("free text"),
        _ if any(&["first_name", "last_name", "surname", "full_name", "nickname", "contact"]) => {
            Some("a person's name")
        }
        _ => None,
    }
}

/// `pattern` (`table.column`, `column`, `*` wildcards) against `table` and `column`.
pub fn matches_pattern(pattern: &str, table: &str, column: &str) -> bool {
    let full = format!("{table}.{column}");
    let target = if pattern.contains('.') { full.as_str() } else { column };
    wildcard(&pattern.to_ascii_lowercase(), &target.to_ascii_lowercase())
}

fn wildcard(p: &str, s: &str) -> bool {
    match p.split_once('*') {
        None => p == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else { return false };
            (0..=tail.len()).filter(|&i| tail.is_char_boundary(i)).any(|i| wildcard(rest, &tail[i..]))
        }
    }
}

/// Profiles one table from its rows in COPY text, chunk by chunk.
#[derive(Debug)]
pub struct TableProfiler {
    table: TableName,
    columns: Vec<ColumnStats>,
    settings: ProfileSettings,
    line: Vec<u8>,
    skipping: bool,
    rows: u64,
}

impl TableProfiler {
    pub fn new(table: TableName, columns: Vec<ColumnInput>, settings: &ProfileSettings) -> Self {
        let columns = columns
            .into_iter()
            .map(|input| {
                let class = class_of(&input.type_name);
                let listed = settings
                    .personal
                    .iter()
                    .find(|p| matches_pattern(p, &table.name, &input.name))
                    .map(|p| format!("matches '{p}' in the factories file"));
                // A JSON column named like free text (`notes`) still gets its keys and
                // types learned: a shape holds no values. One the user listed does not.
                let by_name = personal_by_name(&table.name, &input.name)
                    .filter(|why| class != Class::Json || why.starts_with("a secret"))
                    .map(str::to_owned);
                let personal = listed.or(by_name);
                ColumnStats {
                    input,
                    class,
                    personal,
                    nulls: 0,
                    seen: 0,
                    values: Some(BTreeMap::new()),
                    num: None,
                    text: None,
                    len: None,
                    json: None,
                    json_objects: 0,
                    json_budget: MAX_JSON_KEYS,
                    looks_personal: 0,
                }
            })
            .collect();
        Self { table, columns, settings: settings.clone(), line: Vec::new(), skipping: false, rows: 0 }
    }

    /// Feeds the next chunk of COPY text (need not end on a line boundary).
    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            if !self.skipping {
                self.line.extend_from_slice(&rest[..nl]);
                let line = std::mem::take(&mut self.line);
                self.row(&line);
            } else {
                self.rows += 1;
            }
            self.skipping = false;
            rest = &rest[nl + 1..];
        }
        if !self.skipping {
            if self.line.len() + rest.len() > MAX_ROW_BYTES {
                self.line.clear();
                self.skipping = true;
            } else {
                self.line.extend_from_slice(rest);
            }
        }
    }

    fn row(&mut self, line: &[u8]) {
        self.rows += 1;
        let Ok(fields) = parse_line(line, &[]) else { return };
        if fields.len() != self.columns.len() {
            return;
        }
        for (col, f) in self.columns.iter_mut().zip(fields) {
            col.observe(f, self.settings.max_values);
        }
    }

    pub fn finish(self) -> TableProfile {
        let rows = self.rows;
        let settings = self.settings;
        let columns = self.columns.into_iter().map(|c| (c.input.name.clone(), learn(c, &settings))).collect();
        TableProfile { table: self.table, rows, columns }
    }
}

/// What a profile says about one column.
#[derive(Debug, Clone, PartialEq)]
pub enum Learned {
    /// Part of the primary key: keys are generated by construction.
    Key,
    /// Personal or secret: values generated, only the null rate learned.
    Personal {
        why: String,
    },
    /// Few distinct values, each common: (value, times seen).
    Values(Vec<(String, u64)>),
    /// Numbers: lowest and highest.
    NumberRange(f64, f64),
    /// Dates or times: earliest and latest, as the database writes them.
    TimeRange(String, String),
    /// Text: shortest and longest, in characters.
    Lengths(usize, usize),
    Json(JsonShape),
    /// Nothing but the null rate (binary, no values, other types).
    Nulls,
}

#[derive(Debug, Clone)]
pub struct ColumnProfile {
    pub learned: Learned,
    pub null_rate: f64,
    pub nullable: bool,
}

#[derive(Debug, Clone)]
pub struct TableProfile {
    pub table: TableName,
    pub rows: u64,
    pub columns: Vec<(String, ColumnProfile)>,
}

fn learn(c: ColumnStats, settings: &ProfileSettings) -> ColumnProfile {
    let total = c.seen + c.nulls;
    #[allow(clippy::cast_precision_loss)]
    let null_rate = if total == 0 { 0.0 } else { c.nulls as f64 / total as f64 };
    let nullable = c.input.nullable;
    let done = |learned| ColumnProfile { learned, null_rate, nullable };
    if c.input.key {
        return done(Learned::Key);
    }
    let by_values = c.class == Class::Text && c.seen > 0 && c.looks_personal * 2 >= c.seen;
    if let Some(why) = c.personal.clone().or_else(|| by_values.then(|| "values that look personal".to_owned())) {
        return done(Learned::Personal { why });
    }
    if c.seen == 0 {
        return done(Learned::Nulls);
    }
    if let Some(values) = &c.values
        && matches!(c.class, Class::Text | Class::Number | Class::Bool | Class::Date | Class::Time)
        && let Some(set) = supported_values(values, settings.min_count)
    {
        return done(Learned::Values(set));
    }
    match c.class {
        Class::Number => c.num.map_or(Learned::Nulls, |(a, b)| Learned::NumberRange(a, b)),
        Class::Date | Class::Time => c.text.map_or(Learned::Nulls, |(a, b)| Learned::TimeRange(a, b)),
        Class::Text => c.len.map_or(Learned::Nulls, |(a, b)| Learned::Lengths(a, b)),
        Class::Json if c.json_objects * 10 >= c.seen * 9 => {
            c.json.filter(|s| matches!(s, JsonShape::Object(_))).map_or(Learned::Nulls, Learned::Json)
        }
        _ => Learned::Nulls,
    }
    .pipe(done)
}

/// Share of a column's values (in percent) the well-supported ones must cover to make
/// its value set: a few rare values (northwind's discount of 0.01, seen once among 2,155)
/// are dropped, not allowed to turn the column into a uniform range; a column of mostly
/// rare values (names in a small table) gets no set.
pub const MIN_SET_COVERAGE_PERCENT: u64 = 95;

/// The values seen at least `min_count` times, when they cover at least
/// [`MIN_SET_COVERAGE_PERCENT`] of the values seen; the rare ones are left out (and so
/// never copied).
fn supported_values(values: &BTreeMap<String, u64>, min_count: u64) -> Option<Vec<(String, u64)>> {
    let all: u64 = values.values().sum();
    let kept: Vec<(String, u64)> =
        values.iter().filter(|&(_, &n)| n >= min_count).map(|(v, n)| (v.clone(), *n)).collect();
    let covered: u64 = kept.iter().map(|(_, n)| n).sum();
    (!kept.is_empty() && u128::from(covered) * 100 >= u128::from(all) * u128::from(MIN_SET_COVERAGE_PERCENT))
        .then_some(kept)
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

/// A TOML key: bare when it can be, quoted otherwise.
pub fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_owned()
    } else {
        toml_str(k)
    }
}

/// A TOML basic string with escapes.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { format!("{v}") }
}

fn rate(r: f64) -> String {
    let s = format!("{r:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.to_owned() }
}

/// The profile as a factories file: a `[profile]` section saying where it comes from
/// (its rules only shape columns seed does not fill by construction), then per table
/// and column the keys it needs.
pub fn render(source: &str, settings: &ProfileSettings, tables: &[TableProfile]) -> String {
    let mut out = String::new();
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    let _ = writeln!(
        out,
        "# Profile of {source}: {rows} rows in {} tables. Value sets, null rates, ranges, lengths and JSON keys;",
        tables.len()
    );
    let _ = writeln!(
        out,
        "# personal and secret-looking columns keep generated values (see docs/bulk.md). Review before committing."
    );
    let _ = writeln!(out, "# Use: seed bulk --count N --factories THIS_FILE");
    let _ = writeln!(out, "[profile]");
    let _ = writeln!(out, "from = {}", toml_str(source));
    let _ = writeln!(out, "max_values = {}", settings.max_values);
    let _ = writeln!(out, "min_count = {}", settings.min_count);
    if !settings.personal.is_empty() {
        let list: Vec<String> = settings.personal.iter().map(|p| toml_str(p)).collect();
        let _ = writeln!(out, "personal = [{}]", list.join(", "));
    }
    for t in tables {
        let _ = writeln!(out, "\n[tables.{}]  # {} rows", toml_key(&t.table.to_string()), t.rows);
        for (name, c) in &t.columns {
            let key = format!("columns.{}", toml_key(name));
            let nulls = if c.nullable { format!("null_rate = {}", rate(c.null_rate)) } else { String::new() };
            let with_nulls = |body: String| match (body.is_empty(), nulls.is_empty()) {
                (true, true) => String::new(),
                (true, false) => format!("{{ {nulls} }}"),
                (false, true) => format!("{{ {body} }}"),
                (false, false) => format!("{{ {body}, {nulls} }}"),
            };
            let (line, note) = match &c.learned {
                Learned::Key => (String::new(), Some("key: generated by construction".to_owned())),
                Learned::Personal { why } => {
                    (with_nulls(String::new()), Some(format!("{why}: values always generated")))
                }
                Learned::Values(values) => {
                    let items: Vec<String> = values.iter().map(|(v, _)| toml_str(v)).collect();
                    let weights: Vec<String> = values.iter().map(|(_, n)| n.to_string()).collect();
                    (with_nulls(format!("one_of = [{}], weights = [{}]", items.join(", "), weights.join(", "))), None)
                }
                Learned::NumberRange(a, b) => (with_nulls(format!("range = [{}, {}]", number(*a), number(*b))), None),
                Learned::TimeRange(a, b) => (with_nulls(format!("range = [{}, {}]", toml_str(a), toml_str(b))), None),
                Learned::Lengths(a, b) => (with_nulls(format!("length = [{a}, {b}]")), None),
                Learned::Json(shape) => (with_nulls(format!("json = {}", shape.to_toml())), None),
                Learned::Nulls => (with_nulls(String::new()), None),
            };
            match (line.is_empty(), note) {
                (false, Some(note)) => {
                    let _ = writeln!(out, "{key} = {line}  # {note}");
                }
                (false, None) => {
                    let _ = writeln!(out, "{key} = {line}");
                }
                (true, Some(note)) => {
                    let _ = writeln!(out, "# {key}: {note}");
                }
                (true, None) => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(cols: &[(&str, &str, bool)], rows: &str, settings: &ProfileSettings) -> TableProfile {
        let inputs = cols
            .iter()
            .map(|(n, t, key)| ColumnInput { name: (*n).into(), type_name: (*t).into(), nullable: true, key: *key })
            .collect();
        let mut p = TableProfiler::new(TableName::new("public", "t"), inputs, settings);
        // Fed in awkward chunks: lines split anywhere.
        for chunk in rows.as_bytes().chunks(7) {
            p.feed(chunk);
        }
        p.finish()
    }

    #[test]
    fn sets_need_few_values_each_seen_often() {
        let mut rows = String::new();
        for i in 0..60 {
            let status = ["draft", "live", "gone"][i % 3];
            let rare = if i == 0 { "once" } else { "often" };
            let _ = writeln!(rows, "{i}\t{status}\t{rare}\t{}\t\\N", i * 2);
        }
        let s = ProfileSettings::default();
        let p = profile(
            &[
                ("id", "integer", true),
                ("status", "text", false),
                ("kind", "text", false),
                ("n", "integer", false),
                ("z", "text", false),
            ],
            &rows,
            &s,
        );
        assert_eq!(p.rows, 60);
        let get = |n: &str| p.columns.iter().find(|(c, _)| c == n).unwrap().1.clone();
        assert_eq!(get("id").learned, Learned::Key);
        assert_eq!(
            get("status").learned,
            Learned::Values(vec![("draft".into(), 20), ("gone".into(), 20), ("live".into(), 20)])
        );
        // r19.16: a rare value is left out of the set the others make.
        assert_eq!(get("kind").learned, Learned::Values(vec![("often".into(), 59)]), "a value seen once is dropped");
        assert_eq!(get("n").learned, Learned::NumberRange(0.0, 118.0));
        assert_eq!(get("z").null_rate, 1.0);
    }

    /// r19.16: the well-supported values make the set when they cover most rows (the
    /// shape of northwind's order_details.discount); rare values covering more than a few
    /// rows leave the column a range.
    #[test]
    fn rare_values_are_dropped_from_a_set_that_covers_most_rows() {
        let mut rows = String::new();
        let discounts: [(&str, u64); 6] =
            [("0", 1317), ("0.05", 185), ("0.1", 173), ("0.15", 157), ("0.2", 161), ("0.25", 154)];
        for (v, n) in discounts {
            for _ in 0..n {
                let _ = writeln!(rows, "{v}\tA");
            }
        }
        for (i, v) in ["0.01", "0.02", "0.02", "0.03", "0.03", "0.03", "0.04", "0.06"].iter().enumerate() {
            let _ = writeln!(rows, "{v}\t{}", ["B", "C", "D", "E"][i % 4]);
        }
        let p = profile(&[("discount", "real", false), ("grade", "text", false)], &rows, &ProfileSettings::default());
        let Learned::Values(set) = &p.columns[0].1.learned else { panic!("{:?}", p.columns[0].1.learned) };
        let expected: Vec<(String, u64)> = discounts.iter().map(|(v, n)| ((*v).to_owned(), *n)).collect();
        let mut sorted = expected.clone();
        sorted.sort();
        assert_eq!(set, &sorted);
        // A seen 2147 times, B..E 2 times each: A alone covers 99.6%.
        assert_eq!(p.columns[1].1.learned, Learned::Values(vec![("A".into(), 2147)]));
        // Rare values making more than 5% of the rows: no set, a range.
        let mut rows = String::new();
        for i in 0..100 {
            let v = if i < 90 { "1".to_owned() } else { format!("{}", 100 + i) };
            let _ = writeln!(rows, "{v}\tx");
        }
        let p = profile(&[("n", "integer", false), ("t", "text", false)], &rows, &ProfileSettings::default());
        assert_eq!(p.columns[0].1.learned, Learned::NumberRange(1.0, 199.0));
    }

    #[test]
    fn personal_columns_keep_only_a_null_rate() {
        let mut rows = String::new();
        for i in 0..40 {
            let _ = writeln!(rows, "Ann\tann{}@example.org\tA\t+1 555 010 {i:04}", i % 2);
        }
        let s = ProfileSettings { personal: vec!["t.code".into()], ..ProfileSettings::default() };
        let p = profile(
            &[("first_name", "text", false), ("contact", "text", false), ("code", "text", false), ("x", "text", false)],
            &rows,
            &s,
        );
        for (name, c) in &p.columns {
            assert!(matches!(c.learned, Learned::Personal { .. }), "{name}: {:?}", c.learned);
        }
        let text = render("snapshot s", &s, &[p]);
        assert!(!text.contains("Ann") && !text.contains("example.org") && !text.contains("555"), "{text}");
    }

    #[test]
    fn json_keeps_keys_and_types_never_values() {
        let rows = "{\"v\": 1, \"tags\": [\"a\"], \"owner\": {\"name\": \"Zed\"}}\n{\"v\": 2, \"extra\": true}\n";
        // Named like free text, but a shape holds no values: learned all the same.
        let p = profile(&[("notes", "jsonb", false)], rows, &ProfileSettings::default());
        let Learned::Json(shape) = &p.columns[0].1.learned else { panic!("{:?}", p.columns[0].1.learned) };
        let toml = shape.to_toml();
        assert_eq!(
            toml,
            "{ extra = \"bool\", owner = { name = \"string\" }, tags = \"array:string\", v = \"number\" }"
        );
        let back: toml::Value = toml::from_str(&format!("x = {toml}")).unwrap();
        assert_eq!(&JsonShape::from_toml(&back["x"]).unwrap(), shape);
        assert!(!toml.contains("Zed"));
    }

    #[test]
    fn a_huge_row_is_counted_not_kept() {
        let mut p = TableProfiler::new(
            TableName::new("", "t"),
            vec![ColumnInput { name: "v".into(), type_name: "text".into(), nullable: true, key: false }],
            &ProfileSettings::default(),
        );
        let big = vec![b'x'; MAX_ROW_BYTES / 4];
        for _ in 0..5 {
            p.feed(&big);
            assert!(p.line.len() <= MAX_ROW_BYTES);
        }
        p.feed(b"\nshort\n");
        let t = p.finish();
        assert_eq!(t.rows, 2);
        assert_eq!(t.columns[0].1.learned, Learned::Lengths(5, 5));
    }

    #[test]
    fn names_that_mean_personal_or_secret() {
        for c in [
            "email",
            "password_digest",
            "api_key",
            "first_name",
            "phone_number",
            "street_address",
            "postal_code",
            "description",
            "remember_token",
        ] {
            assert!(personal_by_name("users", c).is_some(), "{c}");
        }
        for c in ["status", "rating", "rental_rate", "kind", "country", "keyboard", "address_id", "city_id"] {
            assert!(personal_by_name("films", c).is_none(), "{c}");
        }
        assert!(matches_pattern("*.nick*", "users", "nickname"));
        assert!(matches_pattern("ssn", "people", "SSN"));
        assert!(!matches_pattern("users.ssn", "people", "ssn"));
    }
}
