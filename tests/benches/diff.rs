//! `layerscope diff` and `df` on two images: the time to compare their final trees once both are
//! loaded and analysed, beside the time to load them, medians of a few runs.
//!
//! cargo bench --bench diff -- OLD.tar NEW.tar [--runs 3]

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark may panic

use std::time::{Duration, Instant};

use layerscope::analysis::{Options, analyze, diff, disk};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [old, new, ..] = paths.as_slice() else {
        eprintln!("usage: cargo bench --bench diff -- OLD.tar NEW.tar [--runs N]");
        std::process::exit(2);
    };
    let runs: usize =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(3);
    let load = |p: &str| {
        let image = layerscope::load(&layerscope::Input::Path(p.into()), &Default::default()).unwrap();
        let analysis = analyze(&image, &Options::default());
        (image, analysis)
    };
    let start = Instant::now();
    let (oi, oa) = load(old);
    let (ni, na) = load(new);
    let loaded = start.elapsed();
    let compare: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let d = diff::compare((&oi, &oa), (&ni, &na));
            std::hint::black_box(d.paths.len());
            start.elapsed()
        })
        .collect();
    let d = diff::compare((&oi, &oa), (&ni, &na));
    let df: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(disk::disk_usage(&[("old".into(), &oi), ("new".into(), &ni)]));
            start.elapsed()
        })
        .collect();
    println!("{old} ({} paths) vs {new} ({} paths)", oi.tree.node_count(), ni.tree.node_count());
    println!("  load and analyse both          {:>8.2} s", loaded.as_secs_f64());
    println!(
        "  diff: compare the final trees  {:>8.2} s  ({} paths differ)",
        median(compare).as_secs_f64(),
        d.paths.len()
    );
    println!("  df: both images                {:>8.4} s", median(df).as_secs_f64());
}
