//! Disk mode (`layerscope df IMAGE...` on a terminal): the images with the bytes each shares and
//! owns, and the selected image's layers, each marked with how many other images have it.
//! State and its update only; `view::disk` draws it.

use super::action::Action;
use super::lists::TwoLists;
use crate::analysis::diff::{SideLayer, stack};
use crate::analysis::disk::{DiskUsage, disk_usage};
use crate::image::Image;

/// Disk mode's first list: the images.
pub const IMAGES: usize = 0;
/// Disk mode's second list: the selected image's layers.
pub const LAYERS: usize = 1;

/// Several images' disk use, and where the user is in it.
#[derive(Debug)]
pub struct DiskView {
    /// The figures per image and in all.
    pub usage: DiskUsage,
    /// Each image's layers.
    pub stacks: Vec<Vec<SideLayer>>,
    /// The images and the selected one's layers: cursors and focus.
    pub lists: TwoLists,
}

impl DiskView {
    /// The disk `images` (named) take; it starts on the images.
    pub fn new(images: &[(String, &Image)]) -> DiskView {
        DiskView {
            usage: disk_usage(images),
            stacks: images.iter().map(|(_, i)| stack(i)).collect(),
            lists: TwoLists::new(IMAGES),
        }
    }

    /// The selected image.
    pub fn selected(&self) -> usize {
        self.lists.cursor[IMAGES]
    }

    /// Apply a key; `images` and `layers` are the rows each list shows.
    pub fn update(&mut self, action: &Action, images: usize, layers: usize) {
        let before = self.selected();
        let layer_count = |v: &DiskView| v.stacks.get(v.selected()).map_or(0, Vec::len);
        self.lists.update(action, [images, layers], [self.usage.images.len(), layer_count(self)]);
        if self.selected() != before {
            // Another image: its layers from the top.
            self.lists.cursor[LAYERS] = 0;
            self.lists.offset[LAYERS] = 0;
        }
    }
}
