//! Raw CLI + environment + `.env` + `seed.toml` + defaults -> validated settings, before
//! anything connects. Precedence: flag > environment (including `.env`) > `seed.toml` >
//! default; each value remembers where it came from, for `doctor` and the messages
//! that name a target.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Serialize;

use crate::cli::Cli;
use crate::db::postgres::libpq::PgEnv;
use crate::db::retry::RetryPolicy;
use crate::db::url::{DEFAULT_URL, DbUrl};
use crate::db::{self, ConnectOptions};
use crate::env;
use crate::envfile::Loaded;
use crate::error::Error;
use crate::output::{Level, LogFormat, OutputSettings, Printer};
use crate::seed_toml::{Config, FromTyped, Setting};
use crate::snapshot::location::{DEFAULT_DIR, Spec};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--database-url`.
    Flag(String),
    /// An environment variable set before `seed` started.
    Env(&'static str),
    /// A variable read from a `.env` file.
    EnvFile {
        var: &'static str,
        file: PathBuf,
    },
    /// `PG*` variables and/or a service file, with no URL given.
    Libpq,
    /// A line of `seed.toml`.
    Config {
        file: PathBuf,
        line: usize,
    },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => f.write_str(flag),
            Source::Env(var) => f.write_str(var),
            Source::EnvFile { var, file } => write!(f, "{var} in {}", file.display()),
            Source::Libpq => f.write_str("the libpq environment"),
            Source::Config { file, line } => write!(f, "{}:{line}", file.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One effective setting, for `doctor`: the value as shown (URLs masked) and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub name: &'static str,
    pub value: String,
    pub source: String,
    #[serde(skip)]
    pub default: bool,
}

/// What settings are resolved from besides the command line.
#[derive(Debug, Default)]
pub struct Inputs {
    pub pg_env: PgEnv,
    /// The `.env` file read at start-up, if any.
    pub env_file: Option<Loaded>,
    /// `seed.toml` (or `--config`), if any.
    pub config: Option<Config>,
}

impl Inputs {
    pub fn from_process() -> Self {
        Self { pg_env: PgEnv::from_process(), env_file: None, config: None }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DbUrl,
    /// Where `database_url` came from.
    pub database_source: Source,
    /// True when no URL was given and the embedded SQLite default is in use.
    pub embedded_default: bool,
    /// Used for the write transaction and advisory locks; `database_url` when unset.
    pub direct_url: Option<DbUrl>,
    pub direct_source: Option<Source>,
    /// `--snapshot-dir`: a directory or a bucket, parsed once here.
    pub snapshot_dir: Spec,
    pub output: OutputSettings,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub statement_timeout: Option<Duration>,
    /// The `.env` file read at start-up, to say which values came from it.
    pub env_file: Option<Loaded>,
    /// Every setting with its source (global options, then `seed.toml` sections).
    pub effective: Vec<Effective>,
    /// `seed.toml`'s `[references]`: references the schema does not declare.
    pub references: Vec<crate::refs::spec::VirtualRef>,
    /// `seed.toml`, when it has a `[mask]` section.
    pub mask_rules: Option<std::path::PathBuf>,
}

/// Picks each value by precedence and records where it came from.
struct Resolver<'a> {
    matches: &'a ArgMatches,
    inputs: &'a Inputs,
    effective: Vec<Effective>,
}

impl Resolver<'_> {
    /// The flag's or variable's source, if clap took the value from either.
    fn cli_source(&self, id: &str, flag: &str, var: Option<&'static str>) -> Option<Source> {
        match (self.matches.value_source(id), var) {
            (Some(ValueSource::CommandLine), _) => Some(Source::Flag(flag.to_owned())),
            (Some(ValueSource::EnvVariable), Some(var)) => Some(match &self.inputs.env_file {
                Some(loaded) if loaded.set(var) => Source::EnvFile { var, file: loaded.path.clone() },
                _ => Source::Env(var),
            }),
            _ => None,
        }
    }

    fn config_source(&self, line: usize) -> Source {
        let file = self.inputs.config.as_ref().map(|c| c.path.clone()).unwrap_or_default();
        Source::Config { file, line }
    }

    /// flag/env > seed.toml > nothing.
    fn pick<T: Clone + FromTyped>(
        &self,
        id: &str,
        flag: &str,
        var: Option<&'static str>,
        cli: Option<T>,
        key: &str,
    ) -> Option<(T, Source)> {
        if let (Some(value), Some(source)) = (cli, self.cli_source(id, flag, var)) {
            return Some((value, source));
        }
        let setting: Setting<T> = self.inputs.config.as_ref().and_then(|c| c.get(key))?;
        Some((setting.value, self.config_source(setting.line)))
    }

    fn record(&mut self, name: &'static str, value: impl Into<String>, source: &Source) {
        let default = *source == Source::Default;
        self.effective.push(Effective { name, value: value.into(), source: source.to_string(), default });
    }

    /// `pick` for the global option `name` (its flag, its seed.toml key; `var`: its
    /// environment variable), then the default; recorded with `show`.
    fn value<T: Clone + FromTyped>(
        &mut self,
        name: &'static str,
        var: Option<&'static str>,
        cli: Option<T>,
        default: T,
        show: impl Fn(&T) -> String,
    ) -> T {
        // Flags are named like the settings (`--snapshot-dir`, clap id `snapshot_dir`).
        let (flag, id) = (format!("--{name}"), name.replace('-', "_"));
        let (value, source) = self.pick(&id, &flag, var, cli, name).unwrap_or((default, Source::Default));
        self.record(name, show(&value), &source);
        value
    }
}

fn show_duration(d: &Duration) -> String {
    humantime::format_duration(*d).to_string()
}

/// A string option with an empty value counts as not given.
fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// The longest statement timeout: PostgreSQL's `statement_timeout` is an `int` of
/// milliseconds (about 24.8 days); a longer one would be accepted here and refused by
/// every connection.
pub const MAX_STATEMENT_TIMEOUT_MS: u128 = i32::MAX as u128;

/// A statement timeout from 1 ms to [`MAX_STATEMENT_TIMEOUT_MS`]: refused before any
/// connection otherwise (a shorter one would be 0 to the server: no timeout at all).
fn check_statement_timeout(d: Duration, source: &str) -> Result<(), Error> {
    let ms = d.as_millis();
    if (1..=MAX_STATEMENT_TIMEOUT_MS).contains(&ms) {
        return Ok(());
    }
    let what = if ms == 0 { "shorter than a millisecond" } else { "longer than the servers take" };
    Err(Error::usage_hint(
        format!("statement timeout {} (from {source}) is {what}", humantime::format_duration(d)),
        format!(
            "give --statement-timeout (SEED_STATEMENT_TIMEOUT, statement-timeout in seed.toml) from 1ms to \
             {MAX_STATEMENT_TIMEOUT_MS}ms (24d), or 0 for none"
        ),
    ))
}

impl Settings {
    /// Flags and environment (as clap parsed them, `matches` telling which was which),
    /// then `inputs` (libpq environment, `seed.toml`), then defaults.
    pub fn from_cli(cli: &Cli, matches: &ArgMatches, inputs: &Inputs) -> Result<Self, Error> {
        let pg_env = &inputs.pg_env;
        if let Some(password) = pg_env.get("PGPASSWORD") {
            crate::redact::register(password);
        }
        let mut r = Resolver { matches, inputs, effective: Vec::new() };

        // The database: flag/env > libpq environment > seed.toml > SQLite default.
        let given = r.pick(
            "database_url",
            "--database-url",
            Some(env::DATABASE_URL),
            non_empty(&cli.connect.database_url),
            "database-url",
        );
        let (database_url, database_source) = match given {
            Some((url, source @ (Source::Flag(_) | Source::Env(_) | Source::EnvFile { .. }))) => {
                (DbUrl::resolve(&url, pg_env)?, source)
            }
            _ if !pg_env.connection_vars().is_empty() => (DbUrl::from_libpq(pg_env)?, Source::Libpq),
            Some((url, source)) => (DbUrl::resolve(&url, pg_env)?, source),
            None => (DbUrl::parse(DEFAULT_URL)?, Source::Default),
        };
        let embedded_default = database_source == Source::Default;
        let env_file = inputs.env_file.as_ref();
        r.effective.push(Effective {
            name: "database-url",
            value: database_url.to_string(),
            source: origin(&database_source, &database_url, env_file),
            default: embedded_default,
        });
        let direct = r.pick(
            "direct_url",
            "--direct-url",
            Some(env::DIRECT_URL),
            non_empty(&cli.connect.direct_url),
            "direct-url",
        );
        let (direct_url, direct_source) = match direct {
            Some((url, source)) => {
                let direct = DbUrl::resolve(&url, pg_env)?;
                if direct.kind() != database_url.kind() {
                    return Err(Error::usage_hint(
                        format!(
                            "DIRECT_URL ({direct}) and DATABASE_URL ({database_url}) point at different kinds of database"
                        ),
                        "DIRECT_URL must reach the same database as DATABASE_URL, without a pooler",
                    ));
                }
                r.effective.push(Effective {
                    name: "direct-url",
                    value: direct.to_string(),
                    source: origin(&source, &direct, env_file),
                    default: false,
                });
                (Some(direct), Some(source))
            }
            None => (None, None),
        };

        let snapshot_dir = r.value(
            "snapshot-dir",
            Some(env::SNAPSHOT_DIR),
            cli.connect.snapshot_dir.clone().filter(|p| !p.as_os_str().is_empty()),
            PathBuf::from(DEFAULT_DIR),
            |p| p.display().to_string(),
        );
        let snapshot_dir = Spec::parse(&snapshot_dir)?;
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: r.value(
                "retry-max-attempts",
                Some(env::RETRY_MAX_ATTEMPTS),
                cli.retry.retry_max_attempts,
                defaults.max_attempts,
                u32::to_string,
            ),
            base_delay: r.value(
                "retry-base-delay",
                Some(env::RETRY_BASE_DELAY),
                cli.retry.retry_base_delay,
                defaults.base_delay,
                show_duration,
            ),
            max_delay: r.value(
                "retry-max-delay",
                Some(env::RETRY_MAX_DELAY),
                cli.retry.retry_max_delay,
                defaults.max_delay,
                show_duration,
            ),
        };
        if retry.max_attempts == 0 || retry.max_attempts > 100 {
            return Err(Error::usage(format!(
                "--retry-max-attempts (SEED_RETRY_MAX_ATTEMPTS) must be between 1 and 100, got {}",
                retry.max_attempts
            )));
        }
        if retry.max_delay < retry.base_delay {
            return Err(Error::usage(format!(
                "--retry-max-delay ({}) is shorter than --retry-base-delay ({})",
                humantime::format_duration(retry.max_delay),
                humantime::format_duration(retry.base_delay)
            )));
        }
        let connect_timeout = r.value(
            "connect-timeout",
            Some(env::CONNECT_TIMEOUT),
            cli.connect.connect_timeout,
            DEFAULT_CONNECT_TIMEOUT,
            show_duration,
        );
        if connect_timeout.is_zero() {
            return Err(Error::usage("--connect-timeout must be longer than 0"));
        }
        let statement_timeout = Some(r.value(
            "statement-timeout",
            Some(env::STATEMENT_TIMEOUT),
            cli.connect.statement_timeout,
            Duration::ZERO,
            |d| if d.is_zero() { "none".to_owned() } else { show_duration(d) },
        ))
        .filter(|d| !d.is_zero());
        if let Some(d) = statement_timeout {
            check_statement_timeout(d, r.effective.last().map_or("", |e| e.source.as_str()))?;
        }
        let format = r.value("log-format", Some(env::LOG_FORMAT), cli.output.log_format, LogFormat::Text, |f| {
            if *f == LogFormat::Json { "json".into() } else { "text".into() }
        });
        let no_progress =
            r.value("no-progress", Some(env::NO_PROGRESS), Some(cli.output.no_progress), false, bool::to_string);
        if let Some(config) = &inputs.config {
            for (name, value, line) in config.section_entries() {
                let source = r.config_source(line);
                r.record(name, value, &source);
            }
        }
        let json = format == LogFormat::Json;
        Ok(Self {
            database_url,
            database_source,
            embedded_default,
            direct_url,
            direct_source,
            snapshot_dir,
            output: OutputSettings {
                format,
                quiet: cli.output.quiet,
                verbose: cli.output.verbose,
                progress: !no_progress && !cli.output.quiet && !json,
                json: cli.output.json,
            },
            retry,
            connect_timeout,
            statement_timeout,
            env_file: inputs.env_file.clone(),
            effective: r.effective,
            references: inputs.config.as_ref().map(|c| c.references.clone()).unwrap_or_default(),
            mask_rules: inputs.config.as_ref().filter(|c| c.has_mask_rules).map(|c| c.path.clone()),
        })
    }

    /// How sessions connect and retry.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            retry: self.retry,
            connect_timeout: self.connect_timeout,
            statement_timeout: self.statement_timeout,
            origins: std::sync::Arc::new(db::UrlOrigins {
                known: self
                    .urls()
                    .map(|url| db::UrlOrigin {
                        url: url.clone(),
                        origin: self.origin_of(url),
                        password: self.password_origin(url),
                    })
                    .collect(),
                embedded_default: self.embedded_default.then(|| self.database_url.clone()),
            }),
        }
    }

    /// `DATABASE_URL` and, when set, `DIRECT_URL`.
    pub fn urls(&self) -> impl Iterator<Item = &DbUrl> {
        std::iter::once(&self.database_url).chain(self.direct_url.as_ref())
    }

    /// Checks that `DIRECT_URL`, when set, reaches the database `DATABASE_URL` does.
    pub async fn check_direct_url(&self, printer: &Printer) -> Result<(), Error> {
        db::check_direct_url(&self.connect_options(), &self.database_url, self.direct_url.as_ref(), printer).await
    }

    /// The URL for writes and locks.
    pub fn write_url(&self) -> &DbUrl {
        self.direct_url.as_ref().unwrap_or(&self.database_url)
    }

    /// Where the database URL came from, in words: `DATABASE_URL`, `--database-url
    /// completed by PGHOST`, `the libpq environment (PGHOST, PGDATABASE)`, `service
    /// 'app' in ~/.pg_service.conf`, `seed.toml:3`, `default`.
    pub fn database_origin(&self) -> String {
        origin(&self.database_source, &self.database_url, self.env_file.as_ref())
    }

    /// Where `url` came from: the database URL's origin, the direct URL's, or the
    /// command line (a URL given to one command, e.g. `--like-db`).
    pub fn origin_of(&self, url: &DbUrl) -> String {
        match (&self.direct_url, &self.direct_source) {
            (Some(d), Some(source)) if d.expose() == url.expose() && self.database_url.expose() != url.expose() => {
                origin(source, d, self.env_file.as_ref())
            }
            _ if self.database_url.expose() == url.expose() => self.database_origin(),
            _ => "the command line".to_owned(),
        }
    }

    /// Where the snapshot location came from: `--snapshot-dir`, `SEED_SNAPSHOT_DIR`,
    /// `seed.toml:1`, `default`.
    pub fn snapshot_dir_origin(&self) -> String {
        self.effective.iter().find(|e| e.name == "snapshot-dir").map_or_else(|| "default".into(), |e| e.source.clone())
    }

    /// `URL (from ORIGIN)`: how messages about "nothing there" name the database, so a
    /// wrong address (a forgotten `PG*` variable, a `.env`) shows at once.
    pub fn database_named(&self) -> String {
        format!("{} (from {})", self.database_url, self.database_origin())
    }

    /// Where a PostgreSQL connection's password comes from, in words (sqlx reads
    /// `PGPASSWORD` and the password file itself when the URL has none).
    pub fn password_origin(&self, url: &DbUrl) -> String {
        if url.has_password() {
            return match url.service() {
                Some((name, file)) => format!("the URL or service '{name}' in {}", file.display()),
                None => format!("the URL, from {}", self.origin_of(url)),
            };
        }
        if std::env::var_os("PGPASSWORD").is_some_and(|v| !v.is_empty()) {
            return match &self.env_file {
                Some(loaded) if loaded.set("PGPASSWORD") => format!("PGPASSWORD in {}", loaded.path.display()),
                _ => "PGPASSWORD".to_owned(),
            };
        }
        if let Some(file) = std::env::var_os("PGPASSFILE") {
            return format!("the password file {} (PGPASSFILE)", PathBuf::from(file).display());
        }
        match std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")) {
            Some(p) if p.is_file() => format!("the password file {}", p.display()),
            _ => "none was given: put it in the URL, PGPASSWORD or ~/.pgpass".to_owned(),
        }
    }

    /// The settings that are not defaults, with their sources, on one line (URLs
    /// masked): what `doctor` prints. The full list is `effective`.
    pub fn summary(&self) -> String {
        let set: Vec<String> = self
            .effective
            .iter()
            .filter(|e| !e.default && e.name != "database-url")
            .map(|e| format!("{}={} ({})", e.name, e.value, e.source))
            .collect();
        if set.is_empty() { "all defaults".to_owned() } else { set.join(", ") }
    }

    /// The masked URL that writes go to, and where it came from: said before anything
    /// is emptied, because a `.env` often points at a developer's own database.
    pub fn describe_target(&self) -> String {
        let (url, source) = match (&self.direct_url, &self.direct_source) {
            (Some(url), Some(source)) => (url, source),
            _ => (&self.database_url, &self.database_source),
        };
        format!("target: {url} (from {})", origin(source, url, self.env_file.as_ref()))
    }

    /// Whether a command that writes should say where it writes even when it empties
    /// nothing: the address was not typed on its command line and is not the embedded
    /// default — it came from the environment, `.env`, the `PG*` variables (which
    /// replace the SQLite default) or `seed.toml`.
    pub fn target_not_obvious(&self) -> bool {
        let source = self.direct_source.as_ref().unwrap_or(&self.database_source);
        !matches!(source, Source::Flag(_) | Source::Default)
    }

    /// Prints `describe_target` (a `target` event in JSON mode).
    pub fn announce_target(&self, printer: &Printer) {
        let text = self.describe_target();
        printer.event(
            Level::Info,
            "target",
            serde_json::json!({ "url": self.write_url().to_string(), "message": text }),
            || text.clone(),
        );
    }
}

fn origin(source: &Source, url: &DbUrl, env_file: Option<&Loaded>) -> String {
    let mut text = source.to_string();
    let parts: Vec<String> = url
        .env_parts()
        .iter()
        .map(|p| match env_file {
            Some(loaded) if loaded.set(p) => format!("{p} in {}", loaded.path.display()),
            _ => (*p).to_owned(),
        })
        .collect();
    if !parts.is_empty() {
        if *source == Source::Libpq {
            text.push_str(&format!(" ({})", parts.join(", ")));
        } else {
            text.push_str(&format!(" completed by {}", parts.join(", ")));
        }
    }
    if let Some((name, file)) = url.service() {
        text.push_str(&format!(", service '{name}' in {}", file.display()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Result<Settings, Error> {
        settings_with(args, PgEnv::default())
    }

    fn settings_with(args: &[&str], pg_env: PgEnv) -> Result<Settings, Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut full = vec!["seed"];
        full.extend_from_slice(args);
        full.push("doctor");
        let matches = Cli::command().try_get_matches_from(full).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        Settings::from_cli(&cli, &matches, &Inputs { pg_env, ..Inputs::default() })
    }

    #[test]
    fn precedence_flag_then_config_then_default() {
        use clap::{CommandFactory, FromArgMatches};
        let config = crate::seed_toml::parse(
            std::path::Path::new("seed.toml"),
            "snapshot-dir = \"snaps\"\nconnect-timeout = 3\ndatabase-url = \"postgres://app@db.invalid/app\"\n",
        )
        .unwrap();
        let run = |args: &[&str], pg_env: PgEnv| {
            let matches = Cli::command().try_get_matches_from(args).unwrap();
            let cli = Cli::from_arg_matches(&matches).unwrap();
            Settings::from_cli(&cli, &matches, &Inputs { pg_env, config: Some(config.clone()), env_file: None })
                .unwrap()
        };
        let s = run(&["seed", "doctor"], PgEnv::default());
        assert_eq!(s.snapshot_dir, Spec::Local(PathBuf::from("snaps")));
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.database_source, Source::Config { file: "seed.toml".into(), line: 3 });
        assert_eq!(s.summary(), "snapshot-dir=snaps (seed.toml:1), connect-timeout=3s (seed.toml:2)");
        let s = run(&["seed", "--snapshot-dir", "x", "--database-url", "sqlite://a.db", "doctor"], PgEnv::default());
        assert_eq!(s.snapshot_dir, Spec::Local(PathBuf::from("x")));
        assert_eq!(s.database_source, Source::Flag("--database-url".into()));
        // The libpq environment is environment: it beats the file's URL.
        let s = run(&["seed", "doctor"], PgEnv::from_pairs(&[("PGDATABASE", "other")]));
        assert_eq!(s.database_source, Source::Libpq);
    }

    #[test]
    fn libpq_environment_without_a_url() {
        let s = settings_with(&[], PgEnv::from_pairs(&[("PGHOST", "127.0.0.1"), ("PGDATABASE", "app")])).unwrap();
        assert_eq!(s.database_source, Source::Libpq);
        assert!(!s.embedded_default);
        assert_eq!(s.database_url.to_string(), "postgres://127.0.0.1/app");
        assert_eq!(s.database_origin(), "the libpq environment (PGHOST, PGDATABASE)");
        // A URL beats the libpq environment, which only fills what it leaves out.
        let s = settings_with(&["--database-url", "postgres:///db"], PgEnv::from_pairs(&[("PGHOST", "vm.invalid")]))
            .unwrap();
        assert_eq!(s.database_source, Source::Flag("--database-url".into()));
        assert_eq!(s.database_origin(), "--database-url completed by PGHOST");
        assert!(!s.database_url.is_local());
        // PGPASSWORD alone is not a reason to leave the SQLite default.
        let s = settings_with(&[], PgEnv::from_pairs(&[("PGPASSWORD", "Some-Pw-123")])).unwrap();
        assert!(s.embedded_default);
    }

    #[test]
    fn embedded_default() {
        let s = settings(&["--database-url", ""]).unwrap();
        assert!(s.embedded_default);
        assert_eq!(s.database_url.to_string(), DEFAULT_URL);
    }

    /// `s3://x` is a bucket, not a folder named `s3:`; other schemes are refused.
    #[test]
    fn snapshot_locations() {
        assert!(
            matches!(settings(&[]).unwrap().snapshot_dir, Spec::Local(p) if p == std::path::Path::new("snapshots"))
        );
        let s = settings(&["--snapshot-dir", "s3://team-bucket/seed"]).unwrap();
        assert!(matches!(&s.snapshot_dir, Spec::S3(b) if b.name == "team-bucket" && b.prefix == "seed/"));
        assert!(settings(&["--snapshot-dir", "gs://b"]).is_err());
        assert!(settings(&["--snapshot-dir", "s3://Bad_Bucket"]).is_err());
    }

    #[test]
    fn retry_bounds() {
        assert!(settings(&["--retry-max-attempts", "0"]).is_err());
        assert!(settings(&["--retry-base-delay", "2s", "--retry-max-delay", "1s"]).is_err());
        let s = settings(&["--retry-max-attempts", "2", "--retry-base-delay", "10ms"]).unwrap();
        assert_eq!(s.retry.max_attempts, 2);
        assert_eq!(s.retry.base_delay, Duration::from_millis(10));
    }

    /// r21.8: a statement timeout the server cannot take is a usage error before any
    /// connection, not a connection failure on every command.
    #[test]
    fn statement_timeout_bounds() {
        for bad in ["30d", "24days 21h", "500us"] {
            let err = settings(&["--statement-timeout", bad]).err().unwrap();
            assert_eq!(err.exit_code(), crate::error::code::USAGE, "{bad}: {err}");
            assert!(err.to_string().contains("(from --statement-timeout)"), "{err}");
        }
        for good in ["24d", "1ms", "2147483647ms"] {
            assert!(settings(&["--statement-timeout", good]).unwrap().statement_timeout.is_some(), "{good}");
        }
        assert_eq!(settings(&["--statement-timeout", "0"]).unwrap().statement_timeout, None);
    }
}
