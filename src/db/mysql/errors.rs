//! MySQL/MariaDB errors -> ours, by error number, with the server's message kept.

use sqlx::mysql::MySqlDatabaseError;

use crate::db::errors::translate_transport;
use crate::db::step::Step;
use crate::error::{ConstraintViolation, Error, Violation};

pub fn translate(err: sqlx::Error, step: &Step) -> Error {
    if let sqlx::Error::Database(db) = &err
        && let Some(my) = db.try_downcast_ref::<MySqlDatabaseError>()
    {
        return translate_number(my.number(), my.code(), my.message(), step);
    }
    translate_transport(err, step)
}

pub fn is_mysql(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.try_downcast_ref::<MySqlDatabaseError>().is_some())
}

fn translate_number(number: u16, sqlstate: Option<&str>, message: &str, step: &Step) -> Error {
    let detail = format!(
        "server: {message} (error {number}{})",
        sqlstate.map(|s| format!(", SQLSTATE {s}")).unwrap_or_default()
    );
    let violation = match number {
        1062 | 1586 => Some(Violation::Unique),
        1451 | 1452 | 1216 | 1217 => Some(Violation::ForeignKey),
        1048 | 1364 => Some(Violation::NotNull),
        3819 | 4025 => Some(Violation::Check),
        1406 => Some(Violation::Length),
        1264 | 1265 | 1292 | 1366 | 1367 | 1411 | 1416 | 3140 | 1690 => Some(Violation::InvalidValue),
        1526 => Some(Violation::Partition),
        _ => None,
    };
    if let Some(kind) = violation {
        // "... at row 7": the row within the statement; the step knows where it began.
        let row = at_row(message).map(|r| r + step.row_offset);
        let batch = match (row, step.batch_size) {
            (Some(r), Some(b)) if b > 0 => Some((r - 1) / b + 1),
            _ => None,
        };
        return Error::Constraint(Box::new(ConstraintViolation {
            kind,
            table: step.table.clone(),
            constraint: constraint_name(number, message),
            column: column_name(message),
            batch,
            row,
            step: step.what.clone(),
            detail,
        }));
    }
    let what = step.what.clone();
    match number {
        // max_statement_time (MariaDB), max_execution_time (MySQL)
        1969 | 3024 => Error::Timeout { step: what, timeout: step.statement_timeout.unwrap_or_default() },
        // killed, server shutting down
        1927 | 1053 | 1317 | 2006 | 2013 => Error::ConnectionLost { step: what, reason: detail },
        // lock wait timeout, deadlock: another attempt may pass
        1205 | 1213 => {
            Error::Database { step: what, message: detail, transient: true, sqlstate: sqlstate.map(Into::into) }
        }
        1044 | 1045 | 1142 | 1143 | 1227 | 1370 | 1419 | 3118 => Error::Permission {
            what,
            reason: detail,
            hint: Some("grant the privilege named above to the user in the URL".into()),
        },
        1114 | 1021 => Error::Database {
            step: what,
            message: format!("the database server is out of space\n{detail}"),
            transient: false,
            sqlstate: sqlstate.map(Into::into),
        },
        _ => Error::Database { step: what, message: detail, transient: false, sqlstate: sqlstate.map(Into::into) },
    }
}

/// "... at row 7" -> 7
fn at_row(message: &str) -> Option<u64> {
    let after = message.rsplit_once(" at row ")?.1;
    after.trim().trim_end_matches('.').parse().ok()
}

/// The first `name` quoted with ' or ` after `marker` in `message`.
fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let rest = &message[message.find(marker)? + marker.len()..];
    let rest = rest.trim_start();
    let q = rest.chars().next().filter(|c| *c == '\'' || *c == '`')?;
    let body = &rest[1..];
    Some(body[..body.find(q)?].to_owned())
}

fn constraint_name(number: u16, message: &str) -> Option<String> {
    match number {
        // "Duplicate entry 'x' for key 'email'" (MySQL 8: 'staffs.email')
        1062 | 1586 => quoted_after(message, "for key").map(|k| k.rsplit('.').next().unwrap_or(&k).to_owned()),
        // "... CONSTRAINT `fk_x` FOREIGN KEY ..."
        1451 | 1452 => quoted_after(message, "CONSTRAINT"),
        // MariaDB "CONSTRAINT `c` failed for `db`.`t`"; MySQL "Check constraint 'c' is violated."
        4025 => quoted_after(message, "CONSTRAINT"),
        3819 => quoted_after(message, "Check constraint"),
        _ => None,
    }
}

/// "Column 'name' cannot be null", "... for column 'x' at row 1", "... for column
/// `db`.`t`.`x` at row 1" -> the column.
fn column_name(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find("column ")? + "column ".len();
    let rest = &message[at..];
    let end = rest.find(" at row").or_else(|| rest.find(" cannot")).unwrap_or(rest.len());
    let name = rest[..end].trim().rsplit('.').next()?.trim_matches(['\'', '`']).to_owned();
    (!name.is_empty()).then_some(name)
}

/// Why a connection attempt failed, and whether trying again can help.
pub fn classify_connect(err: &sqlx::Error) -> Option<(&'static str, bool)> {
    let sqlx::Error::Database(db) = err else { return None };
    let my = db.try_downcast_ref::<MySqlDatabaseError>()?;
    Some(match my.number() {
        1045 | 1698 => ("authentication failed", false),
        1049 => ("database does not exist", false),
        // The same answer for a database that does not exist and one the user may not
        // use (the server does not tell which).
        1044 => ("no access to the database", false),
        1040 | 1203 => ("too many connections", true),
        1129 | 1130 => ("host not allowed", false),
        1053 => ("server shutting down", true),
        _ => ("server refused", false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_messages() {
        let step = Step::new("inserting batch 2 into staffs").table("staffs").batches(4, 4);
        let e = translate_number(4025, Some("23000"), "CONSTRAINT `staffs_name_zzz` failed for `t1`.`staffs`", &step);
        let Error::Constraint(v) = e else { panic!() };
        assert_eq!(v.kind, Violation::Check);
        assert_eq!(v.constraint.as_deref(), Some("staffs_name_zzz"));
        let e = translate_number(1406, None, "Data too long for column 'name' at row 3", &step);
        let Error::Constraint(v) = e else { panic!() };
        assert_eq!((v.column.as_deref(), v.row, v.batch), (Some("name"), Some(7), Some(2)));
        let e = translate_number(1062, None, "Duplicate entry 'a@b' for key 'staffs.email'", &step);
        let Error::Constraint(v) = e else { panic!() };
        assert_eq!(v.constraint.as_deref(), Some("email"));
        let e = translate_number(
            1452,
            None,
            "Cannot add or update a child row: a foreign key constraint fails (`d`.`c`, CONSTRAINT `fk_c_p` FOREIGN KEY (`p`) REFERENCES `p` (`id`))",
            &step,
        );
        let Error::Constraint(v) = e else { panic!() };
        assert_eq!(v.constraint.as_deref(), Some("fk_c_p"));
        let e = translate_number(1366, None, "Incorrect integer value: 'x' for column `d`.`t`.`n` at row 1", &step);
        let Error::Constraint(v) = e else { panic!() };
        assert_eq!(v.column.as_deref(), Some("n"));
        assert!(matches!(
            translate_number(1969, None, "Query execution was interrupted (max_statement_time exceeded)", &step),
            Error::Timeout { .. }
        ));
    }
}
