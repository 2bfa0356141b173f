//! Database URLs: parsing, the backend they select, and their one safe display form.

use std::fmt;
use std::path::PathBuf;

use crate::error::Error;
use crate::redact;

/// The embedded default when no URL is given.
pub const DEFAULT_URL: &str = "sqlite://seed.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Postgres,
    Sqlite,
}

impl DbKind {
    pub fn label(self) -> &'static str {
        match self {
            DbKind::Postgres => "postgres",
            DbKind::Sqlite => "sqlite",
        }
    }

    /// The product's name, for people: "PostgreSQL".
    pub fn product(self) -> &'static str {
        match self {
            DbKind::Postgres => "PostgreSQL",
            DbKind::Sqlite => "SQLite",
        }
    }
}

/// A parsed database URL. `Display` and `Debug` never show the password.
#[derive(Clone)]
pub struct DbUrl {
    raw: String,
    kind: DbKind,
    masked: String,
    /// `host:port/db` or the SQLite path: what audit logs and headers record.
    location: String,
    local: bool,
    sqlite_path: Option<PathBuf>,
}

impl DbUrl {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let raw = raw.trim();
        let scheme = raw.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Self::parse_postgres(raw),
            Some("sqlite") => Ok(Self::parse_sqlite(raw)),
            Some("mysql" | "mariadb") => Err(Error::usage_hint(
                format!("MySQL/MariaDB URLs are not supported yet: {}", mask_any(raw)),
                "use a postgres:// or sqlite:// URL",
            )),
            Some(other) if !other.is_empty() && !other.contains(['/', '\\', ' ']) => Err(Error::usage_hint(
                format!("unknown scheme '{other}' in database URL {}", mask_any(raw)),
                "use postgres://user@host/db or sqlite://path/to/file.db",
            )),
            _ => Err(Error::usage_hint(
                format!("'{}' is not a database URL", mask_any(raw)),
                "use postgres://user@host/db or sqlite://path/to/file.db",
            )),
        }
    }

    fn parse_postgres(raw: &str) -> Result<Self, Error> {
        let url = url::Url::parse(raw).map_err(|e| {
            Error::usage_hint(
                format!("invalid PostgreSQL URL {}: {e}", mask_any(raw)),
                "expected postgres://user:password@host:port/database",
            )
        })?;
        if let Some(password) = url.password() {
            redact::register(password);
            if let Ok(decoded) = percent_decode(password) {
                redact::register(&decoded);
            }
        }
        let mut masked_url = url.clone();
        if url.password().is_some() {
            let _ = masked_url.set_password(Some(redact::MASK));
        }
        // A password may also hide in the query string.
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if pairs.iter().any(|(k, _)| k == "password") {
            let mut q = masked_url.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                if k == "password" {
                    redact::register(v);
                    q.append_pair(k, redact::MASK);
                } else {
                    q.append_pair(k, v);
                }
            }
        }
        let host_param = pairs.iter().find(|(k, _)| k == "host").map(|(_, v)| v.clone());
        let host = url.host_str().map(str::to_owned).or(host_param).unwrap_or_default();
        let local = host.is_empty()
            || host.starts_with('/')
            || matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1" | "[::1]");
        let db = url.path().trim_start_matches('/');
        let location = match url.port() {
            Some(port) => format!("{host}:{port}/{db}"),
            None => format!("{host}/{db}"),
        };
        Ok(Self {
            raw: raw.to_owned(),
            kind: DbKind::Postgres,
            masked: masked_url.to_string(),
            location,
            local,
            sqlite_path: None,
        })
    }

    fn parse_sqlite(raw: &str) -> Self {
        let rest = raw.split_once(':').map_or("", |(_, r)| r);
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        let path = if path.is_empty() || path == ":memory:" { None } else { Some(PathBuf::from(path)) };
        Self {
            raw: raw.to_owned(),
            kind: DbKind::Sqlite,
            masked: raw.to_owned(),
            location: path.as_ref().map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string()),
            local: true,
            sqlite_path: path,
        }
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }
    /// The URL with its password; only for handing to the driver.
    pub fn expose(&self) -> &str {
        &self.raw
    }
    /// `host:port/db` (PostgreSQL) or the file path (SQLite), without credentials.
    pub fn location(&self) -> &str {
        &self.location
    }
    /// True for SQLite and for PostgreSQL on localhost or a Unix socket.
    pub fn is_local(&self) -> bool {
        self.local
    }
    pub fn sqlite_path(&self) -> Option<&PathBuf> {
        self.sqlite_path.as_ref()
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({})", self.masked)
    }
}

fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes)
}

/// Best-effort masking for strings that failed to parse: hide `user:secret@`.
fn mask_any(raw: &str) -> String {
    let masked = match (raw.find("://"), raw.rfind('@')) {
        (Some(start), Some(at)) if at > start + 3 => {
            let creds = &raw[start + 3..at];
            match creds.split_once(':') {
                Some((user, secret)) => {
                    redact::register(secret);
                    format!("{}{user}:{}{}", &raw[..start + 3], redact::MASK, &raw[at..])
                }
                None => raw.to_owned(),
            }
        }
        _ => raw.to_owned(),
    };
    redact::scrub(&masked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_password_is_masked() {
        let url = DbUrl::parse("postgres://app:hunter2@db.example.com:5433/app_test").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db.example.com:5433/app_test");
        assert_eq!(format!("{url:?}"), "DbUrl(postgres://app:***@db.example.com:5433/app_test)");
        assert_eq!(url.location(), "db.example.com:5433/app_test");
        assert!(!url.is_local());
        assert_eq!(url.kind(), DbKind::Postgres);
    }

    #[test]
    fn query_password_is_masked() {
        let url = DbUrl::parse("postgresql://localhost/app?password=topsecret&sslmode=disable").unwrap();
        assert!(!url.to_string().contains("topsecret"));
        assert!(url.is_local());
    }

    #[test]
    fn sqlite_forms() {
        let url = DbUrl::parse("sqlite://seed.db").unwrap();
        assert_eq!(url.sqlite_path().unwrap(), &PathBuf::from("seed.db"));
        let url = DbUrl::parse("sqlite:///tmp/x.db?mode=rwc").unwrap();
        assert_eq!(url.sqlite_path().unwrap(), &PathBuf::from("/tmp/x.db"));
        assert!(url.is_local());
    }

    #[test]
    fn bad_urls() {
        for bad in ["http://x", "mysql://u:p@h/db", "nonsense", "", "postgres://u:p@[bad/db"] {
            let err = DbUrl::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(!err.to_string().contains(":p@"), "{err}");
        }
    }
}
