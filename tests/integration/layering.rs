//! The house rules that the compiler does not check: no two source files
//! import each other (a cycle means one concept split across files, or two
//! concepts knotted together), and the storage crates know nothing of
//! audio or HTTP. ARCHITECTURE.md describes the one-way flow these enforce.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `a/b.rs` → [a, b]; `a/mod.rs` and `lib.rs` name their folder.
fn module_of(root: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut m: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(m.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        m.pop();
    }
    m
}

/// The source without its unit-test module (tests may reach anywhere).
fn without_tests(src: &str) -> &str {
    src.find("#[cfg(test)]\nmod tests").map_or(src, |i| &src[..i])
}

/// Module-to-module imports of one crate, from `crate::…` and `super::…` paths.
fn imports(root: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files.iter().map(|f| (module_of(root, f), f.clone())).collect();
    let mut edges = BTreeMap::new();
    for (m, f) in &modules {
        let src = std::fs::read_to_string(f).unwrap();
        let is_dir = matches!(
            f.file_name().and_then(|n| n.to_str()),
            Some("mod.rs" | "lib.rs" | "main.rs")
        );
        let mut to = BTreeSet::new();
        let text = without_tests(&src);
        for (i, _) in text.match_indices("crate::").chain(text.match_indices("super::")) {
            if i > 0 && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue; // `sonica_index::…`, or the `super` of `super::super`
            }
            let path: Vec<&str> = text[i..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .collect();
            let mut cur: Module = if path[0] == "crate" {
                Vec::new()
            } else if is_dir {
                m.clone()
            } else {
                m[..m.len().saturating_sub(1)].to_vec()
            };
            let mut rest = &path[1..];
            if path[0] == "super" {
                while rest.first() == Some(&"super") {
                    cur.pop();
                    rest = &rest[1..];
                }
            }
            let full: Module = cur.into_iter().chain(rest.iter().map(|s| s.to_string())).collect();
            if let Some(target) = (1..=full.len())
                .rev()
                .map(|k| full[..k].to_vec())
                .find(|k| modules.contains_key(k))
            {
                // A module naming its own ancestors (re-exports) is not an import between files.
                if &target != m && !m.starts_with(&target) {
                    to.insert(target);
                }
            }
        }
        edges.insert(m.clone(), to);
    }
    edges
}

#[test]
fn no_two_files_import_each_other() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cycles = Vec::new();
    for root in ["src", "index/src", "schema/src", "tools/reindex/src"] {
        let edges = imports(&here.join(root));
        assert!(edges.len() > 3, "{root}: no modules found");
        for (a, tos) in &edges {
            for b in tos {
                if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                    cycles.push(format!("{root}: {} <-> {}", a.join("::"), b.join("::")));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_finder_sees_a_planted_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lib.rs"), "mod a;\nmod b;\nmod c;\n").unwrap();
    std::fs::write(d.join("a.rs"), "use crate::b::B;\npub struct A;\n").unwrap();
    std::fs::write(d.join("b.rs"), "use super::a::A;\npub struct B;\n").unwrap();
    std::fs::write(d.join("c.rs"), "use crate::a::A;\n").unwrap();
    let e = imports(d);
    let m = |s: &str| vec![s.to_string()];
    assert!(e[&m("a")].contains(&m("b")) && e[&m("b")].contains(&m("a")));
    assert!(!e[&m("a")].contains(&m("c")));
}

#[test]
fn the_storage_crates_know_no_audio_and_no_http() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for root in ["index/src", "schema/src"] {
        let mut files = Vec::new();
        rust_files(&here.join(root), &mut files);
        for f in files {
            let src = std::fs::read_to_string(&f).unwrap();
            for banned in ["symphonia", "rubato", "rustfft", "actix", "sonica::"] {
                assert!(!src.contains(banned), "{} mentions {banned}", f.display());
            }
        }
    }
}
