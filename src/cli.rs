//! Command-line interface: arguments and what each command does. Lives in the library so tests
//! can run commands without a process; `main.rs` only maps the outcome to an exit code.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::analysis;
use crate::archive::Input;
use crate::cache::Cache;
use crate::ci::{self, Policy, Rule};
use crate::format::{Platform, Selection};
use crate::image::Image;
use crate::layer::ReadOptions;
use crate::limits::Limits;
use crate::report::files::{FilesOptions, write_files};
use crate::report::text::{Style, write_text};
use crate::report::{Report, github, junit, sarif};
use crate::source::{self, SourceOptions, Target, Transfer};
use crate::text::plural;

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

IMAGE: an archive (docker save, podman save, skopeo/buildah oci-archive, kaniko tarballs, gzip or
zstd compressed or not), an OCI layout directory, '-' for stdin, or an image by name:
  docker://NAME  podman://NAME  containerd://NAME   from a local engine
  registry://NAME                                   from its registry, no daemon needed
  container://NAME|ID   a Docker or Podman container, its writable layer on top (`layerscope container`)
  docker-archive:PATH  oci-archive:PATH[:REF]  oci:DIR[:REF]   skopeo's spellings
  NAME[:TAG|@DIGEST]   the local engines that hold it (docker, podman, containerd), else its registry
Pulled and exported blobs, and the parsed layers, are kept in the cache (--cache-dir; see
`layerscope cache`).
Exit codes: 0 ok (all rules pass), 1 a CI rule failed, 2 error.";

/// layerscope: see what is inside a container image and where its bytes are wasted.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do (default: show the image).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Image archive, OCI layout directory, '-' for stdin, or an image name (docker://,
    /// podman://, containerd://, registry://, or a bare NAME[:TAG]) [default: the bundled demo
    /// image, in the explorer only]
    #[arg(value_name = "IMAGE")]
    pub inputs: Vec<String>,
    /// Showing one image.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// How an image is shown (the default command, and `container`).
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Write the JSON report (schema layerscope.report/v2; dive's schema with --dive-compat) to
    /// FILE ('-' for stdout)
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Print the text report (figures, worst layers, top waste, warnings) instead of opening the
    /// explorer
    #[arg(long)]
    pub report: bool,
    /// Check every layer blob against its digest and every uncompressed layer against its DiffID
    /// (sha256) while reading [default in CI mode]
    #[arg(long, overrides_with = "no_verify")]
    pub verify: bool,
    /// Do not check digests (CI mode checks them by default)
    #[arg(long, overrides_with = "verify")]
    pub no_verify: bool,
    /// The explorer's settings: theme, colours, keys, first view [default:
    /// $XDG_CONFIG_HOME/layerscope/config.yaml; without it, dive's ~/.dive.yaml key bindings]
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Which image of the archive to use.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where the image comes from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Bounds on what the input may cost.
    #[command(flatten)]
    pub limits: LimitArgs,
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
    /// Image to pick from an archive holding several: a name as docker or podman shows it (web,
    /// web:1.0, holdout/web, localhost/holdout/web:1.0)
    #[arg(long = "image", value_name = "NAME[:TAG]")]
    pub image_name: Option<String>,
}

/// Where images come from, and the cache.
#[derive(Debug, Args, Clone, Default)]
pub struct SourceArgs {
    /// Read IMAGE from this source whatever its spelling: docker, podman, containerd, registry,
    /// or docker-archive/oci-archive/oci (a path; the format is detected from the contents)
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// The cache of pulled blobs and parsed layers [default: $XDG_CACHE_HOME/layerscope, else
    /// ~/.cache/layerscope]
    #[arg(long, value_name = "DIR", env = "LAYERSCOPE_CACHE_DIR", hide_env = true)]
    pub cache_dir: Option<PathBuf>,
    /// Use no cache (even with --cache-dir): pulled blobs go to a temporary folder removed at exit
    #[arg(long)]
    pub no_cache: bool,
    /// Reach this registry (HOST[:PORT]) over plain HTTP; localhost and 127.0.0.1 always are
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
    /// containerd namespace for containerd:// images [default: $CONTAINERD_NAMESPACE, else default]
    #[arg(long, value_name = "NS")]
    pub containerd_namespace: Option<String>,
}

impl SourceArgs {
    /// The cache these flags name (`None` for --no-cache, or when no home is known).
    pub fn cache(&self) -> Option<Cache> {
        if self.no_cache {
            return None;
        }
        self.cache_dir.clone().or_else(Cache::default_root).map(Cache::at)
    }

    fn options(&self, selection: Selection, read: ReadOptions) -> SourceOptions {
        SourceOptions {
            cache: self.cache(),
            insecure_registries: self.insecure_registry.clone(),
            selection,
            limits: read.limits,
            read_ahead: Some(read),
            containerd_namespace: self
                .containerd_namespace
                .clone()
                .or_else(|| std::env::var("CONTAINERD_NAMESPACE").ok().filter(|n| !n.is_empty()))
                .unwrap_or_else(|| "default".into()),
        }
    }
}

/// Bounds on disk, memory and time (README: "Security and limits").
#[derive(Debug, Args, Clone, Default)]
pub struct LimitArgs {
    /// Most bytes to write to a temporary file when stdin, a FIFO or a compressed archive must be
    /// inflated to be read [default: 64GiB]
    #[arg(long, value_name = "SIZE")]
    pub max_spill: Option<String>,
    /// A layer may inflate to this many times its blob size (or 1 GiB, whichever is more)
    /// [default: 1000]
    #[arg(long, value_name = "RATIO")]
    pub max_inflate: Option<u64>,
    /// No layer may inflate to more than this [default: 1TiB]
    #[arg(long, value_name = "SIZE")]
    pub max_layer_size: Option<String>,
}

impl LimitArgs {
    /// The limits these flags set, the defaults elsewhere.
    fn limits(&self) -> anyhow::Result<Limits> {
        let mut limits = Limits::default();
        let size = |flag: &str, v: &str| {
            ci::parse_bytes(v.trim()).map_err(|reason| anyhow::anyhow!("invalid {flag} '{v}': {reason}"))
        };
        if let Some(v) = &self.max_spill {
            limits.spill_bytes = size("--max-spill", v)?;
        }
        if let Some(r) = self.max_inflate {
            if r == 0 {
                bail!("invalid --max-inflate 0: a layer must be allowed to inflate at least to its own size");
            }
            limits.inflate_ratio = r;
        }
        if let Some(v) = &self.max_layer_size {
            limits.layer_bytes = size("--max-layer-size", v)?;
            limits.inflate_floor = limits.inflate_floor.min(limits.layer_bytes);
        }
        Ok(limits)
    }
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
    /// Also read a package database too large to keep while its compressed layer was read (over
    /// 16 MiB), inflating that layer once more; every other database is always read
    #[arg(long)]
    pub packages: bool,
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
    /// Report format in CI mode [default: text]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the CI report to PATH instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Fail when a layer blob is missing or a digest does not match: enabled or disabled
    /// [default: enabled]
    #[arg(long, value_name = "SWITCH")]
    pub complete_image: Option<String>,
    /// Fail when efficiency is below this ratio [default: 0.9]
    #[arg(long, alias = "lowestEfficiency", value_name = "RATIO", allow_negative_numbers = true)]
    pub lowest_efficiency: Option<String>,
    /// Fail when more bytes than this are wasted [default: disabled]
    #[arg(long, alias = "highestWastedBytes", value_name = "SIZE", allow_negative_numbers = true)]
    pub highest_wasted_bytes: Option<String>,
    /// Fail when user wasted percent is above this ratio [default: 0.1]
    #[arg(long, alias = "highestUserWastedPercent", value_name = "RATIO", allow_negative_numbers = true)]
    pub highest_user_wasted_percent: Option<String>,
    /// Fail when one layer ships more wasted bytes than this [default: disabled]
    #[arg(long, alias = "highestLayerWastedBytes", value_name = "SIZE", allow_negative_numbers = true)]
    pub highest_layer_wasted_bytes: Option<String>,
    /// Fail when user efficiency is below this ratio [default: disabled]
    #[arg(long, alias = "lowestUserEfficiency", value_name = "RATIO", allow_negative_numbers = true)]
    pub lowest_user_efficiency: Option<String>,
    /// Noise floor: below this many wasted bytes the percentage rules pass [default: disabled]
    #[arg(long, alias = "minWastedBytes", value_name = "SIZE", allow_negative_numbers = true)]
    pub min_wasted_bytes: Option<String>,
}

impl CiArgs {
    fn flags(&self) -> Vec<(Rule, String)> {
        [
            (Rule::CompleteImage, &self.complete_image),
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

    /// The first option given that only CI mode uses, as it is spelled on the command line.
    fn first_ci_only_option(&self) -> Option<String> {
        if self.ci_config.is_some() {
            return Some("--ci-config".into());
        }
        if self.format.is_some() {
            return Some("--format".into());
        }
        if self.output.is_some() {
            return Some("--output".into());
        }
        self.flags().first().map(|(rule, _)| format!("--{}", rule.name()))
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the merged file tree as JSON Lines, one path per line, sorted by path bytes
    ///
    /// Keys: path (and path_raw, hex, when the name is not UTF-8), kind, size, mode, uid, gid,
    /// link (and link_raw), dev, mtime, layer (the layer that last wrote the path), change
    /// (added, modified, metadata_only, removed or unchanged, relative to the layer below),
    /// package (the dpkg or apk package that owns the path).
    /// Warnings go to stderr; CI mode does not apply.
    Files(Box<FilesArgs>),
    /// Show the cache (pulled blobs and parsed layers): where it is and what it holds
    Cache(CacheArgs),
    /// The disk several images take together, shared layers counted once
    ///
    /// Per image its size, the bytes it shares with the others (layers with the same ChainID) and
    /// its own; in all, the sum of sizes against each layer counted once. Every image of a
    /// multi-image archive is counted. On a terminal, disk mode (the images, and each one's layers
    /// marked with how many other images have them); else a table (--report forces it), or
    /// --format json (layerscope.df/v1).
    Df(Box<DfArgs>),
    /// Compare two images: shared layers, changed paths, size and waste deltas
    ///
    /// Layers shared and where the stacks part, every path added, removed, modified,
    /// metadata-only or of another type, per-directory totals, and the change in size, final size
    /// and waste. On a terminal, compare mode (both layer stacks and the paths that differ);
    /// else text (--report forces it), or --format json (layerscope.diff/v1). --fail-on-growth
    /// exits 1 when the new image is bigger by more than BYTES (10MB) or PERCENT (5%).
    Diff(Box<DiffArgs>),
    /// Show a Docker or Podman container: its image's layers, its writable layer on top
    ///
    /// The writable layer (overlay's UpperDir: what the container added, changed and deleted;
    /// copy-on-write copies a whole file up on its first change) is read from the UpperDir the
    /// engine names when it can be read, else from the engine's changes list and an export.
    /// Every option of the default command applies (--json, --report, --ci...); --source docker or
    /// podman picks the engine [default: Docker, then Podman].
    Container(Box<ContainerArgs>),
}

/// Arguments of `container`.
#[derive(Debug, Args)]
pub struct ContainerArgs {
    /// The container's name or ID
    #[arg(value_name = "NAME|ID")]
    pub container: String,
    /// Where its writable layer is read: auto (the UpperDir when it can be read, else the
    /// engine), upperdir, or engine (its changes list and an export)
    #[arg(long, value_name = "FROM", default_value = "auto", value_parser = ["auto", "upperdir", "engine"])]
    pub writable_layer: String,
    /// How it is shown.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// Arguments of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The image before (an archive, a directory or a name)
    #[arg(value_name = "OLD")]
    pub old: String,
    /// The image after
    #[arg(value_name = "NEW")]
    pub new: String,
    /// text or json
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Print the text instead of opening compare mode (the explorer's view of the two images,
    /// the default when stdout is a terminal)
    #[arg(long)]
    pub report: bool,
    /// Paths and directories listed in the text [default: 20]
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// Exit 1 when the new image's size grew by more than this: bytes (10MB) or a percent (5%)
    #[arg(long, value_name = "BYTES|PERCENT")]
    pub fail_on_growth: Option<String>,
    /// Where images come from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Bounds on what the input may cost.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Images: archives, OCI layout directories, or names (as for the explorer)
    #[arg(value_name = "IMAGE", required = true)]
    pub inputs: Vec<String>,
    /// text (a table) or json
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Print the table instead of opening disk mode (the images and their layers, the default
    /// when stdout is a terminal)
    #[arg(long)]
    pub report: bool,
    /// Where images come from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Bounds on what the input may cost.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do [default: show what the cache holds]
    #[command(subcommand)]
    pub action: Option<CacheAction>,
    /// The cache [default: $XDG_CACHE_HOME/layerscope, else ~/.cache/layerscope]
    #[arg(long, value_name = "DIR", env = "LAYERSCOPE_CACHE_DIR", hide_env = true, global = true)]
    pub cache_dir: Option<PathBuf>,
}

/// What `cache` does.
#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Remove the least recently used entries until the cache holds at most --max-size, or
    /// everything without it
    Prune {
        /// Keep at most this much (20GB, 512MiB)
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
}

/// Arguments of `files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// Image archive, OCI layout directory, '-' for stdin, or an image name (as for the explorer)
    #[arg(value_name = "IMAGE")]
    pub input: String,
    /// Show the tree after layer N (0 = base) [default: the last layer]
    #[arg(long, value_name = "N")]
    pub layer: Option<usize>,
    /// Print only what the layer changed, removed paths included
    #[arg(long)]
    pub changes: bool,
    /// Check every layer blob and DiffID while reading (mismatches are warned about on stderr)
    #[arg(long)]
    pub verify: bool,
    /// Also read a package database too large to keep while its compressed layer was read (over
    /// 16 MiB), for the `package` key
    #[arg(long)]
    pub packages: bool,
    /// Which image of the archive to use.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where the image comes from.
    #[command(flatten)]
    pub sources: SourceArgs,
    /// Bounds on what the input may cost.
    #[command(flatten)]
    pub limits: LimitArgs,
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
    /// Whether stderr is a terminal.
    pub stderr_is_tty: bool,
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
            stderr_is_tty: io::stderr().is_terminal(),
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
        Some(Command::Cache(args)) => run_cache(&args),
        Some(Command::Df(args)) => run_df(&args, env),
        Some(Command::Diff(args)) => run_diff(&args, env),
        Some(Command::Container(args)) => run_container(&args, env),
        None => {
            let target = match one_input(&cli.inputs)? {
                Some(arg) => Some(target_of(arg, &cli.show.sources)?),
                None => None,
            };
            run_show(&cli.show, target, env)
        }
    }
}

/// `layerscope container NAME|ID`: the default command on the container's image and layer.
fn run_container(args: &ContainerArgs, env: &Env) -> anyhow::Result<Outcome> {
    use crate::source::EngineKind;
    use crate::source::container::WritableFrom;
    let engine = match args.show.sources.source.as_deref() {
        None => None,
        Some("docker") => Some(EngineKind::Docker),
        Some("podman") => Some(EngineKind::Podman),
        Some(other) => bail!("--source '{other}': a container is Docker's or Podman's (docker, podman)"),
    };
    let from = match args.writable_layer.as_str() {
        "upperdir" => WritableFrom::UpperDir,
        "engine" => WritableFrom::Engine,
        _ => WritableFrom::Auto,
    };
    let target = Target::Container { engine, name: args.container.clone(), from };
    run_show(&args.show, Some(target), env)
}

fn selection(args: &SelectArgs) -> anyhow::Result<Selection> {
    let platform = match &args.platform {
        Some(text) => Some(Platform::parse(text).with_context(|| {
            format!("invalid --platform '{text}': expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64")
        })?),
        None => None,
    };
    Ok(Selection { image: args.image_name.clone(), platform, index: None })
}

/// What IMAGE names (`--source` forces the reading).
fn target_of(arg: &str, sources: &SourceArgs) -> anyhow::Result<Target> {
    Ok(Target::parse(arg, sources.source.as_deref())?)
}

/// The bundled demo image.
fn demo_input() -> Input {
    Input::Bytes { name: DEMO_NAME.to_string(), bytes: Arc::from(DEMO_IMAGE) }
}

/// The one IMAGE argument, if given (an empty one, as an unset `$IMAGE` gives, is none).
fn one_input(inputs: &[String]) -> anyhow::Result<Option<&str>> {
    match inputs {
        [] => Ok(None),
        [one] if one.is_empty() => Ok(None),
        [one] => Ok(Some(one)),
        [first, rest @ ..] => bail!(
            "give one IMAGE, not {}: '{first}', {}",
            inputs.len(),
            rest.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Why nothing can be read: the demo opens only in the interactive explorer.
fn no_image() -> anyhow::Error {
    anyhow::anyhow!(
        "no image given: name an image archive, an OCI layout directory or '-' for stdin \
         (the bundled demo image opens only in the interactive explorer)"
    )
}

fn load(target: &Target, select: &SelectArgs, sources: &SourceArgs, options: &ReadOptions) -> anyhow::Result<Image> {
    let options_for_source = sources.options(selection(select)?, *options);
    let name = target.display_name();
    let with_name = |e: crate::Error| {
        // Most engine errors name the input already; say it only when they do not.
        let message = e.to_string();
        let named = message.contains(&name) || matches!(e, crate::Error::Registry { .. } | crate::Error::Engine { .. });
        let err = anyhow::Error::new(e);
        if named { err } else { err.context(format!("cannot read {name}")) }
    };
    let transfer = Transfer::default();
    let opened = {
        // Ctrl+C while a pull or an export runs stops it cleanly (partial files removed); a second
        // one, or one while the layers are read, ends the process as usual.
        let _signals = CancelOnSignal::register(&transfer);
        source::open(target, &options_for_source, &transfer).map_err(with_name)?
    };
    if matches!(target, Target::Name(_)) {
        // A bare name could have come from several places: say which.
        eprintln!("layerscope: reading {}", crate::text::terminal_safe(&opened.origin.to_string()));
    }
    crate::image::open_source(opened, options_for_source.cache.as_ref(), *options)
        .and_then(|l| l.load(None))
        .map_err(with_name)
}

fn run_files(args: &FilesArgs) -> anyhow::Result<Outcome> {
    let read = ReadOptions { verify: args.verify, limits: args.limits.limits()? };
    let image = load(&target_of(&args.input, &args.sources)?, &args.select, &args.sources, &read)?;
    if let Some(n) = args.layer
        && n >= image.layers.len()
    {
        bail!(
            "--layer {n}: the image has {} (0 to {})",
            plural(image.layers.len(), "layer", "layers"),
            image.layers.len().saturating_sub(1)
        );
    }
    warn_on_stderr(&image);
    let options = FilesOptions { layer: args.layer, changes_only: args.changes };
    let owners = analysis::packages::packages_and_owners(&image, args.packages);
    let stdout = io::stdout().lock();
    write_files(&image, options, owners.as_ref().map(|(p, o)| (p, o)), BufWriter::with_capacity(1 << 16, stdout))
        .context("writing to stdout")?;
    Ok(Outcome::Success)
}

fn run_df(args: &DfArgs, env: &Env) -> anyhow::Result<Outcome> {
    let read = ReadOptions { verify: false, limits: args.limits.limits()? };
    let targets = args.inputs.iter().map(|i| target_of(i, &args.sources)).collect::<anyhow::Result<Vec<_>>>()?;
    let options = args.sources.options(Selection::default(), read);
    // On a terminal, disk mode, unless a report is asked for.
    if env.stdout_is_tty && !args.report && args.format == "text" {
        let title = args.inputs.join(" ");
        let compute: crate::tui::Compute = Box::new(move |transfer: &Transfer| {
            let images = df_images(&targets, &options, read, transfer).map_err(|e| error_text(&e))?;
            let named: Vec<(String, &Image)> = images.iter().map(|(n, i)| (n.clone(), i)).collect();
            Ok(crate::tui::Computed::Disk(Box::new(crate::tui::disk::DiskView::new(&named))))
        });
        let settings = crate::tui::config::load(None)?;
        crate::tui::run_lists(&title, compute, settings, !env.no_color)?;
        return Ok(Outcome::Success);
    }
    let images = df_images(&targets, &options, read, &Transfer::default())?;
    let named: Vec<(String, &Image)> = images.iter().map(|(n, i)| (n.clone(), i)).collect();
    let usage = analysis::disk::disk_usage(&named);
    let stdout = io::stdout().lock();
    match args.format.as_str() {
        "json" => crate::report::df::write_json(&usage, stdout),
        _ => crate::report::df::write_text(&usage, stdout),
    }
    .context("writing to stdout")?;
    Ok(Outcome::Success)
}

/// Every image `targets` name, each image of a multi-image archive included, with its name.
fn df_images(
    targets: &[Target],
    options: &SourceOptions,
    read: ReadOptions,
    transfer: &Transfer,
) -> anyhow::Result<Vec<(String, Image)>> {
    let mut images: Vec<(String, Image)> = Vec::new();
    for target in targets {
        let one = |index: Option<usize>| -> anyhow::Result<Image> {
            let mut options = options.clone();
            options.selection = Selection { index, ..Selection::default() };
            let opened = source::open(target, &options, transfer)
                .with_context(|| format!("cannot read {}", target.display_name()))?;
            Ok(crate::image::open_source(opened, options.cache.as_ref(), read)?.load(None)?)
        };
        match one(None) {
            Ok(image) => images.push((image_name(&image), image)),
            // Every image of a multi-image archive counts.
            Err(e) => match e.downcast_ref::<crate::Error>() {
                Some(crate::Error::SeveralImages { available }) => {
                    for i in 0..available.len() {
                        let image = one(Some(i))?;
                        images.push((image_name(&image), image));
                    }
                }
                _ => return Err(e),
            },
        }
    }
    Ok(images)
}

fn run_diff(args: &DiffArgs, env: &Env) -> anyhow::Result<Outcome> {
    // The limit is checked before anything is read: a typo fails at once.
    let limit = match &args.fail_on_growth {
        None => None,
        Some(text) => Some(match text.trim().strip_suffix('%') {
            Some(p) => {
                Growth::Percent(p.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(
                    || anyhow::anyhow!("--fail-on-growth {text}: expected bytes (10MB) or a percent (5%)"),
                )?)
            }
            None => Growth::Bytes(
                crate::ci::parse_bytes(text).map_err(|e| anyhow::anyhow!("--fail-on-growth {text}: {e}"))?,
            ),
        }),
    };
    let read = ReadOptions { verify: false, limits: args.limits.limits()? };
    let select = SelectArgs { platform: None, image_name: None };
    let open = |input: &str| -> anyhow::Result<(Image, analysis::Analysis)> {
        let image = load(&target_of(input, &args.sources)?, &select, &args.sources, &read)?;
        let (analysis, _) = analysis::analyze_cached(&image, &analysis::Options::default(), false);
        Ok((image, analysis))
    };
    // On a terminal, compare mode, unless a report or a gate is asked for.
    let explore = env.stdout_is_tty && !args.report && args.format == "text" && limit.is_none();
    if explore {
        let (old_arg, new_arg) = (args.old.clone(), args.new.clone());
        let targets = (target_of(&old_arg, &args.sources)?, target_of(&new_arg, &args.sources)?);
        let title = format!("{old_arg} → {new_arg}");
        let options = args.sources.options(Selection::default(), read);
        let compare: crate::tui::Compute = Box::new(move |transfer: &Transfer| {
            let open = |target: &Target| -> Result<(Image, analysis::Analysis), String> {
                let opened = source::open(target, &options, transfer).map_err(|e| e.to_string())?;
                let loader =
                    crate::image::open_source(opened, options.cache.as_ref(), read).map_err(|e| e.to_string())?;
                let image = loader.load(None).map_err(|e| e.to_string())?;
                let (analysis, _) = analysis::analyze_cached(&image, &analysis::Options::default(), false);
                Ok((image, analysis))
            };
            let (old, old_analysis) = open(&targets.0)?;
            let (new, new_analysis) = open(&targets.1)?;
            let diff = analysis::diff::compare((&old, &old_analysis), (&new, &new_analysis));
            let named = |arg: &str, image: &Image| format!("{arg} · {}", image_name(image));
            let c = crate::tui::compare::Comparison::new(
                (named(&old_arg, &old), &old),
                (named(&new_arg, &new), &new),
                diff,
            );
            Ok(crate::tui::Computed::Comparison(Box::new(c)))
        });
        let settings = crate::tui::config::load(None)?;
        crate::tui::run_lists(&title, compare, settings, !env.no_color)?;
        return Ok(Outcome::Success);
    }
    let (old, old_analysis) = open(&args.old)?;
    let (new, new_analysis) = open(&args.new)?;
    let diff = analysis::diff::compare((&old, &old_analysis), (&new, &new_analysis));
    let (old_name, new_name) = (image_name(&old), image_name(&new));
    let stdout = io::stdout().lock();
    match args.format.as_str() {
        "json" => crate::report::diff::write_json(&diff, &old_name, &new_name, stdout),
        _ => crate::report::diff::write_text(&diff, &old_name, &new_name, args.top, stdout),
    }
    .context("writing to stdout")?;
    let grew = diff.size_delta_bytes.max(0).unsigned_abs();
    let failed = match limit {
        None => false,
        Some(Growth::Bytes(max)) => grew > max,
        Some(Growth::Percent(max)) => {
            let before = diff.size_bytes.0.max(1) as f64;
            grew as f64 * 100.0 / before > max
        }
    };
    if failed {
        eprintln!(
            "layerscope: the new image grew by {} ({}), more than --fail-on-growth {}",
            crate::units::human_bytes(grew),
            crate::text::terminal_safe(&format!("{:.1} %", grew as f64 * 100.0 / diff.size_bytes.0.max(1) as f64)),
            crate::text::terminal_safe(args.fail_on_growth.as_deref().unwrap_or(""))
        );
        return Ok(Outcome::RulesFailed);
    }
    Ok(Outcome::Success)
}

/// `--fail-on-growth`: bytes or a percent of the old image's size.
enum Growth {
    Bytes(u64),
    Percent(f64),
}

/// How `df` names an image: its first tag, else where it came from.
/// An image as `df` and `diff` name it: its first tag, with the archive it is in when the tag is
/// a bare reference (an OCI layout's `latest`); else where it came from.
fn image_name(image: &Image) -> String {
    match image.tags.first() {
        Some(tag) if tag.contains(['/', ':', '@']) => tag.clone(),
        Some(tag) => format!("{}:{tag}", file_name(&image.source)),
        None => image.source.clone(),
    }
}

/// The last part of a path (all of it when it has none).
fn file_name(path: &str) -> &str {
    Path::new(path).file_name().and_then(|n| n.to_str()).unwrap_or(path)
}

fn run_cache(args: &CacheArgs) -> anyhow::Result<Outcome> {
    let cache = args
        .cache_dir
        .clone()
        .or_else(Cache::default_root)
        .map(Cache::at)
        .ok_or_else(|| anyhow::anyhow!("no cache folder: set HOME, XDG_CACHE_HOME or --cache-dir"))?;
    let root = cache.root().display().to_string();
    let mut out = io::stdout().lock();
    match &args.action {
        None => {
            let usage = cache.usage().with_context(|| format!("reading the cache in {root}"))?;
            writeln!(out, "cache      {}", crate::text::terminal_safe(&root))?;
            writeln!(out, "size       {}", crate::text::size(usage.total_bytes()))?;
            writeln!(
                out,
                "blobs      {} ({})   layers, configs and manifests, by digest",
                usage.blobs,
                crate::text::size(usage.blob_bytes)
            )?;
            writeln!(
                out,
                "records    {} ({})   parsed layers, so a layer is never read twice",
                usage.records,
                crate::text::size(usage.record_bytes)
            )?;
            writeln!(
                out,
                "trees      {} ({})   merged trees of whole images, so a stack is never merged twice",
                usage.trees,
                crate::text::size(usage.tree_bytes)
            )?;
            writeln!(
                out,
                "figures    {} ({})   analyses of those trees, so an image is never analysed twice",
                usage.derived,
                crate::text::size(usage.derived_bytes)
            )?;
            writeln!(out, "tags       {}   what each pulled tag named, for offline use", usage.tags)?;
            if usage.temp_bytes > 0 {
                writeln!(
                    out,
                    "partial    {}   downloads in progress or left by a run that died",
                    crate::text::size(usage.temp_bytes)
                )?;
            }
            writeln!(
                out,
                "Trim it with `layerscope cache prune --max-size SIZE`, or empty it with `layerscope cache prune`."
            )?;
        }
        Some(CacheAction::Prune { max_size }) => {
            let max = match max_size {
                Some(v) => Some(
                    ci::parse_bytes(v.trim())
                        .map_err(|reason| anyhow::anyhow!("invalid --max-size '{v}': {reason}"))?,
                ),
                None => None,
            };
            let pruned = cache.prune(max).with_context(|| format!("pruning the cache in {root}"))?;
            let left = cache.usage().map(|u| u.total_bytes()).unwrap_or(0);
            writeln!(
                out,
                "removed {} ({}); the cache in {} now holds {}",
                plural(usize::try_from(pruned.entries).unwrap_or(usize::MAX), "entry", "entries"),
                crate::text::size(pruned.bytes),
                crate::text::terminal_safe(&root),
                crate::text::size(left)
            )?;
        }
    }
    Ok(Outcome::Success)
}

/// While alive, SIGINT and SIGTERM cancel a transfer instead of ending the process; a second one
/// ends it (exit 130).
struct CancelOnSignal {
    ids: Vec<signal_hook::SigId>,
}

impl CancelOnSignal {
    fn register(transfer: &Transfer) -> CancelOnSignal {
        let mut ids = Vec::new();
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The shutdown check runs first: it sees the flag the first signal set.
            ids.extend(signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&transfer.cancel)));
            ids.extend(signal_hook::flag::register(signal, Arc::clone(&transfer.cancel)));
        }
        CancelOnSignal { ids }
    }
}

impl Drop for CancelOnSignal {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Warnings shown on stderr, for commands whose stdout carries data.
const STDERR_WARNINGS: usize = 20;

fn warn_on_stderr(image: &Image) {
    let mut err = io::stderr().lock();
    for w in image.warnings.iter().take(STDERR_WARNINGS) {
        let _ = writeln!(err, "layerscope: warning: {}", crate::text::terminal_safe(&w.to_string()));
    }
    if image.warnings.len() > STDERR_WARNINGS {
        let _ = writeln!(err, "layerscope: … {} more warnings", image.warnings.len() - STDERR_WARNINGS);
    }
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
        Some(p) => Some(ci::load_config(p)?),
        None => None,
    };
    Ok(Policy::build(&args.ci.flags(), file.as_ref(), args.analysis.dive_compat)?)
}

/// Where a report goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Dest {
    Stdout,
    Stderr,
    File(PathBuf),
}

impl Dest {
    /// `-`, and any name of this process's stdout or stderr (`/dev/stdout`, `/dev/fd/2`, or the
    /// file a shell redirected it to), is that stream: the one-document rule applies to it.
    fn of(path: &Path) -> Dest {
        if path == Path::new("-") {
            return Dest::Stdout;
        }
        match same_file_as_std_stream(path) {
            Some(1) => Dest::Stdout,
            Some(2) => Dest::Stderr,
            _ => Dest::File(path.to_path_buf()),
        }
    }
}

/// Which of stdout (1) or stderr (2) `path` is, when it is one of them.
fn same_file_as_std_stream(path: &Path) -> Option<u8> {
    let names = [
        ("/dev/stdout", 1),
        ("/dev/fd/1", 1),
        ("/proc/self/fd/1", 1),
        ("/dev/stderr", 2),
        ("/dev/fd/2", 2),
        ("/proc/self/fd/2", 2),
    ];
    if let Some((_, n)) = names.iter().find(|(name, _)| path == Path::new(name)) {
        return Some(*n);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let id = |fd: u8| std::fs::metadata(format!("/proc/self/fd/{fd}")).ok().map(|m| (m.dev(), m.ino()));
        // A regular file or a pipe we write to anyway: the same inode is the same stream.
        [1u8, 2].into_iter().find(|&fd| id(fd) == Some((meta.dev(), meta.ino())))
    }
    #[cfg(not(unix))]
    None
}

/// One report the command writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Doc {
    /// The JSON report (with the verdict in CI mode).
    Json,
    /// dive's export (`--dive-compat --json`).
    DiveExport,
    /// The text report (with the rules in CI mode).
    Text,
    /// A CI report in another format.
    Ci(Format),
}

impl Doc {
    /// How the user asked for it, for messages.
    fn flag(self) -> &'static str {
        match self {
            Doc::Json | Doc::DiveExport => "--json",
            Doc::Text => "the text report",
            Doc::Ci(Format::Json) => "--format json",
            Doc::Ci(Format::Junit) => "--format junit",
            Doc::Ci(Format::Sarif) => "--format sarif",
            Doc::Ci(Format::Github) => "--format github",
            Doc::Ci(Format::Text) => "--format text",
        }
    }
}

/// Which reports go where. One rule decides it: stdout carries at most one machine-readable
/// document, never mixed with text; when one holds stdout the text report goes to stderr.
#[derive(Debug, Default)]
struct Plan {
    outputs: Vec<(Doc, Dest)>,
}

impl Plan {
    fn new(args: &ShowArgs, ci_mode: bool) -> anyhow::Result<Plan> {
        let mut outputs = Vec::new();
        if let Some(json) = &args.json {
            let doc = if args.analysis.dive_compat { Doc::DiveExport } else { Doc::Json };
            outputs.push((doc, Dest::of(Path::new(json))));
        }
        if ci_mode {
            let format = args.ci.format.unwrap_or_default();
            if args.report && format != Format::Text {
                bail!(
                    "--report prints the text report, but --format {} asks for another: in CI mode \
                     --format alone chooses the report",
                    format_name(format)
                );
            }
            let dest = args.ci.output.as_deref().map_or(Dest::Stdout, Dest::of);
            let doc = match format {
                Format::Text => Doc::Text,
                // Without --dive-compat the CI JSON is the --json report itself.
                Format::Json if !args.analysis.dive_compat => Doc::Json,
                f => Doc::Ci(f),
            };
            // `--json -` with `--format json` is one document; two files named alike are not.
            if !(dest == Dest::Stdout && outputs.contains(&(doc, Dest::Stdout))) {
                outputs.push((doc, dest));
            }
        } else if args.report {
            outputs.push((Doc::Text, Dest::Stdout));
        }
        let machine: Vec<Doc> =
            outputs.iter().filter(|(d, to)| *d != Doc::Text && *to == Dest::Stdout).map(|(d, _)| *d).collect();
        if let [a, b, ..] = machine.as_slice() {
            bail!(
                "{} and {} would both be written to stdout; send one of them to a file ({})",
                a.flag(),
                b.flag(),
                if matches!(a, Doc::Json | Doc::DiveExport) { "--json FILE or --output FILE" } else { "--output FILE" }
            );
        }
        if !machine.is_empty() {
            for (doc, dest) in &mut outputs {
                if *doc == Doc::Text && *dest == Dest::Stdout {
                    *dest = Dest::Stderr;
                }
            }
        }
        let files: Vec<&PathBuf> = outputs
            .iter()
            .filter_map(|(_, d)| match d {
                Dest::File(p) => Some(p),
                _ => None,
            })
            .collect();
        for (i, a) in files.iter().enumerate() {
            if files[..i].iter().any(|b| same_path(a, b)) {
                bail!("--json and --output both name {}: give each report its own file", a.display());
            }
        }
        Ok(Plan { outputs })
    }

    /// Refuse to write a report over the image being read.
    fn check_not_input(&self, target: &Target) -> anyhow::Result<()> {
        let Some(input) = target.path() else { return Ok(()) };
        for (doc, dest) in &self.outputs {
            if let Dest::File(p) = dest
                && same_path(p, input)
            {
                bail!("{} {} names the image being read; choose another file", doc.flag(), p.display());
            }
        }
        Ok(())
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Junit => "junit",
        Format::Sarif => "sarif",
        Format::Github => "github",
    }
}

/// Whether two paths name the same file (the same string, or the same existing inode).
fn same_path(a: &Path, b: &Path) -> bool {
    a == b || identity(a) == identity(b)
}

/// A path as the file it names: canonical when it exists, else its canonical directory and its
/// name (two spellings of one new file are one file).
fn identity(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let parent = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

fn run_show(args: &ShowArgs, target: Option<Target>, env: &Env) -> anyhow::Result<Outcome> {
    let ci_mode = args.ci.ci || env.ci_mode();
    if !ci_mode && let Some(flag) = args.ci.first_ci_only_option() {
        bail!("{flag} only applies in CI mode: add --ci (or set CI=true)");
    }
    let plan = Plan::new(args, ci_mode)?;
    let read = ReadOptions { verify: args.verify || (ci_mode && !args.no_verify), limits: args.limits.limits()? };
    let options = analysis::Options { base_layers: args.analysis.base_layers, top: None };
    if plan.outputs.is_empty() {
        if args.analysis.dive_compat {
            bail!("--dive-compat changes the CI figures and the --json schema; the explorer shows layerscope's own");
        }
        let options = crate::tui::analysis_options(args.analysis.base_layers);
        let selection = selection(&args.select)?;
        let (name, open): (String, crate::tui::Opener) = match target {
            None => {
                let demo = demo_input();
                let name = demo.display_name();
                (
                    name,
                    Box::new(move |_: &Transfer, picked: Option<usize>| {
                        let selection = Selection { index: picked, ..selection.clone() };
                        crate::image::open_with(&demo, &selection, read)
                    }),
                )
            }
            Some(target) => {
                let options = args.sources.options(selection, read);
                let name = target.display_name();
                (
                    name,
                    Box::new(move |transfer: &Transfer, picked: Option<usize>| {
                        let mut options = options.clone();
                        options.selection.index = picked;
                        let opened = source::open(&target, &options, transfer)?;
                        crate::image::open_source(opened, options.cache.as_ref(), read)
                    }),
                )
            }
        };
        let settings = crate::tui::config::load(args.config.as_deref())?;
        crate::tui::run(&name, open, options, settings, !env.no_color)?;
        return Ok(Outcome::Success);
    }
    if let Some(path) = &args.config {
        bail!("--config {} sets up the explorer; a report does not read it", path.display());
    }
    let target = target.ok_or_else(no_image)?;
    plan.check_not_input(&target)?;
    let policy = if ci_mode { Some(policy(args, env)?) } else { None };
    let started = Instant::now();
    let image = load(&target, &args.select, &args.sources, &read)?;
    analysis::check_options(&image, &options)?;
    // Every report carries dive's figures beside layerscope's; the explorer shows none, so only
    // here (with_dive).
    let (analysis, dive) = analysis::analyze_cached(&image, &options, true);
    let dive = dive.unwrap_or_else(|| analysis::dive::figures(&image));
    let verdict = policy.as_ref().map(|p| ci::evaluate(&analysis, &dive, &image.integrity(), p));
    // The packages, for the JSON report and the text (not the CI formats, which do not show them).
    let wants_packages =
        plan.outputs.iter().any(|(doc, _)| matches!(doc, Doc::Json | Doc::Text | Doc::Ci(Format::Json | Format::Text)));
    let packages = if wants_packages { analysis::packages::packages(&image, args.analysis.packages) } else { None };
    let seconds = started.elapsed().as_secs_f64();
    let dive_text = args.analysis.dive_compat;
    for (doc, dest) in &plan.outputs {
        let color = match dest {
            Dest::Stdout => env.stdout_is_tty && !env.no_color,
            Dest::Stderr => env.stderr_is_tty && !env.no_color,
            Dest::File(_) => false,
        };
        let target = match dest {
            Dest::Stdout => "stdout".to_string(),
            Dest::Stderr => "stderr".to_string(),
            Dest::File(p) => p.display().to_string(),
        };
        write_to(dest, |out| match doc {
            Doc::DiveExport => out.write_all(crate::report::dive::export_json(&image, &dive).as_bytes()),
            Doc::Json => Report::new(&image, &analysis, &dive, verdict.as_ref())
                .with_packages(packages.as_ref())
                .write_json(&mut *out)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out)),
            Doc::Text => {
                write_text(&image, &analysis, &dive, verdict.as_ref(), dive_text, Style { color }, out)?;
                match &packages {
                    Some(p) if !dive_text => crate::report::text::write_packages(p, Style { color }, out),
                    _ => Ok(()),
                }
            }
            Doc::Ci(format) => {
                let Some(verdict) = &verdict else { return Ok(()) };
                match format {
                    Format::Junit => junit::write_junit(&image, verdict, &utc_timestamp(), &hostname(), seconds, out),
                    Format::Sarif => sarif::write_sarif(&image, &analysis, verdict, out),
                    Format::Github => github::write_github(&image, &analysis, &dive, verdict, out),
                    Format::Json | Format::Text => Report::new(&image, &analysis, &dive, Some(verdict))
                        .with_packages(packages.as_ref())
                        .write_json(&mut *out)
                        .map_err(io::Error::from)
                        .and_then(|()| writeln!(out)),
                }
            }
        })
        .with_context(|| format!("writing {} to {target}", doc_name(*doc)))?;
    }
    Ok(match &verdict {
        Some(v) if !v.passed => Outcome::RulesFailed,
        _ => Outcome::Success,
    })
}

fn doc_name(doc: Doc) -> &'static str {
    match doc {
        Doc::Json => "the JSON report",
        Doc::DiveExport => "the dive export",
        Doc::Text => "the text report",
        Doc::Ci(_) => "the CI report",
    }
}

/// Write one report to `dest`. A regular file (or a new one) is written to a temporary file beside
/// it and renamed into place, so a killed run never leaves half a report and an old one stays
/// whole until then; a symlink is followed to the file it names. Anything else that exists (a
/// FIFO, `/dev/null`, a terminal) is written in place: renaming over it would replace the device.
fn write_to(dest: &Dest, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    match dest {
        Dest::Stdout => {
            let mut out = BufWriter::new(io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
        Dest::Stderr => {
            let mut out = BufWriter::new(io::stderr().lock());
            write(&mut out)?;
            out.flush()?;
        }
        Dest::File(path) => match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                let mut out = BufWriter::new(file);
                write(&mut out)?;
                out.flush()?;
            }
            Ok(meta) => {
                let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                write_atomically(&real, Some(meta.permissions()), write)?;
            }
            Err(_) => write_atomically(&follow_links(path), None, write)?,
        },
    }
    Ok(())
}

/// The file a path names once its symlinks are followed (a dangling one included: the report is
/// created where it points).
fn follow_links(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    // As many hops as the kernel follows before it gives up (ELOOP).
    for _ in 0..40 {
        let Ok(target) = std::fs::read_link(&path) else { break };
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    path
}

/// Write `path` through a temporary file in its directory, renamed over it at the end. The file
/// keeps the permissions it had (a new one gets 0644, as `File::create` gives under umask 022).
fn write_atomically(
    path: &Path,
    permissions: Option<std::fs::Permissions>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".layerscope-");
    if let Some(permissions) = permissions.or_else(new_file_permissions) {
        builder.permissions(permissions);
    }
    let temp = builder.tempfile_in(dir).with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = BufWriter::new(temp);
    write(&mut out)?;
    let temp = out.into_inner().map_err(io::IntoInnerError::into_error)?;
    temp.as_file().sync_all()?;
    // tempfile names its temporary file in its errors: say only what the user asked for.
    temp.persist(path)
        .map_err(|e| {
            io::Error::new(e.error.kind(), e.error.to_string().split(" at path ").next().unwrap_or("").to_string())
        })
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

/// What `File::create` gives a new file under the usual umask (temporary files get 0600).
fn new_file_permissions() -> Option<std::fs::Permissions> {
    #[cfg(unix)]
    {
        Some(std::os::unix::fs::PermissionsExt::from_mode(0o644))
    }
    #[cfg(not(unix))]
    {
        None
    }
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
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// An error as text: each cause once (an engine error that already quotes its source is not
/// followed by the source again), control characters escaped.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if seen.iter().any(|s| s.contains(&text)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        // A list (the images of an archive) comes one per line; everything else from an image
        // is escaped, line breaks included, so no name can forge a line.
        match cause.downcast_ref::<crate::Error>().and_then(crate::Error::listing) {
            Some((head, items)) => {
                out.push_str(&crate::text::terminal_safe(&head));
                for item in &items {
                    out.push_str("\n  ");
                    out.push_str(&crate::text::terminal_safe(item));
                }
            }
            None => out.push_str(&crate::text::terminal_safe(&text)),
        }
        seen.push(text);
    }
    out
}

/// Whether an error is a closed pipe on output (`layerscope files x | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe)
    })
}
