//! Colours and styles. With NO_COLOR every distinction is kept with modifiers alone.

use std::borrow::Cow;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use crate::tree::Change;

/// The style set.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Whether colours may be used.
    pub color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    /// How a change kind looks in the tree and the legend.
    pub fn change(self, c: Change) -> Style {
        match c {
            Change::Added => {
                self.fg(Color::Green).add_modifier(if self.color { Modifier::empty() } else { Modifier::BOLD })
            }
            Change::Modified => {
                self.fg(Color::Yellow).add_modifier(if self.color { Modifier::empty() } else { Modifier::UNDERLINED })
            }
            Change::MetadataOnly => {
                self.fg(Color::Cyan).add_modifier(if self.color { Modifier::empty() } else { Modifier::ITALIC })
            }
            Change::Removed => self.fg(Color::Red).add_modifier(Modifier::CROSSED_OUT),
            Change::Unchanged => Style::new(),
        }
    }

    /// A pane border, focused or not.
    pub fn border(self, focused: bool) -> Style {
        if focused { self.fg(Color::Cyan).add_modifier(Modifier::BOLD) } else { self.fg(Color::DarkGray) }
    }

    /// A bordered pane with its title, both styled by whether it has focus.
    pub fn pane<'a>(self, title: impl Into<Cow<'a, str>>, focused: bool) -> Block<'a> {
        Block::default()
            .borders(Borders::ALL)
            .border_style(self.border(focused))
            .title(Span::styled(title, self.title(focused)))
    }

    /// A pane title.
    pub fn title(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// The selected row.
    pub fn selected(self, focused: bool) -> Style {
        if focused {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new().add_modifier(Modifier::UNDERLINED)
        }
    }

    /// Secondary text.
    pub fn dim(self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }

    /// Labels in the detail panes.
    pub fn label(self) -> Style {
        self.fg(Color::Blue).add_modifier(Modifier::BOLD)
    }

    /// Key names in hints.
    pub fn key(self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::BOLD)
    }

    /// An error message.
    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// A waste score: green when low, yellow, red when high.
    pub fn score(self, score: u8) -> Style {
        match score {
            0 => self.dim(),
            1..=19 => self.fg(Color::Green),
            20..=49 => self.fg(Color::Yellow),
            _ => self.fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}
