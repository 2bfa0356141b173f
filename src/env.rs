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
/// `seed.toml` elsewhere (same as `--config`).
pub const CONFIG: &str = "SEED_CONFIG";
pub const FACTORIES: &str = "SEED_FACTORIES";
/// The masking key itself (`snapshot create --mask`, `snapshot mask`); never stored.
pub const MASK_KEY: &str = "SEED_MASK_KEY";
/// A file holding the masking key (the same as `--mask-key-file`).
pub const MASK_KEY_FILE: &str = "SEED_MASK_KEY_FILE";

/// A boolean environment value: 1/0, true/false, yes/no, on/off in any case;
/// empty means unset (false). Also the parser behind boolean flags.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" | "off" | "n" | "f" => Ok(false),
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        other => Err(format!("'{other}' is not a boolean (use 1/0, true/false, yes/no or on/off)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        for v in ["1", "true", "TRUE", "Yes", "on", " ON "] {
            assert_eq!(parse_bool(v), Ok(true), "{v}");
        }
        for v in ["", "0", "false", "False", "no", "OFF"] {
            assert_eq!(parse_bool(v), Ok(false), "{v}");
        }
        assert!(parse_bool("maybe").is_err());
    }
}
