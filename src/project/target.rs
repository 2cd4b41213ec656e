//! Targets: where phases run, as the project file configures them. Plain settings only: the
//! transports, engines and CloudWatch clients that use them import these, never the other way.

use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub description: Option<String>,
    /// Where phases whose engine is `ray` run (when the target names a Ray dashboard).
    pub ray: Option<RayConf>,
    /// What of this target's clusters to follow in CloudWatch.
    pub cloudwatch: CloudWatch,
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
    pub slurm: SlurmConf,
    /// Run directories on the cluster (job scripts and logs): `WORK_DIR/RUN/PHASE`.
    pub work_dir: WorkDir,
    pub poll: Duration,
    /// Directory store when the storage root is not S3 (shared with the cluster, like FSx).
    pub store_dir: Option<PathBuf>,
}

/// Where a Slurm target keeps its run directories (job scripts and logs). Always an absolute path
/// when a job is submitted: Slurm's daemons do not run where tandem does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkDir {
    /// An absolute path on the head node (and the compute nodes: shared storage).
    Path(String),
    /// Under the login's home on the head node (`~/…`), expanded there, not here.
    Home(String),
    /// Under tandem's data dir on this machine: the default of the local transport.
    DataDir,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransportSpec {
    Local,
    Ssh(SshConfig),
    Ssm(SsmConfig),
}

/// An SSH head node (`transport = "ssh"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshConfig {
    pub host: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_file: Option<PathBuf>,
    /// `strict` (the default: the host must be known), `accept-new`, or `off`.
    pub known_hosts: Option<String>,
    /// A known_hosts file instead of ~/.ssh/known_hosts.
    pub known_hosts_file: Option<PathBuf>,
}

/// A head node reached through Systems Manager (`transport = "ssm"`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SsmConfig {
    /// `i-…` for an EC2 head node, or `sagemaker-cluster:<cluster-id>_<group>-<instance-id>`.
    pub target: String,
    pub user: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// CloudWatch Logs group for the command output, when set.
    pub log_group: Option<String>,
    pub max_attempts: Option<u32>,
}

/// Where the Slurm commands are on the head node and how to reach the controller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmConf {
    /// Directory of sbatch, squeue, ... (`/opt/slurm/bin` on ParallelCluster); else `PATH`.
    pub bin: Option<String>,
    /// SLURM_CONF for every command (SSH does not pass the caller's environment).
    pub conf: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
}

/// How a Ray dashboard is reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reach {
    /// HTTP from this machine.
    #[default]
    Direct,
    /// curl on the head node, through the target's transport.
    Transport,
}

/// A target's Ray settings (`ray_dashboard`, `ray_reach`, `ray_temp_dir` in tandem.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RayConf {
    /// `http://HOST:8265` (as seen from where requests are made).
    pub dashboard: String,
    pub reach: Reach,
    /// Ray's temp dir on the head node (driver logs live under `session_latest/logs`).
    pub temp_dir: String,
    pub poll: Duration,
}

impl Default for RayConf {
    fn default() -> Self {
        RayConf {
            dashboard: "http://127.0.0.1:8265".into(),
            reach: Reach::Direct,
            temp_dir: "/tmp/ray".into(),
            poll: Duration::from_secs(1),
        }
    }
}

/// A target's CloudWatch: the log groups its clusters write and the metrics to chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CloudWatch {
    pub log_groups: Vec<String>,
    pub metrics: Vec<MetricQuery>,
    /// Seconds per data point (60 unless told).
    pub period: i32,
    /// The target's own profile and region (for SSM too), when it names them.
    pub profile: Option<String>,
    pub region: Option<String>,
}

impl CloudWatch {
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

/// One metric to chart: what CloudWatch calls a MetricStat, with a label.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MetricQuery {
    pub label: String,
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub dimensions: Vec<(String, String)>,
    /// Average, Maximum, Minimum, Sum, SampleCount, p99, ...
    pub stat: String,
}

/// The metrics charted for an EC2 head node when a target names none: CPU and network (AWS/EC2),
/// and the CloudWatch agent's memory, disk and GPU.
pub fn default_queries(instance: &str) -> Vec<MetricQuery> {
    let q = |label: &str, ns: &str, name: &str, stat: &str| MetricQuery {
        label: label.into(),
        namespace: ns.into(),
        name: name.into(),
        dimensions: vec![("InstanceId".into(), instance.into())],
        stat: stat.into(),
    };
    vec![
        q("CPU %", "AWS/EC2", "CPUUtilization", "Average"),
        q("net in B", "AWS/EC2", "NetworkIn", "Sum"),
        q("net out B", "AWS/EC2", "NetworkOut", "Sum"),
        q("mem %", "CWAgent", "mem_used_percent", "Average"),
        q("disk %", "CWAgent", "disk_used_percent", "Average"),
        q("GPU %", "CWAgent", "nvidia_smi_utilization_gpu", "Average"),
    ]
}

/// FSx for Lustre throughput of file system `fs` (fs-…).
pub fn fsx_queries(fs: &str) -> Vec<MetricQuery> {
    ["DataReadBytes", "DataWriteBytes"]
        .iter()
        .map(|n| MetricQuery {
            label: format!(
                "FSx {}",
                if n.contains("Read") {
                    "read B"
                } else {
                    "write B"
                }
            ),
            namespace: "AWS/FSx".into(),
            name: (*n).into(),
            dimensions: vec![("FileSystemId".into(), fs.into())],
            stat: "Sum".into(),
        })
        .collect()
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
