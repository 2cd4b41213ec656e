//! Clusters as AWS knows them: discovery of SageMaker HyperPod clusters (their instance groups and
//! nodes, and the SSM target that reaches each node), and pointing a project's target at a node.

pub mod hyperpod;
pub mod pick;

pub use hyperpod::{discover, ssm_target, Cluster, DiscoverOpts, Discovery, InstanceGroup, Node};
