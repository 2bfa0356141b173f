//! Deterministic samples by key hash: `TABLE:10%` keeps the rows whose key hashes into
//! the lowest tenth of the 64-bit range, `TABLE:1000` the 1000 rows with the smallest
//! hashes. The hash is XXH3-64 keyed by `--seed` over the key's canonical text (each
//! key column's value as the database prints it as text, length-prefixed), so the same
//! seed picks the same rows of the same data on every run and every kind of database
//! that prints the key the same way (integers, text, uuids do). No database computes
//! it: none of the three shares a hash function with the others.

use std::collections::BinaryHeap;

/// The key's hash: XXH3-64 with `seed` over `len:text` of each key column.
pub fn key_hash(seed: u64, texts: &[Option<String>]) -> u64 {
    let mut buf = Vec::with_capacity(64);
    for t in texts {
        match t {
            Some(t) => {
                buf.extend_from_slice(t.len().to_string().as_bytes());
                buf.push(b':');
                buf.extend_from_slice(t.as_bytes());
            }
            None => buf.push(b'-'),
        }
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&buf, seed)
}

/// The hashes a `p` percent sample keeps are those below this bound (`u128`: 100% is
/// the whole range, 2^64).
pub fn percent_bound(p: f64) -> u128 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let bound = (p.clamp(0.0, 100.0) / 100.0 * 18_446_744_073_709_551_616.0) as u128;
    bound
}

/// Keeps the `n` smallest `(hash, key)` pairs offered: memory for `n` keys, whatever
/// the table's size.
pub struct Smallest {
    n: usize,
    heap: BinaryHeap<(u64, Box<str>)>,
}

impl Smallest {
    pub fn new(n: usize) -> Self {
        Self { n, heap: BinaryHeap::with_capacity(n.min(1 << 16)) }
    }

    pub fn offer(&mut self, hash: u64, key: &str) {
        if self.heap.len() < self.n {
            self.heap.push((hash, key.into()));
        } else if let Some(top) = self.heap.peek()
            && (hash, key) < (top.0, &*top.1)
        {
            self.heap.pop();
            self.heap.push((hash, key.into()));
        }
    }

    pub fn into_keys(self) -> Vec<Box<str>> {
        self.heap.into_iter().map(|(_, k)| k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_length_prefixed() {
        let one = |s: &str| vec![Some(s.to_owned())];
        assert_eq!(key_hash(1, &one("42")), key_hash(1, &one("42")));
        assert_ne!(key_hash(1, &one("42")), key_hash(2, &one("42")));
        let two = |a: &str, b: &str| vec![Some(a.to_owned()), Some(b.to_owned())];
        assert_ne!(key_hash(1, &two("1", "23")), key_hash(1, &two("12", "3")));
    }

    #[test]
    fn percent_keeps_about_that_share() {
        let bound = percent_bound(10.0);
        let kept = (0..100_000).filter(|i| u128::from(key_hash(7, &[Some(i.to_string())])) < bound).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
        assert_eq!(percent_bound(100.0), 1 << 64);
        assert_eq!(percent_bound(0.0), 0);
    }

    #[test]
    fn smallest_keeps_n_whatever_the_order() {
        let mut a = Smallest::new(3);
        let mut b = Smallest::new(3);
        for i in 0..1000u64 {
            a.offer(key_hash(3, &[Some(i.to_string())]), &i.to_string());
            let j = 999 - i;
            b.offer(key_hash(3, &[Some(j.to_string())]), &j.to_string());
        }
        let (mut a, mut b) = (a.into_keys(), b.into_keys());
        a.sort();
        b.sort();
        assert_eq!(a.len(), 3);
        assert_eq!(a, b);
    }
}
