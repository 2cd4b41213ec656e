//! Whether an object holds a local file's bytes: the one answer `tandem verify` and `tandem sync`
//! share. Sizes are compared first; then, the cheapest proof first, the checksum a sync recorded
//! for this version of the object (no request), the checksum stored with the object (HEAD in
//! checksum mode), its ETag where that is a plain MD5, and last the object read and compared.
//! Each answer says which was used. Modification times are never trusted (FSx and NFS mtimes lie).

use super::checksum::{self, Algo};
use super::{blocking, io_err, ObjectMeta, ObjectStore, Result};
use std::path::Path;

/// How one object's bytes were compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The checksum a sync recorded for this version (ETag) of the object.
    Recorded(Algo),
    /// The checksum stored with the object.
    Checksum(Algo),
    /// The ETag, a plain MD5.
    Etag,
    /// The object read and compared byte for byte (no stored checksum, a multipart ETag).
    FullRead,
}

impl Compared {
    pub fn label(self) -> String {
        match self {
            Compared::Recorded(a) => format!("{} (recorded)", a.name()),
            Compared::Checksum(a) => a.name().to_string(),
            Compared::Etag => "etag (md5)".into(),
            Compared::FullRead => "full read".into(),
        }
    }
}

/// What a sync recorded of an object: the version it left (ETag, else last-modified), its size,
/// and its checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub size: u64,
    pub stamp: String,
    pub algo: Algo,
    pub checksum: String,
}

/// What identifies this version of an object: its ETag, else its last-modified time.
pub fn stamp(o: &ObjectMeta) -> String {
    match (&o.etag, &o.modified) {
        (Some(e), _) => e.clone(),
        (None, Some(m)) => m.to_rfc3339(),
        (None, None) => String::new(),
    }
}

/// The checksum of a local file: small files on the task itself (a hand-off to a blocking thread
/// would cost more than the read), bigger ones on a blocking thread.
pub async fn of_file(path: &Path, size: u64, algo: Algo) -> Result<String> {
    if size <= 1 << 20 {
        return checksum::of_file(path, algo).map_err(io_err(path));
    }
    let p = path.to_path_buf();
    blocking(move || checksum::of_file(&p, algo).map_err(io_err(&p))).await
}

/// Whether object `o` holds the bytes of the file at `path` (of the same size), and how that was
/// found; `recorded` is what a sync recorded of the object, if anything, and `mine` the file's
/// checksum in the recorded algorithm when it is already computed.
pub async fn same(
    store: &dyn ObjectStore,
    bucket: &str,
    path: &Path,
    o: &ObjectMeta,
    recorded: Option<&Recorded>,
    mine: Option<&str>,
) -> Result<(Compared, bool)> {
    if let Some(r) = recorded.filter(|r| r.size == o.size && r.stamp == stamp(o)) {
        let mine = match mine {
            Some(m) => m.to_string(),
            None => of_file(path, o.size, r.algo).await?,
        };
        return Ok((Compared::Recorded(r.algo), mine == r.checksum));
    }
    if let Some(s3) = store.as_s3() {
        if let Some((algo, stored)) = s3.stored_checksum(bucket, &o.key).await? {
            let mine = of_file(path, o.size, algo).await?;
            return Ok((Compared::Checksum(algo), mine == stored));
        }
    }
    if let Some(e) = o.etag.as_deref().filter(|e| checksum::etag_is_md5(e)) {
        let p = path.to_path_buf();
        let mine = blocking(move || checksum::md5_of_file(&p).map_err(io_err(&p))).await?;
        return Ok((
            Compared::Etag,
            mine.eq_ignore_ascii_case(e.trim_matches('"')),
        ));
    }
    // neither: read the object in 8 MiB ranges beside the file
    const STEP: u64 = 8 << 20;
    let file = std::sync::Arc::new(std::fs::File::open(path).map_err(io_err(path))?);
    let mut at = 0;
    while at < o.size {
        let end = (at + STEP).min(o.size);
        let theirs = store.get_range(bucket, &o.key, at..end).await?;
        let (f, n, p) = (file.clone(), (end - at) as usize, path.to_path_buf());
        let mine = blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut b = vec![0u8; n];
            f.read_exact_at(&mut b, at).map(|_| b).map_err(io_err(&p))
        })
        .await?;
        if mine != theirs {
            return Ok((Compared::FullRead, false));
        }
        at = end;
    }
    Ok((Compared::FullRead, true))
}
