//! Fault tests against a real S3 server that this test starts and kills: s3s-fs (its binary is
//! installed by scripts/test.sh, which exports TANDEM_S3S_BIN). The server dies in the middle of a
//! listing and of a download; tandem says what happened, retries with backoff, resumes, and the
//! downloaded bytes are identical to the object's.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tandem::storage::s3::{S3Options, S3Store};
use tandem::storage::transfer::{self, Progress, Tuning};
use tandem::storage::{ObjectStore, StoreError};
use tokio_util::sync::CancellationToken;

/// One s3s-fs process on a fixed port and data directory, restartable; stopped by PID on drop.
struct Server {
    bin: PathBuf,
    port: u16,
    data: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn new(data: &Path) -> Server {
        let bin = std::env::var("TANDEM_S3S_BIN").unwrap_or_else(|_| {
            panic!("TANDEM_S3S_BIN is not set: run the tests with scripts/test.sh, which installs s3s-fs")
        });
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = Server {
            bin: bin.into(),
            port,
            data: data.to_path_buf(),
            child: None,
        };
        s.start();
        s
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn start(&mut self) {
        let child = Command::new(&self.bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", "test", "--secret-key", "testsecret"])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "s3s-fs did not open its port"
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
    tokio::task::JoinHandle<Result<(), StoreError>>,
) {
    std::fs::create_dir_all(out).unwrap();
    let items = transfer::plan_download(&**store, "fault", "big.bin", out, false, false)
        .await
        .unwrap();
    let p = Arc::new(Progress::default());
    let job = tokio::spawn(transfer::download(
        store.clone(),
        "fault",
        &items.clone().leak()[..],
        t,
        p.clone(),
        CancellationToken::new(),
    ));
    (items, p, job)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_download_then_back_retries_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("fault")).unwrap();
    let body = random_bytes(64 * MIB as usize);
    std::fs::write(data.join("fault/big.bin"), &body).unwrap();
    let mut server = Server::new(&data);
    let store = connect(&server.url()).await;
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
        .unwrap();
    transfer::download(
        store.clone(),
        "fault",
        &items,
        t,
        Arc::new(Progress::default()),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(
        std::fs::read(out.join("big.bin")).unwrap() == body,
        "byte-identical"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_listing_says_so_and_the_listing_continues() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("many/p")).unwrap();
    for i in 0..2500 {
        std::fs::write(data.join(format!("many/p/k{i:05}")), b"x").unwrap();
    }
    let mut server = Server::new(&data);
    let store = connect(&server.url()).await;
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
