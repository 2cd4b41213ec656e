//! The run journal: an SQLite database (`journal.db`, WAL) in the data dir, the source of truth for
//! runs. It holds every run's record, each phase's engine id, who claimed its submission, where
//! its log tails stand (remote offset and local file length, committed together), its manifest,
//! and every state transition with its time. A run is driven by one tandem process at a time: the
//! driver holds a lease (renewed every few seconds) that another process takes over only when the
//! driver's process is gone or its lease expired.
//!
//! Every call opens its own connection (a few tens of microseconds), so the journal can be shared
//! by tasks and threads and by several tandem processes. A `journal.jsonl` from earlier versions
//! is imported once.

use super::run::{ElementRun, Run, RunState};
use super::workspace::Part;
use crate::project::PhaseId;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A lease not renewed for this long is free for another process to take.
pub const LEASE_SECS: i64 = 15;
/// How often a driver renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
    legacy: PathBuf,
}

#[derive(Debug, Default)]
pub struct Loaded {
    /// Newest first.
    pub runs: Vec<Run>,
    /// Records that could not be read (kept in the database, skipped here), as `where: why`.
    pub skipped: Vec<String>,
}

/// Who drives runs from this process: host, pid and a random part (a pid can be reused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Owner {
    /// This process.
    pub fn me() -> Owner {
        static ME: std::sync::OnceLock<Owner> = std::sync::OnceLock::new();
        ME.get_or_init(|| {
            let host = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| "localhost".into());
            let pid = std::process::id();
            let nonce: u32 = rand::random();
            Owner {
                id: format!("{host}:{pid}:{nonce:08x}"),
                host,
                pid,
            }
        })
        .clone()
    }
}

/// The answer to asking for a run's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    Acquired,
    /// Another live process drives the run: `host pid N`.
    HeldBy(String),
}

/// The answer to claiming a phase's submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody submitted it before.
    Fresh,
    /// A driver that is gone claimed it: it may or may not have reached the engine, so submit in a
    /// way the engine de-duplicates (Ray's submission id, the Slurm submit marker).
    Again,
    /// Another live driver holds it.
    HeldBy(String),
}

/// Where a phase's log tails stand: bytes read from the engine, and the length of the local log
/// file once they were written. Committed together, so a restarted tandem cuts the local file back
/// to `*_local` and reads on from `*_remote`: nothing lost, nothing twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LogOffsets {
    pub out_remote: u64,
    pub out_local: u64,
    pub err_remote: u64,
    pub err_local: u64,
}

/// An element of a swept phase as its journal row has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElementRow {
    pub index: u32,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub state: String,
    pub engine_id: Option<String>,
    pub output: String,
    pub started: Option<String>,
    pub ended: Option<String>,
    pub exit_code: Option<i32>,
    pub message: Option<String>,
    /// Tries before this one that the retry rule resubmitted.
    pub attempts: u32,
}

/// One state change of a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub phase: PhaseId,
    pub state: RunState,
    pub at: DateTime<Utc>,
    pub engine_id: Option<String>,
    pub message: Option<String>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs(
  id TEXT PRIMARY KEY,
  created TEXT NOT NULL,
  state TEXT NOT NULL,
  record TEXT NOT NULL,
  owner TEXT, owner_host TEXT, owner_pid INTEGER, heartbeat INTEGER);
CREATE TABLE IF NOT EXISTS phases(
  run_id TEXT NOT NULL, phase TEXT NOT NULL,
  state TEXT NOT NULL, engine_id TEXT,
  claim TEXT, claimed_at INTEGER,
  out_remote INTEGER NOT NULL DEFAULT 0, out_local INTEGER NOT NULL DEFAULT 0,
  err_remote INTEGER NOT NULL DEFAULT 0, err_local INTEGER NOT NULL DEFAULT 0,
  tail_saved INTEGER NOT NULL DEFAULT 0,
  manifest TEXT,
  PRIMARY KEY(run_id, phase));
CREATE TABLE IF NOT EXISTS transitions(
  run_id TEXT NOT NULL, phase TEXT NOT NULL, state TEXT NOT NULL, at TEXT NOT NULL,
  engine_id TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS transitions_run ON transitions(run_id);
CREATE TABLE IF NOT EXISTS elements(
  run_id TEXT NOT NULL, phase TEXT NOT NULL, idx INTEGER NOT NULL,
  params TEXT NOT NULL, state TEXT NOT NULL, engine_id TEXT, output TEXT NOT NULL,
  started TEXT, ended TEXT, exit_code INTEGER, message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  out_remote INTEGER NOT NULL DEFAULT 0, out_local INTEGER NOT NULL DEFAULT 0,
  err_remote INTEGER NOT NULL DEFAULT 0, err_local INTEGER NOT NULL DEFAULT 0,
  tail_saved INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(run_id, phase, idx));
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS projects(hash TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts(
  run_id TEXT NOT NULL, phase TEXT NOT NULL, idx INTEGER NOT NULL, n INTEGER NOT NULL,
  engine_id TEXT, reason TEXT NOT NULL, memory_gb REAL, time_limit TEXT,
  started TEXT, ended TEXT, message TEXT,
  PRIMARY KEY(run_id, phase, idx, n));
";

/// How long a journal operation waits for another process's write before it fails.
const BUSY_WAIT: Duration = Duration::from_secs(10);

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn now_secs() -> i64 {
    Utc::now().timestamp()
}

impl Journal {
    pub fn new(data_dir: &Path) -> Journal {
        Journal {
            path: data_dir.join("journal.db"),
            legacy: data_dir.join("journal.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> std::io::Error {
        std::io::Error::other(format!("{}: {e}", self.path.display()))
    }

    fn open(&self) -> std::io::Result<Connection> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let fresh = !self.path.exists();
        // Two processes opening a new journal at once (a `tandem run` and a `tandem runs` beside
        // it) both switch it to WAL; SQLite answers one of them "busy" without waiting (the
        // busy handler is skipped where waiting could deadlock), so the setup is tried again.
        let t0 = std::time::Instant::now();
        let c = loop {
            match self.connect() {
                Ok(c) => break c,
                Err(e) if is_busy(&e) && t0.elapsed() < BUSY_WAIT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => return Err(self.err(e)),
            }
        };
        if fresh && self.legacy.exists() {
            self.import_legacy(&c)?;
        }
        Ok(c)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open(&self.path)?;
        c.busy_timeout(BUSY_WAIT)?;
        // WAL: readers never wait for the writer, and a killed writer leaves a consistent file
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "NORMAL")?;
        c.execute_batch(SCHEMA)?;
        Ok(c)
    }

    /// Copy the runs of a `journal.jsonl` (the format before the database) in, once.
    fn import_legacy(&self, c: &Connection) -> std::io::Result<()> {
        let done: Option<String> = c
            .query_row(
                "SELECT value FROM meta WHERE key='imported_jsonl'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if done.is_some() {
            return Ok(());
        }
        let text = std::fs::read_to_string(&self.legacy)?;
        let mut by_id: HashMap<String, Run> = HashMap::new();
        for line in text.lines() {
            if let Ok(r) = serde_json::from_str::<Run>(line) {
                by_id.insert(r.id.clone(), r);
            }
        }
        for r in by_id.values() {
            self.write(c, r)?;
        }
        c.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES('imported_jsonl', ?1)",
            [Utc::now().to_rfc3339()],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Store the current record of a run; each phase whose state or engine id changed gets a
    /// transition.
    pub fn record(&self, run: &Run) -> std::io::Result<()> {
        let mut c = self.open()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        self.write(&tx, run)?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn write(&self, c: &Connection, run: &Run) -> std::io::Result<()> {
        let json = serde_json::to_string(run).map_err(std::io::Error::other)?;
        c.execute(
            "INSERT INTO runs(id, created, state, record) VALUES(?1, ?2, ?3, ?4)
             ON CONFLICT(id) DO UPDATE SET state=excluded.state, record=excluded.record",
            params![run.id, run.created.to_rfc3339(), run.state.as_str(), json],
        )
        .map_err(|e| self.err(e))?;
        for p in &run.phases {
            let before: Option<(String, Option<String>)> = c
                .query_row(
                    "SELECT state, engine_id FROM phases WHERE run_id=?1 AND phase=?2",
                    params![run.id, p.phase.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let changed = before
                .as_ref()
                .is_none_or(|(s, e)| s != p.state.as_str() || *e != p.engine_id);
            c.execute(
                "INSERT INTO phases(run_id, phase, state, engine_id) VALUES(?1, ?2, ?3, ?4)
                 ON CONFLICT(run_id, phase) DO UPDATE SET state=excluded.state,
                   engine_id=COALESCE(excluded.engine_id, phases.engine_id)",
                params![run.id, p.phase.as_str(), p.state.as_str(), p.engine_id],
            )
            .map_err(|e| self.err(e))?;
            if !p.elements.is_empty() {
                self.write_elements(c, &run.id, p.phase, &p.elements)?;
            }
            // each earlier try a row of its own (idx -1: the phase's own; else the element's)
            let tries = std::iter::once((-1i64, &p.attempts)).chain(
                p.elements
                    .iter()
                    .filter(|e| !e.attempts.is_empty())
                    .map(|e| (i64::from(e.index), &e.attempts)),
            );
            for (idx, list) in tries {
                for (n, a) in list.iter().enumerate() {
                    c.prepare_cached(
                        "INSERT OR IGNORE INTO attempts(run_id, phase, idx, n, engine_id, reason,
                           memory_gb, time_limit, started, ended, message)
                         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            run.id,
                            p.phase.as_str(),
                            idx,
                            n as i64,
                            a.engine_id,
                            a.reason,
                            a.memory_gb,
                            a.time_limit,
                            a.started.map(|t| t.to_rfc3339()),
                            a.ended.map(|t| t.to_rfc3339()),
                            a.message,
                        ])
                    })
                    .map_err(|e| self.err(e))?;
                }
            }
            if changed {
                c.execute(
                    "INSERT INTO transitions(run_id, phase, state, at, engine_id, message)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        run.id,
                        p.phase.as_str(),
                        p.state.as_str(),
                        Utc::now().to_rfc3339(),
                        p.engine_id,
                        p.message
                    ],
                )
                .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// A swept phase's elements, each a row: only those whose state, engine id, end or attempts
    /// changed are written (a 1,000-element sweep costs a few rows per poll, not a thousand).
    fn write_elements(
        &self,
        c: &Connection,
        run_id: &str,
        phase: PhaseId,
        elements: &[ElementRun],
    ) -> std::io::Result<()> {
        type Row = (String, Option<String>, Option<String>, i64);
        let mut st = c
            .prepare_cached(
                "SELECT idx, state, engine_id, ended, attempts FROM elements
                 WHERE run_id=?1 AND phase=?2",
            )
            .map_err(|e| self.err(e))?;
        let have: HashMap<u32, Row> = st
            .query_map(params![run_id, phase.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u32,
                    (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        let mut up = c
            .prepare_cached(
                "INSERT INTO elements(run_id, phase, idx, params, state, engine_id, output,
                   started, ended, exit_code, message, attempts)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(run_id, phase, idx) DO UPDATE SET state=excluded.state,
                   engine_id=excluded.engine_id, started=excluded.started, ended=excluded.ended,
                   exit_code=excluded.exit_code, message=excluded.message,
                   attempts=excluded.attempts",
            )
            .map_err(|e| self.err(e))?;
        for e in elements {
            let ended = e.ended.map(|t| t.to_rfc3339());
            let now: Row = (
                e.state.as_str().to_string(),
                e.engine_id.clone(),
                ended.clone(),
                e.attempts.len() as i64,
            );
            if have.get(&e.index) == Some(&now) {
                continue;
            }
            let params = serde_json::to_string(&serde_json::Value::Object(
                e.params
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap_or_default()))
                    .collect(),
            ))
            .map_err(std::io::Error::other)?;
            up.execute(params![
                run_id,
                phase.as_str(),
                e.index,
                params,
                e.state.as_str(),
                e.engine_id,
                e.output,
                e.started.map(|t| t.to_rfc3339()),
                ended,
                e.exit_code,
                e.message,
                e.attempts.len() as i64,
            ])
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The earlier tries of a run's phases and elements, as their rows say: (phase, element or
    /// None for the phase's own, try number from 0, engine id, reason).
    #[allow(clippy::type_complexity)]
    pub fn attempts(
        &self,
        run_id: &str,
    ) -> std::io::Result<Vec<(String, Option<u32>, u32, Option<String>, String)>> {
        let c = self.open()?;
        let mut st = c
            .prepare(
                "SELECT phase, idx, n, engine_id, reason FROM attempts WHERE run_id=?1
                 ORDER BY phase, idx, n",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                let idx: i64 = r.get(1)?;
                Ok((
                    r.get(0)?,
                    (idx >= 0).then_some(idx as u32),
                    r.get::<_, i64>(2)? as u32,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Keep a project file's text under its hash (once: runs of the same file share it).
    pub fn keep_project(&self, hash: &str, text: &str) -> std::io::Result<()> {
        let c = self.open()?;
        c.execute(
            "INSERT OR IGNORE INTO projects(hash, text) VALUES(?1, ?2)",
            params![hash, text],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The text of the project file whose hash this is, if a run of it was journalled.
    pub fn project_text(&self, hash: &str) -> std::io::Result<Option<String>> {
        let c = self.open()?;
        c.query_row("SELECT text FROM projects WHERE hash=?1", [hash], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| self.err(e))
    }

    /// A swept phase's elements as their rows say (index, parameters as JSON, state, engine id,
    /// output): what `tandem runs show` and other readers of the journal list.
    pub fn elements(&self, run_id: &str, phase: PhaseId) -> std::io::Result<Vec<ElementRow>> {
        let c = self.open()?;
        let mut st = c
            .prepare(
                "SELECT idx, params, state, engine_id, output, started, ended, exit_code, message,
                   attempts FROM elements WHERE run_id=?1 AND phase=?2 ORDER BY idx",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run_id, phase.as_str()], |r| {
                Ok(ElementRow {
                    index: r.get::<_, i64>(0)? as u32,
                    params: serde_json::from_str(&r.get::<_, String>(1)?).unwrap_or_default(),
                    state: r.get(2)?,
                    engine_id: r.get(3)?,
                    output: r.get(4)?,
                    started: r.get(5)?,
                    ended: r.get(6)?,
                    exit_code: r.get(7)?,
                    message: r.get(8)?,
                    attempts: r.get::<_, i64>(9)? as u32,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }

    /// Every run, newest first. A local phase recorded as active whose process is gone shows as
    /// `lost` (a phase with an engine id lives on its cluster and is re-attached instead).
    pub fn load(&self) -> std::io::Result<Loaded> {
        let c = self.open()?;
        let mut st = c
            .prepare("SELECT id, record FROM runs ORDER BY created DESC, id DESC")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Loaded::default();
        for row in rows {
            let (id, json) = row.map_err(|e| self.err(e))?;
            match serde_json::from_str::<Run>(&json) {
                Ok(mut r) => {
                    mark_lost(&mut r, self.path.parent().unwrap_or(Path::new(".")));
                    out.runs.push(r);
                }
                Err(e) => out
                    .skipped
                    .push(format!("{}: run {id}: {e}", self.path.display())),
            }
        }
        Ok(out)
    }

    /// Whether the journal has a run with exactly this id.
    pub fn exists(&self, run_id: &str) -> std::io::Result<bool> {
        let c = self.open()?;
        c.query_row("SELECT 1 FROM runs WHERE id=?1", [run_id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// A run by id or unique prefix (the newest when several match): one row read, not the
    /// journal.
    pub fn get(&self, id: &str) -> std::io::Result<Option<Run>> {
        let c = self.open()?;
        // the id itself, else the newest whose id starts with it (LIKE's wildcards escaped)
        let like = format!(
            "{}%",
            id.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let exact: Option<String> = c
            .query_row("SELECT record FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        let row = match exact {
            Some(j) => Some(j),
            None => c
                .query_row(
                    "SELECT record FROM runs WHERE id LIKE ?1 ESCAPE '\\' \
                     ORDER BY created DESC, id DESC LIMIT 1",
                    [like],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?,
        };
        let Some(json) = row else {
            return Ok(None);
        };
        let mut r: Run = serde_json::from_str(&json).map_err(|e| {
            std::io::Error::other(format!("{}: run {id}: {e}", self.path.display()))
        })?;
        mark_lost(&mut r, self.path.parent().unwrap_or(Path::new(".")));
        Ok(Some(r))
    }

    /// Take the lease of a run for `me`: free when nobody holds it, when the holder's process on
    /// this host is gone, or when the holder has not renewed it for [`LEASE_SECS`].
    pub fn lease(&self, run_id: &str, me: &Owner) -> std::io::Result<Lease> {
        let mut c = self.open()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        type Holder = (Option<String>, Option<String>, Option<i64>, Option<i64>);
        let holder: Option<Holder> = tx
            .query_row(
                "SELECT owner, owner_host, owner_pid, heartbeat FROM runs WHERE id=?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((owner, host, pid, beat)) = holder else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no run `{run_id}` in the journal"),
            ));
        };
        if let (Some(o), Some(h), Some(p), Some(b)) = (&owner, &host, pid, beat) {
            let alive = if *h == me.host {
                pid_alive(p as u32)
            } else {
                true
            };
            let fresh = now_secs() - b < LEASE_SECS;
            if *o != me.id && alive && fresh {
                return Ok(Lease::HeldBy(format!("{h} pid {p}")));
            }
        }
        tx.execute(
            "UPDATE runs SET owner=?2, owner_host=?3, owner_pid=?4, heartbeat=?5 WHERE id=?1",
            params![run_id, me.id, me.host, me.pid, now_secs()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Lease::Acquired)
    }

    /// Renew a held lease; false when another process took it over.
    pub fn renew(&self, run_id: &str, me: &Owner) -> std::io::Result<bool> {
        let c = self.open()?;
        let n = c
            .execute(
                "UPDATE runs SET heartbeat=?3 WHERE id=?1 AND owner=?2",
                params![run_id, me.id, now_secs()],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    /// Give a lease back (the run ended, or its driver stops).
    pub fn release(&self, run_id: &str, me: &Owner) -> std::io::Result<()> {
        let c = self.open()?;
        c.execute(
            "UPDATE runs SET owner=NULL, owner_host=NULL, owner_pid=NULL, heartbeat=NULL
             WHERE id=?1 AND owner=?2",
            params![run_id, me.id],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Who drives a run now, if anyone live does (`host pid N`).
    pub fn driver(&self, run_id: &str) -> std::io::Result<Option<String>> {
        let c = self.open()?;
        let row: Option<(Option<String>, Option<i64>, Option<i64>)> = c
            .query_row(
                "SELECT owner_host, owner_pid, heartbeat FROM runs WHERE id=?1",
                [run_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let me = Owner::me();
        Ok(match row {
            Some((Some(h), Some(p), Some(b))) => {
                let alive = h != me.host || pid_alive(p as u32);
                (alive && now_secs() - b < LEASE_SECS).then(|| format!("{h} pid {p}"))
            }
            _ => None,
        })
    }

    /// Runs that are not finished and that no live process drives: what a starting tandem
    /// re-attaches to. Newest first.
    pub fn orphans(&self) -> std::io::Result<Vec<Run>> {
        let mut out = Vec::new();
        for r in self.load()?.runs {
            if !r.state.is_terminal() && self.driver(&r.id)?.is_none() {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Claim the submission of a phase for `me`, who must hold the run's lease.
    pub fn claim(&self, run_id: &str, phase: PhaseId, me: &Owner) -> std::io::Result<Claim> {
        let mut c = self.open()?;
        let tx = c
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let owner: Option<String> = tx
            .query_row("SELECT owner FROM runs WHERE id=?1", [run_id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        if owner.as_deref() != Some(me.id.as_str()) {
            return Ok(Claim::HeldBy(
                owner.unwrap_or_else(|| "nobody (the lease is not held)".into()),
            ));
        }
        let prev: Option<Option<String>> = tx
            .query_row(
                "SELECT claim FROM phases WHERE run_id=?1 AND phase=?2",
                params![run_id, phase.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let answer = match prev.flatten() {
            None => Claim::Fresh,
            Some(_) => Claim::Again,
        };
        tx.execute(
            "INSERT INTO phases(run_id, phase, state, claim, claimed_at)
             VALUES(?1, ?2, 'pending', ?3, ?4)
             ON CONFLICT(run_id, phase) DO UPDATE SET claim=excluded.claim,
               claimed_at=excluded.claimed_at",
            params![run_id, phase.as_str(), me.id, now_secs()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(answer)
    }

    /// Commit where the log tails of a phase (or of an element of its sweep) stand.
    pub fn save_tail(
        &self,
        run_id: &str,
        part: impl Into<Part>,
        t: LogOffsets,
    ) -> std::io::Result<()> {
        let part = part.into();
        let c = self.open()?;
        let set = "SET out_remote=?3, out_local=?4, err_remote=?5, err_local=?6, tail_saved=1";
        let offsets = [t.out_remote, t.out_local, t.err_remote, t.err_local].map(|x| x as i64);
        let (run, phase) = (run_id, part.phase.as_str());
        match part.element {
            None => c.execute(
                &format!("UPDATE phases {set} WHERE run_id=?1 AND phase=?2"),
                params![run, phase, offsets[0], offsets[1], offsets[2], offsets[3]],
            ),
            Some(i) => c.execute(
                &format!("UPDATE elements {set} WHERE run_id=?1 AND phase=?2 AND idx=?7"),
                params![run, phase, offsets[0], offsets[1], offsets[2], offsets[3], i],
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Where the log tails of a phase (or of an element of its sweep) were last committed.
    pub fn tail(&self, run_id: &str, part: impl Into<Part>) -> std::io::Result<Option<LogOffsets>> {
        let part = part.into();
        let c = self.open()?;
        let cols = "SELECT out_remote, out_local, err_remote, err_local";
        let read = |r: &rusqlite::Row| {
            Ok(LogOffsets {
                out_remote: r.get::<_, i64>(0)? as u64,
                out_local: r.get::<_, i64>(1)? as u64,
                err_remote: r.get::<_, i64>(2)? as u64,
                err_local: r.get::<_, i64>(3)? as u64,
            })
        };
        let (run, phase) = (run_id, part.phase.as_str());
        match part.element {
            None => c.query_row(
                &format!("{cols} FROM phases WHERE run_id=?1 AND phase=?2 AND tail_saved=1"),
                params![run, phase],
                read,
            ),
            Some(i) => c.query_row(
                &format!(
                    "{cols} FROM elements WHERE run_id=?1 AND phase=?2 AND idx=?3 AND tail_saved=1"
                ),
                params![run, phase, i],
                read,
            ),
        }
        .optional()
        .map_err(|e| self.err(e))
    }

    pub fn save_manifest(
        &self,
        run_id: &str,
        phase: PhaseId,
        manifest: &super::manifest::Manifest,
    ) -> std::io::Result<()> {
        let c = self.open()?;
        let text = serde_json::to_string(manifest).map_err(std::io::Error::other)?;
        c.execute(
            "UPDATE phases SET manifest=?3 WHERE run_id=?1 AND phase=?2",
            params![run_id, phase.as_str(), text],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn manifest(
        &self,
        run_id: &str,
        phase: PhaseId,
    ) -> std::io::Result<Option<super::manifest::Manifest>> {
        let c = self.open()?;
        let m: Option<Option<String>> = c
            .query_row(
                "SELECT manifest FROM phases WHERE run_id=?1 AND phase=?2",
                params![run_id, phase.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(m.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Every state change of a run's phases, oldest first.
    pub fn transitions(&self, run_id: &str) -> std::io::Result<Vec<Transition>> {
        let c = self.open()?;
        let mut st = c
            .prepare(
                "SELECT phase, state, at, engine_id, message FROM transitions
                 WHERE run_id=?1 ORDER BY rowid",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([run_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (phase, state, at, engine_id, message) = row.map_err(|e| self.err(e))?;
            let (Ok(phase), Ok(state), Ok(at)) = (
                serde_json::from_value::<PhaseId>(phase.into()),
                serde_json::from_value::<RunState>(state.into()),
                DateTime::parse_from_rfc3339(&at),
            ) else {
                continue;
            };
            out.push(Transition {
                phase,
                state,
                at: at.with_timezone(&Utc),
                engine_id,
                message,
            });
        }
        Ok(out)
    }
}

/// A local phase recorded running whose process is gone and left no record of its end (its
/// supervisor writes one, unless it was killed too) is lost; one that is alive, or that ended while
/// no tandem watched and said how, stays for the next tandem to follow or to finish.
fn mark_lost(r: &mut Run, data_dir: &Path) {
    let mut changed = false;
    for p in &mut r.phases {
        if !p.state.is_active() || p.placement.on_cluster() {
            continue;
        }
        let Some(pid) = p.pid else {
            continue;
        };
        let exit = super::workspace::exit_file(data_dir, &r.id, p.phase);
        if !super::runner::same_process(pid, p.pid_start) && !exit.exists() {
            p.state = RunState::Lost;
            p.message = Some(super::runner::gone_without_a_trace(pid));
            changed = true;
        }
    }
    if changed {
        r.derive_state();
    }
}

/// Whether a process with this pid exists (signal 0).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::run::PhaseRun;
    use chrono::Utc;

    fn run() -> Run {
        Run {
            id: "20260101-000000-0001".into(),
            project: "p".into(),
            project_file: "f".into(),
            project_hash: "h".into(),
            target: "local".into(),
            created: Utc::now(),
            state: RunState::Running,
            phases: vec![PhaseRun {
                state: RunState::Running,
                pid: Some(u32::MAX - 1),
                started: Some(Utc::now()),
                ..PhaseRun::new(
                    PhaseId::Preprocess,
                    crate::pipeline::Placement::Local,
                    "o".into(),
                )
            }],
            tandem_version: "0".into(),
            reuse: false,
        }
    }

    #[test]
    fn last_record_wins_and_dead_runs_are_lost() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        let mut r = run();
        j.record(&r).unwrap();
        let l = j.load().unwrap();
        assert_eq!(l.runs[0].state, RunState::Lost);
        r.phases[0].state = RunState::Succeeded;
        r.state = RunState::Succeeded;
        j.record(&r).unwrap();
        assert_eq!(j.load().unwrap().runs[0].state, RunState::Succeeded);
        assert_eq!(j.get("20260101").unwrap().unwrap().id, r.id);
        let t: Vec<RunState> = j
            .transitions(&r.id)
            .unwrap()
            .iter()
            .map(|t| t.state)
            .collect();
        assert_eq!(t, vec![RunState::Running, RunState::Succeeded]);
    }

    #[test]
    fn a_jsonl_journal_is_imported_once() {
        let d = tempfile::tempdir().unwrap();
        let mut r = run();
        r.phases[0].state = RunState::Succeeded;
        let mut text = serde_json::to_string(&r).unwrap();
        text.push_str("\n{broken\n");
        std::fs::write(d.path().join("journal.jsonl"), text).unwrap();
        let j = Journal::new(d.path());
        assert_eq!(j.load().unwrap().runs.len(), 1);
        assert_eq!(j.load().unwrap().runs.len(), 1);
    }

    #[test]
    fn one_driver_at_a_time_and_claims() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        let r = run();
        j.record(&r).unwrap();
        let me = Owner::me();
        // another live process on this host (our parent) holds a fresh lease
        let other = Owner {
            id: "other".into(),
            host: me.host.clone(),
            pid: std::os::unix::process::parent_id(),
        };
        assert_eq!(j.lease(&r.id, &other).unwrap(), Lease::Acquired);
        assert!(matches!(j.lease(&r.id, &me).unwrap(), Lease::HeldBy(_)));
        assert!(matches!(
            j.claim(&r.id, PhaseId::Preprocess, &me).unwrap(),
            Claim::HeldBy(_)
        ));
        // the holder's process is gone: the lease is free at once
        let dead = Owner {
            pid: u32::MAX - 1,
            ..other
        };
        assert_eq!(j.lease(&r.id, &dead).unwrap(), Lease::Acquired);
        assert_eq!(
            j.claim(&r.id, PhaseId::Preprocess, &dead).unwrap(),
            Claim::Fresh
        );
        assert_eq!(j.lease(&r.id, &me).unwrap(), Lease::Acquired);
        assert!(!j.renew(&r.id, &dead).unwrap());
        assert!(j.renew(&r.id, &me).unwrap());
        assert_eq!(
            j.claim(&r.id, PhaseId::Preprocess, &me).unwrap(),
            Claim::Again
        );
        let t = LogOffsets {
            out_remote: 10,
            out_local: 25,
            err_remote: 3,
            err_local: 3,
        };
        assert_eq!(
            j.tail(&r.id, PhaseId::Preprocess).unwrap(),
            None,
            "never saved"
        );
        j.save_tail(&r.id, PhaseId::Preprocess, t).unwrap();
        assert_eq!(j.tail(&r.id, PhaseId::Preprocess).unwrap(), Some(t));
        assert!(j.driver(&r.id).unwrap().is_some());
        j.release(&r.id, &me).unwrap();
        assert_eq!(j.driver(&r.id).unwrap(), None);
    }
}
