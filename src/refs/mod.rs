//! The reference graph: which columns of a table point at rows of another, from the
//! foreign keys the schema declares plus the virtual references a file declares
//! (`spec`). Shared by the features that follow references: subsets (which rows a
//! slice needs: parents up, children down) and masking (a masked key column's rule
//! applies to every column referencing it).
//!
//! Foreign keys declared on the partitions of a partitioned table count for the
//! partitioned table (introspection merges them), so a reference declared on some
//! partitions only is followed for all of the table's rows; a virtual reference covers
//! what no partition declares. Only `MATCH SIMPLE` is assumed: a NULL in any child
//! column means no reference.

pub mod spec;

use std::collections::{BTreeSet, HashMap};

use crate::db::schema::{Schema, Table, TableName};
use crate::error::Error;
pub use spec::{Side, VirtualRef};

/// Child columns point at parent columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub child: TableName,
    pub child_columns: Vec<String>,
    pub parent: TableName,
    pub parent_columns: Vec<String>,
    /// A foreign key of the schema (false: a virtual reference from a file).
    pub declared: bool,
    /// Some child column may be NULL (such a row references nothing).
    pub nullable: bool,
    /// Only rows where this holds reference the parent (virtual references), SQL over
    /// the child's columns.
    pub condition: Option<String>,
    /// The constraint's name, or `file:line` of a virtual reference.
    pub origin: String,
}

impl Reference {
    /// `child(cols) -> parent(cols)`, for messages and plans.
    pub fn describe(&self) -> String {
        format!(
            "{}({}) -> {}({})",
            self.child,
            self.child_columns.join(", "),
            self.parent,
            self.parent_columns.join(", ")
        )
    }
}

/// Every reference between the tables of a schema, indexed both ways.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    refs: Vec<Reference>,
    by_child: HashMap<TableName, Vec<usize>>,
    by_parent: HashMap<TableName, Vec<usize>>,
}

impl Graph {
    /// The schema's foreign keys plus `virtuals`, each checked against the schema: an
    /// unknown table or column is an error naming the file and line (exit 2). A
    /// virtual reference repeating a declared foreign key adds nothing.
    pub fn new(schema: &Schema, virtuals: &[VirtualRef]) -> Result<Self, Error> {
        let mut refs = Vec::new();
        for t in &schema.tables {
            for fk in &t.foreign_keys {
                // Foreign keys to tables seed does not see (another schema, a
                // migration table) are not followed.
                if schema.get(&fk.ref_table).is_none() || fk.columns.len() != fk.ref_columns.len() {
                    continue;
                }
                refs.push(Reference {
                    child: t.name.clone(),
                    child_columns: fk.columns.clone(),
                    parent: fk.ref_table.clone(),
                    parent_columns: fk.ref_columns.clone(),
                    declared: true,
                    nullable: any_nullable(t, &fk.columns),
                    condition: None,
                    origin: fk.name.clone(),
                });
            }
        }
        for v in virtuals {
            let child = resolve(schema, v, &v.child)?;
            let parent = resolve(schema, v, &v.parent)?;
            let r = Reference {
                child: child.name.clone(),
                child_columns: v.child.columns.clone(),
                parent: parent.name.clone(),
                parent_columns: v.parent.columns.clone(),
                declared: false,
                nullable: any_nullable(child, &v.child.columns),
                condition: v.condition.clone(),
                origin: v.origin(),
            };
            let same = |d: &Reference| {
                d.child == r.child
                    && d.child_columns == r.child_columns
                    && d.parent == r.parent
                    && d.parent_columns == r.parent_columns
                    && d.condition == r.condition
            };
            if !refs.iter().any(same) {
                refs.push(r);
            }
        }
        Ok(Self::from_refs(refs))
    }

    fn from_refs(refs: Vec<Reference>) -> Self {
        let mut by_child: HashMap<TableName, Vec<usize>> = HashMap::new();
        let mut by_parent: HashMap<TableName, Vec<usize>> = HashMap::new();
        for (i, r) in refs.iter().enumerate() {
            by_child.entry(r.child.clone()).or_default().push(i);
            by_parent.entry(r.parent.clone()).or_default().push(i);
        }
        Self { refs, by_child, by_parent }
    }

    /// Only the references whose child and parent are both among `tables`.
    pub fn within(&self, tables: &[&TableName]) -> Self {
        let keep: BTreeSet<&TableName> = tables.iter().copied().collect();
        Self::from_refs(
            self.refs.iter().filter(|r| keep.contains(&r.child) && keep.contains(&r.parent)).cloned().collect(),
        )
    }

    pub fn references(&self) -> &[Reference] {
        &self.refs
    }

    /// The references `table`'s rows make (edges up, to parents).
    pub fn parents_of<'g>(&'g self, table: &TableName) -> impl Iterator<Item = &'g Reference> + 'g {
        self.by_child.get(table).into_iter().flatten().map(|&i| &self.refs[i])
    }

    /// The references other rows make to `table` (edges down, from children).
    pub fn children_of<'g>(&'g self, table: &TableName) -> impl Iterator<Item = &'g Reference> + 'g {
        self.by_parent.get(table).into_iter().flatten().map(|&i| &self.refs[i])
    }

    /// Every column holding values of `table.column`: the columns referencing it, the
    /// columns referencing those, and so on (composite references position by
    /// position; cycles end). Sorted; `table.column` itself is not included.
    pub fn referencing(&self, table: &TableName, column: &str) -> Vec<(TableName, String)> {
        let mut seen: BTreeSet<(TableName, String)> = BTreeSet::new();
        let mut todo = vec![(table.clone(), column.to_owned())];
        while let Some((t, c)) = todo.pop() {
            for r in self.children_of(&t) {
                for (pc, cc) in r.parent_columns.iter().zip(&r.child_columns) {
                    if pc == &c {
                        let next = (r.child.clone(), cc.clone());
                        if next != (table.clone(), column.to_owned()) && seen.insert(next.clone()) {
                            todo.push(next);
                        }
                    }
                }
            }
        }
        seen.into_iter().collect()
    }
}

fn any_nullable(t: &Table, cols: &[String]) -> bool {
    cols.iter().any(|c| t.column(c).is_none_or(|col| col.nullable))
}

/// The table a side names, with every column checked.
fn resolve<'s>(schema: &'s Schema, v: &VirtualRef, side: &Side) -> Result<&'s Table, Error> {
    let err = |message: String| Error::Config { file: v.file.clone(), line: v.line, message };
    let table = find_table(schema, &side.table).ok_or_else(|| {
        err(format!(
            "[references]: no table {} in the database (tables: {})",
            side.table_text(),
            crate::untrusted::shown(&schema.table_list(), 400)
        ))
    })?;
    for c in &side.columns {
        if table.column(c).is_none() {
            let known: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(err(format!(
                "[references]: table {} has no column {c} (columns: {})",
                table.name,
                crate::untrusted::shown(&known.join(", "), 400)
            )));
        }
    }
    Ok(table)
}

/// `name` in the search path (or `schema.name`), exactly, else ignoring case when
/// that names one table.
pub fn find_table<'s>(schema: &'s Schema, parts: &[String]) -> Option<&'s Table> {
    let wanted = |t: &Table, exact: bool| {
        let eq = |a: &str, b: &str| if exact { a == b } else { a.eq_ignore_ascii_case(b) };
        match parts {
            [name] => {
                eq(&t.name.name, name)
                    && (t.name.schema.is_empty()
                        || t.name.schema == "public"
                        || schema.search_path.iter().any(|s| s == &t.name.schema))
            }
            [s, name] => eq(&t.name.schema, s) && eq(&t.name.name, name),
            _ => false,
        }
    };
    let exact: Vec<&Table> = schema.tables.iter().filter(|t| wanted(t, true)).collect();
    if let [one] = exact.as_slice() {
        return Some(one);
    }
    if let Some(first) = exact.iter().find(|t| {
        // Several schemas of the search path hold it: the first one wins, as in SQL.
        schema.search_path.first().is_some_and(|s| &t.name.schema == s)
    }) {
        return Some(first);
    }
    let loose: Vec<&Table> = schema.tables.iter().filter(|t| wanted(t, false)).collect();
    if let [one] = loose.as_slice() { Some(one) } else { None }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::db::schema::ForeignKey;
    use crate::db::schema::test_support::int_table;

    fn table(name: &str, cols: &[(&str, bool)], fks: &[(&[&str], &str, &[&str])]) -> Table {
        let mut t = int_table("public", name, cols);
        t.foreign_keys = fks
            .iter()
            .map(|(cols, parent, pcols)| ForeignKey {
                name: format!("{name}_{}_fkey", cols.join("_")),
                columns: cols.iter().map(|c| (*c).to_owned()).collect(),
                ref_table: TableName::new("public", *parent),
                ref_columns: pcols.iter().map(|c| (*c).to_owned()).collect(),
                deferrable: false,
                period: false,
            })
            .collect();
        t
    }

    fn schema() -> Schema {
        let users = table(
            "users",
            &[("id", false), ("tenant", false), ("manager_id", true)],
            &[(&["manager_id"], "users", &["id"])],
        );
        let posts = table("posts", &[("id", false), ("author_id", false)], &[(&["author_id"], "users", &["id"])]);
        let comments = table("comments", &[("id", false), ("post_id", true), ("kind", true)], &[]);
        let memberships = table(
            "memberships",
            &[("id", false), ("tenant", false), ("user_id", false)],
            &[(&["tenant", "user_id"], "users", &["tenant", "id"])],
        );
        Schema {
            tables: vec![users, posts, comments, memberships],
            search_path: vec!["public".into()],
            ..Schema::default()
        }
    }

    fn virtual_ref(child: &str, parent: &str) -> VirtualRef {
        VirtualRef {
            child: Side::parse(child).unwrap(),
            parent: Side::parse(parent).unwrap(),
            condition: None,
            file: "seed.toml".into(),
            line: 7,
        }
    }

    #[test]
    fn declared_and_virtual_edges_both_ways() {
        let g = Graph::new(&schema(), &[virtual_ref("comments.post_id", "posts.id")]).unwrap();
        let posts = TableName::new("public", "posts");
        let parents: Vec<String> = g.parents_of(&posts).map(Reference::describe).collect();
        assert_eq!(parents, ["posts(author_id) -> users(id)"]);
        let children: Vec<(String, bool, bool, String)> =
            g.children_of(&posts).map(|r| (r.describe(), r.declared, r.nullable, r.origin.clone())).collect();
        assert_eq!(children, [("comments(post_id) -> posts(id)".to_owned(), false, true, "seed.toml:7".to_owned())]);
        let users = TableName::new("public", "users");
        let mut kids: Vec<String> = g.children_of(&users).map(|r| r.child.name.clone()).collect();
        kids.sort();
        assert_eq!(kids, ["memberships", "posts", "users"]);
        // A virtual reference repeating a foreign key adds nothing.
        let again = Graph::new(&schema(), &[virtual_ref("posts.author_id", "users.id")]).unwrap();
        assert_eq!(again.references().len(), 3);
        // Restricted to some tables.
        let only = g.within(&[&posts, &TableName::new("public", "comments")]);
        assert_eq!(only.references().len(), 1);
    }

    #[test]
    fn referencing_is_transitive_and_positional() {
        let g = Graph::new(&schema(), &[virtual_ref("comments.post_id", "posts.author_id")]).unwrap();
        let users = TableName::new("public", "users");
        let names: Vec<String> = g.referencing(&users, "id").iter().map(|(t, c)| format!("{}.{c}", t.name)).collect();
        assert_eq!(names, ["comments.post_id", "memberships.user_id", "posts.author_id", "users.manager_id"]);
        let tenant: Vec<String> =
            g.referencing(&users, "tenant").iter().map(|(t, c)| format!("{}.{c}", t.name)).collect();
        assert_eq!(tenant, ["memberships.tenant"]);
    }

    #[test]
    fn unknown_tables_and_columns_name_the_line() {
        for (child, parent, expect) in [
            ("comment.post_id", "posts.id", "seed.toml:7: [references]: no table comment in the database"),
            ("comments.postid", "posts.id", "seed.toml:7: [references]: table comments has no column postid"),
            ("comments.post_id", "public.post.id", "no table public.post"),
        ] {
            let e = Graph::new(&schema(), &[virtual_ref(child, parent)]).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(expect), "{e}");
        }
        // Qualified and case-insensitive names resolve.
        let v = VirtualRef { file: Path::new("f.toml").into(), ..virtual_ref("public.Comments.post_id", "POSTS.id") };
        assert_eq!(Graph::new(&schema(), &[v]).unwrap().references().len(), 4);
    }
}
