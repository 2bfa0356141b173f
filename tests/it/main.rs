//! One integration-test binary: every test drives the real `seed` binary against a real
//! SQLite file or the harness's PostgreSQL server.

mod common;

mod bulk;
mod cli;
mod doctor;
mod faults;
mod fuzz;
mod generation;
mod header;
mod hints;
mod json;
mod migrations;
mod parallel;
mod restore;
mod select;
mod settings;
mod snapshot;
mod timeout;
mod ux;
mod versions;
