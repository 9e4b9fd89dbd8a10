//! The SARIF and JUnit reports validate against their published schemas.
//!
//! * SARIF 2.1.0: the OASIS schema as shipped inside the `serde-sarif` crate (a pinned
//!   dev-dependency, so cargo has already unpacked it), checked with the `jsonschema` crate.
//! * JUnit: the Jenkins `junit-10.xsd`, checked with `xmllint`. `.ci/run` fetches the XSD (from the
//!   pytest source package on PyPI) and sets `JUNIT_XSD`.
//!
//! Where a schema or validator is missing the test says so and skips, unless
//! `LAYERSCOPE_REQUIRE_SCHEMAS=1` (as in CI), where a missing validator fails the test.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

use layerscope::analysis::dive::figures;
use layerscope::analysis::{Options, analyze};
use layerscope::ci::{Policy, Rule, evaluate};
use layerscope::report::{junit, sarif};
use support::{Attrs, Image, Layer, load};

fn required() -> bool {
    std::env::var_os("LAYERSCOPE_REQUIRE_SCHEMAS").is_some_and(|v| v == "1")
}

fn skip(what: &str) {
    assert!(!required(), "{what} (LAYERSCOPE_REQUIRE_SCHEMAS=1)");
    eprintln!("skipped: {what}");
}

/// An image whose report exercises every part: failing, passing and skipped rules, waste of every
/// cause, and names that need escaping in XML and URIs.
fn reports() -> (layerscope::Image, layerscope::analysis::Analysis, layerscope::ci::Verdict) {
    let image = load(
        Image::new()
            .layer(
                Layer::new()
                    .dir("odd")
                    .file("odd/a&b <c> \"d\" 'e'", &[1; 500])
                    .file_bytes(b"odd/caf\xe9\x01", &[2; 300])
                    .file("tool", &[3; 200]),
                "/bin/sh -c #(nop) ADD file:x in / ",
            )
            .instruction("/bin/sh -c #(nop)  CMD [\"sh\"]")
            .layer(
                Layer::new().dir("odd").whiteout("odd/a&b <c> \"d\" 'e'").whiteout("odd/caf\u{e9}\u{1}").file_with(
                    "tool",
                    &[3; 200],
                    Attrs::FILE.mode(0o755),
                ),
                "/bin/sh -c rm && chmod",
            )
            .tags(&["weird <tag>:1"])
            .docker_archive(),
    );
    let analysis = analyze(&image, &Options::default());
    let flags = vec![(Rule::HighestWastedBytes, "1kB".to_string()), (Rule::LowestUserEfficiency, "0.99".to_string())];
    let verdict =
        evaluate(&analysis, &figures(&image), &image.integrity(), &Policy::build(&flags, None, false).unwrap());
    assert!(verdict.results.iter().any(|r| r.status == layerscope::ci::Status::Fail));
    assert!(verdict.results.iter().any(|r| r.status == layerscope::ci::Status::Skip));
    (image, analysis, verdict)
}

fn sarif_schema() -> Option<serde_json::Value> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    for index in std::fs::read_dir(home.join("registry/src")).ok()?.flatten() {
        let path = index.path().join("serde-sarif-0.8.0/src/schema.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            // The OASIS file has a regex ECMA-262 rejects (a stray `]`); fix it as the errata does.
            let text =
                text.replace(r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
            return serde_json::from_str(&text).ok();
        }
    }
    None
}

#[test]
fn sarif_report_validates_against_the_sarif_2_1_0_schema() {
    let Some(schema) = sarif_schema() else {
        return skip("the SARIF schema (serde-sarif-0.8.0/src/schema.json) is not in the cargo registry");
    };
    let validator = jsonschema::options().should_validate_formats(true).build(&schema).unwrap();
    let (image, analysis, verdict) = reports();
    let log = sarif::sarif(&image, &analysis, &verdict);
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", serde_json::to_string_pretty(&log).unwrap());
    // The validator is not lenient: a broken log is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn junit_report_validates_against_the_junit_xsd() {
    let Some(xsd) = std::env::var_os("JUNIT_XSD").map(PathBuf::from).filter(|p| p.is_file()) else {
        return skip("JUNIT_XSD is not set (see .ci/run)");
    };
    if Command::new("xmllint").arg("--version").output().is_err() {
        return skip("xmllint is not installed (Debian package libxml2-utils)");
    }
    let (image, _, verdict) = reports();
    let mut xml = Vec::new();
    junit::write_junit(&image, &verdict, "2024-01-01T00:00:00", "host <1>", 0.123_456, &mut xml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&xml));
}
