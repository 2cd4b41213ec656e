//! CloudWatch for the TUI: one client per target (its profile and region), made on first use and
//! kept; the log groups and streams of the browser, a group tailed into the Logs view, the
//! metrics charted, what CloudWatch has (ListMetrics), metrics added to tandem.toml; and the meter
//! of every call made for watching, reported every 5 s while it changes.

use super::{Backend, Msg, ProjectCell};
use crate::observe::cloudwatch::{CwLogs, CwMetrics, Meter, Rate, TailSpec, NAMESPACE_SCAN};
use crate::pipeline::follow::{Every, Follow};
use crate::project::MetricQuery;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

#[derive(Default)]
pub(super) struct Cloud {
    /// Every CloudWatch call made for watching, for the status line's cost note.
    meter: Meter,
    logs: Cache<CwLogs>,
    metrics: Cache<CwMetrics>,
    /// Groups tailed from the browser (stopped when another run is followed).
    group_tails: Vec<JoinHandle<()>>,
    /// Whether the Logs view is on screen (the groups are polled slower when it is not).
    logs_visible: Arc<AtomicBool>,
    /// The meter's reporter runs (started with the first CloudWatch client).
    reporting: bool,
}

type Cache<C> = Arc<tokio::sync::Mutex<HashMap<String, C>>>;

/// A CloudWatch client made once per target (its profile and region) and kept.
trait CwClient: Clone + Send + 'static {
    fn make(
        opts: crate::aws::AwsOpts,
        meter: Meter,
    ) -> impl std::future::Future<Output = Self> + Send;
}

impl CwClient for CwLogs {
    async fn make(opts: crate::aws::AwsOpts, meter: Meter) -> Self {
        CwLogs::new(&opts, meter).await
    }
}

impl CwClient for CwMetrics {
    async fn make(opts: crate::aws::AwsOpts, meter: Meter) -> Self {
        CwMetrics::new(&opts, meter).await
    }
}

/// What a spawned task needs to get a target's CloudWatch clients.
#[derive(Clone)]
pub(super) struct Handle {
    project: ProjectCell,
    aws: crate::aws::AwsOpts,
    meter: Meter,
    logs: Cache<CwLogs>,
    metrics: Cache<CwMetrics>,
}

impl Handle {
    async fn get<C: CwClient>(&self, cache: &Cache<C>, target: &str) -> Option<C> {
        let w = self.project.get()?.targets.get(target)?.cloudwatch.clone();
        let mut c = cache.lock().await;
        if let Some(x) = c.get(target) {
            return Some(x.clone());
        }
        let x = C::make(w.aws(&self.aws), self.meter.clone()).await;
        c.insert(target.to_string(), x.clone());
        Some(x)
    }
    pub async fn logs(&self, target: &str) -> Option<CwLogs> {
        self.get(&self.logs, target).await
    }
    async fn metrics(&self, target: &str) -> Option<CwMetrics> {
        self.get(&self.metrics, target).await
    }
}

impl Cloud {
    pub fn handle(&self, project: &ProjectCell, aws: &crate::aws::AwsOpts) -> Handle {
        Handle {
            project: project.clone(),
            aws: aws.clone(),
            meter: self.meter.clone(),
            logs: self.logs.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// How often the log groups are polled: every 5 s while the Logs view is on screen, every
    /// 30 s when it is not.
    pub fn every(&self) -> Every {
        let visible = self.logs_visible.clone();
        Arc::new(move || {
            if visible.load(Ordering::Relaxed) {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(30)
            }
        })
    }

    pub fn set_logs_visible(&self, yes: bool) {
        self.logs_visible.store(yes, Ordering::Relaxed);
    }

    pub fn stop_group_tails(&mut self) {
        for t in self.group_tails.drain(..) {
            t.abort();
        }
    }

    pub fn stop(&mut self) {
        self.stop_group_tails();
    }

    /// Send the meter's reading every 5 s while it changes (so the cost note fades when
    /// watching stops).
    pub fn report_rate(&mut self, tx: &mpsc::Sender<Msg>) {
        if self.reporting {
            return;
        }
        self.reporting = true;
        let (meter, tx) = (self.meter.clone(), tx.clone());
        tokio::spawn(async move {
            let mut last = Rate::default();
            loop {
                let r = meter.rate();
                if r != last {
                    if tx.send(Msg::AwsRate(r)).await.is_err() {
                        return;
                    }
                    last = r;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }
}

impl Backend {
    fn cw(&mut self) -> Handle {
        self.cloud.report_rate(&self.tx);
        self.cloud.handle(&self.project, &self.aws)
    }

    pub(super) fn cloud_groups(&mut self, target: String) {
        let (tx, cw) = (self.tx.clone(), self.cw());
        tokio::spawn(async move {
            let Some(c) = cw.logs(&target).await else {
                return;
            };
            let r = c.groups(None, 1000).await;
            let _ = tx.send(Msg::CloudGroups(r)).await;
        });
    }

    pub(super) fn cloud_streams(&mut self, target: String, group: String) {
        let (tx, cw) = (self.tx.clone(), self.cw());
        tokio::spawn(async move {
            let Some(c) = cw.logs(&target).await else {
                return;
            };
            let result = c.streams(&group, None, 1000).await;
            let _ = tx.send(Msg::CloudStreams { group, result }).await;
        });
    }

    /// A group (these streams, or all) tailed into the Logs view under `into`, from ten minutes
    /// ago, through the same follower as a run's logs.
    pub(super) fn tail_group(
        &mut self,
        target: String,
        group: String,
        streams: Vec<String>,
        into: String,
    ) {
        let (tx, cw, every) = (self.tx.clone(), self.cw(), self.cloud.every());
        let spec = TailSpec {
            group,
            streams,
            start_ms: chrono::Utc::now().timestamp_millis() - 10 * 60_000,
            ..Default::default()
        };
        self.cloud.group_tails.push(tokio::spawn(async move {
            let Some(c) = cw.logs(&target).await else {
                return;
            };
            let f = Follow::groups(c, vec![spec], every);
            super::logs::forward(f, &into, &tx, false).await;
        }));
    }

    pub(super) fn cloud_metrics(
        &mut self,
        target: String,
        period: i32,
        stat: Option<String>,
        since_secs: i64,
    ) {
        let Some(w) = self
            .project
            .get()
            .and_then(|p| p.targets.get(&target).map(|t| t.cloudwatch.clone()))
        else {
            return;
        };
        let (cw, meter, tx) = (self.cw(), self.cloud.meter.clone(), self.tx.clone());
        tokio::spawn(async move {
            let Some(client) = cw.metrics(&target).await else {
                return;
            };
            let end = chrono::Utc::now().timestamp_millis();
            let r = client
                .fetch(
                    &w.metrics,
                    period,
                    stat.as_deref(),
                    end - since_secs * 1000,
                    end,
                )
                .await;
            let _ = tx.send(Msg::CloudMetrics(r)).await;
            let _ = tx.send(Msg::AwsRate(meter.rate())).await;
        });
    }

    pub(super) fn list_metrics(&mut self, target: String, namespace: Option<String>) {
        let (cw, tx) = (self.cw(), self.tx.clone());
        tokio::spawn(async move {
            let Some(client) = cw.metrics(&target).await else {
                return;
            };
            let limit = if namespace.is_some() {
                5000
            } else {
                NAMESPACE_SCAN
            };
            let result = client
                .list(namespace.as_deref(), None, "Average", limit)
                .await;
            let _ = tx.send(Msg::MetricList { namespace, result }).await;
        });
    }

    /// Metric queries written into the target in tandem.toml (off the UI task); the project as
    /// it then loads goes to the backend and, in the answer, to the state.
    pub(super) fn add_metrics(&mut self, target: String, queries: Vec<MetricQuery>) {
        let Some(p) = self.project.get() else {
            return self.send(Msg::Error("no valid project loaded".into()));
        };
        let (cell, tx) = (self.project.clone(), self.tx.clone());
        tokio::spawn(async move {
            let file = p.file.clone();
            let r = tokio::task::spawn_blocking(move || {
                crate::project::edit::add_metrics(&file, &target, &queries)
            })
            .await
            .unwrap_or_else(|e| Err(crate::project::edit::EditError::interrupted(&p.file, e)));
            if let Ok((newp, _)) = &r {
                cell.set(newp.clone());
            }
            let msg = Msg::MetricsAdded(r.map(|(newp, n)| (n, Box::new(newp))));
            let _ = tx.send(msg).await;
        });
    }
}
