//! Deserializers for the header's collections that count while parsing and stop at the
//! format's limits, so a header listing 330,000 tables is refused after 20,001 entries
//! instead of after building all of them. Used through `#[serde(deserialize_with)]`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

use crate::db::schema::CheckRule;
use crate::snapshot::format::{
    ColumnEntry, ForeignKeyEntry, MAX_CHECKS_PER_COLUMN, MAX_COLUMNS_PER_TABLE, MAX_COLUMNS_TOTAL, MAX_KEYS_PER_TABLE,
    MAX_SETTINGS, MAX_SUBSET_ITEMS, MAX_TABLES, SequenceState, TableEntry,
};

/// The header's tables: at most [`MAX_TABLES`], at most [`MAX_COLUMNS_TOTAL`] columns in
/// all, and no table with more key or sequence columns than columns (which bounds
/// those lists by the same total).
pub fn tables<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TableEntry>, D::Error> {
    struct Tables;
    impl<'de> Visitor<'de> for Tables {
        type Value = Vec<TableEntry>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tables")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out: Vec<TableEntry> = Vec::new();
            let mut columns = 0usize;
            while let Some(t) = seq.next_element::<TableEntry>()? {
                if out.len() == MAX_TABLES {
                    return Err(A::Error::custom(format!("the header lists more than {MAX_TABLES} tables")));
                }
                columns += t.columns.len();
                if columns > MAX_COLUMNS_TOTAL {
                    return Err(A::Error::custom(format!(
                        "the header lists more than {MAX_COLUMNS_TOTAL} columns in all"
                    )));
                }
                if t.primary_key.len() > t.columns.len() || t.sequences.len() > t.columns.len() {
                    return Err(A::Error::custom(format!(
                        "table {} lists more key or sequence columns than columns",
                        out.len() + 1
                    )));
                }
                out.push(t);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Tables)
}

/// A table's columns: at most [`MAX_COLUMNS_PER_TABLE`].
pub fn columns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ColumnEntry>, D::Error> {
    d.deserialize_seq(Bounded::new(MAX_COLUMNS_PER_TABLE, "columns in a table"))
}

/// A table's primary-key column names: at most [`MAX_COLUMNS_PER_TABLE`].
pub fn key<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_seq(Bounded::new(MAX_COLUMNS_PER_TABLE, "primary-key columns in a table"))
}

/// A subset's starting points or references: at most [`MAX_SUBSET_ITEMS`].
pub fn subset_items<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(Bounded::new(MAX_SUBSET_ITEMS, "subset entries"))
}

/// A table's unique keys: at most [`MAX_KEYS_PER_TABLE`], each a list of column names.
pub fn unique_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<String>>, D::Error> {
    d.deserialize_seq(Bounded::<KeyColumns>::new(MAX_KEYS_PER_TABLE, "unique keys in a table"))
        .map(|keys| keys.into_iter().map(|k| k.0).collect())
}

/// A table's foreign keys: at most [`MAX_KEYS_PER_TABLE`].
pub fn foreign_keys<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ForeignKeyEntry>, D::Error> {
    d.deserialize_seq(Bounded::new(MAX_KEYS_PER_TABLE, "foreign keys in a table"))
}

/// A column's checks: at most [`MAX_CHECKS_PER_COLUMN`].
pub fn checks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<CheckRule>, D::Error> {
    d.deserialize_seq(Bounded::new(MAX_CHECKS_PER_COLUMN, "checks on a column"))
}

/// One key's column names, bounded like a primary key.
struct KeyColumns(Vec<String>);

impl<'de> Deserialize<'de> for KeyColumns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        key(d).map(KeyColumns)
    }
}

/// Session settings: at most [`MAX_SETTINGS`], each name once.
pub fn settings<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_map(BoundedMap::new(MAX_SETTINGS, "settings"))
}

/// Sequence states by column: at most [`MAX_COLUMNS_PER_TABLE`], each column once.
pub fn sequences<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, SequenceState>, D::Error> {
    d.deserialize_map(BoundedMap::new(MAX_COLUMNS_PER_TABLE, "sequences in a table"))
}

struct Bounded<T> {
    max: usize,
    what: &'static str,
    item: PhantomData<T>,
}

impl<T> Bounded<T> {
    fn new(max: usize, what: &'static str) -> Self {
        Self { max, what, item: PhantomData }
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Bounded<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {} {}", self.max, self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // No capacity from the input: a size hint is the file's word, not ours.
        let mut out = Vec::new();
        while let Some(item) = seq.next_element()? {
            if out.len() == self.max {
                return Err(A::Error::custom(format!("more than {} {}", self.max, self.what)));
            }
            out.push(item);
        }
        Ok(out)
    }
}

struct BoundedMap<V> {
    max: usize,
    what: &'static str,
    value: PhantomData<V>,
}

impl<V> BoundedMap<V> {
    fn new(max: usize, what: &'static str) -> Self {
        Self { max, what, value: PhantomData }
    }
}

impl<'de, V: Deserialize<'de>> Visitor<'de> for BoundedMap<V> {
    type Value = BTreeMap<String, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a map of at most {} {}", self.max, self.what)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, V>()? {
            if out.len() == self.max {
                return Err(A::Error::custom(format!("more than {} {}", self.max, self.what)));
            }
            if out.contains_key(&k) {
                // Which one would win is up to the parser: refuse instead.
                return Err(A::Error::custom(format!("{} lists one key twice", self.what)));
            }
            out.insert(k, v);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::snapshot::format::Header;
    use crate::snapshot::format::tests::sample_header;

    fn parse(json: &str) -> Result<Header, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_are_refused_while_parsing() {
        let h = sample_header("b", &["a"]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(parse(&json).unwrap(), h);
        let table = serde_json::to_string(&h.tables[0]).unwrap();

        let many = |n: usize| {
            let tables: Vec<String> =
                (0..n).map(|i| table.replace("\"name\":\"a\"", &format!("\"name\":\"t{i}\""))).collect();
            json.replace(&format!("[{table}]"), &format!("[{}]", tables.join(",")))
        };
        assert_eq!(parse(&many(20_000)).unwrap().tables.len(), 20_000);
        let err = parse(&many(20_001)).unwrap_err();
        assert!(err.contains("more than 20000 tables"), "{err}");

        let col = serde_json::to_string(&h.tables[0].columns[0]).unwrap();
        let cols = |n: usize| vec![col.as_str(); n].join(",");
        let wide =
            |n: usize| json.replace(&serde_json::to_string(&h.tables[0].columns).unwrap(), &format!("[{}]", cols(n)));
        assert_eq!(parse(&wide(4096)).unwrap().tables[0].columns.len(), 4096);
        assert!(parse(&wide(4097)).unwrap_err().contains("more than 4096 columns in a table"));

        // 62 tables of 4,096 columns: over the total after the 62nd.
        let wide_table =
            table.replace(&serde_json::to_string(&h.tables[0].columns).unwrap(), &format!("[{}]", cols(4096)));
        let tables: Vec<String> =
            (0..62).map(|i| wide_table.replace("\"name\":\"a\"", &format!("\"name\":\"t{i}\""))).collect();
        let err = parse(&json.replace(&format!("[{table}]"), &format!("[{}]", tables.join(",")))).unwrap_err();
        assert!(err.contains("more than 250000 columns in all"), "{err}");

        let keys = json.replace("\"primary_key\":[\"id\"]", "\"primary_key\":[\"id\",\"id\",\"id\"]");
        assert!(parse(&keys).unwrap_err().contains("more key or sequence columns than columns"));

        let settings: Vec<String> = (0..257).map(|i| format!("\"s{i}\":\"v\"")).collect();
        let s = json
            .replace("\"settings\":{\"DateStyle\":\"ISO, MDY\"}", &format!("\"settings\":{{{}}}", settings.join(",")));
        assert!(parse(&s).unwrap_err().contains("more than 256 settings"));
        let dup = json.replace("\"settings\":{\"DateStyle\":\"ISO, MDY\"}", "\"settings\":{\"a\":\"1\",\"a\":\"2\"}");
        assert!(parse(&dup).unwrap_err().contains("one key twice"));
    }
}
