//! The metadata: the bytes split at 0xff bytes into index.json, manifest.json and three blobs
//! named by fixed digests (`sha256:aaaa…`, `bbbb…`, `cccc…`, which the seeds reference), put in
//! an archive with an oci-layout file.
#![no_main]

#[path = "common.rs"]
mod common;

fn archive(data: &[u8]) -> Vec<u8> {
    let mut parts = data.split(|&b| b == 0xff);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let _ = b.append_data(&mut h, name, data);
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    if let Some(index) = parts.next() {
        add("index.json".into(), index);
    }
    if let Some(manifest) = parts.next().filter(|m| !m.is_empty()) {
        add("manifest.json".into(), manifest);
    }
    for (part, fill) in parts.zip(['a', 'b', 'c']) {
        add(format!("blobs/sha256/{}", fill.to_string().repeat(64)), part);
    }
    b.into_inner().unwrap_or_default()
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load_and_use(&archive(data)));
