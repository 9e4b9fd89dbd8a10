//! Images held by a local engine: Docker (its Engine API), Podman (its API socket, else `podman
//! image save`) and containerd (`nerdctl save`, else `ctr images export`).
//!
//! The engine streams `docker save`'s archive, which [`super::ingest`] reads once into the cache.
//! Before that, the engine is asked what the image is (its config digest and DiffIDs): when the
//! cache holds all of those blobs already, the image opens from the cache without an export.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use futures_util::StreamExt;

use super::{EngineKind, Opened, Origin, SourceOptions, Transfer, ingest};
use crate::archive::{Archive, BlobLoc};
use crate::cache::{Cache, sha256_hex};
use crate::error::{Error, Result};

/// Whether an engine holds an image.
#[derive(Debug)]
pub enum Found {
    /// It does.
    Yes,
    /// It does not, or the engine is not there (why, for messages).
    No(String),
}

/// What the engine says an image is.
#[derive(Debug, Default)]
struct Inspected {
    /// `sha256:…` of the config (the image ID, for Docker with its classic store and Podman).
    id: String,
    /// DiffIDs, base first.
    diff_ids: Vec<String>,
    /// Tags.
    tags: Vec<String>,
}

/// How to reach an engine.
#[derive(Debug)]
pub(super) enum Endpoint {
    /// An Engine API (Docker's, or Podman's compatible one) at this address.
    Api(String),
    /// A command-line tool.
    Command(PathBuf),
}

impl Endpoint {
    /// Where it is, for messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Endpoint::Api(host) => host.clone(),
            Endpoint::Command(tool) => tool.display().to_string(),
        }
    }
}

/// Where the Docker Engine API is: `DOCKER_HOST`, else the active docker context, else
/// `/var/run/docker.sock` when it exists.
fn docker_host() -> Option<String> {
    if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
        return Some(host);
    }
    if let Some(host) = context_host() {
        return Some(host);
    }
    Path::new("/var/run/docker.sock").exists().then(|| "unix:///var/run/docker.sock".to_string())
}

/// The endpoint of the docker context in use (`DOCKER_CONTEXT`, else `currentContext` in the
/// docker config), as `docker context use` records it.
fn context_host() -> Option<String> {
    let config_dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let name = match std::env::var("DOCKER_CONTEXT").ok().filter(|c| !c.is_empty()) {
        Some(name) => name,
        None => {
            let config: serde_json::Value =
                serde_json::from_slice(&std::fs::read(config_dir.join("config.json")).ok()?).ok()?;
            config.get("currentContext")?.as_str()?.to_string()
        }
    };
    if name == "default" {
        return None;
    }
    use sha2::Digest;
    let id = crate::text::hex(&sha2::Sha256::digest(name.as_bytes()));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(config_dir.join("contexts/meta").join(id).join("meta.json")).ok()?)
            .ok()?;
    Some(meta.get("Endpoints")?.get("docker")?.get("Host")?.as_str()?.to_string())
}

/// Podman's API socket: `CONTAINER_HOST`, else the rootless or the system socket, whichever is
/// there (none: `podman image save` does the job without the service).
fn podman_host() -> Option<String> {
    let mut sockets = Vec::new();
    if let Some(path) = std::env::var("CONTAINER_HOST").ok().as_deref().and_then(|h| h.strip_prefix("unix://")) {
        sockets.push(PathBuf::from(path));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        sockets.push(PathBuf::from(dir).join("podman/podman.sock"));
    }
    sockets.push(PathBuf::from("/run/podman/podman.sock"));
    sockets.into_iter().find(|s| is_socket(s)).map(|s| format!("unix://{}", s.display()))
}

fn is_socket(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

/// containerd's socket: `CONTAINERD_ADDRESS` (as `ctr` reads it), else the usual one.
fn containerd_socket() -> PathBuf {
    std::env::var_os("CONTAINERD_ADDRESS")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/run/containerd/containerd.sock"), PathBuf::from)
}

/// The arguments every containerd tool call starts with.
fn containerd_args(namespace: &str) -> Vec<String> {
    vec!["--address".into(), containerd_socket().display().to_string(), "--namespace".into(), namespace.into()]
}

/// A program on `PATH`.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// How to reach engine `kind`, or why it cannot be.
pub(super) fn endpoint(kind: EngineKind) -> std::result::Result<Endpoint, String> {
    match kind {
        EngineKind::Docker => docker_host()
            .map(Endpoint::Api)
            .ok_or_else(|| "no Docker Engine (DOCKER_HOST unset, no /var/run/docker.sock)".to_string()),
        EngineKind::Podman => podman_host()
            .map(Endpoint::Api)
            .or_else(|| program("podman").map(Endpoint::Command))
            .ok_or_else(|| "podman is not installed".to_string()),
        EngineKind::Containerd => {
            let socket = containerd_socket();
            if !is_socket(&socket) {
                return Err(format!("containerd is not running (no {})", socket.display()));
            }
            program("nerdctl")
                .or_else(|| program("ctr"))
                .map(Endpoint::Command)
                .ok_or_else(|| "neither nerdctl nor ctr is installed".to_string())
        }
    }
}

/// The small async runtime the API clients run on.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Engine { engine: "runtime".into(), detail: e.to_string() })
}

/// An Engine API client for `host`.
pub(super) fn api(host: &str) -> std::result::Result<bollard::Docker, String> {
    bollard::Docker::connect_with_host(host).map_err(|e| e.to_string())
}

/// Whether engine `kind` holds `name` (for a bare name, which engines are asked in turn).
pub fn find(kind: EngineKind, name: &str, options: &SourceOptions) -> Found {
    let endpoint = match endpoint(kind) {
        Ok(e) => e,
        Err(why) => return Found::No(why),
    };
    let held = match (&endpoint, kind) {
        (Endpoint::Api(host), _) => {
            let asked = runtime().map_err(|e| e.to_string()).and_then(|rt| {
                rt.block_on(async { api(host)?.inspect_image(name).await.map_err(|e| api_error(&e, name)) })
            });
            match asked {
                Ok(_) => true,
                Err(why) if why.starts_with("no image named") => false,
                Err(why) => return Found::No(format!("cannot ask {host}: {why}")),
            }
        }
        (Endpoint::Command(tool), EngineKind::Podman) => {
            quiet(podman_command(tool).args(["image", "exists", name])).is_ok_and(|s| s.success())
        }
        (Endpoint::Command(tool), _) => containerd_has(tool, name, &options.containerd_namespace),
    };
    if held { Found::Yes } else { Found::No(format!("no image {name} at {}", endpoint.describe())) }
}

/// `podman` run locally: a `CONTAINER_HOST` whose socket is not there would make it fail remote.
pub(super) fn podman_command(tool: &Path) -> Command {
    let mut command = Command::new(tool);
    command.env_remove("CONTAINER_HOST");
    command
}

fn quiet(command: &mut Command) -> io::Result<std::process::ExitStatus> {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status()
}

/// containerd names images in full (`docker.io/library/nginx:latest`).
fn full_name(name: &str) -> String {
    oci_client::Reference::try_from(name).map_or_else(|_| name.to_string(), |r| r.whole())
}

fn containerd_has(tool: &Path, name: &str, namespace: &str) -> bool {
    let output = Command::new(tool)
        .args(containerd_args(namespace))
        .args(["images", "ls", "-q"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let wanted = full_name(name);
    output.is_ok_and(|o| {
        o.status.success() && String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == wanted || l.trim() == name)
    })
}

/// The archive of `name` from engine `kind`.
pub fn export(kind: EngineKind, name: &str, options: &SourceOptions, transfer: &Transfer) -> Result<Opened> {
    let engine_name = kind.name();
    let endpoint = endpoint(kind).map_err(|why| Error::Engine { engine: engine_name.to_string(), detail: why })?;
    let engine_label = format!("{engine_name} ({})", endpoint.describe());
    let fail = |detail: String| Error::Engine { engine: engine_label.clone(), detail };
    let (cache, _temporary) = super::working_cache(options)?;
    let origin = |from_cache| Origin {
        kind: engine_name,
        reference: name.to_string(),
        address: Some(endpoint.describe()),
        manifest_digest: None,
        from_cache,
        container: None,
    };
    let opened = |archive, from_cache| Opened {
        archive,
        origin: origin(from_cache),
        selection: options.selection.clone(),
        warnings: Vec::new(),
        cacheable: options.cache.is_some(),
        from_registry: false,
        parsed: Vec::new(),
        top_layer: None,
    };
    let display = format!("{engine_name}://{name}");
    transfer.step(format!("asking {engine_label} for {name}"));
    match &endpoint {
        Endpoint::Api(host) => {
            let rt = runtime()?;
            let client = api(host).map_err(|e| fail(format!("cannot connect: {e}")))?;
            let inspected = rt.block_on(client.inspect_image(name)).map_err(|e| fail(api_error(&e, name)))?;
            let inspected = Inspected {
                id: inspected.id.unwrap_or_default(),
                diff_ids: inspected.root_fs.and_then(|r| r.layers).unwrap_or_default(),
                tags: inspected.repo_tags.unwrap_or_default(),
            };
            if options.cache.is_some()
                && let Some(archive) = from_cache(&cache, &inspected, &display)
            {
                return Ok(opened(archive, true));
            }
            transfer.step(format!("exporting {name} from {engine_label}"));
            let (tx, rx) = mpsc::sync_channel::<io::Result<bytes::Bytes>>(16);
            let export_name = name.to_string();
            rt.spawn(async move {
                let mut stream = client.export_image(&export_name);
                while let Some(chunk) = stream.next().await {
                    let failed = chunk.is_err();
                    if tx.send(chunk.map_err(|e| io::Error::other(api_error(&e, &export_name)))).is_err() || failed {
                        break;
                    }
                }
            });
            let archive = ingest::ingest(
                ChannelReader { rx, chunk: bytes::Bytes::new(), transfer },
                &display,
                &cache,
                transfer,
                &options.limits,
            )?;
            Ok(opened(archive, false))
        }
        Endpoint::Command(tool) => {
            let podman = kind == EngineKind::Podman;
            if podman
                && options.cache.is_some()
                && let Some(inspected) = podman_inspect(tool, name)
                && let Some(archive) = from_cache(&cache, &inspected, &display)
            {
                return Ok(opened(archive, true));
            }
            let mut command = if podman { podman_command(tool) } else { Command::new(tool) };
            if podman {
                command.args(["image", "save", "--format", "docker-archive", name]);
            } else if tool.file_name().is_some_and(|n| n == "nerdctl") {
                command.args(containerd_args(&options.containerd_namespace)).args(["save", name]);
            } else {
                command.args(containerd_args(&options.containerd_namespace)).args([
                    "images",
                    "export",
                    "-",
                    &full_name(name),
                ]);
            }
            transfer.step(format!("exporting {name} with {}", tool.display()));
            let archive = run_export(command, &display, &cache, transfer, options, &fail)?;
            Ok(opened(archive, false))
        }
    }
}

/// What is read of a save command's output after its archive ends (padding, at most).
const EXPORT_TAIL: u64 = 1 << 20;

/// Stream a save command's stdout into the cache; its stderr explains a failure.
fn run_export(
    mut command: Command,
    display: &str,
    cache: &Cache,
    transfer: &Transfer,
    options: &SourceOptions,
    fail: &dyn Fn(String) -> Error,
) -> Result<Archive> {
    let mut child: Child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run: {e}")))?;
    let stderr = child.stderr.take();
    // Read stderr on its own thread, bounded: a full pipe would stop the command.
    let errors = std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = stderr {
            let _ = (&mut pipe).take(64 * 1024).read_to_end(&mut text);
            let _ = io::copy(&mut pipe, &mut io::sink());
        }
        String::from_utf8_lossy(&text).into_owned()
    });
    let mut stdout = child.stdout.take().ok_or_else(|| fail("no output pipe".into()))?;
    let result = ingest::ingest(&mut stdout, display, cache, transfer, &options.limits);
    if result.is_ok() {
        // The archive ends before its writer's last padding (tar pads to a 10 KiB record):
        // read it, or a command still writing it fails on a closed pipe.
        let _ = io::copy(&mut (&mut stdout).take(EXPORT_TAIL), &mut io::sink());
    }
    drop(stdout);
    // A command that failed by itself explains the broken stream; one we stop does not.
    // It may be exiting right now (its output ended because it failed): give it a moment.
    let mut stopped = false;
    if result.is_err() {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while matches!(child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            stopped = true;
        }
    }
    let status = child.wait().map_err(|e| fail(e.to_string()))?;
    let stderr = errors.join().unwrap_or_default();
    match result {
        Err(Error::Cancelled) => Err(Error::Cancelled),
        Err(e) if stopped => Err(e),
        _ if !status.success() => {
            Err(fail(format!("{} failed ({status}): {}", command_line(&command), last_line(stderr.as_bytes()))))
        }
        other => other,
    }
}

/// The last line a command printed on stderr, cut, for messages.
pub(super) fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("(no message)");
    crate::text::cut(last.trim(), 300)
}

/// A command as typed, for messages.
pub(super) fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn podman_inspect(tool: &Path, name: &str) -> Option<Inspected> {
    let output = podman_command(tool)
        .args(["image", "inspect", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let image = value.get(0)?;
    let id = image.get("Id")?.as_str()?;
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    Some(Inspected {
        id: if id.starts_with("sha256:") { id.to_string() } else { format!("sha256:{id}") },
        diff_ids: strings(image.get("RootFS").and_then(|r| r.get("Layers"))),
        tags: strings(image.get("RepoTags")),
    })
}

/// The image from cached blobs alone, when the cache holds its config (the image ID is the
/// config's digest) and every layer by DiffID (a layer `docker save` wrote is its uncompressed
/// tar). The archive is the one `docker save` would have written, without asking for it.
fn from_cache(cache: &Cache, inspected: &Inspected, display: &str) -> Option<Archive> {
    sha256_hex(&inspected.id)?;
    let (config_path, config_len) = cache.blob(&inspected.id)?;
    let mut entries = Vec::with_capacity(inspected.diff_ids.len() + 2);
    let name = |digest: &str| sha256_hex(digest).map(|h| format!("blobs/sha256/{h}"));
    let open = |path: PathBuf, len| std::fs::File::open(path).ok().map(|f| BlobLoc::file(f, len));
    entries.push((name(&inspected.id)?, open(config_path, config_len)?, Some(inspected.id.clone())));
    let mut layers = Vec::with_capacity(inspected.diff_ids.len());
    for diff_id in &inspected.diff_ids {
        let (path, len) = cache.blob(diff_id)?;
        let entry = name(diff_id)?;
        layers.push(entry.clone());
        entries.push((entry, open(path, len)?, Some(diff_id.clone())));
    }
    let manifest =
        serde_json::json!([{ "Config": name(&inspected.id)?, "RepoTags": inspected.tags, "Layers": layers }]);
    entries.push(("manifest.json".to_string(), BlobLoc::memory(manifest.to_string().into_bytes().into()), None));
    Some(Archive::composed(display, entries))
}

/// The Engine API's answer about image `name` in words.
fn api_error(e: &bollard::errors::Error, name: &str) -> String {
    api_message(
        e,
        &format!("no image named {name} (pull it first, or read it from its registry with registry://{name})"),
    )
}

/// The Engine API's answer in words; `missing` says what its 404 means.
pub(super) fn api_message(e: &bollard::errors::Error, missing: &str) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code: 404, .. } => missing.to_string(),
        bollard::errors::Error::DockerResponseServerError { status_code, message } => {
            format!("HTTP {status_code}: {}", crate::text::cut(&crate::text::one_line(message), 300))
        }
        other => crate::text::cut(&crate::text::one_line(&other.to_string()), 300),
    }
}

/// A reader over chunks a task sends; it gives up when the transfer is cancelled, even while
/// the engine sends nothing.
pub(super) struct ChannelReader<'a> {
    pub(super) rx: mpsc::Receiver<io::Result<bytes::Bytes>>,
    pub(super) chunk: bytes::Bytes,
    pub(super) transfer: &'a Transfer,
}

impl Read for ChannelReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(Ok(chunk)) => self.chunk = chunk,
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) if self.transfer.cancelled() => {
                    return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // The sender is done: the end of the stream.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
