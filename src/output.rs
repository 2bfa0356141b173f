//! Where output goes: data on stdout; messages, events and progress on stderr.
//!
//! With `--log-format json` every message is one JSON object per line on stderr.
//! Everything printed passes through `redact::scrub`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{
    MultiProgress, ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressState as BarState, ProgressStyle,
};
use serde_json::{Map, Value, json};

use crate::cli::LogFormat;
use crate::error::Error;
use crate::redact::scrub;
use crate::settings::OutputSettings;

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

    /// Command data (reports, listings, `--json` documents) on stdout.
    pub fn data(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", scrub(text));
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
            self.stderr_line(&Value::Object(obj).to_string());
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
        self.stderr_line(&obj.to_string());
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

    fn stderr_raw(&self, text: &str) {
        let text = scrub(text);
        match &self.bars {
            Some(bars) => bars.suspend(|| {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }),
            None => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }

    /// Progress for one unit of work (a table): a bar on a terminal, a line every few
    /// seconds otherwise, JSON events in JSON mode, nothing with --quiet / --no-progress.
    pub fn progress(&self, label: &str, total: Option<u64>, unit: &'static str) -> Progress {
        let mode = if self.settings.quiet || (!self.settings.progress && !self.json()) {
            ProgressMode::Hidden
        } else if self.json() {
            ProgressMode::Json
        } else if let Some(bars) = &self.bars {
            let layout = BarLayout::new(label, total, unit, terminal_width());
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            }
            // A bar dropped unfinished (an error, a retry) disappears instead of
            // leaving a stale line behind.
            .with_finish(ProgressFinish::AndClear)
            .with_style(layout.running_style(self.color))
            .with_prefix(layout.prefix.clone());
            ProgressMode::Bar { bar: bars.add(bar), prefix: layout.prefix }
        } else {
            ProgressMode::Plain
        };
        Progress {
            inner: Arc::new(ProgressInner {
                label: label.to_owned(),
                unit,
                total,
                mode,
                printer: self.clone(),
                state: Mutex::new(ProgressState {
                    done: 0,
                    started: Instant::now(),
                    last_report: Instant::now(),
                    reported: false,
                }),
            }),
        }
    }
}

/// How a terminal progress line is laid out so that it never wraps: the label column,
/// the bar's width (none on a narrow terminal), sized once from the terminal's width.
#[derive(Debug, Clone)]
struct BarLayout {
    /// The label, escaped, cut to fit and right-aligned in its column.
    prefix: String,
    bar: Option<usize>,
    unit: &'static str,
    total: Option<u64>,
}

/// Widest label column; longer labels are cut with an ellipsis.
const LABEL_COLUMN: usize = 24;
const MAX_BAR: usize = 30;
const MIN_BAR: usize = 8;
/// Below this much room for the label, the bar goes instead.
const MIN_LABEL: usize = 8;
/// Worst-case widths of the rate (`999.9k/s`) and the ETA (`59m`, `23h`, `100y`).
const RATE_WIDTH: usize = 8;
const ETA_WIDTH: usize = 4;

impl BarLayout {
    fn new(label: &str, total: Option<u64>, unit: &'static str, width: usize) -> Self {
        // Everything right of the bar at its widest: ` 30,000/30,000 rows (999.9k/s, ETA 100y)`.
        let counts = match total {
            Some(t) => 2 * thousands(t).len() + 1,
            // a spinner and a count of up to a billion
            None => 2 + thousands(999_999_999).len(),
        };
        let tail = 1 + counts + 1 + unit.len() + 2 + RATE_WIDTH + if total.is_some() { 6 + ETA_WIDTH } else { 0 } + 1;
        // One column spare: a line that fills the last column makes some terminals wrap.
        let usable = width.saturating_sub(1);
        // Room for the label beside the narrowest bar (` [` and `]` take 3 columns).
        let with_bar = usable.saturating_sub(tail + 3 + MIN_BAR);
        let (column, bar) = if total.is_some() && with_bar >= MIN_LABEL {
            let column = LABEL_COLUMN.min(with_bar);
            (column, Some((usable - tail - 3 - column).min(MAX_BAR)))
        } else {
            (LABEL_COLUMN.min(usable.saturating_sub(tail)).max(1), None)
        };
        Self { prefix: fit(label, column), bar, unit, total }
    }

    fn running_style(&self, color: bool) -> ProgressStyle {
        let prefix = if color { "{prefix:.bold}" } else { "{prefix}" };
        let unit = self.unit;
        let template = match (self.total, self.bar) {
            (Some(_), Some(w)) => {
                format!("{prefix} [{{bar:{w}}}] {{human_pos}}/{{human_len}} {unit} ({{rate}}, ETA {{eta}})")
            }
            (Some(_), None) => format!("{prefix} {{human_pos}}/{{human_len}} {unit} ({{rate}}, ETA {{eta}})"),
            (None, _) => format!("{prefix} {{spinner}} {{human_pos}} {unit} ({{rate}})"),
        };
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key("rate", |state: &BarState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}/s", human_count(state.per_sec()));
            })
            .progress_chars("=> ")
    }
}

/// The final words of a finished unit: `30,000 rows in 1.2s (24.9k/s)`.
fn finished_text(done: u64, unit: &str, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = done as f64 / secs.max(1e-9);
    format!("{} {unit} in {} ({}/s)", thousands(done), human_secs(elapsed), human_count(rate))
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

/// The terminal's width in columns (stderr's), or 80 when it cannot be told.
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass; fd 2 may be
    // anything, and a failed ioctl leaves it zeroed, which we treat as unknown.
    let cols = unsafe {
        let mut size: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) == 0 { size.ws_col } else { 0 }
    };
    if cols > 0 {
        return usize::from(cols);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok()).filter(|c| *c > 0).unwrap_or(80)
}

/// Columns a string takes, counting every non-ASCII character as two: never less than
/// the truth, so a line measured this way never wraps.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// `s` with control characters escaped, cut to `width` columns (with `…`) and
/// right-aligned in them.
fn fit(s: &str, width: usize) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    let mut out = String::new();
    if display_width(&clean) <= width {
        out = clean;
    } else {
        let mut used = 0;
        for c in clean.chars() {
            let w = display_width(c.encode_utf8(&mut [0; 4]));
            // keep room for the ellipsis (two columns by our count)
            if used + w + 2 > width {
                break;
            }
            used += w;
            out.push(c);
        }
        out.push('…');
    }
    let pad = width.saturating_sub(display_width(&out));
    format!("{}{out}", " ".repeat(pad))
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
/// message, clap's usage and tips as `detail`, and where to look as `hint`.
pub fn clap_error_event(err: &clap::Error, exit_code: u8) {
    let text = err.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if err.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // clap renders the whole help here: keep its usage line only.
        let usage = lines.find(|l| l.starts_with("Usage:")).unwrap_or_default();
        let printer =
            Printer::new(OutputSettings { format: LogFormat::Json, quiet: false, verbose: 0, progress: false });
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
    let detail = details.join("\n");
    let printer = Printer::new(OutputSettings { format: LogFormat::Json, quiet: false, verbose: 0, progress: false });
    printer.failed_event(
        message,
        (!detail.is_empty()).then_some(detail.as_str()),
        Some(hints.first().copied().unwrap_or("see seed --help")),
        exit_code,
    );
}

/// Whether stderr gets ANSI colour: only on a terminal, and never with `NO_COLOR` set
/// to anything but the empty string (<https://no-color.org>).
pub fn stderr_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `n` with its noun in the right number: `1 row`, `2 rows`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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

enum ProgressMode {
    Hidden,
    /// `prefix`: the label as laid out, for the final line.
    Bar {
        bar: ProgressBar,
        prefix: String,
    },
    Plain,
    Json,
}

struct ProgressState {
    done: u64,
    started: Instant,
    last_report: Instant,
    /// A plain progress line was printed: the finish gets one too.
    reported: bool,
}

struct ProgressInner {
    label: String,
    unit: &'static str,
    total: Option<u64>,
    mode: ProgressMode,
    printer: Printer,
    state: Mutex<ProgressState>,
}

/// Cheap to clone; safe to advance from any thread.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<ProgressInner>,
}

impl Progress {
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    pub fn inc(&self, n: u64) {
        let inner = &self.inner;
        let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.done += n;
        match &inner.mode {
            ProgressMode::Hidden => {}
            ProgressMode::Bar { bar, .. } => bar.inc(n),
            ProgressMode::Plain | ProgressMode::Json => {
                if state.last_report.elapsed() >= PLAIN_PROGRESS_EVERY {
                    state.last_report = Instant::now();
                    state.reported = true;
                    let (done, started) = (state.done, state.started);
                    drop(state);
                    self.report(done, started, false);
                }
            }
        }
    }

    /// Restart from zero (a retried transaction).
    pub fn reset(&self) {
        let mut state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.done = 0;
        state.started = Instant::now();
        if let ProgressMode::Bar { bar, .. } = &self.inner.mode {
            bar.reset();
        }
    }

    /// The unit is done: a bar turns into its final line (count, time, rate), which
    /// stays on the screen; a plain log that showed progress gets a final line too.
    pub fn finish(&self) {
        let state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (done, started, reported) = (state.done, state.started, state.reported);
        drop(state);
        match &self.inner.mode {
            ProgressMode::Bar { bar, prefix } => {
                if bar.is_finished() {
                    return;
                }
                // The bar goes and its final line is printed above the others: bars that
                // merely finish are wiped by the next message (indicatif's rule).
                bar.finish_and_clear();
                let printer = &self.inner.printer;
                let prefix = if printer.color { format!("\x1b[1m{prefix}\x1b[0m") } else { prefix.clone() };
                printer.stderr_line(&format!("{prefix} {}", finished_text(done, self.inner.unit, started.elapsed())));
            }
            ProgressMode::Json => self.report(done, started, true),
            ProgressMode::Plain if reported => self.report(done, started, true),
            _ => {}
        }
    }

    fn report(&self, done: u64, started: Instant, finished: bool) {
        let inner = &self.inner;
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        #[allow(clippy::cast_precision_loss)]
        let rate = done as f64 / secs;
        let fields = json!({
            "label": inner.label, "unit": inner.unit, "done": done, "total": inner.total,
            "per_sec": rate.round(), "finished": finished,
        });
        inner.printer.event(Level::Info, "progress", fields, || {
            if finished {
                return format!("{}: {}", inner.label, finished_text(done, inner.unit, started.elapsed()));
            }
            let pct = inner
                .total
                .filter(|t| *t > 0)
                .map(|t| {
                    #[allow(clippy::cast_precision_loss)]
                    let p = done as f64 * 100.0 / t as f64;
                    format!(" ({p:.0}%)")
                })
                .unwrap_or_default();
            let total = inner.total.map(|t| format!("/{}", thousands(t))).unwrap_or_default();
            format!(
                "{}: {}{total} {}{pct}, {} {}/s",
                inner.label,
                thousands(done),
                inner.unit,
                human_count(rate),
                inner.unit
            )
        });
    }
}

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
        let text = finished_text(100_000, "rows", Duration::from_millis(4_900));
        assert_eq!(text, "100,000 rows in 4.90s (20.4k/s)");
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

    /// The widest line a running bar can draw with this layout (every field at its
    /// widest), in columns as `display_width` counts them.
    fn widest_line(layout: &BarLayout) -> usize {
        let total = layout.total.map(thousands);
        let bar = layout.bar.map_or(0, |w| w + 3);
        let counts = total.as_ref().map_or(2 + thousands(999_999_999).len(), |t| 2 * t.len() + 1);
        let eta = if layout.total.is_some() { ", ETA ".len() + ETA_WIDTH } else { 0 };
        display_width(&layout.prefix) + bar + 1 + counts + 1 + layout.unit.len() + 2 + RATE_WIDTH + eta + 1
    }

    #[test]
    fn bars_fit_the_terminal() {
        let long = "a_table_name_that_goes_on_and_on_and_on_for_a_while_yes";
        for width in [20, 40, 60, 80, 100, 200] {
            for label in ["staffs", long, "日本語のテーブル名です", "bad\x1b[31mname"] {
                for total in [Some(100_000), Some(3_000_000_000), None] {
                    let layout = BarLayout::new(label, total, "rows", width);
                    assert!(!layout.prefix.contains('\x1b'), "{layout:?}");
                    if width >= 60 {
                        assert!(widest_line(&layout) < width, "width {width}: {layout:?} is {}", widest_line(&layout));
                    }
                    if width >= 80 && total.is_some() {
                        assert!(layout.bar.is_some(), "width {width}: {layout:?}");
                    }
                }
            }
        }
        let layout = BarLayout::new("staffs", Some(100_000), "rows", 80);
        assert_eq!(layout.prefix.len(), LABEL_COLUMN);
        assert!(layout.prefix.ends_with(" staffs"));
        let layout = BarLayout::new(long, Some(100_000), "rows", 80);
        assert!(layout.prefix.ends_with('…'), "{layout:?}");
    }

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
