//! The Jobs view's Slurm: the queue of a target's cluster (also after a scancel), its partitions,
//! and a followed job's log (engine::joblog: streamed where the transport can), over the target's
//! transport (connected once).

use super::{Backend, Msg};
use tokio_util::sync::CancellationToken;

/// What the Jobs view asks of a Slurm target.
pub(super) enum Ask {
    Queue,
    /// scancel, then the queue again.
    Cancel(String),
    Partitions,
    /// Follow a job's log until it ended and was read, or `stop`; the paths are asked of
    /// scontrol when unknown.
    Log {
        stop: CancellationToken,
        id: String,
        paths: Option<(String, String)>,
        offsets: (u64, u64),
    },
}

impl Backend {
    pub(super) fn ask_slurm(&mut self, target: String, ask: Ask) {
        let (Some(p), tx, conns) = (self.project.get(), self.tx.clone(), self.conns.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let cluster = match conns.slurm(&p, &target).await {
                Ok(c) => c,
                Err(e) => {
                    let _ = match ask {
                        Ask::Queue => {
                            tx.send(Msg::JobsLoaded {
                                result: Err(e),
                                api_calls: 0,
                            })
                            .await
                        }
                        Ask::Cancel(_) => tx.send(Msg::Error(e.to_string())).await,
                        Ask::Partitions => tx.send(Msg::Partitions(Err(e))).await,
                        Ask::Log { id, .. } => tx.send(Msg::JobLog { id, result: Err(e) }).await,
                    };
                    return;
                }
            };
            let slurm = cluster.slurm();
            let c = CancellationToken::new();
            match ask {
                Ask::Partitions => {
                    let r = slurm.sinfo(&c).await.map_err(Into::into);
                    let _ = tx.send(Msg::Partitions(r)).await;
                    return;
                }
                Ask::Cancel(id) => {
                    if let Err(e) = slurm.cancel(&id, &c).await {
                        let _ = tx.send(Msg::Error(e.to_string())).await;
                    }
                }
                Ask::Log {
                    id,
                    paths,
                    offsets,
                    stop,
                } => {
                    follow_job_log(&slurm, id, paths, offsets, &stop, &tx).await;
                    return;
                }
                Ask::Queue => {}
            }
            let result = slurm.queue(&c).await.map_err(Into::into);
            let _ = tx
                .send(Msg::JobsLoaded {
                    result,
                    api_calls: cluster.transport.api_calls(),
                })
                .await;
        });
    }
}

/// How often a followed job's state is asked (and, where the log cannot be streamed, its bytes).
const JOB_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Send each answer of a job log's follower until the job ended and its logs were read to the end,
/// an error, or `stop`.
async fn follow_job_log(
    slurm: &crate::engine::slurm::Slurm<'_>,
    id: String,
    paths: Option<(String, String)>,
    offsets: (u64, u64),
    stop: &CancellationToken,
    tx: &tokio::sync::mpsc::Sender<Msg>,
) {
    use crate::engine::slurm::JobLogChunk;
    let paths = match slurm.log_paths_of(&id, paths, stop).await {
        Ok(p) => p,
        Err(e) => {
            if !stop.is_cancelled() {
                let result = Err(e.into());
                let _ = tx.send(Msg::JobLog { id, result }).await;
            }
            return;
        }
    };
    let mut follow =
        crate::engine::joblog::LogFollow::new(slurm, &id, paths.clone(), offsets, JOB_LOG_EVERY);
    loop {
        let r = follow.next(stop).await;
        if stop.is_cancelled() {
            return;
        }
        let (result, end) = match r {
            Ok(p) => {
                let end = p.status.is_over() && p.stdout.is_empty() && p.stderr.is_empty();
                let chunk = JobLogChunk {
                    paths: paths.clone(),
                    reading: Some(follow.reading()),
                    status: p.status,
                    stdout: p.stdout,
                    stderr: p.stderr,
                };
                (Ok(chunk), end)
            }
            Err(e) => (Err(e.into()), true),
        };
        if tx
            .send(Msg::JobLog {
                id: id.clone(),
                result,
            })
            .await
            .is_err()
            || end
        {
            return;
        }
    }
}
