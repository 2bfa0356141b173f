//! `seed snapshot delete NAME`: under the name's exclusive lock.

use super::{AuditGuard, location};
use crate::Context;
use crate::cli::DeleteArgs;
use crate::error::{Error, code};
use crate::snapshot::location::Mode;
use crate::snapshot::names::{key_for, validate_name};

pub async fn run(args: DeleteArgs, ctx: &Context) -> Result<u8, Error> {
    validate_name(&args.name)?;
    let store = location(ctx)?;
    let audit = AuditGuard::new(ctx, &store, "snapshot delete", Some(args.name.clone()), None);
    let result = async {
        let key = key_for(&args.name);
        let missing = || Error::SnapshotMissing { name: args.name.clone(), dir: store.display() };
        if store.head(&key).await?.is_none() {
            return Err(missing());
        }
        let _lock = store
            .lock(&args.name, Mode::Exclusive, args.lock.wait, &format!("seed snapshot delete {}", args.name))
            .await?;
        if !store.delete(&key).await? {
            return Err(missing());
        }
        ctx.printer.info(format!("deleted snapshot '{}' ({})", args.name, store.display_key(&key).display()));
        ctx.printer.document(
            "snapshot delete",
            serde_json::json!({ "deleted": [{ "name": args.name, "file": store.display_key(&key).display().to_string() }] }),
        );
        Ok(code::OK)
    }
    .await;
    audit.finish(&result).await;
    result
}
