//! OCI image layouts: `index.json` → (nested indexes) → manifest → config and layers.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::config::{Descriptor, ImageConfig, ImageIndex, ImageManifest, Platform, media};
use super::docker::config_platform;
use super::{ArchiveFormat, LayerSource, ResolvedImage, Selection, blob_path, choose_image, sha256_digest};
use crate::archive::Archive;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::warning::{Warning, WarningKind};

const INDEX: &str = "index.json";

/// A manifest reachable from `index.json`.
struct Candidate {
    manifest_digest: String,
    platform: Option<Platform>,
    manifest: ImageManifest,
}

/// Manifests that belong to one image name (or to no name), usually one per platform.
struct Group {
    names: Vec<String>,
    /// The same names, to add a tag in constant time (100,000 tags of one image happen).
    name_set: HashSet<String>,
    top_digests: Vec<String>,
    candidates: Vec<Candidate>,
}

impl Group {
    fn label(&self) -> String {
        if self.names.is_empty() {
            format!("(untagged {})", short(self.top_digests.first().map_or("", String::as_str)))
        } else {
            self.names.join(" ")
        }
    }
}

/// What the walk of `index.json` found, and what it costs: under one top-level descriptor each
/// manifest or index is read once however many indexes list it (a DAG of nested indexes would
/// otherwise be walked exponentially), and at most `limits.index_nodes` are read in all.
#[derive(Default)]
struct Walk {
    groups: Vec<Group>,
    /// Why manifests were passed over (attestations, artifacts, missing blobs), for messages.
    skipped: Vec<String>,
    warnings: Vec<Warning>,
    /// Digests already visited under the current top-level descriptor.
    seen: HashSet<String>,
    /// Manifests and indexes read.
    nodes: usize,
}

pub(super) fn resolve(archive: &Archive, selection: &Selection, limits: &Limits) -> Result<ResolvedImage> {
    let bytes = archive.read_small(INDEX).ok_or_else(|| Error::MissingEntry {
        referrer: archive.display_name().to_string(),
        what: "file",
        entry: INDEX.into(),
        why: archive.why_missing(INDEX),
    })??;
    let index: ImageIndex =
        serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(INDEX, "OCI image index", &e))?;
    let mut walk = Walk::default();
    if !archive.contains("oci-layout") {
        walk.warnings.push(Warning::image(
            WarningKind::MetadataMismatch,
            "the OCI layout has no oci-layout file; reading index.json anyway",
        ));
    }
    // Groups by top-level digest and by first name, so grouping stays linear in descriptors.
    let mut by_digest: HashMap<String, usize> = HashMap::new();
    let mut by_name: HashMap<Option<String>, usize> = HashMap::new();
    for desc in &index.manifests {
        let name = ref_name(desc);
        let mut candidates = Vec::new();
        if let Some(&g) = by_digest.get(&desc.digest) {
            // Another tag of an image already seen.
            let group = &mut walk.groups[g];
            if let Some(name) = name
                && group.name_set.insert(name.clone())
            {
                group.names.push(name);
            }
            continue;
        }
        // Within one image a manifest listed by several indexes counts once; across images the
        // node budget bounds the reading.
        walk.seen.clear();
        visit(archive, desc, INDEX, 0, &mut candidates, &mut walk, limits)?;
        // Descriptors with the same name (or none) are the platforms of one image.
        let g = match by_name.get(&name) {
            Some(&g) => {
                let group = &mut walk.groups[g];
                group.top_digests.push(desc.digest.clone());
                group.candidates.extend(candidates);
                g
            }
            None => {
                walk.groups.push(Group {
                    names: name.clone().into_iter().collect(),
                    name_set: name.clone().into_iter().collect(),
                    top_digests: vec![desc.digest.clone()],
                    candidates,
                });
                by_name.insert(name, walk.groups.len() - 1);
                walk.groups.len() - 1
            }
        };
        by_digest.insert(desc.digest.clone(), g);
    }
    walk.groups.retain(|g| !g.candidates.is_empty());
    if walk.groups.is_empty() {
        let detail = if walk.skipped.is_empty() {
            "index.json lists no manifests".to_string()
        } else {
            format!("index.json lists only {}", walk.skipped.join("; "))
        };
        return Err(Error::NoImage { path: archive.display_name().to_string(), detail });
    }

    let group_index = choose_group(&walk.groups, selection)?;
    let group = &walk.groups[group_index];
    let mut configs = BTreeMap::new();
    let mut platforms = Vec::with_capacity(group.candidates.len());
    for c in &group.candidates {
        let platform = match &c.platform {
            Some(p) => Some(p.clone()),
            None => {
                let (cfg, _) = read_config(archive, c, &mut configs)?;
                config_platform(cfg)
            }
        };
        platforms.push(platform);
    }
    let chosen = choose_platform(&platforms, selection)?;
    let candidate = &group.candidates[chosen];
    let (config, config_digest) = {
        let (cfg, digest) = read_config(archive, candidate, &mut configs)?;
        (cfg.clone(), digest)
    };
    let platform = platforms[chosen].clone().or_else(|| config_platform(&config));

    let mut warnings = std::mem::take(&mut walk.warnings);
    if let Some(declared) = candidate.manifest.config.as_ref().map(|d| &d.digest)
        && declared.starts_with("sha256:")
        && *declared != config_digest
    {
        warnings.push(Warning::image(
            WarningKind::DigestMismatch,
            format!("the config blob {declared} hashes to {config_digest}"),
        ));
    }
    let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
    if diff_ids.len() != candidate.manifest.layers.len() {
        warnings.push(Warning::image(
            WarningKind::HistoryMismatch,
            format!(
                "the manifest lists {} layers but the config has {} DiffIDs",
                candidate.manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(candidate.manifest.layers.len());
    for (i, desc) in candidate.manifest.layers.iter().enumerate() {
        let path = blob_path(&desc.digest).ok_or_else(|| Error::BadMetadata {
            entry: format!("manifest {}", candidate.manifest_digest),
            what: "OCI image manifest",
            detail: format!("layer {i} has an invalid digest '{}'", desc.digest),
        })?;
        layers.push(LayerSource {
            blob: archive.get(&path),
            entry: path,
            blob_digest: Some(desc.digest.clone()),
            media_type: desc.media_type.clone(),
            diff_id: diff_ids.get(i).cloned(),
            urls: desc.urls.clone(),
        });
    }
    let format = if archive.is_dir() {
        ArchiveFormat::OciDirectory
    } else if archive.contains("manifest.json") {
        ArchiveFormat::DockerOciArchive
    } else {
        ArchiveFormat::OciArchive
    };
    Ok(ResolvedImage {
        format,
        tags: group.names.clone(),
        config_digest,
        manifest_digest: Some(candidate.manifest_digest.clone()),
        config,
        platform,
        annotations: candidate.manifest.annotations.clone(),
        layers,
        warnings,
    })
}

fn ref_name(desc: &Descriptor) -> Option<String> {
    desc.annotations
        .get("io.containerd.image.name")
        .or_else(|| desc.annotations.get("org.opencontainers.image.ref.name"))
        .cloned()
}

/// `sha256:0123456789ab`: a digest cut for messages (on a char boundary: digests come from input).
fn short(digest: &str) -> &str {
    let keep = digest.find(':').map_or(0, |i| i + 1) + 12;
    let end = digest.char_indices().nth(keep).map_or(digest.len(), |(i, _)| i);
    &digest[..end]
}

/// Collect the manifests reachable from `desc`.
fn visit(
    archive: &Archive,
    desc: &Descriptor,
    referrer: &str,
    depth: usize,
    out: &mut Vec<Candidate>,
    walk: &mut Walk,
    limits: &Limits,
) -> Result<()> {
    if depth > limits.index_depth {
        return Err(Error::BadMetadata {
            entry: referrer.to_string(),
            what: "OCI image index",
            detail: format!("indexes nest deeper than {} levels", limits.index_depth),
        });
    }
    if !walk.seen.insert(desc.digest.clone()) {
        // Listed again by another index: its manifests are already counted.
        return Ok(());
    }
    walk.nodes += 1;
    if walk.nodes > limits.index_nodes {
        return Err(Error::TooLarge(format!(
            "{referrer}: the OCI layout lists more than {} manifests and indexes",
            limits.index_nodes
        )));
    }
    if desc.annotations.get("vnd.docker.reference.type").map(String::as_str) == Some("attestation-manifest")
        || desc.platform.as_ref().is_some_and(Platform::is_unknown)
    {
        walk.skipped.push(format!("an attestation manifest ({})", short(&desc.digest)));
        return Ok(());
    }
    if desc.artifact_type.is_some() {
        walk.skipped.push(format!("an artifact ({})", short(&desc.digest)));
        return Ok(());
    }
    let media_type = desc.media_type.as_deref();
    let known = matches!(
        media_type,
        None | Some(media::OCI_INDEX | media::DOCKER_LIST | media::OCI_MANIFEST | media::DOCKER_MANIFEST)
    );
    if !known {
        // The spec forbids failing on unknown media types in an index.
        walk.skipped.push(format!("content of type {} ({})", media_type.unwrap_or("?"), short(&desc.digest)));
        return Ok(());
    }
    let path = blob_path(&desc.digest).ok_or_else(|| Error::BadMetadata {
        entry: referrer.to_string(),
        what: "OCI image index",
        detail: format!("invalid digest '{}'", desc.digest),
    })?;
    let Some(bytes) = archive.read_small(&path) else {
        // containerd-store archives keep the index of every platform but the blobs of one.
        walk.skipped.push(format!("a manifest that is not in the archive ({})", short(&desc.digest)));
        return Ok(());
    };
    let bytes = bytes?;
    if desc.digest.starts_with("sha256:") {
        let actual = sha256_digest(&bytes);
        if actual != desc.digest {
            walk.warnings.push(Warning::image(
                WarningKind::DigestMismatch,
                format!("the manifest blob {} hashes to {actual}", desc.digest),
            ));
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(&desc.digest, "OCI manifest or index", &e))?;
    let is_index = match media_type {
        Some(media::OCI_INDEX | media::DOCKER_LIST) => true,
        Some(_) => false,
        None => value.get("manifests").is_some(),
    };
    if is_index {
        let nested: ImageIndex =
            serde_json::from_value(value).map_err(|e| Error::bad_json(&desc.digest, "OCI image index", &e))?;
        for child in &nested.manifests {
            visit(archive, child, &desc.digest, depth + 1, out, walk, limits)?;
        }
        return Ok(());
    }
    let manifest: ImageManifest =
        serde_json::from_value(value).map_err(|e| Error::bad_json(&desc.digest, "OCI image manifest", &e))?;
    let config_type = manifest.config.as_ref().and_then(|c| c.media_type.as_deref());
    let is_image_config = matches!(config_type, None | Some(media::OCI_CONFIG | media::DOCKER_CONFIG));
    if manifest.artifact_type.is_some() || !is_image_config {
        walk.skipped.push(format!("an artifact ({}, config type {})", short(&desc.digest), config_type.unwrap_or("?")));
        return Ok(());
    }
    out.push(Candidate { manifest_digest: desc.digest.clone(), platform: desc.platform.clone(), manifest });
    Ok(())
}

fn choose_group(groups: &[Group], selection: &Selection) -> Result<usize> {
    if let Some(wanted) = &selection.image {
        let names: Vec<Vec<String>> = groups.iter().map(|g| g.names.clone()).collect();
        return choose_image(wanted, &names, |i| groups[i].label());
    }
    if let Some(i) = selection.index.filter(|&i| i < groups.len()) {
        return Ok(i);
    }
    match groups.len() {
        1 => Ok(0),
        _ => Err(Error::SeveralImages { available: groups.iter().map(Group::label).collect() }),
    }
}

/// The manifest of an index (a registry's, read one level at a time) that `selection` asks
/// for: attestations, artifacts and unknown content are passed over, then the platform is
/// chosen as for an archive. `what` names the index in messages.
pub(crate) fn choose_in_index<'a>(index: &'a ImageIndex, selection: &Selection, what: &str) -> Result<&'a Descriptor> {
    let runnable: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            d.annotations.get("vnd.docker.reference.type").map(String::as_str) != Some("attestation-manifest")
                && !d.platform.as_ref().is_some_and(Platform::is_unknown)
                && d.artifact_type.is_none()
                && matches!(
                    d.media_type.as_deref(),
                    None | Some(media::OCI_INDEX | media::DOCKER_LIST | media::OCI_MANIFEST | media::DOCKER_MANIFEST)
                )
        })
        .collect();
    if runnable.is_empty() {
        return Err(Error::NoImage {
            path: what.to_string(),
            detail: format!("its index lists {} manifests, none of them a runnable image", index.manifests.len()),
        });
    }
    let platforms: Vec<Option<Platform>> = runnable.iter().map(|d| d.platform.clone()).collect();
    Ok(runnable[choose_platform(&platforms, selection)?])
}

fn choose_platform(platforms: &[Option<Platform>], selection: &Selection) -> Result<usize> {
    let label = |p: &Option<Platform>| p.as_ref().map_or("(no platform)".to_string(), Platform::to_string);
    if let Some(wanted) = &selection.platform {
        return platforms.iter().position(|p| p.as_ref().is_some_and(|p| p.satisfies(wanted))).ok_or_else(|| {
            Error::PlatformNotFound { wanted: wanted.to_string(), available: platforms.iter().map(label).collect() }
        });
    }
    let default = Platform { os: "linux".into(), architecture: "amd64".into(), variant: None };
    Ok(platforms.iter().position(|p| p.as_ref().is_some_and(|p| p.satisfies(&default))).unwrap_or(0))
}

/// Read and parse a candidate's config once; returns it with the sha256 of its bytes.
fn read_config<'a>(
    archive: &Archive,
    candidate: &Candidate,
    cache: &'a mut BTreeMap<String, (ImageConfig, String)>,
) -> Result<(&'a ImageConfig, String)> {
    let referrer = format!("manifest {}", candidate.manifest_digest);
    let desc = candidate.manifest.config.as_ref().ok_or_else(|| Error::BadMetadata {
        entry: referrer.clone(),
        what: "OCI image manifest",
        detail: "it has no config".into(),
    })?;
    if !cache.contains_key(&desc.digest) {
        let path = blob_path(&desc.digest).ok_or_else(|| Error::BadMetadata {
            entry: referrer.clone(),
            what: "OCI image manifest",
            detail: format!("invalid config digest '{}'", desc.digest),
        })?;
        let bytes = archive.read_small(&path).ok_or_else(|| Error::MissingEntry {
            referrer: referrer.clone(),
            what: "config",
            entry: path.clone(),
            why: archive.why_missing(&path),
        })??;
        let config: ImageConfig =
            serde_json::from_slice(&bytes).map_err(|e| Error::bad_json(&path, "image config", &e))?;
        cache.insert(desc.digest.clone(), (config, sha256_digest(&bytes)));
    }
    let (config, digest) = &cache[&desc.digest];
    Ok((config, digest.clone()))
}
