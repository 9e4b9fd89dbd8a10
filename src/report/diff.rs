//! `layerscope diff`: two images compared, as text or JSON.

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::diff::ImageDiff;
use crate::text::terminal_safe;
use crate::units::human_bytes;

/// The JSON schema of `diff --format json`.
pub const DIFF_SCHEMA: &str = "layerscope.diff/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    old: &'a str,
    new: &'a str,
    #[serde(flatten)]
    diff: &'a ImageDiff,
}

/// Write `diff` of images `old` and `new` (as named) as JSON.
pub fn write_json(diff: &ImageDiff, old: &str, new: &str, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, &Document { schema: DIFF_SCHEMA, old, new, diff })?;
    writeln!(out)
}

/// `+1.2 MB`, `-300 B`, `0 B`.
pub fn signed_bytes(n: i64) -> String {
    let size = human_bytes(n.unsigned_abs());
    match n.signum() {
        1 => format!("+{size}"),
        -1 => format!("-{size}"),
        _ => size,
    }
}

/// Write `diff` as text: the figures, where the stacks part, directories, then the `top` paths
/// that changed most.
pub fn write_text(diff: &ImageDiff, old: &str, new: &str, top: usize, mut out: impl Write) -> io::Result<()> {
    writeln!(out, "{} → {}", terminal_safe(old), terminal_safe(new))?;
    writeln!(
        out,
        "Size     {} → {} ({})",
        human_bytes(diff.size_bytes.0),
        human_bytes(diff.size_bytes.1),
        signed_bytes(diff.size_delta_bytes)
    )?;
    writeln!(
        out,
        "Final    {}   Wasted {}",
        signed_bytes(diff.final_size_delta_bytes),
        signed_bytes(diff.wasted_delta_bytes)
    )?;
    let c = &diff.counts;
    writeln!(
        out,
        "Paths    {} added, {} removed, {} modified, {} metadata-only, {} type changed",
        c.added, c.removed, c.modified, c.metadata_only, c.type_changed
    )?;
    writeln!(out, "\nLayers   {} shared (same ChainIDs), then:", diff.shared_layers)?;
    for (label, layers) in [("old", &diff.old_layers), ("new", &diff.new_layers)] {
        if layers.is_empty() {
            writeln!(out, "  {label}  (nothing more)")?;
        }
        for l in layers.iter() {
            let command = crate::text::cut(&crate::text::one_line(&l.command), 70);
            writeln!(out, "  {label}  {:>2} {:>10}  {command}", l.index, human_bytes(l.size_bytes))?;
        }
    }
    if !diff.directories.is_empty() {
        writeln!(out, "\nDirectories")?;
        for d in diff.directories.iter().take(top) {
            writeln!(out, "  {:>11}  {}  ({} paths)", signed_bytes(d.delta_bytes), terminal_safe(&d.path), d.paths)?;
        }
    }
    if !diff.paths.is_empty() {
        writeln!(out, "\nPaths, largest change first")?;
        for p in diff.paths.iter().take(top) {
            writeln!(
                out,
                "  {:>11}  {:<13}  {}  (layer {})",
                signed_bytes(p.delta_bytes),
                p.change.label(),
                terminal_safe(&p.path),
                p.layer
            )?;
        }
        if diff.paths.len() > top {
            writeln!(out, "  … {} more (--format json lists them all)", diff.paths.len() - top)?;
        }
    }
    Ok(())
}
