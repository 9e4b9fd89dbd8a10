//! Fixture builder: writes image archives in every format layerscope reads, from layers described
//! in code. Deterministic (fixed mtimes, sorted entries) so archives can be compared byte for byte.
#![allow(dead_code)] // each test binary uses a different part of the builder
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // fixture code may panic

pub mod demo;
pub mod servers;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Default mtime of every entry.
pub const MTIME: u64 = 1_700_000_000;

/// How a layer blob is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comp {
    None,
    Gzip,
    /// Several gzip members back to back, as eStargz and pigz write.
    GzipMultiMember,
    Zstd,
}

impl Comp {
    pub fn media_type(self) -> &'static str {
        match self {
            Comp::None => "application/vnd.oci.image.layer.v1.tar",
            Comp::Gzip | Comp::GzipMultiMember => "application/vnd.oci.image.layer.v1.tar+gzip",
            Comp::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    pub fn compress(self, data: &[u8]) -> Vec<u8> {
        match self {
            Comp::None => data.to_vec(),
            Comp::Gzip => gzip(data),
            Comp::GzipMultiMember => {
                let half = data.len() / 2;
                let mut out = gzip(&data[..half]);
                out.extend(gzip(&data[half..]));
                out
            }
            Comp::Zstd => zstd::encode_all(data, 3).unwrap(),
        }
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

/// Attributes of an entry.
#[derive(Clone, Copy, Debug)]
pub struct Attrs {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
}

impl Attrs {
    pub const FILE: Attrs = Attrs { mode: 0o644, uid: 0, gid: 0, mtime: MTIME };
    pub const DIR: Attrs = Attrs { mode: 0o755, uid: 0, gid: 0, mtime: MTIME };

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }
}

#[derive(Clone, Debug)]
enum Item {
    File {
        path: Vec<u8>,
        data: Vec<u8>,
        attrs: Attrs,
    },
    Dir {
        path: Vec<u8>,
        attrs: Attrs,
    },
    Symlink {
        path: Vec<u8>,
        target: Vec<u8>,
    },
    Hardlink {
        path: Vec<u8>,
        target: Vec<u8>,
    },
    Device {
        path: Vec<u8>,
        kind: tar::EntryType,
        major: u32,
        minor: u32,
    },
    Fifo {
        path: Vec<u8>,
    },
    /// A name written into the header as is (for `..`, `/abs`, `./` cases tar-rs refuses).
    RawName {
        name: Vec<u8>,
        kind: tar::EntryType,
        data: Vec<u8>,
    },
    /// A long name carried in a PAX `path` record.
    PaxFile {
        path: Vec<u8>,
        data: Vec<u8>,
    },
    /// Tar blocks written as they are (hand-made headers).
    Blocks(Vec<u8>),
}

/// One layer tar, described entry by entry, written in the order given.
#[derive(Clone, Debug, Default)]
pub struct Layer {
    items: Vec<Item>,
}

impl Layer {
    pub fn new() -> Self {
        Layer::default()
    }

    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_with(path, data, Attrs::FILE)
    }

    pub fn file_with(mut self, path: &str, data: &[u8], attrs: Attrs) -> Self {
        self.items.push(Item::File { path: path.into(), data: data.to_vec(), attrs });
        self
    }

    /// A file whose name is arbitrary bytes (not UTF-8, or very long: GNU long-name records).
    pub fn file_bytes(mut self, path: &[u8], data: &[u8]) -> Self {
        self.items.push(Item::File { path: path.to_vec(), data: data.to_vec(), attrs: Attrs::FILE });
        self
    }

    /// A file whose long name is carried by a PAX extended header.
    pub fn pax_file(mut self, path: &[u8], data: &[u8]) -> Self {
        self.items.push(Item::PaxFile { path: path.to_vec(), data: data.to_vec() });
        self
    }

    pub fn dir(self, path: &str) -> Self {
        self.dir_with(path, Attrs::DIR)
    }

    pub fn dir_with(mut self, path: &str, attrs: Attrs) -> Self {
        self.items.push(Item::Dir { path: path.into(), attrs });
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.items.push(Item::Symlink { path: path.into(), target: target.into() });
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        self.items.push(Item::Hardlink { path: path.into(), target: target.into() });
        self
    }

    pub fn char_device(mut self, path: &str, major: u32, minor: u32) -> Self {
        self.items.push(Item::Device { path: path.into(), kind: tar::EntryType::Char, major, minor });
        self
    }

    pub fn block_device(mut self, path: &str, major: u32, minor: u32) -> Self {
        self.items.push(Item::Device { path: path.into(), kind: tar::EntryType::Block, major, minor });
        self
    }

    pub fn fifo(mut self, path: &str) -> Self {
        self.items.push(Item::Fifo { path: path.into() });
        self
    }

    /// `.wh.NAME` in NAME's directory: deletes `path` from lower layers.
    pub fn whiteout(self, path: &str) -> Self {
        let (dir, base) = match path.trim_end_matches('/').rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b.to_string()),
            None => (String::new(), path.to_string()),
        };
        let name = format!("{dir}.wh.{base}");
        self.file_with(&name, b"", Attrs::FILE.mode(0))
    }

    /// `DIR/.wh..wh..opq`: hides every lower child of `dir`.
    pub fn opaque(self, dir: &str) -> Self {
        let dir = dir.trim_end_matches('/');
        let name = if dir.is_empty() { ".wh..wh..opq".to_string() } else { format!("{dir}/.wh..wh..opq") };
        self.file_with(&name, b"", Attrs::FILE)
    }

    /// An entry whose header name is exactly `name` (may hold `..`, a leading `/`, `./`).
    pub fn raw(mut self, name: &[u8], kind: tar::EntryType, data: &[u8]) -> Self {
        self.items.push(Item::RawName { name: name.to_vec(), kind, data: data.to_vec() });
        self
    }

    /// Tar blocks (headers and data, 512-byte aligned) written into the layer as they are.
    pub fn blocks(mut self, bytes: &[u8]) -> Self {
        assert_eq!(bytes.len() % 512, 0, "whole tar blocks");
        self.items.push(Item::Blocks(bytes.to_vec()));
        self
    }

    /// The uncompressed layer tar.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for item in &self.items {
            match item {
                Item::File { path, data, attrs } => {
                    let mut h = header(tar::EntryType::Regular, *attrs, data.len() as u64);
                    b.append_data(&mut h, os_path(path), data.as_slice()).unwrap();
                }
                Item::Dir { path, attrs } => {
                    let mut h = header(tar::EntryType::Directory, *attrs, 0);
                    let mut p = path.clone();
                    if !p.ends_with(b"/") {
                        p.push(b'/');
                    }
                    b.append_data(&mut h, os_path(&p), &[][..]).unwrap();
                }
                Item::Symlink { path, target } => {
                    let mut h = header(tar::EntryType::Symlink, Attrs::FILE.mode(0o777), 0);
                    b.append_link(&mut h, os_path(path), os_path(target)).unwrap();
                }
                Item::Hardlink { path, target } => {
                    let mut h = header(tar::EntryType::Link, Attrs::FILE, 0);
                    b.append_link(&mut h, os_path(path), os_path(target)).unwrap();
                }
                Item::Device { path, kind, major, minor } => {
                    let mut h = header(*kind, Attrs::FILE.mode(0o600), 0);
                    h.set_device_major(*major).unwrap();
                    h.set_device_minor(*minor).unwrap();
                    b.append_data(&mut h, os_path(path), &[][..]).unwrap();
                }
                Item::Fifo { path } => {
                    let mut h = header(tar::EntryType::Fifo, Attrs::FILE, 0);
                    b.append_data(&mut h, os_path(path), &[][..]).unwrap();
                }
                Item::RawName { name, kind, data } => {
                    let mut h = header(*kind, Attrs::FILE, data.len() as u64);
                    let field = &mut h.as_old_mut().name;
                    field.fill(0);
                    field[..name.len()].copy_from_slice(name);
                    h.set_cksum();
                    b.append(&h, data.as_slice()).unwrap();
                }
                Item::Blocks(bytes) => b.get_mut().extend_from_slice(bytes),
                Item::PaxFile { path, data } => {
                    b.append_pax_extensions([("path", path.as_slice())]).unwrap();
                    let mut h = header(tar::EntryType::Regular, Attrs::FILE, data.len() as u64);
                    let short = &path[..path.len().min(99)];
                    let field = &mut h.as_old_mut().name;
                    field.fill(0);
                    field[..short.len()].copy_from_slice(short);
                    h.set_cksum();
                    b.append(&h, data.as_slice()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }
}

fn header(kind: tar::EntryType, attrs: Attrs, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(attrs.mode);
    h.set_uid(attrs.uid);
    h.set_gid(attrs.gid);
    h.set_mtime(attrs.mtime);
    h.set_size(size);
    h
}

#[cfg(unix)]
fn os_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

/// An image: layers with their history, plus empty instructions, tags and platform.
#[derive(Clone, Debug)]
pub struct Image {
    pub layers: Vec<Layer>,
    /// (created_by, empty_layer)
    pub history: Vec<(String, bool)>,
    pub tags: Vec<String>,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Default for Image {
    fn default() -> Self {
        Image {
            layers: Vec::new(),
            history: Vec::new(),
            tags: vec!["example/app:latest".into()],
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        }
    }
}

/// A layer as stored: tar, blob, digests.
#[derive(Clone, Debug)]
pub struct BuiltLayer {
    pub tar: Vec<u8>,
    pub diff_id: String,
    pub blob: Vec<u8>,
    pub blob_digest: String,
    pub media_type: &'static str,
}

/// An image as stored.
#[derive(Clone, Debug)]
pub struct Built {
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<BuiltLayer>,
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
}

impl Built {
    /// Make the manifest name the current config and layer blobs (after a test changed them, as a
    /// writer that hashed corrupt bytes would).
    pub fn refresh_manifest(&mut self) {
        self.config_digest = digest(&self.config);
        for l in &mut self.layers {
            l.blob_digest = digest(&l.blob);
        }
        let mut manifest: Value = serde_json::from_slice(&self.manifest).unwrap();
        manifest["config"]["digest"] = json!(self.config_digest);
        manifest["config"]["size"] = json!(self.config.len());
        for (i, l) in self.layers.iter().enumerate() {
            manifest["layers"][i]["digest"] = json!(l.blob_digest);
            manifest["layers"][i]["size"] = json!(l.blob.len());
        }
        self.manifest = serde_json::to_vec(&manifest).unwrap();
        self.manifest_digest = digest(&self.manifest);
    }

    /// This build alone as an oci-archive, tagged `latest`.
    pub fn oci_archive(&self) -> Vec<u8> {
        let mut layout = OciLayout::new();
        layout.store(self);
        layout.add_manifest(&self.manifest_digest, self.manifest.len(), None, Some("latest"), None);
        layout.tar()
    }
}

impl Image {
    pub fn new() -> Self {
        Image::default()
    }

    pub fn layer(mut self, layer: Layer, created_by: &str) -> Self {
        self.layers.push(layer);
        self.history.push((created_by.into(), false));
        self
    }

    /// A history entry without a layer (ENV, LABEL...).
    pub fn instruction(mut self, created_by: &str) -> Self {
        self.history.push((created_by.into(), true));
        self
    }

    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| t.to_string()).collect();
        self
    }

    pub fn platform(mut self, os: &str, arch: &str, variant: Option<&str>) -> Self {
        self.os = os.into();
        self.arch = arch.into();
        self.variant = variant.map(Into::into);
        self
    }

    pub fn config_json(&self, diff_ids: &[String]) -> Vec<u8> {
        let history: Vec<Value> = self
            .history
            .iter()
            .enumerate()
            .map(|(i, (cmd, empty))| {
                let mut h = json!({"created": format!("2024-01-01T00:00:{:02}Z", i % 60), "created_by": cmd});
                if *empty {
                    h["empty_layer"] = json!(true);
                }
                h
            })
            .collect();
        let mut cfg = json!({
            "architecture": self.arch,
            "os": self.os,
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(v) = &self.variant {
            cfg["variant"] = json!(v);
        }
        serde_json::to_vec(&cfg).unwrap()
    }

    pub fn build(&self, comp: Comp) -> Built {
        self.build_each(&vec![comp; self.layers.len()])
    }

    /// Build with a compression per layer.
    pub fn build_each(&self, comps: &[Comp]) -> Built {
        let layers: Vec<BuiltLayer> = self
            .layers
            .iter()
            .zip(comps)
            .map(|(l, &c)| {
                let tar = l.tar();
                let blob = c.compress(&tar);
                BuiltLayer { diff_id: digest(&tar), blob_digest: digest(&blob), tar, blob, media_type: c.media_type() }
            })
            .collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let config = self.config_json(&diff_ids);
        let config_digest = digest(&config);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": layers.iter().map(|l| json!({"mediaType": l.media_type, "digest": l.blob_digest, "size": l.blob.len()})).collect::<Vec<_>>(),
        }))
        .unwrap();
        Built { manifest_digest: digest(&manifest), manifest, config, config_digest, layers }
    }

    /// Legacy `docker save` (Docker ≤ 24): `<id>/layer.tar`, `<hex>.json`, manifest.json, repositories.
    pub fn docker_archive(&self) -> Vec<u8> {
        let built = self.build(Comp::None);
        let mut out = Outer::new();
        let mut layer_names = Vec::new();
        for (i, l) in built.layers.iter().enumerate() {
            // Layer directories are named by an id that is not the DiffID.
            let id = sha256_hex(format!("layer-id-{i}-{}", l.diff_id).as_bytes());
            out.dir(&format!("{id}/"));
            out.file(&format!("{id}/VERSION"), b"1.0");
            out.file(&format!("{id}/json"), format!("{{\"id\":\"{id}\"}}").as_bytes());
            out.file(&format!("{id}/layer.tar"), &l.tar);
            layer_names.push(format!("{id}/layer.tar"));
        }
        let config_name = format!("{}.json", &built.config_digest[7..]);
        out.file(&config_name, &built.config);
        out.file(
            "manifest.json",
            &serde_json::to_vec(&json!([{"Config": config_name, "RepoTags": self.tags, "Layers": layer_names}]))
                .unwrap(),
        );
        out.file("repositories", b"{}");
        out.finish()
    }

    /// podman/skopeo docker-archive: `<diffid>.tar` files plus `<id>/layer.tar` symlink entries.
    /// `manifest_names_links`: whether manifest.json names the symlinks instead of the files.
    pub fn podman_archive(&self, manifest_names_links: bool) -> Vec<u8> {
        let built = self.build(Comp::None);
        let mut out = Outer::new();
        let mut names = Vec::new();
        for (i, l) in built.layers.iter().enumerate() {
            let file = format!("{}.tar", &l.diff_id[7..]);
            out.file(&file, &l.tar);
            let id = sha256_hex(format!("podman-{i}").as_bytes());
            out.dir(&format!("{id}/"));
            out.symlink(&format!("{id}/layer.tar"), &format!("../{file}"));
            out.file(&format!("{id}/VERSION"), b"1.0");
            names.push(if manifest_names_links { format!("{id}/layer.tar") } else { file });
        }
        let config_name = format!("{}.json", &built.config_digest[7..]);
        out.file(&config_name, &built.config);
        let tags: Vec<String> = self.tags.iter().map(|t| format!("docker.io/{t}")).collect();
        out.file(
            "manifest.json",
            &serde_json::to_vec(&json!([{"Config": config_name, "RepoTags": tags, "Layers": names}])).unwrap(),
        );
        out.file("repositories", b"{}");
        out.finish()
    }

    /// kaniko / go-containerregistry tarball: `<hex>.tar.gz` layers, `sha256:<hex>` config.
    pub fn kaniko_tarball(&self) -> Vec<u8> {
        let built = self.build(Comp::Gzip);
        let mut out = Outer::new();
        let mut names = Vec::new();
        for l in &built.layers {
            let name = format!("{}.tar.gz", &l.blob_digest[7..]);
            out.file(&name, &l.blob);
            names.push(name);
        }
        out.file(&built.config_digest, &built.config);
        out.file(
            "manifest.json",
            &serde_json::to_vec(&json!([{"Config": built.config_digest, "RepoTags": self.tags, "Layers": names}]))
                .unwrap(),
        );
        out.finish()
    }

    /// Docker 25+ `docker save` (graphdriver store): OCI layout with uncompressed blobs named by
    /// DiffID, v1 json blobs nothing references, plus the compatibility manifest.json.
    pub fn docker25_archive(&self, variant: Docker25) -> Vec<u8> {
        let built = self.build(Comp::None);
        let mut layout = OciLayout::new();
        for (i, l) in built.layers.iter().enumerate() {
            layout.blob(&l.tar);
            layout.blob(format!("{{\"id\":\"v1-{i}\",\"created\":\"2024-01-01T00:00:00Z\"}}").as_bytes());
        }
        layout.blob(&built.config);
        let manifest = if variant == Docker25::ManifestWithoutLayers {
            let mut m: Value = serde_json::from_slice(&built.manifest).unwrap();
            m["layers"] = json!([]);
            serde_json::to_vec(&m).unwrap()
        } else {
            built.manifest.clone()
        };
        let manifest_digest = layout.blob(&manifest);
        let tag = self.tags.first().cloned().unwrap_or_default();
        match variant {
            Docker25::NullManifests => layout.index = json!({"schemaVersion": 2, "manifests": null}),
            Docker25::EmptyIndex => {}
            _ => layout.add_manifest(
                &manifest_digest,
                manifest.len(),
                Some(&format!("docker.io/{tag}")),
                Some(&tag),
                None,
            ),
        }
        let docker_manifest = json!([{
            "Config": format!("blobs/sha256/{}", &built.config_digest[7..]),
            "RepoTags": self.tags,
            "Layers": built.layers.iter().map(|l| format!("blobs/sha256/{}", &l.diff_id[7..])).collect::<Vec<_>>(),
        }]);
        layout.extra("manifest.json", &serde_json::to_vec(&docker_manifest).unwrap());
        layout.extra("repositories", b"{}");
        layout.tar()
    }

    /// An oci-archive (skopeo/buildah/podman): oci-layout, index.json → manifest → blobs.
    pub fn oci_archive(&self, comp: Comp) -> Vec<u8> {
        self.oci_layout(comp).tar()
    }

    /// The OCI layout of this image alone, tagged `latest` like skopeo does.
    pub fn oci_layout(&self, comp: Comp) -> OciLayout {
        let mut layout = OciLayout::new();
        layout.add_image(self, comp, Some("latest"), None);
        layout
    }
}

/// Broken and odd variants of Docker 25+ archives (moby#47065, #47210, #51389).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Docker25 {
    Normal,
    /// The OCI manifest lists no layers (25.0 release candidates).
    ManifestWithoutLayers,
    /// `"manifests": null` (saving by digest).
    NullManifests,
    /// index.json lists nothing (entries dropped).
    EmptyIndex,
}

/// An OCI image layout being assembled: content-addressed blobs plus index.json.
#[derive(Clone, Debug)]
pub struct OciLayout {
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub index: Value,
    pub extras: BTreeMap<String, Vec<u8>>,
    pub with_oci_layout_file: bool,
}

impl OciLayout {
    pub fn new() -> Self {
        OciLayout {
            blobs: BTreeMap::new(),
            index: json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}),
            extras: BTreeMap::new(),
            with_oci_layout_file: true,
        }
    }

    /// Store a blob; returns its digest.
    pub fn blob(&mut self, data: &[u8]) -> String {
        let d = digest(data);
        self.blobs.insert(d[7..].to_string(), data.to_vec());
        d
    }

    pub fn remove_blob(&mut self, digest: &str) {
        self.blobs.remove(&digest[7..]);
    }

    pub fn extra(&mut self, name: &str, data: &[u8]) {
        self.extras.insert(name.to_string(), data.to_vec());
    }

    /// List a manifest in index.json.
    pub fn add_manifest(
        &mut self,
        digest: &str,
        size: usize,
        containerd_name: Option<&str>,
        ref_name: Option<&str>,
        platform: Option<Value>,
    ) {
        let mut desc =
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size});
        let mut ann = serde_json::Map::new();
        if let Some(n) = containerd_name {
            ann.insert("io.containerd.image.name".into(), json!(n));
        }
        if let Some(n) = ref_name {
            ann.insert("org.opencontainers.image.ref.name".into(), json!(n));
        }
        if !ann.is_empty() {
            desc["annotations"] = Value::Object(ann);
        }
        if let Some(p) = platform {
            desc["platform"] = p;
        }
        self.index["manifests"].as_array_mut().unwrap().push(desc);
    }

    /// Store an image's blobs and list its manifest; returns the build.
    pub fn add_image(&mut self, image: &Image, comp: Comp, ref_name: Option<&str>, platform: Option<Value>) -> Built {
        let built = image.build(comp);
        self.store(&built);
        self.add_manifest(&built.manifest_digest, built.manifest.len(), None, ref_name, platform);
        built
    }

    /// Store every blob of a build (no index entry).
    pub fn store(&mut self, built: &Built) {
        for l in &built.layers {
            self.blob(&l.blob);
        }
        self.blob(&built.config);
        self.blob(&built.manifest);
    }

    /// Write the layout as a tar, entries in lexical order like the real writers.
    pub fn tar(&self) -> Vec<u8> {
        let mut out = Outer::new();
        out.dir("blobs/");
        out.dir("blobs/sha256/");
        for (hex, data) in &self.blobs {
            out.file(&format!("blobs/sha256/{hex}"), data);
        }
        out.file("index.json", &serde_json::to_vec(&self.index).unwrap());
        for (name, data) in &self.extras {
            out.file(name, data);
        }
        if self.with_oci_layout_file {
            out.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        }
        out.finish_sorted()
    }

    /// Write the layout as a directory.
    pub fn write_dir(&self, dir: &Path) {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        for (hex, data) in &self.blobs {
            std::fs::write(dir.join("blobs/sha256").join(hex), data).unwrap();
        }
        std::fs::write(dir.join("index.json"), serde_json::to_vec(&self.index).unwrap()).unwrap();
        for (name, data) in &self.extras {
            std::fs::write(dir.join(name), data).unwrap();
        }
        if self.with_oci_layout_file {
            std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        }
    }
}

impl Default for OciLayout {
    fn default() -> Self {
        Self::new()
    }
}

/// A platform object for index descriptors.
pub fn platform(os: &str, arch: &str, variant: Option<&str>) -> Value {
    let mut p = json!({"os": os, "architecture": arch});
    if let Some(v) = variant {
        p["variant"] = json!(v);
    }
    p
}

/// The outer archive being written.
pub struct Outer {
    entries: Vec<(String, OuterItem)>,
}

enum OuterItem {
    File(Vec<u8>),
    Dir,
    Symlink(String),
}

impl Outer {
    pub fn new() -> Self {
        Outer { entries: Vec::new() }
    }

    pub fn file(&mut self, name: &str, data: &[u8]) {
        self.entries.push((name.into(), OuterItem::File(data.to_vec())));
    }

    pub fn dir(&mut self, name: &str) {
        self.entries.push((name.into(), OuterItem::Dir));
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entries.push((name.into(), OuterItem::Symlink(target.into())));
    }

    /// Entries in the order added.
    pub fn finish(self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, item) in &self.entries {
            match item {
                OuterItem::File(data) => {
                    let mut h = header(tar::EntryType::Regular, Attrs::FILE.mode(0o444).mtime(0), data.len() as u64);
                    b.append_data(&mut h, name, data.as_slice()).unwrap();
                }
                OuterItem::Dir => {
                    let mut h = header(tar::EntryType::Directory, Attrs::DIR.mtime(0), 0);
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
                OuterItem::Symlink(target) => {
                    let mut h = header(tar::EntryType::Symlink, Attrs::FILE.mode(0o777).mtime(0), 0);
                    b.append_link(&mut h, name, target).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    /// Entries sorted by name (as Docker and containerd write them: blobs before manifest.json).
    pub fn finish_sorted(mut self) -> Vec<u8> {
        self.entries.sort_by(|a, b| a.0.cmp(&b.0));
        self.finish()
    }
}

impl Default for Outer {
    fn default() -> Self {
        Self::new()
    }
}

/// Load a docker archive of these layers, the nth made by the command "step n".
pub fn load_layers(layers: Vec<Layer>) -> layerscope::Image {
    let mut img = Image::new();
    for (i, l) in layers.into_iter().enumerate() {
        img = img.layer(l, &format!("step {i}"));
    }
    load(img.docker_archive())
}

/// Load an in-memory archive with the library.
pub fn load(bytes: Vec<u8>) -> layerscope::Image {
    try_load(bytes).unwrap_or_else(|e| panic!("load failed: {e}"))
}

pub fn try_load(bytes: Vec<u8>) -> layerscope::Result<layerscope::Image> {
    try_load_with(bytes, layerscope::Selection::default())
}

pub fn try_load_with(bytes: Vec<u8>, selection: layerscope::Selection) -> layerscope::Result<layerscope::Image> {
    let input = layerscope::Input::Bytes { name: "test.tar".into(), bytes: bytes.into() };
    layerscope::load(&input, &selection)
}

/// `files` records after `layer` (default the last), as (path, kind, change) triples.
pub fn tree_at(image: &layerscope::Image, layer: Option<usize>) -> Vec<(String, &'static str, &'static str)> {
    use layerscope::report::files::{FilesOptions, file_records};
    file_records(image, FilesOptions { layer, changes_only: false })
        .into_iter()
        .map(|r| (r.path, r.kind, r.change))
        .collect()
}

/// Paths visible after `layer` (default the last).
pub fn paths_at(image: &layerscope::Image, layer: Option<usize>) -> Vec<String> {
    tree_at(image, layer).into_iter().map(|(p, _, _)| p).collect()
}

/// What `layer` changed, as (path, change) pairs.
pub fn changes_at(image: &layerscope::Image, layer: usize) -> Vec<(String, &'static str)> {
    use layerscope::report::files::{FilesOptions, file_records};
    file_records(image, FilesOptions { layer: Some(layer), changes_only: true })
        .into_iter()
        .map(|r| (r.path, r.change))
        .collect()
}

/// Deterministic pseudo-random numbers (xorshift) for seeded property and mutation tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// PATH with the system's tools (the isolated runs below get none unless given this).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The binary, with a cache and a home of the test's own, and no credentials or engines from
/// the machine running the tests.
pub fn isolated(home: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_layerscope"));
    command
        .args(args)
        .env("HOME", home)
        .env("LAYERSCOPE_CACHE_DIR", home.join("cache"))
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("CONTAINER_HOST", "unix:///nonexistent/podman.sock")
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1");
    for var in ["CI", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json_of(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A test's missing prerequisite: with `LAYERSCOPE_REQUIRE_<FLAG>=1` (CI sets them) it fails the
/// test, so a skip never looks like a pass there; elsewhere the test says it skipped.
pub fn missing(flag: &str, what: &str) {
    let var = format!("LAYERSCOPE_REQUIRE_{flag}");
    assert!(std::env::var_os(&var).is_none_or(|v| v != "1"), "{what}, and {var}=1 requires it");
    eprintln!("skipped: {what} (set {var}=1 to make this a failure)");
}

/// The shared fixtures directory next to the project (`../shared`), or why it is missing.
pub fn shared_dir() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.is_dir() {
        return Some(dir);
    }
    missing("SHARED", "../shared (dive's fixtures and the corpus scripts) is not present");
    None
}

/// One legacy `docker save` archive holding several images (as `docker save a b` writes).
pub fn several_images_archive(images: &[&Image]) -> Vec<u8> {
    let mut out = Outer::new();
    let mut entries = Vec::new();
    for img in images {
        let built = img.build(Comp::None);
        let cfg = format!("{}.json", &built.config_digest[7..]);
        out.file(&cfg, &built.config);
        let mut layers = Vec::new();
        for l in &built.layers {
            let layer = format!("{}/layer.tar", &l.diff_id[7..]);
            out.file(&layer, &l.tar);
            layers.push(layer);
        }
        entries.push(json!({"Config": cfg, "RepoTags": img.tags, "Layers": layers}));
    }
    out.file("manifest.json", &serde_json::to_vec(&entries).unwrap());
    out.finish()
}

/// A docker archive of [`dpkg_image`].
pub fn dpkg_archive() -> Vec<u8> {
    dpkg_image().docker_archive()
}

/// An image whose dpkg database changes: layer 0 installs libssl3 3.0.13 and `old`; layer 1
/// installs git, upgrades libssl3 to 3.0.15 and removes `old`; /opt/app/main is no package's.
pub fn dpkg_image() -> Image {
    let status = |pkgs: &[(&str, &str)]| {
        pkgs.iter()
            .map(|(n, v)| format!("Package: {n}\nStatus: install ok installed\nVersion: {v}\nInstalled-Size: 3\n"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    Image::new()
        .layer(
            Layer::new()
                .file("var/lib/dpkg/status", status(&[("libssl3", "3.0.13"), ("old", "1")]).as_bytes())
                .file("var/lib/dpkg/info/libssl3:amd64.list", b"/.\n/usr\n/usr/lib/libssl.so.3\n")
                .file("var/lib/dpkg/info/old.list", b"/usr/bin/old\n")
                .file("usr/lib/libssl.so.3", &[1; 2_000])
                .file("usr/bin/old", &[2; 500]),
            "ADD rootfs.tar /",
        )
        .layer(
            Layer::new()
                .file("var/lib/dpkg/status", status(&[("git", "2.39.5"), ("libssl3", "3.0.15")]).as_bytes())
                .file("var/lib/dpkg/info/git.list", b"/usr/bin/git\n")
                .file("var/lib/dpkg/info/libssl3:amd64.list", b"/usr/lib/libssl.so.3\n")
                .whiteout("var/lib/dpkg/info/old.list")
                .whiteout("usr/bin/old")
                .file("usr/bin/git", &[3; 3_000])
                .file("usr/lib/libssl.so.3", &[4; 2_100])
                .file("opt/app/main", &[5; 700]),
            "/bin/sh -c apt-get install -y git && apt-get upgrade -y && apt-get remove -y old",
        )
}

/// An rpm header blob as rpm's sqlite database stores it (index count, data length, 16-byte index
/// entries, data): name, version, release, size and files.
pub fn rpm_header(name: &str, version: &str, release: &str, size: u32, files: &[&str]) -> Vec<u8> {
    rpm_header_for("x86_64", name, version, release, size, files)
}

/// [`rpm_header`] of another architecture.
pub fn rpm_header_for(arch: &str, name: &str, version: &str, release: &str, size: u32, files: &[&str]) -> Vec<u8> {
    // (tag, type, values): STRING 6, STRING_ARRAY 8, INT32 4.
    let mut dirs: Vec<String> = Vec::new();
    let mut bases = Vec::new();
    let mut indexes = Vec::new();
    for f in files {
        let (dir, base) = f.rsplit_once('/').unwrap();
        let dir = format!("{dir}/");
        let i = dirs.iter().position(|d| *d == dir).unwrap_or_else(|| {
            dirs.push(dir);
            dirs.len() - 1
        });
        bases.push(base.to_string());
        indexes.push(i as u32);
    }
    let strings: Vec<(u32, u32, Vec<String>)> = vec![
        (1000, 6, vec![name.into()]),
        (1001, 6, vec![version.into()]),
        (1002, 6, vec![release.into()]),
        (1022, 6, vec![arch.into()]),
        (1117, 8, bases),
        (1118, 8, dirs),
    ];
    let (mut index, mut data) = (Vec::new(), Vec::new());
    for (tag, kind, values) in &strings {
        index.push((*tag, *kind, data.len() as u32, values.len() as u32));
        for v in values {
            data.extend_from_slice(v.as_bytes());
            data.push(0);
        }
    }
    for (tag, values) in [(1009u32, vec![size]), (1116, indexes)] {
        while data.len() % 4 != 0 {
            data.push(0);
        }
        index.push((tag, 4, data.len() as u32, values.len() as u32));
        for v in values {
            data.extend_from_slice(&v.to_be_bytes());
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(index.len() as u32).to_be_bytes());
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for (tag, kind, offset, count) in index {
        for n in [tag, kind, offset, count] {
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(&data);
    out
}

/// The bytes of an `rpmdb.sqlite` holding `headers`, in rpm's schema (its `Packages` table).
pub fn rpmdb_sqlite(headers: &[Vec<u8>]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rpmdb.sqlite");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
         CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL);",
    )
    .unwrap();
    for h in headers {
        db.execute("INSERT INTO Packages (blob) VALUES (?1)", [h]).unwrap();
    }
    drop(db);
    std::fs::read(path).unwrap()
}
