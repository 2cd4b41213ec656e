//! Runs: one launch of a phase or of the whole pipeline, with a state per phase.

use super::placement::Placement;
use crate::project::sweep::Value;
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
    /// A swept phase's elements, in index order (empty: the phase has no sweep).
    pub elements: Vec<ElementRun>,
    /// Earlier tries of the phase that its retry rule resubmitted, oldest first.
    pub attempts: Vec<Attempt>,
    /// With `--reuse`: the earlier run whose outputs it used, or why it ran.
    pub reuse: Option<super::reuse::Verdict>,
}

/// One element of a swept phase: its parameters, where it writes and how it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementRun {
    pub index: u32,
    /// The parameters' values, in the sweep's order (an object in JSON).
    #[serde(with = "ordered")]
    pub params: Vec<(String, Value)>,
    pub state: RunState,
    /// Store location of the element's output: `bucket/key/`.
    pub output: String,
    /// The engine's id: the array element (`1234_3`), the Ray submission id.
    #[serde(default)]
    pub engine_id: Option<String>,
    /// A local element's process and its start time (see [`PhaseRun::pid_start`]).
    #[serde(default)]
    pub pid: Option<u32>,
    #[serde(default)]
    pub pid_start: Option<u64>,
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended: Option<DateTime<Utc>>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The engine's own word for how it stands or ended (Slurm's state: OUT_OF_MEMORY, TIMEOUT,
    /// ...), what a retry rule is matched against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_state: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// Earlier tries of this element that its retry rule resubmitted.
    #[serde(default)]
    pub attempts: Vec<Attempt>,
}

impl ElementRun {
    pub fn new(e: &crate::project::Element, output: String) -> ElementRun {
        ElementRun {
            index: e.index,
            params: e.params.clone(),
            state: RunState::Pending,
            output,
            engine_id: None,
            pid: None,
            pid_start: None,
            started: None,
            ended: None,
            exit_code: None,
            engine_state: None,
            message: None,
            attempts: Vec::new(),
        }
    }
    /// `alpha=0.5 t_edge=20`.
    pub fn label(&self) -> String {
        crate::project::sweep::label(&self.params)
    }
    pub fn duration(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        Some(self.ended.unwrap_or(now) - self.started?)
    }
    /// The element as the sweep made it.
    pub fn element(&self) -> crate::project::Element {
        crate::project::Element {
            index: self.index,
            params: self.params.clone(),
        }
    }
}

/// A try that ended in a way the phase's retry rule resubmits: what it asked for and how it
/// ended (its reason: OUT_OF_MEMORY, TIMEOUT, NODE_FAIL, PREEMPTED).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub engine_id: Option<String>,
    pub reason: String,
    #[serde(default)]
    pub memory_gb: Option<f64>,
    #[serde(default)]
    pub time_limit: Option<String>,
    #[serde(default)]
    pub started: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended: Option<DateTime<Utc>>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `Vec<(String, Value)>` as a JSON object in its own order.
mod ordered {
    use super::Value;
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(String, Value)], s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(v.len()))?;
        for (k, x) in v {
            m.serialize_entry(k, x)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, Value)>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(String, Value)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of parameters")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    elements: Vec<ElementRun>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<Attempt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reuse: Option<super::reuse::Verdict>,
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
            elements: r.elements,
            attempts: r.attempts,
            reuse: r.reuse,
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
            elements: p.elements,
            attempts: p.attempts,
            reuse: p.reuse,
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
            elements: Vec::new(),
            attempts: Vec::new(),
            reuse: None,
        }
    }

    /// How many elements are in each state (a swept phase).
    pub fn counts(&self) -> Vec<(RunState, usize)> {
        let mut c: Vec<(RunState, usize)> = Vec::new();
        for e in &self.elements {
            match c.iter_mut().find(|(s, _)| *s == e.state) {
                Some((_, n)) => *n += 1,
                None => c.push((e.state, 1)),
            }
        }
        c.sort_by_key(|(s, _)| *s as u8);
        c
    }

    /// `6 elements: 4 succeeded, 1 running, 1 pending`.
    pub fn counts_text(&self) -> String {
        let parts: Vec<String> = self
            .counts()
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!("{} elements: {}", self.elements.len(), parts.join(", "))
    }

    /// A swept phase's state from its elements': any still going is running (submitted while
    /// none has started); when all have ended, all succeeded is succeeded, else the worst of
    /// failed, lost and cancelled.
    pub fn state_of_elements(&self) -> RunState {
        let any = |s: RunState| self.elements.iter().any(|e| e.state == s);
        let some_ended = self.elements.iter().any(|e| e.state.is_terminal());
        if self.elements.iter().any(|e| !e.state.is_terminal()) {
            if any(RunState::Running) || some_ended {
                RunState::Running
            } else if any(RunState::Submitted) {
                RunState::Submitted
            } else {
                RunState::Pending
            }
        } else if any(RunState::Failed) {
            RunState::Failed
        } else if any(RunState::Lost) {
            RunState::Lost
        } else if any(RunState::Cancelled) {
            RunState::Cancelled
        } else {
            RunState::Succeeded
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
    /// `--reuse`: phases whose section, inputs and version match an earlier succeeded run's use
    /// its outputs instead of running.
    #[serde(default)]
    pub reuse: bool,
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
    /// What of `phases` runs as its own process or job, with its own logs: each phase, and each
    /// element of a swept one.
    pub fn parts(&self, phases: &[PhaseId]) -> Vec<super::Part> {
        let mut v = Vec::new();
        for p in self.phases.iter().filter(|p| phases.contains(&p.phase)) {
            v.push(super::Part::from(p.phase));
            v.extend(
                p.elements
                    .iter()
                    .map(|e| super::Part::element(p.phase, e.index)),
            );
        }
        v
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
            reuse: false,
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
