//! What a statement was doing, so a failure's message can say so: every statement runs
//! under a `Step`.

use std::time::Duration;

/// What was being done when a statement failed, so the message can say so.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub what: String,
    pub table: Option<String>,
    /// Rows per batch, to turn a COPY line number into a batch number.
    pub batch_size: Option<u64>,
    /// Rows of this table sent before the current statement (multi-statement loads).
    pub row_offset: u64,
    pub statement_timeout: Option<Duration>,
}

impl Step {
    pub fn new(what: impl Into<String>) -> Self {
        Self { what: what.into(), ..Self::default() }
    }
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.table = Some(table.into());
        self
    }
    pub fn batches(mut self, batch_size: u64, row_offset: u64) -> Self {
        self.batch_size = Some(batch_size);
        self.row_offset = row_offset;
        self
    }
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.statement_timeout = timeout;
        self
    }
}
