//! The Plots view's playback and colour range: `Space` steps through the snapshots on its own
//! (`<`/`>` slower/faster), `H` holds the current colour range for the snapshots that follow, so
//! they can be compared by eye.

use super::command::Command;
use super::layout::move_sel;
use super::msg::{Action, Pan, Zoom};
use super::state::{AppState, Level, View};
use super::status::set_status;
use crate::observe::sanitize;
use crate::plot::load::PlotData;
use crate::plot::prepare::{pick_range, Lines, OVERLAY};

#[derive(Debug, Clone, Default)]
pub struct PlotsState {
    pub run_id: Option<String>,
    pub plot: usize,
    pub files: Vec<String>,
    pub snapshot: usize,
    pub data: Option<PlotData>,
    pub error: Option<String>,
    pub loading: bool,
    pub req: u64,
    /// The terminal's pixel protocol (kitty, sixel, iterm2), when plots are shown as images.
    pub pixels: Option<String>,
    /// The current heatmap as an image for that protocol (made off the UI task).
    pub image: Option<crate::plot::pixels::PlotImage>,
    /// The current line plot, decimated to the chart's width (made off the UI task).
    pub lines: Option<Lines>,
    /// `H`: the colour range held for the next snapshots (None: each snapshot's own, or the
    /// plot's `range`).
    pub hold: Option<(f64, f64)>,
    /// `Space`: stepping through the snapshots on its own; `<`/`>` the rate (-1, 0, 1: 1, 2, 4
    /// snapshots a second).
    pub playing: bool,
    pub play_rate: i8,
    /// `c`: the run whose same plot is shown beside (fields) or over (series) this one's.
    pub compare: Option<String>,
    /// `C`: more runs whose series are drawn over this one's too (line plots).
    pub more: Vec<String>,
    /// `d`: with `compare`, a field is shown as this run's minus the other's.
    pub diff: bool,
    /// `↓`/`↑`, `f`, `m`: the slice, field and complex part of an array shown instead of the
    /// plot's own (None: its own).
    pub pick: Option<crate::project::ArrayPick>,
    /// `+`/`-`/`0`, Ctrl+arrows: the zoomed part of the plot (None: all of it).
    pub window: Option<crate::plot::Window>,
    /// `{`/`}`: of a swept phase, the element shown (None: every element's series overlaid,
    /// the first element's field).
    pub element: Option<u32>,
    pub play_wait: u8,
}

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
            crate::fmt::sci(range.0),
            crate::fmt::sci(range.1)
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

/// The colour range two compared fields share: held, else the plot's own, else both together.
pub fn shared_range(
    s: &AppState,
    a: &crate::plot::FieldStats,
    b: &crate::plot::FieldStats,
) -> (f64, f64) {
    shown_range(s, &a.joined(b))
}

/// `+`, `-`, `0`: zoom in or out by 2 around the centre, or show all. A field is cut from the
/// full field and averaged again off the UI task; a series is decimated again from all its points.
pub fn zoom(s: &mut AppState, z: Zoom) -> Vec<Command> {
    use crate::plot::Window;
    let w = s.plots.window.unwrap_or(Window::ALL);
    let next = match z {
        Zoom::All => Window::ALL,
        Zoom::In if w.zoom() < 4096.0 => w.scaled(2.0),
        Zoom::In => w,
        Zoom::Out => w.scaled(0.5),
    };
    set_window(s, next)
}

/// Ctrl+arrows: move the zoomed part by a quarter of the view.
pub fn pan(s: &mut AppState, p: Pan) -> Vec<Command> {
    let w = s.plots.window.unwrap_or(crate::plot::Window::ALL);
    let next = match p {
        Pan::Left => w.panned(-0.25, 0.0),
        Pan::Right => w.panned(0.25, 0.0),
        Pan::Down => w.panned(0.0, -0.25),
        Pan::Up => w.panned(0.0, 0.25),
    };
    set_window(s, next)
}

fn set_window(s: &mut AppState, next: crate::plot::Window) -> Vec<Command> {
    use crate::plot::Window;
    let next = (next != Window::ALL).then_some(next);
    if next == s.plots.window {
        return vec![];
    }
    s.plots.window = next;
    replot(s)
}

pub fn refresh_plots(s: &mut AppState) -> Vec<Command> {
    let (Some(run_id), Ok(p)) = (s.plots.run_id.clone(), s.project.as_ref()) else {
        return vec![];
    };
    if p.plots.is_empty() {
        return vec![];
    }
    s.plots.plot = s.plots.plot.min(p.plots.len() - 1);
    s.plots.req += 1;
    s.plots.loading = true;
    vec![Command::PlotFiles {
        req: s.plots.req,
        run_id,
        plot: s.plots.plot,
        element: s.plots.element,
    }]
}

/// `}` / `{`: of a swept run, the next (previous) element alone; past the last (first), every
/// element again (a line plot overlays their series; a field shows the first's). Stepping
/// through elements' fields holds the colour range, so they share one scale.
pub fn step_element(s: &mut AppState, back: bool) -> Vec<Command> {
    let Some(ph) = s
        .plots
        .run_id
        .as_deref()
        .and_then(|id| s.runs.iter().find(|r| r.id == id))
        .and_then(|r| r.phases.iter().find(|p| !p.elements.is_empty()))
    else {
        set_status(
            s,
            Level::Info,
            "this run has no sweep: { and } step through a sweep's elements".into(),
        );
        return vec![];
    };
    let n = ph.elements.len() as u32;
    let next = match (s.plots.element, back) {
        (Some(i), false) => (i + 1 < n).then_some(i + 1),
        (Some(i), true) => i.checked_sub(1),
        (None, false) => Some(0),
        (None, true) => Some(n - 1),
    };
    let label = next
        .and_then(|i| ph.elements.iter().find(|e| e.index == i))
        .map(|e| format!("element {}: {}", e.index, sanitize(&e.label())))
        .unwrap_or_else(|| format!("all {n} elements"));
    s.plots.element = next;
    if s.plots.hold.is_none() {
        if let Some(PlotData::Field { stats, .. }) = &s.plots.data {
            s.plots.hold = Some(shown_range(s, stats));
        }
    }
    set_status(s, Level::Info, label);
    refresh_plots(s)
}

/// `e`: the plot on screen (its current snapshot) to a PNG in the download directory.
pub fn export_plot(s: &mut AppState) -> Vec<Command> {
    let (Some(run_id), Some(file), Ok(p)) = (
        s.plots.run_id.clone(),
        s.plots.files.get(s.plots.snapshot).cloned(),
        &s.project,
    ) else {
        set_status(s, Level::Info, "no plot to export".into());
        return vec![];
    };
    let name: String = p
        .plots
        .get(s.plots.plot)
        .map(|x| x.name.as_str())
        .unwrap_or("plot")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = std::path::Path::new(&file)
        .file_stem()
        .map(|x| x.to_string_lossy().into_owned())
        .unwrap_or_default();
    let compare = s.plots.compare.clone();
    let more = overlaid_more(s);
    let diff = s.plots.diff && compare.is_some();
    let vs = match (&compare, diff) {
        (Some(o), true) => format!("-minus-{o}"),
        (Some(o), false) => std::iter::once(o)
            .chain(&more)
            .map(|r| format!("-vs-{r}"))
            .collect(),
        (None, _) => String::new(),
    };
    let el = s
        .plots
        .element
        .map(|i| format!("-e{i}"))
        .unwrap_or_default();
    let out = format!("{}{name}-{run_id}{el}{vs}-{stem}.png", s.download_dir);
    set_status(s, Level::Info, format!("exporting to {}…", sanitize(&out)));
    vec![Command::ExportPlot {
        run_id,
        plot: s.plots.plot,
        file,
        out,
        compare,
        more,
        diff,
        hold: s.plots.hold,
        pick: s.plots.pick.clone(),
        element: s.plots.element,
    }]
}

pub fn load_plot(s: &mut AppState) -> Vec<Command> {
    let (Some(run_id), Some(file)) = (
        s.plots.run_id.clone(),
        s.plots.files.get(s.plots.snapshot).cloned(),
    ) else {
        return vec![];
    };
    s.plots.req += 1;
    s.plots.loading = true;
    let heatmap = is_heatmap(s);
    let cells = heatmap.then(|| super::layout::plot_cells(s.size));
    // a series, or an array that turns out to be 1-D
    let chart = Some(super::layout::chart_width(s.size.0));
    vec![Command::LoadPlot {
        req: s.plots.req,
        run_id,
        plot: s.plots.plot,
        file,
        cells,
        hold: s.plots.hold,
        compare: s.plots.compare.clone(),
        more: overlaid_more(s),
        diff: s.plots.diff,
        window: s.plots.window,
        chart,
        pick: s.plots.pick.clone(),
        element: s.plots.element,
    }]
}

/// The runs overlaid beyond the compared one (`C`), while comparing.
fn overlaid_more(s: &AppState) -> Vec<String> {
    if s.plots.compare.is_some() {
        s.plots.more.clone()
    } else {
        vec![]
    }
}

/// The loaded plot made again for the area and window now (resize, zoom, pan), off the UI task:
/// a field is read again (cut from the full field and averaged), a series decimated again.
pub fn replot(s: &mut AppState) -> Vec<Command> {
    match &s.plots.data {
        Some(d) if d.is_field() => load_plot(s),
        Some(_) => decimate_lines(s),
        None => vec![],
    }
}

/// The loaded series decimated again for the window and the chart's width now, off the UI
/// task; nothing when it is decimated so already.
fn decimate_lines(s: &mut AppState) -> Vec<Command> {
    let chart = super::layout::chart_width(s.size.0);
    let fresh =
        s.plots.lines.as_ref().is_some_and(|l| {
            l.req == s.plots.req && l.width == chart && l.window == s.plots.window
        });
    let Some(data) = s.plots.data.clone().filter(|_| !fresh) else {
        return vec![];
    };
    vec![Command::DecimateLines {
        req: s.plots.req,
        plot: s.plots.plot,
        data,
        window: s.plots.window,
        chart,
    }]
}

/// Msg::PlotFiles: the files of the plot (snapshots in order): stay on the newest while following,
/// else keep the index.
pub fn on_files(s: &mut AppState, req: u64, files: Vec<String>) -> Vec<Command> {
    if req != s.plots.req {
        return vec![];
    }
    let at_end = s.plots.files.is_empty() || s.plots.snapshot + 1 >= s.plots.files.len();
    s.plots.files = files;
    if s.plots.files.is_empty() {
        s.plots.loading = false;
        s.plots.data = None;
        s.plots.error = Some("no output yet: run the pipeline (r in the Pipeline view)".into());
        return vec![];
    }
    s.plots.snapshot = if at_end {
        s.plots.files.len() - 1
    } else {
        s.plots.snapshot.min(s.plots.files.len() - 1)
    };
    load_plot(s)
}

pub fn on_loaded(s: &mut AppState, req: u64, result: Result<PlotData, String>) {
    if req == s.plots.req {
        s.plots.loading = false;
        match result {
            Ok(d) => {
                s.plots.data = Some(d);
                s.plots.error = None;
            }
            Err(e) => {
                s.plots.data = None;
                s.plots.error = Some(sanitize(&e).into_owned());
            }
        }
    }
}

pub fn on_lines(s: &mut AppState, req: u64, lines: Lines) {
    if req == s.plots.req {
        s.plots.lines = Some(lines);
    }
}

pub fn on_image(
    s: &mut AppState,
    req: u64,
    result: Result<crate::plot::pixels::PlotImage, String>,
) {
    if req == s.plots.req {
        match result {
            Ok(img) => s.plots.image = Some(img),
            Err(e) => {
                s.plots.image = None;
                set_status(s, Level::Warn, format!("{e}: drawn with characters"));
            }
        }
    }
}

/// A new terminal size: a plot is made for an area (an image, a field averaged to its cells, a
/// series decimated to the chart), so it is made again (once, not per frame).
pub fn on_resize(s: &mut AppState, before: (u16, u16)) -> Vec<Command> {
    if s.view != View::Plots || before == s.size {
        return vec![];
    }
    replot(s)
}

/// ←→ (and ↑↓, g, G, PgUp, PgDn): another snapshot.
pub fn step(s: &mut AppState, a: &Action, page: usize) -> Vec<Command> {
    let n = s.plots.files.len();
    if n == 0 {
        return vec![];
    }
    let before = s.plots.snapshot;
    move_sel(&mut s.plots.snapshot, n, a, page);
    if before != s.plots.snapshot {
        load_plot(s)
    } else {
        vec![]
    }
}

/// Tab / S-Tab: the next or previous plot of the project.
pub fn next_plot(s: &mut AppState, forward: bool) -> Vec<Command> {
    let n = s.project.as_ref().map(|p| p.plots.len()).unwrap_or(0);
    if n == 0 {
        return vec![];
    }
    s.plots.plot = if forward {
        (s.plots.plot + 1) % n
    } else {
        (s.plots.plot + n - 1) % n
    };
    s.plots.files.clear();
    s.plots.snapshot = 0;
    s.plots.data = None;
    s.plots.pick = None;
    refresh_plots(s)
}

/// What the array keys step through.
pub enum ArrayStep {
    /// The next 2-D slice (`true`: the one before).
    Slice(bool),
    Field,
    Complex,
}

/// `↓`/`↑`, `f`, `m`: the heatmap's array read again with its next slice, field or complex
/// part (kept for the next snapshots, until another plot is chosen).
pub fn step_array(s: &mut AppState, step: ArrayStep) -> Vec<Command> {
    let about = match &s.plots.data {
        Some(PlotData::Field { about: Some(a), .. }) => a.clone(),
        Some(PlotData::Compare { a, .. }) => match a.as_ref() {
            PlotData::Field { about: Some(a), .. } => a.clone(),
            _ => return not_an_array(s),
        },
        _ => return not_an_array(s),
    };
    let mut pick = about.pick.clone();
    let said = match step {
        ArrayStep::Slice(back) => match about.step_slice(back) {
            Some(slice) => {
                pick.slice = slice;
                None
            }
            None => Some("this array has two axes: no other slice"),
        },
        ArrayStep::Field => match about.next_field() {
            Some(f) => {
                pick.field = Some(f);
                None
            }
            None => Some("not a structured array: no fields to step through"),
        },
        ArrayStep::Complex if about.complex => {
            pick.complex = pick.complex.next();
            None
        }
        ArrayStep::Complex => Some("not a complex array"),
    };
    if let Some(m) = said {
        set_status(s, Level::Info, m.into());
        return vec![];
    }
    s.plots.pick = Some(pick);
    s.plots.hold = None;
    load_plot(s)
}

fn not_an_array(s: &mut AppState) -> Vec<Command> {
    set_status(s, Level::Info, "no .npy array on screen".into());
    vec![]
}
