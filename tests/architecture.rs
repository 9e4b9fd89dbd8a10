//! The engine stays free of terminal code: no ratatui, crossterm, printing or exiting outside the
//! binary, the CLI edge and the TUI.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
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
        // Doc examples may print; code may not.
        let text: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for forbidden in ["ratatui", "crossterm", "println!", "eprintln!", "process::exit", "anyhow"] {
            assert!(!text.contains(forbidden), "{} uses {forbidden}", rel.display());
        }
    }
}

#[test]
fn the_explorer_state_never_reaches_into_its_views() {
    // Views borrow the state and draw; the state (and what changes it) never calls a view.
    let tui = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
    for file in ["app.rs", "action.rs", "keymap.rs", "layout.rs", "tree_view.rs", "viewer.rs", "job.rs"] {
        let text = std::fs::read_to_string(tui.join(file)).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            assert!(
                !line.contains("view::") || line.contains("tree_view::") || line.contains("view::theme"),
                "src/tui/{file} uses a view: {line}"
            );
        }
    }
}
