//! Character-level rules: `redact` (keyless: keeps the first letter or two of each
//! word, hides the rest) and `scramble` (keyed: every letter and digit replaced by one
//! of its class). Both keep the length in characters, spaces and punctuation, so
//! formats (`###-##-####`, `*@*.*`) and length checks still hold.

use fake::rand::RngExt;

use crate::factory::values::Rng;

/// `John Smith` -> `Jo** S****`, `555-0192` -> `###-####`: in the first word (a run of
/// letters and digits) the first two characters are kept when it has four or more,
/// else the first; in later words the first; only letters are ever kept. Letters
/// become `*`, digits `#`, everything else stays. A value that would come out
/// unchanged (`A`, `J. S.`) is hidden whole.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut word = 0usize;
    let mut pos = 0usize;
    let mut first_len = 0usize;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if pos > 0 {
                word += 1;
            }
            pos = 0;
            out.push(c);
            continue;
        }
        if pos == 0 && word == 0 {
            first_len = s.chars().skip(out.chars().count()).take_while(|c| c.is_alphanumeric()).count();
        }
        let keep_first = if first_len >= 4 { 2 } else { 1 };
        let kept = c.is_alphabetic() && (if word == 0 { pos < keep_first } else { pos == 0 });
        out.push(if kept {
            c
        } else if c.is_numeric() {
            '#'
        } else {
            '*'
        });
        pos += 1;
    }
    if out == s {
        return s
            .chars()
            .map(|c| {
                if c.is_numeric() {
                    '#'
                } else if c.is_alphanumeric() {
                    '*'
                } else {
                    c
                }
            })
            .collect();
    }
    out
}

/// Every ASCII digit becomes a random digit (a leading non-zero one stays non-zero),
/// every letter a random letter of its case; everything else stays.
pub fn scramble(s: &str, rng: &mut Rng) -> String {
    const LOWER: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";
    let mut out = String::with_capacity(s.len());
    let mut leading = true;
    for c in s.chars() {
        let next = if c.is_ascii_digit() {
            let from = if leading && c != '0' { 1 } else { 0 };
            char::from(b'0' + rng.random_range(from..10u8))
        } else if c.is_alphabetic() {
            let l = char::from(LOWER[rng.random_range(0..26usize)]);
            if c.is_uppercase() { l.to_ascii_uppercase() } else { l }
        } else {
            c
        };
        leading = leading && !c.is_ascii_digit() && matches!(c, '-' | '+' | ' ');
        out.push(next);
    }
    out
}

/// Letters and digits of `s` through a bijection on the values of its shape: each
/// ASCII letter is one of 26 of its case, each digit one of 10 (one of 9, non-zero,
/// for a leading non-zero digit, so a number keeps its magnitude), other characters
/// stay. `permute(x, n)` is a permutation of `0..n`. `None` when the shape has more
/// than 2^62 values (then distinct outputs come from sheer size instead).
pub fn scramble_bijective(s: &str, permute: &dyn Fn(i64, i64) -> i64) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    // (position, radix, first character of the class)
    let mut slots: Vec<(usize, u32, u8)> = Vec::new();
    let lead = chars.iter().position(|c| !matches!(c, '-' | '+' | ' '));
    for (i, &c) in chars.iter().enumerate() {
        let slot = match c {
            'a'..='z' => (26, b'a'),
            'A'..='Z' => (26, b'A'),
            '1'..='9' if Some(i) == lead => (9, b'1'),
            '0'..='9' => (10, b'0'),
            _ => continue,
        };
        slots.push((i, slot.0, slot.1));
    }
    let n = slots.iter().try_fold(1i64, |n, &(_, r, _)| n.checked_mul(i64::from(r)).filter(|n| *n <= 1 << 62))?;
    let x =
        slots.iter().fold(0i64, |x, &(i, r, base)| x * i64::from(r) + i64::from(u32::from(chars[i]) - u32::from(base)));
    let mut y = permute(x, n);
    let mut out = chars;
    for &(i, r, base) in slots.iter().rev() {
        let d = u8::try_from(y % i64::from(r)).unwrap_or(0);
        out[i] = char::from(base + d);
        y /= i64::from(r);
    }
    Some(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use fake::rand::SeedableRng;

    use super::*;

    #[test]
    fn redact_keeps_shape_and_initials() {
        assert_eq!(redact("John Smith"), "Jo** S****");
        assert_eq!(redact("555-0192"), "###-####");
        assert_eq!(redact("Al"), "A*");
        assert_eq!(redact("A"), "*");
        assert_eq!(redact("J. S."), "*. *.");
        assert_eq!(redact("mary.smith@example.com"), "ma**.s****@e******.c**");
        assert_eq!(redact(""), "");
        assert_eq!(redact("Zoë Ångström"), "Z** Å*******");
        assert_eq!(redact("Zoë Ångström").chars().count(), "Zoë Ångström".chars().count());
    }

    #[test]
    fn bijective_scramble_keeps_the_shape() {
        let reverse = |x: i64, n: i64| n - 1 - x;
        assert_eq!(scramble_bijective("az-09", &reverse).unwrap(), "za-90");
        assert_eq!(scramble_bijective("1", &reverse).unwrap(), "9", "a leading digit stays non-zero");
        assert_eq!(scramble_bijective("Éa", &reverse).unwrap(), "Éz", "other characters stay");
        assert_eq!(scramble_bijective("---", &reverse).unwrap(), "---");
        assert!(scramble_bijective(&"a".repeat(14), &reverse).is_none(), "26^14 > 2^62");
    }

    #[test]
    fn scramble_keeps_classes() {
        let mut rng = Rng::seed_from_u64(1);
        for input in ["123-45-6789", "AB12 cd", "+1 (555) 010-9999", "0042", "Éric"] {
            let out = scramble(input, &mut rng);
            assert_eq!(out.chars().count(), input.chars().count());
            for (a, b) in input.chars().zip(out.chars()) {
                assert_eq!(a.is_ascii_digit(), b.is_ascii_digit(), "{input} -> {out}");
                assert_eq!(a.is_alphabetic(), b.is_alphabetic(), "{input} -> {out}");
                assert_eq!(a.is_uppercase(), b.is_uppercase(), "{input} -> {out}");
                if !a.is_alphanumeric() {
                    assert_eq!(a, b);
                }
            }
        }
        for _ in 0..100 {
            assert!(!scramble("987", &mut rng).starts_with('0'));
        }
    }
}
