//! A layer's parsed records as bytes, so a layer read once is never parsed again.
//!
//! The file is `MAGIC`, the xxh3 of the payload, then the payload: postcard (a compact serde
//! format) of [`Stored`]. It begins with the version of layerscope that wrote it: records hold
//! what this version's reader made of a layer, and another version may read the layer
//! differently, so a record from any other version is ignored (and the layer parsed again).

use serde::{Deserialize, Serialize};

use super::StoredKept;
use crate::archive::compression::Compression;
use crate::archive::tar::Chunk;
use crate::layer::{LayerDigests, ParsedLayer, RawEntry};
use crate::limits::Limits;
use crate::warning::{Warning, WarningKind, WarningLog};

const MAGIC: &[u8; 8] = b"LSREC02\n";

/// The version whose reader made a record.
const WRITER: &str = env!("CARGO_PKG_VERSION");

#[derive(Serialize, Deserialize)]
struct Stored<'a> {
    writer: &'a str,
    #[serde(with = "super::byte_string")]
    bytes: Vec<u8>,
    entries: Vec<RawEntry>,
    compression: Option<Compression>,
    content_bytes: u64,
    warnings: Vec<StoredWarning>,
    dropped: Vec<(WarningKind, u64)>,
    sparse: Vec<Vec<Chunk>>,
    digests: Option<LayerDigests>,
    kept: Vec<StoredKept>,
}

/// A warning without its layer index: the same layer can sit at another position in another image.
#[derive(Serialize, Deserialize)]
struct StoredWarning {
    kind: WarningKind,
    about_layer: bool,
    path: Option<String>,
    message: String,
}

/// The bytes of `parsed`'s record.
pub fn encode(parsed: &ParsedLayer) -> Vec<u8> {
    let (kept, dropped) = parsed.warnings.parts();
    let stored = Stored {
        writer: WRITER,
        bytes: parsed.bytes.clone(),
        entries: parsed.entries.clone(),
        compression: parsed.compression,
        content_bytes: parsed.content_bytes,
        warnings: kept
            .iter()
            .map(|w| StoredWarning {
                kind: w.kind,
                about_layer: w.layer.is_some(),
                path: w.path.clone(),
                message: w.message.clone(),
            })
            .collect(),
        dropped,
        sparse: parsed.sparse.clone(),
        digests: parsed.digests.clone(),
        kept: parsed.kept.iter().map(|(id, bytes)| StoredKept { id: *id, bytes: bytes.clone() }).collect(),
    };
    // Serialising plain data into a Vec cannot fail; an empty payload would only be ignored later.
    let payload = postcard::to_stdvec(&stored).unwrap_or_default();
    super::frame(MAGIC, &payload)
}

/// The layer a record holds, as layer `index`; `None` when the bytes are not a whole record of
/// this version.
pub fn decode(bytes: &[u8], index: usize, limits: &Limits) -> Option<ParsedLayer> {
    let payload = super::unframe(MAGIC, bytes)?;
    let stored: Stored = postcard::from_bytes(payload).ok()?;
    if stored.writer != WRITER || !well_formed(&stored) {
        return None;
    }
    let mut warnings = WarningLog::new(limits.warnings_per_kind);
    for w in stored.warnings {
        warnings.push(Warning {
            kind: w.kind,
            layer: w.about_layer.then_some(index),
            path: w.path,
            message: w.message,
        });
    }
    for (kind, n) in stored.dropped {
        warnings.count_dropped(kind, n);
    }
    Some(ParsedLayer {
        bytes: stored.bytes,
        entries: stored.entries,
        compression: stored.compression,
        content_bytes: stored.content_bytes,
        warnings,
        sparse: stored.sparse,
        digests: stored.digests,
        kept: stored.kept.into_iter().map(|k| (k.id, k.bytes)).collect(),
    })
}

/// Whether the records are what the layer reader makes: spans inside the arena, paths normalised
/// (no empty, `.` or `..` component, no leading `/`), sparse maps that exist, kept files of
/// records that exist. A record is written by layerscope, but the cache is a folder anything can
/// write to.
fn well_formed(stored: &Stored) -> bool {
    if stored.kept.iter().any(|k| k.id as usize >= stored.entries.len()) {
        return false;
    }
    let within = |span: crate::layer::Span| {
        (span.start as usize).checked_add(span.len as usize).is_some_and(|end| end <= stored.bytes.len())
    };
    stored.entries.iter().all(|e| {
        within(e.path)
            && e.link.is_none_or(within)
            && (e.sparse == crate::layer::NO_SPARSE || (e.sparse as usize) < stored.sparse.len())
            && {
                let path = e.path.of(&stored.bytes);
                path.is_empty() || path.split(|&b| b == b'/').all(|c| !c.is_empty() && c != b"." && c != b"..")
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{EntryKind, NO_SPARSE, Span};

    fn layer(path: &[u8]) -> ParsedLayer {
        let limits = Limits::default();
        let mut parsed = ParsedLayer::new(&limits);
        parsed.bytes = path.to_vec();
        parsed.entries.push(RawEntry {
            path: Span { start: 0, len: path.len() as u32 },
            kind: EntryKind::File,
            size: 3,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1,
            link: None,
            content: 42,
            data_offset: 512,
            hashed: true,
            stored: 3,
            sparse: NO_SPARSE,
        });
        parsed.warnings.push(Warning::layer(WarningKind::DuplicateEntry, 7, "twice").with_path("/etc/x"));
        parsed
    }

    #[test]
    fn a_record_round_trips_as_the_layer_it_is_read_as() {
        let bytes = encode(&layer(b"etc/x"));
        let back = decode(&bytes, 3, &Limits::default()).unwrap();
        assert_eq!(back.entries.len(), 1);
        assert_eq!(back.entries[0].path.of(&back.bytes), b"etc/x");
        assert_eq!(back.entries[0].content, 42);
        // The warning moves with the layer to its position in this image.
        assert_eq!(back.warnings.parts().0[0].layer, Some(3));
        let mut with_database = layer(b"var/lib/dpkg/status");
        with_database.kept.push((0, b"Package: git\n".to_vec()));
        let back = decode(&encode(&with_database), 0, &Limits::default()).unwrap();
        assert_eq!(back.kept, with_database.kept, "kept files come back");
    }

    #[test]
    fn damaged_foreign_or_malformed_records_are_not_read() {
        let mut bytes = encode(&layer(b"etc/x"));
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(decode(&bytes, 0, &Limits::default()).is_none(), "checksum");
        for path in [&b"../etc/x"[..], b"/etc/x", b"etc//x", b"etc/./x"] {
            assert!(decode(&encode(&layer(path)), 0, &Limits::default()).is_none(), "{path:?}");
        }
        let mut out_of_range = layer(b"etc/x");
        out_of_range.entries[0].path.len = 99;
        assert!(decode(&encode(&out_of_range), 0, &Limits::default()).is_none());
        let mut kept_elsewhere = layer(b"etc/x");
        kept_elsewhere.kept.push((1, Vec::new()));
        assert!(decode(&encode(&kept_elsewhere), 0, &Limits::default()).is_none(), "a kept file of no record");
    }
}
