//! Deserializers for collections that count while parsing and stop at a limit, so a
//! header listing 330,000 tables is refused after 20,001 entries instead of after
//! building all of them. `format` applies them, with its limits, through
//! `#[serde(deserialize_with)]`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _, MapAccess, SeqAccess, Visitor};

/// What the limits on a list of tables count in each table.
pub trait TableShape {
    fn columns(&self) -> usize;
    /// Primary-key columns, and columns with a sequence state: never more than columns.
    fn keyed_columns(&self) -> usize;
}

/// A list of tables: at most `max_tables`, at most `max_columns` columns in all, and no
/// table with more key or sequence columns than columns (which bounds those lists by
/// the same total).
pub fn tables<'de, D, T>(d: D, max_tables: usize, max_columns: usize) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + TableShape,
{
    struct Tables<T> {
        max_tables: usize,
        max_columns: usize,
        item: PhantomData<T>,
    }
    impl<'de, T: Deserialize<'de> + TableShape> Visitor<'de> for Tables<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of tables")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let (max_tables, max_columns) = (self.max_tables, self.max_columns);
            let mut out: Vec<T> = Vec::new();
            let mut columns = 0usize;
            while let Some(t) = seq.next_element::<T>()? {
                if out.len() == max_tables {
                    return Err(A::Error::custom(format!("the header lists more than {max_tables} tables")));
                }
                columns += t.columns();
                if columns > max_columns {
                    return Err(A::Error::custom(format!("the header lists more than {max_columns} columns in all")));
                }
                if t.keyed_columns() > t.columns() {
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
    d.deserialize_seq(Tables { max_tables, max_columns, item: PhantomData })
}

/// A list of at most `max` items (`what` names them in the message).
pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
    max: usize,
    what: &'static str,
) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(Bounded::new(max, what))
}

/// A map of at most `max` entries, each key once (`what` names them in the message).
pub fn map<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
    d: D,
    max: usize,
    what: &'static str,
) -> Result<BTreeMap<String, V>, D::Error> {
    d.deserialize_map(BoundedMap::new(max, what))
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
