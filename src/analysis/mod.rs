//! Where an image's bytes go: sizes, waste and its causes, per-layer scores, duplicate content,
//! the base image, and dive's figures for compatibility. Pure functions of a loaded [`Image`].
//!
//! # Definitions
//!
//! * **Image size**: Σ layer sizes (regular-file bytes in every layer tar).
//! * **Final size**: bytes of the regular files visible after the last layer, each hard-linked
//!   file counted once.
//! * **Wasted bytes** = image size − final size: every copy a perfect rebuild would not ship. A path
//!   written k times wastes k−1 copies (dive counts k). Each wasted copy has a cause and two layers,
//!   the one that shipped it and the one that made it invisible:
//!   * `deleted`: a whiteout, an opaque directory, or the removal of a parent directory hid it;
//!   * `overwritten`: the path was written again with other content (or replaced by a directory);
//!   * `metadata_only`: the path was written again with the *same* content (a `chmod`, `chown` or
//!     `touch` in a later layer, or an identical re-add): the copy-up case.
//! * **Efficiency** = final size / image size (1 for an empty image).
//! * **Duplicate content**: identical bytes visible at several paths (not hard links). Reclaimable by
//!   deduplication; reported beside the waste, not counted in it.
//! * **User figures**: the user's layers are those above the base image. User wasted bytes = bytes
//!   hidden by user layers; user wasted percent = that / (bytes the user layers shipped + bytes of base
//!   layers they hid), always in [0, 1]. User efficiency = 1 − user wasted percent.

pub mod base;
pub mod diff;
pub mod disk;
pub mod dive;
mod gosort;
pub mod needs;
pub mod packages;
pub mod sources;
mod stored;
mod waste;

use serde::Serialize;

pub use base::{BaseImage, BaseMethod, Suggestion};
pub use dive::DiveFigures;
pub use waste::{Cause, Causes, Duplicate, LayerWaste, WastePath};

use crate::image::Image;

/// Options of an analysis.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--base-layers N`: the first N layers are the base image.
    pub base_layers: Option<usize>,
    /// How many paths to list in [`Analysis::top_waste`].
    pub top: Option<usize>,
}

/// Default length of the top-waste list.
pub const DEFAULT_TOP: usize = 20;

/// Everything the analysis found.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    /// Σ layer sizes.
    pub size_bytes: u64,
    /// Bytes visible after the last layer, hard links once.
    pub final_size_bytes: u64,
    /// size − final.
    pub wasted_bytes: u64,
    /// final / size (1 for an empty image).
    pub efficiency: f64,
    /// Σ sizes of the user's layers.
    pub user_size_bytes: u64,
    /// Bytes hidden by the user's layers.
    pub user_wasted_bytes: u64,
    /// Of those, bytes the base layers shipped.
    pub user_hidden_base_bytes: u64,
    /// user wasted / (user shipped + base bytes the user hid), in [0, 1].
    pub user_wasted_percent: f64,
    /// 1 − user wasted percent.
    pub user_efficiency: f64,
    /// Wasted bytes by cause; the three add up to `wasted_bytes`.
    pub causes: Causes,
    /// Bytes reclaimable by deduplicating identical visible files.
    pub duplicate_content_bytes: u64,
    /// Groups of identical visible files, largest reclaimable first (the first 20).
    pub duplicates: Vec<Duplicate>,
    /// The base image.
    pub base: BaseImage,
    /// One entry per layer, in layer order.
    pub layers: Vec<LayerWaste>,
    /// Paths (or deleted directories) by wasted bytes, largest first.
    pub top_waste: Vec<WastePath>,
    /// Wasted bytes by where they come from (apt lists, a pip cache, a chmod…), with the fix for
    /// each, largest first.
    pub waste_sources: Vec<sources::SourceWaste>,
}

/// Analyse a loaded image.
pub fn analyze(image: &Image, options: &Options) -> Analysis {
    from_waste(image, options, waste::compute(image, options.top.unwrap_or(DEFAULT_TOP)))
}

/// Analyse a loaded image, with dive's figures when `with_dive`, reusing what the cache kept for
/// its tree and keeping what had to be computed. The two are independent: one core each.
pub fn analyze_cached(image: &Image, options: &Options, with_dive: bool) -> (Analysis, Option<DiveFigures>) {
    let top = options.top.unwrap_or(DEFAULT_TOP);
    let entry = image.tree_entry();
    let waste_kind = format!("waste-top{top}");
    const DIVE_KIND: &str = "dive";
    let waste = entry.and_then(|e| stored::decode_waste(&e.derived(&waste_kind)?, image));
    let dive = if with_dive { entry.and_then(|e| stored::decode_dive(&e.derived(DIVE_KIND)?, image)) } else { None };
    let need_dive = with_dive && dive.is_none();
    let (waste, dive) = std::thread::scope(|scope| {
        let computed_dive = need_dive.then(|| {
            scope.spawn(|| {
                let figures = dive::figures(image);
                if let Some(e) = entry {
                    // A cache that cannot be written only costs the next run this computation.
                    let _ = e.store_derived(DIVE_KIND, &stored::encode_dive(&figures));
                }
                figures
            })
        });
        let waste = waste.unwrap_or_else(|| {
            let computed = waste::compute(image, top);
            if let Some(e) = entry {
                let _ = e.store_derived(&waste_kind, &stored::encode_waste(&computed));
            }
            computed
        });
        // A panic in the other thread is a bug; compute again here rather than lose the report.
        let dive = dive.or_else(|| computed_dive.map(|h| h.join().unwrap_or_else(|_| dive::figures(image))));
        (waste, dive)
    });
    (from_waste(image, options, waste), dive)
}

fn from_waste(image: &Image, options: &Options, waste: waste::WasteResult) -> Analysis {
    let base = base::detect(image, options.base_layers);
    let user = waste::user_figures(image, &waste, base.layers);
    let size = image.size_bytes();
    Analysis {
        size_bytes: size,
        final_size_bytes: waste.final_size,
        wasted_bytes: size - waste.final_size,
        efficiency: ratio(waste.final_size, size, 1.0),
        user_size_bytes: user.size,
        user_wasted_bytes: user.wasted,
        user_hidden_base_bytes: user.base_hidden,
        user_wasted_percent: user.percent,
        user_efficiency: 1.0 - user.percent,
        causes: waste.causes,
        duplicate_content_bytes: waste.duplicate_bytes,
        duplicates: waste.duplicates,
        base,
        layers: waste.layers,
        top_waste: waste.top,
        waste_sources: waste.sources,
    }
}

/// Check the options against the image they are for (`--base-layers` within the layer count).
pub fn check_options(image: &Image, options: &Options) -> crate::Result<()> {
    if let Some(n) = options.base_layers
        && n > image.layers.len()
    {
        return Err(crate::Error::InvalidArgument(format!(
            "--base-layers {n}: the image has only {}",
            crate::text::plural(image.layers.len(), "layer", "layers")
        )));
    }
    Ok(())
}

/// a / b as a fraction, `empty` when b is 0.
fn ratio(a: u64, b: u64, empty: f64) -> f64 {
    if b == 0 { empty } else { a as f64 / b as f64 }
}
