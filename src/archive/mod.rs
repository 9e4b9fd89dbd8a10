//! The outer archive: a `docker save`/`oci-archive` tar, an image directory, or stdin.
//!
//! A tar is indexed once (names → byte ranges, headers only); every blob is then read by offset.
//! Writers emit entries in lexical order, so `blobs/…` come before `manifest.json` and a single
//! forward pass could not know the layer order: the index avoids both a second pass and extraction.
//! Stdin and compressed archives (`docker save | gzip`) are first spilled, decompressed, into an
//! anonymous temporary file, because layers must be read by offset.

mod blob;
pub mod compression;
pub mod tar;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) use blob::Backing;
pub use blob::{BlobLoc, BlobReader};
use compression::{Compression, Sniffed};

use crate::error::{Error, Result};
use crate::limits::Limits;

/// What the user asked to open.
#[derive(Clone, Debug)]
pub enum Input {
    /// A tar archive (possibly gzip/zstd compressed) or an image directory.
    Path(PathBuf),
    /// An archive streamed on standard input (`docker save img | layerscope -`).
    Stdin,
    /// An archive already in memory, with a name for messages.
    Bytes {
        /// Name shown in messages and reports.
        name: String,
        /// The archive bytes.
        bytes: Arc<[u8]>,
    },
}

impl Input {
    /// `-` means stdin; anything else is a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" { Input::Stdin } else { Input::Path(PathBuf::from(arg)) }
    }

    /// How the input is named in messages and reports.
    pub fn display_name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".to_string(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }
}

/// Longest chain of symlink entries followed inside an archive.
const MAX_LINK_DEPTH: usize = 16;

/// An opened input: named entries that can be read by offset.
#[derive(Debug)]
pub struct Archive {
    display: String,
    kind: Kind,
    /// Set when the input itself was compressed and had to be inflated first.
    pub outer_compression: Option<Compression>,
    /// Set when the tar ends without its end-of-archive blocks: (the last entry, the byte
    /// where its data ends). A cut archive usually ends so.
    pub cut_after: Option<(String, u64)>,
}

#[derive(Debug)]
enum Kind {
    Tar {
        backing: Backing,
        entries: HashMap<String, TarEntry>,
        /// Entry names in archive order (for messages about unknown archives).
        order: Vec<String>,
    },
    Dir {
        root: PathBuf,
    },
    /// Named blobs put together by a source (cache files, documents in memory).
    Composed {
        entries: HashMap<String, Composed>,
        /// Entry names in the order given.
        order: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct Composed {
    blob: BlobLoc,
    /// The digest the bytes were checked against when they were stored.
    verified: Option<String>,
}

#[derive(Debug, Clone)]
enum TarEntry {
    Data {
        offset: u64,
        len: u64,
    },
    /// A symlink or hard link entry, already resolved to an absolute archive name.
    Link(String),
}

impl Archive {
    /// Open and index `input`, with the default limits.
    pub fn open(input: &Input) -> Result<Archive> {
        Archive::open_with(input, &Limits::default())
    }

    /// Open and index `input`; a spill to a temporary file is bounded by `limits`.
    pub fn open_with(input: &Input, limits: &Limits) -> Result<Archive> {
        let display = input.display_name();
        match input {
            Input::Path(path) => {
                let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
                if meta.is_dir() {
                    return Ok(Archive {
                        display,
                        kind: Kind::Dir { root: path.clone() },
                        outer_compression: None,
                        cut_after: None,
                    });
                }
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                if !meta.is_file() {
                    // A FIFO or `<(…)`: it cannot be read by offset, so it is spilled like stdin.
                    let (file, c) = spill(BufReader::with_capacity(1 << 20, file), &display, limits)?;
                    let outer = (c != Compression::None).then_some(c);
                    return Archive::index_tar(display, Backing::File(Arc::new(file)), outer);
                }
                let mut head = vec![0u8; 512];
                let n = read_head(&file, &mut head).map_err(|e| Error::io(path, e))?;
                head.truncate(n);
                match compression::sniff(&head) {
                    Sniffed::Layer(Compression::Gzip | Compression::Zstd) => {
                        let (file, c) = spill(BufReader::new(file), &display, limits)?;
                        Archive::index_tar(display, Backing::File(Arc::new(file)), Some(c))
                    }
                    _ => {
                        check_tar_head(&display, &head)?;
                        Archive::index_tar(display, Backing::File(Arc::new(file)), None)
                    }
                }
            }
            Input::Stdin => {
                let (file, c) = spill(BufReader::with_capacity(1 << 20, io::stdin().lock()), &display, limits)?;
                let outer = (c != Compression::None).then_some(c);
                Archive::index_tar(display, Backing::File(Arc::new(file)), outer)
            }
            Input::Bytes { bytes, .. } => match compression::sniff(&bytes[..bytes.len().min(512)]) {
                Sniffed::Layer(c @ (Compression::Gzip | Compression::Zstd)) => {
                    let (file, _) = spill(io::Cursor::new(&bytes[..]), &display, limits)?;
                    Archive::index_tar(display, Backing::File(Arc::new(file)), Some(c))
                }
                _ => {
                    check_tar_head(&display, &bytes[..bytes.len().min(512)])?;
                    Archive::index_tar(display, Backing::Memory(bytes.clone()), None)
                }
            },
        }
    }

    fn index_tar(display: String, backing: Backing, outer: Option<Compression>) -> Result<Archive> {
        let total = backing.len().map_err(|e| Error::read(&display, e))?;
        let reader = BlobLoc::region(backing.clone(), 0, total).open().map_err(|e| Error::read(&display, e))?;
        let mut tar =
            tar::Reader::new(BufReader::with_capacity(64 * 1024, reader), crate::limits::HeaderLimits::default());
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        let mut last = String::from("(start of archive)");
        // Where the last entry's data ends (padded to the 512-byte block).
        let mut data_end = 0u64;
        loop {
            let member = match tar.next_member() {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(tar::TarError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(Error::Truncated {
                        path: display,
                        detail: format!("it ends inside the tar header that follows {last} (at byte {data_end})"),
                    });
                }
                Err(tar::TarError::TooLarge { at, what }) => {
                    return Err(Error::TooLarge(format!("{display}: the tar header at byte {at} holds {what}")));
                }
                Err(e) => {
                    return Err(Error::read(
                        &display,
                        with_context(io::Error::other(e.to_string()), &format!("after {last}")),
                    ));
                }
            };
            let name = normalize_name(&String::from_utf8_lossy(&member.path));
            let (start, len) = (member.data_pos, member.stored);
            let end = start.saturating_add(len);
            if end > total {
                return Err(Error::Truncated {
                    path: display,
                    detail: format!(
                        "the entry {} starts at byte {start} and holds {len} bytes, but the archive ends at byte {total} \
                         ({} bytes missing)",
                        if name.is_empty() { "(unnamed)" } else { &name },
                        end - total
                    ),
                });
            }
            data_end = end.div_ceil(512).saturating_mul(512);
            if name.is_empty() {
                continue;
            }
            last.clone_from(&name);
            let record = match member.kind {
                tar::Kind::Symlink | tar::Kind::HardLink => {
                    let target = String::from_utf8_lossy(&member.link);
                    let resolved = if member.kind == tar::Kind::Symlink {
                        resolve_relative(&name, &target)
                    } else {
                        normalize_name(&target)
                    };
                    TarEntry::Link(resolved)
                }
                // A sparse member's stored bytes are not its content: no image writer makes one.
                tar::Kind::Regular if member.sparse.is_none() => TarEntry::Data { offset: start, len },
                _ => continue,
            };
            order.push(name.clone());
            entries.insert(name, record);
        }
        if entries.is_empty() && order.is_empty() {
            return Err(Error::NotAnArchive { path: display, what: "the tar archive is empty".into() });
        }
        // Writers end a tar with two zero blocks (1024 bytes); less than that after the last
        // entry means the file stops where an entry boundary happened to be.
        let cut_after = (total.saturating_sub(data_end) < 1024).then(|| (last.clone(), data_end));
        Ok(Archive { display, kind: Kind::Tar { backing, entries, order }, outer_compression: outer, cut_after })
    }

    /// An archive made of named blobs: how a source that is not a file (a registry, an engine)
    /// hands an image to the reader. `verified` is the digest each blob's bytes were checked
    /// against when they were stored, if they were.
    pub fn composed(display: impl Into<String>, entries: Vec<(String, BlobLoc, Option<String>)>) -> Archive {
        let mut map = HashMap::with_capacity(entries.len());
        let mut order = Vec::with_capacity(entries.len());
        for (name, blob, verified) in entries {
            let name = normalize_name(&name);
            order.push(name.clone());
            map.insert(name, Composed { blob, verified });
        }
        Archive {
            display: display.into(),
            kind: Kind::Composed { entries: map, order },
            outer_compression: None,
            cut_after: None,
        }
    }

    /// The digest entry `name`'s bytes were checked against when a source stored them: such a
    /// blob's parsed records can be kept and reused under that digest.
    pub fn verified_digest(&self, name: &str) -> Option<&str> {
        match &self.kind {
            Kind::Composed { entries, .. } => entries.get(&normalize_name(name))?.verified.as_deref(),
            _ => None,
        }
    }

    /// How the input is named in messages.
    pub fn display_name(&self) -> &str {
        &self.display
    }

    /// Whether the input is an unpacked directory rather than a tar.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir { .. })
    }

    /// Locate entry `name` (following symlink and hard-link entries inside the archive).
    pub fn get(&self, name: &str) -> Option<BlobLoc> {
        let mut name = normalize_name(name);
        match &self.kind {
            Kind::Tar { backing, entries, .. } => {
                for _ in 0..MAX_LINK_DEPTH {
                    match entries.get(&name)? {
                        TarEntry::Data { offset, len } => {
                            return Some(BlobLoc::region(backing.clone(), *offset, *len));
                        }
                        TarEntry::Link(target) => name.clone_from(target),
                    }
                }
                None
            }
            Kind::Dir { root } => {
                // Names come from the image's own metadata: never let them leave the directory.
                if name.is_empty() || name.split('/').any(|c| c == "..") {
                    return None;
                }
                let path = root.join(&name);
                let meta = fs::metadata(&path).ok()?;
                meta.is_file().then(|| BlobLoc::path(path, meta.len()))
            }
            Kind::Composed { entries, .. } => entries.get(&name).map(|e| e.blob.clone()),
        }
    }

    /// Why entry `name` cannot be read: missing, or a chain of link entries that never ends.
    pub fn why_missing(&self, name: &str) -> String {
        let entries = match &self.kind {
            Kind::Tar { entries, .. } => entries,
            Kind::Dir { .. } => return "the directory has no such file".into(),
            Kind::Composed { .. } => return "the source did not provide it".into(),
        };
        let mut chain = vec![normalize_name(name)];
        for _ in 0..MAX_LINK_DEPTH {
            match chain.last().and_then(|n| entries.get(n)) {
                Some(TarEntry::Link(target)) => chain.push(target.clone()),
                _ => return "the archive has no such entry".into(),
            }
        }
        chain.truncate(4);
        format!("it is a symlink loop in the archive ({} → …)", chain.join(" → "))
    }

    /// Whether entry `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Read a small metadata entry (manifest, index, config) fully.
    pub fn read_small(&self, name: &str) -> Option<Result<Vec<u8>>> {
        let loc = self.get(name)?;
        Some(loc.read_all(METADATA_LIMIT).map_err(|e| Error::read(name.to_string(), e)))
    }

    /// Whether some entry looks like a layer of an image (`blobs/sha256/…`, `…/layer.tar`): an
    /// archive with those but no metadata is an incomplete image, not a filesystem tarball.
    pub fn has_layer_blobs(&self) -> bool {
        match &self.kind {
            Kind::Tar { order, .. } => order
                .iter()
                .any(|n| n.strip_prefix("blobs/sha256/").is_some_and(|h| h.len() == 64) || n.ends_with("/layer.tar")),
            Kind::Dir { root } => root.join("blobs/sha256").is_dir(),
            Kind::Composed { order, .. } => order.iter().any(|n| n.starts_with("blobs/")),
        }
    }

    /// The first `n` entry names, for messages about archives we do not understand.
    pub fn first_names(&self, n: usize) -> Vec<String> {
        match &self.kind {
            Kind::Tar { order, .. } | Kind::Composed { order, .. } => order.iter().take(n).cloned().collect(),
            Kind::Dir { root } => {
                let mut names: Vec<String> = fs::read_dir(root)
                    .map(|dir| {
                        dir.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
                    })
                    .unwrap_or_default();
                names.sort();
                names.truncate(n);
                names
            }
        }
    }
}

/// Forward-only `Seek` for a stream: skipping reads and discards into one reused buffer. tar-rs
/// without `Seek` zeroes a 32 KiB buffer for every entry it skips over, which dominated the time of
/// images with many small files.
pub(crate) struct ForwardSeek<R> {
    inner: R,
    pos: u64,
    scratch: Vec<u8>,
}

impl<R: Read> ForwardSeek<BufReader<R>> {
    /// Buffer `inner` and count what passes.
    pub(crate) fn new(inner: R) -> Self {
        ForwardSeek { inner: BufReader::with_capacity(256 * 1024, inner), pos: 0, scratch: vec![0u8; 64 * 1024] }
    }
}

impl<R: Read> Read for ForwardSeek<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read> std::io::Seek for ForwardSeek<R> {
    fn seek(&mut self, to: std::io::SeekFrom) -> io::Result<u64> {
        let target = match to {
            std::io::SeekFrom::Start(n) => Some(n),
            std::io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            std::io::SeekFrom::End(_) => None,
        };
        let Some(target) = target.filter(|t| *t >= self.pos) else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "a layer stream can only be skipped forward"));
        };
        while self.pos < target {
            let want = usize::try_from(target - self.pos).unwrap_or(usize::MAX).min(self.scratch.len());
            let n = self.inner.read(&mut self.scratch[..want])?;
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the layer ends inside an entry"));
            }
            self.pos += n as u64;
        }
        Ok(self.pos)
    }
}

/// Metadata files above this size are refused: real manifests and configs are kilobytes.
const METADATA_LIMIT: u64 = 64 << 20;

/// Read the head of `file` into `buf`, then rewind it.
fn read_head(mut file: impl Read + Seek, buf: &mut [u8]) -> io::Result<usize> {
    let filled = read_up_to(&mut file, buf)?;
    file.rewind()?;
    Ok(filled)
}

/// Fill `buf` as far as the stream goes; the number of bytes read.
pub(crate) fn read_up_to(mut r: impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn check_tar_head(display: &str, head: &[u8]) -> Result<()> {
    match compression::sniff(head) {
        // An archive whose first block is zero ends there: nothing in it (and nothing worth
        // reading further, however much follows).
        Sniffed::Layer(Compression::None) if !head.is_empty() && head.iter().all(|&b| b == 0) => {
            Err(Error::NotAnArchive {
                path: display.to_string(),
                what: "the tar archive is empty (it starts with an end-of-archive block)".into(),
            })
        }
        Sniffed::Layer(Compression::None) => Ok(()),
        Sniffed::Layer(Compression::Empty) => {
            Err(Error::NotAnArchive { path: display.to_string(), what: "the file is empty".into() })
        }
        Sniffed::Layer(c) => {
            Err(Error::NotAnArchive { path: display.to_string(), what: format!("unexpected {c} data") })
        }
        Sniffed::Other(what) => Err(Error::NotAnArchive {
            path: display.to_string(),
            what: format!("not a tar archive or image directory (found {what})"),
        }),
    }
}

/// How often (in bytes written) spilling checks the free space left.
const SPACE_CHECK: u64 = 64 << 20;

/// Copy a (possibly compressed) stream into an anonymous temporary file, inflating it. The
/// first block must start a tar archive; the copy stops at `limits.spill_bytes` and before the
/// temporary directory's free space falls under `limits.spill_reserve`.
fn spill<R: io::BufRead>(mut reader: R, display: &str, limits: &Limits) -> Result<(File, Compression)> {
    let head = compression::peek_head(&mut reader).map_err(|e| Error::read(display, e))?;
    let c = match compression::sniff(&head) {
        Sniffed::Layer(c) => c,
        Sniffed::Other(what) => {
            return Err(Error::NotAnArchive {
                path: display.to_string(),
                what: format!("not a tar archive (found {what})"),
            });
        }
    };
    if c == Compression::Empty {
        return Err(Error::NotAnArchive { path: display.to_string(), what: "the input is empty".into() });
    }
    let mut decoded = compression::decoder(reader, c).map_err(|e| Error::read(display, e))?;
    // Look at the first block before writing anything: zeros or garbage end the read here.
    let mut first = vec![0u8; 512];
    let n = read_up_to(&mut decoded, &mut first).map_err(|e| Error::read(display, e))?;
    first.truncate(n);
    check_tar_head(display, &first)?;
    let temp_dir = std::env::temp_dir();
    let mut file = tempfile::tempfile().map_err(|e| Error::io(&temp_dir, e))?;
    let mut written = 0u64;
    let mut next_check = 0u64;
    {
        let mut writer = io::BufWriter::with_capacity(1 << 20, &mut file);
        writer.write_all(&first).map_err(|e| Error::io(&temp_dir, e))?;
        written += first.len() as u64;
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let n = match decoded.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(stream_error(display, c, written, e)),
            };
            written += n as u64;
            if written > limits.spill_bytes {
                return Err(Error::TooLarge(format!(
                    "{display}: reading it means writing it to a temporary file in {}, which stopped at \
                     the limit of {} (--max-spill raises it)",
                    temp_dir.display(),
                    crate::text::size(limits.spill_bytes)
                )));
            }
            if written >= next_check {
                writer.flush().map_err(|e| Error::io(&temp_dir, e))?;
                check_free_space(writer.get_ref(), &temp_dir, limits.spill_reserve, display)?;
                next_check = written + SPACE_CHECK;
            }
            writer.write_all(&chunk[..n]).map_err(|e| Error::io(&temp_dir, e))?;
        }
        writer.flush().map_err(|e| Error::io(&temp_dir, e))?;
    }
    file.rewind().map_err(|e| Error::io(&temp_dir, e))?;
    Ok((file, c))
}

/// A compressed archive that cannot be inflated: cut short, or corrupt, and where.
fn stream_error(display: &str, c: Compression, written: u64, e: io::Error) -> Error {
    let cut = e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("incomplete");
    if cut {
        Error::Truncated {
            path: display.to_string(),
            detail: format!("its {c} stream ends early, after {written} bytes of archive (a cut download?)"),
        }
    } else {
        Error::read(
            display,
            io::Error::new(e.kind(), format!("corrupt {c} stream after {written} bytes of archive: {e}")),
        )
    }
}

/// Refuse to fill the temporary directory's file system past `reserve` bytes of free space.
fn check_free_space(file: &File, dir: &std::path::Path, reserve: u64, display: &str) -> Result<()> {
    if let Some(free) = crate::limits::free_space_of(file)
        && free < reserve.saturating_add(SPACE_CHECK)
    {
        return Err(Error::TooLarge(format!(
            "{display}: reading it means writing it to a temporary file in {}, which would leave \
                 less than {} free (set TMPDIR to a larger file system)",
            dir.display(),
            crate::text::size(reserve)
        )));
    }
    Ok(())
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Normalise an archive entry name: no `./`, no leading or trailing `/`, `.` and `..` resolved.
pub fn normalize_name(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Resolve a symlink entry's target relative to the entry's directory
/// (`<id>/layer.tar -> ../<diffid>.tar` in podman archives).
pub(crate) fn resolve_relative(entry: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalize_name(target);
    }
    let dir = entry.rsplit_once('/').map_or("", |(d, _)| d);
    normalize_name(&format!("{dir}/{target}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_names() {
        assert_eq!(normalize_name("./manifest.json"), "manifest.json");
        assert_eq!(normalize_name("/blobs//sha256/ab/"), "blobs/sha256/ab");
        assert_eq!(normalize_name("a/../b"), "b");
        assert_eq!(normalize_name("."), "");
    }

    #[test]
    fn resolves_podman_layer_links() {
        assert_eq!(resolve_relative("abc/layer.tar", "../def.tar"), "def.tar");
        assert_eq!(resolve_relative("abc/layer.tar", "/def.tar"), "def.tar");
        assert_eq!(resolve_relative("layer.tar", "x/y.tar"), "x/y.tar");
    }
}
