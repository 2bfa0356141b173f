//! Templates and clones (`seed prepare NAME --template`, `seed clone NAME`): the names
//! every kind uses and the record kept with a template. The copying itself is each
//! kind's (`Backend::keep_template`, `Backend::clone_template`).
//!
//! Names: for source database `app` and template `ci`, the template is `app_seed_ci_tpl`
//! and a clone `app_seed_ci_20261207214500_k3j9x0qa` (UTC time of the call, 8 random
//! base-36 characters). A template being rebuilt is built as `…_<time>_<random>_new`
//! and the one it replaces leaves as `…_old`; a pool's ready clone (`seed clone
//! --pool N`) waits as `…_<time>_<random>_rdy` until a caller renames it to a clone's
//! name. `--drop` and `--gc` only ever touch names of that shape, so neither can reach
//! the source or a template.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::schema::TableName;
use crate::error::Error;

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes); MySQL allows 64.
const MAX_DB_NAME: usize = 63;
/// `_<14-digit time>_<8 random>_new` (`_old`, `_rdy`: as long)
const SUFFIX: usize = 1 + 14 + 1 + 8 + 4;
const TIME_FORMAT: &str = "%Y%m%d%H%M%S";
/// The record of a template (MariaDB: and the comment of a clone) still being copied.
pub const BUILDING: &str = "seed: building";
/// Bumped when the record's meaning changes: an older record is then rebuilt.
pub const RECORD_VERSION: u32 = 1;

/// What a template remembers of how it was made, kept outside its data (PostgreSQL:
/// the database's comment; SQLite: a file beside it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seed_template: u32,
    /// The prepare NAME.
    pub name: String,
    /// The prepare key the template's data was made for.
    pub key: String,
    /// The source database's catalog and migration rows when the template was kept.
    pub fingerprint: String,
    /// The migration tables read into the fingerprint.
    #[serde(default)]
    pub migration_tables: Vec<TableName>,
    /// `seed prepare NAME` options that made it, to make it again.
    pub args: Vec<String>,
    /// How clones are copied (PostgreSQL: the `CREATE DATABASE` strategy).
    #[serde(default)]
    pub strategy: Option<String>,
    /// RFC 3339.
    pub created: String,
}

impl Record {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for text that is not a record of this seed (a comment someone else wrote).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str::<Self>(text).ok().filter(|r| r.seed_template == RECORD_VERSION)
    }
}

/// The names belonging to one template of one source database.
#[derive(Debug, Clone)]
pub struct Names {
    /// `<db>_seed_<name>`
    base: String,
}

impl Names {
    /// `db` is the source database's name (SQLite: the file's stem).
    pub fn new(db: &str, name: &str) -> Result<Self, Error> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(Error::usage_hint(
                format!("'{name}' cannot name a template"),
                "a template's NAME is made of ASCII letters, digits, '_' and '-' (it becomes part of database names)",
            ));
        }
        let room = MAX_DB_NAME - SUFFIX;
        let tail = format!("_seed_{name}");
        if tail.len() + 1 > room {
            return Err(Error::usage_hint(
                format!("the template name '{name}' is too long"),
                format!("clone names must fit in {MAX_DB_NAME} bytes: use at most {} characters", room - 7),
            ));
        }
        // A long database name is cut (on a character boundary) and marked with a hash,
        // so two long names sharing a beginning still get their own clones.
        let db_room = room - tail.len();
        let db_part = if db.len() <= db_room {
            db.to_owned()
        } else {
            let keep = db_room.saturating_sub(DB_HASH.len() + 1);
            let cut = (0..=keep).rev().find(|&i| db.is_char_boundary(i)).unwrap_or(0);
            format!("{}_{}", &db[..cut], db_hash(db))
        };
        Ok(Self { base: format!("{db_part}{tail}") })
    }

    pub fn template(&self) -> String {
        format!("{}_tpl", self.base)
    }

    /// A fresh clone name: unique per call (the catalog or the file system refuses a
    /// second one of the same name anyway).
    pub fn clone_name(&self, now: DateTime<Utc>) -> String {
        format!("{}_{}_{}", self.base, now.format(TIME_FORMAT), random_tag())
    }

    /// Where a rebuilt template is built before it replaces the current one.
    pub fn building(&self, now: DateTime<Utc>) -> String {
        format!("{}_new", self.clone_name(now))
    }

    /// The name the replaced template leaves under (dropped at once, or by `--gc`).
    pub fn retired(&self, now: DateTime<Utc>) -> String {
        format!("{}_old", self.clone_name(now))
    }

    /// A pool's ready clone: complete, waiting for a caller to rename it.
    pub fn ready(&self, now: DateTime<Utc>) -> String {
        format!("{}{READY}", self.clone_name(now))
    }

    /// What every name of this template's clones begins with (`<db>_seed_<name>_`).
    pub fn prefix(&self) -> String {
        format!("{}_", self.base)
    }
}

/// The suffix of a pool's ready clone.
pub const READY: &str = "_rdy";

/// The mark a pool's ready clone carries (PostgreSQL: its comment): which template
/// record it was copied from, so a rebuilt template's callers never take an old copy.
pub fn pool_tag(record: &Record) -> String {
    format!("seed pool: {:032x}", xxhash_rust::xxh3::xxh3_128(record.to_text().as_bytes()))
}

/// A name of seed's clone shape: when it was made and whether it is a clone proper
/// (rather than what a killed rebuild or refill left, or a pool's ready clone).
#[derive(Debug, Clone, PartialEq)]
pub struct CloneName {
    pub created: DateTime<Utc>,
    pub leftover: bool,
    pub ready: bool,
}

/// `<anything>_seed_<name>_<14 digits>_<8 of [0-9a-z]>` with an optional
/// `_new`/`_old`/`_rdy`.
pub fn parse_clone_name(name: &str) -> Option<CloneName> {
    let (rest, leftover, ready) = match name.strip_suffix("_new").or_else(|| name.strip_suffix("_old")) {
        Some(rest) => (rest, true, false),
        None => match name.strip_suffix(READY) {
            Some(rest) => (rest, false, true),
            None => (name, false, false),
        },
    };
    let (rest, tag) = rest.rsplit_once('_')?;
    let (rest, time) = rest.rsplit_once('_')?;
    let tag_ok = tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
    let time_ok = time.len() == 14 && time.bytes().all(|b| b.is_ascii_digit());
    if !tag_ok || !time_ok || !rest.contains("_seed_") || rest.ends_with("_seed_") || rest.starts_with("_seed_") {
        return None;
    }
    let created = NaiveDateTime::parse_from_str(time, TIME_FORMAT).ok()?.and_utc();
    Some(CloneName { created, leftover, ready })
}

/// A clone of source database `db`: seed's shape and `db`'s part (as `Names` makes it).
pub fn is_clone_of(db: &str, name: &str) -> bool {
    if parse_clone_name(name).is_none() {
        return false;
    }
    name.match_indices("_seed_").any(|(i, _)| {
        let part = &name[..i];
        part == db
            || part.rsplit_once('_').is_some_and(|(cut, hash)| {
                hash.len() == DB_HASH.len() && hash == db_hash(db) && db.starts_with(cut) && cut.len() < db.len()
            })
    })
}

/// Stands for `xxxx`: 16 bits of hash marking a cut database name.
const DB_HASH: &str = "xxxx";

fn db_hash(db: &str) -> String {
    format!("{:04x}", xxhash_rust::xxh3::xxh3_64(db.as_bytes()) & 0xffff)
}

fn random_tag() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let seed = format!("{}:{nanos}:{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut n = xxhash_rust::xxh3::xxh3_64(seed.as_bytes());
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..8)
        .map(|_| {
            let d = digits[(n % 36) as usize] as char;
            n /= 36;
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_names_parse_back_and_nothing_else_does() {
        let names = Names::new("pagila", "ci").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-12-07T21:45:00Z").unwrap().with_timezone(&Utc);
        let a = names.clone_name(now);
        assert!(a.starts_with("pagila_seed_ci_20261207214500_"), "{a}");
        assert_ne!(a, names.clone_name(now), "two calls, two names");
        assert_eq!(parse_clone_name(&a), Some(CloneName { created: now, leftover: false, ready: false }));
        assert!(parse_clone_name(&names.building(now)).unwrap().leftover);
        assert!(parse_clone_name(&names.retired(now)).unwrap().leftover);
        let ready = parse_clone_name(&names.ready(now)).unwrap();
        assert!(ready.ready && !ready.leftover && names.ready(now).starts_with(&names.prefix()));
        assert!(is_clone_of("pagila", &a) && !is_clone_of("other", &a));
        for not in [
            "pagila",
            &names.template(),
            "pagila_seed_ci",
            "x_20261207214500_abcdefgh",
            "pagila_seed_ci_2026120721450_abcdefgh",
            "pagila_seed_ci_20261207214500_ABCDEFGH",
            "pagila_seed_ci_20261307214500_abcdefgh",
            "_seed_x_20261207214500_abcdefgh",
        ] {
            assert_eq!(parse_clone_name(not), None, "{not}");
        }
    }

    #[test]
    fn names_fit_the_servers_identifier_length() {
        let long = "é".repeat(40);
        let names = Names::new(&long, "ci").unwrap();
        let clone = names.building(Utc::now());
        assert!(clone.len() <= MAX_DB_NAME, "{clone}");
        assert!(names.ready(Utc::now()).len() <= MAX_DB_NAME);
        assert!(is_clone_of(&long, &clone));
        assert!(Names::new("db", &"n".repeat(40)).is_err());
        assert!(Names::new("db", "a/b").is_err() && Names::new("db", "").is_err());
    }

    #[test]
    fn records_round_trip_and_foreign_comments_are_not_records() {
        let r = Record {
            seed_template: RECORD_VERSION,
            name: "ci".into(),
            key: "k".into(),
            fingerprint: "f".into(),
            migration_tables: vec![TableName::new("public", "schema_migrations")],
            args: vec!["--count".into(), "5".into()],
            strategy: Some("wal_log".into()),
            created: "2026-12-07T21:45:00Z".into(),
        };
        assert_eq!(Record::parse(&r.to_text()), Some(r));
        assert_eq!(Record::parse("the app's database"), None);
        assert_eq!(Record::parse(r#"{"seed_template": 99}"#), None);
    }
}
