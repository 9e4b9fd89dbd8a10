//! Keys → actions. dive's bindings work (Ctrl+… keys), as do vim and arrow keys; one table feeds
//! both the help overlay and the status bar, so what is shown is what works.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::action::{Action, Pane};
use crate::tree::Change;

/// What decides how a key is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Browsing, with this pane focused.
    Browse(Pane),
    /// Typing into an input line (filter, extract destination).
    Input,
    /// The help overlay is open.
    Help,
    /// The file viewer is open.
    Viewer,
    /// The image is still loading.
    Loading,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everywhere.
    Global,
    /// The layer list.
    Layers,
    /// The file tree.
    Tree,
    /// The wasted-space list.
    Waste,
    /// The file viewer.
    Viewer,
}

/// One line of help: keys, what they do, where.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The keys, as shown.
    pub keys: &'static str,
    /// What they do.
    pub does: &'static str,
}

/// Every binding, for the help overlay.
pub const BINDINGS: &[Binding] = &[
    Binding { scope: Scope::Global, keys: "q  Ctrl+C", does: "quit" },
    Binding { scope: Scope::Global, keys: "Tab  Shift+Tab", does: "switch pane (layers, file tree, wasted space)" },
    Binding { scope: Scope::Global, keys: "?", does: "this help" },
    Binding { scope: Scope::Global, keys: "w", does: "the warnings found while reading the image" },
    Binding { scope: Scope::Global, keys: "↑↓  j k", does: "move" },
    Binding { scope: Scope::Global, keys: "PgUp PgDn  u d", does: "move a page" },
    Binding { scope: Scope::Global, keys: "Home End  g G", does: "first / last" },
    Binding {
        scope: Scope::Global,
        keys: "/  Ctrl+F",
        does: "filter paths (regex, or plain text if not a regex); Esc clears",
    },
    Binding { scope: Scope::Global, keys: "n  N", does: "next / previous path matching the filter" },
    Binding { scope: Scope::Global, keys: "Ctrl+L", does: "tree: what the selected layer changed" },
    Binding { scope: Scope::Global, keys: "s  Ctrl+O", does: "sort by name / by size" },
    Binding { scope: Scope::Global, keys: "Ctrl+B", does: "show / hide permission, owner and size columns" },
    Binding { scope: Scope::Global, keys: "Ctrl+P", does: "wrap long lines in the tree" },
    Binding { scope: Scope::Layers, keys: "Ctrl+A", does: "tree: everything layers 1..N changed (aggregated)" },
    Binding { scope: Scope::Layers, keys: "Enter  → l", does: "go to the file tree" },
    Binding { scope: Scope::Tree, keys: "← h  → l", does: "collapse / expand, or go to parent / child" },
    Binding {
        scope: Scope::Tree,
        keys: "Space  Enter",
        does: "collapse / expand directory (Enter on a file: view it)",
    },
    Binding { scope: Scope::Tree, keys: "Ctrl+Space", does: "collapse / expand all" },
    Binding {
        scope: Scope::Tree,
        keys: "A R M T U",
        does: "show / hide added, removed, modified, metadata-only, unchanged",
    },
    // Terminals send Ctrl+M as Enter, so dive's Ctrl+M cannot work; its other keys do.
    Binding { scope: Scope::Tree, keys: "Ctrl+A R T U", does: "the same, as in dive (for modified: M)" },
    Binding { scope: Scope::Tree, keys: "v", does: "view the file as it is in the selected layer" },
    Binding { scope: Scope::Tree, keys: "x  Ctrl+E", does: "extract file or directory to a folder" },
    Binding { scope: Scope::Tree, keys: "y", does: "copy the path (OSC 52)" },
    Binding { scope: Scope::Waste, keys: "Enter", does: "jump to the layer and path that shipped it" },
    Binding { scope: Scope::Viewer, keys: "↑↓ PgUp PgDn g G", does: "scroll" },
    Binding { scope: Scope::Viewer, keys: "q  Esc  v", does: "close" },
];

/// The short key hints of the status bar for a pane.
pub fn hints(pane: Pane) -> &'static [(&'static str, &'static str)] {
    match pane {
        Pane::Layers => &[
            ("q", "quit"),
            ("Tab", "switch"),
            ("↑↓", "layer"),
            ("^L", "layer changes"),
            ("^A", "aggregated"),
            ("/", "filter"),
            ("s", "sort"),
            ("?", "help"),
        ],
        Pane::Tree => &[
            ("q", "quit"),
            ("Tab", "switch"),
            ("Space", "fold"),
            ("ARMTU", "kinds"),
            ("/", "filter"),
            ("s", "sort"),
            ("v", "view"),
            ("x", "extract"),
            ("y", "copy"),
            ("?", "help"),
        ],
        Pane::Waste => &[("q", "quit"), ("Tab", "switch"), ("↑↓", "select"), ("Enter", "jump to it"), ("?", "help")],
    }
}

/// The status bar's key hints while the file viewer is open.
pub const VIEWER_HINTS: &[(&str, &str)] = &[("q Esc", "close"), ("↑↓ PgUp PgDn", "scroll"), ("g G", "start / end")];

fn ctrl(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL)
}

/// The action for a key press in `mode`.
pub fn key(k: KeyEvent, mode: Mode) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if ctrl(&k) && k.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Loading => matches!(k.code, KeyCode::Char('q') | KeyCode::Esc).then_some(Action::Quit),
        Mode::Input => match k.code {
            KeyCode::Enter => Some(Action::InputAccept),
            KeyCode::Esc => Some(Action::InputCancel),
            KeyCode::Backspace => Some(Action::InputBackspace),
            KeyCode::Char(c) if !ctrl(&k) => Some(Action::Input(c)),
            _ => None,
        },
        Mode::Help => match k.code {
            KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter => Some(Action::CloseOverlay),
            _ => movement(&k),
        },
        Mode::Viewer => match k.code {
            KeyCode::Esc | KeyCode::Char('q' | 'v') => Some(Action::CloseOverlay),
            _ => movement(&k),
        },
        Mode::Browse(pane) => browse(k, pane),
    }
}

fn movement(k: &KeyEvent) -> Option<Action> {
    Some(match k.code {
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::PageUp | KeyCode::Char('u') => Action::PageUp,
        KeyCode::PageDown | KeyCode::Char('d') => Action::PageDown,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        _ => return None,
    })
}

fn browse(k: KeyEvent, pane: Pane) -> Option<Action> {
    if ctrl(&k) {
        let action = match k.code {
            KeyCode::Char('f') => Action::StartFilter,
            KeyCode::Char('l') => Action::ShowLayerChanges,
            KeyCode::Char('o') => Action::ToggleSort,
            KeyCode::Char('b') => Action::ToggleAttributes,
            KeyCode::Char('p') => Action::ToggleWrap,
            KeyCode::Char('a') if pane == Pane::Tree => Action::ToggleChange(Change::Added),
            KeyCode::Char('a') => Action::ShowAggregatedChanges,
            KeyCode::Char('r') if pane == Pane::Tree => Action::ToggleChange(Change::Removed),
            KeyCode::Char('m') if pane == Pane::Tree => Action::ToggleChange(Change::Modified),
            KeyCode::Char('t') if pane == Pane::Tree => Action::ToggleChange(Change::MetadataOnly),
            KeyCode::Char('u') if pane == Pane::Tree => Action::ToggleChange(Change::Unchanged),
            KeyCode::Char(' ') if pane == Pane::Tree => Action::ToggleCollapseAll,
            KeyCode::Char('e') if pane == Pane::Tree => Action::StartExtract,
            _ => return None,
        };
        return Some(action);
    }
    if let Some(m) = movement(&k) {
        return Some(m);
    }
    let action = match k.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('w') => Action::ShowWarnings,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Esc => Action::ClearFilter,
        KeyCode::Char('n') => Action::NextMatch,
        KeyCode::Char('N') => Action::PrevMatch,
        KeyCode::Char('s') => Action::ToggleSort,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::Enter => Action::Activate,
        KeyCode::Char(' ') if pane == Pane::Tree => Action::ToggleCollapse,
        KeyCode::Char('A') if pane == Pane::Tree => Action::ToggleChange(Change::Added),
        KeyCode::Char('R') if pane == Pane::Tree => Action::ToggleChange(Change::Removed),
        KeyCode::Char('M') if pane == Pane::Tree => Action::ToggleChange(Change::Modified),
        KeyCode::Char('T') if pane == Pane::Tree => Action::ToggleChange(Change::MetadataOnly),
        KeyCode::Char('U') if pane == Pane::Tree => Action::ToggleChange(Change::Unchanged),
        KeyCode::Char('v') if pane == Pane::Tree => Action::View,
        KeyCode::Char('x') if pane == Pane::Tree => Action::StartExtract,
        KeyCode::Char('y') if pane == Pane::Tree => Action::CopyPath,
        _ => return None,
    };
    Some(action)
}

/// The action for a mouse event.
pub fn mouse(m: MouseEvent) -> Option<Action> {
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => Some(Action::Click { column: m.column, row: m.row }),
        MouseEventKind::ScrollDown => Some(Action::Scroll { column: m.column, row: m.row, down: true }),
        MouseEventKind::ScrollUp => Some(Action::Scroll { column: m.column, row: m.row, down: false }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn dive_keys_depend_on_the_pane() {
        let ctrl_a = press(KeyCode::Char('a'), KeyModifiers::CONTROL);
        assert_eq!(key(ctrl_a, Mode::Browse(Pane::Layers)), Some(Action::ShowAggregatedChanges));
        assert_eq!(key(ctrl_a, Mode::Browse(Pane::Tree)), Some(Action::ToggleChange(Change::Added)));
        assert_eq!(key(press(KeyCode::Char('c'), KeyModifiers::CONTROL), Mode::Input), Some(Action::Quit));
        assert_eq!(key(press(KeyCode::Char('q'), KeyModifiers::NONE), Mode::Input), Some(Action::Input('q')));
        assert_eq!(key(press(KeyCode::Char('j'), KeyModifiers::NONE), Mode::Browse(Pane::Tree)), Some(Action::Down));
    }
}
