//! Where a plot's files are read from: a directory on this machine, or a prefix in an object store
//! (S3). Either way a .npy is read by ranges: its head first, then only the bytes the field reader
//! needs (the header and the first 2D slice of a 3D array), never the whole object just to draw it.

use crate::project::ArrayPick;
use crate::storage::ObjectStore;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The first read of every plot file: enough for any ordinary .npy header, and all of a small file.
pub const HEAD: u64 = 64 * 1024;

/// Where a run's plot files are.
#[derive(Clone, Debug)]
pub enum Source {
    Dir(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        bucket: String,
        /// Ends in `/` (or is empty).
        prefix: String,
    },
}

/// What reading a plot file took: the bytes read, and whether only part of the file was asked
/// for (a .npy: its header and the values drawn).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReadStats {
    pub bytes: u64,
    pub ranged: bool,
}

/// A file's bytes as read: for a .npy, only its header and the values the reader uses.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// Whether only the part of the file that is drawn was asked for (a .npy larger than the
    /// first read: its header and the values used), not all of it.
    pub ranged: bool,
    /// Of a .npy: how many bytes of values right after the header were not fetched (the slices
    /// before the one drawn); `bytes` holds the header, then what follows them.
    pub skipped: u64,
}

impl Source {
    /// An object store prefix (`bucket/prefix`, as the journal keeps a phase's output).
    pub fn store(store: Arc<dyn ObjectStore>, location: &str) -> Option<Source> {
        let (bucket, prefix) = crate::storage::split_location(location);
        let prefix = prefix.trim_end_matches('/');
        Some(Source::Store {
            store,
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
        .filter(|_| !bucket.is_empty())
    }

    /// How a file of this source is named in messages: its path, or `s3://bucket/key`.
    pub fn name(&self, file: &str) -> String {
        match self {
            Source::Dir(d) => d.join(file).display().to_string(),
            Source::Store {
                store,
                bucket,
                prefix,
            } => {
                let scheme = if store.as_s3().is_some() {
                    "s3"
                } else {
                    "local"
                };
                format!("{scheme}://{bucket}/{prefix}{file}")
            }
        }
    }

    /// The files matching `pattern` (a path relative to the source, may hold a glob), relative to
    /// it and sorted (snapshots in order).
    pub async fn files(&self, pattern: &str) -> Result<Vec<String>, String> {
        match self {
            Source::Dir(dir) => {
                let (dir, pattern) = (dir.clone(), pattern.to_string());
                tokio::task::spawn_blocking(move || dir_files(&dir, &pattern))
                    .await
                    .map_err(|e| e.to_string())?
            }
            Source::Store {
                store,
                bucket,
                prefix,
            } => {
                let glob = glob::Pattern::new(pattern).map_err(|e| format!("{pattern}: {e}"))?;
                let opts = glob::MatchOptions {
                    require_literal_separator: true,
                    ..Default::default()
                };
                // list only below the pattern's fixed leading folders
                let fixed = match pattern.find(['*', '?', '[']) {
                    Some(i) => pattern[..i].rfind('/').map_or("", |j| &pattern[..=j]),
                    None => pattern,
                };
                let objects =
                    crate::storage::list_all(store.as_ref(), bucket, &format!("{prefix}{fixed}"))
                        .await
                        .map_err(|e| e.to_string())?;
                let mut v: Vec<String> = objects
                    .into_iter()
                    .filter_map(|o| o.key.strip_prefix(prefix.as_str()).map(str::to_string))
                    .filter(|k| glob.matches_with(k, opts))
                    .collect();
                v.sort();
                Ok(v)
            }
        }
    }

    /// A plot file's bytes: a .npy by ranges (what the first 2-D slice needs), anything else
    /// whole.
    pub async fn read(&self, file: &str) -> Result<Fetched, String> {
        self.read_for(file, &ArrayPick::default()).await
    }

    /// A plot file's bytes: of a .npy the header and the values `pick` uses (see
    /// [`Header::needed_for`](super::npy::Header::needed_for)), anything else whole.
    pub async fn read_for(&self, file: &str, pick: &ArrayPick) -> Result<Fetched, String> {
        let name = self.name(file);
        let r = match self {
            Source::Dir(dir) => {
                let path = dir.join(file);
                fetch(pick, |range| {
                    let path = path.clone();
                    async move {
                        tokio::task::spawn_blocking(move || read_range(&path, range))
                            .await
                            .map_err(|e| e.to_string())?
                            .map_err(|e| e.to_string())
                    }
                })
                .await
            }
            Source::Store {
                store,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{file}");
                fetch(pick, |range| {
                    let (store, bucket, key) = (store.clone(), bucket.clone(), key.clone());
                    async move {
                        store
                            .get_range(&bucket, &key, range)
                            .await
                            .map_err(|e| e.to_string())
                    }
                })
                .await
            }
        };
        r.map_err(|e| format!("{}: {e}", crate::observe::sanitize(&name)))
    }
}

impl Source {
    /// The bytes of a file from `start` to its end (nothing when it is shorter): what was
    /// appended since an earlier read.
    pub async fn read_from(&self, file: &str, start: u64) -> Result<Vec<u8>, String> {
        let name = self.name(file);
        let r = match self {
            Source::Dir(dir) => {
                let path = dir.join(file);
                tokio::task::spawn_blocking(move || read_range(&path, start..u64::MAX))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())
            }
            Source::Store {
                store,
                bucket,
                prefix,
            } => store
                .get_range(bucket, &format!("{prefix}{file}"), start..u64::MAX)
                .await
                .map_err(|e| e.to_string()),
        };
        r.map_err(|e| format!("{}: {e}", crate::observe::sanitize(&name)))
    }
}

fn dir_files(dir: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let full = dir.join(pattern);
    let paths = glob::glob(&full.to_string_lossy()).map_err(|e| format!("{pattern}: {e}"))?;
    let mut v: Vec<String> = paths
        .flatten()
        .filter(|f| f.is_file())
        .filter_map(|f| {
            f.strip_prefix(dir)
                .ok()
                .map(|r| r.to_string_lossy().into_owned())
        })
        .collect();
    v.sort();
    Ok(v)
}

fn read_range(path: &Path, range: Range<u64>) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(range.start))?;
    let mut buf = Vec::new();
    f.take(range.end.saturating_sub(range.start))
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// The head, then what a .npy's reader needs of the rest for `pick` (or all the rest of
/// anything else).
async fn fetch<F, Fut>(pick: &ArrayPick, get: F) -> Result<Fetched, String>
where
    F: Fn(Range<u64>) -> Fut,
    Fut: Future<Output = Result<Vec<u8>, String>>,
{
    let mut bytes = get(0..HEAD).await?;
    if (bytes.len() as u64) < HEAD {
        return Ok(Fetched {
            bytes,
            ranged: false,
            skipped: 0,
        });
    }
    let Some((header, need)) = super::npy::Header::parse(&bytes)
        .ok()
        .and_then(|h| Some((h.data_offset, h.needed_for(pick)?)))
    else {
        let rest = get(HEAD..u64::MAX).await?;
        bytes.extend_from_slice(&rest);
        return Ok(Fetched {
            bytes,
            ranged: false,
            skipped: 0,
        });
    };
    let have = bytes.len() as u64;
    // the values before the slice drawn are left out when they are not in the head already
    let skipped = if need.start > have {
        bytes.truncate(header as usize);
        need.start - header
    } else {
        0
    };
    let from = header + skipped;
    let have = from.max(bytes.len() as u64);
    if need.end > have {
        let rest = get(have..need.end).await?;
        bytes.extend_from_slice(&rest);
    } else {
        bytes.truncate((need.end - skipped) as usize);
    }
    Ok(Fetched {
        bytes,
        ranged: true,
        skipped,
    })
}

/// How many bytes from the start of a .npy the field reader uses for its first 2-D slice: the
/// header and the values up to the slice's last. `None` when `head` is not a .npy or does not
/// hold all of its header.
pub fn npy_needed(head: &[u8]) -> Option<u64> {
    super::npy::Header::parse(head).ok()?.needed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `values` is the shape's product: every value is written.
    fn npy(shape: &[u64], fortran: bool, values: usize) -> Vec<u8> {
        assert_eq!(values as u64, shape.iter().product::<u64>());
        crate::plot::npy::counting(shape, fortran)
    }

    #[test]
    fn needed_bytes_of_a_npy() {
        let a = npy(&[3, 100, 200], false, 3 * 100 * 200);
        let header = a.len() - 3 * 100 * 200 * 8;
        assert_eq!(npy_needed(&a), Some((header + 100 * 200 * 8) as u64));
        let f = npy(&[3, 10, 20], true, 600);
        // interleaved: up to the first slice's last value (the other two slices' last values left)
        assert_eq!(npy_needed(&f), Some(f.len() as u64 - 2 * 8));
        let two = npy(&[50, 40], false, 2000);
        assert_eq!(npy_needed(&two), Some(two.len() as u64));
        assert_eq!(npy_needed(b"a,b\n1,2\n"), None);
        assert_eq!(npy_needed(&a[..9]), None);
    }

    #[tokio::test]
    async fn a_3d_npy_is_read_by_ranges_from_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = npy(&[4, 100, 200], false, 4 * 100 * 200);
        std::fs::create_dir(dir.path().join("snap")).unwrap();
        std::fs::write(dir.path().join("snap/f_001.npy"), &a).unwrap();
        std::fs::write(dir.path().join("snap/f_000.npy"), b"x").unwrap();
        std::fs::write(dir.path().join("series.csv"), b"t,v\n0,1\n").unwrap();
        let src = Source::Dir(dir.path().to_path_buf());
        assert_eq!(
            src.files("snap/*.npy").await.unwrap(),
            ["snap/f_000.npy", "snap/f_001.npy"]
        );
        let got = src.read("snap/f_001.npy").await.unwrap();
        assert!(got.ranged);
        assert_eq!(got.bytes.len() as u64, npy_needed(&a).unwrap());
        let field = crate::plot::read::parse_field(Path::new("f"), &got.bytes).unwrap();
        assert_eq!((field.rows, field.cols), (100, 200));
        assert_eq!(field.data[199], 199.0);
        let csv = src.read("series.csv").await.unwrap();
        assert!(!csv.ranged);
        assert_eq!(csv.bytes, b"t,v\n0,1\n");
        let err = src.read("nope.npy").await.unwrap_err();
        assert!(err.contains("nope.npy"), "{err}");
    }

    #[tokio::test]
    async fn a_store_prefix_lists_by_glob_below_its_fixed_folders() {
        let root = tempfile::tempdir().unwrap();
        let store = Arc::new(crate::storage::local::LocalStore::new(
            root.path().to_path_buf(),
        ));
        std::fs::create_dir_all(root.path().join("b")).unwrap();
        for k in [
            "runs/r1/solve/snapshots/field_0002.npy",
            "runs/r1/solve/snapshots/field_0001.npy",
            "runs/r1/solve/snapshots/deeper/x.npy",
            "runs/r1/solve/series.csv",
            "runs/r2/solve/snapshots/field_0001.npy",
        ] {
            store.put("b", k, b"1,2\n".to_vec()).await.unwrap();
        }
        let src = Source::store(store, "b/runs/r1/solve/").unwrap();
        assert_eq!(
            src.files("snapshots/*.npy").await.unwrap(),
            ["snapshots/field_0001.npy", "snapshots/field_0002.npy"]
        );
        assert_eq!(src.files("series.csv").await.unwrap(), ["series.csv"]);
        assert_eq!(src.name("series.csv"), "local://b/runs/r1/solve/series.csv");
        assert_eq!(src.read("series.csv").await.unwrap().bytes, b"1,2\n");
    }
}
