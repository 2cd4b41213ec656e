//! Object storage: one trait, implemented by a directory store now and by S3 next.
//!
//! Keys are `/`-separated strings as in S3. Listing is paged (a continuation token, at most `max_keys`
//! entries a page) so that a UI can show the first page while the rest arrive.

pub mod checksum;
pub mod compare;
pub mod csv;
pub mod local;
pub mod parquet;
pub mod preview;
pub mod s3;
pub mod sync;
pub mod transfer;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::ops::Range;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such bucket `{0}`")]
    NoBucket(String),
    #[error("no such object `{bucket}/{key}`")]
    NotFound { bucket: String, key: String },
    #[error("refused key `{key}`: {why}")]
    BadKey { key: String, why: &'static str },
    #[error("permission denied on `{0}`")]
    Denied(String),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("network: {0}")]
    Network(String),
    #[error("{code}: {message}")]
    Service { code: String, message: String },
    #[error("cancelled")]
    Cancelled,
    /// A download would replace this local file, and replacing was not allowed.
    #[error("{} exists: not overwritten (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    /// Several objects of a transfer failed; the first of them.
    #[error("{count} objects failed; the first: {first}")]
    Failed {
        count: usize,
        first: Box<StoreError>,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    /// A common prefix (a "folder"); the string ends with the delimiter.
    Prefix {
        prefix: String,
    },
    Object(ObjectMeta),
}

impl Entry {
    pub fn key(&self) -> &str {
        match self {
            Entry::Prefix { prefix } => prefix,
            Entry::Object(o) => &o.key,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub entries: Vec<Entry>,
    /// Pass back to get the next page; `None` when this was the last.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketInfo {
    pub name: String,
    pub created: Option<DateTime<Utc>>,
}

pub const PAGE: usize = 1000;

/// The first page of an interactive listing is small so that rows show at once; the rest come in
/// full pages.
pub const FIRST_PAGE: usize = 100;

/// Page size for the page after `token`.
pub fn page_size(token: &Option<String>) -> usize {
    if token.is_none() {
        FIRST_PAGE
    } else {
        PAGE
    }
}

#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// What this store is, for the header: `local:/path` or `s3 (profile, region, endpoint)`.
    fn describe(&self) -> String;
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>>;
    /// One page of keys under `prefix`, in key order. With `delimiter`, keys holding it after the
    /// prefix are rolled up into [`Entry::Prefix`].
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
        max_keys: usize,
    ) -> Result<ListPage>;
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta>;
    /// Bytes `range` of an object (clamped to its size).
    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Vec<u8>>;
    /// Bytes `range` of an object (clamped to its size) handed to `sink` piece by piece as they
    /// arrive, at their offset from `range.start`; how many bytes were given. A download writes
    /// each piece while it is in the cache instead of gathering a part first.
    async fn read_range_into(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        sink: &mut (dyn for<'a> FnMut(u64, &'a [u8]) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        let d = self.get_range(bucket, key, range).await?;
        sink(0, &d).map_err(|e| StoreError::Io {
            context: format!("{bucket}/{key}"),
            source: e,
        })?;
        Ok(d.len() as u64)
    }
    async fn put(&self, bucket: &str, key: &str, data: Vec<u8>) -> Result<()>;
    /// Put an object with its checksum, which the store checks and keeps (S3's additional
    /// checksums); the object's ETag when the store gives one.
    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        data: bytes::Bytes,
        sum: &checksum::Sum,
    ) -> Result<Option<String>> {
        let _ = sum;
        self.put(bucket, key, data.to_vec()).await.map(|()| None)
    }
    /// Delete objects (a missing one is not an error); the keys that could not be deleted, each
    /// with why.
    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<Vec<(String, StoreError)>>;
    /// Where an object lives on this machine's file system, if it does (lets the local runner hand
    /// phases plain paths).
    fn local_path(&self, bucket: &str, key: &str) -> Option<PathBuf>;
    /// The S3 client behind this store, for multipart transfers.
    fn as_s3(&self) -> Option<&s3::S3Store> {
        None
    }
}

/// Every key under `prefix`, all pages.
pub async fn list_all(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectMeta>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = store.list_page(bucket, prefix, false, token, PAGE).await?;
        out.extend(page.entries.into_iter().filter_map(|e| match e {
            Entry::Object(o) => Some(o),
            Entry::Prefix { .. } => None,
        }));
        match page.next {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

/// Every object under `prefix`, in key order, handed to `emit` a batch at a time as they arrive.
/// Sub-prefixes ("folders", such as `date=2024-01-01/` partitions) are listed concurrently, up to
/// `concurrency` at once, while the output keeps key order: the objects directly under `prefix` stream
/// page by page, and each folder's keys are emitted once that folder and every folder before it are
/// complete.
pub async fn list_tree(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
    concurrency: usize,
    mut emit: impl FnMut(Vec<ObjectMeta>),
) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let mut token = None;
    loop {
        let n = page_size(&token);
        let page = store.list_page(bucket, prefix, true, token, n).await?;
        let mut chunks = futures::stream::iter(page.entries)
            .map(|e| async move {
                match e {
                    Entry::Object(o) => Ok(vec![o]),
                    Entry::Prefix { prefix } => list_all(store, bucket, &prefix).await,
                }
            })
            .buffered(concurrency.max(1));
        let mut run = Vec::new();
        while let Some(c) = chunks.try_next().await? {
            // consecutive objects go out together, each folder as one batch
            if c.len() == 1 && run.len() < PAGE {
                run.extend(c);
                continue;
            }
            if !run.is_empty() {
                emit(std::mem::take(&mut run));
            }
            emit(c);
        }
        if !run.is_empty() {
            emit(run);
        }
        match page.next {
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

/// An I/O error on `path`, as a store error naming it.
pub(crate) fn io_err(path: &std::path::Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |e| StoreError::Io {
        context: path.display().to_string(),
        source: e,
    }
}

/// File work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Network(e.to_string()))?
}

/// A `bucket/key` location (how runs record their outputs) as its bucket and key.
pub fn split_location(loc: &str) -> (&str, &str) {
    loc.split_once('/').unwrap_or((loc, ""))
}

/// A location in a store: `s3://bucket/key`, `local://bucket/key` (the directory store), or
/// `bucket/key` (the project's store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub bucket: Option<String>,
    pub key: String,
    pub s3: bool,
}

impl Location {
    pub fn parse(s: &str) -> Location {
        let (s3, rest) = match s.strip_prefix("s3://") {
            Some(r) => (true, r),
            None => (false, s.strip_prefix("local://").unwrap_or(s)),
        };
        let rest = rest.trim_start_matches('/');
        let (bucket, key) = match rest.split_once('/') {
            _ if rest.is_empty() => (None, String::new()),
            Some((b, k)) => (Some(b.to_string()), k.to_string()),
            None => (Some(rest.to_string()), String::new()),
        };
        Location { bucket, key, s3 }
    }
}

/// Check a key before it becomes a path on disk: no absolute keys, no `.`/`..`, no empty segments.
pub fn check_key(key: &str) -> Result<()> {
    let bad = |why| {
        Err(StoreError::BadKey {
            key: key.to_string(),
            why,
        })
    };
    if key.starts_with('/') {
        return bad("absolute keys are not allowed");
    }
    if key.contains('\0') || key.contains('\\') {
        return bad("NUL and backslash are not allowed");
    }
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    if trimmed.is_empty() {
        return Ok(());
    }
    for seg in trimmed.split('/') {
        match seg {
            "" => return bad("empty path segments are not allowed"),
            "." | ".." => return bad("`.` and `..` segments are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = |b: Option<&str>, k: &str, s3| Location {
            bucket: b.map(str::to_string),
            key: k.into(),
            s3,
        };
        assert_eq!(
            Location::parse("local://lake/a/b"),
            l(Some("lake"), "a/b", false)
        );
        assert_eq!(Location::parse("lake"), l(Some("lake"), "", false));
        assert_eq!(Location::parse(""), l(None, "", false));
        assert_eq!(Location::parse("s3://b/k/"), l(Some("b"), "k/", true));
        assert_eq!(Location::parse("s3://"), l(None, "", true));
    }

    #[test]
    fn hostile_keys_are_refused() {
        for k in ["/etc/passwd", "a/../../x", "a//b", "./a", "a\\b"] {
            assert!(check_key(k).is_err(), "{k}");
        }
        for k in ["a/b", "a/b/", "dir/ünï cøde.csv", ""] {
            assert!(check_key(k).is_ok(), "{k}");
        }
    }
}
