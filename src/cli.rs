//! Command-line definitions (clap derive only; validation lives in `settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env;

#[derive(Debug, Parser)]
#[command(
    name = "seed",
    version,
    about = "Bulk-seed test databases with realistic fake data; take, list and restore data snapshots.",
    after_help = "Examples:\n  seed bulk --count 10000                      # embedded SQLite default (./seed.db)\n  DATABASE_URL=postgres://app@localhost/app_test seed bulk --count 1000\n  seed snapshot create baseline && seed snapshot restore baseline --clean\n  seed doctor --json",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Database to work on (postgres://… or sqlite://…). Default: sqlite://seed.db
    #[arg(long, env = env::DATABASE_URL, global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Direct (non-pooled) URL for the write transaction and advisory locks.
    #[arg(long, env = env::DIRECT_URL, global = true, hide_env_values = true)]
    pub direct_url: Option<String>,
    /// Snapshot directory. Default: ./snapshots
    #[arg(long, env = env::SNAPSHOT_DIR, global = true)]
    pub snapshot_dir: Option<PathBuf>,
    /// Give up connecting after this long per attempt (e.g. 10s).
    #[arg(long, env = env::CONNECT_TIMEOUT, global = true, value_parser = parse_duration)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Bound every statement on the server (e.g. 30s, 5min). Default: none.
    #[arg(long, env = env::STATEMENT_TIMEOUT, global = true, value_parser = parse_duration)]
    pub statement_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Log and event format on stderr.
    #[arg(long, env = env::LOG_FORMAT, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Only errors on stderr; no progress, no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars or progress lines.
    #[arg(long, env = env::NO_PROGRESS, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Attempts for transient failures (connect, whole transaction); 1 disables retries.
    #[arg(long, env = env::RETRY_MAX_ATTEMPTS, global = true)]
    pub retry_max_attempts: Option<u32>,
    /// First backoff delay (e.g. 200ms); doubles per attempt, with jitter.
    #[arg(long, env = env::RETRY_BASE_DELAY, global = true, value_parser = parse_duration)]
    pub retry_base_delay: Option<std::time::Duration>,
    /// Longest backoff delay (e.g. 5s).
    #[arg(long, env = env::RETRY_MAX_DELAY, global = true, value_parser = parse_duration)]
    pub retry_max_delay: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fill tables with schema-driven fake data, in one transaction.
    #[command(
        after_help = "Examples:\n  seed bulk --count 10000\n  seed bulk --count 500 --table welfare_recipients=5000 --seed 7\n  seed bulk --count 100 --factories fixtures/factories.toml --dry-run\n  seed bulk --count 1000 --truncate"
    )]
    Bulk(BulkArgs),
    /// Take, list, inspect, verify, restore and delete data snapshots.
    #[command(
        subcommand,
        after_help = "Examples:\n  seed snapshot create baseline\n  seed snapshot list\n  seed snapshot restore baseline --clean\n  seed snapshot verify baseline --against-db\n  seed snapshot diff baseline after-tests --rows\n  seed snapshot prune --older-than 30d --keep-last 5"
    )]
    Snapshot(SnapshotCommand),
    /// Check connectivity, privileges, schema version and the snapshot directory.
    #[command(after_help = "Examples:\n  seed doctor\n  seed doctor --json | jq .healthy")]
    Doctor(DoctorArgs),
}

#[derive(Debug, Args)]
pub struct BulkArgs {
    /// Rows per table (unless the factories file or --table says otherwise).
    #[arg(long, allow_negative_numbers = true)]
    pub count: Option<i64>,
    /// Rows for one table, e.g. --table staffs=200 (repeatable).
    #[arg(long = "table", value_name = "TABLE=N")]
    pub tables: Vec<String>,
    /// Per-table and per-column overrides (TOML).
    #[arg(long, env = "SEED_FACTORIES")]
    pub factories: Option<PathBuf>,
    /// Rows per COPY chunk / INSERT statement; the unit of progress, never a commit point.
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Random seed: the same seed, schema and counts give identical data.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<i64>,
    /// Empty the target tables first, inside the same transaction.
    #[arg(long)]
    pub truncate: bool,
    /// Print the plan (tables in order, counts, generators) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow --truncate against a database that is not on this machine.
    #[arg(long, env = env::ALLOW_REMOTE)]
    pub allow_remote: bool,
    /// Wait for another bulk or restore on the same database instead of failing at once.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Machine-readable report on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Write a snapshot of the database's data.
    #[command(
        after_help = "Examples:\n  seed snapshot create baseline --description \"after migrations\"\n  seed snapshot create small --table staffs --table offices\n  seed snapshot create baseline --force\n  seed snapshot create baseline --new-version          # baseline@2, incremental to baseline@1\n  seed snapshot create baseline --new-version --full\n  seed snapshot create nightly --base baseline@3"
    )]
    Create(CreateArgs),
    /// Load a snapshot into the database, in one transaction.
    #[command(
        after_help = "Examples:\n  seed snapshot restore baseline\n  seed snapshot restore baseline --clean\n  seed snapshot restore baseline --dry-run"
    )]
    Restore(RestoreArgs),
    /// List snapshots (reads headers only).
    #[command(after_help = "Examples:\n  seed snapshot list\n  seed snapshot list --json")]
    List(ListArgs),
    /// Show one snapshot's header: tables, columns, rows, checksums.
    #[command(after_help = "Examples:\n  seed snapshot show baseline\n  seed snapshot show baseline --json")]
    Show(ShowArgs),
    /// Check a snapshot's integrity, or compare it with the live database.
    #[command(after_help = "Examples:\n  seed snapshot verify baseline\n  seed snapshot verify baseline --against-db")]
    Verify(VerifyArgs),
    /// Compare two snapshots table by table, by primary key.
    #[command(after_help = "Examples:\n  seed snapshot diff before after\n  seed snapshot diff before after --rows")]
    Diff(DiffArgs),
    /// Delete a snapshot (every version of it) or one version.
    #[command(
        after_help = "Examples:\n  seed snapshot delete baseline            # every version\n  seed snapshot delete baseline@2          # one version\n  seed snapshot delete baseline --dry-run\n  seed snapshot delete baseline@1 --rebase-dependents"
    )]
    Delete(DeleteArgs),
    /// Delete old snapshots.
    #[command(
        after_help = "Examples:\n  seed snapshot prune --older-than 30d --dry-run\n  seed snapshot prune --keep-last 5\n  seed snapshot prune --keep-versions 3 --rebase-dependents"
    )]
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Wait for a held lock instead of failing at once.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: String,
    #[arg(long)]
    pub description: Option<String>,
    /// Only these tables (repeatable).
    #[arg(long = "table", value_name = "TABLE")]
    pub tables: Vec<String>,
    /// Leave these tables out (repeatable).
    #[arg(long = "exclude", value_name = "TABLE")]
    pub exclude: Vec<String>,
    /// Replace the latest version of that name (the old one stays intact until the new one is
    /// complete); refused while another snapshot is built on it.
    #[arg(long, conflicts_with = "new_version")]
    pub force: bool,
    /// Keep the existing versions and add the next one (NAME@N+1), incremental to the
    /// latest one unless --full or --base says otherwise.
    #[arg(long)]
    pub new_version: bool,
    /// Store only what differs from this snapshot (NAME or NAME@N).
    #[arg(long, value_name = "REF", conflicts_with = "full")]
    pub base: Option<String>,
    /// With --new-version: a full copy, not incremental to the previous version.
    #[arg(long, requires = "new_version")]
    pub full: bool,
    /// gzip level 0-9. 2 (default) is about 4x faster than pg_dump -Fc for about the same size; 1 is faster but much larger.
    #[arg(long, env = env::COMPRESSION_LEVEL, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub compression_level: u32,
    /// Tables read at once, each on its own connection sharing one exported snapshot
    /// (PostgreSQL; other kinds read on one connection). Default: the number of cores.
    #[arg(short = 'j', long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    pub name: String,
    /// Empty the snapshot's tables first, inside the same transaction.
    #[arg(long)]
    pub clean: bool,
    /// Go on when the schema differs but every snapshot column still fits.
    #[arg(long)]
    pub allow_schema_mismatch: bool,
    /// Run the pre-flight checks and print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow --clean against a database that is not on this machine.
    #[arg(long, env = env::ALLOW_REMOTE)]
    pub allow_remote: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the versions of this snapshot (dates, sizes, schema versions, bases).
    pub name: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    pub name: String,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    pub name: String,
    /// Compare row counts and checksums with the live database.
    #[arg(long)]
    pub against_db: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub name_a: String,
    pub name_b: String,
    /// Print the rows added, removed and changed, not only counts.
    #[arg(long)]
    pub rows: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// NAME deletes every version of it; NAME@N only version N.
    pub name: String,
    /// Print what would be deleted (and rebased); delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// When other snapshots are built on what is deleted, fold it into them first
    /// (they are rewritten to hold what they read from it) instead of refusing.
    #[arg(long)]
    pub rebase_dependents: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove snapshots older than this (e.g. 30d, 12h).
    #[arg(long, value_parser = parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// Always keep the newest N snapshots (versions, over all names).
    #[arg(long)]
    pub keep_last: Option<usize>,
    /// Keep the newest K versions of every name (and prune older ones by the other rules).
    #[arg(long)]
    pub keep_versions: Option<usize>,
    /// When a kept snapshot is built on a pruned version, fold that version into it
    /// first (it is rewritten) instead of refusing.
    #[arg(long)]
    pub rebase_dependents: bool,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// Durations such as `250ms`, `5s`, `30d`; a bare number means seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 250ms, 5s, 10min, 30d)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_after_subcommand() {
        let cli = Cli::try_parse_from(["seed", "doctor", "--database-url", "sqlite://x.db", "-q"]).unwrap();
        assert_eq!(cli.connect.database_url.as_deref(), Some("sqlite://x.db"));
        assert!(cli.output.quiet);
    }

    #[test]
    fn negative_counts_reach_validation() {
        let cli = Cli::try_parse_from(["seed", "bulk", "--count", "-5"]).unwrap();
        let Command::Bulk(args) = cli.command else { panic!("not bulk") };
        assert_eq!(args.count, Some(-5));
    }

    #[test]
    fn unknown_flag_is_rejected() {
        assert!(Cli::try_parse_from(["seed", "bulk", "--cuont", "5"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86400);
        assert!(parse_duration("soon").is_err());
    }
}
