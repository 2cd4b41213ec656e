//! A target's engines, ready to use: its transport connected, its Slurm settings, its Ray Jobs
//! client. The one place a target is found and connected, for the executor, the TUI's backend
//! and the headless commands alike. Connections are kept (keyed by the target's settings, so a
//! target pointed at another head node connects anew): an SSH master connection then serves every
//! later call.

use super::ray::{Ray, RayError, Reach};
use super::slurm::Slurm;
use crate::project::{Project, SlurmTarget};
use crate::transport::{Transport, TransportError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("unknown target `{target}` (known: {known})")]
    UnknownTarget { target: String, known: String },
    #[error("target `{0}` is not a Slurm target")]
    NotSlurm(String),
    #[error("target {0} has no Ray dashboard: set `ray_dashboard` on it in tandem.toml")]
    NoRay(String),
    #[error("ray_reach = \"transport\" needs a target with a transport (target {0})")]
    RayNeedsTransport(String),
    #[error("{0}")]
    Transport(String),
    #[error(transparent)]
    Ray(#[from] RayError),
}

impl From<TransportError> for EngineError {
    fn from(e: TransportError) -> Self {
        EngineError::Transport(e.to_string())
    }
}

/// A Slurm target's cluster: its connected transport and its settings.
#[derive(Debug, Clone)]
pub struct SlurmCluster {
    pub transport: Arc<dyn Transport>,
    pub target: SlurmTarget,
}

impl SlurmCluster {
    /// The Slurm commands over this cluster's transport.
    pub fn slurm(&self) -> Slurm<'_> {
        Slurm::new(&*self.transport, &self.target.slurm)
    }
}

/// Connections made so far, by target and settings.
#[derive(Debug, Default, Clone)]
pub struct Connections {
    transports: Arc<Mutex<HashMap<String, Arc<dyn Transport>>>>,
    rays: Arc<Mutex<HashMap<String, Arc<Ray>>>>,
}

impl Connections {
    /// The Slurm side of `target`: its transport (connected once) and its settings.
    pub async fn slurm(&self, p: &Project, target: &str) -> Result<SlurmCluster, EngineError> {
        let st = match p.targets.get(target) {
            None => return Err(unknown(p, target)),
            Some(_) => p
                .slurm_target(target)
                .ok_or_else(|| EngineError::NotSlurm(target.into()))?,
        };
        Ok(SlurmCluster {
            transport: self.transport_of(target, st).await?,
            target: st.clone(),
        })
    }

    async fn transport_of(
        &self,
        target: &str,
        st: &SlurmTarget,
    ) -> Result<Arc<dyn Transport>, EngineError> {
        // keyed by the transport's settings too: a target pointed at another node connects anew
        let key = format!("{target}\u{0}{:?}", st.transport);
        let mut c = self.transports.lock().await;
        if let Some(t) = c.get(&key) {
            return Ok(t.clone());
        }
        let t = crate::transport::connect(&st.transport).await?;
        c.insert(key, t.clone());
        Ok(t)
    }

    /// The Ray Jobs client of `target`: direct, or through the target's transport
    /// (`ray_reach = "transport"`, which needs a target with one).
    pub async fn ray(&self, p: &Project, target: &str) -> Result<Arc<Ray>, EngineError> {
        let t = p.targets.get(target).ok_or_else(|| unknown(p, target))?;
        let rc = t
            .ray
            .clone()
            .ok_or_else(|| EngineError::NoRay(target.into()))?;
        let key = format!("{target}\u{0}{t:?}");
        if let Some(r) = self.rays.lock().await.get(&key) {
            return Ok(r.clone());
        }
        let ray = Arc::new(match rc.reach {
            Reach::Direct => Ray::direct(rc),
            Reach::Transport => {
                let st = p
                    .slurm_target(target)
                    .ok_or_else(|| EngineError::RayNeedsTransport(target.into()))?;
                Ray::via(rc, self.transport_of(target, st).await?)
            }
        });
        self.rays.lock().await.insert(key, ray.clone());
        Ok(ray)
    }
}

fn unknown(p: &Project, target: &str) -> EngineError {
    EngineError::UnknownTarget {
        target: target.into(),
        known: p.targets.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}
