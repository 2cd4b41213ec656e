//! A phase as a Slurm job on the target's cluster: a batch script submitted through the target's
//! transport (once per run directory: the submit script keeps a marker there, so a second
//! submission answers with the first job's id), followed one round trip per poll (state plus the
//! new bytes of its logs, appended to the phase's local log files), cancelled with scancel.

use super::super::journal::LogOffsets;
use super::super::plan::{Planned, Sent, Step};
use super::super::run::RunState;
use super::{Exec, LogSink};
use crate::engine::slurm::JobStatus;
use crate::project::{render, PhaseId, SlurmTarget, WorkDir};
use chrono::Utc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

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
        use crate::engine::slurm::{Body, JobSpec};
        let spec = self.project.phase(phase).clone();
        let table = spec.slurm.clone().unwrap_or_default();
        let input = match self.input_of(phase).await {
            Ok(i) => i,
            Err(e) => return self.fail(phase, e).await,
        };
        let output = self.remote_output(phase);
        if !output.starts_with("s3://") && self.dry.is_none() {
            let _ = std::fs::create_dir_all(&output);
        }
        let run_dir = self.slurm_run_dir(st, phase);
        let vars = self.vars(&input.display().to_string(), &output, &run_dir);
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
            (Err(e), _, _) => {
                return self
                    .fail(phase, format!("phases.{phase}.slurm.command: {e}"))
                    .await
            }
            (Ok(Some(argv)), _, _) => Body::Command {
                argv,
                launcher: text("launcher").unwrap_or_else(|| "srun".into()),
            },
            (Ok(None), Some(script), _) => {
                let path = self.project.dir.join(&script);
                match std::fs::read_to_string(&path) {
                    Ok(s) => Body::Script(s),
                    Err(e) => {
                        return self
                            .fail(
                                phase,
                                format!("phases.{phase}.slurm.script: {}: {e}", path.display()),
                            )
                            .await
                    }
                }
            }
            (Ok(None), None, Some(local)) => Body::Command {
                argv: local.command.iter().map(|a| render(a, &vars)).collect(),
                launcher: text("launcher").unwrap_or_else(|| "srun".into()),
            },
            (Ok(None), None, None) => {
                return self
                    .fail(
                        phase,
                        format!("phases.{phase}.slurm needs `command` or `script`"),
                    )
                    .await
            }
        };
        let mut env: std::collections::BTreeMap<String, String> = [
            ("TANDEM", self.ws.exe.display().to_string()),
            ("INPUT", input.display().to_string()),
            ("OUTPUT", output.clone()),
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
            run_dir: run_dir.clone(),
            body,
            hold: table.get("hold").and_then(|h| h.as_bool()).unwrap_or(false),
        };
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
            let sent = slurm.submit_script(&job).and_then(|script| {
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
                    planned: Planned::Remote {
                        engine: "slurm",
                        to,
                        requests: vec![sent],
                    },
                });
            }
            return RunState::Succeeded;
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
        self.follow_slurm(phase, &slurm, &job_id, &run_dir, st.poll, cancel)
            .await
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
        let cluster = match self.conns.slurm(self.project, &self.run.target).await {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let slurm = cluster.slurm();
        let run_dir = self.slurm_run_dir(st, phase);
        self.follow_slurm(phase, &slurm, id, &run_dir, st.poll, cancel)
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
    ) -> RunState {
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
                Err(e) => {
                    failures += 1;
                    self.note(phase, &format!("poll failed ({failures}): {e}"));
                    if failures >= 10 {
                        return self
                            .fail(
                                phase,
                                format!("lost contact with the cluster (job {job_id}): {e}"),
                            )
                            .await;
                    }
                    tokio::time::sleep(poll.min(Duration::from_secs(2))).await;
                    continue;
                }
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
                return state;
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
