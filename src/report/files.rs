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
    /// The package whose database lists the path (as of the final image), when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
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
                package: None,
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
            package: None,
        })
    }
}

/// What `files` prints.
#[derive(Clone, Copy, Debug, Default)]
pub struct FilesOptions {
    /// The layer whose state (or changes) to print; default the last.
    pub layer: Option<usize>,
    /// Print only what that layer changed, removed paths included.
    pub changes_only: bool,
}

/// The records `files` prints, sorted by path bytes.
pub fn file_records(image: &Image, options: FilesOptions) -> Vec<FileRecord> {
    let mut out = Vec::new();
    for_each_record(image, options, None, |r| {
        out.push(r);
        Ok(())
    })
    .ok();
    out
}

/// Hand `f` each record `files` prints, in path-byte order, one at a time: nothing is collected,
/// so memory does not grow with the number or the depth of paths.
/// With `owners`, each record names the package that owns its path.
pub fn for_each_record(
    image: &Image,
    options: FilesOptions,
    owners: Option<(&crate::analysis::packages::Packages, &crate::analysis::packages::Owners)>,
    mut f: impl FnMut(FileRecord) -> io::Result<()>,
) -> io::Result<()> {
    let Some(top) = image.top_layer() else {
        return Ok(());
    };
    let layer = options.layer.unwrap_or(top).min(top);
    let tree = &image.tree;
    let below = layer.checked_sub(1);
    // Removed paths are described as they were below: their links as they were then.
    let mut links_now = tree.links_at(Some(layer));
    let mut links_below = tree.links_at(below);
    // In changes mode a removed directory is walked into (its children were removed too);
    // otherwise an absent node's subtree holds nothing visible.
    let descend = |node: NodeId| options.changes_only || tree.state_at(node, Some(layer)) != State::Absent;
    let mut result = Ok(());
    tree.walk_in_path_order(descend, |node| {
        if result.is_err() {
            return;
        }
        let (at, change) = if options.changes_only {
            if !tree.events(node).iter().any(|e| usize::from(e.layer) == layer) {
                return;
            }
            match tree.change_at(node, layer) {
                None | Some(Change::Unchanged) => return,
                Some(Change::Removed) => (below, Change::Removed),
                Some(c) => (Some(layer), c),
            }
        } else {
            if tree.state_at(node, Some(layer)) == State::Absent {
                return;
            }
            (Some(layer), tree.change_at(node, layer).unwrap_or(Change::Unchanged))
        };
        let links = if at == Some(layer) { &mut links_now } else { &mut links_below };
        if let Some(mut record) = FileRecord::new(tree, links, node, tree.state_at(node, at), change) {
            record.package = owners.and_then(|(p, o)| o.package(p, node)).map(|k| k.name.clone());
            result = f(record);
        }
    });
    result
}

/// Print `files` output as JSON Lines.
pub fn write_files<W: Write>(
    image: &Image,
    options: FilesOptions,
    owners: Option<(&crate::analysis::packages::Packages, &crate::analysis::packages::Owners)>,
    mut out: W,
) -> io::Result<()> {
    for_each_record(image, options, owners, |record| {
        serde_json::to_writer(&mut out, &record)?;
        out.write_all(b"\n")
    })?;
    out.flush()
}
