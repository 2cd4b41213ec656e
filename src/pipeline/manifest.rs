//! The manifest of a finished phase, written next to its outputs (`tandem-manifest.json`) and kept
//! in the journal: what ran, on what, with which inputs, where its outputs are.

use super::phase::Exec;
use super::placement::Placement;
use super::run::{Attempt, ElementRun, Run, RunState};
use crate::project::PhaseId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The manifest's name beside each phase's outputs.
pub const MANIFEST: &str = "tandem-manifest.json";
/// Input objects listed in a manifest (a prefix with more says so with `inputs_truncated`).
const MANIFEST_INPUTS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub tandem_version: String,
    pub run: String,
    pub project: String,
    pub project_file: String,
    pub project_hash: String,
    pub target: String,
    pub phase: PhaseId,
    pub state: Option<RunState>,
    /// Where the phase ran, as a label (`local process`, `slurm via ssh head`, …).
    pub engine: Option<String>,
    #[serde(default)]
    pub placement: Option<Placement>,
    pub engine_id: Option<String>,
    pub command: Option<Vec<String>>,
    pub input: Option<String>,
    /// The store prefix the inputs were listed under (`bucket/key/`): their keys relative to it
    /// are what two runs' inputs are compared by.
    #[serde(default)]
    pub input_prefix: Option<String>,
    pub inputs_truncated: bool,
    pub inputs: Vec<InputObject>,
    pub output: Option<String>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    /// A swept phase's elements: each one's parameters, engine id, state, times and output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<ElementRun>,
    /// Earlier tries that the phase's retry rule resubmitted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// What the outputs follow from (the phase's section, version, inputs' content): an equal
    /// one later lets `--reuse` point at these outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<super::reuse::Fingerprint>,
    /// Another run's outputs were used instead of running (or why the phase ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<super::reuse::Verdict>,
}

/// One object a phase read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputObject {
    /// `bucket/key`.
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    /// Where the store gives no ETag (a directory store): the CRC64NVME of the file's bytes, so
    /// two runs' inputs are still compared by content, never by time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl InputObject {
    /// What the object's content is known by: its ETag, else its checksum.
    pub fn content(&self) -> Option<&str> {
        self.etag.as_deref().or(self.checksum.as_deref())
    }
}

impl Manifest {
    /// The manifest of `phase` of `run`, with the input objects it read.
    pub fn of(
        run: &Run,
        phase: PhaseId,
        input_prefix: Option<String>,
        inputs: Vec<InputObject>,
    ) -> Manifest {
        let p = run.phase(phase);
        Manifest {
            tandem_version: run.tandem_version.clone(),
            run: run.id.clone(),
            project: run.project.clone(),
            project_file: run.project_file.clone(),
            project_hash: run.project_hash.clone(),
            target: run.target.clone(),
            phase,
            state: p.map(|p| p.state),
            engine: p.map(|p| p.placement.label()),
            placement: p.map(|p| p.placement.clone()),
            engine_id: p.and_then(|p| p.engine_id.clone()),
            command: p.map(|p| p.command.clone()),
            input: p.and_then(|p| p.input.clone()),
            input_prefix,
            inputs_truncated: inputs.len() >= MANIFEST_INPUTS,
            inputs,
            output: p.map(|p| p.output.clone()),
            started: p.and_then(|p| p.started),
            ended: p.and_then(|p| p.ended),
            exit_code: p.and_then(|p| p.exit_code),
            elements: p.map(|p| p.elements.clone()).unwrap_or_default(),
            attempts: p.map(|p| p.attempts.clone()).unwrap_or_default(),
            fingerprint: None,
            reuse: p.and_then(|p| p.reuse.clone()),
        }
    }
}

/// The objects under `bucket/key/` (at most [`MANIFEST_INPUTS`]), each with its content: its
/// ETag, or where the store gives none (a directory store) the CRC64NVME of its bytes, read off
/// the async workers.
pub async fn list_inputs(
    store: std::sync::Arc<dyn crate::storage::ObjectStore>,
    bucket: &str,
    key: &str,
) -> Vec<InputObject> {
    let prefix = format!("{}/", key.trim_end_matches('/'));
    let objs = crate::storage::list_all(store.as_ref(), bucket, &prefix)
        .await
        .unwrap_or_default();
    let b = bucket.to_string();
    tokio::task::spawn_blocking(move || {
        objs.into_iter()
            .take(MANIFEST_INPUTS)
            .map(|o| {
                let checksum = match &o.etag {
                    Some(_) => None,
                    None => store.local_path(&b, &o.key).and_then(|p| {
                        crate::storage::checksum::of_file(
                            &p,
                            crate::storage::checksum::Algo::Crc64Nvme,
                        )
                        .ok()
                    }),
                };
                InputObject {
                    key: format!("{b}/{}", o.key),
                    size: o.size,
                    etag: o.etag,
                    checksum,
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default()
}

impl Exec<'_> {
    /// What a phase reads: the store prefix (`bucket/key/`) and the objects under it.
    pub(crate) async fn inputs(&self, phase: PhaseId) -> (Option<String>, Vec<InputObject>) {
        match self.input_prefix(phase) {
            Some((b, k)) => (
                Some(format!("{b}/{}/", k.trim_end_matches('/'))),
                list_inputs(self.store.clone(), &b, &k).await,
            ),
            None => (None, vec![]),
        }
    }

    /// Write the manifest next to a finished phase's outputs, and keep it in the journal (a
    /// phase that used another run's outputs: in the journal only, that run's own stays).
    pub(crate) async fn write_manifest(&mut self, phase: PhaseId) {
        if self.dry.is_some() {
            return;
        }
        let (prefix, inputs) = self.inputs(phase).await;
        let fp = super::reuse::Fingerprint::of(
            self.project,
            phase,
            prefix.as_deref().unwrap_or(""),
            &inputs,
        );
        let mut m = Manifest::of(&self.run, phase, prefix, inputs);
        m.fingerprint = Some(fp);
        if let Err(e) = self.ws.journal.save_manifest(&self.run.id, phase, &m) {
            tracing::error!("journal: {e}");
        }
        let Some(p) = self
            .run
            .phase(phase)
            .filter(|p| !matches!(p.reuse, Some(super::reuse::Verdict::Reuse { .. })))
        else {
            return;
        };
        let (b, k) = p.output_at();
        let key = format!("{}/{MANIFEST}", k.trim_end_matches('/'));
        let data = serde_json::to_vec_pretty(&m).unwrap_or_default();
        if let Err(e) = self.store.put(b, &key, data).await {
            self.note(phase, &format!("writing {b}/{key}: {e}"));
        }
    }
}
