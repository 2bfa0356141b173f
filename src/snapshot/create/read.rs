//! Reading tables out of the database for a snapshot: what is read of each table
//! ([`TableRead`], the one place rows enter), and spreading the tables over the
//! connections of one read transaction.

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::db::schema::Table;
use crate::db::{ChunkSink, Connector, Session};
use crate::error::Error;
use crate::mask::{MaskSink, TableMask};
use crate::output::{Printer, Progress};
use crate::subset::{self, TableRows};

/// Pages `from..to` of a table (`to` `None`: to the end).
pub(super) type Pages = (u64, Option<u64>);

/// What a snapshot reads of one table: which columns, in the order the header lists
/// them, which rows, and how they are masked. Every row of a snapshot enters through
/// [`TableRead::stream`].
pub(super) struct TableRead<'a> {
    pub table: &'a Table,
    pub columns: Vec<String>,
    /// The rows a subset takes (`None`: every row).
    pub rows: Option<&'a TableRows>,
    /// The table's masking, when any of its columns is masked.
    pub mask: Option<&'a TableMask>,
}

impl TableRead<'_> {
    /// Streams the table's rows (those on `pages` only, when given) as COPY text into
    /// `sink`, masked first when the table is: whatever `sink` is (the snapshot, a
    /// spool, a comparison with the base) sees only masked rows.
    /// A slice's rows are read by batches of keys, each in key order: the same slice
    /// gives the same bytes.
    pub async fn stream<S: ChunkSink>(
        &self,
        session: &mut Session,
        pages: Option<Pages>,
        sink: &mut S,
    ) -> Result<(), Error> {
        match self.mask {
            None => self.read(session, pages, sink).await,
            Some(mask) => {
                let mut masked = MaskSink::new(mask, sink);
                self.read(session, pages, &mut masked).await?;
                masked.finish().await
            }
        }
    }

    async fn read<S: ChunkSink>(&self, session: &mut Session, pages: Option<Pages>, sink: &mut S) -> Result<(), Error> {
        match (self.rows, pages) {
            (None | Some(TableRows::Whole), None) => session.stream_table(self.table, &self.columns, sink).await,
            (None | Some(TableRows::Whole), Some(pages)) => {
                session.stream_pages(self.table, &self.columns, pages, sink).await
            }
            (Some(TableRows::Empty), _) => Ok(()),
            (Some(TableRows::Keys { key, keys }), None) => {
                let order = key.order_by(None);
                for batch in subset::batches(keys) {
                    let filter = session.key_in(key, None, &batch);
                    session.stream_filtered(self.table, &self.columns, &filter, &order, sink).await?;
                }
                Ok(())
            }
            (Some(TableRows::Keys { .. }), Some(_)) => {
                Err(Error::Internal(format!("{}: a slice is not read by pages", self.table.name)))
            }
        }
    }

    /// True when every row is read (such a table may be read in page ranges).
    pub fn whole(&self) -> bool {
        matches!(self.rows, None | Some(TableRows::Whole))
    }

    /// The table's progress bar (rows, with the slice's size or the estimate as the
    /// total when there is one).
    pub fn progress(&self, printer: &Printer) -> Progress {
        let table = self.table;
        let total = self.rows.and_then(TableRows::count).or((table.row_estimate > 0).then_some(table.row_estimate));
        printer.progress(&table.name.to_string(), total, "rows")
    }
}

/// Table indexes, biggest first: the order connections take them in.
pub(super) fn biggest_first(tables: &[TableRead<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..tables.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(tables[i].table.estimated_bytes.max(tables[i].table.row_estimate)));
    order
}

/// Runs `each(session, index)` for every table: on the leader alone, or with `snapshot`
/// (exported by the leader) also on `jobs - 1` helper connections that join it, so
/// every table is still read as of one moment. Tables go biggest first to whichever
/// connection is free. Returns the results in table order.
pub(super) async fn on_connections<T>(
    connector: &Connector<'_>,
    leader: &mut Session,
    tables: &[TableRead<'_>],
    snapshot: Option<&str>,
    jobs: usize,
    each: impl AsyncFn(&mut Session, usize) -> Result<T, Error>,
) -> Result<Vec<T>, Error> {
    let mut helpers = join_snapshot(connector, snapshot, jobs).await?;
    let queue = RefCell::new(VecDeque::from(biggest_first(tables)));
    let done: RefCell<Vec<Option<T>>> = RefCell::new((0..tables.len()).map(|_| None).collect());
    let drain = async |session: &mut Session| -> Result<(), Error> {
        loop {
            let Some(i) = queue.borrow_mut().pop_front() else { return Ok(()) };
            let result = each(session, i).await?;
            done.borrow_mut()[i] = Some(result);
        }
    };
    let mut all: Vec<&mut Session> = vec![leader];
    all.extend(helpers.iter_mut());
    let result = futures_util::future::try_join_all(all.into_iter().map(drain)).await;
    close_helpers(helpers, result.is_ok()).await?;
    result?;
    done.into_inner().into_iter().map(|d| d.ok_or_else(|| Error::Internal("a table was not read".into()))).collect()
}

/// `jobs - 1` more connections reading as of the leader's exported `snapshot` (none
/// without one).
pub(super) async fn join_snapshot(
    connector: &Connector<'_>,
    snapshot: Option<&str>,
    jobs: usize,
) -> Result<Vec<Session>, Error> {
    let mut helpers = Vec::new();
    if let Some(snapshot) = snapshot {
        for _ in 1..jobs {
            let mut s = connector.connect().await?;
            s.begin_read_at(snapshot).await?;
            helpers.push(s);
        }
    }
    Ok(helpers)
}

/// Ends the helpers' read transactions (committed when all went well) and closes them.
pub(super) async fn close_helpers(helpers: Vec<Session>, ok: bool) -> Result<(), Error> {
    for mut s in helpers {
        if ok {
            s.commit("ending a read transaction").await?;
        }
        s.close().await;
    }
    Ok(())
}
