//! The wire formats, frozen: every document layerscope writes for programs, on images built in
//! code, as insta snapshots (digests, temporary paths and the version redacted). A renamed or
//! moved field shows up here in review; a change that is meant goes into README's changelog.

use std::process::Command;

use crate::support::{self, Image, Layer};

/// The outputs of `args` (`IMG`, `OLD` and `NEW` name the fixtures), redacted.
fn run(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: Vec<u8>| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let img = write("app.tar", support::dpkg_archive());
    let old = write("old.tar", older().docker_archive());
    let args: Vec<String> = args
        .iter()
        .map(|a| match *a {
            "IMG" | "NEW" => img.clone(),
            "OLD" => old.clone(),
            other => other.to_string(),
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_layerscope"))
        .args(&args)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .env("LAYERSCOPE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    redact(&String::from_utf8(out.stdout).unwrap(), dir.path().to_str().unwrap())
}

/// The fixture before its last layer changed: the same base layer, another top one.
fn older() -> Image {
    let fixture = support::dpkg_image();
    let base = fixture.history[0].0.clone();
    Image::new().layer(fixture.layers[0].clone(), &base).layer(
        Layer::new().file("usr/bin/git", &[3; 2_500]).file("opt/app/main", &[5; 900]),
        "/bin/sh -c apt-get install -y git",
    )
}

/// Digests, the temporary folder, the version and JUnit's run facts (duration, clock, host),
/// which change from run to run or release to release, replaced by placeholders.
fn redact(text: &str, temp: &str) -> String {
    let mut text = text.replace(temp, "[TMP]").replace(env!("CARGO_PKG_VERSION"), "[VERSION]");
    for (pattern, with) in [
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\b[0-9a-f]{64}\b", "[HEX]"),
        (r#" time="[0-9.]+""#, r#" time="[SECONDS]""#),
        (r#" timestamp="[^"]*""#, r#" timestamp="[WHEN]""#),
        (r#" hostname="[^"]*""#, r#" hostname="[HOST]""#),
    ] {
        text = regex::Regex::new(pattern).unwrap().replace_all(&text, with).into_owned();
    }
    text
}

#[test]
fn the_json_report() {
    insta::assert_snapshot!("json_report", run(&["--json", "-", "IMG"]));
}

#[test]
fn the_files_output() {
    insta::assert_snapshot!("files", run(&["files", "IMG"]));
}

#[test]
fn the_ci_reports() {
    for format in ["json", "junit", "sarif", "github", "text"] {
        insta::assert_snapshot!(format!("ci_{format}"), run(&["--ci", "--format", format, "IMG"]));
    }
}

#[test]
fn the_dive_compatible_export() {
    insta::assert_snapshot!("dive_compat_json", run(&["--dive-compat", "--json", "-", "IMG"]));
}

#[test]
fn the_diff_and_df_documents() {
    insta::assert_snapshot!("diff_json", run(&["diff", "--format", "json", "OLD", "NEW"]));
    insta::assert_snapshot!("df_json", run(&["df", "--format", "json", "OLD", "NEW"]));
}
