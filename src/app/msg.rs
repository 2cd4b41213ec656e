//! Msg: everything that reaches `update` (keys, answers from backends, the clock), and Action: what
//! the user asked for, after key bindings were applied.

use crate::engine::EngineError;
use crate::observe::cloudwatch::CwError;
use crate::pipeline::runner::MetricSample;
use crate::pipeline::Run;
use crate::pipeline::RunEvent;
use crate::plot::load::PlotData;
use crate::project::edit::EditError;
use crate::project::PhaseId;
use crate::storage::preview::Preview;
use crate::storage::{BucketInfo, Entry, StoreError};
use crate::theme::Theme;
use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::state::View;

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock: `update` never reads it itself.
    Tick(DateTime<Utc>),
    Run(RunEvent),
    RunsLoaded {
        runs: Vec<Run>,
        skipped: Vec<String>,
    },
    /// What `R` would reuse, phase by phase.
    ReusePlan(Vec<(crate::project::PhaseId, crate::pipeline::reuse::Verdict)>),
    /// Two runs compared (`=` in the Runs view).
    RunsDiffed(Result<Box<crate::pipeline::diff::RunDiff>, crate::pipeline::diff::DiffError>),
    LogLines {
        run_id: String,
        lines: Vec<crate::observe::logbuf::LogLine>,
        /// Lines in the writing that changed (a progress bar redrawn in place).
        live: Vec<crate::observe::logbuf::LogLine>,
    },
    Buckets(Result<Vec<BucketInfo>, StoreError>),
    StorePage {
        req: u64,
        entries: Vec<Entry>,
        /// Where the listing goes on; `None` when this was the last page.
        next: Option<String>,
    },
    StoreError {
        req: u64,
        error: StoreError,
    },
    Preview {
        key: String,
        result: Result<Preview, StoreError>,
    },
    PlotFiles {
        req: u64,
        files: Vec<String>,
    },
    PlotLoaded {
        req: u64,
        result: Result<PlotData, String>,
    },
    /// A line plot's points decimated for the chart (sent before its `PlotLoaded`).
    PlotLines {
        req: u64,
        lines: Box<crate::plot::prepare::Lines>,
    },
    /// The heatmap as an image for the terminal's protocol.
    PlotImage {
        req: u64,
        result: Result<crate::plot::pixels::PlotImage, String>,
    },
    CloudMetrics(Result<Vec<crate::observe::cloudwatch::Series>, CwError>),
    CloudGroups(Result<Vec<crate::observe::cloudwatch::LogGroup>, CwError>),
    CloudStreams {
        group: String,
        result: Result<Vec<crate::observe::cloudwatch::LogStream>, CwError>,
    },
    /// The meter of AWS calls made for watching.
    AwsRate(crate::observe::cloudwatch::Rate),
    MetricsLoaded {
        run_id: String,
        phase: PhaseId,
        samples: Vec<MetricSample>,
    },
    TransferProgress {
        id: u64,
        progress: crate::storage::transfer::TransferProgress,
    },
    TransferEnded {
        id: u64,
        state: crate::storage::transfer::TransferState,
    },
    /// A sync's plan, in the words the CLI prints it (or why it could not be made).
    SyncPlanned {
        id: u64,
        spec: crate::storage::transfer::TransferSpec,
        summary: Result<String, String>,
    },
    JobsLoaded {
        result: Result<Vec<crate::engine::slurm::QueueJob>, EngineError>,
        api_calls: u64,
    },
    Partitions(Result<Vec<String>, EngineError>),
    JobLog {
        id: String,
        result: Result<crate::engine::slurm::JobLogChunk, EngineError>,
    },
    ClustersLoaded(Result<crate::cluster::Discovery, crate::cluster::hyperpod::DiscoverError>),
    RayLoaded {
        result: Result<crate::engine::ray::RayCluster, EngineError>,
        requests: u64,
    },
    /// ListMetrics answered for `namespace` (None: every namespace).
    MetricList {
        namespace: Option<String>,
        result: Result<Vec<crate::project::MetricQuery>, CwError>,
    },
    /// Metric queries were added to the project file: how many, and the project as it now loads.
    MetricsAdded(Result<(usize, Box<crate::project::Project>), EditError>),
    /// A target was pointed at a node: (target, SSM target), and the project as it now loads.
    HeadPicked {
        result: Result<(String, String), EditError>,
        project: Option<Box<crate::project::Project>>,
    },
    ThemeLoaded {
        theme: Theme,
        error: Option<String>,
    },
    /// Something went wrong in a backend; shown in the status bar and logged.
    Error(String),
    /// Something worth a line in the status bar.
    Info(String),
}

/// What the user asked for. Key bindings map keys to these; the palette lists them.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    Show(View),
    Back,
    Help,
    Palette,
    RunPipeline,
    RunPhase(PhaseId),
    Cancel,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Filter,
    Search,
    SearchNext,
    SearchPrev,
    ToggleFollow,
    ToggleWrap,
    /// Logs: show when each line was read.
    ToggleStamps,
    /// Logs: every byte as it came, escaped, instead of colours and redraws interpreted.
    ToggleRaw,
    /// Logs: jump to the first error line.
    FirstError,
    /// Logs: copy a line to the clipboard (OSC 52).
    CopyLine,
    /// Logs: start or drop a selection of lines.
    SelectLines,
    /// Plots: hold the colour range / play the snapshots / play faster or slower.
    HoldRange,
    /// Datasets: a table preview scrolled by a column (`true`: back).
    ScrollColumns(bool),
    /// Plots, an N-D array: the next 2-D slice (`true`: the one before).
    StepSlice(bool),
    /// Pipeline: run again, reusing the phases that did not change (asked first, with why).
    AskReuse,
    /// The question answered yes.
    RunReusing,
    /// Runs view: mark the selected run (or unmark it) for `=`.
    MarkRun,
    /// Runs view: the two marked runs (or the marked and the selected one) compared.
    DiffRuns,
    /// A sweep's next element (`true`: the one before): the Logs view's source, the Plots
    /// view's field.
    StepElement(bool),
    /// Plots, a structured array: the next numeric field.
    NextField,
    /// Plots, a complex array: the next part drawn (abs, re, im, arg).
    NextComplexPart,
    PlayPause,
    PlayFaster,
    /// Plots: zoom in or out, back to all of it.
    Zoom(Zoom),
    /// Plots: move the zoomed part.
    Pan(Pan),
    /// Plots: compare with an older run / the difference of two fields.
    Compare,
    CompareMore,
    Difference,
    PlaySlower,
    /// Metrics: open the CloudWatch metrics browser.
    BrowseMetrics,
    CycleSource,
    NextItem,
    PrevItem,
    Left,
    Right,
    OpenLogs,
    OpenMetrics,
    /// Metrics view: the target's CloudWatch metrics / the run's samples.
    ToggleCloud,
    /// Plots view: the plot on screen to a PNG.
    ExportPlot,
    /// Logs view: the CloudWatch log group browser.
    BrowseCloud,
    CyclePeriod,
    CycleStat,
    OpenPlots,
    Refresh,
    SortNext,
    Theme(String),
    Download,
    Upload,
    /// Sync the current prefix down into a local directory (`Down`) or a directory up into it.
    Sync(crate::storage::transfer::Direction),
    /// Start sync N as planned (after the question).
    StartSync {
        id: u64,
        spec: crate::storage::transfer::TransferSpec,
    },
    /// Allow transfer N to replace existing local files (after the question).
    Overwrite(u64),
    CancelTransfer(u64),
    ClearFinished,
    CancelJob(String),
    Partitions,
    /// Clusters view: the next ssm target that `u` points at a node.
    CycleTarget,
    /// Clusters view: HyperPod or the current target's Ray cluster.
    ToggleRay,
    /// Clusters view: ask to point the chosen target at the selected node.
    AskUseNode,
    /// Point `target` at the node reached by SSM target `ssm` (after the question).
    UseNode {
        target: String,
        ssm: String,
    },
}

/// Zooming a plot: in or out by 2 around the centre, or back to all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoom {
    In,
    Out,
    All,
}

/// Panning a zoomed plot by a quarter of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pan {
    Left,
    Right,
    Down,
    Up,
}
