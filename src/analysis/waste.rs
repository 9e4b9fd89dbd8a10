//! Wasted bytes, their causes and layers, duplicate content.
//!
//! A regular-file record ships its bytes once. The copy is *live* when some path visible after the
//! last layer shows it (directly or through a hard link); otherwise it is wasted, and the event that
//! followed its write on its path says why and which layer did it.

use serde::{Deserialize, Serialize};

use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{Action, EntryId, NodeId, RemoveCause, State, Tree};

/// Why a copy of some bytes is wasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Hidden by a whiteout, an opaque directory or a removed parent.
    Deleted,
    /// Hidden by other content at the same path.
    Overwritten,
    /// Hidden by the same content at the same path (chmod, chown, touch, identical re-add).
    MetadataOnly,
}

impl Cause {
    /// Every cause, in report order.
    pub const ALL: [Cause; 3] = [Cause::Deleted, Cause::Overwritten, Cause::MetadataOnly];

    /// The name in JSON (`metadata_only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Deleted => "deleted",
            Cause::Overwritten => "overwritten",
            Cause::MetadataOnly => "metadata_only",
        }
    }

    /// The name people read (`metadata-only`), in the explorer, the reports and the README.
    pub fn label(self) -> &'static str {
        match self {
            Cause::MetadataOnly => "metadata-only",
            other => other.as_str(),
        }
    }
}

/// Bytes by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Causes {
    /// Hidden by deletion.
    pub deleted: u64,
    /// Hidden by other content.
    pub overwritten: u64,
    /// Hidden by the same content re-shipped.
    pub metadata_only: u64,
}

impl Causes {
    /// The bytes of one cause.
    pub fn of(&self, cause: Cause) -> u64 {
        match cause {
            Cause::Deleted => self.deleted,
            Cause::Overwritten => self.overwritten,
            Cause::MetadataOnly => self.metadata_only,
        }
    }

    pub(crate) fn add(&mut self, cause: Cause, bytes: u64) {
        match cause {
            Cause::Deleted => self.deleted += bytes,
            Cause::Overwritten => self.overwritten += bytes,
            Cause::MetadataOnly => self.metadata_only += bytes,
        }
    }

    /// Σ of the three causes.
    pub fn total(&self) -> u64 {
        self.deleted + self.overwritten + self.metadata_only
    }
}

/// What one layer contributes to the waste.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerWaste {
    /// The layer.
    pub index: usize,
    /// Bytes it shipped (its size).
    pub size_bytes: u64,
    /// Of those, bytes still visible at the end.
    pub visible_bytes: u64,
    /// Of those, bytes hidden later (`size − visible`).
    pub wasted_bytes: u64,
    /// Its wasted bytes by cause.
    pub wasted_by_cause: Causes,
    /// Its wasted bytes by the layer that hid them: `[layer, bytes]` pairs.
    pub wasted_by_layer: Vec<(usize, u64)>,
    /// Bytes of lower layers this layer hid.
    pub hides_bytes: u64,
    /// Those by cause.
    pub hides_by_cause: Causes,
    /// 0 (no waste) to 100: the share of the bytes this layer touches (shipped or hid) that end up
    /// wasted, `(wasted + hides) / (size + hides)`.
    pub score: u8,
}

/// A path (or a deleted directory) and the bytes wasted there.
#[derive(Clone, Debug, Serialize)]
pub struct WastePath {
    /// Absolute path; for deleted or opaque directories the directory.
    pub path: String,
    /// Exact path bytes in hex, when `path` had to escape some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_raw: Option<String>,
    /// The node, for viewers.
    #[serde(skip)]
    pub node: NodeId,
    /// Wasted bytes.
    pub bytes: u64,
    /// Copies of the path shipped, the visible one included (1 for a deleted directory).
    pub copies: u32,
    /// Files whose bytes are counted (more than 1 for a directory).
    pub files: u32,
    /// The main cause (by bytes).
    pub cause: Cause,
    /// Layers that shipped the wasted copies.
    pub shipped_by: Vec<usize>,
    /// Layers that hid them.
    pub hidden_by: Vec<usize>,
    /// How to avoid it.
    pub fix: String,
}

/// Identical content visible at several paths.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Duplicate {
    /// Size of one copy.
    pub size_bytes: u64,
    /// (copies − 1) × size.
    pub reclaimable_bytes: u64,
    /// The paths (hard links of one copy included).
    pub paths: Vec<String>,
}

/// One wasted copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DeadCopy {
    pub bytes: u64,
    pub shipped: usize,
    pub hidden: usize,
    pub cause: Cause,
    /// Where it is listed: the path, or the directory whose deletion hid it.
    pub group: NodeId,
    pub node: NodeId,
}

pub(crate) struct WasteResult {
    pub final_size: u64,
    pub causes: Causes,
    pub layers: Vec<LayerWaste>,
    pub top: Vec<WastePath>,
    /// Σ reclaimable bytes over every duplicate group (the list is cut).
    pub duplicate_bytes: u64,
    pub duplicates: Vec<Duplicate>,
    /// Wasted bytes by (layer that shipped them, layer that hid them), in that order: what the
    /// user figures need for any base.
    pub dead_by_layers: Vec<(usize, usize, u64)>,
    /// Wasted bytes by where they come from (apt lists, a pip cache, a chmod…), largest first.
    pub sources: Vec<super::sources::SourceWaste>,
}

pub(crate) struct UserFigures {
    pub size: u64,
    pub wasted: u64,
    pub base_hidden: u64,
    pub percent: f64,
}

/// Duplicate groups listed (the byte total covers all of them).
const DUPLICATE_LIST: usize = 20;

pub(crate) fn compute(image: &Image, top_n: usize) -> WasteResult {
    let tree = &image.tree;
    let entries = tree.entries();
    let mut live = vec![false; entries.len()];
    let mut final_size = 0;
    // (size, hash, content entry) of every live copy, for duplicate content.
    let mut contents: Vec<(u64, u64, EntryId)> = Vec::new();
    // The visible paths of each live copy: the first one, and more for hard-linked copies.
    let mut first_path = vec![u32::MAX; entries.len()];
    let mut more_paths: Vec<(EntryId, NodeId)> = Vec::new();
    if let Some(top) = image.top_layer() {
        for node in tree.visible_nodes(top) {
            let State::Present { entry: Some(id), .. } = tree.state_at(node, Some(top)) else { continue };
            let e = tree.entry(id);
            if !matches!(e.kind, EntryKind::File | EntryKind::Hardlink) {
                continue;
            }
            let content = tree.content_entry(e);
            if content.kind != EntryKind::File {
                continue;
            }
            let inode = e.inode as usize;
            if live[inode] {
                more_paths.push((e.inode, node));
                continue;
            }
            live[inode] = true;
            first_path[inode] = node.0;
            final_size += content.size;
            if content.size > 0 {
                contents.push((content.size, content.content, e.inode));
            }
        }
    }

    let mut layers: Vec<LayerWaste> = image
        .layers
        .iter()
        .map(|l| LayerWaste {
            index: l.index,
            size_bytes: l.size_bytes,
            visible_bytes: 0,
            wasted_bytes: 0,
            wasted_by_cause: Causes::default(),
            wasted_by_layer: Vec::new(),
            hides_bytes: 0,
            hides_by_cause: Causes::default(),
            score: 0,
        })
        .collect();
    let mut causes = Causes::default();
    let mut dead = Vec::new();
    for (id, e) in entries.iter().enumerate() {
        if e.kind != EntryKind::File {
            continue;
        }
        let shipped = usize::from(e.layer);
        if live[id] {
            if let Some(l) = layers.get_mut(shipped) {
                l.visible_bytes += e.size;
            }
            continue;
        }
        let copy = classify(tree, u32::try_from(id).unwrap_or(u32::MAX), e.node, shipped, e.size);
        causes.add(copy.cause, copy.bytes);
        if let Some(l) = layers.get_mut(shipped) {
            l.wasted_bytes += copy.bytes;
            l.wasted_by_cause.add(copy.cause, copy.bytes);
            match l.wasted_by_layer.iter_mut().find(|(h, _)| *h == copy.hidden) {
                Some((_, b)) => *b += copy.bytes,
                None => l.wasted_by_layer.push((copy.hidden, copy.bytes)),
            }
        }
        if copy.hidden != shipped
            && let Some(l) = layers.get_mut(copy.hidden)
        {
            l.hides_bytes += copy.bytes;
            l.hides_by_cause.add(copy.cause, copy.bytes);
        }
        dead.push(copy);
    }
    for l in &mut layers {
        l.wasted_by_layer.sort_unstable();
        let touched = l.size_bytes + l.hides_bytes;
        let bad = l.wasted_bytes + l.hides_bytes;
        l.score =
            if touched == 0 { 0 } else { ((bad as f64 / touched as f64) * 100.0).round().clamp(0.0, 100.0) as u8 };
    }

    let top = top_waste(tree, &dead, top_n, image.container_layer());
    let sources = waste_sources(tree, &dead, image.container_layer());
    let (duplicate_bytes, duplicates) = duplicates(tree, contents, &first_path, &more_paths);
    let mut pairs: Vec<(usize, usize, u64)> = dead.iter().map(|d| (d.shipped, d.hidden, d.bytes)).collect();
    pairs.sort_unstable();
    let mut dead_by_layers: Vec<(usize, usize, u64)> = Vec::new();
    for (shipped, hidden, bytes) in pairs {
        match dead_by_layers.last_mut() {
            Some(last) if (last.0, last.1) == (shipped, hidden) => last.2 += bytes,
            _ => dead_by_layers.push((shipped, hidden, bytes)),
        }
    }
    WasteResult { final_size, causes, layers, top, duplicate_bytes, duplicates, dead_by_layers, sources }
}

/// The dead copies by source; each folder's path is built and matched once.
fn waste_sources(tree: &Tree, dead: &[DeadCopy], container: Option<usize>) -> Vec<super::sources::SourceWaste> {
    let mut folders: std::collections::HashMap<NodeId, Option<super::sources::Source>> =
        std::collections::HashMap::new();
    let copies = dead.iter().map(move |d| {
        let parent = tree.parent(d.node);
        let known = *folders.entry(parent).or_insert_with(|| {
            let mut dir = String::from_utf8_lossy(&tree.path(parent)).into_owned();
            if !dir.is_empty() {
                dir.push('/');
            }
            super::sources::folder_source(&dir)
        });
        (known, d.cause, d.bytes, d.shipped, d.hidden)
    });
    super::sources::by_source(copies, container)
}

/// Why copy `id` (at `node`, shipped by layer `shipped`) is not visible, and who hid it.
fn classify(tree: &Tree, id: EntryId, node: NodeId, shipped: usize, bytes: u64) -> DeadCopy {
    let events = tree.events(node);
    let next = events.iter().position(|e| e.action == Action::Write(id)).and_then(|i| events.get(i + 1));
    let (cause, hidden, group) = match next {
        Some(ev) => {
            let layer = usize::from(ev.layer);
            match ev.action {
                Action::Remove(cause) => (Cause::Deleted, layer, removal_root(tree, node, ev.layer, cause)),
                Action::Write(other) => {
                    let (a, b) = (tree.entry(id), tree.content_entry(tree.entry(other)));
                    let same = b.kind == EntryKind::File && a.size == b.size && a.content == b.content;
                    (if same { Cause::MetadataOnly } else { Cause::Overwritten }, layer, node)
                }
                Action::ImplicitDir => (Cause::Overwritten, layer, node),
            }
        }
        // Unreachable for a consistent tree: a hidden copy always has a next event.
        None => (Cause::Overwritten, shipped, node),
    };
    DeadCopy { bytes, shipped, hidden, cause, group, node }
}

/// The directory (or path) whose deletion hid `node`: climb while the parent was removed too.
fn removal_root(tree: &Tree, node: NodeId, layer: u16, cause: RemoveCause) -> NodeId {
    let mut n = node;
    let mut cause = cause;
    while cause == RemoveCause::ParentRemoved {
        let parent = tree.parent(n);
        if parent == n {
            break;
        }
        n = parent;
        cause = tree
            .events(n)
            .iter()
            .rev()
            .find_map(|e| match e.action {
                Action::Remove(c) if e.layer == layer => Some(c),
                _ => None,
            })
            .unwrap_or(RemoveCause::Whiteout);
    }
    // An opaque marker hides the children of its directory: list the directory.
    if cause == RemoveCause::Opaque { tree.parent(n) } else { n }
}

/// The paths wasting most, grouped; `container` is the layer that is a container's writable one,
/// whose waste has a fix of its own.
fn top_waste(tree: &Tree, dead: &[DeadCopy], top_n: usize, container: Option<usize>) -> Vec<WastePath> {
    struct Group {
        node: NodeId,
        bytes: u64,
        by_cause: Causes,
        shipped: Vec<usize>,
        hidden: Vec<usize>,
        files: u32,
        copies: u32,
        /// Holds copies of paths below the group's path (a deleted directory).
        below: bool,
    }
    // Copies of one group side by side, then one pass: no per-group maps or sets.
    let mut order: Vec<&DeadCopy> = dead.iter().filter(|d| d.bytes > 0).collect();
    order.sort_unstable_by_key(|d| (d.group, d.node));
    let mut groups: Vec<Group> = Vec::new();
    for (i, d) in order.iter().enumerate() {
        let new_group = groups.last().is_none_or(|g| g.node != d.group);
        if new_group {
            groups.push(Group {
                node: d.group,
                bytes: 0,
                by_cause: Causes::default(),
                shipped: Vec::new(),
                hidden: Vec::new(),
                files: 0,
                copies: 0,
                below: false,
            });
        }
        let Some(g) = groups.last_mut() else { continue };
        g.bytes += d.bytes;
        g.by_cause.add(d.cause, d.bytes);
        g.shipped.push(d.shipped);
        g.hidden.push(d.hidden);
        g.copies += 1;
        g.below |= d.node != d.group;
        if new_group || order[i - 1].node != d.node {
            g.files += 1;
        }
    }
    // The largest groups (ties by node, to be deterministic), then those in path order on ties.
    if groups.len() > top_n && top_n > 0 {
        groups.select_nth_unstable_by_key(top_n - 1, |g| (std::cmp::Reverse(g.bytes), g.node));
        groups.truncate(top_n);
    } else if top_n == 0 {
        groups.clear();
    }
    let mut listed: Vec<(Group, (String, Option<String>))> = groups
        .into_iter()
        .map(|g| {
            let shown = tree.display_path(g.node);
            (g, shown)
        })
        .collect();
    listed.sort_by(|a, b| b.0.bytes.cmp(&a.0.bytes).then_with(|| a.1.0.cmp(&b.1.0)));
    let top_layer = tree.layer_count().checked_sub(1);
    listed
        .into_iter()
        .map(|(mut g, (path, path_raw))| {
            let cause = Cause::ALL.into_iter().max_by_key(|c| g.by_cause.of(*c)).unwrap_or(Cause::Deleted);
            let node = g.node;
            let is_dir_group = g.files > 1 || g.below;
            let visible_now = !is_dir_group
                && top_layer.is_some_and(|t| matches!(tree.state_at(node, Some(t)), State::Present { .. }));
            let copies = if is_dir_group { 1 } else { g.copies + u32::from(visible_now) };
            g.shipped.sort_unstable();
            g.shipped.dedup();
            g.hidden.sort_unstable();
            g.hidden.dedup();
            let fix = if container.is_some_and(|c| g.hidden.contains(&c)) { CONTAINER_FIX } else { fix_for(cause) };
            WastePath {
                path,
                path_raw,
                node,
                bytes: g.bytes,
                copies,
                files: g.files,
                cause,
                shipped_by: g.shipped,
                hidden_by: g.hidden,
                fix: fix.to_string(),
            }
        })
        .collect()
}

/// How to avoid waste a container's writable layer makes: copy-on-write copied the whole file up
/// to change, chmod or delete-and-rewrite it.
pub const CONTAINER_FIX: &str = "the container changed it, and copy-on-write copied the whole file into its writable layer: \
     keep files a container changes (data, logs, caches) in a volume, or make the change in the image";

/// A sentence on how to avoid one kind of waste (the layers are reported beside it).
pub fn fix_for(cause: Cause) -> &'static str {
    match cause {
        Cause::Deleted => {
            "remove it in the same RUN that creates it, or keep it out of the image (.dockerignore, multi-stage build)"
        }
        Cause::MetadataOnly => {
            "set mode and owner when adding it (COPY --chmod/--chown) or in the RUN that creates it, not in a later layer"
        }
        Cause::Overwritten => "produce the final version in one layer instead of replacing it later",
    }
}

fn duplicates(
    tree: &Tree,
    mut contents: Vec<(u64, u64, EntryId)>,
    first_path: &[u32],
    more_paths: &[(EntryId, NodeId)],
) -> (u64, Vec<Duplicate>) {
    // Sorted by (size, hash), equal contents are neighbours.
    contents.sort_unstable();
    let mut groups: Vec<(u64, u64, Vec<EntryId>)> = Vec::new();
    for run in contents.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if run.len() > 1 {
            let size = run[0].0;
            groups.push((size * (run.len() as u64 - 1), size, run.iter().map(|c| c.2).collect()));
        }
    }
    let total = groups.iter().map(|g| g.0).sum();
    groups.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.2.cmp(&b.2)));
    groups.truncate(DUPLICATE_LIST);
    // Paths only for the groups listed.
    let listed = groups
        .into_iter()
        .map(|(reclaimable, size, inodes)| {
            let mut paths: Vec<String> = inodes
                .iter()
                .filter_map(|&i| first_path.get(i as usize).filter(|&&n| n != u32::MAX).map(|&n| NodeId(n)))
                .chain(more_paths.iter().filter(|(i, _)| inodes.contains(i)).map(|(_, n)| *n))
                .map(|n| tree.display_path(n).0)
                .collect();
            paths.sort();
            Duplicate { size_bytes: size, reclaimable_bytes: reclaimable, paths }
        })
        .collect();
    (total, listed)
}

/// User figures for a base of `base_layers` layers.
pub(crate) fn user_figures(image: &Image, waste: &WasteResult, base_layers: usize) -> UserFigures {
    let size: u64 = image.layers.iter().skip(base_layers).map(|l| l.size_bytes).sum();
    let mut wasted = 0;
    let mut base_hidden = 0;
    for &(shipped, hidden, bytes) in &waste.dead_by_layers {
        if hidden >= base_layers {
            wasted += bytes;
            if shipped < base_layers {
                base_hidden += bytes;
            }
        }
    }
    let denominator = size + base_hidden;
    let percent = if denominator == 0 { 0.0 } else { wasted as f64 / denominator as f64 };
    UserFigures { size, wasted, base_hidden, percent }
}
