//! Loads into PostgreSQL: `COPY ... FROM STDIN` per table inside the caller's
//! transaction. When the targets start empty and we own them, their keys and indexes
//! are dropped first and built after the data (`rebuild`), and COPY uses FREEZE.
//! Otherwise constraints stay in place; a foreign-key cycle is closed by writing NULL
//! then updating (bulk) or by deferring a deferrable constraint.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};
use tokio::sync::mpsc;

use super::PgBackend;
use super::binary;
use super::errors::translate;
use super::rebuild::{self, DroppedKeys};
use crate::db::backend::SequenceState;
use crate::db::backend::{CycleEdge, CycleFix, GeneratedKey, LoadPlan, LoadPurpose, LoadRequest, LoadTable, RowInput};
use crate::db::copy_text;
use crate::db::copy_text::push_value;
use crate::db::schema::{TableName, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::value::Value;
use crate::error::Error;

/// Set (to anything) to restore through text COPY only: for measuring the binary path.
const TEXT_ONLY: &str = "SEED_RESTORE_TEXT_COPY";

const MODE_FAST: &str = "keys and indexes built after the data";
const MODE_IN_PLACE: &str = "constraints checked row by row";

/// What `start_load` set aside, to be put back by `finish_load`.
#[derive(Debug, Default)]
pub struct LoadState {
    fast: bool,
    /// Restores send binary COPY where every column converts (see `binary`).
    binary: bool,
    dropped: Option<DroppedKeys>,
    triggers_disabled: Vec<TableName>,
}

impl PgBackend {
    pub(super) async fn plan(&mut self, req: &LoadRequest<'_>) -> Result<LoadPlan, Error> {
        let owned = !req.targets.is_empty() && rebuild::owns_all(&mut self.conn, &req.targets).await?;
        let fast = owned && req.starts_empty();
        let mut blocking = Vec::new();
        if req.purpose == LoadPurpose::Restore {
            let triggered = self.tables_with_triggers(&req.targets).await?;
            if !triggered.is_empty() && !owned {
                blocking.push(format!(
                    "tables with triggers ({}) need their owner to restore exact values (triggers are disabled during the load)",
                    triggered.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        if !fast {
            for (name, fk) in &req.cycle_edges {
                let Some(t) = req.schema.get(name) else { continue };
                let f = &t.foreign_keys[*fk];
                // A self reference within one COPY is checked at the end of the statement.
                if f.ref_table == t.name || f.deferrable {
                    continue;
                }
                let nullable = f.columns.iter().all(|c| t.column(c).is_some_and(|col| col.nullable));
                if req.purpose == LoadPurpose::Bulk && nullable && !t.primary_key.is_empty() {
                    continue; // written NULL, set after the load
                }
                blocking.push(format!(
                    "foreign keys form a cycle through {}.{} -> {}, which is {}not deferrable: seed loads such cycles into empty tables you own (or with --truncate / --clean), where keys are built after the data; or make that constraint DEFERRABLE",
                    t.name,
                    f.columns.join(","),
                    f.ref_table,
                    if nullable { "" } else { "NOT NULL and " }
                ));
            }
        }
        Ok(LoadPlan {
            mode: if fast { MODE_FAST } else { MODE_IN_PLACE },
            label: if fast { "keys after data" } else { "keys in place" },
            blocking,
            ..LoadPlan::default()
        })
    }

    pub(super) async fn start(&mut self, req: &LoadRequest<'_>, plan: &LoadPlan) -> Result<(), Error> {
        let fast = plan.mode == MODE_FAST;
        let binary = req.purpose == LoadPurpose::Restore && std::env::var_os(TEXT_ONLY).is_none();
        self.load = LoadState { fast, binary, ..LoadState::default() };
        let quoted: Vec<String> = req.targets.iter().map(TableName::quoted).collect();
        if quoted.is_empty() {
            return Ok(());
        }
        // Tables `--cascade` adds, children first, by DELETE: foreign keys from tables
        // that keep their (non-referencing) rows may point at them, and TRUNCATE refuses
        // any such key.
        if req.empty_first && !req.also_empty.is_empty() {
            let step = self.step("deferring deferrable constraints");
            self.exec("SET CONSTRAINTS ALL DEFERRED".into(), &step).await?;
            for (t, _) in &req.also_empty {
                let step = self.step(format!("emptying {t} (--cascade)")).table(t.to_string());
                let phase = self.printer.phase(format!("emptying {t}"));
                self.exec(format!("DELETE FROM {}", t.quoted()), &step).await?;
                phase.finish();
            }
        }
        if fast {
            let mut sorted = quoted.clone();
            sorted.sort();
            let step = self.step("locking the tables");
            self.exec(format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", sorted.join(", ")), &step).await?;
            // Foreign keys pointing at the targets go too (and come back checked).
            let phase = self.printer.phase("setting keys and indexes aside");
            self.load.dropped = Some(rebuild::drop_keys(&mut self.conn, &req.targets).await?);
            phase.finish();
            // Empty (or to be emptied) and locked: TRUNCATE lets COPY use FREEZE.
            let step = self.step("emptying the tables");
            let phase = self.printer.phase("emptying the tables");
            self.exec(format!("TRUNCATE {}", quoted.join(", ")), &step).await?;
            phase.finish();
        } else {
            let step = self.step("deferring deferrable constraints");
            self.exec("SET CONSTRAINTS ALL DEFERRED".into(), &step).await?;
            if req.empty_first {
                self.empty_in_place(req).await?;
            }
        }
        if req.purpose == LoadPurpose::Restore {
            for t in self.tables_with_triggers(&req.targets).await? {
                let step = self.step("disabling user triggers for the load");
                self.exec(format!("ALTER TABLE {} DISABLE TRIGGER USER", t.quoted()), &step).await?;
                self.load.triggers_disabled.push(t);
            }
        }
        Ok(())
    }

    /// Empties the targets with their keys in place: TRUNCATE when no foreign key of a
    /// table that keeps its rows points at them, else DELETE, last loaded first (the
    /// pre-flight made sure no such row references them; TRUNCATE refuses the key
    /// itself).
    async fn empty_in_place(&mut self, req: &LoadRequest<'_>) -> Result<(), Error> {
        let emptied = |n: &TableName| req.targets.contains(n) || req.also_empty.iter().any(|(t, _)| t == n);
        let referenced = req
            .schema
            .tables
            .iter()
            .any(|t| !emptied(&t.name) && t.foreign_keys.iter().any(|fk| req.targets.contains(&fk.ref_table)));
        if !referenced {
            let quoted: Vec<String> = req.targets.iter().map(TableName::quoted).collect();
            let step = self.step("emptying the tables");
            let phase = self.printer.phase("emptying the tables");
            self.exec(format!("TRUNCATE {}", quoted.join(", ")), &step).await?;
            phase.finish();
            return Ok(());
        }
        for t in req.targets.iter().rev() {
            let step = self.step(format!("emptying {t}")).table(t.to_string());
            let phase = self.printer.phase(format!("emptying {t}"));
            self.exec(format!("DELETE FROM {}", t.quoted()), &step).await?;
            phase.finish();
        }
        Ok(())
    }

    pub(super) async fn copy_in(&mut self, target: &LoadTable<'_>, rows: RowInput) -> Result<u64, Error> {
        let table = target.table;
        let RowInput::CopyText(chunks) = rows else {
            return Err(Error::Internal("the PostgreSQL load takes COPY text".into()));
        };
        let cols: Vec<String> = target.columns.iter().map(|c| quote_ident(c)).collect();
        let freeze = self.load.fast && !table.partitioned;
        let convs = if self.load.binary {
            let columns: Option<Vec<&crate::db::schema::Column>> =
                target.columns.iter().map(|c| table.column(c)).collect();
            columns.and_then(|c| binary::plan(&c))
        } else {
            None
        };
        let options: Vec<&str> =
            [convs.is_some().then_some("FORMAT binary"), freeze.then_some("FREEZE")].into_iter().flatten().collect();
        let sql = format!(
            "COPY {} ({}) FROM STDIN{}",
            table.name.quoted(),
            cols.join(", "),
            if options.is_empty() { String::new() } else { format!(" WITH ({})", options.join(", ")) }
        );
        self.printer.debug(format!(
            "loading {} through {} COPY",
            table.name,
            if convs.is_some() { "binary" } else { "text" }
        ));
        let mut chunks = match convs {
            Some(convs) => to_binary(chunks, convs, table.name.to_string()),
            None => counted(chunks),
        };
        let mut step = self.step(format!("loading {}", table.name)).table(table.name.to_string());
        if let Some(b) = target.batch_size {
            step = step.batches(b, 0);
        }
        let mut copy = self.conn.copy_in_raw(&sql).await.map_err(|e| translate(e, &step))?;
        let mut sent = 0u64;
        while let Some(chunk) = chunks.recv().await {
            let (n, chunk) = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = copy.abort("the rows could not be read").await;
                    return Err(e);
                }
            };
            copy.send(chunk).await.map_err(|e| translate(e, &step))?;
            sent += n;
            target.progress.inc(n);
        }
        let written = copy.finish().await.map_err(|e| translate(e, &step))?;
        target.progress.finish();
        if written != sent {
            return Err(Error::Data {
                step: step.what.clone(),
                reason: format!("the server stored {written} rows of the {sent} lines sent"),
            });
        }
        Ok(written)
    }

    pub(super) async fn finish(&mut self) -> Result<(), Error> {
        let state = std::mem::take(&mut self.load);
        if let Some(keys) = state.dropped
            && !keys.is_empty()
        {
            let progress = self.printer.progress("keys and indexes", Some(keys.defs.len() as u64), "built");
            keys.rebuild(&mut self.conn, self.timeout, |_| progress.inc(1)).await?;
            progress.finish();
        }
        for t in &state.triggers_disabled {
            let step = self.step("enabling user triggers again");
            self.exec(format!("ALTER TABLE {} ENABLE TRIGGER USER", t.quoted()), &step).await?;
        }
        self.load.fast = state.fast;
        Ok(())
    }

    async fn tables_with_triggers(&mut self, tables: &[TableName]) -> Result<Vec<TableName>, Error> {
        let names: Vec<String> = tables.iter().map(TableName::quoted).collect();
        let rows = sqlx::query(
            "SELECT DISTINCT n.nspname, c.relname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND tg.tgrelid IN (SELECT n::regclass FROM unnest($1::text[]) n)",
        )
        .bind(&names)
        .fetch_all(&mut self.conn)
        .await
        .map_err(|e| translate(e, &Step::new("reading triggers")))?;
        Ok(rows.iter().map(|r| TableName::new(r.get::<String, _>(0), r.get::<String, _>(1))).collect())
    }

    /// With constraints in place, a cycle edge is written NULL and set afterwards when it
    /// is nullable (and the table has a key to update by), or deferred when deferrable.
    pub(super) fn defer_cycle_edges(&self, edges: &[CycleEdge<'_>]) -> Result<Vec<bool>, Error> {
        if self.load.fast {
            return Ok(vec![false; edges.len()]); // no foreign keys during the load
        }
        let mut deferred = Vec::with_capacity(edges.len());
        for edge in edges {
            let (table, fk) = (edge.table, edge.fk);
            let nullable = fk.columns.iter().all(|c| table.column(c).is_some_and(|col| col.nullable));
            if fk.ref_table == table.name && !nullable && !fk.deferrable {
                deferred.push(false); // a self reference: checked at the end of the COPY
                continue;
            }
            if nullable && !table.primary_key.is_empty() {
                deferred.push(true);
            } else if fk.deferrable {
                deferred.push(false);
            } else {
                return Err(Error::schema(
                    format!(
                        "foreign keys form a cycle through {}.{} -> {}, which is NOT NULL and not deferrable",
                        table.name,
                        fk.columns.join(", "),
                        fk.ref_table
                    ),
                    "seed loads such cycles when the tables start empty (or with --truncate) and you own them: it then builds the keys after the data; or make that constraint DEFERRABLE",
                ));
            }
        }
        Ok(deferred)
    }

    /// Serial and identity values: from the table's own state under the lock (the
    /// highest value plus the increment, or the sequence's start for an empty table),
    /// never `nextval`, which a failed attempt would have advanced — so a retried load
    /// writes the same rows.
    pub(super) async fn reserve(&mut self, keys: &mut [GeneratedKey]) -> Result<(), Error> {
        for key in keys {
            let table_name = &key.table;
            let s = Step::new(format!("reading the highest {table_name}.{}", key.column)).timeout(self.timeout);
            let col = quote_ident(&key.column);
            let (seq_start, inc) = match &key.sequence {
                Some(seq) => {
                    let row =
                        sqlx::query("SELECT seqstart, seqincrement FROM pg_sequence WHERE seqrelid = $1::regclass")
                            .bind(seq)
                            .fetch_one(&mut self.conn)
                            .await
                            .map_err(|e| translate(e, &s))?;
                    (row.get::<i64, _>(0), row.get::<i64, _>(1))
                }
                None => (1, 1),
            };
            let agg = if inc > 0 { "max" } else { "min" };
            let edge: Option<i64> =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT {agg}({col})::int8 FROM {}", table_name.quoted())))
                    .fetch_one(&mut self.conn)
                    .await
                    .map_err(|e| translate(e, &s))?;
            key.start = match edge {
                Some(e) if inc > 0 => e.saturating_add(inc).max(seq_start),
                Some(e) => e.saturating_add(inc).min(seq_start),
                None => seq_start,
            };
            key.step = inc;
        }
        Ok(())
    }

    /// After the load: sequences never hand out a value the load wrote.
    pub(super) async fn settle(&mut self, keys: &[GeneratedKey]) -> Result<(), Error> {
        for key in keys {
            let Some(seq) = &key.sequence else { continue };
            let (agg, cmp) = if key.step > 0 { ("max", ">") } else { ("min", "<") };
            let sql = format!(
                "SELECT setval({lit}::regclass, e) FROM (SELECT {agg}({col})::int8 AS e FROM {table}) m,
                        (SELECT last_value, is_called FROM {seq}) s
                 WHERE e IS NOT NULL AND (NOT s.is_called OR e {cmp} s.last_value)",
                lit = quote_literal(seq),
                col = quote_ident(&key.column),
                table = key.table.quoted(),
            );
            let step = Step::new(format!("moving {seq} past the loaded rows")).timeout(self.timeout);
            self.exec(sql, &step).await?;
        }
        Ok(())
    }

    /// Sets the foreign key written NULL by `defer_cycle_edges`, through a temp table.
    pub(super) async fn fix_cycle(
        &mut self,
        fix: &CycleFix<'_>,
        rows: &mut (dyn Iterator<Item = Vec<Value>> + Send),
    ) -> Result<(), Error> {
        let (table, fk) = (fix.table, fix.fk);
        let name = &table.name;
        let tmp = quote_ident(&format!("seed_cycle_fix_{}", fix.id));
        let cols: Vec<String> = table.primary_key.iter().chain(fk.columns.iter()).map(|c| quote_ident(c)).collect();
        let step = Step::new(format!("setting {}.{} after the load (foreign-key cycle)", name, fk.columns.join(",")))
            .table(name.to_string())
            .timeout(self.timeout);
        self.exec(
            format!(
                "CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                cols.join(", "),
                name.quoted()
            ),
            &step,
        )
        .await?;
        let mut copy =
            self.conn.copy_in_raw(&format!("COPY {tmp} FROM STDIN")).await.map_err(|e| translate(e, &step))?;
        let mut buf = Vec::new();
        for row in rows {
            for (k, v) in row.iter().enumerate() {
                if k > 0 {
                    buf.push(b'\t');
                }
                push_value(&mut buf, v);
            }
            buf.push(b'\n');
            if buf.len() > 1 << 20 {
                copy.send(std::mem::take(&mut buf)).await.map_err(|e| translate(e, &step))?;
            }
        }
        copy.send(buf).await.map_err(|e| translate(e, &step))?;
        copy.finish().await.map_err(|e| translate(e, &step))?;
        let set: Vec<String> = fk.columns.iter().map(|c| format!("{0} = f.{0}", quote_ident(c))).collect();
        let on: Vec<String> = table.primary_key.iter().map(|c| format!("t.{0} = f.{0}", quote_ident(c))).collect();
        self.exec(
            format!("UPDATE {} t SET {} FROM {tmp} f WHERE {}", name.quoted(), set.join(", "), on.join(" AND ")),
            &step,
        )
        .await?;
        self.printer.debug(format!("closed the foreign-key cycle at {name}.{}", fk.columns.join(",")));
        Ok(())
    }

    /// Sequences are not transactional: they move last, just before COMMIT — back to
    /// where the snapshot saw them, or past the restored maximum if that is higher.
    pub(super) async fn put_sequences_back(
        &mut self,
        tables: &[(&crate::db::schema::Table, &BTreeMap<String, SequenceState>)],
    ) -> Result<(), Error> {
        for (table, states) in tables {
            for c in &table.columns {
                let Some(seq) = c.auto.as_ref().and_then(|a| a.sequence.as_ref()) else { continue };
                let (last, called) = states.get(&c.name).map_or(("NULL".to_owned(), "true".to_owned()), |s| {
                    (s.last_value.to_string(), s.is_called.to_string())
                });
                let sql = format!(
                    "SELECT setval({lit}::regclass, CASE WHEN m IS NOT NULL AND (m > {last}) IS NOT FALSE THEN m ELSE {last} END,
                                   CASE WHEN m IS NOT NULL AND (m > {last}) IS NOT FALSE THEN true ELSE {called} END)
                     FROM (SELECT max({})::int8 AS m FROM {}) s WHERE m IS NOT NULL OR {last} IS NOT NULL",
                    quote_ident(&c.name),
                    table.name.quoted(),
                    lit = quote_literal(seq),
                );
                let step = Step::new(format!("moving {seq} past the restored rows")).timeout(self.timeout);
                self.exec(sql, &step).await?;
            }
        }
        Ok(())
    }
}

type Counted = mpsc::Receiver<Result<(u64, Vec<u8>), Error>>;

/// COPY text chunks as they are, with the rows each completes.
fn counted(mut chunks: mpsc::Receiver<Result<Vec<u8>, Error>>) -> Counted {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Some(chunk) = chunks.recv().await {
            let item = chunk.map(|c| (copy_text::count_lines(&c), c));
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    rx
}

/// COPY text chunks converted to binary COPY on a blocking thread (the conversion
/// overlaps the server's work on the previous chunk).
fn to_binary(mut chunks: mpsc::Receiver<Result<Vec<u8>, Error>>, convs: Vec<binary::Conv>, table: String) -> Counted {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut conv = binary::Converter::new(convs);
        let bad = |reason: String| Error::Data { step: format!("restoring {table}"), reason };
        while let Some(chunk) = chunks.blocking_recv() {
            let item = chunk.and_then(|c| {
                let before = conv.rows();
                conv.push(&c).map(|bytes| (conv.rows() - before, bytes)).map_err(bad)
            });
            let stop = item.is_err();
            if tx.blocking_send(item).is_err() || stop {
                return;
            }
        }
        let _ = tx.blocking_send(conv.finish().map(|b| (0, b)).map_err(bad));
    });
    rx
}
