//! Masked snapshots: personal values replaced as rows stream, before anything is
//! compressed, spooled or stored.
//!
//! - `rules`: the `[mask]` section (factories-file format, also in `seed.toml`).
//! - `key`: the master key (`SEED_MASK_KEY`, a key file; never stored or printed) and
//!   the keyed functions derived from it.
//! - `plan`: which rule masks which column and why, checked against the schema before
//!   reading (unknown names, types, lengths, NOT NULL, checks, unique keys), with the
//!   rule of a column applied to every column that references it.
//! - `value`, `redact`, `json`: one value through one rule.
//! - `transform`: the row transform, a sink in front of the snapshot's own; `memo`:
//!   the masked values of a column that repeats, masked once.

pub mod json;
pub mod key;
pub mod memo;
pub mod plan;
pub mod redact;
pub mod rules;
pub mod transform;
pub mod value;

pub use key::{KeySource, MasterKey};
pub use plan::{Mode, Plan, Request, TableMask};
pub use transform::MaskSink;
