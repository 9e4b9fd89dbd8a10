//! Loading an image: resolve the archive, read the layers in parallel, merge them in order.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use std::io::{self, BufReader, Read};

use crate::archive::compression::{self, Compression};
use crate::archive::tar::SparseReader;
use crate::archive::{Archive, BlobLoc, Input};
use crate::cache::Cache;
use crate::cache::snapshot::{self, Snapshot, SnapshotLayer};
use crate::error::{Error, Result};
use crate::format::{self, ArchiveFormat, History, ImageConfig, LayerSource, Platform, ResolvedImage, Selection};
use crate::layer::{self, EntryKind, LayerDigests, ParsedLayer, Progress, ReadOptions};
use crate::source::{Opened, Origin};
use crate::tree::{Change, EntryId, NodeId, Tree, TreeBuilder};
use crate::warning::{Warning, WarningKind, WarningLog};

/// How many paths one layer added, changed or removed (directories included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChangeCounts {
    /// Paths that did not exist below.
    pub added: u64,
    /// Paths whose content, type or link target changed.
    pub modified: u64,
    /// Paths rewritten with the same content (mode, owner or mtime only).
    pub metadata_only: u64,
    /// Paths deleted (by whiteouts, opaque directories or replacement), subtrees included.
    pub removed: u64,
}

/// One layer of the image.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Position, 0 = base.
    pub index: usize,
    /// Where the blob is in the archive.
    pub entry: String,
    /// DiffID (sha256 of the uncompressed tar) from the config.
    pub diff_id: Option<String>,
    /// Digest of the blob as stored.
    pub blob_digest: Option<String>,
    /// Media type from the manifest, if the format records it.
    pub media_type: Option<String>,
    /// How the blob is stored (by its magic bytes); `None` when the blob is missing.
    pub compression: Option<Compression>,
    /// Bytes of the blob in the archive (what a pull transfers); `None` when missing.
    pub blob_bytes: Option<u64>,
    /// Σ sizes of regular files in the layer tar (hard links, directories, whiteouts: 0).
    pub size_bytes: u64,
    /// This layer's records in [`Tree::entries`], in tar order.
    pub entries: Range<EntryId>,
    /// The history entry that made the layer.
    pub history: Option<History>,
    /// History entries that made no layer (ENV, LABEL...) and follow this one.
    pub empty_instructions: Vec<History>,
    /// The blob is not in the archive; the layer counts as empty.
    pub missing: bool,
    /// With `--verify`: whether the blob's sha256 and the uncompressed tar's sha256 match the
    /// digest and DiffID the metadata gives (`None`: not checked).
    pub verified: Option<bool>,
    /// What the layer changed.
    pub counts: ChangeCounts,
}

impl Layer {
    /// The instruction that made the layer, `/bin/sh -c ` removed.
    pub fn command(&self) -> Option<&str> {
        self.history.as_ref().and_then(|h| h.created_by.as_deref()).map(clean_command)
    }
}

/// `created_by` without the shell prefix Docker adds to RUN steps.
pub fn clean_command(created_by: &str) -> &str {
    created_by.strip_prefix("/bin/sh -c ").unwrap_or(created_by)
}

/// A loaded image: metadata, layers and the merged tree.
#[derive(Debug)]
pub struct Image {
    /// The input as the user named it.
    pub source: String,
    /// Where the image came from (a file, an engine, a registry), when a source says.
    pub origin: Option<Origin>,
    /// The archive layout.
    pub format: ArchiveFormat,
    /// Set when the archive itself was compressed (`docker save | gzip`).
    pub outer_compression: Option<Compression>,
    /// Tags.
    pub tags: Vec<String>,
    /// sha256 of the config blob (the image ID).
    pub config_digest: String,
    /// Digest of the OCI manifest, when there is one.
    pub manifest_digest: Option<String>,
    /// Platform.
    pub platform: Option<Platform>,
    /// The image config.
    pub config: ImageConfig,
    /// Manifest annotations.
    pub annotations: BTreeMap<String, String>,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// The merged tree.
    pub tree: Tree,
    /// Problems found while loading.
    pub warnings: Vec<Warning>,
    /// Where each layer's blob is, to read file contents on demand.
    blobs: Vec<Option<BlobLoc>>,
    /// Where figures computed from this tree are cached, when the tree's layers are known by
    /// verified digests.
    tree_entry: Option<crate::cache::TreeEntry>,
    /// The package databases kept while compressed layers were read, by entry.
    kept: HashMap<EntryId, Vec<u8>>,
}

/// What the `complete-image` CI rule judges: blobs the archive lacks and digests that do not
/// match their bytes.
#[derive(Clone, Debug, Default)]
pub struct Integrity {
    /// Number of layers.
    pub layers: usize,
    /// Whether every present blob was hashed (`--verify`).
    pub verified: bool,
    /// The warnings about missing blobs and digest mismatches.
    pub problems: Vec<Warning>,
}

/// Files read whole up to this size are kept in the cache beside a cached tree.
const KEPT_CONTENT: u64 = 64 << 10;

/// File contents larger than this are not read into memory by [`Image::read_content`].
pub const CONTENT_LIMIT: u64 = 64 << 20;

impl Image {
    /// Σ content sizes of all layers.
    pub fn size_bytes(&self) -> u64 {
        self.layers.iter().map(|l| l.size_bytes).sum()
    }

    /// Σ blob sizes of the layers present in the archive.
    pub fn blob_bytes(&self) -> u64 {
        self.layers.iter().filter_map(|l| l.blob_bytes).sum()
    }

    /// The content of `entry` when it was kept while its layer was read (a package database in
    /// a compressed layer; see [`crate::layer::kept`]).
    pub fn kept_content(&self, entry: EntryId) -> Option<&[u8]> {
        self.kept.get(&entry).map(Vec::as_slice)
    }

    /// A reader over the bytes of a regular file (or the file a hard link shares bytes with), read
    /// from the archive on demand: the blob is opened again and, when compressed, inflated up to
    /// the file.
    pub fn open_content(&self, entry: EntryId) -> Result<Box<dyn Read + '_>> {
        let e = self.tree.content_entry(self.tree.entry(entry));
        let layer = usize::from(e.layer);
        if e.kind != EntryKind::File {
            return Ok(Box::new(io::empty()));
        }
        let mut decoded = self.open_layer_tar(layer)?;
        skip_exact(&mut decoded, e.data_offset).map_err(|err| self.layer_error(layer, err))?;
        let stored = Exact { inner: decoded, left: e.stored };
        Ok(match self.tree.sparse_map(e) {
            // A sparse file's stored bytes are its data chunks: the holes between are zeros.
            Some(chunks) => Box::new(SparseReader::new(stored, chunks.to_vec(), e.size)),
            None => Box::new(stored),
        })
    }

    /// The bytes of a regular file, when no larger than `limit`.
    pub fn read_content(&self, entry: EntryId, limit: u64) -> Result<Option<Vec<u8>>> {
        let e = self.tree.content_entry(self.tree.entry(entry));
        if e.size > limit.min(CONTENT_LIMIT) {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0));
        self.open_content(entry)?.read_to_end(&mut out).map_err(|err| self.layer_error(usize::from(e.layer), err))?;
        Ok(Some(out))
    }

    /// [`Image::read_content`] for a small file the analysis reads on every run (os-release for
    /// the base image), kept beside a cached tree: in a compressed layer, reaching it can mean
    /// inflating most of the blob.
    pub fn read_content_kept(&self, entry: EntryId, limit: u64) -> Result<Option<Vec<u8>>> {
        let e = self.tree.content_entry(self.tree.entry(entry));
        let kept = (e.size <= limit.min(KEPT_CONTENT)).then_some(self.tree_entry.as_ref()).flatten();
        let kind = format!("content-{}", e.inode);
        if let Some(bytes) = kept.and_then(|k| k.derived(&kind)).filter(|b| b.len() as u64 == e.size) {
            return Ok(Some(bytes));
        }
        let out = self.read_content(entry, limit)?;
        if let (Some(k), Some(bytes)) = (kept, &out) {
            // A cache that cannot be written only costs the next run this read.
            let _ = k.store_derived(&kind, bytes);
        }
        Ok(out)
    }

    /// Stream the bytes of many regular files (or hard links) with `f`, in (layer, offset) order,
    /// inflating each layer blob once, forward, however many files it holds.
    ///
    /// `f` gets each entry with a reader over exactly its bytes (empty for non-files); a stream that
    /// ends early is an `UnexpectedEof` read error. Bytes `f` leaves unread are skipped. Entries that
    /// share bytes (hard links to one file) are each served, the repeats by reading the blob again.
    pub fn for_each_content(
        &self,
        entries: &[EntryId],
        mut f: impl FnMut(EntryId, &mut dyn Read) -> Result<()>,
    ) -> Result<()> {
        let mut order: Vec<(u16, u64, EntryId)> = entries
            .iter()
            .map(|&id| {
                let e = self.tree.content_entry(self.tree.entry(id));
                (e.layer, e.data_offset, id)
            })
            .collect();
        order.sort_unstable();
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let Some(&(first_layer, _, _)) = group.first() else { continue };
            let layer = usize::from(first_layer);
            let fail = |err: io::Error| self.layer_error(layer, err);
            let mut decoded = self.open_layer_tar(layer)?;
            let mut pos = 0u64;
            for &(_, offset, id) in group {
                let e = self.tree.content_entry(self.tree.entry(id));
                if e.kind != EntryKind::File {
                    f(id, &mut io::empty())?;
                    continue;
                }
                if offset < pos {
                    // Bytes already streamed past (another entry shares them): read the blob again.
                    f(id, &mut self.open_content(id)?)?;
                    continue;
                }
                skip_exact(&mut decoded, offset - pos).map_err(fail)?;
                let mut stored = Exact { inner: &mut decoded, left: e.stored };
                match self.tree.sparse_map(e) {
                    Some(chunks) => f(id, &mut SparseReader::new(&mut stored, chunks.to_vec(), e.size))?,
                    None => f(id, &mut stored)?,
                }
                io::copy(&mut stored, &mut io::sink()).map_err(fail)?;
                pos = offset + e.stored;
            }
        }
        Ok(())
    }

    /// The decoded layer tar of `layer`, opened again from its start.
    fn open_layer_tar(&self, layer: usize) -> Result<Box<dyn Read + '_>> {
        let (Some(Some(blob)), Some(info)) = (self.blobs.get(layer), self.layers.get(layer)) else {
            return Err(Error::Layer {
                index: layer,
                entry: String::new(),
                detail: "the layer blob is missing".into(),
                source: None,
            });
        };
        let reader = BufReader::with_capacity(64 * 1024, blob.open().map_err(|err| self.layer_error(layer, err))?);
        compression::decoder(reader, info.compression.unwrap_or(Compression::None))
            .map_err(|err| self.layer_error(layer, err))
    }

    /// A read failure in `layer`, naming its archive entry.
    fn layer_error(&self, layer: usize, err: io::Error) -> Error {
        let entry = self.layers.get(layer).map(|l| l.entry.clone()).unwrap_or_default();
        Error::Layer { index: layer, entry, detail: err.to_string(), source: Some(err) }
    }

    /// Missing blobs and digest mismatches, for the `complete-image` rule.
    pub fn integrity(&self) -> Integrity {
        Integrity {
            layers: self.layers.len(),
            verified: self.layers.iter().all(|l| l.missing || l.verified.is_some()),
            problems: self
                .warnings
                .iter()
                .filter(|w| matches!(w.kind, WarningKind::MissingLayer | WarningKind::DigestMismatch))
                .cloned()
                .collect(),
        }
    }

    /// Where figures computed from this image's tree may be cached.
    pub fn tree_entry(&self) -> Option<&crate::cache::TreeEntry> {
        self.tree_entry.as_ref()
    }

    /// The index of the last layer (None for an image without layers).
    pub fn top_layer(&self) -> Option<usize> {
        self.layers.len().checked_sub(1)
    }

    /// For a container, its writable layer (the top one).
    pub fn container_layer(&self) -> Option<usize> {
        self.origin.as_ref().and_then(|o| o.container.as_ref()).and(self.top_layer())
    }

    /// For a container, what its engine says about it.
    pub fn container(&self) -> Option<&crate::source::container::ContainerInfo> {
        self.origin.as_ref().and_then(|o| o.container.as_ref())
    }
}

/// Read past `n` bytes; a stream that ends first is an `UnexpectedEof` error.
fn skip_exact(reader: &mut impl Read, n: u64) -> io::Result<()> {
    let skipped = io::copy(&mut reader.take(n), &mut io::sink())?;
    if skipped < n {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the layer ends before the file"));
    }
    Ok(())
}

/// A reader over exactly `left` bytes of `inner`: ending early is an error, not a short file.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the layer ends inside the file"));
        }
        self.left = self.left.saturating_sub(n as u64);
        Ok(n)
    }
}

/// An archive with one image chosen, ready to load.
#[derive(Debug)]
pub struct Loader {
    archive: Archive,
    resolved: ResolvedImage,
    options: ReadOptions,
    /// Where parsed records of verified blobs are kept and found again.
    records: Option<Cache>,
    /// Where the image came from, and what the source warned about.
    origin: Option<Origin>,
    source_warnings: Vec<Warning>,
    /// Layers the source read already (as their blobs arrived), by blob digest.
    prepared: std::sync::Mutex<HashMap<String, ParsedLayer>>,
    /// What made the layer a source put on top of the image's (its source is the last in
    /// `resolved.layers`), when there is one.
    top_history: Option<History>,
}

/// Open `input` and choose the image `selection` names.
pub fn open(input: &Input, selection: &Selection) -> Result<Loader> {
    open_with(input, selection, ReadOptions::default())
}

/// Open `input` and choose the image `selection` names; `options` bound the reading.
pub fn open_with(input: &Input, selection: &Selection, options: ReadOptions) -> Result<Loader> {
    open_archive(Archive::open_with(input, &options.limits)?, selection, options)
}

/// Choose the image `selection` names from an archive already opened (or composed by a source).
pub fn open_archive(archive: Archive, selection: &Selection, options: ReadOptions) -> Result<Loader> {
    let resolved = format::resolve(&archive, selection, &options.limits)?;
    Ok(Loader {
        archive,
        resolved,
        options,
        records: None,
        origin: None,
        source_warnings: Vec::new(),
        prepared: std::sync::Mutex::default(),
        top_history: None,
    })
}

/// Choose the image from what a source opened, keeping where it came from and what the source
/// warned about. With a `cache`, layers whose blobs the source verified have their parsed
/// records kept there and reused.
pub fn open_source(opened: Opened, cache: Option<&Cache>, options: ReadOptions) -> Result<Loader> {
    let mut loader = open_archive(opened.archive, &opened.selection, options)?;
    if let (true, Some(cache)) = (opened.cacheable, cache) {
        loader.records = Some(cache.clone());
    }
    if opened.from_registry {
        loader.resolved.format = ArchiveFormat::Registry;
    }
    loader.origin = Some(opened.origin);
    loader.source_warnings = opened.warnings;
    loader.prepared = std::sync::Mutex::new(opened.parsed.into_iter().collect());
    if let Some(top) = opened.top_layer {
        loader.resolved.layers.push(top.source);
        loader.top_history = Some(top.history);
    }
    Ok(loader)
}

/// Open and load in one step.
pub fn load(input: &Input, selection: &Selection) -> Result<Image> {
    open(input, selection)?.load(None)
}

/// Open and load in one step, reading layers as `options` say.
pub fn load_with(input: &Input, selection: &Selection, options: &ReadOptions) -> Result<Image> {
    open_with(input, selection, *options)?.load(None)
}

impl Loader {
    /// Read the layers as `options` say.
    #[must_use]
    pub fn with_options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// Keep the parsed records of layers whose blobs a source verified in `cache`, and reuse
    /// the records found there instead of parsing those layers again.
    #[must_use]
    pub fn with_records(mut self, cache: Cache) -> Self {
        self.records = Some(cache);
        self
    }

    /// Blob sizes of the layers (0 for missing ones), to size progress bars.
    pub fn blob_sizes(&self) -> Vec<u64> {
        self.resolved.layers.iter().map(|l| l.blob.as_ref().map_or(0, |b| b.len())).collect()
    }

    /// The chosen image, before its layers are read.
    pub fn resolved(&self) -> &ResolvedImage {
        &self.resolved
    }

    /// Read every layer (in parallel) and merge them (in order).
    pub fn load(self, progress: Option<&Progress>) -> Result<Image> {
        let own_progress;
        let progress = match progress {
            Some(p) => p,
            None => {
                own_progress = Progress::new(&self.blob_sizes());
                &own_progress
            }
        };
        let Loader { archive, resolved, options, records, origin, source_warnings, prepared, top_history } = self;
        let sources = &resolved.layers;
        // A blob checked against the digest its manifest names can have its records kept.
        let keys: Vec<Option<&str>> = sources
            .iter()
            .map(|src| {
                let verified = archive.verified_digest(&src.entry)?;
                // Without a blob digest (`docker save` before 25) the layer is its tar: its DiffID.
                let declared = src.blob_digest.as_deref().or(src.diff_id.as_deref());
                (declared == Some(verified)).then_some(verified)
            })
            .collect();
        let read = |i: usize, src: &LayerSource| {
            let Some(key) = keys[i] else { return layer::read_layer(i, src, Some(progress), &options) };
            let early = prepared.lock().ok().and_then(|mut p| p.remove(key));
            if let Some(parsed) = early.filter(|p| !options.verify || p.digests.is_some()) {
                mark_done(progress, i);
                return Ok(parsed);
            }
            match &records {
                Some(cache) => read_or_recall(cache, key, i, src, progress, &options),
                None => layer::read_layer(i, src, Some(progress), &options),
            }
        };
        // With every blob verified, the whole stack may have been merged before: its tree is kept
        // under the chain of blob digests.
        let chain = match (&records, keys.iter().copied().collect::<Option<Vec<&str>>>()) {
            (Some(_), Some(digests)) if !digests.is_empty() => Some(snapshot::chain_key(&digests)),
            _ => None,
        };
        let tree_entry = chain.as_deref().and_then(|c| records.as_ref()?.tree_entry(c));
        let cached = chain.as_deref().and_then(|c| {
            let cache = records.as_ref()?;
            cache.tree(c, sources.len(), &options.limits, options.verify)
        });
        let snapshot = match cached {
            Some(snapshot) => {
                (0..sources.len()).for_each(|i| mark_done(progress, i));
                snapshot
            }
            None => {
                let mut builder = TreeBuilder::with_limits(&options.limits);
                let mut layers = Vec::with_capacity(sources.len());
                read_and_merge(sources, progress, read, |parsed| {
                    let entries = builder.apply(&parsed)?;
                    // Records become entries one for one, in order.
                    let kept = parsed.kept.into_iter().map(|(record, bytes)| (entries.start + record, bytes)).collect();
                    layers.push(SnapshotLayer {
                        entries,
                        compression: parsed.compression,
                        content_bytes: parsed.content_bytes,
                        warnings: parsed.warnings,
                        digests: parsed.digests,
                        kept,
                    });
                    Ok(())
                })?;
                let (mut tree, warnings) = builder.finish();
                hash_needed_files(&mut tree, sources, progress)?;
                let snapshot = Snapshot { tree, layers, warnings };
                if let (Some(cache), Some(chain)) = (&records, &chain) {
                    // A cache that cannot be written only costs the next open a merge.
                    let _ = cache.store_tree(chain, &snapshot);
                }
                snapshot
            }
        };
        let Snapshot { tree, layers: mut parsed_info, warnings: tree_warnings } = snapshot;
        let kept: HashMap<EntryId, Vec<u8>> =
            parsed_info.iter_mut().flat_map(|l| std::mem::take(&mut l.kept)).collect();
        let parsed_info =
            parsed_info.into_iter().map(|l| (l.entries, l.compression, l.content_bytes, l.warnings, l.digests));

        let mut warnings = source_warnings;
        warnings.extend(resolved.warnings.iter().cloned());
        let own_layers = sources.len() - usize::from(top_history.is_some());
        let (mut history, mut empties) = map_history(&resolved.config.history, own_layers, &mut warnings);
        if let Some(top) = top_history {
            history.push(Some(top));
            empties.push(Vec::new());
        }
        let mut layers = Vec::with_capacity(sources.len());
        let mut layer_warnings = WarningLog::new(options.limits.warnings_per_kind);
        for (i, ((src, (range, compression, size, lw, digests)), (hist, empty))) in
            sources.iter().zip(parsed_info).zip(history.into_iter().zip(empties)).enumerate()
        {
            layer_warnings.extend(lw);
            let missing = src.blob.is_none();
            if missing {
                warnings.push(missing_layer_warning(i, src, &archive));
            }
            let verified = digests.map(|d| {
                let problems = digest_warnings(i, src, &d);
                let ok = problems.is_empty();
                warnings.extend(problems);
                ok
            });
            if let (Some(mt), Some(c)) = (&src.media_type, compression)
                && let Some(declared) = media_type_compression(mt)
                && declared != c
                && c != Compression::Empty
            {
                warnings.push(Warning::layer(
                    WarningKind::MetadataMismatch,
                    i,
                    format!("the media type {mt} says {declared} but the blob is {c}"),
                ));
            }
            let blob_digest = match (&src.blob_digest, compression) {
                (Some(d), _) => Some(d.clone()),
                // An uncompressed blob is the layer tar itself, whose digest is the DiffID.
                (None, Some(Compression::None)) => src.diff_id.clone(),
                (None, _) => None,
            };
            layers.push(Layer {
                index: i,
                entry: src.entry.clone(),
                diff_id: src.diff_id.clone(),
                blob_digest,
                media_type: src.media_type.clone(),
                compression,
                blob_bytes: src.blob.as_ref().map(|b| b.len()),
                size_bytes: size,
                entries: range,
                history: hist,
                empty_instructions: empty,
                missing,
                verified,
                counts: ChangeCounts::default(),
            });
        }
        // A walk of every node: kept beside a cached tree, like the analysis.
        let stored_counts = tree_entry
            .as_ref()
            .and_then(|e| postcard::from_bytes::<Vec<ChangeCounts>>(&e.derived(COUNTS_KIND)?).ok())
            .filter(|c| c.len() == layers.len());
        match stored_counts {
            Some(counts) => layers.iter_mut().zip(counts).for_each(|(l, c)| l.counts = c),
            None => {
                count_changes(&tree, &mut layers);
                if let Some(e) = &tree_entry {
                    let counts: Vec<ChangeCounts> = layers.iter().map(|l| l.counts).collect();
                    if let Ok(bytes) = postcard::to_allocvec(&counts) {
                        let _ = e.store_derived(COUNTS_KIND, &bytes);
                    }
                }
            }
        }
        let mut log = WarningLog::new(options.limits.warnings_per_kind);
        warnings.into_iter().for_each(|w| log.push(w));
        log.extend(layer_warnings);
        log.extend(tree_warnings);
        let warnings = log.finish();

        let source = match origin.as_ref().and_then(|o| o.container.as_ref()) {
            Some(c) => format!("{} container {}", c.engine, c.name),
            None => archive.display_name().to_string(),
        };
        Ok(Image {
            source,
            origin,
            format: resolved.format,
            outer_compression: archive.outer_compression,
            tags: resolved.tags,
            config_digest: resolved.config_digest,
            manifest_digest: resolved.manifest_digest,
            platform: resolved.platform,
            config: resolved.config,
            annotations: resolved.annotations,
            layers,
            tree,
            warnings,
            blobs: resolved.layers.iter().map(|l| l.blob.clone()).collect(),
            tree_entry,
            kept,
        })
    }
}

/// The records of a layer whose blob is `key`: from the cache when they are there, else parsed
/// (hashing the blob, so the record carries its digests) and kept for next time.
fn read_or_recall(
    cache: &Cache,
    key: &str,
    index: usize,
    src: &LayerSource,
    progress: &Progress,
    options: &ReadOptions,
) -> Result<ParsedLayer> {
    if let Some(parsed) = cache.records(key, index, &options.limits, options.verify) {
        mark_done(progress, index);
        return Ok(parsed);
    }
    let parsed = layer::read_layer(index, src, Some(progress), options)?;
    // A cache that cannot be written only costs the next run a parse.
    let _ = cache.store_records(key, &parsed);
    Ok(parsed)
}

/// Show layer `index` as read.
fn mark_done(progress: &Progress, index: usize) {
    if let (Some(read), Some(&total)) = (progress.bytes_read.get(index), progress.bytes_total.get(index)) {
        read.store(total, Ordering::Relaxed);
    }
    if let Some(done) = progress.done.get(index) {
        done.store(true, Ordering::Relaxed);
    }
}

/// Parse layers on worker threads, roughly in order, and hand them to `merge` strictly in order.
fn read_and_merge(
    sources: &[LayerSource],
    progress: &Progress,
    read: impl Fn(usize, &LayerSource) -> Result<ParsedLayer> + Sync,
    mut merge: impl FnMut(ParsedLayer) -> Result<()>,
) -> Result<()> {
    if sources.is_empty() {
        return Ok(());
    }
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(sources.len());
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<ParsedLayer>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, read) = (&next, &read);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(src) = sources.get(i) else { break };
                    if progress.cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let parsed = read(i, src);
                    if tx.send((i, parsed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut expected = 0;
        let result = (|| {
            for (i, parsed) in &rx {
                pending.insert(i, parsed);
                while let Some(parsed) = pending.remove(&expected) {
                    merge(parsed?)?;
                    expected += 1;
                }
            }
            if expected < sources.len() {
                // Workers stopped early: the user cancelled.
                return Err(Error::Cancelled);
            }
            Ok(())
        })();
        if result.is_err() {
            // Stop the other workers; their results no longer matter.
            progress.cancel.store(true, Ordering::Relaxed);
        }
        result
    })
}

/// Hash the files of uncompressed layers that a comparison needs, reading each layer forward by
/// offset, layers spread over the cores.
fn hash_needed_files(tree: &mut Tree, sources: &[LayerSource], progress: &Progress) -> Result<()> {
    let need = tree.files_needing_hashes();
    if need.is_empty() {
        return Ok(());
    }
    let mut by_layer: Vec<Vec<(u64, u64, EntryId)>> = vec![Vec::new(); sources.len()];
    for id in need {
        let e = tree.entry(id);
        if let Some(list) = by_layer.get_mut(usize::from(e.layer)) {
            list.push((e.data_offset, e.size, id));
        }
    }
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let results: Vec<Result<Vec<(EntryId, u64)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (next, by_layer) = (&next, &by_layer);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(files) = by_layer.get(i) else { break };
                        if progress.cancel.load(Ordering::Relaxed) {
                            return Err(Error::Cancelled);
                        }
                        let (Some(src), false) = (sources.get(i), files.is_empty()) else { continue };
                        let Some(blob) = &src.blob else { continue };
                        let mut files = files.clone();
                        files.sort_unstable();
                        let ranges: Vec<(u64, u64)> = files.iter().map(|&(o, s, _)| (o, s)).collect();
                        let hashes = layer::hash_ranges(blob, &ranges).map_err(|e| Error::Layer {
                            index: i,
                            entry: src.entry.clone(),
                            detail: e.to_string(),
                            source: Some(e),
                        })?;
                        out.extend(files.iter().map(|f| f.2).zip(hashes));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Err(Error::Cancelled))).collect()
    });
    for part in results {
        for (id, hash) in part? {
            tree.set_hash(id, hash);
        }
    }
    Ok(())
}

/// What `--verify` found wrong with layer `index`: its blob digest, its DiffID, or both.
fn digest_warnings(index: usize, src: &LayerSource, computed: &LayerDigests) -> Vec<Warning> {
    let checks = [
        (src.blob_digest.as_deref(), &computed.blob, "the blob", "the digest", "manifest"),
        (src.diff_id.as_deref(), &computed.diff_id, "the uncompressed tar of", "the DiffID", "config"),
    ];
    checks
        .into_iter()
        .filter_map(|(declared, actual, what, name, source)| {
            let declared = declared.filter(|d| d.starts_with("sha256:") && d != actual)?;
            Some(Warning::layer(
                WarningKind::DigestMismatch,
                index,
                format!("{what} {} hashes to {actual}, not to {name} {declared} the {source} gives", src.entry),
            ))
        })
        .collect()
}

fn missing_layer_warning(index: usize, src: &LayerSource, archive: &Archive) -> Warning {
    let what = src.blob_digest.as_deref().unwrap_or(&src.entry);
    let mut message = format!(
        "the manifest lists layer {} but {}; its files are not shown and count as empty",
        src.entry,
        archive.why_missing(&src.entry)
    );
    if what != src.entry {
        message.push_str(&format!(" (blob {what})"));
    }
    if let Some(url) = src.urls.first() {
        message.push_str(&format!("; it is a non-distributable layer served from {url}"));
    }
    Warning::layer(WarningKind::MissingLayer, index, message)
}

fn media_type_compression(media_type: &str) -> Option<Compression> {
    if media_type.ends_with("+gzip") || media_type.ends_with(".gzip") {
        Some(Compression::Gzip)
    } else if media_type.ends_with("+zstd") {
        Some(Compression::Zstd)
    } else if media_type.ends_with(".tar") || media_type.ends_with("diff.tar") {
        Some(Compression::None)
    } else {
        None
    }
}

/// History entries → (the entry of each layer, the empty entries that follow each layer).
/// Empty entries before the first layer stay with layer 0.
fn map_history(
    history: &[History],
    layers: usize,
    warnings: &mut Vec<Warning>,
) -> (Vec<Option<History>>, Vec<Vec<History>>) {
    let mut per_layer = vec![None; layers];
    let mut empties: Vec<Vec<History>> = vec![Vec::new(); layers];
    let mut next: usize = 0;
    let mut extra = 0;
    for h in history {
        if h.is_empty_layer() {
            if let Some(slot) = empties.get_mut(next.saturating_sub(1)) {
                slot.push(h.clone());
            }
        } else if next < layers {
            per_layer[next] = Some(h.clone());
            next += 1;
        } else {
            extra += 1;
        }
    }
    if !history.is_empty() && (next < layers || extra > 0) {
        warnings.push(Warning::image(
            WarningKind::HistoryMismatch,
            format!(
                "the config history describes {} layers but the image has {layers}; commands may be missing",
                next + extra
            ),
        ));
    }
    (per_layer, empties)
}

/// The kind of derived cache entry holding each layer's [`ChangeCounts`].
const COUNTS_KIND: &str = "change-counts";

fn count_changes(tree: &Tree, layers: &mut [Layer]) {
    for n in 0..tree.node_count() {
        let node = NodeId(u32::try_from(n).unwrap_or(u32::MAX));
        let events = tree.events(node);
        let mut last_layer = None;
        for event in events {
            let layer = usize::from(event.layer);
            if last_layer == Some(layer) {
                continue;
            }
            last_layer = Some(layer);
            let Some(counts) = layers.get_mut(layer).map(|l| &mut l.counts) else {
                continue;
            };
            match tree.change_at(node, layer) {
                Some(Change::Added) => counts.added += 1,
                Some(Change::Modified) => counts.modified += 1,
                Some(Change::MetadataOnly) => counts.metadata_only += 1,
                Some(Change::Removed) => counts.removed += 1,
                Some(Change::Unchanged) | None => {}
            }
        }
    }
}
