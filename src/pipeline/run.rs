//! Runs: one launch of a phase or of the whole pipeline, with a state per phase.

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
pub struct PhaseRun {
    pub phase: PhaseId,
    pub state: RunState,
    pub engine: String,
    /// Store location of the phase's output: `bucket/key/`.
    pub output: String,
    /// Input location handed to the phase.
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    /// The engine's id of the phase: the Slurm job id, the Ray submission id.
    #[serde(default)]
    pub engine_id: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
}

impl PhaseRun {
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

/// Format a duration as `1h02m`, `3m07s` or `4.2s`.
pub fn fmt_duration(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds().max(0);
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, (ms % 1000) / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(phase: PhaseId, state: RunState) -> PhaseRun {
        PhaseRun {
            phase,
            state,
            engine: "local".into(),
            output: String::new(),
            input: None,
            command: vec![],
            pid: None,
            engine_id: None,
            started: None,
            ended: None,
            exit_code: None,
            message: None,
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

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(chrono::Duration::milliseconds(4200)), "4.2s");
        assert_eq!(fmt_duration(chrono::Duration::seconds(187)), "3m07s");
        assert_eq!(fmt_duration(chrono::Duration::seconds(3720)), "1h02m");
    }
}
