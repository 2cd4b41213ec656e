//! Uploads: files that fit in a part go up in one request, bigger ones as multipart uploads with
//! `concurrency` parts in flight (aborted on failure or cancel).

use super::super::{ObjectStore, Result, StoreError};
use super::{Item, Progress, Tuning};
use futures::{StreamExt, TryStreamExt};
use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

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
    s3: &super::super::s3::S3Store,
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
        .map_err(|e| super::super::s3::map_err(e, bucket, &it.key))?;
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
                    .map_err(|e| super::super::s3::map_err(e, bucket, &it.key))?;
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
                .map_err(|e| super::super::s3::map_err(e, bucket, &it.key))?;
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
