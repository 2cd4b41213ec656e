//! A phase as a Ray job: submitted to the target's Jobs API with a submission id made from the
//! run and phase (Ray refuses a second submission of the same id, so a restarted tandem
//! re-attaches instead of submitting twice), its driver log followed into the phase's log file,
//! stopped on cancel.

use super::super::journal::LogOffsets;
use super::super::plan::{Planned, Sent, Step};
use super::super::run::RunState;
use super::{Exec, LogSink};
use crate::engine::ray::{JobInfo, JobRequest, Ray, RayError};
use crate::project::{render, PhaseId, RayConf, Reach};
use crate::transport::Outgoing;
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The run state a Ray job's status means, and a message keeping Ray's detail.
pub fn ray_state(info: &JobInfo) -> (RunState, Option<String>) {
    let msg = info.message.clone().filter(|m| !m.is_empty());
    match info.status.as_str() {
        "PENDING" => (RunState::Submitted, msg),
        "RUNNING" => (RunState::Running, None),
        "SUCCEEDED" => (RunState::Succeeded, None),
        "STOPPED" => (RunState::Cancelled, msg.or(Some("stopped".into()))),
        "FAILED" => (
            RunState::Failed,
            Some(match (info.driver_exit_code, msg) {
                (Some(c), Some(m)) => format!("FAILED: exit code {c}: {m}"),
                (Some(c), None) => format!("FAILED: exit code {c}"),
                (None, Some(m)) => format!("FAILED: {m}"),
                (None, None) => "FAILED".into(),
            }),
        ),
        other => (RunState::Running, Some(other.to_string())),
    }
}

/// What every Ray job of a phase shares (see [`Exec::ray_setup`]).
pub(super) struct RaySetup {
    entry: String,
    /// The input as the cluster sees it.
    input: String,
    /// The phase's `ray` section.
    table: toml::Table,
    /// pip and working_dir (its URI once staged).
    runtime_env: serde_json::Map<String, serde_json::Value>,
    /// What a dry run shows of staging the working_dir.
    staged: Option<Outgoing>,
}

impl Exec<'_> {
    /// A phase as a Ray job: submitted to the target's Jobs API with a submission id made from the
    /// run and phase (so a second submission of the same phase is refused by Ray itself, and a
    /// restarted tandem re-attaches), its driver log followed into the phase's log file, stopped on
    /// cancel.
    pub(super) async fn run_ray(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        rc: &RayConf,
    ) -> RunState {
        let ray = match self.ray_client().await {
            Ok(r) => r,
            Err(e) => return self.fail(phase, e).await,
        };
        let setup = match self.ray_setup(phase, rc, &ray).await {
            Ok(s) => s,
            Err(e) => return self.fail(phase, e).await,
        };
        let output = self.remote_output(phase);
        if !output.starts_with("s3://") && self.dry.is_none() {
            let _ = std::fs::create_dir_all(&output);
        }
        let req = self.ray_request(phase, &setup, &output, None);
        let submission_id = req.submission_id.clone();
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(setup.input.clone());
            p.command = vec![req.entrypoint.clone()];
        }
        if self.dry.is_some() {
            return match self.plan_ray(phase, None, &ray, &req, setup.staged) {
                Ok(()) => RunState::Succeeded,
                Err(e) => self.fail(phase, e).await,
            };
        }
        // a claim a gone driver left is resubmitted with the same id: Ray refuses the duplicate if
        // the first one arrived, and the job is followed
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        self.note(phase, &format!("submitting to {}", ray.describe()));
        match ray.submit(&req).await {
            Ok(_) => {}
            Err(RayError::Duplicate(_)) => self.note(
                phase,
                &format!("{submission_id} was already submitted: following it"),
            ),
            Err(e) => return self.fail(phase, e.to_string()).await,
        }
        if let Some(p) = self.run.phase_mut(phase) {
            p.engine_id = Some(submission_id.clone());
            p.state = RunState::Submitted;
            p.started = Some(Utc::now());
        }
        self.publish().await;
        self.follow_ray(phase, ray, &submission_id, cancel).await
    }

    /// What every Ray job of a phase shares: its entrypoint, its input as the cluster sees it,
    /// and its runtime environment, the working_dir staged once (in a dry run: what staging would
    /// send).
    async fn ray_setup(
        &mut self,
        phase: PhaseId,
        rc: &RayConf,
        ray: &Ray,
    ) -> Result<RaySetup, String> {
        let spec = self.project.phase(phase).clone();
        let table = spec.ray.clone().unwrap_or_default();
        let text = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let Some(entry) = text("entrypoint") else {
            return Err(format!("phases.{phase}.ray needs `entrypoint`"));
        };
        let input = if self.store.as_s3().is_some()
            && spec.inputs.first().map(String::as_str) != Some("handoff")
        {
            let ds = spec
                .inputs
                .first()
                .and_then(|d| self.project.datasets.get(d));
            let key = self
                .project
                .storage
                .key(ds.map(|d| d.path.as_str()).unwrap_or(""));
            format!("s3://{}/{key}", self.project.storage.bucket)
        } else {
            self.input_of(phase).await?.display().to_string()
        };
        let mut runtime_env = serde_json::Map::new();
        if let Some(toml::Value::Array(p)) = table.get("pip") {
            let pkgs: Vec<serde_json::Value> = p
                .iter()
                .filter_map(|x| x.as_str())
                .map(|s| s.into())
                .collect();
            runtime_env.insert("pip".into(), pkgs.into());
        }
        let mut staged: Option<Outgoing> = None;
        if let Some(wd) = text("working_dir") {
            let uri = if wd.contains("://") {
                wd
            } else if rc.reach == Reach::Transport && self.store.as_s3().is_some() {
                // the head node cannot see this machine's files: the package goes to S3, where
                // Ray fetches working_dir zips from (s3:// URIs)
                let dir = self.project.dir.join(&wd);
                let (name, bytes) =
                    tokio::task::spawn_blocking(move || crate::engine::ray::package(&dir))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                let bucket = self.project.storage.bucket.clone();
                let key = self.project.storage.key(&format!("_tandem/ray/{name}"));
                let uri = format!("s3://{bucket}/{key}");
                if self.dry.is_some() {
                    staged = Some(Outgoing::Http {
                        method: "PUT".into(),
                        url: uri.clone(),
                        body: None,
                        bytes: Some(bytes.len()),
                        when: None,
                        uri: None,
                    });
                } else {
                    self.note(phase, &format!("uploading working_dir {wd} to {uri}"));
                    self.store
                        .put(&bucket, &key, bytes)
                        .await
                        .map_err(|e| format!("uploading working_dir to {uri}: {e}"))?;
                }
                uri
            } else if rc.reach == Reach::Transport {
                // a path on the head node
                wd
            } else if self.dry.is_some() {
                let v = ray
                    .dry_stage(&self.project.dir.join(&wd))
                    .map_err(|e| e.to_string())?;
                let uri = match &v {
                    Outgoing::Http { uri: Some(u), .. } => u.clone(),
                    _ => String::new(),
                };
                staged = Some(v);
                uri
            } else {
                self.note(phase, &format!("packaging working_dir {wd}"));
                ray.stage_working_dir(&self.project.dir.join(&wd))
                    .await
                    .map_err(|e| e.to_string())?
            };
            runtime_env.insert("working_dir".into(), uri.into());
        }
        Ok(RaySetup {
            entry,
            input,
            table,
            runtime_env,
            staged,
        })
    }

    /// What submitting `req` would send, for a dry run (after staging the working_dir, if
    /// `staged` says how).
    fn plan_ray(
        &mut self,
        phase: PhaseId,
        element: Option<u32>,
        ray: &Ray,
        req: &JobRequest,
        staged: Option<Outgoing>,
    ) -> Result<(), String> {
        let sent = ray.dry_submit(req).map_err(|e| e.to_string())?;
        let mut requests: Vec<Sent> = staged.into_iter().map(Sent::from).collect();
        requests.push(sent.into());
        let to = ray.describe();
        if let Some(d) = self.dry.as_mut() {
            d.push(Step {
                phase,
                element,
                planned: Planned::Remote {
                    engine: "ray",
                    to,
                    requests,
                },
            });
        }
        Ok(())
    }

    /// The Jobs API request of a phase (or of one element of its sweep) writing to `output`: its
    /// submission id made from the run, phase and element (Ray refuses a second one).
    fn ray_request(
        &self,
        phase: PhaseId,
        setup: &RaySetup,
        output: &str,
        element: Option<&crate::pipeline::run::ElementRun>,
    ) -> JobRequest {
        let vars = match element {
            Some(e) => self.element_vars(e, &setup.input, output),
            None => self.vars(
                &setup.input,
                output,
                &self.ws.run_dir(&self.run.id).display().to_string(),
            ),
        };
        let mut env = serde_json::Map::new();
        for (k, v) in [
            ("PYTHONUNBUFFERED", "1".to_string()),
            ("TANDEM_RUN", self.run.id.clone()),
            ("INPUT", setup.input.clone()),
            ("OUTPUT", output.to_string()),
        ] {
            env.insert(k.into(), v.into());
        }
        if let Some(e) = element {
            for (k, v) in e.element().env() {
                env.insert(k, v.into());
            }
        }
        if let Some(toml::Value::Table(t)) = setup.table.get("env") {
            for (k, v) in t {
                env.insert(
                    k.clone(),
                    render(v.as_str().unwrap_or_default(), &vars).into(),
                );
            }
        }
        let mut runtime_env = setup.runtime_env.clone();
        runtime_env.insert("env_vars".into(), env.into());
        let (submission_id, mut metadata) = match element {
            None => (format!("tandem-{}-{phase}", self.run.id), Vec::new()),
            Some(e) => (
                format!("tandem-{}-{phase}-e{}", self.run.id, e.index),
                vec![("element".to_string(), e.index.to_string())],
            ),
        };
        metadata.extend([
            ("tandem_run".to_string(), self.run.id.clone()),
            ("phase".to_string(), phase.to_string()),
            ("project".to_string(), self.project.name.clone()),
        ]);
        JobRequest {
            entrypoint: render(&setup.entry, &vars),
            submission_id,
            metadata: metadata.into_iter().collect(),
            runtime_env,
            // the driver's own reservation: none unless asked for, since the CPUs of
            // `resources` are what the job's tasks use (reserving them for the driver would leave
            // its Ray Data tasks nothing to run on)
            entrypoint_num_cpus: setup
                .table
                .get("num_cpus")
                .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64))),
            ..Default::default()
        }
    }

    /// The Ray Jobs client of the run's target.
    pub(super) async fn ray_client(&self) -> Result<Arc<Ray>, String> {
        self.conns
            .ray(self.project, &self.run.target)
            .await
            .map_err(|e| e.to_string())
    }

    /// The Ray settings of the run's target.
    pub(super) fn ray_conf(&self) -> Option<RayConf> {
        self.project
            .targets
            .get(&self.run.target)
            .and_then(|t| t.ray.clone())
    }

    /// Follow a submitted Ray job to its end: the log into the phase's log file (a task of its
    /// own, from where the journal says the tail stood), the state polled every `poll`, a stop
    /// request on cancel.
    pub(super) async fn follow_ray(
        &mut self,
        phase: PhaseId,
        ray: Arc<Ray>,
        id: &str,
        cancel: &CancellationToken,
    ) -> RunState {
        let stop_logs = CancellationToken::new();
        // Ray has one driver log; the stderr file only gets what tandem writes there
        let [out, err] = LogSink::pair(self.ws, &self.run.id, phase);
        let err_local = err.mark().1;
        let save = |this: &Self, (remote, local): (u64, u64)| {
            this.save_tail(
                phase,
                LogOffsets {
                    out_remote: remote,
                    out_local: local,
                    err_remote: 0,
                    err_local,
                },
            )
        };
        // commit the starting point before anything is read, so a crash at any later moment
        // resumes from a commit
        let start = out.mark();
        save(self, start);
        let from = out.remote;
        let sink = Arc::new(std::sync::Mutex::new(out));
        let mut committed = start;
        let follower = {
            let (ray, id, stop, sink) =
                (ray.clone(), id.to_string(), stop_logs.clone(), sink.clone());
            let mut write = move |b: &[u8]| {
                if let Ok(mut s) = sink.lock() {
                    s.write(b)
                }
            };
            tokio::spawn(async move { ray.follow_logs(&id, from, &stop, &mut write).await })
        };
        let commit = |this: &Self, committed: &mut (u64, u64)| {
            let now = sink.lock().map(|s| s.mark()).unwrap_or(*committed);
            if now != *committed {
                *committed = now;
                save(this, now);
            }
        };
        let poll = Duration::from_millis(500);
        let mut stopping = false;
        let mut failures = 0;
        let info = loop {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = cancel.cancelled(), if !stopping => {
                    stopping = true;
                    self.note(phase, &format!("stopping Ray job {id}"));
                    if let Err(e) = ray.stop(id).await {
                        self.note(phase, &format!("stop: {e}"));
                    }
                }
            }
            let info = match ray.status(id).await {
                Ok(i) => {
                    failures = 0;
                    i
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 20 {
                        stop_logs.cancel();
                        return self
                            .fail(phase, format!("lost contact with Ray (job {id}): {e}"))
                            .await;
                    }
                    continue;
                }
            };
            commit(self, &mut committed);
            let (state, msg) = ray_state(&info);
            let changed = self
                .run
                .phase(phase)
                .is_some_and(|x| x.state != state || x.message != msg);
            if info.is_terminal() {
                break info;
            }
            if changed {
                if let Some(x) = self.run.phase_mut(phase) {
                    x.state = state;
                    x.message = msg;
                }
                self.publish().await;
            }
        };
        // the log stream ends with the job; give it a moment to deliver the last lines, and if it
        // broke, fetch what it missed once (the whole log, appended from where the stream stopped)
        let drained = tokio::time::timeout(Duration::from_secs(10), follower).await;
        let complete = matches!(drained, Ok(Ok(Ok(_))));
        if !complete {
            stop_logs.cancel();
            if let Ok(all) = ray.logs(id).await {
                if let Ok(mut s) = sink.lock() {
                    let have = s.remote as usize;
                    if all.len() > have {
                        s.write(&all.as_bytes()[have..]);
                    }
                }
            }
            if let Ok(Ok(Err(e))) = &drained {
                self.note(
                    phase,
                    &format!("log stream: {e}; the rest was fetched at the end"),
                );
            }
        }
        commit(self, &mut committed);
        let (state, msg) = ray_state(&info);
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = state;
            p.message = msg;
            p.exit_code = info.driver_exit_code;
            p.ended = Some(Utc::now());
        }
        self.publish().await;
        state
    }
}

impl Exec<'_> {
    /// A swept phase as one Ray job per element (submission ids `tandem-RUN-PHASE-eN`, so a
    /// restarted tandem re-attaches instead of submitting twice), at most `max_parallel` at once
    /// (default: all, Ray queues them); each polled every half second, its driver log appended to
    /// the element's log; stopped on cancel.
    pub(super) async fn run_ray_sweep(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        rc: &RayConf,
    ) -> RunState {
        use crate::pipeline::workspace::Part;
        let ray = match self.ray_client().await {
            Ok(r) => r,
            Err(e) => return self.fail(phase, e).await,
        };
        let setup = match self.ray_setup(phase, rc, &ray).await {
            Ok(s) => s,
            Err(e) => return self.fail(phase, e).await,
        };
        let elements = self.elements(phase).to_vec();
        let limit = self.max_parallel(phase, elements.len());
        let mut reqs: std::collections::BTreeMap<u32, JobRequest> = Default::default();
        for e in &elements {
            let out = self.remote_location(&e.output);
            if !out.starts_with("s3://") && self.dry.is_none() {
                let _ = std::fs::create_dir_all(&out);
            }
            reqs.insert(e.index, self.ray_request(phase, &setup, &out, Some(e)));
        }
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(setup.input.clone());
            p.command = vec![setup.entry.clone()];
        }
        if self.dry.is_some() {
            // the working_dir is staged once, before the first element's job
            let mut staged = setup.staged.clone();
            for (i, req) in &reqs {
                if let Err(e) = self.plan_ray(phase, Some(*i), &ray, req, staged.take()) {
                    return self.fail(phase, e).await;
                }
            }
            return RunState::Succeeded;
        }
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        let mut active: Vec<u32> = elements
            .iter()
            .filter(|e| e.state.is_active() && e.engine_id.is_some())
            .map(|e| e.index)
            .collect();
        let mut queue: std::collections::VecDeque<u32> = elements
            .iter()
            .filter(|e| !e.state.is_terminal() && !active.contains(&e.index))
            .map(|e| e.index)
            .collect();
        let mut sinks: std::collections::BTreeMap<u32, [LogSink; 2]> = Default::default();
        let mut stopping = false;
        let mut polls: u64 = 0;
        loop {
            let mut started = false;
            while active.len() < limit && !cancel.is_cancelled() {
                let Some(i) = queue.pop_front() else { break };
                let req = &reqs[&i];
                let id = req.submission_id.clone();
                match ray.submit(req).await {
                    Ok(_) => self.note_element(
                        phase,
                        i,
                        &format!("submitted {id} to {}", ray.describe()),
                    ),
                    Err(RayError::Duplicate(_)) => self.note_element(
                        phase,
                        i,
                        &format!("{id} was already submitted: following it"),
                    ),
                    Err(e) => {
                        self.set_element(phase, i, RunState::Failed, None, Some(e.to_string()));
                        started = true;
                        continue;
                    }
                }
                if let Some(e) = self.element_mut(phase, i) {
                    e.engine_id = Some(id);
                }
                self.set_element(phase, i, RunState::Submitted, None, None);
                active.push(i);
                started = true;
            }
            if started {
                self.publish_sweep(phase).await;
            }
            if active.is_empty() {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = cancel.cancelled(), if !stopping => {}
            }
            polls += 1;
            if cancel.is_cancelled() && !stopping {
                stopping = true;
                for i in &active {
                    if let Some(id) = reqs.get(i).map(|r| r.submission_id.clone()) {
                        self.note_element(phase, *i, &format!("stopping Ray job {id}"));
                        if let Err(e) = ray.stop(&id).await {
                            self.note_element(phase, *i, &format!("stop: {e}"));
                        }
                    }
                }
            }
            let mut changed = false;
            for i in active.clone() {
                let id = reqs[&i].submission_id.clone();
                let Ok(info) = ray.status(&id).await else {
                    continue;
                };
                let over = info.is_terminal();
                // the driver log: every two seconds while it runs, to its end once it has ended
                if over || polls.is_multiple_of(4) {
                    if let Ok(all) = ray.logs(&id).await {
                        let s = sinks.entry(i).or_insert_with(|| {
                            LogSink::pair(self.ws, &self.run.id, Part::element(phase, i))
                        });
                        let have = s[0].remote as usize;
                        if all.len() > have {
                            s[0].write(&all.as_bytes()[have..]);
                            let (o, e) = (s[0].mark(), s[1].mark());
                            self.save_tail(
                                Part::element(phase, i),
                                LogOffsets {
                                    out_remote: o.0,
                                    out_local: o.1,
                                    err_remote: e.0,
                                    err_local: e.1,
                                },
                            );
                        }
                    }
                }
                let (state, msg) = ray_state(&info);
                changed |= self.set_element(phase, i, state, info.driver_exit_code, msg);
                if over {
                    active.retain(|x| *x != i);
                }
            }
            if changed {
                self.publish_sweep(phase).await;
            }
        }
        if cancel.is_cancelled() {
            self.cancel_unstarted(phase);
        }
        self.end_sweep(phase).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keep_rays_detail() {
        let j = |s: &str, c: Option<i32>, m: &str| JobInfo {
            status: s.into(),
            driver_exit_code: c,
            message: Some(m.into()),
            ..Default::default()
        };
        assert_eq!(
            ray_state(&j(
                "FAILED",
                Some(3),
                "Job entrypoint command failed with exit code 3"
            )),
            (
                RunState::Failed,
                Some("FAILED: exit code 3: Job entrypoint command failed with exit code 3".into())
            )
        );
        assert_eq!(
            ray_state(&j("SUCCEEDED", Some(0), "")).0,
            RunState::Succeeded
        );
        assert_eq!(ray_state(&j("STOPPED", None, "")).0, RunState::Cancelled);
        assert_eq!(ray_state(&j("PENDING", None, "")).0, RunState::Submitted);
    }
}
