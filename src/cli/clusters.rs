//! `tandem clusters`: SageMaker HyperPod clusters (ListClusters, DescribeCluster,
//! ListClusterNodes): instance groups, nodes and the SSM target of each node; with `--use-for
//! TARGET --node ID`, an ssm target of the project pointed at that node (tandem.toml edited in
//! place, comments kept).

use super::{print_json, Failure, Global};
use crate::cluster::{self, hyperpod};
use crate::observe::sanitize;
use crate::project;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ClustersArgs {
    /// Only clusters whose name contains this.
    #[arg(long)]
    name_contains: Option<String>,
    /// Set this target's `instance_id` to the node given with --node.
    #[arg(long, requires = "node")]
    use_for: Option<String>,
    /// A node's instance id or SSM target (or an EC2 instance id for a ParallelCluster head node).
    #[arg(long, requires = "use_for")]
    node: Option<String>,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl ClustersArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let (json, project) = (self.json, self.project.as_deref());
        let pick = self.use_for.zip(self.node);
        let name_contains = self.name_contains;
        let opts = cluster::DiscoverOpts {
            aws: g.aws(),
            name_contains,
            ..Default::default()
        };
        let client = hyperpod::client(&opts.aws).await;
        let found = cluster::discover(&client, &opts)
            .await
            .map_err(|e| Failure::failed(e.message))?;
        if let Some((target, node)) = pick {
            let ssm = found
            .clusters
            .iter()
            .flat_map(|c| &c.nodes)
            .find(|n| n.instance_id == node || n.ssm_target == node)
            .map(|n| n.ssm_target.clone())
            .or_else(|| node.starts_with("i-").then(|| node.clone()))
            .ok_or_else(|| {
                let n: usize = found.clusters.iter().map(|c| c.nodes.len()).sum();
                Failure::bad(format!(
                    "no node `{node}` in the {} cluster(s) found ({n} nodes); give an instance id, a node's SSM target, or an EC2 instance id (i-…)",
                    found.clusters.len()
                ))
            })?;
            let file = project::locate(project);
            crate::project::edit::set_head_node(&file, &target, &ssm)
                .map_err(|e| Failure::bad(e.to_string()))?;
            if json {
                print_json(
                    &serde_json::json!({"target": target, "instance_id": ssm, "file": file}),
                );
            } else {
                println!(
                    "{}: target {target} now reaches {}",
                    file.display(),
                    sanitize(&ssm)
                );
            }
            return Ok(());
        }
        if json {
            print_json(&found);
            return Ok(());
        }
        if found.clusters.is_empty() {
            println!("no HyperPod clusters ({} AWS calls)", found.api_calls);
        }
        for c in &found.clusters {
            println!(
                "{}  {}  {}  id {}  created {}",
                sanitize(&c.name),
                sanitize(&c.status),
                c.orchestrator.as_deref().unwrap_or("-"),
                sanitize(&c.id),
                c.created.as_deref().unwrap_or("-")
            );
            if let Some(e) = c.error.as_ref().or(c.failure.as_ref()) {
                println!("  ! {}", sanitize(e));
            }
            for gr in &c.groups {
                println!(
                    "  group {:<20} {:<16} {}/{} nodes{}",
                    sanitize(&gr.name),
                    sanitize(&gr.instance_type),
                    gr.current,
                    gr.target,
                    gr.threads_per_core
                        .map(|t| format!(", {t} thread(s) per core"))
                        .unwrap_or_default()
                );
            }
            for n in &c.nodes {
                println!(
                    "  node  {:<20} {:<16} {:<10} {}",
                    sanitize(&n.instance_id),
                    sanitize(&n.group),
                    sanitize(&n.status),
                    sanitize(&n.ssm_target)
                );
            }
        }
        Ok(())
    }
}
