//! Explorer responsiveness: time to a fully drawn screen and time per key (key → update → frame)
//! on a given image, headless (a 160×45 TestBackend). Not a test.
//!
//! ```sh
//! cargo bench --bench tui -- IMAGE.tar [--runs N]
//! cargo bench --bench bench -- many-small:1000000:20 --runs 1   # makes a 1,000,000-file image
//! cargo bench --bench tui -- "$LAYERSCOPE_BENCH_DIR/many-small-1000000-20.v1.tar"
//! ```
//! Prints min / median / max milliseconds per kind of key: moves (j, k, PgDn in the tree; a layer
//! step), toggles (collapse, collapse all, hide a change kind, sort, aggregated view) and filter
//! keystrokes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark may panic

use std::time::{Duration, Instant};

use layerscope::analysis::{Options, analyze};
use layerscope::tui::action::Action;
use layerscope::tui::app::App;
use layerscope::tui::view;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn frame(app: &mut App, terminal: &mut Terminal<TestBackend>) {
    // `update` keeps the cursors in view; a frame only draws.
    terminal.draw(|f| view::draw(f, app)).unwrap();
}

fn stats(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} {:>4} keys  min {:>8.2} ms  median {:>8.2} ms  max {:>8.2} ms",
        times.len(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench --bench tui -- IMAGE.tar [--runs N]");
        std::process::exit(2);
    };
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);

    let start = Instant::now();
    let image = layerscope::load(&layerscope::Input::Path(path.into()), &Default::default()).unwrap();
    let loaded = start.elapsed();
    let analysis = analyze(&image, &Options::default());
    let analysed = start.elapsed();
    let nodes = image.tree.node_count();
    let mut app = App::ready(image, analysis, 160, 45, true);
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    frame(&mut app, &mut terminal);
    let drawn = start.elapsed();
    println!("{path}: {nodes} paths");
    println!(
        "to a fully drawn screen: {:.2} s (load {:.2} s, analysis {:.2} s, first frame {:.3} s)",
        drawn.as_secs_f64(),
        loaded.as_secs_f64(),
        (analysed - loaded).as_secs_f64(),
        (drawn - analysed).as_secs_f64()
    );

    let t = &mut terminal;
    // The heaviest view: the last layer with every path listed (the explorer opens on layer 0
    // with only its changes).
    app.update(Action::Bottom);
    app.idle();
    app.update(Action::ToggleChange(layerscope::tree::Change::Unchanged));
    measure(t, &mut app, runs, "tree: j (down)", &[Action::FocusNext], &[Action::Down]);
    measure(t, &mut app, runs, "tree: k (up)", &[], &[Action::Up]);
    measure(t, &mut app, runs, "tree: PgDn", &[], &[Action::PageDown]);
    measure(t, &mut app, runs, "tree: Space (fold)", &[Action::Top], &[Action::ToggleCollapse]);
    measure(t, &mut app, runs, "tree: Ctrl+Space (fold all)", &[], &[Action::ToggleCollapseAll]);
    let hide = Action::ToggleChange(layerscope::tree::Change::Unchanged);
    measure(t, &mut app, runs, "tree: Ctrl+U (hide unchanged)", &[], &[hide]);
    measure(t, &mut app, runs, "tree: s (sort by size / name)", &[], &[Action::ToggleSort]);
    measure(t, &mut app, runs, "layers: k (select a layer)", &[Action::FocusPrev], &[Action::Up]);
    let idle: Vec<Duration> = (0..runs)
        .map(|i| {
            app.update(if i % 2 == 0 { Action::Down } else { Action::Up });
            let start = Instant::now();
            app.idle();
            frame(&mut app, t);
            start.elapsed()
        })
        .collect();
    stats("layers: tree catches up (pause)", idle);
    measure(
        t,
        &mut app,
        runs,
        "layers: Ctrl+A (aggregated)",
        &[],
        &[Action::ShowAggregatedChanges, Action::ShowLayerChanges],
    );
    measure(t, &mut app, runs, "filter: a keystroke", &[Action::StartFilter], &[Action::Input('1')]);
    measure(t, &mut app, runs, "filter: backspace", &[], &[Action::InputBackspace]);
}

/// Time `each` (then a frame) `runs` times after `setup`.
fn measure(
    terminal: &mut Terminal<TestBackend>,
    app: &mut App,
    runs: usize,
    name: &str,
    setup: &[Action],
    each: &[Action],
) {
    for a in setup {
        app.update(a.clone());
    }
    let times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for a in each {
                app.update(a.clone());
            }
            frame(app, terminal);
            start.elapsed() / u32::try_from(each.len()).unwrap_or(1)
        })
        .collect();
    stats(name, times);
}
