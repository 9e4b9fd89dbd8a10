//! The disk several images use together. Images that share layers share disk: a layer is stored
//! once for every image whose stack starts with the same layers (the same ChainID), so adding up
//! the images' sizes (docker's "virtual size") overstates what they take. Counted as
//! `docker system df -v` does: per image its size, the bytes of its layers some other image given
//! has too (shared), and the rest (unique); in all, each layer once.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::image::Image;

/// One image's share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageDisk {
    /// The image as named (its first tag, or where it came from).
    pub name: String,
    /// Σ its layers' sizes.
    pub size_bytes: u64,
    /// Bytes of its layers that another image given has too (same ChainID).
    pub shared_bytes: u64,
    /// size − shared.
    pub unique_bytes: u64,
    /// Its layers.
    pub layers: usize,
    /// Of those, shared.
    pub shared_layers: usize,
    /// For each layer, how many other images given have it (same ChainID); not in the JSON.
    #[serde(skip)]
    pub shared_with: Vec<usize>,
}

/// What several images take together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiskUsage {
    /// Per image, in the order given.
    pub images: Vec<ImageDisk>,
    /// Σ image sizes: what adding up "virtual sizes" says.
    pub naive_bytes: u64,
    /// Each distinct layer once: what the disk holds.
    pub real_bytes: u64,
    /// naive − real: what sharing saves.
    pub saved_bytes: u64,
}

/// The ChainID of each layer: the identity of the stack up to it (OCI image spec), so a layer
/// is shared only with images whose layers below it are the same too. A layer without a DiffID
/// (never in a valid image) is known by its blob digest.
pub fn chain_ids(image: &Image) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(image.layers.len());
    for layer in &image.layers {
        let id = layer
            .diff_id
            .clone()
            .or_else(|| layer.blob_digest.clone())
            .unwrap_or_else(|| format!("layer:{}", layer.index));
        let chain = match out.last() {
            None => id,
            Some(below) => {
                let mut h = Sha256::new();
                h.update(below.as_bytes());
                h.update(b" ");
                h.update(id.as_bytes());
                crate::text::digest(&h.finalize())
            }
        };
        out.push(chain);
    }
    out
}

/// The disk `images` (named) take together.
pub fn disk_usage(images: &[(String, &Image)]) -> DiskUsage {
    let chains: Vec<Vec<String>> = images.iter().map(|(_, i)| chain_ids(i)).collect();
    // Which images hold each ChainID.
    let mut holders: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (n, ids) in chains.iter().enumerate() {
        for id in ids {
            holders.entry(id.as_str()).or_default().insert(n);
        }
    }
    let mut real = BTreeMap::new();
    let mut rows = Vec::with_capacity(images.len());
    for (n, ((name, image), ids)) in images.iter().zip(&chains).enumerate() {
        let mut row = ImageDisk {
            name: name.clone(),
            size_bytes: 0,
            shared_bytes: 0,
            unique_bytes: 0,
            layers: image.layers.len(),
            shared_layers: 0,
            shared_with: Vec::with_capacity(ids.len()),
        };
        for (layer, id) in image.layers.iter().zip(ids) {
            row.size_bytes += layer.size_bytes;
            real.insert(id.as_str(), layer.size_bytes);
            let others = holders.get(id.as_str()).map_or(0, |h| h.iter().filter(|&&other| other != n).count());
            row.shared_with.push(others);
            if others > 0 {
                row.shared_bytes += layer.size_bytes;
                row.shared_layers += 1;
            }
        }
        row.unique_bytes = row.size_bytes - row.shared_bytes;
        rows.push(row);
    }
    let naive_bytes = rows.iter().map(|r| r.size_bytes).sum();
    let real_bytes = real.values().sum();
    DiskUsage { images: rows, naive_bytes, real_bytes, saved_bytes: naive_bytes.saturating_sub(real_bytes) }
}
