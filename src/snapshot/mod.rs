//! Snapshots: the file format, names, where they live (a directory or a bucket), locks,
//! atomic writes, and taking one (`create`: the one part that reads a database, through
//! a `db::Session`). Commands decide names, versions and locks and report.

pub mod audit;
mod bounded;
pub mod catalog;
pub mod chain;
pub mod copy;
pub mod create;
pub mod format;
mod header_member;
pub mod location;
pub mod names;
pub mod reader;
pub mod rebase;
pub mod reference;
pub mod rowkey;
pub mod source;
mod validate;
pub mod versions;
pub mod writer;
