//! What every command gets: the validated settings and the output sink.

use crate::error::Error;
use crate::output::Printer;
use crate::settings::Settings;
use crate::snapshot::location::Location;

pub struct Context {
    pub settings: Settings,
    pub printer: Printer,
}

impl Context {
    /// The snapshot location of `--snapshot-dir` (a directory or a bucket).
    pub fn location(&self) -> Result<Location, Error> {
        Location::open(&self.settings.snapshot_dir)
    }
}
