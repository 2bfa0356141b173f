//! One file per verb; each has `run(args, ctx)`. Commands orchestrate: the real work is
//! in `db`, `factory` and `snapshot`.

pub mod audit;
pub mod bulk;
pub mod cascade;
pub mod clone;
pub mod doctor;
pub mod pool;
pub mod prepare;
pub mod snapshot;
pub mod template;

use crate::cli::Command;
use crate::context::Context;
use crate::error::Error;

/// Runs one command; `Ok` carries the exit code (0, or a documented non-error status).
pub async fn run(command: Command, ctx: &Context) -> Result<u8, Error> {
    match command {
        Command::Doctor(args) => doctor::run(args, ctx).await,
        Command::Bulk(args) => bulk::run(args, ctx).await,
        Command::Prepare(args) => prepare::run(args, ctx).await,
        Command::Clone(args) => clone::run(args, ctx).await,
        Command::Snapshot(cmd) => snapshot::run(cmd, ctx).await,
        Command::Completions(args) => crate::manual::completions(&args),
        Command::Man(args) => crate::manual::man(&args),
    }
}
