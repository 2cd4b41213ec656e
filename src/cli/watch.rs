//! Headless watching: `tandem logs` (a run's own logs merged with its target's CloudWatch log
//! groups, or one group), `tandem metrics` (a target's CloudWatch metrics, or a local run's
//! samples).

use super::{journal_run, load_project, print_json, workspace, Exit, Global};
use crate::observe::cloudwatch::{
    self, CwEvent, CwLogs, CwMetrics, Meter, MetricQuery, Series, Tail, TailSpec,
};
use crate::observe::filter::LineFilter;
use crate::project::PhaseId;
use std::path::PathBuf;
use std::time::Duration;

/// What `tandem logs` was asked.
#[derive(Debug, Default)]
pub struct LogsArgs {
    pub run: Option<String>,
    pub phase: Option<PhaseId>,
    pub group: Option<String>,
    pub streams: Vec<String>,
    pub filter: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub sources: Vec<String>,
    pub list: bool,
    pub poll: f64,
    pub follow: bool,
    pub json: bool,
    pub project: Option<PathBuf>,
}

/// A time given as `10m`, `2h`, `90s`, `1d` (that long ago), epoch milliseconds, or RFC 3339.
pub fn parse_when(s: &str, now_ms: i64) -> Result<i64, String> {
    let s = s.trim();
    let bad = || {
        format!("`{s}`: expected 30s, 10m, 2h, 1d (ago), epoch milliseconds or a time like 2026-11-26T05:00:00Z")
    };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if s.len() >= 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| bad());
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    Ok(now_ms - n * ms)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| "--:--:--.---".into())
}

/// One line of the merged timeline.
struct Line {
    at: i64,
    source: String,
    stderr: bool,
    text: String,
}

fn print_line(l: &Line, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"at": l.at, "source": l.source, "stream": if l.stderr {"stderr"} else {"stdout"}, "line": l.text})
        );
    } else {
        println!(
            "{} {}{} {}",
            stamp(l.at),
            l.source,
            if l.stderr { "!" } else { " " },
            l.text
        );
    }
}

fn cw_lines(group: &str, evs: Vec<CwEvent>) -> Vec<Line> {
    cloudwatch::event_lines(group, evs)
        .map(|(tag, at, text)| Line {
            at,
            source: tag.to_string(),
            stderr: false,
            text,
        })
        .collect()
}

pub async fn logs(g: &Global, a: LogsArgs) -> Result<(), Exit> {
    if a.list || (a.run.is_none() && a.group.is_none()) {
        return list(g, &a).await;
    }
    let now = now_ms();
    let since = a
        .since
        .as_deref()
        .map(|s| parse_when(s, now))
        .transpose()
        .map_err(Exit::bad)?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_when(s, now))
        .transpose()
        .map_err(Exit::bad)?;
    if a.streams.len() > 100 {
        return Err(Exit::bad("at most 100 --stream (CloudWatch's limit)"));
    }
    let poll = Duration::from_secs_f64(a.poll.clamp(0.2, 3600.0));
    match &a.run {
        None => {
            let group = a.group.clone().unwrap_or_default();
            let cw = CwLogs::new(&g.aws(), Meter::default()).await;
            let mut tail = Tail::new(TailSpec {
                group: group.clone(),
                streams: a.streams.clone(),
                pattern: a.filter.clone(),
                start_ms: since.unwrap_or(now - 600_000),
                end_ms: until,
                lookback_ms: 0,
            });
            loop {
                match tail.poll(&cw).await {
                    Ok(evs) => {
                        for l in cw_lines(&group, evs) {
                            print_line(&l, a.json);
                        }
                        if tail.pending() {
                            continue; // more pages of this window right away
                        }
                        if !a.follow {
                            return Ok(());
                        }
                        tokio::time::sleep(tail.next_delay(poll)).await;
                    }
                    Err(e) if a.follow && e.kind == crate::aws::FailureKind::Throttled => {
                        eprintln!("{e} (next poll in {:?})", tail.next_delay(poll));
                        tokio::time::sleep(tail.next_delay(poll)).await;
                    }
                    Err(e) => return Err(Exit::failed(e.to_string())),
                }
            }
        }
        Some(run) => logs_run(g, &a, run, since, until, poll).await,
    }
}

/// A run's logs: its phases' stdout and stderr, and with `--source cw` (or a target that names
/// log groups and no `--source`) its target's CloudWatch groups from the run's start, merged by time.
async fn logs_run(
    g: &Global,
    a: &LogsArgs,
    run: &str,
    since: Option<i64>,
    until: Option<i64>,
    poll: Duration,
) -> Result<(), Exit> {
    let ws = workspace(g);
    let r = journal_run(&ws, run)?;
    let want = |s: &str| a.sources.is_empty() || a.sources.iter().any(|x| x == s);
    for s in &a.sources {
        if !["pre", "sol", "cw", "preprocess", "solve"].contains(&s.as_str()) {
            return Err(Exit::bad(format!(
                "--source {s}: expected pre, sol or cw (repeat or comma-separate)"
            )));
        }
    }
    let filter = a.filter.as_deref().and_then(LineFilter::parse);
    let phases: Vec<PhaseId> = r
        .phases
        .iter()
        .map(|p| p.phase)
        .filter(|p| a.phase.is_none_or(|q| q == *p))
        .filter(|p| want(&p.as_str()[..3]) || want(p.as_str()))
        .collect();
    let mut tails: Vec<(PhaseId, bool, crate::observe::tail::FileTail)> = phases
        .iter()
        .flat_map(|&p| [(p, false), (p, true)])
        .map(|(p, e)| {
            (
                p,
                e,
                crate::observe::tail::FileTail::new(ws.log_path(&r.id, p, e)),
            )
        })
        .collect();
    // the target's CloudWatch groups, when it names any and cw is wanted
    let mut cw_tails: Vec<Tail> = Vec::new();
    let mut cw: Option<CwLogs> = None;
    if want("cw") {
        let groups = load_project(a.project.as_deref())
            .ok()
            .and_then(|p| p.targets.get(&r.target).map(|t| t.watch.clone()));
        match groups {
            Some(w) if !w.log_groups.is_empty() => {
                let start = since.unwrap_or(r.created.timestamp_millis() - 60_000);
                cw = Some(CwLogs::new(&w.aws(&g.aws()), Meter::default()).await);
                cw_tails = w
                    .log_groups
                    .iter()
                    .map(|grp| {
                        Tail::new(TailSpec {
                            group: grp.clone(),
                            start_ms: start,
                            end_ms: until,
                            ..Default::default()
                        })
                    })
                    .collect();
            }
            _ if a.sources.iter().any(|s| s == "cw") => {
                return Err(Exit::bad(format!(
                    "--source cw: target `{}` names no log_groups in the project file",
                    r.target
                )))
            }
            _ => {}
        }
    }
    let mut next_cw = tokio::time::Instant::now();
    loop {
        let over = !a.follow
            || ws
                .journal
                .get(&r.id)
                .ok()
                .flatten()
                .is_none_or(|x| x.state.is_terminal());
        let mut batch: Vec<Line> = Vec::new();
        for (p, err, t) in &mut tails {
            let at = now_ms();
            for text in t
                .poll(u64::MAX, over)
                .map_err(|e| Exit::failed(e.to_string()))?
            {
                batch.push(Line {
                    at,
                    source: p.as_str()[..3].to_string(),
                    stderr: *err,
                    text,
                });
            }
        }
        if let Some(c) = &cw {
            if over || tokio::time::Instant::now() >= next_cw {
                for t in &mut cw_tails {
                    // without --follow: every page; following: what the poll brings
                    loop {
                        match t.poll(c).await {
                            Ok(evs) => batch.extend(cw_lines(&t.spec.group.clone(), evs)),
                            Err(e) => {
                                eprintln!("{e}");
                                break;
                            }
                        }
                        if !t.pending() {
                            break;
                        }
                    }
                }
                next_cw = tokio::time::Instant::now()
                    + cw_tails
                        .iter()
                        .map(|t| t.next_delay(poll))
                        .max()
                        .unwrap_or(poll);
            }
        }
        let any = !batch.is_empty();
        batch.sort_by_key(|l| l.at);
        for l in batch {
            if filter.as_ref().is_none_or(|f| f.matches(&l.text)) {
                print_line(&l, a.json);
            }
        }
        if over {
            return Ok(());
        }
        if !any {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `tandem logs --list`: log groups (under --group as a prefix), or with `--group G` and
/// `--stream PREFIX`... the streams of G.
async fn list(g: &Global, a: &LogsArgs) -> Result<(), Exit> {
    let cw = CwLogs::new(&g.aws(), Meter::default()).await;
    let fail = |e: cloudwatch::CwError| Exit::failed(e.to_string());
    match (&a.group, a.list) {
        (Some(grp), true) if !grp.ends_with('/') || !a.streams.is_empty() => {
            let prefix = a.streams.first().map(String::as_str);
            let streams = cw.streams(grp, prefix, 1000).await.map_err(fail)?;
            if a.json {
                print_json(&streams);
            } else {
                for s in &streams {
                    println!(
                        "{}  {}",
                        s.last_event_ms.map(stamp).unwrap_or_else(|| "-".repeat(12)),
                        s.name
                    );
                }
            }
        }
        _ => {
            let prefix = a.group.as_deref();
            let groups = cw.groups(prefix, 1000).await.map_err(fail)?;
            if a.json {
                print_json(&groups);
            } else {
                if groups.is_empty() {
                    println!(
                        "no log groups{} (ParallelCluster writes {}…, HyperPod {}…)",
                        prefix.map(|p| format!(" under {p}")).unwrap_or_default(),
                        cloudwatch::SUGGESTED_GROUP_PREFIXES[0],
                        cloudwatch::SUGGESTED_GROUP_PREFIXES[1]
                    );
                }
                for gr in &groups {
                    println!(
                        "{:>10}  {}",
                        humansize::format_size(gr.stored_bytes.max(0) as u64, humansize::BINARY),
                        gr.name
                    );
                }
            }
        }
    }
    Ok(())
}

/// What `tandem metrics` was asked.
#[derive(Debug, Default)]
pub struct MetricsArgs {
    pub target: Option<String>,
    pub run: Option<String>,
    pub period: Option<i32>,
    pub stat: Option<String>,
    pub since: Option<String>,
    pub list: Option<String>,
    pub add: Option<String>,
    pub dimensions: Vec<String>,
    pub label: Option<String>,
    pub json: bool,
    pub project: Option<PathBuf>,
}

pub async fn metrics(g: &Global, a: MetricsArgs) -> Result<(), Exit> {
    if let Some(run) = &a.run {
        // a run's own samples (any target: the local sampler writes them)
        let ws = workspace(g);
        let r = journal_run(&ws, run)?;
        let mut series = Vec::new();
        for p in &r.phases {
            let text = std::fs::read_to_string(ws.metrics_path(&r.id, p.phase)).unwrap_or_default();
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
        .ok_or_else(|| Exit::bad(format!("no target `{tname}` in {}", p.file.display())))?;
    if let Some(spec) = &a.add {
        return add_metric(&p, &tname, spec, &a);
    }
    let meter = Meter::default();
    let cw = CwMetrics::new(&t.watch.aws(&g.aws()), meter.clone()).await;
    let fail = |e: cloudwatch::CwError| Exit::failed(e.to_string());
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
    if t.watch.metrics.is_empty() {
        return Err(Exit::bad(format!(
            "target `{tname}` names no CloudWatch metrics: add [[targets.{tname}.metrics]] (namespace, name, dimensions, stat) to {}, or an ssm target's EC2 instance_id for the defaults; `tandem metrics --list AWS/EC2` shows what CloudWatch has",
            p.file.display()
        )));
    }
    let period = a.period.unwrap_or(t.watch.period);
    let end = now_ms();
    let start = a
        .since
        .as_deref()
        .map(|s| parse_when(s, end))
        .transpose()
        .map_err(Exit::bad)?
        .unwrap_or(end - 3 * 3_600_000);
    let series = cw
        .fetch(&t.watch.metrics, period, a.stat.as_deref(), start, end)
        .await
        .map_err(fail)?;
    show_series(
        &series,
        &format!("target {tname} · period {period} s"),
        Some((&t.watch.metrics, meter.rate())),
        a.json,
    )
}

fn show_series(
    series: &[Series],
    title: &str,
    queries: Option<(&[MetricQuery], cloudwatch::Rate)>,
    json: bool,
) -> Result<(), Exit> {
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
            s.last().map(fmt_num).unwrap_or_else(|| "-".into()),
            vals.len(),
            if vals.is_empty() {
                "-".into()
            } else {
                fmt_num(lo)
            },
            if vals.is_empty() {
                "-".into()
            } else {
                fmt_num(hi)
            },
            sparkline(&vals, 40)
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

pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The last `width` values as block characters, scaled between their min and max.
pub fn sparkline(vals: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let v = &vals[vals.len().saturating_sub(width)..];
    let (lo, hi) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(*x), b.max(*x))
        });
    v.iter()
        .map(|x| {
            if !x.is_finite() {
                ' '
            } else if hi > lo {
                BARS[(((x - lo) / (hi - lo)) * 7.0).round() as usize]
            } else {
                BARS[3]
            }
        })
        .collect()
}

/// `tandem metrics --target T --add NAMESPACE/NAME [--dimension K=V]… [--stat] [--label]`: the
/// query goes into the project file (the target's defaults too, the first time), like `a` in the
/// Metrics view.
fn add_metric(
    p: &crate::project::Project,
    target: &str,
    spec: &str,
    a: &MetricsArgs,
) -> Result<(), Exit> {
    let (ns, name) = spec
        .rsplit_once('/')
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty())
        .ok_or_else(|| {
            Exit::bad(format!(
                "--add {spec}: expected NAMESPACE/NAME, like AWS/EC2/CPUUtilization or Solver/Residual"
            ))
        })?;
    let mut dimensions = Vec::new();
    for d in &a.dimensions {
        let (k, v) = d
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Exit::bad(format!("--dimension {d}: expected NAME=VALUE")))?;
        dimensions.push((k.to_string(), v.to_string()));
    }
    let q = cloudwatch::MetricQuery {
        label: a.label.clone().unwrap_or_else(|| name.to_string()),
        namespace: ns.into(),
        name: name.into(),
        dimensions,
        stat: a.stat.clone().unwrap_or_else(|| "Average".into()),
    };
    let (newp, n) = crate::project::edit::add_metrics(&p.file, target, std::slice::from_ref(&q))
        .map_err(|e| Exit::bad(e.to_string()))?;
    let total = newp
        .targets
        .get(target)
        .map_or(0, |t| t.watch.metrics.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        let now = 10_000_000_000;
        assert_eq!(parse_when("10m", now), Ok(now - 600_000));
        assert_eq!(parse_when("2h", now), Ok(now - 7_200_000));
        assert_eq!(parse_when("1700000000000", now), Ok(1_700_000_000_000));
        assert_eq!(
            parse_when("2026-11-26T05:00:00Z", now),
            Ok(1_795_669_200_000)
        );
        assert!(parse_when("soon", now).unwrap_err().contains("`soon`"));
        assert!(parse_when("5y", now).is_err());
    }

    #[test]
    fn sparkline_scales() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0], 10), "▁▅█");
        assert_eq!(sparkline(&[5.0, 5.0], 10), "▄▄");
        assert_eq!(sparkline(&[f64::NAN, 1.0, 2.0], 2), "▁█");
    }
}
