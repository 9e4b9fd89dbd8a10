//! End to end: the real binary in a real terminal (tmux). Keys are sent, the screen is captured
//! and checked as a user would read it, and quitting must leave the terminal as it was.
//! Where tmux is missing the tests say they skipped (and fail under LAYERSCOPE_REQUIRE_TMUX=1, as
//! in CI). Each test runs its own tmux server and names its pane in every command.

use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of the test's own (its socket), running one session.
struct Tmux {
    socket: String,
    /// The session's pane, for `-t`.
    target: String,
}

/// Tests run in parallel threads of one process: a counter keeps their servers apart.
static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Tmux {
    fn start(command: &str, width: u16, height: u16) -> Option<Tmux> {
        if Command::new("tmux").arg("-V").output().is_err() {
            crate::support::missing("TMUX", "tmux is not installed");
            return None;
        }
        let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("layerscope-test-{}-{n}", std::process::id());
        let session = format!("t{n}");
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(command)
            .env_remove("CI")
            .env_remove("NO_COLOR")
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux could not start");
        Some(Tmux { socket, target: format!("{session}:0.0") })
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", &self.target])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.target];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// A tmux format variable of the test's pane (`#{alternate_on}`, `#{pane_pid}`).
    fn display(&self, format: &str) -> String {
        self.tmux(&["display", "-p", "-t", &self.target, format]).trim().to_string()
    }

    /// Wait until the screen contains `text`.
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(text, |screen| screen.contains(text))
    }

    /// Wait until `settled` holds for the screen. A capture can land while a frame is half
    /// written, so a check of several things must wait for all of them, not the first.
    fn wait_until(&self, what: &str, settled: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if settled(&screen) {
                return screen;
            }
            if start.elapsed() > Duration::from_secs(20) {
                panic!("timed out waiting for {what}; the screen shows:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

#[test]
fn a_user_explores_the_demo_image_and_quits() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    // The shell prints the exit code after layerscope ends, then waits.
    let Some(t) = Tmux::start(&format!("{bin}; echo LAYERSCOPE_EXIT=$?; sleep 60"), 100, 30) else { return };
    let first_screen = [
        "Filetree",
        "Layers 0–4",
        "● added ● modified ● metadata-only ● removed ○ unchanged",
        "layerscope/demo:latest",
    ];
    t.wait_until("the first screen: layers, legend, tree and image name", |screen| {
        first_screen.iter().all(|text| screen.contains(text))
    });
    assert_eq!(t.display("#{alternate_on}"), "1", "the explorer uses the alternate screen");

    // It opens on the base layer, showing what it changed; the last layer, every path.
    t.wait_for("Layer 0 · what it changed (U: all paths)");
    t.keys(&["G", "Tab", "U", "g"]);
    t.wait_for("Layer 4 · every path, its changes coloured");
    // Fold /app, filter for "model".
    t.keys(&["Space"]);
    t.wait_until("/app folded, its files hidden", |screen| screen.contains("├─⊕ app") && !screen.contains("model.bin"));
    t.keys(&["Space", "/", "m", "o", "d", "e", "l"]);
    t.wait_until("2 matches, only model.bin listed", |screen| {
        screen.contains("2 matches") && screen.contains("model.bin") && !screen.contains("busybox")
    });
    t.keys(&["Enter", "Escape"]);
    t.wait_for("busybox");

    // Help, then back.
    t.keys(&["?"]);
    t.wait_for("Keys · Esc or ? closes");
    t.keys(&["Escape"]);
    t.wait_for("Permission");

    // Aggregated view from the layer list.
    t.keys(&["Tab", "Tab", "C-a"]);
    t.wait_for("aggregated changes");

    t.keys(&["q"]);
    t.wait_until("exit code 0 and the explorer's screen gone", |screen| {
        screen.contains("LAYERSCOPE_EXIT=0") && !screen.contains("Filetree")
    });
    assert_eq!(t.display("#{alternate_on}"), "0", "the terminal left the alternate screen");
}

#[test]
fn every_terminating_signal_restores_the_terminal() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    for signal in ["TERM", "INT", "QUIT", "USR1", "ALRM", "HUP"] {
        let Some(t) = Tmux::start(&format!("{bin}; echo LAYERSCOPE_EXIT=$?; sleep 60"), 80, 24) else { return };
        t.wait_for("Filetree");
        let pid = t.display("#{pane_pid}");
        // The pane runs a shell whose child is layerscope.
        let out = Command::new("pkill").args([&format!("-{signal}"), "-P", &pid, "-x", "layerscope"]).status();
        if out.is_err() {
            return crate::support::missing("TMUX", "pkill is not available (Debian package procps)");
        }
        t.wait_for("LAYERSCOPE_EXIT=");
        assert_eq!(t.display("#{alternate_on}"), "0", "SIG{signal}: the terminal left the alternate screen");
        let screen = t.screen();
        assert!(!screen.contains("Filetree"), "SIG{signal}: the explorer's screen is gone:\n{screen}");
    }
}

#[test]
fn closing_the_terminal_ends_the_process() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let Some(t) = Tmux::start(bin, 80, 24) else { return };
    t.wait_for("Filetree");
    let pid = t.display("#{pane_pid}");
    assert!(!pid.is_empty());
    // The window closes: the terminal hangs up under the explorer.
    t.tmux(&["kill-server"]);
    let gone = || !std::path::Path::new(&format!("/proc/{pid}")).exists();
    let start = Instant::now();
    while !gone() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !gone() {
        let _ = Command::new("kill").args(["-9", &pid]).status();
        panic!("layerscope kept running after its terminal went away");
    }
}

#[test]
fn an_image_piped_on_stdin_opens_the_explorer_with_keys_from_the_terminal() {
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo.tar");
    let command = format!("cat {demo} | {bin} -; echo LAYERSCOPE_EXIT=$?; sleep 60");
    let Some(t) = Tmux::start(&command, 100, 30) else { return };
    t.wait_until("the explorer on the piped image", |s| s.contains("Filetree") && s.contains("layerscope/demo"));
    // Keys reach it although stdin is the pipe.
    t.keys(&["?"]);
    t.wait_for("Keys · Esc or ? closes");
    t.keys(&["Escape"]);
    t.wait_for("Permission");
    // A resize redraws at the new size: the footer moves to the new last line.
    t.tmux(&["resize-window", "-t", &t.target, "-x", "80", "-y", "24"]);
    t.wait_until("the screen redrawn at 80×24", |s| {
        let lines: Vec<&str> = s.lines().collect();
        lines.len() == 24 && lines[23].contains("quit") && lines.iter().all(|l| l.chars().count() <= 80)
    });
    t.keys(&["q"]);
    t.wait_until("exit code 0", |s| s.contains("LAYERSCOPE_EXIT=0") && !s.contains("Filetree"));
}

#[test]
fn a_multi_image_archive_opens_a_picker() {
    use crate::support::{Image, Layer, several_images_archive};
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("two.tar");
    let a = Image::new().tags(&["team/api:1"]).layer(Layer::new().file("api-only", b"a"), "a");
    let b = Image::new().tags(&["team/web:2"]).layer(Layer::new().file("web-only", b"b"), "b");
    std::fs::write(&archive, several_images_archive(&[&a, &b])).unwrap();
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let command = format!("{bin} {}; echo LAYERSCOPE_EXIT=$?; sleep 60", archive.display());
    let Some(t) = Tmux::start(&command, 100, 30) else { return };
    t.wait_until("the picker", |s| {
        s.contains("holds 2 images") && s.contains("team/api:1") && s.contains("team/web:2")
    });
    t.keys(&["j", "Enter"]);
    t.wait_until("the second image explored", |s| s.contains("Filetree") && s.contains("web-only"));
    t.keys(&["q"]);
    t.wait_for("LAYERSCOPE_EXIT=0");
}

#[test]
fn diff_on_a_terminal_opens_compare_mode() {
    use crate::support::{Image, Layer};
    let dir = tempfile::tempdir().unwrap();
    let base = || Layer::new().file("libc.so", &[7; 4_000]);
    let old = Image::new().tags(&["team/app:1"]).layer(base(), "ADD base").layer(Layer::new().file("v1", b"1"), "a");
    let new = Image::new().tags(&["team/app:2"]).layer(base(), "ADD base").layer(Layer::new().file("v2", b"22"), "b");
    let (o, n) = (dir.path().join("old.tar"), dir.path().join("new.tar"));
    std::fs::write(&o, old.docker_archive()).unwrap();
    std::fs::write(&n, new.docker_archive()).unwrap();
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let command = format!("{bin} diff {} {}; echo LAYERSCOPE_EXIT=$?; sleep 60", o.display(), n.display());
    let Some(t) = Tmux::start(&command, 100, 30) else { return };
    t.wait_until("compare mode", |s| {
        s.contains("Paths that differ (2)") && s.contains("/v2") && s.contains("/v1") && s.contains("1 shared layer")
    });
    t.keys(&["q"]);
    t.wait_for("LAYERSCOPE_EXIT=0");
    assert_eq!(t.display("#{alternate_on}"), "0", "the terminal is restored");
}

#[test]
fn df_on_a_terminal_opens_disk_mode() {
    use crate::support::{Image, Layer};
    let dir = tempfile::tempdir().unwrap();
    let base = || Layer::new().file("libc.so", &[7; 4_000]);
    let api = Image::new().tags(&["team/api:1"]).layer(base(), "ADD base").layer(Layer::new().file("a", b"1"), "a");
    let web = Image::new().tags(&["team/web:1"]).layer(base(), "ADD base").layer(Layer::new().file("w", b"2"), "w");
    let (a, w) = (dir.path().join("api.tar"), dir.path().join("web.tar"));
    std::fs::write(&a, api.docker_archive()).unwrap();
    std::fs::write(&w, web.docker_archive()).unwrap();
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let command = format!("{bin} df {} {}; echo LAYERSCOPE_EXIT=$?; sleep 60", a.display(), w.display());
    let Some(t) = Tmux::start(&command, 100, 30) else { return };
    t.wait_until("disk mode", |s| {
        s.contains("2 images") && s.contains("team/web:1") && s.contains("Layers of team/api:1")
    });
    t.keys(&["q"]);
    t.wait_for("LAYERSCOPE_EXIT=0");
}

#[test]
fn the_settings_file_is_read_in_a_real_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("layerscope/config.yaml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "theme: high-contrast\nkeys:\n  filter: f\nview:\n  hide: []\n").unwrap();
    let bin = env!("CARGO_BIN_EXE_layerscope");
    let command = format!("XDG_CONFIG_HOME={} {bin}; echo LAYERSCOPE_EXIT=$?; sleep 60", dir.path().display());
    let Some(t) = Tmux::start(&command, 100, 30) else { return };
    // `hide: []`: every path of layer 0 from the start; `f` filters, as the file says.
    t.wait_until("the first screen with every path", |s| {
        s.contains("Layer 0 · every path") && s.contains(" f filter ")
    });
    t.keys(&["f", "m", "o", "t", "d"]);
    t.wait_until("the filter typed with the configured key", |s| s.contains("motd") && s.contains("1 match"));
    // Esc alone (followed at once by q, a terminal would send Alt+q).
    t.keys(&["Escape"]);
    t.wait_until("the filter cleared", |s| !s.contains("1 match") && s.contains("busybox"));
    t.keys(&["q"]);
    t.wait_for("LAYERSCOPE_EXIT=0");
}
