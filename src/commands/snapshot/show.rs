//! `seed snapshot show NAME`: the header, nothing else read. Every string comes from
//! the file, so text output escapes and cuts them (`untrusted`); JSON output is the header
//! as parsed, serialized straight from it.

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;

use crate::cli::ShowArgs;
use crate::context::Context;
use crate::error::{Error, code};
use crate::output::{human_bytes, plural};
use crate::snapshot::catalog::{lock_names, resolve, resolve_chain};
use crate::snapshot::format::{Header, Storage};
use crate::snapshot::location::Mode;
use crate::untrusted::{for_terminal, shown, truncate_chars};

/// Longest name or type shown in full; longer ones end in `…`.
const NAME: usize = 120;

#[derive(Serialize)]
struct ShowJson<'a> {
    json_version: u32,
    command: &'static str,
    file: String,
    size: u64,
    /// The snapshots it is rebuilt from, itself first (`[NAME@N]` for a full one).
    chain: &'a [String],
    /// Why the chain cannot be used (a base missing or altered), if it cannot.
    chain_error: Option<String>,
    header: &'a Header,
}

pub async fn run(args: ShowArgs, ctx: &Context) -> Result<u8, Error> {
    let r = &args.name;
    let store = ctx.location()?;
    // Looked for first, so a reader never creates a lock where there is no snapshot.
    resolve(&store, r).await?;
    let names = [(r.name.clone(), Mode::Shared)].into_iter().collect();
    let _lock = lock_names(&ctx.printer, &store, &names, args.lock.wait, &format!("seed snapshot show {r}")).await?;
    let version = resolve(&store, r).await?;
    let (path, size) = (version.file.clone(), version.size);
    let top = version.link(&store).await?;
    // Only headers are read: what the chain is, and whether it is whole. (show never
    // fails for a missing base: it says so.) One copy of the header at a time: it can
    // be tens of MB.
    let (chain, chain_error, h) = match resolve_chain(&store, top).await {
        Ok(c) => {
            let labels = c.links().iter().map(|l| l.label.clone()).collect();
            (labels, None, c.into_top().header)
        }
        Err(e) => (vec![version.label()], Some(e.to_string()), version.header(&store).await?),
    };
    if ctx.printer.json_doc() {
        // Streamed: a header's JSON can be tens of MB; never held as text as well.
        let doc = ShowJson {
            json_version: crate::output::JSON_VERSION,
            command: "snapshot show",
            file: path.display().to_string(),
            size,
            chain: &chain,
            chain_error,
            header: &h,
        };
        let mut out = ScrubbedLines { out: std::io::stdout().lock(), line: Vec::new() };
        serde_json::to_writer_pretty(&mut out, &doc)
            .and_then(|()| out.finish().map(drop).map_err(serde_json::Error::io))
            .or_else(ignore_closed_pipe)?;
        return Ok(code::OK);
    }
    let mut text = render(&h, &path.display().to_string(), size);
    drop(h); // before printing, which copies the text once more
    if chain.len() > 1 || chain_error.is_some() {
        let status = match &chain_error {
            None => format!("chain         {} (every base there and unaltered)\n", for_terminal(&chain.join(" → "))),
            Some(e) => format!("chain         BROKEN: {} — restore and verify will refuse it\n", for_terminal(e)),
        };
        text = insert_after_line(&text, "format ", &status);
    }
    ctx.printer.data(text.trim_end());
    Ok(code::OK)
}

/// `show --json | head` is fine: a closed pipe ends the output, nothing else.
fn ignore_closed_pipe(e: serde_json::Error) -> Result<(), Error> {
    match e.io_error_kind() {
        Some(std::io::ErrorKind::BrokenPipe) => Ok(()),
        _ => Err(Error::Internal(format!("cannot write the header: {e}"))),
    }
}

/// Writes text through line by line, each line passed through `output::scrub` as
/// `Printer::data` does with a whole text (pretty JSON keeps every string on its line).
struct ScrubbedLines<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> ScrubbedLines<W> {
    fn emit(&mut self) -> std::io::Result<()> {
        let text = crate::output::clean_json(&String::from_utf8_lossy(&self.line));
        self.line.clear();
        self.out.write_all(text.as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// Writes the last line; returns the writer.
    fn finish(mut self) -> std::io::Result<W> {
        if !self.line.is_empty() {
            self.emit()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ScrubbedLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..i]);
            self.emit()?;
            rest = &rest[i + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(()) // lines go out whole; `finish` flushes the last one
    }
}

/// `text` with `line` inserted after the first line starting with `prefix`.
fn insert_after_line(text: &str, prefix: &str, line: &str) -> String {
    let Some(start) = text.find(&format!("\n{prefix}")) else { return format!("{text}{line}") };
    let end = text[start + 1..].find('\n').map_or(text.len(), |n| start + 1 + n + 1);
    format!("{}{line}{}", &text[..end], &text[end..])
}

/// `s` for the terminal, at most `max` characters.
fn t(s: &str, max: usize) -> String {
    shown(s, max)
}

/// The first `n` characters of a hash-like string, for the terminal.
fn prefix(s: &str, n: usize) -> String {
    for_terminal(truncate_chars(s, n)).into_owned()
}

fn render(h: &Header, file: &str, size: u64) -> String {
    let mut out = String::new();
    let rows: u64 = h.tables.iter().map(|t| t.rows).sum();
    let raw: u64 = h.tables.iter().map(|t| t.raw_bytes).sum();
    let _ = writeln!(out, "snapshot      {}", t(&h.name, NAME));
    let _ = writeln!(out, "version       {}", h.version);
    if let Some(b) = &h.base {
        let count = |s: Storage| h.tables.iter().filter(|t| t.storage == s).count() as u64;
        let _ = writeln!(
            out,
            "base          {}@{} (incremental: {} unchanged and read from it, {} stored as changes, {} in full)",
            t(&b.name, NAME),
            b.version,
            plural(count(Storage::Base), "table", "tables"),
            count(Storage::Delta),
            count(Storage::Full),
        );
    }
    if let Some(d) = &h.description {
        let _ = writeln!(out, "description   {}", t(d, 2000));
    }
    if let Some(sub) = &h.subset {
        let _ = write!(out, "{}", super::subset::info_text(sub));
    }
    let _ = writeln!(out, "file          {} ({}, {} of rows)", for_terminal(file), human_bytes(size), human_bytes(raw));
    let _ = writeln!(out, "created       {} by seed {}", t(&h.created_at, 40), t(&h.tool_version, 40));
    let _ = writeln!(
        out,
        "database      {} {} at {}",
        t(&h.database.kind, 20),
        t(&h.database.server_version, 80),
        t(&h.database.location, 200)
    );
    let _ = writeln!(
        out,
        "schema        version {}; fingerprint {}",
        h.schema_version
            .as_ref()
            .map_or_else(|| "none".to_owned(), |v| format!("{} ({})", t(&v.version, 80), t(&v.source, 80))),
        prefix(&h.schema_fingerprint, 12)
    );
    let _ = writeln!(
        out,
        "format        {} v{}, {} rows, {} level {}",
        t(&h.format, 40),
        h.format_version,
        t(&h.row_format, 40),
        t(&h.compression.algorithm, 20),
        h.compression.level
    );
    let _ = writeln!(
        out,
        "integrity     {}",
        match &h.header_checksum {
            Some(sum) => format!("header checksum {} (checked: the header is bound to the data)", prefix(sum, 12)),
            None => "format 1: the header is not bound to its data (no header checksum)".to_owned(),
        }
    );
    if let Some(m) = &h.masking {
        let columns = h.tables.iter().flat_map(|t| &t.columns).filter(|c| c.mask.is_some()).count() as u64;
        let _ = writeln!(
            out,
            "masked        yes ({}): {}; rules {}{}",
            t(&m.mode, 20),
            plural(columns, "column", "columns"),
            prefix(&m.rules_fingerprint, 12),
            m.key_check.as_ref().map_or_else(String::new, |k| format!(", key check {}", prefix(k, 16)))
        );
    }
    let _ = writeln!(
        out,
        "tables        {}, {}",
        plural(h.tables.len() as u64, "table", "tables"),
        plural(rows, "row", "rows")
    );
    for table in &h.tables {
        let storage = match table.storage {
            Storage::Full => String::new(),
            Storage::Base => ", stored in the base".to_owned(),
            Storage::Delta => table.delta.as_ref().map_or_else(String::new, |d| {
                format!(", stored as a delta: {} upserts, {} deletes", d.upserts.rows, d.deletes.rows)
            }),
        };
        let _ = writeln!(
            out,
            "\n  {} — {}, checksum {}{storage}",
            t(&table.table_name().to_string(), NAME),
            plural(table.rows, "row", "rows"),
            t(&table.checksum, 16)
        );
        for c in &table.columns {
            let pk = if table.primary_key.contains(&c.name) { " (pk)" } else { "" };
            let masked = c.mask.as_ref().map_or_else(String::new, |m| format!("  [masked: {}]", t(m, NAME)));
            let _ = writeln!(
                out,
                "    {:<28} {}{}{pk}{masked}",
                t(&c.name, NAME),
                t(&c.type_name, NAME),
                if c.nullable { "" } else { " not null" }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::format::tests::sample_header;

    #[test]
    fn streamed_lines_are_scrubbed_and_complete() {
        crate::redact::register("Sh0wS3cret-xyz");
        let mut out = ScrubbedLines { out: Vec::new(), line: Vec::new() };
        for piece in ["{\n  \"a\": \"Sh0wS", "3cret-xyz\",\n", "  \"b\": 1\n}"] {
            out.write_all(piece.as_bytes()).unwrap();
        }
        let text = String::from_utf8(out.finish().unwrap()).unwrap();
        assert_eq!(text, "{\n  \"a\": \"***\",\n  \"b\": 1\n}\n");
    }

    #[test]
    fn hostile_strings_are_escaped_and_cut_by_characters() {
        let mut h = sample_header("x", &["t"]);
        h.schema_fingerprint = format!("x{}", "\u{20ac}".repeat(10));
        h.description = Some("\u{1b}[2J\u{202e}".into());
        h.tables[0].name = "\u{9b}31m".into();
        h.tables[0].columns[0].type_name = "é".repeat(500);
        let text = render(&h, "f\u{7}", 1);
        assert!(text.contains("fingerprint x€€€€€€€€€€\n"), "{text}");
        assert!(text.contains("description   \\u{1b}[2J\\u{202e}"), "{text}");
        assert!(text.contains("\\u{9b}31m — 0 rows"), "{text}");
        assert!(text.contains(&format!("{}…", "é".repeat(119))), "{text}");
        assert!(text.contains("file          f\\u{7}"), "{text}");
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        h.schema_fingerprint = "dd6587a3c32fbd29ecf759fe2744b200".into();
        assert!(render(&h, "f", 1).contains("fingerprint dd6587a3c32f\n"));
    }
}
