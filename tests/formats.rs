//! Every archive layout layerscope reads (docs/formats.md §1–7), built in code, and the format
//! traps of §11 (6, 7, 8), each its own test.

use crate::support;

use layerscope::format::{ArchiveFormat, Platform};
use layerscope::{Error, Selection, WarningKind};
use serde_json::json;
use support::{Comp, Docker25, Image, Layer, OciLayout, Outer, digest, load, platform, try_load, try_load_with};

fn three_layer_image() -> Image {
    Image::new()
        .layer(
            Layer::new().dir("etc").file("etc/os-release", b"ID=test\n").file("etc/big", &[7u8; 3000]),
            "/bin/sh -c #(nop) ADD file:abc in / ",
        )
        .instruction("/bin/sh -c #(nop)  ENV A=1")
        .layer(Layer::new().dir("app").file("app/a.txt", b"hello"), "/bin/sh -c echo hello > /app/a.txt")
        .instruction("/bin/sh -c #(nop)  LABEL x=y")
        .instruction("/bin/sh -c #(nop)  CMD [\"sh\"]")
        .layer(Layer::new().dir("etc").whiteout("etc/big"), "/bin/sh -c rm /etc/big")
}

/// What every format must agree on for `three_layer_image`.
fn assert_three_layer_model(image: &layerscope::Image) {
    let built = three_layer_image().build(Comp::None);
    assert_eq!(image.layers.len(), 3);
    for (layer, b) in image.layers.iter().zip(&built.layers) {
        assert_eq!(layer.diff_id.as_deref(), Some(b.diff_id.as_str()), "layer {} DiffID", layer.index);
    }
    let commands: Vec<_> = image.layers.iter().map(|l| l.command()).collect();
    assert_eq!(commands, [Some("#(nop) ADD file:abc in / "), Some("echo hello > /app/a.txt"), Some("rm /etc/big")]);
    assert_eq!(image.layers[0].size_bytes, 8 + 3000);
    assert_eq!(image.layers[1].size_bytes, 5);
    assert_eq!(image.layers[2].size_bytes, 0);
    let empties: Vec<Vec<_>> = image
        .layers
        .iter()
        .map(|l| l.empty_instructions.iter().map(|h| h.created_by.clone().unwrap()).collect())
        .collect();
    assert_eq!(empties[0], ["/bin/sh -c #(nop)  ENV A=1"]);
    assert_eq!(empties[1], ["/bin/sh -c #(nop)  LABEL x=y", "/bin/sh -c #(nop)  CMD [\"sh\"]"]);
    assert!(empties[2].is_empty());
    assert_eq!(support::paths_at(image, None), ["/app", "/app/a.txt", "/etc", "/etc/os-release"]);
    assert!(image.warnings.is_empty(), "{:?}", image.warnings);
}

#[test]
fn legacy_docker_save() {
    let image = load(three_layer_image().docker_archive());
    assert_eq!(image.format, ArchiveFormat::DockerArchive);
    assert_eq!(image.tags, ["example/app:latest"]);
    assert_eq!(image.platform.as_ref().map(ToString::to_string).as_deref(), Some("linux/amd64"));
    // An uncompressed blob's digest is its DiffID.
    assert_eq!(image.layers[0].blob_digest, image.layers[0].diff_id);
    assert_three_layer_model(&image);
}

#[test]
fn podman_archive_with_symlinked_layer_tar() {
    let image = load(three_layer_image().podman_archive(false));
    assert_eq!(image.format, ArchiveFormat::PodmanDockerArchive);
    assert_eq!(image.tags, ["docker.io/example/app:latest"]);
    assert_three_layer_model(&image);
}

#[test]
fn trap_8_podman_manifest_naming_the_layer_tar_symlinks() {
    // dive reads the symlink entries as empty layers; the link must be followed inside the tar.
    let image = load(three_layer_image().podman_archive(true));
    assert_three_layer_model(&image);
}

#[test]
fn kaniko_tarball_with_gzip_layers() {
    let image = load(three_layer_image().kaniko_tarball());
    assert_eq!(image.format, ArchiveFormat::GoContainerregistryTarball);
    assert!(image.layers.iter().all(|l| l.compression == Some(layerscope::archive::compression::Compression::Gzip)));
    assert_three_layer_model(&image);
}

#[test]
fn docker_25_save() {
    let image = load(three_layer_image().docker25_archive(Docker25::Normal));
    assert_eq!(image.format, ArchiveFormat::DockerOciArchive);
    assert_eq!(image.tags, ["example/app:latest"]);
    assert_three_layer_model(&image);
}

#[test]
fn trap_6_docker_25_manifest_without_layers() {
    let image = load(three_layer_image().docker25_archive(Docker25::ManifestWithoutLayers));
    assert_three_layer_model(&image);
}

#[test]
fn trap_6_docker_25_null_manifests() {
    let image = load(three_layer_image().docker25_archive(Docker25::NullManifests));
    assert_three_layer_model(&image);
}

#[test]
fn trap_6_docker_25_index_without_entries() {
    let image = load(three_layer_image().docker25_archive(Docker25::EmptyIndex));
    assert_three_layer_model(&image);
}

#[test]
fn oci_archive_in_every_compression() {
    for comp in [Comp::None, Comp::Gzip, Comp::GzipMultiMember, Comp::Zstd] {
        let image = load(three_layer_image().oci_archive(comp));
        assert_eq!(image.format, ArchiveFormat::OciArchive, "{comp:?}");
        assert_eq!(image.tags, ["latest"]);
        let built = three_layer_image().build(comp);
        assert_eq!(image.manifest_digest.as_deref(), Some(built.manifest_digest.as_str()));
        assert_eq!(image.layers[1].blob_digest.as_deref(), Some(built.layers[1].blob_digest.as_str()));
        assert_eq!(image.layers[1].media_type.as_deref(), Some(comp.media_type()));
        assert_eq!(image.layers[1].blob_bytes, Some(built.layers[1].blob.len() as u64));
        assert_three_layer_model(&image);
    }
}

#[test]
fn mixed_compressions_in_one_image() {
    let mut layout = OciLayout::new();
    let built = three_layer_image().build_each(&[Comp::Zstd, Comp::None, Comp::Gzip]);
    layout.store(&built);
    layout.add_manifest(&built.manifest_digest, built.manifest.len(), None, Some("latest"), None);
    let image = load(layout.tar());
    let comps: Vec<_> = image.layers.iter().map(|l| l.compression.unwrap().to_string()).collect();
    assert_eq!(comps, ["zstd", "uncompressed", "gzip"]);
    assert_three_layer_model(&image);
}

#[test]
fn compression_is_sniffed_not_trusted() {
    // A blob that claims gzip but is a plain tar is read (with a warning), not rejected.
    let mut layout = OciLayout::new();
    let mut built = three_layer_image().build(Comp::None);
    let mut manifest: serde_json::Value = serde_json::from_slice(&built.manifest).unwrap();
    manifest["layers"][0]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    built.manifest = serde_json::to_vec(&manifest).unwrap();
    built.manifest_digest = digest(&built.manifest);
    layout.store(&built);
    layout.add_manifest(&built.manifest_digest, built.manifest.len(), None, None, None);
    let image = load(layout.tar());
    assert_three_layer_model_without_warning_check(&image);
    assert!(image.warnings.iter().any(|w| w.kind == WarningKind::MetadataMismatch && w.layer == Some(0)));
}

fn assert_three_layer_model_without_warning_check(image: &layerscope::Image) {
    assert_eq!(support::paths_at(image, None), ["/app", "/app/a.txt", "/etc", "/etc/os-release"]);
}

#[test]
fn oci_layout_directory() {
    let dir = tempfile::tempdir().unwrap();
    three_layer_image().oci_layout(Comp::Gzip).write_dir(dir.path());
    let image = layerscope::load(&layerscope::Input::Path(dir.path().into()), &Selection::default()).unwrap();
    assert_eq!(image.format, ArchiveFormat::OciDirectory);
    assert_three_layer_model(&image);
}

#[test]
fn unpacked_docker_save_directory() {
    let dir = tempfile::tempdir().unwrap();
    let archive = three_layer_image().docker_archive();
    tar::Archive::new(archive.as_slice()).unpack(dir.path()).unwrap();
    let image = layerscope::load(&layerscope::Input::Path(dir.path().into()), &Selection::default()).unwrap();
    assert_eq!(image.format, ArchiveFormat::DockerArchiveDirectory);
    assert_three_layer_model(&image);
}

#[test]
fn compressed_outer_archive() {
    for comp in [Comp::Gzip, Comp::Zstd] {
        let image = load(comp.compress(&three_layer_image().docker_archive()));
        assert_eq!(
            image.outer_compression.map(|c| c.to_string()),
            Some(if comp == Comp::Gzip { "gzip" } else { "zstd" }.into())
        );
        assert_three_layer_model(&image);
    }
}

#[test]
fn outer_entries_with_dot_slash_prefix() {
    // `tar -C layout -cf x.tar .` writes ./index.json, ./blobs/sha256/...
    let layout = three_layer_image().oci_layout(Comp::None);
    let mut out = Outer::new();
    out.dir("./");
    for (hex, data) in &layout.blobs {
        out.file(&format!("./blobs/sha256/{hex}"), data);
    }
    out.file("./index.json", &serde_json::to_vec(&layout.index).unwrap());
    out.file("./oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    assert_three_layer_model(&load(out.finish()));
}

fn multi_platform_layout() -> (OciLayout, Vec<support::Built>) {
    let mut layout = OciLayout::new();
    let mut builds = Vec::new();
    let mut index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []});
    for (arch, variant) in [("arm64", Some("v8")), ("amd64", None), ("arm", Some("v7"))] {
        let img = Image::new()
            .platform("linux", arch, variant)
            .layer(Layer::new().file(&format!("arch-{arch}"), arch.as_bytes()), "/bin/sh -c build");
        let built = img.build(Comp::Gzip);
        layout.store(&built);
        index["manifests"].as_array_mut().unwrap().push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": built.manifest_digest, "size": built.manifest.len(),
            "platform": platform("linux", arch, variant),
        }));
        builds.push(built);
    }
    // An attestation manifest, as buildx adds.
    let att = Image::new().layer(Layer::new().file("intoto.json", b"{}"), "attest").build(Comp::None);
    layout.store(&att);
    index["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": att.manifest_digest, "size": att.manifest.len(),
        "platform": {"os": "unknown", "architecture": "unknown"},
        "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
    }));
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let index_digest = layout.blob(&index_bytes);
    layout.index["manifests"] = json!([{
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": index_digest, "size": index_bytes.len(),
        "annotations": {"io.containerd.image.name": "docker.io/library/multi:1.0", "org.opencontainers.image.ref.name": "1.0"},
    }]);
    (layout, builds)
}

#[test]
fn nested_index_defaults_to_linux_amd64() {
    let (layout, _) = multi_platform_layout();
    let image = load(layout.tar());
    assert_eq!(image.platform.as_ref().unwrap().to_string(), "linux/amd64");
    assert_eq!(support::paths_at(&image, None), ["/arch-amd64"]);
    assert_eq!(image.tags, ["docker.io/library/multi:1.0"]);
}

#[test]
fn platform_flag_picks_a_manifest() {
    let (layout, _) = multi_platform_layout();
    let pick = |p: &str| {
        let sel = Selection { platform: Platform::parse(p), ..Selection::default() };
        try_load_with(layout.tar(), sel)
    };
    assert_eq!(support::paths_at(&pick("linux/arm64").unwrap(), None), ["/arch-arm64"]);
    assert_eq!(support::paths_at(&pick("linux/arm/v7").unwrap(), None), ["/arch-arm"]);
    match pick("linux/s390x") {
        Err(Error::PlatformNotFound { wanted, available }) => {
            assert_eq!(wanted, "linux/s390x");
            assert_eq!(available, ["linux/arm64/v8", "linux/amd64", "linux/arm/v7"]);
        }
        other => panic!("expected PlatformNotFound, got {other:?}"),
    }
    let message = pick("linux/s390x").unwrap_err().to_string();
    assert!(message.contains("linux/arm64/v8, linux/amd64, linux/arm/v7"), "{message}");
}

#[test]
fn first_manifest_when_no_amd64() {
    let mut layout = OciLayout::new();
    for arch in ["arm64", "ppc64le"] {
        let img = Image::new().platform("linux", arch, None).layer(Layer::new().file(arch, b"x"), "build");
        layout.add_image(&img, Comp::None, Some("latest"), Some(platform("linux", arch, None)));
    }
    // Two descriptors with the same ref name but different platforms: one image, two platforms.
    let image = load(layout.tar());
    assert_eq!(image.platform.unwrap().to_string(), "linux/arm64");
}

#[test]
fn trap_7_containerd_store_save() {
    // Docker 29 with the containerd store: compressed blobs, a nested index with attestations,
    // the blobs of other platforms missing, and manifest.json naming compressed digests.
    let (mut layout, builds) = multi_platform_layout();
    for b in [&builds[0], &builds[2]] {
        for l in &b.layers {
            layout.remove_blob(&l.blob_digest);
        }
        layout.remove_blob(&b.config_digest);
        layout.remove_blob(&b.manifest_digest);
    }
    let amd64 = &builds[1];
    let manifest_json = json!([{
        "Config": format!("blobs/sha256/{}", &amd64.config_digest[7..]),
        "RepoTags": ["multi:1.0"],
        "Layers": amd64.layers.iter().map(|l| format!("blobs/sha256/{}", &l.blob_digest[7..])).collect::<Vec<_>>(),
    }]);
    layout.extra("manifest.json", &serde_json::to_vec(&manifest_json).unwrap());
    let image = load(layout.tar());
    assert_eq!(image.format, ArchiveFormat::DockerOciArchive);
    assert_eq!(support::paths_at(&image, None), ["/arch-amd64"]);
    assert_eq!(image.layers[0].compression.unwrap().to_string(), "gzip");

    // Asking for a platform whose blobs are gone says which platforms exist.
    let sel = Selection { platform: Platform::parse("linux/arm64"), ..Selection::default() };
    let err = try_load_with(layout.tar(), sel).unwrap_err();
    assert!(matches!(err, Error::PlatformNotFound { .. }), "{err}");
}

#[test]
fn trap_7_missing_layer_blob_is_reported_not_fatal() {
    let mut layout = three_layer_image().oci_layout(Comp::Gzip);
    let built = three_layer_image().build(Comp::Gzip);
    layout.remove_blob(&built.layers[1].blob_digest);
    let image = load(layout.tar());
    assert!(image.layers[1].missing);
    assert!(!image.layers[0].missing);
    let warning = image.warnings.iter().find(|w| w.kind == WarningKind::MissingLayer).expect("a warning");
    assert_eq!(warning.layer, Some(1));
    assert!(warning.message.contains(&built.layers[1].blob_digest[7..]), "{}", warning.message);
    assert_eq!(support::paths_at(&image, None), ["/etc", "/etc/os-release"]);
}

#[test]
fn several_images_need_a_choice() {
    // One docker archive with two images.
    let a = Image::new().tags(&["a:1"]).layer(Layer::new().file("a", b"a"), "a");
    let b = Image::new().tags(&["b:2"]).layer(Layer::new().file("b", b"b"), "b");
    let archive = support::several_images_archive(&[&a, &b]);
    match try_load(archive.clone()) {
        Err(Error::SeveralImages { available }) => assert_eq!(available, ["a:1", "b:2"]),
        other => panic!("expected SeveralImages, got {other:?}"),
    }
    // The explorer's picker names one by its place in that list.
    let nth = |i: usize| Selection { index: Some(i), ..Selection::default() };
    assert_eq!(support::paths_at(&try_load_with(archive.clone(), nth(1)).unwrap(), None), ["/b"]);
    assert_eq!(support::paths_at(&try_load_with(archive.clone(), nth(0)).unwrap(), None), ["/a"]);
    let sel = |name: &str| Selection { image: Some(name.into()), ..Selection::default() };
    assert_eq!(support::paths_at(&try_load_with(archive.clone(), sel("b:2")).unwrap(), None), ["/b"]);
    assert_eq!(support::paths_at(&try_load_with(archive.clone(), sel("docker.io/library/a:1")).unwrap(), None), ["/a"]);
    let err = try_load_with(archive, sel("c:3")).unwrap_err();
    assert_eq!(err.to_string(), "the archive has no image named 'c:3'; it holds:\n  a:1\n  b:2");
}

#[test]
fn image_names_match_as_podman_and_docker_users_type_them() {
    // `podman save -m` names local images localhost/…; two tags of one repository.
    let web1 = Image::new().tags(&["localhost/holdout/web:1.0"]).layer(Layer::new().file("one", b"1"), "one");
    let web2 = Image::new().tags(&["localhost/holdout/web:2.0"]).layer(Layer::new().file("two", b"2"), "two");
    let api = Image::new().tags(&["localhost/holdout/api:1.0"]).layer(Layer::new().file("api", b"a"), "api");
    let mut out = Outer::new();
    let mut entries = Vec::new();
    for img in [&web1, &web2, &api] {
        let built = img.build(Comp::None);
        let cfg = format!("{}.json", &built.config_digest[7..]);
        out.file(&cfg, &built.config);
        let layer = format!("{}.tar", &built.layers[0].diff_id[7..]);
        out.file(&layer, &built.layers[0].tar);
        entries.push(json!({"Config": cfg, "RepoTags": img.tags, "Layers": [layer]}));
    }
    out.file("manifest.json", &serde_json::to_vec(&entries).unwrap());
    let archive = out.finish();
    let sel = |name: &str| Selection { image: Some(name.into()), ..Selection::default() };
    let paths = |name: &str| support::paths_at(&try_load_with(archive.clone(), sel(name)).unwrap(), None);
    assert_eq!(paths("web:1.0"), ["/one"]);
    assert_eq!(paths("holdout/web:2.0"), ["/two"]);
    assert_eq!(paths("api"), ["/api"], "no tag: any tag, when one image has the name");
    assert_eq!(paths("localhost/holdout/web:1.0"), ["/one"]);
    let err = try_load_with(archive.clone(), sel("holdout/web")).unwrap_err().to_string();
    assert_eq!(
        err,
        "--image 'holdout/web' matches 2 images; name one of them in full:\n  localhost/holdout/web:1.0\n  \
         localhost/holdout/web:2.0"
    );
    let err = try_load_with(archive, sel("eb")).unwrap_err();
    assert!(matches!(err, Error::ImageNotFound { .. }), "{err}");
}

#[test]
fn several_images_in_an_oci_layout() {
    let mut layout = OciLayout::new();
    let a = Image::new().layer(Layer::new().file("a", b"a"), "a");
    let b = Image::new().layer(Layer::new().file("b", b"b"), "b");
    layout.add_image(&a, Comp::Gzip, Some("v1"), None);
    layout.add_image(&b, Comp::Gzip, Some("v2"), None);
    assert!(matches!(try_load(layout.tar()), Err(Error::SeveralImages { .. })));
    let sel = Selection { image: Some("v2".into()), ..Selection::default() };
    assert_eq!(support::paths_at(&try_load_with(layout.tar(), sel).unwrap(), None), ["/b"]);
}

#[test]
fn artifacts_are_not_images() {
    let mut layout = OciLayout::new();
    let empty = layout.blob(b"{}");
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
    }))
    .unwrap();
    let d = layout.blob(&manifest);
    layout.add_manifest(&d, manifest.len(), None, Some("sbom"), None);
    let err = try_load(layout.tar()).unwrap_err();
    assert!(matches!(err, Error::NoImage { .. }), "{err}");
    assert!(err.to_string().contains("artifact"), "{err}");
}

#[test]
fn missing_config_names_the_entry() {
    let mut layout = three_layer_image().oci_layout(Comp::None);
    let built = three_layer_image().build(Comp::None);
    layout.remove_blob(&built.config_digest);
    let err = try_load(layout.tar()).unwrap_err().to_string();
    assert!(err.contains(&format!("blobs/sha256/{}", &built.config_digest[7..])), "{err}");
    assert!(err.contains("but the archive has no such entry"), "{err}");
}

#[test]
fn filesystem_tarball_is_not_an_image() {
    let rootfs = Layer::new().file("README.md", b"hello").tar();
    let err = try_load(rootfs).unwrap_err();
    assert!(matches!(err, Error::FilesystemTarball { .. }));
    assert!(err.to_string().contains("is a filesystem tarball, not an image"), "{err}");
    assert!(err.to_string().contains("README.md"), "{err}");
}

#[test]
fn garbage_is_not_an_archive() {
    for (bytes, expect) in [
        (Vec::new(), "empty"),
        (b"hello world, this is not a tar".to_vec(), "not a tar archive"),
        (b"BZh91AY&SY".to_vec(), "bzip2"),
    ] {
        let err = try_load(bytes).unwrap_err().to_string();
        assert!(err.contains(expect), "{err}");
    }
}

#[test]
fn bad_json_names_the_entry() {
    let mut out = Outer::new();
    out.file("manifest.json", b"[{\"Config\": 12");
    let err = try_load(out.finish()).unwrap_err().to_string();
    assert!(err.starts_with("manifest.json is not a valid Docker image manifest"), "{err}");
}

#[test]
fn history_and_diff_ids_out_of_step_warn() {
    let mut img = three_layer_image();
    img.history.truncate(1);
    let image = load(img.docker_archive());
    assert_eq!(image.layers[0].command(), Some("#(nop) ADD file:abc in / "));
    assert_eq!(image.layers[2].command(), None);
    assert!(image.warnings.iter().any(|w| w.kind == WarningKind::HistoryMismatch));
}

#[test]
fn blob_digests_that_try_to_escape_are_rejected() {
    let mut layout = OciLayout::new();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:../../../etc/passwd", "size": 1},
        "layers": [],
    }))
    .unwrap();
    let d = layout.blob(&manifest);
    layout.add_manifest(&d, manifest.len(), None, None, None);
    let err = try_load(layout.tar()).unwrap_err().to_string();
    assert!(err.contains("invalid config digest"), "{err}");
}

/// Byte offsets where each entry of an outer tar ends (data padded to 512), by name.
fn entry_ends(archive: &[u8]) -> Vec<(String, u64)> {
    let mut tar = tar::Archive::new(archive);
    tar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let end = (e.raw_file_position() + e.size()).div_ceil(512) * 512;
            (e.path().unwrap().to_string_lossy().into_owned(), end)
        })
        .collect()
}

#[test]
fn an_archive_cut_inside_an_entry_says_it_is_truncated() {
    let archive = three_layer_image().docker_archive();
    let (layer, end) = entry_ends(&archive).into_iter().find(|(n, _)| n.ends_with("/layer.tar")).unwrap();
    let err = try_load(archive[..end as usize - 700].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated: the entry"), "{err}");
    assert!(err.contains(&layer) && err.contains("bytes missing"), "{err}");
    // Cut inside the header after it.
    let err = try_load(archive[..end as usize + 100].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated: it ends inside the tar header that follows"), "{err}");
}

#[test]
fn an_archive_cut_between_entries_before_its_manifest_is_incomplete_not_a_rootfs() {
    let archive = three_layer_image().docker_archive();
    let ends = entry_ends(&archive);
    let (config, end) = ends.iter().find(|(n, _)| n.ends_with(".json") && !n.contains('/')).unwrap().clone();
    let err = try_load(archive[..end as usize].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated: it ends after"), "{err}");
    assert!(err.contains(&config) && err.contains(&format!("at byte {end}")), "{err}");
    assert!(!err.contains("filesystem tarball"), "{err}");
    // An OCI archive cut before index.json: its blobs say it is an image.
    let mut tar = three_layer_image().oci_archive(Comp::Gzip);
    let ends = entry_ends(&tar);
    let last_blob = ends.iter().filter(|(n, _)| n.starts_with("blobs/sha256/")).map(|e| e.1).max().unwrap();
    tar.truncate(last_blob as usize);
    let err = try_load(tar).unwrap_err().to_string();
    assert!(err.contains("is truncated: it ends after blobs/sha256/"), "{err}");
    // A real root filesystem tarball stays what it is.
    let err = try_load(Layer::new().dir("etc").file("etc/passwd", b"root").tar()).unwrap_err().to_string();
    assert!(err.contains("is a filesystem tarball, not an image"), "{err}");
}

#[test]
fn a_cut_archive_is_truncated_wherever_the_cut_falls() {
    // Config first, then manifest.json, then the layers (an order some writers use): cut after
    // the manifest, the layers are the cut, not missing blobs of a containerd save.
    let image = three_layer_image();
    let built = image.build(Comp::None);
    let mut out = Outer::new();
    let config = format!("{}.json", &built.config_digest[7..]);
    out.file(&config, &built.config);
    let layers: Vec<String> = built.layers.iter().map(|l| format!("{}.tar", &l.diff_id[7..])).collect();
    out.file(
        "manifest.json",
        &serde_json::to_vec(&json!([{"Config": config, "RepoTags": ["a:1"], "Layers": layers}])).unwrap(),
    );
    for (name, l) in layers.iter().zip(&built.layers) {
        out.file(name, &l.tar);
    }
    let archive = out.finish();
    let ends = entry_ends(&archive);
    let cut_at = ends.iter().find(|(n, _)| n == &layers[1]).unwrap().1;
    let err = try_load(archive[..cut_at as usize].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated") && err.contains("the blob of layer 2"), "{err}");
    // Cut right after manifest.json of a legacy save whose config comes later.
    let legacy = three_layer_image().docker_archive();
    let mut reordered = Outer::new();
    let mut tar = tar::Archive::new(&legacy[..]);
    let mut entries: Vec<(String, Vec<u8>)> = tar
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            (name, data)
        })
        .collect();
    entries.sort_by_key(|(n, _)| n != "manifest.json");
    for (n, d) in &entries {
        if n.ends_with('/') {
            reordered.dir(n);
        } else {
            reordered.file(n, d);
        }
    }
    let reordered = reordered.finish();
    let end = entry_ends(&reordered).into_iter().find(|(n, _)| n == "manifest.json").unwrap().1;
    let err = try_load(reordered[..end as usize].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated") && err.contains("that manifest.json lists is not in it"), "{err}");
    // A cut gzip-compressed archive.
    let gz = support::gzip(&three_layer_image().docker_archive());
    let err = try_load(gz[..gz.len() / 2].to_vec()).unwrap_err().to_string();
    assert!(err.contains("is truncated: its gzip stream ends early, after"), "{err}");
}

#[test]
fn a_bare_oci_tag_does_not_match_every_name_and_docker_hub_names_normalise() {
    let mut layout = OciLayout::new();
    let a = Image::new().layer(Layer::new().file("a", b"a"), "a");
    layout.add_image(&a, Comp::Gzip, Some("latest"), None);
    let sel = |name: &str| Selection { image: Some(name.into()), ..Selection::default() };
    assert!(matches!(try_load_with(layout.tar(), sel("nope")), Err(Error::ImageNotFound { .. })));
    assert!(try_load_with(layout.tar(), sel("anything:latest")).is_ok(), "a name with that tag still matches");
    let busybox = Image::new().tags(&["docker.io/library/busybox:latest"]).layer(Layer::new().file("b", b"b"), "b");
    let other = Image::new().tags(&["docker.io/library/alpine:3"]).layer(Layer::new().file("c", b"c"), "c");
    let mut out = Outer::new();
    let mut entries = Vec::new();
    for img in [&busybox, &other] {
        let built = img.build(Comp::None);
        let cfg = format!("{}.json", &built.config_digest[7..]);
        out.file(&cfg, &built.config);
        let layer = format!("{}.tar", &built.layers[0].diff_id[7..]);
        out.file(&layer, &built.layers[0].tar);
        entries.push(json!({"Config": cfg, "RepoTags": img.tags, "Layers": [layer]}));
    }
    out.file("manifest.json", &serde_json::to_vec(&entries).unwrap());
    let archive = out.finish();
    for name in ["docker.io/busybox", "busybox", "index.docker.io/library/busybox:latest"] {
        let image = try_load_with(archive.clone(), sel(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(support::paths_at(&image, None), ["/b"], "{name}");
    }
}
