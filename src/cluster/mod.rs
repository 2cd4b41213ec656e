//! Clusters as AWS knows them: discovery of SageMaker HyperPod clusters (their instance groups and
//! nodes, and the SSM target that reaches each node). Pointing a project's target at a node is a
//! project edit (`project::edit::set_head_node`).

pub mod hyperpod;

pub use hyperpod::{discover, ssm_target, Cluster, DiscoverOpts, Discovery, InstanceGroup, Node};
