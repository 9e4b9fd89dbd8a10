//! Where wasted bytes come from, in Dockerfile terms: the package manager's lists and caches, a
//! language tool's cache, documentation, a `.git` brought in by COPY, a chmod/chown copy-up, a
//! file made and removed in separate steps. Each source comes with the fix as a line to write.

use serde::{Deserialize, Serialize};

use super::waste::Cause;

/// A known source of waste.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// apt's package lists (`/var/lib/apt/lists`).
    AptLists,
    /// apt's downloaded packages and caches (`/var/cache/apt`).
    AptCache,
    /// apk's cache (`/var/cache/apk`).
    ApkCache,
    /// dnf's and yum's caches.
    DnfCache,
    /// pip's cache (`~/.cache/pip`).
    PipCache,
    /// poetry's and uv's caches.
    PythonToolCache,
    /// npm's, yarn's and pnpm's caches and stores.
    NodeCache,
    /// Go's build and module caches.
    GoCache,
    /// Cargo's registry and git checkouts.
    CargoCache,
    /// Maven's and Gradle's caches.
    JvmBuildCache,
    /// Documentation, manual pages, locales.
    Docs,
    /// A version-control folder (`.git`, `.hg`, `.svn`).
    Vcs,
    /// A container's writable layer copied a file up to change it.
    ContainerCopyUp,
    /// A later chmod/chown (or touch) shipped the same bytes again.
    PermissionCopyUp,
    /// Other bytes deleted in a later step than the one that made them.
    DeletedLater,
    /// Other bytes replaced by other content later.
    Overwritten,
}

/// A source's wasted bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceWaste {
    /// Which source.
    pub source: Source,
    /// It in words, with what happened: "apt lists deleted in a later step".
    pub label: String,
    /// Wasted bytes.
    pub bytes: u64,
    /// Copies of files wasted.
    pub files: u64,
    /// Layers that shipped them.
    pub shipped_by: Vec<usize>,
    /// Layers that hid them.
    pub hidden_by: Vec<usize>,
    /// The fix, as a Dockerfile line or habit.
    pub fix: String,
}

/// Folder prefixes (of relative paths) that name a source; the first that matches wins.
const PREFIXES: [(&str, Source); 22] = [
    ("var/lib/apt/lists/", Source::AptLists),
    ("var/cache/apt/", Source::AptCache),
    ("var/cache/apk/", Source::ApkCache),
    ("etc/apk/cache/", Source::ApkCache),
    ("var/cache/dnf/", Source::DnfCache),
    ("var/cache/yum/", Source::DnfCache),
    ("usr/share/doc/", Source::Docs),
    ("usr/share/man/", Source::Docs),
    ("usr/share/info/", Source::Docs),
    ("usr/share/locale/", Source::Docs),
    ("usr/local/share/.cache/yarn/", Source::NodeCache),
    ("root/go/pkg/mod/", Source::GoCache),
    ("go/pkg/mod/", Source::GoCache),
    ("usr/local/cargo/registry/", Source::CargoCache),
    ("usr/local/cargo/git/", Source::CargoCache),
    ("root/.m2/repository/", Source::JvmBuildCache),
    ("root/.gradle/caches/", Source::JvmBuildCache),
    ("root/.npm/", Source::NodeCache),
    ("root/.cargo/registry/", Source::CargoCache),
    ("root/.cache/pip/", Source::PipCache),
    ("root/.cache/go-build/", Source::GoCache),
    ("tmp/", Source::DeletedLater),
];

/// Folder names anywhere in a path that name a source (a user's home, a project folder).
const SEGMENTS: [(&str, Source); 12] = [
    (".git", Source::Vcs),
    (".hg", Source::Vcs),
    (".svn", Source::Vcs),
    ("pip", Source::PipCache),
    ("pypoetry", Source::PythonToolCache),
    ("uv", Source::PythonToolCache),
    (".npm", Source::NodeCache),
    ("yarn", Source::NodeCache),
    (".pnpm-store", Source::NodeCache),
    ("go-build", Source::GoCache),
    (".m2", Source::JvmBuildCache),
    (".gradle", Source::JvmBuildCache),
];

/// The source a wasted copy at `path` (relative, `/`-separated) comes from, given its cause and
/// whether a container's writable layer hid it.
pub fn source_of(path: &str, cause: Cause, by_container: bool) -> Source {
    let dir = path.rfind('/').map_or("", |i| &path[..=i]);
    source_in(folder_source(dir), cause, by_container)
}

/// The source a folder (relative, ending in `/`, or empty for the root) names, if any: what
/// every file in it is.
pub fn folder_source(dir: &str) -> Option<Source> {
    PREFIXES.iter().find(|(p, _)| dir.starts_with(p)).map(|(_, s)| *s).or_else(|| {
        let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        SEGMENTS.iter().find_map(|(name, source)| {
            // Caches live under a `.cache` folder; the VCS folders are names of their own.
            let found = match source {
                Source::PipCache | Source::PythonToolCache | Source::GoCache => {
                    parts.windows(2).any(|w| w[0] == ".cache" && w[1] == *name)
                }
                Source::NodeCache if *name == "yarn" => parts.windows(2).any(|w| w[0] == ".cache" && w[1] == "yarn"),
                _ => parts.contains(name),
            };
            found.then_some(*source)
        })
    })
}

/// The source a wasted path of the per-path list (a file, or a deleted folder) belongs to: as
/// [`by_source`] files the copies in it, by the folder and the main cause; `container` is the
/// layer that is a container's writable one.
pub fn source_of_path(w: &super::WastePath, container: Option<usize>) -> Source {
    let inside = format!("{}/", w.path.trim_start_matches('/'));
    let by_container = container.is_some_and(|c| w.hidden_by.contains(&c));
    source_in(folder_source(&inside), w.cause, by_container)
}

/// The source of a wasted copy in a folder that names `known`, by its cause.
pub fn source_in(known: Option<Source>, cause: Cause, by_container: bool) -> Source {
    if by_container {
        return Source::ContainerCopyUp;
    }
    match (known, cause) {
        (Some(Source::DeletedLater) | None, Cause::Deleted) => Source::DeletedLater,
        (Some(Source::DeletedLater) | None, Cause::MetadataOnly) => Source::PermissionCopyUp,
        (Some(Source::DeletedLater) | None, Cause::Overwritten) => Source::Overwritten,
        (Some(s), _) => s,
    }
}

/// The wasted copies of `copies` ((folder source, cause, bytes, shipped, hidden) each) by
/// source, largest first; `container` is the layer that is a container's writable one.
pub fn by_source(
    copies: impl Iterator<Item = (Option<Source>, Cause, u64, usize, usize)>,
    container: Option<usize>,
) -> Vec<SourceWaste> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Sum {
        bytes: u64,
        files: u64,
        causes: super::waste::Causes,
        shipped: std::collections::BTreeSet<usize>,
        hidden: std::collections::BTreeSet<usize>,
    }
    let mut sums: BTreeMap<Source, Sum> = BTreeMap::new();
    for (known, cause, bytes, shipped, hidden) in copies {
        let source = source_in(known, cause, container == Some(hidden));
        let sum = sums.entry(source).or_default();
        sum.bytes += bytes;
        sum.files += 1;
        sum.causes.add(cause, bytes);
        sum.shipped.insert(shipped);
        sum.hidden.insert(hidden);
    }
    let mut out: Vec<SourceWaste> = sums
        .into_iter()
        .filter(|(_, s)| s.bytes > 0)
        .map(|(source, s)| {
            let cause = super::waste::Cause::ALL.into_iter().max_by_key(|c| s.causes.of(*c)).unwrap_or(Cause::Deleted);
            SourceWaste {
                source,
                label: source.label(cause),
                bytes: s.bytes,
                files: s.files,
                shipped_by: s.shipped.into_iter().collect(),
                hidden_by: s.hidden.into_iter().collect(),
                fix: source.fix().to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.source.cmp(&b.source)));
    out
}

impl Source {
    /// What it is, in words.
    pub fn name(self) -> &'static str {
        match self {
            Source::AptLists => "apt lists",
            Source::AptCache => "apt's package cache",
            Source::ApkCache => "apk's cache",
            Source::DnfCache => "dnf/yum caches",
            Source::PipCache => "pip's cache",
            Source::PythonToolCache => "poetry/uv caches",
            Source::NodeCache => "npm/yarn/pnpm caches",
            Source::GoCache => "Go build and module caches",
            Source::CargoCache => "Cargo's registry",
            Source::JvmBuildCache => "Maven/Gradle caches",
            Source::Docs => "documentation, manual pages and locales",
            Source::Vcs => "a version-control folder",
            Source::ContainerCopyUp => "files the container copied up to change",
            Source::PermissionCopyUp => "files shipped again by a later chmod, chown or touch",
            Source::DeletedLater => "files deleted in a later step than the one that made them",
            Source::Overwritten => "files replaced by other content in a later step",
        }
    }

    /// The fix, in Dockerfile terms.
    pub fn fix(self) -> &'static str {
        match self {
            Source::AptLists => {
                "RUN apt-get update && apt-get install -y --no-install-recommends … && rm -rf /var/lib/apt/lists/* (one RUN)"
            }
            Source::AptCache => {
                "RUN apt-get install -y --no-install-recommends … && apt-get clean (in the RUN that installs)"
            }
            Source::ApkCache => "RUN apk add --no-cache …",
            Source::DnfCache => "RUN dnf install -y … && dnf clean all (one RUN)",
            Source::PipCache => "RUN pip install --no-cache-dir …",
            Source::PythonToolCache => "RUN --mount=type=cache,target=/root/.cache … (or poetry/uv with --no-cache)",
            Source::NodeCache => {
                "RUN npm ci && npm cache clean --force (one RUN), or RUN --mount=type=cache,target=/root/.npm"
            }
            Source::GoCache => "a multi-stage build: build in a golang stage, COPY --from=build only the binary",
            Source::CargoCache => "a multi-stage build, or RUN --mount=type=cache,target=/usr/local/cargo/registry",
            Source::JvmBuildCache => "a multi-stage build: build with Maven/Gradle in one stage, copy the jar",
            Source::Docs => {
                "remove them in the RUN that installs them, or exclude them (/etc/dpkg/dpkg.cfg.d path-exclude)"
            }
            Source::Vcs => "add .git to .dockerignore",
            Source::ContainerCopyUp => super::waste::CONTAINER_FIX,
            Source::PermissionCopyUp => "COPY --chown=… --chmod=… (or set them in the RUN that creates the files)",
            Source::DeletedLater => "remove them in the RUN that creates them, or build in a separate stage",
            Source::Overwritten => "produce the final version in one step instead of replacing it later",
        }
    }

    /// It in words with what happened to it.
    pub fn label(self, cause: Cause) -> String {
        match (self, cause) {
            (Source::ContainerCopyUp | Source::PermissionCopyUp | Source::DeletedLater | Source::Overwritten, _) => {
                self.name().to_string()
            }
            (_, Cause::Deleted) => format!("{} deleted in a later step", self.name()),
            (_, Cause::Overwritten) => format!("{} replaced in a later step", self.name()),
            (_, Cause::MetadataOnly) => format!("{} shipped again", self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_path_and_cause() {
        let s = |p, c| source_of(p, c, false);
        assert_eq!(s("var/lib/apt/lists/deb.debian.org_Packages", Cause::Deleted), Source::AptLists);
        assert_eq!(s("var/cache/apt/archives/git.deb", Cause::Deleted), Source::AptCache);
        assert_eq!(s("home/app/.cache/pip/http/x", Cause::Deleted), Source::PipCache);
        assert_eq!(s("src/app/.git/objects/ab/cd", Cause::Deleted), Source::Vcs);
        assert_eq!(s("usr/lib/python3.11/os.py", Cause::MetadataOnly), Source::PermissionCopyUp);
        assert_eq!(s("tmp/big.bin", Cause::Deleted), Source::DeletedLater);
        assert_eq!(s("app/config.ini", Cause::Overwritten), Source::Overwritten);
        assert_eq!(source_of("app/big.bin", Cause::Overwritten, true), Source::ContainerCopyUp);
        // A folder named like a tool outside a cache is not its cache.
        assert_eq!(s("usr/lib/python3/dist-packages/pip/x.py", Cause::Deleted), Source::DeletedLater);
    }
}
