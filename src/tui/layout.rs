//! Where each pane goes for a terminal size. Shared by drawing, paging and mouse hit-testing so
//! they always agree.

use ratatui::layout::{Constraint, Layout, Rect};

use super::action::Pane;

/// Below this width the left column shows only the layer list, narrowed.
pub const NARROW: u16 = 80;
/// Below this tree-pane width the permission and owner columns are dropped.
pub const TREE_ATTRIBUTES_MIN: u16 = 60;
/// Below this tree-pane width the size column goes too: it is the last to go.
pub const TREE_SIZE_MIN: u16 = 30;

/// The attribute columns the tree has room for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Permission, UID:GID and size.
    All,
    /// Size only.
    Size,
    /// Names only.
    None,
}

/// The panes' rectangles (zero-height when not shown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Panes {
    /// The layer list.
    pub layers: Rect,
    /// Details of the selected layer.
    pub details: Rect,
    /// Image details and the wasted-space list.
    pub image: Rect,
    /// The file tree.
    pub tree: Rect,
    /// The filter / prompt line.
    pub input: Rect,
    /// The key hints.
    pub status: Rect,
    /// Whether the left column is the narrow one.
    pub narrow: bool,
}

impl Panes {
    /// Whether the tree has room for every attribute column.
    pub fn room_for_attributes(&self) -> bool {
        self.tree.width >= TREE_ATTRIBUTES_MIN
    }

    /// The attribute columns the tree has room for.
    pub fn tree_columns(&self) -> Columns {
        if self.room_for_attributes() {
            Columns::All
        } else if self.tree.width >= TREE_SIZE_MIN {
            Columns::Size
        } else {
            Columns::None
        }
    }

    /// Lines above the first tree row: border, legend, column header.
    pub fn tree_header_rows(&self) -> u16 {
        3
    }

    /// Tree rows that fit.
    pub fn tree_body_height(&self) -> usize {
        usize::from(self.tree.height.saturating_sub(self.tree_header_rows() + 1))
    }

    /// The focusable pane at a screen cell.
    pub fn at(&self, column: u16, row: u16) -> Option<Pane> {
        let inside = |r: Rect| {
            r.width > 0 && r.height > 0 && column >= r.x && column < r.x + r.width && row >= r.y && row < r.y + r.height
        };
        if inside(self.layers) {
            Some(Pane::Layers)
        } else if inside(self.tree) {
            Some(Pane::Tree)
        } else if inside(self.image) {
            Some(Pane::Waste)
        } else {
            None
        }
    }
}

/// Lay out the screen. `input_line` reserves a line for the filter or a prompt.
pub fn panes(area: Rect, input_line: bool) -> Panes {
    let [main, input, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(u16::from(input_line)), Constraint::Length(1)])
            .areas(area);
    let narrow = area.width < NARROW;
    let left_width = if narrow { (area.width / 3).clamp(16, 26) } else { area.width * 2 / 5 };
    let [left, tree] = Layout::horizontal([Constraint::Length(left_width), Constraint::Min(10)]).areas(main);
    if narrow || main.height < 16 {
        return Panes { layers: left, tree, input, status, narrow, ..Panes::default() };
    }
    let [layers, details, image] =
        Layout::vertical([Constraint::Percentage(36), Constraint::Percentage(27), Constraint::Min(8)]).areas(left);
    Panes { layers, details, image, tree, input, status, narrow }
}

/// Where the packages view goes: over the panes, the input and status lines left in view.
pub fn packages_box(p: &Panes) -> Rect {
    Rect { x: p.layers.x, y: p.tree.y, width: p.layers.width + p.tree.width, height: p.tree.height }
}

/// Lines of the packages view above and below its list: border and column header; totals,
/// files no package owns and border.
const PACKAGES_FRAME: u16 = 5;

/// Packages the packages view lists at once.
pub fn packages_rows(p: &Panes) -> usize {
    usize::from(packages_box(p).height.saturating_sub(PACKAGES_FRAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_fit_common_sizes() {
        let p = panes(Rect::new(0, 0, 100, 30), false);
        assert!(!p.narrow);
        assert_eq!(p.status, Rect::new(0, 29, 100, 1));
        assert_eq!(p.layers.width + p.tree.width, 100);
        assert!(p.details.height > 0 && p.image.height > 0);
        assert_eq!(p.at(p.tree.x + 1, p.tree.y + 1), Some(Pane::Tree));

        let small = panes(Rect::new(0, 0, 60, 20), true);
        assert!(small.narrow);
        assert_eq!(small.details.height, 0);
        assert_eq!(small.input.height, 1);
        assert!(!small.room_for_attributes());
    }
}

/// The first row to draw so that `cursor` shows among `height` rows of `count`, moving `offset`
/// as little as possible.
pub fn keep_in_view(offset: usize, cursor: usize, height: usize, count: usize) -> usize {
    let height = height.max(1);
    let mut offset = offset;
    if cursor < offset {
        offset = cursor;
    } else if cursor >= offset + height {
        offset = cursor + 1 - height;
    }
    offset.min(count.saturating_sub(height))
}

/// Where a movement key takes a cursor in a list of `count` rows, `page` rows a page.
pub fn step(current: usize, count: usize, action: &super::action::Action, page: usize) -> usize {
    use super::action::Action;
    if count == 0 {
        return 0;
    }
    let last = count - 1;
    match action {
        Action::Up => current.saturating_sub(1),
        Action::Down => (current + 1).min(last),
        Action::PageUp => current.saturating_sub(page),
        Action::PageDown => (current + page).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => current,
    }
}

/// Compare mode's panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComparePanes {
    /// The figures, on top.
    pub summary: Rect,
    /// The two layer stacks.
    pub layers: Rect,
    /// The paths that differ.
    pub paths: Rect,
    /// The key line.
    pub footer: Rect,
}

/// Where compare mode's panes go: side by side, or one above the other below [`NARROW`] columns.
pub fn compare_panes(area: Rect) -> ComparePanes {
    let [summary, body, footer] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let [layers, paths] = if area.width < NARROW {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(body)
    } else {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body)
    };
    ComparePanes { summary, layers, paths, footer }
}

/// Rows a bordered list with a header line shows.
pub fn list_rows(pane: Rect) -> usize {
    usize::from(pane.height.saturating_sub(3))
}
