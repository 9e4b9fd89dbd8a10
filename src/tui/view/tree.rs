//! The file tree pane: a legend, attribute columns, and the rows in view, coloured by change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::cut;
use super::theme::Theme;
use crate::tree::Change;
use crate::tui::action::Pane;
use crate::tui::app::Explorer;
use crate::tui::layout::{Columns, Panes};
use crate::tui::tree_view::{SortMode, TreeMode, is_dir, row_text, wrap_chunks};

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
    if e.rows.sort == SortMode::Size {
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
        let note = if !e.view.filtering() {
            "Nothing to show: every kind of change is hidden."
        } else {
            "No path matches the filter."
        };
        lines.push(Line::styled(note, theme.dim()));
    }
    let mut used = 0;
    let mut i = e.offset;
    while used < body && i < rows.len() {
        let collapsed = e.is_collapsed(rows[i].node);
        let (head, name) = row_text(&e.image.tree, &e.marks, rows, i, columns, collapsed);
        let node = rows[i].node;
        let change = e.marks.change(node).unwrap_or(Change::Unchanged);
        let mut name_style = theme.change(change);
        if is_dir(&e.image.tree, &e.marks, node) {
            name_style = name_style.add_modifier(Modifier::BOLD);
        }
        let selected = i == e.cursor;
        let chunks: Vec<String> = if e.wrap { wrap_chunks(&head, &name, width) } else { vec![String::new()] };
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
    // The selected path's package, on the bottom border.
    if let (Some(index), Some(node)) = (e.packages.index(), e.selected_node()) {
        // Folders are listed by many packages (`/usr`): only files are named.
        let text = match index.owner(node) {
            _ if is_dir(&e.image.tree, &e.marks, node) => String::new(),
            Some(p) => format!(" package {} {} ({}) ", p.name, p.version, p.manager),
            None => " no package owns it ".to_string(),
        };
        if !text.is_empty() && area.width > 12 {
            let shown = cut(&text, usize::from(area.width) - 8);
            frame.buffer_mut().set_string(area.x + 2, area.y + area.height - 1, shown, theme.dim());
        }
    }
    // The position is on the status bar; the marks say there is more above or below.
    let body_area = Rect { y: inner.y + 2, height: inner.height - 2, ..inner };
    let place = super::ListPlace { above: e.offset > 0, below: i < rows.len(), position: None };
    super::list_marks(frame, area, body_area, place, theme);
}
