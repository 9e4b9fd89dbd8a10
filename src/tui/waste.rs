//! The wasted-space list: one row per source of waste (apt lists, a chmod -R…), largest first,
//! each opening onto the wasted paths it holds, so the list says what to change before it says
//! where.

use crate::analysis::Analysis;
use crate::analysis::sources::source_of_path;

/// A line of the wasted-space list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WasteRow {
    /// A source: its place in [`Analysis::waste_sources`].
    Source(usize),
    /// A wasted path: its place in [`Analysis::top_waste`].
    Path(usize),
}

/// The sources with their paths, and which sources are open.
#[derive(Clone, Debug, Default)]
pub struct WasteList {
    /// Per source, its paths (largest first, as the analysis lists them).
    paths: Vec<Vec<usize>>,
    /// Per source, whether its paths are listed.
    open: Vec<bool>,
    /// Paths filed under no source listed (listed after the sources, always).
    loose: Vec<usize>,
    /// The lines shown.
    pub rows: Vec<WasteRow>,
}

impl WasteList {
    /// The list for `analysis`, every source closed; `container` is the layer that is a
    /// container's writable one.
    pub fn new(analysis: &Analysis, container: Option<usize>) -> WasteList {
        let sources = &analysis.waste_sources;
        let mut paths = vec![Vec::new(); sources.len()];
        // A path whose main cause files it under a source none of its copies made (rare) is
        // listed on its own.
        let mut loose = Vec::new();
        for (i, w) in analysis.top_waste.iter().enumerate() {
            let source = source_of_path(w, container);
            match sources.iter().position(|s| s.source == source) {
                Some(s) => paths[s].push(i),
                None => loose.push(i),
            }
        }
        let open = vec![false; sources.len()];
        let mut list = WasteList { paths, open, loose, rows: Vec::new() };
        list.layout();
        list
    }

    /// Open or close the source on row `at`; returns the row the cursor belongs on (the source's).
    pub fn toggle(&mut self, at: usize) -> usize {
        let Some(WasteRow::Source(s)) = self.rows.get(at).copied() else { return at };
        if let Some(open) = self.open.get_mut(s) {
            *open = !*open;
        }
        self.layout();
        self.rows.iter().position(|r| *r == WasteRow::Source(s)).unwrap_or(0)
    }

    /// Open the source that holds path `path` (its place in `top_waste`); returns its row.
    pub fn reveal(&mut self, path: usize) -> Option<usize> {
        if let Some(s) = self.paths.iter().position(|p| p.contains(&path)) {
            self.open[s] = true;
            self.layout();
        }
        self.rows.iter().position(|r| *r == WasteRow::Path(path))
    }

    /// The wasted paths of source `s`.
    pub fn paths_of(&self, s: usize) -> &[usize] {
        self.paths.get(s).map_or(&[], Vec::as_slice)
    }

    /// Whether source `s` is open.
    pub fn is_open(&self, s: usize) -> bool {
        self.open.get(s).copied().unwrap_or(false)
    }

    fn layout(&mut self) {
        self.rows.clear();
        for (s, paths) in self.paths.iter().enumerate() {
            self.rows.push(WasteRow::Source(s));
            if self.open[s] {
                self.rows.extend(paths.iter().map(|&p| WasteRow::Path(p)));
            }
        }
        self.rows.extend(self.loose.iter().map(|&p| WasteRow::Path(p)));
    }
}
