//! Progress for a step that can take seconds but has nothing to count (emptying a
//! table, building keys, checking foreign keys, committing): a spinner with the elapsed
//! time on a terminal; otherwise a line every few seconds while it runs and one when it
//! ends (if it printed any); JSON `phase` events. A long silent step looks like a hang.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};
use serde_json::json;

use super::{Level, PLAIN_PROGRESS_EVERY, Printer};
use crate::human::human_secs;

/// A phase on a terminal shorter than this leaves no line behind.
const WORTH_A_LINE: Duration = Duration::from_secs(1);

impl Printer {
    /// Starts reporting `label` (e.g. `emptying staffs`); [`Phase::finish`] ends it.
    /// Nothing with --quiet or --no-progress.
    pub fn phase(&self, label: impl Into<String>) -> Phase {
        let label = label.into();
        let started = Instant::now();
        let mode = if self.settings.quiet || (!self.settings.progress && !self.json()) {
            Mode::Hidden
        } else if let (false, Some(bars)) = (self.json(), &self.bars) {
            let bold = if self.color { "{prefix:.bold}" } else { "{prefix}" };
            let style = ProgressStyle::with_template(&format!("{bold} {{spinner}} {{elapsed}}"))
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = bars.add(
                ProgressBar::new_spinner()
                    .with_style(style)
                    .with_prefix(label.clone())
                    .with_finish(ProgressFinish::AndClear),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            Mode::Bar(bar)
        } else {
            let (stop, stopped) = mpsc::channel::<()>();
            let (printer, text) = (self.clone(), label.clone());
            let (said_tx, said) = mpsc::channel::<()>();
            std::thread::spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(PLAIN_PROGRESS_EVERY) {
                    report(&printer, &text, started.elapsed(), false);
                    let _ = said_tx.send(());
                }
            });
            Mode::Ticker { _stop: stop, said }
        };
        Phase { label, started, printer: self.clone(), mode }
    }
}

enum Mode {
    Hidden,
    Bar(ProgressBar),
    /// A thread printing a line every few seconds until `stop` is dropped; `said` gets a
    /// message for each line it printed.
    Ticker {
        /// Never sent on: dropping it ends the thread's wait.
        _stop: mpsc::Sender<()>,
        said: mpsc::Receiver<()>,
    },
}

/// A running phase. Dropped without [`Phase::finish`] (an error), it ends silently.
pub struct Phase {
    label: String,
    started: Instant,
    printer: Printer,
    mode: Mode,
}

impl Phase {
    /// The phase is done: a terminal keeps a line for it when it took a second or more;
    /// a log that showed it running gets its final line; JSON gets a finished event.
    pub fn finish(self) {
        let elapsed = self.started.elapsed();
        match &self.mode {
            Mode::Hidden => {}
            Mode::Bar(bar) => {
                bar.finish_and_clear();
                if elapsed >= WORTH_A_LINE {
                    self.printer.stderr_line(&format!("{} done in {}", self.label, human_secs(elapsed)));
                }
            }
            Mode::Ticker { said, .. } => {
                if self.printer.json() || said.try_iter().count() > 0 {
                    report(&self.printer, &self.label, elapsed, true);
                }
            }
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
        // A ticker stops when `stop` is dropped with the phase.
    }
}

fn report(printer: &Printer, label: &str, elapsed: Duration, finished: bool) {
    let fields = json!({ "label": label, "seconds": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
                         "finished": finished });
    printer.event(Level::Info, "phase", fields, || {
        if finished {
            format!("{label}: done in {}", human_secs(elapsed))
        } else {
            format!("{label}: {} so far", human_secs(elapsed))
        }
    });
}
