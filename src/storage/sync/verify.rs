//! `tandem verify`: a local directory and a store prefix compared without copying. Every key on
//! either side is checked: present on both, the same size, the same bytes — by the checksum stored
//! with the object when it has one (computed over the local file), else by its ETag where that is
//! the MD5 of the bytes, else by reading the object and comparing (each result says which). A
//! sync's own folder (`_tandem/`) is left out on both sides.

use super::super::blocking;
use super::super::compare::same;
use super::super::{ObjectStore, Result};
use futures::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    let prefix = super::Spec::folder(prefix);
    let local = {
        let (dir, key) = (dir.to_path_buf(), prefix.clone());
        blocking(move || super::local_files(&dir, &key)).await?
    };
    let mut remote: BTreeMap<String, super::super::ObjectMeta> =
        super::remote_objects(store.as_ref(), bucket, &prefix)
            .await?
            .into_iter()
            .map(|o| (o.key.clone(), o))
            .collect();
    let mut local: Vec<(String, (PathBuf, u64))> = local.into_iter().collect();
    local.sort();
    let mut out = Verified::default();
    let mut both = Vec::new();
    for (key, (path, size)) in local {
        match remote.remove(&key) {
            None => out.mismatches.push(Mismatch {
                key,
                problem: Problem::MissingInStore,
            }),
            Some(o) if o.size != size => out.mismatches.push(Mismatch {
                key,
                problem: Problem::Size {
                    local: size,
                    store: o.size,
                },
            }),
            Some(o) => both.push((path, o)),
        }
    }
    out.mismatches
        .extend(remote.into_keys().map(|key| Mismatch {
            key,
            problem: Problem::MissingLocally,
        }));
    let bucket = bucket.to_string();
    let mut checks = futures::stream::iter(both)
        .map(|(path, o)| {
            let (store, bucket) = (store.clone(), bucket.clone());
            async move {
                let r = same(store.as_ref(), &bucket, &path, &o, None, None).await;
                (o.key, r)
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
