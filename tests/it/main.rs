//! One integration-test binary: every test drives the real `seed` binary against a real
//! SQLite file or the harness's PostgreSQL and MariaDB servers.

mod common;

mod bulk;
mod cli;
mod clone;
mod coherence;
mod constraints;
mod dependents;
mod docs_examples;
mod doctor;
mod exit_codes;
mod faults;
mod first_contact;
mod fuzz;
mod generation;
mod header;
mod hints;
mod json;
mod like;
mod mask;
mod mask_paths;
mod migrations;
mod mysql;
mod parallel;
mod pg_features;
mod prepare;
mod restore;
mod select;
mod settings;
mod snapshot;
mod store;
mod store_versions;
mod subset;
mod timeout;
mod trust;
mod ux;
mod versions;
