//! The embedded object store: a directory whose top-level folders are buckets and whose paths are keys.

use super::*;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const TMP_MARK: &str = ".tandem-tmp-";

#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| match source.kind() {
        std::io::ErrorKind::PermissionDenied => StoreError::Denied(context),
        _ => StoreError::Io { context, source },
    }
}

fn meta_of(key: String, md: &fs::Metadata) -> ObjectMeta {
    ObjectMeta {
        key,
        size: md.len(),
        modified: md.modified().ok().map(DateTime::<Utc>::from),
        etag: None,
        storage_class: None,
    }
}

impl LocalStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn bucket_dir(&self, bucket: &str) -> Result<PathBuf> {
        if bucket.is_empty() || bucket.contains('/') || bucket == "." || bucket == ".." {
            return Err(StoreError::NoBucket(bucket.to_string()));
        }
        let d = self.root.join(bucket);
        if !d.is_dir() {
            return Err(StoreError::NoBucket(bucket.to_string()));
        }
        Ok(d)
    }

    /// Path of `key` in `bucket`, after refusing hostile keys. The bucket need not exist.
    pub fn path_of(&self, bucket: &str, key: &str) -> Result<PathBuf> {
        check_key(key)?;
        if bucket.is_empty() || bucket.contains('/') || bucket.starts_with('.') {
            return Err(StoreError::NoBucket(bucket.to_string()));
        }
        Ok(self.root.join(bucket).join(key))
    }

    fn list_sync(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
        max: usize,
    ) -> Result<ListPage> {
        let bdir = self.bucket_dir(bucket)?;
        // the directory part of the prefix, and what names in it must start with
        let (dir_part, name_prefix) = match prefix.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        check_key(dir_part)?;
        let start = bdir.join(dir_part);
        let mut entries: Vec<Entry> = Vec::new();
        if start.is_dir() {
            if delimiter {
                for de in
                    fs::read_dir(&start).map_err(io(format!("listing {}", start.display())))?
                {
                    let de = de.map_err(io("listing"))?;
                    let name = de.file_name().to_string_lossy().into_owned();
                    if !name.starts_with(name_prefix) || name.starts_with(TMP_MARK) {
                        continue;
                    }
                    let ft = de.file_type().map_err(io("listing"))?;
                    if ft.is_dir() {
                        entries.push(Entry::Prefix {
                            prefix: format!("{dir_part}{name}/"),
                        });
                    } else if let Ok(md) = de.metadata() {
                        entries.push(Entry::Object(meta_of(format!("{dir_part}{name}"), &md)));
                    }
                }
            } else {
                walk(&start, dir_part, &mut |key, md| {
                    if key.starts_with(prefix) {
                        entries.push(Entry::Object(meta_of(key, md)));
                    }
                })?;
            }
        }
        entries.sort_by(|a, b| a.key().cmp(b.key()));
        if let Some(t) = token {
            let cut = entries.partition_point(|e| e.key() <= t.as_str());
            entries.drain(..cut);
        }
        let next = if entries.len() > max {
            entries.truncate(max);
            entries.last().map(|e| e.key().to_string())
        } else {
            None
        };
        Ok(ListPage { entries, next })
    }
}

fn walk(dir: &Path, key_prefix: &str, f: &mut dyn FnMut(String, &fs::Metadata)) -> Result<()> {
    let rd = fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))?;
    for de in rd {
        let de = de.map_err(io("listing"))?;
        let name = de.file_name().to_string_lossy().into_owned();
        if name.starts_with(TMP_MARK) {
            continue;
        }
        let ft = de.file_type().map_err(io("listing"))?;
        let key = format!("{key_prefix}{name}");
        if ft.is_dir() {
            walk(&de.path(), &format!("{key}/"), f)?;
        } else if let Ok(md) = de.metadata() {
            f(key, &md);
        }
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(StoreError::Io {
            context: "store worker".into(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// Write `data` to `path` atomically (temp file in the same directory, then rename).
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!("{TMP_MARK}{}-{name}", std::process::id()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
    }
    fs::rename(&tmp, path)
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("local:{}", self.root.display())
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let root = self.root.clone();
        blocking(move || {
            let mut out = Vec::new();
            let rd = match fs::read_dir(&root) {
                Ok(rd) => rd,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(io(format!("listing {}", root.display()))(e)),
            };
            for de in rd.flatten() {
                if de.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    let name = de.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') {
                        continue;
                    }
                    let created = de
                        .metadata()
                        .ok()
                        .and_then(|m| m.modified().ok())
                        .map(DateTime::<Utc>::from);
                    out.push(BucketInfo { name, created });
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
        .await
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
        max_keys: usize,
    ) -> Result<ListPage> {
        let me = self.clone();
        let (bucket, prefix) = (bucket.to_string(), prefix.to_string());
        blocking(move || me.list_sync(&bucket, &prefix, delimiter, token, max_keys.max(1))).await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        self.bucket_dir(bucket)?;
        let p = self.path_of(bucket, key)?;
        let key = key.to_string();
        let bucket = bucket.to_string();
        blocking(move || match fs::metadata(&p) {
            Ok(md) if md.is_file() => Ok(meta_of(key, &md)),
            Ok(_) => Err(StoreError::NotFound { bucket, key }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StoreError::NotFound { bucket, key })
            }
            Err(e) => Err(io(format!("reading {}", p.display()))(e)),
        })
        .await
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
        self.bucket_dir(bucket)?;
        let p = self.path_of(bucket, key)?;
        let (bucket, key) = (bucket.to_string(), key.to_string());
        blocking(move || {
            let mut f = match fs::File::open(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::NotFound { bucket, key })
                }
                Err(e) => return Err(io(format!("reading {}", p.display()))(e)),
            };
            f.seek(SeekFrom::Start(range.start)).map_err(io("seek"))?;
            // clamped to the file: an open-ended range must not reserve memory it never reads
            let size = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
            let len = range.end.min(size).saturating_sub(range.start);
            let mut buf = Vec::with_capacity(len.min(64 << 20) as usize);
            f.take(len)
                .read_to_end(&mut buf)
                .map_err(io(format!("reading {}", p.display())))?;
            Ok(buf)
        })
        .await
    }

    async fn put(&self, bucket: &str, key: &str, data: Vec<u8>) -> Result<()> {
        let p = self.path_of(bucket, key)?;
        if key.is_empty() || key.ends_with('/') {
            return Err(StoreError::BadKey {
                key: key.to_string(),
                why: "an object key cannot be empty or end with `/`",
            });
        }
        blocking(move || write_atomic(&p, &data).map_err(io(format!("writing {}", p.display()))))
            .await
    }

    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<Vec<(String, StoreError)>> {
        self.bucket_dir(bucket)?;
        let paths: Vec<(String, Result<PathBuf>)> = keys
            .iter()
            .map(|k| (k.clone(), self.path_of(bucket, k)))
            .collect();
        blocking(move || {
            let mut failed = Vec::new();
            for (k, p) in paths {
                let r = p.and_then(|p| match fs::remove_file(&p) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(io(format!("deleting {}", p.display()))(e))
                    }
                    _ => Ok(()),
                });
                if let Err(e) = r {
                    failed.push((k, e));
                }
            }
            Ok(failed)
        })
        .await
    }

    fn local_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        self.path_of(bucket, key).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn seeded() -> (tempfile::TempDir, LocalStore) {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("lake")).unwrap();
        let s = LocalStore::new(d.path());
        for k in ["a/1.csv", "a/2.csv", "a/sub/3.csv", "b.txt", "a-b/x"] {
            s.put("lake", k, k.as_bytes().to_vec()).await.unwrap();
        }
        (d, s)
    }

    #[tokio::test]
    async fn delimiter_listing_rolls_up_prefixes() {
        let (_d, s) = seeded().await;
        let p = s.list_page("lake", "", true, None, 100).await.unwrap();
        let keys: Vec<_> = p.entries.iter().map(|e| e.key().to_string()).collect();
        assert_eq!(keys, ["a-b/", "a/", "b.txt"]);
        let p = s.list_page("lake", "a/", true, None, 100).await.unwrap();
        let keys: Vec<_> = p.entries.iter().map(|e| e.key().to_string()).collect();
        assert_eq!(keys, ["a/1.csv", "a/2.csv", "a/sub/"]);
    }

    #[tokio::test]
    async fn recursive_listing_pages_in_key_order() {
        let (_d, s) = seeded().await;
        let p1 = s.list_page("lake", "a", false, None, 2).await.unwrap();
        assert_eq!(p1.entries.len(), 2);
        let p2 = s
            .list_page("lake", "a", false, p1.next.clone(), 2)
            .await
            .unwrap();
        assert!(p2.next.is_none());
        let keys: Vec<_> = p1
            .entries
            .iter()
            .chain(&p2.entries)
            .map(|e| e.key().to_string())
            .collect();
        assert_eq!(keys, ["a-b/x", "a/1.csv", "a/2.csv", "a/sub/3.csv"]);
    }

    #[tokio::test]
    async fn ranges_and_missing() {
        let (_d, s) = seeded().await;
        assert_eq!(s.get_range("lake", "b.txt", 1..3).await.unwrap(), b".t");
        assert_eq!(s.get_range("lake", "b.txt", 3..100).await.unwrap(), b"xt");
        assert!(matches!(
            s.head("lake", "nope").await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.list_page("nobucket", "", true, None, 10).await,
            Err(StoreError::NoBucket(_))
        ));
        assert!(matches!(
            s.put("lake", "../escape", vec![]).await,
            Err(StoreError::BadKey { .. })
        ));
    }
}
