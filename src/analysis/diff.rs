//! What changed between two images: the layers they share (by ChainID) and where their stacks
//! part, every path of the final trees that was added, removed, modified, changed metadata only
//! or changed type, per-directory totals, and the change in size, final size and waste.

use std::collections::BTreeMap;
use std::io::Read;

use serde::Serialize;

use super::Analysis;
use super::disk::chain_ids;
use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{EntryId, NodeId, State, Tree};

/// How a path differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathChange {
    /// Only in the new image.
    Added,
    /// Only in the old image.
    Removed,
    /// Other content or link target.
    Modified,
    /// The same bytes, another mode or owner.
    MetadataOnly,
    /// A file became a directory, a link…
    TypeChanged,
}

impl PathChange {
    /// As the text report writes it.
    pub fn label(self) -> &'static str {
        match self {
            PathChange::Added => "added",
            PathChange::Removed => "removed",
            PathChange::Modified => "modified",
            PathChange::MetadataOnly => "metadata-only",
            PathChange::TypeChanged => "type changed",
        }
    }
}

/// One path that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathDiff {
    /// The path (`\xHH` for bytes that are not UTF-8).
    pub path: String,
    /// How.
    pub change: PathChange,
    /// Its size in the old image (files only).
    pub old_size: Option<u64>,
    /// Its size in the new image.
    pub new_size: Option<u64>,
    /// new − old.
    pub delta_bytes: i64,
    /// The layer of the new image that wrote it (the old image's for a removed path).
    pub layer: usize,
}

/// A directory's part in the change (the first two levels below `/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DirDiff {
    /// The directory.
    pub path: String,
    /// Σ delta of the paths below it.
    pub delta_bytes: i64,
    /// Paths below it that differ.
    pub paths: usize,
}

/// A layer of one side, past the shared ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SideLayer {
    /// Its index in its image.
    pub index: usize,
    /// Its size.
    pub size_bytes: u64,
    /// The command that made it.
    pub command: String,
}

/// Counts by kind of change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DiffCounts {
    /// Added paths.
    pub added: usize,
    /// Removed paths.
    pub removed: usize,
    /// Modified paths.
    pub modified: usize,
    /// Metadata-only paths.
    pub metadata_only: usize,
    /// Paths whose type changed.
    pub type_changed: usize,
}

/// Every layer of `image`, as a side of a comparison shows it.
pub fn stack(image: &Image) -> Vec<SideLayer> {
    image
        .layers
        .iter()
        .map(|l| SideLayer { index: l.index, size_bytes: l.size_bytes, command: l.command().unwrap_or("").to_string() })
        .collect()
}

/// Two images compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ImageDiff {
    /// Layers both stacks start with (same ChainIDs).
    pub shared_layers: usize,
    /// The old image's layers past those.
    pub old_layers: Vec<SideLayer>,
    /// The new image's layers past those.
    pub new_layers: Vec<SideLayer>,
    /// Image size, new − old.
    pub size_delta_bytes: i64,
    /// Final size, new − old.
    pub final_size_delta_bytes: i64,
    /// Wasted bytes, new − old.
    pub wasted_delta_bytes: i64,
    /// Image sizes (old, new).
    pub size_bytes: (u64, u64),
    /// Counts by kind.
    pub counts: DiffCounts,
    /// Every differing path, largest change in size first.
    pub paths: Vec<PathDiff>,
    /// Directories by their change in size, largest first.
    pub directories: Vec<DirDiff>,
}

/// What one final tree holds at a path, for comparing.
#[derive(Clone, Copy)]
struct Seen {
    kind: EntryKind,
    id: EntryId,
    layer: usize,
}

/// What `image` shows at `node` after its last layer, if anything.
fn seen(image: &Image, node: NodeId) -> Option<Seen> {
    let top = image.top_layer()?;
    match image.tree.state_at(node, Some(top)) {
        State::Present { entry: Some(id), layer } => {
            let e = image.tree.entry(id);
            // A hard link is its file's bytes under another name: compared as a file.
            let kind = if e.kind == EntryKind::Hardlink { EntryKind::File } else { e.kind };
            Some(Seen { kind, id, layer: usize::from(layer) })
        }
        // A directory no layer wrote (implied by its children) is still a directory.
        State::Present { entry: None, layer } => {
            Some(Seen { kind: EntryKind::Dir, id: EntryId::MAX, layer: usize::from(layer) })
        }
        State::Absent => None,
    }
}

/// Every path either final tree shows, in one walk of both (children are sorted by name, so
/// the two lists merge like sorted lists): `f(path, old, new)` with what each side has there.
fn walk_both(oi: &Image, ni: &Image, mut f: impl FnMut(&[u8], Option<Seen>, Option<Seen>)) {
    // (old node, new node, length of the parent's path): an explicit stack, as paths may nest
    // 100,000 levels deep.
    let mut stack: Vec<(Option<NodeId>, Option<NodeId>, usize)> = vec![(Some(NodeId::ROOT), Some(NodeId::ROOT), 0)];
    let mut path: Vec<u8> = Vec::new();
    while let Some((o, n, parent_len)) = stack.pop() {
        path.truncate(parent_len);
        let name = o.map(|o| oi.tree.name(o)).or_else(|| n.map(|n| ni.tree.name(n))).unwrap_or_default();
        let is_root = o == Some(NodeId::ROOT) || n == Some(NodeId::ROOT);
        if !is_root {
            if parent_len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(name);
        }
        let (os, ns) = (o.and_then(|o| seen(oi, o)), n.and_then(|n| seen(ni, n)));
        if !is_root {
            if os.is_none() && ns.is_none() {
                continue;
            }
            f(&path, os, ns);
        }
        // Below a path only directories have children worth walking.
        let dir = |s: Option<Seen>| s.is_some_and(|s| s.kind == EntryKind::Dir) || is_root;
        let oc: &[NodeId] = match o {
            Some(o) if dir(os) => oi.tree.children(o),
            _ => &[],
        };
        let nc: &[NodeId] = match n {
            Some(n) if dir(ns) => ni.tree.children(n),
            _ => &[],
        };
        // Merge the two sorted child lists; pushed in reverse so they pop in order.
        let mut pairs = Vec::with_capacity(oc.len().max(nc.len()));
        let (mut a, mut b) = (0, 0);
        while a < oc.len() || b < nc.len() {
            let order = match (oc.get(a), nc.get(b)) {
                (Some(&x), Some(&y)) => oi.tree.name(x).cmp(ni.tree.name(y)),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    pairs.push((oc.get(a).copied(), None));
                    a += 1;
                }
                std::cmp::Ordering::Greater => {
                    pairs.push((None, nc.get(b).copied()));
                    b += 1;
                }
                std::cmp::Ordering::Equal => {
                    pairs.push((oc.get(a).copied(), nc.get(b).copied()));
                    a += 1;
                    b += 1;
                }
            }
        }
        let len = path.len();
        stack.extend(pairs.into_iter().rev().map(|(x, y)| (x, y, len)));
    }
}

/// xxh3 of a file's bytes: the one the reader kept, or read now.
fn content_hash(image: &Image, id: EntryId) -> Option<u64> {
    let e = image.tree.content_entry(image.tree.entry(id));
    if e.hashed || e.size == 0 {
        return Some(e.content);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut reader = image.open_content(id).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(buf.get(..n)?),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
    Some(hasher.digest())
}

/// `n` as a signed count (sizes past i64::MAX cannot happen on disk; they stay the largest).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn size_of(tree: &Tree, seen: &Seen) -> Option<u64> {
    (seen.kind == EntryKind::File).then(|| tree.content_entry(tree.entry(seen.id)).size)
}

/// How the same path differs between the two images, if it does.
fn differs(
    oi: &Image,
    ni: &Image,
    o: &Seen,
    n: &Seen,
    old_size: Option<u64>,
    new_size: Option<u64>,
) -> Option<PathChange> {
    if o.kind != n.kind {
        return Some(PathChange::TypeChanged);
    }
    // An implied directory has no entry: only its kind is known.
    if o.id == EntryId::MAX || n.id == EntryId::MAX {
        return None;
    }
    let (oe, ne) = (oi.tree.entry(o.id), ni.tree.entry(n.id));
    let same_bytes = match n.kind {
        EntryKind::File => old_size == new_size && content_hash(oi, o.id) == content_hash(ni, n.id),
        EntryKind::Symlink => oi.tree.link(oe) == ni.tree.link(ne),
        EntryKind::Char | EntryKind::Block => oe.content == ne.content,
        _ => true,
    };
    let same_meta = (oe.mode, oe.uid, oe.gid) == (ne.mode, ne.uid, ne.gid);
    match (same_bytes, same_meta) {
        (true, true) => None,
        (true, false) => Some(PathChange::MetadataOnly),
        (false, _) => Some(PathChange::Modified),
    }
}

/// Compare `old` with `new` (each with its analysis).
pub fn compare(old: (&Image, &Analysis), new: (&Image, &Analysis)) -> ImageDiff {
    let ((oi, oa), (ni, na)) = (old, new);
    let (oc, nc) = (chain_ids(oi), chain_ids(ni));
    let shared_layers = oc.iter().zip(&nc).take_while(|(a, b)| a == b).count();
    let side = |image: &Image| -> Vec<SideLayer> {
        let mut stack = stack(image);
        stack.drain(..shared_layers.min(stack.len()));
        stack
    };
    let mut paths = Vec::new();
    let mut counts = DiffCounts::default();
    let shown = |path: &[u8]| {
        let mut s = String::from("/");
        crate::layer::path::escape_bytes(path, &mut s);
        s
    };
    walk_both(oi, ni, |path, o, n| {
        let (old_size, new_size) = (o.and_then(|o| size_of(&oi.tree, &o)), n.and_then(|n| size_of(&ni.tree, &n)));
        let (change, layer) = match (o, n) {
            (None, Some(n)) => (PathChange::Added, n.layer),
            (Some(o), None) => (PathChange::Removed, o.layer),
            (Some(o), Some(n)) => match differs(oi, ni, &o, &n, old_size, new_size) {
                Some(change) => (change, n.layer),
                None => return,
            },
            (None, None) => return,
        };
        match change {
            PathChange::Added => counts.added += 1,
            PathChange::Removed => counts.removed += 1,
            PathChange::TypeChanged => counts.type_changed += 1,
            PathChange::MetadataOnly => counts.metadata_only += 1,
            PathChange::Modified => counts.modified += 1,
        }
        let delta = signed(new_size.unwrap_or(0)).saturating_sub(signed(old_size.unwrap_or(0)));
        paths.push(PathDiff { path: shown(path), change, old_size, new_size, delta_bytes: delta, layer });
    });
    paths.sort_by(|a, b| {
        b.delta_bytes.unsigned_abs().cmp(&a.delta_bytes.unsigned_abs()).then_with(|| a.path.cmp(&b.path))
    });
    let mut dirs: BTreeMap<String, (i64, usize)> = BTreeMap::new();
    for p in &paths {
        // The first two directory levels of the path (not the path itself).
        let parts: Vec<&str> = p.path.trim_start_matches('/').split('/').collect();
        for depth in 1..=2.min(parts.len().saturating_sub(1)) {
            let d = dirs.entry(format!("/{}", parts[..depth].join("/"))).or_default();
            d.0 = d.0.saturating_add(p.delta_bytes);
            d.1 += 1;
        }
    }
    let mut directories: Vec<DirDiff> =
        dirs.into_iter().map(|(path, (delta_bytes, paths))| DirDiff { path, delta_bytes, paths }).collect();
    directories.sort_by(|a, b| {
        b.delta_bytes.unsigned_abs().cmp(&a.delta_bytes.unsigned_abs()).then_with(|| a.path.cmp(&b.path))
    });
    let delta = |a: u64, b: u64| signed(b).saturating_sub(signed(a));
    ImageDiff {
        shared_layers,
        old_layers: side(oi),
        new_layers: side(ni),
        size_delta_bytes: delta(oa.size_bytes, na.size_bytes),
        final_size_delta_bytes: delta(oa.final_size_bytes, na.final_size_bytes),
        wasted_delta_bytes: delta(oa.wasted_bytes, na.wasted_bytes),
        size_bytes: (oa.size_bytes, na.size_bytes),
        counts,
        paths,
        directories,
    }
}
