//! The SARIF and JUnit reports validate against their published schemas, vendored under
//! `tests/data/schemas/` (OASIS SARIF 2.1.0; the Jenkins `junit-10.xsd`, MIT, as pytest ships it).
//!
//! * SARIF: Python's `jsonschema` (Debian's `python3-jsonschema`), with format checks on;
//! * JUnit: `xmllint --schema` (Debian's `libxml2-utils`).
//!
//! `.ci/run` installs both and sets `LAYERSCOPE_REQUIRE_SCHEMAS=1`, so a missing validator fails
//! there; elsewhere the test says it skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use layerscope::analysis::dive::figures;
use layerscope::analysis::{Options, analyze};
use layerscope::ci::{Policy, Rule, evaluate};
use layerscope::report::{junit, sarif};

use crate::support::{self, Attrs, Image, Layer, load};

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schemas").join(name)
}

/// A Python that has `jsonschema`: `LAYERSCOPE_PYTHON`, Debian's, or the one on PATH.
fn python_with_jsonschema() -> Option<String> {
    let candidates =
        std::env::var("LAYERSCOPE_PYTHON").into_iter().chain(["/usr/bin/python3".into(), "python3".into()]);
    candidates
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import jsonschema"]).output().is_ok_and(|o| o.status.success()))
}

/// Validate a JSON document against a JSON schema file with Python's jsonschema; the errors.
fn validate_json(python: &str, schema: &Path, doc: &serde_json::Value) -> Vec<String> {
    const SCRIPT: &str = r#"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
# The OASIS file has a regex ECMA-262 rejects (a stray `]`); the errata fixes it so.
text = json.dumps(schema).replace('^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$', '^[a-zA-Z]{2}(-[a-zA-Z]{2})?$')
schema = json.loads(text)
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
v = cls(schema, format_checker=cls.FORMAT_CHECKER)
for e in v.iter_errors(json.load(sys.stdin)):
    print("%s at %s" % (e.message, "/".join(map(str, e.absolute_path))))
"#;
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    serde_json::to_writer(&mut stdin, doc).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the validator failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}

/// An image whose report exercises every part: failing, passing and skipped rules, waste of every
/// cause, a warning, and names that need escaping in XML and URIs.
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
                Layer::new()
                    .dir("odd")
                    .whiteout("odd/a&b <c> \"d\" 'e'")
                    .whiteout("odd/caf\u{e9}\u{1}")
                    .whiteout("odd/never <there>")
                    .file_with("tool", &[3; 200], Attrs::FILE.mode(0o755)),
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
    assert!(!image.warnings.is_empty());
    (image, analysis, verdict)
}

#[test]
fn sarif_report_validates_against_the_sarif_2_1_0_schema() {
    let Some(python) = python_with_jsonschema() else {
        return support::missing("SCHEMAS", "Python's jsonschema is not installed (Debian package python3-jsonschema)");
    };
    let (image, analysis, verdict) = reports();
    let log = sarif::sarif(&image, &analysis, &verdict);
    let schema = schema("sarif-schema-2.1.0.json");
    let errors = validate_json(&python, &schema, &log);
    assert!(errors.is_empty(), "{errors:#?}\n{}", serde_json::to_string_pretty(&log).unwrap());
    // The validator is not lenient: a broken log is refused.
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!validate_json(&python, &schema, &broken).is_empty());
}

#[test]
fn junit_report_validates_against_the_junit_xsd() {
    if Command::new("xmllint").arg("--version").output().is_err() {
        return support::missing("SCHEMAS", "xmllint is not installed (Debian package libxml2-utils)");
    }
    let (image, _, verdict) = reports();
    let mut xml = Vec::new();
    junit::write_junit(&image, &verdict, "2024-01-01T00:00:00", "host <1>", 0.123_456, &mut xml).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.xml");
    std::fs::write(&file, &xml).unwrap();
    let xsd = schema("junit-10.xsd");
    let out = Command::new("xmllint").arg("--noout").arg("--schema").arg(&xsd).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&xml));
}
