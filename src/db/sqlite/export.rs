//! SQLite rows as the snapshot's COPY text.

use futures_util::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use super::SqliteBackend;
use crate::db::backend::ChunkSink;
use crate::db::copy_text;
use crate::db::schema::{Table, quote_ident};
use crate::db::step::Step;
use crate::error::Error;

/// Flush encoded rows to the sink at about this size.
const CHUNK: usize = 256 << 10;

/// Streams `columns` of `table` into `sink`; `tail` follows the `FROM` (a `WHERE` and
/// `ORDER BY`, or nothing).
pub async fn stream_table<S: ChunkSink>(
    db: &mut SqliteBackend,
    table: &Table,
    columns: &[String],
    tail: &str,
    sink: &mut S,
) -> Result<(), Error> {
    let step = Step::new(format!("reading {}", table.name)).table(table.name.to_string());
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let sql = format!("SELECT {} FROM {}{tail}", cols.join(", "), table.name.quoted());
    let path = db.path.clone();
    let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut db.conn);
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut n = 0u64;
    while let Some(row) = rows.try_next().await.map_err(|e| super::errors::translate(e, &step, path.as_deref()))? {
        n += 1;
        encode_row(&row, &mut buf)
            .map_err(|reason| Error::Data { step: step.what.clone(), reason: format!("row {n}: {reason}") })?;
        if buf.len() >= CHUNK {
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
fn encode_row(row: &SqliteRow, buf: &mut Vec<u8>) -> Result<(), String> {
    let decode = |i: usize, e: sqlx::Error| format!("column {}: {e}", i + 1);
    for i in 0..row.len() {
        if i > 0 {
            buf.push(b'\t');
        }
        let raw = row.try_get_raw(i).map_err(|e| decode(i, e))?;
        if raw.is_null() {
            copy_text::push_null(buf);
            continue;
        }
        let kind = raw.type_info().name().to_owned();
        match kind.as_str() {
            "INTEGER" => copy_text::push_display(buf, row.try_get::<i64, _>(i).map_err(|e| decode(i, e))?),
            "REAL" => {
                buf.extend_from_slice(format_real(row.try_get::<f64, _>(i).map_err(|e| decode(i, e))?).as_bytes())
            }
            "BLOB" => copy_text::push_bytes(buf, &row.try_get::<Vec<u8>, _>(i).map_err(|e| decode(i, e))?),
            // TEXT that is not valid UTF-8 is read lossily by the driver only as bytes.
            _ => match row.try_get::<String, _>(i) {
                Ok(s) => copy_text::push_text(buf, &s),
                Err(_) => {
                    let bytes: Vec<u8> = row.try_get(i).map_err(|e| decode(i, e))?;
                    return Err(format!("column {}: text that is not UTF-8 ({} bytes)", i + 1, bytes.len()));
                }
            },
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
