//! The executor: a run's phases in order, each where its placement says, phase 2 chained on
//! phase 1's outputs through the handoff; the run's state machine and its journal lease. What a
//! phase does on each placement is in [`super::phase`].

use super::journal::{Lease, Owner};
use super::phase::Exec;
use super::placement::Placement;
use super::run::{new_run_id, ElementRun, PhaseRun, Run, RunState};
use super::runner::MetricSample;
use super::workspace::Workspace;
use crate::project::{render, Element, PhaseId, Project, Vars};
use crate::storage::ObjectStore;
use chrono::Utc;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub enum RunEvent {
    Updated(Box<Run>),
    Metric {
        run_id: String,
        phase: PhaseId,
        sample: MetricSample,
    },
}

/// Location of a phase's output (or of one element's of its sweep): (bucket, key prefix ending
/// in `/`).
pub fn output_of(
    project: &Project,
    phase: PhaseId,
    run_id: &str,
    element: Option<&Element>,
) -> (String, String) {
    let mut vars = Vars::new();
    vars.insert("run", run_id.to_string());
    let rel = render(&project.phase(phase).output_template(element), &vars);
    (project.storage.bucket.clone(), project.storage.key(&rel))
}

/// The elements of a swept phase, each with its output location; and the phase's own output,
/// the folder all of theirs are in.
fn elements_of(
    project: &Project,
    phase: PhaseId,
    run_id: &str,
) -> Option<(Vec<ElementRun>, String)> {
    let sweep = project.phase(phase).sweep.as_ref()?;
    let els: Vec<ElementRun> = sweep
        .elements()
        .iter()
        .map(|e| {
            let (b, k) = output_of(project, phase, run_id, Some(e));
            ElementRun::new(e, format!("{b}/{k}"))
        })
        .collect();
    let common = els
        .iter()
        .map(|e| e.output.as_str())
        .reduce(|a, b| {
            let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            &a[..n]
        })
        .unwrap_or_default();
    let common = match common.rfind('/') {
        Some(i) => common[..=i].to_string(),
        None => String::new(),
    };
    Some((els, common))
}

/// The record of a run about to start (nothing is executed): each phase's output location, and
/// where it runs, decided here once.
pub fn prepare_run(project: &Project, target: &str, phases: &[PhaseId]) -> Run {
    let now = Utc::now();
    let id = new_run_id(now);
    let phase_runs = phases
        .iter()
        .map(|&p| {
            let (b, k) = output_of(project, p, &id, None);
            let mut pr =
                PhaseRun::new(p, Placement::decide(project, target, p), format!("{b}/{k}"));
            if let Some((els, common)) = elements_of(project, p, &id) {
                pr.elements = els;
                pr.output = common;
            }
            pr
        })
        .collect();
    Run {
        id,
        project: project.name.clone(),
        project_file: project.file.display().to_string(),
        project_hash: project.hash.clone(),
        target: target.to_string(),
        created: now,
        state: RunState::Pending,
        phases: phase_runs,
        tandem_version: env!("CARGO_PKG_VERSION").to_string(),
        reuse: false,
    }
}

/// Run the phases of `run` in order. The solve phase starts only when preprocess succeeded and the
/// handoff's required files exist. Returns the final record.
///
/// The same call resumes a run from the journal: phases that succeeded are kept (their manifest
/// written if it is missing), phases left running on an engine are re-attached and followed from
/// their log offsets, and the rest run. The run is driven under its journal lease: when another
/// live tandem drives it, nothing is done and the journal's record is returned.
pub async fn execute(
    ws: Workspace,
    project: Arc<Project>,
    store: Arc<dyn ObjectStore>,
    run: Run,
    cancel: CancellationToken,
    events: mpsc::Sender<RunEvent>,
) -> Run {
    let owner = Owner::me();
    // a run another process may drive is not overwritten with this (possibly stale) copy
    if !ws.journal.exists(&run.id).unwrap_or(false) {
        if let Err(e) = ws.journal.record(&run) {
            tracing::error!("journal write failed: {e}");
        }
        if let Err(e) = ws.journal.keep_project(&project.hash, &project.src) {
            tracing::error!("journal write failed: {e}");
        }
    }
    match ws.journal.lease(&run.id, &owner) {
        Ok(Lease::Acquired) => {}
        Ok(Lease::HeldBy(who)) => {
            tracing::info!(run = %run.id, %who, "driven by another tandem");
            return ws.journal.get(&run.id).ok().flatten().unwrap_or(run);
        }
        Err(e) => tracing::error!("journal: {e}"),
    }
    let renew = {
        let (j, id, me) = (ws.journal.clone(), run.id.clone(), owner.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(super::journal::RENEW_EVERY).await;
                match j.renew(&id, &me) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(run = %id, "another tandem took this run over"),
                    Err(e) => tracing::error!("journal: {e}"),
                }
            }
        })
    };
    let order: Vec<PhaseId> = run.phases.iter().map(|p| p.phase).collect();
    let mut ex = Exec {
        ws: &ws,
        project: &project,
        store,
        events: &events,
        run,
        owner: owner.clone(),
        conns: Default::default(),
        dry: None,
    };
    ex.publish().await;
    let mut stop: Option<String> = None;
    for phase in order {
        let state = ex.run.phase(phase).map(|p| p.state);
        if let Some(why) = &stop {
            if state.is_some_and(|s| !s.is_terminal()) {
                if let Some(p) = ex.run.phase_mut(phase) {
                    p.state = RunState::Cancelled;
                    p.message = Some(why.clone());
                }
                ex.publish().await;
            }
            continue;
        }
        if cancel.is_cancelled() {
            stop = Some("not started: the run was cancelled".into());
            continue;
        }
        let end = match state {
            Some(RunState::Succeeded) => {
                if ex
                    .ws
                    .journal
                    .manifest(&ex.run.id, phase)
                    .ok()
                    .flatten()
                    .is_none()
                {
                    ex.write_manifest(phase).await;
                }
                continue;
            }
            Some(s @ (RunState::Failed | RunState::Cancelled | RunState::Lost)) => s,
            Some(RunState::Submitted | RunState::Running) => ex.reattach(phase, &cancel).await,
            _ if ex.run.reuse && ex.reuse(phase).await => {
                // the earlier run's outputs stand for this phase's; its manifest there stays
                ex.write_manifest(phase).await;
                continue;
            }
            _ => ex.run_phase(phase, &cancel).await,
        };
        match end {
            RunState::Succeeded => ex.write_manifest(phase).await,
            RunState::Cancelled => stop = Some("not started: the run was cancelled".into()),
            _ => stop = Some(format!("not started: {phase} failed")),
        }
    }
    ex.publish().await;
    renew.abort();
    if let Err(e) = ws.journal.release(&ex.run.id, &owner) {
        tracing::error!("journal: {e}");
    }
    ex.run
}
