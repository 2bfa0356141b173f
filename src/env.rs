//! Every environment variable `seed` reads, in one place.

pub const DATABASE_URL: &str = "DATABASE_URL";
pub const DIRECT_URL: &str = "DIRECT_URL";
pub const SNAPSHOT_DIR: &str = "SEED_SNAPSHOT_DIR";
pub const LOG_FORMAT: &str = "SEED_LOG_FORMAT";
/// tracing filter directives, e.g. `SEED_LOG=seed=debug`; overrides `-v`.
pub const LOG: &str = "SEED_LOG";
pub const RETRY_MAX_ATTEMPTS: &str = "SEED_RETRY_MAX_ATTEMPTS";
pub const RETRY_BASE_DELAY: &str = "SEED_RETRY_BASE_DELAY";
pub const RETRY_MAX_DELAY: &str = "SEED_RETRY_MAX_DELAY";
pub const CONNECT_TIMEOUT: &str = "SEED_CONNECT_TIMEOUT";
pub const STATEMENT_TIMEOUT: &str = "SEED_STATEMENT_TIMEOUT";
pub const ALLOW_REMOTE: &str = "SEED_ALLOW_REMOTE";
pub const NO_PROGRESS: &str = "SEED_NO_PROGRESS";
pub const COMPRESSION_LEVEL: &str = "SEED_COMPRESSION_LEVEL";
