//! The `[mask]` section of a factories file (or of `seed.toml`): one rule per column,
//! or per path inside a JSON column.
//!
//! ```toml
//! [mask]
//! "customer.email"        = { fake = "email" }
//! "customer.last_name"    = "redact"            # Jo** S****: keeps length and classes
//! "staff.password"        = "hash"
//! "customer.notes"        = "null"
//! "customer.active"       = "keep"              # flagged by name, but not personal
//! "address.country"       = { fixed = "Nowhere" }
//! "rental.rental_date"    = { shift = "±30d" }
//! "payment.amount"        = { shift = "±10%" }
//! "staff.username"        = { template = "user{n}" }
//! "users.profile.$.phone" = { fake = "phone" }  # a path inside a JSON document
//! ```
//! The key is `table.column` or `schema.table.column`, then optionally `.$` and a JSON
//! path (`.key`, `[0]`, `[*]`, `["odd key"]`). Syntax errors and unknown generators are
//! reported with the file and line before anything connects; unknown tables and columns
//! once the schema is known (`plan`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;
use crate::factory::values::{Faker, GENERATOR_NAMES, faker_by_name, faker_name};

/// Deepest JSON path accepted.
const MAX_PATH_STEPS: usize = 32;
/// Widest `shift` accepted, in days (about 100 years) or percent.
const MAX_SHIFT_DAYS: u32 = 36_600;
const MAX_SHIFT_PERCENT: f64 = 1000.0;

/// Where a rule was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    /// In seed.toml (not a factories or rules file): its errors say so.
    pub settings: bool,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

impl Origin {
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::MaskRule { file: self.file.clone(), line: self.line, message: message.into(), settings: self.settings }
    }
}

/// What to do with a column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A value from a named generator, drawn from the value's keyed hash.
    Fake(Faker),
    /// Text: hex digits of the keyed hash; integers: a keyed permutation; uuids,
    /// binary: the keyed hash's bits.
    Hash,
    Null,
    Keep,
    Fixed(String),
    /// Keeps length, spaces and punctuation, the first letter or two; letters become
    /// `*`, digits `#`. Needs no key; leaks initials and lengths.
    Redact,
    /// Keeps length, case, spaces and punctuation; every letter and digit becomes another
    /// one, drawn from the value's keyed hash (`123-45-6789` -> `804-19-2271`).
    Scramble,
    Shift(Shift),
    Template(MaskTemplate),
    /// Every string and number inside a JSON document (keys and structure kept).
    JsonLeaves,
}

impl Rule {
    /// Names the rule and its parameters, never a table or column: the same rule gives
    /// the same subkey wherever it applies.
    pub fn fingerprint(&self) -> String {
        match self {
            Rule::Fake(f) => format!("fake:{}", faker_name(*f)),
            Rule::Hash => "hash".into(),
            Rule::Null => "null".into(),
            Rule::Keep => "keep".into(),
            Rule::Fixed(v) => format!("fixed:{v}"),
            Rule::Redact => "redact".into(),
            Rule::Scramble => "scramble".into(),
            Rule::Shift(s) => format!("shift:{s}"),
            Rule::Template(t) => format!("template:{}", t.source),
            Rule::JsonLeaves => "json".into(),
        }
    }

    /// How `dry-run`, `show` and the header name it.
    pub fn label(&self) -> String {
        match self {
            Rule::Fake(f) => format!("fake {}", faker_name(*f)),
            Rule::Fixed(_) => "fixed".into(),
            Rule::Shift(s) => format!("shift {s}"),
            Rule::Template(t) => format!("template {}", t.source),
            Rule::JsonLeaves => "json (every string and number)".into(),
            other => other.fingerprint(),
        }
    }

    /// Whether the rule draws from the key.
    pub fn keyed(&self) -> bool {
        matches!(
            self,
            Rule::Fake(_) | Rule::Hash | Rule::Scramble | Rule::Shift(_) | Rule::Template(_) | Rule::JsonLeaves
        )
    }
}

/// `shift`: up to this far either way, never by nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shift {
    /// Dates and times, in seconds (written in days, hours, minutes or seconds).
    Seconds(u64),
    /// Numbers, as a share of the value.
    Percent(f64),
    /// Numbers, by an amount.
    Amount(f64),
}

impl fmt::Display for Shift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Shift::Seconds(s) if s % 86_400 == 0 => write!(f, "±{}d", s / 86_400),
            Shift::Seconds(s) if s % 3600 == 0 => write!(f, "±{}h", s / 3600),
            Shift::Seconds(s) if s % 60 == 0 => write!(f, "±{}m", s / 60),
            Shift::Seconds(s) => write!(f, "±{s}s"),
            Shift::Percent(p) => write!(f, "±{p}%"),
            Shift::Amount(a) => write!(f, "±{a}"),
        }
    }
}

impl Shift {
    /// `±30d`, `+-12h`, `30m`, `±10%`, `±5` (a sign, when given, must be `±` or `+-`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("shift \"{text}\": expected e.g. \"±30d\", \"±12h\", \"±10%\" or \"±5\"");
        let t = text.trim();
        let t = t.strip_prefix('±').or_else(|| t.strip_prefix("+-")).unwrap_or(t).trim();
        let (number, unit) = t.split_at(t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len()));
        let value: f64 = number.parse().map_err(|_| bad())?;
        if !(value.is_finite() && value > 0.0) {
            return Err(format!("shift \"{text}\": the amount must be more than 0"));
        }
        let seconds = |per: u64| -> Result<Shift, String> {
            if value.fract() != 0.0 || value > f64::from(MAX_SHIFT_DAYS) * 86_400.0 / per as f64 {
                return Err(format!("shift \"{text}\": a whole number up to {MAX_SHIFT_DAYS} days"));
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(Shift::Seconds(value as u64 * per))
        };
        match unit.trim() {
            "d" | "day" | "days" => seconds(86_400),
            "h" | "hour" | "hours" => seconds(3600),
            "m" | "min" | "minutes" => seconds(60),
            "s" | "sec" | "seconds" => seconds(1),
            "%" if value <= MAX_SHIFT_PERCENT => Ok(Shift::Percent(value)),
            "%" => Err(format!("shift \"{text}\": at most {MAX_SHIFT_PERCENT}%")),
            "" => Ok(Shift::Amount(value)),
            _ => Err(bad()),
        }
    }
}

/// `template = "user{n}@example.com"`: literal text, generators, and `{n}`, a number of
/// up to 20 digits drawn from the value's keyed hash (distinct values get distinct
/// numbers but for a 1 in 2^64 chance per pair, which is detected).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskTemplate {
    pub source: String,
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Generator(Faker),
    Number,
}

impl MaskTemplate {
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(TemplatePart::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| format!("unclosed '{{' in template \"{source}\""))?;
            let name = after[..close].trim();
            if name == "n" {
                parts.push(TemplatePart::Number);
            } else if let Some(f) = faker_by_name(name) {
                parts.push(TemplatePart::Generator(f));
            } else {
                return Err(format!(
                    "unknown generator '{{{name}}}' in template \"{source}\"; known: n, {}",
                    generators()
                ));
            }
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_owned()));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    /// Distinct values give distinct outputs (it holds `{n}`).
    pub fn is_distinct(&self) -> bool {
        self.parts.contains(&TemplatePart::Number)
    }
}

/// A path inside a JSON document: `$.profile.phones[0]`, `$.tags[*]`, `$["a.b"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    pub source: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
    /// Every element of an array (or every value of an object).
    Each,
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("JSON path \"{source}\": {why}");
        let mut rest = source.strip_prefix('$').ok_or_else(|| bad("must start with $"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if steps.len() == MAX_PATH_STEPS {
                return Err(bad(&format!("more than {MAX_PATH_STEPS} steps")));
            }
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end == 0 {
                    return Err(bad("an empty key"));
                }
                steps.push(if &r[..end] == "*" { Step::Each } else { Step::Key(r[..end].to_owned()) });
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix("[\"") {
                let end = r.find("\"]").ok_or_else(|| bad("unclosed [\""))?;
                steps.push(Step::Key(r[..end].to_owned()));
                rest = &r[end + 2..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("unclosed ["))?;
                let inner = r[..end].trim();
                steps.push(if inner == "*" {
                    Step::Each
                } else {
                    Step::Index(inner.parse().map_err(|_| bad("[...] takes a number, * or a quoted key"))?)
                });
                rest = &r[end + 1..];
            } else {
                return Err(bad("expected .key, [N], [*] or [\"key\"]"));
            }
        }
        if steps.is_empty() {
            return Err(bad("name a key inside the document (for the whole value, give the column alone)"));
        }
        Ok(Self { source: source.to_owned(), steps })
    }
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleEntry {
    /// The table as written (`customer` or `public.customer`).
    pub table: String,
    pub column: String,
    pub path: Option<JsonPath>,
    pub rule: Rule,
    pub at: Origin,
}

impl RuleEntry {
    /// `table.column` or `table.column.$path`, as written.
    pub fn target(&self) -> String {
        match &self.path {
            Some(p) => format!("{}.{}.{}", self.table, self.column, p.source),
            None => format!("{}.{}", self.table, self.column),
        }
    }
}

#[derive(Deserialize)]
struct RawRoot {
    mask: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

/// The rules of the `[mask]` section of `text` (the factories or rules file at `path`);
/// none without one.
pub fn parse(path: &Path, text: &str) -> Result<Vec<RuleEntry>, Error> {
    parse_in(path, text, false)
}

/// The rules of the `[mask]` section of seed.toml (`text`, at `path`).
pub fn parse_settings(path: &Path, text: &str) -> Result<Vec<RuleEntry>, Error> {
    parse_in(path, text, true)
}

fn parse_in(path: &Path, text: &str, settings: bool) -> Result<Vec<RuleEntry>, Error> {
    // One index per text: a line number for each of thousands of rules stays linear.
    let lines = crate::untrusted::LineIndex::new(text);
    let line_of = |offset: usize| lines.line_of(offset);
    let raw: RawRoot = toml::from_str(text).map_err(|e| {
        let at = Origin { file: path.to_owned(), line: e.span().map_or(1, |s| line_of(s.start)), settings };
        // TOML quotes the keys it stumbles on, and a key may be anything (a URL).
        at.error(crate::redact::mask_quoted(e.message().trim()))
    })?;
    let mut out = Vec::new();
    for (key, value) in raw.mask.unwrap_or_default() {
        let at = Origin { file: path.to_owned(), line: line_of(key.span().start), settings };
        let key = key.into_inner();
        let (target, json) = match key.find(".$") {
            Some(i) => (&key[..i], Some(JsonPath::parse(&key[i + 1..]).map_err(|m| at.error(m))?)),
            None => (key.as_str(), None),
        };
        let Some((table, column)) = target.rsplit_once('.').filter(|(t, c)| !t.is_empty() && !c.is_empty()) else {
            return Err(at.error(format!(
                "[mask] \"{key}\": name a column as \"table.column\" (or \"schema.table.column\", then .$path inside JSON)"
            )));
        };
        let rule = rule_of(value.get_ref()).map_err(|m| at.error(format!("[mask] \"{key}\": {m}")))?;
        out.push(RuleEntry { table: table.to_owned(), column: column.to_owned(), path: json, rule, at });
    }
    Ok(out)
}

const KEYWORDS: &str = "\"hash\", \"null\", \"keep\", \"redact\", \"scramble\" or \"json\"";
const FORMS: &str = "{ fake = \"GENERATOR\" }, { fixed = \"...\" }, { shift = \"±30d\" }, { template = \"user{n}\" }";

fn rule_of(value: &toml::Value) -> Result<Rule, String> {
    match value {
        toml::Value::String(s) => keyword(s).ok_or_else(|| format!("unknown rule \"{s}\"; use {KEYWORDS}, or {FORMS}")),
        toml::Value::Table(t) => {
            let mut entries = t.iter();
            let (Some((name, v)), None) = (entries.next(), entries.next()) else {
                return Err(format!("give exactly one rule: {KEYWORDS}, or one of {FORMS}"));
            };
            let text = || match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                toml::Value::Datetime(d) => Ok(d.to_string()),
                other => Err(format!("{name} takes a string, got {}", other.type_str())),
            };
            match name.as_str() {
                "fake" => {
                    let g = text()?;
                    faker_by_name(&g)
                        .map(Rule::Fake)
                        .ok_or_else(|| format!("unknown generator '{g}'; known: {}", generators()))
                }
                "fixed" => Ok(Rule::Fixed(text()?)),
                "shift" => Shift::parse(&text()?).map(Rule::Shift),
                "template" => MaskTemplate::parse(&text()?).map(Rule::Template),
                other => match (keyword(other), v) {
                    (Some(rule), toml::Value::Boolean(true)) => Ok(rule),
                    (Some(_), _) => Err(format!("write \"{other}\" alone (or {other} = true)")),
                    (None, _) => Err(format!("unknown rule '{other}'; use {KEYWORDS}, or {FORMS}")),
                },
            }
        }
        other => Err(format!("a rule is a string ({KEYWORDS}) or a table ({FORMS}), got {}", other.type_str())),
    }
}

fn keyword(s: &str) -> Option<Rule> {
    Some(match s {
        "hash" => Rule::Hash,
        "null" => Rule::Null,
        "keep" => Rule::Keep,
        "redact" => Rule::Redact,
        "scramble" => Rule::Scramble,
        "json" => Rule::JsonLeaves,
        _ => return None,
    })
}

fn generators() -> String {
    GENERATOR_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Vec<RuleEntry>, Error> {
        parse(Path::new("mask.toml"), text)
    }

    /// r21.7's class in the `[mask]` section: 50,000 rules name their lines from one
    /// scan of the text (counted, not timed; a scan per rule took minutes); an error
    /// deep in the file names its line; a parser message quoting a URL-like key masks it.
    #[test]
    fn many_rules_scan_the_text_once() {
        let mut text = String::from("[mask]\n");
        for i in 0..50_000 {
            text.push_str(&format!("\"t{i}.c\" = \"hash\"\n"));
        }
        let before = crate::untrusted::SCANNED.with(std::cell::Cell::get);
        let rules = parse_text(&text).unwrap();
        let scanned = crate::untrusted::SCANNED.with(std::cell::Cell::get) - before;
        assert_eq!(scanned, text.len(), "line numbers scan the text once");
        assert_eq!(rules.len(), 50_000);
        assert_eq!(rules.iter().find(|r| r.table == "t49999").unwrap().at.line, 50_001);
        text.push_str("\"last.c\" = \"nope\"\n");
        let e = parse_text(&text).unwrap_err();
        assert!(e.to_string().starts_with("mask.toml:50002: [mask] \"last.c\": unknown rule"), "{e}");
        let e =
            parse_text("[mask]\n\"postgres://u:Zq7Pw9x@h/d\" = \"hash\"\n\"postgres://u:Zq7Pw9x@h/d\" = \"hash\"\n")
                .unwrap_err();
        assert!(e.to_string().starts_with("mask.toml:3:") && !e.to_string().contains("Zq7Pw9x"), "{e}");
    }

    #[test]
    fn every_rule_form() {
        let rules = parse_text(
            "[tables.x]\ncount = 3\n\n[mask]\n\"customer.email\" = { fake = \"email\" }\n\"customer.last_name\" = \"redact\"\n\"staff.password\" = { hash = true }\n\"customer.notes\" = \"null\"\n\"public.customer.active\" = \"keep\"\n\"address.country\" = { fixed = \"Nowhere\" }\n\"rental.rental_date\" = { shift = \"±30d\" }\n\"payment.amount\" = { shift = \"+-10%\" }\n\"staff.username\" = { template = \"user{n}@{word}.example\" }\n\"users.profile.$.phones[*].number\" = { fake = \"phone\" }\n\"x.y\" = \"scramble\"\n",
        )
        .unwrap();
        let find = |t: &str| rules.iter().find(|r| r.target() == t).unwrap_or_else(|| panic!("{t}"));
        assert_eq!(find("customer.email").rule, Rule::Fake(Faker::Email));
        assert_eq!(find("customer.email").at.line, 5);
        assert_eq!(find("customer.last_name").rule, Rule::Redact);
        assert_eq!(find("staff.password").rule, Rule::Hash);
        assert_eq!(find("customer.notes").rule, Rule::Null);
        let active = find("public.customer.active");
        assert_eq!(
            (active.table.as_str(), active.column.as_str(), &active.rule),
            ("public.customer", "active", &Rule::Keep)
        );
        assert_eq!(find("address.country").rule, Rule::Fixed("Nowhere".into()));
        assert_eq!(find("rental.rental_date").rule, Rule::Shift(Shift::Seconds(30 * 86_400)));
        assert_eq!(find("payment.amount").rule, Rule::Shift(Shift::Percent(10.0)));
        let Rule::Template(t) = &find("staff.username").rule else { panic!() };
        assert!(t.is_distinct());
        assert_eq!(t.parts.len(), 5);
        let phone = find("users.profile.$.phones[*].number");
        assert_eq!(phone.column, "profile");
        assert_eq!(
            phone.path.as_ref().unwrap().steps,
            vec![Step::Key("phones".into()), Step::Each, Step::Key("number".into())]
        );
        assert_eq!(find("x.y").rule, Rule::Scramble);
        assert!(parse_text("[tables.x]\ncount = 1\n").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse_text("[mask]\n\"a.b\" = \"hash\"\n\"c.d\" = { fake = \"nonsense\" }\n").unwrap_err();
        assert!(
            e.to_string().starts_with("mask.toml:3:") && e.to_string().contains("unknown generator 'nonsense'"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2);
        for (text, wanted) in [
            ("[mask]\n\"ab\" = \"hash\"\n", "name a column as"),
            ("[mask]\n\"a.b\" = \"hide\"\n", "unknown rule \"hide\""),
            ("[mask]\n\"a.b\" = { fake = \"email\", hash = true }\n", "exactly one rule"),
            ("[mask]\n\"a.b\" = { shift = \"soon\" }\n", "expected e.g."),
            ("[mask]\n\"a.b\" = { shift = \"±0d\" }\n", "more than 0"),
            ("[mask]\n\"a.b\" = { template = \"{nope}\" }\n", "unknown generator '{nope}'"),
            ("[mask]\n\"a.b.$x\" = \"hash\"\n", "expected .key"),
            ("[mask]\n\"a.b.$\" = \"hash\"\n", "name a key"),
            ("[mask]\n\"a.b\" = 3\n", "a rule is a string"),
            ("[mask]\n\"a.b\" = { hash = false }\n", "write \"hash\" alone"),
        ] {
            let e = parse_text(text).unwrap_err().to_string();
            assert!(e.starts_with("mask.toml:2:") && e.contains(wanted), "{text}: {e}");
        }
        let e = parse_text("[mask\n").unwrap_err();
        assert!(e.to_string().starts_with("mask.toml:1:"), "{e}");
    }

    #[test]
    fn shifts_and_paths() {
        assert_eq!(Shift::parse("12h"), Ok(Shift::Seconds(43_200)));
        assert_eq!(Shift::parse("±2.5"), Ok(Shift::Amount(2.5)));
        assert_eq!(Shift::parse("±30d").unwrap().to_string(), "±30d");
        assert!(Shift::parse("±1.5d").is_err());
        assert!(Shift::parse("±99999999d").is_err());
        assert!(Shift::parse("±5000%").is_err());
        assert_eq!(JsonPath::parse("$[\"a.b\"][2]").unwrap().steps, vec![Step::Key("a.b".into()), Step::Index(2)]);
        assert!(JsonPath::parse(&format!("${}", ".a".repeat(33))).is_err());
        assert!(JsonPath::parse("$[x]").is_err());
    }
}
