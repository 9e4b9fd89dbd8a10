//! Package databases: the small files the packages analysis reads (dpkg's, apk's and rpm's
//! databases, Python's `RECORD`s, node modules' `package.json`), kept while a layer is streamed (a compressed
//! layer is inflated once, when it is first read), so nothing is inflated again to reach them.

/// dpkg's status file.
pub const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// dpkg's folder of per-package file lists (`NAME.list`).
pub const DPKG_INFO: &str = "var/lib/dpkg/info";
/// distroless's dpkg status folder (a status file per package).
pub const DPKG_STATUS_D: &str = "var/lib/dpkg/status.d";
/// apk's installed database.
pub const APK_INSTALLED: &str = "lib/apk/db/installed";
/// rpm's sqlite database, where rpm (4.16 and later) keeps it.
pub const RPM_SQLITE: [&str; 2] = ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"];

/// A system database file larger than this is not kept (it is read from its layer when needed).
pub const FILE_MAX: u64 = 16 << 20;
/// rpm's database is one file for every package: kept up to this size.
pub const RPM_FILE_MAX: u64 = 64 << 20;
/// A language package's metadata file (a `RECORD`, a `package.json`) is kept up to this size.
pub const LANGUAGE_FILE_MAX: u64 = 1 << 20;
/// Bytes of system databases a layer keeps at most.
pub const LAYER_MAX: u64 = 96 << 20;
/// Bytes of language metadata a layer keeps at most (apart, so thousands of node modules never
/// crowd out dpkg's database).
pub const LANGUAGE_LAYER_MAX: u64 = 32 << 20;
/// Bytes an image keeps at most, all layers together (tiny compressed layers can expand to many
/// large files).
pub const IMAGE_MAX: u64 = 256 << 20;

/// How a kept file counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Kept up to this size.
    pub file_max: u64,
    /// Language metadata (its own per-layer budget) rather than a system database.
    pub language: bool,
}

/// How the file at `path` (normalised, no leading `/`) is kept: `None` when it is no package
/// metadata.
pub fn keep_rule(path: &[u8]) -> Option<Rule> {
    // The database, and its write-ahead log when rpm left one.
    let rpm = path.strip_suffix(b"-wal").unwrap_or(path);
    if RPM_SQLITE.iter().any(|p| rpm == p.as_bytes()) {
        Some(Rule { file_max: RPM_FILE_MAX, language: false })
    } else if is_python_record(path) || is_node_package_json(path) {
        Some(Rule { file_max: LANGUAGE_FILE_MAX, language: true })
    } else {
        worth_keeping(path).then_some(Rule { file_max: FILE_MAX, language: false })
    }
}

/// Whether the file at `path` is one of dpkg's or apk's database files.
fn worth_keeping(path: &[u8]) -> bool {
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

/// Whether `path` is a Python distribution's file list: `…/NAME-VERSION.dist-info/RECORD`.
pub fn is_python_record(path: &[u8]) -> bool {
    path.strip_suffix(b".dist-info/RECORD")
        .and_then(|dir| dir.rsplit(|&b| b == b'/').next())
        .is_some_and(|name| name.contains(&b'-'))
}

/// Whether `path` is a node module's manifest: `…node_modules/NAME/package.json` or
/// `…node_modules/@SCOPE/NAME/package.json`.
pub fn is_node_package_json(path: &[u8]) -> bool {
    let parts: Vec<&[u8]> = path.rsplit(|&b| b == b'/').take(4).collect();
    match parts.as_slice() {
        [b"package.json", _, b"node_modules", ..] => true,
        [b"package.json", _, scope, b"node_modules"] => scope.starts_with(b"@"),
        _ => false,
    }
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
            "var/lib/rpm/rpmdb.sqlite",
            "var/lib/rpm/rpmdb.sqlite-wal",
            "usr/lib/python3.11/site-packages/requests-2.31.0.dist-info/RECORD",
            "app/node_modules/express/package.json",
            "app/node_modules/@types/node/package.json",
            "app/node_modules/a/node_modules/b/package.json",
        ] {
            assert!(keep_rule(kept.as_bytes()).is_some(), "{kept}");
        }
        for other in [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/info/git.md5sums",
            "var/lib/dpkg/info/sub/x.list",
            "var/lib/dpkg/info/",
            "usr/bin/git",
            "lib/apk/db/installed.bak",
            "app/package.json",
            "app/node_modules/express/lib/package.json",
            "app/node_modules/@types/node/ts/package.json",
            "usr/lib/python3/RECORD",
            "x/nodash.dist-info/RECORD",
            "var/lib/rpm/Packages",
        ] {
            assert_eq!(keep_rule(other.as_bytes()), None, "{other}");
        }
    }
}
