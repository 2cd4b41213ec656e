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

// ---------------------------------------------------------------------------------------------------
// `C` in the Logs view: browse the target's CloudWatch log groups and streams, and tail a choice
// of them into the view's timeline.

use crate::observe::cloudwatch::{LogGroup, LogStream};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// The browser: groups, then one group's streams.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    pub groups: Vec<LogGroup>,
    /// The group whose streams are shown.
    pub group: Option<String>,
    pub streams: Vec<LogStream>,
    /// Streams marked with Space (none: the whole group).
    pub marked: std::collections::BTreeSet<String>,
    pub selected: usize,
    /// Typed text narrows the list (substring, case-insensitive).
    pub filter: String,
    pub loading: bool,
    pub error: Option<String>,
}

impl Browse {
    /// The rows shown: (name, detail), after the filter.
    pub fn rows(&self) -> Vec<(String, String)> {
        let f = self.filter.to_lowercase();
        let keep = |n: &str| f.is_empty() || n.to_lowercase().contains(&f);
        if self.group.is_some() {
            self.streams
                .iter()
                .filter(|x| keep(&x.name))
                .map(|x| {
                    let last = x
                        .last_event_ms
                        .and_then(chrono::DateTime::from_timestamp_millis)
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_else(|| "no events".into());
                    (x.name.clone(), last)
                })
                .collect()
        } else {
            self.groups
                .iter()
                .filter(|g| keep(&g.name))
                .map(|g| {
                    (
                        g.name.clone(),
                        humansize::format_size(g.stored_bytes.max(0) as u64, humansize::BINARY),
                    )
                })
                .collect()
        }
    }
}

/// `C`: open the browser (groups load), or close it.
pub fn toggle_browse(s: &mut AppState) -> Vec<Command> {
    if s.logs.browse.take().is_some() {
        return vec![];
    }
    s.logs.browse = Some(Browse {
        loading: true,
        ..Default::default()
    });
    vec![Command::CloudGroups {
        target: s.target.clone(),
    }]
}

pub fn on_groups(s: &mut AppState, r: Result<Vec<LogGroup>, String>) -> Vec<Command> {
    if let Some(b) = &mut s.logs.browse {
        b.loading = false;
        match r {
            Ok(g) => {
                b.groups = g;
                b.error = None;
            }
            Err(e) => b.error = Some(crate::observe::sanitize(&e).into_owned()),
        }
    }
    vec![]
}

pub fn on_streams(
    s: &mut AppState,
    group: String,
    r: Result<Vec<LogStream>, String>,
) -> Vec<Command> {
    if let Some(b) = &mut s.logs.browse {
        if b.group.as_deref() != Some(&group) {
            return vec![];
        }
        b.loading = false;
        match r {
            Ok(v) => {
                b.streams = v;
                b.error = None;
            }
            Err(e) => b.error = Some(crate::observe::sanitize(&e).into_owned()),
        }
    }
    vec![]
}

/// Keys while the browser is open: it takes them all but the global quit and help.
pub fn browse_key(s: &mut AppState, k: KeyEvent) -> Option<Vec<Command>> {
    let b = s.logs.browse.as_mut()?;
    let n = b.rows().len();
    match k.code {
        KeyCode::Char('?') => return None,
        KeyCode::Up => b.selected = b.selected.saturating_sub(1),
        KeyCode::Down => b.selected = (b.selected + 1).min(n.saturating_sub(1)),
        KeyCode::PageUp => b.selected = b.selected.saturating_sub(10),
        KeyCode::PageDown => b.selected = (b.selected + 10).min(n.saturating_sub(1)),
        KeyCode::Esc | KeyCode::Left => {
            if !b.filter.is_empty() && k.code == KeyCode::Esc {
                b.filter.clear();
            } else if b.group.take().is_some() {
                b.streams.clear();
                b.marked.clear();
                b.selected = 0;
                b.error = None;
            } else {
                s.logs.browse = None;
            }
        }
        KeyCode::Backspace => {
            b.filter.pop();
            b.selected = 0;
        }
        KeyCode::Char(' ') if b.group.is_some() => {
            if let Some((name, _)) = b.rows().get(b.selected) {
                if !b.marked.remove(name) {
                    b.marked.insert(name.clone());
                }
                b.selected = (b.selected + 1).min(n.saturating_sub(1));
            }
        }
        KeyCode::Enter | KeyCode::Right => {
            let rows = b.rows();
            match &b.group {
                None => {
                    let Some((g, _)) = rows.get(b.selected) else {
                        return Some(vec![]);
                    };
                    let g = g.clone();
                    b.group = Some(g.clone());
                    b.filter.clear();
                    b.selected = 0;
                    b.loading = true;
                    return Some(vec![Command::CloudStreams {
                        target: s.target.clone(),
                        group: g,
                    }]);
                }
                Some(g) => {
                    // Enter: the marked streams, or the whole group when none is marked
                    let g = g.clone();
                    let streams: Vec<String> = b.marked.iter().take(100).cloned().collect();
                    s.logs.browse = None;
                    let into = s
                        .logs
                        .run_id
                        .clone()
                        .unwrap_or_else(|| format!("cloudwatch {g}"));
                    if s.logs.run_id.is_none() {
                        s.logs.run_id = Some(into.clone());
                    }
                    set_status(
                        s,
                        Level::Info,
                        format!(
                            "tailing {} of {g} into the timeline",
                            if streams.is_empty() {
                                "every stream".to_string()
                            } else {
                                format!("{} streams", streams.len())
                            }
                        ),
                    );
                    return Some(vec![Command::TailCloud {
                        target: s.target.clone(),
                        group: g,
                        streams,
                        into,
                    }]);
                }
            }
        }
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => {
            b.filter.push(c);
            b.selected = 0;
        }
        _ => {}
    }
    Some(vec![])
}
