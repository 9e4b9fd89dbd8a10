//! The explorer's compare mode (`layerscope diff OLD NEW` on a terminal): the two layer stacks
//! side by side, the layers they share marked, and every path that differs, coloured by how.
//! State and its update only; `view::compare` draws it.

use super::action::Action;
use super::layout::{keep_in_view, step};
use crate::analysis::diff::{ImageDiff, PathChange, SideLayer, stack};
use crate::image::Image;
use crate::tree::Change;

/// The focused list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The two layer stacks.
    Layers,
    /// The paths that differ.
    Paths,
}

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
    /// The focused list.
    pub focus: Side,
    /// Selected row of the layer stacks (row `i` holds layer `i` of each).
    pub layer_cursor: usize,
    /// First row of the layer stacks drawn.
    pub layer_offset: usize,
    /// Selected path.
    pub path_cursor: usize,
    /// First path drawn.
    pub path_offset: usize,
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
            focus: Side::Paths,
            layer_cursor: 0,
            layer_offset: 0,
            path_cursor: 0,
            path_offset: 0,
        }
    }

    /// Rows of the layer stacks: the longer stack's layers.
    pub fn layer_rows(&self) -> usize {
        self.old_stack.len().max(self.new_stack.len())
    }

    /// Apply a key; `layers` and `paths` are the rows each list shows.
    pub fn update(&mut self, action: &Action, layers: usize, paths: usize) {
        match action {
            Action::FocusNext | Action::FocusPrev | Action::Left | Action::Right => {
                self.focus = if self.focus == Side::Layers { Side::Paths } else { Side::Layers };
            }
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                match self.focus {
                    Side::Layers => {
                        self.layer_cursor = step(self.layer_cursor, self.layer_rows(), action, layers.max(1))
                    }
                    Side::Paths => {
                        self.path_cursor = step(self.path_cursor, self.diff.paths.len(), action, paths.max(1))
                    }
                }
            }
            _ => {}
        }
        self.layer_offset = keep_in_view(self.layer_offset, self.layer_cursor, layers, self.layer_rows());
        self.path_offset = keep_in_view(self.path_offset, self.path_cursor, paths, self.diff.paths.len());
    }
}
