//! A phase's data: its inputs made local (generated when the dataset says how, staged down when
//! the store is not a local directory), the handoff checked, outputs uploaded (`_SUCCESS` last),
//! and where each location is as the phase's process sees it (the directory store's path, the FSx
//! mapping, or the S3 URI).

use super::super::run::{Run, RunState};
use super::super::workspace::Workspace;
use super::Exec;
use crate::project::{PhaseId, Project};
use crate::storage::transfer::{self, Progress, Tuning};
use crate::storage::ObjectStore;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

impl Exec<'_> {
    pub(super) fn dir_of(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        self.store.local_path(bucket, key.trim_end_matches('/'))
    }

    fn tuning() -> Tuning {
        Tuning::default()
    }

    /// A store prefix as a local directory: itself for the directory store, else downloaded into
    /// the run's staging area.
    async fn materialise(
        &self,
        phase: PhaseId,
        bucket: &str,
        key: &str,
        what: &str,
    ) -> Result<PathBuf, String> {
        if let Some(d) = self.dir_of(bucket, key) {
            return Ok(d);
        }
        let dir = self.ws.stage_dir(&self.run.id, phase, what);
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        let plan = transfer::plan_download(self.store.as_ref(), bucket, &prefix, &dir, true, true)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(r) = plan.refused.first() {
            // a phase's input is all there or the phase does not start
            return Err(format!(
                "staging {bucket}/{prefix}: {} key(s) cannot be written under {}; the first, `{}`: {}",
                plan.refused.len(),
                dir.display(),
                crate::observe::sanitize(&r.key),
                r.why
            ));
        }
        let items = plan.items;
        let p = Arc::new(Progress::default());
        transfer::download(
            self.store.clone(),
            bucket,
            &items,
            Self::tuning(),
            p.clone(),
            CancellationToken::new(),
        )
        .await
        .into_result()
        .map_err(|e| format!("staging {bucket}/{prefix}: {e}"))?;
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        self.note(
            phase,
            &format!(
                "staged {} objects ({} bytes) from {bucket}/{prefix} into {}",
                items.len(),
                p.snapshot().0,
                dir.display()
            ),
        );
        Ok(dir)
    }

    /// Whether a store prefix holds any object.
    async fn is_empty(&self, bucket: &str, key: &str) -> Result<bool, String> {
        let prefix = if key.ends_with('/') {
            key.to_string()
        } else {
            format!("{key}/")
        };
        match self.store.list_page(bucket, &prefix, false, None, 1).await {
            Ok(p) => Ok(p.entries.is_empty()),
            Err(crate::storage::StoreError::NoBucket(_)) if self.store.as_s3().is_none() => {
                Ok(true)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Input directory of a phase, generating a missing dataset when the project says how.
    pub(super) async fn input_of(&self, phase: PhaseId) -> Result<PathBuf, String> {
        if self.dry.is_some() {
            return Ok(PathBuf::from(self.planned_input(phase)));
        }
        let spec = self.project.phase(phase);
        let bucket = self.project.storage.bucket.clone();
        let Some(first) = spec.inputs.first() else {
            return self
                .materialise(phase, &bucket, &self.project.storage.key(""), "input")
                .await;
        };
        if first == "handoff" {
            return self.handoff_dir(phase).await;
        }
        let ds = &self.project.datasets[first];
        let key = self.project.storage.key(&ds.path);
        if self.is_empty(&bucket, &key).await? {
            let Some(g) = &ds.generate else {
                return Err(format!("dataset `{}` is empty at {bucket}/{key}", ds.name));
            };
            // generate straight into a directory store, else locally and upload
            let dir = self
                .dir_of(&bucket, &key)
                .unwrap_or_else(|| self.ws.stage_dir(&self.run.id, phase, "generated"));
            self.note(
                phase,
                &format!(
                    "dataset `{}` is empty: generating {} MB from seed {} into {bucket}/{key}",
                    ds.name, g.size_mb, g.seed
                ),
            );
            let (d2, g2) = (dir.clone(), g.clone());
            let rep = tokio::task::spawn_blocking(move || {
                crate::tools::gen::generate(&d2, g2.seed, g2.size_mb, g2.files)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("generating dataset `{}`: {e}", ds.name))?;
            if self.dir_of(&bucket, &key).is_none() {
                let items = transfer::plan_upload(&dir, &key, true).map_err(|e| e.to_string())?;
                transfer::upload(
                    self.store.clone(),
                    &bucket,
                    &items,
                    Self::tuning(),
                    &transfer::Sending::default(),
                    Arc::new(Progress::default()),
                    CancellationToken::new(),
                )
                .await
                .into_result()
                .map_err(|e| format!("uploading dataset `{}`: {e}", ds.name))?;
            }
            self.note(
                phase,
                &format!(
                    "generated {} rows, {} bytes in {} files",
                    rep.rows,
                    rep.bytes,
                    rep.files.len()
                ),
            );
        }
        self.materialise(phase, &bucket, &key, "input").await
    }

    /// Phase 1's output for this run, or the newest successful one when only the solve phase runs;
    /// checked for the handoff's required files, then handed over as the FSx path when the project
    /// maps one, else as a local directory.
    async fn handoff_dir(&self, phase: PhaseId) -> Result<PathBuf, String> {
        let loc = self.handoff_location()?;
        let (bucket, key) = crate::storage::split_location(&loc);
        let mut missing = Vec::new();
        for f in &self.project.handoff.require {
            let k = format!("{}/{f}", key.trim_end_matches('/'));
            match self.store.head(bucket, &k).await {
                Ok(_) => {}
                Err(crate::storage::StoreError::NotFound { .. }) => missing.push(f.as_str()),
                Err(e) => return Err(format!("checking the handoff: {e}")),
            }
        }
        if !missing.is_empty() {
            return Err(format!(
                "handoff incomplete: {} missing in {loc}",
                missing.join(", ")
            ));
        }
        if let Some(p) = self.fsx_path(key) {
            return Ok(p);
        }
        self.materialise(phase, bucket, key, "input").await
    }

    /// Where the handoff is (`bucket/key/`): phase 1's output of this run, or, when only the
    /// solve phase runs, of the newest run of the project whose phase 1 succeeded.
    fn handoff_location(&self) -> Result<String, String> {
        let from = self.project.handoff.from;
        let loc = if self.run.phase(from).is_some() {
            self.run.phase(from).map(|p| p.output.clone())
        } else {
            let loaded = self
                .ws
                .journal
                .load()
                .map_err(|e| format!("reading the journal: {e}"))?;
            loaded
                .runs
                .iter()
                .filter(|r| r.project == self.project.name)
                .filter_map(|r| r.phase(from))
                .find(|p| p.state == RunState::Succeeded)
                .map(|p| p.output.clone())
        };
        loc.ok_or_else(|| {
            format!(
                "no handoff: no successful `{from}` run yet; run the pipeline or `{from}` first"
            )
        })
    }

    /// The store prefix a phase read: its dataset's, or the handoff's (phase 1's output).
    pub(crate) fn input_prefix(&self, phase: PhaseId) -> Option<(String, String)> {
        let spec = self.project.phase(phase);
        let first = spec.inputs.first()?;
        if first == "handoff" {
            let loc = self.handoff_location().ok()?;
            let (b, k) = loc.split_once('/')?;
            return Some((b.to_string(), k.to_string()));
        }
        let ds = self.project.datasets.get(first)?;
        Some((
            self.project.storage.bucket.clone(),
            self.project.storage.key(&ds.path),
        ))
    }

    /// Upload a staged output directory to its store prefix; `_SUCCESS` goes last so that a
    /// reader never sees the marker before the data.
    pub(super) async fn upload_output(
        &self,
        phase: PhaseId,
        dir: &std::path::Path,
        bucket: &str,
        key: &str,
    ) -> Result<(), String> {
        let items = transfer::plan_upload(dir, key.trim_end_matches('/'), true)
            .map_err(|e| e.to_string())?;
        let (markers, data): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|i| i.key.ends_with("/_SUCCESS"));
        let p = Arc::new(Progress::default());
        for batch in [data, markers] {
            transfer::upload(
                self.store.clone(),
                bucket,
                &batch,
                Self::tuning(),
                &transfer::Sending::default(),
                p.clone(),
                CancellationToken::new(),
            )
            .await
            .into_result()
            .map_err(|e| format!("uploading the output to {bucket}/{key}: {e}"))?;
        }
        self.note(
            phase,
            &format!("uploaded {} bytes to {bucket}/{key}", p.snapshot().0),
        );
        Ok(())
    }

    /// Where a phase's output goes as the cluster sees it: the directory store's path, the FSx
    /// mapping, or the S3 URI.
    pub(super) fn remote_output(&self, phase: PhaseId) -> String {
        let (b, k) = self.output_at(phase);
        self.remote_path(b, k)
    }

    /// Where each element of a swept phase writes, as the cluster sees it, with its
    /// `{element}` and `{param.NAME}` left for the element to fill in (a Slurm array's elements
    /// share one script).
    pub(super) fn element_remote_output(&self, phase: PhaseId) -> String {
        let mut vars = crate::project::Vars::new();
        vars.insert("run", self.run.id.clone());
        let rel = crate::project::render(&self.project.phase(phase).element_output(), &vars);
        let key = self.project.storage.key(&rel);
        self.remote_path(&self.project.storage.bucket, &key)
    }

    /// A store location (`bucket/key/`) as the phase's process sees it.
    pub(super) fn remote_location(&self, loc: &str) -> String {
        let (b, k) = crate::storage::split_location(loc);
        self.remote_path(b, k)
    }

    /// The bucket and key prefix a phase of this run writes to.
    pub(super) fn output_at(&self, phase: PhaseId) -> (&str, &str) {
        self.run.phase(phase).map_or(("", ""), |p| p.output_at())
    }

    /// What a dry run names as a phase's input: where the real run would read it (nothing is
    /// checked, generated or staged).
    fn planned_input(&self, phase: PhaseId) -> String {
        let spec = self.project.phase(phase);
        let bucket = self.project.storage.bucket.clone();
        match spec.inputs.first().map(String::as_str) {
            Some("handoff") => {
                let from = self.project.handoff.from;
                match self.run.phase(from) {
                    Some(p) => {
                        let (b, k) = p.output_at();
                        self.remote_path(b, k)
                    }
                    None => format!("(the newest successful {from} output)"),
                }
            }
            Some(ds) => {
                let path = self.project.datasets.get(ds).map(|d| d.path.clone());
                self.remote_path(
                    &bucket,
                    &self.project.storage.key(&path.unwrap_or_default()),
                )
            }
            None => self.remote_path(&bucket, &self.project.storage.key("")),
        }
    }

    /// A store location as the phase's process sees it.
    fn remote_path(&self, b: &str, k: &str) -> String {
        if let Some(d) = self.dir_of(b, k) {
            return d.display().to_string();
        }
        if let Some(p) = self.fsx_path(k) {
            return p.display().to_string();
        }
        format!("s3://{b}/{k}")
    }

    /// Where `key` is on the cluster when FSx for Lustre maps the storage root to a POSIX path.
    fn fsx_path(&self, key: &str) -> Option<PathBuf> {
        let fsx = self.project.handoff.fsx_path.as_ref()?;
        let rel = key
            .strip_prefix(&self.project.storage.prefix)
            .unwrap_or(key)
            .trim_matches('/');
        Some(std::path::Path::new(fsx).join(rel))
    }
}

/// Files of a phase output directory on this machine.
/// For S3 projects this is the staged copy the phase wrote before its upload.
pub fn output_dir(ws: &Workspace, project: &Project, run: &Run, phase: PhaseId) -> Option<PathBuf> {
    if project.storage.s3 {
        let d = ws.stage_dir(&run.id, phase, "output");
        return d.is_dir().then_some(d);
    }
    let loc = &run.phase(phase)?.output;
    let (b, k) = loc.split_once('/')?;
    ws.store_for(project, &run.target)
        .local_path(b, k.trim_end_matches('/'))
}
