//! `update`: the one place state changes, as a router. Pure: no I/O, no clock (the time comes in
//! `Msg::Tick`); it returns the Commands the loop must perform. Each message and each action goes
//! to the screen it belongs to (`datasets.rs`, `logs.rs`, `plots.rs`, …); keys go to a popup or a
//! prompt first, then to the view's key table.

use super::command::Command;
use super::keys;
use super::layout::{list_rows, move_sel};
use super::msg::{Action, Msg};
use super::state::*;
use super::status::set_status;
use super::{
    cloudwatch, clusters, datasets, jobs, logs, metrics, pipeline, plots, prompt, runs, transfers,
};
use crate::observe::sanitize;
use crate::project::PhaseId;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

pub fn update(s: &mut AppState, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(k) => on_key(s, k),
        Msg::Resize(w, h) => {
            let before = s.size;
            s.size = (w, h);
            plots::on_resize(s, before)
        }
        Msg::Tick(now) => {
            s.now = now;
            s.spinner = s.spinner.wrapping_add(1);
            super::status::on_tick(s);
            let mut c = jobs::on_tick(s);
            c.extend(clusters::on_tick(s));
            c.extend(metrics::on_tick(s));
            c.extend(plots::on_tick(s));
            c
        }
        Msg::Run(ev) => pipeline::on_run_event(s, ev),
        Msg::RunsLoaded { runs, skipped } => runs::on_loaded(s, runs, skipped),
        Msg::RunsDiffed(r) => runs::on_diffed(s, r),
        Msg::ReusePlan(plan) => pipeline::on_reuse_plan(s, plan),
        Msg::LogLines {
            run_id,
            lines,
            live,
        } => {
            logs::on_lines(s, &run_id, lines, live);
            vec![]
        }
        Msg::Buckets(r) => {
            datasets::on_buckets(s, r);
            vec![]
        }
        Msg::StorePage { req, entries, next } => datasets::on_page(s, req, entries, next),
        Msg::StoreError { req, error } => {
            datasets::on_error(s, req, error);
            vec![]
        }
        Msg::Preview { key, result } => {
            datasets::on_preview(s, key, result);
            vec![]
        }
        Msg::PlotFiles { req, files } => plots::on_files(s, req, files),
        Msg::PlotLoaded { req, result } => {
            plots::on_loaded(s, req, result);
            vec![]
        }
        Msg::PlotLines { req, lines } => {
            plots::on_lines(s, req, *lines);
            vec![]
        }
        Msg::PlotImage { req, result } => {
            plots::on_image(s, req, result);
            vec![]
        }
        Msg::CloudMetrics(r) => metrics::on_loaded(s, r),
        Msg::MetricsLoaded {
            run_id,
            phase,
            samples,
        } => {
            metrics::on_samples(s, &run_id, phase, samples);
            vec![]
        }
        Msg::CloudGroups(r) => cloudwatch::on_groups(s, r),
        Msg::CloudStreams { group, result } => cloudwatch::on_streams(s, group, result),
        Msg::MetricList { namespace, result } => cloudwatch::on_metric_list(s, namespace, result),
        Msg::MetricsAdded(r) => cloudwatch::on_metrics_added(s, r),
        Msg::AwsRate(r) => {
            s.aws_rate = r;
            vec![]
        }
        Msg::TransferProgress { id, progress } => {
            transfers::on_progress(s, id, progress);
            vec![]
        }
        Msg::TransferEnded { id, state } => transfers::on_ended(s, id, state),
        Msg::SyncPlanned { id, spec, summary } => transfers::on_sync_planned(s, id, spec, summary),
        Msg::JobsLoaded { result, api_calls } => jobs::on_loaded(s, result, api_calls),
        Msg::Partitions(r) => {
            jobs::on_partitions(s, r);
            vec![]
        }
        Msg::JobLog { id, result } => jobs::on_log(s, id, result),
        Msg::ClustersLoaded(r) => clusters::on_loaded(s, r),
        Msg::RayLoaded { result, requests } => clusters::on_ray_loaded(s, result, requests),
        Msg::HeadPicked { result, project } => {
            if let Some(p) = project {
                s.project = Ok(*p);
            }
            clusters::on_picked(s, result)
        }
        Msg::ThemeLoaded { theme, error } => {
            s.theme = theme;
            match error {
                Some(e) => set_status(s, Level::Error, e),
                None => set_status(s, Level::Info, format!("theme {}", s.theme.name)),
            }
            vec![]
        }
        Msg::Error(e) => {
            set_status(s, Level::Error, sanitize(&e).into_owned());
            vec![]
        }
        Msg::Info(m) => {
            set_status(s, Level::Info, sanitize(&m).into_owned());
            vec![]
        }
    }
}

/// A key: Ctrl-C quits from anywhere; then the popup or prompt open takes it; then a browser open
/// in the view; then the view's key table.
fn on_key(s: &mut AppState, k: KeyEvent) -> Vec<Command> {
    if k.kind == KeyEventKind::Release {
        return vec![];
    }
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return act(s, Action::Quit);
    }
    if let Some(p) = s.popup.clone() {
        return match prompt::on_popup_key(s, p, k) {
            prompt::Keyed::Done(c) => c,
            prompt::Keyed::Act(a) => act(s, a),
            prompt::Keyed::Confirmed(a) => confirmed(s, a),
        };
    }
    if let Some(p) = s.prompt.clone() {
        if let Prompt::Path { purpose, text } = p {
            return transfers::on_path_key(s, purpose, text, k);
        }
        return prompt::on_prompt_key(s, p, k);
    }
    if s.project.is_err() {
        // only leaving and looking around make sense with a broken project file
        return match keys::lookup(s.view, &k) {
            Some(a @ (Action::Quit | Action::Help | Action::Palette | Action::Back)) => act(s, a),
            Some(Action::Show(View::Runs)) => act(s, Action::Show(View::Runs)),
            _ => vec![],
        };
    }
    if s.view == View::Logs && s.logs.sel.is_some() && k.code == KeyCode::Esc {
        s.logs.sel = None;
        s.logs.hit = None;
        return vec![];
    }
    if s.view == View::Metrics && s.metrics.browse.is_some() {
        if let Some(c) = cloudwatch::metric_browse_key(s, k) {
            return c;
        }
    }
    if s.view == View::Logs && s.logs.browse.is_some() {
        if let Some(c) = cloudwatch::browse_key(s, k) {
            return c;
        }
    }
    match keys::lookup(s.view, &k) {
        Some(a) => act(s, a),
        None => vec![],
    }
}

/// A question answered yes: what it asked to do.
fn confirmed(s: &mut AppState, a: Action) -> Vec<Command> {
    match a {
        Action::Overwrite(id) => transfers::restart(s, id, true),
        Action::StartSync { id, spec } => transfers::start_as(s, id, spec),
        Action::CancelJob(id) => jobs::cancel(s, id),
        Action::UseNode { target, ssm } => vec![Command::UseNode { target, ssm }],
        Action::CancelTransfer(id) => vec![Command::CancelTransfer { id }],
        Action::Cancel => pipeline::cancel(s),
        Action::RunReusing => pipeline::run_reusing(s),
        _ => vec![],
    }
}

/// Bring view `v` on screen (remembering where the user came from), with what it loads the first
/// time it is shown.
fn show(s: &mut AppState, v: View) -> Vec<Command> {
    if s.view != v {
        s.history.push(s.view);
        if s.history.len() > 32 {
            s.history.remove(0);
        }
        s.view = v;
    }
    match v {
        View::Datasets => datasets::shown(s),
        View::Plots if s.plots.data.is_none() && !s.plots.loading => plots::refresh_plots(s),
        View::Jobs if !s.jobs.loading => jobs::load(s),
        View::Clusters if !s.clusters.loading && s.clusters.loaded_at.is_none() => {
            clusters::load(s)
        }
        _ => vec![],
    }
}

/// Enter, `l`, `m`, `v` on a run: that run shown in view `v` (from the Runs view, the selected
/// one becomes the run the views follow).
fn open_for_run(s: &mut AppState, v: View) -> Vec<Command> {
    let mut cmds = runs::follow_selected(s);
    cmds.extend(show(s, v));
    cmds
}

/// ↑↓ PgUp PgDn g G in the view on screen.
fn nav(s: &mut AppState, a: &Action) -> Vec<Command> {
    match s.view {
        View::Datasets => datasets::nav(s, a),
        View::Runs => {
            runs::nav(s, a);
            vec![]
        }
        View::Jobs => {
            let (len, page) = (s.jobs.visible().len(), list_rows(s));
            move_sel(&mut s.jobs.selected, len, a, page);
            vec![]
        }
        View::Clusters => {
            let page = list_rows(s) / 2;
            clusters::step(s, a, page);
            vec![]
        }
        View::Transfers => {
            let (len, page) = (s.transfers.list.len(), list_rows(s));
            move_sel(&mut s.transfers.selected, len, a, page);
            vec![]
        }
        View::Logs => {
            logs::scroll_logs(s, a);
            vec![]
        }
        View::Plots => plots::step(s, a, 5),
        View::Metrics => {
            metrics::nav(s, a);
            vec![]
        }
        View::Pipeline => vec![],
    }
}

/// What the user asked for, done by the screen it belongs to.
pub fn act(s: &mut AppState, a: Action) -> Vec<Command> {
    match a {
        Action::Quit => {
            s.quit = true;
            vec![Command::Quit]
        }
        Action::Show(v) => show(s, v),
        Action::Help => {
            s.popup = Some(Popup::Help);
            vec![]
        }
        Action::Palette => {
            s.popup = Some(Popup::Palette {
                query: String::new(),
                selected: 0,
            });
            vec![]
        }
        Action::Back if s.view == View::Jobs && s.jobs.log.is_some() => jobs::close_log(s),
        Action::Back if s.view == View::Runs && s.runs_view.diff.is_some() => {
            s.runs_view.diff = None;
            vec![]
        }
        Action::MarkRun => runs::mark(s),
        Action::AskReuse => pipeline::ask_reuse(s),
        Action::RunReusing => pipeline::run_reusing(s),
        Action::DiffRuns => runs::diff(s),
        Action::OpenPlots if s.view == View::Runs && s.runs_view.diff.is_some() => {
            runs::plots_of_diff(s)
        }
        Action::Back => {
            if s.view == View::Datasets {
                if let Some(c) = datasets::back(s) {
                    return c;
                }
            }
            if let Some(v) = s.history.pop() {
                s.view = v;
            }
            vec![]
        }
        Action::RunPipeline => pipeline::start(s, PhaseId::ALL.to_vec()),
        Action::RunPhase(p) => pipeline::start(s, vec![p]),
        Action::Cancel if s.view == View::Transfers => transfers::ask_cancel(s),
        Action::Cancel if s.view == View::Jobs => jobs::ask_cancel(s),
        Action::Cancel => pipeline::ask_cancel(s),
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => nav(s, &a),
        Action::Left | Action::Right if s.view == View::Clusters => {
            clusters::focus(s, a == Action::Right);
            vec![]
        }
        Action::Left | Action::Right if s.view == View::Plots => {
            let step = if a == Action::Left {
                Action::Up
            } else {
                Action::Down
            };
            plots::step(s, &step, 1)
        }
        Action::Left | Action::Right => vec![],
        Action::NextItem | Action::PrevItem if s.view == View::Plots => {
            plots::next_plot(s, a == Action::NextItem)
        }
        Action::NextItem | Action::PrevItem => vec![],
        Action::Enter => match s.view {
            View::Datasets => datasets::enter(s),
            View::Runs => open_for_run(s, View::Pipeline),
            View::Jobs => jobs::open_log(s),
            _ => vec![],
        },
        Action::OpenLogs => open_for_run(s, View::Logs),
        Action::OpenMetrics => open_for_run(s, View::Metrics),
        Action::OpenPlots => open_for_run(s, View::Plots),
        Action::Filter => {
            let cur = match s.view {
                View::Datasets => s.datasets.filter.clone(),
                View::Runs => s.runs_view.filter.clone(),
                View::Jobs => s.jobs.filter.clone(),
                View::Clusters => s.clusters.filter.clone(),
                View::Logs => s
                    .logs
                    .filter
                    .as_ref()
                    .map(|f| f.text.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            s.prompt = Some(Prompt::Filter(cur));
            vec![]
        }
        Action::Search => {
            s.prompt = Some(Prompt::Search(s.logs.search.clone().unwrap_or_default()));
            vec![]
        }
        Action::SearchNext | Action::SearchPrev => {
            logs::search_step(s, a == Action::SearchPrev);
            vec![]
        }
        Action::ToggleFollow => {
            logs::toggle_follow(s);
            vec![]
        }
        Action::ToggleWrap => {
            s.logs.wrap = !s.logs.wrap;
            vec![]
        }
        Action::CycleSource => {
            logs::cycle_source(s);
            vec![]
        }
        Action::StepElement(back) if s.view == View::Logs => {
            logs::step_element(s, back);
            vec![]
        }
        Action::StepElement(back) => plots::step_element(s, back),
        Action::ToggleStamps => {
            s.logs.stamps = !s.logs.stamps;
            vec![]
        }
        Action::ToggleRaw => {
            s.logs.raw = !s.logs.raw;
            vec![]
        }
        Action::FirstError => logs::first_error(s),
        Action::CopyLine => logs::copy(s),
        Action::SelectLines => logs::toggle_select(s),
        Action::SortNext if s.view == View::Jobs => {
            jobs::sort_next(s);
            vec![]
        }
        Action::SortNext => {
            datasets::sort_next(s);
            vec![]
        }
        Action::Refresh => match s.view {
            View::Datasets => datasets::relist_datasets(s),
            View::Runs | View::Pipeline => vec![Command::ReloadRuns],
            View::Metrics => metrics::refresh(s),
            View::Plots => plots::refresh_plots(s),
            View::Transfers => transfers::retry_selected(s),
            View::Jobs => jobs::load(s),
            View::Clusters => clusters::load(s),
            View::Logs => vec![],
        },
        Action::Theme(name) => vec![Command::LoadTheme { name }],
        Action::Download => transfers::ask_download(s),
        Action::Upload => transfers::ask_upload(s),
        Action::Sync(way) => transfers::ask_sync(s, way),
        Action::Overwrite(_)
        | Action::StartSync { .. }
        | Action::CancelTransfer(_)
        | Action::CancelJob(_)
        | Action::UseNode { .. } => confirmed(s, a),
        Action::CycleTarget => {
            clusters::cycle_target(s);
            vec![]
        }
        Action::AskUseNode => clusters::ask_use(s),
        Action::ToggleRay => clusters::toggle_ray(s),
        Action::ToggleCloud => metrics::toggle(s),
        Action::ExportPlot => plots::export_plot(s),
        Action::HoldRange => plots::hold_range(s),
        Action::ScrollColumns(back) => datasets::scroll_columns(s, back),
        Action::StepSlice(back) => plots::step_array(s, plots::ArrayStep::Slice(back)),
        Action::NextField => plots::step_array(s, plots::ArrayStep::Field),
        Action::NextComplexPart => plots::step_array(s, plots::ArrayStep::Complex),
        Action::Compare => plots::compare(s),
        Action::CompareMore => plots::compare_more(s),
        Action::Zoom(z) => plots::zoom(s, z),
        Action::Pan(p) => plots::pan(s, p),
        Action::Difference => plots::difference(s),
        Action::PlayPause => plots::toggle_play(s),
        Action::PlayFaster => plots::play_rate(s, true),
        Action::PlaySlower => plots::play_rate(s, false),
        Action::BrowseCloud => cloudwatch::toggle_browse(s),
        Action::BrowseMetrics => cloudwatch::open_metric_browse(s),
        Action::CyclePeriod => metrics::cycle_period(s),
        Action::CycleStat => metrics::cycle_stat(s),
        Action::Partitions => jobs::toggle_partitions(s),
        Action::ClearFinished => transfers::clear_finished(s),
    }
}
