//! Following a run's logs, merged: its phases' stdout and stderr files read by offset (each byte
//! once), and the target's CloudWatch log groups polled beside them (FilterLogEvents, each event
//! once), in batches, until the run is over and everything was read. The one follower of a run's
//! logs: the TUI's Logs view and `tandem logs` both read through it. With no run, it follows
//! CloudWatch groups alone (the log group browser, `tandem logs --group`).

use super::workspace::{Part, Workspace};
use crate::observe::cloudwatch::{self, CwError, CwLogs, GroupTail, TailSpec};
use crate::observe::logbuf::LogLine;
use crate::observe::tail::FileTail;
use crate::project::PhaseId;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What one call of [`Follow::next`] brought.
#[derive(Debug, Default)]
pub struct Batch {
    pub lines: Vec<LogLine>,
    /// Lines in the writing that changed (a progress bar redrawn in place): each replaces its
    /// source's last one until the line ends.
    pub live: Vec<LogLine>,
    /// A file gave a whole chunk: more is waiting (a caller that applies back-pressure waits
    /// before asking again; the others just ask).
    pub behind: bool,
    pub errors: Vec<FollowError>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum FollowError {
    #[error("reading {path}: {why}")]
    File { path: String, why: String },
    #[error(transparent)]
    Cloud(#[from] CwError),
}

/// How often the CloudWatch groups are polled: a base interval asked anew before every wait (the
/// TUI's shortens while the Logs view is on screen), doubled per throttled poll.
pub type Every = Arc<dyn Fn() -> Duration + Send + Sync>;

struct Cloud {
    cw: CwLogs,
    tails: Vec<GroupTail>,
    every: Every,
    due: Instant,
    /// How long past the run's end the groups are still polled (events land late).
    after_end: Duration,
}

pub struct Follow {
    ws: Option<Workspace>,
    run_id: Option<String>,
    files: Vec<(Part, bool, FileTail)>,
    cloud: Option<Cloud>,
    follow: bool,
    chunk: u64,
    /// When the run was seen over (files flushed then, groups until `after_end` past it).
    over: Option<Instant>,
    files_done: bool,
    idle: u32,
}

impl Follow {
    /// The stdout and stderr files of these parts (phases, elements of a sweep) of run `run_id`
    /// (see [`super::Run::parts`]).
    pub fn run(ws: &Workspace, run_id: &str, parts: &[Part]) -> Follow {
        let files = parts
            .iter()
            .flat_map(|&p| [(p, false), (p, true)])
            .map(|(p, e)| (p, e, FileTail::new(ws.log_path(run_id, p, e))))
            .collect();
        Follow {
            ws: Some(ws.clone()),
            run_id: Some(run_id.to_string()),
            files,
            cloud: None,
            follow: true,
            chunk: u64::MAX,
            over: None,
            files_done: false,
            idle: 0,
        }
    }

    /// CloudWatch groups alone, no run: followed until dropped (or read once with `follow(false)`).
    pub fn groups(cw: CwLogs, specs: Vec<TailSpec>, every: Every) -> Follow {
        Follow {
            ws: None,
            run_id: None,
            files: Vec::new(),
            cloud: None,
            follow: true,
            chunk: u64::MAX,
            over: None,
            files_done: true,
            idle: 0,
        }
        .with_cloud(cw, specs, every, Duration::ZERO)
    }

    /// Also these CloudWatch groups, polled every `every()`, until `after_end` past the run's end.
    pub fn with_cloud(
        mut self,
        cw: CwLogs,
        specs: Vec<TailSpec>,
        every: Every,
        after_end: Duration,
    ) -> Follow {
        if !specs.is_empty() {
            self.cloud = Some(Cloud {
                cw,
                tails: specs.into_iter().map(GroupTail::new).collect(),
                every,
                due: Instant::now(),
                after_end,
            });
        }
        self
    }

    /// `false`: read what is there now (every page of the groups) and end.
    pub fn follow(mut self, yes: bool) -> Follow {
        self.follow = yes;
        self
    }

    /// Read at most this much of a file per call (a file with more is `behind`).
    pub fn chunk(mut self, bytes: u64) -> Follow {
        self.chunk = bytes;
        self
    }

    /// Whether the run has ended (or there is no run, and only groups are followed).
    fn run_over(&self) -> bool {
        match (&self.ws, &self.run_id) {
            (Some(ws), Some(id)) => ws
                .journal
                .get(id)
                .ok()
                .flatten()
                .is_none_or(|r| r.state.is_terminal()),
            _ => false,
        }
    }

    /// The next batch of lines: waits while nothing is new, `None` once the run is over and
    /// everything was read (never, following groups alone, until the caller stops).
    pub async fn next(&mut self) -> Option<Batch> {
        loop {
            if self.over.is_none() && (!self.follow || (self.idle > 0 && self.run_over())) {
                self.over = Some(Instant::now());
            }
            let over = self.over.is_some();
            let mut b = Batch::default();
            if !self.files_done {
                self.read_files(&mut b, over);
                // with the run over, that read flushed the last partial lines
                self.files_done = over && !b.behind;
            }
            let cloud_done = self.poll_cloud(&mut b, over).await;
            let got = !b.lines.is_empty() || !b.live.is_empty() || !b.errors.is_empty();
            self.idle = if got { 0 } else { self.idle + 1 };
            if got {
                return Some(b);
            }
            if self.files_done && cloud_done {
                return None;
            }
            if !over && !b.behind {
                // poll fast while lines flow, back off to 1 s when quiet
                let wait = if self.idle < 4 { 100 } else { 1000 };
                let until = Instant::now() + Duration::from_millis(wait);
                let until = self.cloud.as_ref().map_or(until, |c| until.min(c.due));
                tokio::time::sleep_until(until).await;
            } else if self.files_done {
                // only the groups are left: until they are due
                if let Some(c) = &self.cloud {
                    tokio::time::sleep_until(c.due.min(Instant::now() + Duration::from_secs(1)))
                        .await;
                }
            }
        }
    }

    fn read_files(&mut self, b: &mut Batch, flush: bool) {
        for (part, stderr, t) in &mut self.files {
            let before = t.offset();
            let polled = t.poll(self.chunk, flush);
            b.behind |= t.offset().saturating_sub(before) >= self.chunk;
            match polled {
                Ok(new) => {
                    let at = chrono::Utc::now().timestamp_millis();
                    let line = |shown| LogLine {
                        element: part.element,
                        ..LogLine::read(part.phase, *stderr, shown, at)
                    };
                    b.lines.extend(new.into_iter().map(line));
                    b.live.extend(t.live().map(line));
                }
                Err(e) => b.errors.push(FollowError::File {
                    path: t.path.display().to_string(),
                    why: e.to_string(),
                }),
            }
        }
    }

    /// Poll the groups when due (every page at once while a window is busy); whether the groups
    /// are done (none, or the run over and `after_end` passed, or read once without following).
    async fn poll_cloud(&mut self, b: &mut Batch, over: bool) -> bool {
        let ended = self.over;
        let follow = self.follow;
        let Some(c) = self.cloud.as_mut() else {
            return true;
        };
        let last = ended.is_some_and(|at| !follow || at.elapsed() >= c.after_end);
        if Instant::now() < c.due && !last {
            return false;
        }
        for t in &mut c.tails {
            let group = t.spec.group.clone();
            loop {
                match t.poll(&c.cw).await {
                    Ok(evs) => b.lines.extend(cloud_lines(&group, evs)),
                    Err(e) => {
                        b.errors.push(e.into());
                        break;
                    }
                }
                if !t.pending() {
                    break;
                }
            }
        }
        let base = (c.every)();
        let wait = c
            .tails
            .iter()
            .map(|t| t.next_delay(base))
            .max()
            .unwrap_or(base);
        c.due = Instant::now() + wait;
        last || (over && !follow)
    }
}

/// CloudWatch events as timeline lines, tagged with their stream.
pub fn cloud_lines(group: &str, evs: Vec<cloudwatch::CwEvent>) -> Vec<LogLine> {
    cloudwatch::event_lines(group, evs)
        .map(|(tag, at, shown)| LogLine {
            tag: Some(tag),
            ..LogLine::read(PhaseId::Solve, false, shown, at)
        })
        .collect()
}
