//! CloudWatch Logs and CloudWatch metrics against moto on 127.0.0.1 (started by scripts/test.sh,
//! which exports TANDEM_TEST_MOTO). Each test works in a region of its own, so it sees only what
//! it seeded in the shared moto server. Events are seeded with the SDK: escape sequences, a huge
//! line, out-of-order timestamps, events that land between polls.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tandem::aws::AwsOpts;
use tandem::observe::cloudwatch::{CwLogs, CwMetrics, GroupTail, Meter, TailSpec};
use tandem::project::MetricQuery;

fn moto() -> String {
    std::env::var("TANDEM_TEST_MOTO").unwrap_or_else(|_| {
        panic!("TANDEM_TEST_MOTO is not set: run the tests with scripts/test.sh, which starts moto")
    })
}

fn opts(region: &str) -> AwsOpts {
    AwsOpts {
        region: Some(region.into()),
        endpoint: Some(moto()),
        max_attempts: Some(1),
        ..Default::default()
    }
}

async fn logs_client(region: &str) -> aws_sdk_cloudwatchlogs::Client {
    let conf = tandem::aws::sdk_config(&opts(region)).await;
    aws_sdk_cloudwatchlogs::Client::new(&conf)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn put(c: &aws_sdk_cloudwatchlogs::Client, group: &str, stream: &str, evs: &[(i64, &str)]) {
    let events: Vec<InputLogEvent> = evs
        .iter()
        .map(|(t, m)| {
            InputLogEvent::builder()
                .timestamp(*t)
                .message(*m)
                .build()
                .unwrap()
        })
        .collect();
    c.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutLogEvents {group}/{stream} in moto: {e:?}"));
}

async fn make(c: &aws_sdk_cloudwatchlogs::Client, group: &str, streams: &[&str]) {
    c.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLogGroup {group}: {e:?}"));
    for s in streams {
        c.create_log_stream()
            .log_group_name(group)
            .log_stream_name(*s)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLogStream {s}: {e:?}"));
    }
}

fn tandem(home: &Path, region: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("TANDEM_HOME", home)
        .env("AWS_ENDPOINT_URL", moto())
        .env("AWS_REGION", region)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "testsecret")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("TANDEM_THEME");
    c
}

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{c:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[tokio::test]
async fn tail_gives_every_event_once_in_time_order_sanitised_and_capped() {
    let region = "eu-north-1";
    let c = logs_client(region).await;
    let group = "/aws/parallelcluster/pc-tail-202611";
    make(
        &c,
        group,
        &["ip-10-0-0-1.slurmctld", "compute-st-c5-1.slurmd"],
    )
    .await;
    let t0 = now_ms() - 60_000;
    let huge = "x".repeat(200_000);
    put(
        &c,
        group,
        "ip-10-0-0-1.slurmctld",
        &[
            (t0, "slurmctld started"),
            (
                t0 + 10,
                "\x1b]0;pwned\x07title \x1b[2Jcleared \x1b[31mred\x1b[0m",
            ),
            (t0 + 20, &huge),
        ],
    )
    .await;
    // another stream, earlier times than the first's newest: out of order across streams
    put(
        &c,
        group,
        "compute-st-c5-1.slurmd",
        &[(t0 + 5, "slurmd up"), (t0 + 15, "job 7 started")],
    )
    .await;

    let meter = Meter::default();
    let cw = CwLogs::new(&opts(region), meter.clone()).await;
    let mut tail = GroupTail::new(TailSpec {
        group: group.into(),
        start_ms: t0 - 1000,
        ..Default::default()
    });
    let first = tail.poll(&cw).await.unwrap();
    let times: Vec<i64> = first.iter().map(|e| e.timestamp - t0).collect();
    assert_eq!(times, [0, 5, 10, 15, 20], "every event once, in time order");
    // events are kept as sent; they are read as lines (safely) when they join a log
    let lines = tandem::pipeline::follow::cloud_lines(group, first.clone());
    let hostile = &lines[2].text;
    assert!(
        !hostile.contains('\x1b') && !hostile.contains('\x07'),
        "{hostile:?}"
    );
    assert!(
        hostile.contains(r"\e]0;pwned\x07title") && hostile.contains("cleared red"),
        "{hostile:?}"
    );
    assert_eq!(
        lines[2].spans().len(),
        1,
        "the red part is a style: {:?}",
        lines[2].spans()
    );
    let big = &lines[4].text;
    assert!(big.len() < 66_000, "a 200 kB event is cut: {}", big.len());
    assert!(
        big.ends_with("[134464 more bytes]"),
        "{}",
        &big[big.len() - 40..]
    );

    // nothing new: nothing given again (the look-back window re-reads, ids de-duplicate)
    assert!(tail.poll(&cw).await.unwrap().is_empty());

    // events landing between polls, one of them older than the newest seen (late)
    put(
        &c,
        group,
        "compute-st-c5-1.slurmd",
        &[(t0 + 18, "late: job 7 step 0")],
    )
    .await;
    put(
        &c,
        group,
        "ip-10-0-0-1.slurmctld",
        &[(t0 + 30, "job 7 done")],
    )
    .await;
    let second = tail.poll(&cw).await.unwrap();
    let msgs: Vec<&str> = second.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(msgs, ["late: job 7 step 0", "job 7 done"]);
    assert!(tail.poll(&cw).await.unwrap().is_empty());

    // only one stream, with a filter pattern
    let mut only = GroupTail::new(TailSpec {
        group: group.into(),
        streams: vec!["compute-st-c5-1.slurmd".into()],
        pattern: Some("job".into()),
        start_ms: t0 - 1000,
        ..Default::default()
    });
    let got: Vec<String> = only
        .poll(&cw)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.message)
        .collect();
    assert_eq!(got, ["job 7 started", "late: job 7 step 0"]);
    assert_eq!(
        meter.rate().calls_per_min,
        5,
        "one FilterLogEvents per poll"
    );

    // browsing: groups under a prefix, streams newest first
    make(&c, "/aws/sagemaker/Clusters/ray-a/abc123", &["i-0aaa"]).await;
    let groups = cw.groups(Some("/aws/parallelcluster/"), 100).await.unwrap();
    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        [group]
    );
    let all = cw.groups(None, 100).await.unwrap();
    assert_eq!(all.len(), 2);
    let streams = cw.streams(group, None, 100).await.unwrap();
    assert_eq!(streams.len(), 2);
    let by_prefix = cw.streams(group, Some("compute"), 100).await.unwrap();
    assert_eq!(by_prefix[0].name, "compute-st-c5-1.slurmd");
}

#[tokio::test]
async fn headless_logs_reads_a_window_follows_new_events_and_lists() {
    let region = "eu-south-1";
    let c = logs_client(region).await;
    let group = "/aws/sagemaker/Clusters/ray-train/x1y2z3";
    make(&c, group, &["LifecycleConfig/controller/i-0abc", "worker"]).await;
    let t0 = now_ms() - 120_000;
    put(
        &c,
        group,
        "LifecycleConfig/controller/i-0abc",
        &[
            (t0, "ray start --head"),
            (t0 + 1000, "ERROR: disk \x1b[5mfull"),
        ],
    )
    .await;
    put(&c, group, "worker", &[(t0 + 500, "worker joined")]).await;
    let home = tempfile::tempdir().unwrap();

    // a window, as JSON lines, in time order
    let out =
        ok(tandem(home.path(), region)
            .args(["logs", "--group", group, "--since", "10m", "--json"]));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let texts: Vec<&str> = lines.iter().map(|v| v["line"].as_str().unwrap()).collect();
    assert_eq!(
        texts,
        ["ray start --head", "worker joined", "ERROR: disk full"]
    );
    assert_eq!(lines[1]["source"], "cw:x1y2z3/worker");

    // CloudWatch's filter pattern, one stream, human form
    let out = ok(tandem(home.path(), region).args([
        "logs",
        "--group",
        group,
        "--stream",
        "LifecycleConfig/controller/i-0abc",
        "--filter",
        "ERROR",
        "--since",
        "10m",
    ]));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("ERROR: disk"), "{out}");

    // a window that ends before the error
    let until = (t0 + 800).to_string();
    let out = ok(tandem(home.path(), region).args([
        "logs", "--group", group, "--since", "10m", "--until", &until,
    ]));
    assert_eq!(out.lines().count(), 2, "{out}");

    // listing groups and streams
    let out = ok(tandem(home.path(), region).args(["logs", "--list", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], group);
    let out = ok(tandem(home.path(), region).args(["logs", "--list", "--group", group]));
    assert!(out.contains("worker") && out.contains("i-0abc"), "{out}");

    // --follow: events written after it started show up, each once
    let mut child = tandem(home.path(), region)
        .args([
            "logs", "--group", group, "--since", "10m", "--follow", "--poll", "0.3", "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let wait_for = |seen: &mut Vec<String>, n: usize| {
        let end = Instant::now() + Duration::from_secs(30);
        while seen.len() < n && Instant::now() < end {
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                let v: Value = serde_json::from_str(&l).unwrap();
                seen.push(v["line"].as_str().unwrap().to_string());
            }
        }
    };
    wait_for(&mut seen, 3);
    assert_eq!(seen.len(), 3, "{seen:?}");
    let t1 = now_ms();
    put(&c, group, "worker", &[(t1, "step 1"), (t1 + 1, "step 2")]).await;
    wait_for(&mut seen, 5);
    // a late event (older than the newest seen), landing between polls
    put(
        &c,
        group,
        "LifecycleConfig/controller/i-0abc",
        &[(t1 - 5000, "late health check")],
    )
    .await;
    wait_for(&mut seen, 6);
    // a few more polls: nothing repeats
    std::thread::sleep(Duration::from_millis(1500));
    while let Ok(l) = rx.try_recv() {
        seen.push(l);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        seen[3..],
        ["step 1", "step 2", "late health check"],
        "each new event once: {seen:?}"
    );
}

#[tokio::test]
async fn metrics_are_fetched_in_batches_of_500_and_listed() {
    let region = "ca-central-1";
    let conf = tandem::aws::sdk_config(&opts(region)).await;
    let raw = aws_sdk_cloudwatch::Client::new(&conf);
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let now = now_ms();
    let inst = "i-0123456789abcdef0";
    for (i, v) in [10.0, 30.0, 50.0, 70.0].iter().enumerate() {
        let at = now - (4 - i as i64) * 60_000;
        raw.put_metric_data()
            .namespace("AWS/EC2")
            .metric_data(
                MetricDatum::builder()
                    .metric_name("CPUUtilization")
                    .dimensions(Dimension::builder().name("InstanceId").value(inst).build())
                    .timestamp(aws_smithy_types::DateTime::from_millis(at))
                    .value(*v)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
    raw.put_metric_data()
        .namespace("Heat2D/solver")
        .metric_data(
            MetricDatum::builder()
                .metric_name("residual\u{9b}2J")
                .timestamp(aws_smithy_types::DateTime::from_millis(now - 60_000))
                .value(0.001)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let meter = Meter::default();
    let cw = CwMetrics::new(&opts(region), meter.clone()).await;
    let cpu = MetricQuery {
        label: "CPU %".into(),
        namespace: "AWS/EC2".into(),
        name: "CPUUtilization".into(),
        dimensions: vec![("InstanceId".into(), inst.into())],
        stat: "Average".into(),
    };
    // 600 queries: two GetMetricData calls, every answer back at its query
    let many: Vec<MetricQuery> = (0..600)
        .map(|i| MetricQuery {
            label: format!("q{i}"),
            ..cpu.clone()
        })
        .collect();
    let got = cw
        .fetch(&many, 60, None, now - 3_600_000, now)
        .await
        .unwrap();
    assert_eq!(got.len(), 600);
    assert!(got.iter().all(|s| s.points.len() == 4), "{:?}", got[599]);
    assert_eq!(got[599].last(), Some(70.0));
    let r = meter.rate();
    assert_eq!((r.calls_per_min, r.metrics_per_min), (2, 600));
    // statistic override
    let max = cw
        .fetch(
            std::slice::from_ref(&cpu),
            3600,
            Some("Maximum"),
            now - 3_600_000,
            now,
        )
        .await
        .unwrap();
    assert_eq!(max[0].points.iter().map(|p| p.1).fold(0.0, f64::max), 70.0);

    // ListMetrics: what the browser offers, names sanitised
    let listed = cw
        .list(Some("Heat2D/solver"), None, "Average", 100)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].name.contains('\u{9b}'), "{:?}", listed[0].name);

    // headless: a project whose ssm target is that instance gets its default queries
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tandem.toml"),
        format!(
            r#"
[project]
name = "watch"
[storage]
root = "lake/watch"
[phases.preprocess]
engine = "ray"
output = "pre"
[phases.preprocess.local]
command = ["true"]
[phases.solve]
engine = "slurm"
output = "sol"
[phases.solve.local]
command = ["true"]
[handoff]
from = "preprocess"
to = "solve"
[targets.hpc]
kind = "slurm"
transport = "ssm"
instance_id = "{inst}"
region = "{region}"
[[targets.hpc.metrics]]
namespace = "Heat2D/solver"
name = "residual\u009b2J"
label = "residual"
stat = "Minimum"
"#
        ),
    )
    .unwrap();
    let proj = dir.path().join("tandem.toml");
    let out = ok(tandem(home.path(), region).args([
        "metrics",
        "--target",
        "hpc",
        "--project",
        proj.to_str().unwrap(),
        "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let series = v["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "metrics named: only those: {v}");
    assert_eq!(series[0]["label"], "residual");
    assert_eq!(series[0]["points"][0][1], 0.001);
    assert_eq!(v["calls"]["calls_per_min"], 1);

    // no metrics named: the instance's defaults (CPU, network, CWAgent memory/disk/GPU)
    let text = std::fs::read_to_string(&proj).unwrap();
    let cut = text.find("[[targets.hpc.metrics]]").unwrap();
    std::fs::write(&proj, &text[..cut]).unwrap();
    let out = ok(tandem(home.path(), region).args([
        "metrics",
        "--target",
        "hpc",
        "--project",
        proj.to_str().unwrap(),
    ]));
    assert!(out.contains("CPU %") && out.contains("70"), "{out}");
    assert!(out.contains("mem %"), "{out}");
    assert!(out.contains("1 AWS calls, 6 metrics requested"), "{out}");

    let out = ok(tandem(home.path(), region).args([
        "metrics",
        "--target",
        "hpc",
        "--project",
        proj.to_str().unwrap(),
        "--list",
        "AWS/EC2",
    ]));
    assert!(
        out.contains("CPUUtilization") && out.contains(inst),
        "{out}"
    );
}

#[test]
fn a_run_and_its_targets_log_group_come_as_one_timeline() {
    let region = "ap-northeast-3";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(logs_client(region));
    let group = "/aws/parallelcluster/merged";
    rt.block_on(make(&c, group, &["head"]));
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("tandem.toml");
    std::fs::write(
        &proj,
        format!(
            r#"
[project]
name = "merged"
[storage]
root = "lake/merged"
[phases.preprocess]
engine = "ray"
output = "pre"
[phases.preprocess.local]
command = ["sh", "-c", "echo pre-one; sleep 0.3; echo pre-two"]
[phases.solve]
engine = "slurm"
output = "sol"
[phases.solve.local]
command = ["sh", "-c", "echo sol-one >&2"]
[handoff]
from = "preprocess"
to = "solve"
require = []
[targets.local]
kind = "local"
region = "{region}"
log_groups = ["{group}"]
"#
        ),
    )
    .unwrap();
    let out = ok(tandem(home.path(), region).args(["run", proj.to_str().unwrap(), "--json"]));
    let end: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "end")
        .unwrap_or_else(|| panic!("{out}"));
    let run = end["run"]["id"].as_str().unwrap().to_string();
    let started =
        chrono::DateTime::parse_from_rfc3339(end["run"]["phases"][0]["started"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    let t = started + 100;
    rt.block_on(put(
        &c,
        group,
        "head",
        &[
            (t, "head: job accepted"),
            (t + 1, "head: \x1b]52;c;AAAA\x07done"),
        ],
    ));

    let logs = |extra: &[&str]| {
        let mut cmd = tandem(home.path(), region);
        cmd.current_dir(dir.path())
            .args(["logs", &run, "--json"])
            .args(extra);
        ok(&mut cmd)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let all = logs(&[]);
    let sources: Vec<&str> = all.iter().map(|v| v["source"].as_str().unwrap()).collect();
    assert!(
        sources.contains(&"pre") && sources.contains(&"sol"),
        "{all:?}"
    );
    assert_eq!(
        sources.iter().filter(|s| **s == "cw:merged/head").count(),
        2,
        "{all:?}"
    );
    let ats: Vec<i64> = all.iter().map(|v| v["at"].as_i64().unwrap()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] <= w[1]),
        "merged by time: {ats:?}"
    );
    assert!(all
        .iter()
        .all(|v| !v["line"].as_str().unwrap().contains('\x1b')));
    let sol = all.iter().find(|v| v["line"] == "sol-one").unwrap();
    assert_eq!(sol["stream"], "stderr", "{all:?}");

    // one filter over every source; sources chosen
    let f = logs(&["--filter", "^(pre|sol)-one$|accepted"]);
    let texts: Vec<&str> = f.iter().map(|v| v["line"].as_str().unwrap()).collect();
    assert_eq!(texts.len(), 3, "{texts:?}");
    let only_cw = logs(&["--source", "cw"]);
    assert!(
        only_cw.iter().all(|v| v["source"] == "cw:merged/head"),
        "{only_cw:?}"
    );
    let no_cw = logs(&["--source", "pre,sol"]);
    assert!(no_cw.iter().all(|v| v["source"] != "cw:merged/head"));
    let bad = tandem(home.path(), region)
        .current_dir(dir.path())
        .args(["logs", &run, "--source", "gpu"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--source gpu"));
}
