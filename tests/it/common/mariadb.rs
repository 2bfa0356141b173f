//! MariaDB for the tests: one throwaway server per test binary (`mariadb-install-db`
//! into a temp dir, `mariadbd` on a free 127.0.0.1 port with its own socket, as the
//! `mysql` OS user when we are root), a user with a password for seed's URLs, a fresh
//! database per test, the server killed at exit. No skipping: without MariaDB the
//! tests fail and say how to install it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The password of the user every seed URL carries; outputs are checked for it.
pub const MY_PASSWORD: &str = "Maria-Pw-4c1e8";
pub const MY_USER: &str = "seed_it";

pub struct MariaServer {
    pub port: u16,
    pub dir: PathBuf,
    pub socket: PathBuf,
    pid: u32,
}

static SERVER: OnceLock<MariaServer> = OnceLock::new();
static DB_COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn server() -> &'static MariaServer {
    SERVER.get_or_init(MariaServer::start)
}

fn find(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin", "/usr/local/mysql/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "MariaDB's `{name}` was not found (looked in /usr/sbin, /usr/bin, /usr/local/...). Install the server with \
         `sudo apt-get install -y mariadb-server` (scripts/test.sh does it for you)."
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

extern "C" fn kill_server_at_exit() {
    if let Some(s) = SERVER.get() {
        // SAFETY: signalling the server process we started.
        unsafe { libc::kill(i32::try_from(s.pid).unwrap_or(0), libc::SIGKILL) };
        let _ = std::fs::remove_dir_all(&s.dir);
    }
}

impl MariaServer {
    fn start() -> Self {
        let (install_db, mariadbd) = (find("mariadb-install-db"), find("mariadbd"));
        find("mariadb");
        let dir = tempfile::Builder::new().prefix("seed-maria-").tempdir().expect("temp dir").keep();
        let data = dir.join("data");
        let root = running_as_root();
        if root {
            let out = Command::new("chown").arg("mysql").arg(&dir).output().expect("run chown");
            assert!(
                out.status.success(),
                "running as root, but the temp dir cannot be given to the `mysql` OS user (MariaDB refuses to run \
                 as root; installing mariadb-server creates that user): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut install = Command::new(&install_db);
        install.arg("--no-defaults").arg(format!("--datadir={}", data.display()));
        install.args(["--skip-test-db", "--auth-root-authentication-method=normal", "--skip-name-resolve"]);
        if root {
            install.arg("--user=mysql");
        }
        let out = install.output().expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let socket = dir.join("sock");
        let log = dir.join("server.log");
        for attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(&mariadbd);
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--pid-file={}", dir.join("pid").display()))
                .arg(format!("--log-error={}", log.display()))
                .args([
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--performance-schema=OFF",
                    "--innodb-buffer-pool-size=128M",
                    "--innodb-log-file-size=64M",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--max-connections=300",
                    "--character-set-server=utf8mb4",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if root {
                cmd.arg("--user=mysql");
            }
            let mut child = cmd.spawn().expect("start mariadbd");
            let server = Self { port, dir: dir.clone(), socket: socket.clone(), pid: child.id() };
            let started = Instant::now();
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    let text = std::fs::read_to_string(&log).unwrap_or_default();
                    assert!(
                        attempt < 4 && text.contains("already in use"),
                        "mariadbd exited ({status}); its log:\n{text}"
                    );
                    break;
                }
                if server.root_cmd("").args(["-e", "SELECT 1"]).output().is_ok_and(|o| o.status.success()) {
                    // SAFETY: registering a plain extern "C" fn with atexit.
                    unsafe { libc::atexit(kill_server_at_exit) };
                    std::mem::forget(child);
                    let setup = format!(
                        "CREATE USER '{MY_USER}'@'%' IDENTIFIED BY '{MY_PASSWORD}'; GRANT ALL ON *.* TO '{MY_USER}'@'%';"
                    );
                    server.sql("", &setup);
                    return server;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "mariadbd did not answer within 60s; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        unreachable!()
    }

    /// The `mariadb` client as root over the socket, batch mode, no column names.
    pub fn root_cmd(&self, db: &str) -> Command {
        let mut cmd = Command::new(find("mariadb"));
        cmd.arg("--no-defaults").arg(format!("--socket={}", self.socket.display())).args(["-uroot", "-N", "-B"]);
        if !db.is_empty() {
            cmd.arg(db);
        }
        cmd
    }

    /// Runs SQL as root; panics on errors.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self.root_cmd(db).args(["-e", sql]).output().expect("run mariadb");
        assert!(out.status.success(), "mariadb failed on {db}: {sql}\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    pub fn url(&self, db: &str) -> String {
        format!("mysql://{MY_USER}:{MY_PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// `mariadb-dump` as root with `args`.
    pub fn dump(&self, db: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(find("mariadb-dump"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .arg("-uroot")
            .args(args)
            .arg(db)
            .output()
            .expect("run mariadb-dump");
        assert!(out.status.success(), "mariadb-dump failed:\n{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }
}

/// A fresh database on the shared server; dropped when the test passes, kept (and
/// named) when it fails.
pub struct MariaDb {
    pub name: String,
}

impl MariaDb {
    pub fn new(tag: &str) -> Self {
        let n = DB_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("t_{}_{}_{n}", tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id());
        server().sql("", &format!("CREATE DATABASE `{name}`"));
        Self { name }
    }

    /// A database holding the MySQL sakila schema (no rows).
    pub fn sakila(tag: &str) -> Self {
        let db = Self::new(tag);
        db.load_file(&crate::common::repo_path("tests/fixtures/sakila-mysql/schema.sql"));
        db
    }

    pub fn url(&self) -> String {
        server().url(&self.name)
    }

    pub fn sql(&self, sql: &str) -> String {
        server().sql(&self.name, sql)
    }

    /// Runs a SQL file through the client (which understands DELIMITER).
    pub fn load_file(&self, path: &Path) {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let out = server().root_cmd(&self.name).stdin(file).output().expect("run mariadb < file");
        assert!(out.status.success(), "loading {} failed:\n{}", path.display(), String::from_utf8_lossy(&out.stderr));
    }

    pub fn count(&self, table: &str) -> i64 {
        self.sql(&format!("SELECT count(*) FROM `{table}`")).parse().unwrap()
    }

    /// Every row, one INSERT per row, sorted: for "the same data" assertions (the
    /// database's name left out, so two databases compare).
    pub fn dump_data(&self) -> String {
        let raw = server().dump(
            &self.name,
            &[
                "--skip-extended-insert",
                "--no-create-info",
                "--skip-triggers",
                "--skip-comments",
                "--hex-blob",
                "--tz-utc",
            ],
        );
        let text = String::from_utf8(raw).expect("mariadb-dump --hex-blob prints text");
        let mut rows: Vec<&str> = text.lines().filter(|l| l.starts_with("INSERT INTO")).collect();
        rows.sort_unstable();
        rows.join("\n")
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("keeping MariaDB database {} on port {} for inspection", self.name, server().port);
            return;
        }
        let _ = server().root_cmd("").args(["-e", &format!("DROP DATABASE IF EXISTS `{}`", self.name)]).output();
    }
}

/// Asserts the MariaDB password never shows in an output.
pub fn assert_no_my_password(out: &Output) {
    let text = crate::common::all_output(out);
    assert!(!text.contains(MY_PASSWORD), "the MariaDB password leaked into the output:\n{text}");
}
