//! The explorer's state and [`App::update`], the only place it changes.

use std::path::PathBuf;
use std::sync::Arc;

use regex::bytes::RegexBuilder;

use super::action::{Action, Effect, Pane};
use super::config::{Settings, ViewDefaults};
use super::job::{Done, Job, Outcome, Request, TreeRequest};
use super::keymap::Mode;
use super::layout::{self, Columns, Panes, keep_in_view, step};
use super::packages::{PackageList, PackageSort, PackageState};
use super::tree_view::{
    ChangeMask, Filter, Marks, Order, Rows, RowsOf, SortMode, TreeMode, TreeView, display_state, is_dir, row_text,
    wrap_chunks,
};
use super::viewer::Viewer;
use super::waste::{WasteList, WasteRow};
use crate::analysis::Analysis;
use crate::image::Image;
use crate::layer::{EntryKind, Progress};
use crate::source::Transfer;
use crate::tree::{Change, NodeId, State};

/// A line of feedback in the status bar, until the next key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
}

/// An input line being typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The path filter (applied live).
    Filter,
    /// Where to extract the selected node.
    Extract {
        /// The node to extract.
        node: NodeId,
        /// The destination typed so far.
        dest: String,
    },
}

/// An overlay over the panes.
#[derive(Debug)]
pub enum Overlay {
    /// The key help.
    Help,
    /// The warnings found while reading the image.
    Warnings,
    /// A file's content.
    Viewer(Box<Viewer>),
    /// The image's packages.
    Packages(PackageList),
}

/// Everything about a loaded image and how it is being looked at.
#[derive(Debug)]
pub struct Explorer {
    /// The image (shared with the background jobs that read it).
    pub image: Arc<Image>,
    /// Its analysis.
    pub analysis: Analysis,
    order: Arc<Order>,
    /// The focused pane.
    pub focus: Pane,
    /// The tree view wanted: selected layer, layer or aggregated changes, hidden kinds, filter.
    /// The marks say which view they were computed for; the two differ while the tree catches up.
    pub view: TreeView,
    /// Sort order in the tree.
    pub sort: SortMode,
    /// Whether attribute columns are on.
    pub attributes: bool,
    /// Whether long tree lines wrap.
    pub wrap: bool,
    /// The filters compiled (the path regex, or the text escaped when it is not one; the
    /// package's files).
    filter: Filter,
    /// Whether the filter text was taken literally.
    pub filter_is_literal: bool,
    /// Per-node marks for the view shown (shared with the job computing the next one).
    pub marks: Arc<Marks>,
    /// The rows of the tree pane.
    pub rows: Rows,
    collapsed: Vec<bool>,
    /// Counts changes to `collapsed`: rows built for an older count are out of date.
    folds: u64,
    /// The background job bringing the tree to the wanted view, if one runs.
    tree_job: Option<TreeJob>,
    /// From how many paths the tree is recomputed in the background rather than at once (below
    /// it, a recomputation takes a few milliseconds).
    pub background_from: usize,
    /// Cursor row in the tree.
    pub cursor: usize,
    /// First row drawn in the tree.
    pub offset: usize,
    /// The lines of the layer list: each layer, with the history steps that made no layer.
    pub layer_items: Vec<LayerItem>,
    /// First line drawn in the layer list.
    pub layer_offset: usize,
    /// The wasted-space list: sources, each opening onto its paths.
    pub waste: WasteList,
    /// Selected row of the wasted-space list.
    pub waste_cursor: usize,
    /// First waste entry drawn.
    pub waste_offset: usize,
    /// First line of the layer details drawn (the mouse wheel scrolls them; the view stops at
    /// the last line).
    pub details_offset: usize,
    /// Overlay, if any.
    pub overlay: Option<Overlay>,
    /// Input line, if any.
    pub input: Option<Input>,
    /// Status-bar feedback.
    pub message: Option<Message>,
    /// The background job running, if any: its answer is the only one taken.
    pub job: Option<Running>,
    next_job: u64,
    /// First help line shown (the help scrolls on small terminals).
    pub help_offset: usize,
    /// The image's packages, once read (in the background after the image opens).
    pub packages: PackageState,
    /// Each layer's command on one line, cut to [`COMMAND_SHOWN`] characters once (not yet
    /// escaped: the views escape what they draw), so a 30 MB `RUN` costs nothing per frame.
    pub commands: Vec<String>,
}

/// Paths from which tree views are computed in the background (about 5 ms of work at once).
pub const BACKGROUND_FROM: usize = 50_000;

/// What the cursor does once the tree shows the wanted view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Then {
    /// Stay on the selected node (or the same row, when that node went).
    Keep,
    /// Go to the first filter match, unless on one already.
    FirstMatch,
    /// Select this node.
    Select(NodeId),
    /// Select the top-level entry holding this node.
    TopLevelOf(NodeId),
}

/// The tree job running.
#[derive(Debug)]
struct TreeJob {
    id: u64,
    stop: Arc<std::sync::atomic::AtomicBool>,
    then: Then,
}

/// Characters of a layer's command the explorer keeps (the JSON report has it whole).
pub const COMMAND_SHOWN: usize = 4096;

/// A command on one line, cut to [`COMMAND_SHOWN`] characters.
fn shown_command(command: &str) -> String {
    match command.char_indices().nth(COMMAND_SHOWN) {
        Some((end, _)) => format!("{}…", crate::text::one_line(&command[..end])),
        None => crate::text::one_line(command),
    }
}

/// The background job the explorer waits for.
#[derive(Debug)]
pub struct Running {
    /// Its id (answers of replaced jobs carry others).
    pub id: u64,
    /// What it does, for the status bar.
    pub what: String,
    /// Bytes read or written so far.
    pub progress: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// For an extraction: the path shown and which layer's bytes, for the message at the end.
    extract: Option<(String, String)>,
}

/// A line of the layer list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerItem {
    /// A layer, by index.
    Layer(usize),
    /// History step `k` that made no layer, after layer `i`.
    Instruction(usize, usize),
}

/// Lines of the image pane above the wasted-space list, inside its border: five figures, the
/// main source of waste when there is waste, a container line for a container, a warnings line
/// when there are warnings, and the heading.
pub fn waste_list_top(e: &Explorer) -> u16 {
    6 + u16::from(!e.analysis.waste_sources.is_empty())
        + u16::from(!e.image.warnings.is_empty())
        + u16::from(e.image.container().is_some())
}

/// Where loading stands.
#[derive(Debug)]
pub enum Phase {
    /// Reading the archive.
    Loading {
        /// The input's name.
        source: String,
        /// Counters of the layers being read, once known.
        progress: Option<Arc<Progress>>,
        /// What the source fetches (a pull, an export), when it fetches anything.
        transfer: Option<Arc<Transfer>>,
        /// What is happening ("indexing", "reading layers", "analysing").
        stage: String,
    },
    /// The archive holds several images: which one to open.
    Choosing {
        /// The input's name.
        source: String,
        /// The images, as the archive names them.
        images: Vec<String>,
        /// The highlighted one.
        cursor: usize,
    },
    /// Ready to explore.
    Ready(Box<Explorer>),
    /// Compare mode: two images compared.
    Comparing(Box<super::compare::Comparison>),
    /// Disk mode: several images' disk use.
    Disk(Box<super::disk::DiskView>),
    /// Loading failed (the loop ends and the error is reported).
    Failed(String),
}

/// The whole explorer.
#[derive(Debug)]
pub struct App {
    /// Where loading stands.
    pub phase: Phase,
    /// Terminal size.
    pub width: u16,
    /// Terminal size.
    pub height: u16,
    /// Whether colours may be used (NO_COLOR unset).
    pub color: bool,
    /// Theme, keys and first view, from the settings file.
    pub settings: Arc<Settings>,
    /// Set when the user quits.
    pub quit: bool,
}

impl App {
    /// An app waiting for `source` to load.
    pub fn loading(source: &str, width: u16, height: u16, color: bool) -> App {
        App {
            phase: Phase::Loading {
                source: source.to_string(),
                progress: None,
                transfer: None,
                stage: "opening the archive".into(),
            },
            width,
            height,
            color,
            settings: Arc::new(Settings::default()),
            quit: false,
        }
    }

    /// The same, with these settings.
    pub fn with_settings(mut self, settings: Settings) -> App {
        self.settings = Arc::new(settings);
        self
    }

    /// An app showing a loaded image.
    pub fn ready(image: Image, analysis: Analysis, width: u16, height: u16, color: bool) -> App {
        let mut app = App::loading(&image.source.clone(), width, height, color);
        app.loaded(image, analysis);
        app
    }

    /// The source reports its counters.
    pub fn transfer(&mut self, transfer: Arc<Transfer>) {
        if let Phase::Loading { transfer: t, .. } = &mut self.phase {
            *t = Some(transfer);
        }
    }

    /// The loader reports its counters.
    pub fn progress(&mut self, progress: Arc<Progress>) {
        if let Phase::Loading { progress: p, stage, .. } = &mut self.phase {
            *p = Some(progress);
            *stage = "reading layers".into();
        }
    }

    /// The loader finished reading and is analysing.
    pub fn analysing(&mut self) {
        if let Phase::Loading { stage, .. } = &mut self.phase {
            *stage = "analysing".into();
        }
    }

    /// The loader finished.
    pub fn loaded(&mut self, image: Image, analysis: Analysis) {
        self.phase = Phase::Ready(Box::new(Explorer::with_view(image, analysis, &self.settings.view)));
        self.fit();
    }

    /// Compare or disk mode's images are read and their figures computed.
    pub fn computed(&mut self, computed: super::Computed) {
        self.phase = match computed {
            super::Computed::Comparison(c) => Phase::Comparing(c),
            super::Computed::Disk(d) => Phase::Disk(d),
        };
    }

    /// The loader failed.
    pub fn failed(&mut self, error: String) {
        self.phase = Phase::Failed(error);
        self.quit = true;
    }

    /// The explorer, once loaded.
    pub fn explorer(&self) -> Option<&Explorer> {
        match &self.phase {
            Phase::Ready(e) => Some(e),
            _ => None,
        }
    }

    /// The archive holds several images and none was named: let the user pick one.
    pub fn choose(&mut self, images: Vec<String>) {
        let source = match &self.phase {
            Phase::Loading { source, .. } => source.clone(),
            _ => String::new(),
        };
        self.phase = Phase::Choosing { source, images, cursor: 0 };
    }

    /// How keys are read right now.
    pub fn mode(&self) -> Mode {
        match &self.phase {
            Phase::Choosing { .. } => Mode::Picker,
            Phase::Comparing(_) | Phase::Disk(_) => Mode::Lists,
            Phase::Ready(e) => {
                if e.input.is_some() {
                    Mode::Input
                } else {
                    match e.overlay {
                        Some(Overlay::Help | Overlay::Warnings) => Mode::Help,
                        Some(Overlay::Viewer(_)) => Mode::Viewer,
                        Some(Overlay::Packages(_)) => Mode::Packages,
                        None => Mode::Browse(e.focus),
                    }
                }
            }
            _ => Mode::Loading,
        }
    }

    /// The pane layout for the current size.
    pub fn panes(&self) -> Panes {
        let input = self.explorer().is_some_and(|e| e.input.is_some() || e.view.filtering());
        layout::panes(ratatui::layout::Rect::new(0, 0, self.width, self.height), input)
    }

    /// Work left for when the keys pause (the tree of a newly selected layer): done here, or
    /// started as the background jobs returned.
    pub fn idle(&mut self) -> Vec<Effect> {
        let effects = match &mut self.phase {
            Phase::Ready(e) => {
                let mut effects = e.read_packages();
                if e.has_pending_work() {
                    effects.extend(e.refresh(Then::Keep));
                }
                effects
            }
            _ => return Vec::new(),
        };
        self.fit();
        effects
    }

    /// Whether a background job runs (its progress is redrawn).
    pub fn job_running(&self) -> bool {
        self.explorer().is_some_and(|e| e.job.is_some())
    }

    /// A background job answered.
    pub fn job_done(&mut self, done: super::job::Done) {
        if let Phase::Ready(e) = &mut self.phase {
            e.job_done(done);
        }
        self.fit();
    }

    /// Whether [`App::idle`] has work.
    pub fn has_pending_work(&self) -> bool {
        self.explorer().is_some_and(|e| e.has_pending_work() || matches!(e.packages, PackageState::Wanted))
    }

    /// The explorer, to adjust it (tests and benchmarks).
    pub fn explorer_mut(&mut self) -> Option<&mut Explorer> {
        match &mut self.phase {
            Phase::Ready(e) => Some(e),
            _ => None,
        }
    }

    /// Apply an action. Returns side effects for the event loop.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if let Action::Resize { width, height } = action {
            self.width = width;
            self.height = height;
        }
        if action == Action::Quit {
            self.quit = true;
            return Vec::new();
        }
        let panes = self.panes();
        let effects = match &mut self.phase {
            Phase::Ready(e) => e.update(action, &panes),
            Phase::Comparing(c) => {
                let panes = layout::compare_panes(ratatui::layout::Rect::new(0, 0, self.width, self.height));
                c.update(&action, layout::list_rows(panes.layers), layout::list_rows(panes.paths));
                Vec::new()
            }
            Phase::Disk(d) => {
                let panes = layout::compare_panes(ratatui::layout::Rect::new(0, 0, self.width, self.height));
                d.update(&action, layout::list_rows(panes.layers), layout::list_rows(panes.paths));
                Vec::new()
            }
            Phase::Choosing { source, images, cursor } => {
                let page = usize::from(self.height.saturating_sub(4)).max(1);
                match action {
                    Action::Activate => {
                        let picked = *cursor;
                        let stage = format!("opening {}", images.get(picked).map_or("", String::as_str));
                        self.phase =
                            Phase::Loading { source: std::mem::take(source), progress: None, transfer: None, stage };
                        vec![Effect::Pick(picked)]
                    }
                    other => {
                        *cursor = step(*cursor, images.len(), &other, page);
                        Vec::new()
                    }
                }
            }
            _ => Vec::new(),
        };
        self.fit();
        effects
    }

    /// Keep every cursor on screen for the current layout: the one place scroll offsets are
    /// decided, so what is drawn and what a click hits agree.
    fn fit(&mut self) {
        let panes = self.panes();
        if let Phase::Ready(e) = &mut self.phase {
            e.fit(&panes);
        }
    }
}

const CASE_INSENSITIVE_HINT: &str = "(?i)";

impl Explorer {
    /// Start as dive does, at the first layer (the base, at the top of the list, in view on any
    /// terminal), showing what it changed, sorted by name.
    pub fn new(image: Image, analysis: Analysis) -> Explorer {
        Explorer::with_view(image, analysis, &ViewDefaults::default())
    }

    /// The same, the tree first shown as the settings say.
    pub fn with_view(image: Image, analysis: Analysis, first: &ViewDefaults) -> Explorer {
        let commands = image.layers.iter().map(|l| shown_command(l.command().unwrap_or("(no history)"))).collect();
        let order = Order::new(&image.tree);
        let layer_items = image
            .layers
            .iter()
            .flat_map(|l| {
                std::iter::once(LayerItem::Layer(l.index))
                    .chain((0..l.empty_instructions.len()).map(|k| LayerItem::Instruction(l.index, k)))
            })
            .collect();
        let layer = 0;
        let view =
            TreeView { layer, mode: TreeMode::Layer, hidden: first.hidden, filter: String::new(), package: None };
        let marks = Marks::new(&image, &order, view.clone(), &Filter::default());
        let collapsed = vec![false; image.tree.node_count()];
        let of = RowsOf { tree: &image.tree, marks: &marks, collapsed: &collapsed, sort: first.sort, filtering: false };
        let rows = Rows::new(of, 0);
        let packages =
            if crate::analysis::packages::has_database(&image) { PackageState::Wanted } else { PackageState::Absent };
        let waste = WasteList::new(&analysis, image.container_layer());
        Explorer {
            image: Arc::new(image),
            analysis,
            order: Arc::new(order),
            focus: Pane::Layers,
            view,
            sort: first.sort,
            attributes: first.attributes,
            wrap: first.wrap,
            filter: Filter::default(),
            filter_is_literal: false,
            marks: Arc::new(marks),
            rows,
            collapsed,
            folds: 0,
            tree_job: None,
            background_from: BACKGROUND_FROM,
            cursor: 0,
            offset: 0,
            layer_items,
            layer_offset: 0,
            waste,
            waste_cursor: 0,
            waste_offset: 0,
            details_offset: 0,
            overlay: None,
            input: None,
            message: None,
            job: None,
            next_job: 1,
            help_offset: 0,
            packages,
            commands,
        }
    }

    /// The node under the tree cursor.
    pub fn selected_node(&self) -> Option<NodeId> {
        self.rows.rows.get(self.cursor).map(|r| r.node)
    }

    /// Whether `node` is collapsed.
    pub fn is_collapsed(&self, node: NodeId) -> bool {
        self.collapsed.get(node.0 as usize).copied().unwrap_or(false)
    }

    fn update(&mut self, action: Action, panes: &Panes) -> Vec<Effect> {
        let layer_move = self.focus == Pane::Layers
            && self.overlay.is_none()
            && self.input.is_none()
            && matches!(
                action,
                Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
            );
        let mut effects = Vec::new();
        if self.has_pending_work() && !layer_move && !matches!(action, Action::Resize { .. }) {
            effects = self.refresh(Then::Keep);
        }
        effects.extend(self.handle(action, panes));
        effects
    }

    fn handle(&mut self, action: Action, panes: &Panes) -> Vec<Effect> {
        // Feedback lasts until the next key.
        if !matches!(action, Action::Resize { .. } | Action::Scroll { .. }) {
            self.message = None;
        }
        if self.input.is_some() {
            return self.update_input(action);
        }
        if self.overlay.is_some() {
            return self.overlay_key(action, panes);
        }
        match action {
            Action::Quit | Action::Resize { .. } => {}
            Action::FocusNext => self.focus = self.next_pane(panes, true),
            Action::FocusPrev => self.focus = self.next_pane(panes, false),
            Action::Focus(p) => self.focus = p,
            Action::ToggleHelp => {
                self.overlay = Some(Overlay::Help);
                self.help_offset = 0;
            }
            Action::ShowWarnings => {
                if self.image.warnings.is_empty() {
                    self.message = Some(Message { text: "no warnings: the image read cleanly".into(), error: false });
                } else {
                    self.overlay = Some(Overlay::Warnings);
                    self.help_offset = 0;
                }
            }
            Action::ShowPackages => self.show_packages(),
            Action::CloseOverlay => self.overlay = None,
            Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                self.move_cursor(&action, panes)
            }
            Action::Left => self.left(panes),
            Action::Right => return self.right(),
            Action::ToggleCollapse => return self.toggle_collapse(),
            Action::ToggleCollapseAll => return self.toggle_collapse_all(),
            Action::ShowLayerChanges => return self.set_mode(TreeMode::Layer),
            Action::ShowAggregatedChanges => return self.set_mode(TreeMode::Aggregated),
            Action::ToggleChange(c) => {
                self.view.hidden.toggle(c);
                return self.refresh(Then::Keep);
            }
            Action::StartFilter => self.input = Some(Input::Filter),
            // Esc stops a running extraction before it clears anything.
            Action::ClearFilter if self.job.is_some() => {
                self.stop_job();
                self.message = Some(Message { text: "stopped; what was written stays".into(), error: false });
            }
            Action::ClearFilter => {
                self.view.package = None;
                self.filter.package = None;
                return self.set_filter(String::new());
            }
            Action::NextMatch => self.jump_match(true),
            Action::PrevMatch => self.jump_match(false),
            Action::ToggleSort => {
                self.sort = if self.sort == SortMode::Name { SortMode::Size } else { SortMode::Name };
                return self.refresh(Then::Keep);
            }
            Action::ToggleAttributes => self.attributes = !self.attributes,
            Action::ToggleWrap => self.wrap = !self.wrap,
            Action::Activate => {
                let mut effects = self.activate();
                effects.extend(self.read_pending_part());
                return effects;
            }
            Action::View => {
                self.view();
                return self.read_pending_part();
            }
            Action::StartExtract => self.start_extract(),
            Action::CopyPath => {
                if let Some(node) = self.selected_node() {
                    let path = self.image.tree.display_path(node).0;
                    self.message = Some(Message { text: format!("copied {path}"), error: false });
                    return vec![Effect::Copy(path)];
                }
            }
            Action::Input(_) | Action::InputBackspace | Action::InputAccept | Action::InputCancel => {}
            Action::Click { column, row } => return self.click(column, row, panes),
            Action::Scroll { column, row, down } if inside(panes.details, column, row) => {
                self.details_offset = if down {
                    (self.details_offset + 1).min(DETAILS_MAX)
                } else {
                    self.details_offset.saturating_sub(1)
                };
            }
            Action::Scroll { column, row, down } => {
                if let Some(p) = panes.at(column, row) {
                    self.focus = p;
                    self.move_cursor(if down { &Action::Down } else { &Action::Up }, panes);
                }
            }
        }
        Vec::new()
    }

    /// A key while an overlay is open: the overlay takes it.
    fn overlay_key(&mut self, action: Action, panes: &Panes) -> Vec<Effect> {
        if let Some(Overlay::Viewer(v)) = &mut self.overlay {
            let page = usize::from(panes.tree.height.saturating_sub(2)).max(1);
            match action {
                Action::CloseOverlay => {
                    self.overlay = None;
                    self.stop_job();
                }
                other => v.scroll(other, page),
            }
            return self.read_pending_part();
        }
        if let Some(Overlay::Packages(list)) = &mut self.overlay {
            let rows = layout::packages_rows(panes);
            match action {
                Action::CloseOverlay | Action::ShowPackages => self.overlay = None,
                Action::ToggleSort => {
                    if let Some(index) = self.packages.index() {
                        list.sort_by(&index.packages, list.sort.next());
                        list.fit(rows);
                    }
                }
                Action::Activate => return self.filter_package(),
                Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
                    list.step(&action, rows)
                }
                _ => {}
            }
            return Vec::new();
        }
        if matches!(self.overlay, Some(Overlay::Help | Overlay::Warnings)) {
            match action {
                Action::CloseOverlay | Action::ToggleHelp => self.overlay = None,
                Action::Down | Action::PageDown => self.help_offset += 1,
                Action::Up | Action::PageUp => self.help_offset = self.help_offset.saturating_sub(1),
                Action::Top => self.help_offset = 0,
                _ => {}
            }
            return Vec::new();
        }
        Vec::new()
    }

    fn update_input(&mut self, action: Action) -> Vec<Effect> {
        let Some(input) = self.input.take() else { return Vec::new() };
        match input {
            Input::Filter => match action {
                Action::Input(c) => {
                    let mut text = self.view.filter.clone();
                    text.push(c);
                    self.input = Some(Input::Filter);
                    return self.set_filter(text);
                }
                Action::InputBackspace => {
                    let mut text = self.view.filter.clone();
                    text.pop();
                    self.input = Some(Input::Filter);
                    return self.set_filter(text);
                }
                Action::InputAccept => {
                    if !self.rows.matches.is_empty() {
                        self.focus = Pane::Tree;
                    }
                }
                Action::InputCancel => return self.set_filter(String::new()),
                _ => self.input = Some(Input::Filter),
            },
            Input::Extract { node, mut dest } => match action {
                Action::Input(c) => {
                    dest.push(c);
                    self.input = Some(Input::Extract { node, dest });
                }
                Action::InputBackspace => {
                    dest.pop();
                    self.input = Some(Input::Extract { node, dest });
                }
                Action::InputAccept => return self.extract(node, &dest),
                Action::InputCancel => {}
                _ => self.input = Some(Input::Extract { node, dest }),
            },
        }
        Vec::new()
    }

    fn next_pane(&self, panes: &Panes, forward: bool) -> Pane {
        let mut order = vec![Pane::Layers, Pane::Tree];
        if panes.image.height > 0 && !self.waste.rows.is_empty() {
            order.push(Pane::Waste);
        }
        let i = order.iter().position(|p| *p == self.focus).unwrap_or(0);
        let n = order.len();
        order[if forward { (i + 1) % n } else { (i + n - 1) % n }]
    }

    fn move_cursor(&mut self, action: &Action, panes: &Panes) {
        match self.focus {
            Pane::Layers => {
                let count = self.image.layers.len();
                let page = usize::from(panes.layers.height.saturating_sub(3)).max(1);
                let target = step(self.view.layer, count, action, page);
                self.view.layer = target;
            }
            Pane::Tree => {
                let page = usize::from(panes.tree.height.saturating_sub(4)).max(1);
                self.cursor = step(self.cursor, self.rows.rows.len(), action, page);
            }
            Pane::Waste => {
                let page = usize::from(panes.image.height.saturating_sub(8)).max(1);
                self.waste_cursor = step(self.waste_cursor, self.waste.rows.len(), action, page);
            }
        }
    }

    fn left(&mut self, panes: &Panes) {
        match self.focus {
            Pane::Tree => {
                let Some(row) = self.rows.rows.get(self.cursor).copied() else { return };
                let dir = is_dir(&self.image.tree, &self.marks, row.node);
                if dir && !self.is_collapsed(row.node) && self.marks.has_shown_children(row.node) {
                    // Folding is always done at once.
                    let _ = self.set_collapsed(row.node, true);
                } else if row.parent_row != u32::MAX {
                    self.cursor = row.parent_row as usize;
                }
            }
            Pane::Waste => self.focus = Pane::Layers,
            Pane::Layers => {
                if panes.image.height > 0 && !self.waste.rows.is_empty() {
                    self.focus = Pane::Waste;
                }
            }
        }
    }

    fn right(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Tree => {
                let Some(row) = self.rows.rows.get(self.cursor).copied() else { return Vec::new() };
                if !is_dir(&self.image.tree, &self.marks, row.node) {
                    return Vec::new();
                }
                if self.is_collapsed(row.node) {
                    return self.set_collapsed(row.node, false);
                } else if self.rows.rows.get(self.cursor + 1).is_some_and(|r| r.parent_row as usize == self.cursor) {
                    self.cursor += 1;
                }
            }
            Pane::Layers => self.focus = Pane::Tree,
            Pane::Waste => self.focus = Pane::Layers,
        }
        Vec::new()
    }

    fn toggle_collapse(&mut self) -> Vec<Effect> {
        let Some(node) = self.selected_node() else { return Vec::new() };
        if !is_dir(&self.image.tree, &self.marks, node) {
            return Vec::new();
        }
        let now = self.is_collapsed(node);
        self.set_collapsed(node, !now)
    }

    fn toggle_collapse_all(&mut self) -> Vec<Effect> {
        // Collapse everything when anything is open, else open everything.
        let any_open =
            self.rows.rows.iter().any(|r| self.marks.has_shown_children(r.node) && !self.is_collapsed(r.node));
        self.collapsed.iter_mut().for_each(|c| *c = any_open);
        self.folds += 1;
        // Closing: stay on the top-level ancestor of what was selected.
        let then = match self.selected_node() {
            Some(n) if any_open => Then::TopLevelOf(n),
            _ => Then::Keep,
        };
        self.refresh(then)
    }

    /// Fold or open one directory: its rows are spliced out or in at once, except when opening a
    /// directory with more paths below it than are computed at once.
    fn set_collapsed(&mut self, node: NodeId, value: bool) -> Vec<Effect> {
        let Some(c) = self.collapsed.get_mut(node.0 as usize) else { return Vec::new() };
        if *c == value {
            return Vec::new();
        }
        *c = value;
        let current = self.rows.folds == self.folds;
        self.folds += 1;
        if !value && self.order.below(node) >= self.background_from {
            return self.refresh(Then::Keep);
        }
        // Rows still waiting for an older fold are rebuilt when they arrive.
        let Some(at) = self.rows.position(node).filter(|_| current) else { return Vec::new() };
        if value {
            let gone = self.rows.fold(at, self.folds);
            if self.cursor > at {
                self.cursor = if self.cursor <= at + gone { at } else { self.cursor - gone };
            }
        } else {
            let of = RowsOf {
                tree: &self.image.tree,
                marks: &self.marks,
                collapsed: &self.collapsed,
                sort: self.rows.sort,
                filtering: self.filter.is_on(),
            };
            let came = self.rows.unfold(of, at, self.folds);
            if self.cursor > at {
                self.cursor += came;
            }
        }
        Vec::new()
    }

    fn set_mode(&mut self, mode: TreeMode) -> Vec<Effect> {
        if self.view.mode == mode {
            return Vec::new();
        }
        self.view.mode = mode;
        self.refresh(Then::Keep)
    }

    fn set_filter(&mut self, text: String) -> Vec<Effect> {
        self.view.filter = text;
        if self.view.filter.is_empty() {
            self.filter.path = None;
            self.filter_is_literal = false;
        } else {
            // A regex when it is one; otherwise the text taken literally (`a+b`, `[x`...).
            let lowercase = !self.view.filter.chars().any(char::is_uppercase);
            let pattern = if lowercase {
                format!("{CASE_INSENSITIVE_HINT}{}", self.view.filter)
            } else {
                self.view.filter.clone()
            };
            match RegexBuilder::new(&pattern).size_limit(1 << 22).build() {
                Ok(re) => {
                    self.filter.path = Some(re);
                    self.filter_is_literal = false;
                }
                Err(_) => {
                    self.filter.path =
                        RegexBuilder::new(&regex::escape(&self.view.filter)).case_insensitive(lowercase).build().ok();
                    self.filter_is_literal = true;
                }
            }
        }
        self.refresh(Then::FirstMatch)
    }

    fn jump_match(&mut self, forward: bool) {
        let matches = &self.rows.matches;
        if matches.is_empty() {
            self.message = Some(Message {
                text: if !self.view.filtering() { "no filter: press / to type one".into() } else { "no match".into() },
                error: true,
            });
            return;
        }
        let cur = self.cursor as u32;
        let next = if forward {
            matches.iter().find(|&&m| m > cur).or(matches.first())
        } else {
            matches.iter().rev().find(|&&m| m < cur).or(matches.last())
        };
        if let Some(&m) = next {
            self.cursor = m as usize;
            self.focus = Pane::Tree;
        }
    }

    /// Whether the tree shows another view than the one wanted: after a layer move (moving
    /// through the layer list stays instant, and the tree follows when the keys pause,
    /// [`App::idle`]), or while a background job computes it.
    pub fn tree_stale(&self) -> bool {
        self.marks.view != self.view || self.rows.sort != self.sort || self.rows.folds != self.folds
    }

    /// Whether the tree is out of date with no job on the way to bring it up to date.
    pub fn has_pending_work(&self) -> bool {
        self.tree_stale() && self.tree_job.is_none()
    }

    /// Whether a background job is computing the tree.
    pub fn tree_updating(&self) -> bool {
        self.tree_job.is_some()
    }

    /// Bring the tree to the wanted view (layer, mode, hidden kinds, filter, sort, folds): at once
    /// on a small image, else as a background job whose answer [`Explorer::job_done`] takes.
    /// `then` says where the cursor goes once it is there.
    fn refresh(&mut self, then: Then) -> Vec<Effect> {
        // A newer request replaces the pending one, keeping where it wanted the cursor.
        let then = match (then, self.tree_job.take()) {
            (then, Some(job)) => {
                job.stop.store(true, std::sync::atomic::Ordering::Relaxed);
                if then == Then::Keep { job.then } else { then }
            }
            (then, None) => then,
        };
        if self.image.tree.node_count() < self.background_from {
            let keep = self.selected_node();
            let layer = self.marks.view.layer;
            Arc::make_mut(&mut self.marks).update(&self.image, &self.order, self.view.clone(), &self.filter);
            self.rows = Rows::new(self.rows_of(), self.folds);
            self.arrived(layer, keep, then);
            return Vec::new();
        }
        let request = TreeRequest {
            marks: Arc::clone(&self.marks),
            order: Arc::clone(&self.order),
            view: self.view.clone(),
            filter: self.filter.clone(),
            collapsed: self.collapsed.clone(),
            folds: self.folds,
            sort: self.sort,
        };
        let job = self.new_job(Request::Tree(request));
        self.tree_job = Some(TreeJob { id: job.id, stop: Arc::clone(&job.stop), then });
        vec![Effect::Start(job)]
    }

    /// What the rows are built from now.
    fn rows_of(&self) -> RowsOf<'_> {
        RowsOf {
            tree: &self.image.tree,
            marks: &self.marks,
            collapsed: &self.collapsed,
            sort: self.sort,
            filtering: self.filter.is_on(),
        }
    }

    /// The tree now shows a new view (it showed `layer`, with `keep` selected): place the cursor.
    fn arrived(&mut self, layer: usize, keep: Option<NodeId>, then: Then) {
        if self.marks.view.layer != layer {
            self.details_offset = 0;
        }
        let last = self.rows.rows.len().saturating_sub(1);
        self.cursor = match keep.and_then(|n| self.rows.position(n)) {
            Some(i) => i,
            None => self.cursor.min(last),
        };
        match then {
            Then::Keep => {}
            Then::FirstMatch => {
                if let Some(&first) = self.rows.matches.first()
                    && !self.rows.matches.contains(&(self.cursor as u32))
                {
                    self.cursor = first as usize;
                }
            }
            Then::Select(node) => {
                if let Some(i) = self.rows.position(node) {
                    self.cursor = i;
                }
            }
            Then::TopLevelOf(mut n) => {
                while self.image.tree.parent(n) != NodeId::ROOT {
                    n = self.image.tree.parent(n);
                }
                self.cursor = self.rows.position(n).unwrap_or(0);
            }
        }
    }

    /// Take a tree job's answer.
    fn take_tree(&mut self, marks: Arc<Marks>, rows: Rows, then: Then) {
        let keep = self.selected_node();
        let layer = self.marks.view.layer;
        self.marks = marks;
        self.rows = rows;
        if self.rows.folds != self.folds {
            // Folded or opened while it ran.
            self.rows = Rows::new(self.rows_of(), self.folds);
        }
        self.arrived(layer, keep, then);
    }

    fn activate(&mut self) -> Vec<Effect> {
        match self.focus {
            Pane::Layers => self.focus = Pane::Tree,
            Pane::Tree => {
                let Some(node) = self.selected_node() else { return Vec::new() };
                if is_dir(&self.image.tree, &self.marks, node) {
                    return self.toggle_collapse();
                }
                self.view();
            }
            Pane::Waste => match self.waste.rows.get(self.waste_cursor) {
                Some(&WasteRow::Source(s)) => {
                    self.waste_cursor = self.waste.toggle(self.waste_cursor);
                    // The fix in full, on the status bar's whole width.
                    if let Some(w) = self.analysis.waste_sources.get(s).filter(|_| self.waste.is_open(s)) {
                        self.message = Some(Message { text: format!("fix: {}", w.fix), error: false });
                    }
                }
                Some(&WasteRow::Path(i)) => return self.jump_to_waste(i),
                None => {}
            },
        }
        Vec::new()
    }

    /// Show the layer that shipped wasted path `i` (its place in the analysis's list), with the
    /// path selected.
    fn jump_to_waste(&mut self, i: usize) -> Vec<Effect> {
        let Some(w) = self.analysis.top_waste.get(i) else { return Vec::new() };
        let (node, layer) = (w.node, w.shipped_by.first().copied().unwrap_or(0));
        self.view.layer = layer;
        self.view.mode = TreeMode::Layer;
        self.view.hidden = ChangeMask::UNCHANGED;
        self.view.filter.clear();
        self.view.package = None;
        self.filter = Filter::default();
        // Open every ancestor so the row exists.
        let mut n = self.image.tree.parent(node);
        while n != NodeId::ROOT {
            if let Some(c) = self.collapsed.get_mut(n.0 as usize) {
                *c = false;
            }
            n = self.image.tree.parent(n);
        }
        self.folds += 1;
        self.focus = Pane::Tree;
        self.refresh(Then::Select(node))
    }

    fn view(&mut self) {
        let Some(node) = self.selected_node() else { return };
        let State::Present { entry: Some(id), .. } = display_state(&self.image.tree, &self.marks, node) else {
            self.message = Some(Message { text: "a directory has no content to view".into(), error: true });
            return;
        };
        let e = self.image.tree.entry(id);
        match e.kind {
            EntryKind::File | EntryKind::Hardlink => {
                let title = self.image.tree.display_path(node).0;
                self.overlay = Some(Overlay::Viewer(Box::new(Viewer::open(&self.image, id, title, self.view.layer))));
            }
            EntryKind::Symlink => {
                let target =
                    self.image.tree.link(e).map(|l| String::from_utf8_lossy(l).into_owned()).unwrap_or_default();
                self.message = Some(Message { text: format!("a symbolic link to {target}"), error: false });
            }
            _ => {
                self.message =
                    Some(Message { text: format!("a {} has no content to view", e.kind.as_str()), error: true })
            }
        }
    }

    fn start_extract(&mut self) {
        let Some(node) = self.selected_node() else { return };
        if self.marks.change(node) == Some(Change::Removed) {
            self.message = Some(Message {
                text: "this path is removed in the selected layer; select an earlier layer to extract it".into(),
                error: true,
            });
            return;
        }
        self.input = Some(Input::Extract { node, dest: ".".into() });
    }

    fn extract(&mut self, node: NodeId, dest: &str) -> Vec<Effect> {
        let dest = if dest.trim().is_empty() { PathBuf::from(".") } else { PathBuf::from(dest.trim()) };
        let shown = self.image.tree.display_path(node).0;
        // A file's bytes may come from a lower layer than the selected one: say which.
        let tree = &self.image.tree;
        let from = match tree.state_at(node, Some(self.view.layer)) {
            State::Present { entry: Some(id), .. } if tree.entry(id).kind != EntryKind::Dir => {
                let stored_in = usize::from(tree.content_entry(tree.entry(id)).layer);
                if stored_in == self.view.layer {
                    format!("layer {stored_in}")
                } else {
                    format!("from layer {stored_in}, {} selected", self.view.layer)
                }
            }
            _ => format!("as after layer {}", self.view.layer),
        };
        let request = Request::Extract { node, layer: self.view.layer, dest: dest.clone() };
        let what = format!("extracting {shown} to {}", dest.display());
        let effect = self.start_job(request, what, Some((shown, from)));
        vec![effect]
    }

    /// Start a background job, replacing (and stopping) the one running.
    fn start_job(&mut self, request: Request, what: String, extract: Option<(String, String)>) -> Effect {
        self.stop_job();
        let job = self.new_job(request);
        let (progress, stop) = (Arc::clone(&job.progress), Arc::clone(&job.stop));
        self.job = Some(Running { id: job.id, what, progress, stop, extract });
        Effect::Start(job)
    }

    /// A job for `request` on this image, with the next id.
    fn new_job(&mut self, request: Request) -> Job {
        let id = self.next_job;
        self.next_job += 1;
        Job {
            id,
            image: Arc::clone(&self.image),
            request: Arc::new(request),
            stop: Arc::default(),
            progress: Arc::default(),
        }
    }

    /// Tell the running job to stop; its answer will be ignored.
    fn stop_job(&mut self) {
        if let Some(running) = self.job.take() {
            running.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// When the viewer waits for a part that no job reads yet, start reading it.
    fn read_pending_part(&mut self) -> Vec<Effect> {
        let Some(Overlay::Viewer(v)) = &self.overlay else { return Vec::new() };
        let Some((chunk, _)) = v.pending else { return Vec::new() };
        if self.job.as_ref().is_some_and(|r| r.extract.is_none()) {
            return Vec::new();
        }
        let request = Request::ReadChunk { entry: v.entry(), chunk };
        let what =
            if chunk == 0 { "reading the file".to_string() } else { format!("reading part {} of the file", chunk + 1) };
        vec![self.start_job(request, what, None)]
    }

    /// Start reading the package databases, when the image has some and they are not read yet.
    fn read_packages(&mut self) -> Vec<Effect> {
        if !matches!(self.packages, PackageState::Wanted) {
            return Vec::new();
        }
        let job = self.new_job(Request::Packages);
        self.packages = PackageState::Reading(job.id);
        vec![Effect::Start(job)]
    }

    /// Open the packages view (or say why there is none).
    fn show_packages(&mut self) {
        let text = match &self.packages {
            PackageState::Absent => {
                "no package database in this image (dpkg, apk, rpm, Python or node metadata)".to_string()
            }
            PackageState::Wanted | PackageState::Reading(_) => {
                "still reading the package databases: p again in a moment".to_string()
            }
            PackageState::Ready(index) if index.packages.packages.is_empty() => {
                let named: Vec<String> = index
                    .packages
                    .databases
                    .iter()
                    .filter(|d| !d.read)
                    .map(|d| format!("{} ({})", d.path, d.manager))
                    .collect();
                if named.is_empty() {
                    "the package databases list no packages".to_string()
                } else {
                    format!("layerscope finds but does not read {}", named.join(", "))
                }
            }
            PackageState::Ready(index) => {
                let mut list = PackageList::new(&index.packages, PackageSort::Size);
                if let Some(shown) = self.view.package {
                    list.cursor = list.order.iter().position(|&i| i == shown).unwrap_or(0);
                }
                self.overlay = Some(Overlay::Packages(list));
                return;
            }
        };
        self.message = Some(Message { text, error: false });
    }

    /// Show only the files of the package selected in the packages view: all of them, in the
    /// layer that last installed or upgraded it.
    fn filter_package(&mut self) -> Vec<Effect> {
        let Some(Overlay::Packages(list)) = self.overlay.take() else { return Vec::new() };
        let Some(index) = self.packages.index().cloned() else { return Vec::new() };
        let (Some(i), Some(top)) = (list.selected(), self.image.top_layer()) else { return Vec::new() };
        let Some(package) = index.packages.packages.get(i) else { return Vec::new() };
        self.view.package = Some(i);
        self.filter.package = Some(Arc::new(index.files_of(&self.image.tree, top, i)));
        if let Some(layer) = package.upgraded_in.last().copied().or(package.installed_in) {
            self.view.layer = layer.min(top);
        }
        self.view.mode = TreeMode::Layer;
        if self.view.hidden.contains(Change::Unchanged) {
            self.view.hidden.toggle(Change::Unchanged);
        }
        self.focus = Pane::Tree;
        self.message = Some(Message {
            text: format!(
                "{} {}: {} files, {} · Esc shows every path again",
                package.name,
                package.version,
                package.files,
                crate::units::human_bytes(package.final_bytes)
            ),
            error: false,
        });
        self.refresh(Then::FirstMatch)
    }

    /// A background job answered.
    pub fn job_done(&mut self, done: Done) {
        if matches!(self.packages, PackageState::Reading(id) if id == done.id) {
            self.packages = match done.outcome {
                Outcome::Packages(Some(index)) => PackageState::Ready(index),
                _ => PackageState::Absent,
            };
            return;
        }
        if let Some(tree_job) = self.tree_job.take_if(|t| t.id == done.id) {
            if let Outcome::Tree(answer) = done.outcome {
                let (marks, rows) = *answer;
                self.take_tree(marks, rows, tree_job.then);
            }
            return;
        }
        let Some(running) = self.job.take_if(|r| r.id == done.id) else { return };
        match done.outcome {
            Outcome::Chunk { chunk, data } => {
                if let Some(Overlay::Viewer(v)) = &mut self.overlay {
                    v.loaded(chunk, data);
                }
            }
            Outcome::Extracted(result) => {
                let (shown, from) = running.extract.unwrap_or_default();
                self.message = Some(match result {
                    Ok(s) => {
                        let mut text = format!(
                            "extracted {shown} ({from}) to {}: {} files, {} directories, {} links, {}",
                            s.root.display(),
                            s.files,
                            s.dirs,
                            s.symlinks,
                            crate::units::human_bytes(s.bytes)
                        );
                        if !s.skipped.is_empty() {
                            let (path, why) = &s.skipped[0];
                            text.push_str(&format!("; skipped {} ({path}: {why})", s.skipped.len()));
                        }
                        Message { text, error: false }
                    }
                    Err(e) => Message { text: format!("cannot extract {shown}: {e}"), error: true },
                });
            }
            // A tree answer only comes with the tree job's id, taken above.
            Outcome::Tree(_) | Outcome::Packages(_) | Outcome::Stopped => {}
        }
    }

    fn click(&mut self, column: u16, row: u16, panes: &Panes) -> Vec<Effect> {
        let Some(pane) = panes.at(column, row) else { return Vec::new() };
        self.focus = pane;
        match pane {
            Pane::Layers => {
                // Rows start under the border and the header line.
                let top = panes.layers.y + 2;
                if row >= top
                    && let Some(LayerItem::Layer(layer)) =
                        self.layer_items.get(self.layer_offset + usize::from(row - top)).copied()
                    && layer != self.view.layer
                {
                    self.view.layer = layer;
                    return self.refresh(Then::Keep);
                }
            }
            Pane::Tree => {
                let top = panes.tree.y + panes.tree_header_rows();
                if row >= top {
                    // With wrapping a row may take several lines: count them down to the click.
                    let mut line = usize::from(row - top);
                    let mut i = self.offset;
                    while i < self.rows.rows.len() {
                        let lines = self.row_lines(i, panes);
                        if line < lines {
                            self.cursor = i;
                            break;
                        }
                        line -= lines;
                        i += 1;
                    }
                }
            }
            Pane::Waste => {
                let first = panes.image.y + 1 + waste_list_top(self);
                if row >= first {
                    let i = self.waste_offset + usize::from(row - first);
                    if i < self.waste.rows.len() {
                        self.waste_cursor = i;
                    }
                }
            }
        }
        Vec::new()
    }

    /// Lines tree row `i` takes on screen (more than one only with wrapping on).
    fn row_lines(&self, i: usize, panes: &Panes) -> usize {
        if !self.wrap {
            return 1;
        }
        let Some(row) = self.rows.rows.get(i) else { return 1 };
        let columns = if self.attributes { panes.tree_columns() } else { Columns::None };
        let collapsed = self.is_collapsed(row.node);
        let (head, name) = row_text(&self.image.tree, &self.marks, &self.rows.rows, i, columns, collapsed);
        wrap_chunks(&head, &name, usize::from(panes.tree.width.saturating_sub(2))).len().max(1)
    }

    /// The first tree row to draw so that the cursor's wrapped lines are all on screen.
    fn wrapped_offset(&self, panes: &Panes) -> usize {
        let height = panes.tree_body_height().max(1);
        let mut offset = self.offset.min(self.cursor);
        let mut lines: std::collections::VecDeque<usize> = (offset
            ..=self.cursor.min(self.rows.rows.len().saturating_sub(1)))
            .map(|i| self.row_lines(i, panes))
            .collect();
        let mut used: usize = lines.iter().sum();
        while used > height && offset < self.cursor {
            used -= lines.pop_front().unwrap_or(0);
            offset += 1;
        }
        offset
    }

    /// Lines of the layer list that fit in its pane (inside the border, under the header).
    pub fn layer_rows(panes: &Panes) -> usize {
        usize::from(panes.layers.height.saturating_sub(3))
    }

    /// Waste entries that fit in the image pane.
    pub fn waste_rows(&self, panes: &Panes) -> usize {
        usize::from(panes.image.height.saturating_sub(2 + waste_list_top(self)))
    }

    /// Keep each cursor on screen: the tree's, the layer list's and the waste list's.
    fn fit(&mut self, panes: &Panes) {
        if let Some(Overlay::Viewer(v)) = &mut self.overlay {
            // The viewer covers the tree pane, inside its border.
            v.fit(usize::from(panes.tree.width.saturating_sub(2)));
        }
        if let Some(Overlay::Packages(list)) = &mut self.overlay {
            list.fit(layout::packages_rows(panes));
        }
        self.offset = if self.wrap {
            self.wrapped_offset(panes)
        } else {
            keep_in_view(self.offset, self.cursor, panes.tree_body_height(), self.rows.rows.len())
        };
        let at = self.layer_items.iter().position(|i| *i == LayerItem::Layer(self.view.layer)).unwrap_or(0);
        self.layer_offset = keep_in_view(self.layer_offset, at, Self::layer_rows(panes), self.layer_items.len());
        let rows = self.waste_rows(panes);
        self.waste_offset = keep_in_view(self.waste_offset, self.waste_cursor, rows, self.waste.rows.len());
    }
}

/// Lines the layer details can scroll by (more than any layer has: a command is cut first).
const DETAILS_MAX: usize = 10_000;

fn inside(r: ratatui::layout::Rect, column: u16, row: u16) -> bool {
    column >= r.x && column < r.x + r.width && row >= r.y && row < r.y + r.height
}
