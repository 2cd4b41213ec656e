//! The Plots view's playback and colour range: `Space` steps through the snapshots on its own
//! (`<`/`>` slower/faster), `H` holds the current colour range for the snapshots that follow, so
//! they can be compared by eye.

use super::command::Command;
use super::msg::PlotData;
use super::state::{AppState, Level, View};
use super::update::{load_plot, set_status};
use crate::observe::sanitize;

/// Ticks (250 ms) per step, slowest first: 1, 2 and 4 snapshots a second.
pub const PLAY_EVERY: [u8; 3] = [4, 2, 1];

/// `play_rate` -1, 0 (the default: 2 a second) or 1.
fn every(s: &AppState) -> u8 {
    PLAY_EVERY[(1 + s.plots.play_rate as isize).clamp(0, 2) as usize]
}

pub fn toggle_play(s: &mut AppState) -> Vec<Command> {
    if s.plots.files.len() < 2 {
        set_status(s, Level::Info, "one snapshot: nothing to play".into());
        return vec![];
    }
    s.plots.playing = !s.plots.playing;
    s.plots.play_wait = 0;
    let msg = if s.plots.playing {
        format!(
            "playing at {} snapshots/s (< > slower, faster; Space stops)",
            4 / every(s)
        )
    } else {
        "stopped".into()
    };
    set_status(s, Level::Info, msg);
    vec![]
}

pub fn play_rate(s: &mut AppState, faster: bool) -> Vec<Command> {
    let r = s.plots.play_rate + if faster { 1 } else { -1 };
    s.plots.play_rate = r.clamp(-1, 1);
    set_status(s, Level::Info, format!("{} snapshots/s", 4 / every(s)));
    vec![]
}

/// A tick while playing: the next snapshot once the last one is on screen (a slow read slows the
/// play, it never queues), from the first again after the last.
pub fn on_tick(s: &mut AppState) -> Vec<Command> {
    let p = &mut s.plots;
    if !p.playing || s.view != View::Plots || p.loading || p.files.len() < 2 {
        return vec![];
    }
    p.play_wait += 1;
    if p.play_wait < every(s) {
        return vec![];
    }
    let p = &mut s.plots;
    p.play_wait = 0;
    p.snapshot = (p.snapshot + 1) % p.files.len();
    load_plot(s)
}

/// `H`: hold the colour range of the heatmap on screen (or let go of it).
pub fn hold_range(s: &mut AppState) -> Vec<Command> {
    if s.plots.hold.take().is_some() {
        set_status(s, Level::Info, "colour range: each snapshot's own".into());
        return vec![];
    }
    let range = match &s.plots.data {
        Some(PlotData::Field { stats, .. }) => shown_range(s, stats),
        _ => {
            set_status(s, Level::Info, "no heatmap on screen".into());
            return vec![];
        }
    };
    s.plots.hold = Some(range);
    set_status(
        s,
        Level::Info,
        format!(
            "colour range held at {} … {} for the next snapshots (H lets go)",
            crate::views::widgets::fmt_num(range.0),
            crate::views::widgets::fmt_num(range.1)
        ),
    );
    vec![]
}

/// The colour range a heatmap is drawn with: held, else the plot's own `range`, else the field's.
pub fn shown_range(s: &AppState, stats: &crate::plot::FieldStats) -> (f64, f64) {
    // a fixed range is of the values, not of a difference (`d`)
    let difference = s.plots.diff && s.plots.compare.is_some();
    let fixed = s
        .project
        .as_ref()
        .ok()
        .and_then(|p| p.plots.get(s.plots.plot))
        .and_then(|p| p.range)
        .filter(|_| !difference);
    pick_range(s.plots.hold, fixed, stats)
}

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
    stats: &crate::plot::FieldStats,
) -> (f64, f64) {
    hold.or(fixed).unwrap_or(stats.range)
}

/// `c`: compare with the next older run than the one compared now (the first time: the newest run
/// older than this one); after the oldest, comparing stops.
pub fn compare(s: &mut AppState) -> Vec<Command> {
    let Some(cur) = s.plots.run_id.clone() else {
        return vec![];
    };
    let older = other_runs(s, &cur);
    let next = match &s.plots.compare {
        None => older.first(),
        Some(c) => older
            .iter()
            .position(|r| r == c)
            .and_then(|i| older.get(i + 1)),
    }
    .cloned();
    s.plots.compare = next.clone();
    s.plots.more.clear();
    if next.is_none() {
        s.plots.diff = false;
    }
    set_status(
        s,
        Level::Info,
        match &next {
            Some(r) => format!(
                "comparing with {} (c: an older run, d: difference)",
                sanitize(r)
            ),
            None => "comparing: off".into(),
        },
    );
    load_plot(s)
}

/// Runs a plot can be compared with, newest first, this one left out.
fn other_runs(s: &AppState, cur: &str) -> Vec<String> {
    let mut older: Vec<&crate::pipeline::Run> = s.runs.iter().filter(|r| r.id != cur).collect();
    older.sort_by_key(|r| std::cmp::Reverse(r.created));
    older.into_iter().map(|r| r.id.clone()).collect()
}

/// Whether the plot on screen is a heatmap (as its project entry says).
pub fn is_heatmap(s: &AppState) -> bool {
    s.project
        .as_ref()
        .ok()
        .and_then(|p| p.plots.get(s.plots.plot))
        .is_some_and(|p| p.kind == crate::project::PlotKind::Heatmap)
}

/// How many runs' series a line plot overlays at most (one colour each).
pub const OVERLAY: usize = 4;

/// `C`: on a line plot, one more run's series drawn over this one's too (the next older than
/// those compared; four runs at most). Fields compare two runs (`c`).
pub fn compare_more(s: &mut AppState) -> Vec<Command> {
    if is_heatmap(s) {
        set_status(s, Level::Info, "fields compare two runs: c".into());
        return vec![];
    }
    let (Some(cur), Some(first)) = (s.plots.run_id.clone(), s.plots.compare.clone()) else {
        return compare(s);
    };
    if 2 + s.plots.more.len() >= OVERLAY {
        set_status(
            s,
            Level::Info,
            format!("{OVERLAY} runs overlaid at most (c starts again)"),
        );
        return vec![];
    }
    let runs = other_runs(s, &cur);
    let last = s.plots.more.last().unwrap_or(&first);
    let next = runs
        .iter()
        .position(|r| r == last)
        .and_then(|i| runs.get(i + 1))
        .cloned();
    let Some(next) = next else {
        set_status(s, Level::Info, "no older run to overlay".into());
        return vec![];
    };
    s.plots.more.push(next);
    let n = 2 + s.plots.more.len();
    set_status(
        s,
        Level::Info,
        format!("overlaying {n} runs (c: back to two)"),
    );
    load_plot(s)
}

/// `d`: while comparing fields, this run's minus the other's (a diverging colour map centred on
/// zero), or back to side by side.
pub fn difference(s: &mut AppState) -> Vec<Command> {
    if s.plots.compare.is_none() {
        set_status(
            s,
            Level::Info,
            "d needs a run to compare with: c first".into(),
        );
        return vec![];
    }
    s.plots.diff = !s.plots.diff;
    load_plot(s)
}

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
            let field = crate::plot::Field { data, ..fa };
            let mut stats = crate::plot::FieldStats::of(&field);
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
    let shrink = |field: &mut crate::plot::Field| {
        let (w, h) = crate::views::widgets::Heatmap::fit(
            field,
            ratatui::layout::Rect::new(0, 0, cols.max(1), rows.max(1)),
        );
        if field.rows > h as usize * 2 || field.cols > w as usize {
            *field = crate::plot::downsample(field, h as usize * 2, w as usize);
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
    pub window: Option<crate::plot::Window>,
    /// The x range shown (all of it, or the zoomed part).
    pub x: (f64, f64),
    /// Name and points, this run's columns first, then (comparing) the other run's.
    pub data: Vec<(String, Vec<(f64, f64)>)>,
    /// Columns of `y` this run's series does not have.
    pub missing: Vec<String>,
}

/// The lines of `spec`'s y columns against `xs` (this run's x column) in `series`, and of the
/// same columns in `others` (compared runs' series, labelled with their runs), in the part of x
/// in `window`, each decimated (min/max) to `width` points.
pub fn series_lines(
    spec: &crate::project::PlotSpec,
    xs: &[f64],
    series: &crate::plot::Series,
    others: &[(&crate::plot::Series, &str)],
    window: Option<crate::plot::Window>,
    width: usize,
) -> Lines {
    let x = spec.x.as_deref().unwrap_or("step");
    let (x0, x1) = crate::plot::finite_range(xs).unwrap_or((0.0, 1.0));
    let (x0, x1) = match window {
        Some(w) => (x0 + (x1 - x0) * w.x0, x0 + (x1 - x0) * w.x1),
        None => (x0, x1),
    };
    let mut sources = vec![(series, String::new())];
    for (sb, r) in others {
        sources.push((sb, format!(" ({})", crate::views::plots::short_run(r))));
    }
    let (mut data, mut missing) = (Vec::new(), Vec::new());
    for (src, suffix) in &sources {
        let Some(xs) = src.column(x) else { continue };
        for y in &spec.y {
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
                    data.push((
                        format!("{y}{suffix}"),
                        crate::plot::decimate_minmax(&pts, width),
                    ));
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
        missing,
    }
}

/// The lines of a loaded series (or two compared), for request `req`; None for fields or when
/// the x column is missing (the view says so).
pub fn lines_of(
    spec: &crate::project::PlotSpec,
    data: &PlotData,
    window: Option<crate::plot::Window>,
    width: usize,
    req: u64,
) -> Option<Lines> {
    let (series, others) = overlaid(data)?;
    let xs = series.column(spec.x.as_deref().unwrap_or("step"))?;
    Some(Lines {
        req,
        ..series_lines(spec, xs, series, &others, window, width)
    })
}

/// A series, or series compared: this run's, and the others' with their runs.
#[allow(clippy::type_complexity)]
pub fn overlaid(
    data: &PlotData,
) -> Option<(&crate::plot::Series, Vec<(&crate::plot::Series, &str)>)> {
    match data {
        PlotData::Series { series, .. } => Some((series, vec![])),
        PlotData::Compare { a, b, other, more } => match (a.as_ref(), b.as_ref()) {
            (PlotData::Series { series, .. }, PlotData::Series { series: sb, .. }) => {
                let mut others = vec![(sb.as_ref(), other.as_str())];
                others.extend(more.iter().filter_map(|(r, d)| match d {
                    PlotData::Series { series, .. } => Some((series.as_ref(), r.as_str())),
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
pub fn crop(data: &mut PlotData, w: crate::plot::Window) {
    match data {
        PlotData::Field { field, .. } => *field = field.crop(w),
        PlotData::Compare { a, b, .. } => {
            crop(a, w);
            crop(b, w);
        }
        PlotData::Series { .. } => {}
    }
}

/// The colour range two compared fields share: held, else the plot's own, else both together.
pub fn shared_range(
    s: &AppState,
    a: &crate::plot::FieldStats,
    b: &crate::plot::FieldStats,
) -> (f64, f64) {
    shown_range(s, &a.joined(b))
}

/// `+` (1), `-` (-1), `0` (0): zoom in or out by 2 around the centre, or show all; Ctrl+arrows
/// (2..=5: left, right, down, up) pan by a quarter of the view. A field is cut from the full
/// field and averaged again off the UI task; a series is decimated again from all its points.
pub fn zoom(s: &mut AppState, z: i8) -> Vec<Command> {
    use crate::plot::Window;
    let w = s.plots.window.unwrap_or(Window::ALL);
    let next = match z {
        0 => Window::ALL,
        1 if w.zoom() < 4096.0 => w.scaled(2.0),
        1 => w,
        -1 => w.scaled(0.5),
        2 => w.panned(-0.25, 0.0),
        3 => w.panned(0.25, 0.0),
        4 => w.panned(0.0, -0.25),
        _ => w.panned(0.0, 0.25),
    };
    let next = (next != Window::ALL).then_some(next);
    if next == s.plots.window {
        return vec![];
    }
    s.plots.window = next;
    super::update::replot(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::{Field, FieldStats};

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
