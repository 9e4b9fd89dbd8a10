//! Where per-user files live: the XDG base directories.

use std::path::PathBuf;

/// The base directory `$VAR` when it is set to an absolute path (the XDG rule: a relative one is
/// ignored), else `$HOME/FALLBACK` (`XDG_CACHE_HOME` and `.cache`, `XDG_CONFIG_HOME` and
/// `.config`).
pub fn xdg_base(var: &str, fallback: &str) -> Option<PathBuf> {
    let non_empty = |v: std::ffi::OsString| (!v.is_empty()).then(|| PathBuf::from(v));
    std::env::var_os(var)
        .and_then(non_empty)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").and_then(non_empty).map(|h| h.join(fallback)))
}
