//! What every target does with an image that loaded: everything a user can ask of it.

use std::io::{Read, sink};

use layerscope::layer::ReadOptions;
use layerscope::limits::Limits;

/// Small bounds, so a run spends its time on parsing, not on inflating what the bounds allow.
pub fn options() -> ReadOptions {
    let limits = Limits { spill_bytes: 64 << 20, inflate_floor: 16 << 20, layer_bytes: 64 << 20, ..Limits::default() };
    ReadOptions { verify: true, limits }
}

/// Load `bytes` as an archive and run every analysis and report on it.
pub fn load_and_use(bytes: &[u8]) {
    let input = layerscope::Input::Bytes { name: "fuzz.tar".into(), bytes: bytes.into() };
    let Ok(image) = layerscope::image::load_with(&input, &Default::default(), &options()) else { return };
    use_image(&image);
}

/// Every analysis and report, and a read of some file contents.
pub fn use_image(image: &layerscope::Image) {
    let analysis = layerscope::analysis::analyze(image, &Default::default());
    let dive = layerscope::analysis::dive::figures(image);
    let _ = layerscope::report::dive::export_json(image, &dive);
    let report = layerscope::report::Report::new(image, &analysis, &dive, None);
    let _ = report.write_json(sink());
    let style = layerscope::report::text::Style { color: true };
    let _ = layerscope::report::text::write_text(image, &analysis, &dive, None, false, style, &mut sink());
    for layer in 0..image.layers.len() {
        for changes_only in [false, true] {
            let options = layerscope::report::files::FilesOptions { layer: Some(layer), changes_only };
            let _ = layerscope::report::files::write_files(image, options, sink());
        }
    }
    // A few contents, through the sparse and hard-link paths alike.
    for (id, e) in image.tree.entries().iter().enumerate().take(64) {
        if e.kind == layerscope::layer::EntryKind::File {
            if let Ok(mut r) = image.open_content(id as u32) {
                let _ = std::io::copy(&mut r.by_ref().take(1 << 20), &mut sink());
            }
        }
    }
}
