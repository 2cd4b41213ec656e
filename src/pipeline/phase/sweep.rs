//! A swept phase: one element per row of its sweep, each where the phase's placement says (a
//! local process, an element of one Slurm array, a Ray job), at most `max_parallel` at once. The
//! elements are in the run's record and the journal from the start; a resumed sweep picks up
//! where each element stands. The phase's state is its elements' (see
//! [`PhaseRun::state_of_elements`]); its message counts them.

use super::super::placement::Placement;
use super::super::run::{ElementRun, PhaseRun, RunState};
use super::super::workspace::Part;
use super::Exec;
use crate::project::{PhaseId, Vars};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

impl Exec<'_> {
    /// Whether this run sweeps `phase` (its record has elements).
    pub(super) fn is_swept(&self, phase: PhaseId) -> bool {
        self.run
            .phase(phase)
            .is_some_and(|p| !p.elements.is_empty())
    }

    /// Run (or pick up) a swept phase where its placement says.
    pub(super) async fn run_sweep(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
    ) -> RunState {
        if let Some(p) = self.run.phase_mut(phase) {
            if p.state == RunState::Pending {
                p.state = RunState::Submitted;
            }
            p.started.get_or_insert(Utc::now());
        }
        match self.placement(phase) {
            Placement::Local => self.run_local_sweep(phase, cancel).await,
            Placement::Ray { .. } => match self.ray_conf() {
                Some(rc) => self.run_ray_sweep(phase, cancel, &rc).await,
                None => self.fail(phase, self.moved(phase, "Ray")).await,
            },
            Placement::Slurm { .. } => match self.project.slurm_target(&self.run.target) {
                Some(st) => {
                    let st = st.clone();
                    self.run_slurm_array(phase, cancel, &st).await
                }
                None => self.fail(phase, self.moved(phase, "Slurm")).await,
            },
        }
    }

    pub(super) fn elements(&self, phase: PhaseId) -> &[ElementRun] {
        self.run.phase(phase).map_or(&[], |p| &p.elements)
    }

    pub(super) fn element_mut(&mut self, phase: PhaseId, i: u32) -> Option<&mut ElementRun> {
        self.run
            .phase_mut(phase)?
            .elements
            .iter_mut()
            .find(|e| e.index == i)
    }

    /// Elements running at once: the sweep's `max_parallel`, else `default`.
    pub(super) fn max_parallel(&self, phase: PhaseId, default: usize) -> usize {
        self.project
            .phase(phase)
            .sweep
            .as_ref()
            .and_then(|s| s.max_parallel)
            .map_or(default, |m| m as usize)
            .max(1)
    }

    /// The placeholders of element `e` of a phase: the phase's, with its output, and the
    /// element's own (`{element}`, `{param.NAME}`).
    pub(super) fn element_vars(&self, e: &ElementRun, input: &str, output: &str) -> Vars {
        let mut vars = self.vars(
            input,
            output,
            &self.ws.run_dir(&self.run.id).display().to_string(),
        );
        e.element().put(&mut vars);
        vars
    }

    /// An element's state, code and message; its start and end stamped as the state says. True
    /// when something changed.
    pub(super) fn set_element(
        &mut self,
        phase: PhaseId,
        i: u32,
        state: RunState,
        code: Option<i32>,
        msg: Option<String>,
    ) -> bool {
        let Some(e) = self.element_mut(phase, i) else {
            return false;
        };
        if e.state == state && e.message == msg && (code.is_none() || e.exit_code == code) {
            return false;
        }
        e.state = state;
        e.message = msg;
        if code.is_some() {
            e.exit_code = code;
        }
        let now = Utc::now();
        // started: when it began to run (a queued array element has not)
        if state == RunState::Running || state.is_terminal() {
            e.started.get_or_insert(now);
        }
        if state.is_terminal() {
            e.ended.get_or_insert(now);
        }
        true
    }

    /// Elements that never started because the run stopped: cancelled, saying so.
    pub(super) fn cancel_unstarted(&mut self, phase: PhaseId) {
        let idle: Vec<u32> = self
            .elements(phase)
            .iter()
            .filter(|e| e.state == RunState::Pending)
            .map(|e| e.index)
            .collect();
        for i in idle {
            self.set_element(
                phase,
                i,
                RunState::Cancelled,
                None,
                Some("not started: the run was cancelled".into()),
            );
        }
    }

    /// The phase's state once a pass over its elements is done: theirs, with the counts as its
    /// message, published.
    pub(super) async fn end_sweep(&mut self, phase: PhaseId) -> RunState {
        let Some(p) = self.run.phase_mut(phase) else {
            return RunState::Failed;
        };
        let state = p.state_of_elements();
        p.state = state;
        p.message = Some(sweep_message(p));
        if state.is_terminal() {
            p.ended = Some(Utc::now());
        }
        self.publish().await;
        state
    }

    /// The phase's state and counts while its elements run, published when they changed.
    pub(super) async fn publish_sweep(&mut self, phase: PhaseId) {
        if let Some(p) = self.run.phase_mut(phase) {
            let state = p.state_of_elements();
            let state = if state.is_terminal() {
                // the pass is not over until the last element is followed to its end
                RunState::Running
            } else {
                state
            };
            p.state = state;
            p.message = Some(sweep_message(p));
        }
        self.publish().await;
    }

    /// A line in an element's log.
    pub(super) fn note_element(&self, phase: PhaseId, i: u32, text: &str) {
        self.note(Part::element(phase, i), text);
    }
}

/// `6 elements: 4 succeeded, 2 failed` and, where elements failed, the first one's why.
fn sweep_message(p: &PhaseRun) -> String {
    let mut m = p.counts_text();
    if let Some(e) = p
        .elements
        .iter()
        .find(|e| matches!(e.state, RunState::Failed | RunState::Lost))
    {
        m.push_str(&format!(
            " — element {} ({}): {}",
            e.index,
            e.label(),
            e.message.as_deref().unwrap_or(e.state.as_str())
        ));
    }
    m
}
