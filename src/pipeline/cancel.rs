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
    /// The element of the phase's sweep (a local process, a Ray job of its own); a Slurm
    /// array is cancelled whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<u32>,
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
        // what runs: the phase, or each element of its sweep that has its own process or job
        let swept = !ph.elements.is_empty() && !matches!(ph.placement, Placement::Slurm { .. });
        let units: Vec<Unit> = if swept {
            ph.elements
                .iter()
                .filter(|e| e.state.is_active())
                .map(|e| Unit {
                    element: Some(e.index),
                    engine_id: e.engine_id.clone(),
                    pid: e.pid,
                    pid_start: e.pid_start,
                })
                .collect()
        } else {
            vec![Unit {
                element: None,
                engine_id: ph.engine_id.clone(),
                pid: ph.pid,
                pid_start: ph.pid_start,
            }]
        };
        for u in units {
            done.push(stop_one(project, run, conns, ph, u).await);
        }
    }
    done
}

/// What runs as one process or job: a phase, or an element of its sweep.
struct Unit {
    element: Option<u32>,
    engine_id: Option<String>,
    pid: Option<u32>,
    pid_start: Option<u64>,
}

/// Stop one phase, or one element of its sweep, with its engine.
async fn stop_one(
    project: &Project,
    run: &Run,
    conns: &Connections,
    ph: &super::run::PhaseRun,
    u: Unit,
) -> Stopped {
    let Unit {
        element,
        engine_id,
        pid,
        pid_start,
    } = u;
    let stopped = |action: String, r: Result<(), String>| Stopped {
        phase: ph.phase,
        element,
        action,
        ok: r.is_ok(),
        detail: r.err(),
    };
    match (&ph.placement, &engine_id, pid) {
        (Placement::Local, _, Some(pid)) => {
            let grace = project.phase(ph.phase).grace();
            let alive = runner::stop_group(pid, pid_start, grace).await;
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
    }
}
