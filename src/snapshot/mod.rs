//! Snapshots: the file format, names, where they live (a directory or a bucket), locks,
//! atomic writes. Nothing here talks to a database; `commands::snapshot` joins the two.

pub mod audit;
mod bounded;
pub mod chain;
pub mod format;
mod header_member;
pub mod location;
pub mod names;
pub mod reader;
pub mod rowkey;
pub mod source;
mod validate;
pub mod versions;
pub mod writer;
