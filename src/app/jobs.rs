//! The Jobs view's logic: the Slurm queue of the target's cluster, refreshed while the view is on
//! screen, filtered and sorted, `c` to cancel a job (after a question), `i` for the partitions.

use super::command::Command;
use super::msg::Action;
use super::state::{AppState, Level, Popup, View};
use super::status::set_status;
pub use crate::engine::slurm::JobLogChunk;
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
    /// The job log followed below the queue (Enter), closed with Esc.
    pub log: Option<JobLog>,
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
    result: Result<Vec<QueueJob>, crate::engine::EngineError>,
    api_calls: u64,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
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
        _ => super::status::set_status(s, Level::Info, "no queued or running job selected".into()),
    }
    vec![]
}

pub fn cancel(s: &mut AppState, id: String) -> Vec<Command> {
    match s.jobs.target.clone() {
        Some(target) => {
            super::status::set_status(s, Level::Warn, format!("scancel {id}…"));
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

/// Msg::Partitions: sinfo's lines, or why not.
pub fn on_partitions(s: &mut AppState, r: Result<Vec<String>, crate::engine::EngineError>) {
    match r.map_err(|e| e.to_string()) {
        Ok(lines) => s.jobs.partitions = Some(lines),
        Err(e) => set_status(s, Level::Error, crate::observe::sanitize(&e).into_owned()),
    }
}

/// Lines of a followed job log kept in memory (the oldest go first).
pub const LOG_LINES: usize = 20_000;

/// A job's log followed from the Jobs view (Enter): stdout and stderr read by byte offset.
#[derive(Debug, Clone, Default)]
pub struct JobLog {
    pub id: String,
    pub name: String,
    /// stdout and stderr on the cluster, once scontrol named them.
    pub paths: Option<(String, String)>,
    pub offsets: (u64, u64),
    /// (from stderr, text), sanitised.
    pub lines: std::collections::VecDeque<(bool, String)>,
    partial: [Vec<u8>; 2],
    /// Slurm's state word and reason at the last poll.
    pub state: String,
    /// How the bytes arrive (streamed or polled), once the follower said.
    pub reading: Option<crate::engine::joblog::Reading>,
    /// Waiting for the follower's first answer.
    pub loading: bool,
    pub error: Option<String>,
    pub at: Option<DateTime<Utc>>,
    /// The job ended and its logs were read to the end: the follower stopped.
    pub done: bool,
}

impl JobLog {
    fn push(&mut self, err: bool, bytes: &[u8]) {
        let buf = &mut self.partial[err as usize];
        buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &buf[start..]) {
            // as a terminal would show it (a progress bar's last state), safely
            let line = crate::observe::ansi::log_line(&buf[start..start + i]).text;
            self.lines.push_back((err, line));
            start += i + 1;
        }
        buf.drain(..start);
        while self.lines.len() > LOG_LINES {
            self.lines.pop_front();
        }
    }
}

/// Enter: follow the selected job's log (one follower in the backend until the job ended and its
/// logs were read, or the log is closed).
pub fn open_log(s: &mut AppState) -> Vec<Command> {
    let Some(j) = s.jobs.visible().get(s.jobs.selected).map(|j| (*j).clone()) else {
        return vec![];
    };
    s.jobs.log = Some(JobLog {
        id: j.id,
        name: j.name,
        state: j.state,
        ..Default::default()
    });
    follow_log(s)
}

fn follow_log(s: &mut AppState) -> Vec<Command> {
    let (Some(target), Some(l)) = (s.jobs.target.clone(), s.jobs.log.as_mut()) else {
        return vec![];
    };
    l.loading = true;
    vec![Command::JobLog {
        target,
        id: l.id.clone(),
        paths: l.paths.clone(),
        offsets: l.offsets,
    }]
}

/// Esc: close the log and stop its follower.
pub fn close_log(s: &mut AppState) -> Vec<Command> {
    match s.jobs.log.take() {
        Some(_) => vec![Command::StopJobLog],
        None => vec![],
    }
}

pub fn on_log(
    s: &mut AppState,
    id: String,
    result: Result<JobLogChunk, crate::engine::EngineError>,
) -> Vec<Command> {
    let result = result.map_err(|e| e.to_string());
    let now = s.now;
    let Some(l) = s.jobs.log.as_mut().filter(|l| l.id == id) else {
        return vec![]; // closed, or another job's answer
    };
    l.loading = false;
    l.at = Some(now);
    match result {
        Ok(c) => {
            let nothing = c.stdout.is_empty() && c.stderr.is_empty();
            l.paths = Some(c.paths);
            l.offsets.0 += c.stdout.len() as u64;
            l.offsets.1 += c.stderr.len() as u64;
            l.push(false, &c.stdout);
            l.push(true, &c.stderr);
            let (state, _) = crate::pipeline::phase::slurm_state(&c.status);
            l.state = if c.status.state.is_empty() {
                "gone".into()
            } else if c.status.reason.is_empty() || c.status.reason == "None" {
                c.status.state.clone()
            } else {
                format!("{} ({})", c.status.state, c.status.reason)
            };
            l.reading = c.reading;
            l.done = state.is_terminal() && nothing;
        }
        Err(e) => l.error = Some(crate::observe::sanitize(&e).into_owned()),
    }
    vec![]
}
