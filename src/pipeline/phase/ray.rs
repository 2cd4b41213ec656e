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
        let spec = self.project.phase(phase).clone();
        let table = spec.ray.clone().unwrap_or_default();
        let text = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let Some(entry) = text("entrypoint") else {
            return self
                .fail(phase, format!("phases.{phase}.ray needs `entrypoint`"))
                .await;
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
            match self.input_of(phase).await {
                Ok(i) => i.display().to_string(),
                Err(e) => return self.fail(phase, e).await,
            }
        };
        let output = self.remote_output(phase);
        if !output.starts_with("s3://") && self.dry.is_none() {
            let _ = std::fs::create_dir_all(&output);
        }
        let vars = self.vars(
            &input,
            &output,
            &self.ws.run_dir(&self.run.id).display().to_string(),
        );
        let ray = match self.ray_client().await {
            Ok(r) => r,
            Err(e) => return self.fail(phase, e).await,
        };
        let mut env = serde_json::Map::new();
        for (k, v) in [
            ("PYTHONUNBUFFERED", "1".to_string()),
            ("TANDEM_RUN", self.run.id.clone()),
            ("INPUT", input.clone()),
            ("OUTPUT", output.clone()),
        ] {
            env.insert(k.into(), v.into());
        }
        if let Some(toml::Value::Table(t)) = table.get("env") {
            for (k, v) in t {
                env.insert(
                    k.clone(),
                    render(v.as_str().unwrap_or_default(), &vars).into(),
                );
            }
        }
        let mut runtime_env = serde_json::Map::new();
        runtime_env.insert("env_vars".into(), env.into());
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
                let pkg = tokio::task::spawn_blocking(move || crate::engine::ray::package(&dir))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                let (name, bytes) = match pkg {
                    Ok(x) => x,
                    Err(e) => return self.fail(phase, e).await,
                };
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
                    if let Err(e) = self.store.put(&bucket, &key, bytes).await {
                        return self
                            .fail(phase, format!("uploading working_dir to {uri}: {e}"))
                            .await;
                    }
                }
                uri
            } else if rc.reach == Reach::Transport {
                // a path on the head node
                wd
            } else if self.dry.is_some() {
                match ray.dry_stage(&self.project.dir.join(&wd)) {
                    Ok(v) => {
                        let uri = match &v {
                            Outgoing::Http { uri: Some(u), .. } => u.clone(),
                            _ => String::new(),
                        };
                        staged = Some(v);
                        uri
                    }
                    Err(e) => return self.fail(phase, e.to_string()).await,
                }
            } else {
                self.note(phase, &format!("packaging working_dir {wd}"));
                match ray.stage_working_dir(&self.project.dir.join(&wd)).await {
                    Ok(u) => u,
                    Err(e) => return self.fail(phase, e.to_string()).await,
                }
            };
            runtime_env.insert("working_dir".into(), uri.into());
        }
        let submission_id = format!("tandem-{}-{phase}", self.run.id);
        let req = JobRequest {
            entrypoint: render(&entry, &vars),
            submission_id: submission_id.clone(),
            metadata: [
                ("tandem_run".to_string(), self.run.id.clone()),
                ("phase".to_string(), phase.to_string()),
                ("project".to_string(), self.project.name.clone()),
            ]
            .into(),
            runtime_env,
            // the driver's own reservation: none unless asked for, since the CPUs of
            // `resources` are what the job's tasks use (reserving them for the driver would leave
            // its Ray Data tasks nothing to run on)
            entrypoint_num_cpus: table
                .get("num_cpus")
                .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64))),
            ..Default::default()
        };
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(input.clone());
            p.command = vec![req.entrypoint.clone()];
        }
        if self.dry.is_some() {
            let sent = match ray.dry_submit(&req) {
                Ok(v) => v,
                Err(e) => return self.fail(phase, e.to_string()).await,
            };
            let mut requests: Vec<Sent> = staged.into_iter().map(Sent::from).collect();
            requests.push(sent.into());
            let to = ray.describe();
            if let Some(d) = self.dry.as_mut() {
                d.push(Step {
                    phase,
                    planned: Planned::Remote {
                        engine: "ray",
                        to,
                        requests,
                    },
                });
            }
            return RunState::Succeeded;
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
