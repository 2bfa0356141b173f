//! `seed doctor`: is everything in place for bulk and snapshots?
//!
//! Doctor never writes. It checks what the commands would do, as the effective user:
//! file-system permissions with `faccessat(AT_EACCESS)` (no probe files), a SQLite file
//! opened read-only, and one that does not exist yet is not created.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::Context;
use crate::cli::DoctorArgs;
use crate::db::{self, Session};
use crate::error::{Error, code};
use crate::output::{Level, human_bytes, plural};
use crate::snapshot::{lock, store::Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    #[serde(skip)]
    exit_code: u8,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    data: serde_json::Value,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>, data: serde_json::Value) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), exit_code: 0, data }
    }
    fn warn(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Warn, detail: detail.into(), exit_code: 0, data: serde_json::Value::Null }
    }
    fn fail(name: &'static str, detail: impl Into<String>, exit_code: u8) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), exit_code, data: serde_json::Value::Null }
    }
}

pub async fn run(_args: DoctorArgs, ctx: &Context) -> Result<u8, Error> {
    let settings = &ctx.settings;
    let mut checks = Vec::new();
    checks.push(Check::ok("database source", settings.database_origin(), json!(settings.database_origin())));
    checks.push(Check::ok("settings", settings.summary(), json!(settings.effective)));
    // Doctor never writes: a SQLite file is opened read-only, never created.
    match db::connect_with(settings, &settings.database_url, &ctx.printer, "seed doctor", db::Access::ReadOnly, false)
        .await
    {
        Ok(mut session) => {
            let missing = session.url.sqlite_path().is_some_and(|p| !p.exists());
            let note = if missing { "no file yet: `seed bulk` creates it; " } else { "" };
            checks.push(Check::ok(
                "connection",
                format!("{} ({note}{} ms)", session.url, session.info.latency.as_millis()),
                json!({ "url": session.url.to_string(), "exists": !missing,
                        "latency_ms": session.info.latency.as_millis() }),
            ));
            let server = format!("{} {}", session.kind().product(), session.info.version);
            checks.push(Check::ok(
                "server",
                server,
                json!({ "kind": session.info.kind, "version": session.info.version }),
            ));
            database_checks(&mut session, ctx, &mut checks).await;
            session.close().await;
            if let Some(direct) = &settings.direct_url {
                match db::connect(settings, direct, &ctx.printer, "seed doctor").await {
                    Ok(s) => {
                        checks.push(Check::ok(
                            "direct connection",
                            format!("{direct} ({} ms)", s.info.latency.as_millis()),
                            json!(null),
                        ));
                        s.close().await;
                    }
                    Err(e) => checks.push(Check::fail("direct connection", first_line(&e), e.exit_code())),
                }
            }
        }
        Err(e) => checks.push(Check::fail("connection", first_line(&e), e.exit_code())),
    }
    snapshot_dir_checks(&Store::new(&settings.snapshot_dir), &mut checks);

    let healthy = checks.iter().all(|c| c.status != Status::Fail);
    for c in &checks {
        ctx.printer.event(
            Level::Debug,
            "health_check",
            json!({ "check": c.name, "status": c.status, "detail": c.detail }),
            || format!("check {}: {:?}", c.name, c.status),
        );
    }
    if ctx.printer.json_doc() {
        ctx.printer.document("doctor", json!({ "healthy": healthy, "checks": checks }));
    } else {
        let mut text = String::from("seed doctor\n");
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            text.push_str(&format!("  {mark}  {:<18} {}\n", c.name, c.detail));
        }
        text.push_str(if healthy { "healthy" } else { "unhealthy" });
        ctx.printer.data(&text);
    }
    match checks.iter().find(|c| c.status == Status::Fail) {
        None => Ok(code::OK),
        Some(c) => Err(Error::Unhealthy { check: c.name.to_owned(), detail: c.detail.clone(), code: c.exit_code }),
    }
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// `faccessat(path, mode, AT_EACCESS)`: may the effective user do `mode` (`W_OK`,
/// `X_OK`, ...) to `path`? Read-only file systems answer `EROFS`.
fn may(path: &Path, mode: libc::c_int) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path holds a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path that faccessat only reads.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

async fn database_checks(session: &mut Session, ctx: &Context, checks: &mut Vec<Check>) {
    match session.privileges().await {
        Ok(p) if p.ok => checks.push(Check::ok("privileges", p.detail, p.data)),
        Ok(p) if p.fatal => {
            let mut c = Check::fail("privileges", p.detail, code::PERMISSION);
            c.data = p.data;
            checks.push(c);
        }
        Ok(p) => {
            let mut c = Check::warn("privileges", p.detail);
            c.data = p.data;
            checks.push(c);
        }
        Err(e) => checks.push(Check::warn("privileges", format!("could not read privileges: {}", first_line(&e)))),
    }
    let schema = session.introspect().await;
    if let Ok(schema) = &schema {
        push_version(checks, session.schema_version(schema).await);
    }
    match schema {
        Ok(schema) => {
            let fp = schema.fingerprint();
            let columns: usize = schema.tables.iter().map(|t| t.columns.len()).sum();
            let detail = if schema.tables.is_empty() {
                if ctx.settings.embedded_default {
                    "no tables yet (`seed bulk` applies the demo schema)".to_owned()
                } else {
                    "no tables".to_owned()
                }
            } else {
                format!(
                    "{} ({}, {})",
                    fp.get(..12).unwrap_or(&fp),
                    plural(schema.tables.len() as u64, "table", "tables"),
                    plural(columns as u64, "column", "columns")
                )
            };
            checks.push(Check::ok(
                "schema fingerprint",
                detail,
                json!({ "fingerprint": fp, "tables": schema.tables.len(), "columns": columns }),
            ));
        }
        Err(e) => checks.push(Check::fail("schema fingerprint", first_line(&e), e.exit_code())),
    }
}

fn push_version(checks: &mut Vec<Check>, version: Result<Option<crate::db::schema::SchemaVersion>, Error>) {
    match version {
        Ok(Some(v)) => checks.push(Check::ok("schema version", format!("{} ({})", v.version, v.source), json!(v))),
        Ok(None) => checks.push(Check::ok("schema version", "no migration table found", json!(null))),
        Err(e) => checks.push(Check::warn("schema version", first_line(&e))),
    }
}

fn snapshot_dir_checks(store: &Store, checks: &mut Vec<Check>) {
    let dir = store.dir.display().to_string();
    let free = store.free_space();
    let free_text = free.as_ref().map(|b| human_bytes(*b)).unwrap_or_else(|_| "unknown".into());
    let data = json!({ "path": dir, "free_bytes": free.as_ref().ok() });
    if store.dir.is_dir() {
        match may(&store.dir, libc::W_OK | libc::X_OK) {
            Ok(()) => checks.push(Check::ok("snapshot directory", format!("{dir} writable, {free_text} free"), data)),
            Err(e) => checks.push(Check::fail(
                "snapshot directory",
                format!("{dir} is not writable ({e}): snapshots can be read but not created"),
                code::PERMISSION,
            )),
        }
    } else if store.dir.exists() {
        checks.push(Check::fail("snapshot directory", format!("{dir} is not a directory"), code::PERMISSION));
    } else {
        // `create` makes the missing directories inside the nearest existing one.
        let base = existing_ancestor(&store.dir);
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        match may(&base, libc::W_OK | libc::X_OK) {
            Ok(()) if base.is_dir() => checks.push(Check::ok(
                "snapshot directory",
                format!("{dir} does not exist yet (created on first snapshot), {free_text} free"),
                data,
            )),
            Ok(()) => checks.push(Check::fail(
                "snapshot directory",
                format!("{dir} cannot be created: {} is not a directory", base.display()),
                code::PERMISSION,
            )),
            Err(e) => checks.push(Check::fail(
                "snapshot directory",
                format!("{dir} does not exist and cannot be created: {} is not writable ({e})", base.display()),
                code::PERMISSION,
            )),
        }
    }
    let temps = store.temp_files();
    if temps.is_empty() {
        checks.push(Check::ok("temp files", "none left behind", json!({ "count": 0 })));
    } else {
        let bytes: u64 = temps.iter().map(|(_, s)| s).sum();
        let names: Vec<String> = temps.iter().map(|(p, _)| p.display().to_string()).collect();
        checks.push(Check::warn(
            "temp files",
            format!(
                "{}, {} (removed by the next create of that name): {}",
                plural(temps.len() as u64, "stale temp file", "stale temp files"),
                human_bytes(bytes),
                names.join(", ")
            ),
        ));
    }
    let held = lock::held_locks(store);
    if held.is_empty() {
        checks.push(Check::ok("locks", "none held", json!({ "held": 0 })));
    } else {
        let list: Vec<String> =
            held.iter().map(|(name, holder)| format!("{name} by {}", holder.as_deref().unwrap_or("unknown"))).collect();
        checks.push(Check::warn("locks", format!("held: {}", list.join(", "))));
    }
}

/// The nearest existing ancestor of `path` (`.` for a relative path with none).
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut cur = path.to_path_buf();
    while !cur.exists() {
        match cur.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => cur = parent.to_path_buf(),
            _ => return PathBuf::from("."),
        }
    }
    cur
}
