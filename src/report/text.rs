//! The human-readable report: image figures, worst layers, top waste with causes and fixes, and
//! (in CI mode) every rule's verdict. Colour only when the caller says so (a TTY without NO_COLOR).

use std::io::{self, Write};

use crate::analysis::{Analysis, DiveFigures};
use crate::ci::{Status, Verdict};
use crate::image::Image;
use crate::text::{cut, one_line, plural, terminal_safe};
use crate::units::human_bytes;
use crate::units::{go_percent4, humanize_bytes};

/// Longest command shown in a table row before it is cut.
const COMMAND_WIDTH: usize = 60;
/// Rows of the worst-layer table.
const WORST_LAYERS: usize = 8;
/// Rows of the top-waste table.
const TOP_WASTE: usize = 10;

/// ANSI styling, or none.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Whether to emit colour codes.
    pub color: bool,
}

impl Style {
    /// `text` in `style` (SGR codes written by anstyle), or plain.
    fn paint(self, style: anstyle::Style, text: &str) -> String {
        if self.color { format!("{style}{text}{style:#}") } else { text.to_string() }
    }

    fn bold(self, text: &str) -> String {
        self.paint(anstyle::Style::new().bold(), text)
    }

    fn dim(self, text: &str) -> String {
        self.paint(anstyle::Style::new().dimmed(), text)
    }

    /// The run's result: PASS in bold green, FAIL in bold red.
    fn result(self, passed: bool) -> String {
        let colour = |c: anstyle::AnsiColor| anstyle::Style::new().fg_color(Some(c.into())).bold();
        if passed {
            self.paint(colour(anstyle::AnsiColor::Green), "PASS")
        } else {
            self.paint(colour(anstyle::AnsiColor::Red), "FAIL")
        }
    }

    fn status(self, s: Status) -> String {
        let colour = |c: anstyle::AnsiColor| anstyle::Style::new().fg_color(Some(c.into()));
        match s {
            Status::Pass => self.paint(colour(anstyle::AnsiColor::Green), "PASS"),
            Status::Fail => self.paint(colour(anstyle::AnsiColor::Red).bold(), "FAIL"),
            Status::Skip => self.paint(colour(anstyle::AnsiColor::Blue), "SKIP"),
        }
    }
}

fn percent(r: f64) -> String {
    format!("{:.2} %", r * 100.0)
}

/// Layer numbers as ranges: `0-2,5`.
pub fn layer_ranges(layers: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < layers.len() {
        let start = layers[i];
        let mut end = start;
        while i + 1 < layers.len() && layers[i + 1] == end + 1 {
            i += 1;
            end = layers[i];
        }
        out.push(if end > start { format!("{start}-{end}") } else { start.to_string() });
        i += 1;
    }
    out.join(",")
}

/// Warnings listed in the text report (all of them are in the JSON report).
const WARNINGS: usize = 10;

/// Write the report. `verdict` adds the rules section (CI mode); `dive_figures` shows dive's
/// figures in place of layerscope's (`--dive-compat`). Every name from the image is escaped.
pub fn write_text<W: Write + ?Sized>(
    image: &Image,
    analysis: &Analysis,
    dive: &DiveFigures,
    verdict: Option<&Verdict>,
    dive_figures: bool,
    style: Style,
    out: &mut W,
) -> io::Result<()> {
    let mut title = format!("{} · {}", terminal_safe(&image.source), image.format);
    if let Some(p) = &image.platform {
        title.push_str(&format!(" · {}", terminal_safe(&p.to_string())));
    }
    if let Some(tag) = image.tags.first() {
        title.push_str(&format!(" · {}", terminal_safe(tag)));
    }
    writeln!(out, "{}", style.bold(&title))?;
    // Warnings first: a figure read from an incomplete image must not look trustworthy.
    write_warnings(image, style, out)?;
    if dive_figures {
        write_dive_figures(dive, out)?;
    } else {
        write_figures(image, analysis, style, out)?;
        write_container(image, style, out)?;
    }
    write_worst_layers(image, analysis, style, out)?;
    write_waste_sources(analysis, style, out)?;
    write_top_waste(analysis, style, out)?;
    if let Some(v) = verdict {
        write_rules(v, style, out)?;
    }
    out.flush()
}

/// A container's writable layer beside its image, and the engine's own two figures.
fn write_container<W: Write + ?Sized>(image: &Image, style: Style, out: &mut W) -> io::Result<()> {
    let (Some(c), Some(top)) = (image.container(), image.container_layer()) else { return Ok(()) };
    let writable = image.layers[top].size_bytes;
    let below: u64 = image.layers[..top].iter().map(|l| l.size_bytes).sum();
    writeln!(out)?;
    let of = c.image_name.as_deref().unwrap_or(&c.image_id);
    let from = if c.writable_layer_from == "upperdir" {
        format!("read from its overlay UpperDir {}", c.upper_dir.as_deref().unwrap_or("?"))
    } else {
        format!("read from {}'s changes list and an export", c.engine)
    };
    writeln!(out, "{}", style.bold(&terminal_safe(&format!("container {} of {of}", c.name))))?;
    let row = |out: &mut W, name: &str, value: String, note: String| {
        writeln!(out, "  {:<14}{:>11}   {}", name, value, style.dim(&terminal_safe(&note)))
    };
    row(out, "writable", human_bytes(writable), format!("layer {top}, what the container added or changed; {from}"))?;
    row(
        out,
        "with image",
        human_bytes(below + writable),
        format!("its image's {} and the writable layer", human_bytes(below)),
    )?;
    if let Some(size) = c.engine_size {
        let virtual_size = c.engine_virtual_size.map(|v| format!("virtual {}, ", human_bytes(v))).unwrap_or_default();
        row(
            out,
            &format!("{} ps -s", c.engine),
            human_bytes(size),
            format!("{virtual_size}as the engine counts: files and symlinks (SizeRw), image and all (SizeRootFs)"),
        )?;
    }
    Ok(())
}

fn write_warnings<W: Write + ?Sized>(image: &Image, style: Style, out: &mut W) -> io::Result<()> {
    if image.warnings.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold(&plural(image.warnings.len(), "warning", "warnings")))?;
    for w in image.warnings.iter().take(WARNINGS) {
        writeln!(out, "  {}", terminal_safe(&w.to_string()))?;
    }
    if image.warnings.len() > WARNINGS {
        writeln!(out, "  {}", style.dim(&format!("… {} more in the --json report", image.warnings.len() - WARNINGS)))?;
    }
    Ok(())
}

fn write_figures<W: Write + ?Sized>(image: &Image, a: &Analysis, style: Style, out: &mut W) -> io::Result<()> {
    let row = |out: &mut W, name: &str, value: String, note: String| {
        writeln!(out, "  {:<14}{:>11}   {}", name, value, style.dim(&note))
    };
    writeln!(out)?;
    row(
        out,
        "image size",
        human_bytes(a.size_bytes),
        format!(
            "regular-file bytes in {} ({} of layer blobs)",
            plural(image.layers.len(), "layer", "layers"),
            human_bytes(image.blob_bytes())
        ),
    )?;
    row(out, "final size", human_bytes(a.final_size_bytes), "visible in the merged tree, hard links once".into())?;
    let share = if a.size_bytes == 0 { 0.0 } else { a.wasted_bytes as f64 / a.size_bytes as f64 };
    row(
        out,
        "wasted",
        human_bytes(a.wasted_bytes),
        format!(
            "{} of the image: deleted {} · overwritten {} · metadata-only {}",
            percent(share),
            human_bytes(a.causes.deleted),
            human_bytes(a.causes.overwritten),
            human_bytes(a.causes.metadata_only)
        ),
    )?;
    row(out, "efficiency", percent(a.efficiency), "final size / image size".into())?;
    let base = &a.base;
    let what = match (&base.name, &base.os) {
        (Some(n), Some(os)) => {
            format!("{n} ({}{})", os.id, os.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default())
        }
        (Some(n), None) => n.clone(),
        (None, Some(os)) => format!("{}{}", os.id, os.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default()),
        (None, None) => "unknown".into(),
    };
    let what = terminal_safe(&what).into_owned();
    row(
        out,
        "base",
        plural(base.layers, "layer", "layers"),
        format!(
            "{what}, found by {}",
            serde_json::to_value(base.method).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ),
    )?;
    let user_layers = image.layers.len().saturating_sub(base.layers);
    row(
        out,
        "user wasted",
        percent(a.user_wasted_percent),
        format!(
            "{} hidden by your {} / {} {} shipped or hid",
            human_bytes(a.user_wasted_bytes),
            plural(user_layers, "layer", "layers"),
            human_bytes(a.user_size_bytes + a.user_hidden_base_bytes),
            if user_layers == 1 { "it" } else { "they" }
        ),
    )?;
    row(
        out,
        "duplicates",
        human_bytes(a.duplicate_content_bytes),
        "identical files at several paths (reclaimable; not counted as waste)".into(),
    )?;
    if let Some(s) = base.suggestions.first() {
        let fit = if s.fits {
            "fits what the image needs".to_string()
        } else {
            format!("would need: {}", s.changes.join("; "))
        };
        row(
            out,
            "slimmer base",
            format!("-{}", human_bytes(s.saving_bytes)),
            terminal_safe(&format!("{} (about {}): {fit}; {}", s.name, human_bytes(s.approx_size_bytes), s.caveat))
                .into_owned(),
        )?;
    }
    Ok(())
}

fn write_dive_figures<W: Write + ?Sized>(d: &DiveFigures, out: &mut W) -> io::Result<()> {
    writeln!(out, "  efficiency: {} %", go_percent4(d.efficiency * 100.0))?;
    writeln!(out, "  wastedBytes: {} bytes ({})", d.wasted_bytes, humanize_bytes(d.wasted_bytes))?;
    writeln!(out, "  userWastedPercent: {} %", go_percent4(d.user_wasted_percent * 100.0))?;
    writeln!(out, "Inefficient Files:")?;
    if d.inefficient_files.is_empty() {
        writeln!(out, "None")?;
    } else {
        writeln!(out, "Count  Wasted Space  File Path")?;
        for f in &d.inefficient_files {
            writeln!(out, "{:>5}  {:>12}  {}", f.count, humanize_bytes(f.size_bytes), terminal_safe(&f.path))?;
        }
    }
    for note in &d.notes {
        writeln!(out, "  note: {}", terminal_safe(note))?;
    }
    Ok(())
}

fn write_worst_layers<W: Write + ?Sized>(image: &Image, a: &Analysis, style: Style, out: &mut W) -> io::Result<()> {
    let mut worst: Vec<_> = a.layers.iter().filter(|l| l.wasted_bytes + l.hides_bytes > 0).collect();
    if worst.is_empty() {
        return Ok(());
    }
    worst.sort_by(|x, y| {
        (y.wasted_bytes + y.hides_bytes).cmp(&(x.wasted_bytes + x.hides_bytes)).then(y.score.cmp(&x.score))
    });
    writeln!(out)?;
    writeln!(
        out,
        "{} {}",
        style.bold("worst layers"),
        style.dim("(score: share of the bytes a layer ships or hides that end up wasted)")
    )?;
    writeln!(out, "  {:>3}  {:>5}  {:>10}  {:>10}  {:>10}  command", "#", "score", "ships", "wasted", "hides")?;
    for l in worst.iter().take(WORST_LAYERS) {
        let command = image.layers.get(l.index).and_then(|x| x.command()).unwrap_or("(no history)");
        let base_mark = if l.index < a.base.layers { "base: " } else { "" };
        writeln!(
            out,
            "  {:>3}  {:>5}  {:>10}  {:>10}  {:>10}  {}{}",
            l.index,
            l.score,
            human_bytes(l.size_bytes),
            human_bytes(l.wasted_bytes),
            human_bytes(l.hides_bytes),
            base_mark,
            cut(&one_line(command), COMMAND_WIDTH)
        )?;
    }
    if worst.len() > WORST_LAYERS {
        writeln!(out, "  {}", style.dim(&format!("… {} more", worst.len() - WORST_LAYERS)))?;
    }
    Ok(())
}

/// Wasted bytes by where they come from, each with its fix.
fn write_waste_sources<W: Write + ?Sized>(a: &Analysis, style: Style, out: &mut W) -> io::Result<()> {
    if a.waste_sources.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold("waste by source (what to change)"))?;
    for s in &a.waste_sources {
        let layers = format!("layers {}→{}", layer_ranges(&s.shipped_by), layer_ranges(&s.hidden_by));
        let files = plural(usize::try_from(s.files).unwrap_or(usize::MAX), "file", "files");
        writeln!(out, "  {:>10}  {}: {files}, {layers}", human_bytes(s.bytes), s.label)?;
        writeln!(out, "  {:>10}  {}", "", style.dim(&format!("fix: {}", s.fix)))?;
    }
    Ok(())
}

fn write_top_waste<W: Write + ?Sized>(a: &Analysis, style: Style, out: &mut W) -> io::Result<()> {
    if a.top_waste.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold("top waste"))?;
    writeln!(out, "  {:>10}  {:<13}  {:<9}  path", "bytes", "cause", "layers")?;
    for w in a.top_waste.iter().take(TOP_WASTE) {
        let layers = format!("{}→{}", layer_ranges(&w.shipped_by), layer_ranges(&w.hidden_by));
        let path = terminal_safe(&w.path);
        let what = if w.files > 1 { format!("{path} ({} files)", w.files) } else { path.into_owned() };
        writeln!(out, "  {:>10}  {:<13}  {:<9}  {}", human_bytes(w.bytes), w.cause.label(), layers, what)?;
        writeln!(out, "  {:>10}  {}", "", style.dim(&format!("fix: {}", w.fix)))?;
    }
    if a.top_waste.len() > TOP_WASTE {
        writeln!(out, "  {}", style.dim(&format!("… {} more in the --json report", a.top_waste.len() - TOP_WASTE)))?;
    }
    if !a.duplicates.is_empty() {
        writeln!(out)?;
        writeln!(out, "{}", style.bold("duplicate content (reclaimable by keeping one copy)"))?;
        for d in a.duplicates.iter().take(5) {
            writeln!(
                out,
                "  {:>10}  {} × {}: {}",
                human_bytes(d.reclaimable_bytes),
                d.paths.len(),
                human_bytes(d.size_bytes),
                cut(&d.paths.join(", "), 70)
            )?;
        }
    }
    Ok(())
}

fn write_rules<W: Write + ?Sized>(v: &Verdict, style: Style, out: &mut W) -> io::Result<()> {
    writeln!(out)?;
    let source = match &v.config {
        Some(c) => format!("{} figures; config {}", v.figures, terminal_safe(c)),
        None => format!("{} figures; no config file", v.figures),
    };
    writeln!(out, "{} {}", style.bold("rules"), style.dim(&format!("({source})")))?;
    for r in &v.results {
        writeln!(out, "  {}  {:<28} {}", style.status(r.status), r.rule.name(), terminal_safe(&r.message))?;
    }
    for key in &v.ignored_config_keys {
        writeln!(out, "  {}", style.dim(&format!("ignored config key '{}'", terminal_safe(key))))?;
    }
    let result = style.result(v.passed);
    writeln!(
        out,
        "result: {result} ({} passed, {} failed, {} skipped)",
        v.count(Status::Pass),
        v.count(Status::Fail),
        v.count(Status::Skip)
    )
}

/// Packages listed in the text report (all of them are in the JSON report).
const PACKAGES: usize = 10;

/// The largest packages and what each layer did to them.
pub fn write_packages<W: Write + ?Sized>(
    p: &crate::analysis::packages::Packages,
    style: Style,
    out: &mut W,
) -> io::Result<()> {
    writeln!(out)?;
    let databases: Vec<String> =
        p.databases
            .iter()
            .map(|d| {
                if d.read {
                    format!("{} {}", d.manager, d.path)
                } else {
                    format!("{} {} (not read)", d.manager, d.path)
                }
            })
            .collect();
    writeln!(
        out,
        "{} {}",
        style.bold(&format!("packages ({})", p.packages.len())),
        style.dim(&terminal_safe(&databases.join(", ")))
    )?;
    if let Some(why) = &p.skipped {
        writeln!(out, "  {}", style.dim(why))?;
        return Ok(());
    }
    writeln!(out, "  {:>10}  {:>10}  {:<28}  version", "final", "wasted", "package")?;
    for k in p.packages.iter().take(PACKAGES) {
        writeln!(
            out,
            "  {:>10}  {:>10}  {:<28}  {}",
            human_bytes(k.final_bytes),
            human_bytes(k.wasted_bytes),
            terminal_safe(&k.name),
            terminal_safe(&k.version)
        )?;
    }
    for l in &p.layers {
        let mut parts: Vec<String> = l.added.iter().map(|a| format!("+{a}")).collect();
        parts.extend(l.upgraded.iter().map(|u| format!("~{u}")));
        parts.extend(l.removed.iter().map(|r| format!("-{r}")));
        let shown = cut(&parts.join(" "), 100);
        writeln!(out, "  layer {:<3} {}", l.layer, style.dim(&terminal_safe(&shown)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compact_consecutive_layers() {
        assert_eq!(layer_ranges(&[1, 2, 3, 5, 7, 8]), "1-3,5,7-8");
        assert_eq!(layer_ranges(&[4]), "4");
    }
}
