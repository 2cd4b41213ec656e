//! `tandem verify SRC DST`: a local directory and a store prefix (either order) compared by
//! checksums without copying; every mismatch or missing object listed, exit 1 if there is one.

use super::{is_store_uri, open_store, print_json, store_failure, Failure, Global};
use crate::storage::Location;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    src: String,
    dst: String,
    /// Objects compared at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl VerifyArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        use crate::storage::sync::{verify, Problem};
        let (uri, dir) = match (is_store_uri(&self.src), is_store_uri(&self.dst)) {
            (true, false) => (&self.src, &self.dst),
            (false, true) => (&self.dst, &self.src),
            _ => {
                return Err(Failure::bad(
                    "verify compares a store prefix (s3://bucket/prefix or local://bucket/prefix) with a local directory",
                ))
            }
        };
        let loc = Location::parse(uri);
        let bucket = loc
            .bucket
            .clone()
            .ok_or_else(|| Failure::bad(format!("`{uri}`: no bucket")))?;
        if !Path::new(dir).is_dir() {
            return Err(Failure::bad(format!("`{dir}` is not a directory")));
        }
        let store = open_store(g, &loc, self.project.as_deref(), None).await?;
        let v = verify(store, &bucket, &loc.key, Path::new(dir), self.concurrency)
            .await
            .map_err(store_failure)?;
        if self.json {
            print_json(&v);
        } else {
            let clean = |s: &str| crate::observe::sanitize(s).into_owned();
            for m in &v.mismatches {
                let what = match &m.problem {
                    Problem::MissingInStore => format!("missing in {}", clean(uri)),
                    Problem::MissingLocally => format!("missing in {}", clean(dir)),
                    Problem::Size { local, store } => {
                        format!("size differs: {local} bytes here, {store} in the store")
                    }
                    Problem::Content { compared } => format!("content differs ({compared})"),
                };
                emit!("{what}: {}", clean(&m.key));
            }
            let by: Vec<String> = v.by.iter().map(|(k, n)| format!("{n} by {k}")).collect();
            note!(
                "{} object(s) compared{}; {} mismatch(es)",
                v.compared,
                if by.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by.join(", "))
                },
                v.mismatches.len()
            );
        }
        if v.mismatches.is_empty() {
            Ok(())
        } else {
            Err(Failure::failed(format!(
                "{} mismatch(es) between {} and {}",
                v.mismatches.len(),
                crate::observe::sanitize(uri),
                crate::observe::sanitize(dir)
            )))
        }
    }
}
