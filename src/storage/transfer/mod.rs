//! Transfers between a store and local files: objects and whole prefixes, multipart with a
//! configurable part size and concurrency, progress, cancellation, and downloads that never write
//! outside the chosen directory.
//!
//! - [`plan`]: what a download or an upload will move (and, for downloads, which keys are refused);
//! - [`download`]: ranged GETs into resumable part files, any number of objects within a few open files;
//! - [`upload`]: single PUTs and multipart uploads;
//! - [`job`]: one transfer as the TUI asks for it.

mod download;
mod job;
mod plan;
mod upload;

pub use download::download;
pub use job::{perform, Direction, TransferProgress, TransferSpec, TransferState};
pub use plan::{dest_path, plan_download, plan_upload, DownloadPlan, Refused};
pub use upload::{upload, PartBook, Resumable, Sending};

use super::StoreError;
use super::{blocking, io_err};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub part_size: u64,
    /// Requests in flight at once (parts and whole objects alike); files open at once are bounded
    /// by it too, never by how many objects a transfer holds.
    pub concurrency: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            part_size: 8 << 20,
            concurrency: 8,
        }
    }
}

/// Bytes done and to do, shared with whoever draws the gauge.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub files_done: AtomicU64,
    pub files_total: AtomicU64,
}

impl Progress {
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
    /// Count `items` into the totals.
    pub fn plan(&self, items: &[Item]) {
        self.total
            .fetch_add(items.iter().map(|i| i.size).sum(), Ordering::Relaxed);
        self.files_total
            .fetch_add(items.len() as u64, Ordering::Relaxed);
    }
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}

/// One file of a transfer plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// What identifies this version of the object (ETag, else last-modified): a partial download
    /// is resumed only when the object still has the same stamp.
    pub stamp: String,
}

/// How a transfer of many objects ended: every object either arrived, failed on its own (the
/// others went on), or was not tried because something stopped the whole transfer.
#[derive(Debug, Default)]
pub struct Report {
    /// Objects transferred.
    pub done: usize,
    /// Objects that failed on their own, each with why.
    pub failed: Vec<(String, StoreError)>,
    /// What stopped the transfer (the network or the server after every retry, the local disk,
    /// credentials, Ctrl-C), if something did.
    pub stopped: Option<StoreError>,
    /// Partial downloads (`NAME.tandem-part`) kept because the same download started again
    /// resumes them.
    pub kept: Vec<PathBuf>,
    /// What arrived, object by object.
    pub sent: Vec<Sent>,
    /// Multipart uploads that went on from where an earlier run stopped.
    pub resumed: Vec<Resumed>,
}

/// One object that arrived: what identifies its version and, for uploads, the checksum sent with
/// it (computed while the file was read) and stored with the object.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Sent {
    pub key: String,
    pub size: u64,
    /// The object's ETag (else its last-modified time, as [`Item::stamp`]).
    pub stamp: Option<String>,
    pub checksum: Option<super::checksum::Sum>,
}

/// A multipart upload resumed: `had` of its `parts` were already acknowledged by the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Resumed {
    pub key: String,
    pub had: u32,
    pub parts: u32,
}

impl Report {
    /// All or nothing: the error that stopped the transfer, else the first object that failed
    /// (with how many did), else the number of objects transferred.
    pub fn into_result(self) -> Result<usize, StoreError> {
        if let Some(e) = self.stopped {
            return Err(e);
        }
        let count = self.failed.len();
        match self.failed.into_iter().next() {
            None => Ok(self.done),
            Some((_, e)) if count == 1 => Err(e),
            Some((_, e)) => Err(StoreError::Failed {
                count,
                first: Box::new(e),
            }),
        }
    }
}

/// Errors worth another try: the network, and the server's own failures (5xx, throttling).
fn transient(e: &StoreError) -> bool {
    match e {
        StoreError::Network(_) => true,
        StoreError::Service { code, .. } => {
            code.starts_with('5')
                || code.contains("Throttl")
                || code == "SlowDown"
                || code == "InternalError"
                || code == "ServiceUnavailable"
        }
        _ => false,
    }
}

/// Errors that concern one object only, so that the rest of a transfer goes on: the object is
/// gone, refused or denied, or its local file is in the way. Everything else (the network after
/// every retry, credentials, a full disk, too many open files, Ctrl-C) stops the transfer.
fn of_one_object(e: &StoreError) -> bool {
    use nix::errno::Errno;
    match e {
        StoreError::NotFound { .. }
        | StoreError::BadKey { .. }
        | StoreError::Denied(_)
        | StoreError::Exists(_) => true,
        StoreError::Io { source, .. } => !matches!(
            source.raw_os_error().map(Errno::from_raw),
            Some(
                Errno::ENOSPC
                    | Errno::EDQUOT
                    | Errno::EROFS
                    | Errno::EMFILE
                    | Errno::ENFILE
                    | Errno::EIO
            )
        ),
        _ => false,
    }
}

/// `op` tried up to [`PART_ATTEMPTS`] times with backoff while it fails with a network or server
/// error; stops at once when `stop` is cancelled.
async fn retrying<T, F, Fut>(stop: &CancellationToken, mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        let r = tokio::select! {
            r = op() => r,
            _ = stop.cancelled() => return Err(StoreError::Cancelled),
        };
        match r {
            Err(err) if transient(&err) && attempt + 1 < PART_ATTEMPTS => {
                let wait = std::time::Duration::from_millis(250 << attempt.min(4));
                tracing::warn!("{err}; retrying in {wait:?}");
                attempt += 1;
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.cancelled() => return Err(StoreError::Cancelled),
                }
            }
            r => return r,
        }
    }
}

/// How many times a part is tried, with backoff 0.25 s, 0.5 s, ... up to 4 s between tries (about
/// 15 s in all before a transfer gives up; running it again resumes from the parts written).
pub const PART_ATTEMPTS: u32 = 7;
