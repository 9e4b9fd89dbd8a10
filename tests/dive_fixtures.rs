//! dive's own test images (../shared/fixtures/dive): layers, DiffIDs, commands and sizes must equal
//! dive's exports; its plain rootfs tars must be refused as filesystem tarballs. Skips cleanly when
//! ../shared is absent.

use crate::support;

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
    let Some(shared) = support::shared_dir() else { return };
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
fn the_catalog_knows_the_real_busybox_base_of_dives_images() {
    // Built by docker and kaniko FROM the published busybox (two versions): those layers' DiffIDs
    // are in assets/bases.json, so the base is found by digest, not guessed.
    let Some(shared) = support::shared_dir() else { return };
    let dir = shared.join("fixtures/dive");
    for (name, base) in [("test-docker-image", "busybox:1.28"), ("test-kaniko-image", "busybox:1.32.1")] {
        let image = layerscope::load(&Input::Path(dir.join(format!("{name}.tar"))), &Selection::default()).unwrap();
        let a = layerscope::analysis::analyze(&image, &Default::default());
        assert_eq!(a.base.method, layerscope::analysis::BaseMethod::Catalog, "{name}");
        assert_eq!((a.base.name.as_deref(), a.base.layers), (Some(base), 1), "{name}");
    }
}

#[test]
fn dive_rootfs_tars_are_refused_as_filesystem_tarballs() {
    let Some(shared) = support::shared_dir() else { return };
    for name in ROOTFS_TARS {
        let path = shared.join(format!("fixtures/dive/{name}.tar"));
        let out = Command::new(env!("CARGO_BIN_EXE_layerscope"))
            .arg("--report")
            .arg(&path)
            .env_remove("CI")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}: exit code");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is a filesystem tarball, not an image"), "{name}: {stderr}");
    }
}

/// Run the binary in `dir` with a clean environment.
fn layerscope_in(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_layerscope")).args(args).current_dir(dir).env_remove("CI").output().unwrap()
}

#[test]
fn dive_compat_export_is_byte_identical_to_dive() {
    let Some(shared) = support::shared_dir() else { return };
    let out = tempfile::tempdir().unwrap();
    let cases: Vec<(std::path::PathBuf, std::path::PathBuf)> = IMAGES
        .iter()
        .map(|n| {
            (
                shared.join(format!("fixtures/dive/{n}.tar")),
                shared.join(format!("fixtures/dive/expected/dive-0.13.1-runs/{n}.json")),
            )
        })
        .chain(["delete-only", "edge-cases", "implicit-dirs", "symlink-retarget"].iter().map(|n| {
            (
                shared.join(format!("fixtures/synthetic/{n}.tar")),
                shared.join(format!("fixtures/synthetic/{n}.dive-0.13.1.json")),
            )
        }))
        .collect();
    for (image, expected) in cases {
        let target = out.path().join("export.json");
        let o =
            layerscope_in(out.path(), &["--dive-compat", "--json", target.to_str().unwrap(), image.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let ours = std::fs::read_to_string(&target).unwrap();
        let theirs = std::fs::read_to_string(&expected).unwrap();
        assert!(ours == theirs, "{}: dive export differs", image.display());
    }
}

#[test]
fn dive_figures_match_dive_to_the_last_digit() {
    let Some(shared) = support::shared_dir() else { return };
    // (archive, efficiency, wasted bytes, user wasted percent as dive prints it with %v)
    let cases = [
        ("fixtures/dive/test-docker-image.tar", 0.9844212134184309, 32025, "0.4834911001404049"),
        ("fixtures/dive/test-kaniko-image.tar", 0.9793688490216431, 46245, "0.4884502043790995"),
        ("fixtures/dive/test-oci-gzip-image.tar", 1.0, 0, "NaN"),
        ("fixtures/synthetic/delete-only.tar", 0.0, 1000, "+Inf"),
        ("fixtures/synthetic/edge-cases.tar", 0.9465333333333333, 700, "1.25"),
        ("fixtures/synthetic/implicit-dirs.tar", 0.5, 10, "2"),
        ("fixtures/synthetic/symlink-retarget.tar", 0.6666666666666666, 6, "2"),
    ];
    for (path, efficiency, wasted, user_wasted) in cases {
        let image = layerscope::load(&Input::Path(shared.join(path)), &Selection::default()).unwrap();
        let d = layerscope::analysis::dive::figures(&image);
        assert_eq!(d.efficiency.to_bits(), f64::to_bits(efficiency), "{path}: efficiency {}", d.efficiency);
        assert_eq!(d.wasted_bytes, wasted, "{path}: wasted");
        assert_eq!(layerscope::units::go_float(d.user_wasted_percent, false), user_wasted, "{path}: user wasted");
    }
}

/// The rule statuses dive printed in one ci-variants capture.
fn dive_statuses(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        for status in ["PASS", "FAIL", "SKIP"] {
            if let Some(rest) = line.strip_prefix(&format!("{status}: ")) {
                let rule = rest.split(':').next().unwrap().trim().to_string();
                out.push((rule, status.to_string()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn ci_verdicts_equal_dive_on_its_threshold_experiments() {
    let Some(shared) = support::shared_dir() else { return };
    let docker = shared.join("fixtures/dive/test-docker-image.tar");
    let kaniko = shared.join("fixtures/dive/test-kaniko-image.tar");
    let upstream_ci = std::fs::read_to_string(shared.join("fixtures/dive/.dive-ci")).unwrap();
    let strict_ci = "rules:\n  lowestEfficiency: 0.99\n  highestWastedBytes: 20Mb\n  highestUserWastedPercent: 0.5\n";
    // (capture, image, flags, .dive-ci in the working directory)
    let cases: Vec<(&str, &std::path::Path, Vec<&str>, Option<&str>)> = vec![
        ("eff099", &docker, vec!["--lowestEfficiency", "0.99"], None),
        (
            "effequal",
            &docker,
            vec!["--lowestEfficiency", "0.9844212134184309", "--highestUserWastedPercent", "0.9"],
            None,
        ),
        ("wb_equal", &docker, vec!["--highestWastedBytes", "32025", "--highestUserWastedPercent", "disabled"], None),
        ("wb_minus1", &docker, vec!["--highestWastedBytes", "32024", "--highestUserWastedPercent", "disabled"], None),
        ("wb_32kB", &docker, vec!["--highestWastedBytes", "32kB", "--highestUserWastedPercent", "disabled"], None),
        ("wb_32KiB", &docker, vec!["--highestWastedBytes", "32KiB", "--highestUserWastedPercent", "disabled"], None),
        ("uwp_050", &docker, vec!["--highestUserWastedPercent", "0.5"], None),
        ("uwp_048", &docker, vec!["--highestUserWastedPercent", "0.48"], None),
        (
            "alldisabled",
            &docker,
            vec![
                "--lowestEfficiency",
                "disabled",
                "--highestWastedBytes",
                "disabled",
                "--highestUserWastedPercent",
                "disabled",
            ],
            None,
        ),
        (
            "allfail",
            &docker,
            vec!["--lowestEfficiency", "0.99", "--highestWastedBytes", "1B", "--highestUserWastedPercent", "0.01"],
            None,
        ),
        ("ci_env_1", &docker, vec![], None),
        ("uri_form", &docker, vec![], None),
        ("ciconfig_data", &docker, vec![], Some(upstream_ci.as_str())),
        ("ciconfig_kaniko", &kaniko, vec![], Some(upstream_ci.as_str())),
        ("cwd-dotdiveci-eff0.99_noflags", &docker, vec![], Some(strict_ci)),
        ("cwd-dotdiveci-eff0.99_flag-lowestEfficiency0.5", &docker, vec!["--lowestEfficiency", "0.5"], Some(strict_ci)),
        ("cwd-dotdiveci-partial", &docker, vec![], Some("rules:\n  highestWastedBytes: 1kB\n")),
        ("cwd-dotdiveci-kebabcase-ignored-by-0.13.1", &docker, vec![], Some("rules:\n  lowest-efficiency: 0.99\n")),
    ];
    for (name, image, flags, dive_ci) in cases {
        let capture = std::fs::read_to_string(
            shared.join(format!("fixtures/dive/expected/dive-0.13.1-runs/ci-variants/{name}.txt")),
        )
        .unwrap();
        let expected = dive_statuses(&capture);
        let dir = tempfile::tempdir().unwrap();
        if let Some(ci) = dive_ci {
            std::fs::write(dir.path().join(".dive-ci"), ci).unwrap();
        }
        let image_arg = if name == "uri_form" {
            format!("docker-archive://{}", image.display())
        } else {
            image.display().to_string()
        };
        let mut args = vec!["--ci", "--dive-compat", "--format", "json", image_arg.as_str()];
        args.extend(flags.iter().copied());
        let o = layerscope_in(dir.path(), &args);
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut ours: Vec<(String, String)> = report["ci"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| {
                let rule = layerscope::ci::Rule::from_name(r["rule"].as_str()?)?;
                Some((rule.dive_name()?.to_string(), r["status"].as_str()?.to_string()))
            })
            .collect();
        ours.sort();
        assert_eq!(ours, expected, "{name}: rule statuses");
        let dive_failed = expected.iter().any(|(_, s)| s == "FAIL");
        assert_eq!(o.status.code(), Some(if dive_failed { 1 } else { 0 }), "{name}: exit code");
    }
}
