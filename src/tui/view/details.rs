//! Layer details (digests, sizes, waste, the full command) and image details (figures, base, and
//! the wasted-space list).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::theme::Theme;
use super::{clean, cut};
use crate::analysis::Cause;
use crate::report::human_bytes;
use crate::text::plural;
use crate::tui::action::Pane;
use crate::tui::app::Explorer;

/// Lines of the image pane above the wasted-space list (border included), for clicks.
pub fn waste_list_top(e: &Explorer) -> u16 {
    if e.image.warnings.is_empty() { 6 } else { 7 }
}

fn field<'a>(theme: Theme, label: &'a str, value: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{label:<8} "), theme.label()), Span::raw(value)])
}

fn percent(r: f64) -> String {
    format!("{:.1} %", r * 100.0)
}

/// Draw the selected layer's details.
pub fn draw_layer(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme) {
    let Some(layer) = e.image.layers.get(e.layer) else { return };
    let waste = e.analysis.layers.get(e.layer);
    let base = e.analysis.base.layers;
    let owner = if e.layer < base { "base image" } else { "your build" };
    let block = theme.pane(format!(" Layer {} · {owner} ", e.layer), false);
    let command = e.commands.get(e.layer).map_or_else(String::new, |c| clean(c));
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
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
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
    let mut lines = vec![
        field(theme, "Image", cut(&format!("{name}{platform} · {}", img.format), width.saturating_sub(9))),
        field(
            theme,
            "Size",
            cut(
                &format!(
                    "{} in {} · final {} · blobs {}",
                    human_bytes(a.size_bytes),
                    plural(img.layers.len(), "layer", "layers"),
                    human_bytes(a.final_size_bytes),
                    human_bytes(img.blob_bytes())
                ),
                width.saturating_sub(9),
            ),
        ),
        field(
            theme,
            "Wasted",
            cut(
                &format!(
                    "{} · efficiency {} · yours {} · dupes {}",
                    human_bytes(a.wasted_bytes),
                    percent(a.efficiency),
                    percent(a.user_wasted_percent),
                    human_bytes(a.duplicate_content_bytes)
                ),
                width.saturating_sub(9),
            ),
        ),
        field(
            theme,
            "Base",
            cut(
                &format!("{}{}{suggestion}", plural(base.layers, "layer", "layers"), os.unwrap_or_default()),
                width.saturating_sub(9),
            ),
        ),
    ];
    if let Some(first) = img.warnings.first() {
        let count = plural(img.warnings.len(), "warning", "warnings");
        let text = cut(&format!("{count} (w lists them) · {first}"), width.saturating_sub(9));
        lines.push(Line::from(vec![Span::styled(format!("{:<8} ", "Warning"), theme.error()), Span::raw(text)]));
    }
    lines.push(Line::styled(
        cut(
            if a.top_waste.is_empty() {
                "No wasted space."
            } else if focused {
                "Wasted space · Enter: show the layer that shipped it"
            } else {
                "Wasted space (Tab here, Enter to jump)"
            },
            width,
        ),
        theme.label(),
    ));
    let room = usize::from(inner.height).saturating_sub(lines.len());
    let start = if e.waste_cursor >= room { e.waste_cursor + 1 - room } else { 0 };
    for (i, w) in a.top_waste.iter().enumerate().skip(start).take(room) {
        let text = format!("{:>9} {:<13} {}", human_bytes(w.bytes), w.cause.label(), w.path);
        let mut line = Line::from(cut(&text, width));
        if focused && i == e.waste_cursor {
            line = line.style(theme.selected(true));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
