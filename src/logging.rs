//! Diagnostic logs (tracing) for `-v`: stderr, redacted, text or JSON.
//! User-facing events go through `output::Printer`; this is for debugging.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::env;
use crate::output::{LogFormat, OutputSettings};

pub fn init(settings: &OutputSettings) {
    let default = match settings.verbose {
        _ if settings.quiet => "error",
        0 => "warn,sqlx=error",
        1 => "seed=debug,sqlx=warn",
        _ => "seed=trace,sqlx=debug",
    };
    let filter = std::env::var(env::LOG)
        .ok()
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // Colour only on a terminal and never with NO_COLOR: `-vv 2>file` stays plain text.
    let color = crate::output::stderr_color();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingStderr { color, json: settings.format == LogFormat::Json })
        .with_ansi(color);
    let _ = match settings.format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        LogFormat::Text => builder.with_target(false).without_time().try_init(),
    };
}

/// Log lines with secrets masked and control characters escaped (but the colour
/// sequences of a coloured log).
#[derive(Clone, Copy)]
struct RedactingStderr {
    color: bool,
    json: bool,
}

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = crate::redact::scrub(&String::from_utf8_lossy(buf));
        let text = if self.json {
            crate::untrusted::json_printable(&text)
        } else {
            crate::untrusted::printable(&text, self.color)
        };
        std::io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}
