//! The local runner: a phase as a subprocess in its own process group, its stdout and stderr going
//! straight to files, CPU% and RSS of the whole group sampled every second, and cancellation by
//! SIGTERM, then SIGKILL after a grace period.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// Stopped on request (SIGTERM, or SIGKILL after the grace period).
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub at: DateTime<Utc>,
    /// Seconds since the process started.
    pub t: f64,
    /// CPU use of the process group, percent of one core.
    pub cpu_pct: f64,
    pub rss_bytes: u64,
    pub procs: u32,
}

/// Totals over the processes of one process group, from /proc.
#[derive(Debug, Default, Clone, Copy)]
struct GroupTotals {
    ticks: u64,
    rss_pages: u64,
    procs: u32,
}

#[cfg(target_os = "linux")]
fn group_totals(pgid: i32) -> GroupTotals {
    let mut t = GroupTotals::default();
    let Ok(all) = procfs::process::all_processes() else {
        return t;
    };
    for p in all.flatten() {
        if let Ok(st) = p.stat() {
            if st.pgrp == pgid && st.state != 'Z' {
                t.ticks += st.utime + st.stime;
                t.rss_pages += st.rss;
                t.procs += 1;
            }
        }
    }
    t
}

#[cfg(not(target_os = "linux"))]
fn group_totals(_pgid: i32) -> GroupTotals {
    GroupTotals::default()
}

/// Samples CPU% and RSS of a process group: each call compares with the previous one.
pub struct Sampler {
    pgid: i32,
    start: Instant,
    last: Option<(Instant, u64)>,
    tick_hz: f64,
    page: u64,
}

impl Sampler {
    pub fn new(pgid: i32) -> Sampler {
        #[cfg(target_os = "linux")]
        let (tick_hz, page) = (procfs::ticks_per_second() as f64, procfs::page_size());
        #[cfg(not(target_os = "linux"))]
        let (tick_hz, page) = (100.0, 4096);
        Sampler {
            pgid,
            start: Instant::now(),
            last: None,
            tick_hz,
            page,
        }
    }

    pub fn sample(&mut self) -> MetricSample {
        let now = Instant::now();
        let g = group_totals(self.pgid);
        let cpu_pct = match self.last {
            Some((t0, ticks0)) => {
                let wall = now.duration_since(t0).as_secs_f64().max(1e-3);
                (g.ticks.saturating_sub(ticks0) as f64 / self.tick_hz) / wall * 100.0
            }
            None => 0.0,
        };
        self.last = Some((now, g.ticks));
        MetricSample {
            at: Utc::now(),
            t: now.duration_since(self.start).as_secs_f64(),
            cpu_pct,
            rss_bytes: g.rss_pages * self.page,
            procs: g.procs,
        }
    }
}

fn signal_group(pgid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), sig);
}

/// Start a process in its own process group, stdout and stderr appended to the spec's files.
pub fn spawn(spec: &ProcessSpec) -> std::io::Result<tokio::process::Child> {
    for p in [&spec.stdout, &spec.stderr] {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d)?;
        }
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.stdout)?;
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.stderr)?;
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .envs(&spec.env)
        .current_dir(&spec.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(false);
    cmd.spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot start `{}`: {e}", spec.program)))
}

/// Follow a started process to its end: a metric sample every second, cancellation by SIGTERM to
/// the group, then SIGKILL after the grace period.
pub async fn supervise(
    mut child: tokio::process::Child,
    grace: Duration,
    cancel: &CancellationToken,
    mut on_metric: impl FnMut(MetricSample),
) -> std::io::Result<Exit> {
    use std::os::unix::process::ExitStatusExt;
    let pgid = child.id().unwrap_or(0) as i32;
    let mut sampler = Sampler::new(pgid);
    sampler.sample();
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let status = loop {
        tokio::select! {
            st = child.wait() => break st?,
            _ = tick.tick() => on_metric(sampler.sample()),
            _ = cancel.cancelled() => {
                signal_group(pgid, nix::sys::signal::Signal::SIGTERM);
                if tokio::time::timeout(grace, child.wait()).await.is_err() {
                    signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait().await;
                }
                // reap stragglers of the group that ignored SIGTERM
                signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
                return Ok(Exit::Cancelled);
            }
        }
    };
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        _ => Exit::Code(-1),
    })
}

/// Spawn and supervise: `on_start` gets the pid as soon as the process exists.
pub async fn run_process(
    spec: &ProcessSpec,
    cancel: &CancellationToken,
    on_start: impl FnOnce(u32),
    on_metric: impl FnMut(MetricSample),
) -> std::io::Result<Exit> {
    let child = spawn(spec)?;
    on_start(child.id().unwrap_or(0));
    supervise(child, spec.grace, cancel, on_metric).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &std::path::Path, script: &str) -> ProcessSpec {
        ProcessSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: BTreeMap::new(),
            cwd: dir.to_path_buf(),
            stdout: dir.join("out.log"),
            stderr: dir.join("err.log"),
            grace: Duration::from_millis(300),
        }
    }

    #[tokio::test]
    async fn exit_codes_and_logs() {
        let d = tempfile::tempdir().unwrap();
        let c = CancellationToken::new();
        let e = run_process(
            &spec(d.path(), "echo hi; echo oops >&2; exit 3"),
            &c,
            |_| {},
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(e, Exit::Code(3));
        assert_eq!(
            std::fs::read_to_string(d.path().join("out.log")).unwrap(),
            "hi\n"
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("err.log")).unwrap(),
            "oops\n"
        );
    }

    #[tokio::test]
    async fn cancel_escalates_to_sigkill_for_the_whole_group() {
        let d = tempfile::tempdir().unwrap();
        let c = CancellationToken::new();
        let c2 = c.clone();
        let pids = std::sync::Arc::new(std::sync::Mutex::new(0u32));
        let p2 = pids.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        // ignores SIGTERM and has a child: both must be gone after cancel
        let t0 = Instant::now();
        let e = run_process(
            &spec(d.path(), "trap '' TERM; sleep 30 & sleep 30; wait"),
            &c,
            |p| *p2.lock().unwrap() = p,
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(e, Exit::Cancelled);
        assert!(t0.elapsed() < Duration::from_secs(10));
        let pgid = *pids.lock().unwrap() as i32;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            group_totals(pgid).procs,
            0,
            "processes of the group survived"
        );
    }

    #[tokio::test]
    async fn samples_cpu_of_the_group() {
        let d = tempfile::tempdir().unwrap();
        let c = CancellationToken::new();
        let mut samples = Vec::new();
        run_process(
            &spec(d.path(), "yes > /dev/null & sleep 2.5; kill $!"),
            &c,
            |_| {},
            |s| samples.push(s),
        )
        .await
        .unwrap();
        assert!(samples.len() >= 2, "{samples:?}");
        assert!(
            samples.iter().any(|s| s.cpu_pct > 20.0 && s.rss_bytes > 0),
            "{samples:?}"
        );
    }
}
