//! Applying layers to the arena, in order.

use std::hash::BuildHasher;
use std::ops::Range;

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use smallvec::SmallVec;

use super::names::Names;
use super::{Action, Entry, EntryId, Event, NONE, Node, NodeId, RemoveCause, Tree};
use crate::error::{Error, Result};
use crate::layer::path::display_path;
use crate::layer::{EntryKind, NO_SPARSE, ParsedLayer, Span};
use crate::limits::Limits;
use crate::warning::{Warning, WarningKind, WarningLog};

/// Builds a [`Tree`] one layer at a time.
#[derive(Debug)]
pub struct TreeBuilder {
    tree: Tree,
    /// (hash of (parent, name id), child): finding nodes by path while building. Names are
    /// interned first, so a probe compares integers, not bytes.
    lookup: HashTable<(u64, u32)>,
    hasher: FixedState,
    /// The directory of the previous entry: tar entries come grouped by directory.
    cached_dir: Vec<u8>,
    cached_dir_node: u32,
    warnings: WarningLog,
}

impl Default for TreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TreeBuilder {
    /// An empty tree holding only the root directory, with the default limits.
    pub fn new() -> Self {
        Self::with_limits(&Limits::default())
    }

    /// An empty tree holding only the root directory; warnings bounded by `limits`.
    pub fn with_limits(limits: &Limits) -> Self {
        let mut names = Names::default();
        let root_name = names.intern(b"").unwrap_or(0);
        TreeBuilder {
            tree: Tree {
                names,
                nodes: vec![Node {
                    name: root_name,
                    parent: NONE,
                    first_child: NONE,
                    next_sibling: NONE,
                    events: SmallVec::new(),
                }],
                entries: Vec::new(),
                links: Vec::new(),
                layer_count: 0,
                children: Vec::new(),
                child_start: Vec::new(),
                sparse: Vec::new(),
                hardlinks: hashbrown::HashMap::new(),
            },
            lookup: HashTable::new(),
            hasher: FixedState::default(),
            cached_dir: Vec::new(),
            cached_dir_node: 0,
            warnings: WarningLog::new(limits.warnings_per_kind),
        }
    }

    /// Apply the next layer; returns the range of its records in [`Tree::entries`].
    pub fn apply(&mut self, parsed: &ParsedLayer) -> Result<Range<EntryId>> {
        let layer_index = self.tree.layer_count;
        let layer = u16::try_from(layer_index)
            .map_err(|_| Error::TooLarge(format!("images of more than {} layers are not supported", u16::MAX)))?;
        let first = self.entry_id(self.tree.entries.len())?;
        let too_many = || Error::TooLarge("more than 4 billion paths or entries".into());
        // Room for every path of the layer being new: growth happens once per layer, not per node.
        self.lookup.reserve(parsed.entries.len(), |&(h, _)| h);
        self.tree.names.reserve(parsed.entries.len());
        self.tree.entries.reserve(parsed.entries.len());

        // Records first: every path gets a node (a whiteout's node is the path it hides).
        let mut nodes = Vec::with_capacity(parsed.entries.len());
        for raw in &parsed.entries {
            let node = self.node_for_path(raw.path.of(&parsed.bytes)).ok_or_else(too_many)?;
            let id = self.entry_id(self.tree.entries.len())?;
            let link = match raw.link {
                Some(span) => Some(push_link(&mut self.tree.links, span.of(&parsed.bytes)).ok_or_else(too_many)?),
                None => None,
            };
            let sparse = match parsed.sparse.get(raw.sparse as usize) {
                Some(chunks) if raw.sparse != NO_SPARSE => {
                    self.tree.sparse.push(chunks.clone());
                    u32::try_from(self.tree.sparse.len() - 1).map_err(|_| too_many())?
                }
                _ => NO_SPARSE,
            };
            self.tree.entries.push(Entry {
                node: NodeId(node),
                layer,
                kind: raw.kind,
                mode: raw.mode,
                uid: raw.uid,
                gid: raw.gid,
                mtime: raw.mtime,
                size: raw.size,
                content: raw.content,
                data_offset: raw.data_offset,
                link,
                inode: id,
                hashed: raw.hashed,
                stored: raw.stored,
                sparse,
            });
            nodes.push(node);
        }

        // Phase 1: whiteouts and opaque markers act on the state below this layer. A directory's
        // opaque marker acts once however often it is repeated (each would walk every child).
        let mut opaque_done = hashbrown::HashSet::new();
        for (i, raw) in parsed.entries.iter().enumerate() {
            let node = nodes[i];
            match raw.kind {
                EntryKind::Whiteout => {
                    if self.present_before(node, layer) {
                        if self.is_present(node) {
                            self.remove_subtree(node, layer, RemoveCause::Whiteout);
                        }
                    } else {
                        self.warn(WarningKind::WhiteoutOfMissingPath, layer, node, |p| {
                            format!("a whiteout deletes {p}, which no lower layer has")
                        });
                    }
                }
                EntryKind::Opaque if self.present_before(node, layer) && opaque_done.insert(node) => {
                    self.remove_children(node, layer, RemoveCause::Opaque);
                }
                _ => {}
            }
        }

        // Phase 2: entries in tar order.
        for (i, raw) in parsed.entries.iter().enumerate() {
            let node = nodes[i];
            let id = first + self.entry_id(i)?;
            match raw.kind {
                EntryKind::Whiteout => {
                    // docker load creates the directory that holds a whiteout.
                    let parent = self.tree.nodes[node as usize].parent;
                    self.ensure_dir(parent, layer);
                }
                EntryKind::Opaque => self.ensure_dir(node, layer),
                kind => self.write(node, id, kind, layer),
            }
        }

        self.tree.layer_count += 1;
        let end = self.entry_id(self.tree.entries.len())?;
        Ok(first..end)
    }

    /// Finish: sort every directory's children by name and drop the build indexes.
    pub fn finish(mut self) -> (Tree, WarningLog) {
        let tree = &mut self.tree;
        let count = tree.nodes.len();
        let mut child_start = Vec::with_capacity(count + 1);
        let mut children = Vec::with_capacity(count.saturating_sub(1));
        let mut scratch = Vec::new();
        for n in 0..count {
            child_start.push(u32::try_from(children.len()).unwrap_or(u32::MAX));
            scratch.clear();
            let mut c = tree.nodes[n].first_child;
            while c != NONE {
                scratch.push(NodeId(c));
                c = tree.nodes[c as usize].next_sibling;
            }
            let names = &tree.names;
            let nodes = &tree.nodes;
            scratch.sort_unstable_by(|a, b| names.get(nodes[a.index()].name).cmp(names.get(nodes[b.index()].name)));
            children.extend_from_slice(&scratch);
        }
        child_start.push(u32::try_from(children.len()).unwrap_or(u32::MAX));
        tree.children = children;
        tree.child_start = child_start;
        for (id, e) in tree.entries.iter().enumerate() {
            let id = u32::try_from(id).unwrap_or(u32::MAX);
            if e.inode != id {
                let group = tree.hardlinks.entry(e.inode).or_insert_with(|| vec![e.inode]);
                group.push(id);
            }
        }
        tree.names.seal();
        (self.tree, self.warnings)
    }

    fn entry_id(&self, n: usize) -> Result<EntryId> {
        u32::try_from(n).map_err(|_| Error::TooLarge("more than 4 billion tar entries".into()))
    }

    /// Write record `id` at `node`.
    fn write(&mut self, node: u32, id: EntryId, kind: EntryKind, layer: u16) {
        let parent = self.tree.nodes[node as usize].parent;
        self.ensure_dir(parent, layer);
        let last = self.tree.nodes[node as usize].events.last().copied();
        if let Some(Event { layer: l, action: Action::Write(_) }) = last
            && l == layer
        {
            self.warn(WarningKind::DuplicateEntry, layer, node, |p| {
                format!("{p} occurs twice in the layer tar; the later entry wins")
            });
        }
        if kind != EntryKind::Dir && self.is_present_dir(node) {
            // Replacing a directory by a non-directory unlinks the whole subtree.
            self.remove_children(node, layer, RemoveCause::Overwritten);
        }
        if kind == EntryKind::Hardlink {
            self.resolve_hardlink(id, layer);
        }
        self.push_event(node, layer, Action::Write(id));
    }

    fn resolve_hardlink(&mut self, id: EntryId, layer: u16) {
        let target =
            self.tree.entries[id as usize].link.map(|span| span.of(&self.tree.links).to_vec()).unwrap_or_default();
        let found = self.find_path(&target).and_then(|t| match self.tree.nodes[t as usize].events.last() {
            Some(Event { action: Action::Write(e), .. }) => Some(*e),
            _ => None,
        });
        match found {
            Some(target_entry) => {
                let inode = self.tree.entries[target_entry as usize].inode;
                self.tree.entries[id as usize].inode = inode;
            }
            None => {
                let node = self.tree.entries[id as usize].node.0;
                let mut target_shown = String::new();
                display_path(&target, &mut target_shown);
                self.warn(WarningKind::HardLinkTargetMissing, layer, node, |p| {
                    format!("the hard link {p} points to {target_shown}, which does not exist")
                });
            }
        }
    }

    /// Make `node` a visible directory in `layer`, creating it (and missing ancestors) implicitly.
    fn ensure_dir(&mut self, node: u32, layer: u16) {
        // Walk up to the first ancestor that is a visible directory (by the invariant that a
        // visible node's ancestors are visible, nothing above it needs checking).
        let mut chain = Vec::new();
        let mut n = node;
        while n != 0 && n != NONE && !self.is_present_dir(n) {
            chain.push(n);
            n = self.tree.nodes[n as usize].parent;
        }
        for &n in chain.iter().rev() {
            if self.is_present(n) {
                self.warn(WarningKind::ImplicitTypeChange, layer, n, |p| {
                    format!("{p} was a file; the layer puts entries under it, making it a directory")
                });
            }
            self.push_event(n, layer, Action::ImplicitDir);
        }
    }

    /// Remove every visible child of `node` (and their subtrees).
    fn remove_children(&mut self, node: u32, layer: u16, cause: RemoveCause) {
        let mut child = self.tree.nodes[node as usize].first_child;
        while child != NONE {
            if self.is_present(child) {
                self.remove_subtree(child, layer, cause);
            }
            child = self.tree.nodes[child as usize].next_sibling;
        }
    }

    /// Remove `node` and every visible node below it.
    fn remove_subtree(&mut self, node: u32, layer: u16, cause: RemoveCause) {
        self.push_event(node, layer, Action::Remove(cause));
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            let mut child = self.tree.nodes[n as usize].first_child;
            while child != NONE {
                // An invisible node has no visible descendants: skip its subtree.
                if self.is_present(child) {
                    self.push_event(child, layer, Action::Remove(RemoveCause::ParentRemoved));
                    stack.push(child);
                }
                child = self.tree.nodes[child as usize].next_sibling;
            }
        }
    }

    fn push_event(&mut self, node: u32, layer: u16, action: Action) {
        self.tree.nodes[node as usize].events.push(Event { layer, action });
    }

    fn is_present(&self, node: u32) -> bool {
        node == 0 || self.tree.nodes[node as usize].events.last().is_some_and(|e| e.is_present())
    }

    fn is_present_dir(&self, node: u32) -> bool {
        if node == 0 {
            return true;
        }
        match self.tree.nodes[node as usize].events.last() {
            Some(Event { action: Action::ImplicitDir, .. }) => true,
            Some(Event { action: Action::Write(e), .. }) => self.tree.entries[*e as usize].kind == EntryKind::Dir,
            _ => false,
        }
    }

    /// Whether `node` was visible after the layer below `layer`.
    fn present_before(&self, node: u32, layer: u16) -> bool {
        let events = &self.tree.nodes[node as usize].events;
        let below = events.partition_point(|e| e.layer < layer);
        below > 0 && events[below - 1].is_present()
    }

    /// Record a warning about `node`; `message` gets the node's displayed path.
    fn warn(&mut self, kind: WarningKind, layer: u16, node: u32, message: impl FnOnce(&str) -> String) {
        let shown = self.display(node);
        let warning = Warning::layer(kind, usize::from(layer), message(&shown)).with_path(shown);
        self.warnings.push(warning);
    }

    fn display(&self, node: u32) -> String {
        let mut out = String::new();
        display_path(&self.tree.path(NodeId(node)), &mut out);
        out
    }

    /// The node for a relative path, created (without history) if new.
    fn node_for_path(&mut self, path: &[u8]) -> Option<u32> {
        let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&path[..0], path),
        };
        let parent = if dir == self.cached_dir.as_slice() {
            self.cached_dir_node
        } else {
            let mut node = 0;
            for part in dir.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
                node = self.child(node, part)?;
            }
            self.cached_dir.clear();
            self.cached_dir.extend_from_slice(dir);
            self.cached_dir_node = node;
            node
        };
        if base.is_empty() {
            return Some(parent);
        }
        self.child(parent, base)
    }

    /// Find a node by relative path without creating anything.
    fn find_path(&self, path: &[u8]) -> Option<u32> {
        let mut node = 0;
        for part in path.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            node = self.find_child(node, part)?;
        }
        Some(node)
    }

    fn child_hash(&self, parent: u32, name: u32) -> u64 {
        self.hasher.hash_one((parent, name))
    }

    fn find_child(&self, parent: u32, name: &[u8]) -> Option<u32> {
        let name = self.tree.names.find(name)?;
        self.find_child_id(parent, name)
    }

    fn find_child_id(&self, parent: u32, name: u32) -> Option<u32> {
        let hash = self.child_hash(parent, name);
        let nodes = &self.tree.nodes;
        self.lookup
            .find(hash, |&(h, c)| h == hash && nodes[c as usize].parent == parent && nodes[c as usize].name == name)
            .map(|&(_, c)| c)
    }

    fn child(&mut self, parent: u32, name: &[u8]) -> Option<u32> {
        let name_id = self.tree.names.intern(name)?;
        if let Some(c) = self.find_child_id(parent, name_id) {
            return Some(c);
        }
        let id = u32::try_from(self.tree.nodes.len()).ok().filter(|&id| id != NONE)?;
        let first = self.tree.nodes[parent as usize].first_child;
        self.tree.nodes.push(Node {
            name: name_id,
            parent,
            first_child: NONE,
            next_sibling: first,
            events: SmallVec::new(),
        });
        self.tree.nodes[parent as usize].first_child = id;
        let hash = self.child_hash(parent, name_id);
        self.lookup.insert_unique(hash, (hash, id), |&(h, _)| h);
        Some(id)
    }
}

fn push_link(arena: &mut Vec<u8>, bytes: &[u8]) -> Option<Span> {
    let start = u32::try_from(arena.len()).ok()?;
    let len = u32::try_from(bytes.len()).ok()?;
    start.checked_add(len)?;
    arena.extend_from_slice(bytes);
    Some(Span { start, len })
}
