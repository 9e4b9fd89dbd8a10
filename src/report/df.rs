//! `layerscope df`: the disk several images take, as text or JSON.

use std::io::{self, Write};

use serde::Serialize;

use crate::analysis::disk::DiskUsage;
use crate::text::terminal_safe;
use crate::units::human_bytes;

/// The JSON schema of `df --format json`.
pub const DF_SCHEMA: &str = "layerscope.df/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    #[serde(flatten)]
    usage: &'a DiskUsage,
}

/// Write `usage` as JSON.
pub fn write_json(usage: &DiskUsage, mut out: impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, &Document { schema: DF_SCHEMA, usage })?;
    writeln!(out)
}

/// Write `usage` as a table, then what the totals mean.
pub fn write_text(usage: &DiskUsage, mut out: impl Write) -> io::Result<()> {
    let name_width =
        usage.images.iter().map(|i| terminal_safe(&i.name).chars().count()).max().unwrap_or(5).clamp(5, 60);
    writeln!(out, "{:<name_width$}  {:>10}  {:>10}  {:>10}  layers (shared)", "IMAGE", "SIZE", "SHARED", "UNIQUE")?;
    for i in &usage.images {
        let name = crate::text::cut(&i.name, name_width);
        writeln!(
            out,
            "{name:<name_width$}  {:>10}  {:>10}  {:>10}  {} ({})",
            human_bytes(i.size_bytes),
            human_bytes(i.shared_bytes),
            human_bytes(i.unique_bytes),
            i.layers,
            i.shared_layers
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Sum of sizes   {:>10}   what adding up each image's size (docker's virtual size) says",
        human_bytes(usage.naive_bytes)
    )?;
    writeln!(out, "On disk        {:>10}   each shared layer stored once", human_bytes(usage.real_bytes))?;
    writeln!(out, "Saved          {:>10}   by sharing layers", human_bytes(usage.saved_bytes))?;
    writeln!(out, "A layer is shared when another image given has the same layers up to it (the same ChainID).")
}
