//! `seed snapshot push NAME[@N] --to LOCATION`: copy one snapshot version (with the
//! bases it is built on) from the snapshot directory to another location, usually a
//! bucket (see `snapshot::copy`).

use super::copy::copy;
use crate::cli::PushArgs;
use crate::context::Context;
use crate::error::Error;
use crate::snapshot::location::{Location, Spec};

pub async fn run(args: PushArgs, ctx: &Context) -> Result<u8, Error> {
    let from = ctx.location()?;
    let to = Location::open(&Spec::parse(&args.to)?)?;
    copy("snapshot push", &args.name, &from, &to, args.force, args.lock.wait, ctx).await
}
