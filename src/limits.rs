//! Bounds on the disk, memory and time any input may cost, whatever it claims. The README's
//! "Security and limits" section gives the same numbers and what happens at each.

/// Every bound, with defaults a real image never reaches.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes written to the temporary file that stdin, a FIFO or a compressed archive is
    /// inflated into (`--max-spill`).
    pub spill_bytes: u64,
    /// Free space spilling leaves on the temporary directory's file system.
    pub spill_reserve: u64,
    /// A layer may inflate to this many times its blob (`--max-inflate`), sparse holes included…
    pub inflate_ratio: u64,
    /// …or to this many bytes, whichever is more…
    pub inflate_floor: u64,
    /// …but never to more than this (`--max-layer-size`).
    pub layer_bytes: u64,
    /// Long names, PAX records, sparse maps and path lengths.
    pub header: HeaderLimits,
    /// Warnings kept of each kind; the rest are counted.
    pub warnings_per_kind: usize,
    /// Nested OCI indexes followed.
    pub index_depth: usize,
    /// Manifests and indexes read from one OCI layout.
    pub index_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            spill_bytes: 64 << 30,
            spill_reserve: 1 << 30,
            inflate_ratio: 1000,
            inflate_floor: 1 << 30,
            layer_bytes: 1 << 40,
            header: HeaderLimits::default(),
            warnings_per_kind: 100,
            index_depth: 8,
            index_nodes: 10_000,
        }
    }
}

impl Limits {
    /// How many bytes a layer stored in `blob_bytes` may expand to.
    pub fn inflate_budget(&self, blob_bytes: u64) -> u64 {
        blob_bytes.saturating_mul(self.inflate_ratio).max(self.inflate_floor).min(self.layer_bytes)
    }
}

/// Bytes an unprivileged writer may still put on the file system holding `path` (`None` where
/// the platform cannot say).
pub fn free_space(path: &std::path::Path) -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::fs::statvfs(path).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// [`free_space`] of the file system holding an open file.
pub fn free_space_of(file: &std::fs::File) -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::fs::fstatvfs(file).ok().map(|s| s.f_bavail.saturating_mul(s.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        None
    }
}

/// Bounds on what headers may make the reader hold.
#[derive(Clone, Copy, Debug)]
pub struct HeaderLimits {
    /// Most bytes of one GNU long name, long link, PAX record set or sparse map.
    pub extension_bytes: u64,
    /// Longest member path or link target, in bytes.
    pub path_bytes: usize,
}

impl Default for HeaderLimits {
    fn default() -> Self {
        HeaderLimits { extension_bytes: 1 << 20, path_bytes: 4096 }
    }
}
