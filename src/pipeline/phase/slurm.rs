//! A phase as a Slurm job on the target's cluster: a batch script submitted through the target's
//! transport (once per run directory: the submit script keeps a marker there, so a second
//! submission answers with the first job's id), followed one round trip per poll (state plus the
//! new bytes of its logs, appended to the phase's local log files), cancelled with scancel.

use super::super::journal::LogOffsets;
use super::super::plan::{Planned, Sent, Step};
use super::super::run::RunState;
use super::{Exec, LogSink};
use crate::engine::slurm::JobStatus;
use crate::pipeline::run::Attempt;
use crate::project::{render, PhaseId, Retry, RetryOn, SlurmTarget, WorkDir};
use chrono::Utc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The run directory of try `n` of a job (0: the first, in `base`; then `base/aN`, with its own
/// submit marker, script and logs).
fn try_dir(base: &str, n: usize) -> String {
    if n == 0 {
        base.to_string()
    } else {
        format!("{}/a{n}", base.trim_end_matches('/'))
    }
}

/// What a job asks for, for a note: `8.0 GiB, 01:30:00`.
fn asks(job: &crate::engine::slurm::JobSpec) -> String {
    let mem = job.memory_gb.map(|m| format!("{m:.1} GiB of memory"));
    let time = job
        .time_limit
        .as_ref()
        .map(|t| format!("a time limit of {t}"));
    match (mem, time) {
        (Some(m), Some(t)) => format!("{m}, {t}"),
        (Some(x), None) | (None, Some(x)) => x,
        (None, None) => "as before".into(),
    }
}

/// The end a retry rule names that a job ended in, if it names it: Slurm's state word, and
/// FAILED only for a non-zero exit code (a job that never ran is not retried for it).
pub fn retry_on(rule: &Retry, st: &JobStatus) -> Option<RetryOn> {
    let on = RetryOn::of_word(&st.state)?;
    if on == RetryOn::Failed && st.exit_code.is_none_or(|c| c == 0) {
        return None;
    }
    rule.on.contains(&on).then_some(on)
}

/// The run state a Slurm job's state means, and a message that keeps Slurm's detail.
pub fn slurm_state(st: &JobStatus) -> (RunState, Option<String>) {
    let word = st.state.as_str();
    let reason = if st.reason.is_empty() || st.reason == "None" {
        String::new()
    } else {
        format!(" ({})", st.reason)
    };
    match word {
        "PENDING" | "REQUEUED" | "RESV_DEL_HOLD" | "REQUEUE_HOLD" | "REQUEUE_FED" => {
            (RunState::Submitted, Some(format!("PENDING{reason}")))
        }
        "RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "STAGE_OUT" | "SIGNALING"
        | "RESIZING" => (
            RunState::Running,
            (word != "RUNNING").then(|| word.to_string()),
        ),
        "COMPLETED" => (RunState::Succeeded, None),
        "CANCELLED" => (RunState::Cancelled, Some(format!("CANCELLED{reason}"))),
        "FAILED" => (
            RunState::Failed,
            Some(match st.exit_code {
                Some(c) if c != 0 => format!("FAILED: exit code {c}"),
                _ => format!("FAILED{reason}"),
            }),
        ),
        "TIMEOUT" => (
            RunState::Failed,
            Some("TIMEOUT: the job ran over its time limit".into()),
        ),
        "OUT_OF_MEMORY" => (
            RunState::Failed,
            Some("OUT_OF_MEMORY: the job ran out of memory".into()),
        ),
        "NODE_FAIL" => (
            RunState::Failed,
            Some("NODE_FAIL: a node of the job failed".into()),
        ),
        "PREEMPTED" => (
            RunState::Failed,
            Some("PREEMPTED: the job was preempted".into()),
        ),
        "BOOT_FAIL" | "DEADLINE" => (RunState::Failed, Some(word.to_string())),
        "" => (
            RunState::Lost,
            Some("Slurm no longer knows this job".into()),
        ),
        other => (RunState::Running, Some(other.to_string())),
    }
}

/// A job that failed without its command having run (slurmd could not launch it): Slurm's own
/// reason and what to check, never "exit code 0".
pub fn never_ran(st: &JobStatus, run_dir: &str, out_path: &str) -> Option<String> {
    let launch = st.reason == "JobLaunchFailure";
    let no_code = st.exit_code.is_none_or(|c| c == 0);
    if st.state != "FAILED" || !(launch || no_code) {
        return None;
    }
    let reason = if st.reason.is_empty() || st.reason == "None" {
        "no reason given".to_string()
    } else {
        st.reason.clone()
    };
    Some(format!(
        "FAILED ({reason}): the job never ran — slurmd could not start it. Check that {run_dir} \
         exists and is writable on the compute nodes (slurmd creates {out_path} there: the \
         work_dir must be on storage the nodes share), and slurmd's log on the node"
    ))
}

impl Exec<'_> {
    /// A phase as a Slurm job on the target's cluster: submitted through the target's transport,
    /// followed one round trip per poll (state plus the new bytes of its logs, appended to the
    /// phase's local log files), cancelled with scancel.
    pub(super) async fn run_slurm(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        st: &SlurmTarget,
    ) -> RunState {
        use crate::engine::slurm::Body;
        let input = match self.input_of(phase).await {
            Ok(i) => i,
            Err(e) => return self.fail(phase, e).await,
        };
        let output = self.remote_output(phase);
        if !output.starts_with("s3://") && self.dry.is_none() {
            let _ = std::fs::create_dir_all(&output);
        }
        let run_dir = self.slurm_run_dir(st, phase);
        let job = match self.slurm_job(phase, &input.display().to_string(), &output, &run_dir) {
            Ok(j) => j,
            Err(e) => return self.fail(phase, e).await,
        };
        let job = self.for_try(phase, job, &self.attempts_of(phase, None));
        let cluster = match self.conns.slurm(self.project, &self.run.target).await {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let (transport, slurm) = (&cluster.transport, cluster.slurm());
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(input.display().to_string());
            p.command = match &job.body {
                Body::Command { argv, .. } => argv.clone(),
                Body::Script(_) => vec![format!("{run_dir}/job.sbatch")],
            };
        }
        if self.dry.is_some() {
            return self
                .plan_slurm(phase, transport.as_ref(), &slurm, &job)
                .await;
        }
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        self.note(
            phase,
            &format!("submitting to Slurm via {}", transport.describe()),
        );
        // the submit script leaves a marker in the run directory: a second submission of this
        // phase (a restarted tandem, another machine) answers with the first job's id
        let job_id = match slurm.submit(&job, cancel).await {
            Ok(id) => id,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        self.note(phase, &format!("Slurm job {job_id}"));
        if let Some(p) = self.run.phase_mut(phase) {
            p.engine_id = Some(job_id.clone());
            p.state = RunState::Submitted;
            p.started = Some(Utc::now());
            p.message = Some("PENDING".into());
        }
        self.publish().await;
        self.slurm_until_done(phase, st, job_id, cancel).await
    }

    /// Follow a phase's Slurm job to its end, and while its retry rule allows, submit it again
    /// (with more memory after running out, more time after its time limit), each try kept as an
    /// attempt with its reason.
    async fn slurm_until_done(
        &mut self,
        phase: PhaseId,
        st: &SlurmTarget,
        mut job_id: String,
        cancel: &CancellationToken,
    ) -> RunState {
        let cluster = match self.conns.slurm(self.project, &self.run.target).await {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let slurm = cluster.slurm();
        loop {
            let tries = self.attempts_of(phase, None);
            let run_dir = try_dir(&self.slurm_run_dir(st, phase), tries.len());
            let (state, status) = self
                .follow_slurm(phase, &slurm, &job_id, &run_dir, st.poll, cancel)
                .await;
            if state != RunState::Failed || cancel.is_cancelled() {
                return state;
            }
            // again, as the retry rule says
            let Some((why, next)) = self.next_try(phase, None, &status, &tries) else {
                return state;
            };
            let input = self
                .run
                .phase(phase)
                .and_then(|p| p.input.clone())
                .unwrap_or_default();
            let output = self.remote_output(phase);
            let base = match self.slurm_job(phase, &input, &output, &self.slurm_run_dir(st, phase))
            {
                Ok(j) => j,
                Err(e) => return self.fail(phase, e).await,
            };
            let mut all = tries.clone();
            all.push(next.clone());
            let job = self.for_try(phase, base, &all);
            self.note(phase, &format!("{why}: submitting again ({})", asks(&job)));
            let id = match slurm.submit(&job, cancel).await {
                Ok(id) => id,
                Err(e) => return self.fail(phase, e.to_string()).await,
            };
            self.note(phase, &format!("Slurm job {id}"));
            let of = 1 + self.retry_max(phase);
            if let Some(p) = self.run.phase_mut(phase) {
                p.attempts.push(next);
                p.engine_id = Some(id.clone());
                p.state = RunState::Submitted;
                p.message = Some(format!("{why}; try {} of {of}", all.len() + 1));
                p.exit_code = None;
                p.ended = None;
            }
            // the new job's logs are new files: read from their start, after what is here
            self.restart_tails(phase.into());
            self.publish().await;
            job_id = id;
        }
    }

    /// The retry rule's most tries beyond the first.
    fn retry_max(&self, phase: PhaseId) -> u32 {
        self.project
            .phase(phase)
            .retry
            .as_ref()
            .map_or(0, |r| r.max)
    }

    /// The attempts before the current try of a phase (or of element `element` of its sweep).
    fn attempts_of(&self, phase: PhaseId, element: Option<u32>) -> Vec<Attempt> {
        let Some(p) = self.run.phase(phase) else {
            return vec![];
        };
        match element {
            None => p.attempts.clone(),
            Some(i) => p
                .elements
                .iter()
                .find(|e| e.index == i)
                .map(|e| e.attempts.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether a try that ended as `status` is tried again, and the attempt it leaves (its
    /// reason, what it asked for, when it ran): None when the rule does not name this end, no
    /// tries are left, or more of what it ran out of cannot be asked for (the phase names no
    /// memory or time limit to scale); the phase's log says which.
    fn next_try(
        &self,
        phase: PhaseId,
        element: Option<u32>,
        status: &JobStatus,
        tries: &[Attempt],
    ) -> Option<(String, Attempt)> {
        let rule = self.project.phase(phase).retry.as_ref()?;
        let on = retry_on(rule, status)?;
        let part = match element {
            Some(i) => crate::pipeline::workspace::Part::element(phase, i),
            None => phase.into(),
        };
        if tries.len() as u32 >= rule.max {
            self.note(
                part,
                &format!(
                    "{}: no tries left ({} of {})",
                    on.word(),
                    tries.len() + 1,
                    rule.max + 1
                ),
            );
            return None;
        }
        let base = self.project.phase(phase);
        let job = self.for_try(
            phase,
            crate::engine::slurm::JobSpec {
                memory_gb: base.resources.memory_gb,
                time_limit: base
                    .slurm
                    .as_ref()
                    .and_then(|t| t.get("time_limit"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .or(base.resources.time_limit.clone()),
                ..Default::default()
            },
            tries,
        );
        let stuck = match on {
            RetryOn::OutOfMemory if job.memory_gb.is_none() => Some("memory_gb"),
            RetryOn::Timeout if job.time_limit.is_none() => Some("time_limit"),
            _ => None,
        };
        if let Some(k) = stuck {
            self.note(
                part,
                &format!(
                    "{}: not tried again: the phase asks for no {k}, so there is nothing to ask more \
                     of (set resources.{k})",
                    on.word()
                ),
            );
            return None;
        }
        let (started, ended, engine_id, message) = match element {
            None => self
                .run
                .phase(phase)
                .map(|p| (p.started, p.ended, p.engine_id.clone(), p.message.clone()))?,
            Some(i) => self
                .elements(phase)
                .iter()
                .find(|e| e.index == i)
                .map(|e| (e.started, e.ended, e.engine_id.clone(), e.message.clone()))?,
        };
        Some((
            on.word().to_string(),
            Attempt {
                engine_id,
                reason: on.word().to_string(),
                memory_gb: job.memory_gb,
                time_limit: job.time_limit,
                started,
                ended,
                message,
            },
        ))
    }

    /// `job` as try `tries.len() + 1` asks for it: the memory times `memory_factor` for each try
    /// that ran out of memory, the time limit times `time_factor` for each that ran out of time.
    fn for_try(
        &self,
        phase: PhaseId,
        mut job: crate::engine::slurm::JobSpec,
        tries: &[Attempt],
    ) -> crate::engine::slurm::JobSpec {
        let Some(rule) = self.project.phase(phase).retry.as_ref() else {
            return job;
        };
        let n = |r: RetryOn| tries.iter().filter(|a| a.reason == r.word()).count() as i32;
        if let Some(m) = job.memory_gb {
            job.memory_gb = Some(m * rule.memory_factor.powi(n(RetryOn::OutOfMemory)));
        }
        if let Some(secs) = job
            .time_limit
            .as_deref()
            .and_then(crate::engine::slurm::time_limit_secs)
        {
            let more = rule.time_factor.powi(n(RetryOn::Timeout));
            job.time_limit = Some(crate::engine::slurm::time_limit_text(
                (secs as f64 * more).ceil() as u64,
            ));
        }
        if !tries.is_empty() && !job.run_dir.is_empty() {
            job.run_dir = try_dir(&job.run_dir, tries.len());
        }
        job
    }

    /// Log tails that start again at the beginning of a new try's files, after what the local
    /// files already hold.
    fn restart_tails(&self, part: crate::pipeline::workspace::Part) {
        let len = |e| {
            std::fs::metadata(self.ws.log_path(&self.run.id, part, e))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        self.save_tail(
            part,
            LogOffsets {
                out_remote: 0,
                out_local: len(false),
                err_remote: 0,
                err_local: len(true),
            },
        );
    }

    /// A poll of job `job` that failed: noted in the phase's log; after ten in a row the phase
    /// fails, having lost contact with its cluster (Some: its end).
    async fn poll_failed(
        &mut self,
        phase: PhaseId,
        failures: &mut u32,
        job: &str,
        e: crate::transport::TransportError,
    ) -> Option<RunState> {
        *failures += 1;
        self.note(phase, &format!("poll failed ({failures}): {e}"));
        if *failures < 10 {
            return None;
        }
        Some(
            self.fail(
                phase,
                format!("lost contact with the cluster (job {job}): {e}"),
            )
            .await,
        )
    }

    /// What submitting `job` would send, for a dry run: the submit script, the transport's
    /// request and the batch script.
    async fn plan_slurm(
        &mut self,
        phase: PhaseId,
        transport: &dyn crate::transport::Transport,
        slurm: &crate::engine::slurm::Slurm<'_>,
        job: &crate::engine::slurm::JobSpec,
    ) -> RunState {
        let sent = slurm.submit_script(job).and_then(|script| {
            Ok(Sent {
                request: transport.dry_run(&script)?,
                script: Some(script),
                batch_script: Some(job.batch_script()?),
            })
        });
        let sent = match sent {
            Ok(v) => v,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let to = transport.describe();
        if let Some(d) = self.dry.as_mut() {
            d.push(Step {
                phase,
                element: None,
                planned: Planned::Remote {
                    engine: "slurm",
                    to,
                    requests: vec![sent],
                },
            });
        }
        RunState::Succeeded
    }

    /// The batch job of a phase: its body (the `slurm` section's command or script, else the
    /// local command under srun), environment and resources, with the placeholders filled in
    /// (a sweep's `{param.NAME}` and `{element}` are left for its elements).
    fn slurm_job(
        &self,
        phase: PhaseId,
        input: &str,
        output: &str,
        run_dir: &str,
    ) -> Result<crate::engine::slurm::JobSpec, String> {
        use crate::engine::slurm::{Body, JobSpec};
        let spec = self.project.phase(phase).clone();
        let table = spec.slurm.clone().unwrap_or_default();
        let vars = self.vars(input, output, run_dir);
        let strings = |v: Option<&toml::Value>| -> Result<Option<Vec<String>>, String> {
            match v {
                None => Ok(None),
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(|s| render(s, &vars))
                            .ok_or_else(|| "expected a list of strings".to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err("expected a list of strings".into()),
            }
        };
        let text = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let body = match (strings(table.get("command")), text("script"), &spec.local) {
            (Err(e), _, _) => return Err(format!("phases.{phase}.slurm.command: {e}")),
            (Ok(Some(argv)), _, _) => Body::Command {
                argv,
                launcher: text("launcher").unwrap_or_else(|| "srun".into()),
            },
            (Ok(None), Some(script), _) => {
                let path = self.project.dir.join(&script);
                match std::fs::read_to_string(&path) {
                    Ok(s) => Body::Script(s),
                    Err(e) => {
                        return Err(format!(
                            "phases.{phase}.slurm.script: {}: {e}",
                            path.display()
                        ))
                    }
                }
            }
            (Ok(None), None, Some(local)) => Body::Command {
                argv: local.command.iter().map(|a| render(a, &vars)).collect(),
                launcher: text("launcher").unwrap_or_else(|| "srun".into()),
            },
            (Ok(None), None, None) => {
                return Err(format!("phases.{phase}.slurm needs `command` or `script`"))
            }
        };
        let mut env: std::collections::BTreeMap<String, String> = [
            ("TANDEM", self.ws.exe.display().to_string()),
            ("INPUT", input.to_string()),
            ("OUTPUT", output.to_string()),
            ("TANDEM_RUN", self.run.id.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(l) = &spec.local {
            for (k, v) in &l.env {
                env.insert(k.clone(), render(v, &vars));
            }
        }
        if let Some(toml::Value::Table(t)) = table.get("env") {
            for (k, v) in t {
                env.insert(k.clone(), render(v.as_str().unwrap_or_default(), &vars));
            }
        }
        let r = &spec.resources;
        let job = JobSpec {
            name: format!("tandem-{}-{phase}", self.project.name),
            nodes: r.nodes,
            tasks_per_node: r.tasks_per_node,
            cpus_per_task: r.cpus_per_task,
            memory_gb: r.memory_gb,
            time_limit: text("time_limit").or(r.time_limit.clone()),
            partition: text("partition").or(r.partition.clone()),
            account: text("account").or(r.account.clone()),
            env,
            run_dir: run_dir.to_string(),
            body,
            hold: table.get("hold").and_then(|h| h.as_bool()).unwrap_or(false),
            array: None,
        };
        Ok(job)
    }

    /// A swept phase as one Slurm job array: one `sbatch --array=0-N%M` whose elements read
    /// their parameters from `params.tsv` beside the script; every element's state (and the new
    /// log bytes of those running) in one round trip per poll; scancel of the array on cancel.
    /// A resumed sweep follows the array it submitted.
    pub(super) async fn run_slurm_array(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        st: &SlurmTarget,
    ) -> RunState {
        use crate::engine::slurm::ArraySpec;
        let run_dir = self.slurm_run_dir(st, phase);
        let cluster = match self.conns.slurm(self.project, &self.run.target).await {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let (transport, slurm) = (&cluster.transport, cluster.slurm());
        let submitted = self.run.phase(phase).and_then(|p| p.engine_id.clone());
        let job_id = match submitted {
            Some(id) => {
                self.note(phase, &format!("re-attaching to Slurm array {id}"));
                id
            }
            None => {
                let input = match self.input_of(phase).await {
                    Ok(i) => i.display().to_string(),
                    Err(e) => return self.fail(phase, e).await,
                };
                // each element's output, as the cluster sees it, with its placeholders left for
                // the element's shell to fill in
                let output = self.element_remote_output(phase);
                let mut job = match self.slurm_job(phase, &input, &output, &run_dir) {
                    Ok(j) => j,
                    Err(e) => return self.fail(phase, e).await,
                };
                let Some(sweep) = self.project.phase(phase).sweep.clone() else {
                    return self
                        .fail(
                            phase,
                            "this run sweeps the phase, but tandem.toml no longer has its sweep"
                                .into(),
                        )
                        .await;
                };
                // values that differ per element are set by each element
                let per_element: std::collections::BTreeMap<String, String> = job
                    .env
                    .iter()
                    .filter(|(_, v)| v.contains("{element}") || v.contains("{param."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                job.env.retain(|k, _| !per_element.contains_key(k));
                job.array = Some(ArraySpec {
                    count: sweep.len() as u32,
                    only: None,
                    max_parallel: sweep.max_parallel,
                    params: sweep.names(),
                    table: sweep.table(),
                    env: per_element,
                });
                if let Some(p) = self.run.phase_mut(phase) {
                    p.input = Some(input.clone());
                    p.command = match &job.body {
                        crate::engine::slurm::Body::Command { argv, .. } => argv.clone(),
                        crate::engine::slurm::Body::Script(_) => {
                            vec![format!("{run_dir}/job.sbatch")]
                        }
                    };
                }
                if self.dry.is_some() {
                    return self
                        .plan_slurm(phase, transport.as_ref(), &slurm, &job)
                        .await;
                }
                if let Err(e) = self.claim(phase) {
                    return self.fail(phase, e).await;
                }
                self.note(
                    phase,
                    &format!(
                        "submitting a job array of {} elements to Slurm via {}",
                        sweep.len(),
                        transport.describe()
                    ),
                );
                let id = match slurm.submit(&job, cancel).await {
                    Ok(id) => id,
                    Err(e) => return self.fail(phase, e.to_string()).await,
                };
                self.note(
                    phase,
                    &format!(
                        "Slurm array {id} ({})",
                        job.array.as_ref().map(|a| a.indexes()).unwrap_or_default()
                    ),
                );
                if let Some(p) = self.run.phase_mut(phase) {
                    p.engine_id = Some(id.clone());
                    p.state = RunState::Submitted;
                    for e in &mut p.elements {
                        e.engine_id = Some(format!("{id}_{}", e.index));
                        if e.state == RunState::Pending {
                            e.state = RunState::Submitted;
                        }
                    }
                }
                self.publish_sweep(phase).await;
                id
            }
        };
        let _ = job_id;
        loop {
            if let Some(end) = self
                .follow_slurm_arrays(phase, &slurm, &run_dir, st.poll, cancel)
                .await
            {
                return end;
            }
            if cancel.is_cancelled() || !self.retry_elements(phase, &slurm, &run_dir, cancel).await
            {
                return self.end_sweep(phase).await;
            }
        }
    }

    /// Elements that ended in a way the retry rule names, submitted again as one array of just
    /// them (`--array=1,4`) in the next try's directory, asking for what the most starved of
    /// them needs; each keeps its try as an attempt. False when none is tried again.
    async fn retry_elements(
        &mut self,
        phase: PhaseId,
        slurm: &crate::engine::slurm::Slurm<'_>,
        run_dir: &str,
        cancel: &CancellationToken,
    ) -> bool {
        use crate::engine::slurm::ArraySpec;
        let mut again: Vec<(u32, String, Attempt)> = Vec::new();
        for e in self.elements(phase).to_vec() {
            if e.state != RunState::Failed {
                continue;
            }
            let status = JobStatus {
                state: e.engine_state.clone().unwrap_or_default(),
                exit_code: e.exit_code,
                ..Default::default()
            };
            if let Some((why, a)) = self.next_try(phase, Some(e.index), &status, &e.attempts) {
                again.push((e.index, why, a));
            }
        }
        if again.is_empty() {
            return false;
        }
        let Some(sweep) = self.project.phase(phase).sweep.clone() else {
            return false;
        };
        // the round: one more than the most any of them was tried
        let tries: Vec<Attempt> = again
            .iter()
            .map(|(i, _, a)| {
                let mut t = self.attempts_of(phase, Some(*i));
                t.push(a.clone());
                t
            })
            .max_by_key(|t| t.len())
            .unwrap_or_default();
        let input = self
            .run
            .phase(phase)
            .and_then(|p| p.input.clone())
            .unwrap_or_default();
        let output = self.element_remote_output(phase);
        let mut job = match self.slurm_job(phase, &input, &output, run_dir) {
            Ok(j) => j,
            Err(e) => {
                self.note(phase, &format!("not tried again: {e}"));
                return false;
            }
        };
        let per_element: std::collections::BTreeMap<String, String> = job
            .env
            .iter()
            .filter(|(_, v)| v.contains("{element}") || v.contains("{param."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        job.env.retain(|k, _| !per_element.contains_key(k));
        // the most memory and time any of them needs
        for t in again.iter().map(|(i, _, a)| {
            let mut t = self.attempts_of(phase, Some(*i));
            t.push(a.clone());
            t
        }) {
            let j = self.for_try(phase, job.clone(), &t);
            job.memory_gb = match (job.memory_gb, j.memory_gb) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => b.or(a),
            };
            job.time_limit = match (&job.time_limit, &j.time_limit) {
                (Some(a), Some(b)) => {
                    let s = |x: &str| crate::engine::slurm::time_limit_secs(x).unwrap_or(0);
                    Some(if s(b) > s(a) { b.clone() } else { a.clone() })
                }
                (a, b) => b.clone().or(a.clone()),
            };
        }
        job.run_dir = try_dir(run_dir, tries.len());
        let only: Vec<u32> = again.iter().map(|(i, _, _)| *i).collect();
        job.array = Some(ArraySpec {
            count: sweep.len() as u32,
            only: Some(only.clone()),
            max_parallel: sweep.max_parallel,
            params: sweep.names(),
            table: sweep.table(),
            env: per_element,
        });
        let reasons: Vec<String> = again.iter().map(|(i, w, _)| format!("{i} {w}")).collect();
        self.note(
            phase,
            &format!(
                "trying {} element(s) again ({}): {}",
                only.len(),
                reasons.join(", "),
                asks(&job)
            ),
        );
        let id = match slurm.submit(&job, cancel).await {
            Ok(id) => id,
            Err(e) => {
                self.note(phase, &format!("not tried again: {e}"));
                return false;
            }
        };
        self.note(
            phase,
            &format!(
                "Slurm array {id} ({})",
                job.array.as_ref().map(|a| a.indexes()).unwrap_or_default()
            ),
        );
        for (i, why, a) in again {
            let of = 1 + self.retry_max(phase);
            if let Some(e) = self.element_mut(phase, i) {
                e.attempts.push(a);
                e.engine_id = Some(format!("{id}_{i}"));
                e.state = RunState::Submitted;
                e.message = Some(format!("{why}; try {} of {of}", e.attempts.len() + 1));
                e.exit_code = None;
                e.engine_state = None;
                e.started = None;
                e.ended = None;
            }
            self.note_element(phase, i, &format!("{why}: trying again as {id}_{i}"));
            self.restart_tails(crate::pipeline::workspace::Part::element(phase, i));
        }
        self.publish_sweep(phase).await;
        true
    }

    /// Follow a sweep's Slurm arrays until every element has ended and its logs are read: each
    /// element's job (`JOB_N`) and run directory come from its own record (a retried element is
    /// in a later array, in the next try's directory); one round trip per array per poll brings
    /// every element's state and the new log bytes of those running; scancel of each array on
    /// cancel. Some: the phase's end (contact with the cluster lost).
    async fn follow_slurm_arrays(
        &mut self,
        phase: PhaseId,
        slurm: &crate::engine::slurm::Slurm<'_>,
        run_dir: &str,
        poll: Duration,
        cancel: &CancellationToken,
    ) -> Option<RunState> {
        use crate::pipeline::workspace::Part;
        // (array job, its run directory) of element i, from its engine id and its tries
        let where_of = |e: &crate::pipeline::run::ElementRun| -> Option<(String, String)> {
            let id = e.engine_id.as_deref()?;
            let job = id.rsplit_once('_').map(|(j, _)| j)?.to_string();
            Some((job, try_dir(run_dir, e.attempts.len())))
        };
        let paths = |job: &str, dir: &str, i: u32| {
            let base = dir.trim_end_matches('/');
            (
                format!("{base}/slurm-{job}_{i}.out"),
                format!("{base}/slurm-{job}_{i}.err"),
            )
        };
        let mut sinks: std::collections::BTreeMap<u32, [LogSink; 2]> = Default::default();
        // elements whose logs are read to their end
        let mut drained: std::collections::BTreeSet<u32> = self
            .elements(phase)
            .iter()
            .filter(|e| e.state.is_terminal())
            .map(|e| e.index)
            .collect();
        let quiet = CancellationToken::new();
        let mut cancelled = false;
        let mut failures = 0;
        let mut first = true;
        // since when an element that was running has been in no answer (one that just ended can
        // be in neither squeue nor sacct for a few seconds: the next polls ask scontrol for it by
        // name; without accounting it leaves scontrol after MinJobAge)
        let mut unseen: std::collections::BTreeMap<u32, tokio::time::Instant> = Default::default();
        loop {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = cancel.cancelled(), if !cancelled => {}
                }
            }
            first = false;
            let elements = self.elements(phase).to_vec();
            let mut arrays: std::collections::BTreeMap<(String, String), Vec<u32>> =
                Default::default();
            for e in elements.iter().filter(|e| !drained.contains(&e.index)) {
                if let Some(k) = where_of(e) {
                    arrays.entry(k).or_default().push(e.index);
                }
            }
            if cancel.is_cancelled() && !cancelled {
                cancelled = true;
                for (job, _) in arrays.keys() {
                    self.note(phase, &format!("cancelling Slurm array {job} (scancel)"));
                    if let Err(e) = slurm.cancel(job, &quiet).await {
                        self.note(phase, &format!("scancel: {e}"));
                    }
                }
            }
            let mut changed = false;
            for ((job, dir), members) in &arrays {
                // the logs of every element of it that has started and is not read to its end
                let want: Vec<(u32, String, String, (u64, u64))> = members
                    .iter()
                    .filter(|i| {
                        elements.iter().any(|e| {
                            e.index == **i
                                && (e.state == RunState::Running || e.state.is_terminal())
                        })
                    })
                    .map(|&i| {
                        let s = sinks.entry(i).or_insert_with(|| {
                            LogSink::pair(self.ws, &self.run.id, Part::element(phase, i))
                        });
                        let (o, e) = paths(job, dir, i);
                        (i, o, e, (s[0].remote, s[1].remote))
                    })
                    .collect();
                let missing: Vec<u32> = members
                    .iter()
                    .copied()
                    .filter(|i| unseen.contains_key(i))
                    .collect();
                let p = match slurm.poll_array(job, &want, &missing, &quiet).await {
                    Ok(p) => {
                        failures = 0;
                        p
                    }
                    Err(e) => match self.poll_failed(phase, &mut failures, job, e).await {
                        Some(end) => return Some(end),
                        None => continue,
                    },
                };
                let each = slurm.transport.max_output() / (2 * want.len().max(1));
                for (i, (out, err)) in &p.logs {
                    if let Some(s) = sinks.get_mut(i) {
                        s[0].write(out);
                        s[1].write(err);
                        let (o, e) = (s[0].mark(), s[1].mark());
                        self.save_tail(
                            Part::element(phase, *i),
                            LogOffsets {
                                out_remote: o.0,
                                out_local: o.1,
                                err_remote: e.0,
                                err_local: e.1,
                            },
                        );
                    }
                    let was_over = elements
                        .iter()
                        .any(|e| e.index == *i && e.state.is_terminal());
                    if was_over && out.len() < each.max(4096) && err.len() < each.max(4096) {
                        drained.insert(*i);
                    }
                }
                for &i in members {
                    let Some(e) = elements.iter().find(|e| e.index == i) else {
                        continue;
                    };
                    if e.state.is_terminal() {
                        continue;
                    }
                    let Some(status) = p.elements.get(&i) else {
                        let since = *unseen.entry(i).or_insert_with(tokio::time::Instant::now);
                        if e.state == RunState::Running
                            && since.elapsed() >= std::time::Duration::from_secs(120)
                        {
                            // it ran and Slurm forgot it (MinJobAge passed while no tandem
                            // followed)
                            changed |= self.set_element(
                                phase,
                                i,
                                RunState::Lost,
                                None,
                                Some("Slurm no longer knows this element".into()),
                            );
                        }
                        continue;
                    };
                    unseen.remove(&i);
                    let (state, msg) = slurm_state(status);
                    let (o, _) = paths(job, dir, i);
                    let msg = match never_ran(status, dir, &o) {
                        Some(why) if state.is_terminal() => Some(why),
                        _ => msg,
                    };
                    let msg = match (state, msg) {
                        (RunState::Failed, m) => {
                            let line = self.last_error_line(Part::element(phase, i));
                            match (m, line) {
                                (Some(m), Some(l)) => {
                                    Some(format!("{m} — {}", crate::observe::sanitize(&l)))
                                }
                                (m, l) => m.or(l),
                            }
                        }
                        (_, m) => m,
                    };
                    changed |= self.set_element(phase, i, state, status.exit_code, msg);
                    if let Some(e) = self.element_mut(phase, i) {
                        e.engine_state = Some(status.state.clone());
                    }
                }
            }
            if changed {
                self.publish_sweep(phase).await;
            }
            let elements = self.elements(phase);
            let all_over = elements.iter().all(|e| e.state.is_terminal());
            let all_read = elements
                .iter()
                .filter(|e| e.started.is_some())
                .all(|e| drained.contains(&e.index));
            if all_over && all_read {
                return None;
            }
            if all_over {
                // read the rest of the logs at once
                first = true;
            }
        }
    }

    /// The run directory of a phase's Slurm job on the cluster: `WORK_DIR/RUN/PHASE`, where a
    /// work_dir under the login's home stays `~/…` (expanded on the head node, not here) and the
    /// local transport's default is under tandem's data dir.
    fn slurm_run_dir(&self, st: &SlurmTarget, phase: PhaseId) -> String {
        let base = match &st.work_dir {
            WorkDir::Path(p) => p.trim_end_matches('/').to_string(),
            WorkDir::Home(rel) if rel.is_empty() => "~".to_string(),
            WorkDir::Home(rel) => format!("~/{}", rel.trim_end_matches('/')),
            WorkDir::DataDir => self.ws.data_dir.join("cluster").display().to_string(),
        };
        format!("{base}/{}/{phase}", self.run.id)
    }

    /// A Slurm job left by a stopped tandem, followed again on the target's cluster.
    pub(super) async fn reattach_slurm(
        &mut self,
        phase: PhaseId,
        st: &SlurmTarget,
        id: &str,
        cancel: &CancellationToken,
    ) -> RunState {
        self.slurm_until_done(phase, st, id.to_string(), cancel)
            .await
    }

    /// Follow a Slurm job to its end, one round trip per poll (state plus the new bytes of its
    /// logs from where the journal says the tails stood, appended to the phase's local log
    /// files, the new position committed after each write); scancel on cancel.
    async fn follow_slurm(
        &mut self,
        phase: PhaseId,
        slurm: &crate::engine::slurm::Slurm<'_>,
        job_id: &str,
        run_dir: &str,
        poll: Duration,
        cancel: &CancellationToken,
    ) -> (RunState, JobStatus) {
        let paths = crate::engine::slurm::JobSpec {
            run_dir: run_dir.to_string(),
            ..Default::default()
        };
        let out_path = paths.stdout_path().replace("%j", job_id);
        let err_path = paths.stderr_path().replace("%j", job_id);
        let mut sinks = LogSink::pair(self.ws, &self.run.id, phase);
        let commit = |this: &Self, sinks: &[LogSink; 2]| {
            let (o, e) = (sinks[0].mark(), sinks[1].mark());
            this.save_tail(
                phase,
                LogOffsets {
                    out_remote: o.0,
                    out_local: o.1,
                    err_remote: e.0,
                    err_local: e.1,
                },
            );
        };
        // the starting point first, so a crash at any later moment resumes from a commit
        commit(self, &sinks);
        let mut failures = 0;
        let mut cancelled = false;
        let half = slurm.transport.max_output() / 2;
        let quiet = CancellationToken::new();
        // the log's bytes streamed where the transport can, with the state every `poll`
        let mut follow = crate::engine::joblog::LogFollow::new(
            slurm,
            job_id,
            (out_path.clone(), err_path.clone()),
            (sinks[0].remote, sinks[1].remote),
            poll,
        );
        let mut said = None;
        loop {
            let r = {
                let next = follow.next(&quiet);
                tokio::pin!(next);
                loop {
                    tokio::select! {
                        r = &mut next => break r,
                        _ = cancel.cancelled(), if !cancelled => {
                            cancelled = true;
                            self.note(phase, &format!("cancelling Slurm job {job_id} (scancel)"));
                            if let Err(e) = slurm.cancel(job_id, &quiet).await {
                                self.note(phase, &format!("scancel: {e}"));
                            }
                        }
                    }
                }
            };
            let p = match r {
                Ok(p) => {
                    failures = 0;
                    p
                }
                Err(e) => match self.poll_failed(phase, &mut failures, job_id, e).await {
                    Some(end) => return (end, JobStatus::default()),
                    None => {
                        tokio::time::sleep(poll.min(Duration::from_secs(2))).await;
                        continue;
                    }
                },
            };
            let reading = follow.reading();
            if !p.status.is_over() && said.as_ref() != Some(&reading) {
                self.note(phase, &format!("job {job_id}'s log: {reading}"));
                said = Some(reading);
            }
            if !p.stdout.is_empty() || !p.stderr.is_empty() {
                sinks[0].write(&p.stdout);
                sinks[1].write(&p.stderr);
                commit(self, &sinks);
            }
            let drain = p.stdout.len() >= half || p.stderr.len() >= half;
            let (state, msg) = slurm_state(&p.status);
            let changed = self
                .run
                .phase(phase)
                .is_some_and(|x| x.state != state || x.message != msg);
            if changed {
                if let Some(x) = self.run.phase_mut(phase) {
                    x.state = state;
                    x.message = msg.clone();
                    x.exit_code = p.status.exit_code;
                    if state.is_terminal() {
                        x.ended = Some(Utc::now());
                    }
                }
                self.publish().await;
            }
            if state.is_terminal() && !drain {
                if let Some(why) = never_ran(&p.status, run_dir, &out_path) {
                    if let Some(x) = self.run.phase_mut(phase) {
                        x.message = Some(why.clone());
                    }
                    self.note(phase, &why);
                    self.publish().await;
                } else if state == RunState::Failed {
                    if let Some(line) = self.last_error_line(phase) {
                        if let Some(x) = self.run.phase_mut(phase) {
                            x.message = Some(format!(
                                "{} — {}",
                                msg.unwrap_or_default(),
                                crate::observe::sanitize(&line)
                            ));
                        }
                        self.publish().await;
                    }
                }
                return (state, p.status);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::slurm::parse_poll;

    #[test]
    fn slurm_states_keep_their_detail() {
        let p = parse_poll("42", b"Q|42|PENDING|JobHeldUser|0:00|1\n");
        let (st, msg) = slurm_state(&p.status);
        assert_eq!(
            (st, msg.as_deref()),
            (RunState::Submitted, Some("PENDING (JobHeldUser)"))
        );
        let c = parse_poll(
            "7",
            b"C|JobId=7 JobName=x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15 RunTime=00:01:02 NumNodes=1\n",
        );
        assert_eq!(slurm_state(&c.status).0, RunState::Failed);
        let f = parse_poll("8", b"A|8|FAILED|3:0|00:00:01|1|NonZeroExitCode\n");
        assert_eq!(
            slurm_state(&f.status).1.as_deref(),
            Some("FAILED: exit code 3")
        );
        assert!(
            never_ran(&f.status, "/w", "/w/slurm-8.out").is_none(),
            "it ran"
        );
        assert_eq!(
            slurm_state(&parse_poll("9", b"C|\n").status).0,
            RunState::Lost
        );
    }

    #[test]
    fn a_job_that_never_ran_says_why_and_what_to_check() {
        let p = parse_poll(
            "12",
            b"C|JobId=12 JobState=FAILED Reason=JobLaunchFailure ExitCode=0:0 RunTime=00:00:00 NumNodes=1\n",
        );
        let (st, msg) = slurm_state(&p.status);
        assert_eq!(st, RunState::Failed);
        assert!(!msg.unwrap_or_default().contains("exit code 0"));
        let why = never_ran(&p.status, "/x/y", "/x/y/slurm-12.out").unwrap();
        assert!(why.contains("JobLaunchFailure"), "{why}");
        assert!(why.contains("/x/y/slurm-12.out"), "{why}");
        assert!(why.contains("never ran"), "{why}");
        // from sacct, where accounting is on
        let a = parse_poll("13", b"A|13|FAILED|0:0|00:00:00|1|JobLaunchFailure\n");
        assert!(never_ran(&a.status, "/x", "/x/o").is_some());
    }
}
