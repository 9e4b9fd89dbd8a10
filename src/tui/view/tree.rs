//! The file tree pane: a legend, attribute columns, and the rows in view, coloured by change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use super::{clean, cut};
use crate::layer::EntryKind;
use crate::report::human_bytes;
use crate::tree::{Change, IMPLICIT_DIR_MODE, State, Tree};
use crate::tui::action::Pane;
use crate::tui::app::Explorer;
use crate::tui::layout::{Columns, Panes};
use crate::tui::tree_view::{Row, SortMode, TreeMode, display_state, is_dir};

/// `drwxr-xr-x` with s/S/t/T for setuid, setgid and sticky.
pub fn permissions(kind: EntryKind, mode: u32) -> String {
    let t = match kind {
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Char => 'c',
        EntryKind::Block => 'b',
        EntryKind::Fifo => 'p',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |m: u32, x: u32, set: char, unset: char, plain: char| match (mode & m != 0, mode & x != 0) {
        (true, true) => set,
        (true, false) => unset,
        (false, true) => plain,
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(0o4000, 0o100, 's', 'S', 'x'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(0o2000, 0o010, 's', 'S', 'x'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(0o1000, 0o001, 't', 'T', 'x'));
    s
}

/// One row as (attributes and tree guides, name and link target).
pub fn row_text(e: &Explorer, rows: &[Row], index: usize, columns: Columns) -> (String, String) {
    let tree = &e.image.tree;
    let row = rows[index];
    let mut text = String::new();
    match columns {
        Columns::All => text.push_str(&attribute_columns(tree, e, row)),
        Columns::Size => text.push_str(&format!("{:>9}  ", human_bytes(e.marks.size(row.node)))),
        Columns::None => {}
    }
    // Ancestors' guides, outermost first.
    let mut guides = Vec::new();
    let mut p = row.parent_row;
    while p != u32::MAX {
        let r = rows[p as usize];
        guides.push(if r.last { "    " } else { "│   " });
        p = r.parent_row;
    }
    for g in guides.iter().rev() {
        text.push_str(g);
    }
    let collapsed = e.is_collapsed(row.node) && e.marks.has_shown_children(row.node);
    text.push_str(match (row.last, collapsed) {
        (false, false) => "├── ",
        (true, false) => "└── ",
        (false, true) => "├─⊕ ",
        (true, true) => "└─⊕ ",
    });
    let mut name = String::new();
    crate::layer::path::escape_bytes(tree.name(row.node), &mut name);
    let mut name = clean(&name);
    if let State::Present { entry: Some(id), .. } = display_state(tree, &e.marks, row.node) {
        let entry = tree.entry(id);
        let target = match entry.kind {
            EntryKind::Symlink => tree.link(entry).map(<[u8]>::to_vec),
            EntryKind::Hardlink => e.marks.link_target(row.node).map(|t| [b"/".as_slice(), &tree.path(t)].concat()),
            _ => None,
        };
        if let Some(target) = target {
            let mut shown = String::new();
            crate::layer::path::escape_bytes(&target, &mut shown);
            // A hard link is the same file under another name; a symlink points somewhere.
            name.push_str(if entry.kind == EntryKind::Hardlink { " ⇒ " } else { " → " });
            name.push_str(&clean(&shown));
        }
    }
    (text, name)
}

fn attribute_columns(tree: &Tree, e: &Explorer, row: Row) -> String {
    let (kind, mode, uid, gid) = match display_state(tree, &e.marks, row.node) {
        State::Present { entry: Some(id), .. } => {
            let entry = tree.entry(id);
            (entry.kind, entry.mode, entry.uid, entry.gid)
        }
        _ => (EntryKind::Dir, IMPLICIT_DIR_MODE, 0, 0),
    };
    let owner = format!("{uid}:{gid}");
    format!("{} {owner:>11} {:>9}  ", permissions(kind, mode), human_bytes(e.marks.size(row.node)))
}

/// Draw the tree pane.
pub fn draw(frame: &mut Frame, area: Rect, e: &Explorer, panes: &Panes, theme: Theme) {
    let focused = e.focus == Pane::Tree;
    // What the marks show (while the tree catches up with a new layer, the previous one).
    let layer = e.marks.view.layer;
    let unchanged_shown = !e.marks.view.hidden.contains(Change::Unchanged);
    let mut title = match e.marks.view.mode {
        TreeMode::Layer if unchanged_shown => format!(" Layer {layer} · every path, its changes coloured "),
        TreeMode::Layer => format!(" Layer {layer} · what it changed (U: all paths) "),
        TreeMode::Aggregated if layer == 0 => " Layer 0 · aggregated ".to_string(),
        TreeMode::Aggregated if layer == 1 => " Layer 1 · aggregated changes since layer 0 ".to_string(),
        TreeMode::Aggregated => format!(" Layers 1–{layer} · aggregated changes since layer 0 "),
    };
    if e.tree_stale() {
        title.push_str("· updating… ");
    }
    if e.sort == SortMode::Size {
        title.push_str("· by size ");
    }
    let block = theme.pane(title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height < 3 {
        return;
    }
    let width = usize::from(inner.width);
    let mut lines = Vec::with_capacity(usize::from(inner.height));
    // Legend: the colour of each kind; hidden kinds are struck through and dimmed.
    let mut legend = Vec::new();
    for (i, c) in Change::ALL.into_iter().enumerate() {
        if i > 0 {
            legend.push(Span::raw(" "));
        }
        let mut style = theme.change(c);
        if e.view.hidden.contains(c) {
            style = theme.dim().add_modifier(Modifier::CROSSED_OUT);
        }
        let marker = if c == Change::Unchanged { "○ " } else { "● " };
        legend.push(Span::styled(format!("{marker}{}", c.label()), style));
    }
    lines.push(Line::from(legend));
    let columns = if e.attributes { panes.tree_columns() } else { Columns::None };
    let header = match columns {
        Columns::All => "Permission     UID:GID      Size  Filetree",
        Columns::Size => "     Size  Filetree",
        Columns::None => "Filetree",
    };
    lines.push(Line::styled(cut(header, width), theme.dim()));

    let body = usize::from(inner.height) - 2;
    let rows = &e.rows.rows;
    if rows.is_empty() {
        let note = if e.view.filter.is_empty() {
            "Nothing to show: every kind of change is hidden."
        } else {
            "No path matches the filter."
        };
        lines.push(Line::styled(note, theme.dim()));
    }
    let mut used = 0;
    let mut i = e.offset;
    while used < body && i < rows.len() {
        let (head, name) = row_text(e, rows, i, columns);
        let node = rows[i].node;
        let change = e.marks.change(node).unwrap_or(Change::Unchanged);
        let mut name_style = theme.change(change);
        if is_dir(&e.image.tree, &e.marks, node) {
            name_style = name_style.add_modifier(Modifier::BOLD);
        }
        let selected = i == e.cursor;
        // Wrapped, a name continues under itself, not under the columns before it.
        let indent = if head.width() + 8 < width { head.width() } else { 0 };
        let chunks: Vec<String> = if e.wrap && indent == 0 {
            wrap(&format!("{head}{name}"), width)
        } else if e.wrap {
            let mut parts = wrap(&name, width - indent).into_iter();
            let first = format!("{head}{}", parts.next().unwrap_or_default());
            std::iter::once(first).chain(parts.map(|p| format!("{}{p}", " ".repeat(indent)))).collect()
        } else {
            vec![String::new()]
        };
        for (k, chunk) in chunks.iter().enumerate() {
            if used >= body {
                break;
            }
            let mut line = if k == 0 && !e.wrap {
                let head_cut = cut(&head, width);
                let rest = width.saturating_sub(head_cut.width());
                Line::from(vec![Span::styled(head_cut, theme.dim()), Span::styled(cut(&name, rest), name_style)])
            } else {
                Line::styled(chunk.clone(), name_style)
            };
            if selected {
                line = line.style(theme.selected(focused));
            }
            lines.push(line);
            used += 1;
        }
        i += 1;
    }
    frame.render_widget(Paragraph::new(lines), inner);
    // The position is on the status bar; the marks say there is more above or below.
    let body_area = Rect { y: inner.y + 2, height: inner.height - 2, ..inner };
    let place = super::ListPlace { above: e.offset > 0, below: i < rows.len(), position: None };
    super::list_marks(frame, area, body_area, place, theme);
}

/// Split `text` into chunks of at most `width` columns.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = vec![String::new()];
    let mut w = 0;
    for c in text.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > width {
            out.push(String::new());
            w = 0;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
        w += cw;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_strings() {
        assert_eq!(permissions(EntryKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(permissions(EntryKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(permissions(EntryKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(permissions(EntryKind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(permissions(EntryKind::Symlink, 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn wraps_by_width() {
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
    }
}
