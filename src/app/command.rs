//! Command: the side effects `update` asks for. The loop hands them to the backend.

use crate::project::PhaseId;

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// What `--reuse` would do with each phase of a new run (answers Msg::ReusePlan).
    PlanReuse,
    StartRun {
        phases: Vec<PhaseId>,
        /// Use an earlier run's outputs for phases that did not change (`R`).
        reuse: bool,
    },
    CancelRun {
        run_id: String,
    },
    /// Follow the logs of this run (replaces the run followed before).
    FollowLogs {
        run_id: String,
    },
    LoadMetrics {
        run_id: String,
    },
    /// The CloudWatch log groups of a target's account and region (answers Msg::CloudGroups).
    CloudGroups {
        target: String,
    },
    CloudStreams {
        target: String,
        group: String,
    },
    /// Tail a log group (these streams, or all) into the Logs view under `into` (its run id).
    TailCloud {
        target: String,
        group: String,
        streams: Vec<String>,
        into: String,
    },
    /// The metrics CloudWatch has for a target's account (ListMetrics), in one namespace or all
    /// (answers Msg::MetricList).
    ListMetrics {
        target: String,
        namespace: Option<String>,
    },
    /// Add metric queries to a target in the project file (answers Msg::MetricsAdded).
    AddMetrics {
        target: String,
        queries: Vec<crate::project::MetricQuery>,
    },
    /// A target's CloudWatch metrics (answers Msg::CloudMetrics).
    LoadCloudMetrics {
        target: String,
        period: i32,
        stat: Option<String>,
        since_secs: i64,
    },
    ReloadRuns,
    /// Put text on the terminal's clipboard (OSC 52; the loop writes it).
    Copy {
        text: String,
    },
    /// Re-attach to the runs a stopped tandem left unfinished (those of the loaded project).
    ResumeRuns,
    ListBuckets,
    List {
        req: u64,
        bucket: String,
        prefix: String,
        /// Continue a listing that stopped (error or Esc) from this page instead of the start.
        token: Option<String>,
    },
    CancelList,
    Preview {
        bucket: String,
        key: String,
    },
    /// Compare two runs (the journal, and the last values of their series); answers
    /// Msg::RunsDiffed.
    DiffRuns {
        a: String,
        b: String,
    },
    /// Resolve the files a plot draws (a glob for snapshots) in a run's phase output.
    PlotFiles {
        req: u64,
        run_id: String,
        plot: usize,
        /// Of a swept phase: the element whose output is read (None: the first's).
        element: Option<u32>,
    },
    /// Draw the plot's file to a PNG at `out` (off the UI task; answers Msg::Info or Msg::Error).
    /// The plot on screen to a file: with `compare`, both runs (or with `diff` their difference),
    /// with `hold` the colour range held on screen.
    ExportPlot {
        run_id: String,
        plot: usize,
        file: String,
        out: String,
        compare: Option<String>,
        /// Line plots: more runs overlaid too.
        more: Vec<String>,
        diff: bool,
        hold: Option<(f64, f64)>,
        /// Of an array: the slice, field and complex part shown instead of the plot's own.
        pick: Option<crate::project::ArrayPick>,
        /// Of a swept phase: the element shown (None: every element's series overlaid).
        element: Option<u32>,
    },
    LoadPlot {
        req: u64,
        run_id: String,
        plot: usize,
        file: String,
        /// Heatmaps: the plot area (columns, rows), to make an image for (with a pixel
        /// protocol) or to block-average the field to.
        cells: Option<(u16, u16)>,
        /// `H`: the colour range held from an earlier snapshot.
        hold: Option<(f64, f64)>,
        /// `c`: the run to compare with (the same file of its output), and `d`: as a difference.
        compare: Option<String>,
        /// `C`: more runs whose series are overlaid too.
        more: Vec<String>,
        diff: bool,
        /// `+`/`-`/Ctrl+arrows: the zoomed part of a field, cut from the full field.
        window: Option<crate::plot::Window>,
        /// Line plots: the chart's width in braille dots, to decimate the series to.
        chart: Option<usize>,
        /// Of an array: the slice, field and complex part shown instead of the plot's own.
        pick: Option<crate::project::ArrayPick>,
        /// Of a swept phase: the element shown (None: every element's series overlaid, the
        /// first element's field).
        element: Option<u32>,
    },
    /// A loaded series decimated again (zoom, pan, resize) off the UI task; `data` shares the
    /// points (they are behind an Arc), it does not copy them.
    DecimateLines {
        req: u64,
        plot: usize,
        data: crate::plot::load::PlotData,
        window: Option<crate::plot::Window>,
        chart: usize,
    },
    /// Start (or restart) a download or upload; progress and the end come back as messages.
    Transfer {
        id: u64,
        spec: crate::storage::transfer::TransferSpec,
    },
    CancelTransfer {
        id: u64,
    },
    /// Plan a sync (answers Msg::SyncPlanned); `Transfer` with the same id carries it out.
    PlanSync {
        id: u64,
        spec: crate::storage::transfer::TransferSpec,
    },
    /// The Slurm queue of a target (answers Msg::JobsLoaded).
    LoadJobs {
        target: String,
    },
    CancelJob {
        target: String,
        id: String,
    },
    LoadPartitions {
        target: String,
    },
    /// Follow a job's log from `offsets` (`paths` asked of scontrol when unknown): a
    /// Msg::JobLog per answer, until the job ended and its logs were read, or StopJobLog (or
    /// another JobLog) stops it. Streamed where the transport can, polled where it must.
    JobLog {
        target: String,
        id: String,
        paths: Option<(String, String)>,
        offsets: (u64, u64),
    },
    /// Stop following the job log the Jobs view had open.
    StopJobLog,
    /// Ring the bell and send an OSC 9 notification (handled by the loop, not the backend).
    Notify {
        text: String,
    },
    /// HyperPod discovery (answers Msg::ClustersLoaded).
    LoadClusters,
    /// The Ray cluster of a target: nodes, resource use, jobs (answers Msg::RayLoaded).
    LoadRay {
        target: String,
    },
    /// Set a target's instance_id in the project file (answers Msg::HeadPicked).
    UseNode {
        target: String,
        ssm: String,
    },
    LoadTheme {
        name: String,
    },
    Quit,
}
