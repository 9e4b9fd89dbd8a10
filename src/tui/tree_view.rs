//! The file tree as the explorer shows it for one layer: which paths are listed, their change
//! colour, directory sizes, filters, sort order, and the flattened rows of the expanded tree.
//!
//! Work is split by what invalidates it, so a key press redoes only its part:
//! * [`Order`]: the name-sorted pre-order of all nodes, once per image;
//! * [`Marks`]: per node change, size and filter visibility, on a layer, mode, filter or hide toggle;
//!
//! A directory's size is the sum of the sizes shown on the file rows listed below it, with the
//! hidden kinds and the filter applied: what is listed is what adds up. A removed file counts the
//! size it had; a hard link still linked to its file counts nothing (its bytes are the file's, as
//! `du` counts them).
//! * [`Rows`]: the expanded rows, on a collapse or a sort toggle (cheap: it walks shown nodes only;
//!   folding or opening one directory splices its rows out or in). Moving the cursor touches none.
//!
//! On a big image the explorer computes marks and rows off the UI thread; the loops check a stop
//! flag so a newer request ends an older one early.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use regex::bytes::Regex;

use crate::image::Image;
use crate::layer::EntryKind;
use unicode_width::UnicodeWidthStr;

use super::layout::Columns;
use crate::tree::{Change, IMPLICIT_DIR_MODE, NodeId, State, Tree};
use crate::units::human_bytes;

/// Which changes the tree shows for the selected layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeMode {
    /// What the selected layer itself changed (dive's Ctrl+L).
    Layer,
    /// Everything layers 1..=N changed relative to layer 0 (dive's Ctrl+A).
    Aggregated,
}

/// Sort order of a directory's children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortMode {
    /// By name bytes.
    Name,
    /// By size, largest first (ties by name).
    Size,
}

/// A set of change kinds (hidden ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChangeMask(u8);

impl ChangeMask {
    /// What a layer's view hides at first: the paths it left unchanged (one key, U, away).
    pub const UNCHANGED: ChangeMask = ChangeMask(16);

    fn bit(c: Change) -> u8 {
        match c {
            Change::Added => 1,
            Change::Modified => 2,
            Change::MetadataOnly => 4,
            Change::Removed => 8,
            Change::Unchanged => 16,
        }
    }

    /// Whether `c` is in the set.
    pub fn contains(self, c: Change) -> bool {
        self.0 & Self::bit(c) != 0
    }

    /// Add or remove `c`.
    pub fn toggle(&mut self, c: Change) {
        self.0 ^= Self::bit(c);
    }
}

/// Every node in name-sorted pre-order with its depth (the root excluded). Built once per image.
#[derive(Debug)]
pub struct Order {
    nodes: Vec<NodeId>,
    depth: Vec<u16>,
    /// Per node, how many nodes are below it.
    below: Vec<u32>,
}

impl Order {
    /// Walk the whole tree once.
    pub fn new(tree: &Tree) -> Order {
        let mut nodes = Vec::with_capacity(tree.node_count());
        let mut depth = Vec::with_capacity(tree.node_count());
        let mut stack: Vec<(NodeId, u16)> = tree.children(NodeId::ROOT).iter().rev().map(|&c| (c, 1)).collect();
        while let Some((node, d)) = stack.pop() {
            nodes.push(node);
            depth.push(d);
            stack.extend(tree.children(node).iter().rev().map(|&c| (c, d.saturating_add(1))));
        }
        let mut below = vec![0u32; tree.node_count()];
        for &node in nodes.iter().rev() {
            let parent = tree.parent(node);
            if parent != node {
                below[parent.0 as usize] += below[node.0 as usize] + 1;
            }
        }
        Order { nodes, depth, below }
    }

    /// How many nodes are below `node` (all of them, listed or not).
    pub fn below(&self, node: NodeId) -> usize {
        self.below.get(node.0 as usize).map_or(0, |&b| b as usize)
    }
}

/// Sentinel for "not listed at this layer".
const NOT_LISTED: u8 = u8::MAX;

fn encode(c: Option<Change>) -> u8 {
    match c {
        Some(Change::Added) => 0,
        Some(Change::Modified) => 1,
        Some(Change::MetadataOnly) => 2,
        Some(Change::Removed) => 3,
        Some(Change::Unchanged) => 4,
        None => NOT_LISTED,
    }
}

fn decode(b: u8) -> Option<Change> {
    match b {
        0 => Some(Change::Added),
        1 => Some(Change::Modified),
        2 => Some(Change::MetadataOnly),
        3 => Some(Change::Removed),
        4 => Some(Change::Unchanged),
        _ => None,
    }
}

/// What the marks were computed for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeView {
    /// The selected layer.
    pub layer: usize,
    /// Layer or aggregated changes.
    pub mode: TreeMode,
    /// Change kinds hidden by the user.
    pub hidden: ChangeMask,
    /// The path filter as typed (empty: none).
    pub filter: String,
    /// The package whose files alone are shown, by its place in the image's packages (`None`:
    /// every path).
    pub package: Option<usize>,
}

impl TreeView {
    /// Whether a path or package filter is on.
    pub fn filtering(&self) -> bool {
        !self.filter.is_empty() || self.package.is_some()
    }
}

/// The filters of a view, ready to test paths with.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// The path filter compiled (the text as a regex, or escaped when it is not one).
    pub path: Option<Regex>,
    /// Per node, whether it is a file of the package filtered by.
    pub package: Option<Arc<Vec<bool>>>,
}

impl Filter {
    /// Whether it lets only some paths through.
    pub fn is_on(&self) -> bool {
        self.path.is_some() || self.package.is_some()
    }
}

impl TreeView {
    /// The state changes are measured against: the layer below (layer mode) or layer 0
    /// (aggregated mode; nothing for layer 0 itself).
    pub fn base_layer(&self) -> Option<usize> {
        match self.mode {
            TreeMode::Layer => self.layer.checked_sub(1),
            TreeMode::Aggregated if self.layer == 0 => None,
            TreeMode::Aggregated => Some(0),
        }
    }
}

/// How many nodes a loop handles between looks at its stop flag.
const STOP_CHECK: usize = 1 << 14;

fn stopped(i: usize, stop: &AtomicBool) -> bool {
    i.is_multiple_of(STOP_CHECK) && stop.load(Ordering::Relaxed)
}

/// Per-node facts for one layer view.
#[derive(Clone, Debug)]
pub struct Marks {
    /// What they were computed for.
    pub view: TreeView,
    change: Vec<u8>,
    /// A file's own size (0 for directories).
    own: Vec<u64>,
    /// For a hard link, the node of the path it shares its bytes with ([`NO_LINK`] otherwise).
    link_target: Vec<u32>,
    /// `own` for files; for directories the sum over shown descendants.
    size: Vec<u64>,
    /// Listed and not filtered out (itself, or as the parent of something shown).
    shown: Vec<bool>,
    /// The path filter matches the node itself.
    matched: Vec<bool>,
    /// Shown children per node, counted (to draw ⊕ on collapsed directories with content).
    shown_children: Vec<u32>,
}

impl Marks {
    /// Compute the marks for `params` (one pass down, one pass up).
    pub fn new(image: &Image, order: &Order, params: TreeView, filter: &Filter) -> Marks {
        let never = AtomicBool::new(false);
        let empty = Marks::empty(params.clone());
        Marks::new_until(image, order, params, filter, &never).unwrap_or(empty)
    }

    /// Marks listing nothing (what a stopped computation is replaced by; never shown).
    fn empty(view: TreeView) -> Marks {
        Marks {
            view,
            change: Vec::new(),
            own: Vec::new(),
            link_target: Vec::new(),
            size: Vec::new(),
            shown: Vec::new(),
            matched: Vec::new(),
            shown_children: Vec::new(),
        }
    }

    /// [`Marks::new`], or `None` when `stop` is set before it is done.
    fn new_until(image: &Image, order: &Order, params: TreeView, filter: &Filter, stop: &AtomicBool) -> Option<Marks> {
        let tree = &image.tree;
        let n = tree.node_count();
        let mut marks = Marks {
            view: params.clone(),
            change: vec![NOT_LISTED; n],
            own: vec![0u64; n],
            link_target: vec![NO_LINK; n],
            size: vec![0u64; n],
            shown: vec![false; n],
            matched: vec![false; n],
            shown_children: vec![0u32; n],
        };
        let done = marks.compute_changes(tree, order, stop)
            && marks.compute_matches(tree, order, filter, false, stop)
            && marks.compute_shown(tree, order, stop);
        done.then_some(marks)
    }

    /// Bring the marks to `params`, redoing only what changed: the layer or mode needs everything,
    /// the filter its matches and the visibility, hidden kinds only the visibility.
    pub fn update(&mut self, image: &Image, order: &Order, params: TreeView, filter: &Filter) {
        let never = AtomicBool::new(false);
        self.update_until(image, order, params, filter, &never);
    }

    /// These marks brought to `params` as a new value (for a background job: the marks shown stay
    /// as they are), or `None` when `stop` is set before it is done.
    pub fn to_view(
        &self,
        image: &Image,
        order: &Order,
        params: TreeView,
        filter: &Filter,
        stop: &AtomicBool,
    ) -> Option<Marks> {
        if (self.view.layer, self.view.mode) != (params.layer, params.mode) {
            return Marks::new_until(image, order, params, filter, stop);
        }
        let mut marks = self.clone();
        marks.update_until(image, order, params, filter, stop).then_some(marks)
    }

    /// [`Marks::update`]; false when stopped (the marks are then half done: drop them).
    fn update_until(
        &mut self,
        image: &Image,
        order: &Order,
        params: TreeView,
        filter: &Filter,
        stop: &AtomicBool,
    ) -> bool {
        if self.view == params {
            return true;
        }
        let tree = &image.tree;
        if (self.view.layer, self.view.mode) != (params.layer, params.mode) {
            return match Marks::new_until(image, order, params, filter, stop) {
                Some(marks) => {
                    *self = marks;
                    true
                }
                None => false,
            };
        }
        if self.view.filter != params.filter || self.view.package != params.package {
            // Typing more of a plain filter only narrows it: test just what matched before.
            let plain = |f: &str| regex::escape(f) == f;
            let narrows = self.view.package == params.package
                && !self.view.filter.is_empty()
                && plain(&self.view.filter)
                && plain(&params.filter)
                && params.filter.contains(self.view.filter.as_str());
            if !self.compute_matches(tree, order, filter, narrows, stop) {
                return false;
            }
        }
        self.view = params;
        self.compute_shown(tree, order, stop)
    }

    /// Change kinds and file sizes (one pass).
    fn compute_changes(&mut self, tree: &Tree, order: &Order, stop: &AtomicBool) -> bool {
        let layer = self.view.layer;
        let from = self.view.base_layer();
        let mut links_now = tree.links_at(Some(layer));
        let mut links_below = tree.links_at(from);
        for (i, &node) in order.nodes.iter().enumerate() {
            if stopped(i, stop) {
                return false;
            }
            let c = tree.change_between(node, from, layer);
            self.change[node.0 as usize] = encode(c);
            if c.is_none() {
                continue;
            }
            let at = match c {
                Some(Change::Removed) => from,
                _ => Some(layer),
            };
            if let State::Present { entry: Some(e), .. } = tree.state_at(node, at) {
                let e = tree.entry(e);
                if e.kind != EntryKind::Dir {
                    self.own[node.0 as usize] = tree.content_entry(e).size;
                }
                let links = if at == Some(layer) { &mut links_now } else { &mut links_below };
                self.link_target[node.0 as usize] = links.target(e).map_or(NO_LINK, |t| t.0);
            }
        }
        true
    }

    /// Which listed nodes the path filter matches (paths built incrementally, in pre-order);
    /// with `narrows`, only nodes that matched the previous filter can match this one.
    fn compute_matches(
        &mut self,
        tree: &Tree,
        order: &Order,
        filter: &Filter,
        narrows: bool,
        stop: &AtomicBool,
    ) -> bool {
        if !filter.is_on() {
            self.matched.iter_mut().for_each(|m| *m = false);
            return true;
        }
        let mut path: Vec<u8> = Vec::with_capacity(256);
        let mut ends: Vec<usize> = Vec::with_capacity(64);
        for (i, &node) in order.nodes.iter().enumerate() {
            if stopped(i, stop) {
                return false;
            }
            let depth = usize::from(order.depth[i]);
            if filter.path.is_some() {
                ends.truncate(depth - 1);
                path.truncate(ends.last().copied().unwrap_or(0));
                path.push(b'/');
                path.extend_from_slice(tree.name(node));
                ends.push(path.len());
            }
            let i = node.0 as usize;
            if narrows && !self.matched[i] {
                continue;
            }
            let in_package = filter.package.as_ref().is_none_or(|p| p.get(i).copied().unwrap_or(false));
            self.matched[i] =
                self.change[i] != NOT_LISTED && in_package && filter.path.as_ref().is_none_or(|re| re.is_match(&path));
        }
        true
    }

    /// Visibility after hidden kinds and the filter: a node shows when it passes both, or when
    /// something below it shows. Directory sizes add up what shows below them.
    fn compute_shown(&mut self, tree: &Tree, order: &Order, stop: &AtomicBool) -> bool {
        self.shown_children.iter_mut().for_each(|c| *c = 0);
        self.size.copy_from_slice(&self.own);
        let filtering = self.view.filtering();
        // Children come after their parent in pre-order: walking it backwards finishes every
        // child before its parent.
        for (k, &node) in order.nodes.iter().rev().enumerate() {
            if stopped(k, stop) {
                return false;
            }
            let i = node.0 as usize;
            let Some(c) = decode(self.change[i]) else {
                self.shown[i] = false;
                continue;
            };
            let visible = self.passes(i, c, filtering) || self.shown_children[i] > 0;
            self.shown[i] = visible;
            let parent = tree.parent(node);
            if visible && parent != node && parent != NodeId::ROOT {
                let p = parent.0 as usize;
                self.shown_children[p] += 1;
                // A hard link's bytes are counted at the file it shares them with, when that
                // file is listed too; otherwise here.
                let target = self.link_target[i];
                let counted_there = target != NO_LINK
                    && decode(self.change[target as usize])
                        .is_some_and(|tc| self.passes(target as usize, tc, filtering));
                if !counted_there {
                    self.size[p] += self.size[i];
                }
            }
        }
        true
    }

    /// Whether node `i` (listed with change `c`) passes the hidden kinds and the filter itself.
    fn passes(&self, i: usize, c: Change, filtering: bool) -> bool {
        !self.view.hidden.contains(c) && (!filtering || self.matched[i])
    }

    /// For a hard link, the path it shares its bytes with (`None`: it shows as a plain file).
    pub fn link_target(&self, node: NodeId) -> Option<NodeId> {
        let t = self.link_target[node.0 as usize];
        (t != NO_LINK).then_some(NodeId(t))
    }

    /// How the node is coloured (None: not listed at this layer).
    pub fn change(&self, node: NodeId) -> Option<Change> {
        decode(self.change[node.0 as usize])
    }

    /// File size, or a directory's total over the files shown below it.
    pub fn size(&self, node: NodeId) -> u64 {
        self.size[node.0 as usize]
    }

    /// Whether the node is listed after filters.
    pub fn shown(&self, node: NodeId) -> bool {
        node == NodeId::ROOT || self.shown[node.0 as usize]
    }

    /// Whether the path filter matches this node itself.
    pub fn matched(&self, node: NodeId) -> bool {
        self.matched[node.0 as usize]
    }

    /// Whether the node has shown children.
    pub fn has_shown_children(&self, node: NodeId) -> bool {
        self.shown_children[node.0 as usize] > 0
    }
}

/// `Marks::link_target` of a node that is no hard link.
const NO_LINK: u32 = u32::MAX;

/// One line of the tree pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The node.
    pub node: NodeId,
    /// The row of its parent (`u32::MAX` at the top level).
    pub parent_row: u32,
    /// Depth (1 for top-level entries).
    pub depth: u16,
    /// Whether it is the last shown child of its parent (draws `└──`).
    pub last: bool,
}

/// The expanded rows.
#[derive(Debug)]
pub struct Rows {
    /// Rows in display order.
    pub rows: Vec<Row>,
    /// Row indexes whose node matches the filter (for n / N).
    pub matches: Vec<u32>,
    /// The sort order they are in.
    pub sort: SortMode,
    /// The fold state they follow (the explorer counts every fold).
    pub folds: u64,
}

/// What the rows are built from.
#[derive(Clone, Copy)]
pub struct RowsOf<'a> {
    /// The tree.
    pub tree: &'a Tree,
    /// The marks of the view.
    pub marks: &'a Marks,
    /// Folded directories, per node.
    pub collapsed: &'a [bool],
    /// Children order.
    pub sort: SortMode,
    /// Whether a filter is on (matches are collected).
    pub filtering: bool,
}

impl Rows {
    /// Flatten the shown tree, skipping the insides of collapsed directories.
    pub fn new(of: RowsOf<'_>, folds: u64) -> Rows {
        let (rows, matches) = Rows::below(of, NodeId::ROOT, u32::MAX, 1, 0);
        Rows { rows, matches, sort: of.sort, folds }
    }

    /// The rows below `node` (its row `row`, its children at `depth`), numbered from `first`, with
    /// the matches among them.
    fn below(of: RowsOf<'_>, node: NodeId, row: u32, depth: u16, first: usize) -> (Vec<Row>, Vec<u32>) {
        let RowsOf { tree, marks, collapsed, sort, filtering } = of;
        let mut rows = Vec::new();
        let mut matches = Vec::new();
        let mut children: Vec<NodeId> = Vec::new();
        // Stack of (node, parent_row, depth, last).
        let mut stack: Vec<(NodeId, u32, u16, bool)> = Vec::new();
        let push_children = |stack: &mut Vec<(NodeId, u32, u16, bool)>,
                             children: &mut Vec<NodeId>,
                             node: NodeId,
                             row: u32,
                             depth: u16| {
            children.clear();
            children.extend(tree.children(node).iter().copied().filter(|c| marks.shown(*c)));
            if sort == SortMode::Size {
                // Stable: children come in name order, so ties stay in name order.
                children.sort_by_key(|c| std::cmp::Reverse(marks.size(*c)));
            }
            let count = children.len();
            for (i, c) in children.iter().enumerate().rev() {
                stack.push((*c, row, depth, i + 1 == count));
            }
        };
        push_children(&mut stack, &mut children, node, row, depth);
        while let Some((node, parent_row, depth, last)) = stack.pop() {
            let index = u32::try_from(first + rows.len()).unwrap_or(u32::MAX);
            rows.push(Row { node, parent_row, depth, last });
            if filtering && marks.matched(node) {
                matches.push(index);
            }
            if !collapsed.get(node.0 as usize).copied().unwrap_or(false) {
                push_children(&mut stack, &mut children, node, index, depth.saturating_add(1));
            }
        }
        (rows, matches)
    }

    /// The end (exclusive) of the rows below row `at`.
    fn subtree_end(&self, at: usize) -> usize {
        let depth = self.rows[at].depth;
        self.rows[at + 1..].iter().position(|r| r.depth <= depth).map_or(self.rows.len(), |p| at + 1 + p)
    }

    /// Fold the directory on row `at`: its rows go, the rest are renumbered. Returns how many went.
    pub fn fold(&mut self, at: usize, folds: u64) -> usize {
        self.folds = folds;
        if at >= self.rows.len() {
            return 0;
        }
        let end = self.subtree_end(at);
        let gone = end - at - 1;
        self.rows.drain(at + 1..end);
        let shift = |i: u32| if i != u32::MAX && i as usize >= end { i - gone as u32 } else { i };
        for r in &mut self.rows[at + 1..] {
            r.parent_row = shift(r.parent_row);
        }
        self.matches.retain(|&m| m as usize <= at || m as usize >= end);
        self.matches.iter_mut().for_each(|m| *m = shift(*m));
        gone
    }

    /// Open the (folded) directory on row `at`: its rows come in, the rest are renumbered.
    /// Returns how many came.
    pub fn unfold(&mut self, of: RowsOf<'_>, at: usize, folds: u64) -> usize {
        self.folds = folds;
        let Some(row) = self.rows.get(at).copied() else { return 0 };
        let (new, new_matches) = Rows::below(of, row.node, at as u32, row.depth.saturating_add(1), at + 1);
        let came = new.len();
        let shift = |i: u32| if i != u32::MAX && i as usize > at { i + came as u32 } else { i };
        for r in &mut self.rows[at + 1..] {
            r.parent_row = shift(r.parent_row);
        }
        self.rows.splice(at + 1..at + 1, new);
        let split = self.matches.partition_point(|&m| m as usize <= at);
        self.matches.iter_mut().for_each(|m| *m = shift(*m));
        self.matches.splice(split..split, new_matches);
        came
    }

    /// The row showing `node`, if any.
    pub fn position(&self, node: NodeId) -> Option<usize> {
        self.rows.iter().position(|r| r.node == node)
    }
}

/// The state a listed node is drawn from (the old one for removed nodes).
pub fn display_state(tree: &Tree, marks: &Marks, node: NodeId) -> State {
    tree.state_at(node, display_layer(marks, node))
}

/// The layer after which a listed node is shown: the selected one, or for a removed node the
/// state below it.
pub fn display_layer(marks: &Marks, node: NodeId) -> Option<usize> {
    match marks.change(node) {
        Some(Change::Removed) => marks.view.base_layer(),
        _ => Some(marks.view.layer),
    }
}

/// Whether a listed node is a directory in the view (removed ones as they were).
pub fn is_dir(tree: &Tree, marks: &Marks, node: NodeId) -> bool {
    tree.is_dir_state(display_state(tree, marks, node))
}

/// `drwxr-xr-x` with s/S/t/T for setuid, setgid and sticky.
pub fn permissions(kind: EntryKind, mode: u32) -> String {
    let t = match kind {
        EntryKind::Dir => 'd',
        EntryKind::Symlink => 'l',
        EntryKind::Char => 'c',
        EntryKind::Block => 'b',
        EntryKind::Fifo => 'p',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    let bit = |m: u32, c: char| if mode & m != 0 { c } else { '-' };
    let special = |m: u32, x: u32, set: char, unset: char, plain: char| match (mode & m != 0, mode & x != 0) {
        (true, true) => set,
        (true, false) => unset,
        (false, true) => plain,
        (false, false) => '-',
    };
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(0o4000, 0o100, 's', 'S', 'x'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(0o2000, 0o010, 's', 'S', 'x'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(0o1000, 0o001, 't', 'T', 'x'));
    s
}

/// One row as (attributes and tree guides, name and link target).
/// `collapsed` says whether the row's directory is folded.
pub fn row_text(
    tree: &Tree,
    marks: &Marks,
    rows: &[Row],
    index: usize,
    columns: Columns,
    collapsed: bool,
) -> (String, String) {
    let row = rows[index];
    let mut text = String::new();
    match columns {
        Columns::All => text.push_str(&attribute_columns(tree, marks, row)),
        Columns::Size => text.push_str(&format!("{:>9}  ", human_bytes(marks.size(row.node)))),
        Columns::None => {}
    }
    // Ancestors' guides, outermost first.
    let mut guides = Vec::new();
    let mut p = row.parent_row;
    while p != u32::MAX {
        let r = rows[p as usize];
        guides.push(if r.last { "    " } else { "│   " });
        p = r.parent_row;
    }
    for g in guides.iter().rev() {
        text.push_str(g);
    }
    let collapsed = collapsed && marks.has_shown_children(row.node);
    text.push_str(match (row.last, collapsed) {
        (false, false) => "├── ",
        (true, false) => "└── ",
        (false, true) => "├─⊕ ",
        (true, true) => "└─⊕ ",
    });
    let mut name = String::new();
    crate::layer::path::escape_bytes(tree.name(row.node), &mut name);
    let mut name = crate::text::terminal_safe(&name).into_owned();
    if let State::Present { entry: Some(id), .. } = display_state(tree, marks, row.node) {
        let entry = tree.entry(id);
        let target = match entry.kind {
            EntryKind::Symlink => tree.link(entry).map(<[u8]>::to_vec),
            EntryKind::Hardlink => marks.link_target(row.node).map(|t| [b"/".as_slice(), &tree.path(t)].concat()),
            _ => None,
        };
        if let Some(target) = target {
            let mut shown = String::new();
            crate::layer::path::escape_bytes(&target, &mut shown);
            // A hard link is the same file under another name; a symlink points somewhere.
            name.push_str(if entry.kind == EntryKind::Hardlink { " ⇒ " } else { " → " });
            name.push_str(&crate::text::terminal_safe(&shown));
        }
    }
    (text, name)
}

fn attribute_columns(tree: &Tree, marks: &Marks, row: Row) -> String {
    let (kind, mode, uid, gid) = match display_state(tree, marks, row.node) {
        State::Present { entry: Some(id), .. } => {
            let entry = tree.entry(id);
            (entry.kind, entry.mode, entry.uid, entry.gid)
        }
        _ => (EntryKind::Dir, IMPLICIT_DIR_MODE, 0, 0),
    };
    let owner = format!("{uid}:{gid}");
    format!("{} {owner:>11} {:>9}  ", permissions(kind, mode), human_bytes(marks.size(row.node)))
}

/// Split `text` into chunks of at most `width` columns.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = vec![String::new()];
    let mut w = 0;
    for c in text.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > width {
            out.push(String::new());
            w = 0;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
        w += cw;
    }
    out
}

/// A row's lines with wrapping on: the name continues under itself, not under the columns
/// before it (unless they leave too little room).
pub fn wrap_chunks(head: &str, name: &str, width: usize) -> Vec<String> {
    let indent = if head.width() + 8 < width { head.width() } else { 0 };
    if indent == 0 {
        return wrap(&format!("{head}{name}"), width);
    }
    let mut parts = wrap(name, width - indent).into_iter();
    let first = format!("{head}{}", parts.next().unwrap_or_default());
    std::iter::once(first).chain(parts.map(|p| format!("{}{p}", " ".repeat(indent)))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_strings() {
        assert_eq!(permissions(EntryKind::Dir, 0o755), "drwxr-xr-x");
        assert_eq!(permissions(EntryKind::Dir, 0o1777), "drwxrwxrwt");
        assert_eq!(permissions(EntryKind::File, 0o4755), "-rwsr-xr-x");
        assert_eq!(permissions(EntryKind::File, 0o2644), "-rw-r-Sr--");
        assert_eq!(permissions(EntryKind::Symlink, 0o777), "lrwxrwxrwx");
    }

    #[test]
    fn wraps_by_width() {
        assert_eq!(wrap("abcdef", 4), ["abcd", "ef"]);
    }
}
