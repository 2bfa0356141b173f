//! Locks in a bucket: objects have no `flock`, so a lock is a lease object under
//! `.locks/` naming its holder, valid for [`TTL`] after its last write and renewed by
//! its holder every [`RENEW`]. A killed holder's lease simply runs out.
//!
//! - Exclusive (create, delete, prune): `.locks/NAME.lock`, created with
//!   `If-None-Match: *`, so of two commands exactly one gets it. An expired one is
//!   taken over with `If-Match: <its ETag>`, so of two takers exactly one wins.
//! - Shared (show, verify, restore, diff): `.locks/NAME.shared/<id>`, one per reader.
//! - Each side writes its own lease first and then looks for the other's (an exclusive
//!   holder lists shared leases; a reader reads the exclusive one), backing off when it
//!   finds one. S3 reads its own writes, so two conflicting commands cannot both miss
//!   each other; at worst both back off and `--wait` retries.
//!
//! What this protects and what not: it relies on the store honouring conditional
//! writes (`seed doctor` checks) and on clocks within a few seconds of the store's (a
//! lease's age is the store's Last-Modified against this machine's clock). A holder
//! stalled for longer than `TTL` (suspended laptop) loses its lease without knowing
//! it. Whatever happens to leases, a snapshot is never overwritten without `--force`
//! (that is the conditional completion of its upload) and never read mixed (reads are
//! pinned to an ETag): leases only keep commands from failing each other.
//! A reader whose credentials may not write goes on without a lease (as a reader in a
//! read-only directory does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde_json::json;
use tokio::task::JoinHandle;

use super::{LOCK_PREFIX, S3Store, age};
use crate::error::Error;
use crate::snapshot::location::{Diagnostic, Mode};
use crate::untrusted::shown;

pub const TTL: Duration = Duration::from_secs(60);
const RENEW: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(750);

fn exclusive_key(name: &str) -> String {
    format!("{LOCK_PREFIX}{name}.lock")
}

/// The folder of a name's shared leases (a listing's prefix is a folder).
fn shared_prefix(name: &str) -> String {
    format!("{LOCK_PREFIX}{name}.shared/")
}

/// A held lease; released (deleted) when dropped.
#[derive(Debug)]
pub struct Lease {
    store: Option<S3Store>,
    key: String,
    url: String,
    etag: Arc<Mutex<Option<String>>>,
    renew: Option<JoinHandle<()>>,
    unlocked: Option<String>,
}

impl Lease {
    pub fn unlocked_reason(&self) -> Option<&str> {
        self.unlocked.as_deref()
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(h) = self.renew.take() {
            h.abort();
        }
        let Some(store) = self.store.take() else { return };
        let key = std::mem::take(&mut self.key);
        let ours = self.etag.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        super::super::pending::spawn(async move {
            let path = store.path(&key);
            // Only our own lease: if it ran out and was taken over, it is someone else's.
            if let Ok(meta) = store.store().head(&path).await
                && (ours.is_none() || meta.e_tag == ours)
            {
                let _ = store.store().delete(&path).await;
            }
        });
    }
}

enum Attempt {
    Got(Lease),
    Held(Option<String>),
}

pub async fn acquire(store: &S3Store, name: &str, mode: Mode, wait: bool, command: &str) -> Result<Lease, Error> {
    let holder = crate::system::holder(command);
    loop {
        let attempt = match mode {
            Mode::Exclusive => try_exclusive(store, name, &holder).await?,
            Mode::Shared => try_shared(store, name, &holder).await?,
        };
        match attempt {
            Attempt::Got(lease) => return Ok(lease),
            Attempt::Held(_) if wait => {
                let jitter = u64::from(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .subsec_nanos()
                        % 250,
                );
                tokio::time::sleep(POLL + Duration::from_millis(jitter)).await;
            }
            Attempt::Held(holder) => {
                return Err(Error::LockHeld {
                    resource: crate::snapshot::versions::lock_resource(name),
                    holder,
                    hint: format!(
                        "wait for that command to finish, or pass --wait to queue behind it (a lease of a killed \
                         command runs out {}s after its last renewal)",
                        TTL.as_secs()
                    ),
                });
            }
        }
    }
}

fn body(holder: &str, mode: &str) -> PutPayload {
    PutPayload::from(
        serde_json::to_vec(&json!({ "holder": holder, "mode": mode, "ttl_seconds": TTL.as_secs() }))
            .unwrap_or_default(),
    )
}

/// The holder written in a lease object, if it reads.
async fn holder_of(store: &S3Store, key: &str) -> Option<String> {
    let got = store.store().get(&store.path(key)).await.ok()?;
    let bytes = got.bytes().await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes[..bytes.len().min(4096)]).ok()?;
    v["holder"].as_str().map(|h| shown(h, 200))
}

fn new_lease(store: &S3Store, key: String, etag: Option<String>, holder: &str, mode: &'static str) -> Lease {
    let etag = Arc::new(Mutex::new(etag));
    let renew = {
        let (store, key, etag, holder) = (store.clone(), key.clone(), Arc::clone(&etag), holder.to_owned());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RENEW).await;
                let current = etag.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                let put_mode = match current {
                    Some(e) => PutMode::Update(UpdateVersion { e_tag: Some(e), version: None }),
                    None => PutMode::Overwrite,
                };
                let put = PutOptions { mode: put_mode, ..PutOptions::default() };
                match store.store().put_opts(&store.path(&key), body(&holder, mode), put).await {
                    Ok(r) => *etag.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = r.e_tag,
                    Err(e) => {
                        tracing::warn!("could not renew the lease {key}: {e}");
                        return;
                    }
                }
            }
        })
    };
    Lease { store: Some(store.clone()), url: store.url_of(&key), key, etag, renew: Some(renew), unlocked: None }
}

async fn try_exclusive(store: &S3Store, name: &str, holder: &str) -> Result<Attempt, Error> {
    let key = exclusive_key(name);
    let path = store.path(&key);
    let create = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
    let etag = match store.store().put_opts(&path, body(holder, "exclusive"), create).await {
        Ok(r) => r.e_tag,
        Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => {
            let meta = match store.store().head(&path).await {
                Ok(m) => m,
                // Released in between: try again at once.
                Err(object_store::Error::NotFound { .. }) => return Ok(Attempt::Held(None)),
                Err(e) => return Err(store.err("reading the lock", Some(&key), &e)),
            };
            if age(meta.last_modified) < TTL {
                return Ok(Attempt::Held(holder_of(store, &key).await));
            }
            // Expired: take it over, unless someone else does first.
            let update = PutOptions {
                mode: PutMode::Update(UpdateVersion { e_tag: meta.e_tag.clone(), version: None }),
                ..PutOptions::default()
            };
            match store.store().put_opts(&path, body(holder, "exclusive"), update).await {
                Ok(r) => r.e_tag,
                Err(object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. }) => {
                    return Ok(Attempt::Held(holder_of(store, &key).await));
                }
                Err(e) => return Err(store.err("taking over an expired lock", Some(&key), &e)),
            }
        }
        Err(object_store::Error::NotFound { .. }) => return Err(store.missing_bucket()),
        Err(e) => return Err(store.err("locking", Some(&key), &e)),
    };
    let lease = new_lease(store, key, etag, holder, "exclusive");
    // Readers announce themselves first, then look: whoever of us comes second sees the other.
    for meta in store.list_under(&shared_prefix(name)).await? {
        if age(meta.modified) < TTL {
            let holder = holder_of(store, &meta.key).await;
            drop(lease);
            return Ok(Attempt::Held(holder));
        }
    }
    Ok(Attempt::Got(lease))
}

async fn try_shared(store: &S3Store, name: &str, holder: &str) -> Result<Attempt, Error> {
    let key = format!("{}{}", shared_prefix(name), super::unique_id());
    let etag = match store.store().put_opts(&store.path(&key), body(holder, "shared"), PutOptions::default()).await {
        Ok(r) => r.e_tag,
        Err(object_store::Error::PermissionDenied { .. }) => {
            // Read-only credentials: a reader goes on without a lease.
            return Ok(Attempt::Got(Lease {
                store: None,
                key: String::new(),
                url: store.url_of(&key),
                etag: Arc::new(Mutex::new(None)),
                renew: None,
                unlocked: Some("the credentials may not write lease objects".into()),
            }));
        }
        Err(e) => return Err(store.err("locking", Some(&key), &e)),
    };
    let lease = new_lease(store, key, etag, holder, "shared");
    let exclusive = exclusive_key(name);
    match store.store().head(&store.path(&exclusive)).await {
        Ok(meta) if age(meta.last_modified) < TTL => {
            let holder = holder_of(store, &exclusive).await;
            drop(lease);
            Ok(Attempt::Held(holder))
        }
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(Attempt::Got(lease)),
        Err(e) => Err(store.err("reading the lock", Some(&exclusive), &e)),
    }
}

/// Leases held now, and expired ones (of killed commands; taken over by the next).
pub async fn diagnostic(store: &S3Store) -> Diagnostic {
    let leases = match store.list_under(LOCK_PREFIX).await {
        Ok(l) => l,
        Err(e) => return Diagnostic::warn("locks", format!("could not list leases: {e}")),
    };
    let mut active = Vec::new();
    let mut stale = Vec::new();
    for meta in &leases {
        let key = meta.key.as_str();
        let label = key.strip_prefix(LOCK_PREFIX).unwrap_or(key).to_owned();
        if age(meta.modified) < TTL {
            let holder = holder_of(store, key).await.unwrap_or_else(|| "unknown".into());
            active.push(format!("{label} by {holder}"));
        } else {
            stale.push(label);
        }
    }
    match (active.is_empty(), stale.is_empty()) {
        (true, true) => Diagnostic::ok("locks", "none held", json!({ "held": 0, "stale": 0 })),
        _ => {
            let mut parts = Vec::new();
            if !active.is_empty() {
                parts.push(format!("held: {}", active.join(", ")));
            }
            if !stale.is_empty() {
                parts.push(format!(
                    "expired leases of commands that did not end cleanly (taken over by the next command of that \
                     name): {}",
                    stale.join(", ")
                ));
            }
            Diagnostic::warn("locks", parts.join("; "))
        }
    }
}
