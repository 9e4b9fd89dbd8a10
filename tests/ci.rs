//! The CI gate through the binary: exit codes, rule sources, config files, output formats.

use crate::support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{Attrs, Image, Layer};

/// Run in `dir` with a clean environment (CI runs this suite with CI=true set).
fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_layerscope"));
    cmd.args(args).current_dir(dir).env_remove("CI").env_remove("NO_COLOR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// 1000 base bytes; the user adds 4000, deletes 3000 of them and chmods 500.
fn wasteful() -> Image {
    Image::new()
        .layer(
            Layer::new().dir("etc").file("etc/os-release", b"ID=debian\n").file("etc/base", &[1; 990]),
            "/bin/sh -c #(nop) ADD file:x in / ",
        )
        .instruction("/bin/sh -c #(nop)  CMD [\"bash\"]")
        .layer(
            Layer::new().dir("tmp").file("tmp/dl", &[2; 3000]).file("tool", &[3; 500]).file("app", &[4; 500]),
            "/bin/sh -c download",
        )
        .layer(
            Layer::new().dir("tmp").whiteout("tmp/dl").file_with("tool", &[3; 500], Attrs::FILE.mode(0o755)),
            "/bin/sh -c rm /tmp/dl && chmod +x /tool",
        )
}

fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, wasteful().docker_archive()).unwrap();
    (dir, path.to_str().unwrap().to_string())
}

fn rules(o: &Output) -> Vec<(String, String)> {
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)));
    report["ci"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["rule"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect()
}

fn status_of(o: &Output, rule: &str) -> String {
    rules(o).into_iter().find(|(r, _)| r == rule).map(|(_, s)| s).unwrap()
}

#[test]
fn default_rules_fail_a_wasteful_image_with_exit_1() {
    let (dir, image) = setup();
    let o = run_in(dir.path(), &["--ci", &image], &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("FAIL  lowest-efficiency"), "{text}");
    assert!(text.contains("FAIL  highest-user-wasted-percent"), "{text}");
    assert!(text.contains("result: FAIL"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when piped");
    assert!(text.contains("/tmp/dl"), "top waste names the path: {text}");
}

#[test]
fn ci_environment_variable_turns_ci_mode_on() {
    let (dir, image) = setup();
    for v in ["true", "1", "yes", "TRUE"] {
        let o = run_in(dir.path(), &[&image], &[("CI", v)]);
        assert_eq!(o.status.code(), Some(1), "CI={v}");
        assert!(stdout(&o).contains("result: FAIL"));
    }
    let o = run_in(dir.path(), &["--report", &image], &[("CI", "false")]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn generous_thresholds_pass_with_exit_0() {
    let (dir, image) = setup();
    let o = run_in(
        dir.path(),
        &[
            "--ci",
            &image,
            "--lowest-efficiency",
            "0.1",
            "--highest-user-wasted-percent",
            "0.9",
            "--highest-wasted-bytes",
            "20MB",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("result: PASS (4 passed, 0 failed, 3 skipped)"), "{}", stdout(&o));
}

#[test]
fn dive_camel_case_flags_are_accepted() {
    let (dir, image) = setup();
    let o = run_in(
        dir.path(),
        &["--ci", &image, "--lowestEfficiency", "0.1", "--highestUserWastedPercent", "disabled", "--format", "json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(status_of(&o, "highest-user-wasted-percent"), "SKIP");
}

#[test]
fn bad_values_are_rejected_before_the_image_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, expect) in [
        (
            "--lowest-efficiency",
            "1.1",
            "lowest-efficiency: invalid value '1.1' (command line): out of range: a ratio is from 0 to 1",
        ),
        (
            "--highest-wasted-bytes",
            "1BB",
            "highest-wasted-bytes: invalid value '1BB' (command line): unknown size unit 'bb'",
        ),
        ("--highest-user-wasted-percent", "lots", "highest-user-wasted-percent: invalid value 'lots'"),
    ] {
        // The image does not exist: the value must be refused first.
        let o = run_in(dir.path(), &["--ci", "missing.tar", flag, value], &[]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(expect), "{}", stderr(&o));
    }
}

#[test]
fn config_files_flags_and_defaults_in_order() {
    let (dir, image) = setup();
    std::fs::write(
        dir.path().join(".layerscope-ci.yaml"),
        "rules:\n  lowest-efficiency: 0.1\n  highest-user-wasted-percent: disabled\n  highest-wasted-bytes: 1kB\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json"], &[]);
    assert_eq!(status_of(&o, "lowest-efficiency"), "PASS");
    assert_eq!(status_of(&o, "highest-user-wasted-percent"), "SKIP");
    assert_eq!(status_of(&o, "highest-wasted-bytes"), "FAIL");
    assert_eq!(o.status.code(), Some(1));
    // A flag wins over the file.
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json", "--highest-wasted-bytes", "disabled"], &[]);
    assert_eq!(status_of(&o, "highest-wasted-bytes"), "SKIP");
    assert_eq!(o.status.code(), Some(0));
    // An explicit config wins over the default file; a missing one is an error.
    std::fs::write(dir.path().join("strict.yaml"), "rules:\n  lowest-efficiency: 0.99\n").unwrap();
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json", "--ci-config", "strict.yaml"], &[]);
    assert_eq!(status_of(&o, "lowest-efficiency"), "FAIL");
    assert_eq!(status_of(&o, "highest-wasted-bytes"), "SKIP", "defaults, not the other file");
    let o = run_in(dir.path(), &["--ci", &image, "--ci-config", "nope.yaml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--ci-config nope.yaml: no such file"));
    // A bad value in a file names the file.
    std::fs::write(dir.path().join("bad.yaml"), "rules:\n  lowest-efficiency: high\n").unwrap();
    let o = run_in(dir.path(), &["--ci", &image, "--ci-config", "bad.yaml"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("lowest-efficiency: invalid value 'high' (bad.yaml)"), "{}", stderr(&o));
}

#[test]
fn dive_ci_file_in_the_working_directory() {
    let (dir, image) = setup();
    std::fs::write(
        dir.path().join(".dive-ci"),
        "rules:\n  lowestEfficiency: 0.1\n  highest-user-wasted-percent: 0.99\nplugins:\n  - foo\n",
    )
    .unwrap();
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json"], &[]);
    assert_eq!(status_of(&o, "lowest-efficiency"), "PASS");
    // dive 0.13.1 ignores kebab-case keys in .dive-ci; so do we, and say so.
    assert_eq!(status_of(&o, "highest-user-wasted-percent"), "FAIL");
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["ci"]["ignored_config_keys"],
        serde_json::json!(["rules.highest-user-wasted-percent", "plugins"])
    );
}

#[test]
fn noise_floor_lets_percentage_rules_pass() {
    let (dir, image) = setup();
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json", "--min-wasted-bytes", "1MB"], &[]);
    assert_eq!(status_of(&o, "lowest-efficiency"), "PASS");
    assert_eq!(status_of(&o, "highest-user-wasted-percent"), "PASS");
    assert_eq!(o.status.code(), Some(0));
    let o = run_in(dir.path(), &["--ci", &image, "--format", "json", "--min-wasted-bytes", "1kB"], &[]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn layer_and_user_efficiency_rules() {
    let (dir, image) = setup();
    let o = run_in(
        dir.path(),
        &[
            "--ci",
            &image,
            "--format",
            "json",
            "--lowest-efficiency",
            "0",
            "--highest-user-wasted-percent",
            "1",
            "--highest-layer-wasted-bytes",
            "2999",
            "--lowest-user-efficiency",
            "0.5",
        ],
        &[],
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let layer_rule =
        report["ci"]["results"].as_array().unwrap().iter().find(|r| r["rule"] == "highest-layer-wasted-bytes").unwrap();
    assert_eq!((layer_rule["status"].as_str(), layer_rule["layer"].as_u64()), (Some("FAIL"), Some(1)));
    assert_eq!(status_of(&o, "lowest-user-efficiency"), "FAIL");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn reports_in_every_format_to_stdout_or_a_file() {
    let (dir, image) = setup();
    let junit = run_in(dir.path(), &["--ci", &image, "--format", "junit"], &[]);
    let xml = stdout(&junit);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"<testcase name="lowest-efficiency""#));
    assert!(xml.contains("<failure"));
    assert!(xml.contains("<skipped"));

    let sarif = run_in(dir.path(), &["--ci", &image, "--format", "sarif"], &[]);
    let log: Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "lowest-efficiency" && r["level"] == "error"));
    assert!(results.iter().any(|r| r["ruleId"] == "waste-deleted"));
    assert!(results.iter().any(|r| r["ruleId"] == "waste-metadata-only"));

    let gh = run_in(dir.path(), &["--ci", &image, "--format", "github"], &[]);
    let text = stdout(&gh);
    assert!(text.contains("::error title=layerscope lowest-efficiency::"), "{text}");
    assert!(text.contains("::warning title="), "{text}");
    assert_eq!(gh.status.code(), Some(1));

    let out = dir.path().join("report.xml");
    let o = run_in(dir.path(), &["--ci", &image, "--format", "junit", "--output", out.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(std::fs::read_to_string(&out).unwrap().contains("<testsuites"));
}

#[test]
fn json_report_carries_analysis_dive_and_verdict() {
    let (dir, image) = setup();
    let o = run_in(dir.path(), &["--json", "-", &image], &[]);
    assert_eq!(o.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "size_bytes",
        "final_size_bytes",
        "wasted_bytes",
        "efficiency",
        "user_size_bytes",
        "user_wasted_bytes",
        "user_wasted_percent",
        "causes",
        "duplicate_content_bytes",
        "base",
        "layers",
        "top_waste",
    ] {
        assert!(r["analysis"].get(key).is_some(), "analysis.{key}");
    }
    for key in ["deleted", "overwritten", "metadata_only"] {
        assert!(r["analysis"]["causes"].get(key).is_some(), "causes.{key}");
    }
    for key in ["layers", "method", "os", "suggestions"] {
        assert!(r["analysis"]["base"].get(key).is_some(), "base.{key}");
    }
    for key in ["index", "size_bytes", "visible_bytes", "wasted_bytes", "hides_bytes", "score"] {
        assert!(r["analysis"]["layers"][0].get(key).is_some(), "layers[].{key}");
    }
    for key in ["path", "bytes", "copies", "cause", "shipped_by", "hidden_by"] {
        assert!(r["analysis"]["top_waste"][0].get(key).is_some(), "top_waste[].{key}");
    }
    for key in ["efficiency", "wasted_bytes", "user_wasted_percent"] {
        assert!(r["dive"].get(key).is_some(), "dive.{key}");
    }
    assert!(r.get("ci").is_none(), "no verdict outside CI mode");
    assert_eq!(r["analysis"]["wasted_bytes"], 3500);
    assert_eq!(r["analysis"]["causes"]["deleted"], 3000);
    assert_eq!(r["analysis"]["causes"]["metadata_only"], 500);

    // With --ci the JSON file also carries the verdict, and the gate still decides the exit code.
    let o = run_in(dir.path(), &["--ci", "--json", "r.json", &image], &[]);
    assert_eq!(o.status.code(), Some(1));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["ci"]["passed"], false);
}

#[test]
fn dive_compat_judges_dive_figures() {
    let (dir, image) = setup();
    // dive counts both copies of /tmp/dl... and of /tool: 3000 + 500 + 500 + 0 = 4000 with its rules.
    let o = run_in(
        dir.path(),
        &["--ci", "--dive-compat", &image, "--format", "json", "--highest-wasted-bytes", "3999"],
        &[],
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["ci"]["figures"], "dive");
    assert_eq!(r["dive"]["wasted_bytes"], 4000);
    assert_eq!(status_of(&o, "highest-wasted-bytes"), "FAIL");
    let text = stdout(&run_in(dir.path(), &["--ci", "--dive-compat", &image], &[]));
    assert!(text.contains("  wastedBytes: 4000 bytes (4.0 kB)"), "{text}");
}
