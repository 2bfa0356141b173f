//! Raw CLI + environment + defaults -> validated settings, before anything connects.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::cli::{Cli, LogFormat};
use crate::db::url::{DEFAULT_URL, DbUrl};
use crate::env;
use crate::envfile::Loaded;
use crate::error::Error;
use crate::libpq::PgEnv;
use crate::output::{Level, Printer};

pub const DEFAULT_SNAPSHOT_DIR: &str = "snapshots";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--database-url`.
    Flag(&'static str),
    /// An environment variable set before `seed` started.
    Env(&'static str),
    /// A variable read from a `.env` file.
    EnvFile {
        var: &'static str,
        file: PathBuf,
    },
    /// `PG*` variables and/or a service file, with no URL given.
    Libpq,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => f.write_str(flag),
            Source::Env(var) => f.write_str(var),
            Source::EnvFile { var, file } => write!(f, "{var} in {}", file.display()),
            Source::Libpq => f.write_str("the libpq environment"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// What settings are resolved from besides the command line.
#[derive(Debug, Default)]
pub struct Inputs {
    pub pg_env: PgEnv,
    /// The `.env` file read at start-up, if any.
    pub env_file: Option<Loaded>,
}

impl Inputs {
    pub fn from_process() -> Self {
        Self { pg_env: PgEnv::from_process(), env_file: None }
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
    pub snapshot_dir: PathBuf,
    pub output: OutputSettings,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub statement_timeout: Option<Duration>,
    /// The `.env` file read at start-up, to say which values came from it.
    pub env_file: Option<Loaded>,
}

#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    pub format: LogFormat,
    pub quiet: bool,
    pub verbose: u8,
    pub progress: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl Settings {
    /// Flags and environment (as clap parsed them, `matches` telling which was which),
    /// then `inputs`, then defaults.
    pub fn from_cli(cli: &Cli, matches: &ArgMatches, inputs: &Inputs) -> Result<Self, Error> {
        let pg_env = &inputs.pg_env;
        if let Some(password) = pg_env.get("PGPASSWORD") {
            crate::redact::register(password);
        }
        let given = |value: &Option<String>, id: &str, flag: &'static str, var: &'static str| {
            let value = value.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
            let source = match matches.value_source(id) {
                Some(ValueSource::EnvVariable) => match &inputs.env_file {
                    Some(loaded) if loaded.set(var) => Source::EnvFile { var, file: loaded.path.clone() },
                    _ => Source::Env(var),
                },
                _ => Source::Flag(flag),
            };
            Some((value.to_owned(), source))
        };
        let database = given(&cli.connect.database_url, "database_url", "--database-url", env::DATABASE_URL);
        let (database_url, database_source) = match database {
            Some((url, source)) => (DbUrl::resolve(&url, pg_env)?, source),
            None if !pg_env.connection_vars().is_empty() => (DbUrl::from_libpq(pg_env)?, Source::Libpq),
            None => (DbUrl::parse(DEFAULT_URL)?, Source::Default),
        };
        let embedded_default = database_source == Source::Default;
        let direct = given(&cli.connect.direct_url, "direct_url", "--direct-url", env::DIRECT_URL);
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
                (Some(direct), Some(source))
            }
            None => (None, None),
        };
        let defaults = RetryPolicy::default();
        let retry = RetryPolicy {
            max_attempts: cli.retry.retry_max_attempts.unwrap_or(defaults.max_attempts),
            base_delay: cli.retry.retry_base_delay.unwrap_or(defaults.base_delay),
            max_delay: cli.retry.retry_max_delay.unwrap_or(defaults.max_delay),
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
        let connect_timeout = cli.connect.connect_timeout.unwrap_or(Duration::from_secs(10));
        if connect_timeout.is_zero() {
            return Err(Error::usage("--connect-timeout must be longer than 0"));
        }
        let statement_timeout = cli.connect.statement_timeout.filter(|d| !d.is_zero());
        let json = cli.output.log_format == Some(LogFormat::Json);
        Ok(Self {
            database_url,
            database_source,
            embedded_default,
            direct_url,
            direct_source,
            snapshot_dir: cli.connect.snapshot_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SNAPSHOT_DIR)),
            output: OutputSettings {
                format: cli.output.log_format.unwrap_or(LogFormat::Text),
                quiet: cli.output.quiet,
                verbose: cli.output.verbose,
                progress: !cli.output.no_progress && !cli.output.quiet && !json,
            },
            retry,
            connect_timeout,
            statement_timeout,
            env_file: inputs.env_file.clone(),
        })
    }

    /// The URL for writes and locks.
    pub fn write_url(&self) -> &DbUrl {
        self.direct_url.as_ref().unwrap_or(&self.database_url)
    }

    /// Where the database URL came from, in words: `DATABASE_URL`, `--database-url
    /// completed by PGHOST`, `the libpq environment (PGHOST, PGDATABASE)`, `service
    /// 'app' in ~/.pg_service.conf`, `default`.
    pub fn database_origin(&self) -> String {
        origin(&self.database_source, &self.database_url, self.env_file.as_ref())
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
        Settings::from_cli(&cli, &matches, &Inputs { pg_env, env_file: None })
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
        assert_eq!(s.database_source, Source::Flag("--database-url"));
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

    #[test]
    fn retry_bounds() {
        assert!(settings(&["--retry-max-attempts", "0"]).is_err());
        assert!(settings(&["--retry-base-delay", "2s", "--retry-max-delay", "1s"]).is_err());
        let s = settings(&["--retry-max-attempts", "2", "--retry-base-delay", "10ms"]).unwrap();
        assert_eq!(s.retry.max_attempts, 2);
        assert_eq!(s.retry.base_delay, Duration::from_millis(10));
    }
}
