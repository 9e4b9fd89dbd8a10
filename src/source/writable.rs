//! A container's writable layer as a layer tar with the OCI conventions the reader knows, made
//! from where the engine keeps it: the overlay `UpperDir`, or the engine's list of changes and an
//! export of the container's file system when that folder cannot be read.
//!
//! overlayfs marks a deleted path with a character device 0:0 (or, on newer kernels, an empty file
//! with a `overlay.whiteout` xattr) and a directory that hides everything below it with
//! `overlay.opaque` = `y`, both as `trusted.` xattrs (rootful) or `user.` ones (rootless). They
//! become `.wh.NAME` and `.wh..wh..opq`. A renamed directory (`overlay.redirect`) and a
//! metadata-only copy-up (`overlay.metacopy`) are said in warnings.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::warning::{Warning, WarningKind};

/// The layer tar, in an unlinked temporary file.
#[derive(Debug)]
pub struct WritableLayer {
    /// The tar, read from the start.
    pub file: File,
    /// Its length.
    pub len: u64,
    /// `sha256:…` of the tar (its DiffID: it is stored uncompressed), hashed as it was written.
    pub diff_id: String,
    /// What could not be carried over exactly.
    pub warnings: Vec<Warning>,
}

/// How a path changed, as an engine's changes list says (`docker diff`: C, A, D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// C: modified.
    Modified,
    /// A: added.
    Added,
    /// D: deleted.
    Deleted,
}

/// Folders nested deeper than this are refused (a path of 4096 bytes cannot go deeper).
const MAX_DEPTH: usize = 2048;

/// The prefixes overlayfs xattrs carry: rootful, then rootless (`userxattr`).
const XATTR_PREFIXES: [&str; 2] = ["trusted.overlay.", "user.overlay."];

fn io_error(path: &Path, e: io::Error) -> Error {
    Error::io(path.to_path_buf(), e)
}

/// The overlay xattr `name` (without its prefix) of `path`, when set.
fn overlay_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    XATTR_PREFIXES.iter().find_map(|prefix| {
        let mut value = [0u8; 256];
        let len = rustix::fs::lgetxattr(path, format!("{prefix}{name}").as_str(), &mut value).ok()?;
        Some(value[..len.min(value.len())].to_vec())
    })
}

/// The tar being written, and what could not be carried over exactly.
struct Writer {
    tar: tar::Builder<Hashing>,
    warnings: Vec<Warning>,
}

/// A file that hashes what is written to it and counts it.
struct Hashing {
    file: io::BufWriter<File>,
    hasher: sha2::Sha256,
    len: u64,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use sha2::Digest;
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Writer {
    fn new() -> Result<Writer> {
        use sha2::Digest;
        let file = tempfile::tempfile().map_err(|e| io_error(&std::env::temp_dir(), e))?;
        let out = Hashing { file: io::BufWriter::with_capacity(1 << 20, file), hasher: sha2::Sha256::new(), len: 0 };
        Ok(Writer { tar: tar::Builder::new(out), warnings: Vec::new() })
    }

    fn header(kind: tar::EntryType, meta: Option<&std::fs::Metadata>) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        match meta {
            Some(m) => {
                h.set_mode(m.mode() & 0o7777);
                h.set_uid(u64::from(m.uid()));
                h.set_gid(u64::from(m.gid()));
                h.set_mtime(u64::try_from(m.mtime()).unwrap_or(0));
            }
            None => h.set_mode(0),
        }
        h
    }

    fn append(&mut self, mut header: tar::Header, path: &Path, data: impl Read) -> Result<()> {
        self.tar.append_data(&mut header, path, data).map_err(|e| io_error(path, e))
    }

    fn append_link(&mut self, mut header: tar::Header, path: &Path, target: &Path) -> Result<()> {
        self.tar.append_link(&mut header, path, target).map_err(|e| io_error(path, e))
    }

    /// `.wh.NAME` beside `path`.
    fn whiteout(&mut self, path: &Path) -> Result<()> {
        let Some(name) = path.file_name() else { return Ok(()) };
        let mut marker = OsString::from(".wh.");
        marker.push(name);
        let at = path.parent().map_or_else(|| PathBuf::from(&marker), |p| p.join(&marker));
        self.append(Writer::header(tar::EntryType::Regular, None), &at, io::empty())
    }

    fn finish(self) -> Result<WritableLayer> {
        use sha2::Digest;
        let fail = |e: io::Error| io_error(Path::new("writable layer"), e);
        let Hashing { file, hasher, len } = self.tar.into_inner().map_err(fail)?;
        let mut file = file.into_inner().map_err(|e| fail(e.into_error()))?;
        file.rewind().map_err(fail)?;
        let diff_id = format!("sha256:{}", crate::text::hex(&hasher.finalize()));
        Ok(WritableLayer { file, len, diff_id, warnings: self.warnings })
    }
}

/// Where an overlay's folders are.
#[derive(Clone, Copy, Debug)]
pub struct Overlay<'a> {
    /// The upper folder: the writable layer.
    pub upper: &'a Path,
    /// The lower folders, topmost first (the image's layers).
    pub lower: &'a [PathBuf],
    /// The container's mounted view, when it is mounted: it gives the content of metadata-only
    /// copy-ups.
    pub merged: Option<&'a Path>,
}

impl Overlay<'_> {
    /// Whether the folder at `path` shows below as it is above: overlay copied it up only to hold
    /// a changed child, which is no change of the folder itself (as `podman diff` sees it).
    fn same_below(&self, path: &Path, meta: &std::fs::Metadata) -> bool {
        let below = self.lower.iter().find_map(|l| std::fs::symlink_metadata(l.join(path)).ok());
        below.is_some_and(|b| {
            b.is_dir() && (b.mode(), b.uid(), b.gid(), b.mtime()) == (meta.mode(), meta.uid(), meta.gid(), meta.mtime())
        })
    }
}

/// The layer tar of an overlay's upper folder.
pub fn from_upper_dir(overlay: Overlay<'_>) -> Result<WritableLayer> {
    let mut out = Writer::new()?;
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(overlay, Path::new(""), &mut out, &mut links, 0)?;
    out.finish()
}

fn walk(
    overlay: Overlay<'_>,
    rel: &Path,
    out: &mut Writer,
    links: &mut HashMap<(u64, u64), PathBuf>,
    depth: usize,
) -> Result<()> {
    let (upper, merged) = (overlay.upper, overlay.merged);
    let dir = upper.join(rel);
    if depth > MAX_DEPTH {
        return Err(io_error(&dir, io::Error::other(format!("more than {MAX_DEPTH} folders deep"))));
    }
    let mut names: Vec<OsString> = std::fs::read_dir(&dir)
        .map_err(|e| io_error(&dir, e))?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| io_error(&dir, e))?;
    names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
    for name in names {
        let path = rel.join(&name);
        let full = upper.join(&path);
        let meta = std::fs::symlink_metadata(&full).map_err(|e| io_error(&full, e))?;
        let kind = meta.file_type();
        let whiteout = (kind.is_char_device() && meta.rdev() == 0)
            || (kind.is_file() && meta.len() == 0 && overlay_xattr(&full, "whiteout").is_some());
        if whiteout {
            out.whiteout(&path)?;
        } else if kind.is_dir() {
            let opaque = overlay_xattr(&full, "opaque").as_deref() == Some(b"y");
            if opaque || !overlay.same_below(&path, &meta) {
                out.append(Writer::header(tar::EntryType::Directory, Some(&meta)), &path, io::empty())?;
            }
            if opaque {
                out.append(Writer::header(tar::EntryType::Regular, None), &path.join(".wh..wh..opq"), io::empty())?;
            }
            if let Some(from) = overlay_xattr(&full, "redirect") {
                out.warnings.push(
                    Warning::image(
                        WarningKind::SourceNotice,
                        format!(
                            "the container renamed this directory (overlay redirect from {}): what it kept \
                             from below is not in the writable layer",
                            String::from_utf8_lossy(&from)
                        ),
                    )
                    .with_path(format!("/{}", path.display())),
                );
            }
            walk(overlay, &path, out, links, depth + 1)?;
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                    let first = first.clone();
                    out.append_link(Writer::header(tar::EntryType::Link, Some(&meta)), &path, &first)?;
                    continue;
                }
                links.insert((meta.dev(), meta.ino()), path.clone());
            }
            // A metadata-only copy-up keeps its bytes below: read them through the merged view.
            let source = match (overlay_xattr(&full, "metacopy"), merged) {
                (Some(_), Some(merged)) => merged.join(&path),
                (Some(_), None) => {
                    out.warnings.push(
                        Warning::image(
                            WarningKind::SourceNotice,
                            "a metadata-only copy-up (overlay metacopy) and the container is not mounted: \
                             its bytes are not read",
                        )
                        .with_path(format!("/{}", path.display())),
                    );
                    full.clone()
                }
                (None, _) => full.clone(),
            };
            let file = File::open(&source).map_err(|e| io_error(&source, e))?;
            let mut header = Writer::header(tar::EntryType::Regular, Some(&meta));
            header.set_size(meta.len());
            // Exactly the size in the header, even if the file changes while it is read.
            let data = file.take(meta.len()).chain(io::repeat(0)).take(meta.len());
            out.append(header, &path, data)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| io_error(&full, e))?;
            out.append_link(Writer::header(tar::EntryType::Symlink, Some(&meta)), &path, &target)?;
        } else if kind.is_char_device() || kind.is_block_device() || kind.is_fifo() {
            let entry = if kind.is_fifo() {
                tar::EntryType::Fifo
            } else if kind.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            };
            let mut header = Writer::header(entry, Some(&meta));
            let dev = meta.rdev();
            header.set_device_major(rustix::fs::major(dev)).map_err(|e| io_error(&full, e))?;
            header.set_device_minor(rustix::fs::minor(dev)).map_err(|e| io_error(&full, e))?;
            out.append(header, &path, io::empty())?;
        } else {
            out.warnings.push(
                Warning::image(WarningKind::UnsupportedEntry, "a socket in the writable layer (left out)")
                    .with_path(format!("/{}", path.display())),
            );
        }
    }
    Ok(())
}

/// A path as an engine lists it (`/app/x`), relative and normalised (`app/x`); `None` for the root.
fn relative(path: &str) -> Option<PathBuf> {
    let rel: PathBuf = Path::new(path).components().filter(|c| matches!(c, Component::Normal(_))).collect();
    (!rel.as_os_str().is_empty()).then_some(rel)
}

/// The layer tar from an engine's changes list and an export of the container's file system (a
/// tar of everything it sees): the added and modified paths as exported, a whiteout for every
/// deleted one. Directories deleted and made again show as modified (the list has no opaque
/// directories).
pub fn from_changes(changes: &[(ChangeKind, String)], export: impl Read) -> Result<WritableLayer> {
    let mut out = Writer::new()?;
    let kept: HashSet<PathBuf> =
        changes.iter().filter(|(k, _)| *k != ChangeKind::Deleted).filter_map(|(_, p)| relative(p)).collect();
    let mut archive = tar::Archive::new(export);
    let entries = archive.entries().map_err(|e| io_error(Path::new("export"), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| io_error(Path::new("export"), e))?;
        let path = entry.path().map_err(|e| io_error(Path::new("export"), e))?.into_owned();
        let rel: PathBuf = path.components().filter(|c| matches!(c, Component::Normal(_))).collect();
        if !kept.contains(&rel) {
            continue;
        }
        let mut header = entry.header().clone();
        match header.entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| io_error(&rel, e))?
                    .map(std::borrow::Cow::into_owned)
                    .unwrap_or_default();
                out.append_link(header, &rel, &target)?;
            }
            _ => {
                header.set_size(entry.size());
                out.append(header, &rel, &mut entry)?;
            }
        }
    }
    // Deleted paths: the topmost of each deleted subtree is enough.
    let deleted: Vec<PathBuf> =
        changes.iter().filter(|(k, _)| *k == ChangeKind::Deleted).filter_map(|(_, p)| relative(p)).collect();
    let all: HashSet<&PathBuf> = deleted.iter().collect();
    for path in &deleted {
        if path.ancestors().skip(1).any(|a| all.contains(&a.to_path_buf())) {
            continue;
        }
        out.whiteout(path)?;
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_paths_become_relative() {
        assert_eq!(relative("/app/x"), Some(PathBuf::from("app/x")));
        assert_eq!(relative("app/./x/"), Some(PathBuf::from("app/x")));
        assert_eq!(relative("/"), None);
    }
}
