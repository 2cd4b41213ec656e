//! The command line: the TUI by default, and a headless command for every action, with `--json`
//! wherever the output is data. Exit codes: 0 ok, 1 a run failed, 2 bad input.

use crate::app::msg::PlotData;
use crate::pipeline::{execute, fmt_duration, prepare_run, RunEvent, RunState, Workspace};
use crate::project::{self, PhaseId, PlotKind};
use crate::storage::{Entry, Location, ObjectStore};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod watch;
pub use watch::{fmt_num, sparkline};

#[derive(Parser, Debug)]
#[command(
    name = "tandem",
    version,
    about = "A terminal workbench for two-phase research pipelines (Ray preprocess, Slurm solve) on AWS",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Project file or directory (default: ./tandem.toml, else the bundled sample).
    pub project: Option<PathBuf>,
    #[command(flatten)]
    pub global: Global,
    /// Target to use (default: the project's default_target).
    #[arg(long)]
    pub target: Option<String>,
    /// Theme: dark, light, high-contrast, or a user theme in ~/.config/tandem/themes.
    #[arg(long, default_value = "dark", env = "TANDEM_THEME")]
    pub theme: String,
    /// How plots reach the screen: auto (ask the terminal), kitty, sixel, iterm2, or the character
    /// renderers (halfblocks, braille).
    #[arg(long, value_enum, default_value = "auto", env = "TANDEM_GRAPHICS")]
    pub graphics: crate::plot::pixels::Graphics,
    /// Lines kept per run in the Logs view (a ring buffer: the oldest go first).
    #[arg(long, default_value_t = crate::observe::logbuf::DEFAULT_CAP, env = "TANDEM_LOG_LINES", value_parser = clap::value_parser!(usize))]
    pub log_lines: usize,
    /// Draw the first frame and exit (measures start-up).
    #[arg(long, hide = true)]
    pub first_frame: bool,
}

#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Where tandem keeps its journal, run logs and the local store (default: TANDEM_HOME, else the
    /// platform data dir).
    #[arg(long, global = true, env = "TANDEM_HOME")]
    pub data_dir: Option<PathBuf>,
    /// AWS profile for S3 (default: AWS_PROFILE, else the default chain).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: AWS_REGION / the profile's region).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// S3 endpoint for S3-compatible stores (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL); implies
    /// path-style addressing.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
    /// Do not sign S3 requests (public buckets).
    #[arg(long, global = true)]
    pub no_sign_request: bool,
}

impl Global {
    /// AWS options for clients other than S3 (the `--endpoint-url` flag is S3's; the SDK reads
    /// AWS_ENDPOINT_URL_<SERVICE> for the others).
    pub fn aws(&self) -> crate::aws::AwsOpts {
        crate::aws::AwsOpts {
            profile: self.profile.clone(),
            region: self.region.clone(),
            ..Default::default()
        }
    }
    pub fn s3(&self) -> crate::storage::s3::S3Options {
        crate::storage::s3::S3Options {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint_url.clone(),
            no_sign: self.no_sign_request,
            max_attempts: None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the pipeline (or one phase) headless, following it to the end.
    Run {
        project: Option<PathBuf>,
        #[arg(long, value_enum)]
        phase: Option<PhaseArg>,
        #[arg(long)]
        target: Option<String>,
        /// Print the run record as JSON at the end (and JSON lines of events while it runs).
        #[arg(long)]
        json: bool,
        /// Print every command and request the run would send (local commands, Ray Jobs API
        /// requests, Slurm submit scripts, SSM SendCommand parameters) and send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List runs from the journal; `runs show RUN` prints one run's manifests.
    Runs {
        #[command(subcommand)]
        show: Option<RunsCmd>,
        #[arg(long)]
        json: bool,
    },
    /// Print (or follow) the logs of a run, merged by time with its target's CloudWatch log
    /// groups; or one CloudWatch log group (`--group G [--stream S] --follow`); or, with
    /// `--list`, the log groups (under --group as a prefix) or the streams of `--group G`.
    Logs {
        /// Run id (a unique prefix is enough).
        run: Option<String>,
        #[arg(long, value_enum)]
        phase: Option<PhaseArg>,
        /// A CloudWatch log group to tail (FilterLogEvents, de-duplicated by event id).
        #[arg(long)]
        group: Option<String>,
        /// Only these streams of --group (repeat; up to 100). With --list: a stream name prefix.
        #[arg(long = "stream")]
        streams: Vec<String>,
        /// With --group: a CloudWatch filter pattern. For a run: a regular expression (smart
        /// case; `!re` keeps the lines that do not match), over every source.
        #[arg(long)]
        filter: Option<String>,
        /// From when: 30s, 10m, 2h, 1d ago, epoch ms, or a time (2026-11-26T05:00:00Z).
        /// Default: 10 minutes ago for a group, the run's start for a run.
        #[arg(long)]
        since: Option<String>,
        /// Until when (same forms): a window instead of the newest events.
        #[arg(long)]
        until: Option<String>,
        /// A run's sources: pre, sol, cw (repeat or comma-separate; default all).
        #[arg(long, value_delimiter = ',')]
        source: Vec<String>,
        /// List log groups, or the streams of --group.
        #[arg(long)]
        list: bool,
        /// Seconds between CloudWatch polls while following (doubled on throttling).
        #[arg(long, default_value_t = 2.0)]
        poll: f64,
        #[arg(long, short)]
        follow: bool,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A target's CloudWatch metrics (GetMetricData, batched), or a run's own samples (`--run`),
    /// or what CloudWatch has (`--list NAMESPACE`).
    Metrics {
        #[arg(long)]
        target: Option<String>,
        /// A run's CPU and memory samples instead (the local sampler's, any target).
        #[arg(long)]
        run: Option<String>,
        /// Seconds per point (default: the target's metric_period, else 60).
        #[arg(long)]
        period: Option<i32>,
        /// Average, Maximum, Minimum, Sum, SampleCount, p99, ... (default: each query's own).
        #[arg(long)]
        stat: Option<String>,
        /// From when (30s, 10m, 2h, 1d ago, or a time); default 3h.
        #[arg(long)]
        since: Option<String>,
        /// List the metrics CloudWatch has in this namespace ("" for all).
        #[arg(long)]
        list: Option<String>,
        /// Add a metric to the target in the project file: NAMESPACE/NAME (AWS/EC2/CPUUtilization),
        /// with `--dimension K=V` (repeat) and `--stat`, `--label`.
        #[arg(long, value_name = "NAMESPACE/NAME")]
        add: Option<String>,
        #[arg(long = "dimension", value_name = "K=V")]
        dimensions: Vec<String>,
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The Slurm queue of a target's cluster (squeue through the target's transport).
    Jobs {
        #[arg(long)]
        target: String,
        #[arg(long)]
        project: Option<PathBuf>,
        /// Partitions and node states (sinfo) instead of the queue.
        #[arg(long)]
        partitions: bool,
        #[arg(long)]
        json: bool,
    },
    /// A target's Ray cluster from its dashboard: nodes, resource use and jobs.
    Ray {
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// SageMaker HyperPod clusters (ListClusters, DescribeCluster, ListClusterNodes): instance
    /// groups, nodes and the SSM target of each node. With `--use-for TARGET --node ID`, point an
    /// ssm target of the project at that node (tandem.toml is edited in place, comments kept).
    Clusters {
        /// Only clusters whose name contains this.
        #[arg(long)]
        name_contains: Option<String>,
        /// Set this target's `instance_id` to the node given with --node.
        #[arg(long, requires = "node")]
        use_for: Option<String>,
        /// A node's instance id or SSM target (or an EC2 instance id for a ParallelCluster head node).
        #[arg(long, requires = "use_for")]
        node: Option<String>,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Cancel a run's running phases: scancel for Slurm jobs, SIGTERM then SIGKILL for local ones.
    Cancel {
        /// Run id (a unique prefix is enough).
        run: String,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Print the head of an object (a ranged GET: the object is never read whole).
    Cat {
        /// `s3://bucket/key` or `local://bucket/key`
        uri: String,
        /// How many bytes from the start.
        #[arg(long, default_value_t = 65536)]
        bytes: u64,
        #[arg(long)]
        project: Option<PathBuf>,
    },
    /// Copy objects or prefixes between S3 (or the local store) and files: `s3://b/k` <-> PATH.
    Cp {
        src: String,
        dst: String,
        #[arg(long, short)]
        recursive: bool,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
        /// Multipart part size in MiB.
        #[arg(long, default_value_t = 8)]
        part_size_mb: u64,
        /// Parts (or files) in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// List buckets, prefixes and objects: `s3://bucket/prefix`, or `local://bucket/prefix` in the
    /// target's directory store.
    Ls {
        uri: Option<String>,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long, short)]
        recursive: bool,
        #[arg(long)]
        json: bool,
    },
    /// Draw a field (.npy) or a series (.csv) to PNG or SVG. FILE may be a directory or a glob
    /// of snapshots (`out/field_*.npy`): `--snapshot N` picks the Nth in name order (from 0;
    /// negative counts from the end; default the last). FILE may be in S3 (`s3://bucket/key`, a
    /// prefix ending in `/`, or a glob): a .npy is read by ranges, its header and the values drawn.
    Plot {
        file: String,
        /// Another file (or directory, glob, S3 URI; the same --snapshot) drawn beside FILE, or
        /// overlaid on it for series, on one scale. Series: repeat for up to three more.
        #[arg(long)]
        compare: Vec<String>,
        /// With --compare: FILE's field minus the other's (coolwarm, centred on zero).
        #[arg(long, requires = "compare")]
        diff: bool,
        #[arg(long, allow_hyphen_values = true)]
        snapshot: Option<i64>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// Series: the x column.
        #[arg(long)]
        x: Option<String>,
        /// Series: y columns (repeat or comma-separate).
        #[arg(long, value_delimiter = ',')]
        y: Vec<String>,
        #[arg(long)]
        log_y: bool,
        #[arg(long, default_value = "inferno")]
        cmap: String,
        /// Heatmap: a fixed colour range LOW,HIGH (default: the field's own).
        #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
        range: Vec<f64>,
        /// Slice: the row to draw.
        #[arg(long)]
        row: Option<usize>,
        /// Slice: the column to draw.
        #[arg(long, conflicts_with = "row")]
        col: Option<usize>,
        #[arg(long, default_value_t = 1200)]
        width: u32,
        #[arg(long, default_value_t = 800)]
        height: u32,
        #[arg(long)]
        json: bool,
    },
    /// Validate a project file.
    Check {
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The sample project's built-in tools.
    #[command(subcommand)]
    Tool(Tool),
}

#[derive(Subcommand, Debug)]
pub enum RunsCmd {
    /// One run's manifests (what each phase wrote next to its outputs as tandem-manifest.json: the
    /// project's hash, input ETags, commands, engine ids, version, times), else its journal record.
    Show {
        /// Run id (a unique prefix is enough).
        run: String,
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Pick up a run that a stopped tandem left unfinished (re-attach to its jobs, follow their
    /// logs from where they stood, submit what is left, each phase once). Without RUN, every such
    /// run. When another live tandem drives the run, follow it until it ends instead.
    Resume {
        /// Run id (a unique prefix is enough).
        run: Option<String>,
        /// The project file (default: the one each run was started from).
        #[arg(long)]
        project: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

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

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum PhaseArg {
    Preprocess,
    Solve,
}

impl From<PhaseArg> for PhaseId {
    fn from(p: PhaseArg) -> PhaseId {
        match p {
            PhaseArg::Preprocess => PhaseId::Preprocess,
            PhaseArg::Solve => PhaseId::Solve,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum KindArg {
    Heatmap,
    Line,
    /// A row (`--row`) or column (`--col`) of a field as a line; neither: the middle row.
    Slice,
}

/// An error with the exit code it means.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub msg: String,
}

impl Exit {
    pub fn bad(msg: impl Into<String>) -> Exit {
        Exit {
            code: 2,
            msg: msg.into(),
        }
    }
    pub fn failed(msg: impl Into<String>) -> Exit {
        Exit {
            code: 1,
            msg: msg.into(),
        }
    }
}

pub fn workspace(g: &Global) -> Workspace {
    Workspace::new(g.data_dir.clone().unwrap_or_else(Workspace::default_dir))
}

fn load_project(p: Option<&Path>) -> Result<project::Project, Exit> {
    let file = project::locate(p);
    project::load(&file).map_err(|e| Exit::bad(e.to_string()))
}

fn print_json<T: serde::Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

pub async fn run_cmd(cmd: Cmd, g: &Global) -> Result<(), Exit> {
    match cmd {
        Cmd::Check { project, json } => {
            let file = project::locate(project.as_deref());
            match project::load(&file) {
                Ok(p) => {
                    if json {
                        print_json(
                            &serde_json::json!({"ok": true, "file": file, "name": p.name, "hash": p.hash}),
                        );
                    } else {
                        println!(
                            "{}: ok ({}, {} datasets, {} plots, targets: {})",
                            file.display(),
                            p.name,
                            p.datasets.len(),
                            p.plots.len(),
                            p.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                        );
                    }
                    Ok(())
                }
                Err(e) => {
                    if json {
                        print_json(
                            &serde_json::json!({"ok": false, "file": e.file, "line": e.pos.map(|p| p.line), "col": e.pos.map(|p| p.col), "key": e.key, "message": e.message}),
                        );
                    }
                    Err(Exit::bad(e.to_string()))
                }
            }
        }
        Cmd::Run {
            project,
            phase,
            target,
            json,
            dry_run,
        } => {
            let p = Arc::new(load_project(project.as_deref())?);
            let target = target.unwrap_or_else(|| p.default_target.clone());
            if !p.targets.contains_key(&target) {
                return Err(Exit::bad(format!(
                    "unknown target `{target}` (known: {})",
                    p.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            let phases = phase
                .map(|x| vec![x.into()])
                .unwrap_or_else(|| PhaseId::ALL.to_vec());
            let ws = workspace(g);
            let run = prepare_run(&p, &target, &phases);
            if dry_run {
                let store = ws.open_store(&p, &target, &g.s3()).await;
                let steps = crate::pipeline::executor::plan(&ws, p, store, run).await;
                let failed = steps.iter().any(|s| s.get("error").is_some());
                if json {
                    print_json(&steps);
                } else {
                    print_plan(&steps);
                }
                return if failed {
                    Err(Exit::bad(String::new()))
                } else {
                    Ok(())
                };
            }
            if !json {
                eprintln!(
                    "run {} · {} · target {} · logs in {}",
                    run.id,
                    p.name,
                    target,
                    ws.run_dir(&run.id).display()
                );
            }
            let store = ws.open_store(&p, &target, &g.s3()).await;
            let r = drive(ws, p, store, run, json).await?;
            if r.state == RunState::Succeeded {
                Ok(())
            } else {
                Err(Exit {
                    code: 1,
                    msg: String::new(),
                })
            }
        }
        Cmd::Runs {
            show: Some(RunsCmd::Resume { run, project, json }),
            ..
        } => runs_resume(g, run.as_deref(), project.as_deref(), json).await,
        Cmd::Runs {
            show: Some(RunsCmd::Show { run, project, json }),
            ..
        } => runs_show(g, &run, project.as_deref(), json).await,
        Cmd::Runs { json, .. } => {
            let ws = workspace(g);
            let l = ws.journal.load().map_err(|e| {
                Exit::failed(format!("reading {}: {e}", ws.journal.path().display()))
            })?;
            for s in &l.skipped {
                eprintln!("warning: skipped {s}");
            }
            if json {
                print_json(&l.runs);
            } else if l.runs.is_empty() {
                println!("no runs yet");
            } else {
                let now = chrono::Utc::now();
                println!(
                    "{:<22} {:<10} {:<26} {:<9} {:<8} project",
                    "id", "state", "phases", "took", "target"
                );
                for r in &l.runs {
                    let ph: Vec<String> = r
                        .phases
                        .iter()
                        .map(|p| format!("{}:{}", p.phase, p.state))
                        .collect();
                    println!(
                        "{:<22} {:<10} {:<26} {:<9} {:<8} {}",
                        r.id,
                        r.state.as_str(),
                        ph.join(" "),
                        r.duration(now).map(fmt_duration).unwrap_or_default(),
                        r.target,
                        crate::observe::sanitize(&r.project)
                    );
                }
            }
            Ok(())
        }
        Cmd::Logs {
            run,
            phase,
            group,
            streams,
            filter,
            since,
            until,
            source,
            list,
            poll,
            follow,
            project,
            json,
        } => {
            watch::logs(
                g,
                watch::LogsArgs {
                    run,
                    phase: phase.map(Into::into),
                    group,
                    streams,
                    filter,
                    since,
                    until,
                    sources: source,
                    list,
                    poll,
                    follow,
                    json,
                    project,
                },
            )
            .await
        }
        Cmd::Metrics {
            target,
            run,
            period,
            stat,
            since,
            list,
            add,
            dimensions,
            label,
            project,
            json,
        } => {
            watch::metrics(
                g,
                watch::MetricsArgs {
                    target,
                    run,
                    period,
                    stat,
                    since,
                    list,
                    add,
                    dimensions,
                    label,
                    json,
                    project,
                },
            )
            .await
        }
        Cmd::Jobs {
            target,
            project,
            partitions,
            json,
        } => jobs(&target, project.as_deref(), partitions, json).await,
        Cmd::Ray {
            target,
            project,
            json,
        } => {
            let p = load_project(project.as_deref())?;
            let target = target.unwrap_or_else(|| p.default_target.clone());
            let ray = crate::engine::ray::for_target(&p, &target)
                .await
                .map_err(Exit::bad)?;
            let c = ray
                .cluster()
                .await
                .map_err(|e| Exit::failed(e.to_string()))?;
            if json {
                print_json(&c);
                return Ok(());
            }
            println!(
                "{} · {} nodes · {} running jobs",
                ray.describe(),
                c.nodes.len(),
                c.running_jobs()
            );
            for (k, (u, t)) in &c.usage {
                println!("  {k:<20} {u} / {t}");
            }
            println!("\n{:<16} {:<7} {:<6} resources", "node ip", "role", "state");
            for n in &c.nodes {
                let res: Vec<String> = n
                    .resources
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                println!(
                    "{:<16} {:<7} {:<6} {}",
                    crate::observe::sanitize(&n.ip),
                    if n.head { "head" } else { "worker" },
                    crate::observe::sanitize(&n.state),
                    crate::observe::sanitize(&res.join(" "))
                );
            }
            println!("\n{:<36} {:<10} entrypoint", "submission id", "status");
            for j in &c.jobs {
                println!(
                    "{:<36} {:<10} {}",
                    crate::observe::sanitize(j.submission_id.as_deref().unwrap_or("-")),
                    crate::observe::sanitize(&j.status),
                    crate::observe::sanitize(&j.entrypoint)
                );
            }
            Ok(())
        }
        Cmd::Clusters {
            name_contains,
            use_for,
            node,
            project,
            json,
        } => {
            clusters(
                g,
                name_contains,
                use_for.zip(node),
                project.as_deref(),
                json,
            )
            .await
        }
        Cmd::Cancel { run, project, json } => cancel(g, &run, project.as_deref(), json).await,
        Cmd::Ls {
            uri,
            project,
            target,
            recursive,
            json,
        } => {
            let loc = Location::parse(uri.as_deref().unwrap_or(""));
            let store = open_store(g, &loc, project.as_deref(), target.as_deref()).await?;
            let Some(bucket) = loc.bucket else {
                let bs = store.list_buckets().await.map_err(store_exit)?;
                if json {
                    print_json(&bs);
                } else {
                    for b in bs {
                        println!("{}/", crate::observe::sanitize(&b.name));
                    }
                }
                return Ok(());
            };
            let mut all = Vec::new();
            if recursive {
                // folders listed concurrently, printed in key order as they complete
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                crate::storage::list_tree(&*store, &bucket, &loc.key, 16, |batch| {
                    use std::io::Write;
                    if json {
                        all.extend(batch.into_iter().map(Entry::Object));
                        return;
                    }
                    for o in &batch {
                        let _ = writeln!(out, "{}", ls_line(o));
                    }
                    let _ = out.flush();
                })
                .await
                .map_err(store_exit)?;
                drop(out);
                if json {
                    print_json(&all);
                }
                return Ok(());
            }
            let mut token = None;
            loop {
                let page = store
                    .list_page(
                        &bucket,
                        &loc.key,
                        !recursive,
                        token.clone(),
                        crate::storage::page_size(&token),
                    )
                    .await
                    .map_err(store_exit)?;
                for e in &page.entries {
                    if !json {
                        match e {
                            Entry::Prefix { prefix } => println!(
                                "{:>12}  {:<16}  {}",
                                "PRE",
                                "",
                                crate::observe::sanitize(prefix)
                            ),
                            Entry::Object(o) => println!("{}", ls_line(o)),
                        }
                    }
                }
                if json {
                    all.extend(page.entries);
                }
                match page.next {
                    Some(t) => token = Some(t),
                    None => break,
                }
            }
            if json {
                print_json(&all);
            }
            Ok(())
        }
        Cmd::Plot {
            file,
            compare,
            diff,
            snapshot,
            out,
            kind,
            x,
            y,
            log_y,
            cmap,
            range,
            row,
            col,
            width,
            height,
            json,
        } => {
            let range = match range.as_slice() {
                [] => None,
                [lo, hi] if lo < hi => Some((*lo, *hi)),
                _ => {
                    return Err(Exit::bad(format!(
                        "--range {}: expected LOW,HIGH with LOW < HIGH",
                        range
                            .iter()
                            .map(|v| v.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )))
                }
            };
            if crate::plot::export::Format::from_path(&out).is_none() {
                return Err(Exit::bad(format!(
                    "{}: the output must end in .png or .svg",
                    out.display()
                )));
            }
            if !crate::project::COLOR_MAPS.contains(&cmap.as_str()) {
                return Err(Exit::bad(format!(
                    "unknown colour map `{cmap}`, expected one of {}",
                    crate::project::COLOR_MAPS.join(", ")
                )));
            }
            let t0 = std::time::Instant::now();
            let (src, name) = plot_file(g, &file, snapshot).await?;
            let kind = match kind {
                Some(KindArg::Heatmap) => PlotKind::Heatmap,
                Some(KindArg::Line) => PlotKind::Line,
                Some(KindArg::Slice) => PlotKind::Slice,
                None if name.ends_with(".npy") => PlotKind::Heatmap,
                None => PlotKind::Line,
            };
            let title = name.rsplit('/').next().unwrap_or(&name).to_string();
            let spec = crate::project::PlotSpec {
                name: title.clone(),
                kind,
                phase: crate::project::PhaseId::Solve,
                file: name.clone(),
                x,
                y,
                log_y,
                cmap,
                row,
                col,
                range,
            };
            let read = |src: crate::plot::source::Source, name: String| {
                let spec = spec.clone();
                async move {
                    let (data, read) = crate::app::plotload::read_data(&src, &spec, &name, None)
                        .await
                        .map_err(Exit::bad)?;
                    Ok::<_, Exit>((data, src.name(&name), read))
                }
            };
            if compare.len() > 1 && (diff || kind != PlotKind::Line) {
                return Err(Exit::bad(
                    "fields and differences compare two files: give one --compare".to_string(),
                ));
            }
            if compare.len() + 1 > crate::app::plots::OVERLAY {
                return Err(Exit::bad(format!(
                    "at most {} series overlaid: give up to {} --compare",
                    crate::app::plots::OVERLAY,
                    crate::app::plots::OVERLAY - 1
                )));
            }
            let (mut data, shown, stats) = read(src, name).await?;
            let mut others = Vec::new();
            for other in &compare {
                let (src_b, name_b) = plot_file(g, other, snapshot).await?;
                let (b, shown_b, _) = read(src_b, name_b).await?;
                others.push((shown_b, b));
            }
            let mut names = vec![shown.clone()];
            names.extend(others.iter().map(|o| o.0.clone()));
            let labels = short_labels(&names);
            let label = labels[0].clone();
            let title = match (&labels[1..], diff) {
                ([], _) => title,
                ([v], true) => format!("{label} − {v}"),
                (vs, _) => format!("{label} vs {}", vs.join(" vs ")),
            };
            let mut others = labels[1..]
                .iter()
                .cloned()
                .zip(others.into_iter().map(|o| o.1));
            if let Some((other, b)) = others.next() {
                data = if diff {
                    crate::app::plots::difference_of(data, b).map_err(Exit::bad)?
                } else {
                    PlotData::Compare {
                        a: Box::new(data),
                        b: Box::new(b),
                        other,
                        more: others.collect(),
                    }
                };
            }
            let how = crate::app::plotload::ExportAs {
                label: &label,
                diff,
                hold: None,
                title: &title,
                size: (width, height),
            };
            crate::app::plotload::export(&spec, &data, &how, &out).map_err(Exit::failed)?;
            if json {
                print_json(&serde_json::json!({
                    "file": shown,
                    "out": out,
                    "ms": t0.elapsed().as_secs_f64() * 1000.0,
                    "bytes_read": stats.bytes,
                    "read_by_ranges": stats.ranged,
                }));
            } else {
                eprintln!("wrote {}", out.display());
            }
            Ok(())
        }
        Cmd::Cat {
            uri,
            bytes,
            project,
        } => {
            use std::io::{IsTerminal, Write};
            let loc = Location::parse(&uri);
            let Some(bucket) = loc.bucket.clone().filter(|_| !loc.key.is_empty()) else {
                return Err(Exit::bad(format!(
                    "`{uri}`: expected s3://bucket/key or local://bucket/key"
                )));
            };
            let store = open_store(g, &loc, project.as_deref(), None).await?;
            let data = store
                .get_range(&bucket, &loc.key, 0..bytes)
                .await
                .map_err(store_exit)?;
            let mut out = std::io::stdout();
            // raw bytes into a pipe; on a terminal, escape sequences are shown, not run
            let r = if out.is_terminal() {
                out.write_all(crate::observe::sanitize_bytes(&data).as_bytes())
            } else {
                out.write_all(&data)
            };
            r.and_then(|_| out.flush())
                .map_err(|e| Exit::failed(e.to_string()))
        }
        Cmd::Cp {
            src,
            dst,
            recursive,
            force,
            part_size_mb,
            concurrency,
            project,
            json,
        } => {
            let t = crate::storage::transfer::Tuning {
                part_size: part_size_mb.max(5) << 20,
                concurrency: concurrency.max(1),
            };
            copy(g, &src, &dst, recursive, force, t, project.as_deref(), json).await
        }
        Cmd::Tool(Tool::BenchRayLogs {
            dashboard,
            job,
            out,
            temp_dir,
        }) => bench_ray_logs(&dashboard, &job, &out, temp_dir).await,
        Cmd::Tool(t) => tool(t),
    }
}

fn is_store_uri(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("local://")
}

/// The store a location lives in: S3 for `s3://`, else the project target's directory store.
pub async fn open_store(
    g: &Global,
    loc: &Location,
    project: Option<&Path>,
    target: Option<&str>,
) -> Result<Arc<dyn ObjectStore>, Exit> {
    if loc.s3 {
        return Ok(Arc::new(
            crate::storage::s3::S3Store::connect(&g.s3()).await,
        ));
    }
    let p = load_project(project)?;
    let target = target
        .map(str::to_string)
        .unwrap_or_else(|| p.default_target.clone());
    Ok(workspace(g).open_store(&p, &target, &g.s3()).await)
}

/// Store errors as exit codes: what the user named is wrong (2), or the store failed (1).
pub fn store_exit(e: crate::storage::StoreError) -> Exit {
    use crate::storage::StoreError::*;
    let msg = crate::observe::sanitize(&e.to_string()).into_owned();
    match e {
        BadKey { .. } | NoBucket(_) | NotFound { .. } | Exists(_) => Exit::bad(msg),
        _ => Exit::failed(msg),
    }
}

#[allow(clippy::too_many_arguments)]
async fn copy(
    g: &Global,
    src: &str,
    dst: &str,
    recursive: bool,
    force: bool,
    t: crate::storage::transfer::Tuning,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Exit> {
    use crate::storage::transfer::{download, plan_download, plan_upload, upload, Progress};
    let progress = Arc::new(Progress::default());
    let cancel = tokio_util::sync::CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    let t0 = std::time::Instant::now();
    let ticker = tokio::spawn(show_progress(progress.clone(), json));
    let result = match (is_store_uri(src), is_store_uri(dst)) {
        (true, false) => {
            let loc = Location::parse(src);
            let bucket = loc
                .bucket
                .clone()
                .ok_or_else(|| Exit::bad(format!("`{src}`: no bucket")))?;
            let store = open_store(g, &loc, project, None).await?;
            let items = plan_download(
                store.as_ref(),
                &bucket,
                &loc.key,
                Path::new(dst),
                recursive,
                force,
            )
            .await
            .map_err(store_exit)?;
            download(store, &bucket, &items, t, progress.clone(), cancel)
                .await
                .map(|_| items.len())
        }
        (false, true) => {
            let loc = Location::parse(dst);
            let bucket = loc
                .bucket
                .clone()
                .ok_or_else(|| Exit::bad(format!("`{dst}`: no bucket")))?;
            let store = open_store(g, &loc, project, None).await?;
            let items = plan_upload(Path::new(src), &loc.key, recursive).map_err(store_exit)?;
            upload(store, &bucket, &items, t, progress.clone(), cancel)
                .await
                .map(|_| items.len())
        }
        _ => return Err(Exit::bad(
            "cp copies between a store (s3://bucket/key or local://bucket/key) and a local path",
        )),
    };
    ticker.abort();
    let (done, _) = progress.snapshot();
    let secs = t0.elapsed().as_secs_f64();
    match result {
        Ok(files) => {
            if json {
                print_json(
                    &serde_json::json!({"files": files, "bytes": done, "seconds": secs, "mib_per_s": done as f64 / 1048576.0 / secs.max(1e-9)}),
                );
            } else {
                eprintln!(
                    "\r\x1b[2K{files} file(s), {} in {secs:.1}s ({}/s)",
                    crate::views::human_bytes(done),
                    crate::views::human_bytes((done as f64 / secs.max(1e-9)) as u64)
                );
            }
            Ok(())
        }
        Err(e) => {
            eprintln!();
            Err(store_exit(e))
        }
    }
}

/// A progress line on stderr, ten times a second, when stderr is a terminal.
async fn show_progress(p: Arc<crate::storage::transfer::Progress>, json: bool) {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return;
    }
    let t0 = std::time::Instant::now();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (done, total) = p.snapshot();
        let rate = done as f64 / t0.elapsed().as_secs_f64().max(1e-3);
        let eta = if rate > 0.0 {
            (total.saturating_sub(done)) as f64 / rate
        } else {
            0.0
        };
        let files = (
            p.files_done.load(std::sync::atomic::Ordering::Relaxed),
            p.files_total.load(std::sync::atomic::Ordering::Relaxed),
        );
        eprint!(
            "\r\x1b[2K{} / {}  {}/s  ETA {eta:.0}s  {}/{} files",
            crate::views::human_bytes(done),
            crate::views::human_bytes(total),
            crate::views::human_bytes(rate as u64),
            files.0,
            files.1
        );
    }
}

/// `tandem plot FILE --snapshot N`: FILE itself, or the Nth file (name order) of a directory, a
/// glob or an S3 prefix (`s3://bucket/prefix/`, `s3://bucket/out/field_*.npy`); the last when N is
/// not given. As the source to read it from and its name there.
async fn plot_file(
    g: &Global,
    file: &str,
    n: Option<i64>,
) -> Result<(crate::plot::source::Source, String), Exit> {
    use crate::plot::source::Source;
    let globbed = file.contains(['*', '?', '[']);
    let (src, pattern) = if file.starts_with("s3://") {
        let loc = Location::parse(file);
        let Some(bucket) = loc.bucket.clone() else {
            return Err(Exit::bad(format!("`{file}`: expected s3://bucket/key")));
        };
        let key = loc.key.as_str();
        // the folder part is listed; the rest names the file(s)
        let cut = match key.find(['*', '?', '[']) {
            Some(i) => key[..i].rfind('/').map_or(0, |j| j + 1),
            None => key.rfind('/').map_or(0, |j| j + 1),
        };
        let store: Arc<dyn ObjectStore> =
            Arc::new(crate::storage::s3::S3Store::connect(&g.s3()).await);
        let src = Source::store(store, &format!("{bucket}/{}", &key[..cut]))
            .ok_or_else(|| Exit::bad(format!("`{file}`: expected s3://bucket/key")))?;
        let rest = &key[cut..];
        if rest.is_empty() {
            (src, "*".to_string())
        } else if !globbed {
            return one_snapshot(file, n).map(|_| (src, rest.to_string()));
        } else {
            (src, rest.to_string())
        }
    } else {
        let path = Path::new(file);
        if !globbed && !path.is_dir() {
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = path
                .file_name()
                .map(|x| x.to_string_lossy().into_owned())
                .unwrap_or_default();
            return one_snapshot(file, n).map(|_| (Source::Dir(dir.to_path_buf()), name));
        }
        if globbed {
            // the glob's fixed leading folders are the directory, the rest its pattern
            let cut = file[..file.find(['*', '?', '[']).unwrap_or(0)]
                .rfind('/')
                .map_or(0, |j| j + 1);
            let dir = if cut == 0 { "." } else { &file[..cut] };
            (Source::Dir(dir.into()), file[cut..].to_string())
        } else {
            (Source::Dir(path.to_path_buf()), "*".to_string())
        }
    };
    let mut files: Vec<String> = src
        .files(&pattern)
        .await
        .map_err(|e| Exit::bad(format!("{file}: {e}")))?
        .into_iter()
        .filter(|f| f.ends_with(".npy") || f.ends_with(".csv"))
        .collect();
    if files.is_empty() {
        return Err(Exit::bad(format!("{file}: no .npy or .csv files")));
    }
    let len = files.len() as i64;
    let i = n.unwrap_or(-1);
    let at = if i < 0 { len + i } else { i };
    if !(0..len).contains(&at) {
        return Err(Exit::bad(format!(
            "--snapshot {i}: {file} has {len} snapshots (0..{}, or -1 for the last)",
            len - 1
        )));
    }
    Ok((src, files.swap_remove(at as usize)))
}

/// A single file allows no other snapshot than 0 or -1.
fn one_snapshot(file: &str, n: Option<i64>) -> Result<(), Exit> {
    match n {
        None | Some(0) | Some(-1) => Ok(()),
        Some(n) => Err(Exit::bad(format!(
            "--snapshot {n}: {file} is one file; give a directory, a prefix or a glob of snapshots"
        ))),
    }
}

/// Compared files named by what tells them apart: their names without the folders they share.
fn short_labels(names: &[String]) -> Vec<String> {
    let first = names.first().map(String::as_str).unwrap_or("");
    let common = names[1..]
        .iter()
        .map(|n| {
            first
                .chars()
                .zip(n.chars())
                .take_while(|(x, y)| x == y)
                .map(|(x, _)| x.len_utf8())
                .sum::<usize>()
        })
        .min()
        .unwrap_or(0);
    // back to a folder boundary, so a label starts at a whole name
    let cut = first[..common].rfind('/').map_or(0, |j| j + 1);
    names.iter().map(|n| n[cut..].to_string()).collect()
}

fn tool(t: Tool) -> Result<(), Exit> {
    let fail = |e: anyhow::Error| Exit::failed(format!("{e:#}"));
    match t {
        Tool::Gen {
            out,
            seed,
            size_mb,
            files,
        } => {
            let r = crate::tools::gen::generate(&out, seed, size_mb, files)
                .map_err(|e| Exit::failed(format!("{}: {e}", out.display())))?;
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
            })
            .map(|_| ())
            .map_err(fail)
        }
        Tool::BenchRayLogs { .. } => Err(Exit::bad("bench-ray-logs runs on the async path")),
        Tool::BenchListing { keys } => {
            let r = crate::app::update::bench_listing(keys);
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            Ok(())
        }
        Tool::BenchHeat2d { nx, ny, steps } => {
            let r = crate::tools::heat2d::bench(nx, ny, steps);
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            Ok(())
        }
    }
}

/// One object as `tandem ls` prints it: size, time, key (sanitised).
fn ls_line(o: &crate::storage::ObjectMeta) -> String {
    format!(
        "{:>12}  {:<16}  {}",
        o.size,
        o.modified
            .map(|m| m.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        crate::observe::sanitize(&o.key)
    )
}

/// The Slurm side of a target, or a clear error.
fn slurm_target(p: &project::Project, target: &str) -> Result<project::SlurmTarget, Exit> {
    match p.targets.get(target).map(|t| &t.kind) {
        Some(project::TargetKind::Slurm(s)) => Ok((**s).clone()),
        Some(_) => Err(Exit::bad(format!(
            "target `{target}` is not a Slurm target"
        ))),
        None => Err(Exit::bad(format!(
            "unknown target `{target}` (known: {})",
            p.targets.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

async fn jobs(
    target: &str,
    project: Option<&Path>,
    partitions: bool,
    json: bool,
) -> Result<(), Exit> {
    let p = load_project(project)?;
    let st = slurm_target(&p, target)?;
    let t = crate::transport::connect(&st.transport)
        .await
        .map_err(|e| Exit::failed(e.to_string()))?;
    let slurm = crate::engine::slurm::Slurm::new(&*t, &st.slurm);
    let c = tokio_util::sync::CancellationToken::new();
    if partitions {
        let lines = slurm
            .sinfo(&c)
            .await
            .map_err(|e| Exit::failed(e.to_string()))?;
        if json {
            print_json(&lines);
        } else {
            lines.iter().for_each(|l| println!("{l}"));
        }
        return Ok(());
    }
    let q = slurm
        .queue(&c)
        .await
        .map_err(|e| Exit::failed(e.to_string()))?;
    if json {
        print_json(&q);
        return Ok(());
    }
    println!(
        "{:>10}  {:<24} {:<10} {:<11} {:<18} {:>9} {:>5}",
        "JOBID", "NAME", "USER", "STATE", "REASON", "ELAPSED", "NODES"
    );
    for j in &q {
        let s = |x: &str| crate::observe::sanitize(x).into_owned();
        println!(
            "{:>10}  {:<24} {:<10} {:<11} {:<18} {:>9} {:>5}",
            s(&j.id),
            s(&j.name),
            s(&j.user),
            s(&j.state),
            s(&j.reason),
            crate::pipeline::fmt_duration(chrono::Duration::seconds(j.elapsed_s as i64)),
            j.nodes
        );
    }
    Ok(())
}

/// Cancel what of `run` is still running: its Slurm jobs with scancel on their target, its local
/// processes with SIGTERM to their process group.
async fn cancel(g: &Global, run: &str, project: Option<&Path>, json: bool) -> Result<(), Exit> {
    let ws = workspace(g);
    let loaded = ws
        .journal
        .load()
        .map_err(|e| Exit::failed(format!("reading the journal: {e}")))?;
    let matches: Vec<_> = loaded
        .runs
        .iter()
        .filter(|r| r.id.starts_with(run))
        .collect();
    let r = match matches[..] {
        [r] => r.clone(),
        [] => return Err(Exit::bad(format!("no run `{run}` in the journal"))),
        _ => {
            return Err(Exit::bad(format!(
                "`{run}` matches {} runs: give more of the id",
                matches.len()
            )))
        }
    };
    let mut done = Vec::new();
    for ph in r.phases.iter().filter(|p| p.state.is_active()) {
        if let Some(job) = &ph.engine_id {
            let p = match project {
                Some(f) => load_project(Some(f))?,
                None => project::load(Path::new(&r.project_file))
                    .map_err(|e| Exit::bad(e.to_string()))?,
            };
            let st = slurm_target(&p, &r.target)?;
            let t = crate::transport::connect(&st.transport)
                .await
                .map_err(|e| Exit::failed(e.to_string()))?;
            crate::engine::slurm::Slurm::new(&*t, &st.slurm)
                .cancel(job, &tokio_util::sync::CancellationToken::new())
                .await
                .map_err(|e| Exit::failed(e.to_string()))?;
            done.push(format!("{}: scancel {job}", ph.phase));
        } else if let Some(pid) = ph.pid {
            let pg = nix::unistd::Pid::from_raw(-(pid as i32));
            match nix::sys::signal::kill(pg, nix::sys::signal::Signal::SIGTERM) {
                Ok(()) => done.push(format!("{}: SIGTERM to process group {pid}", ph.phase)),
                Err(e) => done.push(format!("{}: process group {pid}: {e}", ph.phase)),
            }
        }
    }
    if json {
        print_json(&serde_json::json!({"run": r.id, "cancelled": done}));
    } else if done.is_empty() {
        println!("{}: nothing running", r.id);
    } else {
        done.iter().for_each(|d| println!("{}: {d}", r.id));
    }
    Ok(())
}

async fn clusters(
    g: &Global,
    name_contains: Option<String>,
    pick: Option<(String, String)>,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Exit> {
    use crate::cluster::{self, hyperpod};
    use crate::observe::sanitize;
    let opts = cluster::DiscoverOpts {
        aws: g.aws(),
        name_contains,
        ..Default::default()
    };
    let client = hyperpod::client(&opts.aws).await;
    let found = cluster::discover(&client, &opts)
        .await
        .map_err(|e| Exit::failed(e.message))?;
    if let Some((target, node)) = pick {
        let ssm = found
            .clusters
            .iter()
            .flat_map(|c| &c.nodes)
            .find(|n| n.instance_id == node || n.ssm_target == node)
            .map(|n| n.ssm_target.clone())
            .or_else(|| node.starts_with("i-").then(|| node.clone()))
            .ok_or_else(|| {
                let n: usize = found.clusters.iter().map(|c| c.nodes.len()).sum();
                Exit::bad(format!(
                    "no node `{node}` in the {} cluster(s) found ({n} nodes); give an instance id, a node's SSM target, or an EC2 instance id (i-…)",
                    found.clusters.len()
                ))
            })?;
        let file = project::locate(project);
        cluster::pick::set_head_node(&file, &target, &ssm).map_err(|e| Exit::bad(e.to_string()))?;
        if json {
            print_json(&serde_json::json!({"target": target, "instance_id": ssm, "file": file}));
        } else {
            println!(
                "{}: target {target} now reaches {}",
                file.display(),
                sanitize(&ssm)
            );
        }
        return Ok(());
    }
    if json {
        print_json(&found);
        return Ok(());
    }
    if found.clusters.is_empty() {
        println!("no HyperPod clusters ({} AWS calls)", found.api_calls);
    }
    for c in &found.clusters {
        println!(
            "{}  {}  {}  id {}  created {}",
            sanitize(&c.name),
            sanitize(&c.status),
            c.orchestrator.as_deref().unwrap_or("-"),
            sanitize(&c.id),
            c.created.as_deref().unwrap_or("-")
        );
        if let Some(e) = c.error.as_ref().or(c.failure.as_ref()) {
            println!("  ! {}", sanitize(e));
        }
        for gr in &c.groups {
            println!(
                "  group {:<20} {:<16} {}/{} nodes{}",
                sanitize(&gr.name),
                sanitize(&gr.instance_type),
                gr.current,
                gr.target,
                gr.threads_per_core
                    .map(|t| format!(", {t} thread(s) per core"))
                    .unwrap_or_default()
            );
        }
        for n in &c.nodes {
            println!(
                "  node  {:<20} {:<16} {:<10} {}",
                sanitize(&n.instance_id),
                sanitize(&n.group),
                sanitize(&n.status),
                sanitize(&n.ssm_target)
            );
        }
    }
    Ok(())
}

async fn runs_show(g: &Global, run: &str, project: Option<&Path>, json: bool) -> Result<(), Exit> {
    let ws = workspace(g);
    let r = journal_run(&ws, run)?;
    // the manifests as written next to the outputs; the journal's view where none was written
    let p = project::load(Path::new(&r.project_file))
        .or_else(|_| project::load(&project::locate(project)));
    let store = match &p {
        Ok(p) => Some(ws.open_store(p, &r.target, &g.s3()).await),
        Err(_) => None,
    };
    let mut out = Vec::new();
    for ph in &r.phases {
        let (b, k) = ph.output.split_once('/').unwrap_or((&ph.output, ""));
        let key = format!(
            "{}/{}",
            k.trim_end_matches('/'),
            crate::pipeline::executor::MANIFEST
        );
        let written = match &store {
            Some(s) => match s.head(b, &key).await {
                Ok(meta) => s
                    .get_range(b, &key, 0..meta.size)
                    .await
                    .ok()
                    .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok()),
                Err(_) => None,
            },
            None => None,
        };
        out.push(
            written.unwrap_or_else(|| crate::pipeline::executor::manifest(&r, ph.phase, vec![])),
        );
    }
    if json {
        print_json(&serde_json::json!({"run": r.id, "phases": out}));
        return Ok(());
    }
    for m in &out {
        println!(
            "{} {} · {} · {} · engine id {} · {} inputs · project hash {}",
            r.id,
            m["phase"].as_str().unwrap_or_default(),
            m["state"].as_str().unwrap_or_default(),
            crate::observe::sanitize(m["engine"].as_str().unwrap_or_default()),
            crate::observe::sanitize(m["engine_id"].as_str().unwrap_or("-")),
            m["inputs"].as_array().map(|a| a.len()).unwrap_or(0),
            m["project_hash"].as_str().unwrap_or_default(),
        );
    }
    Ok(())
}

/// A run of the journal by id or unique prefix; exit 2 when there is none.
fn journal_run(ws: &Workspace, run: &str) -> Result<crate::pipeline::Run, Exit> {
    ws.journal
        .get(run)
        .map_err(|e| Exit::failed(e.to_string()))?
        .ok_or_else(|| Exit::bad(format!("no run `{run}` in {}", ws.journal.path().display())))
}

/// Execute (or resume) a run in the foreground: phase changes on stderr (JSON lines on stdout with
/// `json`), Ctrl-C cancels. The final record.
async fn drive(
    ws: Workspace,
    p: Arc<project::Project>,
    store: Arc<dyn crate::storage::ObjectStore>,
    run: crate::pipeline::Run,
    json: bool,
) -> Result<crate::pipeline::Run, Exit> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("cancelling (SIGTERM, then SIGKILL after the grace period)…");
            c2.cancel();
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RunEvent>(256);
    let handle = tokio::spawn(execute(ws, p, store, run, cancel, tx));
    let mut last: std::collections::HashMap<PhaseId, RunState> = Default::default();
    while let Some(ev) = rx.recv().await {
        if let RunEvent::Updated(r) = ev {
            print_phase_changes(&r, &mut last, json);
        }
    }
    let r = handle.await.map_err(|e| Exit::failed(e.to_string()))?;
    // not ended: another tandem drives it (the caller follows it)
    if r.state.is_terminal() {
        print_run_end(&r, json);
    }
    Ok(r)
}

fn print_phase_changes(
    r: &crate::pipeline::Run,
    last: &mut std::collections::HashMap<PhaseId, RunState>,
    json: bool,
) {
    for ph in &r.phases {
        if last.get(&ph.phase) == Some(&ph.state) {
            continue;
        }
        last.insert(ph.phase, ph.state);
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "phase", "run": r.id, "phase": ph.phase, "state": ph.state, "engine_id": ph.engine_id, "message": ph.message})
            );
        } else {
            let d = ph
                .duration(chrono::Utc::now())
                .map(fmt_duration)
                .unwrap_or_default();
            let msg = ph
                .message
                .as_deref()
                .map(|m| format!(" · {}", crate::observe::sanitize(m)))
                .unwrap_or_default();
            eprintln!(
                "  {} {:<10} {:<9} {d}{msg}",
                ph.state.glyph(),
                ph.phase.as_str(),
                ph.state.as_str()
            );
        }
    }
}

fn print_run_end(r: &crate::pipeline::Run, json: bool) {
    if json {
        // JSON lines: the events above, then the final record
        println!("{}", serde_json::json!({"event": "end", "run": r}));
    } else {
        eprintln!(
            "run {} {} in {}",
            r.id,
            r.state,
            r.duration(chrono::Utc::now())
                .map(fmt_duration)
                .unwrap_or_default()
        );
    }
}

/// `tandem runs resume [RUN]`.
async fn runs_resume(
    g: &Global,
    run: Option<&str>,
    project: Option<&Path>,
    json: bool,
) -> Result<(), Exit> {
    let ws = workspace(g);
    let runs = match run {
        Some(id) => vec![journal_run(&ws, id)?],
        None => ws
            .journal
            .orphans()
            .map_err(|e| Exit::failed(format!("reading the journal: {e}")))?,
    };
    if runs.is_empty() && !json {
        eprintln!(
            "nothing to resume: every run in the journal ended or is driven by a live tandem"
        );
    }
    let mut ok = true;
    for r in runs {
        if r.state.is_terminal() {
            if !json {
                eprintln!("run {} already {}", r.id, r.state);
            }
            print_run_end(&r, json);
            ok &= r.state == RunState::Succeeded;
            continue;
        }
        let id = r.id.clone();
        let r = loop {
            if let Ok(Some(who)) = ws.journal.driver(&id) {
                if !json {
                    eprintln!("run {id} is driven by {who}: following it");
                }
                match watch(&ws, &id, json).await? {
                    Some(end) => break end,
                    // its driver stopped: take it over
                    None => continue,
                }
            }
            let r = journal_run(&ws, &id)?;
            let file = project
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(&r.project_file));
            let p = Arc::new(project::load(&file).map_err(|e| Exit::bad(e.to_string()))?);
            if p.hash != r.project_hash && !json {
                eprintln!(
                    "note: {} changed since run {id} started; its current settings are used",
                    file.display()
                );
            }
            if !json {
                eprintln!(
                    "resuming run {id} · {} · target {} · logs in {}",
                    p.name,
                    r.target,
                    ws.run_dir(&id).display()
                );
            }
            let store = ws.open_store(&p, &r.target, &g.s3()).await;
            let end = drive(ws.clone(), p, store, r, json).await?;
            if end.state.is_terminal() {
                break end;
            }
            // another tandem took the lease between our look and our try: follow it
        };
        ok &= r.state == RunState::Succeeded;
    }
    if ok {
        Ok(())
    } else {
        Err(Exit {
            code: 1,
            msg: String::new(),
        })
    }
}

/// Follow a run that another tandem drives, from the journal, until it ends; `None` when its
/// driver went away first (the caller takes the run over).
async fn watch(ws: &Workspace, id: &str, json: bool) -> Result<Option<crate::pipeline::Run>, Exit> {
    let mut last = Default::default();
    loop {
        let r = journal_run(ws, id)?;
        print_phase_changes(&r, &mut last, json);
        if r.state.is_terminal() {
            print_run_end(&r, json);
            return Ok(Some(r));
        }
        if ws.journal.driver(id).ok().flatten().is_none() {
            return Ok(None);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// `run --dry-run` for people: each phase's requests, scripts shown as they would run.
fn print_plan(steps: &[serde_json::Value]) {
    println!("dry run: nothing is sent");
    for st in steps {
        let phase = st["phase"].as_str().unwrap_or("?");
        if let Some(e) = st["error"].as_str() {
            println!("\n== {phase}: error: {}", crate::observe::sanitize(e));
            continue;
        }
        println!(
            "\n== {phase} · {} · {}",
            st["engine"].as_str().unwrap_or(""),
            st["to"].as_str().unwrap_or("local process")
        );
        let reqs: Vec<&serde_json::Value> = match st.get("requests") {
            Some(serde_json::Value::Array(a)) => a.iter().collect(),
            _ => vec![st],
        };
        for r in reqs {
            if let Some(argv) = r["argv"].as_array() {
                let words: Vec<String> = argv
                    .iter()
                    .map(|w| {
                        let w = w.as_str().unwrap_or_default();
                        shlex::try_quote(w)
                            .map(|q| q.into_owned())
                            .unwrap_or_else(|_| w.to_string())
                    })
                    .collect();
                // the script travels inside argv; it is shown once below
                if r.get("script").is_none() {
                    println!("$ {}", crate::observe::sanitize(&words.join(" ")));
                } else {
                    println!(
                        "$ {} …",
                        crate::observe::sanitize(&words[..words.len().saturating_sub(1)].join(" "))
                    );
                }
            }
            if let (Some(m), Some(u)) = (r["method"].as_str(), r["url"].as_str()) {
                println!("{m} {}", crate::observe::sanitize(u));
            }
            if r.get("api").is_some() {
                let mut shown = r.clone();
                if let Some(o) = shown.as_object_mut() {
                    o.remove("script");
                    o.remove("batch_script");
                    o.remove("transport");
                }
                println!(
                    "{}",
                    clean_block(&serde_json::to_string_pretty(&shown).unwrap_or_default())
                );
            }
            for (k, label) in [("body", "body"), ("env", "env")] {
                if let Some(b) = r.get(k).filter(|b| !b.is_null()) {
                    println!(
                        "{label}: {}",
                        clean_block(&serde_json::to_string_pretty(b).unwrap_or_default())
                    );
                }
            }
            for (k, label) in [
                ("script", "script run on the head node"),
                ("batch_script", "batch script"),
            ] {
                if let Some(t) = r[k].as_str() {
                    println!("--- {label}\n{}\n---", clean_block(t.trim_end()));
                }
            }
        }
    }
}

/// Untrusted multi-line text for the terminal: each line sanitised, the line breaks kept.
fn clean_block(t: &str) -> String {
    t.lines()
        .map(|l| crate::observe::sanitize(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `tandem tool bench-ray-logs`: see [`Tool::BenchRayLogs`].
async fn bench_ray_logs(
    dashboard: &str,
    job: &str,
    out: &Path,
    temp_dir: Option<String>,
) -> Result<(), Exit> {
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
    let file =
        std::fs::File::create(out).map_err(|e| Exit::failed(format!("{}: {e}", out.display())))?;
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
            Err(e) => return Err(Exit::failed(e.to_string())),
        }
    }
    let (r, mut lags, bytes, end) =
        tokio::time::timeout(std::time::Duration::from_secs(30), follower)
            .await
            .map_err(|_| Exit::failed("the log stream did not end"))?
            .map_err(|e| Exit::failed(e.to_string()))?;
    r.map_err(|e| Exit::failed(e.to_string()))?;
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
