//! The HTTP client every request to the store goes through (`object_store`'s own and
//! seed's signed ones), so a store that stops answering — a server stopped with its
//! TCP connections open, a dead proxy — ends the command in bounded time:
//!
//! - connecting takes at most [`CONNECT`];
//! - an answer's first byte, and every next one, comes within [`IDLE`] (the HTTP
//!   client's read timeout, which also bounds a download's body);
//! - a request is sent and answered within [`deadline`] of its size ([`IDLE`] plus its
//!   bytes at [`MIN_RATE`]): a store that takes an upload too slowly to finish is as
//!   good as stopped;
//! - once one request has gone unanswered so, the store is taken for stopped: every
//!   later request of this command fails at once instead of waiting again (retries,
//!   resumed downloads, a restore retried as a whole, aborting the upload on the way
//!   out), so the command ends with exit 3 about [`IDLE`] after the store stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use object_store::ClientOptions;
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpResponse, HttpService, ReqwestConnector,
};

/// Longest wait for a TCP (and TLS) connection.
pub const CONNECT: Duration = Duration::from_secs(5);
/// Longest wait for an answer's first byte, and between two bytes of it.
pub const IDLE: Duration = Duration::from_secs(20);
/// Slowest transfer a request is given time for, in bytes per second.
pub const MIN_RATE: u64 = 256 << 10;
/// Longest any request may take, its body included (a backstop: the deadlines above
/// end a stopped store's requests long before).
const CAP: Duration = Duration::from_secs(30 * 60);

/// How long a request of `bytes` (sent or asked for) may take until its answer starts.
pub fn deadline(bytes: u64) -> Duration {
    IDLE + Duration::from_secs(bytes.div_ceil(MIN_RATE))
}

/// The HTTP client's options: the timeouts above, plain http when allowed.
pub fn options(allow_http: bool) -> ClientOptions {
    ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(CONNECT)
        .with_read_timeout(IDLE)
        .with_timeout(CAP)
}

/// Whether the store stopped answering during this command.
#[derive(Debug, Default)]
pub struct Stall(AtomicBool);

impl Stall {
    pub fn stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether `e` (anywhere in its chain) is a request that went unanswered: a timeout,
/// or a request refused because the store had stopped answering.
pub fn unanswered(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = at {
        if err.downcast_ref::<HttpError>().is_some_and(|h| h.kind() == HttpErrorKind::Timeout)
            || err.downcast_ref::<Stopped>().is_some()
            || err.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        at = err.source();
    }
    false
}

/// Why a request was not sent, or given up.
#[derive(Debug, thiserror::Error)]
#[error(
    "no answer from the store within {}s (it stopped answering; seed waits {}s for a connection and {}s for each byte)",
    waited.as_secs(), CONNECT.as_secs(), IDLE.as_secs()
)]
pub struct Stopped {
    waited: Duration,
}

/// Makes [`Watched`] clients.
#[derive(Debug)]
pub struct Connector {
    pub stall: Arc<Stall>,
}

impl HttpConnector for Connector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        let inner = ReqwestConnector {}.connect(options)?;
        Ok(HttpClient::new(Watched { inner, stall: Arc::clone(&self.stall) }))
    }
}

/// reqwest with the deadlines and the stopped-store rule of the module documentation.
#[derive(Debug)]
struct Watched {
    inner: HttpClient,
    stall: Arc<Stall>,
}

#[async_trait::async_trait]
impl HttpService for Watched {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        // Not retried (`Unknown`): the store is known to be stopped.
        let refuse = |waited| HttpError::new(HttpErrorKind::Unknown, Stopped { waited });
        if self.stall.stopped() {
            return Err(refuse(IDLE));
        }
        let bytes = req.body().content_length() as u64 + asked_for(&req);
        let limit = deadline(bytes);
        match tokio::time::timeout(limit, self.inner.execute(req)).await {
            Ok(Err(e)) if e.kind() == HttpErrorKind::Timeout => {
                self.stall.mark();
                Err(e)
            }
            Ok(answer) => answer,
            Err(_) => {
                self.stall.mark();
                Err(refuse(limit))
            }
        }
    }
}

/// Bytes a ranged GET asks for (`Range: bytes=A-B`), else 0.
fn asked_for(req: &HttpRequest) -> u64 {
    let Some(range) = req.headers().get(http::header::RANGE).and_then(|v| v.to_str().ok()) else { return 0 };
    let Some((a, b)) = range.strip_prefix("bytes=").and_then(|r| r.split_once('-')) else { return 0 };
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(a), Ok(b)) if b >= a => b - a + 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_grow_with_size() {
        assert_eq!(deadline(0), IDLE);
        assert_eq!(deadline(8 << 20), IDLE + Duration::from_secs(32));
        assert!(deadline(80 << 20) < CAP);
        let req = http::Request::builder()
            .header(http::header::RANGE, "bytes=100-1048675")
            .body(object_store::client::HttpRequestBody::empty())
            .unwrap();
        assert_eq!(asked_for(&req), 1 << 20);
    }

    #[test]
    fn timeouts_and_refusals_read_as_unanswered() {
        let e = HttpError::new(HttpErrorKind::Timeout, std::io::Error::other("x"));
        assert!(unanswered(&e));
        let e = HttpError::new(HttpErrorKind::Unknown, Stopped { waited: IDLE });
        assert!(unanswered(&e));
        assert!(!unanswered(&HttpError::new(HttpErrorKind::Request, std::io::Error::other("reset"))));
    }
}
