//! Fake data from the schema: what to generate (`plan`), how (`values`, `rows`), and the
//! user's overrides (`factories_file`). No database access here; `commands::bulk` feeds it the
//! schema and sends its rows.

pub mod candidates;
pub mod codes;
pub mod factories_file;
pub mod hash;
pub mod pattern;
pub mod persona;
pub mod places;
pub mod plan;
pub mod profile;
pub mod rows;
pub mod values;
