//! Runs: one launch of a phase or of the whole pipeline, with a state per phase.

use super::placement::Placement;
use crate::project::PhaseId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Pending,
    Submitted,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// tandem lost sight of it (it was running when tandem stopped).
    Lost,
}

impl RunState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunState::Succeeded | RunState::Failed | RunState::Cancelled | RunState::Lost
        )
    }
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Submitted | RunState::Running)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Submitted => "submitted",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Lost => "lost",
        }
    }
    /// A one-cell glyph for lists.
    pub fn glyph(self) -> &'static str {
        match self {
            RunState::Pending => "○",
            RunState::Submitted => "◔",
            RunState::Running => "●",
            RunState::Succeeded => "✔",
            RunState::Failed => "✘",
            RunState::Cancelled => "⊘",
            RunState::Lost => "?",
        }
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "PhaseRecord", into = "PhaseRecord")]
pub struct PhaseRun {
    pub phase: PhaseId,
    pub state: RunState,
    /// Where the phase runs: decided when the run was prepared, never again.
    pub placement: Placement,
    /// Store location of the phase's output: `bucket/key/`.
    pub output: String,
    /// Input location handed to the phase.
    pub input: Option<String>,
    pub command: Vec<String>,
    /// A local phase's process (its process group has the same id).
    pub pid: Option<u32>,
    /// When that process started, in clock ticks since boot (`/proc/PID/stat`): with the pid, it
    /// tells the process from a later one that got the same pid.
    pub pid_start: Option<u64>,
    /// The engine's id of the phase: the Slurm job id, the Ray submission id.
    pub engine_id: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
}

/// A phase as the journal and `--json` have it: the placement, and beside it the label made from
/// it (`engine`, what earlier versions kept instead of a placement).
#[derive(Serialize, Deserialize)]
struct PhaseRecord {
    phase: PhaseId,
    state: RunState,
    #[serde(default)]
    placement: Option<Placement>,
    #[serde(default)]
    engine: String,
    output: String,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    pid: Option<u32>,
    #[serde(default)]
    pid_start: Option<u64>,
    #[serde(default)]
    engine_id: Option<String>,
    started: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    exit_code: Option<i32>,
    message: Option<String>,
}

impl From<PhaseRecord> for PhaseRun {
    fn from(r: PhaseRecord) -> PhaseRun {
        PhaseRun {
            placement: r
                .placement
                .unwrap_or_else(|| Placement::from_old_label(&r.engine)),
            phase: r.phase,
            state: r.state,
            output: r.output,
            input: r.input,
            command: r.command,
            pid: r.pid,
            pid_start: r.pid_start,
            engine_id: r.engine_id,
            started: r.started,
            ended: r.ended,
            exit_code: r.exit_code,
            message: r.message,
        }
    }
}

impl From<PhaseRun> for PhaseRecord {
    fn from(p: PhaseRun) -> PhaseRecord {
        PhaseRecord {
            engine: p.placement.label(),
            placement: Some(p.placement),
            phase: p.phase,
            state: p.state,
            output: p.output,
            input: p.input,
            command: p.command,
            pid: p.pid,
            pid_start: p.pid_start,
            engine_id: p.engine_id,
            started: p.started,
            ended: p.ended,
            exit_code: p.exit_code,
            message: p.message,
        }
    }
}

impl PhaseRun {
    /// A phase about to run, nothing done yet.
    pub fn new(phase: PhaseId, placement: Placement, output: String) -> PhaseRun {
        PhaseRun {
            phase,
            state: RunState::Pending,
            placement,
            output,
            input: None,
            command: Vec::new(),
            pid: None,
            pid_start: None,
            engine_id: None,
            started: None,
            ended: None,
            exit_code: None,
            message: None,
        }
    }

    /// Where the phase writes: its output location's bucket and key prefix.
    pub fn output_at(&self) -> (&str, &str) {
        crate::storage::split_location(&self.output)
    }

    pub fn duration(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let start = self.started?;
        Some(self.ended.unwrap_or(now) - start)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub project: String,
    pub project_file: String,
    pub project_hash: String,
    pub target: String,
    pub created: DateTime<Utc>,
    pub state: RunState,
    pub phases: Vec<PhaseRun>,
    pub tandem_version: String,
}

impl Run {
    pub fn phase(&self, id: PhaseId) -> Option<&PhaseRun> {
        self.phases.iter().find(|p| p.phase == id)
    }
    pub fn phase_mut(&mut self, id: PhaseId) -> Option<&mut PhaseRun> {
        self.phases.iter_mut().find(|p| p.phase == id)
    }
    pub fn started(&self) -> Option<DateTime<Utc>> {
        self.phases.iter().filter_map(|p| p.started).min()
    }
    pub fn ended(&self) -> Option<DateTime<Utc>> {
        if self.state.is_terminal() {
            self.phases.iter().filter_map(|p| p.ended).max()
        } else {
            None
        }
    }
    pub fn duration(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let s = self.started()?;
        Some(self.ended().unwrap_or(now) - s)
    }
    /// The phase the run is on now: the first that has not ended.
    pub fn current_phase(&self) -> Option<&PhaseRun> {
        self.phases.iter().find(|p| !p.state.is_terminal())
    }

    /// Whether stopping tandem must stop this run: the phase it is on now runs here, as a local
    /// process. A phase on a cluster goes on without tandem, and the next tandem re-attaches.
    pub fn stops_with_tandem(&self) -> bool {
        !self.state.is_terminal()
            && self
                .current_phase()
                .is_none_or(|p| !p.placement.on_cluster())
    }

    /// The overall state from the phases': failed/cancelled wins, then running, then all succeeded.
    pub fn derive_state(&mut self) {
        let st: Vec<RunState> = self.phases.iter().map(|p| p.state).collect();
        self.state = if st.contains(&RunState::Failed) {
            RunState::Failed
        } else if st.contains(&RunState::Lost) {
            RunState::Lost
        } else if st.contains(&RunState::Cancelled) {
            RunState::Cancelled
        } else if st.iter().all(|s| *s == RunState::Succeeded) {
            RunState::Succeeded
        } else if st
            .iter()
            .any(|s| s.is_active() || *s == RunState::Succeeded)
        {
            RunState::Running
        } else {
            RunState::Pending
        };
    }
}

/// A sortable, readable run id: `YYYYMMDD-HHMMSS-xxxx`.
pub fn new_run_id(now: DateTime<Utc>) -> String {
    let r: u16 = rand::random();
    format!("{}-{r:04x}", now.format("%Y%m%d-%H%M%S"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(phase: PhaseId, state: RunState) -> PhaseRun {
        PhaseRun {
            state,
            ..PhaseRun::new(phase, Placement::Local, String::new())
        }
    }

    #[test]
    fn overall_state() {
        let mut r = Run {
            id: "x".into(),
            project: "p".into(),
            project_file: String::new(),
            project_hash: String::new(),
            target: "local".into(),
            created: Utc::now(),
            state: RunState::Pending,
            phases: vec![
                pr(PhaseId::Preprocess, RunState::Succeeded),
                pr(PhaseId::Solve, RunState::Pending),
            ],
            tandem_version: String::new(),
        };
        r.derive_state();
        assert_eq!(r.state, RunState::Running);
        r.phases[1].state = RunState::Failed;
        r.derive_state();
        assert_eq!(r.state, RunState::Failed);
        r.phases[1].state = RunState::Succeeded;
        r.derive_state();
        assert_eq!(r.state, RunState::Succeeded);
    }
}
