//! `tandem verify`: a local directory and a store prefix compared without copying. Every key on
//! either side is checked: present on both, the same size, the same bytes — by the checksum stored
//! with the object when it has one (computed over the local file), else by its ETag where that is
//! the MD5 of the bytes, else by reading the object and comparing (each result says which).

use super::super::checksum::{self, Algo};
use super::super::{list_all, ObjectStore, Result};
use super::{blocking, io_err};
use futures::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How one object's bytes were compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The checksum stored with the object.
    Checksum(Algo),
    /// The ETag, a plain MD5.
    Etag,
    /// The object read and compared byte for byte (no stored checksum, a multipart ETag).
    FullRead,
}

impl Compared {
    pub fn label(self) -> String {
        match self {
            Compared::Checksum(a) => a.name().to_string(),
            Compared::Etag => "etag (md5)".into(),
            Compared::FullRead => "full read".into(),
        }
    }
}

/// What is wrong with one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// In the directory, not in the store.
    MissingInStore,
    /// In the store, not in the directory.
    MissingLocally,
    Size {
        local: u64,
        store: u64,
    },
    Content {
        compared: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    pub key: String,
    #[serde(flatten)]
    pub problem: Problem,
}

#[derive(Debug, Default, Serialize)]
pub struct Verified {
    /// Keys whose bytes were compared.
    pub compared: usize,
    /// How many were compared each way.
    pub by: BTreeMap<String, usize>,
    pub mismatches: Vec<Mismatch>,
}

/// Compare directory `dir` with everything under `prefix` in `bucket`, `concurrency` objects at
/// a time.
pub async fn verify(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    prefix: &str,
    dir: &Path,
    concurrency: usize,
) -> Result<Verified> {
    let prefix = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        format!("{prefix}/")
    };
    let local = {
        let (dir, key) = (dir.to_path_buf(), prefix.clone());
        blocking(move || super::plan_upload(&dir, &key, true)).await?
    };
    let remote = list_all(store.as_ref(), bucket, &prefix).await?;
    let mut remote: BTreeMap<String, super::super::ObjectMeta> = remote
        .into_iter()
        .filter(|o| !(o.key.ends_with('/') && o.size == 0))
        .map(|o| (o.key.clone(), o))
        .collect();
    let mut out = Verified::default();
    let mut both = Vec::new();
    for it in local {
        match remote.remove(&it.key) {
            None => out.mismatches.push(Mismatch {
                key: it.key,
                problem: Problem::MissingInStore,
            }),
            Some(o) if o.size != it.size => out.mismatches.push(Mismatch {
                key: it.key,
                problem: Problem::Size {
                    local: it.size,
                    store: o.size,
                },
            }),
            Some(o) => both.push((it.key, it.path, o.etag, o.size)),
        }
    }
    out.mismatches
        .extend(remote.into_keys().map(|key| Mismatch {
            key,
            problem: Problem::MissingLocally,
        }));
    let bucket = bucket.to_string();
    let mut checks = futures::stream::iter(both)
        .map(|(key, path, etag, size)| {
            let (store, bucket) = (store.clone(), bucket.clone());
            async move {
                let r = same(store, &bucket, &key, path, etag, size).await;
                (key, r)
            }
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((key, r)) = checks.next().await {
        let (how, equal) = r?;
        out.compared += 1;
        *out.by.entry(how.label()).or_default() += 1;
        if !equal {
            out.mismatches.push(Mismatch {
                key,
                problem: Problem::Content {
                    compared: how.label(),
                },
            });
        }
    }
    out.mismatches.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Whether the object's bytes are the file's, and how that was found.
async fn same(
    store: Arc<dyn ObjectStore>,
    bucket: &str,
    key: &str,
    path: PathBuf,
    etag: Option<String>,
    size: u64,
) -> Result<(Compared, bool)> {
    if let Some(s3) = store.as_s3() {
        if let Some((algo, stored)) = s3.stored_checksum(bucket, key).await? {
            let p = path.clone();
            let mine = blocking(move || checksum::of_file(&p, algo).map_err(io_err(&p))).await?;
            return Ok((Compared::Checksum(algo), mine == stored));
        }
    }
    if let Some(e) = etag.filter(|e| checksum::etag_is_md5(e)) {
        let p = path.clone();
        let mine = blocking(move || checksum::md5_of_file(&p).map_err(io_err(&p))).await?;
        return Ok((
            Compared::Etag,
            mine.eq_ignore_ascii_case(e.trim_matches('"')),
        ));
    }
    // neither: read the object in 8 MiB ranges beside the file
    const STEP: u64 = 8 << 20;
    let file = {
        let p = path.clone();
        Arc::new(blocking(move || std::fs::File::open(&p).map_err(io_err(&p))).await?)
    };
    let mut at = 0;
    while at < size {
        let end = (at + STEP).min(size);
        let theirs = store.get_range(bucket, key, at..end).await?;
        let f = file.clone();
        let n = (end - at) as usize;
        let p = path.clone();
        let mine = blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut b = vec![0u8; n];
            f.read_exact_at(&mut b, at).map(|_| b).map_err(io_err(&p))
        })
        .await?;
        if mine != theirs {
            return Ok((Compared::FullRead, false));
        }
        at = end;
    }
    Ok((Compared::FullRead, true))
}
