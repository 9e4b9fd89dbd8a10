//! Two scrolling lists side by side with Tab between them: the state compare mode and disk mode
//! share (which list has the focus, each one's cursor and first row drawn).

use super::action::Action;
use super::layout::{keep_in_view, step};

/// Two lists' cursors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TwoLists {
    /// The focused list: 0 or 1.
    pub focus: usize,
    /// Each list's selected row.
    pub cursor: [usize; 2],
    /// Each list's first row drawn.
    pub offset: [usize; 2],
}

impl TwoLists {
    /// Both at their top, list `focus` focused.
    pub fn new(focus: usize) -> TwoLists {
        TwoLists { focus: focus.min(1), ..TwoLists::default() }
    }

    /// Apply a key: Tab (or ← →) switches lists, the moves move the focused one; `rows` is how
    /// many rows each shows, `counts` how many each has.
    pub fn update(&mut self, action: &Action, rows: [usize; 2], counts: [usize; 2]) {
        match action {
            Action::FocusNext | Action::FocusPrev | Action::Left | Action::Right => self.focus = 1 - self.focus,
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                let f = self.focus;
                self.cursor[f] = step(self.cursor[f], counts[f], action, rows[f].max(1));
            }
            _ => {}
        }
        for i in 0..2 {
            self.cursor[i] = self.cursor[i].min(counts[i].saturating_sub(1));
            self.offset[i] = keep_in_view(self.offset[i], self.cursor[i], rows[i], counts[i]);
        }
    }
}
