//! `tandem sync SRC DST`: a local directory and a store prefix made the same, in the direction
//! given; `--dry-run` shows the plan, `--list-uploads` the multipart uploads in progress.

use super::{is_store_uri, open_store, print_json, store_failure, Failure, Global, Ticker};
use crate::storage::checksum::Algo;
use crate::storage::sync::{self, ledger::Ledger, Plan, Spec, Why};
use crate::storage::transfer::{Direction, Progress, Tuning};
use crate::storage::Location;
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// What to copy from: a directory, or a store prefix (`s3://bucket/prefix`, `local://...`).
    src: String,
    /// What to make the same: a store prefix, or a directory.
    dst: Option<String>,
    /// Remove what the source does not have from the destination.
    #[arg(long)]
    delete: bool,
    /// Show what would be copied, skipped and removed, and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// The checksum sent with every upload and compared: crc64nvme, crc32c, crc32, sha256, sha1.
    #[arg(long, default_value = "crc64nvme", value_parser = parse_algo)]
    checksum: Algo,
    /// Multipart part size in MiB.
    #[arg(long, default_value_t = 8)]
    part_size_mb: u64,
    /// Requests (parts or files) in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// List the multipart uploads in progress under the prefix SRC (marking those a sync here
    /// began), and send nothing.
    #[arg(long)]
    list_uploads: bool,
    #[arg(long)]
    project: Option<PathBuf>,
    /// JSON lines: the plan, progress every second, and the result.
    #[arg(long)]
    json: bool,
}

fn parse_algo(s: &str) -> Result<Algo, String> {
    Algo::parse(s)
        .ok_or_else(|| format!("`{s}`: not a checksum (crc64nvme, crc32c, crc32, sha256, sha1)"))
}

fn clean(s: &str) -> String {
    crate::observe::sanitize(s).into_owned()
}

impl SyncArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        if self.list_uploads {
            return self.list(g).await;
        }
        let dst = self
            .dst
            .clone()
            .ok_or_else(|| Failure::bad("sync needs a source and a destination"))?;
        let (way, uri, dir) = match (is_store_uri(&self.src), is_store_uri(&dst)) {
            (false, true) => (Direction::Up, dst.clone(), self.src.clone()),
            (true, false) => (Direction::Down, self.src.clone(), dst.clone()),
            (true, true) => {
                return Err(Failure::bad(
                    "sync between two store prefixes is not supported yet: sync one of them to a directory",
                ))
            }
            (false, false) => {
                return Err(Failure::bad(
                    "sync copies between a local directory and a store prefix (s3://bucket/prefix or local://bucket/prefix)",
                ))
            }
        };
        if way == Direction::Up && !Path::new(&dir).is_dir() {
            return Err(Failure::bad(format!(
                "`{}` is not a directory",
                clean(&dir)
            )));
        }
        let loc = Location::parse(&uri);
        let bucket = loc
            .bucket
            .clone()
            .ok_or_else(|| Failure::bad(format!("`{}`: no bucket", clean(&uri))))?;
        let store = open_store(g, &loc, self.project.as_deref(), None).await?;
        let ledger = Arc::new(
            Ledger::open(g.workspace().journal.path(), &store.describe())
                .map_err(|e| Failure::failed(format!("opening the sync ledger: {e}")))?,
        );
        let spec = Spec {
            way,
            bucket,
            prefix: Spec::folder(&loc.key),
            dir: PathBuf::from(&dir),
            delete: self.delete,
            algo: self.checksum,
            tuning: Tuning {
                part_size: self.part_size_mb.max(5) << 20,
                concurrency: self.concurrency.max(1),
            },
        };
        let t0 = std::time::Instant::now();
        let plan = sync::plan(store.clone(), &ledger, &spec)
            .await
            .map_err(store_failure)?;
        self.show_plan(&plan, t0.elapsed().as_secs_f64());
        if self.dry_run {
            return if plan.refused.is_empty() {
                Ok(())
            } else {
                Err(Failure::failed(format!(
                    "{} key(s) would be refused",
                    plan.refused.len()
                )))
            };
        }
        let progress = Arc::new(Progress::default());
        let cancel = super::cancel_on_ctrl_c();
        let ticker = tokio::spawn(super::show_progress(
            progress.clone(),
            if self.json {
                Ticker::JsonLines
            } else {
                Ticker::Terminal
            },
        ));
        let id = sync::new_id();
        let out = sync::run(
            store,
            ledger,
            &spec,
            plan,
            &id,
            (&self.src, &dst),
            progress,
            cancel,
        )
        .await;
        ticker.abort();
        super::clear_progress();
        self.show_outcome(&out, t0.elapsed().as_secs_f64());
        if let Some(e) = out.stopped {
            return Err(store_failure(e));
        }
        let m = &out.manifest;
        match (m.failed.len(), m.refused.len()) {
            (0, 0) => Ok(()),
            (f, r) => Err(Failure::failed(format!(
                "sync incomplete: {f} failed, {r} refused"
            ))),
        }
    }

    fn show_plan(&self, p: &Plan, secs: f64) {
        if self.json {
            let mut v = serde_json::json!({
                "event": "plan",
                "send": p.send.len(),
                "send_bytes": p.send_bytes(),
                "new": p.count(Why::New),
                "changed": p.count(Why::Size) + p.count(Why::Content),
                "unchanged": p.alike.len(),
                "unchanged_bytes": p.alike_bytes(),
                "remove": if self.delete { p.remove.len() } else { 0 },
                "not_removed": if self.delete { 0 } else { p.remove.len() },
                "refused": p.refused,
                "compared_by": p.compared_by,
                "stale_uploads": p.stale.len(),
                "seconds": secs,
                "dry_run": self.dry_run,
            });
            if self.dry_run {
                v["objects"] = serde_json::json!(p
                    .send
                    .iter()
                    .map(|(i, w)| serde_json::json!({"key": i.key, "size": i.size, "why": w}))
                    .collect::<Vec<_>>());
                if self.delete {
                    v["removed"] = serde_json::json!(p.remove);
                }
            }
            emit!("{v}");
            return;
        }
        if self.dry_run {
            for (i, w) in &p.send {
                let why = match w {
                    Why::New => "new",
                    Why::Size => "size differs",
                    Why::Content => "content differs",
                };
                emit!(
                    "copy    {}  ({}, {why})",
                    clean(&i.key),
                    crate::fmt::bytes(i.size)
                );
            }
            if self.delete {
                for r in &p.remove {
                    emit!("remove  {}", clean(r));
                }
            }
        }
        for r in &p.refused {
            note!("refused `{}`: {}", clean(&r.key), r.why);
        }
        let by: Vec<String> = p
            .compared_by
            .iter()
            .map(|(k, n)| format!("{n} by {k}"))
            .collect();
        note!(
            "{}{}{}{}",
            if self.dry_run { "would sync: " } else { "" },
            p.summary(self.delete),
            if by.is_empty() {
                String::new()
            } else {
                format!("; compared {}", by.join(", "))
            },
            if p.stale.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} unfinished upload(s) of changed files to abort",
                    p.stale.len()
                )
            }
        );
    }

    fn show_outcome(&self, out: &sync::Outcome, secs: f64) {
        let m = &out.manifest;
        if self.json {
            emit!(
                "{}",
                serde_json::json!({
                    "event": "done",
                    "id": m.id,
                    "state": m.state,
                    "sent": m.sent,
                    "sent_bytes": m.sent_bytes,
                    "unchanged": m.unchanged,
                    "removed": m.removed.len(),
                    "failed": m.failed,
                    "refused": m.refused,
                    "resumed": m.resumed,
                    "aborted_uploads": out.aborted,
                    "stopped": out.stopped.as_ref().map(|e| e.to_string()),
                    "manifest": out.written.as_ref().ok(),
                    "manifest_error": out.written.as_ref().err(),
                    "seconds": secs,
                })
            );
            return;
        }
        for r in &m.resumed {
            note!(
                "resumed {}: {} of {} parts already sent",
                clean(&r.key),
                r.had,
                r.parts
            );
        }
        if out.aborted > 0 {
            note!(
                "aborted {} unfinished upload(s) an earlier sync began",
                out.aborted
            );
        }
        for (k, e) in &m.failed {
            note!("failed `{}`: {}", clean(k), clean(e));
        }
        note!(
            "{} object(s) sent ({}) in {secs:.1}s, {} unchanged{}",
            m.sent,
            crate::fmt::bytes(m.sent_bytes),
            m.unchanged,
            if m.removed.is_empty() {
                String::new()
            } else {
                format!(", {} removed", m.removed.len())
            }
        );
        match &out.written {
            Ok(w) => note!("manifest: {}", clean(w)),
            Err(e) => note!("manifest not written beside the data: {}", clean(e)),
        }
        if out.stopped.is_some() {
            note!("stopped: the same command started again goes on from here");
        }
    }

    async fn list(&self, g: &Global) -> Result<(), Failure> {
        if !is_store_uri(&self.src) {
            return Err(Failure::bad(
                "--list-uploads takes a store prefix (s3://bucket/prefix)",
            ));
        }
        let loc = Location::parse(&self.src);
        let bucket = loc
            .bucket
            .clone()
            .ok_or_else(|| Failure::bad(format!("`{}`: no bucket", clean(&self.src))))?;
        let store = open_store(g, &loc, self.project.as_deref(), None).await?;
        let Some(s3) = store.as_s3() else {
            return Err(Failure::bad(
                "the local store has no multipart uploads: --list-uploads is for S3",
            ));
        };
        let ledger = Ledger::open(g.workspace().journal.path(), &store.describe())
            .map_err(|e| Failure::failed(format!("opening the sync ledger: {e}")))?;
        let all = sync::uploads(s3, &ledger, &bucket, &loc.key)
            .await
            .map_err(store_failure)?;
        if self.json {
            print_json(&all);
            return Ok(());
        }
        for u in &all {
            emit!(
                "{}  {}  {}  {}",
                clean(&u.key),
                u.initiated.as_deref().unwrap_or("-"),
                match (u.ours, u.parts) {
                    (true, Some(n)) => format!("begun by a sync here, {n} part(s) sent"),
                    _ => "not begun by a sync here".into(),
                },
                clean(&u.upload_id)
            );
        }
        note!("{} multipart upload(s) in progress", all.len());
        Ok(())
    }
}
