//! Colours and styles. With NO_COLOR every distinction is kept with modifiers alone.

use std::borrow::Cow;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use crate::tree::Change;

/// The colours of a theme: one per change kind, and the accent of focused panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Palette {
    /// Added paths.
    pub added: Color,
    /// Modified paths.
    pub modified: Color,
    /// Metadata-only paths.
    pub metadata_only: Color,
    /// Removed paths.
    pub removed: Color,
    /// Focused borders and titles.
    pub focus: Color,
    /// Secondary text.
    pub dim: Color,
}

/// The named themes, for the config file's `theme:`.
pub const THEMES: [&str; 3] = ["default", "high-contrast", "colour-blind"];

impl Palette {
    /// The theme called `name` (see [`THEMES`]; `color-blind` is accepted too).
    pub fn named(name: &str) -> Option<Palette> {
        Some(match name {
            "default" => Palette::default(),
            // Bright colours on any background, secondary text still readable.
            "high-contrast" => Palette {
                added: Color::LightGreen,
                modified: Color::LightYellow,
                metadata_only: Color::LightCyan,
                removed: Color::LightRed,
                focus: Color::White,
                dim: Color::Gray,
            },
            // Okabe and Ito's palette: told apart with any colour vision.
            "colour-blind" | "color-blind" => Palette {
                added: Color::Rgb(0x00, 0x72, 0xb2),
                modified: Color::Rgb(0xe6, 0x9f, 0x00),
                metadata_only: Color::Rgb(0x56, 0xb4, 0xe9),
                removed: Color::Rgb(0xd5, 0x5e, 0x00),
                focus: Color::Rgb(0xcc, 0x79, 0xa7),
                dim: Color::DarkGray,
            },
            _ => return None,
        })
    }
}

impl Default for Palette {
    fn default() -> Palette {
        Palette {
            added: Color::Green,
            modified: Color::Yellow,
            metadata_only: Color::Cyan,
            removed: Color::Red,
            focus: Color::Cyan,
            dim: Color::DarkGray,
        }
    }
}

/// The style set.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    /// Whether colours may be used.
    pub color: bool,
    /// The colours, when they may be used.
    pub palette: Palette,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color { Style::new().fg(color) } else { Style::new() }
    }

    /// How a change kind looks in the tree and the legend.
    pub fn change(self, c: Change) -> Style {
        match c {
            Change::Added => {
                self.fg(self.palette.added).add_modifier(if self.color { Modifier::empty() } else { Modifier::BOLD })
            }
            Change::Modified => self.fg(self.palette.modified).add_modifier(if self.color {
                Modifier::empty()
            } else {
                Modifier::UNDERLINED
            }),
            Change::MetadataOnly => self.fg(self.palette.metadata_only).add_modifier(if self.color {
                Modifier::empty()
            } else {
                Modifier::ITALIC
            }),
            Change::Removed => self.fg(self.palette.removed).add_modifier(Modifier::CROSSED_OUT),
            Change::Unchanged => Style::new(),
        }
    }

    /// A pane border, focused or not.
    pub fn border(self, focused: bool) -> Style {
        if focused { self.fg(self.palette.focus).add_modifier(Modifier::BOLD) } else { self.fg(self.palette.dim) }
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
            self.fg(self.palette.focus).add_modifier(Modifier::BOLD)
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
        if self.color { Style::new().fg(self.palette.dim) } else { Style::new().add_modifier(Modifier::DIM) }
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
