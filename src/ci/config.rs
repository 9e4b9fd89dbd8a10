//! CI config files: layerscope's `.layerscope-ci.yaml` and dive's `.dive-ci`.
//!
//! Both hold `rules:` with one threshold per rule. layerscope's file takes kebab-case names (and
//! dive's camelCase ones); dive's file takes only camelCase names, as dive 0.13.1 does: any other key
//! is ignored and reported.

use std::path::{Path, PathBuf};

use super::{Rule, config_candidates};

/// Which format a config file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `.layerscope-ci.yaml`.
    Layerscope,
    /// dive's `.dive-ci`.
    Dive,
}

/// A parsed config file (values still unchecked: the policy checks them).
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its format.
    pub kind: FileKind,
    /// (rule, value as written), in file order.
    pub rules: Vec<(Rule, String)>,
    /// Keys that were not understood.
    pub ignored: Vec<String>,
}

/// The default config file in `dir`, if one exists.
pub fn find_config(dir: &Path) -> Option<PathBuf> {
    config_candidates(dir).into_iter().find(|p| p.is_file())
}

/// Read and parse a config file. dive's format is assumed for files named `.dive-ci`.
pub fn load_config(path: &Path) -> Result<ConfigFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let kind = if path.file_name().is_some_and(|n| n == ".dive-ci") { FileKind::Dive } else { FileKind::Layerscope };
    parse_config(path, &text, kind)
}

fn parse_config(path: &Path, text: &str, kind: FileKind) -> Result<ConfigFile, String> {
    let value: yaml_serde::Value =
        yaml_serde::from_str(text).map_err(|e| format!("{} is not valid YAML: {e}", path.display()))?;
    let mut out = ConfigFile { path: path.to_path_buf(), kind, rules: Vec::new(), ignored: Vec::new() };
    let root = match &value {
        yaml_serde::Value::Mapping(m) => m,
        yaml_serde::Value::Null => return Ok(out),
        _ => return Err(format!("{}: expected a mapping with a 'rules:' key", path.display())),
    };
    for (key, val) in root {
        let key = scalar(key).unwrap_or_default();
        if key != "rules" {
            // Other top-level keys (dive's `plugins:`) are none of our business.
            out.ignored.push(key);
            continue;
        }
        let Some(rules) = val.as_mapping() else {
            if val.is_null() {
                continue;
            }
            return Err(format!("{}: 'rules' must be a mapping of rule names to thresholds", path.display()));
        };
        for (name, threshold) in rules {
            let name = scalar(name).unwrap_or_default();
            let rule = match kind {
                FileKind::Dive => crate::ci::RULES.into_iter().find(|r| r.dive_name() == Some(name.as_str())),
                FileKind::Layerscope => Rule::from_name(&name),
            };
            let Some(rule) = rule else {
                out.ignored.push(format!("rules.{name}"));
                continue;
            };
            let Some(text) = scalar(threshold) else {
                return Err(format!("{}: rules.{name} must be a number or a string", path.display()));
            };
            out.rules.push((rule, text));
        }
    }
    Ok(out)
}

fn scalar(v: &yaml_serde::Value) -> Option<String> {
    match v {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        yaml_serde::Value::Bool(b) => Some(b.to_string()),
        yaml_serde::Value::Null => Some(String::new()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dive_files_like_dive_0_13_1() {
        let text = "rules:\n  lowestEfficiency: 0.95\n  highestWastedBytes: 20Mb\n  highestUserWastedPercent: 0.5\n  lowest-efficiency: 0.99\nplugins:\n  - x\n";
        let c = parse_config(Path::new(".dive-ci"), text, FileKind::Dive).unwrap();
        assert_eq!(
            c.rules,
            [
                (Rule::LowestEfficiency, "0.95".to_string()),
                (Rule::HighestWastedBytes, "20Mb".to_string()),
                (Rule::HighestUserWastedPercent, "0.5".to_string()),
            ]
        );
        assert_eq!(c.ignored, ["rules.lowest-efficiency", "plugins"]);
    }

    #[test]
    fn reads_layerscope_files_in_both_spellings() {
        let text = "rules:\n  lowest-efficiency: 90%\n  highestWastedBytes: disabled\n  min-wasted-bytes: 1MB\n";
        let c = parse_config(Path::new(".layerscope-ci.yaml"), text, FileKind::Layerscope).unwrap();
        assert_eq!(c.rules.len(), 3);
        assert!(c.ignored.is_empty());
        assert!(parse_config(Path::new("x"), "rules: [1, 2]", FileKind::Layerscope).is_err());
        assert!(parse_config(Path::new("x"), ": :", FileKind::Layerscope).is_err());
    }
}
