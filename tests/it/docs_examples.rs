//! The documentation cannot drift from behaviour: every fenced block of README.md and
//! docs/*.md is either run here (info string `seed-test`) or marked `no-run: REASON`, and
//! both are counted, so no block is left out by accident. A runnable block is a console
//! transcript: each `$ ` line runs in `sh` (stderr joined to stdout) in a scratch directory
//! shared by the blocks of one page, with this build's `seed` first on PATH; the lines
//! below it, when there are any, are its expected output. `…` in an expected line matches
//! any text, a line that is only `…` any number of lines, and runs of blanks compare as
//! one. A `# exit N` comment on the command line is its expected exit code (else 0), and
//! `$ export NAME=VALUE` sets NAME for the page's later commands.
//! `db=postgres[:demo|:pagila]` or `db=mariadb[:sakila]` gives the block a fresh database
//! on the harness's server: its URL replaces a URL the example shows after
//! `DATABASE_URL=` or `--database-url`, and is exported as `DATABASE_URL`; `store=s3`
//! gives it a prefix of the harness's bucket (moto), which replaces every `s3://…`
//! location, and the AWS variables that reach it. A block with
//! `file=NAME` is a file the next blocks use, written into the page's directory (which
//! also holds the repository's `fixtures/` and `tests/fixtures/`); `fresh` starts the
//! page over in a new directory. Relative links
//! between the pages must lead to a page and a heading that exist.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::mariadb::MariaDb;
use crate::common::s3::Store;
use crate::common::{TestDb, Workdir, repo_path, shared_fixture};

/// Blocks run by this test, and blocks marked `no-run`. A change to either is a change
/// to what the documentation promises is tested: update the count after checking why.
const EXPECTED_RUN: usize = 26;
const EXPECTED_NO_RUN: usize = 26;

struct Block {
    page: PathBuf,
    line: usize,
    info: String,
    body: Vec<String>,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.page.strip_prefix(repo_path("")).unwrap_or(&self.page).display(), self.line)
    }

    /// `Ok(attributes)` for a runnable block, `Err(reason)` for a `no-run` one; a block
    /// with neither mark is a failure of its own.
    fn kind(&self) -> Result<Vec<&str>, String> {
        if let Some((_, reason)) = self.info.split_once("no-run:") {
            return Err(reason.trim().to_owned());
        }
        let words: Vec<&str> = self.info.split_whitespace().collect();
        assert!(
            words.contains(&"seed-test"),
            "{}: the block ```{} is neither `seed-test` nor `no-run: REASON`",
            self.at(),
            self.info
        );
        Ok(words)
    }
}

fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo_path("docs"))
        .expect("docs/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    pages.insert(0, repo_path("README.md"));
    pages
}

/// The fenced blocks of a page, with the fence's indentation taken off their lines.
fn blocks(page: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
    let mut out = Vec::new();
    let mut open: Option<(usize, usize, String, Vec<String>)> = None;
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        match open.take() {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((i + 1, indent, info.trim().to_owned(), Vec::new()));
                }
            }
            Some((start, ind, info, mut body)) => {
                if trimmed == "```" {
                    out.push(Block { page: page.to_owned(), line: start, info, body });
                } else {
                    body.push(line.get(ind.min(indent)..).unwrap_or_default().to_owned());
                    open = Some((start, ind, info, body));
                }
            }
        }
    }
    assert!(open.is_none(), "{}: a fence is not closed", page.display());
    out
}

/// One `$ ` command of a block, what it should print (None: not shown) and its exit code.
struct Step {
    command: String,
    expected: Option<Vec<String>>,
    code: i32,
}

fn steps(block: &Block) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in &block.body {
        if let Some(command) = line.strip_prefix("$ ") {
            let code = command
                .split_once("# exit ")
                .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
                .unwrap_or(0);
            steps.push(Step { command: command.to_owned(), expected: None, code });
        } else {
            let step = steps.last_mut().unwrap_or_else(|| panic!("{}: output before any `$ ` command", block.at()));
            step.expected.get_or_insert_with(Vec::new).push(line.clone());
        }
    }
    for s in &mut steps {
        if let Some(lines) = &mut s.expected {
            while lines.last().is_some_and(|l| l.trim().is_empty()) {
                lines.pop();
            }
        }
    }
    assert!(!steps.is_empty(), "{}: a seed-test block with no `$ ` command", block.at());
    steps
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `actual` against one expected line, `…` matching any text.
fn line_matches(pattern: &str, actual: &str) -> bool {
    let (pattern, actual) = (squeeze(pattern), squeeze(actual));
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() || !actual.ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Expected lines against actual ones; a line that is only `…` takes any number of lines.
fn lines_match(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.iter().all(|l| l.trim().is_empty()),
        Some((e, rest)) if e.trim() == "…" => (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..])),
        Some((e, rest)) => actual.split_first().is_some_and(|(a, more)| line_matches(e, a) && lines_match(rest, more)),
    }
}

/// The database a block asks for, kept alive while its commands run.
enum Db {
    None,
    Pg(TestDb),
    Maria(MariaDb),
}

impl Db {
    fn for_block(block: &Block, attrs: &[&str]) -> Db {
        let Some(spec) = attrs.iter().find_map(|a| a.strip_prefix("db=")) else { return Db::None };
        let tag = format!("docs_{}", block.line);
        match spec {
            "postgres" => Db::Pg(TestDb::new(&tag)),
            "postgres:demo" => Db::Pg(TestDb::with_demo_schema(&tag)),
            "postgres:northwind" => {
                let db = TestDb::new(&tag);
                db.load_file(&shared_fixture("northwind/northwind.sql"));
                Db::Pg(db)
            }
            "postgres:pagila" => {
                let db = TestDb::new(&tag);
                db.load_file(&shared_fixture("pagila/schema.sql"));
                db.load_file(&shared_fixture("pagila/data.sql"));
                Db::Pg(db)
            }
            "mariadb" => Db::Maria(MariaDb::new(&tag)),
            "mariadb:sakila" => Db::Maria(MariaDb::sakila(&tag)),
            other => panic!("{}: unknown db={other}", block.at()),
        }
    }

    fn url(&self) -> Option<String> {
        match self {
            Db::None => None,
            Db::Pg(db) => Some(db.url()),
            Db::Maria(db) => Some(db.url()),
        }
    }
}

/// The command with the example's database URL replaced by the harness's.
fn with_url(command: &str, url: &str) -> String {
    let mut out = Vec::new();
    let mut words = command.split(' ').peekable();
    while let Some(w) = words.next() {
        if w.starts_with("DATABASE_URL=") && w.contains("://") {
            out.push(format!("DATABASE_URL='{url}'"));
        } else if w == "--database-url" && words.peek().is_some_and(|v| v.contains("://")) {
            words.next();
            out.push(format!("--database-url '{url}'"));
        } else {
            out.push(w.to_owned());
        }
    }
    out.join(" ")
}

/// The command with every `s3://…` location replaced by the harness's bucket and prefix.
fn with_bucket(command: &str, url: &str) -> String {
    let mut out = String::new();
    let mut rest = command;
    while let Some(at) = rest.find("s3://") {
        out.push_str(&rest[..at]);
        out.push_str(url);
        rest = &rest[at..];
        rest = &rest[rest.find(|c: char| c.is_whitespace() || c == '\'' || c == '"').unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// Where a block's commands work besides its directory: a database, a bucket.
struct Place {
    db: Db,
    store: Option<Store<'static>>,
}

/// Variables a page's `$ export NAME=VALUE` lines set, for its later commands.
type PageEnv = std::collections::BTreeMap<String, String>;

fn run_step(dir: &Path, step: &Step, place: &Place, env: &mut PageEnv) -> (i32, String) {
    let url = place.db.url();
    let bin = Path::new(env!("CARGO_BIN_EXE_seed")).parent().unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut command = url.as_deref().map_or_else(|| step.command.clone(), |u| with_url(&step.command, u));
    if let Some(store) = &place.store {
        command = with_bucket(&command, &store.url());
    }
    // `export NAME=…` keeps NAME's value for the page: printed on a line of its own after
    // the command, then taken off the output.
    let exported = command.strip_prefix("export ").and_then(|rest| rest.split_once('=')).map(|(n, _)| n.to_owned());
    let script = match &exported {
        Some(name) => format!("exec 2>&1\n{command}\nprintf '\\n%s' \"${name}\""),
        None => format!("exec 2>&1\n{command}"),
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SEED_") || k.starts_with("PG") || k.starts_with("AWS_") || k.ends_with("DATABASE_URL") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("DIRECT_URL").env("PATH", path).env("NO_COLOR", "1").env("SEED_NO_PROGRESS", "1");
    if let Some(u) = url {
        cmd.env("DATABASE_URL", u);
    }
    cmd.envs(env.iter());
    if let Some(store) = &place.store {
        cmd.envs(store.vars());
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().expect("run sh");
    let reader = {
        let mut out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut out, &mut s).ok();
            s
        })
    };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().ok();
            panic!("`{command}` ran for over 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = reader.join().unwrap();
    if let Some(name) = exported {
        let (printed, value) = output.rsplit_once('\n').unwrap_or(("", &output));
        env.insert(name, value.to_owned());
        output = printed.to_owned();
    }
    (status.code().unwrap_or(-1), output)
}

fn run_block(dir: &Path, block: &Block, attrs: &[&str], env: &mut PageEnv) -> Vec<String> {
    if let Some(name) = attrs.iter().find_map(|a| a.strip_prefix("file=")) {
        std::fs::write(dir.join(name), block.body.join("\n") + "\n").unwrap();
        return Vec::new();
    }
    let store = attrs.contains(&"store=s3").then(|| Store::new(&format!("docs-{}", block.line)));
    let place = Place { db: Db::for_block(block, attrs), store };
    if place.db.url().is_some() {
        // An earlier block's `export DATABASE_URL=…` named that block's database.
        env.remove("DATABASE_URL");
    }
    let mut failures = Vec::new();
    for step in steps(block) {
        let (code, output) = run_step(dir, &step, &place, env);
        let lines: Vec<&str> = output.lines().collect();
        let output_ok = step.expected.as_ref().is_none_or(|e| lines_match(e, &lines));
        if code != step.code || !output_ok {
            failures.push(format!(
                "{}: `$ {}` exited {code} (documented: {}){}\n--- documented\n{}\n--- printed\n{}",
                block.at(),
                step.command,
                step.code,
                if output_ok { "" } else { ", and printed something else" },
                step.expected.as_deref().unwrap_or_default().join("\n"),
                output.trim_end()
            ));
            break;
        }
    }
    failures
}

/// A page's scratch directory: examples name the repository's files as a clone's root
/// holds them.
fn page_dir() -> (Workdir, PageEnv) {
    let dir = Workdir::new();
    std::os::unix::fs::symlink(repo_path("fixtures"), dir.path().join("fixtures")).unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::os::unix::fs::symlink(repo_path("tests/fixtures"), dir.path().join("tests/fixtures")).unwrap();
    (dir, PageEnv::new())
}

#[test]
fn every_block_is_run_or_marked_not_runnable_and_every_example_runs_as_documented() {
    let started = Instant::now();
    // Pages are independent (a directory and databases of their own): a few at a time,
    // those with the most to run (databases to load) first.
    let mut pages = pages();
    let weight = |p: &PathBuf| {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        text.matches("seed-test").count() + 4 * text.matches("seed-test db=").count()
    };
    pages.sort_by_key(|p| std::cmp::Reverse(weight(p)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<PageResult> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while let Some(page) = pages.get(next.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) {
                        done.push(run_page(page));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let (run, no_run) = results.iter().fold((0, 0), |(r, n), p| (r + p.run, n + p.no_run));
    for p in &results {
        eprintln!("  {}: {} run, {} no-run, {:.1?}", p.page, p.run, p.no_run, p.took);
    }
    eprintln!("docs examples: {run} run, {no_run} marked no-run, in {:.1?}", started.elapsed());
    let failures: Vec<&String> = results.iter().flat_map(|p| &p.failures).collect();
    let failures: Vec<&str> = failures.iter().map(|f| f.as_str()).collect();
    assert!(failures.is_empty(), "{} documented example(s) drifted:\n\n{}", failures.len(), failures.join("\n\n"));
    assert_eq!((run, no_run), (EXPECTED_RUN, EXPECTED_NO_RUN), "(runnable, no-run) blocks: update the counts");
}

struct PageResult {
    page: String,
    run: usize,
    no_run: usize,
    failures: Vec<String>,
    took: Duration,
}

fn run_page(page: &Path) -> PageResult {
    let started = Instant::now();
    let (mut run, mut no_run, mut failures) = (0, 0, Vec::new());
    let (mut dir, mut env) = page_dir();
    for block in blocks(page) {
        match block.kind() {
            Err(reason) => {
                assert!(!reason.is_empty(), "{}: `no-run:` needs a reason", block.at());
                no_run += 1;
            }
            Ok(attrs) => {
                run += 1;
                if attrs.contains(&"fresh") {
                    (dir, env) = page_dir();
                }
                failures.extend(run_block(dir.path(), &block, &attrs, &mut env));
            }
        }
    }
    let page = page.file_name().unwrap().to_string_lossy().into_owned();
    PageResult { page, run, no_run, failures, took: started.elapsed() }
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, blanks to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let mut fence = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
        } else if !fence && line.starts_with('#') {
            out.push(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn links_between_the_pages_lead_to_a_page_and_a_heading() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (_, rest) in text.match_indices("](").map(|(i, _)| text.split_at(i + 2)) {
            let target = rest.split(')').next().unwrap_or_default();
            if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            let (file, frag) = target.split_once('#').unwrap_or((target, ""));
            let file = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            if !file.exists() {
                broken.push(format!("{}: {target}: no such file", page.display()));
            } else if !frag.is_empty()
                && file.extension().is_some_and(|x| x == "md")
                && !anchors(&file).iter().any(|a| a == frag)
            {
                broken.push(format!("{}: {target}: no such heading", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_of_docs_opens_with_its_title_and_what_it_covers() {
    for page in pages().into_iter().skip(1) {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut lines = text.lines();
        assert!(lines.next().is_some_and(|l| l.starts_with("# ")), "{}: no title", page.display());
        assert_eq!(lines.next(), Some(""), "{}", page.display());
        let cover = lines.next().unwrap_or_default();
        assert!(!cover.is_empty() && !cover.starts_with('#'), "{}: no line saying what it covers", page.display());
    }
}

/// The README's first command is marked `no-run` (it builds seed in release mode), but
/// what it runs is run here: `seed bulk --count 10000` in an empty directory writes the
/// 40,000 rows its comment promises, applying the demo schema.
#[test]
fn the_readme_first_command_does_what_its_comment_says() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    let line = readme.lines().find(|l| l.starts_with("cargo run --release -- ")).expect("the first command");
    let (command, comment) = line.split_once('#').expect("a comment");
    assert!(comment.contains("40,000 rows into ./seed.db"), "{comment}");
    let args: Vec<&str> = command.trim().strip_prefix("cargo run --release -- ").unwrap().split_whitespace().collect();
    let w = Workdir::new();
    let out = w.run(&args, 0);
    assert!(out.contains("applied the demo schema") && out.contains("seeded 40,000 rows into 4 tables"), "{out}");
}
