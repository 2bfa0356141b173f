//! SQLite errors -> ours, from its result codes and message texts.

use std::path::Path;

use crate::db::errors::translate_transport;
use crate::db::step::Step;
use crate::error::{ConstraintViolation, Error, Violation};

/// `db_path` is the database file, named when the disk fills up or it cannot be written.
pub fn translate(err: sqlx::Error, step: &Step, db_path: Option<&Path>) -> Error {
    match err {
        sqlx::Error::Database(db) => {
            translate_sqlite(db.code().map(|c| c.into_owned()).as_deref(), db.message(), step, db_path)
        }
        other => translate_transport(other, step),
    }
}

/// A failure SQLite reported through its C interface (`bind.rs`): its extended result
/// code and message, translated as the driver's errors are.
pub fn translate_code(code: i32, message: &str, step: &Step, db_path: Option<&Path>) -> Error {
    translate_sqlite(Some(&code.to_string()), message, step, db_path)
}

/// SQLite's primary result code (the low byte of an extended code), e.g. 5 = BUSY.
fn primary_code(code: Option<&str>) -> Option<i64> {
    code.and_then(|c| c.parse::<i64>().ok()).map(|c| c & 0xff)
}

fn translate_sqlite(code: Option<&str>, message: &str, step: &Step, db_path: Option<&Path>) -> Error {
    let detail = format!("sqlite: {message}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default());
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
    let file = || db_path.map_or_else(|| "the SQLite database".to_owned(), |p| p.display().to_string());
    match primary_code(code) {
        // BUSY, LOCKED
        Some(5 | 6) => {
            return Error::LockHeld {
                resource: format!("the SQLite database {}", file()),
                holder: db_path.and_then(crate::db::sqlite::lock_holder),
                hint: "another process is writing to it; wait for it to finish, or pass --wait".into(),
            };
        }
        // FULL
        Some(13) => {
            return Error::DiskSpace {
                path: db_path.map_or_else(|| ".".into(), Path::to_path_buf),
                reason: format!("{} while {}", message, step.what),
            };
        }
        // READONLY, PERM, CANTOPEN
        Some(8 | 3 | 14) => {
            return Error::Permission {
                what: format!("{} ({})", step.what, file()),
                reason: detail,
                hint: Some("check the owner and mode of the database file and of its directory".into()),
            };
        }
        _ => {}
    }
    Error::Database { step: step.what.clone(), message: detail, transient: false, sqlstate: None }
}

/// A database another process holds (BUSY while opening it): the lock and its holder.
pub fn held_at_connect(url: &crate::db::url::DbUrl, err: &sqlx::Error) -> Option<Error> {
    let sqlx::Error::Database(db) = err else { return None };
    if url.kind() != crate::db::url::DbKind::Sqlite || !matches!(primary_code(db.code().as_deref()), Some(5 | 6)) {
        return None;
    }
    let path = url.sqlite_path();
    Some(Error::LockHeld {
        resource: format!(
            "the SQLite database {}",
            path.map_or_else(|| url.location().to_owned(), |p| p.display().to_string())
        ),
        holder: path.and_then(|p| crate::db::sqlite::lock_holder(p)),
        hint: "another process is writing to it and holds the file; wait for it to finish, or pass --wait".into(),
    })
}

/// Why opening the database failed, and whether trying again can help.
/// A file-system failure opening the database (none of them passes by retrying).
pub fn classify_io(err: &std::io::Error) -> (&'static str, bool) {
    match err.kind() {
        std::io::ErrorKind::NotADirectory => ("directory does not exist", false),
        std::io::ErrorKind::NotFound => ("no such database file", false),
        std::io::ErrorKind::PermissionDenied => ("permission denied", false),
        _ => ("cannot open database file", false),
    }
}

pub fn classify_connect(err: &sqlx::Error) -> Option<(&'static str, bool)> {
    let sqlx::Error::Database(db) = err else { return None };
    Some(match primary_code(db.code().as_deref()) {
        Some(14) => ("cannot open database file", false),
        Some(8 | 3) => ("permission denied", false),
        Some(5 | 6) => ("database is locked", false),
        Some(26) => ("not a database", false),
        _ => ("refused", false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_messages() {
        let e = translate_sqlite(Some("2067"), "UNIQUE constraint failed: staffs.email", &Step::new("inserting"), None);
        match e {
            Error::Constraint(v) => {
                assert_eq!(v.kind, Violation::Unique);
                assert_eq!(v.table.as_deref(), Some("staffs"));
                assert_eq!(v.column.as_deref(), Some("email"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn full_disk_names_the_file_not_a_table() {
        let step = Step::new("inserting batch 3 into staffs").table("staffs");
        let e = translate_sqlite(Some("13"), "database or disk is full", &step, Some(Path::new("/data/app.db")));
        match &e {
            Error::DiskSpace { path, reason } => {
                assert_eq!(path, Path::new("/data/app.db"));
                assert!(reason.contains("inserting batch 3 into staffs"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let e = translate_sqlite(Some("8"), "attempt to write a readonly database", &step, Some(Path::new("x.db")));
        assert_eq!(e.exit_code(), crate::error::code::PERMISSION);
        assert!(e.to_string().contains("x.db"), "{e}");
    }
}
