//! `seed snapshot ...`: one file per verb.

mod copy;
pub mod create;
mod delete;
mod diff;
mod list;
mod mask;
pub mod masking;
mod preflight;
pub mod profile;
mod prune;
mod pull;
mod push;
pub mod restore;
mod show;
pub mod subset;
mod verify;

use crate::cli::SnapshotCommand;
use crate::context::Context;
use crate::error::Error;

pub async fn run(command: SnapshotCommand, ctx: &Context) -> Result<u8, Error> {
    ctx.location()?.check()?;
    match command {
        SnapshotCommand::Create(args) => create::run(args, ctx).await,
        SnapshotCommand::List(args) => list::run(&args, ctx).await,
        SnapshotCommand::Show(args) => show::run(args, ctx).await,
        SnapshotCommand::Verify(args) => verify::run(args, ctx).await,
        SnapshotCommand::Delete(args) => delete::run(args, ctx).await,
        SnapshotCommand::Prune(args) => prune::run(args, ctx).await,
        SnapshotCommand::Restore(args) => restore::run(args, ctx).await,
        SnapshotCommand::Diff(args) => diff::run(&args, ctx).await,
        SnapshotCommand::Push(args) => push::run(args, ctx).await,
        SnapshotCommand::Pull(args) => pull::run(args, ctx).await,
        SnapshotCommand::Profile(args) => profile::run(args, ctx).await,
        SnapshotCommand::Mask(args) => mask::run(args, ctx).await,
    }
}
