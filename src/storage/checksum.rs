//! Content checksums as S3 stores them: the additional checksums (CRC64NVME, CRC32C, CRC32, SHA-256,
//! SHA-1; base64 of the digest, as in `x-amz-checksum-*`) and the MD5 that a plain ETag is. Files are
//! read once, in 1 MiB blocks. The CRCs combine: the checksum of a whole file is made from its
//! parts' (what a multipart upload's full-object checksum is), so bytes are never read twice.

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
    /// The algorithm named `s` (`crc64nvme`, `crc32c`, `crc32`, `sha256`, `sha1`; any case).
    pub fn parse(s: &str) -> Option<Algo> {
        [
            Algo::Crc64Nvme,
            Algo::Crc32c,
            Algo::Crc32,
            Algo::Sha256,
            Algo::Sha1,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// The CRC behind a CRC algorithm and its width in bytes; `None` for the hashes (they do not
    /// combine, so a multipart upload stores a checksum of its parts' checksums).
    fn crc(self) -> Option<(crc_fast::CrcAlgorithm, usize)> {
        use crc_fast::CrcAlgorithm as C;
        match self {
            Algo::Crc64Nvme => Some((C::Crc64Nvme, 8)),
            Algo::Crc32c => Some((C::Crc32Iscsi, 4)),
            Algo::Crc32 => Some((C::Crc32IsoHdlc, 4)),
            Algo::Sha256 | Algo::Sha1 => None,
        }
    }

    /// Whether a multipart upload can store a checksum of the whole object with this algorithm
    /// (S3's `FULL_OBJECT` type: the CRCs).
    pub fn full_object(self) -> bool {
        self.crc().is_some()
    }

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

/// A checksum as S3 shows it: the algorithm and the base64 of the digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sum {
    pub algo: Algo,
    pub value: String,
}

/// The checksum of some bytes that can be joined to the checksum of the bytes after them (a
/// CRC), or, for the hashes, only the digest of these bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub crc: u64,
    pub len: u64,
}

impl Sum {
    /// The checksum of `data`.
    pub fn of(algo: Algo, data: &[u8]) -> Sum {
        match algo.crc() {
            Some((c, _)) => Sum::of_crc(
                algo,
                Piece {
                    crc: crc_fast::checksum(c, data),
                    len: data.len() as u64,
                },
            ),
            None => {
                let mut h = algo.hasher();
                h.update(data);
                Sum {
                    algo,
                    value: encode(&h.finalize()),
                }
            }
        }
    }

    /// A CRC algorithm's checksum from its value.
    pub fn of_crc(algo: Algo, p: Piece) -> Sum {
        let w = algo.crc().map_or(8, |(_, w)| w);
        Sum {
            algo,
            value: encode(&p.crc.to_be_bytes()[8 - w..]),
        }
    }

    /// The checksum of consecutive pieces joined, for a CRC algorithm (`None` for the hashes).
    pub fn joined(algo: Algo, pieces: impl IntoIterator<Item = Piece>) -> Option<Sum> {
        let (c, _) = algo.crc()?;
        let mut all: Option<Piece> = None;
        for p in pieces {
            all = Some(match all {
                None => p,
                Some(a) => Piece {
                    crc: crc_fast::checksum_combine(c, a.crc, p.crc, p.len),
                    len: a.len + p.len,
                },
            });
        }
        Some(Sum::of_crc(
            algo,
            all.unwrap_or(Piece {
                crc: crc_fast::checksum(c, b""),
                len: 0,
            }),
        ))
    }
}

/// The CRC of `data` as a piece that joins others, for a CRC algorithm.
pub fn piece(algo: Algo, data: &[u8]) -> Option<Piece> {
    let (c, _) = algo.crc()?;
    Some(Piece {
        crc: crc_fast::checksum(c, data),
        len: data.len() as u64,
    })
}

fn encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Read `path` whole, in blocks, into `update`.
fn each_block(path: &Path, mut update: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    // a small file's own size (plus one, to see its end in one read), else 1 MiB
    let len = f.metadata().map(|m| m.len()).unwrap_or(u64::MAX);
    let mut buf = vec![0u8; len.saturating_add(1).min(1 << 20) as usize];
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
    let mut h = algo.hasher();
    each_block(path, |b| h.update(b))?;
    Ok(encode(&h.finalize()))
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

    #[test]
    fn pieces_join_into_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, &data).unwrap();
        for algo in [Algo::Crc64Nvme, Algo::Crc32c, Algo::Crc32] {
            let whole = Sum::of(algo, &data);
            assert_eq!(whole.value, of_file(&p, algo).unwrap(), "{algo:?}");
            let pieces = data.chunks(30_000).map(|c| piece(algo, c).unwrap());
            assert_eq!(Sum::joined(algo, pieces).unwrap(), whole, "{algo:?}");
        }
        assert_eq!(
            Sum::of(Algo::Sha256, &data).value,
            of_file(&p, Algo::Sha256).unwrap()
        );
        assert!(Sum::joined(Algo::Sha256, []).is_none());
        assert_eq!(Algo::parse("CRC64NVME"), Some(Algo::Crc64Nvme));
        assert_eq!(Algo::parse("md5"), None);
    }
}
