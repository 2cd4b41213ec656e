//! Uploads: every file through at most `concurrency` requests and as many open files. A file that
//! fits in a part goes up in one request; a bigger one as a multipart upload whose parts share the
//! same request slots, so that several files' parts are in flight at once. Every request carries
//! the checksum of its bytes, computed as the file is read; a multipart upload also carries the
//! whole file's, joined from its parts' (S3's full-object checksum) where the algorithm allows.
//! With a [`PartBook`], a multipart upload is journalled part by part, and the same upload started
//! again sends only the parts the store did not acknowledge.

use super::super::checksum::{self, Algo, Sum};
use super::super::s3::{map_err, sdk_algo, with_checksum, S3Store};
use super::super::{ObjectStore, Result, StoreError};
use super::{
    blocking, io_err, of_one_object, retrying, Item, Progress, Report, Resumed, Sent, Tuning,
};
use bytes::Bytes;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How an upload sends: the checksum sent with every request, and where multipart uploads are
/// journalled so that they resume (none: a failed multipart upload is aborted).
#[derive(Clone)]
pub struct Sending {
    pub algo: Algo,
    pub book: Option<Arc<dyn PartBook>>,
}

impl Default for Sending {
    fn default() -> Self {
        Sending {
            algo: Algo::Crc64Nvme,
            book: None,
        }
    }
}

/// A multipart upload that can go on: its id and the parts the store acknowledged (number to
/// ETag and checksum).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resumable {
    pub upload_id: String,
    pub parts: BTreeMap<u32, (String, String)>,
}

/// Where multipart uploads are journalled (the sync ledger): each upload when it is created, each
/// part once the store acknowledged it, and its end (completed or given up).
pub trait PartBook: Send + Sync {
    /// An upload of `key` begun earlier with the same size, part size and checksum algorithm.
    fn find(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        part_size: u64,
        algo: Algo,
    ) -> std::io::Result<Option<Resumable>>;
    fn started(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        size: u64,
        part_size: u64,
        algo: Algo,
    ) -> std::io::Result<()>;
    fn acked(&self, upload_id: &str, part: u32, etag: &str, checksum: &str) -> std::io::Result<()>;
    fn ended(&self, upload_id: &str) -> std::io::Result<()>;
}

/// Upload every item. Each request is retried with backoff on network and server errors. A file
/// that fails on its own (gone, denied) is reported and the others go on; anything else stops
/// the upload.
pub async fn upload(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    items: &[Item],
    t: Tuning,
    how: &Sending,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Report {
    progress.plan(items);
    let n = t.concurrency.max(1);
    let job = Arc::new(Up {
        store,
        bucket: bucket.to_string(),
        t,
        how: how.clone(),
        progress,
        stop: cancel.child_token(),
        slots: Semaphore::new(n),
    });
    let mut report = Report::default();
    let mut files = futures::stream::iter(items.iter().cloned())
        .map(|it| {
            let job = job.clone();
            async move {
                let r = job.send(&it).await;
                (it, r)
            }
        })
        .buffer_unordered(n);
    while let Some((it, r)) = files.next().await {
        match r {
            Ok((sent, resumed)) => {
                report.done += 1;
                job.progress.files_done.fetch_add(1, Ordering::Relaxed);
                report.sent.push(sent);
                report.resumed.extend(resumed);
            }
            Err(e) if of_one_object(&e) => report.failed.push((it.key, e)),
            Err(e) => {
                if report.stopped.is_none() && !matches!(e, StoreError::Cancelled) {
                    report.stopped = Some(e);
                }
                job.stop.cancel();
            }
        }
    }
    if report.stopped.is_none() && job.stop.is_cancelled() {
        report.stopped = Some(StoreError::Cancelled);
    }
    report
}

/// What every file of one upload shares.
struct Up {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    t: Tuning,
    how: Sending,
    progress: Arc<Progress>,
    stop: CancellationToken,
    /// One permit per request in flight (and per part buffer in memory).
    slots: Semaphore,
}

/// A journal error as a store error (it stops the upload: a resume could not be trusted).
fn book_err(e: std::io::Error) -> StoreError {
    StoreError::Io {
        context: "the sync ledger".into(),
        source: e,
    }
}

/// One part once it is in the store: its number, ETag, checksum, and whether an earlier run had
/// sent it.
struct Done {
    number: u32,
    etag: String,
    sum: Sum,
    piece: Option<checksum::Piece>,
    had: bool,
}

impl Up {
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        tokio::select! {
            p = self.slots.acquire() => p.map_err(|_| StoreError::Cancelled),
            _ = self.stop.cancelled() => Err(StoreError::Cancelled),
        }
    }

    async fn send(&self, it: &Item) -> Result<(Sent, Option<Resumed>)> {
        if self.stop.is_cancelled() {
            return Err(StoreError::Cancelled);
        }
        match self.store.as_s3() {
            Some(s3) if it.size > self.t.part_size => self.send_parts(s3, it).await,
            _ => self.send_whole(it).await.map(|s| (s, None)),
        }
    }

    /// A file in one request: read while its request slot is held (small files on the task
    /// itself: a hand-off to a blocking thread would cost more than the read).
    async fn send_whole(&self, it: &Item) -> Result<Sent> {
        let _slot = self.slot().await?;
        let data = if it.size <= 1 << 20 {
            std::fs::read(&it.path).map_err(io_err(&it.path))?
        } else {
            let p = it.path.clone();
            blocking(move || std::fs::read(&p).map_err(io_err(&p))).await?
        };
        let sum = Sum::of(self.how.algo, &data);
        let (size, data) = (data.len() as u64, Bytes::from(data));
        let stamp = retrying(&self.stop, || {
            self.store
                .put_with(&self.bucket, &it.key, data.clone(), &sum)
        })
        .await?;
        self.progress.add(size);
        Ok(Sent {
            key: it.key.clone(),
            size,
            stamp,
            checksum: Some(sum),
        })
    }

    /// A file bigger than a part, as a multipart upload (resumed when the book holds one of the
    /// same file; started afresh when the store no longer knows it).
    async fn send_parts(&self, s3: &S3Store, it: &Item) -> Result<(Sent, Option<Resumed>)> {
        let (algo, ps) = (self.how.algo, self.t.part_size);
        let earlier = match &self.how.book {
            Some(b) => b
                .find(&self.bucket, &it.key, it.size, ps, algo)
                .map_err(book_err)?,
            None => None,
        };
        let Some(id) = earlier.as_ref().map(|r| r.upload_id.clone()) else {
            return self.parts_once(s3, it, None).await;
        };
        match self.parts_once(s3, it, earlier).await {
            // the store no longer knows the upload (aborted, expired): begin again
            Err(StoreError::NotFound { .. }) => {
                if let Some(b) = &self.how.book {
                    b.ended(&id).map_err(book_err)?;
                }
                self.parts_once(s3, it, None).await
            }
            Err(StoreError::Service { code, .. }) if code == "NoSuchUpload" => {
                if let Some(b) = &self.how.book {
                    b.ended(&id).map_err(book_err)?;
                }
                self.parts_once(s3, it, None).await
            }
            r => r,
        }
    }

    async fn parts_once(
        &self,
        s3: &S3Store,
        it: &Item,
        earlier: Option<Resumable>,
    ) -> Result<(Sent, Option<Resumed>)> {
        use aws_sdk_s3::types::{ChecksumType, CompletedMultipartUpload, CompletedPart};
        let (c, bucket, key) = (s3.client(), self.bucket.as_str(), it.key.as_str());
        let (algo, ps) = (self.how.algo, self.t.part_size);
        let full_type = algo.full_object().then_some(ChecksumType::FullObject);
        let Resumable { upload_id, parts } = match earlier {
            Some(r) => r,
            None => {
                let up = retrying(&self.stop, || async {
                    c.create_multipart_upload()
                        .bucket(bucket)
                        .key(key)
                        .checksum_algorithm(sdk_algo(algo))
                        .set_checksum_type(full_type.clone())
                        .send()
                        .await
                        .map_err(|e| map_err(e, bucket, key))
                })
                .await?;
                let id = up.upload_id().unwrap_or_default().to_string();
                if let Some(b) = &self.how.book {
                    b.started(bucket, key, &id, it.size, ps, algo)
                        .map_err(book_err)?;
                }
                Resumable {
                    upload_id: id,
                    parts: BTreeMap::new(),
                }
            }
        };
        let file = {
            let p = it.path.clone();
            Arc::new(blocking(move || std::fs::File::open(&p).map_err(io_err(&p))).await?)
        };
        let n = it.size.div_ceil(ps) as u32;
        let (id, acked) = (upload_id.as_str(), &parts);
        let mut stream = futures::stream::iter(1..=n)
            .map(|k| {
                let file = file.clone();
                async move {
                    let _slot = self.slot().await?;
                    let (s, e) = ((k as u64 - 1) * ps, (k as u64 * ps).min(it.size));
                    let p = it.path.clone();
                    let buf = blocking(move || {
                        let mut b = vec![0u8; (e - s) as usize];
                        file.read_exact_at(&mut b, s).map(|_| b).map_err(io_err(&p))
                    })
                    .await?;
                    let piece = checksum::piece(algo, &buf);
                    let sum = match piece {
                        Some(p) => Sum::of_crc(algo, p),
                        None => Sum::of(algo, &buf),
                    };
                    // a part an earlier run sent counts when the file still holds the same bytes
                    if let Some((etag, _)) = acked.get(&k).filter(|(_, was)| *was == sum.value) {
                        self.progress.add(e - s);
                        return Ok(Done {
                            number: k,
                            etag: etag.clone(),
                            sum,
                            piece,
                            had: true,
                        });
                    }
                    let body = Bytes::from(buf);
                    let out = retrying(&self.stop, || async {
                        with_checksum(c.upload_part(), &sum)
                            .bucket(bucket)
                            .key(key)
                            .upload_id(id)
                            .part_number(k as i32)
                            .body(body.clone().into())
                            .send()
                            .await
                            .map_err(|e| map_err(e, bucket, key))
                    })
                    .await?;
                    let etag = out.e_tag().unwrap_or_default().to_string();
                    if let Some(b) = &self.how.book {
                        b.acked(id, k, &etag, &sum.value).map_err(book_err)?;
                    }
                    self.progress.add(e - s);
                    Ok::<_, StoreError>(Done {
                        number: k,
                        etag,
                        sum,
                        piece,
                        had: false,
                    })
                }
            })
            .buffer_unordered(self.t.concurrency.max(1));
        let mut done = Vec::with_capacity(n as usize);
        let mut failed = None;
        while let Some(r) = stream.next().await {
            match r {
                Ok(d) => done.push(d),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        drop(stream);
        if let Some(e) = failed {
            // journalled: kept for the next run to resume; otherwise nothing could use it
            if self.how.book.is_none() {
                let _ = c
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await;
            }
            return Err(e);
        }
        done.sort_by_key(|d| d.number);
        let whole = Sum::joined(algo, done.iter().filter_map(|d| d.piece));
        let had = done.iter().filter(|d| d.had).count() as u32;
        let completed: Vec<CompletedPart> = done
            .iter()
            .map(|d| {
                with_checksum(CompletedPart::builder(), &d.sum)
                    .e_tag(&d.etag)
                    .part_number(d.number as i32)
                    .build()
            })
            .collect();
        let out = retrying(&self.stop, || async {
            let mut req = c
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(completed.clone()))
                        .build(),
                );
            if let Some(w) = &whole {
                req = with_checksum(req, w).set_checksum_type(full_type.clone());
            }
            req.send().await.map_err(|e| map_err(e, bucket, key))
        })
        .await?;
        if let Some(b) = &self.how.book {
            b.ended(id).map_err(book_err)?;
        }
        Ok((
            Sent {
                key: key.to_string(),
                size: it.size,
                stamp: super::super::s3::etag(out.e_tag()),
                checksum: whole,
            },
            (had > 0).then(|| Resumed {
                key: key.to_string(),
                had,
                parts: n,
            }),
        ))
    }
}
