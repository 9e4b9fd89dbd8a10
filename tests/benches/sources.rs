//! Images by name, timed: pulls from a local registry (Debian's docker-registry, started here on
//! loopback with a temporary storage) with a cold and a warm cache, against the usual way without
//! layerscope's registry support (`skopeo copy` to an OCI directory, then layerscope on it), and
//! the time to the explorer's first frame while a pull runs. Not a test: `cargo test` does not
//! run it.
//!
//! ```sh
//! cargo build --release
//! cargo bench --bench sources -- /tmp/corpus-out/debian-apt.docker.tar [/tmp/bench/many-small-1000000-20.v1.tar] --runs 3
//! ```
//!
//! Each archive is pushed once with `skopeo copy docker-archive:… docker://127.0.0.1:PORT/…`
//! (skopeo gzips the layers). Then, `--runs` times each, medians printed:
//! * `skopeo copy` to an OCI directory, then `layerscope --json /dev/null DIR`;
//! * `layerscope --json /dev/null registry://…` with an empty cache (cold);
//! * the same with the cache it left (warm: one manifest request, records from the cache);
//! * `layerscope --json /dev/null ARCHIVE` with the archive dropped from the page cache first
//!   (`dd iflag=nocache`), and with it in the page cache;
//! * with tmux installed, the explorer on `registry://…` (cold) until its first frame shows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark harness may panic

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let runs: usize =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(3);
    let archives: Vec<PathBuf> =
        args.iter().filter(|a| !a.starts_with("--") && Path::new(a).is_file()).map(PathBuf::from).collect();
    if archives.is_empty() {
        eprintln!("usage: cargo bench --bench sources -- ARCHIVE.tar... [--runs N]");
        std::process::exit(2);
    }
    let bin = std::env::var("LAYERSCOPE_BIN")
        .map_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/layerscope"), PathBuf::from);
    assert!(bin.is_file(), "build the CLI first: cargo build --release");
    let scratch = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = scratch.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            scratch.path().join("data").display()
        ),
    )
    .unwrap();
    let mut registry = Command::new("docker-registry")
        .args(["serve", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (Debian package docker-registry)");
    std::thread::sleep(Duration::from_secs(1));
    let host = format!("127.0.0.1:{port}");
    println!("layerscope {} · registry {host} · {runs} runs, medians", bin.display());
    for (n, archive) in archives.iter().enumerate() {
        let name = format!("bench/image{n}:1");
        let pushed = Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("docker-archive:{}", archive.display()))
            .arg(format!("docker://{host}/{name}"))
            .status()
            .unwrap();
        assert!(pushed.success(), "skopeo copy failed");
        let reference = format!("registry://{host}/{name}");
        let cache = scratch.path().join(format!("cache{n}"));
        let layerscope = |target: &str| {
            let status = Command::new(&bin)
                .args(["--json", "/dev/null", target])
                .env("LAYERSCOPE_CACHE_DIR", &cache)
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "layerscope {target} failed");
        };
        let skopeo_then_layerscope = median(runs, || {
            let dir = scratch.path().join("oci");
            let _ = std::fs::remove_dir_all(&dir);
            let start = Instant::now();
            let copied = Command::new("skopeo")
                .args(["copy", "--quiet", "--src-tls-verify=false"])
                .arg(format!("docker://{host}/{name}"))
                .arg(format!("oci:{}", dir.display()))
                .status()
                .unwrap();
            assert!(copied.success());
            layerscope(dir.to_str().unwrap());
            start.elapsed()
        });
        let cold = median(runs, || {
            let _ = std::fs::remove_dir_all(&cache);
            let start = Instant::now();
            layerscope(&reference);
            start.elapsed()
        });
        let warm = median(runs, || {
            let start = Instant::now();
            layerscope(&reference);
            start.elapsed()
        });
        let archive_cold = median(runs, || {
            let _ = Command::new("dd")
                .arg(format!("if={}", archive.display()))
                .args(["iflag=nocache", "count=0", "status=none"])
                .status();
            let start = Instant::now();
            layerscope(archive.to_str().unwrap());
            start.elapsed()
        });
        let archive_warm = median(runs, || {
            let start = Instant::now();
            layerscope(archive.to_str().unwrap());
            start.elapsed()
        });
        println!("\n{}", archive.display());
        let row = |what: &str, d: Duration| println!("  {what:<58} {:>7.2} s", d.as_secs_f64());
        row("skopeo copy to an OCI dir + layerscope on it", skopeo_then_layerscope);
        row("layerscope registry://… (cold cache)", cold);
        row("layerscope registry://… (warm cache)", warm);
        row("layerscope ARCHIVE (not in the page cache)", archive_cold);
        row("layerscope ARCHIVE (in the page cache)", archive_warm);
        println!(
            "  pull cold is {:.1}x skopeo+layerscope; warm is {:.1}x faster than the archive cold, {:.1}x warm",
            skopeo_then_layerscope.as_secs_f64() / cold.as_secs_f64(),
            archive_cold.as_secs_f64() / warm.as_secs_f64(),
            archive_warm.as_secs_f64() / warm.as_secs_f64()
        );
        if let Some(first) = first_frame(&bin, &reference, &scratch.path().join(format!("tui-cache{n}"))) {
            row("explorer on registry://… (cold): first frame", first);
        }
    }
    let _ = registry.kill();
    let _ = registry.wait();
}

fn median(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1)).map(|_| f()).collect();
    times.sort();
    times[times.len() / 2]
}

/// Start the explorer in tmux and wait for its loading frame.
fn first_frame(bin: &Path, reference: &str, cache: &Path) -> Option<Duration> {
    let socket = format!("layerscope-bench-{}", std::process::id());
    let tmux = |args: &[&str]| Command::new("tmux").args(["-L", &socket]).args(args).output().ok();
    tmux(&["-V"])?;
    let command = format!("LAYERSCOPE_CACHE_DIR={} {} {reference}; sleep 5", cache.display(), bin.display());
    let start = Instant::now();
    tmux(&["new-session", "-d", "-s", "b", "-x", "120", "-y", "30", &command])?;
    let mut shown = None;
    while start.elapsed() < Duration::from_secs(30) {
        let pane = tmux(&["capture-pane", "-p", "-t", "b"])?;
        if String::from_utf8_lossy(&pane.stdout).contains("Loading registry://") {
            shown = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    tmux(&["kill-server"]);
    shown
}
