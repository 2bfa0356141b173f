//! `seed snapshot delete NAME`: under the name's exclusive lock.

use super::{AuditGuard, store};
use crate::Context;
use crate::cli::DeleteArgs;
use crate::error::{Error, code};
use crate::snapshot::atomic::sync_dir;
use crate::snapshot::lock::{self, Mode};
use crate::snapshot::store::validate_name;

pub async fn run(args: DeleteArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let store = store(ctx);
    let audit = AuditGuard::new(ctx, &store, "snapshot delete", Some(args.name.clone()), None);
    let result = async {
        let path = store.path(&args.name);
        if !path.is_file() {
            return Err(Error::SnapshotMissing { name: args.name.clone(), dir: store.dir.clone() });
        }
        let _lock = lock::acquire(
            &store,
            &args.name,
            Mode::Exclusive,
            args.lock.wait,
            &format!("seed snapshot delete {}", args.name),
        )
        .await?;
        std::fs::remove_file(&path).map_err(|e| Error::io("deleting", &path, e))?;
        sync_dir(&store.dir)?;
        ctx.printer.info(format!("deleted snapshot '{}' ({})", args.name, path.display()));
        ctx.printer.document(
            "snapshot delete",
            serde_json::json!({ "deleted": [{ "name": args.name, "file": path.display().to_string() }] }),
        );
        Ok(code::OK)
    }
    .await;
    audit.finish(&result);
    result
}
