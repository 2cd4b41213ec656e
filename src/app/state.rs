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
}

impl View {
    pub const ALL: [View; 7] = [
        View::Pipeline,
        View::Datasets,
        View::Runs,
        View::Logs,
        View::Metrics,
        View::Plots,
        View::Transfers,
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
    /// Sequence of the current search hit.
    pub hit: Option<u64>,
    /// Lines that arrived while paused.
    pub unseen: u64,
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
            unseen: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Bucket,
    Prefix,
    Object,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DsRow {
    pub kind: RowKind,
    /// Bucket name, or the full key.
    pub key: String,
    /// What the list shows (sanitised, relative to the current prefix).
    pub name: String,
    pub size: Option<u64>,
    pub modified: Option<DateTime<Utc>>,
    /// S3 storage class and ETag (sanitised), when the store reports them.
    pub class: Option<String>,
    pub etag: Option<String>,
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
            .filter(|r| f.is_empty() || r.name.to_lowercase().contains(&f))
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
    /// The run the Pipeline, Logs, Metrics and Plots views show.
    pub current: Option<String>,
    pub logs: LogsState,
    pub datasets: DatasetsState,
    pub runs_view: RunsState,
    pub metrics: MetricsState,
    pub plots: PlotsState,
    pub transfers: super::transfers::TransfersState,
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
            plots: PlotsState::default(),
            transfers: Default::default(),
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
            || self.datasets.loading
            || self.plots.loading
            || self
                .status
                .as_ref()
                .is_some_and(|s| (self.now - s.at).num_seconds() < 6)
    }
}
