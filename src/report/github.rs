//! GitHub Actions workflow commands: an `::error` per failed rule, a `::warning` per top wasted path,
//! and a `::notice` with the figures, so findings show up as annotations on the run.

use std::io::{self, Write};

use crate::analysis::{Analysis, DiveFigures};
use crate::ci::{Status, Verdict};
use crate::image::Image;
use crate::text::{plural, terminal_safe};
use crate::units::go_float;
use crate::units::human_bytes;

/// Annotations for the largest wasted paths.
const WASTE_ANNOTATIONS: usize = 10;

/// Image warnings annotated (the rest are counted in one more annotation).
const WARNING_ANNOTATIONS: usize = 10;

/// Escape a message (`%`, CR, LF), as workflow commands require, and every other control
/// character, which the log viewer would otherwise interpret.
fn data(s: &str) -> String {
    let s = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    terminal_safe(&s).into_owned()
}

/// Escape a property value (a message's escapes plus `:` and `,`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Write the annotations. The summary gives the figures the rules judged: layerscope's, or dive's
/// with `--dive-compat`.
pub fn write_github<W: Write>(
    image: &Image,
    analysis: &Analysis,
    dive: &DiveFigures,
    verdict: &Verdict,
    mut out: W,
) -> io::Result<()> {
    for r in verdict.results.iter().filter(|r| r.status == Status::Fail) {
        writeln!(
            out,
            "::error title={}::{}",
            property(&format!("layerscope {}", r.rule.name())),
            data(&format!("{} ({})", r.message, image.source))
        )?;
    }
    // By source: one annotation says what to change for all its paths (the paths are in the
    // --json report).
    let ranges = crate::report::text::layer_ranges;
    for w in analysis.waste_sources.iter().take(WASTE_ANNOTATIONS) {
        writeln!(
            out,
            "::warning title={}::{}",
            property(&format!("layerscope: {} wasted", human_bytes(w.bytes))),
            data(&format!("{} (layers {}→{}). Fix: {}", w.label, ranges(&w.shipped_by), ranges(&w.hidden_by), w.fix))
        )?;
    }
    let warning_title = property("layerscope: image warning");
    for w in image.warnings.iter().take(WARNING_ANNOTATIONS) {
        writeln!(out, "::warning title={warning_title}::{}", data(&w.to_string()))?;
    }
    if image.warnings.len() > WARNING_ANNOTATIONS {
        writeln!(
            out,
            "::warning title={warning_title}::{} more warnings in the --json report",
            image.warnings.len() - WARNING_ANNOTATIONS
        )?;
    }
    let (efficiency, wasted, user_wasted, whose) = if verdict.figures == "dive" {
        (dive.efficiency, dive.wasted_bytes, dive.user_wasted_percent, "dive's figures")
    } else {
        (analysis.efficiency, analysis.wasted_bytes, analysis.user_wasted_percent, "layerscope's figures")
    };
    let percent =
        |r: f64| if r.is_finite() { format!("{:.2} %", r * 100.0) } else { go_float(r * 100.0, false) + " %" };
    writeln!(
        out,
        "::notice title=layerscope::{}",
        data(&format!(
            "{}: {} in {}, {} wasted (efficiency {}, user wasted {}; {whose}): {}",
            image.source,
            human_bytes(analysis.size_bytes),
            plural(image.layers.len(), "layer", "layers"),
            human_bytes(wasted),
            percent(efficiency),
            percent(user_wasted),
            if verdict.passed { "PASS" } else { "FAIL" }
        ))
    )?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_workflow_command_text() {
        assert_eq!(data("50% a\nb"), "50%25 a%0Ab");
        assert_eq!(data("a\x1b]52;c;x\x07"), "a\\x1b]52;c;x\\x07");
        assert_eq!(property("a: b, c"), "a%3A b%2C c");
    }
}
