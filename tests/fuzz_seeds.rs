//! Seed corpora for the fuzz targets in `tests/fuzz`, made by the fixture builder:
//! `LAYERSCOPE_FUZZ_SEEDS=tests/fuzz/corpus cargo test fuzz_seeds -- --ignored` writes one folder
//! per target (README, "Fuzzing").

use std::path::{Path, PathBuf};

use crate::support::{Attrs, Comp, Docker25, Image, Layer};

fn layers() -> Vec<Layer> {
    vec![
        Layer::new().dir("etc").file("etc/os-release", b"ID=alpine\n").file_with(
            "bin/sh",
            &[7; 600],
            Attrs::FILE.mode(0o755),
        ),
        Layer::new().dir("etc").whiteout("etc/os-release").opaque("var/cache").file("var/cache/new", b"n"),
        Layer::new().file("a", b"data").hardlink("b", "a").symlink("c", "a").fifo("p").char_device("null", 1, 3),
        Layer::new().pax_file(format!("long/{}", "n".repeat(200)).as_bytes(), b"pax").file_bytes(b"caf\xe9", b"x"),
        Layer::new().file_bytes("g".repeat(150).as_bytes(), b"gnu long name"),
        Layer::new().file_with("o", b"owner", Attrs::FILE.owner(1000, 1000).mtime(1)),
    ]
}

fn image() -> Image {
    let mut image = Image::new().instruction("/bin/sh -c #(nop)  ENV A=1");
    for (i, l) in layers().into_iter().enumerate() {
        image = image.layer(l, &format!("/bin/sh -c step {i}"));
    }
    image
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
#[ignore = "writes fuzz seeds: LAYERSCOPE_FUZZ_SEEDS=tests/fuzz/corpus cargo test fuzz_seeds -- --ignored"]
fn fuzz_seeds() {
    let root = PathBuf::from(std::env::var_os("LAYERSCOPE_FUZZ_SEEDS").expect("LAYERSCOPE_FUZZ_SEEDS=DIR"));
    let img = image();
    let outer = root.join("outer_archive");
    write(&outer, "docker.tar", &img.docker_archive());
    write(&outer, "podman.tar", &img.podman_archive(false));
    write(&outer, "kaniko.tar", &img.kaniko_tarball());
    write(&outer, "docker25.tar", &img.docker25_archive(Docker25::Normal));
    write(&outer, "docker25-null.tar", &img.docker25_archive(Docker25::NullManifests));
    for (name, comp) in [("oci.tar", Comp::None), ("oci-gzip.tar", Comp::Gzip), ("oci-zstd.tar", Comp::Zstd)] {
        write(&outer, name, &img.oci_archive(comp));
    }
    write(&outer, "docker.tar.gz", &crate::support::gzip(&img.docker_archive()));
    write(&outer, "demo.tar", layerscope::cli::DEMO_IMAGE);

    let layer = root.join("layer");
    for (i, l) in layers().iter().enumerate() {
        let tar = l.tar();
        write(&layer, &format!("{i}.tar"), &tar);
        write(&layer, &format!("{i}.tar.gz"), &Comp::Gzip.compress(&tar));
        write(&layer, &format!("{i}.tar.zst"), &Comp::Zstd.compress(&tar));
    }

    // index.json ⧸ manifest.json ⧸ blob aaaa… (a manifest) ⧸ bbbb… (its config) ⧸ cccc… (its layer).
    let built = Image::new().layer(Layer::new().file("a", b"a"), "a").build(Comp::None);
    let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    let manifest = String::from_utf8(built.manifest.clone())
        .unwrap()
        .replace(&built.config_digest[7..], &b)
        .replace(&built.layers[0].blob_digest[7..], &c);
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{a}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#,
        manifest.len()
    );
    let parts = [index.as_bytes(), b"", manifest.as_bytes(), &built.config, &built.layers[0].tar];
    write(&root.join("metadata"), "oci", &parts.join(&0xff_u8));

    let ci = root.join("ci_config");
    write(
        &ci,
        "layerscope.yaml",
        b"rules:\n  lowest-efficiency: 0.95\n  highest-wasted-bytes: 20MB\n  complete-image: enabled\n",
    );
    write(&ci, "dive.yaml", b"rules:\n  lowestEfficiency: 0.9\n  highestUserWastedPercent: 10%\nplugins: [x]\n");
    write(&ci, "flow.yaml", b"{rules: {min-wasted-bytes: 5MiB, lowest-user-efficiency: '90%'}}\n");
}
