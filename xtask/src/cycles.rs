//! `cargo xtask cycles` (and a CI step): no import cycle among a crate's top-level modules.
//!
//! Reads every `crate::<module>` path (also inside `use crate::{a, b::c}` groups) in each
//! top-level module's files, test modules left out, and finds the strongly connected
//! components of that graph. A cycle fails the check unless it is exactly one listed in
//! [`KNOWN`], which may only shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::util::{root, Result};

/// Cycles still being untied, per crate source directory; each entry must match a found cycle
/// exactly (a cycle that grew or changed fails, one that is gone must be removed here).
/// Empty: the last one, core's `crypto` <-> `jwk`, went when the key material moved to its
/// own module and each backend began to define its own per-key state.
const KNOWN: &[(&str, &[&str])] = &[];

/// The crates whose module graphs are checked.
const CRATES: &[&str] = &[
    "core/src",
    "device/src",
    "host-sim/src",
    "tests/src",
    "benches/src",
    "xtask/src",
    "capi/src",
];

/// The `crate::<name>` module names `text` refers to, test modules removed.
pub fn referenced_modules(text: &str) -> BTreeSet<String> {
    // Everything from a `mod tests {` under a `#[cfg(..test..)]` line (`#[cfg(test)]`,
    // `#[cfg(all(test, feature = "x"))]`) on is test code (always last in a file).
    let text = text
        .match_indices("\nmod tests {")
        .find(|&(i, _)| {
            let line_start = text[..i].rfind('\n').map_or(0, |j| j + 1);
            let line = &text[line_start..i];
            line.starts_with("#[cfg(") && line.contains("test")
        })
        .map_or(text, |(i, _)| {
            let line_start = text[..i].rfind('\n').map_or(0, |j| j + 1);
            &text[..line_start]
        });
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        // `$crate::` inside a macro is not an import of this crate's module.
        let before = &rest[..i];
        let after = &rest[i + "crate::".len()..];
        rest = after;
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The cycles (strongly connected components of more than one module) of `edges`, each
/// sorted, in sorted order.
pub fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    fn visit(
        v: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        // An explicit stack: no recursion on the graph's depth.
        let mut stack = vec![(v.to_owned(), false)];
        while let Some((n, done)) = stack.pop() {
            if done {
                out.push(n);
                continue;
            }
            if !seen.insert(n.clone()) {
                continue;
            }
            stack.push((n.clone(), true));
            for w in g.get(&n).into_iter().flatten() {
                if !seen.contains(w) {
                    stack.push((w.clone(), false));
                }
            }
        }
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for v in edges.keys() {
        visit(v, edges, &mut seen, &mut order);
    }
    let mut rev: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in edges {
        rev.entry(a.clone()).or_default();
        for b in bs {
            rev.entry(b.clone()).or_default().insert(a.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for v in order.iter().rev() {
        if seen.contains(v) {
            continue;
        }
        let mut comp = Vec::new();
        visit(v, &rev, &mut seen, &mut comp);
        if comp.len() > 1 {
            comp.sort();
            found.push(comp);
        }
    }
    found.sort();
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module graph of one crate's source directory: top-level module -> modules it names.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(src) else {
        return BTreeMap::new();
    };
    for e in entries.flatten() {
        let p = e.path();
        let Some(stem) = p.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if p.extension().is_some_and(|x| x == "rs") && stem != "lib" && stem != "main" {
            modules.entry(stem.clone()).or_default().push(p.clone());
            let sub = src.join(&stem);
            if sub.is_dir() {
                rust_files(&sub, modules.entry(stem).or_default());
            }
        } else if p.is_dir() && p.join("mod.rs").is_file() {
            rust_files(&p, modules.entry(stem).or_default());
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (m, files) in &modules {
        let mut to = BTreeSet::new();
        for f in files {
            // Unit-test files are not part of the module's imports.
            if f.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(f).unwrap_or_default();
            to.extend(
                referenced_modules(&text)
                    .into_iter()
                    .filter(|t| t != m && names.contains(t)),
            );
        }
        edges.insert(m.clone(), to);
    }
    edges
}

pub fn check() -> Result {
    println!("==> no import cycles among top-level modules");
    let mut problems = Vec::new();
    for dir in CRATES {
        let found = cycles(&graph(&root().join(dir)));
        let known: Vec<Vec<String>> = KNOWN
            .iter()
            .filter(|(d, _)| d == dir)
            .map(|(_, c)| c.iter().map(|s| (*s).to_owned()).collect())
            .collect();
        for c in &found {
            if known.contains(c) {
                println!("    known, being untied: {dir}: {}", c.join(" <-> "));
            } else {
                problems.push(format!("{dir}: import cycle among {}", c.join(", ")));
            }
        }
        for k in &known {
            if !found.contains(k) {
                problems.push(format!(
                    "{dir}: the known cycle {} is gone: remove it from KNOWN in xtask/src/cycles.rs",
                    k.join(", ")
                ));
            }
        }
    }
    if problems.is_empty() {
        println!("    ok: no other import cycle in {}", CRATES.join(", "));
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(a, bs)| {
                (
                    (*a).to_owned(),
                    bs.iter().map(|b| (*b).to_owned()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn referenced_modules_reads_paths_and_groups_not_macros_or_tests() {
        let text = "use crate::alg::{Algorithm, Family};\n\
                    use crate::{b64, json::Value};\n\
                    let x = crate::rsa::MAX;\n\
                    macro_rules! m { () => { $crate::out::x() } }\n\
                    let y = mycrate::other;\n\
                    #[cfg(test)]\nmod tests { use crate::verify; }\n";
        let got: Vec<String> = referenced_modules(text).into_iter().collect();
        assert_eq!(got, ["alg", "b64", "json", "rsa"]);
        let gated = "use crate::alg;\n#[cfg(all(test, feature = \"signing\"))]\nmod tests {\n    use crate::ec;\n}\n";
        let got: Vec<String> = referenced_modules(gated).into_iter().collect();
        assert_eq!(got, ["alg"]);
    }

    #[test]
    fn cycles_finds_each_strongly_connected_component() {
        let edges = g(&[
            ("crypto", &["jwk", "rsa"]),
            ("jwk", &["crypto", "alg"]),
            ("rsa", &["alg"]),
            ("alg", &[]),
            ("a", &["b"]),
            ("b", &["c"]),
            ("c", &["a"]),
        ]);
        assert_eq!(
            cycles(&edges),
            vec![
                vec!["a".to_owned(), "b".into(), "c".into()],
                vec!["crypto".to_owned(), "jwk".into()],
            ]
        );
        assert!(cycles(&g(&[("x", &["y"]), ("y", &[])])).is_empty());
    }
}
