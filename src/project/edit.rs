//! Edit tandem.toml in place from the app (a head node picked, a metric added): toml_edit keeps
//! the file's comments and layout, the new text must load before it replaces the old one (written
//! to a temporary file beside it and renamed), and the project as it now loads is returned.

use crate::project::MetricQuery;
use crate::project::{self, Project, ProjectError};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
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

impl EditError {
    /// The edit's task ended before it finished (the runtime is shutting down).
    pub fn interrupted(file: &Path, e: impl std::fmt::Display) -> EditError {
        EditError::Io {
            file: file.display().to_string(),
            msg: format!("the edit was interrupted: {e}"),
        }
    }
}

/// Read `file`, let `edit` change the document (it sees the project as it loads now), check the
/// result loads, and write it in place.
fn rewrite(
    file: &Path,
    edit: impl FnOnce(&mut toml_edit::DocumentMut, &Project) -> Result<(), EditError>,
) -> Result<Project, EditError> {
    let name = file.display().to_string();
    let io = |e: std::io::Error| EditError::Io {
        file: name.clone(),
        msg: e.to_string(),
    };
    let before = std::fs::read_to_string(file).map_err(io)?;
    let old = project::parse(file, &before)?;
    let mut doc: toml_edit::DocumentMut =
        before
            .parse()
            .map_err(|e: toml_edit::TomlError| EditError::Io {
                file: name.clone(),
                msg: e.to_string(),
            })?;
    edit(&mut doc, &old)?;
    let after = doc.to_string();
    // the new text must load before it replaces the old
    let new = project::parse(file, &after)?;
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let mut tmp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new("."))).map_err(io)?;
    std::io::Write::write_all(&mut tmp, after.as_bytes()).map_err(io)?;
    tmp.persist(file).map_err(|e| io(e.error))?;
    Ok(new)
}

fn no_target(file: &Path, p: &Project, target: &str) -> EditError {
    let mut known: Vec<_> = p.targets.keys().cloned().collect();
    known.sort();
    EditError::NoTarget {
        file: file.display().to_string(),
        target: target.into(),
        known: known.join(", "),
    }
}

/// Set `targets.TARGET.instance_id = SSM_TARGET` in `file`; returns the project as it now loads.
pub fn set_head_node(file: &Path, target: &str, ssm_target: &str) -> Result<Project, EditError> {
    rewrite(file, |doc, old| {
        let t = old
            .targets
            .get(target)
            .ok_or_else(|| no_target(file, old, target))?;
        if t.ssm_instance().is_none() {
            return Err(EditError::NotSsm {
                file: file.display().to_string(),
                target: target.into(),
                transport: t.transport_name().into(),
            });
        }
        doc["targets"][target]["instance_id"] = toml_edit::value(ssm_target);
        Ok(())
    })
}

/// Add metric queries to `targets.TARGET.metrics` in `file` (as `[[targets.TARGET.metrics]]`
/// tables, or inline tables when the target is an inline table). Queries the target already has
/// are skipped. When the file names no metrics yet but the target charts defaults (its EC2 head
/// node's), those are written first, so adding one does not take the others away. Returns the
/// project as it now loads and how many queries were written.
pub fn add_metrics(
    file: &Path,
    target: &str,
    queries: &[MetricQuery],
) -> Result<(Project, usize), EditError> {
    let mut added = 0;
    let p = rewrite(file, |doc, old| {
        let t = old
            .targets
            .get(target)
            .ok_or_else(|| no_target(file, old, target))?;
        let same = |a: &MetricQuery, b: &MetricQuery| {
            a.namespace == b.namespace && a.name == b.name && a.dimensions == b.dimensions
        };
        let inline = doc["targets"][target].is_inline_table();
        let entry = doc["targets"][target]
            .as_table_like_mut()
            .ok_or_else(|| EditError::Io {
                file: file.display().to_string(),
                msg: format!("targets.{target} is not a table"),
            })?;
        let named = entry.get("metrics").is_some();
        let fsx = entry
            .get("fsx_id")
            .and_then(|v| v.as_str())
            .map(crate::project::fsx_queries)
            .unwrap_or_default();
        let mut write: Vec<&MetricQuery> = Vec::new();
        if !named {
            // the defaults in use (not the FSx ones, which `fsx_id` keeps adding)
            write.extend(
                t.cloudwatch
                    .metrics
                    .iter()
                    .filter(|m| !fsx.iter().any(|f| same(f, m))),
            );
        }
        for q in queries {
            let known = t.cloudwatch.metrics.iter().any(|m| same(m, q)) && named;
            if !known && !write.iter().any(|m| same(m, q)) {
                write.push(q);
                added += 1;
            }
        }
        let table = |q: &MetricQuery| {
            let mut m = toml_edit::Table::new();
            m["namespace"] = toml_edit::value(&q.namespace);
            m["name"] = toml_edit::value(&q.name);
            if q.label != q.name {
                m["label"] = toml_edit::value(&q.label);
            }
            if !q.dimensions.is_empty() {
                let mut d = toml_edit::InlineTable::new();
                for (k, v) in &q.dimensions {
                    d.insert(k, v.as_str().into());
                }
                m["dimensions"] = toml_edit::value(d);
            }
            m["stat"] = toml_edit::value(&q.stat);
            m
        };
        let item = entry.entry("metrics").or_insert(if inline {
            toml_edit::value(toml_edit::Array::new())
        } else {
            toml_edit::Item::ArrayOfTables(Default::default())
        });
        match item {
            toml_edit::Item::ArrayOfTables(a) => {
                for q in write {
                    a.push(table(q));
                }
            }
            toml_edit::Item::Value(toml_edit::Value::Array(a)) => {
                for q in write {
                    a.push(table(q).into_inline_table());
                }
            }
            _ => {
                return Err(EditError::Io {
                    file: file.display().to_string(),
                    msg: format!("targets.{target}.metrics is not a list of tables"),
                })
            }
        }
        Ok(())
    })?;
    Ok((p, added))
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
        assert_eq!(p.ssm_targets(), vec!["pc".to_string()]);
        let e = set_head_node(&f, "box", "x").unwrap_err().to_string();
        assert!(e.contains("transport `ssh`"), "{e}");
        let e = set_head_node(&f, "nope", "x").unwrap_err().to_string();
        assert!(
            e.contains("no target `nope`") && e.contains("box, local, pc"),
            "{e}"
        );
    }

    #[test]
    fn adds_metrics_keeping_the_defaults_and_skipping_known_ones() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("tandem.toml");
        std::fs::write(&f, TOML).unwrap();
        let q = MetricQuery {
            label: "residual".into(),
            namespace: "Solver".into(),
            name: "Residual".into(),
            dimensions: vec![("Run".into(), "r1".into())],
            stat: "Maximum".into(),
        };
        let before = crate::project::parse(&f, TOML).unwrap();
        let defaults = before.targets["pc"].cloudwatch.metrics.clone();
        assert_eq!(defaults.len(), 6, "the EC2 head node's defaults");
        let (p, n) = add_metrics(&f, "pc", std::slice::from_ref(&q)).unwrap();
        assert_eq!(n, 1);
        let m = &p.targets["pc"].cloudwatch.metrics;
        assert_eq!(m.len(), 7, "the defaults were written too: {m:?}");
        assert_eq!(m[..6], defaults[..]);
        assert_eq!(m[6], q);
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.contains("# the head node"), "{text}");
        assert!(text.contains("[[targets.pc.metrics]]"), "{text}");
        // again: nothing new
        let (p, n) = add_metrics(&f, "pc", std::slice::from_ref(&q)).unwrap();
        assert_eq!((n, p.targets["pc"].cloudwatch.metrics.len()), (0, 7));
        // an inline target gets inline tables
        let il = "[project]\nname = \"t\"\n[storage]\nroot = \"lake\"\n[phases.preprocess]\nengine = \"ray\"\noutput = \"o/{run}/p\"\nlocal = { command = [\"true\"] }\n[phases.solve]\nengine = \"slurm\"\ninputs = [\"handoff\"]\noutput = \"o/{run}/s\"\nlocal = { command = [\"true\"] }\n[handoff]\nfrom = \"preprocess\"\nto = \"solve\"\n[targets]\nbox = { kind = \"slurm\", transport = \"ssh\", host = \"h\" }\n";
        std::fs::write(&f, il).unwrap();
        let (p, n) = add_metrics(&f, "box", std::slice::from_ref(&q)).unwrap();
        assert_eq!((n, p.targets["box"].cloudwatch.metrics.len()), (1, 1));
        let e = add_metrics(&f, "nope", &[q]).unwrap_err().to_string();
        assert!(e.contains("no target `nope`"), "{e}");
    }
}
