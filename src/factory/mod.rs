//! Fake data from the schema: what to generate (`plan`), how (`values`, `rows`), and the
//! user's overrides (`config`). No database access here; `commands::bulk` feeds it the
//! schema and sends its rows.

pub mod candidates;
pub mod config;
pub mod hash;
pub mod pattern;
pub mod persona;
pub mod places;
pub mod plan;
pub mod profile;
pub mod rows;
pub mod unique;
pub mod values;
