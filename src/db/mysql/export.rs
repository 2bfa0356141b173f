//! MySQL rows as the snapshot's COPY text, read through the text protocol: every
//! value is the server's own text (DECIMAL digits, DATETIME with its fraction,
//! doubles in their shortest exact form, `-0`, zero dates, TIMESTAMP in '+00:00'),
//! except FLOAT (read as DOUBLE), binary strings and spatial values (hex of their
//! bytes) and BIT (binary digits).

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use super::MySqlBackend;
use super::codec::{Codec, bits_text};
use crate::db::backend::ChunkSink;
use crate::db::copy_text;
use crate::db::schema::{Table, quote_ident};
use crate::error::Error;

/// Flush encoded rows to the sink at about this size.
const CHUNK: usize = 256 << 10;

/// Streams `columns` of `table` into `sink`; `tail` follows the `FROM` (a `WHERE` and
/// `ORDER BY`, or nothing).
pub async fn stream_table<S: ChunkSink>(
    db: &mut MySqlBackend,
    table: &Table,
    columns: &[String],
    tail: &str,
    sink: &mut S,
) -> Result<(), Error> {
    let step = db.step(format!("reading {}", table.name)).table(table.name.to_string());
    let codecs: Vec<Codec> = columns.iter().map(|c| table.column(c).map_or(Codec::Text, Codec::of)).collect();
    let select: Vec<String> = columns
        .iter()
        .zip(&codecs)
        .map(|(c, codec)| match codec {
            Codec::Float => format!("CAST({} AS DOUBLE)", quote_ident(c)),
            _ => quote_ident(c),
        })
        .collect();
    let sql = format!("SELECT {} FROM {}{tail}", select.join(", "), table.name.quoted());
    let mut rows = sqlx::raw_sql(AssertSqlSafe(sql)).fetch(&mut db.conn);
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut n = 0u64;
    while let Some(row) = rows.try_next().await.map_err(|e| super::errors::translate(e, &step))? {
        n += 1;
        for (i, codec) in codecs.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            let value: Option<&[u8]> = row.try_get_unchecked(i).map_err(|e| super::errors::translate(e, &step))?;
            let Some(bytes) = value else {
                copy_text::push_null(&mut buf);
                continue;
            };
            match codec {
                Codec::Binary { .. } | Codec::Spatial { .. } => copy_text::push_bytes(&mut buf, bytes),
                Codec::Bits(width) => buf.extend_from_slice(bits_text(bytes, *width).as_bytes()),
                Codec::Text | Codec::Float => match std::str::from_utf8(bytes) {
                    Ok(s) => copy_text::push_text(&mut buf, s),
                    Err(_) => {
                        return Err(Error::Data {
                            step: step.what.clone(),
                            reason: format!(
                                "row {n}, column {}: the server sent text that is not UTF-8 ({} bytes)",
                                columns[i],
                                bytes.len()
                            ),
                        });
                    }
                },
            }
        }
        buf.push(b'\n');
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
