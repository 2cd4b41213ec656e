//! The project model: raw serde structs (what the file says) and the validated [`Project`].

use super::{pos_of, template, ProjectError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

// ---------------------------------------------------------------------------------------------------
// Raw: what serde reads. Unknown keys are errors.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    project: RawMeta,
    storage: RawStorage,
    #[serde(default)]
    datasets: BTreeMap<String, RawDataset>,
    phases: RawPhases,
    handoff: RawHandoff,
    #[serde(default)]
    plots: Vec<RawPlot>,
    #[serde(default)]
    targets: BTreeMap<Spanned<String>, RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    default_target: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    /// `bucket/prefix` inside the target's object store.
    root: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    path: Spanned<String>,
    #[serde(default)]
    format: Option<DataFormat>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    generate: Option<Generate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhases {
    preprocess: RawPhase,
    solve: RawPhase,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhase {
    engine: Engine,
    #[serde(default)]
    inputs: Vec<Spanned<String>>,
    output: Spanned<String>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    local: Option<RawLocal>,
    /// How the phase runs on a Ray cluster (fields arrive with the Ray engine).
    #[serde(default)]
    ray: Option<toml::Table>,
    /// How the phase runs on a Slurm cluster (fields arrive with the Slurm engine).
    #[serde(default)]
    slurm: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    command: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    #[serde(default = "default_grace")]
    grace_seconds: u64,
}

fn default_grace() -> u64 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHandoff {
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default = "default_require")]
    require: Vec<String>,
    #[serde(default)]
    fsx_path: Option<String>,
}

fn default_require() -> Vec<String> {
    vec!["_SUCCESS".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlot {
    name: String,
    kind: PlotKind,
    phase: Spanned<String>,
    file: Spanned<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Vec<String>,
    #[serde(default)]
    log_y: bool,
    #[serde(default)]
    cmap: Option<Spanned<String>>,
    /// Slice plots: the row (or `col`) drawn as a line; neither: the middle row.
    #[serde(default)]
    row: Option<usize>,
    #[serde(default)]
    col: Option<usize>,
    /// Heatmaps: a fixed colour range `[lo, hi]` for every snapshot (default: each snapshot's own).
    #[serde(default)]
    range: Option<Spanned<Vec<f64>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Spanned<String>,
    #[serde(default)]
    store_dir: Option<String>,
    #[serde(default)]
    description: Option<String>,
    // slurm targets: how the head node is reached
    #[serde(default)]
    transport: Option<Spanned<String>>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    identity_file: Option<String>,
    #[serde(default)]
    known_hosts: Option<Spanned<String>>,
    #[serde(default)]
    known_hosts_file: Option<String>,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    log_group: Option<String>,
    // ... and Slurm on it
    #[serde(default)]
    partition: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    slurm_bin: Option<String>,
    #[serde(default)]
    slurm_conf: Option<String>,
    #[serde(default)]
    work_dir: Option<String>,
    #[serde(default)]
    poll_seconds: Option<Spanned<f64>>,
    // Ray on any target: phases whose engine is `ray` go to this cluster's Jobs API
    #[serde(default)]
    ray_dashboard: Option<Spanned<String>>,
    /// `direct` (HTTP from here, the default) or `transport` (curl on the head node).
    #[serde(default)]
    ray_reach: Option<Spanned<String>>,
    #[serde(default)]
    ray_temp_dir: Option<String>,
    // CloudWatch: what the target's clusters write
    #[serde(default)]
    log_groups: Vec<Spanned<String>>,
    #[serde(default)]
    metrics: Vec<RawMetric>,
    #[serde(default)]
    metric_period: Option<Spanned<i64>>,
    /// An FSx for Lustre file system (fs-…) whose DataReadBytes and DataWriteBytes to chart.
    #[serde(default)]
    fsx_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    namespace: Spanned<String>,
    name: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    dimensions: BTreeMap<String, String>,
    #[serde(default)]
    stat: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub description: Option<String>,
    /// Where phases whose engine is `ray` run (when the target names a Ray dashboard).
    pub ray: Option<crate::engine::ray::RayConf>,
    /// What to watch in CloudWatch for this target.
    pub watch: Watch,
}

/// A target's CloudWatch: the log groups its clusters write and the metrics to chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Watch {
    pub log_groups: Vec<String>,
    pub metrics: Vec<crate::observe::cloudwatch::MetricQuery>,
    /// Seconds per data point (60 unless told).
    pub period: i32,
    /// The target's own profile and region (for SSM too), when it names them.
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl Watch {
    /// Whether there is anything to ask CloudWatch for.
    pub fn any(&self) -> bool {
        !self.log_groups.is_empty() || !self.metrics.is_empty()
    }
    /// AWS options: the target's profile and region over the command line's.
    pub fn aws(&self, base: &crate::aws::AwsOpts) -> crate::aws::AwsOpts {
        crate::aws::AwsOpts {
            profile: self.profile.clone().or_else(|| base.profile.clone()),
            region: self.region.clone().or_else(|| base.region.clone()),
            ..base.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// The embedded default: a directory object store and a local process runner.
    Local { store_dir: Option<PathBuf> },
    /// Phases whose engine is `slurm` go to a Slurm cluster's head node over `transport`; the
    /// others run here as on `local`.
    Slurm(Box<SlurmTarget>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlurmTarget {
    pub transport: TransportSpec,
    pub slurm: crate::engine::slurm::SlurmConf,
    /// Run directories on the cluster (job scripts and logs): `WORK_DIR/RUN/PHASE`.
    pub work_dir: String,
    pub poll: std::time::Duration,
    /// Directory store when the storage root is not S3 (shared with the cluster, like FSx).
    pub store_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransportSpec {
    Local,
    Ssh(crate::transport::ssh::SshConfig),
    Ssm(crate::transport::ssm::SsmConfig),
}

impl Target {
    /// The instance (or HyperPod node) an SSM target sends commands to.
    pub fn ssm_instance(&self) -> Option<&str> {
        match &self.kind {
            TargetKind::Slurm(s) => match &s.transport {
                TransportSpec::Ssm(c) => Some(&c.target),
                _ => None,
            },
            TargetKind::Local { .. } => None,
        }
    }
    /// `local`, `ssh` or `ssm`: how commands reach the target.
    pub fn transport_name(&self) -> &'static str {
        match &self.kind {
            TargetKind::Slurm(s) => match &s.transport {
                TransportSpec::Local => "local",
                TransportSpec::Ssh(_) => "ssh",
                TransportSpec::Ssm(_) => "ssm",
            },
            TargetKind::Local { .. } => "local",
        }
    }
}

impl TargetKind {
    pub fn store_dir(&self) -> Option<&PathBuf> {
        match self {
            TargetKind::Local { store_dir } => store_dir.as_ref(),
            TargetKind::Slurm(s) => s.store_dir.as_ref(),
        }
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
    /// The Slurm side of target `name`, when it is a Slurm target.
    pub fn slurm_target(&self, name: &str) -> Option<&SlurmTarget> {
        match &self.targets.get(name)?.kind {
            TargetKind::Slurm(s) => Some(s),
            TargetKind::Local { .. } => None,
        }
    }
}

pub const COLOR_MAPS: &[&str] = &["inferno", "viridis", "magma", "coolwarm", "gray"];

// ---------------------------------------------------------------------------------------------------

struct Ctx<'a> {
    file: &'a Path,
    src: &'a str,
}

impl Ctx<'_> {
    fn err<T>(&self, at: usize, key: &str, message: impl Into<String>) -> Result<T, ProjectError> {
        Err(ProjectError {
            file: self.file.to_path_buf(),
            pos: Some(pos_of(self.src, at)),
            key: Some(key.to_string()),
            message: message.into(),
        })
    }

    /// Placeholders in a string value: the span covers the quotes, so offsets shift by one.
    fn check_template(&self, s: &Spanned<String>, key: &str) -> Result<(), ProjectError> {
        template::check(s.get_ref())
            .or_else(|(off, msg)| self.err(s.span().start + 1 + off, key, msg))
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn valid_rel_path(p: &str) -> bool {
    !p.starts_with('/') && !p.split('/').any(|seg| seg == ".." || seg == ".")
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

pub(super) fn validate(file: &Path, src: &str, raw: RawProject) -> Result<Project, ProjectError> {
    let cx = Ctx { file, src };
    let name = raw.project.name.get_ref().clone();
    if !is_name(&name) {
        return cx.err(
            raw.project.name.span().start,
            "project.name",
            "expected a name of letters, digits, `-` or `_` (at most 64)",
        );
    }

    // storage.root = "bucket/prefix" or "s3://bucket/prefix"
    let (s3, root) = match raw.storage.root.get_ref().strip_prefix("s3://") {
        Some(r) => (true, r),
        None => (false, raw.storage.root.get_ref().as_str()),
    };
    let root = root.trim_end_matches('/');
    let (bucket, prefix) = root.split_once('/').unwrap_or((root, ""));
    if !valid_bucket(bucket) {
        return cx.err(
            raw.storage.root.span().start,
            "storage.root",
            format!(
                "expected `bucket/prefix` with a bucket name of 3-63 lowercase letters, digits, `-` or `.`; got `{bucket}`"
            ),
        );
    }
    if !valid_rel_path(prefix) || prefix.contains("//") {
        return cx.err(
            raw.storage.root.span().start,
            "storage.root",
            "the prefix must not hold `.`, `..` or empty segments",
        );
    }

    let mut datasets = BTreeMap::new();
    for (dname, d) in raw.datasets {
        let key = format!("datasets.{dname}.path");
        if !is_name(&dname) {
            return cx.err(
                d.path.span().start,
                &format!("datasets.{dname}"),
                "dataset names are letters, digits, `-` or `_`",
            );
        }
        let p = d.path.get_ref().trim_matches('/');
        if p.is_empty() || !valid_rel_path(p) {
            return cx.err(
                d.path.span().start,
                &key,
                "expected a path relative to the storage root, without `..`",
            );
        }
        datasets.insert(
            dname.clone(),
            Dataset {
                name: dname,
                path: format!("{p}/"),
                format: d.format,
                description: d.description,
                generate: d.generate,
            },
        );
    }

    let mut phases = Vec::with_capacity(2);
    for (id, rp) in [
        (PhaseId::Preprocess, raw.phases.preprocess),
        (PhaseId::Solve, raw.phases.solve),
    ] {
        let base = format!("phases.{id}");
        for input in &rp.inputs {
            let v = input.get_ref();
            if !datasets.contains_key(v) && v != "handoff" {
                let known: Vec<_> = datasets
                    .keys()
                    .map(String::as_str)
                    .chain(["handoff"])
                    .collect();
                return cx.err(
                    input.span().start,
                    &format!("{base}.inputs"),
                    format!(
                        "unknown input `{v}`, expected a dataset name or `handoff` (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        cx.check_template(&rp.output, &format!("{base}.output"))?;
        let out = rp.output.get_ref().trim_matches('/');
        if out.is_empty() || !valid_rel_path(out) {
            return cx.err(
                rp.output.span().start,
                &format!("{base}.output"),
                "expected a prefix relative to the storage root, without `..`",
            );
        }
        let local = match rp.local {
            None => None,
            Some(l) => {
                if l.command.get_ref().is_empty() {
                    return cx.err(
                        l.command.span().start,
                        &format!("{base}.local.command"),
                        "expected a non-empty list: program, then arguments",
                    );
                }
                for a in l.command.get_ref() {
                    cx.check_template(a, &format!("{base}.local.command"))?;
                }
                let mut env = BTreeMap::new();
                for (k, v) in l.env {
                    cx.check_template(&v, &format!("{base}.local.env.{k}"))?;
                    env.insert(k, v.into_inner());
                }
                Some(LocalSpec {
                    command: l
                        .command
                        .into_inner()
                        .into_iter()
                        .map(Spanned::into_inner)
                        .collect(),
                    env,
                    grace_seconds: l.grace_seconds,
                })
            }
        };
        phases.push(Phase {
            id,
            engine: rp.engine,
            inputs: rp.inputs.into_iter().map(Spanned::into_inner).collect(),
            output: format!("{out}/"),
            resources: rp.resources,
            local,
            ray: rp.ray,
            slurm: rp.slurm,
        });
    }
    let phases: [Phase; 2] = phases.try_into().expect("two phases");

    let phase_ref = |s: &Spanned<String>, key: &str| -> Result<PhaseId, ProjectError> {
        PhaseId::parse(s.get_ref()).map_or_else(
            || {
                cx.err(
                    s.span().start,
                    key,
                    format!(
                        "unknown phase `{}`, expected `preprocess` or `solve`",
                        s.get_ref()
                    ),
                )
            },
            Ok,
        )
    };
    let from = phase_ref(&raw.handoff.from, "handoff.from")?;
    let to = phase_ref(&raw.handoff.to, "handoff.to")?;
    if from != PhaseId::Preprocess || to != PhaseId::Solve {
        return cx.err(
            raw.handoff.from.span().start,
            "handoff",
            "the handoff goes from `preprocess` to `solve`",
        );
    }
    let handoff = Handoff {
        from,
        to,
        require: raw.handoff.require,
        fsx_path: raw.handoff.fsx_path,
    };

    let mut plots = Vec::new();
    for (i, p) in raw.plots.into_iter().enumerate() {
        let key = format!("plots[{i}]");
        let phase = phase_ref(&p.phase, &format!("{key}.phase"))?;
        let f = p.file.get_ref();
        if f.is_empty() || !valid_rel_path(f) {
            return cx.err(
                p.file.span().start,
                &format!("{key}.file"),
                "expected a path relative to the phase output, without `..`",
            );
        }
        if p.kind == PlotKind::Line && (p.x.is_none() || p.y.is_empty()) {
            return cx.err(
                p.file.span().start,
                &key,
                "a line plot needs `x` (a column) and `y` (one or more columns)",
            );
        }
        let cmap = match p.cmap {
            None => "inferno".to_string(),
            Some(c) if COLOR_MAPS.contains(&c.get_ref().as_str()) => c.into_inner(),
            Some(c) => {
                return cx.err(
                    c.span().start,
                    &format!("{key}.cmap"),
                    format!(
                        "unknown colour map `{}`, expected one of {}",
                        c.get_ref(),
                        COLOR_MAPS.join(", ")
                    ),
                )
            }
        };
        if p.row.is_some() && p.col.is_some() {
            return cx.err(
                p.file.span().start,
                &key,
                "a slice is a `row` or a `col`, not both",
            );
        }
        let range = match p.range {
            None => None,
            Some(r) => match r.get_ref().as_slice() {
                [lo, hi] if lo < hi && lo.is_finite() && hi.is_finite() => Some((*lo, *hi)),
                _ => {
                    return cx.err(
                        r.span().start,
                        &format!("{key}.range"),
                        "expected [low, high] with low < high",
                    )
                }
            },
        };
        // a slice is drawn as a line of its position against the value
        let (x, y) = if p.kind == PlotKind::Slice {
            (
                Some(if p.col.is_some() { "row" } else { "col" }.to_string()),
                vec!["value".to_string()],
            )
        } else {
            (p.x, p.y)
        };
        plots.push(PlotSpec {
            name: p.name,
            kind: p.kind,
            phase,
            file: f.clone(),
            x,
            y,
            log_y: p.log_y,
            cmap,
            row: p.row,
            col: p.col,
            range,
        });
    }

    let mut targets = BTreeMap::new();
    for (tname, t) in raw.targets {
        let key = format!("targets.{}", tname.get_ref());
        if !is_name(tname.get_ref()) {
            return cx.err(
                tname.span().start,
                &key,
                "target names are letters, digits, `-` or `_`",
            );
        }
        let rel = |d: String| {
            let p = PathBuf::from(d);
            if p.is_absolute() {
                p
            } else {
                file.parent().unwrap_or(Path::new(".")).join(p)
            }
        };
        let kind = match t.kind.get_ref().as_str() {
            "local" => TargetKind::Local {
                store_dir: t.store_dir.clone().map(rel),
            },
            "slurm" => {
                let transport = match t.transport.as_ref().map(|s| s.get_ref().as_str()) {
                    None | Some("local") => TransportSpec::Local,
                    Some("ssh") => {
                        let Some(host) = t.host.clone() else {
                            return cx.err(
                                t.kind.span().start,
                                &format!("{key}.host"),
                                "an ssh target needs `host`",
                            );
                        };
                        if let Some(k) = &t.known_hosts {
                            if !["strict", "accept-new", "off"].contains(&k.get_ref().as_str()) {
                                return cx.err(
                                    k.span().start,
                                    &format!("{key}.known_hosts"),
                                    format!(
                                        "unknown policy `{}`, expected strict, accept-new or off",
                                        k.get_ref()
                                    ),
                                );
                            }
                        }
                        TransportSpec::Ssh(crate::transport::ssh::SshConfig {
                            host,
                            port: t.port,
                            user: t.user.clone(),
                            identity_file: t
                                .identity_file
                                .clone()
                                .map(|p| PathBuf::from(expand_tilde(&p))),
                            known_hosts: t.known_hosts.as_ref().map(|k| k.get_ref().clone()),
                            known_hosts_file: t
                                .known_hosts_file
                                .clone()
                                .map(|p| PathBuf::from(expand_tilde(&p))),
                        })
                    }
                    Some("ssm") => {
                        let Some(id) = t.instance_id.clone() else {
                            return cx.err(
                                t.kind.span().start,
                                &format!("{key}.instance_id"),
                                "an ssm target needs `instance_id` (i-… or sagemaker-cluster:…)",
                            );
                        };
                        TransportSpec::Ssm(crate::transport::ssm::SsmConfig {
                            target: id,
                            user: t.user.clone(),
                            profile: t.profile.clone(),
                            region: t.region.clone(),
                            endpoint: None,
                            log_group: t.log_group.clone(),
                            max_attempts: None,
                        })
                    }
                    Some(other) => {
                        let at = t.transport.as_ref().map(|s| s.span().start).unwrap_or(0);
                        return cx.err(
                            at,
                            &format!("{key}.transport"),
                            format!("unknown transport `{other}`, expected local, ssh or ssm"),
                        );
                    }
                };
                // SSM bills no calls but throttles them: one followed job at 10 s stays near 20
                // calls a minute (SendCommand and two or three polls), under the 30 aimed for
                let default_poll = if matches!(transport, TransportSpec::Ssm(_)) {
                    10.0
                } else {
                    5.0
                };
                let poll = match &t.poll_seconds {
                    None => default_poll,
                    Some(p) if *p.get_ref() >= 0.2 && *p.get_ref() <= 3600.0 => *p.get_ref(),
                    Some(p) => {
                        return cx.err(
                            p.span().start,
                            &format!("{key}.poll_seconds"),
                            "expected a number of seconds from 0.2 to 3600",
                        )
                    }
                };
                TargetKind::Slurm(Box::new(SlurmTarget {
                    transport,
                    slurm: crate::engine::slurm::SlurmConf {
                        bin: t.slurm_bin.clone(),
                        conf: t.slurm_conf.clone(),
                        partition: t.partition.clone(),
                        account: t.account.clone(),
                    },
                    work_dir: t.work_dir.clone().unwrap_or_else(|| "tandem-runs".into()),
                    poll: std::time::Duration::from_secs_f64(poll),
                    store_dir: t.store_dir.clone().map(rel),
                }))
            }
            other => {
                return cx.err(
                    t.kind.span().start,
                    &format!("{key}.kind"),
                    format!("unknown target kind `{other}`, expected `local` or `slurm`"),
                )
            }
        };
        let ray = match &t.ray_dashboard {
            None => None,
            Some(d) => {
                let url = d.get_ref().trim_end_matches('/').to_string();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return cx.err(
                        d.span().start,
                        &format!("{key}.ray_dashboard"),
                        "expected the dashboard's URL, like http://127.0.0.1:8265",
                    );
                }
                let reach = match t.ray_reach.as_ref().map(|r| r.get_ref().as_str()) {
                    None | Some("direct") => crate::engine::ray::Reach::Direct,
                    Some("transport") if matches!(kind, TargetKind::Slurm(_)) => {
                        crate::engine::ray::Reach::Transport
                    }
                    Some(other) => {
                        let r = t.ray_reach.as_ref().map(|r| r.span().start).unwrap_or(0);
                        return cx.err(
                            r,
                            &format!("{key}.ray_reach"),
                            format!("unknown reach `{other}`, expected direct, or transport on a target with one (kind = \"slurm\")"),
                        );
                    }
                };
                Some(crate::engine::ray::RayConf {
                    dashboard: url,
                    reach,
                    temp_dir: t.ray_temp_dir.clone().unwrap_or_else(|| "/tmp/ray".into()),
                    ..Default::default()
                })
            }
        };
        let watch = {
            let mut metrics = Vec::new();
            for m in &t.metrics {
                if m.namespace.get_ref().trim().is_empty() {
                    return cx.err(
                        m.namespace.span().start,
                        &format!("{key}.metrics.namespace"),
                        "expected a CloudWatch namespace, like AWS/EC2 or CWAgent",
                    );
                }
                metrics.push(crate::observe::cloudwatch::MetricQuery {
                    label: m.label.clone().unwrap_or_else(|| m.name.clone()),
                    namespace: m.namespace.get_ref().clone(),
                    name: m.name.clone(),
                    dimensions: m.dimensions.clone().into_iter().collect(),
                    stat: m.stat.clone().unwrap_or_else(|| "Average".into()),
                });
            }
            // no metrics named: the head node's (an EC2 instance behind an ssm target)
            if metrics.is_empty() {
                if let TargetKind::Slurm(st) = &kind {
                    if let TransportSpec::Ssm(c) = &st.transport {
                        if c.target.starts_with("i-") {
                            metrics = crate::observe::cloudwatch::default_queries(&c.target);
                        }
                    }
                }
            }
            if let Some(fs) = &t.fsx_id {
                metrics.extend(crate::observe::cloudwatch::fsx_queries(fs));
            }
            let period = match &t.metric_period {
                None => 60,
                Some(p) if [1, 5, 10, 30].contains(p.get_ref()) || (*p.get_ref() >= 60 && p.get_ref() % 60 == 0 && *p.get_ref() <= 86400) => *p.get_ref() as i32,
                Some(p) => {
                    return cx.err(
                        p.span().start,
                        &format!("{key}.metric_period"),
                        "expected 1, 5, 10, 30 or a multiple of 60 seconds up to 86400 (CloudWatch's periods)",
                    )
                }
            };
            Watch {
                log_groups: t.log_groups.iter().map(|g| g.get_ref().clone()).collect(),
                metrics,
                period,
                profile: t.profile.clone(),
                region: t.region.clone(),
            }
        };
        targets.insert(
            tname.get_ref().clone(),
            Target {
                name: tname.into_inner(),
                kind,
                description: t.description,
                ray,
                watch,
            },
        );
    }
    if !targets.contains_key("local") {
        targets.insert(
            "local".into(),
            Target {
                name: "local".into(),
                kind: TargetKind::Local { store_dir: None },
                description: Some("embedded default".into()),
                ray: None,
                watch: Watch {
                    period: 60,
                    ..Default::default()
                },
            },
        );
    }
    let default_target = match raw.project.default_target {
        None => "local".to_string(),
        Some(t) if targets.contains_key(t.get_ref()) => t.into_inner(),
        Some(t) => {
            let known: Vec<_> = targets.keys().map(String::as_str).collect();
            return cx.err(
                t.span().start,
                "project.default_target",
                format!(
                    "unknown target `{}`, expected one of {}",
                    t.get_ref(),
                    known.join(", ")
                ),
            );
        }
    };
    for ph in &phases {
        if ph.local.is_none() {
            return Err(ProjectError {
                file: file.to_path_buf(),
                pos: None,
                key: Some(format!("phases.{}.local", ph.id)),
                message: "missing: every phase says how it runs on the local target (`[phases.NAME.local] command = [...]`)".into(),
            });
        }
    }

    let dir = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Ok(Project {
        file: file.to_path_buf(),
        dir,
        hash: fnv1a(src.as_bytes()),
        name,
        description: raw.project.description,
        storage: Storage {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            s3,
        },
        datasets,
        phases,
        handoff,
        plots,
        targets,
        default_target,
    })
}

/// `~/x` to the home directory.
pub fn expand_tilde(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => p.to_string(),
    }
}
