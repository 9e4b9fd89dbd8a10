//! The CI config parser: any text as `.layerscope-ci.yaml` and as `.dive-ci`, then the policy.
#![no_main]

use std::path::Path;

use layerscope::ci::{FileKind, Policy, parse_config};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for (name, kind) in [(".layerscope-ci.yaml", FileKind::Layerscope), (".dive-ci", FileKind::Dive)] {
        if let Ok(file) = parse_config(Path::new(name), text, kind) {
            let _ = Policy::build(&[], Some(&file), false);
        }
    }
});
