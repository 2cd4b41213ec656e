//! The Jobs view's logic: the Slurm queue of the target's cluster, refreshed while the view is on
//! screen, filtered and sorted, `c` to cancel a job (after a question), `i` for the partitions.

use super::command::Command;
use super::msg::Action;
use super::state::{AppState, Level, Popup, View};
use crate::engine::slurm::QueueJob;
use chrono::{DateTime, Utc};

/// How often the queue is asked for while the Jobs view is on screen (one transport round trip;
/// over SSM about 3 API calls).
pub const REFRESH_SECS: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobSort {
    #[default]
    Id,
    State,
    User,
    Elapsed,
}

#[derive(Debug, Clone, Default)]
pub struct JobsState {
    /// The Slurm target whose queue is shown.
    pub target: Option<String>,
    pub jobs: Vec<QueueJob>,
    pub selected: usize,
    pub filter: String,
    pub sort: JobSort,
    pub loading: bool,
    pub error: Option<String>,
    pub loaded_at: Option<DateTime<Utc>>,
    pub partitions: Option<Vec<String>>,
    /// AWS API calls made by the target's transport so far (SSM), shown in the title.
    pub api_calls: u64,
}

impl JobsState {
    pub fn visible(&self) -> Vec<&QueueJob> {
        let f = self.filter.to_lowercase();
        let mut v: Vec<&QueueJob> = self
            .jobs
            .iter()
            .filter(|j| {
                f.is_empty()
                    || [&j.id, &j.name, &j.user, &j.state, &j.reason, &j.partition]
                        .iter()
                        .any(|x| x.to_lowercase().contains(&f))
            })
            .collect();
        match self.sort {
            JobSort::Id => v.sort_by_key(|j| j.id.parse::<u64>().unwrap_or(u64::MAX)),
            JobSort::State => v.sort_by(|a, b| a.state.cmp(&b.state)),
            JobSort::User => v.sort_by(|a, b| a.user.cmp(&b.user)),
            JobSort::Elapsed => v.sort_by_key(|j| std::cmp::Reverse(j.elapsed_s)),
        }
        v
    }
}

/// The Slurm target the Jobs view follows: the current one if it is Slurm, else the project's
/// first Slurm target.
pub fn slurm_target(s: &AppState) -> Option<String> {
    let p = s.project.as_ref().ok()?;
    if p.slurm_target(&s.target).is_some() {
        return Some(s.target.clone());
    }
    p.targets
        .keys()
        .find(|n| p.slurm_target(n).is_some())
        .cloned()
}

pub fn load(s: &mut AppState) -> Vec<Command> {
    match s.jobs.target.clone().or_else(|| slurm_target(s)) {
        Some(t) => {
            s.jobs.target = Some(t.clone());
            s.jobs.loading = true;
            vec![Command::LoadJobs { target: t }]
        }
        None => {
            s.jobs.error = Some(
                "no Slurm target in the project: add one with kind = \"slurm\" (see README)".into(),
            );
            vec![]
        }
    }
}

/// On the clock: refresh when the view is on screen and the last answer is old.
pub fn on_tick(s: &mut AppState) -> Vec<Command> {
    let due = s
        .jobs
        .loaded_at
        .is_none_or(|t| (s.now - t).num_seconds() >= REFRESH_SECS);
    if s.view == View::Jobs && !s.jobs.loading && due && s.jobs.target.is_some() {
        load(s)
    } else {
        vec![]
    }
}

pub fn on_loaded(
    s: &mut AppState,
    result: Result<Vec<QueueJob>, String>,
    api_calls: u64,
) -> Vec<Command> {
    s.jobs.loading = false;
    s.jobs.loaded_at = Some(s.now);
    s.jobs.api_calls = api_calls;
    match result {
        Ok(j) => {
            s.jobs.jobs = j;
            s.jobs.error = None;
            s.jobs.selected = s.jobs.selected.min(s.jobs.jobs.len().saturating_sub(1));
        }
        Err(e) => s.jobs.error = Some(crate::observe::sanitize(&e).into_owned()),
    }
    vec![]
}

pub fn ask_cancel(s: &mut AppState) -> Vec<Command> {
    let vis = s.jobs.visible();
    match vis.get(s.jobs.selected) {
        Some(j)
            if !matches!(
                j.state.as_str(),
                "COMPLETED" | "CANCELLED" | "FAILED" | "TIMEOUT"
            ) =>
        {
            let text = format!(
                "scancel job {} ({})?  y / n",
                crate::observe::sanitize(&j.id),
                crate::observe::sanitize(&j.name)
            );
            let id = j.id.clone();
            s.popup = Some(Popup::Confirm {
                text,
                action: Action::CancelJob(id),
            });
        }
        _ => super::update::set_status(s, Level::Info, "no queued or running job selected".into()),
    }
    vec![]
}

pub fn cancel(s: &mut AppState, id: String) -> Vec<Command> {
    match s.jobs.target.clone() {
        Some(target) => {
            super::update::set_status(s, Level::Warn, format!("scancel {id}…"));
            vec![Command::CancelJob { target, id }]
        }
        None => vec![],
    }
}

pub fn toggle_partitions(s: &mut AppState) -> Vec<Command> {
    if s.jobs.partitions.take().is_some() {
        return vec![];
    }
    match s.jobs.target.clone() {
        Some(target) => vec![Command::LoadPartitions { target }],
        None => vec![],
    }
}

pub fn sort_next(s: &mut AppState) {
    s.jobs.sort = match s.jobs.sort {
        JobSort::Id => JobSort::State,
        JobSort::State => JobSort::User,
        JobSort::User => JobSort::Elapsed,
        JobSort::Elapsed => JobSort::Id,
    };
    s.jobs.selected = 0;
}
