//! The explorer's compare mode (`layerscope diff OLD NEW` on a terminal): the two layer stacks
//! side by side, the layers they share marked, and every path that differs, coloured by how.
//! State and its update only; `view::compare` draws it.

use super::action::Action;
use super::lists::TwoLists;
use super::tree_view::SortMode;
use crate::analysis::diff::{ImageDiff, PathChange, SideLayer, stack};
use crate::image::Image;
use crate::tree::Change;

/// Compare mode's first list: the two layer stacks.
pub const LAYERS: usize = 0;
/// Compare mode's second list: the paths that differ.
pub const PATHS: usize = 1;

/// Two images compared, and where the user is in the comparison.
#[derive(Debug)]
pub struct Comparison {
    /// The old image, as named.
    pub old: String,
    /// The new image, as named.
    pub new: String,
    /// What differs.
    pub diff: ImageDiff,
    /// Every layer of the old image.
    pub old_stack: Vec<SideLayer>,
    /// Every layer of the new image.
    pub new_stack: Vec<SideLayer>,
    /// The layer stacks (row `i` holds layer `i` of each) and the paths: cursors and focus.
    pub lists: TwoLists,
    /// How the paths are listed: by size (largest change first) or by name (as a tree).
    pub sort: SortMode,
    /// The rows of the path list.
    pub rows: Vec<PathRow>,
}

/// A row of the path list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathRow {
    /// A path that differs: its place in [`ImageDiff::paths`], and its depth in the tree (0 when
    /// listed by size).
    Path {
        /// Which path.
        index: usize,
        /// How deep it is drawn.
        depth: usize,
    },
    /// A folder holding paths that differ (listed by name only).
    Dir {
        /// Its name.
        name: String,
        /// How deep it is drawn.
        depth: usize,
        /// The change in size of everything below it.
        delta_bytes: i64,
    },
}

/// The rows for `diff`'s paths in `sort` order: by size as they come, by name as a tree whose
/// folders carry the change below them.
pub fn path_rows(diff: &ImageDiff, sort: SortMode) -> Vec<PathRow> {
    if sort == SortMode::Size {
        return (0..diff.paths.len()).map(|index| PathRow::Path { index, depth: 0 }).collect();
    }
    let mut order: Vec<usize> = (0..diff.paths.len()).collect();
    order.sort_by(|&a, &b| diff.paths[a].path.cmp(&diff.paths[b].path));
    // Totals of every folder above a path.
    let mut totals: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
    for p in &diff.paths {
        let mut at = p.path.as_str();
        while let Some(cut) = at.rfind('/').filter(|&c| c > 0) {
            at = &p.path[..cut];
            *totals.entry(at).or_default() += p.delta_bytes;
        }
    }
    let mut rows = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    for index in order {
        let path = diff.paths[index].path.as_str();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let dirs = parts.len().saturating_sub(1);
        // Close the folders this path is not in, open the ones it is.
        let mut keep = 0;
        while keep < open.len() && keep < dirs && open[keep] == parts[keep] {
            keep += 1;
        }
        open.truncate(keep);
        for (depth, name) in parts.iter().enumerate().take(dirs).skip(keep) {
            let dir = format!("/{}", parts[..=depth].join("/"));
            rows.push(PathRow::Dir {
                name: (*name).to_string(),
                depth,
                delta_bytes: totals.get(dir.as_str()).copied().unwrap_or(0),
            });
            open.push(name);
        }
        rows.push(PathRow::Path { index, depth: dirs });
    }
    rows
}

/// The colour of a path's difference: the change kind the tree uses for the same idea.
pub fn change_of(c: PathChange) -> Change {
    match c {
        PathChange::Added => Change::Added,
        PathChange::Removed => Change::Removed,
        PathChange::Modified | PathChange::TypeChanged => Change::Modified,
        PathChange::MetadataOnly => Change::MetadataOnly,
    }
}

impl Comparison {
    /// Images `old` and `new` (named so) compared; it starts on the paths, the largest change first.
    pub fn new(old: (String, &Image), new: (String, &Image), diff: ImageDiff) -> Comparison {
        Comparison {
            old: old.0,
            new: new.0,
            old_stack: stack(old.1),
            new_stack: stack(new.1),
            rows: path_rows(&diff, SortMode::Size),
            diff,
            lists: TwoLists::new(PATHS),
            sort: SortMode::Size,
        }
    }

    /// Rows of the layer stacks: the longer stack's layers.
    pub fn layer_rows(&self) -> usize {
        self.old_stack.len().max(self.new_stack.len())
    }

    /// Apply a key; `layers` and `paths` are the rows each list shows.
    pub fn update(&mut self, action: &Action, layers: usize, paths: usize) {
        if *action == Action::ToggleSort {
            self.sort = if self.sort == SortMode::Size { SortMode::Name } else { SortMode::Size };
            self.rows = path_rows(&self.diff, self.sort);
            self.lists.cursor[PATHS] = 0;
        }
        self.lists.update(action, [layers, paths], [self.layer_rows(), self.rows.len()]);
    }
}
