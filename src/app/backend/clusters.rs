//! The Clusters view: HyperPod discovery (one SageMaker client, made on first use), a target's Ray
//! cluster (its client kept per target and settings), and a target pointed at a node (tandem.toml
//! edited off the UI task).

use super::{Backend, Msg};
use std::sync::Arc;

#[derive(Default)]
pub(super) struct Clusters {
    sagemaker: Arc<tokio::sync::OnceCell<aws_sdk_sagemaker::Client>>,
}

impl Backend {
    pub(super) fn load_clusters(&mut self) {
        let (tx, cell, aws) = (
            self.tx.clone(),
            self.clusters.sagemaker.clone(),
            self.aws.clone(),
        );
        tokio::spawn(async move {
            let opts = crate::cluster::DiscoverOpts {
                aws,
                ..Default::default()
            };
            let client = cell
                .get_or_init(|| crate::cluster::hyperpod::client(&opts.aws))
                .await;
            let r = crate::cluster::discover(client, &opts).await;
            let _ = tx.send(Msg::ClustersLoaded(r)).await;
        });
    }

    pub(super) fn load_ray(&mut self, target: String) {
        let (Some(p), tx, conns) = (self.project.get(), self.tx.clone(), self.conns.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let msg = match conns.ray(&p, &target).await {
                Ok(r) => {
                    let before = r.requests();
                    let result = r.cluster().await.map_err(Into::into);
                    Msg::RayLoaded {
                        result,
                        requests: r.requests() - before,
                    }
                }
                Err(e) => Msg::RayLoaded {
                    result: Err(e),
                    requests: 0,
                },
            };
            let _ = tx.send(msg).await;
        });
    }

    /// Set a target's instance_id in tandem.toml (comments kept), off the UI task.
    pub(super) fn use_node(&mut self, target: String, ssm: String) {
        let Some(p) = self.project.get() else {
            return self.send(Msg::Error("no valid project loaded".into()));
        };
        let (cell, tx) = (self.project.clone(), self.tx.clone());
        tokio::spawn(async move {
            let (file, t, n) = (p.file.clone(), target.clone(), ssm.clone());
            let r = tokio::task::spawn_blocking(move || {
                crate::project::edit::set_head_node(&file, &t, &n)
            })
            .await
            .unwrap_or_else(|e| Err(crate::project::edit::EditError::interrupted(&p.file, e)));
            let msg = match r {
                Ok(newp) => {
                    cell.set(newp.clone());
                    Msg::HeadPicked {
                        result: Ok((target, ssm)),
                        project: Some(Box::new(newp)),
                    }
                }
                Err(e) => Msg::HeadPicked {
                    result: Err(e),
                    project: None,
                },
            };
            let _ = tx.send(msg).await;
        });
    }
}
