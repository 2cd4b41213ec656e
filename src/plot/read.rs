//! Readers: a CSV series (named numeric columns) and a 2D field from .npy.

use crate::project::ArrayPick;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub columns: Vec<String>,
    /// Column-major: `values[c][row]`. Cells that do not parse are NaN.
    pub values: Vec<Vec<f64>>,
}

impl Series {
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .position(|c| c == name)
            .map(|i| self.values[i].as_slice())
    }
    pub fn rows(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub rows: usize,
    pub cols: usize,
    /// Row-major, `rows * cols`.
    pub data: Vec<f64>,
}

/// A zoomed part of a plot, as fractions of the whole: x across, y up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub x0: f64,
    pub x1: f64,
    pub y0: f64,
    pub y1: f64,
}

impl Window {
    pub const ALL: Window = Window {
        x0: 0.0,
        x1: 1.0,
        y0: 0.0,
        y1: 1.0,
    };
    /// How many times the whole it shows (by width).
    pub fn zoom(&self) -> f64 {
        1.0 / (self.x1 - self.x0).max(1e-9)
    }
    /// Zoomed in (`factor` > 1) or out around its centre, kept inside the whole.
    pub fn scaled(&self, factor: f64) -> Window {
        let (cx, cy) = ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0);
        let (hw, hh) = (
            ((self.x1 - self.x0) / factor / 2.0).min(0.5),
            ((self.y1 - self.y0) / factor / 2.0).min(0.5),
        );
        Window {
            x0: cx - hw,
            x1: cx + hw,
            y0: cy - hh,
            y1: cy + hh,
        }
        .inside()
    }
    /// Moved by fractions of its own size, kept inside the whole.
    pub fn panned(&self, dx: f64, dy: f64) -> Window {
        let (w, h) = (self.x1 - self.x0, self.y1 - self.y0);
        Window {
            x0: self.x0 + dx * w,
            x1: self.x1 + dx * w,
            y0: self.y0 + dy * h,
            y1: self.y1 + dy * h,
        }
        .inside()
    }
    /// The columns `[a, b)` of `n` it shows (at least one).
    pub fn cols(&self, n: usize) -> (usize, usize) {
        cut(self.x0, self.x1, n)
    }
    /// The rows `[a, b)` of `n` it shows (at least one).
    pub fn rows(&self, n: usize) -> (usize, usize) {
        cut(self.y0, self.y1, n)
    }
    fn inside(self) -> Window {
        let fit = |a: f64, b: f64| {
            let w = (b - a).min(1.0);
            let a = a.clamp(0.0, 1.0 - w);
            (a, a + w)
        };
        let (x0, x1) = fit(self.x0, self.x1);
        let (y0, y1) = fit(self.y0, self.y1);
        Window { x0, x1, y0, y1 }
    }
}

/// The part `[a, b)` of `n` that fractions `a` to `b` cover, at least one.
fn cut(a: f64, b: f64, n: usize) -> (usize, usize) {
    let lo = ((a.clamp(0.0, 1.0) * n as f64).floor() as usize).min(n.saturating_sub(1));
    let hi = ((b.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(lo + 1, n.max(lo + 1));
    (lo, hi)
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{file}: {msg}")]
    Bad { file: String, msg: String },
}

fn bad(file: &Path, msg: impl Into<String>) -> ReadError {
    ReadError::Bad {
        file: file.display().to_string(),
        msg: msg.into(),
    }
}

/// Parse a CSV series from bytes (header row of column names).
pub fn parse_series(file: &Path, bytes: &[u8]) -> Result<Series, ReadError> {
    let mut rdr = crate::storage::csv::Dialect::sniff(bytes).reader(bytes);
    let mut recs = rdr.records();
    let columns: Vec<String> = match recs.next() {
        Some(h) => h
            .map_err(|e| bad(file, e.to_string()))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect(),
        None => Vec::new(),
    };
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(bad(
            file,
            "empty file: expected a header row of column names",
        ));
    }
    let mut values = vec![Vec::new(); columns.len()];
    for (i, rec) in recs.enumerate() {
        let rec = rec.map_err(|e| bad(file, format!("line {}: {e}", i + 2)))?;
        for (c, col) in values.iter_mut().enumerate() {
            col.push(
                rec.get(c)
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            );
        }
    }
    Ok(Series { columns, values })
}

pub fn read_series(path: &Path) -> Result<Series, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    parse_series(path, &bytes)
}

impl Field {
    /// The part of the field in `window` (fractions of its width and height: x from the left,
    /// y from row 0), at least one cell.
    pub fn crop(&self, w: Window) -> Field {
        if self.data.is_empty() {
            return self.clone();
        }
        let (c0, c1) = w.cols(self.cols);
        let (r0, r1) = w.rows(self.rows);
        let mut data = Vec::with_capacity((r1 - r0) * (c1 - c0));
        for r in r0..r1 {
            data.extend_from_slice(&self.data[r * self.cols + c0..r * self.cols + c1]);
        }
        Field {
            rows: r1 - r0,
            cols: c1 - c0,
            data,
        }
    }

    /// A line through the field: row `row` (values along the columns) or, with `col`, that
    /// column; neither: the middle row. As a series of two columns: the position (`col` or
    /// `row`) and `value`. An index past the edge is an error.
    pub fn slice(&self, row: Option<usize>, col: Option<usize>) -> Result<Series, String> {
        let (pos, values): (&str, Vec<f64>) = match (row, col) {
            (_, Some(c)) if c >= self.cols => {
                return Err(format!(
                    "column {c} is outside the field (0..{})",
                    self.cols
                ))
            }
            (_, Some(c)) => (
                "row",
                (0..self.rows)
                    .map(|r| self.data[r * self.cols + c])
                    .collect(),
            ),
            (Some(r), None) if r >= self.rows => {
                return Err(format!("row {r} is outside the field (0..{})", self.rows))
            }
            (r, None) => {
                let r = r.unwrap_or(self.rows / 2);
                (
                    "col",
                    self.data[r * self.cols..(r + 1) * self.cols].to_vec(),
                )
            }
        };
        Ok(Series {
            columns: vec![pos.into(), "value".into()],
            values: vec![(0..values.len()).map(|i| i as f64).collect(), values],
        })
    }
}

/// Parse a field: .npy (by its magic bytes), else a CSV matrix (rows of numbers, no header).
pub fn parse_field(file: &Path, bytes: &[u8]) -> Result<Field, ReadError> {
    if bytes.starts_with(b"\x93NUMPY") {
        parse_npy(file, bytes)
    } else {
        parse_matrix(file, bytes)
    }
}

/// A CSV matrix: every row the same number of numbers (`nan`, `inf` allowed); a header row of
/// names is skipped. Errors say the line and column.
pub fn parse_matrix(file: &Path, bytes: &[u8]) -> Result<Field, ReadError> {
    let mut rdr = crate::storage::csv::Dialect::sniff(bytes).reader(bytes);
    let (mut data, mut cols, mut rows) = (Vec::new(), 0usize, 0usize);
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 1;
        let rec = rec.map_err(|e| bad(file, format!("line {line}: {e}")))?;
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let parsed: Vec<Result<f64, usize>> = rec
            .iter()
            .enumerate()
            .map(|(c, x)| x.trim().parse::<f64>().map_err(|_| c + 1))
            .collect();
        if rows == 0 && data.is_empty() && parsed.iter().all(|r| r.is_err()) && line == 1 {
            continue; // a header of names
        }
        if rows == 0 {
            cols = parsed.len();
        } else if parsed.len() != cols {
            return Err(bad(
                file,
                format!(
                    "line {line}: {} values, expected {cols} like the first row",
                    parsed.len()
                ),
            ));
        }
        for (c, v) in parsed.into_iter().enumerate() {
            match v {
                Ok(v) => data.push(v),
                Err(_) => {
                    return Err(bad(
                        file,
                        format!(
                            "line {line}:{}: `{}` is not a number",
                            c + 1,
                            crate::observe::sanitize(rec.get(c).unwrap_or("").trim())
                        ),
                    ))
                }
            }
        }
        rows += 1;
    }
    if rows == 0 {
        return Err(bad(
            file,
            "empty file: expected rows of numbers (a CSV matrix) or a .npy",
        ));
    }
    Ok(Field { rows, cols, data })
}

/// Parse a .npy's first 2-D slice (of its only number) as a field.
pub fn parse_npy(file: &Path, bytes: &[u8]) -> Result<Field, ReadError> {
    match read_npy(file, bytes, None, &ArrayPick::default())? {
        Array::Field(f, ..) => Ok(f),
        Array::Series(s) => Ok(Field {
            rows: 1,
            cols: s.rows(),
            data: s.values.last().cloned().unwrap_or_default(),
        }),
        Array::Value(v) => Ok(Field {
            rows: 1,
            cols: 1,
            data: vec![v],
        }),
    }
}

/// What an array holds to draw: a 2-D field (or slice) with the stats of all of it, a 1-D
/// array's line (its index and each number drawn), or a 0-D array's one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Array {
    /// With what the array is, when it is a .npy.
    Field(Field, super::FieldStats, Option<super::npy::About>),
    Series(Series),
    Value(f64),
}

/// Read a .npy as its values arrive from `r` (nothing is held but what is kept): every numeric
/// dtype numpy writes, either byte order, C or Fortran order, format 1.0 to 3.0; of a
/// structured array the field `pick` names; of an N-D array the 2-D slice it names (the first by
/// default); a complex number's part it names. A 2-D slice's stats are counted on the way; with
/// `fit`, only the part of it in the fit's window is kept, averaged block by block to its size
/// as the rows go past: what the screen shows of a large snapshot costs one pass over the file
/// and a few KiB, not the field.
pub fn read_npy<R: std::io::Read>(
    file: &Path,
    mut r: R,
    fit: Option<&super::Fit>,
    pick: &ArrayPick,
) -> Result<Array, ReadError> {
    read_npy_after(file, &mut r, fit, pick, 0)
}

/// [`read_npy`] of a reader that starts `skipped` bytes into the values (see
/// [`super::source::Fetched`]).
pub fn read_npy_after<R: std::io::Read>(
    file: &Path,
    mut r: R,
    fit: Option<&super::Fit>,
    pick: &ArrayPick,
    skipped: u64,
) -> Result<Array, ReadError> {
    use super::npy::{decode, Dims};
    let npy_err = |e: super::npy::NpyError| bad(file, e.to_string());
    let h = super::npy::Header::read(&mut r).map_err(npy_err)?;
    let dims = h.dims(&pick.slice).map_err(npy_err)?;
    let layout = h
        .layout(pick, matches!(dims, Dims::Line(_)))
        .map_err(npy_err)?;
    let item = layout.item;
    let io = |e: std::io::Error| bad(file, e.to_string());
    let plane = match dims {
        Dims::Scalar | Dims::Line(_) => {
            let n = if let Dims::Line(n) = dims { n } else { 1 };
            let want = n
                .checked_mul(item)
                .filter(|b| *b < 1 << 34)
                .ok_or_else(|| bad(file, format!("shape {:?} is too large", h.shape)))?;
            let mut bytes = Vec::with_capacity(want.min(1 << 26));
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut r, want as u64), &mut bytes)
                .map_err(io)?;
            if bytes.len() < want {
                return Err(bad(
                    file,
                    format!("truncated: {} of {n} values", bytes.len() / item.max(1)),
                ));
            }
            let mut cols = Vec::new();
            for (_, e) in &layout.elems {
                let mut v = Vec::with_capacity(n);
                decode(e, item, &bytes, 1, &mut v);
                cols.push(v);
            }
            if dims == Dims::Scalar {
                return Ok(Array::Value(cols[0][0]));
            }
            let mut columns = vec!["index".to_string()];
            columns.extend(layout.elems.iter().map(|(n, _)| n.clone()));
            let mut values = vec![(0..n).map(|i| i as f64).collect::<Vec<f64>>()];
            values.extend(cols);
            return Ok(Array::Series(Series { columns, values }));
        }
        Dims::Plane(p) => p,
    };
    let e = layout.elems[0].1;
    // pass over the values before the slice's first
    let skip = (plane.skip * item as u64)
        .checked_sub(skipped)
        .ok_or_else(|| bad(file, "the bytes read do not start where the slice does"))?;
    let passed =
        std::io::copy(&mut std::io::Read::take(&mut r, skip), &mut std::io::sink()).map_err(io)?;
    if passed < skip {
        return Err(bad(file, "truncated: the file ends before the slice"));
    }
    let (rows, cols) = (plane.rows, plane.cols);
    let (lines, len, step) = (plane.lines, plane.len, plane.step);
    let per_line = len / step;
    let line_bytes = len
        .checked_mul(item)
        .filter(|b| b.checked_mul(lines).is_some())
        .ok_or_else(|| bad(file, format!("shape {:?} is too large", h.shape)))?;
    let mut keep = Keep::new(fit, plane.transposed, (rows, cols), (lines, per_line));
    let (mut lo, mut hi, mut nonfinite) = (f64::INFINITY, f64::NEG_INFINITY, 0usize);
    // whole lines at a time, about 1 MiB of them; a longer line in 1 MiB pieces
    const PIECE: usize = 1 << 20;
    let batch = (PIECE / line_bytes.max(1)).max(1);
    let unit = item * step;
    let piece = (PIECE / unit).max(1) * unit;
    let mut bytes = vec![0u8; piece.min(batch * line_bytes).max(unit)];
    let mut vals: Vec<f64> = Vec::with_capacity(batch * per_line);
    let mut line = 0;
    let mut got = 0usize;
    while line < lines {
        let k = batch.min(lines - line);
        vals.clear();
        // the last run ends at the slice's last value
        let mut left = k * line_bytes - (plane.len - plane.run_len(line + k - 1)) * item;
        while left > 0 {
            let want = left.min(piece);
            let n = read_full(&mut r, &mut bytes[..want]).map_err(io)?;
            got += n;
            if n < want {
                return Err(bad(
                    file,
                    format!(
                        "truncated: {} of {} values",
                        got / item.max(1),
                        plane.values()
                    ),
                ));
            }
            decode(&e, item, &bytes[..want], step, &mut vals);
            left -= want;
        }
        let (l, h, n) = super::finite_bounds(&vals);
        (lo, hi, nonfinite) = (lo.min(l), hi.max(h), nonfinite + n);
        for v in vals.chunks_exact(per_line.max(1)) {
            keep.line(line, v);
            line += 1;
        }
        if per_line == 0 {
            line += k;
        }
    }
    let stats = super::FieldStats {
        rows,
        cols,
        range: if lo <= hi { (lo, hi) } else { (0.0, 1.0) },
        nonfinite,
    };
    Ok(Array::Field(keep.field(), stats, Some(h.about(pick))))
}

/// Read until `buf` is full or the reader ends; how many bytes came.
fn read_full<R: std::io::Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What [`read_npy`] keeps of the lines going past, in the order they arrive (rows, or with
/// `transposed` columns of the field): all of them, or the block sums of the window's part.
struct Keep {
    transposed: bool,
    how: Keeping,
}

enum Keeping {
    /// Lines `[a, b)` and, of each, values `[v0, v1)`: as they are (NaN and inf too).
    Cut {
        span: (usize, usize),
        vals: (usize, usize),
        data: Vec<f64>,
    },
    Sums {
        /// Lines `[a, b)` in the window, how many output lines they make, and the output line
        /// being summed with the line that ends it.
        span: (usize, usize),
        out: usize,
        at: (usize, usize),
        /// Each output column's values, within a line.
        cols: Vec<(usize, usize)>,
        sums: Vec<f64>,
        counts: Vec<u32>,
    },
}

impl Keep {
    fn new(
        fit: Option<&super::Fit>,
        transposed: bool,
        (rows, cols): (usize, usize),
        lines: (usize, usize),
    ) -> Keep {
        let how = match fit {
            Some(fit) if rows > 0 && cols > 0 => {
                let ((r0, r1), (c0, c1)) = (fit.window.rows(rows), fit.window.cols(cols));
                let (out_r, out_c) = fit.shape(r1 - r0, c1 - c0);
                // in the order the values arrive
                let ((a, b), (v0, v1), (out_l, out_v)) = if transposed {
                    ((c0, c1), (r0, r1), (out_c, out_r))
                } else {
                    ((r0, r1), (c0, c1), (out_r, out_c))
                };
                if (out_l, out_v) == (b - a, v1 - v0) {
                    return Keep {
                        transposed,
                        how: Keeping::Cut {
                            span: (a, b),
                            vals: (v0, v1),
                            data: Vec::with_capacity(out_l * out_v),
                        },
                    };
                }
                Keeping::Sums {
                    span: (a, b),
                    out: out_l,
                    at: (0, a + super::block(0, b - a, out_l).1),
                    cols: (0..out_v)
                        .map(|o| {
                            let (x0, x1) = super::block(o, v1 - v0, out_v);
                            (v0 + x0, v0 + x1)
                        })
                        .collect(),
                    sums: vec![0.0; out_l * out_v],
                    counts: vec![0; out_l * out_v],
                }
            }
            // a header may claim more than the file holds: memory grows with what arrives
            _ => Keeping::Cut {
                span: (0, lines.0),
                vals: (0, lines.1),
                data: Vec::with_capacity(lines.0.saturating_mul(lines.1).min(1 << 24)),
            },
        };
        Keep { transposed, how }
    }

    fn line(&mut self, i: usize, v: &[f64]) {
        match &mut self.how {
            Keeping::Cut { span, vals, data } => {
                if i >= span.0 && i < span.1 {
                    data.extend_from_slice(&v[vals.0..vals.1]);
                }
            }
            Keeping::Sums {
                span,
                out,
                at,
                cols,
                sums,
                counts,
            } => {
                if i < span.0 || i >= span.1 {
                    return;
                }
                // lines arrive in order: the next output line once this one's are summed
                while i >= at.1 && at.0 + 1 < *out {
                    at.0 += 1;
                    at.1 = span.0 + super::block(at.0, span.1 - span.0, *out).1;
                }
                let w = cols.len();
                let o = at.0 * w;
                super::add_row(v, cols, &mut sums[o..o + w], &mut counts[o..o + w]);
            }
        }
    }

    /// The field kept, rows across (a transposed arrival turned back).
    fn field(self) -> Field {
        let (data, lines, per) = match self.how {
            Keeping::Cut { span, vals, data } => (data, span.1 - span.0, vals.1 - vals.0),
            Keeping::Sums {
                cols, sums, counts, ..
            } => {
                let mut d = vec![0.0; sums.len()];
                super::averages(&sums, &counts, &mut d);
                let per = cols.len();
                (d, sums.len() / per.max(1), per)
            }
        };
        if !self.transposed {
            return Field {
                rows: lines,
                cols: per,
                data,
            };
        }
        let mut t = vec![0.0; data.len()];
        for (l, line) in data.chunks_exact(per.max(1)).enumerate() {
            for (j, &x) in line.iter().enumerate() {
                t[j * lines + l] = x;
            }
        }
        Field {
            rows: per,
            cols: lines,
            data: t,
        }
    }
}

/// What to draw from `r`: a .npy (by its magic bytes) read as it arrives (see [`read_npy`]; `r`
/// may start `skipped` bytes into its values, a ranged read), else a CSV matrix with its stats.
/// With `fit`, only what the screen shows of a field (see [`super::Fit`]).
pub fn read_field_from<R: std::io::BufRead>(
    file: &Path,
    mut r: R,
    fit: Option<&super::Fit>,
    pick: &ArrayPick,
    skipped: u64,
) -> Result<Array, ReadError> {
    let npy = r
        .fill_buf()
        .map_err(|e| bad(file, e.to_string()))?
        .starts_with(b"\x93NUMPY");
    if npy {
        return read_npy_after(file, r, fit, pick, skipped);
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut r, &mut bytes).map_err(|e| bad(file, e.to_string()))?;
    let field = parse_matrix(file, &bytes)?;
    let stats = super::FieldStats::of(&field);
    Ok(Array::Field(
        match fit {
            Some(fit) => fit.apply(field),
            None => field,
        },
        stats,
        None,
    ))
}

/// A field from a file on this machine: a .npy parsed as it is read (its bytes are not held in
/// memory beside the values), anything else as a CSV matrix.
pub fn read_field(path: &Path) -> Result<Field, ReadError> {
    match read_field_counted(path, None, &ArrayPick::default())?.0 {
        Array::Field(f, ..) => Ok(f),
        _ => Err(bad(path, "not a 2-D array")),
    }
}

/// [`read_field_from`] a file on this machine, and how many bytes of it were read (a .npy: its
/// header and the values used, give or take the read-ahead; the values before a slice are
/// passed over by seeking, not read).
pub fn read_field_counted(
    path: &Path,
    fit: Option<&super::Fit>,
    pick: &ArrayPick,
) -> Result<(Array, u64), ReadError> {
    use std::io::{Read, Seek, SeekFrom};
    struct Counted<R>(R, u64);
    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(b)?;
            self.1 += n as u64;
            Ok(n)
        }
    }
    let mut f = std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?;
    // a slice far into a large array: seek to it
    let mut head = vec![0u8; 1 << 16];
    let n = read_full(&mut f, &mut head).map_err(|e| bad(path, e.to_string()))?;
    head.truncate(n);
    let (start, skipped) = match super::npy::Header::parse(&head) {
        Ok(h) => match h.needed_for(pick) {
            Some(r) if r.start > h.data_offset + (1 << 20) => (r.start, r.start - h.data_offset),
            _ => (0, 0),
        },
        Err(_) => (0, 0),
    };
    f.seek(SeekFrom::Start(0))
        .map_err(|e| bad(path, e.to_string()))?;
    let rest: Box<dyn Read> = if skipped > 0 {
        let hlen = start - skipped;
        let mut g = std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?;
        g.seek(SeekFrom::Start(start))
            .map_err(|e| bad(path, e.to_string()))?;
        Box::new(std::io::Cursor::new(head[..hlen as usize].to_vec()).chain(g))
    } else {
        Box::new(f)
    };
    let mut r = std::io::BufReader::with_capacity(1 << 16, Counted(rest, 0));
    let got = read_field_from(path, &mut r, fit, pick, skipped)?;
    Ok((got, r.get_ref().1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_with_ragged_and_text_cells() {
        let s = parse_series(
            Path::new("s.csv"),
            b"step,time,e\n0,0.0,1\n1,0.1,x\n2,0.2\n",
        )
        .unwrap();
        assert_eq!(s.columns, ["step", "time", "e"]);
        assert_eq!(s.column("time").unwrap(), &[0.0, 0.1, 0.2]);
        assert!(s.column("e").unwrap()[1].is_nan() && s.column("e").unwrap()[2].is_nan());
    }

    #[test]
    fn empty_and_garbage_are_errors() {
        assert!(parse_series(Path::new("e.csv"), b"").is_err());
        let e = parse_field(Path::new("x.npy"), b"garbage").unwrap_err();
        assert!(e.to_string().contains("x.npy"), "{e}");
    }

    #[test]
    fn npy_roundtrip_and_truncation() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.npy");
        crate::tools::heat2d::write_npy(&p, 2, 3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let f = read_field(&p).unwrap();
        assert_eq!((f.rows, f.cols), (2, 3));
        assert_eq!(f.data[5], 6.0);
        let bytes = std::fs::read(&p).unwrap();
        assert!(parse_field(&p, &bytes[..bytes.len() - 9]).is_err());
    }

    /// A .npy of `shape` holding `stored` (in the order of `order`) as `descr`.
    fn npy<T: npyz::Serialize + Copy>(
        descr: &str,
        order: npyz::Order,
        shape: &[u64],
        stored: &[T],
    ) -> Vec<u8> {
        use npyz::WriterBuilder;
        let mut buf = Vec::new();
        let mut w = npyz::WriteOptions::<T>::new()
            .dtype(npyz::DType::Plain(descr.parse().unwrap()))
            .order(order)
            .shape(shape)
            .writer(&mut buf)
            .begin_nd()
            .unwrap();
        w.extend(stored.iter().copied()).unwrap();
        w.finish().unwrap();
        buf
    }

    fn field_of(a: Array) -> (Field, crate::plot::FieldStats) {
        match a {
            Array::Field(f, s, _) => (f, s),
            other => panic!("{other:?}"),
        }
    }

    fn same(a: &Field, b: &Field, what: &str) {
        assert_eq!((a.rows, a.cols), (b.rows, b.cols), "{what}");
        for (i, (x, y)) in a.data.iter().zip(&b.data).enumerate() {
            let ok =
                (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= 1e-9 * x.abs().max(1.0);
            assert!(ok, "{what}: value {i}: {x} vs {y}");
        }
    }

    #[test]
    fn a_npy_read_to_a_fit_is_the_whole_field_cut_and_averaged() {
        use crate::plot::{FieldStats, Fit};
        use npyz::Order;
        let (rows, cols) = (37usize, 53usize);
        let value = |r: usize, c: usize| match (r, c) {
            (3, 4) => f64::NAN,
            (20, 7) => f64::INFINITY,
            _ => (r as f64 * 0.3).sin() * 10.0 + c as f64,
        };
        let c_order: Vec<f64> = (0..rows * cols)
            .map(|i| value(i / cols, i % cols))
            .collect();
        let f_order: Vec<f64> = (0..rows * cols)
            .map(|i| value(i % rows, i / rows))
            .collect();
        // a 3D cube [2, rows, cols] in Fortran order: its first slice interleaved with the other
        let cube: Vec<f64> = (0..2 * rows * cols)
            .map(|i| {
                if i % 2 == 0 {
                    value((i / 2) % rows, (i / 2) / rows)
                } else {
                    -1e6
                }
            })
            .collect();
        let files = [
            (
                "C",
                npy("<f8", Order::C, &[rows as u64, cols as u64], &c_order),
            ),
            (
                "F",
                npy(">f8", Order::Fortran, &[rows as u64, cols as u64], &f_order),
            ),
            (
                "3D F",
                npy("<f8", Order::Fortran, &[2, rows as u64, cols as u64], &cube),
            ),
        ];
        let whole = field_of(
            read_npy(
                Path::new("w.npy"),
                &files[0].1[..],
                None,
                &ArrayPick::default(),
            )
            .unwrap(),
        );
        assert_eq!(whole.0.data.len(), rows * cols);
        assert!(whole.0.data[3 * cols + 4].is_nan() && whole.0.data[20 * cols + 7].is_infinite());
        let stats = FieldStats::of(&whole.0);
        assert_eq!(whole.1, stats, "stats counted while reading");
        let windows = [
            Window::ALL,
            Window::ALL.scaled(2.0),
            Window::ALL.scaled(4.0).panned(1.0, -1.0),
            Window {
                x0: 0.99,
                x1: 1.0,
                y0: 0.0,
                y1: 0.01,
            },
        ];
        for (name, bytes) in &files {
            let (full, st) = field_of(
                read_npy(Path::new("f.npy"), &bytes[..], None, &ArrayPick::default()).unwrap(),
            );
            same(&full, &whole.0, name);
            // (the 3D cube's other slice is read past, not counted)
            assert_eq!(st, stats, "{name}");
            for w in windows {
                for within in [(7, 9), (12, 1000), (1000, 1000), (1, 1), (74, 53)] {
                    let fit = Fit { window: w, within };
                    let (got, st) = field_of(
                        read_npy(
                            Path::new("f.npy"),
                            &bytes[..],
                            Some(&fit),
                            &ArrayPick::default(),
                        )
                        .unwrap(),
                    );
                    let want = fit.apply(whole.0.clone());
                    same(&got, &want, &format!("{name} {w:?} {within:?}"));
                    assert_eq!(st, stats, "the whole field's stats, zoomed or not");
                    assert!(got.rows <= within.0.max(1) && got.cols <= within.1.max(1));
                }
            }
        }
        // C order is summed in the same order as downsample: equal to the bit
        let fit = Fit {
            window: Window::ALL,
            within: (10, 10),
        };
        let (got, _) = field_of(
            read_npy(
                Path::new("f.npy"),
                &files[0].1[..],
                Some(&fit),
                &ArrayPick::default(),
            )
            .unwrap(),
        );
        let want = fit.apply(whole.0.clone());
        assert_eq!(
            got.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_number_kind_and_byte_order_decodes_and_bad_headers_are_errors() {
        use npyz::Order;
        let vals: Vec<i32> = (0..12).map(|i| i * 7 - 30).collect();
        let want: Vec<f64> = vals.iter().map(|&v| v as f64).collect();
        let f4: Vec<f32> = vals.iter().map(|&v| v as f32).collect();
        let i8: Vec<i64> = vals.iter().map(|&v| v as i64).collect();
        let shape = [3u64, 4];
        for bytes in [
            npy("<i4", Order::C, &shape, &vals),
            npy(">i4", Order::C, &shape, &vals),
            npy("<f4", Order::C, &shape, &f4),
            npy(">f4", Order::C, &shape, &f4),
            npy("<i8", Order::C, &shape, &i8),
            npy(">i8", Order::C, &shape, &i8),
        ] {
            let f = parse_npy(Path::new("k.npy"), &bytes).unwrap();
            assert_eq!((f.rows, f.cols, &f.data), (3, 4, &want));
        }
        // a header that claims far more than the file holds: an error, not an allocation
        let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (1073741824, 1073741824), }";
        let text = format!("{dict:<117}\n");
        let mut big = b"\x93NUMPY\x01\x00".to_vec();
        big.extend_from_slice(&(text.len() as u16).to_le_bytes());
        big.extend_from_slice(text.as_bytes());
        big.extend_from_slice(&[0u8; 64]);
        let e = parse_npy(Path::new("big.npy"), &big)
            .unwrap_err()
            .to_string();
        assert!(e.contains("big.npy: truncated"), "{e}");
        let fit = crate::plot::Fit {
            window: Window::ALL,
            within: (60, 200),
        };
        let e = read_npy(
            Path::new("big.npy"),
            &big[..],
            Some(&fit),
            &ArrayPick::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("truncated"), "{e}");
        // empty arrays are said to be empty, fitted or not
        let empty = npy("<f8", Order::C, &[0, 5], &[0.0f64; 0]);
        let e = parse_npy(Path::new("e.npy"), &empty)
            .unwrap_err()
            .to_string();
        assert!(e.contains("e.npy: shape [0, 5]: the array is empty"), "{e}");
        let e = read_npy(
            Path::new("e.npy"),
            &empty[..],
            Some(&fit),
            &ArrayPick::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn csv_matrices_and_slices() {
        let f = Path::new("m.csv");
        let m = parse_field(f, b"a,b,c\n1,2,3\n4,nan,6\n\n").unwrap();
        assert_eq!(
            (m.rows, m.cols, crate::plot::FieldStats::of(&m).nonfinite),
            (2, 3, 1)
        );
        let e = parse_field(f, b"1,2,3\n4,5\n").unwrap_err().to_string();
        assert!(e.contains("line 2: 2 values, expected 3"), "{e}");
        let e = parse_field(f, b"1,2\n3,x\x1b[2J\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2:2: `x\\e[2J` is not a number"), "{e}");
        assert!(parse_field(f, b"")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let s = m.slice(None, None).unwrap();
        assert_eq!(s.columns, ["col", "value"]);
        assert_eq!(
            s.column("value").unwrap()[2],
            6.0,
            "the middle row of 2 is row 1"
        );
        let s = m.slice(None, Some(2)).unwrap();
        assert_eq!(s.column("value").unwrap(), [3.0, 6.0]);
        assert!(m
            .slice(Some(2), None)
            .unwrap_err()
            .contains("row 2 is outside"));
    }

    #[test]
    fn windows_zoom_pan_and_crop_inside_the_field() {
        let w = Window::ALL.scaled(2.0);
        assert_eq!((w.x0, w.x1, w.y0, w.y1), (0.25, 0.75, 0.25, 0.75));
        assert_eq!(w.zoom(), 2.0);
        let p = w.panned(-0.25, 0.0).panned(-0.25, 0.0).panned(-0.25, 0.0);
        assert_eq!((p.x0, p.x1), (0.0, 0.5), "stops at the edge");
        assert_eq!(
            w.scaled(0.5).scaled(0.5),
            Window::ALL,
            "never past the whole"
        );
        let f = Field {
            rows: 4,
            cols: 4,
            data: (0..16).map(f64::from).collect(),
        };
        let c = f.crop(w);
        assert_eq!(
            (c.rows, c.cols, c.data.clone()),
            (2, 2, vec![5.0, 6.0, 9.0, 10.0])
        );
        let tiny = Window {
            x0: 0.99,
            x1: 1.0,
            y0: 0.0,
            y1: 0.001,
        };
        assert_eq!((f.crop(tiny).rows, f.crop(tiny).cols), (1, 1));
    }
}
