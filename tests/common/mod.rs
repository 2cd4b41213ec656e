//! One fixture state that the update and view tests share.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use tandem::app::state::*;
use tandem::observe::logbuf::LogLine;
use tandem::pipeline::runner::MetricSample;
use tandem::pipeline::{PhaseRun, Run, RunState};
use tandem::plot::load::PlotData;
use tandem::plot::Field;
use tandem::project::PhaseId;
use tandem::storage::preview::Preview;
use tandem::theme::Theme;

pub fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, h, m, s).unwrap()
}

pub fn project() -> tandem::project::Project {
    tandem::project::load(&tandem::project::sample_project_path()).unwrap()
}

pub fn phase(
    p: PhaseId,
    state: RunState,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> PhaseRun {
    PhaseRun {
        phase: p,
        state,
        placement: tandem::pipeline::Placement::Local,
        output: format!(
            "lake/heat-diffusion/runs/20261125-115900-abcd/{}/",
            if p == PhaseId::Preprocess {
                "prepared"
            } else {
                "solution"
            }
        ),
        input: None,
        command: vec![],
        pid: None,
        pid_start: None,
        engine_id: None,
        started: start,
        ended: end,
        exit_code: if state == RunState::Succeeded {
            Some(0)
        } else {
            None
        },
        message: None,
        elements: vec![],
        attempts: vec![],
        reuse: None,
    }
}

pub fn run(id: &str, pre: RunState, solve: RunState) -> Run {
    let mut r = Run {
        id: id.into(),
        project: "heat-diffusion".into(),
        project_file: "tandem.toml".into(),
        project_hash: "0".into(),
        target: "local".into(),
        created: t(11, 59, 0),
        state: RunState::Pending,
        phases: vec![
            phase(
                PhaseId::Preprocess,
                pre,
                Some(t(11, 59, 0)),
                (pre.is_terminal()).then(|| t(11, 59, 2)),
            ),
            phase(
                PhaseId::Solve,
                solve,
                (solve != RunState::Pending).then(|| t(11, 59, 3)),
                solve.is_terminal().then(|| t(11, 59, 40)),
            ),
        ],
        tandem_version: "0.1.0".into(),
        reuse: false,
    };
    r.derive_state();
    r
}

pub fn field(n: usize) -> Field {
    Field {
        rows: n,
        cols: n,
        data: (0..n * n)
            .map(|i| (i % n) as f64 + (i / n) as f64 * 0.5)
            .collect(),
    }
}

/// A state in the middle of a pipeline: preprocess done, solve running, logs and metrics flowing.
pub fn state() -> AppState {
    let mut s = AppState::new(
        Ok(project()),
        "local".into(),
        "local:/data/tandem/store".into(),
        Theme::embedded("dark"),
        t(12, 0, 0),
    );
    s.now = t(11, 59, 30);
    let r = run(
        "20261125-115900-abcd",
        RunState::Succeeded,
        RunState::Running,
    );
    let old = run(
        "20261124-090000-0001",
        RunState::Succeeded,
        RunState::Failed,
    );
    s.current = Some(r.id.clone());
    s.runs = vec![r.clone(), old];
    s.runs[1].phases[1].message = Some("heat2d: no `left` edge samples".into());
    s.logs.run_id = Some(r.id.clone());
    let lines = [
        (PhaseId::Preprocess, false, "preprocess: 4 input files in /data/store/lake/heat-diffusion/raw"),
        (PhaseId::Preprocess, false, "preprocess: read 75594 rows, kept 74427, dropped 766 missing / 170 malformed / 231 out of range, clipped 224"),
        (PhaseId::Preprocess, false, "preprocess: 96 boundary and 96 interior sensors"),
        (PhaseId::Solve, false, "heat2d: 192x192 grid, alpha 1, t_end 0.02, edges Dirichlet"),
        (PhaseId::Solve, true, "warning: \\e[31mcolour\\e[0m from a hostile log, shown escaped"),
        (PhaseId::Solve, false, "heat2d: step 1400 t=0.00854 residual=2.113e3 energy=34.1182 max=93.807"),
    ];
    for (p, e, text) in lines {
        s.logs.buf.push(LogLine {
            phase: p,
            stderr: e,
            element: None,
            text: text.into(),
            look: None,
            at: 1_795_607_940_000 + s.logs.buf.len() as i64 * 250,
            tag: None,
        });
    }
    s.metrics.run_id = Some(r.id.clone());
    for i in 0..20u32 {
        let p = if i < 3 {
            PhaseId::Preprocess
        } else {
            PhaseId::Solve
        };
        let at = t(11, 59, i);
        s.metrics.samples.push((
            p,
            MetricSample {
                at,
                t: f64::from(i),
                cpu_pct: if p == PhaseId::Solve {
                    150.0 + f64::from(i % 5) * 10.0
                } else {
                    90.0
                },
                rss_bytes: (20 + u64::from(i)) << 20,
                procs: 1,
            },
        ));
    }
    s.datasets.bucket = Some("lake".into());
    s.datasets.prefix = "heat-diffusion/raw/".into();
    for i in 0..4 {
        s.datasets.rows.push(DsRow {
            size: Some(1_000_000 + i),
            modified: Some(t(11, 50, 0)),
            class: Some("STANDARD".into()),
            etag: Some(ETag::parse(&format!(
                "\"9b2cf535f27731c974343645a398{i:04}\""
            ))),
            ..DsRow::new(
                RowKind::Object,
                format!("heat-diffusion/raw/part-000{i}.csv"),
                "heat-diffusion/raw/",
            )
        });
    }
    s.datasets.rows.insert(
        0,
        DsRow::new(
            RowKind::Prefix,
            "heat-diffusion/raw/archive/".into(),
            "heat-diffusion/raw/",
        ),
    );
    s.datasets.preview = Some((
        "heat-diffusion/raw/part-0000.csv".into(),
        Ok(Preview::Table {
            about: vec![],
            header: vec![
                "timestamp".into(),
                "sensor_id".into(),
                "x".into(),
                "y".into(),
                "temperature".into(),
            ],
            rows: vec![vec![
                "2025-11-25T16:00:00Z".into(),
                "s0001".into(),
                "0.000000".into(),
                "0.020833".into(),
                "80.2831".into(),
            ]],
            truncated: true,
        }),
    ));
    s.plots.run_id = Some(r.id.clone());
    s.plots.files = (0..12)
        .map(|i| format!("snapshots/field_{i:04}.npy"))
        .collect();
    s.plots.snapshot = 11;
    let f = field(48);
    s.plots.data = Some(PlotData::Field {
        stats: tandem::plot::FieldStats::of(&f),
        field: f,
        file: "snapshots/field_0011.npy".into(),
        about: None,
    });
    s
}

/// A copy of the bundled sample project (tandem.toml, ray/, slurm/) in `dir/heat-diffusion`, for
/// tests that append targets to it; returns that directory.
pub fn copy_sample(dir: &std::path::Path) -> std::path::PathBuf {
    let src =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-projects/heat-diffusion");
    let dst = dir.join("heat-diffusion");
    for sub in ["", "slurm", "ray"] {
        std::fs::create_dir_all(dst.join(sub)).unwrap();
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dst.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    dst
}

/// A two-phase project in `dir/proj` on the local target: preprocess runs `sh -c PREPROCESS`,
/// solve `sh -c SOLVE` (both may use `{output}`), with `solve_extra` appended to solve's local
/// section (`grace_seconds = 2`, say). Returns the project directory.
pub fn local_project(
    dir: &std::path::Path,
    name: &str,
    preprocess: &str,
    solve: &str,
    solve_extra: &str,
) -> std::path::PathBuf {
    let p = dir.join("proj");
    std::fs::create_dir_all(&p).unwrap();
    let word = |s: &str| toml::Value::String(s.to_string()).to_string();
    std::fs::write(
        p.join("tandem.toml"),
        format!(
            r#"[project]
name = "{name}"

[storage]
root = "lake/{name}"

[datasets.raw]
path = "raw"
generate = {{ seed = 1, size_mb = 0.01, files = 1 }}

[phases.preprocess]
engine = "ray"
inputs = ["raw"]
output = "runs/{{run}}/prepared"

[phases.preprocess.local]
command = ["sh", "-c", {pre}]

[phases.solve]
engine = "slurm"
inputs = ["handoff"]
output = "runs/{{run}}/solution"

[phases.solve.local]
command = ["sh", "-c", {sol}]
{solve_extra}

[handoff]
from = "preprocess"
to = "solve"
"#,
            pre = word(preprocess),
            sol = word(solve),
        ),
    )
    .unwrap();
    p
}
