//! Image formats: from an indexed archive to one chosen image and its ordered layers.
//!
//! Two descriptions exist: Docker's `manifest.json` and the OCI `index.json`. Docker 25+ writes
//! both. We prefer `manifest.json` when it is complete (Docker 25.0 wrote broken indexes) and fall
//! back to the index when it is not, or when it cannot satisfy `--platform`.

pub mod config;
mod docker;
pub(crate) mod oci;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use config::{History, ImageConfig, Platform};

use crate::archive::{Archive, BlobLoc};
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::warning::Warning;

/// Which writer's layout the archive has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveFormat {
    /// `docker save` up to Docker 24: `<id>/layer.tar` files.
    DockerArchive,
    /// podman/skopeo docker-archive: `<diffid>.tar` files, `<id>/layer.tar` symlink entries.
    PodmanDockerArchive,
    /// go-containerregistry / kaniko tarball: `.tar.gz` layers, `sha256:` config names.
    GoContainerregistryTarball,
    /// Docker 25+ `docker save`: an OCI layout plus `manifest.json`.
    DockerOciArchive,
    /// An OCI image layout in a tar (skopeo, buildah, podman `oci-archive`, buildx `type=oci`).
    OciArchive,
    /// An OCI image layout directory.
    OciDirectory,
    /// An unpacked `docker save` directory.
    DockerArchiveDirectory,
    /// Pulled from a registry (read as the OCI layout its blobs make).
    Registry,
}

impl fmt::Display for ArchiveFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArchiveFormat::DockerArchive => "docker-archive",
            ArchiveFormat::PodmanDockerArchive => "podman-docker-archive",
            ArchiveFormat::GoContainerregistryTarball => "go-containerregistry-tarball",
            ArchiveFormat::DockerOciArchive => "docker-oci-archive",
            ArchiveFormat::OciArchive => "oci-archive",
            ArchiveFormat::OciDirectory => "oci-directory",
            ArchiveFormat::DockerArchiveDirectory => "docker-archive-directory",
            ArchiveFormat::Registry => "registry",
        })
    }
}

/// How the user narrows an archive down to one image.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// `--image NAME:TAG`.
    pub image: Option<String>,
    /// `--platform os/arch[/variant]`.
    pub platform: Option<Platform>,
    /// The N-th image of the archive, in the order [`crate::Error::SeveralImages`] lists them
    /// (the explorer's picker), when no name is given.
    pub index: Option<usize>,
}

/// Where one layer's bytes are and what the metadata says about them.
#[derive(Clone, Debug)]
pub struct LayerSource {
    /// The archive entry (or `blobs/…` path) of the blob.
    pub entry: String,
    /// The blob, or `None` when the archive lacks it.
    pub blob: Option<BlobLoc>,
    /// Digest of the blob as stored, when known.
    pub blob_digest: Option<String>,
    /// Media type from the manifest, when the format records one.
    pub media_type: Option<String>,
    /// DiffID from the config.
    pub diff_id: Option<String>,
    /// URLs of a foreign (non-distributable) layer.
    pub urls: Vec<String>,
}

/// One image chosen from an archive, ready to have its layers read.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The archive layout.
    pub format: ArchiveFormat,
    /// Tags of the image (may be empty).
    pub tags: Vec<String>,
    /// Digest of the config blob (sha256 of its bytes).
    pub config_digest: String,
    /// Digest of the manifest, for OCI layouts.
    pub manifest_digest: Option<String>,
    /// The parsed config.
    pub config: ImageConfig,
    /// Platform of the chosen manifest.
    pub platform: Option<Platform>,
    /// Manifest annotations (base image name and digest, when the builder recorded them).
    pub annotations: BTreeMap<String, String>,
    /// Layers, base first.
    pub layers: Vec<LayerSource>,
    /// Problems found while resolving.
    pub warnings: Vec<Warning>,
}

impl ResolvedImage {
    fn missing_layers(&self) -> usize {
        self.layers.iter().filter(|l| l.blob.is_none()).count()
    }
}

/// Choose one image from `archive`. In an archive cut short (no end-of-archive blocks), a missing
/// config or layer blob is the cut, and is said so.
pub fn resolve(archive: &Archive, selection: &Selection, limits: &Limits) -> Result<ResolvedImage> {
    let resolved = resolve_image(archive, selection, limits);
    let Some((last, end)) = &archive.cut_after else { return resolved };
    let cut = |what: String| Error::Truncated {
        path: archive.display_name().to_string(),
        detail: format!(
            "it ends after {last} (at byte {end}) without tar's end-of-archive blocks, and {what}: \
             the save or download was cut short"
        ),
    };
    match resolved {
        Err(Error::MissingEntry { referrer, what, entry, .. }) => {
            Err(cut(format!("the {what} {entry} that {referrer} lists is not in it")))
        }
        Ok(image) => match image.layers.iter().position(|l| l.blob.is_none()) {
            Some(i) => Err(cut(format!("the blob of layer {i} ({}) is not in it", image.layers[i].entry))),
            None => Ok(image),
        },
        other => other,
    }
}

fn resolve_image(archive: &Archive, selection: &Selection, limits: &Limits) -> Result<ResolvedImage> {
    let has_manifest = archive.contains("manifest.json");
    let has_index = archive.contains("index.json");
    if !has_manifest && !has_index {
        return Err(not_an_image(archive));
    }
    if !has_manifest {
        return oci::resolve(archive, selection, limits);
    }
    let docker = docker::resolve(archive, selection, has_index);
    if !has_index {
        return docker;
    }
    match docker {
        Ok(image) if image.missing_layers() == 0 => Ok(image),
        Ok(image) => match oci::resolve(archive, selection, limits) {
            Ok(mut oci) if oci.missing_layers() < image.missing_layers() => {
                oci.warnings.push(Warning::image(
                    crate::warning::WarningKind::MetadataFallback,
                    "manifest.json names layer blobs the archive lacks; used index.json instead",
                ));
                Ok(oci)
            }
            _ => Ok(image),
        },
        Err(docker_err) => match oci::resolve(archive, selection, limits) {
            Ok(mut oci) => {
                oci.warnings.push(Warning::image(
                    crate::warning::WarningKind::MetadataFallback,
                    format!("manifest.json could not be used ({docker_err}); used index.json instead"),
                ));
                Ok(oci)
            }
            Err(oci_err) if is_selection_error(&docker_err) => Err(oci_err),
            Err(_) => Err(docker_err),
        },
    }
}

fn is_selection_error(e: &Error) -> bool {
    matches!(
        e,
        Error::SeveralImages { .. }
            | Error::ImageNotFound { .. }
            | Error::AmbiguousImage { .. }
            | Error::PlatformNotFound { .. }
    )
}

fn not_an_image(archive: &Archive) -> Error {
    let names = archive.first_names(4);
    let path = archive.display_name().to_string();
    if let Some((last, end)) = &archive.cut_after {
        return Error::Truncated {
            path,
            detail: format!(
                "it ends after {last} (at byte {end}) without tar's end-of-archive blocks, and has no \
                 manifest.json or index.json: the save or download was cut short"
            ),
        };
    }
    if archive.has_layer_blobs() {
        return Error::Truncated {
            path,
            detail: "it holds layer blobs but no manifest.json or index.json: an incomplete save".into(),
        };
    }
    if archive.is_dir() {
        return Error::NotAnArchive {
            path,
            what: "the directory has no index.json or manifest.json, so it is not an OCI layout \
                   or an unpacked docker save"
                .into(),
        };
    }
    let found = if names.is_empty() { "no files".to_string() } else { names.join(", ") };
    Error::FilesystemTarball { path, found }
}

/// sha256 of `bytes` as `sha256:<hex>`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    crate::text::digest(&Sha256::digest(bytes))
}

/// Whether a user-given image reference names an image known as `candidate`.
/// `busybox`, `busybox:latest`, `library/busybox:latest` and `docker.io/library/busybox:latest` are
/// the same image; an OCI `ref.name` may be only a tag (`latest`).
pub fn reference_matches(wanted: &str, candidate: &str) -> bool {
    if wanted == candidate {
        return true;
    }
    if !candidate.contains('/') && !candidate.contains(':') {
        // A bare OCI ref.name is a tag: it matches a reference that names that tag.
        return split_reference(wanted).1 == Some(candidate);
    }
    canonical_reference(wanted) == canonical_reference(candidate)
}

/// Which of several images (each known by some names) a user's `--image` reference names: an
/// exact match as docker resolves names (`busybox` is `docker.io/library/busybox:latest`), else
/// a loose one as podman users type them: the reference's path is the end of the name, whole
/// components only, and without a tag any tag matches (`web`, `web:1.0` and `holdout/web` all
/// name `localhost/holdout/web:1.0`). Several loose matches are an error listing them.
pub(crate) fn choose_image(wanted: &str, images: &[Vec<String>], label: impl Fn(usize) -> String) -> Result<usize> {
    let exact: Vec<usize> =
        (0..images.len()).filter(|&i| images[i].iter().any(|n| reference_matches(wanted, n))).collect();
    let found = match exact.as_slice() {
        [one] => return Ok(*one),
        [] => (0..images.len()).filter(|&i| images[i].iter().any(|n| loosely_matches(wanted, n))).collect(),
        several => several.to_vec(),
    };
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            Err(Error::ImageNotFound { wanted: wanted.to_string(), available: (0..images.len()).map(label).collect() })
        }
        several => Err(Error::AmbiguousImage {
            wanted: wanted.to_string(),
            candidates: several.iter().map(|&i| label(i)).collect(),
        }),
    }
}

/// `holdout/web` names `localhost/holdout/web:1.0`; `web:2` does not.
fn loosely_matches(wanted: &str, candidate: &str) -> bool {
    let (name, tag) = split_reference(wanted);
    let (candidate_name, candidate_tag) = split_reference(candidate);
    if tag.is_some() && tag != candidate_tag {
        return false;
    }
    let want: Vec<&str> = name.split('/').collect();
    let have: Vec<&str> = candidate_name.split('/').collect();
    !name.is_empty() && have.ends_with(&want)
}

/// (name, tag or `@digest`) as written, without defaults.
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if let Some((n, d)) = reference.split_once('@') {
        return (n, Some(d));
    }
    match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (reference, None),
    }
}

/// (repository with registry, tag); a digest reference keeps its `@sha256:…` in the tag slot.
fn canonical_reference(reference: &str) -> (String, String) {
    let (name, tag) = if let Some((n, d)) = reference.split_once('@') {
        (n, format!("@{d}"))
    } else {
        match reference.rsplit_once(':') {
            // A ':' before the last '/' is a registry port, not a tag.
            Some((n, t)) if !t.contains('/') => (n, t.to_string()),
            _ => (reference, "latest".to_string()),
        }
    };
    let first = name.split('/').next().unwrap_or("");
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_registry {
        match name.split_once('/') {
            // Docker Hub's official images live under library/, however the registry is spelled.
            Some(("docker.io" | "index.docker.io" | "registry-1.docker.io", path)) if !path.contains('/') => {
                format!("docker.io/library/{path}")
            }
            Some(("index.docker.io" | "registry-1.docker.io", path)) => format!("docker.io/{path}"),
            _ => name.to_string(),
        }
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    (repo, tag)
}

/// The blob path of a digest inside an OCI layout, refusing digests that could escape `blobs/`.
pub(crate) fn blob_path(digest: &str) -> Option<String> {
    let (alg, encoded) = digest.split_once(':')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b));
    (ok(alg) && ok(encoded) && !encoded.starts_with('.')).then(|| format!("blobs/{alg}/{encoded}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_references_like_docker_does() {
        assert!(reference_matches("busybox", "docker.io/library/busybox:latest"));
        assert!(reference_matches("busybox:latest", "busybox:latest"));
        assert!(reference_matches("layerscope/x:1", "docker.io/layerscope/x:1"));
        assert!(reference_matches("localhost:5000/x:1", "localhost:5000/x:1"));
        assert!(!reference_matches("localhost:5000/x", "localhost:5000/x:1"));
        assert!(reference_matches("anything:v1", "v1"));
        assert!(!reference_matches("nope", "latest"), "a bare tag needs the tag named");
        assert!(reference_matches("docker.io/busybox", "docker.io/library/busybox:latest"));
        assert!(reference_matches("index.docker.io/library/busybox:1", "busybox:1"));
        assert!(!reference_matches("busybox:1", "docker.io/library/busybox:latest"));
    }

    #[test]
    fn loose_references_match_whole_trailing_components() {
        for wanted in ["web", "web:1.0", "holdout/web", "holdout/web:1.0", "localhost/holdout/web"] {
            assert!(loosely_matches(wanted, "localhost/holdout/web:1.0"), "{wanted}");
        }
        for wanted in ["eb", "web:2", "old/web", "other/holdout/web"] {
            assert!(!loosely_matches(wanted, "localhost/holdout/web:1.0"), "{wanted}");
        }
    }

    #[test]
    fn choosing_prefers_an_exact_match_and_refuses_ambiguity() {
        let images = vec![
            vec!["localhost/holdout/web:1.0".to_string()],
            vec!["localhost/holdout/web:2.0".to_string()],
            vec!["docker.io/library/web:latest".to_string()],
        ];
        let label = |i: usize| images[i].join(" ");
        assert_eq!(choose_image("web:1.0", &images, label).unwrap(), 0);
        assert_eq!(choose_image("web", &images, label).unwrap(), 2, "docker's exact reading wins");
        let err = choose_image("holdout/web", &images, label).unwrap_err().to_string();
        assert_eq!(
            err,
            "--image 'holdout/web' matches 2 images; name one of them in full:\n  localhost/holdout/web:1.0\n  localhost/holdout/web:2.0"
        );
        assert!(matches!(choose_image("nope", &images, label), Err(Error::ImageNotFound { .. })));
    }

    #[test]
    fn blob_paths_cannot_escape() {
        assert_eq!(blob_path("sha256:ab12").as_deref(), Some("blobs/sha256/ab12"));
        assert_eq!(blob_path("sha256:../../etc/passwd"), None);
        assert_eq!(blob_path("sha256:a/b"), None);
        assert_eq!(blob_path("nocolon"), None);
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(sha256_digest(b""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
