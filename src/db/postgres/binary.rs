//! The snapshot's COPY text rows turned into PostgreSQL's binary COPY format on the
//! client, at restore time. The server parses binary uuids, timestamps, dates and
//! integers much faster than their text; the snapshot keeps its documented text format
//! (readable with `zcat`, checksums comparable with a live `COPY TO`).
//!
//! Only types whose binary form is simple and whose text form seed wrote under fixed
//! settings (DateStyle ISO, TimeZone UTC: see `connect`) are converted. A table with any
//! other column type is sent as text, whole: binary COPY cannot mix formats.
//!
//! Binary COPY layout: the signature `PGCOPY\n\377\r\n\0`, a 32-bit flags word and a
//! 32-bit header-extension length (both 0); then per row a 16-bit field count and per
//! field a 32-bit length (-1 for NULL) and the value's bytes; then the 16-bit trailer -1.
//! Every integer is big-endian.

use crate::db::copy_text;
use crate::db::schema::{Column, TypeKind};

/// How one column's text becomes binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conv {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// text, varchar, char, name, citext, enum labels: the bytes themselves
    Text,
    Uuid,
    Date,
    Timestamp,
    /// Written with the session in UTC; any offset is applied anyway.
    TimestampTz,
    Time,
    Bytea,
    Json,
    Jsonb,
}

/// The conversions for `columns`, or `None` when one of them has no binary form here.
pub fn plan(columns: &[&Column]) -> Option<Vec<Conv>> {
    columns.iter().map(|c| conv_of(&c.kind)).collect()
}

fn conv_of(kind: &TypeKind) -> Option<Conv> {
    Some(match kind {
        TypeKind::Bool => Conv::Bool,
        TypeKind::SmallInt => Conv::Int2,
        TypeKind::Int => Conv::Int4,
        TypeKind::BigInt => Conv::Int8,
        TypeKind::Real => Conv::Float4,
        TypeKind::Double => Conv::Float8,
        TypeKind::Text { .. } | TypeKind::Char { .. } | TypeKind::Enum { .. } => Conv::Text,
        TypeKind::Uuid => Conv::Uuid,
        TypeKind::Date => Conv::Date,
        TypeKind::Timestamp => Conv::Timestamp,
        TypeKind::TimestampTz => Conv::TimestampTz,
        TypeKind::Time => Conv::Time,
        TypeKind::Bytea => Conv::Bytea,
        TypeKind::Json => Conv::Json,
        TypeKind::Jsonb => Conv::Jsonb,
        _ => return None,
    })
}

pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The file header: signature, flags, extension length.
pub fn header() -> Vec<u8> {
    let mut out = SIGNATURE.to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

pub fn trailer() -> [u8; 2] {
    (-1i16).to_be_bytes()
}

/// Appends one row, given as a COPY text line without its newline.
pub fn push_row(out: &mut Vec<u8>, line: &[u8], convs: &[Conv]) -> Result<(), String> {
    let count = i16::try_from(convs.len()).map_err(|_| "too many columns for binary COPY".to_owned())?;
    out.extend_from_slice(&count.to_be_bytes());
    let mut fields = line.split(|&b| b == b'\t');
    for (i, conv) in convs.iter().enumerate() {
        let raw = fields.next().ok_or_else(|| format!("the row has {i} fields, expected {}", convs.len()))?;
        if raw == b"\\N" {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]); // length, filled in below
        push_value(out, raw, *conv).map_err(|e| format!("field {}: {e}", i + 1))?;
        let len = i32::try_from(out.len() - at - 4).map_err(|_| format!("field {} is too large", i + 1))?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    if fields.next().is_some() {
        return Err(format!("the row has more than {} fields", convs.len()));
    }
    Ok(())
}

fn text(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw).map_err(|_| "not UTF-8".to_owned())
}

fn number<T: std::str::FromStr>(raw: &[u8]) -> Result<T, String> {
    text(raw)?
        .parse()
        .map_err(|_| format!("'{}' is not a number of this type", text(raw).unwrap_or("?").escape_debug()))
}

fn push_value(out: &mut Vec<u8>, raw: &[u8], conv: Conv) -> Result<(), String> {
    match conv {
        Conv::Bool => out.push(match raw {
            b"t" => 1,
            b"f" => 0,
            _ => return Err("not a boolean".into()),
        }),
        Conv::Int2 => out.extend_from_slice(&number::<i16>(raw)?.to_be_bytes()),
        Conv::Int4 => out.extend_from_slice(&number::<i32>(raw)?.to_be_bytes()),
        Conv::Int8 => out.extend_from_slice(&number::<i64>(raw)?.to_be_bytes()),
        Conv::Float4 => out.extend_from_slice(&float::<f32>(raw)?.to_bits().to_be_bytes()),
        Conv::Float8 => out.extend_from_slice(&float::<f64>(raw)?.to_bits().to_be_bytes()),
        Conv::Text | Conv::Json => unescape_into(out, raw)?,
        Conv::Jsonb => {
            out.push(1); // jsonb's binary version
            unescape_into(out, raw)?;
        }
        Conv::Bytea => {
            let mut bytes = Vec::with_capacity(raw.len());
            unescape_into(&mut bytes, raw)?;
            let hex = bytes.strip_prefix(b"\\x").ok_or("bytea not in hex output")?;
            decode_hex_into(out, hex)?;
        }
        Conv::Uuid => push_uuid(out, raw)?,
        Conv::Date => out.extend_from_slice(&date(text(raw)?)?.to_be_bytes()),
        Conv::Timestamp => out.extend_from_slice(&timestamp(text(raw)?, false)?.to_be_bytes()),
        Conv::TimestampTz => out.extend_from_slice(&timestamp(text(raw)?, true)?.to_be_bytes()),
        Conv::Time => out.extend_from_slice(&time_of_day(text(raw)?)?.to_be_bytes()),
    }
    Ok(())
}

/// Floats as PostgreSQL prints them (shortest exact form, `NaN`, `Infinity`).
trait FloatBits: std::str::FromStr + Copy {
    const NAN: Self;
    const INF: Self;
    const NEG_INF: Self;
}
impl FloatBits for f32 {
    const NAN: Self = f32::NAN;
    const INF: Self = f32::INFINITY;
    const NEG_INF: Self = f32::NEG_INFINITY;
}
impl FloatBits for f64 {
    const NAN: Self = f64::NAN;
    const INF: Self = f64::INFINITY;
    const NEG_INF: Self = f64::NEG_INFINITY;
}

fn float<T: FloatBits>(raw: &[u8]) -> Result<T, String> {
    match raw {
        b"NaN" => Ok(T::NAN),
        b"Infinity" => Ok(T::INF),
        b"-Infinity" => Ok(T::NEG_INF),
        _ => number(raw),
    }
}

/// COPY text unescaped (the bytes the value holds).
fn unescape_into(out: &mut Vec<u8>, raw: &[u8]) -> Result<(), String> {
    if !raw.contains(&b'\\') {
        out.extend_from_slice(raw);
        return Ok(());
    }
    let mut k = 0;
    while k < raw.len() {
        if raw[k] == b'\\' {
            let next = *raw.get(k + 1).ok_or("a field ends in a lone backslash")?;
            out.push(match next {
                b't' => b'\t',
                b'n' => b'\n',
                b'r' => b'\r',
                b'b' => 8,
                b'f' => 12,
                b'v' => 11,
                other => other,
            });
            k += 2;
        } else {
            out.push(raw[k]);
            k += 1;
        }
    }
    Ok(())
}

fn hex_digit(c: u8) -> Result<u8, String> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err("bad hex digit".into()),
    }
}

fn decode_hex_into(out: &mut Vec<u8>, hex: &[u8]) -> Result<(), String> {
    if !hex.len().is_multiple_of(2) {
        return Err("odd-length hex".into());
    }
    for p in hex.chunks_exact(2) {
        out.push((hex_digit(p[0])? << 4) | hex_digit(p[1])?);
    }
    Ok(())
}

fn push_uuid(out: &mut Vec<u8>, raw: &[u8]) -> Result<(), String> {
    let digits: Vec<u8> = raw.iter().copied().filter(|&c| c != b'-').collect();
    if digits.len() != 32 {
        return Err("not a uuid".into());
    }
    decode_hex_into(out, &digits)
}

/// Days from 1970-01-01 to the proleptic Gregorian date (Hinnant's days_from_civil);
/// any year, so every date PostgreSQL accepts converts.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 2000-01-01, PostgreSQL's epoch, in days from 1970-01-01.
const PG_EPOCH_DAYS: i64 = 10_957;
const USECS_PER_DAY: i64 = 86_400_000_000;

/// "YYYY-MM-DD" (ISO), optionally " BC"; `infinity`/`-infinity`. Days since 2000-01-01.
fn date(s: &str) -> Result<i32, String> {
    match s {
        "infinity" => return Ok(i32::MAX),
        "-infinity" => return Ok(i32::MIN),
        _ => {}
    }
    let days = civil_days(s)?;
    i32::try_from(days).map_err(|_| "date out of range".into())
}

fn civil_days(s: &str) -> Result<i64, String> {
    let (s, bc) = match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let mut parts = s.splitn(3, '-');
    let bad = || format!("'{}' is not an ISO date", s.escape_debug());
    let y: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let m: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let d: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1 {
        return Err(bad());
    }
    // 1 BC is year 0 of the proleptic calendar.
    let year = if bc { 1 - y } else { y };
    Ok(days_from_civil(year, m, d) - PG_EPOCH_DAYS)
}

/// "HH:MM:SS[.ffffff]" in microseconds.
fn time_of_day(s: &str) -> Result<i64, String> {
    let bad = || format!("'{}' is not a time of day", s.escape_debug());
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = hms.splitn(3, ':');
    let h: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let m: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let sec: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    if frac.len() > 6 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let micros: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<6}").parse().map_err(|_| bad())? };
    Ok(((h * 60 + m) * 60 + sec) * 1_000_000 + micros)
}

/// "YYYY-MM-DD HH:MM:SS[.ffffff][+HH[:MM[:SS]]][ BC]" in microseconds since 2000-01-01
/// (UTC for timestamptz); `infinity`/`-infinity`.
fn timestamp(s: &str, with_zone: bool) -> Result<i64, String> {
    match s {
        "infinity" => return Ok(i64::MAX),
        "-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let bad = || format!("'{}' is not an ISO timestamp", s.escape_debug());
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (day, rest) = body.split_once(' ').ok_or_else(bad)?;
    let (clock, offset) = if with_zone {
        let at = rest.rfind(['+', '-']).ok_or_else(bad)?;
        (&rest[..at], Some(&rest[at..]))
    } else {
        (rest, None)
    };
    let days = civil_days(&if bc { format!("{day} BC") } else { day.to_owned() })?;
    let mut us = days.checked_mul(USECS_PER_DAY).ok_or_else(bad)? + time_of_day(clock)?;
    if let Some(off) = offset {
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let mut parts = off[1..].split(':');
        let h: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let m: i64 = parts.next().map_or(Some(0), |p| p.parse().ok()).ok_or_else(bad)?;
        let sec: i64 = parts.next().map_or(Some(0), |p| p.parse().ok()).ok_or_else(bad)?;
        us -= sign * ((h * 60 + m) * 60 + sec) * 1_000_000;
    }
    Ok(us)
}

/// Converts a stream of COPY text chunks (cut anywhere) into binary COPY bytes.
pub struct Converter {
    convs: Vec<Conv>,
    lines: copy_text::LineSplitter,
    started: bool,
    rows: u64,
}

impl Converter {
    pub fn new(convs: Vec<Conv>) -> Self {
        Self { convs, lines: copy_text::LineSplitter::default(), started: false, rows: 0 }
    }

    /// Binary bytes for the rows `chunk` completes; the header comes with the first.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(chunk.len() + chunk.len() / 4);
        if !self.started {
            out.extend_from_slice(&header());
            self.started = true;
        }
        let convs = &self.convs;
        let rows = &mut self.rows;
        self.lines.push(chunk, |line| {
            *rows += 1;
            push_row(&mut out, line, convs).map_err(|e| format!("row {rows}: {e}"))
        })?;
        Ok(out)
    }

    /// The trailer (and the header, for a table without rows).
    pub fn finish(mut self) -> Result<Vec<u8>, String> {
        if !self.lines.is_clean() {
            return Err(format!("the data ends in a partial row after row {}", self.rows));
        }
        let mut out = if self.started { Vec::new() } else { header() };
        self.started = true;
        out.extend_from_slice(&trailer());
        Ok(out)
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_match_postgres_epoch() {
        assert_eq!(date("2000-01-01").unwrap(), 0);
        assert_eq!(date("2000-01-02").unwrap(), 1);
        assert_eq!(date("1999-12-31").unwrap(), -1);
        assert_eq!(date("1970-01-01").unwrap(), -10_957);
        assert_eq!(date("0001-01-01 BC").unwrap(), date("0001-01-01").unwrap() - 366);
        assert_eq!(date("infinity").unwrap(), i32::MAX);
        assert!(date("2020-13-01").is_err());
        assert_eq!(timestamp("2000-01-01 00:00:01.5", false).unwrap(), 1_500_000);
        assert_eq!(timestamp("2000-01-01 01:00:00+01", true).unwrap(), 0);
        assert_eq!(timestamp("1999-12-31 23:30:00-00:30", true).unwrap(), 0);
        assert_eq!(time_of_day("24:00:00").unwrap(), USECS_PER_DAY);
        assert_eq!(time_of_day("00:00:00.000001").unwrap(), 1);
    }

    #[test]
    fn rows_encode_fields_and_nulls() {
        let mut out = Vec::new();
        push_row(&mut out, b"7\t\\N\tta\\tb\tt", &[Conv::Int4, Conv::Text, Conv::Text, Conv::Bool]).unwrap();
        let mut want = 4i16.to_be_bytes().to_vec();
        want.extend_from_slice(&4i32.to_be_bytes());
        want.extend_from_slice(&7i32.to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        want.extend_from_slice(&4i32.to_be_bytes());
        want.extend_from_slice(b"ta\tb");
        want.extend_from_slice(&1i32.to_be_bytes());
        want.push(1);
        assert_eq!(out, want);
        assert!(push_row(&mut Vec::new(), b"1\t2", &[Conv::Int4]).is_err());
        assert!(push_row(&mut Vec::new(), b"1", &[Conv::Int4, Conv::Int4]).is_err());
        assert!(push_row(&mut Vec::new(), b"x", &[Conv::Int4]).is_err());
    }

    #[test]
    fn uuids_bytea_and_jsonb() {
        let mut out = Vec::new();
        push_value(&mut out, b"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", Conv::Uuid).unwrap();
        assert_eq!(out.len(), 16);
        assert_eq!(out[0], 0xa0);
        let mut out = Vec::new();
        push_value(&mut out, b"\\\\x00ff", Conv::Bytea).unwrap();
        assert_eq!(out, vec![0, 255]);
        let mut out = Vec::new();
        push_value(&mut out, b"{\"a\": 1}", Conv::Jsonb).unwrap();
        assert_eq!(out[0], 1);
    }
}
