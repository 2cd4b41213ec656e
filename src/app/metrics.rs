//! The Metrics view: the run's own CPU and memory samples, or with `c` the target's CloudWatch
//! metrics, `p` cycling the period and `s` the statistic. CloudWatch is asked when due (one
//! GetMetricData call per period, at most once a minute unless the period is shorter) and only
//! while the view is on screen: watching costs nothing when nobody looks. The browser of what
//! CloudWatch has (`a`) is in `cloudwatch.rs`.

use super::command::Command;
use super::layout::move_sel;
use super::msg::Action;
use super::state::{AppState, Level, View};
use super::status::set_status;
use crate::observe::cloudwatch::{Series, PERIODS, STATS};
use crate::pipeline::runner::MetricSample;
use crate::project::PhaseId;
use chrono::{DateTime, Utc};

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
    pub browse: Option<super::cloudwatch::MetricBrowse>,
}

pub const MAX_SAMPLES: usize = 7200;

/// The target's period in seconds, or the one chosen with `p`.
pub fn period(s: &AppState) -> i32 {
    match s.metrics.period {
        Some(i) => PERIODS[i % PERIODS.len()],
        None => s
            .project
            .as_ref()
            .ok()
            .and_then(|p| p.targets.get(&s.target))
            .map(|t| t.cloudwatch.period)
            .unwrap_or(60),
    }
}

pub fn stat(s: &AppState) -> Option<&'static str> {
    s.metrics.stat.map(|i| STATS[i % STATS.len()])
}

/// Seconds between fetches: the period (new points come no faster), at least 10 s.
pub fn refresh_secs(s: &AppState) -> i64 {
    (period(s) as i64).max(10)
}

fn queries(s: &AppState) -> usize {
    s.project
        .as_ref()
        .ok()
        .and_then(|p| p.targets.get(&s.target))
        .map(|t| t.cloudwatch.metrics.len())
        .unwrap_or(0)
}

pub fn load(s: &mut AppState) -> Vec<Command> {
    if queries(s) == 0 {
        s.metrics.cw_loaded_at = Some(s.now);
        s.metrics.cw_error = Some(format!(
            "target `{}` names no CloudWatch metrics: add [[targets.{}.metrics]] (namespace, name, dimensions, stat) to the project file, or give an ssm target an EC2 instance_id for the defaults",
            s.target, s.target
        ));
        return vec![];
    }
    s.metrics.cw_loading = true;
    vec![Command::LoadCloudMetrics {
        target: s.target.clone(),
        period: period(s),
        stat: stat(s).map(Into::into),
        // enough points to fill a wide chart: 240 periods, at most a week
        since_secs: (period(s) as i64 * 240).min(7 * 86_400),
    }]
}

pub fn toggle(s: &mut AppState) -> Vec<Command> {
    s.metrics.cloud = !s.metrics.cloud;
    s.metrics.first = 0;
    if s.metrics.cloud {
        load(s)
    } else {
        vec![]
    }
}

pub fn cycle_period(s: &mut AppState) -> Vec<Command> {
    if !s.metrics.cloud {
        return vec![];
    }
    let cur = period(s);
    let i = PERIODS.iter().position(|p| *p == cur).map_or(0, |i| i + 1);
    s.metrics.period = Some(i % PERIODS.len());
    set_status(s, Level::Info, format!("period {} s", period(s)));
    load(s)
}

pub fn cycle_stat(s: &mut AppState) -> Vec<Command> {
    if !s.metrics.cloud {
        return vec![];
    }
    s.metrics.stat = match s.metrics.stat {
        None => Some(0),
        Some(i) if i + 1 >= STATS.len() => None,
        Some(i) => Some(i + 1),
    };
    set_status(
        s,
        Level::Info,
        format!("statistic: {}", stat(s).unwrap_or("each metric's own")),
    );
    load(s)
}

pub fn on_tick(s: &mut AppState) -> Vec<Command> {
    let m = &s.metrics;
    let due = m
        .cw_loaded_at
        .is_none_or(|t| (s.now - t).num_seconds() >= refresh_secs(s));
    if s.view == View::Metrics && m.cloud && !m.cw_loading && due {
        load(s)
    } else {
        vec![]
    }
}

pub fn on_loaded(
    s: &mut AppState,
    result: Result<Vec<Series>, crate::observe::cloudwatch::CwError>,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
    let m = &mut s.metrics;
    m.cw_loading = false;
    m.cw_loaded_at = Some(s.now);
    match result {
        Ok(v) => {
            m.cw = v;
            m.cw_error = None;
        }
        Err(e) => m.cw_error = Some(crate::observe::sanitize(&e).into_owned()),
    }
    vec![]
}

/// Msg::MetricsLoaded: a phase's samples read from its file (the view's run only).
pub fn on_samples(s: &mut AppState, run_id: &str, phase: PhaseId, samples: Vec<MetricSample>) {
    if s.metrics.run_id.as_deref() == Some(run_id) {
        s.metrics.samples.retain(|(p, _)| *p != phase);
        s.metrics
            .samples
            .extend(samples.into_iter().map(|x| (phase, x)));
        s.metrics.samples.sort_by_key(|x| x.1.at);
    }
}

/// `R`: the CloudWatch charts or the run's samples again.
pub fn refresh(s: &mut AppState) -> Vec<Command> {
    if s.metrics.cloud {
        return load(s);
    }
    s.metrics
        .run_id
        .clone()
        .map(|id| vec![Command::LoadMetrics { run_id: id }])
        .unwrap_or_default()
}

/// PgUp PgDn (↑↓): page through many CloudWatch charts.
pub fn nav(s: &mut AppState, a: &Action) {
    if s.metrics.cloud {
        let n = s.metrics.cw.len().max(1);
        move_sel(&mut s.metrics.first, n, a, 4);
    }
}
