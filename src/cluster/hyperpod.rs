//! SageMaker HyperPod discovery with aws-sdk-sagemaker: ListClusters, then for each cluster
//! DescribeCluster (instance groups) and ListClusterNodes (every node), all paged. Clusters are
//! described a few at a time; a cluster that cannot be described keeps its summary and says why.
//!
//! Each node's SSM target is `sagemaker-cluster:<cluster-id>_<instance-group>-<instance-id>`, where
//! the cluster id is the last segment of the cluster's ARN: that is what `aws ssm start-session
//! --target` and SendCommand take for a HyperPod node.

use crate::aws::{explain, AwsOpts, FailureKind};
use aws_sdk_sagemaker::Client;
use futures::StreamExt;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Cluster {
    pub name: String,
    pub arn: String,
    /// The last segment of the ARN (what SSM targets use).
    pub id: String,
    pub status: String,
    /// RFC 3339.
    pub created: Option<String>,
    /// `slurm` or `eks` (when DescribeCluster says).
    pub orchestrator: Option<String>,
    pub failure: Option<String>,
    pub groups: Vec<InstanceGroup>,
    pub nodes: Vec<Node>,
    /// Why the groups or nodes are missing, when DescribeCluster or ListClusterNodes failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct InstanceGroup {
    pub name: String,
    pub instance_type: String,
    pub current: i32,
    pub target: i32,
    pub threads_per_core: Option<i32>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Node {
    pub instance_id: String,
    pub group: String,
    pub instance_type: String,
    pub status: String,
    pub message: Option<String>,
    pub launch_time: Option<String>,
    pub ssm_target: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Discovery {
    pub clusters: Vec<Cluster>,
    /// AWS requests made.
    pub api_calls: u64,
}

#[derive(Debug, Clone)]
pub struct DiscoverOpts {
    pub aws: AwsOpts,
    /// Only clusters whose name contains this.
    pub name_contains: Option<String>,
    /// Clusters per ListClusters page (the API allows up to 100).
    pub page_size: i32,
    /// Nodes per ListClusterNodes page (up to 100).
    pub node_page_size: i32,
    /// Clusters described at once.
    pub concurrency: usize,
}

impl Default for DiscoverOpts {
    fn default() -> Self {
        DiscoverOpts {
            aws: AwsOpts::default(),
            name_contains: None,
            page_size: 100,
            node_page_size: 100,
            concurrency: 4,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{message}")]
pub struct DiscoverError {
    pub kind: FailureKind,
    pub message: String,
}

/// The SSM target of a HyperPod node.
pub fn ssm_target(cluster_id: &str, group: &str, instance_id: &str) -> String {
    format!("sagemaker-cluster:{cluster_id}_{group}-{instance_id}")
}

/// The cluster id in a HyperPod cluster ARN (`arn:aws:sagemaker:REGION:ACCOUNT:cluster/ID`).
pub fn cluster_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// A client for `opts` (the SDK reads AWS_ENDPOINT_URL_SAGEMAKER / AWS_ENDPOINT_URL by itself).
pub async fn client(opts: &AwsOpts) -> Client {
    Client::new(&crate::aws::sdk_config(opts).await)
}

/// Every HyperPod cluster the credentials can see, with groups and nodes.
pub async fn discover(client: &Client, opts: &DiscoverOpts) -> Result<Discovery, DiscoverError> {
    let mut calls = 0u64;
    let mut clusters = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        calls += 1;
        let out = client
            .list_clusters()
            .max_results(opts.page_size)
            .set_name_contains(opts.name_contains.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                let (kind, message) = explain("ListClusters", &e);
                DiscoverError { kind, message }
            })?;
        for s in out.cluster_summaries() {
            let arn = s.cluster_arn().unwrap_or_default().to_string();
            clusters.push(Cluster {
                name: s.cluster_name().unwrap_or_default().to_string(),
                id: cluster_id(&arn).to_string(),
                arn,
                status: s
                    .cluster_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                created: time(s.creation_time()),
                ..Cluster::default()
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => {
                if !seen.insert(t.to_string()) {
                    return Err(DiscoverError {
                        kind: FailureKind::Service,
                        message: format!("ListClusters: the service answered page token {t} twice (a paging loop); stopped after {} clusters", clusters.len()),
                    });
                }
                token = Some(t.to_string())
            }
            _ => break,
        }
    }
    let described: Vec<(Cluster, u64)> = futures::stream::iter(clusters)
        .map(|c| describe(client, c, opts.node_page_size))
        .buffered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut out = Discovery::default();
    for (c, n) in described {
        out.clusters.push(c);
        calls += n;
    }
    out.api_calls = calls;
    Ok(out)
}

/// Fill in one cluster's groups and nodes; returns it with the number of requests made.
async fn describe(client: &Client, mut c: Cluster, page_size: i32) -> (Cluster, u64) {
    let mut calls = 1;
    match client.describe_cluster().cluster_name(&c.arn).send().await {
        Ok(d) => {
            c.failure = d
                .failure_message()
                .filter(|m| !m.is_empty())
                .map(String::from);
            c.orchestrator = d.orchestrator().map(|o| {
                if o.eks().is_some() {
                    "eks".to_string()
                } else {
                    "slurm".to_string()
                }
            });
            c.groups = d
                .instance_groups()
                .iter()
                .map(|g| InstanceGroup {
                    name: g.instance_group_name().unwrap_or_default().to_string(),
                    instance_type: g
                        .instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    current: g.current_count().unwrap_or(0),
                    target: g.target_count().unwrap_or(0),
                    threads_per_core: g.threads_per_core(),
                    status: g.status().map(|s| s.as_str().to_string()),
                })
                .collect();
        }
        Err(e) => {
            c.error = Some(explain(&format!("DescribeCluster {}", c.name), &e).1);
            return (c, calls);
        }
    }
    let mut token: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        calls += 1;
        let page = match client
            .list_cluster_nodes()
            .cluster_name(&c.arn)
            .max_results(page_size)
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                c.error = Some(explain(&format!("ListClusterNodes {}", c.name), &e).1);
                break;
            }
        };
        for n in page.cluster_node_summaries() {
            let group = n.instance_group_name().unwrap_or_default().to_string();
            let id = n.instance_id().unwrap_or_default().to_string();
            c.nodes.push(Node {
                ssm_target: ssm_target(&c.id, &group, &id),
                instance_id: id,
                group,
                instance_type: n
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                status: n
                    .instance_status()
                    .and_then(|s| s.status())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                message: n
                    .instance_status()
                    .and_then(|s| s.message())
                    .filter(|m| !m.is_empty())
                    .map(String::from),
                launch_time: time(n.launch_time()),
            });
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => {
                // a server that hands out the same token again would page forever
                if !seen.insert(t.to_string()) {
                    c.error = Some(format!(
                        "ListClusterNodes {}: the service answered page token {t} twice (a paging loop); showing the first {} nodes",
                        c.name,
                        c.nodes.len()
                    ));
                    break;
                }
                token = Some(t.to_string())
            }
            _ => break,
        }
    }
    (c, calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssm_targets_follow_hyperpods_form() {
        let arn = "arn:aws:sagemaker:us-east-1:123456789012:cluster/a1b2c3d4e5f6";
        assert_eq!(cluster_id(arn), "a1b2c3d4e5f6");
        assert_eq!(
            ssm_target(cluster_id(arn), "controller", "i-0abc"),
            "sagemaker-cluster:a1b2c3d4e5f6_controller-i-0abc"
        );
    }
}
