//! `tandem run [PROJECT]`: the pipeline (or one phase) headless, followed to its end; `--dry-run`
//! prints every request it would send and sends nothing.

use super::{clean_block, load_project, print_json, Failure, Global, PhaseArg};
use crate::fmt::duration as fmt_duration;
use crate::pipeline::plan::{Planned, Step};
use crate::pipeline::{execute, prepare_run, Run, RunEvent, RunState, Workspace};
use crate::project::{PhaseId, Project};
use crate::storage::ObjectStore;
use crate::transport::Outgoing;
use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct RunArgs {
    project: Option<PathBuf>,
    #[arg(long, value_enum)]
    phase: Option<PhaseArg>,
    #[arg(long)]
    target: Option<String>,
    /// Print the run record as JSON at the end (and JSON lines of events while it runs).
    #[arg(long)]
    json: bool,
    /// Print every command and request the run would send (local commands, Ray Jobs API
    /// requests, Slurm submit scripts, SSM SendCommand parameters) and send nothing.
    #[arg(long)]
    dry_run: bool,
    /// A phase whose section of the project file, inputs (by content) and tandem version are
    /// what an earlier succeeded run had uses that run's outputs instead of running; each phase
    /// says which run it reused, or why it ran.
    #[arg(long, conflicts_with = "no_reuse")]
    reuse: bool,
    /// Run every phase (the default; overrides a --reuse given before).
    #[arg(long)]
    no_reuse: bool,
}

impl RunArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let p = Arc::new(load_project(self.project.as_deref())?);
        let target = self.target.unwrap_or_else(|| p.default_target.clone());
        if !p.targets.contains_key(&target) {
            return Err(Failure::bad(format!(
                "unknown target `{target}` (known: {})",
                p.targets.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let phases = self
            .phase
            .map(|x| vec![x.into()])
            .unwrap_or_else(|| PhaseId::ALL.to_vec());
        let ws = g.workspace();
        let mut run = prepare_run(&p, &target, &phases);
        run.reuse = self.reuse && !self.no_reuse;
        let store = ws.open_store(&p, &target, &g.s3()).await;
        if self.dry_run {
            let steps = crate::pipeline::plan::plan(&ws, p, store, run).await;
            if self.json {
                print_json(&steps);
            } else {
                print_plan(&steps);
            }
            return match steps.iter().any(|s| s.error().is_some()) {
                true => Err(Failure::bad(String::new())),
                false => Ok(()),
            };
        }
        if !self.json {
            note!(
                "run {} · {} · target {} · logs in {}",
                run.id,
                p.name,
                target,
                ws.run_dir(&run.id).display()
            );
        }
        let r = drive(ws, p, store, run, self.json).await?;
        match r.state {
            RunState::Succeeded => Ok(()),
            _ => Err(Failure::failed(String::new())),
        }
    }
}

/// Execute (or resume) a run in the foreground: phase changes on stderr (JSON lines on stdout with
/// `json`). Ctrl-C cancels the run. SIGTERM and SIGHUP (the session went away) stop it the way
/// quitting the TUI does: a local phase is stopped and the run ends cancelled; a phase on a cluster
/// goes on (exit 143), and the next tandem re-attaches to it. The final record.
pub(super) async fn drive(
    ws: Workspace,
    p: Arc<Project>,
    store: Arc<dyn ObjectStore>,
    run: Run,
    json: bool,
) -> Result<Run, Failure> {
    use tokio::signal::unix::{signal, SignalKind};
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RunEvent>(256);
    let handle = tokio::spawn(execute(ws, p, store, run, cancel.clone(), tx));
    let mut last: HashMap<Seen, RunState> = Default::default();
    let mut latest: Option<Run> = None;
    let (mut term, mut hup) = (
        signal(SignalKind::terminate()).ok(),
        signal(SignalKind::hangup()).ok(),
    );
    let mut left_on_cluster = false;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(RunEvent::Updated(r)) => {
                    print_phase_changes(&r, &mut last, json);
                    latest = Some(*r);
                }
                Some(_) => {}
                None => break,
            },
            _ = tokio::signal::ctrl_c(), if !cancel.is_cancelled() => {
                note!("cancelling (SIGTERM, then SIGKILL after the grace period)…");
                cancel.cancel();
            }
            _ = recv(&mut term), if !cancel.is_cancelled() => {
                if !quit(&latest, &cancel) { left_on_cluster = true; break }
            }
            _ = recv(&mut hup), if !cancel.is_cancelled() => {
                if !quit(&latest, &cancel) { left_on_cluster = true; break }
            }
        }
    }
    if let Some(r) = latest.as_ref().filter(|_| left_on_cluster) {
        // stopped with a job on a cluster: it goes on; the lease lapses and resume picks it up
        handle.abort();
        return Err(Failure {
            code: 143,
            msg: format!(
                "stopped; {} goes on on its cluster: `tandem runs resume {}` follows it again",
                r.current_phase()
                    .map(|p| p.phase.as_str())
                    .unwrap_or("the run"),
                r.id
            ),
        });
    }
    let r = handle.await.map_err(|e| Failure::failed(e.to_string()))?;
    // not ended: another tandem drives it (the caller follows it)
    if r.state.is_terminal() {
        print_run_end(&r, json);
    }
    Ok(r)
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// SIGTERM or SIGHUP: a run on a local phase is cancelled (true: wait for it to stop); one on a
/// cluster is left to go on (false: stop now).
fn quit(latest: &Option<Run>, cancel: &tokio_util::sync::CancellationToken) -> bool {
    if latest.as_ref().is_none_or(Run::stops_with_tandem) {
        cancel.cancel();
        true
    } else {
        false
    }
}

pub(super) fn print_phase_changes(r: &Run, last: &mut HashMap<Seen, RunState>, json: bool) {
    for ph in &r.phases {
        print_element_changes(r, ph, last, json);
        let seen = Seen::Phase(ph.phase);
        if last.get(&seen) == Some(&ph.state) {
            continue;
        }
        last.insert(seen, ph.state);
        if json {
            emit!(
                "{}",
                serde_json::json!({"event": "phase", "run": r.id, "phase": ph.phase, "state": ph.state, "engine_id": ph.engine_id, "placement": ph.placement, "message": ph.message})
            );
        } else {
            let d = ph
                .duration(chrono::Utc::now())
                .map(fmt_duration)
                .unwrap_or_default();
            let msg = ph
                .message
                .as_deref()
                .map(|m| format!(" · {}", crate::observe::sanitize(m)))
                .unwrap_or_default();
            note!(
                "  {} {:<10} {:<9} {d}{msg}",
                ph.state.glyph(),
                ph.phase.as_str(),
                ph.state.as_str()
            );
        }
    }
}

/// What a state was last printed for: a phase, or an element of its sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Seen {
    Phase(PhaseId),
    Element(PhaseId, u32),
}

/// A sweep's elements as their states change: every change as a JSON line with `json`; on a
/// terminal, each element's end (one line each, the parameters first).
fn print_element_changes(
    r: &Run,
    ph: &crate::pipeline::PhaseRun,
    last: &mut HashMap<Seen, RunState>,
    json: bool,
) {
    for e in &ph.elements {
        let seen = Seen::Element(ph.phase, e.index);
        if last.get(&seen) == Some(&e.state) {
            continue;
        }
        last.insert(seen, e.state);
        if json {
            emit!(
                "{}",
                serde_json::json!({"event": "element", "run": r.id, "phase": ph.phase, "element": e.index, "params": serde_json::to_value(e).ok().and_then(|v| v.get("params").cloned()), "state": e.state, "engine_id": e.engine_id, "exit_code": e.exit_code, "message": e.message})
            );
        } else if e.state.is_terminal() {
            let d = e
                .duration(chrono::Utc::now())
                .map(fmt_duration)
                .unwrap_or_default();
            let msg = e
                .message
                .as_deref()
                .map(|m| format!(" · {}", crate::observe::sanitize(m)))
                .unwrap_or_default();
            note!(
                "    {} {}[{}] {} {:<9} {d}{msg}",
                e.state.glyph(),
                ph.phase,
                e.index,
                e.label(),
                e.state.as_str()
            );
        }
    }
}

pub(super) fn print_run_end(r: &Run, json: bool) {
    if json {
        // JSON lines: the events above, then the final record
        emit!("{}", serde_json::json!({"event": "end", "run": r}));
    } else {
        note!(
            "run {} {} in {}",
            r.id,
            r.state,
            r.duration(chrono::Utc::now())
                .map(fmt_duration)
                .unwrap_or_default()
        );
    }
}

/// `run --dry-run` for people: each phase's requests, scripts shown as they would run.
fn print_plan(steps: &[Step]) {
    emit!("dry run: nothing is sent");
    for st in steps {
        let phase = st.phase.as_str();
        let (engine, to, sent) = match &st.planned {
            Planned::Error { error } => {
                emit!("\n== {phase}: error: {}", crate::observe::sanitize(error));
                continue;
            }
            Planned::Local { argv, env, cwd, .. } => {
                emit!("\n== {phase} · local · local process");
                emit!("$ {}", crate::observe::sanitize(&shell_words(argv)));
                emit!(
                    "cwd: {}",
                    crate::observe::sanitize(&cwd.display().to_string())
                );
                if !env.is_empty() {
                    emit!(
                        "env: {}",
                        clean_block(&serde_json::to_string_pretty(env).unwrap_or_default())
                    );
                }
                continue;
            }
            Planned::Remote {
                engine,
                to,
                requests,
            } => (engine, to, requests),
        };
        emit!("\n== {phase} · {engine} · {}", crate::observe::sanitize(to));
        for s in sent {
            match &s.request {
                Outgoing::Command { argv, .. } => {
                    // the script travels inside argv; it is shown once below
                    match &s.script {
                        None => emit!("$ {}", crate::observe::sanitize(&shell_words(argv))),
                        Some(_) => emit!(
                            "$ {} …",
                            crate::observe::sanitize(&shell_words(
                                &argv[..argv.len().saturating_sub(1)]
                            ))
                        ),
                    }
                }
                Outgoing::Aws { api, request, .. } => {
                    emit!("{api}");
                    emit!(
                        "{}",
                        clean_block(&serde_json::to_string_pretty(request).unwrap_or_default())
                    );
                }
                Outgoing::Http {
                    method, url, body, ..
                } => {
                    emit!("{method} {}", crate::observe::sanitize(url));
                    if let Some(b) = body {
                        emit!(
                            "body: {}",
                            clean_block(&serde_json::to_string_pretty(b).unwrap_or_default())
                        );
                    }
                }
            }
            for (text, label) in [
                (&s.script, "script run on the head node"),
                (&s.batch_script, "batch script"),
            ] {
                if let Some(t) = text {
                    emit!("--- {label}\n{}\n---", clean_block(t.trim_end()));
                }
            }
        }
    }
}

/// A command line as a shell would take it back (each word quoted as needed).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            shlex::try_quote(w)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| w.clone())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
