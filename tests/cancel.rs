//! `tandem cancel RUN` stops each running phase with its own engine: a Ray job with Ray's stop, a
//! Slurm job with scancel, against the real Ray head and Slurm that scripts/test.sh starts (it
//! exports TANDEM_TEST_RAY and SLURM_CONF).

use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use tandem::engine::ray::{JobRequest, Ray, RayConf, Reach};
use tandem::engine::slurm::{Body, JobSpec, Slurm, SlurmConf};
use tandem::pipeline::{Journal, Placement, RunState};
use tandem::project::PhaseId;
use tokio_util::sync::CancellationToken;

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run the tests with scripts/test.sh, which starts Ray and Slurm")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_ray_phase_and_a_slurm_phase_is_cancelled_by_each_engine() {
    let d = tempfile::tempdir().unwrap();
    let dashboard = var("TANDEM_TEST_RAY");
    let slurm_conf = var("SLURM_CONF");
    // a project whose target runs Ray and Slurm
    let sample = std::fs::read_to_string(tandem::project::sample_project_path()).unwrap();
    let file = d.path().join("tandem.toml");
    std::fs::write(
        &file,
        format!(
            "{sample}\n[targets.both]\nkind = \"slurm\"\ntransport = \"local\"\nslurm_conf = \"{slurm_conf}\"\nwork_dir = \"{}\"\nray_dashboard = \"{dashboard}\"\n",
            d.path().join("work").display()
        ),
    )
    .unwrap();
    let project = tandem::project::load(&file).unwrap();

    // a Ray job and a Slurm job that would run for two minutes
    let ray = Ray::direct(RayConf {
        dashboard: dashboard.clone(),
        reach: Reach::Direct,
        temp_dir: String::new(),
        poll: Duration::from_millis(300),
    });
    let sub = format!("tandem-cancel-{}", std::process::id());
    ray.submit(&JobRequest {
        entrypoint: "sleep 120".into(),
        submission_id: sub.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let conf = SlurmConf {
        conf: Some(slurm_conf),
        ..Default::default()
    };
    let local = tandem::transport::local::Local;
    let slurm = Slurm::new(&local, &conf);
    let job = slurm
        .submit(
            &JobSpec {
                name: "t-cancel".into(),
                run_dir: d.path().join("job").display().to_string(),
                body: Body::Command {
                    argv: vec!["sleep".into(), "120".into()],
                    launcher: "none".into(),
                },
                ..Default::default()
            },
            &CancellationToken::new(),
        )
        .await
        .unwrap();

    // a run record that says so, as a tandem killed mid-run would have left it
    let home = d.path().join("home");
    let mut run = tandem::pipeline::prepare_run(&project, "both", &PhaseId::ALL);
    assert_eq!(
        run.phases[0].placement,
        Placement::Ray {
            dashboard: dashboard.trim_end_matches('/').to_string()
        }
    );
    assert!(matches!(run.phases[1].placement, Placement::Slurm { .. }));
    for (p, id) in run.phases.iter_mut().zip([&sub, &job]) {
        p.state = RunState::Running;
        p.engine_id = Some(id.clone());
        p.started = Some(chrono::Utc::now());
    }
    run.derive_state();
    Journal::new(&home).record(&run).unwrap();

    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .env("TANDEM_HOME", &home)
        .args(["cancel", &run.id, "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let done = v["cancelled"].as_array().unwrap();
    assert_eq!(done.len(), 2, "{v:#}");
    assert_eq!(done[0]["action"], format!("ray stop {sub}"));
    assert_eq!(done[1]["action"], format!("scancel {job}"));
    assert!(done.iter().all(|d| d["ok"] == true), "{v:#}");

    // and each engine says it was stopped
    let mut stopped = false;
    for _ in 0..100 {
        if ray.status(&sub).await.unwrap().status == "STOPPED" {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(stopped, "the Ray job was stopped");
    let mut cancelled = false;
    for _ in 0..100 {
        let p = slurm
            .poll(
                &job,
                "/dev/null",
                "/dev/null",
                (0, 0),
                &CancellationToken::new(),
            )
            .await
            .unwrap();
        if p.status.state == "CANCELLED" {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(cancelled, "the Slurm job was cancelled");
}
