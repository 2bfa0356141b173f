//! `seed snapshot push NAME --to LOCATION` and `pull NAME --from LOCATION`: copy one
//! snapshot between the snapshot directory and another location (usually a bucket).
//!
//! Both sides stay atomic: the copy is a new key on the destination, published only
//! whole and only if the name is free there (unless `--force`). Both sides are
//! verified: the bytes are checked against the snapshot's header (every table's rows
//! and checksum) where that costs no second download — a local source before it is
//! sent, a local copy before it is published; between two buckets the source is
//! verified first.

use std::io::Read;
use std::time::Instant;

use serde_json::json;

use super::{AuditGuard, location};
use crate::Context;
use crate::cli::{PullArgs, PushArgs};
use crate::error::{Error, code};
use crate::output::{Level, human_bytes};
use crate::snapshot::location::{Location, Mode, Spec};
use crate::snapshot::names::{key_for, validate_name};
use crate::snapshot::reader::{read_header_from, verify_source};
use crate::snapshot::source::Source;

const COPY_BUF: usize = 1 << 20;

pub async fn push(args: PushArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let from = location(ctx)?;
    let to = Location::open(&Spec::parse(&args.to)?)?;
    run("snapshot push", &args.name, &from, &to, args.force, args.lock.wait, ctx).await
}

pub async fn pull(args: PullArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let from = Location::open(&Spec::parse(&args.from)?)?;
    let to = location(ctx)?;
    run("snapshot pull", &args.name, &from, &to, args.force, args.lock.wait, ctx).await
}

async fn run(
    command: &'static str,
    name: &str,
    from: &Location,
    to: &Location,
    force: bool,
    wait: bool,
    ctx: &Context,
) -> Result<u8, Error> {
    if from.same_as(to) {
        return Err(Error::usage(format!(
            "{command}: {} is the snapshot location itself; name another place",
            from.display().display()
        )));
    }
    to.check()?;
    let audit = AuditGuard::new(ctx, to, command, Some(name.to_owned()), None);
    let result = copy(command, name, from, to, force, wait, ctx).await;
    audit.finish(&result).await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn copy(
    command: &str,
    name: &str,
    from: &Location,
    to: &Location,
    force: bool,
    wait: bool,
    ctx: &Context,
) -> Result<u8, Error> {
    let key = key_for(name);
    let missing = || Error::SnapshotMissing { name: name.to_owned(), dir: from.display() };
    if from.head(&key).await?.is_none() {
        return Err(missing());
    }
    let label = format!("seed {command} {name}");
    let _read_lock = from.lock(name, Mode::Shared, wait, &label).await?;
    to.prepare_write().await?;
    let _write_lock = to.lock(name, Mode::Exclusive, wait, &label).await?;
    if !force && to.head(&key).await?.is_some() {
        return Err(Error::SnapshotExists { name: name.to_owned(), dir: to.display() });
    }
    let src = from.open_key(&key).await?.ok_or_else(missing)?;
    let started = Instant::now();
    let header = tokio::task::block_in_place(|| read_header_from(src.as_ref()))?;
    let mut stage = to.stage(&key).await?;
    let verify_after = stage.staged_source()?.is_some();
    if !verify_after {
        // The copy cannot be read back before it is published: check what is sent.
        let checked = tokio::task::block_in_place(|| verify_source(src.as_ref()))?;
        same_header(&header, &checked, src.as_ref())?;
    }
    let size = src.size();
    tokio::task::block_in_place(|| -> Result<(), Error> {
        let mut reader = src.read_range(0, size)?;
        let mut buf = vec![0u8; COPY_BUF];
        let mut copied = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading snapshot", src.location(), e)),
            };
            stage.write(&buf[..n])?;
            copied += n as u64;
        }
        if copied != size {
            return Err(Error::SnapshotCorrupt {
                path: src.location().to_path_buf(),
                reason: format!("read {copied} bytes of {size}: the snapshot changed or was cut while it was copied"),
            });
        }
        if let Some(copy) = stage.staged_source()? {
            let checked = verify_source(copy.as_ref())?;
            same_header(&header, &checked, copy.as_ref())?;
        }
        Ok(())
    })?;
    let shown_dest = to.display_key(&key).display().to_string();
    tokio::task::block_in_place(|| stage.publish(&[], force))?;
    let secs = started.elapsed().as_secs_f64();
    let verb = if command.ends_with("push") { "pushed" } else { "pulled" };
    ctx.printer.event(
        Level::Info,
        "snapshot_copied",
        json!({ "name": name, "from": src.location().display().to_string(), "to": shown_dest, "bytes": size,
                "verified": true, "seconds": (secs * 1000.0).round() / 1000.0 }),
        || {
            format!(
                "{verb} snapshot '{name}' ({}, every table verified) to {shown_dest} in {secs:.2}s",
                human_bytes(size)
            )
        },
    );
    Ok(code::OK)
}

/// The copy's header is the one read first (a snapshot replaced in between is not
/// mixed into the copy: its reads are pinned, but say so plainly if it happens).
fn same_header(
    first: &crate::snapshot::format::Header,
    checked: &crate::snapshot::format::Header,
    src: &dyn Source,
) -> Result<(), Error> {
    if first == checked {
        return Ok(());
    }
    Err(Error::SnapshotCorrupt {
        path: src.location().to_path_buf(),
        reason: "the snapshot changed while it was copied".into(),
    })
}
