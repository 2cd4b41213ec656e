//! Transfers on Garage (started by scripts/test.sh, which exports TANDEM_TEST_GARAGE): a prefix of
//! 20,000 objects goes up and comes back down through `tandem cp` under `ulimit -n 256`, byte for
//! byte; a prefix holding a few unsafe keys downloads every safe key and names each refused one;
//! `tandem verify` finds a corrupted object, a missing one and an extra one.

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
    let b = format!("bulk-{tag}-{:08x}", rand::random::<u32>());
    s.client().create_bucket().bucket(&b).send().await.unwrap();
    b
}

/// `tandem ARGS` with at most 256 open files, as a login with a low limit has.
fn tandem_limited(home: &Path, args: &[&str]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(r#"ulimit -n 256 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .env("TANDEM_HOME", home);
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file below `root`, relative, with its bytes.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_objects_both_ways_within_256_open_files() {
    let s = store().await;
    let b = new_bucket(&s, "20k").await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let src = dir.path().join("src");
    for i in 0..20_000u32 {
        let d = src.join(format!("d{:02}", i % 40));
        if i < 40 {
            std::fs::create_dir_all(&d).unwrap();
        }
        let body = format!("object {i} {}\n", "x".repeat((i % 97) as usize));
        std::fs::write(d.join(format!("f{i:05}.txt")), body).unwrap();
    }
    // one object bigger than a part, so that the multipart paths run under the limit too
    let big: Vec<u8> = (0..13u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();

    let url = garage();
    let up = tandem_limited(
        &home,
        &[
            "cp",
            src.to_str().unwrap(),
            &format!("s3://{b}/bulk/"),
            "--recursive",
            "--concurrency",
            "32",
            "--part-size-mb",
            "5",
            "--endpoint-url",
            &url,
            "--json",
        ],
    );
    assert!(up.status.success(), "upload: {}", text(&up));
    let v: serde_json::Value = serde_json::from_slice(&up.stdout).unwrap();
    assert_eq!(v["files"], 20_001, "{v}");
    let listed = tandem::storage::list_all(s.as_ref(), &b, "bulk/")
        .await
        .unwrap();
    assert_eq!(listed.len(), 20_001);

    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let down = tandem_limited(
        &home,
        &[
            "cp",
            &format!("s3://{b}/bulk/"),
            out.to_str().unwrap(),
            "--recursive",
            "--concurrency",
            "32",
            "--part-size-mb",
            "5",
            "--endpoint-url",
            &url,
            "--json",
        ],
    );
    assert!(down.status.success(), "download: {}", text(&down));
    let v: serde_json::Value = serde_json::from_slice(&down.stdout).unwrap();
    assert_eq!(v["files"], 20_001, "{v}");
    assert_eq!(v["refused"], serde_json::json!([]), "{v}");
    let (a, z) = (tree(&src), tree(&out));
    assert_eq!(a.len(), z.len(), "file count");
    assert!(a == z, "the downloaded tree differs from the uploaded one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_keys_are_refused_one_by_one_and_the_rest_arrive() {
    let s = store().await;
    let b = new_bucket(&s, "unsafe").await;
    let safe = ["data/a.csv", "data/sub/b.csv", "data/z.txt"];
    let hostile = [
        "data/../escape.txt",
        "data//empty-segment.txt",
        "data/./dot.txt",
    ];
    for k in safe.iter().chain(&hostile) {
        s.put(&b, k, k.as_bytes().to_vec()).await.unwrap();
    }
    let keys: Vec<String> = tandem::storage::list_all(s.as_ref(), &b, "data/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    let stored_hostile: Vec<&str> = hostile
        .iter()
        .copied()
        .filter(|k| keys.iter().any(|x| x == k))
        .collect();
    assert!(
        !stored_hostile.is_empty(),
        "the server kept none of the hostile keys as given: {keys:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let o = tandem_limited(
        &dir.path().join("home"),
        &[
            "cp",
            &format!("s3://{b}/data/"),
            out.to_str().unwrap(),
            "--recursive",
            "--endpoint-url",
            &garage(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for k in &stored_hostile {
        assert!(
            err.contains(&format!("refused `{k}`")),
            "names {k} with why: {}",
            text(&o)
        );
    }
    for k in safe {
        let p = out.join(k.strip_prefix("data/").unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), k.as_bytes(), "{}", p.display());
    }
    assert!(!dir.path().join("escape.txt").exists());
    let written: Vec<_> = tree(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(written.len(), safe.len(), "{written:?}");
}

fn noise_bytes(n: usize) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 9) as u8)
        .collect()
}

/// Upload `data` as a two-part multipart upload with no checksum of the whole object, as other
/// tools do.
async fn multipart_without_full_checksum(s: &S3Store, b: &str, key: &str, data: &[u8]) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let c = s.client();
    let up = c
        .create_multipart_upload()
        .bucket(b)
        .key(key)
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in data.chunks(5 << 20).enumerate() {
        let p = c
            .upload_part()
            .bucket(b)
            .key(key)
            .upload_id(id)
            .part_number(n as i32 + 1)
            .body(chunk.to_vec().into())
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .set_e_tag(p.e_tag().map(str::to_string))
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(b)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_corrupted_object_and_what_is_missing_on_either_side() {
    let s = store().await;
    let b = new_bucket(&s, "verify").await;
    let dir = tempfile::tempdir().unwrap();
    let (home, src) = (dir.path().join("home"), dir.path().join("src"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..20 {
        std::fs::write(
            src.join(format!("sub/f{i:02}.dat")),
            format!("file {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    // bigger than a part: a multipart ETag, compared by reading
    let big: Vec<u8> = (0..11u32 << 20)
        .map(|i| (i.wrapping_mul(40503) >> 7) as u8)
        .collect();
    std::fs::write(src.join("big.bin"), &big).unwrap();
    let url = garage();
    let uri = format!("s3://{b}/set/");
    let src_s = src.to_str().unwrap();
    let up = tandem_limited(
        &home,
        &[
            "cp",
            src_s,
            &uri,
            "--recursive",
            "--part-size-mb",
            "5",
            "--endpoint-url",
            &url,
        ],
    );
    assert!(up.status.success(), "{}", text(&up));
    // a multipart object as other tools write it (no checksum of the whole object): compared by
    // reading it
    let legacy = noise_bytes(6 << 20);
    std::fs::write(src.join("legacy.bin"), &legacy).unwrap();
    multipart_without_full_checksum(&s, &b, "set/legacy.bin", &legacy).await;
    let verify = || {
        tandem_limited(
            &home,
            &["verify", src_s, &uri, "--endpoint-url", &url, "--json"],
        )
    };

    let o = verify();
    assert!(o.status.success(), "a faithful copy verifies: {}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["compared"], 22, "{v}");
    assert_eq!(v["mismatches"], serde_json::json!([]), "{v}");
    assert_eq!(
        v["by"]["full read"], 1,
        "the multipart object of another tool: {v}"
    );
    assert_eq!(
        v["by"]["crc64nvme"], 21,
        "what tandem sent carries its CRC64NVME, multipart too: {v}"
    );

    // the same size, other bytes; a local file with no object; an object with no local file
    s.put(&b, "set/sub/f03.dat", b"file X\n".repeat(4))
        .await
        .unwrap();
    let mut corrupt = big.clone();
    corrupt[7 << 20] ^= 1;
    std::fs::write(dir.path().join("corrupt.bin"), &corrupt).unwrap();
    let up = tandem_limited(
        &home,
        &[
            "cp",
            dir.path().join("corrupt.bin").to_str().unwrap(),
            &format!("s3://{b}/set/big.bin"),
            "--part-size-mb",
            "5",
            "--endpoint-url",
            &url,
        ],
    );
    assert!(up.status.success(), "{}", text(&up));
    std::fs::write(src.join("new.txt"), b"only here").unwrap();
    s.put(&b, "set/gone.txt", b"only there".to_vec())
        .await
        .unwrap();
    let o = verify();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(String, String)> = v["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["problem"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        ("set/big.bin", "content"),
        ("set/gone.txt", "missing_locally"),
        ("set/new.txt", "missing_in_store"),
        ("set/sub/f03.dat", "content"),
    ];
    assert_eq!(
        got,
        want.map(|(k, p)| (k.to_string(), p.to_string())),
        "{v}"
    );
    // the text form names each one too
    let o = tandem_limited(&home, &["verify", &uri, src_s, "--endpoint-url", &url]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    for (k, _) in want {
        assert!(out.contains(k), "{k} in {}", text(&o));
    }
}
