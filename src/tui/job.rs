//! Slow work the explorer asks for, run off the UI thread: reading a part of a file for the viewer
//! (in a compressed layer that means inflating everything before it), extracting, and on a big
//! image bringing the file tree to a newly wanted view (marks and rows), and reading the package
//! databases once the image is open. As in
//! gitui's `AsyncSingleJob`, a new request replaces the pending one: the running job is told to
//! stop, and only the newest answer is taken. `update` only describes a job ([`Job`]); the event
//! loop runs it ([`run`]) and hands the answer back as an event.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::packages::PackageIndex;
use super::tree_view::{Filter, Marks, Order, Rows, RowsOf, SortMode, TreeView};
use crate::extract::{ExtractSummary, Watch};
use crate::image::Image;
use crate::tree::{EntryId, NodeId};

/// Bytes of a file the viewer holds at once.
pub const CHUNK: u64 = 256 * 1024;

/// What to do.
#[derive(Debug)]
pub enum Request {
    /// Read part `chunk` (of [`CHUNK`] bytes) of an entry's content.
    ReadChunk {
        /// The file (or hard link).
        entry: EntryId,
        /// Which part.
        chunk: u64,
    },
    /// Extract a node as it is after a layer into a folder.
    Extract {
        /// The node.
        node: NodeId,
        /// The layer.
        layer: usize,
        /// The folder.
        dest: PathBuf,
    },
    /// Compute the marks and rows of a tree view.
    Tree(TreeRequest),
    /// Read the package databases (inflating the compressed layers that hold them).
    Packages,
}

/// A tree view to compute, from the marks shown now (reused where the view allows).
#[derive(Debug)]
pub struct TreeRequest {
    /// The marks shown now.
    pub marks: Arc<Marks>,
    /// The image's node order.
    pub order: Arc<Order>,
    /// The view wanted.
    pub view: TreeView,
    /// Its filters, compiled.
    pub filter: Filter,
    /// Folded directories, per node, as they were when asked.
    pub collapsed: Vec<bool>,
    /// The fold count they stand for.
    pub folds: u64,
    /// The sort order wanted.
    pub sort: SortMode,
}

/// A request with what the loop needs to run it and the screen to follow it.
#[derive(Debug, Clone)]
pub struct Job {
    /// Tells answers apart: only the pending job's is taken.
    pub id: u64,
    /// The image to read.
    pub image: Arc<Image>,
    /// What to do.
    pub request: Arc<Request>,
    /// Set to stop it.
    pub stop: Arc<AtomicBool>,
    /// Bytes read (or written) so far, for the progress shown.
    pub progress: Arc<AtomicU64>,
}

// Jobs are told apart by id (the image they read has no equality).
impl PartialEq for Job {
    fn eq(&self, other: &Job) -> bool {
        self.id == other.id
    }
}

impl Eq for Job {}

/// How a job ended.
#[derive(Debug)]
pub enum Outcome {
    /// The part read, or why it could not be.
    Chunk {
        /// Which part.
        chunk: u64,
        /// Its bytes.
        data: Result<Vec<u8>, String>,
    },
    /// What was extracted, or why not.
    Extracted(Result<ExtractSummary, String>),
    /// The tree view computed.
    Tree(Box<(Arc<Marks>, Rows)>),
    /// The packages read (`None`: no database after all).
    Packages(Option<Arc<PackageIndex>>),
    /// It was told to stop.
    Stopped,
}

/// A job's answer.
#[derive(Debug)]
pub struct Done {
    /// The job's id.
    pub id: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Run `job` to its end (on whatever thread calls it).
pub fn run(job: &Job) -> Done {
    let stopped = || job.stop.load(Ordering::Relaxed);
    let outcome = match job.request.as_ref() {
        Request::ReadChunk { entry, chunk } => match read_chunk(job, *entry, *chunk) {
            Err(_) if stopped() => Outcome::Stopped,
            data => Outcome::Chunk { chunk: *chunk, data },
        },
        Request::Extract { node, layer, dest } => {
            let watch = Watch::default();
            // Stopped before it started: the first block already sees it.
            watch.stop.store(stopped(), Ordering::Relaxed);
            let done = AtomicBool::new(false);
            // The extraction counts into its own watch; mirror it into the job's counters.
            let result = std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        watch.stop.store(stopped(), Ordering::Relaxed);
                        job.progress.store(watch.written.load(Ordering::Relaxed), Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                });
                let result = crate::extract::extract_watched(&job.image, *node, *layer, dest, &watch);
                done.store(true, Ordering::Relaxed);
                result
            });
            match result {
                Err(crate::Error::Cancelled) => Outcome::Stopped,
                other => Outcome::Extracted(other.map_err(|e| e.to_string())),
            }
        }
        Request::Packages => {
            let read = crate::analysis::packages::packages_and_owners(&job.image, true);
            Outcome::Packages(
                read.map(|(packages, owners)| Arc::new(PackageIndex::new(&job.image.tree, packages, &owners))),
            )
        }
        Request::Tree(t) => {
            // Only the rows change (sort, folds): the marks shown are the ones wanted.
            let marks = if t.marks.view == t.view {
                Some(Arc::clone(&t.marks))
            } else {
                t.marks.to_view(&job.image, &t.order, t.view.clone(), &t.filter, &job.stop).map(Arc::new)
            };
            match marks {
                Some(marks) => {
                    let of = RowsOf {
                        tree: &job.image.tree,
                        marks: &marks,
                        collapsed: &t.collapsed,
                        sort: t.sort,
                        filtering: t.filter.is_on(),
                    };
                    let rows = Rows::new(of, t.folds);
                    Outcome::Tree(Box::new((marks, rows)))
                }
                None => Outcome::Stopped,
            }
        }
    };
    Done { id: job.id, outcome }
}

/// Skip to part `chunk` of the content and read it, checking the stop flag between blocks.
fn read_chunk(job: &Job, entry: EntryId, chunk: u64) -> Result<Vec<u8>, String> {
    let mut reader = job.image.open_content(entry).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut skip = chunk * CHUNK;
    let mut read = |buf: &mut [u8]| -> Result<usize, String> {
        if job.stop.load(Ordering::Relaxed) {
            return Err("stopped".into());
        }
        loop {
            match reader.read(buf) {
                Ok(n) => {
                    job.progress.fetch_add(n as u64, Ordering::Relaxed);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    while skip > 0 {
        let want = usize::try_from(skip.min(buf.len() as u64)).unwrap_or(buf.len());
        let n = read(&mut buf[..want])?;
        if n == 0 {
            return Ok(Vec::new());
        }
        skip -= n as u64;
    }
    let mut out = Vec::new();
    while (out.len() as u64) < CHUNK {
        let want = usize::try_from((CHUNK - out.len() as u64).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = read(&mut buf[..want])?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}
