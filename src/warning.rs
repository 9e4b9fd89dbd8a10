//! Problems that do not stop an image from loading but that the user must hear about.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of problem a warning reports. Stable names, for scripts reading the JSON report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A layer blob named by the manifest is not in the archive.
    MissingLayer,
    /// A whiteout names a path that no lower layer has.
    WhiteoutOfMissingPath,
    /// A `.wh.` entry that cannot be a whiteout (bare `.wh.`, unknown `.wh..wh.` marker).
    InvalidWhiteout,
    /// The same path occurs twice in one layer tar; the later entry wins.
    DuplicateEntry,
    /// A path with `..` components that would leave the root; it was clamped to the root.
    PathEscapesRoot,
    /// A tar entry type the model does not represent (skipped).
    UnsupportedEntry,
    /// A hard link whose target does not exist.
    HardLinkTargetMissing,
    /// A file was replaced by a directory without a whiteout or directory entry.
    ImplicitTypeChange,
    /// Config history, DiffIDs and layers disagree in number.
    HistoryMismatch,
    /// The archive's two descriptions of the image disagree; one was chosen.
    MetadataFallback,
    /// A media type or other metadata does not match the bytes.
    MetadataMismatch,
    /// A blob's sha256 differs from its digest in the manifest, or an uncompressed layer's from
    /// its DiffID (or the config's from its digest): the archive is corrupt or was tampered with.
    DigestMismatch,
    /// Something the source reported: a registry out of reach (and the cached manifest used),
    /// a credential helper that failed.
    SourceNotice,
}

/// One warning, optionally tied to a layer and a path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind of problem this is.
    pub kind: WarningKind,
    /// The layer involved, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// The path involved, if any (absolute, escaped like `files` output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A sentence for humans.
    pub message: String,
}

impl Warning {
    /// A warning about the image as a whole.
    pub fn image(kind: WarningKind, message: impl Into<String>) -> Self {
        Warning { kind, layer: None, path: None, message: message.into() }
    }

    /// A warning about one layer.
    pub fn layer(kind: WarningKind, layer: usize, message: impl Into<String>) -> Self {
        Warning { kind, layer: Some(layer), path: None, message: message.into() }
    }

    /// Attach a path.
    #[must_use]
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(layer) = self.layer {
            write!(f, "layer {layer}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(path) = &self.path
            && !self.message.contains(path.as_str())
        {
            write!(f, " ({path})")?;
        }
        Ok(())
    }
}

/// Warnings as they are found, at most `limit` of each kind kept (the rest counted): a hostile
/// image can make millions, and each costs memory.
#[derive(Clone, Debug)]
pub struct WarningLog {
    limit: usize,
    kept: Vec<Warning>,
    /// (kind, kept so far, not kept)
    counts: Vec<(WarningKind, usize, u64)>,
}

impl WarningLog {
    /// A log keeping at most `limit` warnings of each kind.
    pub fn new(limit: usize) -> Self {
        WarningLog { limit, kept: Vec::new(), counts: Vec::new() }
    }

    /// Record a warning.
    pub fn push(&mut self, warning: Warning) {
        let slot = match self.counts.iter_mut().position(|(k, _, _)| *k == warning.kind) {
            Some(i) => i,
            None => {
                self.counts.push((warning.kind, 0, 0));
                self.counts.len() - 1
            }
        };
        let (_, kept, dropped) = &mut self.counts[slot];
        if *kept < self.limit {
            *kept += 1;
            self.kept.push(warning);
        } else {
            *dropped += 1;
        }
    }

    /// Record everything another log holds (its counts of unkept warnings included).
    pub fn extend(&mut self, other: WarningLog) {
        for w in other.kept {
            self.push(w);
        }
        for (kind, _, dropped) in other.counts {
            if dropped > 0 {
                self.count_dropped(kind, dropped);
            }
        }
    }

    /// The warnings kept, and per kind how many were not kept (to store a log and restore it).
    pub(crate) fn parts(&self) -> (&[Warning], Vec<(WarningKind, u64)>) {
        (&self.kept, self.counts.iter().filter(|c| c.2 > 0).map(|&(k, _, d)| (k, d)).collect())
    }

    /// Count `n` more warnings of `kind` that were found but not kept.
    pub(crate) fn count_dropped(&mut self, kind: WarningKind, n: u64) {
        match self.counts.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, _, d)) => *d += n,
            None => self.counts.push((kind, self.limit, n)),
        }
    }

    /// The warnings kept, then one per kind that had more, saying how many were not kept.
    pub fn finish(self) -> Vec<Warning> {
        let mut out = self.kept;
        for (kind, _, dropped) in self.counts {
            if dropped > 0 {
                out.push(Warning::image(
                    kind,
                    format!("{dropped} more warnings of this kind were found; the first {} are listed", self.limit),
                ));
            }
        }
        out
    }
}
