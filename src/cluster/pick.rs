//! Point a target at a head node: set `instance_id` of an SSM target in tandem.toml, keeping the
//! file's comments and layout (toml_edit), and keep the old file when the new one would not load.

use crate::project::{self, Project, ProjectError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("{0}")]
    Project(#[from] ProjectError),
    #[error("{file}: no target `{target}` (targets: {known})")]
    NoTarget {
        file: String,
        target: String,
        known: String,
    },
    #[error("{file}: target `{target}` uses transport `{transport}`; only an ssm target takes a node (set `transport = \"ssm\"`)")]
    NotSsm {
        file: String,
        target: String,
        transport: String,
    },
    #[error("{file}: {msg}")]
    Io { file: String, msg: String },
}

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

/// Set `targets.TARGET.instance_id = SSM_TARGET` in `file`; returns the project as it now loads.
pub fn set_head_node(file: &Path, target: &str, ssm_target: &str) -> Result<Project, PickError> {
    let name = file.display().to_string();
    let io = |e: std::io::Error| PickError::Io {
        file: name.clone(),
        msg: e.to_string(),
    };
    let before = std::fs::read_to_string(file).map_err(io)?;
    let old = project::parse(file, &before)?;
    let Some(t) = old.targets.get(target) else {
        let mut known: Vec<_> = old.targets.keys().cloned().collect();
        known.sort();
        return Err(PickError::NoTarget {
            file: name,
            target: target.into(),
            known: known.join(", "),
        });
    };
    if t.ssm_instance().is_none() {
        return Err(PickError::NotSsm {
            file: name,
            target: target.into(),
            transport: t.transport_name().into(),
        });
    }
    let mut doc: toml_edit::DocumentMut =
        before
            .parse()
            .map_err(|e: toml_edit::TomlError| PickError::Io {
                file: name.clone(),
                msg: e.to_string(),
            })?;
    doc["targets"][target]["instance_id"] = toml_edit::value(ssm_target);
    let after = doc.to_string();
    // the new text must load before it replaces the old
    let new = project::parse(file, &after)?;
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(io)?;
    std::io::Write::write_all(&mut tmp, after.as_bytes()).map_err(io)?;
    tmp.persist(file).map_err(|e| io(e.error))?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"# a comment that must survive
[project]
name = "t"

[storage]
root = "lake"

[phases.preprocess]
engine = "ray"
output = "out/{run}/pre"
local = { command = ["true"] }

[phases.solve]
engine = "slurm"
inputs = ["handoff"]
output = "out/{run}/solve"
local = { command = ["true"] }

[handoff]
from = "preprocess"
to = "solve"

[targets.pc]   # the head node
kind = "slurm"
transport = "ssm"
instance_id = "i-0123456789abcdef0"  # old
region = "us-east-1"

[targets.box]
kind = "slurm"
transport = "ssh"
host = "h"
"#;

    #[test]
    fn sets_the_instance_and_keeps_comments() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tandem.toml");
        std::fs::write(&f, TOML).unwrap();
        let p = set_head_node(&f, "pc", "sagemaker-cluster:abc_ctrl-i-1").unwrap();
        assert_eq!(
            p.targets["pc"].ssm_instance(),
            Some("sagemaker-cluster:abc_ctrl-i-1")
        );
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("# a comment that must survive"));
        assert!(text.contains("# the head node"));
        assert!(text.contains("region = \"us-east-1\""));
        assert_eq!(ssm_targets(&p), vec!["pc".to_string()]);
        let e = set_head_node(&f, "box", "x").unwrap_err().to_string();
        assert!(e.contains("transport `ssh`"), "{e}");
        let e = set_head_node(&f, "nope", "x").unwrap_err().to_string();
        assert!(
            e.contains("no target `nope`") && e.contains("box, local, pc"),
            "{e}"
        );
    }
}
