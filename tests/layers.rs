//! The layering of `src/` (docs/ARCHITECTURE.md): which top-level module may
//! import which. Every `crate::MODULE` path in `src/**/*.rs` (grouped
//! `use crate::{a, b}` included) is an edge from the file's top-level module;
//! `#[cfg(test)]` module bodies, files declared `#[cfg(test)] mod x;` and
//! `//` comments are left out. An edge not in [`ALLOWED`] fails naming its
//! file and line, a module not in the list fails, and so does a cycle.
//! Outside `src/state/`, a line that names `rusqlite` or holds a word of SQL
//! fails too, naming its file and line: every statement is a store method.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each module and the modules it may import. A new module is added here in
/// the same commit that creates it. Keep it a DAG (bottom to top).
const ALLOWED: &[(&str, &[&str])] = &[
    ("money", &[]),
    ("paths", &[]),
    ("metrics", &[]),
    ("problem", &["paths"]),
    ("normalize", &[]),
    ("dates", &[]),
    ("columns", &[]),
    ("fsutil", &[]),
    ("faults", &["paths"]),
    ("entry_number", &[]),
    ("sources", &["paths", "fsutil"]),
    ("retry", &["sources"]),
    ("config", &["sources", "paths", "problem", "entry_number"]),
    ("telemetry", &["config"]),
    (
        "state",
        &[
            "config",
            "money",
            "dates",
            "paths",
            "problem",
            "entry_number",
        ],
    ),
    ("job", &["config", "state", "columns", "paths", "problem"]),
    (
        "manifest",
        &["job", "columns", "normalize", "money", "paths", "problem"],
    ),
    ("duty", &["money", "normalize"]),
    (
        "policy",
        &["duty", "money", "paths", "normalize", "problem"],
    ),
    ("entries", &["policy", "money"]),
    (
        "engine",
        &[
            "state",
            "policy",
            "duty",
            "entries",
            "job",
            "manifest",
            "config",
            "money",
            "columns",
            "normalize",
            "dates",
            "faults",
            "paths",
            "fsutil",
        ],
    ),
    (
        "app",
        &[
            "config", "policy", "job", "sources", "state", "metrics", "retry", "problem", "fsutil",
            "paths",
        ],
    ),
    (
        "outputs",
        &[
            "app", "state", "sources", "retry", "engine", "job", "columns", "money", "dates",
            "paths", "fsutil",
        ],
    ),
    (
        "audit",
        &[
            "app", "outputs", "state", "job", "manifest", "policy", "engine", "columns", "dates",
            "paths", "problem", "fsutil",
        ],
    ),
    (
        "intake",
        &[
            "app", "audit", "outputs", "engine", "state", "sources", "job", "manifest", "metrics",
            "paths", "retry", "faults", "fsutil", "policy", "problem",
        ],
    ),
    (
        "filing",
        &[
            "app",
            "state",
            "engine",
            "entries",
            "job",
            "manifest",
            "money",
            "policy",
            "sources",
            "config",
            "normalize",
            "columns",
            "dates",
            "faults",
            "retry",
            "entry_number",
            "paths",
            "fsutil",
        ],
    ),
    (
        "reports",
        &[
            "app", "audit", "outputs", "state", "engine", "duty", "job", "money", "paths",
            "problem", "sources", "retry", "faults", "fsutil", "config", "columns", "dates",
        ],
    ),
    (
        "jobs",
        &[
            "app", "intake", "filing", "reports", "audit", "outputs", "state", "job", "metrics",
            "faults", "paths", "fsutil",
        ],
    ),
    (
        "acesim",
        &[
            "filing",
            "policy",
            "sources",
            "normalize",
            "fsutil",
            "entry_number",
            "money",
            "paths",
            "config",
        ],
    ),
    (
        "daemon",
        &[
            "app", "jobs", "reports", "audit", "state", "metrics", "config", "job", "paths",
            "problem", "fsutil",
        ],
    ),
    ("cli", &["job", "manifest", "state"]),
    (
        "commands",
        &[
            "cli",
            "app",
            "jobs",
            "daemon",
            "intake",
            "filing",
            "reports",
            "audit",
            "outputs",
            "acesim",
            "engine",
            "state",
            "config",
            "job",
            "manifest",
            "policy",
            "sources",
            "telemetry",
            "paths",
            "problem",
            "retry",
            "fsutil",
            "money",
            "columns",
            "dates",
            "entry_number",
        ],
    ),
];

/// One `crate::MODULE` use: where, and which module.
struct Use {
    file: String,
    line: usize,
    to: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("src/ lists")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The byte ranges of `#[cfg(test)] mod NAME { ... }` bodies, and the names
/// of `#[cfg(test)] mod NAME;` declarations.
fn test_modules(text: &str) -> (Vec<(usize, usize)>, Vec<String>) {
    let bytes = text.as_bytes();
    let (mut bodies, mut files) = (Vec::new(), Vec::new());
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        let mut i = start + "#[cfg(test)]".len();
        let skip_ws = |i: &mut usize| {
            while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
                *i += 1;
            }
        };
        skip_ws(&mut i);
        // Other attributes between `#[cfg(test)]` and `mod`.
        while text[i..].starts_with("#[") {
            i = text[i..].find(']').map_or(bytes.len(), |e| i + e + 1);
            skip_ws(&mut i);
        }
        if text[i..].starts_with("pub ") {
            i += "pub ".len();
            skip_ws(&mut i);
        }
        if !text[i..].starts_with("mod ") {
            from = i;
            continue;
        }
        i += "mod ".len();
        skip_ws(&mut i);
        let name_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let name = text[name_start..i].to_owned();
        skip_ws(&mut i);
        match bytes.get(i) {
            Some(b';') => {
                files.push(name);
                from = i + 1;
            }
            Some(b'{') => {
                let mut depth = 1;
                let mut j = i + 1;
                while depth > 0 && j < bytes.len() {
                    match bytes[j] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                bodies.push((start, j));
                from = j;
            }
            _ => from = i,
        }
    }
    (bodies, files)
}

/// The file a `mod NAME;` declared in `file` lives in.
fn module_file(file: &Path, name: &str) -> Vec<PathBuf> {
    let dir = file.parent().expect("a parent");
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = if matches!(stem, "mod" | "lib" | "main") {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    vec![
        base.join(format!("{name}.rs")),
        base.join(name).join("mod.rs"),
    ]
}

/// The top-level module names a line's `crate::` paths name.
fn crate_paths(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        // `s321d_crate::x` or `mycrate::x` is not this crate.
        let before = &rest[..at];
        let is_word = before
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if is_word {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The first name of each item at the outer level of the group.
            let (mut depth, mut item_start) = (0, true);
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        if item_start && !name.is_empty() {
                            out.push(std::mem::take(&mut name));
                        }
                        item_start = true;
                        continue;
                    }
                    _ => {}
                }
                if item_start {
                    if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                    } else if !name.is_empty() || !c.is_whitespace() {
                        item_start = false;
                        out.push(std::mem::take(&mut name));
                    }
                }
            }
            if item_start && !name.is_empty() {
                out.push(name);
            }
            out.retain(|n| !n.is_empty());
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every top-level module and every `crate::` use of another one.
fn scan() -> (BTreeSet<String>, BTreeMap<String, Vec<Use>>) {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut skipped: BTreeSet<PathBuf> = BTreeSet::new();
    let mut texts = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
        let (bodies, decls) = test_modules(&text);
        for name in decls {
            skipped.extend(module_file(f, &name));
        }
        texts.push((f.clone(), text, bodies));
    }
    let mut modules = BTreeSet::new();
    let mut uses: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    for (f, text, bodies) in texts {
        let rel = f.strip_prefix(&src).expect("under src").to_path_buf();
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        modules.insert(top.clone());
        if skipped.contains(&f)
            || skipped
                .iter()
                .any(|s| s.ends_with("mod.rs") && f.starts_with(s.parent().expect("a parent")))
        {
            continue;
        }
        // Blank out test bodies, keeping line breaks so line numbers stay right.
        let mut kept = text.clone().into_bytes();
        for (a, b) in bodies {
            for byte in &mut kept[a..b] {
                if *byte != b'\n' {
                    *byte = b' ';
                }
            }
        }
        let kept = String::from_utf8_lossy(&kept).into_owned();
        for (n, line) in kept.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for to in crate_paths(code) {
                if to != top {
                    uses.entry(top.clone()).or_default().push(Use {
                        file: format!("src/{}", rel.display()),
                        line: n + 1,
                        to,
                    });
                }
            }
        }
    }
    (modules, uses)
}

fn allowed() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let mut map = BTreeMap::new();
    for (m, to) in ALLOWED {
        assert!(
            map.insert(*m, to.iter().copied().collect()).is_none(),
            "{m} is listed twice in ALLOWED"
        );
    }
    map
}

/// A cycle in `graph`, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_owned(), 1);
        stack.push(v.to_owned());
        for w in graph.get(v).into_iter().flatten() {
            match state.get(w.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(w, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let from = stack.iter().position(|s| s == w).expect("on the stack");
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(w.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(v.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for v in graph.keys() {
        if state.get(v.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(v, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_import_is_an_allowed_layer() {
    let allowed = allowed();
    let (modules, uses) = scan();
    let mut problems = Vec::new();
    for m in &modules {
        if !allowed.contains_key(m.as_str()) {
            problems.push(format!(
                "module {m} is not listed in ALLOWED (tests/layers.rs)"
            ));
        }
    }
    for m in allowed.keys() {
        if !modules.contains(*m) {
            problems.push(format!("ALLOWED lists {m}, which is not a module of src/"));
        }
    }
    for (from, list) in &uses {
        for u in list {
            if !modules.contains(&u.to) {
                continue; // `crate::` followed by something else (a macro, a keyword)
            }
            if !allowed
                .get(from.as_str())
                .is_some_and(|to| to.contains(u.to.as_str()))
            {
                problems.push(format!(
                    "{}:{}: {from} imports {}, which ALLOWED does not let it",
                    u.file, u.line, u.to
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_layers_have_no_cycle() {
    let declared: BTreeMap<String, BTreeSet<String>> = allowed()
        .into_iter()
        .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
        .collect();
    if let Some(c) = find_cycle(&declared) {
        panic!("ALLOWED has a cycle: {}", c.join(" -> "));
    }
    let (modules, uses) = scan();
    let found: BTreeMap<String, BTreeSet<String>> = uses
        .into_iter()
        .map(|(m, list)| {
            (
                m,
                list.into_iter()
                    .map(|u| u.to)
                    .filter(|t| modules.contains(t))
                    .collect(),
            )
        })
        .collect();
    if let Some(c) = find_cycle(&found) {
        panic!("the imports of src/ have a cycle: {}", c.join(" -> "));
    }
}

/// SQL written in upper case, as this crate writes it: what only a statement
/// (or a keyword of one inside a string) looks like.
const SQL_WORDS: &[&str] = &[
    "SELECT ",
    "INSERT INTO",
    "INSERT OR ",
    "UPDATE ",
    "DELETE FROM",
    "CREATE TABLE",
    "CREATE INDEX",
    "CREATE UNIQUE INDEX",
    "CREATE TRIGGER",
    "DROP TABLE",
    "ALTER TABLE",
    "PRAGMA ",
    "BEGIN IMMEDIATE",
    "ON CONFLICT",
];

/// What a line of code outside `src/state/` must not hold: a database
/// driver (`rusqlite`, `postgres::`), or a word of SQL (all SQL lives in the
/// store, scale-out section 2.1).
fn sql_outside_state(code: &str) -> Option<&'static str> {
    if code.contains("rusqlite") {
        return Some("rusqlite");
    }
    if code.contains("postgres::") {
        return Some("postgres::");
    }
    SQL_WORDS.iter().copied().find(|w| code.contains(w))
}

/// Every line of non-test code under `src/` but outside `src/state/`, with
/// its file (relative, `src/...`) and line number.
fn code_outside_state() -> Vec<(String, usize, String)> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut skipped: BTreeSet<PathBuf> = BTreeSet::new();
    let mut texts = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
        let (bodies, decls) = test_modules(&text);
        for name in decls {
            skipped.extend(module_file(f, &name));
        }
        texts.push((f.clone(), text, bodies));
    }
    let mut out = Vec::new();
    for (f, text, bodies) in texts {
        let rel = f.strip_prefix(&src).expect("under src").to_path_buf();
        if rel.starts_with("state")
            || skipped.contains(&f)
            || skipped
                .iter()
                .any(|s| s.ends_with("mod.rs") && f.starts_with(s.parent().expect("a parent")))
        {
            continue;
        }
        let mut kept = text.into_bytes();
        for (a, b) in bodies {
            for byte in &mut kept[a..b] {
                if *byte != b'\n' {
                    *byte = b' ';
                }
            }
        }
        let kept = String::from_utf8_lossy(&kept).into_owned();
        for (n, line) in kept.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            out.push((format!("src/{}", rel.display()), n + 1, code.to_owned()));
        }
    }
    out
}

#[test]
fn no_sql_and_no_rusqlite_outside_the_state_store() {
    let problems: Vec<String> = code_outside_state()
        .into_iter()
        .filter_map(|(file, line, code)| {
            sql_outside_state(&code).map(|what| {
                format!(
                    "{file}:{line}: `{what}` outside src/state/ (move the statement into a store method): {}",
                    code.trim()
                )
            })
        })
        .collect();
    assert!(
        problems.is_empty(),
        "SQL outside the store:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_sql_check_sees_statements_and_the_driver_but_not_prose() {
    assert_eq!(sql_outside_state("use rusqlite::params;"), Some("rusqlite"));
    assert_eq!(
        sql_outside_state(r#"c.query_row("SELECT body FROM audit_events", [], f)"#),
        Some("SELECT ")
    );
    assert_eq!(
        sql_outside_state(r#"let q = "INSERT INTO kv (key, value) VALUES (?1, ?2)";"#),
        Some("INSERT INTO")
    );
    assert_eq!(
        sql_outside_state("let select = ctx.db(|s| s.audit_head())?;"),
        None
    );
    assert!(
        code_outside_state()
            .iter()
            .all(|(f, _, _)| !f.starts_with("src/state/"))
    );
}

#[test]
fn the_scanner_reads_grouped_paths_and_skips_test_code() {
    assert_eq!(
        crate_paths("use crate::{app::App, state::{self, paths}};"),
        ["app", "state"]
    );
    assert_eq!(
        crate_paths("use crate::{money, dates};"),
        ["money", "dates"]
    );
    assert_eq!(
        crate_paths("let x = crate::paths::join(&[a]); crate::money::parse(b)"),
        ["paths", "money"]
    );
    assert!(crate_paths("use s321d_crate::x;").is_empty());
    let text =
        "use crate::a;\n#[cfg(test)]\nmod tests {\n    use crate::b;\n}\n#[cfg(test)]\nmod more;\n";
    let (bodies, files) = test_modules(text);
    assert_eq!(files, ["more"]);
    assert_eq!(bodies.len(), 1);
    assert!(
        text[bodies[0].0..bodies[0].1].contains("crate::b")
            && !text[bodies[0].0..bodies[0].1].contains("crate::a")
    );
}
