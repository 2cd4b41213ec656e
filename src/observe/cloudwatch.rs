//! CloudWatch for a target: log groups and streams, a tail of FilterLogEvents that never shows an
//! event twice (CloudWatch Logs), metric queries fetched in batches of up to 500 (CloudWatch), and
//! a meter of the calls made so the cost of watching is on screen.
//!
//! Everything that comes back (messages, stream names, metric labels) is sanitised here, once.

use crate::aws::{explain, AwsOpts, FailureKind};
pub use crate::project::MetricQuery;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A CloudWatch call that failed, explained (what to do about it), and whether it was throttled.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct CwError {
    pub kind: FailureKind,
    pub msg: String,
}

fn cw_err<E, R>(what: &str, e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> CwError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (kind, msg) = explain(what, e);
    CwError { kind, msg }
}

// ---------------------------------------------------------------------------------------------------
// The meter: calls and billed units over the last minute.

/// CloudWatch's price for GetMetricData: USD per metric requested.
pub const PRICE_PER_METRIC: f64 = 0.01 / 1000.0;
/// CloudWatch's price for the other API requests (ListMetrics, and counted here for the Logs
/// calls too, as an upper bound): USD per request, after the first million a month.
pub const PRICE_PER_REQUEST: f64 = 0.01 / 1000.0;
const MINUTES_PER_MONTH: f64 = 60.0 * 24.0 * 30.0;

/// Counts the AWS calls tandem makes for watching. Shared (cheap clone) by every client.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<VecDeque<Call>>>);

/// When a call was made, which API, how many metrics it requested.
type Call = (Instant, &'static str, u32);

/// What the meter says about the last minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Rate {
    pub calls_per_min: u32,
    pub metrics_per_min: u32,
    /// The last minute's calls, kept up for a month (30 days), in USD.
    pub usd_per_month: f64,
}

impl Meter {
    /// One call of `api`; `metrics` is how many metrics it requested (GetMetricData), else 0.
    pub fn record(&self, api: &'static str, metrics: u32) {
        let now = Instant::now();
        let mut q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back((now, api, metrics));
        while q
            .front()
            .is_some_and(|(t, _, _)| now.duration_since(*t) > Duration::from_secs(60))
        {
            q.pop_front();
        }
    }
    pub fn rate(&self) -> Rate {
        let now = Instant::now();
        let q = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let recent = q
            .iter()
            .filter(|(t, _, _)| now.duration_since(*t) <= Duration::from_secs(60));
        let (mut calls, mut metric_calls, mut metrics) = (0u32, 0u32, 0u32);
        for (_, api, m) in recent {
            calls += 1;
            if *api == "GetMetricData" {
                metric_calls += 1;
                metrics += m;
            }
        }
        Rate {
            calls_per_min: calls,
            metrics_per_min: metrics,
            usd_per_month: estimate(calls - metric_calls, metrics),
        }
    }
}

/// USD a month for `requests` a minute (billed per request) and `metrics` a minute requested
/// through GetMetricData (billed per metric).
pub fn estimate(requests_per_min: u32, metrics_per_min: u32) -> f64 {
    (metrics_per_min as f64 * PRICE_PER_METRIC + requests_per_min as f64 * PRICE_PER_REQUEST)
        * MINUTES_PER_MONTH
}

// ---------------------------------------------------------------------------------------------------
// CloudWatch Logs.

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogGroup {
    pub name: String,
    pub stored_bytes: i64,
    pub retention_days: Option<i32>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogStream {
    pub name: String,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
}

/// One event as tandem shows it: one line per line of the message, sanitised and capped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CwEvent {
    pub id: String,
    pub stream: String,
    /// The event's own time (ms since the epoch).
    pub timestamp: i64,
    /// When CloudWatch took it in.
    pub ingested: i64,
    pub message: String,
}

/// A CloudWatch Logs client with its meter.
#[derive(Clone)]
pub struct CwLogs {
    client: aws_sdk_cloudwatchlogs::Client,
    meter: Meter,
}

impl CwLogs {
    pub async fn new(opts: &AwsOpts, meter: Meter) -> CwLogs {
        let conf = crate::aws::sdk_config(opts).await;
        CwLogs {
            client: aws_sdk_cloudwatchlogs::Client::new(&conf),
            meter,
        }
    }
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Log groups whose name starts with `prefix`, up to `limit`, by name.
    pub async fn groups(
        &self,
        prefix: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogGroup>, CwError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.meter.record("DescribeLogGroups", 0);
            let r = self
                .client
                .describe_log_groups()
                .set_log_group_name_prefix(prefix.filter(|p| !p.is_empty()).map(Into::into))
                .set_next_token(token.take())
                .limit(50)
                .send()
                .await
                .map_err(|e| cw_err("DescribeLogGroups", &e))?;
            for g in r.log_groups() {
                out.push(LogGroup {
                    name: crate::observe::sanitize(g.log_group_name().unwrap_or_default())
                        .into_owned(),
                    stored_bytes: g.stored_bytes().unwrap_or(0),
                    retention_days: g.retention_in_days(),
                    created_ms: g.creation_time().unwrap_or(0),
                });
            }
            token = r.next_token().map(Into::into);
            if token.is_none() || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }

    /// Streams of `group`: newest event first, or by name under `prefix` (CloudWatch cannot do
    /// both at once).
    pub async fn streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogStream>, CwError> {
        use aws_sdk_cloudwatchlogs::types::OrderBy;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let prefix = prefix.filter(|p| !p.is_empty());
        loop {
            self.meter.record("DescribeLogStreams", 0);
            let mut req = self
                .client
                .describe_log_streams()
                .log_group_name(group)
                .set_next_token(token.take())
                .limit(50);
            req = match prefix {
                Some(p) => req.log_stream_name_prefix(p),
                None => req.order_by(OrderBy::LastEventTime).descending(true),
            };
            let r = req
                .send()
                .await
                .map_err(|e| cw_err(&format!("DescribeLogStreams {group}"), &e))?;
            for s in r.log_streams() {
                out.push(LogStream {
                    name: crate::observe::sanitize(s.log_stream_name().unwrap_or_default())
                        .into_owned(),
                    first_event_ms: s.first_event_timestamp(),
                    last_event_ms: s.last_event_timestamp(),
                });
            }
            token = r.next_token().map(Into::into);
            if token.is_none() || out.len() >= limit {
                out.truncate(limit);
                return Ok(out);
            }
        }
    }
}

/// What to tail: a whole group or some of its streams, from a time, under a filter pattern
/// (CloudWatch's own syntax: terms, "quoted phrases", `?either ?or`, JSON `{ $.level = "error" }`).
#[derive(Debug, Clone, Default)]
pub struct TailSpec {
    pub group: String,
    /// Empty: every stream of the group. At most 100 (FilterLogEvents' limit).
    pub streams: Vec<String>,
    pub pattern: Option<String>,
    /// Events from this time (ms since the epoch).
    pub start_ms: i64,
    /// Events before this time only (a jump to a window); None: follow.
    pub end_ms: Option<i64>,
    /// How far back each poll looks again for events that land late (CloudWatch takes events up
    /// to two hours old, and ingestion lags seconds); 0 means the default, 120 s.
    pub lookback_ms: i64,
}

/// A tail of FilterLogEvents: every poll asks from a little before the newest event seen (the
/// look-back catches events that land late or out of order) and drops the events it has already
/// given by their event id.
pub struct GroupTail {
    pub spec: TailSpec,
    /// Event ids given, with their timestamps (pruned behind the look-back window).
    seen: HashMap<String, i64>,
    newest: i64,
    /// A poll that stopped at the page cap continues here.
    token: Option<(i64, String)>,
    throttled: u32,
    pub polls: u64,
}

/// Pages read in one poll before the rest is left to the next one (keeps a poll short when a
/// group is very busy; nothing is skipped).
const PAGES_PER_POLL: usize = 20;

impl GroupTail {
    pub fn new(spec: TailSpec) -> GroupTail {
        GroupTail {
            newest: spec.start_ms,
            spec,
            seen: HashMap::new(),
            token: None,
            throttled: 0,
            polls: 0,
        }
    }

    fn lookback(&self) -> i64 {
        if self.spec.lookback_ms > 0 {
            self.spec.lookback_ms
        } else {
            120_000
        }
    }

    /// How long to wait before the next poll: `base`, doubled for every throttled poll in a row
    /// (up to 64 times, at most 5 minutes).
    pub fn next_delay(&self, base: Duration) -> Duration {
        (base * 2u32.pow(self.throttled.min(6))).min(Duration::from_secs(300))
    }

    /// Whether the last poll stopped at its page cap (the next poll continues it).
    pub fn pending(&self) -> bool {
        self.token.is_some()
    }

    /// Whether the last poll was throttled.
    pub fn throttled(&self) -> bool {
        self.throttled > 0
    }

    /// The events not given before, oldest first.
    pub async fn poll(&mut self, c: &CwLogs) -> Result<Vec<CwEvent>, CwError> {
        self.polls += 1;
        let (from, mut token) = match self.token.take() {
            Some((from, t)) => (from, Some(t)),
            None => (self.spec.start_ms.max(self.newest - self.lookback()), None),
        };
        let mut out = Vec::new();
        for _ in 0..PAGES_PER_POLL {
            c.meter.record("FilterLogEvents", 0);
            let r = c
                .client
                .filter_log_events()
                .log_group_name(&self.spec.group)
                .set_log_stream_names(if self.spec.streams.is_empty() {
                    None
                } else {
                    Some(self.spec.streams.clone())
                })
                .set_filter_pattern(self.spec.pattern.clone().filter(|p| !p.is_empty()))
                .start_time(from)
                .set_end_time(self.spec.end_ms)
                .set_next_token(token.take())
                .send()
                .await;
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    let e = cw_err(&format!("FilterLogEvents {}", self.spec.group), &e);
                    if e.kind == FailureKind::Throttled {
                        self.throttled += 1;
                    }
                    // what this poll read so far is given; the next poll asks again from `from`
                    if out.is_empty() {
                        return Err(e);
                    }
                    break;
                }
            };
            self.throttled = 0;
            for ev in r.events() {
                let id = ev.event_id().unwrap_or_default();
                let ts = ev.timestamp().unwrap_or(0);
                if self.seen.contains_key(id) {
                    continue;
                }
                self.seen.insert(id.to_string(), ts);
                out.push(CwEvent {
                    id: id.to_string(),
                    stream: crate::observe::sanitize(ev.log_stream_name().unwrap_or_default())
                        .into_owned(),
                    timestamp: ts,
                    ingested: ev.ingestion_time().unwrap_or(0),
                    message: ev.message().unwrap_or_default().to_string(),
                });
            }
            match r.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        if let Some(t) = token {
            self.token = Some((from, t));
        }
        out.sort_by_key(|e| e.timestamp);
        if let Some(n) = out.iter().map(|e| e.timestamp).max() {
            self.newest = self.newest.max(n);
        }
        let keep_from = self.spec.start_ms.max(self.newest - self.lookback());
        self.seen.retain(|_, ts| *ts >= keep_from);
        Ok(out)
    }
}

/// Events as timeline lines: one per line of each message, at the event's time, with the tag
/// `cw:GROUP/STREAM` (GROUP's last path part), one shared tag per stream.
pub fn event_lines(
    group: &str,
    evs: Vec<CwEvent>,
) -> impl Iterator<Item = (std::sync::Arc<str>, i64, crate::observe::ansi::Shown)> {
    let short = group.rsplit('/').next().unwrap_or(group).to_string();
    let mut tags: HashMap<String, std::sync::Arc<str>> = HashMap::new();
    evs.into_iter().flat_map(move |e| {
        let tag = tags
            .entry(e.stream.clone())
            .or_insert_with(|| format!("cw:{short}/{}", e.stream).into())
            .clone();
        let m = e.message.strip_suffix('\n').unwrap_or(&e.message);
        m.split('\n')
            .map(|t| {
                let shown = crate::observe::ansi::log_line(t.as_bytes());
                (tag.clone(), e.timestamp, shown)
            })
            .collect::<Vec<_>>()
    })
}

// ---------------------------------------------------------------------------------------------------
// CloudWatch metrics.

/// One query's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub label: String,
    /// (ms since the epoch, value), oldest first.
    pub points: Vec<(i64, f64)>,
    /// Complete, PartialData, InternalError, Forbidden.
    pub status: String,
}

impl Series {
    pub fn last(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }
}

/// A local run's samples (the local target's metrics) as series, like CloudWatch's: CPU % of one
/// core and RSS in MiB of the phase's process tree.
pub fn local_series(
    phase: crate::project::PhaseId,
    samples: &[crate::pipeline::runner::MetricSample],
) -> Vec<Series> {
    let s = |label: String, f: &dyn Fn(&crate::pipeline::runner::MetricSample) -> f64| Series {
        label,
        points: samples
            .iter()
            .map(|x| (x.at.timestamp_millis(), f(x)))
            .collect(),
        status: "Complete".into(),
    };
    vec![
        s(format!("{phase} CPU %"), &|x| x.cpu_pct),
        s(format!("{phase} RSS MiB"), &|x| {
            x.rss_bytes as f64 / 1048576.0
        }),
    ]
}

/// How many metrics a listing of every namespace reads (ListMetrics gives 500 a call).
pub const NAMESPACE_SCAN: usize = 2000;

/// The statistics tandem cycles through.
pub const STATS: &[&str] = &["Average", "Maximum", "Minimum", "Sum", "p99"];
/// The periods tandem cycles through, seconds.
pub const PERIODS: &[i32] = &[60, 300, 3600, 10];

/// GetMetricData's limit of queries per call.
pub const MAX_QUERIES: usize = 500;

#[derive(Clone)]
pub struct CwMetrics {
    client: aws_sdk_cloudwatch::Client,
    meter: Meter,
}

impl CwMetrics {
    pub async fn new(opts: &AwsOpts, meter: Meter) -> CwMetrics {
        let conf = crate::aws::sdk_config(opts).await;
        CwMetrics {
            client: aws_sdk_cloudwatch::Client::new(&conf),
            meter,
        }
    }

    /// Every query's data points from `start_ms` to `end_ms` at `period` seconds, `stat`
    /// replacing each query's own statistic when given. Up to 500 queries per call; pages
    /// followed.
    pub async fn fetch(
        &self,
        queries: &[MetricQuery],
        period: i32,
        stat: Option<&str>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Series>, CwError> {
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
        use aws_smithy_types::DateTime;
        let mut out: Vec<Series> = queries
            .iter()
            .map(|q| Series {
                label: q.label.clone(),
                points: Vec::new(),
                status: String::new(),
            })
            .collect();
        for (chunk_no, chunk) in queries.chunks(MAX_QUERIES).enumerate() {
            let dq: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, q)| {
                    let mut m = Metric::builder()
                        .namespace(&q.namespace)
                        .metric_name(&q.name);
                    for (k, v) in &q.dimensions {
                        m = m.dimensions(Dimension::builder().name(k).value(v).build());
                    }
                    MetricDataQuery::builder()
                        .id(format!("m{}", chunk_no * MAX_QUERIES + i))
                        .label(&q.label)
                        .metric_stat(
                            MetricStat::builder()
                                .metric(m.build())
                                .period(period)
                                .stat(stat.unwrap_or(&q.stat))
                                .build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut token: Option<String> = None;
            loop {
                self.meter.record("GetMetricData", dq.len() as u32);
                let r = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(dq.clone()))
                    .start_time(DateTime::from_millis(start_ms))
                    .end_time(DateTime::from_millis(end_ms))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| cw_err("GetMetricData", &e))?;
                for res in r.metric_data_results() {
                    let Some(i) = res
                        .id()
                        .and_then(|id| id.strip_prefix('m'))
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|i| *i < out.len())
                    else {
                        continue;
                    };
                    let s = &mut out[i];
                    for (t, v) in res.timestamps().iter().zip(res.values()) {
                        if let Ok(ms) = t.to_millis() {
                            s.points.push((ms, *v));
                        }
                    }
                    if let Some(c) = res.status_code() {
                        s.status = c.as_str().to_string();
                    }
                }
                match r.next_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
        }
        for s in &mut out {
            s.points.sort_by_key(|p| p.0);
            s.points.dedup_by_key(|p| p.0);
        }
        Ok(out)
    }

    /// Metrics CloudWatch knows (ListMetrics) in `namespace`, named `name` when given, as queries
    /// with `stat`; at most `limit`.
    pub async fn list(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
        stat: &str,
        limit: usize,
    ) -> Result<Vec<MetricQuery>, CwError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.meter.record("ListMetrics", 0);
            let r = self
                .client
                .list_metrics()
                .set_namespace(namespace.map(Into::into))
                .set_metric_name(name.map(Into::into))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| cw_err("ListMetrics", &e))?;
            for m in r.metrics() {
                let clean =
                    |s: Option<&str>| crate::observe::sanitize(s.unwrap_or_default()).into_owned();
                let dims: Vec<(String, String)> = m
                    .dimensions()
                    .iter()
                    .map(|d| (clean(d.name()), clean(d.value())))
                    .collect();
                let name = clean(m.metric_name());
                let label = if dims.is_empty() {
                    name.clone()
                } else {
                    format!(
                        "{name} {}",
                        dims.iter()
                            .map(|(_, v)| v.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                };
                out.push(MetricQuery {
                    label,
                    namespace: clean(m.namespace()),
                    name,
                    dimensions: dims,
                    stat: stat.into(),
                });
            }
            token = r.next_token().map(Into::into);
            if token.is_none() || out.len() >= limit {
                out.truncate(limit);
                out.sort_by(|a, b| (&a.namespace, &a.label).cmp(&(&b.namespace, &b.label)));
                return Ok(out);
            }
        }
    }
}

/// The log groups ParallelCluster and HyperPod write, to suggest for a target: ParallelCluster's
/// `/aws/parallelcluster/CLUSTER-…` and HyperPod's `/aws/sagemaker/Clusters/CLUSTER/ID`.
pub const SUGGESTED_GROUP_PREFIXES: &[&str] =
    &["/aws/parallelcluster/", "/aws/sagemaker/Clusters/"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_read_as_log_lines() {
        let ev = |m: &str| CwEvent {
            id: "1".into(),
            stream: "s".into(),
            timestamp: 5,
            ingested: 5,
            message: m.into(),
        };
        let lines: Vec<_> = event_lines(
            "/g",
            vec![
                ev("ok\n"),
                ev("Traceback:\r\n  line 1\n\x1b]0;title\x07x\x1b[2J"),
            ],
        )
        .map(|(_, _, s)| s.text)
        .collect();
        assert_eq!(lines, ["ok", "Traceback:", "  line 1", "\\e]0;title\\x07x"]);
        // CloudWatch allows 256 KiB events: a line is cut as a file's line is
        use crate::observe::ansi::MAX_LINE;
        let big = "é".repeat(MAX_LINE);
        let (_, _, c) = event_lines("/g", vec![ev(&big)]).next().unwrap();
        assert!(c.text.len() < MAX_LINE + 64, "{}", c.text.len());
        assert!(c
            .text
            .ends_with(&format!("[{} more bytes]", big.len() - MAX_LINE)));
    }

    #[test]
    fn cost_follows_cloudwatch_prices() {
        // 6 metrics a minute through 1 GetMetricData call: 6 * 43200 / 1000 * $0.01
        let usd = estimate(0, 6);
        assert!((usd - 2.592).abs() < 1e-9, "{usd}");
        // 10 FilterLogEvents a minute, upper bound at the standard request price
        assert!((estimate(10, 0) - 4.32).abs() < 1e-9);
        let m = Meter::default();
        m.record("GetMetricData", 6);
        m.record("FilterLogEvents", 0);
        let r = m.rate();
        assert_eq!((r.calls_per_min, r.metrics_per_min), (2, 6));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let mut t = GroupTail::new(TailSpec::default());
        assert_eq!(t.next_delay(Duration::from_secs(2)), Duration::from_secs(2));
        t.throttled = 3;
        assert_eq!(
            t.next_delay(Duration::from_secs(2)),
            Duration::from_secs(16)
        );
        t.throttled = 40;
        assert_eq!(
            t.next_delay(Duration::from_secs(10)),
            Duration::from_secs(300)
        );
    }
}
