//! The snapshot's row format: PostgreSQL `COPY` text. One line per row, fields
//! separated by tabs, `\N` for NULL, backslash escapes for `\\`, tab, newline and
//! carriage return; binary values as `\\x` followed by hex digits. PostgreSQL writes
//! and reads it itself; every other kind encodes and decodes it here, so all snapshots
//! share one format.

use std::io::Write as _;

use crate::db::value::Value;

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Null,
    Text(String),
    Bytes(Vec<u8>),
}

pub fn push_null(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"\\N");
}

/// Appends `s` escaped for COPY text.
pub fn push_text(buf: &mut Vec<u8>, s: &str) {
    // Most values hold nothing to escape: copied whole.
    if !s.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Appends bytes as PostgreSQL's hex `bytea` output, escaped: `\\x00ff`.
pub fn push_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.extend_from_slice(b"\\\\x");
    for &b in bytes {
        buf.push(HEX[usize::from(b >> 4)]);
        buf.push(HEX[usize::from(b & 0xf)]);
    }
}

/// Appends something that prints without escapes (numbers).
pub fn push_display(buf: &mut Vec<u8>, v: impl std::fmt::Display) {
    // Writing into a Vec cannot fail.
    let _ = write!(buf, "{v}");
}

/// Appends `v` as one field.
pub fn push_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => push_null(buf),
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
        Value::Int(i) => push_display(buf, i),
        Value::Float(f) => push_display(buf, f),
        Value::Text(s) => push_text(buf, s),
        Value::Bytes(b) => push_bytes(buf, b),
    }
}

/// Rows in a chunk of COPY text: its newlines.
pub fn count_lines(chunk: &[u8]) -> u64 {
    chunk.iter().filter(|&&b| b == b'\n').count() as u64
}

/// Decodes one line (without its newline). `binary[i]` says whether field `i` holds
/// bytes written by [`push_bytes`]; every other field must be UTF-8 text.
pub fn parse_line(line: &[u8], binary: &[bool]) -> Result<Vec<Field>, String> {
    let mut fields = Vec::with_capacity(binary.len());
    for (i, raw) in line.split(|&b| b == b'\t').enumerate() {
        if raw == b"\\N" {
            fields.push(Field::Null);
            continue;
        }
        let out = unescape(raw)?;
        if binary.get(i).copied().unwrap_or(false) {
            let hex = out.strip_prefix(b"\\x").ok_or("a binary value does not start with \\x")?;
            fields.push(Field::Bytes(decode_hex(hex)?));
        } else {
            fields.push(Field::Text(String::from_utf8(out).map_err(|_| format!("field {} is not UTF-8", i + 1))?));
        }
    }
    Ok(fields)
}

/// One COPY text field's escapes undone (`\t`, `\n`, ..., `\\`).
pub(crate) fn unescape(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut k = 0;
    while k < raw.len() {
        if raw[k] == b'\\' {
            let Some(&next) = raw.get(k + 1) else { return Err("a field ends in a lone backslash".into()) };
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
    Ok(out)
}

fn decode_hex(hex: &[u8]) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err("odd-length hex in a binary value".into());
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err("bad hex digit in a binary value".to_owned()),
    };
    hex.chunks_exact(2).map(|p| Ok((digit(p[0])? << 4) | digit(p[1])?)).collect()
}

/// Whole lines of a stream of chunks cut anywhere: feed chunks, take complete lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` for every line completed by `chunk` (without its newline).
    pub fn push<E>(&mut self, chunk: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                None => {
                    self.partial.extend_from_slice(rest);
                    return Ok(());
                }
                Some(i) => {
                    self.partial.extend_from_slice(&rest[..i]);
                    let line = std::mem::take(&mut self.partial);
                    each(&line)?;
                    rest = &rest[i + 1..];
                }
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            each(&rest[..i])?;
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// True when the stream ended on a line boundary.
    pub fn is_clean(&self) -> bool {
        self.partial.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn values_are_escaped() {
        let mut buf = Vec::new();
        push_value(&mut buf, &Value::Text("a\tb\nc\\d".into()));
        buf.push(b'|');
        push_value(&mut buf, &Value::Null);
        buf.push(b'|');
        push_value(&mut buf, &Value::Bytes(vec![0, 255]));
        buf.push(b'|');
        push_value(&mut buf, &Value::Float(1.5));
        assert_eq!(String::from_utf8(buf).unwrap(), "a\\tb\\nc\\\\d|\\N|\\\\x00ff|1.5");
    }

    fn encode(fields: &[Field]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            match f {
                Field::Null => push_null(&mut buf),
                Field::Text(s) => push_text(&mut buf, s),
                Field::Bytes(b) => push_bytes(&mut buf, b),
            }
        }
        buf
    }

    fn field() -> impl Strategy<Value = Field> {
        prop_oneof![
            Just(Field::Null),
            any::<String>().prop_map(Field::Text),
            "[\\\\\t\n\r\\\\Nx ]{0,8}".prop_map(Field::Text),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Field::Bytes),
        ]
    }

    proptest! {
        #[test]
        fn every_value_round_trips(fields in proptest::collection::vec(field(), 1..8)) {
            let line = encode(&fields);
            prop_assert!(!line.contains(&b'\n'), "an encoded row is one line");
            let binary: Vec<bool> = fields.iter().map(|f| matches!(f, Field::Bytes(_))).collect();
            prop_assert_eq!(parse_line(&line, &binary).unwrap(), fields);
        }

        #[test]
        fn lines_survive_any_chunking(lines in proptest::collection::vec("[a-z\\\\\t]{0,12}", 0..20), cut in 1usize..7) {
            let mut data = Vec::new();
            for l in &lines {
                data.extend_from_slice(l.as_bytes());
                data.push(b'\n');
            }
            let mut splitter = LineSplitter::default();
            let mut got: Vec<String> = Vec::new();
            for chunk in data.chunks(cut) {
                splitter.push::<()>(chunk, |l| { got.push(String::from_utf8(l.to_vec()).unwrap()); Ok(()) }).unwrap();
            }
            prop_assert!(splitter.is_clean());
            prop_assert_eq!(got, lines);
        }
    }

    #[test]
    fn malformed_fields_are_errors_not_panics() {
        assert!(parse_line(b"\\\\x0", &[true]).is_err());
        assert!(parse_line(b"\\\\xzz", &[true]).is_err());
        assert!(parse_line(b"abc\\", &[false]).is_err());
        assert!(parse_line(b"\xff", &[false]).is_err());
        assert_eq!(parse_line(b"\\N\t", &[false, false]).unwrap(), vec![Field::Null, Field::Text(String::new())]);
    }
}
