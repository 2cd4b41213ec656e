//! How a Slurm job's stdout and stderr are followed: the one answer, for a run's solve phase, the
//! Jobs view and `tandem logs --follow` alike. Where the transport can keep something open (a
//! watched file on this machine, a `tail -F` over SSH) the bytes are streamed as they are written
//! and Slurm is asked only for the job's state, every poll interval; where it cannot (SSM) each
//! poll brings the state and the new bytes in one round trip. Either way each byte arrives once
//! and in order (a stream that drops is started again from the last byte given), and a finished
//! job's logs are read to their end.

use super::slurm::{JobStatus, Poll, Slurm};
use crate::transport::follow::FileFollow;
use crate::transport::{Result, TransportError};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How the bytes of a followed log arrive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reading", content = "how", rename_all = "lowercase")]
pub enum Reading {
    /// Streamed: how (file events, polled, `tail -F`).
    Streamed(String),
    /// Polled with the state, every this many seconds on average (sooner while the log grows,
    /// later while it is quiet: [`Cadence`]).
    Polled(u64),
}

impl std::fmt::Display for Reading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reading::Streamed(how) => write!(f, "streamed: {how}"),
            Reading::Polled(secs) => write!(f, "polled every {secs} s"),
        }
    }
}

/// Most bytes one answer brings of each streamed log.
const CHUNK: usize = 1 << 20;
/// Bytes that arrive this soon after the first of an answer join it, up to [`CHUNK`]: fewer,
/// fuller answers under a fast writer. Each answer costs its reader a frame (the Jobs view) or a
/// write (`tandem logs --follow`); at 100 ms a line is on screen within about a tenth of a
/// second, and a job printing 2,000 lines/s costs ten frames a second instead of fifty.
const GATHER: Duration = Duration::from_millis(100);

/// When a log that cannot be streamed (SSM) is polled next: sooner while it grows, later while
/// it has been quiet a while, and never more polls than a fixed interval `every` makes over any
/// stretch of time (a token bucket at one poll per `every`, [`BURST`] polls deep). A steadily
/// growing log is polled every `every`; one that starts again after a quiet spell is polled at
/// `every / 2` with what the quiet spell saved; a quiet one every `2 * every` after
/// [`QUIET_POLLS`] empty polls.
#[derive(Debug, Clone)]
pub struct Cadence {
    every: Duration,
    /// Polls that may be made now without going over one per `every`.
    tokens: f64,
    at: Instant,
    quiet: u32,
}

/// Polls a quiet spell may save up.
const BURST: f64 = 3.0;
/// Empty polls in a row after which a log counts as quiet.
const QUIET_POLLS: u32 = 3;

impl Cadence {
    pub fn new(every: Duration, now: Instant) -> Cadence {
        Cadence {
            every: every.max(Duration::from_millis(100)),
            tokens: 1.0,
            at: now,
            quiet: 0,
        }
    }

    /// A poll is made at `now` and brought new bytes or not: how long to wait before the next.
    pub fn after_poll(&mut self, now: Instant, grew: bool) -> Duration {
        let every = self.every.as_secs_f64();
        let since = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + since / every).min(BURST) - 1.0;
        self.quiet = if grew { 0 } else { self.quiet + 1 };
        let want = if grew {
            every / 2.0
        } else if self.quiet >= QUIET_POLLS {
            2.0 * every
        } else {
            every
        };
        // not before the bucket holds a poll again
        let earliest = (-self.tokens).max(0.0) * every;
        Duration::from_secs_f64(want.max(earliest))
    }
}

/// A job's two logs followed from `offsets`: [`LogFollow::next`] gives the next bytes with the
/// job's state.
pub struct LogFollow<'s, 'a> {
    slurm: &'s Slurm<'a>,
    job: String,
    paths: (String, String),
    offsets: (u64, u64),
    every: Duration,
    /// stdout's and stderr's streams, while open.
    streams: Option<[FileFollow; 2]>,
    /// The transport can stream (it may still fail to start one now).
    can_stream: bool,
    status: JobStatus,
    state_due: Instant,
    first: bool,
    /// When the next poll is due, where the logs are polled.
    cadence: Cadence,
    poll_in: Duration,
}

impl<'s, 'a> LogFollow<'s, 'a> {
    /// Follow `job`'s logs at `paths` (stdout, stderr) from `offsets`; its state asked every
    /// `every`.
    pub fn new(
        slurm: &'s Slurm<'a>,
        job: &str,
        paths: (String, String),
        offsets: (u64, u64),
        every: Duration,
    ) -> LogFollow<'s, 'a> {
        LogFollow {
            slurm,
            job: job.to_string(),
            paths,
            offsets,
            every,
            streams: None,
            can_stream: true,
            status: JobStatus::default(),
            state_due: Instant::now(),
            first: true,
            cadence: Cadence::new(every, Instant::now()),
            poll_in: every,
        }
    }

    /// How the bytes arrive now.
    pub fn reading(&self) -> Reading {
        match &self.streams {
            Some([o, _]) => Reading::Streamed(o.how().to_string()),
            None => Reading::Polled(self.every.as_secs().max(1)),
        }
    }

    /// Where the logs are read up to.
    pub fn offsets(&self) -> (u64, u64) {
        self.offsets
    }

    /// The next bytes of the logs (either may be empty) and the job's state. The first call
    /// answers at once; then, streaming, as soon as bytes are written or the state is due;
    /// polling, every `every`. Once the job has ended, each call reads on from where the bytes
    /// stand, at once (call again while bytes come).
    pub async fn next(&mut self, cancel: &CancellationToken) -> Result<Poll> {
        if self.first || self.status.is_over() {
            self.first = false;
            return self.poll(cancel).await;
        }
        let Some([o, e]) = self.streams.as_mut() else {
            wait(self.poll_in, cancel).await?;
            let p = self.poll(cancel).await?;
            if self.streams.is_none() {
                let grew = !p.stdout.is_empty() || !p.stderr.is_empty();
                self.poll_in = self.cadence.after_poll(Instant::now(), grew);
            }
            return Ok(p);
        };
        let due = self.state_due;
        let first = tokio::select! {
            r = o.next(CHUNK) => Some((0, r)),
            r = e.next(CHUNK) => Some((1, r)),
            _ = tokio::time::sleep_until(due) => None,
            _ = cancel.cancelled() => return Err(TransportError::Cancelled),
        };
        let Some((which, first)) = first else {
            // the state is due: asked alone (the bytes come by the streams)
            let p = self
                .slurm
                .poll_up_to(&self.job, self.paths(), self.offsets, 0, cancel)
                .await?;
            self.state_due = Instant::now() + self.every;
            self.status = p.status.clone();
            if self.status.is_over() {
                // what the streams have not given yet is read by polls, to the end
                self.streams = None;
                return self.poll(cancel).await;
            }
            return Ok(p);
        };
        let mut p = Poll {
            status: self.status.clone(),
            ..Default::default()
        };
        fn put(p: &mut Poll, which: usize, b: Vec<u8>) {
            if which == 0 {
                p.stdout.extend(b)
            } else {
                p.stderr.extend(b)
            }
        }
        match first {
            Ok(b) if !b.is_empty() => put(&mut p, which, b),
            _ => {
                // the stream ended (its connection dropped): polled from where the bytes
                // stand, streamed again after
                self.streams = None;
                return self.poll(cancel).await;
            }
        }
        // what follows soon joins this answer
        let until = Instant::now() + GATHER;
        while p.stdout.len() + p.stderr.len() < CHUNK {
            let more = tokio::select! {
                r = o.next(CHUNK) => (0, r),
                r = e.next(CHUNK) => (1, r),
                _ = tokio::time::sleep_until(until) => break,
            };
            match more {
                (w, Ok(b)) if !b.is_empty() => put(&mut p, w, b),
                _ => break,
            }
        }
        self.offsets = (o.offset, e.offset);
        Ok(p)
    }

    fn paths(&self) -> (&str, &str) {
        (&self.paths.0, &self.paths.1)
    }

    /// One poll of the state and the new bytes from the offsets; then the streams (re)opened
    /// there while the job runs.
    async fn poll(&mut self, cancel: &CancellationToken) -> Result<Poll> {
        let p = self
            .slurm
            .poll(
                &self.job,
                &self.paths.0,
                &self.paths.1,
                self.offsets,
                cancel,
            )
            .await?;
        self.offsets.0 += p.stdout.len() as u64;
        self.offsets.1 += p.stderr.len() as u64;
        self.status = p.status.clone();
        self.state_due = Instant::now() + self.every;
        self.streams = None;
        if self.can_stream && !self.status.is_over() {
            let t = self.slurm.transport;
            match (
                t.follow_file(&self.paths.0, self.offsets.0),
                t.follow_file(&self.paths.1, self.offsets.1),
            ) {
                (Some(Ok(o)), Some(Ok(e))) => self.streams = Some([o, e]),
                (None, _) | (_, None) => self.can_stream = false,
                // could not start now (the connection is down): polled, tried again after
                _ => {}
            }
        }
        Ok(p)
    }
}

async fn wait(d: Duration, cancel: &CancellationToken) -> Result<()> {
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = cancel.cancelled() => Err(TransportError::Cancelled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls made over `secs` seconds of a log that grows when `grows(t)` says, and the longest a
    /// byte written at a growing second waited for its poll.
    fn simulate(every: f64, secs: f64, grows: impl Fn(f64) -> bool) -> (u32, f64) {
        let t0 = Instant::now();
        let mut c = Cadence::new(Duration::from_secs_f64(every), t0);
        let (mut t, mut polls, mut last, mut worst) = (0.0f64, 0u32, 0.0f64, 0.0f64);
        while t < secs {
            polls += 1;
            // a byte written just after the last poll waited until this one
            let grew = (0..((t - last) * 10.0) as u32).any(|k| grows(last + k as f64 / 10.0));
            if grew {
                let first = (0..((t - last) * 10.0) as u32)
                    .map(|k| last + k as f64 / 10.0)
                    .find(|x| grows(*x))
                    .unwrap_or(t);
                worst = worst.max(t - first);
            }
            last = t;
            let d = c.after_poll(t0 + Duration::from_secs_f64(t), grew);
            t += d.as_secs_f64();
        }
        (polls, worst)
    }

    #[test]
    fn polls_never_outrun_the_fixed_interval() {
        let every = 2.0;
        for (name, grows) in [
            (
                "always",
                Box::new(|_t: f64| true) as Box<dyn Fn(f64) -> bool>,
            ),
            ("never", Box::new(|_t: f64| false)),
            (
                "bursts",
                Box::new(|t: f64| (t as u64 / 20).is_multiple_of(2)),
            ),
            ("blips", Box::new(|t: f64| (t as u64).is_multiple_of(13))),
        ] {
            let (polls, worst) = simulate(every, 600.0, grows);
            // a fixed 2 s interval makes 300 polls in 10 minutes (and one to start)
            assert!(polls <= 301 + BURST as u32, "{name}: {polls} polls");
            if name == "always" {
                assert!(worst <= every + 1e-6, "{name}: a byte waited {worst} s");
            }
        }
    }

    #[test]
    fn a_log_that_starts_again_is_polled_sooner_a_quiet_one_later() {
        let t0 = Instant::now();
        let every = Duration::from_secs(2);
        let mut c = Cadence::new(every, t0);
        let mut t = Duration::ZERO;
        let mut waits = Vec::new();
        let mut pattern = vec![false; 4];
        pattern.extend([true; 7]);
        for grew in pattern {
            let d = c.after_poll(t0 + t, grew);
            waits.push(d.as_secs_f64());
            t += d;
        }
        // quiet: 2, 2, then 4 s; growing again: 1 s while the saved polls last, then 2 s
        assert_eq!(waits[..4], [2.0, 2.0, 4.0, 4.0]);
        assert_eq!(waits[4], 1.0);
        assert_eq!(waits[4..10], [1.0; 6], "{waits:?}");
        assert!((waits[10] - 2.0).abs() < 1e-9, "then steady: {waits:?}");
    }
}
