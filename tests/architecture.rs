//! The crate's shape, checked: which module may use which (`crate::…` edges, one allowlist that
//! must stay free of cycles, so a back-edge fails CI), and the engine free of terminal code.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each top-level module may use, lowest first. The engine (everything above `tui`) never
/// uses `report`, `ci`, `tui` or `cli` unless listed here, and the list must not loop.
const ALLOWED: &[(&str, &[&str])] = &[
    // Shared by every module.
    ("text", &[]),
    ("units", &[]),
    ("dirs", &[]),
    ("limits", &[]),
    ("warning", &[]),
    ("error", &["text"]),
    // The engine: reading, then modelling, then judging and shaping.
    ("archive", &["error", "limits", "text"]),
    ("format", &["archive", "error", "limits", "text", "warning"]),
    ("layer", &["archive", "error", "format", "limits", "text", "warning"]),
    ("tree", &["archive", "error", "layer", "limits", "text", "warning"]),
    ("cache", &["archive", "dirs", "layer", "limits", "text", "tree", "warning"]),
    // A source is one more way to get an archive: it knows nothing of the image built from it.
    ("source", &["archive", "cache", "error", "format", "layer", "limits", "text", "warning"]),
    ("image", &["archive", "cache", "error", "format", "layer", "limits", "source", "text", "tree", "warning"]),
    ("extract", &["error", "image", "layer", "limits", "text", "tree"]),
    ("analysis", &["archive", "error", "format", "image", "layer", "limits", "text", "tree", "units", "warning"]),
    ("ci", &["analysis", "error", "image", "text", "units", "warning"]),
    ("report", &["analysis", "ci", "error", "format", "image", "layer", "source", "text", "tree", "units", "warning"]),
    // The edges: the explorer and the command line.
    (
        "tui",
        &[
            "analysis", "archive", "dirs", "error", "extract", "format", "image", "layer", "limits", "report",
            "source", "text", "tree", "units", "warning",
        ],
    ),
    (
        "cli",
        &[
            "analysis", "archive", "cache", "ci", "dirs", "error", "extract", "format", "image", "layer", "limits",
            "report", "source", "text", "tree", "tui", "units", "warning",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's text without comment lines (docs may name any module).
fn code(file: &Path) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules a file's code uses: `crate::NAME…`, each name of `use crate::{a, b::c}`,
/// and the crate root's re-exports (`crate::Error` is `error`'s).
fn used_modules(text: &str) -> BTreeSet<String> {
    let reexports = [("Error", "error"), ("Result", "error"), ("Image", "image"), ("Input", "archive")];
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A group: every path at its top level names a module.
            let body = &group[..group.find("};").unwrap_or(group.len())];
            let mut depth = 0;
            let mut start = true;
            for (k, c) in body.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && c.is_alphabetic() => {
                        let name: String = body[k..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        out.insert(name);
                        start = false;
                    }
                    _ => {}
                }
            }
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        match reexports.iter().find(|(item, _)| *item == name) {
            Some((_, module)) => out.insert(module.to_string()),
            None => out.insert(name),
        };
    }
    out
}

#[test]
fn each_module_uses_only_what_the_allowlist_lets_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel.components().next().unwrap().as_os_str().to_str().unwrap();
        let module = top.strip_suffix(".rs").unwrap_or(top);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(may) = allowed.get(module) else {
            problems.push(format!("src/{module} is not in tests/architecture.rs's ALLOWED list"));
            continue;
        };
        for used in used_modules(&code(&file)) {
            if used != module && !may.contains(&used.as_str()) {
                problems.push(format!("{} uses crate::{used}, which {module} may not", rel.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_allowlist_has_no_cycle_and_the_engine_never_uses_the_edges() {
    // Every module may use only modules listed before it: the list is an order, so no cycle.
    for (i, (module, may)) in ALLOWED.iter().enumerate() {
        for used in *may {
            let at = ALLOWED.iter().position(|(m, _)| m == used).unwrap_or_else(|| panic!("{used} is not listed"));
            assert!(at < i, "{module} may use {used}, listed after it: a cycle in waiting");
        }
    }
    for (module, may) in ALLOWED {
        if !["tui", "cli"].contains(module) {
            assert!(!may.contains(&"tui") && !may.contains(&"cli"), "{module} may not use the edges");
        }
        if !["report", "tui", "cli"].contains(module) {
            assert!(!may.contains(&"report"), "{module} may not use report");
        }
    }
}

#[test]
fn the_checker_sees_grouped_and_inline_uses() {
    let text =
        "use crate::{analysis::Cause, tree::{NodeId, Tree}};\nfn f() -> crate::Result<()> { crate::report::x() }";
    let used: Vec<String> = used_modules(text).into_iter().collect();
    assert_eq!(used, ["analysis", "error", "report", "tree"]);
}

#[test]
fn engine_modules_have_no_terminal_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let edge = ["main.rs", "cli.rs"];
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        if rel.starts_with("tui") || edge.iter().any(|e| rel == Path::new(e)) {
            continue;
        }
        let text = code(&file);
        for forbidden in ["ratatui", "crossterm", "println!", "eprintln!", "process::exit", "anyhow"] {
            assert!(!text.contains(forbidden), "{} uses {forbidden}", rel.display());
        }
    }
}

#[test]
fn the_explorer_state_never_reaches_into_its_views() {
    // Views borrow the state and draw; the state (and what changes it) never calls a view.
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    for entry in std::fs::read_dir(&tui).unwrap() {
        let file = entry.unwrap().path();
        if file.is_dir() || file.file_name().is_some_and(|n| n == "mod.rs") {
            continue;
        }
        for line in code(&file).lines() {
            assert!(
                !line.contains("view::") || line.contains("tree_view::") || line.contains("view::theme"),
                "{} uses a view: {line}",
                file.display()
            );
        }
    }
}
