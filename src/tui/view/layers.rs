//! The layer list: index, size, waste score and command per layer, base layers marked, and the
//! history steps that made no layer dimmed under the layer they follow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{ListPlace, cut, list_marks};
use crate::image::clean_command;
use crate::tui::action::Pane;
use crate::tui::app::{Explorer, LayerItem};
use crate::units::human_bytes;

/// Draw the layer list.
pub fn draw(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme, narrow: bool) {
    let focused = e.focus == Pane::Layers;
    let title = match e.image.layers.len() {
        0 => " Layers · none ".to_string(),
        1 => " Layer 0 ".to_string(),
        n => format!(" Layers 0–{} ", n - 1),
    };
    let block = theme.pane(title, focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let mut lines = Vec::new();
    let header = if narrow { "  #      size score" } else { "  #      size score  command" };
    lines.push(Line::styled(cut(header, width), theme.dim()));
    let rows = usize::from(inner.height - 1);
    let base = e.analysis.base.layers;
    for item in e.layer_items.iter().skip(e.layer_offset).take(rows) {
        match *item {
            LayerItem::Layer(i) => {
                let layer = &e.image.layers[i];
                let score = e.analysis.layers.get(i).map_or(0, |l| l.score);
                let mark = if i < base { "B" } else { " " };
                let command = e.commands.get(i).map_or("", String::as_str);
                let score_text = format!("{score:>5}");
                let mut spans = vec![
                    Span::styled(mark, theme.dim()),
                    Span::raw(format!("{i:>2} {:>9}", human_bytes(layer.size_bytes))),
                    Span::styled(score_text, theme.score(score)),
                ];
                if !narrow {
                    let used = 1 + 2 + 10 + 5 + 2;
                    spans.push(Span::raw(format!("  {}", cut(command, width.saturating_sub(used)))));
                }
                let mut line = Line::from(spans);
                if i == e.view.layer {
                    line = line.style(theme.selected(focused));
                }
                lines.push(line);
            }
            LayerItem::Instruction(i, k) => {
                if narrow {
                    lines.push(Line::styled(cut(&format!("{:>18}", "(no layer)"), width), theme.dim()));
                    continue;
                }
                let h = &e.image.layers[i].empty_instructions[k];
                let text = crate::text::one_line(clean_command(h.created_by.as_deref().unwrap_or("")));
                lines.push(Line::styled(cut(&format!("{:>18}  {text}", "(no layer)"), width), theme.dim()));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: inner.y + 1, height: inner.height - 1, ..inner };
    // The position counts layers, not the history lines between them.
    let mut place = ListPlace::of(e.layer_offset, rows, e.layer_items.len(), None);
    place.position = Some((e.view.layer, e.image.layers.len()));
    list_marks(frame, area, body, place, theme);
}
