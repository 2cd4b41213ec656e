//! The Plots view's playback and colour range: `Space` steps through the snapshots on its own
//! (`<`/`>` slower/faster), `H` holds the current colour range for the snapshots that follow, so
//! they can be compared by eye.

use super::command::Command;
use super::msg::PlotData;
use super::state::{AppState, Level, View};
use super::update::{load_plot, set_status};

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
    let fixed = s
        .project
        .as_ref()
        .ok()
        .and_then(|p| p.plots.get(s.plots.plot))
        .and_then(|p| p.range);
    s.plots.hold.or(fixed).unwrap_or(stats.range)
}
