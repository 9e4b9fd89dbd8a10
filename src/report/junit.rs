//! JUnit XML: one test case per CI rule (failed rules as failures, disabled ones as skipped), so CI
//! dashboards that read test reports show the gate.

use std::io::{self, Write};

use crate::ci::{Status, Verdict};
use crate::image::Image;

/// Escape text for XML attributes and content; characters XML 1.0 forbids become U+FFFD.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            // Control characters XML forbids, and the bidirectional overrides that reorder what a
            // dashboard shows.
            c if (c as u32) < 0x20
                || c.is_control()
                || matches!(c, '\u{FFFE}' | '\u{FFFF}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push('\u{FFFD}')
            }
            c => out.push(c),
        }
    }
    out
}

/// Write the JUnit report. `timestamp` is ISO 8601 (`2024-01-01T00:00:00`), `seconds` the analysis time.
pub fn write_junit<W: Write>(
    image: &Image,
    verdict: &Verdict,
    timestamp: &str,
    hostname: &str,
    seconds: f64,
    mut out: W,
) -> io::Result<()> {
    let tests = verdict.results.len();
    let failures = verdict.count(Status::Fail);
    let skipped = verdict.count(Status::Skip);
    let suite = format!("layerscope {}", image.source);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="layerscope" tests="{tests}" failures="{failures}" errors="0" time="{seconds:.3}">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" id="0" package="layerscope" timestamp="{}" hostname="{}" tests="{tests}" failures="{failures}" errors="0" skipped="{skipped}" time="{seconds:.3}">"#,
        xml(&suite),
        xml(timestamp),
        xml(hostname)
    )?;
    writeln!(out, "    <properties>")?;
    writeln!(out, r#"      <property name="image" value="{}"/>"#, xml(&image.source))?;
    writeln!(out, r#"      <property name="figures" value="{}"/>"#, verdict.figures)?;
    if let Some(c) = &verdict.config {
        writeln!(out, r#"      <property name="config" value="{}"/>"#, xml(c))?;
    }
    writeln!(out, "    </properties>")?;
    for r in &verdict.results {
        let name = xml(r.rule.name());
        match r.status {
            Status::Pass => writeln!(out, r#"    <testcase name="{name}" classname="layerscope.rules" time="0"/>"#)?,
            Status::Skip => {
                writeln!(out, r#"    <testcase name="{name}" classname="layerscope.rules" time="0">"#)?;
                writeln!(out, r#"      <skipped message="{}"/>"#, xml(&r.message))?;
                writeln!(out, "    </testcase>")?;
            }
            Status::Fail => {
                writeln!(out, r#"    <testcase name="{name}" classname="layerscope.rules" time="0">"#)?;
                writeln!(
                    out,
                    r#"      <failure message="{}" type="{name}">{}</failure>"#,
                    xml(&r.message),
                    xml(&format!("{}: {} (threshold {}, {})", r.rule.name(), r.message, r.threshold, image.source))
                )?;
                writeln!(out, "    </testcase>")?;
            }
        }
    }
    writeln!(out, "    <system-out></system-out>")?;
    // The image's warnings, one per line, where CI dashboards show a suite's log.
    let warnings: Vec<String> = image.warnings.iter().map(|w| format!("warning: {w}")).collect();
    writeln!(out, "    <system-err>{}</system-err>", xml(&warnings.join("\n")))?;
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_xml() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\u{FFFD}");
    }
}
