//! The packages an image holds, read from the package databases as of each layer: dpkg
//! (`/var/lib/dpkg/status` with `info/*.list`, or distroless's `status.d/`) and apk
//! (`/lib/apk/db/installed`), rpm (`rpmdb.sqlite`; the older formats are found and named);
//! Python and node packages from their own metadata (see [`language`]). Each file is mapped to the
//! package that owns it, giving per package its size in the final image, the bytes it shipped
//! over all layers, and the layers that installed and upgraded it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use serde::Serialize;

mod language;
mod rpm;

use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::{EntryId, NodeId, State, Tree};

/// A package database found in the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Database {
    /// `dpkg`, `apk`, `rpm`, `pip` or `npm`.
    pub manager: &'static str,
    /// Where it is (for pip and npm, the pattern of their per-package files).
    pub path: String,
    /// Whether layerscope reads it (rpm's Berkeley DB and ndb are only named).
    pub read: bool,
}

/// One installed package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Package {
    /// `dpkg`, `apk`, `rpm`, `pip` (a Python distribution) or `npm` (a node module).
    pub manager: &'static str,
    /// Its name.
    pub name: String,
    /// Its version in the final image.
    pub version: String,
    /// The size its database records (dpkg's Installed-Size, in KiB there; apk's in bytes).
    pub declared_bytes: Option<u64>,
    /// Bytes of its files in the final image.
    pub final_bytes: u64,
    /// Bytes of its files over all layers (every copy shipped).
    pub shipped_bytes: u64,
    /// shipped − final: what its files waste.
    pub wasted_bytes: u64,
    /// Its files in the final image.
    pub files: u64,
    /// The layer whose database first lists it.
    pub installed_in: Option<usize>,
    /// Layers whose database lists another version of it.
    pub upgraded_in: Vec<usize>,
}

/// What a layer did to the packages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerPackages {
    /// The layer.
    pub layer: usize,
    /// `name version` added.
    pub added: Vec<String>,
    /// `name old→new`.
    pub upgraded: Vec<String>,
    /// `name version` removed.
    pub removed: Vec<String>,
}

/// Files no package owns, by folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnownedDir {
    /// The folder (two levels at most).
    pub dir: String,
    /// Bytes of its files no package owns.
    pub bytes: u64,
    /// How many.
    pub files: u64,
}

/// The packages of an image.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Packages {
    /// The databases found.
    pub databases: Vec<Database>,
    /// The installed packages, largest in the final image first.
    pub packages: Vec<Package>,
    /// Layers that changed the packages, in order.
    pub layers: Vec<LayerPackages>,
    /// Folders of files no package owns, largest first (the first 20).
    pub unowned: Vec<UnownedDir>,
    /// Why the databases were not read, when they were not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A database's packages after each layer that wrote it, in layer order.
type History = Vec<(usize, BTreeMap<String, Record>)>;

/// A database's record of one package as of one layer.
#[derive(Clone, Debug, Default)]
struct Record {
    version: String,
    declared: Option<u64>,
    /// Its architecture, when the database says (two of one name differ by it: multi-arch).
    arch: Option<String>,
    /// Files it owns (relative paths), when the database lists them (apk).
    files: Vec<Vec<u8>>,
}

use crate::layer::kept::{APK_INSTALLED, DPKG_INFO, DPKG_STATUS, DPKG_STATUS_D, RPM_SQLITE};
/// rpm's older databases: Berkeley DB (`Packages`) and SUSE's ndb (`Packages.db`), named only.
const RPM_UNREAD: [&str; 4] = [
    "var/lib/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages.db",
];

/// Whether `image` holds a package database or language package metadata (lookups and a walk
/// of the names: nothing is read).
pub fn has_database(image: &Image) -> bool {
    let Some(top) = image.top_layer() else { return false };
    [DPKG_STATUS, DPKG_STATUS_D, APK_INSTALLED]
        .iter()
        .chain(RPM_SQLITE.iter())
        .chain(RPM_UNREAD.iter())
        .any(|path| present(&image.tree, path, top).is_some())
        || language::metadata_files(&image.tree).next().is_some()
}

/// The packages of `image`; `None` when it holds no package database. A database in a
/// compressed layer too large to have been kept while the layer was read (see
/// [`crate::layer::kept`]) is read only with `read_compressed` (reaching it inflates most of the
/// layer again).
pub fn packages(image: &Image, read_compressed: bool) -> Option<Packages> {
    packages_and_owners(image, read_compressed).map(|(p, _)| p)
}

/// Which package owns each path: its place in [`Packages::packages`] (packages of different
/// managers may share a name: dpkg's `tar` and npm's `tar`).
#[derive(Clone, Debug, Default)]
pub struct Owners(HashMap<NodeId, u32>);

impl Owners {
    /// The place of the package that owns `node`, if one does.
    pub fn index(&self, node: NodeId) -> Option<usize> {
        self.0.get(&node).map(|&i| i as usize)
    }

    /// The package of `packages` that owns `node`, if one does.
    pub fn package<'a>(&self, packages: &'a Packages, node: NodeId) -> Option<&'a Package> {
        packages.packages.get(self.index(node)?)
    }

    /// Every path owned, with its owner's place.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, usize)> + '_ {
        self.0.iter().map(|(&n, &i)| (n, i as usize))
    }
}

/// [`packages`], with the package that owns each path of the final image.
pub fn packages_and_owners(image: &Image, read_compressed: bool) -> Option<(Packages, Owners)> {
    let tree = &image.tree;
    let top = image.top_layer()?;
    let found = Found::in_image(image, top);
    let mut out = Packages { databases: found.rpm_unread.clone(), ..Packages::default() };
    // Every database file needed, read in one pass per layer (a compressed layer is inflated
    // once). Those in compressed layers were kept while the layers were read; any other one in a
    // compressed layer (too large to keep) costs inflating its layer again.
    let wanted = found.wanted();
    let unkept = |id: EntryId| {
        image.kept_content(id).is_none() && {
            let layer = usize::from(tree.content_entry(tree.entry(id)).layer);
            image.layers.get(layer).and_then(|l| l.compression).is_some_and(|c| {
                !matches!(
                    c,
                    crate::archive::compression::Compression::None | crate::archive::compression::Compression::Empty
                )
            })
        }
    };
    // A manager with a file left in a compressed layer is not read (a missing state would read
    // as every package removed): the others are.
    let unread: BTreeSet<&str> = if read_compressed {
        BTreeSet::new()
    } else {
        wanted.iter().filter(|&&(_, id)| unkept(id)).map(|&(m, _)| m).collect()
    };
    if !unread.is_empty() {
        out.skipped = Some(format!(
            "{} in compressed layers: larger than what is kept while a layer is read ({} MiB a \
             database, {} MiB rpm's, {} MiB a language package's file), --packages reads {}",
            unread.iter().copied().collect::<Vec<_>>().join(", "),
            crate::layer::kept::FILE_MAX >> 20,
            crate::layer::kept::RPM_FILE_MAX >> 20,
            crate::layer::kept::LANGUAGE_FILE_MAX >> 20,
            if unread.len() == 1 { "it" } else { "them" }
        ));
    }
    let read: Vec<EntryId> = wanted.iter().filter(|(m, _)| !unread.contains(m)).map(|&(_, id)| id).collect();
    let contents = read_all(image, &read);
    out.databases.extend(found.databases(&unread));
    if out.databases.is_empty() {
        return None;
    }
    let states = found.histories(image, top, &contents, &unread);
    let lists = parse_lists(&found.lists, &contents);
    let (packages, owner) = installed(tree, &states, lists);
    out.packages = packages;
    out.layers = layer_changes(&states);
    out.unowned = measure(tree, top, &owner, &mut out.packages);
    // A Python or node package whose files a system package owns (apt's python3-requests ships
    // its dist-info too) is that package: listed once. The rest largest first, owners following.
    let packages = std::mem::take(&mut out.packages);
    let mut order: Vec<usize> = (0..packages.len())
        .filter(|&i| {
            let p = &packages[i];
            !is_language(p.manager) || p.files > 0 || p.shipped_bytes > 0
        })
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&packages[a], &packages[b]);
        b.final_bytes.cmp(&a.final_bytes).then_with(|| a.name.cmp(&b.name)).then_with(|| a.manager.cmp(b.manager))
    });
    let mut place = vec![None; packages.len()];
    for (new, &old) in order.iter().enumerate() {
        place[old] = u32::try_from(new).ok();
    }
    let owners = Owners(owner.into_iter().filter_map(|(node, old)| Some((node, place.get(old).copied()??))).collect());
    let mut packages: Vec<Option<Package>> = packages.into_iter().map(Some).collect();
    out.packages = order.iter().filter_map(|&i| packages[i].take()).collect();
    Some((out, owners))
}

/// The package databases of an image: where each is, and the layers that wrote it.
struct Found {
    dpkg: Option<NodeId>,
    status_dir: Option<NodeId>,
    apk: Option<NodeId>,
    /// rpm's sqlite database (path and node) and its write-ahead log.
    rpm: Option<(&'static str, NodeId)>,
    rpm_wal: Option<NodeId>,
    /// rpm's older databases, named only.
    rpm_unread: Vec<Database>,
    /// dpkg's `info/*.list` files with the package each names.
    lists: HashMap<EntryId, String>,
    status_files: Vec<EntryId>,
    dpkg_writes: Vec<(usize, Option<EntryId>)>,
    apk_writes: Vec<(usize, Option<EntryId>)>,
    rpm_writes: Vec<(usize, Option<EntryId>)>,
    rpm_wal_writes: Vec<(usize, Option<EntryId>)>,
    language: Vec<language::Metadata>,
    /// Each language manager's metadata files as written by each layer.
    language_writes: Vec<(&'static str, Option<EntryId>)>,
}

impl Found {
    fn in_image(image: &Image, top: usize) -> Found {
        let tree = &image.tree;
        let rpm = RPM_SQLITE
            .iter()
            .find(|p| present(tree, p, top).is_some())
            .and_then(|p| Some((*p, tree.lookup(p.as_bytes())?)));
        let rpm_unread = RPM_UNREAD
            .iter()
            .filter(|path| rpm.is_none() && present(tree, path, top).is_some())
            .map(|path| Database { manager: "rpm", path: format!("/{path}"), read: false })
            .collect();
        let dpkg = tree.lookup(DPKG_STATUS.as_bytes());
        let status_dir = if dpkg.is_none() { tree.lookup(DPKG_STATUS_D.as_bytes()) } else { None };
        let apk = tree.lookup(APK_INSTALLED.as_bytes());
        let rpm_wal = rpm.and_then(|(p, _)| tree.lookup(format!("{p}-wal").as_bytes()));
        let language = language::metadata(tree);
        let writes_of = |node: Option<NodeId>| node.map(|n| writes(image, n)).unwrap_or_default();
        Found {
            dpkg,
            status_dir,
            apk,
            rpm,
            rpm_wal,
            rpm_unread,
            lists: if dpkg.is_some() { list_files(image, top) } else { HashMap::new() },
            status_files: status_dir.map(|d| dir_files(tree, d, top)).unwrap_or_default(),
            dpkg_writes: writes_of(dpkg),
            apk_writes: writes_of(apk),
            rpm_writes: writes_of(rpm.map(|(_, n)| n)),
            rpm_wal_writes: writes_of(rpm_wal),
            language_writes: language
                .iter()
                .flat_map(|m| writes(image, m.node).into_iter().map(|(_, id)| (m.manager, id)))
                .collect(),
            language,
        }
    }

    /// Every file to read, with the manager it is for.
    fn wanted(&self) -> Vec<(&'static str, EntryId)> {
        let ids = |writes: &[(usize, Option<EntryId>)]| writes.iter().filter_map(|(_, id)| *id).collect::<Vec<_>>();
        let mut wanted: Vec<(&'static str, EntryId)> =
            self.lists.keys().chain(&self.status_files).map(|&id| ("dpkg", id)).collect();
        wanted.extend(ids(&self.dpkg_writes).into_iter().map(|id| ("dpkg", id)));
        wanted.extend(ids(&self.apk_writes).into_iter().map(|id| ("apk", id)));
        wanted.extend(ids(&self.rpm_writes).into_iter().chain(ids(&self.rpm_wal_writes)).map(|id| ("rpm", id)));
        wanted.extend(self.language_writes.iter().filter_map(|&(m, id)| Some((m, id?))));
        wanted
    }

    /// The databases found, read unless their manager is in `unread`.
    fn databases(&self, unread: &BTreeSet<&str>) -> Vec<Database> {
        let rpm_path = self.rpm.map_or("", |(p, _)| p);
        let status = if self.dpkg.is_some() { (DPKG_STATUS, self.dpkg) } else { (DPKG_STATUS_D, self.status_dir) };
        let mut out: Vec<Database> = [
            ("dpkg", status.0, status.1),
            ("apk", APK_INSTALLED, self.apk),
            ("rpm", rpm_path, self.rpm.map(|(_, n)| n)),
        ]
        .into_iter()
        .filter(|(_, _, node)| node.is_some())
        .map(|(manager, path, _)| Database { manager, path: format!("/{path}"), read: !unread.contains(manager) })
        .collect();
        out.extend(language_databases(&self.language, unread));
        out
    }

    /// Each manager's packages after every layer that wrote its database (those in `unread`
    /// left out).
    fn histories(
        &self,
        image: &Image,
        top: usize,
        contents: &HashMap<EntryId, Cow<'_, [u8]>>,
        unread: &BTreeSet<&str>,
    ) -> Vec<(&'static str, History)> {
        let mut states: Vec<(&'static str, History)> = Vec::new();
        if self.dpkg.is_some() {
            states.push(("dpkg", versions(&self.dpkg_writes, contents, parse_dpkg)));
        } else if let Some(dir) = self.status_dir {
            states.push(("dpkg", status_d(image, dir, top, &self.status_files, contents)));
        }
        if self.apk.is_some() {
            states.push(("apk", versions(&self.apk_writes, contents, parse_apk)));
        }
        if let Some((_, database)) = self.rpm {
            states.push(("rpm", self.rpm_history(image, database, contents)));
        }
        states.extend(language::histories(image, &self.language, contents, top));
        states.retain(|(manager, _)| !unread.contains(manager));
        states
    }

    /// rpm's packages after each layer that wrote its database or its log: the two as they are
    /// then.
    fn rpm_history(&self, image: &Image, database: NodeId, contents: &HashMap<EntryId, Cow<'_, [u8]>>) -> History {
        let tree = &image.tree;
        let layers: std::collections::BTreeSet<usize> =
            self.rpm_writes.iter().chain(&self.rpm_wal_writes).map(|(l, _)| *l).collect();
        let file_at = |node: NodeId, layer: usize| match tree.state_at(node, Some(layer)) {
            State::Present { entry: Some(id), .. } => contents.get(&id).map(|c| c.as_ref()),
            _ => None,
        };
        layers
            .into_iter()
            .map(|layer| {
                let wal = self.rpm_wal.and_then(|n| file_at(n, layer));
                (layer, file_at(database, layer).map(|d| rpm::parse(d, wal)).unwrap_or_default())
            })
            .collect()
    }
}

/// The packages of the final state of each manager's history, and which one owns each path (the
/// first manager to claim a path keeps it). dpkg's status file leaves the files to `lists`.
fn installed(
    tree: &Tree,
    states: &[(&'static str, History)],
    mut lists: HashMap<String, Vec<Vec<u8>>>,
) -> (Vec<Package>, HashMap<NodeId, usize>) {
    let mut packages = Vec::new();
    let mut owner: HashMap<NodeId, usize> = HashMap::new();
    for (manager, history) in states {
        let Some((_, last)) = history.last() else { continue };
        for (name, record) in last {
            let index = packages.len();
            let mut files = record.files.clone();
            if *manager == "dpkg" {
                let base = name.split(':').next().unwrap_or(name);
                let qualified = record.arch.as_ref().map(|a| format!("{base}:{a}"));
                // The list of this package's architecture, or the one list of its name.
                let any_arch = || lists.keys().find(|k| k.split(':').next() == Some(base)).cloned();
                let key = Some(name.clone())
                    .filter(|k| lists.contains_key(k))
                    .or_else(|| qualified.filter(|k| lists.contains_key(k)))
                    .or_else(any_arch);
                files.extend(key.and_then(|k| lists.remove(&k)).unwrap_or_default());
            }
            for path in files {
                if let Some(node) = lookup_owned(tree, &path) {
                    owner.entry(node).or_insert(index);
                }
            }
            let installed_in = history.iter().find(|(_, s)| s.contains_key(name)).map(|(l, _)| *l);
            let upgraded_in = history
                .windows(2)
                .filter(|pair| {
                    matches!((pair[0].1.get(name), pair[1].1.get(name)), (Some(a), Some(b)) if a.version != b.version)
                })
                .map(|pair| pair[1].0)
                .collect();
            packages.push(Package {
                manager,
                name: bounded(name),
                version: bounded(&record.version),
                declared_bytes: record.declared,
                final_bytes: 0,
                shipped_bytes: 0,
                wasted_bytes: 0,
                files: 0,
                installed_in,
                upgraded_in,
            });
        }
    }
    (packages, owner)
}

/// What each layer did to the packages: added, upgraded, removed (layers that did nothing left
/// out).
fn layer_changes(states: &[(&'static str, History)]) -> Vec<LayerPackages> {
    let mut changes: BTreeMap<usize, LayerPackages> = BTreeMap::new();
    let empty = BTreeMap::new();
    for (_, history) in states {
        for (i, (layer, state)) in history.iter().enumerate() {
            let before = if i == 0 { &empty } else { &history[i - 1].1 };
            let entry = changes.entry(*layer).or_insert_with(|| LayerPackages {
                layer: *layer,
                added: Vec::new(),
                upgraded: Vec::new(),
                removed: Vec::new(),
            });
            for (name, r) in state {
                let (shown, version) = (bounded(name), bounded(&r.version));
                match before.get(name) {
                    None => entry.added.push(format!("{shown} {version}")),
                    Some(b) if b.version != r.version => {
                        entry.upgraded.push(format!("{shown} {}→{version}", bounded(&b.version)))
                    }
                    Some(_) => {}
                }
            }
            for (name, b) in before {
                if !state.contains_key(name) {
                    entry.removed.push(format!("{} {}", bounded(name), bounded(&b.version)));
                }
            }
        }
    }
    changes.into_values().filter(|l| !(l.added.is_empty() && l.upgraded.is_empty() && l.removed.is_empty())).collect()
}

/// Each package's bytes (every copy shipped, and what is left at the end), and the folders of the
/// files no package owns, largest first (the first 20).
fn measure(tree: &Tree, top: usize, owner: &HashMap<NodeId, usize>, packages: &mut [Package]) -> Vec<UnownedDir> {
    for e in tree.entries() {
        if e.kind != EntryKind::File {
            continue;
        }
        if let Some(&p) = owner.get(&e.node) {
            packages[p].shipped_bytes += e.size;
        }
    }
    let mut unowned: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for node in tree.visible_nodes(top) {
        let State::Present { entry: Some(id), .. } = tree.state_at(node, Some(top)) else { continue };
        let e = tree.entry(id);
        if e.kind != EntryKind::File {
            continue;
        }
        match owner.get(&node) {
            Some(&p) => {
                packages[p].final_bytes += e.size;
                packages[p].files += 1;
            }
            None => {
                // The file's folder, two levels at most (`/etc/passwd` is in `/etc`).
                let path = tree.path(tree.parent(node));
                let dir: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|p| !p.is_empty()).take(2).collect();
                let dir = String::from_utf8_lossy(&dir.join(&b'/')).into_owned();
                let slot = unowned.entry(format!("/{dir}")).or_default();
                slot.0 += e.size;
                slot.1 += 1;
            }
        }
    }
    for p in packages.iter_mut() {
        p.wasted_bytes = p.shipped_bytes.saturating_sub(p.final_bytes);
    }
    let mut unowned: Vec<UnownedDir> =
        unowned.into_iter().map(|(dir, (bytes, files))| UnownedDir { dir, bytes, files }).collect();
    unowned.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.dir.cmp(&b.dir)));
    unowned.truncate(20);
    unowned
}

/// A name or version as reports show it: at most [`SHOWN_MAX`] bytes (a database line can be
/// megabytes long).
fn bounded(text: &str) -> String {
    if text.len() <= SHOWN_MAX {
        return text.to_string();
    }
    let mut end = SHOWN_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The longest name or version shown.
const SHOWN_MAX: usize = 256;

/// Whether `manager` is a language's (pip, npm) rather than the system's.
fn is_language(manager: &str) -> bool {
    manager == language::PIP || manager == language::NPM
}

/// The language package metadata found, as one database per manager (there is a file per
/// package), read unless in `unread`.
fn language_databases(found: &[language::Metadata], unread: &BTreeSet<&str>) -> Vec<Database> {
    [(language::PIP, "*.dist-info/RECORD"), (language::NPM, "node_modules/*/package.json")]
        .into_iter()
        .filter(|(manager, _)| found.iter().any(|m| m.manager == *manager))
        .map(|(manager, path)| Database { manager, path: path.to_string(), read: !unread.contains(manager) })
        .collect()
}

/// The node at `path` when it is present after `layer`.
fn present(tree: &Tree, path: &str, layer: usize) -> Option<NodeId> {
    let node = tree.lookup(path.as_bytes())?;
    matches!(tree.state_at(node, Some(layer)), State::Present { .. }).then_some(node)
}

/// A package's path as its database lists it, in the tree: with merged /usr, `/bin/x` is
/// `usr/bin/x`.
fn lookup_owned(tree: &Tree, path: &[u8]) -> Option<NodeId> {
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    tree.lookup(rel).or_else(|| {
        let merged = [b"bin/".as_slice(), b"sbin/", b"lib/", b"lib32/", b"lib64/", b"libx32/"];
        merged.iter().any(|p| rel.starts_with(p)).then(|| tree.lookup(&[b"usr/".as_slice(), rel].concat())).flatten()
    })
}

/// Read the files `ids`, one pass per layer and the layers side by side (in a compressed layer
/// the database is near the end: the pass inflates most of it): their contents, by entry.
fn read_all<'a>(image: &'a Image, ids: &[EntryId]) -> HashMap<EntryId, Cow<'a, [u8]>> {
    let mut by_layer: BTreeMap<u16, Vec<EntryId>> = BTreeMap::new();
    let mut out = HashMap::new();
    for &id in ids {
        if let Some(bytes) = image.kept_content(id) {
            out.insert(id, Cow::Borrowed(bytes));
            continue;
        }
        by_layer.entry(image.tree.content_entry(image.tree.entry(id)).layer).or_default().push(id);
    }
    let read_layer = |ids: &[EntryId]| {
        let mut out = Vec::new();
        let _ = image.for_each_content(ids, |id, reader| {
            let mut bytes = Vec::new();
            // A database larger than this is not one layerscope reads.
            reader
                .take(64 << 20)
                .read_to_end(&mut bytes)
                .map_err(|e| crate::Error::io(std::path::PathBuf::from("package database"), e))?;
            out.push((id, bytes));
            Ok(())
        });
        out
    };
    let groups: Vec<Vec<EntryId>> = by_layer.into_values().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1);
    for batch in groups.chunks(threads) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch.iter().map(|ids| scope.spawn(|| read_layer(ids))).collect();
            for h in handles {
                out.extend(h.join().unwrap_or_default().into_iter().map(|(id, bytes)| (id, Cow::Owned(bytes))));
            }
        });
    }
    out
}

/// The layers that wrote `node`, with the file each wrote (`None`: it removed it).
fn writes(image: &Image, node: NodeId) -> Vec<(usize, Option<EntryId>)> {
    let tree = &image.tree;
    (0..image.layers.len())
        .filter_map(|layer| {
            let writes_here = tree.change_at(node, layer).is_some_and(|c| c != crate::tree::Change::Unchanged);
            if !writes_here {
                return None;
            }
            match tree.state_at(node, Some(layer)) {
                State::Present { entry: Some(id), .. } if tree.entry(id).kind == EntryKind::File => {
                    Some((layer, Some(id)))
                }
                _ => Some((layer, None)),
            }
        })
        .collect()
}

/// A database file's parsed state after every layer that wrote it (`writes`, see [`writes`]).
fn versions(
    writes: &[(usize, Option<EntryId>)],
    contents: &HashMap<EntryId, Cow<'_, [u8]>>,
    parse: fn(&[u8]) -> BTreeMap<String, Record>,
) -> History {
    writes
        .iter()
        .map(|(layer, id)| (*layer, id.and_then(|id| contents.get(&id)).map(|b| parse(b)).unwrap_or_default()))
        .collect()
}

/// dpkg's status file: the installed packages.
fn parse_dpkg(bytes: &[u8]) -> BTreeMap<String, Record> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let field = |key: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(|v| v.trim().to_string())
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else { continue };
        if field("Status").is_some_and(|s| !s.ends_with(" installed")) {
            continue;
        }
        let declared = field("Installed-Size").and_then(|s| s.parse::<u64>().ok()).map(|k| k.saturating_mul(1024));
        let arch = field("Architecture");
        // A second architecture of one package (multi-arch) is named as dpkg names it: `libc6:i386`.
        let key = match &arch {
            Some(a) if out.contains_key(&name) => format!("{name}:{a}"),
            _ => name,
        };
        out.insert(key, Record { version, declared, arch, files: Vec::new() });
    }
    out
}

/// apk's installed database: packages with their files.
fn parse_apk(bytes: &[u8]) -> BTreeMap<String, Record> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let (mut name, mut record, mut dir) = (None, Record::default(), String::new());
        for line in block.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            match key {
                "P" => name = Some(value.to_string()),
                "V" => record.version = value.to_string(),
                "I" => record.declared = value.parse().ok(),
                "F" => dir = value.to_string(),
                "R" => record.files.push(format!("{dir}/{value}").trim_start_matches('/').as_bytes().to_vec()),
                _ => {}
            }
        }
        if let Some(name) = name {
            out.insert(name, record);
        }
    }
    out
}

/// The files of a folder present after `layer`.
fn dir_files(tree: &Tree, dir: NodeId, layer: usize) -> Vec<EntryId> {
    tree.children(dir)
        .iter()
        .filter_map(|&child| match tree.state_at(child, Some(layer)) {
            State::Present { entry: Some(id), .. } => Some(id),
            _ => None,
        })
        .collect()
}

/// Every `info/NAME[:ARCH].list` present after `layer`, with the package it names.
fn list_files(image: &Image, layer: usize) -> HashMap<EntryId, String> {
    let tree = &image.tree;
    let Some(dir) = present(tree, DPKG_INFO, layer) else { return HashMap::new() };
    dir_files(tree, dir, layer)
        .into_iter()
        .filter_map(|id| {
            let file = String::from_utf8_lossy(tree.name(tree.entry(id).node)).into_owned();
            // `NAME.list`, or `NAME:ARCH.list` for a multi-arch package.
            Some((id, file.strip_suffix(".list")?.to_string()))
        })
        .collect()
}

/// The paths each package's lists name.
fn parse_lists(
    lists: &HashMap<EntryId, String>,
    contents: &HashMap<EntryId, Cow<'_, [u8]>>,
) -> HashMap<String, Vec<Vec<u8>>> {
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (id, name) in lists {
        let Some(bytes) = contents.get(id) else { continue };
        let paths = out.entry(name.clone()).or_default();
        paths.extend(bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty() && *l != b"/.").map(<[u8]>::to_vec));
    }
    out
}

/// distroless's `status.d/`: one stanza per package, files in `NAME.md5sums`, as of the final
/// image only (it is written once).
fn status_d(
    image: &Image,
    dir: NodeId,
    layer: usize,
    files: &[EntryId],
    contents: &HashMap<EntryId, Cow<'_, [u8]>>,
) -> History {
    let tree = &image.tree;
    let mut state = BTreeMap::new();
    let mut sums: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for id in files {
        let Some(bytes) = contents.get(id) else { continue };
        let file = String::from_utf8_lossy(tree.name(tree.entry(*id).node)).into_owned();
        if let Some(name) = file.strip_suffix(".md5sums") {
            let paths = bytes
                .split(|&b| b == b'\n')
                .filter_map(|l| l.splitn(2, |&b| b == b' ').nth(1))
                .map(|p| p.trim_ascii().to_vec())
                .collect();
            sums.insert(name.to_string(), paths);
        } else {
            state.extend(parse_dpkg(bytes));
        }
    }
    for (name, record) in &mut state {
        record.files = sums.remove(name).unwrap_or_default();
    }
    let first = (0..=layer).find(|&l| matches!(tree.state_at(dir, Some(l)), State::Present { .. })).unwrap_or(layer);
    vec![(first, state)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_lists_installed_packages() {
        let status = b"Package: git\nStatus: install ok installed\nVersion: 1:2.39.5-0+deb12u1\nInstalled-Size: 44000\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n";
        let p = parse_dpkg(status);
        assert_eq!(p.len(), 1);
        assert_eq!(p["git"].version, "1:2.39.5-0+deb12u1");
        assert_eq!(p["git"].declared, Some(44_000 * 1024));
    }

    #[test]
    fn apk_installed_lists_packages_and_files() {
        let db = b"C:Q1abc\nP:musl\nV:1.2.5-r0\nI:408000\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\nP:busybox\nV:1.36.1-r29\nF:bin\nR:busybox\n";
        let p = parse_apk(db);
        assert_eq!(p["musl"].files, [b"lib/ld-musl-x86_64.so.1".to_vec(), b"lib/libc.musl-x86_64.so.1".to_vec()]);
        assert_eq!(p["busybox"].version, "1.36.1-r29");
    }
}
