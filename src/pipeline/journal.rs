//! The run journal: an append-only JSON-lines file in the data dir, one full run record a line; the
//! last line of each run id wins. It survives restarts of tandem. (A later issue moves it to SQLite for
//! re-attach after crashes; the interface stays.)

use super::run::{Run, RunState};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

#[derive(Debug, Default)]
pub struct Loaded {
    /// Newest first.
    pub runs: Vec<Run>,
    /// Lines that could not be read (kept in the file, skipped here), as `line N: why`.
    pub skipped: Vec<String>,
}

impl Journal {
    pub fn new(data_dir: &Path) -> Journal {
        Journal {
            path: data_dir.join("journal.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append the current record of a run.
    pub fn record(&self, run: &Run) -> std::io::Result<()> {
        if let Some(d) = self.path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let mut line = serde_json::to_vec(run).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&line)
    }

    /// Every run, newest first. Runs recorded as active whose process is gone become `lost`.
    pub fn load(&self) -> std::io::Result<Loaded> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
            Err(e) => return Err(e),
        };
        let mut by_id: HashMap<String, Run> = HashMap::new();
        let mut skipped = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Run>(line) {
                Ok(r) => {
                    by_id.insert(r.id.clone(), r);
                }
                Err(e) => skipped.push(format!("{}:{}: {e}", self.path.display(), i + 1)),
            }
        }
        let mut runs: Vec<Run> = by_id.into_values().collect();
        for r in &mut runs {
            let mut changed = false;
            for p in &mut r.phases {
                // a phase with an engine id (a Slurm job) lives on the cluster, not in a local
                // process: it is not lost because tandem stopped
                if p.state.is_active() && p.engine_id.is_none() && !p.pid.is_some_and(pid_alive) {
                    p.state = RunState::Lost;
                    p.message =
                        Some("tandem stopped while this phase ran; its process is gone".into());
                    changed = true;
                }
            }
            if changed {
                r.derive_state();
            }
        }
        runs.sort_by(|a, b| b.created.cmp(&a.created).then(b.id.cmp(&a.id)));
        Ok(Loaded { runs, skipped })
    }

    pub fn get(&self, id: &str) -> std::io::Result<Option<Run>> {
        Ok(self
            .load()?
            .runs
            .into_iter()
            .find(|r| r.id == id || r.id.starts_with(id)))
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
    use crate::project::PhaseId;
    use chrono::Utc;

    #[test]
    fn last_record_wins_and_dead_runs_are_lost() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        let mut r = Run {
            id: "20260101-000000-0001".into(),
            project: "p".into(),
            project_file: "f".into(),
            project_hash: "h".into(),
            target: "local".into(),
            created: Utc::now(),
            state: RunState::Running,
            phases: vec![PhaseRun {
                phase: PhaseId::Preprocess,
                state: RunState::Running,
                engine: "local".into(),
                output: "o".into(),
                input: None,
                command: vec![],
                pid: Some(u32::MAX - 1),
                engine_id: None,
                started: Some(Utc::now()),
                ended: None,
                exit_code: None,
                message: None,
            }],
            tandem_version: "0".into(),
        };
        j.record(&r).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"{broken\n")
            .unwrap();
        let l = j.load().unwrap();
        assert_eq!(l.runs[0].state, RunState::Lost);
        assert_eq!(l.skipped.len(), 1);
        r.phases[0].state = RunState::Succeeded;
        r.state = RunState::Succeeded;
        j.record(&r).unwrap();
        assert_eq!(j.load().unwrap().runs[0].state, RunState::Succeeded);
        assert_eq!(j.get("20260101").unwrap().unwrap().id, r.id);
    }
}
