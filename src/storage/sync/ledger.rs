//! The sync ledger: what each sync moved, in the journal's database (`journal.db`, beside the
//! runs). For every object a sync sent or fetched it keeps the version the store gave it (ETag) and
//! its checksum, so that the next sync learns from one listing which objects still hold what was
//! sent, and compares only local checksums (no request per object). It journals multipart uploads
//! part by part (the upload id, the part size, each acknowledged part's ETag and checksum), so that a
//! sync killed half-way sends only the missing parts when it runs again, and it keeps every sync's
//! manifest.

use super::super::checksum::Algo;
use super::super::compare::Recorded as Known;
use super::super::transfer::{PartBook, Resumable};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sync_objects(
  store TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
  size INTEGER NOT NULL, stamp TEXT NOT NULL, algo TEXT NOT NULL, checksum TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY(store, bucket, key));
CREATE TABLE IF NOT EXISTS sync_uploads(
  upload_id TEXT PRIMARY KEY, store TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
  size INTEGER NOT NULL, part_size INTEGER NOT NULL, algo TEXT NOT NULL, started TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_parts(
  upload_id TEXT NOT NULL, part INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT NOT NULL,
  PRIMARY KEY(upload_id, part));
CREATE TABLE IF NOT EXISTS syncs(
  id TEXT PRIMARY KEY, src TEXT NOT NULL, dst TEXT NOT NULL, started TEXT NOT NULL,
  finished TEXT, state TEXT NOT NULL, manifest TEXT);
";

/// A multipart upload the ledger journalled and that has not ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub part_size: u64,
    pub parts: u32,
    pub started: String,
}

/// The ledger of one store (named as [`ObjectStore::describe`] names it).
///
/// [`ObjectStore::describe`]: super::super::ObjectStore::describe
pub struct Ledger {
    path: PathBuf,
    store: String,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ledger({}, {})", self.path.display(), self.store)
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Keys from `prefix` on: `[prefix, end)` where `end` is the first string after every key that
/// starts with `prefix` (`None`: no upper bound, when there is none or it is not UTF-8; the rows
/// are then filtered by prefix).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0xff {
            b.push(last + 1);
            return String::from_utf8(b).ok();
        }
    }
    None
}

impl Ledger {
    /// The ledger in database `path` for the store named `store`.
    pub fn open(path: &Path, store: &str) -> std::io::Result<Ledger> {
        let err = |e: rusqlite::Error| std::io::Error::other(format!("{}: {e}", path.display()));
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let c = Connection::open(path).map_err(err)?;
        c.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        c.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        c.execute_batch(SCHEMA).map_err(err)?;
        Ok(Ledger {
            path: path.to_path_buf(),
            store: store.to_string(),
            conn: Mutex::new(c),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> std::io::Result<T> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c).map_err(|e| std::io::Error::other(format!("{}: {e}", self.path.display())))
    }

    /// Every object under `prefix` of `bucket` the ledger knows, by key.
    pub fn known(&self, bucket: &str, prefix: &str) -> std::io::Result<HashMap<String, Known>> {
        let end = prefix_end(prefix);
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT key, size, stamp, algo, checksum FROM sync_objects
                 WHERE store = ?1 AND bucket = ?2 AND key >= ?3 AND (?4 IS NULL OR key < ?4)",
            )?;
            let rows = q.query_map(params![self.store, bucket, prefix, end], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let (key, size, stamp, algo, checksum) = row?;
                if !key.starts_with(prefix) {
                    continue; // no upper bound could be made (see prefix_end)
                }
                if let Some(algo) = Algo::parse(&algo) {
                    out.insert(
                        key,
                        Known {
                            size: size as u64,
                            stamp,
                            algo,
                            checksum,
                        },
                    );
                }
            }
            Ok(out)
        })
    }

    /// Record objects as a sync left them, in one transaction.
    pub fn record<'a>(
        &self,
        bucket: &str,
        objects: impl IntoIterator<Item = (&'a str, &'a Known)>,
    ) -> std::io::Result<()> {
        let at = now();
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(
                    "INSERT OR REPLACE INTO sync_objects(store, bucket, key, size, stamp, algo, checksum, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for (key, k) in objects {
                    q.execute(params![
                        self.store,
                        bucket,
                        key,
                        k.size as i64,
                        k.stamp,
                        k.algo.name(),
                        k.checksum,
                        at
                    ])?;
                }
            }
            tx.commit()
        })
    }

    /// Forget objects (deleted by a sync).
    pub fn forget(&self, bucket: &str, keys: &[String]) -> std::io::Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut q = tx.prepare(
                    "DELETE FROM sync_objects WHERE store = ?1 AND bucket = ?2 AND key = ?3",
                )?;
                for k in keys {
                    q.execute(params![self.store, bucket, k])?;
                }
            }
            tx.commit()
        })
    }

    /// Multipart uploads journalled under `prefix` of `bucket` that have not ended.
    pub fn pending(&self, bucket: &str, prefix: &str) -> std::io::Result<Vec<Pending>> {
        let end = prefix_end(prefix);
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT u.upload_id, u.bucket, u.key, u.size, u.part_size, u.started,
                        (SELECT COUNT(*) FROM sync_parts p WHERE p.upload_id = u.upload_id)
                 FROM sync_uploads u
                 WHERE u.store = ?1 AND u.bucket = ?2 AND u.key >= ?3 AND (?4 IS NULL OR u.key < ?4)
                 ORDER BY u.key",
            )?;
            let rows = q.query_map(params![self.store, bucket, prefix, end], |r| {
                Ok(Pending {
                    upload_id: r.get(0)?,
                    bucket: r.get(1)?,
                    key: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    part_size: r.get::<_, i64>(4)? as u64,
                    started: r.get(5)?,
                    parts: r.get::<_, i64>(6)? as u32,
                })
            })?;
            let all: Vec<Pending> = rows.collect::<rusqlite::Result<_>>()?;
            Ok(all
                .into_iter()
                .filter(|p| p.key.starts_with(prefix))
                .collect())
        })
    }

    /// A sync begins.
    pub fn begin(&self, id: &str, src: &str, dst: &str) -> std::io::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO syncs(id, src, dst, started, state) VALUES (?1, ?2, ?3, ?4, 'running')",
                params![id, src, dst, now()],
            )
            .map(|_| ())
        })
    }

    /// A sync ended (`done`, `failed`, `stopped`), with its manifest.
    pub fn finish(&self, id: &str, state: &str, manifest: &str) -> std::io::Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE syncs SET finished = ?2, state = ?3, manifest = ?4 WHERE id = ?1",
                params![id, now(), state, manifest],
            )
            .map(|_| ())
        })
    }

    /// A sync's manifest, as written when it ended.
    pub fn manifest(&self, id: &str) -> std::io::Result<Option<String>> {
        self.with(|c| {
            c.query_row(
                "SELECT manifest FROM syncs WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(Option::flatten)
        })
    }
}

impl PartBook for Ledger {
    fn find(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        part_size: u64,
        algo: Algo,
    ) -> std::io::Result<Option<Resumable>> {
        self.with(|c| {
            let id: Option<String> = c
                .query_row(
                    "SELECT upload_id FROM sync_uploads
                     WHERE store = ?1 AND bucket = ?2 AND key = ?3 AND size = ?4 AND part_size = ?5 AND algo = ?6
                     ORDER BY started DESC LIMIT 1",
                    params![self.store, bucket, key, size as i64, part_size as i64, algo.name()],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(upload_id) = id else { return Ok(None) };
            let mut q =
                c.prepare("SELECT part, etag, checksum FROM sync_parts WHERE upload_id = ?1")?;
            let parts = q
                .query_map(params![upload_id], |r| {
                    Ok((r.get::<_, i64>(0)? as u32, (r.get(1)?, r.get(2)?)))
                })?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(Resumable { upload_id, parts }))
        })
    }

    fn started(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        size: u64,
        part_size: u64,
        algo: Algo,
    ) -> std::io::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO sync_uploads(upload_id, store, bucket, key, size, part_size, algo, started)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![upload_id, self.store, bucket, key, size as i64, part_size as i64, algo.name(), now()],
            )
            .map(|_| ())
        })
    }

    fn acked(&self, upload_id: &str, part: u32, etag: &str, checksum: &str) -> std::io::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO sync_parts(upload_id, part, etag, checksum) VALUES (?1, ?2, ?3, ?4)",
                params![upload_id, part as i64, etag, checksum],
            )
            .map(|_| ())
        })
    }

    fn ended(&self, upload_id: &str) -> std::io::Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM sync_parts WHERE upload_id = ?1",
                params![upload_id],
            )?;
            tx.execute(
                "DELETE FROM sync_uploads WHERE upload_id = ?1",
                params![upload_id],
            )?;
            tx.commit()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_objects_and_uploads_per_store_and_prefix() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("journal.db");
        let l = Ledger::open(&db, "s3 A").unwrap();
        let k = |s: &str| Known {
            size: 3,
            stamp: s.into(),
            algo: Algo::Crc64Nvme,
            checksum: "c".into(),
        };
        let (a, b, c) = (k("e1"), k("e2"), k("e3"));
        l.record("bk", [("p/a", &a), ("p/b", &b), ("q/c", &c)])
            .unwrap();
        let got = l.known("bk", "p/").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["p/b"], b);
        assert!(Ledger::open(&db, "s3 B")
            .unwrap()
            .known("bk", "")
            .unwrap()
            .is_empty());
        l.forget("bk", &["p/a".into()]).unwrap();
        assert_eq!(l.known("bk", "").unwrap().len(), 2);

        l.started("bk", "p/big", "U1", 100, 10, Algo::Crc64Nvme)
            .unwrap();
        l.acked("U1", 1, "e", "x").unwrap();
        l.acked("U1", 2, "f", "y").unwrap();
        assert!(l
            .find("bk", "p/big", 100, 20, Algo::Crc64Nvme)
            .unwrap()
            .is_none());
        let r = l
            .find("bk", "p/big", 100, 10, Algo::Crc64Nvme)
            .unwrap()
            .unwrap();
        assert_eq!(r.upload_id, "U1");
        assert_eq!(r.parts[&2], ("f".to_string(), "y".to_string()));
        assert_eq!(l.pending("bk", "p/").unwrap()[0].parts, 2);
        l.ended("U1").unwrap();
        assert!(l.pending("bk", "").unwrap().is_empty());
        assert_eq!(prefix_end("p/"), Some("p0".into()));
        assert_eq!(prefix_end(""), None);
    }
}
