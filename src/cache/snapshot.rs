//! An image's merged tree as bytes: a stack of layers opened once is never merged again.
//!
//! Keyed by the image's layer chain (every layer's blob digest, in order, and the writer's
//! version), so it is only found for exactly these layers in exactly this order. Like a layer
//! record it is `MAGIC`, the xxh3 of the payload, and postcard; a tree read back is checked
//! ([`Tree::is_consistent`]) before use.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::archive::compression::Compression;
use crate::layer::LayerDigests;
use crate::limits::Limits;
use crate::tree::{EntryId, Tree};
use crate::warning::{Warning, WarningKind, WarningLog};

const MAGIC: &[u8; 8] = b"LSTREE2\n";

/// The version whose builder made a tree.
const WRITER: &str = env!("CARGO_PKG_VERSION");

/// What reading and merging the layers of an image gave, before the image's own metadata is
/// attached.
#[derive(Debug)]
pub struct Snapshot {
    /// The merged tree.
    pub tree: Tree,
    /// Per layer, base first.
    pub layers: Vec<SnapshotLayer>,
    /// What merging warned about.
    pub warnings: WarningLog,
}

/// What reading one layer gave.
#[derive(Debug)]
pub struct SnapshotLayer {
    /// Its records in [`Tree::entries`].
    pub entries: Range<EntryId>,
    /// How its blob is stored.
    pub compression: Option<Compression>,
    /// Σ sizes of its regular files.
    pub content_bytes: u64,
    /// What reading it warned about.
    pub warnings: WarningLog,
    /// Its digests, when it was hashed.
    pub digests: Option<LayerDigests>,
    /// The package databases kept while it was read, by entry (see [`crate::layer::kept`]).
    pub kept: Vec<(EntryId, Vec<u8>)>,
}

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    writer: &'a str,
    tree: Tree,
    layers: Vec<StoredLayer>,
    warnings: StoredLog,
}

#[derive(Serialize, Deserialize)]
struct StoredLayer {
    entries: (EntryId, EntryId),
    compression: Option<Compression>,
    content_bytes: u64,
    warnings: StoredLog,
    digests: Option<LayerDigests>,
    kept: Vec<super::StoredKept>,
}

#[derive(Serialize, Deserialize)]
struct StoredLog {
    kept: Vec<(WarningKind, Option<usize>, Option<String>, String)>,
    dropped: Vec<(WarningKind, u64)>,
}

impl StoredLog {
    fn of(log: &WarningLog) -> StoredLog {
        let (kept, dropped) = log.parts();
        StoredLog { kept: kept.iter().map(|w| (w.kind, w.layer, w.path.clone(), w.message.clone())).collect(), dropped }
    }

    fn into_log(self, limits: &Limits) -> WarningLog {
        let mut log = WarningLog::new(limits.warnings_per_kind);
        for (kind, layer, path, message) in self.kept {
            log.push(Warning { kind, layer, path, message });
        }
        for (kind, n) in self.dropped {
            log.count_dropped(kind, n);
        }
        log
    }
}

/// The key of a stack of layers: the sha256 of the writer's version and each layer's blob
/// digest, in order.
pub fn chain_key(blob_digests: &[&str]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"layerscope tree\n");
    hasher.update(WRITER.as_bytes());
    for d in blob_digests {
        hasher.update(b"\n");
        hasher.update(d.as_bytes());
    }
    crate::text::digest(&hasher.finalize())
}

/// The bytes of a snapshot.
pub fn encode(snapshot: &Snapshot) -> Vec<u8> {
    // Serialising borrows nothing but needs an owned tree in `Stored`; write the fields by hand
    // through a borrowed twin instead of cloning a tree of a million entries.
    #[derive(Serialize)]
    struct Borrowed<'a> {
        writer: &'a str,
        tree: &'a Tree,
        layers: Vec<StoredLayer>,
        warnings: StoredLog,
    }
    let stored = Borrowed {
        writer: WRITER,
        tree: &snapshot.tree,
        layers: snapshot
            .layers
            .iter()
            .map(|l| StoredLayer {
                entries: (l.entries.start, l.entries.end),
                compression: l.compression,
                content_bytes: l.content_bytes,
                warnings: StoredLog::of(&l.warnings),
                digests: l.digests.clone(),
                kept: l.kept.iter().map(|(id, bytes)| super::StoredKept { id: *id, bytes: bytes.clone() }).collect(),
            })
            .collect(),
        warnings: StoredLog::of(&snapshot.warnings),
    };
    let payload = postcard::to_stdvec(&stored).unwrap_or_default();
    super::frame(MAGIC, &payload)
}

/// The snapshot the bytes hold, for an image of `layers` layers; `None` when they are not a whole,
/// consistent snapshot of this version.
pub fn decode(bytes: &[u8], layers: usize, limits: &Limits) -> Option<Snapshot> {
    let payload = super::unframe(MAGIC, bytes)?;
    let stored: Stored = postcard::from_bytes(payload).ok()?;
    let entries = stored.tree.entries().len() as u64;
    let ranges_fit = stored.layers.iter().all(|l| {
        l.entries.0 <= l.entries.1
            && u64::from(l.entries.1) <= entries
            && l.kept.iter().all(|k| (l.entries.0..l.entries.1).contains(&k.id))
    });
    if stored.writer != WRITER
        || stored.layers.len() != layers
        || stored.tree.layer_count() != layers
        || !ranges_fit
        || !stored.tree.is_consistent()
    {
        return None;
    }
    Some(Snapshot {
        tree: stored.tree,
        layers: stored
            .layers
            .into_iter()
            .map(|l| SnapshotLayer {
                entries: l.entries.0..l.entries.1,
                compression: l.compression,
                content_bytes: l.content_bytes,
                warnings: l.warnings.into_log(limits),
                digests: l.digests,
                kept: l.kept.into_iter().map(|k| (k.id, k.bytes)).collect(),
            })
            .collect(),
        warnings: stored.warnings.into_log(limits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{EntryKind, NO_SPARSE, ParsedLayer, RawEntry, Span};
    use crate::tree::TreeBuilder;

    fn snapshot() -> Snapshot {
        let limits = Limits::default();
        let mut parsed = ParsedLayer::new(&limits);
        parsed.bytes = b"etcetc/x".to_vec();
        let entry = |start, len, kind| RawEntry {
            path: Span { start, len },
            kind,
            size: 0,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: 0,
            link: None,
            content: 0,
            data_offset: 0,
            hashed: true,
            stored: 0,
            sparse: NO_SPARSE,
        };
        parsed.entries = vec![entry(0, 3, EntryKind::Dir), entry(3, 5, EntryKind::File)];
        let mut builder = TreeBuilder::with_limits(&limits);
        let entries = builder.apply(&parsed).unwrap();
        let (tree, warnings) = builder.finish();
        let layer = SnapshotLayer {
            entries,
            compression: Some(Compression::Gzip),
            content_bytes: 0,
            warnings: WarningLog::new(10),
            digests: None,
            kept: vec![(1, b"Package: x\n".to_vec())],
        };
        Snapshot { tree, layers: vec![layer], warnings }
    }

    #[test]
    fn a_tree_round_trips() {
        let back = decode(&encode(&snapshot()), 1, &Limits::default()).unwrap();
        assert_eq!(back.tree.node_count(), 3);
        assert_eq!(back.tree.display_path(back.tree.lookup(b"etc/x").unwrap()).0, "/etc/x");
        assert_eq!(back.layers[0].entries, 0..2);
        assert_eq!(back.layers[0].kept, [(1, b"Package: x\n".to_vec())]);
        assert!(decode(&encode(&snapshot()), 2, &Limits::default()).is_none(), "another stack");
        // A kept file of an entry outside its layer is a damaged entry.
        let mut wrong = snapshot();
        wrong.layers[0].kept[0].0 = 2;
        assert!(decode(&encode(&wrong), 1, &Limits::default()).is_none());
    }

    #[test]
    fn a_tree_whose_indexes_point_anywhere_is_not_used() {
        // Rewrite the payload with a node whose parent comes after it, as a damaged cache could.
        let mut stored = snapshot();
        let bytes = encode(&stored);
        assert!(decode(&bytes, 1, &Limits::default()).is_some());
        let value: Stored = postcard::from_bytes(&bytes[16..]).unwrap();
        let mut tree = value.tree;
        tree.corrupt_for_tests();
        stored.tree = tree;
        assert!(decode(&encode(&stored), 1, &Limits::default()).is_none());
    }

    #[test]
    fn chains_differ_by_order() {
        assert_ne!(chain_key(&["sha256:a", "sha256:b"]), chain_key(&["sha256:b", "sha256:a"]));
        assert!(crate::cache::sha256_hex(&chain_key(&["x"])).is_some());
    }
}
