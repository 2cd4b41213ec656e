//! The Ray engine: the Ray Jobs REST API (what `ray job` wraps) on the dashboard, reached directly
//! (a local `ray start --head`, or a head node the user can reach) or through the target's transport
//! (the same request made with curl on the head node, over SSH or SSM).
//!
//! - submit: POST /api/jobs/ with entrypoint, submission_id, metadata, runtime_env (working_dir,
//!   pip, env_vars) and entrypoint resources. A local working_dir is zipped and uploaded first
//!   (PUT /api/packages/gcs/_ray_pkg_HASH.zip, skipped when the dashboard already has it), then
//!   named by its `gcs://` URI, the way Ray's own client stages it.
//! - status: GET /api/jobs/ID; stop: POST /api/jobs/ID/stop; list: GET /api/jobs/.
//! - logs: the tail websocket (/api/jobs/ID/logs/tail) where the dashboard is reached directly; over a
//!   transport, the driver log file on the head node read from a byte offset (`tail -c +N`), like a
//!   Slurm job log. Neither downloads the whole log again.
//!
//! Ray's errors become one message: a 404 names the job, a duplicate submission id (HTTP 500 with a
//! Python traceback) says the id is taken, an unreachable dashboard says how to start one.

use crate::transport::{quote, Outgoing, Transport};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RayError {
    #[error(
        "cannot reach the Ray dashboard at {url}: {why} — is `ray start --head` running there?"
    )]
    Unreachable { url: String, why: String },
    #[error("no Ray job `{0}` on this cluster")]
    NoJob(String),
    #[error("submission id `{0}` is taken: a job with this id was already submitted")]
    Duplicate(String),
    #[error("Ray answered HTTP {status} to {what}: {message}")]
    Http {
        status: u16,
        what: String,
        message: String,
    },
    #[error("packaging working_dir {dir}: {why}")]
    Package { dir: String, why: String },
    #[error("{0}")]
    Transport(String),
    #[error("cancelled")]
    Cancelled,
}

pub type Result<T> = std::result::Result<T, RayError>;

pub use crate::project::{RayConf, Reach};

/// What is submitted.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct JobRequest {
    pub entrypoint: String,
    pub submission_id: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// working_dir (a URI once staged), pip, env_vars.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub runtime_env: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
}

/// A job as the Jobs API describes it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct JobInfo {
    #[serde(default)]
    pub submission_id: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    /// PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub driver_exit_code: Option<i32>,
    #[serde(default)]
    pub entrypoint: String,
    /// Milliseconds since the epoch (0 while unset).
    #[serde(default)]
    pub start_time: Option<u64>,
    #[serde(default)]
    pub end_time: Option<u64>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl JobInfo {
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }
}

/// A Ray cluster at one moment.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RayCluster {
    pub nodes: Vec<RayNode>,
    /// Resource -> (used, total) over the cluster.
    pub usage: BTreeMap<String, (f64, f64)>,
    /// Newest first.
    pub jobs: Vec<JobInfo>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RayNode {
    pub id: String,
    pub ip: String,
    pub head: bool,
    /// ALIVE or DEAD.
    pub state: String,
    /// CPU, GPU, memory (bytes), object_store_memory (bytes), custom resources; the per-node
    /// `node:...` markers are left out.
    pub resources: BTreeMap<String, f64>,
}

impl RayCluster {
    pub fn running_jobs(&self) -> usize {
        self.jobs
            .iter()
            .filter(|j| matches!(j.status.as_str(), "RUNNING" | "PENDING"))
            .count()
    }
}

/// The State API's node list: `{"data": {"result": {"result": [...]}}}`.
pub fn parse_nodes(body: &[u8]) -> std::result::Result<Vec<RayNode>, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("unreadable answer: {e}"))?;
    let list = v["data"]["result"]["result"]
        .as_array()
        .or_else(|| v["data"]["result"].as_array())
        .ok_or_else(|| "no node list in the answer".to_string())?;
    Ok(list
        .iter()
        .map(|n| RayNode {
            id: n["node_id"].as_str().unwrap_or_default().to_string(),
            ip: n["node_ip"].as_str().unwrap_or_default().to_string(),
            head: n["is_head_node"].as_bool().unwrap_or(false),
            state: n["state"].as_str().unwrap_or_default().to_string(),
            resources: n["resources_total"]
                .as_object()
                .map(|r| {
                    r.iter()
                        .filter(|(k, _)| !k.starts_with("node:"))
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// The autoscaler's load report: `usage: {"CPU": [used, total], ...}`, wherever the dashboard
/// version puts it.
pub fn parse_usage(body: &[u8]) -> BTreeMap<String, (f64, f64)> {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return BTreeMap::new();
    };
    let report = &v["data"]["clusterStatus"]["loadMetricsReport"]["usage"];
    report
        .as_object()
        .map(|u| {
            u.iter()
                .filter(|(k, _)| !k.starts_with("node:"))
                .filter_map(|(k, x)| {
                    // the dashboard camel-cases this report's keys
                    let k = match k.as_str() {
                        "objectStoreMemory" => "object_store_memory".to_string(),
                        _ => k.clone(),
                    };
                    Some((k, (x[0].as_f64()?, x[1].as_f64()?)))
                })
                .collect()
        })
        .unwrap_or_default()
}

enum Http {
    Direct(reqwest::Client),
    Via(Arc<dyn Transport>),
}

/// A Ray cluster's Jobs API.
pub struct Ray {
    conf: RayConf,
    http: Http,
    /// Requests made (for the cost line and the tests).
    requests: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Ray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ray({})", self.describe())
    }
}

/// A response: status code and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

const CURL_MARK: &str = "@@tandem-http-status@@";

impl Ray {
    /// Reach the dashboard from here.
    pub fn direct(conf: RayConf) -> Ray {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        Ray {
            conf,
            http: Http::Direct(client),
            requests: Default::default(),
        }
    }

    /// Reach the dashboard with curl on the head node.
    pub fn via(conf: RayConf, transport: Arc<dyn Transport>) -> Ray {
        Ray {
            conf,
            http: Http::Via(transport),
            requests: Default::default(),
        }
    }

    pub fn describe(&self) -> String {
        match &self.http {
            Http::Direct(_) => format!("ray {}", self.conf.dashboard),
            Http::Via(t) => format!("ray {} via {}", self.conf.dashboard, t.describe()),
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.conf.dashboard.trim_end_matches('/'))
    }

    /// The shell script that makes one request on the head node (also what --dry-run prints).
    pub fn curl_script(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<String> {
        let mut argv: Vec<String> = vec![
            "curl".into(),
            "-sS".into(),
            "--max-time".into(),
            "120".into(),
            "-X".into(),
            method.into(),
            "-w".into(),
            format!("\n{CURL_MARK}%{{http_code}}"),
        ];
        if let Some(b) = body {
            argv.extend([
                "-H".into(),
                "Content-Type: application/json".into(),
                "--data-binary".into(),
                String::from_utf8_lossy(b).into_owned(),
            ]);
        }
        argv.push(self.url(path));
        let q: Vec<String> = argv
            .iter()
            .map(|a| quote(a))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| RayError::Transport(e.to_string()))?;
        Ok(q.join(" ") + "\n")
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        json: bool,
    ) -> Result<Answer> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match &self.http {
            Http::Direct(c) => {
                let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default();
                let mut req = c.request(m, self.url(path));
                if let Some(b) = body {
                    if json {
                        req = req.header("Content-Type", "application/json");
                    }
                    req = req.body(b);
                }
                let r = req.send().await.map_err(|e| RayError::Unreachable {
                    url: self.conf.dashboard.clone(),
                    why: error_chain(&e),
                })?;
                let status = r.status().as_u16();
                let body = r.bytes().await.map_err(|e| RayError::Unreachable {
                    url: self.conf.dashboard.clone(),
                    why: error_chain(&e),
                })?;
                Ok(Answer {
                    status,
                    body: body.to_vec(),
                })
            }
            Http::Via(t) => {
                if body.as_ref().is_some_and(|_| !json) {
                    return Err(RayError::Transport(
                        "binary uploads through a transport are not supported: stage working_dir on S3 or the head node".into(),
                    ));
                }
                let script = self.curl_script(method, path, body.as_deref())?;
                let out = t
                    .run(&script, Duration::from_secs(150), &CancellationToken::new())
                    .await
                    .map_err(|e| RayError::Transport(e.to_string()))?;
                let text = &out.stdout;
                let Some(i) = memchr::memmem::rfind(text, CURL_MARK.as_bytes()) else {
                    return Err(RayError::Unreachable {
                        url: self.conf.dashboard.clone(),
                        why: format!("curl on the head node: {}", out.stderr_line()),
                    });
                };
                let code = String::from_utf8_lossy(&text[i + CURL_MARK.len()..])
                    .trim()
                    .parse::<u16>()
                    .unwrap_or(0);
                if code == 0 {
                    return Err(RayError::Unreachable {
                        url: self.conf.dashboard.clone(),
                        why: format!("curl on the head node: {}", out.stderr_line()),
                    });
                }
                let mut body = text[..i].to_vec();
                if body.last() == Some(&b'\n') {
                    body.pop();
                }
                Ok(Answer { status: code, body })
            }
        }
    }

    fn check(&self, a: Answer, what: &str, id: &str) -> Result<Answer> {
        match a.status {
            200..=299 => Ok(a),
            404 => Err(RayError::NoJob(id.to_string())),
            500 if a.text().contains("already exists") => Err(RayError::Duplicate(id.to_string())),
            s => Err(RayError::Http {
                status: s,
                what: what.into(),
                message: last_line(&a.text()),
            }),
        }
    }

    /// Zip a local working_dir and make sure the dashboard holds it; returns its `gcs://` URI.
    pub async fn stage_working_dir(&self, dir: &Path) -> Result<String> {
        let d = dir.to_path_buf();
        let (name, bytes) = tokio::task::spawn_blocking(move || package(&d))
            .await
            .map_err(|e| RayError::Package {
                dir: dir.display().to_string(),
                why: e.to_string(),
            })??;
        let path = format!("/api/packages/gcs/{name}");
        let have = self.call("GET", &path, None, false).await?;
        if have.status != 200 {
            let a = self.call("PUT", &path, Some(bytes), false).await?;
            self.check(a, "the working_dir upload", &name)?;
        }
        Ok(format!("gcs://{name}"))
    }

    /// What `submit(req)` would send, for `--dry-run`: the request, or the curl script run on
    /// the head node.
    pub fn dry_submit(&self, req: &JobRequest) -> Result<Outgoing> {
        let body = serde_json::to_vec(req).map_err(|e| RayError::Transport(e.to_string()))?;
        match &self.http {
            Http::Direct(_) => Ok(Outgoing::Http {
                method: "POST".into(),
                url: self.url("/api/jobs/"),
                body: serde_json::to_value(req).ok(),
                bytes: None,
                when: None,
                uri: None,
            }),
            Http::Via(t) => t
                .dry_run(&self.curl_script("POST", "/api/jobs/", Some(&body))?)
                .map_err(|e| RayError::Transport(e.to_string())),
        }
    }

    /// What `stage_working_dir(dir)` would upload, for `--dry-run` (the package is made, not sent).
    pub fn dry_stage(&self, dir: &Path) -> Result<Outgoing> {
        let (name, bytes) = package(dir)?;
        Ok(Outgoing::Http {
            method: "PUT".into(),
            url: self.url(&format!("/api/packages/gcs/{name}")),
            body: None,
            bytes: Some(bytes.len()),
            when: Some("the package is not there yet (GET first)".into()),
            uri: Some(format!("gcs://{name}")),
        })
    }

    /// Submit; returns the submission id.
    pub async fn submit(&self, req: &JobRequest) -> Result<String> {
        let body = serde_json::to_vec(req).map_err(|e| RayError::Transport(e.to_string()))?;
        let a = self.call("POST", "/api/jobs/", Some(body), true).await?;
        let a = self.check(a, "the submission", &req.submission_id)?;
        #[derive(Deserialize)]
        struct Submitted {
            submission_id: String,
        }
        serde_json::from_slice::<Submitted>(&a.body)
            .map(|s| s.submission_id)
            .map_err(|e| RayError::Http {
                status: a.status,
                what: "the submission".into(),
                message: format!("unreadable answer: {e}"),
            })
    }

    pub async fn status(&self, id: &str) -> Result<JobInfo> {
        let a = self
            .call("GET", &format!("/api/jobs/{}", enc(id)), None, false)
            .await?;
        let a = self.check(a, "the status request", id)?;
        serde_json::from_slice(&a.body).map_err(|e| RayError::Http {
            status: a.status,
            what: "the status request".into(),
            message: format!("unreadable answer: {e}"),
        })
    }

    /// The whole log so far (GET /api/jobs/ID/logs); following uses [`Ray::follow_logs`].
    pub async fn logs(&self, id: &str) -> Result<String> {
        let a = self
            .call("GET", &format!("/api/jobs/{}/logs", enc(id)), None, false)
            .await?;
        let a = self.check(a, "the logs request", id)?;
        #[derive(Deserialize)]
        struct Logs {
            logs: String,
        }
        Ok(serde_json::from_slice::<Logs>(&a.body)
            .map(|l| l.logs)
            .unwrap_or_else(|_| a.text()))
    }

    pub async fn stop(&self, id: &str) -> Result<bool> {
        let a = self
            .call("POST", &format!("/api/jobs/{}/stop", enc(id)), None, false)
            .await?;
        let a = self.check(a, "the stop request", id)?;
        #[derive(Deserialize)]
        struct Stopped {
            stopped: bool,
        }
        Ok(serde_json::from_slice::<Stopped>(&a.body)
            .map(|s| s.stopped)
            .unwrap_or(true))
    }

    pub async fn list(&self) -> Result<Vec<JobInfo>> {
        let a = self.call("GET", "/api/jobs/", None, false).await?;
        let a = self.check(a, "the job list", "")?;
        serde_json::from_slice(&a.body).map_err(|e| RayError::Http {
            status: a.status,
            what: "the job list".into(),
            message: format!("unreadable answer: {e}"),
        })
    }

    /// The cluster as the dashboard sees it: nodes (State API), resource use (the autoscaler's
    /// load report, when the dashboard gives one) and jobs (Jobs API). Three requests.
    pub async fn cluster(&self) -> Result<RayCluster> {
        let a = self
            .call("GET", "/api/v0/nodes?limit=1000", None, false)
            .await?;
        let a = self.check(a, "the node list", "")?;
        let nodes = parse_nodes(&a.body).map_err(|e| RayError::Http {
            status: a.status,
            what: "the node list".into(),
            message: e,
        })?;
        // older and newer dashboards differ here: a missing report is not an error
        let usage = match self.call("GET", "/api/cluster_status", None, false).await {
            Ok(a) if a.status == 200 => parse_usage(&a.body),
            _ => BTreeMap::new(),
        };
        let mut jobs = self.list().await?;
        jobs.sort_by_key(|j| std::cmp::Reverse(j.start_time));
        Ok(RayCluster { nodes, usage, jobs })
    }

    /// Follow a job's log from byte `offset` until the job ends (or `cancel`), handing each new
    /// chunk to `sink`. Returns the offset reached. Direct: the tail websocket (which sends the log
    /// from its start; bytes before `offset` are skipped, so a resumed follow repeats nothing).
    /// Through a transport: the driver log on the head node, from the offset, once per poll.
    pub async fn follow_logs(
        &self,
        id: &str,
        mut offset: u64,
        cancel: &CancellationToken,
        sink: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<u64> {
        match &self.http {
            Http::Direct(_) => {
                let ws_url = self
                    .url(&format!("/api/jobs/{}/logs/tail", enc(id)))
                    .replacen("http://", "ws://", 1)
                    .replacen("https://", "wss://", 1);
                self.requests
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
                    .await
                    .map_err(|e| match e {
                        tokio_tungstenite::tungstenite::Error::Http(r)
                            if r.status().as_u16() == 404 =>
                        {
                            RayError::NoJob(id.to_string())
                        }
                        e => RayError::Unreachable {
                            url: self.conf.dashboard.clone(),
                            why: e.to_string(),
                        },
                    })?;
                let mut seen = 0u64;
                loop {
                    let msg = tokio::select! {
                        m = ws.next() => m,
                        _ = cancel.cancelled() => {
                            let _ = ws.close(None).await;
                            return Err(RayError::Cancelled);
                        }
                    };
                    use tokio_tungstenite::tungstenite::Message;
                    let data: Vec<u8> = match msg {
                        None | Some(Ok(Message::Close(_))) => break,
                        Some(Ok(Message::Text(t))) => t.as_bytes().to_vec(),
                        Some(Ok(Message::Binary(b))) => b.to_vec(),
                        Some(Ok(Message::Ping(p))) => {
                            let _ = ws.send(Message::Pong(p)).await;
                            continue;
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            return Err(RayError::Unreachable {
                                url: self.conf.dashboard.clone(),
                                why: format!("log stream broke: {e}"),
                            })
                        }
                    };
                    let end = seen + data.len() as u64;
                    if end > offset {
                        let from = offset.saturating_sub(seen) as usize;
                        sink(&data[from..]);
                        offset = end;
                    }
                    seen = end;
                }
                Ok(offset)
            }
            Http::Via(t) => {
                let file = format!(
                    "{}/session_latest/logs/job-driver-{id}.log",
                    self.conf.temp_dir.trim_end_matches('/')
                );
                let max = t.max_output().saturating_sub(200);
                loop {
                    let script = format!(
                        "tail -c +{} {} 2>/dev/null | head -c {max}\n",
                        offset + 1,
                        quote(&file).map_err(|e| RayError::Transport(e.to_string()))?
                    );
                    let out = t
                        .run(&script, Duration::from_secs(60), cancel)
                        .await
                        .map_err(|e| match e {
                            crate::transport::TransportError::Cancelled => RayError::Cancelled,
                            e => RayError::Transport(e.to_string()),
                        })?;
                    if !out.stdout.is_empty() {
                        sink(&out.stdout);
                        offset += out.stdout.len() as u64;
                        if out.stdout.len() >= max {
                            continue; // more waiting: read on without sleeping
                        }
                    }
                    let st = self.status(id).await?;
                    if st.is_terminal() {
                        // one last read for what the driver wrote as it ended
                        let script = format!(
                            "tail -c +{} {} 2>/dev/null\n",
                            offset + 1,
                            quote(&file).map_err(|e| RayError::Transport(e.to_string()))?
                        );
                        if let Ok(o) = t.run(&script, Duration::from_secs(60), cancel).await {
                            if !o.stdout.is_empty() {
                                sink(&o.stdout);
                                offset += o.stdout.len() as u64;
                            }
                        }
                        return Ok(offset);
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(self.conf.poll) => {}
                        _ = cancel.cancelled() => return Err(RayError::Cancelled),
                    }
                }
            }
        }
    }
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The last non-empty line of an answer (a Python traceback ends with the error itself).
fn last_line(text: &str) -> String {
    let l = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    crate::observe::sanitize(&l.chars().take(300).collect::<String>()).into_owned()
}

/// Zip `dir` (files at the archive's root, sorted, with fixed times so the same content gives the
/// same bytes) and name it `_ray_pkg_<sha-like hash>.zip` after its content.
pub fn package(dir: &Path) -> Result<(String, Vec<u8>)> {
    use std::io::Write;
    let err = |why: String| RayError::Package {
        dir: dir.display().to_string(),
        why,
    };
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| err(e.to_string()))? {
            let e = e.map_err(|e| err(e.to_string()))?;
            let p = e.path();
            let name = e.file_name();
            let n = name.to_string_lossy();
            if n == "__pycache__" || n == ".git" || n.ends_with(".pyc") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |b: &[u8]| {
        for &x in b {
            hash ^= x as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .map_err(|e| err(e.to_string()))?
                .to_string_lossy()
                .replace('\\', "/");
            let data = std::fs::read(f).map_err(|e| err(format!("{}: {e}", f.display())))?;
            mix(rel.as_bytes());
            mix(&[0]);
            mix(&data);
            z.start_file(rel, opts).map_err(|e| err(e.to_string()))?;
            z.write_all(&data).map_err(|e| err(e.to_string()))?;
        }
        z.finish().map_err(|e| err(e.to_string()))?;
    }
    Ok((format!("_ray_pkg_{hash:016x}.zip"), buf.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_named_by_content_and_skip_caches() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.py"), "print(1)\n").unwrap();
        std::fs::create_dir(d.path().join("__pycache__")).unwrap();
        std::fs::write(d.path().join("__pycache__/a.pyc"), "junk").unwrap();
        std::fs::create_dir(d.path().join("lib")).unwrap();
        std::fs::write(d.path().join("lib/b.py"), "x = 2\n").unwrap();
        let (n1, z1) = package(d.path()).unwrap();
        let (n2, z2) = package(d.path()).unwrap();
        assert_eq!((&n1, &z1), (&n2, &z2), "the same content, the same package");
        assert!(n1.starts_with("_ray_pkg_") && n1.ends_with(".zip"));
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(z1)).unwrap();
        let mut names: Vec<String> = (0..z.len())
            .map(|i| z.by_index(i).unwrap().name().to_string())
            .collect();
        names.sort();
        assert_eq!(names, ["a.py", "lib/b.py"]);
        std::fs::write(d.path().join("a.py"), "print(2)\n").unwrap();
        assert_ne!(package(d.path()).unwrap().0, n1);
    }

    #[test]
    fn curl_requests_on_the_head_node_are_quoted() {
        let r = Ray::via(RayConf::default(), Arc::new(crate::transport::local::Local));
        let body = br#"{"entrypoint":"echo '$(id)'; rm -rf /"}"#;
        let s = r.curl_script("POST", "/api/jobs/", Some(body)).unwrap();
        let argv = shlex::split(s.trim()).unwrap();
        assert_eq!(argv[0], "curl");
        assert!(argv.contains(&String::from_utf8_lossy(body).into_owned()));
        assert_eq!(argv.last().unwrap(), "http://127.0.0.1:8265/api/jobs/");
    }
}
