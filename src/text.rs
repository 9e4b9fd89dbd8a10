//! Text helpers every printer shares: hex, digests, and (for terminals and logs) untrusted text
//! made safe.

use std::borrow::Cow;
use std::fmt::Write;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `sha256:<hex>` for a sha256 hash.
pub fn digest(sha256: &[u8]) -> String {
    format!("sha256:{}", hex(sha256))
}

/// A byte count as people read it (`1.1 GB`), in SI units as `docker image ls` prints sizes.
pub fn size(bytes: u64) -> String {
    bytesize::ByteSize(bytes).display().si().to_string()
}

/// `1 layer`, `2 layers`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Untrusted text (paths, tags, commands from an image) made safe for a terminal or a log line:
/// control characters (C0, DEL, C1: escape sequences, OSC titles and clipboard writes start with
/// them) and the bidirectional overrides that can reorder what a reader sees are written as `\n`,
/// `\t`, `\r`, `\xHH` or `\u{HHHH}`, and a backslash as `\\`, so a name that spells `\x1b`
/// cannot pass for an escaped ESC.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_safe(&mut out, c);
    }
    Cow::Owned(out)
}

/// Append `c`, escaped if it must be.
fn push_safe(out: &mut String, c: char) {
    if !needs_escape(c) {
        out.push(c);
        return;
    }
    let _ = match c {
        '\\' => write!(out, "\\\\"),
        '\n' => write!(out, "\\n"),
        '\t' => write!(out, "\\t"),
        '\r' => write!(out, "\\r"),
        c if u32::from(c) < 0x100 => write!(out, "\\x{:02x}", u32::from(c)),
        c => write!(out, "\\u{{{:04x}}}", u32::from(c)),
    };
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\\' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Untrusted text made safe ([`terminal_safe`]) and cut to at most `width` terminal columns,
/// ending in `…` when cut. The cut never splits an escape or a wide character.
pub fn cut(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let mut token = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        token.clear();
        push_safe(&mut token, c);
        let w = token.width();
        // Room must stay for the ellipsis unless this is the last character.
        let last = chars.peek().is_none();
        if used + w > width || (!last && used + w == width && rest_width(chars.clone()) > 0) {
            if width == 0 {
                return String::new();
            }
            while used + 1 > width {
                // Only possible when the previous token filled the width exactly.
                match out.pop() {
                    Some(p) => used -= p.width().unwrap_or(0),
                    None => break,
                }
            }
            out.push('…');
            return out;
        }
        out.push_str(&token);
        used += w;
    }
    out
}

fn rest_width(rest: impl Iterator<Item = char>) -> usize {
    let mut token = String::new();
    rest.map(|c| {
        token.clear();
        push_safe(&mut token, c);
        token.width()
    })
    .sum()
}

/// A command on one line: newlines, tabs and carriage returns become spaces (other spaces stay as
/// written: they can be part of the command), the ends trimmed.
pub fn one_line(text: &str) -> String {
    text.trim().replace(['\n', '\t', '\r'], " ")
}

/// How deep `[` and `{` nest, outside quoted strings and comments.
pub fn yaml_flow_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    for c in text.chars() {
        match (quote, c) {
            (_, '\n') => comment = false,
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The candidate closest to `key`, if any is close enough to be what was meant.
pub fn closest(key: &str, candidates: &[String]) -> Option<String> {
    let lower = key.to_ascii_lowercase().replace('_', "-");
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&lower, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(terminal_safe("plain/path é"), "plain/path é");
        assert_eq!(terminal_safe("a\\x1b"), "a\\\\x1b", "a literal backslash is doubled");
        assert_eq!(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(terminal_safe("\x1b]52;c;aGk=\x07"), "\\x1b]52;c;aGk=\\x07");
        assert_eq!(terminal_safe("tab\tnl\n\u{9b}"), "tab\\tnl\\n\\x9b");
        assert_eq!(terminal_safe("\u{202e}txt"), "\\u{202e}txt");
    }

    #[test]
    fn cuts_by_columns_never_inside_an_escape() {
        assert_eq!(cut("abcdef", 6), "abcdef");
        assert_eq!(cut("abcdefg", 6), "abcde…");
        assert_eq!(cut("ab\x1bcdef", 6), "ab…");
        assert_eq!(cut("ab\x1b", 6), "ab\\x1b");
        assert_eq!(cut("日本語です", 7), "日本語…");
        assert_eq!(cut("日本語です", 10), "日本語です");
        assert_eq!(cut("abc", 0), "");
        assert_eq!(cut("abc", 1), "…");
    }

    #[test]
    fn one_line_puts_a_command_on_one_line() {
        assert_eq!(one_line("  apt-get update \\\n\t&& echo 'a  b'  "), "apt-get update \\  && echo 'a  b'");
    }

    #[test]
    fn hex_and_digests() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(digest(&[0xff]), "sha256:ff");
    }
}
