//! Progress for one unit of work (a table): a bar on a terminal that never wraps and
//! ends as one line with the final count, time and rate; a plain line every few
//! seconds otherwise; JSON events in JSON mode.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressFinish, ProgressState as BarState, ProgressStyle};
use serde_json::json;

use super::{Level, PLAIN_PROGRESS_EVERY, Printer};
use crate::human::{human_count, human_secs, thousands};

impl Printer {
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
                printer.stderr_bold_line(prefix, &finished_text(done, self.inner.unit, started.elapsed()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_lines_are_rounded() {
        let text = finished_text(100_000, "rows", Duration::from_millis(4_900));
        assert_eq!(text, "100,000 rows in 4.90s (20.4k/s)");
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
}
