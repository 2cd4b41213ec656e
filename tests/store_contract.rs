//! One contract, every ObjectStore: the directory store, s3s-fs (a real S3 server that checks
//! signatures) and moto's S3. The servers are started by scripts/test.sh, which exports
//! TANDEM_TEST_S3S and TANDEM_TEST_MOTO; without them these tests fail, they never pass silently.

use std::sync::Arc;
use tandem::storage::s3::{S3Options, S3Store};
use tandem::storage::transfer::{self, Progress, Tuning};
use tandem::storage::{list_all, local::LocalStore, Entry, ObjectStore, StoreError};
use tokio_util::sync::CancellationToken;

fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the tests with scripts/test.sh, which starts the S3 servers")
    })
}

async fn s3(var: &str) -> S3Store {
    S3Store::connect(&S3Options {
        endpoint: Some(endpoint(var)),
        region: Some("us-east-1".into()),
        ..Default::default()
    })
    .await
}

fn bucket_name(tag: &str) -> String {
    format!("contract-{tag}-{:08x}", rand::random::<u32>())
}

/// A fresh bucket in `store`.
async fn new_bucket(
    store: &dyn ObjectStore,
    local_root: Option<&std::path::Path>,
    tag: &str,
) -> String {
    let b = bucket_name(tag);
    match (store.as_s3(), local_root) {
        (Some(s), _) => {
            s.client().create_bucket().bucket(&b).send().await.unwrap();
        }
        (None, Some(root)) => std::fs::create_dir_all(root.join(&b)).unwrap(),
        _ => unreachable!(),
    }
    b
}

const KEYS: &[&str] = &[
    "a/1.csv",
    "a/2.csv",
    "a/sub/3.csv",
    "b.txt",
    "ünï cødé/ñ.txt",
    "odd key + plus=eq.txt",
    "z",
];

async fn contract(store: Arc<dyn ObjectStore>, bucket: &str) {
    for k in KEYS {
        store
            .put(bucket, k, format!("body of {k}").into_bytes())
            .await
            .unwrap_or_else(|e| panic!("put {k}: {e}"));
    }
    // with the delimiter: folders rolled up, in key order
    let p = store.list_page(bucket, "", true, None, 1000).await.unwrap();
    let got: Vec<&str> = p.entries.iter().map(Entry::key).collect();
    assert_eq!(
        got,
        ["a/", "b.txt", "odd key + plus=eq.txt", "z", "ünï cødé/"],
        "{}",
        store.describe()
    );
    assert!(p.next.is_none());
    let p = store
        .list_page(bucket, "a/", true, None, 1000)
        .await
        .unwrap();
    let got: Vec<&str> = p.entries.iter().map(Entry::key).collect();
    assert_eq!(got, ["a/1.csv", "a/2.csv", "a/sub/"]);
    // without: every key
    let all: Vec<String> = list_all(store.as_ref(), bucket, "")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let mut want: Vec<String> = KEYS.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(all, want);
    // sizes and the unicode key round-trip
    let m = store.head(bucket, "ünï cødé/ñ.txt").await.unwrap();
    assert_eq!(m.size, "body of ünï cødé/ñ.txt".len() as u64);

    // ranges: inside, clamped at the end, past the end
    assert_eq!(
        store.get_range(bucket, "b.txt", 0..4).await.unwrap(),
        b"body"
    );
    assert_eq!(
        store.get_range(bucket, "b.txt", 8..1000).await.unwrap(),
        b"b.txt"
    );
    assert!(store
        .get_range(bucket, "b.txt", 500..600)
        .await
        .unwrap()
        .is_empty());
    // open-ended: from an offset to the end, however long (what a growing series reads)
    assert_eq!(
        store.get_range(bucket, "b.txt", 5..u64::MAX).await.unwrap(),
        b"of b.txt"
    );
    assert!(store
        .get_range(bucket, "b.txt", 500..u64::MAX)
        .await
        .unwrap()
        .is_empty());

    // missing things
    assert!(
        matches!(
            store.head(bucket, "nope").await,
            Err(StoreError::NotFound { .. })
        ),
        "{}",
        store.describe()
    );
    assert!(matches!(
        store.get_range(bucket, "nope", 0..10).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        matches!(
            store
                .list_page("no-such-bucket-x1", "", true, None, 10)
                .await,
            Err(StoreError::NoBucket(_))
        ),
        "{}",
        store.describe()
    );

    // pagination across 1000-key pages, no key lost or repeated
    let futs = (0..1105).map(|i| {
        let store = store.clone();
        async move { store.put(bucket, &format!("many/{i:05}"), vec![b'x']).await }
    });
    futures::future::try_join_all(futs.collect::<Vec<_>>())
        .await
        .unwrap();
    let p1 = store
        .list_page(bucket, "many/", false, None, 1000)
        .await
        .unwrap();
    assert_eq!(p1.entries.len(), 1000);
    let p2 = store
        .list_page(bucket, "many/", false, p1.next.clone(), 1000)
        .await
        .unwrap();
    assert_eq!(p2.entries.len(), 105);
    assert!(p2.next.is_none());
    let keys: Vec<&str> = p1
        .entries
        .iter()
        .chain(&p2.entries)
        .map(Entry::key)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);

    // multipart up and concurrent ranged download: byte-identical
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("big.bin");
    let data: Vec<u8> = (0..12 * 1024 * 1024 + 12345u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).unwrap();
    let t = Tuning {
        part_size: 5 << 20,
        concurrency: 4,
    };
    let items = transfer::plan_upload(&src, "big/", false).unwrap();
    assert_eq!(items[0].key, "big/big.bin");
    let progress = Arc::new(Progress::default());
    transfer::upload(
        store.clone(),
        bucket,
        &items,
        t,
        &transfer::Sending::default(),
        progress.clone(),
        CancellationToken::new(),
    )
    .await
    .into_result()
    .unwrap();
    assert_eq!(progress.snapshot(), (data.len() as u64, data.len() as u64));
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let plan = transfer::plan_download(store.as_ref(), bucket, "big/", &out, true, false)
        .await
        .unwrap();
    transfer::download(
        store.clone(),
        bucket,
        &plan.items,
        t,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .into_result()
    .unwrap();
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == data,
        "download differs"
    );
    // an existing file is not overwritten without asking
    assert!(
        transfer::plan_download(store.as_ref(), bucket, "big/", &out, true, false)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_directory_store() {
    let root = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root.path()));
    let b = new_bucket(store.as_ref(), Some(root.path()), "local").await;
    contract(store, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_fs_server() {
    let store: Arc<dyn ObjectStore> = Arc::new(s3("TANDEM_TEST_S3S").await);
    let b = new_bucket(store.as_ref(), None, "s3s").await;
    contract(store, &b).await;
}

/// Garage: a production S3 store, the main server of the S3 tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_s3() {
    let store: Arc<dyn ObjectStore> = Arc::new(s3("TANDEM_TEST_GARAGE").await);
    let b = new_bucket(store.as_ref(), None, "garage").await;
    contract(store, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_s3() {
    let store: Arc<dyn ObjectStore> = Arc::new(s3("TANDEM_TEST_MOTO").await);
    let b = new_bucket(store.as_ref(), None, "moto").await;
    contract(store, &b).await;
}

/// Wrong keys against a server that checks signatures: one clear message naming the fix.
#[tokio::test]
async fn bad_credentials_say_what_to_do() {
    let url = endpoint("TANDEM_TEST_S3S");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .endpoint_url(url)
        .force_path_style(true)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID: run scripts/test.sh"),
            "wrong-secret",
            None,
            None,
            "test",
        ))
        .build();
    let client = aws_sdk_s3::Client::from_conf(conf);
    let e = client.list_buckets().send().await.unwrap_err();
    let mapped = tandem::storage::s3::map_err(e, "", "");
    assert!(matches!(mapped, StoreError::Credentials(_)), "{mapped}");
    assert!(mapped.to_string().contains("aws sso login"), "{mapped}");
}

/// Keys that would escape a download directory are listed as they are but never written.
#[tokio::test]
async fn hostile_keys_are_refused_on_download() {
    let store: Arc<dyn ObjectStore> = Arc::new(s3("TANDEM_TEST_MOTO").await);
    let b = new_bucket(store.as_ref(), None, "hostile").await;
    for k in [
        "data/../../escape.txt",
        "data//empty.txt",
        "data/\u{1b}[2Jclear.txt",
    ] {
        store.put(&b, k, b"x".to_vec()).await.unwrap();
    }
    let keys: Vec<String> = list_all(store.as_ref(), &b, "data/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let dir = tempfile::tempdir().unwrap();
    let plan = transfer::plan_download(store.as_ref(), &b, "data/", dir.path(), true, false)
        .await
        .unwrap();
    let mut refused: Vec<&str> = plan.refused.iter().map(|r| r.key.as_str()).collect();
    refused.sort();
    assert_eq!(
        refused,
        ["data/../../escape.txt", "data//empty.txt"],
        "each unsafe key refused on its own"
    );
    assert!(plan.refused.iter().all(|r| !r.why.is_empty()));
    assert_eq!(plan.items.len(), 1, "the safe key is still planned");
    transfer::download(
        store.clone(),
        &b,
        &plan.items,
        Tuning::default(),
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .into_result()
    .unwrap();
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        written.len(),
        1,
        "only the safe key was written: {written:?}"
    );
    // the escape sequence is shown escaped
    assert!(
        tandem::observe::sanitize(&keys[0]).contains("\\e[2J")
            || tandem::observe::sanitize(&keys[2]).contains("\\e[2J")
    );
}

/// The sample pipeline with its storage root on S3 (Garage): raw data generated and uploaded,
/// each phase staged down and its output uploaded, `_SUCCESS` last; `tandem ls` and `cat` see it.
#[test]
fn sample_pipeline_on_s3() {
    let url = endpoint("TANDEM_TEST_GARAGE");
    let home = tempfile::tempdir().unwrap();
    let bucket = bucket_name("pipe");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = s3("TANDEM_TEST_GARAGE").await;
        s.client()
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
    });
    let sample = std::fs::read_to_string(tandem::project::sample_project_path()).unwrap();
    let proj = home.path().join("tandem.toml");
    std::fs::write(
        &proj,
        sample.replace(
            "root = \"lake/heat-diffusion\"",
            &format!("root = \"s3://{bucket}/heat-diffusion\""),
        ),
    )
    .unwrap();
    let tandem = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .env("TANDEM_HOME", home.path())
            .args(args)
            .args(["--endpoint-url", &url])
            .output()
            .unwrap()
    };
    let o = tandem(&["run", proj.to_str().unwrap(), "--json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let end: serde_json::Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "end")
        .unwrap();
    assert_eq!(end["run"]["state"], "succeeded");
    let solve_out = end["run"]["phases"][1]["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        solve_out.starts_with(&format!("{bucket}/heat-diffusion/runs/")),
        "{solve_out}"
    );
    // everything landed in S3
    let ls = tandem(&["ls", &format!("s3://{solve_out}"), "--recursive", "--json"]);
    let keys: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&ls.stdout)
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    assert!(keys.iter().any(|k| k.ends_with("/_SUCCESS")), "{keys:?}");
    assert_eq!(
        keys.iter()
            .filter(|k| k.contains("/snapshots/field_"))
            .count(),
        12,
        "{keys:?}"
    );
    let raw = tandem(&[
        "ls",
        &format!("s3://{bucket}/heat-diffusion/raw/"),
        "--json",
    ]);
    assert_eq!(
        serde_json::from_slice::<Vec<serde_json::Value>>(&raw.stdout)
            .unwrap()
            .len(),
        4
    );
    // a ranged head of the series
    let cat = tandem(&[
        "cat",
        &format!("s3://{solve_out}series.csv"),
        "--bytes",
        "20",
    ]);
    assert_eq!(String::from_utf8_lossy(&cat.stdout), "step,time,residual,t");
    // cp down a whole prefix, then refuse to overwrite it
    let dl = home.path().join("dl");
    std::fs::create_dir(&dl).unwrap();
    let cp = tandem(&[
        "cp",
        &format!("s3://{solve_out}snapshots/"),
        dl.to_str().unwrap(),
        "--recursive",
    ]);
    assert!(
        cp.status.success(),
        "{}",
        String::from_utf8_lossy(&cp.stderr)
    );
    assert_eq!(std::fs::read_dir(&dl).unwrap().count(), 12);
    let again = tandem(&[
        "cp",
        &format!("s3://{solve_out}snapshots/"),
        dl.to_str().unwrap(),
        "--recursive",
    ]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // headless plots straight from S3: a snapshot of a prefix, and two compared (difference)
    let png = home.path().join("p.png");
    let plot = |args: &[&str]| {
        let mut all = vec!["plot"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", png.to_str().unwrap(), "--json"]);
        let o = tandem(&all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let snaps = format!("s3://{solve_out}snapshots/");
    let v = plot(&[&snaps, "--snapshot", "3"]);
    assert!(
        v["file"].as_str().unwrap().ends_with("field_0003.npy"),
        "{v}"
    );
    let img = image::open(&png).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1200, 800));
    let glob = format!("s3://{solve_out}snapshots/field_*.npy");
    plot(&[&glob, "--snapshot", "-1", "--compare", &snaps, "--diff"]);
    let v = plot(&[&format!("s3://{solve_out}series.csv"), "--kind", "line"]);
    assert_eq!(v["read_by_ranges"], false);

    // a 3D .npy: only its header and first slice are fetched
    let cube = {
        use npyz::WriterBuilder;
        let mut out = Vec::new();
        let mut w = npyz::WriteOptions::<f64>::new()
            .default_dtype()
            .shape(&[8, 128, 128])
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        w.extend((0..8 * 128 * 128).map(|i| i as f64)).unwrap();
        w.finish().unwrap();
        out
    };
    let size = cube.len();
    rt.block_on(async {
        let s = s3("TANDEM_TEST_GARAGE").await;
        s.put(&bucket, "cube/c.npy", cube).await.unwrap();
    });
    let v = plot(&[&format!("s3://{bucket}/cube/c.npy")]);
    assert_eq!(v["read_by_ranges"], true, "{v}");
    let read = v["bytes_read"].as_u64().unwrap() as usize;
    assert!(read < size / 4 && read > 128 * 128 * 8, "{read} of {size}");

    // the Plots view reads a run's files from S3 when no copy of them is on this machine
    let run_id = end["run"]["id"].as_str().unwrap().to_string();
    let ws = tandem::pipeline::Workspace::new(home.path().to_path_buf());
    std::fs::remove_dir_all(ws.run_dir(&run_id).join("stage")).unwrap();
    let p = tandem::project::load(&proj).unwrap();
    rt.block_on(async {
        let store: Arc<dyn ObjectStore> = Arc::new(s3("TANDEM_TEST_GARAGE").await);
        let heat = p
            .plots
            .iter()
            .position(|x| x.name == "temperature field")
            .unwrap();
        let reader = tandem::plot::load::Reader::new(ws.clone(), Arc::new(p.clone()), Some(store));
        let files = reader.files(&run_id, heat).await.unwrap();
        assert_eq!(files.len(), 12, "{files:?}");
        assert!(files[0].starts_with("snapshots/field_"), "{files:?}");
        let data = reader.load(&run_id, heat, &files[11]).await.unwrap();
        match data {
            tandem::plot::load::PlotData::Field { field, stats, .. } => {
                assert!(field.rows > 1 && field.cols > 1);
                assert_eq!(stats.nonfinite, 0);
            }
            other => panic!("{other:?}"),
        }
        // the series, read from S3 too (from its start, then from where that read stopped)
        let energy = p
            .plots
            .iter()
            .position(|x| x.kind == tandem::project::PlotKind::Line)
            .unwrap();
        for _ in 0..2 {
            match reader.load(&run_id, energy, "series.csv").await.unwrap() {
                tandem::plot::load::PlotData::Series { series, .. } => assert!(series.rows() > 1),
                other => panic!("{other:?}"),
            }
        }
        // without the store there is nothing to read
        let err = tandem::plot::load::Reader::new(ws.clone(), Arc::new(p.clone()), None)
            .files(&run_id, heat)
            .await
            .unwrap_err();
        assert!(err.contains("not on this machine"), "{err}");
    });
}
