//! `seed`: bulk-seed test databases with fake data; take, list and restore snapshots.
//!
//! `main` parses arguments, builds the runtime, runs one command under Ctrl-C handling
//! and maps its error to an exit code, in that one place.

pub mod cli;
pub mod commands;
pub mod context;
pub mod db;
pub mod env;
pub mod envfile;
pub mod error;
pub mod factory;
pub mod human;
pub mod logging;
pub mod manual;
pub mod mask;
pub mod output;
pub mod redact;
pub mod refs;
pub mod seed_toml;
pub mod settings;
pub mod snapshot;
pub mod subset;
pub mod system;
pub mod untrusted;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::context::Context;
use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;

pub fn main() -> ExitCode {
    // Writing past RLIMIT_FSIZE should fail with EFBIG (reported as a full disk, temp
    // file removed), not kill us with SIGXFSZ.
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    system::keep_memory_flat();
    install_panic_hook();
    let (cli, matches) = match parse_args() {
        Ok(parsed) => parsed,
        Err(e) => return print_parse_error(&e),
    };
    // Generated from the definitions alone: no settings, no .env, no config.
    let generated = match &cli.command {
        cli::Command::Completions(args) => Some(manual::completions(args)),
        cli::Command::Man(args) => Some(manual::man(args)),
        _ => None,
    };
    let fail = |cli: &Cli, e: &Error| {
        let fallback = output::OutputSettings {
            format: cli.output.log_format.unwrap_or(output::LogFormat::Text),
            quiet: cli.output.quiet,
            verbose: 0,
            progress: false,
            json: false,
        };
        Printer::new(fallback).error(e);
        ExitCode::from(e.exit_code())
    };
    if let Some(result) = generated {
        return result.map_or_else(|e| fail(&cli, &e), ExitCode::from);
    }
    // SAFETY: no other thread exists yet (the runtime is built below).
    let env_file = match unsafe { envfile::load(&cli.sources.env_file_choice()) } {
        Ok(loaded) => loaded,
        Err(e) => return fail(&cli, &e),
    };
    // Parse again when the file set variables: clap reads the environment while parsing.
    let (cli, matches) = if env_file.as_ref().is_some_and(|l| !l.keys.is_empty()) {
        match parse_args() {
            Ok(parsed) => parsed,
            Err(e) => return print_parse_error(&e),
        }
    } else {
        (cli, matches)
    };
    let config = match seed_toml::load(cli.sources.config.as_deref().filter(|p| !p.as_os_str().is_empty())) {
        Ok(config) => config,
        Err(e) => return fail(&cli, &e),
    };
    let inputs = settings::Inputs { env_file, config, ..settings::Inputs::from_process() };
    let settings = match Settings::from_cli(&cli, &matches, &inputs) {
        Ok(s) => s,
        Err(e) => return fail(&cli, &e),
    };
    let mut cli = cli;
    if let Some(config) = &inputs.config {
        config.apply_to_command(&mut cli.command, &matches);
    }
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
        // The handlers are installed before the command starts: a command that says it
        // waits (a lock) and is interrupted right then must still end as interrupted.
        let interrupted = shutdown_signal();
        let result = tokio::select! {
            result = commands::run(cli.command, &ctx) => result,
            () = interrupted => Err(Error::Interrupted),
        };
        if matches!(result, Err(Error::Interrupted)) {
            db::recover_after_interrupt(ctx.settings.urls()).await;
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

fn parse_args() -> Result<(Cli, clap::ArgMatches), clap::Error> {
    let matches = Cli::command().try_get_matches()?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, matches))
}

/// clap's message (or help) with any URL credentials masked: clap quotes a stray
/// argument as typed, and that argument may be a URL with a password.
fn print_parse_error(e: &clap::Error) -> ExitCode {
    use std::io::{IsTerminal, Write};
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    let code = u8::try_from(e.exit_code()).unwrap_or(error::code::USAGE);
    // Passwords of URLs typed as arguments, so every rendering below can mask them.
    redact::register_arg_secrets(&args);
    let to_stderr = e.use_stderr();
    let tip = cli::misplaced_option_tip(e);
    // --help and --version print as clap made them; errors honour --log-format json.
    if to_stderr && output::json_requested(std::env::args_os()) {
        output::clap_error_event(e, code, tip.as_deref());
        return ExitCode::from(code);
    }
    let terminal = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
    let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut rendered = if color { e.render().ansi().to_string() } else { e.render().to_string() };
    if let Some(tip) = tip {
        // Ours instead of clap's tips, right under the error line.
        let mut lines: Vec<&str> = rendered.lines().filter(|l| !l.trim_start().starts_with("tip:")).collect();
        lines.dedup_by(|a, b| a.trim().is_empty() && b.trim().is_empty());
        let ours = format!("\n  tip: {tip}");
        lines.insert(1.min(lines.len()), &ours);
        rendered = lines.join("\n") + "\n";
    }
    let text = redact::mask_args(&rendered, &args);
    let text = untrusted::printable(&text, color);
    let _ = if to_stderr {
        std::io::stderr().lock().write_all(text.as_bytes())
    } else {
        std::io::stdout().lock().write_all(text.as_bytes())
    };
    ExitCode::from(code)
}

/// A panic is a bug, and its message may quote anything (a value, a URL): it is
/// printed masked and escaped like every other message, never raw.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        use std::io::Write;
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let text = output::clean(&format!(
            "error: internal error (a bug in seed){at}: {payload}\n\nhint: please report it with the command that \
             led to it\n"
        ));
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }));
}

/// Installs the SIGINT and SIGTERM handlers now; the future resolves on either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        let (Ok(mut int), Ok(mut term)) = handlers else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
}
