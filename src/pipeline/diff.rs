//! Two runs compared, from the journal alone (`tandem runs diff A B`, `=` in the Runs view): the
//! project file's keys that changed, where and how each phase ran, how long, how it ended, its
//! retries, its sweep's elements side by side by their parameters, and the inputs that differ by
//! content (ETag, size). The last value of each series column, which needs the runs' files, is
//! put beside by the caller (`plot::load::last_values`).

use super::journal::Journal;
use super::manifest::Manifest;
use super::run::{PhaseRun, Run};
use crate::project::PhaseId;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub a: String,
    pub b: String,
    /// The project file's keys that differ (dotted, with their values as TOML), or why they
    /// cannot be compared.
    pub project: ProjectDiff,
    /// Of the runs as a whole: project, target, tandem version, state, duration.
    pub runs: Vec<Field>,
    pub phases: Vec<PhaseDiff>,
    /// The last value of each plotted series column, where the caller read them.
    pub series: Vec<SeriesLast>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "is", rename_all = "snake_case")]
pub enum ProjectDiff {
    /// The same file (same hash).
    Same,
    Changed {
        keys: Vec<KeyChange>,
    },
    /// The text of one of them was not kept (a run from before the journal kept it).
    NotKept {
        hash: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyChange {
    pub key: String,
    /// The value in A's file (None: not there).
    pub a: Option<String>,
    pub b: Option<String>,
}

/// One thing of both runs, as a person reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    pub name: String,
    pub a: String,
    pub b: String,
}

impl Field {
    fn new(name: &str, a: impl Into<String>, b: impl Into<String>) -> Field {
        Field {
            name: name.into(),
            a: a.into(),
            b: b.into(),
        }
    }
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseDiff {
    pub phase: PhaseId,
    /// Placement, engine id, state, exit code, duration, retries (absent: `-`).
    pub fields: Vec<Field>,
    pub inputs: InputsDiff,
    /// A sweep's elements, matched by their parameters.
    pub elements: Vec<ElementDiff>,
}

/// The objects two runs' phases read, matched by their key below the phase's input prefix.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InputsDiff {
    /// Read by both with the same ETag and size.
    pub same: usize,
    pub changed: Vec<InputChange>,
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
    /// Why the inputs were not compared (no manifest, a listing that was cut).
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputChange {
    pub key: String,
    pub a: String,
    pub b: String,
}

/// An element of one sweep or the other, by its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElementDiff {
    pub params: String,
    /// Its state and duration in A (None: A has no such element).
    pub a: Option<String>,
    pub b: Option<String>,
}

/// The last value of a series column in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesLast {
    pub plot: String,
    pub column: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("no run {0} in the journal")]
    NoRun(String),
    #[error("reading the journal: {0}")]
    Journal(#[from] std::io::Error),
}

/// Runs `a` and `b` compared from `journal`.
pub fn diff(journal: &Journal, a: &str, b: &str) -> Result<RunDiff, DiffError> {
    let ra = journal.get(a)?.ok_or_else(|| DiffError::NoRun(a.into()))?;
    let rb = journal.get(b)?.ok_or_else(|| DiffError::NoRun(b.into()))?;
    let project = if ra.project_hash == rb.project_hash {
        ProjectDiff::Same
    } else {
        match (
            journal.project_text(&ra.project_hash)?,
            journal.project_text(&rb.project_hash)?,
        ) {
            (Some(ta), Some(tb)) => ProjectDiff::Changed {
                keys: key_changes(&ta, &tb),
            },
            (None, _) => ProjectDiff::NotKept {
                hash: ra.project_hash.clone(),
            },
            (_, None) => ProjectDiff::NotKept {
                hash: rb.project_hash.clone(),
            },
        }
    };
    let now = chrono::Utc::now();
    let dur = |r: &Run| {
        r.duration(now)
            .map(crate::fmt::duration)
            .unwrap_or_else(|| "-".into())
    };
    let runs = vec![
        Field::new("project", &ra.project, &rb.project),
        Field::new("project file", &ra.project_hash, &rb.project_hash),
        Field::new("target", &ra.target, &rb.target),
        Field::new("tandem", &ra.tandem_version, &rb.tandem_version),
        Field::new("state", ra.state.as_str(), rb.state.as_str()),
        Field::new("duration", dur(&ra), dur(&rb)),
    ];
    let mut phases = Vec::new();
    for id in PhaseId::ALL {
        let (pa, pb) = (ra.phase(id), rb.phase(id));
        if pa.is_none() && pb.is_none() {
            continue;
        }
        let ma = journal.manifest(a, id)?;
        let mb = journal.manifest(b, id)?;
        phases.push(PhaseDiff {
            phase: id,
            fields: phase_fields(pa, pb, now),
            inputs: inputs_diff(ma.as_ref(), mb.as_ref()),
            elements: element_diff(pa, pb, now),
        });
    }
    Ok(RunDiff {
        a: a.into(),
        b: b.into(),
        project,
        runs,
        phases,
        series: Vec::new(),
    })
}

fn phase_fields(
    a: Option<&PhaseRun>,
    b: Option<&PhaseRun>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Field> {
    type Get = fn(&PhaseRun, chrono::DateTime<chrono::Utc>) -> Option<String>;
    let rows: [(&str, Get); 6] = [
        ("placement", |p, _| Some(p.placement.label())),
        ("engine id", |p, _| p.engine_id.clone()),
        ("state", |p, _| Some(p.state.to_string())),
        ("exit code", |p, _| p.exit_code.map(|c| c.to_string())),
        ("duration", |p, now| {
            p.duration(now).map(crate::fmt::duration)
        }),
        ("retries", |p, _| {
            (!p.attempts.is_empty()).then(|| {
                p.attempts
                    .iter()
                    .map(|x| x.reason.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        }),
    ];
    let show = |p: Option<&PhaseRun>, f: Get| {
        p.and_then(|p| f(p, now))
            .map(|s| crate::observe::sanitize(&s).into_owned())
            .unwrap_or_else(|| "-".into())
    };
    rows.iter()
        .map(|(name, f)| Field::new(name, show(a, *f), show(b, *f)))
        .collect()
}

/// Inputs matched by their key below each run's input prefix (a run's handoff is under its own
/// run id): the same where ETag and size agree, never by time.
fn inputs_diff(a: Option<&Manifest>, b: Option<&Manifest>) -> InputsDiff {
    let (Some(a), Some(b)) = (a, b) else {
        return InputsDiff {
            note: Some("a phase that did not succeed has no manifest of its inputs".into()),
            ..Default::default()
        };
    };
    let rel = |m: &Manifest| -> HashMap<String, (u64, Option<String>)> {
        let prefix = m.input_prefix.as_deref().unwrap_or("");
        m.inputs
            .iter()
            .map(|o| {
                let k = o.key.strip_prefix(prefix).unwrap_or(&o.key).to_string();
                (k, (o.size, o.content().map(str::to_string)))
            })
            .collect()
    };
    let (ia, ib) = (rel(a), rel(b));
    let mut d = InputsDiff::default();
    let what = |(size, etag): &(u64, Option<String>)| {
        format!(
            "{} {}",
            crate::fmt::bytes(*size),
            etag.as_deref().unwrap_or("(no checksum)")
        )
    };
    let mut keys: Vec<&String> = ia.keys().chain(ib.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        match (ia.get(k), ib.get(k)) {
            (Some(x), Some(y)) if x == y && x.1.is_some() => d.same += 1,
            (Some(x), Some(y)) => d.changed.push(InputChange {
                key: crate::observe::sanitize(k).into_owned(),
                a: what(x),
                b: what(y),
            }),
            (Some(_), None) => d.only_a.push(crate::observe::sanitize(k).into_owned()),
            (None, Some(_)) => d.only_b.push(crate::observe::sanitize(k).into_owned()),
            (None, None) => {}
        }
    }
    if a.inputs_truncated || b.inputs_truncated {
        d.note = Some("a manifest lists only the first 10,000 inputs".into());
    }
    d
}

fn element_diff(
    a: Option<&PhaseRun>,
    b: Option<&PhaseRun>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<ElementDiff> {
    let of = |p: Option<&PhaseRun>| -> BTreeMap<String, String> {
        p.map(|p| {
            p.elements
                .iter()
                .map(|e| {
                    let d = e
                        .duration(now)
                        .map(|d| format!(" {}", crate::fmt::duration(d)))
                        .unwrap_or_default();
                    (e.label(), format!("{}{d}", e.state))
                })
                .collect()
        })
        .unwrap_or_default()
    };
    let (ea, eb) = (of(a), of(b));
    let mut keys: Vec<&String> = ea.keys().chain(eb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| ElementDiff {
            params: crate::observe::sanitize(k).into_owned(),
            a: ea.get(k).cloned(),
            b: eb.get(k).cloned(),
        })
        .collect()
}

/// The keys of two project files that differ: each leaf by its dotted path (array items by
/// index), its value as TOML.
pub fn key_changes(a: &str, b: &str) -> Vec<KeyChange> {
    let flat = |text: &str| -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Ok(v) = text.parse::<toml::Table>() {
            flatten("", &toml::Value::Table(v), &mut out);
        }
        out
    };
    let (fa, fb) = (flat(a), flat(b));
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| KeyChange {
            key: k.clone(),
            a: fa.get(k).cloned(),
            b: fb.get(k).cloned(),
        })
        .collect()
}

fn flatten(path: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, x, out);
            }
        }
        // arrays item by item: a command's one changed word, a plot's one changed key
        toml::Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), x, out);
            }
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_of_two_project_files() {
        let a = "[phases.solve]\noutput = \"x\"\nresources = { memory_gb = 4 }\ncommand = [\"a\", \"224\"]\n[[plots]]\nname = \"p\"\n";
        let b = "[phases.solve]\noutput = \"x\"\nresources = { memory_gb = 8, cpus = 2 }\ncommand = [\"a\", \"160\"]\n[[plots]]\nname = \"q\"\n";
        let c = key_changes(a, b);
        let keys: Vec<&str> = c.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "phases.solve.command[1]",
                "phases.solve.resources.cpus",
                "phases.solve.resources.memory_gb",
                "plots[0].name"
            ]
        );
        assert_eq!(c[0].b.as_deref(), Some("\"160\""));
        assert_eq!(c[1].a, None);
        assert_eq!(c[2].a.as_deref(), Some("4"));
        assert_eq!(c[3].b.as_deref(), Some("\"q\""));
    }
}
