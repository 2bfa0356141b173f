//! A new object, streamed up as a multipart upload with flat memory, visible only once
//! complete. The snapshot's header is written first as a placeholder and known only
//! at the end, and an object cannot be rewritten: so part 1 — the header member and
//! the first data, at least the 5 MiB S3 asks of every part but the last — stays in
//! memory and goes up last; parts 2, 3, ... go up while the data streams (a few at
//! once). Completion carries `If-None-Match: *` unless replacing: the store itself
//! refuses an existing key, and a replaced object stays readable until the new one
//! is whole. Small objects (under two parts) are one conditional PUT.
//!
//! Failures abort the upload (so no parts linger); a dropped upload is aborted when
//! the command ends (`pending`), also after Ctrl-C. Only a killed process (SIGKILL,
//! power loss) leaves an unfinished upload: invisible, but billed until a lifecycle
//! rule (AbortIncompleteMultipartUpload) removes it; `seed doctor` lists them.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;
use object_store::multipart::MultipartStore;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use tokio::task::JoinHandle;

use super::{S3Store, raw};
use crate::error::Error;
use crate::snapshot::names::EXTENSION;

/// Part 1 holds at least this much (S3's minimum part size is 5 MiB).
const FIRST_PART: usize = 6 << 20;
/// Size of parts 2, 3, ...: grows every 1,000 parts so 10,000 parts reach ~430 GiB.
const PART: usize = 8 << 20;
const MAX_PARTS: usize = 10_000;
/// Parts uploading at once (memory: about this many × the part size).
const IN_FLIGHT: usize = 3;

pub struct Upload {
    store: S3Store,
    key: String,
    first: Vec<u8>,
    current: Vec<u8>,
    /// Number of the next part to send (part 1 is sent last).
    next_part: usize,
    upload_id: Option<String>,
    in_flight: VecDeque<(usize, JoinHandle<Result<String, Error>>)>,
    done: Vec<(usize, String)>,
    /// Published or aborted: nothing to clean up.
    settled: bool,
    failed: bool,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload").field("key", &self.key).field("upload_id", &self.upload_id).finish_non_exhaustive()
    }
}

/// Runs `fut` to completion from blocking code (the writer is synchronous and runs in
/// `block_in_place` or on a blocking thread).
fn block<F: Future>(fut: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| handle.block_on(fut))
}

fn part_size(number: usize) -> usize {
    PART * (1 + number / 1000)
}

impl Upload {
    pub fn new(store: S3Store, key: String) -> Self {
        Self {
            store,
            key,
            first: Vec::new(),
            current: Vec::new(),
            next_part: 2,
            upload_id: None,
            in_flight: VecDeque::new(),
            done: Vec::new(),
            settled: false,
            failed: false,
        }
    }

    pub fn url(&self) -> String {
        self.store.url_of(&self.key)
    }

    pub fn write(&mut self, mut bytes: &[u8]) -> Result<(), Error> {
        if self.failed {
            return Err(Error::Internal("snapshot upload used after a failure".into()));
        }
        if self.first.len() < FIRST_PART {
            let take = bytes.len().min(FIRST_PART - self.first.len());
            self.first.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        while !bytes.is_empty() {
            let size = part_size(self.next_part);
            let take = bytes.len().min(size - self.current.len());
            self.current.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.current.len() == size
                && let Err(e) = self.send_current()
            {
                self.failed = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Starts uploading the filled current part; waits for the oldest when too many
    /// are on their way.
    fn send_current(&mut self) -> Result<(), Error> {
        if self.next_part > MAX_PARTS {
            return Err(Error::Store {
                location: self.url(),
                step: "uploading".into(),
                reason: format!("the snapshot needs more than {MAX_PARTS} parts (S3's limit)"),
            });
        }
        let id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let path = self.store.path(&self.key);
                let id = block(self.store.store().create_multipart(&path))
                    .map_err(|e| self.store.err("starting the upload", Some(&self.key), &e))?;
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.next_part;
        self.next_part += 1;
        let data = Bytes::from(std::mem::replace(&mut self.current, Vec::with_capacity(part_size(self.next_part))));
        let (store, key) = (self.store.clone(), self.key.clone());
        let handle = tokio::runtime::Handle::current().spawn(async move {
            let path = store.path(&key);
            store
                .store()
                .put_part(&path, &id, number - 1, PutPayload::from(data))
                .await
                .map(|p| p.content_id)
                .map_err(|e| store.err("uploading a part of", Some(&key), &e))
        });
        self.in_flight.push_back((number, handle));
        while self.in_flight.len() > IN_FLIGHT {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), Error> {
        if let Some((number, handle)) = self.in_flight.pop_front() {
            let etag = block(handle).map_err(|e| Error::Internal(format!("an upload task failed: {e}")))??;
            self.done.push((number, etag));
        }
        Ok(())
    }

    fn exists_error(&self) -> Error {
        Error::SnapshotExists {
            name: self.key.strip_suffix(EXTENSION).unwrap_or(&self.key).to_owned(),
            dir: self.store.bucket().to_string().into(),
        }
    }

    pub fn publish(mut self, head: &[u8], replace: bool) -> Result<(), Error> {
        if self.failed || head.len() > self.first.len() {
            return Err(Error::Internal("snapshot upload published after a failure or without its header".into()));
        }
        self.first[..head.len()].copy_from_slice(head);
        let result = if self.upload_id.is_none() { self.put_whole(replace) } else { self.complete(replace) };
        if result.is_err() {
            self.abort_now();
        }
        self.settled = true;
        result
    }

    /// Everything fits in one request: a plain (conditional) PUT.
    fn put_whole(&mut self, replace: bool) -> Result<(), Error> {
        let mut data = std::mem::take(&mut self.first);
        data.append(&mut self.current);
        let mode = if replace { PutMode::Overwrite } else { PutMode::Create };
        let path = self.store.path(&self.key);
        match block(self.store.store().put_opts(
            &path,
            PutPayload::from(data),
            PutOptions { mode, ..PutOptions::default() },
        )) {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
                Err(self.exists_error())
            }
            Err(e) => Err(self.store.err("uploading", Some(&self.key), &e)),
        }
    }

    fn complete(&mut self, replace: bool) -> Result<(), Error> {
        if !self.current.is_empty() {
            // The last part may be smaller than the rest.
            self.send_current()?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        let id = self.upload_id.clone().unwrap_or_default();
        let path = self.store.path(&self.key);
        let first = Bytes::from(std::mem::take(&mut self.first));
        let part = block(self.store.store().put_part(&path, &id, 0, PutPayload::from(first)))
            .map_err(|e| self.store.err("uploading the first part of", Some(&self.key), &e))?;
        self.done.push((1, part.content_id));
        self.done.sort_by_key(|(n, _)| *n);
        if block(raw::complete(&self.store, &self.key, &id, &self.done, !replace))? {
            self.upload_id = None; // completed: nothing to abort
            Ok(())
        } else {
            Err(self.exists_error())
        }
    }

    /// Aborts the upload and waits for it (orderly failures).
    fn abort_now(&mut self) {
        for (_, h) in self.in_flight.drain(..) {
            h.abort();
        }
        if let Some(id) = self.upload_id.take() {
            let path = self.store.path(&self.key);
            let _ = block(self.store.store().abort_multipart(&path, &id));
        }
    }
}

impl Drop for Upload {
    /// Dropped unpublished (an error on the way, Ctrl-C): abort the upload in the
    /// background; `seed` waits for it before exiting.
    fn drop(&mut self) {
        for (_, h) in self.in_flight.drain(..) {
            h.abort();
        }
        if self.settled {
            return;
        }
        if let Some(id) = self.upload_id.take() {
            let (store, path) = (self.store.clone(), self.store.path(&self.key));
            super::super::pending::spawn(async move {
                let _ = store.store().abort_multipart(&path, &id).await;
            });
        }
    }
}

/// Whether the store refuses a multipart completion over the existing `key` when asked
/// `If-None-Match: *` (doctor's probe). The probe upload is aborted either way.
pub async fn probe_conditional_complete(store: &S3Store, key: &str) -> Result<bool, Error> {
    let path = store.path(key);
    let id = store.store().create_multipart(&path).await.map_err(|e| store.err("probing", Some(key), &e))?;
    let result = async {
        let part = store
            .store()
            .put_part(&path, &id, 0, PutPayload::from_static(b"probe part"))
            .await
            .map_err(|e| store.err("probing", Some(key), &e))?;
        raw::complete(store, key, &id, &[(1, part.content_id)], true).await.map(|completed| !completed)
    }
    .await;
    let _ = store.store().abort_multipart(&path, &id).await;
    result
}
