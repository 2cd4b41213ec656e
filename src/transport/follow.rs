//! Following a file on the head node as it grows, where the transport can keep something open:
//! on this machine the file is watched (inotify, with a poll when the file system
//! delivers no events — Lustre and NFS often do not — detected, not assumed), and over SSH one
//! long-lived `tail -c +OFFSET -F` runs on the existing master connection. SSM can keep nothing
//! open: it has no follower, and its engines poll.

use futures::{FutureExt, StreamExt};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How a followed file's new bytes are learnt of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// File events (inotify): read as soon as written.
    Events,
    /// Events were not delivered for this file (a network file system): read every
    /// [`POLL_EVERY`].
    Polling,
    /// A `tail -F` on the head node, its output read as it arrives.
    Tail,
}

impl std::fmt::Display for How {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            How::Events => write!(f, "file events"),
            How::Polling => write!(f, "polled every {} ms", POLL_EVERY.as_millis()),
            How::Tail => write!(f, "tail -F"),
        }
    }
}

/// How often a watched file is read anyway: a check that events arrive, and the fallback's pace.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often a file whose events do not arrive is read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long a watched file's writes are let come after the first event before it is read.
const SETTLE: Duration = Duration::from_millis(25);

/// A file followed from an offset: [`FileFollow::next`] waits for its new bytes. A file truncated
/// (rewritten shorter) is read again from its start, watched or tailed alike.
pub struct FileFollow {
    inner: Inner,
    /// Bytes of the file before the next ones `next` gives.
    pub offset: u64,
}

enum Inner {
    Watched {
        path: PathBuf,
        /// The folder's inotify events; `None` when it cannot be watched.
        events: Option<inotify::EventStream<Vec<u8>>>,
        how: How,
        /// When bytes were last read: while a writer keeps writing, the file is read at most once
        /// per [`SETTLE`] (a read per line would cost a system call per line).
        last: Option<tokio::time::Instant>,
    },
    Tail {
        _child: Box<tokio::process::Child>,
        /// Held open, never written: when this side goes, the head node's `tail` sees its
        /// input end and stops (see [`tail_script`]).
        _stdin: Option<tokio::process::ChildStdin>,
        out: tokio::process::ChildStdout,
    },
}

impl std::fmt::Debug for FileFollow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileFollow({}, at {})", self.how(), self.offset)
    }
}

impl FileFollow {
    /// Watch `path` on this machine from `offset` (its folder is watched, so the file may not
    /// exist yet).
    pub fn watch(path: PathBuf, offset: u64) -> FileFollow {
        let events = watch_folder(&path);
        let how = if events.is_some() {
            How::Events
        } else {
            How::Polling
        };
        FileFollow {
            inner: Inner::Watched {
                path,
                events,
                how,
                last: None,
            },
            offset,
        }
    }

    /// Read a `tail -F` child's stdout (started at `offset` of its file).
    pub fn tail(mut child: tokio::process::Child, offset: u64) -> Option<FileFollow> {
        let out = child.stdout.take()?;
        let stdin = child.stdin.take();
        Some(FileFollow {
            inner: Inner::Tail {
                _child: Box::new(child),
                _stdin: stdin,
                out,
            },
            offset,
        })
    }

    pub fn how(&self) -> How {
        match &self.inner {
            Inner::Watched { how, .. } => *how,
            Inner::Tail { .. } => How::Tail,
        }
    }

    /// The next bytes (at most `max`), waiting until there are some. An error or an empty answer
    /// ends the follower (the tail's connection dropped): start another from `offset`.
    /// Cancel-safe: bytes count as read only when returned.
    pub async fn next(&mut self, max: usize) -> std::io::Result<Vec<u8>> {
        match &mut self.inner {
            Inner::Watched {
                path,
                events,
                how,
                last,
            } => loop {
                if let Some(t) = *last {
                    tokio::time::sleep_until(t + SETTLE).await;
                }
                if file_len(path) < self.offset {
                    // truncated and rewritten: read again from its start, as `tail -F` does
                    self.offset = 0;
                }
                let new = read_from(path, self.offset, max)?;
                if !new.is_empty() {
                    self.offset += new.len() as u64;
                    *last = Some(tokio::time::Instant::now());
                    return Ok(new);
                }
                *last = None;
                let wait = if *how == How::Events {
                    CHECK_EVERY
                } else {
                    POLL_EVERY
                };
                let Some(stream) = events.as_mut().filter(|_| *how == How::Events) else {
                    tokio::time::sleep(wait).await;
                    continue;
                };
                let deadline = tokio::time::Instant::now() + wait;
                loop {
                    tokio::select! {
                        e = stream.next() => match e {
                            Some(Ok(e)) if e.name.as_deref() == path.file_name() => {
                                // a burst of writes is one read: while the follower sleeps the
                                // kernel folds this file's repeated events into one, so a writer
                                // that flushes every few ms costs a wake per burst, not per flush
                                tokio::time::sleep(SETTLE).await;
                                while let Some(Some(_)) = stream.next().now_or_never() {}
                                break;
                            }
                            // another file of the folder (a job's other stream, say): not a
                            // reason to read this one
                            Some(Ok(_)) => continue,
                            Some(Err(_)) | None => {
                                *how = How::Polling;
                                break;
                            }
                        },
                        _ = tokio::time::sleep_until(deadline) => {
                            // the file grew and no event said so: this file system does not
                            // deliver them
                            if file_len(path) > self.offset {
                                *how = How::Polling;
                            }
                            break;
                        }
                    }
                }
            },
            Inner::Tail { out, .. } => {
                // what a read of a pipe gives at most (a bigger buffer is only zeroed)
                let mut buf = vec![0u8; max.clamp(1, 64 << 10)];
                let n = out.read(&mut buf).await?;
                buf.truncate(n);
                self.offset += n as u64;
                Ok(buf)
            }
        }
    }
}

/// The inotify events of the folder holding `path` (the file may not exist yet): its writes,
/// creations, removals and renames; the follower's own reads are not asked for (waking on them
/// would wake it forever).
fn watch_folder(path: &std::path::Path) -> Option<inotify::EventStream<Vec<u8>>> {
    use inotify::{Inotify, WatchMask};
    let dir = path.parent()?;
    let dir = if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    };
    // the stream is read by the tokio reactor; outside one the file is polled
    tokio::runtime::Handle::try_current().ok()?;
    let ino = Inotify::init().ok()?;
    ino.watches()
        .add(
            dir,
            WatchMask::MODIFY
                | WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::CLOSE_WRITE,
        )
        .ok()?;
    ino.into_event_stream(vec![0u8; 4096]).ok()
}

fn file_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// At most `max` bytes of `path` from `offset`; none when it does not exist (yet) or is shorter.
fn read_from(path: &std::path::Path, offset: u64, max: usize) -> std::io::Result<Vec<u8>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    if f.metadata()?.len() <= offset {
        return Ok(Vec::new());
    }
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.take(max as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The script a head node runs to stream a file from `offset`: `tail -F` waits for the file, follows
/// it across rotation, and prints only what is new; it is stopped when its input ends (the
/// connection closed, or the follower dropped), so no `tail` is left behind on the head node.
pub fn tail_script(path: &str, offset: u64) -> super::Result<String> {
    Ok(format!(
        "tail -c +{} -F -- {} 2>/dev/null & t=$!\ncat >/dev/null\nkill $t 2>/dev/null\n",
        offset + 1,
        super::quote_path(path)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn a_watched_file_gives_each_new_byte_once_as_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("job.out");
        let mut ff = FileFollow::watch(p.clone(), 0);
        assert_eq!(ff.how(), How::Events);
        let writer = {
            let p = p.clone();
            tokio::spawn(async move {
                let mut f = std::fs::File::create(&p).unwrap();
                for i in 0..50 {
                    writeln!(f, "line {i}").unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < 50 * 7 + 40 {
            let b = tokio::time::timeout(Duration::from_secs(5), ff.next(1 << 16))
                .await
                .unwrap()
                .unwrap();
            got.extend(b);
        }
        writer.await.unwrap();
        let want: String = (0..50).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(got).unwrap(), want);
        assert_eq!(ff.offset, want.len() as u64);
        assert_eq!(ff.how(), How::Events);
    }
}
