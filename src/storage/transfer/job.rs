//! One transfer as the TUI asks for it: a download of an object or a folder, an upload of a file
//! or a directory, and how it ended.

use super::super::{ObjectStore, StoreError};
use super::{Progress, Report};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Down,
    Up,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TransferSpec {
    pub dir: Direction,
    pub bucket: String,
    /// Download: the object, or the prefix with `recursive`. Upload: the prefix to upload into.
    pub key: String,
    pub local: PathBuf,
    pub recursive: bool,
    pub overwrite: bool,
    /// A sync (`tandem sync`): the directory and the prefix made the same, only what differs
    /// sent; planned first, and started once the user said yes to the plan.
    pub sync: bool,
}

impl TransferSpec {
    /// `from → to`, sanitised for the screen.
    pub fn label(&self) -> (String, String) {
        let remote =
            crate::observe::sanitize(&format!("{}/{}", self.bucket, self.key)).into_owned();
        let local = crate::observe::sanitize(&self.local.display().to_string()).into_owned();
        match self.dir {
            Direction::Down => (remote, local),
            Direction::Up => (local, remote),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransferState {
    Running,
    Done,
    Failed(String),
    Cancelled,
    /// Refused because this local file exists; waiting for the user to allow replacing it.
    Exists(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransferProgress {
    pub done: u64,
    pub total: u64,
    pub files_done: u64,
    pub files_total: u64,
    pub elapsed_ms: u64,
}

impl Progress {
    /// The counters now, with the time since the transfer began.
    pub fn reading(&self, t0: std::time::Instant) -> TransferProgress {
        use std::sync::atomic::Ordering::Relaxed;
        TransferProgress {
            done: self.done.load(Relaxed),
            total: self.total.load(Relaxed),
            files_done: self.files_done.load(Relaxed),
            files_total: self.files_total.load(Relaxed),
            elapsed_ms: t0.elapsed().as_millis() as u64,
        }
    }
}

/// Plan and run one transfer (a download of an object or a folder, which lands in a directory of
/// its own name; an upload of a file or a directory, which goes up as a folder of its own name);
/// how it ended.
pub async fn perform(
    store: Arc<dyn ObjectStore>,
    spec: &TransferSpec,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> TransferState {
    use super as xfer;
    let t = xfer::Tuning::default();
    let r = match spec.dir {
        Direction::Down => {
            // a folder lands in a directory of its own name inside the one chosen
            let dest = if spec.recursive {
                let name = spec
                    .key
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                spec.local.join(name)
            } else {
                spec.local.clone()
            };
            match xfer::plan_download(
                &*store,
                &spec.bucket,
                &spec.key,
                &dest,
                spec.recursive,
                spec.overwrite,
            )
            .await
            {
                Ok(plan) => {
                    let report =
                        xfer::download(store, &spec.bucket, &plan.items, t, progress, cancel).await;
                    return ended(report, &plan.refused);
                }
                Err(e) => Err(e),
            }
        }
        Direction::Up => {
            // a directory goes up as a folder of its own name inside the prefix
            let mut key = spec.key.clone();
            if spec.local.is_dir() {
                if let Some(name) = spec.local.file_name() {
                    key = format!("{key}{}/", name.to_string_lossy());
                }
            }
            let (src, rec) = (spec.local.clone(), spec.recursive);
            match tokio::task::spawn_blocking(move || xfer::plan_upload(&src, &key, rec)).await {
                Ok(Ok(items)) => {
                    let how = xfer::Sending::default();
                    let report =
                        xfer::upload(store, &spec.bucket, &items, t, &how, progress, cancel).await;
                    return ended(report, &[]);
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(StoreError::Network(e.to_string())),
            }
        }
    };
    match r {
        Ok(()) => TransferState::Done,
        Err(e) => failed(e),
    }
}

fn failed(e: StoreError) -> TransferState {
    match e {
        StoreError::Cancelled => TransferState::Cancelled,
        StoreError::Exists(path) => TransferState::Exists(path.display().to_string()),
        e => TransferState::Failed(e.to_string()),
    }
}

/// How a transfer ended, keys refused by a download plan included: done only when every object
/// arrived.
fn ended(report: Report, refused: &[super::Refused]) -> TransferState {
    let kept = report.kept.len();
    let state = match (report.into_result(), refused.first()) {
        (Err(e), _) => failed(e),
        (Ok(_), None) => return TransferState::Done,
        (Ok(n), Some(r)) => TransferState::Failed(format!(
            "{n} objects downloaded; {} refused, the first `{}`: {}",
            refused.len(),
            crate::observe::sanitize(&r.key),
            r.why
        )),
    };
    match state {
        TransferState::Failed(m) if kept > 0 => TransferState::Failed(format!(
            "{m} ({kept} partial files kept: starting the same download again resumes them)"
        )),
        s => s,
    }
}
