//! Short unique codes: every string over [0-9a-z] of some lengths, in a permuted
//! order, so row `g` gets a code no other row gets (keys of narrow text columns).

use crate::factory::hash::Perm;

/// Symbols of short text keys: lower case and digits only, so case-insensitive
/// collations and citext keep them distinct; no blank, so `char(n)`'s padding (trailing
/// blanks compare equal) cannot merge two of them.
const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const RADIX: u128 = 36;

/// Every string over [`ALPHABET`] whose length is in `min_len..=max_len`, in a
/// permuted order: row `g` gets `value(g)`, distinct for every `g < capacity`.
#[derive(Debug, Clone, Copy)]
pub struct CodeSpace {
    pub min_len: u32,
    pub max_len: u32,
    pub capacity: u64,
    perm: Perm,
}

impl CodeSpace {
    pub fn new(min_len: u32, max_len: u32, salt: u64) -> Self {
        let min_len = min_len.max(1);
        let capacity = code_capacity(min_len, max_len);
        Self { min_len, max_len, capacity, perm: Perm::new(capacity, salt) }
    }

    /// The code of row `g` (`g < capacity`): the permuted index written in bijective
    /// form, longest codes first (so `char(n)` keys are mostly full length).
    pub fn value(&self, g: u64) -> String {
        let mut x = u128::from(self.perm.apply(g));
        for len in (self.min_len..=self.max_len).rev() {
            let bucket = RADIX.saturating_pow(len);
            if x < bucket {
                return digits(x, len);
            }
            x -= bucket;
        }
        String::new()
    }
}

/// How many strings of `min_len..=max_len` characters the alphabet makes (saturating).
pub fn code_capacity(min_len: u32, max_len: u32) -> u64 {
    let mut total: u128 = 0;
    for len in min_len.max(1)..=max_len {
        total = total.saturating_add(RADIX.saturating_pow(len));
        if total >= u128::from(u64::MAX) {
            return u64::MAX;
        }
    }
    u64::try_from(total).unwrap_or(u64::MAX)
}

/// `x` in base 36 with exactly `len` digits.
fn digits(mut x: u128, len: u32) -> String {
    let mut out = vec![ALPHABET[0]; len as usize];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[usize::try_from(x % RADIX).unwrap_or(0)];
        x /= RADIX;
    }
    String::from_utf8(out).unwrap_or_default()
}

pub fn base36(n: u64) -> String {
    let mut len = 1;
    while RADIX.pow(len) <= u128::from(n) {
        len += 1;
    }
    digits(u128::from(n), len)
}

/// "1–2 characters of [0-9a-z]"
pub fn describe_space(space: &CodeSpace) -> String {
    let unit = if space.max_len == 1 { "character" } else { "characters" };
    if space.min_len == space.max_len {
        format!("{} {unit} of [0-9a-z]", space.max_len)
    } else {
        format!("{}–{} {unit} of [0-9a-z]", space.min_len, space.max_len)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(u64::MAX), "3w5e11264sgsf");
    }

    #[test]
    fn capacities_count_every_length() {
        assert_eq!(code_capacity(0, 1), 36);
        assert_eq!(code_capacity(1, 2), 36 + 1296);
        assert_eq!(code_capacity(2, 2), 1296);
        assert_eq!(code_capacity(1, 3), 36 + 1296 + 46_656);
        assert_eq!(code_capacity(3, 2), 0);
        assert_eq!(code_capacity(1, 40), u64::MAX);
    }

    #[test]
    fn codes_are_a_bijection_onto_the_space() {
        for (min, max) in [(0, 1), (1, 2), (2, 2), (1, 3)] {
            let space = CodeSpace::new(min, max, 99);
            let all: HashSet<String> = (0..space.capacity).map(|g| space.value(g)).collect();
            assert_eq!(all.len() as u64, space.capacity, "{min}..{max}");
            for v in &all {
                let n = v.chars().count();
                assert!((min.max(1) as usize..=max as usize).contains(&n), "{v:?}");
                assert!(v.bytes().all(|b| ALPHABET.contains(&b)), "{v:?}");
            }
        }
        // Large spaces stay injective on a sample, and no code ends in a blank.
        let space = CodeSpace::new(1, 13, 7);
        let sample: HashSet<String> = (0..100_000u64).map(|g| space.value(g)).collect();
        assert_eq!(sample.len(), 100_000);
    }
}
