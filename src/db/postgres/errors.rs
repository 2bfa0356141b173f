//! PostgreSQL errors -> ours, by SQLSTATE, with the server's detail kept underneath.

use sqlx::postgres::PgDatabaseError;

use crate::db::errors::{first_line, translate_transport};
use crate::db::step::Step;
use crate::error::{ConstraintViolation, Error, Violation};

pub fn translate(err: sqlx::Error, step: &Step) -> Error {
    if let sqlx::Error::Database(db) = &err
        && let Some(pg) = db.try_downcast_ref::<PgDatabaseError>()
    {
        return translate_pg(pg, step);
    }
    translate_transport(err, step)
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

/// Why a connection attempt failed, and whether trying again can help.
pub fn classify_connect(err: &sqlx::Error) -> Option<(&'static str, bool)> {
    let sqlx::Error::Database(db) = err else { return None };
    Some(match db.code().as_deref() {
        Some("57P03") => ("server starting up", true),
        Some("53300") => ("too many connections", true),
        Some("28P01" | "28000") => ("authentication failed", false),
        Some("3D000") => ("database does not exist", false),
        Some("42501") => ("permission denied", false),
        Some(c) if c.starts_with("08") => ("connection failure", true),
        _ => ("server refused", false),
    })
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
}
