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

/// Parse a 2D (or the first 2D slice of a 3D) f32/f64/integer .npy field, C or Fortran order.
pub fn parse_field(file: &Path, bytes: &[u8]) -> Result<Field, ReadError> {
    let npy =
        npyz::NpyFile::new(bytes).map_err(|e| bad(file, format!("not a readable .npy: {e}")))?;
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

pub fn read_field(path: &Path) -> Result<Field, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| bad(path, e.to_string()))?;
    parse_field(path, &bytes)
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
}
