//! A phase as a process on this machine: its inputs made local, its command started under the
//! supervisor in a process group of its own (pid and start time journalled), followed to its end
//! with a metric sample a second, stopped on cancel (SIGTERM, then SIGKILL after the grace
//! period), its outputs uploaded when the store is not a local directory. A process that a killed
//! tandem left behind is found again by its pid and start time.

use super::super::plan::Step;
use super::super::run::{ElementRun, RunState};
use super::super::runner::{self, Exit, ProcessSpec, Supervisor};
use super::super::workspace::Part;
use super::Exec;
use crate::project::{render, PhaseId};
use chrono::Utc;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Where a local phase writes: its output directory, and the store prefix it is uploaded to when
/// that directory is a staged copy.
struct Output {
    dir: PathBuf,
    upload: Option<(String, String)>,
}

impl Exec<'_> {
    fn local_output(&self, phase: PhaseId) -> Output {
        let (b, k) = self.output_at(phase);
        // a directory store is written in place; any other is staged, then uploaded on success
        match self.dir_of(b, k) {
            Some(dir) => Output { dir, upload: None },
            None => Output {
                dir: self.ws.stage_dir(&self.run.id, phase, "output"),
                upload: Some((b.to_string(), k.to_string())),
            },
        }
    }

    pub(super) async fn run_local(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
    ) -> RunState {
        let Some(local) = self.project.phase(phase).local.clone() else {
            return self
                .fail(phase, "this phase has no `local` section".into())
                .await;
        };
        let input = match self.input_of(phase).await {
            Ok(i) => i,
            Err(e) => return self.fail(phase, e).await,
        };
        let out = self.local_output(phase);
        if self.dry.is_none() {
            let _ = std::fs::create_dir_all(&out.dir);
        }
        let vars = self.vars(
            &input.display().to_string(),
            &out.dir.display().to_string(),
            &self.ws.run_dir(&self.run.id).display().to_string(),
        );
        let argv: Vec<String> = local.command.iter().map(|a| render(a, &vars)).collect();
        let env = local
            .env
            .iter()
            .map(|(k, v)| (k.clone(), render(v, &vars)))
            .collect();
        let spec = ProcessSpec {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            env,
            cwd: self.project.dir.clone(),
            stdout: self.ws.log_path(&self.run.id, phase, false),
            stderr: self.ws.log_path(&self.run.id, phase, true),
            grace: Duration::from_secs(local.grace_seconds),
            supervisor: Some(Supervisor {
                exe: self.ws.exe.clone(),
                exit_file: self.ws.exit_path(&self.run.id, phase),
            }),
        };
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(input.display().to_string());
            p.command = argv.clone();
        }
        if let Some(d) = self.dry.as_mut() {
            d.push(Step::local(phase, None, &spec, out.dir.clone()));
            return RunState::Succeeded;
        }
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        self.note(phase, &format!("starting {}", argv.join(" ")));
        let child = match runner::spawn(&spec) {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        // running is journalled with its pid and start time, so that a restarted tandem can tell
        // a running phase from a lost one, and its process from a later one with the same pid
        let pid = child.id();
        if let Some(p) = self.run.phase_mut(phase) {
            p.pid = pid;
            p.pid_start = pid.and_then(runner::start_time);
            p.state = RunState::Running;
            p.started = Some(Utc::now());
        }
        self.publish().await;
        let mut metrics = self.metric_sink(phase);
        let result = runner::supervise(child, &spec, cancel, &mut metrics).await;
        self.finish_local(phase, result.map(Some), &out).await
    }

    /// A local phase a stopped tandem left running: followed while its process lives (found by
    /// pid and start time), then ended as its supervisor recorded; never called gone while alive.
    pub(super) async fn reattach_local(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
    ) -> RunState {
        let (pid, start) = match self.run.phase(phase) {
            Some(p) => (p.pid, p.pid_start),
            None => (None, None),
        };
        let Some(pid) = pid else {
            return self
                .lost(
                    phase,
                    "tandem stopped before this phase's process was recorded; it did not start",
                )
                .await;
        };
        let out = self.local_output(phase);
        let exit_file = self.ws.exit_path(&self.run.id, phase);
        if runner::same_process(pid, start) {
            self.note(
                phase,
                &format!("re-attaching to process {pid}, which a tandem that stopped left running"),
            );
            let grace = self.project.phase(phase).grace();
            let mut metrics = self.metric_sink(phase);
            let stopped = runner::follow_orphan(pid, start, grace, cancel, &mut metrics).await;
            if stopped == Some(Exit::Cancelled) {
                return self.finish_local(phase, Ok(stopped), &out).await;
            }
        }
        match runner::read_exit(&exit_file) {
            Some(e) => {
                self.note(
                    phase,
                    &format!("process {pid} ended while no tandem followed it: {e:?}"),
                );
                self.finish_local(phase, Ok(Some(e.into())), &out).await
            }
            None => self.lost(phase, &runner::gone_without_a_trace(pid)).await,
        }
    }

    /// Each metric sample appended to the phase's metrics file and sent to the UI.
    fn metric_sink(&self, phase: PhaseId) -> impl FnMut(runner::MetricSample) {
        let path = self.ws.metrics_path(&self.run.id, phase);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        let (run_id, events) = (self.run.id.clone(), self.events.clone());
        move |sample| {
            if let Some(f) = file.as_mut() {
                let _ = serde_json::to_writer(&mut *f, &sample);
                let _ = f.write_all(b"\n");
            }
            let _ = events.try_send(super::super::RunEvent::Metric {
                run_id: run_id.clone(),
                phase,
                sample,
            });
        }
    }

    /// The end of a local process: its state from how it ended (a SIGTERM or SIGINT from outside
    /// is a cancel too), its outputs uploaded when staged.
    async fn finish_local(
        &mut self,
        phase: PhaseId,
        result: std::io::Result<Option<Exit>>,
        out: &Output,
    ) -> RunState {
        let (state, code, msg) = outcome(result, || self.last_error_line(phase));
        let (state, msg) = match (state, &out.upload) {
            (RunState::Succeeded, Some((b, k))) => {
                match self.upload_output(phase, &out.dir, b, k).await {
                    Ok(()) => (state, msg),
                    Err(e) => (RunState::Failed, Some(e)),
                }
            }
            _ => (state, msg),
        };
        self.end(phase, state, code, msg).await
    }

    /// Where element `i` of a swept local phase writes (see [`Exec::local_output`]).
    fn element_output(&self, phase: PhaseId, e: &ElementRun) -> Output {
        let (b, k) = crate::storage::split_location(&e.output);
        match self.dir_of(b, k) {
            Some(dir) => Output { dir, upload: None },
            None => Output {
                dir: self
                    .ws
                    .stage_dir(&self.run.id, Part::element(phase, e.index), "output"),
                upload: Some((b.to_string(), k.to_string())),
            },
        }
    }

    /// A swept phase here: each element a process under its supervisor, at most `max_parallel`
    /// (default: the machine's cores) at once; elements a stopped tandem left running are
    /// followed again (or ended as their supervisor recorded); cancel stops the running ones and
    /// starts no more.
    pub(super) async fn run_local_sweep(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
    ) -> RunState {
        use futures::stream::{FuturesUnordered, StreamExt};
        let Some(local) = self.project.phase(phase).local.clone() else {
            return self
                .fail(phase, "this phase has no `local` section".into())
                .await;
        };
        let input = match self.input_of(phase).await {
            Ok(i) => i.display().to_string(),
            Err(e) => return self.fail(phase, e).await,
        };
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let limit = self.max_parallel(phase, cores);
        let grace = Duration::from_secs(local.grace_seconds);
        // every element's process, made before any starts
        let mut specs: std::collections::BTreeMap<u32, (ProcessSpec, Output)> = Default::default();
        for e in self.elements(phase).to_vec() {
            let part = Part::element(phase, e.index);
            let out = self.element_output(phase, &e);
            let vars = self.element_vars(&e, &input, &out.dir.display().to_string());
            let argv: Vec<String> = local.command.iter().map(|a| render(a, &vars)).collect();
            let mut env: std::collections::BTreeMap<String, String> = local
                .env
                .iter()
                .map(|(k, v)| (k.clone(), render(v, &vars)))
                .collect();
            env.extend(e.element().env());
            let spec = ProcessSpec {
                program: argv[0].clone(),
                args: argv[1..].to_vec(),
                env,
                cwd: self.project.dir.clone(),
                stdout: self.ws.log_path(&self.run.id, part, false),
                stderr: self.ws.log_path(&self.run.id, part, true),
                grace,
                supervisor: Some(Supervisor {
                    exe: self.ws.exe.clone(),
                    exit_file: self.ws.exit_path(&self.run.id, part),
                }),
            };
            specs.insert(e.index, (spec, out));
        }
        if let Some(d) = self.dry.as_mut() {
            for (i, (spec, out)) in specs {
                d.push(Step::local(phase, Some(i), &spec, out.dir));
            }
            return RunState::Succeeded;
        }
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        type Ended = (u32, std::io::Result<Option<Exit>>);
        let mut running: FuturesUnordered<futures::future::BoxFuture<'static, Ended>> =
            FuturesUnordered::new();
        // elements a stopped tandem left: followed while their process lives
        for e in self.elements(phase).to_vec() {
            if !e.state.is_active() {
                continue;
            }
            let Some(pid) = e.pid else {
                // recorded as started but no process was: start it again
                self.set_element(phase, e.index, RunState::Pending, None, None);
                continue;
            };
            let (i, start, c) = (e.index, e.pid_start, cancel.clone());
            if runner::same_process(pid, start) {
                self.note_element(phase, i, &format!("re-attaching to process {pid}"));
                running.push(Box::pin(async move {
                    (
                        i,
                        Ok(runner::follow_orphan(pid, start, grace, &c, |_| {}).await),
                    )
                }));
            } else {
                running.push(Box::pin(async move { (i, Ok(None)) }));
            }
        }
        let mut queue: std::collections::VecDeque<u32> = self
            .elements(phase)
            .iter()
            .filter(|e| e.state == RunState::Pending)
            .map(|e| e.index)
            .collect();
        loop {
            let mut started = false;
            while running.len() < limit && !cancel.is_cancelled() {
                let Some(i) = queue.pop_front() else { break };
                let Some((spec, _)) = specs.get(&i) else {
                    continue;
                };
                let spec = spec.clone();
                self.note_element(
                    phase,
                    i,
                    &format!("starting {} {}", spec.program, spec.args.join(" ")),
                );
                match runner::spawn(&spec) {
                    Ok(child) => {
                        let pid = child.id();
                        if let Some(e) = self.element_mut(phase, i) {
                            e.pid = pid;
                            e.pid_start = pid.and_then(runner::start_time);
                        }
                        self.set_element(phase, i, RunState::Running, None, None);
                        let c = cancel.clone();
                        running.push(Box::pin(async move {
                            let r = runner::supervise(child, &spec, &c, |_| {}).await;
                            (i, r.map(Some))
                        }));
                    }
                    Err(e) => {
                        self.set_element(phase, i, RunState::Failed, None, Some(e.to_string()));
                    }
                }
                started = true;
            }
            if started {
                self.publish_sweep(phase).await;
            }
            let Some((i, result)) = running.next().await else {
                break;
            };
            // an orphan that is gone: how it ended is in its supervisor's file
            let result = match result {
                Ok(None) => {
                    let exit = self.ws.exit_path(&self.run.id, Part::element(phase, i));
                    match runner::read_exit(&exit) {
                        Some(e) => Ok(Some(e.into())),
                        None => Ok(None),
                    }
                }
                r => r,
            };
            let part = Part::element(phase, i);
            let (mut state, code, mut msg) = outcome(result, || self.last_error_line(part));
            if state == RunState::Succeeded {
                if let Some((dir, (b, k))) = specs
                    .get(&i)
                    .and_then(|(_, o)| o.upload.clone().map(|u| (o.dir.clone(), u)))
                {
                    if let Err(e) = self.upload_output(phase, &dir, &b, &k).await {
                        (state, msg) = (RunState::Failed, Some(e));
                    }
                }
            }
            self.set_element(phase, i, state, code, msg);
            self.publish_sweep(phase).await;
        }
        if cancel.is_cancelled() {
            self.cancel_unstarted(phase);
        }
        self.end_sweep(phase).await
    }
}

/// How a local process ended, as a state, an exit code and a message (a SIGTERM or SIGINT from
/// outside this tandem is a cancel too); `last_error` gives the last line it wrote to stderr.
fn outcome(
    result: std::io::Result<Option<Exit>>,
    last_error: impl FnOnce() -> Option<String>,
) -> (RunState, Option<i32>, Option<String>) {
    use nix::sys::signal::Signal;
    match result {
        Ok(Some(Exit::Code(0))) => (RunState::Succeeded, Some(0), None),
        Ok(Some(Exit::Code(c))) => (
            RunState::Failed,
            Some(c),
            Some(last_error().unwrap_or_else(|| format!("exited with code {c}"))),
        ),
        Ok(Some(Exit::Signal(s))) if s == Signal::SIGTERM as i32 || s == Signal::SIGINT as i32 => (
            RunState::Cancelled,
            None,
            Some(format!("stopped by signal {s} from outside this tandem")),
        ),
        Ok(Some(Exit::Signal(s))) => (
            RunState::Failed,
            None,
            Some(format!("killed by signal {s}")),
        ),
        Ok(Some(Exit::Cancelled)) => (RunState::Cancelled, None, Some("cancelled".into())),
        Ok(None) => (
            RunState::Lost,
            None,
            Some("its process ended and left no exit status".into()),
        ),
        Err(e) => (RunState::Failed, None, Some(e.to_string())),
    }
}
