//! What the project file says, as serde reads it: unknown keys are errors, positions are kept
//! (`toml::Spanned`) for the validator's messages.

use super::model::{DataFormat, Engine, Generate, PlotKind, Resources};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) project: RawMeta,
    pub(super) storage: RawStorage,
    #[serde(default)]
    pub(super) datasets: BTreeMap<String, RawDataset>,
    pub(super) phases: RawPhases,
    pub(super) handoff: RawHandoff,
    #[serde(default)]
    pub(super) plots: Vec<RawPlot>,
    #[serde(default)]
    pub(super) targets: BTreeMap<Spanned<String>, RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeta {
    pub(super) name: Spanned<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) default_target: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    /// `bucket/prefix` inside the target's object store.
    pub(super) root: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDataset {
    pub(super) path: Spanned<String>,
    #[serde(default)]
    pub(super) format: Option<DataFormat>,
    #[serde(default)]
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) generate: Option<Generate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhases {
    pub(super) preprocess: RawPhase,
    pub(super) solve: RawPhase,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPhase {
    pub(super) engine: Engine,
    #[serde(default)]
    pub(super) inputs: Vec<Spanned<String>>,
    pub(super) output: Spanned<String>,
    #[serde(default)]
    pub(super) resources: Resources,
    #[serde(default)]
    pub(super) local: Option<RawLocal>,
    /// How the phase runs on a Ray cluster (fields arrive with the Ray engine).
    #[serde(default)]
    pub(super) ray: Option<Spanned<toml::Table>>,
    /// How the phase runs on a Slurm cluster (fields arrive with the Slurm engine).
    #[serde(default)]
    pub(super) slurm: Option<Spanned<toml::Table>>,
    /// A parameter sweep: the phase runs once per element.
    #[serde(default)]
    pub(super) sweep: Option<Spanned<super::sweep::RawSweep>>,
    /// Resubmission of a job (or array element) that ended in one of these ways.
    #[serde(default)]
    pub(super) retry: Option<Spanned<RawRetry>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRetry {
    #[serde(default)]
    pub(super) max: Option<Spanned<i64>>,
    pub(super) on: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) memory_factor: Option<Spanned<f64>>,
    #[serde(default)]
    pub(super) time_factor: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocal {
    pub(super) command: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, Spanned<String>>,
    #[serde(default = "default_grace")]
    pub(super) grace_seconds: u64,
}

pub(super) fn default_grace() -> u64 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHandoff {
    pub(super) from: Spanned<String>,
    pub(super) to: Spanned<String>,
    #[serde(default = "default_require")]
    pub(super) require: Vec<String>,
    #[serde(default)]
    pub(super) fsx_path: Option<String>,
}

pub(super) fn default_require() -> Vec<String> {
    vec!["_SUCCESS".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlot {
    pub(super) name: String,
    pub(super) kind: PlotKind,
    pub(super) phase: Spanned<String>,
    pub(super) file: Spanned<String>,
    #[serde(default)]
    pub(super) x: Option<String>,
    #[serde(default)]
    pub(super) y: Vec<String>,
    #[serde(default)]
    pub(super) log_y: bool,
    #[serde(default)]
    pub(super) cmap: Option<Spanned<String>>,
    /// Slice plots: the row (or `col`) drawn as a line; neither: the middle row.
    #[serde(default)]
    pub(super) row: Option<usize>,
    #[serde(default)]
    pub(super) col: Option<usize>,
    /// Heatmaps: a fixed colour range `[lo, hi]` for every snapshot (default: each snapshot's own).
    #[serde(default)]
    pub(super) range: Option<Spanned<Vec<f64>>>,
    /// A structured array's field to draw.
    #[serde(default)]
    pub(super) field: Option<String>,
    /// An N-D array's slice: the index of every axis but the last two.
    #[serde(default)]
    pub(super) slice: Vec<u64>,
    /// A complex array's part: abs (default), re, im, arg.
    #[serde(default)]
    pub(super) complex: super::model::ComplexPart,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    pub(super) kind: Spanned<String>,
    #[serde(default)]
    pub(super) store_dir: Option<String>,
    #[serde(default)]
    pub(super) description: Option<String>,
    // slurm targets: how the head node is reached
    #[serde(default)]
    pub(super) transport: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) host: Option<String>,
    #[serde(default)]
    pub(super) port: Option<u16>,
    #[serde(default)]
    pub(super) user: Option<String>,
    #[serde(default)]
    pub(super) identity_file: Option<String>,
    #[serde(default)]
    pub(super) known_hosts: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) known_hosts_file: Option<String>,
    #[serde(default)]
    pub(super) instance_id: Option<String>,
    #[serde(default)]
    pub(super) region: Option<String>,
    #[serde(default)]
    pub(super) profile: Option<String>,
    #[serde(default)]
    pub(super) log_group: Option<String>,
    // ... and Slurm on it
    #[serde(default)]
    pub(super) partition: Option<String>,
    #[serde(default)]
    pub(super) account: Option<String>,
    #[serde(default)]
    pub(super) slurm_bin: Option<String>,
    #[serde(default)]
    pub(super) slurm_conf: Option<String>,
    #[serde(default)]
    pub(super) work_dir: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) poll_seconds: Option<Spanned<f64>>,
    // Ray on any target: phases whose engine is `ray` go to this cluster's Jobs API
    #[serde(default)]
    pub(super) ray_dashboard: Option<Spanned<String>>,
    /// `direct` (HTTP from here, the default) or `transport` (curl on the head node).
    #[serde(default)]
    pub(super) ray_reach: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) ray_temp_dir: Option<String>,
    // CloudWatch: what the target's clusters write
    #[serde(default)]
    pub(super) log_groups: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) metrics: Vec<RawMetric>,
    #[serde(default)]
    pub(super) metric_period: Option<Spanned<i64>>,
    /// An FSx for Lustre file system (fs-…) whose DataReadBytes and DataWriteBytes to chart.
    #[serde(default)]
    pub(super) fsx_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetric {
    pub(super) namespace: Spanned<String>,
    pub(super) name: String,
    #[serde(default)]
    pub(super) label: Option<String>,
    #[serde(default)]
    pub(super) dimensions: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) stat: Option<String>,
}
