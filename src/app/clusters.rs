//! The Clusters view's logic: SageMaker HyperPod clusters with their instance groups and nodes,
//! refreshed while the view is on screen; `t` chooses which ssm target of the project a node is
//! for, `u` points that target at the selected node (after a question, tandem.toml edited in place).

use super::command::Command;
use super::msg::Action;
use super::state::{AppState, Level, Popup, View};
use crate::cluster::{Cluster, Discovery, Node};
use crate::observe::sanitize;
use chrono::{DateTime, Utc};

/// Discovery costs 1 + 2 calls per cluster (more for big node lists): once a minute while shown.
pub const REFRESH_SECS: i64 = 60;

#[derive(Debug, Clone, Default)]
pub struct ClustersState {
    pub clusters: Vec<Cluster>,
    /// The selected cluster.
    pub selected: usize,
    /// The selected node among the selected cluster's visible nodes.
    pub node: usize,
    /// Keys move in the nodes table (else in the clusters table).
    pub focus_nodes: bool,
    /// Filters nodes (instance id, group, status, type).
    pub filter: String,
    pub loading: bool,
    pub error: Option<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub api_calls: u64,
    /// The ssm target `u` points at the selected node.
    pub for_target: Option<String>,
}

impl ClustersState {
    pub fn current(&self) -> Option<&Cluster> {
        self.clusters.get(self.selected)
    }
    pub fn visible_nodes(&self) -> Vec<&Node> {
        let f = self.filter.to_lowercase();
        self.current()
            .map(|c| {
                c.nodes
                    .iter()
                    .filter(|n| {
                        f.is_empty()
                            || [&n.instance_id, &n.group, &n.status, &n.instance_type]
                                .iter()
                                .any(|x| x.to_lowercase().contains(&f))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The project's targets that take a node (ssm transport).
fn ssm_targets(s: &AppState) -> Vec<String> {
    s.project
        .as_ref()
        .map(crate::cluster::pick::ssm_targets)
        .unwrap_or_default()
}

pub fn load(s: &mut AppState) -> Vec<Command> {
    s.clusters.loading = true;
    if s.clusters.for_target.is_none() {
        s.clusters.for_target = ssm_targets(s).into_iter().next();
    }
    vec![Command::LoadClusters]
}

pub fn on_tick(s: &mut AppState) -> Vec<Command> {
    let due = s
        .clusters
        .loaded_at
        .is_none_or(|t| (s.now - t).num_seconds() >= REFRESH_SECS);
    if s.view == View::Clusters && !s.clusters.loading && due {
        load(s)
    } else {
        vec![]
    }
}

pub fn on_loaded(s: &mut AppState, result: Result<Discovery, String>) -> Vec<Command> {
    let c = &mut s.clusters;
    c.loading = false;
    c.loaded_at = Some(s.now);
    match result {
        Ok(d) => {
            // keep the selection on the same cluster when the list changes
            let name = c.current().map(|x| x.name.clone());
            c.api_calls += d.api_calls;
            c.clusters = d.clusters;
            c.selected = name
                .and_then(|n| c.clusters.iter().position(|x| x.name == n))
                .unwrap_or(0);
            c.node = c.node.min(c.visible_nodes().len().saturating_sub(1));
            c.error = None;
        }
        Err(e) => c.error = Some(sanitize(&e).into_owned()),
    }
    vec![]
}

/// Move within the focused table.
pub fn step(s: &mut AppState, a: &Action, page: usize) {
    let c = &mut s.clusters;
    if c.focus_nodes {
        let n = c.visible_nodes().len();
        super::update::move_sel(&mut c.node, n, a, page);
    } else {
        let before = c.selected;
        super::update::move_sel(&mut c.selected, c.clusters.len(), a, page);
        if before != c.selected {
            c.node = 0;
        }
    }
}

pub fn focus(s: &mut AppState, nodes: bool) {
    s.clusters.focus_nodes = nodes && s.clusters.current().is_some();
}

/// `t`: the next ssm target of the project.
pub fn cycle_target(s: &mut AppState) {
    let all = ssm_targets(s);
    if all.is_empty() {
        super::update::set_status(
            s,
            Level::Warn,
            "no ssm target in the project: add one with transport = \"ssm\" (see README)".into(),
        );
        return;
    }
    let i = s
        .clusters
        .for_target
        .as_ref()
        .and_then(|t| all.iter().position(|x| x == t))
        .map(|i| (i + 1) % all.len())
        .unwrap_or(0);
    s.clusters.for_target = Some(all[i].clone());
}

/// `u`: ask whether to point the chosen target at the selected node.
pub fn ask_use(s: &mut AppState) -> Vec<Command> {
    let node = s
        .clusters
        .visible_nodes()
        .get(s.clusters.node)
        .map(|n| (n.instance_id.clone(), n.ssm_target.clone()));
    let Some((id, ssm)) = node.filter(|_| s.clusters.focus_nodes) else {
        super::update::set_status(s, Level::Info, "select a node first (→ or l)".into());
        return vec![];
    };
    if s.clusters.for_target.is_none() {
        s.clusters.for_target = ssm_targets(s).into_iter().next();
    }
    let Some(target) = s.clusters.for_target.clone() else {
        cycle_target(s); // says what is missing
        return vec![];
    };
    s.popup = Some(Popup::Confirm {
        text: format!(
            "point target {} at node {} ({})?  tandem.toml is edited.  y / n",
            sanitize(&target),
            sanitize(&id),
            sanitize(&ssm)
        ),
        action: Action::UseNode { target, ssm },
    });
    vec![]
}

pub fn on_picked(s: &mut AppState, result: Result<(String, String), String>) -> Vec<Command> {
    match result {
        Ok((target, ssm)) => super::update::set_status(
            s,
            Level::Info,
            format!(
                "target {} now reaches {}",
                sanitize(&target),
                sanitize(&ssm)
            ),
        ),
        Err(e) => super::update::set_status(s, Level::Error, sanitize(&e).into_owned()),
    }
    vec![]
}
