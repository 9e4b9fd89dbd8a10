//! The JSON documents of an image: image config, OCI index and manifest, descriptors.
//! Parsing is lenient where real writers differ (nulls for empty lists, missing fields) and strict
//! where a wrong value would make the model wrong.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The image configuration (`application/vnd.oci.image.config.v1+json` and Docker's equivalent).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImageConfig {
    /// CPU architecture (`amd64`, `arm64`...).
    pub architecture: Option<String>,
    /// Operating system (`linux`, `windows`).
    pub os: Option<String>,
    /// CPU variant (`v7`, `v8`).
    pub variant: Option<String>,
    /// When the image was created (RFC 3339).
    pub created: Option<String>,
    /// The runtime configuration.
    pub config: Option<RunConfig>,
    /// Layer DiffIDs.
    pub rootfs: Option<RootFs>,
    /// Build history, one entry per instruction, including those that made no layer.
    #[serde(deserialize_with = "null_as_default")]
    pub history: Vec<History>,
}

/// Runtime settings inside the config (`config` key; field names as Docker writes them).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RunConfig {
    /// ENTRYPOINT.
    #[serde(deserialize_with = "string_or_list")]
    pub entrypoint: Option<Vec<String>>,
    /// CMD.
    #[serde(deserialize_with = "string_or_list")]
    pub cmd: Option<Vec<String>>,
    /// ENV.
    #[serde(deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// WORKDIR.
    pub working_dir: Option<String>,
    /// USER.
    pub user: Option<String>,
    /// LABELs.
    #[serde(deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// `rootfs` of the config.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// sha256 of each uncompressed layer tar, base first.
    #[serde(deserialize_with = "null_as_default")]
    pub diff_ids: Vec<String>,
}

/// One build step of the config history.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct History {
    /// When the step ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The instruction, e.g. `/bin/sh -c apt-get update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Free-form comment (`buildkit.dockerfile.v0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Author of the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// True for steps that made no layer (ENV, LABEL, CMD...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

impl History {
    /// Whether this step produced no layer.
    pub fn is_empty_layer(&self) -> bool {
        self.empty_layer == Some(true)
    }
}

/// An OCI content descriptor.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: Option<String>,
    /// `algorithm:encoded`.
    pub digest: String,
    /// Size in bytes.
    pub size: Option<i64>,
    /// Platform of a manifest inside an index.
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    /// Artifact type of a manifest inside an index.
    pub artifact_type: Option<String>,
    /// Where a non-distributable layer can be fetched.
    #[serde(deserialize_with = "null_as_default")]
    pub urls: Vec<String>,
}

/// An OS/architecture pair.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Platform {
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `os/arch[/variant]` as given on the command line.
    pub fn parse(text: &str) -> Option<Platform> {
        let mut parts = text.split('/');
        let os = parts.next().filter(|s| !s.is_empty())?;
        let architecture = parts.next().filter(|s| !s.is_empty())?;
        let variant = parts.next().map(str::to_string);
        if parts.next().is_some() || variant.as_deref() == Some("") {
            return None;
        }
        Some(Platform { architecture: architecture.to_string(), os: os.to_string(), variant })
    }

    /// Whether an image for `self` satisfies a request for `wanted` (a missing variant matches any;
    /// arm64 without a variant is v8).
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        if self.os != wanted.os || self.architecture != wanted.architecture {
            return false;
        }
        match (&wanted.variant, &self.variant) {
            (None, _) => true,
            (Some(w), Some(v)) => w == v,
            (Some(w), None) => self.architecture == "arm64" && w == "v8",
        }
    }

    /// Whether this is the attestation pseudo-platform `unknown/unknown`.
    pub fn is_unknown(&self) -> bool {
        self.os == "unknown" || self.architecture == "unknown"
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An OCI image index (also Docker's manifest list).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ImageIndex {
    /// Media type, when present.
    pub media_type: Option<String>,
    /// The manifests (or nested indexes). Docker 25.0 wrote `null` here (moby#47210).
    #[serde(deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
}

/// An OCI image manifest (also Docker's schema 2 manifest).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ImageManifest {
    /// Media type, when present.
    pub media_type: Option<String>,
    /// Artifact type (artifacts are not images).
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Option<Descriptor>,
    /// Layer blobs, base first.
    #[serde(deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// Annotations (`org.opencontainers.image.base.name`...).
    #[serde(deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

/// One element of Docker's `manifest.json`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DockerManifestEntry {
    /// Archive entry of the config.
    pub config: String,
    /// Tags of the image (`null` for an untagged save).
    #[serde(deserialize_with = "null_as_default")]
    pub repo_tags: Vec<String>,
    /// Archive entries of the layers, base first.
    #[serde(deserialize_with = "null_as_default")]
    pub layers: Vec<String>,
    /// Descriptors of foreign layers, by DiffID (Docker 25+).
    #[serde(deserialize_with = "null_as_default")]
    pub layer_sources: BTreeMap<String, Descriptor>,
}

/// Media types we act on.
pub mod media {
    /// OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// Docker manifest list.
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}

fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Docker accepts `"Cmd": "echo hi"` as well as a list; so do we.
fn string_or_list<'de, D>(de: D) -> Result<Option<Vec<String>>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(de)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_platforms() {
        let p = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux/amd64/").is_none());
        let arm64 = Platform::parse("linux/arm64").unwrap();
        assert!(arm64.satisfies(&Platform::parse("linux/arm64/v8").unwrap()));
        assert!(!arm64.satisfies(&Platform::parse("linux/amd64").unwrap()));
    }

    #[test]
    fn tolerates_nulls_and_string_cmd() {
        let cfg: ImageConfig = serde_json::from_str(
            r#"{"history": null, "config": {"Cmd": "sh", "Env": null, "Labels": null}, "rootfs": {"type": "layers", "diff_ids": null}}"#,
        )
        .unwrap();
        assert!(cfg.history.is_empty());
        assert_eq!(cfg.config.unwrap().cmd, Some(vec!["sh".to_string()]));
        let idx: ImageIndex = serde_json::from_str(r#"{"schemaVersion": 2, "manifests": null}"#).unwrap();
        assert!(idx.manifests.is_empty());
    }
}
