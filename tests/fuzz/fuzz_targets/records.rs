//! A cached layer record: any bytes after a valid header as the record of a layer, then merged
//! into a tree as a loaded image would be. The cache is the user's own folder, but a disk error,
//! another program or a hostile home directory can put anything there.
#![no_main]

use layerscope::limits::Limits;

fn record(payload: &[u8]) -> Vec<u8> {
    // The magic and the checksum, so the fuzzer reaches the decoder instead of the checksum test.
    let mut out = b"LSREC01\n".to_vec();
    out.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Some(parsed) = layerscope::cache::records::decode(&record(data), 0, &limits) else { return };
    let mut builder = layerscope::tree::TreeBuilder::with_limits(&limits);
    if builder.apply(&parsed).is_ok() {
        let (tree, _) = builder.finish();
        let _ = tree.node_count();
    }
});
