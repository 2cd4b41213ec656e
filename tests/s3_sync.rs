//! `tandem sync` on Garage (started by scripts/test.sh, which exports TANDEM_TEST_GARAGE): a tree
//! goes up with its checksums, a sync where nothing changed sends nothing and asks the store for
//! nothing but one listing, only changed files go again, `--delete` removes what the source lost,
//! `--dry-run` sends nothing, the tree comes back down the same way; a multipart upload killed
//! with SIGKILL resumes from the parts the store acknowledged, and an unfinished upload of a file
//! that changed is aborted (none is left behind).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use tandem::storage::s3::{S3Options, S3Store};
use tandem::storage::ObjectStore;

fn garage() -> String {
    std::env::var("TANDEM_TEST_GARAGE").unwrap_or_else(|_| {
        panic!("TANDEM_TEST_GARAGE is not set: run the tests with scripts/test.sh, which starts Garage")
    })
}

async fn store() -> Arc<S3Store> {
    Arc::new(
        S3Store::connect(&S3Options {
            endpoint: Some(garage()),
            region: Some("us-east-1".into()),
            ..Default::default()
        })
        .await,
    )
}

async fn new_bucket(s: &S3Store, tag: &str) -> String {
    let b = format!("sync-{tag}-{:08x}", rand::random::<u32>());
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    b
}

fn tandem(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .args(["--endpoint-url", &garage()])
        .env("TANDEM_HOME", home)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JSON lines of a `--json` sync: the plan, and the result.
fn events(o: &Output) -> (serde_json::Value, serde_json::Value) {
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let find = |e: &str| {
        lines
            .iter()
            .find(|v| v["event"] == e)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    (find("plan"), find("done"))
}

/// Every file below `root`, relative, with its bytes, the sync's own folder left out.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel.starts_with("_tandem") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_sends_only_what_differs_both_ways() {
    let s = store().await;
    let b = new_bucket(&s, "tree").await;
    let dir = tempfile::tempdir().unwrap();
    let (home, src, back) = (
        dir.path().join("home"),
        dir.path().join("src"),
        dir.path().join("back"),
    );
    for i in 0..300 {
        let d = src.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join(format!("f{i:03}.txt")),
            format!("{i}\n").repeat(i % 13 + 1),
        )
        .unwrap();
    }
    std::fs::write(src.join("big.bin"), noise(11 << 20, 1)).unwrap();
    let uri = format!("s3://{b}/data");
    let src_s = src.to_str().unwrap();
    let sync = |args: &[&str]| {
        let mut a = vec!["sync", "--part-size-mb", "5", "--json"];
        a.extend_from_slice(args);
        tandem(&home, &a)
    };

    // a dry run says what would go, and sends nothing
    let o = sync(&[src_s, &uri, "--dry-run"]);
    assert!(o.status.success(), "{}", text(&o));
    let (plan, done) = events(&o);
    assert_eq!(plan["send"], 301, "{plan}");
    assert_eq!(plan["new"], 301, "{plan}");
    assert!(done.is_null(), "a dry run does nothing: {}", text(&o));
    assert!(tandem::storage::list_all(s.as_ref(), &b, "")
        .await
        .unwrap()
        .is_empty());

    // the first sync sends everything, each object with its CRC64NVME (the big one as a
    // multipart upload with the whole file's)
    let o = sync(&[src_s, &uri]);
    assert!(o.status.success(), "{}", text(&o));
    let (_, done) = events(&o);
    assert_eq!(done["sent"], 301, "{done}");
    for (key, path) in [
        ("data/d3/f003.txt", src.join("d3/f003.txt")),
        ("data/big.bin", src.join("big.bin")),
    ] {
        let (algo, stored) = s.stored_checksum(&b, key).await.unwrap().unwrap();
        assert_eq!(algo.name(), "crc64nvme", "{key}");
        assert_eq!(
            stored,
            tandem::storage::checksum::of_file(&path, algo).unwrap(),
            "{key}"
        );
    }
    // the manifest lies beside the data and names every object
    let manifest = done["manifest"].as_str().unwrap().to_string();
    let key = manifest.strip_prefix(&format!("{b}/")).unwrap();
    assert!(key.starts_with("data/_tandem/sync-"), "{manifest}");
    let m: serde_json::Value =
        serde_json::from_slice(&s.get_range(&b, key, 0..u64::MAX).await.unwrap()).unwrap();
    assert_eq!(m["objects"].as_array().unwrap().len(), 301, "{m}");
    assert!(m["objects"][0]["checksum"].is_string(), "{m}");

    // nothing changed: nothing sent, every object compared by the recorded checksum
    let o = sync(&[src_s, &uri]);
    assert!(o.status.success(), "{}", text(&o));
    let (plan, done) = events(&o);
    assert_eq!(done["sent"], 0, "{done}");
    assert_eq!(plan["unchanged"], 301, "{plan}");
    assert_eq!(plan["compared_by"]["crc64nvme (recorded)"], 301, "{plan}");

    // ten files change their bytes but not their size, one is new, one is gone
    for i in 0..10 {
        let p = src.join(format!("d{}/f{i:03}.txt", i % 7));
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[0] = b'#';
        std::fs::write(&p, bytes).unwrap();
    }
    std::fs::write(src.join("new.txt"), "new").unwrap();
    std::fs::remove_file(src.join("d5/f299.txt")).unwrap();
    let o = sync(&[src_s, &uri]);
    let (plan, done) = events(&o);
    assert_eq!(done["sent"], 11, "{}", text(&o));
    assert_eq!(plan["not_removed"], 1, "{plan}");
    assert!(
        s.head(&b, "data/d5/f299.txt").await.is_ok(),
        "kept without --delete"
    );
    let o = sync(&[src_s, &uri, "--delete"]);
    let (_, done) = events(&o);
    assert_eq!(
        (done["sent"].clone(), done["removed"].clone()),
        (0.into(), 1.into()),
        "{}",
        text(&o)
    );
    assert!(s.head(&b, "data/d5/f299.txt").await.is_err());

    // verify agrees (the sync's own folder is no mismatch)
    let o = tandem(&home, &["verify", src_s, &uri]);
    assert!(o.status.success(), "{}", text(&o));

    // and down again: everything, then nothing, then only what changed in the store
    let back_s = back.to_str().unwrap();
    let o = sync(&[&uri, back_s]);
    let (_, done) = events(&o);
    assert_eq!(done["sent"], 301, "{}", text(&o));
    assert_eq!(tree(&back), tree(&src));
    assert!(std::fs::read_dir(back.join("_tandem")).unwrap().count() == 1);
    let o = sync(&[&uri, back_s]);
    let (plan, done) = events(&o);
    assert_eq!(done["sent"], 0, "{}", text(&o));
    assert_eq!(plan["compared_by"]["crc64nvme (recorded)"], 301, "{plan}");
    s.put(&b, "data/d1/f001.txt", b"X\n".to_vec())
        .await
        .unwrap();
    std::fs::write(back.join("stray.txt"), "only here").unwrap();
    let o = sync(&[&uri, back_s, "--delete"]);
    let (_, done) = events(&o);
    assert_eq!(
        (done["sent"].clone(), done["removed"].clone()),
        (1.into(), 1.into()),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read(back.join("d1/f001.txt")).unwrap(), b"X\n");
    assert!(!back.join("stray.txt").exists());
}

/// Parts journalled as acknowledged so far, read from the journal database.
fn parts_acked(home: &Path) -> i64 {
    let Ok(c) = rusqlite::Connection::open(home.join("journal.db")) else {
        return 0;
    };
    c.query_row("SELECT COUNT(*) FROM sync_parts", [], |r| r.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_multipart_sync_resumes_and_leaves_no_upload_behind() {
    let s = store().await;
    let b = new_bucket(&s, "resume").await;
    let dir = tempfile::tempdir().unwrap();
    let (home, src) = (dir.path().join("home"), dir.path().join("src"));
    std::fs::create_dir_all(&src).unwrap();
    let big = noise(150 << 20, 7);
    std::fs::write(src.join("big.bin"), &big).unwrap();
    let uri = format!("s3://{b}/run");
    let args = |more: &[&str]| {
        let mut a: Vec<String> = ["sync", src.to_str().unwrap(), &uri, "--part-size-mb", "5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(more.iter().map(|s| s.to_string()));
        a.extend(["--endpoint-url".to_string(), garage()]);
        a
    };
    let start = |more: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(args(more))
            .env("TANDEM_HOME", &home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // one part at a time, killed once a few are in
    let mut child = start(&["--concurrency", "1"]);
    let t0 = std::time::Instant::now();
    while parts_acked(&home) < 3 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sync ended before it could be killed"
        );
        assert!(t0.elapsed().as_secs() < 120, "no part acknowledged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let had = parts_acked(&home);

    let o = tandem(&home, &["sync", "--list-uploads", &uri, "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let ups: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ups.as_array().unwrap().len(), 1, "{ups}");
    assert_eq!(ups[0]["ours"], true, "{ups}");

    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args(&[]))
        .env("TANDEM_HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "resumed run/big.bin: {had} of 30 parts already sent"
        )),
        "{}",
        text(&o)
    );
    let got = s.get_range(&b, "run/big.bin", 0..u64::MAX).await.unwrap();
    assert!(got == big, "the resumed object holds the file's bytes");
    let (_, stored) = s.stored_checksum(&b, "run/big.bin").await.unwrap().unwrap();
    assert_eq!(
        stored,
        tandem::storage::checksum::of_file(
            &src.join("big.bin"),
            tandem::storage::checksum::Algo::Crc64Nvme
        )
        .unwrap()
    );

    // stopped with Ctrl-C half-way, then the file changes: the unfinished upload is aborted
    std::fs::write(src.join("big.bin"), noise(60 << 20, 9)).unwrap();
    let mut child = start(&["--concurrency", "1"]);
    let t0 = std::time::Instant::now();
    while parts_acked(&home) < 2 {
        assert!(child.try_wait().unwrap().is_none(), "ended before Ctrl-C");
        assert!(t0.elapsed().as_secs() < 120, "no part acknowledged");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "Ctrl-C stops the sync with exit 1");
    std::fs::write(src.join("big.bin"), noise(61 << 20, 10)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args(&["--json"]))
        .env("TANDEM_HOME", &home)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (_, done) = events(&o);
    assert_eq!(done["aborted_uploads"], 1, "{done}");
    let o = tandem(&home, &["sync", "--list-uploads", &uri, "--json"]);
    let ups: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ups, serde_json::json!([]), "no upload left behind");
    let got = s.get_range(&b, "run/big.bin", 0..u64::MAX).await.unwrap();
    assert!(got == noise(61 << 20, 10));
}
