//! Where CI runners get AWS credentials from, played locally for the store tests:
//! one small HTTP server (plain, or TLS with a certificate authority made for the
//! test by `openssl`) answering as the EC2 instance metadata service, a container
//! credentials endpoint, or STS. The credentials it hands out are real ones of the
//! test's moto server (issued by moto's own STS `AssumeRoleWithWebIdentity` before
//! moto starts checking signatures), so a command that succeeds proves seed signed
//! with exactly what the provider returned, session token included.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Temporary credentials, as moto's STS issued them.
#[derive(Debug, Clone)]
pub struct TempCreds {
    pub key_id: String,
    pub secret: String,
    pub token: String,
    pub expiration: String,
    /// STS's whole answer (what the STS endpoint serves back).
    pub sts_xml: String,
}

impl TempCreds {
    pub fn from_sts(xml: &str) -> Self {
        let tag = |t: &str| {
            xml.split(&format!("<{t}>"))
                .nth(1)
                .and_then(|r| r.split(&format!("</{t}>")).next())
                .unwrap_or_else(|| panic!("no <{t}> in {xml}"))
                .to_owned()
        };
        Self {
            key_id: tag("AccessKeyId"),
            secret: tag("SecretAccessKey"),
            token: tag("SessionToken"),
            expiration: tag("Expiration"),
            sts_xml: xml.to_owned(),
        }
    }

    /// The JSON the instance metadata and container endpoints answer with.
    pub fn json(&self) -> String {
        serde_json::json!({
            "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": self.key_id,
            "SecretAccessKey": self.secret, "Token": self.token, "Expiration": self.expiration,
        })
        .to_string()
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// A server on 127.0.0.1 answering every request with `handler`, on its own thread.
pub struct CredServer {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    tls: bool,
}

impl CredServer {
    /// Plain HTTP (instance metadata and container endpoints are http).
    pub fn http(handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self::start(None, Arc::new(handler))
    }

    /// HTTPS with the certificate of `ca` (STS is https only).
    pub fn https(ca: &TestCa, handler: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self::start(Some(ca.server_config()), Arc::new(handler))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (log, is_tls) = (Arc::clone(&seen), tls.is_some());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (handler, log, tls) = (Arc::clone(&handler), Arc::clone(&log), tls.clone());
                std::thread::spawn(move || {
                    let _ = match tls {
                        Some(config) => {
                            let conn = rustls::ServerConnection::new(config).unwrap();
                            serve(rustls::StreamOwned::new(conn, stream), &*handler, &log)
                        }
                        None => serve(stream, &*handler, &log),
                    };
                });
            }
        });
        Self { port, seen, tls: is_tls }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", if self.tls { "https" } else { "http" }, self.port)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// One HTTP/1.1 exchange (the clients here send one request per connection or reuse
/// it: every request on it is answered).
fn serve<S: Read + Write>(stream: S, handler: &Handler, log: &Mutex<Vec<Seen>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target) =
            (parts.next().unwrap_or_default().to_owned(), parts.next().unwrap_or_default().to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let seen = Seen { method, target, headers };
        let length: usize = seen.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        log.lock().unwrap().push(seen.clone());
        let (status, answer) = handler(&seen);
        let out = reader.get_mut();
        write!(
            out,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{answer}",
            answer.len()
        )?;
        out.flush()?;
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed, made
/// with the `openssl` command line tool in a temporary directory.
pub struct TestCa {
    pub dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for args in [
            &["req", "-x509"][..],
            &["req"],
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "leaf.pem",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
            ],
            &["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"],
            &["pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key", "-outform", "DER", "-out", "leaf.key.der"],
        ] {
            let mut cmd = Command::new("openssl");
            cmd.current_dir(d).args(args);
            match args {
                ["req", "-x509"] => cmd.args(ec).args([
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=seed test CA",
                ]),
                ["req"] => cmd.args(ec).args(["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]),
                _ => &mut cmd,
            };
            let out =
                cmd.output().expect("openssl is needed to make the test's certificates (apt-get install openssl)");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Self { dir }
    }

    /// The CA certificate (PEM), for `AWS_CA_BUNDLE`.
    pub fn bundle(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let read = |f: &str| std::fs::read(self.dir.path().join(f)).unwrap();
        let cert = rustls::pki_types::CertificateDer::from(read("leaf.der"));
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(read("leaf.key.der").into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        Arc::new(config)
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
