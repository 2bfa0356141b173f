//! libpq's ways of naming a PostgreSQL server, applied the way psql applies them: the
//! URL's own parts first, then a service from `pg_service.conf`, then `PG*` environment
//! variables, then the driver's defaults.
//!
//! sqlx reads most `PG*` variables itself, but a URL's host beats `PGHOSTADDR` there
//! (libpq connects to `PGHOSTADDR` whatever the host) and it knows nothing of services.
//! Resolving here, into one explicit URL for the driver, makes the host the remote guard
//! judges the host the driver uses, and lets every message show the real target.
//! `PGPASSWORD`, `PGPASSFILE`/`~/.pgpass`, `PGSSLMODE` and the other TLS variables,
//! `PGAPPNAME` and `PGOPTIONS` stay the driver's to read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Any of these set (and no URL given) means "connect to PostgreSQL as psql would".
pub const CONNECTION_VARS: &[&str] = &["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE"];
const OTHER_VARS: &[&str] = &["PGSERVICEFILE", "PGSYSCONFDIR", "PGPASSWORD", "HOME"];

/// Where libpq looks for the system-wide service file when `PGSYSCONFDIR` is unset
/// (Debian's and Ubuntu's packages).
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// Service files larger than this are refused (they are a few lines in practice).
const MAX_SERVICE_FILE: u64 = 1 << 20;

/// Keys a service may set; each maps to a URL parameter the driver understands.
const SERVICE_KEYS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "options",
];

/// The `PG*` variables `seed` reads itself (non-empty values only: empty means unset).
#[derive(Debug, Clone, Default)]
pub struct PgEnv {
    vars: BTreeMap<&'static str, String>,
}

impl PgEnv {
    pub fn from_process() -> Self {
        let mut vars = BTreeMap::new();
        for name in CONNECTION_VARS.iter().chain(OTHER_VARS) {
            if let Ok(v) = std::env::var(name)
                && !v.is_empty()
            {
                vars.insert(*name, v);
            }
        }
        Self { vars }
    }

    /// For tests: exactly these variables.
    pub fn from_pairs(pairs: &[(&'static str, &str)]) -> Self {
        Self { vars: pairs.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (*k, (*v).to_owned())).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The connection variables that are set, in `CONNECTION_VARS` order.
    pub fn connection_vars(&self) -> Vec<&'static str> {
        CONNECTION_VARS.iter().copied().filter(|v| self.vars.contains_key(v)).collect()
    }
}

/// A service definition found in a service file.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub file: PathBuf,
    /// `(key, value, line)`.
    entries: Vec<(String, String, usize)>,
}

/// The parts of a PostgreSQL connection string, each `None` until some source sets it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub host: Option<String>,
    pub hostaddr: Option<String>,
    pub port: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub dbname: Option<String>,
    /// Other URL parameters (sslmode, options, …), in order.
    pub params: Vec<(String, String)>,
    /// `service=` from the URL (else `PGSERVICE`).
    pub service: Option<String>,
    /// The environment variables that filled a part.
    pub from_env: Vec<&'static str>,
    /// The service that filled parts, if any.
    pub from_service: Option<Service>,
}

impl Target {
    /// Fills the parts still unset from the service (named in the URL or by
    /// `PGSERVICE`), then from `PG*` variables: libpq's order.
    pub fn apply(&mut self, env: &PgEnv) -> Result<(), Error> {
        let service = self.service.clone().or_else(|| env.get("PGSERVICE").map(str::to_owned));
        if let Some(name) = service {
            if self.service.is_none() {
                self.from_env.push("PGSERVICE");
            }
            let found = find_service(&name, env)?;
            self.apply_service(&found)?;
            self.from_service = Some(found);
        }
        for (var, slot) in [
            ("PGHOST", &mut self.host),
            ("PGHOSTADDR", &mut self.hostaddr),
            ("PGPORT", &mut self.port),
            ("PGDATABASE", &mut self.dbname),
            ("PGUSER", &mut self.user),
        ] {
            if slot.is_none()
                && let Some(v) = env.get(var)
            {
                *slot = Some(v.to_owned());
                self.from_env.push(var);
            }
        }
        Ok(())
    }

    fn apply_service(&mut self, service: &Service) -> Result<(), Error> {
        for (key, value, line) in &service.entries {
            let at = || format!("{}:{line}", service.file.display());
            let slot = match key.as_str() {
                "host" => &mut self.host,
                "hostaddr" => &mut self.hostaddr,
                "port" => &mut self.port,
                "dbname" => &mut self.dbname,
                "user" => &mut self.user,
                "password" => {
                    crate::redact::register(value);
                    &mut self.password
                }
                "service" => {
                    return Err(Error::usage_hint(
                        format!("{}: a service cannot name another service", at()),
                        "remove the service= line from the service definition",
                    ));
                }
                k if SERVICE_KEYS.contains(&k) => {
                    if !self.params.iter().any(|(p, _)| p == k) {
                        self.params.push((k.to_owned(), value.clone()));
                    }
                    continue;
                }
                other => {
                    return Err(Error::usage_hint(
                        format!("{}: seed cannot apply '{other}' from service '{}'", at(), service.name),
                        format!(
                            "seed reads these service keys: {}; remove the line or use another service",
                            SERVICE_KEYS.join(", ")
                        ),
                    ));
                }
            };
            if slot.is_none() {
                *slot = Some(value.clone());
            }
        }
        Ok(())
    }

    /// The port as a number, checked (sqlx would silently use 5432 for a bad `PGPORT`).
    pub fn port_number(&self) -> Result<Option<u16>, Error> {
        let Some(port) = &self.port else { return Ok(None) };
        match port.trim().parse::<u16>() {
            Ok(p) if p > 0 => Ok(Some(p)),
            _ => Err(Error::usage_hint(
                format!("port '{port}'{} is not a port number", self.origin("PGPORT")),
                "give a number between 1 and 65535",
            )),
        }
    }

    /// " (from PGHOST)"-style note on where a part came from, for messages.
    fn origin(&self, var: &'static str) -> String {
        if self.from_env.contains(&var) { format!(" (from {var})") } else { String::new() }
    }

    /// Checks what the driver cannot take: several hosts, a bad `hostaddr`.
    pub fn check(&self) -> Result<(), Error> {
        for (value, var) in [(&self.host, "PGHOST"), (&self.hostaddr, "PGHOSTADDR")] {
            if let Some(v) = value
                && v.contains(',')
            {
                return Err(Error::usage_hint(
                    format!("'{v}'{} lists several hosts; seed connects to one", self.origin(var)),
                    "name one host (libpq's host lists and failover are not supported)",
                ));
            }
        }
        if let Some(addr) = &self.hostaddr
            && addr.parse::<std::net::IpAddr>().is_err()
        {
            return Err(Error::usage_hint(
                format!("hostaddr '{addr}'{} is not an IP address", self.origin("PGHOSTADDR")),
                "hostaddr takes a numeric address; put a host name in host (PGHOST) instead",
            ));
        }
        self.port_number()?;
        Ok(())
    }

    /// The address the connection goes to: hostaddr wins over host; `None` is the
    /// driver's default (a local Unix socket, else localhost).
    pub fn connect_host(&self) -> Option<&str> {
        self.hostaddr.as_deref().or(self.host.as_deref()).filter(|h| !h.is_empty())
    }
}

/// The service files libpq reads, in order: the user's, then the system's.
fn service_files(env: &PgEnv) -> (Option<PathBuf>, PathBuf) {
    let user = match env.get("PGSERVICEFILE") {
        Some(f) => Some(PathBuf::from(f)),
        None => env.get("HOME").map(|h| Path::new(h).join(".pg_service.conf")),
    };
    let system = Path::new(env.get("PGSYSCONFDIR").unwrap_or(DEFAULT_SYSCONFDIR)).join("pg_service.conf");
    (user, system)
}

/// The definition of service `name`, from the first file that has it.
pub fn find_service(name: &str, env: &PgEnv) -> Result<Service, Error> {
    let (user, system) = service_files(env);
    if let Some(explicit) = env.get("PGSERVICEFILE")
        && !Path::new(explicit).exists()
    {
        return Err(Error::usage_hint(
            format!("service file {explicit} (PGSERVICEFILE) does not exist"),
            "fix PGSERVICEFILE or unset it to use ~/.pg_service.conf",
        ));
    }
    let mut looked = Vec::new();
    for file in user.into_iter().chain([system]) {
        if !file.exists() {
            continue;
        }
        if let Some(service) = read_service(&file, name)? {
            return Ok(service);
        }
        looked.push(file.display().to_string());
    }
    Err(Error::usage_hint(
        format!(
            "service '{name}' is not defined{}",
            if looked.is_empty() {
                " (no service file found)".to_owned()
            } else {
                format!(" in {}", looked.join(", "))
            }
        ),
        "define it in ~/.pg_service.conf (or the file PGSERVICEFILE names), or unset PGSERVICE and give --database-url",
    ))
}

/// Parses `file` (INI-like: `[name]` sections of `key=value` lines, `#` comments) and
/// returns section `name`, if there.
fn read_service(file: &Path, name: &str) -> Result<Option<Service>, Error> {
    let meta = std::fs::metadata(file).map_err(|e| Error::io("read service file", file, e))?;
    if meta.len() > MAX_SERVICE_FILE {
        return Err(Error::usage(format!(
            "service file {} is larger than {} bytes; that is not a service file",
            file.display(),
            MAX_SERVICE_FILE
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| Error::io("read service file", file, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::usage(format!("service file {} is not UTF-8 text", file.display())))?;
    let mut current: Option<&str> = None;
    let mut found: Option<Service> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let Some(section) = section.strip_suffix(']') else {
                return Err(syntax(file, line_no));
            };
            if found.is_some() {
                break;
            }
            current = Some(section.trim());
            if section.trim() == name {
                found = Some(Service { name: name.to_owned(), file: file.to_path_buf(), entries: Vec::new() });
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(syntax(file, line_no));
        };
        if current.is_none() {
            return Err(syntax(file, line_no));
        }
        if let Some(service) = found.as_mut() {
            service.entries.push((key.trim().to_owned(), value.trim().to_owned(), line_no));
        }
    }
    Ok(found)
}

fn syntax(file: &Path, line: usize) -> Error {
    // The line itself is not shown: it may hold a password.
    Error::usage_hint(
        format!("{}:{line}: not a [service] header or a key=value line", file.display()),
        "service files hold [name] sections of key=value lines; # starts a comment",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service_env(dir: &Path, body: &str) -> PgEnv {
        let file = dir.join("pg_service.conf");
        std::fs::write(&file, body).unwrap();
        let mut env = PgEnv::from_pairs(&[("PGSYSCONFDIR", "/nonexistent")]);
        env.vars.insert("PGSERVICEFILE", file.display().to_string());
        env
    }

    #[test]
    fn env_fills_only_what_is_unset() {
        let env = PgEnv::from_pairs(&[("PGHOST", "vm"), ("PGPORT", "5433"), ("PGUSER", "bob"), ("PGHOSTADDR", "")]);
        let mut t = Target { host: Some("localhost".into()), ..Target::default() };
        t.apply(&env).unwrap();
        assert_eq!(t.host.as_deref(), Some("localhost"));
        assert_eq!(t.port_number().unwrap(), Some(5433));
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.from_env, vec!["PGPORT", "PGUSER"]);
        assert_eq!(env.connection_vars(), vec!["PGHOST", "PGPORT", "PGUSER"]);
    }

    #[test]
    fn hostaddr_wins_over_host() {
        let env = PgEnv::from_pairs(&[("PGHOSTADDR", "10.1.2.3")]);
        let mut t = Target { host: Some("localhost".into()), ..Target::default() };
        t.apply(&env).unwrap();
        assert_eq!(t.connect_host(), Some("10.1.2.3"));
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        for (var, value, expect) in [
            ("PGPORT", "54x", "PGPORT"),
            ("PGHOST", "a,b", "several hosts"),
            ("PGHOSTADDR", "vm.example", "not an IP address"),
        ] {
            let mut t = Target::default();
            t.apply(&PgEnv::from_pairs(&[(var, value)])).unwrap();
            let err = t.check().unwrap_err();
            assert!(err.to_string().contains(expect), "{var}: {err}");
            assert_eq!(err.exit_code(), 2);
        }
    }

    #[test]
    fn service_beats_environment() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = service_env(
            dir.path(),
            "# comment\n[other]\nhost=nope\n\n[app]\nhost = db.internal\nport=6543\ndbname=app\npassword=Svc-Secret-1\nsslmode=require\n",
        );
        env.vars.insert("PGSERVICE", "app".into());
        env.vars.insert("PGHOST", "vm".into());
        env.vars.insert("PGUSER", "bob".into());
        let mut t = Target::default();
        t.apply(&env).unwrap();
        assert_eq!(t.host.as_deref(), Some("db.internal"));
        assert_eq!(t.port.as_deref(), Some("6543"));
        assert_eq!(t.user.as_deref(), Some("bob"));
        assert_eq!(t.password.as_deref(), Some("Svc-Secret-1"));
        assert_eq!(t.params, vec![("sslmode".to_owned(), "require".to_owned())]);
        assert_eq!(t.from_service.as_ref().unwrap().name, "app");
    }

    #[test]
    fn service_errors_name_file_and_line_but_not_values() {
        let dir = tempfile::tempdir().unwrap();
        for (body, expect) in [
            ("[app]\nhost=h\ngssencmode=disable\n", ":3: seed cannot apply 'gssencmode'"),
            ("[app]\npassword Secret-In-Line\n", ":2: not a [service] header"),
            ("[app\n", ":1:"),
            ("[x]\nhost=h\n", "service 'app' is not defined in"),
        ] {
            let mut env = service_env(dir.path(), body);
            env.vars.insert("PGSERVICE", "app".into());
            let err = Target::default().apply(&env).unwrap_err();
            assert!(err.to_string().contains(expect), "{body:?}: {err}");
            assert!(!err.to_string().contains("Secret-In-Line"), "{err}");
        }
        let env = PgEnv::from_pairs(&[("PGSERVICE", "app"), ("PGSERVICEFILE", "/nonexistent/pg_service.conf")]);
        let err = Target::default().apply(&env).unwrap_err();
        assert!(err.to_string().contains("PGSERVICEFILE"), "{err}");
    }
}
