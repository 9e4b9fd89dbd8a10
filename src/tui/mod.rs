//! The terminal explorer: events → actions → [`app::App::update`] → draw.
//!
//! The loop ([`run_loop`]) is generic over ratatui's `Backend` and reads events from an
//! [`EventSource`], so tests drive it headless with scripted keys. [`run`] adds the real terminal:
//! raw mode, the alternate screen and mouse capture, restored on quit, on error, on panic and on
//! SIGTERM/SIGHUP; the image loads on a thread while a progress view is drawn.

pub mod action;
pub mod app;
pub mod compare;
pub mod config;
pub mod disk;
pub mod job;
pub mod keymap;
pub mod layout;
pub mod lists;
pub mod packages;
pub mod tree_view;
pub mod view;
pub mod viewer;
pub mod waste;

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use base64::Engine;
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event as TermEvent};
use crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};

use action::{Action, Effect};
use app::App;

use crate::analysis::{self, Analysis};
use crate::image::{Image, Loader};
use crate::layer::Progress;
use crate::source::Transfer;

/// Opens the image on the explorer's loading thread, saying what it does through the transfer
/// (a registry pull, an engine export); its loader then reads the layers. Called again with the
/// image the user picked when the archive holds several.
pub type Opener = Box<dyn FnMut(&Transfer, Option<usize>) -> crate::Result<Loader> + Send>;

/// Something that happened.
#[derive(Debug)]
pub enum Event {
    /// A user action (already mapped from a key or the mouse).
    Action(Action),
    /// The source reports what it fetches through these counters.
    Transfer(Arc<Transfer>),
    /// The loader knows the layers and reports progress through these counters.
    Progress(Arc<Progress>),
    /// The layers are read; the analysis runs.
    Analysing,
    /// The image is loaded and analysed.
    Loaded(Box<(Image, Analysis)>),
    /// Loading failed.
    Failed(String),
    /// The archive holds several images: the user picks one (by its place in this list).
    Choose(Vec<String>),
    /// A background job answered.
    JobDone(job::Done),
    /// Compare or disk mode: the images are read and their figures computed.
    Computed(Computed),
    /// Nothing happened for a while (redraw progress).
    Tick,
}

/// Where events come from.
pub trait EventSource {
    /// The next event, waiting at most `timeout`. `None` when the source is exhausted.
    fn next(&mut self, app: &App, timeout: Duration) -> Option<Event>;
}

/// Run the loop until the user quits or loading fails. `effects` performs side effects.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &mut dyn EventSource,
    effects: &mut dyn FnMut(Effect),
) -> Result<(), B::Error> {
    terminal.draw(|f| view::draw(f, app))?;
    while !app.quit {
        let loading = matches!(app.phase, app::Phase::Loading { .. });
        let timeout = if app.has_pending_work() {
            // The keys paused long enough: catch up (the tree of a newly selected layer).
            Duration::from_millis(40)
        } else if loading {
            Duration::from_millis(100)
        } else {
            Duration::from_millis(500)
        };
        let Some(event) = events.next(app, timeout) else { break };
        match event {
            Event::Action(action) => {
                for effect in app.update(action) {
                    effects(effect);
                }
            }
            Event::Transfer(t) => app.transfer(t),
            Event::Progress(p) => app.progress(p),
            Event::Analysing => app.analysing(),
            Event::Loaded(loaded) => {
                let (image, analysis) = *loaded;
                app.loaded(image, analysis);
            }
            Event::Failed(message) => app.failed(message),
            Event::JobDone(done) => app.job_done(done),
            Event::Computed(computed) => app.computed(computed),
            Event::Choose(images) => app.choose(images),
            Event::Tick => {
                // The keys paused: catch the tree up. A job's progress is redrawn on every tick.
                let caught_up = app.has_pending_work();
                for effect in app.idle() {
                    effects(effect);
                }
                if !caught_up && !loading && !app.job_running() {
                    continue;
                }
            }
        }
        terminal.draw(|f| view::draw(f, app))?;
    }
    Ok(())
}

/// What the input and loader threads send.
enum Incoming {
    Terminal(TermEvent),
    Loader(Event),
    /// The terminal could not be read (it went away).
    InputFailed,
}

/// Events from the terminal and the loader, each read on its own thread: crossterm's reader can spin
/// forever on a hung-up terminal, and the loop must still see SIGTERM and notice the hang-up.
struct TerminalEvents {
    incoming: mpsc::Receiver<Incoming>,
    terminate: Arc<AtomicBool>,
}

impl EventSource for TerminalEvents {
    fn next(&mut self, app: &App, timeout: Duration) -> Option<Event> {
        if self.terminate.load(Ordering::Relaxed) {
            return Some(Event::Action(Action::Quit));
        }
        match self.incoming.recv_timeout(timeout) {
            Ok(Incoming::Loader(e)) => Some(e),
            Ok(Incoming::Terminal(TermEvent::Key(k))) => {
                Some(app.settings.keymap.key(k, app.mode()).map_or(Event::Tick, Event::Action))
            }
            Ok(Incoming::Terminal(TermEvent::Mouse(m))) => Some(keymap::mouse(m).map_or(Event::Tick, Event::Action)),
            Ok(Incoming::Terminal(TermEvent::Resize(width, height))) => {
                Some(Event::Action(Action::Resize { width, height }))
            }
            Ok(Incoming::Terminal(_)) => Some(Event::Tick),
            Ok(Incoming::InputFailed) | Err(mpsc::RecvTimeoutError::Disconnected) => Some(Event::Action(Action::Quit)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // A hung-up terminal (its window closed) fails even a size query.
                if terminal::size().is_err() {
                    return Some(Event::Action(Action::Quit));
                }
                Some(Event::Tick)
            }
        }
    }
}

/// Signals that end a process by default and can be caught.
const TERMINATING_SIGNALS: [i32; 11] = {
    use signal_hook::consts::*;
    [SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ]
};

/// Leave raw mode and the alternate screen (safe to call twice).
fn restore_terminal() {
    let _ = terminal::disable_raw_mode();
    let _ = execute!(io::stdout(), DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
}

/// Why the explorer could not run.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    /// Standard output is not a terminal, or there is no terminal to read keys from.
    #[error(
        "the explorer needs a terminal; for scripts and pipelines use --ci (a pass/fail gate) or --json FILE (a report)"
    )]
    NotATerminal,
    /// Loading the image failed.
    #[error("{0}")]
    Load(String),
    /// The terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[from] io::Error),
}

/// The analysis the explorer shows: every wasted path, for its waste list to scroll through.
pub fn analysis_options(base_layers: Option<usize>) -> analysis::Options {
    analysis::Options { base_layers, top: Some(usize::MAX) }
}

/// Open the explorer on the image `open` opens (named `name` until it is loaded): the first frame
/// is drawn at once, the image loads behind it.
pub fn run(
    name: &str,
    open: Opener,
    options: analysis::Options,
    settings: config::Settings,
    color: bool,
) -> Result<(), TuiError> {
    on_terminal(|terminate| explore(name, open, options, settings, color, terminate))
}

/// What compare or disk mode shows.
#[derive(Debug)]
pub enum Computed {
    /// Two images compared (`layerscope diff`).
    Comparison(Box<compare::Comparison>),
    /// Several images' disk use (`layerscope df`).
    Disk(Box<disk::DiskView>),
}

/// Reads the images and computes what compare or disk mode shows, on the loading thread.
pub type Compute = Box<dyn FnOnce(&Transfer) -> Result<Computed, String> + Send>;

/// Open compare or disk mode (`layerscope diff`, `df` on a terminal) on what `compute` computes;
/// `name` names the images while they load.
pub fn run_lists(name: &str, compute: Compute, settings: config::Settings, color: bool) -> Result<(), TuiError> {
    on_terminal(|terminate| {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        let size = terminal.size()?;
        let mut app = App::loading(name, size.width, size.height, color).with_settings(settings);
        let (tx, rx) = mpsc::channel();
        read_terminal(tx.clone());
        let transfer = Arc::new(Transfer::default());
        let transfer_loader = Arc::clone(&transfer);
        // Detached: a quit while it reads stops the process with it.
        std::thread::spawn(move || {
            let _ = tx.send(Incoming::Loader(Event::Transfer(Arc::clone(&transfer_loader))));
            let _ = tx.send(Incoming::Loader(match compute(&transfer_loader) {
                Ok(c) => Event::Computed(c),
                Err(message) => Event::Failed(message),
            }));
        });
        let mut events = TerminalEvents { incoming: rx, terminate };
        run_loop(&mut terminal, &mut app, &mut events, &mut |_| {})?;
        transfer.cancel.store(true, Ordering::Relaxed);
        match &app.phase {
            app::Phase::Failed(message) => Err(TuiError::Load(message.clone())),
            _ => Ok(()),
        }
    })
}

/// Run `body` with the terminal in raw mode on the alternate screen, restored afterwards (and on
/// a panic or a terminating signal, which sets the flag `body` gets).
fn on_terminal(body: impl FnOnce(Arc<AtomicBool>) -> Result<(), TuiError>) -> Result<(), TuiError> {
    // Keys come from the controlling terminal when stdin carries the image (`docker save img |
    // layerscope -`), as `less` and `fzf` do: crossterm reads /dev/tty whenever stdin is not one.
    let keys_readable = io::stdin().is_terminal()
        || std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_ok_and(|t| t.is_terminal());
    if !io::stdout().is_terminal() || !keys_readable {
        return Err(TuiError::NotATerminal);
    }
    // Every signal whose default is to end the process ends the loop instead, so the terminal is
    // restored (in raw mode Ctrl+C is a key, but `kill -INT` still sends SIGINT).
    let terminate = Arc::new(AtomicBool::new(false));
    for signal in TERMINATING_SIGNALS {
        let _ = signal_hook::flag::register(signal, Arc::clone(&terminate));
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));

    terminal::enable_raw_mode()?;
    let mut stdout = io::stdout();
    if let Err(e) = execute!(stdout, EnterAlternateScreen, EnableMouseCapture) {
        restore_terminal();
        return Err(e.into());
    }
    let result = body(terminate);
    restore_terminal();
    result
}

/// Read terminal events on a thread of their own into `tx` (detached: it ends with the process).
fn read_terminal(tx: mpsc::Sender<Incoming>) {
    std::thread::spawn(move || {
        loop {
            let incoming = match event::read() {
                Ok(e) => Incoming::Terminal(e),
                Err(_) => Incoming::InputFailed,
            };
            let failed = matches!(incoming, Incoming::InputFailed);
            if tx.send(incoming).is_err() || failed {
                break;
            }
        }
    });
}

fn explore(
    name: &str,
    open: Opener,
    options: analysis::Options,
    settings: config::Settings,
    color: bool,
    terminate: Arc<AtomicBool>,
) -> Result<(), TuiError> {
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let size = terminal.size()?;
    let mut app = App::loading(name, size.width, size.height, color).with_settings(settings);
    let (tx, rx) = mpsc::channel();
    read_terminal(tx.clone());
    let job_tx = tx.clone();
    let cancel: Arc<std::sync::Mutex<Option<Arc<Progress>>>> = Arc::default();
    let cancel_loader = Arc::clone(&cancel);
    let transfer = Arc::new(Transfer::default());
    let transfer_loader = Arc::clone(&transfer);
    let (pick_tx, pick_rx) = mpsc::channel::<usize>();
    let mut open = open;
    let loader = std::thread::spawn(move || {
        let send = |e: Event| tx.send(Incoming::Loader(e));
        let result = (|| {
            let _ = send(Event::Transfer(Arc::clone(&transfer_loader)));
            let opened = match open(&transfer_loader, None) {
                // Several images and none named: the user picks one, and it is opened.
                Err(crate::Error::SeveralImages { available }) => {
                    let _ = send(Event::Choose(available));
                    let picked = pick_rx.recv().map_err(|_| "no image was picked".to_string())?;
                    open(&transfer_loader, Some(picked))
                }
                other => other,
            }
            .map_err(|e| e.to_string())?;
            let progress = Arc::new(Progress::new(&opened.blob_sizes()));
            if let Ok(mut c) = cancel_loader.lock() {
                *c = Some(Arc::clone(&progress));
            }
            let _ = send(Event::Progress(Arc::clone(&progress)));
            let image = opened.load(Some(&progress)).map_err(|e| e.to_string())?;
            analysis::check_options(&image, &options).map_err(|e| e.to_string())?;
            let _ = send(Event::Analysing);
            let (analysis, _) = analysis::analyze_cached(&image, &options, false);
            Ok::<_, String>((image, analysis))
        })();
        let _ = send(match result {
            Ok(loaded) => Event::Loaded(Box::new(loaded)),
            Err(message) => Event::Failed(message),
        });
    });
    let mut events = TerminalEvents { incoming: rx, terminate };
    let mut copy = |effect: Effect| match effect {
        Effect::Copy(text) => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
            let mut out = io::stdout();
            let _ = write!(out, "\x1b]52;c;{encoded}\x07");
            let _ = out.flush();
        }
        Effect::Pick(index) => {
            let _ = pick_tx.send(index);
        }
        Effect::Start(job) => {
            let tx = job_tx.clone();
            // Detached: a replaced job is told to stop and its answer ignored.
            std::thread::spawn(move || {
                let done = job::run(&job);
                let _ = tx.send(Incoming::Loader(Event::JobDone(done)));
            });
        }
    };
    run_loop(&mut terminal, &mut app, &mut events, &mut copy)?;
    if let app::Phase::Failed(message) = &app.phase {
        return Err(TuiError::Load(message.clone()));
    }
    if matches!(app.phase, app::Phase::Loading { .. }) {
        // Quit during loading: stop the download and the readers instead of waiting for them.
        transfer.cancel.store(true, Ordering::Relaxed);
        if let Ok(c) = cancel.lock()
            && let Some(p) = c.as_ref()
        {
            p.cancel.store(true, Ordering::Relaxed);
        }
        drop(loader);
        return Ok(());
    }
    let _ = loader.join();
    Ok(())
}
