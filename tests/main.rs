//! The integration tests, built as one test binary (one link instead of one per file, and the
//! fixture builder compiled once). Each module is one area; `support` builds fixtures in code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests may panic

mod support;

mod analysis;
mod architecture;
mod ci;
mod cli;
mod contract;
mod corpus;
mod demo_asset;
mod dive_fixtures;
mod extract;
mod formats;
mod fuzz_seeds;
mod hostile;
mod layers;
mod robustness;
mod schemas;
mod sources;
mod tmux;
mod tui;
mod wire;
