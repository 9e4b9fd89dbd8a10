//! Byte ranges of the outer archive (or files of an image directory), read by offset.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the bytes of an input live. Cloning is cheap; reads are positional, so clones can be read
/// from several threads at once without sharing a cursor.
#[derive(Clone, Debug)]
pub(crate) enum Backing {
    /// An open file (an archive on disk, or the spill file of stdin).
    File(Arc<File>),
    /// An archive held in memory (the bundled demo image, tests).
    Memory(Arc<[u8]>),
}

impl Backing {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Backing::File(file) => read_file_at(file, buf, offset),
            Backing::Memory(bytes) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
                let n = buf.len().min(bytes.len() - start);
                buf[..n].copy_from_slice(&bytes[start..start + n]);
                Ok(n)
            }
        }
    }

    /// Total length of the backing bytes.
    pub(crate) fn len(&self) -> io::Result<u64> {
        match self {
            Backing::File(file) => Ok(file.metadata()?.len()),
            Backing::Memory(bytes) => Ok(bytes.len() as u64),
        }
    }
}

#[cfg(unix)]
fn read_file_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_file_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// The location of one blob (a layer, a config, a manifest): a byte range of the outer archive, or
/// a file of an image directory.
#[derive(Clone, Debug)]
pub struct BlobLoc {
    inner: LocInner,
    len: u64,
}

#[derive(Clone, Debug)]
enum LocInner {
    Region { backing: Backing, offset: u64 },
    Path(PathBuf),
}

impl BlobLoc {
    pub(crate) fn region(backing: Backing, offset: u64, len: u64) -> Self {
        BlobLoc { inner: LocInner::Region { backing, offset }, len }
    }

    pub(crate) fn path(path: PathBuf, len: u64) -> Self {
        BlobLoc { inner: LocInner::Path(path), len }
    }

    /// A whole open file (a cached blob: held open, it stays readable even if pruned meanwhile).
    pub(crate) fn file(file: File, len: u64) -> Self {
        BlobLoc { inner: LocInner::Region { backing: Backing::File(Arc::new(file)), offset: 0 }, len }
    }

    /// Bytes held in memory (a document a source made or fetched).
    pub(crate) fn memory(bytes: Arc<[u8]>) -> Self {
        let len = bytes.len() as u64;
        BlobLoc { inner: LocInner::Region { backing: Backing::Memory(bytes), offset: 0 }, len }
    }

    /// Size of the blob in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the blob is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Open a reader positioned at the start of the blob.
    pub fn open(&self) -> io::Result<BlobReader> {
        let (backing, start) = match &self.inner {
            LocInner::Region { backing, offset } => (backing.clone(), *offset),
            LocInner::Path(path) => (Backing::File(Arc::new(File::open(path)?)), 0),
        };
        Ok(BlobReader { backing, start, len: self.len, pos: 0 })
    }

    /// Read the whole blob into memory, refusing blobs larger than `limit` (metadata files are small;
    /// a huge "manifest" is a sign of a wrong reference, not something to buffer).
    pub(crate) fn read_all(&self, limit: u64) -> io::Result<Vec<u8>> {
        if self.len > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} bytes is too large for a metadata file (limit {limit})", self.len),
            ));
        }
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        self.open()?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// A `Read + Seek` view of one blob.
#[derive(Debug)]
pub struct BlobReader {
    backing: Backing,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len.saturating_sub(self.pos);
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = self.backing.read_at(&mut buf[..want], self.start + self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside this entry (truncated file?)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BlobReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match target {
            Some(n) => {
                self.pos = n;
                Ok(n)
            }
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start of the entry")),
        }
    }
}
