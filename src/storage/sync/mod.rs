//! `tandem sync`: a store prefix made to hold what a local directory holds, or a directory what a
//! prefix holds. Objects are compared by size and content ([`compare::same`]: the checksum the
//! [`ledger`] recorded for this version of the object, else the one stored with it, else a plain
//! MD5 ETag, else a full read), never by modification time. Only what differs is sent; with
//! `delete`, what the source no longer has is removed. Uploads carry their checksums; multipart
//! uploads are journalled part by part and resume. Each sync leaves a manifest of every object
//! (`_tandem/sync-<id>.json` beside the data, and in the journal).
//!
//! [`compare::same`]: super::compare::same

mod job;
pub mod ledger;
mod verify;

pub use job::{perform, plan_for};
pub use verify::{verify, Mismatch, Problem, Verified};

use super::checksum::Algo;
use super::compare::{self, Recorded};
use super::transfer::{
    self, dest_path, Direction, Item, Progress, Refused, Report, Sending, Tuning,
};
use super::{list_tree, ObjectMeta, ObjectStore, Result, StoreError};
use futures::StreamExt;
use ledger::{Ledger, Pending};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Where a sync's own files live, under the prefix and the directory: never compared, copied or
/// deleted.
pub const OWN: &str = "_tandem/";

/// One sync, as asked.
#[derive(Debug, Clone)]
pub struct Spec {
    /// `Up`: the directory to the prefix; `Down`: the prefix to the directory.
    pub way: Direction,
    pub bucket: String,
    /// The prefix, ending in `/` (or empty: the whole bucket).
    pub prefix: String,
    pub dir: PathBuf,
    pub delete: bool,
    pub algo: Algo,
    pub tuning: Tuning,
}

impl Spec {
    /// A prefix as a sync uses it: empty, or ending in `/`.
    pub fn folder(prefix: &str) -> String {
        if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        }
    }
}

/// Why an object is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// The destination does not have it.
    New,
    /// The sizes differ.
    Size,
    /// Same size, different bytes.
    Content,
}

/// An object both sides hold alike, with its checksum when one is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Alike {
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    pub stamp: String,
    /// The checksum in the sync's algorithm, when the comparison gave it.
    pub checksum: Option<String>,
}

/// What a sync will do, found by one listing of the prefix and one walk of the directory.
#[derive(Debug, Default)]
pub struct Plan {
    pub send: Vec<(Item, Why)>,
    pub alike: Vec<Alike>,
    /// What `delete` removes: keys in the store (up) or files in the directory (down).
    pub remove: Vec<String>,
    /// Keys a download will not write (they would land outside the directory).
    pub refused: Vec<Refused>,
    /// How many objects were compared each way.
    pub compared_by: BTreeMap<String, usize>,
    /// Multipart uploads an earlier sync began that this one will not resume (the file changed
    /// or is gone): aborted before anything is sent.
    pub stale: Vec<Pending>,
}

impl Plan {
    /// How many objects are sent for why.
    pub fn count(&self, why: Why) -> usize {
        self.send.iter().filter(|(_, w)| *w == why).count()
    }

    /// The plan in one line, as the CLI prints it and the TUI asks before it starts:
    /// `10 to copy (1.2 MiB: 3 new, 7 changed), 9990 unchanged (64 MiB), 2 to remove`.
    pub fn summary(&self, delete: bool) -> String {
        let removal = match (delete, self.remove.len()) {
            (_, 0) => String::new(),
            (true, n) => format!(", {n} to remove"),
            (false, n) => format!(", {n} only in the destination (kept; --delete removes them)"),
        };
        let refused = match self.refused.len() {
            0 => String::new(),
            n => format!(", {n} refused"),
        };
        format!(
            "{} to copy ({}: {} new, {} changed), {} unchanged ({}){removal}{refused}",
            self.send.len(),
            crate::fmt::bytes(self.send_bytes()),
            self.count(Why::New),
            self.count(Why::Size) + self.count(Why::Content),
            self.alike.len(),
            crate::fmt::bytes(self.alike_bytes()),
        )
    }

    pub fn send_bytes(&self) -> u64 {
        self.send.iter().map(|(i, _)| i.size).sum()
    }
    pub fn alike_bytes(&self) -> u64 {
        self.alike.iter().map(|a| a.size).sum()
    }
}

/// The files below `dir` as keys under `prefix`, the sync's own folder left out.
pub(crate) fn local_files(dir: &Path, prefix: &str) -> Result<HashMap<String, (PathBuf, u64)>> {
    if !dir.exists() {
        return Ok(HashMap::new());
    }
    let own = format!("{prefix}{OWN}");
    Ok(transfer::plan_upload(dir, prefix, true)?
        .into_iter()
        .filter(|i| !i.key.starts_with(&own))
        .map(|i| (i.key, (i.path, i.size)))
        .collect())
}

/// Every object under `prefix`, the sync's own folder and folder markers left out.
pub(crate) async fn remote_objects(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectMeta>> {
    let own = format!("{prefix}{OWN}");
    let mut all = Vec::new();
    list_tree(store, bucket, prefix, 16, |b| all.extend(b)).await?;
    let folder_marker = |o: &ObjectMeta| o.key.ends_with('/') && o.size == 0;
    all.retain(|o| !(o.key.starts_with(&own) || folder_marker(o)));
    Ok(all)
}

/// Find what a sync must do: list the prefix once, walk the directory, and compare the objects
/// both sides have (local checksums only, where the ledger knows the object's version).
pub async fn plan(store: Arc<dyn ObjectStore>, ledger: &Ledger, s: &Spec) -> Result<Plan> {
    let known = Arc::new(ledger.known(&s.bucket, &s.prefix).map_err(ledger_err)?);
    // the directory is walked, and the files the ledger knows at their size checksummed, while
    // the prefix is listed: the listing is the server's work, the checksums this machine's
    let walk = {
        let (dir, prefix, known) = (s.dir.clone(), s.prefix.clone(), known.clone());
        super::blocking(move || {
            use rayon::prelude::*;
            let local = local_files(&dir, &prefix)?;
            let sums: HashMap<String, String> = local
                .par_iter()
                .filter_map(|(key, (path, size))| {
                    let r = known.get(key).filter(|r| r.size == *size)?;
                    let sum = super::checksum::of_file(path, r.algo).ok()?;
                    Some((key.clone(), sum))
                })
                .collect();
            Ok((local, sums))
        })
    };
    let (walked, remote) = tokio::join!(walk, remote_objects(store.as_ref(), &s.bucket, &s.prefix));
    let ((local, sums), remote) = (walked?, remote?);
    let mut plan = Plan::default();
    let mut both = Vec::new();
    match s.way {
        Direction::Up => {
            let mut remote: HashMap<String, ObjectMeta> =
                remote.into_iter().map(|o| (o.key.clone(), o)).collect();
            let mut local: Vec<_> = local.into_iter().collect();
            local.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, (path, size)) in local {
                let item = Item {
                    key: key.clone(),
                    path,
                    size,
                    stamp: String::new(),
                };
                match remote.remove(&key) {
                    None => plan.send.push((item, Why::New)),
                    Some(o) if o.size != size => plan.send.push((item, Why::Size)),
                    Some(o) => both.push((item, o)),
                }
            }
            plan.remove = remote.into_keys().collect();
        }
        Direction::Down => {
            let mut local = local;
            for o in remote {
                let path = match dest_path(&s.dir, &s.prefix, &o.key) {
                    Ok(p) => p,
                    Err(e) => {
                        plan.refused.push(Refused {
                            why: match e {
                                StoreError::BadKey { why, .. } => why.to_string(),
                                e => e.to_string(),
                            },
                            key: o.key,
                        });
                        continue;
                    }
                };
                let item = Item {
                    key: o.key.clone(),
                    path,
                    size: o.size,
                    stamp: compare::stamp(&o),
                };
                match local.remove(&o.key) {
                    None => plan.send.push((item, Why::New)),
                    Some((_, size)) if size != o.size => plan.send.push((item, Why::Size)),
                    Some(_) => both.push((item, o)),
                }
            }
            plan.remove = local
                .into_values()
                .map(|(p, _)| p.display().to_string())
                .collect();
        }
    }
    plan.remove.sort();
    let bucket = s.bucket.clone();
    let (known, sums) = (&*known, &sums);
    let mut checks = futures::stream::iter(both)
        .map(|(item, o)| {
            let (store, bucket) = (store.clone(), bucket.clone());
            async move {
                let r = known.get(&o.key);
                let mine = sums.get(&o.key).map(String::as_str);
                let res = compare::same(store.as_ref(), &bucket, &item.path, &o, r, mine).await;
                (item, o, r, res)
            }
        })
        .buffer_unordered(s.tuning.concurrency.max(1) * 4);
    while let Some((item, o, r, res)) = checks.next().await {
        let (how, equal) = res?;
        *plan.compared_by.entry(how.label()).or_default() += 1;
        if equal {
            let checksum = match how {
                compare::Compared::Recorded(a) if a == s.algo => r.map(|r| r.checksum.clone()),
                _ => None,
            };
            plan.alike.push(Alike {
                key: o.key.clone(),
                path: item.path,
                size: o.size,
                stamp: compare::stamp(&o),
                checksum,
            });
        } else {
            plan.send.push((item, Why::Content));
        }
    }
    drop(checks);
    plan.send.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    plan.alike.sort_by(|a, b| a.key.cmp(&b.key));
    if s.way == Direction::Up {
        let sending: HashMap<&str, u64> = plan
            .send
            .iter()
            .map(|(i, _)| (i.key.as_str(), i.size))
            .collect();
        plan.stale = ledger
            .pending(&s.bucket, &s.prefix)
            .map_err(ledger_err)?
            .into_iter()
            .filter(|p| {
                sending.get(p.key.as_str()) != Some(&p.size) || p.part_size != s.tuning.part_size
            })
            .collect();
    }
    Ok(plan)
}

fn ledger_err(e: std::io::Error) -> StoreError {
    StoreError::Io {
        context: "the sync ledger".into(),
        source: e,
    }
}

/// One object of a manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub checksum: Option<String>,
    /// When this sync sent it; `None` when it was already there.
    pub sent: Option<String>,
}

/// What a sync did: the record written beside the data and kept in the journal.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub id: String,
    pub src: String,
    pub dst: String,
    pub algo: Algo,
    pub started: String,
    pub finished: String,
    /// `done`, `failed` (some objects failed) or `stopped`.
    pub state: String,
    pub sent: usize,
    pub sent_bytes: u64,
    pub unchanged: usize,
    pub removed: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub refused: Vec<Refused>,
    pub resumed: Vec<transfer::Resumed>,
    pub objects: Vec<Entry>,
}

/// How a sync ended.
#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    /// Where the manifest was written beside the data (`None`: it could not be, with why).
    pub written: std::result::Result<String, String>,
    pub stopped: Option<StoreError>,
    pub aborted: usize,
}

/// A new sync id: the time and a random part.
pub fn new_id() -> String {
    format!(
        "{}-{:04x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

/// Carry out `plan`: abort stale uploads, send what differs, remove what `delete` removes, record
/// what arrived in the ledger, and write the manifest.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    store: Arc<dyn ObjectStore>,
    ledger: Arc<Ledger>,
    s: &Spec,
    plan: Plan,
    id: &str,
    (src, dst): (&str, &str),
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Outcome {
    let started = chrono::Utc::now().to_rfc3339();
    let _ = ledger.begin(id, src, dst);
    let mut aborted = 0;
    if let Some(s3) = store.as_s3() {
        for p in &plan.stale {
            let r = s3
                .client()
                .abort_multipart_upload()
                .bucket(&p.bucket)
                .key(&p.key)
                .upload_id(&p.upload_id)
                .send()
                .await
                .map_err(|e| super::s3::map_err(e, &p.bucket, &p.key));
            // gone already (completed, aborted or expired): forgotten all the same
            if matches!(r, Ok(_) | Err(StoreError::NotFound { .. })) {
                aborted += 1;
                let _ = transfer::PartBook::ended(ledger.as_ref(), &p.upload_id);
            }
        }
    }
    let items: Vec<Item> = plan.send.iter().map(|(i, _)| i.clone()).collect();
    let report = match s.way {
        Direction::Up => {
            let how = Sending {
                algo: s.algo,
                book: Some(ledger.clone() as Arc<dyn transfer::PartBook>),
            };
            transfer::upload(
                store.clone(),
                &s.bucket,
                &items,
                s.tuning,
                &how,
                progress,
                cancel.clone(),
            )
            .await
        }
        Direction::Down => {
            transfer::download(
                store.clone(),
                &s.bucket,
                &items,
                s.tuning,
                progress,
                cancel.clone(),
            )
            .await
        }
    };
    let mut removed = Vec::new();
    let mut failed: Vec<(String, String)> = report
        .failed
        .iter()
        .map(|(k, e)| (k.clone(), e.to_string()))
        .collect();
    if s.delete && report.stopped.is_none() && !cancel.is_cancelled() && !plan.remove.is_empty() {
        match remove(store.as_ref(), &ledger, s, &plan.remove).await {
            Ok((gone, bad)) => {
                removed = gone;
                failed.extend(bad);
            }
            Err(e) => failed.push(("(delete)".into(), e.to_string())),
        }
    }
    let objects = record(&ledger, s, &plan, &items, &report).await;
    let state = if report.stopped.is_some() {
        "stopped"
    } else if failed.is_empty() {
        "done"
    } else {
        "failed"
    };
    let manifest = Manifest {
        id: id.to_string(),
        src: src.to_string(),
        dst: dst.to_string(),
        algo: s.algo,
        started,
        finished: chrono::Utc::now().to_rfc3339(),
        state: state.into(),
        sent: report.sent.len(),
        sent_bytes: report.sent.iter().map(|x| x.size).sum(),
        unchanged: plan.alike.len(),
        removed,
        failed,
        refused: plan.refused.clone(),
        resumed: report.resumed.clone(),
        objects,
    };
    let json = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    let _ = ledger.finish(id, state, &json);
    let written = write_manifest(store.as_ref(), s, id, json).await;
    Outcome {
        manifest,
        written,
        stopped: report.stopped,
        aborted,
    }
}

/// Remove what the source no longer has; the removed and the failures.
async fn remove(
    store: &dyn ObjectStore,
    ledger: &Ledger,
    s: &Spec,
    what: &[String],
) -> Result<(Vec<String>, Vec<(String, String)>)> {
    match s.way {
        Direction::Up => {
            let bad = store.delete(&s.bucket, what).await?;
            let bad: Vec<(String, String)> =
                bad.into_iter().map(|(k, e)| (k, e.to_string())).collect();
            let gone: Vec<String> = what
                .iter()
                .filter(|k| !bad.iter().any(|(b, _)| b == *k))
                .cloned()
                .collect();
            let _ = ledger.forget(&s.bucket, &gone);
            Ok((gone, bad))
        }
        Direction::Down => {
            let what = what.to_vec();
            super::blocking(move || {
                let (mut gone, mut bad) = (Vec::new(), Vec::new());
                for p in what {
                    match std::fs::remove_file(&p) {
                        Ok(()) => gone.push(p),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => gone.push(p),
                        Err(e) => bad.push((p, e.to_string())),
                    }
                }
                Ok((gone, bad))
            })
            .await
        }
    }
}

/// Record in the ledger what both sides now hold alike (sent, or found alike without the
/// sync's checksum), computing the checksums not known yet; the manifest's objects.
async fn record(
    ledger: &Ledger,
    s: &Spec,
    plan: &Plan,
    items: &[Item],
    report: &Report,
) -> Vec<Entry> {
    /// One object both sides hold alike after the sync; `fresh` when the ledger must learn it.
    struct Row {
        key: String,
        path: PathBuf,
        size: u64,
        stamp: String,
        sum: Option<String>,
        sent: bool,
        fresh: bool,
    }
    let now = chrono::Utc::now().to_rfc3339();
    let paths: HashMap<&str, &Path> = items
        .iter()
        .map(|i| (i.key.as_str(), i.path.as_path()))
        .collect();
    let mut rows: Vec<Row> = Vec::new();
    for x in &report.sent {
        let Some(path) = paths.get(x.key.as_str()) else {
            continue;
        };
        rows.push(Row {
            key: x.key.clone(),
            path: path.to_path_buf(),
            size: x.size,
            stamp: x.stamp.clone().unwrap_or_default(),
            sum: x
                .checksum
                .as_ref()
                .filter(|c| c.algo == s.algo)
                .map(|c| c.value.clone()),
            sent: true,
            fresh: true,
        });
    }
    rows.extend(plan.alike.iter().map(|a| Row {
        key: a.key.clone(),
        path: a.path.clone(),
        size: a.size,
        stamp: a.stamp.clone(),
        sum: a.checksum.clone(),
        sent: false,
        fresh: a.checksum.is_none(),
    }));
    // the checksums not known yet: a download's, an upload's with SHA (its parts'), and objects
    // found alike some other way
    let algo = s.algo;
    let rows = super::blocking(move || {
        use rayon::prelude::*;
        rows.par_iter_mut()
            .filter(|r| r.sum.is_none())
            .for_each(|r| {
                r.sum = super::checksum::of_file(&r.path, algo).ok();
            });
        Ok(rows)
    })
    .await
    .unwrap_or_default();
    let learnt: Vec<(&str, Recorded)> = rows
        .iter()
        .filter(|r| r.fresh && !r.stamp.is_empty())
        .filter_map(|r| {
            let checksum = r.sum.clone()?;
            Some((
                r.key.as_str(),
                Recorded {
                    size: r.size,
                    stamp: r.stamp.clone(),
                    algo,
                    checksum,
                },
            ))
        })
        .collect();
    if let Err(e) = ledger.record(&s.bucket, learnt.iter().map(|(k, r)| (*k, r))) {
        tracing::warn!("recording the sync: {e}");
    }
    drop(learnt);
    let mut objects: Vec<Entry> = rows
        .into_iter()
        .map(|r| Entry {
            key: r.key,
            size: r.size,
            checksum: r.sum,
            sent: r.sent.then(|| now.clone()),
        })
        .collect();
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    objects
}

/// The manifest beside the data: `PREFIX/_tandem/sync-ID.json` in the store (up) or
/// `DIR/_tandem/sync-ID.json` (down).
async fn write_manifest(
    store: &dyn ObjectStore,
    s: &Spec,
    id: &str,
    json: String,
) -> std::result::Result<String, String> {
    let name = format!("{OWN}sync-{id}.json");
    match s.way {
        Direction::Up => {
            let key = format!("{}{name}", s.prefix);
            store
                .put(&s.bucket, &key, json.into_bytes())
                .await
                .map(|()| format!("{}/{key}", s.bucket))
                .map_err(|e| e.to_string())
        }
        Direction::Down => {
            let path = s.dir.join(&name);
            super::local::write_atomic(&path, json.as_bytes())
                .map(|()| path.display().to_string())
                .map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// A multipart upload in the store under a prefix, and whether a sync of this machine began it.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<String>,
    /// Journalled by a sync here (the next sync of the same file resumes it, or aborts it when the
    /// file changed).
    pub ours: bool,
    /// Parts acknowledged, as journalled.
    pub parts: Option<u32>,
}

/// The multipart uploads in progress under `prefix` (ListMultipartUploads), each marked when a
/// sync here journalled it.
pub async fn uploads(
    s3: &super::s3::S3Store,
    ledger: &Ledger,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<Upload>> {
    let ours: HashMap<String, Pending> = ledger
        .pending(bucket, prefix)
        .map_err(ledger_err)?
        .into_iter()
        .map(|p| (p.upload_id.clone(), p))
        .collect();
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = s3
            .client()
            .list_multipart_uploads()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .map_err(|e| super::s3::map_err(e, bucket, prefix))?;
        for u in page.uploads() {
            let id = u.upload_id().unwrap_or_default().to_string();
            let mine = ours.get(&id);
            out.push(Upload {
                key: u.key().unwrap_or_default().to_string(),
                initiated: u.initiated().map(|t| t.to_string()),
                ours: mine.is_some(),
                parts: mine.map(|p| p.parts),
                upload_id: id,
            });
        }
        if page.is_truncated() != Some(true) {
            return Ok(out);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
        if key_marker.is_none() && id_marker.is_none() {
            return Ok(out);
        }
    }
}
