//! CI config files: layerscope's `.layerscope-ci.yaml` and dive's `.dive-ci`.
//!
//! Both hold `rules:` with one threshold per rule. layerscope's file takes kebab-case names (and
//! dive's camelCase ones) and refuses any other key, naming the closest valid one; dive's file takes
//! only camelCase names, as dive 0.13.1 does: any other key is ignored and reported.

use std::io;
use std::path::{Path, PathBuf};

use super::{RULES, Rule, config_candidates};

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not YAML.
    #[error("{} is not valid YAML: {detail}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        detail: String,
    },
    /// The YAML does not have the expected shape.
    #[error("{}: {what}", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A key layerscope's format does not have.
    #[error("{}: unknown key '{key}'{}", path.display(), suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key as written (`rules.NAME` for a rule).
        key: String,
        /// The closest valid key.
        suggestion: Option<String>,
    },
}

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

/// A config file is a few lines; this many bytes is already absurd.
const CONFIG_BYTES: u64 = 64 * 1024;
/// Flow collections (`[`, `{`) nested deeper than this are refused before parsing: the YAML
/// scanner's work grows with the square of the depth.
const CONFIG_DEPTH: usize = 32;

/// Read and parse a config file. dive's format is assumed for files named `.dive-ci`.
pub fn load_config(path: &Path) -> Result<ConfigFile, ConfigError> {
    let shape = |what: String| ConfigError::Shape { path: path.to_path_buf(), what };
    let size = std::fs::metadata(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?.len();
    if size > CONFIG_BYTES {
        return Err(shape(format!("{size} bytes is too large for a config file (the limit is {CONFIG_BYTES})")));
    }
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    let kind = if path.file_name().is_some_and(|n| n == ".dive-ci") { FileKind::Dive } else { FileKind::Layerscope };
    parse_config(path, &text, kind)
}

/// Parse the text of a config file read from `path` (named in messages) in the format `kind`.
pub fn parse_config(path: &Path, text: &str, kind: FileKind) -> Result<ConfigFile, ConfigError> {
    let shape = |what: String| ConfigError::Shape { path: path.to_path_buf(), what };
    if text.len() as u64 > CONFIG_BYTES {
        return Err(shape(format!(
            "{} bytes is too large for a config file (the limit is {CONFIG_BYTES})",
            text.len()
        )));
    }
    if crate::text::yaml_flow_depth(text) > CONFIG_DEPTH {
        return Err(shape(format!("it nests lists or mappings deeper than {CONFIG_DEPTH} levels")));
    }
    let unknown = |key: String, candidates: &[String]| {
        let suggestion = crate::text::closest(&key, candidates);
        ConfigError::UnknownKey { path: path.to_path_buf(), key, suggestion }
    };
    let value: yaml_serde::Value = yaml_serde::from_str(text)
        .map_err(|e| ConfigError::Yaml { path: path.to_path_buf(), detail: e.to_string() })?;
    let mut out = ConfigFile { path: path.to_path_buf(), kind, rules: Vec::new(), ignored: Vec::new() };
    let root = match &value {
        yaml_serde::Value::Mapping(m) => m,
        yaml_serde::Value::Null => return Ok(out),
        _ => return Err(shape("expected a mapping with a 'rules:' key".into())),
    };
    let rule_keys: Vec<String> = RULES.iter().map(|r| format!("rules.{}", r.name())).collect();
    for (key, val) in root {
        let key = scalar(key).unwrap_or_default();
        if key != "rules" {
            match kind {
                // dive's own keys (`plugins:`) are none of our business in dive's file.
                FileKind::Dive => {
                    out.ignored.push(key);
                    continue;
                }
                FileKind::Layerscope => return Err(unknown(key, &["rules".to_string()])),
            }
        }
        let Some(rules) = val.as_mapping() else {
            if val.is_null() {
                continue;
            }
            return Err(shape("'rules' must be a mapping of rule names to thresholds".into()));
        };
        for (name, threshold) in rules {
            let name = scalar(name).unwrap_or_default();
            let rule = match kind {
                FileKind::Dive => RULES.into_iter().find(|r| r.dive_name() == Some(name.as_str())),
                FileKind::Layerscope => Rule::from_name(&name),
            };
            let Some(rule) = rule else {
                match kind {
                    FileKind::Dive => {
                        out.ignored.push(format!("rules.{name}"));
                        continue;
                    }
                    FileKind::Layerscope => return Err(unknown(format!("rules.{name}"), &rule_keys)),
                }
            };
            let Some(text) = scalar(threshold) else {
                return Err(shape(format!("rules.{name} must be a number or a string")));
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

    #[test]
    fn deep_flow_nesting_is_measured_outside_strings_and_comments() {
        assert_eq!(crate::text::yaml_flow_depth("rules: {a: [1, [2]]}"), 3);
        assert_eq!(crate::text::yaml_flow_depth("a: '[[[['\n# [[[[\nb: \"{{\""), 0);
        assert_eq!(crate::text::yaml_flow_depth(&"[".repeat(100)), 100);
    }

    #[test]
    fn unknown_keys_in_layerscope_files_name_the_closest_valid_one() {
        let err = parse_config(Path::new("c.yaml"), "rules:\n  lowest-efficency: 0.9\n", FileKind::Layerscope)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "c.yaml: unknown key 'rules.lowest-efficency'; did you mean 'rules.lowest-efficiency'?");
        let err = parse_config(Path::new("c.yaml"), "rule:\n  lowest-efficiency: 0.9\n", FileKind::Layerscope)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "c.yaml: unknown key 'rule'; did you mean 'rules'?");
        let err = parse_config(Path::new("c.yaml"), "plugins: [x]\n", FileKind::Layerscope).unwrap_err().to_string();
        assert_eq!(err, "c.yaml: unknown key 'plugins'");
    }
}
