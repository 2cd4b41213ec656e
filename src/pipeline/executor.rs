//! Executes a run on the local target: phases in order, the solve phase gated on the handoff.

use super::journal::{Claim, Journal, Lease, Owner, Tail};
use super::run::{new_run_id, PhaseRun, Run, RunState};
use super::runner::{supervise, Exit, MetricSample, ProcessSpec};
use crate::project::{render, Engine, PhaseId, Project, SlurmTarget, Vars};
use crate::storage::local::LocalStore;
use crate::storage::transfer::{self, Progress, Tuning};
use crate::storage::ObjectStore;
use chrono::Utc;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Where tandem keeps its own files: the journal, run directories, the local store by default.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub data_dir: PathBuf,
    pub journal: Journal,
    /// The tandem executable that `{tandem}` stands for.
    pub exe: PathBuf,
}

impl Workspace {
    pub fn new(data_dir: PathBuf) -> Workspace {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tandem"));
        Workspace {
            journal: Journal::new(&data_dir),
            data_dir,
            exe,
        }
    }

    /// `TANDEM_HOME`, else the platform's data dir + `tandem`.
    pub fn default_dir() -> PathBuf {
        if let Some(h) = std::env::var_os("TANDEM_HOME") {
            return PathBuf::from(h);
        }
        dirs::data_local_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("tandem")
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.data_dir.join("runs").join(run_id)
    }

    pub fn log_path(&self, run_id: &str, phase: PhaseId, stderr: bool) -> PathBuf {
        self.run_dir(run_id).join(format!(
            "{phase}.{}.log",
            if stderr { "stderr" } else { "stdout" }
        ))
    }

    pub fn metrics_path(&self, run_id: &str, phase: PhaseId) -> PathBuf {
        self.run_dir(run_id).join(format!("{phase}.metrics.jsonl"))
    }

    /// The directory store of a target.
    pub fn store_for(&self, project: &Project, target: &str) -> LocalStore {
        match project.targets.get(target).and_then(|t| t.kind.store_dir()) {
            Some(d) => LocalStore::new(d.clone()),
            None => LocalStore::new(self.data_dir.join("store")),
        }
    }

    /// The store a project's data lives in on a target: S3 when the storage root is `s3://`,
    /// else the target's directory store.
    pub async fn open_store(
        &self,
        project: &Project,
        target: &str,
        s3: &crate::storage::s3::S3Options,
    ) -> Arc<dyn ObjectStore> {
        if project.storage.s3 {
            Arc::new(crate::storage::s3::S3Store::connect(s3).await)
        } else {
            Arc::new(self.store_for(project, target))
        }
    }

    /// Where a phase's files are staged on this machine when its store is not a local directory.
    pub fn stage_dir(&self, run_id: &str, phase: PhaseId, what: &str) -> PathBuf {
        self.run_dir(run_id)
            .join("stage")
            .join(phase.as_str())
            .join(what)
    }
}

#[derive(Debug, Clone)]
pub enum RunEvent {
    Updated(Box<Run>),
    Metric {
        run_id: String,
        phase: PhaseId,
        sample: MetricSample,
    },
}

/// Location of a phase's output: (bucket, key prefix ending in `/`).
pub fn output_of(project: &Project, phase: PhaseId, run_id: &str) -> (String, String) {
    let mut vars = Vars::new();
    vars.insert("run", run_id.to_string());
    let rel = render(&project.phase(phase).output, &vars);
    (project.storage.bucket.clone(), project.storage.key(&rel))
}

/// The record of a run about to start (nothing is executed).
pub fn prepare_run(project: &Project, target: &str, phases: &[PhaseId]) -> Run {
    let now = Utc::now();
    let id = new_run_id(now);
    let phase_runs = phases
        .iter()
        .map(|&p| {
            let (b, k) = output_of(project, p, &id);
            let engine = project.phase(p).engine;
            let ray = project.targets.get(target).and_then(|t| t.ray.as_ref());
            let on = match project.slurm_target(target) {
                _ if engine == Engine::Ray && ray.is_some() => {
                    ray.map(|r| r.dashboard.clone()).unwrap_or_default()
                }
                Some(s) if engine == Engine::Slurm => match &s.transport {
                    crate::project::TransportSpec::Local => "slurm".to_string(),
                    crate::project::TransportSpec::Ssh(c) => format!("slurm via ssh {}", c.host),
                    crate::project::TransportSpec::Ssm(c) => format!("slurm via ssm {}", c.target),
                },
                _ => "local".to_string(),
            };
            PhaseRun {
                phase: p,
                state: RunState::Pending,
                engine: format!("{} ({on})", engine.as_str()),
                output: format!("{b}/{k}"),
                input: None,
                command: Vec::new(),
                pid: None,
                engine_id: None,
                started: None,
                ended: None,
                exit_code: None,
                message: None,
            }
        })
        .collect();
    Run {
        id,
        project: project.name.clone(),
        project_file: project.file.display().to_string(),
        project_hash: project.hash.clone(),
        target: target.to_string(),
        created: now,
        state: RunState::Pending,
        phases: phase_runs,
        tandem_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

struct Exec<'a> {
    ws: &'a Workspace,
    project: &'a Project,
    store: Arc<dyn ObjectStore>,
    events: &'a mpsc::Sender<RunEvent>,
    run: Run,
    owner: Owner,
    /// `--dry-run`: what each phase would send is collected here and nothing is sent, written
    /// or journalled.
    dry: Option<Vec<serde_json::Value>>,
}

/// A phase's local log file held open while an engine's log is appended to it, with the engine
/// offset it stands at: a snapshot of both is what the journal commits.
struct LogSink {
    file: Option<std::fs::File>,
    path: PathBuf,
    remote: u64,
}

impl LogSink {
    /// The sinks of a phase's stdout and stderr logs, from where the journal's last commit left
    /// them, or (never committed) from the start of the engine's log and the end of the local
    /// file.
    fn pair(ws: &Workspace, run_id: &str, phase: PhaseId) -> [LogSink; 2] {
        let out = ws.log_path(run_id, phase, false);
        let err = ws.log_path(run_id, phase, true);
        let len = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let t = ws
            .journal
            .tail(run_id, phase)
            .ok()
            .flatten()
            .unwrap_or(Tail {
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
    fn write(&mut self, b: &[u8]) {
        if let Some(f) = self.file.as_mut() {
            if f.write_all(b).is_ok() {
                self.remote += b.len() as u64;
            }
        }
    }
    /// (engine offset, local file length) now.
    fn mark(&self) -> (u64, u64) {
        let local = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        (self.remote, local)
    }
}

impl Exec<'_> {
    async fn publish(&mut self) {
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

    fn note(&self, phase: PhaseId, text: &str) {
        if self.dry.is_some() {
            return;
        }
        let p = self.ws.log_path(&self.run.id, phase, false);
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

    fn dir_of(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        self.store.local_path(bucket, key.trim_end_matches('/'))
    }

    fn tuning() -> Tuning {
        Tuning::default()
    }

    /// A store prefix as a local directory: itself for the directory store, else downloaded into
    /// the run's staging area.
    async fn materialise(
        &self,
        phase: PhaseId,
        bucket: &str,
        key: &str,
        what: &str,
    ) -> Result<PathBuf, String> {
        if let Some(d) = self.dir_of(bucket, key) {
            return Ok(d);
        }
        let dir = self.ws.stage_dir(&self.run.id, phase, what);
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let items = transfer::plan_download(self.store.as_ref(), bucket, &prefix, &dir, true, true)
            .await
            .map_err(|e| e.to_string())?;
        let p = Arc::new(Progress::default());
        transfer::download(
            self.store.clone(),
            bucket,
            &items,
            Self::tuning(),
            p.clone(),
            CancellationToken::new(),
        )
        .await
        .map_err(|e| format!("staging {bucket}/{prefix}: {e}"))?;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        self.note(
            phase,
            &format!(
                "staged {} objects ({} bytes) from {bucket}/{prefix} into {}",
                items.len(),
                p.snapshot().0,
                dir.display()
            ),
        );
        Ok(dir)
    }

    /// Whether a store prefix holds any object.
    async fn is_empty(&self, bucket: &str, key: &str) -> Result<bool, String> {
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        match self.store.list_page(bucket, &prefix, false, None, 1).await {
            Ok(p) => Ok(p.entries.is_empty()),
            Err(crate::storage::StoreError::NoBucket(_)) if self.store.as_s3().is_none() => {
                Ok(true)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Input directory of a phase, generating a missing dataset when the project says how.
    async fn input_of(&self, phase: PhaseId) -> Result<PathBuf, String> {
        if self.dry.is_some() {
            return Ok(PathBuf::from(self.planned_input(phase)));
        }
        let spec = self.project.phase(phase);
        let bucket = self.project.storage.bucket.clone();
        let Some(first) = spec.inputs.first() else {
            return self
                .materialise(phase, &bucket, &self.project.storage.key(""), "input")
                .await;
        };
        if first == "handoff" {
            return self.handoff_dir(phase).await;
        }
        let ds = &self.project.datasets[first];
        let key = self.project.storage.key(&ds.path);
        if self.is_empty(&bucket, &key).await? {
            let Some(g) = &ds.generate else {
                return Err(format!("dataset `{}` is empty at {bucket}/{key}", ds.name));
            };
            // generate straight into a directory store, else locally and upload
            let dir = self
                .dir_of(&bucket, &key)
                .unwrap_or_else(|| self.ws.stage_dir(&self.run.id, phase, "generated"));
            self.note(
                phase,
                &format!(
                    "dataset `{}` is empty: generating {} MB from seed {} into {bucket}/{key}",
                    ds.name, g.size_mb, g.seed
                ),
            );
            let (d2, g2) = (dir.clone(), g.clone());
            let rep = tokio::task::spawn_blocking(move || {
                crate::tools::gen::generate(&d2, g2.seed, g2.size_mb, g2.files)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("generating dataset `{}`: {e}", ds.name))?;
            if self.dir_of(&bucket, &key).is_none() {
                let items = transfer::plan_upload(&dir, &key, true).map_err(|e| e.to_string())?;
                transfer::upload(
                    self.store.clone(),
                    &bucket,
                    &items,
                    Self::tuning(),
                    Arc::new(Progress::default()),
                    CancellationToken::new(),
                )
                .await
                .map_err(|e| format!("uploading dataset `{}`: {e}", ds.name))?;
            }
            self.note(
                phase,
                &format!(
                    "generated {} rows, {} bytes in {} files",
                    rep.rows,
                    rep.bytes,
                    rep.files.len()
                ),
            );
        }
        self.materialise(phase, &bucket, &key, "input").await
    }

    /// Phase 1's output for this run, or the newest successful one when only the solve phase runs;
    /// checked for the handoff's required files, then handed over as the FSx path when the project
    /// maps one, else as a local directory.
    async fn handoff_dir(&self, phase: PhaseId) -> Result<PathBuf, String> {
        let from = self.project.handoff.from;
        let loc = if self.run.phase(from).is_some() {
            self.run.phase(from).map(|p| p.output.clone())
        } else {
            let loaded = self
                .ws
                .journal
                .load()
                .map_err(|e| format!("reading the journal: {e}"))?;
            loaded
                .runs
                .iter()
                .filter(|r| r.project == self.project.name)
                .filter_map(|r| r.phase(from))
                .find(|p| p.state == RunState::Succeeded)
                .map(|p| p.output.clone())
        };
        let loc = loc.ok_or_else(|| {
            format!(
                "no handoff: no successful `{from}` run yet; run the pipeline or `{from}` first"
            )
        })?;
        let (bucket, key) = loc.split_once('/').unwrap_or((&loc, ""));
        let mut missing = Vec::new();
        for f in &self.project.handoff.require {
            let k = format!("{}/{f}", key.trim_end_matches('/'));
            match self.store.head(bucket, &k).await {
                Ok(_) => {}
                Err(crate::storage::StoreError::NotFound { .. }) => missing.push(f.as_str()),
                Err(e) => return Err(format!("checking the handoff: {e}")),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "handoff incomplete: {} missing in {loc}",
                missing.join(", ")
            ));
        }
        if let Some(p) = self.fsx_path(key) {
            return Ok(p);
        }
        self.materialise(phase, bucket, key, "input").await
    }

    async fn run_phase(&mut self, phase: PhaseId, cancel: &CancellationToken) -> RunState {
        let spec = self.project.phase(phase).clone();
        if spec.engine == Engine::Ray {
            if let Some(rc) = self
                .project
                .targets
                .get(&self.run.target)
                .and_then(|t| t.ray.clone())
            {
                return self.run_ray_phase(phase, cancel, &rc).await;
            }
        }
        if spec.engine == Engine::Slurm {
            if let Some(st) = self.project.slurm_target(&self.run.target).cloned() {
                return self.run_slurm_phase(phase, cancel, &st).await;
            }
        }
        let Some(local) = spec.local.clone() else {
            return self
                .fail(phase, "this phase has no `local` section".into())
                .await;
        };
        let input = match self.input_of(phase).await {
            Ok(i) => i,
            Err(e) => return self.fail(phase, e).await,
        };
        let out_loc = self
            .run
            .phase(phase)
            .map(|p| p.output.clone())
            .unwrap_or_default();
        let (ob, ok) = out_loc.split_once('/').unwrap_or((&out_loc, ""));
        // a directory store is written in place; any other is staged, then uploaded on success
        let staged = self.dir_of(ob, ok).is_none();
        let output = self
            .dir_of(ob, ok)
            .unwrap_or_else(|| self.ws.stage_dir(&self.run.id, phase, "output"));
        let (ob, ok) = (ob.to_string(), ok.to_string());
        if self.dry.is_none() {
            let _ = std::fs::create_dir_all(&output);
        }
        let mut vars = Vars::new();
        vars.insert("tandem", self.ws.exe.display().to_string());
        vars.insert("run", self.run.id.clone());
        vars.insert("input", input.display().to_string());
        vars.insert("output", output.display().to_string());
        vars.insert(
            "run_dir",
            self.ws.run_dir(&self.run.id).display().to_string(),
        );
        vars.insert("project_dir", self.project.dir.display().to_string());
        let argv: Vec<String> = local.command.iter().map(|a| render(a, &vars)).collect();
        let env = local
            .env
            .iter()
            .map(|(k, v)| (k.clone(), render(v, &vars)))
            .collect();
        let pspec = ProcessSpec {
            program: argv[0].clone(),
            args: argv[1..].to_vec(),
            env,
            cwd: self.project.dir.clone(),
            stdout: self.ws.log_path(&self.run.id, phase, false),
            stderr: self.ws.log_path(&self.run.id, phase, true),
            grace: Duration::from_secs(local.grace_seconds),
        };
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(input.display().to_string());
            p.command = argv.clone();
        }
        if let Some(d) = self.dry.as_mut() {
            d.push(serde_json::json!({
                "phase": phase,
                "engine": "local",
                "argv": argv,
                "env": pspec.env,
                "cwd": pspec.cwd,
                "output": output,
            }));
            return RunState::Succeeded;
        }
        if let Err(e) = self.claim(phase) {
            return self.fail(phase, e).await;
        }
        self.note(phase, &format!("starting {}", argv.join(" ")));
        let child = match super::runner::spawn(&pspec) {
            Ok(c) => c,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        // running is journalled with its pid, so that a restarted tandem can tell a running phase
        // from a lost one
        if let Some(p) = self.run.phase_mut(phase) {
            p.pid = child.id();
            p.state = RunState::Running;
            p.started = Some(Utc::now());
        }
        self.publish().await;
        let metrics_path = self.ws.metrics_path(&self.run.id, phase);
        let mut metrics_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .ok();
        let (run_id, events) = (self.run.id.clone(), self.events.clone());
        let result = supervise(child, pspec.grace, cancel, |sample| {
            if let Some(f) = metrics_file.as_mut() {
                let _ = serde_json::to_writer(&mut *f, &sample);
                let _ = f.write_all(b"\n");
            }
            let _ = events.try_send(RunEvent::Metric {
                run_id: run_id.clone(),
                phase,
                sample,
            });
        })
        .await;
        let (state, code, msg) = match result {
            Ok(Exit::Code(0)) => (RunState::Succeeded, Some(0), None),
            Ok(Exit::Code(c)) => (
                RunState::Failed,
                Some(c),
                Some(
                    self.last_error_line(phase)
                        .unwrap_or_else(|| format!("exited with code {c}")),
                ),
            ),
            Ok(Exit::Signal(s)) => (
                RunState::Failed,
                None,
                Some(format!("killed by signal {s}")),
            ),
            Ok(Exit::Cancelled) => (RunState::Cancelled, None, Some("cancelled".into())),
            Err(e) => (RunState::Failed, None, Some(e.to_string())),
        };
        let (state, msg) = match (state, staged) {
            (RunState::Succeeded, true) => match self.upload_output(phase, &output, &ob, &ok).await
            {
                Ok(()) => (state, msg),
                Err(e) => (RunState::Failed, Some(e)),
            },
            _ => (state, msg),
        };
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = state;
            p.exit_code = code;
            p.message = msg;
            p.ended = Some(Utc::now());
        }
        self.publish().await;
        state
    }

    /// A phase as a Ray job: submitted to the target's Jobs API with a submission id made from the
    /// run and phase (so a second submission of the same phase is refused by Ray itself, and a
    /// restarted tandem re-attaches), its driver log followed into the phase's log file, stopped on
    /// cancel.
    async fn run_ray_phase(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        rc: &crate::engine::ray::RayConf,
    ) -> RunState {
        use crate::engine::ray::{JobRequest, RayError, Reach};
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
        let mut vars = Vars::new();
        vars.insert("tandem", self.ws.exe.display().to_string());
        vars.insert("run", self.run.id.clone());
        vars.insert("input", input.clone());
        vars.insert("output", output.clone());
        vars.insert(
            "run_dir",
            self.ws.run_dir(&self.run.id).display().to_string(),
        );
        vars.insert("project_dir", self.project.dir.display().to_string());
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
        let mut staged = None;
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
                    staged = Some(
                        serde_json::json!({"method": "PUT", "url": uri, "bytes": bytes.len()}),
                    );
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
                        let uri = v["uri"].as_str().unwrap_or_default().to_string();
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
            let mut requests: Vec<serde_json::Value> = staged.into_iter().collect();
            requests.push(sent);
            if let Some(d) = self.dry.as_mut() {
                d.push(serde_json::json!({
                    "phase": phase,
                    "engine": "ray",
                    "to": ray.describe(),
                    "requests": requests,
                }));
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
    async fn ray_client(&self) -> Result<Arc<crate::engine::ray::Ray>, String> {
        crate::engine::ray::for_target(self.project, &self.run.target)
            .await
            .map(Arc::new)
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

    /// Commit where a phase's log tails stand.
    fn save_tail(&self, phase: PhaseId, t: Tail) {
        if let Err(e) = self.ws.journal.save_tail(&self.run.id, phase, t) {
            tracing::error!("journal: {e}");
        }
    }

    /// Follow a submitted Ray job to its end: the log into the phase's log file (a task of its
    /// own, from where the journal says the tail stood), the state polled every `poll`, a stop
    /// request on cancel.
    async fn follow_ray(
        &mut self,
        phase: PhaseId,
        ray: Arc<crate::engine::ray::Ray>,
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
                Tail {
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
            let (state, msg) = info.run_state();
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
        let (state, msg) = info.run_state();
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = state;
            p.message = msg;
            p.exit_code = info.driver_exit_code;
            p.ended = Some(Utc::now());
        }
        self.publish().await;
        state
    }

    /// The store prefix a phase read: its dataset's, or the handoff's (phase 1's output).
    fn input_prefix(&self, phase: PhaseId) -> Option<(String, String)> {
        let spec = self.project.phase(phase);
        let first = spec.inputs.first()?;
        if first == "handoff" {
            let loc = self.run.phase(self.project.handoff.from)?.output.clone();
            let (b, k) = loc.split_once('/')?;
            return Some((b.to_string(), k.to_string()));
        }
        let ds = self.project.datasets.get(first)?;
        Some((
            self.project.storage.bucket.clone(),
            self.project.storage.key(&ds.path),
        ))
    }

    /// Write `tandem-manifest.json` next to a finished phase's outputs: what ran, on what, where.
    async fn write_manifest(&mut self, phase: PhaseId) {
        if self.dry.is_some() {
            return;
        }
        let inputs = match self.input_prefix(phase) {
            Some((b, k)) => {
                let prefix = format!("{}/", k.trim_end_matches('/'));
                crate::storage::list_all(self.store.as_ref(), &b, &prefix)
                    .await
                    .map(|objs| {
                        objs.into_iter()
                            .take(MANIFEST_INPUTS)
                            .map(|o| {
                                serde_json::json!({"key": format!("{b}/{}", o.key), "size": o.size, "etag": o.etag})
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            }
            None => vec![],
        };
        let m = manifest(&self.run, phase, inputs);
        if let Err(e) = self.ws.journal.save_manifest(&self.run.id, phase, &m) {
            tracing::error!("journal: {e}");
        }
        let Some(p) = self.run.phase(phase) else {
            return;
        };
        let (b, k) = p.output.split_once('/').unwrap_or((&p.output, ""));
        let key = format!("{}/{MANIFEST}", k.trim_end_matches('/'));
        let data = serde_json::to_vec_pretty(&m).unwrap_or_default();
        if let Err(e) = self.store.put(b, &key, data).await {
            self.note(phase, &format!("writing {b}/{key}: {e}"));
        }
    }

    /// Upload a staged output directory to its store prefix; `_SUCCESS` goes last so that a
    /// reader never sees the marker before the data.
    async fn upload_output(
        &self,
        phase: PhaseId,
        dir: &std::path::Path,
        bucket: &str,
        key: &str,
    ) -> Result<(), String> {
        let items = transfer::plan_upload(dir, key.trim_end_matches('/'), true)
            .map_err(|e| e.to_string())?;
        let (markers, data): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|i| i.key.ends_with("/_SUCCESS"));
        let p = Arc::new(Progress::default());
        for batch in [data, markers] {
            transfer::upload(
                self.store.clone(),
                bucket,
                &batch,
                Self::tuning(),
                p.clone(),
                CancellationToken::new(),
            )
            .await
            .map_err(|e| format!("uploading the output to {bucket}/{key}: {e}"))?;
        }
        self.note(
            phase,
            &format!("uploaded {} bytes to {bucket}/{key}", p.snapshot().0),
        );
        Ok(())
    }

    fn last_error_line(&self, phase: PhaseId) -> Option<String> {
        let text = std::fs::read(self.ws.log_path(&self.run.id, phase, true)).ok()?;
        let tail = &text[text.len().saturating_sub(4096)..];
        String::from_utf8_lossy(tail)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.chars().take(300).collect())
    }

    /// Where a phase's output goes as the cluster sees it: the directory store's path, the FSx
    /// mapping, or the S3 URI.
    fn remote_output(&self, phase: PhaseId) -> String {
        let loc = self
            .run
            .phase(phase)
            .map(|p| p.output.clone())
            .unwrap_or_default();
        let (b, k) = loc.split_once('/').unwrap_or((&loc, ""));
        self.remote_path(b, k)
    }

    /// What a dry run names as a phase's input: where the real run would read it (nothing is
    /// checked, generated or staged).
    fn planned_input(&self, phase: PhaseId) -> String {
        let spec = self.project.phase(phase);
        let bucket = self.project.storage.bucket.clone();
        match spec.inputs.first().map(String::as_str) {
            Some("handoff") => {
                let from = self.project.handoff.from;
                match self.run.phase(from) {
                    Some(p) => {
                        let (b, k) = p.output.split_once('/').unwrap_or((&p.output, ""));
                        self.remote_path(b, k)
                    }
                    None => format!("(the newest successful {from} output)"),
                }
            }
            Some(ds) => {
                let path = self.project.datasets.get(ds).map(|d| d.path.clone());
                self.remote_path(
                    &bucket,
                    &self.project.storage.key(&path.unwrap_or_default()),
                )
            }
            None => self.remote_path(&bucket, &self.project.storage.key("")),
        }
    }

    /// A store location as the phase's process sees it.
    fn remote_path(&self, b: &str, k: &str) -> String {
        if let Some(d) = self.dir_of(b, k) {
            return d.display().to_string();
        }
        if let Some(p) = self.fsx_path(k) {
            return p.display().to_string();
        }
        format!("s3://{b}/{k}")
    }

    /// Where `key` is on the cluster when FSx for Lustre maps the storage root to a POSIX path.
    fn fsx_path(&self, key: &str) -> Option<PathBuf> {
        let fsx = self.project.handoff.fsx_path.as_ref()?;
        let rel = key
            .strip_prefix(&self.project.storage.prefix)
            .unwrap_or(key)
            .trim_matches('/');
        Some(std::path::Path::new(fsx).join(rel))
    }

    /// A phase as a Slurm job on the target's cluster: submitted through the target's transport,
    /// followed one round trip per poll (state plus the new bytes of its logs, appended to the
    /// phase's local log files), cancelled with scancel.
    async fn run_slurm_phase(
        &mut self,
        phase: PhaseId,
        cancel: &CancellationToken,
        st: &SlurmTarget,
    ) -> RunState {
        use crate::engine::slurm::{Body, JobSpec, Slurm};
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
        let mut vars = Vars::new();
        vars.insert("tandem", self.ws.exe.display().to_string());
        vars.insert("run", self.run.id.clone());
        vars.insert("input", input.display().to_string());
        vars.insert("output", output.clone());
        vars.insert("run_dir", run_dir.clone());
        vars.insert("project_dir", self.project.dir.display().to_string());
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
        let transport = match crate::transport::connect(&st.transport).await {
            Ok(t) => t,
            Err(e) => return self.fail(phase, e.to_string()).await,
        };
        let slurm = Slurm::new(&*transport, &st.slurm);
        if let Some(p) = self.run.phase_mut(phase) {
            p.input = Some(input.display().to_string());
            p.command = match &job.body {
                Body::Command { argv, .. } => argv.clone(),
                Body::Script(_) => vec![format!("{run_dir}/job.sbatch")],
            };
        }
        if self.dry.is_some() {
            let sent = slurm.submit_script(&job).and_then(|script| {
                let mut v = transport.dry_run(&script)?;
                v["script"] = script.into();
                v["batch_script"] = job.batch_script()?.into();
                Ok(v)
            });
            let sent = match sent {
                Ok(v) => v,
                Err(e) => return self.fail(phase, e.to_string()).await,
            };
            if let Some(d) = self.dry.as_mut() {
                d.push(serde_json::json!({
                    "phase": phase,
                    "engine": "slurm",
                    "to": transport.describe(),
                    "requests": [sent],
                }));
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

    /// The run directory of a phase's Slurm job on the cluster.
    fn slurm_run_dir(&self, st: &SlurmTarget, phase: PhaseId) -> String {
        format!(
            "{}/{}/{}",
            st.work_dir.trim_end_matches('/'),
            self.run.id,
            phase
        )
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
                Tail {
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
        let mut drain = false;
        let half = slurm.transport.max_output() / 2;
        let quiet = CancellationToken::new();
        loop {
            if !drain {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = cancel.cancelled(), if !cancelled => {
                        cancelled = true;
                        self.note(phase, &format!("cancelling Slurm job {job_id} (scancel)"));
                        if let Err(e) = slurm.cancel(job_id, &quiet).await {
                            self.note(phase, &format!("scancel: {e}"));
                        }
                    }
                }
            }
            let offsets = (sinks[0].remote, sinks[1].remote);
            let p = match slurm
                .poll(job_id, &out_path, &err_path, offsets, &quiet)
                .await
            {
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
                    continue;
                }
            };
            if !p.stdout.is_empty() || !p.stderr.is_empty() {
                sinks[0].write(&p.stdout);
                sinks[1].write(&p.stderr);
                commit(self, &sinks);
            }
            drain = p.stdout.len() >= half || p.stderr.len() >= half;
            let (state, msg) = p.status.run_state();
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
                if state == RunState::Failed {
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

    /// Pick up a phase that a previous tandem left running on its engine (the journal has its
    /// engine id): follow it from where its log tails stood.
    async fn reattach(&mut self, phase: PhaseId, cancel: &CancellationToken) -> RunState {
        let Some(id) = self.run.phase(phase).and_then(|p| p.engine_id.clone()) else {
            return self
                .lost(
                    phase,
                    "tandem stopped while this phase ran; its process is gone",
                )
                .await;
        };
        let engine = self.project.phase(phase).engine;
        self.note(phase, &format!("re-attaching to {id}"));
        let ray_conf = self
            .project
            .targets
            .get(&self.run.target)
            .and_then(|t| t.ray.clone());
        match (engine, ray_conf, self.project.slurm_target(&self.run.target).cloned()) {
            (Engine::Ray, Some(_), _) => {
                let ray = match self.ray_client().await {
                    Ok(r) => r,
                    Err(e) => return self.fail(phase, e).await,
                };
                self.follow_ray(phase, ray, &id, cancel).await
            }
            (Engine::Slurm, _, Some(st)) => {
                let transport = match crate::transport::connect(&st.transport).await {
                    Ok(t) => t,
                    Err(e) => return self.fail(phase, e.to_string()).await,
                };
                let slurm = crate::engine::slurm::Slurm::new(&*transport, &st.slurm);
                let run_dir = self.slurm_run_dir(&st, phase);
                self.follow_slurm(phase, &slurm, &id, &run_dir, st.poll, cancel)
                    .await
            }
            _ => {
                self.lost(
                    phase,
                    &format!(
                        "the project no longer runs {phase} on {} for target {}: job {id} is not followed",
                        engine.as_str(),
                        self.run.target
                    ),
                )
                .await
            }
        }
    }

    async fn lost(&mut self, phase: PhaseId, why: &str) -> RunState {
        self.note(phase, why);
        if let Some(p) = self.run.phase_mut(phase) {
            p.state = RunState::Lost;
            p.ended.get_or_insert(Utc::now());
            p.message = Some(why.to_string());
        }
        self.publish().await;
        RunState::Lost
    }

    async fn fail(&mut self, phase: PhaseId, why: String) -> RunState {
        if let Some(d) = self.dry.as_mut() {
            d.push(serde_json::json!({"phase": phase, "error": why}));
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

/// The manifest written next to each phase's outputs.
pub const MANIFEST: &str = "tandem-manifest.json";
/// Input objects listed in a manifest (a prefix with more says so with `inputs_truncated`).
const MANIFEST_INPUTS: usize = 10_000;

/// What a manifest holds: the project file's hash, the inputs with their ETags, the command and
/// engine id, tandem's version, the start and end times.
pub fn manifest(run: &Run, phase: PhaseId, inputs: Vec<serde_json::Value>) -> serde_json::Value {
    let p = run.phase(phase);
    serde_json::json!({
        "tandem_version": run.tandem_version,
        "run": run.id,
        "project": run.project,
        "project_file": run.project_file,
        "project_hash": run.project_hash,
        "target": run.target,
        "phase": phase,
        "state": p.map(|p| p.state),
        "engine": p.map(|p| p.engine.clone()),
        "engine_id": p.and_then(|p| p.engine_id.clone()),
        "command": p.map(|p| p.command.clone()),
        "input": p.and_then(|p| p.input.clone()),
        "inputs_truncated": inputs.len() >= MANIFEST_INPUTS,
        "inputs": inputs,
        "output": p.map(|p| p.output.clone()),
        "started": p.and_then(|p| p.started),
        "ended": p.and_then(|p| p.ended),
        "exit_code": p.and_then(|p| p.exit_code),
    })
}

/// Run the phases of `run` in order. The solve phase starts only when preprocess succeeded and the
/// handoff's required files exist. Returns the final record.
///
/// The same call resumes a run from the journal: phases that succeeded are kept (their manifest
/// written if it is missing), phases left running on an engine are re-attached and followed from
/// their log offsets, and the rest run. The run is driven under its journal lease: when another
/// live tandem drives it, nothing is done and the journal's record is returned.
pub async fn execute(
    ws: Workspace,
    project: Arc<Project>,
    store: Arc<dyn ObjectStore>,
    run: Run,
    cancel: CancellationToken,
    events: mpsc::Sender<RunEvent>,
) -> Run {
    let owner = Owner::me();
    // a run another process may drive is not overwritten with this (possibly stale) copy
    if !ws.journal.exists(&run.id).unwrap_or(false) {
        if let Err(e) = ws.journal.record(&run) {
            tracing::error!("journal write failed: {e}");
        }
    }
    match ws.journal.lease(&run.id, &owner) {
        Ok(Lease::Acquired) => {}
        Ok(Lease::HeldBy(who)) => {
            tracing::info!(run = %run.id, %who, "driven by another tandem");
            return ws.journal.get(&run.id).ok().flatten().unwrap_or(run);
        }
        Err(e) => tracing::error!("journal: {e}"),
    }
    let renew = {
        let (j, id, me) = (ws.journal.clone(), run.id.clone(), owner.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(super::journal::RENEW_EVERY).await;
                match j.renew(&id, &me) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(run = %id, "another tandem took this run over"),
                    Err(e) => tracing::error!("journal: {e}"),
                }
            }
        })
    };
    let order: Vec<PhaseId> = run.phases.iter().map(|p| p.phase).collect();
    let mut ex = Exec {
        ws: &ws,
        project: &project,
        store,
        events: &events,
        run,
        owner: owner.clone(),
        dry: None,
    };
    ex.publish().await;
    let mut stop: Option<String> = None;
    for phase in order {
        let state = ex.run.phase(phase).map(|p| p.state);
        if let Some(why) = &stop {
            if state.is_some_and(|s| !s.is_terminal()) {
                if let Some(p) = ex.run.phase_mut(phase) {
                    p.state = RunState::Cancelled;
                    p.message = Some(why.clone());
                }
                ex.publish().await;
            }
            continue;
        }
        if cancel.is_cancelled() {
            stop = Some("not started: the run was cancelled".into());
            continue;
        }
        let end = match state {
            Some(RunState::Succeeded) => {
                if ex
                    .ws
                    .journal
                    .manifest(&ex.run.id, phase)
                    .ok()
                    .flatten()
                    .is_none()
                {
                    ex.write_manifest(phase).await;
                }
                continue;
            }
            Some(s @ (RunState::Failed | RunState::Cancelled | RunState::Lost)) => s,
            Some(RunState::Submitted | RunState::Running) => ex.reattach(phase, &cancel).await,
            _ => ex.run_phase(phase, &cancel).await,
        };
        match end {
            RunState::Succeeded => ex.write_manifest(phase).await,
            RunState::Cancelled => stop = Some("not started: the run was cancelled".into()),
            _ => stop = Some(format!("not started: {phase} failed")),
        }
    }
    ex.publish().await;
    renew.abort();
    if let Err(e) = ws.journal.release(&ex.run.id, &owner) {
        tracing::error!("journal: {e}");
    }
    ex.run
}

/// What running `run` would send, phase by phase (`--dry-run`): the local commands, the Ray Jobs
/// API requests (or the curl scripts run on the head node), the Slurm submit scripts with the
/// transport's request (ssh argv, SSM SendCommand). Nothing is sent, written or journalled.
pub async fn plan(
    ws: &Workspace,
    project: Arc<Project>,
    store: Arc<dyn ObjectStore>,
    run: Run,
) -> Vec<serde_json::Value> {
    let (events, _rx) = mpsc::channel(1);
    let order: Vec<PhaseId> = run.phases.iter().map(|p| p.phase).collect();
    let mut ex = Exec {
        ws,
        project: &project,
        store,
        events: &events,
        run,
        owner: Owner::me(),
        dry: Some(Vec::new()),
    };
    let never = CancellationToken::new();
    for phase in order {
        if ex.run_phase(phase, &never).await != RunState::Succeeded {
            break;
        }
    }
    ex.dry.take().unwrap_or_default()
}

/// Files of a phase output directory on this machine.
/// For S3 projects this is the staged copy the phase wrote before its upload.
pub fn output_dir(ws: &Workspace, project: &Project, run: &Run, phase: PhaseId) -> Option<PathBuf> {
    if project.storage.s3 {
        let d = ws.stage_dir(&run.id, phase, "output");
        return d.is_dir().then_some(d);
    }
    let loc = &run.phase(phase)?.output;
    let (b, k) = loc.split_once('/')?;
    ws.store_for(project, &run.target)
        .local_path(b, k.trim_end_matches('/'))
}
