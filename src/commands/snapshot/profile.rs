//! `seed snapshot profile NAME`: what the snapshot's data looks like, in the factories
//! file's format, on stdout (`factory::profile` says what is learned and what never
//! is). `bulk --like` learns the same way, from a snapshot or a live database.

use crate::cli::ProfileArgs;
use crate::context::Context;
use crate::db::backend::ChunkSink;
use crate::db::{self, Access};
use crate::error::{Error, code};
use crate::factory::factories_file::{Factories, MAX_PROFILE_VALUES};
use crate::factory::profile::{ColumnInput, ProfileSettings, TableProfile, TableProfiler, render};
use crate::snapshot::chain::Chain;

pub async fn run(args: ProfileArgs, ctx: &Context) -> Result<u8, Error> {
    let mut settings = match &args.factories {
        Some(path) => Factories::load(path)?.profile,
        None => ProfileSettings::default(),
    };
    if let Some(n) = args.max_values {
        if !(1..=MAX_PROFILE_VALUES as u64).contains(&n) {
            return Err(Error::usage(format!("--max-values must be between 1 and {MAX_PROFILE_VALUES}, got {n}")));
        }
        settings.max_values = usize::try_from(n).unwrap_or(MAX_PROFILE_VALUES);
    }
    if let Some(n) = args.min_count {
        if n == 0 {
            return Err(Error::usage("--min-count must be 1 or more"));
        }
        settings.min_count = n;
    }
    let opened =
        crate::snapshot::catalog::open_chain(ctx.location()?, &ctx.printer, &args.name, args.lock.wait, "profile")
            .await?;
    let text = tokio::task::block_in_place(|| profile_snapshot(&opened.chain, &args.name.to_string(), &settings))?;
    ctx.printer.data(text.trim_end());
    ctx.printer.document(
        "snapshot profile",
        serde_json::json!({ "name": args.name.to_string(), "version": opened.version.version, "factories": text }),
    );
    Ok(code::OK)
}

/// The profile of the snapshot `chain` rebuilds, as factories-file text (blocking).
pub fn profile_snapshot(chain: &Chain, name: &str, settings: &ProfileSettings) -> Result<String, Error> {
    let header = chain.header();
    let mut tables = Vec::new();
    for (i, entry) in header.tables.iter().enumerate() {
        let columns = entry
            .columns
            .iter()
            .map(|c| ColumnInput {
                name: c.name.clone(),
                type_name: c.type_name.clone(),
                nullable: c.nullable,
                key: entry.primary_key.contains(&c.name),
            })
            .collect();
        let mut profiler = TableProfiler::new(entry.table_name(), columns, settings);
        let mut rows = chain.open_table(i)?;
        while let Some(chunk) = rows.next_chunk()? {
            profiler.feed(&chunk);
        }
        tables.push(profiler.finish());
    }
    Ok(render(&format!("snapshot {name}"), settings, &tables))
}

struct ProfileSink<'a>(&'a mut TableProfiler);

impl ChunkSink for ProfileSink<'_> {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.feed(bytes);
        Ok(())
    }
}

/// The profile of the live database at `url` (read in one read-only transaction).
pub async fn profile_database(ctx: &Context, url: &str, settings: &ProfileSettings) -> Result<String, Error> {
    let url = db::url::DbUrl::parse(url)?;
    let mut session = db::connect_with(
        &ctx.settings.connect_options(),
        &url,
        &ctx.printer,
        "seed bulk --like-db",
        Access::ReadOnly,
        false,
    )
    .await?;
    let result = async {
        session.begin_read().await?;
        let schema = session.introspect().await?;
        let mut tables: Vec<TableProfile> = Vec::new();
        for table in &schema.tables {
            let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            let inputs = table
                .columns
                .iter()
                .map(|c| ColumnInput {
                    name: c.name.clone(),
                    type_name: c.type_name.clone(),
                    nullable: c.nullable,
                    key: table.primary_key.contains(&c.name),
                })
                .collect();
            let mut profiler = TableProfiler::new(table.name.clone(), inputs, settings);
            session.stream_table(table, &columns, &mut ProfileSink(&mut profiler)).await?;
            tables.push(profiler.finish());
        }
        Ok(render(&format!("database {url}"), settings, &tables))
    }
    .await;
    session.rollback().await;
    session.close().await;
    result
}
