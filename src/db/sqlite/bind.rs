//! Rows into SQLite through its C interface, on the connection sqlx holds (its lock
//! held for the while): one prepared single-row INSERT, each value bound where it lies
//! (SQLite does not copy it: the row outlives the step), stepped and reset row by row,
//! as the sqlite3 CLI's `.import` does. sqlx's own path copies every value twice (into
//! its argument buffer, then into SQLite, bound as transient) and hands each statement
//! to its worker thread: in a 1M-row bulk that was most of the CPU outside SQLite.

use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;
use sqlx::sqlite::LockedSqliteHandle;

use crate::db::value::Value;

/// SQLite's code for UTF-8 text (1), as `sqlite3_bind_text64` takes it.
const UTF8: u8 = 1;
const _: () = assert!(ffi::SQLITE_UTF8 == UTF8 as i32);

/// What SQLite reported: its extended result code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: c_int,
    pub message: String,
}

/// A prepared statement on a connection whose lock the caller holds for its lifetime.
pub struct Insert<'h> {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    params: usize,
    /// The handle stays locked (and borrowed) while the statement lives.
    _handle: PhantomData<&'h mut ()>,
}

impl<'h> Insert<'h> {
    /// Prepares `sql` (one statement) on the locked connection.
    pub fn prepare(handle: &'h mut LockedSqliteHandle<'_>, sql: &str) -> Result<Self, Failure> {
        let db = handle.as_raw_handle();
        let len = c_int::try_from(sql.len())
            .map_err(|_| Failure { code: ffi::SQLITE_TOOBIG, message: "the statement is too long".into() })?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is an open connection that only this thread uses while `handle`
        // is locked; `sql` is valid for `len` bytes and SQLite does not keep it.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(db.as_ptr(), sql.as_ptr().cast(), len, 0, &raw mut stmt, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(failure(db, rc));
        }
        let Some(stmt) = NonNull::new(stmt) else {
            return Err(Failure { code: ffi::SQLITE_MISUSE, message: "no statement to prepare".into() });
        };
        // SAFETY: `stmt` was just prepared on `db`.
        let params = usize::try_from(unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) }).unwrap_or(0);
        Ok(Self { db, stmt, params, _handle: PhantomData })
    }

    /// Binds `row` (one value per parameter, in order), runs the statement and resets it.
    pub fn run(&mut self, row: &[Value]) -> Result<(), Failure> {
        if row.len() != self.params {
            return Err(Failure {
                code: ffi::SQLITE_RANGE,
                message: format!("{} values for {} parameters", row.len(), self.params),
            });
        }
        let stmt = self.stmt.as_ptr();
        for (i, v) in row.iter().enumerate() {
            let at = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            // SAFETY: `stmt` is live and not running (reset after every step); text and
            // blobs are bound SQLITE_STATIC: `row` outlives the step below, and the
            // statement is reset (and every parameter bound again) before it runs again,
            // so SQLite never reads a pointer after `row` is gone (finalize does not).
            let rc = unsafe {
                match v {
                    Value::Null => ffi::sqlite3_bind_null(stmt, at),
                    Value::Bool(b) => ffi::sqlite3_bind_int64(stmt, at, i64::from(*b)),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, at, *n),
                    Value::Float(f) => ffi::sqlite3_bind_double(stmt, at, *f),
                    Value::Text(s) => ffi::sqlite3_bind_text64(
                        stmt,
                        at,
                        s.as_ptr().cast(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        UTF8,
                    ),
                    Value::Bytes(b) => {
                        ffi::sqlite3_bind_blob64(stmt, at, b.as_ptr().cast(), b.len() as u64, ffi::SQLITE_STATIC())
                    }
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(failure(self.db, rc));
            }
        }
        // SAFETY: every parameter is bound to memory `row` holds.
        let rc = unsafe { ffi::sqlite3_step(stmt) };
        // Read before the reset, which may set the connection's message anew.
        let result = if rc == ffi::SQLITE_DONE || rc == ffi::SQLITE_ROW { Ok(()) } else { Err(failure(self.db, rc)) };
        // SAFETY: `stmt` is live; the reset repeats the step's error, already taken.
        unsafe { ffi::sqlite3_reset(stmt) };
        result
    }
}

impl Drop for Insert<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` is live and finalized once, here, while the handle is locked.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// The connection's extended error code and message (`rc` when it has none).
fn failure(db: NonNull<ffi::sqlite3>, rc: c_int) -> Failure {
    // SAFETY: `db` is open; the message is copied before any other call on it.
    unsafe {
        let code = ffi::sqlite3_extended_errcode(db.as_ptr());
        let msg = ffi::sqlite3_errmsg(db.as_ptr());
        let message = if msg.is_null() {
            String::new()
        } else {
            String::from_utf8_lossy(CStr::from_ptr(msg).to_bytes()).into_owned()
        };
        Failure { code: if code == 0 { rc } else { code }, message }
    }
}

/// Runs `f`, which blocks (SQLite works on this thread), without stalling the runtime's
/// other tasks where the runtime can move them elsewhere.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}
