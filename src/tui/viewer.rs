//! The file viewer: a file's bytes as stored in the selected layer, as text or a hex dump, read from
//! the archive a page at a time (never the whole file in memory).

use super::action::Action;
pub use super::job::CHUNK;
use crate::image::Image;
use crate::tree::EntryId;

/// Where the view goes once a part being read arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Its first line at the top.
    Start,
    /// Its last lines filling a page of this many lines.
    End(usize),
}
/// Bytes per hex-dump line: as many as the width holds, in steps of 4, within these bounds.
const HEX_MIN: usize = 4;
const HEX_MAX: usize = 32;

/// Bytes per hex-dump line that fit in `width` columns (`OFFSET  XX XX …  ASCII`: 11 + 4 per byte).
pub fn hex_bytes_per_row(width: usize) -> usize {
    (width.saturating_sub(11) / 4 / 4 * 4).clamp(HEX_MIN, HEX_MAX)
}

/// An open file.
#[derive(Debug)]
pub struct Viewer {
    entry: EntryId,
    /// Path shown in the title.
    pub title: String,
    /// The layer selected when it was opened.
    pub layer: usize,
    /// The layer whose bytes are shown (the one that last wrote the file, or the linked file).
    pub stored_in: usize,
    /// The file's size.
    pub size: u64,
    /// Shown as a hex dump.
    pub binary: bool,
    /// Bytes per hex-dump line, fitted to the width.
    pub per_row: usize,
    /// Which chunk is loaded.
    pub chunk: u64,
    data: Vec<u8>,
    /// Line starts within `data` (text mode).
    starts: Vec<usize>,
    /// First line drawn.
    pub top: usize,
    /// Characters of each text line scrolled off to the left (← →).
    pub left: usize,
    /// Why the content could not be read.
    pub error: Option<String>,
    /// The part being read in the background, and where the view goes when it arrives.
    pub pending: Option<(u64, Placement)>,
    /// Whether any part arrived yet (the first one decides text or hex).
    loaded_once: bool,
}

impl Viewer {
    /// A viewer of `entry`'s content, waiting for its first part (ask for it with
    /// [`Viewer::pending`]).
    pub fn open(image: &Image, entry: EntryId, title: String, layer: usize) -> Viewer {
        let content = image.tree.content_entry(image.tree.entry(entry));
        let (size, stored_in) = (content.size, usize::from(content.layer));
        Viewer {
            entry,
            title,
            layer,
            stored_in,
            size,
            binary: false,
            per_row: 16,
            chunk: 0,
            data: Vec::new(),
            starts: Vec::new(),
            top: 0,
            left: 0,
            error: None,
            pending: Some((0, Placement::Start)),
            loaded_once: false,
        }
    }

    /// The entry shown.
    pub fn entry(&self) -> EntryId {
        self.entry
    }

    /// A part arrived: show it if it is the one waited for.
    pub fn loaded(&mut self, chunk: u64, data: Result<Vec<u8>, String>) {
        let Some((wanted, placement)) = self.pending else { return };
        if wanted != chunk {
            return;
        }
        self.pending = None;
        self.chunk = chunk;
        match data {
            Ok(bytes) => {
                self.data = bytes;
                self.error = None;
            }
            Err(e) => {
                self.data.clear();
                self.error = Some(e);
            }
        }
        if !self.loaded_once {
            self.binary = looks_binary(&self.data);
            self.loaded_once = true;
        }
        self.index_lines();
        self.top = match placement {
            Placement::Start => 0,
            Placement::End(page) => self.line_count().saturating_sub(page),
        };
    }

    /// Ask for part `chunk`; the view stays on the current part until it arrives.
    fn request(&mut self, chunk: u64, placement: Placement) {
        self.pending = Some((chunk, placement));
    }

    fn index_lines(&mut self) {
        self.starts.clear();
        if self.binary {
            return;
        }
        self.starts.push(0);
        for (i, &b) in self.data.iter().enumerate() {
            if b == b'\n' && i + 1 < self.data.len() {
                self.starts.push(i + 1);
            }
        }
    }

    /// Lines in the loaded chunk.
    pub fn line_count(&self) -> usize {
        if self.binary { self.data.len().div_ceil(self.per_row) } else { self.starts.len() }
    }

    /// Line `i` as drawn: scrolled by [`Viewer::left`] in text mode.
    pub fn shown_line(&self, i: usize) -> String {
        let line = self.line(i);
        if self.binary { line } else { line.chars().skip(self.left).collect() }
    }

    /// Line `i` of the loaded chunk, ready to draw (control characters made visible).
    pub fn line(&self, i: usize) -> String {
        if self.binary {
            let start = i * self.per_row;
            let bytes = self.data.get(start..(start + self.per_row).min(self.data.len())).unwrap_or(&[]);
            let offset = self.chunk * CHUNK + start as u64;
            let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let ascii: String =
                bytes.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
            let hex_width = self.per_row * 3 - 1;
            return format!("{offset:08x}  {:<hex_width$}  {ascii}", hex.join(" "));
        }
        let start = self.starts.get(i).copied().unwrap_or(self.data.len());
        let end = self.starts.get(i + 1).map_or(self.data.len(), |e| e - 1);
        let text = String::from_utf8_lossy(self.data.get(start..end.max(start)).unwrap_or(&[]));
        text.trim_end_matches(['\n', '\r'])
            .replace('\t', "    ")
            .chars()
            .map(|c| if c.is_control() { '·' } else { c })
            .collect()
    }

    /// Fit the hex dump to `width` columns, keeping the first byte shown in view.
    pub fn fit(&mut self, width: usize) {
        let per_row = hex_bytes_per_row(width);
        if per_row != self.per_row {
            let first_byte = self.top * self.per_row;
            self.per_row = per_row;
            self.top = first_byte / per_row;
        }
    }

    /// Whether more of the file follows the loaded chunk.
    pub fn has_next_chunk(&self) -> bool {
        (self.chunk + 1) * CHUNK < self.size
    }

    /// Scroll by a movement action; crossing a part's edge asks for the next or previous part
    /// (see [`Viewer::pending`]).
    pub fn scroll(&mut self, action: Action, page: usize) {
        if self.pending.is_some() {
            // A part is on its way: the view moves once it is in.
            return;
        }
        let count = self.line_count();
        let last_top = count.saturating_sub(page);
        match action {
            Action::Up | Action::PageUp if self.top == 0 && self.chunk > 0 => {
                self.request(self.chunk - 1, Placement::End(page))
            }
            Action::Up => self.top = self.top.saturating_sub(1),
            Action::PageUp => self.top = self.top.saturating_sub(page),
            Action::Down | Action::PageDown if self.top >= last_top && self.has_next_chunk() => {
                self.request(self.chunk + 1, Placement::Start)
            }
            Action::Down => self.top = (self.top + 1).min(last_top),
            Action::PageDown => self.top = (self.top + page).min(last_top),
            // Long text lines scroll sideways, a tab stop at a time.
            Action::Right if !self.binary => self.left += 8,
            Action::Left => self.left = self.left.saturating_sub(8),
            Action::Top if self.chunk != 0 => self.request(0, Placement::Start),
            Action::Top => self.top = 0,
            Action::Bottom => {
                let last_chunk = self.size.saturating_sub(1) / CHUNK;
                if self.chunk != last_chunk {
                    self.request(last_chunk, Placement::End(page));
                } else {
                    self.top = last_top;
                }
            }
            _ => {}
        }
    }
}

/// NUL bytes or invalid UTF-8 (beyond a character cut at the end) mean binary.
fn looks_binary(data: &[u8]) -> bool {
    let head = &data[..data.len().min(8192)];
    if head.contains(&0) {
        return true;
    }
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_detection() {
        assert!(!looks_binary(b"hello\nworld\n"));
        assert!(looks_binary(b"\x7fELF\x02\x01\x00"));
        assert!(!looks_binary("caf\u{e9}".as_bytes()));
        assert!(!looks_binary(&"é".as_bytes()[..1]), "a character cut at the end is fine");
    }
}
