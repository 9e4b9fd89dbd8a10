//! The outer archive: any bytes as an image archive (a tar, a compressed tar, what-have-you).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load_and_use(data));
