//! The free-space check before a snapshot is written: fail before writing a byte when
//! the location (or, for parallel reads, the spool directory) clearly cannot hold it.

use crate::db::Session;
use crate::db::schema::Table;
use crate::error::Error;
use crate::output::human_bytes;
use crate::snapshot::location::Location;

/// Heap pages compress about this well (and usually better) at level 1.
const ESTIMATE_DIVISOR: u64 = 4;

/// Fails before writing a byte when the location (or, for parallel reads, the spool
/// directory) clearly cannot hold the snapshot. A bucket sets no such limit.
/// `share`: the part of the tables' rows the snapshot takes (a subset's), 1.0 for all.
pub(super) fn check_free_space(
    store: &Location,
    tables: &[&Table],
    share: f64,
    session: &Session,
    parallel: bool,
) -> Result<(), Error> {
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let data = (session.export_size_estimate(tables) as f64 * share.clamp(0.0, 1.0)).ceil() as u64;
    let needed = data / ESTIMATE_DIVISOR;
    let spool = store.spool_dir();
    let mut checks = Vec::new();
    match store.free_space()? {
        // The spool sits in the same directory: both copies at once.
        Some(free) => checks.push((store.display(), if parallel { needed * 2 } else { needed }, free)),
        None if parallel => {
            let free = fs4::available_space(&spool).map_err(|e| Error::io("checking free space of", &spool, e))?;
            checks.push((spool, needed, free));
        }
        None => {}
    }
    for (path, needed, free) in checks {
        if needed > free {
            return Err(Error::DiskSpace {
                path,
                reason: format!(
                    "the snapshot needs about {} ({} of table data, compressed) but only {} is free; nothing was written",
                    human_bytes(needed),
                    human_bytes(data),
                    human_bytes(free)
                ),
            });
        }
    }
    Ok(())
}
