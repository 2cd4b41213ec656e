//! The Jobs view's Slurm: the queue of a target's cluster (also after a scancel), its partitions,
//! and one poll of a followed job's log, over the target's transport (connected once).

use super::{Backend, Msg};
use tokio_util::sync::CancellationToken;

/// What the Jobs view asks of a Slurm target.
pub(super) enum Ask {
    Queue,
    /// scancel, then the queue again.
    Cancel(String),
    Partitions,
    /// One poll of a job's log; the paths are asked of scontrol when unknown.
    Log {
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
                Ask::Log { id, paths, offsets } => {
                    let result = slurm
                        .log_poll(&id, paths, offsets, &c)
                        .await
                        .map_err(Into::into);
                    let _ = tx.send(Msg::JobLog { id, result }).await;
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
