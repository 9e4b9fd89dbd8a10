//! Layer details (digests, sizes, waste, the full command) and image details (figures, base, and
//! the wasted-space list).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::theme::Theme;
use super::{clean, cut};
use crate::analysis::Cause;
use crate::text::plural;
use crate::tui::action::Pane;
use crate::tui::app::Explorer;
use crate::tui::waste::WasteRow;
use crate::units::human_bytes;

fn field<'a>(theme: Theme, label: &'a str, value: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{label:<8} "), theme.label()), Span::raw(value)])
}

fn percent(r: f64) -> String {
    format!("{:.1} %", r * 100.0)
}

/// Draw the selected layer's details.
pub fn draw_layer(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme) {
    let Some(layer) = e.image.layers.get(e.view.layer) else { return };
    let waste = e.analysis.layers.get(e.view.layer);
    let base = e.analysis.base.layers;
    let owner = if e.image.container_layer() == Some(e.view.layer) {
        "container layer"
    } else if e.view.layer < base {
        "base image"
    } else {
        "your build"
    };
    let block = theme.pane(format!(" Layer {} · {owner} ", e.view.layer), false);
    let command = e.commands.get(e.view.layer).map_or_else(String::new, |c| clean(c));
    let mut lines = vec![field(theme, "Command", command)];
    let counts = layer.counts;
    lines.push(field(
        theme,
        "Size",
        format!(
            "{} · paths: {} added, {} modified, {} metadata-only, {} removed",
            human_bytes(layer.size_bytes),
            counts.added,
            counts.modified,
            counts.metadata_only,
            counts.removed
        ),
    ));
    if let Some(w) = waste {
        let mut text = format!(
            "score {} · {} still visible, {} hidden later",
            w.score,
            human_bytes(w.visible_bytes),
            human_bytes(w.wasted_bytes)
        );
        if w.hides_bytes > 0 {
            let c = w.hides_by_cause;
            text.push_str(&format!(
                " · hides {} below ({} {}, {} {}, {} {})",
                human_bytes(w.hides_bytes),
                Cause::Deleted.label(),
                human_bytes(c.deleted),
                Cause::Overwritten.label(),
                human_bytes(c.overwritten),
                Cause::MetadataOnly.label(),
                human_bytes(c.metadata_only)
            ));
        }
        lines.push(field(theme, "Waste", text));
    }
    if let Some(changes) = e.packages.index().and_then(|i| i.packages.layers.iter().find(|l| l.layer == e.view.layer)) {
        let mut parts = Vec::new();
        for (sign, list) in [("+", &changes.added), ("~", &changes.upgraded), ("-", &changes.removed)] {
            if list.is_empty() {
                continue;
            }
            let shown: Vec<&str> = list.iter().take(3).map(String::as_str).collect();
            let more = if list.len() > 3 { format!(", {} more", list.len() - 3) } else { String::new() };
            parts.push(format!("{sign}{} ({}{more})", list.len(), shown.join(", ")));
        }
        lines.push(field(theme, "Packages", clean(&parts.join(" · "))));
    }
    let blob = match (layer.blob_bytes, layer.compression) {
        (Some(b), Some(c)) => format!("{} {c}", human_bytes(b)),
        _ => "missing from the archive".into(),
    };
    let media = layer.media_type.as_deref().map(|m| format!(" · {m}")).unwrap_or_default();
    lines.push(field(theme, "Blob", format!("{blob}{media}")));
    lines.push(field(theme, "DiffID", layer.diff_id.clone().unwrap_or_else(|| "-".into())));
    if layer.blob_digest != layer.diff_id {
        lines.push(field(theme, "Digest", layer.blob_digest.clone().unwrap_or_else(|| "-".into())));
    }
    if let Some(created) = layer.history.as_ref().and_then(|h| h.created.as_deref()) {
        lines.push(field(theme, "Created", created.to_string()));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // Wrapped here, so the scroll stops at the last line and the marks know what is hidden.
    let rows = wrap_fields(lines, usize::from(inner.width));
    let height = usize::from(inner.height);
    let offset = e.details_offset.min(rows.len().saturating_sub(height));
    let place = super::ListPlace::of(offset, height, rows.len(), None);
    frame.render_widget(Paragraph::new(rows.into_iter().skip(offset).take(height).collect::<Vec<_>>()), inner);
    super::list_marks(frame, area, inner, place, theme);
}

/// Field lines wrapped to `width` columns, continuations indented under the value.
fn wrap_fields(lines: Vec<Line<'_>>, width: usize) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for line in lines {
        let [label, value] = line.spans.as_slice() else {
            out.push(line);
            continue;
        };
        let indent = label.content.width();
        let room = width.saturating_sub(indent).max(8);
        let chars: Vec<char> = value.content.chars().collect();
        let mut first = true;
        let mut start = 0;
        loop {
            let mut w = 0;
            let mut end = start;
            while end < chars.len() {
                let cw = unicode_width::UnicodeWidthChar::width(chars[end]).unwrap_or(0);
                if w + cw > room {
                    break;
                }
                w += cw;
                end += 1;
            }
            let text: String = chars[start..end].iter().collect();
            let head = if first { label.clone() } else { Span::raw(" ".repeat(indent)) };
            out.push(Line::from(vec![head, Span::styled(text, value.style)]));
            first = false;
            if end >= chars.len() || end == start {
                break;
            }
            start = end;
        }
    }
    out
}

/// Draw the image details and the wasted-space list.
pub fn draw_image(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme) {
    let focused = e.focus == Pane::Waste;
    let a = &e.analysis;
    let block = theme.pane(" Image ", focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let img = &e.image;
    let name = img.tags.first().cloned().unwrap_or_else(|| img.source.clone());
    let platform = img.platform.as_ref().map(|p| format!(" · {p}")).unwrap_or_default();
    let base = &a.base;
    let os = base
        .os
        .as_ref()
        .map(|o| format!(" {}{}", o.id, o.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()));
    let suggestion = base
        .suggestions
        .first()
        .map(|s| format!(" · try {} (-{})", s.name, human_bytes(s.saving_bytes)))
        .unwrap_or_default();
    // Labels as wide as the longest, so each key figure starts a line of its own and shows at
    // any width: efficiency and wasted bytes come first on theirs.
    let label = |text: &'static str| Span::styled(format!("{text:<10} "), theme.label());
    let room = width.saturating_sub(11);
    let row = |name: &'static str, value: String| Line::from(vec![label(name), Span::raw(cut(&value, room))]);
    let mut lines = vec![
        row("Image", format!("{name}{platform} · {}", img.format)),
        row(
            "Size",
            format!(
                "{} · final {} · {} · blobs {}",
                human_bytes(a.size_bytes),
                human_bytes(a.final_size_bytes),
                plural(img.layers.len(), "layer", "layers"),
                human_bytes(img.blob_bytes())
            ),
        ),
        row("Efficiency", format!("{} · yours {} wasted", percent(a.efficiency), percent(a.user_wasted_percent))),
        row("Wasted", format!("{} · dupes {}", human_bytes(a.wasted_bytes), human_bytes(a.duplicate_content_bytes))),
    ];
    // Where most of it comes from, and what to change.
    if let Some(top) = a.waste_sources.first() {
        lines.push(row("Mostly", format!("{} {} · fix: {}", human_bytes(top.bytes), top.label, top.fix)));
    }
    lines
        .push(row("Base", format!("{}{}{suggestion}", plural(base.layers, "layer", "layers"), os.unwrap_or_default())));
    if let (Some(c), Some(top)) = (img.container(), img.container_layer()) {
        let engine = c.engine_size.map_or_else(String::new, |size| {
            let virtual_size =
                c.engine_virtual_size.map(|v| format!(", virtual {}", human_bytes(v))).unwrap_or_default();
            format!(" · {} ps -s {}{virtual_size}", c.engine, human_bytes(size))
        });
        let text = format!("{} · writable layer {top}: {}{engine}", c.name, human_bytes(img.layers[top].size_bytes));
        lines.push(row("Container", text));
    }
    if let Some(first) = img.warnings.first() {
        let count = plural(img.warnings.len(), "warning", "warnings");
        let text = cut(&format!("{count} (w lists them) · {first}"), room);
        lines.push(Line::from(vec![Span::styled(format!("{:<10} ", "Warning"), theme.error()), Span::raw(text)]));
    }
    let selected = e.waste.rows.get(e.waste_cursor).copied();
    let header = match selected {
        None => "No wasted space.".to_string(),
        Some(WasteRow::Source(s)) if focused => {
            a.waste_sources.get(s).map_or_else(String::new, |w| format!("fix: {}", w.fix))
        }
        Some(WasteRow::Path(_)) if focused => "Enter: show the layer that shipped it".to_string(),
        Some(_) => "Waste by source · Tab, Enter opens".to_string(),
    };
    lines.push(Line::styled(cut(&header, width), theme.label()));
    let room = usize::from(inner.height).saturating_sub(lines.len());
    let list_top = inner.y + lines.len() as u16;
    for (i, row) in e.waste.rows.iter().enumerate().skip(e.waste_offset).take(room) {
        let text = match *row {
            WasteRow::Source(s) => a.waste_sources.get(s).map_or_else(String::new, |w| {
                let mark = if e.waste.is_open(s) { "▾" } else { "▸" };
                let files = plural(usize::try_from(w.files).unwrap_or(usize::MAX), "file", "files");
                format!("{mark}{:>9} {} · {files}", human_bytes(w.bytes), w.label)
            }),
            WasteRow::Path(p) => a.top_waste.get(p).map_or_else(String::new, |w| {
                format!("  {:>9} {:<13} {}", human_bytes(w.bytes), w.cause.label(), w.path)
            }),
        };
        let mut line = Line::from(cut(&text, width));
        if focused && i == e.waste_cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: list_top.min(inner.y + inner.height), height: room as u16, ..inner };
    let at = focused.then_some(e.waste_cursor);
    let place = super::ListPlace::of(e.waste_offset, room, e.waste.rows.len(), at);
    super::list_marks(frame, area, body, place, theme);
}
