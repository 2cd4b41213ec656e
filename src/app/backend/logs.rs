//! The Logs view's run: its logs followed through the one follower of a run's logs (its phases'
//! files by offset, and its target's CloudWatch groups, polled every 5 s while the Logs view is on
//! screen and every 30 s when it is not, until two minutes past the run's end), with
//! back-pressure; and the Metrics view's samples of a run, read from their files.

use super::{Backend, Msg};
use crate::observe::cloudwatch::TailSpec;
use crate::pipeline::follow::Follow;
use crate::project::PhaseId;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Read at most this much of a file per batch (a message of ~3k short lines, ~1k coloured
/// ones); a file that had more is read again at once, so a fast writer is followed at disk speed.
/// What is queued for the UI ([`QUEUED`] batches) is what a writer faster than the UI costs in
/// memory: with 1 MiB batches of coloured lines that was ~7 MiB.
const CHUNK: u64 = 256 << 10;
/// Batches queued for the UI before the follower waits (a writer faster than the UI costs lag,
/// not memory).
const QUEUED: usize = 4;

#[derive(Default)]
pub(super) struct Logs {
    follow: Option<JoinHandle<()>>,
}

impl Logs {
    pub fn stop(&mut self) {
        if let Some(t) = self.follow.take() {
            t.abort();
        }
    }
}

/// Each batch of a follower to the Logs view as lines of `into` (its errors once each, until they
/// change), until the follower ends or the loop is gone; with `backpressure`, a batch that left
/// more to read waits until the UI has taken most of what was sent.
pub(super) async fn forward(
    mut f: Follow,
    into: &str,
    tx: &tokio::sync::mpsc::Sender<Msg>,
    backpressure: bool,
) {
    let mut reported: Option<String> = None;
    while let Some(b) = f.next().await {
        for e in b.errors {
            let e = e.to_string();
            if reported.as_deref() != Some(e.as_str()) {
                let _ = tx.send(Msg::Error(e.clone())).await;
                reported = Some(e);
            }
        }
        if !b.lines.is_empty() || !b.live.is_empty() {
            reported = None;
            let m = Msg::LogLines {
                run_id: into.to_string(),
                lines: b.lines,
                live: b.live,
            };
            if tx.send(m).await.is_err() {
                return;
            }
        }
        if backpressure && b.behind {
            // read on only while the UI keeps up
            while tx.max_capacity() - tx.capacity() > QUEUED {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

impl Backend {
    /// Follow run `run_id`'s logs into the Logs view (the run followed before is dropped, and so
    /// are the log groups tailed from the browser into it).
    pub(super) fn follow_logs(&mut self, run_id: String) {
        self.logs.stop();
        self.cloud.stop_group_tails();
        let (ws, tx, project, cloud) = (
            self.ws.clone(),
            self.tx.clone(),
            self.project.get(),
            self.cloud.handle(&self.project, &self.aws),
        );
        let every = self.cloud.every();
        if project.as_ref().is_some_and(|p| {
            p.targets
                .values()
                .any(|t| !t.cloudwatch.log_groups.is_empty())
        }) {
            self.cloud.report_rate(&self.tx);
        }
        self.logs.follow = Some(tokio::spawn(async move {
            let (w, id) = (ws.clone(), run_id.clone());
            let run = tokio::task::spawn_blocking(move || w.journal.get(&id))
                .await
                .ok()
                .and_then(|r| r.ok().flatten());
            let parts = match &run {
                Some(r) => r.parts(&PhaseId::ALL),
                None => PhaseId::ALL.map(Into::into).to_vec(),
            };
            let mut f = Follow::run(&ws, &run_id, &parts).chunk(CHUNK);
            // the target's CloudWatch groups, from a minute before the run began
            let groups = run.as_ref().and_then(|r| {
                let t = project.as_ref()?.targets.get(&r.target)?;
                (!t.cloudwatch.log_groups.is_empty())
                    .then(|| (r.target.clone(), t.cloudwatch.log_groups.clone(), r.created))
            });
            if let Some((target, groups, created)) = groups {
                if let Some(cw) = cloud.logs(&target).await {
                    let start = created.timestamp_millis() - 60_000;
                    let specs = groups
                        .into_iter()
                        .map(|group| TailSpec {
                            group,
                            start_ms: start,
                            ..Default::default()
                        })
                        .collect();
                    f = f.with_cloud(cw, specs, every, Duration::from_secs(120));
                }
            }
            forward(f, &run_id, &tx, true).await;
        }));
    }

    /// A run's metric samples, phase by phase, from the files the local runner wrote.
    pub(super) fn load_samples(&mut self, run_id: String) {
        let (ws, tx) = (self.ws.clone(), self.tx.clone());
        tokio::spawn(async move {
            for phase in PhaseId::ALL {
                let path = ws.metrics_path(&run_id, phase);
                let samples = tokio::task::spawn_blocking(move || {
                    std::fs::read_to_string(path)
                        .map(|t| {
                            t.lines()
                                .filter_map(|l| serde_json::from_str(l).ok())
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default()
                })
                .await
                .unwrap_or_default();
                let _ = tx
                    .send(Msg::MetricsLoaded {
                        run_id: run_id.clone(),
                        phase,
                        samples,
                    })
                    .await;
            }
        });
    }
}
