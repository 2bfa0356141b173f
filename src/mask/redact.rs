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
