//! Command-line interface: arguments and what each command does. Lives in the library so tests
//! can run commands without a process; `main.rs` only maps the outcome to an exit code.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::analysis::{self, Analysis, DiveFigures};
use crate::archive::Input;
use crate::ci::{self, Policy, Rule, Verdict};
use crate::format::{Platform, Selection};
use crate::image::Image;
use crate::report::files::{FilesOptions, write_files};
use crate::report::text::{Style, write_text};
use crate::report::{Report, github, junit, sarif};

/// The demo image `layerscope` opens when no image is named (made by the fixture builder in
/// `tests/support`; see `tests/demo_asset.rs`).
pub const DEMO_IMAGE: &[u8] = include_bytes!("../assets/demo.tar");

/// Name shown for the bundled demo image.
pub const DEMO_NAME: &str = "demo.tar (bundled demo image)";

const AFTER_HELP: &str = "\
Figures:
  layer size     Σ regular-file bytes in the layer tar (hard links, directories, symlinks and
                 whiteouts count 0), as dive and `docker image ls` count them
  blob size      bytes of the layer blob in the archive (compressed where the layer is)
  image size     Σ layer sizes
  final size     bytes of the regular files visible after the last layer, hard links once
  wasted bytes   image size − final size: every copy a perfect rebuild would not ship (a path
                 written k times wastes k−1 copies), by cause: deleted (whiteout, opaque
                 directory, removed parent), overwritten (other content at the same path),
                 metadata-only (same content again: chmod, chown, touch, identical re-add)
  efficiency     final size / image size (1 for an empty image)
  duplicates     identical bytes visible at several paths; reclaimable, not counted as waste
  user wasted %  bytes hidden by the layers above the base image / (bytes those layers shipped
                 + base bytes they hid); always 0..1. User efficiency = 1 − that
  layer score    0-100: share of the bytes a layer ships or hides that end up wasted
  dive figures   --dive-compat judges and exports dive 0.13.1's figures instead (every copy
                 counted, only layer 0 as the base, opaque whiteouts ignored)

CI mode (--ci, or CI=true|1|yes): rules take a ratio (0.9, 90%), a size (20MB, 32KiB, 1000) or
'disabled'. Defaults: lowest-efficiency 0.9, highest-user-wasted-percent 0.1, others disabled.
Thresholds come from flags, else --ci-config FILE, else .layerscope-ci.yaml or dive's .dive-ci in
the working directory, else the defaults. min-wasted-bytes is a noise floor: below it the
percentage rules pass.

Inputs: docker save (legacy and Docker 25+), podman save, skopeo/buildah oci-archive, kaniko
tarballs, OCI layout directories, gzip/zstd/uncompressed layers, and '-' for stdin.
Exit codes: 0 ok (all rules pass), 1 a CI rule failed, 2 error.";

/// layerscope: see what is inside a container image and where its bytes are wasted.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: show the image).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Showing one image.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// Arguments of the default command.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Image archive, OCI layout directory, or '-' for stdin [default: the bundled demo image]
    #[arg(value_name = "IMAGE")]
    pub input: Option<String>,
    /// Write the JSON report (schema layerscope.report/v1; dive's schema with --dive-compat) to
    /// FILE ('-' for stdout)
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Print the text report (figures, worst layers, top waste) instead of opening the explorer
    #[arg(long)]
    pub report: bool,
    /// Which image of the archive to use.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Analysis options.
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// CI gate options.
    #[command(flatten)]
    pub ci: CiArgs,
}

/// Choosing one image from an archive.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Platform to pick from a multi-platform image [default: linux/amd64, else the first]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Image to pick from an archive holding several (a tag as listed by the archive)
    #[arg(long = "image", value_name = "NAME:TAG")]
    pub image_name: Option<String>,
    /// Accepted for dive compatibility; the format is always detected from the contents
    #[arg(long, value_name = "SOURCE", hide = true)]
    pub source: Option<String>,
}

/// How the analysis runs.
#[derive(Debug, Args, Clone, Default)]
pub struct AnalysisArgs {
    /// Treat the first N layers as the base image instead of detecting it
    #[arg(long, value_name = "N")]
    pub base_layers: Option<usize>,
    /// Use dive 0.13.1's figures for the CI rules, and write dive's export schema with --json
    #[arg(long)]
    pub dive_compat: bool,
}

/// Output format of CI mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Readable report (colour on a terminal, never with NO_COLOR)
    #[default]
    Text,
    /// The JSON report with the verdict
    Json,
    /// JUnit XML, one test case per rule
    Junit,
    /// SARIF 2.1.0
    Sarif,
    /// GitHub Actions annotations
    Github,
}

/// The CI gate.
#[derive(Debug, Args, Clone, Default)]
pub struct CiArgs {
    /// Evaluate the rules and exit 1 if one fails (also when CI is true, 1 or yes)
    #[arg(long)]
    pub ci: bool,
    /// Config file with the rules [default: .layerscope-ci.yaml, else .dive-ci, if present]
    #[arg(long, value_name = "PATH")]
    pub ci_config: Option<PathBuf>,
    /// Report format in CI mode
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Write the CI report to PATH instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Fail when efficiency is below this ratio [default: 0.9]
    #[arg(long, alias = "lowestEfficiency", value_name = "RATIO")]
    pub lowest_efficiency: Option<String>,
    /// Fail when more bytes than this are wasted [default: disabled]
    #[arg(long, alias = "highestWastedBytes", value_name = "SIZE")]
    pub highest_wasted_bytes: Option<String>,
    /// Fail when user wasted percent is above this ratio [default: 0.1]
    #[arg(long, alias = "highestUserWastedPercent", value_name = "RATIO")]
    pub highest_user_wasted_percent: Option<String>,
    /// Fail when one layer ships more wasted bytes than this [default: disabled]
    #[arg(long, alias = "highestLayerWastedBytes", value_name = "SIZE")]
    pub highest_layer_wasted_bytes: Option<String>,
    /// Fail when user efficiency is below this ratio [default: disabled]
    #[arg(long, alias = "lowestUserEfficiency", value_name = "RATIO")]
    pub lowest_user_efficiency: Option<String>,
    /// Noise floor: below this many wasted bytes the percentage rules pass [default: disabled]
    #[arg(long, alias = "minWastedBytes", value_name = "SIZE")]
    pub min_wasted_bytes: Option<String>,
}

impl CiArgs {
    fn flags(&self) -> Vec<(Rule, String)> {
        [
            (Rule::LowestEfficiency, &self.lowest_efficiency),
            (Rule::HighestWastedBytes, &self.highest_wasted_bytes),
            (Rule::HighestUserWastedPercent, &self.highest_user_wasted_percent),
            (Rule::HighestLayerWastedBytes, &self.highest_layer_wasted_bytes),
            (Rule::LowestUserEfficiency, &self.lowest_user_efficiency),
            (Rule::MinWastedBytes, &self.min_wasted_bytes),
        ]
        .into_iter()
        .filter_map(|(r, v)| v.clone().map(|v| (r, v)))
        .collect()
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the merged file tree as JSON Lines, one path per line, sorted by path bytes
    ///
    /// Keys: path (and path_raw, hex, when the name is not UTF-8), kind, size, mode, uid, gid,
    /// link (and link_raw), dev, mtime, layer (the layer that last wrote the path), change
    /// (added, modified, metadata, removed or unchanged, relative to the layer below).
    Files(FilesArgs),
}

/// Arguments of `files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Image archive, OCI layout directory, or '-' for stdin
    #[arg(value_name = "IMAGE")]
    pub input: String,
    /// Show the tree after layer N (0 = base) [default: the last layer]
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Print only what the layer changed, removed paths included
    #[arg(long)]
    pub changes: bool,
    /// Which image of the archive to use.
    #[command(flatten)]
    pub select: SelectArgs,
}

/// How a command ended (errors are `Err`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went fine (every CI rule passed).
    Success,
    /// A CI rule failed.
    RulesFailed,
}

/// What the process environment says, passed in so tests control it.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The `CI` variable.
    pub ci: Option<String>,
    /// Whether `NO_COLOR` is set (and not empty).
    pub no_color: bool,
    /// Whether stdout is a terminal.
    pub stdout_is_tty: bool,
    /// Where default config files are looked for.
    pub cwd: PathBuf,
}

impl Env {
    /// The real environment.
    pub fn from_process() -> Env {
        Env {
            ci: std::env::var("CI").ok(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            stdout_is_tty: io::stdout().is_terminal(),
            cwd: std::env::current_dir().unwrap_or_default(),
        }
    }

    /// `CI` set to true, 1 or yes (any case).
    fn ci_mode(&self) -> bool {
        self.ci.as_deref().is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
    }
}

/// Run a parsed command line.
pub fn run(cli: Cli, env: &Env) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::Files(args)) => run_files(&args),
        None => run_show(&cli.show, env),
    }
}

fn selection(args: &SelectArgs) -> anyhow::Result<Selection> {
    let platform = match &args.platform {
        Some(text) => Some(Platform::parse(text).with_context(|| {
            format!("invalid --platform '{text}': expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64")
        })?),
        None => None,
    };
    Ok(Selection { image: args.image_name.clone(), platform })
}

/// `-` is stdin, nothing is the demo image; dive's and skopeo's transport prefixes are accepted.
fn input_of(arg: Option<&str>) -> Input {
    match arg {
        Some(arg) => {
            let path = ["docker-archive://", "docker-archive:", "oci-archive://", "oci-archive:", "oci://", "oci:"]
                .iter()
                .find_map(|p| arg.strip_prefix(p))
                .unwrap_or(arg);
            Input::from_arg(path)
        }
        None => Input::Bytes { name: DEMO_NAME.to_string(), bytes: Arc::from(DEMO_IMAGE) },
    }
}

fn load(input: &Input, select: &SelectArgs) -> anyhow::Result<Image> {
    let selection = selection(select)?;
    let name = input.display_name();
    crate::image::load(input, &selection).map_err(|e| {
        // Most engine errors name the input already; say it only when they do not.
        let message = e.to_string();
        let err = anyhow::Error::new(e);
        if message.contains(&name) { err } else { err.context(format!("cannot read {name}")) }
    })
}

fn run_files(args: &FilesArgs) -> anyhow::Result<Outcome> {
    let image = load(&input_of(Some(&args.input)), &args.select)?;
    if let Some(n) = args.layer {
        if n >= image.layers.len() {
            bail!(
                "--layer {n}: the image has {} layers (0 to {})",
                image.layers.len(),
                image.layers.len().saturating_sub(1)
            );
        }
    }
    let options = FilesOptions { layer: args.layer, changes_only: args.changes };
    let stdout = io::stdout().lock();
    write_files(&image, options, BufWriter::with_capacity(1 << 16, stdout)).context("writing to stdout")?;
    Ok(Outcome::Success)
}

/// The CI policy, checked before any image is read.
fn policy(args: &ShowArgs, env: &Env) -> anyhow::Result<Policy> {
    let path = match &args.ci.ci_config {
        Some(p) => {
            if !p.is_file() {
                bail!("--ci-config {}: no such file", p.display());
            }
            Some(p.clone())
        }
        None => ci::find_config(&env.cwd),
    };
    let file = match &path {
        Some(p) => Some(ci::load_config(p).map_err(anyhow::Error::msg)?),
        None => None,
    };
    Ok(Policy::build(&args.ci.flags(), file.as_ref(), args.analysis.dive_compat)?)
}

fn run_show(args: &ShowArgs, env: &Env) -> anyhow::Result<Outcome> {
    let ci_mode = args.ci.ci || env.ci_mode();
    if !ci_mode && args.json.is_none() && !args.report {
        let options = analysis::Options { base_layers: args.analysis.base_layers, top: None };
        crate::tui::run(input_of(args.input.as_deref()), selection(&args.select)?, options, !env.no_color)?;
        return Ok(Outcome::Success);
    }
    let policy = if ci_mode { Some(policy(args, env)?) } else { None };
    let started = Instant::now();
    let image = load(&input_of(args.input.as_deref()), &args.select)?;
    let analysis = analysis::analyze(&image, &analysis::Options { base_layers: args.analysis.base_layers, top: None });
    // Every report carries dive's figures beside layerscope's; the explorer shows none, so only here.
    let dive = analysis::dive::figures(&image);
    let verdict = policy.as_ref().map(|p| ci::evaluate(&analysis, &dive, p));

    if let Some(path) = &args.json {
        write_json_report(&image, &analysis, &dive, verdict.as_ref(), args.analysis.dive_compat, path)?;
    }
    if let Some(verdict) = &verdict {
        write_ci_report(&image, &analysis, &dive, verdict, args, env, started.elapsed().as_secs_f64())?;
        return Ok(if verdict.passed { Outcome::Success } else { Outcome::RulesFailed });
    }
    if args.json.is_none() {
        let style = Style { color: env.stdout_is_tty && !env.no_color };
        write_text(&image, &analysis, &dive, None, style, BufWriter::new(io::stdout().lock()))
            .context("writing to stdout")?;
    }
    Ok(Outcome::Success)
}

/// Open `path` for writing (`-` or none: stdout). `File::create` truncates: a shorter report never
/// leaves the tail of an older one behind.
fn output(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::new(io::stdout().lock())),
        Some(p) if p == Path::new("-") => Box::new(BufWriter::new(io::stdout().lock())),
        Some(p) => Box::new(BufWriter::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
    })
}

fn write_json_report(
    image: &Image,
    analysis: &Analysis,
    dive: &DiveFigures,
    verdict: Option<&Verdict>,
    dive_compat: bool,
    path: &str,
) -> anyhow::Result<()> {
    let mut out = output(Some(Path::new(path)))?;
    let target = if path == "-" { "stdout".to_string() } else { path.to_string() };
    if dive_compat {
        out.write_all(analysis::dive::export_json(image, dive).as_bytes())
            .with_context(|| format!("writing the dive export to {target}"))?;
    } else {
        Report::new(image, analysis, dive, verdict)
            .write_json(&mut out)
            .with_context(|| format!("writing the JSON report to {target}"))?;
        writeln!(out).with_context(|| format!("writing {target}"))?;
    }
    out.flush().with_context(|| format!("writing {target}"))?;
    Ok(())
}

fn write_ci_report(
    image: &Image,
    analysis: &Analysis,
    dive: &DiveFigures,
    verdict: &Verdict,
    args: &ShowArgs,
    env: &Env,
    seconds: f64,
) -> anyhow::Result<()> {
    let to_stdout = args.ci.output.as_ref().is_none_or(|p| p == Path::new("-"));
    let mut out = output(args.ci.output.as_deref())?;
    let target = args.ci.output.as_ref().map_or_else(|| "stdout".to_string(), |p| p.display().to_string());
    let result = match args.ci.format {
        Format::Text => {
            let style = Style { color: to_stdout && env.stdout_is_tty && !env.no_color };
            write_text(image, analysis, dive, Some(verdict), style, &mut out)
        }
        Format::Json => Report::new(image, analysis, dive, Some(verdict))
            .write_json(&mut out)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Junit => junit::write_junit(image, verdict, &utc_timestamp(), &hostname(), seconds, &mut out),
        Format::Sarif => sarif::write_sarif(image, analysis, verdict, &mut out),
        Format::Github => github::write_github(image, analysis, verdict, &mut out),
    };
    result.and_then(|()| out.flush()).with_context(|| format!("writing the CI report to {target}"))
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Now, as `YYYY-MM-DDTHH:MM:SS` in UTC.
fn utc_timestamp() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

/// Whether an error is a closed pipe on output (`layerscope files x | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe)
    })
}
