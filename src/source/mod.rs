//! Where an image comes from: a file, stdin, a local engine (Docker, Podman, containerd) or a
//! registry. Every source ends as an [`Archive`] that the same reader reads; a registry pull and
//! an engine export put their blobs in the [`Cache`] first.
//!
//! [`Target::parse`] decides what an IMAGE argument names, the way engines do: an explicit scheme
//! (`docker://`, `podman://`, `containerd://`, `registry://`, `container://`, skopeo's
//! `docker-archive:`, `oci-archive:` and `oci:`), else an existing path, else an image name, which [`open`] looks
//! for in the engines that are present and then in its registry.

mod auth;
pub mod container;
pub mod engine;
mod ingest;
pub mod registry;
pub mod writable;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

use crate::archive::{Archive, Input};
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::format::config::History;
use crate::format::{LayerSource, Selection};
use crate::layer::{ParsedLayer, ReadOptions};
use crate::limits::Limits;
use crate::warning::Warning;

/// A local container engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The Docker Engine API.
    Docker,
    /// Podman (its API socket, else `podman image save`).
    Podman,
    /// containerd (through `nerdctl` or `ctr`).
    Containerd,
}

impl EngineKind {
    /// The engine's name, as in `docker://`.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
            EngineKind::Containerd => "containerd",
        }
    }
}

/// What an IMAGE argument names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An archive or an OCI layout directory; `image` picks one of several (`oci:DIR:REF`).
    Path {
        /// The file or directory.
        path: PathBuf,
        /// The image to pick, when the transport named one.
        image: Option<String>,
    },
    /// An archive streamed on stdin (`-`).
    Stdin,
    /// An image held by a local engine.
    Engine {
        /// Which engine.
        engine: EngineKind,
        /// The image name or ID, as that engine knows it.
        name: String,
    },
    /// An image in a registry, read without any daemon.
    Registry(String),
    /// A name to look for in the local engines, then in its registry.
    Name(String),
    /// A container of Docker or Podman: its image with its writable layer on top.
    Container {
        /// Which engine (`None`: Docker, then Podman).
        engine: Option<EngineKind>,
        /// The container's name or ID.
        name: String,
        /// Where its writable layer is read.
        from: container::WritableFrom,
    },
}

/// `--source` values: where to read IMAGE from regardless of its spelling.
pub const SOURCES: [&str; 8] =
    ["docker", "podman", "containerd", "registry", "docker-archive", "oci-archive", "oci", "archive"];

impl Target {
    /// What `arg` names; `source` (`--source`) forces how it is read.
    pub fn parse(arg: &str, source: Option<&str>) -> Result<Target> {
        let engine = |engine, name: &str| Target::Engine { engine, name: name.to_string() };
        if let Some(source) = source {
            let name = strip_scheme(arg);
            return match source {
                "docker" => Ok(engine(EngineKind::Docker, name)),
                "podman" => Ok(engine(EngineKind::Podman, name)),
                "containerd" => Ok(engine(EngineKind::Containerd, name)),
                "registry" => Ok(Target::Registry(name.to_string())),
                "docker-archive" | "oci-archive" | "oci" | "archive" => {
                    Ok(archive_target(name).unwrap_or_else(|| path_target(name)))
                }
                other => {
                    Err(Error::InvalidArgument(format!("--source '{other}': expected one of {}", SOURCES.join(", "))))
                }
            };
        }
        if arg == "-" {
            return Ok(Target::Stdin);
        }
        for (scheme, kind) in [
            ("docker://", EngineKind::Docker),
            ("docker-daemon:", EngineKind::Docker),
            ("podman://", EngineKind::Podman),
            ("containerd://", EngineKind::Containerd),
        ] {
            if let Some(name) = arg.strip_prefix(scheme) {
                return Ok(engine(kind, name));
            }
        }
        if let Some(name) = arg.strip_prefix("registry://") {
            return Ok(Target::Registry(name.to_string()));
        }
        if let Some(name) = arg.strip_prefix("container://") {
            return Ok(Target::Container { engine: None, name: name.to_string(), from: container::WritableFrom::Auto });
        }
        if let Some(target) = archive_target(arg) {
            return Ok(target);
        }
        if Path::new(arg).exists() || looks_like_path(arg) || !registry::is_reference(arg) {
            return Ok(path_target(arg));
        }
        Ok(Target::Name(arg.to_string()))
    }

    /// How the target is shown in messages before it is read.
    pub fn display_name(&self) -> String {
        match self {
            Target::Path { path, .. } => path.display().to_string(),
            Target::Stdin => "<stdin>".into(),
            Target::Engine { engine, name } => format!("{}://{name}", engine.name()),
            Target::Registry(name) => format!("registry://{name}"),
            Target::Name(name) => name.clone(),
            Target::Container { name, .. } => format!("container://{name}"),
        }
    }

    /// The file the target reads, when it is one (reports must not overwrite it).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Target::Path { path, .. } => Some(path),
            _ => None,
        }
    }
}

fn strip_scheme(arg: &str) -> &str {
    ["docker://", "podman://", "containerd://", "registry://", "docker-archive://", "oci-archive://", "oci://"]
        .iter()
        .find_map(|s| arg.strip_prefix(s))
        .unwrap_or(arg)
}

fn path_target(arg: &str) -> Target {
    Target::Path { path: PathBuf::from(arg), image: None }
}

/// skopeo's `docker-archive:PATH[:REF]`, `oci-archive:PATH[:REF]` and `oci:DIR[:REF]` (and dive's
/// `docker-archive://PATH`). A path that exists as written wins over a `:REF` split.
fn archive_target(arg: &str) -> Option<Target> {
    let rest = ["docker-archive://", "docker-archive:", "oci-archive://", "oci-archive:", "oci://", "oci:"]
        .iter()
        .find_map(|p| arg.strip_prefix(p))?;
    if Path::new(rest).exists() {
        return Some(path_target(rest));
    }
    // The reference is after the last colon whose left side exists.
    for (i, _) in rest.match_indices(':').rev() {
        let (path, image) = (&rest[..i], &rest[i + 1..]);
        if Path::new(path).exists() && !image.is_empty() {
            return Some(Target::Path { path: PathBuf::from(path), image: Some(image.to_string()) });
        }
    }
    Some(path_target(rest))
}

/// A mistyped file name should say "no such file", not send a name like `image.tar` to Docker Hub.
fn looks_like_path(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    arg.starts_with(['/', '.', '~'])
        || arg.contains('\\')
        || [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd", ".tzst", ".oci"].iter().any(|ext| lower.ends_with(ext))
}

/// Where an image was read from, for reports and the explorer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// `file`, `stdin`, `docker`, `podman`, `containerd` or `registry`.
    pub kind: &'static str,
    /// The image as the source knows it (`docker.io/library/nginx:latest`, a path).
    pub reference: String,
    /// How the source was reached (a socket, a registry URL, a command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Digest of the manifest read, when the source names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// Whether every blob came from the local cache (nothing was downloaded).
    pub from_cache: bool,
    /// For a container, what its engine says about it; its writable layer is the top layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<container::ContainerInfo>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            "file" | "stdin" => f.write_str(&self.reference),
            kind => {
                write!(f, "{} from {kind}", self.reference)?;
                if let Some(address) = &self.address {
                    write!(f, " ({address})")?;
                }
                if self.from_cache {
                    f.write_str(", all from the cache")?;
                }
                Ok(())
            }
        }
    }
}

/// State of one blob of a transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobState {
    /// Not started.
    Waiting,
    /// Bytes are arriving.
    Downloading,
    /// Found in the cache: nothing to download.
    Cached,
    /// Downloaded and checked against its digest.
    Done,
}

/// Progress of one blob.
#[derive(Debug)]
pub struct BlobProgress {
    /// What the blob is (`layer 3`, `config`).
    pub label: String,
    /// Its digest.
    pub digest: String,
    /// Its size, as the manifest gives it.
    pub total: u64,
    /// Bytes received so far.
    pub done: AtomicU64,
    state: AtomicU8,
    /// When the first bytes were asked for, for the rate.
    started: std::sync::OnceLock<Instant>,
}

impl BlobProgress {
    /// A blob not started yet.
    pub fn new(label: impl Into<String>, digest: impl Into<String>, total: u64) -> Self {
        BlobProgress {
            label: label.into(),
            digest: digest.into(),
            total,
            done: AtomicU64::new(0),
            state: AtomicU8::new(0),
            started: std::sync::OnceLock::new(),
        }
    }

    /// Bytes per second since the download started (`None` before it, or for a cached blob).
    pub fn rate(&self) -> Option<f64> {
        let started = self.started.get()?;
        let seconds = started.elapsed().as_secs_f64();
        (seconds > 0.0).then(|| self.done.load(Ordering::Relaxed) as f64 / seconds)
    }

    /// Where the blob is.
    pub fn state(&self) -> BlobState {
        match self.state.load(Ordering::Relaxed) {
            1 => BlobState::Downloading,
            2 => BlobState::Cached,
            3 => BlobState::Done,
            _ => BlobState::Waiting,
        }
    }

    /// Move the blob to `state`.
    pub fn set(&self, state: BlobState) {
        let n = match state {
            BlobState::Waiting => 0,
            BlobState::Downloading => 1,
            BlobState::Cached => 2,
            BlobState::Done => 3,
        };
        if state == BlobState::Downloading {
            let _ = self.started.set(Instant::now());
        }
        if matches!(state, BlobState::Cached | BlobState::Done) {
            self.done.store(self.total, Ordering::Relaxed);
        }
        self.state.store(n, Ordering::Relaxed);
    }
}

/// What a source is doing, shared with whoever shows it (the explorer's loading view).
#[derive(Debug)]
pub struct Transfer {
    /// A sentence on the current step (`resolving docker.io/library/nginx:latest`).
    pub step: Mutex<String>,
    /// The blobs being fetched, once the manifest is known.
    pub blobs: Mutex<Vec<Arc<BlobProgress>>>,
    /// Bytes received from an engine's stream (which has no per-blob sizes up front).
    pub streamed: AtomicU64,
    /// Set to stop: the source returns [`Error::Cancelled`] (shared, so a signal handler can set it).
    pub cancel: Arc<AtomicBool>,
    /// When the transfer started, for rates.
    pub started: Instant,
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer {
            step: Mutex::new(String::new()),
            blobs: Mutex::new(Vec::new()),
            streamed: AtomicU64::new(0),
            cancel: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
        }
    }
}

impl Transfer {
    /// Say what is happening now.
    pub fn step(&self, text: impl Into<String>) {
        if let Ok(mut step) = self.step.lock() {
            *step = text.into();
        }
    }

    /// Whether the user asked to stop.
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Wait for `future`, giving up when the transfer is cancelled (checked ten times a second:
    /// a stalled server must not hold a Ctrl+C).
    pub(crate) async fn unless_cancelled<T>(&self, future: impl std::future::Future<Output = T>) -> Option<T> {
        let mut future = std::pin::pin!(future);
        loop {
            match tokio::time::timeout(std::time::Duration::from_millis(100), &mut future).await {
                Ok(value) => return Some(value),
                Err(_) if self.cancelled() => return None,
                Err(_) => {}
            }
        }
    }

    /// (bytes received, bytes expected) over every blob.
    pub fn totals(&self) -> (u64, u64) {
        let blobs = self.blobs.lock().map(|b| b.clone()).unwrap_or_default();
        let done = blobs.iter().map(|b| b.done.load(Ordering::Relaxed)).sum::<u64>();
        let total = blobs.iter().map(|b| b.total).sum::<u64>();
        (done + self.streamed.load(Ordering::Relaxed), total)
    }
}

/// How sources run.
#[derive(Clone, Debug)]
pub struct SourceOptions {
    /// The cache; `None` for `--no-cache` (blobs then live in a temporary folder for the run).
    pub cache: Option<Cache>,
    /// Registries reached over plain HTTP (`--insecure-registry`); loopback always is.
    pub insecure_registries: Vec<String>,
    /// The image and platform wanted.
    pub selection: Selection,
    /// Bounds on what reading may cost.
    pub limits: Limits,
    /// Read each layer as soon as its blob is in, with these options, so reading overlaps the
    /// download (the loader then takes the layers read): what `--verify` and the limits say.
    pub read_ahead: Option<ReadOptions>,
    /// containerd's namespace (`--containerd-namespace`, else `CONTAINERD_NAMESPACE`, else
    /// `default`).
    pub containerd_namespace: String,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            cache: None,
            insecure_registries: Vec::new(),
            selection: Selection::default(),
            limits: Limits::default(),
            read_ahead: None,
            containerd_namespace: "default".into(),
        }
    }
}

/// An image's archive, ready for the reader, and where it came from.
#[derive(Debug)]
pub struct Opened {
    /// The archive.
    pub archive: Archive,
    /// Where it came from.
    pub origin: Origin,
    /// The selection to apply to the archive (a transport's `:REF` added to the user's).
    pub selection: Selection,
    /// What the source noticed (a registry out of reach and a cached manifest used instead).
    pub warnings: Vec<Warning>,
    /// Whether the archive's verified blobs may have their parsed records cached.
    pub cacheable: bool,
    /// Whether the source was a registry (the report's format says so).
    pub from_registry: bool,
    /// Layers read while their blobs arrived, by blob digest.
    pub parsed: Vec<(String, ParsedLayer)>,
    /// A layer to put on top of the image's (a container's writable layer).
    pub top_layer: Option<TopLayer>,
}

/// A layer a source adds on top of an image's, with the history step that made it.
#[derive(Debug)]
pub struct TopLayer {
    /// Where its blob is.
    pub source: LayerSource,
    /// What made it, for the layer list.
    pub history: History,
}

/// The cache blobs go to: the user's, or for `--no-cache` a folder removed when the guard drops
/// (at the end of the fetch: the archive holds its blobs open, which is all the reader needs).
fn working_cache(options: &SourceOptions) -> Result<(Cache, Option<tempfile::TempDir>)> {
    match &options.cache {
        Some(cache) => Ok((cache.clone(), None)),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("layerscope-")
                .tempdir()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?;
            Ok((Cache::at(dir.path()), Some(dir)))
        }
    }
}

/// Get the archive of `target`.
pub fn open(target: &Target, options: &SourceOptions, transfer: &Transfer) -> Result<Opened> {
    let file_origin = |kind: &'static str, reference: String| Origin {
        kind,
        reference,
        address: None,
        manifest_digest: None,
        from_cache: false,
        container: None,
    };
    match target {
        Target::Path { path, image } => {
            let archive = Archive::open_with(&Input::Path(path.clone()), &options.limits)?;
            let mut selection = options.selection.clone();
            if selection.image.is_none() {
                selection.image.clone_from(image);
            }
            let origin = file_origin("file", path.display().to_string());
            Ok(Opened {
                archive,
                origin,
                selection,
                warnings: Vec::new(),
                cacheable: false,
                from_registry: false,
                parsed: Vec::new(),
                top_layer: None,
            })
        }
        Target::Stdin => {
            let archive = Archive::open_with(&Input::Stdin, &options.limits)?;
            Ok(Opened {
                archive,
                origin: file_origin("stdin", "<stdin>".into()),
                selection: options.selection.clone(),
                warnings: Vec::new(),
                cacheable: false,
                from_registry: false,
                parsed: Vec::new(),
                top_layer: None,
            })
        }
        Target::Registry(name) => registry::pull(name, options, transfer),
        Target::Engine { engine, name } => engine::export(*engine, name, options, transfer),
        Target::Container { engine, name, from } => container::open(*engine, name, *from, options, transfer),
        Target::Name(name) => {
            let mut tried = Vec::new();
            for kind in [EngineKind::Docker, EngineKind::Podman, EngineKind::Containerd] {
                transfer.step(format!("looking for {name} in {}", kind.name()));
                match engine::find(kind, name, options) {
                    engine::Found::Yes => return engine::export(kind, name, options, transfer),
                    engine::Found::No(why) => tried.push(format!("{}: {why}", kind.name())),
                }
            }
            registry::pull(name, options, transfer).map_err(|e| match e {
                Error::Registry { reference, detail } => Error::Registry {
                    reference,
                    detail: format!("{detail} (not found locally either: {})", tried.join("; ")),
                },
                other => other,
            })
        }
    }
}

/// Open `input` the old way (a path, stdin or bytes) as a source result.
pub fn from_input(input: &Input, options: &SourceOptions) -> Result<Opened> {
    let archive = Archive::open_with(input, &options.limits)?;
    let kind = if matches!(input, Input::Stdin) { "stdin" } else { "file" };
    Ok(Opened {
        origin: Origin {
            kind,
            reference: input.display_name(),
            address: None,
            manifest_digest: None,
            from_cache: false,
            container: None,
        },
        archive,
        selection: options.selection.clone(),
        warnings: Vec::new(),
        cacheable: false,
        from_registry: false,
        parsed: Vec::new(),
        top_layer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_names() {
        let t = |s: &str| Target::parse(s, None).ok();
        assert_eq!(t("-"), Some(Target::Stdin));
        assert_eq!(t("docker://nginx"), Some(Target::Engine { engine: EngineKind::Docker, name: "nginx".into() }));
        assert_eq!(t("podman://x:1"), Some(Target::Engine { engine: EngineKind::Podman, name: "x:1".into() }));
        assert_eq!(t("registry://ghcr.io/a/b:1"), Some(Target::Registry("ghcr.io/a/b:1".into())));
        assert_eq!(t("nginx:1.27"), Some(Target::Name("nginx:1.27".into())));
        assert_eq!(t("busybox"), Some(Target::Name("busybox".into())));
        // Spelled like files: the missing-file error, not a pull.
        for path in ["image.tar", "./x", "/nope/a", "out.tar.gz", "Upper/Case"] {
            assert_eq!(t(path), Some(path_target(path)), "{path}");
        }
        assert_eq!(t("oci:/nonexistent/dir:tag"), Some(path_target("/nonexistent/dir:tag")));
        assert_eq!(
            Target::parse("nginx", Some("docker")).ok(),
            Some(Target::Engine { engine: EngineKind::Docker, name: "nginx".into() })
        );
        assert!(Target::parse("x", Some("ftp")).is_err());
    }

    #[test]
    fn transport_reference_after_an_existing_path() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().display().to_string();
        assert_eq!(
            Target::parse(&format!("oci:{path}:v1"), None).ok(),
            Some(Target::Path { path: dir.path().to_path_buf(), image: Some("v1".into()) })
        );
        assert_eq!(Target::parse(&format!("oci:{path}"), None).ok(), Some(path_target(&path)));
    }
}
