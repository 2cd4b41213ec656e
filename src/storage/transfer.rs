//! Transfers between a store and local files: objects and whole prefixes, multipart with a
//! configurable part size and concurrency, progress, cancellation, and downloads that never write
//! outside the chosen directory.

use super::{check_key, list_tree, ObjectStore, Result, StoreError};
use futures::{StreamExt, TryStreamExt};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub part_size: u64,
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

fn stamp(o: &super::ObjectMeta) -> String {
    match (&o.etag, &o.modified) {
        (Some(e), _) => e.clone(),
        (None, Some(m)) => m.to_rfc3339(),
        (None, None) => String::new(),
    }
}

/// Where a key under `prefix` lands in `dest`: refused when the rest of the key could escape
/// (`..`, `.`, absolute, empty segments).
pub fn dest_path(dest: &Path, prefix: &str, key: &str) -> Result<PathBuf> {
    let rel = key.strip_prefix(prefix).unwrap_or(key);
    let rel = if rel.is_empty() {
        key.rsplit('/').next().unwrap_or(key)
    } else {
        rel
    };
    if rel.is_empty() || rel.ends_with('/') {
        return Err(StoreError::BadKey {
            key: key.to_string(),
            why: "it names a folder, not an object",
        });
    }
    check_key(rel)?;
    if key.split('/').any(|s| s == "..") {
        return Err(StoreError::BadKey {
            key: key.to_string(),
            why: "`..` segments are not allowed",
        });
    }
    Ok(dest.join(rel))
}

/// Plan a download of `key` (an object, or with `recursive` every object under the prefix) into
/// directory `dest`. Existing files are refused unless `overwrite`.
pub async fn plan_download(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    dest: &Path,
    recursive: bool,
    overwrite: bool,
) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    if recursive {
        let prefix = if key.is_empty() || key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let mut all = Vec::new();
        list_tree(store, bucket, &prefix, 16, |b| all.extend(b)).await?;
        for o in all {
            if o.key.ends_with('/') {
                continue; // folder markers
            }
            items.push(Item {
                path: dest_path(dest, &prefix, &o.key)?,
                stamp: stamp(&o),
                key: o.key,
                size: o.size,
            });
        }
    } else {
        let m = store.head(bucket, key).await?;
        let name = key.rsplit('/').next().unwrap_or(key);
        let path = if dest.is_dir() || dest.as_os_str().to_string_lossy().ends_with('/') {
            dest_path(dest, "", name)?
        } else {
            dest.to_path_buf()
        };
        items.push(Item {
            key: key.to_string(),
            path,
            size: m.size,
            stamp: stamp(&m),
        });
    }
    if !overwrite {
        if let Some(i) = items.iter().find(|i| i.path.exists()) {
            return Err(StoreError::Exists(i.path.clone()));
        }
    }
    Ok(items)
}

/// Plan an upload of `src` (a file, or with `recursive` every file below a directory) to `key`.
pub fn plan_upload(src: &Path, key: &str, recursive: bool) -> Result<Vec<Item>> {
    let io = |e: std::io::Error| StoreError::Io {
        context: src.display().to_string(),
        source: e,
    };
    let md = std::fs::metadata(src).map_err(io)?;
    if md.is_file() {
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let k = if key.is_empty() || key.ends_with('/') {
            format!("{key}{name}")
        } else {
            key.to_string()
        };
        check_key(&k)?;
        return Ok(vec![Item {
            key: k,
            path: src.to_path_buf(),
            size: md.len(),
            stamp: String::new(),
        }]);
    }
    if !recursive {
        return Err(StoreError::BadKey {
            key: src.display().to_string(),
            why: "is a directory: add --recursive",
        });
    }
    let mut out = Vec::new();
    let base = if key.is_empty() || key.ends_with('/') {
        key.to_string()
    } else {
        format!("{key}/")
    };
    let mut stack = vec![src.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io)? {
            let e = e.map_err(io)?;
            let p = e.path();
            let ft = e.file_type().map_err(io)?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p
                    .strip_prefix(src)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                let k = format!("{base}{rel}");
                check_key(&k)?;
                out.push(Item {
                    key: k,
                    size: e.metadata().map_err(io)?.len(),
                    path: p,
                    stamp: String::new(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

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

/// How many times a part is tried, with backoff 0.25 s, 0.5 s, ... up to 4 s between tries (about
/// 15 s in all before a transfer gives up; running it again resumes from the parts written).
pub const PART_ATTEMPTS: u32 = 7;

/// Download every item: objects larger than a part are fetched as concurrent ranged GETs written
/// at their offsets into `NAME.tandem-part`, renamed into place when complete. Each part is retried
/// with backoff on network and server errors; a download that still fails (or is cancelled) leaves
/// its partial file and the list of parts written, and the same download started again fetches only
/// the missing parts, provided the object has not changed.
pub async fn download(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    items: &[Item],
    t: Tuning,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<()> {
    progress.plan(items);
    // parts of all files share one pool of `concurrency` requests
    let mut jobs = Vec::new();
    for it in items {
        let part = part_path(&it.path);
        let io = |e| StoreError::Io {
            context: part.display().to_string(),
            source: e,
        };
        if let Some(d) = part.parent() {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        let (f, j, have) = open_partial(it, t.part_size).map_err(io)?;
        let (f, j) = (Arc::new(f), Arc::new(std::sync::Mutex::new(j)));
        for (k, have) in have.into_iter().enumerate() {
            let k = k as u64;
            let (s, e) = (k * t.part_size, ((k + 1) * t.part_size).min(it.size));
            if have {
                progress.add(e - s);
            } else {
                jobs.push((it.key.clone(), f.clone(), j.clone(), k, s, e));
            }
        }
    }
    let bucket = bucket.to_string();
    futures::stream::iter(jobs)
        .map(|(key, f, j, k, s, e)| {
            let (store, progress, cancel, bucket) = (
                store.clone(),
                progress.clone(),
                cancel.clone(),
                bucket.clone(),
            );
            async move {
                let mut attempt = 0;
                let data = loop {
                    if cancel.is_cancelled() {
                        return Err(StoreError::Cancelled);
                    }
                    let r = tokio::select! {
                        r = store.get_range(&bucket, &key, s..e) => r,
                        _ = cancel.cancelled() => return Err(StoreError::Cancelled),
                    };
                    let r = r.and_then(|d| {
                        if d.len() as u64 == e - s {
                            Ok(d)
                        } else {
                            Err(StoreError::Network(format!(
                                "{bucket}/{key}: got {} bytes for range {s}-{e}",
                                d.len()
                            )))
                        }
                    });
                    match r {
                        Ok(d) => break d,
                        Err(err) if transient(&err) && attempt + 1 < PART_ATTEMPTS => {
                            let wait = std::time::Duration::from_millis(250 << attempt.min(4));
                            tracing::warn!("{err}; retrying in {wait:?}");
                            attempt += 1;
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = cancel.cancelled() => return Err(StoreError::Cancelled),
                            }
                        }
                        Err(err) => return Err(err),
                    }
                };
                let len = data.len() as u64;
                tokio::task::spawn_blocking(move || {
                    use std::io::Write;
                    f.write_all_at(&data, s)?;
                    // the part is recorded only once its bytes are in the file
                    let mut j = j.lock().unwrap_or_else(|p| p.into_inner());
                    writeln!(j, "{k}")
                })
                .await
                .map_err(|e| StoreError::Network(e.to_string()))?
                .map_err(|e| StoreError::Io {
                    context: key.clone(),
                    source: e,
                })?;
                progress.add(len);
                Ok(())
            }
        })
        .buffer_unordered(t.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    for it in items {
        let part = part_path(&it.path);
        std::fs::rename(&part, &it.path).map_err(|e| StoreError::Io {
            context: it.path.display().to_string(),
            source: e,
        })?;
        let _ = std::fs::remove_file(done_path(&it.path));
        progress.files_done.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Upload every item: files larger than a part go up as multipart uploads with `concurrency`
/// parts in flight (aborted on failure or cancel); smaller ones in one request.
pub async fn upload(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    items: &[Item],
    t: Tuning,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<()> {
    progress.plan(items);
    let small: Vec<Item> = items
        .iter()
        .filter(|i| i.size <= t.part_size || store.as_s3().is_none())
        .cloned()
        .collect();
    futures::stream::iter(small)
        .map(|it: Item| {
            let (store, progress, cancel, bucket) = (
                store.clone(),
                progress.clone(),
                cancel.clone(),
                bucket.to_string(),
            );
            async move {
                if cancel.is_cancelled() {
                    return Err(StoreError::Cancelled);
                }
                let p = it.path.clone();
                let data = tokio::task::spawn_blocking(move || std::fs::read(&p))
                    .await
                    .map_err(|e| StoreError::Network(e.to_string()))?
                    .map_err(|e| StoreError::Io {
                        context: it.path.display().to_string(),
                        source: e,
                    })?;
                let len = data.len() as u64;
                store.put(&bucket, &it.key, data).await?;
                progress.add(len);
                progress.files_done.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        })
        .buffer_unordered(t.concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    for it in items.iter().filter(|i| i.size > t.part_size) {
        if let Some(s3) = store.as_s3() {
            multipart_upload(s3, bucket, it, t, &progress, &cancel).await?;
            progress.files_done.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

async fn multipart_upload(
    s3: &super::s3::S3Store,
    bucket: &str,
    it: &Item,
    t: Tuning,
    progress: &Arc<Progress>,
    cancel: &CancellationToken,
) -> Result<()> {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let c = s3.client();
    let up = c
        .create_multipart_upload()
        .bucket(bucket)
        .key(&it.key)
        .send()
        .await
        .map_err(|e| super::s3::map_err(e, bucket, &it.key))?;
    let id = up.upload_id().unwrap_or_default().to_string();
    let file = Arc::new(std::fs::File::open(&it.path).map_err(|e| StoreError::Io {
        context: it.path.display().to_string(),
        source: e,
    })?);
    let n = it.size.div_ceil(t.part_size);
    let parts: Result<Vec<CompletedPart>> = futures::stream::iter(0..n)
        .map(|k| {
            let (file, id, progress) = (file.clone(), id.clone(), progress.clone());
            async move {
                if cancel.is_cancelled() {
                    return Err(StoreError::Cancelled);
                }
                let (s, e) = (k * t.part_size, ((k + 1) * t.part_size).min(it.size));
                let buf = tokio::task::spawn_blocking(move || {
                    let mut b = vec![0u8; (e - s) as usize];
                    file.read_exact_at(&mut b, s).map(|_| b)
                })
                .await
                .map_err(|e| StoreError::Network(e.to_string()))?
                .map_err(|e| StoreError::Io {
                    context: it.path.display().to_string(),
                    source: e,
                })?;
                let len = buf.len() as u64;
                let out = c
                    .upload_part()
                    .bucket(bucket)
                    .key(&it.key)
                    .upload_id(&id)
                    .part_number(k as i32 + 1)
                    .body(buf.into())
                    .send()
                    .await
                    .map_err(|e| super::s3::map_err(e, bucket, &it.key))?;
                progress.add(len);
                Ok(CompletedPart::builder()
                    .set_e_tag(out.e_tag().map(str::to_string))
                    .part_number(k as i32 + 1)
                    .build())
            }
        })
        .buffered(t.concurrency.max(1))
        .try_collect()
        .await;
    match parts {
        Ok(parts) => {
            c.complete_multipart_upload()
                .bucket(bucket)
                .key(&it.key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| super::s3::map_err(e, bucket, &it.key))?;
            Ok(())
        }
        Err(e) => {
            let _ = c
                .abort_multipart_upload()
                .bucket(bucket)
                .key(&it.key)
                .upload_id(&id)
                .send()
                .await;
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// One transfer as the TUI asks for it.

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
    use super::transfer as xfer;
    use super::StoreError;
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
                Ok(items) => xfer::download(store, &spec.bucket, &items, t, progress, cancel).await,
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
                    xfer::upload(store, &spec.bucket, &items, t, progress, cancel).await
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(StoreError::Network(e.to_string())),
            }
        }
    };
    match r {
        Ok(()) => TransferState::Done,
        Err(StoreError::Cancelled) => TransferState::Cancelled,
        Err(StoreError::Exists(path)) => TransferState::Exists(path.display().to_string()),
        Err(e) => TransferState::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads_stay_inside_the_directory() {
        let d = Path::new("/tmp/dl");
        assert_eq!(dest_path(d, "p/", "p/a/b.csv").unwrap(), d.join("a/b.csv"));
        for bad in ["p/../../etc/passwd", "p//x", "p/./x", "p/a/../../x"] {
            assert!(dest_path(d, "p/", bad).is_err(), "{bad}");
        }
        assert!(dest_path(d, "", "/etc/passwd").is_err());
        assert!(dest_path(d, "p/", "p/dir/").is_err());
    }
}
