//! dive's own test images (../shared/fixtures/dive): layers, DiffIDs, commands and sizes must equal
//! dive's exports; its plain rootfs tars must be refused as filesystem tarballs. Skips cleanly when
//! ../shared is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may panic

mod support;

use std::process::Command;

use layerscope::{Input, Selection};
use serde_json::Value;

const IMAGES: [&str; 6] = [
    "test-docker-image",
    "test-kaniko-image",
    "test-oci-uncompressed-image",
    "test-oci-gzip-image",
    "test-oci-estargz-image",
    "test-oci-zstd-image",
];

const ROOTFS_TARS: [&str; 4] = ["test-uncompressed-image", "test-gzip-image", "test-estargz-image", "test-zstd-image"];

#[test]
fn dive_images_load_like_dive_reads_them() {
    let Some(shared) = support::shared_dir() else {
        eprintln!("skipped: ../shared is not present");
        return;
    };
    let dir = shared.join("fixtures/dive");
    for name in IMAGES {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("expected/dive-0.13.1-runs/{name}.json"))).unwrap())
                .unwrap();
        let dive_layers = expected["layer"].as_array().unwrap();
        let image = layerscope::load(&Input::Path(dir.join(format!("{name}.tar"))), &Selection::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(image.layers.len(), dive_layers.len(), "{name}: layer count");
        for (ours, theirs) in image.layers.iter().zip(dive_layers) {
            let i = ours.index;
            assert_eq!(ours.diff_id.as_deref(), theirs["digestId"].as_str(), "{name} layer {i}: DiffID");
            assert_eq!(ours.command(), theirs["command"].as_str(), "{name} layer {i}: command");
            assert_eq!(Some(ours.size_bytes), theirs["sizeBytes"].as_u64(), "{name} layer {i}: size");
        }
        assert_eq!(Some(image.size_bytes()), expected["image"]["sizeBytes"].as_u64(), "{name}: image size");
        assert!(image.warnings.is_empty(), "{name}: {:?}", image.warnings);
    }
}

#[test]
fn dive_rootfs_tars_are_refused_as_filesystem_tarballs() {
    let Some(shared) = support::shared_dir() else {
        eprintln!("skipped: ../shared is not present");
        return;
    };
    for name in ROOTFS_TARS {
        let path = shared.join(format!("fixtures/dive/{name}.tar"));
        let out = Command::new(env!("CARGO_BIN_EXE_layerscope")).arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: exit code");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is a filesystem tarball, not an image"), "{name}: {stderr}");
    }
}
