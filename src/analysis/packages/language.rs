//! Language packages, where their own metadata says which files they own: Python distributions
//! (`NAME-VERSION.dist-info/RECORD`, as pip, uv and poetry install them) and node modules
//! (`node_modules/[@scope/]NAME/package.json`: the folder is the package, nested
//! `node_modules` aside).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{History, Record, writes};
use crate::image::Image;
use crate::layer::EntryKind;
use crate::layer::kept::{is_node_package_json, is_python_record};
use crate::tree::{EntryId, NodeId, State, Tree};

/// pip's name in the packages list (any Python installer writes the same metadata).
pub const PIP: &str = "pip";
/// npm's (yarn and pnpm write the same `package.json` files).
pub const NPM: &str = "npm";

/// A language package's metadata file, anywhere in any layer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Metadata {
    /// [`PIP`] or [`NPM`].
    pub manager: &'static str,
    /// The `RECORD` or `package.json` node.
    pub node: NodeId,
}

/// Every language package metadata file the tree has held.
pub(super) fn metadata(tree: &Tree) -> Vec<Metadata> {
    metadata_files(tree).collect()
}

/// The language package metadata files, one by one (to ask whether there is any, the first will do).
pub(super) fn metadata_files(tree: &Tree) -> impl Iterator<Item = Metadata> + '_ {
    (0..tree.node_count()).filter_map(move |i| {
        let node = NodeId(u32::try_from(i).unwrap_or(u32::MAX));
        let name = tree.name(node);
        // Most nodes are neither: test the name before building the path.
        if name != b"RECORD" && name != b"package.json" {
            return None;
        }
        let path = tree.path(node);
        if is_python_record(&path) {
            Some(Metadata { manager: PIP, node })
        } else if is_node_package_json(&path) {
            Some(Metadata { manager: NPM, node })
        } else {
            None
        }
    })
}

/// Each manager's packages after every layer that wrote one of its metadata files; the last
/// state's records list their files. `contents` holds the files `writes` names.
pub(super) fn histories(
    image: &Image,
    found: &[Metadata],
    contents: &HashMap<EntryId, Cow<'_, [u8]>>,
    top: usize,
) -> Vec<(&'static str, History)> {
    let tree = &image.tree;
    let mut out = Vec::new();
    for manager in [PIP, NPM] {
        let nodes: Vec<NodeId> = found.iter().filter(|m| m.manager == manager).map(|m| m.node).collect();
        if nodes.is_empty() {
            continue;
        }
        let layers: BTreeSet<usize> = nodes.iter().flat_map(|&n| writes(image, n)).map(|(l, _)| l).collect();
        let mut history = History::new();
        // A file most layers leave alone is parsed once: its name and version, by entry (the
        // last state alone needs the files).
        let mut known: HashMap<EntryId, Option<(String, String)>> = HashMap::new();
        for &layer in &layers {
            let last = layer == *layers.last().unwrap_or(&layer);
            let mut state: BTreeMap<String, Record> = BTreeMap::new();
            for &node in &nodes {
                let State::Present { entry: Some(id), .. } = tree.state_at(node, Some(layer)) else { continue };
                let Some(bytes) = contents.get(&id) else { continue };
                let parse = |with_files: bool| {
                    if manager == PIP {
                        python(tree, node, bytes, with_files)
                    } else {
                        node_module(tree, node, bytes, top, with_files)
                    }
                };
                let parsed = if last {
                    parse(true)
                } else {
                    known
                        .entry(id)
                        .or_insert_with(|| parse(false).map(|(name, r)| (name, r.version)))
                        .clone()
                        .map(|(name, version)| (name, Record { version, ..Record::default() }))
                };
                let Some((name, record)) = parsed else { continue };
                // The same name twice (node's nested copies at other versions): each version is
                // a package of its own.
                let key = match state.get(&name) {
                    Some(r) if r.version != record.version => format!("{name}@{}", record.version),
                    _ => name,
                };
                let slot = state.entry(key).or_default();
                if slot.version.is_empty() {
                    slot.version = record.version;
                }
                slot.files.extend(record.files);
            }
            history.push((layer, state));
        }
        out.push((manager, history));
    }
    out
}

/// A Python distribution: its name and version from the `NAME-VERSION.dist-info` folder, its
/// files from `RECORD` (CSV: path relative to the folder holding the dist-info, hash, size).
fn python(tree: &Tree, record: NodeId, bytes: &[u8], with_files: bool) -> Option<(String, Record)> {
    let dist_info = tree.parent(record);
    let folder = String::from_utf8_lossy(tree.name(dist_info)).into_owned();
    let stem = folder.strip_suffix(".dist-info")?;
    let (name, version) = stem.split_once('-')?;
    let mut files = Vec::new();
    if with_files {
        let base = tree.path(tree.parent(dist_info));
        for line in bytes.split(|&b| b == b'\n') {
            let path = csv_first_field(line);
            if path.is_empty() {
                continue;
            }
            if let Some(p) = join(&base, &path) {
                files.push(p);
            }
        }
    }
    Some((name.replace('_', "-").to_lowercase(), Record { version: version.to_string(), files, ..Record::default() }))
}

/// A node module: name and version from `package.json`, and every file of its folder but those
/// of nested `node_modules`.
fn node_module(tree: &Tree, json: NodeId, bytes: &[u8], top: usize, with_files: bool) -> Option<(String, Record)> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        name: Option<String>,
        version: Option<String>,
    }
    let manifest: Manifest = serde_json::from_slice(bytes).ok()?;
    let dir = tree.parent(json);
    let name = manifest.name.unwrap_or_else(|| String::from_utf8_lossy(tree.name(dir)).into_owned());
    let mut files = Vec::new();
    if with_files {
        let mut stack = vec![dir];
        while let Some(n) = stack.pop() {
            for &child in tree.children(n) {
                // A folder no tar entry made (only its files) is present without an entry.
                let kind = match tree.state_at(child, Some(top)) {
                    State::Present { entry: Some(id), .. } => tree.entry(id).kind,
                    State::Present { entry: None, .. } => EntryKind::Dir,
                    _ => continue,
                };
                match kind {
                    EntryKind::Dir if tree.name(child) == b"node_modules" => {}
                    EntryKind::Dir => stack.push(child),
                    _ => files.push(tree.path(child)),
                }
            }
        }
    }
    Some((name, Record { version: manifest.version.unwrap_or_default(), files, ..Record::default() }))
}

/// The first field of a CSV line (quoted or not).
fn csv_first_field(line: &[u8]) -> Vec<u8> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.strip_prefix(b"\"") {
        Some(rest) => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < rest.len() {
                match (rest[i], rest.get(i + 1)) {
                    (b'"', Some(b'"')) => {
                        out.push(b'"');
                        i += 2;
                    }
                    (b'"', _) => break,
                    (b, _) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            out
        }
        None => line.split(|&b| b == b',').next().unwrap_or_default().to_vec(),
    }
}

/// `rel` (which may climb with `..`) joined to the folder `base`, as a path from the root; `None`
/// when it climbs above it or is absolute.
fn join(base: &[u8], rel: &[u8]) -> Option<Vec<u8>> {
    if rel.starts_with(b"/") {
        return None;
    }
    let mut parts: Vec<&[u8]> = base.split(|&b| b == b'/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_are_csv_and_paths_climb_from_site_packages() {
        assert_eq!(csv_first_field(b"requests/__init__.py,sha256=abc,4985"), b"requests/__init__.py");
        assert_eq!(csv_first_field(b"\"odd,\"\"name\"\".py\",sha256=x,1\r"), b"odd,\"name\".py");
        let base = b"usr/lib/python3.11/site-packages";
        assert_eq!(join(base, b"../../../bin/pip").as_deref(), Some(&b"usr/bin/pip"[..]));
        assert_eq!(
            join(base, b"requests/api.py").as_deref(),
            Some(&b"usr/lib/python3.11/site-packages/requests/api.py"[..])
        );
        assert_eq!(join(base, b"../../../../../etc/x"), None, "above the root");
        assert_eq!(join(base, b"/etc/passwd"), None);
    }
}
