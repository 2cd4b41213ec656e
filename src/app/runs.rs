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
