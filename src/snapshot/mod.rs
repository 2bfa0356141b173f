//! Snapshots: the file format, the directory they live in, locks, atomic writes.
//! Nothing here talks to a database; `commands::snapshot` joins the two.

pub mod atomic;
pub mod audit;
pub mod format;
pub mod lock;
pub mod reader;
pub mod store;
pub mod writer;
