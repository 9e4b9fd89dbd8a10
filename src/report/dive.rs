//! dive's `--json` export, byte for byte as dive 0.13.1 writes it: its schema as serde structs,
//! written with encoding/json's indentation, Go's float format ([`GoFormatter`]) and its HTML-safe
//! escaping of byte strings ([`go_json`]); the figures are [`crate::analysis::dive`]'s.

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::value::RawValue;

use crate::analysis::dive::{DiveFigures, ListedFile, for_each_file_list};
use crate::image::Image;
use crate::layer::EntryKind;
use crate::tree::Tree;
use crate::units::go_float;

/// dive's export document, field for field in dive's order.
#[derive(Serialize)]
struct Export {
    layer: Vec<ExportLayer>,
    image: ExportImage,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportLayer {
    index: usize,
    id: Box<RawValue>,
    digest_id: Box<RawValue>,
    size_bytes: u64,
    command: Box<RawValue>,
    file_list: Vec<ExportFile>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportFile {
    path: Box<RawValue>,
    type_flag: u8,
    link_name: Box<RawValue>,
    size: u64,
    file_mode: u64,
    uid: u32,
    gid: u32,
    is_dir: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportImage {
    size_bytes: u64,
    inefficient_bytes: u64,
    efficiency_score: f64,
    file_reference: Vec<ExportReference>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExportReference {
    count: u32,
    size_bytes: u64,
    file: Box<RawValue>,
}

/// A JSON string as Go writes it (see [`go_json`]), ready to be written as it is: strings are
/// bytes here (a path need not be UTF-8), which serde's strings cannot carry.
fn go_string(bytes: &[u8]) -> Box<RawValue> {
    // go_json always writes a valid JSON string; the fallback is never taken.
    RawValue::from_string(go_json(bytes)).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// encoding/json's MarshalIndent layout (two spaces) with Go's float rendering.
struct GoFormatter(PrettyFormatter<'static>);

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, value: f64) -> std::io::Result<()> {
        writer.write_all(go_float(value, true).as_bytes())
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// dive's `--json` export of `image` (its schema, its number formats, its HTML-safe escaping).
pub fn export_json(image: &Image, figures: &DiveFigures) -> String {
    let tree = &image.tree;
    let history = dive_history(image);
    let mut layers = Vec::with_capacity(image.layers.len());
    for_each_file_list(image, |index, all| {
        let layer = &image.layers[index];
        let (command, digest) = &history[index];
        layers.push(ExportLayer {
            index,
            id: go_string(layer.entry.split('/').next().unwrap_or("").as_bytes()),
            digest_id: go_string(digest.as_bytes()),
            size_bytes: layer.size_bytes,
            command: go_string(command.as_bytes()),
            file_list: all.iter().map(|f| file_entry(tree, f)).collect(),
        });
    });
    let export = Export {
        layer: layers,
        image: ExportImage {
            size_bytes: figures.size_bytes,
            inefficient_bytes: figures.wasted_bytes,
            efficiency_score: figures.efficiency,
            file_reference: figures
                .inefficient_files
                .iter()
                .map(|f| ExportReference { count: f.count, size_bytes: f.size_bytes, file: go_string(&f.path_bytes) })
                .collect(),
        },
    };
    let mut out = Vec::new();
    let mut writer = serde_json::Serializer::with_formatter(&mut out, GoFormatter(PrettyFormatter::with_indent(b"  ")));
    // Writing plain data into a Vec cannot fail.
    let _ = export.serialize(&mut writer);
    String::from_utf8(out).unwrap_or_default()
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

fn file_entry(tree: &Tree, d: &ListedFile) -> ExportFile {
    let Some(id) = d.entry else {
        let (path, link_name) = (go_string(b""), go_string(b""));
        return ExportFile { path, type_flag: 0, link_name, size: 0, file_mode: 0, uid: 0, gid: 0, is_dir: false };
    };
    let e = tree.entry(id);
    let mut rel = tree.path(d.node);
    if d.whiteout {
        let cut = rel.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
        rel.splice(cut..cut, b".wh.".iter().copied());
    }
    let type_flag = match e.kind {
        EntryKind::File | EntryKind::Whiteout | EntryKind::Opaque => b'0',
        EntryKind::Hardlink => b'1',
        EntryKind::Symlink => b'2',
        EntryKind::Char => b'3',
        EntryKind::Block => b'4',
        EntryKind::Dir => b'5',
        EntryKind::Fifo => b'6',
    };
    ExportFile {
        path: go_string(&rel),
        type_flag,
        // dive copies the header's link name whatever the entry (buildah leaves one on whiteouts).
        link_name: go_string(tree.link(e).unwrap_or_default()),
        size: e.size,
        file_mode: go_file_mode(e.kind, e.mode),
        uid: e.uid,
        gid: e.gid,
        is_dir: e.kind == EntryKind::Dir,
    }
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
