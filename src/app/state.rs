//! AppState: plain data, no clients or handles. Views borrow it; `update` changes it. Each
//! screen's own state is in the screen's file; this one composes them.

use super::msg::Action;
use crate::pipeline::{Run, RunState};
use crate::project::{Project, ProjectError};
use crate::theme::Theme;
use chrono::{DateTime, Utc};

pub use super::datasets::{DatasetsState, DsRow, ETag, RowKind, SortBy};
pub use super::logs::{LogSource, LogsState};
pub use super::metrics::{MetricsState, MAX_SAMPLES};
pub use super::plots::PlotsState;
pub use super::runs::RunsState;

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
    /// How many colours the terminal shows (what log lines' own colours are brought into).
    pub color_depth: crate::theme::ColorDepth,
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
            color_depth: Default::default(),
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
