//! What a load plan holds: per table, the rows to write and, per column, the
//! generator (`Gen`) that fills it; foreign-key groups and their parents; pools of
//! database-checked values. Built by `plan::build`, read by `rows`.

use std::collections::HashMap;

use crate::db::schema::{ForeignKey, Table, TableName, TypeKind};
use crate::db::value::Value;
use crate::factory::codes::CodeSpace;
use crate::factory::factories_file::Template;
use crate::factory::hash::Perm;
use crate::factory::pattern::PatternSpace;
use crate::factory::profile::JsonShape;
use crate::factory::values::{Bounds, Faker};

#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub batch_size: u64,
    /// In foreign-key load order (parents first).
    pub tables: Vec<TablePlan>,
    /// (table, group) foreign keys that close a cycle: their parent may load later.
    pub cycle_edges: Vec<(usize, usize)>,
    /// Targets not generated because triggers of other targets fill them.
    pub trigger_filled: Vec<TriggerFilled>,
}

/// A target table that a trigger of another target fills as that one's rows go in.
#[derive(Debug, Clone)]
pub struct TriggerFilled {
    pub table: TableName,
    pub trigger: String,
    pub source: TableName,
}

#[derive(Debug, Clone)]
pub struct TablePlan {
    pub table: Table,
    pub count: u64,
    /// Rows already there: unique values start after them.
    pub offset: u64,
    pub key: u64,
    pub columns: Vec<ColumnPlan>,
    pub groups: Vec<FkGroup>,
    pub combo: Option<Combo>,
    /// Database-checked values (see `candidates`).
    pub pools: Vec<Pool>,
    /// Checks the generated rows must pass beyond the table's own: a partial unique
    /// index that cannot hold by distinct values is kept out of (`NOT (predicate)`).
    pub extra_checks: Vec<(String, String)>,
    /// Rules seed leaves to the database (shown by the plan).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: String,
    pub kind: TypeKind,
    pub source: Gen,
    pub bounds: Bounds,
    /// Share of NULLs for a nullable column without an explicit rule.
    pub null_ratio: f64,
    pub key: u64,
    /// Where the values come from, as `--dry-run` tells it.
    pub origin: Origin,
    /// Case applied to a unique text value so a check such as `lower(x) = x` holds
    /// (distinctness survives: the row-number part of such values has one case).
    pub case: Case,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Case {
    #[default]
    Keep,
    Lower,
    Upper,
}

/// Where a column's values come from (the plan's second column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The type and the column's name.
    Generated,
    /// A check constraint seed reads (range, list, length) or a partition bound.
    Constraint,
    /// Candidates the database evaluated against checks seed does not read.
    DbChecked,
    /// The user's factories file.
    Factories,
    /// A profile learned from real data (`--like`, or a profile file).
    Learned,
    /// Keys, unique values and foreign keys, by construction.
    Key,
}

impl Origin {
    pub fn label(self) -> &'static str {
        match self {
            Origin::Generated => "generated",
            Origin::Constraint => "constraint",
            Origin::DbChecked => "db-checked",
            Origin::Factories => "factories",
            Origin::Learned => "learned",
            Origin::Key => "key",
        }
    }
}

/// Values that passed the database's own evaluation of checks seed does not read:
/// tuples for a group of columns, drawn whole per row so multi-column checks hold.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Indexes into the table plan's columns.
    pub columns: Vec<usize>,
    pub tuples: Vec<Vec<Value>>,
    /// Names of the checks the tuples passed.
    pub checks: Vec<String>,
    /// Candidates the database evaluated.
    pub tried: usize,
    pub key: u64,
}

/// Which end of a row's slot a column holds: rows get disjoint slots (intervals) so
/// an exclusion constraint over `&&` holds by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotPart {
    Start,
    End,
    /// A range column: the whole slot.
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotUnit {
    Time { tz: bool },
    Date,
    Int,
    Numeric { scale: u32 },
}

#[derive(Debug, Clone)]
pub enum Gen {
    /// serial / identity / rowid: a block reserved from the sequence at load time.
    Sequence {
        sequence: Option<String>,
        start: i64,
        step: i64,
    },
    /// Without `perm`: `lo + i` for row `i` of this load, up to `hi`. With it: `lo +
    /// perm(offset + i)`, permuted within a check's range `[lo, hi]`.
    UniqueInt {
        lo: i64,
        hi: i64,
        perm: Option<Perm>,
    },
    UniqueUuid,
    UniqueEmail,
    /// A fake head, `-`, and the row number in base 36.
    UniqueText {
        base: Option<Faker>,
    },
    /// Short keys: every string of the column's length over [0-9a-z], permuted.
    UniqueCode(CodeSpace),
    /// Distinct values matching a check's pattern (`LIKE`, `GLOB`, regular expression).
    UniquePattern(PatternSpace),
    UniqueTemplate(Template),
    UniqueDate,
    UniqueTimestamp {
        tz: bool,
    },
    UniqueNumeric {
        scale: u32,
    },
    UniqueBytes,
    Foreign {
        group: usize,
        component: usize,
    },
    Null,
    Const(Value),
    Pick(Vec<Value>),
    /// One of `values`, the k-th with probability proportional to its weight
    /// (`cumulative` holds the running sums).
    Weighted {
        values: Vec<Value>,
        cumulative: Vec<f64>,
    },
    /// Between two dates or times (a learned range).
    Span(PartitionRange),
    /// JSON objects of a learned shape: its keys, values of its types.
    JsonShape(JsonShape),
    Template(Template),
    Faker(Faker),
    Typed,
    Partition(Vec<PartitionRange>),
    /// A component of a tuple from the table's pool `pool` (database-checked values).
    Pool {
        pool: usize,
        component: usize,
    },
    /// Disjoint intervals per row (exclusion constraints over ranges); `key` is shared
    /// by the columns of one interval.
    Slot {
        key: u64,
        part: SlotPart,
        unit: SlotUnit,
    },
}

#[derive(Debug, Clone)]
pub enum PartitionRange {
    Time { from: i64, to: i64, tz: bool },
    Date { from: i64, to: i64 },
    Int { from: i64, to: i64 },
    List(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct FkGroup {
    pub fk: ForeignKey,
    pub parent: ParentRef,
    pub pick: Pick,
    pub null_ratio: f64,
    pub key: u64,
    /// Written NULL by COPY, then set by an UPDATE once the parent is loaded (cycles
    /// when constraints stay in place).
    pub deferred: bool,
}

#[derive(Debug, Clone)]
pub enum ParentRef {
    /// A table of this load: keys recomputed from the parent's generators.
    Planned { table: usize, columns: Vec<usize>, count: u64 },
    /// Rows already in the database (parent not seeded this time).
    Existing { keys: Vec<Vec<Value>> },
}

impl ParentRef {
    pub fn len(&self) -> u64 {
        match self {
            ParentRef::Planned { count, .. } => *count,
            ParentRef::Existing { keys } => keys.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone)]
pub enum Pick {
    Uniform,
    PerParent(u64),
    Distinct(Perm),
    ComboDigit(usize),
}

/// Distinct combinations of several parents (composite keys made of foreign keys).
#[derive(Debug, Clone)]
pub struct Combo {
    pub radices: Vec<u64>,
    pub perm: Perm,
}

/// Key of a parent's referenced columns, for existing-row lookups.
pub type ParentKey = (TableName, Vec<String>);

/// What the database holds already, read by the backend before planning.
#[derive(Debug, Default)]
pub struct PlanInputs {
    /// Rows in each target table now (0 when it is about to be emptied).
    pub existing_rows: HashMap<TableName, u64>,
    /// Keys of parents that are not seeded this time.
    pub existing_keys: HashMap<ParentKey, Vec<Vec<Value>>>,
    /// Highest value of integer key columns of non-empty targets: new unique integers
    /// start above it, so gaps in existing ids cannot cause collisions.
    pub existing_max: HashMap<(TableName, String), i64>,
}
