//! What a key, a click or the loader asks the explorer to do. [`crate::tui::app::App::update`] is the
//! only place that acts on them.

use crate::tree::Change;

/// A pane that can have the focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The layer list.
    Layers,
    /// The file tree.
    Tree,
    /// The wasted-space list in the image details.
    Waste,
}

/// Something to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave the explorer.
    Quit,
    /// Focus the next pane.
    FocusNext,
    /// Focus the previous pane.
    FocusPrev,
    /// Focus a given pane.
    Focus(Pane),
    /// Show or hide the help overlay.
    ToggleHelp,
    /// Close whatever overlay is open.
    CloseOverlay,
    /// List the warnings found while reading the image.
    ShowWarnings,
    /// Open the packages view.
    ShowPackages,
    /// Cursor up one row.
    Up,
    /// Cursor down one row.
    Down,
    /// Cursor up one page.
    PageUp,
    /// Cursor down one page.
    PageDown,
    /// Cursor to the first row.
    Top,
    /// Cursor to the last row.
    Bottom,
    /// Tree: collapse the directory, or go to the parent. Left column: previous pane.
    Left,
    /// Tree: expand the directory, or go to its first child. Left column: next pane.
    Right,
    /// Collapse or expand the selected directory.
    ToggleCollapse,
    /// Collapse or expand every directory.
    ToggleCollapseAll,
    /// Show what the selected layer changed.
    ShowLayerChanges,
    /// Show what layers 1..=N changed together.
    ShowAggregatedChanges,
    /// Show or hide one kind of change in the tree.
    ToggleChange(Change),
    /// Start typing a path filter.
    StartFilter,
    /// Clear the path filter.
    ClearFilter,
    /// Jump to the next row matching the filter.
    NextMatch,
    /// Jump to the previous row matching the filter.
    PrevMatch,
    /// Sort by name or by size.
    ToggleSort,
    /// Show or hide the attribute columns.
    ToggleAttributes,
    /// Wrap long tree lines or cut them.
    ToggleWrap,
    /// Enter: jump to a waste entry, open a directory, or view a file.
    Activate,
    /// View the selected file's content.
    View,
    /// Start extracting the selected file or directory.
    StartExtract,
    /// Copy the selected path to the clipboard (OSC 52).
    CopyPath,
    /// A character typed into the active input line.
    Input(char),
    /// Backspace in the active input line.
    InputBackspace,
    /// Enter in the active input line.
    InputAccept,
    /// Esc in the active input line.
    InputCancel,
    /// A mouse click at a screen cell.
    Click {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
    },
    /// A mouse wheel step at a screen cell.
    Scroll {
        /// Column.
        column: u16,
        /// Row.
        row: u16,
        /// Towards the end.
        down: bool,
    },
    /// The terminal has a new size.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
}

/// A side effect the event loop performs for the app (so tests can see it instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Put text on the clipboard with an OSC 52 escape sequence.
    Copy(String),
    /// Open the image picked from the archive's list (its place in the list).
    Pick(usize),
    /// Run a job off the UI thread and answer with [`crate::tui::Event::JobDone`].
    Start(crate::tui::job::Job),
}
