//! Loaded plot data made ready for the screen or a file, off the UI task: fields fitted to the
//! cells they are drawn in, series decimated to the chart's width, two runs compared (side by side,
//! overlaid, or as a difference), and the rules for the colour range and map.

use super::load::PlotData;
use super::{Field, FieldStats, Series, Window};

/// The colour map a field is drawn with: the plot's own, or coolwarm for a difference (`d`), whose
/// range is centred on zero.
pub fn shown_cmap(spec_cmap: &str, difference: bool) -> &str {
    if difference {
        "coolwarm"
    } else {
        spec_cmap
    }
}

/// The rule of [`shown_range`], for the backend that has the held and fixed ranges, not the state.
pub fn pick_range(
    hold: Option<(f64, f64)>,
    fixed: Option<(f64, f64)>,
    stats: &FieldStats,
) -> (f64, f64) {
    hold.or(fixed).unwrap_or(stats.range)
}

/// How many runs' series a line plot overlays at most (one colour each).
pub const OVERLAY: usize = 4;

/// This run's field minus the other's, on a colour range symmetric around zero.
pub fn difference_of(a: PlotData, b: PlotData) -> Result<PlotData, String> {
    match (a, b) {
        (
            PlotData::Field {
                field: fa, file, ..
            },
            PlotData::Field { field: fb, .. },
        ) => {
            if (fa.rows, fa.cols) != (fb.rows, fb.cols) {
                return Err(format!(
                    "{file}: the fields differ in shape ({}x{} here, {}x{} there): no difference",
                    fa.cols, fa.rows, fb.cols, fb.rows
                ));
            }
            let data: Vec<f64> = fa.data.iter().zip(&fb.data).map(|(x, y)| x - y).collect();
            let field = Field { data, ..fa };
            let mut stats = FieldStats::of(&field);
            let m = stats
                .range
                .0
                .abs()
                .max(stats.range.1.abs())
                .max(f64::MIN_POSITIVE);
            stats.range = (-m, m);
            Ok(PlotData::Field {
                field,
                file: format!("{file} · this run − the other"),
                stats,
                about: None,
            })
        }
        _ => Err("a difference needs two fields; series are overlaid".into()),
    }
}

/// Block-average fields to what `cells` (columns, rows) can show, so no frame averages a large
/// field: one field fills the area, two compared share it side by side.
pub fn fit_to_cells(data: &mut PlotData, cells: (u16, u16)) {
    let (cols, rows) = match data {
        PlotData::Compare { .. } => side_cells(cells),
        _ => cells,
    };
    let shrink = |field: &mut Field| {
        let (w, h) = super::cells_for(field, cols.max(1), rows.max(1));
        if field.rows > h as usize * 2 || field.cols > w as usize {
            *field = super::downsample(field, h as usize * 2, w as usize);
        }
    };
    match data {
        PlotData::Field { field, .. } => shrink(field),
        PlotData::Compare { a, b, .. } => {
            for x in [a.as_mut(), b.as_mut()] {
                if let PlotData::Field { field, .. } = x {
                    shrink(field);
                }
            }
        }
        PlotData::Series { .. } => {}
    }
}

/// A line plot ready to draw: each y column's points in the x range in view, decimated to the
/// chart's width; made once per load and width off the UI task, so no frame filters or
/// decimates a long series.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    /// The plot request it was made for.
    pub req: u64,
    /// The chart's width in braille dots.
    pub width: usize,
    /// The zoomed part it was made for.
    pub window: Option<Window>,
    /// The x range shown (all of it, or the zoomed part).
    pub x: (f64, f64),
    /// Name and points, this run's columns first, then (comparing) the other run's.
    pub data: Vec<(String, Vec<(f64, f64)>)>,
    /// Which y column each of `data` is (its index in the plot's columns): lines of one column
    /// share a scale, whichever run or element they come from.
    pub column: Vec<usize>,
    /// Columns of `y` this run's series does not have.
    pub missing: Vec<String>,
}

/// The columns a series plot draws: x the plot's `x`, else `step` when there is one, else the
/// first column; y the plot's `y`, else up to three other columns.
pub fn axes(spec: &crate::project::PlotSpec, series: &Series) -> (String, Vec<String>) {
    let x = spec
        .x
        .clone()
        .or_else(|| series.columns.iter().find(|c| *c == "step").cloned())
        .or_else(|| series.columns.first().cloned())
        .unwrap_or_default();
    let y = if spec.y.is_empty() {
        series
            .columns
            .iter()
            .filter(|c| **c != x)
            .take(3)
            .cloned()
            .collect()
    } else {
        spec.y.clone()
    };
    (x, y)
}

/// The lines of `spec`'s y columns against `xs` (this run's x column) in `series`, and of the
/// same columns in `others` (compared runs' series, labelled with their runs), in the part of x
/// in `window`, each decimated (min/max) to `width` points.
pub fn series_lines(
    spec: &crate::project::PlotSpec,
    xs: &[f64],
    series: &Series,
    others: &[(&Series, String)],
    window: Option<Window>,
    width: usize,
) -> Lines {
    let (x, ys) = axes(spec, series);
    let (x0, x1) = super::finite_range(xs).unwrap_or((0.0, 1.0));
    let (x0, x1) = match window {
        Some(w) => (x0 + (x1 - x0) * w.x0, x0 + (x1 - x0) * w.x1),
        None => (x0, x1),
    };
    let mut sources = vec![(series, String::new())];
    for (sb, name) in others {
        sources.push((sb, format!(" ({name})")));
    }
    let (mut data, mut missing, mut column) = (Vec::new(), Vec::new(), Vec::new());
    for (src, suffix) in &sources {
        let Some(xs) = src.column(&x) else { continue };
        for (k, y) in ys.iter().enumerate() {
            match src.column(y) {
                Some(col) => {
                    let pts: Vec<(f64, f64)> = xs
                        .iter()
                        .zip(col)
                        .filter(|(a, b)| {
                            a.is_finite()
                                && b.is_finite()
                                && (!spec.log_y || **b > 0.0)
                                && (x0..=x1).contains(*a)
                        })
                        .map(|(a, b)| (*a, if spec.log_y { b.log10() } else { *b }))
                        .collect();
                    data.push((format!("{y}{suffix}"), super::decimate_minmax(&pts, width)));
                    column.push(k);
                }
                None if suffix.is_empty() => missing.push(y.clone()),
                None => {}
            }
        }
    }
    Lines {
        req: 0,
        width,
        window,
        x: (x0, x1),
        data,
        column,
        missing,
    }
}

/// The lines of a loaded series (or two compared), for request `req`; None for fields or when
/// the x column is missing (the view says so).
pub fn lines_of(
    spec: &crate::project::PlotSpec,
    data: &PlotData,
    window: Option<Window>,
    width: usize,
    req: u64,
) -> Option<Lines> {
    let (series, others) = overlaid(data)?;
    let xs = series.column(&axes(spec, series).0)?;
    Some(Lines {
        req,
        ..series_lines(spec, xs, series, &others, window, width)
    })
}

/// A series, or series compared: this run's, and the others' with what to call them (a run
/// id made short, or a sweep's element by its parameters).
#[allow(clippy::type_complexity)]
pub fn overlaid(data: &PlotData) -> Option<(&Series, Vec<(&Series, String)>)> {
    match data {
        PlotData::Series { series, .. } => Some((series, vec![])),
        PlotData::Compare {
            a,
            b,
            other,
            more,
            elements,
        } => match (a.as_ref(), b.as_ref()) {
            (PlotData::Series { series, .. }, PlotData::Series { series: sb, .. }) => {
                let name = |r: &str| match elements {
                    true => crate::observe::sanitize(r).into_owned(),
                    false => crate::fmt::short_id(r),
                };
                let mut others = vec![(sb.as_ref(), name(other))];
                others.extend(more.iter().filter_map(|(r, d)| match d {
                    PlotData::Series { series, .. } => Some((series.as_ref(), name(r))),
                    _ => None,
                }));
                Some((series, others))
            }
            _ => None,
        },
        PlotData::Field { .. } => None,
    }
}

/// Each field's area when two are compared side by side in a plot area of `cells`: half the
/// columns, and one row less (for its label).
pub fn side_cells(cells: (u16, u16)) -> (u16, u16) {
    ((cells.0 / 2).max(1), cells.1.saturating_sub(1).max(1))
}

/// Cut every field in `data` to window `w`.
pub fn crop(data: &mut PlotData, w: Window) {
    match data {
        PlotData::Field { field, .. } => *field = field.crop(w),
        PlotData::Compare { a, b, .. } => {
            crop(a, w);
            crop(b, w);
        }
        PlotData::Series { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(rows: usize, cols: usize, v: impl Fn(usize) -> f64) -> PlotData {
        let f = Field {
            rows,
            cols,
            data: (0..rows * cols).map(v).collect(),
        };
        PlotData::Field {
            stats: FieldStats::of(&f),
            field: f,
            file: "f.npy".into(),
            about: None,
        }
    }

    #[test]
    fn differences_are_centred_on_zero_and_need_one_shape() {
        let d = difference_of(field(2, 3, |i| i as f64), field(2, 3, |_| 1.0)).unwrap();
        let PlotData::Field {
            field: f, stats, ..
        } = d
        else {
            panic!()
        };
        assert_eq!(f.data, [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(stats.range, (-4.0, 4.0));
        let e = difference_of(field(2, 3, |_| 0.0), field(3, 2, |_| 0.0)).unwrap_err();
        assert!(e.contains("differ in shape (3x2 here, 2x3 there)"), "{e}");
    }

    #[test]
    fn compared_fields_share_the_area() {
        let mut one = field(400, 400, |i| i as f64);
        fit_to_cells(&mut one, (81, 40));
        let mut two = PlotData::Compare {
            a: Box::new(field(400, 400, |i| i as f64)),
            b: Box::new(field(400, 400, |i| i as f64)),
            other: "r".into(),
            more: vec![],
            elements: false,
        };
        fit_to_cells(&mut two, (81, 40));
        let (
            PlotData::Field {
                field: f1, stats, ..
            },
            PlotData::Compare { a, .. },
        ) = (&one, &two)
        else {
            panic!()
        };
        let PlotData::Field { field: fa, .. } = a.as_ref() else {
            panic!()
        };
        assert_eq!((f1.cols, f1.rows), (80, 80), "fits 40 rows of two cells");
        assert_eq!((fa.cols, fa.rows), (40, 40), "half the columns each");
        assert_eq!(
            (stats.cols, stats.rows),
            (400, 400),
            "stats keep the full size"
        );
    }
}
