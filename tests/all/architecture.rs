//! The dependency directions ARCHITECTURE.md states, checked against the source, so a new
//! `use` that breaks them fails the suite rather than a reviewer's memory:
//!
//! - the core crate (`host/core`) depends on no wasmtime, sqlx, redis, tokio, axum or clap,
//!   directly or through another crate;
//! - no module of the library imports `cli`, and `cli` and `server` (the two edges) do
//!   not import each other;
//! - no module imports one that imports it back, at the top level of the library or among
//!   the files of one module.
//!
//! The check reads `crate::<module>` and `super::<module>` paths in the source text: the
//! codebase always names other modules that way (no glob re-exports of whole modules), so
//! that is the import graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn host_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Module path of a source file relative to `src`: `plugin/sandbox.rs` -> ["plugin",
/// "sandbox"], `plugin/mod.rs` -> ["plugin"], `lib.rs` -> [].
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_string());
    }
    parts
}

/// The identifiers that follow `prefix` (`crate::`, `super::`) in `text`, comments and
/// doc comments skipped.
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(index) = rest.find(prefix) {
            let after = &rest[index + prefix.len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                found.insert(name);
            }
            rest = after;
        }
    }
    found
}

/// Edges between the top-level modules of the library (`calendar`, `plan`, ... are the
/// core's and do not appear: they cannot import the library at all).
fn top_level_edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = host_dir().join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let module = module_path(&src, &file);
        let Some(top) = module.first() else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        let targets = edges.entry(top.clone()).or_default();
        for target in paths_after(&text, "crate::") {
            if &target != top {
                targets.insert(target);
            }
        }
    }
    edges
}

/// Edges among the files of one module directory (`plugin/runtime.rs` uses
/// `super::sandbox` -> runtime -> sandbox).
fn sibling_edges(module_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(module_dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(stem) = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()) else { continue };
        if path.extension().is_none_or(|extension| extension != "rs") || stem == "mod" || stem == "tests" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let targets = edges.entry(stem.clone()).or_default();
        for target in paths_after(&text, "super::") {
            if target != stem && module_dir.join(format!("{target}.rs")).exists() {
                targets.insert(target);
            }
        }
    }
    edges
}

/// Every cycle's members (strongly connected components of more than one node), by
/// Tarjan's algorithm.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let number = self.index.len();
            self.index.insert(node, number);
            self.low.insert(node, number);
            self.stack.push(node);
            self.on_stack.insert(node);
            let edges = self.edges;
            for next in edges.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(member) = self.stack.pop() {
                    self.on_stack.remove(member);
                    component.push(member.to_string());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    // The check below is only as good as this: a graph with a cycle must be reported.
    let edges: BTreeMap<String, BTreeSet<String>> =
        [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")].iter().fold(BTreeMap::new(), |mut edges, (from, to)| {
            edges.entry(from.to_string()).or_insert_with(BTreeSet::new).insert(to.to_string());
            edges
        });
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
    assert_eq!(paths_after("use crate::store::Store; // crate::cli", "crate::"), BTreeSet::from(["store".to_string()]));
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let edges = top_level_edges();
    assert!(edges.contains_key("plugin") && edges["load"].contains("store"), "the graph was not read: {edges:?}");
    assert_eq!(cycles(&edges), Vec::<Vec<String>>::new(), "import cycles between top-level modules");
    let src = host_dir().join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            let found = cycles(&sibling_edges(&dir));
            assert_eq!(found, Vec::<Vec<String>>::new(), "import cycles among the files of {}", dir.display());
        }
    }
}

#[test]
fn the_edges_import_only_the_library() {
    let edges = top_level_edges();
    for (module, targets) in &edges {
        if module != "cli" {
            assert!(!targets.contains("cli"), "{module} imports cli; shared request types belong in the library");
        }
    }
    assert!(!edges["server"].contains("cli"), "server imports cli");
    assert!(!edges["cli"].contains("server"), "cli imports server; serve's composition belongs in the library");
}

#[test]
fn the_core_crate_depends_on_no_adapter() {
    let output = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "-p", "tickstock-core", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .current_dir(host_dir())
        .output()
        .expect("running cargo tree");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("chrono"), "the tree was not read: {tree}");
    let crates: BTreeSet<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    for forbidden in ["wasmtime", "wasmtime-wasi", "sqlx", "redis", "tokio", "axum", "clap", "reqwest", "notify"] {
        assert!(!crates.contains(forbidden), "tickstock-core depends on {forbidden}");
    }
}
