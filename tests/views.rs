//! Every view drawn from one fixture state at 80x24 and 200x60 into ratatui's TestBackend, compared
//! with stored snapshots (insta), plus style checks where colour carries meaning.

mod common;

use ratatui::backend::TestBackend;
use ratatui::style::Color;
use ratatui::Terminal;
use tandem::app::state::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];

fn render(s: &AppState, w: u16, h: u16) -> Terminal<TestBackend> {
    // the Runs view shows local times: pin the zone so snapshots do not depend on the machine
    std::env::set_var("TZ", "UTC");
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut s = s.clone();
    s.size = (w, h);
    term.draw(|f| tandem::views::draw(f, &s)).unwrap();
    term
}

fn snap(name: &str, s: &AppState) {
    for (w, h) in SIZES {
        let term = render(s, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend().to_string());
    }
}

fn with_view(v: View) -> AppState {
    let mut s = common::state();
    s.view = v;
    s
}

#[test]
fn pipeline() {
    snap("pipeline", &with_view(View::Pipeline));
}

#[test]
fn pipeline_before_any_run() {
    let mut s = with_view(View::Pipeline);
    s.runs.clear();
    s.current = None;
    s.logs = LogsState::default();
    s.metrics = MetricsState::default();
    snap("pipeline_empty", &s);
}

#[test]
fn datasets() {
    snap("datasets", &with_view(View::Datasets));
}

#[test]
fn transfers() {
    use tandem::app::transfers::*;
    let mut s = with_view(View::Transfers);
    let spec = |dir, key: &str, local: &str| TransferSpec {
        dir,
        bucket: "lake".into(),
        key: key.into(),
        local: local.into(),
        recursive: key.ends_with('/'),
        overwrite: false,
        sync: false,
    };
    let p = |done: u64, total: u64, ms: u64| TransferProgress {
        done,
        total,
        files_done: 3,
        files_total: 8,
        elapsed_ms: ms,
    };
    s.transfers.list = vec![
        Transfer {
            id: 0,
            spec: spec(Direction::Down, "heat-diffusion/raw/", "/home/r/data"),
            state: TransferState::Running,
            progress: p(3 << 28, 1 << 30, 4000),
        },
        Transfer {
            id: 1,
            spec: spec(Direction::Up, "results/", "/home/r/out\u{1b}]0;pwned\u{7}"),
            state: TransferState::Done,
            progress: p(5 << 20, 5 << 20, 900),
        },
        Transfer {
            id: 2,
            spec: spec(Direction::Down, "big.npy", "/home/r/"),
            state: TransferState::Failed(
                "lake/big.npy: cannot reach S3 (connection refused)".into(),
            ),
            progress: p(1 << 20, 64 << 20, 2000),
        },
    ];
    s.transfers.selected = 2;
    snap("transfers", &s);
    s.transfers.list.clear();
    snap("transfers_empty", &s);
}

#[test]
fn pipeline_names_the_slurm_job() {
    let mut s = with_view(View::Pipeline);
    let r = s
        .runs
        .iter_mut()
        .find(|r| Some(&r.id) == s.current.as_ref())
        .unwrap();
    let solve = r.phase_mut(tandem::project::PhaseId::Solve).unwrap();
    solve.placement = tandem::pipeline::Placement::Slurm {
        via: "ssh head".into(),
    };
    solve.engine_id = Some("4242".into());
    solve.message = Some("PENDING (Priority)".into());
    let term = render(&s, 200, 60);
    let text = term.backend().to_string();
    assert!(
        text.contains("2 solve · slurm via ssh head · job 4242"),
        "{text}"
    );
}

#[test]
fn jobs() {
    use tandem::engine::slurm::QueueJob;
    let mut s = with_view(View::Jobs);
    s.jobs.target = Some("hpc".into());
    s.jobs.api_calls = 42;
    s.jobs.jobs = (0..30)
        .map(|i| QueueJob {
            id: (1000 + i).to_string(),
            name: if i == 3 {
                "evil\u{1b}[2J".into()
            } else {
                format!("tandem-heat-diffusion-solve-{i}")
            },
            user: "researcher".into(),
            state: ["RUNNING", "PENDING", "COMPLETED", "FAILED"][i % 4].into(),
            reason: if i % 4 == 1 {
                "Priority".into()
            } else {
                "None".into()
            },
            elapsed_s: 61 * i as u64,
            nodes: 1 + (i % 3) as u32,
            partition: "compute".into(),
            stdout: None,
        })
        .collect();
    s.jobs.selected = 2;
    snap("jobs", &s);
    s.jobs.partitions = Some(vec![
        "PARTITION AVAIL TIMELIMIT NODES STATE NODELIST".into(),
        "compute* up infinite 4 idle node[1-4]".into(),
    ]);
    snap("jobs_partitions", &s);
    // Enter follows the selected job's log below the queue
    s.jobs.partitions = None;
    tandem::app::jobs::open_log(&mut s);
    let chunk = tandem::app::jobs::JobLogChunk {
        paths: ("/fsx/tandem/r/solve/slurm-1002.out".into(), "/fsx/tandem/r/solve/slurm-1002.err".into()),
        reading: Some(tandem::engine::joblog::Reading::Streamed("tail -F".into())),
        status: tandem::engine::slurm::JobStatus {
            job_id: "1002".into(),
            state: "RUNNING".into(),
            ..Default::default()
        },
        stdout: b"job 1002 on node1\nstep 10 residual 1.0e-3\nstep 20 \x1b]0;pwned\x07residual 5.0e-4\npartial li".to_vec(),
        stderr: b"warning: CFL close to 1\n".to_vec(),
    };
    tandem::app::jobs::on_log(&mut s, "1002".into(), Ok(chunk));
    let l = s.jobs.log.as_ref().unwrap();
    assert_eq!(l.offsets, (86, 24), "offsets advance by the bytes read");
    assert_eq!(l.lines.len(), 4, "the partial line waits for its newline");
    assert!(
        !l.lines.iter().any(|(_, t)| t.contains('\u{1b}')),
        "sanitised"
    );
    snap("jobs_log", &s);
}

#[test]
fn clusters() {
    use tandem::cluster::{Cluster, Discovery, InstanceGroup, Node};
    let mut s = with_view(View::Clusters);
    let node = |i: usize, g: &str, id: &str| Node {
        instance_id: format!("i-0{i:016x}"),
        group: g.into(),
        instance_type: "ml.c5.xlarge".into(),
        status: if i == 2 {
            "Pending".into()
        } else {
            "Running".into()
        },
        message: None,
        launch_time: Some("2026-11-20T08:00:00Z".into()),
        ssm_target: format!("sagemaker-cluster:{id}_{g}-i-0{i:016x}"),
    };
    let d = Discovery {
        clusters: vec![
            Cluster {
                name: "ray-train".into(),
                arn: "arn:aws:sagemaker:us-east-1:123456789012:cluster/a1b2c3d4e5f6".into(),
                id: "a1b2c3d4e5f6".into(),
                status: "InService".into(),
                created: Some("2026-11-20T07:55:00Z".into()),
                orchestrator: Some("slurm".into()),
                groups: vec![
                    InstanceGroup {
                        name: "controller".into(),
                        instance_type: "ml.t3.medium".into(),
                        current: 1,
                        target: 1,
                        threads_per_core: Some(1),
                        status: Some("InService".into()),
                    },
                    InstanceGroup {
                        name: "workers".into(),
                        instance_type: "ml.c5.xlarge".into(),
                        current: 3,
                        target: 4,
                        threads_per_core: Some(2),
                        status: Some("Updating".into()),
                    },
                ],
                nodes: std::iter::once(node(0, "controller", "a1b2c3d4e5f6"))
                    .chain((1..4).map(|i| node(i, "workers", "a1b2c3d4e5f6")))
                    .collect(),
                ..Default::default()
            },
            Cluster {
                name: "evil\u{1b}[2Jname".into(),
                status: "Failed".into(),
                error: Some("DescribeCluster evil: AccessDeniedException".into()),
                ..Default::default()
            },
        ],
        api_calls: 5,
    };
    tandem::app::clusters::on_loaded(&mut s, Ok(d));
    tandem::app::clusters::focus(&mut s, true);
    tandem::app::clusters::step(&mut s, &tandem::app::msg::Action::Down, 1);
    snap("clusters", &s);
}

#[test]
fn runs() {
    snap("runs", &with_view(View::Runs));
}

#[test]
fn logs() {
    snap("logs", &with_view(View::Logs));
}

#[test]
fn metrics() {
    snap("metrics", &with_view(View::Metrics));
}

#[test]
fn plots_heatmap() {
    snap("plots_heatmap", &with_view(View::Plots));
}

#[test]
fn plots_line() {
    let mut s = with_view(View::Plots);
    s.plots.plot = 2;
    let csv = "step,time,residual,total_energy,max_temperature\n0,0,0,25.5,67.3\n10,0.001,5e5,27.0,88.0\n20,0.002,2e5,28.1,91.0\n30,0.003,1e5,29.0,92.5\n";
    s.plots.data = Some(tandem::plot::load::PlotData::Series {
        series: std::sync::Arc::new(
            tandem::plot::read::parse_series(std::path::Path::new("series.csv"), csv.as_bytes())
                .unwrap(),
        ),
        file: "series.csv".into(),
    });
    snap("plots_line", &s);
}

#[test]
fn plots_compare_two_runs() {
    use tandem::plot::load::PlotData;
    let mut s = with_view(View::Plots);
    let fd = |n: usize, k: f64| {
        let mut f = common::field(n);
        f.data.iter_mut().for_each(|v| *v *= k);
        PlotData::Field {
            stats: tandem::plot::FieldStats::of(&f),
            field: f,
            file: "snapshots/field_0011.npy".into(),
            about: None,
        }
    };
    s.plots.data = Some(PlotData::Compare {
        a: Box::new(fd(48, 1.0)),
        b: Box::new(fd(48, 0.5)),
        other: "20261124-090000-0001".into(),
        more: vec![],
        elements: false,
    });
    snap("plots_compare_fields", &s);
    // d: the difference arrives as one field and is drawn on coolwarm, like its image
    s.plots.compare = Some("20261124-090000-0001".into());
    s.plots.diff = true;
    s.plots.data = Some(fd(48, 0.5));
    let term = render(&s, 80, 24);
    let buf = term.backend().buffer();
    let cell = (0..24)
        .flat_map(|y| (0..80).map(move |x| (x, y)))
        .map(|(x, y)| &buf[(x, y)])
        .find(|c| c.symbol() == "▀")
        .expect("a heatmap cell");
    let coolwarm: Vec<(u8, u8, u8)> = (0..=100)
        .map(|i| tandem::plot::colormap::color("coolwarm", i as f64 / 100.0))
        .collect();
    let ratatui::style::Color::Rgb(r, g, b) = cell.fg else {
        panic!("{:?}", cell.fg)
    };
    let near = |c: &(u8, u8, u8)| {
        (c.0 as i32 - r as i32).abs()
            + (c.1 as i32 - g as i32).abs()
            + (c.2 as i32 - b as i32).abs()
            < 12
    };
    assert!(
        coolwarm.iter().any(near),
        "({r}, {g}, {b}) is not on coolwarm"
    );
    s.plots.compare = None;
    s.plots.diff = false;
    // series: the other run's lines over this run's
    s.plots.plot = 2;
    let csv = |k: f64| {
        format!(
            "step,time,residual,total_energy,max_temperature\n0,0,0,25.5,67.3\n10,0.001,5e5,{},{}\n20,0.002,2e5,28.1,91.0\n",
            27.0 * k,
            88.0 * k
        )
    };
    let ser = |k: f64| PlotData::Series {
        series: std::sync::Arc::new(
            tandem::plot::read::parse_series(std::path::Path::new("series.csv"), csv(k).as_bytes())
                .unwrap(),
        ),
        file: "series.csv".into(),
    };
    s.plots.data = Some(PlotData::Compare {
        a: Box::new(ser(1.0)),
        b: Box::new(ser(0.9)),
        other: "20261124-090000-0001".into(),
        more: vec![],
        elements: false,
    });
    snap("plots_compare_series", &s);
}

#[test]
fn plots_slice() {
    let mut s = with_view(View::Plots);
    s.plots.plot = 1;
    s.plots.data = Some(tandem::plot::load::PlotData::Series {
        series: std::sync::Arc::new(common::field(48).slice(None, None).unwrap()),
        file: "snapshots/field_0011.npy · row 24 of 48x48".into(),
    });
    snap("plots_slice", &s);
}

#[test]
fn help_and_palette() {
    let mut s = with_view(View::Pipeline);
    s.popup = Some(Popup::Help);
    snap("help_pipeline", &s);
    s.popup = Some(Popup::Palette {
        query: "run".into(),
        selected: 1,
    });
    snap("palette", &s);
}

#[test]
fn project_error_panel() {
    let err = tandem::project::parse(
        std::path::Path::new("tandem.toml"),
        "[project]\nname = \"x\"\nnmae = 1\n",
    )
    .unwrap_err();
    let s = AppState::new(
        Err(err),
        "local".into(),
        String::new(),
        tandem::theme::Theme::embedded("dark"),
        common::t(12, 0, 0),
    );
    snap("project_error", &s);
}

/// States are coloured by role: a succeeded phase in `ok`, a running one in `running`.
#[test]
fn state_colours_come_from_the_theme() {
    let s = with_view(View::Pipeline);
    let term = render(&s, 120, 40);
    let buf = term.backend().buffer();
    let find = |word: &str| -> Color {
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if let Some(i) = line.find(word) {
                let col = line[..i].chars().count() as u16;
                return buf[(col, y)].fg;
            }
        }
        panic!("`{word}` not on screen");
    };
    assert_eq!(find("succeeded"), s.theme.ok);
    assert_eq!(find("running"), s.theme.running);
}

/// The heatmap paints cells in colour-map colours, hottest at the top right of this field.
#[test]
fn heatmap_cells_use_the_colour_map() {
    let s = with_view(View::Plots);
    let term = render(&s, 120, 40);
    let buf = term.backend().buffer();
    let rgb: Vec<(u16, u16, Color)> = (0..buf.area.height)
        .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
        .filter(|&(x, y)| buf[(x, y)].symbol() == "▀" && matches!(buf[(x, y)].fg, Color::Rgb(..)))
        .map(|(x, y)| (x, y, buf[(x, y)].fg))
        .collect();
    assert!(rgb.len() > 500, "{} coloured cells", rgb.len());
    let bright = |c: Color| match c {
        Color::Rgb(r, g, b) => u32::from(r) + u32::from(g) + u32::from(b),
        _ => 0,
    };
    let top = rgb
        .iter()
        .filter(|(_, y, _)| *y < 10)
        .map(|(_, _, c)| bright(*c))
        .max()
        .unwrap();
    let bottom = rgb
        .iter()
        .filter(|(_, y, _)| *y > 30)
        .map(|(_, _, c)| bright(*c))
        .min()
        .unwrap_or(u32::MAX);
    assert!(top > bottom, "y up: the field grows with y");
}

#[test]
fn light_and_high_contrast_themes_render() {
    for name in ["light", "high-contrast"] {
        let mut s = with_view(View::Pipeline);
        s.theme = tandem::theme::Theme::embedded(name);
        let term = render(&s, 80, 24);
        assert!(term.backend().to_string().contains("preprocess"));
    }
}

#[test]
fn clusters_ray() {
    use std::collections::BTreeMap;
    use tandem::engine::ray::{JobInfo, RayCluster, RayNode};
    let mut s = with_view(View::Clusters);
    s.clusters.ray_mode = true;
    let res = |cpu: f64, mem: f64| -> BTreeMap<String, f64> {
        [("CPU".to_string(), cpu), ("memory".to_string(), mem)].into()
    };
    let job =
        |id: &str, status: &str, run: Option<&str>, entry: &str, start: u64, end: Option<u64>| {
            JobInfo {
                submission_id: Some(id.into()),
                status: status.into(),
                entrypoint: entry.into(),
                start_time: Some(start),
                end_time: end,
                metadata: run.map(|r| [("tandem_run".to_string(), r.to_string())].into()),
                ..Default::default()
            }
        };
    let now = s.now.timestamp_millis() as u64;
    s.clusters.ray = Some(RayCluster {
        nodes: vec![
            RayNode {
                id: "9f8e7d6c5b4a39281706f5e4".into(),
                ip: "10.1.0.12".into(),
                head: true,
                state: "ALIVE".into(),
                resources: res(8.0, 32.0 * (1u64 << 30) as f64),
            },
            RayNode {
                id: "0a1b2c3d4e5f60718293a4b5".into(),
                ip: "10.1.0.13".into(),
                head: false,
                state: "DEAD".into(),
                resources: res(8.0, 32.0 * (1u64 << 30) as f64),
            },
        ],
        usage: [
            ("CPU".to_string(), (6.0, 8.0)),
            (
                "memory".to_string(),
                (4.0 * (1u64 << 30) as f64, 32.0 * (1u64 << 30) as f64),
            ),
            ("GPU".to_string(), (1.0, 1.0)),
        ]
        .into(),
        jobs: vec![
            job(
                "tandem-20261125-115900-abcd-preprocess",
                "RUNNING",
                Some("20261125-115900-abcd"),
                "python preprocess.py --input /fsx/raw",
                now - 95_000,
                None,
            ),
            job(
                "raysubmit_x1",
                "FAILED",
                None,
                "python bad.py \u{1b}]0;pwned\u{7}",
                now - 600_000,
                Some(now - 540_000),
            ),
            job(
                "tandem-20261124-090000-0001-preprocess",
                "SUCCEEDED",
                Some("20261124-090000-0001"),
                "python preprocess.py",
                now - 86_400_000,
                Some(now - 86_000_000),
            ),
        ],
    });
    s.clusters.ray_requests = 6;
    snap("clusters_ray", &s);
}

#[test]
fn logs_filtered_with_timestamps() {
    let mut s = with_view(View::Logs);
    tandem::app::logs::set_filter(&mut s, "!step".into());
    s.logs.stamps = true;
    snap("logs_filtered", &s);
}

#[test]
fn metrics_cloudwatch_with_run_events_and_cost() {
    let mut s = with_view(View::Metrics);
    s.metrics.cloud = true;
    let now = s.now.timestamp_millis();
    let wave = |f: &dyn Fn(f64) -> f64| -> Vec<(i64, f64)> {
        (0..60)
            .map(|i| (now - (60 - i) * 60_000, f(i as f64)))
            .collect()
    };
    s.metrics.cw = vec![
        tandem::observe::cloudwatch::Series {
            label: "CPU %".into(),
            points: wave(&|i| 40.0 + 30.0 * (i / 6.0).sin()),
            status: "Complete".into(),
        },
        tandem::observe::cloudwatch::Series {
            label: "net in B".into(),
            points: wave(&|i| 1.5e6 * i),
            status: "PartialData".into(),
        },
        tandem::observe::cloudwatch::Series {
            label: "GPU %".into(),
            points: vec![],
            status: "Complete".into(),
        },
    ];
    s.aws_rate = tandem::observe::cloudwatch::Rate {
        calls_per_min: 13,
        metrics_per_min: 6,
        usd_per_month: 8.21,
    };
    s.status = None;
    snap("metrics_cloudwatch", &s);
    let term = render(&s, 200, 60);
    let text = term.backend().to_string();
    assert!(text.contains("AWS 13 calls/min · ~$8.21/month"), "{text}");
}

#[test]
fn logs_merged_with_cloudwatch_streams() {
    let mut s = with_view(View::Logs);
    let at = s.logs.buf.iter().nth(3).map(|(_, l)| l.at).unwrap();
    let mut lines = Vec::new();
    for (i, (stream, text)) in [
        (
            "cw:pc-1/ip-10-0-0-1.slurmctld",
            "sched: Allocate JobId=7 NodeList=compute-1",
        ),
        (
            "cw:pc-1/compute-1.slurmd",
            "launch task StepId=7.0 request from UID 1000",
        ),
    ]
    .iter()
    .enumerate()
    {
        lines.push(tandem::observe::logbuf::LogLine {
            phase: tandem::project::PhaseId::Solve,
            stderr: false,
            element: None,
            text: (*text).into(),
            look: None,
            at: at + 1 + i as i64,
            tag: Some((*stream).into()),
        });
    }
    tandem::app::logs::ingest(&mut s, lines);
    s.logs.stamps = true;
    snap("logs_merged", &s);
}

#[test]
fn logs_cloudwatch_browser() {
    let mut s = with_view(View::Logs);
    let mut b = tandem::app::cloudwatch::Browse {
        group: Some("/aws/parallelcluster/pc-prod-202611".into()),
        list: tandem::app::picker::PickList {
            markable: true,
            ..Default::default()
        },
        ..Default::default()
    };
    for (i, n) in [
        "ip-10-0-0-12.i-0abc123.slurmctld",
        "compute-st-c5-1.i-0def456.slurmd",
        "compute-st-c5-2.i-0aaa789.slurmd",
        "hostile\\e]0;title\\x07",
    ]
    .iter()
    .enumerate()
    {
        b.list.items.push(tandem::app::cloudwatch::stream_row(
            &tandem::observe::cloudwatch::LogStream {
                name: (*n).into(),
                first_event_ms: None,
                last_event_ms: Some(1_795_600_000_000 + i as i64 * 61_000),
            },
        ));
    }
    b.list
        .marked
        .insert("compute-st-c5-1.i-0def456.slurmd".into());
    b.list.selected = 1;
    s.logs.browse = Some(b);
    snap("logs_cloudwatch_browser", &s);
}

#[test]
fn metrics_cloudwatch_browser() {
    let mut s = with_view(View::Metrics);
    let charted = tandem::project::default_queries("i-0abc123");
    let mut b = tandem::app::cloudwatch::MetricBrowse {
        namespace: Some("CWAgent".into()),
        list: tandem::app::picker::PickList {
            markable: true,
            ..Default::default()
        },
        ..Default::default()
    };
    for (name, dim) in [
        ("mem_used_percent", "i-0abc123"),
        ("disk_used_percent", "i-0abc123"),
        ("nvidia_smi_utilization_gpu", "i-0def456"),
        ("hostile\\e]0;x\\x07", "i-0abc123"),
    ] {
        let q = tandem::project::MetricQuery {
            label: name.into(),
            namespace: "CWAgent".into(),
            name: name.into(),
            dimensions: vec![("InstanceId".into(), dim.into())],
            stat: "Average".into(),
        };
        b.list
            .items
            .push(tandem::app::cloudwatch::metric_row(&q, &charted));
    }
    b.list.marked.insert(b.list.items[2].0.clone());
    b.list.selected = 2;
    s.metrics.browse = Some(b);
    snap("metrics_cloudwatch_browser", &s);
}

#[test]
fn plots_heatmap_as_an_image_when_the_terminal_has_a_protocol() {
    // the halfblocks protocol stands in for kitty/sixel here: it renders into the buffer
    let mut s = with_view(View::Plots);
    s.plots.pixels = Some("halfblocks".into());
    let Some(tandem::plot::load::PlotData::Field { field, stats, .. }) = &s.plots.data else {
        panic!("the fixture has a field")
    };
    let cells = tandem::views::plot_cells((80, 24));
    let img = tandem::plot::pixels::encode(
        &tandem::plot::pixels::Picker::halfblocks(),
        s.plots.req,
        field,
        "inferno",
        stats.range,
        cells,
    )
    .unwrap();
    s.plots.image = Some(img);
    let term = render(&s, 80, 24);
    insta::assert_snapshot!("plots_heatmap_image_80x24", term.backend().to_string());
    // at another size the image does not fit the area: the character heatmap is drawn instead
    let other = render(&s, 200, 60).backend().to_string();
    let chars = render(&with_view(View::Plots), 200, 60)
        .backend()
        .to_string();
    assert_eq!(other, chars);
}

/// The Plots view draws a line plot from the lines decimated off the UI task when they are for
/// this load, width and zoom; otherwise (a resize not yet answered) it decimates them itself.
#[test]
fn plots_line_draws_the_lines_made_off_the_ui_task() {
    let mut s = with_view(View::Plots);
    s.plots.plot = 2;
    let csv = "step,time,residual,total_energy,max_temperature\n0,0,0,25.5,67.3\n10,0.001,5e5,27.0,88.0\n20,0.002,2e5,28.1,91.0\n";
    let data = tandem::plot::load::PlotData::Series {
        series: std::sync::Arc::new(
            tandem::plot::read::parse_series(std::path::Path::new("series.csv"), csv.as_bytes())
                .unwrap(),
        ),
        file: "series.csv".into(),
    };
    let spec = s.project.as_ref().unwrap().plots[2].clone();
    let plain = render(
        &{
            let mut x = s.clone();
            x.plots.data = Some(data.clone());
            x
        },
        200,
        40,
    );
    let width = tandem::views::plots::chart_width(200);
    let mut lines =
        tandem::plot::prepare::lines_of(&spec, &data, None, width, s.plots.req).unwrap();
    s.plots.data = Some(data);
    s.plots.lines = Some(lines.clone());
    // the same picture from the lines made elsewhere
    assert_eq!(
        render(&s, 200, 40).backend().to_string(),
        plain.backend().to_string()
    );
    // and they are what is drawn: a renamed line shows its new name
    lines.data[0].0 = "cached".into();
    s.plots.lines = Some(lines);
    assert!(render(&s, 200, 40).backend().to_string().contains("cached"));
    // at another width they are not used
    assert!(!render(&s, 180, 40).backend().to_string().contains("cached"));
}

/// Three runs' series overlaid (`C`): the title names the other runs, the legend each line.
#[test]
fn plots_overlay_three_runs() {
    use tandem::plot::load::PlotData;
    let mut s = with_view(View::Plots);
    s.plots.plot = 2;
    let ser = |k: f64| PlotData::Series {
        series: std::sync::Arc::new(tandem::plot::Series {
            columns: vec![
                "time".into(),
                "total_energy".into(),
                "max_temperature".into(),
            ],
            values: vec![
                vec![0.0, 1.0, 2.0],
                vec![k, k + 1.0, k + 3.0],
                vec![1.0, 1.0, 1.0],
            ],
        }),
        file: "series.csv".into(),
    };
    s.plots.data = Some(PlotData::Compare {
        a: Box::new(ser(1.0)),
        b: Box::new(ser(2.0)),
        other: "20261124-090000-0001".into(),
        more: vec![("20261123-090000-0002".into(), ser(3.0))],
        elements: false,
    });
    let text = render(&s, 200, 60).backend().to_string();
    assert!(
        text.contains("over runs 20261124-090000-0001, 20261123-090000-0002"),
        "{text}"
    );
    assert!(text.contains("total_energy (…090000-0002)"), "{text}");
}

/// The current run's solve phase swept 2 x 3 (alpha by edge_temp), its elements mid-run.
fn swept() -> AppState {
    use tandem::pipeline::run::ElementRun;
    use tandem::pipeline::RunState;
    use tandem::project::sweep::Value;
    let mut s = with_view(View::Pipeline);
    let r = s
        .runs
        .iter_mut()
        .find(|r| Some(&r.id) == s.current.as_ref())
        .unwrap();
    let solve = r.phase_mut(tandem::project::PhaseId::Solve).unwrap();
    let states = [
        RunState::Succeeded,
        RunState::Succeeded,
        RunState::Failed,
        RunState::Running,
        RunState::Running,
        RunState::Pending,
    ];
    solve.elements = states
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let e = tandem::project::Element {
                index: i as u32,
                params: vec![
                    ("alpha".into(), Value::Float([0.5, 1.0][i / 3])),
                    ("edge_temp".into(), Value::Int([20, 50, 80][i % 3])),
                ],
            };
            let mut x = ElementRun::new(&e, format!("lake/out/e{i}/"));
            x.state = *st;
            if *st == RunState::Failed {
                x.message = Some("FAILED: exit code 3 — diverged".into());
            }
            x
        })
        .collect();
    solve.state = solve.state_of_elements();
    solve.message = Some(solve.counts_text());
    s
}

#[test]
fn pipeline_sweep_grid() {
    snap("pipeline_sweep", &swept());
}

/// Each element's cell takes its state's colour from the theme; the counts say how many.
#[test]
fn sweep_cells_are_coloured_by_state() {
    let s = swept();
    let term = render(&s, 120, 40);
    let text = term.backend().to_string();
    assert!(
        text.contains("6 elements  ○ 1 pending ● 2 running ✔ 2 succeeded ✘ 1 failed"),
        "{text}"
    );
    assert!(
        text.contains("[2] alpha=0.5 edge_temp=80: FAILED: exit code 3"),
        "{text}"
    );
    let buf = term.backend().buffer();
    // the row of alpha 0.5: succeeded, succeeded, failed
    let row = (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            line.contains("│0.5 ") || line.contains(" 0.5 ")
        })
        .expect("the row of alpha 0.5");
    // (the CPU sparkline on the right draws blocks too)
    let cells: Vec<Color> = (0..buf.area.width)
        .filter(|&x| buf[(x, row)].symbol() == "█")
        .map(|x| buf[(x, row)].fg)
        .take(6)
        .collect();
    assert_eq!(
        cells,
        vec![
            s.theme.ok,
            s.theme.ok,
            s.theme.ok,
            s.theme.ok,
            s.theme.error,
            s.theme.error
        ]
    );
}

#[test]
fn logs_of_one_element() {
    let mut s = swept();
    s.view = View::Logs;
    s.logs.source = tandem::app::logs::LogSource::Element(tandem::project::PhaseId::Solve, 3);
    let term = render(&s, 120, 30);
    let text = term.backend().to_string();
    assert!(
        text.contains("source solve[3] alpha=1.0 edge_temp=20"),
        "{text}"
    );
}

#[test]
fn runs_compared() {
    use tandem::pipeline::diff::*;
    let mut s = with_view(View::Runs);
    let f = |n: &str, a: &str, b: &str| Field {
        name: n.into(),
        a: a.into(),
        b: b.into(),
    };
    s.runs_view.diff = Some(Box::new(RunDiff {
        a: "20261124-090000-beef".into(),
        b: "20261125-115900-abcd".into(),
        project: ProjectDiff::Changed {
            keys: vec![KeyChange {
                key: "phases.solve.local.command[8]".into(),
                a: Some("\"224\"".into()),
                b: Some("\"160\"".into()),
            }],
        },
        runs: vec![f("target", "local", "local"), f("duration", "2.0s", "1.1s")],
        phases: vec![PhaseDiff {
            phase: tandem::project::PhaseId::Solve,
            fields: vec![f("state", "succeeded", "failed"), f("exit code", "0", "3")],
            inputs: InputsDiff {
                same: 3,
                changed: vec![InputChange {
                    key: "boundary.csv".into(),
                    a: "1.2 KiB 5f3a…".into(),
                    b: "1.2 KiB 9c01…".into(),
                }],
                ..Default::default()
            },
            elements: vec![],
        }],
        series: vec![SeriesLast {
            plot: "energy".into(),
            column: "total_energy".into(),
            a: Some(41.16),
            b: Some(40.9),
        }],
    }));
    snap("runs_compared", &s);
}
