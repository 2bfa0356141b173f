//! The one error type: `exit_code` maps each condition to a code of [`code::MEANINGS`]
//! (the one table `--help`, the man page and docs/exit-codes.md come from), `hint`
//! says what to try next.

use std::path::PathBuf;
use std::time::Duration;

/// Exit codes, one per failure class.
pub mod code {
    /// What an exit code means: a line for `seed --help` and the man page (`short`), and
    /// the documented table's row (`long`, docs/exit-codes.md).
    #[derive(Debug, Clone, Copy)]
    pub struct Meaning {
        pub code: u8,
        pub short: &'static str,
        pub long: &'static str,
    }

    /// Declares each code with what it means, so no code exists undocumented.
    macro_rules! exit_codes {
        ($($name:ident = $code:literal, $short:literal, $long:literal;)*) => {
            $(pub const $name: u8 = $code;)*
            /// Every exit code, in order: the one source of `--help`, the man page and the
            /// documented table (tests run seed into each code and compare docs/exit-codes.md).
            pub const MEANINGS: &[Meaning] = &[$(Meaning { code: $code, short: $short, long: $long }),*];
        };
    }

    exit_codes! {
        OK = 0, "success",
            "success";
        INTERNAL = 1, "unexpected internal or I/O error",
            "unexpected internal or I/O error";
        USAGE = 2, "usage: bad arguments, URL, config file, snapshot name, factories file, unknown table",
            "usage: bad arguments, URL, config file (seed.toml), snapshot name, factories file, unknown table or column named by `--table`/`--exclude` or the factories file, a snapshot directory that is a file (or, for `list`, a named one that does not exist), a bucket that does not exist, an unsupported `--snapshot-dir` scheme or a plain-http endpoint off this machine";
        CONNECTION = 3, "connection: cannot connect, authentication failed, connection lost, store unreachable",
            "connection: cannot connect, authentication failed, unknown database, connection lost, a snapshot store that cannot be reached, fails or stops answering";
        DATA = 4, "data: constraint violation, invalid value, a generator cannot satisfy a rule",
            "data: constraint violation, invalid value, a generator cannot satisfy a rule";
        SCHEMA = 5, "schema: no tables, schema mismatch, restore pre-flight failed",
            "schema: no tables to seed, schema mismatch, a foreign-key cycle bulk cannot load, restore pre-flight failed";
        SNAPSHOT_MISSING = 6, "snapshot (or version, base, or clone template) missing, or already exists",
            "snapshot missing (the name, or the version `NAME@N` named), template missing (`seed clone NAME` before `seed prepare NAME --template`), base missing (a snapshot an incremental one is built on is not there), or already exists (without `--force` or `--new-version`)";
        SNAPSHOT_CORRUPT = 7, "snapshot corrupt, failed verification, or a base altered",
            "snapshot corrupt (including an altered header or one over the limits), failed verification, base altered (an incremental snapshot's base no longer holds what it was taken against), or unsupported (newer) format or row format";
        LOCK_HELD = 8, "lock held by another seed process (or someone connected to a template)",
            "lock held (another seed process has the snapshot or the database, or is rebuilding a template; someone is connected to a PostgreSQL template or, for a rebuild, its source)";
        DISK_SPACE = 9, "not enough disk space",
            "not enough disk space (checked up front, or ENOSPC/EFBIG while writing)";
        TIMEOUT = 10, "statement timeout",
            "statement timeout";
        PERMISSION = 11, "permission denied (a store's credentials too)",
            "permission denied (including a snapshot store refusing or missing credentials)";
        DIFFERENCES = 12, "differences found (verify --against-db, diff)",
            "differences found (`snapshot verify --against-db`, `snapshot diff`)";
        DEPENDENTS = 13, "other snapshots are built on it (delete, prune, create --force)",
            "dependents: other snapshots are built on the version to delete, prune or replace (`--force`); refused, naming them (`--rebase-dependents` folds it into them for `delete` and `prune`)";
        INTERRUPTED = 130, "interrupted: rolled back, temp files removed, locks released",
            "interrupted (SIGINT/SIGTERM): rolled back, temp files removed, locks released";
    }

    /// The exit codes as `seed --help` and the man page list them.
    pub fn help_lines() -> String {
        MEANINGS.iter().map(|m| format!("{:>5}  {}", m.code, m.short)).collect::<Vec<_>>().join("\n")
    }
}

/// Which kind of integrity rule a row broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    ForeignKey,
    Unique,
    NotNull,
    Check,
    Length,
    Exclusion,
    Partition,
    InvalidValue,
}

impl Violation {
    pub fn label(self) -> &'static str {
        match self {
            Violation::ForeignKey => "foreign key violation",
            Violation::Unique => "unique violation",
            Violation::NotNull => "not-null violation",
            Violation::Check => "check constraint violation",
            Violation::Length => "value too long",
            Violation::Exclusion => "exclusion constraint violation",
            Violation::Partition => "no partition for row",
            Violation::InvalidValue => "invalid value",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },

    #[error("{file}:{line}: {message}")]
    Config { file: PathBuf, line: usize, message: String },

    /// Several mistakes found in one pass over a file, each `file:line: message`: all
    /// reported at once, so fixing one does not merely reveal the next.
    #[error("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Configs { problems: Vec<Error> },

    #[error("could not connect to {url} ({class}) after {}\n{reason}", crate::human::plural(u64::from(*attempts), "attempt", "attempts"))]
    Connect { url: String, class: &'static str, attempts: u32, reason: String, help: Box<ConnectHelp> },

    #[error("lost the connection to the database while {step}\n{reason}")]
    ConnectionLost { step: String, reason: String },

    #[error("{0}")]
    Constraint(Box<ConstraintViolation>),

    #[error("bad data while {step}: {reason}")]
    Data { step: String, reason: String },

    #[error("cannot generate data for {table}: {reason}")]
    Generation { table: String, reason: String, hint: Option<String> },

    #[error("{message}")]
    Schema { message: String, hint: Option<String> },

    #[error("no snapshot named '{name}' in {}", dir.display())]
    SnapshotMissing { name: String, dir: PathBuf },

    #[error("a snapshot named '{name}' already exists in {}", dir.display())]
    SnapshotExists { name: String, dir: PathBuf },

    #[error("snapshot {} is corrupt: {reason}", path.display())]
    SnapshotCorrupt { path: PathBuf, reason: String },

    /// An incremental snapshot's base is not there.
    #[error("snapshot '{base}', the base of '{dependent}', is missing{}", if chain.is_empty() { String::new() } else { format!(" (chain: {chain})") })]
    BaseMissing { base: String, dependent: String, chain: String },

    /// An incremental snapshot's base is there, but holds other data than when the
    /// incremental one was taken.
    #[error("snapshot '{base}' ({}) is not the base '{dependent}' was taken against: its content changed since", path.display())]
    BaseAltered { base: String, dependent: String, path: PathBuf },

    /// A snapshot other versions are built on, about to be deleted or replaced.
    #[error("{action} '{target}': {} based on it: {}", crate::human::plural(dependents.len() as u64, "snapshot is", "snapshots are"), dependents.join(", "))]
    HasDependents { action: String, target: String, dependents: Vec<String>, hint: String },

    /// `seed clone NAME` without the template `seed prepare NAME --template` keeps.
    #[error("there is no template '{name}' for {database} (looked for {template})")]
    TemplateMissing { name: String, database: String, template: String },

    #[error("{resource} is locked{}", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
    LockHeld { resource: String, holder: Option<String>, hint: String },

    #[error("not enough disk space in {}: {reason}", path.display())]
    DiskSpace { path: PathBuf, reason: String },

    #[error("statement timed out{} while {step}", if timeout.is_zero() { String::new() } else { format!(" after {}", humantime::format_duration(*timeout)) })]
    Timeout { step: String, timeout: Duration },

    #[error("permission denied: {what}\n{reason}")]
    Permission { what: String, reason: String, hint: Option<String> },

    #[error("{summary}")]
    Differences { summary: String },

    #[error("health check '{check}' failed: {detail}")]
    Unhealthy { check: String, detail: String, code: u8 },

    #[error("interrupted; everything was rolled back and nothing was written")]
    Interrupted,

    #[error("database error while {step}: {message}")]
    Database { step: String, message: String, transient: bool, sqlstate: Option<String> },

    #[error("{op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },

    /// A snapshot store (bucket) could not be reached or answered with an error.
    #[error("the snapshot store {location} failed while {step}: {reason}")]
    Store { location: String, step: String, reason: String },

    /// The store went silent (no answer within the deadlines): asking again within
    /// this command would only wait again, so nothing retries it.
    #[error("the snapshot store {location} stopped answering while {step}: {reason}")]
    StoreStopped { location: String, step: String, reason: String },

    #[error("{0}")]
    Internal(String),
}

/// Where a connection's settings came from, so a hint names the one to fix and the
/// tool for that kind of database.
#[derive(Debug, Clone, Default)]
pub struct ConnectHelp {
    /// `postgres`, `mysql` or `sqlite`.
    pub kind: &'static str,
    /// Where the address came from, in words: `DATABASE_URL in .env`, `the libpq
    /// environment (PGHOST, PGUSER)`, `seed.toml:2`, `default`.
    pub origin: String,
    /// Where the password came from (servers): `the URL`, `PGPASSWORD`, `~/.pgpass`, or
    /// a sentence saying none was given.
    pub password: Option<String>,
    pub user: String,
    /// The database's name (servers) or file path (SQLite).
    pub database: String,
}

/// The next thing to try after a failed connection, by kind and class of failure.
fn connect_hint(class: &str, h: &ConnectHelp) -> String {
    let (kind, origin, db, user) = (h.kind, h.origin.as_str(), h.database.as_str(), h.user.as_str());
    let password = h.password.as_deref().unwrap_or("the URL");
    match (kind, class) {
        ("sqlite", "directory does not exist") => {
            let dir = std::path::Path::new(db).parent().map(|p| p.display().to_string()).unwrap_or_default();
            format!("create the directory first (mkdir -p {dir}) or fix the path in {origin}")
        }
        ("sqlite", "no such database file") => format!(
            "fix the path in {origin}: seed opens an existing SQLite file (it creates only its default, ./seed.db, with the demo schema)"
        ),
        ("sqlite", "not a database") => format!("{db} is not a SQLite database: fix the path in {origin}"),
        ("sqlite", _) => format!("check the path {db} (from {origin}) and its directory"),
        (_, "authentication failed") => format!(
            "the server refused user '{user}': check the user name (from {origin}) and the password ({password})"
        ),
        ("postgres", "database does not exist") => {
            format!("create it (createdb {db}, or CREATE DATABASE in psql) or fix the database name in {origin}")
        }
        ("mysql", "database does not exist") => format!(
            "create it (mariadb -e 'CREATE DATABASE `{db}`', or mysql on MySQL) or fix the database name in {origin}"
        ),
        ("mysql", "no access to the database") => format!(
            "MariaDB and MySQL say this both when '{db}' does not exist and when user '{user}' may not use it: create it (CREATE DATABASE `{db}`) or grant it (GRANT SELECT, INSERT, DELETE ON `{db}`.* TO '{user}'), or fix the name in {origin}"
        ),
        ("postgres", "permission denied") => format!(
            "user '{user}' may not connect to database '{db}': GRANT CONNECT ON DATABASE {db} TO {user} (in psql), or fix the URL in {origin}"
        ),
        (_, "host not allowed") => format!(
            "the server does not accept user '{user}' from this machine: create the user for this host, or fix the URL in {origin}"
        ),
        (_, "TLS error") => format!("check the TLS options (sslmode / ssl-mode) of the URL in {origin}"),
        (_, "invalid connection settings") => format!("check the URL in {origin}"),
        _ => format!(
            "is the server running and reachable at the address from {origin}? `seed doctor` checks the connection; raise --retry-max-attempts (SEED_RETRY_MAX_ATTEMPTS) for a server that is still starting"
        ),
    }
}

/// A row broke an integrity rule: where, which rule, and the server's own words.
#[derive(Debug)]
pub struct ConstraintViolation {
    pub kind: Violation,
    pub table: Option<String>,
    pub constraint: Option<String>,
    pub column: Option<String>,
    pub batch: Option<u64>,
    pub row: Option<u64>,
    pub step: String,
    pub detail: String,
}

impl std::fmt::Display for ConstraintViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.label())?;
        if let Some(c) = &self.constraint {
            write!(f, " on constraint \"{c}\"")?;
        }
        if let Some(t) = &self.table {
            write!(f, " in table {t}")?;
        }
        match (self.batch, self.row) {
            (Some(b), Some(r)) => write!(f, " (batch {b}, row {r})")?,
            (None, Some(r)) => write!(f, " (row {r})")?,
            (Some(b), None) => write!(f, " (batch {b})")?,
            (None, None) => {}
        }
        if !self.step.is_empty() {
            write!(f, " while {}", self.step)?;
        }
        Ok(())
    }
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), hint: None }
    }

    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }

    /// All of `problems` (`Config` errors of one file) as one error, in line order; one
    /// problem is itself.
    pub fn configs(mut problems: Vec<Error>) -> Self {
        let line = |e: &Error| match e {
            Error::Config { line, .. } => *line,
            _ => usize::MAX,
        };
        problems.sort_by_key(line);
        match problems.len() {
            1 => problems.remove(0),
            _ => Error::Configs { problems },
        }
    }

    pub fn schema(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Schema { message: message.into(), hint: Some(hint.into()) }
    }

    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        // A reader passing on one of our own errors (a store's, through `Read`): keep it.
        if source.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return match source.into_inner().map(|i| i.downcast::<Error>()) {
                Some(Ok(inner)) => *inner,
                _ => Error::Internal(format!("{op}: lost an error")),
            };
        }
        let path = path.into();
        match source.raw_os_error() {
            Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT) => {
                Error::DiskSpace { path, reason: format!("{op} failed: {source}") }
            }
            Some(libc::EACCES | libc::EPERM | libc::EROFS) => Error::Permission {
                what: format!("{op} {}", path.display()),
                reason: source.to_string(),
                hint: Some("check the owner and mode of the file or directory".into()),
            },
            _ => Error::Io { op, path, source },
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } | Error::Config { .. } | Error::Configs { .. } => code::USAGE,
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Store { .. } | Error::StoreStopped { .. } => {
                code::CONNECTION
            }
            Error::Constraint(_) | Error::Generation { .. } | Error::Data { .. } => code::DATA,
            Error::Schema { .. } => code::SCHEMA,
            Error::SnapshotMissing { .. } | Error::SnapshotExists { .. } | Error::TemplateMissing { .. } => {
                code::SNAPSHOT_MISSING
            }
            Error::SnapshotCorrupt { .. } | Error::BaseAltered { .. } => code::SNAPSHOT_CORRUPT,
            Error::BaseMissing { .. } => code::SNAPSHOT_MISSING,
            Error::HasDependents { .. } => code::DEPENDENTS,
            Error::LockHeld { .. } => code::LOCK_HELD,
            Error::DiskSpace { .. } => code::DISK_SPACE,
            Error::Timeout { .. } => code::TIMEOUT,
            Error::Permission { .. } => code::PERMISSION,
            Error::Differences { .. } => code::DIFFERENCES,
            Error::Unhealthy { code, .. } => *code,
            Error::Interrupted => code::INTERRUPTED,
            Error::Database { sqlstate, .. } => match sqlstate.as_deref().and_then(|s| s.get(..2)) {
                // data exceptions and integrity violations are the user's data
                Some("22" | "23") => code::DATA,
                Some("42") => code::SCHEMA,
                _ => code::INTERNAL,
            },
            Error::Io { .. } | Error::Internal(_) => code::INTERNAL,
        }
    }

    /// The next thing to try.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. } | Error::Schema { hint, .. } | Error::Generation { hint, .. } => hint.clone(),
            Error::Permission { hint, .. } => hint.clone(),
            Error::Config { .. } | Error::Configs { .. } => Some("fix the factories file; `seed bulk --dry-run` shows the plan it produces".into()),
            Error::Connect { class, help, .. } => Some(connect_hint(class, help)),
            Error::ConnectionLost { .. } => Some("the transaction was rolled back; run the command again (transient failures are retried up to --retry-max-attempts)".into()),
            Error::Store { .. } => Some("is the store reachable (AWS_ENDPOINT_URL, the network)? `seed doctor` checks it; nothing is ever published half-way, and a failed restore is rolled back".into()),
            Error::StoreStopped { .. } => Some("the store accepted the connection but sent nothing back: is its server stopped or overloaded, or a proxy stuck? Nothing was published half-way, and a failed restore is rolled back; run the command again once `seed doctor` reaches the store".into()),
            Error::Constraint(v) => Some(constraint_hint(v.kind, v.table.as_deref(), v.column.as_deref())),
            Error::SnapshotMissing { .. } => Some("`seed snapshot list` shows the snapshots there; --snapshot-dir picks another directory".into()),
            Error::SnapshotExists { .. } => Some("pass --force to replace it (the old one stays intact until the new one is complete), or pick another name".into()),
            Error::SnapshotCorrupt { .. } => Some("the file cannot be trusted; restore another snapshot or take a new one".into()),
            Error::BaseMissing { .. } => Some("an incremental snapshot cannot be rebuilt without every snapshot below it: bring the missing version back (e.g. `seed snapshot pull`), or restore another snapshot; `seed snapshot list NAME` shows the versions there".into()),
            Error::BaseAltered { .. } => Some("the base was replaced or edited after this snapshot was taken; restore another snapshot, or take a new one with --full".into()),
            Error::LockHeld { hint, .. } | Error::HasDependents { hint, .. } => Some(hint.clone()),
            Error::TemplateMissing { name, .. } => Some(format!(
                "keep one first: `seed prepare {name} --template [bulk options]` against the same database"
            )),
            Error::DiskSpace { .. } => Some("free some space, point --snapshot-dir at a larger disk, or `seed snapshot prune`".into()),
            Error::Timeout { .. } => Some("raise --statement-timeout (SEED_STATEMENT_TIMEOUT) or lower --count / --batch-size (a timeout is retried once, never more)".into()),
            Error::Interrupted => None,
            Error::Data { .. } => Some("the rows could not be read or written as they are: check the values named above (a snapshot from another database kind or version, or data the column type rejects)".into()),
            Error::Database { transient: true, .. } => Some("this looks transient; run the command again".into()),
            Error::Unhealthy { .. } => Some("`seed doctor` lists every check; fix the one named above".into()),
            _ => None,
        }
    }

    /// Transient failures retry the whole transaction; nothing else does.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::Store { .. } => true,
            Error::Database { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The server's SQLSTATE, for errors that kept it.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Database { sqlstate, .. } => sqlstate.as_deref(),
            _ => None,
        }
    }

    /// Server detail kept under the translated message.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Constraint(v) if !v.detail.is_empty() => Some(&v.detail),
            _ => None,
        }
    }
}

fn constraint_hint(kind: Violation, table: Option<&str>, column: Option<&str>) -> String {
    let col = match (table, column) {
        (Some(t), Some(c)) => format!("{t}.{c}"),
        (None, Some(c)) => c.to_owned(),
        _ => "the column".to_owned(),
    };
    match kind {
        Violation::ForeignKey => "a row references a row that is not there: when loading only some tables, load the tables they reference too (--table); when emptying tables (--clean, --truncate), empty the tables that still reference them too (--table them, or --cascade); `--dry-run` checks both before anything is written".into(),
        Violation::Unique => format!("values of {col} collide with rows already there: use --truncate (bulk) or --clean (restore), or give {col} a unique generator in the factories file"),
        Violation::NotNull => format!("{col} needs a value: give it a generator or a constant in the factories file"),
        Violation::Check => format!("the generated value breaks the check: set a generator, list or constant for {col} in the factories file"),
        Violation::Length => format!("the value is longer than {col} allows: use a shorter template or list in the factories file"),
        Violation::Exclusion => "rows overlap under an exclusion constraint: generate that table with a factories file".into(),
        Violation::Partition => format!("no partition accepts the value of {col}: add a partition or set a generator for {col} in the factories file"),
        Violation::InvalidValue => format!("the value does not fit the type of {col}: set a generator for it in the factories file"),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// The words of the documented exit-code table (docs/exit-codes.md) that describe `e`'s class. The match is
    /// exhaustive: a new variant does not compile until it says where it belongs.
    fn readme_words(e: &Error) -> &'static str {
        match e {
            Error::Usage { .. } | Error::Config { .. } | Error::Configs { .. } => "usage",
            Error::Connect { .. } | Error::ConnectionLost { .. } | Error::Store { .. } | Error::StoreStopped { .. } => {
                "connection"
            }
            Error::Constraint(_) | Error::Generation { .. } | Error::Data { .. } => "data",
            Error::Schema { .. } => "schema",
            Error::SnapshotMissing { .. } | Error::TemplateMissing { .. } => "snapshot missing",
            Error::SnapshotExists { .. } => "already exists",
            Error::SnapshotCorrupt { .. } => "snapshot corrupt",
            Error::BaseMissing { .. } => "base missing",
            Error::BaseAltered { .. } => "base altered",
            Error::HasDependents { .. } => "dependents",
            Error::LockHeld { .. } => "lock held",
            Error::DiskSpace { .. } => "disk space",
            Error::Timeout { .. } => "timeout",
            Error::Permission { .. } => "permission denied",
            Error::Differences { .. } => "differences",
            // doctor exits with the class of its first failing check (a connection one here)
            Error::Unhealthy { .. } => "connection",
            Error::Interrupted => "interrupted",
            Error::Database { sqlstate, .. } => match sqlstate.as_deref() {
                Some("23505") => "data",
                Some("42P01") => "schema",
                _ => "internal",
            },
            Error::Io { .. } | Error::Internal(_) => "internal",
        }
    }

    fn samples() -> Vec<Error> {
        let db = |state: Option<&str>| Error::Database {
            step: "loading t".into(),
            message: "m".into(),
            transient: false,
            sqlstate: state.map(str::to_owned),
        };
        vec![
            Error::usage("bad flag"),
            Error::Config { file: "f.toml".into(), line: 3, message: "unknown key".into() },
            Error::configs(vec![
                Error::Config { file: "f.toml".into(), line: 5, message: "unknown column".into() },
                Error::Config { file: "f.toml".into(), line: 3, message: "unknown key".into() },
            ]),
            Error::Connect {
                url: "postgres://h/db".into(),
                class: "connection refused",
                attempts: 2,
                reason: "r".into(),
                help: Box::default(),
            },
            Error::ConnectionLost { step: "loading t".into(), reason: "reset".into() },
            Error::Store { location: "s3://b/p".into(), step: "reading".into(), reason: "connection refused".into() },
            Error::StoreStopped {
                location: "s3://b/p".into(),
                step: "reading".into(),
                reason: "no answer for 20s".into(),
            },
            Error::Constraint(Box::new(ConstraintViolation {
                kind: Violation::Unique,
                table: Some("t".into()),
                constraint: Some("t_pkey".into()),
                column: None,
                batch: Some(1),
                row: Some(2),
                step: "loading t".into(),
                detail: String::new(),
            })),
            Error::Generation { table: "t".into(), reason: "too few values".into(), hint: None },
            Error::Data { step: "reading t".into(), reason: "row 2: not UTF-8".into() },
            Error::schema("no such table", "run your migrations"),
            Error::SnapshotMissing { name: "a".into(), dir: "snaps".into() },
            Error::TemplateMissing { name: "ci".into(), database: "h/db".into(), template: "db_seed_ci_tpl".into() },
            Error::SnapshotExists { name: "a".into(), dir: "snaps".into() },
            Error::SnapshotCorrupt { path: "a.seed.gz".into(), reason: "truncated".into() },
            Error::BaseMissing { base: "a@1".into(), dependent: "a@2".into(), chain: "a@2 -> a@1".into() },
            Error::BaseAltered { base: "a@1".into(), dependent: "a@2".into(), path: "a.seed.gz".into() },
            Error::HasDependents {
                action: "cannot delete".into(),
                target: "a@1".into(),
                dependents: vec!["a@2".into()],
                hint: "--rebase-dependents".into(),
            },
            Error::LockHeld { resource: "snapshot a".into(), holder: None, hint: "wait".into() },
            Error::DiskSpace { path: "snaps".into(), reason: "full".into() },
            Error::Timeout { step: "loading t".into(), timeout: Duration::from_secs(1) },
            Error::Permission { what: "opening x".into(), reason: "EACCES".into(), hint: None },
            Error::Differences { summary: "2 tables differ".into() },
            Error::Unhealthy { check: "connection".into(), detail: "refused".into(), code: code::CONNECTION },
            Error::Interrupted,
            db(Some("23505")),
            db(Some("42P01")),
            db(None),
            Error::Io { op: "reading", path: "x".into(), source: std::io::Error::other("boom") },
            Error::Internal("bug".into()),
        ]
    }

    /// r19.10: a connection hint names where the wrong setting came from and the tool
    /// of the database kind at hand, never another kind's.
    #[test]
    fn connection_hints_name_the_source_and_the_right_tool() {
        let help = |kind: &'static str, password: Option<&str>| ConnectHelp {
            kind,
            origin: "the libpq environment (PGHOST, PGUSER)".into(),
            password: password.map(str::to_owned),
            user: "app".into(),
            database: if kind == "sqlite" { "/missing/dir/x.db".into() } else { "shop".into() },
        };
        let pg_auth = connect_hint("authentication failed", &help("postgres", Some("PGPASSWORD")));
        assert!(pg_auth.contains("PGPASSWORD") && pg_auth.contains("libpq") && !pg_auth.contains("DATABASE_URL"));
        let pg_db = connect_hint("database does not exist", &help("postgres", None));
        assert!(pg_db.contains("createdb shop"), "{pg_db}");
        let my_db = connect_hint("database does not exist", &help("mysql", None));
        assert!(my_db.contains("CREATE DATABASE") && !my_db.contains("createdb"), "{my_db}");
        let my_denied = connect_hint("no access to the database", &help("mysql", None));
        assert!(my_denied.contains("GRANT") && !my_denied.contains("server running"), "{my_denied}");
        let dir = connect_hint("directory does not exist", &help("sqlite", None));
        assert!(dir.contains("mkdir -p /missing/dir") && !dir.contains("server"), "{dir}");
        for class in ["connection refused", "timed out", "server starting up"] {
            let h = connect_hint(class, &help("postgres", None));
            assert!(h.contains("server running") && h.contains("PGHOST"), "{h}");
        }
    }

    /// r15.2: every variant's exit code is the documented code (docs/exit-codes.md) for its class, and its
    /// message is a sentence with something in it.
    #[test]
    fn every_exit_code_matches_the_readme_table() {
        let page = include_str!("../docs/exit-codes.md");
        let table = page.split("| code | meaning |").nth(1).expect("docs/exit-codes.md has the exit-code table");
        let rows: Vec<(u8, String)> = table
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                Some((cells.get(1)?.parse().ok()?, cells.get(2)?.to_lowercase()))
            })
            .collect();
        for e in samples() {
            let code = e.exit_code();
            let (_, meaning) = rows
                .iter()
                .find(|(c, _)| *c == code)
                .unwrap_or_else(|| panic!("exit code {code} of {e:?} is not in the table of docs/exit-codes.md"));
            let words = readme_words(&e);
            assert!(meaning.contains(words), "{e:?} exits {code} ({meaning}), but it is a {words} error");
            let text = e.to_string();
            assert!(!text.trim().is_empty() && !text.contains("{}"), "{e:?} prints {text:?}");
        }
    }
}
