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
//! keystrokes; for keys that start a background job, apart from it the job's time.
//!
//! `--viewer` instead opens the viewer on the file stored last in the image's biggest layer and
//! jumps to its end (which inflates the whole layer before it on a compressed one), pressing keys
//! while that runs on its own thread. A 1 GiB gzip layer:
//!
//! ```sh
//! cargo bench --bench bench -- huge-files:2048 --runs 1   # layer 0: two 1 GiB files
//! skopeo copy --dest-compress-format gzip "docker-archive:$LAYERSCOPE_BENCH_DIR/huge-files-2048.v1.tar" \
//!     oci-archive:/tmp/huge-gzip.tar
//! cargo bench --bench tui -- /tmp/huge-gzip.tar --viewer
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark may panic

use std::time::{Duration, Instant};

use layerscope::analysis::analyze;
use layerscope::tui::action::{Action, Effect};
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
    // As the explorer analyses: every wasted path listed (beside, the reports' top 20).
    let analysis = analyze(&image, &layerscope::tui::analysis_options(None));
    let analysed = start.elapsed();
    let listed = analysis.top_waste.len();
    let nodes = image.tree.node_count();
    if args.iter().any(|a| a == "--viewer") {
        viewer(image, analysis, runs);
        return;
    }
    let mut app = App::ready(image, analysis, 160, 45, true);
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    frame(&mut app, &mut terminal);
    let drawn = start.elapsed();
    println!("{path}: {nodes} paths, {listed} wasted paths listed");
    let report_start = Instant::now();
    let _ = analyze(&app.explorer().unwrap().image, &layerscope::analysis::Options::default());
    println!("analysis with the top 20 only (the reports'): {:.2} s", report_start.elapsed().as_secs_f64());
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
    let effects = app.idle();
    run_jobs(&mut app, effects);
    let effects = app.update(Action::ToggleChange(layerscope::tree::Change::Unchanged));
    run_jobs(&mut app, effects);
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
            let effects = app.idle();
            frame(&mut app, t);
            run_jobs(&mut app, effects);
            frame(&mut app, t);
            start.elapsed()
        })
        .collect();
    stats("layers: tree catches up (background)", idle);
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

/// Time a key of `each` (one per run, in turn), then a frame, `runs` times after `setup`: on the UI thread, and apart from it the
/// background jobs the keys started (run here one after the other, as their thread would) until
/// the tree is drawn up to date.
fn measure(
    terminal: &mut Terminal<TestBackend>,
    app: &mut App,
    runs: usize,
    name: &str,
    setup: &[Action],
    each: &[Action],
) {
    for a in setup {
        let effects = app.update(a.clone());
        run_jobs(app, effects);
    }
    let mut keys = Vec::new();
    let mut background = Vec::new();
    while keys.len() < runs {
        let start = Instant::now();
        let started = app.update(each[keys.len() % each.len()].clone());
        frame(app, terminal);
        keys.push(start.elapsed());
        if !started.is_empty() {
            let start = Instant::now();
            run_jobs(app, started);
            frame(app, terminal);
            background.push(start.elapsed());
        }
    }
    stats(name, keys);
    if !background.is_empty() {
        stats("  … then in the background", background);
    }
}

/// Run the jobs among `effects` and hand their answers back.
fn run_jobs(app: &mut App, effects: Vec<Effect>) {
    for effect in effects {
        if let Effect::Start(job) = effect {
            app.job_done(layerscope::tui::job::run(&job));
        }
    }
}

/// The viewer on the last file of the biggest layer: open it, jump to its end, and press keys
/// while the background job inflates its way there.
fn viewer(image: layerscope::Image, analysis: layerscope::analysis::Analysis, runs: usize) {
    let tree = &image.tree;
    let layer = image.layers.iter().max_by_key(|l| l.size_bytes).unwrap();
    let entry = tree
        .entries_in(layer.entries.clone())
        .iter()
        .filter(|e| e.kind == layerscope::layer::EntryKind::File)
        .max_by_key(|e| e.data_offset)
        .expect("a file in the biggest layer");
    let (file, size, index) = (entry.node, entry.size, layer.index);
    println!(
        "viewer: {} ({size} bytes) in layer {index} ({:?}, {} bytes stored)",
        tree.display_path(file).0,
        layer.compression,
        layer.blob_bytes.unwrap_or(0)
    );
    let layer = index;
    let mut app = App::ready(image, analysis, 160, 45, true);
    let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
    let t = &mut terminal;
    // Select the layer, then the file in the tree, everything listed.
    for _ in 0..layer {
        app.update(Action::Down);
    }
    let effects = app.idle();
    run_jobs(&mut app, effects);
    app.update(Action::FocusNext);
    let row = app.explorer().unwrap().rows.position(file).expect("the file is listed");
    for _ in 0..row {
        app.update(Action::Down);
    }
    let start = Instant::now();
    let effects = app.update(Action::View);
    frame(&mut app, t);
    println!("open (key → frame): {:.2} ms", start.elapsed().as_secs_f64() * 1000.0);
    run_jobs(&mut app, effects);
    let start = Instant::now();
    let effects = app.update(Action::Bottom);
    frame(&mut app, t);
    println!("End (key → frame): {:.2} ms", start.elapsed().as_secs_f64() * 1000.0);
    let [Effect::Start(job)] = <[Effect; 1]>::try_from(effects).unwrap() else { panic!("one job") };
    let worker = {
        let job = job.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            (layerscope::tui::job::run(&job), start.elapsed())
        })
    };
    // Keys while it reads: the viewer's (it waits for the part) and the status bar's progress.
    let mut keys = Vec::new();
    while !worker.is_finished() && keys.len() < runs * 50 {
        let start = Instant::now();
        app.update(if keys.len() % 2 == 0 { Action::Up } else { Action::Down });
        frame(&mut app, t);
        keys.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (done, took) = worker.join().unwrap();
    stats("keys while the end is read", keys);
    println!("the end read in the background: {:.2} s", took.as_secs_f64());
    app.job_done(done);
    // Jump back to the start and leave at once: Esc stops the job.
    let effects = app.update(Action::Top);
    let [Effect::Start(job)] = <[Effect; 1]>::try_from(effects).unwrap() else { panic!("one job") };
    let effects = app.update(Action::Bottom);
    drop(effects);
    let start = Instant::now();
    app.update(Action::CloseOverlay);
    frame(&mut app, t);
    println!(
        "Esc (key → frame): {:.2} ms; the job told to stop: {}",
        start.elapsed().as_secs_f64() * 1000.0,
        job.stop.load(std::sync::atomic::Ordering::Relaxed)
    );
}
