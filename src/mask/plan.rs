//! Which rule masks which column, decided before any row is read, and why.
//!
//! 1. Every rule of the `[mask]` sections is matched against the schema: an unknown
//!    table or column, or a JSON path on a column that is not JSON, is an error naming
//!    the rule's file and line.
//! 2. Columns joined by references (declared foreign keys, and virtual references) hold
//!    the same values, so they are masked by one function: the rule of any of them
//!    (position by position for composite references) applies to all of them. Two
//!    different rules in one such group are an error naming both lines.
//! 3. `--mask auto`: a group with no rule but a column the personal-column rules flag
//!    (its name, as `--like` judges it, or `[profile] personal`) gets a rule chosen from
//!    its reason and type. `--mask strict` refuses instead, naming every such column.
//! 4. Each group's rule is checked against every column of the group: types, lengths,
//!    NOT NULL, `IN` checks, and unique keys (a column in one needs a function that
//!    keeps distinct values distinct). A rule that cannot hold is an error now, at
//!    `--dry-run`, not after reading data.

use std::collections::{BTreeMap, HashMap};

use super::key::MasterKey;
use super::rules::{JsonPath, Origin, Rule, RuleEntry, Shift};
use super::value::{HASH_DISTINCT_CHARS, Masker, Shape, TAG_CHARS, is_integer, is_text};
use crate::db::schema::{Column, Schema, Table, TableName, TypeKind};
use crate::error::Error;
use crate::factory::profile::{matches_pattern, personal_by_name};
use crate::factory::values::{Faker, check_bounds, faker_name, faker_suits, guess_from_name, max_opt, min_opt_f};
use crate::refs::{Graph, Reference, VirtualRef};

/// How flagged columns without a rule are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A rule is chosen for them.
    Auto,
    /// They are an error.
    Strict,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Strict => "strict",
        }
    }
}

/// What to mask, as the user asked.
#[derive(Debug, Clone)]
pub struct Request {
    pub mode: Mode,
    pub rules: Vec<RuleEntry>,
    /// More columns to treat as personal: `table.column`, `column`, `*` wildcards.
    pub personal: Vec<String>,
    /// References the schema does not declare (`[references]`): their columns are
    /// masked alike too.
    pub references: Vec<VirtualRef>,
}

/// A column's masking: a rule for the whole value, or rules for paths inside its JSON.
#[derive(Debug, Clone)]
pub struct ColumnMask {
    pub whole: Option<Masker>,
    pub paths: Vec<(JsonPath, Masker)>,
    /// Where its rule was written (the first path rule's, for paths); `None` when
    /// `--mask auto` chose it.
    pub at: Option<Origin>,
}

impl ColumnMask {
    /// The masked text of a non-NULL field's text; `None` for NULL.
    pub fn apply(&self, text: &str) -> Result<Option<String>, super::value::Fault> {
        match &self.whole {
            Some(m) => m.apply(text),
            None if self.paths.is_empty() => Ok(Some(text.to_owned())),
            None => super::json::mask_paths(text, &self.paths).map(Some),
        }
    }
}

/// One table's masking, by column in the snapshot's column order.
#[derive(Debug, Clone)]
pub struct TableMask {
    pub table: TableName,
    /// The columns' names, for messages.
    pub names: Vec<String>,
    pub columns: Vec<Option<ColumnMask>>,
    /// Unique keys (column indexes) whose masked values must be watched for collisions.
    pub watched: Vec<Vec<usize>>,
}

impl TableMask {
    pub fn is_empty(&self) -> bool {
        self.columns.iter().all(Option::is_none)
    }
}

/// One column of the plan, for `--dry-run`, `show` and the header.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub table: TableName,
    pub column: String,
    /// The rule's label, or `keep`.
    pub rule: String,
    pub masked: bool,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub mode: Mode,
    /// In the order of the tables planned for.
    pub tables: Vec<TableMask>,
    pub explained: Vec<Explained>,
    /// XXH3-128 of every masked column's rule and shape: equal plans, equal outputs.
    pub fingerprint: String,
}

impl Plan {
    /// Whether any rule draws from the key.
    pub fn keyed(&self) -> bool {
        self.maskers().any(|m| m.rule.keyed())
    }

    pub fn masked_columns(&self) -> usize {
        self.explained.iter().filter(|e| e.masked).count()
    }

    fn maskers(&self) -> impl Iterator<Item = &Masker> {
        self.tables
            .iter()
            .flat_map(|t| t.columns.iter().flatten())
            .flat_map(|c| c.whole.iter().chain(c.paths.iter().map(|(_, m)| m)))
    }

    /// Gives every keyed rule its subkey.
    pub fn bind(&mut self, key: &MasterKey) {
        for t in &mut self.tables {
            for c in t.columns.iter_mut().flatten() {
                for m in c.whole.iter_mut().chain(c.paths.iter_mut().map(|(_, m)| m)) {
                    m.key = m.rule.keyed().then(|| key.rule_key(&m.rule.fingerprint()));
                }
            }
        }
    }
}

type Node = (TableName, String);

/// Why a column is personal, if it is.
fn flagged(req: &Request, table: &TableName, column: &str) -> Option<String> {
    flagged_by(&req.personal, table, column)
}

fn flagged_by(personal: &[String], table: &TableName, column: &str) -> Option<String> {
    if let Some(p) = personal.iter().find(|p| matches_pattern(p, &table.name, column)) {
        return Some(format!("listed as personal ({p})"));
    }
    personal_by_name(&table.name, column).map(str::to_owned)
}

/// Every column of `tables` the personal-column rules flag, as `table.column (why)`.
pub fn flagged_columns(tables: &[&Table], personal: &[String]) -> Vec<String> {
    tables
        .iter()
        .flat_map(|t| {
            t.writable_columns().filter_map(|c| {
                flagged_by(personal, &t.name, &c.name).map(|why| format!("{}.{} ({why})", t.name, c.name))
            })
        })
        .collect()
}

/// The plan for `tables` (some tables of `schema`): the schema's foreign keys and the
/// request's virtual references join columns (checked against the schema: an unknown
/// name is an error naming its file and line).
pub fn plan(schema: &Schema, tables: &[&Table], req: &Request) -> Result<Plan, Error> {
    let (whole, paths) = resolve(schema, &req.rules)?;
    let graph = Graph::new(schema, &req.references)?;
    let groups = Groups::new(schema, graph.references());
    let mut decided: HashMap<usize, Option<Decision>> = HashMap::new();
    let mut unruled: Vec<String> = Vec::new();
    let mut out_tables = Vec::new();
    let mut explained = Vec::new();
    for table in tables {
        let mut columns = Vec::new();
        for col in table.writable_columns() {
            let node = (table.name.clone(), col.name.clone());
            let g = groups.of(&node);
            let decision = match decided.entry(g) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(decide(schema, &groups, g, &whole, req)?),
            };
            let decision = decision.as_ref();
            let own_flag = flagged(req, &table.name, &col.name);
            let path_rules = paths.get(&node).cloned().unwrap_or_default();
            let (mask, rule, reason) = match decision {
                // A rule auto mode chose gives way to the file's rules inside the JSON.
                Some(d) if d.rule != Rule::Keep && (d.at.is_some() || path_rules.is_empty()) => {
                    if !path_rules.is_empty() {
                        return Err(path_rules[0].at.error(format!(
                            "{}.{}: the whole column is masked ({}), so a rule inside its JSON has nothing to do",
                            table.name,
                            col.name,
                            d.describe()
                        )));
                    }
                    let reason = if d.from == node {
                        d.why.clone()
                    } else {
                        format!("same values as {}.{} ({})", d.from.0, d.from.1, d.why)
                    };
                    (
                        Some(ColumnMask { whole: Some(d.masker.clone()), paths: vec![], at: d.at.clone() }),
                        d.rule.label(),
                        reason,
                    )
                }
                _ if !path_rules.is_empty() => {
                    let ps = path_rules
                        .iter()
                        .map(|e| Ok((e.path.clone().expect("a path rule"), path_masker(e, table, col)?)))
                        .collect::<Result<Vec<_>, Error>>()?;
                    let label = path_rules
                        .iter()
                        .map(|e| format!("{} {}", e.path.as_ref().map_or("", |p| p.source.as_str()), e.rule.label()))
                        .collect::<Vec<_>>()
                        .join("; ");
                    let at: Vec<String> = path_rules.iter().map(|e| e.at.to_string()).collect();
                    (
                        Some(ColumnMask { whole: None, paths: ps, at: path_rules.first().map(|e| e.at.clone()) }),
                        format!("json paths: {label}"),
                        format!("rules at {}", at.join(", ")),
                    )
                }
                Some(d) => (
                    None,
                    "keep".to_owned(),
                    match &own_flag {
                        Some(f) => format!("{f}, kept by the rule at {}", d.why_kept()),
                        None => format!("kept by the rule at {}", d.why_kept()),
                    },
                ),
                None => {
                    if let (Some(f), Mode::Strict) = (&own_flag, req.mode) {
                        unruled.push(format!("{}.{} ({f})", table.name, col.name));
                    }
                    (None, "keep".to_owned(), "not personal by its name".to_owned())
                }
            };
            explained.push(Explained {
                table: table.name.clone(),
                column: col.name.clone(),
                rule,
                masked: mask.is_some(),
                reason,
            });
            columns.push(mask);
        }
        let watched = watched_keys(table, &columns);
        let names = table.writable_columns().map(|c| c.name.clone()).collect();
        out_tables.push(TableMask { table: table.name.clone(), names, columns, watched });
    }
    if !unruled.is_empty() {
        return Err(Error::usage_hint(
            format!(
                "--mask strict: {} flagged as personal but {} no rule:\n  {}",
                crate::output::plural(unruled.len() as u64, "column is", "columns are"),
                if unruled.len() == 1 { "has" } else { "have" },
                unruled.join("\n  ")
            ),
            "add a rule for each to the [mask] section (\"table.column\" = \"keep\" when it is not personal), or use --mask auto",
        ));
    }
    let fingerprint = fingerprint(req.mode, &out_tables);
    Ok(Plan { mode: req.mode, tables: out_tables, explained, fingerprint })
}

/// The masker of a rule inside a JSON column (values there are untyped text).
fn path_masker(e: &RuleEntry, table: &Table, col: &Column) -> Result<Masker, Error> {
    let shape = Shape {
        kind: TypeKind::Text { max_len: None },
        bounds: Default::default(),
        one_of: None,
        distinct: false,
        column: col.name.clone(),
    };
    if matches!(e.rule, Rule::Shift(Shift::Seconds(_))) {
        return Err(e
            .at
            .error(format!("{}.{}: shift by time inside JSON is not supported; use fake", table.name, col.name)));
    }
    Ok(Masker { rule: e.rule.clone(), shape, key: None })
}

/// The rules matched to columns: whole-column rules by column, path rules by column.
#[allow(clippy::type_complexity)]
fn resolve(
    schema: &Schema,
    rules: &[RuleEntry],
) -> Result<(HashMap<Node, RuleEntry>, HashMap<Node, Vec<RuleEntry>>), Error> {
    let mut whole: HashMap<Node, RuleEntry> = HashMap::new();
    let mut paths: HashMap<Node, Vec<RuleEntry>> = HashMap::new();
    for e in rules {
        let table = schema.find(&e.table).ok_or_else(|| {
            e.at.error(format!(
                "[mask] \"{}\": no table '{}' in the database; tables: {}",
                e.target(),
                e.table,
                schema.table_list()
            ))
        })?;
        let col = table.column(&e.column).filter(|c| !c.generated).ok_or_else(|| {
            let cols: Vec<&str> = table.writable_columns().map(|c| c.name.as_str()).collect();
            e.at.error(format!(
                "[mask] \"{}\": {} has no column '{}'; columns: {}",
                e.target(),
                table.name,
                e.column,
                cols.join(", ")
            ))
        })?;
        let node = (table.name.clone(), col.name.clone());
        match &e.path {
            Some(p) => {
                if !matches!(col.kind, TypeKind::Json | TypeKind::Jsonb) && !is_text(&col.kind) {
                    return Err(e.at.error(format!(
                        "[mask] \"{}\": {}.{} is {}, not JSON",
                        e.target(),
                        table.name,
                        col.name,
                        col.type_name
                    )));
                }
                let list = paths.entry(node).or_default();
                if let Some(prev) = list.iter().find(|x| x.path.as_ref() == Some(p)) {
                    return Err(e.at.error(format!("[mask] \"{}\" is also given at {}", e.target(), prev.at)));
                }
                list.push(e.clone());
            }
            None => {
                if let Some(prev) = whole.get(&node) {
                    return Err(e
                        .at
                        .error(format!("[mask] {}.{} is also given a rule at {}", table.name, col.name, prev.at)));
                }
                whole.insert(node, e.clone());
            }
        }
    }
    Ok((whole, paths))
}

/// Groups of columns joined by links (union-find over every column of the schema).
struct Groups {
    ids: HashMap<Node, usize>,
    nodes: Vec<Node>,
    parent: Vec<usize>,
    /// Nodes that are the child side of some link (the others are where values start).
    children: std::collections::HashSet<usize>,
}

impl Groups {
    fn new(schema: &Schema, links: &[Reference]) -> Self {
        let mut g = Groups { ids: HashMap::new(), nodes: Vec::new(), parent: Vec::new(), children: Default::default() };
        for t in &schema.tables {
            for c in t.writable_columns() {
                g.id(&(t.name.clone(), c.name.clone()));
            }
        }
        for l in links {
            for (c, p) in l.child_columns.iter().zip(&l.parent_columns) {
                let a = g.id(&(l.child.clone(), c.clone()));
                let b = g.id(&(l.parent.clone(), p.clone()));
                g.children.insert(a);
                let (ra, rb) = (g.find(a), g.find(b));
                if ra != rb {
                    g.parent[ra] = rb;
                }
            }
        }
        g
    }

    fn id(&mut self, n: &Node) -> usize {
        if let Some(&i) = self.ids.get(n) {
            return i;
        }
        let i = self.nodes.len();
        self.ids.insert(n.clone(), i);
        self.nodes.push(n.clone());
        self.parent.push(i);
        i
    }

    fn find(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    fn of(&self, n: &Node) -> usize {
        self.ids.get(n).map_or(usize::MAX, |&i| self.find(i))
    }

    /// The group's columns, those where values start (not the child of a link) first.
    fn members(&self, g: usize) -> Vec<(usize, &Node)> {
        let mut m: Vec<(usize, &Node)> =
            (0..self.nodes.len()).filter(|&i| self.find(i) == g).map(|i| (i, &self.nodes[i])).collect();
        m.sort_by_key(|(i, n)| (self.children.contains(i), (*n).clone()));
        m
    }
}

/// A group's rule: from whom, why, and made concrete.
#[derive(Debug, Clone)]
struct Decision {
    rule: Rule,
    from: Node,
    why: String,
    at: Option<Origin>,
    masker: Masker,
}

impl Decision {
    fn describe(&self) -> String {
        self.rule.label()
    }

    fn why_kept(&self) -> String {
        self.at.as_ref().map_or_else(|| "its group".to_owned(), ToString::to_string)
    }
}

fn decide(
    schema: &Schema,
    groups: &Groups,
    g: usize,
    whole: &HashMap<Node, RuleEntry>,
    req: &Request,
) -> Result<Option<Decision>, Error> {
    let members: Vec<(&Node, &Table, &Column)> = groups
        .members(g)
        .into_iter()
        .filter_map(|(_, n)| {
            let t = schema.get(&n.0)?;
            Some((n, t, t.column(&n.1)?))
        })
        .collect();
    // Explicit rules first: all alike, or an error naming two that differ.
    let explicit: Vec<&RuleEntry> = members.iter().filter_map(|(n, _, _)| whole.get(*n)).collect();
    if let Some(first) = explicit.first() {
        if let Some(other) = explicit.iter().find(|e| e.rule != first.rule) {
            return Err(other.at.error(format!(
                "[mask] {}.{} ({}) and {}.{} ({}, at {}) hold the same values through a reference, so they need one rule",
                other.table, other.column, other.rule.label(), first.table, first.column, first.rule.label(), first.at
            )));
        }
        let node = members
            .iter()
            .find(|(n, _, _)| whole.get(*n).is_some_and(|e| std::ptr::eq(e, *first)))
            .map_or_else(|| (*members[0].0).clone(), |(n, _, _)| (*n).clone());
        let masker = concrete(&first.rule, &members, Some(&first.at))?;
        return Ok(Some(Decision {
            rule: first.rule.clone(),
            from: node,
            why: format!("rule at {}", first.at),
            at: Some(first.at.clone()),
            masker,
        }));
    }
    if req.mode == Mode::Strict {
        return Ok(None);
    }
    let Some((node, table, col, reason)) =
        members.iter().find_map(|(n, t, c)| flagged(req, &t.name, &c.name).map(|r| (*n, *t, *c, r)))
    else {
        return Ok(None);
    };
    let distinct = members.iter().any(|(_, t, c)| in_unique_key(t, &c.name));
    let Some(rule) = auto_rule(table, col, &reason, distinct) else {
        if col.nullable && members.iter().all(|(_, _, c)| c.nullable) && !distinct {
            let masker = concrete(&Rule::Null, &members, None)?;
            return Ok(Some(Decision {
                rule: Rule::Null,
                from: node.clone(),
                why: format!("auto: {reason}"),
                at: None,
                masker,
            }));
        }
        return Err(Error::usage_hint(
            format!(
                "--mask auto: {}.{} ({reason}) is {}, and no automatic rule fits it",
                table.name, col.name, col.type_name
            ),
            format!(
                "give it a rule in the [mask] section, e.g. \"{}.{}\" = \"keep\" or \"hash\"",
                table.name, col.name
            ),
        ));
    };
    let masker = concrete(&rule, &members, None)?;
    Ok(Some(Decision { rule, from: node.clone(), why: format!("auto: {reason}"), at: None, masker }))
}

/// The rule `--mask auto` gives a flagged column: by its type, then by why it is flagged.
fn auto_rule(table: &Table, col: &Column, reason: &str, distinct: bool) -> Option<Rule> {
    let name = col.name.to_ascii_lowercase();
    let text_room = match col.kind {
        TypeKind::Text { max_len } => max_len,
        TypeKind::Char { len } => Some(len),
        _ => None,
    };
    let guess = guess_from_name(&table.name.name, &col.name, &TypeKind::Text { max_len: None });
    Some(match &col.kind {
        TypeKind::Json | TypeKind::Jsonb => Rule::JsonLeaves,
        TypeKind::Uuid | TypeKind::Bytea | TypeKind::Inet | TypeKind::Cidr | TypeKind::MacAddr => Rule::Hash,
        TypeKind::Date if name.contains("birth") || name == "dob" => Rule::Fake(Faker::BirthDate),
        TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz => Rule::Shift(Shift::Seconds(30 * 86_400)),
        k if is_integer(k) => Rule::Scramble,
        TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double | TypeKind::Money => {
            if reason.contains("phone") || reason.contains("identifier") {
                Rule::Scramble
            } else {
                Rule::Shift(Shift::Percent(10.0))
            }
        }
        k if is_text(k) => {
            let fake = if reason.starts_with("a secret") {
                return Some(Rule::Hash);
            } else if reason.contains("email") {
                Faker::Email
            } else if reason.contains("phone") {
                Faker::Phone
            } else if reason.contains("identifier") {
                if name == "ip" || name.contains("ip_address") {
                    Faker::Ipv4
                } else {
                    return Some(Rule::Scramble);
                }
            } else if reason.contains("address") {
                match guess {
                    Some(f @ (Faker::City | Faker::Zip | Faker::State | Faker::Country | Faker::CountryCode)) => f,
                    _ => Faker::StreetAddress,
                }
            } else if reason.contains("name") {
                match guess {
                    Some(f @ (Faker::FirstName | Faker::LastName | Faker::FullName | Faker::Username)) => f,
                    _ => Faker::FullName,
                }
            } else if reason.contains("free text") {
                Faker::Sentence
            } else {
                return Some(Rule::Scramble);
            };
            // A unique column: the tag needs room, else a bijection on its shape.
            if distinct && text_room.is_some_and(|m| m < TAG_CHARS + 3) {
                return Some(Rule::Scramble);
            }
            Rule::Fake(fake)
        }
        _ => return None,
    })
}

/// Whether `column` is part of the table's primary key or a unique constraint.
fn in_unique_key(table: &Table, column: &str) -> bool {
    table.primary_key.iter().any(|c| c == column) || table.uniques.iter().any(|u| u.columns.iter().any(|c| c == column))
}

/// `rule` made concrete for a group, or why it cannot hold on one of its columns.
fn concrete(rule: &Rule, members: &[(&Node, &Table, &Column)], at: Option<&Origin>) -> Result<Masker, Error> {
    let fail = |t: &Table, c: &Column, why: String| -> Error {
        let message = format!("{} on {}.{} ({}): {why}", rule.label(), t.name, c.name, c.type_name);
        match at {
            Some(o) => o.error(format!("[mask] {message}")),
            None => Error::usage_hint(
                format!("--mask auto: {message}"),
                format!("give {}.{} a rule in the [mask] section", t.name, c.name),
            ),
        }
    };
    let (_, root_t, root_c) =
        members.first().copied().ok_or_else(|| Error::Internal("an empty column group".into()))?;
    let (mut bounds, mut one_of) = check_bounds(&root_c.kind, &root_c.checks);
    let mut distinct = false;
    for (_, t, c) in members {
        let (b, list) = check_bounds(&c.kind, &c.checks);
        bounds.min = max_opt(bounds.min, b.min);
        bounds.max = min_opt_f(bounds.max, b.max);
        bounds.max_len = match (bounds.max_len, b.max_len) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        bounds.min_len = bounds.min_len.max(b.min_len);
        if let Some(list) = list {
            one_of = Some(match one_of {
                Some(prev) => prev.into_iter().filter(|v| list.contains(v)).collect(),
                None => list,
            });
        }
        distinct |= in_unique_key(t, &c.name);
        if class(&c.kind) != class(&root_c.kind) && *rule != Rule::Keep {
            return Err(fail(
                t,
                c,
                format!(
                    "it holds the same values as {}.{} ({}), a different type",
                    root_t.name, root_c.name, root_c.type_name
                ),
            ));
        }
    }
    for (_, t, c) in members {
        check_rule(rule, c, distinct, &bounds, one_of.as_deref()).map_err(|why| fail(t, c, why))?;
    }
    Ok(Masker {
        rule: rule.clone(),
        shape: Shape { kind: root_c.kind.clone(), bounds, one_of, distinct, column: root_c.name.clone() },
        key: None,
    })
}

/// Kinds of values that can be joined to each other.
fn class(k: &TypeKind) -> &'static str {
    match k {
        k if is_integer(k) => "integer",
        k if is_text(k) => "text",
        TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double | TypeKind::Money => "number",
        TypeKind::Timestamp | TypeKind::TimestampTz => "timestamp",
        TypeKind::Json | TypeKind::Jsonb => "json",
        _ => "other",
    }
}

/// Why `rule` cannot hold on column `c` of a group (`distinct`: in a unique key).
fn check_rule(
    rule: &Rule,
    c: &Column,
    distinct: bool,
    bounds: &crate::factory::values::Bounds,
    one_of: Option<&[String]>,
) -> Result<(), String> {
    let k = &c.kind;
    let texty = is_text(k);
    let not_distinct = |what: &str| {
        if distinct {
            Err(format!(
                "the column is in a unique key and {what} would give equal values to different rows; use scramble or hash"
            ))
        } else {
            Ok(())
        }
    };
    if one_of.is_some() && distinct && !matches!(rule, Rule::Keep) && !(matches!(rule, Rule::Hash) && is_integer(k)) {
        return Err("the column is in a unique key and an IN (...) check allows only a few values".into());
    }
    match rule {
        Rule::Keep => Ok(()),
        Rule::Null if !c.nullable => Err("the column is NOT NULL".into()),
        Rule::Null => Ok(()),
        Rule::Fixed(v) => {
            not_distinct("one fixed value")?;
            if let Some(max) = bounds.max_len
                && v.chars().count() > max as usize
            {
                return Err(format!("\"{v}\" is longer than the {max} characters the column allows"));
            }
            if let Some(list) = one_of
                && !list.iter().any(|x| x == v)
            {
                return Err(format!("\"{v}\" is not among the values its check allows ({})", list.join(", ")));
            }
            if let Some(min) = bounds.min_len
                && v.chars().count() < min as usize
            {
                return Err(format!("\"{v}\" is shorter than the {min} characters its check asks for"));
            }
            fixed_fits(v, k)?;
            // A number outside the range the column's checks allow.
            let number = (is_integer(k) || matches!(k, TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double))
                .then(|| v.trim().parse::<f64>().ok())
                .flatten();
            match number {
                Some(n) if bounds.min.is_some_and(|m| n < m) || bounds.max.is_some_and(|m| n > m) => Err(format!(
                    "\"{v}\" is outside the range its checks allow ({} to {})",
                    bounds.min.map_or_else(|| "any".into(), |m| m.to_string()),
                    bounds.max.map_or_else(|| "any".into(), |m| m.to_string())
                )),
                _ => Ok(()),
            }
        }
        Rule::Redact => {
            not_distinct("redact")?;
            if texty { Ok(()) } else { Err("redact works on text columns; use scramble, shift or fake".into()) }
        }
        Rule::Scramble => {
            if texty || is_integer(k) || matches!(k, TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double) {
                Ok(())
            } else {
                Err("scramble works on text and number columns".into())
            }
        }
        Rule::Shift(s) => {
            not_distinct("shift")?;
            match (s, k) {
                (Shift::Seconds(secs), TypeKind::Date) if *secs < 86_400 => {
                    Err("a date moves by whole days: shift by at least 1d".into())
                }
                (Shift::Seconds(_), TypeKind::Date | TypeKind::Timestamp | TypeKind::TimestampTz) => Ok(()),
                (Shift::Percent(_) | Shift::Amount(_), k)
                    if is_integer(k)
                        || matches!(
                            k,
                            TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double | TypeKind::Money
                        ) =>
                {
                    Ok(())
                }
                (Shift::Seconds(_), _) => Err("shift by time works on dates and timestamps".into()),
                _ => Err("shift by an amount or a share works on number columns".into()),
            }
        }
        Rule::Fake(f) => {
            if !faker_suits(*f, k) {
                return Err(format!("{} values do not fit this type", faker_name(*f)));
            }
            if distinct {
                if !texty {
                    return Err(format!(
                        "the column is in a unique key; fake {} cannot keep its values distinct here: use hash",
                        faker_name(*f)
                    ));
                }
                if bounds.max_len.is_some_and(|m| m < TAG_CHARS) {
                    return Err(format!(
                        "the column is in a unique key: a distinct fake value needs {TAG_CHARS} characters; use hash"
                    ));
                }
            }
            Ok(())
        }
        Rule::Hash => match k {
            k if is_integer(k) => Ok(()),
            TypeKind::Uuid | TypeKind::Bytea | TypeKind::Inet | TypeKind::Cidr | TypeKind::MacAddr => Ok(()),
            TypeKind::Numeric { .. } | TypeKind::Real | TypeKind::Double | TypeKind::Money => {
                not_distinct("hash of a decimal number")
            }
            k if is_text(k) => {
                if distinct && bounds.max_len.is_some_and(|m| m < HASH_DISTINCT_CHARS) {
                    Err(format!(
                        "the column is in a unique key: hash needs {HASH_DISTINCT_CHARS} characters to keep values distinct"
                    ))
                } else {
                    Ok(())
                }
            }
            _ => Err("hash does not apply to this type; use shift or fake for dates, keep or null otherwise".into()),
        },
        Rule::Template(t) => {
            if !texty {
                return Err("a template makes text; the column is not a text column".into());
            }
            if distinct && !t.is_distinct() {
                return Err("the column is in a unique key: put {n} in the template so values stay distinct".into());
            }
            let literal: usize = t
                .parts
                .iter()
                .map(|p| match p {
                    super::rules::TemplatePart::Literal(s) => s.chars().count(),
                    super::rules::TemplatePart::Number => 20,
                    super::rules::TemplatePart::Generator(_) => 0,
                })
                .sum();
            match bounds.max_len {
                Some(max) if distinct && literal > max as usize => {
                    Err(format!("the template can be {literal} characters long, and the column allows {max}"))
                }
                _ => Ok(()),
            }
        }
        Rule::JsonLeaves => {
            if matches!(k, TypeKind::Json | TypeKind::Jsonb) || texty {
                Ok(())
            } else {
                Err("json works on JSON columns".into())
            }
        }
    }
}

/// Times PostgreSQL reads from words.
const TIME_WORDS: [&str; 8] = ["now", "today", "tomorrow", "yesterday", "infinity", "-infinity", "epoch", "allballs"];

/// Whether the plain decimal `v` fits `numeric(precision, scale)`: at most
/// `precision - scale` digits before the point (digits after it are rounded away).
/// A value written another way (an exponent) is left to the database.
fn fits_digits(v: &str, precision: Option<u32>, scale: Option<u32>) -> bool {
    let Some(precision) = precision else { return true };
    let digits = v.trim_start_matches(['-', '+']);
    if !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return true;
    }
    let whole = digits.split('.').next().unwrap_or_default().trim_start_matches('0');
    whole.len() <= precision.saturating_sub(scale.unwrap_or(0)) as usize
}

/// Whether a `fixed` value can go into a column of kind `k`.
fn fixed_fits(v: &str, k: &TypeKind) -> Result<(), String> {
    let ok = match k {
        k if is_integer(k) => v.trim().parse::<i64>().is_ok(),
        TypeKind::Numeric { precision, scale } => {
            v.trim().parse::<f64>().is_ok() && fits_digits(v.trim(), *precision, *scale)
        }
        TypeKind::Real | TypeKind::Double => v.trim().parse::<f64>().is_ok(),
        // The databases read times in many spellings (and PostgreSQL some words): without
        // a connection (`snapshot mask`, or MariaDB inside a read-only transaction) only
        // a value that cannot be any of them is refused; `create` asks the database.
        TypeKind::Time | TypeKind::TimeTz | TypeKind::Timestamp | TypeKind::TimestampTz => {
            let v = v.trim().to_ascii_lowercase();
            v.bytes().any(|b| b.is_ascii_digit()) || TIME_WORDS.contains(&v.as_str())
        }
        TypeKind::Bool => matches!(v.to_ascii_lowercase().as_str(), "true" | "false" | "t" | "f" | "1" | "0"),
        TypeKind::Uuid => uuid::Uuid::parse_str(v).is_ok(),
        TypeKind::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        TypeKind::Enum { labels } => labels.is_empty() || labels.iter().any(|l| l == v),
        TypeKind::Json | TypeKind::Jsonb => serde_json::from_str::<serde_json::Value>(v).is_ok(),
        _ => true,
    };
    if ok { Ok(()) } else { Err(format!("\"{v}\" is not a value of this type")) }
}

/// Unique keys of `table` with a masked column whose masker may map two values to one.
fn watched_keys(table: &Table, columns: &[Option<ColumnMask>]) -> Vec<Vec<usize>> {
    let names: Vec<&str> = table.writable_columns().map(|c| c.name.as_str()).collect();
    let mut keys: Vec<&Vec<String>> = table.uniques.iter().map(|u| &u.columns).collect();
    if !table.primary_key.is_empty() {
        keys.push(&table.primary_key);
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    for key in keys {
        let Some(idx) = key.iter().map(|c| names.iter().position(|n| n == c)).collect::<Option<Vec<usize>>>() else {
            continue;
        };
        let risky = idx.iter().any(|&i| {
            columns[i].as_ref().is_some_and(|m| m.whole.as_ref().is_some_and(|w| !w.injective()) || !m.paths.is_empty())
        });
        if risky && !out.contains(&idx) {
            out.push(idx);
        }
    }
    out
}

fn fingerprint(mode: Mode, tables: &[TableMask]) -> String {
    let mut lines: BTreeMap<String, ()> = BTreeMap::new();
    for t in tables {
        for (i, c) in t.columns.iter().enumerate() {
            let Some(c) = c else { continue };
            for m in c.whole.iter() {
                lines.insert(
                    format!("{}\0{}\0{i}\0{}\0{:?}", t.table.schema, t.table.name, m.rule.fingerprint(), m.shape),
                    (),
                );
            }
            for (p, m) in &c.paths {
                lines.insert(
                    format!("{}\0{}\0{i}\0{}\0{}", t.table.schema, t.table.name, p.source, m.rule.fingerprint()),
                    (),
                );
            }
        }
    }
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    h.update(mode.label().as_bytes());
    for l in lines.keys() {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::db::schema::{CheckRule, ForeignKey, Unique};
    use crate::mask::rules;

    fn col(name: &str, kind: TypeKind, nullable: bool) -> Column {
        Column {
            name: name.into(),
            type_name: format!("{kind:?}"),
            kind,
            nullable,
            default: None,
            auto: None,
            generated: false,
            checks: vec![],
        }
    }

    fn table(name: &str, columns: Vec<Column>, pk: &[&str]) -> Table {
        Table {
            name: TableName::new("public", name),
            columns,
            primary_key: pk.iter().map(|s| (*s).to_owned()).collect(),
            uniques: vec![],
            foreign_keys: vec![],
            partitioned: false,
            partition_key: None,
            partitions: vec![],
            checks: vec![],
            row_estimate: 0,
            estimated_bytes: 0,
            trigger_writes: vec![],
            key_rules: vec![],
        }
    }

    fn schema() -> Schema {
        let text = |n: u32| TypeKind::Text { max_len: Some(n) };
        let mut customer = table(
            "customer",
            vec![
                col("customer_id", TypeKind::Int, false),
                col("first_name", text(45), false),
                col("email", text(50), true),
                col("active", TypeKind::Bool, false),
                col("code", TypeKind::Char { len: 2 }, false),
                col("notes", TypeKind::Jsonb, true),
            ],
            &["customer_id"],
        );
        customer.uniques.push(Unique { name: "u".into(), columns: vec!["email".into()] });
        customer.columns[4].checks.push(CheckRule::In(vec!["aa".into(), "bb".into()]));
        let mut rental = table(
            "rental",
            vec![
                col("rental_id", TypeKind::Int, false),
                col("customer_email", text(80), true),
                col("customer_id", TypeKind::BigInt, false),
            ],
            &["rental_id"],
        );
        rental.foreign_keys.push(ForeignKey {
            name: "fk".into(),
            columns: vec!["customer_email".into()],
            ref_table: TableName::new("public", "customer"),
            ref_columns: vec!["email".into()],
            deferrable: false,
            period: false,
        });
        rental.foreign_keys.push(ForeignKey {
            name: "fk2".into(),
            columns: vec!["customer_id".into()],
            ref_table: TableName::new("public", "customer"),
            ref_columns: vec!["customer_id".into()],
            deferrable: false,
            period: false,
        });
        Schema { tables: vec![customer, rental], ..Schema::default() }
    }

    fn run(mode: Mode, text: &str) -> Result<Plan, Error> {
        let s = schema();
        let tables: Vec<&Table> = s.tables.iter().collect();
        let rules = rules::parse(Path::new("m.toml"), text)?;
        plan(&s, &tables, &Request { mode, rules, personal: vec![], references: vec![] })
    }

    fn rule_of(p: &Plan, t: &str, c: &str) -> String {
        p.explained
            .iter()
            .find(|e| e.table.name == t && e.column == c)
            .map(|e| format!("{} | {}", e.rule, e.reason))
            .unwrap()
    }

    #[test]
    fn auto_flags_and_propagates_through_references() {
        let p = run(Mode::Auto, "").unwrap();
        assert_eq!(rule_of(&p, "customer", "first_name"), "fake first_name | auto: a person's name");
        assert_eq!(rule_of(&p, "customer", "email"), "fake email | auto: an email address");
        assert!(
            rule_of(&p, "rental", "customer_email").starts_with("fake email | same values as customer.email"),
            "{}",
            rule_of(&p, "rental", "customer_email")
        );
        assert_eq!(rule_of(&p, "customer", "customer_id"), "keep | not personal by its name");
        assert!(rule_of(&p, "customer", "notes").starts_with("json"), "{}", rule_of(&p, "customer", "notes"));
        // The email is unique: its masker keeps values distinct, and is watched.
        let email = p.tables[0].columns[2].as_ref().unwrap().whole.as_ref().unwrap();
        assert!(email.shape.distinct);
        assert_eq!(email.shape.bounds.max_len, Some(50), "the narrower column of the group");
        assert_eq!(p.tables[0].watched, vec![vec![2]]);
        assert!(p.keyed());
        assert_eq!(p.fingerprint, run(Mode::Auto, "").unwrap().fingerprint);
    }

    #[test]
    fn explicit_rules_win_and_must_agree() {
        let p = run(Mode::Auto, "[mask]\n\"rental.customer_email\" = \"hash\"\n\"customer.first_name\" = \"keep\"\n")
            .unwrap();
        assert!(
            rule_of(&p, "customer", "email")
                .starts_with("hash | same values as rental.customer_email (rule at m.toml:2)"),
            "{}",
            rule_of(&p, "customer", "email")
        );
        assert_eq!(rule_of(&p, "customer", "first_name"), "keep | a person's name, kept by the rule at m.toml:3");
        let e = run(
            Mode::Auto,
            "[mask]\n\"rental.customer_email\" = \"hash\"\n\"customer.email\" = { fake = \"email\" }\n",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("m.toml:") && e.to_string().contains("need one rule"), "{e}");
        let p = run(Mode::Auto, "[mask]\n\"customer.customer_id\" = \"hash\"\n").unwrap();
        assert!(
            rule_of(&p, "rental", "customer_id").starts_with("hash | same values as"),
            "an int4 key and its int8 reference"
        );
        assert!(p.tables[0].watched.iter().all(|k| k != &vec![0]), "a permutation needs no watching");
    }

    /// r21.9's class, offline (`snapshot mask` has no database): a `fixed` value is
    /// checked against the column's precision, range and length checks and its kind;
    /// times in any spelling a database may read pass (the database judges them when
    /// there is one).
    #[test]
    fn fixed_values_fit_the_column() {
        let mut price = col("price", TypeKind::Numeric { precision: Some(4), scale: Some(2) }, false);
        price.checks.push(CheckRule::Range { min: Some(0.0), max: Some(50.0) });
        let mut code = col("code", TypeKind::Text { max_len: Some(8) }, false);
        code.checks.push(CheckRule::MinLen(3));
        let cols = vec![
            col("id", TypeKind::Int, false),
            price,
            code,
            col("at", TypeKind::TimestampTz, false),
            col("opens", TypeKind::Time, false),
        ];
        let s = Schema { tables: vec![table("shop", cols, &["id"])], ..Schema::default() };
        let tables: Vec<&Table> = s.tables.iter().collect();
        let plan_with = |rule: &str| {
            let rules = rules::parse(Path::new("m.toml"), &format!("[mask]\n{rule}\n"))?;
            plan(&s, &tables, &Request { mode: Mode::Auto, rules, personal: vec![], references: vec![] })
        };
        for (rule, says) in [
            ("\"shop.price\" = { fixed = \"123.45\" }", "is not a value of this type"),
            ("\"shop.price\" = { fixed = \"60\" }", "outside the range its checks allow (0 to 50)"),
            ("\"shop.price\" = { fixed = \"-1\" }", "outside the range"),
            ("\"shop.code\" = { fixed = \"ab\" }", "shorter than the 3 characters"),
            ("\"shop.at\" = { fixed = \"not a time\" }", "is not a value of this type"),
            ("\"shop.opens\" = { fixed = \"soon\" }", "is not a value of this type"),
        ] {
            let e = plan_with(rule).unwrap_err().to_string();
            assert!(e.starts_with("m.toml:2:") && e.contains(says), "{rule}: {e}");
        }
        for rule in [
            "\"shop.price\" = { fixed = \"49.999\" }",
            "\"shop.price\" = { fixed = \"0\" }",
            "\"shop.code\" = { fixed = \"abc\" }",
            "\"shop.at\" = { fixed = \"2024-01-02 03:04:05+02\" }",
            "\"shop.at\" = { fixed = \"Jan 2 2024\" }",
            "\"shop.at\" = { fixed = \"epoch\" }",
            "\"shop.opens\" = { fixed = \"09:00\" }",
        ] {
            plan_with(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        }
    }

    #[test]
    fn impossible_rules_name_the_line() {
        for (text, wanted) in [
            ("[mask]\n\"customer.active\" = \"null\"\n", "NOT NULL"),
            ("[mask]\n\"customer.email\" = { fixed = \"x@y.z\" }\n", "unique key"),
            ("[mask]\n\"customer.email\" = \"redact\"\n", "unique key"),
            ("[mask]\n\"customer.active\" = { fake = \"email\" }\n", "do not fit"),
            ("[mask]\n\"customer.code\" = { fixed = \"zz\" }\n", "not among the values"),
            ("[mask]\n\"customer.active\" = \"hash\"\n", "does not apply"),
            ("[mask]\n\"customer.email\" = { template = \"u@x\" }\n", "{n}"),
            ("[mask]\n\"nope.email\" = \"hash\"\n", "no table 'nope'"),
            ("[mask]\n\"customer.nope\" = \"hash\"\n", "no column 'nope'"),
            ("[mask]\n\"customer.active.$.x\" = \"hash\"\n", "not JSON"),
            ("[mask]\n\"customer.notes\" = \"json\"\n\"customer.notes.$.x\" = \"hash\"\n", "whole column"),
        ] {
            let e = run(Mode::Auto, text).unwrap_err().to_string();
            assert!(e.starts_with("m.toml:2:") || e.starts_with("m.toml:3:"), "{text}: {e}");
            assert!(e.contains(wanted), "{text}: {e}");
        }
    }

    #[test]
    fn strict_names_every_flagged_column_without_a_rule() {
        let e = run(Mode::Strict, "[mask]\n\"customer.email\" = { fake = \"email\" }\n").unwrap_err().to_string();
        assert!(e.contains("customer.first_name (a person's name)"), "{e}");
        assert!(!e.contains("customer.email"), "{e}");
        assert!(!e.contains("rental.customer_email"), "covered through the reference: {e}");
        let p = run(Mode::Strict, "[mask]\n\"customer.email\" = { fake = \"email\" }\n\"customer.first_name\" = \"redact\"\n\"customer.notes\" = \"null\"\n").unwrap();
        assert_eq!(p.masked_columns(), 4);
        assert_eq!(p.mode, Mode::Strict);
    }
}
