//! The validated project: what the rest of tandem reads (the raw file is in `raw.rs`, the checks
//! in `validate.rs`, the targets in `target.rs`).

use super::target::{SlurmTarget, Target, TargetKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

// Validated model.

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize, PartialOrd, Ord,
)]
#[serde(rename_all = "lowercase")]
pub enum PhaseId {
    Preprocess,
    Solve,
}

impl PhaseId {
    pub const ALL: [PhaseId; 2] = [PhaseId::Preprocess, PhaseId::Solve];
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseId::Preprocess => "preprocess",
            PhaseId::Solve => "solve",
        }
    }
    pub fn parse(s: &str) -> Option<PhaseId> {
        match s {
            "preprocess" => Some(PhaseId::Preprocess),
            "solve" => Some(PhaseId::Solve),
            _ => None,
        }
    }
}

impl std::fmt::Display for PhaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Ray,
    Slurm,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Ray => "ray",
            Engine::Slurm => "slurm",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Csv,
    Json,
    Npy,
    Parquet,
    Text,
}

/// How a dataset is generated when it is missing (the sample's seeded sensor data).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_size_mb")]
    pub size_mb: f64,
    #[serde(default = "default_files")]
    pub files: usize,
}

fn default_seed() -> u64 {
    42
}
fn default_size_mb() -> f64 {
    4.0
}
fn default_files() -> usize {
    4
}

/// What a phase asks of the machine or cluster. All optional; engines use what they understand.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpus: Option<u32>,
    pub memory_gb: Option<f64>,
    pub gpus: Option<u32>,
    pub nodes: Option<u32>,
    pub tasks_per_node: Option<u32>,
    pub cpus_per_task: Option<u32>,
    pub time_limit: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlotKind {
    Line,
    Heatmap,
    /// A row or column of a field, as a line.
    Slice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub file: PathBuf,
    pub dir: PathBuf,
    /// FNV-1a of the file's bytes, recorded with every run.
    pub hash: String,
    /// The file's text as it was loaded (kept in the journal with each run, by its hash, for
    /// `tandem runs diff`).
    pub src: std::sync::Arc<str>,
    pub name: String,
    pub description: Option<String>,
    pub storage: Storage,
    pub datasets: BTreeMap<String, Dataset>,
    pub phases: [Phase; 2],
    pub handoff: Handoff,
    pub plots: Vec<PlotSpec>,
    pub targets: BTreeMap<String, Target>,
    pub default_target: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    pub bucket: String,
    pub prefix: String,
    /// `s3://bucket/prefix`: the data lives in S3 whatever the target; else in the target's store.
    pub s3: bool,
}

impl Storage {
    /// Key of `rel` under the project's prefix.
    pub fn key(&self, rel: &str) -> String {
        let rel = rel.trim_start_matches('/');
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{}", self.prefix, rel)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub name: String,
    /// Relative to the storage root; always ends with `/`.
    pub path: String,
    pub format: Option<DataFormat>,
    pub description: Option<String>,
    pub generate: Option<Generate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub id: PhaseId,
    pub engine: Engine,
    pub inputs: Vec<String>,
    /// Output prefix template relative to the storage root, e.g. `runs/{run}/prepared/`.
    pub output: String,
    pub resources: Resources,
    pub local: Option<LocalSpec>,
    pub ray: Option<toml::Table>,
    pub slurm: Option<toml::Table>,
    /// A parameter sweep: the phase runs once per element (`{param.NAME}`, `{element}`).
    pub sweep: Option<super::sweep::Sweep>,
    /// Resubmission of a Slurm job (or array element) that ended in one of `retry.on`'s ways.
    pub retry: Option<Retry>,
}

/// How a phase's Slurm jobs are tried again: at most `max` more times, when one ends in one of
/// the ways `on` names; after running out of memory with `memory_factor` times the memory, after
/// its time limit with `time_factor` times the time. A failing exit code is retried only when
/// `on` names FAILED.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub max: u32,
    pub on: Vec<RetryOn>,
    pub memory_factor: f64,
    pub time_factor: f64,
}

/// An end a retry rule may name: Slurm's word for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RetryOn {
    OutOfMemory,
    Timeout,
    NodeFail,
    Preempted,
    BootFail,
    /// A non-zero exit code.
    Failed,
}

impl RetryOn {
    pub const ALL: [RetryOn; 6] = [
        RetryOn::OutOfMemory,
        RetryOn::Timeout,
        RetryOn::NodeFail,
        RetryOn::Preempted,
        RetryOn::BootFail,
        RetryOn::Failed,
    ];
    /// Slurm's state word.
    pub fn word(self) -> &'static str {
        match self {
            RetryOn::OutOfMemory => "OUT_OF_MEMORY",
            RetryOn::Timeout => "TIMEOUT",
            RetryOn::NodeFail => "NODE_FAIL",
            RetryOn::Preempted => "PREEMPTED",
            RetryOn::BootFail => "BOOT_FAIL",
            RetryOn::Failed => "FAILED",
        }
    }
    pub fn of_word(w: &str) -> Option<RetryOn> {
        RetryOn::ALL.into_iter().find(|r| r.word() == w)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocalSpec {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub grace_seconds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Handoff {
    pub from: PhaseId,
    pub to: PhaseId,
    /// Files that must exist in `from`'s output before `to` may start.
    pub require: Vec<String>,
    pub fsx_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    pub name: String,
    pub kind: PlotKind,
    pub phase: PhaseId,
    /// Path relative to the phase output; may hold a glob (`snapshots/*.npy`).
    pub file: String,
    pub x: Option<String>,
    pub y: Vec<String>,
    pub log_y: bool,
    pub cmap: String,
    /// Slice plots: the row or column drawn (neither: the middle row).
    pub row: Option<usize>,
    pub col: Option<usize>,
    /// Heatmaps: a fixed colour range.
    pub range: Option<(f64, f64)>,
    /// Of an array (.npy): which field, slice and part of a complex number is drawn.
    pub pick: ArrayPick,
}

/// What of an array is drawn: a structured array's field, an N-D array's 2-D slice (the index
/// of every axis but the last two; default all 0: the first slice), a complex number's part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrayPick {
    pub field: Option<String>,
    pub slice: Vec<u64>,
    pub complex: ComplexPart,
}

/// The part of a complex number drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComplexPart {
    /// The magnitude.
    #[default]
    Abs,
    Re,
    Im,
    /// The phase angle (radians).
    Arg,
}

impl ComplexPart {
    pub const ALL: [ComplexPart; 4] = [
        ComplexPart::Abs,
        ComplexPart::Re,
        ComplexPart::Im,
        ComplexPart::Arg,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            ComplexPart::Abs => "abs",
            ComplexPart::Re => "re",
            ComplexPart::Im => "im",
            ComplexPart::Arg => "arg",
        }
    }
    pub fn next(self) -> ComplexPart {
        let i = ComplexPart::ALL
            .iter()
            .position(|p| *p == self)
            .unwrap_or(0);
        ComplexPart::ALL[(i + 1) % 4]
    }
}

impl Phase {
    /// The output prefix template of the phase's elements: the phase's own where it tells them
    /// apart (it names `{element}` or a `{param.…}`), else the phase's with `e{element}/` below it.
    pub fn element_output(&self) -> String {
        if self.output.contains("{element}") || self.output.contains("{param.") {
            self.output.clone()
        } else {
            format!("{}e{{element}}/", self.output)
        }
    }

    /// The output prefix template of element `e` of the phase's sweep, its placeholders filled
    /// in (None: the phase's own).
    pub fn output_template(&self, e: Option<&super::sweep::Element>) -> String {
        match e {
            None => self.output.clone(),
            Some(e) => {
                let mut vars = super::Vars::new();
                e.put(&mut vars);
                super::render(&self.element_output(), &vars)
            }
        }
    }

    /// How long a local process of this phase gets between SIGTERM and SIGKILL.
    pub fn grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.local.as_ref().map_or(5, |l| l.grace_seconds))
    }
}

impl Project {
    pub fn phase(&self, id: PhaseId) -> &Phase {
        &self.phases[id as usize]
    }
    pub fn preprocess(&self) -> &Phase {
        self.phase(PhaseId::Preprocess)
    }
    pub fn solve(&self) -> &Phase {
        self.phase(PhaseId::Solve)
    }
    pub fn target(&self, name: Option<&str>) -> Option<&Target> {
        self.targets.get(name.unwrap_or(&self.default_target))
    }
    /// The targets a cluster node can be picked for (Slurm targets over SSM), by name.
    pub fn ssm_targets(&self) -> Vec<String> {
        // the map is ordered by name
        self.targets
            .iter()
            .filter(|(_, t)| t.ssm_instance().is_some())
            .map(|(n, _)| n.clone())
            .collect()
    }
    /// The Slurm side of target `name`, when it is a Slurm target.
    pub fn slurm_target(&self, name: &str) -> Option<&SlurmTarget> {
        match &self.targets.get(name)?.kind {
            TargetKind::Slurm(s) => Some(s),
            TargetKind::Local { .. } => None,
        }
    }
}

pub const COLOR_MAPS: &[&str] = &["inferno", "viridis", "magma", "coolwarm", "gray"];
