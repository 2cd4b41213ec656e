//! The Runs view: the journal's runs, filtered, one opened in the other views.

use super::command::Command;
use super::layout::{list_rows, move_sel};
use super::msg::Action;
use super::state::{AppState, Level, View};
use super::status::set_status;
use crate::pipeline::Run;

#[derive(Debug, Clone, Default)]
pub struct RunsState {
    pub selected: usize,
    pub filter: String,
    /// `Space`: runs marked to be compared (two at most, oldest mark first).
    pub marked: Vec<String>,
    /// `=`: two runs compared, shown instead of the list until `Esc`.
    pub diff: Option<Box<crate::pipeline::diff::RunDiff>>,
    /// The first line of the comparison on screen.
    pub diff_top: usize,
}

/// `Space`: mark the selected run to compare (a third mark lets go of the oldest), or unmark it.
pub fn mark(s: &mut AppState) -> Vec<Command> {
    let Some(id) = s
        .visible_runs()
        .get(s.runs_view.selected)
        .map(|r| r.id.clone())
    else {
        return vec![];
    };
    let m = &mut s.runs_view.marked;
    if let Some(i) = m.iter().position(|x| *x == id) {
        m.remove(i);
    } else {
        m.push(id);
        if m.len() > 2 {
            m.remove(0);
        }
    }
    let msg = match m.len() {
        2 => "two runs marked: = compares them".to_string(),
        1 => "one run marked: mark another (Space), or = compares it with the selected one".into(),
        _ => "no run marked".into(),
    };
    set_status(s, Level::Info, msg);
    vec![]
}

/// `=`: the two marked runs compared (or the marked one and the selected one), older first.
pub fn diff(s: &mut AppState) -> Vec<Command> {
    let selected = s
        .visible_runs()
        .get(s.runs_view.selected)
        .map(|r| r.id.clone());
    let mut two: Vec<String> = s.runs_view.marked.clone();
    if two.len() < 2 {
        if let Some(id) = selected.filter(|id| !two.contains(id)) {
            two.push(id);
        }
    }
    let [a, b] = &two[..] else {
        set_status(
            s,
            Level::Info,
            "mark two runs with Space (or one, and select the other), then =".into(),
        );
        return vec![];
    };
    // older first: run ids sort by their start
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    set_status(s, Level::Info, format!("comparing {a} and {b}…"));
    vec![Command::DiffRuns {
        a: a.clone(),
        b: b.clone(),
    }]
}

/// Msg::RunsDiffed.
pub fn on_diffed(
    s: &mut AppState,
    r: Result<Box<crate::pipeline::diff::RunDiff>, crate::pipeline::diff::DiffError>,
) -> Vec<Command> {
    match r {
        Ok(d) => {
            s.runs_view.diff = Some(d);
            s.runs_view.diff_top = 0;
            set_status(
                s,
                Level::Info,
                "↑↓ scroll · v plots of both · Esc back to the runs".into(),
            );
        }
        Err(e) => set_status(
            s,
            Level::Error,
            crate::observe::sanitize(&e.to_string()).into_owned(),
        ),
    }
    vec![]
}

/// `v` on a comparison: the plots of the newer run, compared with the older (the mode `c`
/// of the Plots view).
pub fn plots_of_diff(s: &mut AppState) -> Vec<Command> {
    let Some(d) = s.runs_view.diff.as_ref() else {
        return vec![];
    };
    let (older, newer) = (d.a.clone(), d.b.clone());
    let mut cmds = super::pipeline::select_run(s, newer);
    s.plots.compare = Some(older);
    s.history.push(s.view);
    s.view = View::Plots;
    cmds.extend(super::plots::refresh_plots(s));
    cmds
}

/// Msg::RunsLoaded: the journal read again; the views follow the project's newest run when the
/// one they showed is gone.
pub fn on_loaded(s: &mut AppState, runs: Vec<Run>, skipped: Vec<String>) -> Vec<Command> {
    s.runs = runs;
    if !skipped.is_empty() {
        set_status(
            s,
            Level::Warn,
            format!(
                "journal: skipped {} unreadable line(s), first: {}",
                skipped.len(),
                skipped[0]
            ),
        );
    }
    let mut cmds = vec![];
    if s.current
        .as_ref()
        .is_none_or(|c| !s.runs.iter().any(|r| &r.id == c))
    {
        let name = s.project.as_ref().map(|p| p.name.clone()).ok();
        let newest = s
            .runs
            .iter()
            .find(|r| Some(&r.project) == name.as_ref())
            .map(|r| r.id.clone());
        if let Some(id) = newest {
            cmds.extend(super::pipeline::select_run(s, id));
        }
    }
    cmds
}

pub fn nav(s: &mut AppState, a: &Action) {
    if s.runs_view.diff.is_some() {
        let t = &mut s.runs_view.diff_top;
        *t = match a {
            Action::Up => t.saturating_sub(1),
            Action::Down => *t + 1,
            Action::PageUp => t.saturating_sub(10),
            Action::PageDown => *t + 10,
            Action::Top => 0,
            _ => *t,
        };
        return;
    }
    let len = s.visible_runs().len();
    let page = list_rows(s);
    move_sel(&mut s.runs_view.selected, len, a, page);
}

pub fn set_filter(s: &mut AppState, text: String) {
    s.runs_view.filter = text;
    s.runs_view.selected = 0;
}

/// In the Runs view: the selected run becomes the one the views follow.
pub fn follow_selected(s: &mut AppState) -> Vec<Command> {
    if s.view != View::Runs {
        return vec![];
    }
    let id = s
        .visible_runs()
        .get(s.runs_view.selected)
        .map(|r| r.id.clone());
    match id {
        Some(id) if s.current.as_deref() != Some(&id) => super::pipeline::select_run(s, id),
        _ => vec![],
    }
}
