//! The .npy header: the one reader of it, for the Datasets preview (dtype, shape, order, a summary
//! of the head's values), the plot source's ranged reads (how many bytes the first 2D slice needs)
//! and the field reader (what follows it). npyz parses the header's text.

use std::io::Read;

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Format version (1, 2 or 3).
    pub version: u8,
    pub dtype: npyz::DType,
    pub shape: Vec<u64>,
    pub fortran: bool,
    /// Where the values start: the header's length.
    pub data_offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    #[error("not a .npy file (no \\x93NUMPY magic)")]
    NotNpy,
    #[error("the .npy header is cut short ({have} of {need} bytes)")]
    Incomplete { have: u64, need: u64 },
    #[error("not a readable .npy: {0}")]
    Bad(String),
}

/// The magic every .npy starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Counts the bytes a reader gave.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(b)?;
        self.n += n as u64;
        Ok(n)
    }
}

impl Header {
    /// The header at the start of `head` (which must hold all of it).
    pub fn parse(head: &[u8]) -> Result<Header, NpyError> {
        if !head.starts_with(MAGIC) {
            return Err(NpyError::NotNpy);
        }
        if let Some(need) = Header::len_in(head) {
            if need > head.len() as u64 {
                return Err(NpyError::Incomplete {
                    have: head.len() as u64,
                    need,
                });
            }
        }
        Header::read(head)
    }

    /// The header's length, from its first 12 bytes (None when they are not there yet).
    pub fn len_in(head: &[u8]) -> Option<u64> {
        match *head.get(6)? {
            1 => Some(10 + u64::from(u16::from_le_bytes([*head.get(8)?, *head.get(9)?]))),
            _ => Some(
                12 + u64::from(u32::from_le_bytes([
                    *head.get(8)?,
                    *head.get(9)?,
                    *head.get(10)?,
                    *head.get(11)?,
                ])),
            ),
        }
    }

    /// Read the header from `r`, which is left at the first value.
    pub fn read<R: Read>(r: R) -> Result<Header, NpyError> {
        let mut c = Counted { inner: r, n: 0 };
        let mut magic = [0u8; 8];
        c.read_exact(&mut magic)
            .map_err(|e| NpyError::Bad(e.to_string()))?;
        if !magic.starts_with(MAGIC) {
            return Err(NpyError::NotNpy);
        }
        // npyz reads the rest; give it the 8 bytes back in front
        let mut whole = Counted {
            inner: (&magic[..]).chain(&mut c),
            n: 0,
        };
        let h =
            npyz::NpyHeader::from_reader(&mut whole).map_err(|e| NpyError::Bad(e.to_string()))?;
        let data_offset = whole.n;
        Ok(Header {
            version: magic[6],
            dtype: h.dtype(),
            shape: h.shape().to_vec(),
            fortran: h.order() == npyz::Order::Fortran,
            data_offset,
        })
    }

    /// The dtype as numpy writes it (`<f8`, `|b1`, a record's field list).
    pub fn descr(&self) -> String {
        match &self.dtype {
            npyz::DType::Plain(t) => t.to_string(),
            other => other.descr(),
        }
    }

    /// How many values the array holds.
    pub fn count(&self) -> u64 {
        self.shape.iter().product()
    }

    /// The bytes of one value, when the dtype has a fixed size.
    pub fn item_bytes(&self) -> Option<u64> {
        self.dtype.num_bytes().map(|n| n as u64)
    }

    /// How many bytes from the start of the file the field reader uses: the header and the values
    /// of the first 2D slice (of a C-order 3D array; a Fortran-order one interleaves its slices,
    /// so all of it).
    pub fn needed(&self) -> Option<u64> {
        let values: u64 = match self.shape.as_slice() {
            [_, r, c] if !self.fortran => r * c,
            s => s.iter().product(),
        };
        Some(self.data_offset + values * self.item_bytes()?)
    }
}

/// An f64 .npy of `shape` holding 0, 1, 2, … in file order (tests write these).
#[cfg(test)]
pub(crate) fn counting(shape: &[u64], fortran: bool) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut out = Vec::new();
    let mut w = npyz::WriteOptions::<f64>::new()
        .default_dtype()
        .shape(shape)
        .order(if fortran {
            npyz::Order::Fortran
        } else {
            npyz::Order::C
        })
        .writer(&mut out)
        .begin_nd()
        .unwrap();
    w.extend((0..shape.iter().product::<u64>()).map(|i| i as f64))
        .unwrap();
    w.finish().unwrap();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(shape: &[u64], fortran: bool) -> Vec<u8> {
        counting(shape, fortran)
    }

    #[test]
    fn one_header_for_the_preview_the_source_and_the_reader() {
        let f = npy(&[3, 4, 5], false);
        let h = Header::parse(&f).unwrap();
        assert_eq!((h.version, h.descr().as_str()), (1, "<f8"));
        assert_eq!(
            (h.shape.clone(), h.fortran, h.count()),
            (vec![3, 4, 5], false, 60)
        );
        assert_eq!(h.data_offset % 64, 0, "numpy aligns the values");
        assert_eq!(h.data_offset + 60 * 8, f.len() as u64);
        assert_eq!(h.needed(), Some(h.data_offset + 20 * 8), "the first slice");
        let fo = Header::parse(&npy(&[3, 4, 5], true)).unwrap();
        assert_eq!(fo.needed(), Some(fo.data_offset + 60 * 8), "interleaved");
        // from a reader, left at the first value
        let mut r = &f[..];
        let h2 = Header::read(&mut r).unwrap();
        assert_eq!(h2, h);
        assert_eq!(r.len() as u64, 60 * 8);
        // what is not a whole header
        assert_eq!(Header::parse(b"PK\x03\x04"), Err(NpyError::NotNpy));
        assert!(matches!(
            Header::parse(&f[..40]),
            Err(NpyError::Incomplete { have: 40, .. })
        ));
    }
}
