//! Readers: a CSV series (named numeric columns) and a 2D field from .npy.

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
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns: Vec<String> = rdr
        .headers()
        .map_err(|e| bad(file, e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(bad(
            file,
            "empty file: expected a header row of column names",
        ));
    }
    let mut values = vec![Vec::new(); columns.len()];
    for (i, rec) in rdr.records().enumerate() {
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
        let span = |a: f64, b: f64, n: usize| {
            let lo = ((a.clamp(0.0, 1.0) * n as f64).floor() as usize).min(n.saturating_sub(1));
            let hi = ((b.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(lo + 1, n.max(lo + 1));
            (lo, hi)
        };
        let (c0, c1) = span(w.x0, w.x1, self.cols);
        let (r0, r1) = span(w.y0, w.y1, self.rows);
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
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
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

/// Parse a 2D (or the first 2D slice of a 3D) f32/f64/integer .npy field, C or Fortran order.
pub fn parse_npy(file: &Path, bytes: &[u8]) -> Result<Field, ReadError> {
    parse_npy_from(file, bytes)
}

/// [`parse_npy`] reading as it goes (a file is not copied into memory first).
pub fn parse_npy_from<R: std::io::Read>(file: &Path, r: R) -> Result<Field, ReadError> {
    let npy = npyz::NpyFile::new(r).map_err(|e| bad(file, format!("not a readable .npy: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let order = npy.order();
    let (rows, cols) = match shape.as_slice() {
        [r, c] => (*r, *c),
        [_, r, c] => (*r, *c),
        [n] => (1, *n),
        s => return Err(bad(file, format!("expected a 2D field, got shape {s:?}"))),
    };
    let want = rows * cols;
    // Fortran order interleaves a 3D array's slices: the first slice needs every value read
    let fortran = order == npyz::Order::Fortran && shape.len() >= 2;
    let read = if fortran {
        shape.iter().product()
    } else {
        want
    };
    let dtype = npy.dtype();
    let descr = match &dtype {
        npyz::DType::Plain(ts) => ts.to_string(),
        other => return Err(bad(file, format!("unsupported dtype {other:?}"))),
    };
    let vals: Vec<f64> = match &descr[1..] {
        "f8" => npy
            .data::<f64>()
            .map_err(|e| bad(file, e.to_string()))?
            .take(read)
            .collect::<Result<_, _>>(),
        "f4" => npy
            .data::<f32>()
            .map_err(|e| bad(file, e.to_string()))?
            .take(read)
            .map(|r| r.map(f64::from))
            .collect(),
        "i4" => npy
            .data::<i32>()
            .map_err(|e| bad(file, e.to_string()))?
            .take(read)
            .map(|r| r.map(f64::from))
            .collect(),
        "i8" => npy
            .data::<i64>()
            .map_err(|e| bad(file, e.to_string()))?
            .take(read)
            .map(|r| r.map(|v| v as f64))
            .collect(),
        d => {
            return Err(bad(
                file,
                format!("unsupported dtype `{descr}` ({d}); expected f4, f8, i4 or i8"),
            ))
        }
    }
    .map_err(|e| bad(file, format!("truncated or unreadable data: {e}")))?;
    if vals.len() < read {
        return Err(bad(
            file,
            format!("truncated: {} of {read} values", vals.len()),
        ));
    }
    let data = if fortran {
        // element [0, r, c] (or [r, c]) of a Fortran-order array sits at 0 + d0 * (r + rows * c)
        let d0 = if shape.len() == 3 { shape[0] } else { 1 };
        let mut d = vec![0.0; want];
        for r in 0..rows {
            for c in 0..cols {
                d[r * cols + c] = vals[d0 * (r + rows * c)];
            }
        }
        d
    } else {
        vals
    };
    Ok(Field { rows, cols, data })
}

/// A field from a file on this machine: a .npy parsed as it is read (its bytes are not held in
/// memory beside the values), anything else as a CSV matrix.
pub fn read_field(path: &Path) -> Result<Field, ReadError> {
    read_field_counted(path).map(|(f, _)| f)
}

/// [`read_field`], and how many bytes of the file it read (a .npy: its header and the values
/// used, give or take the read-ahead).
pub fn read_field_counted(path: &Path) -> Result<(Field, u64), ReadError> {
    use std::io::{BufRead, Read};
    struct Counted<R>(R, u64);
    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(b)?;
            self.1 += n as u64;
            Ok(n)
        }
    }
    let f = std::fs::File::open(path).map_err(|e| bad(path, e.to_string()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, Counted(f, 0));
    let npy = r
        .fill_buf()
        .map_err(|e| bad(path, e.to_string()))?
        .starts_with(b"\x93NUMPY");
    let field = if npy {
        parse_npy_from(path, &mut r)?
    } else {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)
            .map_err(|e| bad(path, e.to_string()))?;
        parse_matrix(path, &bytes)?
    };
    Ok((field, r.get_ref().1))
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
