//! An S3-compatible bucket (AWS, MinIO, R2, Garage...) as a snapshot location, through
//! `object_store`'s S3 client. Keys live under the prefix; seed's own objects are
//! hidden under it: `.locks/` (leases) and `.audit/` (one object per audit record).
//!
//! - New keys are multipart uploads completed with `If-None-Match: *` (`upload`):
//!   visible only whole, never over an existing key unless replacing.
//! - Reads are ranged GETs pinned to the object's ETag (`source`).
//! - Locks are lease objects written with conditional writes (`lease`).
//!
//! Two requests `object_store` 0.14 does not offer — completing a multipart upload
//! with `If-None-Match: *` and listing unfinished uploads — are signed with its SigV4
//! signer and sent on its HTTP client (`raw`).

pub mod bucket;
pub mod credentials;
pub mod lease;
mod raw;
mod source;
mod upload;
pub mod watch;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig};
use serde_json::json;

pub use bucket::Bucket;
pub use upload::Upload;

use super::{Diagnostic, ObjectInfo};
use crate::error::{Error, code};
use crate::output::plural;
use crate::redact::scrub;
use crate::snapshot::audit::AuditRecord;
use crate::snapshot::source::Source;

pub(crate) const LOCK_PREFIX: &str = ".locks/";
pub(crate) const AUDIT_PREFIX: &str = ".audit/";
const PROBE_PREFIX: &str = ".probe/";

#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    bucket: Bucket,
    cfg: bucket::Resolved,
    store: AmazonS3,
    http: HttpClient,
    /// Set once a request went unanswered (see `watch`).
    stall: Arc<watch::Stall>,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store").field("bucket", &self.inner.bucket).field("cfg", &self.inner.cfg).finish()
    }
}

/// How an `object_store` failure reads to the user; `Permission` for refused
/// credentials (exit 11), `Store` for anything on the way (exit 3).
pub(crate) fn store_error(location: &str, step: &str, e: &object_store::Error) -> Error {
    if let Some(missing) = credentials::missing(e) {
        return Error::Permission {
            what: format!("{step} {location}"),
            reason: missing.to_string(),
            hint: Some(
                "check the credential settings named above (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, the \
                 container's or the instance's role), or give AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            ),
        };
    }
    if watch::unanswered(e) {
        return stopped(location, step);
    }
    let refused =
        matches!(e, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. })
            || refuses_credentials(e);
    match e {
        _ if refused => Error::Permission {
            what: format!("{step} {location}"),
            reason: scrub(&first_line(&e.to_string())),
            hint: Some(
                "check the credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile; \
                     an expired session token too) and that they \
                     may read and write the bucket"
                    .into(),
            ),
        },
        _ => Error::Store { location: location.to_owned(), step: step.to_owned(), reason: scrub(&e.to_string()) },
    }
}

/// S3 error codes that say the credentials (key, secret, session token, their
/// signature or their region) were refused, whatever the HTTP status (often 400).
const REFUSED_CREDENTIALS: &[&str] = &[
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationHeaderMalformed",
    "InvalidSecurity",
    "MissingSecurityHeader",
    "AccessDenied",
];

/// Whether the store refused the request's credentials: one of [`REFUSED_CREDENTIALS`]
/// in the answer, or a 400 with no body at all (a HEAD's answer has none; a signed HEAD
/// carries nothing else a store could find bad: an invalid session token is the usual
/// cause).
pub(crate) fn refuses_credentials(e: &object_store::Error) -> bool {
    // The status and body are only in the error's text (object_store keeps its retry
    // error type private).
    let text = e.to_string();
    let code = text.split("<Code>").nth(1).and_then(|r| r.split("</Code>").next());
    if code.is_some_and(|c| REFUSED_CREDENTIALS.contains(&c)) {
        return true;
    }
    text.split_once("status code: 400 Bad Request:").is_some_and(|(_, body)| body.trim().is_empty())
}

/// The store stopped answering while `step` (exit 3, as for an unreachable store).
pub(crate) fn stopped(location: &str, step: &str) -> Error {
    Error::StoreStopped {
        location: location.to_owned(),
        step: step.to_owned(),
        reason: format!(
            "no answer for {}s (seed waits {}s for a connection and {}s for each byte, and asks a silent store \
             nothing more)",
            watch::IDLE.as_secs(),
            watch::CONNECT.as_secs(),
            watch::IDLE.as_secs()
        ),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

impl S3Store {
    pub fn open(bucket: &Bucket) -> Result<Self, Error> {
        Self::open_with(bucket, &bucket::ProcessEnv)
    }

    pub fn open_with(bucket: &Bucket, env: &dyn bucket::Env) -> Result<Self, Error> {
        let cfg = bucket::resolve(env)?;
        if matches!(cfg.credentials, bucket::CredentialSource::None) {
            return Err(Error::Permission {
                what: format!("reaching {bucket}"),
                reason: "no AWS credentials: none in the environment or the profile files, no web identity or \
                         container credentials, and instance metadata switched off (AWS_EC2_METADATA_DISABLED)"
                    .into(),
                hint: Some(
                    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE with \
                     ~/.aws/credentials, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE"
                        .into(),
                ),
            });
        }
        // TLS goes through rustls on ring (installed once; a second install is a no-op).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = credentials::with_ca_bundle(watch::options(cfg.allow_http), cfg.ca_bundle.as_deref())?;
        let stall = Arc::new(watch::Stall::default());
        // A failed request is tried again within 30 s; one with no answer is not (`watch`).
        let retry = RetryConfig { max_retries: 2, retry_timeout: Duration::from_secs(30), ..RetryConfig::default() };
        let builder = || {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&bucket.name)
                .with_region(&cfg.region)
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_client_options(options.clone())
                .with_http_connector(watch::Connector { stall: Arc::clone(&stall) })
                .with_retry(retry.clone())
                // AWS itself: bucket.s3.region.amazonaws.com; an explicit endpoint (MinIO,
                // Garage, R2...): path style, endpoint/bucket/key.
                .with_virtual_hosted_style_request(cfg.endpoint.is_none());
            if let Some(endpoint) = &cfg.endpoint {
                b = b.with_endpoint(endpoint);
            }
            b
        };
        let unusable = |e: object_store::Error| {
            Error::usage_hint(
                format!("cannot use {bucket}: {}", scrub(&e.to_string())),
                "check AWS_REGION, AWS_ENDPOINT_URL and the credential settings",
            )
        };
        // The client's own provider for the source, named in its failures, for the
        // store and for seed's signed requests alike.
        let chosen = credentials::configure(builder(), &cfg.credentials).build().map_err(unusable)?;
        let provider = credentials::Named::provider(Arc::clone(chosen.credentials()), cfg.credential_source());
        let store = builder().with_credentials(provider).build().map_err(unusable)?;
        let http = watch::Connector { stall: Arc::clone(&stall) }
            .connect(&options)
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {}", scrub(&e.to_string()))))?;
        Ok(Self { inner: Arc::new(Inner { bucket: bucket.clone(), cfg, store, http, stall }) })
    }

    pub fn bucket(&self) -> &Bucket {
        &self.inner.bucket
    }

    /// Whether `other` reaches the same store.
    pub fn same_endpoint(&self, other: &S3Store) -> bool {
        self.inner.cfg.endpoint == other.inner.cfg.endpoint && self.inner.cfg.region == other.inner.cfg.region
    }

    pub(crate) fn store(&self) -> &AmazonS3 {
        &self.inner.store
    }

    pub(crate) fn path(&self, key: &str) -> ObjPath {
        ObjPath::from(format!("{}{key}", self.inner.bucket.prefix))
    }

    /// `s3://bucket/prefix/key`.
    pub fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.inner.bucket.name, self.inner.bucket.prefix)
    }

    pub(crate) fn err(&self, step: &str, key: Option<&str>, e: &object_store::Error) -> Error {
        if watch::unanswered(e) {
            // A download's body that stopped coming: later requests need not wait too.
            self.inner.stall.mark();
        }
        let location = key.map_or_else(|| self.inner.bucket.to_string(), |k| self.url_of(k));
        store_error(&location, step, e)
    }

    /// Whether the bucket exists (a signed HEAD on it; refused credentials are an error).
    pub async fn bucket_exists(&self) -> Result<bool, Error> {
        let resp = self.raw(http::Method::HEAD, None, &[], &[], bytes::Bytes::new(), "checking the bucket").await?;
        match resp.status.as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ if resp.refuses_credentials() => Err(resp.permission_error(self, "checking the bucket")),
            _ => Err(resp.store_error(self, "checking the bucket")),
        }
    }

    pub async fn require_bucket(&self) -> Result<(), Error> {
        if self.bucket_exists().await? {
            return Ok(());
        }
        Err(self.missing_bucket())
    }

    pub(crate) fn missing_bucket(&self) -> Error {
        Error::usage_hint(
            format!("the bucket of {} does not exist", self.inner.bucket),
            "create it first (e.g. `aws s3 mb s3://BUCKET`, with AWS_ENDPOINT_URL for MinIO and the like), or fix \
             --snapshot-dir (SEED_SNAPSHOT_DIR)",
        )
    }

    /// The keys directly under the prefix (not seed's hidden ones, nothing deeper),
    /// whatever bytes they hold. A "folder" directly under the prefix named `.` or
    /// `..` or holding a control character (`PREFIX/./x.seed.gz`) is listed too, as
    /// one entry ending in `/`: no snapshot is stored so, and a tool that normalises
    /// paths could take it for one that is.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, Error> {
        let Some(listing) = raw::list(self, "", true, "listing").await? else {
            return Ok(vec![]); // a missing bucket lists as empty, like a missing directory
        };
        let mut out: Vec<ObjectInfo> = listing
            .objects
            .into_iter()
            .filter(|o| !o.key.starts_with('.') || o.key.chars().any(char::is_control))
            .map(|o| ObjectInfo { key: o.key, size: o.size, modified: o.modified.into() })
            .collect();
        out.extend(listing.folders.into_iter().filter(|f| odd_folder(f)).map(|key| ObjectInfo {
            key,
            size: 0,
            modified: SystemTime::UNIX_EPOCH,
        }));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, Error> {
        match self.store().head(&self.path(key)).await {
            Ok(meta) => {
                Ok(Some(ObjectInfo { key: key.to_owned(), size: meta.size, modified: meta.last_modified.into() }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("reading", Some(key), &e)),
        }
    }

    pub async fn open_key(&self, key: &str) -> Result<Option<Arc<dyn Source>>, Error> {
        Ok(source::S3Source::open(self, key).await?.map(|s| Arc::new(s) as Arc<dyn Source>))
    }

    pub async fn stage(&self, key: &str) -> Result<Upload, Error> {
        Ok(Upload::new(self.clone(), key.to_owned()))
    }

    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        if self.head(key).await?.is_none() {
            return Ok(false);
        }
        self.store().delete(&self.path(key)).await.map_err(|e| self.err("deleting", Some(key), &e))?;
        Ok(true)
    }

    pub async fn lock(&self, name: &str, mode: super::Mode, wait: bool, command: &str) -> Result<lease::Lease, Error> {
        lease::acquire(self, name, mode, wait, command).await
    }

    /// One object per record (`.audit/<time>-<pid>-<random>.json`): objects cannot be
    /// appended to, and one object per record never loses a concurrent one.
    pub async fn audit(&self, record: &AuditRecord) -> Result<(), (String, String)> {
        let stamp = record.ts.replace([':', '-'], "").replace('.', "");
        let key = format!("{AUDIT_PREFIX}{stamp}-{}-{}.json", record.pid, unique_id());
        let body = serde_json::to_vec(record).unwrap_or_default();
        let put = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
        self.store()
            .put_opts(&self.path(&key), PutPayload::from(body), put)
            .await
            .map(drop)
            .map_err(|e| (self.url_of(AUDIT_PREFIX), first_line(&scrub(&e.to_string()))))
    }

    /// Credentials, the bucket, conditional writes (really honoured?), unfinished
    /// uploads and leases. Writes only probe objects under `.probe/`, removed again.
    pub async fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut checks = Vec::new();
        let where_ = self.inner.bucket.to_string();
        let endpoint = self.inner.cfg.endpoint.clone().unwrap_or_else(|| format!("AWS ({})", self.inner.cfg.region));
        match self.bucket_exists().await {
            Ok(true) => checks.push(Diagnostic::ok(
                "snapshot store",
                format!("{where_} at {endpoint}, credentials from {}", self.inner.cfg.credential_source()),
                json!({ "url": where_, "endpoint": endpoint, "region": self.inner.cfg.region,
                        "credentials": self.inner.cfg.credential_source() }),
            )),
            Ok(false) => {
                checks.push(Diagnostic::fail(
                    "snapshot store",
                    format!("{where_}: the bucket does not exist at {endpoint}"),
                    code::USAGE,
                ));
                return checks;
            }
            Err(e) => {
                // Every line: a permission error's reason is on its second.
                let detail = e.to_string().lines().map(str::trim).collect::<Vec<_>>().join(": ");
                checks.push(Diagnostic::fail("snapshot store", detail, e.exit_code()));
                return checks;
            }
        }
        checks.push(self.check_conditional_writes().await);
        checks.push(self.check_uploads().await);
        checks.push(lease::diagnostic(self).await);
        checks
    }

    /// Does the store refuse a second create of one key, for a plain PUT and for a
    /// multipart completion? A store that ignores `If-None-Match` would let `create`
    /// overwrite a snapshot (and two creates race): that is a failure, not a warning.
    async fn check_conditional_writes(&self) -> Diagnostic {
        let key = format!("{PROBE_PREFIX}{}", unique_id());
        let result = async {
            let path = self.path(&key);
            let create = || PutOptions { mode: PutMode::Create, ..PutOptions::default() };
            self.store()
                .put_opts(&path, PutPayload::from_static(b"probe"), create())
                .await
                .map_err(|e| self.err("writing a probe object", Some(&key), &e))?;
            let put_refused = matches!(
                self.store().put_opts(&path, PutPayload::from_static(b"again"), create()).await,
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. })
            );
            let complete_refused = upload::probe_conditional_complete(self, &key).await?;
            Ok::<_, Error>((put_refused, complete_refused))
        }
        .await;
        let _ = self.store().delete(&self.path(&key)).await;
        match result {
            Ok((true, true)) => Diagnostic::ok(
                "conditional writes",
                "honoured (If-None-Match: * refuses an existing key, also on multipart completion)",
                json!({ "put": true, "complete_multipart": true }),
            ),
            Ok((put, complete)) => Diagnostic::fail(
                "conditional writes",
                format!(
                    "this store ignores If-None-Match: * on {}: `snapshot create` could overwrite an existing snapshot \
                     and two creates of one name could both succeed (the last one wins, whole); leases do not exclude \
                     each other either. Use a store that honours conditional writes (AWS S3, MinIO, R2...)",
                    match (put, complete) {
                        (false, false) => "PUT and multipart completion",
                        (false, true) => "PUT",
                        _ => "multipart completion",
                    }
                ),
                code::USAGE,
            ),
            Err(e) => Diagnostic::fail("conditional writes", first_line(&e.to_string()), e.exit_code()),
        }
    }

    async fn check_uploads(&self) -> Diagnostic {
        match raw::list_uploads(self).await {
            Ok(uploads) => {
                let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
                let stale: Vec<&raw::UploadEntry> = uploads.iter().filter(|u| u.initiated < hour_ago).collect();
                if stale.is_empty() {
                    Diagnostic::ok(
                        "unfinished uploads",
                        if uploads.is_empty() {
                            "none".to_owned()
                        } else {
                            format!("{} in progress", plural(uploads.len() as u64, "upload", "uploads"))
                        },
                        json!({ "in_progress": uploads.len(), "stale": 0 }),
                    )
                } else {
                    let keys: Vec<&str> = stale.iter().take(10).map(|u| u.key.as_str()).collect();
                    let mut d = Diagnostic::warn(
                        "unfinished uploads",
                        format!(
                            "{} older than an hour (a create killed with SIGKILL or a lost machine; invisible, but \
                             billed until aborted — add a lifecycle rule AbortIncompleteMultipartUpload): {}",
                            plural(stale.len() as u64, "upload", "uploads"),
                            keys.join(", ")
                        ),
                    );
                    d.data = json!({ "in_progress": uploads.len(), "stale": stale.len(), "keys": keys });
                    d
                }
            }
            Err(e) => {
                Diagnostic::warn("unfinished uploads", format!("could not list them: {}", first_line(&e.to_string())))
            }
        }
    }

    /// Sends one signed request (see `raw`).
    pub(crate) async fn raw(
        &self,
        method: http::Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: bytes::Bytes,
        step: &str,
    ) -> Result<raw::Response, Error> {
        raw::send(self, method, key, query, headers, body, step).await
    }

    pub(crate) fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub(crate) fn stall(&self) -> &watch::Stall {
        &self.inner.stall
    }

    pub(crate) fn resolved(&self) -> &bucket::Resolved {
        &self.inner.cfg
    }

    /// The objects under `sub` (below the prefix), whatever their keys hold.
    pub(crate) async fn list_under(&self, sub: &str) -> Result<Vec<raw::Listed>, Error> {
        Ok(raw::list(self, sub, false, "listing").await?.map(|l| l.objects).unwrap_or_default())
    }
}

/// A folder directly under the prefix that no tool should take for a plain one: `.`,
/// `..`, or a name holding a control character (seed's own are `.locks/`, `.audit/`,
/// `.probe/`).
fn odd_folder(folder: &str) -> bool {
    let name = folder.trim_end_matches('/');
    name == "." || name == ".." || name.chars().any(char::is_control)
}

/// A name no other process picks: pid, clock and a counter.
pub(crate) fn unique_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{:x}-{nanos:x}-{:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// How long ago an object was last written, for lease ages.
pub(crate) fn age(modified: chrono::DateTime<chrono::Utc>) -> Duration {
    SystemTime::now().duration_since(modified.into()).unwrap_or_default()
}
