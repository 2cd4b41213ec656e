//! The local runner: a phase as a subprocess in its own process group, its stdout and stderr going
//! straight to files, CPU% and RSS of the whole group sampled every second, and cancellation by
//! SIGTERM, then SIGKILL after a grace period.
//!
//! A phase's command runs under a small supervisor (`tandem tool supervise`, [`supervise_exec`]),
//! the leader of the group, which waits for it and writes how it ended to a file. So when the tandem
//! that started it is killed, the process goes on, and the next tandem finds it by its pid and start
//! time, follows it, and learns its exit code from that file.

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
    /// Run under the supervisor (this tandem executable, and the file it writes the end to).
    pub supervisor: Option<Supervisor>,
}

/// The supervisor a phase's command runs under: a tandem executable and where it records the end.
#[derive(Debug, Clone)]
pub struct Supervisor {
    pub exe: PathBuf,
    pub exit_file: PathBuf,
}

/// How a supervised process ended, as its supervisor wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ended {
    Code(i32),
    Signal(i32),
}

impl From<Ended> for Exit {
    fn from(e: Ended) -> Exit {
        match e {
            Ended::Code(c) => Exit::Code(c),
            Ended::Signal(s) => Exit::Signal(s),
        }
    }
}

/// What a supervisor wrote, if it wrote anything (it cannot when it was killed with SIGKILL).
pub fn read_exit(path: &std::path::Path) -> Option<Ended> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// `tandem tool supervise --exit FILE -- PROGRAM ARGS...`: run the command in this process group,
/// wait for it, write how it ended to FILE, and exit the same way (a signal as 128 + its number).
/// SIGTERM, SIGINT and SIGHUP sent to the group stop the command, not the supervisor, which stays
/// to record the end (SIGKILL stops both; then nothing is written).
pub fn supervise_exec(exit_file: &std::path::Path, argv: &[String]) -> i32 {
    use nix::sys::signal::{signal, SigHandler, Signal};
    use std::os::unix::process::ExitStatusExt;
    let Some((program, args)) = argv.split_first() else {
        eprintln!("tandem: supervise: no command");
        return 2;
    };
    let mut child = match std::process::Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tandem: cannot start `{program}`: {e}");
            write_exit(exit_file, Ended::Code(127));
            return 127;
        }
    };
    for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        // SAFETY: ignoring a signal installs no handler code
        unsafe {
            let _ = signal(sig, SigHandler::SigIgn);
        }
    }
    let ended = match child.wait() {
        Ok(st) => match (st.code(), st.signal()) {
            (Some(c), _) => Ended::Code(c),
            (None, Some(s)) => Ended::Signal(s),
            _ => Ended::Code(-1),
        },
        Err(e) => {
            eprintln!("tandem: waiting for `{program}`: {e}");
            Ended::Code(-1)
        }
    };
    write_exit(exit_file, ended);
    match ended {
        Ended::Code(c) => c,
        Ended::Signal(s) => 128 + s,
    }
}

fn write_exit(path: &std::path::Path, e: Ended) {
    let tmp = path.with_extension("tmp");
    let ok = serde_json::to_vec(&e)
        .ok()
        .is_some_and(|b| std::fs::write(&tmp, b).is_ok());
    if ok {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// What is said of a local phase whose process is gone and left no record of its end.
pub fn gone_without_a_trace(pid: u32) -> String {
    format!(
        "its process ({pid}) is gone and left no exit status: it was killed (SIGKILL, or the \
         machine restarted) while no tandem followed it"
    )
}

/// When process `pid` started, in clock ticks since boot; `None` when there is no such process
/// (or only its zombie).
pub fn start_time(pid: u32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let st = procfs::process::Process::new(pid as i32)
            .ok()?
            .stat()
            .ok()?;
        (st.state != 'Z').then_some(st.starttime)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// Whether the process that started at `start` as `pid` is still alive (and not a later process
/// that was given the same pid).
pub fn same_process(pid: u32, start: Option<u64>) -> bool {
    match (start_time(pid), start) {
        (Some(now), Some(then)) => now == then,
        // a record without a start time: the pid alone
        (Some(_), None) => true,
        (None, _) => false,
    }
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

/// Totals of a process group's live processes; `leader` false leaves out the group's leader
/// (the supervisor, which is tandem's, not the phase's).
#[cfg(target_os = "linux")]
fn group_totals(pgid: i32, leader: bool) -> GroupTotals {
    let mut t = GroupTotals::default();
    let Ok(all) = procfs::process::all_processes() else {
        return t;
    };
    for p in all.flatten() {
        if let Ok(st) = p.stat() {
            if st.pgrp == pgid && st.state != 'Z' && (leader || st.pid != pgid) {
                t.ticks += st.utime + st.stime;
                t.rss_pages += st.rss;
                t.procs += 1;
            }
        }
    }
    t
}

#[cfg(not(target_os = "linux"))]
fn group_totals(_pgid: i32, _leader: bool) -> GroupTotals {
    GroupTotals::default()
}

/// Samples CPU% and RSS of a process group: each call compares with the previous one.
pub struct Sampler {
    pgid: i32,
    /// Count the group's leader (false when it is the supervisor).
    leader: bool,
    start: Instant,
    last: Option<(Instant, u64)>,
    tick_hz: f64,
    page: u64,
}

impl Sampler {
    pub fn new(pgid: i32) -> Sampler {
        Sampler::of_group(pgid, true)
    }

    /// A group whose leader is left out of the totals (`leader` false: the supervisor).
    pub fn of_group(pgid: i32, leader: bool) -> Sampler {
        #[cfg(target_os = "linux")]
        let (tick_hz, page) = (procfs::ticks_per_second() as f64, procfs::page_size());
        #[cfg(not(target_os = "linux"))]
        let (tick_hz, page) = (100.0, 4096);
        Sampler {
            pgid,
            leader,
            start: Instant::now(),
            last: None,
            tick_hz,
            page,
        }
    }

    pub fn sample(&mut self) -> MetricSample {
        let now = Instant::now();
        let g = group_totals(self.pgid, self.leader);
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
    let mut cmd = match &spec.supervisor {
        Some(sv) => {
            let _ = std::fs::remove_file(&sv.exit_file);
            let mut c = tokio::process::Command::new(&sv.exe);
            c.args(["tool", "supervise", "--exit"])
                .arg(&sv.exit_file)
                .arg("--")
                .arg(&spec.program)
                .args(&spec.args);
            c
        }
        None => {
            let mut c = tokio::process::Command::new(&spec.program);
            c.args(&spec.args);
            c
        }
    };
    cmd.envs(&spec.env)
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
    spec: &ProcessSpec,
    cancel: &CancellationToken,
    mut on_metric: impl FnMut(MetricSample),
) -> std::io::Result<Exit> {
    use std::os::unix::process::ExitStatusExt;
    let grace = spec.grace;
    let pgid = child.id().unwrap_or(0) as i32;
    let mut sampler = Sampler::of_group(pgid, spec.supervisor.is_none());
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
    // the supervisor's record says exactly how the command ended (its own exit code folds a
    // signal into 128 + N)
    if let Some(e) = spec
        .supervisor
        .as_ref()
        .and_then(|sv| read_exit(&sv.exit_file))
    {
        return Ok(e.into());
    }
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signal(s),
        _ => Exit::Code(-1),
    })
}

/// Follow a supervised process group that another tandem started (it was killed and left it
/// running): a metric sample every second until the group's leader is gone, or SIGTERM and then
/// SIGKILL after `grace` on cancel. How it ended comes from the supervisor's file afterwards.
pub async fn follow_orphan(
    pid: u32,
    start: Option<u64>,
    grace: Duration,
    cancel: &CancellationToken,
    mut on_metric: impl FnMut(MetricSample),
) -> Option<Exit> {
    let pgid = pid as i32;
    let mut sampler = Sampler::of_group(pgid, false);
    sampler.sample();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                if !same_process(pid, start) {
                    return None;
                }
                on_metric(sampler.sample());
            }
            _ = cancel.cancelled() => {
                signal_group(pgid, nix::sys::signal::Signal::SIGTERM);
                let until = Instant::now() + grace;
                while same_process(pid, start) && Instant::now() < until {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
                return Some(Exit::Cancelled);
            }
        }
    }
}

/// Stop a process group that this process may not have started: SIGTERM, then SIGKILL once
/// `grace` has passed with its leader still alive. Whether it was alive to be stopped.
pub async fn stop_group(pid: u32, start: Option<u64>, grace: Duration) -> bool {
    if !same_process(pid, start) {
        return false;
    }
    let pgid = pid as i32;
    signal_group(pgid, nix::sys::signal::Signal::SIGTERM);
    let until = Instant::now() + grace;
    while same_process(pid, start) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if same_process(pid, start) {
        signal_group(pgid, nix::sys::signal::Signal::SIGKILL);
    }
    true
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
    supervise(child, spec, cancel, on_metric).await
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
            supervisor: None,
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
            group_totals(pgid, true).procs,
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
