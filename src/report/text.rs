//! A plain-text summary of an image: what `layerscope IMAGE` prints where no terminal UI runs.

use std::io::{self, Write};

use super::human_bytes;
use crate::image::Image;

/// Longest command shown in the layer table before it is cut.
const COMMAND_WIDTH: usize = 72;

/// Print the image summary and its layer table.
pub fn write_summary<W: Write>(image: &Image, mut out: W) -> io::Result<()> {
    writeln!(out, "{}  ({})", image.source, image.format)?;
    if !image.tags.is_empty() {
        writeln!(out, "  tags      {}", image.tags.join(", "))?;
    }
    if let Some(p) = &image.platform {
        writeln!(out, "  platform  {p}")?;
    }
    writeln!(out, "  image id  {}", image.config_digest)?;
    writeln!(
        out,
        "  size      {} of files in {} layers ({} of layer blobs)",
        human_bytes(image.size_bytes()),
        image.layers.len(),
        human_bytes(image.blob_bytes()),
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>3}  {:>9}  {:>9}  {:<5} {:>6} {:>6} {:>6} {:>6}  command",
        "#", "size", "blob", "comp", "added", "modif", "meta", "remov"
    )?;
    for layer in &image.layers {
        let command = layer.command().unwrap_or("(no history)");
        let command: String = command.replace('\n', " ").chars().take(COMMAND_WIDTH).collect();
        writeln!(
            out,
            "{:>3}  {:>9}  {:>9}  {:<5} {:>6} {:>6} {:>6} {:>6}  {}",
            layer.index,
            human_bytes(layer.size_bytes),
            layer.blob_bytes.map_or_else(|| "missing".to_string(), human_bytes),
            layer.compression.map_or_else(|| "-".to_string(), |c| c.to_string()),
            layer.counts.added,
            layer.counts.modified,
            layer.counts.metadata,
            layer.counts.removed,
            command.trim_end(),
        )?;
    }
    if !image.warnings.is_empty() {
        writeln!(out)?;
        writeln!(out, "warnings ({}):", image.warnings.len())?;
        for w in &image.warnings {
            writeln!(out, "  {w}")?;
        }
    }
    out.flush()
}
