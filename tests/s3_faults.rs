//! Fault tests against real S3 servers that these tests start and kill: s3s-fs and Garage (their
//! binaries are installed by scripts/test.sh, which exports TANDEM_S3S_BIN and TANDEM_GARAGE_BIN).
//! The server dies in the middle of a listing and of a download; tandem says what happened,
//! retries with backoff, resumes, and the downloaded bytes are identical to the object's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem::storage::s3::{S3Options, S3Store};
use tandem::storage::transfer::{self, Progress, Tuning};
use tandem::storage::{ObjectStore, StoreError};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, Debug)]
enum Kind {
    S3s,
    Garage,
}

/// One S3 server process on fixed ports and a fixed data directory, restartable; stopped by PID
/// on drop.
struct Server {
    kind: Kind,
    bin: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn env_bin(var: &str) -> PathBuf {
    std::env::var(var)
        .unwrap_or_else(|_| {
            panic!("{var} is not set: run the tests with scripts/test.sh, which installs the S3 servers")
        })
        .into()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn key_pair() -> (String, String) {
    let get = |v: &str| {
        std::env::var(v).unwrap_or_else(|_| panic!("{v} is not set: run scripts/test.sh"))
    };
    (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"))
}

impl Server {
    /// A fresh server of `kind` keeping its data under `dir`, with the test credential.
    fn new(kind: Kind, dir: &Path) -> Server {
        let bin = match kind {
            Kind::S3s => env_bin("TANDEM_S3S_BIN"),
            Kind::Garage => env_bin("TANDEM_GARAGE_BIN"),
        };
        let port = free_port();
        std::fs::create_dir_all(dir).unwrap();
        if let Kind::Garage = kind {
            let rpc = free_port();
            let secret: String = (0..32)
                .map(|_| format!("{:02x}", rand::random::<u8>()))
                .collect();
            let d = dir.display();
            std::fs::write(
                dir.join("garage.toml"),
                format!(
                    "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                     replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc}\"\n\
                     rpc_public_addr = \"127.0.0.1:{rpc}\"\nrpc_secret = \"{secret}\"\n\
                     [s3_api]\ns3_region = \"us-east-1\"\napi_bind_addr = \"127.0.0.1:{port}\"\n\
                     root_domain = \".s3.garage.localhost\"\n"
                ),
            )
            .unwrap();
        }
        let mut s = Server {
            kind,
            bin,
            port,
            dir: dir.to_path_buf(),
            child: None,
        };
        s.start();
        if let Kind::Garage = kind {
            s.garage_setup();
        }
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn garage(&self, args: &[&str]) -> String {
        let o = Command::new(&self.bin)
            .arg("-c")
            .arg(self.dir.join("garage.toml"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "garage {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A one-node layout and the test credential, once (both survive restarts).
    fn garage_setup(&self) {
        let t0 = Instant::now();
        let node = loop {
            let o = Command::new(&self.bin)
                .arg("-c")
                .arg(self.dir.join("garage.toml"))
                .args(["node", "id", "-q"])
                .output()
                .unwrap();
            let id = String::from_utf8_lossy(&o.stdout);
            if o.status.success() && id.contains('@') {
                break id.split('@').next().unwrap().to_string();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "garage has no node id"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        self.garage(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        self.garage(&["layout", "apply", "--version", "1"]);
        let (id, secret) = key_pair();
        self.garage(&["key", "import", "--yes", "-n", "faults", &id, &secret]);
        self.garage(&["key", "allow", "--create-bucket", "faults"]);
    }

    fn start(&mut self) {
        let mut c = Command::new(&self.bin);
        match self.kind {
            Kind::S3s => {
                let (id, secret) = key_pair();
                c.args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
                    .args(["--access-key", &id, "--secret-key", &secret])
                    .arg(&self.dir);
            }
            Kind::Garage => {
                c.arg("-c").arg(self.dir.join("garage.toml")).arg("server");
            }
        }
        let child = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.bin.display()));
        self.child = Some(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "{:?} did not open its port",
                self.kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A bucket holding `objects`, written through the S3 API (the same for every server).
async fn seed(store: &Arc<dyn ObjectStore>, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
    let s3 = store.as_s3().unwrap();
    s3.client()
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    use futures::StreamExt;
    futures::stream::iter(objects)
        .for_each_concurrent(16, |(k, v)| async move {
            store.put(bucket, &k, v).await.unwrap();
        })
        .await;
}

async fn connect(url: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        S3Store::connect(&S3Options {
            endpoint: Some(url.to_string()),
            region: Some("us-east-1".into()),
            max_attempts: Some(2),
            ..Default::default()
        })
        .await,
    )
}

fn random_bytes(n: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut v = vec![0u8; n];
    rand_chacha::ChaCha8Rng::seed_from_u64(7).fill_bytes(&mut v);
    v
}

const MIB: u64 = 1 << 20;

/// Wait until `p` has moved at least `bytes`, then return.
async fn until_done(p: &Progress, bytes: u64) {
    let t0 = Instant::now();
    while p.snapshot().0 < bytes {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "download made no progress"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Plan `fault/big.bin` into `out` and start downloading it in the background.
async fn start_download(
    store: &Arc<dyn ObjectStore>,
    out: &Path,
    t: Tuning,
) -> (
    Vec<transfer::Item>,
    Arc<Progress>,
    tokio::task::JoinHandle<Result<usize, StoreError>>,
) {
    std::fs::create_dir_all(out).unwrap();
    let items = transfer::plan_download(&**store, "fault", "big.bin", out, false, false)
        .await
        .unwrap()
        .items;
    let p = Arc::new(Progress::default());
    let (store, p2, items2) = (store.clone(), p.clone(), items.clone());
    let job = tokio::spawn(async move {
        transfer::download(store, "fault", &items2, t, p2, CancellationToken::new())
            .await
            .into_result()
    });
    (items, p, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_killed_mid_download_then_back_retries_and_resumes() {
    killed_mid_download(Kind::S3s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_killed_mid_download_then_back_retries_and_resumes() {
    killed_mid_download(Kind::Garage).await
}

async fn killed_mid_download(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let body = random_bytes(64 * MIB as usize);
    let mut server = Server::new(kind, &dir.path().join("data"));
    let store = connect(&server.url()).await;
    seed(&store, "fault", vec![("big.bin".into(), body.clone())]).await;
    let t = Tuning {
        part_size: MIB,
        concurrency: 2,
    };

    // 1. the server dies and comes back within the retry window: the download finishes by itself
    let out = dir.path().join("a");
    let (_, p, job) = start_download(&store, &out, t).await;
    until_done(&p, 8 * MIB).await;
    server.kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.start();
    job.await
        .unwrap()
        .expect("retried after the server came back");
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == body,
        "byte-identical"
    );

    // 2. the server stays down: the download gives up with a message saying so and keeps its parts
    let out = dir.path().join("b");
    let (items, p, job) = start_download(&store, &out, t).await;
    until_done(&p, 16 * MIB).await;
    server.kill();
    let err = job.await.unwrap().expect_err("no server, no download");
    assert!(
        matches!(err, StoreError::Network(_)),
        "a network error, got {err:?}"
    );
    assert!(
        err.to_string().contains("big.bin"),
        "names the object: {err}"
    );
    let written = p.snapshot().0;
    assert!((16 * MIB..64 * MIB).contains(&written), "{written}");
    assert!(
        !out.join("big.bin").exists(),
        "nothing half-written in place"
    );
    assert!(out.join("big.bin.tandem-part").exists());

    // ... and once it is back, the same download resumes: what was written is not fetched again
    server.start();
    let p = Arc::new(Progress::default());
    transfer::download(
        store.clone(),
        "fault",
        &items,
        t,
        p.clone(),
        CancellationToken::new(),
    )
    .await
    .into_result()
    .expect("resumed");
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == body,
        "byte-identical"
    );
    assert!(!out.join("big.bin.tandem-part").exists());
    assert!(!out.join("big.bin.tandem-part.done").exists());

    // 3. a changed object is not stitched onto old parts
    let out = dir.path().join("c");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("big.bin.tandem-part"),
        vec![0xAAu8; 64 * MIB as usize],
    )
    .unwrap();
    std::fs::write(
        out.join("big.bin.tandem-part.done"),
        format!(
            "tandem-part v1 size={} part={} stamp=stale\n0\n1\n",
            64 * MIB,
            MIB
        ),
    )
    .unwrap();
    let items = transfer::plan_download(&*store, "fault", "big.bin", &out, false, false)
        .await
        .unwrap()
        .items;
    transfer::download(
        store.clone(),
        "fault",
        &items,
        t,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .into_result()
    .unwrap();
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == body,
        "byte-identical"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3s_killed_mid_listing_says_so_and_the_listing_continues() {
    killed_mid_listing(Kind::S3s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_killed_mid_listing_says_so_and_the_listing_continues() {
    killed_mid_listing(Kind::Garage).await
}

async fn killed_mid_listing(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::new(kind, &dir.path().join("data"));
    let store = connect(&server.url()).await;
    let objects = (0..2500)
        .map(|i| (format!("p/k{i:05}"), b"x".to_vec()))
        .collect();
    seed(&store, "many", objects).await;
    let first = store
        .list_page("many", "p/", false, None, 1000)
        .await
        .unwrap();
    assert_eq!(first.entries.len(), 1000);
    let token = first.next.clone().expect("more pages");
    server.kill();
    let err = store
        .list_page("many", "p/", false, Some(token.clone()), 1000)
        .await
        .expect_err("no server");
    assert!(matches!(err, StoreError::Network(_)), "{err:?}");
    assert!(err.to_string().contains("cannot reach S3"), "{err}");
    server.start();
    // the same page asked again (what the UI's retry does) picks up where the listing stopped
    let mut n = first.entries.len();
    let mut token = Some(token);
    while let Some(t) = token {
        let page = store
            .list_page("many", "p/", false, Some(t), 1000)
            .await
            .unwrap();
        n += page.entries.len();
        token = page.next;
    }
    assert_eq!(n, 2500);
}
