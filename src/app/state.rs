//! AppState: plain data, no clients or handles. Views borrow it; `update` changes it.

use super::msg::{Action, PlotData, Preview};
use crate::observe::logbuf::LogBuffer;
use crate::pipeline::runner::MetricSample;
use crate::pipeline::{Run, RunState};
use crate::project::{PhaseId, Project, ProjectError};
use crate::theme::Theme;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum View {
    Pipeline,
    Datasets,
    Runs,
    Logs,
    Metrics,
    Plots,
    Transfers,
    Jobs,
    Clusters,
}

impl View {
    pub const ALL: [View; 9] = [
        View::Pipeline,
        View::Datasets,
        View::Runs,
        View::Logs,
        View::Metrics,
        View::Plots,
        View::Transfers,
        View::Jobs,
        View::Clusters,
    ];
    pub fn title(self) -> &'static str {
        match self {
            View::Pipeline => "Pipeline",
            View::Datasets => "Datasets",
            View::Runs => "Runs",
            View::Logs => "Logs",
            View::Metrics => "Metrics",
            View::Plots => "Plots",
            View::Transfers => "Transfers",
            View::Jobs => "Jobs",
            View::Clusters => "Clusters",
        }
    }
    /// The tab label when the terminal is narrow.
    pub fn short(self) -> &'static str {
        match self {
            View::Pipeline => "Pipe",
            View::Datasets => "Data",
            View::Transfers => "Xfer",
            View::Metrics => "Metr",
            View::Clusters => "Clus",
            other => other.title(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Palette { query: String, selected: usize },
    Confirm { text: String, action: Action },
}

/// A one-line prompt at the bottom (filter or search), edited in place.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Filter(String),
    Search(String),
    /// A local path for a download's destination or an upload's source.
    Path {
        purpose: super::transfers::PathFor,
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    All,
    Phase(PhaseId),
    /// The CloudWatch streams of the run's target.
    Cloud,
}

#[derive(Debug, Clone)]
pub struct LogsState {
    pub run_id: Option<String>,
    pub buf: LogBuffer,
    pub follow: bool,
    pub wrap: bool,
    /// Sequence number of the top line when not following.
    pub top: u64,
    pub source: Source,
    pub search: Option<String>,
    /// Sequence of the current search hit, or the cursor of a selection.
    pub hit: Option<u64>,
    /// `v`: where a selection of lines started (it runs to `hit`).
    pub sel: Option<u64>,
    /// Lines that arrived while paused.
    pub unseen: u64,
    /// `&`: only lines matching (or, with `!`, not matching) this.
    pub filter: Option<crate::observe::filter::LineFilter>,
    /// With a filter: the sequence numbers of the lines that pass it, oldest first.
    pub matched: std::collections::VecDeque<u64>,
    /// `T`: show when each line was read.
    pub stamps: bool,
    /// Lines from CloudWatch have arrived (the source choice offers them).
    pub cloud: bool,
    /// `C`: the CloudWatch log group browser, when open.
    pub browse: Option<super::watch::Browse>,
}

impl Default for LogsState {
    fn default() -> Self {
        LogsState {
            run_id: None,
            buf: LogBuffer::default(),
            follow: true,
            wrap: false,
            top: 0,
            source: Source::All,
            search: None,
            hit: None,
            sel: None,
            unseen: 0,
            filter: None,
            matched: Default::default(),
            stamps: false,
            cloud: false,
            browse: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Bucket,
    Prefix,
    Object,
}

/// One row of the Datasets list, kept small: a listing of a million keys is held in memory whole
/// (about 130 bytes a row), so the key is stored once and the shown name is a view into it.
#[derive(Debug, Clone, PartialEq)]
pub struct DsRow {
    pub kind: RowKind,
    /// Bucket name, or the full key, raw as the store has it.
    pub key: Box<str>,
    /// Where the shown name starts in `key` (after the listed prefix).
    pub name_at: u16,
    pub size: Option<u64>,
    pub modified: Option<DateTime<Utc>>,
    /// S3 storage class (shared between rows) and ETag, when the store reports them.
    pub class: Option<std::sync::Arc<str>>,
    pub etag: Option<ETag>,
}

impl DsRow {
    pub fn new(kind: RowKind, key: String, prefix: &str) -> DsRow {
        let name_at = if key.starts_with(prefix) && prefix.len() <= u16::MAX as usize {
            prefix.len() as u16
        } else {
            0
        };
        DsRow {
            kind,
            key: key.into_boxed_str(),
            name_at,
            size: None,
            modified: None,
            class: None,
            etag: None,
        }
    }
    /// What the list shows: the key after the listed prefix, sanitised.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        crate::observe::sanitize(self.key.get(self.name_at as usize..).unwrap_or(&self.key))
    }
}

/// An ETag: the common MD5 form in 16 bytes, anything else (multipart `…-N`, other stores) as text.
#[derive(Debug, Clone, PartialEq)]
pub enum ETag {
    Md5([u8; 16]),
    Other(Box<str>),
}

impl ETag {
    pub fn parse(s: &str) -> ETag {
        let t = s.trim_matches('"');
        let mut b = [0u8; 16];
        if t.len() == 32 {
            let ok = (0..16).all(|i| {
                match u8::from_str_radix(t.get(2 * i..2 * i + 2).unwrap_or("x"), 16) {
                    Ok(v) => {
                        b[i] = v;
                        true
                    }
                    Err(_) => false,
                }
            });
            // only lowercase hex round-trips exactly
            if ok && !t.bytes().any(|c| c.is_ascii_uppercase()) {
                return ETag::Md5(b);
            }
        }
        ETag::Other(crate::observe::sanitize(t).into_owned().into_boxed_str())
    }
}

impl std::fmt::Display for ETag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ETag::Md5(b) => b.iter().try_for_each(|x| write!(f, "{x:02x}")),
            ETag::Other(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Name,
    Size,
    Time,
}

#[derive(Debug, Clone)]
pub struct DatasetsState {
    pub bucket: Option<String>,
    pub prefix: String,
    pub rows: Vec<DsRow>,
    pub loading: bool,
    pub req: u64,
    pub selected: usize,
    pub filter: String,
    pub sort: SortBy,
    pub preview: Option<(String, Result<Preview, String>)>,
    pub error: Option<String>,
    /// The page a listing stopped before (failed or cancelled); `R` continues from it.
    pub next: Option<String>,
}

impl Default for DatasetsState {
    fn default() -> Self {
        DatasetsState {
            bucket: None,
            prefix: String::new(),
            rows: vec![],
            loading: false,
            req: 0,
            selected: 0,
            filter: String::new(),
            sort: SortBy::Name,
            preview: None,
            error: None,
            next: None,
        }
    }
}

impl DatasetsState {
    /// Rows that pass the filter, in display order.
    pub fn visible(&self) -> Vec<&DsRow> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&DsRow> = self
            .rows
            .iter()
            .filter(|r| f.is_empty() || r.name().to_lowercase().contains(&f))
            .collect();
        match self.sort {
            SortBy::Name => {}
            SortBy::Size => v.sort_by_key(|r| std::cmp::Reverse(r.size)),
            SortBy::Time => v.sort_by_key(|r| std::cmp::Reverse(r.modified)),
        }
        v
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunsState {
    pub selected: usize,
    pub filter: String,
}

#[derive(Debug, Clone, Default)]
pub struct MetricsState {
    pub run_id: Option<String>,
    pub samples: Vec<(PhaseId, MetricSample)>,
    /// `c`: the target's CloudWatch metrics instead of the run's local samples.
    pub cloud: bool,
    pub cw: Vec<crate::observe::cloudwatch::Series>,
    pub cw_error: Option<String>,
    pub cw_loading: bool,
    pub cw_loaded_at: Option<DateTime<Utc>>,
    /// Index into cloudwatch::PERIODS (None: the target's own period).
    pub period: Option<usize>,
    /// Index into cloudwatch::STATS (None: each query's own statistic).
    pub stat: Option<usize>,
    /// The first chart shown (PgUp/PgDn page through many).
    pub first: usize,
    /// `a`: the CloudWatch metrics browser, when open.
    pub browse: Option<super::watch::MetricBrowse>,
}

pub const MAX_SAMPLES: usize = 7200;

#[derive(Debug, Clone, Default)]
pub struct PlotsState {
    pub run_id: Option<String>,
    pub plot: usize,
    pub files: Vec<String>,
    pub snapshot: usize,
    pub data: Option<PlotData>,
    pub error: Option<String>,
    pub loading: bool,
    pub req: u64,
    /// The terminal's pixel protocol (kitty, sixel, iterm2), when plots are shown as images.
    pub pixels: Option<String>,
    /// The current heatmap as an image for that protocol (made off the UI task).
    pub image: Option<crate::plot::pixels::PlotImage>,
    /// The current line plot, decimated to the chart's width (made off the UI task).
    pub lines: Option<crate::app::plots::Lines>,
    /// `H`: the colour range held for the next snapshots (None: each snapshot's own, or the
    /// plot's `range`).
    pub hold: Option<(f64, f64)>,
    /// `Space`: stepping through the snapshots on its own; `<`/`>` the rate (-1, 0, 1: 1, 2, 4
    /// snapshots a second).
    pub playing: bool,
    pub play_rate: i8,
    /// `c`: the run whose same plot is shown beside (fields) or over (series) this one's.
    pub compare: Option<String>,
    /// `C`: more runs whose series are drawn over this one's too (line plots).
    pub more: Vec<String>,
    /// `d`: with `compare`, a field is shown as this run's minus the other's.
    pub diff: bool,
    /// `+`/`-`/`0`, Ctrl+arrows: the zoomed part of the plot (None: all of it).
    pub window: Option<crate::plot::Window>,
    pub play_wait: u8,
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub project: Result<Project, ProjectError>,
    pub target: String,
    pub store_desc: String,
    pub view: View,
    pub history: Vec<View>,
    pub popup: Option<Popup>,
    pub prompt: Option<Prompt>,
    pub status: Option<Status>,
    pub now: DateTime<Utc>,
    pub runs: Vec<Run>,
    /// AWS calls for watching in the last minute, and what they would cost a month.
    pub aws_rate: crate::observe::cloudwatch::Rate,
    /// The run the Pipeline, Logs, Metrics and Plots views show.
    pub current: Option<String>,
    pub logs: LogsState,
    pub datasets: DatasetsState,
    pub runs_view: RunsState,
    pub metrics: MetricsState,
    pub plots: PlotsState,
    pub transfers: super::transfers::TransfersState,
    pub jobs: super::jobs::JobsState,
    pub clusters: super::clusters::ClustersState,
    /// Where downloads go unless the prompt is edited (the directory tandem was started in).
    pub download_dir: String,
    pub theme: Theme,
    pub size: (u16, u16),
    pub quit: bool,
    /// Frames drawn a second ago etc. are not state; this counts spinner steps.
    pub spinner: usize,
}

impl AppState {
    pub fn new(
        project: Result<Project, ProjectError>,
        target: String,
        store_desc: String,
        theme: Theme,
        now: DateTime<Utc>,
    ) -> AppState {
        AppState {
            project,
            target,
            store_desc,
            view: View::Pipeline,
            history: vec![],
            popup: None,
            prompt: None,
            status: None,
            now,
            runs: vec![],
            current: None,
            logs: LogsState::default(),
            datasets: DatasetsState::default(),
            runs_view: RunsState::default(),
            metrics: MetricsState::default(),
            aws_rate: Default::default(),
            plots: PlotsState::default(),
            transfers: Default::default(),
            jobs: Default::default(),
            clusters: Default::default(),
            download_dir: "./".into(),
            theme,
            size: (80, 24),
            quit: false,
            spinner: 0,
        }
    }

    pub fn current_run(&self) -> Option<&Run> {
        let id = self.current.as_deref()?;
        self.runs.iter().find(|r| r.id == id)
    }

    pub fn active_run(&self) -> Option<&Run> {
        self.runs.iter().find(|r| {
            !r.state.is_terminal()
                && r.phases
                    .iter()
                    .any(|p| p.state.is_active() || p.state == RunState::Pending)
        })
    }

    /// Runs passing the Runs view filter, newest first.
    pub fn visible_runs(&self) -> Vec<&Run> {
        let f = self.runs_view.filter.to_lowercase();
        self.runs
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.id.contains(&f)
                    || r.state.as_str().contains(&f)
                    || r.project.to_lowercase().contains(&f)
                    || r.target.contains(&f)
            })
            .collect()
    }

    /// Whether the clock must tick (something moves on screen).
    pub fn needs_tick(&self) -> bool {
        self.active_run().is_some()
            || self.view == View::Jobs
            || self.view == View::Clusters
            || (self.view == View::Metrics && self.metrics.cloud)
            || self.datasets.loading
            || self.plots.loading
            || (self.view == View::Plots && self.plots.playing)
            || self
                .status
                .as_ref()
                .is_some_and(|s| (self.now - s.at).num_seconds() < 6)
    }
}
