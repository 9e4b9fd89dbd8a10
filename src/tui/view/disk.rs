//! Disk mode: the totals, the images (size, shared, own), the selected image's layers with how
//! many other images have each (`=N`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{ListPlace, clean, cut, headed_list};
use crate::tui::disk::{DiskView, IMAGES, LAYERS};
use crate::tui::layout::{self, list_rows};
use crate::units::human_bytes;

/// Draw disk mode.
pub fn draw(frame: &mut Frame, area: Rect, d: &DiskView, theme: Theme) {
    let panes = layout::compare_panes(area);
    let u = &d.usage;
    let width = usize::from(panes.summary.width);
    let summary = vec![
        Line::from(cut(&format!("{} images", u.images.len()), width)),
        Line::from(cut(
            &format!(
                "Sum of sizes {} · what adding up each image's size (docker's virtual size) says",
                human_bytes(u.naive_bytes)
            ),
            width,
        )),
        Line::from(cut(&format!("On disk      {} · each shared layer stored once", human_bytes(u.real_bytes)), width)),
        Line::from(cut(&format!("Saved        {} · by sharing layers", human_bytes(u.saved_bytes)), width)),
    ];
    frame.render_widget(Paragraph::new(summary), panes.summary);
    draw_images(frame, panes.layers, d, theme);
    draw_layers(frame, panes.paths, d, theme);
    super::compare::draw_keys(frame, panes.footer, false, theme);
}

fn draw_images(frame: &mut Frame, area: Rect, d: &DiskView, theme: Theme) {
    let focused = d.lists.focus == IMAGES;
    let (cursor, offset) = (d.lists.cursor[IMAGES], d.lists.offset[IMAGES]);
    let block = theme.pane(" Images ", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = list_rows(area);
    let images = &d.usage.images;
    let mut lines =
        vec![Line::styled(cut(&format!("{:>9} {:>9} {:>9}  image", "size", "shared", "own"), width), theme.label())];
    for (i, img) in images.iter().enumerate().skip(offset).take(rows) {
        let text = format!(
            "{:>9} {:>9} {:>9}  {}",
            human_bytes(img.size_bytes),
            human_bytes(img.shared_bytes),
            human_bytes(img.unique_bytes),
            clean(&img.name)
        );
        let mut line = Line::from(cut(&text, width));
        if i == cursor {
            line = line.style(theme.selected(focused));
        }
        lines.push(line);
    }
    headed_list(frame, area, inner, lines, ListPlace::of(offset, rows, images.len(), focused.then_some(cursor)), theme);
}

fn draw_layers(frame: &mut Frame, area: Rect, d: &DiskView, theme: Theme) {
    let focused = d.lists.focus == LAYERS;
    let (cursor, offset) = (d.lists.cursor[LAYERS], d.lists.offset[LAYERS]);
    let selected = d.selected();
    let name = d.usage.images.get(selected).map_or(String::new(), |i| clean(&i.name));
    let block = theme.pane(format!(" Layers of {name} · =N: N other images have it "), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = list_rows(area);
    let layers = d.stacks.get(selected).map_or(&[][..], Vec::as_slice);
    let shared = d.usage.images.get(selected).map_or(&[][..], |i| i.shared_with.as_slice());
    let mut lines =
        vec![Line::styled(cut(&format!("{:<4} {:>3} {:>9}  command", "", "#", "size"), width), theme.label())];
    for (i, l) in layers.iter().enumerate().skip(offset).take(rows) {
        let others = shared.get(i).copied().unwrap_or(0);
        let mark = if others > 0 { format!("={others}") } else { String::new() };
        let text = format!("{mark:<4} {:>3} {:>9}  {}", l.index, human_bytes(l.size_bytes), clean(&l.command));
        let mut line = Line::from(cut(&text, width));
        if others > 0 {
            line = line.style(theme.dim());
        }
        if focused && i == cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    headed_list(frame, area, inner, lines, ListPlace::of(offset, rows, layers.len(), focused.then_some(cursor)), theme);
}
