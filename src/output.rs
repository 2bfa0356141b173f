//! Where output goes: data on stdout; messages, events and progress on stderr.
//!
//! With `--log-format json` every message is one JSON object per line on stderr.
//! Everything printed passes through `redact::scrub`.

mod phase;
mod progress;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressDrawTarget};
use serde_json::{Map, Value, json};

pub use crate::human::{human_bytes, human_count, human_secs, plural, thousands};
pub use phase::Phase;
pub use progress::Progress;

use crate::error::Error;
use crate::redact::scrub;

/// `--log-format`: how messages and events are written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What the output settings resolve to (`settings` decides them from flags,
/// environment and `seed.toml`).
#[derive(Debug, Clone, Copy)]
pub struct OutputSettings {
    pub format: LogFormat,
    pub quiet: bool,
    pub verbose: u8,
    pub progress: bool,
    /// `--json`: the command's result as one JSON object on stdout.
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// The version of every `--json` document; bumped only by a breaking change.
pub const JSON_VERSION: u32 = 1;

/// How often a plain (non-terminal) progress line or JSON progress event is written.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(3);

#[derive(Clone)]
pub struct Printer {
    settings: OutputSettings,
    bars: Option<MultiProgress>,
    color: bool,
}

impl Printer {
    pub fn new(settings: OutputSettings) -> Self {
        let bars = (settings.progress && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Self { settings, bars, color: stderr_color() }
    }

    pub fn json(&self) -> bool {
        self.settings.format == LogFormat::Json
    }

    pub fn quiet(&self) -> bool {
        self.settings.quiet
    }

    /// Command data (reports, listings, plans) on stdout. With `--json` stdout holds
    /// only the command's JSON document, so the text goes to stderr (unless quiet).
    pub fn data(&self, text: &str) {
        if self.settings.json {
            if !self.settings.quiet {
                self.stderr_line(text);
            }
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", clean(text));
    }

    /// `--json` was given: the command prints its result with [`Printer::document`].
    pub fn json_doc(&self) -> bool {
        self.settings.json
    }

    /// The command's result as one JSON object on stdout, with `json_version` and
    /// `command` first; nothing when `--json` was not given. `-q` does not silence it.
    pub fn document(&self, command: &str, body: Value) {
        if !self.settings.json {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", clean_json(&document_text(command, body)));
    }

    /// Data that holds the caller's own credentials and is what they asked for (`seed
    /// clone`'s URLs): stdout only, control characters escaped, secrets NOT masked.
    /// Every other mention of the same URLs is masked as usual.
    pub fn secret_data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", crate::untrusted::printable(text, false));
    }

    /// [`Printer::document`] for a document holding such data (see [`Printer::secret_data`]).
    pub fn secret_document(&self, command: &str, body: Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", crate::untrusted::json_printable(&document_text(command, body)));
    }

    /// A structured event: a JSON line in JSON mode, else `human` as a plain line.
    pub fn event(&self, level: Level, name: &str, fields: Value, human: impl FnOnce() -> String) {
        if !self.shows(level) {
            return;
        }
        if self.json() {
            let mut obj = Map::new();
            obj.insert(
                "ts".into(),
                Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
            obj.insert("level".into(), Value::String(level.label().into()));
            obj.insert("event".into(), Value::String(name.into()));
            if let Value::Object(map) = fields {
                obj.extend(map);
            }
            self.json_line(&Value::Object(obj).to_string());
        } else {
            let text = human();
            let line = match level {
                Level::Warn => format!("warning: {text}"),
                Level::Error => format!("error: {text}"),
                _ => text,
            };
            self.stderr_line(&line);
        }
    }

    /// A human message (suppressed by --quiet); in JSON mode a `message` event.
    pub fn info(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        self.event(Level::Info, "message", json!({ "message": text }), || text.to_owned());
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        self.event(Level::Warn, "warning", json!({ "message": text }), || text.to_owned());
    }

    pub fn debug(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        self.event(Level::Debug, "debug", json!({ "message": text }), || text.to_owned());
    }

    /// The final error report: message, server detail, hint.
    pub fn error(&self, err: &Error) {
        if self.json() {
            self.failed_event(&err.to_string(), err.detail(), err.hint().as_deref(), err.exit_code());
            return;
        }
        let mut text = String::new();
        let message = err.to_string();
        let mut lines = message.lines();
        text.push_str(&format!("error: {}\n", lines.next().unwrap_or_default()));
        for line in lines {
            text.push_str(&format!("  {line}\n"));
        }
        if let Some(detail) = err.detail() {
            for line in detail.lines() {
                text.push_str(&format!("  {line}\n"));
            }
        }
        if let Some(hint) = err.hint() {
            text.push_str(&format!("\nhint: {hint}\n"));
        }
        self.stderr_raw(&text);
    }

    /// The `command_failed` JSON event.
    fn failed_event(&self, message: &str, detail: Option<&str>, hint: Option<&str>, exit_code: u8) {
        let obj = json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": "error",
            "event": "command_failed",
            "message": message,
            "detail": detail,
            "hint": hint,
            "exit_code": exit_code,
        });
        self.json_line(&obj.to_string());
    }

    fn shows(&self, level: Level) -> bool {
        match level {
            Level::Error => true,
            Level::Warn => true,
            Level::Info => !self.settings.quiet,
            // JSON consumers get every event; people get debug lines with -v.
            Level::Debug => self.settings.verbose > 0 || (self.json() && !self.settings.quiet),
        }
    }

    fn stderr_line(&self, line: &str) {
        self.stderr_raw(&format!("{line}\n"));
    }

    /// One JSON event on stderr.
    fn json_line(&self, json: &str) {
        self.write_stderr(&format!("{}\n", clean_json(json)));
    }

    /// A line whose first part is shown in bold on a colour terminal.
    fn stderr_bold_line(&self, bold: &str, rest: &str) {
        let line = if self.color {
            format!("\x1b[1m{}\x1b[0m {}\n", clean(bold), clean(rest))
        } else {
            format!("{} {}\n", clean(bold), clean(rest))
        };
        self.write_stderr(&line);
    }

    fn stderr_raw(&self, text: &str) {
        self.write_stderr(&clean(text));
    }

    fn write_stderr(&self, text: &str) {
        match &self.bars {
            Some(bars) => bars.suspend(|| {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }),
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }
}

/// A command's JSON document: `json_version` and `command` first, then `body`'s fields.
fn document_text(command: &str, body: Value) -> String {
    let mut obj = Map::new();
    obj.insert("json_version".into(), json!(JSON_VERSION));
    obj.insert("command".into(), json!(command));
    if let Value::Object(map) = body {
        obj.extend(map);
    }
    serde_json::to_string_pretty(&Value::Object(obj)).unwrap_or_default()
}

/// What is printed: secrets masked (`redact::scrub`), then every control character
/// but newline and tab escaped (`text::printable`): nothing from a file, the
/// environment or a server reaches the terminal raw.
pub fn clean(text: &str) -> String {
    crate::untrusted::printable(&scrub(text), false).into_owned()
}

/// JSON that is printed: secrets masked, and what JSON leaves raw but a terminal would
/// act on escaped the JSON way (see `text::json_printable`).
pub fn clean_json(text: &str) -> String {
    crate::untrusted::json_printable(&scrub(text)).into_owned()
}

/// Whether `--log-format json` (or `SEED_LOG_FORMAT=json`) was asked for, read from
/// the raw arguments: for errors found before the arguments could be parsed.
pub fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    json_in(args, std::env::var(crate::env::LOG_FORMAT).ok())
}

fn json_in(args: impl IntoIterator<Item = std::ffi::OsString>, env_value: Option<String>) -> bool {
    let args: Vec<String> = args.into_iter().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let mut flag = None;
    for (i, arg) in args.iter().enumerate() {
        if arg == "--" {
            break;
        }
        if let Some(v) = arg.strip_prefix("--log-format=") {
            flag = Some(v.to_owned());
        } else if arg == "--log-format" {
            flag = args.get(i + 1).cloned();
        }
    }
    flag.or(env_value).is_some_and(|v| v.trim() == "json")
}

/// An argument-parsing error as one `command_failed` JSON event on stderr: the
/// message, clap's usage and tips as `detail`, and where to look as `hint` (`tip`,
/// when given, replaces clap's tips).
pub fn clap_error_event(err: &clap::Error, exit_code: u8, tip: Option<&str>) {
    let text = err.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let printer = Printer::new(OutputSettings {
        format: LogFormat::Json,
        quiet: false,
        verbose: 0,
        progress: false,
        json: false,
    });
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap renders the whole help here: keep its usage line only.
        let usage = lines.find(|l| l.starts_with("Usage:")).unwrap_or_default();
        printer.failed_event(
            "a subcommand is missing",
            Some(usage),
            Some("For more information, try '--help'."),
            exit_code,
        );
        return;
    }
    let message = lines.next().unwrap_or_default();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    let (hints, details): (Vec<&str>, Vec<&str>) = lines.partition(|l| l.starts_with("For more information"));
    let details: Vec<&str> = details.into_iter().filter(|l| tip.is_none() || !l.starts_with("tip:")).collect();
    // A value parser's own hint (e.g. a bad snapshot reference) is the event's hint.
    let (ours, details): (Vec<&str>, Vec<&str>) = details.into_iter().partition(|l| l.starts_with("hint: "));
    let ours = ours.first().and_then(|l| l.strip_prefix("hint: "));
    let detail = details.join("\n");
    printer.failed_event(
        message,
        (!detail.is_empty()).then_some(detail.as_str()),
        Some(tip.or(ours).or(hints.first().copied()).unwrap_or("see seed --help")),
        exit_code,
    );
}

/// Whether stderr gets ANSI colour: only on a terminal, and never with `NO_COLOR` set
/// to anything but the empty string (<https://no-color.org>).
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_format_is_found_in_raw_arguments() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(json_in(args(&["seed", "--log-format", "json", "bulk", "--bogus"]), None));
        assert!(json_in(args(&["seed", "bulk", "--log-format=json", "--bogus"]), None));
        assert!(json_in(args(&["seed", "bulk", "--bogus"]), Some("json".into())));
        assert!(!json_in(args(&["seed", "--log-format", "text", "bulk"]), Some("json".into())));
        assert!(!json_in(args(&["seed", "bulk", "--", "--log-format=json"]), None));
        assert!(!json_in(args(&["seed", "bulk", "--log-format"]), None));
    }
}
