//! Where output goes: data on stdout; messages, events and progress on stderr.
//!
//! With `--log-format json` every message is one JSON object per line on stderr.
//! Everything printed passes through `redact::scrub`.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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
}

impl Printer {
    pub fn new(settings: OutputSettings) -> Self {
        let bars = (settings.progress && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Self { settings, bars }
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
            let obj = json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": "error",
                "event": "command_failed",
                "message": err.to_string(),
                "detail": err.detail(),
                "hint": err.hint(),
                "exit_code": err.exit_code(),
            });
            self.stderr_line(&obj.to_string());
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
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{prefix:>24.bold} [{bar:30}] {human_pos}/{human_len} {msg} ({per_sec}, ETA {eta})"
            } else {
                "{prefix:>24.bold} {spinner} {human_pos} {msg} ({per_sec})"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_owned());
            bar.set_message(unit);
            ProgressMode::Bar(bars.add(bar))
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
                state: Mutex::new(ProgressState { done: 0, started: Instant::now(), last_report: Instant::now() }),
            }),
        }
    }
}

enum ProgressMode {
    Hidden,
    Bar(ProgressBar),
    Plain,
    Json,
}

struct ProgressState {
    done: u64,
    started: Instant,
    last_report: Instant,
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
            ProgressMode::Bar(bar) => bar.inc(n),
            ProgressMode::Plain | ProgressMode::Json => {
                if state.last_report.elapsed() >= PLAIN_PROGRESS_EVERY {
                    state.last_report = Instant::now();
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
        if let ProgressMode::Bar(bar) = &self.inner.mode {
            bar.reset();
        }
    }

    pub fn finish(&self) {
        let state = self.inner.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (done, started) = (state.done, state.started);
        drop(state);
        match &self.inner.mode {
            ProgressMode::Bar(bar) => bar.finish_and_clear(),
            ProgressMode::Json => self.report(done, started, true),
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
            let pct = inner
                .total
                .filter(|t| *t > 0)
                .map(|t| {
                    #[allow(clippy::cast_precision_loss)]
                    let p = done as f64 * 100.0 / t as f64;
                    format!(" ({p:.0}%)")
                })
                .unwrap_or_default();
            let total = inner.total.map(|t| format!("/{t}")).unwrap_or_default();
            format!("{}: {done}{total} {}{pct}, {} {}/s", inner.label, inner.unit, human_count(rate), inner.unit)
        });
    }
}

/// 1234567.0 -> "1.23M"
pub fn human_count(n: f64) -> String {
    if n >= 1e6 {
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
}
