//! `seed.toml`: what a team would otherwise repeat in every CI file. Global options are
//! top-level keys named like the long options (`snapshot-dir`, `_` accepted for `-`);
//! command options go in `[bulk]` and `[snapshot]`. Relative paths resolve from the
//! file's folder. Flags and environment variables beat the file, which beats defaults.
//!
//! Refused in the file: a database URL holding a password (it would be committed), and
//! the switches that make a command destructive or lift a safety check (`allow-remote`,
//! `truncate`, `clean`, `force`): those are typed each time.
//!
//! # Adding an option
//! Every key the file may hold is one row of [`KEYS`]: its name (`section.key`), the
//! kind of value it takes (how it is checked and converted, what an error says it must
//! be, how `doctor` shows it) and, for a command option, how it fills the parsed
//! command's arguments when the command line and the environment left them unset.
//! That row is all a new command option needs: parsing, the unknown-key message, line
//! numbers, `doctor`'s list and the layering (flag > environment > file > default)
//! follow from it. A new global option gets its row too (with no `apply`), and
//! `settings` resolves it with its other globals (`Resolver::value` reads the row by
//! name and records the source for `doctor`). A switch that must never come from a file
//! goes in [`REFUSED`] instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use toml::{Spanned, Value};

use crate::cli::{Command, CreateArgs, SeedingArgs, SnapshotCommand, UnrelatedArg, parse_duration};
use crate::error::Error;
use crate::output::LogFormat;
use crate::refs::spec::{RawSection, VirtualRef, parse_section};

pub const DEFAULT_FILE: &str = "seed.toml";

/// Config files are a few dozen lines; anything larger is refused before it is parsed.
const MAX_BYTES: u64 = 1 << 20;

/// The sections: `[bulk]` and `[snapshot]` hold options (rows of [`KEYS`]);
/// `[references]` and `[mask]` are read by their own parsers.
const SECTIONS: &[&str] = &["bulk", "snapshot", "references", "mask"];

/// Switches refused in a file (see the module documentation); never offered as keys.
pub const REFUSED: &[&str] = &[
    "allow-remote",
    "bulk.allow-remote",
    "bulk.truncate",
    "snapshot.allow-remote",
    "snapshot.clean",
    "snapshot.force",
];

/// Whether the command line (or its environment variable) gave the option with this
/// clap id to the command being run.
pub type Given<'a> = dyn Fn(&str) -> bool + 'a;

/// One key the file may hold.
pub struct Key {
    /// `name` for a global option, `section.name` for a command option.
    pub name: &'static str,
    /// Another spelling within its section (besides `_` for `-`), e.g. `table`.
    pub alias: Option<&'static str>,
    pub kind: Kind,
    /// A command option: fills the command's arguments from the file's value where the
    /// command line and environment left them unset (another command: nothing).
    pub apply: Option<fn(&mut Command, &Typed, &Given)>,
}

/// Every key of a `seed.toml`, in the order `doctor` lists them.
pub const KEYS: &[Key] = &[
    global("database-url", Kind::Url),
    global("direct-url", Kind::Url),
    global("snapshot-dir", Kind::Path),
    global("connect-timeout", Kind::Duration),
    global("statement-timeout", Kind::Duration),
    global("retry-max-attempts", Kind::U32),
    global("retry-base-delay", Kind::Duration),
    global("retry-max-delay", Kind::Duration),
    global("log-format", Kind::LogFormat),
    global("no-progress", Kind::Bool),
    // [bulk]: `seed bulk` only (not `prepare`: its options are on its command line).
    Key {
        name: "bulk.count",
        alias: None,
        kind: Kind::Whole,
        apply: Some(|c, v, _| bulk(c, |a| fill(&mut a.count, v))),
    },
    Key {
        name: "bulk.tables",
        alias: Some("table"),
        kind: Kind::Counts,
        apply: Some(|c, v, _| bulk(c, |a| merge_counts(&mut a.tables, v.get().unwrap_or_default()))),
    },
    Key {
        name: "bulk.factories",
        alias: None,
        kind: Kind::Path,
        apply: Some(|c, v, _| bulk(c, |a| fill(&mut a.factories, v))),
    },
    Key {
        name: "bulk.batch-size",
        alias: None,
        kind: Kind::Whole,
        apply: Some(|c, v, _| bulk(c, |a| fill(&mut a.batch_size, v))),
    },
    Key { name: "bulk.seed", alias: None, kind: Kind::Whole, apply: Some(|c, v, _| bulk(c, |a| fill(&mut a.seed, v))) },
    // [snapshot]: `seed snapshot create`. With --no-subset nothing after `exclude` comes
    // from here (a slice's rules, and the seed and factories file a slice reads).
    Key {
        name: "snapshot.tables",
        alias: Some("table"),
        kind: Kind::Names,
        apply: Some(|c, v, _| create(c, |a| fill_list(&mut a.tables, v))),
    },
    Key {
        name: "snapshot.exclude",
        alias: None,
        kind: Kind::Names,
        apply: Some(|c, v, _| create(c, |a| fill_list(&mut a.exclude, v))),
    },
    Key {
        name: "snapshot.compression-level",
        alias: None,
        kind: Kind::Level,
        apply: Some(|c, v, given| {
            create(c, |a| {
                if !given("compression_level")
                    && let Some(level) = v.get()
                {
                    a.compression_level = level;
                }
            });
        }),
    },
    Key {
        name: "snapshot.subset",
        alias: None,
        kind: Kind::Starts,
        apply: Some(|c, v, _| slice(c, |a| fill_list(&mut a.subset.subset, v))),
    },
    Key {
        name: "snapshot.children-per-parent",
        alias: None,
        kind: Kind::AtLeastOne,
        apply: Some(|c, v, _| {
            slice(c, |a| {
                if !a.subset.no_children {
                    fill(&mut a.subset.children_per_parent, v);
                }
            });
        }),
    },
    Key {
        name: "snapshot.no-children",
        alias: None,
        kind: Kind::Bool,
        // After children-per-parent: a count from either place wins over this.
        apply: Some(|c, v, _| {
            slice(c, |a| {
                if a.subset.children_per_parent.is_none() && v.get() == Some(true) {
                    a.subset.no_children = true;
                }
            });
        }),
    },
    Key {
        name: "snapshot.unrelated",
        alias: None,
        kind: Kind::Unrelated,
        apply: Some(|c, v, _| slice(c, |a| fill(&mut a.subset.unrelated, v))),
    },
    Key {
        name: "snapshot.seed",
        alias: None,
        kind: Kind::NonNegative,
        apply: Some(|c, v, _| slice(c, |a| fill(&mut a.seed, v))),
    },
    Key {
        name: "snapshot.factories",
        alias: None,
        kind: Kind::Path,
        apply: Some(|c, v, _| slice(c, |a| fill(&mut a.factories, v))),
    },
];

const fn global(name: &'static str, kind: Kind) -> Key {
    Key { name, alias: None, kind, apply: None }
}

/// `[bulk]` options reach `seed bulk`'s seeding options.
fn bulk(command: &mut Command, f: impl FnOnce(&mut SeedingArgs)) {
    if let Command::Bulk(args) = command {
        f(&mut args.seeding);
    }
}

/// `[snapshot]` options reach `seed snapshot create`.
fn create(command: &mut Command, f: impl FnOnce(&mut CreateArgs)) {
    if let Command::Snapshot(SnapshotCommand::Create(args)) = command {
        f(args);
    }
}

/// `create`, unless `--no-subset` asked for every row.
fn slice(command: &mut Command, f: impl FnOnce(&mut CreateArgs)) {
    create(command, |a| {
        if !a.subset.no_subset {
            f(a);
        }
    });
}

/// An option left unset takes the file's value.
fn fill<T: FromTyped>(slot: &mut Option<T>, value: &Typed) {
    if slot.is_none() {
        *slot = value.get();
    }
}

/// A list left empty takes the file's list.
fn fill_list(slot: &mut Vec<String>, value: &Typed) {
    if slot.is_empty()
        && let Some(v) = value.get()
    {
        *slot = v;
    }
}

/// File counts for tables the command line does not name come first.
fn merge_counts(args: &mut Vec<String>, file: Vec<(String, i64)>) {
    let named: std::collections::HashSet<String> =
        args.iter().map(|t| t.rsplit_once('=').map_or(t.as_str(), |(n, _)| n).to_owned()).collect();
    let mut merged: Vec<String> =
        file.iter().filter(|(t, _)| !named.contains(t)).map(|(t, n)| format!("{t}={n}")).collect();
    merged.append(args);
    *args = merged;
}

/// What a key takes: how its value is checked and converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A database URL without a password.
    Url,
    /// A path; a relative one starts from the file's folder.
    Path,
    Duration,
    /// Any whole number (the command checks its range, as for the flag).
    Whole,
    U32,
    /// A compression level, 0 to 9.
    Level,
    AtLeastOne,
    NonNegative,
    Bool,
    LogFormat,
    /// One table name or pattern, or a list of them.
    Names,
    /// Starting points of a slice (`--subset`), each checked.
    Starts,
    /// `{ staffs = 200 }`.
    Counts,
    Unrelated,
}

/// A value of the file, converted.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Text(String),
    Path(PathBuf),
    Duration(Duration),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    Counts(Vec<(String, i64)>),
    LogFormat(LogFormat),
    Unrelated(UnrelatedArg),
}

impl Typed {
    /// The value as `T`, when it is one.
    pub fn get<T: FromTyped>(&self) -> Option<T> {
        T::from_typed(self)
    }
}

/// The types options are read as.
pub trait FromTyped: Sized {
    fn from_typed(t: &Typed) -> Option<Self>;
}

macro_rules! from_typed {
    ($t:ty, $pat:pat => $e:expr) => {
        impl FromTyped for $t {
            fn from_typed(t: &Typed) -> Option<Self> {
                match t {
                    $pat => $e,
                    _ => None,
                }
            }
        }
    };
}
from_typed!(String, Typed::Text(s) => Some(s.clone()));
from_typed!(PathBuf, Typed::Path(p) => Some(p.clone()));
from_typed!(Duration, Typed::Duration(d) => Some(*d));
from_typed!(i64, Typed::Int(i) => Some(*i));
from_typed!(u64, Typed::Int(i) => u64::try_from(*i).ok());
from_typed!(u32, Typed::Int(i) => u32::try_from(*i).ok());
from_typed!(bool, Typed::Bool(b) => Some(*b));
from_typed!(Vec<String>, Typed::List(l) => Some(l.clone()));
from_typed!(Vec<(String, i64)>, Typed::Counts(c) => Some(c.clone()));
from_typed!(LogFormat, Typed::LogFormat(f) => Some(*f));
from_typed!(UnrelatedArg, Typed::Unrelated(u) => Some(*u));

impl Kind {
    /// What an error says the value must be.
    fn expected(self) -> &'static str {
        match self {
            Kind::Url => "a database URL string",
            Kind::Path => "a path (relative paths start from the file's folder; no NUL byte)",
            Kind::Duration => "a duration such as \"250ms\", \"5s\" or \"10min\" (a number means seconds)",
            Kind::Whole | Kind::U32 => "a whole number",
            Kind::Level => "0 to 9",
            Kind::AtLeastOne => "a whole number from 1 (no-children = true for none)",
            Kind::NonNegative => "a whole number of 0 or more",
            Kind::Bool => "true or false",
            Kind::LogFormat => "\"text\" or \"json\"",
            Kind::Names => "a list of table names or patterns",
            Kind::Starts => "a list of starting points such as \"customer:store_id = 1\"",
            Kind::Counts => "a table of counts, e.g. { staffs = 200 }",
            Kind::Unrelated => "\"empty\" or \"keep\"",
        }
    }

    /// The value converted, `None` when it is not of this kind.
    fn convert(self, v: &Value, dir: &Path) -> Option<Typed> {
        let int = || v.as_integer();
        let list = || match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => None,
        };
        Some(match self {
            Kind::Url => Typed::Text(v.as_str()?.to_owned()),
            Kind::Path => {
                let p = Path::new(v.as_str().filter(|s| !s.is_empty() && !s.contains('\0'))?);
                Typed::Path(if p.is_absolute() { p.to_path_buf() } else { dir.join(p) })
            }
            Kind::Duration => Typed::Duration(match v {
                Value::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs)?,
                Value::String(s) => parse_duration(s).ok()?,
                _ => return None,
            }),
            Kind::Whole => Typed::Int(int()?),
            Kind::U32 => Typed::Int(int().filter(|i| u32::try_from(*i).is_ok())?),
            Kind::Level => Typed::Int(int().filter(|i| (0..=9).contains(i))?),
            Kind::AtLeastOne => Typed::Int(int().filter(|i| *i >= 1)?),
            Kind::NonNegative => Typed::Int(int().filter(|i| *i >= 0)?),
            Kind::Bool => Typed::Bool(v.as_bool()?),
            Kind::LogFormat => Typed::LogFormat(match v.as_str() {
                Some("text") => LogFormat::Text,
                Some("json") => LogFormat::Json,
                _ => return None,
            }),
            Kind::Names | Kind::Starts => Typed::List(list()?),
            Kind::Counts => Typed::Counts(
                v.as_table()?.iter().map(|(k, n)| Some((k.clone(), n.as_integer()?))).collect::<Option<_>>()?,
            ),
            Kind::Unrelated => Typed::Unrelated(match v.as_str() {
                Some("empty") => UnrelatedArg::Empty,
                Some("keep") => UnrelatedArg::Keep,
                _ => return None,
            }),
        })
    }

    /// How `doctor` shows a value.
    fn show(self, t: &Typed) -> String {
        match t {
            Typed::Text(s) => s.clone(),
            Typed::Path(p) => p.display().to_string(),
            Typed::Duration(d) => humantime::format_duration(*d).to_string(),
            Typed::Int(i) => i.to_string(),
            Typed::Bool(b) => b.to_string(),
            Typed::List(l) => l.join(if self == Kind::Starts { " ; " } else { " " }),
            Typed::Counts(c) => c.iter().map(|(t, n)| format!("{t}={n}")).collect::<Vec<_>>().join(" "),
            Typed::LogFormat(f) => if *f == LogFormat::Json { "json" } else { "text" }.to_owned(),
            Typed::Unrelated(u) => format!("{u:?}").to_lowercase(),
        }
    }
}

/// A value from the file and the line it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    pub value: T,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub path: PathBuf,
    /// The keys the file sets (rows of [`KEYS`]), converted, with their lines.
    values: BTreeMap<&'static str, Setting<Typed>>,
    /// `[references]`: references the schema does not declare (`refs::spec`).
    pub references: Vec<VirtualRef>,
    /// Whether the file has `[mask]` rules (parsed where masking is asked for).
    pub has_mask_rules: bool,
}

/// Keys with their positions (the top level, sections included as tables; or one
/// section's keys).
type RawTable = BTreeMap<Spanned<String>, Spanned<Value>>;

#[derive(Debug, Default, Deserialize)]
struct RawSections {
    #[serde(default)]
    bulk: RawTable,
    #[serde(default)]
    snapshot: RawTable,
    #[serde(default)]
    references: RawSection,
    #[serde(default)]
    mask: RawSection,
}

/// Which file to read: `--config PATH` (must exist), else `./seed.toml` if present.
pub fn load(explicit: Option<&Path>) -> Result<Option<Config>, Error> {
    let path = match explicit {
        Some(p) if !p.is_file() => {
            return Err(Error::usage_hint(
                format!("--config {}: no such file", p.display()),
                "name an existing file, or drop --config to read ./seed.toml when present",
            ));
        }
        Some(p) => p.to_path_buf(),
        None => {
            let p = PathBuf::from(DEFAULT_FILE);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    let meta = std::fs::metadata(&path).map_err(|e| Error::io("read config file", &path, e))?;
    if meta.len() > MAX_BYTES {
        return Err(Error::usage(format!(
            "{} is larger than {MAX_BYTES} bytes; that is not a seed.toml",
            path.display()
        )));
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io("read config file", &path, e))?;
    let text = String::from_utf8(bytes).map_err(|_| Error::usage(format!("{} is not UTF-8 text", path.display())))?;
    parse(&path, &text).map(Some)
}

/// Parses and checks `text` read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, Error> {
    let lines = crate::untrusted::LineIndex::new(text);
    let line_of = |offset: usize| lines.line_of(offset);
    let toml_error = |e: toml::de::Error| {
        // The message only: the error's own rendering quotes the line, which may hold a password.
        let line = e.span().map_or(1, |s| line_of(s.start));
        config_error(path, line, &crate::redact::mask_quoted(e.message().trim_end()))
    };
    let top: RawTable = toml::from_str(text).map_err(toml_error)?;
    let sections: RawSections = toml::from_str(text).map_err(toml_error)?;
    // Every option key by its full name (`bulk.count`), in the file's order.
    let mut entries: Vec<(String, &Spanned<String>, &Spanned<Value>)> = Vec::new();
    for (key, value) in &top {
        if !SECTIONS.contains(&key.get_ref().as_str()) {
            entries.push((canonical(key.get_ref()), key, value));
        }
    }
    for (section, table) in [("bulk", &sections.bulk), ("snapshot", &sections.snapshot)] {
        for (key, value) in table {
            entries.push((format!("{section}.{}", canonical(key.get_ref())), key, value));
        }
    }
    entries.sort_by_key(|(_, key, _)| key.span().start);
    // The refused switches first: an unknown-key error never offers them as keys to use.
    for (name, key, _) in &entries {
        if REFUSED.contains(&name.as_str()) {
            return Err(Error::usage_hint(
                format!("{}:{}: {name} is not allowed in a config file", path.display(), line_of(key.span().start)),
                "switches that empty tables, replace snapshots or lift the remote guard are typed on the command line each time",
            ));
        }
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut values = BTreeMap::new();
    for (name, key, value) in &entries {
        let Some(spec) = find(name) else {
            return Err(config_error(path, line_of(key.span().start), &unknown(key.get_ref(), name)));
        };
        let line = line_of(value.span().start);
        let typed = spec
            .kind
            .convert(value.get_ref(), &dir)
            .ok_or_else(|| config_error(path, line, &format!("{} must be {}", spec.name, spec.kind.expected())))?;
        let setting = Setting { value: typed, line };
        match spec.kind {
            Kind::Url => check_url(path, spec.name, &setting)?,
            Kind::Starts => check_starts(path, spec.name, &setting)?,
            _ => {}
        }
        if values.insert(spec.name, setting).is_some() {
            return Err(config_error(path, line, &format!("{} is given twice", spec.name)));
        }
    }
    let references = parse_section(path, &line_of, sections.references).map_err(|e| Error::Config {
        file: e.file,
        line: e.line,
        message: e.message,
    })?;
    Ok(Config { path: path.to_path_buf(), values, references, has_mask_rules: !sections.mask.is_empty() })
}

/// `snapshot_dir` and `snapshot-dir` are one key.
fn canonical(key: &str) -> String {
    key.replace('_', "-")
}

/// The row of `name` (a full name; `bulk.table` is found by its alias).
fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| {
        k.name == name
            || k.alias.is_some_and(|alias| match k.name.rsplit_once('.') {
                Some((section, _)) => name.strip_prefix(section).and_then(|n| n.strip_prefix('.')) == Some(alias),
                None => name == alias,
            })
    })
}

/// `unknown field `x`, expected one of ...`: the keys allowed where `x` is.
fn unknown(key: &str, name: &str) -> String {
    let allowed: Vec<&str> = match name.rsplit_once('.') {
        None => KEYS.iter().map(|k| k.name).filter(|n| !n.contains('.')).chain(SECTIONS.iter().copied()).collect(),
        Some((section, _)) => {
            KEYS.iter().filter_map(|k| k.name.strip_prefix(section).and_then(|n| n.strip_prefix('.'))).collect()
        }
    };
    let list: Vec<String> = allowed.iter().map(|k| format!("`{k}`")).collect();
    format!("unknown field `{key}`, expected one of {}", list.join(", "))
}

impl Config {
    /// The value of a key (a row of [`KEYS`]) as `T`, with its line.
    pub fn get<T: FromTyped>(&self, name: &str) -> Option<Setting<T>> {
        let s = self.values.get(name)?;
        Some(Setting { value: s.value.get()?, line: s.line })
    }

    /// `[bulk]` and `[snapshot]` values as `(name, value, line)`, for `doctor`.
    pub fn section_entries(&self) -> Vec<(&'static str, String, usize)> {
        KEYS.iter()
            .filter(|k| k.apply.is_some())
            .filter_map(|k| self.values.get(k.name).map(|s| (k.name, k.kind.show(&s.value), s.line)))
            .collect()
    }

    /// Fills the command's options the command line left unset from `[bulk]` or
    /// `[snapshot]` (flags and their environment variables win).
    pub fn apply_to_command(&self, command: &mut Command, matches: &ArgMatches) {
        // The matches of the command being run (`snapshot create`'s, not `snapshot`'s).
        let mut leaf = matches;
        while let Some((_, sub)) = leaf.subcommand() {
            leaf = sub;
        }
        let given = |id: &str| {
            leaf.try_get_raw(id).is_ok()
                && leaf
                    .value_source(id)
                    .is_some_and(|s| matches!(s, ValueSource::CommandLine | ValueSource::EnvVariable))
        };
        for key in KEYS {
            if let (Some(apply), Some(setting)) = (key.apply, self.values.get(key.name)) {
                apply(command, &setting.value, &given);
            }
        }
    }
}

fn config_error(path: &Path, line: usize, message: &str) -> Error {
    Error::usage_hint(
        format!("{}:{line}: {message}", path.display()),
        "seed.toml keys are named like the long options (snapshot-dir = \"snaps\"), command options go in [bulk] or [snapshot]; `seed doctor` shows the effective settings",
    )
}

/// A URL, refused when it holds a password (the file is meant to be committed).
fn check_url(path: &Path, key: &str, setting: &Setting<Typed>) -> Result<(), Error> {
    let Some(url) = setting.value.get::<String>() else { return Ok(()) };
    crate::redact::register_url_secrets(&url);
    let masked = crate::redact::mask_value(&url);
    if masked == crate::redact::MASK {
        return Err(config_error(
            path,
            setting.line,
            &format!(
                "{key} is not a database URL (it has no scheme such as postgres://; its text is not shown: it \
                 may be a password)"
            ),
        ));
    }
    if masked != crate::untrusted::for_terminal(url.trim()) {
        return Err(Error::usage_hint(
            format!("{}:{}: {key} holds a password ({masked})", path.display(), setting.line),
            "keep passwords out of seed.toml: use PGPASSWORD, ~/.pgpass, or DATABASE_URL in an untracked .env",
        ));
    }
    Ok(())
}

/// `subset = ["customer:store_id = 1", ...]`, each starting point checked.
fn check_starts(path: &Path, key: &str, setting: &Setting<Typed>) -> Result<(), Error> {
    for s in setting.value.get::<Vec<String>>().unwrap_or_default() {
        crate::subset::spec::Start::parse(&s).map_err(|m| {
            config_error(path, setting.line, &format!("{key} \"{}\": {m}", crate::untrusted::shown(&s, 80)))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, Error> {
        parse(Path::new("proj/seed.toml"), text)
    }

    #[test]
    fn keys_sections_lines_and_relative_paths() {
        let c = parse_str(
            "# team settings\nsnapshot-dir = \"snaps\"\nretry_max_attempts = 3\nconnect-timeout = \"2s\"\nstatement-timeout = 30\n\
             database-url = \"postgres://app@localhost/app_test\"\n\n[bulk]\ncount = 1000\ntables = { staffs = 200 }\n\
             factories = \"/abs/f.toml\"\n\n[snapshot]\nexclude = [\"audit_*\"]\ncompression-level = 1\n",
        )
        .unwrap();
        assert_eq!(c.get("snapshot-dir"), Some(Setting { value: PathBuf::from("proj/snaps"), line: 2 }));
        assert_eq!(c.get("retry-max-attempts"), Some(Setting { value: 3u32, line: 3 }));
        assert_eq!(c.get::<Duration>("connect-timeout").unwrap().value, Duration::from_secs(2));
        assert_eq!(c.get::<Duration>("statement-timeout").unwrap().value, Duration::from_secs(30));
        assert_eq!(c.get::<String>("database-url").unwrap().line, 6);
        assert_eq!(c.get("bulk.count"), Some(Setting { value: 1000i64, line: 9 }));
        assert_eq!(c.get::<Vec<(String, i64)>>("bulk.tables").unwrap().value, vec![("staffs".to_owned(), 200)]);
        assert_eq!(c.get::<PathBuf>("bulk.factories").unwrap().value, PathBuf::from("/abs/f.toml"));
        assert_eq!(c.get::<Vec<String>>("snapshot.exclude").unwrap().value, vec!["audit_*".to_owned()]);
        assert_eq!(c.get::<u32>("snapshot.compression-level").unwrap().value, 1);
    }

    /// Every row names an option seed takes: a global one for a top-level key, one of
    /// the section's command for `[bulk]` (`seed bulk`) and `[snapshot]` (`snapshot create`).
    #[test]
    fn every_key_is_an_option_of_its_command() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let create = cli.find_subcommand("snapshot").and_then(|s| s.find_subcommand("create")).unwrap();
        for key in KEYS {
            let (cmd, long, global) = match key.name.split_once('.') {
                None => (&cli, key.name, true),
                Some(("bulk", k)) => (cli.find_subcommand("bulk").unwrap(), k, false),
                Some(("snapshot", k)) => (create, k, false),
                Some(_) => panic!("{}: no such section", key.name),
            };
            let long = if long == "tables" { "table" } else { long };
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long));
            let arg = arg.unwrap_or_else(|| panic!("{}: no option --{long}", key.name));
            assert_eq!(arg.is_global_set(), global, "{}", key.name);
            assert_eq!(key.apply.is_some(), !global, "{}: only command options fill the command", key.name);
        }
    }

    /// The file fills what the command line left unset, and only that.
    #[test]
    fn the_file_fills_what_the_command_line_left_unset() {
        use clap::{CommandFactory, FromArgMatches};
        let c = parse_str(
            "[bulk]\ncount = 7\nseed = 3\ntables = { a = 1, b = 2 }\n\n[snapshot]\ncompression-level = 5\n\
             subset = \"a:id < 3\"\nno-children = true\nseed = 9\n",
        )
        .unwrap();
        let run = |argv: &[&str]| {
            let matches = crate::cli::Cli::command().try_get_matches_from(argv).unwrap();
            let mut cli = crate::cli::Cli::from_arg_matches(&matches).unwrap();
            c.apply_to_command(&mut cli.command, &matches);
            cli.command
        };
        let Command::Bulk(b) = run(&["seed", "bulk", "--seed", "1", "--table", "b=5"]) else { panic!() };
        assert_eq!((b.seeding.count, b.seeding.seed), (Some(7), Some(1)));
        assert_eq!(b.seeding.tables, ["a=1", "b=5"]);
        let Command::Snapshot(SnapshotCommand::Create(a)) = run(&["seed", "snapshot", "create", "x"]) else { panic!() };
        assert_eq!((a.compression_level, a.seed, a.subset.no_children), (5, Some(9), true));
        assert_eq!(a.subset.subset, ["a:id < 3"]);
        let argv = ["seed", "snapshot", "create", "x", "--compression-level", "1", "--children-per-parent", "2"];
        let Command::Snapshot(SnapshotCommand::Create(a)) = run(&argv) else { panic!() };
        assert_eq!((a.compression_level, a.subset.children_per_parent, a.subset.no_children), (1, Some(2), false));
        let Command::Snapshot(SnapshotCommand::Create(a)) = run(&["seed", "snapshot", "create", "x", "--no-subset"])
        else {
            panic!()
        };
        assert!(a.subset.subset.is_empty() && a.seed.is_none() && !a.subset.no_children);
        assert_eq!(a.compression_level, 5);
    }

    #[test]
    fn references_section() {
        let c =
            parse_str("[snapshot]\nexclude = [\"x\"]\n\n[references]\n\"comments.post_id\" = \"posts.id\"\n").unwrap();
        assert_eq!(c.references.len(), 1);
        assert_eq!(c.references[0].origin(), "proj/seed.toml:5");
        let e = parse_str("[references]\n\"comments.post_id\" = \"posts\"\n").unwrap_err();
        assert!(e.to_string().starts_with("proj/seed.toml:2: [references]"), "{e}");
    }

    #[test]
    fn errors_name_file_and_line() {
        for (text, expect) in [
            ("snapshot-dir = \"s\"\nsnapshot-dri = \"x\"\n", "proj/seed.toml:2: unknown field `snapshot-dri`"),
            ("[bulk]\ncount = 5\ncuont = 5\n", "proj/seed.toml:3: unknown field `cuont`"),
            ("[blk]\ncount = 5\n", "proj/seed.toml:1: unknown field `blk`"),
            ("retry-max-attempts = \"many\"\n", "proj/seed.toml:1: retry-max-attempts must be a whole number"),
            ("\n\nconnect-timeout = \"soon\"\n", "proj/seed.toml:3: connect-timeout must be a duration"),
            ("log-format = \"xml\"\n", "log-format must be \"text\" or \"json\""),
            ("[snapshot]\ncompression-level = 12\n", ":2: snapshot.compression-level must be 0 to 9"),
            ("x = [\n", "proj/seed.toml:"),
        ] {
            let err = parse_str(text).unwrap_err();
            assert_eq!(err.exit_code(), 2);
            assert!(err.to_string().contains(expect), "{text:?}: {err}");
        }
    }

    /// r21.7: a `[bulk.tables]` of 50,000 entries (as in the report) parses with one
    /// scan of the text for line numbers (counted, not timed).
    #[test]
    fn many_table_counts_scan_the_text_once() {
        let mut text = String::from("[bulk]\ncount = 1\n[bulk.tables]\n");
        for t in 0..50_000 {
            text.push_str(&format!("t{t} = 1\n"));
        }
        let before = crate::untrusted::SCANNED.with(std::cell::Cell::get);
        let c = parse_str(&text).unwrap();
        assert_eq!(crate::untrusted::SCANNED.with(std::cell::Cell::get) - before, text.len());
        assert_eq!(c.get::<Vec<(String, i64)>>("bulk.tables").unwrap().value.len(), 50_000);
    }

    /// r19.12: an unknown key's error lists only keys the file may hold, never the
    /// switches it refuses.
    #[test]
    fn unknown_keys_are_told_only_the_keys_allowed() {
        for text in ["snapshot-dri = \"x\"\n", "[bulk]\ncuont = 5\n", "[snapshot]\nexlude = []\n"] {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(err.contains("expected"), "{err}");
            for refused in ["allow-remote", "truncate", "clean", "force"] {
                assert!(!err.contains(refused), "{text:?} offers {refused}: {err}");
            }
        }
    }

    #[test]
    fn passwords_and_safety_switches_are_refused() {
        for (text, expect) in [
            (
                "\ndatabase-url = \"postgres://app:Committed-Pw@db/app\"\n",
                ":2: database-url holds a password (postgres://app:***@db/app)",
            ),
            ("direct_url = \"postgres://db/app?password=Committed-Pw\"\n", ":1: direct-url holds a password"),
            ("allow-remote = true\n", ":1: allow-remote is not allowed"),
            ("[bulk]\ncount = 1\ntruncate = true\n", ":3: bulk.truncate is not allowed"),
            ("[bulk]\nallow_remote = true\n", ":2: bulk.allow-remote is not allowed"),
            ("[snapshot]\nclean = true\n", ":2: snapshot.clean is not allowed"),
            ("[snapshot]\nforce = true\n", ":2: snapshot.force is not allowed"),
        ] {
            let err = parse_str(text).unwrap_err();
            assert!(err.to_string().contains(expect), "{text:?}: {err}");
            assert!(!err.to_string().contains("Committed-Pw"), "{err}");
        }
    }
}
