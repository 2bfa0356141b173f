//! SQLite templates: the template is a file beside the source (`app_seed_ci_tpl.db`,
//! read-only, rollback-journal mode so the file alone is the whole database), its
//! record a file beside it (`….db.json`). A clone is a copy to a temporary name
//! (`…_new.db`) renamed into place: `std::fs::copy` uses copy_file_range, which shares
//! extents where the file system can (XFS, Btrfs) and is the fastest plain copy on ext4
//! (research.md §5: 1.0 ms for 3 MB). A killed clone leaves only the temporary name,
//! which `--gc` removes.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Row};

use super::SqliteBackend;
use crate::db::backend::{Backend, TemplateLock, TemplateTargets};
use crate::db::schema::{TableName, quote_ident, quote_literal};
use crate::db::step::Step;
use crate::db::template::Record;
use crate::db::url::DbUrl;
use crate::error::Error;

/// Files SQLite keeps beside a database.
const COMPANIONS: [&str; 3] = ["-wal", "-shm", "-journal"];

fn path_of(url: &DbUrl) -> Result<PathBuf, Error> {
    url.sqlite_path().cloned().ok_or_else(|| Error::usage("an in-memory SQLite database has no templates or clones"))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn record_path(template: &Path) -> PathBuf {
    with_suffix(template, ".json")
}

/// Writing failed: a full disk (or file-size limit) says so; the rest names the file.
fn write_error(op: &'static str, path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT) => {
            Error::DiskSpace { path: path.parent().unwrap_or(path).to_path_buf(), reason: e.to_string() }
        }
        _ => Error::io(op, path, e),
    }
}

pub async fn fingerprint(b: &mut SqliteBackend, migration_tables: &[TableName]) -> Result<String, Error> {
    let step = Step::new("reading the schema's fingerprint");
    let mut text = String::new();
    let rows =
        b.text_rows("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name".into(), &step).await?;
    for r in rows {
        text.push_str(&r.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>().join(" "));
        text.push('\n');
    }
    for t in migration_tables {
        let columns =
            b.text_rows(format!("SELECT name FROM pragma_table_info({})", quote_literal(&t.name)), &step).await?;
        let columns: Vec<String> = columns.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
        if columns.is_empty() {
            text.push_str(&format!("{t}=absent\n"));
            continue;
        }
        let row = columns.iter().map(|c| format!("quote({})", quote_ident(c))).collect::<Vec<_>>().join(" || ',' || ");
        let rows = b.text_rows(format!("SELECT {row} FROM {} ORDER BY 1", t.quoted()), &step).await?;
        text.push_str(&format!(
            "{t}={}\n",
            rows.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect::<Vec<_>>().join(";")
        ));
    }
    Ok(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(text.as_bytes())))
}

pub async fn record(template: &DbUrl) -> Result<Option<String>, Error> {
    let path = path_of(template)?;
    if !path.exists() {
        return Ok(None);
    }
    let file = record_path(&path);
    match std::fs::File::open(&file) {
        // A record is small; more than this is not one of ours.
        Ok(f) => {
            let mut text = String::new();
            f.take(1 << 20).read_to_string(&mut text).map_err(|e| Error::io("reading", &file, e))?;
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(String::new())),
        Err(e) => Err(Error::io("reading", &file, e)),
    }
}

/// `VACUUM INTO` a consistent copy (whatever else is connected), set to rollback-journal
/// mode, made read-only, then renamed over the old template; the record follows.
pub async fn keep(b: &mut SqliteBackend, t: &TemplateTargets, record: &mut Record) -> Result<(), Error> {
    let (template, building) = (path_of(&t.template)?, path_of(&t.building)?);
    record.strategy = Some("file copy".into());
    let result = async {
        b.execute(
            format!("VACUUM INTO {}", quote_literal(&building.to_string_lossy())),
            &Step::new("copying the database into a new template"),
        )
        .await?;
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&building);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .map_err(|e| Error::io("opening", &building, std::io::Error::other(e.to_string())))?;
        let mode = sqlx::query("PRAGMA journal_mode = DELETE").fetch_one(&mut conn).await;
        let _ = conn.close().await;
        let mode: String =
            mode.map_err(|e| Error::Internal(format!("setting the template's journal mode: {e}")))?.get(0);
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(Error::Internal(format!("the template stayed in {mode} journal mode")));
        }
        let file = File::open(&building).map_err(|e| Error::io("opening", &building, e))?;
        file.sync_all().map_err(|e| write_error("syncing", &building, e))?;
        std::fs::set_permissions(&building, std::fs::Permissions::from_mode(0o444))
            .map_err(|e| Error::io("making read-only", &building, e))?;
        let staged = with_suffix(&record_path(&template), ".tmp");
        let mut f = File::create(&staged).map_err(|e| write_error("writing", &staged, e))?;
        f.write_all(record.to_text().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| write_error("writing", &staged, e))?;
        // Data first: a caller seeing the new file with the old record takes it for stale
        // and waits on the lock for this rebuild, then reads the new record.
        std::fs::rename(&building, &template).map_err(|e| Error::io("renaming", &building, e))?;
        std::fs::rename(&staged, record_path(&template)).map_err(|e| Error::io("renaming", &staged, e))?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&building);
    }
    result
}

pub fn clone(template: &DbUrl, clone: &DbUrl, source_mode: Option<u32>) -> Result<(), Error> {
    let (from, to) = (path_of(template)?, path_of(clone)?);
    // The stem of a clone's temporary name ends in `_new`: a leftover `--gc` knows.
    let stem = to.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut temp = to.with_file_name(format!("{stem}_new"));
    if let Some(ext) = to.extension() {
        temp.set_extension(ext);
    }
    let result = (|| {
        std::fs::copy(&from, &temp).map_err(|e| write_error("copying the template to", &temp, e))?;
        let mode = source_mode.unwrap_or(0o644);
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("setting the mode of", &temp, e))?;
        // A hard link refuses an existing name: never over another caller's clone.
        std::fs::hard_link(&temp, &to).map_err(|e| Error::io("naming the clone", &to, e))
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

pub fn databases(b: &SqliteBackend) -> Result<Vec<String>, Error> {
    let Some(path) = &b.path else { return Ok(Vec::new()) };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let ext = path.extension();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io("listing", &dir, e))? {
        let p = entry.map_err(|e| Error::io("listing", &dir, e))?.path();
        if p.extension() == ext && p.is_file() {
            out.extend(p.file_stem().map(|s| s.to_string_lossy().into_owned()));
        }
    }
    out.sort();
    Ok(out)
}

pub fn drop_database(db: &DbUrl) -> Result<bool, Error> {
    let path = path_of(db)?;
    let existed = match std::fs::remove_file(&path) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io("removing", &path, e)),
    };
    for c in COMPANIONS {
        let _ = std::fs::remove_file(with_suffix(&path, c));
    }
    Ok(existed)
}

/// An exclusive lock on `TEMPLATE.lock`, its holder written inside for others to read.
pub async fn lock(template: &DbUrl, wait: bool) -> Result<TemplateLock, Error> {
    let path = with_suffix(&path_of(template)?, ".lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("opening", &path, e))?;
    if wait {
        let f = file.try_clone().map_err(|e| Error::io("opening", &path, e))?;
        tokio::task::spawn_blocking(move || f.lock())
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::io("locking", &path, e))?;
    } else if let Err(e) = file.try_lock() {
        if !matches!(e, std::fs::TryLockError::WouldBlock) {
            return Err(Error::io("locking", &path, std::io::Error::other(e.to_string())));
        }
        let mut note = String::new();
        let _ = (&file).take(200).read_to_string(&mut note);
        let note: String = note.chars().filter(|c| !c.is_control()).collect();
        return Err(Error::LockHeld {
            resource: format!("template {} (another caller is rebuilding it)", template.location()),
            holder: (!note.is_empty()).then_some(note),
            hint: "pass --wait to wait for the rebuild and clone the new template".into(),
        });
    }
    file.set_len(0).and_then(|()| file.write_all(crate::system::holder("seed clone").as_bytes())).ok();
    Ok(TemplateLock(Some(file)))
}

/// The mode clones get: the source's (a template is read-only, its clones are not).
pub fn source_mode(b: &SqliteBackend) -> Option<u32> {
    let path = b.path.as_ref()?;
    std::fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
}
