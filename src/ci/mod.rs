//! The CI gate: rules with thresholds, where they come from (flags, config files, defaults), and
//! their verdict on an [`Analysis`].

mod config;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use config::{ConfigError, ConfigFile, FileKind, find_config, load_config, parse_config};

use crate::analysis::{Analysis, DiveFigures};
use crate::image::Integrity;
use crate::text::plural;
use crate::units::human_bytes;

/// A rule of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// Fails when efficiency is below the threshold.
    LowestEfficiency,
    /// Fails when wasted bytes exceed the threshold.
    HighestWastedBytes,
    /// Fails when user wasted percent exceeds the threshold.
    HighestUserWastedPercent,
    /// Fails when any one layer ships more wasted bytes than the threshold.
    HighestLayerWastedBytes,
    /// Fails when user efficiency is below the threshold.
    LowestUserEfficiency,
    /// Not a rule: a noise floor. Under it the percentage rules pass.
    MinWastedBytes,
    /// Fails when a layer blob is missing from the archive or a digest does not match its bytes.
    CompleteImage,
}

/// Every rule, in report order.
pub const RULES: [Rule; 7] = [
    Rule::CompleteImage,
    Rule::LowestEfficiency,
    Rule::HighestWastedBytes,
    Rule::HighestUserWastedPercent,
    Rule::HighestLayerWastedBytes,
    Rule::LowestUserEfficiency,
    Rule::MinWastedBytes,
];

impl Rule {
    /// The kebab-case name used in flags, config files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Rule::LowestEfficiency => "lowest-efficiency",
            Rule::HighestWastedBytes => "highest-wasted-bytes",
            Rule::HighestUserWastedPercent => "highest-user-wasted-percent",
            Rule::HighestLayerWastedBytes => "highest-layer-wasted-bytes",
            Rule::LowestUserEfficiency => "lowest-user-efficiency",
            Rule::MinWastedBytes => "min-wasted-bytes",
            Rule::CompleteImage => "complete-image",
        }
    }

    /// dive's camelCase name, for the three rules dive has.
    pub fn dive_name(self) -> Option<&'static str> {
        match self {
            Rule::LowestEfficiency => Some("lowestEfficiency"),
            Rule::HighestWastedBytes => Some("highestWastedBytes"),
            Rule::HighestUserWastedPercent => Some("highestUserWastedPercent"),
            _ => None,
        }
    }

    /// Find a rule by its kebab-case or camelCase name.
    pub fn from_name(name: &str) -> Option<Rule> {
        RULES.into_iter().find(|r| r.name() == name || r.dive_name() == Some(name) || camel(r.name()) == name)
    }

    /// Whether the threshold is a size (else a ratio in 0..1, or a switch).
    pub fn takes_bytes(self) -> bool {
        matches!(self, Rule::HighestWastedBytes | Rule::HighestLayerWastedBytes | Rule::MinWastedBytes)
    }

    /// Whether the rule is only on or off (it has no number).
    pub fn is_switch(self) -> bool {
        self == Rule::CompleteImage
    }

    /// What a value of this rule looks like, for messages.
    pub fn value_hint(self) -> &'static str {
        if self.is_switch() {
            "'enabled' or 'disabled'"
        } else if self.takes_bytes() {
            "a size such as 20MB, 512KiB or 1000, or 'disabled'"
        } else {
            "a ratio from 0 to 1 such as 0.9 or 90%, or 'disabled'"
        }
    }

    /// The built-in default (dive's for its three rules).
    pub fn default_threshold(self) -> Threshold {
        match self {
            Rule::LowestEfficiency => Threshold::Ratio(0.9),
            Rule::HighestUserWastedPercent => Threshold::Ratio(0.1),
            Rule::CompleteImage => Threshold::Enabled,
            _ => Threshold::Disabled,
        }
    }

    /// What the rule checks, for help texts and reports.
    pub fn description(self) -> &'static str {
        match self {
            Rule::LowestEfficiency => "fails when image efficiency (final size / image size) is below the threshold",
            Rule::HighestWastedBytes => "fails when the image wastes more bytes than the threshold",
            Rule::HighestUserWastedPercent => {
                "fails when the share of bytes your layers waste (user wasted percent) exceeds the threshold"
            }
            Rule::HighestLayerWastedBytes => "fails when one layer ships more wasted bytes than the threshold",
            Rule::LowestUserEfficiency => "fails when user efficiency (1 - user wasted percent) is below the threshold",
            Rule::MinWastedBytes => "noise floor: below this many wasted bytes the percentage rules pass",
            Rule::CompleteImage => {
                "fails when a layer blob is missing from the archive or a blob, DiffID or config does not match its digest"
            }
        }
    }
}

fn camel(kebab: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in kebab.chars() {
        if c == '-' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A rule's threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// The rule is off.
    Disabled,
    /// A switch rule is on.
    Enabled,
    /// A fraction in 0..1.
    Ratio(f64),
    /// A byte count.
    Bytes(u64),
}

/// In JSON: `null` when disabled, `true` for an enabled switch, else the number.
impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Threshold::Disabled => s.serialize_none(),
            Threshold::Enabled => s.serialize_bool(true),
            Threshold::Ratio(r) => s.serialize_f64(*r),
            Threshold::Bytes(b) => s.serialize_u64(*b),
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Disabled => f.write_str("disabled"),
            Threshold::Enabled => f.write_str("enabled"),
            Threshold::Ratio(r) => write!(f, "{r}"),
            Threshold::Bytes(b) => f.write_str(&human_bytes(*b)),
        }
    }
}

/// Where a threshold came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Source {
    /// Built in.
    Default,
    /// A config file.
    File(String),
    /// A command-line flag.
    Flag,
}

/// A threshold that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: invalid value '{value}' ({origin}): {reason}")]
pub struct BadValue {
    /// The rule's name.
    pub rule: String,
    /// The value as given.
    pub value: String,
    /// Where it was given.
    pub origin: String,
    /// What is wrong.
    pub reason: String,
}

/// Parse a threshold for `rule`.
pub fn parse_threshold(rule: Rule, value: &str) -> Result<Threshold, String> {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    if matches!(lower.as_str(), "disabled" | "off" | "false" | "none" | "") {
        return Ok(Threshold::Disabled);
    }
    if rule.is_switch() {
        return match lower.as_str() {
            "enabled" | "on" | "true" | "required" => Ok(Threshold::Enabled),
            _ => Err(format!("expected {}", rule.value_hint())),
        };
    }
    if rule.takes_bytes() { parse_bytes(v).map(Threshold::Bytes) } else { parse_ratio(v).map(Threshold::Ratio) }
}

/// A ratio: `0.9`, or a percentage `90%`.
fn parse_ratio(v: &str) -> Result<f64, String> {
    let (number, scale) = match v.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (v, 1.0),
    };
    let r: f64 = number.parse().map_err(|_| format!("expected {}", Rule::LowestEfficiency.value_hint()))?;
    let r = r / scale;
    if !(0.0..=1.0).contains(&r) {
        return Err("out of range: a ratio is from 0 to 1 (0.9, or 90%)".into());
    }
    Ok(r)
}

/// A size: `32025`, `20MB` (SI), `32KiB` (binary); units are case-insensitive as in dive.
pub fn parse_bytes(v: &str) -> Result<u64, String> {
    if v.starts_with('-') {
        return Err("out of range: a size cannot be negative".into());
    }
    let split = v.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: f64 = number.parse().map_err(|_| format!("expected {}", Rule::HighestWastedBytes.value_hint()))?;
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024f64.powi(2),
        "gi" | "gib" => 1024f64.powi(3),
        "ti" | "tib" => 1024f64.powi(4),
        "pi" | "pib" => 1024f64.powi(5),
        _ => return Err(format!("unknown size unit '{}'", unit)),
    };
    let bytes = n * multiplier;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err("too large".into());
    }
    Ok(bytes.round() as u64)
}

/// Thresholds of every rule, with their origins.
#[derive(Clone, Debug, Serialize)]
pub struct Policy {
    /// (rule, threshold, origin) for every rule, in report order.
    pub rules: Vec<(Rule, Threshold, Source)>,
    /// Judge dive's figures (efficiency, wasted bytes, user wasted percent) instead of ours.
    pub dive_compat: bool,
    /// The config file used, if any.
    pub config: Option<String>,
    /// Keys of the config file that were ignored.
    pub ignored_keys: Vec<String>,
}

impl Policy {
    /// Build the policy: flags win over the config file, which wins over defaults. Values are
    /// checked here, before any image is read.
    pub fn build(flags: &[(Rule, String)], file: Option<&ConfigFile>, dive_compat: bool) -> Result<Policy, BadValue> {
        let mut rules = Vec::new();
        for rule in RULES {
            let flag = flags.iter().rev().find(|(r, _)| *r == rule);
            let from_file = file.and_then(|f| f.rules.iter().rev().find(|(r, _)| *r == rule));
            let (threshold, source) = match (flag, from_file) {
                (Some((_, v)), _) => (check(rule, v, "command line")?, Source::Flag),
                (None, Some((_, v))) => {
                    let origin = file.map_or_else(String::new, |f| f.path.display().to_string());
                    (check(rule, v, &origin)?, Source::File(origin))
                }
                (None, None) => (rule.default_threshold(), Source::Default),
            };
            rules.push((rule, threshold, source));
        }
        Ok(Policy {
            rules,
            dive_compat,
            config: file.map(|f| f.path.display().to_string()),
            ignored_keys: file.map(|f| f.ignored.clone()).unwrap_or_default(),
        })
    }

    fn threshold(&self, rule: Rule) -> Threshold {
        self.rules.iter().find(|(r, _, _)| *r == rule).map_or(Threshold::Disabled, |(_, t, _)| *t)
    }
}

fn check(rule: Rule, value: &str, origin: &str) -> Result<Threshold, BadValue> {
    parse_threshold(rule, value).map_err(|reason| BadValue {
        rule: rule.name().into(),
        value: value.into(),
        origin: origin.into(),
        reason,
    })
}

/// Outcome of one rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Within the threshold.
    Pass,
    /// Over the threshold.
    Fail,
    /// Disabled.
    Skip,
}

/// One rule's result.
#[derive(Clone, Debug, Serialize)]
pub struct RuleResult {
    /// The rule.
    pub rule: Rule,
    /// Its outcome.
    pub status: Status,
    /// The figure judged (a ratio, or bytes), when it was computed.
    pub actual: Option<f64>,
    /// The threshold.
    pub threshold: Threshold,
    /// Where the threshold came from.
    pub source: Source,
    /// A sentence with the numbers.
    pub message: String,
    /// The layer a per-layer rule points at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
}

/// Every rule's result and the overall outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// True when no rule failed.
    pub passed: bool,
    /// Which figures were judged: `layerscope` or `dive`.
    pub figures: &'static str,
    /// One result per rule.
    pub results: Vec<RuleResult>,
    /// Keys of the config file that were ignored.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored_config_keys: Vec<String>,
    /// The config file used.
    pub config: Option<String>,
}

impl Verdict {
    /// How many rules have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }
}

/// Judge `analysis` (or, with `--dive-compat`, dive's figures `dive`) and the image's
/// `integrity` by `policy`.
pub fn evaluate(analysis: &Analysis, dive: &DiveFigures, integrity: &Integrity, policy: &Policy) -> Verdict {
    let (efficiency, wasted, user_wasted) = if policy.dive_compat {
        (dive.efficiency, dive.wasted_bytes, dive.user_wasted_percent)
    } else {
        (analysis.efficiency, analysis.wasted_bytes, analysis.user_wasted_percent)
    };
    let floor = match policy.threshold(Rule::MinWastedBytes) {
        Threshold::Bytes(b) => Some(b),
        _ => None,
    };
    let below_floor = floor.is_some_and(|f| wasted < f);
    let mut results = Vec::new();
    for (rule, threshold, source) in &policy.rules {
        let (rule, threshold) = (*rule, *threshold);
        let mut result = RuleResult {
            rule,
            status: Status::Skip,
            actual: None,
            threshold,
            source: source.clone(),
            message: "disabled".into(),
            layer: None,
        };
        match (rule, threshold) {
            (Rule::CompleteImage, Threshold::Enabled) => judge_integrity(&mut result, integrity),
            (Rule::MinWastedBytes, Threshold::Bytes(f)) => {
                result.actual = Some(wasted as f64);
                result.status = Status::Pass;
                result.message = if below_floor {
                    format!(
                        "{} wasted, below the noise floor of {}: the percentage rules pass",
                        human_bytes(wasted),
                        human_bytes(f)
                    )
                } else {
                    format!(
                        "{} wasted, at or above the noise floor of {}: the percentage rules apply",
                        human_bytes(wasted),
                        human_bytes(f)
                    )
                };
            }
            (_, Threshold::Disabled) => {}
            (Rule::LowestEfficiency, Threshold::Ratio(t)) => {
                judge_ratio(&mut result, efficiency, t, Direction::AtLeast, below_floor, "image efficiency");
            }
            (Rule::LowestUserEfficiency, Threshold::Ratio(t)) => {
                judge_ratio(
                    &mut result,
                    analysis.user_efficiency,
                    t,
                    Direction::AtLeast,
                    below_floor,
                    "user efficiency",
                );
            }
            (Rule::HighestUserWastedPercent, Threshold::Ratio(t)) => {
                judge_ratio(&mut result, user_wasted, t, Direction::AtMost, below_floor, "user wasted percent");
            }
            (Rule::HighestWastedBytes, Threshold::Bytes(t)) => {
                result.actual = Some(wasted as f64);
                let fail = wasted > t;
                result.status = if fail { Status::Fail } else { Status::Pass };
                let (shown, limit) = two_sizes(wasted, t);
                result.message =
                    format!("{shown} wasted ({} the limit of {limit})", if fail { "over" } else { "within" });
            }
            (Rule::HighestLayerWastedBytes, Threshold::Bytes(t)) => {
                let worst = analysis.layers.iter().max_by_key(|l| (l.wasted_bytes, std::cmp::Reverse(l.index)));
                let bytes = worst.map_or(0, |l| l.wasted_bytes);
                result.actual = Some(bytes as f64);
                result.layer = worst.map(|l| l.index);
                let fail = bytes > t;
                result.status = if fail { Status::Fail } else { Status::Pass };
                result.message = match worst {
                    Some(l) => {
                        let (shown, limit) = two_sizes(bytes, t);
                        format!(
                            "layer {} ships {shown} that later layers hide ({} the limit of {limit})",
                            l.index,
                            if fail { "over" } else { "within" }
                        )
                    }
                    None => "the image has no layers".into(),
                };
            }
            (_, _) => {
                result.message = format!("threshold {threshold} does not fit this rule");
            }
        }
        results.push(result);
    }
    Verdict {
        passed: results.iter().all(|r| r.status != Status::Fail),
        figures: if policy.dive_compat { "dive" } else { "layerscope" },
        results,
        ignored_config_keys: policy.ignored_keys.clone(),
        config: policy.config.clone(),
    }
}

/// The `complete-image` rule: every layer blob present, and (when verified) every digest right.
fn judge_integrity(result: &mut RuleResult, integrity: &Integrity) {
    let problems = integrity.problems.len();
    result.actual = Some(problems as f64);
    if problems == 0 {
        result.status = Status::Pass;
        let present = match integrity.layers {
            0 => {
                result.message = "the image has no layers".into();
                return;
            }
            1 => "the layer blob is present".to_string(),
            2 => "both layer blobs are present".to_string(),
            n => format!("all {n} layer blobs are present"),
        };
        result.message = if integrity.verified {
            format!("{present}, every blob digest and DiffID verified")
        } else {
            format!("{present} (digests not verified; --verify checks them)")
        };
        return;
    }
    result.status = Status::Fail;
    result.layer = integrity.problems.iter().find_map(|w| w.layer);
    let mut message = format!("{}: ", plural(problems, "problem", "problems"));
    message.push_str(&integrity.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
    result.message = message;
}

enum Direction {
    AtLeast,
    AtMost,
}

fn judge_ratio(result: &mut RuleResult, value: f64, threshold: f64, dir: Direction, below_floor: bool, what: &str) {
    result.actual = value.is_finite().then_some(value);
    let fail = match dir {
        // NaN never fails, as in dive.
        Direction::AtLeast => value < threshold,
        Direction::AtMost => value > threshold,
    };
    let shown =
        if value.is_finite() { format!("{:.2} %", value * 100.0) } else { crate::units::go_float(value, false) };
    let limit = format!("{} %", trim_float(threshold * 100.0));
    let side = match (dir, fail) {
        (Direction::AtLeast, true) => "below the minimum of",
        (Direction::AtLeast, false) => "at or above the minimum of",
        (Direction::AtMost, true) => "above the limit of",
        (Direction::AtMost, false) => "within the limit of",
    };
    if below_floor && fail {
        result.status = Status::Pass;
        result.message = format!("{what} {shown}, {side} {limit}, but the waste is below the noise floor");
        return;
    }
    result.status = if fail { Status::Fail } else { Status::Pass };
    result.message = format!("{what} {shown}, {side} {limit}");
}

/// Two sizes to compare in a message: rounded, unless rounding makes them look equal.
fn two_sizes(a: u64, b: u64) -> (String, String) {
    let (x, y) = (human_bytes(a), human_bytes(b));
    if x == y && a != b { (format!("{a} B"), format!("{b} B")) } else { (x, y) }
}

/// `90`, `12.5`: a percentage without needless digits.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Where a policy's config file may be: explicit path or the default names in `dir`.
pub fn config_candidates(dir: &std::path::Path) -> [PathBuf; 2] {
    [dir.join(".layerscope-ci.yaml"), dir.join(".dive-ci")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_like_dive() {
        assert_eq!(parse_bytes("1B"), Ok(1));
        assert_eq!(parse_bytes("50kB"), Ok(50_000));
        assert_eq!(parse_bytes("20MB"), Ok(20_000_000));
        assert_eq!(parse_bytes("20Mb"), Ok(20_000_000));
        assert_eq!(parse_bytes("32KiB"), Ok(32_768));
        assert_eq!(parse_bytes("32025"), Ok(32_025));
        assert_eq!(parse_bytes("1.5 MB"), Ok(1_500_000));
        assert!(parse_bytes("1BB").unwrap_err().contains("unknown size unit 'bb'"));
        assert!(parse_bytes("-1B").is_err());
        assert!(parse_bytes("lots").is_err());
    }

    #[test]
    fn parses_ratios() {
        assert_eq!(parse_threshold(Rule::LowestEfficiency, "0.9"), Ok(Threshold::Ratio(0.9)));
        assert_eq!(parse_threshold(Rule::LowestEfficiency, "90%"), Ok(Threshold::Ratio(0.9)));
        assert_eq!(parse_threshold(Rule::LowestEfficiency, "disabled"), Ok(Threshold::Disabled));
        assert_eq!(parse_threshold(Rule::LowestEfficiency, "off"), Ok(Threshold::Disabled));
        assert!(parse_threshold(Rule::LowestEfficiency, "1.1").is_err());
        assert!(parse_threshold(Rule::HighestUserWastedPercent, "-0.1").is_err());
        assert!(parse_threshold(Rule::LowestEfficiency, "NaN").is_err());
    }

    #[test]
    fn names_in_both_spellings() {
        assert_eq!(Rule::from_name("lowestEfficiency"), Some(Rule::LowestEfficiency));
        assert_eq!(Rule::from_name("highest-user-wasted-percent"), Some(Rule::HighestUserWastedPercent));
        assert_eq!(Rule::from_name("minWastedBytes"), Some(Rule::MinWastedBytes));
        assert_eq!(Rule::from_name("plugins"), None);
    }

    #[test]
    fn flags_win_over_files_over_defaults() {
        let file = ConfigFile {
            path: ".dive-ci".into(),
            kind: FileKind::Dive,
            rules: vec![(Rule::LowestEfficiency, "0.99".into()), (Rule::HighestWastedBytes, "1kB".into())],
            ignored: vec![],
        };
        let policy = Policy::build(&[(Rule::LowestEfficiency, "0.5".into())], Some(&file), false).unwrap();
        assert_eq!(policy.threshold(Rule::LowestEfficiency), Threshold::Ratio(0.5));
        assert_eq!(policy.threshold(Rule::HighestWastedBytes), Threshold::Bytes(1000));
        assert_eq!(policy.threshold(Rule::HighestUserWastedPercent), Threshold::Ratio(0.1));
        let err = Policy::build(&[(Rule::HighestWastedBytes, "1BB".into())], None, false).unwrap_err();
        assert_eq!(err.to_string(), "highest-wasted-bytes: invalid value '1BB' (command line): unknown size unit 'bb'");
    }
}
