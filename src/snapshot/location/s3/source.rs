//! An object as a snapshot `Source`: its size and ETag taken once at opening, every
//! range a GET pinned to that ETag (`If-Match`), so a snapshot replaced or deleted
//! while it is read is an error, never a mix of two objects.
//!
//! Opening fetches the first MiB (a header read needs no more); a range is fetched
//! lazily beyond that: a first window of 1 MiB, then windows of up to 64 MiB, each streamed through a bounded channel by
//! a task (memory stays flat; the next bytes arrive while the reader decompresses). A
//! window cut by a network failure is resumed where it stopped (twice), then the read
//! fails as a store error: the caller (restore) rolls back.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use tokio::sync::mpsc;

use super::S3Store;
use crate::error::Error;

const FIRST_WINDOW: u64 = 1 << 20;
const WINDOW: u64 = 64 << 20;
/// Chunks buffered ahead of the reader (each a network read, typically 16-64 KiB).
const AHEAD: usize = 64;
const RESUMES: u32 = 2;

pub struct S3Source {
    store: S3Store,
    key: String,
    url: PathBuf,
    size: u64,
    etag: Option<String>,
    /// The object's first bytes, fetched at opening.
    head: Bytes,
}

impl S3Source {
    /// Opens `key` with one ranged GET of its first MiB (size, ETag and the bytes a
    /// header read needs first); `None`: no such object.
    pub async fn open(store: &S3Store, key: &str) -> Result<Option<Self>, Error> {
        let path = store.path(key);
        let options = GetOptions { range: Some(GetRange::Bounded(0..FIRST_WINDOW)), ..GetOptions::default() };
        let (meta, head) = match store.store().get_opts(&path, options).await {
            Ok(got) => {
                let meta = got.meta.clone();
                let head = got.bytes().await.map_err(|e| store.err("opening", Some(key), &e))?;
                (meta, head)
            }
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            // An empty object has no first byte to range over: its size says enough.
            Err(_) => match store.store().head(&path).await {
                Ok(m) => (m, Bytes::new()),
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(store.err("opening", Some(key), &e)),
            },
        };
        let head = head.slice(..head.len().min(usize::try_from(meta.size).unwrap_or(usize::MAX)));
        Ok(Some(Self {
            store: store.clone(),
            key: key.to_owned(),
            url: PathBuf::from(store.url_of(key)),
            size: meta.size,
            etag: meta.e_tag,
            head,
        }))
    }
}

impl crate::snapshot::source::Source for S3Source {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_range(&self, offset: u64, len: u64) -> Result<Box<dyn Read + Send>, Error> {
        let end = offset.saturating_add(len).min(self.size);
        let start = offset.min(end);
        // What the first bytes already hold is served from them.
        let held = self.head.len() as u64;
        let (chunk, fetched_to) = if start < held {
            let stop = end.min(held);
            let (a, b) = (usize::try_from(start).unwrap_or(0), usize::try_from(stop).unwrap_or(0));
            (self.head.slice(a..b), stop)
        } else {
            (Bytes::new(), start)
        };
        Ok(Box::new(RangeReader {
            store: self.store.clone(),
            key: self.key.clone(),
            etag: self.etag.clone(),
            pos: start,
            end,
            fetched_to,
            chunk,
            rx: None,
            handle: tokio::runtime::Handle::current(),
        }))
    }

    fn location(&self) -> &Path {
        &self.url
    }
}

struct RangeReader {
    store: S3Store,
    key: String,
    etag: Option<String>,
    /// Next byte the reader gets.
    pos: u64,
    end: u64,
    /// End of the window requested so far.
    fetched_to: u64,
    chunk: Bytes,
    rx: Option<mpsc::Receiver<Result<Bytes, Error>>>,
    handle: tokio::runtime::Handle,
}

impl RangeReader {
    /// Starts streaming the next window into a channel.
    fn next_window(&mut self) {
        let start = self.fetched_to;
        let size = if self.rx.is_none() { FIRST_WINDOW } else { WINDOW };
        let stop = start.saturating_add(size).min(self.end);
        self.fetched_to = stop;
        let (tx, rx) = mpsc::channel(AHEAD);
        let (store, key, etag) = (self.store.clone(), self.key.clone(), self.etag.clone());
        self.handle.spawn(stream_window(store, key, etag, start, stop, tx));
        self.rx = Some(rx);
    }
}

async fn stream_window(
    store: S3Store,
    key: String,
    etag: Option<String>,
    mut start: u64,
    stop: u64,
    tx: mpsc::Sender<Result<Bytes, Error>>,
) {
    let mut resumes = 0;
    while start < stop {
        let options =
            GetOptions { if_match: etag.clone(), range: Some(GetRange::Bounded(start..stop)), ..GetOptions::default() };
        let failure = match store.store().get_opts(&store.path(&key), options).await {
            Ok(result) => {
                let mut stream = result.into_stream();
                let mut failure = None;
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(bytes) => {
                            start += bytes.len() as u64;
                            if tx.send(Ok(bytes)).await.is_err() {
                                return; // the reader is gone
                            }
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                match failure {
                    None if start >= stop => return,
                    None => Some(store.err("reading", Some(&key), &ended_early())),
                    Some(e) => Some(store.err("reading", Some(&key), &e)),
                }
            }
            Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
                let _ = tx
                    .send(Err(Error::Store {
                        location: store.url_of(&key),
                        step: "reading".into(),
                        reason: "the snapshot was replaced or deleted while it was being read".into(),
                    }))
                    .await;
                return;
            }
            Err(e) => Some(store.err("reading", Some(&key), &e)),
        };
        if let Some(err) = failure {
            if resumes >= RESUMES || matches!(err, Error::Permission { .. }) {
                let _ = tx.send(Err(err)).await;
                return;
            }
            resumes += 1;
            tracing::debug!("reading {key} failed at byte {start} ({err}); resuming");
            tokio::time::sleep(Duration::from_millis(250 * u64::from(resumes))).await;
        }
    }
}

fn ended_early() -> object_store::Error {
    object_store::Error::Generic { store: "S3", source: "the response ended early".into() }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = self.chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&self.chunk[..n]);
                self.chunk = self.chunk.slice(n..);
                self.pos += n as u64;
                return Ok(n);
            }
            if self.pos >= self.end || buf.is_empty() {
                return Ok(0);
            }
            if self.rx.is_none() || self.pos >= self.fetched_to {
                self.next_window();
            }
            let rx = self.rx.as_mut().expect("a window was just started");
            let next = tokio::task::block_in_place(|| rx.blocking_recv());
            match next {
                Some(Ok(bytes)) => self.chunk = bytes,
                Some(Err(e)) => return Err(io::Error::other(e)),
                // The window's task ended: all its bytes were sent.
                None if self.pos >= self.fetched_to => {}
                None => {
                    return Err(io::Error::other(Error::Store {
                        location: self.store.url_of(&self.key),
                        step: "reading".into(),
                        reason: "the download stopped".into(),
                    }));
                }
            }
        }
    }
}
