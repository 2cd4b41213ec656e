//! `tandem preview URI`: the Datasets preview, headless: the same readers (a CSV's dialect sniffed,
//! a .npy's header and first values, a Parquet file's schema and first rows by ranged reads) for
//! `s3://bucket/key`, `local://bucket/key` and files on this machine.

use super::{open_store, print_json, store_failure, Failure, Global};
use crate::storage::preview::{preview, Preview};
use crate::storage::{Location, ObjectStore};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// `s3://bucket/key`, `local://bucket/key`, or a file.
    uri: String,
    /// How many rows of a table.
    #[arg(long, default_value_t = 20)]
    rows: usize,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl PreviewArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let (store, bucket, key) = self.open(g).await?;
        let p = preview(store.as_ref(), &bucket, &key, self.rows)
            .await
            .map_err(store_failure)?;
        if self.json {
            print_json(&serde_json::json!({"uri": self.uri, "preview": p}));
            return Ok(());
        }
        print!("{}", text(&p));
        Ok(())
    }

    /// The store, bucket and key of the URI: a file is read through a directory store rooted
    /// two levels up (its folder is the bucket).
    async fn open(&self, g: &Global) -> Result<(Arc<dyn ObjectStore>, String, String), Failure> {
        if self.uri.starts_with("s3://") || self.uri.starts_with("local://") {
            let loc = Location::parse(&self.uri);
            let Some(bucket) = loc.bucket.clone().filter(|_| !loc.key.is_empty()) else {
                return Err(Failure::bad(format!(
                    "`{}`: expected s3://bucket/key, local://bucket/key or a file",
                    self.uri
                )));
            };
            let store = open_store(g, &loc, self.project.as_deref(), None).await?;
            return Ok((store, bucket, loc.key));
        }
        let path = std::fs::canonicalize(&self.uri)
            .map_err(|e| Failure::bad(format!("{}: {e}", self.uri)))?;
        let parts = |p: &Path| -> Option<(PathBuf, String, String)> {
            let dir = p.parent()?;
            let root = dir.parent()?;
            Some((
                root.to_path_buf(),
                dir.file_name()?.to_string_lossy().into_owned(),
                p.file_name()?.to_string_lossy().into_owned(),
            ))
        };
        let (root, bucket, key) = parts(&path)
            .ok_or_else(|| Failure::bad(format!("{}: not a file in a folder", path.display())))?;
        Ok((
            Arc::new(crate::storage::local::LocalStore::new(root)),
            bucket,
            key,
        ))
    }
}

/// A preview as text: lines as they are; a table's columns aligned, each as wide as its widest
/// cell (at most 32 characters).
fn text(p: &Preview) -> String {
    let mut out = String::new();
    match p {
        Preview::Text { lines, truncated } => {
            for l in lines {
                out.push_str(l);
                out.push('\n');
            }
            if *truncated {
                out.push_str("… (head only)\n");
            }
        }
        Preview::Binary { hex, size } => {
            out.push_str(&format!("binary, {}\n", crate::fmt::bytes(*size)));
            for h in hex {
                out.push_str(h);
                out.push('\n');
            }
        }
        Preview::Table {
            about,
            header,
            rows,
            truncated,
        } => {
            for l in about {
                out.push_str(l);
                out.push('\n');
            }
            let n = rows
                .iter()
                .map(Vec::len)
                .chain([header.len()])
                .max()
                .unwrap_or(0);
            let cut = |c: &str| -> String {
                let c = c.replace('\n', "⏎");
                if c.chars().count() > 32 {
                    c.chars().take(31).chain(['…']).collect()
                } else {
                    c
                }
            };
            let width: Vec<usize> = (0..n)
                .map(|i| {
                    rows.iter()
                        .chain([header])
                        .filter_map(|r| r.get(i))
                        .map(|c| cut(c).chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            for r in [header].into_iter().chain(rows) {
                let cells: Vec<String> = (0..n)
                    .map(|i| {
                        let c = cut(r.get(i).map(String::as_str).unwrap_or(""));
                        format!("{c:<w$}", w = width[i])
                    })
                    .collect();
                out.push_str(cells.join("  ").trim_end());
                out.push('\n');
            }
            if *truncated {
                out.push_str("… (more rows)\n");
            }
        }
    }
    out
}
