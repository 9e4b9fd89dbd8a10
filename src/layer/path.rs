//! Path normalisation and whiteout recognition for layer tar entries. Paths stay bytes: names that
//! are not UTF-8 must survive exactly.

/// What a tar entry's name means once normalised.
#[derive(Debug, PartialEq, Eq)]
pub enum NameKind {
    /// An ordinary path.
    Normal,
    /// `.wh.NAME`: hide NAME (and its subtree) in lower layers; the path is NAME's.
    Whiteout,
    /// `DIR/.wh..wh..opq`: hide every lower child of DIR; the path is DIR's.
    Opaque,
    /// A bare `.wh.`: invalid, skipped with a warning.
    InvalidWhiteout,
    /// An AUFS bookkeeping entry (`.wh..wh.plnk`, `.wh..wh.aufs`): skipped.
    AufsMeta,
    /// The root directory itself (`./`, `/`).
    Root,
}

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_NAME: &[u8] = b".wh..wh..opq";
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// Normalise `raw` into `out` (cleared first): no leading `/` or `./`, no trailing `/`, `.` dropped,
/// `..` resolved lexically and clamped at the root. For whiteouts `out` receives the path they hide.
/// Returns the kind of name and whether a `..` tried to climb above the root.
pub fn normalize(raw: &[u8], out: &mut Vec<u8>) -> (NameKind, bool) {
    out.clear();
    let mut escaped = false;
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.is_empty() {
                    escaped = true;
                } else {
                    let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                    out.truncate(cut);
                }
            }
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(part);
            }
        }
    }
    if out.is_empty() {
        return (NameKind::Root, escaped);
    }
    let base_start = out.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let base = &out[base_start..];
    let kind = if base == OPAQUE_NAME {
        NameKind::Opaque
    } else if base.starts_with(AUFS_META_PREFIX) {
        NameKind::AufsMeta
    } else if base == WHITEOUT_PREFIX {
        NameKind::InvalidWhiteout
    } else if base.starts_with(WHITEOUT_PREFIX) {
        NameKind::Whiteout
    } else {
        NameKind::Normal
    };
    match kind {
        NameKind::Opaque => {
            // The directory that holds the marker.
            out.truncate(base_start.saturating_sub(1));
        }
        NameKind::Whiteout => {
            out.drain(base_start..base_start + WHITEOUT_PREFIX.len());
        }
        _ => {}
    }
    (kind, escaped)
}

/// Render path bytes (relative, `/`-joined) as an absolute display string; invalid UTF-8 bytes
/// become `\xHH`. Returns whether anything had to be escaped.
pub fn display_path(rel: &[u8], out: &mut String) -> bool {
    out.push('/');
    escape_bytes(rel, out)
}

/// Append `bytes` to `out`, valid UTF-8 as is and every invalid byte as `\xHH`.
pub fn escape_bytes(bytes: &[u8], out: &mut String) -> bool {
    let mut escaped = false;
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            use std::fmt::Write;
            let _ = write!(out, "\\x{b:02x}");
            escaped = true;
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> (String, NameKind, bool) {
        let mut out = Vec::new();
        let (kind, escaped) = normalize(raw.as_bytes(), &mut out);
        (String::from_utf8(out).unwrap(), kind, escaped)
    }

    #[test]
    fn strips_prefixes_and_slashes() {
        assert_eq!(norm("./etc/passwd"), ("etc/passwd".into(), NameKind::Normal, false));
        assert_eq!(norm("/etc//nginx/"), ("etc/nginx".into(), NameKind::Normal, false));
        assert_eq!(norm("./"), (String::new(), NameKind::Root, false));
        assert_eq!(norm("a/./b/../c"), ("a/c".into(), NameKind::Normal, false));
    }

    #[test]
    fn clamps_paths_that_climb_out() {
        assert_eq!(norm("../../etc/shadow"), ("etc/shadow".into(), NameKind::Normal, true));
    }

    #[test]
    fn recognises_whiteouts() {
        assert_eq!(norm("etc/.wh.hosts"), ("etc/hosts".into(), NameKind::Whiteout, false));
        assert_eq!(norm(".wh.tmp"), ("tmp".into(), NameKind::Whiteout, false));
        assert_eq!(norm("usr/lib/.wh..wh..opq"), ("usr/lib".into(), NameKind::Opaque, false));
        assert_eq!(norm(".wh..wh..opq"), (String::new(), NameKind::Opaque, false));
        assert_eq!(norm("a/.wh."), ("a/.wh.".into(), NameKind::InvalidWhiteout, false));
        assert_eq!(norm(".wh..wh.plnk"), (".wh..wh.plnk".into(), NameKind::AufsMeta, false));
        assert_eq!(norm("a/.whatever"), ("a/.whatever".into(), NameKind::Normal, false));
    }

    #[test]
    fn escapes_invalid_utf8() {
        let mut s = String::new();
        assert!(display_path(b"odd/caf\xe9", &mut s));
        assert_eq!(s, "/odd/caf\\xe9");
        let mut s = String::new();
        assert!(!display_path("café/☃".as_bytes(), &mut s));
        assert_eq!(s, "/café/☃");
    }
}
