//! Driver errors -> our `Error`: the condition, the table, the constraint, the row,
//! with the server's own detail kept underneath.

use std::time::Duration;

use sqlx::postgres::PgDatabaseError;

use crate::error::{ConstraintViolation, Error, Violation};

/// What was being done when a statement failed, so the message can say so.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub what: String,
    pub table: Option<String>,
    /// Rows per batch, to turn a COPY line number into a batch number.
    pub batch_size: Option<u64>,
    /// Rows of this table sent before the current statement (multi-statement loads).
    pub row_offset: u64,
    pub statement_timeout: Option<Duration>,
}

impl Step {
    pub fn new(what: impl Into<String>) -> Self {
        Self { what: what.into(), ..Self::default() }
    }
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }
    pub fn batches(mut self, batch_size: u64, row_offset: u64) -> Self {
        self.batch_size = Some(batch_size);
        self.row_offset = row_offset;
        self
    }
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }
}

pub fn translate(err: sqlx::Error, step: &Step) -> Error {
    match err {
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                return translate_pg(pg, step);
            }
            translate_sqlite(db.code().map(|c| c.into_owned()), db.message(), step)
        }
        sqlx::Error::Io(e) => Error::ConnectionLost { step: step.what.clone(), reason: e.to_string() },
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Error::ConnectionLost { step: step.what.clone(), reason: err.to_string() }
        }
        sqlx::Error::Protocol(msg) if looks_disconnected(&msg) => {
            Error::ConnectionLost { step: step.what.clone(), reason: msg }
        }
        other => {
            Error::Database { step: step.what.clone(), message: other.to_string(), transient: false, sqlstate: None }
        }
    }
}

fn looks_disconnected(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("connection") && (m.contains("closed") || m.contains("reset") || m.contains("eof"))
}

fn translate_pg(pg: &PgDatabaseError, step: &Step) -> Error {
    let code = pg.code();
    let mut detail = String::new();
    detail.push_str(&format!("server: {} (SQLSTATE {code})", pg.message()));
    if let Some(d) = pg.detail() {
        detail.push_str(&format!("\nDETAIL: {d}"));
    }
    if let Some(w) = pg.r#where() {
        detail.push_str(&format!("\nCONTEXT: {}", first_line(w)));
    }
    let table = pg.table().map(str::to_owned).or_else(|| step.table.clone());
    let column = pg.column().map(str::to_owned).or_else(|| copy_column(pg.r#where()));
    let violation = match code {
        "23503" => Some(Violation::ForeignKey),
        "23505" => Some(Violation::Unique),
        "23502" => Some(Violation::NotNull),
        "23514" if pg.message().contains("no partition") => Some(Violation::Partition),
        "23514" => Some(Violation::Check),
        "23P01" => Some(Violation::Exclusion),
        "22001" => Some(Violation::Length),
        c if c.starts_with("22") => Some(Violation::InvalidValue),
        _ => None,
    };
    if let Some(kind) = violation {
        let line = pg.r#where().and_then(copy_line);
        let row = line.map(|l| l + step.row_offset);
        let batch = match (row, step.batch_size) {
            (Some(r), Some(b)) if b > 0 => Some((r - 1) / b + 1),
            _ => None,
        };
        return Error::Constraint(Box::new(ConstraintViolation {
            kind,
            table: step.table.clone().or(table),
            constraint: pg.constraint().map(str::to_owned),
            column,
            batch,
            row,
            step: step.what.clone(),
            detail,
        }));
    }
    match code {
        "57014" if pg.message().contains("statement timeout") => {
            Error::Timeout { step: step.what.clone(), timeout: step.statement_timeout.unwrap_or_default() }
        }
        "57P01" | "57P02" | "57P03" => Error::ConnectionLost { step: step.what.clone(), reason: detail },
        c if c.starts_with("08") => Error::ConnectionLost { step: step.what.clone(), reason: detail },
        "40001" | "40P01" | "53300" => {
            Error::Database { step: step.what.clone(), message: detail, transient: true, sqlstate: Some(code.into()) }
        }
        "42501" => Error::Permission {
            what: step.what.clone(),
            reason: detail,
            hint: Some("connect as the tables' owner, or grant the privilege named above".into()),
        },
        "55P03" => Error::LockHeld {
            resource: step.table.clone().map_or_else(|| "a table".to_owned(), |t| format!("table {t}")),
            holder: None,
            hint: "another session holds a lock on it; wait for it to finish".into(),
        },
        "53100" => Error::Database {
            step: step.what.clone(),
            message: format!("the database server is out of disk space\n{detail}"),
            transient: false,
            sqlstate: Some(code.into()),
        },
        _ => {
            Error::Database { step: step.what.clone(), message: detail, transient: false, sqlstate: Some(code.into()) }
        }
    }
}

fn translate_sqlite(code: Option<String>, message: &str, step: &Step) -> Error {
    let detail = format!("sqlite: {message}{}", code.as_deref().map(|c| format!(" (code {c})")).unwrap_or_default());
    // "UNIQUE constraint failed: staffs.email" -> (table, column)
    let target =
        message.split_once("failed: ").map(|(_, rest)| rest.split(',').next().unwrap_or(rest).trim().to_owned());
    let (table, column) = match target.as_deref().and_then(|t| t.split_once('.')) {
        Some((t, c)) => (Some(t.to_owned()), Some(c.to_owned())),
        None => (None, None),
    };
    let kind = if message.starts_with("UNIQUE constraint failed") || message.starts_with("PRIMARY KEY") {
        Some(Violation::Unique)
    } else if message.starts_with("FOREIGN KEY constraint failed") {
        Some(Violation::ForeignKey)
    } else if message.starts_with("NOT NULL constraint failed") {
        Some(Violation::NotNull)
    } else if message.starts_with("CHECK constraint failed") {
        Some(Violation::Check)
    } else if message.contains("datatype mismatch") {
        Some(Violation::InvalidValue)
    } else {
        None
    };
    if let Some(kind) = kind {
        let constraint = (kind == Violation::Check).then(|| target.clone()).flatten();
        return Error::Constraint(Box::new(ConstraintViolation {
            kind,
            table: step.table.clone().or(table),
            constraint,
            column,
            batch: None,
            row: None,
            step: step.what.clone(),
            detail,
        }));
    }
    if message.contains("database is locked") || message.contains("database table is locked") {
        return Error::LockHeld {
            resource: "the SQLite database".into(),
            holder: None,
            hint: "another process is writing to it; wait for it to finish".into(),
        };
    }
    if message.contains("disk is full") || message.contains("database or disk is full") {
        return Error::DiskSpace { path: step.table.clone().unwrap_or_default().into(), reason: message.to_owned() };
    }
    if message.contains("readonly") || message.contains("read-only") {
        return Error::Permission {
            what: step.what.clone(),
            reason: detail,
            hint: Some("make the database file and its directory writable".into()),
        };
    }
    Error::Database { step: step.what.clone(), message: detail, transient: false, sqlstate: None }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// "COPY staffs, line 42, column email: ..." -> 42
fn copy_line(context: &str) -> Option<u64> {
    let first = first_line(context);
    let rest = first.strip_prefix("COPY ")?;
    let after = rest.split_once(", line ")?.1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn copy_column(context: Option<&str>) -> Option<String> {
    let first = first_line(context?);
    let after = first.split_once(", column ")?.1;
    Some(after.split(':').next()?.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_context_parsing() {
        assert_eq!(copy_line("COPY staffs, line 42, column email: \"x\""), Some(42));
        assert_eq!(copy_line("COPY staffs, line 7"), Some(7));
        assert_eq!(copy_line("SQL statement"), None);
        assert_eq!(copy_column(Some("COPY staffs, line 42, column email: \"x\"")), Some("email".into()));
    }

    #[test]
    fn sqlite_messages() {
        let e =
            translate_sqlite(Some("2067".into()), "UNIQUE constraint failed: staffs.email", &Step::new("inserting"));
        match e {
            Error::Constraint(v) => {
                assert_eq!(v.kind, Violation::Unique);
                assert_eq!(v.table.as_deref(), Some("staffs"));
                assert_eq!(v.column.as_deref(), Some("email"));
            }
            other => panic!("{other:?}"),
        }
    }
}
