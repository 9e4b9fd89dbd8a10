//! `layerscope files`: the merged tree (or one layer's changes) as JSON Lines, sorted by path bytes.

use std::io::{self, Write};

use serde::Serialize;

use crate::image::Image;
use crate::layer::EntryKind;
use crate::layer::path::{display_path, escape_bytes};
use crate::text::hex;
use crate::tree::{Change, IMPLICIT_DIR_MODE, Links, NodeId, State, Tree};

/// One line of `files` output.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct FileRecord {
    /// Absolute path; bytes that are not UTF-8 appear as `\xHH`.
    pub path: String,
    /// The exact path bytes in hex, present only when `path` had to escape something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_raw: Option<String>,
    /// `file`, `dir`, `symlink`, `hardlink`, `char`, `block` or `fifo`.
    pub kind: &'static str,
    /// Content bytes (for a hard link, those of the file it shares them with).
    pub size: u64,
    /// Permission bits as 4 octal digits (setuid/setgid/sticky first).
    pub mode: String,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Symlink target, or hard-link target as an absolute path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Exact link bytes in hex, present only when `link` had to escape something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_raw: Option<String>,
    /// Device numbers `[major, minor]` of a char or block device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<[u32; 2]>,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// The layer that last wrote this path.
    pub layer: usize,
    /// What the chosen layer did to it, relative to the layer below.
    pub change: &'static str,
    /// True for a directory no layer contains but that a layer needed for its children.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub implicit: bool,
}

impl FileRecord {
    /// Describe `node` in `state` (which must be `Present`), hard links resolved by `links` (made
    /// for the layer the state is after); `None` when absent.
    pub fn new(tree: &Tree, links: &mut Links<'_>, node: NodeId, state: State, change: Change) -> Option<FileRecord> {
        let State::Present { entry, layer } = state else {
            return None;
        };
        let (path, path_raw) = tree.display_path(node);
        let Some(id) = entry else {
            return Some(FileRecord {
                path,
                path_raw,
                kind: EntryKind::Dir.as_str(),
                size: 0,
                mode: format!("{IMPLICIT_DIR_MODE:04o}"),
                uid: 0,
                gid: 0,
                link: None,
                link_raw: None,
                dev: None,
                mtime: 0,
                layer: usize::from(layer),
                change: change.as_str(),
                implicit: true,
            });
        };
        let e = tree.entry(id);
        let kind = links.kind(e);
        let link_path;
        let link = match kind {
            EntryKind::Symlink => tree.link(e),
            EntryKind::Hardlink => {
                link_path = links.target(e).map(|n| tree.path(n));
                link_path.as_deref()
            }
            _ => None,
        };
        let (link, link_raw) = match link {
            Some(bytes) => {
                let mut shown = String::new();
                let escaped = if e.kind == EntryKind::Hardlink {
                    display_path(bytes, &mut shown)
                } else {
                    escape_bytes(bytes, &mut shown)
                };
                let raw = escaped.then(|| {
                    if e.kind == EntryKind::Hardlink { hex(&[b"/".as_slice(), bytes].concat()) } else { hex(bytes) }
                });
                (Some(shown), raw)
            }
            None => (None, None),
        };
        let dev = matches!(e.kind, EntryKind::Char | EntryKind::Block)
            .then(|| [(e.content >> 32) as u32, (e.content & 0xffff_ffff) as u32]);
        Some(FileRecord {
            path,
            path_raw,
            kind: kind.as_str(),
            size: tree.content_entry(e).size,
            mode: format!("{:04o}", e.mode & 0o7777),
            uid: e.uid,
            gid: e.gid,
            link,
            link_raw,
            dev,
            mtime: e.mtime,
            layer: usize::from(layer),
            change: change.as_str(),
            implicit: false,
        })
    }
}

/// Nodes visible after `layer` (the root excluded), in tree order.
pub fn visible_nodes(tree: &Tree, layer: usize) -> impl Iterator<Item = NodeId> + '_ {
    let mut stack: Vec<NodeId> = tree.children(NodeId::ROOT).iter().rev().copied().collect();
    std::iter::from_fn(move || {
        while let Some(node) = stack.pop() {
            // A visible node's ancestors are visible, so an absent node's subtree can be skipped.
            if matches!(tree.state_at(node, Some(layer)), State::Absent) {
                continue;
            }
            stack.extend(tree.children(node).iter().rev().copied());
            return Some(node);
        }
        None
    })
}

/// What `files` prints.
#[derive(Clone, Copy, Debug)]
pub struct FilesOptions {
    /// The layer whose state (or changes) to print; default the last.
    pub layer: Option<usize>,
    /// Print only what that layer changed, removed paths included.
    pub changes_only: bool,
}

/// The records `files` prints, sorted by path bytes.
pub fn file_records(image: &Image, options: FilesOptions) -> Vec<FileRecord> {
    let Some(top) = image.top_layer() else {
        return Vec::new();
    };
    let layer = options.layer.unwrap_or(top).min(top);
    let tree = &image.tree;
    let below = layer.checked_sub(1);
    // (path bytes, node, its state, the layer it is seen after, its change)
    type Listed = (Vec<u8>, NodeId, State, Option<usize>, Change);
    let mut nodes: Vec<Listed> = Vec::new();
    if options.changes_only {
        for n in 1..tree.node_count() {
            let node = NodeId(u32::try_from(n).unwrap_or(u32::MAX));
            if !tree.events(node).iter().any(|e| usize::from(e.layer) == layer) {
                continue;
            }
            let Some(change) = tree.change_at(node, layer) else { continue };
            let at = match change {
                Change::Unchanged => continue,
                // A removed path is described as it was below.
                Change::Removed => below,
                _ => Some(layer),
            };
            nodes.push((tree.path(node), node, tree.state_at(node, at), at, change));
        }
    } else {
        for node in visible_nodes(tree, layer) {
            let change = tree.change_at(node, layer).unwrap_or(Change::Unchanged);
            nodes.push((tree.path(node), node, tree.state_at(node, Some(layer)), Some(layer), change));
        }
    }
    nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    // Removed paths are described as they were below: their links as they were then.
    let mut links_now = tree.links_at(Some(layer));
    let mut links_below = tree.links_at(below);
    nodes
        .into_iter()
        .filter_map(|(_, node, state, at, change)| {
            let links = if at == Some(layer) { &mut links_now } else { &mut links_below };
            FileRecord::new(tree, links, node, state, change)
        })
        .collect()
}

/// Print `files` output as JSON Lines.
pub fn write_files<W: Write>(image: &Image, options: FilesOptions, mut out: W) -> io::Result<()> {
    for record in file_records(image, options) {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}
