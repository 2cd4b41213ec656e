//! One phase of a run, from start to end, wherever its placement says it runs: the context every
//! phase runs in ([`Exec`]: the run's record, the journal, the store, the events to the UI), and
//! the lifecycle on each placement beside it (`local.rs`, `ray.rs`, `slurm.rs`), each using its
//! engine's client below. The executor above keeps the state machine and the chaining.

mod data;
mod local;
mod ray;
mod slurm;
mod sweep;

pub use data::output_dir;
pub use ray::ray_state;
pub use slurm::{never_ran, slurm_state};

use super::journal::{Claim, LogOffsets, Owner};
use super::placement::Placement;
use super::plan::Step;
use super::run::{Run, RunState};
use super::workspace::{Part, Workspace};
use super::RunEvent;
use crate::project::{PhaseId, Project, Vars};
use crate::storage::ObjectStore;
use chrono::Utc;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What one run's phases run with.
pub(crate) struct Exec<'a> {
    pub ws: &'a Workspace,
    pub project: &'a Project,
    pub store: Arc<dyn ObjectStore>,
    pub events: &'a mpsc::Sender<RunEvent>,
    pub run: Run,
    pub owner: Owner,
    /// The target's transport and engines, connected once for the run.
    pub conns: crate::engine::Connections,
    /// `--dry-run`: what each phase would send is collected here and nothing is sent, written
    /// or journalled.
    pub dry: Option<Vec<Step>>,
}

/// A phase's local log file held open while an engine's log is appended to it, with the engine
/// offset it stands at: a snapshot of both is what the journal commits.
pub(crate) struct LogSink {
    file: Option<std::fs::File>,
    path: PathBuf,
    pub remote: u64,
}

impl LogSink {
    /// The sinks of a phase's stdout and stderr logs, from where the journal's last commit left
    /// them, or (never committed) from the start of the engine's log and the end of the local
    /// file.
    pub fn pair(ws: &Workspace, run_id: &str, part: impl Into<Part>) -> [LogSink; 2] {
        let part = part.into();
        let out = ws.log_path(run_id, part, false);
        let err = ws.log_path(run_id, part, true);
        let len = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let t = ws
            .journal
            .tail(run_id, part)
            .ok()
            .flatten()
            .unwrap_or(LogOffsets {
                out_remote: 0,
                out_local: len(&out),
                err_remote: 0,
                err_local: len(&err),
            });
        [
            LogSink::resume(out, t.out_remote, t.out_local),
            LogSink::resume(err, t.err_remote, t.err_local),
        ]
    }

    /// Open for appending, first cutting the file back to `local` bytes (what the journal last
    /// committed along with `remote`): lines written after that commit are read again.
    fn resume(path: PathBuf, remote: u64, local: u64) -> LogSink {
        if let Some(d) = path.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
            if f.metadata().is_ok_and(|m| m.len() > local) {
                let _ = f.set_len(local);
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        LogSink { file, path, remote }
    }
    pub fn write(&mut self, b: &[u8]) {
        if let Some(f) = self.file.as_mut() {
            if f.write_all(b).is_ok() {
                self.remote += b.len() as u64;
            }
        }
    }
    /// (engine offset, local file length) now.
    pub fn mark(&self) -> (u64, u64) {
        let local = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        (self.remote, local)
    }
}

impl Exec<'_> {
    /// Run `phase` where its placement says, from the start.
    pub async fn run_phase(&mut self, phase: PhaseId, cancel: &CancellationToken) -> RunState {
        if self.is_swept(phase) {
            return self.run_sweep(phase, cancel).await;
        }
        match self.placement(phase) {
            Placement::Local => self.run_local(phase, cancel).await,
            Placement::Ray { .. } => match self.ray_conf() {
                Some(rc) => self.run_ray(phase, cancel, &rc).await,
                None => self.fail(phase, self.moved(phase, "Ray")).await,
            },
            Placement::Slurm { .. } => match self.project.slurm_target(&self.run.target) {
                Some(st) => {
                    let st = st.clone();
                    self.run_slurm(phase, cancel, &st).await
                }
                None => self.fail(phase, self.moved(phase, "Slurm")).await,
            },
        }
    }

    /// Pick up a phase that a previous tandem left submitted or running, where its placement
    /// says it runs: a job on a cluster is followed from where its log tails stood; a local
    /// process is found by its pid and start time and followed, or its end is read from what its
    /// supervisor wrote.
    pub async fn reattach(&mut self, phase: PhaseId, cancel: &CancellationToken) -> RunState {
        if self.is_swept(phase) {
            // a sweep picks up where each element stands
            return self.run_sweep(phase, cancel).await;
        }
        let placement = self.placement(phase);
        if placement == Placement::Local {
            return self.reattach_local(phase, cancel).await;
        }
        let Some(id) = self.run.phase(phase).and_then(|p| p.engine_id.clone()) else {
            return self
                .lost(
                    phase,
                    "tandem stopped while submitting this phase and no job id was recorded",
                )
                .await;
        };
        self.note(phase, &format!("re-attaching to {id}"));
        match placement {
            Placement::Local => unreachable!("handled above"),
            Placement::Ray { .. } => {
                let ray = match self.ray_client().await {
                    Ok(r) => r,
                    Err(e) => return self.fail(phase, e).await,
                };
                self.follow_ray(phase, ray, &id, cancel).await
            }
            Placement::Slurm { .. } => {
                let Some(st) = self.project.slurm_target(&self.run.target).cloned() else {
                    let why = self.moved(phase, "Slurm");
                    return self
                        .lost(phase, &format!("{why}: job {id} is not followed"))
                        .await;
                };
                self.reattach_slurm(phase, &st, &id, cancel).await
            }
        }
    }

    /// `--reuse`: whether an earlier succeeded run's outputs stand for this phase's (the same
    /// section, version and inputs' content): then the phase is marked succeeded with them, and
    /// the handoff follows. Either way the phase's record says which run, or why it runs.
    pub async fn reuse(&mut self, phase: PhaseId) -> bool {
        use super::reuse::{decide, Fingerprint, Verdict};
        if self.dry.is_some() || self.is_swept(phase) {
            return false;
        }
        let (prefix, inputs) = self.inputs(phase).await;
        let fp = Fingerprint::of(
            self.project,
            phase,
            prefix.as_deref().unwrap_or(""),
            &inputs,
        );
        let (j, project, id) = (
            self.ws.journal.clone(),
            self.project.clone(),
            self.run.id.clone(),
        );
        let verdict = tokio::task::spawn_blocking(move || decide(&j, &project, &id, phase, &fp))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        let verdict = match verdict {
            Ok(v) => v,
            Err(e) => Verdict::Run {
                why: format!("the journal could not be read ({e})"),
            },
        };
        let reused = match &verdict {
            Verdict::Reuse { run, output } => {
                let m = format!(
                    "reused run {run}'s outputs: the same section of the project file, inputs \
                     ({} objects, by content) and tandem version",
                    inputs.len()
                );
                self.note(phase, &m);
                if let Some(p) = self.run.phase_mut(phase) {
                    let now = Utc::now();
                    p.state = RunState::Succeeded;
                    p.output = output.clone();
                    p.started = Some(now);
                    p.ended = Some(now);
                    p.message = Some(m);
                }
                true
            }
            Verdict::Run { why } => {
                self.note(phase, &format!("running: {why}"));
                false
            }
        };
        if let Some(p) = self.run.phase_mut(phase) {
            p.reuse = Some(verdict);
        }
        self.publish().await;
        reused
    }

    /// Where `phase` of this run runs (as decided when the run was prepared).
    pub fn placement(&self, phase: PhaseId) -> Placement {
        self.run
            .phase(phase)
            .map(|p| p.placement.clone())
            .unwrap_or_else(|| Placement::decide(self.project, &self.run.target, phase))
    }

    /// Why a phase placed on an engine cannot run there now: the target changed since.
    fn moved(&self, phase: PhaseId, engine: &str) -> String {
        format!(
            "this run placed {phase} on {engine}, but target `{}` in {} no longer has {engine}",
            self.run.target,
            self.project.file.display()
        )
    }

    /// The placeholders of a phase's command: the executable, the run, where it reads and writes.
    fn vars(&self, input: &str, output: &str, run_dir: &str) -> Vars {
        let mut vars = Vars::new();
        vars.insert("tandem", self.ws.exe.display().to_string());
        vars.insert("run", self.run.id.clone());
        vars.insert("input", input.to_string());
        vars.insert("output", output.to_string());
        vars.insert("run_dir", run_dir.to_string());
        vars.insert("project_dir", self.project.dir.display().to_string());
        vars
    }

    pub async fn publish(&mut self) {
        if self.dry.is_some() {
            return;
        }
        self.run.derive_state();
        if let Err(e) = self.ws.journal.record(&self.run) {
            tracing::error!("journal write failed: {e}");
        }
        let _ = self
            .events
            .send(RunEvent::Updated(Box::new(self.run.clone())))
            .await;
    }

    /// A line of tandem's own in the stdout log of a phase (or of an element of its sweep).
    pub fn note(&self, part: impl Into<Part>, text: &str) {
        if self.dry.is_some() {
            return;
        }
        let p = self.ws.log_path(&self.run.id, part, false);
        if let Some(d) = p.parent() {
            let _ = std::fs::create_dir_all(d);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            let _ = writeln!(f, "tandem: {text}");
        }
    }

    /// Claim the submission of a phase in the journal (this process holds the run's lease).
    fn claim(&self, phase: PhaseId) -> Result<(), String> {
        if self.dry.is_some() {
            return Ok(());
        }
        match self.ws.journal.claim(&self.run.id, phase, &self.owner) {
            Ok(Claim::Fresh) => Ok(()),
            Ok(Claim::Again) => {
                self.note(
                    phase,
                    "a previous tandem claimed this phase before it stopped: submitting again \
                     with the same id (the engine answers with the existing job if it got there)",
                );
                Ok(())
            }
            Ok(Claim::HeldBy(who)) => Err(format!(
                "{phase} is being submitted by another tandem ({who}); not submitting it twice"
            )),
            Err(e) => Err(format!("journal: {e}")),
        }
    }

    /// Commit where the log tails of a phase (or of an element) stand.
    fn save_tail(&self, part: impl Into<Part>, t: LogOffsets) {
        if let Err(e) = self.ws.journal.save_tail(&self.run.id, part, t) {
            tracing::error!("journal: {e}");
        }
    }

    /// The last line a phase (or an element) wrote to stderr, for a failure's message.
    fn last_error_line(&self, part: impl Into<Part>) -> Option<String> {
        let text = std::fs::read(self.ws.log_path(&self.run.id, part, true)).ok()?;
        let tail = &text[text.len().saturating_sub(4096)..];
        String::from_utf8_lossy(tail)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.chars().take(300).collect())
    }

    /// The phase's end: its state, code, message and time, recorded and published.
    async fn end(
        &mut self,
        phase: PhaseId,
        state: RunState,
        code: Option<i32>,
        msg: Option<String>,
    ) -> RunState {
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = state;
            p.exit_code = code;
            p.message = msg;
            p.ended = Some(Utc::now());
        }
        self.publish().await;
        state
    }

    pub async fn lost(&mut self, phase: PhaseId, why: &str) -> RunState {
        self.note(phase, why);
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = RunState::Lost;
            p.ended.get_or_insert(Utc::now());
            p.message = Some(why.to_string());
        }
        self.publish().await;
        RunState::Lost
    }

    pub async fn fail(&mut self, phase: PhaseId, why: String) -> RunState {
        if let Some(d) = self.dry.as_mut() {
            d.push(Step::failed(phase, why));
            return RunState::Failed;
        }
        self.note(phase, &format!("error: {why}"));
        if let Some(p) = self.run.phase_mut(phase) {
            let now = Utc::now();
            p.state = RunState::Failed;
            p.started.get_or_insert(now);
            p.ended = Some(now);
            p.message = Some(why);
        }
        self.publish().await;
        RunState::Failed
    }
}
