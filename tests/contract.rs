//! The contract scripts and pipelines rely on: where each report goes when several are asked
//! for, which flags need CI mode, and that an incomplete or inconsistent image never passes
//! quietly. Every combination of `--json`, `--format`, `--output`, `--report` and CI mode is run.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{self, Attrs, Comp, Image, Layer, OciLayout};

/// Run in `dir` with CI unset unless `env` sets it.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerscope"));
    cmd.args(args).current_dir(dir).env_remove("CI").env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails the default rules: a 3000-byte download deleted in a later layer.
fn wasteful() -> Image {
    Image::new()
        .layer(Layer::new().dir("etc").file("etc/os-release", b"ID=debian\n"), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(Layer::new().dir("tmp").file("tmp/dl", &[2; 3000]).file("app", &[4; 500]), "/bin/sh -c download")
        .layer(Layer::new().dir("tmp").whiteout("tmp/dl"), "/bin/sh -c rm /tmp/dl")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("image.tar"), wasteful().docker_archive()).unwrap();
    dir
}

/// What a CI report in a machine format looks like.
fn is_doc(kind: &str, bytes: &[u8]) -> bool {
    let s = text(bytes);
    match kind {
        "json" => serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v["schema"] == "layerscope.report/v2"),
        "sarif" => serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v["version"] == "2.1.0"),
        "junit" => s.starts_with("<?xml") && s.trim_end().ends_with("</testsuites>"),
        "github" => s.lines().all(|l| l.starts_with("::")) && !s.is_empty(),
        _ => unreachable!(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Ci {
    Off,
    Flag,
    Env,
}

/// Every combination, checked against the documented rule: stdout carries at most one
/// machine-readable document and never text beside it (the text report then goes to stderr);
/// two documents for stdout, CI-only options outside CI mode, and `--report` with another
/// `--format` are errors (exit 2).
#[test]
fn every_combination_of_reports_goes_where_the_readme_says() {
    let dir = setup();
    let mut checked = 0;
    for ci in [Ci::Off, Ci::Flag, Ci::Env] {
        for json in [None, Some("-"), Some("report.json")] {
            for format in [None, Some("text"), Some("json"), Some("sarif"), Some("junit"), Some("github")] {
                for output in [None, Some("-"), Some("ci.out")] {
                    for report in [false, true] {
                        for f in ["report.json", "ci.out"] {
                            let _ = std::fs::remove_file(dir.path().join(f));
                        }
                        let mut args: Vec<&str> = vec!["image.tar"];
                        let mut env = Vec::new();
                        match ci {
                            Ci::Off => {}
                            Ci::Flag => args.push("--ci"),
                            Ci::Env => env.push(("CI", "true")),
                        }
                        if let Some(j) = json {
                            args.extend(["--json", j]);
                        }
                        if let Some(f) = format {
                            args.extend(["--format", f]);
                        }
                        if let Some(o) = output {
                            args.extend(["--output", o]);
                        }
                        if report {
                            args.push("--report");
                        }
                        let out = run(dir.path(), &args, &env);
                        let what = format!("{ci:?} {args:?}");
                        check_combination(dir.path(), &out, ci, json, format, output, report, &what);
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 324);
}

#[allow(clippy::too_many_arguments)]
fn check_combination(
    dir: &Path,
    out: &Output,
    ci: Ci,
    json: Option<&str>,
    format: Option<&str>,
    output: Option<&str>,
    report: bool,
    what: &str,
) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let ci_mode = !matches!(ci, Ci::Off);
    let error = |needle: &str| {
        assert_eq!(out.status.code(), Some(2), "{what}: exit 2 expected\n{stderr}");
        assert!(stderr.contains(needle), "{what}: expected '{needle}' in:\n{stderr}");
        assert!(stdout.is_empty(), "{what}: nothing on stdout after an error");
    };
    if !ci_mode && (format.is_some() || output.is_some()) {
        return error("only applies in CI mode");
    }
    let format = format.unwrap_or("text");
    if ci_mode && report && format != "text" {
        return error("--report prints the text report");
    }
    // (document, destination) as the README's rule says.
    let mut docs: Vec<(&str, &str)> = Vec::new();
    if let Some(j) = json {
        docs.push(("json", j));
    }
    if ci_mode {
        let dest = output.unwrap_or("-");
        if !docs.contains(&(format, dest)) {
            docs.push((format, dest));
        }
    } else if report {
        docs.push(("text", "-"));
    }
    if docs.is_empty() {
        return error("needs a terminal");
    }
    let machine_on_stdout: Vec<&str> = docs.iter().filter(|(d, to)| *d != "text" && *to == "-").map(|d| d.0).collect();
    if machine_on_stdout.len() > 1 {
        return error("would both be written to stdout");
    }
    let expected_code = if ci_mode { 1 } else { 0 };
    assert_eq!(out.status.code(), Some(expected_code), "{what}\n{stderr}");
    match machine_on_stdout.first() {
        Some(kind) => assert!(is_doc(kind, &out.stdout), "{what}: stdout is exactly one {kind} document:\n{stdout}"),
        None if docs.contains(&("text", "-")) => assert!(stdout.contains("image size"), "{what}: text on stdout"),
        None => assert!(stdout.is_empty(), "{what}: nothing on stdout:\n{stdout}"),
    }
    if docs.contains(&("text", "-")) && !machine_on_stdout.is_empty() {
        assert!(stderr.contains("image size"), "{what}: the text report moved to stderr:\n{stderr}");
        if ci_mode {
            assert!(stderr.contains("result: FAIL"), "{what}: the verdict on stderr");
        }
    }
    for (kind, dest) in &docs {
        if *dest != "-" {
            let written = std::fs::read(dir.join(dest)).unwrap_or_else(|e| panic!("{what}: {dest}: {e}"));
            match *kind {
                "text" => assert!(text(&written).contains("image size"), "{what}: {dest}"),
                kind => assert!(is_doc(kind, &written), "{what}: {dest} holds a {kind} document"),
            }
        }
    }
}

#[test]
fn ci_true_with_json_on_stdout_pipes_into_jq() {
    let dir = setup();
    let out = run(dir.path(), &["--json", "-", "image.tar"], &[("CI", "true")]);
    assert_eq!(out.status.code(), Some(1), "the default rules fail this image");
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    assert_eq!(report["ci"]["passed"], false);
    assert!(text(&out.stderr).contains("result: FAIL"), "the verdict is still shown, on stderr");
}

#[test]
fn reports_never_overwrite_the_image_or_each_other() {
    let dir = setup();
    let before = std::fs::read(dir.path().join("image.tar")).unwrap();
    for args in [
        &["--json", "image.tar", "image.tar"][..],
        &["--ci", "--output", "image.tar", "image.tar"],
        &["--ci", "--output", "./image.tar", "image.tar"],
    ] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("names the image being read"), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(std::fs::read(dir.path().join("image.tar")).unwrap(), before, "the image is untouched");
    let out =
        run(dir.path(), &["--ci", "--json", "x.json", "--format", "sarif", "--output", "x.json", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("give each report its own file"), "{}", text(&out.stderr));
    assert!(!dir.path().join("x.json").exists());
}

#[test]
fn a_failed_write_leaves_no_half_report() {
    let dir = setup();
    std::fs::write(dir.path().join("old.json"), b"{\"old\": true}\n").unwrap();
    // The second report's folder does not exist: the run fails after writing the first.
    let args = ["--ci", "--json", "old.json", "--format", "sarif", "--output", "no-such-dir/x.sarif", "image.tar"];
    let out = run(dir.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-dir"), "{}", text(&out.stderr));
    let written: Value = serde_json::from_slice(&std::fs::read(dir.path().join("old.json")).unwrap()).unwrap();
    assert_eq!(written["schema"], "layerscope.report/v2", "replaced whole, not truncated or mixed");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".layerscope-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left behind");
}

#[test]
fn options_that_need_ci_mode_say_so() {
    let dir = setup();
    for (args, flag) in [
        (&["image.tar", "--report", "--format", "json"][..], "--format"),
        (&["image.tar", "--json", "-", "--output", "x"], "--output"),
        (&["image.tar", "--report", "--lowest-efficiency", "0.5"], "--lowest-efficiency"),
        (&["image.tar", "--report", "--ci-config", "x.yaml"], "--ci-config"),
        (&["image.tar", "--report", "--complete-image", "disabled"], "--complete-image"),
    ] {
        let out = run(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{flag} only applies in CI mode: add --ci")), "{args:?}: {err}");
    }
}

#[test]
fn files_ignores_ci_mode_and_prints_its_records() {
    let dir = setup();
    let out = run(dir.path(), &["files", "image.tar"], &[("CI", "true")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
    assert!(text(&out.stdout).contains("\"path\":\"/app\""));
    let out = run(dir.path(), &["--ci", "files", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2), "--ci is not an option of files");
}

#[test]
fn base_layers_beyond_the_layer_count_is_an_error() {
    let dir = setup();
    let out = run(dir.path(), &["--report", "--base-layers", "4", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--base-layers 4: the image has only 3 layers"), "{}", text(&out.stderr));
    let out = run(dir.path(), &["--report", "--base-layers", "3", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "every layer may be the base");
}

#[test]
fn negative_thresholds_are_out_of_range() {
    let dir = setup();
    for (flag, value) in [("--lowest-efficiency", "-0.2"), ("--highest-wasted-bytes", "-5")] {
        let out = run(dir.path(), &["--ci", "image.tar", flag, value], &[]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = text(&out.stderr);
        assert!(err.contains("out of range"), "{flag} {value}: {err}");
        assert!(!err.contains("unexpected argument"), "{err}");
    }
}

#[test]
fn two_images_get_a_clear_message() {
    let dir = setup();
    let out = run(dir.path(), &["--report", "image.tar", "other.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("give one IMAGE, not 2: 'image.tar', 'other.tar'"), "{err}");
    // An empty IMAGE (an unset variable in a pipeline) is no image.
    let out = run(dir.path(), &["--ci", ""], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no image given"), "{}", text(&out.stderr));
}

#[test]
fn an_error_names_its_cause_once() {
    let dir = setup();
    let out = run(dir.path(), &["--report", "missing.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn unknown_keys_in_the_layerscope_config_are_errors_dive_ci_stays_lenient() {
    let dir = setup();
    std::fs::write(dir.path().join(".layerscope-ci.yaml"), "rules:\n  lowest-efficiencies: 0.5\n").unwrap();
    let out = run(dir.path(), &["--ci", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown key 'rules.lowest-efficiencies'; did you mean 'rules.lowest-efficiency'?"), "{err}");
    std::fs::remove_file(dir.path().join(".layerscope-ci.yaml")).unwrap();
    std::fs::write(dir.path().join(".dive-ci"), "rules:\n  lowestEfficiency: 0.1\n  unknownRule: 1\nplugins: []\n")
        .unwrap();
    let out = run(dir.path(), &["--ci", "image.tar", "--format", "json", "--highest-user-wasted-percent", "off"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ci"]["ignored_config_keys"], serde_json::json!(["rules.unknownRule", "plugins"]));
}

#[test]
fn the_ci_text_is_human_readable() {
    let dir = setup();
    let out = run(dir.path(), &["--ci", "image.tar", "--highest-wasted-bytes", "1kB", "--base-layers", "1"], &[]);
    let report = text(&out.stdout);
    assert!(report.contains("3.0 kB wasted (over the limit of 1.0 kB)"), "{report}");
    assert!(report.contains("hidden by your 2 layers"), "{report}");
    let out = run(dir.path(), &["--ci", "image.tar", "--base-layers", "2"], &[]);
    assert!(text(&out.stdout).contains("hidden by your 1 layer /"), "{}", text(&out.stdout));
}

/// The digest of each layer blob of an OCI layout, in manifest order.
fn layer_digests(built: &support::Built) -> Vec<String> {
    built.layers.iter().map(|l| l.blob_digest.clone()).collect()
}

/// An OCI archive whose second layer blob was replaced by other bytes under the same name.
fn tampered_blob() -> Vec<u8> {
    let image = wasteful();
    let mut layout = OciLayout::new();
    let built = layout.add_image(&image, Comp::Gzip, Some("latest"), None);
    let digest = &layer_digests(&built)[1];
    let other = Comp::Gzip.compress(&Layer::new().dir("tmp").file("tmp/dl", &[3; 3000]).file("app", &[4; 500]).tar());
    layout.blobs.insert(digest[7..].to_string(), other);
    layout.tar()
}

/// An OCI archive whose config gives a wrong DiffID for layer 0.
fn wrong_diff_id() -> Vec<u8> {
    let image = wasteful();
    let mut built = image.build(Comp::Gzip);
    let mut diff_ids: Vec<String> = built.layers.iter().map(|l| l.diff_id.clone()).collect();
    diff_ids[0] = support::digest(b"something else");
    built.config = image.config_json(&diff_ids);
    built.refresh_manifest();
    built.oci_archive()
}

/// An OCI archive missing its last layer blob.
fn missing_blob() -> Vec<u8> {
    let image = wasteful();
    let mut layout = OciLayout::new();
    let built = layout.add_image(&image, Comp::Gzip, Some("latest"), None);
    layout.remove_blob(&layer_digests(&built)[2]);
    layout.tar()
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["ci"]["results"].as_array().unwrap().iter().find(|r| r["rule"] == name).unwrap()
}

#[test]
fn verify_names_the_layer_and_both_digests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blob.tar"), tampered_blob()).unwrap();
    std::fs::write(dir.path().join("diffid.tar"), wrong_diff_id()).unwrap();
    let out = run(dir.path(), &["--verify", "--json", "-", "blob.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "outside CI mode a mismatch is a warning: {}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = report["warnings"].as_array().unwrap();
    let w = warnings.iter().find(|w| w["kind"] == "digest_mismatch").expect("a digest_mismatch warning");
    assert_eq!(w["layer"], 1);
    let message = w["message"].as_str().unwrap();
    let declared = report["layers"][1]["blob_digest"].as_str().unwrap();
    assert!(message.contains(declared) && message.matches("sha256:").count() >= 2, "{message}");
    assert_eq!(report["layers"][1]["verified"], false);
    assert_eq!(report["layers"][0]["verified"], true);
    // The DiffID check: the blob is right, the uncompressed tar is not what the config says.
    let out = run(dir.path(), &["--verify", "--json", "-", "diffid.tar"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let w = report["warnings"].as_array().unwrap().iter().find(|w| w["kind"] == "digest_mismatch").unwrap();
    assert_eq!(w["layer"], 0);
    assert!(w["message"].as_str().unwrap().contains("not to the DiffID"), "{w}");
    // Without --verify nothing is hashed, and nothing is claimed.
    let out = run(dir.path(), &["--json", "-", "blob.tar"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["layers"][1]["verified"], Value::Null);
}

#[test]
fn ci_mode_verifies_and_fails_an_incomplete_image_with_its_own_rule() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blob.tar"), tampered_blob()).unwrap();
    std::fs::write(dir.path().join("missing.tar"), missing_blob()).unwrap();
    let lenient = ["--lowest-efficiency", "0", "--highest-user-wasted-percent", "off", "--format", "json"];
    for image in ["blob.tar", "missing.tar"] {
        let mut args = vec!["--ci", image];
        args.extend(lenient);
        let out = run(dir.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{image}: {}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let complete = rule(&report, "complete-image");
        assert_eq!(complete["status"], "FAIL", "{image}");
        assert_eq!(complete["layer"], if image == "blob.tar" { 1 } else { 2 });
        // Opting out.
        args.extend(["--complete-image", "disabled"]);
        let out = run(dir.path(), &args, &[]);
        assert_eq!(out.status.code(), Some(0), "{image}: opted out");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rule(&report, "complete-image")["status"], "SKIP");
    }
    // --no-verify: a tampered blob goes unnoticed (said so), a missing one does not.
    let mut args = vec!["--ci", "blob.tar", "--no-verify"];
    args.extend(lenient);
    let out = run(dir.path(), &args, &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rule(&report, "complete-image")["status"], "PASS");
    assert!(rule(&report, "complete-image")["message"].as_str().unwrap().contains("digests not verified"));
    let mut args = vec!["--ci", "missing.tar", "--no-verify"];
    args.extend(lenient);
    assert_eq!(run(dir.path(), &args, &[]).status.code(), Some(1));
    // The text verdict says why.
    let out = run(dir.path(), &["--ci", "missing.tar"], &[]);
    let report = text(&out.stdout);
    assert!(report.contains("FAIL  complete-image"), "{report}");
    assert!(report.contains("1 problem: layer 2:"), "{report}");
}

#[test]
fn a_clean_image_verifies_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let image = wasteful().platform("linux", "amd64", None);
    std::fs::write(dir.path().join("docker.tar"), image.docker_archive()).unwrap();
    std::fs::write(dir.path().join("podman.tar"), image.podman_archive(false)).unwrap();
    std::fs::write(dir.path().join("oci-gzip.tar"), image.oci_archive(Comp::Gzip)).unwrap();
    std::fs::write(dir.path().join("oci-zstd.tar"), image.oci_archive(Comp::Zstd)).unwrap();
    std::fs::write(dir.path().join("oci-plain.tar"), image.oci_archive(Comp::None)).unwrap();
    std::fs::write(dir.path().join("kaniko.tar"), image.kaniko_tarball()).unwrap();
    for name in ["docker.tar", "podman.tar", "oci-gzip.tar", "oci-zstd.tar", "oci-plain.tar", "kaniko.tar"] {
        let out = run(dir.path(), &["--verify", "--json", "-", name], &[]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["warnings"].as_array().unwrap().is_empty(), "{name}: {}", report["warnings"]);
        for layer in report["layers"].as_array().unwrap() {
            assert_eq!(layer["verified"], true, "{name}: layer {}", layer["index"]);
        }
    }
}

/// An image with a whiteout of a path no lower layer has: a warning, not an error.
fn warned() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::new()
        .layer(Layer::new().dir("etc").file("etc/a", b"a"), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(Layer::new().dir("etc").whiteout("etc/never-there"), "/bin/sh -c rm -f /etc/never-there");
    std::fs::write(dir.path().join("image.tar"), image.docker_archive()).unwrap();
    dir
}

#[test]
fn warnings_appear_in_every_report_format() {
    let dir = warned();
    let needle = "/etc/never-there";
    let out = run(dir.path(), &["--report", "image.tar"], &[]);
    let report = text(&out.stdout);
    assert!(report.contains("1 warning") && report.contains(needle), "text:\n{report}");
    let head: String = report.lines().take(5).collect::<Vec<_>>().join("\n");
    assert!(head.contains(needle), "warnings come first, before the figures:\n{report}");
    for format in ["text", "json", "sarif", "junit", "github"] {
        let out = run(dir.path(), &["--ci", "image.tar", "--format", format], &[]);
        assert!(text(&out.stdout).contains(needle), "{format}:\n{}", text(&out.stdout));
    }
    let out = run(dir.path(), &["files", "image.tar"], &[]);
    assert!(text(&out.stderr).contains(&format!("warning: layer 1: a whiteout deletes {needle}")));
    assert!(!text(&out.stdout).contains("warning"), "stdout stays data");
}

#[test]
fn dive_compat_text_shows_dive_figures() {
    let dir = setup();
    let out = run(dir.path(), &["--report", "--dive-compat", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("wastedBytes:"), "{}", text(&out.stdout));
    let out = run(dir.path(), &["--dive-compat", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2), "the explorer does not take it");
    assert!(text(&out.stderr).contains("--dive-compat"), "{}", text(&out.stderr));
}

#[test]
fn metadata_only_changes_are_named_alike_in_files_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let image = Image::new()
        .layer(Layer::new().file("tool", &[3; 500]), "/bin/sh -c #(nop) ADD file:x in / ")
        .layer(Layer::new().file_with("tool", &[3; 500], Attrs::FILE.mode(0o755)), "/bin/sh -c chmod +x /tool");
    std::fs::write(dir.path().join("image.tar"), image.docker_archive()).unwrap();
    let out = run(dir.path(), &["files", "image.tar", "--changes"], &[]);
    assert!(text(&out.stdout).contains("\"change\":\"metadata_only\""), "{}", text(&out.stdout));
    let out = run(dir.path(), &["--json", "-", "image.tar"], &[]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["layers"][1]["metadata_only"], 1);
    assert_eq!(report["layers"][0]["compression"], "uncompressed");
    assert_eq!(report["analysis"]["top_waste"][0]["cause"], "metadata_only");
    let out = run(dir.path(), &["--report", "image.tar"], &[]);
    assert!(text(&out.stdout).contains("metadata-only"), "{}", text(&out.stdout));
}

#[test]
fn reports_to_a_fifo_a_symlink_or_an_existing_file_keep_what_is_there() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = setup();
    // A FIFO (as /dev/null or `>(…)` are): written in place, never renamed over.
    let fifo = dir.path().join("out.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = run(dir.path(), &["--json", "out.fifo", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let read = reader.join().unwrap();
    assert!(is_doc("json", &read), "the report went through the FIFO");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "still a FIFO");
    // A symlink: the file it names gets the report, the link stays.
    std::fs::create_dir(dir.path().join("real")).unwrap();
    std::os::unix::fs::symlink("real/report.json", dir.path().join("link.json")).unwrap();
    let out = run(dir.path(), &["--json", "link.json", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(dir.path().join("link.json")).unwrap().file_type().is_symlink());
    assert!(is_doc("json", &std::fs::read(dir.path().join("real/report.json")).unwrap()));
    // Permissions: a new report is 0644, an existing one keeps its mode.
    let mode = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("real/report.json"), 0o644);
    std::fs::set_permissions(dir.path().join("real/report.json"), std::fs::Permissions::from_mode(0o640)).unwrap();
    run(dir.path(), &["--json", "real/report.json", "image.tar"], &[]);
    assert_eq!(mode("real/report.json"), 0o640);
}

#[test]
fn dive_s_source_flag_is_checked_not_ignored() {
    let dir = setup();
    let out = run(dir.path(), &["--report", "--source", "docker-archive", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // `--source docker` reads IMAGE as a name in the Docker engine, whatever it looks like.
    let out = run(
        dir.path(),
        &["--report", "--source", "docker", "image.tar"],
        &[("DOCKER_HOST", "unix:///nonexistent.sock")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("docker (unix:///nonexistent.sock)") && err.contains("cannot connect"), "{err}");
    let out = run(dir.path(), &["--report", "--source", "tarball", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--source 'tarball': expected one of docker, podman, containerd, registry"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn dev_stdout_and_the_redirect_target_are_stdout() {
    let dir = setup();
    let out = run(dir.path(), &["--json", "/dev/stdout", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(is_doc("json", &out.stdout), "the report went to stdout");
    // With the text report too: one document on stdout, the text on stderr.
    let out = run(dir.path(), &["--json", "/dev/stdout", "--report", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(is_doc("json", &out.stdout));
    assert!(text(&out.stderr).contains("image size"));
    // Two machine documents for stdout, however it is spelled, are refused.
    let out = run(dir.path(), &["--ci", "--json", "/dev/fd/1", "--format", "sarif", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("would both be written to stdout"), "{}", text(&out.stderr));
}

#[test]
fn two_spellings_of_one_new_file_are_one_file() {
    let dir = setup();
    let out = run(dir.path(), &["--ci", "--json", "./x.json", "--output", "x.json", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("give each report its own file"), "{}", text(&out.stderr));
    let out =
        run(dir.path(), &["--ci", "--json", "y.json", "--format", "json", "--output", "y.json", "image.tar"], &[]);
    assert_eq!(out.status.code(), Some(2), "the same document to the same file is still two writes");
    assert!(!dir.path().join("x.json").exists() && !dir.path().join("y.json").exists());
}

#[test]
fn the_ci_text_shows_exact_bytes_when_rounding_would_hide_the_difference() {
    let dir = setup();
    let out = run(dir.path(), &["--ci", "image.tar", "--highest-wasted-bytes", "2999"], &[]);
    let report = text(&out.stdout);
    assert!(report.contains("3000 B wasted (over the limit of 2999 B)"), "{report}");
}

#[test]
fn github_annotations_say_whose_figures_in_good_english() {
    let dir = tempfile::tempdir().unwrap();
    let one = Image::new().layer(Layer::new().file("a", b"hello"), "/bin/sh -c #(nop) ADD file:x in / ");
    std::fs::write(dir.path().join("one.tar"), one.docker_archive()).unwrap();
    let out = run(dir.path(), &["--ci", "one.tar", "--format", "github"], &[]);
    let notice = text(&out.stdout).lines().find(|l| l.starts_with("::notice")).unwrap().to_string();
    assert!(notice.contains("in 1 layer,") && notice.contains("layerscope's figures"), "{notice}");
    std::fs::write(dir.path().join("image.tar"), wasteful().docker_archive()).unwrap();
    let out = run(dir.path(), &["--ci", "image.tar", "--format", "github", "--dive-compat"], &[]);
    let notice = text(&out.stdout).lines().find(|l| l.starts_with("::notice")).unwrap().to_string();
    assert!(notice.contains("dive's figures"), "{notice}");
    let report: Value = serde_json::from_slice(
        &run(dir.path(), &["--ci", "image.tar", "--format", "json", "--dive-compat"], &[]).stdout,
    )
    .unwrap();
    let dive_efficiency = report["dive"]["efficiency"].as_f64().unwrap();
    assert!(notice.contains(&format!("efficiency {:.2} %", dive_efficiency * 100.0)), "{notice}");
}

#[test]
fn names_from_an_archive_cannot_forge_lines_in_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut out = support::Outer::new();
    out.file(
        "manifest.json",
        br#"[{"Config":"x\n  layerscope: all good\u001b[2J.json","RepoTags":["a:1"],"Layers":[]}]"#,
    );
    std::fs::write(dir.path().join("bad.tar"), out.finish()).unwrap();
    let o = run(dir.path(), &["--report", "bad.tar"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("x\\n  layerscope: all good\\x1b[2J.json"), "{err}");
}
