//! dive 0.13.1's figures, quirks included (../shared/docs/dive-reference.md §2.1–2.6; the executable
//! spec is dive_model.py): for `--dive-compat` and for the `dive` block of every JSON report, so a team
//! can switch tools without moving its thresholds.
//!
//! dive looks at each layer as its own tree (tar entries plus implicit parents, whiteouts as nodes
//! named `.wh.NAME`, opaque markers dropped), walks the *leaves* of each layer in name order, and
//! for every path sums the sizes of all its leaf nodes (`cum`) and keeps the smallest (`min`). A
//! whiteout counts 0, or the size of the subtree it deletes if that was an explicit directory; a
//! whiteout of a path missing below stops the walk of that layer. Efficiency = Σmin / Σcum over all
//! paths; wasted bytes = Σcum over paths with two or more nodes (every copy, the kept one too).
//!
//! Known differences from dive itself, both where dive is wrong or random: layers are stacked in
//! manifest order for OCI layouts (dive uses Go map order, i.e. random), and `..` in tar paths is
//! clamped at the root (dive keeps a `..` node).

use serde::Serialize;

use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{EntryId, NodeId, Tree};

/// The figures dive 0.13.1 prints for an image.
#[derive(Clone, Debug, Serialize)]
pub struct DiveFigures {
    /// dive's efficiency score: Σmin / Σcum over leaf paths.
    pub efficiency: f64,
    /// dive's wasted bytes (`inefficientBytes`): every copy of every path with two or more nodes.
    pub wasted_bytes: u64,
    /// wasted / user size; dive's "user" is every layer but the first. `null` in JSON when dive
    /// would print `NaN` or `+Inf`.
    #[serde(serialize_with = "finite_or_null")]
    pub user_wasted_percent: f64,
    /// Σ layer sizes.
    pub size_bytes: u64,
    /// Σ sizes of layers 1..n.
    pub user_size_bytes: u64,
    /// dive's inefficient-file list, largest first.
    pub inefficient_files: Vec<DiveFile>,
    /// Where dive's walk skipped the rest of a layer (a whiteout of a missing path).
    pub notes: Vec<String>,
}

/// One row of dive's "Inefficient Files" table.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DiveFile {
    /// Nodes at this path across layers.
    pub count: u32,
    /// Σ of their sizes.
    pub size_bytes: u64,
    /// The path (invalid UTF-8 as `\xHH`).
    pub path: String,
    /// The path's bytes, as dive's export writes them.
    #[serde(skip)]
    pub path_bytes: Vec<u8>,
}

fn finite_or_null<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() { s.serialize_f64(*v) } else { s.serialize_none() }
}

/// A node of one layer's dive tree: a path of ours, or the `.wh.` node of a whiteout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DiveNode {
    node: NodeId,
    whiteout: bool,
}

/// Pre-order positions in our name-sorted tree: sorting by them gives dive's name order.
struct Ranks {
    pre: Vec<u32>,
    size: Vec<u32>,
    depth: Vec<u32>,
}

impl Ranks {
    fn new(tree: &Tree) -> Ranks {
        let n = tree.node_count();
        let mut pre = vec![0u32; n];
        let mut size = vec![1u32; n];
        let mut depth = vec![0u32; n];
        let mut order = Vec::with_capacity(n);
        let mut stack = vec![NodeId::ROOT];
        while let Some(node) = stack.pop() {
            pre[node.0 as usize] = order.len() as u32;
            order.push(node);
            for &c in tree.children(node).iter().rev() {
                depth[c.0 as usize] = depth[node.0 as usize] + 1;
                stack.push(c);
            }
        }
        for &node in order.iter().rev() {
            if node != NodeId::ROOT {
                let p = tree.parent(node);
                size[p.0 as usize] += size[node.0 as usize];
            }
        }
        Ranks { pre, size, depth }
    }

    /// A sort key in dive's walk order (children before parents, siblings by name bytes): the last
    /// position of the node's subtree (ancestors share it and come after, being shallower).
    /// Positions are doubled so that a `.wh.NAME` node can sit between two real siblings; several
    /// whiteouts in one gap keep their names' order (`.wh.a` < `.wh.b` as `a` < `b`).
    fn key(&self, tree: &Tree, d: DiveNode) -> u128 {
        let i = d.node.0 as usize;
        let depth_rev = u128::from(0xFFFF - self.depth[i].min(0xFFFF));
        let pack = |primary: u64, whiteout: bool| {
            (u128::from(primary) << 49) | (depth_rev << 33) | (u128::from(whiteout) << 32) | u128::from(self.pre[i])
        };
        if !d.whiteout {
            return pack(2 * u64::from(self.pre[i] + self.size[i] - 1), false);
        }
        let parent = tree.parent(d.node);
        let mut name = b".wh.".to_vec();
        name.extend_from_slice(tree.name(d.node));
        let siblings = tree.children(parent);
        let next = siblings.partition_point(|s| tree.name(*s) < name.as_slice());
        let p = parent.0 as usize;
        match siblings.get(next) {
            // Just before the next sibling's subtree.
            Some(s) => pack(2 * u64::from(self.pre[s.0 as usize]) - 1, true),
            // After the last sibling's subtree, before the parent itself.
            None => pack(2 * u64::from(self.pre[p] + self.size[p] - 1), true),
        }
    }
}

const NO_ENTRY: u32 = u32::MAX;

/// One layer as dive sees it: its tar entries plus implicit parents, whiteouts as their own nodes.
/// Per-node arrays stamped with the layer number are reused from layer to layer.
struct LayerTree {
    /// `layer + 1` where the node is a (non-whiteout) node of the current layer.
    stamp: Vec<u32>,
    /// Its info: an entry, or `NO_ENTRY` for an implicit parent (dive's empty FileInfo).
    info: Vec<u32>,
    /// `layer + 1` where the node has children in the current layer.
    parent_stamp: Vec<u32>,
    /// `layer + 1` where the node has a whiteout node in the current layer, and that entry.
    whiteout_stamp: Vec<u32>,
    whiteout_info: Vec<u32>,
    /// The current layer's nodes, in no particular order.
    items: Vec<DiveNode>,
    current: u32,
}

impl LayerTree {
    fn new(n: usize) -> LayerTree {
        LayerTree {
            stamp: vec![0; n],
            info: vec![NO_ENTRY; n],
            parent_stamp: vec![0; n],
            whiteout_stamp: vec![0; n],
            whiteout_info: vec![NO_ENTRY; n],
            items: Vec::new(),
            current: 0,
        }
    }

    fn build(&mut self, tree: &Tree, entries: std::ops::Range<EntryId>, layer: usize) {
        self.current = u32::try_from(layer + 1).unwrap_or(u32::MAX);
        self.items.clear();
        for id in entries {
            let e = tree.entry(id);
            let first_parent = match e.kind {
                // The marker itself never becomes a node; its directory and ancestors do.
                EntryKind::Opaque => e.node,
                kind => {
                    // A whiteout and a file at the same path are separate dive nodes.
                    let whiteout = kind == EntryKind::Whiteout;
                    let (stamp, info) = if whiteout {
                        (&mut self.whiteout_stamp, &mut self.whiteout_info)
                    } else {
                        (&mut self.stamp, &mut self.info)
                    };
                    let i = e.node.0 as usize;
                    if stamp[i] != self.current {
                        stamp[i] = self.current;
                        self.items.push(DiveNode { node: e.node, whiteout });
                    }
                    info[i] = id;
                    self.parent_stamp[tree.parent(e.node).0 as usize] = self.current;
                    tree.parent(e.node)
                }
            };
            let mut node = first_parent;
            while node != NodeId::ROOT {
                let i = node.0 as usize;
                self.parent_stamp[tree.parent(node).0 as usize] = self.current;
                if self.stamp[i] == self.current {
                    break;
                }
                self.stamp[i] = self.current;
                self.info[i] = NO_ENTRY;
                self.items.push(DiveNode { node, whiteout: false });
                node = tree.parent(node);
            }
        }
    }

    fn info(&self, d: DiveNode) -> Option<EntryId> {
        let i = d.node.0 as usize;
        let info = if d.whiteout { self.whiteout_info[i] } else { self.info[i] };
        (info != NO_ENTRY).then_some(info)
    }

    /// A normal node of this layer: Some(its info).
    fn normal(&self, node: NodeId) -> Option<Option<EntryId>> {
        let i = node.0 as usize;
        (self.stamp[i] == self.current).then(|| (self.info[i] != NO_ENTRY).then_some(self.info[i]))
    }

    fn is_leaf(&self, d: DiveNode) -> bool {
        d.whiteout || self.parent_stamp[d.node.0 as usize] != self.current
    }

    /// The layer's nodes in dive's walk order.
    fn sorted(&self, tree: &Tree, ranks: &Ranks) -> Vec<DiveNode> {
        let mut keyed: Vec<(u128, DiveNode)> = self.items.iter().map(|d| (ranks.key(tree, *d), *d)).collect();
        keyed.sort_unstable_by_key(|(k, _)| *k);
        keyed.into_iter().map(|(_, d)| d).collect()
    }

    /// Σ sizes of `node`'s subtree within this layer's own tree.
    fn subtree_size(&self, tree: &Tree, node: NodeId) -> u64 {
        let mut total = 0;
        let mut todo = vec![node];
        while let Some(n) = todo.pop() {
            if let Some(info) = self.normal(n) {
                total += info.map_or(0, |e| header_size(tree, e));
                todo.extend_from_slice(tree.children(n));
            }
            let i = n.0 as usize;
            if self.whiteout_stamp[i] == self.current && self.whiteout_info[i] != NO_ENTRY {
                total += header_size(tree, self.whiteout_info[i]);
            }
        }
        total
    }
}

/// dive's stacked tree: which paths exist after the layers applied so far, with their info.
struct Stack {
    present: Vec<bool>,
    info: Vec<Option<EntryId>>,
}

impl Stack {
    fn remove(&mut self, tree: &Tree, node: NodeId) {
        let mut todo = vec![node];
        while let Some(n) = todo.pop() {
            if std::mem::replace(&mut self.present[n.0 as usize], false) {
                todo.extend_from_slice(tree.children(n));
            }
        }
    }

    fn add(&mut self, tree: &Tree, node: NodeId, info: Option<EntryId>) {
        let mut n = tree.parent(node);
        while n != NodeId::ROOT && !self.present[n.0 as usize] {
            self.present[n.0 as usize] = true;
            self.info[n.0 as usize] = None;
            n = tree.parent(n);
        }
        self.present[node.0 as usize] = true;
        self.info[node.0 as usize] = info;
    }

    /// Σ header sizes of `node` and everything below it.
    fn subtree_size(&self, tree: &Tree, node: NodeId) -> u64 {
        let mut total = 0;
        let mut todo = vec![node];
        while let Some(n) = todo.pop() {
            if self.present[n.0 as usize] {
                total += self.info[n.0 as usize].map_or(0, |e| header_size(tree, e));
                todo.extend_from_slice(tree.children(n));
            }
        }
        total
    }
}

fn header_size(tree: &Tree, e: EntryId) -> u64 {
    tree.entry(e).size
}

fn is_dive_dir(tree: &Tree, info: Option<EntryId>) -> bool {
    info.is_some_and(|e| tree.entry(e).kind == EntryKind::Dir)
}

/// Per path: Σ sizes, the smallest size (-1 until a node counts), nodes counted. `min == i64::MAX`
/// marks a path dive never created.
#[derive(Clone, Copy)]
struct PathStat {
    cum: u64,
    min: i64,
    count: u32,
}

const NOT_CREATED: PathStat = PathStat { cum: 0, min: i64::MAX, count: 0 };

/// dive's figures for `image`.
pub fn figures(image: &Image) -> DiveFigures {
    let tree = &image.tree;
    let n = tree.node_count();
    let ranks = Ranks::new(tree);
    let mut stack = Stack { present: vec![false; n], info: vec![None; n] };
    let mut lt = LayerTree::new(n);
    let mut data = vec![NOT_CREATED; n];
    let mut created: Vec<NodeId> = Vec::new();
    let mut second: Vec<NodeId> = Vec::new();
    let mut notes = Vec::new();
    for (index, layer) in image.layers.iter().enumerate() {
        lt.build(tree, layer.entries.clone(), index);
        let all = lt.sorted(tree, &ranks);
        for &d in &all {
            if !lt.is_leaf(d) {
                continue;
            }
            let stat = &mut data[d.node.0 as usize];
            if stat.min == i64::MAX {
                // Created here, before the whiteout lookup below.
                *stat = PathStat { cum: 0, min: -1, count: 0 };
                created.push(d.node);
            }
            let size = if d.whiteout {
                // Layer 0's whiteouts look at layer 0 itself (dive's stack starts as a copy of it).
                let prev = if index == 0 {
                    lt.normal(d.node).map(|info| (info, true))
                } else {
                    stack.present[d.node.0 as usize].then(|| (stack.info[d.node.0 as usize], false))
                };
                match prev {
                    None => {
                        notes.push(format!(
                            "layer {index}: whiteout of missing path {}; rest of the layer not counted",
                            tree.display_path(d.node).0
                        ));
                        break;
                    }
                    Some((info, own_layer)) if is_dive_dir(tree, info) => {
                        if own_layer {
                            lt.subtree_size(tree, d.node)
                        } else {
                            stack.subtree_size(tree, d.node)
                        }
                    }
                    Some(_) => 0,
                }
            } else {
                lt.info(d).map_or(0, |e| header_size(tree, e))
            };
            stat.cum += size;
            let size_i = i64::try_from(size).unwrap_or(i64::MAX - 1);
            if stat.min < 0 || size_i < stat.min {
                stat.min = size_i;
            }
            stat.count += 1;
            if stat.count == 2 {
                second.push(d.node);
            }
        }
        // Stack this layer (children before parents, siblings by name), opaque markers ignored.
        for &d in &all {
            if d.whiteout {
                if stack.present[d.node.0 as usize] {
                    stack.remove(tree, d.node);
                }
            } else {
                stack.add(tree, d.node, lt.info(d));
            }
        }
    }
    let minimum: i64 = created.iter().map(|n| data[n.0 as usize].min).sum();
    let discovered: u64 = created.iter().map(|n| data[n.0 as usize].cum).sum();
    let efficiency = if discovered == 0 { 1.0 } else { minimum as f64 / discovered as f64 };
    // dive sorts ascending with Go's unstable sort.Sort and reports the reverse: the port gives
    // ties dive's order.
    super::gosort::sort_by(&mut second, |a, b| data[a.0 as usize].cum < data[b.0 as usize].cum);
    second.reverse();
    let inefficient_files: Vec<DiveFile> = second
        .iter()
        .map(|n| {
            let s = data[n.0 as usize];
            DiveFile {
                count: s.count,
                size_bytes: s.cum,
                path: tree.display_path(*n).0,
                path_bytes: [b"/".as_slice(), &tree.path(*n)].concat(),
            }
        })
        .collect();
    let wasted_bytes = inefficient_files.iter().map(|f| f.size_bytes).sum();
    let size_bytes = image.size_bytes();
    let user_size_bytes: u64 = image.layers.iter().skip(1).map(|l| l.size_bytes).sum();
    DiveFigures {
        efficiency,
        wasted_bytes,
        user_wasted_percent: go_div(wasted_bytes as f64, user_size_bytes as f64),
        size_bytes,
        user_size_bytes,
        inefficient_files,
        notes,
    }
}

/// float64 division as Go does it: x/0 is ±Inf, 0/0 is NaN.
fn go_div(a: f64, b: f64) -> f64 {
    if b == 0.0 { if a == 0.0 || a.is_nan() { f64::NAN } else { f64::INFINITY.copysign(a) } } else { a / b }
}

/// One line of dive's file list of a layer: a path (or the `.wh.` path of a whiteout) and the
/// record dive shows for it.
#[derive(Clone, Copy, Debug)]
pub struct ListedFile {
    /// The path's node.
    pub node: NodeId,
    /// Whether it is the `.wh.` entry of a whiteout (its path is the one it hides).
    pub whiteout: bool,
    /// The record shown (`None`: a folder no entry of the layer made).
    pub entry: Option<EntryId>,
}

/// dive's file list of each layer, in dive's order: `each` is called with each layer's index and
/// list, one layer at a time (the lists of a big image do not fit in memory together).
pub fn for_each_file_list(image: &Image, mut each: impl FnMut(usize, &[ListedFile])) {
    let tree = &image.tree;
    let ranks = Ranks::new(tree);
    let mut lt = LayerTree::new(tree.node_count());
    for (index, layer) in image.layers.iter().enumerate() {
        lt.build(tree, layer.entries.clone(), index);
        let files: Vec<ListedFile> = lt
            .sorted(tree, &ranks)
            .into_iter()
            .map(|d| ListedFile { node: d.node, whiteout: d.whiteout, entry: lt.info(d) })
            .collect();
        each(index, &files);
    }
}
