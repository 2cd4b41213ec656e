//! `tandem tool …`: the sample project's own tools (the phases' processes: no runtime, no
//! journal), the benchmarks' helpers, and the supervisor local phases run under.

use super::{print_json, Failure};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum Tool {
    /// Generate seeded raw sensor CSVs.
    Gen {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 4.0)]
        size_mb: f64,
        #[arg(long, default_value_t = 4)]
        files: usize,
    },
    /// Phase 1: clean raw CSVs into boundary and initial conditions.
    Preprocess {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
    },
    /// Phase 2: the 2D heat equation from phase 1's tables.
    Heat2d {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        output: PathBuf,
        #[arg(long, default_value_t = 128)]
        nx: usize,
        #[arg(long, default_value_t = 128)]
        ny: usize,
        #[arg(long, default_value_t = 1.0)]
        alpha: f64,
        #[arg(long, default_value_t = 0.02)]
        t_end: f64,
        #[arg(long, default_value_t = 0.9)]
        cfl: f64,
        #[arg(long, default_value_t = 10)]
        snapshots: usize,
        #[arg(long, value_enum, default_value_t = crate::tools::heat2d::Edges::Dirichlet)]
        edges: crate::tools::heat2d::Edges,
        /// Hold every edge at this temperature instead of the one phase 1 measured (a sweep
        /// over the plate's edge temperature).
        #[arg(long)]
        edge_temp: Option<f64>,
    },
    /// Measure heat2d's stencil against a plain copy of the same memory (prints JSON).
    BenchHeat2d {
        #[arg(long, default_value_t = 2048)]
        nx: usize,
        #[arg(long, default_value_t = 2048)]
        ny: usize,
        #[arg(long, default_value_t = 50)]
        steps: usize,
    },
    /// Feed N keys, in 1000-key pages shaped like S3's, through the Datasets view's update path and
    /// report the process's peak RSS and time (prints JSON): the memory a listing of N keys costs.
    BenchListing {
        #[arg(long, default_value_t = 1_000_000)]
        keys: usize,
    },
    /// Run a phase's command and record how it ended (the local runner starts every phase's
    /// process under this; see `pipeline::runner::supervise_exec`).
    #[command(hide = true)]
    Supervise {
        #[arg(long)]
        exit: PathBuf,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Follow a Ray job's driver log the way a Ray phase is followed (the tail websocket into a
    /// file through one held handle, status every 0.5 s) and report the lag of `T=<unix ns>` lines,
    /// bytes, requests and peak memory as JSON (scripts/bench-ray-logs.sh).
    BenchRayLogs {
        #[arg(long)]
        dashboard: String,
        #[arg(long)]
        job: String,
        #[arg(long)]
        out: PathBuf,
        /// Read the driver log from Ray's temp dir by byte offset through the local transport
        /// (the `ray_reach = "transport"` path) instead of the dashboard's websocket.
        #[arg(long)]
        temp_dir: Option<String>,
    },
}

impl Tool {
    pub async fn run(self) -> Result<(), Failure> {
        let fail = |e: anyhow::Error| Failure::failed(format!("{e:#}"));
        match self {
            Tool::Gen {
                out,
                seed,
                size_mb,
                files,
            } => {
                let r = crate::tools::gen::generate(&out, seed, size_mb, files)
                    .map_err(|e| Failure::failed(format!("{}: {e}", out.display())))?;
                println!("{}", serde_json::to_string(&r).unwrap_or_default());
                Ok(())
            }
            Tool::Preprocess { input, output } => crate::tools::preprocess::run(&input, &output)
                .map(|_| ())
                .map_err(fail),
            Tool::Heat2d {
                input,
                output,
                nx,
                ny,
                alpha,
                t_end,
                cfl,
                snapshots,
                edges,
                edge_temp,
            } => {
                let cfg = crate::tools::heat2d::Config {
                    alpha,
                    t_end,
                    cfl,
                    edges,
                    snapshots,
                    series_rows: 400,
                };
                crate::tools::heat2d::run(crate::tools::heat2d::RunArgs {
                    input: &input,
                    output: &output,
                    nx,
                    ny,
                    cfg,
                    edge_temp,
                })
                .map(|_| ())
                .map_err(fail)
            }
            Tool::BenchRayLogs {
                dashboard,
                job,
                out,
                temp_dir,
            } => bench_ray_logs(&dashboard, &job, &out, temp_dir).await,
            // these two never reach here: main runs them before a runtime starts (supervise) and
            // with the TUI's state (bench-listing)
            Tool::BenchListing { .. } | Tool::Supervise { .. } => {
                Err(Failure::bad("this tool runs from tandem's own entry point"))
            }
            Tool::BenchHeat2d { nx, ny, steps } => {
                let r = crate::tools::heat2d::bench(nx, ny, steps);
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                Ok(())
            }
        }
    }
}

/// `tandem tool bench-ray-logs`: see [`Tool::BenchRayLogs`].
async fn bench_ray_logs(
    dashboard: &str,
    job: &str,
    out: &Path,
    temp_dir: Option<String>,
) -> Result<(), Failure> {
    use crate::engine::ray::{Ray, RayConf, Reach};
    use std::io::Write as _;
    let conf = RayConf {
        dashboard: dashboard.to_string(),
        reach: Reach::Direct,
        temp_dir: temp_dir.clone().unwrap_or_default(),
        poll: std::time::Duration::from_millis(500),
    };
    let ray = Arc::new(match temp_dir {
        Some(_) => Ray::via(
            RayConf {
                reach: Reach::Transport,
                ..conf
            },
            Arc::new(crate::transport::local::Local),
        ),
        None => Ray::direct(conf),
    });
    let file = std::fs::File::create(out)
        .map_err(|e| Failure::failed(format!("{}: {e}", out.display())))?;
    let t0 = std::time::Instant::now();
    let stop = tokio_util::sync::CancellationToken::new();
    let follower = {
        let (ray, job, stop) = (ray.clone(), job.to_string(), stop.clone());
        tokio::spawn(async move {
            let mut file = std::io::BufWriter::with_capacity(1 << 20, file);
            let mut lags: Vec<f64> = Vec::new();
            let mut bytes = 0u64;
            let mut end = false;
            let mut sink = |b: &[u8]| {
                let _ = file.write_all(b);
                let _ = file.flush();
                bytes += b.len() as u64;
                // the newest complete stamped line of the chunk
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) as f64;
                // complete lines only: the chunk's tail may be the start of a line
                let whole = match memchr::memrchr(b'\n', b) {
                    Some(i) => &b[..i],
                    None => &b[..0],
                };
                if let Some(line) = whole
                    .split(|c| *c == b'\n')
                    .rev()
                    .find(|l| l.starts_with(b"T="))
                {
                    if let Some(ns) = line[2..]
                        .split(|c| *c == b' ')
                        .next()
                        .and_then(|x| std::str::from_utf8(x).ok())
                        .and_then(|x| x.parse::<f64>().ok())
                    {
                        lags.push((now - ns) / 1e6);
                    }
                }
                if b.windows(4).any(|w| w == b"END\n") {
                    end = true;
                }
            };
            let r = ray.follow_logs(&job, 0, &stop, &mut sink).await;
            (r, lags, bytes, end)
        })
    };
    let mut polls = 0u64;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        polls += 1;
        match ray.status(job).await {
            Ok(i) if i.is_terminal() => break,
            Ok(_) => {}
            Err(e) => return Err(Failure::failed(e.to_string())),
        }
    }
    let (r, mut lags, bytes, end) =
        tokio::time::timeout(std::time::Duration::from_secs(30), follower)
            .await
            .map_err(|_| Failure::failed("the log stream did not end"))?
            .map_err(|e| Failure::failed(e.to_string()))?;
    r.map_err(|e| Failure::failed(e.to_string()))?;
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let hwm = crate::tools::peak_rss_kib();
    let secs = t0.elapsed().as_secs_f64();
    print_json(&serde_json::json!({
        "bytes": bytes,
        "saw_end": end,
        "seconds": secs,
        "lag_ms_median": pct(0.5),
        "lag_ms_p99": pct(0.99),
        "lag_ms_max": pct(1.0),
        "requests": ray.requests(),
        "status_polls": polls,
        "requests_per_poll": ray.requests() as f64 / polls.max(1) as f64,
        "peak_rss_mib": hwm / 1024.0,
    }));
    Ok(())
}
