//! The CloudWatch browsers. `C` in the Logs view: the target's log groups and streams, a choice
//! of them tailed into the view's timeline. `a` in the Metrics view: what CloudWatch has
//! (ListMetrics), namespaces first, then one namespace's metrics, the marked ones added to the
//! target in tandem.toml and charted at once.

use super::command::Command;
use super::metrics::{load, stat};
use super::picker::{Pick, PickList, Row};
use super::state::{AppState, Level, View};
use super::status::set_status;
use crate::observe::cloudwatch::{CwError, LogGroup, LogStream, NAMESPACE_SCAN};
use crate::project::edit::EditError;
use crate::project::MetricQuery;
use crossterm::event::KeyEvent;

/// The browser: groups, then one group's streams.
#[derive(Debug, Clone, Default)]
pub struct Browse {
    /// The group whose streams are listed.
    pub group: Option<String>,
    /// The groups, kept to go back to.
    pub groups: Vec<Row>,
    pub list: PickList,
}

/// A group's row: its name and stored size.
pub fn group_row(g: &LogGroup) -> Row {
    (
        g.name.clone(),
        crate::fmt::bytes(g.stored_bytes.max(0) as u64),
    )
}

/// A stream's row: its name and its last event's time.
pub fn stream_row(x: &LogStream) -> Row {
    let last = x
        .last_event_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "no events".into());
    (x.name.clone(), last)
}

/// `C`: open the browser (groups load), or close it.
pub fn toggle_browse(s: &mut AppState) -> Vec<Command> {
    if s.logs.browse.take().is_some() {
        return vec![];
    }
    s.logs.browse = Some(Browse {
        list: PickList::loading(false),
        ..Default::default()
    });
    vec![Command::CloudGroups {
        target: s.target.clone(),
    }]
}

pub fn on_groups(s: &mut AppState, r: Result<Vec<LogGroup>, CwError>) -> Vec<Command> {
    let r = r.map_err(|e| e.to_string());
    if let Some(b) = &mut s.logs.browse {
        if b.group.is_none() {
            b.list.set(r.map(|v| v.iter().map(group_row).collect()));
        }
    }
    vec![]
}

pub fn on_streams(
    s: &mut AppState,
    group: String,
    r: Result<Vec<LogStream>, CwError>,
) -> Vec<Command> {
    let r = r.map_err(|e| e.to_string());
    if let Some(b) = &mut s.logs.browse {
        if b.group.as_deref() == Some(&group) {
            b.list.set(r.map(|v| v.iter().map(stream_row).collect()));
        }
    }
    vec![]
}

/// Keys while the browser is open: it takes them all but the global help.
pub fn browse_key(s: &mut AppState, k: KeyEvent) -> Option<Vec<Command>> {
    let b = s.logs.browse.as_mut()?;
    match b.list.key(k) {
        Pick::Pass => return None,
        Pick::Stay => {}
        Pick::Back => {
            if b.group.take().is_some() {
                b.list = PickList {
                    items: std::mem::take(&mut b.groups),
                    ..Default::default()
                };
            } else {
                s.logs.browse = None;
            }
        }
        Pick::Take(g) if b.group.is_none() => {
            b.groups = std::mem::take(&mut b.list.items);
            b.group = Some(g.clone());
            b.list = PickList::loading(true);
            return Some(vec![Command::CloudStreams {
                target: s.target.clone(),
                group: g,
            }]);
        }
        Pick::Take(_) => {
            // the marked streams, or the whole group when none is marked
            let g = b.group.clone().unwrap_or_default();
            let streams: Vec<String> = b.list.marked_rows().into_iter().take(100).collect();
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
    Some(vec![])
}

// `a` in the Metrics view.

#[derive(Debug, Clone, Default)]
pub struct MetricBrowse {
    /// The namespace whose metrics are listed.
    pub namespace: Option<String>,
    /// The namespaces, kept to go back to.
    pub namespaces: Vec<Row>,
    /// The metrics listed, by row name.
    pub found: Vec<(String, MetricQuery)>,
    pub list: PickList,
}

/// A metric's row: name and dimensions (unique in a namespace), and whether the target already
/// charts it.
pub fn metric_row(q: &MetricQuery, charted: &[MetricQuery]) -> Row {
    let mut name = q.name.clone();
    for (k, v) in &q.dimensions {
        name.push_str(&format!(" {k}={v}"));
    }
    let have = charted
        .iter()
        .any(|m| m.namespace == q.namespace && m.name == q.name && m.dimensions == q.dimensions);
    (
        name,
        if have {
            "charted".into()
        } else {
            String::new()
        },
    )
}

fn charted(s: &AppState) -> Vec<MetricQuery> {
    s.project
        .as_ref()
        .ok()
        .and_then(|p| p.targets.get(&s.target))
        .map(|t| t.cloudwatch.metrics.clone())
        .unwrap_or_default()
}

/// `a`: open the browser on the namespaces (or close it).
pub fn open_metric_browse(s: &mut AppState) -> Vec<Command> {
    s.view = View::Metrics;
    if s.metrics.browse.take().is_some() {
        return vec![];
    }
    s.metrics.browse = Some(MetricBrowse {
        list: PickList::loading(false),
        ..Default::default()
    });
    vec![Command::ListMetrics {
        target: s.target.clone(),
        namespace: None,
    }]
}

pub fn on_metric_list(
    s: &mut AppState,
    namespace: Option<String>,
    r: Result<Vec<MetricQuery>, CwError>,
) -> Vec<Command> {
    let r = r.map_err(|e| e.to_string());
    let have = charted(s);
    let Some(b) = &mut s.metrics.browse else {
        return vec![];
    };
    if b.namespace != namespace {
        return vec![];
    }
    match (namespace, r) {
        (_, Err(e)) => b.list.set(Err(e)),
        (None, Ok(v)) => {
            let mut count: std::collections::BTreeMap<String, usize> = Default::default();
            for q in &v {
                *count.entry(q.namespace.clone()).or_default() += 1;
            }
            let more = if v.len() >= NAMESPACE_SCAN { "+" } else { "" };
            b.list.set(Ok(count
                .into_iter()
                .map(|(ns, n)| (ns, format!("{n}{more} metrics")))
                .collect()));
        }
        (Some(_), Ok(v)) => {
            b.found = v
                .into_iter()
                .map(|q| (metric_row(&q, &have).0, q))
                .collect();
            b.list.set(Ok(b
                .found
                .iter()
                .map(|(_, q)| metric_row(q, &have))
                .collect()));
        }
    }
    vec![]
}

/// Keys while the metrics browser is open: it takes them all but the global help.
pub fn metric_browse_key(s: &mut AppState, k: KeyEvent) -> Option<Vec<Command>> {
    let b = s.metrics.browse.as_mut()?;
    match b.list.key(k) {
        Pick::Pass => return None,
        Pick::Stay => {}
        Pick::Back => {
            if b.namespace.take().is_some() {
                b.found.clear();
                b.list = PickList {
                    items: std::mem::take(&mut b.namespaces),
                    ..Default::default()
                };
            } else {
                s.metrics.browse = None;
            }
        }
        Pick::Take(ns) if b.namespace.is_none() => {
            b.namespaces = std::mem::take(&mut b.list.items);
            b.namespace = Some(ns.clone());
            b.list = PickList::loading(true);
            return Some(vec![Command::ListMetrics {
                target: s.target.clone(),
                namespace: Some(ns),
            }]);
        }
        Pick::Take(row) => {
            // the marked metrics, or the selected one when none is marked
            let mut names = b.list.marked_rows();
            if names.is_empty() {
                names.push(row);
            }
            let stat = stat(s).unwrap_or("Average").to_string();
            let b = s.metrics.browse.as_mut()?;
            let queries: Vec<MetricQuery> = b
                .found
                .iter()
                .filter(|(n, _)| names.contains(n))
                .map(|(_, q)| MetricQuery {
                    stat: stat.clone(),
                    ..q.clone()
                })
                .collect();
            b.list.loading = true;
            return Some(vec![Command::AddMetrics {
                target: s.target.clone(),
                queries,
            }]);
        }
    }
    Some(vec![])
}

pub fn on_metrics_added(
    s: &mut AppState,
    r: Result<(usize, Box<crate::project::Project>), EditError>,
) -> Vec<Command> {
    let r = r.map_err(|e| e.to_string());
    match r {
        Ok((n, p)) => {
            let file = p.file.display().to_string();
            s.project = Ok(*p);
            s.metrics.browse = None;
            set_status(
                s,
                Level::Info,
                if n == 0 {
                    format!("targets.{} already charts those", s.target)
                } else {
                    format!(
                        "added {n} metric{} to targets.{} in {file}",
                        if n == 1 { "" } else { "s" },
                        s.target
                    )
                },
            );
            s.metrics.cloud = true;
            load(s)
        }
        Err(e) => {
            if let Some(b) = &mut s.metrics.browse {
                b.list.loading = false;
            }
            set_status(s, Level::Error, crate::observe::sanitize(&e).into_owned());
            vec![]
        }
    }
}
