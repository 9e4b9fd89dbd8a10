//! The explorer's compare mode (`layerscope diff OLD NEW` on a terminal): the two layer stacks
//! side by side, the layers they share marked, and every path that differs, coloured by how.
//! State and its update only; `view::compare` draws it.

use super::action::Action;
use super::lists::TwoLists;
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
            diff,
            lists: TwoLists::new(PATHS),
        }
    }

    /// Rows of the layer stacks: the longer stack's layers.
    pub fn layer_rows(&self) -> usize {
        self.old_stack.len().max(self.new_stack.len())
    }

    /// Apply a key; `layers` and `paths` are the rows each list shows.
    pub fn update(&mut self, action: &Action, layers: usize, paths: usize) {
        self.lists.update(action, [layers, paths], [self.layer_rows(), self.diff.paths.len()]);
    }
}
