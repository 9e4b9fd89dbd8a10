//! The layer list: index, size, waste score and command per layer, base layers marked, and the
//! history steps that made no layer dimmed under the layer they follow.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::cut;
use super::theme::Theme;
use crate::image::clean_command;
use crate::report::human_bytes;
use crate::tui::action::Pane;
use crate::tui::app::Explorer;

/// One line of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Item {
    Layer(usize),
    Instruction(usize, usize),
}

fn items(e: &Explorer) -> Vec<Item> {
    let mut out = Vec::new();
    for layer in &e.image.layers {
        out.push(Item::Layer(layer.index));
        for k in 0..layer.empty_instructions.len() {
            out.push(Item::Instruction(layer.index, k));
        }
    }
    out
}

/// The lines in view for `height` rows: which layer each shows (None for a history step).
/// Deterministic, so clicks map to what was drawn.
pub fn line_layers(e: &Explorer, height: usize) -> Vec<Option<usize>> {
    let all = items(e);
    let (start, end) = window(&all, e.layer, height);
    all[start..end]
        .iter()
        .map(|i| match i {
            Item::Layer(l) => Some(*l),
            Item::Instruction(..) => None,
        })
        .collect()
}

fn window(all: &[Item], selected: usize, height: usize) -> (usize, usize) {
    let at = all.iter().position(|i| *i == Item::Layer(selected)).unwrap_or(0);
    let height = height.max(1);
    let start = if at < height { 0 } else { at + 1 - height };
    (start, (start + height).min(all.len()))
}

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
    let header = if narrow { "  #      size    %" } else { "  #      size waste  command" };
    lines.push(Line::styled(cut(header, width), theme.dim()));
    let all = items(e);
    let (start, end) = window(&all, e.layer, usize::from(inner.height - 1));
    let base = e.analysis.base.layers;
    for item in &all[start..end] {
        match *item {
            Item::Layer(i) => {
                let layer = &e.image.layers[i];
                let score = e.analysis.layers.get(i).map_or(0, |l| l.score);
                let mark = if i < base { "B" } else { " " };
                let command = e.commands.get(i).map_or("", String::as_str);
                let score_text = if score == 0 { "    ·".to_string() } else { format!("{score:>5}") };
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
                if i == e.layer {
                    line = line.style(theme.selected(focused));
                }
                lines.push(line);
            }
            Item::Instruction(i, k) => {
                if narrow {
                    lines.push(Line::styled("     ·", theme.dim()));
                    continue;
                }
                let h = &e.image.layers[i].empty_instructions[k];
                let text = crate::text::one_line(clean_command(h.created_by.as_deref().unwrap_or("")));
                lines.push(Line::styled(cut(&format!("{:>19}  {text}", "·"), width), theme.dim()));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
