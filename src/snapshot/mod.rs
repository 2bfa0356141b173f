//! Snapshots: the file format, the directory they live in, locks, atomic writes.
//! Nothing here talks to a database; `commands::snapshot` joins the two.

pub mod atomic;
pub mod audit;
mod bounded;
pub mod chain;
pub mod format;
mod header_member;
pub mod lock;
pub mod reader;
pub mod rowkey;
pub mod source;
pub mod store;
mod validate;
pub mod versions;
pub mod writer;
