//! Signed S3 requests that `object_store` 0.14 does not offer: HEAD on the bucket,
//! CompleteMultipartUpload with `If-None-Match: *`, ListMultipartUploads. Signed by
//! `object_store`'s own SigV4 signer, sent on its HTTP client (same TLS, same
//! timeouts). Response bodies are bounded and parsed as untrusted XML.

use bytes::Bytes;
use object_store::aws::AwsAuthorizer;
use object_store::client::HttpRequestBody;
use serde::Deserialize;

use super::S3Store;
use crate::error::Error;
use crate::redact::scrub;
use crate::untrusted::shown;

/// Largest response body read (XML listings and errors are far smaller).
const MAX_BODY: usize = 8 << 20;

pub struct Response {
    pub status: http::StatusCode,
    pub body: Bytes,
}

impl Response {
    /// The S3 error code in the body (`PreconditionFailed`, `NoSuchBucket`...), if any.
    pub fn error_code(&self) -> Option<String> {
        #[derive(Deserialize)]
        struct E {
            #[serde(rename = "Code")]
            code: String,
        }
        quick_xml::de::from_reader::<_, E>(&self.body[..]).ok().map(|e| e.code)
    }

    /// Whether the store refused the credentials: 401 or 403, or an error code that
    /// says so (`InvalidToken` comes with a 400), or a 400 without a body (a HEAD's).
    pub fn refuses_credentials(&self) -> bool {
        match self.status.as_u16() {
            401 | 403 => true,
            400 => {
                self.body.iter().all(u8::is_ascii_whitespace)
                    || self.error_code().is_some_and(|c| super::REFUSED_CREDENTIALS.contains(&c.as_str()))
            }
            _ => false,
        }
    }

    fn what(&self) -> String {
        let code = self.error_code().map(|c| format!(" {}", shown(&c, 80))).unwrap_or_default();
        format!("HTTP {}{code}", self.status.as_u16())
    }

    pub fn store_error(&self, store: &S3Store, step: &str) -> Error {
        Error::Store { location: store.bucket().to_string(), step: step.to_owned(), reason: self.what() }
    }

    pub fn permission_error(&self, store: &S3Store, step: &str) -> Error {
        Error::Permission {
            what: format!("{step} {}", store.bucket()),
            reason: format!("the store refused the credentials ({})", self.what()),
            hint: Some(
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN (or the profile; an expired session \
                 token too) and that they may use the bucket"
                    .into(),
            ),
        }
    }
}

pub async fn send(
    store: &S3Store,
    method: http::Method,
    key: Option<&str>,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    body: Bytes,
    step: &str,
) -> Result<Response, Error> {
    let cfg = store.resolved();
    // The same addressing as the store's client: path style on an explicit endpoint,
    // virtual-hosted on AWS.
    let (base, bucket_in_path) = match &cfg.endpoint {
        Some(e) => (e.clone(), true),
        None => (format!("https://{}.s3.{}.amazonaws.com", store.bucket().name, cfg.region), false),
    };
    let mut url = url::Url::parse(&base).map_err(|e| Error::Internal(format!("endpoint URL: {e}")))?;
    {
        let mut segments =
            url.path_segments_mut().map_err(|()| Error::Internal("endpoint URL cannot take a path".into()))?;
        segments.pop_if_empty();
        if bucket_in_path {
            segments.push(&store.bucket().name);
        }
        if let Some(key) = key {
            let full = format!("{}{key}", store.bucket().prefix);
            segments.extend(full.split('/'));
        }
    }
    if !query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in query {
            pairs.append_pair(k, v);
        }
    }
    let mut builder = http::Request::builder().method(method).uri(url.as_str());
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let mut request = builder
        .body(HttpRequestBody::from(body))
        .map_err(|e| Error::Internal(format!("building an S3 request: {e}")))?;
    // The store's own provider: keys, or what STS, the container or the instance gave.
    let credential = store
        .store()
        .credentials()
        .get_credential()
        .await
        .map_err(|e| super::store_error(&store.bucket().to_string(), step, &e))?;
    AwsAuthorizer::new(&credential, "s3", &cfg.region)
        .try_authorize(&mut request, None)
        .map_err(|e| Error::Internal(format!("signing an S3 request: {}", scrub(&e.to_string()))))?;
    let location = store.bucket().to_string();
    let net = |e: &(dyn std::error::Error + 'static)| {
        if super::watch::unanswered(e) {
            store.stall().mark();
            return super::stopped(&location, step);
        }
        Error::Store { location: location.clone(), step: step.to_owned(), reason: scrub(&e.to_string()) }
    };
    let response = store.http().execute(request).await.map_err(|e| net(&e))?;
    let status = response.status();
    let mut stream = response.into_body().bytes_stream();
    let mut body = Vec::new();
    use futures_util::StreamExt;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| net(&e))?;
        if body.len() + chunk.len() > MAX_BODY {
            return Err(Error::Store {
                location: location.clone(),
                step: step.to_owned(),
                reason: "the response is larger than 8 MiB".into(),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response { status, body: Bytes::from(body) })
}

/// One object of a listing.
#[derive(Debug)]
pub struct Listed {
    /// The key below the bucket's prefix, decoded; bytes that are not UTF-8 are shown
    /// as U+FFFD (such a key is never a snapshot's).
    pub key: String,
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// A listing: the objects, and the "folders" (common prefixes, below the bucket's
/// prefix) when listed with a delimiter.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Listed>,
    pub folders: Vec<String>,
}

/// Every object under `sub` (below the bucket's prefix), every page of
/// ListObjectsV2, with keys URL-encoded by the store (an XML answer cannot carry every
/// byte a key may hold) and decoded here: any key lists, whatever it holds, so one odd
/// object never stops a listing. `folders`: stop at the next '/' (one level).
/// `Ok(None)`: the bucket does not exist.
pub async fn list(store: &S3Store, sub: &str, folders: bool, step: &str) -> Result<Option<Listing>, Error> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(rename = "Contents", default)]
        contents: Vec<Content>,
        #[serde(rename = "CommonPrefixes", default)]
        prefixes: Vec<Prefix>,
        #[serde(rename = "IsTruncated", default)]
        truncated: bool,
        #[serde(rename = "NextContinuationToken")]
        next: Option<String>,
        #[serde(rename = "EncodingType")]
        encoding: Option<String>,
    }
    #[derive(Deserialize)]
    struct Content {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Size", default)]
        size: u64,
        #[serde(rename = "LastModified", default)]
        modified: String,
    }
    #[derive(Deserialize)]
    struct Prefix {
        #[serde(rename = "Prefix")]
        prefix: String,
    }
    let base = store.bucket().prefix.clone();
    let full = format!("{base}{sub}");
    let mut out = Listing::default();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![("list-type", "2"), ("prefix", full.as_str()), ("encoding-type", "url")];
        if folders {
            query.push(("delimiter", "/"));
        }
        if let Some(t) = &token {
            query.push(("continuation-token", t.as_str()));
        }
        let resp = store.raw(http::Method::GET, None, &query, &[], Bytes::new(), step).await?;
        match resp.status.as_u16() {
            200 => {}
            404 if resp.error_code().as_deref() == Some("NoSuchBucket") => return Ok(None),
            _ if resp.refuses_credentials() => return Err(resp.permission_error(store, step)),
            _ => return Err(resp.store_error(store, step)),
        }
        let page: Page = quick_xml::de::from_reader(&resp.body[..]).map_err(|e| Error::Store {
            location: store.bucket().to_string(),
            step: step.to_owned(),
            reason: format!("unreadable answer: {e}"),
        })?;
        let encoded = page.encoding.as_deref() == Some("url");
        let relative = |raw: &str| {
            let key = if encoded { url_decoded(raw) } else { raw.to_owned() };
            key.strip_prefix(base.as_str()).map(str::to_owned)
        };
        for c in page.contents {
            let Some(key) = relative(&c.key) else { continue };
            let modified = chrono::DateTime::parse_from_rfc3339(&c.modified)
                .map_or(chrono::DateTime::UNIX_EPOCH, |t| t.with_timezone(&chrono::Utc));
            out.objects.push(Listed { key, size: c.size, modified });
        }
        out.folders.extend(page.prefixes.iter().filter_map(|p| relative(&p.prefix)));
        match page.next.filter(|_| page.truncated) {
            // A token that does not move on would loop for ever.
            Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
            _ => break,
        }
    }
    Ok(Some(out))
}

/// A key as the store URL-encodes it in a listing: `%XX` is a byte, `+` a space.
fn url_decoded(s: &str) -> String {
    // `+` is a space in form encoding; an encoded plus (`%2B`) is decoded after.
    percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// One unfinished multipart upload under the prefix.
#[derive(Debug)]
pub struct UploadEntry {
    pub key: String,
    pub initiated: chrono::DateTime<chrono::Utc>,
}

/// Unfinished multipart uploads under the prefix (first 1,000: enough to report).
pub async fn list_uploads(store: &S3Store) -> Result<Vec<UploadEntry>, Error> {
    #[derive(Deserialize)]
    struct Listing {
        #[serde(rename = "Upload", default)]
        uploads: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Key")]
        key: String,
        #[serde(rename = "Initiated")]
        initiated: String,
    }
    let prefix = store.bucket().prefix.clone();
    let step = "listing unfinished uploads";
    let resp =
        store.raw(http::Method::GET, None, &[("uploads", ""), ("prefix", &prefix)], &[], Bytes::new(), step).await?;
    match resp.status.as_u16() {
        200 => {}
        _ if resp.refuses_credentials() => return Err(resp.permission_error(store, step)),
        _ => return Err(resp.store_error(store, step)),
    }
    let listing: Listing = quick_xml::de::from_reader(&resp.body[..]).map_err(|e| Error::Store {
        location: store.bucket().to_string(),
        step: step.to_owned(),
        reason: format!("unreadable answer: {e}"),
    })?;
    Ok(listing
        .uploads
        .into_iter()
        .map(|u| UploadEntry {
            key: u.key,
            initiated: chrono::DateTime::parse_from_rfc3339(&u.initiated)
                .map_or_else(|_| chrono::Utc::now(), |t| t.with_timezone(&chrono::Utc)),
        })
        .collect())
}

/// Completes upload `upload_id` of `key` from its parts (number, ETag); with `create`,
/// only if the key does not exist (`If-None-Match: *`). `Ok(false)`: it exists.
pub async fn complete(
    store: &S3Store,
    key: &str,
    upload_id: &str,
    parts: &[(usize, String)],
    create: bool,
) -> Result<bool, Error> {
    let mut xml = String::from("<CompleteMultipartUpload>");
    for (n, etag) in parts {
        let etag = quick_xml::escape::escape(etag.as_str());
        xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
    }
    xml.push_str("</CompleteMultipartUpload>");
    let headers: &[(&str, &str)] = if create { &[("If-None-Match", "*")] } else { &[] };
    let step = "completing the upload";
    for attempt in 0..3 {
        let resp = store
            .raw(http::Method::POST, Some(key), &[("uploadId", upload_id)], headers, Bytes::from(xml.clone()), step)
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) if attempt < 2 => {
                tracing::debug!("completing the upload of {key} failed ({e}); retrying");
                tokio::time::sleep(std::time::Duration::from_millis(300 << attempt)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let code = resp.error_code();
        return match resp.status.as_u16() {
            // S3 may answer 200 with an error document when the completion fails late.
            200 if code.is_none() => Ok(true),
            412 => Ok(false),
            409 if code.as_deref() == Some("ConditionalRequestConflict") && attempt < 2 => {
                tokio::time::sleep(std::time::Duration::from_millis(300 << attempt)).await;
                continue;
            }
            _ if resp.refuses_credentials() => Err(resp.permission_error(store, step)),
            _ => Err(Error::Store { location: store.url_of(key), step: step.to_owned(), reason: resp.what() }),
        };
    }
    Err(Error::Store { location: store.url_of(key), step: step.to_owned(), reason: "gave up after 3 attempts".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_keys_are_decoded_byte_for_byte() {
        assert_eq!(url_decoded("a%1B%5B2J%01%7F+b%2B%25.seed.gz"), "a\u{1b}[2J\u{1}\u{7f} b+%.seed.gz");
        assert_eq!(url_decoded("%2E/v.seed.gz"), "./v.seed.gz");
        // Not UTF-8, or a stray '%': kept visible, never a panic.
        assert_eq!(url_decoded("x%FFy%zz%4"), "x\u{fffd}y%zz%4");
    }
}
