//! Command-line interface: arguments and what each command does. Lives in the library so tests
//! can run commands without a process; `main.rs` only maps the outcome to an exit code.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::archive::Input;
use crate::format::{Platform, Selection};
use crate::image::Image;
use crate::report::Report;
use crate::report::files::{FilesOptions, write_files};
use crate::report::text::write_summary;

/// The demo image `layerscope` opens when no image is named (made by the fixture builder in
/// `tests/support`; see `tests/demo_asset.rs`).
pub const DEMO_IMAGE: &[u8] = include_bytes!("../assets/demo.tar");

/// Name shown for the bundled demo image.
pub const DEMO_NAME: &str = "demo.tar (bundled demo image)";

const SIZES_HELP: &str = "\
Sizes:
  layer size   Σ regular-file bytes in the layer tar (hard links, directories, symlinks and
               whiteouts count 0), as dive and `docker image ls` count them
  blob size    bytes of the layer blob in the archive (compressed where the layer is)
  image size   Σ layer sizes

Inputs: docker save (legacy and Docker 25+), podman save, skopeo/buildah oci-archive, kaniko
tarballs, OCI layout directories, gzip/zstd/uncompressed layers, and '-' for stdin.
Exit codes: 0 ok, 2 error.";

/// layerscope: see what is inside a container image and where its bytes are wasted.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, after_help = SIZES_HELP, args_conflicts_with_subcommands = true)]
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
    /// Write the JSON report (schema layerscope.report/v1) to FILE ('-' for stdout)
    #[arg(long, value_name = "FILE")]
    pub json: Option<String>,
    /// Which image of the archive to use.
    #[command(flatten)]
    pub select: SelectArgs,
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
    /// Everything went fine.
    Success,
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Some(Command::Files(args)) => run_files(&args),
        None => run_show(&cli.show),
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

fn input_of(arg: Option<&str>) -> Input {
    match arg {
        Some(arg) => Input::from_arg(arg),
        None => Input::Bytes { name: DEMO_NAME.to_string(), bytes: Arc::from(DEMO_IMAGE) },
    }
}

fn load(input: &Input, select: &SelectArgs) -> anyhow::Result<Image> {
    let selection = selection(select)?;
    crate::image::load(input, &selection).with_context(|| format!("cannot read {}", input.display_name()))
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

fn run_show(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let image = load(&input_of(args.input.as_deref()), &args.select)?;
    if let Some(path) = &args.json {
        write_json_report(&image, path)?;
        return Ok(Outcome::Success);
    }
    let stdout = io::stdout().lock();
    write_summary(&image, BufWriter::new(stdout)).context("writing to stdout")?;
    Ok(Outcome::Success)
}

fn write_json_report(image: &Image, path: &str) -> anyhow::Result<()> {
    let report = Report::new(image);
    if path == "-" {
        let mut out = BufWriter::new(io::stdout().lock());
        report.write_json(&mut out).context("writing the JSON report to stdout")?;
        writeln!(out).context("writing to stdout")?;
        out.flush().context("writing to stdout")?;
        return Ok(());
    }
    // File::create truncates: a shorter report never leaves the tail of an older one behind.
    let file = File::create(path).with_context(|| format!("cannot create {path}"))?;
    let mut out = BufWriter::new(file);
    report.write_json(&mut out).with_context(|| format!("writing the JSON report to {path}"))?;
    writeln!(out).with_context(|| format!("writing {path}"))?;
    out.flush().with_context(|| format!("writing {path}"))?;
    Ok(())
}

/// Whether an error is a closed pipe on output (`layerscope files x | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind)
                == Some(io::ErrorKind::BrokenPipe)
    })
}
