//! Crash and re-attach across real engines: a pipeline (Ray preprocess, Slurm solve, started by
//! scripts/test.sh) whose tandem is killed with SIGKILL during phase 1 (which then ends while no
//! tandem runs) and again during phase 2, then resumed by two tandem processes at once. Each phase
//! must be submitted exactly once, the pipeline must finish, and every line of both phases' logs
//! must be in the local log files once, in order.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run the tests with scripts/test.sh, which starts Ray and Slurm")
    })
}

const LINES: usize = 150;

/// A project whose phases print numbered lines slowly: `pre N` from a Ray job, `solve N` from a
/// Slurm job.
fn project(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join("proj");
    std::fs::create_dir_all(p.join("ray")).unwrap();
    std::fs::write(
        p.join("ray/count.py"),
        format!(
            "import os, sys, time\n\
             for i in range({LINES}):\n    print(f'pre {{i}}', flush=True)\n    time.sleep(0.04)\n\
             out = os.environ['OUTPUT']\nos.makedirs(out, exist_ok=True)\n\
             open(os.path.join(out, '_SUCCESS'), 'w').close()\n"
        ),
    )
    .unwrap();
    std::fs::write(
        p.join("tandem.toml"),
        format!(
            r#"[project]
name = "{name}"
default_target = "c"

[storage]
root = "lake/{name}"

[datasets.raw]
path = "raw"

[phases.preprocess]
engine = "ray"
inputs = ["raw"]
output = "runs/{{run}}/prepared"

[phases.preprocess.local]
command = ["true"]

[phases.preprocess.ray]
entrypoint = "python count.py"
working_dir = "ray"

[phases.solve]
engine = "slurm"
inputs = ["handoff"]
output = "runs/{{run}}/solution"

[phases.solve.local]
command = ["true"]

[phases.solve.slurm]
command = ["sh", "-c", "for i in $(seq 0 {last}); do echo solve $i; sleep 0.04; done; echo ok > \"$OUTPUT/result.txt\""]
launcher = "none"

[handoff]
from = "preprocess"
to = "solve"
require = ["_SUCCESS"]

[targets.c]
kind = "slurm"
transport = "local"
slurm_conf = "{conf}"
work_dir = "{work}"
poll_seconds = 0.3
ray_dashboard = "{ray}"
"#,
            last = LINES - 1,
            conf = var("SLURM_CONF"),
            work = dir.join("cluster").display(),
            ray = var("TANDEM_TEST_RAY"),
        ),
    )
    .unwrap();
    p.join("tandem.toml")
}

fn tandem(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("TANDEM_HOME", home)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    c
}

/// Read JSON events from a child until `until` holds for one; the run id seen so far.
fn read_until(child: &mut Child, mut until: impl FnMut(&Value) -> bool) -> String {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&l) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    let t0 = Instant::now();
    let mut id = String::new();
    loop {
        let v = rx
            .recv_timeout(Duration::from_secs(180).saturating_sub(t0.elapsed()))
            .expect("the event looked for within 3 minutes");
        if let Some(r) = v["run"].as_str() {
            id = r.to_string();
        }
        if until(&v) {
            return id;
        }
    }
}

/// Lines of a phase log that its job printed (`tag N`), as numbers.
fn numbered(home: &Path, id: &str, phase: &str, tag: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(home.join(format!("runs/{id}/{phase}.stdout.log")))
        .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix(tag)?.strip_prefix(' ')?.trim().parse().ok())
        .collect()
}

fn wait_lines(home: &Path, id: &str, phase: &str, tag: &str, n: usize) {
    let t0 = Instant::now();
    while numbered(home, id, phase, tag).len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "{phase} never printed {n} lines"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill9(c: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = c.wait();
}

#[test]
fn sigkill_during_each_phase_then_two_resumers_finish_it_with_each_phase_submitted_once() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("crash{}", std::process::id());
    let file = project(dir.path(), &name);
    let home = dir.path().join("home");
    let raw = home.join(format!("store/lake/{name}/raw"));
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::write(raw.join("a.csv"), "x\n1\n").unwrap();

    // 1. killed during phase 1, with some of its log followed
    let mut a = tandem(&home)
        .arg("run")
        .arg(&file)
        .arg("--json")
        .spawn()
        .unwrap();
    let id = read_until(&mut a, |v| {
        v["phase"] == "preprocess" && v["engine_id"].is_string()
    });
    wait_lines(&home, &id, "preprocess", "pre", 20);
    kill9(&mut a);
    let runs: Value = serde_json::from_slice(
        &tandem(&home)
            .args(["runs", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(runs[0]["id"], id.as_str());
    assert!(
        !runs[0]["phases"][0]["state"]
            .as_str()
            .is_some_and(|s| s == "lost" || s == "failed"),
        "a killed tandem leaves its Ray job running, not lost: {runs:#}"
    );

    // phase 1 ends while no tandem watches
    let t0 = Instant::now();
    loop {
        let o = tandem(&home)
            .args(["ray", "--target", "c", "--json", "--project"])
            .arg(&file)
            .output()
            .unwrap();
        let c: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        let done = c["jobs"].as_array().is_some_and(|j| {
            j.iter().any(|j| {
                j["submission_id"] == format!("tandem-{id}-preprocess").as_str()
                    && j["status"] == "SUCCEEDED"
            })
        });
        if done {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "phase 1 never ended: {c:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // 2. resumed: catches up phase 1's log from its offset and sees it ended, submits phase 2;
    // killed during phase 2
    let mut b = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .spawn()
        .unwrap();
    read_until(&mut b, |v| {
        v["phase"] == "solve" && v["engine_id"].is_string()
    });
    wait_lines(&home, &id, "solve", "solve", 20);
    kill9(&mut b);

    // 3. two tandems resume it at once: one drives, the other follows it from the journal
    let c = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .spawn()
        .unwrap();
    let d = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .spawn()
        .unwrap();
    for (who, child) in [("c", c), ("d", d)] {
        let o = child.wait_with_output().unwrap();
        let end = String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event"] == "end")
            .unwrap_or_else(|| panic!("{who}: no end event"));
        assert_eq!(end["run"]["state"], "succeeded", "{who}: {end:#}");
        assert!(o.status.success(), "{who}");
    }

    // each phase submitted once: one Ray submission id (Ray refuses a second), one Slurm job
    let r: Value = serde_json::from_slice(
        &tandem(&home)
            .args(["runs", "show", &id, "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let text = r.to_string();
    assert!(text.contains(&format!("tandem-{id}-preprocess")), "{r:#}");
    let q = Command::new("squeue")
        .args([
            "-h",
            "-t",
            "all",
            "-n",
            &format!("tandem-{name}-solve"),
            "-o",
            "%i",
        ])
        .output()
        .unwrap();
    let jobs: Vec<String> = String::from_utf8_lossy(&q.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(jobs.len(), 1, "one Slurm job for the solve phase: {jobs:?}");
    assert!(text.contains(&jobs[0]), "{r:#}");

    // no line lost or written twice, across two kills
    let want: Vec<usize> = (0..LINES).collect();
    assert_eq!(numbered(&home, &id, "preprocess", "pre"), want);
    assert_eq!(numbered(&home, &id, "solve", "solve"), want);
    let result = home.join(format!("store/lake/{name}/runs/{id}/solution/result.txt"));
    assert!(result.is_file(), "{result:?}");
}
