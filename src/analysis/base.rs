//! Which layers come from the base (FROM) image, what OS it is, and which slimmer bases would do.

use serde::{Deserialize, Serialize};

use super::needs::{Libc, Needs, needs};
use crate::image::{Image, clean_command};
use crate::tree::{EntryId, State};

/// How the base layers were found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseMethod {
    /// `--base-layers N`.
    Flag,
    /// The first layers match a known base image's DiffIDs (assets/bases.json).
    Catalog,
    /// buildah/podman write `FROM <id>` in the comment of the first step built on the base.
    HistoryFromComment,
    /// The base image's last CMD/ENTRYPOINT, followed by the user's layers.
    HistoryCmd,
    /// A gap of more than an hour between the base's and the user's build times.
    HistoryTimeGap,
    /// Nothing better: the first layer, as dive assumes.
    FirstLayer,
}

/// The operating system of the base.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// `ID` from os-release (`debian`, `alpine`...), or `busybox`.
    pub id: String,
    /// `VERSION_ID`, when known.
    pub version: Option<String>,
    /// `PRETTY_NAME`, when known.
    pub name: Option<String>,
}

/// A slimmer base that could replace the detected one.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Suggestion {
    /// Image reference, e.g. `python:3.12-slim`.
    pub name: String,
    /// Its approximate uncompressed size.
    pub approx_size_bytes: u64,
    /// Detected base size − that (approximate).
    pub saving_bytes: u64,
    /// What to watch out for.
    pub caveat: String,
    /// Whether it provides what the image needs (see [`BaseImage::needs`]).
    pub fits: bool,
    /// What would have to change to use it (empty when it fits).
    pub changes: Vec<String>,
    /// How the saving was estimated.
    pub estimate: String,
}

/// The base image as detected.
#[derive(Clone, Debug, Serialize)]
pub struct BaseImage {
    /// Number of layers from the base: layers `0..layers`.
    pub layers: usize,
    /// Their indexes.
    pub layer_indexes: Vec<usize>,
    /// How they were found.
    pub method: BaseMethod,
    /// Σ sizes of the base layers.
    pub size_bytes: u64,
    /// The known image the layers match, or the family guessed from the files and config.
    pub name: Option<String>,
    /// `org.opencontainers.image.base.name`, when the builder recorded it.
    pub annotated_name: Option<String>,
    /// The OS found in the base layers.
    pub os: Option<OsInfo>,
    /// What the image needs from a base.
    pub needs: Needs,
    /// Slimmer bases: those that fit first, then the largest saving first.
    pub suggestions: Vec<Suggestion>,
}

/// assets/bases.json.
#[derive(Debug, Deserialize)]
struct Catalog {
    images: Vec<CatalogImage>,
    known_layers: Vec<KnownLayers>,
}

#[derive(Debug, Deserialize)]
struct CatalogImage {
    name: String,
    approx_size_bytes: u64,
    /// Base families this image can stand in for.
    replaces: Vec<String>,
    caveat: String,
    /// What it provides, to judge whether it fits.
    provides: Provides,
    /// Where `approx_size_bytes` came from.
    size_source: String,
}

#[derive(Debug, Deserialize)]
struct Provides {
    /// `glibc`, `musl` or `none`.
    libc: String,
    shell: bool,
    package_manager: Option<String>,
}

#[derive(Debug, Deserialize)]
struct KnownLayers {
    name: String,
    diff_ids: Vec<String>,
}

const CATALOG: &str = include_str!("../../assets/bases.json");

fn catalog() -> Catalog {
    // The catalog is part of the binary and checked by a unit test.
    serde_json::from_str(CATALOG).unwrap_or(Catalog { images: Vec::new(), known_layers: Vec::new() })
}

pub(crate) fn detect(image: &Image, flag: Option<usize>) -> BaseImage {
    let catalog = catalog();
    let n = image.layers.len();
    let (layers, method, known) = match flag {
        Some(k) => (k.min(n), BaseMethod::Flag, None),
        None => match from_catalog(image, &catalog) {
            Some((k, name)) => (k, BaseMethod::Catalog, Some(name)),
            None => {
                let (k, m) = from_history(image).unwrap_or((n.min(1), BaseMethod::FirstLayer));
                (k, m, None)
            }
        },
    };
    let size_bytes = image.layers.iter().take(layers).map(|l| l.size_bytes).sum();
    let os = detect_os(image, layers);
    let family = known.clone().or_else(|| guess_family(image, os.as_ref()));
    let needs = needs(image, layers);
    let suggestions = family.as_deref().map(|f| suggest(&catalog, f, size_bytes, &needs)).unwrap_or_default();
    BaseImage {
        layers,
        layer_indexes: (0..layers).collect(),
        method,
        size_bytes,
        name: family,
        annotated_name: image.annotations.get("org.opencontainers.image.base.name").cloned(),
        os,
        needs,
        suggestions,
    }
}

/// The longest known base whose DiffIDs start the image.
fn from_catalog(image: &Image, catalog: &Catalog) -> Option<(usize, String)> {
    catalog
        .known_layers
        .iter()
        .filter(|k| {
            !k.diff_ids.is_empty()
                && k.diff_ids.len() <= image.layers.len()
                && k.diff_ids.iter().zip(&image.layers).all(|(d, l)| l.diff_id.as_deref() == Some(d.as_str()))
        })
        .max_by_key(|k| k.diff_ids.len())
        .map(|k| (k.diff_ids.len(), k.name.clone()))
}

/// History heuristics; `None` when the history says nothing useful.
fn from_history(image: &Image) -> Option<(usize, BaseMethod)> {
    let history = &image.config.history;
    // Number of layers made by the history entries before position `i`.
    let layers_before = |i: usize| history[..i].iter().filter(|h| !h.is_empty_layer()).count();
    let total_layers = image.layers.len();
    let valid = |k: usize| (k > 0 && k < total_layers).then_some(k);

    if let Some(i) = history.iter().position(|h| h.comment.as_deref().is_some_and(|c| c.starts_with("FROM ")))
        && let Some(k) = valid(layers_before(i))
    {
        return Some((k, BaseMethod::HistoryFromComment));
    }
    // The base's own CMD/ENTRYPOINT, with user layers after it.
    let is_cmd = |h: &crate::format::History| {
        let c = clean_command(h.created_by.as_deref().unwrap_or(""));
        let c = c.trim_start().trim_start_matches("#(nop)").trim_start();
        h.is_empty_layer() && (c.starts_with("CMD") || c.starts_with("ENTRYPOINT"))
    };
    let last_cmd = history
        .iter()
        .enumerate()
        .rev()
        .find(|(i, h)| is_cmd(h) && history[i + 1..].iter().any(|h| !h.is_empty_layer()))
        .map(|(i, _)| i);
    if let Some(k) = last_cmd.and_then(|i| valid(layers_before(i))) {
        return Some((k, BaseMethod::HistoryCmd));
    }
    // A build-time gap: the user's steps run minutes apart, the base was built long before.
    let times: Vec<Option<i64>> =
        history.iter().filter(|h| !h.is_empty_layer()).map(|h| h.created.as_deref().and_then(parse_rfc3339)).collect();
    let mut boundary = None;
    for k in (1..times.len().min(total_layers)).rev() {
        if let (Some(a), Some(b)) = (times[k - 1], times[k])
            && b - a > 3600
        {
            boundary = Some(k);
            break;
        }
    }
    boundary.and_then(valid).map(|k| (k, BaseMethod::HistoryTimeGap))
}

/// Seconds since the epoch of an RFC 3339 time (`2024-01-01T00:00:00.123Z`, `+02:00` offsets; a
/// time without an offset is taken as UTC, as engines mean it).
fn parse_rfc3339(s: &str) -> Option<i64> {
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t.as_second()),
        Err(_) => s
            .parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_second()),
    }
}

/// Read a small file as it is after layer `upto - 1` (or in the final image when `upto` is 0).
fn file_after(image: &Image, path: &str, upto: usize) -> Option<String> {
    let node = image.tree.lookup(path.as_bytes())?;
    let layer = upto.checked_sub(1).or(image.top_layer())?;
    let State::Present { entry: Some(id), .. } = image.tree.state_at(node, Some(layer)) else { return None };
    let id: EntryId = follow_symlink(image, id, layer)?;
    let bytes = image.read_content_kept(id, 64 * 1024).ok()??;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// os-release is often a symlink to ../usr/lib/os-release.
fn follow_symlink(image: &Image, id: EntryId, layer: usize) -> Option<EntryId> {
    let tree = &image.tree;
    let mut id = id;
    for _ in 0..8 {
        let e = tree.entry(id);
        if e.kind != crate::layer::EntryKind::Symlink {
            return Some(id);
        }
        let target = tree.link(e)?;
        let base = if target.starts_with(b"/") {
            Vec::new()
        } else {
            let mut p = tree.path(tree.parent(e.node));
            p.push(b'/');
            p
        };
        let mut joined = base;
        joined.extend_from_slice(target);
        let mut normal = Vec::new();
        crate::layer::path::normalize(&joined, &mut normal);
        let node = tree.lookup(&normal)?;
        let State::Present { entry: Some(next), .. } = tree.state_at(node, Some(layer)) else { return None };
        id = next;
    }
    None
}

fn detect_os(image: &Image, base_layers: usize) -> Option<OsInfo> {
    let release = file_after(image, "etc/os-release", base_layers)
        .or_else(|| file_after(image, "usr/lib/os-release", base_layers));
    if let Some(text) = release {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        };
        if let Some(id) = field("ID") {
            return Some(OsInfo { id, version: field("VERSION_ID"), name: field("PRETTY_NAME") });
        }
    }
    if let Some(v) = file_after(image, "etc/alpine-release", base_layers) {
        return Some(OsInfo { id: "alpine".into(), version: Some(v.trim().to_string()), name: None });
    }
    let layer = base_layers.checked_sub(1).or(image.top_layer())?;
    let has = |p: &str| {
        image
            .tree
            .lookup(p.as_bytes())
            .is_some_and(|n| matches!(image.tree.state_at(n, Some(layer)), State::Present { .. }))
    };
    has("bin/busybox").then(|| OsInfo { id: "busybox".into(), version: None, name: None })
}

/// The catalog family of the base, from the config's environment and the OS.
fn guess_family(image: &Image, os: Option<&OsInfo>) -> Option<String> {
    let env: Vec<&str> =
        image.config.config.as_ref().map(|c| c.env.iter().map(String::as_str).collect()).unwrap_or_default();
    let has_env = |k: &str| env.iter().any(|e| e.starts_with(k));
    let os_id = os.map(|o| o.id.as_str());
    let alpine = os_id == Some("alpine");
    let runtime = if has_env("PYTHON_VERSION=") {
        Some("python")
    } else if has_env("NODE_VERSION=") {
        Some("node")
    } else if has_env("GOLANG_VERSION=") {
        Some("golang")
    } else if has_env("JAVA_VERSION=") || has_env("JAVA_HOME=") {
        Some("java")
    } else {
        None
    };
    let family = match (runtime, os_id) {
        (Some(r), _) if alpine => format!("{r}-alpine"),
        (Some(r), _) => r.to_string(),
        (None, Some("debian")) => "debian".into(),
        (None, Some("ubuntu")) => "ubuntu".into(),
        (None, Some("alpine")) => "alpine".into(),
        (None, Some("busybox")) => "busybox".into(),
        _ => return None,
    };
    Some(family)
}

/// Slimmer bases for a base of `family` (`python`, `debian`...) that is `base_size` bytes, for an
/// image that needs `needs`.
pub fn suggest_for(family: &str, base_size: u64, needs: &Needs) -> Vec<Suggestion> {
    suggest(&catalog(), family, base_size, needs)
}

/// What would have to change for an image that needs `needs` to run on a base providing
/// `provides`.
fn changes_for(needs: &Needs, provides: &Provides) -> Vec<String> {
    let mut changes = Vec::new();
    let evidence = needs.libc_evidence.as_deref().unwrap_or("");
    match (needs.libc, provides.libc.as_str()) {
        (Some(Libc::Glibc), "musl") => changes.push(format!("musl instead of glibc, and {evidence}")),
        (Some(Libc::Musl), "glibc") => changes.push(format!("glibc instead of musl, and {evidence}")),
        (Some(Libc::Glibc | Libc::Musl), "none") => changes.push(format!("no C library, and {evidence}")),
        _ => {}
    }
    if let Some(why) = &needs.shell
        && !provides.shell
    {
        changes.push(format!("no shell, and {why}"));
    }
    if let Some(pm) = &needs.package_manager {
        let (manager, step) = (&pm.name, &pm.step);
        match &provides.package_manager {
            Some(m) if m == manager => {}
            Some(m) => changes.push(format!("{m} instead of {manager}, and your build runs `{step}`")),
            None => changes.push(format!("no package manager, and your build runs `{step}`")),
        }
    }
    changes
}

/// Bases of the same family (or its lighter relatives) smaller than what the image has now:
/// those that fit what it needs first, then by saving.
fn suggest(catalog: &Catalog, family: &str, base_size: u64, needs: &Needs) -> Vec<Suggestion> {
    let family_root = family.split('-').next().unwrap_or(family);
    let mut out: Vec<Suggestion> = catalog
        .images
        .iter()
        .filter(|c| c.replaces.iter().any(|r| r == family_root || r == family))
        // Suggest only what saves at least a tenth of the base.
        .filter(|c| c.approx_size_bytes < base_size && base_size - c.approx_size_bytes >= base_size / 10)
        .map(|c| {
            let changes = changes_for(needs, &c.provides);
            Suggestion {
                name: c.name.clone(),
                approx_size_bytes: c.approx_size_bytes,
                saving_bytes: base_size - c.approx_size_bytes,
                caveat: c.caveat.clone(),
                fits: changes.is_empty(),
                changes,
                estimate: format!(
                    "your base layers' {} bytes less its {} ({})",
                    base_size, c.approx_size_bytes, c.size_source
                ),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.fits.cmp(&a.fits).then_with(|| b.saving_bytes.cmp(&a.saving_bytes)).then_with(|| a.name.cmp(&b.name))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses() {
        let c: Catalog = serde_json::from_str(CATALOG).unwrap();
        assert!(c.images.len() >= 15);
        assert!(c.images.iter().all(|i| i.approx_size_bytes > 0 && !i.caveat.is_empty()));
        // Every known layer says where its DiffIDs were read and how the base was confirmed.
        let raw: serde_json::Value = serde_json::from_str(CATALOG).unwrap();
        let known = raw["known_layers"].as_array().unwrap();
        assert_eq!(known.len(), c.known_layers.len());
        assert!(known.iter().all(|k| k["verified_by"].as_str().is_some_and(|v| !v.is_empty())), "{known:?}");
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00.123456789Z"), Some(1_704_067_200));
        assert_eq!(parse_rfc3339("2024-01-01T02:00:00+02:00"), Some(1_704_067_200));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00"), Some(1_704_067_200), "no offset: UTC");
    }

    #[test]
    fn suggests_smaller_relatives() {
        let c: Catalog = serde_json::from_str(CATALOG).unwrap();
        let any = Needs::default();
        let s = suggest(&c, "python", 1_000_000_000, &any);
        assert!(s.iter().any(|s| s.name.contains("slim")));
        assert!(s.windows(2).all(|w| w[0].saving_bytes >= w[1].saving_bytes));
        let alpine: Vec<_> = suggest(&c, "alpine", 8_000_000, &any).into_iter().map(|s| s.name).collect();
        assert_eq!(alpine, ["gcr.io/distroless/static-debian12"], "only static binaries get smaller than alpine");
        assert!(suggest(&c, "debian", 1_000_000, &any).is_empty(), "nothing is smaller than a 1 MB base");
    }

    #[test]
    fn what_fits_comes_first() {
        let c: Catalog = serde_json::from_str(CATALOG).unwrap();
        // A Debian image running bash, its build steps using apt.
        let debian = Needs {
            libc: Some(Libc::Glibc),
            libc_evidence: Some("the ELF interpreter of /usr/bin/bash is /lib64/ld-linux-x86-64.so.2".into()),
            shell: Some("it runs bash".into()),
            package_manager: Some(super::super::needs::PackageManager {
                name: "apt".into(),
                step: "apt-get install -y git".into(),
            }),
            runtimes: vec!["python3".into()],
        };
        let s = suggest(&c, "debian", 116_000_000, &debian);
        assert_eq!(s[0].name, "debian:bookworm-slim");
        assert!(s[0].fits && s[0].changes.is_empty());
        let distroless = s.iter().find(|s| s.name.ends_with("static-debian12")).unwrap();
        assert!(!distroless.fits);
        assert!(distroless.changes.iter().any(|c| c.starts_with("no shell, and it runs bash")), "{distroless:?}");
        assert!(distroless.changes.iter().any(|c| c.starts_with("no C library")), "{distroless:?}");
        let alpine = s.iter().find(|s| s.name.starts_with("alpine")).unwrap();
        assert!(alpine.changes.iter().any(|c| c.starts_with("musl instead of glibc")), "{alpine:?}");
        assert!(alpine.changes.iter().any(|c| c.starts_with("apk instead of apt")), "{alpine:?}");
        // A static Go binary needs nothing: the smallest base fits.
        let go = Needs { libc: Some(Libc::None), ..Needs::default() };
        assert_eq!(suggest(&c, "debian", 116_000_000, &go)[0].name, "gcr.io/distroless/static-debian12");
    }
}
