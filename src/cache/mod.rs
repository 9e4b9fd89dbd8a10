//! The local cache: blobs checked against their digests, the parsed records of layers, and which
//! manifest a tag named when it was last fetched. Everything is addressed by sha256 digest, so
//! images that share layers share entries, whatever source they came from.
//!
//! ```text
//! ROOT/blobs/sha256/HEX          a blob whose sha256 is HEX (layers, configs, manifests, indexes)
//! ROOT/records/v1/sha256/HEX     the parsed records of the layer whose blob is HEX
//! ROOT/trees/v1/sha256/HEX       the merged tree of the layer chain HEX (snapshot::chain_key)
//! ROOT/derived/v1/sha256/HEX.KIND  figures computed from that tree (the analysis, dive's figures)
//! ROOT/refs/REGISTRY/REPO/@TAG   the manifest digest REGISTRY/REPO:TAG named, and when
//! ROOT/tmp/                      entries being written
//! ```
//!
//! Concurrent runs cannot corrupt it: an entry is written under `tmp/` and renamed into place
//! once complete (and, for a blob, once its digest matched), so a reader sees a whole entry or
//! none. A blob's name is its digest, so two runs writing the same one write the same bytes.

pub mod records;
pub mod snapshot;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tempfile::NamedTempFile;

use crate::layer::ParsedLayer;
use crate::limits::Limits;
use snapshot::Snapshot;

/// The folder of the records format in use: older formats are left for `cache prune`.
const RECORDS_DIR: &str = "records/v1/sha256";

/// The folder of merged trees, by layer chain.
const TREES_DIR: &str = "trees/v1/sha256";

/// The folder of figures computed from merged trees, by layer chain and kind.
const DERIVED_DIR: &str = "derived/v1/sha256";

/// The start of a derived entry; the xxh3 of the payload follows, then the payload.
const DERIVED_MAGIC: &[u8; 8] = b"LSDER01\n";

/// Temporary entries older than this belong to a run that died; `prune` removes them.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A temporary entry untouched this long is not being written any more.
const LIVE_WRITE: Duration = Duration::from_secs(60);

/// A cache rooted at one folder.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// What a tag pointed to when it was fetched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// Digest of the manifest (or index) the tag named.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// When it was fetched, seconds since the epoch.
    pub fetched: u64,
}

/// How much the cache holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Bytes of blobs.
    pub blob_bytes: u64,
    /// Number of blobs.
    pub blobs: u64,
    /// Bytes of layer records.
    pub record_bytes: u64,
    /// Number of layer records.
    pub records: u64,
    /// Bytes of merged trees.
    pub tree_bytes: u64,
    /// Number of merged trees.
    pub trees: u64,
    /// Bytes of figures computed from merged trees.
    pub derived_bytes: u64,
    /// Number of those.
    pub derived: u64,
    /// Number of tags remembered.
    pub tags: u64,
    /// Bytes of entries being written (or left by a run that died).
    pub temp_bytes: u64,
}

impl Usage {
    /// Every byte the cache holds.
    pub fn total_bytes(&self) -> u64 {
        self.blob_bytes + self.record_bytes + self.tree_bytes + self.derived_bytes + self.temp_bytes
    }
}

/// What `prune` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Entries removed.
    pub entries: u64,
    /// Bytes freed.
    pub bytes: u64,
}

/// The hex part of a `sha256:HEX` digest, when it is one (64 lowercase hex digits). Digests come
/// from manifests, which are untrusted: only this shape ever becomes a file name.
pub fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(hex)
}

impl Cache {
    /// A cache in `root` (created when first written).
    pub fn at(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// Where the cache lives by default: `$XDG_CACHE_HOME/layerscope`, else
    /// `~/.cache/layerscope`.
    pub fn default_root() -> Option<PathBuf> {
        crate::dirs::xdg_base("XDG_CACHE_HOME", ".cache").map(|base| base.join("layerscope"))
    }

    /// The folder this cache lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The cached blob with this digest, if present (its use is noted for `prune`).
    pub fn blob(&self, digest: &str) -> Option<(PathBuf, u64)> {
        let path = self.root.join("blobs/sha256").join(sha256_hex(digest)?);
        let meta = fs::metadata(&path).ok().filter(fs::Metadata::is_file)?;
        touch(&path);
        Some((path, meta.len()))
    }

    /// A new temporary file for an entry being written.
    pub fn temp_file(&self) -> io::Result<NamedTempFile> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir)?;
        tempfile::Builder::new().prefix("partial-").tempfile_in(dir)
    }

    /// Move a complete blob, whose bytes the caller checked against `digest`, into place.
    pub fn commit_blob(&self, file: NamedTempFile, digest: &str) -> io::Result<PathBuf> {
        let hex = sha256_hex(digest).ok_or_else(|| bad_digest(digest))?;
        let dir = self.root.join("blobs/sha256");
        fs::create_dir_all(&dir)?;
        let path = dir.join(hex);
        file.as_file().sync_data()?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Store a small blob (a manifest, a config) whose digest the caller checked.
    pub fn put_blob(&self, digest: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let mut file = self.temp_file()?;
        file.write_all(bytes)?;
        self.commit_blob(file, digest)
    }

    /// The parsed records of the layer whose blob has this digest, as layer `index` of the
    /// image being read; `None` when absent, unreadable, written by another version, or (with
    /// `need_digests`, for `--verify`) made without hashing the layer.
    pub fn records(&self, blob_digest: &str, index: usize, limits: &Limits, need_digests: bool) -> Option<ParsedLayer> {
        let path = self.root.join(RECORDS_DIR).join(sha256_hex(blob_digest)?);
        let bytes = fs::read(&path).ok()?;
        let parsed = records::decode(&bytes, index, limits)?;
        match &parsed.digests {
            // A record is only ever stored under the blob it was parsed from.
            Some(d) if d.blob != blob_digest => return None,
            None if need_digests => return None,
            _ => {}
        }
        touch(&path);
        Some(parsed)
    }

    /// Whether records of the layer whose blob has this digest are there (with its digests, when
    /// `need_digests`), without reading them whole.
    pub fn has_records(&self, blob_digest: &str, need_digests: bool) -> bool {
        let Some(hex) = sha256_hex(blob_digest) else { return false };
        let path = self.root.join(RECORDS_DIR).join(hex);
        if !need_digests {
            return path.is_file();
        }
        // Decoding is what tells; a record is small next to its layer.
        self.records(blob_digest, 0, &Limits::default(), true).is_some()
    }

    /// Remember the parsed records of the layer whose blob has this digest (a digest the caller
    /// checked the blob against).
    pub fn store_records(&self, blob_digest: &str, parsed: &ParsedLayer) -> io::Result<()> {
        let hex = sha256_hex(blob_digest).ok_or_else(|| bad_digest(blob_digest))?;
        if parsed.digests.as_ref().is_some_and(|d| d.blob != blob_digest) {
            return Err(io::Error::other("the records were not parsed from this blob"));
        }
        let dir = self.root.join(RECORDS_DIR);
        fs::create_dir_all(&dir)?;
        let mut file = self.temp_file()?;
        file.write_all(&records::encode(parsed))?;
        file.persist(dir.join(hex)).map_err(|e| e.error)?;
        Ok(())
    }

    /// The merged tree of the layer chain `chain` for an image of `layers` layers; `None` when
    /// absent, damaged, of another version, or (with `need_digests`) made without hashing every
    /// layer.
    pub fn tree(&self, chain: &str, layers: usize, limits: &Limits, need_digests: bool) -> Option<Snapshot> {
        let path = self.root.join(TREES_DIR).join(sha256_hex(chain)?);
        let bytes = fs::read(&path).ok()?;
        let snapshot = snapshot::decode(&bytes, layers, limits)?;
        if need_digests && snapshot.layers.iter().any(|l| l.digests.is_none()) {
            return None;
        }
        touch(&path);
        Some(snapshot)
    }

    /// Remember the merged tree of the layer chain `chain`.
    pub fn store_tree(&self, chain: &str, snapshot: &Snapshot) -> io::Result<()> {
        let hex = sha256_hex(chain).ok_or_else(|| bad_digest(chain))?;
        let dir = self.root.join(TREES_DIR);
        fs::create_dir_all(&dir)?;
        let mut file = self.temp_file()?;
        file.write_all(&snapshot::encode(snapshot))?;
        file.persist(dir.join(hex)).map_err(|e| e.error)?;
        Ok(())
    }

    /// Where figures computed from the merged tree of the layer chain `chain` are kept.
    pub fn tree_entry(&self, chain: &str) -> Option<TreeEntry> {
        sha256_hex(chain)?;
        Some(TreeEntry { cache: self.clone(), chain: chain.to_string() })
    }

    /// What `registry/repository:tag` named when last fetched.
    pub fn tag(&self, registry: &str, repository: &str, tag: &str) -> Option<TagRecord> {
        let bytes = fs::read(self.tag_path(registry, repository, tag)?).ok()?;
        let record: TagRecord = serde_json::from_slice(&bytes).ok()?;
        sha256_hex(&record.digest)?;
        Some(record)
    }

    /// Remember what `registry/repository:tag` names now.
    pub fn store_tag(&self, registry: &str, repository: &str, tag: &str, record: &TagRecord) -> io::Result<()> {
        let path = self.tag_path(registry, repository, tag).ok_or_else(|| io::Error::other("invalid tag name"))?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = self.temp_file()?;
        file.write_all(&serde_json::to_vec(record).map_err(io::Error::other)?)?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// `refs/REGISTRY/REPO/@TAG`; `None` for a name that could leave the folder (names come from
    /// the command line, but are checked all the same).
    fn tag_path(&self, registry: &str, repository: &str, tag: &str) -> Option<PathBuf> {
        let safe = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        };
        if !safe(registry) || !safe(tag) || !repository.split('/').all(safe) {
            return None;
        }
        Some(self.root.join("refs").join(registry).join(repository).join(format!("@{tag}")))
    }

    /// Sizes and counts of what the cache holds.
    pub fn usage(&self) -> io::Result<Usage> {
        let mut usage = Usage::default();
        for file in files_under(&self.root.join("blobs"))? {
            usage.blobs += 1;
            usage.blob_bytes += file.bytes;
        }
        for file in files_under(&self.root.join("records"))? {
            usage.records += 1;
            usage.record_bytes += file.bytes;
        }
        for file in files_under(&self.root.join("trees"))? {
            usage.trees += 1;
            usage.tree_bytes += file.bytes;
        }
        for file in files_under(&self.root.join("derived"))? {
            usage.derived += 1;
            usage.derived_bytes += file.bytes;
        }
        usage.tags = files_under(&self.root.join("refs"))?.len() as u64;
        usage.temp_bytes = files_under(&self.root.join("tmp"))?.iter().map(|f| f.bytes).sum();
        Ok(usage)
    }

    /// Remove the least recently used blobs and records until the cache holds at most
    /// `max_bytes` (everything, tags included, when `None`). Entries of runs that died are
    /// removed either way; entries being written by a live run are left alone.
    pub fn prune(&self, max_bytes: Option<u64>) -> io::Result<Pruned> {
        let mut pruned = Pruned::default();
        let now = SystemTime::now();
        let remove = |file: &CachedFile, pruned: &mut Pruned| {
            if fs::remove_file(&file.path).is_ok() {
                pruned.entries += 1;
                pruned.bytes += file.bytes;
            }
        };
        // A live run writes its temporary entries continuously; one untouched this long is dead.
        let dead_after = if max_bytes.is_none() { LIVE_WRITE } else { STALE_TEMP };
        for file in files_under(&self.root.join("tmp"))? {
            if now.duration_since(file.used).unwrap_or_default() > dead_after {
                remove(&file, &mut pruned);
            }
        }
        let mut files = files_under(&self.root.join("blobs"))?;
        files.extend(files_under(&self.root.join("records"))?);
        files.extend(files_under(&self.root.join("trees"))?);
        files.extend(files_under(&self.root.join("derived"))?);
        match max_bytes {
            None => {
                for file in &files {
                    remove(file, &mut pruned);
                }
                for file in files_under(&self.root.join("refs"))? {
                    remove(&file, &mut pruned);
                }
                remove_empty_dirs(&self.root.join("refs"));
            }
            Some(max) => {
                let mut total: u64 = files.iter().map(|f| f.bytes).sum();
                files.sort_by_key(|f| f.used);
                for file in &files {
                    if total <= max {
                        break;
                    }
                    remove(file, &mut pruned);
                    total = total.saturating_sub(file.bytes);
                }
            }
        }
        Ok(pruned)
    }
}

/// Figures computed from one merged tree, kept beside it: a function of the tree alone (and of
/// the writer's version, which the chain key holds), so they are as good as the tree.
#[derive(Clone, Debug)]
pub struct TreeEntry {
    cache: Cache,
    chain: String,
}

impl TreeEntry {
    /// The payload stored as `kind` (`[a-z0-9-]+`); `None` when absent or damaged.
    pub fn derived(&self, kind: &str) -> Option<Vec<u8>> {
        let path = self.path(kind)?;
        let bytes = fs::read(&path).ok()?;
        let payload = unframe(DERIVED_MAGIC, &bytes)?.to_vec();
        touch(&path);
        Some(payload)
    }

    /// Remember `payload` as `kind`.
    pub fn store_derived(&self, kind: &str, payload: &[u8]) -> io::Result<()> {
        let path = self.path(kind).ok_or_else(|| io::Error::other("invalid kind of derived entry"))?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = self.cache.temp_file()?;
        file.write_all(&frame(DERIVED_MAGIC, payload))?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    fn path(&self, kind: &str) -> Option<PathBuf> {
        let hex = sha256_hex(&self.chain)?;
        let safe = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        safe.then(|| self.cache.root.join(DERIVED_DIR).join(format!("{hex}.{kind}")))
    }
}

/// A kept file (see [`crate::layer::kept`]) as stored: its record and its bytes.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredKept {
    /// The record: its place in the layer's records, or its entry in the tree.
    pub(crate) id: u32,
    /// Its content.
    #[serde(with = "byte_string")]
    pub(crate) bytes: Vec<u8>,
}

/// A `Vec<u8>` as one byte string: serde's default writes it element by element.
pub(crate) mod byte_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        <&'de [u8]>::deserialize(d).map(<[u8]>::to_vec)
    }
}

/// An entry's bytes: `magic`, the xxh3 of the payload, then the payload.
pub(crate) fn frame(magic: &[u8; 8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(magic.len() + 8 + payload.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of an entry made by [`frame`]; `None` when the magic or the checksum is wrong
/// (another format, or a damaged file).
pub(crate) fn unframe<'a>(magic: &[u8; 8], bytes: &'a [u8]) -> Option<&'a [u8]> {
    let rest = bytes.strip_prefix(magic)?;
    let (sum, payload) = rest.split_at_checked(8)?;
    (u64::from_le_bytes(sum.try_into().ok()?) == xxhash_rust::xxh3::xxh3_64(payload)).then_some(payload)
}

fn bad_digest(digest: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("'{digest}' is not a sha256 digest"))
}

/// Note that an entry was used, for least-recently-used pruning (best effort).
fn touch(path: &Path) {
    if let Ok(file) = File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

struct CachedFile {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// Every regular file below `dir` (none when it does not exist). Symlinks are not followed.
fn files_under(dir: &Path) -> io::Result<Vec<CachedFile>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                out.push(CachedFile { path: entry.path(), bytes: meta.len(), used });
            }
        }
    }
    Ok(out)
}

fn remove_empty_dirs(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_dirs(&entry.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}
