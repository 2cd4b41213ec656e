//! The headless CLI end to end, on the bundled sample and on small projects written here: real
//! subprocesses, real files, the solver's numbers checked.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tandem(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("TANDEM_HOME", home).env_remove("TANDEM_THEME");
    c
}

fn run_ok(c: &mut Command) -> Output {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{:?} failed: {}\n{}",
        c,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn json_lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn end_record(o: &Output) -> Value {
    json_lines(o)
        .into_iter()
        .find(|v| v["event"] == "end")
        .expect("an end event")["run"]
        .clone()
}

fn output_dir(home: &Path, run: &Value, phase: usize) -> PathBuf {
    home.join("store").join(
        run["phases"][phase]["output"]
            .as_str()
            .unwrap()
            .trim_end_matches('/'),
    )
}

fn read_csv(p: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn sample_pipeline_end_to_end_with_checked_numbers() {
    let home = tempfile::tempdir().unwrap();
    let o = run_ok(tandem(home.path()).args(["run", "--json"]));
    let run = end_record(&o);
    assert_eq!(run["state"], "succeeded", "{run}");
    let events = json_lines(&o);
    assert!(events
        .iter()
        .any(|e| e["phase"] == "solve" && e["state"] == "running"));

    // phase 1: the counts add up, the conditions exist
    let pre = output_dir(home.path(), &run, 0);
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(pre.join("manifest.json")).unwrap()).unwrap();
    let c = &m["counts"];
    let sum = [
        "rows_kept",
        "dropped_missing",
        "dropped_malformed",
        "dropped_out_of_range",
    ]
    .iter()
    .map(|k| c[k].as_u64().unwrap())
    .sum::<u64>();
    assert_eq!(sum, c["rows_read"].as_u64().unwrap());
    assert!(c["clipped"].as_u64().unwrap() > 0);
    let boundary = read_csv(&pre.join("boundary.csv"));
    let bmax = boundary
        .iter()
        .map(|r| r[2].parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let bmin = boundary
        .iter()
        .map(|r| r[2].parse::<f64>().unwrap())
        .fold(f64::MAX, f64::min);
    let initial = read_csv(&pre.join("initial.csv"));
    let imax = initial
        .iter()
        .map(|r| r[2].parse::<f64>().unwrap())
        .fold(f64::MIN, f64::max);
    let imin = initial
        .iter()
        .map(|r| r[2].parse::<f64>().unwrap())
        .fold(f64::MAX, f64::min);

    // phase 2: snapshots and series
    let sol = output_dir(home.path(), &run, 1);
    let mut snaps: Vec<_> = std::fs::read_dir(sol.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    snaps.sort();
    assert_eq!(snaps.len(), 12);
    let last = tandem::plot::read_field(snaps.last().unwrap()).unwrap();
    assert_eq!((last.rows, last.cols), (224, 224));
    // maximum principle: with fixed edges the field stays within the data's extremes
    let (lo, hi) = tandem::plot::finite_range(&last.data).unwrap();
    assert!(
        hi <= bmax.max(imax) + 1e-9 && lo >= bmin.min(imin) - 1e-9,
        "field [{lo}, {hi}] outside [{}, {}]",
        bmin.min(imin),
        bmax.max(imax)
    );
    // the series' last energy is the mean of the last snapshot
    let series = tandem::plot::read_series(&sol.join("series.csv")).unwrap();
    let e = series.column("total_energy").unwrap();
    let mean = last.data.iter().sum::<f64>() / last.data.len() as f64;
    assert!(
        (e[e.len() - 1] - mean).abs() < 1e-6 * mean,
        "{} vs {mean}",
        e[e.len() - 1]
    );
    // hot edges warm a cooler plate: energy rises, and the residual falls as it settles
    assert!(e[e.len() - 1] > e[0]);
    let r = series.column("residual").unwrap();
    assert!(r[r.len() - 1] < r[1]);

    // the journal, logs, listing and the solve phase alone on the last handoff
    let runs: Value =
        serde_json::from_slice(&run_ok(tandem(home.path()).args(["runs", "--json"])).stdout)
            .unwrap();
    assert_eq!(runs[0]["id"], run["id"]);
    let logs = run_ok(tandem(home.path()).args(["logs", run["id"].as_str().unwrap()]));
    assert!(String::from_utf8_lossy(&logs.stdout).contains("heat2d: done"));
    // each phase wrote its manifest next to its outputs; `runs show` prints them
    let shown: Value = serde_json::from_slice(
        &run_ok(tandem(home.path()).args(["runs", "show", run["id"].as_str().unwrap(), "--json"]))
            .stdout,
    )
    .unwrap();
    let phases = shown["phases"].as_array().unwrap();
    assert_eq!(phases.len(), 2);
    for (i, m) in phases.iter().enumerate() {
        assert_eq!(m["run"], run["id"]);
        assert_eq!(m["state"], "succeeded");
        assert_eq!(m["project_hash"], run["project_hash"]);
        assert_eq!(m["tandem_version"], env!("CARGO_PKG_VERSION"));
        assert!(m["started"].is_string() && m["ended"].is_string(), "{m:#}");
        assert!(!m["command"].as_array().unwrap().is_empty());
        assert!(output_dir(home.path(), &run, i)
            .join("tandem-manifest.json")
            .is_file());
    }
    // phase 1 read the 4 raw files, phase 2 the handoff
    assert_eq!(
        phases[0]["inputs"].as_array().unwrap().len(),
        4,
        "{:#}",
        phases[0]
    );
    assert!(phases[1]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["key"].as_str().unwrap().ends_with("/boundary.csv")));
    let ls: Value = serde_json::from_slice(
        &run_ok(tandem(home.path()).args(["ls", "local://lake/heat-diffusion/raw/", "--json"]))
            .stdout,
    )
    .unwrap();
    assert_eq!(ls.as_array().unwrap().len(), 4);
    let solo = end_record(&run_ok(
        tandem(home.path()).args(["run", "--phase", "solve", "--json"]),
    ));
    assert_eq!(solo["state"], "succeeded");
    assert_eq!(solo["phases"].as_array().unwrap().len(), 1);
    assert_eq!(
        solo["phases"][0]["input"].as_str().unwrap(),
        pre.to_str().unwrap()
    );

    // export a plot
    let png = home.path().join("field.png");
    run_ok(tandem(home.path()).args([
        "plot",
        snaps.last().unwrap().to_str().unwrap(),
        "--out",
        png.to_str().unwrap(),
    ]));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    // a snapshot picked from the directory (and a glob), by index from either end
    let dir = snaps.last().unwrap().parent().unwrap();
    let svg = home.path().join("first.svg");
    let out = run_ok(tandem(home.path()).args([
        "plot",
        dir.to_str().unwrap(),
        "--snapshot",
        "0",
        "--out",
        svg.to_str().unwrap(),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.to_string().contains("field_000"), "{v}");
    let glob = format!("{}/field_*.npy", dir.display());
    let out = run_ok(tandem(home.path()).args([
        "plot",
        &glob,
        "--snapshot",
        "-2",
        "--out",
        svg.to_str().unwrap(),
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second_last = snaps[snaps.len() - 2]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert!(v.to_string().contains(second_last), "{v}");
    let bad = tandem(home.path())
        .args([
            "plot",
            &glob,
            "--snapshot",
            "99",
            "--out",
            svg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--snapshot 99"));
}

fn write_project(dir: &Path, pre: &str, solve: &str) -> PathBuf {
    let p = dir.join("tandem.toml");
    std::fs::write(
        &p,
        format!(
            "[project]\nname = \"t\"\n[storage]\nroot = \"lake/t\"\n[targets.local]\nkind = \"local\"\nstore_dir = \"store\"\n\
             [phases.preprocess]\nengine = \"ray\"\noutput = \"runs/{{run}}/pre\"\nlocal = {{ command = [\"sh\", \"-c\", {pre:?}], grace_seconds = 1 }}\n\
             [phases.solve]\nengine = \"slurm\"\ninputs = [\"handoff\"]\noutput = \"runs/{{run}}/solve\"\nlocal = {{ command = [\"sh\", \"-c\", {solve:?}] }}\n\
             [handoff]\nfrom = \"preprocess\"\nto = \"solve\"\n"
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_failing_phase_stops_the_chain_with_its_error() {
    let home = tempfile::tempdir().unwrap();
    let p = write_project(
        home.path(),
        "touch \"$0\"/_SUCCESS",
        "echo working; echo 'boom: the mesh exploded' >&2; exit 7",
    );
    // `$0` is the first argument after the script for sh -c: pass the output dir
    let src = std::fs::read_to_string(&p).unwrap().replace(
        "\"touch \\\"$0\\\"/_SUCCESS\"]",
        "\"touch \\\"$0\\\"/_SUCCESS\", \"{output}\"]",
    );
    std::fs::write(&p, src).unwrap();
    let o = tandem(home.path())
        .args(["run", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let run = end_record(&o);
    assert_eq!(run["phases"][0]["state"], "succeeded", "{run}");
    assert_eq!(run["phases"][1]["state"], "failed");
    assert_eq!(run["phases"][1]["exit_code"], 7);
    assert_eq!(run["phases"][1]["message"], "boom: the mesh exploded");
    // the store was the project's own store_dir
    assert!(home.path().join("store/lake/t/runs").is_dir());
}

#[test]
fn solve_waits_for_a_complete_handoff() {
    let home = tempfile::tempdir().unwrap();
    let p = write_project(home.path(), "echo forgot the marker", "echo should not run");
    let o = tandem(home.path())
        .args(["run", p.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let run = end_record(&o);
    assert_eq!(run["phases"][1]["state"], "failed");
    assert!(
        run["phases"][1]["message"]
            .as_str()
            .unwrap()
            .contains("handoff incomplete: _SUCCESS missing"),
        "{run}"
    );
    assert!(run["phases"][1]["started"].is_string());
}

#[test]
fn ctrl_c_cancels_the_running_phase() {
    let home = tempfile::tempdir().unwrap();
    let p = write_project(home.path(), "trap '' TERM; sleep 60", "true");
    let child = tandem(home.path())
        .args(["run", p.to_str().unwrap(), "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait until the phase runs: another tandem reading the journal sees it running (the pid is
    // journalled), not lost
    let journal = tandem::pipeline::Journal::new(home.path());
    let t0 = std::time::Instant::now();
    while !journal
        .load()
        .unwrap()
        .runs
        .first()
        .is_some_and(|r| r.phases[0].state == tandem::pipeline::RunState::Running)
    {
        assert!(t0.elapsed().as_secs() < 30, "the phase never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let runs: Value =
        serde_json::from_slice(&run_ok(tandem(home.path()).args(["runs", "--json"])).stdout)
            .unwrap();
    assert_eq!(runs[0]["phases"][0]["state"], "running", "{runs}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    let run = end_record(&o);
    assert_eq!(run["phases"][0]["state"], "cancelled", "{run}");
    assert_eq!(run["phases"][1]["state"], "cancelled");
    let pid = run["phases"][0]["pid"].as_u64().unwrap() as u32;
    assert!(
        !tandem::pipeline::journal::pid_alive(pid),
        "the SIGTERM-ignoring phase survived"
    );
}

#[test]
fn bad_input_exits_2_with_file_line_and_column() {
    let home = tempfile::tempdir().unwrap();
    let bad = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/projects/invalid/bad-engine.toml");
    for args in [vec!["check"], vec!["run"]] {
        let o = tandem(home.path()).args(&args).arg(&bad).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(
                "bad-engine.toml:15:10: `phases.preprocess.engine`: unknown variant `spark`"
            ),
            "{err}"
        );
    }
    let o = tandem(home.path())
        .args(["check", "--json"])
        .arg(&bad)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["line"].as_u64(), v["col"].as_u64()),
        (Some(15), Some(10))
    );
    // unknown run, refused key, bad plot output, unknown flag
    for args in [
        &["logs", "nope"][..],
        &["ls", "local://lake/../etc"],
        &["plot", "x.npy", "--out", "x.jpg"],
        &["--no-such-flag"],
    ] {
        let code = tandem(home.path())
            .args(args)
            .output()
            .unwrap()
            .status
            .code();
        assert_eq!(code, Some(2), "{args:?}");
    }
}

#[test]
fn dry_run_prints_every_request_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-projects/heat-diffusion");
    let proj = dir.path().join("p");
    for sub in ["", "slurm", "ray"] {
        std::fs::create_dir_all(proj.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), proj.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    let mut toml = std::fs::read_to_string(proj.join("tandem.toml")).unwrap();
    // a HyperPod-like target: Slurm and the Ray dashboard both reached over SSM on one head node
    toml.push_str(
        r#"
[targets.aws]
kind = "slurm"
transport = "ssm"
instance_id = "sagemaker-cluster:abc123_controller-i-0123456789abcdef0"
user = "ubuntu"
region = "us-east-1"
work_dir = "/fsx/tandem"
ray_dashboard = "http://127.0.0.1:8265"
ray_reach = "transport"
ray_temp_dir = "/tmp/ray"

[targets.direct]
kind = "slurm"
transport = "local"
work_dir = "/tmp/tandem-dry"
ray_dashboard = "http://127.0.0.1:1"
"#,
    );
    std::fs::write(proj.join("tandem.toml"), toml).unwrap();
    let home = dir.path().join("home");
    let o = run_ok(
        tandem(&home)
            .arg("run")
            .arg(proj.join("tandem.toml"))
            .args(["--target", "aws", "--dry-run", "--json"]),
    );
    let steps: Value = serde_json::from_slice(&o.stdout).unwrap();
    let steps = steps.as_array().unwrap();
    assert_eq!(steps.len(), 2, "{steps:#?}");
    assert_eq!(steps[0]["engine"], "ray");
    // the Ray submission travels as curl inside an SSM command, as the user
    let send = &steps[0]["requests"][0];
    assert_eq!(send["api"], "ssm:SendCommand", "{send:#}");
    let cmd = send["Parameters"]["commands"][0].as_str().unwrap();
    assert!(cmd.starts_with("runuser -l ubuntu -c "), "{cmd}");
    assert!(cmd.contains("/api/jobs/") && cmd.contains("curl"), "{cmd}");
    assert!(
        cmd.contains("tandem-") && cmd.contains("-preprocess"),
        "{cmd}"
    );
    let solve = &steps[1];
    assert_eq!(solve["engine"], "slurm");
    let req = &solve["requests"][0];
    assert_eq!(
        req["InstanceIds"][0],
        "sagemaker-cluster:abc123_controller-i-0123456789abcdef0"
    );
    let script = req["script"].as_str().unwrap();
    assert!(
        script.contains("sbatch") && script.contains("/fsx/tandem/"),
        "{script}"
    );
    assert!(
        req["batch_script"].as_str().unwrap().contains("#SBATCH")
            || req["batch_script"].as_str().unwrap().contains("heat"),
        "{req:#}"
    );

    // directly reached Ray: the POST body and the working_dir package, nothing sent (port 1 is
    // closed, and the dry run succeeds anyway)
    let o = run_ok(
        tandem(&home)
            .arg("run")
            .arg(proj.join("tandem.toml"))
            .args(["--target", "direct", "--dry-run", "--json"]),
    );
    let steps: Value = serde_json::from_slice(&o.stdout).unwrap();
    let reqs = &steps[0]["requests"];
    assert_eq!(reqs[0]["method"], "PUT", "{reqs:#}");
    assert!(reqs[0]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(reqs[1]["method"], "POST");
    assert_eq!(reqs[1]["url"], "http://127.0.0.1:1/api/jobs/");
    assert_eq!(
        reqs[1]["body"]["runtime_env"]["working_dir"], reqs[0]["uri"],
        "{reqs:#}"
    );
    assert_eq!(steps[1]["requests"][0]["argv"][0], "sh");

    // the human form shows the scripts as they would run
    let o = run_ok(
        tandem(&home)
            .arg("run")
            .arg(proj.join("tandem.toml"))
            .args(["--target", "aws", "--dry-run"]),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("dry run: nothing is sent"), "{text}");
    assert!(text.contains("--- batch script\n"), "{text}");

    // nothing was journalled, written or run
    let runs = run_ok(tandem(&home).args(["runs", "--json"]));
    assert_eq!(
        serde_json::from_slice::<Value>(&runs.stdout).unwrap(),
        Value::Array(vec![])
    );
    assert!(!home.join("runs").exists());
    assert!(!Path::new("/tmp/tandem-dry").exists());
}

#[test]
fn metrics_add_writes_the_query_into_the_project_file() {
    let home = tempfile::tempdir().unwrap();
    let p = write_project(home.path(), "true", "true");
    let add = |extra: &[&str]| {
        let mut c = tandem(home.path());
        c.args([
            "metrics",
            "--project",
            p.to_str().unwrap(),
            "--target",
            "local",
        ])
        .args(extra);
        c.output().unwrap()
    };
    let args = [
        "--add",
        "Solver/Residual",
        "--dimension",
        "Run=r1",
        "--stat",
        "Maximum",
        "--json",
    ];
    let o = add(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["added"].as_u64(), v["metrics"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(v["query"]["dimensions"][0][1], "r1");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains("[[targets.local.metrics]]"), "{text}");
    assert!(text.contains("namespace = \"Solver\""), "{text}");
    assert!(text.contains("stat = \"Maximum\""), "{text}");
    // again: nothing new
    let v: Value = serde_json::from_slice(&add(&args).stdout).unwrap();
    assert_eq!(v["added"].as_u64(), Some(0));
    // bad input: exit 2, what and where
    let o = add(&["--add", "CPUUtilization"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected NAMESPACE/NAME"));
    let o = add(&[
        "--add",
        "AWS/EC2/CPUUtilization",
        "--dimension",
        "InstanceId",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dimension InstanceId"));
}

#[test]
fn plot_reads_csv_matrices_slices_and_a_fixed_range() {
    let home = tempfile::tempdir().unwrap();
    let d = home.path();
    let m = d.join("m.csv");
    let rows: Vec<String> = (0..20)
        .map(|r| {
            (0..30)
                .map(|c| ((r * 30 + c) as f64 / 10.0).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&m, rows.join("\n")).unwrap();
    let plot = |args: &[&str]| {
        let mut c = tandem(d);
        c.arg("plot").arg(&m).args(args);
        c.output().unwrap()
    };
    let png = d.join("h.png");
    let o = plot(&[
        "--kind",
        "heatmap",
        "--range",
        "-5,100",
        "--out",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    let svg = d.join("s.svg");
    let o = plot(&[
        "--kind",
        "slice",
        "--row",
        "3",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<polyline"), "a line was drawn");
    // bad input: what and where, exit 2
    let o = plot(&[
        "--kind",
        "slice",
        "--row",
        "20",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("row 20 is outside the field (0..20)"));
    let o = plot(&[
        "--kind",
        "heatmap",
        "--range",
        "5,1",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("LOW < HIGH"));
    std::fs::write(&m, "1,2,3\n4,5\n").unwrap();
    let o = plot(&["--kind", "heatmap", "--out", png.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("m.csv: line 2: 2 values, expected 3"), "{e}");
}

/// `--compare`: two fields side by side on one colour scale, their difference, and two series
/// overlaid; fields of different shapes give no difference (exit 2, saying so).
#[test]
fn plot_compares_two_files_side_by_side_as_a_difference_and_overlaid() {
    let home = tempfile::tempdir().unwrap();
    let d = home.path();
    let matrix = |name: &str, v: f64, cols: usize| {
        let row = vec![v.to_string(); cols].join(",");
        std::fs::write(d.join(name), vec![row; 10].join("\n")).unwrap();
    };
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::create_dir_all(d.join("b")).unwrap();
    matrix("a/f.csv", 0.0, 12);
    matrix("b/f.csv", 1.0, 12);
    matrix("b/g.csv", 1.0, 7);
    let png = d.join("c.png");
    let plot = |args: &[&str]| {
        let mut c = tandem(d);
        c.arg("plot").args(args).current_dir(d);
        c.output().unwrap()
    };
    let o = plot(&[
        "a/f.csv",
        "--kind",
        "heatmap",
        "--compare",
        "b/f.csv",
        "--cmap",
        "viridis",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // one scale for both: the zeros (left panel) at the dark end, the ones (right) at the bright end
    let img = image::open(&png).unwrap().to_rgb8();
    let luma = |x: u32| {
        let p = img.get_pixel(x, 420);
        p[0] as u32 + p[1] as u32 + p[2] as u32
    };
    let (left, right) = (luma(280), luma(800));
    assert!(left < 200 && right > 400, "left {left} right {right}");
    // the difference: 0 - 1 everywhere, the cold end of coolwarm
    let o = plot(&[
        "a/f.csv",
        "--kind",
        "heatmap",
        "--compare",
        "b/f.csv",
        "--diff",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let img = image::open(&png).unwrap().to_rgb8();
    let p = img.get_pixel(500, 420);
    assert!(p[2] > p[0], "blue, not red: {p:?}");
    let o = plot(&[
        "a/f.csv",
        "--kind",
        "heatmap",
        "--compare",
        "b/g.csv",
        "--diff",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("differ in shape"), "{e}");
    // series overlaid, each labelled with what tells the files apart
    std::fs::write(d.join("a/s.csv"), "t,v\n0,1\n1,2\n2,3\n").unwrap();
    std::fs::write(d.join("b/s.csv"), "t,v\n0,3\n1,2\n2,1\n").unwrap();
    let svg = d.join("s.svg");
    let o = plot(&[
        "a/s.csv",
        "--compare",
        "b/s.csv",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    // one colour a run (the first two of the palette)
    assert!(
        text.contains("#1F77B4") && text.contains("#D62728"),
        "{text}"
    );
    // three runs' series overlaid; fields compare two only
    std::fs::create_dir_all(d.join("c")).unwrap();
    std::fs::write(d.join("c/s.csv"), "t,v\n0,2\n1,2\n2,2\n").unwrap();
    let o = plot(&[
        "a/s.csv",
        "--compare",
        "b/s.csv",
        "--compare",
        "c/s.csv",
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("v · c/s.csv") && text.contains("#2CA02C"));
    let o = plot(&[
        "a/f.csv",
        "--kind",
        "heatmap",
        "--compare",
        "b/f.csv",
        "--compare",
        "b/f.csv",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give one --compare"));
    assert!(text.contains("v · a/s.csv") && text.contains("v · b/s.csv"));
}

/// Two runs of the sample, the second with the solver's grid changed: `runs diff` names the
/// changed word of the command, the inputs read by both (the same raw data, the same ETags), and
/// the last values of the series side by side.
#[test]
fn runs_diff_names_what_changed_between_two_runs() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let proj = d.path().join("p");
    std::fs::create_dir_all(&proj).unwrap();
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-projects/heat-diffusion/tandem.toml"),
    )
    .unwrap();
    let file = proj.join("tandem.toml");
    std::fs::write(&file, &sample).unwrap();
    let a = end_record(&run_ok(tandem(&home).arg("run").arg(&file).arg("--json")));
    std::fs::write(
        &file,
        sample.replace("\"--nx\", \"224\"", "\"--nx\", \"160\""),
    )
    .unwrap();
    let b = end_record(&run_ok(tandem(&home).arg("run").arg(&file).arg("--json")));
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let o = run_ok(tandem(&home).args(["runs", "diff", a, b, "--json"]));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["project"]["is"], "changed", "{v:#}");
    let keys = v["project"]["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:#?}");
    assert_eq!(keys[0]["key"], "phases.solve.local.command[8]");
    assert_eq!(
        (keys[0]["a"].as_str(), keys[0]["b"].as_str()),
        (Some("\"224\""), Some("\"160\""))
    );
    // preprocess read the same raw files in both runs; solve read each run's own handoff,
    // compared by key below it and by ETag
    let pre = &v["phases"][0]["inputs"];
    assert_eq!(
        (
            pre["same"].as_u64(),
            pre["changed"].as_array().unwrap().len()
        ),
        (Some(4), 0),
        "{pre:#}"
    );
    let solve = &v["phases"][1]["inputs"];
    assert!(solve["same"].as_u64().unwrap() >= 3, "{solve:#}");
    // the series' last values differ with the grid
    let series = v["series"].as_array().unwrap();
    let peak = series
        .iter()
        .find(|s| s["column"] == "max_temperature")
        .expect("the peak temperature's last value");
    assert!(
        peak["a"].as_f64().is_some() && peak["a"] != peak["b"],
        "{peak:#}"
    );
    // and as text
    let o = run_ok(tandem(&home).args(["runs", "diff", a, b]));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("phases.solve.local.command[8]"), "{text}");
    assert!(text.contains("inputs: 4 the same, 0 changed"), "{text}");
}

/// `--reuse`: phases whose section, inputs (by content) and version match an earlier succeeded
/// run use its outputs; a changed key reruns its phase (and says which); a file touched but not
/// changed is still the same input; a changed one reruns the phase reading it.
#[test]
fn reuse_skips_what_did_not_change_and_says_why_the_rest_ran() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path().join("home");
    let proj = d.path().join("p");
    std::fs::create_dir_all(&proj).unwrap();
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-projects/heat-diffusion/tandem.toml"),
    )
    .unwrap();
    let file = proj.join("tandem.toml");
    std::fs::write(&file, &sample).unwrap();
    let run = |reuse: bool| {
        let mut c = tandem(&home);
        c.arg("run").arg(&file).arg("--json");
        if reuse {
            c.arg("--reuse");
        }
        end_record(&run_ok(&mut c))
    };
    let first = run(false);
    let first_id = first["id"].as_str().unwrap().to_string();
    // nothing changed: both phases are the first run's
    let again = run(true);
    for i in 0..2 {
        let p = &again["phases"][i];
        assert_eq!(p["reuse"]["is"], "reuse", "{p:#}");
        assert_eq!(p["reuse"]["run"], first_id.as_str());
        assert_eq!(p["output"], first["phases"][i]["output"], "{p:#}");
        assert!(
            p["message"].as_str().unwrap().contains("reused run"),
            "{p:#}"
        );
    }
    // the solver's grid changed: preprocess reused, solve runs and says why
    std::fs::write(
        &file,
        sample.replace("\"--nx\", \"224\"", "\"--nx\", \"160\""),
    )
    .unwrap();
    let changed = run(true);
    assert_eq!(changed["phases"][0]["reuse"]["is"], "reuse");
    let why = changed["phases"][1]["reuse"]["why"].as_str().unwrap();
    assert_eq!(changed["phases"][1]["reuse"]["is"], "run");
    assert!(
        why.contains("phases.solve.local.command[8]") && why.contains("\"224\" → \"160\""),
        "{why}"
    );
    assert_eq!(changed["phases"][1]["state"], "succeeded");
    // a raw file touched, not changed: still the same input
    let raw = home.join("store/lake/heat-diffusion/raw");
    let f = std::fs::read_dir(&raw)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&f).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    std::fs::write(&f, &bytes).unwrap();
    let touched = run(true);
    assert_eq!(touched["phases"][0]["reuse"]["is"], "reuse", "{touched:#}");
    // a raw file changed: preprocess runs again
    let mut changed_bytes = bytes.clone();
    changed_bytes.extend_from_slice(b"2026-01-01T00:00:00Z,s999,0.5,0.5,21.0\n");
    std::fs::write(&f, &changed_bytes).unwrap();
    let rerun = run(true);
    let why = rerun["phases"][0]["reuse"]["why"].as_str().unwrap();
    assert!(
        why.contains("inputs: the content of some of the 4 objects changed"),
        "{why}"
    );
    // --no-reuse runs everything
    let o = run_ok(
        tandem(&home)
            .arg("run")
            .arg(&file)
            .args(["--json", "--no-reuse"]),
    );
    let all = end_record(&o);
    assert!(all["phases"][0]["reuse"].is_null(), "{all:#}");
}
