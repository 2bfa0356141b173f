//! Command-line definitions (clap derive only; validation lives in `settings`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env;
use crate::output::LogFormat;
use crate::snapshot::reference::SnapshotRef;

/// Examples, settings and exit codes under `seed --help` and in the man page; the codes
/// are `error::code::MEANINGS`.
fn root_after_help() -> String {
    format!(
        "\
Examples:
  seed bulk --count 10000                      # embedded SQLite default (./seed.db)
  DATABASE_URL=postgres://app@localhost/app_test seed bulk --count 1000
  PGHOST=localhost PGDATABASE=app_test seed bulk --count 1000
  seed snapshot create baseline && seed snapshot restore baseline --clean
  seed doctor --json

Settings: flag > environment (and ./.env) > ./seed.toml > default; `seed doctor` shows them.

Exit codes:
{}",
        crate::error::code::help_lines()
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "seed",
    version,
    about = "Bulk-seed test databases with realistic fake data; take, list and restore data snapshots.",
    after_help = root_after_help(),
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
    /// Database to work on: postgres://…, mysql://… (or mariadb://…) or sqlite://…. Default: sqlite://seed.db
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
    /// Fresh databases identical to a template `seed prepare NAME --template` kept: one URL per line.
    #[command(
        after_help = "Examples:\n  seed prepare ci --count 1000 --template\n  DATABASE_URL=$(seed clone ci)\n  seed clone ci --count 4 --json\n  seed clone --drop \"$DATABASE_URL\"\n  seed clone --gc --older-than 1h\n\nA clone is named <db>_seed_<NAME>_<UTC time>_<random>; --drop and --gc touch only such names.\nWhen the schema or migration version of the source database changed since the template was\nkept, the first caller rebuilds it (under a lock; the others wait with --wait or exit 8)."
    )]
    Clone(CloneArgs),
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

/// What to seed and how: the options `bulk` and `prepare` share, defined once and
/// flattened into both. A help line that says more for one command is set there with
/// `mut_arg`; `bulk`'s `--cascade` also needs `--truncate` (prepare always empties).
#[derive(Debug, Clone, Default, Args)]
pub struct SeedingArgs {
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
    /// Every --table and --schema must match a table (pg_dump's --strict-names); without it
    /// one that matches nothing is a warning, unless none matches anything.
    #[arg(long)]
    pub strict_names: bool,
    /// Per-table and per-column overrides (TOML).
    #[arg(long, env = env::FACTORIES, hide_env_values = true)]
    pub factories: Option<PathBuf>,
    /// Rows per COPY chunk / INSERT statement; the unit of progress, never a commit point.
    #[arg(long, allow_negative_numbers = true)]
    pub batch_size: Option<i64>,
    /// Random seed: the same seed, schema and counts give identical data.
    #[arg(long, allow_negative_numbers = true)]
    pub seed: Option<i64>,
    /// Also empty the tables left out whose rows reference an emptied table (and theirs,
    /// in turn) instead of refusing.
    #[arg(long)]
    pub cascade: bool,
    /// Allow emptying the tables of a database that is not on this machine.
    #[arg(long, env = env::ALLOW_REMOTE, hide_env_values = true, value_parser = env::parse_bool)]
    pub allow_remote: bool,
    /// Wait for another bulk or restore on the same database instead of failing at once.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
#[command(mut_arg("cascade", |a| a.requires("truncate").help(
    "With --truncate: also empty the tables left out whose rows reference an emptied table (and theirs, in turn) instead of refusing; --dry-run lists them"
)))]
#[command(mut_arg("allow_remote", |a| a.help("Allow --truncate against a database that is not on this machine")))]
pub struct BulkArgs {
    #[command(flatten)]
    pub seeding: SeedingArgs,
    /// Empty the target tables first, inside the same transaction.
    #[arg(long)]
    pub truncate: bool,
    /// Print the plan (tables in order, counts, generators) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Shape values like the data in this snapshot (value sets, null rates, ranges; never personal values).
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "like_db", value_parser = SnapshotRef::parse_arg)]
    pub like: Option<SnapshotRef>,
    /// Shape values like the data in this live database (read only).
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub like_db: Option<String>,
}

#[derive(Debug, Args)]
#[command(mut_arg("exclude", |a| a.help(
    "Leave out the tables this pattern matches, e.g. 'audit_*': not seeded, not saved, not restored (repeatable)"
)))]
#[command(mut_arg("factories", |a| a.help("Per-table and per-column overrides (TOML); its content is part of the key")))]
#[command(mut_arg("batch_size", |a| a.help(
    "Rows per COPY chunk / INSERT statement when seeding (not part of the key: it never changes the data)"
)))]
#[command(mut_arg("wait", |a| a.help(
    "Wait for another process saving this snapshot (then restore it), and for another bulk or restore on the database"
)))]
pub struct PrepareArgs {
    /// Name of the prepared state (e.g. baseline); its snapshots are NAME.<key>. At most 87 characters.
    pub name: String,
    #[command(flatten)]
    pub seeding: SeedingArgs,
    /// Save (and leave in the database) a slice of what bulk wrote; part of the key.
    #[command(flatten)]
    pub subset: SubsetArgs,
    /// Then keep the prepared state as a read-only template for `seed clone NAME`.
    #[arg(long)]
    pub template: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["name", "drop", "gc"])))]
pub struct CloneArgs {
    /// The template's name (the NAME of `seed prepare NAME --template`).
    pub name: Option<String>,
    /// How many fresh databases (one URL per line).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000), conflicts_with_all = ["drop", "gc"])]
    pub count: u32,
    /// Drop these clones (only databases named like seed's clones).
    #[arg(long, value_name = "URL", num_args = 1.., conflicts_with_all = ["name", "gc"])]
    pub drop: Vec<String>,
    /// Drop seed's clones of this database (and what a killed clone or rebuild left).
    #[arg(long, conflicts_with = "name")]
    pub gc: bool,
    /// With --gc: only clones older than this (from the time in their names), e.g. 1h.
    #[arg(long, value_parser = parse_duration, requires = "gc")]
    pub older_than: Option<std::time::Duration>,
    /// Wait for another caller rebuilding the template instead of exiting with code 8.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Write a snapshot of the database's data.
    #[command(
        after_help = "Examples:\n  seed snapshot create baseline --description \"after migrations\"\n  seed snapshot create small --table staffs --table offices\n  seed snapshot create baseline --force\n  seed snapshot create baseline --new-version          # baseline@2, incremental to baseline@1\n  seed snapshot create baseline --new-version --full\n  seed snapshot create nightly --base baseline@3\n  seed snapshot create store1 --subset 'customer:store_id = 1'\n  seed snapshot create sample --subset 'film:10%' --seed 7 --children-per-parent 5 --dry-run"
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
    /// Write a masked copy of a snapshot: one snapshot of the real data, masked copies for each audience.
    #[command(
        after_help = "Examples:\n  SEED_MASK_KEY=$KEY seed snapshot mask prod prod-dev --mask auto\n  seed snapshot mask prod@3 prod-vendor --mask vendor-rules.toml --mask-key-file key.txt\n  seed snapshot mask prod prod-dev --mask strict --mask-rules mask.toml --dry-run"
    )]
    Mask(MaskSnapshotArgs),
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
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
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
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
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
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
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
    /// Every --table and --schema must match a table (pg_dump's --strict-names); without it
    /// one that matches nothing is a warning, unless none matches anything.
    #[arg(long)]
    pub strict_names: bool,
    /// Replace the latest version of that name (the old one stays intact until the new one is
    /// complete); refused while another snapshot is built on it.
    #[arg(long, conflicts_with = "new_version")]
    pub force: bool,
    /// Keep the existing versions and add the next one (NAME@N+1), incremental to the
    /// latest one unless --full or --base says otherwise.
    #[arg(long)]
    pub new_version: bool,
    /// Store only what differs from this snapshot (NAME or NAME@N).
    #[arg(long, value_name = "REF", conflicts_with = "full", value_parser = SnapshotRef::parse_arg)]
    pub base: Option<SnapshotRef>,
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
    pub subset: SubsetArgs,
    /// With --subset: the seed TABLE:10% and TABLE:1000 samples hash keys with (default 42).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub mask: MaskArgs,
    /// Take [subset], [mask] and [references] from this factories file (TOML).
    #[arg(long, value_name = "FILE")]
    pub factories: Option<PathBuf>,
    /// Take the data as it is, even from a database that is not on this machine with columns that look personal.
    #[arg(long, conflicts_with = "mask")]
    pub no_mask: bool,
    /// Print what would be taken (with --subset: per table the estimated rows and why; with --mask: every
    /// column's rule and why); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// How values are masked (`snapshot create --mask`, `snapshot mask`).
#[derive(Debug, Clone, Default, Args)]
pub struct MaskArgs {
    /// Mask personal values as rows are read: auto (a rule for every column that looks personal, plus the
    /// --factories file's [mask] rules), strict (refuse while such a column has no rule), or FILE (strict, with that
    /// file's rules).
    #[arg(long, value_name = "auto|strict|FILE")]
    pub mask: Option<String>,
    /// A file holding the masking key (else SEED_MASK_KEY, then SEED_MASK_KEY_FILE); never stored.
    #[arg(long, value_name = "FILE", requires = "mask")]
    pub mask_key_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MaskSnapshotArgs {
    /// The snapshot to mask: NAME (its latest version) or NAME@N; it stays as it is.
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub source: SnapshotRef,
    /// The masked copy's name: a new snapshot (with --force, a new content for its latest version).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub target: SnapshotRef,
    #[command(flatten)]
    pub mask: MaskArgs,
    /// Take [mask] and [references] from this factories file (TOML).
    #[arg(long, value_name = "FILE")]
    pub factories: Option<PathBuf>,
    /// Replace the latest version of the target (the old one stays intact until the new one is complete).
    #[arg(long)]
    pub force: bool,
    /// Print every column's rule and why; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

/// A slice of the database instead of all of it (`snapshot create`, `prepare`).
#[derive(Debug, Clone, Default, Args)]
pub struct SubsetArgs {
    /// Take only a slice: the rows TABLE:CONDITION, TABLE:10% or TABLE:1000 picks, their
    /// children and every row they reference (repeatable).
    #[arg(long = "subset", value_name = "TABLE:ROWS")]
    pub subset: Vec<String>,
    /// With --subset: at most N children per parent row (the first N by key). Default: all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000), conflicts_with = "no_children")]
    pub children_per_parent: Option<u64>,
    /// With --subset: no children; the start rows and what they reference.
    #[arg(long)]
    pub no_children: bool,
    /// With --subset: tables no reference connects to a starting table are empty (default) or kept whole.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub unrelated: Option<UnrelatedArg>,
    /// Every row, whatever seed.toml, the factories file or a base snapshot says about a slice.
    #[arg(long, conflicts_with_all = ["subset", "children_per_parent", "no_children", "unrelated"])]
    pub no_subset: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnrelatedArg {
    Empty,
    Keep,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
    /// Empty the snapshot's tables first, inside the same transaction.
    #[arg(long)]
    pub clean: bool,
    /// With --clean: also empty the tables outside the restore whose rows reference a
    /// cleaned table (and theirs, in turn) instead of refusing; --dry-run lists them.
    #[arg(long, requires = "clean")]
    pub cascade: bool,
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
    /// Every --table and --schema must match a table (pg_dump's --strict-names); without it
    /// one that matches nothing is a warning, unless none matches anything.
    #[arg(long)]
    pub strict_names: bool,
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
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: Option<SnapshotRef>,
    /// Only the names, one a line, from file names alone (no header read): what shell
    /// completions offer.
    #[arg(long, hide = true)]
    pub names: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
    /// Compare row counts and checksums with the live database.
    #[arg(long)]
    pub against_db: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The snapshot to compare from (e.g. the older one).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name_a: SnapshotRef,
    /// The snapshot to compare with.
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name_b: SnapshotRef,
    /// Print the rows added, removed and changed, not only counts.
    #[arg(long)]
    pub rows: bool,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The snapshot: NAME (its latest version) or NAME@N (version N).
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
    /// A column with more distinct values than this gets a range or lengths, not a value set (default 20).
    #[arg(long)]
    pub max_values: Option<u64>,
    /// A value must be seen at least this often to join a set (default 5); the set needs the values kept to cover 95% of the column.
    #[arg(long)]
    pub min_count: Option<u64>,
    /// A factories file whose [profile] section sets the above and more personal columns.
    #[arg(long, env = env::FACTORIES, hide_env_values = true)]
    pub factories: Option<PathBuf>,
    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// NAME deletes every version of it; NAME@N only version N.
    #[arg(value_parser = SnapshotRef::parse_arg)]
    pub name: SnapshotRef,
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

/// For an option typed before the command it belongs to (`seed --allow-remote bulk`):
/// which commands take it and where it goes. clap's own tip names a similar global
/// option instead (`--log-format`), or one command of several.
pub fn misplaced_option_tip(e: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else { return None };
    let long = arg.strip_prefix("--")?.split('=').next()?;
    fn owners(cmd: &clap::Command, path: &str, long: &str, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            let here = format!("{path} {}", sub.get_name());
            if sub.get_arguments().any(|a| a.get_long() == Some(long) && !a.is_global_set()) {
                out.push(here.clone());
            }
            owners(sub, &here, long, out);
        }
    }
    let mut found = Vec::new();
    owners(&Cli::command(), "seed", long, &mut found);
    let first = found.first()?.clone();
    let list: Vec<String> = found.iter().map(|c| format!("`{c}`")).collect();
    Some(format!(
        "--{long} is an option of {}: put it after the command, e.g. `{first} --{long} ...`",
        match list.as_slice() {
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
            [] => String::new(),
        }
    ))
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
        assert_eq!(args.seeding.count, Some(-5));
    }

    #[test]
    fn like_takes_a_snapshot_or_a_database_not_both() {
        let cli = Cli::try_parse_from(["seed", "bulk", "--count", "5", "--like", "prod"]).unwrap();
        let Command::Bulk(args) = cli.command else { panic!("not bulk") };
        assert_eq!(args.like.map(|r| r.to_string()).as_deref(), Some("prod"));
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
        assert!(args.seeding.allow_remote);
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
        let help = Cli::command().render_help().to_string();
        let listed: Vec<&str> =
            help.lines().skip_while(|l| *l != "Exit codes:").skip(1).take_while(|l| !l.trim().is_empty()).collect();
        let expected: Vec<String> =
            crate::error::code::MEANINGS.iter().map(|m| format!("{:>5}  {}", m.code, m.short)).collect();
        assert_eq!(listed, expected, "seed --help:\n{help}");
    }

    /// The option tables of docs/configuration.md, as (flag, env, commands) rows: the global table, then
    /// the table of command options (its `commands` column).
    type CommandRow = (String, String, Vec<String>);

    fn readme_option_rows() -> (Vec<(String, String)>, Vec<CommandRow>) {
        let page = include_str!("../docs/configuration.md");
        let section = page.split("## Global options and environment").nth(1).unwrap();
        let section = section.split("\n## ").next().unwrap();
        let cells =
            |l: &str| -> Vec<String> { l.replace("\\|", "/").split('|').map(|c| c.trim().to_owned()).collect() };
        let flag = |c: &str| c.trim_matches('`').split([' ', '`', ',']).next().unwrap_or_default().to_owned();
        let (mut global, mut commands) = (Vec::new(), Vec::new());
        for l in section.lines().filter(|l| l.starts_with("| `-")) {
            let c = cells(l);
            let env = c[2].trim_matches('`').to_owned();
            if c.len() == 7 {
                let cmds = c[4].split(',').map(|x| x.trim().trim_matches('`').to_owned()).collect();
                commands.push((flag(&c[1]), env, cmds));
            } else {
                // `-q`, `--quiet`: the long form names it.
                let long = c[1].split(", ").map(flag).find(|f| f.starts_with("--")).unwrap_or_else(|| flag(&c[1]));
                global.push((long, env));
            }
        }
        (global, commands)
    }

    fn find<'c>(cmd: &'c clap::Command, path: &str) -> &'c clap::Command {
        path.split(' ').fold(cmd, |c, name| c.find_subcommand(name).unwrap_or_else(|| panic!("no command {path}")))
    }

    /// r19.6: every option docs/configuration.md lists is taken where it says: global options before
    /// and after any command, command options by exactly the commands named, each with its
    /// variable.
    #[test]
    fn r19_6_options_are_accepted_where_the_readme_shows_them() {
        let (global, commands) = readme_option_rows();
        assert!(global.len() >= 15 && commands.len() >= 3, "{global:?} {commands:?}");
        let root = Cli::command();
        for (flag, env) in &global {
            let long = flag.trim_start_matches("--");
            let arg = root.get_arguments().find(|a| a.get_long() == Some(long));
            let arg = arg.unwrap_or_else(|| {
                panic!("docs/configuration.md lists {flag} as global; seed has no such global option")
            });
            assert!(arg.is_global_set(), "{flag} is in the global table but is not global");
            if !env.is_empty() {
                assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(env.as_str()), "{flag}");
            }
            let value: &[&str] = if arg.get_action().takes_values() { &["x"] } else { &[] };
            let before: Vec<&str> =
                ["seed", flag.as_str()].into_iter().chain(value.iter().copied()).chain(["doctor"]).collect();
            let err = Cli::try_parse_from(&before).err();
            assert!(
                err.as_ref().is_none_or(|e| e.kind() != clap::error::ErrorKind::UnknownArgument),
                "seed {flag} doctor: {err:?}"
            );
        }
        // A flag may have several rows (e.g. a variable for some of its commands only):
        // the commands that take it are those of all its rows.
        let mut listed_by_flag: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
        for (flag, _, cmds) in &commands {
            listed_by_flag.entry(flag.as_str()).or_default().extend(cmds.iter().cloned());
        }
        for (flag, env, cmds) in &commands {
            let long = flag.trim_start_matches("--");
            for path in cmds {
                let cmd = find(&root, path);
                let arg = cmd.get_arguments().find(|a| a.get_long() == Some(long));
                let arg =
                    arg.unwrap_or_else(|| panic!("docs/configuration.md says `seed {path}` takes {flag}; it does not"));
                let env = (!env.is_empty()).then_some(env.as_str());
                assert_eq!(arg.get_env().and_then(|e| e.to_str()), env, "seed {path} {flag}");
            }
            let mut takers = Vec::new();
            fn walk(c: &clap::Command, path: &str, long: &str, out: &mut Vec<String>) {
                for s in c.get_subcommands() {
                    let p = if path.is_empty() { s.get_name().to_owned() } else { format!("{path} {}", s.get_name()) };
                    if s.get_arguments().any(|a| a.get_long() == Some(long)) {
                        out.push(p.clone());
                    }
                    walk(s, &p, long, out);
                }
            }
            walk(&root, "", long, &mut takers);
            takers.sort();
            let mut listed = listed_by_flag[flag.as_str()].clone();
            listed.sort();
            assert_eq!(takers, listed, "the commands that take {flag}");
        }
        let err = Cli::try_parse_from(["seed", "--allow-remote", "bulk"]).unwrap_err();
        let tip = misplaced_option_tip(&err).unwrap();
        assert!(tip.contains("`seed bulk`") && tip.contains("after the command"), "{tip}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_duration("3").unwrap().as_secs(), 3);
        assert_eq!(parse_duration("30d").unwrap().as_secs(), 30 * 86400);
        assert!(parse_duration("soon").is_err());
    }
}
