//! Command-line definitions (clap derive only; validation lives in `settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::env;
use crate::output::LogFormat;

/// Examples and exit codes under `seed --help` (the codes are `error::code`; a test
/// keeps the two in step).
const ROOT_AFTER_HELP: &str = "\
Examples:
  seed bulk --count 10000                      # embedded SQLite default (./seed.db)
  DATABASE_URL=postgres://app@localhost/app_test seed bulk --count 1000
  PGHOST=localhost PGDATABASE=app_test seed bulk --count 1000
  seed snapshot create baseline && seed snapshot restore baseline --clean
  seed doctor --json

Settings: flag > environment (and ./.env) > ./seed.toml > default; `seed doctor` shows them.

Exit codes:
    0  success
    1  unexpected internal or I/O error
    2  usage: bad arguments, URL, config file, snapshot name, factories file
    3  connection: cannot connect, authentication failed, connection lost
    4  data: constraint violation, invalid value, a generator cannot satisfy a rule
    5  schema: unknown table, schema mismatch, restore pre-flight failed
    6  snapshot (or version, or an incremental snapshot's base) missing, or already exists
    7  snapshot corrupt, failed verification, or a base altered
    8  lock held by another seed process
    9  not enough disk space
   10  statement timeout
   11  permission denied
   12  differences found (verify --against-db, diff)
   13  other snapshots are built on it (delete, prune, create --force)
  130  interrupted: rolled back, temp files removed, locks released";

#[derive(Debug, Parser)]
#[command(
    name = "seed",
    version,
    about = "Bulk-seed test databases with realistic fake data; take, list and restore data snapshots.",
    after_help = ROOT_AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(flatten)]
    pub sources: SourceArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct ConnectArgs {
    /// Database to work on (postgres://… or sqlite://…). Default: sqlite://seed.db
    #[arg(long, env = env::DATABASE_URL, hide_env_values = true, global = true)]
    pub database_url: Option<String>,
    /// Direct (non-pooled) URL for the write transaction and advisory locks.
    #[arg(long, env = env::DIRECT_URL, hide_env_values = true, global = true)]
    pub direct_url: Option<String>,
    /// Snapshot directory, or s3://BUCKET[/PREFIX] (AWS variables and profiles). Default: ./snapshots
    #[arg(long, env = env::SNAPSHOT_DIR, hide_env_values = true, global = true)]
    pub snapshot_dir: Option<PathBuf>,
    /// Give up connecting after this long per attempt (e.g. 10s).
    #[arg(long, env = env::CONNECT_TIMEOUT, hide_env_values = true, global = true, value_parser = parse_duration)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Bound every statement on the server (e.g. 30s, 5min). Default: none.
    #[arg(long, env = env::STATEMENT_TIMEOUT, hide_env_values = true, global = true, value_parser = parse_duration)]
    pub statement_timeout: Option<std::time::Duration>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct SourceArgs {
    /// Read environment variables from this file instead of ./.env (variables already set win).
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "no_env_file")]
    pub env_file: Option<PathBuf>,
    /// Do not read ./.env.
    #[arg(long, global = true)]
    pub no_env_file: bool,
    /// Project settings file. Default: ./seed.toml when present.
    #[arg(long, global = true, value_name = "PATH", env = env::CONFIG, hide_env_values = true)]
    pub config: Option<PathBuf>,
}

impl SourceArgs {
    pub fn env_file_choice(&self) -> crate::envfile::Choice {
        use crate::envfile::Choice;
        match (&self.env_file, self.no_env_file) {
            (_, true) => Choice::Skip,
            (Some(p), false) => Choice::File(p.clone()),
            (None, false) => Choice::Default,
        }
    }
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct OutputArgs {
    /// Log and event format on stderr.
    #[arg(long, env = env::LOG_FORMAT, hide_env_values = true, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Only errors on stderr; no progress, no summary.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bars or progress lines.
    #[arg(long, env = env::NO_PROGRESS, hide_env_values = true, global = true, value_parser = env::parse_bool)]
    pub no_progress: bool,
    /// Print the command's result as one JSON object on stdout ("json_version": 1);
    /// messages stay on stderr.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct RetryArgs {
    /// Attempts for transient failures (connect, whole transaction); 1 disables retries.
    #[arg(long, env = env::RETRY_MAX_ATTEMPTS, hide_env_values = true, global = true)]
    pub retry_max_attempts: Option<u32>,
    /// First backoff delay (e.g. 200ms); doubles per attempt, with jitter.
    #[arg(long, env = env::RETRY_BASE_DELAY, hide_env_values = true, global = true, value_parser = parse_duration)]
    pub retry_base_delay: Option<std::time::Duration>,
    /// Longest backoff delay (e.g. 5s).
    #[arg(long, env = env::RETRY_MAX_DELAY, hide_env_values = true, global = true, value_parser = parse_duration)]
    pub retry_max_delay: Option<std::time::Duration>,
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
        after_help = "Examples:\n  seed snapshot create baseline\n  seed snapshot list\n  seed snapshot restore baseline --clean\n  seed snapshot verify baseline --against-db\n  seed snapshot diff baseline after-tests --rows\n  seed snapshot prune --older-than 30d --keep-last 5\n  seed snapshot push baseline --to s3://team-bucket/seed"
    )]
    Snapshot(SnapshotCommand),
    /// CI setup in one step: restore the snapshot saved for this schema and these options, else seed and save it.
    #[command(
        after_help = "Examples:\n  seed prepare baseline --count 1000 --factories fixtures/factories.toml\n  seed prepare baseline --count 1000 --wait --json\n\nThe snapshot is saved as NAME.<key> (see `seed snapshot list`); the key covers the schema,\nthe migration version, these options, the factories file's content and seed's version."
    )]
    Prepare(PrepareArgs),
    /// Check connectivity, privileges, schema version and the snapshot directory.
    #[command(after_help = "Examples:\n  seed doctor\n  seed doctor --json | jq .healthy")]
    Doctor(DoctorArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  seed completions bash > ~/.local/share/bash-completion/completions/seed\n  seed completions zsh > ~/.zfunc/_seed\n  seed completions fish > ~/.config/fish/completions/seed.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command into a directory.
    #[command(after_help = "Examples:\n  seed man | man -l -\n  seed man --dir ~/.local/share/man/man1")]
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write seed.1, seed-bulk.1, seed-snapshot-create.1, … into this directory instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BulkArgs {
    /// Rows per table (unless the factories file or --table says otherwise).
    #[arg(long, allow_negative_numbers = true)]
    pub count: Option<i64>,
    /// Rows for one table, e.g. --table staffs=200 (repeatable; a table once).
    #[arg(long = "table", value_name = "TABLE=N")]
    pub tables: Vec<String>,
    /// Leave out the tables this pattern matches, e.g. 'audit_*' (repeatable).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Only the tables of this schema (SQLite: attached database; MySQL: database) (repeatable).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Per-table and per-column overrides (TOML).
    #[arg(long, env = env::FACTORIES, hide_env_values = true)]
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
    #[arg(long, env = env::ALLOW_REMOTE, hide_env_values = true, value_parser = env::parse_bool)]
    pub allow_remote: bool,
    /// Wait for another bulk or restore on the same database instead of failing at once.
    #[arg(long)]
    pub wait: bool,
    /// Shape values like the data in this snapshot (value sets, null rates, ranges; never personal values).
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "like_db")]
    pub like: Option<String>,
    /// Shape values like the data in this live database (read only).
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub like_db: Option<String>,
}

#[derive(Debug, Args)]
pub struct PrepareArgs {
    /// Name of the prepared state (e.g. baseline); its snapshots are NAME.<key>. At most 87 characters.
    pub name: String,
    /// Rows per table (unless the factories file or --table says otherwise).
    #[arg(long, allow_negative_numbers = true)]
    pub count: Option<i64>,
    /// Rows for one table, e.g. --table staffs=200 (repeatable).
    #[arg(long = "table", value_name = "TABLE=N")]
    pub tables: Vec<String>,
    /// Leave out the tables this pattern matches, e.g. 'audit_*': not seeded, not saved, not restored (repeatable).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Only the tables of this schema (repeatable).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Per-table and per-column overrides (TOML); its content is part of the key.
    #[arg(long, env = env::FACTORIES, hide_env_values = true)]
    pub factories: Option<PathBuf>,
    /// Rows per COPY chunk / INSERT statement when seeding (not part of the key: it never changes the data).
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Random seed: the same seed, schema and counts give identical data.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<i64>,
    /// Allow emptying the tables of a database that is not on this machine.
    #[arg(long, env = env::ALLOW_REMOTE, hide_env_values = true, value_parser = env::parse_bool)]
    pub allow_remote: bool,
    /// Wait for another process saving this snapshot (then restore it), and for another bulk or restore on the database.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {}

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
    /// Print what a snapshot's data looks like (value sets, null rates, ranges; never
    /// personal values) as a factories file.
    #[command(
        after_help = "Examples:\n  seed snapshot profile prod > profile.toml\n  seed bulk --count 1000 --factories profile.toml\n  seed snapshot profile prod --max-values 50 --min-count 10"
    )]
    Profile(ProfileArgs),
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
    /// Copy a snapshot from the snapshot directory to another location (e.g. a bucket).
    #[command(
        after_help = "Examples:\n  seed snapshot push baseline --to s3://team-bucket/seed\n  seed snapshot push baseline --to s3://team-bucket/seed --force"
    )]
    Push(PushArgs),
    /// Copy a snapshot from another location (e.g. a bucket) into the snapshot directory.
    #[command(
        after_help = "Examples:\n  seed snapshot pull baseline --from s3://team-bucket/seed\n  seed snapshot pull baseline --from s3://team-bucket/seed --force"
    )]
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The snapshot to copy (in --snapshot-dir): NAME (its latest version) or NAME@N;
    /// the bases an incremental one is built on go with it.
    pub name: String,
    /// Where to copy it: s3://BUCKET[/PREFIX] or a directory.
    #[arg(long, value_name = "LOCATION")]
    pub to: PathBuf,
    /// Replace that version there (the old one stays readable until the copy is complete; never a base).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The snapshot to copy (into --snapshot-dir): NAME (its latest version) or NAME@N;
    /// the bases an incremental one is built on come with it.
    pub name: String,
    /// Where to copy it from: s3://BUCKET[/PREFIX] or a directory.
    #[arg(long, value_name = "LOCATION")]
    pub from: PathBuf,
    /// Replace that local version (the old one stays readable until the copy is complete; never a base).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Wait for a held lock instead of failing at once.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Snapshot name: a letter or digit, then letters, digits, '.', '_' or '-' (e.g. baseline).
    pub name: String,
    /// Free text kept in the header and shown by list and show.
    #[arg(long)]
    pub description: Option<String>,
    /// Only the tables this pattern matches, e.g. staffs, 'app.*', '"Mixed Case"' (repeatable).
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Leave out the tables this pattern matches, e.g. 'audit_*' (repeatable).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Only the tables of this schema (SQLite: attached database; MySQL: database) (repeatable).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
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
    #[arg(long, env = env::COMPRESSION_LEVEL, hide_env_values = true, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=9))]
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
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    pub name: String,
    /// Empty the snapshot's tables first, inside the same transaction.
    #[arg(long)]
    pub clean: bool,
    /// Go on when the schema differs but every snapshot column still fits.
    #[arg(long)]
    pub allow_schema_mismatch: bool,
    /// Only the snapshot's tables this pattern matches (repeatable).
    #[arg(long = "table", value_name = "PATTERN")]
    pub tables: Vec<String>,
    /// Leave out the snapshot's tables this pattern matches (repeatable).
    #[arg(long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Only the snapshot's tables of this schema (repeatable).
    #[arg(long = "schema", value_name = "SCHEMA")]
    pub schemas: Vec<String>,
    /// Run the pre-flight checks and print the plan; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow --clean against a database that is not on this machine.
    #[arg(long, env = env::ALLOW_REMOTE, hide_env_values = true, value_parser = env::parse_bool)]
    pub allow_remote: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the versions of this snapshot (dates, sizes, schema versions, bases).
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    pub name: String,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    pub name: String,
    /// Compare row counts and checksums with the live database.
    #[arg(long)]
    pub against_db: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The snapshot to compare from (e.g. the older one).
    pub name_a: String,
    /// The snapshot to compare with.
    pub name_b: String,
    /// Print the rows added, removed and changed, not only counts.
    #[arg(long)]
    pub rows: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Snapshot name: a letter or digit, then letters, digits, '.', '_' or '-' (e.g. baseline).
    pub name: String,
    /// A column with more distinct values than this gets a range or lengths, not a value set (default 20).
    #[arg(long)]
    pub max_values: Option<u64>,
    /// Each value of a set must be seen at least this often (default 5).
    #[arg(long)]
    pub min_count: Option<u64>,
    /// A factories file whose [profile] section sets the above and more personal columns.
    #[arg(long)]
    pub factories: Option<PathBuf>,
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
    fn like_takes_a_snapshot_or_a_database_not_both() {
        let cli = Cli::try_parse_from(["seed", "bulk", "--count", "5", "--like", "prod"]).unwrap();
        let Command::Bulk(args) = cli.command else { panic!("not bulk") };
        assert_eq!(args.like.as_deref(), Some("prod"));
        assert!(Cli::try_parse_from(["seed", "bulk", "--like", "a", "--like-db", "sqlite://x.db"]).is_err());
        assert!(Cli::try_parse_from(["seed", "snapshot", "profile", "prod", "--max-values", "50"]).is_ok());
    }

    #[test]
    fn unknown_flag_is_rejected() {
        assert!(Cli::try_parse_from(["seed", "bulk", "--cuont", "5"]).is_err());
    }

    #[test]
    fn boolean_flags_take_their_parser() {
        let cli = Cli::try_parse_from(["seed", "--no-progress", "bulk", "--allow-remote"]).unwrap();
        assert!(cli.output.no_progress);
        let Command::Bulk(args) = cli.command else { panic!("not bulk") };
        assert!(args.allow_remote);
        let cli = Cli::try_parse_from(["seed", "bulk"]).unwrap();
        assert!(!cli.output.no_progress);
    }

    /// Every argument of every command, with the command's path.
    fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, Option<String>)>) {
        for arg in cmd.get_arguments() {
            out.push((path.to_owned(), arg.get_id().to_string(), arg.get_help().map(|h| h.to_string())));
        }
        for sub in cmd.get_subcommands() {
            all_args(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn r11_5_every_argument_has_a_help_line() {
        let mut args = Vec::new();
        all_args(&Cli::command(), "seed", &mut args);
        assert!(args.len() > 40);
        for (path, id, help) in args {
            if id == "help" || id == "version" {
                continue;
            }
            assert!(help.as_deref().is_some_and(|h| !h.trim().is_empty()), "{path}: argument {id} has no help line");
        }
    }

    #[test]
    fn r11_5_exit_codes_are_listed_in_root_help() {
        use crate::error::code;
        let help = Cli::command().render_help().to_string();
        for c in [
            code::OK,
            code::INTERNAL,
            code::USAGE,
            code::CONNECTION,
            code::DATA,
            code::SCHEMA,
            code::SNAPSHOT_MISSING,
            code::SNAPSHOT_CORRUPT,
            code::LOCK_HELD,
            code::DISK_SPACE,
            code::TIMEOUT,
            code::PERMISSION,
            code::DIFFERENCES,
            code::INTERRUPTED,
        ] {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(&format!("{c}  "))),
                "exit code {c} missing:\n{help}"
            );
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86400);
        assert!(parse_duration("soon").is_err());
    }
}
