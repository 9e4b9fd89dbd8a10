//! Docker's `manifest.json`: legacy `docker save`, podman/skopeo, go-containerregistry (kaniko)
//! tarballs, and the compatibility manifest of Docker 25+.

use super::config::{DockerManifestEntry, ImageConfig, Platform};
use super::{ArchiveFormat, LayerSource, ResolvedImage, Selection, choose_image, sha256_digest};
use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::warning::{Warning, WarningKind};

const MANIFEST: &str = "manifest.json";

pub(super) fn resolve(archive: &Archive, selection: &Selection, has_index: bool) -> Result<ResolvedImage> {
    let bytes = archive.read_small(MANIFEST).ok_or_else(|| Error::MissingEntry {
        referrer: archive.display_name().to_string(),
        what: "file",
        entry: MANIFEST.into(),
        why: archive.why_missing(MANIFEST),
    })??;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(MANIFEST, "Docker image manifest", &e))?;
    if entries.is_empty() {
        return Err(Error::NoImage {
            path: archive.display_name().to_string(),
            detail: "manifest.json lists no images".into(),
        });
    }
    let entry = choose(&entries, selection)?;

    let config_name = entry.config.as_str();
    if config_name.is_empty() {
        return Err(Error::BadMetadata {
            entry: MANIFEST.into(),
            what: "Docker image manifest",
            detail: "an image has no \"Config\"".into(),
        });
    }
    let config_bytes = archive.read_small(config_name).ok_or_else(|| Error::MissingEntry {
        referrer: MANIFEST.into(),
        what: "config",
        entry: config_name.to_string(),
        why: archive.why_missing(config_name),
    })??;
    let config: ImageConfig =
        serde_json::from_slice(&config_bytes).map_err(|e| Error::bad_json(config_name, "image config", &e))?;
    let platform = config_platform(&config);
    if let (Some(wanted), Some(have)) = (&selection.platform, &platform)
        && !have.satisfies(wanted)
    {
        return Err(Error::PlatformNotFound { wanted: wanted.to_string(), available: vec![have.to_string()] });
    }

    let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
    let mut warnings = Vec::new();
    let config_digest = sha256_digest(&config_bytes);
    // Writers name the config by its digest (`<hex>.json`, `blobs/sha256/<hex>`, `sha256:<hex>`).
    if let Some(named) = digest_from_name(config_name.strip_suffix(".json").map_or(config_name, |n| n))
        && named != config_digest
    {
        warnings.push(Warning::image(
            WarningKind::DigestMismatch,
            format!("the config {config_name} hashes to {config_digest}"),
        ));
    }
    if diff_ids.len() != entry.layers.len() {
        warnings.push(Warning::image(
            WarningKind::HistoryMismatch,
            format!("manifest.json lists {} layers but the config has {} DiffIDs", entry.layers.len(), diff_ids.len()),
        ));
    }
    let layers = entry
        .layers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let diff_id = diff_ids.get(i).cloned();
            let source = diff_id.as_ref().and_then(|d| entry.layer_sources.get(d));
            LayerSource {
                entry: name.clone(),
                blob: archive.get(name),
                blob_digest: source.map(|d| d.digest.clone()).or_else(|| digest_from_name(name)),
                media_type: source.and_then(|d| d.media_type.clone()),
                diff_id,
                urls: source.map(|d| d.urls.clone()).unwrap_or_default(),
            }
        })
        .collect();

    Ok(ResolvedImage {
        format: detect_variant(archive, entry, has_index),
        tags: entry.repo_tags.clone(),
        config_digest,
        manifest_digest: None,
        config,
        platform,
        annotations: Default::default(),
        layers,
        warnings,
    })
}

fn choose<'a>(entries: &'a [DockerManifestEntry], selection: &Selection) -> Result<&'a DockerManifestEntry> {
    let name_of = |e: &DockerManifestEntry| {
        if e.repo_tags.is_empty() { format!("(untagged, config {})", e.config) } else { e.repo_tags.join(" ") }
    };
    if let Some(wanted) = &selection.image {
        let names: Vec<Vec<String>> = entries.iter().map(|e| e.repo_tags.clone()).collect();
        return choose_image(wanted, &names, |i| name_of(&entries[i])).map(|i| &entries[i]);
    }
    if let Some(i) = selection.index
        && let Some(entry) = entries.get(i)
    {
        return Ok(entry);
    }
    match entries {
        [only] => Ok(only),
        _ => Err(Error::SeveralImages { available: entries.iter().map(name_of).collect() }),
    }
}

fn detect_variant(archive: &Archive, entry: &DockerManifestEntry, has_index: bool) -> ArchiveFormat {
    if has_index && archive.contains("oci-layout") {
        return ArchiveFormat::DockerOciArchive;
    }
    if archive.is_dir() {
        return ArchiveFormat::DockerArchiveDirectory;
    }
    let compressed = entry.layers.iter().any(|l| l.ends_with(".tar.gz") || l.ends_with(".tgz"));
    if compressed || entry.config.starts_with("sha256:") {
        return ArchiveFormat::GoContainerregistryTarball;
    }
    // skopeo/podman name each layer once as `<diffid>.tar` at the top level.
    if entry.layers.iter().all(|l| !l.contains('/') && l.ends_with(".tar")) && !entry.layers.is_empty() {
        return ArchiveFormat::PodmanDockerArchive;
    }
    ArchiveFormat::DockerArchive
}

/// A blob digest recoverable from the entry name: `blobs/sha256/<hex>`, `<hex>.tar`, `<hex>.tar.gz`.
fn digest_from_name(name: &str) -> Option<String> {
    if let Some(hex) = name.strip_prefix("sha256:") {
        return is_hex64(hex).then(|| name.to_string());
    }
    if is_hex64(name) {
        return Some(format!("sha256:{name}"));
    }
    if let Some(rest) = name.strip_prefix("blobs/") {
        let (alg, hex) = rest.split_once('/')?;
        return is_hex64(hex).then(|| format!("{alg}:{hex}"));
    }
    let stem =
        name.strip_suffix(".tar.gz").or_else(|| name.strip_suffix(".tar")).or_else(|| name.strip_suffix(".tgz"))?;
    is_hex64(stem).then(|| format!("sha256:{stem}"))
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The platform a config declares, if it declares one.
pub(super) fn config_platform(config: &ImageConfig) -> Option<Platform> {
    Some(Platform {
        architecture: config.architecture.clone()?,
        os: config.os.clone()?,
        variant: config.variant.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_from_entry_names() {
        let hex = "a".repeat(64);
        assert_eq!(digest_from_name(&format!("blobs/sha256/{hex}")), Some(format!("sha256:{hex}")));
        assert_eq!(digest_from_name(&format!("{hex}.tar.gz")), Some(format!("sha256:{hex}")));
        assert_eq!(digest_from_name(&format!("{hex}/layer.tar")), None);
    }
}
