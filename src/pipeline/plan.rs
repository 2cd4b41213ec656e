//! `--dry-run`: what each phase of a run would send, as data. The local commands, the Ray Jobs
//! API requests (or the curl scripts run on the head node), the Slurm submit scripts with the
//! transport's request (ssh argv, SSM SendCommand). Nothing is sent, written or journalled.

use super::phase::Exec;
use super::run::{Run, RunState};
use super::workspace::Workspace;
use crate::project::{PhaseId, Project};
use crate::storage::ObjectStore;
use crate::transport::Outgoing;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One phase of a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub phase: PhaseId,
    /// The element of the phase's sweep this step runs (a local sweep plans each element).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<u32>,
    #[serde(flatten)]
    pub planned: Planned,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Planned {
    /// A process on this machine.
    Local {
        engine: &'static str,
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: PathBuf,
        output: PathBuf,
    },
    /// Requests to an engine, in the order they would be sent.
    Remote {
        engine: &'static str,
        /// The engine and how it is reached, as `describe()` says it.
        to: String,
        requests: Vec<Sent>,
    },
    /// What stops the phase before anything is sent.
    Error { error: String },
}

/// A request and the scripts it carries (shown once, in full).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sent {
    #[serde(flatten)]
    pub request: Outgoing,
    /// The shell script the request runs on the head node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// The batch script that script submits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_script: Option<String>,
}

impl From<Outgoing> for Sent {
    fn from(request: Outgoing) -> Sent {
        Sent {
            request,
            script: None,
            batch_script: None,
        }
    }
}

impl Step {
    /// A local process as a dry run shows it (of the phase, or of one element of its sweep).
    pub fn local(
        phase: PhaseId,
        element: Option<u32>,
        spec: &super::runner::ProcessSpec,
        output: PathBuf,
    ) -> Step {
        let mut argv = vec![spec.program.clone()];
        argv.extend(spec.args.iter().cloned());
        Step {
            phase,
            element,
            planned: Planned::Local {
                engine: "local",
                argv,
                env: spec.env.clone(),
                cwd: spec.cwd.clone(),
                output,
            },
        }
    }

    pub fn failed(phase: PhaseId, error: String) -> Step {
        Step {
            phase,
            element: None,
            planned: Planned::Error { error },
        }
    }
    pub fn error(&self) -> Option<&str> {
        match &self.planned {
            Planned::Error { error } => Some(error),
            _ => None,
        }
    }
}

/// What running `run` would send, phase by phase, until a phase could not be planned.
pub async fn plan(
    ws: &Workspace,
    project: Arc<Project>,
    store: Arc<dyn ObjectStore>,
    run: Run,
) -> Vec<Step> {
    let (events, _rx) = mpsc::channel(1);
    let order: Vec<PhaseId> = run.phases.iter().map(|p| p.phase).collect();
    let mut ex = Exec {
        ws,
        project: &project,
        store,
        events: &events,
        run,
        owner: super::journal::Owner::me(),
        conns: Default::default(),
        dry: Some(Vec::new()),
    };
    let never = CancellationToken::new();
    for phase in order {
        if ex.run_phase(phase, &never).await != RunState::Succeeded {
            break;
        }
    }
    ex.dry.take().unwrap_or_default()
}
