//! What `push` and `pull` share: one copy between two locations (see
//! `snapshot::copy`), audited where it lands and reported.

use serde_json::json;

use crate::commands::audit::AuditGuard;
use crate::context::Context;
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::copy::{Copied, copy_chain};
use crate::snapshot::location::Location;
use crate::snapshot::reference::SnapshotRef;

/// `push` and `pull`: `name` copied from `from` to `to` with its chain (see
/// `snapshot::copy`), audited in `to` and reported.
pub(super) async fn copy(
    command: &'static str,
    name: &SnapshotRef,
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
    let audit = AuditGuard::new(ctx, to, command, Some(name.to_string()), None);
    let result = copy_chain(&ctx.printer, command, name, from, to, force, wait).await;
    if let Ok(copied) = &result {
        report_copy(ctx, command, from, to, copied);
    }
    audit.finish(&result).await;
    result.map(|_| code::OK)
}

fn report_copy(ctx: &Context, command: &str, from: &Location, to: &Location, copied: &Copied) {
    let Copied { top, bases, bytes, elapsed } = copied;
    let bytes = *bytes;
    let shown_dest = to.display_key(&top.key).display().to_string();
    let secs = elapsed.as_secs_f64();
    let verb = if command.ends_with("push") { "pushed" } else { "pulled" };
    // Version 1 is named as the user knows it from before versions: by its name.
    let shown = if top.version == 1 { top.name.clone() } else { top.label() };
    let summary = json!({ "name": top.name, "version": top.version,
                          "from": from.display_key(&top.key).display().to_string(), "to": shown_dest,
                          "bytes": bytes, "bases": bases, "verified": true,
                          "seconds": (secs * 1000.0).round() / 1000.0 });
    ctx.printer.document(command, summary.clone());
    ctx.printer.event(Level::Info, "snapshot_copied", summary, || {
        let with = if bases.is_empty() {
            String::new()
        } else {
            format!(
                " with {} it is built on ({})",
                plural(bases.len() as u64, "snapshot", "snapshots"),
                bases.join(", ")
            )
        };
        format!(
            "{verb} snapshot '{shown}'{with} ({}, every table verified) to {shown_dest} in {secs:.2}s",
            human_bytes(bytes)
        )
    });
}
