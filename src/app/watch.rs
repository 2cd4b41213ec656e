//! The Metrics view's CloudWatch side: `c` switches from the run's local samples to the target's
//! CloudWatch metrics, `p` cycles the period, `s` the statistic. Fetched when due (one
//! GetMetricData call per period, at most once a minute unless the period is shorter) and only
//! while the view is on screen: watching costs nothing when nobody looks.

use super::command::Command;
use super::state::{AppState, Level, View};
use super::update::set_status;
use crate::observe::cloudwatch::{Series, PERIODS, STATS};

/// The target's period in seconds, or the one chosen with `p`.
pub fn period(s: &AppState) -> i32 {
    match s.metrics.period {
        Some(i) => PERIODS[i % PERIODS.len()],
        None => s
            .project
            .as_ref()
            .ok()
            .and_then(|p| p.targets.get(&s.target))
            .map(|t| t.watch.period)
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
        .map(|t| t.watch.metrics.len())
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

pub fn on_loaded(s: &mut AppState, result: Result<Vec<Series>, String>) -> Vec<Command> {
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

/// The status line's note of what watching costs, when it costs anything.
pub fn cost_note(s: &AppState) -> Option<String> {
    let r = &s.aws_rate;
    (r.calls_per_min > 0).then(|| {
        format!(
            "AWS {} calls/min · ~${:.2}/month",
            r.calls_per_min, r.usd_per_month
        )
    })
}
