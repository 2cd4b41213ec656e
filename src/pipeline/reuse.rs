//! Work not redone (`tandem run --reuse`): a phase whose section of the project file (with the
//! datasets it reads), tandem's version and inputs' content are all what an earlier succeeded
//! run of the project had, is not run again; the new run points at that run's outputs (and its
//! handoff with them). Content is the inputs' ETags or checksums, never their times. Where a
//! phase does run again, the reason is said: which key of its section, which input, or the
//! version changed.

use super::manifest::{InputObject, Manifest};
use super::run::RunState;
use super::Journal;
use crate::project::{PhaseId, Project};
use serde::{Deserialize, Serialize};

/// What a phase's outputs follow from, as its manifest keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The phase's section of the project file (and of the datasets it reads), as canonical
    /// TOML: what changed keys are named from.
    pub section: String,
    pub version: String,
    /// SHA-256 of the inputs' keys (below the input prefix), sizes and content.
    pub inputs: String,
    /// How many inputs that covers.
    pub input_count: usize,
}

impl Fingerprint {
    /// Of `phase` of `project`, reading `inputs` listed below `prefix`.
    pub fn of(
        project: &Project,
        phase: PhaseId,
        prefix: &str,
        inputs: &[InputObject],
    ) -> Fingerprint {
        let (keyed, count) = content(prefix, inputs);
        let mut text = String::new();
        for (k, size, c) in &keyed {
            text.push_str(&format!("{k}\t{size}\t{c}\n"));
        }
        Fingerprint {
            section: section(project, phase),
            version: env!("CARGO_PKG_VERSION").to_string(),
            inputs: crate::storage::checksum::Sum::of(
                crate::storage::checksum::Algo::Sha256,
                text.as_bytes(),
            )
            .value,
            input_count: count,
        }
    }
}

/// The inputs by key below `prefix`, with their size and content, sorted; tandem's own files
/// (its manifest, `_tandem/`) left out, and any input without an ETag or checksum marked so it
/// never matches.
fn content(prefix: &str, inputs: &[InputObject]) -> (Vec<(String, u64, String)>, usize) {
    let mut v: Vec<(String, u64, String)> = inputs
        .iter()
        .map(|o| {
            let k = o.key.strip_prefix(prefix).unwrap_or(&o.key).to_string();
            let c = o
                .content()
                .map(str::to_string)
                .unwrap_or_else(|| format!("(unknown {})", o.key));
            (k, o.size, c)
        })
        .filter(|(k, _, _)| !is_tandems(k))
        .collect();
    v.sort();
    let n = v.len();
    (v, n)
}

/// tandem's own files in a phase's output (they hold times and run ids, not the phase's data).
fn is_tandems(key: &str) -> bool {
    key == super::MANIFEST
        || key.ends_with(&format!("/{}", super::MANIFEST))
        || key.starts_with("_tandem/")
}

/// The phase's section of the project file and the sections of the datasets it reads, as
/// canonical TOML (keys sorted).
fn section(project: &Project, phase: PhaseId) -> String {
    let Ok(doc) = project.src.parse::<toml::Table>() else {
        return String::new();
    };
    let mut t = toml::Table::new();
    if let Some(s) = doc.get("phases").and_then(|p| p.get(phase.as_str())) {
        t.insert(format!("phases.{phase}"), s.clone());
    }
    for name in &project.phase(phase).inputs {
        if let Some(d) = doc.get("datasets").and_then(|d| d.get(name)) {
            t.insert(format!("datasets.{name}"), d.clone());
        }
    }
    toml::to_string(&t).unwrap_or_default()
}

/// Whether a phase is run or another run's outputs are used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "is", rename_all = "snake_case")]
pub enum Verdict {
    /// `run`'s outputs at `output` are what this phase would write.
    Reuse { run: String, output: String },
    /// It runs: why (what changed since the newest earlier run that succeeded).
    Run { why: String },
}

/// Whether `phase` with fingerprint `fp` can use an earlier run's outputs: the newest run of
/// the project (other than `this`) whose phase succeeded with the same fingerprint; else why it
/// runs, against the newest that succeeded.
pub fn decide(
    journal: &Journal,
    project: &Project,
    this: &str,
    phase: PhaseId,
    fp: &Fingerprint,
) -> std::io::Result<Verdict> {
    let mut newest: Option<Manifest> = None;
    for r in journal.load()?.runs {
        if r.id == this || r.project != project.name {
            continue;
        }
        let Some(p) = r.phase(phase).filter(|p| p.state == RunState::Succeeded) else {
            continue;
        };
        let Some(m) = journal.manifest(&r.id, phase)? else {
            continue;
        };
        if m.fingerprint.as_ref() == Some(fp) {
            return Ok(Verdict::Reuse {
                run: r.id.clone(),
                output: p.output.clone(),
            });
        }
        if newest.is_none() {
            newest = Some(m);
        }
    }
    Ok(Verdict::Run {
        why: match newest {
            None => format!("no earlier run of {phase} succeeded"),
            Some(m) => why_not(&m, fp),
        },
    })
}

/// What `--reuse` would do with each phase of a new run of `project`, before it starts: phase 1
/// from its datasets' content; phase 2 from the handoff phase 1 would leave (an earlier run's
/// outputs when phase 1 is reused; when phase 1 runs, its new outputs are not known yet, and
/// phase 2 runs on them).
pub async fn plan(
    journal: &Journal,
    project: &std::sync::Arc<Project>,
    store: std::sync::Arc<dyn crate::storage::ObjectStore>,
) -> Vec<(PhaseId, Verdict)> {
    let mut out: Vec<(PhaseId, Verdict)> = Vec::new();
    let mut handoff: Option<String> = None;
    for phase in PhaseId::ALL {
        let spec = project.phase(phase);
        let prefix = match spec.inputs.first().map(String::as_str) {
            Some("handoff") => match handoff.take() {
                Some(h) => Some(h),
                None => {
                    out.push((
                        phase,
                        Verdict::Run {
                            why: format!("it reads the new outputs of {}", project.handoff.from),
                        },
                    ));
                    continue;
                }
            },
            Some(ds) => project.datasets.get(ds).map(|d| {
                format!(
                    "{}/{}",
                    project.storage.bucket,
                    project.storage.key(&d.path)
                )
            }),
            None => Some(format!(
                "{}/{}",
                project.storage.bucket,
                project.storage.key("")
            )),
        };
        let prefix = prefix.unwrap_or_default();
        let (b, k) = crate::storage::split_location(&prefix);
        let inputs = super::manifest::list_inputs(store.clone(), b, k).await;
        let at = format!("{b}/{}/", k.trim_end_matches('/'));
        let fp = Fingerprint::of(project, phase, &at, &inputs);
        let (j, p) = (journal.clone(), project.clone());
        let v = tokio::task::spawn_blocking(move || decide(&j, &p, "", phase, &fp))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .unwrap_or_else(|e| Verdict::Run {
                why: format!("the journal could not be read ({e})"),
            });
        if let Verdict::Reuse { output, .. } = &v {
            handoff = Some(output.clone());
        }
        out.push((phase, v));
    }
    out
}

/// What differs from an earlier run's manifest: the keys of the section, the version, the first
/// inputs that changed.
fn why_not(m: &Manifest, fp: &Fingerprint) -> String {
    let Some(old) = &m.fingerprint else {
        return format!("run {} kept no fingerprint (an earlier tandem)", m.run);
    };
    let mut why = Vec::new();
    if old.section != fp.section {
        let keys = super::diff::key_changes(&old.section, &fp.section);
        let named: Vec<String> = keys
            .iter()
            .take(3)
            .map(|k| {
                format!(
                    "{} {} → {}",
                    k.key,
                    k.a.as_deref().unwrap_or("(none)"),
                    k.b.as_deref().unwrap_or("(none)")
                )
            })
            .collect();
        let more = keys.len().saturating_sub(3);
        why.push(format!(
            "{}{}",
            named.join("; "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        ));
    }
    if old.version != fp.version {
        why.push(format!("tandem {} → {}", old.version, fp.version));
    }
    if old.inputs != fp.inputs {
        if old.input_count != fp.input_count {
            why.push(format!(
                "inputs: {} objects then, {} now",
                old.input_count, fp.input_count
            ));
        } else {
            why.push(format!(
                "inputs: the content of some of the {} objects changed",
                fp.input_count
            ));
        }
    }
    if why.is_empty() {
        why.push("nothing changed, but that run's outputs were not found".into());
    }
    format!("since {}: {}", m.run, why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(key: &str, size: u64, etag: Option<&str>) -> InputObject {
        InputObject {
            key: key.into(),
            size,
            etag: etag.map(Into::into),
            checksum: None,
        }
    }

    #[test]
    fn the_same_content_under_another_prefix_is_the_same_input_and_times_never_count() {
        let p = crate::project::load(&crate::project::sample_project_path()).unwrap();
        let a = Fingerprint::of(
            &p,
            PhaseId::Solve,
            "lake/runs/r1/prepared/",
            &[
                obj("lake/runs/r1/prepared/boundary.csv", 10, Some("aa")),
                obj(
                    "lake/runs/r1/prepared/tandem-manifest.json",
                    900,
                    Some("t1"),
                ),
            ],
        );
        let b = Fingerprint::of(
            &p,
            PhaseId::Solve,
            "lake/runs/r2/prepared/",
            &[
                obj("lake/runs/r2/prepared/boundary.csv", 10, Some("aa")),
                obj(
                    "lake/runs/r2/prepared/tandem-manifest.json",
                    901,
                    Some("t2"),
                ),
            ],
        );
        assert_eq!(a, b, "tandem's own manifest is not the phase's input");
        let c = Fingerprint::of(
            &p,
            PhaseId::Solve,
            "x/",
            &[obj("x/boundary.csv", 10, Some("bb"))],
        );
        assert_ne!(a.inputs, c.inputs);
        // an input whose content is unknown never matches another
        let u1 = Fingerprint::of(&p, PhaseId::Solve, "x/", &[obj("x/a", 1, None)]);
        let u2 = Fingerprint::of(&p, PhaseId::Solve, "y/", &[obj("y/a", 1, None)]);
        assert_ne!(u1.inputs, u2.inputs);
        assert!(a.section.contains("heat2d"), "{}", a.section);
    }
}
