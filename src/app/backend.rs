//! The backend: performs Commands off the UI task and answers with Msgs over a bounded channel. It owns
//! the store, the running pipelines' cancel tokens and the log tail; nothing here blocks a frame.

use super::command::Command;
use super::msg::{Msg, PlotData};
use super::plotload;
use crate::observe::cloudwatch::{CwLogs, CwMetrics, Meter, Rate, Tail, TailSpec};
use crate::observe::logbuf::LogLine;
use crate::observe::tail::FileTail;
use crate::pipeline::{execute, prepare_run, RunEvent, Workspace};
use crate::project::{PhaseId, Project};
use crate::storage::ObjectStore;
use crate::theme::Theme;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What the Jobs view asks of a Slurm target.
enum SlurmAsk {
    Queue,
    /// scancel, then the queue again.
    Cancel(String),
    Partitions,
    /// One poll of a job's log; the paths are asked of scontrol when unknown.
    Log {
        id: String,
        paths: Option<(String, String)>,
        offsets: (u64, u64),
    },
}

type TransportCache =
    Arc<tokio::sync::Mutex<HashMap<String, Arc<dyn crate::transport::Transport>>>>;

pub struct Backend {
    tx: mpsc::Sender<Msg>,
    ws: Workspace,
    project: Option<Arc<Project>>,
    target: String,
    store: Option<Arc<dyn ObjectStore>>,
    /// Runs this process drives: their cancel token, and whether they run on a cluster engine
    /// (those are left running on quit, for the next tandem to re-attach).
    running: HashMap<String, (CancellationToken, bool)>,
    tail: Option<JoinHandle<()>>,
    listing: Option<JoinHandle<()>>,
    /// Transports of Slurm targets, opened once.
    transports: TransportCache,
    /// Transfers in flight, by id.
    transfers: HashMap<u64, CancellationToken>,
    /// Runs started by this process, with their events forwarded into the loop.
    run_tx: mpsc::Sender<RunEvent>,
    /// The SageMaker client of the Clusters view, made on first use.
    sagemaker: Arc<tokio::sync::OnceCell<aws_sdk_sagemaker::Client>>,
    aws: crate::aws::AwsOpts,
    /// Ray clients of the Clusters view, by target and its settings.
    rays: Arc<tokio::sync::Mutex<HashMap<String, Arc<crate::engine::ray::Ray>>>>,
    /// Every CloudWatch call made for watching, for the status line's cost note.
    meter: Meter,
    /// CloudWatch Logs clients, by target.
    cw_logs: CwCache<CwLogs>,
    /// CloudWatch metrics clients, by target.
    cw_metrics: CwCache<CwMetrics>,
    /// The CloudWatch tail of the followed run's target log groups.
    cw_tail: Option<JoinHandle<()>>,
    /// Tails started from the log group browser (stopped when another run is followed).
    cw_adhoc: Vec<JoinHandle<()>>,
    /// Whether the Logs view is on screen (the CloudWatch tail polls slower when it is not).
    logs_visible: Arc<AtomicBool>,
    /// The meter's reporter runs (started with the first CloudWatch client).
    reporting: bool,
    /// The terminal's graphics protocol, when plots are shown as images.
    picker: Option<crate::plot::pixels::Picker>,
    /// Series CSVs read so far by the Plots view (a growing one is read from where it stopped).
    plot_tails: plotload::Tails,
}

impl Backend {
    pub fn new(
        tx: mpsc::Sender<Msg>,
        ws: Workspace,
        project: Option<Project>,
        target: String,
        store: Option<Arc<dyn ObjectStore>>,
    ) -> Backend {
        let (run_tx, mut run_rx) = mpsc::channel::<RunEvent>(256);
        let fwd = tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = run_rx.recv().await {
                if fwd.send(Msg::Run(ev)).await.is_err() {
                    break;
                }
            }
        });
        Backend {
            tx,
            ws,
            project: project.map(Arc::new),
            target,
            store,
            running: HashMap::new(),
            tail: None,
            listing: None,
            transfers: HashMap::new(),
            transports: Default::default(),
            run_tx,
            sagemaker: Default::default(),
            aws: Default::default(),
            rays: Default::default(),
            meter: Meter::default(),
            cw_metrics: Default::default(),
            cw_logs: Default::default(),
            cw_tail: None,
            cw_adhoc: Vec::new(),
            logs_visible: Arc::new(AtomicBool::new(false)),
            reporting: false,
            picker: None,
            plot_tails: Default::default(),
        }
    }

    /// Show heatmaps as images with this picker's protocol.
    /// What reads the project's plots (None without a project).
    fn plot_reader(&self) -> Option<plotload::Reader> {
        Some(plotload::Reader {
            ws: self.ws.clone(),
            project: self.project.clone()?,
            store: self.store.clone(),
            tails: self.plot_tails.clone(),
        })
    }

    /// The terminal's graphics protocol, once known (plots asked for before are characters).
    pub fn set_picker(&mut self, picker: Option<crate::plot::pixels::Picker>) {
        self.picker = picker;
    }

    /// Tell the backend which view is on screen (called by the loop after each update).
    pub fn set_view(&self, v: super::state::View) {
        self.logs_visible
            .store(v == super::state::View::Logs, Ordering::Relaxed);
    }

    /// Send the meter's reading every 5 s while it changes (so the cost note fades when
    /// watching stops).
    fn report_rate(&mut self) {
        if self.reporting {
            return;
        }
        self.reporting = true;
        let (meter, tx) = (self.meter.clone(), self.tx.clone());
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

    /// Follow the CloudWatch log groups of the run's target, from a minute before the run began,
    /// into the Logs view's timeline (by event time, tagged with the stream).
    fn tail_cloud(&mut self, run_id: &str) {
        if let Some(t) = self.cw_tail.take() {
            t.abort();
        }
        let Some(p) = self.project.clone() else {
            return;
        };
        let Some(run) = self.ws.journal.get(run_id).ok().flatten() else {
            return;
        };
        let Some(w) = p.targets.get(&run.target).map(|t| t.watch.clone()) else {
            return;
        };
        if w.log_groups.is_empty() {
            return;
        }
        self.report_rate();
        let (tx, visible, ws, handle) = (
            self.tx.clone(),
            self.logs_visible.clone(),
            self.ws.clone(),
            self.cw_logs_handle(),
        );
        let start = run.created.timestamp_millis() - 60_000;
        let run_id = run.id.clone();
        let ended = move || {
            ws.journal
                .get(&run_id)
                .ok()
                .flatten()
                .and_then(|r| r.ended().filter(|_| r.state.is_terminal()))
        };
        let specs: Vec<TailSpec> = w
            .log_groups
            .iter()
            .map(|g| TailSpec {
                group: g.clone(),
                start_ms: start,
                ..Default::default()
            })
            .collect();
        let (into, target) = (run.id.clone(), run.target.clone());
        self.cw_tail = Some(tokio::spawn(async move {
            let Some(cw) = handle.get(&target).await else {
                return;
            };
            follow_cloud(cw, specs, into, tx, visible, ended).await
        }));
    }

    fn cw_logs_handle(&self) -> CwHandle<CwLogs> {
        self.cw_handle(&self.cw_logs)
    }
    fn cw_metrics_handle(&self) -> CwHandle<CwMetrics> {
        self.cw_handle(&self.cw_metrics)
    }
    fn cw_handle<C>(&self, cache: &CwCache<C>) -> CwHandle<C> {
        CwHandle {
            project: self.project.clone(),
            aws: self.aws.clone(),
            meter: self.meter.clone(),
            cache: cache.clone(),
        }
    }

    /// The AWS options (profile, region) for clients other than S3.
    pub fn with_aws(mut self, aws: crate::aws::AwsOpts) -> Backend {
        self.aws = aws;
        self
    }

    /// Answer the Jobs view: the queue (also after a scancel) as `JobsLoaded`, sinfo as
    /// `Partitions`, over the target's cached transport.
    fn ask_slurm(&self, target: String, ask: SlurmAsk) {
        let (Some(p), tx, cache) = (
            self.project.clone(),
            self.tx.clone(),
            self.transports.clone(),
        ) else {
            return;
        };
        tokio::spawn(async move {
            let (t, st) = match slurm_of(&p, &target, &cache).await {
                Ok(x) => x,
                Err(e) => {
                    let _ = match ask {
                        SlurmAsk::Queue => {
                            tx.send(Msg::JobsLoaded {
                                result: Err(e),
                                api_calls: 0,
                            })
                            .await
                        }
                        SlurmAsk::Cancel(_) => tx.send(Msg::Error(e)).await,
                        SlurmAsk::Partitions => tx.send(Msg::Partitions(Err(e))).await,
                        SlurmAsk::Log { id, .. } => {
                            tx.send(Msg::JobLog { id, result: Err(e) }).await
                        }
                    };
                    return;
                }
            };
            let slurm = crate::engine::slurm::Slurm::new(&*t, &st.slurm);
            let c = CancellationToken::new();
            match ask {
                SlurmAsk::Partitions => {
                    let r = slurm.sinfo(&c).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Partitions(r)).await;
                    return;
                }
                SlurmAsk::Cancel(id) => {
                    if let Err(e) = slurm.cancel(&id, &c).await {
                        let _ = tx.send(Msg::Error(e.to_string())).await;
                    }
                }
                SlurmAsk::Log { id, paths, offsets } => {
                    let result = job_log(&slurm, &id, paths, offsets, &c).await;
                    let _ = tx.send(Msg::JobLog { id, result }).await;
                    return;
                }
                SlurmAsk::Queue => {}
            }
            let result = slurm.queue(&c).await.map_err(|e| e.to_string());
            let _ = tx
                .send(Msg::JobsLoaded {
                    result,
                    api_calls: t.api_calls(),
                })
                .await;
        });
    }

    /// Cancel what runs in the background (running phases get SIGTERM then SIGKILL).
    pub fn shutdown(&mut self) {
        // local phases are children of this process: stop them; jobs on a cluster go on, and
        // the next tandem (or `tandem runs resume`) re-attaches to them from the journal
        for (t, on_cluster) in self.running.values() {
            if !on_cluster {
                t.cancel();
            }
        }
        for t in self.transfers.values() {
            t.cancel();
        }
        if let Some(t) = self.tail.take() {
            t.abort();
        }
        if let Some(t) = self.cw_tail.take() {
            t.abort();
        }
        for t in self.cw_adhoc.drain(..) {
            t.abort();
        }
        if let Some(t) = self.listing.take() {
            t.abort();
        }
    }

    /// Execute (or resume) a run in the background, its events into the loop.
    fn drive(&mut self, p: Arc<Project>, store: Arc<dyn ObjectStore>, run: crate::pipeline::Run) {
        let cancel = CancellationToken::new();
        let on_cluster = run.phases.iter().any(|ph| {
            matches!(
                p.phase(ph.phase).engine,
                crate::project::Engine::Ray | crate::project::Engine::Slurm
            ) && !ph.engine.starts_with("local")
        });
        self.running.retain(|_, (t, _)| !t.is_cancelled());
        self.running
            .insert(run.id.clone(), (cancel.clone(), on_cluster));
        let (ws, ev) = (self.ws.clone(), self.run_tx.clone());
        tokio::spawn(async move {
            let r = execute(ws, p, store, run, cancel, ev).await;
            tracing::info!(run = %r.id, state = %r.state, "run finished");
        });
    }

    fn send(&self, m: Msg) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(m).await;
        });
    }

    pub fn perform(&mut self, c: Command) {
        tracing::debug!(?c, "command");
        match c {
            Command::Quit => self.shutdown(),
            Command::StartRun { phases } => {
                let Some(p) = self.project.clone() else {
                    return self.send(Msg::Error("no valid project loaded".into()));
                };
                let run = prepare_run(&p, &self.target, &phases);
                let Some(store) = self.store.clone() else {
                    return;
                };
                self.drive(p, store, run);
            }
            Command::ResumeRuns => {
                let (Some(p), Some(store)) = (self.project.clone(), self.store.clone()) else {
                    return;
                };
                let j = self.ws.journal.clone();
                let orphans = match j.orphans() {
                    Ok(o) => o,
                    Err(e) => return self.send(Msg::Error(format!("reading the journal: {e}"))),
                };
                let file = p.file.display().to_string();
                let (mine, others): (Vec<_>, Vec<_>) =
                    orphans.into_iter().partition(|r| r.project_file == file);
                let (mut resumed, mut waiting) = (0, others.len());
                for run in mine {
                    if run.target != self.target {
                        waiting += 1;
                        continue;
                    }
                    resumed += 1;
                    self.drive(p.clone(), store.clone(), run);
                }
                if resumed + waiting > 0 {
                    let mut m = format!("re-attached to {resumed} unfinished run(s)");
                    if waiting > 0 {
                        m.push_str(&format!(
                            "; {waiting} of other projects or targets wait for `tandem runs resume`"
                        ));
                    }
                    self.send(Msg::Info(m));
                }
            }
            Command::CancelRun { run_id } => match self.running.get(&run_id) {
                Some((t, _)) => t.cancel(),
                None => self.send(Msg::Error(format!(
                    "run {run_id} was not started by this tandem; it cannot be cancelled from here"
                ))),
            },
            Command::ReloadRuns => {
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
            Command::Tail { run_id } => {
                if let Some(t) = self.tail.take() {
                    t.abort();
                }
                for t in self.cw_adhoc.drain(..) {
                    t.abort();
                }
                self.tail_cloud(&run_id);
                self.tail = Some(tokio::spawn(tail_run(
                    self.ws.clone(),
                    run_id,
                    self.tx.clone(),
                )));
            }
            Command::CloudGroups { target } => {
                self.report_rate();
                let (tx, this) = (self.tx.clone(), self.cw_logs_handle());
                tokio::spawn(async move {
                    let Some(cw) = this.get(&target).await else {
                        return;
                    };
                    let r = cw.groups(None, 1000).await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::CloudGroups(r)).await;
                });
            }
            Command::CloudStreams { target, group } => {
                let (tx, this) = (self.tx.clone(), self.cw_logs_handle());
                tokio::spawn(async move {
                    let Some(cw) = this.get(&target).await else {
                        return;
                    };
                    let r = cw
                        .streams(&group, None, 1000)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::CloudStreams { group, result: r }).await;
                });
            }
            Command::TailCloud {
                target,
                group,
                streams,
                into,
            } => {
                self.report_rate();
                let (tx, this, visible) = (
                    self.tx.clone(),
                    self.cw_logs_handle(),
                    self.logs_visible.clone(),
                );
                let spec = TailSpec {
                    group,
                    streams,
                    start_ms: chrono::Utc::now().timestamp_millis() - 10 * 60_000,
                    ..Default::default()
                };
                self.cw_adhoc.push(tokio::spawn(async move {
                    let Some(cw) = this.get(&target).await else {
                        return;
                    };
                    follow_cloud(cw, vec![spec], into, tx, visible, || None).await
                }));
            }
            Command::LoadCloudMetrics {
                target,
                period,
                stat,
                since_secs,
            } => {
                let Some(w) = self
                    .project
                    .as_ref()
                    .and_then(|p| p.targets.get(&target))
                    .map(|t| t.watch.clone())
                else {
                    return;
                };
                self.report_rate();
                let (this, meter, tx) = (
                    self.cw_metrics_handle(),
                    self.meter.clone(),
                    self.tx.clone(),
                );
                tokio::spawn(async move {
                    let Some(client) = this.get(&target).await else {
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
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::CloudMetrics(r)).await;
                    let _ = tx.send(Msg::AwsRate(meter.rate())).await;
                });
            }
            Command::ListMetrics { target, namespace } => {
                self.report_rate();
                let (this, tx) = (self.cw_metrics_handle(), self.tx.clone());
                tokio::spawn(async move {
                    let Some(client) = this.get(&target).await else {
                        return;
                    };
                    let limit = if namespace.is_some() {
                        5000
                    } else {
                        super::watch::NAMESPACE_SCAN
                    };
                    let result = client
                        .list(namespace.as_deref(), None, "Average", limit)
                        .await
                        .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::MetricList { namespace, result }).await;
                });
            }
            Command::AddMetrics { target, queries } => {
                let Some(p) = self.project.clone() else {
                    return self.send(Msg::Error("no valid project loaded".into()));
                };
                let msg = match crate::project::edit::add_metrics(&p.file, &target, &queries) {
                    Ok((newp, n)) => {
                        self.project = Some(Arc::new(newp.clone()));
                        Msg::MetricsAdded(Ok((n, Box::new(newp))))
                    }
                    Err(e) => Msg::MetricsAdded(Err(e.to_string())),
                };
                self.send(msg);
            }
            Command::LoadMetrics { run_id } => {
                let (ws, tx) = (self.ws.clone(), self.tx.clone());
                tokio::spawn(async move {
                    for phase in PhaseId::ALL {
                        let path = ws.metrics_path(&run_id, phase);
                        let samples = tokio::task::spawn_blocking(move || {
                            std::fs::read_to_string(path)
                                .map(|t| {
                                    t.lines()
                                        .filter_map(|l| serde_json::from_str(l).ok())
                                        .collect::<Vec<_>>()
                                })
                                .unwrap_or_default()
                        })
                        .await
                        .unwrap_or_default();
                        let _ = tx
                            .send(Msg::MetricsLoaded {
                                run_id: run_id.clone(),
                                phase,
                                samples,
                            })
                            .await;
                    }
                });
            }
            Command::ListBuckets => {
                let Some(store) = self.store.clone() else {
                    return;
                };
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let r = store.list_buckets().await.map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Buckets(r)).await;
                });
            }
            Command::List {
                req,
                bucket,
                prefix,
                token,
            } => {
                let Some(store) = self.store.clone() else {
                    return;
                };
                if let Some(t) = self.listing.take() {
                    t.abort();
                }
                let tx = self.tx.clone();
                self.listing = Some(tokio::spawn(async move {
                    let mut token = token;
                    loop {
                        match store
                            .list_page(
                                &bucket,
                                &prefix,
                                true,
                                token.clone(),
                                crate::storage::page_size(&token),
                            )
                            .await
                        {
                            Ok(page) => {
                                let done = page.next.is_none();
                                token = page.next.clone();
                                if tx
                                    .send(Msg::StorePage {
                                        req,
                                        entries: page.entries,
                                        next: page.next,
                                    })
                                    .await
                                    .is_err()
                                    || done
                                {
                                    return;
                                }
                            }
                            Err(e) => {
                                let _ = tx
                                    .send(Msg::StoreError {
                                        req,
                                        error: e.to_string(),
                                    })
                                    .await;
                                return;
                            }
                        }
                    }
                }));
            }
            Command::CancelList => {
                if let Some(t) = self.listing.take() {
                    t.abort();
                }
            }
            Command::Preview { bucket, key } => {
                let Some(store) = self.store.clone() else {
                    return;
                };
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let result = async {
                        let meta = store.head(&bucket, &key).await?;
                        if key.to_ascii_lowercase().ends_with(".parquet") {
                            return parquet_preview(&*store, &bucket, &key, meta.size).await;
                        }
                        let head = store.get_range(&bucket, &key, 0..64 * 1024).await?;
                        Ok::<_, crate::storage::StoreError>(super::update::make_preview(
                            &key, &head, meta.size,
                        ))
                    }
                    .await
                    .map_err(|e| e.to_string());
                    let _ = tx.send(Msg::Preview { key, result }).await;
                });
            }
            Command::PlotFiles { req, run_id, plot } => {
                let (Some(reader), tx) = (self.plot_reader(), self.tx.clone()) else {
                    return;
                };
                tokio::spawn(async move {
                    let files = match reader.files(&run_id, plot).await {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = tx.send(Msg::Error(format!("plot files: {e}"))).await;
                            vec![]
                        }
                    };
                    let _ = tx.send(Msg::PlotFiles { req, files }).await;
                });
            }
            Command::ExportPlot {
                run_id,
                plot,
                file,
                out,
                compare,
                more,
                diff,
                hold,
            } => {
                let (Some(reader), Some(p), tx) =
                    (self.plot_reader(), self.project.clone(), self.tx.clone())
                else {
                    return;
                };
                tokio::spawn(async move {
                    let t0 = std::time::Instant::now();
                    let data = reader
                        .load_compared(&run_id, plot, &file, compare.as_deref(), &more, diff, None)
                        .await;
                    let r = tokio::task::spawn_blocking(move || {
                        let spec = p.plots.get(plot).ok_or("no such plot")?;
                        let vs = match (&compare, diff) {
                            (Some(o), true) => format!(" − {o}"),
                            (Some(o), false) => std::iter::once(o)
                                .chain(&more)
                                .map(|r| format!(" vs {r}"))
                                .collect(),
                            (None, _) => String::new(),
                        };
                        let title = format!("{} · {run_id}{vs} · {file}", spec.name);
                        let how = plotload::ExportAs {
                            label: &run_id,
                            diff: diff && compare.is_some(),
                            hold,
                            title: &title,
                            size: (1200, 800),
                        };
                        plotload::export(spec, &data?, &how, std::path::Path::new(&out))
                            .map(|_| format!("exported {out} ({} ms)", t0.elapsed().as_millis()))
                    })
                    .await
                    .unwrap_or_else(|e| Err(e.to_string()));
                    let _ = tx
                        .send(match r {
                            Ok(m) => Msg::Info(m),
                            Err(e) => Msg::Error(e),
                        })
                        .await;
                });
            }
            Command::LoadPlot {
                req,
                run_id,
                plot,
                file,
                cells,
                hold,
                compare,
                more,
                diff,
                window,
                chart,
            } => {
                let (Some(reader), Some(p), tx) =
                    (self.plot_reader(), self.project.clone(), self.tx.clone())
                else {
                    return;
                };
                let picker = self.picker.clone();
                tokio::spawn(async move {
                    let (cmap, fixed) = p
                        .plots
                        .get(plot)
                        .map(|x| {
                            let d = diff && compare.is_some();
                            (
                                crate::app::plots::shown_cmap(&x.cmap, d).to_string(),
                                // a fixed range is of the values, not of their difference
                                x.range.filter(|_| !d),
                            )
                        })
                        .unwrap_or_default();
                    // a heatmap is read straight to the part in view at the size it is shown
                    // (its pixels on a graphics protocol, else two rows of blocks a cell)
                    let fit = cells.map(|c| crate::plot::Fit {
                        window: window.unwrap_or(crate::plot::Window::ALL),
                        within: match &picker {
                            Some(pk) => {
                                let fs = pk.font_size();
                                (
                                    c.1 as usize * fs.height as usize,
                                    c.0 as usize * fs.width as usize,
                                )
                            }
                            None => (c.1 as usize * 2, c.0 as usize),
                        },
                    });
                    let mut result = reader
                        .load_compared(&run_id, plot, &file, compare.as_deref(), &more, diff, fit)
                        .await;
                    let (result, image, lines) = tokio::task::spawn_blocking(move || {
                        // a heatmap on a terminal with a pixel protocol: its image too, made here
                        // off the UI task, from the same field (no copy)
                        let image = match (&result, cells, &picker) {
                            (Ok(PlotData::Field { field, stats, .. }), Some(c), Some(pk)) => {
                                let range = crate::app::plots::pick_range(hold, fixed, stats);
                                Some(crate::plot::pixels::encode(pk, req, field, &cmap, range, c))
                            }
                            // two runs' fields: an image each, beside each other, one range
                            (Ok(PlotData::Compare { a, b, .. }), Some(c), Some(pk)) => {
                                match (a.as_ref(), b.as_ref()) {
                                    (
                                        PlotData::Field {
                                            field: fa,
                                            stats: sa,
                                            ..
                                        },
                                        PlotData::Field {
                                            field: fb,
                                            stats: sb,
                                            ..
                                        },
                                    ) => {
                                        let range = crate::app::plots::pick_range(
                                            hold,
                                            fixed,
                                            &sa.joined(sb),
                                        );
                                        let half = crate::app::plots::side_cells(c);
                                        Some(crate::plot::pixels::encode_pair(
                                            pk,
                                            req,
                                            (fa, fb),
                                            &cmap,
                                            range,
                                            (c, half),
                                        ))
                                    }
                                    _ => None,
                                }
                            }
                            _ => None,
                        };
                        // the character heatmap gets the field block-averaged to its cells here,
                        // so no frame averages a large field
                        if let (Ok(data), Some(c), None) = (&mut result, cells, &image) {
                            crate::app::plots::fit_to_cells(data, c);
                        }
                        // a series: decimated to the chart here, so no frame does it
                        let lines = match (&result, chart, p.plots.get(plot)) {
                            (Ok(data), Some(w), Some(spec)) => {
                                crate::app::plots::lines_of(spec, data, window, w, req)
                            }
                            _ => None,
                        };
                        (result, image, lines)
                    })
                    .await
                    .unwrap_or_else(|e| (Err(e.to_string()), None, None));
                    if let Some(lines) = lines {
                        let lines = Box::new(lines);
                        let _ = tx.send(Msg::PlotLines { req, lines }).await;
                    }
                    let _ = tx.send(Msg::PlotLoaded { req, result }).await;
                    if let Some(result) = image {
                        let _ = tx.send(Msg::PlotImage { req, result }).await;
                    }
                });
            }
            Command::DecimateLines {
                req,
                plot,
                data,
                window,
                chart,
            } => {
                let (Some(p), tx) = (self.project.clone(), self.tx.clone()) else {
                    return;
                };
                tokio::spawn(async move {
                    let lines = tokio::task::spawn_blocking(move || {
                        crate::app::plots::lines_of(p.plots.get(plot)?, &data, window, chart, req)
                    })
                    .await
                    .ok()
                    .flatten();
                    if let Some(lines) = lines {
                        let lines = Box::new(lines);
                        let _ = tx.send(Msg::PlotLines { req, lines }).await;
                    }
                });
            }
            Command::Transfer { id, spec } => {
                let Some(store) = self.store.clone() else {
                    return;
                };
                let cancel = CancellationToken::new();
                if let Some(old) = self.transfers.insert(id, cancel.clone()) {
                    old.cancel();
                }
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let progress = Arc::new(crate::storage::transfer::Progress::default());
                    let t0 = std::time::Instant::now();
                    let report = {
                        let (tx, progress) = (tx.clone(), progress.clone());
                        tokio::spawn(async move {
                            let mut every = tokio::time::interval(Duration::from_millis(250));
                            loop {
                                every.tick().await;
                                if send_progress(&tx, id, &progress, t0).await.is_err() {
                                    return;
                                }
                            }
                        })
                    };
                    let state = transfer(store, &spec, progress.clone(), cancel).await;
                    report.abort();
                    let _ = send_progress(&tx, id, &progress, t0).await;
                    let _ = tx.send(Msg::TransferEnded { id, state }).await;
                });
            }
            Command::LoadJobs { target } => self.ask_slurm(target, SlurmAsk::Queue),
            Command::CancelJob { target, id } => self.ask_slurm(target, SlurmAsk::Cancel(id)),
            Command::LoadPartitions { target } => self.ask_slurm(target, SlurmAsk::Partitions),
            Command::JobLog {
                target,
                id,
                paths,
                offsets,
            } => self.ask_slurm(target, SlurmAsk::Log { id, paths, offsets }),
            Command::Notify { .. } | Command::Copy { .. } => {} // the loop writes these
            Command::LoadClusters => {
                let (tx, cell, aws) = (self.tx.clone(), self.sagemaker.clone(), self.aws.clone());
                tokio::spawn(async move {
                    let opts = crate::cluster::DiscoverOpts {
                        aws,
                        ..Default::default()
                    };
                    let client = cell
                        .get_or_init(|| crate::cluster::hyperpod::client(&opts.aws))
                        .await;
                    let r = crate::cluster::discover(client, &opts)
                        .await
                        .map_err(|e| e.message);
                    let _ = tx.send(Msg::ClustersLoaded(r)).await;
                });
            }
            Command::LoadRay { target } => {
                let (Some(p), tx, rays) =
                    (self.project.clone(), self.tx.clone(), self.rays.clone())
                else {
                    return;
                };
                tokio::spawn(async move {
                    // a client per target and settings: a picked head node makes a new one
                    let key = format!("{target}\u{0}{:?}", p.targets.get(&target));
                    let ray = {
                        let mut m = rays.lock().await;
                        match m.get(&key) {
                            Some(r) => Ok(r.clone()),
                            None => match crate::engine::ray::for_target(&p, &target).await {
                                Ok(r) => {
                                    let r = Arc::new(r);
                                    m.insert(key, r.clone());
                                    Ok(r)
                                }
                                Err(e) => Err(e),
                            },
                        }
                    };
                    let msg = match ray {
                        Ok(r) => {
                            let before = r.requests();
                            let result = r.cluster().await.map_err(|e| e.to_string());
                            Msg::RayLoaded {
                                result,
                                requests: r.requests() - before,
                            }
                        }
                        Err(e) => Msg::RayLoaded {
                            result: Err(e),
                            requests: 0,
                        },
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Command::UseNode { target, ssm } => {
                let Some(p) = self.project.clone() else {
                    return self.send(Msg::Error("no valid project loaded".into()));
                };
                let msg = match crate::project::edit::set_head_node(&p.file, &target, &ssm) {
                    Ok(newp) => {
                        self.project = Some(Arc::new(newp.clone()));
                        Msg::HeadPicked {
                            result: Ok((target, ssm)),
                            project: Some(Box::new(newp)),
                        }
                    }
                    Err(e) => Msg::HeadPicked {
                        result: Err(e.to_string()),
                        project: None,
                    },
                };
                self.send(msg);
            }
            Command::CancelTransfer { id } => {
                if let Some(t) = self.transfers.remove(&id) {
                    t.cancel();
                }
            }
            Command::LoadTheme { name } => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let (theme, e) = Theme::load(&name, Theme::user_dir().as_deref());
                    let _ = tx
                        .send(Msg::ThemeLoaded {
                            theme,
                            error: e.map(|e| e.to_string()),
                        })
                        .await;
                });
            }
        }
    }
}

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

type CwCache<C> = Arc<tokio::sync::Mutex<HashMap<String, C>>>;

/// What a spawned task needs to get a target's CloudWatch client.
#[derive(Clone)]
struct CwHandle<C> {
    project: Option<Arc<Project>>,
    aws: crate::aws::AwsOpts,
    meter: Meter,
    cache: CwCache<C>,
}

impl<C: CwClient> CwHandle<C> {
    async fn get(&self, target: &str) -> Option<C> {
        let w = self.project.as_ref()?.targets.get(target)?.watch.clone();
        let mut c = self.cache.lock().await;
        if let Some(x) = c.get(target) {
            return Some(x.clone());
        }
        let x = C::make(w.aws(&self.aws), self.meter.clone()).await;
        c.insert(target.to_string(), x.clone());
        Some(x)
    }
}

/// Poll `specs` until the task is stopped, or until two minutes past `ended()` (a finished run):
/// every 5 s while the Logs view is on screen, 30 s when not (doubled per throttled poll), each
/// page of a busy window at once. Events go to the Logs view as lines of `into`.
async fn follow_cloud(
    cw: CwLogs,
    specs: Vec<TailSpec>,
    into: String,
    tx: mpsc::Sender<Msg>,
    visible: Arc<AtomicBool>,
    ended: impl Fn() -> Option<chrono::DateTime<chrono::Utc>>,
) {
    let mut tails: Vec<Tail> = specs.into_iter().map(Tail::new).collect();
    let mut reported: Option<String> = None;
    loop {
        let over = ended();
        let mut lines = Vec::new();
        for t in &mut tails {
            let group = t.spec.group.clone();
            loop {
                match t.poll(&cw).await {
                    Ok(evs) => {
                        reported = None;
                        lines.extend(cloud_lines(&group, evs))
                    }
                    Err(e) => {
                        if reported.as_deref() != Some(e.msg.as_str()) {
                            let _ = tx.send(Msg::Error(e.msg.clone())).await;
                            reported = Some(e.msg);
                        }
                        break;
                    }
                }
                if !t.pending() {
                    break;
                }
            }
        }
        if !lines.is_empty()
            && tx
                .send(Msg::LogLines {
                    run_id: into.clone(),
                    lines,
                })
                .await
                .is_err()
        {
            return;
        }
        if let Some(end) = over {
            if chrono::Utc::now() - end > chrono::Duration::seconds(120) {
                return;
            }
        }
        let was_visible = visible.load(Ordering::Relaxed);
        let base = if was_visible {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(30)
        };
        let wait = tails
            .iter()
            .map(|t| t.next_delay(base))
            .max()
            .unwrap_or(base);
        // wake early when the view comes back on screen
        let until = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if visible.load(Ordering::Relaxed) && !was_visible {
                break;
            }
        }
    }
}

/// CloudWatch events as Logs view lines, tagged with their stream.
fn cloud_lines(group: &str, evs: Vec<crate::observe::cloudwatch::CwEvent>) -> Vec<LogLine> {
    crate::observe::cloudwatch::event_lines(group, evs)
        .map(|(tag, at, text)| LogLine {
            phase: PhaseId::Solve,
            stderr: false,
            text,
            at,
            tag: Some(tag),
        })
        .collect()
}

/// Follow a run's four log files by offset until the run is over and every byte was read.
async fn tail_run(ws: Workspace, run_id: String, tx: mpsc::Sender<Msg>) {
    let mut tails: Vec<(PhaseId, bool, FileTail)> = PhaseId::ALL
        .iter()
        .flat_map(|&p| [(p, false), (p, true)])
        .map(|(p, e)| (p, e, FileTail::new(ws.log_path(&run_id, p, e))))
        .collect();
    let mut idle_polls = 0u32;
    let mut over = false;
    // read at most this much of a file per poll (a message of ~12k lines); a file that had more
    // is read again at once, so a fast writer is followed at disk speed, not at CHUNK per 100 ms
    const CHUNK: u64 = 1 << 20;
    const QUEUED: usize = 4;
    loop {
        let mut lines = Vec::new();
        let mut behind = false;
        for (phase, stderr, t) in &mut tails {
            let before = t.offset();
            let polled = t.poll(CHUNK, over);
            behind |= t.offset().saturating_sub(before) >= CHUNK;
            match polled {
                Ok(new) => {
                    let at = chrono::Utc::now().timestamp_millis();
                    lines.extend(new.into_iter().map(|text| LogLine {
                        phase: *phase,
                        stderr: *stderr,
                        text,
                        at,
                        tag: None,
                    }))
                }
                Err(e) => {
                    let _ = tx
                        .send(Msg::Error(format!("reading {}: {e}", t.path.display())))
                        .await;
                }
            }
        }
        let got = !lines.is_empty();
        if got
            && tx
                .send(Msg::LogLines {
                    run_id: run_id.clone(),
                    lines,
                })
                .await
                .is_err()
        {
            return;
        }
        if over {
            return;
        }
        if !got {
            // quiet: is the run over? then one last read that flushes partial lines
            over = ws
                .journal
                .get(&run_id)
                .ok()
                .flatten()
                .is_none_or(|r| r.state.is_terminal());
            if over {
                continue;
            }
        }
        idle_polls = if got { 0 } else { idle_polls + 1 };
        if behind {
            // back-pressure: read on only while the UI keeps up (a few chunks queued at most),
            // so a writer faster than the UI costs lag, not memory
            while tx.max_capacity() - tx.capacity() > QUEUED {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            continue;
        }
        // poll fast while lines flow, back off to 1 s when quiet
        let wait = if idle_polls < 4 { 100 } else { 1000 };
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
}

/// A Parquet object's schema and row groups from its footer: one ranged read of the tail, and a
/// second only when the footer is larger than that.
async fn parquet_preview(
    store: &dyn ObjectStore,
    bucket: &str,
    key: &str,
    size: u64,
) -> Result<super::msg::Preview, crate::storage::StoreError> {
    use crate::storage::parquet::{footer_len, summary, TAIL};
    let mut tail = store
        .get_range(bucket, key, size.saturating_sub(TAIL)..size)
        .await?;
    if let Ok(n) = footer_len(&tail) {
        if n + 8 > tail.len() as u64 && n + 8 <= size {
            tail = store.get_range(bucket, key, size - n - 8..size).await?;
        }
    }
    let lines = summary(&tail, size).unwrap_or_else(|e| vec![e]);
    Ok(super::msg::Preview::Text {
        lines,
        truncated: false,
    })
}

/// One poll of a job's log for the Jobs view: the paths from scontrol when unknown, then state and
/// the new bytes from the offsets.
async fn job_log(
    slurm: &crate::engine::slurm::Slurm<'_>,
    id: &str,
    paths: Option<(String, String)>,
    offsets: (u64, u64),
    c: &CancellationToken,
) -> Result<super::jobs::JobLogChunk, String> {
    let paths = match paths {
        Some(x) => x,
        None => slurm
            .log_paths(id, c)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("Slurm no longer knows job {id}: where its log is cannot be asked")
            })?,
    };
    let poll = slurm
        .poll(id, &paths.0, &paths.1, offsets, c)
        .await
        .map_err(|e| e.to_string())?;
    Ok(super::jobs::JobLogChunk {
        paths,
        status: poll.status,
        stdout: poll.stdout,
        stderr: poll.stderr,
    })
}

/// The transport and Slurm settings of a Slurm target.
/// Transports are kept per target, so an SSH master connection serves every later poll.
async fn slurm_of(
    p: &Project,
    target: &str,
    cache: &TransportCache,
) -> Result<
    (
        Arc<dyn crate::transport::Transport>,
        crate::project::SlurmTarget,
    ),
    String,
> {
    let st = p
        .slurm_target(target)
        .ok_or_else(|| format!("`{target}` is not a Slurm target"))?;
    // keyed by the transport's settings too: a target pointed at another node connects anew
    let key = format!("{target}\u{0}{:?}", st.transport);
    let mut c = cache.lock().await;
    let t = match c.get(&key) {
        Some(t) => t.clone(),
        None => {
            let t = crate::transport::connect(&st.transport)
                .await
                .map_err(|e| e.to_string())?;
            c.insert(key, t.clone());
            t
        }
    };
    Ok((t, st.clone()))
}

async fn send_progress(
    tx: &mpsc::Sender<Msg>,
    id: u64,
    p: &crate::storage::transfer::Progress,
    t0: std::time::Instant,
) -> Result<(), mpsc::error::SendError<Msg>> {
    use std::sync::atomic::Ordering::Relaxed;
    let progress = super::transfers::TransferProgress {
        done: p.done.load(Relaxed),
        total: p.total.load(Relaxed),
        files_done: p.files_done.load(Relaxed),
        files_total: p.files_total.load(Relaxed),
        elapsed_ms: t0.elapsed().as_millis() as u64,
    };
    tx.send(Msg::TransferProgress { id, progress }).await
}

/// Plan and run one transfer; how it ended.
async fn transfer(
    store: Arc<dyn ObjectStore>,
    spec: &super::transfers::TransferSpec,
    progress: Arc<crate::storage::transfer::Progress>,
    cancel: CancellationToken,
) -> super::transfers::TransferState {
    use super::transfers::{Direction, TransferState};
    use crate::storage::transfer as xfer;
    use crate::storage::StoreError;
    let t = xfer::Tuning::default();
    let r = match spec.dir {
        Direction::Down => {
            // a folder lands in a directory of its own name inside the one chosen
            let dest = if spec.recursive {
                let name = spec
                    .key
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or("");
                spec.local.join(name)
            } else {
                spec.local.clone()
            };
            match xfer::plan_download(
                &*store,
                &spec.bucket,
                &spec.key,
                &dest,
                spec.recursive,
                spec.overwrite,
            )
            .await
            {
                Ok(items) => xfer::download(store, &spec.bucket, &items, t, progress, cancel).await,
                Err(e) => Err(e),
            }
        }
        Direction::Up => {
            // a directory goes up as a folder of its own name inside the prefix
            let mut key = spec.key.clone();
            if spec.local.is_dir() {
                if let Some(name) = spec.local.file_name() {
                    key = format!("{key}{}/", name.to_string_lossy());
                }
            }
            let (src, rec) = (spec.local.clone(), spec.recursive);
            match tokio::task::spawn_blocking(move || xfer::plan_upload(&src, &key, rec)).await {
                Ok(Ok(items)) => {
                    xfer::upload(store, &spec.bucket, &items, t, progress, cancel).await
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(StoreError::Network(e.to_string())),
            }
        }
    };
    match r {
        Ok(()) => TransferState::Done,
        Err(StoreError::Cancelled) => TransferState::Cancelled,
        Err(StoreError::Exists(path)) => TransferState::Exists(path.display().to_string()),
        Err(e) => TransferState::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::transfers::{Direction, TransferSpec, TransferState};
    use crate::storage::local::LocalStore;

    #[tokio::test]
    async fn a_folder_download_lands_in_its_own_directory_and_asks_before_replacing() {
        let d = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(d.path().join("store")));
        std::fs::create_dir_all(d.path().join("store/lake")).unwrap();
        for k in ["runs/r1/a.csv", "runs/r1/sub/b.csv"] {
            store.put("lake", k, k.as_bytes().to_vec()).await.unwrap();
        }
        let out = d.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let mut spec = TransferSpec {
            dir: Direction::Down,
            bucket: "lake".into(),
            key: "runs/r1/".into(),
            local: out.clone(),
            recursive: true,
            overwrite: false,
        };
        let go = |spec: TransferSpec| {
            let store = store.clone();
            async move { transfer(store, &spec, Default::default(), CancellationToken::new()).await }
        };
        assert_eq!(go(spec.clone()).await, TransferState::Done);
        assert_eq!(
            std::fs::read_to_string(out.join("r1/sub/b.csv")).unwrap(),
            "runs/r1/sub/b.csv"
        );
        match go(spec.clone()).await {
            TransferState::Exists(p) => assert!(p.ends_with("r1/a.csv"), "{p}"),
            other => panic!("{other:?}"),
        }
        spec.overwrite = true;
        assert_eq!(go(spec.clone()).await, TransferState::Done);
        // and back up, into another prefix
        let up = TransferSpec {
            dir: Direction::Up,
            key: "copy/".into(),
            local: out.join("r1"),
            ..spec
        };
        assert_eq!(go(up).await, TransferState::Done);
        assert_eq!(
            store
                .get_range("lake", "copy/r1/sub/b.csv", 0..100)
                .await
                .unwrap(),
            b"runs/r1/sub/b.csv"
        );
    }

    #[tokio::test]
    async fn parquet_preview_reads_only_the_footer() {
        let d = tempfile::tempdir().unwrap();
        let store = LocalStore::new(d.path());
        std::fs::create_dir_all(d.path().join("lake")).unwrap();
        let mut f = vec![0u8; 200_000]; // a big body in front, as if of data pages
        f.extend(crate::storage::parquet::tests::sample().iter().skip(4));
        let size = f.len() as u64;
        store.put("lake", "t.parquet", f).await.unwrap();
        let p = parquet_preview(&store, "lake", "t.parquet", size)
            .await
            .unwrap();
        let super::super::msg::Preview::Text { lines, .. } = p else {
            panic!()
        };
        assert!(lines[0].starts_with("Parquet · 6 rows"), "{lines:?}");
    }
}
