//! The explorer, headless: screens as insta snapshots on a fixed-size TestBackend (100×30 and 80×24,
//! on the bundled demo image), and journeys that press keys and assert the resulting state.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use layerscope::analysis::{Options, analyze};
use layerscope::report::files::{FilesOptions, file_records};
use layerscope::tree::Change;
use layerscope::tui::action::{Action, Effect, Pane};
use layerscope::tui::app::{App, Input, Overlay};
use layerscope::tui::tree_view::{SortMode, TreeMode};
use layerscope::tui::waste::WasteRow;
use layerscope::tui::{Event, EventSource, keymap, run_loop, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn demo_image() -> layerscope::Image {
    let input = layerscope::Input::Bytes { name: "demo.tar".into(), bytes: Arc::from(layerscope::cli::DEMO_IMAGE) };
    layerscope::load(&input, &Default::default()).unwrap()
}

/// The explorer as it opens: the first layer, what it changed.
fn opened(width: u16, height: u16) -> App {
    let image = demo_image();
    let analysis = analyze(&image, &Options::default());
    App::ready(image, analysis, width, height, false)
}

/// Where most journeys start: the last layer with every path listed (G in the layer list, then
/// U and g in the tree), the layer list focused.
fn app(width: u16, height: u16) -> App {
    at_last_layer_with_every_path(opened(width, height))
}

/// `a` moved to its last layer with every path listed, the layer list focused again.
fn at_last_layer_with_every_path(mut a: App) -> App {
    press(&mut a, "G");
    pause(&mut a);
    press(&mut a, "<tab>Ug<backtab>");
    a
}

/// Keys in a small notation: single characters, or `<tab>`, `<C-a>`, `<enter>`...
fn keys(spec: &str) -> Vec<KeyEvent> {
    let mut out = Vec::new();
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '<' {
            out.push(KeyEvent::new(
                KeyCode::Char(c),
                if c.is_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE },
            ));
            continue;
        }
        let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
        let (code, mods) = match name.as_str() {
            "tab" => (KeyCode::Tab, KeyModifiers::NONE),
            "backtab" => (KeyCode::BackTab, KeyModifiers::SHIFT),
            "enter" => (KeyCode::Enter, KeyModifiers::NONE),
            "esc" => (KeyCode::Esc, KeyModifiers::NONE),
            "bs" => (KeyCode::Backspace, KeyModifiers::NONE),
            "space" => (KeyCode::Char(' '), KeyModifiers::NONE),
            "up" => (KeyCode::Up, KeyModifiers::NONE),
            "down" => (KeyCode::Down, KeyModifiers::NONE),
            "left" => (KeyCode::Left, KeyModifiers::NONE),
            "right" => (KeyCode::Right, KeyModifiers::NONE),
            "pgup" => (KeyCode::PageUp, KeyModifiers::NONE),
            "pgdn" => (KeyCode::PageDown, KeyModifiers::NONE),
            "home" => (KeyCode::Home, KeyModifiers::NONE),
            "end" => (KeyCode::End, KeyModifiers::NONE),
            "C-space" => (KeyCode::Char(' '), KeyModifiers::CONTROL),
            n if n.starts_with("C-") => (KeyCode::Char(n.chars().nth(2).unwrap()), KeyModifiers::CONTROL),
            other => panic!("unknown key {other}"),
        };
        out.push(KeyEvent::new(code, mods));
    }
    out
}

/// Press keys through the keymap, as the terminal loop would. Returns the side effects.
fn press(app: &mut App, spec: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for k in keys(spec) {
        if let Some(action) = keymap::key(k, app.mode()) {
            let done = app.update(action);
            effects.extend(run_jobs(app, done));
        }
    }
    effects
}

/// Run the background jobs among `effects` at once, as the loop would on its threads, and hand
/// their answers back; the other effects are returned.
fn run_jobs(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for effect in effects {
        match effect {
            Effect::Start(job) => app.job_done(layerscope::tui::job::run(&job)),
            other => rest.push(other),
        }
    }
    rest
}

/// What the loop does when the keys pause: catch the tree up, running the jobs that takes.
/// Returns whether there was anything to do.
fn pause(app: &mut App) -> bool {
    let pending = app.has_pending_work();
    let effects = app.idle();
    run_jobs(app, effects);
    pending
}

/// Draw the app as the loop would and return the screen as text.
fn screen(app: &mut App) -> String {
    // As the loop does once the keys pause.
    pause(app);
    let mut terminal = Terminal::new(TestBackend::new(app.width, app.height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    terminal.backend().to_string()
}

fn explorer(app: &App) -> &layerscope::tui::app::Explorer {
    app.explorer().expect("loaded")
}

fn selected_path(app: &App) -> String {
    let e = explorer(app);
    e.image.tree.display_path(e.selected_node().unwrap()).0
}

/// Move the tree cursor to a path (from the tree pane).
fn go_to(app: &mut App, path: &str) {
    press(app, "g");
    for _ in 0..200 {
        if selected_path(app) == path {
            return;
        }
        press(app, "j");
    }
    panic!("{path} not found in the tree");
}

// ---------------------------------------------------------------- snapshots

fn snapshot(name: &str, width: u16, height: u16, spec: &str) {
    let mut a = opened(width, height);
    press(&mut a, spec);
    insta::assert_snapshot!(format!("{name}_{width}x{height}"), screen(&mut a));
}

#[test]
fn snapshots_of_every_pane_and_mode() {
    for (w, h) in [(100, 30), (80, 24)] {
        snapshot("initial", w, h, "");
        snapshot("tree_focused", w, h, "<tab>jj");
        snapshot("aggregated", w, h, "G<C-a><tab>");
        snapshot("last_layer", w, h, "G");
        snapshot("all_paths", w, h, "G<tab>U");
        snapshot("filter", w, h, "/model");
        snapshot("filter_kept", w, h, "/apk<enter>");
        snapshot("sort_by_size", w, h, "s<tab>");
        snapshot("no_attributes", w, h, "<C-b>");
        snapshot("collapsed", w, h, "<tab><space>");
        snapshot("collapse_all", w, h, "<tab><C-space>");
        snapshot("help", w, h, "?");
        snapshot("waste_pane", w, h, "<tab><tab>j");
        snapshot("extract_prompt", w, h, "<tab>x");
        snapshot("wrap", w, h, "<tab><C-p>");
    }
}

#[test]
fn a_container_shows_its_writable_layer_and_the_engines_figures() {
    // The demo image as if its top layer were a container's writable layer.
    let mut image = demo_image();
    let top = image.layers.len() - 1;
    image.origin = Some(layerscope::source::Origin {
        kind: "podman",
        reference: "web".into(),
        address: Some("/usr/bin/podman".into()),
        manifest_digest: None,
        from_cache: false,
        container: Some(layerscope::source::container::ContainerInfo {
            engine: "podman",
            id: "e229a0b0898e2f1ef29eb3edd1ac7cbc99b3d721523fe1354ba4252f4441b547".into(),
            name: "web".into(),
            image_id: "6c998552c9e3".into(),
            image_name: Some("docker.io/library/demo:1".into()),
            storage_driver: Some("overlay".into()),
            upper_dir: Some("/var/lib/containers/storage/overlay/e229/diff".into()),
            writable_layer_from: "upperdir",
            engine_size: Some(image.layers[top].size_bytes),
            engine_virtual_size: Some(image.size_bytes()),
        }),
    });
    let analysis = analyze(&image, &Options::default());
    let mut a = App::ready(image, analysis, 100, 30, false);
    press(&mut a, "G");
    let text = screen(&mut a);
    assert!(text.contains("Layer 4 · container layer"), "{text}");
    assert!(text.contains("Container  web · writable layer"), "{text}");
    insta::assert_snapshot!("container_100x30", text);
    // Clicks in the waste list still land on the row drawn (the container line moved it down).
    press(&mut a, "<tab><tab>");
    let e = explorer(&a);
    assert_eq!(layerscope::tui::app::waste_list_top(e), 8);
}

#[test]
fn compare_mode_shows_both_stacks_and_the_paths_that_differ() {
    use layerscope::tui::compare::{Comparison, LAYERS, PATHS};
    use support::{Image, Layer};
    let base = || Layer::new().dir("usr").file("usr/libc.so", &[7; 40_000]);
    let old = Image::new()
        .tags(&["team/app:1"])
        .layer(base(), "ADD base")
        .layer(Layer::new().dir("app").file("app/main", &[1; 5_000]).file("app/old.cfg", b"x=1\n"), "COPY app");
    let new = Image::new()
        .tags(&["team/app:2"])
        .layer(base(), "ADD base")
        .layer(Layer::new().dir("app").file("app/main", &[2; 9_000]).file("app/new.cfg", b"y=2\n"), "COPY app")
        .layer(Layer::new().file("app/extra", &[3; 100]), "COPY extra");
    let (old, new) = (support::load(old.docker_archive()), support::load(new.docker_archive()));
    let (oa, na) = (analyze(&old, &Options::default()), analyze(&new, &Options::default()));
    let diff = layerscope::analysis::diff::compare((&old, &oa), (&new, &na));
    let mut a = App::loading("old.tar → new.tar", 100, 30, false);
    let comparison =
        Comparison::new(("old.tar · team/app:1".into(), &old), ("new.tar · team/app:2".into(), &new), diff);
    a.computed(layerscope::tui::Computed::Comparison(Box::new(comparison)));
    let text = screen(&mut a);
    assert!(text.contains("=  0") && text.contains("│  2     100 B"), "{text}");
    insta::assert_snapshot!("compare_100x30", text);
    let compared = |a: &App| match &a.phase {
        layerscope::tui::app::Phase::Comparing(c) => (c.lists.focus, c.lists.cursor[PATHS], c.lists.cursor[LAYERS]),
        _ => panic!("not comparing"),
    };
    assert_eq!(compared(&a), (PATHS, 0, 0), "it opens on the paths, the largest change first");
    press(&mut a, "jj");
    assert_eq!(compared(&a), (PATHS, 2, 0));
    press(&mut a, "<tab>G");
    assert_eq!(compared(&a), (LAYERS, 2, 2), "the layer rows: the longer stack's");
    // By name: a tree, folders carrying the change below them.
    press(&mut a, "<tab>s");
    let text = screen(&mut a);
    assert!(text.contains("by name") && text.contains("+4.1 kB        app/") && text.contains("    extra"), "{text}");
    insta::assert_snapshot!("compare_by_name_100x30", text);
    press(&mut a, "q");
    assert!(a.quit);
}

#[test]
fn disk_mode_shows_the_images_and_marks_shared_layers() {
    use layerscope::tui::disk::{DiskView, IMAGES, LAYERS};
    use support::{Image, Layer};
    let base = || Layer::new().dir("usr").file("usr/libc.so", &[7; 40_000]);
    let api = Image::new()
        .tags(&["team/api:1"])
        .layer(base(), "ADD base")
        .layer(Layer::new().file("api", &[1; 5_000]), "COPY api");
    let web = Image::new()
        .tags(&["team/web:1"])
        .layer(base(), "ADD base")
        .layer(Layer::new().file("web", &[2; 3_000]), "COPY web")
        .layer(Layer::new().file("web2", &[2; 300]), "COPY more");
    let (api, web) = (support::load(api.docker_archive()), support::load(web.docker_archive()));
    let view = DiskView::new(&[("team/api:1".into(), &api), ("team/web:1".into(), &web)]);
    let mut a = App::loading("api.tar web.tar", 100, 30, false);
    a.computed(layerscope::tui::Computed::Disk(Box::new(view)));
    let text = screen(&mut a);
    assert!(text.contains("On disk") && text.contains("=1     0"), "{text}");
    insta::assert_snapshot!("disk_100x30", text);
    let lists = |a: &App| match &a.phase {
        layerscope::tui::app::Phase::Disk(d) => d.lists,
        _ => panic!("not in disk mode"),
    };
    press(&mut a, "<tab>G");
    assert_eq!((lists(&a).focus, lists(&a).cursor[LAYERS]), (LAYERS, 1));
    press(&mut a, "<tab>j");
    assert_eq!(lists(&a).cursor, [1, 0], "another image: its layers from the top");
    assert_eq!(lists(&a).focus, IMAGES);
    press(&mut a, "<tab>G");
    assert_eq!(lists(&a).cursor[LAYERS], 2, "web has three layers");
}

#[test]
fn snapshots_of_the_viewer() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    go_to(&mut a, "/app/main.py");
    press(&mut a, "v");
    insta::assert_snapshot!("viewer_text_100x30", screen(&mut a));
    press(&mut a, "q");
    go_to(&mut a, "/app/data/model.bin");
    press(&mut a, "v");
    insta::assert_snapshot!("viewer_hex_100x30", screen(&mut a));
}

#[test]
fn snapshot_of_a_narrow_terminal() {
    snapshot("narrow", 60, 20, "");
    snapshot("narrow_tree", 60, 20, "<tab>");
}

#[test]
fn snapshot_of_the_loading_view() {
    let mut a = App::loading("big-image.tar", 80, 24, false);
    let progress = Arc::new(layerscope::layer::Progress::new(&[1_000_000, 4_000_000, 500]));
    progress.bytes_read[0].store(1_000_000, Ordering::Relaxed);
    progress.done[0].store(true, Ordering::Relaxed);
    progress.bytes_read[1].store(1_000_000, Ordering::Relaxed);
    a.progress(progress);
    insta::assert_snapshot!("loading_80x24", screen(&mut a));
}

#[test]
fn the_loading_view_shows_a_pull_blob_by_blob() {
    use layerscope::source::{BlobProgress, BlobState, Transfer};
    let mut a = App::loading("registry://ghcr.io/acme/app:1", 100, 24, false);
    let transfer = Arc::new(Transfer::default());
    transfer.step("downloading 5.0 MB from https://ghcr.io");
    let blobs: Vec<Arc<BlobProgress>> = [("config", 1_000), ("layer 0", 3_000_000), ("layer 1", 2_000_000)]
        .iter()
        .map(|(label, size)| Arc::new(BlobProgress::new(*label, "sha256:00", *size)))
        .collect();
    blobs[0].set(BlobState::Cached);
    blobs[1].set(BlobState::Downloading);
    blobs[1].done.store(1_500_000, Ordering::Relaxed);
    *transfer.blobs.lock().unwrap() = blobs;
    a.transfer(Arc::clone(&transfer));
    let text = screen(&mut a);
    assert!(text.contains("downloading 5.0 MB from https://ghcr.io…"), "{text}");
    assert!(text.contains("1.5 MB of 5.0 MB"), "{text}");
    assert!(text.contains("1 of 3 blobs ready (1 from the cache)"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let row = |label: &str| lines.iter().position(|l| l.contains(label)).unwrap();
    // The moving blob first, then the waiting one, the cached one last.
    assert!(row("layer 0") < row("layer 1") && row("layer 1") < row("config"), "{text}");
    assert!(lines[row("layer 0")].contains(" 50 % of"), "{text}");
    assert!(lines[row("config")].contains("cached"), "{text}");
    assert!(lines[row("layer 1")].contains("waiting"), "{text}");
    // Once the layers are read, the reading progress takes over.
    a.progress(Arc::new(layerscope::layer::Progress::new(&[3_000_000, 2_000_000])));
    assert!(screen(&mut a).contains("reading layers…"));
}

// ---------------------------------------------------------------- journeys

#[test]
fn q_and_ctrl_c_quit() {
    let mut a = app(100, 30);
    press(&mut a, "q");
    assert!(a.quit, "q quits");
    let mut a = app(100, 30);
    press(&mut a, "<tab>/x<C-c>");
    assert!(a.quit, "Ctrl+C quits even while typing");
}

#[test]
fn tab_cycles_the_panes() {
    let mut a = app(100, 30);
    assert_eq!(explorer(&a).focus, Pane::Layers, "it starts on the layers");
    press(&mut a, "<tab>");
    assert_eq!(explorer(&a).focus, Pane::Tree);
    press(&mut a, "<tab>");
    assert_eq!(explorer(&a).focus, Pane::Waste);
    press(&mut a, "<tab>");
    assert_eq!(explorer(&a).focus, Pane::Layers, "it wraps around");
    press(&mut a, "<backtab>");
    assert_eq!(explorer(&a).focus, Pane::Waste, "Shift+Tab goes back");
}

#[test]
fn layer_list_moves_select_layers() {
    let mut a = app(100, 30);
    assert_eq!(explorer(&a).view.layer, 4, "it starts on the last layer");
    press(&mut a, "k");
    assert_eq!(explorer(&a).view.layer, 3);
    press(&mut a, "<up>");
    assert_eq!(explorer(&a).view.layer, 2);
    press(&mut a, "g");
    assert_eq!(explorer(&a).view.layer, 0);
    press(&mut a, "<end>");
    assert_eq!(explorer(&a).view.layer, 4);
    press(&mut a, "<home>j<down>");
    assert_eq!(explorer(&a).view.layer, 2);
    press(&mut a, "<pgdn>");
    assert_eq!(explorer(&a).view.layer, 4, "a page down stops at the last layer");
    press(&mut a, "<pgup>");
    assert_eq!(explorer(&a).view.layer, 0);
    press(&mut a, "G");
    assert_eq!(explorer(&a).view.layer, 4);
}

/// The demo explorer computing every tree view in the background, as on a big image.
fn in_background(mut a: App) -> App {
    a.explorer_mut().unwrap().background_from = 0;
    a
}

/// The one job among `effects`.
fn one_job(effects: Vec<Effect>) -> layerscope::tui::job::Job {
    match <[Effect; 1]>::try_from(effects) {
        Ok([Effect::Start(job)]) => job,
        other => panic!("one job expected: {other:?}"),
    }
}

#[test]
fn on_a_big_image_tree_views_come_from_a_background_job_and_the_newest_wins() {
    let mut a = in_background(app(100, 30));
    let mut b = app(100, 30);
    press(&mut a, "<tab>j");
    press(&mut b, "<tab>j");
    let rows_before = explorer(&a).rows.rows.clone();
    let first = one_job(a.update(Action::ToggleChange(Change::Removed)));
    let e = explorer(&a);
    assert!(e.tree_stale() && e.tree_updating());
    assert_eq!(e.rows.rows, rows_before, "the tree shown stays until the new one is there");
    assert!(!a.has_pending_work(), "a pause starts nothing more: the job is on its way");
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    terminal.draw(|f| view::draw(f, &a)).unwrap();
    assert!(terminal.backend().to_string().contains("updating…"));
    // Keys still work on the tree shown.
    press(&mut a, "j");
    press(&mut b, "j");
    let selected = explorer(&a).selected_node();
    let second = one_job(a.update(Action::ToggleSort));
    assert!(first.stop.load(Ordering::Relaxed), "the replaced job is told to stop");
    a.job_done(layerscope::tui::job::run(&first));
    assert!(explorer(&a).tree_stale(), "a replaced job's answer is not taken");
    a.job_done(layerscope::tui::job::run(&second));
    b.update(Action::ToggleChange(Change::Removed));
    b.update(Action::ToggleSort);
    let (ea, eb) = (explorer(&a), explorer(&b));
    assert!(!ea.tree_stale() && !ea.tree_updating());
    assert_eq!(ea.rows.sort, SortMode::Size);
    assert_eq!(ea.rows.rows, eb.rows.rows, "the same rows as computed at once");
    assert_eq!(ea.cursor, eb.cursor);
    assert_eq!(ea.selected_node(), selected, "the cursor stays on the node it was on");
}

#[test]
fn in_the_background_layer_moves_wait_for_a_pause_and_folds_made_meanwhile_hold() {
    let mut a = in_background(app(100, 30));
    press(&mut a, "kk");
    assert!(a.has_pending_work());
    let job = one_job(a.idle());
    assert!(!a.has_pending_work(), "one job at a time");
    // Fold the first directory of the tree shown while the job runs.
    press(&mut a, "<tab>g<space>");
    let folded = explorer(&a).selected_node().unwrap();
    a.job_done(layerscope::tui::job::run(&job));
    let e = explorer(&a);
    assert_eq!(e.marks.view.layer, 2);
    assert!(!e.tree_stale());
    assert!(e.is_collapsed(folded));
    let row = e.rows.position(folded).unwrap();
    assert!(e.rows.rows.get(row + 1).is_none_or(|r| r.parent_row as usize != row), "its rows stay folded");
}

#[test]
fn folding_and_opening_a_directory_splices_the_rows_a_rebuild_would_make() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>/e<enter>");
    let dirs: Vec<usize> = {
        let e = explorer(&a);
        (0..e.rows.rows.len()).filter(|&i| e.rows.rows.get(i + 1).is_some_and(|r| r.parent_row as usize == i)).collect()
    };
    assert!(dirs.len() >= 3, "the demo has nested directories: {dirs:?}");
    for &dir in dirs.iter().rev() {
        for keys in ["<space>", "<space>"] {
            press(&mut a, "g");
            for _ in 0..dir {
                press(&mut a, "j");
            }
            press(&mut a, keys);
            let spliced = (explorer(&a).rows.rows.clone(), explorer(&a).rows.matches.clone(), explorer(&a).cursor);
            // Sorting twice rebuilds the rows from scratch.
            press(&mut a, "ss");
            let e = explorer(&a);
            assert_eq!(spliced, (e.rows.rows.clone(), e.rows.matches.clone(), e.cursor), "row {dir}");
        }
    }
}

#[test]
fn the_tree_follows_layer_moves_when_the_keys_pause() {
    let mut a = app(100, 30);
    press(&mut a, "kk");
    let e = explorer(&a);
    assert_eq!(e.view.layer, 2, "the layer list moves at once");
    assert!(e.tree_stale(), "the tree catches up later");
    assert_eq!(e.marks.view.layer, 4, "and still shows the layer it shows");
    assert!(pause(&mut a), "a pause brings it up to date");
    assert_eq!(explorer(&a).marks.view.layer, 2);
    assert!(!pause(&mut a), "nothing left to do");
    press(&mut a, "k<tab>");
    assert_eq!(explorer(&a).marks.view.layer, 1, "any other key brings it up to date first");
}

#[test]
fn layer_and_aggregated_views() {
    let mut a = app(100, 30);
    press(&mut a, "<C-a>");
    assert_eq!(explorer(&a).view.mode, TreeMode::Aggregated, "Ctrl+A in the layer list aggregates");
    // /etc/motd was rewritten in layer 3: modified in the aggregated view of layer 4 ...
    let e = explorer(&a);
    let motd = e.image.tree.lookup(b"etc/motd").unwrap();
    assert_eq!(e.marks.change(motd), Some(Change::Modified));
    press(&mut a, "<C-l>");
    let e = explorer(&a);
    assert_eq!(e.view.mode, TreeMode::Layer);
    assert_eq!(e.marks.change(motd), Some(Change::Unchanged), "... and untouched by layer 4 itself");
}

#[test]
fn aggregated_tree_of_the_last_layer_equals_files_output() {
    let mut a = app(100, 30);
    press(&mut a, "<C-a>");
    let e = explorer(&a);
    let shown: Vec<String> = e
        .rows
        .rows
        .iter()
        .filter(|r| e.marks.change(r.node) != Some(Change::Removed))
        .map(|r| e.image.tree.display_path(r.node).0)
        .collect();
    let mut shown_sorted = shown.clone();
    shown_sorted.sort();
    let files: Vec<String> =
        file_records(&e.image, FilesOptions { layer: None, changes_only: false }).into_iter().map(|r| r.path).collect();
    assert_eq!(shown_sorted, files);
}

#[test]
fn tree_moves_and_folds() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    assert_eq!(selected_path(&a), "/app");
    press(&mut a, "j");
    assert_eq!(selected_path(&a), "/app/data");
    press(&mut a, "<left>");
    assert_eq!(selected_path(&a), "/app/data", "← on an open directory collapses it");
    assert!(explorer(&a).is_collapsed(explorer(&a).selected_node().unwrap()));
    press(&mut a, "h");
    assert_eq!(selected_path(&a), "/app", "← on a collapsed directory goes to the parent");
    press(&mut a, "jl");
    assert!(!explorer(&a).is_collapsed(explorer(&a).selected_node().unwrap()), "→ expands");
    press(&mut a, "l");
    assert_eq!(selected_path(&a), "/app/data/model-copy.bin", "→ on an open directory enters it");
    press(&mut a, "kk<space>");
    assert!(explorer(&a).is_collapsed(explorer(&a).selected_node().unwrap()), "Space collapses");
    press(&mut a, "<space>");
    assert!(!explorer(&a).is_collapsed(explorer(&a).selected_node().unwrap()), "Space expands");
    let all = explorer(&a).rows.rows.len();
    press(&mut a, "<C-space>");
    let top_level = explorer(&a).rows.rows.len();
    assert!(top_level < all, "Ctrl+Space collapses all ({top_level} < {all})");
    assert!(explorer(&a).rows.rows.iter().all(|r| r.depth == 1));
    press(&mut a, "<C-space>");
    assert_eq!(explorer(&a).rows.rows.len(), all, "and expands all again");
    press(&mut a, "G");
    assert_eq!(explorer(&a).cursor, all - 1);
    press(&mut a, "g");
    assert_eq!(explorer(&a).cursor, 0);
    press(&mut a, "<pgdn>");
    assert!(explorer(&a).cursor > 1);
    press(&mut a, "<pgup>");
    assert_eq!(explorer(&a).cursor, 0);
    press(&mut a, "<enter>");
    assert!(explorer(&a).is_collapsed(explorer(&a).selected_node().unwrap()), "Enter folds a directory");
}

#[test]
fn change_kinds_can_be_hidden() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    let all = explorer(&a).rows.rows.len();
    for (spec, kind) in [
        ("<C-a>", Change::Added),
        ("<C-r>", Change::Removed),
        ("<C-m>", Change::Modified),
        ("<C-t>", Change::MetadataOnly),
        ("<C-u>", Change::Unchanged),
    ] {
        press(&mut a, spec);
        assert!(explorer(&a).view.hidden.contains(kind), "{spec} hides {kind:?}");
        press(&mut a, spec);
        assert!(!explorer(&a).view.hidden.contains(kind), "{spec} again shows {kind:?}");
    }
    for (spec, kind) in [
        ("A", Change::Added),
        ("R", Change::Removed),
        ("M", Change::Modified),
        ("T", Change::MetadataOnly),
        ("U", Change::Unchanged),
    ] {
        press(&mut a, spec);
        assert!(explorer(&a).view.hidden.contains(kind), "{spec} hides {kind:?}");
        press(&mut a, spec);
    }
    press(&mut a, "<C-u>");
    let e = explorer(&a);
    assert!(e.rows.rows.len() < all);
    // What is left is a change of layer 4, or a directory holding one.
    for r in &e.rows.rows {
        let c = e.marks.change(r.node).unwrap();
        assert!(c != Change::Unchanged || e.marks.has_shown_children(r.node));
    }
}

#[test]
fn filter_is_live_and_n_jumps_between_matches() {
    let mut a = app(100, 30);
    press(&mut a, "/apk");
    let e = explorer(&a);
    assert!(matches!(e.input, Some(Input::Filter)));
    assert_eq!(e.view.filter, "apk");
    assert_eq!(e.rows.matches.len(), 3, "/var/cache/apk and its two removed files");
    press(&mut a, "<enter>");
    assert!(explorer(&a).input.is_none(), "Enter keeps the filter and closes the input");
    assert_eq!(explorer(&a).focus, Pane::Tree);
    let first = explorer(&a).cursor;
    press(&mut a, "n");
    assert_ne!(explorer(&a).cursor, first, "n goes to the next match");
    press(&mut a, "N");
    assert_eq!(explorer(&a).cursor, first, "N goes back");
    press(&mut a, "/<bs><bs><bs>[");
    assert!(explorer(&a).filter_is_literal, "an invalid regex is matched as plain text");
    press(&mut a, "<esc>");
    let e = explorer(&a);
    assert!(e.view.filter.is_empty() && e.input.is_none(), "Esc clears the filter");
    press(&mut a, "<C-f>model<enter><esc>");
    assert!(explorer(&a).view.filter.is_empty(), "Ctrl+F opens it too; Esc clears a kept filter");
}

#[test]
fn sort_attributes_and_wrap_toggle() {
    let mut a = app(100, 30);
    press(&mut a, "s");
    assert_eq!(explorer(&a).sort, SortMode::Size);
    let e = explorer(&a);
    let top: Vec<u64> = e.rows.rows.iter().filter(|r| r.depth == 1).map(|r| e.marks.size(r.node)).collect();
    assert!(top.windows(2).all(|w| w[0] >= w[1]), "largest first: {top:?}");
    press(&mut a, "<C-o>");
    assert_eq!(explorer(&a).sort, SortMode::Name);
    press(&mut a, "<C-b>");
    assert!(!explorer(&a).attributes);
    press(&mut a, "<C-p>");
    assert!(explorer(&a).wrap);
}

#[test]
fn enter_on_a_waste_entry_jumps_to_where_it_was_shipped() {
    let mut a = app(100, 30);
    press(&mut a, "<tab><tab>");
    assert_eq!(explorer(&a).focus, Pane::Waste);
    // The list starts with the sources, closed; Enter opens one onto its paths and shows its fix.
    let e = explorer(&a);
    assert!(e.waste.rows.iter().all(|r| matches!(r, WasteRow::Source(_))), "{:?}", e.waste.rows);
    assert_eq!(e.waste.rows.len(), e.analysis.waste_sources.len());
    press(&mut a, "<enter>");
    let e = explorer(&a);
    let fix = &e.analysis.waste_sources[0].fix;
    assert_eq!(e.message.as_ref().map(|m| m.text.clone()), Some(format!("fix: {fix}")));
    let first = e.waste.paths_of(0)[0];
    assert_eq!(e.waste.rows[1], WasteRow::Path(first));
    press(&mut a, "j<enter>");
    let e = explorer(&a);
    let w = &e.analysis.top_waste[first];
    assert_eq!(e.focus, Pane::Tree);
    assert_eq!(e.view.layer, w.shipped_by[0]);
    assert_eq!(selected_path(&a), w.path);
}

#[test]
fn every_wasted_path_is_under_one_source_and_the_sources_add_up() {
    for image in [demo_image(), support::load(support::dpkg_archive())] {
        let analysis = analyze(&image, &Options { top: Some(usize::MAX), ..Options::default() });
        let mut a = App::ready(image, analysis, 100, 30, false);
        let e = a.explorer_mut().unwrap();
        // Open every source.
        while let Some(at) = e.waste.rows.iter().position(|r| matches!(r, WasteRow::Source(s) if !e.waste.is_open(*s)))
        {
            e.waste.toggle(at);
        }
        let mut listed: Vec<usize> =
            e.waste.rows.iter().filter_map(|r| if let WasteRow::Path(p) = r { Some(*p) } else { None }).collect();
        listed.sort_unstable();
        assert_eq!(listed, (0..e.analysis.top_waste.len()).collect::<Vec<_>>(), "each path once");
        let sources: u64 = e.analysis.waste_sources.iter().map(|s| s.bytes).sum();
        assert_eq!(sources, e.analysis.wasted_bytes);
    }
}

#[test]
fn v_views_a_file_and_q_closes_it() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    go_to(&mut a, "/app/main.py");
    press(&mut a, "v");
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("no viewer") };
    assert!(!v.binary);
    assert!(v.line(0).starts_with("#!/usr/bin/env python3"));
    press(&mut a, "jG");
    press(&mut a, "q");
    assert!(explorer(&a).overlay.is_none());
    go_to(&mut a, "/bin");
    press(&mut a, "v");
    assert!(explorer(&a).message.as_ref().unwrap().error, "a directory cannot be viewed");
}

#[test]
fn viewer_pages_through_large_files() {
    let big: Vec<u8> = (0..700_000u32).flat_map(|i| format!("line {i}\n").into_bytes()).take(600_000).collect();
    let img = support::Image::new().layer(support::Layer::new().file("big.txt", &big), "add");
    let image = support::load(img.oci_archive(support::Comp::Gzip));
    let analysis = analyze(&image, &Options::default());
    let mut a = App::ready(image, analysis, 100, 30, false);
    press(&mut a, "<tab>v");
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("no viewer") };
    assert_eq!((v.chunk, v.has_next_chunk()), (0, true), "only the first part is read");
    press(&mut a, "G");
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("no viewer") };
    assert_eq!(v.chunk, 2, "G reads the last part");
    press(&mut a, "g");
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("no viewer") };
    assert_eq!(v.chunk, 0);
}

#[test]
fn x_extracts_into_the_directory_typed() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    go_to(&mut a, "/app/data");
    press(&mut a, "x");
    assert!(matches!(explorer(&a).input, Some(Input::Extract { .. })));
    press(&mut a, "<bs>");
    press(&mut a, dir.path().to_str().unwrap());
    press(&mut a, "<enter>");
    let m = explorer(&a).message.clone().unwrap();
    assert!(!m.error, "{}", m.text);
    assert!(m.text.contains("3 files"), "{}", m.text);
    assert_eq!(std::fs::read(dir.path().join("data/settings.json")).unwrap(), b"{\"debug\": false, \"port\": 8080}\n");
    // Again: nothing is overwritten.
    press(&mut a, "x<bs>");
    press(&mut a, dir.path().to_str().unwrap());
    press(&mut a, "<enter>");
    assert!(explorer(&a).message.as_ref().unwrap().text.contains("skipped"));
    // Esc cancels.
    press(&mut a, "<C-e><esc>");
    assert!(explorer(&a).input.is_none());
}

#[test]
fn y_copies_the_path() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>j");
    let effects = press(&mut a, "y");
    assert_eq!(effects, [Effect::Copy("/app/data".into())]);
}

#[test]
fn help_opens_and_closes() {
    let mut a = app(100, 30);
    press(&mut a, "?");
    assert!(matches!(explorer(&a).overlay, Some(Overlay::Help)));
    press(&mut a, "j");
    assert_eq!(explorer(&a).help_offset, 1, "the help scrolls");
    press(&mut a, "<esc>");
    assert!(explorer(&a).overlay.is_none());
}

#[test]
fn mouse_clicks_and_wheel() {
    let mut a = app(100, 30);
    let panes = a.panes();
    // Click the row of layer 1 (layer 0, its CMD step, then layer 1).
    a.update(Action::Click { column: panes.layers.x + 3, row: panes.layers.y + 4 });
    assert_eq!(explorer(&a).view.layer, 1);
    a.update(Action::Click { column: panes.tree.x + 5, row: panes.tree.y + 3 + 2 });
    assert_eq!(explorer(&a).focus, Pane::Tree);
    assert_eq!(explorer(&a).cursor, 2);
    a.update(Action::Scroll { column: panes.tree.x + 5, row: panes.tree.y + 5, down: true });
    assert_eq!(explorer(&a).cursor, 3);
    let m = MouseEvent { kind: MouseEventKind::ScrollUp, column: 50, row: 10, modifiers: KeyModifiers::NONE };
    assert_eq!(keymap::mouse(m), Some(Action::Scroll { column: 50, row: 10, down: false }));
    let m =
        MouseEvent { kind: MouseEventKind::Down(MouseButton::Left), column: 1, row: 2, modifiers: KeyModifiers::NONE };
    assert_eq!(keymap::mouse(m), Some(Action::Click { column: 1, row: 2 }));
}

#[test]
fn resize_redraws_at_the_new_size() {
    let mut a = app(100, 30);
    a.update(Action::Resize { width: 70, height: 20 });
    assert_eq!((a.width, a.height), (70, 20));
    assert!(a.panes().narrow);
    assert_eq!(screen(&mut a).lines().count(), 20);
}

/// Scripted events for the real loop.
struct Script(Vec<Event>);

impl EventSource for Script {
    fn next(&mut self, _app: &App, _timeout: Duration) -> Option<Event> {
        if self.0.is_empty() { None } else { Some(self.0.remove(0)) }
    }
}

#[test]
fn the_loop_loads_then_explores() {
    let image = demo_image();
    let analysis = analyze(&image, &Options::default());
    let mut a = App::loading("demo.tar", 100, 30, false);
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut script = Script(vec![
        Event::Progress(Arc::new(layerscope::layer::Progress::new(&[10, 20]))),
        Event::Analysing,
        Event::Loaded(Box::new((image, analysis))),
        Event::Action(Action::FocusNext),
        Event::Action(Action::CopyPath),
        Event::Action(Action::Quit),
    ]);
    let mut copied = Vec::new();
    run_loop(&mut terminal, &mut a, &mut script, &mut |e| copied.push(e)).unwrap();
    assert!(a.quit);
    // It opens on layer 0, whose first change is /bin.
    assert_eq!(copied, [Effect::Copy("/bin".into())]);
    assert!(terminal.backend().to_string().contains("Filetree"));

    let mut a = App::loading("x.tar", 80, 24, false);
    let mut script = Script(vec![Event::Failed("x.tar is not an image".into())]);
    run_loop(&mut terminal, &mut a, &mut script, &mut |_| {}).unwrap();
    assert!(a.quit, "a load failure ends the loop");
}

/// Explorer of an image built in code.
/// `image` in the explorer, at its last layer with every path listed (as [`app`]).
fn app_of(image: support::Image, width: u16, height: u16) -> App {
    let image = support::load(image.docker_archive());
    let analysis = analyze(&image, &Options::default());
    at_last_layer_with_every_path(App::ready(image, analysis, width, height, false))
}

/// The size the tree shows for `path`, and the sizes of the file rows listed below it (once the
/// keys pause and the tree has caught up).
fn dir_size_and_listed_files(app: &mut App, path: &str) -> (u64, Vec<u64>) {
    pause(app);
    let e = explorer(app);
    let tree = &e.image.tree;
    let node = tree.lookup(path.trim_start_matches('/').as_bytes()).unwrap();
    let below = |n| {
        let mut p = n;
        while p != layerscope::tree::NodeId::ROOT {
            p = tree.parent(p);
            if p == node {
                return true;
            }
        }
        false
    };
    let files: Vec<u64> = e
        .rows
        .rows
        .iter()
        .filter(|r| below(r.node) && !layerscope::tui::tree_view::is_dir(tree, &e.marks, r.node))
        .map(|r| e.marks.size(r.node))
        .collect();
    (e.marks.size(node), files)
}

#[test]
fn directory_sizes_add_up_the_files_listed_below_them() {
    let debs = |l: support::Layer| {
        l.dir("var")
            .dir("var/cache")
            .dir("var/cache/apt")
            .file("var/cache/apt/a.deb", &[1; 3000])
            .file("var/cache/apt/b.deb", &[2; 4000])
    };
    let image = support::Image::new()
        .layer(debs(support::Layer::new()).file("var/cache/apt/keep", &[3; 500]), "/bin/sh -c apt-get install")
        .layer(
            support::Layer::new()
                .dir("var")
                .dir("var/cache")
                .dir("var/cache/apt")
                .whiteout("var/cache/apt/a.deb")
                .whiteout("var/cache/apt/b.deb"),
            "/bin/sh -c apt-get clean",
        );
    let mut a = app_of(image, 100, 30);
    // Layer 1 (apt-get clean): the removed .debs are listed, struck through, and counted.
    let (dir, files) = dir_size_and_listed_files(&mut a, "/var/cache/apt");
    assert_eq!(files.iter().sum::<u64>(), dir, "the directory sums the files listed below it");
    assert_eq!(dir, 7500);
    // Hide the removed kind: what is listed still adds up.
    press(&mut a, "<tab>R");
    let (dir, files) = dir_size_and_listed_files(&mut a, "/var/cache/apt");
    assert_eq!((dir, files.iter().sum::<u64>()), (500, 500));
    // A filter narrows both.
    press(&mut a, "R/keep<enter>");
    let (dir, files) = dir_size_and_listed_files(&mut a, "/var/cache/apt");
    assert_eq!((dir, files), (500, vec![500]));
}

#[test]
fn a_hard_link_counts_once_in_its_directory_until_its_target_changes() {
    let image = support::Image::new()
        .layer(
            support::Layer::new().dir("bin").file("bin/busybox", &[9; 1000]).hardlink("bin/ls", "bin/busybox"),
            "/bin/sh -c #(nop) ADD file:x in / ",
        )
        .layer(support::Layer::new().dir("bin").file("bin/busybox", &[8; 200]), "/bin/sh -c upgrade");
    let mut a = app_of(image, 100, 30);
    // Layer 1: busybox rewritten, ls keeps the old 1000 bytes on its own: both count, and ls is
    // drawn as the plain file it now is.
    press(&mut a, "<C-a>");
    let (dir, files) = dir_size_and_listed_files(&mut a, "/bin");
    assert_eq!((dir, files.iter().sum::<u64>()), (1200, 1200));
    let screen_now = screen(&mut a);
    assert!(screen_now.contains("└── ls ") && !screen_now.contains("ls ⇒"), "{screen_now}");
    // Layer 0: ls is a link to busybox; its bytes are busybox's, counted once.
    press(&mut a, "<up>");
    let (dir, _) = dir_size_and_listed_files(&mut a, "/bin");
    assert_eq!(dir, 1000);
    let screen = screen(&mut a);
    assert!(screen.contains("└── ls ⇒ /bin/busyb"), "{screen}");
    // Filtered so that only the link is listed: its bytes count where it is.
    press(&mut a, "<tab>/ls$<enter>");
    let (dir, files) = dir_size_and_listed_files(&mut a, "/bin");
    assert_eq!((dir, files), (1000, vec![1000]));
}

#[test]
fn warnings_show_in_the_image_pane_and_w_lists_them() {
    let image = support::Image::new()
        .layer(support::Layer::new().dir("etc").file("etc/a", b"a"), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(support::Layer::new().dir("etc").whiteout("etc/never-there"), "/bin/sh -c rm -f /etc/never-there");
    let mut a = app_of(image, 100, 30);
    let first = screen(&mut a);
    assert!(first.contains("Warning    1 warning (w lists them)"), "{first}");
    press(&mut a, "w");
    assert!(matches!(explorer(&a).overlay, Some(Overlay::Warnings)));
    let listed = screen(&mut a);
    assert!(listed.contains("1 warning found while reading"), "{listed}");
    assert!(listed.contains("layer 1: a whiteout deletes /etc/never-there, which no lower layer has"), "{listed}");
    press(&mut a, "<esc>");
    assert!(explorer(&a).overlay.is_none());
    // An image without warnings says so instead of opening an empty list.
    let mut a = app(100, 30);
    press(&mut a, "w");
    assert!(explorer(&a).overlay.is_none());
    assert!(explorer(&a).message.as_ref().unwrap().text.contains("no warnings"));
    assert!(!screen(&mut a).contains("Warning "));
}

#[test]
fn names_that_drive_a_terminal_are_drawn_escaped() {
    let nasty = "x\x1b[2J\x1b]52;c;aGk=\x07\u{202e}y";
    let image = support::Image::new().layer(
        support::Layer::new().dir("etc").file(&format!("etc/{nasty}"), b"data"),
        &format!("/bin/sh -c echo {nasty}"),
    );
    let mut a = app_of(image, 100, 30);
    press(&mut a, "<tab>");
    let screen = screen(&mut a);
    for bad in ['\x1b', '\x07', '\u{202e}'] {
        assert!(!screen.contains(bad), "{bad:?} drawn raw:\n{screen}");
    }
    assert!(screen.contains("x\\x1b[2J"), "{screen}");
}

#[test]
fn a_30_mb_command_is_cut_once_not_per_frame() {
    let command = format!("/bin/sh -c echo {}", "a".repeat(30 << 20));
    let image = support::Image::new().layer(support::Layer::new().file("a", b"a"), &command);
    let mut a = app_of(image, 100, 30);
    let kept = &explorer(&a).commands[0];
    assert!(kept.chars().count() <= layerscope::tui::app::COMMAND_SHOWN + 1, "{} chars kept", kept.len());
    assert!(kept.ends_with('…'));
    // Drawing and moving touch only the kept text.
    press(&mut a, "jk");
    assert!(screen(&mut a).contains("echo aaaa"));
}

#[test]
fn it_opens_on_the_first_layer_showing_what_it_changed() {
    let mut a = opened(100, 30);
    let e = explorer(&a);
    assert_eq!(e.view.layer, 0, "the base layer, as dive opens");
    assert!(e.view.hidden.contains(Change::Unchanged), "only what the layer changed");
    // Layer 4 changed 16 paths; its tree lists those (and their parent directories), not all 42.
    press(&mut a, "G");
    pause(&mut a);
    let text = screen(&mut a);
    assert!(text.contains("Layer 4 · what it changed (U: all paths)"), "{text}");
    let e = explorer(&a);
    assert!(
        e.rows
            .rows
            .iter()
            .all(|r| e.marks.change(r.node) != Some(Change::Unchanged) || !e.image.tree.children(r.node).is_empty()),
        "unchanged files are hidden"
    );
    let changed = e.rows.rows.len();
    press(&mut a, "<tab>U");
    let text = screen(&mut a);
    assert!(text.contains("Layer 4 · every path, its changes coloured"), "{text}");
    assert!(explorer(&a).rows.rows.len() > changed, "U lists the unchanged paths too");
}

#[test]
fn every_list_shows_its_position_and_scroll_marks() {
    // 100×20: the layer list has room for 3 of its 7 lines.
    let mut a = opened(100, 20);
    let text = screen(&mut a);
    let lines: Vec<&str> = text.lines().collect();
    let panes = a.panes();
    let bottom = lines[usize::from(panes.layers.y + panes.layers.height - 1)];
    assert!(bottom.contains(" 1/5 "), "the layer list's position: {text}");
    assert!(text.contains('▼') && !lines[usize::from(panes.layers.y + 2)].contains('▲'), "more below only: {text}");
    press(&mut a, "G");
    let text = screen(&mut a);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[usize::from(panes.layers.y + panes.layers.height - 1)].contains(" 5/5 "), "{text}");
    assert!(lines[usize::from(panes.layers.y + 2)].contains('▲'), "more above once scrolled: {text}");
}

#[test]
fn a_click_in_the_scrolled_waste_list_selects_the_row_clicked() {
    let mut a = app(100, 30);
    press(&mut a, "<tab><tab>");
    assert_eq!(explorer(&a).focus, Pane::Waste);
    // Every source opened, from the last up (rows below a source move when it opens).
    let sources = explorer(&a).waste.rows.len();
    for _ in 0..sources {
        press(&mut a, "k");
    }
    for i in (0..sources).rev() {
        press(&mut a, "g");
        for _ in 0..i {
            press(&mut a, "j");
        }
        press(&mut a, "<enter>");
    }
    let panes = a.panes();
    let e = explorer(&a);
    let room = e.waste_rows(&panes);
    let total = e.waste.rows.len();
    assert!(total > room, "the demo's list ({total}) must not fit its pane ({room})");
    press(&mut a, "G");
    let e = explorer(&a);
    assert_eq!(e.waste_cursor, total - 1);
    let offset = e.waste_offset;
    assert!(offset > 0, "the list scrolled");
    // Click the first row drawn: the row at the offset, not row 0 or the one above.
    let first_row = panes.image.y + 1 + layerscope::tui::app::waste_list_top(e);
    a.update(Action::Click { column: panes.image.x + 3, row: first_row });
    assert_eq!(explorer(&a).waste_cursor, offset);
    let text = screen(&mut a);
    let e = explorer(&a);
    let clicked = match e.waste.rows[offset] {
        WasteRow::Path(p) => e.analysis.top_waste[p].path.clone(),
        WasteRow::Source(s) => e.analysis.waste_sources[s].label.clone(),
    };
    let line = text.lines().nth(usize::from(first_row)).unwrap();
    assert!(line.contains(&clicked[..clicked.len().min(12)]), "the highlighted row is the one clicked: {line}");
}

#[test]
fn the_viewer_and_extract_name_the_layer_that_wrote_the_bytes() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    // build.log is removed by layer 4 (selected); its bytes are those an earlier layer wrote.
    go_to(&mut a, "/app/logs/build.log");
    press(&mut a, "v");
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("no viewer") };
    let written = v.stored_in;
    assert!(written < 4, "written below the selected layer");
    let text = screen(&mut a);
    assert!(text.contains(&format!("from layer {written} (4 selected)")), "{text}");
    press(&mut a, "q");
    // main.py was written by the layer that shows it: one layer named.
    press(&mut a, "<backtab>");
    for _ in 0..4 {
        press(&mut a, "k");
    }
    pause(&mut a);
    press(&mut a, "<tab>");
    go_to(&mut a, "/etc/motd");
    press(&mut a, "v");
    let text = screen(&mut a);
    assert!(!text.contains("selected)"), "{text}");
}

#[test]
fn the_layer_details_scroll_to_their_last_line() {
    let mut a = app(100, 30);
    let panes = a.panes();
    let before = screen(&mut a);
    assert!(!before.contains("DiffID"), "layer 4's long command pushes the digests below: {before}");
    assert!(before.contains('▼'));
    for _ in 0..30 {
        a.update(Action::Scroll { column: panes.details.x + 2, row: panes.details.y + 2, down: true });
    }
    let after = screen(&mut a);
    assert!(after.contains("DiffID") && after.contains("sha256:"), "{after}");
    // Another layer starts at its top again.
    press(&mut a, "k");
    pause(&mut a);
    assert_eq!(explorer(&a).details_offset, 0);
}

#[test]
fn the_readme_shows_the_screen_the_explorer_opens_on() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## The explorer\n\n```\n").unwrap() + "## The explorer\n\n```\n".len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];
    let mut a = opened(100, 30);
    let drawn: String = screen(&mut a)
        .lines()
        .map(|l| format!("{}\n", l.strip_prefix('"').and_then(|l| l.strip_suffix('"')).unwrap_or(l)))
        .collect();
    assert_eq!(shown, drawn, "README.md's explorer screen is out of date");
}

/// What a key could change, to tell that it did something.
fn fingerprint(a: &App) -> String {
    let e = explorer(a);
    let overlay = match &e.overlay {
        None => "none".to_string(),
        Some(Overlay::Help) => "help".into(),
        Some(Overlay::Warnings) => "warnings".into(),
        Some(Overlay::Viewer(v)) => format!("viewer {} {} {}", v.chunk, v.top, v.left),
        Some(Overlay::Packages(l)) => format!("packages {} {:?}", l.cursor, l.sort),
    };
    format!(
        "{} {:?} {overlay} {:?} {:?} {:?} {} {} {} {} {} {} {:?} {}",
        a.quit,
        e.focus,
        e.input,
        e.view,
        e.sort,
        e.attributes,
        e.wrap,
        e.cursor,
        e.waste_cursor,
        e.rows.rows.len(),
        e.help_offset,
        e.message.as_ref().map(|m| m.text.clone()),
        e.details_offset
    )
}

#[test]
fn every_key_in_the_table_does_what_the_help_says() {
    use layerscope::tui::keymap::{BINDINGS, Mode, Scope};
    for binding in BINDINGS {
        for (key, action) in binding.keys.iter() {
            let mut a = if binding.scope == Scope::Packages { with_packages() } else { app(100, 30) };
            // A state where the key has something to do: mid-list, a filter typed, a file open.
            let setup = match binding.scope {
                Scope::Global | Scope::Layers => "kk",
                Scope::Tree => "<tab>jj",
                Scope::Waste => "<tab><tab>j",
                Scope::Viewer => "<tab>",
                Scope::Packages if matches!(action, Action::Up | Action::PageUp | Action::Top) => "pj",
                Scope::Packages => "p",
            };
            press(&mut a, setup);
            match action {
                Action::ClearFilter | Action::NextMatch | Action::PrevMatch => {
                    press(&mut a, "/a<enter>");
                }
                Action::ShowLayerChanges => {
                    press(&mut a, "<C-a>");
                }
                Action::ToggleCollapse | Action::Activate | Action::Left | Action::Right
                    if binding.scope == Scope::Tree =>
                {
                    go_to(&mut a, "/app")
                }
                Action::View => go_to(&mut a, "/app/main.py"),
                _ => {}
            }
            if binding.scope == Scope::Viewer && matches!(action, Action::Left | Action::Right) {
                // Sideways: a text file, already scrolled right once.
                go_to(&mut a, "/app/main.py");
                press(&mut a, "v<right>");
            } else if binding.scope == Scope::Viewer {
                go_to(&mut a, "/app/data/model.bin");
                press(&mut a, "v<pgdn><pgdn>");
            }
            pause(&mut a);
            let mode = a.mode();
            let scope_mode = match binding.scope {
                Scope::Viewer => Mode::Viewer,
                Scope::Packages => Mode::Packages,
                _ => mode,
            };
            assert_eq!(mode, scope_mode, "{} set up for {:?}", key.name(), binding.scope);
            let mods = if key.ctrl { KeyModifiers::CONTROL } else { KeyModifiers::NONE };
            let event = KeyEvent::new(key.code, mods);
            assert_eq!(keymap::key(event, mode).as_ref(), Some(action), "{} in {mode:?}", key.name());
            let before = fingerprint(&a);
            let effects = a.update(action.clone());
            pause(&mut a);
            let after = fingerprint(&a);
            assert!(
                before != after || !effects.is_empty(),
                "{} ({}) changed nothing in {mode:?}: {before}",
                key.name(),
                binding.does
            );
        }
    }
}

#[test]
fn viewing_and_extracting_run_as_jobs_that_a_new_request_or_esc_stops() {
    let mut a = app(100, 30);
    press(&mut a, "<tab>");
    go_to(&mut a, "/app/main.py");
    // `v` asks for a job; until it answers the viewer says it is reading and keys still work.
    let effects = a.update(Action::View);
    let [Effect::Start(first)] = effects.as_slice() else { panic!("one job: {effects:?}") };
    let text = screen(&mut a);
    assert!(text.contains("reading…") && text.contains("reading the file… 0 B · q stops"), "{text}");
    // Closing stops it: its answer is ignored.
    press(&mut a, "q");
    assert!(first.stop.load(Ordering::Relaxed), "closing the viewer stops the read");
    a.job_done(layerscope::tui::job::run(first));
    assert!(explorer(&a).overlay.is_none() && explorer(&a).job.is_none());
    // A second file replaces nothing pending; its answer is shown.
    go_to(&mut a, "/etc/motd");
    let effects = a.update(Action::View);
    let [Effect::Start(second)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_ne!(first.id, second.id);
    // A late answer of the first job changes nothing.
    a.job_done(layerscope::tui::job::Done {
        id: first.id,
        outcome: layerscope::tui::job::Outcome::Chunk { chunk: 0, data: Ok(b"stale".to_vec()) },
    });
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("viewer") };
    assert!(v.pending.is_some(), "still waiting for its own answer");
    a.job_done(layerscope::tui::job::run(second));
    let Some(Overlay::Viewer(v)) = &explorer(&a).overlay else { panic!("viewer") };
    assert!(v.pending.is_none() && !v.line(0).contains("stale"), "{}", v.line(0));
    press(&mut a, "q");

    // An extraction runs as a job too; Esc stops it and its files stay as written.
    let dir = tempfile::tempdir().unwrap();
    go_to(&mut a, "/app");
    press(&mut a, "x");
    for _ in 0..1 {
        press(&mut a, "<bs>");
    }
    press(&mut a, dir.path().to_str().unwrap());
    let effects = a.update(Action::InputAccept);
    let [Effect::Start(extract)] = effects.as_slice() else { panic!("{effects:?}") };
    assert!(screen(&mut a).contains("extracting /app to"), "the status bar follows it");
    press(&mut a, "<esc>");
    assert!(extract.stop.load(Ordering::Relaxed));
    assert!(explorer(&a).message.as_ref().unwrap().text.contains("stopped"));
    let done = layerscope::tui::job::run(extract);
    assert!(matches!(done.outcome, layerscope::tui::job::Outcome::Stopped), "{done:?}");
}

#[test]
fn the_picker_chooses_an_image_of_a_multi_image_archive() {
    let mut a = App::loading("two.tar", 80, 24, false);
    a.choose(vec!["team/api:1".into(), "team/web:2".into()]);
    assert_eq!(a.mode(), keymap::Mode::Picker);
    let text = screen(&mut a);
    assert!(text.contains("two.tar holds 2 images · ↑↓ choose · Enter opens") && text.contains("team/web:2"), "{text}");
    press(&mut a, "j");
    let effects = press(&mut a, "<enter>");
    assert_eq!(effects, [Effect::Pick(1)]);
    assert!(screen(&mut a).contains("opening team/web:2"));
    // q in the picker quits.
    let mut b = App::loading("two.tar", 80, 24, false);
    b.choose(vec!["x".into(), "y".into()]);
    press(&mut b, "q");
    assert!(b.quit);
}

// ---------------------------------------------------------------- settings

fn settings_of(text: &str) -> Result<layerscope::tui::config::Settings, String> {
    layerscope::tui::config::parse(std::path::Path::new("config.yaml"), text).map_err(|e| e.to_string())
}

#[test]
fn the_settings_file_sets_theme_colours_keys_and_the_first_view() {
    let settings = settings_of(
        "theme: colour-blind\ncolours:\n  removed: \"#ff0000\"\nkeys:\n  filter: [f, ctrl+g]\n  quit: Q\nview:\n  sort: size\n  hide: [unchanged, removed]\n  attributes: false\n",
    )
    .unwrap();
    use ratatui::style::Color;
    assert_eq!(settings.palette.added, Color::Rgb(0x00, 0x72, 0xb2), "the colour-blind theme");
    assert_eq!(settings.palette.removed, Color::Rgb(0xff, 0x00, 0x00), "a colour changed on top of it");
    let mode = keymap::Mode::Browse(Pane::Layers);
    let k = |code, mods| KeyEvent::new(code, mods);
    assert_eq!(settings.keymap.key(k(KeyCode::Char('f'), KeyModifiers::NONE), mode), Some(Action::StartFilter));
    assert_eq!(settings.keymap.key(k(KeyCode::Char('g'), KeyModifiers::CONTROL), mode), Some(Action::StartFilter));
    assert_eq!(settings.keymap.key(k(KeyCode::Char('/'), KeyModifiers::NONE), mode), None, "the old key is gone");
    assert_eq!(settings.keymap.key(k(KeyCode::Char('Q'), KeyModifiers::SHIFT), mode), Some(Action::Quit));
    assert_eq!(settings.keymap.key(k(KeyCode::Char('q'), KeyModifiers::NONE), mode), None);

    // The explorer opens as the file says, and its help and hints show the keys in use.
    let image = demo_image();
    let analysis = analyze(&image, &Options::default());
    let mut a = App::loading("demo.tar", 120, 35, true).with_settings(settings);
    a.loaded(image, analysis);
    let e = explorer(&a);
    assert_eq!(e.sort, SortMode::Size);
    assert!(e.view.hidden.contains(Change::Unchanged) && e.view.hidden.contains(Change::Removed));
    assert!(!e.attributes);
    let text = screen(&mut a);
    assert!(text.contains(" f filter ") && text.contains(" Q quit "), "the status bar: {text}");
    a.update(Action::ToggleHelp);
    let help = screen(&mut a);
    assert!(help.contains("f Ctrl+G") && !help.contains("/ Ctrl+F"), "the help: {help}");
}

#[test]
fn a_rebound_action_keeps_working_in_every_view_that_had_it() {
    use layerscope::tui::keymap::Mode;
    let settings = settings_of("keys:\n  close: x\n  down: n\n").unwrap();
    let press =
        |code: char, mode: Mode| settings.keymap.key(KeyEvent::new(KeyCode::Char(code), KeyModifiers::NONE), mode);
    for mode in [Mode::Viewer, Mode::Packages] {
        assert_eq!(press('x', mode), Some(Action::CloseOverlay), "{mode:?}");
        assert_eq!(press('n', mode), Some(Action::Down), "{mode:?}");
    }
    assert_eq!(press('n', Mode::Browse(Pane::Tree)), Some(Action::Down));
}

#[test]
fn a_wrong_settings_file_names_the_key_and_the_closest_valid_one() {
    let err = settings_of("them: dark\n").unwrap_err();
    assert!(err.contains("unknown key 'them' (did you mean 'theme'?)"), "{err}");
    let err = settings_of("theme: dark\n").unwrap_err();
    assert!(err.contains("unknown theme 'dark'") && err.contains("high-contrast"), "{err}");
    let err = settings_of("keys:\n  filtr: f\n").unwrap_err();
    assert!(err.contains("unknown action in keys: 'filtr' (did you mean 'filter'?)"), "{err}");
    let err = settings_of("keys:\n  filter: ctrl+\n").unwrap_err();
    assert!(err.contains("is not a key"), "{err}");
    let err = settings_of("view:\n  hide: [unchnged]\n").unwrap_err();
    assert!(err.contains("did you mean 'unchanged'"), "{err}");
    let err = settings_of("colours:\n  added: notacolour\n").unwrap_err();
    assert!(err.contains("is not a colour"), "{err}");
    assert!(settings_of("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n").unwrap_err().contains("deeper"));
}

#[test]
fn dive_key_bindings_are_read_when_there_is_no_settings_file() {
    let text = "keybinding:\n  filter-files: ctrl+g\n  toggle-added-files: ctrl+q, ctrl+w\n  no-such-dive-key: x\nlog:\n  enabled: true\n";
    let settings = layerscope::tui::config::parse_dive(std::path::Path::new(".dive.yaml"), text);
    let k = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    assert_eq!(settings.keymap.key(k('g'), keymap::Mode::Browse(Pane::Tree)), Some(Action::StartFilter));
    let added = Some(Action::ToggleChange(Change::Added));
    assert_eq!(settings.keymap.key(k('w'), keymap::Mode::Browse(Pane::Tree)), added);
    // Whatever dive's file cannot tell us is left as it was.
    assert_eq!(settings.keymap.key(k('l'), keymap::Mode::Browse(Pane::Tree)), Some(Action::ShowLayerChanges));
}

#[test]
fn the_readme_settings_example_is_a_valid_settings_file() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("```yaml\ntheme: colour-blind").unwrap() + "```yaml\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let settings = settings_of(example).unwrap();
    assert_eq!(settings.view.sort, SortMode::Size);
    // Every action the README lists is one the file accepts.
    let list_start = readme.find("The actions: ").unwrap() + "The actions: ".len();
    let list = &readme[list_start..list_start + readme[list_start..].find(". The help").unwrap()];
    for action in list.split(',').map(|a| a.trim()) {
        settings_of(&format!("keys:\n  {action}: F1x\n")).map(|_| ()).unwrap_or_else(|e| {
            assert!(e.contains("is not a key"), "{action} is not an action the file accepts: {e}");
        });
    }
}

#[test]
fn with_wrapping_the_cursor_stays_on_screen_and_clicks_hit_wrapped_rows() {
    let mut layer = support::Layer::new();
    for i in 0..30 {
        layer = layer.file(&format!("f{i:02}-{}", "x".repeat(110)), b"x");
    }
    let image = support::Image::new().layer(layer, "add");
    let mut a = app_of(image, 80, 24);
    press(&mut a, "<tab><C-p>G");
    let text = screen(&mut a);
    assert!(text.contains("f29-xxx"), "the last row, selected, is drawn: {text}");
    // Each row takes several lines: a click on the second line of the first row drawn selects it.
    let panes = a.panes();
    let first = explorer(&a).offset;
    let top = panes.tree.y + panes.tree_header_rows();
    a.update(Action::Click { column: panes.tree.x + 5, row: top + 1 });
    assert_eq!(explorer(&a).cursor, first, "the wrapped line belongs to the first row drawn");
    // The screen line where the next row starts (after the first row's wrapped lines).
    let text = screen(&mut a);
    let next = text.lines().position(|l| l.contains(&format!("f{:02}-", first + 1))).unwrap();
    assert!(next as u16 > top + 1, "the first row took more than one line");
    a.update(Action::Click { column: panes.tree.x + 5, row: next as u16 });
    assert_eq!(explorer(&a).cursor, first + 1, "the line where the next row starts selects it");
}

#[test]
fn typing_a_filter_narrows_to_the_same_matches_as_a_full_search() {
    let matched = |a: &App| {
        let e = explorer(a);
        e.rows.matches.iter().map(|&i| e.image.tree.display_path(e.rows.rows[i as usize].node).0).collect::<Vec<_>>()
    };
    // Typed a character at a time: each one only re-tests what matched before.
    let mut typed = app(100, 30);
    press(&mut typed, "/ap");
    press(&mut typed, "p/d");
    // The same text reached by a backspace: searched in full.
    let mut full = app(100, 30);
    press(&mut full, "/app/dx<bs>");
    assert_eq!(matched(&typed), matched(&full));
    assert!(!matched(&typed).is_empty());
    // And what a search of every listed path finds.
    let e = explorer(&full);
    let every: Vec<String> = e
        .rows
        .rows
        .iter()
        .map(|r| e.image.tree.display_path(r.node).0)
        .filter(|p| p.to_lowercase().contains("app/d"))
        .collect();
    assert_eq!(matched(&full), every);
}

// ---------------------------------------------------------------- packages

/// The explorer on an image with a dpkg database ([`support::dpkg_archive`]), its packages read.
fn with_packages() -> App {
    let image = support::load(support::dpkg_archive());
    let analysis = analyze(&image, &Options::default());
    let mut a = App::ready(image, analysis, 100, 30, false);
    pause(&mut a);
    a
}

#[test]
fn the_packages_view_lists_sorts_and_filters_the_tree_by_package() {
    let image = support::load(support::dpkg_archive());
    let analysis = analyze(&image, &Options::default());
    let mut a = App::ready(image, analysis, 100, 30, false);
    // Read in the background once the image is open: until then, p says so.
    press(&mut a, "p");
    let message = explorer(&a).message.clone().map(|m| m.text).unwrap_or_default();
    assert!(message.contains("still reading the package databases"), "{message}");
    assert!(pause(&mut a), "the packages job was pending");
    assert!(explorer(&a).packages.index().is_some(), "read");
    press(&mut a, "p");
    let text = screen(&mut a);
    assert!(text.contains("Packages · 2 (dpkg) · by size"), "{text}");
    insta::assert_snapshot!("packages_100x30", text);
    let Some(Overlay::Packages(list)) = &explorer(&a).overlay else { panic!("the packages view") };
    let names = |a: &App, list: &layerscope::tui::packages::PackageList| -> Vec<String> {
        let p = &explorer(a).packages.index().unwrap().packages.packages;
        list.order.iter().map(|&i| p[i].name.clone()).collect()
    };
    assert_eq!(names(&a, list), ["git", "libssl3"], "largest first");
    press(&mut a, "s");
    let Some(Overlay::Packages(list)) = &explorer(&a).overlay else { panic!("still open") };
    assert_eq!(names(&a, list), ["libssl3", "git"], "most wasted first");
    assert_eq!(list.cursor, 1, "git stays selected");
    // Enter on libssl3: the tree shows its files alone, in the layer that upgraded it.
    press(&mut a, "k<enter>");
    let e = explorer(&a);
    assert!(e.overlay.is_none() && e.focus == Pane::Tree);
    let filtered = e.view.package.map(|i| e.packages.index().unwrap().packages.packages[i].name.as_str());
    assert_eq!((e.view.layer, filtered), (1, Some("libssl3")));
    let shown: Vec<String> = e.rows.rows.iter().map(|r| e.image.tree.display_path(r.node).0).collect();
    assert_eq!(shown, ["/usr", "/usr/lib", "/usr/lib/libssl.so.3"]);
    go_to(&mut a, "/usr/lib/libssl.so.3");
    let text = screen(&mut a);
    assert!(text.contains("package libssl3 3.0.15 (dpkg)"), "the selected file's package: {text}");
    assert!(text.contains("Package: libssl3"), "the filter line: {text}");
    // The layer's package changes, in its details (room for them on a taller terminal).
    a.update(Action::Resize { width: 220, height: 50 });
    let text = screen(&mut a);
    assert!(text.contains("Packages +1 (git 2.39.5) · ~1 (libssl3 3.0.13→3.0.15) · -1 (old 1)"), "{text}");
    // Esc shows every path again.
    press(&mut a, "<esc>");
    let e = explorer(&a);
    assert_eq!(e.view.package, None);
    assert!(e.rows.rows.len() > 3);
    go_to(&mut a, "/opt/app/main");
    assert!(screen(&mut a).contains("no package owns it"));
}

#[test]
fn p_on_an_image_without_a_package_database_says_so() {
    let mut a = opened(100, 30);
    pause(&mut a);
    press(&mut a, "p");
    let e = explorer(&a);
    assert!(e.overlay.is_none());
    assert_eq!(
        e.message.as_ref().map(|m| m.text.as_str()),
        Some("no package database in this image (dpkg, apk, rpm, Python or node metadata)")
    );
}
