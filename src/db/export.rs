//! Reading a table out as PostgreSQL COPY text, from either backend, in chunks.
//! PostgreSQL produces it itself (`COPY ... TO STDOUT`); SQLite rows are encoded here
//! the same way, so snapshots of both share one format.

use std::collections::BTreeMap;
use std::future::Future;

use futures_util::{StreamExt, TryStreamExt};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use crate::db::errors::{Step, translate};
use crate::db::schema::{TableName, quote_ident};
use crate::db::{Conn, Session};
use crate::error::Error;
use crate::factory::values::push_copy_text;

/// Receives a table's rows as COPY text, in chunks of whole or partial lines.
pub trait ChunkSink {
    fn push(&mut self, bytes: &[u8]) -> impl Future<Output = Result<(), Error>>;
}

/// Flush SQLite-encoded rows to the sink at about this size.
const SQLITE_CHUNK: usize = 256 << 10;

/// Streams `columns` of `table` to `sink` as COPY text lines.
pub async fn stream_table<S: ChunkSink>(
    session: &mut Session,
    table: &TableName,
    columns: &[String],
    partitioned: bool,
    sink: &mut S,
) -> Result<(), Error> {
    let step = session.step(format!("reading {table}")).table(table.to_string());
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    match &mut session.conn {
        Conn::Postgres(conn) => {
            // COPY of a partitioned table needs the SELECT form; a plain table is faster as is.
            let sql = if partitioned {
                format!("COPY (SELECT {} FROM {}) TO STDOUT", cols.join(", "), table.quoted())
            } else {
                format!("COPY {} ({}) TO STDOUT", table.quoted(), cols.join(", "))
            };
            pg_copy_out(conn, &sql, &step, sink).await
        }
        Conn::Sqlite(conn) => {
            sqlite_rows(conn, &format!("SELECT {} FROM {}", cols.join(", "), table.quoted()), &step, sink).await
        }
    }
}

async fn pg_copy_out<S: ChunkSink>(conn: &mut PgConnection, sql: &str, step: &Step, sink: &mut S) -> Result<(), Error> {
    let mut stream = conn.copy_out_raw(sql).await.map_err(|e| translate(e, step))?;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| translate(e, step))?;
        sink.push(&chunk).await?;
    }
    Ok(())
}

async fn sqlite_rows<S: ChunkSink>(
    conn: &mut SqliteConnection,
    sql: &str,
    step: &Step,
    sink: &mut S,
) -> Result<(), Error> {
    let mut rows = sqlx::query(AssertSqlSafe(sql.to_owned())).fetch(&mut *conn);
    let mut buf = Vec::with_capacity(SQLITE_CHUNK + 4096);
    while let Some(row) = rows.try_next().await.map_err(|e| translate(e, step))? {
        encode_sqlite_row(&row, &mut buf)?;
        if buf.len() >= SQLITE_CHUNK {
            sink.push(&buf).await?;
            buf.clear();
        }
    }
    if !buf.is_empty() {
        sink.push(&buf).await?;
    }
    Ok(())
}

/// One SQLite row as a COPY text line: integers and reals in decimal (shortest form
/// that reads back exactly), text escaped, blobs as `\\x` hex, NULL as `\N`.
fn encode_sqlite_row(row: &SqliteRow, buf: &mut Vec<u8>) -> Result<(), Error> {
    let decode = |e: sqlx::Error| Error::Internal(format!("cannot read a SQLite value: {e}"));
    for i in 0..row.len() {
        if i > 0 {
            buf.push(b'\t');
        }
        let raw = row.try_get_raw(i).map_err(decode)?;
        if raw.is_null() {
            buf.extend_from_slice(b"\\N");
            continue;
        }
        let kind = raw.type_info().name().to_owned();
        match kind.as_str() {
            "INTEGER" => buf.extend_from_slice(row.try_get::<i64, _>(i).map_err(decode)?.to_string().as_bytes()),
            "REAL" => buf.extend_from_slice(format_real(row.try_get::<f64, _>(i).map_err(decode)?).as_bytes()),
            "BLOB" => {
                buf.extend_from_slice(b"\\\\x");
                for b in row.try_get::<Vec<u8>, _>(i).map_err(decode)? {
                    buf.extend_from_slice(format!("{b:02x}").as_bytes());
                }
            }
            _ => push_copy_text(buf, &row.try_get::<String, _>(i).map_err(decode)?),
        }
    }
    buf.push(b'\n');
    Ok(())
}

/// Shortest decimal that reads back as the same f64 — also when SQLite reads it back:
/// a restore binds it as text and relies on the column's affinity to make it a REAL
/// again, and SQLite only converts numeric literals. So infinities are spelled the way
/// SQLite itself prints them (`9.0e+999`, which overflows to infinity), not
/// PostgreSQL's `Infinity`, which SQLite would keep as the text 'Infinity'. SQLite
/// never stores NaN (it becomes NULL); it is spelled `NaN` for completeness.
pub fn format_real(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "9.0e+999".into() } else { "-9.0e+999".into() }
    } else {
        format!("{f}")
    }
}

/// The session settings COPY text depends on, as the server reports them.
pub async fn session_settings(session: &mut Session) -> Result<BTreeMap<String, String>, Error> {
    let step = session.step("reading session settings");
    match &mut session.conn {
        Conn::Postgres(conn) => {
            let rows = sqlx::query(
                "SELECT name, setting FROM pg_settings WHERE name IN ('DateStyle', 'IntervalStyle', 'TimeZone',
                 'bytea_output', 'extra_float_digits', 'client_encoding', 'server_encoding', 'standard_conforming_strings')",
            )
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| translate(e, &step))?;
            Ok(rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1))).collect())
        }
        Conn::Sqlite(_) => Ok(BTreeMap::from([
            ("encoding".to_owned(), "UTF-8".to_owned()),
            ("blob_output".to_owned(), "hex".to_owned()),
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reals_round_trip() {
        for f in [0.1, 1.0, -2.5e-12, 1e300, 123_456.789] {
            assert_eq!(format_real(f).parse::<f64>().unwrap(), f);
        }
        assert_eq!(format_real(f64::INFINITY).parse::<f64>().unwrap(), f64::INFINITY);
        assert_eq!(format_real(f64::NEG_INFINITY).parse::<f64>().unwrap(), f64::NEG_INFINITY);
    }
}
