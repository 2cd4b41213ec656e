//! Pick a cluster node for a target (the file edit itself is `project::edit::set_head_node`).

use crate::project::Project;

pub use crate::project::edit::{set_head_node, EditError as PickError};

/// The targets of `p` that a node can be picked for (Slurm targets over SSM), by name.
pub fn ssm_targets(p: &Project) -> Vec<String> {
    let mut v: Vec<String> = p
        .targets
        .iter()
        .filter(|(_, t)| t.ssm_instance().is_some())
        .map(|(n, _)| n.clone())
        .collect();
    v.sort();
    v
}
