//! Where a phase runs. Decided once, when a run is prepared, from the project and the target; kept
//! in the run's record (and so in the journal); read by everything that acts on a phase: the label
//! on screen, starting it, re-attaching to it after a crash, cancelling it, quitting.

use crate::project::{Engine, PhaseId, Project, TransportSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "lowercase")]
pub enum Placement {
    /// A process on this machine, in a process group of its own (the phase's `local` section).
    Local,
    /// A job on the target's Ray cluster, through its Jobs API at `dashboard`.
    Ray { dashboard: String },
    /// A batch job on the target's Slurm cluster, reached `via` its transport.
    Slurm { via: String },
}

impl Placement {
    /// Where `phase` of `project` runs on `target`: on the target's Ray cluster when the phase's
    /// engine is Ray and the target names one; as a Slurm job when the engine is Slurm and the
    /// target is a Slurm target; otherwise here, as a local process.
    pub fn decide(project: &Project, target: &str, phase: PhaseId) -> Placement {
        let engine = project.phase(phase).engine;
        let t = project.targets.get(target);
        match engine {
            Engine::Ray => match t.and_then(|t| t.ray.as_ref()) {
                Some(r) => Placement::Ray {
                    dashboard: r.dashboard.clone(),
                },
                None => Placement::Local,
            },
            Engine::Slurm => match project.slurm_target(target) {
                Some(s) => Placement::Slurm {
                    via: match &s.transport {
                        TransportSpec::Local => "local".into(),
                        TransportSpec::Ssh(c) => format!("ssh {}", c.host),
                        TransportSpec::Ssm(c) => format!("ssm {}", c.target),
                    },
                },
                None => Placement::Local,
            },
        }
    }

    /// Whether the phase runs on a cluster, where it goes on when tandem stops.
    pub fn on_cluster(&self) -> bool {
        !matches!(self, Placement::Local)
    }

    /// For the screen and the record: `local process`, `ray at http://…`, `slurm via ssh host`.
    pub fn label(&self) -> String {
        match self {
            Placement::Local => "local process".into(),
            Placement::Ray { dashboard } => format!("ray at {dashboard}"),
            Placement::Slurm { via } => format!("slurm via {via}"),
        }
    }

    /// The engine's word for this placement, as dry runs and manifests name it.
    pub fn engine(&self) -> &'static str {
        match self {
            Placement::Local => "local",
            Placement::Ray { .. } => "ray",
            Placement::Slurm { .. } => "slurm",
        }
    }

    /// The placement of a record written before placements were kept: tandem then stored only a
    /// label it had made from the same decision, `ENGINE (WHERE)`, where WHERE was `local` for a
    /// local process, the dashboard URL for Ray, and `slurm…` for a Slurm job. Only the journal's
    /// reader of old records calls this.
    pub(crate) fn from_old_label(label: &str) -> Placement {
        let (engine, on) = label
            .split_once(" (")
            .map(|(e, r)| (e, r.trim_end_matches(')')))
            .unwrap_or((label, "local"));
        match (engine, on) {
            (_, "local") => Placement::Local,
            ("ray", url) => Placement::Ray {
                dashboard: url.to_string(),
            },
            ("slurm", via) => Placement::Slurm {
                via: via
                    .strip_prefix("slurm via ")
                    .unwrap_or(if via == "slurm" { "local" } else { via })
                    .to_string(),
            },
            _ => Placement::Local,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_with(extra: &str) -> Project {
        let base =
            std::fs::read_to_string(crate::project::sample_project_path()).expect("sample project");
        crate::project::parse(
            &crate::project::sample_project_path(),
            &format!("{base}\n{extra}"),
        )
        .expect("project loads")
    }

    #[test]
    fn each_phase_runs_where_its_engine_and_the_target_say() {
        let p = sample_with(
            r#"
[targets.ws]
kind = "slurm"
transport = "local"

[targets.both]
kind = "slurm"
transport = "ssh"
host = "head"
ray_dashboard = "http://127.0.0.1:8265"
"#,
        );
        use PhaseId::*;
        assert_eq!(Placement::decide(&p, "local", Preprocess), Placement::Local);
        assert_eq!(Placement::decide(&p, "local", Solve), Placement::Local);
        // a Slurm target without Ray: phase 1 runs here, phase 2 on Slurm
        assert_eq!(Placement::decide(&p, "ws", Preprocess), Placement::Local);
        assert_eq!(
            Placement::decide(&p, "ws", Solve),
            Placement::Slurm {
                via: "local".into()
            }
        );
        let ray = Placement::decide(&p, "both", Preprocess);
        assert_eq!(
            ray,
            Placement::Ray {
                dashboard: "http://127.0.0.1:8265".into()
            }
        );
        assert!(ray.on_cluster() && !Placement::Local.on_cluster());
        assert_eq!(
            Placement::decide(&p, "both", Solve).label(),
            "slurm via ssh head"
        );
        assert_eq!(Placement::decide(&p, "nope", Solve), Placement::Local);
    }

    #[test]
    fn old_records_labels_read_back_as_the_placement_they_were_made_from() {
        for (label, want) in [
            ("ray (local)", Placement::Local),
            ("slurm (local)", Placement::Local),
            (
                "ray (http://127.0.0.1:8265)",
                Placement::Ray {
                    dashboard: "http://127.0.0.1:8265".into(),
                },
            ),
            (
                "slurm (slurm)",
                Placement::Slurm {
                    via: "local".into(),
                },
            ),
            (
                "slurm (slurm via ssh head.example.org)",
                Placement::Slurm {
                    via: "ssh head.example.org".into(),
                },
            ),
            ("local", Placement::Local),
        ] {
            assert_eq!(Placement::from_old_label(label), want, "{label}");
        }
    }
}
