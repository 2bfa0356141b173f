//! The primary key of a `COPY` text row: its key columns' fields, in primary-key order,
//! joined by tabs. That is also exactly the line a delta's deletes part stores for a
//! removed row, so a delete line and the row it removes have the same key bytes.
//! (Fields never hold a raw tab: `COPY` text escapes it as `\t`.)

use std::hash::{BuildHasherDefault, Hasher};

use crate::snapshot::format::TableEntry;

/// Hashes a value that already is a hash (an xxh3 of a key) by taking its bits as
/// they are: no second hashing of millions of keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    #[allow(clippy::cast_possible_truncation)]
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64 ^ (n >> 64) as u64;
    }
}

/// Build hasher for sets and maps keyed by xxh3 hashes.
pub type PrehashedState = BuildHasherDefault<Prehashed>;

/// Splits a stream of `COPY` text into lines (without their newline), whatever the
/// chunk boundaries; holds at most one partial line.
#[derive(Debug, Default)]
pub struct LineSplitter {
    carry: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` with every line `bytes` completes; stops at its first error.
    pub fn feed<E>(&mut self, mut bytes: &[u8], mut each: impl FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', bytes) {
                Some(i) => {
                    self.carry.extend_from_slice(&bytes[..i]);
                    let line = std::mem::take(&mut self.carry);
                    each(&line)?;
                    self.carry = line;
                    self.carry.clear();
                    bytes = &bytes[i + 1..];
                }
                None => {
                    self.carry.extend_from_slice(bytes);
                    return Ok(());
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', bytes) {
            each(&bytes[..i])?;
            bytes = &bytes[i + 1..];
        }
        self.carry.extend_from_slice(bytes);
        Ok(())
    }

    /// Whether a partial line is left (the data did not end with a newline).
    pub fn has_partial(&self) -> bool {
        !self.carry.is_empty()
    }
}

/// Where a table's key columns are in its rows.
#[derive(Debug, Clone)]
pub struct KeyColumns {
    /// Field positions, in primary-key order.
    positions: Vec<usize>,
    /// Highest position + 1: fields a row needs at least.
    needed: usize,
}

impl KeyColumns {
    /// `None` for a table without a primary key (or one naming a column it lacks,
    /// which a validated header never does).
    pub fn of(entry: &TableEntry) -> Option<Self> {
        if entry.primary_key.is_empty() {
            return None;
        }
        let positions: Option<Vec<usize>> =
            entry.primary_key.iter().map(|k| entry.columns.iter().position(|c| &c.name == k)).collect();
        let positions = positions?;
        let needed = positions.iter().max().map_or(0, |m| m + 1);
        Some(Self { positions, needed })
    }

    /// Number of key columns.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The key bytes of `line` (without its newline): borrowed from the line for a
    /// one-column key, else assembled in `scratch`. `None` when the line has fewer
    /// fields than the key needs.
    pub fn key<'a>(&self, line: &'a [u8], scratch: &'a mut Vec<u8>) -> Option<&'a [u8]> {
        if let [only] = self.positions[..] {
            return field(line, only);
        }
        let mut bounds = [(0usize, 0usize); 16];
        let mut many = Vec::new();
        let fields: &mut [(usize, usize)] = if self.needed <= bounds.len() {
            &mut bounds[..self.needed]
        } else {
            many.resize(self.needed, (0, 0));
            &mut many
        };
        let mut start = 0;
        for (i, slot) in fields.iter_mut().enumerate() {
            let end = match memchr::memchr(b'\t', &line[start..]) {
                Some(n) => start + n,
                None if i + 1 == self.needed => line.len(),
                None => return None,
            };
            *slot = (start, end);
            start = end + 1;
        }
        scratch.clear();
        for (n, &p) in self.positions.iter().enumerate() {
            if n > 0 {
                scratch.push(b'\t');
            }
            let (s, e) = fields[p];
            scratch.extend_from_slice(&line[s..e]);
        }
        Some(scratch)
    }
}

/// Field `index` of a `COPY` text line.
fn field(line: &[u8], index: usize) -> Option<&[u8]> {
    let mut start = 0;
    for _ in 0..index {
        start += memchr::memchr(b'\t', &line[start..])? + 1;
    }
    let end = memchr::memchr(b'\t', &line[start..]).map_or(line.len(), |n| start + n);
    Some(&line[start..end])
}

/// Number of fields of a `COPY` text line.
pub fn field_count(line: &[u8]) -> usize {
    memchr::memchr_iter(b'\t', line).count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::format::tests::sample_header;

    fn entry(columns: &[&str], key: &[&str]) -> TableEntry {
        let mut t = sample_header("k", &["t"]).tables.remove(0);
        let col = t.columns[0].clone();
        t.columns =
            columns.iter().map(|c| crate::snapshot::format::ColumnEntry { name: (*c).into(), ..col.clone() }).collect();
        t.primary_key = key.iter().map(|k| (*k).to_owned()).collect();
        t
    }

    #[test]
    fn lines_are_split_whatever_the_chunks() {
        let data = b"1\ta\n22\tbb\n\n333\tccc\n";
        for step in 1..data.len() {
            let mut s = LineSplitter::default();
            let mut lines = Vec::new();
            for piece in data.chunks(step) {
                s.feed(piece, |l| {
                    lines.push(l.to_vec());
                    Ok::<(), ()>(())
                })
                .unwrap();
            }
            assert!(!s.has_partial());
            assert_eq!(lines, [&b"1\ta"[..], b"22\tbb", b"", b"333\tccc"], "step {step}");
        }
        let mut s = LineSplitter::default();
        s.feed(b"x\ny", |_| Ok::<(), ()>(())).unwrap();
        assert!(s.has_partial());
        assert_eq!(s.feed(b"\nz\n", |l| if l == b"y" { Err(()) } else { Ok(()) }), Err(()));
    }

    #[test]
    fn keys_are_the_key_fields_in_key_order() {
        let mut scratch = Vec::new();
        let one = KeyColumns::of(&entry(&["a", "b", "c"], &["b"])).unwrap();
        assert_eq!(one.key(b"1\tx\\ty\tz", &mut scratch), Some(&b"x\\ty"[..]));
        assert_eq!(one.key(b"1\t\tz", &mut scratch), Some(&b""[..]));
        assert_eq!(one.key(b"1", &mut scratch), None);
        let two = KeyColumns::of(&entry(&["a", "b", "c"], &["c", "a"])).unwrap();
        assert_eq!(two.key(b"1\tx\tz", &mut scratch), Some(&b"z\t1"[..]));
        assert_eq!(two.key(b"1\tx", &mut scratch), None);
        assert_eq!(two.len(), 2);
        let last = KeyColumns::of(&entry(&["a", "b"], &["a", "b"])).unwrap();
        assert_eq!(last.key(b"\\N\tq", &mut scratch), Some(&b"\\N\tq"[..]));
        let wide: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        let wide: Vec<&str> = wide.iter().map(String::as_str).collect();
        let far = KeyColumns::of(&entry(&wide, &["c39", "c0"])).unwrap();
        let line: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        assert_eq!(far.key(line.join("\t").as_bytes(), &mut scratch), Some(&b"39\t0"[..]));
        assert!(KeyColumns::of(&entry(&["a"], &[])).is_none());
        assert_eq!(field_count(b"a\tb\t"), 3);
    }
}
