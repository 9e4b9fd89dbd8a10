//! The merged file tree: one arena of nodes for the whole image (not a copy per layer), where each
//! node keeps a short history of what each layer did to it. The state "after layer N" and the
//! change "made by layer N" are both read off that history, for any N, without rebuilding anything.
//!
//! Layer rules (OCI `layer.md`), applied in manifest order:
//! * a whiteout `.wh.NAME` hides NAME and its subtree in *lower* layers only;
//! * an opaque marker hides every lower child of its directory, wherever it sits in the tar;
//! * so every layer is applied in two phases: first its whiteouts and opaque markers against the
//!   state below, then its entries in tar order;
//! * a non-directory written over a directory removes the directory's subtree; a directory written
//!   over a directory replaces only its attributes;
//! * missing parent directories are created (0755, root), as `docker load` does.

mod build;
mod names;

use std::ops::Range;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

pub use build::TreeBuilder;
use names::Names;

use crate::layer::{EntryKind, Span};

/// Index of a node in the arena. The root is node 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The root directory.
    pub const ROOT: NodeId = NodeId(0);

    fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a change record in [`Tree::entries`].
pub type EntryId = u32;

/// Why a node stopped being visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveCause {
    /// A whiteout named it.
    Whiteout,
    /// An opaque marker on its parent hid it.
    Opaque,
    /// An ancestor was removed or overwritten.
    ParentRemoved,
    /// A non-directory was written over it (it was a directory).
    Overwritten,
}

/// What one layer did to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// The layer wrote this path (the entry has the details).
    Write(EntryId),
    /// The layer needed this directory for a child and it did not exist (or was a file).
    ImplicitDir,
    /// The layer made this path invisible.
    Remove(RemoveCause),
}

/// One step of a node's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The layer that acted.
    pub layer: u16,
    /// What it did.
    pub action: Action,
}

impl Event {
    fn is_present(self) -> bool {
        !matches!(self.action, Action::Remove(_))
    }
}

/// One change record of a layer, attached to the node of its path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The path written, or for a whiteout the path hidden, or for an opaque marker its directory.
    pub node: NodeId,
    /// The layer the record belongs to.
    pub layer: u16,
    /// What the record is.
    pub kind: EntryKind,
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time (seconds).
    pub mtime: i64,
    /// Header size: content bytes of a regular file, 0 for everything else.
    pub size: u64,
    /// xxh3 of the bytes for files, `major << 32 | minor` for devices, 0 otherwise.
    pub content: u64,
    /// Offset of the content in the uncompressed layer stream.
    pub data_offset: u64,
    /// Symlink or hard-link target (bytes in the tree's link arena).
    pub link: Option<Span>,
    /// The entry that holds this path's bytes: itself, or for a hard link the file it links to.
    pub inode: EntryId,
    /// Whether `content` holds the hash yet (files of uncompressed layers are hashed only when a
    /// comparison needs it: see [`Tree::files_needing_hashes`]).
    pub hashed: bool,
    /// Bytes of the content stored in the layer stream at `data_offset` (less than `size` for a
    /// sparse file).
    pub stored: u64,
    /// A sparse file's map ([`Tree::sparse_map`]); [`crate::layer::NO_SPARSE`] otherwise.
    pub sparse: u32,
}

/// A node's state after some layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not visible.
    Absent,
    /// Visible, written by `entry` (None: a directory created implicitly) in layer `layer`.
    Present {
        /// The record that wrote it; `None` for an implicit directory.
        entry: Option<EntryId>,
        /// The layer that last wrote it.
        layer: u16,
    },
}

/// What a layer (or a range of layers) did to a path, relative to the state below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// It did not exist below and exists now.
    Added,
    /// Content, type, link target or device changed.
    Modified,
    /// Rewritten with the same content: only mode, owner or mtime differ (or nothing): the copy-up
    /// case that ships the same bytes again.
    MetadataOnly,
    /// It existed below and is gone now.
    Removed,
    /// Untouched.
    Unchanged,
}

impl Change {
    /// Every change kind, in legend order.
    pub const ALL: [Change; 5] =
        [Change::Added, Change::Modified, Change::MetadataOnly, Change::Removed, Change::Unchanged];

    /// The name in JSON (`metadata_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified => "modified",
            Change::MetadataOnly => "metadata_only",
            Change::Removed => "removed",
            Change::Unchanged => "unchanged",
        }
    }

    /// The name people read (`metadata-only`), in the explorer, the text report and the README.
    pub fn label(self) -> &'static str {
        match self {
            Change::MetadataOnly => "metadata-only",
            other => other.as_str(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Node {
    name: u32,
    parent: u32,
    first_child: u32,
    next_sibling: u32,
    events: SmallVec<[Event; 2]>,
}

const NONE: u32 = u32::MAX;

/// The merged tree of an image (serialisable, so the cache can keep a built one).
#[derive(Debug, Serialize, Deserialize)]
pub struct Tree {
    names: Names,
    nodes: Vec<Node>,
    entries: Vec<Entry>,
    links: Vec<u8>,
    layer_count: usize,
    /// Children of each node sorted by name bytes: `children[child_start[n]..child_start[n + 1]]`.
    children: Vec<NodeId>,
    child_start: Vec<u32>,
    /// Where the stored bytes of each sparse file go.
    sparse: Vec<Vec<crate::archive::tar::Chunk>>,
    /// For each file that has hard links, every entry sharing its bytes (itself included).
    hardlinks: hashbrown::HashMap<EntryId, Vec<EntryId>>,
}

impl Tree {
    /// Whether every index in the tree points where it may: a tree read back from the cache is
    /// checked before use, so no stored tree can send a lookup out of bounds or a walk in circles
    /// (a node's parent always comes before it, as the builder makes them).
    pub fn is_consistent(&self) -> bool {
        let (nodes, entries) = (self.nodes.len(), self.entries.len());
        let within =
            |span: Span, len: usize| (span.start as usize).checked_add(span.len as usize).is_some_and(|e| e <= len);
        let layers = self.layer_count;
        self.names.is_consistent()
            && nodes > 0
            && self.child_start.len() == nodes + 1
            && self.child_start.windows(2).all(|w| w[0] <= w[1])
            && self.child_start.last().is_some_and(|&l| l as usize == self.children.len())
            && self.nodes.iter().enumerate().all(|(i, n)| {
                (n.name as usize) < self.names.len()
                    && (i == 0 || (n.parent as usize) < i)
                    && n.events.iter().all(|e| {
                        usize::from(e.layer) < layers
                            && match e.action {
                                Action::Write(id) => (id as usize) < entries,
                                _ => true,
                            }
                    })
                    && self.children[self.child_start[i] as usize..self.child_start[i + 1] as usize]
                        .iter()
                        .all(|c| c.index() < nodes && c.index() > i && self.nodes[c.index()].parent as usize == i)
            })
            && self.entries.iter().all(|e| {
                e.node.index() < nodes
                    && usize::from(e.layer) < layers
                    && (e.inode as usize) < entries
                    && e.link.is_none_or(|l| within(l, self.links.len()))
                    && (e.sparse == crate::layer::NO_SPARSE || (e.sparse as usize) < self.sparse.len())
            })
            && self.hardlinks.iter().all(|(k, v)| (*k as usize) < entries && v.iter().all(|&e| (e as usize) < entries))
    }

    /// Point the last node's parent past itself, as damage could (tests of the consistency check).
    #[cfg(test)]
    pub(crate) fn corrupt_for_tests(&mut self) {
        let n = self.nodes.len() as u32;
        if let Some(last) = self.nodes.last_mut() {
            last.parent = n;
        }
    }

    /// Number of nodes, the root included (every path any layer mentioned).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of layers applied.
    pub fn layer_count(&self) -> usize {
        self.layer_count
    }

    /// Every change record, layer after layer, each layer in tar order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// One change record.
    pub fn entry(&self, id: EntryId) -> &Entry {
        &self.entries[id as usize]
    }

    /// The records of a range (as kept by each layer).
    pub fn entries_in(&self, range: Range<EntryId>) -> &[Entry] {
        &self.entries[range.start as usize..range.end as usize]
    }

    /// Regular-file entries whose content hash some comparison needs and that have none yet:
    /// every version of a path written more than once (modified or only re-shipped?), and every
    /// file visible at the end whose size another visible file shares (duplicate content?).
    pub fn files_needing_hashes(&self) -> Vec<EntryId> {
        let mut need = vec![false; self.entries.len()];
        for node in &self.nodes {
            let writes = node.events.iter().filter(|e| matches!(e.action, Action::Write(_))).count();
            if writes < 2 {
                continue;
            }
            for e in node.events.iter() {
                if let Action::Write(id) = e.action {
                    need[self.entry(id).inode as usize] = true;
                }
            }
        }
        if let Some(top) = self.layer_count.checked_sub(1) {
            let mut live: Vec<(u64, EntryId)> = Vec::new();
            let mut seen = vec![false; self.entries.len()];
            for (n, node) in self.nodes.iter().enumerate().skip(1) {
                let id = NodeId(u32::try_from(n).unwrap_or(u32::MAX));
                let Some(Event { action: Action::Write(e), .. }) = node.events.last().copied() else { continue };
                if !matches!(self.state_at(id, Some(top)), State::Present { .. }) {
                    continue;
                }
                let inode = self.entry(e).inode;
                let content = self.entry(inode);
                if content.kind == EntryKind::File && content.size > 0 && !seen[inode as usize] {
                    seen[inode as usize] = true;
                    live.push((content.size, inode));
                }
            }
            live.sort_unstable();
            for run in live.chunk_by(|a, b| a.0 == b.0) {
                if run.len() > 1 {
                    for &(_, id) in run {
                        need[id as usize] = true;
                    }
                }
            }
        }
        need.iter()
            .enumerate()
            .filter(|&(id, &n)| n && self.entries[id].kind == EntryKind::File && !self.entries[id].hashed)
            .map(|(id, _)| u32::try_from(id).unwrap_or(u32::MAX))
            .collect()
    }

    /// Record the content hash of a file entry.
    pub(crate) fn set_hash(&mut self, id: EntryId, hash: u64) {
        if let Some(e) = self.entries.get_mut(id as usize) {
            e.content = hash;
            e.hashed = true;
        }
    }

    /// The link target of an entry, as bytes (hard links: a path relative to the root).
    pub fn link(&self, entry: &Entry) -> Option<&[u8]> {
        entry.link.map(|s| s.of(&self.links))
    }

    /// Hard links as seen after `layer`: which visible path each one shares its bytes with.
    pub fn links_at(&self, layer: Option<usize>) -> Links<'_> {
        Links { tree: self, layer, holders: hashbrown::HashMap::new() }
    }

    /// Every entry sharing the bytes of `inode` (the file and its hard links); empty when it has
    /// no hard links.
    pub fn holders_of(&self, inode: EntryId) -> &[EntryId] {
        self.hardlinks.get(&inode).map_or(&[], Vec::as_slice)
    }

    /// Where a sparse file's stored bytes go in its content; `None` for any other entry.
    pub fn sparse_map(&self, entry: &Entry) -> Option<&[crate::archive::tar::Chunk]> {
        self.sparse.get(entry.sparse as usize).map(Vec::as_slice)
    }

    /// The entry holding the bytes a path shows (follows hard links).
    pub fn content_entry(&self, entry: &Entry) -> &Entry {
        self.entry(entry.inode)
    }

    /// A node's own name (empty for the root).
    pub fn name(&self, node: NodeId) -> &[u8] {
        self.names.get(self.nodes[node.index()].name)
    }

    /// A node's parent (the root is its own parent).
    pub fn parent(&self, node: NodeId) -> NodeId {
        let p = self.nodes[node.index()].parent;
        if p == NONE { NodeId::ROOT } else { NodeId(p) }
    }

    /// Children sorted by name bytes, visible or not.
    pub fn children(&self, node: NodeId) -> &[NodeId] {
        let start = self.child_start[node.index()] as usize;
        let end = self.child_start[node.index() + 1] as usize;
        &self.children[start..end]
    }

    /// The path of a node relative to the root, `/`-joined, as bytes (empty for the root).
    pub fn path(&self, node: NodeId) -> Vec<u8> {
        let mut parts = Vec::new();
        let mut n = node;
        while n != NodeId::ROOT {
            parts.push(self.name(n));
            n = self.parent(n);
        }
        let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, part) in parts.iter().rev().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(part);
        }
        out
    }

    /// The absolute path of a node for display (invalid UTF-8 as `\xHH`), and when anything had to
    /// be escaped, the exact bytes in hex.
    pub fn display_path(&self, node: NodeId) -> (String, Option<String>) {
        let rel = self.path(node);
        let mut shown = String::with_capacity(rel.len() + 1);
        let escaped = crate::layer::path::display_path(&rel, &mut shown);
        let raw = escaped.then(|| format!("2f{}", crate::text::hex(&rel)));
        (shown, raw)
    }

    /// Nodes visible after `layer` (the root excluded), in tree order.
    pub fn visible_nodes(&self, layer: usize) -> impl Iterator<Item = NodeId> + '_ {
        let mut stack: Vec<NodeId> = self.children(NodeId::ROOT).iter().rev().copied().collect();
        std::iter::from_fn(move || {
            while let Some(node) = stack.pop() {
                // A visible node's ancestors are visible, so an absent node's subtree can be skipped.
                if matches!(self.state_at(node, Some(layer)), State::Absent) {
                    continue;
                }
                stack.extend(self.children(node).iter().rev().copied());
                return Some(node);
            }
            None
        })
    }

    /// Call `f` on every node (the root excluded) in the byte order of their full paths, walking
    /// into a node's children only when `descend` says so. Byte order is not a depth-first walk:
    /// `a-b` sorts between `a` and `a/c` (`-` is below `/`), so each directory's children and
    /// subtrees are merged by their keys (`name` and `name/`). Memory: one list per open
    /// directory, never a path per node.
    pub fn walk_in_path_order(&self, descend: impl Fn(NodeId) -> bool, mut f: impl FnMut(NodeId)) {
        // (node, whether this item is its subtree rather than itself)
        let items = |dir: NodeId| -> Vec<(NodeId, bool)> {
            let mut items: Vec<(NodeId, bool)> = Vec::with_capacity(self.children(dir).len() * 2);
            for &c in self.children(dir) {
                items.push((c, false));
                if !self.children(c).is_empty() && descend(c) {
                    items.push((c, true));
                }
            }
            let key_cmp = |a: &(NodeId, bool), b: &(NodeId, bool)| {
                let ka = self.name(a.0).iter().chain(if a.1 { &b"/"[..] } else { &b""[..] });
                let kb = self.name(b.0).iter().chain(if b.1 { &b"/"[..] } else { &b""[..] });
                ka.cmp(kb)
            };
            items.sort_by(key_cmp);
            items
        };
        let mut stack: Vec<std::vec::IntoIter<(NodeId, bool)>> = vec![items(NodeId::ROOT).into_iter()];
        while let Some(level) = stack.last_mut() {
            match level.next() {
                Some((node, false)) => f(node),
                Some((node, true)) => stack.push(items(node).into_iter()),
                None => {
                    stack.pop();
                }
            }
        }
    }

    /// Find a node by its relative path bytes (`a/b/c`).
    pub fn lookup(&self, path: &[u8]) -> Option<NodeId> {
        let mut node = NodeId::ROOT;
        for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            let children = self.children(node);
            let i = children.binary_search_by(|c| self.name(*c).cmp(part)).ok()?;
            node = children[i];
        }
        Some(node)
    }

    /// A node's history, oldest first.
    pub fn events(&self, node: NodeId) -> &[Event] {
        &self.nodes[node.index()].events
    }

    /// The state of `node` after layer `layer` (`None`: before the first layer).
    pub fn state_at(&self, node: NodeId, layer: Option<usize>) -> State {
        if node == NodeId::ROOT {
            return State::Present { entry: None, layer: 0 };
        }
        let Some(layer) = layer else {
            return State::Absent;
        };
        let events = self.events(node);
        let upto = events.partition_point(|e| usize::from(e.layer) <= layer);
        match upto.checked_sub(1).map(|i| events[i]) {
            Some(Event { layer, action: Action::Write(entry) }) => State::Present { entry: Some(entry), layer },
            Some(Event { layer, action: Action::ImplicitDir }) => State::Present { entry: None, layer },
            _ => State::Absent,
        }
    }

    /// What layers `from+1 ..= to` did to `node` (`from = None`: compare with the empty root).
    pub fn change_between(&self, node: NodeId, from: Option<usize>, to: usize) -> Option<Change> {
        let before = self.state_at(node, from);
        let after = self.state_at(node, Some(to));
        match (before, after) {
            (State::Absent, State::Absent) => None,
            (State::Absent, State::Present { .. }) => Some(Change::Added),
            (State::Present { .. }, State::Absent) => Some(Change::Removed),
            (State::Present { entry: a, layer: la }, State::Present { entry: b, layer: lb }) => {
                // `before` exists, so `from` is a layer; a write above it means the path was rewritten.
                let rewritten = from.is_some_and(|f| usize::from(lb) > f) && (a, la) != (b, lb);
                Some(if rewritten { self.compare(a, b) } else { Change::Unchanged })
            }
        }
    }

    /// What layer `layer` itself did to `node`, relative to the layer below it.
    pub fn change_at(&self, node: NodeId, layer: usize) -> Option<Change> {
        self.change_between(node, layer.checked_sub(1), layer)
    }

    /// Whether `node` is a directory in the given state.
    pub fn is_dir_state(&self, state: State) -> bool {
        match state {
            State::Absent => false,
            State::Present { entry: None, .. } => true,
            State::Present { entry: Some(e), .. } => self.entry(e).kind == EntryKind::Dir,
        }
    }

    /// Compare two versions of a path: a difference in what it holds, or only in attributes.
    fn compare(&self, before: Option<EntryId>, after: Option<EntryId>) -> Change {
        // Hard links are compared by the file they share bytes with; implicit dirs are dirs.
        let content = |e: Option<EntryId>| e.map(|id| self.content_entry(self.entry(id)));
        let kind = |c: Option<&Entry>| c.map_or(EntryKind::Dir, |c| c.kind);
        let (a, b) = (content(before), content(after));
        if kind(a) != kind(b) {
            return Change::Modified;
        }
        let differs = match (a, b) {
            (Some(a), Some(b)) => match a.kind {
                EntryKind::File => a.content != b.content || a.size != b.size,
                EntryKind::Symlink => self.link(a) != self.link(b),
                EntryKind::Char | EntryKind::Block => a.content != b.content,
                _ => false,
            },
            _ => false,
        };
        if differs { Change::Modified } else { Change::MetadataOnly }
    }
}

/// Which visible path each hard link shares its bytes with, after one layer (see
/// [`Tree::links_at`]). A link whose own target was rewritten or deleted is not a link any more,
/// unless other paths still share its bytes: then the first of them in path order holds the
/// bytes, as a file, and the others are its links (what a tar of the merged tree would record,
/// and what overlayfs shows as one inode).
#[derive(Debug)]
pub struct Links<'a> {
    tree: &'a Tree,
    layer: Option<usize>,
    /// The visible paths of an inode, in path order, computed once per inode.
    holders: hashbrown::HashMap<EntryId, Vec<(Vec<u8>, NodeId)>>,
}

impl Links<'_> {
    /// The path hard link `entry` shares its bytes with, if any: `None` means it shows as a
    /// plain file (for anything but a hard link, always `None`).
    pub fn target(&mut self, entry: &Entry) -> Option<NodeId> {
        let tree = self.tree;
        if entry.kind != EntryKind::Hardlink {
            return None;
        }
        let shows_inode = |node: NodeId, layer| match tree.state_at(node, layer) {
            State::Present { entry: Some(t), .. } => tree.entry(t).inode == entry.inode,
            _ => false,
        };
        // Usually the path the link names still holds the bytes.
        if let Some(target) = tree.link(entry).and_then(|t| tree.lookup(t))
            && target != entry.node
            && shows_inode(target, self.layer)
        {
            return Some(target);
        }
        let layer = self.layer;
        let holders = self.holders.entry(entry.inode).or_insert_with(|| {
            let mut paths: Vec<(Vec<u8>, NodeId)> = tree
                .holders_of(entry.inode)
                .iter()
                .map(|&id| tree.entry(id).node)
                .filter(|&n| shows_inode(n, layer))
                .map(|n| (tree.path(n), n))
                .collect();
            paths.sort_unstable();
            paths.dedup_by_key(|p| p.1);
            paths
        });
        match holders.first() {
            Some(&(_, first)) if first != entry.node => Some(first),
            _ => None,
        }
    }

    /// The kind a path shows: a hard link that shares its bytes with no visible path is a file.
    pub fn kind(&mut self, entry: &Entry) -> EntryKind {
        match entry.kind {
            EntryKind::Hardlink if self.target(entry).is_none() => EntryKind::File,
            kind => kind,
        }
    }
}

/// Mode given to directories a layer needs but does not contain (as `docker load` creates them).
pub const IMPLICIT_DIR_MODE: u32 = 0o755;
