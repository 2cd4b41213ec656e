//! Stopping a run's phases from outside its driver (`tandem cancel`, the TUI's `c` on a run this
//! tandem does not drive): each phase still running stopped with its own engine, by placement. A
//! run's driver, if one is alive, then sees its jobs end cancelled and records it.

use super::placement::Placement;
use super::run::Run;
use super::runner;
use crate::engine::Connections;
use crate::project::{PhaseId, Project};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

/// What was done to one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stopped {
    pub phase: PhaseId,
    /// `ray stop tandem-…`, `scancel 42`, `SIGTERM to process group 123`.
    pub action: String,
    /// Whether it worked; `detail` says why not.
    pub ok: bool,
    pub detail: Option<String>,
}

/// Stop every phase of `run` that is submitted or running, each with its own engine: Ray's stop
/// for a Ray job, scancel for a Slurm job, SIGTERM to a local phase's process group (SIGKILL
/// after its grace period). `project` supplies the targets' connections.
pub async fn cancel_run(project: &Project, run: &Run, conns: &Connections) -> Vec<Stopped> {
    let mut done = Vec::new();
    for ph in run.phases.iter().filter(|p| p.state.is_active()) {
        let stopped = |action: String, r: Result<(), String>| Stopped {
            phase: ph.phase,
            action,
            ok: r.is_ok(),
            detail: r.err(),
        };
        done.push(match (&ph.placement, &ph.engine_id, ph.pid) {
            (Placement::Local, _, Some(pid)) => {
                let grace = project.phase(ph.phase).grace();
                let alive = runner::stop_group(pid, ph.pid_start, grace).await;
                stopped(
                    format!("SIGTERM to process group {pid}"),
                    if alive {
                        Ok(())
                    } else {
                        Err("it is no longer running".into())
                    },
                )
            }
            (Placement::Ray { .. }, Some(id), _) => {
                let r = async {
                    let ray = conns
                        .ray(project, &run.target)
                        .await
                        .map_err(|e| e.to_string())?;
                    ray.stop(id).await.map(|_| ()).map_err(|e| e.to_string())
                }
                .await;
                stopped(format!("ray stop {id}"), r)
            }
            (Placement::Slurm { .. }, Some(id), _) => {
                let r = async {
                    let c = conns
                        .slurm(project, &run.target)
                        .await
                        .map_err(|e| e.to_string())?;
                    c.slurm()
                        .cancel(id, &CancellationToken::new())
                        .await
                        .map_err(|e| e.to_string())
                }
                .await;
                stopped(format!("scancel {id}"), r)
            }
            (p, _, _) => stopped(
                format!("nothing to stop on {}", p.label()),
                Err("no job id or process was recorded for it".into()),
            ),
        });
    }
    done
}
