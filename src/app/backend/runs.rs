//! Runs this process drives: started, re-attached to on start (the journal read off the UI task),
//! cancelled (its own by its token; another's through its engines), the journal reloaded; and on
//! quit, the runs on a local phase stopped and waited for.

use super::{Backend, Msg};
use crate::pipeline::{cancel, execute, prepare_run, resume, Run, RunEvent, Workspace};
use crate::project::{PhaseId, Project};
use crate::storage::ObjectStore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A run this process drives.
struct Driven {
    cancel: CancellationToken,
    done: JoinHandle<Run>,
}

#[derive(Clone)]
pub(super) struct Runs {
    /// Where the runs' events go (forwarded into the loop as `Msg::Run`).
    events: mpsc::Sender<RunEvent>,
    driven: Arc<Mutex<HashMap<String, Driven>>>,
}

impl Runs {
    pub fn new(tx: mpsc::Sender<Msg>) -> Runs {
        let (events, mut rx) = mpsc::channel::<RunEvent>(256);
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if tx.send(Msg::Run(ev)).await.is_err() {
                    break;
                }
            }
        });
        Runs {
            events,
            driven: Default::default(),
        }
    }

    /// Execute (or resume) `run` in the background, its events into the loop.
    fn drive(&self, ws: Workspace, p: Arc<Project>, store: Arc<dyn ObjectStore>, run: Run) {
        let cancel = CancellationToken::new();
        let id = run.id.clone();
        let (c, ev) = (cancel.clone(), self.events.clone());
        let done = tokio::spawn(async move {
            let r = execute(ws, p, store, run, c, ev).await;
            tracing::info!(run = %r.id, state = %r.state, "run finished");
            r
        });
        if let Ok(mut d) = self.driven.lock() {
            d.retain(|_, x| !x.done.is_finished());
            d.insert(id, Driven { cancel, done });
        }
    }

    /// Cancel a run this process drives; false when it drives no such run.
    fn cancel(&self, id: &str) -> bool {
        match self
            .driven
            .lock()
            .ok()
            .and_then(|d| d.get(id).map(|x| x.cancel.clone()))
        {
            Some(c) => {
                c.cancel();
                true
            }
            None => false,
        }
    }

    /// On quit: every driven run whose current phase runs here is cancelled, and waited for (at
    /// most its phases' grace period and a little more), so its process group is stopped and the
    /// run is recorded cancelled; a run on a cluster is left to go on.
    pub async fn stop_local(&self, ws: &Workspace) {
        let driven: Vec<(String, Driven)> = match self.driven.lock() {
            Ok(mut d) => d.drain().collect(),
            Err(_) => return,
        };
        let mut waiting = Vec::new();
        for (id, d) in driven {
            if d.done.is_finished() {
                continue;
            }
            let stops = ws
                .journal
                .get(&id)
                .ok()
                .flatten()
                .is_none_or(|r| r.stops_with_tandem());
            if stops {
                d.cancel.cancel();
                waiting.push(d.done);
            }
        }
        // the longest grace is the project's; SIGKILL follows it, then the record is written
        let wait = Duration::from_secs(60);
        let _ = tokio::time::timeout(wait, futures::future::join_all(waiting)).await;
    }
}

impl Backend {
    pub(super) fn start_run(&mut self, phases: Vec<PhaseId>, reuse: bool) {
        let (Some(p), Some(store)) = (self.project.get(), self.store.clone()) else {
            return self.send(Msg::Error("no valid project loaded".into()));
        };
        let mut run = prepare_run(&p, &self.target, &phases);
        run.reuse = reuse;
        self.runs.drive(self.ws.clone(), p, store, run);
    }

    /// Command::PlanReuse: which phases an earlier run's outputs stand for, off the UI task.
    pub(super) fn plan_reuse(&mut self) {
        let (Some(p), Some(store)) = (self.project.get(), self.store.clone()) else {
            return self.send(Msg::Error("no valid project loaded".into()));
        };
        let (j, tx) = (self.ws.journal.clone(), self.tx.clone());
        tokio::spawn(async move {
            let plan = crate::pipeline::reuse::plan(&j, &p, store).await;
            let _ = tx.send(Msg::ReusePlan(plan)).await;
        });
    }

    /// Re-attach to the unfinished runs of this project and target that no live tandem drives.
    pub(super) fn resume_runs(&mut self) {
        let (Some(p), Some(store)) = (self.project.get(), self.store.clone()) else {
            return;
        };
        let (ws, target, tx) = (self.ws.clone(), self.target.clone(), self.tx.clone());
        let runs = self.runs.clone();
        tokio::spawn(async move {
            let (w, file) = (ws.clone(), p.file.clone());
            let found =
                tokio::task::spawn_blocking(move || resume::orphans_of(&w, &file, &target)).await;
            let o = match found {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => {
                    let _ = tx
                        .send(Msg::Error(format!("reading the journal: {e}")))
                        .await;
                    return;
                }
                Err(_) => return,
            };
            let resumed = o.mine.len();
            for run in o.mine {
                runs.drive(ws.clone(), p.clone(), store.clone(), run);
            }
            if resumed + o.elsewhere > 0 {
                let mut m = format!("re-attached to {resumed} unfinished run(s)");
                if o.elsewhere > 0 {
                    m.push_str(&format!(
                        "; {} of other projects or targets wait for `tandem runs resume`",
                        o.elsewhere
                    ));
                }
                let _ = tx.send(Msg::Info(m)).await;
            }
        });
    }

    /// `c`: a run this tandem drives is cancelled by its token (its phases stop the way they
    /// would on Ctrl-C); any other is stopped through its engines, as `tandem cancel` does.
    pub(super) fn cancel_run(&mut self, run_id: String) {
        if self.runs.cancel(&run_id) {
            return;
        }
        let (Some(p), ws, tx, conns) = (
            self.project.get(),
            self.ws.clone(),
            self.tx.clone(),
            self.conns.clone(),
        ) else {
            return;
        };
        tokio::spawn(async move {
            let id = run_id.clone();
            let run = tokio::task::spawn_blocking(move || ws.journal.get(&id))
                .await
                .ok()
                .and_then(|r| r.ok().flatten());
            let Some(run) = run else {
                let _ = tx
                    .send(Msg::Error(format!("run {run_id} is not in the journal")))
                    .await;
                return;
            };
            let done = cancel::cancel_run(&p, &run, &conns).await;
            let text: Vec<String> = done
                .iter()
                .map(|d| match &d.detail {
                    None => format!("{}: {}", d.phase, d.action),
                    Some(why) => format!("{}: {}: {why}", d.phase, d.action),
                })
                .collect();
            let m = match (done.is_empty(), done.iter().all(|d| d.ok)) {
                (true, _) => Msg::Info(format!("{run_id}: nothing running to cancel")),
                (false, true) => Msg::Info(format!("{run_id}: {}", text.join("; "))),
                (false, false) => Msg::Error(format!("{run_id}: {}", text.join("; "))),
            };
            let _ = tx.send(m).await;
        });
    }

    pub(super) fn reload_runs(&mut self) {
        let (j, tx) = (self.ws.journal.clone(), self.tx.clone());
        tokio::spawn(async move {
            let m = match tokio::task::spawn_blocking(move || j.load()).await {
                Ok(Ok(l)) => Msg::RunsLoaded {
                    runs: l.runs,
                    skipped: l.skipped,
                },
                Ok(Err(e)) => Msg::Error(format!("reading the journal: {e}")),
                Err(e) => Msg::Error(e.to_string()),
            };
            let _ = tx.send(m).await;
        });
    }
}
