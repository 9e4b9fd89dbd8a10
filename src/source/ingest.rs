//! An archive streamed by an engine (`docker save`'s tar, from the Engine API or a command),
//! read once, front to back: every member of a megabyte or more goes to the cache under the
//! sha256 computed on the way (for a layer of `docker save`, its DiffID), smaller ones (manifests,
//! configs) stay in memory too. Nothing else is written: the stream is never spilled whole to a
//! temporary file, and a layer already in the cache is simply written again under its name.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use sha2::{Digest, Sha256};

use super::Transfer;
use crate::archive::tar::{self, TarError};
use crate::archive::{Archive, BlobLoc, ForwardSeek, normalize_name, resolve_relative};
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::limits::Limits;

/// Members smaller than this are kept in memory (and also in the cache, for a later open).
const IN_MEMORY: u64 = 1 << 20;

/// Whether a small member is content a later open may want from the cache (a config, a blob of
/// an OCI layout, a tiny layer), not a file that describes this one save (`manifest.json`,
/// `repositories`, a legacy layer's `json` and `VERSION`).
fn worth_keeping(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    name.starts_with("blobs/") || file.ends_with(".tar") || file.strip_suffix(".json").is_some_and(hex)
}

/// Counts the bytes of a stream into the transfer, and stops it when asked.
struct Counted<'a, R> {
    inner: R,
    transfer: &'a Transfer,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.transfer.cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.transfer.streamed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Read the tar `stream` into `cache` and compose the archive it held, named `display`.
pub(crate) fn ingest(
    stream: impl Read,
    display: &str,
    cache: &Cache,
    transfer: &Transfer,
    limits: &Limits,
) -> Result<Archive> {
    let counted = Counted { inner: stream, transfer };
    let mut reader = tar::Reader::new(ForwardSeek::new(counted), limits.header);
    let mut entries: Vec<(String, BlobLoc, Option<String>)> = Vec::new();
    let mut links: Vec<(String, String)> = Vec::new();
    let fail = |e: io::Error| {
        if transfer.cancelled() { Error::Cancelled } else { Error::read(display.to_string(), e) }
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let member = match reader.next_member() {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(TarError::Io(e)) => return Err(fail(e)),
            Err(TarError::TooLarge { at, what }) => {
                return Err(Error::TooLarge(format!("{display}: the tar header at byte {at} holds {what}")));
            }
            Err(e) => return Err(Error::read(display.to_string(), io::Error::other(e.to_string()))),
        };
        let name = normalize_name(&String::from_utf8_lossy(&member.path));
        if name.is_empty() {
            continue;
        }
        match member.kind {
            tar::Kind::Symlink | tar::Kind::HardLink => {
                let target = String::from_utf8_lossy(&member.link).into_owned();
                let target = if member.kind == tar::Kind::Symlink {
                    resolve_relative(&name, &target)
                } else {
                    normalize_name(&target)
                };
                links.push((name, target));
            }
            tar::Kind::Regular if member.sparse.is_none() => {
                let size = member.stored;
                let keep = worth_keeping(&name);
                if size < IN_MEMORY {
                    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    read_member(&mut reader, &mut buf, |chunk| {
                        bytes.extend_from_slice(chunk);
                        Ok(())
                    })
                    .map_err(fail)?;
                    let digest = crate::format::sha256_digest(&bytes);
                    if keep {
                        // A cache that cannot be written only costs the next open a save.
                        let _ = cache.put_blob(&digest, &bytes);
                    }
                    entries.push((name, BlobLoc::memory(Arc::from(bytes)), Some(digest)));
                } else {
                    check_space(cache, size, limits, display)?;
                    let mut file = cache.temp_file().map_err(|e| Error::io(cache.root().join("tmp"), e))?;
                    let mut hasher = Sha256::new();
                    read_member(&mut reader, &mut buf, |chunk| {
                        hasher.update(chunk);
                        file.write_all(chunk)
                    })
                    .map_err(fail)?;
                    let digest = crate::text::digest(&hasher.finalize());
                    let path =
                        cache.commit_blob(file, &digest).map_err(|e| Error::io(cache.root().join("blobs"), e))?;
                    let opened = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
                    entries.push((name, BlobLoc::file(opened, size), Some(digest)));
                }
            }
            _ => {}
        }
    }
    if entries.is_empty() {
        return Err(Error::NotAnArchive { path: display.to_string(), what: "the stream holds no files".into() });
    }
    // Podman's saves name each layer twice, the second time as a symlink.
    let link_map: std::collections::HashMap<String, String> = links.iter().cloned().collect();
    let files: std::collections::HashMap<String, usize> =
        entries.iter().enumerate().map(|(i, (n, ..))| (n.clone(), i)).collect();
    for (name, mut target) in links {
        for _ in 0..16 {
            if let Some(&i) = files.get(&target) {
                let (_, loc, digest) = entries[i].clone();
                entries.push((name, loc, digest));
                break;
            }
            match link_map.get(&target) {
                Some(next) => target.clone_from(next),
                None => break,
            }
        }
    }
    Ok(Archive::composed(display, entries))
}

fn read_member<R: Read + io::Seek>(
    reader: &mut tar::Reader<R>,
    buf: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    loop {
        let n = reader.read_data(buf)?;
        if n == 0 {
            return Ok(());
        }
        sink(&buf[..n])?;
    }
}

fn check_space(cache: &Cache, size: u64, limits: &Limits, display: &str) -> Result<()> {
    let root = cache.root();
    let _ = std::fs::create_dir_all(root);
    match crate::limits::free_space(root) {
        Some(free) if free < size.saturating_add(limits.spill_reserve) => Err(Error::TooLarge(format!(
            "{display}: its next layer needs {} in {}, which has {} free (and {} is kept free); \
             prune the cache (layerscope cache prune) or choose another with --cache-dir",
            crate::text::size(size),
            root.display(),
            crate::text::size(free),
            crate::text::size(limits.spill_reserve)
        ))),
        _ => Ok(()),
    }
}
