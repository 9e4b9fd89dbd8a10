//! A Docker or Podman container read as an image with one more layer on top: its image's layers
//! as the engine exports them, then its writable layer ([`super::writable`]). The writable layer
//! is read from the overlay `UpperDir` the engine names when this process can read it (the
//! engine's own bytes, nothing copied by the engine), else from the engine's changes list and an
//! export of the container (rootless storage of another user, a remote daemon).

use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;

use futures_util::StreamExt;
use serde::Serialize;

use super::engine::{self, ChannelReader, Endpoint};
use super::writable::{self, ChangeKind, WritableLayer};
use super::{EngineKind, Opened, SourceOptions, TopLayer, Transfer};
use crate::archive::BlobLoc;
use crate::error::{Error, Result};
use crate::format::LayerSource;
use crate::format::config::History;

/// Where the writable layer is read from (`--writable-layer`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WritableFrom {
    /// The `UpperDir` when it can be read, else the engine.
    #[default]
    Auto,
    /// The overlay `UpperDir` only.
    UpperDir,
    /// The engine's changes list and export only.
    Engine,
}

/// A container as its engine describes it, and where its writable layer was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// `docker` or `podman`.
    pub engine: &'static str,
    /// Its full ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its image's ID.
    pub image_id: String,
    /// Its image as named when it was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// The storage driver (`overlay`, `overlay2`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_driver: Option<String>,
    /// The overlay `UpperDir`, when the engine names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_dir: Option<String>,
    /// `upperdir` or `engine`: where the writable layer was read.
    pub writable_layer_from: &'static str,
    /// The engine's "size" (`docker ps -s`, `SizeRw`): bytes of the files in the writable layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_size: Option<u64>,
    /// The engine's "virtual size" (`SizeRootFs`): the image and the writable layer together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_virtual_size: Option<u64>,
}

/// What inspecting a container gave.
struct Inspected {
    info: ContainerInfo,
    /// The container's mounted view, when it is mounted.
    merged: Option<PathBuf>,
    /// The overlay's lower folders, topmost first.
    lower: Vec<PathBuf>,
}

/// The command for the layer list: what made the top layer.
pub fn layer_command(info: &ContainerInfo) -> String {
    format!("writable layer of container {} ({} {})", info.name, info.engine, short_id(&info.id))
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// Open container `name` of `engine` (Docker, then Podman, when not given).
pub fn open(
    engine: Option<EngineKind>,
    name: &str,
    from: WritableFrom,
    options: &SourceOptions,
    transfer: &Transfer,
) -> Result<Opened> {
    let engines = match engine {
        Some(EngineKind::Containerd) => {
            return Err(Error::InvalidArgument(
                "containerd containers are not supported: use a Docker or Podman container".into(),
            ));
        }
        Some(kind) => vec![kind],
        None => vec![EngineKind::Docker, EngineKind::Podman],
    };
    let mut tried = Vec::new();
    for kind in engines {
        let endpoint = match engine::endpoint(kind) {
            Ok(e) => e,
            Err(why) => {
                tried.push(format!("{}: {why}", kind.name()));
                continue;
            }
        };
        transfer.step(format!("looking for container {name} in {}", kind.name()));
        match inspect(kind, &endpoint, name) {
            Ok(inspected) => return open_inspected(kind, &endpoint, inspected, from, options, transfer),
            Err(why) => tried.push(format!("{} ({}): {why}", kind.name(), endpoint.describe())),
        }
    }
    Err(Error::Engine { engine: format!("container {name}"), detail: tried.join("; ") })
}

fn open_inspected(
    kind: EngineKind,
    endpoint: &Endpoint,
    mut inspected: Inspected,
    from: WritableFrom,
    options: &SourceOptions,
    transfer: &Transfer,
) -> Result<Opened> {
    let fail = |detail: String| Error::Engine { engine: format!("{} ({})", kind.name(), endpoint.describe()), detail };
    let info = &mut inspected.info;
    let upper = info.upper_dir.as_deref().map(PathBuf::from).filter(|p| std::fs::read_dir(p).is_ok());
    let layer = match (from, upper) {
        (WritableFrom::UpperDir | WritableFrom::Auto, Some(upper)) => {
            transfer.step(format!("reading the writable layer of {} from {}", info.name, upper.display()));
            info.writable_layer_from = "upperdir";
            writable::from_upper_dir(writable::Overlay {
                upper: &upper,
                lower: &inspected.lower,
                merged: inspected.merged.as_deref(),
            })?
        }
        (WritableFrom::UpperDir, None) => {
            return Err(fail(match &info.upper_dir {
                Some(dir) => format!("cannot read the UpperDir {dir} of {}; try --writable-layer engine", info.name),
                None => format!("{} names no overlay UpperDir (driver {:?})", info.name, info.storage_driver),
            }));
        }
        (WritableFrom::Engine | WritableFrom::Auto, _) => {
            transfer.step(format!("asking {} for the changes of {}", kind.name(), info.name));
            info.writable_layer_from = "engine";
            from_engine(endpoint, &info.id, transfer).map_err(fail)?
        }
    };
    let mut opened = engine::export(kind, &inspected.info.image_id, options, transfer)?;
    let info = inspected.info;
    let WritableLayer { file, len, warnings, diff_id } = layer;
    opened.warnings.extend(warnings);
    opened.origin.reference = info.name.clone();
    let history = History {
        created: None,
        created_by: Some(layer_command(&info)),
        comment: Some("container layer".into()),
        author: None,
        empty_layer: None,
    };
    let source = LayerSource {
        entry: format!("writable layer of {}", info.name),
        blob: Some(BlobLoc::file(file, len)),
        blob_digest: Some(diff_id.clone()),
        media_type: None,
        diff_id: Some(diff_id),
        urls: Vec::new(),
    };
    opened.origin.container = Some(info);
    opened.top_layer = Some(TopLayer { source, history });
    Ok(opened)
}

/// Ask the engine about container `name`.
fn inspect(kind: EngineKind, endpoint: &Endpoint, name: &str) -> std::result::Result<Inspected, String> {
    let number = |v: Option<i64>| v.and_then(|n| u64::try_from(n).ok());
    match endpoint {
        Endpoint::Api(host) => {
            let rt = engine::runtime().map_err(|e| e.to_string())?;
            let client = engine::api(host)?;
            let options = bollard::query_parameters::InspectContainerOptions { size: true };
            let c = rt.block_on(client.inspect_container(name, Some(options))).map_err(|e| api_error(&e, name))?;
            let data = c.graph_driver.as_ref().map(|g| &g.data);
            let path = |key: &str| data.and_then(|d| d.get(key)).filter(|p| !p.is_empty()).cloned();
            let merged = path("MergedDir").map(PathBuf::from).filter(|p| p.join(".").is_dir());
            let lower = path("LowerDir").map(|l| lower_dirs(&l)).unwrap_or_default();
            Ok(Inspected {
                info: ContainerInfo {
                    engine: kind.name(),
                    id: c.id.clone().unwrap_or_default(),
                    name: c.name.clone().unwrap_or_default().trim_start_matches('/').to_string(),
                    image_id: c.image.clone().unwrap_or_default(),
                    image_name: c.config.as_ref().and_then(|c| c.image.clone()),
                    storage_driver: c.graph_driver.as_ref().map(|g| g.name.clone()).or(c.driver.clone()),
                    upper_dir: path("UpperDir"),
                    writable_layer_from: "upperdir",
                    engine_size: number(c.size_rw),
                    engine_virtual_size: number(c.size_root_fs),
                },
                merged,
                lower,
            })
        }
        Endpoint::Command(tool) => {
            let value =
                podman_json(tool, &["container", "inspect", "--size", name], &format!("no container named {name}"))?;
            let c = value.get(0).ok_or_else(|| format!("no container named {name}"))?;
            fn text(v: Option<&serde_json::Value>) -> Option<&str> {
                v.and_then(|v| v.as_str()).filter(|s| !s.is_empty())
            }
            let data = c.get("GraphDriver").and_then(|g| g.get("Data"));
            let merged = text(data.and_then(|d| d.get("MergedDir"))).map(PathBuf::from);
            let lower = text(data.and_then(|d| d.get("LowerDir"))).map(lower_dirs).unwrap_or_default();
            Ok(Inspected {
                info: ContainerInfo {
                    engine: kind.name(),
                    id: text(c.get("Id")).unwrap_or_default().to_string(),
                    name: text(c.get("Name")).unwrap_or(name).to_string(),
                    image_id: text(c.get("Image")).unwrap_or_default().to_string(),
                    image_name: text(c.get("ImageName")).map(str::to_string),
                    storage_driver: text(c.get("GraphDriver").and_then(|g| g.get("Name"))).map(str::to_string),
                    upper_dir: text(data.and_then(|d| d.get("UpperDir"))).map(str::to_string),
                    writable_layer_from: "upperdir",
                    engine_size: c.get("SizeRw").and_then(serde_json::Value::as_u64),
                    engine_virtual_size: c.get("SizeRootFs").and_then(serde_json::Value::as_u64),
                },
                // A mount podman made is mounted while it is listed; check it is there now.
                merged: merged.filter(|p| p.join(".").is_dir() && is_mount_point(p)),
                lower,
            })
        }
    }
}

/// overlay's `lowerdir` list: folders separated by `:`, topmost first.
fn lower_dirs(list: &str) -> Vec<PathBuf> {
    list.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect()
}

/// Whether `path` is where something is mounted (its device differs from its parent's).
fn is_mount_point(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), path.parent().map(std::fs::metadata)) {
        (Ok(m), Some(Ok(p))) => m.dev() != p.dev(),
        _ => false,
    }
}

/// The Engine API's answer about container `name` in words.
fn api_error(e: &bollard::errors::Error, name: &str) -> String {
    engine::api_message(e, &format!("no container named {name}"))
}

/// What `podman ARGS` prints as JSON; `failed` says what its failure means.
fn podman_json(tool: &Path, args: &[&str], failed: &str) -> std::result::Result<serde_json::Value, String> {
    let output = engine::podman_command(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", tool.display()))?;
    if !output.status.success() {
        return Err(format!("{failed} ({})", engine::last_line(&output.stderr)));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("podman {} printed no JSON: {e}", args.join(" ")))
}

/// The writable layer from the engine's changes list and an export of the container.
fn from_engine(endpoint: &Endpoint, id: &str, transfer: &Transfer) -> std::result::Result<WritableLayer, String> {
    match endpoint {
        Endpoint::Api(host) => {
            let rt = engine::runtime().map_err(|e| e.to_string())?;
            let client = engine::api(host)?;
            let changes = rt.block_on(client.container_changes(id)).map_err(|e| api_error(&e, id))?;
            let changes: Vec<(ChangeKind, String)> = changes
                .unwrap_or_default()
                .into_iter()
                .map(|c| {
                    let kind = match c.kind {
                        bollard::models::ChangeType::_0 => ChangeKind::Modified,
                        bollard::models::ChangeType::_1 => ChangeKind::Added,
                        bollard::models::ChangeType::_2 => ChangeKind::Deleted,
                    };
                    (kind, c.path)
                })
                .collect();
            let (tx, rx) = mpsc::sync_channel::<io::Result<bytes::Bytes>>(16);
            let export_id = id.to_string();
            rt.spawn(async move {
                let mut stream = client.export_container(&export_id);
                while let Some(chunk) = stream.next().await {
                    let failed = chunk.is_err();
                    if tx.send(chunk.map_err(|e| io::Error::other(api_error(&e, &export_id)))).is_err() || failed {
                        break;
                    }
                }
            });
            let export = ChannelReader { rx, chunk: bytes::Bytes::new(), transfer };
            writable::from_changes(&changes, export).map_err(|e| e.to_string())
        }
        Endpoint::Command(tool) => {
            let value = podman_json(tool, &["diff", "--format", "json", id], "podman diff failed")?;
            let mut changes = Vec::new();
            for (key, kind) in
                [("changed", ChangeKind::Modified), ("added", ChangeKind::Added), ("deleted", ChangeKind::Deleted)]
            {
                for path in value.get(key).and_then(|v| v.as_array()).into_iter().flatten() {
                    if let Some(path) = path.as_str() {
                        changes.push((kind, path.to_string()));
                    }
                }
            }
            let mut command = engine::podman_command(tool);
            command.args(["export", id]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
            let line = engine::command_line(&command);
            let mut child = command.spawn().map_err(|e| format!("cannot run {line}: {e}"))?;
            let stdout = child.stdout.take().ok_or_else(|| format!("{line}: no output pipe"))?;
            let built = writable::from_changes(&changes, stdout);
            let output = child.wait_with_output().map_err(|e| format!("{line}: {e}"))?;
            if !output.status.success() {
                return Err(format!("{line} failed: {}", engine::last_line(&output.stderr)));
            }
            built.map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_shortened_as_engines_show_them() {
        assert_eq!(short_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(short_id("abc"), "abc");
    }
}
