//! Keys → actions. dive's bindings work (Ctrl+… keys a terminal can deliver), as do vim and arrow
//! keys. While browsing, in the viewer and in the packages view, one table ([`BINDINGS`], with the
//! user's changes) drives matching, the help overlay and the status bar, so what is shown is what
//! works; the input line, the help overlay, the image picker and compare/disk modes read a few
//! fixed keys (Enter, Esc, q, Tab, s and the table's moves), spelled out in `key_in`.

use std::borrow::Cow;

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
    /// The packages view is open.
    Packages,
    /// The image is still loading.
    Loading,
    /// Picking one of the archive's images.
    Picker,
    /// Compare or disk mode (`layerscope diff`, `layerscope df`): two lists, Tab between them.
    Lists,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every pane while browsing.
    Global,
    /// The layer list.
    Layers,
    /// The file tree.
    Tree,
    /// The wasted-space list.
    Waste,
    /// The file viewer.
    Viewer,
    /// The packages view.
    Packages,
}

/// A key as a terminal delivers it: a code, with Ctrl or without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Held with Ctrl.
    pub ctrl: bool,
}

const fn ch(c: char) -> Key {
    Key { code: KeyCode::Char(c), ctrl: false }
}

const fn ctl(c: char) -> Key {
    Key { code: KeyCode::Char(c), ctrl: true }
}

const fn code(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

impl Key {
    /// How the help and the status bar write it.
    pub fn name(self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift+Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            other => format!("{other:?}"),
        };
        if self.ctrl { format!("Ctrl+{base}") } else { base }
    }

    /// The short form of the status bar (`^L` for Ctrl+L).
    pub fn short(self) -> String {
        match self.code {
            KeyCode::Char(c) if self.ctrl && c != ' ' => format!("^{}", c.to_ascii_uppercase()),
            _ => self.name(),
        }
    }
}

/// One line of the key table: which keys do what, where. The table drives key matching, the
/// help overlay and the status-bar hints, so what is shown is what works.
#[derive(Clone, Debug)]
pub struct Binding {
    /// Where it applies.
    pub scope: Scope,
    /// The keys and the action each one asks for.
    pub keys: Cow<'static, [(Key, Action)]>,
    /// What they do, for the help.
    pub does: &'static str,
    /// The status-bar hint, when the binding has one: the panes it is shown in and its text.
    pub hint: Option<(&'static [Pane], &'static str)>,
}

impl Binding {
    /// The keys as the help writes them.
    pub fn key_names(&self) -> String {
        self.keys.iter().map(|(k, _)| k.name()).collect::<Vec<_>>().join(" ")
    }
}

const ALL_PANES: &[Pane] = &[Pane::Layers, Pane::Tree, Pane::Waste];
const LAYERS: &[Pane] = &[Pane::Layers];
const TREE: &[Pane] = &[Pane::Tree];
const WASTE: &[Pane] = &[Pane::Waste];
const LAYERS_AND_TREE: &[Pane] = &[Pane::Layers, Pane::Tree];

/// Every binding, in the order the help lists them and the status bar offers them.
pub const BINDINGS: &[Binding] = &[
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('q'), Action::Quit), (ctl('c'), Action::Quit)]),
        does: "quit",
        hint: Some((ALL_PANES, "quit")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(code(KeyCode::Tab), Action::FocusNext), (code(KeyCode::BackTab), Action::FocusPrev)]),
        does: "switch pane (layers, file tree, wasted space)",
        hint: Some((ALL_PANES, "switch")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('?'), Action::ToggleHelp)]),
        does: "this help",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('w'), Action::ShowWarnings)]),
        does: "the warnings found while reading the image",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('p'), Action::ShowPackages)]),
        does: "the packages view: every package's size and waste; Enter shows its files",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Up), Action::Up),
            (code(KeyCode::Down), Action::Down),
            (ch('k'), Action::Up),
            (ch('j'), Action::Down),
        ]),
        does: "move",
        hint: Some((LAYERS, "layer")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[
            (code(KeyCode::PageUp), Action::PageUp),
            (code(KeyCode::PageDown), Action::PageDown),
            (ch('u'), Action::PageUp),
            (ch('d'), Action::PageDown),
        ]),
        does: "move a page",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Home), Action::Top),
            (code(KeyCode::End), Action::Bottom),
            (ch('g'), Action::Top),
            (ch('G'), Action::Bottom),
        ]),
        does: "first / last",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('/'), Action::StartFilter), (ctl('f'), Action::StartFilter)]),
        does: "filter paths (a regex, or plain text when it is not one); Esc clears",
        hint: Some((LAYERS_AND_TREE, "filter")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(code(KeyCode::Esc), Action::ClearFilter)]),
        does: "clear the filter",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('n'), Action::NextMatch), (ch('N'), Action::PrevMatch)]),
        does: "next / previous path matching the filter",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ctl('l'), Action::ShowLayerChanges)]),
        does: "tree: what the selected layer changed",
        hint: Some((LAYERS, "layer changes")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ch('s'), Action::ToggleSort), (ctl('o'), Action::ToggleSort)]),
        does: "sort by name / by size",
        hint: Some((LAYERS_AND_TREE, "sort")),
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ctl('b'), Action::ToggleAttributes)]),
        does: "show / hide permission, owner and size columns",
        hint: None,
    },
    Binding {
        scope: Scope::Global,
        keys: Cow::Borrowed(&[(ctl('p'), Action::ToggleWrap)]),
        does: "wrap long lines in the tree",
        hint: None,
    },
    Binding {
        scope: Scope::Layers,
        keys: Cow::Borrowed(&[(ctl('a'), Action::ShowAggregatedChanges)]),
        does: "tree: everything layers 1..N changed (aggregated)",
        hint: Some((LAYERS, "aggregated")),
    },
    Binding {
        scope: Scope::Layers,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Enter), Action::Activate),
            (code(KeyCode::Right), Action::Right),
            (ch('l'), Action::Right),
        ]),
        does: "go to the file tree",
        hint: None,
    },
    Binding {
        scope: Scope::Layers,
        keys: Cow::Borrowed(&[(code(KeyCode::Left), Action::Left), (ch('h'), Action::Left)]),
        does: "go to the wasted-space list",
        hint: None,
    },
    Binding {
        scope: Scope::Waste,
        keys: Cow::Borrowed(&[(code(KeyCode::Up), Action::Up), (code(KeyCode::Down), Action::Down)]),
        does: "select",
        hint: Some((WASTE, "select")),
    },
    Binding {
        scope: Scope::Waste,
        keys: Cow::Borrowed(&[(code(KeyCode::Enter), Action::Activate)]),
        does: "on a source: list its paths (and show its fix); on a path: jump to the layer that shipped it",
        hint: Some((WASTE, "open / jump")),
    },
    Binding {
        scope: Scope::Waste,
        keys: Cow::Borrowed(&[(code(KeyCode::Left), Action::Left), (code(KeyCode::Right), Action::Right)]),
        does: "back to the layer list",
        hint: None,
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Left), Action::Left),
            (ch('h'), Action::Left),
            (code(KeyCode::Right), Action::Right),
            (ch('l'), Action::Right),
        ]),
        does: "collapse / expand, or go to parent / child",
        hint: None,
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[(ch(' '), Action::ToggleCollapse), (code(KeyCode::Enter), Action::Activate)]),
        does: "collapse / expand directory (Enter on a file: view it)",
        hint: Some((TREE, "fold")),
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[(ctl(' '), Action::ToggleCollapseAll)]),
        does: "collapse / expand all",
        hint: None,
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[
            (ch('A'), Action::ToggleChange(Change::Added)),
            (ch('R'), Action::ToggleChange(Change::Removed)),
            (ch('M'), Action::ToggleChange(Change::Modified)),
            (ch('T'), Action::ToggleChange(Change::MetadataOnly)),
            (ch('U'), Action::ToggleChange(Change::Unchanged)),
        ]),
        does: "show / hide added, removed, modified, metadata-only, unchanged",
        hint: Some((TREE, "kinds")),
    },
    // Most terminals send Ctrl+M as Enter, so dive's Ctrl+M works only where the terminal tells
    // them apart; the letters always work.
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[
            (ctl('a'), Action::ToggleChange(Change::Added)),
            (ctl('r'), Action::ToggleChange(Change::Removed)),
            (ctl('m'), Action::ToggleChange(Change::Modified)),
            (ctl('t'), Action::ToggleChange(Change::MetadataOnly)),
            (ctl('u'), Action::ToggleChange(Change::Unchanged)),
        ]),
        does: "the same, as in dive (most terminals send Ctrl+M as Enter: use M)",
        hint: None,
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[(ch('v'), Action::View)]),
        does: "view the file as it is in the selected layer",
        hint: Some((TREE, "view")),
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[(ch('x'), Action::StartExtract), (ctl('e'), Action::StartExtract)]),
        does: "extract file or directory to a folder",
        hint: Some((TREE, "extract")),
    },
    Binding {
        scope: Scope::Tree,
        keys: Cow::Borrowed(&[(ch('y'), Action::CopyPath)]),
        does: "copy the path (OSC 52)",
        hint: Some((TREE, "copy")),
    },
    Binding {
        scope: Scope::Viewer,
        keys: Cow::Borrowed(&[
            (ch('q'), Action::CloseOverlay),
            (code(KeyCode::Esc), Action::CloseOverlay),
            (ch('v'), Action::CloseOverlay),
        ]),
        does: "close",
        hint: Some((&[], "close")),
    },
    Binding {
        scope: Scope::Viewer,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Up), Action::Up),
            (code(KeyCode::Down), Action::Down),
            (code(KeyCode::PageUp), Action::PageUp),
            (code(KeyCode::PageDown), Action::PageDown),
        ]),
        does: "scroll",
        hint: Some((&[], "scroll")),
    },
    Binding {
        scope: Scope::Viewer,
        keys: Cow::Borrowed(&[
            (ch('g'), Action::Top),
            (ch('G'), Action::Bottom),
            (code(KeyCode::Home), Action::Top),
            (code(KeyCode::End), Action::Bottom),
        ]),
        does: "start / end",
        hint: Some((&[], "start / end")),
    },
    Binding {
        scope: Scope::Viewer,
        keys: Cow::Borrowed(&[(code(KeyCode::Left), Action::Left), (code(KeyCode::Right), Action::Right)]),
        does: "scroll long lines sideways",
        hint: Some((&[], "sideways")),
    },
    Binding {
        scope: Scope::Packages,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Esc), Action::CloseOverlay),
            (ch('q'), Action::CloseOverlay),
            (ch('p'), Action::CloseOverlay),
        ]),
        does: "close",
        hint: Some((&[], "close")),
    },
    Binding {
        scope: Scope::Packages,
        keys: Cow::Borrowed(&[
            (code(KeyCode::Up), Action::Up),
            (code(KeyCode::Down), Action::Down),
            (ch('k'), Action::Up),
            (ch('j'), Action::Down),
            (code(KeyCode::PageUp), Action::PageUp),
            (code(KeyCode::PageDown), Action::PageDown),
            (code(KeyCode::Home), Action::Top),
            (code(KeyCode::End), Action::Bottom),
        ]),
        does: "select",
        hint: Some((&[], "select")),
    },
    Binding {
        scope: Scope::Packages,
        keys: Cow::Borrowed(&[(ch('s'), Action::ToggleSort)]),
        does: "sort by size, wasted bytes or name",
        hint: Some((&[], "sort")),
    },
    Binding {
        scope: Scope::Packages,
        keys: Cow::Borrowed(&[(code(KeyCode::Enter), Action::Activate)]),
        does: "show only its files in the tree (Esc there shows every path again)",
        hint: Some((&[], "its files")),
    },
];

/// The key table in use: the defaults with the user's changes.
#[derive(Clone, Debug)]
pub struct Keymap {
    /// Every binding, in the table's order.
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap { bindings: BINDINGS.to_vec() }
    }
}

impl Keymap {
    /// The action for a key press in `mode`.
    pub fn key(&self, k: KeyEvent, mode: Mode) -> Option<Action> {
        key_in(&self.bindings, k, mode)
    }

    /// The status-bar hints in `mode` (a pane while browsing, the viewer, the packages view).
    pub fn hints(&self, mode: Mode) -> Vec<(String, &'static str)> {
        hints_in(&self.bindings, mode)
    }
}

/// The status-bar hints of the default table (see [`Keymap::hints`]).
pub fn hints(mode: Mode) -> Vec<(String, &'static str)> {
    hints_in(BINDINGS, mode)
}

fn hints_in(bindings: &[Binding], mode: Mode) -> Vec<(String, &'static str)> {
    let mut shown: Vec<(usize, &Binding)> = bindings
        .iter()
        .filter(|b| {
            let Some((panes, _)) = b.hint else { return false };
            match mode {
                Mode::Browse(p) => panes.contains(&p) && scope_applies(b.scope, mode),
                other => scope_applies(b.scope, other),
            }
        })
        .enumerate()
        .collect();
    // The ways around first (quit, switch, move: the table's first global hints), then what
    // this pane does, then what every pane does; the narrow status bar drops from the right.
    let rank = |(i, b): &(usize, &Binding)| match b.scope {
        Scope::Global if b.keys.iter().any(|(_, a)| matches!(a, Action::Quit | Action::FocusNext | Action::Up)) => {
            (0, *i)
        }
        Scope::Global => (2, *i),
        _ => (1, *i),
    };
    shown.sort_by_key(rank);
    shown.into_iter().filter_map(|(_, b)| b.hint.map(|(_, text)| (short_keys(b), text))).collect()
}

/// The hint's keys: both arrows for a move, the first key otherwise, letters run together
/// (`ARMTU`).
fn short_keys(b: &Binding) -> String {
    let keys: Vec<Key> = b.keys.iter().map(|(k, _)| *k).collect();
    if keys.len() > 2 && keys.iter().all(|k| matches!(k.code, KeyCode::Char(c) if c.is_ascii_uppercase()) && !k.ctrl) {
        return keys.iter().map(|k| k.short()).collect();
    }
    match keys.as_slice() {
        [a, b, ..] if a.code == KeyCode::Up && b.code == KeyCode::Down => "↑↓".into(),
        [a, b, ..] if a.code == KeyCode::Left && b.code == KeyCode::Right => "←→".into(),
        [a, b, ..] if matches!((a.code, b.code), (KeyCode::Char(x), KeyCode::Char(y)) if x != y && x.eq_ignore_ascii_case(&y)) =>
        {
            format!("{} {}", a.short(), b.short())
        }
        [a, b, ..] if a.code == KeyCode::Char('q') && b.code == KeyCode::Esc => "q Esc".into(),
        [a, ..] => a.short(),
        [] => String::new(),
    }
}

fn scope_applies(scope: Scope, mode: Mode) -> bool {
    matches!(
        (scope, mode),
        (Scope::Global, Mode::Browse(_))
            | (Scope::Layers, Mode::Browse(Pane::Layers))
            | (Scope::Tree, Mode::Browse(Pane::Tree))
            | (Scope::Waste, Mode::Browse(Pane::Waste))
            | (Scope::Viewer, Mode::Viewer)
            | (Scope::Packages, Mode::Packages)
    )
}

fn ctrl(k: &KeyEvent) -> bool {
    k.modifiers.contains(KeyModifiers::CONTROL)
}

/// The action of a key in the table for `mode`: the pane's own bindings first, then the global
/// ones.
fn from_table(bindings: &[Binding], k: &KeyEvent, mode: Mode) -> Option<Action> {
    let pressed = Key { code: k.code, ctrl: ctrl(k) };
    let lookup = |global: bool| {
        bindings
            .iter()
            .filter(|b| (b.scope == Scope::Global) == global && scope_applies(b.scope, mode))
            .flat_map(|b| b.keys.iter())
            .find(|(key, _)| *key == pressed)
            .map(|(_, action)| action.clone())
    };
    lookup(false).or_else(|| lookup(true))
}

/// The action for a key press in `mode`, with the default table.
pub fn key(k: KeyEvent, mode: Mode) -> Option<Action> {
    key_in(BINDINGS, k, mode)
}

fn key_in(bindings: &[Binding], k: KeyEvent, mode: Mode) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return None;
    }
    if ctrl(&k) && k.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Loading => matches!(k.code, KeyCode::Char('q') | KeyCode::Esc).then_some(Action::Quit),
        Mode::Lists => match k.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Char('s') => Some(Action::ToggleSort),
            KeyCode::Tab => Some(Action::FocusNext),
            KeyCode::BackTab => Some(Action::FocusPrev),
            _ => from_table(bindings, &k, Mode::Browse(Pane::Layers)).filter(|a| {
                matches!(
                    a,
                    Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
                )
            }),
        },
        Mode::Picker => match k.code {
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Enter => Some(Action::Activate),
            _ => from_table(bindings, &k, Mode::Browse(Pane::Layers)).filter(|a| {
                matches!(
                    a,
                    Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
                )
            }),
        },
        Mode::Input => match k.code {
            KeyCode::Enter => Some(Action::InputAccept),
            KeyCode::Esc => Some(Action::InputCancel),
            KeyCode::Backspace => Some(Action::InputBackspace),
            // Alt+key is not text (a terminal also sends Esc then a key that fast as Alt+key).
            KeyCode::Char(c) if !ctrl(&k) && !k.modifiers.contains(KeyModifiers::ALT) => Some(Action::Input(c)),
            _ => None,
        },
        // The help scrolls like a list and closes with the keys that opened or would close it.
        Mode::Help => match k.code {
            KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter => Some(Action::CloseOverlay),
            _ => from_table(bindings, &k, Mode::Browse(Pane::Layers)).filter(|a| {
                matches!(
                    a,
                    Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
                )
            }),
        },
        Mode::Viewer | Mode::Packages | Mode::Browse(_) => from_table(bindings, &k, mode),
    }
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
        assert_eq!(key(press(KeyCode::Char('q'), KeyModifiers::ALT), Mode::Input), None, "Alt+q is not text");
        assert_eq!(key(press(KeyCode::Char('j'), KeyModifiers::NONE), Mode::Browse(Pane::Tree)), Some(Action::Down));
    }
}
