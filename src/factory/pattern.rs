//! Distinct values that match a pattern, by construction: a `GLOB`, `LIKE` or regular
//! expression read as a sequence of character sets with repeat counts, fixed to the
//! fewest characters that give every row its own value; row `g` writes its (permuted)
//! number in the mixed radix of those sets. So a unique `sku` with
//! `CHECK (sku ~ '^[A-Z]{3}-[0-9]{4}$')` gets distinct values that all match.

use regex_syntax::hir::{Class, Hir, HirKind};

use crate::factory::hash::Perm;

/// Characters a `%`, `*` or `.` stands for: lower case and digits, like short keys.
const ANY: &str = "0123456789abcdefghijklmnopqrstuvwxyz";
/// Longest value a pattern space makes; beyond it the pattern is left to the candidates.
const MAX_LEN: u32 = 64;

#[derive(Debug, Clone, PartialEq)]
struct Piece {
    chars: Vec<char>,
    count: u32,
}

#[derive(Debug, Clone)]
pub struct PatternSpace {
    pieces: Vec<Piece>,
    pub capacity: u64,
    perm: Perm,
    /// The pattern as written in the check (for plans).
    pub source: String,
}

/// What kind of pattern a check's literal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Like,
    Glob,
    Regex { case_insensitive: bool },
}

impl PatternSpace {
    /// The space of `pattern` with room for `needed` distinct values within `max_len`
    /// characters, or `None` when the pattern cannot be read that way (alternations,
    /// groups repeated a varying number of times) or holds too few values.
    pub fn new(pattern: &str, syntax: Syntax, needed: u64, max_len: Option<u32>, salt: u64) -> Option<Self> {
        let mut pieces = match syntax {
            Syntax::Like => like_pieces(pattern),
            Syntax::Glob => glob_pieces(pattern)?,
            Syntax::Regex { case_insensitive } => {
                let hir = regex_syntax::ParserBuilder::new()
                    .case_insensitive(case_insensitive)
                    .nest_limit(64)
                    .build()
                    .parse(pattern)
                    .ok()?;
                let mut out = Vec::new();
                flatten(&hir, &mut out, 0)?;
                out
            }
        };
        let limit = max_len.unwrap_or(MAX_LEN).min(MAX_LEN);
        // Fixed counts: each piece at its minimum, then widened one character at a
        // time (first growable piece first) until every row has a value.
        let mut counts: Vec<u32> = pieces.iter().map(|p| p.0.count).collect();
        let grows: Vec<u32> = pieces.iter().map(|p| p.1).collect();
        let capacity = |counts: &[u32], pieces: &[(Piece, u32)]| {
            let mut cap: u128 = 1;
            for (p, &c) in pieces.iter().zip(counts) {
                cap = cap.saturating_mul((p.0.chars.len() as u128).saturating_pow(c));
                if cap > u128::from(u64::MAX) {
                    return u64::MAX;
                }
            }
            u64::try_from(cap).unwrap_or(u64::MAX)
        };
        while capacity(&counts, &pieces) < needed.max(1) {
            let total: u32 = counts.iter().sum();
            let i = (0..pieces.len()).find(|&i| counts[i] < grows[i] && pieces[i].0.chars.len() > 1)?;
            if total >= limit {
                return None;
            }
            counts[i] += 1;
        }
        if counts.iter().sum::<u32>() > limit {
            return None;
        }
        let cap = capacity(&counts, &pieces);
        for (p, c) in pieces.iter_mut().zip(counts) {
            p.0.count = c;
        }
        Some(Self {
            pieces: pieces.into_iter().map(|(p, _)| p).collect(),
            capacity: cap,
            perm: Perm::new(cap, salt),
            source: pattern.to_owned(),
        })
    }

    /// The value of row `g` (`g < capacity`): distinct for distinct rows.
    pub fn value(&self, g: u64) -> String {
        let mut x = self.perm.apply(g);
        let mut out = String::new();
        for p in &self.pieces {
            let radix = p.chars.len() as u64;
            for _ in 0..p.count {
                let d = usize::try_from(x % radix.max(1)).unwrap_or(0);
                x /= radix.max(1);
                out.push(p.chars[d]);
            }
        }
        out
    }
}

/// (piece at its minimum count, the most it may grow to)
type Growable = (Piece, u32);

fn any() -> Vec<char> {
    ANY.chars().collect()
}

fn like_pieces(pattern: &str) -> Vec<Growable> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push((Piece { chars: any(), count: 0 }, MAX_LEN)),
            '_' => out.push((Piece { chars: any(), count: 1 }, 1)),
            '\\' => out.extend(chars.next().map(|c| (Piece { chars: vec![c], count: 1 }, 1))),
            c => out.push((Piece { chars: vec![c], count: 1 }, 1)),
        }
    }
    out
}

fn glob_pieces(pattern: &str) -> Option<Vec<Growable>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push((Piece { chars: any(), count: 0 }, MAX_LEN)),
            '?' => out.push((Piece { chars: any(), count: 1 }, 1)),
            '[' => {
                let mut j = i + 1;
                if chars.get(j) == Some(&'^') {
                    return None;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                let mut set = Vec::new();
                let spec = &chars[i + 1..j.min(chars.len())];
                let mut k = 0;
                while k < spec.len() {
                    if k + 2 < spec.len() && spec[k + 1] == '-' {
                        set.extend((u32::from(spec[k])..=u32::from(spec[k + 2])).take(128).filter_map(char::from_u32));
                        k += 3;
                    } else {
                        set.push(spec[k]);
                        k += 1;
                    }
                }
                set.dedup();
                if set.is_empty() {
                    return None;
                }
                out.push((Piece { chars: set, count: 1 }, 1));
                i = j;
            }
            c => out.push((Piece { chars: vec![c], count: 1 }, 1)),
        }
        i += 1;
    }
    Some(out)
}

/// The regular expression as pieces; `None` for what has no fixed shape.
fn flatten(h: &Hir, out: &mut Vec<Growable>, depth: u32) -> Option<()> {
    if depth > 64 {
        return None;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => {
            for c in String::from_utf8_lossy(&lit.0).chars() {
                out.push((Piece { chars: vec![c], count: 1 }, 1));
            }
        }
        HirKind::Class(class) => out.push((Piece { chars: class_chars(class)?, count: 1 }, 1)),
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(MAX_LEN).min(MAX_LEN);
            if let HirKind::Class(class) = rep.sub.kind() {
                out.push((Piece { chars: class_chars(class)?, count: rep.min }, max.max(rep.min)));
            } else if let HirKind::Literal(lit) = rep.sub.kind()
                && lit.0.len() == 1
            {
                out.push((Piece { chars: vec![char::from(lit.0[0])], count: rep.min }, rep.min));
            } else {
                // A group: repeated its least number of times.
                for _ in 0..rep.min {
                    flatten(&rep.sub, out, depth + 1)?;
                }
            }
        }
        HirKind::Capture(cap) => flatten(&cap.sub, out, depth + 1)?,
        HirKind::Concat(parts) => {
            for p in parts {
                flatten(p, out, depth + 1)?;
            }
        }
        HirKind::Alternation(_) => return None,
    }
    Some(())
}

/// The class's characters, printable ASCII only (at most 128).
fn class_chars(class: &Class) -> Option<Vec<char>> {
    let ranges: Vec<(u32, u32)> = match class {
        Class::Unicode(c) => c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect(),
        Class::Bytes(c) => c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).collect(),
    };
    let mut out = Vec::new();
    for (a, b) in ranges {
        for c in a.max(0x21)..=b.min(0x7e) {
            out.extend(char::from_u32(c));
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn regex_space_is_distinct_and_matches() {
        let s =
            PatternSpace::new("^[A-Z]{3}-[0-9]{4}$", Syntax::Regex { case_insensitive: false }, 5000, None, 1).unwrap();
        assert_eq!(s.capacity, 26u64.pow(3) * 10_000);
        let all: HashSet<String> = (0..5000).map(|g| s.value(g)).collect();
        assert_eq!(all.len(), 5000);
        for v in &all {
            let b = v.as_bytes();
            assert!(b.len() == 8 && b[..3].iter().all(u8::is_ascii_uppercase) && b[3] == b'-', "{v}");
            assert!(b[4..].iter().all(u8::is_ascii_digit), "{v}");
        }
    }

    #[test]
    fn variable_parts_grow_only_as_needed() {
        let s = PatternSpace::new("^[a-z0-9]+(-[a-z0-9]+)*$", Syntax::Regex { case_insensitive: false }, 1000, None, 2)
            .unwrap();
        assert_eq!(s.capacity, 36 * 36);
        let g = PatternSpace::new("[A-Z][A-Z][A-Z]-[0-9][0-9][0-9][0-9]", Syntax::Glob, 1000, None, 3).unwrap();
        assert_eq!(g.value(0).len(), 8);
        let l = PatternSpace::new("SKU-%", Syntax::Like, 100, None, 4).unwrap();
        assert!(l.value(5).starts_with("SKU-") && l.value(5).len() == 6, "{}", l.value(5));
        // Too few values, or no fixed shape.
        assert!(PatternSpace::new("^[ab]$", Syntax::Regex { case_insensitive: false }, 3, None, 5).is_none());
        assert!(PatternSpace::new("^(a|b)+$", Syntax::Regex { case_insensitive: false }, 3, None, 5).is_none());
        assert!(PatternSpace::new("^[0-9]+$", Syntax::Regex { case_insensitive: false }, 1000, Some(2), 5).is_none());
    }
}
