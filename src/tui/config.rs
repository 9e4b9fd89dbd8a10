//! The explorer's settings file: `$XDG_CONFIG_HOME/layerscope/config.yaml` (default
//! `~/.config/layerscope/config.yaml`) or `--config FILE`. A named theme and colour changes, key
//! bindings, and how the tree first shows:
//!
//! ```yaml
//! theme: colour-blind          # default, high-contrast, colour-blind
//! colours: { removed: "#d55e00", focus: magenta }
//! keys: { filter: ["/", "ctrl+f"], quit: q }
//! view: { sort: size, hide: [unchanged], attributes: true, wrap: false }
//! ```
//!
//! Unknown keys are an error naming the key and the closest valid one. Without a file of ours,
//! the `keybinding:` section of dive's `~/.dive.yaml` is read (leniently, as dive does), so a dive
//! user's keys keep working.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ratatui::style::Color;
use yaml_serde::Value;

use super::action::Action;
use super::keymap::{Key, Keymap};
use super::tree_view::{ChangeMask, SortMode};
use super::view::theme::{Palette, THEMES};
use crate::tree::Change;

/// Config files larger than this are refused.
const CONFIG_BYTES: u64 = 64 * 1024;
/// Flow collections nested deeper than this are refused before parsing.
const CONFIG_DEPTH: usize = 16;

/// How the tree first shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewDefaults {
    /// Sort order.
    pub sort: SortMode,
    /// Change kinds hidden at first.
    pub hidden: ChangeMask,
    /// Attribute columns on.
    pub attributes: bool,
    /// Long lines wrapped.
    pub wrap: bool,
}

impl Default for ViewDefaults {
    fn default() -> ViewDefaults {
        ViewDefaults { sort: SortMode::Name, hidden: ChangeMask::UNCHANGED, attributes: true, wrap: false }
    }
}

/// Everything the settings decide.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// The colours.
    pub palette: Palette,
    /// The keys.
    pub keymap: Keymap,
    /// The tree's first view.
    pub view: ViewDefaults,
    /// The file they came from, if any.
    pub from: Option<PathBuf>,
}

/// Why the settings file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not what it should be.
    #[error("{}: {what}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, the key named.
        what: String,
    },
}

/// Where the settings file is looked for.
pub fn default_path() -> Option<PathBuf> {
    crate::dirs::xdg_base("XDG_CONFIG_HOME", ".config").map(|base| base.join("layerscope/config.yaml"))
}

/// The settings: from `path` when given (it must exist), else from the default file when it
/// exists, else dive's key bindings when `~/.dive.yaml` has them, else the defaults.
pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
    if let Some(path) = path {
        return read(path).and_then(|text| parse(path, &text));
    }
    if let Some(path) = default_path().filter(|p| p.is_file()) {
        return read(&path).and_then(|text| parse(&path, &text));
    }
    let dive = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".dive.yaml")).filter(|p| p.is_file());
    match dive {
        // dive's file is dive's: what cannot be read from it is left to the defaults.
        Some(path) => Ok(read(&path).ok().map(|text| parse_dive(&path, &text)).unwrap_or_default()),
        None => Ok(Settings::default()),
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    let error = |source| ConfigError::Read { path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(error)?.len();
    if size > CONFIG_BYTES {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            what: format!("{size} bytes is too large for a config file (the limit is {CONFIG_BYTES})"),
        });
    }
    std::fs::read_to_string(path).map_err(error)
}

/// The actions the `keys:` section can bind, by name.
const ACTIONS: &[(&str, Action)] = &[
    ("quit", Action::Quit),
    ("next-pane", Action::FocusNext),
    ("previous-pane", Action::FocusPrev),
    ("help", Action::ToggleHelp),
    ("warnings", Action::ShowWarnings),
    ("packages", Action::ShowPackages),
    ("up", Action::Up),
    ("down", Action::Down),
    ("page-up", Action::PageUp),
    ("page-down", Action::PageDown),
    ("first", Action::Top),
    ("last", Action::Bottom),
    ("left", Action::Left),
    ("right", Action::Right),
    ("filter", Action::StartFilter),
    ("clear-filter", Action::ClearFilter),
    ("next-match", Action::NextMatch),
    ("previous-match", Action::PrevMatch),
    ("layer-changes", Action::ShowLayerChanges),
    ("aggregated-changes", Action::ShowAggregatedChanges),
    ("sort", Action::ToggleSort),
    ("attributes", Action::ToggleAttributes),
    ("wrap", Action::ToggleWrap),
    ("open", Action::Activate),
    ("fold", Action::ToggleCollapse),
    ("fold-all", Action::ToggleCollapseAll),
    ("toggle-added", Action::ToggleChange(Change::Added)),
    ("toggle-removed", Action::ToggleChange(Change::Removed)),
    ("toggle-modified", Action::ToggleChange(Change::Modified)),
    ("toggle-metadata-only", Action::ToggleChange(Change::MetadataOnly)),
    ("toggle-unchanged", Action::ToggleChange(Change::Unchanged)),
    ("view", Action::View),
    ("extract", Action::StartExtract),
    ("copy-path", Action::CopyPath),
    ("close", Action::CloseOverlay),
];

/// dive's `keybinding:` names and ours.
const DIVE_ACTIONS: &[(&str, &str)] = &[
    ("quit", "quit"),
    ("toggle-view", "next-pane"),
    ("filter-files", "filter"),
    ("compare-layer", "layer-changes"),
    ("compare-all", "aggregated-changes"),
    ("toggle-collapse-dir", "fold"),
    ("toggle-collapse-all-dir", "fold-all"),
    ("toggle-added-files", "toggle-added"),
    ("toggle-removed-files", "toggle-removed"),
    ("toggle-modified-files", "toggle-modified"),
    ("toggle-unmodified-files", "toggle-unchanged"),
    ("toggle-filetree-attributes", "attributes"),
    ("toggle-wrap-tree", "wrap"),
    ("extract-file", "extract"),
    ("page-up", "page-up"),
    ("page-down", "page-down"),
];

/// Parse a settings file of ours read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
    let invalid = |what: String| ConfigError::Invalid { path: path.to_path_buf(), what };
    if crate::text::yaml_flow_depth(text) > CONFIG_DEPTH {
        return Err(invalid(format!("it nests lists or mappings deeper than {CONFIG_DEPTH} levels")));
    }
    let value: Value = yaml_serde::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut settings = Settings { from: Some(path.to_path_buf()), ..Settings::default() };
    let root = match &value {
        Value::Null => return Ok(settings),
        Value::Mapping(m) => m,
        _ => return Err(invalid("expected a mapping (theme:, colours:, keys:, view:)".into())),
    };
    let mut colours = None;
    for (key, val) in root {
        let key = name(key);
        match key.as_str() {
            "theme" => {
                let theme = name(val);
                settings.palette = Palette::named(&theme).ok_or_else(|| {
                    invalid(unknown("theme", &theme, &THEMES.iter().map(|t| t.to_string()).collect::<Vec<_>>()))
                })?;
            }
            "colours" | "colors" => colours = Some(val),
            "keys" => {
                let Value::Mapping(keys) = val else { return Err(invalid("keys: expected a mapping".into())) };
                for (action, bound) in keys {
                    bind(&mut settings.keymap, &name(action), bound).map_err(invalid)?;
                }
            }
            "view" => settings.view = view(val).map_err(invalid)?,
            other => {
                let known = ["theme", "colours", "keys", "view"].map(String::from);
                return Err(invalid(unknown("key", other, &known)));
            }
        }
    }
    // After the theme, whatever order the file has.
    if let Some(val) = colours {
        colour_changes(&mut settings.palette, val).map_err(invalid)?;
    }
    Ok(settings)
}

/// The key bindings of dive's `~/.dive.yaml`; anything else in it, or a key we cannot read, is
/// left alone.
pub fn parse_dive(path: &Path, text: &str) -> Settings {
    let mut settings = Settings::default();
    if crate::text::yaml_flow_depth(text) > CONFIG_DEPTH {
        return settings;
    }
    let Ok(Value::Mapping(root)) = yaml_serde::from_str::<Value>(text) else { return settings };
    let Some(Value::Mapping(keys)) = root.get("keybinding") else { return settings };
    for (dive_name, bound) in keys {
        let dive_name = name(dive_name);
        if let Some((_, ours)) = DIVE_ACTIONS.iter().find(|(d, _)| *d == dive_name) {
            // dive writes several keys as one comma-separated string.
            let split: Vec<Value> = name(bound).split(',').map(|k| Value::String(k.trim().to_string())).collect();
            let _ = bind(&mut settings.keymap, ours, &Value::Sequence(split));
        }
    }
    settings.from = Some(path.to_path_buf());
    settings
}

/// Give `action` the keys `bound` (one key or a list) in place of its default ones.
fn bind(keymap: &mut Keymap, action: &str, bound: &Value) -> Result<(), String> {
    let names: Vec<String> = ACTIONS.iter().map(|(n, _)| n.to_string()).collect();
    let Some((_, wanted)) = ACTIONS.iter().find(|(n, _)| *n == action) else {
        return Err(unknown("action in keys:", action, &names));
    };
    let texts: Vec<String> = match bound {
        Value::Sequence(items) => items.iter().map(name).collect(),
        other => vec![name(other)],
    };
    let keys: Vec<Key> = texts
        .iter()
        .map(|t| {
            parse_key(t).ok_or_else(|| {
                format!(
                    "keys.{action}: '{}' is not a key (write e.g. q, ctrl+f, tab, enter, esc, space, up, pgdn)",
                    crate::text::terminal_safe(t)
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut placed: Vec<super::keymap::Scope> = Vec::new();
    for binding in &mut keymap.bindings {
        if !binding.keys.iter().any(|(_, a)| a == wanted) {
            continue;
        }
        let mut pairs: Vec<(Key, Action)> = binding.keys.iter().filter(|(_, a)| a != wanted).cloned().collect();
        // In each scope (browsing, the viewer, the packages view) the new keys go where the old
        // ones were listed first; the scope's other bindings of the action lose theirs.
        if !placed.contains(&binding.scope) {
            pairs.extend(keys.iter().map(|k| (*k, wanted.clone())));
            placed.push(binding.scope);
        }
        binding.keys = pairs.into();
    }
    Ok(())
}

/// `q`, `ctrl+f`, `tab`, `shift+tab`, `enter`, `esc`, `space`, arrows, `pgup`/`pgdn`, `home`/`end`.
fn parse_key(text: &str) -> Option<Key> {
    use crossterm::event::KeyCode;
    let lower = text.trim().to_ascii_lowercase();
    let (ctrl, base) = match lower.strip_prefix("ctrl+").or_else(|| lower.strip_prefix("ctrl-")) {
        Some(rest) => (true, rest.to_string()),
        None => (false, lower.clone()),
    };
    let code = match base.as_str() {
        "tab" => KeyCode::Tab,
        "shift+tab" | "backtab" => KeyCode::BackTab,
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "space" => KeyCode::Char(' '),
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pagedown" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        _ => {
            // One character, as typed (upper case kept: `G` is not `g`).
            let original = text.trim();
            let original = original.rsplit_once('+').map_or(original, |(_, c)| c);
            let mut chars = original.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() => KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
                _ => return None,
            }
        }
    };
    Some(Key { code, ctrl })
}

fn view(val: &Value) -> Result<ViewDefaults, String> {
    let Value::Mapping(m) = val else { return Err("view: expected a mapping".into()) };
    let mut out = ViewDefaults::default();
    for (key, val) in m {
        let key = name(key);
        match key.as_str() {
            "sort" => {
                out.sort = match name(val).as_str() {
                    "name" => SortMode::Name,
                    "size" => SortMode::Size,
                    other => return Err(format!("view.sort: '{other}' is not name or size")),
                }
            }
            "hide" => {
                out.hidden = ChangeMask::default();
                let items = match val {
                    Value::Sequence(items) => items.iter().map(name).collect(),
                    other => vec![name(other)],
                };
                for item in items {
                    let kinds: Vec<String> = Change::ALL.iter().map(|c| c.label().to_string()).collect();
                    let kind = Change::ALL
                        .into_iter()
                        .find(|c| c.label() == item)
                        .ok_or_else(|| unknown("change kind in view.hide:", &item, &kinds))?;
                    out.hidden.toggle(kind);
                }
            }
            "attributes" => out.attributes = boolean(&key, val)?,
            "wrap" => out.wrap = boolean(&key, val)?,
            other => {
                return Err(unknown("key in view:", other, &["sort", "hide", "attributes", "wrap"].map(String::from)));
            }
        }
    }
    Ok(out)
}

fn colour_changes(palette: &mut Palette, val: &Value) -> Result<(), String> {
    let Value::Mapping(m) = val else { return Err("colours: expected a mapping".into()) };
    for (key, val) in m {
        let key = name(key);
        let colour = Color::from_str(&name(val))
            .map_err(|_| format!("colours.{key}: '{}' is not a colour (a name such as red, or #rrggbb)", name(val)))?;
        let slot = match key.as_str() {
            "added" => &mut palette.added,
            "modified" => &mut palette.modified,
            "metadata-only" => &mut palette.metadata_only,
            "removed" => &mut palette.removed,
            "focus" => &mut palette.focus,
            "dim" => &mut palette.dim,
            other => {
                let known = ["added", "modified", "metadata-only", "removed", "focus", "dim"].map(String::from);
                return Err(unknown("key in colours:", other, &known));
            }
        };
        *slot = colour;
    }
    Ok(())
}

fn boolean(key: &str, val: &Value) -> Result<bool, String> {
    match val {
        Value::Bool(b) => Ok(*b),
        _ => Err(format!("view.{key}: expected true or false")),
    }
}

/// "unknown KIND 'X'", with the closest valid name when one is close.
fn unknown(kind: &str, got: &str, known: &[String]) -> String {
    let got = crate::text::terminal_safe(got);
    match crate::text::closest(&got, known) {
        Some(near) => format!("unknown {kind} '{got}' (did you mean '{near}'?)"),
        None => format!("unknown {kind} '{got}' (valid: {})", known.join(", ")),
    }
}

fn name(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}
