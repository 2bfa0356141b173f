//! `seed completions SHELL` and `seed man [--dir DIR]`, generated from the clap
//! definitions so they never drift from `--help`. Neither reads settings: they work
//! with a broken `.env`, `seed.toml` or `DATABASE_URL`.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, code};

pub fn completions(args: &CompletionsArgs) -> Result<u8, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "seed", &mut out);
    write_stdout(&out)
}

pub fn man(args: &ManArgs) -> Result<u8, Error> {
    let Some(dir) = &args.dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut out)
            .map_err(|e| Error::Internal(format!("cannot render the man page: {e}")))?;
        return write_stdout(&out);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    clap_mangen::generate_to(Cli::command(), dir).map_err(|e| Error::io("write man pages into", dir, e))?;
    let pages = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "1")).count())
        .unwrap_or(0);
    eprintln!("wrote {pages} man pages to {}", dir.display());
    Ok(code::OK)
}

/// Writes `bytes` to stdout; a closed pipe (`seed man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> Result<u8, Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(code::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(code::OK),
        Err(e) => Err(Error::io("write", "stdout", e)),
    }
}
