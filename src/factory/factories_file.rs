//! The factories file (TOML): per-table counts and per-column generators.
//!
//! ```toml
//! [tables.staffs]
//! count = 200
//! columns.email = { template = "{first_name}.{last_name}{i}@care.example" }
//! columns.phone = { generator = "phone" }
//!
//! [tables.office_staffs]
//! per_parent = { table = "offices", count = 20 }
//! columns.role = { one_of = ["manager", "carer", "nurse"] }
//! ```
//! Syntax errors and unknown keys are reported with the file and line before anything
//! connects; unknown tables, columns and generators once the schema is known.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;
use crate::factory::profile::{JsonShape, ProfileSettings};
use crate::refs::spec::{RawSection, VirtualRef, parse_section};
use crate::subset::file::{FileRules, RawSection as RawSubset};

/// The most values a learned value set may hold (`[profile] max_values`).
pub const MAX_PROFILE_VALUES: usize = 1000;
use crate::factory::values::faker_by_name;
use crate::untrusted::LineIndex;

/// Most rows per table, from `--count`, `--table` or the factories file (per_parent
/// counts multiplied out included).
pub const MAX_COUNT: u64 = 1_000_000_000;

/// Far more than any factories file needs; keeps a wrong path (a log, /dev/zero) from
/// filling memory.
const MAX_FILE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct Factories {
    pub path: PathBuf,
    text: String,
    pub tables: Vec<TableConfig>,
    /// `[profile] from = "..."`: the file is a learned profile. Its rules shape only
    /// columns seed does not fill by construction (keys, unique values and foreign keys
    /// keep theirs), and rules for tables or columns the database lacks are skipped.
    pub learned: Option<String>,
    /// `[profile]`: how profiles are learned (`--like`, `snapshot profile`).
    pub profile: ProfileSettings,
    /// `[references]`: references the schema does not declare (`refs::spec`).
    pub references: Vec<VirtualRef>,
    /// `[subset]`: the slice `snapshot create --factories` and `prepare` take.
    pub subset: Option<FileRules>,
}

#[derive(Debug, Clone)]
pub struct TableConfig {
    pub name: String,
    pub line: usize,
    pub count: Option<u64>,
    pub per_parent: Option<(String, u64)>,
    /// Where `per_parent` is (the table's line without it).
    pub per_parent_line: usize,
    pub columns: Vec<ColumnConfig>,
}

#[derive(Debug, Clone)]
pub struct ColumnConfig {
    pub name: String,
    pub line: usize,
    pub rule: ColumnRule,
    /// Relative weights of `one_of`'s values (same length).
    pub weights: Option<Vec<f64>>,
    /// Share of NULLs (nullable columns).
    pub null_rate: Option<f64>,
    /// Shortest and longest text, in characters.
    pub length: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnRule {
    Generator(String),
    Value(Option<String>),
    OneOf(Vec<Option<String>>),
    Template(Template),
    /// Lowest and highest value (numbers, dates, times), inclusive.
    Range(String, String),
    /// JSON documents with these keys and value types.
    Json(JsonShape),
    /// Seed's own generator, shaped only by `null_rate` or `length`.
    Default,
}

/// `"{first_name}.{last_name}{i}@example.com"`: literal text and generator names;
/// `{i}` is the row number (from 1) within the table, unique per load.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub source: String,
    pub parts: Vec<TemplatePart>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Generator(String),
    Index,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tables: BTreeMap<Spanned<String>, Spanned<RawTable>>,
    profile: Option<Spanned<RawProfile>>,
    #[serde(default)]
    references: RawSection,
    subset: Option<Spanned<RawSubset>>,
    /// `[mask]`: read by `mask::rules` (snapshot create and mask); bulk ignores it.
    #[serde(default, rename = "mask")]
    _mask: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    from: Option<String>,
    max_values: Option<i64>,
    min_count: Option<i64>,
    #[serde(default)]
    personal: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    count: Option<Spanned<i64>>,
    per_parent: Option<Spanned<RawPerParent>>,
    #[serde(default)]
    columns: BTreeMap<Spanned<String>, Spanned<RawColumn>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerParent {
    table: String,
    count: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    generator: Option<String>,
    value: Option<toml::Value>,
    one_of: Option<Vec<toml::Value>>,
    template: Option<String>,
    null: Option<bool>,
    range: Option<Vec<toml::Value>>,
    json: Option<toml::Value>,
    weights: Option<Vec<toml::Value>>,
    null_rate: Option<f64>,
    length: Option<Vec<i64>>,
}

impl Factories {
    pub fn load(path: &Path) -> Result<Self, Error> {
        let read_error = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => Error::usage(format!("factories file {} not found", path.display())),
            _ => Error::io("reading factories file", path, e),
        };
        if std::fs::metadata(path).map_err(read_error)?.is_dir() {
            return Err(Error::usage_hint(
                format!("factories file {} is a directory", path.display()),
                "pass the path of a TOML file (--factories FILE or SEED_FACTORIES), e.g. fixtures/factories.toml",
            ));
        }
        let mut bytes = Vec::new();
        let file = std::fs::File::open(path).map_err(read_error)?;
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(Error::usage(format!(
                "factories file {} is larger than {} MiB; a factories file is a short TOML file",
                path.display(),
                MAX_FILE_BYTES >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
            Error::Config {
                file: path.to_owned(),
                line,
                message: "the file is not UTF-8 text; save it as UTF-8".into(),
            }
        })?;
        Self::parse(path, text)
    }

    /// Reads the whole file and reports every mistake it finds, each with its line: all
    /// the syntax errors, then every unknown key or wrong value in every table and column
    /// (a file is fixed in one round, not one error per run).
    pub fn parse(path: &Path, text: String) -> Result<Self, Error> {
        let lines = LineIndex::new(&text);
        let err = |offset: usize, message: String| Error::Config {
            file: path.to_owned(),
            line: lines.line_of(offset),
            message,
        };
        let raw: RawFile = match toml::from_str(&text) {
            Ok(raw) => raw,
            Err(first) => {
                let mut problems = shape_problems(&text);
                if problems.is_empty() {
                    problems.push((first.span().map_or(0, |s| s.start), first.message().trim().to_owned()));
                }
                // TOML's messages may quote a key that is a URL with its password.
                let problems = problems.into_iter().map(|(o, m)| err(o, crate::redact::mask_quoted(&m)));
                return Err(Error::configs(problems.collect()));
            }
        };
        let mut problems = Vec::new();
        let mut tables = Vec::new();
        for (name, table) in raw.tables {
            let line = lines.line_of(name.span().start);
            let (name, table) = (name.into_inner(), table.into_inner());
            let head = table_head(&name, table.count, table.per_parent, &err);
            let mut columns = Vec::new();
            for (col, rule) in table.columns {
                match column_config(&name, col, rule, &lines, &err) {
                    Ok(c) => columns.push(c),
                    Err(e) => problems.push(e),
                }
            }
            match head {
                Ok((count, per_parent, per_parent_at)) => {
                    let per_parent_line = per_parent_at.map_or(line, |at| lines.line_of(at));
                    tables.push(TableConfig { name, line, count, per_parent, per_parent_line, columns });
                }
                Err(e) => problems.push(e),
            }
        }
        let mut profile = ProfileSettings::default();
        let mut learned = None;
        if let Some(raw) = raw.profile {
            let span = raw.span().start;
            let raw = raw.into_inner();
            if let Some(n) = raw.max_values {
                match usize::try_from(n).ok().filter(|n| (1..=MAX_PROFILE_VALUES).contains(n)) {
                    Some(n) => profile.max_values = n,
                    None => problems.push(err(
                        span,
                        format!("[profile] max_values must be between 1 and {MAX_PROFILE_VALUES}, got {n}"),
                    )),
                }
            }
            if let Some(n) = raw.min_count {
                match u64::try_from(n).ok().filter(|n| *n >= 1) {
                    Some(n) => profile.min_count = n,
                    None => problems.push(err(span, format!("[profile] min_count must be 1 or more, got {n}"))),
                }
            }
            profile.personal = raw.personal;
            learned = raw.from;
        }
        let references = parse_section(path, &|o| lines.line_of(o), raw.references).unwrap_or_else(|e| {
            problems.push(Error::Config { file: e.file, line: e.line, message: e.message });
            Vec::new()
        });
        let subset = match raw.subset.map(|s| crate::subset::file::parse_section(path, &|o| lines.line_of(o), s)) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                problems.push(e);
                None
            }
            None => None,
        };
        if !problems.is_empty() {
            return Err(Error::configs(problems));
        }
        Ok(Self { path: path.to_owned(), text, tables, learned, profile, references, subset })
    }

    /// An error pointing at `line` of this file.
    pub fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::Config { file: self.path.clone(), line, message: message.into() }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A table's count and per_parent (with the offset where per_parent is written).
type Head = (Option<u64>, Option<(String, u64)>, Option<usize>);

fn table_head(
    name: &str,
    count: Option<Spanned<i64>>,
    per_parent: Option<Spanned<RawPerParent>>,
    err: &dyn Fn(usize, String) -> Error,
) -> Result<Head, Error> {
    let count = match count {
        Some(c) => match u64::try_from(*c.get_ref()) {
            Ok(n) if n <= MAX_COUNT => Some(n),
            _ => {
                return Err(err(
                    c.span().start,
                    format!(
                        "count for {name} must be between 0 and {MAX_COUNT} (0 leaves it out), got {}",
                        c.get_ref()
                    ),
                ));
            }
        },
        None => None,
    };
    let (per_parent, per_parent_at) = match per_parent {
        Some(p) => {
            let span = p.span().start;
            let p = p.into_inner();
            let Some(k) = u64::try_from(p.count).ok().filter(|k| (1..=MAX_COUNT).contains(k)) else {
                return Err(err(
                    span,
                    format!("per_parent count for {name} must be between 1 and {MAX_COUNT}, got {}", p.count),
                ));
            };
            if count.is_some() {
                return Err(err(span, format!("{name}: give either count or per_parent, not both")));
            }
            (Some((p.table, k)), Some(span))
        }
        None => (None, None),
    };
    Ok((count, per_parent, per_parent_at))
}

/// One column's rule, checked.
fn column_config(
    name: &str,
    col: Spanned<String>,
    rule: Spanned<RawColumn>,
    lines: &LineIndex,
    err: &dyn Fn(usize, String) -> Error,
) -> Result<ColumnConfig, Error> {
    let col_line = lines.line_of(col.span().start);
    let span = rule.span().start;
    let rule = rule.into_inner();
    let given = [
        rule.generator.is_some(),
        rule.value.is_some(),
        rule.one_of.is_some(),
        rule.template.is_some(),
        rule.null.is_some(),
        rule.range.is_some(),
        rule.json.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let shaped = rule.null_rate.is_some() || rule.length.is_some();
    if given > 1 || given == 0 && !shaped {
        return Err(err(
            span,
            format!(
                "{name}.{}: give exactly one of generator, value, one_of, template, null, range or json (null_rate and length may go with any, or alone)",
                col.get_ref()
            ),
        ));
    }
    let at = |m: String| err(span, format!("{name}.{}: {m}", col.get_ref()));
    let null_rate = match rule.null_rate {
        Some(r) if !(0.0..=1.0).contains(&r) => {
            return Err(at(format!("null_rate must be between 0 and 1, got {r}")));
        }
        r => r,
    };
    let length = match rule.length.as_deref() {
        None => None,
        Some(&[a, b]) if a >= 0 && a <= b && b <= i64::from(u32::MAX) => {
            Some((u32::try_from(a).unwrap_or(0), u32::try_from(b).unwrap_or(u32::MAX)))
        }
        Some(other) => {
            return Err(at(format!("length must be [shortest, longest] with 0 <= shortest <= longest, got {other:?}")));
        }
    };
    let weights = match (&rule.weights, &rule.one_of) {
        (None, _) => None,
        (Some(w), Some(items)) if w.len() == items.len() => Some(
            w.iter()
                .map(|v| match v {
                    toml::Value::Integer(i) if *i >= 0 => Ok(*i as f64),
                    toml::Value::Float(f) if *f >= 0.0 && f.is_finite() => Ok(*f),
                    other => Err(at(format!("weights must be numbers of 0 or more, got {other}"))),
                })
                .collect::<Result<Vec<f64>, Error>>()?,
        ),
        (Some(_), Some(_)) => return Err(at("weights needs one number per one_of value".into())),
        (Some(_), None) => return Err(at("weights goes with one_of".into())),
    };
    let parsed = if let Some(range) = rule.range {
        let [lo, hi] = range.as_slice() else {
            return Err(at("range must be [lowest, highest]".into()));
        };
        ColumnRule::Range(scalar(lo).map_err(&at)?, scalar(hi).map_err(&at)?)
    } else if let Some(shape) = rule.json {
        ColumnRule::Json(JsonShape::from_toml(&shape).map_err(&at)?)
    } else if given == 0 {
        ColumnRule::Default
    } else if let Some(g) = rule.generator {
        if faker_by_name(&g).is_none() {
            return Err(err(
                span,
                format!("unknown generator '{g}' for {name}.{}; known: {}", col.get_ref(), generator_list()),
            ));
        }
        ColumnRule::Generator(g)
    } else if let Some(v) = rule.value {
        ColumnRule::Value(Some(scalar(&v).map_err(|m| err(span, format!("{name}.{}: {m}", col.get_ref())))?))
    } else if let Some(list) = rule.one_of {
        if list.is_empty() {
            return Err(err(span, format!("{name}.{}: one_of needs at least one value", col.get_ref())));
        }
        let items = list
            .iter()
            .map(|v| scalar(v).map(Some))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| err(span, format!("{name}.{}: {m}", col.get_ref())))?;
        ColumnRule::OneOf(items)
    } else if let Some(t) = rule.template {
        ColumnRule::Template(Template::parse(&t).map_err(|m| err(span, format!("{name}.{}: {m}", col.get_ref())))?)
    } else {
        if rule.null != Some(true) {
            return Err(err(span, format!("{name}.{}: only `null = true` is meaningful", col.get_ref())));
        }
        ColumnRule::Value(None)
    };
    Ok(ColumnConfig { name: col.into_inner(), line: col_line, rule: parsed, weights, null_rate, length })
}

/// Every syntax error of `text`, or else every part of it serde refuses (an unknown
/// key, a value of the wrong type), each as (byte offset, message): each table, its
/// head and each column rule read on their own, so one mistake does not hide the next.
fn shape_problems(text: &str) -> Vec<(usize, String)> {
    use toml::de::{DeTable, DeValue, ValueDeserializer};
    type Part<'i> = Spanned<DeValue<'i>>;
    fn check<T: serde::de::DeserializeOwned>(part: &Part<'_>, out: &mut Vec<(usize, String)>) {
        if let Err(e) = T::deserialize(ValueDeserializer::from(part.clone())) {
            out.push((e.span().map_or(part.span().start, |s| s.start), e.message().trim().to_owned()));
        }
    }
    let unknown = |key: &Spanned<toml::de::DeString<'_>>, expected: &str| {
        (key.span().start, format!("unknown field `{}`, expected one of {expected}", key.get_ref()))
    };
    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut out: Vec<(usize, String)> =
        syntax.iter().map(|e| (e.span().map_or(0, |s| s.start), e.message().trim().to_owned())).collect();
    if !out.is_empty() {
        return out;
    }
    for (key, part) in root.get_ref() {
        match (key.get_ref().as_ref(), part.get_ref()) {
            ("tables", DeValue::Table(tables)) => {
                for table in tables.values() {
                    let DeValue::Table(entries) = table.get_ref() else {
                        check::<RawTable>(table, &mut out);
                        continue;
                    };
                    for (key, part) in entries {
                        match (key.get_ref().as_ref(), part.get_ref()) {
                            ("count", _) => check::<i64>(part, &mut out),
                            ("per_parent", _) => check::<RawPerParent>(part, &mut out),
                            ("columns", DeValue::Table(columns)) => {
                                for rule in columns.values() {
                                    check::<RawColumn>(rule, &mut out);
                                }
                            }
                            ("columns", _) => check::<BTreeMap<String, RawColumn>>(part, &mut out),
                            _ => out.push(unknown(key, "`count`, `per_parent`, `columns`")),
                        }
                    }
                }
            }
            ("tables", _) => check::<BTreeMap<String, RawTable>>(part, &mut out),
            ("profile", _) => check::<RawProfile>(part, &mut out),
            ("references", _) => check::<RawSection>(part, &mut out),
            ("subset", _) => check::<RawSubset>(part, &mut out),
            ("mask", _) => {}
            _ => out.push(unknown(key, "`tables`, `profile`, `references`, `subset`, `mask`")),
        }
    }
    out
}

fn generator_list() -> String {
    crate::factory::values::GENERATOR_NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn scalar(v: &toml::Value) -> Result<String, String> {
    match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        other => Err(format!("expected a string, number, boolean or date, got {}", other.type_str())),
    }
}

impl Template {
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
            if name == "i" {
                parts.push(TemplatePart::Index);
            } else if faker_by_name(name).is_some() {
                parts.push(TemplatePart::Generator(name.to_owned()));
            } else {
                return Err(format!(
                    "unknown generator '{{{name}}}' in template \"{source}\"; known: i, {}",
                    generator_list()
                ));
            }
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Literal(rest.to_owned()));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    /// True when every value is distinct (it contains `{i}`).
    pub fn is_unique(&self) -> bool {
        self.parts.contains(&TemplatePart::Index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Factories, Error> {
        Factories::parse(Path::new("f.toml"), text.to_owned())
    }

    #[test]
    fn full_example() {
        let f = parse(
            "[tables.staffs]\ncount = 20\ncolumns.email = { template = \"{first_name}{i}@x.example\" }\ncolumns.phone = { generator = \"phone\" }\n\n[tables.office_staffs]\nper_parent = { table = \"offices\", count = 3 }\ncolumns.role = { one_of = [\"manager\", \"nurse\"] }\ncolumns.note = { null = true }\n",
        )
        .unwrap();
        assert_eq!(f.tables.len(), 2);
        let os = f.tables.iter().find(|t| t.name == "office_staffs").unwrap();
        assert_eq!(os.per_parent, Some(("offices".into(), 3)));
        assert_eq!(os.line, 6);
        let staffs = f.tables.iter().find(|t| t.name == "staffs").unwrap();
        assert_eq!(staffs.count, Some(20));
        let email = staffs.columns.iter().find(|c| c.name == "email").unwrap();
        assert_eq!(email.line, 3);
        let ColumnRule::Template(t) = &email.rule else { panic!() };
        assert!(t.is_unique());
    }

    #[test]
    fn references_section() {
        let f = parse("[tables.a]\ncount = 1\n\n[references]\n\"comments.post_id\" = \"posts.id\"\n").unwrap();
        assert_eq!(f.references.len(), 1);
        assert_eq!(
            (f.references[0].origin(), f.references[0].child.to_string()),
            ("f.toml:5".into(), "comments.post_id".into())
        );
        let e = parse("[references]\n\"comments\" = \"posts.id\"\n").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2: [references]"), "{e}");
    }

    #[test]
    fn counts_keep_to_the_command_line_limit() {
        assert!(parse("[tables.a]\ncount = 1000000000\n").is_ok());
        assert!(parse("[tables.a]\ncount = 0\n").is_ok());
        let e = parse("[tables.a]\ncount = 1000000001\n").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2:") && e.to_string().contains("1000000000"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = parse("\n[tables.a]\nper_parent = { table = \"b\", count = 1000000001 }\n").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:3:"), "{e}");
        let e = parse("[tables.a]\nper_parent = { table = \"b\", count = 0 }\n").unwrap_err();
        assert!(e.to_string().contains("between 1 and"), "{e}");
        let f = parse("[tables.a]\n\nper_parent = { table = \"b\", count = 2 }\n").unwrap();
        assert_eq!((f.tables[0].line, f.tables[0].per_parent_line), (1, 3));
    }

    #[test]
    fn load_refuses_directories_and_non_utf8_as_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = Factories::load(dir.path()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("is a directory"), "{e}");
        let file = dir.path().join("f.toml");
        std::fs::write(&file, b"[tables.a]\ncount = 1\n# caf\xe9\n").unwrap();
        let e = Factories::load(&file).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().ends_with("f.toml:3: the file is not UTF-8 text; save it as UTF-8"), "{e}");
        // A wrong path to an endless file stops at the size limit.
        let e = Factories::load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("larger than 16 MiB"), "{e}");
    }

    /// r21.7: thousands of tables and columns parse in one pass over the text for
    /// line numbers (counted, not timed); an error deep in the file names its line.
    #[test]
    fn many_entries_scan_the_text_once() {
        let mut text = String::new();
        for t in 0..5_000 {
            text.push_str(&format!(
                "[tables.t{t}]\ncount = 1\ncolumns.a = {{ value = 1 }}\ncolumns.b = {{ value = 2 }}\n"
            ));
        }
        let before = crate::untrusted::SCANNED.with(std::cell::Cell::get);
        let f = parse(&text).unwrap();
        let scanned = crate::untrusted::SCANNED.with(std::cell::Cell::get) - before;
        assert_eq!(scanned, text.len(), "line numbers scan the text once");
        assert_eq!(f.tables.len(), 5_000);
        assert_eq!(f.tables.iter().find(|t| t.name == "t4999").unwrap().columns[1].line, 20_000);
        text.push_str("[tables.last]\ncolumns.x = { generator = \"nope\" }\n");
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains(":20002: unknown generator 'nope'"), "{err}");
    }

    /// r19.12: a file with several mistakes reports every one, each with its line, in
    /// one run: unknown keys in two tables, a bad column rule, a bad count, a bad
    /// [profile] value; several syntax errors likewise.
    #[test]
    fn every_mistake_is_reported_with_its_line() {
        let text = "[tables.staffs]\ncuont = 1\ncolumns.a = { generator = \"nope\" }\ncolumns.b = { genrator = \"email\" }\n\n[tables.offices]\ncount = -1\ncolumns.c = { value = 1, one_of = [2] }\ncolumns.d = { null_rate = 2 }\n\n[profile]\nmin_count = 0\n[extra]\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        let lines: Vec<&str> = msg.lines().collect();
        assert!(lines.iter().all(|l| l.starts_with("f.toml:")), "{msg}");
        // Shape errors come first (serde reads nothing until the keys are right).
        assert!(lines.iter().any(|l| l.starts_with("f.toml:2:") && l.contains("cuont")), "{msg}");
        assert!(lines.iter().any(|l| l.starts_with("f.toml:4:") && l.contains("genrator")), "{msg}");
        assert!(lines.iter().any(|l| l.starts_with("f.toml:13:") && l.contains("extra")), "{msg}");
        assert_eq!(lines.len(), 3, "{msg}");
        // Once the keys are right, every value mistake at once.
        let text = text.replace("cuont", "count").replace("genrator", "generator").replace("[extra]\n", "");
        let msg = parse(&text).unwrap_err().to_string();
        let at: Vec<&str> = msg.lines().map(|l| l.split(": ").next().unwrap()).collect();
        assert_eq!(at, ["f.toml:3", "f.toml:7", "f.toml:8", "f.toml:9", "f.toml:11"], "{msg}");
        assert!(msg.contains("unknown generator 'nope'") && msg.contains("min_count must be 1"), "{msg}");
        // Syntax errors: each of them.
        let msg =
            parse("[tables.a]\ncount = = 1\n[tables.b]\ncount = 1\ncolumns.x = { value = }\n").unwrap_err().to_string();
        assert!(msg.contains("f.toml:2:") && msg.contains("f.toml:5:"), "{msg}");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("[tables.staffs]\ncount = 1\n\n[tables.offices]\ncolumns.name = { generator = \"nonsense\" }\n")
            .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("f.toml:5:"), "{msg}");
        assert!(msg.contains("unknown generator 'nonsense'"), "{msg}");

        let e = parse("[tables.staffs]\ncuont = 1\n").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:2:"), "{e}");
        assert_eq!(e.exit_code(), 2);

        let e = parse("[tables.staffs\n").unwrap_err();
        assert!(e.to_string().starts_with("f.toml:1:"), "{e}");

        let e = parse("[tables.staffs]\ncount = -3\n").unwrap_err();
        assert!(e.to_string().contains("must be between 0 and 1000000000"), "{e}");

        let e = parse("[tables.a]\ncolumns.x = { template = \"{nope}\" }\n").unwrap_err();
        assert!(e.to_string().contains("unknown generator '{nope}'"), "{e}");
    }
}
