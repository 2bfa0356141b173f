//! Showing untrusted text (strings from snapshot files) on a terminal: cut by
//! characters, never by bytes, and with everything that could move the cursor, change
//! colours or reorder what is displayed made visible instead.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The first `max` characters of `s` (all of `s` if it is shorter). Never splits a
/// character, whatever bytes `s` holds: for prefixes of hashes and the like.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// `s` with control characters (C0 including newline and tab, DEL, C1) and Unicode
/// bidirectional controls (embeddings, overrides, isolates and marks) written as
/// `\u{..}` escapes, so a terminal shows them instead of obeying them.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text about to be printed as lines: like [`for_terminal`], but newlines and tabs
/// (the layout of a message or a table) stay, and with `keep_sgr` so do colour
/// sequences (`ESC [ digits ; … m`, which only recolour: what a coloured log or
/// argument error of our own holds). Nothing else that reaches a terminal raw can move
/// the cursor, clear the screen or reorder text, whatever a file, the environment or a
/// server put into it.
pub fn printable(s: &str, keep_sgr: bool) -> Cow<'_, str> {
    let escaped = |c: char| needs_escape(c) && c != '\n' && c != '\t';
    if !s.chars().any(escaped) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\u{1b}' && keep_sgr {
            let seq = sgr_len(rest);
            if seq > 0 {
                out.push_str(&rest[..seq]);
                rest = &rest[seq..];
                continue;
            }
        }
        if escaped(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// JSON text (as serde_json writes it) with every character [`for_terminal`] would
/// escape and JSON leaves raw (DEL, C1 controls, bidi controls; C0 is always escaped)
/// written as a JSON `\uXXXX` escape: still the same JSON, and nothing in it acts on a
/// terminal.
pub fn json_printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if needs_escape(c) && c != '\n' {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{:04x}", u);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Length of the colour sequence `ESC [ [0-9;]* m` at the start of `s`, or 0.
fn sgr_len(s: &str) -> usize {
    let Some(body) = s.strip_prefix("\u{1b}[") else { return 0 };
    let params = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    if body.as_bytes().get(params) == Some(&b'm') { 2 + params + 1 } else { 0 }
}

#[cfg(test)]
thread_local! {
    /// Bytes this thread's line indexes scanned: tests of the parsers that name lines
    /// count their work with it (each text scanned once), instead of timing them.
    pub static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Line numbers of byte offsets in one text, found by binary search over the
/// newlines counted once: naming the line of each of thousands of entries stays
/// linear in the text (counting newlines up to each offset would be quadratic).
pub struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        #[cfg(test)]
        SCANNED.with(|n| n.set(n.get() + text.len()));
        Self { newlines: memchr::memchr_iter(b'\n', text.as_bytes()).collect() }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }
}

/// For messages and listings: `s` escaped by [`for_terminal`], cut to at most `max`
/// characters of the original, ending in `…` when it was cut.
pub fn shown(s: &str, max: usize) -> String {
    let cut = truncate_chars(s, max);
    let mut out = for_terminal(cut).into_owned();
    if cut.len() < s.len() {
        out.push('…');
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// True if `s` holds a character [`for_terminal`] would escape.
pub fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_counts_characters_not_bytes() {
        let fp = format!("x{}", "\u{20ac}".repeat(10)); // byte 12 is inside a '€'
        assert_eq!(truncate_chars(&fp, 12), fp);
        assert_eq!(truncate_chars(&fp, 11), fp);
        assert_eq!(truncate_chars(&fp, 5), "x€€€€");
        assert_eq!(truncate_chars("dd6587a3c32fbd29ecf759fe2744b200", 12), "dd6587a3c32f");
        assert_eq!(truncate_chars("short", 12), "short");
        assert_eq!(truncate_chars("", 3), "");
        assert_eq!(truncate_chars("abc", 0), "");
        for max in 0..15 {
            assert_eq!(truncate_chars(&fp, max).chars().count(), max.min(11));
        }
        // Combining characters and emoji are never split inside a code point.
        let mixed = "e\u{301}\u{1F600}\u{1F600}a";
        for max in 0..6 {
            assert_eq!(truncate_chars(mixed, max).chars().count(), max.min(5));
        }
        assert_eq!(shown(&fp, 3), "x€€…");
        assert_eq!(shown(&fp, 11), fp);
    }

    #[test]
    fn escapes_controls_and_bidi_only() {
        assert!(matches!(for_terminal("plain ünïcode 日本 😀 a\\b"), Cow::Borrowed(_)));
        assert_eq!(for_terminal("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(for_terminal("x\ny\tz\r"), "x\\u{a}y\\u{9}z\\u{d}");
        assert_eq!(for_terminal("\u{7f}\u{85}\u{9b}"), "\\u{7f}\\u{85}\\u{9b}");
        assert_eq!(for_terminal("\u{202e}txt.exe\u{2066}\u{200f}"), "\\u{202e}txt.exe\\u{2066}\\u{200f}");
        assert_eq!(for_terminal("\0"), "\\u{0}");
        // Escaping is idempotent: an escape is printable text.
        let once = for_terminal("\u{1b}").into_owned();
        assert_eq!(for_terminal(&once), once);
        assert_eq!(shown("\u{1b}\u{1b}\u{1b}", 2), "\\u{1b}\\u{1b}…");
        assert!(has_control("a\u{85}") && has_control("\t") && !has_control("\u{202e}"));
    }

    #[test]
    fn json_printable_stays_the_same_json() {
        let value = serde_json::json!({ "k": "a\u{7f}b\u{9b}c\u{202e}d\u{1b}e\n" });
        let text = serde_json::to_string_pretty(&value).unwrap();
        let shown = json_printable(&text);
        assert!(!shown.chars().any(|c| needs_escape(c) && c != '\n'), "{shown:?}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&shown).unwrap(), value);
    }

    #[test]
    fn line_index_names_lines() {
        let text = "a\nbb\n\nc";
        let idx = LineIndex::new(text);
        let naive = |o: usize| text[..o.min(text.len())].matches('\n').count() + 1;
        for offset in 0..=text.len() + 2 {
            assert_eq!(idx.line_of(offset), naive(offset), "{offset}");
        }
        assert_eq!(LineIndex::new("").line_of(0), 1);
    }

    #[test]
    fn printable_keeps_lines_tabs_and_only_colour() {
        assert!(matches!(printable("a\n\tb ü", false), Cow::Borrowed(_)));
        assert_eq!(printable("a\0b\u{1b}[2Jc\r\u{7f}\u{202e}\n", false), "a\\u{0}b\\u{1b}[2Jc\\u{d}\\u{7f}\\u{202e}\n");
        assert_eq!(printable("\u{1b}[1mbold\u{1b}[0m", false), "\\u{1b}[1mbold\\u{1b}[0m");
        assert_eq!(printable("\u{1b}[1mbold\u{1b}[0m", true), "\u{1b}[1mbold\u{1b}[0m");
        // Only colour: a cursor move, a screen clear or an OSC title stay escaped.
        assert_eq!(
            printable("\u{1b}[2J\u{1b}[3A\u{1b}]0;t\u{7}\u{1b}[", true),
            "\\u{1b}[2J\\u{1b}[3A\\u{1b}]0;t\\u{7}\\u{1b}["
        );
    }
}
