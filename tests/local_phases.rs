//! Local phases and the tandem that started them: quitting the TUI (q) and SIGTERM stop a local
//! phase's process group and record it cancelled; a SIGKILLed tandem's phase goes on, and the
//! next tandem finds it alive by its pid and start time and follows it to its end (or learns how
//! it ended while no tandem watched, from what its supervisor wrote). Never "gone" while alive.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A project whose solve phase is a local loop printing `solve N` every 50 ms, `n` times.
fn project(dir: &Path, n: u32) -> PathBuf {
    common::local_project(
        dir,
        "loops",
        "mkdir -p {output} && touch {output}/_SUCCESS",
        &format!(
            "for i in $(seq 1 {n}); do echo solve $i; sleep 0.05; done; touch {{output}}/done"
        ),
        "grace_seconds = 2",
    )
    .join("tandem.toml")
}

fn tandem(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("TANDEM_HOME", home).stderr(Stdio::inherit());
    c
}

fn runs(home: &Path) -> Vec<Value> {
    let o = tandem(home).args(["runs", "--json"]).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The newest run's solve phase, once `ok` holds for it.
fn wait_solve(home: &Path, what: &str, ok: impl Fn(&Value) -> bool) -> (Value, Value) {
    let t0 = Instant::now();
    loop {
        if let Some(r) = runs(home).first() {
            let solve = r["phases"][1].clone();
            if ok(&solve) {
                return (r.clone(), solve);
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {:#?}",
            runs(home)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn solve_lines(home: &Path, run: &str) -> Vec<String> {
    std::fs::read_to_string(home.join(format!("runs/{run}/solve.stdout.log")))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("solve "))
        .map(str::to_string)
        .collect()
}

/// Live (not zombie) processes of process group `pgid`.
fn group_alive(pgid: i64) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|st| {
            // after the command's closing parenthesis: state, ppid, pgrp
            let rest = st.rsplit_once(')').map(|x| x.1).unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.len() > 2 && f[0] != "Z" && f[2].parse::<i64>().ok() == Some(pgid)
        })
        .count()
}

fn wait_until(what: &str, secs: u64, ok: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `tandem run --json` in the background, its stdout read until a solve event is running.
fn start_headless(home: &Path, proj: &Path) -> Child {
    let mut child = tandem(home)
        .arg("run")
        .arg(proj)
        .arg("--json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
    child
}

#[test]
fn sigterm_stops_a_local_phase_and_records_it_cancelled() {
    let d = tempfile::tempdir().unwrap();
    let proj = project(d.path(), 2000);
    let home = d.path().join("home");
    let mut child = start_headless(&home, &proj);
    let (r, solve) = wait_solve(&home, "the solve to run", |s| s["state"] == "running");
    let pid = solve["pid"].as_i64().unwrap();
    wait_until("its first lines", 30, || {
        !solve_lines(&home, r["id"].as_str().unwrap()).is_empty()
    });
    assert!(group_alive(pid) > 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(1), "a cancelled run exits 1");
    assert_eq!(group_alive(pid), 0, "the phase's processes are gone");
    let r = &runs(&home)[0];
    assert_eq!(r["state"], "cancelled", "{r:#}");
    assert_eq!(r["phases"][1]["state"], "cancelled");
    assert_eq!(r["phases"][1]["placement"]["on"], "local");
}

#[test]
fn a_killed_tandems_local_phase_is_followed_to_its_end_by_the_next() {
    let d = tempfile::tempdir().unwrap();
    let proj = project(d.path(), 80);
    let home = d.path().join("home");
    let mut child = start_headless(&home, &proj);
    let (r, solve) = wait_solve(&home, "the solve to run", |s| s["state"] == "running");
    let id = r["id"].as_str().unwrap().to_string();
    let pid = solve["pid"].as_i64().unwrap();
    assert!(solve["pid_start"].as_u64().is_some(), "{solve:#}");
    wait_until("its first lines", 30, || {
        !solve_lines(&home, &id).is_empty()
    });
    child.kill().unwrap(); // SIGKILL: no chance to stop anything
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(group_alive(pid) > 0, "the phase goes on without its tandem");
    // the next tandem finds it alive: it follows it, it does not start it again
    let o = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let r = &runs(&home)[0];
    assert_eq!(r["state"], "succeeded", "{r:#}");
    assert_eq!(
        r["phases"][1]["pid"].as_i64(),
        Some(pid),
        "the same process"
    );
    let lines = solve_lines(&home, &id);
    assert_eq!(lines.len(), 80, "every line once: {lines:?}");
    let log = std::fs::read_to_string(home.join(format!("runs/{id}/solve.stdout.log"))).unwrap();
    assert!(
        log.contains(&format!("re-attaching to process {pid}")),
        "{log}"
    );
    assert!(!log.contains("gone"), "{log}");
}

#[test]
fn a_local_phase_that_ended_while_no_tandem_watched_ends_as_it_did() {
    let d = tempfile::tempdir().unwrap();
    let proj = project(d.path(), 30);
    let home = d.path().join("home");
    let mut child = start_headless(&home, &proj);
    let (r, solve) = wait_solve(&home, "the solve to run", |s| s["state"] == "running");
    let id = r["id"].as_str().unwrap().to_string();
    let pid = solve["pid"].as_i64().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the phase to end on its own", 30, || group_alive(pid) == 0);
    let o = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let r = &runs(&home)[0];
    assert_eq!(r["state"], "succeeded", "{r:#}");
    assert_eq!(r["phases"][1]["exit_code"], 0);

    // and one whose processes were killed too (SIGKILL to the group): it says so, not "gone"
    let mut child = start_headless(&home, &proj);
    let (r, solve) = wait_solve(&home, "the second solve", |s| {
        s["state"] == "running" && s["pid"].as_i64() != Some(pid)
    });
    let id = r["id"].as_str().unwrap().to_string();
    let pid = solve["pid"].as_i64().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the group to die", 10, || group_alive(pid) == 0);
    let o = tandem(&home)
        .args(["runs", "resume", &id, "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let r = &runs(&home)[0];
    assert_eq!(r["phases"][1]["state"], "lost", "{r:#}");
    let msg = r["phases"][1]["message"].as_str().unwrap();
    assert!(
        msg.contains("killed") && msg.contains(&pid.to_string()),
        "{msg}"
    );
}

/// tmux, as in tests/tmux.rs: quit the TUI with `q` while the local solve runs.
#[test]
fn quitting_the_tui_mid_solve_stops_the_solve_and_records_it() {
    let d = tempfile::tempdir().unwrap();
    let proj = project(d.path(), 4000);
    let home = d.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let socket = home.join("tmux.sock");
    let tmux = |args: &[&str]| {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args(args)
            .output()
            .expect("tmux is required for this test (apt-get install tmux)");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "q",
        "-x",
        "100",
        "-y",
        "30",
        "bash",
        "--norc",
        "--noprofile",
    ]);
    struct Kill(PathBuf);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .arg("-S")
                .arg(&self.0)
                .arg("kill-server")
                .output();
        }
    }
    let _kill = Kill(socket.clone());
    tmux(&[
        "send-keys",
        "-t",
        "q",
        &format!(
            "TANDEM_HOME={} TERM=xterm-256color {} {}; echo TANDEM-EXITED-$?",
            home.display(),
            env!("CARGO_BIN_EXE_tandem"),
            proj.display()
        ),
        "Enter",
    ]);
    let pane = || tmux(&["capture-pane", "-p", "-t", "q"]);
    wait_until("the pipeline view", 30, || pane().contains("1 preprocess"));
    tmux(&["send-keys", "-t", "q", "r"]);
    let (r, solve) = wait_solve(&home, "the solve to run", |s| s["state"] == "running");
    let id = r["id"].as_str().unwrap().to_string();
    let pid = solve["pid"].as_i64().unwrap();
    wait_until("its first lines", 30, || {
        !solve_lines(&home, &id).is_empty()
    });
    tmux(&["send-keys", "-t", "q", "q"]);
    wait_until("tandem to exit", 30, || pane().contains("TANDEM-EXITED-0"));
    assert_eq!(group_alive(pid), 0, "no phase process is left");
    let r = &runs(&home)[0];
    assert_eq!(r["state"], "cancelled", "{r:#}");
    assert_eq!(r["phases"][1]["state"], "cancelled");
}
