//! SARIF 2.1.0: a result per failed rule (error) and per top wasted path (warning), located in the
//! image archive, with the image figures as run properties.

use std::io::{self, Write};

use serde_json::{Value, json};

use crate::analysis::{Analysis, Cause};
use crate::ci::{RULES, Status, Verdict};
use crate::image::Image;
use crate::units::human_bytes;

const WASTE_RULES: [(Cause, &str, &str); 3] = [
    (Cause::Deleted, "waste-deleted", "Bytes shipped by one layer and deleted by a later one"),
    (
        Cause::Overwritten,
        "waste-overwritten",
        "Bytes shipped by one layer and overwritten with other content by a later one",
    ),
    (
        Cause::MetadataOnly,
        "waste-metadata-only",
        "Metadata-only: the same bytes shipped again by a later layer that only changed mode, owner or mtime",
    ),
];

/// The rule of the results that say where the waste comes from, with the fix.
const SOURCE_RULE: (&str, &str) =
    ("waste-source", "Wasted bytes from one source (apt lists, a pip cache, a later chmod...), with the fix");

/// The rule of the results that carry the image's warnings.
const WARNING_RULE: (&str, &str) =
    ("image-warning", "A problem found while reading the image (a missing blob, a digest mismatch, an odd entry)");

/// A URI reference for a file name: absolute paths become `file://` URIs; unsafe bytes are
/// percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::new();
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SARIF log as a JSON value.
pub fn sarif(image: &Image, analysis: &Analysis, verdict: &Verdict) -> Value {
    let mut rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.name(),
                "name": r.name(),
                "shortDescription": {"text": r.description()},
                "defaultConfiguration": {"level": "error"},
            })
        })
        .collect();
    for (_, id, text) in WASTE_RULES {
        rules.push(json!({
            "id": id,
            "name": id,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": "warning"},
        }));
    }
    rules.push(json!({
        "id": SOURCE_RULE.0,
        "name": SOURCE_RULE.0,
        "shortDescription": {"text": SOURCE_RULE.1},
        "defaultConfiguration": {"level": "warning"},
    }));
    rules.push(json!({
        "id": WARNING_RULE.0,
        "name": WARNING_RULE.0,
        "shortDescription": {"text": WARNING_RULE.1},
        "defaultConfiguration": {"level": "warning"},
    }));
    let location = json!([{"physicalLocation": {"artifactLocation": {"uri": uri(&image.source), "index": 0}}}]);
    let mut results = Vec::new();
    for r in verdict.results.iter().filter(|r| r.status == Status::Fail) {
        let index = RULES.iter().position(|x| *x == r.rule).unwrap_or(0);
        results.push(json!({
            "ruleId": r.rule.name(),
            "ruleIndex": index,
            "level": "error",
            "message": {"text": format!("{}: {}", r.rule.name(), r.message)},
            "locations": location,
        }));
    }
    for w in &analysis.top_waste {
        let index = WASTE_RULES.iter().position(|(c, _, _)| *c == w.cause).unwrap_or(0);
        let (_, id, _) = WASTE_RULES[index];
        let mut loc = location.clone();
        loc[0]["logicalLocations"] = json!([{"fullyQualifiedName": w.path, "kind": "resource"}]);
        results.push(json!({
            "ruleId": id,
            "ruleIndex": RULES.len() + index,
            "level": "warning",
            "message": {"text": format!("{} wasted at {}: {}", human_bytes(w.bytes), w.path, w.fix)},
            "locations": loc,
            "partialFingerprints": {"layerscopeWastePath/v1": format!("{}:{}", id, w.path)},
            "properties": {"bytes": w.bytes, "copies": w.copies, "files": w.files, "shippedBy": w.shipped_by, "hiddenBy": w.hidden_by},
        }));
    }
    let source_index = RULES.len() + WASTE_RULES.len();
    for w in &analysis.waste_sources {
        let ranges = crate::report::text::layer_ranges;
        let layers = format!("{}→{}", ranges(&w.shipped_by), ranges(&w.hidden_by));
        let source = serde_json::to_value(w.source).unwrap_or_default();
        results.push(json!({
            "ruleId": SOURCE_RULE.0,
            "ruleIndex": source_index,
            "level": "warning",
            "message": {"text": format!("{} wasted: {} (layers {layers}). Fix: {}", human_bytes(w.bytes), w.label, w.fix)},
            "locations": location,
            "partialFingerprints": {"layerscopeWasteSource/v1": source},
            "properties": {"bytes": w.bytes, "files": w.files, "source": source, "shippedBy": w.shipped_by, "hiddenBy": w.hidden_by},
        }));
    }
    let warning_index = source_index + 1;
    for w in &image.warnings {
        let mut loc = location.clone();
        if let Some(path) = &w.path {
            loc[0]["logicalLocations"] = json!([{"fullyQualifiedName": path, "kind": "resource"}]);
        }
        results.push(json!({
            "ruleId": WARNING_RULE.0,
            "ruleIndex": warning_index,
            "level": "warning",
            "message": {"text": w.to_string()},
            "locations": loc,
            "properties": {"kind": w.kind, "layer": w.layer},
        }));
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "layerscope",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "artifacts": [{"location": {"uri": uri(&image.source)}, "description": {"text": "container image archive"}}],
            "invocations": [{"executionSuccessful": true}],
            "results": results,
            "properties": {
                "sizeBytes": analysis.size_bytes,
                "finalSizeBytes": analysis.final_size_bytes,
                "wastedBytes": analysis.wasted_bytes,
                "efficiency": analysis.efficiency,
                "userWastedPercent": analysis.user_wasted_percent,
                "passed": verdict.passed,
            },
        }],
    })
}

/// Write the SARIF log.
pub fn write_sarif<W: Write>(image: &Image, analysis: &Analysis, verdict: &Verdict, mut out: W) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, &sarif(image, analysis, verdict))?;
    writeln!(out)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_encoded() {
        assert_eq!(uri("/tmp/my image.tar"), "file:///tmp/my%20image.tar");
        assert_eq!(uri("img.tar"), "img.tar");
        assert_eq!(uri("<stdin>"), "%3Cstdin%3E");
    }
}
