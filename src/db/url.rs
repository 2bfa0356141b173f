//! Database URLs: parsing, the backend they select, and their one safe display form.

use std::fmt;
use std::path::PathBuf;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::db::postgres::libpq::{PgEnv, Target};
use crate::error::Error;
use crate::redact;

/// The embedded default when no URL is given.
pub const DEFAULT_URL: &str = "sqlite://seed.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    Postgres,
    Sqlite,
    Mysql,
}

impl DbKind {
    pub fn label(self) -> &'static str {
        match self {
            DbKind::Postgres => "postgres",
            DbKind::Sqlite => "sqlite",
            DbKind::Mysql => "mysql",
        }
    }

    /// The database template work (`seed clone`) connects to when it must not be the
    /// source: PostgreSQL cannot copy or drop a database its caller is connected to.
    /// Every server has `postgres`, and any role may connect to it by default.
    pub fn maintenance_database(self) -> Option<&'static str> {
        match self {
            DbKind::Postgres => Some("postgres"),
            DbKind::Sqlite | DbKind::Mysql => None,
        }
    }

    /// The product's name, for people: "PostgreSQL".
    pub fn product(self) -> &'static str {
        match self {
            DbKind::Postgres => "PostgreSQL",
            DbKind::Sqlite => "SQLite",
            DbKind::Mysql => "MySQL/MariaDB",
        }
    }
}

/// A parsed database URL, with the libpq environment applied. `Display` and `Debug`
/// never show the password.
#[derive(Clone)]
pub struct DbUrl {
    /// What the driver gets: every part explicit, password included.
    driver: String,
    kind: DbKind,
    masked: String,
    /// `host:port/db` or the SQLite path: what audit logs and headers record.
    location: String,
    /// PostgreSQL: the host or address connected to; `None` is the driver's default
    /// (a local Unix socket, else localhost).
    connect_host: Option<String>,
    port: Option<u16>,
    sqlite_path: Option<PathBuf>,
    /// The `PG*` variables that supplied parts the URL left out.
    env_parts: Vec<&'static str>,
    /// The service (name, file) that supplied parts, if any.
    service: Option<(String, PathBuf)>,
    /// The user and database named (servers), for messages.
    user: Option<String>,
    dbname: Option<String>,
    /// A password is part of the URL (or of its service).
    has_password: bool,
}

impl DbUrl {
    /// Parses `raw` alone: no `PG*` variables, no service file (unless the URL names one).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        Self::resolve(raw, &PgEnv::default())
    }

    /// Parses `raw` and, for PostgreSQL, fills what it leaves out from a service and
    /// the `PG*` variables in `env`, as psql would.
    pub fn resolve(raw: &str, env: &PgEnv) -> Result<Self, Error> {
        let raw = raw.trim();
        // Whatever could be a password is known before any message quotes the value.
        redact::register_url_secrets(raw);
        let scheme = raw.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => Self::parse_server(raw, env, DbKind::Postgres),
            // The PG* variables are libpq's: they never complete a MySQL URL.
            Some("mysql" | "mariadb") => Self::parse_server(raw, &PgEnv::default(), DbKind::Mysql),
            Some("sqlite") => Self::parse_sqlite(raw),
            _ => {
                let masked = redact::mask_value(raw);
                let what = if raw.contains(['\n', '\r']) {
                    "not a database URL (it spans several lines: an unclosed quote in a .env file? Its text is not \
                     shown: it may hold secrets)"
                        .to_owned()
                } else if masked == redact::MASK {
                    "not a database URL (it has no scheme such as postgres://; its text is not shown: it may be a \
                     password)"
                        .to_owned()
                } else {
                    format!("{masked} is not a database URL (unknown scheme)")
                };
                Err(Error::usage_hint(
                    what,
                    "use postgres://user@host/db, mysql://user@host/db or sqlite://path/to/file.db",
                ))
            }
        }
    }

    /// No URL at all: PostgreSQL as named by a service and the `PG*` variables.
    pub fn from_libpq(env: &PgEnv) -> Result<Self, Error> {
        let mut target = Target::default();
        target.apply(env)?;
        Self::from_target("postgres", &target, DbKind::Postgres)
    }

    /// A server URL (PostgreSQL, MySQL/MariaDB): checked and masked the same way;
    /// query options (TLS and others) go to the driver as written.
    fn parse_server(raw: &str, env: &PgEnv, kind: DbKind) -> Result<Self, Error> {
        let invalid = |why: &str| {
            Error::usage_hint(
                format!("invalid {} URL {}: {why}", kind.product(), redact::mask_value(raw)),
                format!(
                    "expected {}://user@host:port/database, with the password after the user name \
                     (user:password@host); percent-encode special characters in the password ('@' as %40, '#' as %23, '/' as %2F, '?' as %3F, ':' as %3A)",
                    if kind == DbKind::Mysql { "mysql" } else { "postgres" }
                ),
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
        let mut target = target_from_url(&url).map_err(|e| invalid(&e))?;
        target.apply(env)?;
        if kind == DbKind::Mysql && target.host.is_none() {
            target.host = Some("localhost".into()); // the driver's default, in the authority with the user
        }
        Self::from_target(&scheme.to_ascii_lowercase(), &target, kind)
    }

    fn from_target(scheme: &str, target: &Target, kind: DbKind) -> Result<Self, Error> {
        target.check()?;
        if let Some(password) = &target.password {
            redact::register(password);
        }
        let port = target.port_number()?;
        // A MySQL Unix socket (`?socket=PATH`) is used instead of the host.
        let socket = kind == DbKind::Mysql && target.params.iter().any(|(k, _)| k == "socket");
        let connect_host = target.connect_host().filter(|_| !socket).map(str::to_owned);
        let db = target.dbname.as_deref().unwrap_or_default();
        let host = connect_host.as_deref().unwrap_or_default();
        let location = match port {
            Some(port) => format!("{host}:{port}/{db}"),
            None => format!("{host}/{db}"),
        };
        Ok(Self {
            driver: build_url(scheme, target, false),
            kind,
            masked: build_url(scheme, target, true),
            location,
            connect_host,
            port,
            sqlite_path: None,
            env_parts: target.from_env.clone(),
            service: target.from_service.as_ref().map(|s| (s.name.clone(), s.file.clone())),
            user: target.user.clone(),
            dbname: target.dbname.clone(),
            has_password: target.password.is_some(),
        })
    }

    fn parse_sqlite(raw: &str) -> Result<Self, Error> {
        let rest = raw.split_once(':').map_or("", |(_, r)| r);
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or_default();
        if path.contains('\0') {
            return Err(Error::usage_hint(
                format!("invalid SQLite URL {}: the path holds a NUL byte", redact::mask_value(raw)),
                "no file name can hold one: check where the URL came from (a .env file, seed.toml)",
            ));
        }
        let path = if path.is_empty() || path == ":memory:" { None } else { Some(PathBuf::from(path)) };
        Ok(Self {
            driver: raw.to_owned(),
            kind: DbKind::Sqlite,
            masked: redact::mask_value(raw),
            location: path.as_ref().map_or_else(|| ":memory:".to_owned(), |p| p.display().to_string()),
            connect_host: None,
            port: None,
            sqlite_path: path,
            env_parts: Vec::new(),
            service: None,
            user: None,
            dbname: None,
            has_password: false,
        })
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }
    /// The URL with its password and every part the environment supplied; only for
    /// handing to the driver.
    pub fn expose(&self) -> &str {
        &self.driver
    }
    /// `host:port/db` (servers) or the file path (SQLite), without credentials.
    pub fn location(&self) -> &str {
        &self.location
    }
    /// True for SQLite, and for PostgreSQL when the host actually connected to (after
    /// the URL, a service, `PGHOST` and `PGHOSTADDR`) is a Unix socket, `localhost`, or
    /// a name or address that resolves only to loopback addresses. May resolve a name.
    pub fn is_local(&self) -> bool {
        match (self.kind, &self.connect_host) {
            (DbKind::Sqlite, _) | (DbKind::Postgres | DbKind::Mysql, None) => true,
            (DbKind::Postgres, Some(host)) => host_is_local(host, self.port.unwrap_or(5432)),
            (DbKind::Mysql, Some(host)) => host_is_local(host, self.port.unwrap_or(3306)),
        }
    }
    /// The `PG*` variables that supplied parts of this URL.
    pub fn env_parts(&self) -> &[&'static str] {
        &self.env_parts
    }
    /// The service (name, file) that supplied parts of this URL.
    pub fn service(&self) -> Option<(&str, &std::path::Path)> {
        self.service.as_ref().map(|(n, f)| (n.as_str(), f.as_path()))
    }
    pub fn sqlite_path(&self) -> Option<&PathBuf> {
        self.sqlite_path.as_ref()
    }
    /// The user named (servers; the driver's default when `None`).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The database's name (servers) or its file (SQLite).
    pub fn database_name(&self) -> String {
        match &self.sqlite_path {
            Some(p) => p.display().to_string(),
            None => self.dbname.clone().unwrap_or_default(),
        }
    }
    pub fn has_password(&self) -> bool {
        self.has_password
    }

    /// What `seed clone` builds its names from: the database's name (servers) or the
    /// file's stem (SQLite).
    pub fn database_stem(&self) -> String {
        match &self.sqlite_path {
            Some(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            None => self.dbname.clone().unwrap_or_default(),
        }
    }

    /// Database `name` beside this one: on the same server, or in the same directory
    /// with this file's extension (SQLite).
    pub fn sibling(&self, name: &str) -> Result<Self, Error> {
        match &self.sqlite_path {
            Some(p) => {
                let mut file = std::ffi::OsString::from(name);
                if let Some(ext) = p.extension() {
                    file.push(".");
                    file.push(ext);
                }
                // Absolute: a clone's URL is used from wherever the tests run.
                let path = std::path::absolute(p).unwrap_or_else(|_| p.clone()).with_file_name(file);
                self.with_database(&path.to_string_lossy())
            }
            None => self.with_database(name),
        }
    }

    /// The same server and credentials, another database (servers: its name; SQLite:
    /// its file path). Options (TLS, sockets) stay as they are.
    pub fn with_database(&self, name: &str) -> Result<Self, Error> {
        if self.kind == DbKind::Sqlite {
            let query = self.driver.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            return Self::parse_sqlite(&format!("sqlite://{name}{query}"));
        }
        let mut url = url::Url::parse(&self.driver)
            .map_err(|e| Error::Internal(format!("the driver's URL does not parse again: {e}")))?;
        let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        url.set_path(&format!("/{}", encoded.replace('+', "%20")));
        let mut next = Self::parse(url.as_str())?;
        // Parts that came from the environment stay known as such.
        next.env_parts.clone_from(&self.env_parts);
        next.service.clone_from(&self.service);
        Ok(next)
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

/// The URL's parts; a query parameter beats the same part in the authority or path
/// (as the driver reads them).
fn target_from_url(url: &url::Url) -> Result<Target, String> {
    let decode = |s: &str, what: &str| percent_decode(s).map_err(|_| format!("the {what} is not UTF-8 once decoded"));
    let mut t = Target::default();
    if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
        t.host = Some(decode(host, "host")?);
    }
    t.port = url.port().map(|p| p.to_string());
    if !url.username().is_empty() {
        t.user = Some(decode(url.username(), "user name")?);
    }
    if let Some(p) = url.password() {
        t.password = Some(decode(p, "password")?);
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() {
        t.dbname = Some(decode(path, "database name")?);
    }
    for (k, v) in url.query_pairs() {
        let v = v.into_owned();
        match &*k {
            "host" => t.host = Some(v),
            "hostaddr" => t.hostaddr = Some(v),
            "port" => t.port = Some(v),
            "dbname" => t.dbname = Some(v),
            "user" => t.user = Some(v),
            "password" => t.password = Some(v),
            "service" => t.service = Some(v),
            _ => t.params.push((k.into_owned(), v)),
        }
    }
    Ok(t)
}

/// One explicit URL from `t`: a TCP host in the authority, a socket directory in
/// `host=`; with `mask`, the password shown as `***`.
fn build_url(scheme: &str, t: &Target, mask: bool) -> String {
    let password =
        t.password.as_deref().map(|p| if mask { redact::MASK.to_owned() } else { encode(p, USERINFO_ESCAPED) });
    let tcp_host = t.host.as_deref().filter(|h| !h.is_empty() && !h.starts_with('/') && !h.starts_with('@'));
    let mut params: Vec<(&str, String)> = Vec::new();
    let mut out = format!("{scheme}://");
    match tcp_host {
        Some(host) => {
            if t.user.is_some() || password.is_some() {
                out.push_str(&encode(t.user.as_deref().unwrap_or_default(), USERINFO_ESCAPED));
                if let Some(p) = &password {
                    out.push(':');
                    out.push_str(p);
                }
                out.push('@');
            }
            if host.contains(':') && !host.starts_with('[') {
                out.push_str(&format!("[{host}]"));
            } else {
                out.push_str(host);
            }
            if let Some(port) = &t.port {
                out.push(':');
                out.push_str(port.trim());
            }
        }
        None => {
            if let Some(h) = t.host.as_deref().filter(|h| !h.is_empty()) {
                params.push(("host", h.to_owned()));
            }
            if let Some(port) = &t.port {
                params.push(("port", port.trim().to_owned()));
            }
            if let Some(u) = &t.user {
                params.push(("user", u.clone()));
            }
            if let Some(p) = &t.password {
                params.push(("password", if mask { redact::MASK.to_owned() } else { p.clone() }));
            }
        }
    }
    out.push('/');
    if let Some(db) = &t.dbname {
        out.push_str(&encode(db, USERINFO_ESCAPED));
    }
    if let Some(addr) = &t.hostaddr {
        params.push(("hostaddr", addr.clone()));
    }
    params.extend(t.params.iter().map(|(k, v)| (k.as_str(), v.clone())));
    if !params.is_empty() {
        let query: Vec<String> =
            params.iter().map(|(k, v)| format!("{}={}", encode(k, QUERY_ESCAPED), encode(v, QUERY_ESCAPED))).collect();
        out.push('?');
        out.push_str(&query.join("&"));
    }
    out
}

/// Encoded in a user name, password or database name: all but letters, digits and `-._~`.
const USERINFO_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Encoded in a query value: as a user name, but readable socket paths and options.
const QUERY_ESCAPED: &AsciiSet = &USERINFO_ESCAPED.remove(b'/').remove(b':').remove(b',').remove(b'*');

/// Percent-encodes every byte of `s` in `set`.
fn encode(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// A Unix socket (a path, or libpq's `@abstract` name), `localhost`, a loopback
/// address, or a name that resolves only to loopback addresses.
fn host_is_local(host: &str, port: u16) -> bool {
    use std::net::{IpAddr, ToSocketAddrs};
    if host.starts_with('/') || host.starts_with('@') || host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let is_loopback = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_loopback(ip);
    }
    match (bare, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| is_loopback(a.ip()))
        }
        Err(_) => false,
    }
}

/// `%XX` sequences decoded (a literal `+` stays a `+`, as in a URL's userinfo; a `%`
/// not followed by two hex digits stays as it is).
fn percent_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    String::from_utf8(percent_encoding::percent_decode_str(s).collect())
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
        for bad in ["http://x", "mysql://u:p@[bad/db", "nonsense", "", "postgres://u:p@[bad/db"] {
            let err = DbUrl::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(!err.to_string().contains(":p@"), "{err}");
        }
    }

    #[test]
    fn mysql_urls_are_masked_like_postgres_ones() {
        use std::str::FromStr;
        for scheme in ["mysql", "mariadb"] {
            let raw = format!("{scheme}://app:hunter3@db.example.com:3307/shop?ssl-mode=REQUIRED&ssl-ca=/ca.pem");
            let url = DbUrl::resolve(&raw, &env(&[("PGHOST", "elsewhere.invalid"), ("PGUSER", "nobody")])).unwrap();
            assert_eq!(url.kind(), DbKind::Mysql);
            assert_eq!(
                url.to_string(),
                format!("{scheme}://app:***@db.example.com:3307/shop?ssl-mode=REQUIRED&ssl-ca=/ca.pem")
            );
            assert_eq!(url.location(), "db.example.com:3307/shop");
            assert!(!url.is_local());
            let o = sqlx::mysql::MySqlConnectOptions::from_str(url.expose()).unwrap();
            assert_eq!((o.get_host(), o.get_port(), o.get_username()), ("db.example.com", 3307, "app"));
            assert!(matches!(o.get_ssl_mode(), sqlx::mysql::MySqlSslMode::Required), "TLS options reach the driver");
        }
        assert!(DbUrl::parse("mysql://root@127.0.0.1/app").unwrap().is_local());
        let url = DbUrl::parse("mysql://root:pw-1@db.internal/app?socket=/run/mysqld/mysqld.sock").unwrap();
        assert!(url.is_local(), "a socket is local whatever the host says");
        let o = sqlx::mysql::MySqlConnectOptions::from_str(url.expose()).unwrap();
        assert_eq!(o.get_socket().map(|p| p.display().to_string()).as_deref(), Some("/run/mysqld/mysqld.sock"));
        let url = DbUrl::parse("mysql:///app?socket=/tmp/s&user=me&password=topsecret").unwrap();
        assert!(!url.to_string().contains("topsecret"));
        let o = sqlx::mysql::MySqlConnectOptions::from_str(url.expose()).unwrap();
        assert_eq!(o.get_username(), "me");
        for (bad, shown) in [
            ("mysql://app:p@ss#w0rd@host/db", "mysql://app:***@host/db"),
            ("mariadb:app:S3cr3t@h/db", "mariadb:***@h/db"),
        ] {
            let err = DbUrl::parse(bad).unwrap_err();
            let text = format!("{err} {}", err.hint().unwrap_or_default());
            assert!(text.contains(shown) && text.contains("MySQL/MariaDB"), "{bad}: {text}");
            assert!(!text.contains("w0rd") && !text.contains("S3cr3t"), "{bad}: {text}");
        }
    }

    #[test]
    fn malformed_urls_are_rejected_showing_only_the_masked_form() {
        for (bad, shown) in [
            ("postgres:user:S3cr3t@host:5432/db", "postgres:***@host:5432/db"),
            ("postgres:S3cr3t-Pw@127.0.0.1:5432/db", "postgres:***@127.0.0.1:5432/db"),
            ("S3cr3t-Pw@127.0.0.1:5432/db", "not a database URL (it has no scheme"),
            ("S3cr3t", "not a database URL (it has no scheme"),
            ("pg:S3cr3t@h/db", "***@h/db is not a database URL"),
            ("postgres://app:p@ss#w0rd@host/db", "postgres://app:***@host/db"),
            ("postgres://app:12/ss@host/db", "postgres://app:***@host/db"),
            ("postgres://app:1?a=ss@host/db", "postgres://app:***@host/db"),
            ("postgresql:app:pw@host/db", "postgresql:***@host/db"),
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

    fn env(pairs: &[(&'static str, &str)]) -> PgEnv {
        PgEnv::from_pairs(pairs)
    }

    /// What sqlx makes of the driver URL.
    fn driver_view(url: &DbUrl) -> (String, u16, String, Option<String>, Option<String>) {
        use std::str::FromStr;
        let o = sqlx::postgres::PgConnectOptions::from_str(url.expose()).unwrap();
        (
            o.get_host().to_owned(),
            o.get_port(),
            o.get_username().to_owned(),
            o.get_database().map(str::to_owned),
            o.get_socket().map(|p| p.display().to_string()),
        )
    }

    #[test]
    fn r8_6_pghost_fills_a_url_without_host_and_is_judged() {
        let url = DbUrl::resolve("postgres:///db", &env(&[("PGHOST", "vm.invalid")])).unwrap();
        assert_eq!(url.to_string(), "postgres://vm.invalid/db");
        assert!(!url.is_local());
        let url = DbUrl::resolve("postgres:///db", &env(&[])).unwrap();
        assert!(url.is_local(), "no host at all is the driver's local default");
    }

    #[test]
    fn r8_6_pghostaddr_beats_the_url_host_as_in_libpq() {
        let url =
            DbUrl::resolve("postgres://app:Secret-99@localhost:5433/db", &env(&[("PGHOSTADDR", "10.9.8.7")])).unwrap();
        assert!(!url.is_local());
        assert_eq!(driver_view(&url).0, "10.9.8.7");
        assert_eq!(url.to_string(), "postgres://app:***@localhost:5433/db?hostaddr=10.9.8.7");
        let url = DbUrl::resolve("postgres://vm.invalid/db", &env(&[("PGHOSTADDR", "127.0.0.1")])).unwrap();
        assert!(url.is_local(), "hostaddr is what is connected to");
    }

    #[test]
    fn local_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "/tmp",
            "@abstract",
        ] {
            assert!(host_is_local(host, 5432), "{host}");
        }
        for host in ["10.0.0.1", "192.168.1.2", "::2", "remote.invalid", "0.0.0.0"] {
            assert!(!host_is_local(host, 5432), "{host}");
        }
    }

    #[test]
    fn socket_directories_go_in_the_host_parameter() {
        let url =
            DbUrl::resolve("postgres:///db", &env(&[("PGHOST", "/var/run/postgresql"), ("PGUSER", "bob")])).unwrap();
        assert!(url.is_local());
        assert_eq!(url.to_string(), "postgres:///db?host=/var/run/postgresql&user=bob");
        let (_, _, user, db, socket) = driver_view(&url);
        assert_eq!((user.as_str(), db.as_deref(), socket.as_deref()), ("bob", Some("db"), Some("/var/run/postgresql")));
    }

    #[test]
    fn the_driver_sees_every_part() {
        let url = DbUrl::resolve(
            "postgres:///?sslmode=disable",
            &env(&[("PGHOST", "127.0.0.1"), ("PGPORT", "6543"), ("PGUSER", "app user"), ("PGDATABASE", "my db")]),
        )
        .unwrap();
        assert_eq!(driver_view(&url), ("127.0.0.1".into(), 6543, "app user".into(), Some("my db".into()), None));
        assert_eq!(url.to_string(), "postgres://app%20user@127.0.0.1:6543/my%20db?sslmode=disable");
        assert_eq!(url.location(), "127.0.0.1:6543/my db");
        // The URL's own parts win over the environment.
        let url = DbUrl::resolve(
            "postgres://u:Pass-W0rd%2F@h:1/d",
            &env(&[("PGHOST", "x"), ("PGPORT", "2"), ("PGUSER", "y")]),
        )
        .unwrap();
        let (host, port, user, db, _) = driver_view(&url);
        assert_eq!((host.as_str(), port, user.as_str(), db.as_deref()), ("h", 1, "u", Some("d")));
        use std::str::FromStr;
        let o = sqlx::postgres::PgConnectOptions::from_str(url.expose()).unwrap();
        assert!(format!("{o:?}").contains("Pass-W0rd/"), "password decoded for the driver");
    }

    #[test]
    fn libpq_only() {
        let url = DbUrl::from_libpq(&env(&[("PGDATABASE", "app")])).unwrap();
        assert_eq!(url.kind(), DbKind::Postgres);
        assert_eq!(url.to_string(), "postgres:///app");
        assert!(DbUrl::from_libpq(&env(&[("PGPORT", "nope")])).is_err());
    }
}
