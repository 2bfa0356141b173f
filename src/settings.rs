//! Raw CLI + environment + defaults -> validated settings, before anything connects.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{Cli, LogFormat};
use crate::db::url::{DEFAULT_URL, DbUrl};
use crate::error::Error;
use crate::snapshot::location::Spec;

pub const DEFAULT_SNAPSHOT_DIR: &str = "snapshots";

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DbUrl,
    /// True when no URL was given and the embedded SQLite default is in use.
    pub embedded_default: bool,
    /// Used for the write transaction and advisory locks; `database_url` when unset.
    pub direct_url: Option<DbUrl>,
    /// `--snapshot-dir`: a directory or a bucket, parsed once here.
    pub snapshot_dir: Spec,
    pub output: OutputSettings,
    pub retry: RetryPolicy,
    pub connect_timeout: Duration,
    pub statement_timeout: Option<Duration>,
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
    pub fn from_cli(cli: &Cli) -> Result<Self, Error> {
        let (database_url, embedded_default) = match cli.connect.database_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => (DbUrl::parse(url)?, false),
            _ => (DbUrl::parse(DEFAULT_URL)?, true),
        };
        let direct_url = match cli.connect.direct_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => {
                let direct = DbUrl::parse(url)?;
                if direct.kind() != database_url.kind() {
                    return Err(Error::usage_hint(
                        format!(
                            "DIRECT_URL ({direct}) and DATABASE_URL ({database_url}) point at different kinds of database"
                        ),
                        "DIRECT_URL must reach the same database as DATABASE_URL, without a pooler",
                    ));
                }
                Some(direct)
            }
            _ => None,
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
        let snapshot_dir =
            Spec::parse(&cli.connect.snapshot_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SNAPSHOT_DIR)))?;
        Ok(Self {
            database_url,
            embedded_default,
            direct_url,
            snapshot_dir,
            output: OutputSettings {
                format: cli.output.log_format.unwrap_or(LogFormat::Text),
                quiet: cli.output.quiet,
                verbose: cli.output.verbose,
                progress: !cli.output.no_progress && !cli.output.quiet && !json,
            },
            retry,
            connect_timeout,
            statement_timeout,
        })
    }

    /// The URL for writes and locks.
    pub fn write_url(&self) -> &DbUrl {
        self.direct_url.as_ref().unwrap_or(&self.database_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> Result<Settings, Error> {
        let mut full = vec!["seed"];
        full.extend_from_slice(args);
        full.push("doctor");
        Settings::from_cli(&Cli::try_parse_from(full).unwrap())
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
}
