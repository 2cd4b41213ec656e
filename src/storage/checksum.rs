//! Content checksums as S3 stores them: the additional checksums (CRC64NVME, CRC32C, CRC32, SHA-256,
//! SHA-1; base64 of the digest, as in `x-amz-checksum-*`) and the MD5 that a plain ETag is. Files are
//! read once, in 1 MiB blocks.

use std::io::Read;
use std::path::Path;

/// An S3 additional checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    Crc64Nvme,
    Crc32c,
    Crc32,
    Sha256,
    Sha1,
}

impl Algo {
    pub fn name(self) -> &'static str {
        match self {
            Algo::Crc64Nvme => "crc64nvme",
            Algo::Crc32c => "crc32c",
            Algo::Crc32 => "crc32",
            Algo::Sha256 => "sha256",
            Algo::Sha1 => "sha1",
        }
    }

    fn hasher(self) -> Box<dyn aws_smithy_checksums::Checksum> {
        use aws_smithy_checksums::ChecksumAlgorithm as A;
        let a = match self {
            Algo::Crc64Nvme => A::Crc64Nvme,
            Algo::Crc32c => A::Crc32c,
            Algo::Crc32 => A::Crc32,
            Algo::Sha256 => A::Sha256,
            Algo::Sha1 => A::Sha1,
        };
        a.into_impl()
    }
}

/// Read `path` whole, in blocks, into `update`.
fn each_block(path: &Path, mut update: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        update(&buf[..n]);
    }
}

/// The checksum of a whole file as S3 shows it (base64 of the digest).
pub fn of_file(path: &Path, algo: Algo) -> std::io::Result<String> {
    use base64::Engine;
    let mut h = algo.hasher();
    each_block(path, |b| h.update(b))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(h.finalize()))
}

/// The MD5 of a whole file in lowercase hex, as a plain ETag shows it.
pub fn md5_of_file(path: &Path) -> std::io::Result<String> {
    use md5::Digest;
    let mut h = md5::Md5::new();
    each_block(path, |b| h.update(b))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether an ETag is the MD5 of the object's bytes: 32 hex digits (a multipart upload's ETag
/// ends in `-PARTS`). Objects encrypted with SSE-KMS or SSE-C have ETags of this shape that are not
/// their MD5; a stored checksum is asked for first for that reason.
pub fn etag_is_md5(etag: &str) -> bool {
    let e = etag.trim_matches('"');
    e.len() == 32 && e.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"123456789").unwrap();
        // the check values of each algorithm, base64 of the big-endian digest
        assert_eq!(of_file(&p, Algo::Crc32).unwrap(), "y/Q5Jg==");
        assert_eq!(of_file(&p, Algo::Crc32c).unwrap(), "4waSgw==");
        assert_eq!(md5_of_file(&p).unwrap(), "25f9e794323b453885f5181f1b624d0b");
        assert!(etag_is_md5("\"25f9e794323b453885f5181f1b624d0b\""));
        assert!(!etag_is_md5("25f9e794323b453885f5181f1b624d0b-3"));
    }
}
