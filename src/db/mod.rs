//! Database access: one connection per job, chosen by URL scheme, with retries for
//! transient connect failures. Backend-specific work lives in `postgres` and `sqlite`.

pub mod checks;
pub mod errors;
pub mod export;
pub mod postgres;
pub mod query;
pub mod rebuild;
pub mod retry;
pub mod schema;
pub mod sqlite;
pub mod url;

use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::error::Error;
use crate::output::{Level, Printer};
use crate::settings::Settings;
use errors::Step;
use url::{DbKind, DbUrl};

pub enum Conn {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerInfo {
    pub kind: DbKind,
    /// e.g. "15.18" or "3.51.0"
    pub version: String,
    #[serde(skip)]
    pub latency: Duration,
}

pub struct Session {
    pub conn: Conn,
    pub info: ServerInfo,
    pub url: DbUrl,
    pub statement_timeout: Option<Duration>,
}

impl Session {
    pub fn step(&self, what: impl Into<String>) -> Step {
        Step::new(what).timeout(self.statement_timeout)
    }

    pub async fn close(self) {
        let _ = match self.conn {
            Conn::Postgres(c) => c.close().await,
            Conn::Sqlite(c) => c.close().await,
        };
    }
}

/// Why a connection attempt failed, and whether trying again can help.
fn classify_connect_error(err: &sqlx::Error) -> (&'static str, bool) {
    match err {
        sqlx::Error::Io(e) => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => ("connection refused", true),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => ("connection reset", true),
            std::io::ErrorKind::TimedOut => ("timed out", true),
            std::io::ErrorKind::NotFound => ("not found", false),
            std::io::ErrorKind::PermissionDenied => ("permission denied", false),
            _ => ("network error", true),
        },
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("57P03") => ("server starting up", true),
            Some("53300") => ("too many connections", true),
            Some("28P01" | "28000") => ("authentication failed", false),
            Some("3D000") => ("database does not exist", false),
            Some("42501") => ("permission denied", false),
            Some(c) if c.starts_with("08") => ("connection failure", true),
            // SQLite: 14 = SQLITE_CANTOPEN
            Some("14") => ("cannot open database file", false),
            _ => ("server refused", false),
        },
        sqlx::Error::Tls(_) => ("TLS error", false),
        sqlx::Error::Configuration(_) => ("invalid connection settings", false),
        sqlx::Error::Protocol(_) => ("protocol error", true),
        _ => ("error", false),
    }
}

/// Connects to `url` (retrying transient failures per the retry settings) and reports
/// `connection_established` or `connection_failed`.
pub async fn connect(settings: &Settings, url: &DbUrl, printer: &Printer, app: &str) -> Result<Session, Error> {
    let policy = settings.retry;
    let mut attempt = 1u32;
    loop {
        let started = Instant::now();
        let result = tokio::time::timeout(settings.connect_timeout, connect_once(settings, url, app)).await;
        let err = match result {
            Ok(Ok((conn, version))) => {
                let latency = started.elapsed();
                let info = ServerInfo { kind: url.kind(), version, latency };
                printer.event(
                    Level::Debug,
                    "connection_established",
                    json!({ "database": url.kind().label(), "url": url.to_string(), "server_version": info.version,
                            "latency_ms": latency.as_millis(), "attempts": attempt }),
                    || {
                        format!(
                            "connected to {url} ({} {}) in {} ms",
                            url.kind().label(),
                            info.version,
                            latency.as_millis()
                        )
                    },
                );
                return Ok(Session { conn, info, url: url.clone(), statement_timeout: settings.statement_timeout });
            }
            Ok(Err(e)) => {
                let (class, transient) = classify_connect_error(&e);
                (class, transient, e.to_string())
            }
            Err(_) => (
                "timed out",
                true,
                format!(
                    "no answer within {} (--connect-timeout)",
                    humantime::format_duration(settings.connect_timeout)
                ),
            ),
        };
        let (class, transient, reason) = err;
        if transient && attempt < policy.max_attempts {
            let delay = retry::backoff(&policy, attempt);
            printer.event(
                Level::Warn,
                "connection_retry",
                json!({ "url": url.to_string(), "error_class": class, "attempt": attempt,
                        "max_attempts": policy.max_attempts, "delay_ms": delay.as_millis() }),
                || {
                    format!(
                        "connecting to {url}: {class} (attempt {attempt}/{}); retrying in {} ms",
                        policy.max_attempts,
                        delay.as_millis()
                    )
                },
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
            continue;
        }
        printer.event(
            Level::Debug,
            "connection_failed",
            json!({ "url": url.to_string(), "error_class": class, "attempts": attempt }),
            || {
                format!(
                    "could not connect to {url}: {class} after {}",
                    crate::output::plural(u64::from(attempt), "attempt", "attempts")
                )
            },
        );
        return Err(Error::Connect { url: url.to_string(), class, attempts: attempt, reason });
    }
}

async fn connect_once(settings: &Settings, url: &DbUrl, app: &str) -> Result<(Conn, String), sqlx::Error> {
    match url.kind() {
        DbKind::Postgres => {
            let mut options = PgConnectOptions::from_str(url.expose())?.application_name(app);
            // Fixed output settings: snapshots and checksums must not depend on the
            // server's or the user's defaults. Server-side TCP keepalives keep idle
            // connections through NATs and let the server notice a vanished client.
            let mut params: Vec<(&str, String)> = vec![
                ("DateStyle", "ISO, MDY".into()),
                ("IntervalStyle", "postgres".into()),
                ("TimeZone", "UTC".into()),
                ("bytea_output", "hex".into()),
                ("client_min_messages", "warning".into()),
                ("tcp_keepalives_idle", "60".into()),
                ("tcp_keepalives_interval", "10".into()),
                ("tcp_keepalives_count", "6".into()),
            ];
            if let Some(t) = settings.statement_timeout {
                params.push(("statement_timeout", t.as_millis().to_string()));
            }
            options = options.options(params);
            let mut conn = options.connect().await?;
            let version: String =
                sqlx::query_scalar("SELECT current_setting('server_version')").fetch_one(&mut conn).await?;
            let version = version.split_whitespace().next().unwrap_or_default().to_owned();
            Ok((Conn::Postgres(conn), version))
        }
        DbKind::Sqlite => {
            if let Some(parent) = url.sqlite_path().and_then(|p| p.parent()).filter(|p| !p.as_os_str().is_empty())
                && !parent.exists()
            {
                return Err(sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("directory {} does not exist", parent.display()),
                )));
            }
            let options = SqliteConnectOptions::from_str(url.expose())?
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(2));
            let mut conn = options.connect().await?;
            let version: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&mut conn).await?;
            Ok((Conn::Sqlite(conn), version))
        }
    }
}
