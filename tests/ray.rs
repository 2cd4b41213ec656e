//! The Ray engine against a real Ray head on 127.0.0.1 (`ray start --head`, started by
//! scripts/test.sh, which exports TANDEM_TEST_RAY, TANDEM_TEST_RAY_TMP and SLURM_CONF), and the
//! sample pipeline across real engines: Ray preprocess, then the Slurm solve.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tandem::engine::ray::{JobRequest, Ray, RayConf, RayError, Reach};
use tokio_util::sync::CancellationToken;

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run the tests with scripts/test.sh, which starts Ray and Slurm")
    })
}

fn conf(reach: Reach) -> RayConf {
    RayConf {
        dashboard: var("TANDEM_TEST_RAY"),
        reach,
        temp_dir: var("TANDEM_TEST_RAY_TMP"),
        poll: std::time::Duration::from_millis(300),
    }
}

fn uid(tag: &str) -> String {
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_millis()
    )
}

async fn wait_end(r: &Ray, id: &str) -> tandem::engine::ray::JobInfo {
    for _ in 0..600 {
        let i = r.status(id).await.unwrap();
        if i.is_terminal() {
            return i;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("job {id} did not end in 2 minutes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_api_submit_follow_fail_stop_duplicate_and_unknown() {
    let r = Ray::direct(conf(Reach::Direct));
    // working_dir packaged and staged the way Ray expects; the log followed to its last line
    let wd = tempfile::tempdir().unwrap();
    std::fs::write(
        wd.path().join("job.py"),
        "import os, sys\nfor i in range(2000):\n    print(f'line {i} ' + 'x' * 100)\nprint('env', os.environ['GREETING'])\nprint('the very last line', flush=True)\n",
    )
    .unwrap();
    let uri = r.stage_working_dir(wd.path()).await.unwrap();
    assert!(uri.starts_with("gcs://_ray_pkg_"), "{uri}");
    // staging the same content again finds it there
    assert_eq!(r.stage_working_dir(wd.path()).await.unwrap(), uri);
    let id = uid("ok");
    let mut req = JobRequest {
        entrypoint: "python job.py".into(),
        submission_id: id.clone(),
        metadata: [("tandem_run".to_string(), "test".to_string())].into(),
        entrypoint_num_cpus: Some(0.5),
        ..Default::default()
    };
    req.runtime_env.insert("working_dir".into(), uri.into());
    req.runtime_env.insert(
        "env_vars".into(),
        serde_json::json!({"GREETING": "hi 'there' $(id)", "PYTHONUNBUFFERED": "1"}),
    );
    assert_eq!(r.submit(&req).await.unwrap(), id);
    let mut log = Vec::new();
    let end = r
        .follow_logs(&id, 0, &CancellationToken::new(), &mut |b| {
            log.extend_from_slice(b)
        })
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&log);
    assert_eq!(end, log.len() as u64);
    assert!(text.contains("line 1999 "), "{:.200}", text);
    assert!(text.contains("env hi 'there' $(id)\n"));
    assert!(
        text.contains("the very last line"),
        "the last line arrives (Ray issue 48701): ...{}",
        &text[text.len().saturating_sub(300)..]
    );
    let info = wait_end(&r, &id).await;
    assert_eq!(info.status, "SUCCEEDED", "{info:?}");
    assert_eq!(
        info.metadata.as_ref().unwrap()["tandem_run"],
        "test",
        "{info:?}"
    );
    // a resumed follow from the end repeats nothing
    let mut again = Vec::new();
    r.follow_logs(&id, end, &CancellationToken::new(), &mut |b| {
        again.extend_from_slice(b)
    })
    .await
    .unwrap();
    assert!(again.is_empty(), "{} bytes repeated", again.len());

    // the same submission id again: one clear message
    match r.submit(&req).await {
        Err(RayError::Duplicate(d)) => assert_eq!(d, id),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // an unknown job
    match r.status("no-such-job-xyz").await {
        Err(RayError::NoJob(_)) => {}
        other => panic!("expected no job, got {other:?}"),
    }

    // a failing entrypoint: the exit code is kept
    let bad = uid("fail");
    r.submit(&JobRequest {
        entrypoint: "python -c 'import sys; print(\"failing\"); sys.exit(3)'".into(),
        submission_id: bad.clone(),
        entrypoint_num_cpus: Some(0.5),
        ..Default::default()
    })
    .await
    .unwrap();
    let info = wait_end(&r, &bad).await;
    let (state, msg) = tandem::pipeline::phase::ray_state(&info);
    assert_eq!(state, tandem::pipeline::RunState::Failed);
    assert!(
        msg.as_deref().unwrap().starts_with("FAILED: exit code 3"),
        "{msg:?}"
    );

    // stop a running job
    let long = uid("stop");
    r.submit(&JobRequest {
        entrypoint: "python -c 'import time; print(\"started\", flush=True); time.sleep(300)'"
            .into(),
        submission_id: long.clone(),
        entrypoint_num_cpus: Some(0.5),
        ..Default::default()
    })
    .await
    .unwrap();
    for _ in 0..300 {
        if r.status(&long).await.unwrap().status == "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(r.stop(&long).await.unwrap());
    assert_eq!(wait_end(&r, &long).await.status, "STOPPED");

    let all = r.list().await.unwrap();
    for want in [&id, &bad, &long] {
        assert!(
            all.iter()
                .any(|j| j.submission_id.as_deref() == Some(want.as_str())),
            "{want} listed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_api_through_a_transport_follows_the_driver_log_by_offset() {
    let r = Ray::via(
        conf(Reach::Transport),
        Arc::new(tandem::transport::local::Local),
    );
    let id = uid("via");
    r.submit(&JobRequest {
        entrypoint: "python -c 'import time\nfor i in range(50):\n    print(\"tick\", i, flush=True); time.sleep(0.02)\nprint(\"done\")'".into(),
        submission_id: id.clone(),
        entrypoint_num_cpus: Some(0.5),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut log = Vec::new();
    let n = r
        .follow_logs(&id, 0, &CancellationToken::new(), &mut |b| {
            log.extend_from_slice(b)
        })
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&log);
    assert_eq!(n, log.len() as u64);
    assert!(text.contains("tick 49\ndone\n"), "{text}");
    assert_eq!(text.matches("tick 7\n").count(), 1, "each byte once");
    assert_eq!(r.status(&id).await.unwrap().status, "SUCCEEDED");
}

fn sample_with_ray_target(dir: &Path) -> PathBuf {
    let dst = common::copy_sample(dir);
    let mut toml = std::fs::read_to_string(dst.join("tandem.toml")).unwrap();
    toml.push_str(&format!(
        r#"
[targets.ray-slurm]
kind = "slurm"
transport = "local"
slurm_conf = "{conf}"
work_dir = "{work}"
poll_seconds = 0.3
ray_dashboard = "{ray}"
"#,
        conf = var("SLURM_CONF"),
        work = dir.join("cluster").display(),
        ray = var("TANDEM_TEST_RAY"),
    ));
    std::fs::write(dst.join("tandem.toml"), toml).unwrap();
    dst.join("tandem.toml")
}

#[test]
fn the_sample_pipeline_runs_ray_then_slurm() {
    let dir = tempfile::tempdir().unwrap();
    let project = sample_with_ray_target(dir.path());
    let home = dir.path().join("home");
    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", &home)
        .args(["run"])
        .arg(&project)
        .args(["--target", "ray-slurm", "--json"])
        .output()
        .unwrap();
    let run = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "end")
        .expect("an end event")["run"]
        .clone();
    let id = run["id"].as_str().unwrap_or_default().to_string();
    let logs = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", &home)
        .args(["logs", &id])
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(
        o.status.success(),
        "{}\n{run:#}\n{}",
        String::from_utf8_lossy(&o.stderr),
        &logs[logs.len().saturating_sub(3000)..]
    );
    let pre = &run["phases"][0];
    assert_eq!(pre["state"], "succeeded", "{pre:#}");
    assert_eq!(
        pre["engine_id"],
        format!("tandem-{id}-preprocess"),
        "the Ray submission id"
    );
    let solve = &run["phases"][1];
    assert_eq!(solve["state"], "succeeded", "{solve:#}");
    assert!(solve["engine_id"].as_str().unwrap().parse::<u64>().is_ok());
    let store = home.join("store");
    let prepared = store.join(pre["output"].as_str().unwrap().trim_end_matches('/'));
    for f in ["_SUCCESS", "manifest.json", "boundary.csv", "initial.csv"] {
        assert!(prepared.join(f).is_file(), "{f} in {prepared:?}");
    }
    let solved = store.join(solve["output"].as_str().unwrap().trim_end_matches('/'));
    assert!(solved.join("series.csv").is_file());
    // the Ray driver's output came back into the phase log
    assert!(
        logs.contains("preprocess: ") && logs.contains(" interior sensors"),
        "{}",
        &logs[logs.len().saturating_sub(2000)..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_view_of_a_real_head_nodes_usage_and_jobs() {
    let r = Ray::direct(conf(Reach::Direct));
    let id = uid("cluster");
    r.submit(&JobRequest {
        entrypoint: "echo listed".into(),
        submission_id: id.clone(),
        metadata: [("tandem_run".to_string(), "r1".to_string())].into(),
        ..Default::default()
    })
    .await
    .unwrap();
    wait_end(&r, &id).await;
    let before = r.requests();
    let c = r.cluster().await.unwrap();
    assert_eq!(r.requests() - before, 3, "nodes, cluster status, jobs");
    let head = c.nodes.iter().find(|n| n.head).expect("a head node");
    assert_eq!(head.state, "ALIVE");
    assert_eq!(head.resources.get("CPU"), Some(&2.0), "{head:?}");
    assert!(head.resources.keys().all(|k| !k.starts_with("node:")));
    assert_eq!(c.usage.get("CPU").map(|u| u.1), Some(2.0), "{:?}", c.usage);
    assert!(c.usage.contains_key("object_store_memory"), "{:?}", c.usage);
    let j = c
        .jobs
        .iter()
        .find(|j| j.submission_id.as_deref() == Some(id.as_str()))
        .unwrap();
    assert_eq!(j.status, "SUCCEEDED");
    assert_eq!(j.metadata.as_ref().unwrap()["tandem_run"], "r1");

    // headless, on a project whose target names this dashboard
    let dir = tempfile::tempdir().unwrap();
    let project = sample_with_ray_target(dir.path());
    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", dir.path().join("home"))
        .args(["ray", "--target", "ray-slurm", "--json", "--project"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["nodes"][0]["head"].as_bool().unwrap());
    assert!(v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["submission_id"] == id.as_str()));
}
