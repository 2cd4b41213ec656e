//! What a transfer will move: the objects of a download (and the keys it refuses), the files of
//! an upload.

use super::super::{check_key, list_tree, ObjectStore, Result, StoreError};
use super::Item;
use serde::Serialize;
use std::path::{Path, PathBuf};

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

/// A key that a download will not write, and why (it would land outside the directory, or it
/// names a folder).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refused {
    pub key: String,
    pub why: String,
}

/// What a download will fetch, and the keys it refuses: one unsafe key does not stop the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DownloadPlan {
    pub items: Vec<Item>,
    pub refused: Vec<Refused>,
}

impl DownloadPlan {
    /// Object `o` planned to `path`, or refused with why `path` could not be had.
    fn push(&mut self, path: Result<PathBuf>, o: super::super::ObjectMeta) {
        match path {
            Ok(path) => self.items.push(Item {
                path,
                stamp: super::super::compare::stamp(&o),
                key: o.key,
                size: o.size,
            }),
            Err(StoreError::BadKey { why, .. }) => self.refused.push(Refused {
                key: o.key,
                why: why.to_string(),
            }),
            Err(e) => self.refused.push(Refused {
                key: o.key,
                why: e.to_string(),
            }),
        }
    }
}

/// Plan a download of `key` (an object, or with `recursive` every object under the prefix) into
/// directory `dest`. Keys that would land outside `dest` are refused one by one (the plan says
/// which and why); existing files are refused unless `overwrite`, before anything is fetched.
pub async fn plan_download(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    dest: &Path,
    recursive: bool,
    overwrite: bool,
) -> Result<DownloadPlan> {
    let mut plan = DownloadPlan::default();
    if recursive {
        let prefix = if key.is_empty() || key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let mut all = Vec::new();
        list_tree(store, bucket, &prefix, 16, |b| all.extend(b)).await?;
        for o in all {
            if o.key.ends_with('/') && o.size == 0 {
                continue; // folder markers
            }
            plan.push(dest_path(dest, &prefix, &o.key), o);
        }
    } else {
        let m = store.head(bucket, key).await?;
        let name = key.rsplit('/').next().unwrap_or(key);
        let m = super::super::ObjectMeta {
            key: key.to_string(),
            ..m
        };
        let path = if dest.is_dir() || dest.as_os_str().to_string_lossy().ends_with('/') {
            dest_path(dest, "", name)
        } else {
            Ok(dest.to_path_buf())
        };
        plan.push(path, m);
    }
    if !overwrite {
        if let Some(i) = plan.items.iter().find(|i| i.path.exists()) {
            return Err(StoreError::Exists(i.path.clone()));
        }
    }
    Ok(plan)
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
