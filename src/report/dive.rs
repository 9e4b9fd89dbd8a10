//! dive's `--json` export, byte for byte as dive 0.13.1 writes it: its schema, Go's number
//! formats and encoding/json's HTML-safe escaping (the figures are [`crate::analysis::dive`]'s).

use crate::analysis::dive::{DiveFigures, ListedFile, for_each_file_list};
use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::Tree;
use crate::units::go_float;

/// dive's `--json` export of `image` (its schema, its number formats, its HTML-safe escaping).
pub fn export_json(image: &Image, figures: &DiveFigures) -> String {
    let tree = &image.tree;
    let mut out = String::from("{\n  \"layer\": [");
    let history = dive_history(image);
    for_each_file_list(image, |index, all| {
        let layer = &image.layers[index];
        let (command, digest) = &history[index];
        let id = layer.entry.split('/').next().unwrap_or("");
        out.push_str(if index == 0 { "\n" } else { ",\n" });
        out.push_str(&format!(
            "    {{\n      \"index\": {index},\n      \"id\": {},\n      \"digestId\": {},\n      \"sizeBytes\": {},\n      \"command\": {},\n      \"fileList\": [",
            go_json(id.as_bytes()),
            go_json(digest.as_bytes()),
            layer.size_bytes,
            go_json(command.as_bytes())
        ));
        for (i, f) in all.iter().enumerate() {
            out.push_str(if i == 0 { "\n" } else { ",\n" });
            out.push_str(&file_entry(tree, f));
        }
        out.push_str(if all.is_empty() { "]\n    }" } else { "\n      ]\n    }" });
    });
    out.push_str(if image.layers.is_empty() { "],\n" } else { "\n  ],\n" });
    out.push_str(&format!(
        "  \"image\": {{\n    \"sizeBytes\": {},\n    \"inefficientBytes\": {},\n    \"efficiencyScore\": {},\n    \"fileReference\": [",
        figures.size_bytes,
        figures.wasted_bytes,
        go_float(figures.efficiency, true)
    ));
    for (i, f) in figures.inefficient_files.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(&format!(
            "      {{\n        \"count\": {},\n        \"sizeBytes\": {},\n        \"file\": {}\n      }}",
            f.count,
            f.size_bytes,
            go_json(&f.path_bytes)
        ));
    }
    out.push_str(if figures.inefficient_files.is_empty() { "]\n  }\n}" } else { "\n    ]\n  }\n}" });
    out
}

/// (command, digest) per layer as dive maps history: the k-th non-empty entry and the k-th DiffID;
/// `(missing)` and no digest beyond the history.
fn dive_history(image: &Image) -> Vec<(String, String)> {
    let diff_ids = image.config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
    let history: Vec<_> = image.config.history.iter().filter(|h| !h.is_empty_layer()).collect();
    (0..image.layers.len())
        .map(|i| match history.get(i) {
            Some(h) => (
                crate::image::clean_command(h.created_by.as_deref().unwrap_or("")).to_string(),
                diff_ids.get(i).cloned().unwrap_or_default(),
            ),
            None => ("(missing)".to_string(), String::new()),
        })
        .collect()
}

fn file_entry(tree: &Tree, d: &ListedFile) -> String {
    let field = |path: &[u8], type_flag: u8, link: &[u8], size: u64, mode: u64, uid: u32, gid: u32, dir: bool| {
        format!(
            "        {{\n          \"path\": {},\n          \"typeFlag\": {type_flag},\n          \"linkName\": {},\n          \"size\": {size},\n          \"fileMode\": {mode},\n          \"uid\": {uid},\n          \"gid\": {gid},\n          \"isDir\": {dir}\n        }}",
            go_json(path),
            go_json(link)
        )
    };
    let Some(id) = d.entry else {
        return field(b"", 0, b"", 0, 0, 0, 0, false);
    };
    let e = tree.entry(id);
    let mut rel = tree.path(d.node);
    if d.whiteout {
        let cut = rel.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        rel.splice(cut..cut, b".wh.".iter().copied());
    }
    let path = &rel;
    // dive copies the header's link name whatever the entry (buildah leaves one on whiteouts).
    let link = tree.link(e).unwrap_or_default();
    let type_flag = match e.kind {
        EntryKind::File | EntryKind::Whiteout | EntryKind::Opaque => b'0',
        EntryKind::Hardlink => b'1',
        EntryKind::Symlink => b'2',
        EntryKind::Char => b'3',
        EntryKind::Block => b'4',
        EntryKind::Dir => b'5',
        EntryKind::Fifo => b'6',
    };
    field(path, type_flag, link, e.size, go_file_mode(e.kind, e.mode), e.uid, e.gid, e.kind == EntryKind::Dir)
}

/// Go's `fs.FileMode` for a tar header, as `tar.Header.FileInfo().Mode()` builds it.
fn go_file_mode(kind: EntryKind, mode: u32) -> u64 {
    let mut m = u64::from(mode & 0o777);
    if mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m | match kind {
        EntryKind::Dir => 1 << 31,
        EntryKind::Symlink => 1 << 27,
        EntryKind::Char => (1 << 26) | (1 << 21),
        EntryKind::Block => 1 << 26,
        EntryKind::Fifo => 1 << 25,
        _ => 0,
    }
}

/// A JSON string as Go's encoding/json writes it: `<`, `>`, `&`, U+2028 and U+2029 escaped.
/// A JSON string as Go's `encoding/json` writes one: HTML-safe (`<`, `>`, `&` escaped), U+2028 and
/// U+2029 escaped, and each byte that is not valid UTF-8 written as `\ufffd`.
fn go_json(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        // Go decodes an invalid sequence one byte at a time, each one a replacement character.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_file_modes() {
        assert_eq!(go_file_mode(EntryKind::Dir, 0o755), 2147484141);
        assert_eq!(go_file_mode(EntryKind::Dir, 0o1777), 2148532735);
        assert_eq!(go_file_mode(EntryKind::File, 0o644), 420);
    }
}
