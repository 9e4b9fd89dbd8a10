//! Compare mode: the figures, the two layer stacks side by side (shared layers marked `=`), and
//! the paths that differ, coloured as the tree colours the same change.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{ListPlace, clean, cut, list_marks};
use crate::report::diff::signed_bytes;
use crate::report::human_bytes;
use crate::tui::compare::{Comparison, LAYERS, PATHS, change_of};
use crate::tui::layout::{self, list_rows};

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
    draw_keys(frame, panes.footer, theme);
}

/// The key line of compare and disk mode.
pub fn draw_keys(frame: &mut Frame, area: Rect, theme: Theme) {
    let keys = [("q", "quit"), ("Tab", "switch"), ("↑↓", "move"), ("PgUp PgDn", "page"), ("g G", "top, bottom")];
    let mut spans = Vec::new();
    for (key, what) in keys {
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
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    let at = focused.then_some(cursor);
    list_marks(frame, area, body, ListPlace::of(offset, rows, c.layer_rows(), at), theme);
}

fn draw_paths(frame: &mut Frame, area: Rect, c: &Comparison, theme: Theme) {
    let focused = c.lists.focus == PATHS;
    let (cursor, offset) = (c.lists.cursor[PATHS], c.lists.offset[PATHS]);
    let paths = &c.diff.paths;
    let block = theme.pane(format!(" Paths that differ ({}) · largest change first ", paths.len()), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = list_rows(area);
    let mut lines = vec![Line::styled(
        cut(&format!("{:<13} {:>10} {:>5}  path", "change", "Δ size", "layer"), width),
        theme.label(),
    )];
    for (i, p) in paths.iter().enumerate().skip(offset).take(rows) {
        let text =
            format!("{:<13} {:>10} {:>5}  {}", p.change.label(), signed_bytes(p.delta_bytes), p.layer, clean(&p.path));
        let mut line = Line::styled(cut(&text, width), theme.change(change_of(p.change)));
        if focused && i == cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    if paths.is_empty() {
        lines.push(Line::from("No path differs."));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    let at = focused.then_some(cursor);
    list_marks(frame, area, body, ListPlace::of(offset, rows, paths.len(), at), theme);
}
