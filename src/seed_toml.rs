//! `seed.toml`: what a team would otherwise repeat in every CI file. Global options are
//! top-level keys named like the long options (`snapshot-dir`, `_` accepted for `-`);
//! command options go in `[bulk]` and `[snapshot]`. Relative paths resolve from the
//! file's folder. Flags and environment variables beat the file, which beats defaults.
//!
//! Refused in the file: a database URL holding a password (it would be committed), and
//! the switches that make a command destructive or lift a safety check (`allow-remote`,
//! `truncate`, `clean`, `force`): those are typed each time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use toml::{Spanned, Value};

use crate::cli::{Command, SnapshotCommand, UnrelatedArg, parse_duration};
use crate::error::Error;
use crate::output::LogFormat;
use crate::refs::spec::{RawSection, VirtualRef, parse_section};

pub const DEFAULT_FILE: &str = "seed.toml";

/// Config files are a few dozen lines; anything larger is refused before it is parsed.
const MAX_BYTES: u64 = 1 << 20;

type Raw = Option<Spanned<Value>>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawConfig {
    #[serde(alias = "database_url")]
    database_url: Raw,
    #[serde(alias = "direct_url")]
    direct_url: Raw,
    #[serde(alias = "snapshot_dir")]
    snapshot_dir: Raw,
    #[serde(alias = "connect_timeout")]
    connect_timeout: Raw,
    #[serde(alias = "statement_timeout")]
    statement_timeout: Raw,
    #[serde(alias = "retry_max_attempts")]
    retry_max_attempts: Raw,
    #[serde(alias = "retry_base_delay")]
    retry_base_delay: Raw,
    #[serde(alias = "retry_max_delay")]
    retry_max_delay: Raw,
    #[serde(alias = "log_format")]
    log_format: Raw,
    #[serde(alias = "no_progress")]
    no_progress: Raw,
    bulk: Option<RawBulk>,
    snapshot: Option<RawSnapshot>,
    #[serde(default)]
    references: RawSection,
    /// `[mask]`: read again (with its lines) by `snapshot create --mask`.
    #[serde(default)]
    mask: RawSection,
}

/// The switches refused in a config file, read on their own first: `RawConfig` does not
/// know them, so an unknown-key error never offers them as keys to use.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RefusedKeys {
    #[serde(alias = "allow_remote")]
    allow_remote: Raw,
    bulk: Option<RefusedBulk>,
    snapshot: Option<RefusedSnapshot>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RefusedBulk {
    truncate: Raw,
    #[serde(alias = "allow_remote")]
    allow_remote: Raw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RefusedSnapshot {
    clean: Raw,
    force: Raw,
    #[serde(alias = "allow_remote")]
    allow_remote: Raw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBulk {
    count: Raw,
    #[serde(alias = "table")]
    tables: Raw,
    factories: Raw,
    #[serde(alias = "batch_size")]
    batch_size: Raw,
    seed: Raw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSnapshot {
    #[serde(alias = "table")]
    tables: Raw,
    subset: Raw,
    #[serde(alias = "children_per_parent")]
    children_per_parent: Raw,
    #[serde(alias = "no_children")]
    no_children: Raw,
    unrelated: Raw,
    seed: Raw,
    factories: Raw,
    exclude: Raw,
    #[serde(alias = "compression_level")]
    compression_level: Raw,
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
    pub database_url: Option<Setting<String>>,
    pub direct_url: Option<Setting<String>>,
    pub snapshot_dir: Option<Setting<PathBuf>>,
    pub connect_timeout: Option<Setting<Duration>>,
    pub statement_timeout: Option<Setting<Duration>>,
    pub retry_max_attempts: Option<Setting<u32>>,
    pub retry_base_delay: Option<Setting<Duration>>,
    pub retry_max_delay: Option<Setting<Duration>>,
    pub log_format: Option<Setting<LogFormat>>,
    pub no_progress: Option<Setting<bool>>,
    pub bulk: BulkConfig,
    pub snapshot: SnapshotConfig,
    /// `[references]`: references the schema does not declare (`refs::spec`).
    pub references: Vec<VirtualRef>,
    /// Whether the file has `[mask]` rules (parsed where masking is asked for).
    pub has_mask_rules: bool,
}

/// `[bulk]`: defaults for `seed bulk`.
#[derive(Debug, Clone, Default)]
pub struct BulkConfig {
    pub count: Option<Setting<i64>>,
    /// `tables = { staffs = 200 }`: `(table, count)`.
    pub tables: Option<Setting<Vec<(String, i64)>>>,
    pub factories: Option<Setting<PathBuf>>,
    pub batch_size: Option<Setting<i64>>,
    pub seed: Option<Setting<i64>>,
}

/// `[snapshot]`: defaults for `seed snapshot create`.
#[derive(Debug, Clone, Default)]
pub struct SnapshotConfig {
    pub tables: Option<Setting<Vec<String>>>,
    pub exclude: Option<Setting<Vec<String>>>,
    pub compression_level: Option<Setting<u32>>,
    /// Starting points of a slice (`--subset`), each checked.
    pub subset: Option<Setting<Vec<String>>>,
    pub children_per_parent: Option<Setting<u64>>,
    pub no_children: Option<Setting<bool>>,
    pub unrelated: Option<Setting<UnrelatedArg>>,
    pub seed: Option<Setting<u64>>,
    pub factories: Option<Setting<PathBuf>>,
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
    let refused: RefusedKeys = toml::from_str(text).map_err(toml_error)?;
    let (bulk, snapshot) = (refused.bulk.unwrap_or_default(), refused.snapshot.unwrap_or_default());
    for (key, value) in [
        ("allow-remote", &refused.allow_remote),
        ("bulk.allow-remote", &bulk.allow_remote),
        ("bulk.truncate", &bulk.truncate),
        ("snapshot.allow-remote", &snapshot.allow_remote),
        ("snapshot.clean", &snapshot.clean),
        ("snapshot.force", &snapshot.force),
    ] {
        if let Some(v) = value {
            return Err(Error::usage_hint(
                format!("{}:{}: {key} is not allowed in a config file", path.display(), line_of(v.span().start)),
                "switches that empty tables, replace snapshots or lift the remote guard are typed on the command line each time",
            ));
        }
    }
    let raw: RawConfig = toml::from_str(text).map_err(toml_error)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let cx = Cx { path, dir: &dir, line_of: &line_of };
    let bulk = raw.bulk.unwrap_or_default();
    let snapshot = raw.snapshot.unwrap_or_default();
    let references = parse_section(path, &line_of, raw.references).map_err(|e| Error::Config {
        file: e.file,
        line: e.line,
        message: e.message,
    })?;
    Ok(Config {
        path: path.to_path_buf(),
        database_url: cx.url(&raw.database_url, "database-url")?,
        direct_url: cx.url(&raw.direct_url, "direct-url")?,
        snapshot_dir: cx.path(&raw.snapshot_dir, "snapshot-dir")?,
        connect_timeout: cx.duration(&raw.connect_timeout, "connect-timeout")?,
        statement_timeout: cx.duration(&raw.statement_timeout, "statement-timeout")?,
        retry_max_attempts: cx.convert(&raw.retry_max_attempts, "retry-max-attempts", "a whole number", |v| {
            v.as_integer().and_then(|i| u32::try_from(i).ok())
        })?,
        retry_base_delay: cx.duration(&raw.retry_base_delay, "retry-base-delay")?,
        retry_max_delay: cx.duration(&raw.retry_max_delay, "retry-max-delay")?,
        log_format: cx.convert(&raw.log_format, "log-format", "\"text\" or \"json\"", |v| match v.as_str() {
            Some("text") => Some(LogFormat::Text),
            Some("json") => Some(LogFormat::Json),
            _ => None,
        })?,
        no_progress: cx.convert(&raw.no_progress, "no-progress", "true or false", Value::as_bool)?,
        bulk: BulkConfig {
            count: cx.integer(&bulk.count, "bulk.count")?,
            tables: cx.convert(&bulk.tables, "bulk.tables", "a table of counts, e.g. { staffs = 200 }", |v| {
                v.as_table()?.iter().map(|(k, n)| Some((k.clone(), n.as_integer()?))).collect()
            })?,
            factories: cx.path(&bulk.factories, "bulk.factories")?,
            batch_size: cx.integer(&bulk.batch_size, "bulk.batch-size")?,
            seed: cx.integer(&bulk.seed, "bulk.seed")?,
        },
        snapshot: SnapshotConfig {
            tables: cx.strings(&snapshot.tables, "snapshot.tables")?,
            exclude: cx.strings(&snapshot.exclude, "snapshot.exclude")?,
            compression_level: cx.convert(
                &snapshot.compression_level,
                "snapshot.compression-level",
                "0 to 9",
                |v| v.as_integer().and_then(|i| u32::try_from(i).ok()).filter(|l| *l <= 9),
            )?,
            subset: cx.starts(&snapshot.subset)?,
            children_per_parent: cx.convert(
                &snapshot.children_per_parent,
                "snapshot.children-per-parent",
                "a whole number from 1 (no-children = true for none)",
                |v| v.as_integer().and_then(|i| u64::try_from(i).ok()).filter(|n| *n >= 1),
            )?,
            no_children: cx.convert(&snapshot.no_children, "snapshot.no-children", "true or false", Value::as_bool)?,
            unrelated: cx.convert(&snapshot.unrelated, "snapshot.unrelated", "\"empty\" or \"keep\"", |v| {
                match v.as_str() {
                    Some("empty") => Some(UnrelatedArg::Empty),
                    Some("keep") => Some(UnrelatedArg::Keep),
                    _ => None,
                }
            })?,
            seed: cx.convert(&snapshot.seed, "snapshot.seed", "a whole number of 0 or more", |v| {
                v.as_integer().and_then(|i| u64::try_from(i).ok())
            })?,
            factories: cx.path(&snapshot.factories, "snapshot.factories")?,
        },
        references,
        has_mask_rules: !raw.mask.is_empty(),
    })
}

impl Config {
    /// `[bulk]` and `[snapshot]` values as `(name, value, line)`, for `doctor`.
    pub fn section_entries(&self) -> Vec<(&'static str, String, usize)> {
        let mut out = Vec::new();
        let b = &self.bulk;
        let s = &self.snapshot;
        let mut push = |name, value: Option<String>, line: Option<usize>| {
            if let (Some(v), Some(l)) = (value, line) {
                out.push((name, v, l));
            }
        };
        push("bulk.count", b.count.as_ref().map(|x| x.value.to_string()), b.count.as_ref().map(|x| x.line));
        push(
            "bulk.tables",
            b.tables.as_ref().map(|x| x.value.iter().map(|(t, n)| format!("{t}={n}")).collect::<Vec<_>>().join(" ")),
            b.tables.as_ref().map(|x| x.line),
        );
        push(
            "bulk.factories",
            b.factories.as_ref().map(|x| x.value.display().to_string()),
            b.factories.as_ref().map(|x| x.line),
        );
        push(
            "bulk.batch-size",
            b.batch_size.as_ref().map(|x| x.value.to_string()),
            b.batch_size.as_ref().map(|x| x.line),
        );
        push("bulk.seed", b.seed.as_ref().map(|x| x.value.to_string()), b.seed.as_ref().map(|x| x.line));
        push("snapshot.tables", s.tables.as_ref().map(|x| x.value.join(" ")), s.tables.as_ref().map(|x| x.line));
        push("snapshot.exclude", s.exclude.as_ref().map(|x| x.value.join(" ")), s.exclude.as_ref().map(|x| x.line));
        push(
            "snapshot.compression-level",
            s.compression_level.as_ref().map(|x| x.value.to_string()),
            s.compression_level.as_ref().map(|x| x.line),
        );
        push("snapshot.subset", s.subset.as_ref().map(|x| x.value.join(" ; ")), s.subset.as_ref().map(|x| x.line));
        push(
            "snapshot.children-per-parent",
            s.children_per_parent.as_ref().map(|x| x.value.to_string()),
            s.children_per_parent.as_ref().map(|x| x.line),
        );
        push(
            "snapshot.no-children",
            s.no_children.as_ref().map(|x| x.value.to_string()),
            s.no_children.as_ref().map(|x| x.line),
        );
        push(
            "snapshot.unrelated",
            s.unrelated.as_ref().map(|x| format!("{:?}", x.value).to_lowercase()),
            s.unrelated.as_ref().map(|x| x.line),
        );
        push("snapshot.seed", s.seed.as_ref().map(|x| x.value.to_string()), s.seed.as_ref().map(|x| x.line));
        push(
            "snapshot.factories",
            s.factories.as_ref().map(|x| x.value.display().to_string()),
            s.factories.as_ref().map(|x| x.line),
        );
        out
    }

    /// Fills the command's options the command line left unset from `[bulk]` or
    /// `[snapshot]` (flags and their environment variables win).
    pub fn apply_to_command(&self, command: &mut Command, matches: &ArgMatches) {
        let given = |sub: Option<&ArgMatches>, id: &str| {
            sub.and_then(|m| m.value_source(id))
                .is_some_and(|s| matches!(s, ValueSource::CommandLine | ValueSource::EnvVariable))
        };
        match command {
            Command::Bulk(bulk) => {
                let args = &mut bulk.seeding;
                let b = &self.bulk;
                if args.count.is_none() {
                    args.count = b.count.as_ref().map(|s| s.value);
                }
                if args.batch_size.is_none() {
                    args.batch_size = b.batch_size.as_ref().map(|s| s.value);
                }
                if args.seed.is_none() {
                    args.seed = b.seed.as_ref().map(|s| s.value);
                }
                if args.factories.is_none() {
                    args.factories = b.factories.as_ref().map(|s| s.value.clone());
                }
                // File counts for tables the command line does not name come first.
                if let Some(tables) = &b.tables {
                    let named: std::collections::HashSet<String> = args
                        .tables
                        .iter()
                        .map(|t| t.rsplit_once('=').map_or(t.as_str(), |(n, _)| n).to_owned())
                        .collect();
                    let mut merged: Vec<String> = tables
                        .value
                        .iter()
                        .filter(|(t, _)| !named.contains(t))
                        .map(|(t, n)| format!("{t}={n}"))
                        .collect();
                    merged.append(&mut args.tables);
                    args.tables = merged;
                }
            }
            Command::Snapshot(SnapshotCommand::Create(args)) => {
                let s = &self.snapshot;
                if args.tables.is_empty()
                    && let Some(t) = &s.tables
                {
                    args.tables = t.value.clone();
                }
                if args.exclude.is_empty()
                    && let Some(e) = &s.exclude
                {
                    args.exclude = e.value.clone();
                }
                let sub = matches.subcommand_matches("snapshot").and_then(|m| m.subcommand_matches("create"));
                if !given(sub, "compression_level")
                    && let Some(level) = &s.compression_level
                {
                    args.compression_level = level.value;
                }
                let sa = &mut args.subset;
                if sa.no_subset {
                    return;
                }
                if sa.subset.is_empty()
                    && let Some(starts) = &s.subset
                {
                    sa.subset = starts.value.clone();
                }
                if sa.children_per_parent.is_none() && !sa.no_children {
                    sa.children_per_parent = s.children_per_parent.as_ref().map(|n| n.value);
                    sa.no_children =
                        s.no_children.as_ref().is_some_and(|b| b.value) && sa.children_per_parent.is_none();
                }
                if sa.unrelated.is_none() {
                    sa.unrelated = s.unrelated.as_ref().map(|u| u.value);
                }
                if args.seed.is_none() {
                    args.seed = s.seed.as_ref().map(|v| v.value);
                }
                if args.factories.is_none() {
                    args.factories = s.factories.as_ref().map(|f| f.value.clone());
                }
            }
            _ => {}
        }
    }
}

fn config_error(path: &Path, line: usize, message: &str) -> Error {
    Error::usage_hint(
        format!("{}:{line}: {message}", path.display()),
        "seed.toml keys are named like the long options (snapshot-dir = \"snaps\"), command options go in [bulk] or [snapshot]; `seed doctor` shows the effective settings",
    )
}

/// What converting a value needs: the file, its folder, and offsets to lines.
struct Cx<'a> {
    path: &'a Path,
    dir: &'a Path,
    line_of: &'a dyn Fn(usize) -> usize,
}

impl Cx<'_> {
    fn convert<T>(
        &self,
        raw: &Raw,
        key: &str,
        expected: &str,
        f: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<Option<Setting<T>>, Error> {
        let Some(spanned) = raw else { return Ok(None) };
        let line = (self.line_of)(spanned.span().start);
        match f(spanned.get_ref()) {
            Some(value) => Ok(Some(Setting { value, line })),
            None => Err(config_error(self.path, line, &format!("{key} must be {expected}"))),
        }
    }

    fn integer(&self, raw: &Raw, key: &str) -> Result<Option<Setting<i64>>, Error> {
        self.convert(raw, key, "a whole number", Value::as_integer)
    }

    fn duration(&self, raw: &Raw, key: &str) -> Result<Option<Setting<Duration>>, Error> {
        self.convert(
            raw,
            key,
            "a duration such as \"250ms\", \"5s\" or \"10min\" (a number means seconds)",
            |v| match v {
                Value::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
                Value::String(s) => parse_duration(s).ok(),
                _ => None,
            },
        )
    }

    fn path(&self, raw: &Raw, key: &str) -> Result<Option<Setting<PathBuf>>, Error> {
        let dir = self.dir;
        self.convert(raw, key, "a path (relative paths start from the file's folder; no NUL byte)", |v| {
            let p = Path::new(v.as_str().filter(|s| !s.is_empty() && !s.contains('\0'))?);
            Some(if p.is_absolute() { p.to_path_buf() } else { dir.join(p) })
        })
    }

    /// `subset = ["customer:store_id = 1", ...]`, each starting point checked.
    fn starts(&self, raw: &Raw) -> Result<Option<Setting<Vec<String>>>, Error> {
        let key = "snapshot.subset";
        let Some(setting) =
            self.convert(raw, key, "a list of starting points such as \"customer:store_id = 1\"", |v| match v {
                Value::String(s) => Some(vec![s.clone()]),
                Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned)).collect(),
                _ => None,
            })?
        else {
            return Ok(None);
        };
        for s in &setting.value {
            crate::subset::spec::Start::parse(s).map_err(|m| {
                config_error(self.path, setting.line, &format!("{key} \"{}\": {m}", crate::untrusted::shown(s, 80)))
            })?;
        }
        Ok(Some(setting))
    }

    fn strings(&self, raw: &Raw, key: &str) -> Result<Option<Setting<Vec<String>>>, Error> {
        self.convert(raw, key, "a list of table names or patterns", |v| match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => items.iter().map(|i| i.as_str().map(str::to_owned)).collect(),
            _ => None,
        })
    }

    /// A URL, refused when it holds a password (the file is meant to be committed).
    fn url(&self, raw: &Raw, key: &str) -> Result<Option<Setting<String>>, Error> {
        let Some(setting) = self.convert(raw, key, "a database URL string", |v| v.as_str().map(str::to_owned))? else {
            return Ok(None);
        };
        crate::redact::register_url_secrets(&setting.value);
        let masked = crate::redact::mask_value(&setting.value);
        if masked == crate::redact::MASK {
            return Err(config_error(
                self.path,
                setting.line,
                &format!(
                    "{key} is not a database URL (it has no scheme such as postgres://; its text is not shown: it \
                     may be a password)"
                ),
            ));
        }
        if masked != crate::untrusted::for_terminal(setting.value.trim()) {
            return Err(Error::usage_hint(
                format!("{}:{}: {key} holds a password ({masked})", self.path.display(), setting.line),
                "keep passwords out of seed.toml: use PGPASSWORD, ~/.pgpass, or DATABASE_URL in an untracked .env",
            ));
        }
        Ok(Some(setting))
    }
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
        assert_eq!(c.snapshot_dir, Some(Setting { value: PathBuf::from("proj/snaps"), line: 2 }));
        assert_eq!(c.retry_max_attempts, Some(Setting { value: 3, line: 3 }));
        assert_eq!(c.connect_timeout.unwrap().value, Duration::from_secs(2));
        assert_eq!(c.statement_timeout.unwrap().value, Duration::from_secs(30));
        assert_eq!(c.database_url.unwrap().line, 6);
        assert_eq!(c.bulk.count, Some(Setting { value: 1000, line: 9 }));
        assert_eq!(c.bulk.tables.unwrap().value, vec![("staffs".to_owned(), 200)]);
        assert_eq!(c.bulk.factories.unwrap().value, PathBuf::from("/abs/f.toml"));
        assert_eq!(c.snapshot.exclude.unwrap().value, vec!["audit_*".to_owned()]);
        assert_eq!(c.snapshot.compression_level.unwrap().value, 1);
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
        assert_eq!(c.bulk.tables.unwrap().value.len(), 50_000);
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
