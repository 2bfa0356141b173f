//! Numbers for people: counts, rates, sizes, durations and nouns in the right number.

use std::time::Duration;

/// 1234567.0 -> "1.23M"
pub fn human_count(n: f64) -> String {
    if !n.is_finite() || n < 0.0 {
        "0".into()
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// 1536 -> "1.5 KiB"
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    #[allow(clippy::cast_precision_loss)]
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// `n` with its noun in the right number: `1 row`, `2 rows`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    // Counts read the same everywhere: `1,200,000 rows` in summaries as in progress.
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// 1234567 -> "1,234,567"
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.43s`, `12.3s`, `4m 05s`, `2h 01m`.
pub fn human_secs(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 {
        format!("{secs:.2}s")
    } else if secs < 60.0 {
        format!("{secs:.1}s")
    } else if d.as_secs() < 3600 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{}h {:02}m", d.as_secs() / 3600, d.as_secs() % 3600 / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humans() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_count(1_234_567.0), "1.23M");
        assert_eq!(human_count(950.0), "950");
    }

    #[test]
    fn rates_are_rounded() {
        assert_eq!(human_count(20_445.503_2), "20.4k");
        assert_eq!(human_count(f64::NAN), "0");
        assert_eq!(human_count(f64::INFINITY), "0");
        assert_eq!(human_secs(Duration::from_secs(75)), "1m 15s");
        assert_eq!(human_secs(Duration::from_secs(7_260)), "2h 01m");
    }

    #[test]
    fn numbers_and_plurals() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(plural(1, "row", "rows"), "1 row");
        assert_eq!(plural(0, "row", "rows"), "0 rows");
        assert_eq!(plural(2, "table", "tables"), "2 tables");
    }
}
