//! Drawing. Views only borrow the app; nothing here changes state.

pub mod compare;
pub mod details;
pub mod disk;
pub mod layers;
pub mod packages;
pub mod theme;
pub mod tree;

use std::sync::atomic::Ordering;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

use super::action::Pane;
use super::app::{App, Explorer, Input, Overlay, Phase};
use super::keymap::{Keymap, Mode, Scope};
use super::layout::Panes;
use crate::units::human_bytes;
use theme::Theme;

/// Make text safe to draw on one line: control characters become visible escapes.
pub fn clean(text: &str) -> String {
    crate::text::terminal_safe(text).into_owned()
}

/// Untrusted text escaped and cut to `width` columns, ending in `…` when cut (never inside an
/// escape or a wide character).
pub fn cut(text: &str, width: usize) -> String {
    crate::text::cut(text, width)
}

/// Draw a bordered list's `lines` in `inner` (a header line, then the rows) and its marks.
pub fn headed_list(frame: &mut Frame, area: Rect, inner: Rect, lines: Vec<Line<'_>>, place: ListPlace, theme: Theme) {
    frame.render_widget(Paragraph::new(lines), inner);
    let body = Rect { y: inner.y + 1, height: inner.height.saturating_sub(1), ..inner };
    list_marks(frame, area, body, place, theme);
}

/// Where a list is, for [`list_marks`].
#[derive(Clone, Copy, Debug)]
pub struct ListPlace {
    /// Lines exist above those drawn.
    pub above: bool,
    /// Lines exist below those drawn.
    pub below: bool,
    /// The selected line and the number of lines, when the position is shown.
    pub position: Option<(usize, usize)>,
}

impl ListPlace {
    /// A list of `total` lines drawn from `first`, `shown` at a time, with `selected` shown.
    pub fn of(first: usize, shown: usize, total: usize, selected: Option<usize>) -> ListPlace {
        ListPlace { above: first > 0, below: first + shown < total, position: selected.map(|s| (s, total)) }
    }
}

/// A list's place on its pane's border: ▲ on the right border beside the first row drawn when
/// lines are above it, ▼ beside the last when lines are below, and `N/TOTAL` (the selected
/// line's position) on the bottom border.
pub fn list_marks(frame: &mut Frame, pane: Rect, rows: Rect, place: ListPlace, theme: Theme) {
    if pane.width < 8 || pane.height < 3 || rows.height == 0 {
        return;
    }
    let right = pane.x + pane.width - 1;
    let buf = frame.buffer_mut();
    if place.above {
        buf.set_string(right, rows.y, "▲", theme.label());
    }
    if place.below {
        buf.set_string(right, rows.y + rows.height - 1, "▼", theme.label());
    }
    if let Some((at, total)) = place.position {
        let text = format!(" {}/{total} ", at + 1);
        let width = text.width() as u16;
        if width + 2 < pane.width {
            buf.set_string(right - width, pane.y + pane.height - 1, &text, theme.dim());
        }
    }
}

/// Which layer's bytes are shown: both layers when the selected one is not the one that wrote
/// them (a file removed in layer 4 shows the bytes layer 2 wrote).
pub fn stored_where(stored_in: usize, selected: usize) -> String {
    if stored_in == selected {
        format!("layer {stored_in}")
    } else {
        format!("from layer {stored_in} ({selected} selected)")
    }
}

/// Draw the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let theme = Theme { color: app.color, palette: app.settings.palette };
    let area = frame.area();
    match &app.phase {
        Phase::Loading { source, progress, transfer, stage } => {
            draw_loading(frame, area, source, progress.as_deref(), transfer.as_deref(), stage, theme)
        }
        Phase::Choosing { source, images, cursor } => draw_picker(frame, area, source, images, *cursor, theme),
        Phase::Comparing(c) => compare::draw(frame, area, c, theme),
        Phase::Disk(d) => disk::draw(frame, area, d, theme),
        Phase::Failed(message) => {
            frame.render_widget(Paragraph::new(message.as_str()).style(theme.error()), area);
        }
        Phase::Ready(e) => {
            let panes = app.panes();
            layers::draw(frame, panes.layers, e, theme, panes.narrow);
            if panes.details.height > 0 {
                details::draw_layer(frame, panes.details, e, theme);
            }
            if panes.image.height > 0 {
                details::draw_image(frame, panes.image, e, theme);
            }
            tree::draw(frame, panes.tree, e, &panes, theme);
            draw_input(frame, panes.input, e, theme);
            let keys = &app.settings.keymap;
            draw_status(frame, panes.status, e, keys, theme);
            match &e.overlay {
                Some(Overlay::Help) => draw_help(frame, area, e, keys, theme),
                Some(Overlay::Warnings) => draw_warnings(frame, area, e, theme),
                Some(Overlay::Viewer(v)) => draw_viewer(frame, &panes, v, theme),
                Some(Overlay::Packages(list)) => packages::draw(frame, &panes, e, list, theme),
                None => {}
            }
        }
    }
}

/// The images of a multi-image archive, to pick the one to open.
fn draw_picker(frame: &mut Frame, area: Rect, source: &str, images: &[String], cursor: usize, theme: Theme) {
    let title = format!(" {} holds {} images · ↑↓ choose · Enter opens · q quits ", clean(source), images.len());
    let block = theme.pane(title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = usize::from(inner.height);
    let first = if cursor >= height { cursor + 1 - height } else { 0 };
    let width = usize::from(inner.width);
    let lines: Vec<Line> = images
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, name)| {
            let line = Line::from(cut(&format!("  {name}"), width));
            if i == cursor { line.style(theme.selected(true)) } else { line }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
    list_marks(frame, area, inner, ListPlace::of(first, height, images.len(), Some(cursor)), theme);
}

fn draw_loading(
    frame: &mut Frame,
    area: Rect,
    source: &str,
    progress: Option<&crate::layer::Progress>,
    transfer: Option<&crate::source::Transfer>,
    stage: &str,
    theme: Theme,
) {
    let block = theme.pane(" layerscope ", true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    // Before the layers are read, the source's own step says more (resolving, downloading).
    let step = match (progress, transfer.and_then(|t| t.step.lock().ok().map(|s| s.clone()))) {
        (None, Some(step)) if !step.is_empty() => step,
        _ => stage.to_string(),
    };
    let mut lines = vec![
        Line::from(cut(&format!("Loading {}", clean(source)), width)),
        Line::styled(cut(&format!("{}…   (q or Ctrl+C cancels)", clean(&step)), width), theme.dim()),
        Line::raw(""),
    ];
    if let (None, Some(t)) = (progress, transfer) {
        transfer_lines(&mut lines, t, width, usize::from(inner.height));
    }
    if let Some(p) = progress {
        let total: u64 = p.bytes_total.iter().sum();
        let read: u64 = p.bytes_read.iter().map(|b| b.load(Ordering::Relaxed)).sum::<u64>().min(total.max(1));
        let done = p.done.iter().filter(|d| d.load(Ordering::Relaxed)).count();
        lines.push(Line::from(cut(
            &format!(
                "{} of {} read · {done} of {} layers done",
                human_bytes(read),
                human_bytes(total),
                p.bytes_total.len()
            ),
            width,
        )));
        let bar_width = width.saturating_sub(30).clamp(4, 50);
        let room = usize::from(inner.height).saturating_sub(lines.len());
        // Layers still in progress first, so the moving bars stay in view.
        let mut order: Vec<usize> = (0..p.bytes_total.len()).collect();
        order.sort_by_key(|&i| (p.done[i].load(Ordering::Relaxed), i));
        for &i in order.iter().take(room) {
            let size = p.bytes_total[i];
            let got = p.bytes_read[i].load(Ordering::Relaxed).min(size);
            let fraction = if size == 0 { 1.0 } else { got as f64 / size as f64 };
            let filled = ((bar_width as f64) * fraction).round() as usize;
            let bar = format!("{}{}", "█".repeat(filled), "░".repeat(bar_width - filled.min(bar_width)));
            lines.push(Line::from(cut(
                &format!("layer {i:>3} {bar} {:>3} % of {}", (fraction * 100.0) as u32, human_bytes(size)),
                width,
            )));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The blobs a source fetches: the whole, then one bar per blob, the moving ones first.
fn transfer_lines(lines: &mut Vec<Line<'static>>, t: &crate::source::Transfer, width: usize, height: usize) {
    use crate::source::BlobState;
    let blobs = t.blobs.lock().map(|b| b.clone()).unwrap_or_default();
    let (done, total) = t.totals();
    let seconds = t.started.elapsed().as_secs_f64().max(0.001);
    if blobs.is_empty() {
        if done > 0 {
            lines.push(Line::from(cut(
                &format!("{} received · {}/s", human_bytes(done), human_bytes((done as f64 / seconds) as u64)),
                width,
            )));
        }
        return;
    }
    let cached = blobs.iter().filter(|b| b.state() == BlobState::Cached).count();
    let finished = blobs.iter().filter(|b| matches!(b.state(), BlobState::Cached | BlobState::Done)).count();
    lines.push(Line::from(cut(
        &format!(
            "{} of {} · {}/s · {finished} of {} blobs ready ({cached} from the cache)",
            human_bytes(done.min(total)),
            human_bytes(total),
            human_bytes((done as f64 / seconds) as u64),
            blobs.len()
        ),
        width,
    )));
    let bar_width = width.saturating_sub(44).clamp(4, 40);
    let room = height.saturating_sub(lines.len());
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by_key(|&i| {
        let rank = match blobs[i].state() {
            BlobState::Downloading => 0,
            BlobState::Waiting => 1,
            BlobState::Done => 2,
            BlobState::Cached => 3,
        };
        (rank, i)
    });
    for &i in order.iter().take(room) {
        let b = &blobs[i];
        let got = b.done.load(Ordering::Relaxed).min(b.total);
        let fraction = if b.total == 0 { 1.0 } else { got as f64 / b.total as f64 };
        let filled = ((bar_width as f64) * fraction).round() as usize;
        let bar = format!("{}{}", "█".repeat(filled), "░".repeat(bar_width - filled.min(bar_width)));
        let note = match b.state() {
            BlobState::Cached => "cached".to_string(),
            BlobState::Done => "done".to_string(),
            BlobState::Waiting => "waiting".to_string(),
            BlobState::Downloading => b.rate().map_or(String::new(), |r| format!("{}/s", human_bytes(r as u64))),
        };
        lines.push(Line::from(cut(
            &format!("{:<9} {bar} {:>3} % of {:>9}  {note}", b.label, (fraction * 100.0) as u32, human_bytes(b.total)),
            width,
        )));
    }
}

fn draw_input(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme) {
    if area.height == 0 {
        return;
    }
    let width = usize::from(area.width);
    let line = match &e.input {
        Some(Input::Extract { node, dest }) => Line::from(vec![
            Span::styled(
                format!("Extract {} (as in layer {}) into: ", clean(&e.image.tree.display_path(*node).0), e.view.layer),
                theme.label(),
            ),
            Span::raw(format!("{dest}▏")),
            Span::styled("  Enter extract · Esc cancel", theme.dim()),
        ]),
        _ => {
            let editing = e.input.is_some();
            let matches = e.rows.matches.len();
            let mut note = format!("  {matches} match{}", if matches == 1 { "" } else { "es" });
            if e.filter_is_literal {
                note.push_str(" (plain text: not a valid regex)");
            }
            note.push_str(if editing {
                " · Enter keep · Esc clear"
            } else {
                " · n/N next/previous · / edit · Esc clear"
            });
            let mut spans = Vec::new();
            let package = e.view.package.and_then(|i| e.packages.index()?.packages.packages.get(i));
            if let Some(p) = package {
                spans.push(Span::styled("Package: ", theme.label()));
                spans.push(Span::raw(format!("{} {} ({})  ", clean(&p.name), clean(&p.version), p.manager)));
            }
            if editing || !e.view.filter.is_empty() {
                spans.push(Span::styled("Filter: ", theme.label()));
                spans.push(Span::raw(format!("{}{}", clean(&e.view.filter), if editing { "▏" } else { "" })));
            }
            spans.push(Span::styled(note, theme.dim()));
            Line::from(spans)
        }
    };
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    if text.width() > width {
        frame.render_widget(Paragraph::new(cut(&text, width)), area);
    } else {
        frame.render_widget(Paragraph::new(line), area);
    }
}

fn draw_status(frame: &mut Frame, area: Rect, e: &Explorer, keys: &Keymap, theme: Theme) {
    let width = usize::from(area.width);
    if let Some(m) = &e.message {
        let style = if m.error { theme.error() } else { theme.label() };
        frame.render_widget(Paragraph::new(Line::styled(cut(&m.text, width), style)), area);
        return;
    }
    let viewing = matches!(e.overlay, Some(Overlay::Viewer(_)));
    if let Some(job) = &e.job {
        let done = human_bytes(job.progress.load(Ordering::Relaxed));
        let stop = if viewing { "q stops" } else { "Esc stops" };
        let text = format!("{}… {done} · {stop}", clean(&job.what));
        frame.render_widget(Paragraph::new(Line::styled(cut(&text, width), theme.label())), area);
        return;
    }
    let mut spans = Vec::new();
    // The viewer and the packages view take every key but their own: no help from there.
    let overlaid = matches!(e.overlay, Some(Overlay::Viewer(_) | Overlay::Packages(_)));
    let mode = match e.overlay {
        Some(Overlay::Viewer(_)) => Mode::Viewer,
        Some(Overlay::Packages(_)) => Mode::Packages,
        _ => Mode::Browse(e.focus),
    };
    let hints = keys.hints(mode);
    let position = match e.focus {
        _ if overlaid => String::new(),
        Pane::Tree => format!("{}/{} ", (e.cursor + 1).min(e.rows.rows.len()), e.rows.rows.len()),
        Pane::Layers => format!("layer {} of 0–{} ", e.view.layer, e.image.layers.len().saturating_sub(1)),
        Pane::Waste => format!("{}/{} ", e.waste_cursor + 1, e.waste.rows.len()),
    };
    // Keep "? help" and the position whatever the width: drop other hints from the right until
    // they fit.
    let reserved = " ? help ".width() + position.width() + 1;
    let mut used = 0;
    for (k, does) in &hints {
        let w = format!(" {k} {does} ").width();
        if used + w + reserved > width {
            break;
        }
        spans.push(Span::styled(format!(" {k}"), theme.key()));
        spans.push(Span::raw(format!(" {does} ")));
        used += w;
    }
    if !overlaid {
        spans.push(Span::styled(" ?", theme.key()));
        spans.push(Span::raw(" help "));
    }
    let used: usize = spans.iter().map(|s| s.content.width()).sum();
    if used + position.width() < width {
        spans.push(Span::raw(" ".repeat(width - used - position.width())));
        spans.push(Span::styled(position, theme.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [_, v, _] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(height.min(area.height)), Constraint::Fill(1)])
            .areas(area);
    let [_, h, _] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(width.min(area.width)), Constraint::Fill(1)])
            .areas(v);
    h
}

/// What the screen's marks mean, for the help.
const LEGEND: &[(&str, &str)] = &[
    ("● added", "the selected layer created the path"),
    ("● modified", "it changed the content, type or link target"),
    ("● metadata-only", "it rewrote the path with the same bytes (chmod, chown, touch): a whole copy shipped again"),
    ("● removed", "it deleted the path (struck through; the bytes still ship in the layer that added them)"),
    ("○ unchanged", "a path from below it left alone (hidden at first: U shows them)"),
    ("score", "0–100: the share of what the layer shipped or hid that is wasted"),
    ("(no layer)", "a history step that made no layer (ENV, CMD, WORKDIR…)"),
    ("B", "a layer of the base image"),
    ("name → target", "a symbolic link"),
    ("name ⇒ target", "a hard link: the same bytes as the target"),
    ("▲ ▼  3/20", "more lines above / below; the selected line's position"),
];

/// Help lines for `scopes`: keys in a column as wide as the widest, what they do wrapped under
/// itself, so nothing is cut at any width.
fn help_lines(scopes: &[(Scope, &'static str)], keys: &Keymap, theme: Theme, width: usize) -> Vec<Line<'static>> {
    let key_width = keys
        .bindings
        .iter()
        .filter(|b| scopes.iter().any(|(s, _)| *s == b.scope))
        .map(|b| b.key_names().width())
        .chain(LEGEND.iter().map(|(k, _)| k.width()))
        .max()
        .unwrap_or(0);
    let indent = key_width + 4;
    let room = width.saturating_sub(indent).max(10);
    let mut lines = Vec::new();
    let row = |keys: &str, does: &'static str, lines: &mut Vec<Line<'static>>| {
        for (i, part) in wrap_words(does, room).into_iter().enumerate() {
            let head = if i == 0 { format!("  {keys:<key_width$}  ") } else { " ".repeat(indent) };
            lines.push(Line::from(vec![Span::styled(head, theme.key()), Span::raw(part)]));
        }
    };
    for (scope, title) in scopes {
        lines.push(Line::styled(*title, theme.label()));
        for b in keys.bindings.iter().filter(|b| b.scope == *scope) {
            row(&b.key_names(), b.does, &mut lines);
        }
    }
    if scopes.iter().any(|(s, _)| *s == Scope::Viewer) {
        lines.push(Line::styled("Reading the screen", theme.label()));
        for (mark, means) in LEGEND {
            row(mark, means, &mut lines);
        }
    }
    lines
}

/// `text` in lines of at most `width` columns, broken between words (a word longer than a line
/// is cut).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let extra = if line.is_empty() { word.width() } else { line.width() + 1 + word.width() };
        if extra > width && !line.is_empty() {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push(line);
    out.into_iter().map(|l| cut(&l, width)).collect()
}

fn draw_help(frame: &mut Frame, area: Rect, e: &Explorer, keys: &Keymap, theme: Theme) {
    const LEFT: [(Scope, &str); 3] =
        [(Scope::Global, "Everywhere"), (Scope::Layers, "Layers"), (Scope::Waste, "Wasted space")];
    const RIGHT: [(Scope, &str); 3] =
        [(Scope::Tree, "File tree"), (Scope::Packages, "Packages view (p)"), (Scope::Viewer, "File viewer")];
    let two_columns = area.width >= 120;
    // The whole screen: no pane border shows beside the box.
    frame.render_widget(Clear, area);
    let box_area = if two_columns { area } else { centered(area, area.width.min(84), area.height) };
    let block = theme.pane(" Keys · Esc or ? closes · ↑↓ scroll ", true);
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    if two_columns {
        let [l, _, r] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(2), Constraint::Fill(1)]).areas(inner);
        let left = help_lines(&LEFT, keys, theme, usize::from(l.width));
        let right = help_lines(&RIGHT, keys, theme, usize::from(r.width));
        let max = left.len().max(right.len()).saturating_sub(usize::from(inner.height));
        let offset = e.help_offset.min(max) as u16;
        frame.render_widget(Paragraph::new(left).scroll((offset, 0)), l);
        frame.render_widget(Paragraph::new(right).scroll((offset, 0)), r);
    } else {
        let mut lines = help_lines(&LEFT, keys, theme, usize::from(inner.width));
        lines.extend(help_lines(&RIGHT, keys, theme, usize::from(inner.width)));
        let max = lines.len().saturating_sub(usize::from(inner.height));
        let offset = e.help_offset.min(max);
        frame.render_widget(Paragraph::new(lines).scroll((offset as u16, 0)), inner);
    }
}

fn draw_warnings(frame: &mut Frame, area: Rect, e: &Explorer, theme: Theme) {
    let box_area = centered(area, area.width.min(120), area.height);
    frame.render_widget(Clear, box_area);
    let title = format!(
        " {} found while reading · Esc closes · ↑↓ scroll ",
        crate::text::plural(e.image.warnings.len(), "warning", "warnings")
    );
    let block = theme.pane(title, true);
    let inner = block.inner(box_area);
    frame.render_widget(block, box_area);
    let lines: Vec<Line> =
        e.image.warnings.iter().map(|w| Line::from(crate::text::terminal_safe(&w.to_string()).into_owned())).collect();
    let max = lines.len().saturating_sub(usize::from(inner.height));
    let offset = e.help_offset.min(max);
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }).scroll((offset as u16, 0)),
        inner,
    );
}

fn draw_viewer(frame: &mut Frame, panes: &Panes, v: &super::viewer::Viewer, theme: Theme) {
    let area = panes.tree;
    frame.render_widget(Clear, area);
    let kind = if v.binary { "hex" } else { "text" };
    let title =
        format!(" {} · {} · {} · {kind} ", clean(&v.title), stored_where(v.stored_in, v.layer), human_bytes(v.size));
    let block = theme.pane(title, true);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    let body = usize::from(inner.height.saturating_sub(1));
    let mut lines: Vec<Line> = Vec::new();
    if let Some(err) = &v.error {
        lines.push(Line::styled(cut(&format!("cannot read the file: {err}"), width), theme.error()));
    }
    if v.pending.is_some() {
        lines.push(Line::styled(cut("reading… (the status bar shows how far)", width), theme.dim()));
    }
    let count = v.line_count();
    for i in v.top..(v.top + body).min(count) {
        lines.push(Line::raw(cut(&v.shown_line(i), width)));
    }
    while lines.len() < body {
        lines.push(Line::raw(""));
    }
    let chunks = v.size.div_ceil(super::viewer::CHUNK).max(1);
    let footer = format!(
        "lines {}–{} of {}{}{}",
        (v.top + 1).min(count),
        (v.top + body).min(count),
        count,
        if chunks > 1 { format!(" in part {} of {chunks}", v.chunk + 1) } else { String::new() },
        if v.left > 0 { format!(" · from column {}", v.left + 1) } else { String::new() }
    );
    lines.push(Line::styled(cut(&footer, width), theme.dim()));
    frame.render_widget(Paragraph::new(lines), inner);
}
