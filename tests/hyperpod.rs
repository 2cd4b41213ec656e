//! HyperPod discovery against clusters created in moto's SageMaker API on 127.0.0.1 (started by
//! scripts/test.sh, which exports TANDEM_TEST_MOTO). Each test uses a region of its own, so it sees
//! only its own clusters in the shared moto server.

use aws_sdk_sagemaker::types::{ClusterInstanceGroupSpecification, ClusterLifeCycleConfig};
use std::process::Command;
use tandem::aws::AwsOpts;
use tandem::cluster::{self, hyperpod, DiscoverOpts};

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

fn group(name: &str, kind: &str, count: i32) -> ClusterInstanceGroupSpecification {
    ClusterInstanceGroupSpecification::builder()
        .instance_group_name(name)
        .instance_type(kind.into())
        .instance_count(count)
        .threads_per_core(1)
        .execution_role("arn:aws:iam::123456789012:role/hyperpod")
        .life_cycle_config(
            ClusterLifeCycleConfig::builder()
                .source_s3_uri("s3://sagemaker-lifecycle/scripts/")
                .on_create("on_create.sh")
                .build(),
        )
        .build()
}

async fn create(
    client: &aws_sdk_sagemaker::Client,
    name: &str,
    groups: Vec<ClusterInstanceGroupSpecification>,
) {
    client
        .create_cluster()
        .cluster_name(name)
        .set_instance_groups(Some(groups))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateCluster {name} in moto: {e:?}"));
}

#[tokio::test]
async fn discovery_pages_through_clusters_and_nodes_and_names_each_nodes_ssm_target() {
    let o = opts("ap-southeast-2");
    let client = hyperpod::client(&o).await;
    create(
        &client,
        "ray-train",
        vec![
            group("controller", "ml.t3.medium", 1),
            group("workers", "ml.c5.xlarge", 5),
        ],
    )
    .await;
    create(&client, "solver", vec![group("head", "ml.m5.large", 1)]).await;
    create(&client, "scratch", vec![group("w", "ml.t3.large", 2)]).await;

    // pages of 2 clusters: ListClusters needs 2 pages. (moto cannot page nodes: its paginator
    // keys nodes on an `arn` they lack and restarts from the first page, so nodes come in one
    // page here; tandem stops such a loop with a message, checked below.)
    let d = cluster::discover(
        &client,
        &DiscoverOpts {
            aws: o.clone(),
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut names: Vec<&str> = d.clusters.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["ray-train", "scratch", "solver"]);
    // 2 ListClusters pages + per cluster one DescribeCluster and one ListClusterNodes
    assert_eq!(d.api_calls, 2 + 3 * 2);
    let rt = d.clusters.iter().find(|c| c.name == "ray-train").unwrap();
    assert_eq!(rt.status, "InService");
    assert!(
        rt.arn.ends_with(&format!("cluster/{}", rt.id)),
        "{}",
        rt.arn
    );
    assert_eq!(rt.groups.len(), 2);
    let w = rt.groups.iter().find(|g| g.name == "workers").unwrap();
    assert_eq!((w.current, w.target), (5, 5));
    assert_eq!(w.instance_type, "ml.c5.xlarge");
    assert_eq!(w.threads_per_core, Some(1));
    assert_eq!(rt.nodes.len(), 6, "every page of nodes was read");
    for n in &rt.nodes {
        assert_eq!(
            n.ssm_target,
            format!("sagemaker-cluster:{}_{}-{}", rt.id, n.group, n.instance_id)
        );
        assert_eq!(n.status, "Running");
        assert!(n.launch_time.is_some());
    }
    assert!(rt.error.is_none());

    // a server answering the same page token again does not make discovery spin
    let d = cluster::discover(
        &client,
        &DiscoverOpts {
            aws: o.clone(),
            name_contains: Some("ray-train".into()),
            node_page_size: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let rt = &d.clusters[0];
    match &rt.error {
        None => assert_eq!(rt.nodes.len(), 6, "paged properly"),
        Some(e) => assert!(e.contains("twice (a paging loop)"), "{e}"),
    }

    // name filter
    let d = cluster::discover(
        &client,
        &DiscoverOpts {
            aws: o,
            name_contains: Some("sol".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(d.clusters.len(), 1);
    assert_eq!(d.clusters[0].nodes.len(), 1);
}

#[tokio::test]
async fn unreachable_sagemaker_is_one_message() {
    let o = AwsOpts {
        region: Some("us-east-1".into()),
        endpoint: Some("http://127.0.0.1:9".into()),
        max_attempts: Some(1),
        ..Default::default()
    };
    let client = hyperpod::client(&o).await;
    let e = cluster::discover(
        &client,
        &DiscoverOpts {
            aws: o,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, tandem::aws::FailureKind::Network);
    assert!(
        e.message.starts_with("ListClusters: cannot reach AWS"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn headless_clusters_lists_and_points_a_target_at_a_node() {
    let region = "eu-central-1";
    let client = hyperpod::client(&opts(region)).await;
    create(
        &client,
        "pcs-like",
        vec![
            group("controller", "ml.t3.medium", 1),
            group("compute", "ml.c5.large", 2),
        ],
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(args)
            .env("TANDEM_HOME", home.path())
            .env("AWS_ENDPOINT_URL_SAGEMAKER", moto())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "testsecret")
            .env("AWS_REGION", region)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["clusters", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v["clusters"][0];
    assert_eq!(c["name"], "pcs-like");
    assert_eq!(c["nodes"].as_array().unwrap().len(), 3);
    let ctl = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["group"] == "controller")
        .unwrap();
    let ssm = ctl["ssm_target"].as_str().unwrap().to_string();
    let id = ctl["instance_id"].as_str().unwrap().to_string();

    let (code, out, _) = run(&["clusters"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("pcs-like  InService"), "{out}");
    assert!(out.contains(&ssm), "{out}");

    // point an ssm target of a project at the controller node
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tandem.toml");
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/projects/valid/minimal.toml"
    ))
    .unwrap();
    std::fs::write(
        &file,
        format!(
            "{base}\n[targets.pcs]  # keep me\nkind = \"slurm\"\ntransport = \"ssm\"\ninstance_id = \"i-0123456789abcdef0\"\n"
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (code, out, err) = run(&[
        "clusters",
        "--use-for",
        "pcs",
        "--node",
        &id,
        "--project",
        f,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&ssm), "{out}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("instance_id = \"{ssm}\"")), "{text}");
    assert!(text.contains("# keep me"));
    let p = tandem::project::load(&file).unwrap();
    assert_eq!(p.targets["pcs"].ssm_instance(), Some(ssm.as_str()));
    // a node that is nowhere is refused, the file untouched
    let (code, _, err) = run(&[
        "clusters",
        "--use-for",
        "pcs",
        "--node",
        "nope",
        "--project",
        f,
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no node `nope`"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}
