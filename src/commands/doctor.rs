//! `seed doctor`: is everything in place for bulk and snapshots?
//!
//! Doctor never writes locally. It checks what the commands would do, as the effective
//! user: file-system permissions with `faccessat(AT_EACCESS)` (no probe files), a SQLite
//! file opened read-only, and one that does not exist yet is not created. A bucket is
//! the exception: whether it honours conditional writes can only be seen by trying, so
//! doctor writes one probe object under `.probe/` and removes it.

use serde::Serialize;
use serde_json::json;

use crate::cli::DoctorArgs;
use crate::context::Context;
use crate::db::{self, Session};
use crate::error::{Error, code};
use crate::output::{Level, plural};
use crate::snapshot::location::{self, Diagnostic, Location};

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

impl From<Diagnostic> for Check {
    fn from(d: Diagnostic) -> Self {
        let status = match d.status {
            location::Status::Ok => Status::Ok,
            location::Status::Warn => Status::Warn,
            location::Status::Fail => Status::Fail,
        };
        Self { name: d.name, status, detail: d.detail, exit_code: d.exit_code, data: d.data }
    }
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
    match db::connect_with(
        &settings.connect_options(),
        &settings.database_url,
        &ctx.printer,
        "seed doctor",
        db::Access::ReadOnly,
        false,
    )
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
                match db::connect(&settings.connect_options(), direct, &ctx.printer, "seed doctor").await {
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
    match Location::open(&settings.snapshot_dir) {
        Ok(location) => checks.extend(location.diagnostics().await.into_iter().map(Check::from)),
        Err(e) => checks.push(Check::fail("snapshot store", first_line(&e), e.exit_code())),
    }

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
