//! One layer tar → its change records. File contents are hashed while streaming; only package
//! databases are kept (see [`kept`]).

pub mod kept;
pub mod path;

use std::cell::{Cell, RefCell};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::archive::compression::{self, Compression, Sniffed};
use crate::archive::tar::{self, Chunk};
use crate::archive::{ForwardSeek, read_up_to};
use crate::error::{Error, Result};
use crate::format::LayerSource;
use crate::limits::Limits;
use crate::warning::{Warning, WarningKind, WarningLog};
use path::NameKind;

/// What a change record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to another path.
    Hardlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
    /// `.wh.NAME`: deletes NAME from lower layers.
    Whiteout,
    /// `.wh..wh..opq`: hides all lower children of a directory.
    Opaque,
}

impl EntryKind {
    /// The name used in reports (`file`, `dir`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink => "symlink",
            EntryKind::Hardlink => "hardlink",
            EntryKind::Char => "char",
            EntryKind::Block => "block",
            EntryKind::Fifo => "fifo",
            EntryKind::Whiteout => "whiteout",
            EntryKind::Opaque => "opaque",
        }
    }
}

/// A byte range inside [`ParsedLayer::bytes`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Start offset.
    pub start: u32,
    /// Length.
    pub len: u32,
}

impl Span {
    /// The bytes this span covers.
    pub fn of<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        let start = self.start as usize;
        bytes.get(start..start + self.len as usize).unwrap_or(&[])
    }
}

/// One tar entry of a layer, as read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RawEntry {
    /// Normalised path (no leading `/`); for a whiteout the path it hides, for an opaque marker its
    /// directory.
    pub path: Span,
    /// What the entry is.
    pub kind: EntryKind,
    /// Content size for regular files, 0 otherwise.
    pub size: u64,
    /// Permission bits with setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Symlink target (as stored) or hard-link target (normalised path).
    pub link: Option<Span>,
    /// xxh3 of a regular file's bytes; `major << 32 | minor` for devices; 0 otherwise.
    pub content: u64,
    /// Offset of the content in the uncompressed layer stream.
    pub data_offset: u64,
    /// Whether `content` holds the file's hash (uncompressed layers leave it for later: most files
    /// never need one, and skipping their bytes is the fastest read).
    pub hashed: bool,
    /// Bytes of the content stored in the layer stream (less than `size` for a sparse file).
    pub stored: u64,
    /// For a sparse file, its map in [`ParsedLayer::sparse`]; [`NO_SPARSE`] otherwise.
    pub sparse: u32,
}

/// A layer's change records in tar order, with the facts gathered while reading it.
#[derive(Debug)]
pub struct ParsedLayer {
    /// Arena for paths and link targets.
    pub bytes: Vec<u8>,
    /// The records, in tar order.
    pub entries: Vec<RawEntry>,
    /// How the blob was stored.
    pub compression: Option<Compression>,
    /// Σ sizes of regular files (hard links, directories and whiteouts count 0).
    pub content_bytes: u64,
    /// Problems met while reading.
    pub warnings: WarningLog,
    /// Where the stored bytes of each sparse file go.
    pub sparse: Vec<Vec<Chunk>>,
    /// The sha256 digests of the blob and of the uncompressed tar, when [`ReadOptions::verify`]
    /// asked for them.
    pub digests: Option<LayerDigests>,
    /// The contents of the package databases met while the layer was streamed, by record (its
    /// place in `entries`); see [`kept`].
    pub kept: Vec<(u32, Vec<u8>)>,
}

/// The sha256 digests of one layer, computed while it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDigests {
    /// `sha256:…` of the blob as stored (what the manifest's layer digest names).
    pub blob: String,
    /// `sha256:…` of the uncompressed tar (what the config's DiffID names).
    pub diff_id: String,
}

/// How layers are read.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Hash every blob and every uncompressed tar with sha256 to check them against the
    /// manifest's digests and the config's DiffIDs. Uncompressed layers are then read whole
    /// instead of seeking over file data.
    pub verify: bool,
    /// Bounds on what the input may cost.
    pub limits: Limits,
}

/// Shared progress counters a UI can poll while layers load.
#[derive(Debug, Default)]
pub struct Progress {
    /// Blob bytes read so far, per layer.
    pub bytes_read: Vec<AtomicU64>,
    /// Blob size, per layer.
    pub bytes_total: Vec<u64>,
    /// Whether each layer is done.
    pub done: Vec<AtomicBool>,
    /// Set to ask loading to stop; loaders return [`Error::Cancelled`].
    pub cancel: AtomicBool,
    /// Bytes of package metadata kept so far, all layers together (see [`kept::IMAGE_MAX`]).
    pub kept_bytes: AtomicU64,
}

impl Progress {
    /// Counters for layers of the given blob sizes.
    pub fn new(sizes: &[u64]) -> Self {
        Progress {
            bytes_read: sizes.iter().map(|_| AtomicU64::new(0)).collect(),
            bytes_total: sizes.to_vec(),
            done: sizes.iter().map(|_| AtomicBool::new(false)).collect(),
            cancel: AtomicBool::new(false),
            kept_bytes: AtomicU64::new(0),
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Counts bytes read into a shared counter (for progress bars).
struct Counting<'a, R> {
    inner: R,
    counter: Option<&'a AtomicU64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = self.counter {
            c.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let before = self.inner.stream_position()?;
        let after = self.inner.seek(to)?;
        // Skipped bytes count as read for progress.
        if let Some(c) = self.counter {
            c.fetch_add(after.saturating_sub(before), Ordering::Relaxed);
        }
        Ok(after)
    }
}

/// A buffered reader whose forward seeks stay inside the buffer when they can: tar-rs seeks over
/// every file's data, and std's `BufReader` would drop its buffer on each of those seeks.
struct SeekBuf<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
}

impl<R: Read> Read for SeekBuf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled {
            if out.len() >= self.buf.len() {
                return self.inner.read(out);
            }
            self.filled = self.inner.read(&mut self.buf)?;
            self.pos = 0;
        }
        let n = out.len().min(self.filled - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for SeekBuf<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let buffered = (self.filled - self.pos) as u64;
        let here = self.inner.stream_position()? - buffered;
        let target = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::Current(d) => here
                .checked_add_signed(d)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the layer"))?,
            SeekFrom::End(_) => {
                self.pos = self.filled;
                return self.inner.seek(to);
            }
        };
        if target >= here && target - here <= buffered {
            self.pos += usize::try_from(target - here).unwrap_or(0);
            return Ok(target);
        }
        self.pos = 0;
        self.filled = 0;
        self.inner.seek(SeekFrom::Start(target))
    }
}

const READ_BUFFER: usize = 256 * 1024;
/// Uncompressed layers are read with seeks over file data: a small buffer wastes less.
const SEEK_BUFFER: usize = 64 * 1024;

/// xxh3 of each `(offset, size)` range of an uncompressed layer blob, in the order given (sorted
/// by offset, so the blob is read forward through one buffer).
pub fn hash_ranges(blob: &crate::archive::BlobLoc, ranges: &[(u64, u64)]) -> io::Result<Vec<u64>> {
    let mut reader = SeekBuf { inner: blob.open()?, buf: vec![0u8; READ_BUFFER], pos: 0, filled: 0 };
    let mut chunk = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(ranges.len());
    for &(offset, size) in ranges {
        reader.seek(SeekFrom::Start(offset))?;
        let mut hasher = Xxh3::new();
        let mut left = size;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
            let n = reader.read(&mut chunk[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a file"));
            }
            hasher.update(&chunk[..n]);
            left -= n as u64;
        }
        out.push(hasher.digest());
    }
    Ok(out)
}

/// Read layer `index` from `source`. A missing blob yields an empty layer (the caller warns).
pub fn read_layer(
    index: usize,
    source: &LayerSource,
    progress: Option<&Progress>,
    options: &ReadOptions,
) -> Result<ParsedLayer> {
    let limits = &options.limits;
    let Some(blob) = &source.blob else {
        return Ok(ParsedLayer::new(limits));
    };
    let fail = |detail: String| Error::Layer { index, entry: source.entry.clone(), detail, source: None };
    // An I/O failure keeps its error as the source; its text leads the message.
    let fail_io = |detail: String, e: io::Error| Error::Layer {
        index,
        entry: source.entry.clone(),
        detail: if detail.is_empty() { e.to_string() } else { detail },
        source: Some(e),
    };
    let reader = blob.open().map_err(|e| fail_io(String::new(), e))?;
    let counter = progress.and_then(|p| p.bytes_read.get(index));
    let mut buffered =
        SeekBuf { inner: Counting { inner: reader, counter }, buf: vec![0u8; SEEK_BUFFER], pos: 0, filled: 0 };
    let mut head = vec![0u8; 512];
    let got = read_up_to(&mut buffered, &mut head).map_err(|e| fail_io(String::new(), e))?;
    head.truncate(got);
    buffered.seek(SeekFrom::Start(0)).map_err(|e| fail_io(String::new(), e))?;
    let compression = match compression::sniff(&head) {
        Sniffed::Layer(c) => c,
        Sniffed::Other(what) => return Err(fail(format!("the blob holds {what}, not a layer tar"))),
    };
    let mut parsed = ParsedLayer { compression: Some(compression), ..ParsedLayer::new(limits) };
    // What the layer may still expand to: inflated bytes and sparse holes come out of it.
    let budget = Cell::new(limits.inflate_budget(blob.len()));
    // Both hashers see every byte once, in order: they sit above the rewound sniffing buffer.
    let blob_hash = RefCell::new(Sha256::new());
    let tar_hash = RefCell::new(Sha256::new());
    let result = match (compression, options.verify) {
        (Compression::Empty, _) => Ok(()),
        // Plain tar: seek over file data; hashes come later, for the files that need one.
        (Compression::None, false) => parse_tar(index, &mut buffered, &mut parsed, progress, false, limits, &budget),
        // Plain tar, verified: every byte must pass through the hasher, so read it as a stream.
        (Compression::None, true) => {
            let mut stream = ForwardSeek::new(HashTee::new(&mut buffered, Some(&blob_hash)));
            parse_tar(index, &mut stream, &mut parsed, progress, true, limits, &budget)
                .and_then(|()| drain(&mut stream))
        }
        (c, verify) => {
            let raw = BufReader::with_capacity(READ_BUFFER, HashTee::new(&mut buffered, verify.then_some(&blob_hash)));
            let decoded = compression::decoder(raw, c).map_err(|e| fail_io(String::new(), e))?;
            let bounded = Budgeted { inner: decoded, budget: &budget };
            let mut stream = ForwardSeek::new(HashTee::new(bounded, verify.then_some(&tar_hash)));
            // Read to the end even past tar's end-of-archive blocks: the gzip trailer (CRC and
            // length) and zstd's frame checksums are only checked there.
            parse_tar(index, &mut stream, &mut parsed, progress, true, limits, &budget)
                .and_then(|()| drain(&mut stream))
        }
    };
    result.map_err(|e| match e {
        ParseError::Cancelled => Error::Cancelled,
        ParseError::TooLarge(what) => Error::TooLarge(format!(
            "layer {index} ({}): {what}; --max-inflate and --max-layer-size raise the limits",
            source.entry
        )),
        ParseError::Io { source: e, .. } | ParseError::Trailer(e) if e.kind() == io::ErrorKind::FileTooLarge => {
            Error::TooLarge(format!(
                "layer {index} ({}): {e}; --max-inflate and --max-layer-size raise the limits",
                source.entry
            ))
        }
        ParseError::Trailer(e) => {
            let detail = format!("{e} (after the end of the tar archive)");
            let detail =
                if compression == Compression::None { detail } else { format!("{compression} stream: {detail}") };
            fail_io(detail + &corruption_note(blob, source, options), e)
        }
        ParseError::Io { after, source: e } => {
            let detail = match after {
                Some(path) => format!("{e} (after entry /{path})"),
                None => format!("{e} (at the first entry)"),
            };
            let detail =
                if compression == Compression::None { detail } else { format!("{compression} stream: {detail}") };
            fail_io(detail + &corruption_note(blob, source, options), e)
        }
    })?;
    if options.verify {
        // Whatever follows the compressed stream in the blob is part of the blob's digest.
        io::copy(&mut HashTee::new(&mut buffered, Some(&blob_hash)), &mut io::sink())
            .map_err(|e| fail_io(String::new(), e))?;
        let blob = hex_digest(blob_hash.into_inner());
        let diff_id = match compression {
            Compression::None | Compression::Empty => blob.clone(),
            _ => hex_digest(tar_hash.into_inner()),
        };
        parsed.digests = Some(LayerDigests { blob, diff_id });
    }
    if compression == Compression::None && !options.verify {
        // Data skipped by seeking was never read: a truncated blob must still be noticed.
        if let Some(e) =
            parsed.entries.iter().filter(|e| e.kind == EntryKind::File).max_by_key(|e| e.data_offset + e.stored)
            && e.data_offset + e.stored > blob.len()
        {
            let path = String::from_utf8_lossy(e.path.of(&parsed.bytes)).into_owned();
            return Err(fail(format!("the archive ends inside /{path} (truncated file?)")));
        }
    }
    if let Some(p) = progress
        && let Some(done) = p.done.get(index)
    {
        done.store(true, Ordering::Relaxed);
    }
    Ok(parsed)
}

/// With `--verify`, what a blob that could not be read hashes to against what it should: the
/// usual explanation of a broken stream is a corrupt or swapped blob.
fn corruption_note(blob: &crate::archive::BlobLoc, source: &LayerSource, options: &ReadOptions) -> String {
    let Some(declared) = source.blob_digest.as_deref().filter(|d| options.verify && d.starts_with("sha256:")) else {
        return String::new();
    };
    let mut hasher = Sha256::new();
    let hashed = blob.open().and_then(|mut r| io::copy(&mut r, &mut hasher));
    match hashed {
        Ok(_) => {
            let actual = hex_digest(hasher);
            if actual == declared {
                "; the blob matches its digest, so it was written broken".to_string()
            } else {
                format!("; the blob hashes to {actual}, not to its digest {declared}: it is corrupt")
            }
        }
        Err(_) => String::new(),
    }
}

/// `sha256:<hex>` of what a hasher saw.
fn hex_digest(hasher: Sha256) -> String {
    crate::text::digest(&hasher.finalize())
}

/// Read a layer stream to its end after the tar's end-of-archive blocks.
fn drain<R: Read>(stream: &mut R) -> std::result::Result<(), ParseError> {
    io::copy(stream, &mut io::sink()).map(|_| ()).map_err(ParseError::Trailer)
}

/// Passes reads through, counting them against a budget: past it, reading fails (a decompression
/// bomb stops there instead of inflating for minutes).
struct Budgeted<'b, R> {
    inner: R,
    budget: &'b Cell<u64>,
}

impl<R: Read> Read for Budgeted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let left = self.budget.get();
        if n as u64 > left {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "it inflates to more bytes than its blob may expand to (a decompression bomb?)",
            ));
        }
        self.budget.set(left - n as u64);
        Ok(n)
    }
}

/// Passes reads through, feeding every byte read to a sha256 hasher (when there is one).
struct HashTee<'h, R> {
    inner: R,
    hasher: Option<&'h RefCell<Sha256>>,
}

impl<'h, R> HashTee<'h, R> {
    fn new(inner: R, hasher: Option<&'h RefCell<Sha256>>) -> Self {
        HashTee { inner, hasher }
    }
}

impl<R: Read> Read for HashTee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = self.hasher {
            h.borrow_mut().update(&buf[..n]);
        }
        Ok(n)
    }
}

enum ParseError {
    Cancelled,
    /// A bound of [`Limits`] was reached.
    TooLarge(String),
    Io {
        after: Option<String>,
        source: io::Error,
    },
    /// Reading past the tar's end-of-archive blocks failed (a bad gzip trailer, say).
    Trailer(io::Error),
}

/// Files up to this size are hashed while an uncompressed layer is parsed; larger ones are
/// skipped by seeking and hashed later only if a comparison needs them.
const INLINE_HASH_LIMIT: u64 = 64 * 1024;

/// Parse a layer tar. `hash_all`: hash every regular file now (compressed streams, read anyway);
/// otherwise small files and sparse files (whose stored bytes are not their content).
/// `budget` is what the layer may still expand to: sparse holes are taken from it.
fn parse_tar<R: Read + Seek>(
    index: usize,
    reader: R,
    parsed: &mut ParsedLayer,
    progress: Option<&Progress>,
    hash_all: bool,
    limits: &Limits,
    budget: &Cell<u64>,
) -> std::result::Result<(), ParseError> {
    let mut tar = tar::Reader::new(reader, limits.header);
    let mut path_buf = Vec::with_capacity(256);
    let mut data_buf = vec![0u8; 64 * 1024];
    // Bytes of system databases and of language metadata kept so far (see `kept`).
    let mut kept_bytes = [0u64; 2];
    let last_path = |parsed: &ParsedLayer| {
        parsed.entries.last().map(|e| String::from_utf8_lossy(e.path.of(&parsed.bytes)).into_owned())
    };
    loop {
        if progress.is_some_and(Progress::is_cancelled) {
            return Err(ParseError::Cancelled);
        }
        let member = match tar.next_member() {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(tar::TarError::Io(source)) => return Err(ParseError::Io { after: last_path(parsed), source }),
            Err(tar::TarError::TooLarge { at, what }) => {
                return Err(ParseError::TooLarge(format!("the tar header at byte {at} of the layer holds {what}")));
            }
            Err(e @ tar::TarError::Invalid { .. }) => {
                return Err(ParseError::Io {
                    after: last_path(parsed),
                    source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
                });
            }
        };
        let Some(kind) = classify(index, member, parsed, limits, &mut path_buf) else { continue };

        let mode = member.mode & 0o7777;
        let (uid, gid) = (clamp_u32(member.uid), clamp_u32(member.gid));
        let mut content = match kind {
            EntryKind::Char | EntryKind::Block => (u64::from(member.dev.0) << 32) | u64::from(member.dev.1),
            _ => 0,
        };
        let size = if kind == EntryKind::File { member.size } else { 0 };
        let data_offset = member.data_pos;
        let sparse = match (&member.sparse, kind) {
            (Some(chunks), EntryKind::File) => {
                // Holes cost nothing to store and everything to read: they come out of the
                // layer's expansion budget like inflated bytes.
                let holes = member.size - member.stored;
                let left = budget.get();
                if holes > left {
                    return Err(ParseError::TooLarge(format!(
                        "the sparse file /{} claims {} bytes, more than the layer may expand to",
                        String::from_utf8_lossy(&path_buf),
                        member.size
                    )));
                }
                budget.set(left - holes);
                Some(chunks.clone())
            }
            _ => None,
        };
        let io_err = |parsed: &ParsedLayer, source: io::Error| ParseError::Io { after: last_path(parsed), source };
        // Everything taken from the member before its data is read.
        let (stored, mtime) = (if kind == EntryKind::File { member.stored } else { 0 }, member.mtime);
        let path = push_bytes(&mut parsed.bytes, &path_buf).map_err(|e| io_err(parsed, e))?;
        // Other entries may carry a link name too (buildah leaves one on whiteouts); it means
        // nothing to the model, but dive's export shows it.
        let link = match kind {
            _ if member.link.is_empty() => None,
            EntryKind::Hardlink => {
                let mut target = Vec::with_capacity(member.link.len());
                path::normalize(&member.link, &mut target);
                Some(push_bytes(&mut parsed.bytes, &target).map_err(|e| io_err(parsed, e))?)
            }
            _ => Some(push_bytes(&mut parsed.bytes, &member.link).map_err(|e| io_err(parsed, e))?),
        };
        // Small files sit in the read buffer with the headers anyway: hashing them now costs no I/O.
        let hashed = kind == EntryKind::File && (hash_all || size <= INLINE_HASH_LIMIT || sparse.is_some());
        if kind == EntryKind::File {
            parsed.content_bytes = parsed.content_bytes.saturating_add(size);
        }
        // A package database streamed past is kept: reaching it later would inflate the layer
        // again.
        let rule = (hash_all && sparse.is_none() && kind == EntryKind::File)
            .then(|| kept::keep_rule(&path_buf))
            .flatten()
            .filter(|rule| keep_fits(rule, size, &kept_bytes, progress));
        let mut keep = rule.map(|_| Vec::with_capacity(usize::try_from(size).unwrap_or(0)));
        if hashed {
            let hashing = match &sparse {
                Some(chunks) => hash_content(
                    &mut tar::SparseReader::new(&mut tar, chunks.clone(), size),
                    &mut data_buf,
                    progress,
                    None,
                ),
                None => hash_content(&mut tar, &mut data_buf, progress, keep.as_mut()),
            };
            content = hashing.map_err(|e| match e {
                HashError::Cancelled => ParseError::Cancelled,
                HashError::Io(source) => {
                    ParseError::Io { after: Some(String::from_utf8_lossy(&path_buf).into_owned()), source }
                }
            })?;
        }

        let sparse = match sparse {
            Some(chunks) => {
                parsed.sparse.push(chunks);
                u32::try_from(parsed.sparse.len() - 1).unwrap_or(NO_SPARSE)
            }
            None => NO_SPARSE,
        };
        if let (Some(bytes), Some(rule)) = (keep, rule) {
            let n = bytes.len() as u64;
            kept_bytes[usize::from(rule.language)] += n;
            if let Some(p) = progress {
                p.kept_bytes.fetch_add(n, Ordering::Relaxed);
            }
            let record = u32::try_from(parsed.entries.len()).unwrap_or(u32::MAX);
            parsed.kept.push((record, bytes));
        }
        parsed.entries.push(RawEntry {
            path,
            kind,
            size,
            stored,
            mode,
            uid,
            gid,
            mtime,
            link,
            content,
            data_offset,
            hashed,
            sparse,
        });
    }
    Ok(())
}

/// What a tar member records, its normalised path left in `path_buf`; `None` for members that
/// record nothing (the root, aufs metadata) and for those skipped with a warning (unsupported
/// types, bare `.wh.` names). A path climbing above the root is placed at the root, warned about.
fn classify(
    index: usize,
    member: &tar::Member,
    parsed: &mut ParsedLayer,
    limits: &Limits,
    path_buf: &mut Vec<u8>,
) -> Option<EntryKind> {
    let kind = match member.kind {
        tar::Kind::Regular => EntryKind::File,
        tar::Kind::Dir => EntryKind::Dir,
        tar::Kind::Symlink => EntryKind::Symlink,
        tar::Kind::HardLink => EntryKind::Hardlink,
        tar::Kind::Char => EntryKind::Char,
        tar::Kind::Block => EntryKind::Block,
        tar::Kind::Fifo => EntryKind::Fifo,
        tar::Kind::Other(flag) => {
            let name = String::from_utf8_lossy(&member.path).into_owned();
            parsed.warn(
                limits,
                Warning::layer(
                    WarningKind::UnsupportedEntry,
                    index,
                    format!("skipped a tar entry of type '{}'", char::from(flag).escape_default()),
                )
                .with_path(format!("/{name}")),
            );
            return None;
        }
    };
    let (name_kind, escaped) = path::normalize(&member.path, path_buf);
    let kind = match name_kind {
        NameKind::Root | NameKind::AufsMeta => return None,
        NameKind::InvalidWhiteout => {
            let mut shown = String::new();
            path::display_path(path_buf, &mut shown);
            parsed.warn(
                limits,
                Warning::layer(WarningKind::InvalidWhiteout, index, "skipped a bare '.wh.' entry").with_path(shown),
            );
            return None;
        }
        NameKind::Whiteout => EntryKind::Whiteout,
        NameKind::Opaque => EntryKind::Opaque,
        NameKind::Normal => kind,
    };
    if escaped {
        let mut shown = String::new();
        path::display_path(path_buf, &mut shown);
        let warning = Warning::layer(
            WarningKind::PathEscapesRoot,
            index,
            format!(
                "the entry '{}' climbs above the root with '..'; it was placed at {shown}",
                String::from_utf8_lossy(&member.path)
            ),
        )
        .with_path(shown.clone());
        parsed.warn(limits, warning);
    }
    Some(kind)
}

/// Whether a file of `size` bytes kept by `rule` fits the budgets: its own, the layer's for its
/// kind (`kept`: system, language) and the image's.
fn keep_fits(rule: &kept::Rule, size: u64, kept: &[u64; 2], progress: Option<&Progress>) -> bool {
    let layer_max = if rule.language { kept::LANGUAGE_LAYER_MAX } else { kept::LAYER_MAX };
    let image = progress.map_or(0, |p| p.kept_bytes.load(Ordering::Relaxed));
    size <= rule.file_max
        && kept[usize::from(rule.language)].saturating_add(size) <= layer_max
        && image.saturating_add(size) <= kept::IMAGE_MAX
}

/// `RawEntry::sparse` of a file that is not sparse.
pub const NO_SPARSE: u32 = u32::MAX;

impl ParsedLayer {
    /// An empty layer, its warnings bounded by `limits`.
    pub fn new(limits: &Limits) -> Self {
        ParsedLayer {
            bytes: Vec::new(),
            entries: Vec::new(),
            compression: None,
            content_bytes: 0,
            warnings: WarningLog::new(limits.warnings_per_kind),
            digests: None,
            sparse: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// Record a warning (at most `limits.warnings_per_kind` of a kind are kept).
    fn warn(&mut self, _limits: &Limits, warning: Warning) {
        self.warnings.push(warning);
    }
}

enum HashError {
    Cancelled,
    Io(io::Error),
}

/// The xxh3 of what `reader` holds, its bytes appended to `keep` when given.
fn hash_content<R: Read>(
    reader: &mut R,
    buf: &mut [u8],
    progress: Option<&Progress>,
    mut keep: Option<&mut Vec<u8>>,
) -> std::result::Result<u64, HashError> {
    let mut hasher = Xxh3::new();
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HashError::Io(e)),
        };
        hasher.update(&buf[..n]);
        if let Some(kept) = keep.as_deref_mut() {
            kept.extend_from_slice(&buf[..n]);
        }
        if progress.is_some_and(Progress::is_cancelled) {
            return Err(HashError::Cancelled);
        }
    }
    Ok(hasher.digest())
}

fn push_bytes(arena: &mut Vec<u8>, bytes: &[u8]) -> io::Result<Span> {
    let too_big = || io::Error::other("the layer's paths exceed 4 GiB");
    let start = u32::try_from(arena.len()).map_err(|_| too_big())?;
    let len = u32::try_from(bytes.len()).map_err(|_| too_big())?;
    start.checked_add(len).ok_or_else(too_big)?;
    arena.extend_from_slice(bytes);
    Ok(Span { start, len })
}

fn clamp_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}
