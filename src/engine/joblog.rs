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
    /// Polled with the state, every this many seconds.
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
            wait(self.every, cancel).await?;
            return self.poll(cancel).await;
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
