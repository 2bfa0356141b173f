//! The row transform: a [`ChunkSink`] in front of another that rewrites the masked
//! fields of each COPY text row and passes everything else through byte for byte.
//! Rows arrive in chunks cut anywhere; a row split across chunks waits (one row at
//! most) for its end. Unique keys holding a masked column whose function could map two
//! values to one are watched: a set of 64-bit digests of each key's masked values (8
//! bytes a row and the set's overhead, about 18 MB per million rows), and a repeat is an
//! error. Errors name the table, column and row number, never a value.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::memo::{Identity, Memo};
use super::plan::{ColumnMask, TableMask};
use super::rules::Rule;
use super::value::Fault;
use crate::db::ChunkSink;
use crate::db::copy_text::{push_null, push_text};
use crate::error::Error;

/// Masked rows are handed on in pieces of about this size.
const OUT_CHUNK: usize = 256 << 10;

/// Masks rows on their way into `inner`.
pub struct MaskSink<'s, S: ChunkSink> {
    inner: &'s mut S,
    table: &'s TableMask,
    partial: Vec<u8>,
    out: Vec<u8>,
    field: String,
    rows: u64,
    watched: Vec<HashSet<u64, BuildHasherDefault<Identity>>>,
    /// Per column, masked values seen lately (`None`: not worth it for its rule).
    memos: Vec<Option<Memo>>,
}

impl<'s, S: ChunkSink> MaskSink<'s, S> {
    pub fn new(table: &'s TableMask, inner: &'s mut S) -> Self {
        Self {
            inner,
            table,
            partial: Vec::new(),
            out: Vec::with_capacity(OUT_CHUNK + (64 << 10)),
            field: String::new(),
            rows: 0,
            watched: table.watched.iter().map(|_| HashSet::default()).collect(),
            memos: table
                .columns
                .iter()
                .map(|c| {
                    c.as_ref().and_then(|c| c.whole.as_ref()).filter(|m| memo_pays(&m.rule)).map(|_| Memo::default())
                })
                .collect(),
        }
    }

    /// Masks what is left (a last row without its newline goes on as it is, for the
    /// sink behind to refuse) and hands it on.
    pub async fn finish(mut self) -> Result<(), Error> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.row(&line)?;
            // `row` ended it with a newline the data did not have.
            self.out.pop();
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), Error> {
        if !self.out.is_empty() {
            self.inner.push(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    fn row(&mut self, line: &[u8]) -> Result<(), Error> {
        self.rows += 1;
        let start = self.out.len();
        let mut n = 0usize;
        for raw in line.split(|&b| b == b'\t') {
            if n > 0 {
                self.out.push(b'\t');
            }
            match self.table.columns.get(n) {
                None => {
                    return Err(
                        self.fault_row(format!("has more than the {} columns the table has", self.table.columns.len()))
                    );
                }
                Some(None) => self.out.extend_from_slice(raw),
                Some(Some(mask)) => self.mask_field(n, mask, raw)?,
            }
            n += 1;
        }
        if n != self.table.columns.len() {
            return Err(self.fault_row(format!("has {n} fields, and the table {} columns", self.table.columns.len())));
        }
        if !self.watched.is_empty() {
            self.watch(start)?;
        }
        self.out.push(b'\n');
        Ok(())
    }

    fn mask_field(&mut self, n: usize, mask: &ColumnMask, raw: &[u8]) -> Result<(), Error> {
        if raw == b"\\N" {
            push_null(&mut self.out);
            return Ok(());
        }
        unescape_into(raw, &mut self.field).map_err(|why| self.fault(n, why))?;
        let out = &mut self.out;
        let mut push = |masked: Option<&str>| match masked {
            None => push_null(out),
            Some(text) => push_text(out, text),
        };
        let done = match (self.memos.get_mut(n).and_then(Option::as_mut), &mask.whole) {
            (Some(memo), Some(m)) if m.rule == Rule::JsonLeaves => {
                m.json_leaves_with(&self.field, memo).map(|doc| push(Some(&doc)))
            }
            (Some(memo), _) => memo.get_or(&self.field, |v| mask.apply(v), &mut push),
            (None, _) => mask.apply(&self.field).map(|m| push(m.as_deref())),
        };
        done.map_err(|Fault(why)| self.fault(n, why))
    }

    /// Checks the unique keys of the row just written at `out[start..]`.
    fn watch(&mut self, start: usize) -> Result<(), Error> {
        let fields: Vec<&[u8]> = self.out[start..].split(|&b| b == b'\t').collect();
        for (k, key) in self.table.watched.iter().enumerate() {
            let mut h = xxhash_rust::xxh3::Xxh3Default::new();
            let mut null = false;
            for &i in key {
                let f = fields.get(i).copied().unwrap_or_default();
                null |= f == b"\\N";
                h.update(f);
                h.update(b"\t");
            }
            // NULLs never collide in a unique key.
            if !null && !self.watched[k].insert(h.digest()) {
                let cols: Vec<&str> = key.iter().map(|&i| self.column_name(i)).collect();
                return Err(Error::Generation {
                    table: self.table.table.to_string(),
                    reason: format!(
                        "masking gave row {} the same ({}) as an earlier row, and they are a unique key",
                        self.rows,
                        cols.join(", ")
                    ),
                    hint: Some(
                        "mask that column with a rule that keeps values distinct: hash, fake on a text column with room \
                         for its 13-character tag, or a template with {n}"
                            .into(),
                    ),
                });
            }
        }
        Ok(())
    }

    fn column_name(&self, i: usize) -> &str {
        self.table.names.get(i).map_or("?", String::as_str)
    }

    fn fault(&self, n: usize, why: &str) -> Error {
        Error::Data {
            step: format!("masking {}.{}", self.table.table, self.column_name(n)),
            reason: format!("row {}: {why}", self.rows),
        }
    }

    fn fault_row(&self, why: String) -> Error {
        Error::Data { step: format!("masking {}", self.table.table), reason: format!("row {} {why}", self.rows) }
    }
}

impl<S: ChunkSink> ChunkSink for MaskSink<'_, S> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut rest = bytes;
        if !self.partial.is_empty() {
            match memchr::memchr(b'\n', rest) {
                None => {
                    self.partial.extend_from_slice(rest);
                    return Ok(());
                }
                Some(i) => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(&rest[..i]);
                    self.row(&line)?;
                    rest = &rest[i + 1..];
                }
            }
        }
        while let Some(i) = memchr::memchr(b'\n', rest) {
            self.row(&rest[..i])?;
            rest = &rest[i + 1..];
            if self.out.len() >= OUT_CHUNK {
                self.flush().await?;
            }
        }
        self.partial.extend_from_slice(rest);
        self.flush().await
    }
}

/// Whether remembering a rule's outputs is cheaper than computing them again.
/// (For `json`, the document's strings are remembered, not the documents.)
fn memo_pays(rule: &Rule) -> bool {
    !matches!(rule, Rule::Keep | Rule::Null | Rule::Fixed(_))
}

/// COPY text unescaped into `out` (as `copy_text::parse_line` reads a field); binary
/// values stay in their `\x..` hex form.
fn unescape_into(raw: &[u8], out: &mut String) -> Result<(), &'static str> {
    out.clear();
    if !raw.contains(&b'\\') {
        out.push_str(std::str::from_utf8(raw).map_err(|_| "a value is not UTF-8 text")?);
        return Ok(());
    }
    let bytes = crate::db::copy_text::unescape(raw).map_err(|_| "a value ends in a lone backslash")?;
    out.push_str(std::str::from_utf8(&bytes).map_err(|_| "a value is not UTF-8 text")?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::{TableName, TypeKind};
    use crate::factory::values::{Bounds, Faker};
    use crate::mask::key::MasterKey;
    use crate::mask::rules::Rule;
    use crate::mask::value::{Masker, Shape};

    struct Collect(Vec<u8>);
    impl ChunkSink for Collect {
        async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
            self.0.extend_from_slice(bytes);
            Ok(())
        }
    }

    fn masker(rule: Rule, distinct: bool) -> Masker {
        let key = MasterKey::for_tests(b"0123456789abcdef0123").rule_key(&rule.fingerprint());
        let shape = Shape {
            kind: TypeKind::Text { max_len: None },
            bounds: Bounds::default(),
            one_of: None,
            distinct,
            column: "c".into(),
        };
        Masker { rule, shape, key: Some(key) }
    }

    fn table(masks: Vec<Option<Masker>>, watched: Vec<Vec<usize>>) -> TableMask {
        TableMask {
            table: TableName::new("public", "t"),
            names: (0..masks.len()).map(|i| format!("c{i}")).collect(),
            columns: masks
                .into_iter()
                .map(|m| m.map(|w| ColumnMask { whole: Some(w), paths: vec![], at: None }))
                .collect(),
            watched,
        }
    }

    fn run(t: &TableMask, data: &[u8], cut: usize) -> Result<Vec<u8>, Error> {
        let mut out = Collect(Vec::new());
        futures_executor(async {
            let mut sink = MaskSink::new(t, &mut out);
            for piece in data.chunks(cut.max(1)) {
                sink.push(piece).await?;
            }
            sink.finish().await
        })?;
        Ok(out.0)
    }

    fn futures_executor<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn masks_only_its_columns_whatever_the_chunking() {
        let t =
            table(vec![None, Some(masker(Rule::Fake(Faker::Email), false)), Some(masker(Rule::Redact, false))], vec![]);
        let data = b"1\tmary@x.org\tMary Smith\n2\t\\N\ttab\\there\n3\tjo\\\\e@y.org\t\n".to_vec();
        let whole = run(&t, &data, data.len()).unwrap();
        for cut in [1, 2, 7, 13] {
            assert_eq!(run(&t, &data, cut).unwrap(), whole, "cut {cut}");
        }
        let text = String::from_utf8(whole).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 3);
        assert!(
            rows[0].starts_with("1\t") && rows[0].ends_with("\tMa** S****") && !rows[0].contains("mary@x.org"),
            "{}",
            rows[0]
        );
        assert_eq!(rows[1], "2\t\\N\tt**\\th***", "NULL stays NULL, escapes survive");
        assert!(!text.contains("jo\\\\e@y.org"));
    }

    #[test]
    fn bad_rows_are_errors_without_values() {
        let t = table(vec![None, Some(masker(Rule::Redact, false))], vec![]);
        let e = run(&t, b"1\tsecret\textra\n", 100).unwrap_err().to_string();
        assert!(e.contains("row 1") && !e.contains("secret"), "{e}");
        let e = run(&t, b"1\n", 100).unwrap_err().to_string();
        assert!(e.contains("1 fields"), "{e}");
        let e = run(&t, b"1\tsecret\\\n", 100).unwrap_err().to_string();
        assert!(e.contains("masking t.c1") && e.contains("lone backslash") && !e.contains("secret"), "{e}");
        let e = run(&t, b"1\t\xff\xfe\n", 100).unwrap_err().to_string();
        assert!(e.contains("not UTF-8"), "{e}");
        // A last row without its newline reaches the sink behind as it came.
        assert_eq!(run(&t, b"1\tab", 100).unwrap(), b"1\ta*");
    }

    #[test]
    fn collisions_in_a_unique_key_are_caught() {
        let t = table(vec![Some(masker(Rule::Fixed("same".into()), false))], vec![vec![0]]);
        let e = run(&t, b"a\nb\n", 100).unwrap_err();
        assert!(e.to_string().contains("row 2") && e.to_string().contains("(c0)"), "{e}");
        assert_eq!(run(&t, b"a\n\\N\n\\N\n", 100).unwrap(), b"same\n\\N\n\\N\n", "NULLs do not collide");
    }
}
