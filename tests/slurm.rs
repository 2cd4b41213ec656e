//! Phase 2 on a real Slurm (Debian's slurm-wlm with munge, single node) reached through the local
//! and the SSH transports (a real sshd on 127.0.0.1). scripts/test.sh starts both and exports
//! SLURM_CONF and TANDEM_TEST_SSH_*; without them these tests fail, they never pass silently.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tandem::engine::slurm::{Body, JobSpec, Poll, Slurm, SlurmConf};
use tandem::pipeline::RunState;
use tandem::transport::local::Local;
use tandem::transport::ssh::{Ssh, SshConfig};
use tandem::transport::{Script, Transport, HOSTILE};
use tokio_util::sync::CancellationToken;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts Slurm and sshd")
    })
}

fn ssh_config() -> SshConfig {
    SshConfig {
        host: "127.0.0.1".into(),
        port: Some(var("TANDEM_TEST_SSH_PORT").parse().unwrap()),
        user: Some("root".into()),
        identity_file: Some(var("TANDEM_TEST_SSH_KEY").into()),
        known_hosts: Some("strict".into()),
        known_hosts_file: Some(var("TANDEM_TEST_SSH_KNOWN_HOSTS").into()),
    }
}

fn conf() -> SlurmConf {
    SlurmConf {
        conf: Some(var("SLURM_CONF")),
        ..Default::default()
    }
}

async fn hostile_corpus(t: &dyn Transport) {
    let c = CancellationToken::new();
    let _ = std::fs::remove_file("/tmp/tandem-pwned");
    for v in HOSTILE {
        let s = Script::new().cmd(&["printf", "%s", v]).unwrap().build();
        let out = t.run(&s, Duration::from_secs(30), &c).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            *v,
            "{} as an argument",
            t.describe()
        );
        let s = Script::new()
            .env("V", v)
            .unwrap()
            .raw("printf '%s' \"$V\"")
            .build();
        let out = t.run(&s, Duration::from_secs(30), &c).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            *v,
            "{} in the environment",
            t.describe()
        );
    }
    assert!(
        !Path::new("/tmp/tandem-pwned").exists(),
        "a value was run as a command"
    );
}

#[tokio::test]
async fn hostile_values_reach_the_head_node_as_data_on_every_transport() {
    hostile_corpus(&Local).await;
    let ssh = Ssh::new(ssh_config()).unwrap();
    hostile_corpus(&ssh).await;
    // exit codes and stderr come back; an unknown host key is refused, not trusted
    let c = CancellationToken::new();
    let out = ssh
        .run("echo oops >&2; exit 7", Duration::from_secs(30), &c)
        .await
        .unwrap();
    assert_eq!((out.code, out.stderr_line().as_str()), (7, "oops"));
    let stranger = Ssh::new(SshConfig {
        known_hosts_file: Some("/dev/null".into()),
        ..ssh_config()
    })
    .unwrap();
    let e = stranger
        .run("true", Duration::from_secs(30), &c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("cannot reach"), "{e}");
}

/// Poll until the job is in a terminal state (or `until` says stop); every log byte collected.
async fn follow(
    slurm: &Slurm<'_>,
    job: &str,
    spec: &JobSpec,
    until: impl Fn(&Poll) -> bool,
) -> (Poll, Vec<u8>, Vec<u8>) {
    let (o, e) = (
        spec.stdout_path().replace("%j", job),
        spec.stderr_path().replace("%j", job),
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let t0 = Instant::now();
    loop {
        let p = slurm
            .poll(
                job,
                &o,
                &e,
                (out.len() as u64, err.len() as u64),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        out.extend(&p.stdout);
        err.extend(&p.stderr);
        if tandem::pipeline::phase::slurm_state(&p.status)
            .0
            .is_terminal()
            || until(&p)
        {
            return (p, out, err);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(240),
            "job {job} stuck: {:?}",
            p.status
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn hostname() -> String {
    String::from_utf8_lossy(&Command::new("hostname").output().unwrap().stdout)
        .trim()
        .to_string()
}

fn job(dir: &Path, name: &str, script: &str) -> JobSpec {
    JobSpec {
        name: format!("t-{name}"),
        run_dir: dir.join(name).display().to_string(),
        body: Body::Command {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            launcher: "none".into(),
        },
        ..Default::default()
    }
}

async fn slurm_lifecycle(t: &dyn Transport, dir: &Path) {
    let conf = conf();
    let slurm = Slurm::new(t, &conf);
    let c = CancellationToken::new();

    let ok = job(
        dir,
        "ok",
        "echo out $GREETING; echo err >&2; head -c 300000 /dev/zero | tr '\\0' x; echo",
    );
    let ok = JobSpec {
        env: [("GREETING".to_string(), "hi 'there' $(id)".to_string())].into(),
        ..ok
    };
    let fail = job(dir, "fail", "echo failing >&2; exit 3");
    let held = JobSpec {
        hold: true,
        ..job(dir, "held", "echo never")
    };
    let running = job(dir, "running", "echo started; sleep 120");
    let over = JobSpec {
        time_limit: Some("1".into()),
        ..job(dir, "over", "echo start; sleep 300")
    };
    let ids: Vec<String> = {
        let mut v = vec![];
        for s in [&ok, &fail, &held, &running, &over] {
            v.push(slurm.submit(s, &c).await.unwrap());
        }
        v
    };

    // where a job logs, as the Jobs view asks for it (scontrol expands %j)
    assert_eq!(
        slurm.log_paths(&ids[0], &c).await.unwrap(),
        Some((
            ok.stdout_path().replace("%j", &ids[0]),
            ok.stderr_path().replace("%j", &ids[0])
        ))
    );
    assert_eq!(slurm.log_paths("999999", &c).await.unwrap(), None);

    // success: logs arrive whole, in ranges, each byte once
    let (p, out, err) = follow(&slurm, &ids[0], &ok, |_| false).await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status).0,
        RunState::Succeeded,
        "{:?}",
        p.status
    );
    let out = String::from_utf8_lossy(&out);
    let (first, out) = out.split_once('\n').unwrap();
    assert_eq!(first, format!("job {} on {}", ids[0], hostname()));
    assert!(out.starts_with("out hi 'there' $(id)\n"), "{out:.80}");
    assert_eq!(out.len(), "out hi 'there' $(id)\n".len() + 300_001);
    assert_eq!(err, b"err\n");

    // a failing solver: the exit code is kept
    let (p, _, err) = follow(&slurm, &ids[1], &fail, |_| false).await;
    let (st, msg) = tandem::pipeline::phase::slurm_state(&p.status);
    assert_eq!(st, RunState::Failed);
    assert_eq!(msg.as_deref(), Some("FAILED: exit code 3"));
    assert_eq!(err, b"failing\n");

    // held: PENDING with its reason, then cancelled while pending
    let (p, _, _) = follow(&slurm, &ids[2], &held, |p| p.status.state == "PENDING").await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status),
        (RunState::Submitted, Some("PENDING (JobHeldUser)".into()))
    );
    slurm.cancel(&ids[2], &c).await.unwrap();
    let (p, _, _) = follow(&slurm, &ids[2], &held, |_| false).await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status).0,
        RunState::Cancelled
    );

    // cancelled while running
    let (p, _, _) = follow(&slurm, &ids[3], &running, |p| p.status.state == "RUNNING").await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status).0,
        RunState::Running
    );
    slurm.cancel(&ids[3], &c).await.unwrap();
    let (p, out, _) = follow(&slurm, &ids[3], &running, |_| false).await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status).0,
        RunState::Cancelled,
        "{:?}",
        p.status
    );
    assert!(String::from_utf8_lossy(&out).ends_with("\nstarted\n"));

    // over its time limit (one minute)
    let (p, _, _) = follow(&slurm, &ids[4], &over, |_| false).await;
    assert_eq!(
        tandem::pipeline::phase::slurm_state(&p.status),
        (
            RunState::Failed,
            Some("TIMEOUT: the job ran over its time limit".into())
        )
    );

    // the queue and partitions, as the Jobs view sees them
    let q = slurm.queue(&c).await.unwrap();
    assert!(
        q.iter().any(|j| j.id == ids[0] && j.state == "COMPLETED"),
        "{q:?}"
    );
    let info = slurm.sinfo(&c).await.unwrap();
    assert!(info.iter().any(|l| l.starts_with("debug")), "{info:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slurm_jobs_over_the_local_and_ssh_transports() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = Ssh::new(ssh_config()).unwrap();
    let (a, b) = (dir.path().join("local"), dir.path().join("ssh"));
    tokio::join!(slurm_lifecycle(&Local, &a), slurm_lifecycle(&ssh, &b));
}

fn sample_with_targets(dir: &Path) -> PathBuf {
    let dst = common::copy_sample(dir);
    let work = dir.join("cluster");
    let mut toml = std::fs::read_to_string(dst.join("tandem.toml")).unwrap();
    toml.push_str(&format!(
        r#"
[targets.hpc]
kind = "slurm"
transport = "local"
slurm_conf = "{conf}"
work_dir = "{work}"
poll_seconds = 0.3

[targets.hpc-ssh]
kind = "slurm"
transport = "ssh"
host = "127.0.0.1"
port = {port}
user = "root"
identity_file = "{key}"
known_hosts_file = "{kh}"
slurm_conf = "{conf}"
work_dir = "{work}"
poll_seconds = 0.3
"#,
        conf = var("SLURM_CONF"),
        work = work.display(),
        port = var("TANDEM_TEST_SSH_PORT"),
        key = var("TANDEM_TEST_SSH_KEY"),
        kh = var("TANDEM_TEST_SSH_KNOWN_HOSTS"),
    ));
    std::fs::write(dst.join("tandem.toml"), toml).unwrap();
    dst.join("tandem.toml")
}

fn end_record(out: &[u8]) -> Value {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "end")
        .expect("an end event")["run"]
        .clone()
}

#[test]
fn the_sample_solve_phase_runs_as_a_slurm_job_over_local_and_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let project = sample_with_targets(dir.path());
    let home = dir.path().join("home");
    for target in ["hpc", "hpc-ssh"] {
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .env("TANDEM_HOME", &home)
            .args(["run"])
            .arg(&project)
            .args(["--target", target, "--json"])
            .output()
            .unwrap();
        let run = end_record(&o.stdout);
        assert!(
            o.status.success(),
            "{target}: {}\n{run:#}",
            String::from_utf8_lossy(&o.stderr)
        );
        let solve = &run["phases"][1];
        assert_eq!(solve["state"], "succeeded", "{target}: {solve:#}");
        let job = solve["engine_id"].as_str().expect("the Slurm job id");
        assert!(job.parse::<u64>().is_ok(), "{job}");
        let out = home
            .join("store")
            .join(solve["output"].as_str().unwrap().trim_end_matches('/'));
        assert!(
            out.join("series.csv").is_file(),
            "{target}: no series in {out:?}"
        );
        assert!(out.join("_SUCCESS").is_file());
        // the job's stdout came back into the phase log
        let id = run["id"].as_str().unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .env("TANDEM_HOME", &home)
            .args(["logs", id, "--phase", "solve"])
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&o.stdout);
        assert!(log.contains(&format!("Slurm job {job}")), "{log}");
        assert!(log.contains("heat2d on "), "{target}: {log}");
        // the queue as `tandem jobs` shows it still holds the finished job
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["jobs", "--target", target, "--project"])
            .arg(&project)
            .arg("--json")
            .output()
            .unwrap();
        let q: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
        assert!(
            q.as_array().unwrap().iter().any(|j| j["id"] == job),
            "{q:#}"
        );
    }

    // a held solve job: pending with its reason, then `tandem cancel` (over SSH) ends the run
    let text = std::fs::read_to_string(&project).unwrap().replace(
        "script = \"slurm/solve.sbatch\"",
        "script = \"slurm/solve.sbatch\"\nhold = true",
    );
    std::fs::write(&project, text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", &home)
        .args(["run"])
        .arg(&project)
        .args(["--target", "hpc-ssh", "--phase", "solve", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let (id, pending) = loop {
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .env("TANDEM_HOME", &home)
            .args(["runs", "--json"])
            .output()
            .unwrap();
        let runs: Value = serde_json::from_slice(&o.stdout).unwrap();
        let newest = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["target"] == "hpc-ssh" && r["phases"].as_array().unwrap().len() == 1)
            .cloned();
        if let Some(r) = newest {
            let ph = &r["phases"][0];
            if ph["message"]
                .as_str()
                .is_some_and(|m| m.contains("JobHeldUser"))
            {
                break (r["id"].as_str().unwrap().to_string(), ph["message"].clone());
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the held job never showed: {:#}",
            runs.as_array()
                .unwrap()
                .first()
                .cloned()
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(pending, "PENDING (JobHeldUser)");
    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", &home)
        .args(["cancel", &id])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("scancel"));
    let o = child.wait_with_output().unwrap();
    assert!(!o.status.success(), "a cancelled run does not exit 0");
    let run = end_record(&o.stdout);
    assert_eq!(run["phases"][0]["state"], "cancelled", "{run:#}");
}

/// A job printing fast, followed as tandem follows a job (engine::joblog): streamed over the
/// local transport (file events) and SSH (`tail -F` on the master connection), the SSH stream
/// killed mid-follow (it resumes from the last byte given). Every byte arrives once and in order:
/// what was followed equals the file Slurm wrote.
async fn stream_a_fast_job(t: &dyn Transport, dir: &Path, want_how: &str, kill_tail: bool) {
    use tandem::engine::joblog::{LogFollow, Reading};
    let conf = conf();
    let slurm = Slurm::new(t, &conf);
    let c = CancellationToken::new();
    let spec = job(
        dir,
        "fast",
        "i=0; while [ $i -lt 6000 ]; do i=$((i+1)); echo \"line $i of the solver's output\"; \
         [ $((i % 500)) = 0 ] && echo \"checkpoint $i\" >&2 && sleep 0.25; done; echo done",
    );
    let id = slurm.submit(&spec, &c).await.unwrap();
    let paths = (
        spec.stdout_path().replace("%j", &id),
        spec.stderr_path().replace("%j", &id),
    );
    let mut f = LogFollow::new(&slurm, &id, paths.clone(), (0, 0), Duration::from_secs(1));
    let (mut out, mut err): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let mut streamed = false;
    let mut killed = !kill_tail;
    let t0 = Instant::now();
    loop {
        let p = f.next(&c).await.unwrap();
        if let Reading::Streamed(how) = f.reading() {
            assert_eq!(how, want_how);
            streamed = true;
        }
        out.extend(&p.stdout);
        err.extend(&p.stderr);
        if !killed && out.len() > 40_000 {
            // the connection of the stream drops: the head node's tail is killed
            killed = true;
            let pattern = format!("tail -c [+][0-9]* -F -- {}", paths.0);
            let killed = Command::new("pkill")
                .args(["-f", &pattern])
                .status()
                .unwrap();
            assert!(killed.success(), "no tail -F of {} to kill", paths.0);
        }
        if p.status.is_over() && p.stdout.is_empty() && p.stderr.is_empty() {
            assert_eq!(p.status.state, "COMPLETED", "{:?}", p.status);
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(180), "job {id} stuck");
    }
    assert!(streamed, "{want_how}: the log was never streamed");
    assert_eq!(
        out,
        std::fs::read(&paths.0).unwrap(),
        "stdout, byte for byte"
    );
    assert_eq!(
        err,
        std::fs::read(&paths.1).unwrap(),
        "stderr, byte for byte"
    );
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(text.matches("of the solver's output\n").count(), 6000);
    assert!(
        text.ends_with("line 6000 of the solver's output\ndone\n"),
        "{}",
        &text[text.len() - 80..]
    );
    assert_eq!(f.offsets(), (out.len() as u64, err.len() as u64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_jobs_log_is_streamed_once_and_in_order_over_local_and_ssh() {
    let dir = tempfile::tempdir().unwrap();
    let ssh = Ssh::new(ssh_config()).unwrap();
    let (a, b) = (dir.path().join("local"), dir.path().join("ssh"));
    tokio::join!(
        stream_a_fast_job(&Local, &a, "file events", false),
        stream_a_fast_job(&ssh, &b, "tail -F", true)
    );
}

/// The local transport as one that cannot keep anything open (SSM's case): the logs are polled.
/// It counts the commands it runs (each an SSM round trip there).
#[derive(Debug, Default)]
struct PollOnly {
    runs: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl Transport for PollOnly {
    fn describe(&self) -> String {
        "local, polled".into()
    }
    async fn run(
        &self,
        script: &str,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> tandem::transport::Result<tandem::transport::Output> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Local.run(script, timeout, cancel).await
    }
}

/// Where a log cannot be streamed it is polled at the cadence: each byte once and in order,
/// read to the end, and no more polls than the fixed interval would make over the same time
/// (bursts with quiet spells between them, as a solver that checkpoints writes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_that_cannot_be_streamed_is_polled_within_the_fixed_intervals_calls() {
    use tandem::engine::joblog::{LogFollow, Reading};
    let dir = tempfile::tempdir().unwrap();
    let t = PollOnly::default();
    let conf = conf();
    let slurm = Slurm::new(&t, &conf);
    let c = CancellationToken::new();
    let spec = job(
        dir.path(),
        "bursts",
        "for b in 1 2 3 4; do i=0; while [ $i -lt 300 ]; do i=$((i+1)); \
         echo \"burst $b line $i\"; done; sleep 3; done; echo done",
    );
    let id = slurm.submit(&spec, &c).await.unwrap();
    let paths = (
        spec.stdout_path().replace("%j", &id),
        spec.stderr_path().replace("%j", &id),
    );
    let before = t.runs.load(std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    let every = Duration::from_secs(1);
    let mut f = LogFollow::new(&slurm, &id, paths.clone(), (0, 0), every);
    let mut out = Vec::new();
    loop {
        let p = f.next(&c).await.unwrap();
        assert_eq!(f.reading(), Reading::Polled(1));
        out.extend(&p.stdout);
        if p.status.is_over() && p.stdout.is_empty() && p.stderr.is_empty() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "job {id} stuck");
    }
    let polls = t.runs.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(
        out,
        std::fs::read(&paths.0).unwrap(),
        "stdout, byte for byte"
    );
    assert!(String::from_utf8(out)
        .unwrap()
        .ends_with("burst 4 line 300\ndone\n"));
    // a fixed 1 s interval: one poll a second and the first at once; a finished job's log read
    // to its end takes one more; the cadence may spend the three polls a quiet spell saved
    let fixed = t0.elapsed().as_secs_f64().ceil() as u64 + 2;
    assert!(polls <= fixed + 3, "{polls} polls in {:?}", t0.elapsed());
}

async fn read_until(f: &mut tandem::transport::follow::FileFollow, got: &mut Vec<u8>, n: usize) {
    while got.len() < n {
        got.extend(f.next(1 << 16).await.unwrap());
    }
}

/// A followed file truncated and rewritten is read again from its start, watched here or tailed
/// over SSH alike; the stream keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_log_is_read_again_from_its_start() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let ssh = Ssh::new(ssh_config()).unwrap();
    for (t, name) in [(&Local as &dyn Transport, "local"), (&ssh, "ssh")] {
        let path = dir.path().join(format!("{name}.log"));
        std::fs::write(&path, b"first run, line 1\nfirst run, line 2\n").unwrap();
        let mut f = t
            .follow_file(&path.display().to_string(), 0)
            .expect("this transport streams")
            .unwrap();
        let mut got: Vec<u8> = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), read_until(&mut f, &mut got, 36))
            .await
            .unwrap();
        // truncated, then written again
        let mut w = std::fs::File::create(&path).unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        w.write_all(b"second run\n").unwrap();
        w.flush().unwrap();
        tokio::time::timeout(
            Duration::from_secs(20),
            read_until(&mut f, &mut got, 36 + 11),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{name}: after the truncation got {:?}",
                String::from_utf8_lossy(&got)
            )
        });
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "first run, line 1\nfirst run, line 2\nsecond run\n",
            "{name}"
        );
    }
}
