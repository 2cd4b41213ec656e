//! `tandem cp SRC DST`: objects or prefixes between a store (`s3://b/k`, `local://b/k`) and local
//! files: concurrent ranged GETs and multipart uploads, progress on a terminal, Ctrl-C stops.

use super::{is_store_uri, open_store, print_json, store_failure, Failure, Global};
use crate::storage::Location;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct CpArgs {
    src: String,
    dst: String,
    #[arg(long, short)]
    recursive: bool,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
    /// Multipart part size in MiB.
    #[arg(long, default_value_t = 8)]
    part_size_mb: u64,
    /// Parts (or files) in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl CpArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let t = crate::storage::transfer::Tuning {
            part_size: self.part_size_mb.max(5) << 20,
            concurrency: self.concurrency.max(1),
        };
        copy(
            g,
            &self.src,
            &self.dst,
            self.recursive,
            self.force,
            t,
            self.project.as_deref(),
            self.json,
        )
        .await
    }
}

/// What a copy did: objects moved, keys refused by the plan, objects that failed on their own,
/// what stopped it, and the partial files kept for a resume.
#[derive(Default)]
struct Outcome {
    files: usize,
    refused: Vec<crate::storage::transfer::Refused>,
    failed: Vec<(String, String)>,
    stopped: Option<crate::storage::StoreError>,
    kept: Vec<PathBuf>,
}

impl Outcome {
    fn of(r: crate::storage::transfer::Report) -> Outcome {
        Outcome {
            files: r.done,
            failed: r
                .failed
                .into_iter()
                .map(|(k, e)| (k, e.to_string()))
                .collect(),
            stopped: r.stopped,
            kept: r.kept,
            ..Outcome::default()
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn copy(
    g: &Global,
    src: &str,
    dst: &str,
    recursive: bool,
    force: bool,
    t: crate::storage::transfer::Tuning,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    use crate::storage::transfer::{download, plan_download, plan_upload, upload, Progress};
    let progress = Arc::new(Progress::default());
    let cancel = super::cancel_on_ctrl_c();
    let t0 = std::time::Instant::now();
    let ticker = tokio::spawn(super::show_progress(
        progress.clone(),
        if json {
            super::Ticker::Quiet
        } else {
            super::Ticker::Terminal
        },
    ));
    let out = match (is_store_uri(src), is_store_uri(dst)) {
        (true, false) => {
            let loc = Location::parse(src);
            let bucket = loc
                .bucket
                .clone()
                .ok_or_else(|| Failure::bad(format!("`{src}`: no bucket")))?;
            let store = open_store(g, &loc, project, None).await?;
            let plan = plan_download(
                store.as_ref(),
                &bucket,
                &loc.key,
                Path::new(dst),
                recursive,
                force,
            )
            .await
            .map_err(store_failure)?;
            let report = download(store, &bucket, &plan.items, t, progress.clone(), cancel).await;
            Outcome {
                refused: plan.refused,
                ..Outcome::of(report)
            }
        }
        (false, true) => {
            let loc = Location::parse(dst);
            let bucket = loc
                .bucket
                .clone()
                .ok_or_else(|| Failure::bad(format!("`{dst}`: no bucket")))?;
            let store = open_store(g, &loc, project, None).await?;
            let items = plan_upload(Path::new(src), &loc.key, recursive).map_err(store_failure)?;
            let how = crate::storage::transfer::Sending::default();
            Outcome::of(upload(store, &bucket, &items, t, &how, progress.clone(), cancel).await)
        }
        _ => return Err(Failure::bad(
            "cp copies between a store (s3://bucket/key or local://bucket/key) and a local path",
        )),
    };
    ticker.abort();
    let (done, _) = progress.snapshot();
    let secs = t0.elapsed().as_secs_f64();
    let clean = |s: &str| crate::observe::sanitize(s).into_owned();
    if json {
        print_json(&serde_json::json!({
            "files": out.files,
            "bytes": done,
            "seconds": secs,
            "mib_per_s": done as f64 / 1048576.0 / secs.max(1e-9),
            "refused": out.refused,
            "failed": out.failed.iter().map(|(k, e)| serde_json::json!({"key": k, "error": e})).collect::<Vec<_>>(),
            "stopped": out.stopped.as_ref().map(|e| e.to_string()),
            "kept": out.kept,
        }));
    } else {
        super::clear_progress();
        for r in &out.refused {
            note!("refused `{}`: {}", clean(&r.key), r.why);
        }
        for (k, e) in &out.failed {
            note!("failed `{}`: {}", clean(k), clean(e));
        }
        note!(
            "{} file(s), {} in {secs:.1}s ({}/s)",
            out.files,
            crate::fmt::bytes(done),
            crate::fmt::bytes((done as f64 / secs.max(1e-9)) as u64)
        );
        if !out.kept.is_empty() {
            note!(
                "{} partial file(s) kept; the same command started again resumes them:",
                out.kept.len()
            );
            for k in out.kept.iter().take(10) {
                note!("  {}", clean(&k.display().to_string()));
            }
        }
    }
    if let Some(e) = out.stopped {
        return Err(store_failure(e));
    }
    match (out.refused.len(), out.failed.len()) {
        (0, 0) => Ok(()),
        (r, f) => Err(Failure::failed(format!(
            "{} of {} object(s) not copied: {r} refused, {f} failed",
            r + f,
            r + f + out.files
        ))),
    }
}
