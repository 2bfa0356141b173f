//! A real S3-compatible server for the store tests: moto's server mode (PyPI
//! `moto[server]`, installed in a venv by scripts/test.sh) on a free port of
//! 127.0.0.1.
//!
//! One shared server per test binary with one bucket; each test works under its own
//! key prefix. moto does not check signatures by default; a test that needs that (wrong
//! credentials refused as on AWS, right ones accepted) starts a private server with
//! authentication on — an IAM user and its access key are created while moto still
//! accepts unsigned requests, then every request must carry a valid SigV4 signature.
//! (moto computes the signature of a query holding an encoded `/` differently from
//! AWS, so listings under a prefix fail there: the shared server keeps it off.) A test
//! that stops the server gets a private one too.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{free_port, repo_path};

pub const BUCKET: &str = "seed-tests";
pub const REGION: &str = "us-east-1";

pub struct Moto {
    pub port: u16,
    pub key_id: String,
    pub secret: String,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<Moto> = OnceLock::new();
static PREFIX_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The shared server (started on first use).
pub fn moto() -> &'static Moto {
    SHARED.get_or_init(|| {
        let m = Moto::start(false);
        // SAFETY: registering a plain extern "C" fn with atexit.
        unsafe { libc::atexit(stop_shared_at_exit) };
        m
    })
}

extern "C" fn stop_shared_at_exit() {
    if let Some(m) = SHARED.get() {
        m.stop();
    }
}

fn moto_server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("SEED_TEST_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let venv = repo_path("target/test-tools/moto/bin/moto_server");
    if venv.exists() {
        return venv;
    }
    panic!(
        "moto_server not found at {} (nor SEED_TEST_MOTO_SERVER). The store tests need moto's S3 server: \
         run scripts/test.sh, which installs it in a venv (python3 -m venv target/test-tools/moto && \
         target/test-tools/moto/bin/pip install 'moto[server]')",
        venv.display()
    )
}

impl Moto {
    /// A new server of its own (for tests that stop it, or that check signatures).
    pub fn start(auth: bool) -> Self {
        let bin = moto_server_bin();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server");
            let mut m = Moto { port, key_id: String::new(), secret: String::new(), child: Mutex::new(Some(child)) };
            if m.wait_up(Duration::from_secs(30)) {
                m.setup(auth);
                return m;
            }
            m.stop();
        }
        panic!("moto_server did not start");
    }

    fn wait_up(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(child) = self.child.lock().unwrap().as_mut()
                && child.try_wait().ok().flatten().is_some()
            {
                return false; // exited (port taken?)
            }
            if self.request("GET", "/moto-api/", &[], b"").is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The bucket; with `auth`, an IAM user with an allow-all policy and its key (to be
    /// required by [`Moto::enable_auth`]).
    fn setup(&mut self, auth: bool) {
        let (status, _) = self.request("PUT", &format!("/{BUCKET}"), &[], b"").unwrap();
        assert_eq!(status, 200, "create bucket");
        if !auth {
            // Checked by no one, but still a secret that must never be printed.
            self.key_id = "AKIASEEDTESTKEY".into();
            self.secret = "Seed-Test-Secret-91c2f0".into();
            return;
        }
        let iam = |body: &str| {
            let auth = "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
            let (status, text) = self
                .request(
                    "POST",
                    "/",
                    &[("Authorization", auth), ("Content-Type", "application/x-www-form-urlencoded")],
                    body.as_bytes(),
                )
                .unwrap();
            assert_eq!(status, 200, "IAM {body}: {text}");
            text
        };
        iam("Action=CreateUser&UserName=seed&Version=2010-05-08");
        let policy = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        iam(&format!("Action=PutUserPolicy&UserName=seed&PolicyName=all&PolicyDocument={policy}&Version=2010-05-08"));
        let key = iam("Action=CreateAccessKey&UserName=seed&Version=2010-05-08");
        let between = |a: &str, b: &str| key.split(a).nth(1).and_then(|r| r.split(b).next()).unwrap().to_owned();
        self.key_id = between("<AccessKeyId>", "</AccessKeyId>");
        self.secret = between("<SecretAccessKey>", "</SecretAccessKey>");
    }

    /// What moto's STS answers to `AssumeRoleWithWebIdentity` with `token` for a role
    /// `ci` allowed everything (created on first use): the XML, whose temporary
    /// credentials moto then accepts with authentication on. Call before `enable_auth`
    /// (moto takes the unsigned STS call only then).
    pub fn assume_role_with_web_identity(&self, token: &str) -> String {
        let form = |body: &str, auth: bool| {
            let sig = "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0";
            let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
            if auth {
                headers.push(("Authorization", sig));
            }
            self.request("POST", "/", &headers, body.as_bytes()).unwrap()
        };
        let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Federated%22%3A%22ci%22%7D%2C%22Action%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%7D%5D%7D";
        let all = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        // Created once per server (a second create is refused: fine).
        form(&format!("Action=CreateRole&RoleName=ci&AssumeRolePolicyDocument={trust}&Version=2010-05-08"), true);
        form(&format!("Action=PutRolePolicy&RoleName=ci&PolicyName=all&PolicyDocument={all}&Version=2010-05-08"), true);
        let (status, xml) = form(
            &format!(
                "Action=AssumeRoleWithWebIdentity&DurationSeconds=3600&RoleArn=arn:aws:iam::123456789012:role/ci\
                 &RoleSessionName=seed&Version=2011-06-15&WebIdentityToken={token}"
            ),
            false,
        );
        assert_eq!(status, 200, "AssumeRoleWithWebIdentity: {xml}");
        xml
    }

    /// From now on every request must be signed with `key_id`/`secret`.
    pub fn enable_auth(&self) {
        let (status, _) = self.request("POST", "/moto-api/reset-auth", &[], b"0").unwrap();
        assert_eq!(status, 200, "switch authentication on");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server process (SIGSTOP) with its TCP connections open: a store that
    /// stops answering. `resume` lets it go on.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = self.child.lock().unwrap().as_ref().map(std::process::Child::id).expect("the server runs");
        // SAFETY: kill with a pid of our own child and a valid signal number.
        let rc = unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), sig) };
        assert_eq!(rc, 0, "signal {sig} to moto_server");
    }

    /// Kills the server (a store that went away).
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One plain HTTP/1.1 request (unsigned: only moto's own API and the setup). The
    /// shared server answers every test of the run: on a loaded 2-core CI machine one
    /// answer has taken over 30 s, so a request that times out is sent again (the
    /// requests made here are idempotent: PUT of a whole object, GET, moto's API).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let mut tries = 0;
        loop {
            match self.request_once(method, path, headers, body) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) && tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let mut out = Vec::new();
        s.read_to_end(&mut out)?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test's own place in the bucket: `s3://seed-tests/<tag>-<n>-<pid>`.
pub struct Store<'a> {
    pub server: &'a Moto,
    pub prefix: String,
}

impl<'a> Store<'a> {
    pub fn new(tag: &str) -> Store<'static> {
        Store::on(moto(), tag)
    }

    pub fn on(server: &'a Moto, tag: &str) -> Self {
        let n = PREFIX_COUNTER.fetch_add(1, Ordering::SeqCst);
        Self { server, prefix: format!("{tag}-{n}-{}", std::process::id()) }
    }

    pub fn url(&self) -> String {
        format!("s3://{BUCKET}/{}", self.prefix)
    }

    /// `cmd` with this store as the snapshot location and the server's credentials.
    pub fn apply<'c>(&self, cmd: &'c mut assert_cmd::Command) -> &'c mut assert_cmd::Command {
        self.env(cmd);
        cmd.args(["--snapshot-dir", &self.url()])
    }

    /// The AWS variables only (for `--to`/`--from` and custom locations).
    pub fn env<'c>(&self, cmd: &'c mut assert_cmd::Command) -> &'c mut assert_cmd::Command {
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        cmd
    }

    /// `env` for a child process spawned with `std::process::Command`.
    pub fn env_std<'c>(&self, cmd: &'c mut std::process::Command) -> &'c mut std::process::Command {
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.server.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.server.secret.clone()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ENDPOINT_URL", self.server.endpoint()),
            ("HOME", std::env::temp_dir().display().to_string()),
        ]
    }

    /// Every key under the prefix, seed's hidden ones too (ListObjectsV2, independent
    /// of seed's own listing; the shared server takes unsigned requests).
    pub fn keys(&self) -> Vec<String> {
        let body = self.get(&format!("/{BUCKET}?list-type=2&prefix={}/", self.prefix));
        let strip = format!("{}/", self.prefix);
        tags(&body, "Key").into_iter().map(|k| k.strip_prefix(&strip).unwrap_or(&k).to_owned()).collect()
    }

    /// Keys of unfinished multipart uploads under the prefix (ListMultipartUploads).
    pub fn uploads(&self) -> Vec<String> {
        tags(&self.get(&format!("/{BUCKET}?uploads&prefix={}/", self.prefix)), "Key")
    }

    /// Writes `body` as `key` under the prefix, bypassing seed (a hand-made object).
    pub fn put(&self, key: &str, body: Vec<u8>) {
        let (status, text) =
            self.server.request("PUT", &format!("/{BUCKET}/{}/{key}", self.prefix), &[], &body).unwrap();
        assert_eq!(status, 200, "PUT {key}: {text}");
    }

    /// An object's bytes as stored (GET under the prefix; a chunked body joined). The
    /// request names the server's key (moto, without auth, checks no signature but
    /// answers an anonymous GET of a private object with 403).
    pub fn object(&self, key: &str) -> Vec<u8> {
        let mut s = TcpStream::connect(("127.0.0.1", self.server.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let req = format!(
            "GET /{BUCKET}/{}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nAuthorization: \
             AWS4-HMAC-SHA256 Credential={}/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=00\r\n\r\n",
            self.prefix, self.server.port, self.server.key_id
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let end = memchr::memmem::find(&out, b"\r\n\r\n").expect("an HTTP response") + 4;
        let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "GET {key}: {head}");
        let mut body = out.split_off(end);
        if head.contains("transfer-encoding: chunked") {
            let (mut joined, mut rest) = (Vec::new(), &body[..]);
            while let Some(eol) = memchr::memmem::find(rest, b"\r\n") {
                let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap();
                if size == 0 {
                    break;
                }
                joined.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
                rest = &rest[eol + 4 + size..];
            }
            body = joined;
        }
        body
    }

    fn get(&self, path: &str) -> String {
        let (status, body) = self.server.request("GET", path, &[], b"").unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// The texts of every `<tag>…</tag>` in `xml` (enough for S3 listings).
fn tags(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).filter_map(|rest| rest.split(&close).next().map(str::to_owned)).collect()
}
