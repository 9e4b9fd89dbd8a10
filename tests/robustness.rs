//! Hostile input: truncated, bit-flipped and spliced archives must give an error or a model, never
//! a panic, and never take unbounded time or memory.

use crate::support;

use layerscope::report::files::{FilesOptions, file_records};
use support::{Comp, Docker25, Image, Layer, Rng, try_load};

fn sample() -> Image {
    Image::new()
        .layer(
            Layer::new()
                .dir("etc")
                .file("etc/a", &[1; 700])
                .symlink("etc/l", "a")
                .hardlink("etc/h", "etc/a")
                .file(&"n".repeat(150), b"long"),
            "base",
        )
        .layer(Layer::new().dir("etc").whiteout("etc/a").opaque("etc").file("etc/b", b"bbb"), "step")
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    match rng.below(4) {
        0 => out.truncate(rng.below(out.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
        }
        2 => {
            let from = rng.below(out.len());
            let len = rng.below(600).min(out.len() - from);
            let chunk = out[from..from + len].to_vec();
            let to = rng.below(out.len().saturating_sub(len));
            out[to..to + len].copy_from_slice(&chunk);
        }
        _ => {
            // Overwrite a header field region of some 512-byte block with random digits.
            let block = rng.below(out.len() / 512) * 512;
            let field = [100, 124, 136, 148, 156, 257][rng.below(6)];
            for i in 0..12 {
                if let Some(b) = out.get_mut(block + field + i) {
                    *b = b"0123456777 \0x"[rng.below(13)];
                }
            }
        }
    }
    out
}

#[test]
fn mutated_archives_never_panic() {
    let img = sample();
    let archives = [
        img.docker_archive(),
        img.podman_archive(false),
        img.kaniko_tarball(),
        img.docker25_archive(Docker25::Normal),
        img.oci_archive(Comp::Gzip),
        img.oci_archive(Comp::Zstd),
        img.oci_archive(Comp::None),
    ];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut ok, mut err) = (0, 0);
    for archive in &archives {
        for _ in 0..250 {
            let mutated = mutate(&mut rng, archive);
            match try_load(mutated) {
                Ok(image) => {
                    ok += 1;
                    for layer in 0..image.layers.len() {
                        let _ = file_records(&image, FilesOptions { layer: Some(layer), changes_only: true });
                    }
                    // The analysis, dive's model and every report must cope with whatever loaded.
                    let analysis = layerscope::analysis::analyze(&image, &Default::default());
                    let policy = layerscope::ci::Policy::build(&[], None, false).unwrap();
                    let dive = layerscope::analysis::dive::figures(&image);
                    let verdict = layerscope::ci::evaluate(&analysis, &dive, &image.integrity(), &policy);
                    let report = layerscope::report::Report::new(&image, &analysis, &dive, Some(&verdict));
                    serde_json::to_vec(&report).unwrap();
                    let _ = layerscope::report::dive::export_json(&image, &dive);
                    assert_eq!(analysis.wasted_bytes, analysis.causes.total());
                }
                Err(e) => {
                    err += 1;
                    assert!(!e.to_string().is_empty());
                }
            }
        }
    }
    assert!(ok > 0 && err > 0, "the mutations exercise both outcomes ({ok} loaded, {err} refused)");
}
