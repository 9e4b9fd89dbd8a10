//! The cached form of what analysing a tree yields: postcard payloads of the cache's derived
//! entries. Its own types where the report's serde attributes (skipped or optional fields) would
//! not round-trip, and every index is checked against the image before the figures are used.

use serde::{Deserialize, Serialize};

use super::Cause;
use super::dive::{DiveFigures, DiveFile};
use super::waste::{Causes, Duplicate, LayerWaste, WastePath, WasteResult};
use crate::image::Image;
use crate::tree::NodeId;

#[derive(Serialize, Deserialize)]
struct StoredWaste {
    final_size: u64,
    causes: Causes,
    layers: Vec<LayerWaste>,
    top: Vec<StoredPath>,
    duplicate_bytes: u64,
    duplicates: Vec<Duplicate>,
    dead_by_layers: Vec<(usize, usize, u64)>,
    sources: Vec<super::sources::SourceWaste>,
}

#[derive(Serialize, Deserialize)]
struct StoredPath {
    path: String,
    path_raw: Option<String>,
    node: u32,
    bytes: u64,
    copies: u32,
    files: u32,
    cause: Cause,
    shipped_by: Vec<usize>,
    hidden_by: Vec<usize>,
    fix: String,
}

#[derive(Serialize, Deserialize)]
struct StoredDive {
    efficiency: f64,
    wasted_bytes: u64,
    user_wasted_percent: f64,
    size_bytes: u64,
    user_size_bytes: u64,
    inefficient_files: Vec<(u32, u64, String, Vec<u8>)>,
    notes: Vec<String>,
}

/// The payload of a waste result.
pub(crate) fn encode_waste(waste: &WasteResult) -> Vec<u8> {
    let stored = StoredWaste {
        final_size: waste.final_size,
        causes: waste.causes,
        layers: waste.layers.clone(),
        top: waste
            .top
            .iter()
            .map(|p| StoredPath {
                path: p.path.clone(),
                path_raw: p.path_raw.clone(),
                node: p.node.0,
                bytes: p.bytes,
                copies: p.copies,
                files: p.files,
                cause: p.cause,
                shipped_by: p.shipped_by.clone(),
                hidden_by: p.hidden_by.clone(),
                fix: p.fix.clone(),
            })
            .collect(),
        duplicate_bytes: waste.duplicate_bytes,
        duplicates: waste.duplicates.clone(),
        dead_by_layers: waste.dead_by_layers.clone(),
        sources: waste.sources.clone(),
    };
    postcard::to_allocvec(&stored).unwrap_or_default()
}

/// A waste result read back for `image`; `None` when it does not fit the image's layers and tree.
pub(crate) fn decode_waste(bytes: &[u8], image: &Image) -> Option<WasteResult> {
    let stored: StoredWaste = postcard::from_bytes(bytes).ok()?;
    let layers = image.layers.len();
    let nodes = image.tree.node_count();
    let layer_ok = |i: &usize| *i < layers;
    let fits = stored.layers.len() == layers
        && stored.layers.iter().enumerate().all(|(i, l)| {
            l.index == i
                && l.size_bytes == image.layers[i].size_bytes
                && l.wasted_by_layer.iter().all(|(h, _)| *h < layers)
        })
        && stored.top.iter().all(|p| {
            (p.node as usize) < nodes && p.shipped_by.iter().all(layer_ok) && p.hidden_by.iter().all(layer_ok)
        })
        && stored.dead_by_layers.iter().all(|(s, h, _)| *s < layers && *h < layers)
        && stored.sources.iter().all(|s| s.shipped_by.iter().all(layer_ok) && s.hidden_by.iter().all(layer_ok));
    if !fits {
        return None;
    }
    Some(WasteResult {
        final_size: stored.final_size,
        causes: stored.causes,
        layers: stored.layers,
        top: stored
            .top
            .into_iter()
            .map(|p| WastePath {
                path: p.path,
                path_raw: p.path_raw,
                node: NodeId(p.node),
                bytes: p.bytes,
                copies: p.copies,
                files: p.files,
                cause: p.cause,
                shipped_by: p.shipped_by,
                hidden_by: p.hidden_by,
                fix: p.fix,
            })
            .collect(),
        duplicate_bytes: stored.duplicate_bytes,
        duplicates: stored.duplicates,
        dead_by_layers: stored.dead_by_layers,
        sources: stored.sources,
    })
}

/// The payload of dive's figures.
pub(crate) fn encode_dive(dive: &DiveFigures) -> Vec<u8> {
    let stored = StoredDive {
        efficiency: dive.efficiency,
        wasted_bytes: dive.wasted_bytes,
        user_wasted_percent: dive.user_wasted_percent,
        size_bytes: dive.size_bytes,
        user_size_bytes: dive.user_size_bytes,
        inefficient_files: dive
            .inefficient_files
            .iter()
            .map(|f| (f.count, f.size_bytes, f.path.clone(), f.path_bytes.clone()))
            .collect(),
        notes: dive.notes.clone(),
    };
    postcard::to_allocvec(&stored).unwrap_or_default()
}

/// dive's figures read back for `image`; `None` when they are not for its layers.
pub(crate) fn decode_dive(bytes: &[u8], image: &Image) -> Option<DiveFigures> {
    let stored: StoredDive = postcard::from_bytes(bytes).ok()?;
    if stored.size_bytes != image.size_bytes() {
        return None;
    }
    Some(DiveFigures {
        efficiency: stored.efficiency,
        wasted_bytes: stored.wasted_bytes,
        user_wasted_percent: stored.user_wasted_percent,
        size_bytes: stored.size_bytes,
        user_size_bytes: stored.user_size_bytes,
        inefficient_files: stored
            .inefficient_files
            .into_iter()
            .map(|(count, size_bytes, path, path_bytes)| DiveFile { count, size_bytes, path, path_bytes })
            .collect(),
        notes: stored.notes,
    })
}
