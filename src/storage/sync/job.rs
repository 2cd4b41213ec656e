//! A sync as the TUI asks for it: planned from a [`TransferSpec`], carried out once the user said
//! yes to the plan, with the same ledger, checksums and manifest as `tandem sync` (it never
//! deletes: removing what the source lost is the CLI's `--delete`).

use super::super::checksum::Algo;
use super::super::transfer::{Progress, TransferSpec, TransferState, Tuning};
use super::super::{ObjectStore, Result, StoreError};
use super::{ledger::Ledger, Plan, Spec};
use std::path::Path;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

fn spec_of(t: &TransferSpec) -> Spec {
    Spec {
        way: t.dir,
        bucket: t.bucket.clone(),
        prefix: Spec::folder(&t.key),
        dir: t.local.clone(),
        delete: false,
        algo: Algo::Crc64Nvme,
        tuning: Tuning::default(),
    }
}

fn open(store: &dyn ObjectStore, journal: &Path) -> Result<Ledger> {
    Ledger::open(journal, &store.describe()).map_err(super::ledger_err)
}

/// The plan of the sync `t` describes, with the ledger in database `journal`.
pub async fn plan_for(
    store: Arc<dyn ObjectStore>,
    journal: &Path,
    t: &TransferSpec,
) -> Result<Plan> {
    let ledger = open(store.as_ref(), journal)?;
    super::plan(store, &ledger, &spec_of(t)).await
}

/// Carry out the sync `t` describes (planned again when `plan` is `None`: a retry); how it ended.
pub async fn perform(
    store: Arc<dyn ObjectStore>,
    journal: &Path,
    t: &TransferSpec,
    plan: Option<Plan>,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> TransferState {
    let spec = spec_of(t);
    let ledger = match open(store.as_ref(), journal) {
        Ok(l) => Arc::new(l),
        Err(e) => return TransferState::Failed(e.to_string()),
    };
    let plan = match plan {
        Some(p) => p,
        None => match super::plan(store.clone(), &ledger, &spec).await {
            Ok(p) => p,
            Err(e) => return TransferState::Failed(e.to_string()),
        },
    };
    let (from, to) = t.label();
    let id = super::new_id();
    let out = super::run(
        store,
        ledger,
        &spec,
        plan,
        &id,
        (&from, &to),
        progress,
        cancel,
    )
    .await;
    match (out.stopped, out.manifest.failed.first()) {
        (Some(StoreError::Cancelled), _) => TransferState::Cancelled,
        (Some(e), _) => TransferState::Failed(e.to_string()),
        (None, Some((k, e))) => TransferState::Failed(format!(
            "{} failed, the first `{}`: {e}",
            out.manifest.failed.len(),
            crate::observe::sanitize(k)
        )),
        (None, None) => TransferState::Done,
    }
}
