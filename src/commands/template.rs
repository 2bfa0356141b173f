//! Keeping a prepared database as a template (`seed prepare NAME --template`, and a
//! stale template's rebuild by `seed clone`): the steps every kind shares. The copying
//! is the kind's (`Session::keep_template`); names and record are in db/template.rs.

use serde_json::{Value, json};

use crate::context::Context;
use crate::db::schema::TableName;
use crate::db::template::{Names, RECORD_VERSION, Record};
use crate::db::url::DbUrl;
use crate::db::{self, Session, TemplateTargets};
use crate::error::Error;

/// A template just kept.
pub struct Kept {
    pub template: DbUrl,
    pub record: Record,
}

impl Kept {
    pub fn json(&self) -> Value {
        json!({
            "database": self.template.database_name(),
            "location": self.template.location(),
            "strategy": self.record.strategy,
            "key": self.record.key,
        })
    }

    pub fn describe(&self) -> String {
        let how = self.record.strategy.as_ref().map(|s| format!(", clones copied by {s}")).unwrap_or_default();
        format!("{}{how}", self.template.database_name())
    }
}

/// The source (the database prepare fills: `DIRECT_URL` when set), the template's names
/// and its URL.
pub fn names(ctx: &Context, name: &str) -> Result<(DbUrl, Names, DbUrl), Error> {
    let source = ctx.settings.write_url().clone();
    let names = Names::new(&source.database_stem(), name)?;
    let template = source.sibling(&names.template())?;
    Ok((source, names, template))
}

/// Where template work connects: the kind's maintenance database on the source's
/// server, or the source itself.
pub async fn connect_work(ctx: &Context, source: &DbUrl) -> Result<Session, Error> {
    let url = match source.kind().maintenance_database() {
        Some(db) => source.sibling(db)?,
        None => source.clone(),
    };
    db::connect(&ctx.settings.connect_options(), &url, &ctx.printer, "seed clone").await
}

/// The source's fingerprint and migration tables (from a full look at its schema), on
/// a connection closed before returning: PostgreSQL copies only a database nobody is in.
async fn read_source(ctx: &Context, source: &DbUrl) -> Result<(String, Vec<TableName>), Error> {
    let mut s = db::connect(&ctx.settings.connect_options(), source, &ctx.printer, "seed clone").await?;
    let result = async {
        let schema = s.introspect().await?;
        let tables: Vec<TableName> = schema.migration_tables.iter().map(|t| t.name.clone()).collect();
        let fingerprint = s.fingerprint(&tables).await?;
        Ok((fingerprint, tables))
    }
    .await;
    s.close().await;
    result
}

/// The source's fingerprint as a record reads it (`migration_tables` from the record).
pub async fn fingerprint(ctx: &Context, source: &DbUrl, migration_tables: &[TableName]) -> Result<String, Error> {
    let mut s = db::connect(&ctx.settings.connect_options(), source, &ctx.printer, "seed clone").await?;
    let result = s.fingerprint(migration_tables).await;
    s.close().await;
    result
}

/// Keeps the source's current state as template `name` (under the template's lock).
pub async fn keep(ctx: &Context, name: &str, args: Vec<String>, key: &str, wait: bool) -> Result<Kept, Error> {
    let (source, names, template) = names(ctx, name)?;
    let mut work = connect_work(ctx, &source).await?;
    let result = async {
        let _lock = work.lock_template(&template, wait).await?;
        keep_locked(ctx, &mut work, &source, &names, name, args, key).await
    }
    .await;
    work.close().await;
    result
}

/// `keep` with the template's lock already held by `work`.
pub async fn keep_locked(
    ctx: &Context,
    work: &mut Session,
    source: &DbUrl,
    names: &Names,
    name: &str,
    args: Vec<String>,
    key: &str,
) -> Result<Kept, Error> {
    let (fingerprint, migration_tables) = read_source(ctx, source).await?;
    let now = chrono::Utc::now();
    let targets = TemplateTargets {
        template: source.sibling(&names.template())?,
        building: source.sibling(&names.building(now))?,
        retired: source.sibling(&names.retired(now))?,
    };
    let mut record = Record {
        seed_template: RECORD_VERSION,
        name: name.to_owned(),
        key: key.to_owned(),
        fingerprint,
        migration_tables,
        args,
        strategy: None,
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    work.keep_template(source, &targets, &mut record).await?;
    Ok(Kept { template: targets.template, record })
}
