//! `seed`: bulk-seed test databases with fake data; take, list and restore snapshots.
//!
//! `main` parses arguments, builds the runtime, runs one command under Ctrl-C handling
//! and maps its error to an exit code, in that one place.

pub mod cli;
pub mod commands;
pub mod db;
pub mod env;
pub mod error;
pub mod factory;
pub mod logging;
pub mod output;
pub mod redact;
pub mod settings;
pub mod snapshot;
pub mod system;
pub mod text;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::cli::Cli;
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;

/// What every command gets: validated settings and the output sink.
pub struct Context {
    pub settings: Settings,
    pub printer: Printer,
}

pub fn main() -> ExitCode {
    // Writing past RLIMIT_FSIZE should fail with EFBIG (reported as a full disk, temp
    // file removed), not kill us with SIGXFSZ.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = u8::try_from(e.exit_code()).unwrap_or(error::code::USAGE);
            // --help and --version print as clap made them; errors honour --log-format json.
            if e.use_stderr() && output::json_requested(std::env::args_os()) {
                output::clap_error_event(&e, code);
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    let settings = match Settings::from_cli(&cli) {
        Ok(s) => s,
        Err(e) => {
            let fallback = settings::OutputSettings {
                format: cli.output.log_format.unwrap_or(cli::LogFormat::Text),
                quiet: cli.output.quiet,
                verbose: 0,
                progress: false,
            };
            Printer::new(fallback).error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    logging::init(&settings.output);
    let printer = Printer::new(settings.output);
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            printer.error(&Error::Internal(format!("cannot start the async runtime: {e}")));
            return ExitCode::from(error::code::INTERNAL);
        }
    };
    let ctx = Context { settings, printer: printer.clone() };
    let result = runtime.block_on(async {
        let result = tokio::select! {
            result = commands::run(cli.command, &ctx) => result,
            () = shutdown_signal() => Err(Error::Interrupted),
        };
        if matches!(result, Err(Error::Interrupted)) {
            db::recover_after_interrupt(&ctx.settings).await;
        }
        // Unfinished uploads aborted, leases released (spawned by drops on the way out).
        snapshot::location::pending::settle(Duration::from_secs(15)).await;
        result
    });
    // Dropping the command's future above rolled back its transaction (the connection
    // closes with it) and removed its temp file; give blocking tasks a moment to see it.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            printer.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
