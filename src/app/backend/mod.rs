//! The backend: performs the Commands `update` returns, off the UI task, and answers with Msgs
//! over a bounded channel. It owns the clients (store, engines, CloudWatch, SageMaker), the runs
//! this process drives and the tails it follows; nothing here blocks a frame, and nothing here
//! reads the journal or the project file on the UI task. One file per concern: runs, logs,
//! cloud (CloudWatch), store (listings, previews, transfers), plots, slurm (the Jobs view),
//! clusters (HyperPod, Ray, head nodes). It knows `Command` and `Msg`, never `update` or a view.

mod cloud;
mod clusters;
mod logs;
mod plots;
mod runs;
mod slurm;
mod store;

use super::command::Command;
use super::msg::Msg;
use super::state::View;
use crate::engine::Connections;
use crate::pipeline::Workspace;
use crate::project::Project;
use crate::storage::ObjectStore;
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The project the backend works with: replaced (off the UI task) when tandem.toml is edited.
#[derive(Clone, Default)]
struct ProjectCell(Arc<RwLock<Option<Arc<Project>>>>);

impl ProjectCell {
    fn get(&self) -> Option<Arc<Project>> {
        self.0.read().ok().and_then(|p| p.clone())
    }
    fn set(&self, p: Project) {
        if let Ok(mut x) = self.0.write() {
            *x = Some(Arc::new(p));
        }
    }
}

pub struct Backend {
    tx: mpsc::Sender<Msg>,
    ws: Workspace,
    project: ProjectCell,
    target: String,
    store: Option<Arc<dyn ObjectStore>>,
    aws: crate::aws::AwsOpts,
    /// Transports and Ray clients of the project's targets, connected once.
    conns: Connections,
    runs: runs::Runs,
    logs: logs::Logs,
    cloud: cloud::Cloud,
    listing: store::Listing,
    plots: plots::Plots,
    clusters: clusters::Clusters,
    /// Stops the Jobs view's job log follower.
    job_log: Option<CancellationToken>,
}

impl Backend {
    pub fn new(
        tx: mpsc::Sender<Msg>,
        ws: Workspace,
        project: Option<Project>,
        target: String,
        store: Option<Arc<dyn ObjectStore>>,
    ) -> Backend {
        let cell = ProjectCell::default();
        if let Some(p) = project {
            cell.set(p);
        }
        Backend {
            runs: runs::Runs::new(tx.clone()),
            tx,
            ws,
            project: cell,
            target,
            store,
            aws: Default::default(),
            conns: Connections::default(),
            logs: Default::default(),
            cloud: Default::default(),
            listing: Default::default(),
            plots: Default::default(),
            clusters: Default::default(),
            job_log: None,
        }
    }

    /// The AWS options (profile, region) for clients other than S3.
    pub fn with_aws(mut self, aws: crate::aws::AwsOpts) -> Backend {
        self.aws = aws;
        self
    }

    /// The terminal's graphics protocol, once known (plots asked for before are characters).
    pub fn set_picker(&mut self, picker: Option<crate::plot::pixels::Picker>) {
        self.plots.picker = picker;
    }

    /// Tell the backend which view is on screen (called by the loop after each update).
    pub fn set_view(&self, v: View) {
        self.cloud.set_logs_visible(v == View::Logs);
    }

    /// Answer `m` from a task of its own (the loop never waits on the channel).
    fn send(&self, m: Msg) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(m).await;
        });
    }

    pub fn perform(&mut self, c: Command) {
        tracing::debug!(?c, "command");
        match c {
            Command::StartRun { phases, reuse } => self.start_run(phases, reuse),
            Command::PlanReuse => self.plan_reuse(),
            Command::ResumeRuns => self.resume_runs(),
            Command::CancelRun { run_id } => self.cancel_run(run_id),
            Command::ReloadRuns => self.reload_runs(),
            Command::FollowLogs { run_id } => self.follow_logs(run_id),
            Command::LoadMetrics { run_id } => self.load_samples(run_id),
            Command::CloudGroups { target } => self.cloud_groups(target),
            Command::CloudStreams { target, group } => self.cloud_streams(target, group),
            Command::TailCloud {
                target,
                group,
                streams,
                into,
            } => self.tail_group(target, group, streams, into),
            Command::LoadCloudMetrics {
                target,
                period,
                stat,
                since_secs,
            } => self.cloud_metrics(target, period, stat, since_secs),
            Command::ListMetrics { target, namespace } => self.list_metrics(target, namespace),
            Command::AddMetrics { target, queries } => self.add_metrics(target, queries),
            Command::ListBuckets => self.list_buckets(),
            Command::List {
                req,
                bucket,
                prefix,
                token,
            } => self.list(req, bucket, prefix, token),
            Command::CancelList => self.cancel_list(),
            Command::Preview { bucket, key } => self.preview(bucket, key),
            Command::Transfer { id, spec } => self.transfer(id, spec),
            Command::CancelTransfer { id } => self.cancel_transfer(id),
            Command::PlanSync { id, spec } => self.plan_sync(id, spec),
            Command::PlotFiles {
                req,
                run_id,
                plot,
                element,
            } => self.plot_files(req, run_id, plot, element),
            c @ Command::LoadPlot { .. } => self.load_plot(c),
            Command::DiffRuns { a, b } => self.diff_runs(a, b),
            Command::DecimateLines {
                req,
                plot,
                data,
                window,
                chart,
            } => self.decimate_lines(req, plot, data, window, chart),
            c @ Command::ExportPlot { .. } => self.export_plot(c),
            Command::LoadJobs { target } => self.ask_slurm(target, slurm::Ask::Queue),
            Command::CancelJob { target, id } => self.ask_slurm(target, slurm::Ask::Cancel(id)),
            Command::LoadPartitions { target } => self.ask_slurm(target, slurm::Ask::Partitions),
            Command::JobLog {
                target,
                id,
                paths,
                offsets,
            } => {
                let stop = CancellationToken::new();
                if let Some(old) = self.job_log.replace(stop.clone()) {
                    old.cancel();
                }
                self.ask_slurm(
                    target,
                    slurm::Ask::Log {
                        id,
                        paths,
                        offsets,
                        stop,
                    },
                )
            }
            Command::StopJobLog => {
                if let Some(old) = self.job_log.take() {
                    old.cancel();
                }
            }
            Command::LoadClusters => self.load_clusters(),
            Command::LoadRay { target } => self.load_ray(target),
            Command::UseNode { target, ssm } => self.use_node(target, ssm),
            Command::LoadTheme { name } => self.load_theme(name),
            // the loop writes these to the terminal itself
            Command::Notify { .. } | Command::Copy { .. } => {}
            Command::Quit => {}
        }
    }

    /// Stop what runs in the background for a quit: runs on a local phase are cancelled (their
    /// processes get SIGTERM, then SIGKILL after the grace period) and waited for, so they end
    /// recorded as cancelled; runs on a cluster phase go on, for the next tandem to re-attach to.
    pub async fn shutdown(&mut self) {
        self.listing.stop();
        self.logs.stop();
        self.cloud.stop();
        self.runs.stop_local(&self.ws).await;
    }

    fn load_theme(&self, name: String) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let (theme, e) =
                crate::theme::Theme::load(&name, crate::theme::Theme::user_dir().as_deref());
            let _ = tx
                .send(Msg::ThemeLoaded {
                    theme,
                    error: e.map(|e| e.to_string()),
                })
                .await;
        });
    }
}
