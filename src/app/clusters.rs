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
    /// `r`: the current target's Ray cluster instead of HyperPod.
    pub ray_mode: bool,
    pub ray: Option<crate::engine::ray::RayCluster>,
    pub ray_loading: bool,
    pub ray_error: Option<String>,
    pub ray_loaded_at: Option<DateTime<Utc>>,
    /// Dashboard requests made (through the transport: one remote command each).
    pub ray_requests: u64,
    /// The selected Ray job.
    pub ray_job: usize,
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
        .map(|p| p.ssm_targets())
        .unwrap_or_default()
}

/// The Ray dashboard is asked three questions a refresh: every 5 s when reached directly, every
/// 30 s through a transport (SSM bills and throttles each command).
pub fn ray_refresh_secs(s: &AppState) -> i64 {
    let via = s
        .project
        .as_ref()
        .ok()
        .and_then(|p| p.targets.get(&s.target))
        .and_then(|t| t.ray.as_ref())
        .is_some_and(|r| r.reach == crate::engine::ray::Reach::Transport);
    if via {
        30
    } else {
        5
    }
}

/// `r`: switch between HyperPod and the current target's Ray cluster.
pub fn toggle_ray(s: &mut AppState) -> Vec<Command> {
    s.clusters.ray_mode = !s.clusters.ray_mode;
    if s.clusters.ray_mode || s.clusters.loaded_at.is_none() {
        load(s)
    } else {
        vec![]
    }
}

pub fn on_ray_loaded(
    s: &mut AppState,
    result: Result<crate::engine::ray::RayCluster, crate::engine::EngineError>,
    requests: u64,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
    let c = &mut s.clusters;
    c.ray_loading = false;
    c.ray_loaded_at = Some(s.now);
    c.ray_requests += requests;
    match result {
        Ok(r) => {
            c.ray_job = c.ray_job.min(r.jobs.len().saturating_sub(1));
            c.ray = Some(r);
            c.ray_error = None;
        }
        Err(e) => c.ray_error = Some(sanitize(&e).into_owned()),
    }
    vec![]
}

pub fn load(s: &mut AppState) -> Vec<Command> {
    if s.clusters.ray_mode {
        let has_ray = s
            .project
            .as_ref()
            .ok()
            .and_then(|p| p.targets.get(&s.target))
            .is_some_and(|t| t.ray.is_some());
        if !has_ray {
            s.clusters.ray_error = Some(format!(
                "target {} has no Ray dashboard: set `ray_dashboard` on it in tandem.toml (see README)",
                sanitize(&s.target)
            ));
            s.clusters.ray_loaded_at = Some(s.now);
            return vec![];
        }
        s.clusters.ray_loading = true;
        return vec![Command::LoadRay {
            target: s.target.clone(),
        }];
    }
    s.clusters.loading = true;
    if s.clusters.for_target.is_none() {
        s.clusters.for_target = ssm_targets(s).into_iter().next();
    }
    vec![Command::LoadClusters]
}

pub fn on_tick(s: &mut AppState) -> Vec<Command> {
    if s.clusters.ray_mode {
        let every = ray_refresh_secs(s);
        let due = s
            .clusters
            .ray_loaded_at
            .is_none_or(|t| (s.now - t).num_seconds() >= every);
        return if s.view == View::Clusters && !s.clusters.ray_loading && due {
            load(s)
        } else {
            vec![]
        };
    }
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

pub fn on_loaded(
    s: &mut AppState,
    result: Result<Discovery, crate::cluster::hyperpod::DiscoverError>,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
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
    if c.ray_mode {
        let n = c.ray.as_ref().map(|r| r.jobs.len()).unwrap_or(0);
        super::layout::move_sel(&mut c.ray_job, n, a, page);
    } else if c.focus_nodes {
        let n = c.visible_nodes().len();
        super::layout::move_sel(&mut c.node, n, a, page);
    } else {
        let before = c.selected;
        super::layout::move_sel(&mut c.selected, c.clusters.len(), a, page);
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
        super::status::set_status(
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
        super::status::set_status(s, Level::Info, "select a node first (→ or l)".into());
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

pub fn on_picked(
    s: &mut AppState,
    result: Result<(String, String), crate::project::edit::EditError>,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
    match result {
        Ok((target, ssm)) => super::status::set_status(
            s,
            Level::Info,
            format!(
                "target {} now reaches {}",
                sanitize(&target),
                sanitize(&ssm)
            ),
        ),
        Err(e) => super::status::set_status(s, Level::Error, sanitize(&e).into_owned()),
    }
    vec![]
}
