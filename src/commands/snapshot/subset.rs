//! The slice a command takes (`snapshot create`, `prepare`), from its flags, the
//! factories file's `[subset]`, `seed.toml` and (for a next version) the base's header;
//! and how a slice's rules and plan are printed.

use std::fmt::Write as _;
use std::path::Path;

use crate::cli::{SubsetArgs, UnrelatedArg};
use crate::error::Error;
use crate::factory::factories_file::Factories;
use crate::output::Printer;
use crate::refs::{Side, VirtualRef};
use crate::snapshot::format::SubsetInfo;
use crate::subset::{self, Children, Explained, Rules, Start, Unrelated};
use crate::untrusted::shown;

const SPEC_HINT: &str = "a starting point is TABLE:CONDITION (e.g. 'customer:store_id = 1'), TABLE:10% or TABLE:1000";

/// The rules of the slice: `--subset` flags, else the factories file's `[subset]`
/// starting points; each other rule from its flag, else the file, else the default;
/// virtual references from the factories file and `seed.toml`. `None` when nothing
/// names a starting point (every row); the shaping flags alone are an error.
pub fn rules(
    args: &SubsetArgs,
    seed: Option<u64>,
    factories: Option<&Factories>,
    project_refs: &[VirtualRef],
) -> Result<Option<Rules>, Error> {
    if args.no_subset {
        return Ok(None);
    }
    let file = factories.and_then(|f| f.subset.as_ref());
    let starts: Vec<Start> = if args.subset.is_empty() {
        file.map(|f| f.start.clone()).unwrap_or_default()
    } else {
        if args.subset.len() > subset::spec::MAX_ITEMS {
            return Err(Error::usage(format!("more than {} --subset starting points", subset::spec::MAX_ITEMS)));
        }
        args.subset
            .iter()
            .map(|s| {
                Start::parse(s).map_err(|m| Error::usage_hint(format!("--subset '{}': {m}", shown(s, 120)), SPEC_HINT))
            })
            .collect::<Result<_, _>>()?
    };
    if starts.is_empty() {
        if args.children_per_parent.is_some() || args.no_children || args.unrelated.is_some() {
            return Err(Error::usage_hint(
                "--children-per-parent, --no-children and --unrelated shape a slice: there is no --subset",
                format!("add --subset TABLE:ROWS ({SPEC_HINT})"),
            ));
        }
        return Ok(None);
    }
    let children = if args.no_children {
        Children::None
    } else if let Some(n) = args.children_per_parent {
        Children::PerParent(n)
    } else {
        file.and_then(|f| f.children).unwrap_or(Children::All)
    };
    let unrelated = match args.unrelated {
        Some(UnrelatedArg::Empty) => Unrelated::Empty,
        Some(UnrelatedArg::Keep) => Unrelated::Keep,
        None => file.and_then(|f| f.unrelated).unwrap_or(Unrelated::Empty),
    };
    let mut references = factories.map(|f| f.references.clone()).unwrap_or_default();
    references.extend(project_refs.iter().cloned());
    Ok(Some(Rules {
        starts,
        seed: seed.or_else(|| file.and_then(|f| f.seed)).unwrap_or(subset::DEFAULT_SEED),
        children,
        unrelated,
        references,
    }))
}

/// The slice a create given none takes from its base `label` (whose header records
/// `info`), said so; none with `--no-subset`.
pub fn of_base(
    args: &SubsetArgs,
    printer: &Printer,
    label: &str,
    info: Option<&SubsetInfo>,
) -> Result<Option<Rules>, Error> {
    let Some(info) = info.filter(|_| !args.no_subset) else { return Ok(None) };
    printer.info(format!("taking the same slice as {label} ({})", info.start.join("; ")));
    rules_from_header(info, label).map(Some)
}

/// The rules a subset snapshot's header records, to take its next version by (the
/// header is untrusted: every piece is parsed again).
fn rules_from_header(info: &SubsetInfo, label: &str) -> Result<Rules, Error> {
    let bad = |what: String| {
        Error::usage_hint(
            format!("{label} records a subset seed cannot read back: {what}"),
            "give the slice again with --subset, or take every row with --no-subset",
        )
    };
    let starts = info
        .start
        .iter()
        .map(|s| Start::parse(s).map_err(|m| bad(format!("'{}': {m}", shown(s, 120)))))
        .collect::<Result<Vec<_>, _>>()?;
    let references = info
        .references
        .iter()
        .map(|r| {
            Ok(VirtualRef {
                child: Side::parse(&r.child).map_err(|m| bad(format!("'{}': {m}", shown(&r.child, 120))))?,
                parent: Side::parse(&r.parent).map_err(|m| bad(format!("'{}': {m}", shown(&r.parent, 120))))?,
                condition: r.condition.clone(),
                file: Path::new(label).to_path_buf(),
                line: 0,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Rules { starts, seed: info.seed, children: info.children, unrelated: info.unrelated, references })
}

/// The subset lines of `snapshot show` (every string from the file, escaped and cut).
pub fn info_text(info: &SubsetInfo) -> String {
    let mut out = String::new();
    let starts: Vec<String> = info.start.iter().map(|s| shown(s, 400)).collect();
    let _ = writeln!(out, "subset        start {}", starts.join("; "));
    let _ = writeln!(
        out,
        "              {}; unrelated tables {}; sample seed {}",
        info.children,
        match info.unrelated {
            Unrelated::Empty => "empty",
            Unrelated::Keep => "kept whole",
        },
        info.seed
    );
    for r in &info.references {
        let condition = r.condition.as_ref().map(|c| format!(" where {}", shown(c, 400))).unwrap_or_default();
        let _ =
            writeln!(out, "              reference {} -> {}{condition}", shown(&r.child, 200), shown(&r.parent, 200));
    }
    out
}

/// The `--dry-run` plan as text.
pub fn plan_text(name: &str, rules: &Rules, plan: &Explained) -> String {
    let mut out = format!(
        "subset plan for snapshot '{name}' (estimates; nothing was read or written)\n  start: {}\n  {}, unrelated tables {}, sample seed {}\n",
        rules.starts.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        rules.children,
        rules.unrelated.label(),
        rules.seed
    );
    for r in &rules.references {
        let _ = writeln!(out, "  virtual reference {} -> {} ({})", r.child, r.parent, r.origin());
    }
    let width = plan.tables.iter().map(|t| t.table.chars().count()).max().unwrap_or(5).clamp(5, 40);
    let _ = writeln!(out, "  {:<width$}  {:>12}  {:>12}  why", "table", "est. rows", "of");
    for t in &plan.tables {
        let rows = match t.action {
            "slice" => t.estimated_rows.to_string(),
            "whole" => format!("{} (all)", t.estimated_rows),
            _ => "0".into(),
        };
        let _ =
            writeln!(out, "  {:<width$}  {rows:>12}  {:>12}  {}", shown(&t.table, 40), t.table_rows, t.why.join("; "));
    }
    let total: u64 = plan.tables.iter().map(|t| t.estimated_rows).sum();
    let all: u64 = plan.tables.iter().map(|t| t.table_rows).sum();
    let _ = writeln!(out, "  about {total} of {all} rows");
    for p in &plan.problems {
        let _ = writeln!(out, "  problem: {p}");
    }
    out
}
