//! Serialisable reports and their printers. The engine builds the model; these modules only shape
//! it for people (`text`) and programs (`json`, `files`).

pub mod df;
pub mod diff;
pub mod dive;
pub mod files;
pub mod github;
pub mod junit;
pub mod sarif;
pub mod text;

use serde::Serialize;

use crate::analysis::{Analysis, DiveFigures};
use crate::ci::Verdict;
use crate::format::History;
use crate::image::{Image, Layer, clean_command};
use crate::source::Origin;
use crate::warning::Warning;

/// Version tag of the JSON report; bumped on incompatible changes.
pub const REPORT_SCHEMA: &str = "layerscope.report/v2";

/// The `--json` report.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    /// Always [`REPORT_SCHEMA`].
    pub schema: &'static str,
    /// The image as a whole.
    pub image: ImageReport<'a>,
    /// Layers, base first.
    pub layers: Vec<LayerReport<'a>>,
    /// Problems found while loading.
    pub warnings: &'a [Warning],
    /// Sizes, waste and its causes, per-layer scores, base image (see [`crate::analysis`]).
    pub analysis: &'a Analysis,
    /// dive 0.13.1's figures for the same image.
    pub dive: DiveSummary<'a>,
    /// The packages its databases list, when it has any (see [`crate::analysis::packages`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packages: Option<&'a crate::analysis::packages::Packages>,
    /// The CI verdict, when rules were evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci: Option<&'a Verdict>,
}

/// dive's three figures, as dive computes them.
#[derive(Debug, Serialize)]
pub struct DiveSummary<'a> {
    /// dive's efficiency score.
    pub efficiency: f64,
    /// dive's wasted bytes (every copy counted).
    pub wasted_bytes: u64,
    /// dive's user wasted percent; null where dive prints NaN or +Inf.
    pub user_wasted_percent: Option<f64>,
    /// dive's inefficient-file list.
    pub inefficient_files: &'a [crate::analysis::dive::DiveFile],
}

impl<'a> DiveSummary<'a> {
    fn new(d: &'a DiveFigures) -> Self {
        DiveSummary {
            efficiency: d.efficiency,
            wasted_bytes: d.wasted_bytes,
            user_wasted_percent: d.user_wasted_percent.is_finite().then_some(d.user_wasted_percent),
            inefficient_files: &d.inefficient_files,
        }
    }
}

/// Image-level facts.
#[derive(Debug, Serialize)]
pub struct ImageReport<'a> {
    /// The input as named on the command line (`-` is `<stdin>`).
    pub source: &'a str,
    /// Where the image came from: `file`, `stdin`, `docker`, `podman`, `containerd` or
    /// `registry`, with the reference, the address and whether it all came from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'a Origin>,
    /// The archive layout (`docker-archive`, `oci-archive`, ...).
    pub format: String,
    /// Compression of the archive itself, when it was compressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_compression: Option<String>,
    /// Tags.
    pub tags: &'a [String],
    /// `os/arch[/variant]`.
    pub platform: Option<String>,
    /// sha256 of the config (the image ID).
    pub config_digest: &'a str,
    /// Digest of the OCI manifest.
    pub manifest_digest: Option<&'a str>,
    /// Creation time from the config.
    pub created: Option<&'a str>,
    /// ENTRYPOINT.
    pub entrypoint: Option<&'a [String]>,
    /// CMD.
    pub cmd: Option<&'a [String]>,
    /// Number of layers.
    pub layer_count: usize,
    /// Σ layer content sizes: regular-file bytes in all layer tars (as dive and `docker image ls`
    /// count them).
    pub size_bytes: u64,
    /// Σ blob sizes: the bytes a pull transfers (compressed where the layers are).
    pub blob_bytes: u64,
    /// Paths visible in the final merged tree (directories included).
    pub path_count: u64,
}

/// One layer.
#[derive(Debug, Serialize)]
pub struct LayerReport<'a> {
    /// Position, 0 = base.
    pub index: usize,
    /// sha256 of the uncompressed layer tar (from the config).
    pub diff_id: Option<&'a str>,
    /// Digest of the blob as stored.
    pub blob_digest: Option<&'a str>,
    /// Media type from the manifest.
    pub media_type: Option<&'a str>,
    /// `uncompressed`, `gzip`, `zstd` or `empty`, from the blob's magic bytes; null when missing.
    pub compression: Option<String>,
    /// Bytes of the blob in the archive.
    pub blob_bytes: Option<u64>,
    /// Σ regular-file sizes in the layer tar.
    pub size_bytes: u64,
    /// The instruction, `/bin/sh -c ` removed.
    pub command: Option<&'a str>,
    /// When the instruction ran.
    pub created: Option<&'a str>,
    /// History comment.
    pub comment: Option<&'a str>,
    /// Instructions that made no layer (ENV, LABEL...) following this one.
    pub empty_instructions: Vec<Instruction<'a>>,
    /// Records in the layer tar (whiteouts included).
    pub entries: u32,
    /// Paths the layer added.
    pub added: u64,
    /// Paths whose content, type or link target the layer changed.
    pub modified: u64,
    /// Paths the layer rewrote with the same content (mode, owner or mtime only).
    pub metadata_only: u64,
    /// Paths the layer removed, subtrees included.
    pub removed: u64,
    /// True when the archive lacks the blob.
    pub missing: bool,
    /// With `--verify`: whether the blob digest and DiffID match the bytes; null when not checked.
    pub verified: Option<bool>,
}

/// A history entry without a layer.
#[derive(Debug, Serialize)]
pub struct Instruction<'a> {
    /// The instruction.
    pub command: Option<&'a str>,
    /// When it ran.
    pub created: Option<&'a str>,
    /// History comment.
    pub comment: Option<&'a str>,
}

impl<'a> Instruction<'a> {
    fn from_history(h: &'a History) -> Self {
        Instruction {
            command: h.created_by.as_deref().map(clean_command),
            created: h.created.as_deref(),
            comment: h.comment.as_deref(),
        }
    }
}

impl<'a> LayerReport<'a> {
    /// Describe one layer.
    pub fn new(layer: &'a Layer) -> Self {
        let history = layer.history.as_ref();
        LayerReport {
            index: layer.index,
            diff_id: layer.diff_id.as_deref(),
            blob_digest: layer.blob_digest.as_deref(),
            media_type: layer.media_type.as_deref(),
            compression: layer.compression.map(|c| c.to_string()),
            blob_bytes: layer.blob_bytes,
            size_bytes: layer.size_bytes,
            command: layer.command(),
            created: history.and_then(|h| h.created.as_deref()),
            comment: history.and_then(|h| h.comment.as_deref()),
            empty_instructions: layer.empty_instructions.iter().map(Instruction::from_history).collect(),
            entries: layer.entries.end - layer.entries.start,
            added: layer.counts.added,
            modified: layer.counts.modified,
            metadata_only: layer.counts.metadata_only,
            removed: layer.counts.removed,
            missing: layer.missing,
            verified: layer.verified,
        }
    }
}

impl<'a> Report<'a> {
    /// Describe a loaded and analysed image, dive's figures for it, and the CI verdict when
    /// there is one.
    pub fn new(image: &'a Image, analysis: &'a Analysis, dive: &'a DiveFigures, ci: Option<&'a Verdict>) -> Self {
        let run = image.config.config.as_ref();
        let path_count = image.top_layer().map_or(0, |top| image.tree.visible_nodes(top).count() as u64);
        Report {
            schema: REPORT_SCHEMA,
            image: ImageReport {
                source: &image.source,
                origin: image.origin.as_ref(),
                format: image.format.to_string(),
                archive_compression: image.outer_compression.map(|c| c.to_string()),
                tags: &image.tags,
                platform: image.platform.as_ref().map(ToString::to_string),
                config_digest: &image.config_digest,
                manifest_digest: image.manifest_digest.as_deref(),
                created: image.config.created.as_deref(),
                entrypoint: run.and_then(|r| r.entrypoint.as_deref()),
                cmd: run.and_then(|r| r.cmd.as_deref()),
                layer_count: image.layers.len(),
                size_bytes: image.size_bytes(),
                blob_bytes: image.blob_bytes(),
                path_count,
            },
            layers: image.layers.iter().map(LayerReport::new).collect(),
            warnings: &image.warnings,
            analysis,
            dive: DiveSummary::new(dive),
            packages: None,
            ci,
        }
    }

    /// With the image's packages.
    #[must_use]
    pub fn with_packages(mut self, packages: Option<&'a crate::analysis::packages::Packages>) -> Self {
        self.packages = packages;
        self
    }

    /// Write as pretty JSON.
    pub fn write_json<W: std::io::Write>(&self, out: W) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(out, self)
    }
}
