//! The engine's error type. Every variant names the file, archive entry or digest involved, so a
//! message alone tells the user where to look.

use std::io;
use std::path::PathBuf;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop an image from loading.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file on disk failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },

    /// Reading an entry of the image failed (truncated archive, bad compression, I/O error).
    #[error("{entry}: {source}")]
    Read {
        /// The archive entry or blob digest being read.
        entry: String,
        /// The underlying error.
        source: io::Error,
    },

    /// The input is not a tar archive or an image directory at all.
    #[error("{path}: {what}")]
    NotAnArchive {
        /// The input as the user named it.
        path: String,
        /// What was found instead.
        what: String,
    },

    /// The archive was cut short: an entry extends past its end, or it ends without tar's
    /// end-of-archive blocks and the image metadata is missing.
    #[error("{path} is truncated: {detail}")]
    Truncated {
        /// The input as the user named it.
        path: String,
        /// Which entry, at which offset, and what is missing.
        detail: String,
    },

    /// A tar archive that holds files but no image metadata (`docker export`, `buildx --output type=tar`).
    #[error(
        "{path} is a filesystem tarball, not an image: it has no manifest.json or index.json \
         (it starts with {found}). Save the image with `docker save`, `podman save` or \
         `skopeo copy ... oci-archive:FILE` instead"
    )]
    FilesystemTarball {
        /// The input as the user named it.
        path: String,
        /// The first few entry names, for the message.
        found: String,
    },

    /// A metadata file (manifest, index, config) is not the JSON we expect.
    #[error("{entry} is not a valid {what}: {detail}")]
    BadMetadata {
        /// The archive entry or digest.
        entry: String,
        /// What the entry should have been ("OCI image index", "image config", ...).
        what: &'static str,
        /// Why parsing failed.
        detail: String,
    },

    /// A metadata file refers to an entry that the archive does not have.
    #[error("{referrer} lists {what} {entry} but {why}")]
    MissingEntry {
        /// The file holding the reference (e.g. `manifest.json`).
        referrer: String,
        /// What kind of thing was referenced ("config", "manifest", ...).
        what: &'static str,
        /// The missing entry name or digest.
        entry: String,
        /// Why it cannot be read ("the archive has no such entry", a symlink loop).
        why: String,
    },

    /// The archive holds several images and none was chosen.
    #[error("the archive holds {} images; choose one with --image:{}", .available.len(), list(.available))]
    SeveralImages {
        /// Names of the images found.
        available: Vec<String>,
    },

    /// `--image` named an image the archive does not hold.
    #[error("the archive has no image named '{}'; it holds:{}", safe(.wanted), list(.available))]
    ImageNotFound {
        /// What the user asked for.
        wanted: String,
        /// Names of the images found.
        available: Vec<String>,
    },

    /// `--image` matches several images of the archive.
    #[error("--image '{}' matches {} images; name one of them in full:{}", safe(.wanted), .candidates.len(), list(.candidates))]
    AmbiguousImage {
        /// What the user asked for.
        wanted: String,
        /// The images it matches.
        candidates: Vec<String>,
    },

    /// `--platform` named a platform the image does not have.
    #[error("the image has no manifest for platform '{}'; it has: {}", safe(.wanted), .available.iter().map(|p| safe(p)).collect::<Vec<_>>().join(", "))]
    PlatformNotFound {
        /// What the user asked for.
        wanted: String,
        /// Platforms found.
        available: Vec<String>,
    },

    /// The archive holds no runnable image (only artifacts, attestations or nothing).
    #[error("{path} holds no container image: {detail}")]
    NoImage {
        /// The input as the user named it.
        path: String,
        /// What was found instead.
        detail: String,
    },

    /// A layer could not be read.
    #[error("layer {index} ({entry}): {detail}")]
    Layer {
        /// Position of the layer, 0 = base.
        index: usize,
        /// Archive entry or digest of the layer blob.
        entry: String,
        /// What went wrong (with the I/O error's text, when one caused it).
        detail: String,
        /// The I/O error that caused it, kept as a value for callers to inspect.
        #[source]
        source: Option<io::Error>,
    },

    /// A registry refused or failed a request, or could not be reached.
    #[error("{reference}: {detail}")]
    Registry {
        /// The image as resolved (`registry/repository:tag`).
        reference: String,
        /// What the registry said, and what to do about it.
        detail: String,
    },

    /// A local engine (Docker, Podman, containerd) could not provide the image.
    #[error("{engine}: {detail}")]
    Engine {
        /// The engine and where it was reached (`docker (unix:///var/run/docker.sock)`).
        engine: String,
        /// What went wrong.
        detail: String,
    },

    /// A limit of the in-memory model was exceeded.
    #[error("{0}")]
    TooLarge(String),

    /// The user asked loading to stop.
    #[error("cancelled")]
    Cancelled,

    /// An invalid argument that the engine checks (e.g. a platform string).
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    /// For errors that list the images of an archive: the sentence and the names (raw), so a
    /// printer can put one per line and escape each.
    pub fn listing(&self) -> Option<(String, Vec<String>)> {
        match self {
            Error::SeveralImages { available } => Some((
                format!("the archive holds {} images; choose one with --image:", available.len()),
                available.clone(),
            )),
            Error::ImageNotFound { wanted, available } => {
                Some((format!("the archive has no image named '{wanted}'; it holds:"), available.clone()))
            }
            Error::AmbiguousImage { wanted, candidates } => Some((
                format!("--image '{wanted}' matches {} images; name one of them in full:", candidates.len()),
                candidates.clone(),
            )),
            _ => None,
        }
    }
}

/// Names from an archive, one per line, escaped (they are untrusted).
fn list(names: &[String]) -> String {
    names.iter().map(|n| format!("\n  {}", crate::text::terminal_safe(n))).collect()
}

fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    crate::text::terminal_safe(text)
}

impl Error {
    /// Wrap an I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Wrap an I/O error that happened while reading archive entry `entry`.
    pub(crate) fn read(entry: impl Into<String>, source: io::Error) -> Self {
        Error::Read { entry: entry.into(), source }
    }

    /// A JSON document that did not parse as `what`.
    pub(crate) fn bad_json(entry: impl Into<String>, what: &'static str, err: &serde_json::Error) -> Self {
        Error::BadMetadata { entry: entry.into(), what, detail: err.to_string() }
    }
}
