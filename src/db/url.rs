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
        let invalid = |why: &str| {
            Error::usage_hint(
                format!("invalid PostgreSQL URL {}: {why}", redact::mask_url(raw)),
                "expected postgres://user@host:port/database, with the password after the user name \
                 (user:password@host); percent-encode special characters in the password ('@' as %40, '#' as %23, '/' as %2F, '?' as %3F, ':' as %3A)",
            )
        };
        let (scheme, rest) = raw.split_once(':').unwrap_or((raw, ""));
        let Some(body) = rest.strip_prefix("//") else {
            return Err(invalid(&format!("'//' is missing after '{scheme}:'")));
        };
        if body.contains('#') {
            return Err(invalid("it holds an unencoded '#' (a password character?)"));
        }
        // The host ends at the first '/' or '?'; an '@' after that means a password
        // with an unencoded '/', '?' or '@' was split in the wrong place.
        let authority_end = body.find(['/', '?']).unwrap_or(body.len());
        if body[authority_end..].contains('@') {
            return Err(invalid("it holds an '@' after the host (an unencoded '/', '?' or '@' in the password?)"));
        }
        let url = url::Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
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

/// `%XX` sequences decoded (a literal `+` stays a `+`, as in a URL's userinfo).
fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

/// Masking for strings that failed to parse: by structure, never by search.
fn mask_any(raw: &str) -> String {
    redact::mask_url(raw)
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

    #[test]
    fn malformed_urls_are_rejected_showing_only_the_masked_form() {
        for (bad, shown) in [
            ("postgres:user:S3cr3t@host:5432/db", "postgres:user:***@host:5432/db"),
            ("postgres://app:p@ss#w0rd@host/db", "postgres://app:***@host/db"),
            ("postgres://app:12/ss@host/db", "postgres://app:***@host/db"),
            ("postgres://app:1?a=ss@host/db", "postgres://app:***@host/db"),
            ("postgresql:app:pw@host/db", "postgresql:app:***@host/db"),
        ] {
            let err = DbUrl::parse(bad).unwrap_err();
            let text = format!("{err} {}", err.hint().unwrap_or_default());
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(text.contains(shown), "{bad}: {text}");
            for secret in ["S3cr3t", "w0rd", "ss@", ":pw@", "12/ss"] {
                assert!(!text.contains(secret), "{bad} leaked {secret}: {text}");
            }
        }
    }

    #[test]
    fn passwords_with_encoded_specials_parse() {
        let url = DbUrl::parse("postgres://app:p%40ss%23w0rd@host/db").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@host/db");
        // A raw '@' inside the userinfo is legal: the last one ends it.
        let url = DbUrl::parse("postgres://app:p@ss@host/db").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@host/db");
        assert_eq!(url.location(), "host/db");
        assert_eq!(percent_decode("a+b%2F%zz").unwrap(), "a+b/%zz");
    }
}
