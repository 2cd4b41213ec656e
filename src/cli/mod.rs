//! The command line: the TUI by default, and a headless command for every action, with `--json`
//! wherever the output is data. Exit codes: 0 ok, 1 a run failed, 2 bad input.
//!
//! One file per command: its arguments (`XArgs`) and what it does (`XArgs::run`). This file holds
//! the top-level parser, the options every command shares, and the helpers they share.

/// `println!` that never panics: a run goes on when whoever read its events went away (a
/// closed pipe), where `println!` would stop it half-way.
macro_rules! emit {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `eprintln!` as [`emit!`].
macro_rules! note {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

mod cancel;
mod cat;
mod check;
mod clusters;
mod cp;
mod jobs;
mod logs;
mod ls;
mod metrics;
mod plot;
mod preview;
mod ray;
mod run;
mod runs;
mod sync;
pub mod tool;
mod verify;

use crate::pipeline::{Run, Workspace};
use crate::project::{self, PhaseId};
use crate::storage::{Location, ObjectStore};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    pub fn workspace(&self) -> Workspace {
        Workspace::new(self.data_dir.clone().unwrap_or_else(Workspace::default_dir))
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the pipeline (or one phase) headless, following it to the end.
    Run(run::RunArgs),
    /// List runs from the journal; `runs show RUN` prints one run's manifests.
    Runs(runs::RunsArgs),
    /// Print (or follow) the logs of a run, merged by time with its target's CloudWatch log
    /// groups; or one CloudWatch log group (`--group G [--stream S] --follow`); or, with
    /// `--list`, the log groups (under --group as a prefix) or the streams of `--group G`.
    Logs(logs::LogsArgs),
    /// A target's CloudWatch metrics (GetMetricData, batched), or a run's own samples (`--run`),
    /// or what CloudWatch has (`--list NAMESPACE`).
    Metrics(metrics::MetricsArgs),
    /// The Slurm queue of a target's cluster (squeue through the target's transport).
    Jobs(jobs::JobsArgs),
    /// A target's Ray cluster from its dashboard: nodes, resource use and jobs.
    Ray(ray::RayArgs),
    /// SageMaker HyperPod clusters (ListClusters, DescribeCluster, ListClusterNodes): instance
    /// groups, nodes and the SSM target of each node. With `--use-for TARGET --node ID`, point an
    /// ssm target of the project at that node (tandem.toml is edited in place, comments kept).
    Clusters(clusters::ClustersArgs),
    /// Cancel a run's running phases, each with its own engine: Ray's stop for a Ray job, scancel
    /// for a Slurm job, SIGTERM then SIGKILL for a local process.
    Cancel(cancel::CancelArgs),
    /// Print the head of an object (a ranged GET: the object is never read whole).
    Cat(cat::CatArgs),
    /// The Datasets preview of an object or file, headless: a CSV as a table (its delimiter
    /// sniffed), a .npy's dtype, shape and first values, a Parquet file's schema and first rows
    /// (ranged reads of just the column chunks they need), JSON pretty, text, else hex.
    Preview(preview::PreviewArgs),
    /// Copy objects or prefixes between S3 (or the local store) and files: `s3://b/k` <-> PATH.
    Cp(cp::CpArgs),
    /// Compare a local directory with a store prefix without copying: every key on both sides,
    /// the same size, the same bytes (the checksum stored with each object, else its ETag where
    /// that is an MD5, else a full read). Lists each mismatch; exit 1 if there is one.
    Verify(verify::VerifyArgs),
    /// Make a store prefix hold what a local directory holds, or a directory what a prefix holds:
    /// `tandem sync DIR s3://b/p` or `tandem sync s3://b/p DIR`. Objects are compared by size and
    /// checksum (never by modification time); only what differs is sent, with its checksum
    /// (CRC64NVME unless --checksum says otherwise); --delete removes what the source no longer
    /// has; --dry-run shows what would happen. Multipart uploads resume part by part after an
    /// interruption; each sync leaves a manifest in `_tandem/sync-ID.json` and in the journal.
    /// `--list-uploads s3://b/p` lists the multipart uploads in progress.
    Sync(sync::SyncArgs),
    /// List buckets, prefixes and objects: `s3://bucket/prefix`, or `local://bucket/prefix` in the
    /// target's directory store.
    Ls(ls::LsArgs),
    /// Draw a field (.npy) or a series (.csv) to PNG or SVG. FILE may be a directory or a glob
    /// of snapshots (`out/field_*.npy`): `--snapshot N` picks the Nth in name order (from 0;
    /// negative counts from the end; default the last). FILE may be in S3 (`s3://bucket/key`, a
    /// prefix ending in `/`, or a glob): a .npy is read by ranges, its header and the values drawn.
    Plot(plot::PlotArgs),
    /// Validate a project file.
    Check(check::CheckArgs),
    /// The sample project's built-in tools.
    #[command(subcommand)]
    Tool(tool::Tool),
}

/// Run a headless command.
impl Cmd {
    /// Whether this command drives or follows a run to its end: its output going away (a closed
    /// pipe) must not stop it, where any other command ends as `ls | head` does.
    pub fn drives_a_run(&self) -> bool {
        match self {
            Cmd::Run(_) => true,
            Cmd::Runs(a) => a.resumes(),
            _ => false,
        }
    }
}

pub async fn run_cmd(cmd: Cmd, g: &Global) -> Result<(), Failure> {
    match cmd {
        Cmd::Run(a) => a.run(g).await,
        Cmd::Runs(a) => a.run(g).await,
        Cmd::Logs(a) => a.run(g).await,
        Cmd::Metrics(a) => a.run(g).await,
        Cmd::Jobs(a) => a.run().await,
        Cmd::Ray(a) => a.run().await,
        Cmd::Clusters(a) => a.run(g).await,
        Cmd::Cancel(a) => a.run(g).await,
        Cmd::Cat(a) => a.run(g).await,
        Cmd::Preview(a) => a.run(g).await,
        Cmd::Cp(a) => a.run(g).await,
        Cmd::Verify(a) => a.run(g).await,
        Cmd::Sync(a) => a.run(g).await,
        Cmd::Ls(a) => a.run(g).await,
        Cmd::Plot(a) => a.run(g).await,
        Cmd::Check(a) => a.run(),
        Cmd::Tool(t) => t.run().await,
    }
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

/// A command that did not succeed, with the exit code it means.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub msg: String,
}

impl Failure {
    /// What the user gave is wrong (exit 2).
    pub fn bad(msg: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            msg: msg.into(),
        }
    }
    /// What was asked failed (exit 1).
    pub fn failed(msg: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            msg: msg.into(),
        }
    }
}

fn load_project(p: Option<&Path>) -> Result<project::Project, Failure> {
    let file = project::locate(p);
    project::load(&file).map_err(|e| Failure::bad(e.to_string()))
}

fn print_json<T: serde::Serialize>(v: &T) {
    emit!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A run of the journal named by its id, a unique prefix of one, or `last` (the newest); exit 2
/// when there is none, or when a prefix matches several.
fn journal_run(ws: &Workspace, run: &str) -> Result<Run, Failure> {
    let read = |e: std::io::Error| Failure::failed(format!("reading the journal: {e}"));
    if run != "last" {
        if let Some(r) = ws.journal.get(run).map_err(read)?.filter(|r| r.id == run) {
            return Ok(r);
        }
    }
    let runs = ws.journal.load().map_err(read)?.runs;
    let matches: Vec<&Run> = match run {
        "last" => runs.first().into_iter().collect(),
        _ => runs.iter().filter(|r| r.id.starts_with(run)).collect(),
    };
    match matches[..] {
        [r] => Ok(r.clone()),
        [] => Err(Failure::bad(format!(
            "no run `{run}` in {}",
            ws.journal.path().display()
        ))),
        _ => Err(Failure::bad(format!(
            "`{run}` matches {} runs: give more of the id",
            matches.len()
        ))),
    }
}

fn is_store_uri(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("local://")
}

/// The store a location lives in: S3 for `s3://`, else the project target's directory store.
async fn open_store(
    g: &Global,
    loc: &Location,
    project: Option<&Path>,
    target: Option<&str>,
) -> Result<Arc<dyn ObjectStore>, Failure> {
    if loc.s3 {
        return Ok(Arc::new(
            crate::storage::s3::S3Store::connect(&g.s3()).await,
        ));
    }
    let p = load_project(project)?;
    let target = target
        .map(str::to_string)
        .unwrap_or_else(|| p.default_target.clone());
    Ok(g.workspace().open_store(&p, &target, &g.s3()).await)
}

/// Store errors as exit codes: what the user named is wrong (2), or the store failed (1).
fn store_failure(e: crate::storage::StoreError) -> Failure {
    use crate::storage::StoreError::*;
    let msg = crate::observe::sanitize(&e.to_string()).into_owned();
    match e {
        BadKey { .. } | NoBucket(_) | NotFound { .. } | Exists(_) => Failure::bad(msg),
        _ => Failure::failed(msg),
    }
}

/// How a long transfer shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ticker {
    /// Nothing (the result is printed as one JSON document).
    Quiet,
    /// A line on stderr, ten times a second, when stderr is a terminal.
    Terminal,
    /// A JSON line on stdout every second (`{"event":"progress",...}`).
    JsonLines,
}

/// Files and bytes done, throughput and ETA, as `how` says, until the task is aborted.
async fn show_progress(p: Arc<crate::storage::transfer::Progress>, how: Ticker) {
    use std::io::IsTerminal;
    use std::sync::atomic::Ordering::Relaxed;
    let every = match how {
        Ticker::Quiet => return,
        Ticker::Terminal if !std::io::stderr().is_terminal() => return,
        Ticker::Terminal => std::time::Duration::from_millis(100),
        Ticker::JsonLines => std::time::Duration::from_secs(1),
    };
    let t0 = std::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let (done, total) = p.snapshot();
        let secs = t0.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            (total.saturating_sub(done)) as f64 / rate
        } else {
            0.0
        };
        let files = (p.files_done.load(Relaxed), p.files_total.load(Relaxed));
        if how == Ticker::JsonLines {
            emit!(
                "{}",
                serde_json::json!({
                    "event": "progress",
                    "files_done": files.0,
                    "files_total": files.1,
                    "bytes_done": done,
                    "bytes_total": total,
                    "mib_per_s": rate / 1048576.0,
                    "eta_s": eta,
                    "seconds": secs,
                })
            );
            continue;
        }
        eprint!(
            "\r\x1b[2K{} / {}  {}/s  ETA {eta:.0}s  {}/{} files",
            crate::fmt::bytes(done),
            crate::fmt::bytes(total),
            crate::fmt::bytes(rate as u64),
            files.0,
            files.1
        );
    }
}

/// A token cancelled by the first Ctrl-C: a long transfer stops cleanly (and resumes next time).
fn cancel_on_ctrl_c() -> tokio_util::sync::CancellationToken {
    let cancel = tokio_util::sync::CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            c2.cancel();
        }
    });
    cancel
}

/// Clear the progress line, when there is one.
fn clear_progress() {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[2K");
    }
}

/// Untrusted multi-line text for the terminal: each line sanitised, the line breaks kept.
fn clean_block(t: &str) -> String {
    t.lines()
        .map(|l| crate::observe::sanitize(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}
