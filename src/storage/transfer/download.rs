//! Downloads: every object of a plan, through at most `concurrency` requests and as many open
//! files. An object that fits in one part is fetched whole and written to `NAME.tandem-part`, then
//! renamed; a bigger one is fetched as concurrent ranged GETs written at their offsets, each part
//! recorded in `NAME.tandem-part.done` once its bytes are in the file, so that the same download
//! started again fetches only the missing parts (provided the object has not changed).

use super::super::{ObjectStore, Result, StoreError};
use super::{blocking, io_err, of_one_object, retrying, Item, Progress, Report, Sent, Tuning};
use futures::StreamExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Where a download is written until it is complete: `NAME.tandem-part` beside `NAME`.
fn part_path(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    p.with_file_name(format!("{name}.tandem-part"))
}

/// The journal of a partial download, beside its `.tandem-part`: a header naming the object version
/// and part size, then the index of every part written.
fn done_path(p: &Path) -> PathBuf {
    let mut s = part_path(p).into_os_string();
    s.push(".done");
    PathBuf::from(s)
}

/// Open (or resume) the partial file of `it`: the parts already written when the object and part
/// size are unchanged, otherwise a fresh file.
fn open_partial(
    it: &Item,
    part_size: u64,
) -> std::io::Result<(std::fs::File, std::fs::File, Vec<bool>)> {
    use std::io::Write;
    let part = part_path(&it.path);
    let done = done_path(&it.path);
    let n = it.size.div_ceil(part_size).max(1) as usize;
    let header = format!(
        "tandem-part v1 size={} part={} stamp={}",
        it.size, part_size, it.stamp
    );
    let mut have = vec![false; n];
    let resumable = !it.stamp.is_empty()
        && part.exists()
        && match std::fs::read_to_string(&done) {
            Ok(text) => {
                let mut lines = text.lines();
                if lines.next() == Some(header.as_str()) {
                    // a torn last line (crash mid-write) is simply not counted
                    for k in lines.filter_map(|l| l.parse::<usize>().ok()) {
                        if k < n {
                            have[k] = true;
                        }
                    }
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        };
    if !resumable {
        have.iter_mut().for_each(|h| *h = false);
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(!resumable)
        .open(&part)?;
    f.set_len(it.size)?;
    let mut j = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .truncate(false)
        .open(&done)?;
    if !resumable {
        j.set_len(0)?;
        writeln!(j, "{header}")?;
    }
    Ok((f, j, have))
}

/// Download every item of a plan. Files are opened when their transfer starts and closed when it
/// ends; requests (whole objects and parts alike) share `concurrency` slots. Each request is
/// retried with backoff on network and server errors. An object that fails on its own (gone,
/// denied, its path in the way) is reported and the others go on; anything else stops the
/// download, and only partial files that a resume can use are left behind ([`Report::kept`]).
pub async fn download(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    items: &[Item],
    t: Tuning,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Report {
    progress.plan(items);
    let n = t.concurrency.max(1);
    let job = Arc::new(Job {
        store,
        bucket: bucket.to_string(),
        t,
        progress,
        stop: cancel.child_token(),
        slots: Arc::new(Semaphore::new(n)),
    });
    let mut report = Report::default();
    let mut files = futures::stream::iter(items.iter().cloned())
        .map(|it| {
            let job = job.clone();
            async move {
                let r = job.fetch(&it).await;
                (it, r)
            }
        })
        .buffer_unordered(n);
    while let Some((it, r)) = files.next().await {
        match r {
            Ok(()) => {
                report.done += 1;
                report.sent.push(Sent {
                    key: it.key,
                    size: it.size,
                    stamp: Some(it.stamp).filter(|s| !s.is_empty()),
                    checksum: None,
                });
                job.progress.files_done.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, kept)) => {
                report.kept.extend(kept);
                if of_one_object(&e) {
                    report.failed.push((it.key, e));
                } else {
                    if report.stopped.is_none() && !matches!(e, StoreError::Cancelled) {
                        report.stopped = Some(e);
                    }
                    job.stop.cancel();
                }
            }
        }
    }
    if report.stopped.is_none() && job.stop.is_cancelled() {
        report.stopped = Some(StoreError::Cancelled);
    }
    report.kept.sort();
    report
}

/// What every object of one download shares.
struct Job {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    t: Tuning,
    progress: Arc<Progress>,
    /// Cancelled by the caller (Ctrl-C) or by an error that stops the whole download.
    stop: CancellationToken,
    /// One permit per request in flight.
    slots: Arc<Semaphore>,
}

/// Why one object did not arrive, and its partial file if a resume can use it.
type Failure = (StoreError, Option<PathBuf>);

impl Job {
    async fn fetch(self: &Arc<Self>, it: &Item) -> std::result::Result<(), Failure> {
        if self.stop.is_cancelled() {
            return Err((StoreError::Cancelled, None));
        }
        if it.size <= self.t.part_size {
            self.fetch_whole(it).await.map_err(|e| (e, None))
        } else {
            self.fetch_parts(it).await
        }
    }

    /// An object that fits in one part: streamed into `NAME.tandem-part`, renamed into place
    /// (its file is open only while it is written). Small writes as they arrive are done on the
    /// task itself: a hand-off to a blocking thread would cost more than the write.
    async fn fetch_whole(&self, it: &Item) -> Result<()> {
        let part = part_path(&it.path);
        let io = io_err(&part);
        let open = |p: &Path| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
        };
        let f = match open(&part) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(d) = part.parent() {
                    std::fs::create_dir_all(d).map_err(&io)?;
                }
                open(&part).map_err(&io)?
            }
            r => r.map_err(&io)?,
        };
        let got = self.get_into(&it.key, 0, it.size, &f).await;
        drop(f);
        let done = got.and_then(|_| std::fs::rename(&part, &it.path).map_err(&io));
        if done.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        done?;
        self.progress.add(it.size);
        Ok(())
    }

    /// An object bigger than a part: its missing parts fetched concurrently into its partial
    /// file. On failure the partial file is kept when it holds at least one recorded part.
    async fn fetch_parts(self: &Arc<Self>, it: &Item) -> std::result::Result<(), Failure> {
        let part = part_path(&it.path);
        let (p2, it2, ps) = (part.clone(), it.clone(), self.t.part_size);
        let opened = blocking(move || {
            if let Some(d) = p2.parent() {
                std::fs::create_dir_all(d).map_err(io_err(&p2))?;
            }
            open_partial(&it2, ps).map_err(io_err(&p2))
        })
        .await;
        let (f, j, have) = opened.map_err(|e| (e, None))?;
        let had = have.iter().any(|h| *h);
        let (f, j) = (Arc::new(f), Arc::new(std::sync::Mutex::new(j)));
        let mut missing = Vec::new();
        for (k, have) in have.into_iter().enumerate() {
            let k = k as u64;
            let (s, e) = (k * ps, ((k + 1) * ps).min(it.size));
            if have {
                self.progress.add(e - s);
            } else {
                missing.push((k, s, e));
            }
        }
        let recorded = Arc::new(std::sync::atomic::AtomicBool::new(had));
        let mut parts = futures::stream::iter(missing)
            .map(|(k, s, e)| {
                let (f, j, job, recorded) = (f.clone(), j.clone(), self.clone(), recorded.clone());
                let (key, context) = (it.key.clone(), format!("{}: part {k}", part.display()));
                async move {
                    job.get_into(&key, s, e, &f).await?;
                    blocking(move || {
                        use std::io::Write;
                        // the part is recorded only once its bytes are in the file
                        let mut j = j.lock().unwrap_or_else(|p| p.into_inner());
                        writeln!(j, "{k}").map_err(|source| StoreError::Io { context, source })
                    })
                    .await?;
                    recorded.store(true, Ordering::Relaxed);
                    job.progress.add(e - s);
                    Ok(())
                }
            })
            .buffer_unordered(self.t.concurrency.max(1));
        let mut failed = None;
        while let Some(r) = parts.next().await {
            if let Err(e) = r {
                failed = Some(e);
                break;
            }
        }
        drop(parts);
        drop((f, j));
        let path = it.path.clone();
        match failed {
            None => blocking(move || {
                std::fs::rename(part_path(&path), &path).map_err(io_err(&path))?;
                let _ = std::fs::remove_file(done_path(&path));
                Ok(())
            })
            .await
            .map_err(|e| (e, None)),
            Some(e) if recorded.load(Ordering::Relaxed) => Err((e, Some(part))),
            Some(e) => {
                // nothing a resume could use
                let _ = std::fs::remove_file(&part);
                let _ = std::fs::remove_file(done_path(&path));
                Err((e, None))
            }
        }
    }

    /// Bytes `s..e` of `key` written into `f` at their offsets as they arrive, through one
    /// request slot, retried with backoff on network and server errors (a retry writes the range
    /// again); stops at once when the download is stopped.
    async fn get_into(&self, key: &str, s: u64, e: u64, f: &std::fs::File) -> Result<()> {
        retrying(&self.stop, move || async move {
            let mut sink = |off: u64, piece: &[u8]| f.write_all_at(piece, s + off);
            let _slot = self
                .slots
                .acquire()
                .await
                .map_err(|_| StoreError::Cancelled)?;
            let n = self
                .store
                .read_range_into(&self.bucket, key, s..e, &mut sink)
                .await?;
            if n == e - s {
                Ok(())
            } else {
                Err(StoreError::Network(format!(
                    "{}/{key}: got {n} bytes for range {s}-{e}",
                    self.bucket
                )))
            }
        })
        .await
    }
}
