//! `seed snapshot pull NAME[@N] --from LOCATION`: copy one snapshot version (with the
//! bases it is built on) from another location, usually a bucket, into the snapshot
//! directory (see `snapshot::copy`).

use super::copy::copy;
use crate::cli::PullArgs;
use crate::context::Context;
use crate::error::Error;
use crate::snapshot::location::{Location, Spec};

pub async fn run(args: PullArgs, ctx: &Context) -> Result<u8, Error> {
    let from = Location::open(&Spec::parse(&args.from)?)?;
    let to = ctx.location()?;
    copy("snapshot pull", &args.name, &from, &to, args.force, args.lock.wait, ctx).await
}
