//! The code's layout rules (README, "Layout"): no product file over 450
//! lines, and no import cycle between the files of a crate — each file
//! uses only those below it. Read from the sources, no host needed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 450;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every crate's `src` directory under `crates/` and `components/`.
fn source_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for group in ["crates", "components"] {
        for entry in std::fs::read_dir(workspace().join(group)).unwrap() {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                dirs.push(src);
            }
        }
    }
    dirs.sort();
    dirs
}

/// A product file: not a file of unit tests.
fn product_files(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "rs") && name != "tests" && !name.ends_with("_tests") {
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

/// The sibling modules a file names through `crate::…`, outside comments
/// and its unit tests.
fn uses(text: &str, siblings: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = BTreeSet::new();
    for line in code.lines().map(str::trim_start).filter(|l| !l.starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let mut names = vec![rest];
            // `use crate::{a, b::C}`: each name in the braces.
            if let Some(inner) = rest.strip_prefix('{') {
                names = inner.split(',').map(str::trim).collect();
            }
            for name in names {
                let module: String = name
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if siblings.contains(&module) {
                    found.insert(module);
                }
            }
        }
    }
    found
}

#[test]
fn no_product_file_is_over_450_lines() {
    let mut long = Vec::new();
    for src in source_dirs() {
        for (name, text) in product_files(&src) {
            let lines = text.lines().count();
            if lines > MAX_LINES {
                long.push(format!("{}/{name}.rs: {lines} lines", src.display()));
            }
        }
    }
    assert!(long.is_empty(), "split these by what they hold:\n{}", long.join("\n"));
}

#[test]
fn no_file_of_a_crate_imports_one_that_imports_it_back() {
    let mut cycles = Vec::new();
    for src in source_dirs() {
        let files = product_files(&src);
        let siblings: BTreeSet<String> = files
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| name != "lib" && name != "main")
            .collect();
        let graph: BTreeMap<String, BTreeSet<String>> = files
            .iter()
            .filter(|(name, _)| siblings.contains(name))
            .map(|(name, text)| {
                let mut deps = uses(text, &siblings);
                deps.remove(name);
                (name.clone(), deps)
            })
            .collect();
        for start in graph.keys() {
            // Depth-first from `start`: reaching it again is a cycle.
            let mut stack = vec![(start.clone(), vec![start.clone()])];
            let mut seen = BTreeSet::new();
            while let Some((at, path)) = stack.pop() {
                for next in &graph[&at] {
                    if next == start {
                        cycles.push(format!("{}: {} -> {start}", src.display(), path.join(" -> ")));
                    } else if seen.insert(next.clone()) {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_sees_a_cycle() {
    let siblings: BTreeSet<String> = ["serve", "intake"].map(String::from).into();
    let serve = uses("use crate::intake::{self, Consumer};\n// crate::nothing", &siblings);
    let intake = uses("use crate::{serve::Call, event_transport};", &siblings);
    assert_eq!(serve, ["intake".to_owned()].into());
    assert_eq!(intake, ["serve".to_owned()].into());
    assert!(
        uses("#[cfg(test)]\nuse crate::serve;", &siblings).is_empty(),
        "tests may use anything"
    );
}
