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
    #[error("an array of Python objects (dtype `object`, stored pickled): tandem never unpickles a file, as unpickling runs code; save it with a numeric dtype (`a.astype(float)`)")]
    Objects,
    #[error("dtype `{0}` holds no numbers to draw (text, bytes, dates or raw data)")]
    NotNumbers(String),
    #[error("a structured array: name a field to draw (--field, or `field` of the plot) of {0}")]
    NeedField(String),
    #[error("no field `{name}` in this structured array; its numeric fields: {have}")]
    NoField { name: String, have: String },
    #[error("shape {shape:?}: {what}")]
    Shape { shape: Vec<u64>, what: String },
}

/// How one number is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    B1,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
    F2,
    F4,
    F8,
    /// Two f4, real then imaginary.
    C8,
    /// Two f8.
    C16,
}

impl Kind {
    fn of(t: &npyz::TypeStr) -> Option<Kind> {
        use npyz::TypeChar as T;
        Some(match (t.type_char(), t.size_field()) {
            (T::Bool, 1) => Kind::B1,
            (T::Int, 1) => Kind::I1,
            (T::Int, 2) => Kind::I2,
            (T::Int, 4) => Kind::I4,
            (T::Int, 8) => Kind::I8,
            (T::Uint, 1) => Kind::U1,
            (T::Uint, 2) => Kind::U2,
            (T::Uint, 4) => Kind::U4,
            (T::Uint, 8) => Kind::U8,
            (T::Float, 2) => Kind::F2,
            (T::Float, 4) => Kind::F4,
            (T::Float, 8) => Kind::F8,
            (T::Complex, 8) => Kind::C8,
            (T::Complex, 16) => Kind::C16,
            _ => return None,
        })
    }
    pub fn size(self) -> usize {
        match self {
            Kind::B1 | Kind::I1 | Kind::U1 => 1,
            Kind::I2 | Kind::U2 | Kind::F2 => 2,
            Kind::I4 | Kind::U4 | Kind::F4 => 4,
            Kind::I8 | Kind::U8 | Kind::F8 | Kind::C8 => 8,
            Kind::C16 => 16,
        }
    }
    pub fn is_complex(self) -> bool {
        matches!(self, Kind::C8 | Kind::C16)
    }
}

/// One number of each value (record) of an array: how it is stored and where in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elem {
    pub kind: Kind,
    pub big: bool,
    /// Its bytes within a value of [`Layout::item`] bytes.
    pub offset: usize,
    /// A complex number's part drawn.
    pub part: ComplexPart,
}

/// A value's numbers: one (a plain dtype, or the field picked of a structured one) or, for a
/// structured 1-D array with no field named, each numeric field as a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The bytes of one value.
    pub item: usize,
    pub elems: Vec<(String, Elem)>,
}

/// What an array is, beside what is drawn of it: what the keys that step through its slices,
/// fields and complex parts step through.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct About {
    pub shape: Vec<u64>,
    /// A structured array's numeric fields.
    pub fields: Vec<String>,
    pub complex: bool,
    /// What was drawn of it.
    pub pick: ArrayPick,
}

impl About {
    /// How the part drawn is named: `[2, :, :] of 4×100×200 · field u · abs`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        let n = self.shape.len();
        if n > 2 {
            let mut idx: Vec<String> = (0..n - 2)
                .map(|i| self.pick.slice.get(i).copied().unwrap_or(0).to_string())
                .collect();
            idx.extend([":".to_string(), ":".to_string()]);
            let dims: Vec<String> = self.shape.iter().map(u64::to_string).collect();
            parts.push(format!("[{}] of {}", idx.join(", "), dims.join("×")));
        }
        if let Some(f) = &self.pick.field {
            parts.push(format!("field {}", crate::observe::sanitize(f)));
        }
        if self.complex {
            parts.push(self.pick.complex.as_str().to_string());
        }
        parts.join(" · ")
    }

    /// The next slice (`back`: the one before), the last axis before the two drawn stepping
    /// first, wrapping around; None for an array of two axes or fewer.
    pub fn step_slice(&self, back: bool) -> Option<Vec<u64>> {
        let n = self.shape.len();
        if n <= 2 {
            return None;
        }
        let lead = &self.shape[..n - 2];
        let mut idx: Vec<u64> = (0..lead.len())
            .map(|i| self.pick.slice.get(i).copied().unwrap_or(0))
            .collect();
        for i in (0..lead.len()).rev() {
            if back {
                if idx[i] > 0 {
                    idx[i] -= 1;
                    return Some(idx);
                }
                idx[i] = lead[i] - 1;
            } else {
                if idx[i] + 1 < lead[i] {
                    idx[i] += 1;
                    return Some(idx);
                }
                idx[i] = 0;
            }
        }
        Some(idx)
    }

    /// The next numeric field of a structured array.
    pub fn next_field(&self) -> Option<String> {
        let at = self
            .pick
            .field
            .as_ref()
            .and_then(|f| self.fields.iter().position(|x| x == f));
        let next = at.map_or(0, |i| (i + 1) % self.fields.len().max(1));
        self.fields.get(next).cloned()
    }
}

/// How the values of the slice drawn lie in the file: `lines` runs of `len` values, of which
/// every `step`-th (from the first) is the slice's; the first run starts `skip` values in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane {
    pub rows: usize,
    pub cols: usize,
    /// The values arrive column by column (Fortran order).
    pub transposed: bool,
    pub lines: usize,
    pub len: usize,
    pub step: usize,
    pub skip: u64,
}

/// The shape of what is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dims {
    /// A 0-D array: one value.
    Scalar,
    /// A 1-D array: a line.
    Line(usize),
    /// A 2-D slice.
    Plane(Plane),
}

use crate::project::{ArrayPick, ComplexPart};

/// The magic every .npy starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

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
    pub fn read<R: Read>(mut r: R) -> Result<Header, NpyError> {
        let io = |e: std::io::Error| NpyError::Bad(e.to_string());
        let mut head = vec![0u8; 10];
        r.read_exact(&mut head).map_err(io)?;
        if !head.starts_with(MAGIC) {
            return Err(NpyError::NotNpy);
        }
        if head[6] >= 2 {
            head.resize(12, 0);
            r.read_exact(&mut head[10..]).map_err(io)?;
        }
        let len = Header::len_in(&head).unwrap_or(0);
        if len > 1 << 24 {
            return Err(NpyError::Bad(format!("a header of {len} bytes")));
        }
        let at = head.len();
        head.resize(len as usize, 0);
        r.read_exact(&mut head[at..]).map_err(io)?;
        let dict = String::from_utf8_lossy(&head[at..]);
        // numpy writes an object array's dtype as 'O' (npyz knows no such type)
        if dict.contains("'descr': '|O'") || dict.contains("'descr': 'O'") {
            return Err(NpyError::Objects);
        }
        let h =
            npyz::NpyHeader::from_reader(&head[..]).map_err(|e| NpyError::Bad(e.to_string()))?;
        Ok(Header {
            version: head[6],
            dtype: h.dtype(),
            shape: h.shape().to_vec(),
            fortran: h.order() == npyz::Order::Fortran,
            data_offset: len,
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

    /// What the array is, with `pick` drawn of it.
    pub fn about(&self, pick: &ArrayPick) -> About {
        let fields = match &self.dtype {
            npyz::DType::Record(_) => self
                .layout(&ArrayPick::default(), true)
                .map(|l| l.elems.into_iter().map(|(n, _)| n).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let complex = matches!(&self.dtype, npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Complex)
            || self
                .layout(pick, false)
                .is_ok_and(|l| l.elems.iter().any(|(_, e)| e.kind.is_complex()));
        About {
            shape: self.shape.clone(),
            fields,
            complex,
            pick: pick.clone(),
        }
    }

    /// The numbers drawn of each value, for `pick`: a plain numeric dtype's, or a structured
    /// one's field (or, with `all`, every numeric field). Objects, text and dates are refused
    /// with why.
    pub fn layout(&self, pick: &ArrayPick, all: bool) -> Result<Layout, NpyError> {
        let plain = |t: &npyz::TypeStr, offset: usize| -> Result<Elem, NpyError> {
            let kind = Kind::of(t).ok_or_else(|| NpyError::NotNumbers(t.to_string()))?;
            Ok(Elem {
                kind,
                big: t.endianness() == npyz::Endianness::Big,
                offset,
                part: pick.complex,
            })
        };
        let item = self
            .dtype
            .num_bytes()
            .ok_or_else(|| NpyError::NotNumbers(self.descr()))?;
        match &self.dtype {
            npyz::DType::Plain(t) => Ok(Layout {
                item,
                elems: vec![("value".into(), plain(t, 0)?)],
            }),
            npyz::DType::Array(..) => Err(NpyError::NotNumbers(self.descr())),
            npyz::DType::Record(fields) => {
                let mut numeric: Vec<(String, Elem)> = Vec::new();
                let mut offset = 0usize;
                for f in fields {
                    if let npyz::DType::Plain(t) = &f.dtype {
                        if let Ok(e) = plain(t, offset) {
                            numeric.push((f.name.clone(), e));
                        }
                    }
                    offset += f.dtype.num_bytes().unwrap_or(0);
                }
                let have = || {
                    numeric
                        .iter()
                        .map(|(n, e)| format!("{n} ({:?})", e.kind).to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                match &pick.field {
                    Some(name) => match numeric.iter().find(|(n, _)| n == name) {
                        Some(found) => Ok(Layout {
                            item,
                            elems: vec![found.clone()],
                        }),
                        None => Err(NpyError::NoField {
                            name: crate::observe::sanitize(name).into_owned(),
                            have: crate::observe::sanitize(&have()).into_owned(),
                        }),
                    },
                    None if all && !numeric.is_empty() => Ok(Layout {
                        item,
                        elems: numeric,
                    }),
                    None => Err(NpyError::NeedField(
                        crate::observe::sanitize(&have()).into_owned(),
                    )),
                }
            }
        }
    }

    /// What is drawn of this array's shape, with `slice` the index of every axis but the last two
    /// (missing ones 0). Empty arrays and indexes past an axis are errors that say so.
    pub fn dims(&self, slice: &[u64]) -> Result<Dims, NpyError> {
        let shape = &self.shape;
        let err = |what: String| NpyError::Shape {
            shape: shape.clone(),
            what,
        };
        if shape.contains(&0) {
            return Err(err("the array is empty: nothing to draw".into()));
        }
        let us = |v: u64| usize::try_from(v).map_err(|_| err("too large".into()));
        let n = shape.len();
        if n == 0 {
            return Ok(Dims::Scalar);
        }
        if n == 1 {
            return Ok(Dims::Line(us(shape[0])?));
        }
        let lead = &shape[..n - 2];
        if slice.len() > lead.len() {
            return Err(err(format!(
                "a slice of {} indexes, but the array has {} axes before its last two",
                slice.len(),
                lead.len()
            )));
        }
        let index: Vec<u64> = (0..lead.len())
            .map(|i| slice.get(i).copied().unwrap_or(0))
            .collect();
        for (axis, (i, d)) in index.iter().zip(lead).enumerate() {
            if i >= d {
                return Err(err(format!(
                    "slice index {i} is past axis {axis}, which has {d} (0..{})",
                    d - 1
                )));
            }
        }
        let (rows, cols) = (us(shape[n - 2])?, us(shape[n - 1])?);
        let d: u64 = lead.iter().product();
        let plane = if self.fortran {
            // element [i.., r, c] is at linF(i) + D * (r + R * c): columns of R * D values,
            // every D-th the slice's, from linF(i) on
            let mut lin = 0u64;
            for (i, dim) in index.iter().zip(lead).rev() {
                lin = lin * dim + i;
            }
            Plane {
                rows,
                cols,
                transposed: true,
                lines: cols,
                len: rows
                    .checked_mul(us(d)?)
                    .ok_or_else(|| err("too large".into()))?,
                step: us(d)?,
                skip: lin,
            }
        } else {
            // the slice is contiguous: rows of C values, after linC(i) slices
            let mut lin = 0u64;
            for (i, dim) in index.iter().zip(lead) {
                lin = lin * dim + i;
            }
            Plane {
                rows,
                cols,
                transposed: false,
                lines: rows,
                len: cols,
                step: 1,
                skip: lin
                    .checked_mul(shape[n - 2] * shape[n - 1])
                    .ok_or_else(|| err("too large".into()))?,
            }
        };
        Ok(Dims::Plane(plane))
    }

    /// The bytes of the file the reader uses for `pick`: the header, then the values from the
    /// first the slice uses to the last (a C-order slice is contiguous; a Fortran-order one is
    /// spread over the whole array). `None` for a dtype of no fixed size.
    pub fn needed_for(&self, pick: &ArrayPick) -> Option<std::ops::Range<u64>> {
        let item = self.item_bytes()?;
        let start = self.data_offset;
        let values = match self.dims(&pick.slice).ok()? {
            Dims::Scalar => (0, 1),
            Dims::Line(n) => (0, n as u64),
            Dims::Plane(p) => (p.skip, p.skip + p.values()),
        };
        Some(start + values.0 * item..start + values.1 * item)
    }

    /// How many bytes from the start of the file the reader uses for the default pick (the
    /// first 2-D slice).
    pub fn needed(&self) -> Option<u64> {
        self.needed_for(&ArrayPick::default()).map(|r| r.end)
    }
}

impl Plane {
    /// How many values from the first the slice uses to its last: every run whole but the last,
    /// which ends at the slice's last value.
    pub fn values(&self) -> u64 {
        (self.lines as u64 * self.len as u64).saturating_sub(self.step as u64 - 1)
    }
    /// The values of run `i` that are read (the last is cut after the slice's last value).
    pub fn run_len(&self, i: usize) -> usize {
        if i + 1 == self.lines {
            self.len - (self.step - 1)
        } else {
            self.len
        }
    }
}

/// Every `step`-th value of `bytes` (values of `item` bytes, from the first; a last value cut
/// short is left out) as the number `e` of it, onto `out`.
pub fn decode(e: &Elem, item: usize, bytes: &[u8], step: usize, out: &mut Vec<f64>) {
    fn each<const N: usize>(
        bytes: &[u8],
        stride: usize,
        off: usize,
        out: &mut Vec<f64>,
        f: impl Fn([u8; N]) -> f64,
    ) {
        if stride == N && off == 0 {
            // plain values one after the other: the common case, kept simple for the compiler
            out.extend(bytes.chunks_exact(N).map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            }));
            return;
        }
        out.extend(
            bytes
                .chunks(stride)
                .filter(|c| c.len() >= off + N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(&c[off..off + N]);
                    f(a)
                }),
        );
    }
    let (stride, off) = (item * step.max(1), e.offset);
    let part = e.part;
    let complex = move |re: f64, im: f64| match part {
        ComplexPart::Abs => re.hypot(im),
        ComplexPart::Re => re,
        ComplexPart::Im => im,
        ComplexPart::Arg => im.atan2(re),
    };
    let half = |b: u16| f64::from(half::f16::from_bits(b));
    macro_rules! by_order {
        ($n:literal, $t:ty, $conv:expr) => {
            if e.big {
                each::<$n>(bytes, stride, off, out, |a| $conv(<$t>::from_be_bytes(a)))
            } else {
                each::<$n>(bytes, stride, off, out, |a| $conv(<$t>::from_le_bytes(a)))
            }
        };
    }
    match e.kind {
        Kind::B1 => each::<1>(bytes, stride, off, out, |a| f64::from(u8::from(a[0] != 0))),
        Kind::I1 => each::<1>(bytes, stride, off, out, |a| f64::from(a[0] as i8)),
        Kind::U1 => each::<1>(bytes, stride, off, out, |a| f64::from(a[0])),
        Kind::I2 => by_order!(2, i16, f64::from),
        Kind::U2 => by_order!(2, u16, f64::from),
        Kind::F2 => by_order!(2, u16, half),
        Kind::I4 => by_order!(4, i32, f64::from),
        Kind::U4 => by_order!(4, u32, f64::from),
        Kind::F4 => by_order!(4, f32, f64::from),
        Kind::I8 => by_order!(8, i64, |v: i64| v as f64),
        Kind::U8 => by_order!(8, u64, |v: u64| v as f64),
        Kind::F8 => by_order!(8, f64, |v: f64| v),
        Kind::C8 => {
            let parts = |a: [u8; 8], be: bool| {
                let (r, i) = ([a[0], a[1], a[2], a[3]], [a[4], a[5], a[6], a[7]]);
                let f = if be {
                    f32::from_be_bytes
                } else {
                    f32::from_le_bytes
                };
                complex(f(r).into(), f(i).into())
            };
            let be = e.big;
            each::<8>(bytes, stride, off, out, |a| parts(a, be))
        }
        Kind::C16 => {
            let parts = |a: [u8; 16], be: bool| {
                let mut r = [0u8; 8];
                let mut i = [0u8; 8];
                r.copy_from_slice(&a[..8]);
                i.copy_from_slice(&a[8..]);
                let f = if be {
                    f64::from_be_bytes
                } else {
                    f64::from_le_bytes
                };
                complex(f(r), f(i))
            };
            let be = e.big;
            each::<16>(bytes, stride, off, out, |a| parts(a, be))
        }
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
        // interleaved: from the first value to the slice's last (the 3 slices' values alternate)
        assert_eq!(
            fo.needed(),
            Some(fo.data_offset + (60 - 2) * 8),
            "interleaved"
        );
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
