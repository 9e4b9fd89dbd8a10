//! The packages view: every package with its size in the final image, the bytes its files waste,
//! its file count and the layer that installed it; under the list, the totals and the folders of
//! files no package owns.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph};

use super::theme::Theme;
use super::{ListPlace, cut, list_marks};
use crate::tui::app::Explorer;
use crate::tui::layout::{Panes, packages_box, packages_rows};
use crate::tui::packages::PackageList;
use crate::units::human_bytes;

/// Draw the packages view over the panes.
pub fn draw(frame: &mut Frame, panes: &Panes, e: &Explorer, list: &PackageList, theme: Theme) {
    let Some(index) = e.packages.index() else { return };
    let p = &index.packages;
    let area = packages_box(panes);
    frame.render_widget(Clear, area);
    let managers: Vec<&str> = {
        let mut m: Vec<&str> = p.databases.iter().filter(|d| d.read).map(|d| d.manager).collect();
        m.dedup();
        m
    };
    let title = format!(
        " Packages · {} ({}) · {} · s sort · Enter: its files · Esc closes ",
        p.packages.len(),
        managers.join(", "),
        list.sort.label()
    );
    let block = theme.pane(title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let rows = packages_rows(panes);
    let mut lines = vec![Line::styled(
        cut(&format!("{:>9} {:>9} {:>6} {:>6}  package version", "final", "wasted", "files", "layer"), width),
        theme.label(),
    )];
    for (row, &i) in list.order.iter().enumerate().skip(list.offset).take(rows) {
        let k = &p.packages[i];
        // Where it came from: the layer that installed it, and the last that upgraded it.
        let layer = match (k.installed_in, k.upgraded_in.last()) {
            (Some(a), Some(b)) => format!("{a}~{b}"),
            (Some(a), None) => a.to_string(),
            (None, _) => "-".into(),
        };
        let wasted = if k.wasted_bytes > 0 { human_bytes(k.wasted_bytes) } else { "-".into() };
        // With several managers, each row says whose package it is.
        let manager = if managers.len() > 1 { format!(" ({})", k.manager) } else { String::new() };
        let text = format!(
            "{:>9} {:>9} {:>6} {:>6}  {} {}{manager}",
            human_bytes(k.final_bytes),
            wasted,
            k.files,
            layer,
            k.name,
            k.version
        );
        let mut line = Line::from(cut(&text, width));
        if row == list.cursor {
            line = line.style(theme.selected(true));
        } else if k.wasted_bytes > 0 {
            line = line.style(theme.label());
        }
        lines.push(line);
    }
    while lines.len() < rows + 1 {
        lines.push(Line::raw(""));
    }
    let (final_bytes, wasted): (u64, u64) =
        p.packages.iter().fold((0, 0), |(f, w), k| (f + k.final_bytes, w + k.wasted_bytes));
    lines.push(Line::styled(
        cut(
            &format!(
                "in packages {} of the final {} · their files waste {}",
                human_bytes(final_bytes),
                human_bytes(e.analysis.final_size_bytes),
                human_bytes(wasted)
            ),
            width,
        ),
        theme.dim(),
    ));
    let unowned: Vec<String> =
        p.unowned.iter().take(6).map(|u| format!("{} {}", u.dir, human_bytes(u.bytes))).collect();
    let unowned = if unowned.is_empty() { "every file".to_string() } else { unowned.join(", ") };
    lines.push(Line::styled(cut(&format!("no package owns: {unowned}"), width), theme.dim()));
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: inner.y + 1, height: rows as u16, ..inner };
    list_marks(frame, area, body, ListPlace::of(list.offset, rows, list.order.len(), Some(list.cursor)), theme);
}
