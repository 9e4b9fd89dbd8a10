//! Compare mode: the figures, the two layer stacks side by side (shared layers marked `=`), and
//! the paths that differ, coloured as the tree colours the same change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{ListPlace, clean, cut, headed_list};
use crate::report::diff::signed_bytes;
use crate::tui::compare::{Comparison, LAYERS, PATHS, PathRow, change_of};
use crate::tui::layout::{self, list_rows};
use crate::tui::tree_view::SortMode;
use crate::units::human_bytes;

/// Draw compare mode.
pub fn draw(frame: &mut Frame, area: Rect, c: &Comparison, theme: Theme) {
    let panes = layout::compare_panes(area);
    let d = &c.diff;
    let width = usize::from(panes.summary.width);
    let counts = &d.counts;
    let summary = vec![
        Line::from(vec![Span::styled("Old  ", theme.label()), Span::raw(cut(&c.old, width.saturating_sub(5)))]),
        Line::from(vec![Span::styled("New  ", theme.label()), Span::raw(cut(&c.new, width.saturating_sub(5)))]),
        Line::from(cut(
            &format!(
                "Size {} → {} ({}) · final {} · wasted {} · {}",
                human_bytes(d.size_bytes.0),
                human_bytes(d.size_bytes.1),
                signed_bytes(d.size_delta_bytes),
                signed_bytes(d.final_size_delta_bytes),
                signed_bytes(d.wasted_delta_bytes),
                crate::text::plural(d.shared_layers, "shared layer", "shared layers")
            ),
            width,
        )),
        Line::from(cut(
            &format!(
                "Paths {} added, {} removed, {} modified, {} metadata-only, {} type changed",
                counts.added, counts.removed, counts.modified, counts.metadata_only, counts.type_changed
            ),
            width,
        )),
    ];
    frame.render_widget(Paragraph::new(summary), panes.summary);
    draw_layers(frame, panes.layers, c, theme);
    draw_paths(frame, panes.paths, c, theme);
    draw_keys(frame, panes.footer, true, theme);
}

/// The key line of compare and disk mode (`sort`: whether `s` sorts there).
pub fn draw_keys(frame: &mut Frame, area: Rect, sort: bool, theme: Theme) {
    let keys = [("q", "quit"), ("Tab", "switch"), ("↑↓", "move"), ("PgUp PgDn", "page"), ("g G", "top, bottom")];
    let sort_key = sort.then_some(("s", "by size / by name"));
    let mut spans = Vec::new();
    for (key, what) in keys.into_iter().chain(sort_key) {
        spans.push(Span::styled(format!(" {key}"), theme.key()));
        spans.push(Span::raw(format!(" {what} ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_layers(frame: &mut Frame, area: Rect, c: &Comparison, theme: Theme) {
    let focused = c.lists.focus == LAYERS;
    let (cursor, offset) = (c.lists.cursor[LAYERS], c.lists.offset[LAYERS]);
    let block = theme.pane(" Layers · old │ new (= shared) ", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let half = width.saturating_sub(3) / 2;
    let rows = list_rows(area);
    let d = &c.diff;
    let side = |layer: Option<&crate::analysis::diff::SideLayer>| match layer {
        Some(l) => cut(&format!("{:>2} {:>9} {}", l.index, human_bytes(l.size_bytes), clean(&l.command)), half),
        None => String::new(),
    };
    let mut lines = vec![Line::styled(cut(&format!("  {:<half$} │ new", "old"), width), theme.label())];
    for i in (0..c.layer_rows()).skip(offset).take(rows) {
        let shared = i < d.shared_layers;
        let (old, new) = (side(c.old_stack.get(i)), side(c.new_stack.get(i)));
        let text = format!("{} {old:<half$} │ {new}", if shared { '=' } else { ' ' });
        let mut line = Line::from(cut(&text, width));
        if shared {
            line = line.style(theme.dim());
        }
        if focused && i == cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    headed_list(
        frame,
        area,
        inner,
        lines,
        ListPlace::of(offset, rows, c.layer_rows(), focused.then_some(cursor)),
        theme,
    );
}

fn draw_paths(frame: &mut Frame, area: Rect, c: &Comparison, theme: Theme) {
    let focused = c.lists.focus == PATHS;
    let (cursor, offset) = (c.lists.cursor[PATHS], c.lists.offset[PATHS]);
    let paths = &c.diff.paths;
    let order = if c.sort == SortMode::Size { "largest change first" } else { "by name" };
    let block = theme.pane(format!(" Paths that differ ({}) · {order} ", paths.len()), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = list_rows(area);
    let header = format!("{:<13} {:>10} {:>5}  path", "change", "Δ size", "layer");
    let mut lines = vec![Line::styled(cut(&header, width), theme.label())];
    for (i, row) in c.rows.iter().enumerate().skip(offset).take(rows) {
        let mut line = match row {
            PathRow::Path { index, depth } => {
                let Some(p) = paths.get(*index) else { continue };
                let name = if c.sort == SortMode::Size {
                    clean(&p.path)
                } else {
                    clean(p.path.rsplit('/').next().unwrap_or(&p.path))
                };
                let indent = "  ".repeat(*depth);
                let text = format!(
                    "{:<13} {:>10} {:>5}  {indent}{name}",
                    p.change.label(),
                    signed_bytes(p.delta_bytes),
                    p.layer
                );
                Line::styled(cut(&text, width), theme.change(change_of(p.change)))
            }
            PathRow::Dir { name, depth, delta_bytes } => {
                let indent = "  ".repeat(*depth);
                let text = format!("{:<13} {:>10} {:>5}  {indent}{}/", "", signed_bytes(*delta_bytes), "", clean(name));
                Line::from(cut(&text, width))
            }
        };
        if focused && i == cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    if paths.is_empty() {
        lines.push(Line::from("No path differs."));
    }
    headed_list(frame, area, inner, lines, ListPlace::of(offset, rows, c.rows.len(), focused.then_some(cursor)), theme);
}
