//! layerscope: what is inside a container image, layer by layer, and where its bytes are wasted.
//!
//! The engine reads an image archive without extracting it, and builds an exact model:
//!
//! * [`archive`] indexes the outer tar once and reads blobs by offset (stdin and compressed
//!   archives are spilled to an anonymous temporary file first);
//! * [`format`] turns Docker's `manifest.json` or an OCI `index.json` into one chosen image with
//!   its ordered layers;
//! * [`layer`] streams one layer tar into change records, hashing file contents on the way;
//! * [`tree`] merges the layers into one arena-based tree that answers, for any layer, both "what
//!   did this layer change" and "what is visible after it";
//! * [`image`] puts them together: an [`Image`] is the layers, their merged tree, the config;
//! * [`analysis`] computes what the reports show: sizes, waste by cause and by source, the base
//!   image and the slimmer bases that fit, what two images differ in, the disk several share;
//! * [`ci`] judges an analysis against thresholds; [`report`] shapes the model for people and
//!   programs (text, JSON, JUnit, SARIF, GitHub annotations, `files`);
//! * [`extract`] writes a path out of an image, never outside the folder it is given;
//! * [`source`] gets an archive from elsewhere: a local engine, a registry, a container and its
//!   writable layer; [`cache`] keeps what was pulled, parsed and computed;
//! * [`tui`] is the explorer; [`cli`] the command line; [`error`], [`warning`], [`limits`],
//!   [`text`] (escaping untrusted text for terminals), [`units`] (how numbers are written) and
//!   [`dirs`] are shared by all of them.
//!
//! # Sizes
//!
//! * **Layer size** (`size_bytes`): Σ sizes of the regular files in the layer tar. Hard links,
//!   directories, symlinks and whiteouts count 0, so a hard-linked file counts once. This is what
//!   dive reports and what `docker image ls` sums (it also counts symlink target lengths).
//! * **Blob size** (`blob_bytes`): the bytes of the layer blob in the archive, compressed where
//!   the layer is: what a registry pull transfers.
//! * **Image size**: Σ layer sizes.
//!
//! ```no_run
//! use layerscope::{Input, Selection};
//! let image = layerscope::load(&Input::from_arg("image.tar"), &Selection::default())?;
//! println!("{} layers, {} bytes", image.layers.len(), image.size_bytes());
//! # Ok::<(), layerscope::Error>(())
//! ```

pub mod analysis;
pub mod archive;
pub mod cache;
pub mod ci;
pub mod cli;
pub mod dirs;
pub mod error;
pub mod extract;
pub mod format;
pub mod image;
pub mod layer;
pub mod limits;
pub mod report;
pub mod source;
pub mod text;
pub mod tree;
pub mod tui;
pub mod units;
pub mod warning;

pub use archive::Input;
pub use error::{Error, Result};
pub use format::Selection;
pub use image::{Image, Layer, Loader, load, open};
pub use warning::{Warning, WarningKind};
