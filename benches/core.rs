//! Criterion benchmarks of the hot paths: one frame of each view at 200x60, the heat2d stencil, the
//! preprocess parser, log ingest. Figures go to README; nothing here is a pass/fail.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::hint::black_box;

#[path = "../tests/common/mod.rs"]
mod common;

fn frames(c: &mut Criterion) {
    use tandem::app::state::View;
    let mut g = c.benchmark_group("frame_200x60");
    let mut base = common::state();
    base.size = (200, 60);
    // a full log buffer: the view must stay cheap however much is loaded
    for i in 0..100_000u32 {
        base.logs.buf.push(tandem::observe::logbuf::LogLine {
            phase: tandem::project::PhaseId::Solve,
            stderr: i % 17 == 0,
            element: None,
            text: format!(
                "heat2d: step {i} t={:.5} residual=2.113e3 energy=34.1182 max=93.807",
                f64::from(i) * 1e-5
            ),
            look: None,
            at: 0,
            tag: None,
        });
    }
    let f = common::field(192);
    base.plots.data = Some(tandem::plot::load::PlotData::Field {
        stats: tandem::plot::FieldStats::of(&f),
        field: f,
        file: "snapshots/field_0011.npy".into(),
        about: None,
    });
    for v in View::ALL {
        let mut s = base.clone();
        s.view = v;
        let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
        g.bench_function(BenchmarkId::from_parameter(v.title()), |b| {
            b.iter(|| {
                term.draw(|f| tandem::views::draw(f, black_box(&s)))
                    .unwrap();
            })
        });
    }
    // a line plot of a 1M-row series: drawn from the lines decimated off the UI task, and (the
    // fallback, and what every frame did before) decimated in the frame
    let rows = 1_000_000;
    let series = tandem::plot::Series {
        columns: vec![
            "time".into(),
            "total_energy".into(),
            "max_temperature".into(),
        ],
        values: vec![
            (0..rows).map(|i| i as f64 * 1e-3).collect(),
            (0..rows).map(|i| (i as f64 * 1e-4).sin()).collect(),
            (0..rows).map(|i| (i as f64 * 3e-4).cos()).collect(),
        ],
    };
    let mut s = base.clone();
    s.view = View::Plots;
    s.plots.plot = 2;
    let data = tandem::plot::load::PlotData::Series {
        series: std::sync::Arc::new(series),
        file: "series.csv".into(),
    };
    let spec = s.project.as_ref().unwrap().plots[2].clone();
    s.plots.lines = tandem::plot::prepare::lines_of(
        &spec,
        &data,
        None,
        tandem::views::plots::chart_width(200),
        s.plots.req,
    );
    s.plots.data = Some(data);
    let mut per_frame = s.clone();
    per_frame.plots.lines = None;
    for (name, st) in [
        ("Plots line 1M rows", &s),
        ("Plots line 1M rows, decimated in the frame", &per_frame),
    ] {
        let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                term.draw(|f| tandem::views::draw(f, black_box(st)))
                    .unwrap();
            })
        });
    }
    g.finish();
}

fn heat2d(c: &mut Criterion) {
    use tandem::tools::heat2d::*;
    let mut g = c.benchmark_group("heat2d_step");
    for n in [256usize, 1024] {
        let mut grid = Grid::new(n, n, |x, y| x * y);
        let mut next = grid.clone();
        let dt = stable_dt(n, n, 1.0) * 0.9;
        g.throughput(Throughput::Elements((n * n) as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                step(&grid, &mut next, 1.0, dt, false);
                std::mem::swap(&mut grid, &mut next);
            })
        });
    }
    g.finish();
}

fn preprocess(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let r = tandem::tools::gen::generate(dir.path(), 1, 8.0, 1).unwrap();
    let data = std::fs::read(dir.path().join(&r.files[0])).unwrap();
    let mut g = c.benchmark_group("preprocess");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(20);
    g.bench_function("parse_aggregate_8MB_one_thread", |b| {
        b.iter(|| black_box(tandem::tools::preprocess::process_chunk(black_box(&data))))
    });
    g.finish();
}

fn log_ingest(c: &mut Criterion) {
    // as a file's lines are read: interpreted (colours to styles, redraws to their last state),
    // into the ring buffer
    let plain = b"heat2d: step 1400 t=0.00854 residual=2.113e3 energy=34.1182 max=93.807".to_vec();
    let coloured = "\u{1b}[32mtrain\u{1b}[0m epoch 3:  45%|\u{1b}[36m████▌     \u{1b}[0m| 450/1000 [00:01<00:01, 400it/s]\r\u{1b}[32mtrain\u{1b}[0m epoch 3: 100%|\u{1b}[36m██████████\u{1b}[0m| 1000/1000 [00:02<00:00, 410it/s] \u{1b}[1;31mloss=0.25\u{1b}[0m"
        .as_bytes()
        .to_vec();
    let mut g = c.benchmark_group("logs");
    g.throughput(Throughput::Elements(10_000));
    for (name, line) in [
        ("read_and_push_10k_plain_lines", &plain),
        ("read_and_push_10k_coloured_progress_lines", &coloured),
    ] {
        g.bench_function(name, |b| {
            let mut buf = tandem::observe::logbuf::LogBuffer::default();
            b.iter(|| {
                for _ in 0..10_000 {
                    let shown = tandem::observe::ansi::log_line(black_box(line));
                    buf.push(tandem::observe::logbuf::LogLine::read(
                        tandem::project::PhaseId::Solve,
                        false,
                        shown,
                        0,
                    ));
                }
            })
        });
    }
    g.finish();
}

/// A full 100k-line log buffer: the filter's index built from scratch (each keystroke in the `&`
/// prompt), a search step (`n`), and a frame drawn under the filter.
fn log_filter(c: &mut Criterion) {
    let mut s = common::state();
    s.view = tandem::app::state::View::Logs;
    s.logs.buf = tandem::observe::logbuf::LogBuffer::default();
    for i in 0..100_000u32 {
        s.logs.buf.push(tandem::observe::logbuf::LogLine {
            phase: tandem::project::PhaseId::Solve,
            stderr: i % 997 == 0,
            element: None,
            text: format!(
                "heat2d: step {i} t={:.5} residual=2.113e3 energy=34.1182 max=93.807{}",
                f64::from(i) * 1e-5,
                if i % 1000 == 7 {
                    " WARNING slow step"
                } else {
                    ""
                }
            ),
            look: None,
            at: 0,
            tag: None,
        });
    }
    let mut g = c.benchmark_group("logs");
    g.bench_function("filter_100k_lines_regex", |b| {
        b.iter(|| {
            tandem::app::logs::set_filter(&mut s, "warn(ing)?".into());
            black_box(s.logs.matched.len())
        })
    });
    g.bench_function("filter_100k_lines_inverted", |b| {
        b.iter(|| {
            tandem::app::logs::set_filter(&mut s, "!residual".into());
            black_box(s.logs.matched.len())
        })
    });
    tandem::app::logs::set_filter(&mut s, String::new());
    s.logs.search = Some("slow step".into());
    s.logs.follow = false;
    s.logs.top = 0;
    g.bench_function("search_next_in_100k_lines", |b| {
        b.iter(|| {
            tandem::app::update::update(
                &mut s,
                tandem::app::msg::Msg::Key(crossterm::event::KeyEvent::from(
                    crossterm::event::KeyCode::Char('n'),
                )),
            );
            black_box(s.logs.hit)
        })
    });
    tandem::app::logs::set_filter(&mut s, "warn".into());
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    g.bench_function("frame_200x60_filtered", |b| {
        b.iter(|| {
            term.draw(|f| tandem::views::draw(f, &s)).unwrap();
        })
    });
    g.finish();
}

/// Plot decimation: a 10M-point series to a 200-column chart (min/max per column), and a
/// 4096x4096 f64 field block-averaged to a 200x60 heatmap.
fn plot_decimation(c: &mut Criterion) {
    let n = 10_000_000usize;
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|i| {
            let x = i as f64;
            (x, (x * 1e-4).sin() + (i % 7) as f64 * 1e-3)
        })
        .collect();
    let side = 4096usize;
    let field = tandem::plot::Field {
        rows: side,
        cols: side,
        data: (0..side * side)
            .map(|i| ((i / side) as f64 * 0.01).sin() * ((i % side) as f64 * 0.01).cos())
            .collect(),
    };
    let mut g = c.benchmark_group("plot");
    g.sample_size(20);
    g.bench_function("decimate_10M_points_to_200_columns", |b| {
        b.iter(|| black_box(tandem::plot::decimate_minmax(&pts, 200).len()))
    });
    g.bench_function("downsample_4096x4096_to_200x60", |b| {
        b.iter(|| black_box(tandem::plot::downsample(&field, 60, 200).data.len()))
    });
    // what the Plots view computes once per snapshot, off the UI task
    g.bench_function("field_stats_4096x4096", |b| {
        b.iter(|| black_box(tandem::plot::FieldStats::of(&field).nonfinite))
    });
    // a 4096² f64 snapshot (128 MiB .npy, in the page cache) read for the screen: straight to
    // the block averages of a 200x60 heatmap with the whole field's range, on one core; and
    // read whole (what zoomed-out exports and comparisons read)
    let ndir = tempfile::tempdir().unwrap();
    let npy = ndir.path().join("field.npy");
    tandem::tools::heat2d::write_npy(&npy, side, side, &field.data).unwrap();
    let fit = tandem::plot::Fit {
        window: tandem::plot::Window::ALL,
        within: (116, 200),
    };
    g.bench_function("read_npy_4096x4096_to_200x60", |b| {
        b.iter(|| {
            let pick = Default::default();
            let (a, _) = tandem::plot::read::read_field_counted(&npy, Some(&fit), &pick).unwrap();
            let tandem::plot::read::Array::Field(f, st, _) = a else {
                unreachable!()
            };
            black_box((f.data.len(), st.nonfinite))
        })
    });
    // before: numpy's values read one by one through npyz's iterator, then the range counted
    // and the field averaged (on every core)
    g.bench_function("read_npy_4096x4096_to_200x60_value_by_value", |b| {
        b.iter(|| {
            let r = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&npy).unwrap());
            let data: Vec<f64> = npyz::NpyFile::new(r).unwrap().into_vec().unwrap();
            let f = tandem::plot::Field {
                rows: side,
                cols: side,
                data,
            };
            let st = tandem::plot::FieldStats::of(&f);
            black_box((
                tandem::plot::downsample(&f, 116, 116).data.len(),
                st.nonfinite,
            ))
        })
    });
    g.bench_function("read_npy_4096x4096_whole", |b| {
        b.iter(|| {
            let pick = Default::default();
            let (a, _) = tandem::plot::read::read_field_counted(&npy, None, &pick).unwrap();
            let tandem::plot::read::Array::Field(f, st, _) = a else {
                unreachable!()
            };
            black_box((f.data.len(), st.nonfinite))
        })
    });
    // a growing series CSV of 1M rows: read and parsed whole (what each refresh did before) and
    // 1,000 new rows read from where the last read stopped
    let csv_rows = |steps: std::ops::Range<i32>| -> String {
        steps
            .map(|i| {
                format!(
                    "{i},{:.6},{:.6}\n",
                    i as f64 * 1e-3,
                    (i as f64 * 1e-4).sin()
                )
            })
            .collect()
    };
    let text = format!("step,time,residual\n{}", csv_rows(0..1_000_000));
    let more = csv_rows(1_000_000..1_001_000);
    let sdir = tempfile::tempdir().unwrap();
    let csv = sdir.path().join("series.csv");
    g.bench_function("series_csv_1M_rows_read_whole", |b| {
        b.iter(|| {
            black_box(
                tandem::plot::read::parse_series(&csv, text.as_bytes())
                    .unwrap()
                    .rows(),
            )
        })
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let src = tandem::plot::source::Source::Dir(sdir.path().to_path_buf());
    g.bench_function("series_csv_1M_rows_plus_1000_read_new", |b| {
        b.iter_batched(
            || {
                std::fs::write(&csv, &text).unwrap();
                let tails = tandem::plot::load::Tails::default();
                rt.block_on(tandem::plot::load::load_series(&tails, &src, "series.csv"))
                    .unwrap();
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).open(&csv).unwrap();
                f.write_all(more.as_bytes()).unwrap();
                tails
            },
            |tails| {
                rt.block_on(tandem::plot::load::load_series(&tails, &src, "series.csv"))
                    .unwrap()
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // `e` in the Plots view: a 1200x800 PNG of a 1024x1024 field (colour bar and axes included)
    let small = tandem::plot::downsample(&field, 1024, 1024);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plot.png");
    g.bench_function("png_export_1200x800", |b| {
        b.iter(|| {
            tandem::plot::export::export(
                &tandem::plot::export::Plot::Heatmap {
                    fields: &[("", &small)],
                    cmap: "viridis",
                    range: None,
                },
                "field",
                &out,
                (1200, 800),
            )
            .unwrap()
        })
    });
    g.finish();
}

/// A poll of a 1000-job queue: `squeue --json` as Slurm 22.05 prints it (the shape of the real one
/// captured in tests/slurm.rs), parsed, put in the Jobs view, one frame drawn at 200x60.
fn squeue_poll(c: &mut Criterion) {
    let jobs: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{"account":"","accrue_time":1764100000,"job_id":{id},"name":"tandem-heat-diffusion-solve-{i}","user_name":"researcher","job_state":"{st}","state_reason":"{reason}","start_time":{start},"submit_time":1764100000,"node_count":{nodes},"partition":"debug","standard_output":"/fsx/tandem/runs/r{i}/solve/slurm-{id}.out","standard_error":"/fsx/tandem/runs/r{i}/solve/slurm-{id}.err","time_limit":30,"cpus":2,"command":"/fsx/tandem/runs/r{i}/solve/job.sbatch","current_working_directory":"/fsx/tandem/runs/r{i}/solve","priority":4294901759,"tres_req_str":"cpu=2,mem=4G,node=1,billing=2"}}"#,
                id = 5000 + i,
                st = if i % 3 == 0 { "RUNNING" } else { "PENDING" },
                reason = if i % 3 == 0 { "None" } else { "JobHeldUser" },
                start = if i % 3 == 0 { 1764100100 } else { 0 },
                nodes = 1 + i % 4,
            )
        })
        .collect();
    let json = format!(
        r#"{{"meta":{{"plugin":{{"type":"openapi/v0.0.38"}}}},"errors":[],"jobs":[{}]}}"#,
        jobs.join(",")
    );
    let mut s = common::state();
    s.size = (200, 60);
    s.view = tandem::app::state::View::Jobs;
    s.jobs.target = Some("hpc".into());
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut g = c.benchmark_group("squeue_poll");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("parse_and_draw_1000_jobs", |b| {
        b.iter(|| {
            let q = tandem::engine::slurm::parse_queue(black_box(json.as_bytes())).unwrap();
            tandem::app::update::update(
                &mut s,
                tandem::app::msg::Msg::JobsLoaded {
                    result: Ok(q),
                    api_calls: 0,
                },
            );
            term.draw(|f| tandem::views::draw(f, &s)).unwrap();
        })
    });
    g.finish();
}

/// A sweep of 1,000 elements: one poll of its Slurm array (every element's state in one answer)
/// parsed, put on the run's elements, the run journalled (only the elements that changed are
/// rows written), given to the TUI and drawn at 200x60; planning its one sbatch (the table, the
/// array's batch script and the submit script); and two runs compared from the journal when
/// each read 10,000 input objects.
fn sweeps(c: &mut Criterion) {
    use tandem::pipeline::RunState;
    use tandem::project::PhaseId;
    let project = tandem::project::parse(
        std::path::Path::new("bench.toml"),
        &format!(
            "{}\n[phases.solve.sweep]\nmax_parallel = 50\nalpha = {{ from = 0.1, to = 10, num = 100, scale = \"log\" }}\nseed = {{ from = 1, to = 10, step = 1 }}\n",
            std::fs::read_to_string(tandem::project::sample_project_path()).unwrap()
        ),
    )
    .unwrap();
    let sweep = project.solve().sweep.clone().unwrap();
    assert_eq!(sweep.len(), 1000);
    let d = tempfile::tempdir().unwrap();
    let ws = tandem::pipeline::Workspace::new(d.path().to_path_buf());
    let mut run = tandem::pipeline::prepare_run(&project, "local", &PhaseId::ALL);
    ws.journal.record(&run).unwrap();
    // the poll's answer: a third running, a third pending, a third done
    let mut out = String::new();
    for i in 0..1000u32 {
        match i % 3 {
            0 => out.push_str(&format!("Q|77_{i}|RUNNING|None|0:{:02}|1\n", i % 60)),
            1 => out.push_str(&format!("Q|77_{i}|PENDING|JobArrayTaskLimit|0:00|1\n")),
            _ => out.push_str(&format!(
                "C|JobId={} ArrayJobId=77 ArrayTaskId={i} JobState=COMPLETED Reason=None ExitCode=0:0 RunTime=00:00:0{} NumNodes=1\n",
                2000 + i,
                i % 10
            )),
        }
    }
    let mut s = common::state();
    s.size = (200, 60);
    s.view = tandem::app::state::View::Pipeline;
    s.current = Some(run.id.clone());
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut g = c.benchmark_group("sweep");
    let mut flip = false;
    g.bench_function("poll_1000_element_array_parse_journal_draw", |b| {
        b.iter(|| {
            let p = tandem::engine::slurm::parse_array_poll("77", black_box(out.as_bytes()), "n");
            // alternate running and done so every poll changes a third of the rows
            flip = !flip;
            let solve = run.phase_mut(PhaseId::Solve).unwrap();
            for e in solve.elements.iter_mut() {
                if let Some(st) = p.elements.get(&e.index) {
                    let (state, _) = tandem::pipeline::phase::slurm_state(st);
                    e.state = if flip && state == RunState::Running {
                        RunState::Succeeded
                    } else {
                        state
                    };
                }
            }
            solve.state = solve.state_of_elements();
            ws.journal.record(&run).unwrap();
            tandem::app::update::update(
                &mut s,
                tandem::app::msg::Msg::Run(tandem::pipeline::RunEvent::Updated(Box::new(
                    run.clone(),
                ))),
            );
            term.draw(|f| tandem::views::draw(f, &s)).unwrap();
        })
    });
    g.bench_function("plan_one_sbatch_for_1000_elements", |b| {
        b.iter(|| {
            let sw = black_box(&sweep);
            let job = tandem::engine::slurm::JobSpec {
                name: "tandem-heat-diffusion-solve".into(),
                run_dir: "/fsx/tandem/r/solve".into(),
                body: tandem::engine::slurm::Body::Command {
                    argv: vec![
                        "tandem".into(),
                        "tool".into(),
                        "heat2d".into(),
                        "--alpha".into(),
                        "{param.alpha}".into(),
                        "--output".into(),
                        "/fsx/out/e{element}/".into(),
                    ],
                    launcher: "srun".into(),
                },
                array: Some(tandem::engine::slurm::ArraySpec {
                    count: sw.len() as u32,
                    only: None,
                    max_parallel: sw.max_parallel,
                    params: sw.names(),
                    table: sw.table(),
                    env: Default::default(),
                }),
                ..Default::default()
            };
            let conf = tandem::engine::slurm::SlurmConf::default();
            let local = tandem::transport::local::Local;
            let slurm = tandem::engine::slurm::Slurm::new(&local, &conf);
            black_box(slurm.submit_script(&job).unwrap());
        })
    });
    // two runs that each read 10,000 inputs, half of them changed
    let manifest = |run: &str, salt: u32| {
        let mut m = tandem::pipeline::Manifest::of(
            &tandem::pipeline::prepare_run(&project, "local", &PhaseId::ALL),
            PhaseId::Preprocess,
            Some("lake/raw/".into()),
            (0..10_000u32)
                .map(|i| tandem::pipeline::manifest::InputObject {
                    key: format!("lake/raw/date={}/part-{i:05}.csv", i / 100),
                    size: 4096 + i as u64,
                    etag: Some(format!("{:032x}", (i as u64) * (1 + (i % 2 * salt) as u64))),
                    checksum: None,
                })
                .collect(),
        );
        m.run = run.to_string();
        m
    };
    let other = tandem::pipeline::prepare_run(&project, "local", &PhaseId::ALL);
    let other = tandem::pipeline::Run {
        id: format!("{}-b", other.id),
        ..other
    };
    ws.journal.record(&other).unwrap();
    ws.journal
        .save_manifest(&run.id, PhaseId::Preprocess, &manifest(&run.id, 0))
        .unwrap();
    ws.journal
        .save_manifest(&other.id, PhaseId::Preprocess, &manifest(&other.id, 7))
        .unwrap();
    g.bench_function("runs_diff_10000_inputs_each", |b| {
        b.iter(|| {
            let d = tandem::pipeline::diff::diff(&ws.journal, &run.id, &other.id).unwrap();
            assert_eq!(d.phases[0].inputs.changed.len(), 5000);
            black_box(d)
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    frames,
    heat2d,
    preprocess,
    log_ingest,
    log_filter,
    plot_decimation,
    squeue_poll,
    sweeps
);
criterion_main!(benches);
