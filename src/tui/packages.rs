//! The packages view: the image's packages (read in the background once it is open) as a list to
//! sort and pick one from, and which package owns each path, for the tree's filter and the
//! selected file's details.

use std::sync::Arc;

use super::action::Action;
use super::layout::{keep_in_view, step};
use crate::analysis::packages::{Owners, Package, Packages};
use crate::layer::EntryKind;
use crate::tree::{NodeId, State, Tree};

/// `PackageIndex::owner` of a path no package owns.
const NO_OWNER: u32 = u32::MAX;

/// The packages of the image and which one owns each path.
#[derive(Debug)]
pub struct PackageIndex {
    /// What the databases say, largest package first.
    pub packages: Packages,
    /// Per node, its owner's place in `packages.packages` ([`NO_OWNER`]: none).
    owner: Vec<u32>,
}

impl PackageIndex {
    /// Index `owners` per node.
    pub fn new(tree: &Tree, packages: Packages, owners: &Owners) -> PackageIndex {
        let mut owner = vec![NO_OWNER; tree.node_count()];
        for (node, i) in owners.iter() {
            if let (Some(slot), Ok(i)) = (owner.get_mut(node.0 as usize), u32::try_from(i)) {
                *slot = i;
            }
        }
        PackageIndex { packages, owner }
    }

    /// The package that owns `node`, if one does.
    pub fn owner(&self, node: NodeId) -> Option<&Package> {
        let i = *self.owner.get(node.0 as usize)?;
        self.packages.packages.get(i as usize)
    }

    /// Per node, whether it is one of package `index`'s files (its folders are shown as the
    /// parents of its files, not as files of their own: `/usr` is listed by many packages).
    pub fn files_of(&self, tree: &Tree, top: usize, index: usize) -> Vec<bool> {
        let Ok(index) = u32::try_from(index) else { return vec![false; self.owner.len()] };
        self.owner
            .iter()
            .enumerate()
            .map(|(node, &o)| {
                o == index
                    && match tree.state_at(NodeId(node as u32), Some(top)) {
                        State::Present { entry: Some(e), .. } => tree.entry(e).kind != EntryKind::Dir,
                        _ => true,
                    }
            })
            .collect()
    }
}

/// Where the explorer is with the image's packages.
#[derive(Clone, Debug, Default)]
pub enum PackageState {
    /// The image holds no package database.
    #[default]
    Absent,
    /// It holds one; reading it is still to start.
    Wanted,
    /// A background job reads it (its id).
    Reading(u64),
    /// Read.
    Ready(Arc<PackageIndex>),
}

impl PackageState {
    /// The packages, once read.
    pub fn index(&self) -> Option<&Arc<PackageIndex>> {
        match self {
            PackageState::Ready(index) => Some(index),
            _ => None,
        }
    }
}

/// How the packages list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PackageSort {
    /// Largest in the final image first.
    #[default]
    Size,
    /// Most wasted bytes first.
    Wasted,
    /// By name.
    Name,
}

impl PackageSort {
    /// The next order `s` switches to.
    pub fn next(self) -> PackageSort {
        match self {
            PackageSort::Size => PackageSort::Wasted,
            PackageSort::Wasted => PackageSort::Name,
            PackageSort::Name => PackageSort::Size,
        }
    }

    /// How the title says it.
    pub fn label(self) -> &'static str {
        match self {
            PackageSort::Size => "by size",
            PackageSort::Wasted => "by wasted bytes",
            PackageSort::Name => "by name",
        }
    }
}

/// The packages list as shown: its order, cursor and first row drawn.
#[derive(Clone, Debug, Default)]
pub struct PackageList {
    /// The sort order.
    pub sort: PackageSort,
    /// Places in `Packages::packages`, in the order shown.
    pub order: Vec<usize>,
    /// The selected row.
    pub cursor: usize,
    /// The first row drawn.
    pub offset: usize,
}

impl PackageList {
    /// The list of `packages`, sorted by `sort`, the cursor on the first row.
    pub fn new(packages: &Packages, sort: PackageSort) -> PackageList {
        let mut list = PackageList { sort, order: (0..packages.packages.len()).collect(), cursor: 0, offset: 0 };
        list.sort_by(packages, sort);
        list
    }

    /// Sort by `sort`, keeping the selected package selected.
    pub fn sort_by(&mut self, packages: &Packages, sort: PackageSort) {
        let selected = self.selected();
        let p = &packages.packages;
        match sort {
            PackageSort::Size => self.order.sort_by(|&a, &b| p[b].final_bytes.cmp(&p[a].final_bytes).then(a.cmp(&b))),
            PackageSort::Wasted => {
                self.order.sort_by(|&a, &b| p[b].wasted_bytes.cmp(&p[a].wasted_bytes).then(a.cmp(&b)))
            }
            PackageSort::Name => self.order.sort_by(|&a, &b| p[a].name.cmp(&p[b].name).then(a.cmp(&b))),
        }
        self.sort = sort;
        self.cursor = selected.and_then(|s| self.order.iter().position(|&i| i == s)).unwrap_or(0);
    }

    /// The selected package's place in `Packages::packages`.
    pub fn selected(&self) -> Option<usize> {
        self.order.get(self.cursor).copied()
    }

    /// Apply a movement key; `rows` is how many rows are drawn.
    pub fn step(&mut self, action: &Action, rows: usize) {
        self.cursor = step(self.cursor, self.order.len(), action, rows.max(1));
        self.fit(rows);
    }

    /// Keep the cursor in the `rows` drawn.
    pub fn fit(&mut self, rows: usize) {
        self.offset = keep_in_view(self.offset, self.cursor, rows, self.order.len());
    }
}
