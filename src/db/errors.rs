//! The part of driver-error translation all kinds share. Each kind maps its own database errors
//! (`postgres/errors.rs`, `sqlite/errors.rs`).

use crate::db::step::Step;
use crate::error::Error;

/// Translates the errors that are not a database's own answer: the connection, the
/// pool, the protocol. Database errors go to the kind's translator first.
pub fn translate_transport(err: sqlx::Error, step: &Step) -> Error {
    match err {
        sqlx::Error::Io(e) => Error::ConnectionLost { step: step.what.clone(), reason: e.to_string() },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Error::ConnectionLost { step: step.what.clone(), reason: err.to_string() }
        }
        sqlx::Error::Protocol(msg) if looks_disconnected(&msg) => {
            Error::ConnectionLost { step: step.what.clone(), reason: msg }
        }
        sqlx::Error::Database(db) => Error::Database {
            step: step.what.clone(),
            message: db.message().to_owned(),
            transient: false,
            sqlstate: db.code().map(|c| c.into_owned()),
        },
        // Decoding a value we read is a data problem, not a bug of ours.
        sqlx::Error::ColumnDecode { index, source } => Error::Data {
            step: step.what.clone(),
            reason: format!("column {index} holds a value that cannot be read: {source}"),
        },
        other => {
            Error::Database { step: step.what.clone(), message: other.to_string(), transient: false, sqlstate: None }
        }
    }
}

fn looks_disconnected(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("connection") && (m.contains("closed") || m.contains("reset") || m.contains("eof"))
}

/// The driver's words for a failed connection attempt, without what users must not
/// read as theirs: the PostgreSQL driver's `Display` appends "at line N", a line of
/// the server's C source.
pub fn driver_message(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => db.message().to_owned(),
        // Without the driver's "error communicating with database:" in front.
        sqlx::Error::Io(e) => e.to_string(),
        other => other.to_string(),
    }
}

pub fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
