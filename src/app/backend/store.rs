//! The project's store for the TUI: buckets, a prefix listed page by page (one listing at a time;
//! a new one replaces it), an object's preview, and the transfers in flight with their progress.

use super::{Backend, Msg};
use crate::storage::transfer::{self, Progress, TransferSpec};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub(super) struct Listing {
    listing: Option<JoinHandle<()>>,
    /// Transfers in flight, by id.
    transfers: HashMap<u64, CancellationToken>,
    /// Syncs planned and waiting for the user's yes, by id.
    plans: Arc<std::sync::Mutex<HashMap<u64, crate::storage::sync::Plan>>>,
}

impl Listing {
    pub fn stop(&mut self) {
        if let Some(t) = self.listing.take() {
            t.abort();
        }
        for t in self.transfers.values() {
            t.cancel();
        }
    }
}

impl Backend {
    pub(super) fn list_buckets(&mut self) {
        let (Some(store), tx) = (self.store.clone(), self.tx.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let r = store.list_buckets().await;
            let _ = tx.send(Msg::Buckets(r)).await;
        });
    }

    /// `bucket/prefix` listed from `token` (or the start), each page sent as it arrives.
    pub(super) fn list(&mut self, req: u64, bucket: String, prefix: String, token: Option<String>) {
        let (Some(store), tx) = (self.store.clone(), self.tx.clone()) else {
            return;
        };
        self.cancel_list();
        self.listing.listing = Some(tokio::spawn(async move {
            let mut token = token;
            loop {
                let size = crate::storage::page_size(&token);
                match store
                    .list_page(&bucket, &prefix, true, token.clone(), size)
                    .await
                {
                    Ok(page) => {
                        let done = page.next.is_none();
                        token = page.next.clone();
                        let m = Msg::StorePage {
                            req,
                            entries: page.entries,
                            next: page.next,
                        };
                        if tx.send(m).await.is_err() || done {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = tx.send(Msg::StoreError { req, error }).await;
                        return;
                    }
                }
            }
        }));
    }

    pub(super) fn cancel_list(&mut self) {
        if let Some(t) = self.listing.listing.take() {
            t.abort();
        }
    }

    pub(super) fn preview(&mut self, bucket: String, key: String) {
        let (Some(store), tx) = (self.store.clone(), self.tx.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let result = crate::storage::preview::preview(
                &*store,
                &bucket,
                &key,
                crate::storage::preview::ROWS,
            )
            .await;
            let _ = tx.send(Msg::Preview { key, result }).await;
        });
    }

    /// Start (or restart) a download or upload; its progress four times a second, then its end.
    pub(super) fn transfer(&mut self, id: u64, spec: TransferSpec) {
        let (Some(store), tx) = (self.store.clone(), self.tx.clone()) else {
            return;
        };
        let cancel = CancellationToken::new();
        if let Some(old) = self.listing.transfers.insert(id, cancel.clone()) {
            old.cancel();
        }
        let (plans, journal) = (
            self.listing.plans.clone(),
            self.ws.journal.path().to_path_buf(),
        );
        tokio::spawn(async move {
            let progress = Arc::new(Progress::default());
            let t0 = std::time::Instant::now();
            let report = {
                let (tx, progress) = (tx.clone(), progress.clone());
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(Duration::from_millis(250));
                    loop {
                        every.tick().await;
                        let p = progress.reading(t0);
                        if tx
                            .send(Msg::TransferProgress { id, progress: p })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                })
            };
            let state = if spec.sync {
                let plan = plans.lock().ok().and_then(|mut p| p.remove(&id));
                crate::storage::sync::perform(
                    store,
                    &journal,
                    &spec,
                    plan,
                    progress.clone(),
                    cancel,
                )
                .await
            } else {
                transfer::perform(store, &spec, progress.clone(), cancel).await
            };
            report.abort();
            let p = progress.reading(t0);
            let _ = tx.send(Msg::TransferProgress { id, progress: p }).await;
            let _ = tx.send(Msg::TransferEnded { id, state }).await;
        });
    }

    /// Plan a sync and keep the plan for the yes that starts it.
    pub(super) fn plan_sync(&mut self, id: u64, spec: TransferSpec) {
        let (Some(store), tx) = (self.store.clone(), self.tx.clone()) else {
            return;
        };
        let (plans, journal) = (
            self.listing.plans.clone(),
            self.ws.journal.path().to_path_buf(),
        );
        tokio::spawn(async move {
            let summary = match crate::storage::sync::plan_for(store, &journal, &spec).await {
                Ok(plan) => {
                    let line = plan.summary(false);
                    if let Ok(mut p) = plans.lock() {
                        p.insert(id, plan);
                    }
                    Ok(line)
                }
                Err(e) => Err(e.to_string()),
            };
            let _ = tx.send(Msg::SyncPlanned { id, spec, summary }).await;
        });
    }

    pub(super) fn cancel_transfer(&mut self, id: u64) {
        if let Some(t) = self.listing.transfers.remove(&id) {
            t.cancel();
        }
    }
}
