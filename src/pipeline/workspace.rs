//! Where tandem keeps its own files on this machine: the journal, run directories (logs, metric
//! samples, staged data), the local store by default.

use super::journal::Journal;
use crate::project::{PhaseId, Project};
use crate::storage::local::LocalStore;
use crate::storage::ObjectStore;
use std::path::PathBuf;
use std::sync::Arc;

/// What runs as one process or job: a phase, or one element of its sweep. Its files on this
/// machine are named after it: `solve.stdout.log`, `solve.e3.stdout.log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Part {
    pub phase: PhaseId,
    pub element: Option<u32>,
}

impl Part {
    pub fn element(phase: PhaseId, index: u32) -> Part {
        Part {
            phase,
            element: Some(index),
        }
    }
    /// The stem of the part's files: `solve`, `solve.e3`.
    fn stem(&self) -> String {
        match self.element {
            None => self.phase.to_string(),
            Some(i) => format!("{}.e{i}", self.phase),
        }
    }
}

impl From<PhaseId> for Part {
    fn from(phase: PhaseId) -> Part {
        Part {
            phase,
            element: None,
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.element {
            None => write!(f, "{}", self.phase),
            Some(i) => write!(f, "{}[{i}]", self.phase),
        }
    }
}

/// [`Workspace::exit_path`] in data dir `data_dir` (the journal, which lives there, asks too).
pub fn exit_file(data_dir: &std::path::Path, run_id: &str, part: impl Into<Part>) -> PathBuf {
    data_dir
        .join("runs")
        .join(run_id)
        .join(format!("{}.exit.json", part.into().stem()))
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub data_dir: PathBuf,
    pub journal: Journal,
    /// The tandem executable that `{tandem}` stands for.
    pub exe: PathBuf,
}

impl Workspace {
    pub fn new(data_dir: PathBuf) -> Workspace {
        // absolute: run directories are handed to processes and to Slurm, which run elsewhere
        let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tandem"));
        Workspace {
            journal: Journal::new(&data_dir),
            data_dir,
            exe,
        }
    }

    /// `TANDEM_HOME`, else the platform's data dir + `tandem`.
    pub fn default_dir() -> PathBuf {
        if let Some(h) = std::env::var_os("TANDEM_HOME") {
            return PathBuf::from(h);
        }
        dirs::data_local_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("tandem")
    }

    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.data_dir.join("runs").join(run_id)
    }

    pub fn log_path(&self, run_id: &str, part: impl Into<Part>, stderr: bool) -> PathBuf {
        self.run_dir(run_id).join(format!(
            "{}.{}.log",
            part.into().stem(),
            if stderr { "stderr" } else { "stdout" }
        ))
    }

    pub fn metrics_path(&self, run_id: &str, phase: PhaseId) -> PathBuf {
        self.run_dir(run_id).join(format!("{phase}.metrics.jsonl"))
    }

    /// The directory store of a target.
    pub fn store_for(&self, project: &Project, target: &str) -> LocalStore {
        match project.targets.get(target).and_then(|t| t.kind.store_dir()) {
            Some(d) => LocalStore::new(d.clone()),
            None => LocalStore::new(self.data_dir.join("store")),
        }
    }

    /// The store a project's data lives in on a target: S3 when the storage root is `s3://`,
    /// else the target's directory store.
    pub async fn open_store(
        &self,
        project: &Project,
        target: &str,
        s3: &crate::storage::s3::S3Options,
    ) -> Arc<dyn ObjectStore> {
        if project.storage.s3 {
            Arc::new(crate::storage::s3::S3Store::connect(s3).await)
        } else {
            Arc::new(self.store_for(project, target))
        }
    }

    /// Where a phase's files are staged on this machine when its store is not a local directory.
    pub fn stage_dir(&self, run_id: &str, part: impl Into<Part>, what: &str) -> PathBuf {
        let part = part.into();
        let d = self.run_dir(run_id).join("stage").join(part.phase.as_str());
        match part.element {
            None => d.join(what),
            Some(i) => d.join(format!("e{i}")).join(what),
        }
    }

    /// Where a local phase's supervisor writes how the phase's process ended (so a tandem started
    /// later learns it even when no tandem was its parent).
    pub fn exit_path(&self, run_id: &str, part: impl Into<Part>) -> PathBuf {
        exit_file(&self.data_dir, run_id, part)
    }
}
