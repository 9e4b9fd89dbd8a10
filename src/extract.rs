//! Extraction: write one file or directory of the image, as it is after a chosen layer, to disk.
//!
//! The archive is untrusted, so extraction never writes outside the destination directory:
//! * every name is checked again (no empty name, `.`, `..`, `/` or NUL), unsafe ones are skipped;
//! * every directory below the destination is created by extraction itself (`create_dir`, never
//!   `create_dir_all`), and before anything is written into it, it is checked (`symlink_metadata`)
//!   to still be that same real directory, so a symlink swapped in is never followed;
//! * files are created with `create_new`, so an existing path (a symlink included) is never
//!   opened, let alone overwritten: it is skipped as "exists";
//! * symlinks of the image are recreated as symlinks and never traversed;
//! * devices and fifos are skipped; setuid, setgid and sticky bits are dropped.
//!
//! Contents are streamed with [`Image::for_each_content`]: each layer blob is inflated once, however
//! many files it holds. Paths that share bytes (hard links) are written once and linked, so an
//! archive of a thousand links to one file cannot fill the disk; before anything is written the
//! bytes to write are checked against the destination's free space. Directories get their modes
//! last (always keeping `0o700` for the owner), so a read-only directory does not stop its children
//! from being written.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};
use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{EntryId, IMPLICIT_DIR_MODE, NodeId, State};

/// What extraction wrote and what it skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtractSummary {
    /// Regular files written, hard links included (written as hard links).
    pub files: u64,
    /// Directories created (the destination itself not included).
    pub dirs: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Content bytes written (the bytes of hard-linked paths once).
    pub bytes: u64,
    /// Paths not written, as (path in the image, reason).
    pub skipped: Vec<(String, String)>,
    /// What was created: `dest/<name>`, or `dest` itself for the root.
    pub root: PathBuf,
}

/// Extract `node` (a file, symlink or directory, with everything below it) as it is after `layer`
/// into directory `dest`.
///
/// `dest` is created when missing; the node goes to `dest/<its name>` (the root's children go
/// straight into `dest`). Paths that exist already are skipped, never overwritten. Fails when
/// `node` is not present after `layer`, on archive read errors, and on filesystem errors other
/// than an existing path.
pub fn extract(image: &Image, node: NodeId, layer: usize, dest: &Path) -> Result<ExtractSummary> {
    extract_watched(image, node, layer, dest, &Watch::default())
}

/// A running extraction's counters: bytes written so far, and a flag that stops it.
#[derive(Debug, Default)]
pub struct Watch {
    /// Content bytes written so far.
    pub written: AtomicU64,
    /// Set to stop between two blocks of a file ([`Error::Cancelled`]; what was written stays).
    pub stop: AtomicBool,
}

/// [`extract`], reporting through `watch` and stopping when it says so.
pub fn extract_watched(
    image: &Image,
    node: NodeId,
    layer: usize,
    dest: &Path,
    watch: &Watch,
) -> Result<ExtractSummary> {
    let tree = &image.tree;
    if node.0 as usize >= tree.node_count() {
        return Err(Error::InvalidArgument(format!("no node {} in the image tree", node.0)));
    }
    if layer >= image.layers.len() {
        return Err(Error::InvalidArgument(format!("the image has no layer {layer}")));
    }
    let shown = tree.display_path(node).0;
    if node != NodeId::ROOT && matches!(tree.state_at(node, Some(layer)), State::Absent) {
        return Err(Error::InvalidArgument(format!("{shown} does not exist after layer {layer}")));
    }
    fs::create_dir_all(dest).map_err(|e| Error::io(dest, e))?;

    let mut x = Extractor {
        image,
        watch,
        layer,
        dest: dest.to_path_buf(),
        dirs: Vec::new(),
        files: BTreeMap::new(),
        summary: ExtractSummary { root: dest.to_path_buf(), ..ExtractSummary::default() },
    };
    if node == NodeId::ROOT {
        x.walk(tree.children(node).iter().rev().map(|&c| (c, None)).collect())?;
    } else {
        match safe_name(tree.name(node)) {
            Ok(name) => {
                x.summary.root = dest.join(name);
                x.walk(vec![(node, None)])?;
            }
            Err(reason) => x.skip(node, reason),
        }
    }
    x.check_space()?;
    x.write_files()?;
    x.finish_dirs()?;
    Ok(x.summary)
}

/// A directory extraction created, and who it is on disk (to notice it being swapped).
struct MadeDir {
    node: NodeId,
    path: PathBuf,
    mode: u32,
    id: (u64, u64),
}

/// A regular file (or hard link) to write once its layer is streamed.
struct FileJob {
    node: NodeId,
    path: PathBuf,
    /// Index in `dirs` of the directory it goes into; `None`: the destination.
    parent: Option<usize>,
    mode: u32,
}

struct Extractor<'a> {
    image: &'a Image,
    watch: &'a Watch,
    layer: usize,
    dest: PathBuf,
    dirs: Vec<MadeDir>,
    /// Files by the entry holding their bytes, so hard-linked bytes are streamed once.
    files: BTreeMap<EntryId, Vec<FileJob>>,
    summary: ExtractSummary,
}

const REPLACED: &str = "its directory was replaced during extraction";

impl Extractor<'_> {
    fn skip(&mut self, node: NodeId, reason: impl Into<String>) {
        self.summary.skipped.push((self.image.tree.display_path(node).0, reason.into()));
    }

    /// Whether the directory `parent` is still the real directory extraction created.
    fn parent_ok(&self, parent: Option<usize>) -> Result<bool> {
        let Some(dir) = parent.and_then(|i| self.dirs.get(i)) else {
            return Ok(parent.is_none());
        };
        match fs::symlink_metadata(&dir.path) {
            Ok(meta) => Ok(meta.file_type().is_dir() && identity(&meta) == dir.id),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&dir.path, e)),
        }
    }

    /// Create directories and symlinks depth first from `stack` (node, parent directory index), and
    /// collect the files to write.
    fn walk(&mut self, mut stack: Vec<(NodeId, Option<usize>)>) -> Result<()> {
        let image = self.image;
        let tree = &image.tree;
        while let Some((node, parent)) = stack.pop() {
            let State::Present { entry, .. } = tree.state_at(node, Some(self.layer)) else {
                continue;
            };
            let name = match safe_name(tree.name(node)) {
                Ok(name) => name,
                Err(reason) => {
                    self.skip(node, reason);
                    continue;
                }
            };
            let base = parent.and_then(|i| self.dirs.get(i)).map_or(&self.dest, |d| &d.path);
            let path = base.join(name);
            // What the path holds: hard links stand for the entry whose bytes they share.
            let (kind, mode, content) = match entry.map(|id| (id, tree.entry(id))) {
                None => (EntryKind::Dir, IMPLICIT_DIR_MODE, None),
                Some((id, e)) if e.kind == EntryKind::Hardlink => {
                    let c = tree.content_entry(e);
                    if e.inode == id {
                        self.skip(node, "hard link target missing");
                        continue;
                    }
                    (c.kind, c.mode, Some(e.inode))
                }
                Some((id, e)) => (e.kind, e.mode, Some(id)),
            };
            if !matches!(kind, EntryKind::Char | EntryKind::Block | EntryKind::Fifo) && !self.parent_ok(parent)? {
                self.skip(node, REPLACED);
                continue;
            }
            match (kind, content) {
                (EntryKind::Dir, _) if entry.is_some_and(|id| tree.entry(id).kind == EntryKind::Hardlink) => {
                    self.skip(node, "hard link to a directory");
                }
                (EntryKind::Dir, _) => {
                    if !self.make_dir(node, &path, mode)? {
                        continue;
                    }
                    let index = self.dirs.len() - 1;
                    stack.extend(tree.children(node).iter().rev().map(|&c| (c, Some(index))));
                }
                (EntryKind::File, Some(content)) => {
                    self.files.entry(content).or_default().push(FileJob { node, path, parent, mode });
                }
                (EntryKind::Symlink, Some(content)) => {
                    let target = tree.link(tree.entry(content)).unwrap_or_default().to_vec();
                    self.make_symlink(node, &path, &target)?;
                }
                (EntryKind::Char | EntryKind::Block, _) => self.skip(node, "device"),
                (EntryKind::Fifo, _) => self.skip(node, "fifo"),
                _ => self.skip(node, format!("not extractable ({})", kind.as_str())),
            }
        }
        Ok(())
    }

    /// Create one directory; false when it was skipped.
    fn make_dir(&mut self, node: NodeId, path: &Path, mode: u32) -> Result<bool> {
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        match builder.create(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                self.skip(node, "exists");
                return Ok(false);
            }
            Err(e) => return Err(Error::io(path, e)),
        }
        let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.file_type().is_dir() {
            self.skip(node, "replaced during extraction");
            return Ok(false);
        }
        self.dirs.push(MadeDir { node, path: path.to_path_buf(), mode, id: identity(&meta) });
        self.summary.dirs += 1;
        Ok(true)
    }

    /// Recreate a symlink with its stored target (never followed).
    fn make_symlink(&mut self, node: NodeId, path: &Path, target: &[u8]) -> Result<()> {
        if target.is_empty() || target.contains(&0) {
            self.skip(node, "invalid symlink target");
            return Ok(());
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            match std::os::unix::fs::symlink(OsStr::from_bytes(target), path) {
                Ok(()) => self.summary.symlinks += 1,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.skip(node, "exists"),
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            self.skip(node, "symlinks are not extracted on this platform");
        }
        Ok(())
    }

    /// Refuse to start when the bytes to write (each hard-linked file once) exceed the free space
    /// of the destination's file system.
    fn check_space(&self) -> Result<()> {
        let tree = &self.image.tree;
        let needed: u64 = self.files.keys().map(|&id| tree.content_entry(tree.entry(id)).size).sum();
        if let Some(free) = crate::limits::free_space(&self.dest)
            && needed > free
        {
            return Err(Error::TooLarge(format!(
                "extracting needs {} but {} has {} free",
                crate::text::size(needed),
                self.dest.display(),
                crate::text::size(free)
            )));
        }
        Ok(())
    }

    /// Stream every collected file's bytes, each layer blob once.
    fn write_files(&mut self) -> Result<()> {
        let image = self.image;
        let ids: Vec<EntryId> = self.files.keys().copied().collect();
        let mut files = std::mem::take(&mut self.files);
        image.for_each_content(&ids, |id, reader| {
            let jobs = files.remove(&id).unwrap_or_default();
            self.write_copies(id, &jobs, reader)
        })
    }

    /// Create every path in `jobs` with the bytes of entry `id` from `reader`: the first from the
    /// archive, the others (paths sharing those bytes) as hard links to it.
    fn write_copies(&mut self, id: EntryId, jobs: &[FileJob], reader: &mut dyn Read) -> Result<()> {
        let mut first: Option<&FileJob> = None;
        for job in jobs {
            if !self.parent_ok(job.parent)? {
                self.skip(job.node, REPLACED);
                continue;
            }
            if let Some(first) = first {
                // linkat without following: a swapped-in symlink at `first` would be linked
                // itself, never its target; an existing path is never replaced.
                match fs::hard_link(&first.path, &job.path) {
                    Ok(()) => self.summary.files += 1,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.skip(job.node, "exists"),
                    Err(e) => return Err(Error::io(&job.path, e)),
                }
                continue;
            }
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = match options.open(&job.path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.skip(job.node, "exists");
                    continue;
                }
                Err(e) => return Err(Error::io(&job.path, e)),
            };
            let written = self.copy_from_archive(id, reader, &mut file, &job.path)?;
            set_file_mode(&file, &job.path, job.mode)?;
            self.summary.files += 1;
            self.summary.bytes += written;
            first = Some(job);
        }
        Ok(())
    }

    /// Copy `reader` (the archive) into `file`: read errors name the layer, write errors the path.
    fn copy_from_archive(&self, id: EntryId, reader: &mut dyn Read, file: &mut File, path: &Path) -> Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            if self.watch.stop.load(Ordering::Relaxed) {
                return Err(Error::Cancelled);
            }
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let index = usize::from(self.image.tree.entry(id).layer);
                    let entry = self.image.layers.get(index).map(|l| l.entry.clone()).unwrap_or_default();
                    return Err(Error::Layer { index, entry, detail: e.to_string(), source: Some(e) });
                }
            };
            file.write_all(buf.get(..n).unwrap_or_default()).map_err(|e| Error::io(path, e))?;
            total += n as u64;
            self.watch.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        Ok(total)
    }

    /// Give the created directories their modes, deepest first, keeping `0o700` for the owner.
    fn finish_dirs(&mut self) -> Result<()> {
        for i in (0..self.dirs.len()).rev() {
            let Some(dir) = self.dirs.get(i) else { continue };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let (node, path, mode, id) = (dir.node, dir.path.clone(), dir.mode, dir.id);
                // Check before opening (opening a swapped-in fifo would block), and after (a swap
                // in between changes the identity).
                if !self.parent_ok(Some(i))? {
                    self.skip(node, "replaced during extraction");
                    continue;
                }
                let handle = File::open(&path).map_err(|e| Error::io(&path, e))?;
                let meta = handle.metadata().map_err(|e| Error::io(&path, e))?;
                if !meta.is_dir() || identity(&meta) != id {
                    self.skip(node, "replaced during extraction");
                    continue;
                }
                let perms = fs::Permissions::from_mode(0o700 | (mode & 0o777));
                handle.set_permissions(perms).map_err(|e| Error::io(&path, e))?;
            }
            #[cfg(not(unix))]
            let _ = dir;
        }
        Ok(())
    }
}

/// A file's permission bits without setuid, setgid and sticky (unix only).
fn set_file_mode(file: &File, path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(mode & 0o777)).map_err(|e| Error::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (file, path, mode);
    Ok(())
}

/// Who a file is on disk: (device, inode) on unix.
fn identity(meta: &fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// A tree name as one path component, or why it cannot be one.
fn safe_name(name: &[u8]) -> std::result::Result<&OsStr, &'static str> {
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
        return Err("unsafe name");
    }
    #[cfg(unix)]
    let os = {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(name)
    };
    #[cfg(not(unix))]
    let os = OsStr::new(std::str::from_utf8(name).map_err(|_| "name is not UTF-8")?);
    // The platform must also read it as exactly one plain component (`\` and `C:` on Windows).
    let mut parts = Path::new(os).components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(part)), None) if part == os => Ok(os),
        _ => Err("unsafe name"),
    }
}
