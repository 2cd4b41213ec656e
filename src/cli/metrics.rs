//! `tandem metrics`: a target's CloudWatch metrics (GetMetricData, batched), a run's own CPU and
//! memory samples (`--run`), what CloudWatch has (`--list NAMESPACE`), or a metric added to the
//! target in tandem.toml (`--add`).

use super::{journal_run, load_project, print_json, Failure, Global};
use crate::fmt::parse_when;
use crate::observe::cloudwatch::{self, CwMetrics, Meter, Series};
use crate::project::MetricQuery;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct MetricsArgs {
    #[arg(long)]
    target: Option<String>,
    /// A run's CPU and memory samples instead (the local sampler's, any target).
    #[arg(long)]
    run: Option<String>,
    /// Seconds per point (default: the target's metric_period, else 60).
    #[arg(long)]
    period: Option<i32>,
    /// Average, Maximum, Minimum, Sum, SampleCount, p99, ... (default: each query's own).
    #[arg(long)]
    stat: Option<String>,
    /// From when (30s, 10m, 2h, 1d ago, or a time); default 3h.
    #[arg(long)]
    since: Option<String>,
    /// List the metrics CloudWatch has in this namespace ("" for all).
    #[arg(long)]
    list: Option<String>,
    /// Add a metric to the target in the project file: NAMESPACE/NAME (AWS/EC2/CPUUtilization),
    /// with `--dimension K=V` (repeat) and `--stat`, `--label`.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    add: Option<String>,
    #[arg(long = "dimension", value_name = "K=V")]
    dimensions: Vec<String>,
    #[arg(long)]
    label: Option<String>,
    #[arg(long)]
    project: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl MetricsArgs {
    pub async fn run(self, g: &Global) -> Result<(), Failure> {
        let a = self;
        if let Some(run) = &a.run {
            // a run's own samples (any target: the local sampler writes them)
            let ws = g.workspace();
            let r = journal_run(&ws, run)?;
            let mut series = Vec::new();
            for p in &r.phases {
                let text =
                    std::fs::read_to_string(ws.metrics_path(&r.id, p.phase)).unwrap_or_default();
                let samples: Vec<crate::pipeline::runner::MetricSample> = text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                series.extend(cloudwatch::local_series(p.phase, &samples));
            }
            return show_series(&series, &format!("run {}", r.id), None, a.json);
        }
        let p = load_project(a.project.as_deref())?;
        let tname = a.target.clone().unwrap_or_else(|| p.default_target.clone());
        let t = p
            .targets
            .get(&tname)
            .ok_or_else(|| Failure::bad(format!("no target `{tname}` in {}", p.file.display())))?;
        if let Some(spec) = &a.add {
            return add_metric(&p, &tname, spec, &a);
        }
        let meter = Meter::default();
        let cw = CwMetrics::new(&t.cloudwatch.aws(&g.aws()), meter.clone()).await;
        let fail = |e: cloudwatch::CwError| Failure::failed(e.to_string());
        if let Some(ns) = &a.list {
            let ns = (!ns.is_empty()).then_some(ns.as_str());
            let found = cw
                .list(ns, None, a.stat.as_deref().unwrap_or("Average"), 5000)
                .await
                .map_err(fail)?;
            if a.json {
                print_json(&found);
            } else {
                for q in &found {
                    let dims: Vec<String> = q
                        .dimensions
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    println!("{:<24} {:<32} {}", q.namespace, q.name, dims.join(","));
                }
            }
            return Ok(());
        }
        if t.cloudwatch.metrics.is_empty() {
            return Err(Failure::bad(format!(
            "target `{tname}` names no CloudWatch metrics: add [[targets.{tname}.metrics]] (namespace, name, dimensions, stat) to {}, or an ssm target's EC2 instance_id for the defaults; `tandem metrics --list AWS/EC2` shows what CloudWatch has",
            p.file.display()
        )));
        }
        let period = a.period.unwrap_or(t.cloudwatch.period);
        let end = chrono::Utc::now().timestamp_millis();
        let start = a
            .since
            .as_deref()
            .map(|s| parse_when(s, end))
            .transpose()
            .map_err(Failure::bad)?
            .unwrap_or(end - 3 * 3_600_000);
        let series = cw
            .fetch(&t.cloudwatch.metrics, period, a.stat.as_deref(), start, end)
            .await
            .map_err(fail)?;
        show_series(
            &series,
            &format!("target {tname} · period {period} s"),
            Some((&t.cloudwatch.metrics, meter.rate())),
            a.json,
        )
    }
}

fn show_series(
    series: &[Series],
    title: &str,
    queries: Option<(&[MetricQuery], cloudwatch::Rate)>,
    json: bool,
) -> Result<(), Failure> {
    if json {
        print_json(&serde_json::json!({
            "title": title,
            "series": series,
            "queries": queries.map(|q| q.0),
            "calls": queries.map(|q| q.1),
        }));
        return Ok(());
    }
    println!("{title}");
    for s in series {
        let vals: Vec<f64> = s.points.iter().map(|p| p.1).collect();
        let (lo, hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        println!(
            "{:<16} {:>10} {:>5} pts  min {:<10} max {:<10} {}",
            s.label,
            s.last().map(crate::fmt::si).unwrap_or_else(|| "-".into()),
            vals.len(),
            if vals.is_empty() {
                "-".into()
            } else {
                crate::fmt::si(lo)
            },
            if vals.is_empty() {
                "-".into()
            } else {
                crate::fmt::si(hi)
            },
            crate::fmt::sparkline(&vals, 40)
        );
    }
    if let Some((_, r)) = queries {
        println!(
            "{} AWS calls, {} metrics requested (~${:.4} if repeated every minute for a month)",
            r.calls_per_min, r.metrics_per_min, r.usd_per_month
        );
    }
    Ok(())
}

/// `tandem metrics --target T --add NAMESPACE/NAME [--dimension K=V]… [--stat] [--label]`: the
/// query goes into the project file (the target's defaults too, the first time), like `a` in the
/// Metrics view.
fn add_metric(
    p: &crate::project::Project,
    target: &str,
    spec: &str,
    a: &MetricsArgs,
) -> Result<(), Failure> {
    let (ns, name) = spec
        .rsplit_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
        .ok_or_else(|| {
            Failure::bad(format!(
                "--add {spec}: expected NAMESPACE/NAME, like AWS/EC2/CPUUtilization or Solver/Residual"
            ))
        })?;
    let mut dimensions = Vec::new();
    for d in &a.dimensions {
        let (k, v) = d
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Failure::bad(format!("--dimension {d}: expected NAME=VALUE")))?;
        dimensions.push((k.to_string(), v.to_string()));
    }
    let q = MetricQuery {
        label: a.label.clone().unwrap_or_else(|| name.to_string()),
        namespace: ns.into(),
        name: name.into(),
        dimensions,
        stat: a.stat.clone().unwrap_or_else(|| "Average".into()),
    };
    let (newp, n) = crate::project::edit::add_metrics(&p.file, target, std::slice::from_ref(&q))
        .map_err(|e| Failure::bad(e.to_string()))?;
    let total = newp
        .targets
        .get(target)
        .map_or(0, |t| t.cloudwatch.metrics.len());
    if a.json {
        print_json(&serde_json::json!({
            "file": p.file, "target": target, "added": n, "metrics": total, "query": q,
        }));
    } else if n == 0 {
        println!("targets.{target} already charts {spec}");
    } else {
        println!(
            "{}: added {spec} to targets.{target} ({total} metrics)",
            p.file.display()
        );
    }
    Ok(())
}
