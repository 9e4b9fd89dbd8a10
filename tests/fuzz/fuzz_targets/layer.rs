//! One layer: any bytes as the blob of the only layer of a docker-save archive.
#![no_main]

#[path = "common.rs"]
mod common;

fn archive(layer: &[u8]) -> Vec<u8> {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},"history":[{"created_by":"fuzz"}]}"#;
    let manifest = br#"[{"Config":"c.json","RepoTags":["fuzz:1"],"Layers":["l/layer.tar"]}]"#;
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [("c.json", &config[..]), ("l/layer.tar", layer), ("manifest.json", &manifest[..])] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let _ = b.append_data(&mut h, name, data);
    }
    b.into_inner().unwrap_or_default()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load_and_use(&archive(data)));
