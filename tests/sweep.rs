//! Parameter sweeps on every placement, with real parts: local processes (at most `max_parallel`
//! at once), one job array on the real Slurm (one sbatch, the table staged beside its script,
//! the `%` throttle), one Ray job per element on the real Ray head; and a tandem SIGKILLed in the
//! middle of a sweep, resumed, with every element run exactly once (counted in each element's own
//! log, and by the engine: array jobs in Slurm, submissions in Ray). scripts/test.sh starts Slurm
//! and Ray and exports SLURM_CONF and TANDEM_TEST_RAY; without them these tests fail.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with scripts/test.sh"))
}

/// Each element prints `run X TAG`, sleeps `secs`, writes `x.txt` into its output; element x=3
/// fails with exit code 7 when `fail` is set.
fn element_script(secs: f64, fail: bool) -> String {
    let mut s = format!(
        "echo run {{param.x}} {{param.tag}} element {{element}}; sleep {secs}; mkdir -p {{output}}; echo {{param.x}} > {{output}}/x.txt"
    );
    if fail {
        s.push_str("; if [ {param.x} = 3 ]; then echo broke >&2; exit 7; fi");
    }
    s
}

/// A project whose solve phase is swept over x = 1..4 (tag = a), two at a time; `engine` is
/// where solve runs (`slurm` or `ray`), `target` a target table appended as it is.
fn project(dir: &Path, engine: &str, secs: f64, fail: bool, target: &str) -> PathBuf {
    let p = dir.join("proj");
    std::fs::create_dir_all(&p).unwrap();
    let word = |s: &str| toml::Value::String(s.to_string()).to_string();
    let script = element_script(secs, fail);
    std::fs::write(
        p.join("tandem.toml"),
        format!(
            r#"[project]
name = "swept"

[storage]
root = "lake/swept"

[datasets.raw]
path = "raw"
generate = {{ seed = 1, size_mb = 0.01, files = 1 }}

[phases.preprocess]
engine = "slurm"
inputs = ["raw"]
output = "runs/{{run}}/prepared"

[phases.preprocess.local]
command = ["sh", "-c", "mkdir -p {{output}} && touch {{output}}/_SUCCESS"]

[phases.solve]
engine = "{engine}"
inputs = ["handoff"]
output = "runs/{{run}}/x={{param.x}}"

[phases.solve.sweep]
max_parallel = 2
x = [1, 2, 3, 4]
tag = ["a"]

[phases.solve.local]
command = ["sh", "-c", {s}]
grace_seconds = 1

[phases.solve.slurm]
command = ["sh", "-c", {s}]
launcher = "none"

[phases.solve.ray]
entrypoint = {s}

[handoff]
from = "preprocess"
to = "solve"

{target}
"#,
            s = word(&script),
        ),
    )
    .unwrap();
    p.join("tandem.toml")
}

fn tandem(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("TANDEM_HOME", home).stderr(Stdio::inherit());
    c
}

fn slurm_target(dir: &Path) -> String {
    format!(
        "[targets.ws]\nkind = \"slurm\"\ntransport = \"local\"\nslurm_conf = \"{}\"\nwork_dir = \"{}\"\npoll_seconds = 0.3\n",
        var("SLURM_CONF"),
        dir.join("cluster").display()
    )
}

fn ray_target() -> String {
    format!(
        "[targets.r]\nkind = \"local\"\nray_dashboard = \"{}\"\n",
        var("TANDEM_TEST_RAY")
    )
}

/// `tandem run PROJECT --json` to its end: the end event's run and every element event.
fn run_json(home: &Path, project: &Path, target: &str) -> (Value, Vec<Value>, bool) {
    let o = tandem(home)
        .arg("run")
        .arg(project)
        .args(["--target", target, "--json"])
        .output()
        .unwrap();
    let events: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let end = events
        .iter()
        .find(|v| v["event"] == "end")
        .unwrap_or_else(|| panic!("no end event: {}", String::from_utf8_lossy(&o.stdout)))["run"]
        .clone();
    let elements = events
        .into_iter()
        .filter(|v| v["event"] == "element")
        .collect();
    (end, elements, o.status.success())
}

/// How many times element `i` of `run` ran: the `run X` lines in its own log.
fn times_ran(home: &Path, run: &str, i: u32) -> usize {
    let log = std::fs::read_to_string(
        home.join("runs")
            .join(run)
            .join(format!("solve.e{i}.stdout.log")),
    )
    .unwrap_or_default();
    log.lines().filter(|l| l.starts_with("run ")).count()
}

fn newest_run(home: &Path) -> Option<Value> {
    let o = tandem(home).args(["runs", "--json"]).output().unwrap();
    serde_json::from_slice::<Value>(&o.stdout)
        .ok()?
        .as_array()?
        .first()
        .cloned()
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn store_file(home: &Path, output: &str, f: &str) -> PathBuf {
    home.join("store")
        .join(output.trim_end_matches('/'))
        .join(f)
}

#[test]
fn a_local_sweep_runs_each_element_once_two_at_a_time_and_records_them() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = project(d.path(), "slurm", 0.4, true, "");
    let (run, events, ok) = run_json(&home, &p, "local");
    assert!(!ok, "element x=3 fails, so the run does");
    let id = run["id"].as_str().unwrap();
    let solve = &run["phases"][1];
    assert_eq!(solve["state"], "failed", "{solve:#}");
    let msg = solve["message"].as_str().unwrap();
    assert!(msg.contains("4 elements: 3 succeeded, 1 failed"), "{msg}");
    assert!(
        msg.contains("element 2 (x=3 tag=a)") && msg.contains("broke"),
        "{msg}"
    );
    let els = solve["elements"].as_array().unwrap();
    assert_eq!(els.len(), 4);
    for (i, e) in els.iter().enumerate() {
        assert_eq!(e["index"], i);
        assert_eq!(e["params"]["x"], i + 1);
        assert_eq!(e["params"]["tag"], "a");
        assert_eq!(times_ran(&home, id, i as u32), 1, "element {i} ran once");
        let out = e["output"].as_str().unwrap();
        assert!(out.ends_with(&format!("/x={}/", i + 1)), "{out}");
        assert_eq!(
            std::fs::read_to_string(store_file(&home, out, "x.txt")).unwrap(),
            format!("{}\n", i + 1)
        );
    }
    assert_eq!(els[2]["state"], "failed");
    assert_eq!(els[2]["exit_code"], 7);
    // never more than two at once: no element started after two others had started and
    // before either ended
    let span = |e: &Value| {
        let t = |k: &str| chrono::DateTime::parse_from_rfc3339(e[k].as_str().unwrap()).unwrap();
        (t("started"), t("ended"))
    };
    for e in els {
        let (s, _) = span(e);
        let overlapping = els
            .iter()
            .filter(|o| {
                let (os, oe) = span(o);
                os <= s && oe > s
            })
            .count();
        assert!(overlapping <= 2, "{overlapping} running at once");
    }
    // the headless stream has each element's changes, its parameters with them
    assert!(events
        .iter()
        .any(|v| v["element"] == 2 && v["state"] == "failed" && v["params"]["x"] == 3));
    // the journal lists them (rows of their own), and so does runs show
    let o = tandem(&home)
        .args(["runs", "show", id, "--json"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = shown["phases"][1]["elements"].as_array().unwrap();
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[3]["state"], "succeeded");
}

#[test]
fn a_slurm_sweep_is_one_job_array_reading_its_table() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = project(d.path(), "slurm", 0.2, false, &slurm_target(d.path()));
    let (run, _, ok) = run_json(&home, &p, "ws");
    assert!(ok, "{run:#}");
    let id = run["id"].as_str().unwrap();
    let solve = &run["phases"][1];
    let array = solve["engine_id"].as_str().unwrap().to_string();
    let run_dir = d.path().join("cluster").join(id).join("solve");
    assert_eq!(
        std::fs::read_to_string(run_dir.join("params.tsv")).unwrap(),
        "element\tx\ttag\n0\t1\ta\n1\t2\ta\n2\t3\ta\n3\t4\ta\n"
    );
    for (i, e) in solve["elements"].as_array().unwrap().iter().enumerate() {
        assert_eq!(e["state"], "succeeded", "{e:#}");
        assert_eq!(e["engine_id"], format!("{array}_{i}"));
        assert_eq!(times_ran(&home, id, i as u32), 1, "element {i}");
        assert!(store_file(&home, e["output"].as_str().unwrap(), "x.txt").is_file());
    }
    // the manifest beside the outputs lists the elements too
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(store_file(
            &home,
            solve["output"].as_str().unwrap(),
            "tandem-manifest.json",
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["elements"].as_array().unwrap().len(), 4);
    // one array, throttled to two elements at a time
    assert_eq!(array_jobs(id).len(), 1);
    let show = Command::new("scontrol")
        .args(["show", "job", "-o", &array])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&show.stdout);
    assert!(show.contains("ArrayTaskThrottle=2"), "{show}");
}

/// The distinct Slurm arrays that ran elements of `run` (their working directory names it).
fn array_jobs(run: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new("scontrol")
        .args(["show", "job", "-o"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(run))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("ArrayJobId="))
                .map(str::to_string)
        })
        .collect()
}

/// SIGKILL a `tandem run` once `ready` holds for its sweep, then `tandem runs resume` it.
fn kill_and_resume(home: &Path, p: &Path, target: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let mut child = tandem(home)
        .arg("run")
        .arg(p)
        .args(["--target", target])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut id = String::new();
    wait_for("the sweep to get going", 60, || match newest_run(home) {
        Some(r) if ready(&r["phases"][1]) => {
            id = r["id"].as_str().unwrap().to_string();
            true
        }
        _ => false,
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let o = tandem(home)
        .args(["runs", "resume", &id, "--json"])
        .output()
        .unwrap();
    let end = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "end")
        .unwrap_or_else(|| panic!("resume: {}", String::from_utf8_lossy(&o.stdout)))["run"]
        .clone();
    assert!(o.status.success(), "{end:#}");
    end
}

fn running(solve: &Value) -> usize {
    solve["elements"]
        .as_array()
        .map_or(0, |e| e.iter().filter(|e| e["state"] == "running").count())
}

#[test]
fn a_local_sweep_killed_midway_resumes_and_runs_each_element_once() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = project(d.path(), "slurm", 1.5, false, "");
    // killed while the first two run (their pids journalled), the other two not started
    let end = kill_and_resume(&home, &p, "local", |s| {
        running(s) == 2 && s["elements"][0]["pid"].is_u64()
    });
    let id = end["id"].as_str().unwrap();
    assert_eq!(end["phases"][1]["state"], "succeeded", "{end:#}");
    for i in 0..4 {
        assert_eq!(times_ran(&home, id, i), 1, "element {i} ran once");
    }
}

#[test]
fn a_slurm_sweep_killed_midway_resumes_the_same_array() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = project(d.path(), "slurm", 1.5, false, &slurm_target(d.path()));
    let end = kill_and_resume(&home, &p, "ws", |s| {
        s["engine_id"].is_string() && running(s) >= 1
    });
    let id = end["id"].as_str().unwrap();
    assert_eq!(end["phases"][1]["state"], "succeeded", "{end:#}");
    for i in 0..4 {
        assert_eq!(times_ran(&home, id, i), 1, "element {i} ran once");
    }
    assert_eq!(array_jobs(id).len(), 1, "one sbatch for the whole sweep");
}

/// The Ray jobs tandem submitted for `run`'s solve elements.
fn ray_submissions(run: &str) -> Vec<String> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/api/jobs/", var("TANDEM_TEST_RAY"))])
        .output()
        .unwrap();
    let jobs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let prefix = format!("tandem-{run}-solve-e");
    jobs.as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["submission_id"].as_str())
        .filter(|s| s.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_ray_sweep_is_one_job_per_element_and_resumes_without_submitting_twice() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = project(d.path(), "ray", 1.0, false, &ray_target());
    let end = kill_and_resume(&home, &p, "r", |s| running(s) >= 1);
    let id = end["id"].as_str().unwrap();
    let solve = &end["phases"][1];
    assert_eq!(solve["state"], "succeeded", "{end:#}");
    let mut subs = ray_submissions(id);
    subs.sort();
    assert_eq!(
        subs,
        (0..4)
            .map(|i| format!("tandem-{id}-solve-e{i}"))
            .collect::<Vec<_>>(),
        "one Ray job per element"
    );
    for (i, e) in solve["elements"].as_array().unwrap().iter().enumerate() {
        assert_eq!(e["engine_id"], format!("tandem-{id}-solve-e{i}"));
        assert_eq!(
            times_ran(&home, id, i as u32),
            1,
            "element {i}'s driver log"
        );
        assert!(store_file(&home, e["output"].as_str().unwrap(), "x.txt").is_file());
    }
}

/// The sample's own sweep (2 x 3) run here, then read as the Plots view reads it: a line plot
/// overlays every element's series, named by its parameters; `{`/`}` read one element's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_samples_sweep_plots_every_elements_series_and_each_ones_field() {
    use tandem::plot::load::{PlotData, Reader};
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-projects/heat-diffusion/sweep.toml");
    let (run, _, ok) = run_json(&home, &project, "local");
    assert!(ok, "{run:#}");
    let id = run["id"].as_str().unwrap();
    assert_eq!(run["phases"][1]["elements"].as_array().unwrap().len(), 6);
    let p = std::sync::Arc::new(tandem::project::load(&project).unwrap());
    let ws = tandem::pipeline::Workspace::new(home.clone());
    let reader = Reader::new(ws, p.clone(), None);
    let energy = p.plots.iter().position(|x| x.name == "energy").unwrap();
    let files = reader.files(id, energy).await.unwrap();
    assert_eq!(files, ["series.csv"]);
    let all = reader
        .load_compared(id, energy, "series.csv", None, &[], false, None)
        .await
        .unwrap();
    let PlotData::Compare {
        other,
        more,
        elements,
        ..
    } = &all
    else {
        panic!("{all:?}")
    };
    assert!(elements);
    assert_eq!(other, "alpha=0.5 edge_temp=50");
    assert_eq!(more.len(), 4);
    assert_eq!(more[3].0, "alpha=1.0 edge_temp=80");
    // one element alone
    let one = reader
        .clone()
        .at_element(Some(4))
        .load_compared(id, energy, "series.csv", None, &[], false, None)
        .await
        .unwrap();
    assert!(matches!(one, PlotData::Series { .. }), "{one:?}");
    let field = p
        .plots
        .iter()
        .position(|x| x.name == "temperature field")
        .unwrap();
    let snaps = reader
        .clone()
        .at_element(Some(5))
        .files(id, field)
        .await
        .unwrap();
    assert_eq!(snaps.len(), 6, "{snaps:?}");
    let PlotData::Field { stats, .. } = reader
        .clone()
        .at_element(Some(5))
        .load(id, field, snaps.last().unwrap())
        .await
        .unwrap()
    else {
        panic!()
    };
    // its edges were held at 80
    assert!((stats.range.1 - 80.0).abs() < 1.0, "{:?}", stats.range);
}

/// A project whose solve allocates `{param.mb}` MiB (or exits 3 for a negative one) under a 0.1 GB
/// limit, tried again up to twice with four times the memory after running out of it.
fn hungry(dir: &Path, swept: bool) -> PathBuf {
    let p = dir.join("hungry");
    std::fs::create_dir_all(&p).unwrap();
    let alloc = "import sys, time; n = int(sys.argv[1]); sys.exit(3) if n < 0 else None; x = b'x' * (n << 20); time.sleep(1); print('held', n, 'MiB')";
    let (mb, sweep) = if swept {
        ("{param.mb}", "[phases.solve.sweep]\nmb = [10, 250, -1]\n")
    } else {
        ("250", "")
    };
    std::fs::write(
        p.join("tandem.toml"),
        format!(
            r#"[project]
name = "hungry"
[storage]
root = "lake/hungry"
[phases.preprocess]
engine = "slurm"
output = "runs/{{run}}/p"
local = {{ command = ["sh", "-c", "mkdir -p {{output}} && touch {{output}}/_SUCCESS"] }}
[handoff]
from = "preprocess"
to = "solve"
[phases.solve]
engine = "slurm"
inputs = ["handoff"]
output = "runs/{{run}}/s"
resources = {{ memory_gb = 0.1 }}
retry = {{ max = 2, on = ["OUT_OF_MEMORY"], memory_factor = 4.0 }}
local = {{ command = ["true"] }}
slurm = {{ command = ["python3", "-c", "{alloc}", "{mb}"], launcher = "none" }}
{sweep}
{target}
"#,
            target = slurm_target(dir)
        ),
    )
    .unwrap();
    p.join("tandem.toml")
}

#[test]
fn elements_that_run_out_of_memory_are_tried_again_with_more() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = hungry(d.path(), true);
    let (run, _, ok) = run_json(&home, &p, "ws");
    assert!(!ok, "element -1 exits 3: {run:#}");
    let els = run["phases"][1]["elements"].as_array().unwrap();
    // 10 MiB fits: once
    assert_eq!(els[0]["state"], "succeeded", "{run:#}");
    assert!(els[0]["attempts"].as_array().unwrap().is_empty());
    // 250 MiB: out of memory at 0.1 GB, then fine with 0.4 GB
    assert_eq!(els[1]["state"], "succeeded", "{:#}", els[1]);
    let tries = els[1]["attempts"].as_array().unwrap();
    assert_eq!(tries.len(), 1, "{tries:#?}");
    assert_eq!(tries[0]["reason"], "OUT_OF_MEMORY");
    assert_eq!(tries[0]["memory_gb"], 0.1);
    let first = tries[0]["engine_id"].as_str().unwrap();
    let now = els[1]["engine_id"].as_str().unwrap();
    assert_ne!(first, now, "a new array for the retry");
    assert!(now.ends_with("_1"));
    // a failing exit code is not retried unless the rule names FAILED
    assert_eq!(els[2]["state"], "failed");
    assert_eq!(els[2]["exit_code"], 3);
    assert!(els[2]["attempts"].as_array().unwrap().is_empty());
    // the element's log has both tries
    let id = run["id"].as_str().unwrap();
    let log =
        std::fs::read_to_string(home.join("runs").join(id).join("solve.e1.stdout.log")).unwrap();
    assert!(log.contains("OUT_OF_MEMORY: trying again"), "{log}");
    assert!(log.contains("held 250 MiB"), "{log}");
    // the journal's row counts the try
    let o = tandem(&home)
        .args(["runs", "show", id, "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["phases"][1]["elements"][1]["attempts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_job_that_runs_out_of_memory_is_tried_again_with_more() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let p = hungry(d.path(), false);
    let (run, _, ok) = run_json(&home, &p, "ws");
    assert!(ok, "{run:#}");
    let solve = &run["phases"][1];
    let tries = solve["attempts"].as_array().unwrap();
    assert_eq!(tries.len(), 1, "{solve:#}");
    assert_eq!(tries[0]["reason"], "OUT_OF_MEMORY");
    assert_ne!(tries[0]["engine_id"], solve["engine_id"]);
    // the second try ran in its own directory, asking for 0.4 GB
    let id = run["id"].as_str().unwrap();
    let script = std::fs::read_to_string(
        d.path()
            .join("cluster")
            .join(id)
            .join("solve/a1/job.sbatch"),
    )
    .unwrap();
    assert!(script.contains("python3"), "{script}");
    let out = Command::new("scontrol")
        .args(["show", "job", "-o", solve["engine_id"].as_str().unwrap()])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(show.contains("mem=410M"), "{show}");
}
