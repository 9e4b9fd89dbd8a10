//! Package databases: the small files the packages analysis reads, kept while a layer is streamed
//! (a compressed layer is inflated once, when it is first read), so nothing is inflated again
//! to reach them.

/// dpkg's status file.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// dpkg's folder of per-package file lists (`NAME.list`).
pub const DPKG_INFO: &str = "var/lib/dpkg/info";
/// distroless's dpkg status folder (a status file per package).
pub const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d";
/// apk's installed database.
pub const APK_INSTALLED: &str = "lib/apk/db/installed";

/// A file larger than this is not kept (it is read from its layer when needed).
pub const FILE_MAX: u64 = 16 << 20;
/// Bytes a layer keeps at most.
pub const LAYER_MAX: u64 = 64 << 20;

/// Whether the file at `path` (normalised, no leading `/`) is package metadata worth keeping.
pub fn worth_keeping(path: &[u8]) -> bool {
    let in_dir = |dir: &str| {
        path.strip_prefix(dir.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"/"))
            .is_some_and(|name| !name.is_empty() && !name.contains(&b'/'))
    };
    path == DPKG_STATUS.as_bytes()
        || path == APK_INSTALLED.as_bytes()
        || (in_dir(DPKG_INFO) && path.ends_with(b".list"))
        || in_dir(DPKG_STATUS_D)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_databases_are_kept_and_nothing_else() {
        for kept in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/info/git.list",
            "var/lib/dpkg/info/libssl3:amd64.list",
            "var/lib/dpkg/status.d/base",
            "var/lib/dpkg/status.d/base.md5sums",
            "lib/apk/db/installed",
        ] {
            assert!(worth_keeping(kept.as_bytes()), "{kept}");
        }
        for other in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/info/git.md5sums",
            "var/lib/dpkg/info/sub/x.list",
            "var/lib/dpkg/info/",
            "usr/bin/git",
            "lib/apk/db/installed.bak",
        ] {
            assert!(!worth_keeping(other.as_bytes()), "{other}");
        }
    }
}
