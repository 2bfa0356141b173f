//! `--mask`, `--mask-rules`, `--mask-key-file` and seed.toml's `[mask]`, turned into a
//! masking request and key before anything connects; and how a plan is shown.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::cli::MaskArgs;
use crate::error::Error;
use crate::factory::factories_file::Factories;
use crate::mask::plan::Explained;
use crate::mask::{self, KeySource, MasterKey, Mode, Plan};
use crate::output::{Printer, plural};
use crate::settings::Settings;

/// seed.toml is at most this big (`seed_toml`); its `[mask]` section is read again here.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// A masking request and the key to run it with (`None`: a plan only).
pub struct Asked {
    pub request: mask::Request,
    pub key: Option<Arc<MasterKey>>,
}

/// What `args` ask (`None`: no masking), with the rules of `factories` and of
/// seed.toml (`[mask]`, `[references]`), and the key: required unless `plan_only` (a
/// dry run shows the plan without one).
pub fn request(
    args: &MaskArgs,
    factories: Option<&Path>,
    settings: &Settings,
    plan_only: bool,
) -> Result<Option<Asked>, Error> {
    let Some(choice) = args.mask.as_deref() else { return Ok(None) };
    let (mode, file) = match choice {
        "auto" => (Mode::Auto, factories),
        "strict" => (Mode::Strict, factories),
        path => {
            if factories.is_some() {
                return Err(Error::usage_hint(
                    format!("--mask {path} names a rules file, and --factories another"),
                    "give the rules once: --mask strict --factories FILE, or --mask auto --factories FILE",
                ));
            }
            (Mode::Strict, Some(Path::new(path)))
        }
    };
    let mut rules = Vec::new();
    let mut personal = Vec::new();
    let mut references = settings.references.clone();
    if let Some(path) = &settings.mask_rules {
        rules.extend(mask::rules::parse_settings(path, &read_config(path)?)?);
    }
    if let Some(path) = file {
        let f = Factories::load(path).map_err(|e| match e {
            Error::Usage { message, .. } if message.contains("not found") => Error::usage_hint(
                format!("--mask: no file {} (and it is not auto or strict)", path.display()),
                "--mask takes auto, strict, or the path of a rules file with a [mask] section",
            ),
            other => other,
        })?;
        rules.extend(mask::rules::parse(&f.path, f.text())?);
        personal = f.profile.personal.clone();
        references.extend(f.references.iter().cloned());
    }
    let source = KeySource { file: args.mask_key_file.clone() };
    let key = if plan_only { source.load().ok().flatten() } else { Some(source.require()?) };
    Ok(Some(Asked { request: mask::Request { mode, rules, personal, references }, key: key.map(Arc::new) }))
}

fn read_config(path: &Path) -> Result<String, Error> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CONFIG_BYTES).read_to_string(&mut text))
        .map_err(|e| Error::io("reading the [mask] section of", path, e))?;
    Ok(text)
}

/// A plan's columns, table by table, as `--dry-run` and `show` print them.
pub fn print_plan(printer: &Printer, plan: &Plan) {
    let width = plan.explained.iter().map(|e| e.column.chars().count()).max().unwrap_or(0).min(32);
    let rule_width = plan.explained.iter().map(|e| e.rule.chars().count()).max().unwrap_or(0).min(32);
    let mut table = None;
    let mut text = String::new();
    for e in &plan.explained {
        if table != Some(&e.table) {
            text.push_str(&format!("  {}\n", e.table));
            table = Some(&e.table);
        }
        text.push_str(&format!("    {:width$}  {:rule_width$}  {}\n", e.column, e.rule, e.reason));
    }
    text.push_str(&format!(
        "  masking {}: {} of {} masked",
        plan.mode.label(),
        plural(plan.masked_columns() as u64, "column", "columns"),
        plan.explained.len()
    ));
    printer.info(text);
}

/// A plan's columns as JSON, grouped by table.
pub fn plan_json(plan: &Plan) -> Value {
    let mut tables: Vec<Value> = Vec::new();
    let mut current: Option<(&crate::db::schema::TableName, Vec<Value>)> = None;
    let column = |e: &Explained| json!({ "name": e.column, "rule": e.rule, "masked": e.masked, "reason": e.reason });
    for e in &plan.explained {
        match &mut current {
            Some((t, cols)) if *t == &e.table => cols.push(column(e)),
            _ => {
                if let Some((t, cols)) = current.take() {
                    tables.push(json!({ "table": t.to_string(), "columns": cols }));
                }
                current = Some((&e.table, vec![column(e)]));
            }
        }
    }
    if let Some((t, cols)) = current {
        tables.push(json!({ "table": t.to_string(), "columns": cols }));
    }
    json!({ "mode": plan.mode.label(), "masked_columns": plan.masked_columns(), "rules_fingerprint": plan.fingerprint, "tables": tables })
}
