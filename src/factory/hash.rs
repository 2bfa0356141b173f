//! Deterministic mixing: every key, foreign-key pick and unique value is a pure function
//! of (seed, table, column, row index), so rows can be generated in any order, parents'
//! keys can be recomputed by children without storing them, and the same seed gives the
//! same data.

/// SplitMix64's finaliser: a bijection on u64 with good avalanche.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

pub fn hash_str(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

/// Combines a key with more parts.
pub fn derive(key: u64, part: u64) -> u64 {
    mix64(key ^ mix64(part.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

/// A permutation of `[0, n)`: `i -> (a*i + b) mod n` with `a` coprime to `n`.
/// Cheap, exact, and it spreads consecutive indexes over the range.
#[derive(Debug, Clone, Copy)]
pub struct Perm {
    n: u64,
    a: u64,
    b: u64,
}

impl Perm {
    pub fn new(n: u64, salt: u64) -> Self {
        if n <= 1 {
            return Self { n: n.max(1), a: 1, b: 0 };
        }
        let mut a = (mix64(salt) % n) | 1;
        while gcd(a, n) != 1 {
            a = (a + 2) % n;
            if a == 0 {
                a = 1;
            }
        }
        Self { n, a, b: mix64(salt ^ 0x5151) % n }
    }

    pub fn apply(&self, i: u64) -> u64 {
        let v = (u128::from(self.a) * u128::from(i % self.n) + u128::from(self.b)) % u128::from(self.n);
        u64::try_from(v).unwrap_or(0)
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A bijection on 60-bit numbers (for the unique part of a UUID).
pub fn mix60(x: u64, key: u64) -> u64 {
    const MASK: u64 = (1 << 60) - 1;
    let mut v = (x ^ key) & MASK;
    v = v.wrapping_mul(0x0bf5_8476_d1ce_4e5b | 1) & MASK;
    v ^= v >> 29;
    v = v.wrapping_mul(0x094d_049b_b133_111b | 1) & MASK;
    v ^= v >> 31;
    v
}

/// A UUID (version 4 layout) whose top 60 bits are a bijection of `index`: distinct for
/// distinct indexes, by construction. The low bits look random.
pub fn uuid_for(key: u64, index: u64) -> [u8; 16] {
    let hi = mix60(index, key);
    let lo = mix64(derive(key, index));
    let mut b = [0u8; 16];
    // bytes 0..6: top 48 bits; byte 6: version 4 + 4 bits; byte 7: 8 bits
    b[0..6].copy_from_slice(&(hi >> 12).to_be_bytes()[2..8]);
    b[6] = 0x40 | u8::try_from((hi >> 8) & 0x0f).unwrap_or(0);
    b[7] = u8::try_from(hi & 0xff).unwrap_or(0);
    b[8..16].copy_from_slice(&lo.to_be_bytes());
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn perm_is_a_permutation() {
        for n in [1u64, 2, 3, 10, 97, 100, 1024, 1000] {
            let p = Perm::new(n, n * 7);
            let seen: HashSet<u64> = (0..n).map(|i| p.apply(i)).collect();
            assert_eq!(seen.len() as u64, n);
            assert!(seen.iter().all(|&v| v < n));
        }
    }

    #[test]
    fn mix60_is_injective_on_a_sample() {
        let seen: HashSet<u64> = (0..200_000u64).map(|i| mix60(i, 42)).collect();
        assert_eq!(seen.len(), 200_000);
    }

    #[test]
    fn uuids_distinct_and_version_4() {
        let seen: HashSet<[u8; 16]> = (0..100_000u64).map(|i| uuid_for(7, i)).collect();
        assert_eq!(seen.len(), 100_000);
        let u = uuid::Uuid::from_bytes(uuid_for(7, 1));
        assert_eq!(u.get_version_num(), 4);
    }
}
