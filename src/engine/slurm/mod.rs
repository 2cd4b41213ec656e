//! The Slurm engine, over any transport: a batch script made from the phase spec, `sbatch
//! --parsable`, one round trip per poll that brings back the job's state and the new bytes of its
//! logs (by offset, like turm: each byte read once), `scancel`, and the queue for the Jobs view.
//!
//! Job state comes from `squeue -o` with a narrow format while the job is queued (the JSON form
//! costs the squeue client ~60 ms at 500 jobs, see SERVICES), then from `sacct` where accounting
//! exists and `scontrol show job` otherwise once it has left the queue. The queue for the Jobs
//! view uses `squeue --json` (Slurm 21.08+) and falls back to `squeue -o` on older ones.

mod array;

pub use crate::project::SlurmConf;
use crate::transport::{quote, quote_path, Result, Script, Transport, TransportError, Word};
pub use array::{parse_array_poll, ArrayPoll, ArraySpec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

impl SlurmConf {
    fn tool(&self, name: &str) -> String {
        match &self.bin {
            Some(b) => format!("{}/{name}", b.trim_end_matches('/')),
            None => name.to_string(),
        }
    }
    fn script(&self) -> Result<Script> {
        let s = Script::new();
        match &self.conf {
            Some(c) => s.env("SLURM_CONF", c),
            None => Ok(s),
        }
    }
}

/// What to submit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSpec {
    pub name: String,
    pub nodes: Option<u32>,
    pub tasks_per_node: Option<u32>,
    pub cpus_per_task: Option<u32>,
    pub memory_gb: Option<f64>,
    /// `HH:MM:SS`, `MM`, `D-HH:MM:SS` as Slurm reads it.
    pub time_limit: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
    /// Exported in the submitting shell; sbatch passes it on (`--export=ALL`, its default).
    pub env: BTreeMap<String, String>,
    /// The job's working directory and where job.sbatch, stdout and stderr go.
    pub run_dir: String,
    /// The body: a user's batch script, or a command run under `launcher`.
    pub body: Body,
    /// Submit held (`--hold`): pending with reason JobHeldUser until released.
    pub hold: bool,
    /// A job array, one element per row of a sweep's parameter table.
    pub array: Option<ArraySpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Script(String),
    Command {
        argv: Vec<String>,
        /// `srun`, `mpirun` or `none`.
        launcher: String,
    },
}

impl Default for Body {
    fn default() -> Self {
        Body::Command {
            argv: vec![],
            launcher: "srun".into(),
        }
    }
}

impl JobSpec {
    /// Where the job writes stdout, as sbatch is told (`%j`; `%A_%a` for an array's elements).
    pub fn stdout_path(&self) -> String {
        format!(
            "{}/slurm-{}.out",
            self.run_dir.trim_end_matches('/'),
            self.id_pattern()
        )
    }
    pub fn stderr_path(&self) -> String {
        format!(
            "{}/slurm-{}.err",
            self.run_dir.trim_end_matches('/'),
            self.id_pattern()
        )
    }
    fn id_pattern(&self) -> &'static str {
        if self.array.is_some() {
            "%A_%a"
        } else {
            "%j"
        }
    }
    /// The batch script's text (an array's reads its element's row of the parameter table
    /// first).
    pub fn batch_script(&self) -> Result<String> {
        if let Some(a) = &self.array {
            return a.batch_script(self);
        }
        match &self.body {
            Body::Script(s) => Ok(s.clone()),
            Body::Command { argv, launcher } => {
                let mut words = launcher_words(argv, launcher)?;
                words.extend(argv.iter().cloned());
                let line = Script::new().cmd(&words)?.build();
                Ok(format!(
                    "#!/bin/sh\n# written by tandem\nset -e\necho \"job $SLURM_JOB_ID on $(hostname)\"\nexec {line}"
                ))
            }
        }
    }
    /// sbatch's options, as a person reads them.
    pub fn sbatch_args(&self) -> Vec<String> {
        self.sbatch_words().iter().map(Word::text).collect()
    }

    /// sbatch's options, each one word; the run directory's paths may be under `~/`.
    pub fn sbatch_words(&self) -> Vec<Word> {
        let arg = |s: String| Word::Arg(s);
        let mut a = vec![
            arg("--parsable".to_string()),
            arg(format!("--job-name={}", self.name)),
            Word::Opt("--chdir=", self.run_dir.clone()),
            Word::Opt("--output=", self.stdout_path()),
            Word::Opt("--error=", self.stderr_path()),
        ];
        if let Some(n) = self.nodes {
            a.push(arg(format!("--nodes={n}")));
        }
        if let Some(n) = self.tasks_per_node {
            a.push(arg(format!("--ntasks-per-node={n}")));
        }
        if let Some(n) = self.cpus_per_task {
            a.push(arg(format!("--cpus-per-task={n}")));
        }
        if let Some(m) = self.memory_gb {
            a.push(arg(format!("--mem={}M", (m * 1024.0).round() as u64)));
        }
        if let Some(t) = &self.time_limit {
            a.push(arg(format!("--time={t}")));
        }
        if let Some(p) = &self.partition {
            a.push(arg(format!("--partition={p}")));
        }
        if let Some(p) = &self.account {
            a.push(arg(format!("--account={p}")));
        }
        if self.hold {
            a.push(arg("--hold".into()));
        }
        if let Some(x) = &self.array {
            a.push(arg(format!("--array={}", x.indexes())));
        }
        a
    }
}

/// The words a command runs under (`srun`, `mpirun` or nothing); a phase without a command is
/// refused.
pub(crate) fn launcher_words(argv: &[String], launcher: &str) -> Result<Vec<String>> {
    if argv.is_empty() {
        return Err(TransportError::Refused("the phase has no command".into()));
    }
    match launcher {
        "srun" => Ok(vec!["srun".into()]),
        "mpirun" => Ok(vec!["mpirun".into()]),
        "none" | "" => Ok(vec![]),
        other => Err(TransportError::Refused(format!(
            "launcher `{other}`: expected srun, mpirun or none"
        ))),
    }
}

/// What a poll saw.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    /// Slurm's state word (PENDING, RUNNING, COMPLETED, TIMEOUT, ...); empty when Slurm no
    /// longer knows the job.
    pub state: String,
    pub reason: String,
    pub exit_code: Option<i32>,
    pub elapsed: String,
    pub nodes: String,
}

impl JobStatus {
    /// Whether the job has ended (or Slurm no longer knows it): its logs will not grow.
    pub fn is_over(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED"
                | "CANCELLED"
                | "FAILED"
                | "TIMEOUT"
                | "OUT_OF_MEMORY"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
                | ""
        )
    }
}

/// One poll's answer: state and the new bytes of stdout and stderr.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Poll {
    pub status: JobStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Bytes and state of one poll of a job's log (the Jobs view's), with where the log is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobLogChunk {
    pub paths: (String, String),
    /// How the bytes arrive (streamed or polled).
    pub reading: Option<super::joblog::Reading>,
    pub status: JobStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The engine: Slurm through `transport`.
#[derive(Debug)]
pub struct Slurm<'a> {
    pub transport: &'a dyn Transport,
    pub conf: &'a SlurmConf,
    pub timeout: Duration,
}

const LOG_MARK: &str = "@@tandem-stdout@@";
const ERR_MARK: &str = "@@tandem-stderr@@";

impl<'a> Slurm<'a> {
    pub fn new(transport: &'a dyn Transport, conf: &'a SlurmConf) -> Slurm<'a> {
        Slurm {
            transport,
            conf,
            timeout: Duration::from_secs(60),
        }
    }

    /// The script that submits `spec` (what `--dry-run` prints). It submits once per run
    /// directory: the first submission makes a marker directory and keeps the job id in
    /// `job.id`; any later one (a restarted tandem, a second one) prints that id instead.
    pub fn submit_script(&self, spec: &JobSpec) -> Result<String> {
        let mut s = self.conf.script()?;
        for (k, v) in &spec.env {
            s = s.env(k, v)?;
        }
        let dir = spec.run_dir.trim_end_matches('/');
        let file = format!("{dir}/job.sbatch");
        let mut argv = vec![Word::Arg(self.conf.tool("sbatch"))];
        let mut spec = spec.clone();
        spec.partition = spec.partition.or(self.conf.partition.clone());
        spec.account = spec.account.or(self.conf.account.clone());
        argv.extend(spec.sbatch_words());
        argv.push(Word::Path(file.clone()));
        let s = s
            .raw("set -e")
            .words(
                &[
                    Word::Arg("mkdir".into()),
                    Word::Arg("-p".into()),
                    Word::Path(dir.into()),
                ],
                "",
            )?
            .env_path("TANDEM_SUBMIT", &format!("{dir}/.tandem-submit"))?
            .raw("if mkdir \"$TANDEM_SUBMIT\" 2>/dev/null; then")
            .write_file(&file, &spec.batch_script()?)?;
        let s = match &spec.array {
            Some(a) => s.write_file(&format!("{dir}/{}", array::TABLE), &a.table)?,
            None => s,
        };
        Ok(s
            .words(
                &argv,
                "> \"$TANDEM_SUBMIT/id\" || { rm -rf \"$TANDEM_SUBMIT\"; exit 1; }",
            )?
            .raw("mv \"$TANDEM_SUBMIT/id\" \"$TANDEM_SUBMIT/../job.id\"")
            .raw("else")
            .raw("i=0; while [ ! -s \"$TANDEM_SUBMIT/../job.id\" ] && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done")
            .raw("echo 'tandem: this phase was submitted before; following its job' >&2")
            .raw("fi")
            .raw("cat \"$TANDEM_SUBMIT/../job.id\"")
            .build())
    }

    /// Submit; the job id.
    pub async fn submit(&self, spec: &JobSpec, cancel: &CancellationToken) -> Result<String> {
        let out = self
            .transport
            .run(&self.submit_script(spec)?, self.timeout, cancel)
            .await?;
        let text = out.stdout_text();
        let id = text.trim().split(';').next().unwrap_or("").trim();
        if out.code != 0 || id.is_empty() || !id.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return Err(TransportError::Refused(format!(
                "sbatch refused the job: {}",
                if out.stderr.is_empty() {
                    crate::observe::sanitize(text.trim()).into_owned()
                } else {
                    out.stderr_line()
                }
            )));
        }
        Ok(id.to_string())
    }

    /// The script of one poll: state, then the log bytes after the given offsets (at most `max`
    /// bytes of each), in one round trip.
    pub fn poll_script(
        &self,
        job: &str,
        stdout: &str,
        stderr: &str,
        offsets: (u64, u64),
        max: usize,
    ) -> Result<String> {
        let job_q = quote(job)?;
        let squeue = quote(&self.conf.tool("squeue"))?;
        let sacct = quote(&self.conf.tool("sacct"))?;
        let scontrol = quote(&self.conf.tool("scontrol"))?;
        let s = self.conf.script()?;
        // fixed text around quoted values: the job id, paths and offsets are all quoted
        let mut text = s.build();
        text.push_str(&format!(
            "q=$({squeue} -h -j {job_q} -o '%i|%T|%r|%M|%D' 2>/dev/null | head -n 1)\n\
             if [ -n \"$q\" ]; then echo \"Q|$q\"; else\n\
             a=$({sacct} -X -n -P -j {job_q} -o JobID,State,ExitCode,Elapsed,NNodes,Reason 2>/dev/null | head -n 1)\n\
             if [ -n \"$a\" ]; then echo \"A|$a\"; else echo \"C|$({scontrol} show job -o {job_q} 2>/dev/null | head -n 1)\"; fi\n\
             fi\n"
        ));
        let max = max / 2;
        if max == 0 {
            // the state alone (the logs are streamed)
            return Ok(text);
        }
        for (mark, path, off) in [(LOG_MARK, stdout, offsets.0), (ERR_MARK, stderr, offsets.1)] {
            text.push_str(&format!(
                "echo {mark}; tail -c +{} {} 2>/dev/null | head -c {max}\n",
                off + 1,
                quote_path(path)?
            ));
        }
        Ok(text)
    }

    pub async fn poll(
        &self,
        job: &str,
        stdout: &str,
        stderr: &str,
        offsets: (u64, u64),
        cancel: &CancellationToken,
    ) -> Result<Poll> {
        self.poll_up_to(
            job,
            (stdout, stderr),
            offsets,
            self.transport.max_output(),
            cancel,
        )
        .await
    }

    /// A poll bringing at most `max` bytes of log (0: the state alone).
    pub async fn poll_up_to(
        &self,
        job: &str,
        (stdout, stderr): (&str, &str),
        offsets: (u64, u64),
        max: usize,
        cancel: &CancellationToken,
    ) -> Result<Poll> {
        let script = self.poll_script(job, stdout, stderr, offsets, max)?;
        let out = self.transport.run(&script, self.timeout, cancel).await?;
        Ok(parse_poll(job, &out.stdout))
    }

    pub async fn cancel(&self, job: &str, cancel: &CancellationToken) -> Result<()> {
        let script = self
            .conf
            .script()?
            .cmd(&[self.conf.tool("scancel"), job.to_string()])?
            .build();
        let out = self.transport.run(&script, self.timeout, cancel).await?;
        if out.code != 0 {
            return Err(TransportError::Refused(format!(
                "scancel {job}: {}",
                out.stderr_line()
            )));
        }
        Ok(())
    }

    /// Where a job writes stdout and stderr (`scontrol show job`, which expands `%j` and friends);
    /// `None` when Slurm no longer knows the job.
    pub async fn log_paths(
        &self,
        job: &str,
        cancel: &CancellationToken,
    ) -> Result<Option<(String, String)>> {
        let script = self
            .conf
            .script()?
            .cmd(&[
                self.conf.tool("scontrol"),
                "show".into(),
                "job".into(),
                "-o".into(),
                job.to_string(),
            ])?
            .build();
        let out = self.transport.run(&script, self.timeout, cancel).await?;
        let text = out.stdout_text();
        let f = scontrol_fields(text.lines().next().unwrap_or_default());
        Ok(f.get("StdOut").map(|o| {
            let e = f.get("StdErr").unwrap_or(o);
            (o.clone(), e.clone())
        }))
    }

    /// Where any job's logs are (the Jobs view follows jobs it did not submit), asked of
    /// scontrol when not known yet; an error when Slurm no longer knows the job.
    pub async fn log_paths_of(
        &self,
        id: &str,
        paths: Option<(String, String)>,
        cancel: &CancellationToken,
    ) -> Result<(String, String)> {
        match paths {
            Some(x) => Ok(x),
            None => self.log_paths(id, cancel).await?.ok_or_else(|| {
                TransportError::Refused(format!(
                    "Slurm no longer knows job {id}: where its log is cannot be asked"
                ))
            }),
        }
    }

    /// Release a held job.
    pub async fn release(&self, job: &str, cancel: &CancellationToken) -> Result<()> {
        let script = self
            .conf
            .script()?
            .cmd(&[
                self.conf.tool("scontrol"),
                "release".into(),
                job.to_string(),
            ])?
            .build();
        self.transport.run(&script, self.timeout, cancel).await?;
        Ok(())
    }

    /// The queue: `squeue --json`, or `squeue -o` where JSON is not supported.
    pub async fn queue(&self, cancel: &CancellationToken) -> Result<Vec<QueueJob>> {
        let squeue = quote(&self.conf.tool("squeue"))?;
        let mut text = self.conf.script()?.build();
        text.push_str(&format!(
            "if {squeue} --json 2>/dev/null; then :; else echo '@@tandem-plain@@'; {squeue} -h -o '%i|%j|%u|%T|%r|%M|%D|%P|%l'; fi\n"
        ));
        let out = self.transport.run(&text, self.timeout, cancel).await?;
        if out.code != 0 {
            return Err(TransportError::Refused(format!(
                "squeue: {}",
                out.stderr_line()
            )));
        }
        parse_queue(&out.stdout).map_err(TransportError::Refused)
    }

    /// Partitions and node states (`sinfo`), one line each.
    pub async fn sinfo(&self, cancel: &CancellationToken) -> Result<Vec<String>> {
        let script = self
            .conf
            .script()?
            .cmd(&[
                self.conf.tool("sinfo"),
                "-o".into(),
                "%P %a %l %D %T %N".into(),
            ])?
            .build();
        let out = self.transport.run(&script, self.timeout, cancel).await?;
        Ok(out
            .stdout_text()
            .lines()
            .map(|l| crate::observe::sanitize(l).into_owned())
            .collect())
    }
}

/// Split a poll's stdout into state and log bytes.
pub fn parse_poll(job: &str, out: &[u8]) -> Poll {
    let find = |hay: &[u8], m: &str| {
        let needle = format!("{m}\n");
        memchr::memmem::find(hay, needle.as_bytes()).map(|i| (i, i + needle.len()))
    };
    let mut p = Poll::default();
    let (head, rest) = match find(out, LOG_MARK) {
        Some((a, b)) => (&out[..a], &out[b..]),
        None => (out, &[][..]),
    };
    match find(rest, ERR_MARK) {
        Some((a, b)) => {
            p.stdout = rest[..a].to_vec();
            p.stderr = rest[b..].to_vec();
        }
        None => p.stdout = rest.to_vec(),
    }
    let head = String::from_utf8_lossy(head);
    for line in head.lines() {
        if let Some((_, st)) = parse_status_line(line) {
            p.status = st;
        }
    }
    p.status.job_id = job.to_string();
    // squeue's %r is the reason for pending; for a running job it says None
    p
}

/// One line of state from a poll: `Q|` (squeue: id, state, reason, elapsed, nodes), `A|`
/// (sacct: id, state, exit code, elapsed, nodes, reason) or `C|` (a `scontrol show job -o`
/// line); the job's id (`123`, or `123_4` for an array's element) and what it says.
pub(crate) fn parse_status_line(line: &str) -> Option<(String, JobStatus)> {
    let f: Vec<&str> = line.split('|').collect();
    let mut st = JobStatus::default();
    match f.first().copied() {
        Some("Q") if f.len() >= 6 => {
            st.job_id = f[1].to_string();
            st.state = f[2].to_string();
            st.reason = f[3].to_string();
            st.elapsed = f[4].to_string();
            st.nodes = f[5].to_string();
        }
        Some("A") if f.len() >= 6 => {
            // JobID|State|ExitCode|Elapsed|NNodes|Reason; State may read "CANCELLED by 0"
            st.job_id = f[1].to_string();
            st.state = f[2].split_whitespace().next().unwrap_or("").to_string();
            st.exit_code = f[3].split(':').next().and_then(|c| c.parse().ok());
            st.elapsed = f[4].to_string();
            st.nodes = f[5].to_string();
            st.reason = f.get(6).map(|r| r.to_string()).unwrap_or_default();
        }
        Some("C") => {
            let kv = scontrol_fields(line.trim_start_matches("C|"));
            st.job_id = match (kv.get("ArrayJobId"), kv.get("ArrayTaskId")) {
                (Some(a), Some(t)) if t.chars().all(|c| c.is_ascii_digit()) => format!("{a}_{t}"),
                (Some(a), Some(t)) => format!("{a}_[{t}]"),
                _ => kv.get("JobId").cloned().unwrap_or_default(),
            };
            st.state = kv.get("JobState").cloned().unwrap_or_default();
            st.reason = kv.get("Reason").cloned().unwrap_or_default();
            st.exit_code = kv
                .get("ExitCode")
                .and_then(|c| c.split(':').next())
                .and_then(|c| c.parse().ok());
            st.elapsed = kv.get("RunTime").cloned().unwrap_or_default();
            st.nodes = kv.get("NumNodes").cloned().unwrap_or_default();
        }
        _ => return None,
    }
    Some((st.job_id.clone(), st))
}

/// `scontrol show job -o` output as key=value pairs.
pub fn scontrol_fields(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One job of the queue.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct QueueJob {
    pub id: String,
    pub name: String,
    pub user: String,
    pub state: String,
    pub reason: String,
    /// Seconds since it started (0 while pending).
    pub elapsed_s: u64,
    pub nodes: u32,
    pub partition: String,
    pub stdout: Option<String>,
}

/// Parse `squeue --json` (Slurm 21.08 to 24.x: numbers plain or as `{set, number}`, the state a
/// word or a list) or the plain fallback after its marker.
pub fn parse_queue(out: &[u8]) -> std::result::Result<Vec<QueueJob>, String> {
    let text = String::from_utf8_lossy(out);
    if let Some(i) = text.find("@@tandem-plain@@") {
        return Ok(text[i..]
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f.len() >= 8).then(|| QueueJob {
                    id: f[0].into(),
                    name: f[1].into(),
                    user: f[2].into(),
                    state: f[3].into(),
                    reason: f[4].into(),
                    elapsed_s: parse_elapsed(f[5]),
                    nodes: f[6].parse().unwrap_or(0),
                    partition: f[7].into(),
                    stdout: None,
                })
            })
            .collect());
    }
    #[derive(serde::Deserialize)]
    struct Top {
        jobs: Vec<serde_json::Value>,
    }
    let top: Top = serde_json::from_str(&text).map_err(|e| format!("squeue --json: {e}"))?;
    let num = |v: &serde_json::Value| -> Option<u64> {
        match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::Object(o) => o.get("number").and_then(|n| n.as_u64()),
            _ => None,
        }
    };
    let word = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(a) => a
                .first()
                .and_then(|x| x.as_str())
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        }
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    Ok(top
        .jobs
        .iter()
        .map(|j| {
            let state = word(&j["job_state"]);
            let (start, end) = (
                num(&j["start_time"]).unwrap_or(0),
                num(&j["end_time"]).unwrap_or(0),
            );
            QueueJob {
                id: num(&j["job_id"]).map(|n| n.to_string()).unwrap_or_default(),
                name: word(&j["name"]),
                user: word(&j["user_name"]),
                elapsed_s: elapsed_of(&state, start, end, now),
                state,
                reason: word(&j["state_reason"]),
                nodes: num(&j["node_count"]).unwrap_or(0) as u32,
                partition: word(&j["partition"]),
                stdout: j["standard_output"].as_str().map(str::to_string),
            }
        })
        .collect())
}

/// How long a job has run, from its start and end times (seconds since the epoch, 0 when not
/// set): a running (or suspended, completing) job since its start, a finished one from its start
/// to its end, a pending one not at all.
pub fn elapsed_of(state: &str, start: u64, end: u64, now: u64) -> u64 {
    if start == 0 {
        return 0;
    }
    match state {
        "PENDING" => 0,
        "RUNNING" | "SUSPENDED" | "COMPLETING" | "CONFIGURING" | "RESIZING" | "STAGE_OUT" => {
            now.saturating_sub(start)
        }
        // finished: the end Slurm gives (an end before the start is a job that never ran)
        _ if end >= start => end - start,
        _ => 0,
    }
}

/// A time limit as Slurm reads it (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`)
/// in seconds; None for `UNLIMITED` or what does not parse.
pub fn time_limit_secs(s: &str) -> Option<u64> {
    let n = |x: &str| x.parse::<u64>().ok();
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (n(d)?, Some(r)),
        None => (0, None),
    };
    let secs = match rest {
        // with days: HH, HH:MM, HH:MM:SS
        Some(r) => match r.split(':').collect::<Vec<_>>()[..] {
            [h] => n(h)? * 3600,
            [h, m] => n(h)? * 3600 + n(m)? * 60,
            [h, m, x] => n(h)? * 3600 + n(m)? * 60 + n(x)?,
            _ => return None,
        },
        // without: MM, MM:SS, HH:MM:SS
        None => match s.split(':').collect::<Vec<_>>()[..] {
            [m] => n(m)? * 60,
            [m, x] => n(m)? * 60 + n(x)?,
            [h, m, x] => n(h)? * 3600 + n(m)? * 60 + n(x)?,
            _ => return None,
        },
    };
    Some(days * 86400 + secs)
}

/// Seconds as a time limit Slurm reads: `D-HH:MM:SS`, or `HH:MM:SS` under a day.
pub fn time_limit_text(secs: u64) -> String {
    let (d, r) = (secs / 86400, secs % 86400);
    let hms = format!("{:02}:{:02}:{:02}", r / 3600, r / 60 % 60, r % 60);
    if d > 0 {
        format!("{d}-{hms}")
    } else {
        hms
    }
}

/// `[D-]HH:MM:SS`, `MM:SS` to seconds.
pub fn parse_elapsed(s: &str) -> u64 {
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (d.parse().unwrap_or(0), r),
        None => (0u64, s),
    };
    let parts: Vec<u64> = rest.split(':').map(|p| p.parse().unwrap_or(0)).collect();
    let hms = match parts[..] {
        [h, m, s] => h * 3600 + m * 60 + s,
        [m, s] => m * 60 + s,
        [s] => s,
        _ => 0,
    };
    days * 86400 + hms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_output_splits_into_state_and_log_ranges() {
        let out = b"Q|42|PENDING|JobHeldUser|0:00|1\n@@tandem-stdout@@\nhello\nwor@@tandem-stderr@@\noops";
        let p = parse_poll("42", out);
        assert_eq!(p.status.state, "PENDING");
        assert_eq!(p.status.reason, "JobHeldUser");
        assert_eq!(p.stdout, b"hello\nwor");
        assert_eq!(p.stderr, b"oops");
        let c = parse_poll(
            "7",
            b"C|JobId=7 JobName=x JobState=TIMEOUT Reason=TimeLimit ExitCode=0:15 RunTime=00:01:02 NumNodes=1\n@@tandem-stdout@@\n@@tandem-stderr@@\n",
        );
        assert_eq!(c.status.state, "TIMEOUT");
        let f = parse_poll("8", b"A|8|FAILED|3:0|00:00:01|1\n");
        assert_eq!(f.status.exit_code, Some(3));
        assert_eq!(parse_poll("9", b"C|\n").status.state, "");
    }

    #[test]
    fn queue_json_of_old_and_new_slurm() {
        let old = br#"{"jobs":[{"job_id":5,"name":"a b","user_name":"r","job_state":"RUNNING","state_reason":"None","start_time":1,"node_count":2,"partition":"debug","standard_output":"/x/slurm-5.out"}]}"#;
        let j = parse_queue(old).unwrap();
        assert_eq!(
            (j[0].id.as_str(), j[0].state.as_str(), j[0].nodes),
            ("5", "RUNNING", 2)
        );
        let new = br#"{"jobs":[{"job_id":6,"name":"n","user_name":"r","job_state":["PENDING"],"state_reason":"Priority","start_time":{"set":true,"number":0},"node_count":{"set":true,"number":1},"partition":"p"}]}"#;
        let j = parse_queue(new).unwrap();
        assert_eq!(
            (j[0].state.as_str(), j[0].reason.as_str(), j[0].nodes),
            ("PENDING", "Priority", 1)
        );
        let plain = b"@@tandem-plain@@\n12|job|u|RUNNING|None|1-02:03:04|1|debug|1:00:00\n";
        assert_eq!(
            parse_queue(plain).unwrap()[0].elapsed_s,
            86400 + 2 * 3600 + 3 * 60 + 4
        );
    }

    #[test]
    fn time_limits_read_and_written_as_slurm_does() {
        for (t, secs) in [
            ("30", 1800),
            ("30:15", 1815),
            ("01:30:00", 5400),
            ("2-12", 2 * 86400 + 12 * 3600),
            ("1-00:30", 86400 + 1800),
            ("1-02:03:04", 86400 + 7384),
        ] {
            assert_eq!(time_limit_secs(t), Some(secs), "{t}");
        }
        assert_eq!(time_limit_secs("UNLIMITED"), None);
        assert_eq!(time_limit_text(5400), "01:30:00");
        assert_eq!(time_limit_text(2 * 86400 + 61), "2-00:01:01");
        assert_eq!(time_limit_secs(&time_limit_text(98765)), Some(98765));
    }

    #[test]
    fn batch_scripts_quote_the_command() {
        let spec = JobSpec {
            name: "solve".into(),
            run_dir: "/tmp/r un".into(),
            body: Body::Command {
                argv: vec!["echo".into(), "$(id)".into()],
                launcher: "srun".into(),
            },
            ..Default::default()
        };
        assert!(spec
            .batch_script()
            .unwrap()
            .ends_with("exec srun echo '$(id)'\n"));
        assert!(spec
            .sbatch_args()
            .contains(&"--output=/tmp/r un/slurm-%j.out".to_string()));
    }

    #[test]
    fn finished_jobs_show_end_minus_start_in_every_release() {
        for (ver, json) in [
            (
                "21.08",
                include_str!("../../../tests/fixtures/slurm/squeue-21.08.json"),
            ),
            (
                "22.05",
                include_str!("../../../tests/fixtures/slurm/squeue-22.05.json"),
            ),
            (
                "23.02",
                include_str!("../../../tests/fixtures/slurm/squeue-23.02.json"),
            ),
            (
                "23.11",
                include_str!("../../../tests/fixtures/slurm/squeue-23.11.json"),
            ),
            (
                "24.05",
                include_str!("../../../tests/fixtures/slurm/squeue-24.05.json"),
            ),
        ] {
            let q = parse_queue(json.as_bytes()).unwrap();
            let by = |id: &str| q.iter().find(|j| j.id == id).unwrap();
            assert_eq!(
                (by("101").state.as_str(), by("101").elapsed_s),
                ("COMPLETED", 125),
                "{ver}"
            );
            assert_eq!(by("102").elapsed_s, 3, "{ver} FAILED");
            assert_eq!(by("103").elapsed_s, 3600, "{ver} TIMEOUT");
            assert!(by("104").elapsed_s > 1000, "{ver} RUNNING: since its start");
            assert_eq!(by("105").elapsed_s, 0, "{ver} PENDING");
            assert_eq!(by("101").nodes, 1, "{ver}");
        }
    }
}
