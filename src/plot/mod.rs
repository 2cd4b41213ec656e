//! Plot data: readers (CSV series, NPY fields), colour maps, decimation, and export with plotters.

pub mod colormap;
pub mod export;
pub mod load;
pub mod npy;
pub mod pixels;
pub mod prepare;
pub mod read;
pub mod source;

pub use read::{read_field, read_series, Field, Series, Window};

/// The character cells (columns, rows) a field occupies inside `width` x `height` cells drawn
/// with half blocks (two field rows a cell), its aspect kept.
pub fn cells_for(field: &Field, width: u16, height: u16) -> (u16, u16) {
    let (w, h2) = (width as f64, height as f64 * 2.0);
    let scale = (w / field.cols.max(1) as f64).min(h2 / field.rows.max(1) as f64);
    let cols = ((field.cols as f64 * scale).floor() as u16).clamp(1, width.max(1));
    let rows2 = ((field.rows as f64 * scale).floor() as u16).clamp(2, (height * 2).max(2));
    (cols, rows2.div_ceil(2))
}

/// What the views say about a field, computed once when it is read (off the UI task), not per
/// frame: its full size, the range of its finite values, and how many are NaN or infinite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldStats {
    pub rows: usize,
    pub cols: usize,
    pub range: (f64, f64),
    pub nonfinite: usize,
}

impl FieldStats {
    pub fn of(f: &Field) -> FieldStats {
        use rayon::prelude::*;
        let (lo, hi, bad) = f.data.par_chunks(1 << 16).map(finite_bounds).reduce(
            || (f64::INFINITY, f64::NEG_INFINITY, 0),
            |a, b| (a.0.min(b.0), a.1.max(b.1), a.2 + b.2),
        );
        FieldStats {
            rows: f.rows,
            cols: f.cols,
            range: if lo <= hi { (lo, hi) } else { (0.0, 1.0) },
            nonfinite: bad,
        }
    }

    /// Two fields shown on one scale: the range covering both, their NaN/inf counted together.
    pub fn joined(&self, o: &FieldStats) -> FieldStats {
        FieldStats {
            range: (self.range.0.min(o.range.0), self.range.1.max(o.range.1)),
            nonfinite: self.nonfinite + o.nonfinite,
            ..*self
        }
    }
}

/// The least and greatest finite value of `v` (infinity and minus infinity when there is none),
/// and how many are NaN or infinite. Four lanes and no branch, so it vectorises: a large field's
/// range costs about what reading it does.
pub(crate) fn finite_bounds(v: &[f64]) -> (f64, f64, usize) {
    let (mut lo, mut hi, mut bad) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4], [0usize; 4]);
    let mut quads = v.chunks_exact(4);
    for q in &mut quads {
        for j in 0..4 {
            let ok = q[j].is_finite();
            let (a, b) = if ok {
                (q[j], q[j])
            } else {
                (f64::INFINITY, f64::NEG_INFINITY)
            };
            lo[j] = if a < lo[j] { a } else { lo[j] };
            hi[j] = if b > hi[j] { b } else { hi[j] };
            bad[j] += !ok as usize;
        }
    }
    for &x in quads.remainder() {
        if x.is_finite() {
            lo[0] = lo[0].min(x);
            hi[0] = hi[0].max(x);
        } else {
            bad[0] += 1;
        }
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        bad.iter().sum(),
    )
}

/// Min and max of the finite values, or None when there are none.
pub fn finite_range(v: &[f64]) -> Option<(f64, f64)> {
    let mut it = v.iter().copied().filter(|x| x.is_finite());
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x))))
}

/// The inputs `[a, b)` that output `i` of `out` averages, `n` inputs in all (`out` <= `n`: each
/// input in exactly one output).
pub(crate) fn block(i: usize, n: usize, out: usize) -> (usize, usize) {
    let a = i * n / out;
    (a, ((i + 1) * n / out).max(a + 1).min(n))
}

/// Add one row of a field into the running sums of an output row: `cols` holds each output
/// column's input columns. NaN and inf are left out (they add 0 and count 0), so the sum has no
/// branch and vectorises.
pub(crate) fn add_row(line: &[f64], cols: &[(usize, usize)], sums: &mut [f64], counts: &mut [u32]) {
    for ((sum, n), &(c0, c1)) in sums.iter_mut().zip(counts.iter_mut()).zip(cols) {
        // four lanes: independent sums the compiler can keep in one vector register
        let (mut s, mut k) = ([0.0f64; 4], [0u32; 4]);
        let mut quads = line[c0..c1].chunks_exact(4);
        for q in &mut quads {
            for j in 0..4 {
                let ok = q[j].is_finite();
                s[j] += if ok { q[j] } else { 0.0 };
                k[j] += ok as u32;
            }
        }
        for &v in quads.remainder() {
            let ok = v.is_finite();
            s[0] += if ok { v } else { 0.0 };
            k[0] += ok as u32;
        }
        *sum += (s[0] + s[1]) + (s[2] + s[3]);
        *n += k.iter().sum::<u32>();
    }
}

/// The averages of sums and counts: NaN where nothing finite was added.
pub(crate) fn averages(sums: &[f64], counts: &[u32], out: &mut [f64]) {
    for ((o, s), &n) in out.iter_mut().zip(sums).zip(counts) {
        *o = if n > 0 { s / n as f64 } else { f64::NAN };
    }
}

/// Block-average a `rows` x `cols` field down to `out_r` x `out_c` cells (never up); NaN and inf
/// are left out of each average (a block of only those stays NaN). Output rows are computed on
/// every core.
pub fn downsample(f: &Field, out_r: usize, out_c: usize) -> Field {
    use rayon::prelude::*;
    let (out_r, out_c) = (out_r.clamp(1, f.rows.max(1)), out_c.clamp(1, f.cols.max(1)));
    let mut data = vec![f64::NAN; out_r * out_c];
    // each output column's input columns, computed once
    let cols: Vec<(usize, usize)> = (0..out_c).map(|c| block(c, f.cols, out_c)).collect();
    data.par_chunks_mut(out_c).enumerate().for_each(|(r, row)| {
        let (r0, r1) = block(r, f.rows, out_r);
        let mut sums = vec![0.0f64; out_c];
        let mut counts = vec![0u32; out_c];
        // row by row through the band: each input row is read once, in order
        for rr in r0..r1 {
            add_row(
                &f.data[rr * f.cols..(rr + 1) * f.cols],
                &cols,
                &mut sums,
                &mut counts,
            );
        }
        averages(&sums, &counts, row);
    });
    Field {
        rows: out_r,
        cols: out_c,
        data,
    }
}

/// A field as the screen wants it: only the part in `window`, block-averaged to fit inside
/// `within` (rows, columns: cells, half-block rows or pixels) with its aspect kept, never
/// enlarged. A .npy is read straight into this (see [`read::read_npy`]): a snapshot of 4096² is
/// never held whole just to be drawn at 200x60.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub window: Window,
    pub within: (usize, usize),
}

impl Fit {
    /// The size a `rows` x `cols` part is averaged to.
    pub fn shape(&self, rows: usize, cols: usize) -> (usize, usize) {
        let scale = (self.within.0 as f64 / rows.max(1) as f64)
            .min(self.within.1 as f64 / cols.max(1) as f64);
        if scale >= 1.0 {
            return (rows, cols);
        }
        let sized = |n: usize| ((n as f64 * scale) as usize).clamp(1, n.max(1));
        (sized(rows), sized(cols))
    }

    /// The same for a field already in memory: cut to the window, then averaged.
    pub fn apply(&self, f: Field) -> Field {
        let f = if self.window == Window::ALL {
            f
        } else {
            f.crop(self.window)
        };
        let (r, c) = self.shape(f.rows, f.cols);
        if (r, c) == (f.rows, f.cols) {
            f
        } else {
            downsample(&f, r, c)
        }
    }
}

/// Min/max per pixel column: `points` (x sorted) reduced to at most 2 per bucket of `width`.
pub fn decimate_minmax(points: &[(f64, f64)], width: usize) -> Vec<(f64, f64)> {
    if points.len() <= width * 2 || width == 0 {
        return points.to_vec();
    }
    let (x0, x1) = (points[0].0, points[points.len() - 1].0);
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let mut out = Vec::with_capacity(width * 2);
    let mut i = 0;
    for b in 0..width {
        let hi = x0 + span * (b + 1) as f64 / width as f64;
        type Pt = Option<(f64, f64)>;
        let (mut lo_p, mut hi_p): (Pt, Pt) = (None, None);
        while i < points.len() && (points[i].0 <= hi || b == width - 1) {
            let p = points[i];
            if lo_p.is_none_or(|q| p.1 < q.1) {
                lo_p = Some(p);
            }
            if hi_p.is_none_or(|q| p.1 > q.1) {
                hi_p = Some(p);
            }
            i += 1;
        }
        match (lo_p, hi_p) {
            (Some(a), Some(b)) if a.0 <= b.0 => out.extend([a, b]),
            (Some(a), Some(b)) => out.extend([b, a]),
            _ => {}
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_averages_blocks() {
        let f = Field {
            rows: 2,
            cols: 4,
            data: vec![1.0, 3.0, 5.0, 7.0, 1.0, 3.0, 5.0, 7.0],
        };
        let d = downsample(&f, 1, 2);
        assert_eq!(d.data, vec![2.0, 6.0]);
    }

    #[test]
    fn minmax_keeps_extremes() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64, if i == 5000 { 100.0 } else { (i % 7) as f64 }))
            .collect();
        let d = decimate_minmax(&pts, 50);
        assert!(d.len() <= 100);
        assert!(d.iter().any(|p| p.1 == 100.0));
        assert!(d.iter().any(|p| p.1 == 0.0));
    }
}
