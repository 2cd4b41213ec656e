//! The Pipeline view's actions and the runs it shows: start the pipeline or one phase, cancel the
//! run (after asking), and each run update as it arrives (phase ends announced, the views made to
//! follow a new run).

use super::command::Command;
use super::msg::Action;
use super::state::{AppState, Level, LogsState, Popup, View, MAX_SAMPLES};
use super::status::set_status;
use crate::observe::sanitize;
use crate::pipeline::{RunEvent, RunState};
use crate::project::PhaseId;

pub fn start(s: &mut AppState, phases: Vec<PhaseId>) -> Vec<Command> {
    if let Some(r) = s.active_run() {
        let id = r.id.clone();
        set_status(
            s,
            Level::Warn,
            format!("run {id} is still going: c cancels it"),
        );
        return vec![];
    }
    let names: Vec<&str> = phases.iter().map(|p| p.as_str()).collect();
    set_status(
        s,
        Level::Info,
        format!("starting {} on {}", names.join(" → "), s.target),
    );
    s.view = View::Pipeline;
    vec![Command::StartRun {
        phases,
        reuse: false,
    }]
}

/// `R`: work out which phases an earlier run's outputs stand for (the answer asks).
pub fn ask_reuse(s: &mut AppState) -> Vec<Command> {
    if let Some(r) = s.active_run() {
        let id = r.id.clone();
        set_status(
            s,
            Level::Warn,
            format!("run {id} is still going: c cancels it"),
        );
        return vec![];
    }
    set_status(s, Level::Info, "comparing with earlier runs…".into());
    vec![Command::PlanReuse]
}

/// Msg::ReusePlan: ask, phase by phase: reused from which run, or why it runs.
pub fn on_reuse_plan(
    s: &mut AppState,
    plan: Vec<(PhaseId, crate::pipeline::reuse::Verdict)>,
) -> Vec<Command> {
    use crate::pipeline::reuse::Verdict;
    let lines: Vec<String> = plan
        .iter()
        .map(|(p, v)| match v {
            Verdict::Reuse { run, .. } => {
                format!("{p}: reuse run {run}'s outputs (nothing changed)")
            }
            Verdict::Run { why } => format!("{p}: runs — {}", sanitize(why)),
        })
        .collect();
    if plan.iter().all(|(_, v)| matches!(v, Verdict::Run { .. })) {
        set_status(
            s,
            Level::Info,
            format!("nothing to reuse: {}", lines.join("; ")),
        );
        return vec![];
    }
    s.popup = Some(Popup::Confirm {
        text: format!(
            "Run again, reusing what did not change?\n{}\n  y / n",
            lines.join("\n")
        ),
        action: Action::RunReusing,
    });
    vec![]
}

/// The question answered yes: the whole pipeline, reusing what did not change.
pub fn run_reusing(s: &mut AppState) -> Vec<Command> {
    set_status(
        s,
        Level::Info,
        format!("starting on {}, reusing what did not change", s.target),
    );
    s.view = View::Pipeline;
    vec![Command::StartRun {
        phases: PhaseId::ALL.to_vec(),
        reuse: true,
    }]
}

/// `c`: ask before cancelling the active run.
pub fn ask_cancel(s: &mut AppState) -> Vec<Command> {
    match s.active_run() {
        Some(r) => {
            let text = format!(
                "Cancel run {}? Running phases get SIGTERM, then SIGKILL.  y / n",
                r.id
            );
            s.popup = Some(Popup::Confirm {
                text,
                action: Action::Cancel,
            });
        }
        None => set_status(s, Level::Info, "nothing is running".into()),
    }
    vec![]
}

/// The question answered yes: cancel it.
pub fn cancel(s: &mut AppState) -> Vec<Command> {
    match s.active_run() {
        Some(r) => {
            let id = r.id.clone();
            set_status(s, Level::Warn, format!("cancelling {id}…"));
            vec![Command::CancelRun { run_id: id }]
        }
        None => vec![],
    }
}

pub fn on_run_event(s: &mut AppState, ev: RunEvent) -> Vec<Command> {
    match ev {
        RunEvent::Updated(run) => {
            let run = *run;
            let mut cmds = vec![];
            let prev = s.runs.iter().position(|r| r.id == run.id);
            let old = prev.map(|i| s.runs[i].clone());
            match prev {
                Some(i) => s.runs[i] = run.clone(),
                None => {
                    s.runs.insert(0, run.clone());
                    cmds.extend(select_run(s, run.id.clone()));
                }
            }
            // announce phase transitions
            for p in &run.phases {
                let before = old.as_ref().and_then(|o| o.phase(p.phase)).map(|q| q.state);
                if before != Some(p.state) && p.state.is_terminal() {
                    let dur = p
                        .duration(s.now)
                        .map(crate::fmt::duration)
                        .unwrap_or_default();
                    let (lvl, extra) = match p.state {
                        RunState::Succeeded => (Level::Info, String::new()),
                        _ => (
                            Level::Error,
                            p.message
                                .as_deref()
                                .map(|m| format!(": {}", sanitize(m)))
                                .unwrap_or_default(),
                        ),
                    };
                    if !(p.state == RunState::Cancelled && p.started.is_none()) {
                        let text = format!("{} {} {dur}{extra}", p.phase, p.state);
                        // the end of a phase rings the bell and, where the terminal shows them,
                        // raises a desktop notification (OSC 9)
                        cmds.push(Command::Notify {
                            text: format!("tandem: {} {text}", run.project),
                        });
                        set_status(s, lvl, text);
                    }
                    if p.phase == PhaseId::Solve
                        && p.state == RunState::Succeeded
                        && s.current.as_deref() == Some(&run.id)
                    {
                        cmds.extend(super::plots::refresh_plots(s));
                    }
                }
            }
            cmds
        }
        RunEvent::Metric {
            run_id,
            phase,
            sample,
        } => {
            if s.metrics.run_id.as_deref() == Some(&run_id) {
                if s.metrics.samples.len() >= MAX_SAMPLES {
                    s.metrics.samples.remove(0);
                }
                s.metrics.samples.push((phase, sample));
            }
            // snapshots land while the solver runs: follow them
            if phase == PhaseId::Solve
                && s.view == View::Plots
                && s.current.as_deref() == Some(&run_id)
                && !s.plots.loading
            {
                return super::plots::refresh_plots(s);
            }
            vec![]
        }
    }
}

/// Make `id` the run the views show: logs, metrics and plots follow it.
pub fn select_run(s: &mut AppState, id: String) -> Vec<Command> {
    s.current = Some(id.clone());
    s.logs = LogsState {
        run_id: Some(id.clone()),
        wrap: s.logs.wrap,
        buf: crate::observe::logbuf::LogBuffer::new(s.logs.buf.cap()),
        ..LogsState::default()
    };
    // the CloudWatch side belongs to the target, not the run: it stays
    s.metrics.run_id = Some(id.clone());
    s.metrics.samples.clear();
    s.plots.run_id = Some(id.clone());
    s.plots.element = None;
    s.plots.files.clear();
    s.plots.data = None;
    s.plots.error = None;
    let mut cmds = vec![
        Command::FollowLogs { run_id: id.clone() },
        Command::LoadMetrics { run_id: id },
    ];
    cmds.extend(super::plots::refresh_plots(s));
    cmds
}
