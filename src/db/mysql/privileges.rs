//! `doctor` on MySQL/MariaDB: the user's privileges on the database (what bulk and
//! restore need: SELECT, INSERT, DELETE), `LOAD DATA LOCAL` availability, the engine
//! of each table (non-transactional ones are named), sql_mode and max_allowed_packet.

use std::collections::BTreeMap;

use serde_json::json;

use super::MySqlBackend;
use crate::db::backend::Privileges;
use crate::error::Error;

/// What a load needs on every table.
const NEEDED: [&str; 3] = ["SELECT", "INSERT", "DELETE"];

pub async fn check(db: &mut MySqlBackend) -> Result<Privileges, Error> {
    let step = db.step("reading privileges");
    let first = |rows: Vec<Vec<Option<String>>>| rows.into_iter().next().unwrap_or_default();
    let row = first(
        db.texts(
            "SELECT CURRENT_USER(), @@global.sql_mode, @@max_allowed_packet, @@local_infile, VERSION()".into(),
            &step,
        )
        .await?,
    );
    let get = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let (user, sql_mode, max_packet, local_infile) = (get(0), get(1), get(2), get(3) == "1");
    // SHOW GRANTS lists what CURRENT_USER() holds at every level (global, database,
    // table, column) and, on MariaDB, the grants of the role the session has enabled.
    let grants: Vec<Grant> = db
        .texts("SHOW GRANTS".into(), &step)
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter_map(|line| Grant::parse(&line))
        .collect();
    let database = db.database.clone();
    let engines = db
        .texts(
            "SELECT t.TABLE_NAME, t.ENGINE, e.TRANSACTIONS FROM information_schema.TABLES t
             LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE
             WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY 1"
                .into(),
            &step,
        )
        .await?;
    let tables: Vec<String> = engines.iter().filter_map(|r| r.first().cloned().flatten()).collect();
    let lacking = lacking(&grants, &database, &tables);
    let missing: Vec<&str> =
        NEEDED.iter().copied().filter(|p| lacking.iter().any(|(_, privs)| privs.contains(p))).collect();
    let mut by_engine: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut non_transactional = Vec::new();
    for r in &engines {
        let g = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        if g(2) != "YES" {
            non_transactional.push(format!("{} ({})", g(0), g(1)));
        }
        by_engine.entry(g(1)).or_default().push(g(0));
    }
    let engine_summary: Vec<String> = by_engine.iter().map(|(e, t)| format!("{e}: {}", t.len())).collect();
    let mut detail = format!(
        "{user}: {}; tables by engine: {}; server sql_mode {}; max_allowed_packet {}; LOAD DATA LOCAL {}",
        if lacking.is_empty() {
            format!("may {} on {database}", NEEDED.join(", "))
        } else {
            let each: Vec<String> = lacking.iter().map(|(on, privs)| format!("{} on {on}", privs.join(", "))).collect();
            format!("lacks {} (bulk and restore need {} on every table they write)", each.join("; "), NEEDED.join(", "))
        },
        if engine_summary.is_empty() { "none".to_owned() } else { engine_summary.join(", ") },
        if sql_mode.is_empty() { "(empty)".to_owned() } else { sql_mode.clone() },
        max_packet,
        if local_infile { "enabled on the server (seed does not use it)" } else { "disabled on the server" },
    );
    if !non_transactional.is_empty() {
        detail
            .push_str(&format!("; cannot roll back (bulk and restore refuse them): {}", non_transactional.join(", ")));
    }
    let ok = missing.is_empty() && non_transactional.is_empty();
    let data = json!({
        "user": user, "database": database, "missing": missing, "grants": grants.len(),
        "lacking": lacking.iter().map(|(on, privs)| json!({ "on": on, "privileges": privs })).collect::<Vec<_>>(),
        "engines": by_engine, "non_transactional": non_transactional, "sql_mode": sql_mode,
        "max_allowed_packet": max_packet.parse::<u64>().ok(), "local_infile": local_infile,
    });
    Ok(Privileges { ok, fatal: false, detail, data })
}

/// What one `GRANT privileges ON target TO grantee` line gives. Identifiers come quoted
/// with backticks or, under `ANSI_QUOTES` (seed's sessions), double quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Grant {
    /// Upper-case privilege names granted on whole tables (column grants are left out:
    /// a load writes every column). `ALL` stands for every privilege.
    privileges: Vec<String>,
    on: Target,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Global,
    /// A database-level grant: the name as a pattern (`_` and `%` are wildcards unless
    /// escaped with a backslash, as the server reads them).
    Database(String),
    Table {
        database: String,
        table: String,
    },
}

impl Grant {
    fn parse(line: &str) -> Option<Self> {
        let rest = strip_word(line.trim_start(), "GRANT")?;
        // Privileges end at ` ON ` outside parentheses (column lists hold names).
        let (mut depth, mut cut) = (0usize, None);
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                ' ' if depth == 0 && strip_word(&rest[i + 1..], "ON").is_some() => {
                    cut = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let cut = cut?;
        let privileges = split_top_level(&rest[..cut])
            .into_iter()
            .filter(|p| !p.contains('('))
            .map(|p| {
                let p = p.trim().to_ascii_uppercase();
                if p == "ALL PRIVILEGES" { "ALL".to_owned() } else { p }
            })
            .collect();
        let target = rest[cut + 4..].trim_start();
        let (first, after) = identifier(target)?;
        let after = after.strip_prefix('.')?;
        let on = if let Some(after_star) = after.strip_prefix('*') {
            strip_word(after_star.trim_start(), "TO")?;
            if first == "*" { Target::Global } else { Target::Database(first) }
        } else {
            let (table, after) = identifier(after)?;
            strip_word(after.trim_start(), "TO")?;
            Target::Table { database: first, table }
        };
        Some(Self { privileges, on })
    }

    fn gives(&self, privilege: &str) -> bool {
        self.privileges.iter().any(|p| p == privilege || p == "ALL")
    }
}

/// `word` at the start of `s` (any case), followed by a space or the end; the rest.
fn strip_word<'s>(s: &'s str, word: &str) -> Option<&'s str> {
    let head = s.get(..word.len())?;
    let rest = &s[word.len()..];
    (head.eq_ignore_ascii_case(word) && (rest.is_empty() || rest.starts_with(' '))).then(|| rest.trim_start())
}

/// `a, b (x, y), c` split at commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// One identifier: `*`, a bare word, or quoted with backticks or double quotes (a
/// doubled quote inside is one quote); the rest of the text.
fn identifier(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    let (_, first) = chars.next()?;
    if first == '*' {
        return Some(("*".to_owned(), &s[1..]));
    }
    if first == '`' || first == '"' {
        let mut out = String::new();
        let mut iter = s[1..].char_indices().peekable();
        while let Some((i, c)) = iter.next() {
            if c == first {
                if iter.peek().map(|(_, n)| *n) == Some(first) {
                    iter.next();
                    out.push(first);
                    continue;
                }
                return Some((out, &s[1 + i + c.len_utf8()..]));
            }
            out.push(c);
        }
        return None;
    }
    let end = s.find(|c: char| c == '.' || c.is_whitespace()).unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_owned(), &s[end..]))
}

/// Whether a database-level grant's pattern covers `name` (`_` one character, `%` any
/// run, `\_` and `\%` themselves).
fn database_matches(pattern: &str, name: &str) -> bool {
    let mut pieces = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => pieces.push(Some(chars.next().unwrap_or('\\'))),
            '_' => pieces.push(None),
            '%' => pieces.push(Some('\u{0}')),
            c => pieces.push(Some(c)),
        }
    }
    fn walk(p: &[Option<char>], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((Some('\u{0}'), rest)) => (0..=t.len()).any(|k| walk(rest, &t[k..])),
            Some((None, rest)) => !t.is_empty() && walk(rest, &t[1..]),
            Some((Some(c), rest)) => t.first() == Some(c) && walk(rest, &t[1..]),
        }
    }
    let text: Vec<char> = name.chars().collect();
    // Patterns are short and `%` rare: the recursion stays small.
    pieces.len() <= 64 && walk(&pieces, &text)
}

/// Where the needed privileges are missing: `(database, privileges)` when no table
/// exists yet, else `(database.table, privileges)` per table lacking any.
fn lacking(grants: &[Grant], database: &str, tables: &[String]) -> Vec<(String, Vec<&'static str>)> {
    let broad = |p: &str| {
        grants.iter().any(|g| {
            g.gives(p)
                && match &g.on {
                    Target::Global => true,
                    Target::Database(pattern) => database_matches(pattern, database),
                    Target::Table { .. } => false,
                }
        })
    };
    let on_table = |p: &str, t: &str| {
        grants
            .iter()
            .any(|g| g.gives(p) && matches!(&g.on, Target::Table { database: d, table } if d == database && table == t))
    };
    let short: Vec<&'static str> = NEEDED.iter().copied().filter(|p| !broad(p)).collect();
    if short.is_empty() {
        return Vec::new();
    }
    if tables.is_empty() {
        return vec![(database.to_owned(), short)];
    }
    tables
        .iter()
        .filter_map(|t| {
            let missing: Vec<&'static str> = short.iter().copied().filter(|p| !on_table(p, t)).collect();
            (!missing.is_empty()).then(|| (format!("{database}.{t}"), missing))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_lines() {
        let ok = |line: &str, p: &str, db: &str| {
            lacking(&[Grant::parse(line).unwrap()], db, &[]).iter().all(|(_, l)| !l.contains(&p))
        };
        assert!(ok("GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION", "DELETE", "x"));
        assert!(ok("GRANT SELECT, INSERT, DELETE ON `shop`.* TO `app`@`%`", "INSERT", "shop"));
        assert!(!ok("GRANT SELECT ON `shop`.* TO `app`@`%`", "INSERT", "shop"));
        assert!(!ok("GRANT USAGE ON *.* TO `app`@`%` IDENTIFIED BY PASSWORD '*X'", "SELECT", "shop"));
        assert!(ok("GRANT SELECT ON `my\\_db`.* TO `a`@`%`", "SELECT", "my_db"));
        assert!(!ok("GRANT SELECT ON `my\\_db`.* TO `a`@`%`", "SELECT", "myxdb"));
        // r19.7: seed's sessions run with ANSI_QUOTES, so the server quotes with "".
        assert!(ok("GRANT ALL PRIVILEGES ON \"sak\".* TO \"app\"@\"%\"", "DELETE", "sak"));
        // Unescaped _ and % are wildcards in a database-level grant.
        assert!(ok("GRANT ALL ON `app_%`.* TO `ci`@`%`", "INSERT", "app_test"));
        assert!(ok("GRANT ALL ON `app_%`.* TO `ci`@`%`", "INSERT", "appXtest"));
        assert!(!ok("GRANT ALL ON `app_%`.* TO `ci`@`%`", "INSERT", "ap"));
        // A role's grants (MariaDB lists the enabled role's) count like the user's.
        assert!(ok("GRANT DELETE ON `sak`.* TO `r1`", "DELETE", "sak"));
        // Role grants and proxies give no privileges on tables.
        assert_eq!(Grant::parse("GRANT `r1` TO `t2`@`%`"), None);
        assert_eq!(Grant::parse("GRANT PROXY ON ''@'%' TO 'a'@'%'"), None);
        // Column grants are not table grants; quoted names may hold dots and quotes.
        let g = Grant::parse("GRANT SELECT (`id`, `n`), INSERT ON `sak`.`staff` TO `t2`@`%`").unwrap();
        assert_eq!(g.privileges, ["INSERT"]);
        assert_eq!(g.on, Target::Table { database: "sak".into(), table: "staff".into() });
        let g = Grant::parse("GRANT SELECT ON \"a.b\".\"x\"\"y\" TO \"u\"@\"%\"").unwrap();
        assert_eq!(g.on, Target::Table { database: "a.b".into(), table: "x\"y".into() });
    }

    #[test]
    fn table_grants_are_read_per_table() {
        let grants: Vec<Grant> = [
            "GRANT SELECT, INSERT ON \"sak\".* TO \"t2\"@\"%\"",
            "GRANT SELECT (\"id\"), INSERT (\"id\") ON \"sak\".\"staff\" TO \"t2\"@\"%\"",
            "GRANT DELETE ON \"sak\".\"film\" TO \"t2\"@\"%\"",
        ]
        .iter()
        .filter_map(|l| Grant::parse(l))
        .collect();
        let tables = ["film".to_owned(), "staff".to_owned()];
        assert_eq!(lacking(&grants, "sak", &tables), vec![("sak.staff".to_owned(), vec!["DELETE"])]);
        assert_eq!(lacking(&grants, "sak", &[]), vec![("sak".to_owned(), vec!["DELETE"])]);
        assert!(database_matches("a%b%c", "axxbyyc") && !database_matches("a%b%c", "axxbyy"));
    }
}
