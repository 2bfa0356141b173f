//! A bounded memo of one column's masked values. A masked value is a function of the
//! value, the rule and the key, and columns repeat values (names, dates, a document's
//! tags), so a value seen before is masked once: the output is the same bytes either
//! way, only cheaper.
//!
//! Inputs and outputs live in one byte arena indexed by the input's 64-bit hash (an
//! entry is 12 bytes and its texts), so neither a hit nor a miss allocates per value.
//! Bounded: values longer than [`MAX_VALUE`] are not kept (documents and sentences
//! rarely repeat), nothing is added once the arena holds [`MAX_ARENA`] bytes or
//! [`MAX_ENTRIES`] values (about 1.5 MB a column at most), and a column whose values do
//! not repeat (emails, keys: under one hit in [`MIN_HIT_SHARE`] of the first
//! [`PROBATION`] values) stops using it and frees it. It holds the values in memory
//! only, as the row being masked is.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Longest value (input or output, in bytes) kept.
pub const MAX_VALUE: usize = 64;
/// Bytes of inputs and outputs kept per column.
const MAX_ARENA: usize = 1 << 20;
/// Values kept per column.
const MAX_ENTRIES: usize = 1 << 15;
/// Values looked up before deciding whether the column repeats enough.
const PROBATION: u32 = 4096;
/// One hit in this many lookups keeps the memo on.
const MIN_HIT_SHARE: u32 = 10;
/// The output of an entry that is NULL.
const NULL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Entry {
    at: u32,
    input: u32,
    output: u32,
}

/// See the module's note.
#[derive(Default)]
pub struct Memo {
    index: HashMap<u64, Entry, BuildHasherDefault<Identity>>,
    arena: Vec<u8>,
    lookups: u32,
    hits: u32,
    off: bool,
}

impl Memo {
    /// A memo that keeps nothing.
    pub fn off() -> Self {
        Memo { off: true, ..Memo::default() }
    }

    /// The masked form of `input` (`None`: NULL): from the memo, or `mask(input)` kept
    /// for next time. The same result either way.
    pub fn get_or<E>(
        &mut self,
        input: &str,
        mask: impl FnOnce(&str) -> Result<Option<String>, E>,
        out: &mut dyn FnMut(Option<&str>),
    ) -> Result<(), E> {
        if !self.off && self.lookups == PROBATION && self.hits < PROBATION / MIN_HIT_SHARE {
            *self = Memo::off();
        }
        if self.off || input.len() > MAX_VALUE {
            out(mask(input)?.as_deref());
            return Ok(());
        }
        self.lookups = self.lookups.saturating_add(1);
        let hash = xxhash_rust::xxh3::xxh3_64(input.as_bytes());
        if let Some(e) = self.index.get(&hash) {
            let at = e.at as usize;
            let (i, o) = (e.input as usize, e.output);
            // A 64-bit hash shared by two values is a miss, never a wrong answer.
            if self.arena.get(at..at + i) == Some(input.as_bytes()) {
                self.hits += 1;
                let text = (o != NULL).then(|| {
                    let bytes = &self.arena[at + i..at + i + o as usize];
                    std::str::from_utf8(bytes).unwrap_or_default()
                });
                out(text);
                return Ok(());
            }
            let masked = mask(input)?;
            out(masked.as_deref());
            return Ok(());
        }
        let masked = mask(input)?;
        out(masked.as_deref());
        self.keep(hash, input, masked.as_deref());
        Ok(())
    }

    fn keep(&mut self, hash: u64, input: &str, output: Option<&str>) {
        let out_len = output.map_or(0, str::len);
        if out_len > MAX_VALUE
            || self.index.len() >= MAX_ENTRIES
            || self.arena.len() + input.len() + out_len > MAX_ARENA
        {
            return;
        }
        let (Ok(at), Ok(i), Ok(o)) =
            (u32::try_from(self.arena.len()), u32::try_from(input.len()), u32::try_from(out_len))
        else {
            return;
        };
        self.arena.extend_from_slice(input.as_bytes());
        if let Some(text) = output {
            self.arena.extend_from_slice(text.as_bytes());
        }
        self.index.insert(hash, Entry { at, input: i, output: if output.is_some() { o } else { NULL } });
    }
}

/// A hasher for keys that are hashes already: uses them as they are.
#[derive(Default)]
pub struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(m: &mut Memo, input: &str, calls: &mut u32) -> Option<String> {
        let mut got = None;
        m.get_or::<&str>(
            input,
            |v| {
                *calls += 1;
                Ok((v != "null").then(|| format!("<{v}>")))
            },
            &mut |o| got = o.map(str::to_owned),
        )
        .unwrap();
        got
    }

    #[test]
    fn repeats_are_masked_once_with_the_same_result() {
        let mut m = Memo::default();
        let mut calls = 0;
        for _ in 0..3 {
            assert_eq!(through(&mut m, "Mary", &mut calls).as_deref(), Some("<Mary>"));
            assert_eq!(through(&mut m, "null", &mut calls), None);
            assert_eq!(through(&mut m, "", &mut calls).as_deref(), Some("<>"));
        }
        assert_eq!(calls, 3);
        let long = "x".repeat(MAX_VALUE + 1);
        through(&mut m, &long, &mut calls);
        through(&mut m, &long, &mut calls);
        assert_eq!(calls, 5, "long values are not kept");
    }

    #[test]
    fn values_that_do_not_repeat_turn_it_off_and_it_stays_bounded() {
        let mut m = Memo::default();
        let mut calls = 0;
        for i in 0..=PROBATION {
            through(&mut m, &format!("user{i}@example.com"), &mut calls);
        }
        assert!(m.off && m.arena.is_empty() && m.index.is_empty());
        let mut m = Memo::default();
        for i in 0..MAX_ENTRIES + 10 {
            // Repeats enough to stay on.
            through(&mut m, &format!("v{}", i % 2 * i), &mut calls);
        }
        assert!(!m.off && m.index.len() <= MAX_ENTRIES && m.arena.len() <= MAX_ARENA);
    }

    #[test]
    fn errors_pass_through_and_are_not_kept() {
        let mut m = Memo::default();
        let e = m.get_or("x", |_| Err("bad"), &mut |_| {});
        assert_eq!(e, Err("bad"));
        let mut calls = 0;
        assert_eq!(through(&mut m, "x", &mut calls).as_deref(), Some("<x>"));
        assert_eq!(calls, 1);
    }
}
