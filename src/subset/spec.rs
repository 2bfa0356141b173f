//! Starting points as written: `TABLE:WHERE`, `TABLE:10%`, `TABLE:1000`.
//!
//! The table is `name` or `schema.name` (double quotes around a name holding `:`, `.`
//! or spaces). After the first `:` outside quotes: a number followed by `%` is a
//! percentage (0 to 100, fractions allowed), a whole number is a row count, anything
//! else is a condition the database evaluates. So `orders:42` means 42 rows; write
//! `orders:id = 42` for the row whose id is 42.

use std::fmt;

/// Longest starting point, in bytes.
pub const MAX_LEN: usize = 16 << 10;
/// Most starting points (and virtual references) one slice is taken with.
pub const MAX_ITEMS: usize = 10_000;
/// Most rows a count may ask for.
pub const MAX_COUNT: u64 = 1_000_000_000;

/// How far down a slice goes from each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Children {
    All,
    /// The first N children by key, per parent row and reference.
    PerParent(u64),
    /// None (`--no-children`).
    None,
}

impl fmt::Display for Children {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Children::All => f.write_str("all children"),
            Children::PerParent(n) => write!(f, "at most {n} children per parent"),
            Children::None => f.write_str("no children"),
        }
    }
}

/// Tables no reference connects to a starting table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unrelated {
    /// Present with no rows: a restore `--clean` gives exactly the slice.
    Empty,
    /// Taken whole.
    Keep,
}

impl Unrelated {
    pub fn label(self) -> &'static str {
        match self {
            Unrelated::Empty => "empty",
            Unrelated::Keep => "keep",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "empty" => Some(Unrelated::Empty),
            "keep" => Some(Unrelated::Keep),
            _ => None,
        }
    }
}

/// Which rows of the table start the slice.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// The rows a condition (SQL over the table's columns) holds for.
    Where(String),
    /// The rows whose key hash falls in the lowest `p` percent of the hash range.
    Percent(f64),
    /// The `n` rows with the smallest key hashes.
    Count(u64),
}

/// One starting point.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    /// `name` or `schema.name`, unquoted parts.
    pub table: Vec<String>,
    pub pick: Pick,
}

impl Start {
    /// Parses `TABLE:SPEC`; the error says what is wrong (the caller names the argument).
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_LEN {
            return Err(format!("longer than {} KiB", MAX_LEN >> 10));
        }
        let (table_text, spec) = split_table(text)?;
        let table = table_parts(table_text)?;
        let spec = spec.trim();
        if spec.is_empty() {
            return Err("nothing after ':' (write TABLE:CONDITION, TABLE:10% or TABLE:1000)".into());
        }
        let pick = if let Some(number) = spec.strip_suffix('%') {
            let number = number.trim();
            match number.parse::<f64>() {
                Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => Pick::Percent(p),
                Ok(_) => return Err(format!("the percentage {number}% is outside 0-100")),
                Err(_) if looks_numeric(number) => return Err(format!("'{number}%' is not a percentage")),
                Err(_) => Pick::Where(spec.to_owned()),
            }
        } else if looks_numeric(spec) {
            match spec.parse::<u64>() {
                Ok(n) if n <= MAX_COUNT => Pick::Count(n),
                _ => return Err(format!("a row count is a whole number from 0 to {MAX_COUNT}, got {spec}")),
            }
        } else {
            Pick::Where(spec.to_owned())
        };
        Ok(Self { table, pick })
    }

    /// The table as `--table` would name it.
    pub fn table_text(&self) -> String {
        self.table.join(".")
    }
}

/// The text form `parse` reads back (quotes only where a name needs them).
impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .table
            .iter()
            .map(|p| {
                if !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    p.clone()
                } else {
                    format!("\"{}\"", p.replace('"', "\"\""))
                }
            })
            .collect();
        let table = parts.join(".");
        match &self.pick {
            Pick::Where(w) => write!(f, "{table}:{w}"),
            Pick::Percent(p) => write!(f, "{table}:{p}%"),
            Pick::Count(n) => write!(f, "{table}:{n}"),
        }
    }
}

/// Digits, signs and dots only: meant as a number, so never read as a condition.
fn looks_numeric(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit())
}

/// `(table, rest)` split at the first `:` outside double quotes.
fn split_table(text: &str) -> Result<(&str, &str), String> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Ok((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    Err("expected TABLE:CONDITION, TABLE:10% or TABLE:1000 (no ':' found)".into())
}

/// `name`, `schema.name`, `"Odd Name"`, `app."Orders"`.
fn table_parts(text: &str) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(p) = parts.last_mut() {
                    p.push('"');
                }
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(String::new()),
            c => {
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    if quoted {
        return Err("the table name has an unclosed quote".into());
    }
    if parts.iter().any(String::is_empty) {
        return Err("no table before ':'".into());
    }
    if parts.len() > 2 {
        return Err("the table is `name` or `schema.name`".into());
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_forms() {
        let s = Start::parse("customer:store_id = 1").unwrap();
        assert_eq!((s.table.clone(), s.pick.clone()), (vec!["customer".into()], Pick::Where("store_id = 1".into())));
        assert_eq!(Start::parse("public.film: 10%").unwrap().pick, Pick::Percent(10.0));
        assert_eq!(Start::parse("film:0.5%").unwrap().pick, Pick::Percent(0.5));
        assert_eq!(Start::parse("film:100%").unwrap().pick, Pick::Percent(100.0));
        assert_eq!(Start::parse("film:1000").unwrap().pick, Pick::Count(1000));
        assert_eq!(Start::parse("film:title LIKE 'A%'").unwrap().pick, Pick::Where("title LIKE 'A%'".into()));
        let odd = Start::parse("\"a:b\".\"we\"\"ird\":x > 1").unwrap();
        assert_eq!(odd.table, vec!["a:b", "we\"ird"]);
        assert_eq!(odd.pick, Pick::Where("x > 1".into()));
        assert_eq!(Start::parse(&odd.to_string()).unwrap(), odd);
        assert_eq!(Start::parse("customer:store_id = 1").unwrap().to_string(), "customer:store_id = 1");
    }

    #[test]
    fn nonsense_is_refused() {
        for (text, expect) in [
            ("film:150%", "outside 0-100"),
            ("film:-5%", "outside 0-100"),
            ("film:1e400%", "outside 0-100"),
            ("film:abc%", ""),
            ("film:-3", "whole number"),
            ("film:1.5", "whole number"),
            ("film:99999999999", "whole number"),
            ("film", "no ':'"),
            (":x = 1", "no table"),
            ("film: ", "nothing after"),
            ("a.b.c:1", "schema.name"),
            ("\"film:1", "no ':'"),
        ] {
            match Start::parse(text) {
                Err(e) => assert!(e.contains(expect), "{text}: {e}"),
                // `abc%` is a (bad) condition the database will reject, not a number.
                Ok(s) => assert_eq!((text, s.pick), ("film:abc%", Pick::Where("abc%".into()))),
            }
        }
    }
}
